"""Customer accounts end to end, over HTTP, on the local stack with moto's Cognito."""
from __future__ import annotations

import secrets
import time

import jwt
import pytest

from tests.e2e.fixtures import (  # noqa: F401 (fixtures)
    ADDRESS,
    assert_problem,
    fake_id,
    new_key,
    shop_fixture,
)

PASSWORD = "Corr3ct-horse-battery"


def new_email() -> str:
    return f"shopper-{secrets.token_hex(6)}@example.com"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def sign_up(shop, email: str, password: str = PASSWORD, expect: int | None = 201):
    return shop._expect(shop.request("POST", "/auth/sign-up", json={"email": email, "password": password}), expect)


def sign_in(shop, email: str, password: str = PASSWORD, expect: int | None = 200):
    return shop._expect(shop.request("POST", "/auth/sign-in", json={"email": email, "password": password}), expect)


class Customer:
    def __init__(self, shop, email: str | None = None):
        self.shop = shop
        self.email = email or new_email()
        self.id = sign_up(shop, self.email).json()["customer_id"]
        self.tokens = sign_in(shop, self.email).json()
        self.headers = bearer(self.tokens["id_token"])

    def call(self, method: str, path: str, expect: int | None = None, headers: dict | None = None, **kwargs):
        return self.shop._expect(self.shop.request(method, path, headers={**self.headers, **(headers or {})},
                                                   **kwargs), expect)


@pytest.fixture
def customer(shop):
    return Customer(shop)


@pytest.fixture(scope="module")
def cognito(stack):
    return stack.aws_session.client("cognito-idp", endpoint_url=stack.moto_url)


# --- sign-up, confirm, sign-in, refresh --------------------------------------------------------------

def test_sign_up_confirms_at_once_locally_and_the_account_signs_in(shop):
    email = new_email()
    created = sign_up(shop, email).json()
    assert created["confirmed"] is True and created["customer_id"]
    tokens = sign_in(shop, email).json()
    assert set(tokens) == {"id_token", "access_token", "refresh_token", "expires_in"}
    assert tokens["expires_in"] > 0
    me = shop._expect(shop.request("GET", "/me", headers=bearer(tokens["id_token"])), 200).json()
    assert me == {"id": created["customer_id"], "email": email, "addresses": [], "created_at": me["created_at"]}


def test_an_email_signs_up_once(shop):
    email = new_email()
    sign_up(shop, email)
    assert_problem(sign_up(shop, email, expect=None), 409, "email_taken")


@pytest.mark.parametrize("password", ["short1A", "alllowercase123", "ALLUPPERCASE123", "NoDigitsAtAllHere"])
def test_a_password_the_pool_refuses_is_a_422(shop, password):
    assert_problem(sign_up(shop, new_email(), password, expect=None), 422, "password_policy")


@pytest.mark.parametrize("body", [{}, {"email": "not-an-email", "password": PASSWORD},
                                  {"email": "a@example.com"}, {"email": "a@example.com", "password": ""},
                                  {"email": "a@example.com", "password": PASSWORD, "admin": True}])
def test_malformed_sign_ups_are_422(shop, body):
    assert_problem(shop.request("POST", "/auth/sign-up", json=body), 422)


def test_confirm_with_a_wrong_code_is_a_422(shop):
    email = new_email()
    sign_up(shop, email)  # already confirmed locally: no code is accepted
    response = shop.request("POST", "/auth/confirm", json={"email": email, "code": "123456"})
    assert response.status_code in (204, 422), response.text
    if response.status_code == 422:
        assert_problem(response, 422, "code_invalid")


def test_an_unknown_email_and_a_wrong_password_get_the_same_answer(shop):
    email = new_email()
    sign_up(shop, email)
    wrong_password = assert_problem(sign_in(shop, email, "Wr0ng-password", expect=None), 401)
    unknown_email = assert_problem(sign_in(shop, new_email(), PASSWORD, expect=None), 401)
    assert wrong_password == unknown_email


def test_repeated_failed_sign_ins_are_throttled(shop):
    email = new_email()
    sign_up(shop, email)
    for _ in range(5):
        assert_problem(sign_in(shop, email, "Wr0ng-password", expect=None), 401)
    throttled = sign_in(shop, email, expect=None)  # even the right password, until the window ends
    assert_problem(throttled, 429, "throttled")
    assert int(throttled.headers["Retry-After"]) > 0
    sign_in(shop, new_email(), expect=401)  # other emails are not affected


