"""Bad requests, one table: each gets the right 4xx as an RFC 9457 problem, and changes nothing.

Every case runs against one small world (a product with two stocked SKUs, a cart holding one line,
an order), and afterwards the world is read back and compared: stock, the cart, the product. Every
case that could create a product names a fresh SKU, which must still not exist afterwards.
"""
from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.e2e.fixtures import (  # noqa: F401 (fixtures)
    CHECKOUT_BODY,
    Shop,
    assert_problem,
    fake_id,
    money,
    new_key,
    random_sku,
    shop_fixture,
)

# Placeholders, filled in per case: the world's ids, a fresh SKU, a fresh Idempotency-Key.
CART, SKU, OTHER_SKU, PRODUCT, ORDER, FRESH, KEY = ("{cart}", "{sku}", "{other_sku}", "{product}", "{order}",
                                                    "{fresh}", "{key}")
JSON = {"Content-Type": "application/json"}
BIG = 70 * 1024  # over the 64 KiB limit


@dataclass
class Case:
    id: str
    method: str
    path: str
    status: int | tuple[int, ...]
    body: Any = None  # a JSON value, sent as JSON
    raw: bytes | str | None = None  # sent as is (Content-Type: application/json)
    headers: dict = field(default_factory=dict)
    params: dict | None = None
    admin: bool = False
    marks: tuple = ()


def _fill(value: Any, world: dict[str, str]) -> Any:
    if isinstance(value, str):
        for name, actual in world.items():
            value = value.replace("{" + name + "}", actual)
        return value
    if isinstance(value, dict):
        return {_fill(k, world): _fill(v, world) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, world) for v in value]
    return value


# --- bodies ------------------------------------------------------------------------------------------

def item(**changes) -> dict:
    return {"sku": SKU, "quantity": 1, **changes}


def product_body(**changes) -> dict:
    return {"title": "Bad input", "variants": [{"sku": FRESH, "title": "v", "price": money(1000)}], **changes}


def variant(**changes) -> dict:
    return {"sku": FRESH, "title": "v", "price": money(1000), **changes}


def checkout_body(**changes) -> dict:
    body = copy.deepcopy(CHECKOUT_BODY)
    body.update(changes)
    return body


def address(**changes) -> dict:
    body = copy.deepcopy(CHECKOUT_BODY)
    body["shipping_address"].update(changes)
    return body


def without(d: dict, *keys: str, where: str | None = None) -> dict:
    d = copy.deepcopy(d)
    target = d[where] if where else d
    for key in keys:
        target.pop(key)
    return d


def nested(depth: int, leaf: str = "1") -> str:
    return "[" * depth + leaf + "]" * depth


def padded(body: dict) -> dict:
    return {**body, "padding": "x" * BIG}


# A path no route matches never reaches the app: Chalice's local server (as API Gateway, without a
# gateway response for MISSING_AUTHENTICATION_TOKEN) answers 403 {"message": "Missing Authentication Token"},
# as application/json and without X-Request-Id.

ITEMS = f"/carts/{CART}/items"
LINE = f"/carts/{CART}/items/{SKU}"
CHECKOUT = f"/carts/{CART}/checkout"
ADMIN_PRODUCT = f"/admin/products/{PRODUCT}"
STOCK = f"/admin/inventory/{SKU}"
ADJUST = f"/admin/inventory/{SKU}/adjustments"
IDEM = {"Idempotency-Key": KEY}


def post_item(id_: str, body: Any, status: int | tuple = 422) -> Case:
    return Case(f"item-{id_}", "POST", ITEMS, status, body=body)


def checkout(id_: str, body: Any, status: int | tuple = 422) -> Case:
    return Case(f"checkout-{id_}", "POST", CHECKOUT, status, body=body, headers=IDEM)


def create(id_: str, body: Any, status: int | tuple = 422) -> Case:
    return Case(f"create-product-{id_}", "POST", "/admin/products", status, body=body, admin=True)


def patch(id_: str, body: Any, status: int | tuple = 422) -> Case:
    return Case(f"patch-product-{id_}", "PATCH", ADMIN_PRODUCT, status, body=body, admin=True)


BAD_QUANTITIES = [("zero", 0), ("negative", -1), ("100", 100), ("huge", 10**30), ("float", 1.5),
                  ("integral-float", 2.0), ("string", "2"), ("true", True), ("null", None), ("list", [1]),
                  ("object", {"n": 1})]

