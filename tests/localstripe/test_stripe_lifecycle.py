"""The order lifecycle with the real Stripe adapter against localstripe: what Shelf records is checked
against what the provider holds."""
from __future__ import annotations

import json
import time

from tests.e2e.fixtures import money
from tests.e2e.workflow_helpers import admin_order, eventually, send_merchant, send_stripe, settled, wait_status


def _placed(shop, price=1250, quantity=2):
    product = shop.create_product(price, stock=5)
    cart = shop.cart_with((product["variants"][0]["sku"], quantity))
    placed = shop.checkout(cart["id"], expect=201).json()
    return placed["order"], placed["payment"]


def _paid(shop, emulator):
    order, payment = _placed(shop)
    assert emulator.pay(payment["payment_intent_id"])["status"] == "succeeded"
    return wait_status(shop, order["id"], "paid")  # localstripe's signed payment_intent.succeeded did it


def _ship(shop, order_id):
    event = {"id": f"evt_ship_{order_id}", "type": "fulfillment.shipped",
             "data": {"order_id": order_id, "carrier": "UPS", "tracking_number": "1Z999AA10123456784"}}
    assert send_merchant(shop, event).status_code == 202


def _authorized(shop, emulator, monkeypatch):
    """An authorize-only order, paid: the card is authorized, nothing captured yet."""
    monkeypatch.setenv("SHELF_CAPTURE_METHOD", "manual")
    order, payment = _placed(shop)
    intent_id = payment["payment_intent_id"]
    assert emulator.intent(intent_id)["capture_method"] == "manual"
    assert emulator.pay(intent_id)["status"] == "requires_capture"
    # localstripe sends no event for an authorization: send Stripe's, made of localstripe's own intent.
    intent = emulator.intent(intent_id)
    event = {"id": f"evt_auth{int(time.time() * 1000)}", "object": "event", "created": int(time.time()),
             "type": "payment_intent.amount_capturable_updated", "data": {"object": intent}}
    assert send_stripe(shop, json.loads(json.dumps(event))).status_code == 200
    paid = wait_status(shop, order["id"], "paid")
    assert paid["payment"]["status"] == "requires_capture"
    return paid


def test_a_checkout_creates_the_intent_at_stripe_and_paying_it_makes_the_order_paid(shop, emulator):
    order, payment = _placed(shop)
    assert payment["provider"] == "stripe" and payment["client_secret"].startswith(payment["payment_intent_id"])
    intent = emulator.intent(payment["payment_intent_id"])
    assert intent["amount"] == order["total"]["amount"] and intent["currency"] == "usd"
    assert intent["metadata"] == {"order_id": order["id"]} and intent["status"] == "requires_payment_method"
    emulator.pay(payment["payment_intent_id"])
    paid = wait_status(shop, order["id"], "paid")  # localstripe's signed payment_intent.succeeded did it
    assert paid["payment"]["status"] == "succeeded" and paid["refunded"] == money(0)


def test_cancelling_a_paid_order_refunds_all_at_stripe_and_records_it(shop, emulator):
    paid = _paid(shop, emulator)
    canceled = shop.request("POST", f"/admin/orders/{paid['id']}/cancel", admin=True, json={})
    assert canceled.status_code == 200, canceled.text
    order = settled(shop, paid["id"], "refunded")
    assert order["refunded"] == paid["total"]
    assert emulator.refunded(paid["payment"]["payment_intent_id"]) == paid["total"]["amount"]


def test_partial_then_full_refund_at_stripe_match_the_order(shop, emulator):
    paid = _paid(shop, emulator)
    intent_id, total = paid["payment"]["payment_intent_id"], paid["total"]["amount"]
    path = f"/admin/orders/{paid['id']}/refunds"
    first = shop.request("POST", path, admin=True, json={"amount": money(400), "reason": "scratched"})
    assert first.status_code == 201, first.text
    assert first.json()["order"]["refunded"] == money(400) and emulator.refunded(intent_id) == 400
    rest = shop.request("POST", path, admin=True, json={})
    assert rest.status_code == 201, rest.text
    assert rest.json()["refund"]["amount"] == money(total - 400)
    assert rest.json()["order"]["status"] == "refunded" and rest.json()["order"]["refunded"] == money(total)
    assert emulator.refunded(intent_id) == total
    assert shop.request("POST", path, admin=True, json={"amount": money(1)}).status_code == 409
    assert emulator.refunded(intent_id) == total