def test_a_refresh_token_gets_new_tokens_and_a_bad_one_is_a_401(shop, customer):
    refreshed = shop._expect(shop.request("POST", "/auth/refresh",
                                          json={"refresh_token": customer.tokens["refresh_token"]}), 200).json()
    shop._expect(shop.request("GET", "/me", headers=bearer(refreshed["id_token"])), 200)
    assert_problem(shop.request("POST", "/auth/refresh", json={"refresh_token": "not-a-refresh-token"}), 401)


# --- token verification over HTTP --------------------------------------------------------------------

def _moto_signing_key():
    from joserfc import jwk
    from moto.utilities.utils import load_resource

    return jwk.RSAKey.import_key(load_resource("cognitoidp/resources/jwks-private.json"))


def _claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def _sign_with_pool_key(claims: dict) -> str:
    from joserfc import jwt as jose_jwt

    return jose_jwt.encode({"alg": "RS256", "kid": "dummy"}, claims, _moto_signing_key())


def test_customer_routes_need_a_token(shop):
    for method, path in [("GET", "/me"), ("GET", "/me/cart"), ("GET", "/me/orders"), ("GET", "/me/export"),
                         ("DELETE", "/me"), ("POST", "/me/addresses"), ("POST", "/me/cart/merge")]:
        response = shop.request(method, path, json={})
        assert_problem(response, 401)
        assert response.headers.get("WWW-Authenticate") == "Bearer"


