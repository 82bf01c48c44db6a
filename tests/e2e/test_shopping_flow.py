"""Catalog -> cart -> checkout -> order, as a storefront and a merchant see it over HTTP."""
from __future__ import annotations

import copy

from tests.e2e.fixtures import (  # noqa: F401 (fixtures)
    ADDRESS,
    CHECKOUT_BODY,
    PROBLEM_JSON,
    Shop,
    assert_problem,
    error_fields,
    fake_id,
    money,
    new_key,
    random_sku,
    shop_fixture,
)


def _find_in_listing(shop: Shop, path: str, wanted: set[str], *, params: dict | None = None, admin: bool = False,
                     limit: int = 100, max_pages: int = 200) -> tuple[list[str], int]:
    """Walk a list endpoint until every wanted id is seen; returns the ids seen, in order, and the pages read."""
    seen: list[str] = []
    cursor = None
    for pages in range(1, max_pages + 1):
        query = {**(params or {}), "limit": limit, **({"cursor": cursor} if cursor else {})}
        response = shop.request("GET", path, admin=admin, params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        assert set(page) == {"items", "next_cursor"}
        assert len(page["items"]) <= limit
        seen.extend(item["id"] for item in page["items"])
        cursor = page["next_cursor"]
        if wanted <= set(seen) or not cursor:
            return seen, pages
    return seen, max_pages


def _variant(product: dict, sku: str) -> dict:
    return next(v for v in product["variants"] if v["sku"] == sku)


def _placed(shop: Shop, *lines: tuple[str, int]) -> tuple[dict, dict]:
    """A cart with these lines, checked out: (cart as it was, checkout answer)."""
    cart = shop.cart_with(*lines)
    placed = shop.checkout(cart["id"], expect=201).json()
    return cart, placed


# --- catalog -------------------------------------------------------------------------------------

def test_a_new_product_is_listed_and_shows_what_is_available(shop: Shop):
    # Given a product with two variants, stocked 7 and 3, in a category of its own
    category = f"cat-{random_sku().lower()}"
    product = shop.create_product(1250, 399, stock=None, category=category)
    a, b = (v["sku"] for v in product["variants"])
    shop.set_stock(a, 7)
    shop.set_stock(b, 3)

    # When the storefront reads it
    one = shop.product(product["id"]).json()

    # Then it is there, priced and with what is available per variant
    assert one["id"] == product["id"] and one["status"] == "active" and one["category"] == category
    assert [(v["sku"], v["price"], v["available"]) for v in one["variants"]] == [
        (a, money(1250), 7), (b, money(399), 3)]
    assert _variant(one, a)["attributes"] == {"size": "0"}
    assert one["created_at"].endswith("Z") and one["updated_at"].endswith("Z")

    # And it is listed, under its category and in the full listing
    by_category = shop.request("GET", "/products", params={"category": category}).json()
    assert [p["id"] for p in by_category["items"]] == [product["id"]]
    assert by_category["next_cursor"] is None
    assert _variant(by_category["items"][0], b)["available"] == 3
    seen, _ = _find_in_listing(shop, "/products", {product["id"]})
    assert product["id"] in seen
    assert len(seen) == len(set(seen))


def test_a_draft_product_is_not_public(shop: Shop):
    # Given a draft product
    product = shop.create_product(900, stock=5, status="draft")

    # Then the storefront cannot see it or buy it, but the merchant can read it
    assert_problem(shop.product(product["id"], expect=None), 404)
    cart = shop.new_cart()
    assert_problem(shop.add(cart["id"], product["variants"][0]["sku"], 1, expect=None), 422)
    assert shop.admin_product(product["id"])["status"] == "draft"


# --- carts ---------------------------------------------------------------------------------------

def test_cart_lines_are_priced_from_the_catalog(shop: Shop):
    # Given a product at 12.50 and 3.99
    product = shop.create_product(1250, 399, stock=10)
    a, b = (v["sku"] for v in product["variants"])

    # When a shopper adds 2 of A, 3 of B, then 1 more of A
    cart = shop.new_cart()
    assert cart["status"] == "open" and cart["lines"] == [] and cart["subtotal"] == money(0)
    shop.add(cart["id"], a, 2)
    shop.add(cart["id"], b, 3)
    added = shop.add(cart["id"], a, 1).json()

    # Then each line is priced from the catalog, and the line for A was added to
    expected_lines = {a: (3, 1250), b: (3, 399)}
    for seen in (added, shop.cart(cart["id"])):
        assert {ln["sku"]: (ln["quantity"], ln["unit_price"]["amount"]) for ln in seen["lines"]} == expected_lines
        for ln in seen["lines"]:
            assert ln["unit_price"]["currency"] == "USD"
            assert ln["total"] == money(ln["quantity"] * ln["unit_price"]["amount"])
            assert product["title"] in ln["title"]
        assert seen["subtotal"] == money(3 * 1250 + 3 * 399)
        assert seen["total"] == seen["subtotal"]
        assert seen["unavailable_skus"] == []

    # And changing and removing lines reprices the cart
    patched = shop.request("PATCH", f"/carts/{cart['id']}/items/{a}", json={"quantity": 1}).json()
    assert patched["subtotal"] == money(1250 + 3 * 399)
    removed = shop.request("DELETE", f"/carts/{cart['id']}/items/{b}").json()
    assert [(ln["sku"], ln["quantity"]) for ln in removed["lines"]] == [(a, 1)]
    assert removed["subtotal"] == money(1250)
    zeroed = shop.request("PATCH", f"/carts/{cart['id']}/items/{a}", json={"quantity": 0}).json()
    assert zeroed["lines"] == [] and zeroed["subtotal"] == money(0)


# --- checkout ------------------------------------------------------------------------------------

def test_checkout_places_an_order_and_reserves_the_stock(shop: Shop):
    # Given a cart with 2 x A (12.50) and 1 x B (3.99), from stock 10 each
    product = shop.create_product(1250, 399, stock=10)
    a, b = (v["sku"] for v in product["variants"])
    cart = shop.cart_with((a, 2), (b, 1))

    # When the shopper checks out
    response = shop.checkout(cart["id"], expect=201)
    placed = response.json()

    # Then an order awaits payment, priced as the cart was
    assert response.headers["Content-Type"].startswith("application/json")
    assert set(placed) == {"order", "access_token", "payment"}
    order = placed["order"]
    assert order["id"].startswith("ord_")
    assert order["status"] == "pending_payment"
    assert order["email"] == CHECKOUT_BODY["email"]
    assert order["lines"] == cart["lines"]
    assert order["subtotal"] == order["total"] == money(2 * 1250 + 399)
    assert {k: v for k, v in order["shipping_address"].items() if v is not None} == ADDRESS
    assert order["fulfillment"] is None
    assert order["refunded"] == money(0)
    assert [h["status"] for h in order["history"]] == ["pending_payment"]
    # with a capability token and a simulated payment to confirm
    assert isinstance(placed["access_token"], str) and len(placed["access_token"]) >= 32
    payment = placed["payment"]
    assert payment["provider"] == "simulated"
    assert payment["payment_intent_id"] and payment["client_secret"]
    assert order["payment"]["provider"] == "simulated"
    assert order["payment"]["payment_intent_id"] == payment["payment_intent_id"]

    # And the stock is reserved, for the merchant and in the storefront
    assert shop.stock(a) == {"sku": a, "on_hand": 10, "reserved": 2, "available": 8}
    assert shop.stock(b) == {"sku": b, "on_hand": 10, "reserved": 1, "available": 9}
    public = shop.product(product["id"]).json()
    assert (_variant(public, a)["available"], _variant(public, b)["available"]) == (8, 9)

    # And the shopper (with the token) and the merchant (with a key) can read the order
    by_owner = shop.order(order["id"], placed["access_token"], expect=200).json()
    assert by_owner == order
    by_merchant = shop.request("GET", f"/orders/{order['id']}", admin=True)
    assert by_merchant.status_code == 200 and by_merchant.json() == order

    # And the cart is closed: a second checkout (new key) and new items are refused
    assert shop.cart(cart["id"])["status"] == "checked_out"
    assert_problem(shop.checkout(cart["id"], key=new_key()), 409, "cart_not_open")
    assert_problem(shop.add(cart["id"], a, 1, expect=None), 409)
    assert shop.stock(a)["reserved"] == 2 and shop.stock(b)["reserved"] == 1


def test_checking_out_an_empty_cart_is_a_conflict(shop: Shop):
    cart = shop.new_cart()

    response = shop.checkout(cart["id"])

    assert_problem(response, 409, "cart_empty")
    assert shop.cart(cart["id"])["status"] == "open"


def test_checkout_of_an_unknown_cart_is_not_found(shop: Shop):
    assert_problem(shop.checkout(fake_id("cart")), 404)


def test_a_replayed_checkout_returns_the_same_answer_and_reserves_once(shop: Shop):
    # Given a cart with 3 x A
    product = shop.create_product(700, stock=10)
    sku = product["variants"][0]["sku"]
    cart = shop.cart_with((sku, 3))
    key = new_key()

    # When the same checkout (same key, same body) is sent twice
    first = shop.checkout(cart["id"], key=key, expect=201)
    second = shop.checkout(cart["id"], key=key, expect=201)

    # Then the second answer is the first one, token included, and the stock was reserved once
    assert second.json() == first.json()
    assert second.json()["access_token"] == first.json()["access_token"]
    assert shop.stock(sku) == {"sku": sku, "on_hand": 10, "reserved": 3, "available": 7}
    shop.order(first.json()["order"]["id"], second.json()["access_token"], expect=200)

    # When the same key comes with another body
    other = copy.deepcopy(CHECKOUT_BODY)
    other["email"] = "someone.else@example.com"
    reused = shop.checkout(cart["id"], key=key, body=other)

    # Then it is refused, and still nothing more is reserved
    assert_problem(reused, 409, "idempotency_key_reused")
    assert shop.stock(sku)["reserved"] == 3
    # and the original answer is still what the key replays
    assert shop.checkout(cart["id"], key=key, expect=201).json() == first.json()


def test_a_replayed_checkout_is_answered_from_the_order_which_keeps_no_secret(shop: Shop, stack):
    """A replay is answered from the order (its id derives from the cart and the key): its token derived
    again, its client secret fetched again from the provider. Neither sits in plain text in the order."""
    import os

    product = shop.create_product(700, stock=5)
    cart = shop.cart_with((product["variants"][0]["sku"], 1))
    key = new_key()
    first = shop.checkout(cart["id"], key=key, expect=201).json()
    orders = stack.aws_session.resource("dynamodb").Table(os.environ["SHELF_ORDERS_TABLE"])
    stored = repr(orders.get_item(Key={"order_id": first["order"]["id"]}, ConsistentRead=True)["Item"])
    assert first["access_token"] not in stored and first["payment"]["client_secret"] not in stored
    assert shop.checkout(cart["id"], key=key, expect=201).json() == first


def test_an_idempotency_key_belongs_to_one_cart(shop: Shop):
    # Given two carts checked out with the same key
    product = shop.create_product(500, stock=10)
    sku = product["variants"][0]["sku"]
    key = new_key()
    one = shop.checkout(shop.cart_with((sku, 1))["id"], key=key, expect=201).json()
    two = shop.checkout(shop.cart_with((sku, 2))["id"], key=key, expect=201).json()

    # Then they are two orders
    assert one["order"]["id"] != two["order"]["id"]
    assert one["access_token"] != two["access_token"]
    assert shop.stock(sku)["reserved"] == 3


# --- orders: who may read them -------------------------------------------------------------------

def test_an_order_token_reads_only_its_own_order(shop: Shop):
    # Given two orders, A and B
    product = shop.create_product(800, stock=10)
    sku = product["variants"][0]["sku"]
    _, order_a = _placed(shop, (sku, 1))
    _, order_b = _placed(shop, (sku, 1))
    b_id = order_b["order"]["id"]

    # Then A's token does not open B (and does not say B exists)
    not_yours = shop.order(b_id, order_a["access_token"])
    assert_problem(not_yours, 404)
    unknown = shop.order(fake_id("ord"), order_a["access_token"])
    assert_problem(unknown, 404)
    assert not_yours.json()["type"] == unknown.json()["type"]

    # And no credentials is a 401, anything else a 404
    missing = shop.order(b_id, None)
    assert_problem(missing, 401)
    assert missing.headers.get("WWW-Authenticate", "").lower().startswith("bearer")
    assert_problem(shop.request("GET", f"/orders/{b_id}", headers={"Authorization": "Basic Zm9vOmJhcg=="}), 401)
    for garbage in ("garbage", "ot_" + "x" * 43, order_a["access_token"] + "x", "sk_not_a_real_key"):
        assert_problem(shop.order(b_id, garbage), 404)

    # While B's own token still works
    assert shop.order(b_id, order_b["access_token"], expect=200).json()["id"] == b_id


# --- orders: the merchant's list -----------------------------------------------------------------

def test_the_merchant_lists_orders_by_status_and_pages_through_them(shop: Shop):
    # Given three new orders
    product = shop.create_product(650, stock=10)
    sku = product["variants"][0]["sku"]
    ids = {_placed(shop, (sku, 1))[1]["order"]["id"] for _ in range(3)}

    # Then each is listed as pending payment
    seen, _ = _find_in_listing(shop, "/admin/orders", ids, params={"status": "pending_payment"}, admin=True)
    assert ids <= set(seen)
    page = shop.request("GET", "/admin/orders", admin=True, params={"status": "pending_payment", "limit": 100}).json()
    assert all(o["status"] == "pending_payment" for o in page["items"])
    assert not ids & {o["id"] for o in shop.request(
        "GET", "/admin/orders", admin=True, params={"status": "paid", "limit": 100}).json()["items"]}

    # And one at a time, the cursor walks to every one of them, with no order twice
    seen, pages = _find_in_listing(shop, "/admin/orders", ids, params={"status": "pending_payment"}, admin=True,
                                   limit=1)
    assert ids <= set(seen)
    assert len(seen) == len(set(seen)) == pages

    # And without a status too
    seen, _ = _find_in_listing(shop, "/admin/orders", ids, admin=True, limit=2)
    assert ids <= set(seen) and len(seen) == len(set(seen))


def test_a_cursor_the_listing_did_not_give_is_refused(shop: Shop):
    for cursor in ("not-a-cursor", "eyJ4IjoxfQ", "%%%", "a" * 2048):
        response = shop.request("GET", "/admin/orders", admin=True, params={"cursor": cursor})
        assert_problem(response, 422)
        assert "cursor" in error_fields(response.json())
    # a real cursor, from another listing (another status)
    product = shop.create_product(650, stock=10)
    sku = product["variants"][0]["sku"]
    _placed(shop, (sku, 1))
    _placed(shop, (sku, 1))
    page = shop.request("GET", "/admin/orders", admin=True, params={"status": "pending_payment", "limit": 1}).json()
    assert page["next_cursor"]
    other = shop.request("GET", "/admin/orders", admin=True, params={"status": "paid", "cursor": page["next_cursor"]})
    assert_problem(other, 422)
    products = shop.request("GET", "/products", params={"cursor": page["next_cursor"]})
    assert_problem(products, 422)


# --- out of stock --------------------------------------------------------------------------------

def test_a_cart_cannot_hold_more_than_is_available(shop: Shop):
    # Given a SKU with one unit
    product = shop.create_product(1000, stock=1)
    sku = product["variants"][0]["sku"]
    cart = shop.new_cart()

    # When the shopper asks for two
    response = shop.add(cart["id"], sku, 2, expect=None)

    # Then it is refused as out of stock, and the cart is unchanged
    problem = assert_problem(response, 409, "out_of_stock")
    assert sku in error_fields(problem)
    assert shop.cart(cart["id"]) == cart
    # while one is fine, and a second one on top is refused too
    shop.add(cart["id"], sku, 1)
    assert_problem(shop.add(cart["id"], sku, 1, expect=None), 409, "out_of_stock")
    assert_problem(shop.request("PATCH", f"/carts/{cart['id']}/items/{sku}", json={"quantity": 2}), 409,
                   "out_of_stock")
    assert [ln["quantity"] for ln in shop.cart(cart["id"])["lines"]] == [1]


def test_checkout_reserves_all_lines_or_none(shop: Shop):
    # Given a cart with 2 x A and 3 x B, both in stock when added
    product = shop.create_product(1100, 2200, stock=5)
    a, b = (v["sku"] for v in product["variants"])
    cart = shop.cart_with((a, 2), (b, 3))

    # And the merchant then lowers B's stock to 2
    shop.set_stock(b, 2)

    # When the shopper checks out
    response = shop.checkout(cart["id"])

    # Then it is refused as out of stock, naming B only
    problem = assert_problem(response, 409, "out_of_stock")
    assert error_fields(problem) == {b}
    # And nothing was reserved, not even for A, and the cart is still open
    assert shop.stock(a) == {"sku": a, "on_hand": 5, "reserved": 0, "available": 5}
    assert shop.stock(b) == {"sku": b, "on_hand": 2, "reserved": 0, "available": 2}
    assert shop.cart(cart["id"])["status"] == "open"

    # And once B is restocked, the same cart checks out
    shop.set_stock(b, 3)
    placed = shop.checkout(cart["id"], expect=201).json()
    assert placed["order"]["status"] == "pending_payment"
    assert (shop.stock(a)["reserved"], shop.stock(b)["reserved"]) == (2, 3)
    assert shop.stock(b)["available"] == 0


# --- merchant: catalog ---------------------------------------------------------------------------

def test_a_merchant_creates_a_product_and_skus_stay_unique(shop: Shop):
    # When the merchant creates a product
    sku = random_sku()
    body = {"title": "Mug", "description": "Holds tea", "category": "kitchen",
            "variants": [{"sku": sku, "title": "Blue", "price": money(1800), "attributes": {"color": "blue"}}]}
    created = shop.request("POST", "/admin/products", admin=True, json=body)

    # Then it is created, active, with nothing in stock yet
    assert created.status_code == 201, created.text
    product = created.json()
    assert product["id"].startswith("prod_")
    assert (product["title"], product["description"], product["category"], product["status"]) == (
        "Mug", "Holds tea", "kitchen", "active")
    assert product["variants"] == [{"sku": sku, "title": "Blue", "price": money(1800), "available": 0,
                                    "attributes": {"color": "blue"}, "weight_grams": 0}]
    assert shop.admin_product(product["id"]) == product
    assert shop.stock(sku) == {"sku": sku, "on_hand": 0, "reserved": 0, "available": 0}

    # And the same SKU again, alone or next to a new one, is a conflict that creates nothing
    fresh = random_sku()
    again = dict(body, variants=[{"sku": fresh, "title": "Red", "price": money(1800)}, body["variants"][0]])
    problem = assert_problem(shop.request("POST", "/admin/products", admin=True, json=again), 409, "sku_taken")
    assert "variants[1].sku" in error_fields(problem)
    assert_problem(shop.request("POST", "/admin/products", admin=True, json=body), 409, "sku_taken")
    assert_problem(shop.request("GET", f"/admin/inventory/{fresh}", admin=True), 404)
    # and twice in one product is refused too
    twice = dict(body, variants=[{"sku": fresh, "title": "x", "price": money(1)}] * 2)
    assert shop.request("POST", "/admin/products", admin=True, json=twice).status_code in (409, 422)
    assert_problem(shop.request("GET", f"/admin/inventory/{fresh}", admin=True), 404)


def test_a_price_change_reprices_open_carts(shop: Shop):
    # Given a cart holding 2 of a 10.00 item
    product = shop.create_product(1000, stock=10, title="Old title")
    sku = product["variants"][0]["sku"]
    cart = shop.cart_with((sku, 2))
    assert cart["subtotal"] == money(2000)

    # When the merchant renames it and changes its price to 12.34
    variant = {"sku": sku, "title": "variant 0", "price": money(1234)}
    patched = shop.request("PATCH", f"/admin/products/{product['id']}", admin=True,
                           json={"title": "New title", "variants": [variant]})

    # Then the product says so
    assert patched.status_code == 200, patched.text
    assert patched.json()["title"] == "New title"
    assert patched.json()["variants"][0]["price"] == money(1234)
    assert patched.json()["variants"][0]["available"] == 10
    assert shop.product(product["id"]).json()["title"] == "New title"

    # And the cart is priced at the new price, under the new title
    now = shop.cart(cart["id"])
    assert now["lines"][0]["unit_price"] == money(1234)
    assert now["lines"][0]["total"] == money(2468)
    assert now["subtotal"] == now["total"] == money(2468)
    assert "New title" in now["lines"][0]["title"]

    # And the order is placed at that price
    placed = shop.checkout(cart["id"], expect=201).json()
    assert placed["order"]["total"] == money(2468)

    # And a PATCH of the title alone leaves the price alone
    shop.request("PATCH", f"/admin/products/{product['id']}", admin=True, json={"title": "Newer"})
    assert shop.product(product["id"]).json()["variants"][0]["price"] == money(1234)


def test_a_deleted_product_leaves_the_store(shop: Shop):
    # Given a product that is in a cart
    product = shop.create_product(1500, stock=4)
    sku = product["variants"][0]["sku"]
    cart = shop.cart_with((sku, 1))

    # When the merchant deletes it
    deleted = shop.request("DELETE", f"/admin/products/{product['id']}", admin=True)

    # Then it is gone from the storefront, and archived for the merchant
    assert deleted.status_code == 204 and deleted.content == b""
    assert_problem(shop.product(product["id"], expect=None), 404)
    assert shop.admin_product(product["id"])["status"] == "archived"
    listed = shop.request("GET", "/products", params={"category": product["category"], "limit": 100}).json()
    assert product["id"] not in {p["id"] for p in listed["items"]}
    # And it can no longer be added or bought
    assert_problem(shop.add(shop.new_cart()["id"], sku, 1, expect=None), 422)
    now = shop.cart(cart["id"])
    assert now["lines"] == [] and now["unavailable_skus"] == [sku]
    assert_problem(shop.checkout(cart["id"]), 409, "out_of_stock")
    assert shop.stock(sku)["reserved"] == 0
    # And deleting it again is harmless; an unknown product is a 404
    assert shop.request("DELETE", f"/admin/products/{product['id']}", admin=True).status_code == 204
    assert_problem(shop.request("DELETE", f"/admin/products/{fake_id('prod')}", admin=True), 404)


# --- merchant: inventory -------------------------------------------------------------------------

def test_a_merchant_sets_and_adjusts_stock_but_never_below_what_is_reserved(shop: Shop):
    product = shop.create_product(300)
    sku = product["variants"][0]["sku"]

    # PUT sets, adjustments add and remove
    assert shop.set_stock(sku, 10).json() == {"sku": sku, "on_hand": 10, "reserved": 0, "available": 10}
    assert shop.adjust_stock(sku, 5, "delivery").json() == {"sku": sku, "on_hand": 15, "reserved": 0, "available": 15}
    assert shop.adjust_stock(sku, -3, "damaged").json()["on_hand"] == 12
    assert shop.adjust_stock(sku, 0, "count").json()["on_hand"] == 12

    # Given 4 units reserved by an order
    _placed(shop, (sku, 4))
    assert shop.stock(sku) == {"sku": sku, "on_hand": 12, "reserved": 4, "available": 8}

    # Then stock cannot go below the 4 reserved, by adjustment or by PUT
    assert_problem(shop.adjust_stock(sku, -9, expect=None), 409, "below_reserved")
    assert_problem(shop.set_stock(sku, 3, expect=None), 409, "below_reserved")
    assert shop.stock(sku) == {"sku": sku, "on_hand": 12, "reserved": 4, "available": 8}

    # But down to exactly what is reserved is fine
    assert shop.adjust_stock(sku, -8).json() == {"sku": sku, "on_hand": 4, "reserved": 4, "available": 0}
    assert shop.set_stock(sku, 6).json() == {"sku": sku, "on_hand": 6, "reserved": 4, "available": 2}
    assert shop.set_stock(sku, 4).json()["available"] == 0

    # And an unknown SKU is a 404 everywhere
    ghost = random_sku()
    assert_problem(shop.set_stock(ghost, 1, expect=None), 404)
    assert_problem(shop.adjust_stock(ghost, 1, expect=None), 404)
    assert_problem(shop.request("GET", f"/admin/inventory/{ghost}", admin=True), 404)


# --- merchant: credentials -----------------------------------------------------------------------

def test_merchant_routes_need_a_valid_key(shop: Shop):
    product = shop.create_product(300, stock=2)
    sku = product["variants"][0]["sku"]
    fresh = random_sku()
    attempts = [
        ("POST", "/admin/products", {"title": "x", "variants": [{"sku": fresh, "title": "x", "price": money(1)}]}),
        ("GET", f"/admin/products/{product['id']}", None),
        ("PATCH", f"/admin/products/{product['id']}", {"title": "hacked"}),
        ("DELETE", f"/admin/products/{product['id']}", None),
        ("GET", f"/admin/inventory/{sku}", None),
        ("PUT", f"/admin/inventory/{sku}", {"on_hand": 999}),
        ("POST", f"/admin/inventory/{sku}/adjustments", {"delta": 5, "reason": "x"}),
        ("GET", "/admin/orders", None),
    ]
    credentials = [None, "Bearer sk_wrong_" + "x" * 32, "Bearer ", "Basic " + "x" * 20, "sk_no_scheme",
                   "Bearer ot_" + "y" * 43]
    for method, path, body in attempts:
        for auth in credentials:
            headers = {"Authorization": auth} if auth is not None else {}
            response = shop.request(method, path, headers=headers, json=body)
            problem = assert_problem(response, 401)
            assert response.headers["Content-Type"] == PROBLEM_JSON
            assert problem["type"] == "unauthenticated", (method, path, auth)

    # And nothing changed
    assert_problem(shop.request("GET", f"/admin/inventory/{fresh}", admin=True), 404)
    assert shop.admin_product(product["id"])["title"] == product["title"]
    assert shop.admin_product(product["id"])["status"] == "active"
    assert shop.stock(sku) == {"sku": sku, "on_hand": 2, "reserved": 0, "available": 2}


def test_a_cart_made_with_its_first_lines_in_one_call(shop: Shop):
    product = shop.create_product(700, 300, stock=5)
    a, b = (v["sku"] for v in product["variants"])
    made = shop.request("POST", "/carts", json={"items": [{"sku": a, "quantity": 2}, {"sku": b, "quantity": 1},
                                                          {"sku": a, "quantity": 1}]})
    assert made.status_code == 201, made.text
    cart = made.json()
    assert {ln["sku"]: ln["quantity"] for ln in cart["lines"]} == {a: 3, b: 1}
    assert cart["subtotal"] == money(3 * 700 + 300)
    assert shop.request("GET", f"/carts/{cart['id']}").json()["lines"] == cart["lines"]

    unknown = shop.request("POST", "/carts", json={"items": [{"sku": a, "quantity": 1},
                                                             {"sku": "NOPE-1", "quantity": 1}]})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "items[1].sku"
    short = shop.request("POST", "/carts", json={"items": [{"sku": b, "quantity": 6}]})
    assert short.status_code == 409 and short.json()["type"].endswith("out_of_stock"), short.text
    assert shop.request("POST", "/carts", json={"items": [{"sku": a, "quantity": 0}]}).status_code == 422