def test_an_authorized_payment_is_captured_when_the_order_ships(shop, emulator, monkeypatch):
    paid = _authorized(shop, emulator, monkeypatch)
    intent_id = paid["payment"]["payment_intent_id"]
    _ship(shop, paid["id"])
    shipped = eventually(lambda: (o := admin_order(shop, paid["id"]))["status"] == "shipped"
                         and o["payment"]["status"] == "succeeded" and o, timeout=45, what="shipped and captured")
    assert emulator.intent(intent_id)["status"] == "succeeded"
    assert shipped["refunded"] == money(0) and emulator.refunded(intent_id) == 0


def test_cancelling_an_authorized_order_voids_the_authorization(shop, emulator, monkeypatch):
    paid = _authorized(shop, emulator, monkeypatch)
    intent_id = paid["payment"]["payment_intent_id"]
    assert shop.request("POST", f"/admin/orders/{paid['id']}/cancel", admin=True, json={}).status_code == 200
    order = settled(shop, paid["id"], "canceled")
    assert order["refunded"] == money(0)
    assert emulator.intent(intent_id)["status"] == "canceled" and emulator.refunded(intent_id) == 0


def test_refunding_an_authorized_order_releases_the_authorization(shop, emulator, monkeypatch):
    paid = _authorized(shop, emulator, monkeypatch)
    intent_id = paid["payment"]["payment_intent_id"]
    response = shop.request("POST", f"/admin/orders/{paid['id']}/refunds", admin=True, json={})
    assert response.status_code in (201, 409), response.text
    eventually(lambda: emulator.intent(intent_id)["status"] == "canceled", timeout=30, what="the void at Stripe")
    assert emulator.refunded(intent_id) == 0


def test_cancelling_an_unpaid_order_cancels_the_intent_at_stripe(shop, emulator):
    order, payment = _placed(shop)
    assert shop.request("POST", f"/admin/orders/{order['id']}/cancel", admin=True, json={}).status_code == 200
    wait_status(shop, order["id"], "canceled")
    # The intent was canceled at Stripe, so the shopper cannot pay it any more.
    assert emulator.intent(payment["payment_intent_id"])["status"] == "canceled"


def test_a_cancel_racing_a_full_refund_leaves_the_record_equal_to_what_stripe_gave_back(shop, emulator):
    from concurrent.futures import ThreadPoolExecutor

    orders = [_paid(shop, emulator) for _ in range(5)]

    def race(paid):
        with ThreadPoolExecutor(2) as pool:
            cancel = pool.submit(shop.request, "POST", f"/admin/orders/{paid['id']}/cancel", admin=True, json={})
            refund = pool.submit(shop.request, "POST", f"/admin/orders/{paid['id']}/refunds", admin=True, json={})
            return cancel.result().status_code, refund.result().status_code

    with ThreadPoolExecutor(5) as pool:
        answers = list(pool.map(race, orders))
    for paid, (cancel, refund) in zip(orders, answers):
        assert cancel in (200, 409) and refund in (201, 409) and (cancel, refund) != (409, 409), (cancel, refund)
        intent_id, total = paid["payment"]["payment_intent_id"], paid["total"]["amount"]
        # Whichever won: canceled with its payment refunded, or refunded (the cancel then a 409).
        final = eventually(lambda: (o := admin_order(shop, paid["id"]))["status"] == "refunded" and o
                           or o["status"] == "canceled" and o["payment"]["status"] == "refunded" and o,
                           timeout=45, what="settled")
        assert final["refunded"] == money(total)
        assert emulator.refunded(intent_id) == total, "the provider gave back exactly the total, once"