CASES: list[Case] = [
    # malformed JSON -> 400
    Case("malformed-item", "POST", ITEMS, 400, raw='{"sku": "x", "quantity": 1'),
    Case("malformed-cart", "POST", "/carts", 400, raw="{"),
    Case("malformed-product", "POST", "/admin/products", 400, raw="{title: 'x'}", admin=True),
    Case("malformed-stock", "PUT", STOCK, 400, raw="on_hand=5", admin=True),
    Case("malformed-checkout", "POST", CHECKOUT, 400, raw='{"email": ', headers=IDEM),
    Case("malformed-patch-line", "PATCH", LINE, 400, raw='{"quantity": 1,}'),
    Case("trailing-garbage", "POST", ITEMS, 400, raw='{"sku": "x", "quantity": 1} x'),
    Case("nan", "PUT", STOCK, (400, 422), raw='{"on_hand": NaN}', admin=True),
    Case("infinity", "PUT", STOCK, (400, 422), raw='{"on_hand": Infinity}', admin=True),
    Case("not-utf8", "POST", ITEMS, (400, 422), raw=b'{"sku": "\xff\xfe", "quantity": 1}'),
    # JSON, but not an object -> 422
    post_item("array", [item()]),
    post_item("string", "x"),
    post_item("number", 1),
    post_item("null", None),
    Case("cart-array", "POST", "/carts", 422, body=[]),
    create("array", [product_body()]),
    Case("stock-string", "PUT", STOCK, 422, body="10", admin=True),
    checkout("array", [CHECKOUT_BODY]),
    checkout("string", "ada@example.com"),
    # quantities
    *[post_item(f"quantity-{name}", item(quantity=q)) for name, q in BAD_QUANTITIES],
    *[Case(f"line-quantity-{name}", "PATCH", LINE, 422, body={"quantity": q})
      for name, q in BAD_QUANTITIES if q != 0],
    post_item("quantity-over-line-max", item(quantity=98)),  # the cart already holds 2: 100 > 99
    # SKUs
    post_item("missing-sku", {"quantity": 1}),
    post_item("missing-quantity", {"sku": SKU}),
    post_item("empty-sku", item(sku="")),
    post_item("sku-with-space", item(sku="a b")),
    post_item("sku-too-long", item(sku="A" * 65)),
    post_item("sku-number", item(sku=12345)),
    post_item("unknown-sku", item(sku=FRESH)),
    # unknown fields, everywhere
    Case("unknown-field-cart", "POST", "/carts", 422, body={"owner": "me"}),
    post_item("unknown-field", item(gift=True)),
    post_item("client-unit-price", item(unit_price=money(1))),
    post_item("client-price", item(price=money(1))),
    post_item("client-price-number", item(price=1)),
    Case("line-unknown-field", "PATCH", LINE, 422, body={"quantity": 1, "unit_price": money(1)}),
    checkout("unknown-field", checkout_body(coupon="FREE")),
    checkout("client-total", checkout_body(total=money(1))),
    checkout("unknown-address-field", address(phone="555")),
    create("unknown-field", product_body(featured=True)),
    create("client-id", product_body(id=fake_id("prod"))),
    create("unknown-variant-field", product_body(variants=[variant(available=5)])),
    create("unknown-price-field", product_body(variants=[variant(price={**money(1000), "tax": 1})])),
    patch("unknown-field", {"title": "x", "featured": True}),
    patch("client-id", {"id": fake_id("prod")}),
    patch("client-timestamps", {"created_at": "2020-01-01T00:00:00Z"}),
    patch("unknown-variant-field", {"variants": [variant(sku=SKU, stock=4)]}),
    Case("stock-unknown-field", "PUT", STOCK, 422, body={"on_hand": 1, "reserved": 0}, admin=True),
    Case("adjust-unknown-field", "POST", ADJUST, 422, body={"delta": 1, "reason": "x", "by": "me"}, admin=True),
    # checkout fields of the wrong type, or missing
    checkout("email-number", checkout_body(email=123)),
    checkout("email-null", checkout_body(email=None)),
    checkout("address-string", checkout_body(shipping_address="1 Main St")),
    checkout("address-list", checkout_body(shipping_address=[])),
    checkout("address-null", checkout_body(shipping_address=None)),
    checkout("name-number", address(name=5)),
    checkout("name-empty", address(name="")),
    checkout("line2-number", address(line2=5)),
    checkout("postal-code-number", address(postal_code=12345)),
    checkout("country-number", address(country=1)),
    checkout("missing-email", without(CHECKOUT_BODY, "email")),
    checkout("missing-address", without(CHECKOUT_BODY, "shipping_address")),
    *[checkout(f"missing-{f}", without(CHECKOUT_BODY, f, where="shipping_address"))
      for f in ("name", "line1", "city", "postal_code", "country")],
    checkout("empty-body", {}),
    Case("checkout-no-body", "POST", CHECKOUT, 422, headers=IDEM),
    # countries and emails
    *[checkout(f"country-{c or 'empty'}", address(country=c)) for c in ("USA", "zz", "ZZ", "gb", "")],
    *[checkout(f"email-{i}", checkout_body(email=e)) for i, e in enumerate(
        ["not-an-email", "a@", "@example.com", "a b@example.com", "ada@@example.com", "",
         "x" * 250 + "@example.com"])],
    # Idempotency-Key
    Case("checkout-without-key", "POST", CHECKOUT, 422, body=CHECKOUT_BODY),
    Case("checkout-key-256", "POST", CHECKOUT, 422, body=CHECKOUT_BODY, headers={"Idempotency-Key": "k" * 256}),
    Case("checkout-key-empty", "POST", CHECKOUT, 422, body=CHECKOUT_BODY, headers={"Idempotency-Key": ""}),
    # bodies over 64 KiB -> 413, whatever the route
    post_item("too-large", padded(item()), 413),
    Case("too-large-cart", "POST", "/carts", 413, body=padded({})),
    create("too-large", padded(product_body()), 413),
    patch("too-large", padded({"title": "x"}), 413),
    Case("too-large-stock", "PUT", STOCK, 413, body=padded({"on_hand": 1}), admin=True),
    checkout("too-large", padded(CHECKOUT_BODY), 413),
    Case("too-large-not-json", "POST", ITEMS, 413, raw=b"x" * BIG),
    Case("too-large-get", "GET", f"/carts/{CART}", 413, raw=b"{" + b" " * BIG + b"}"),
    # stock
    *[Case(f"on-hand-{name}", "PUT", STOCK, 422, body={"on_hand": v}, admin=True)
      for name, v in [("negative", -1), ("float", 1.5), ("string", "5"), ("null", None), ("huge", 10**9 + 1),
                      ("bool", True)]],
    Case("stock-missing-on-hand", "PUT", STOCK, 422, body={}, admin=True),
    *[Case(f"adjust-{name}", "POST", ADJUST, 422, body=body, admin=True) for name, body in [
        ("float", {"delta": 1.5, "reason": "x"}), ("string", {"delta": "1", "reason": "x"}),
        ("no-reason", {"delta": 1}), ("empty-reason", {"delta": 1, "reason": ""}),
        ("huge", {"delta": 10**12, "reason": "x"})]],
    # prices and products
    create("price-float", product_body(variants=[variant(price={"amount": 10.5, "currency": "USD"})])),
    create("price-integral-float", product_body(variants=[variant(price={"amount": 1000.0, "currency": "USD"})])),
    create("price-string", product_body(variants=[variant(price={"amount": "1000", "currency": "USD"})])),
    create("price-negative", product_body(variants=[variant(price={"amount": -1, "currency": "USD"})])),
    create("price-huge", product_body(variants=[variant(price={"amount": 10**30, "currency": "USD"})])),
    create("price-number", product_body(variants=[variant(price=1000)])),
    create("currency-mismatch", product_body(variants=[variant(price={"amount": 1000, "currency": "EUR"})])),
    create("currency-lowercase", product_body(variants=[variant(price={"amount": 1000, "currency": "usd"})])),
    create("currency-missing", product_body(variants=[variant(price={"amount": 1000})])),
    create("no-variants", product_body(variants=[])),
    create("missing-variants", without(product_body(), "variants")),
    create("missing-title", without(product_body(), "title")),
    create("empty-title", product_body(title="")),
    create("bad-status", product_body(status="deleted")),
    create("bad-variant-sku", product_body(variants=[variant(sku="-x")])),
    create("duplicate-sku", product_body(variants=[variant(), variant()]), (409, 422)),
    create("taken-sku-next-to-fresh", product_body(variants=[variant(), variant(sku=SKU)]), 409),
    patch("price-float", {"variants": [variant(sku=SKU, price={"amount": 10.5, "currency": "USD"})]}),
    patch("currency-mismatch", {"variants": [variant(sku=SKU, price={"amount": 10, "currency": "EUR"})]}),
    patch("empty-title", {"title": ""}),
    patch("null-title", {"title": None}),
    patch("bad-status", {"status": "gone"}),
    patch("no-variants", {"variants": []}),
    patch("array", [{"title": "x"}]),
    # list parameters
    *[Case(f"products-limit-{v}", "GET", "/products", 422, params={"limit": v}) for v in ("0", "101", "abc", "-1",
                                                                                          "1.5", "")],
    *[Case(f"orders-limit-{v}", "GET", "/admin/orders", 422, params={"limit": v}, admin=True)
      for v in ("0", "101", "abc")],
    Case("orders-bad-status", "GET", "/admin/orders", 422, params={"status": "lost"}, admin=True),
    Case("products-bad-cursor", "GET", "/products", 422, params={"cursor": "garbage"}),
    Case("orders-bad-cursor", "GET", "/admin/orders", 422, params={"cursor": "garbage"}, admin=True),
    # unknown and malformed ids -> 404
    Case("unknown-product", "GET", f"/products/{fake_id('prod')}", 404),
    Case("malformed-product-id", "GET", "/products/not-an-id", 404),
    Case("product-id-of-a-cart", "GET", f"/products/{CART}", 404),
    Case("uppercase-product-id", "GET", f"/products/{PRODUCT.upper()}", 404),
    Case("unknown-admin-product", "GET", f"/admin/products/{fake_id('prod')}", 404, admin=True),
    Case("malformed-admin-product", "GET", "/admin/products/prod_1", 404, admin=True),
    Case("patch-unknown-product", "PATCH", f"/admin/products/{fake_id('prod')}", 404, body={"title": "x"},
         admin=True),
    Case("delete-unknown-product", "DELETE", f"/admin/products/{fake_id('prod')}", 404, admin=True),
    Case("unknown-cart", "GET", f"/carts/{fake_id('cart')}", 404),
    Case("malformed-cart-id", "GET", "/carts/..%2F..%2Fetc", 404),
    Case("cart-id-of-an-order", "GET", f"/carts/{ORDER}", 404),
    Case("add-to-unknown-cart", "POST", f"/carts/{fake_id('cart')}/items", 404, body=item()),
    Case("patch-unknown-cart", "PATCH", f"/carts/{fake_id('cart')}/items/{SKU}", 404, body={"quantity": 1}),
    Case("delete-line-unknown-cart", "DELETE", f"/carts/{fake_id('cart')}/items/{SKU}", 404),
    Case("patch-line-not-in-cart", "PATCH", f"/carts/{CART}/items/{OTHER_SKU}", 404, body={"quantity": 1}),
    Case("checkout-unknown-cart", "POST", f"/carts/{fake_id('cart')}/checkout", 404, body=CHECKOUT_BODY,
         headers=IDEM),
    Case("checkout-malformed-cart", "POST", "/carts/cart_x/checkout", 404, body=CHECKOUT_BODY, headers=IDEM),
    Case("unknown-order", "GET", f"/orders/{fake_id('ord')}", 404, admin=True),
    Case("malformed-order-id", "GET", "/orders/ord_", 404, admin=True),
    Case("order-id-of-a-cart", "GET", f"/orders/{CART}", 404, admin=True),
    Case("unknown-stock", "GET", f"/admin/inventory/{FRESH}", 404, admin=True),
    Case("malformed-stock-sku", "GET", "/admin/inventory/-x", 404, admin=True),
    Case("unknown-route", "GET", "/nope", 404),
    Case("unknown-nested-route", "GET", f"/carts/{CART}/nope", 404),
    Case("method-not-allowed", "DELETE", "/products", (403, 405)),
    Case("unsupported-media-type", "POST", ITEMS, 415, raw=json.dumps(item()),
         headers={"Content-Type": "application/xml"}),
    # lone surrogates: a 4xx, never stored, never a 5xx
    post_item("lone-surrogate-sku", None, (400, 422)),
    create("lone-surrogate-title", None, (400, 422)),
    patch("lone-surrogate-title", None, (400, 422)),
    checkout("lone-surrogate-name", None, (400, 422)),
    checkout("lone-low-surrogate-city", None, (400, 422)),
    Case("lone-surrogate-reason", "POST", ADJUST, (400, 422), raw='{"delta": 1, "reason": "\\ud800"}', admin=True),
    # deep nesting: a 4xx
    Case("nested-root", "POST", ITEMS, (400, 422), raw=nested(20_000)),
    Case("nested-objects", "POST", ITEMS, (400, 422), raw='{"a":' * 10_000 + "1" + "}" * 10_000),
    Case("nested-in-field", "POST", ITEMS, (400, 422), raw=f'{{"sku": {nested(5_000)}, "quantity": 1}}'),
    Case("nested-attributes", "POST", "/admin/products", (400, 422), admin=True,
         raw=json.dumps(product_body()).replace('"title": "v"', f'"title": "v", "attributes": {nested(5_000)}')),
    Case("nested-address", "POST", CHECKOUT, (400, 422), headers=IDEM,
         raw=json.dumps(CHECKOUT_BODY).replace('"Ada Lovelace"', nested(5_000, '"x"'))),
]