def test_forged_and_foreign_tokens_are_401(shop, customer, cognito, stack):
    claims = _claims(customer.tokens["id_token"])
    now = int(time.time())
    header = customer.tokens["id_token"].split(".")[0]
    unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": "dummy"})
    # Another app client of the same pool (wrong audience), and another pool altogether.
    pool_id = stack.stack.outputs["UserPoolId"]
    other_client = cognito.create_user_pool_client(UserPoolId=pool_id, ClientName="other",
                                                   ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"])
    wrong_audience = cognito.initiate_auth(
        ClientId=other_client["UserPoolClient"]["ClientId"], AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": customer.email, "PASSWORD": PASSWORD})["AuthenticationResult"]["IdToken"]
    other_pool = cognito.create_user_pool(PoolName=f"other-{secrets.token_hex(3)}", UsernameAttributes=["email"])
    other_pool_id = other_pool["UserPool"]["Id"]
    other_pool_client = cognito.create_user_pool_client(UserPoolId=other_pool_id, ClientName="x",
                                                        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"])
    cognito.sign_up(ClientId=other_pool_client["UserPoolClient"]["ClientId"], Username=customer.email,
                    Password=PASSWORD)
    cognito.admin_confirm_sign_up(UserPoolId=other_pool_id, Username=customer.email)
    foreign = cognito.initiate_auth(
        ClientId=other_pool_client["UserPoolClient"]["ClientId"], AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": customer.email, "PASSWORD": PASSWORD})["AuthenticationResult"]["IdToken"]
    # Validly signed with the pool's own key, but expired; and the same claims with the audience swapped.
    expired = _sign_with_pool_key({**claims, "iat": now - 7200, "exp": now - 3600})
    same_key_wrong_aud = _sign_with_pool_key({**claims, "aud": "someone-else"})
    other_payload = jwt.utils.base64url_encode(b'{"sub": "x"}').decode()
    tampered = f"{header}.{other_payload}.{customer.tokens['id_token'].split('.')[2]}"

    assert _claims(foreign)["iss"] != claims["iss"]
    for token in [unsigned, wrong_audience, foreign, expired, same_key_wrong_aud, tampered,
                  customer.tokens["access_token"], customer.tokens["refresh_token"], "garbage", fake_id("ot")]:
        assert_problem(shop.request("GET", "/me", headers=bearer(token)), 401)
    # The genuine token still works: the refusals were about the tokens.
    shop._expect(shop.request("GET", "/me", headers=customer.headers), 200)
    assert _sign_with_pool_key(claims)  # the forging key is the pool's: only the claims made them fail
    shop._expect(shop.request("GET", "/me", headers=bearer(_sign_with_pool_key(claims))), 200)


# --- profile and addresses ---------------------------------------------------------------------------

def test_addresses_are_saved_listed_and_deleted(customer):
    saved = customer.call("POST", "/me/addresses", 201, json={**ADDRESS, "line2": "Flat 2"}).json()
    assert saved["id"].startswith("addr_") and saved["line2"] == "Flat 2"
    me = customer.call("GET", "/me", 200).json()
    assert [a["id"] for a in me["addresses"]] == [saved["id"]]
    assert {k: v for k, v in me["addresses"][0].items() if v is not None} == {**ADDRESS, "line2": "Flat 2",
                                                                            "id": saved["id"]}
    customer.call("DELETE", f"/me/addresses/{saved['id']}", 204)
    assert customer.call("GET", "/me", 200).json()["addresses"] == []
    assert_problem(customer.call("DELETE", f"/me/addresses/{saved['id']}"), 404)


def test_an_account_keeps_at_most_20_addresses(customer):
    for _ in range(20):
        customer.call("POST", "/me/addresses", 201, json=ADDRESS)
    assert_problem(customer.call("POST", "/me/addresses", json=ADDRESS), 409, "address_limit")
    first = customer.call("GET", "/me", 200).json()["addresses"][0]["id"]
    customer.call("DELETE", f"/me/addresses/{first}", 204)
    customer.call("POST", "/me/addresses", 201, json=ADDRESS)


def test_a_bad_address_is_a_422_and_saves_nothing(customer):
    assert_problem(customer.call("POST", "/me/addresses", json={**ADDRESS, "country": "XX"}), 422)
    assert_problem(customer.call("POST", "/me/addresses", json={**ADDRESS, "extra": 1}), 422)
    assert customer.call("GET", "/me", 200).json()["addresses"] == []


def test_another_customers_address_cannot_be_deleted(shop, customer):
    saved = customer.call("POST", "/me/addresses", 201, json=ADDRESS).json()
    other = Customer(shop)
    assert_problem(other.call("DELETE", f"/me/addresses/{saved['id']}"), 404)
    assert len(customer.call("GET", "/me", 200).json()["addresses"]) == 1


# --- carts -------------------------------------------------------------------------------------------

def test_a_customers_cart_is_404_to_anyone_else(shop, customer):
    sku = shop.create_product(1500, stock=10)["variants"][0]["sku"]
    mine = customer.call("GET", "/me/cart", 200).json()
    assert customer.call("GET", "/me/cart", 200).json()["id"] == mine["id"]
    customer.call("POST", f"/carts/{mine['id']}/items", 201, json={"sku": sku, "quantity": 2})
    made = customer.call("POST", "/carts", 201, json={}).json()
    other = Customer(shop)
    for cart_id in (mine["id"], made["id"]):
        for caller in ({}, other.headers):
            assert_problem(shop.request("GET", f"/carts/{cart_id}", headers=caller), 404)
            assert_problem(shop.request("POST", f"/carts/{cart_id}/items", headers=caller,
                                        json={"sku": sku, "quantity": 1}), 404)
            assert_problem(shop.request("PATCH", f"/carts/{cart_id}/items/{sku}", headers=caller,
                                        json={"quantity": 0}), 404)
            assert_problem(shop.request("DELETE", f"/carts/{cart_id}/items/{sku}", headers=caller), 404)
            assert_problem(shop.request("POST", f"/carts/{cart_id}/checkout", headers={**caller,
                                        "Idempotency-Key": new_key()},
                                        json={"email": "x@example.com", "shipping_address": ADDRESS}), 404)
            # the pricing routes of a cart too
            assert_problem(shop.request("GET", f"/carts/{cart_id}/shipping-options?country=US", headers=caller), 404)
            assert_problem(shop.request("PUT", f"/carts/{cart_id}/shipping", headers=caller,
                                        json={"shipping_address": ADDRESS}), 404)
            assert_problem(shop.request("PUT", f"/carts/{cart_id}/discount", headers=caller,
                                        json={"code": "WELCOME10"}), 404)
            assert_problem(shop.request("DELETE", f"/carts/{cart_id}/discount", headers=caller), 404)
    assert customer.call("GET", f"/carts/{mine['id']}", 200).json()["lines"][0]["quantity"] == 2
    # ... which the owner uses like any other cart route
    customer.call("GET", f"/carts/{mine['id']}/shipping-options?country=US", 200)
    assert customer.call("PUT", f"/carts/{mine['id']}/shipping", 200,
                         json={"shipping_address": ADDRESS}).json()["shipping_address"]["city"] == ADDRESS["city"]
    customer.call("PUT", f"/carts/{mine['id']}/discount", 422, json={"code": "NO-SUCH-CODE"})
    customer.call("DELETE", f"/carts/{mine['id']}/discount", 200)


def test_a_guest_cart_is_still_anyones_with_its_id(shop, customer):
    guest = shop.new_cart()
    customer.call("GET", f"/carts/{guest['id']}", 200)
    shop.cart(guest["id"])


def test_a_bad_customer_token_on_a_cart_route_is_a_401(shop, customer):
    forged = jwt.encode(_claims(customer.tokens["id_token"]), None, algorithm="none")
    assert_problem(shop.request("POST", "/carts", headers=bearer(forged), json={}), 401)


def test_a_guest_cart_merges_into_the_customers_cart_and_closes(shop, customer):
    a = shop.create_product(1000, stock=200)["variants"][0]["sku"]
    b = shop.create_product(300, stock=200)["variants"][0]["sku"]
    mine = customer.call("GET", "/me/cart", 200).json()
    customer.call("POST", f"/carts/{mine['id']}/items", 201, json={"sku": a, "quantity": 90})
    guest = shop.cart_with((a, 20), (b, 3))

    merged = customer.call("POST", "/me/cart/merge", 200, json={"cart_id": guest["id"]}).json()
    assert merged["id"] == mine["id"]
    assert {ln["sku"]: ln["quantity"] for ln in merged["lines"]} == {a: 99, b: 3}
    assert merged["subtotal"]["amount"] == 99 * 1000 + 3 * 300
    assert shop.cart(guest["id"])["status"] == "merged"
    assert_problem(shop.add(guest["id"], a, 1, expect=None), 409, "cart_not_open")
    assert_problem(customer.call("POST", "/me/cart/merge", json={"cart_id": guest["id"]}), 409, "cart_not_open")
    assert_problem(customer.call("POST", "/me/cart/merge", json={"cart_id": fake_id("cart")}), 404)
    assert_problem(customer.call("POST", "/me/cart/merge", json={"cart_id": "nope"}), 422)


# --- orders ------------------------------------------------------------------------------------------

def _checkout(customer, sku: str, body: dict | None = None) -> dict:
    cart = customer.call("GET", "/me/cart", 200).json()
    customer.call("POST", f"/carts/{cart['id']}/items", 201, json={"sku": sku, "quantity": 1})
    return customer.call("POST", f"/carts/{cart['id']}/checkout", 201, headers={"Idempotency-Key": new_key()},
                         json=body or {"shipping_address": ADDRESS}).json()


def test_checkout_with_a_token_needs_no_email_and_lists_under_me_orders(shop, customer):
    sku = shop.create_product(2500, stock=10)["variants"][0]["sku"]
    first = _checkout(customer, sku)
    assert first["order"]["email"] == customer.email
    assert first["order"]["customer_id"] == customer.id
    second = _checkout(customer, sku, {"email": "gift@example.com", "shipping_address": ADDRESS})
    assert second["order"]["email"] == "gift@example.com"
    assert customer.call("GET", "/me/cart", 200).json()["lines"] == []  # a fresh cart after checkout

    listed = customer.call("GET", "/me/orders", 200).json()
    assert [o["id"] for o in listed["items"]][:2] in ([second["order"]["id"], first["order"]["id"]],
                                                      [first["order"]["id"], second["order"]["id"]])
    assert listed["next_cursor"] is None and len(listed["items"]) == 2
    page = customer.call("GET", "/me/orders", 200, params={"limit": 1}).json()
    assert len(page["items"]) == 1 and page["next_cursor"]
    rest = customer.call("GET", "/me/orders", 200, params={"limit": 1, "cursor": page["next_cursor"]}).json()
    assert {page["items"][0]["id"], rest["items"][0]["id"]} == {first["order"]["id"], second["order"]["id"]}
    assert_problem(customer.call("GET", "/me/orders", params={"cursor": "bogus"}), 422)

    order_id = first["order"]["id"]
    assert customer.call("GET", f"/orders/{order_id}", 200).json()["id"] == order_id
    shop.order(order_id, first["access_token"], expect=200)  # the order token still works
    other = Customer(shop)
    assert_problem(other.call("GET", f"/orders/{order_id}"), 404)
    assert other.call("GET", "/me/orders", 200).json()["items"] == []
    forged = jwt.encode(_claims(customer.tokens["id_token"]), None, algorithm="none")
    assert_problem(shop.request("GET", f"/orders/{order_id}", headers=bearer(forged)), 401)


def test_an_orders_returns_answer_its_owner_and_nobody_else(shop, customer):
    sku = shop.create_product(2500, stock=10)["variants"][0]["sku"]
    order_id = _checkout(customer, sku)["order"]["id"]
    assert customer.call("GET", f"/orders/{order_id}/returns", 200).json()["items"] == []
    # Not shipped: the owner is heard (and refused by the return rules), not turned away as a stranger.
    assert_problem(customer.call("POST", f"/orders/{order_id}/returns",
                                 json={"lines": [{"sku": sku, "quantity": 1}], "reason": "damaged"}), 409)
    other = Customer(shop)
    assert_problem(other.call("GET", f"/orders/{order_id}/returns"), 404)
    assert_problem(other.call("POST", f"/orders/{order_id}/returns",
                              json={"lines": [{"sku": sku, "quantity": 1}], "reason": "damaged"}), 404)
    forged = jwt.encode(_claims(customer.tokens["id_token"]), None, algorithm="none")
    assert_problem(shop.request("GET", f"/orders/{order_id}/returns", headers=bearer(forged)), 401)


def test_a_guest_checkout_still_needs_an_email(shop):
    sku = shop.create_product(2500, stock=10)["variants"][0]["sku"]
    cart = shop.cart_with((sku, 1))
    problem = assert_problem(shop.checkout(cart["id"], body={"shipping_address": ADDRESS}), 422)
    assert "email" in {e["field"] for e in problem.get("errors", [])}


# --- privacy -----------------------------------------------------------------------------------------

def test_export_then_erasure_then_sign_in_fails_and_the_order_is_redacted(shop, customer, admin_headers):
    sku = shop.create_product(1800, stock=10)["variants"][0]["sku"]
    street = f"{secrets.token_hex(4)} Erasure Lane"
    customer.call("POST", "/me/addresses", 201, json={**ADDRESS, "line1": street})
    placed = _checkout(customer, sku, {"shipping_address": {**ADDRESS, "line1": street}})
    order_id = placed["order"]["id"]
    customer.call("GET", "/me/cart", 200)

    held = customer.call("GET", "/me/export", 200).json()
    assert held["profile"]["email"] == customer.email and held["profile"]["id"] == customer.id
    assert [a["line1"] for a in held["profile"]["addresses"]] == [street]
    assert [o["id"] for o in held["orders"]] == [order_id]
    assert held["cart"] is not None and held["cart"]["status"] == "open"

    customer.call("DELETE", "/me", 204)
    customer.call("DELETE", "/me", 204)  # erasure is idempotent
    for method, path in [("GET", "/me"), ("GET", "/me/orders"), ("GET", "/me/export"), ("GET", "/me/cart"),
                         ("GET", f"/orders/{order_id}")]:
        assert_problem(customer.call(method, path), 401)
    assert_problem(sign_in(shop, customer.email, expect=None), 401)
    assert_problem(shop.request("POST", "/auth/refresh",
                                json={"refresh_token": customer.tokens["refresh_token"]}), 401)

    kept = shop._expect(shop.request("GET", f"/orders/{order_id}", headers=admin_headers), 200).json()
    assert kept["email"].startswith("erased:") and customer.email not in kept["email"]
    assert kept["shipping_address"]["country"] == ADDRESS["country"]
    assert street not in str(kept) and ADDRESS["name"] not in str(kept)
    assert kept["total"] == placed["order"]["total"] and kept["customer_id"] is None
    # The same email may make a new account: a new customer, with nothing of the old one.
    again = Customer(shop, customer.email)
    assert again.id != customer.id
    assert again.call("GET", "/me/orders", 200).json()["items"] == []


# --- the functions' role and the pool ----------------------------------------------------------------

def test_the_functions_may_administer_their_pool_and_no_other(stack, cognito):
    from botocore.config import Config
    from botocore.exceptions import ClientError

    if not stack.iam_enforced:
        pytest.skip("SHELF_LOCAL_IAM is off")
    as_function = stack.function_principal.session("us-east-1").client(
        "cognito-idp", endpoint_url=stack.moto_url, config=Config(retries={"max_attempts": 1}))
    other = cognito.create_user_pool(PoolName=f"not-shelfs-{secrets.token_hex(3)}")["UserPool"]["Id"]
    cognito.admin_create_user(UserPoolId=other, Username="someone")
    with pytest.raises(ClientError) as refused:
        as_function.admin_delete_user(UserPoolId=other, Username="someone")
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    with pytest.raises(ClientError) as refused:
        as_function.list_users(UserPoolId=stack.stack.outputs["UserPoolId"])  # not an action it was given
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    with pytest.raises(ClientError) as missing:  # allowed on its own pool: the pool answers, IAM does not refuse
        as_function.admin_delete_user(UserPoolId=stack.stack.outputs["UserPoolId"], Username="nobody@example.com")
    assert missing.value.response["Error"]["Code"] == "UserNotFoundException"
