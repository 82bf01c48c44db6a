"""Shipping, tax and discount codes over HTTP, through the local stack: the priced checkout, a code that
cannot be over-redeemed, each reason a code does not apply, and the merchant's bad input."""
from __future__ import annotations

import secrets
import threading
from datetime import datetime, timedelta, timezone

import pytest
import requests

from tests.e2e.fixtures import CHECKOUT_BODY, Shop, assert_problem, money, random_sku, shop_fixture  # noqa: F401
from tests.e2e.workflow_helpers import admin_order, pay, send_merchant, wait_status

DE = {"name": "Grace Hopper", "line1": "Unter den Linden 1", "city": "Berlin", "postal_code": "10117",
      "country": "DE"}


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _ok(response: requests.Response, status: int = 200) -> dict:
    assert response.status_code == status, (response.request.method, response.request.url, response.status_code,
                                            response.text[:800])
    return response.json() if response.text else {}


def _product(shop: Shop, price: int, weight_grams: int = 0, stock: int = 20) -> str:
    sku = random_sku("PRICE")
    body = {"title": f"Priced {secrets.token_hex(3)}", "variants": [
        {"sku": sku, "title": "one", "price": money(price), "weight_grams": weight_grams}]}
    product = _ok(shop.request("POST", "/admin/products", admin=True, json=body), 201)
    assert product["variants"][0]["weight_grams"] == weight_grams
    shop.set_stock(sku, stock)
    return sku


def _method(shop: Shop, **body) -> dict:
    return _ok(shop.request("POST", "/admin/shipping-methods", admin=True, json=body), 201)


def _code(shop: Shop, **body) -> str:
    code = f"E2E{secrets.token_hex(4).upper()}"
    created = _ok(shop.request("POST", "/admin/discounts", admin=True, json={"code": code.lower(), **body}), 201)
    assert created["code"] == code and created["times_used"] == 0 and created["active"] is True
    return code


def _apply(shop: Shop, cart_id: str, code: str) -> requests.Response:
    return shop.request("PUT", f"/carts/{cart_id}/discount", json={"code": code})


def _discount(shop: Shop, code: str) -> dict:
    return _ok(shop.request("GET", f"/admin/discounts/{code}", admin=True))


def test_a_whole_order_to_a_taxed_country_with_a_code_and_a_weighted_method(shop: Shop):
    # Given 600 g goods at 25.00, a per-kg method and a flat one to DE, 19 % tax on goods and shipping, a 10 % code
    sku = _product(shop, 2500, weight_grams=600)
    standard = _method(shop, name="Standard", countries=["DE", "AT"], price=money(490), per_kg=money(150),
                       min_days=2, max_days=4)
    express = _method(shop, name="Express", countries=["DE"], price=money(1500), min_days=1, max_days=1)
    _ok(shop.request("PUT", "/admin/tax-rates/DE", admin=True, json={"rate_bps": 1900}))
    code = _code(shop, kind="percentage", percent_bps=1000)
    cart = shop.cart_with((sku, 3))

    # The options for DE are priced for this cart: 1.8 kg is two started kilograms
    options = _ok(shop.request("GET", f"/carts/{cart['id']}/shipping-options", params={"country": "DE"}))["items"]
    prices = {o["id"]: o["price"]["amount"] for o in options}
    assert prices == {standard["id"]: 490 + 2 * 150, express["id"]: 1500}

    # When the shopper sets the destination and the code, the cart shows the final total before paying
    _ok(shop.request("PUT", f"/carts/{cart['id']}/shipping",
                     json={"shipping_address": DE, "shipping_method": standard["id"]}))
    cart = _ok(_apply(shop, cart["id"], code.lower()))
    assert cart["discount"] == {"code": code, "amount": money(750)}
    assert cart["shipping"] == {"method_id": standard["id"], "name": "Standard", "price": money(790)}
    # goods: (7500 - 750) * 19 % = 1282.5 -> 1283; shipping: 790 * 19 % = 150.1 -> 150
    assert cart["lines"][0]["discount"] == money(750) and cart["lines"][0]["tax"] == money(1283)
    assert (cart["subtotal"], cart["discount_total"], cart["shipping_total"], cart["tax_total"], cart["total"]) == (
        money(7500), money(750), money(790), money(1433), money(8973))
    assert cart["prices_include_tax"] is False

    # And checks out with only an email (address and method come from the cart)
    placed = _ok(shop.checkout(cart["id"], body={"email": "grace@example.com"}), 201)
    order = placed["order"]
    assert order["total"] == money(8973) and order["tax_total"] == money(1433)
    assert order["shipping"]["method_id"] == standard["id"] and order["discount"]["code"] == code
    assert order["shipping_address"]["country"] == "DE"
    assert placed["payment"]["provider"] != "none"
    assert _discount(shop, code)["times_used"] == 1

    # Then a payment event for the subtotal alone changes nothing; one for exactly the total pays the order
    short = dict(order, total=money(7500))
    pay(shop, short)
    assert admin_order(shop, order["id"])["status"] == "pending_payment"
    pay(shop, order)
    paid = wait_status(shop, order["id"], "paid")
    assert paid["total"] == money(8973) and paid["lines"][0]["tax"] == money(1283)
    listed = next(o for o in shop.orders() if o["id"] == order["id"])
    assert listed["discount_total"] == money(750) and listed["shipping_total"] == money(790)

    # And refunds never exceed the total
    refund = shop.request("POST", f"/admin/orders/{order['id']}/refunds", admin=True,
                          json={"amount": money(8974)})
    assert_problem(refund, 422)