# Bodies that json.dumps cannot write (a lone surrogate is escaped as \ud800 in the JSON text).
_SURROGATE_BODIES = {
    "item-lone-surrogate-sku": '{"sku": "\\ud800", "quantity": 1}',
    "create-product-lone-surrogate-title": json.dumps(product_body(title="SURROGATE")).replace("SURROGATE", "\\ud800"),
    "patch-product-lone-surrogate-title": '{"title": "a\\ud800b"}',
    "checkout-lone-surrogate-name": json.dumps(address(name="SURROGATE")).replace("SURROGATE", "\\ud800"),
    "checkout-lone-low-surrogate-city": json.dumps(address(city="SURROGATE")).replace("SURROGATE", "x\\udc00"),
}
for _case in CASES:
    if _case.id in _SURROGATE_BODIES:
        _case.raw = _SURROGATE_BODIES[_case.id]


# --- the world ---------------------------------------------------------------------------------------

@dataclass
class World:
    ids: dict[str, str]
    state: Any = None
    initial: Any = None


def _state(shop: Shop, world: World) -> dict:
    """What a bad request could have changed, in two reads: the cart (lines, status, expires_at) and the
    product as the merchant sees it (title, prices, status, updated_at, and each SKU's available, which
    moves with any change to on hand or reserved)."""
    ids = world.ids
    return {"cart": shop.cart(ids["cart"]), "product": shop.admin_product(ids["product"])}


@pytest.fixture(scope="module")
def world(shop: Shop) -> World:
    product = shop.create_product(1000, 2500, stock=10)
    sku, other_sku = (v["sku"] for v in product["variants"])
    placed = shop.checkout(shop.cart_with((other_sku, 1))["id"], expect=201).json()
    cart = shop.cart_with((sku, 2))
    w = World({"cart": cart["id"], "sku": sku, "other_sku": other_sku, "product": product["id"],
               "order": placed["order"]["id"]})
    w.state = w.initial = _state(shop, w)
    return w


def _send(shop: Shop, case: Case, world: World, fresh: str) -> Any:
    ids = {**world.ids, "fresh": fresh, "key": new_key()}
    headers = _fill(case.headers, ids)
    kwargs: dict[str, Any] = {"params": case.params}
    if case.raw is not None:
        raw = case.raw.encode() if isinstance(case.raw, str) else case.raw
        kwargs["data"] = _fill(raw.decode("latin-1"), ids).encode("latin-1")
        headers = {**JSON, **headers}
    elif case.body is not None:
        kwargs["data"] = json.dumps(_fill(case.body, ids)).encode()
        headers = {**JSON, **headers}
    return shop.request(case.method, _fill(case.path, ids), admin=case.admin, headers=headers, **kwargs)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=c.marks) for c in CASES])