def test_ten_checkouts_of_a_three_use_code_redeem_it_three_times(shop: Shop):
    sku = _product(shop, 1000, stock=20)
    code = _code(shop, kind="fixed", amount=money(100), usage_limit=3)
    carts = []
    for _ in range(10):
        cart = shop.cart_with((sku, 1))
        _ok(_apply(shop, cart["id"], code))
        carts.append(cart)
    barrier = threading.Barrier(len(carts))
    answers: list = [None] * len(carts)

    def checkout(i: int) -> None:
        barrier.wait(timeout=30)
        answers[i] = shop.checkout(carts[i]["id"], body=dict(CHECKOUT_BODY, email=f"rush{i}@example.com"))

    threads = [threading.Thread(target=checkout, args=(i,), daemon=True) for i in range(len(carts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] * 3 + [409] * 7, [(a.status_code, a.text[:200]) for a in answers]
    for refused in (a for a in answers if a.status_code == 409):
        assert_problem(refused, 409, "discount_exhausted")
    assert all(a.json()["order"]["total"] == money(900) for a in answers if a.status_code == 201)
    assert shop.stock(sku)["reserved"] == 3
    assert _discount(shop, code)["times_used"] == 3


def test_a_canceled_order_gives_its_use_back(shop: Shop):
    sku = _product(shop, 1000, stock=5)
    code = _code(shop, kind="percentage", percent_bps=500, usage_limit=1, once_per_email=True)
    cart = shop.cart_with((sku, 2))
    _ok(_apply(shop, cart["id"], code))
    order = _ok(shop.checkout(cart["id"]), 201)["order"]
    assert _discount(shop, code)["times_used"] == 1 and shop.stock(sku)["reserved"] == 2
    _ok(shop.request("POST", f"/admin/orders/{order['id']}/cancel", admin=True, json={}))
    assert _discount(shop, code)["times_used"] == 0 and shop.stock(sku)["reserved"] == 0
    again = shop.cart_with((sku, 1))
    _ok(_apply(shop, again["id"], code))
    _ok(shop.checkout(again["id"]), 201)  # the same email may use it again


def test_each_reason_a_code_does_not_apply(shop: Shop):
    sku = _product(shop, 1000)
    now = datetime.now(timezone.utc)
    inactive = _code(shop, kind="free_shipping")
    _ok(shop.request("DELETE", f"/admin/discounts/{inactive}", admin=True), 204)
    later = _code(shop, kind="free_shipping", starts_at=_iso(now + timedelta(days=1)))
    expired = _code(shop, kind="free_shipping", starts_at=_iso(now - timedelta(days=2)),
                    ends_at=_iso(now - timedelta(days=1)))
    used_up = _code(shop, kind="free_shipping", usage_limit=1)
    first = shop.cart_with((sku, 1))
    _ok(_apply(shop, first["id"], used_up))
    _ok(shop.checkout(first["id"]), 201)
    big_spender = _code(shop, kind="percentage", percent_bps=500, min_subtotal=money(5000))

    cart = shop.cart_with((sku, 2))
    for code, why in [("NOPE" + secrets.token_hex(3).upper(), "there is no code"), (inactive, "no longer active"),
                      (later, "not valid yet"), (expired, "expired"), (used_up, "used up"),
                      (big_spender, "at least 5000")]:
        problem = assert_problem(_apply(shop, cart["id"], code), 422, "discount_invalid")
        assert why in problem["detail"], (code, problem)
    assert shop.cart(cart["id"]).get("discount") is None

    # Reaching the minimum makes it apply; removing it takes it off
    shop.add(cart["id"], sku, 3)
    assert _ok(_apply(shop, cart["id"], big_spender))["discount"]["amount"] == money(250)
    assert _ok(shop.request("DELETE", f"/carts/{cart['id']}/discount"))["discount"] is None


def test_shipping_is_required_where_offered_and_refused_where_not(shop: Shop):
    sku = _product(shop, 1000, stock=5)
    de_only = _method(shop, name="DE only", countries=["DE"], price=money(500))
    cart = shop.cart_with((sku, 1))

    required = shop.checkout(cart["id"], body={"email": "a@example.com", "shipping_address": DE})
    assert_problem(required, 422, "shipping_method_required")
    nowhere = shop.checkout(cart["id"], body={"email": "a@example.com", "shipping_address": CHECKOUT_BODY[
        "shipping_address"]})
    assert_problem(nowhere, 422, "shipping_unavailable")
    wrong = shop.checkout(cart["id"], body={**CHECKOUT_BODY, "shipping_method": de_only["id"]})
    assert_problem(wrong, 422, "shipping_unavailable")
    assert_problem(shop.request("PUT", f"/carts/{cart['id']}/shipping", json={
        "shipping_address": CHECKOUT_BODY["shipping_address"], "shipping_method": de_only["id"]}), 422,
        "shipping_unavailable")
    assert shop.stock(sku)["reserved"] == 0
    placed = _ok(shop.checkout(cart["id"], body={"email": "a@example.com", "shipping_address": DE,
                                                 "shipping_method": de_only["id"]}), 201)
    assert placed["order"]["total"] == money(1500)


def test_a_zero_total_is_paid_at_checkout_without_a_payment(shop: Shop):
    sku = _product(shop, 1200, stock=5)
    code = _code(shop, kind="fixed", amount=money(5000))
    cart = shop.cart_with((sku, 2))
    assert _ok(_apply(shop, cart["id"], code))["total"] == money(0)
    placed = _ok(shop.checkout(cart["id"]), 201)
    assert placed["payment"]["provider"] == "none" and placed["order"]["status"] == "paid"
    assert placed["order"]["discount_total"] == money(2400)
    level = shop.stock(sku)
    assert (level["on_hand"], level["reserved"]) == (3, 0)
    # Its workflow goes straight on to wait for shipment: the warehouse's notice ships it
    order_id = placed["order"]["id"]
    event = {"id": f"evt_ship_{order_id}", "type": "fulfillment.shipped",
             "data": {"order_id": order_id, "carrier": "UPS", "tracking_number": "1Z0"}}
    assert send_merchant(shop, event).status_code == 202
    shipped = wait_status(shop, order_id, "shipped", timeout=60)
    assert shipped["payment"]["provider"] == "none" and shipped["total"] == money(0)


def test_a_total_the_provider_cannot_charge_is_refused(shop: Shop):
    sku = _product(shop, 30, stock=5)
    cart = shop.cart_with((sku, 1))
    assert_problem(shop.checkout(cart["id"]), 422, "amount_out_of_range")
    assert shop.stock(sku)["reserved"] == 0 and shop.cart(cart["id"])["status"] == "open"


@pytest.mark.parametrize("path, method, body, status, field", [
    ("/admin/tax-rates/ZZ", "PUT", {"rate_bps": 100}, 422, "country"),
    ("/admin/tax-rates/DE", "PUT", {"rate_bps": 10001}, 422, "rate_bps"),
    ("/admin/tax-rates/DE", "PUT", {"rate_bps": -1}, 422, "rate_bps"),
    ("/admin/shipping-methods", "POST", {"name": "x", "countries": ["XX"], "price": money(1)}, 422, None),
    ("/admin/shipping-methods", "POST", {"name": "x", "countries": ["DE"], "price": money(-1)}, 422, None),
    ("/admin/shipping-methods", "POST", {"name": "x", "countries": ["DE"], "price": money(10**12)}, 422, None),
    ("/admin/shipping-methods", "POST", {"name": "x", "countries": ["DE"],
                                         "price": {"amount": 1, "currency": "EUR"}}, 422, "price.currency"),
    ("/admin/discounts", "POST", {"code": "PCT", "kind": "percentage", "percent_bps": 10001}, 422, None),
    ("/admin/discounts", "POST", {"code": "FIX", "kind": "fixed", "amount": {"amount": 5, "currency": "EUR"}},
     422, "amount.currency"),
    ("/admin/discounts", "POST", {"code": "WIN", "kind": "free_shipping", "starts_at": "2030-01-02T00:00:00Z",
                                  "ends_at": "2030-01-01T00:00:00Z"}, 422, "ends_at"),
])
def test_bad_pricing_input_is_a_problem_and_changes_nothing(shop: Shop, path, method, body, status, field):
    before = _ok(shop.request("GET", "/admin/shipping-methods", admin=True))["items"]
    problem = assert_problem(shop.request(method, path, admin=True, json=body), status)
    if field:
        assert any(e["field"] == field for e in problem.get("errors") or []), problem
    assert _ok(shop.request("GET", "/admin/shipping-methods", admin=True))["items"] == before
    assert _ok(shop.request("GET", "/admin/tax-rates", admin=True))["items"] == []


def test_a_code_is_unique_in_any_letter_case(shop: Shop):
    code = _code(shop, kind="free_shipping")
    again = shop.request("POST", "/admin/discounts", admin=True,
                         json={"code": code.swapcase(), "kind": "percentage", "percent_bps": 100})
    assert_problem(again, 409, "discount_code_taken")
    assert _discount(shop, code)["kind"] == "free_shipping"


# Schemathesis over the pricing operations is tests/e2e/test_openapi_contract.py, with every check: it
# covers every operation of /openapi.json, these included.