def test_a_bad_request_is_refused_and_changes_nothing(shop: Shop, world: World, case: Case):
    # Given the world as it was, and a SKU nobody has
    fresh = random_sku("BAD")

    # When the bad request is sent
    response = _send(shop, case, world, fresh)

    # Then it is refused with the expected status, as a problem
    statuses = case.status if isinstance(case.status, tuple) else (case.status,)
    assert response.status_code in statuses, (response.status_code, response.text[:500])
    assert_problem(response, response.status_code)
    # And nothing changed (a GET cannot change anything: test_nothing_changed_at_all checks them together)
    if case.method != "GET":
        now = _state(shop, world)
        changed = now != world.state
        world.state = now  # so that one faulty case does not fail every later one
        assert not changed, "the world changed"
    if FRESH in repr((case.body, case.raw, case.path)):
        assert_problem(shop.request("GET", f"/admin/inventory/{fresh}", admin=True), 404)


def test_nothing_changed_at_all(shop: Shop, world: World):
    """After the whole table: stock exactly as set, the cart as filled, the product as created."""
    ids = world.ids
    assert shop.stock(ids["sku"]) == {"sku": ids["sku"], "on_hand": 10, "reserved": 0, "available": 10}
    assert shop.stock(ids["other_sku"]) == {"sku": ids["other_sku"], "on_hand": 10, "reserved": 1, "available": 9}
    assert _state(shop, world) == world.initial
    assert shop.cart(ids["cart"])["status"] == "open"


def test_the_table_covers_every_write_route():
    written = {(c.method, c.path) for c in CASES if c.body is not None or c.raw is not None}
    for route in [("POST", "/carts"), ("POST", ITEMS), ("PATCH", LINE), ("POST", CHECKOUT),
                  ("POST", "/admin/products"), ("PATCH", ADMIN_PRODUCT), ("PUT", STOCK), ("POST", ADJUST)]:
        assert route in written, route


# --- a refused request leaves no trace ---------------------------------------------------------------

def test_a_refused_checkout_does_not_use_up_its_idempotency_key(shop: Shop):
    # Given a cart, and a checkout refused as invalid under key K
    product = shop.create_product(900, stock=3)
    sku = product["variants"][0]["sku"]
    cart = shop.cart_with((sku, 1))
    key = new_key()
    assert_problem(shop.checkout(cart["id"], key=key, body=address(country="USA")), 422)

    # When the corrected checkout is sent under the same key
    placed = shop.checkout(cart["id"], key=key, expect=201)

    # Then it goes through
    assert placed.json()["order"]["status"] == "pending_payment"
    assert shop.stock(sku)["reserved"] == 1


# --- request ids -------------------------------------------------------------------------------------

@pytest.mark.parametrize("method,path,kwargs,status", [
    ("GET", "/health", {}, 200),
    ("POST", "/carts", {"json": {}}, 201),
    ("GET", f"/products/{fake_id('prod')}", {}, 404),
    ("POST", "/carts", {"data": b"{", "headers": JSON}, 400),
    ("POST", "/carts", {"json": {"x": 1}}, 422),
    ("POST", "/carts", {"json": {"x": "y" * BIG}}, 413),
    ("GET", "/admin/orders", {}, 401),
], ids=["ok", "created", "not-found", "malformed", "invalid", "too-large", "unauthenticated"])
def test_every_response_carries_a_request_id_and_echoes_the_callers(shop: Shop, method, path, kwargs, status):
    # When a request comes without a request id
    plain = shop.request(method, path, **kwargs)
    again = shop.request(method, path, **kwargs)

    # Then the answer carries a new one
    assert plain.status_code == status, plain.text[:300]
    assert plain.headers.get("X-Request-Id") and again.headers.get("X-Request-Id")
    assert plain.headers["X-Request-Id"] != again.headers["X-Request-Id"]

    # When it comes with one
    mine = f"e2e-{uuid.uuid4()}"
    headers = {**kwargs.pop("headers", {}), "X-Request-Id": mine}
    echoed = shop.request(method, path, headers=headers, **kwargs)

    # Then the same id comes back
    assert echoed.status_code == status
    assert echoed.headers.get("X-Request-Id") == mine


def test_a_request_id_that_is_not_safe_to_log_is_replaced(shop: Shop):
    for unsafe in ("a b", "x" * 500, "id\u00e9", "<script>"):
        response = shop.request("GET", "/health", headers={"X-Request-Id": unsafe.encode().decode("latin-1")})
        assert response.status_code == 200
        assert response.headers.get("X-Request-Id") and response.headers["X-Request-Id"] != unsafe
