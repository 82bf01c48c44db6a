"""The order's money record over HTTP: cancels, refunds and late payments, alone and racing each other,
always end with the order saying exactly what went back to the shopper."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tools.webhook import stripe_event

from .fixtures import money, shop_fixture  # noqa: F401
from .test_concurrency import _all_at_once
from .workflow_helpers import Receiver, eventually, pay, send_merchant, send_stripe, wait_status

ROUNDS = 20


def _stored(order_id):
    from chalicelib import wiring

    return wiring.context().orders.get(order_id)


def _orders(shop, n, *, price=1000, paid):
    """`n` orders of one unit each of a fresh SKU (stock 10 more than needed), paid or still pending."""
    product = shop.create_product(price, stock=n + 10)
    sku = product["variants"][0]["sku"]
    with ThreadPoolExecutor(max_workers=4) as pool:
        placed = list(pool.map(lambda _: shop.checkout(shop.cart_with((sku, 1))["id"], expect=201).json()["order"],
                               range(n)))
        if paid:
            for order in placed:
                pay(shop, order)
            list(pool.map(lambda o: wait_status(shop, o["id"], "paid"), placed))
    return placed, sku


def _balanced(order_id, total):
    """What the order says went back equals what the provider gave back, and that is everything paid. (A
    canceled order says its payment was refunded; a refunded one keeps the provider's `succeeded`.)"""
    stored = _stored(order_id)
    gone_back = sum(r.amount.amount for r in stored.refunds if r.status == "succeeded")
    pending = [r for r in stored.refunds if r.status == "pending"]
    payment = {"canceled": "refunded", "refunded": "succeeded"}.get(stored.status)
    if not pending and stored.refunded.amount == gone_back == total and stored.payment.status == payment:
        return stored
    return False, stored.status, stored.payment.status, stored.refunded, stored.refunds


def _gives_back(order_id, total):
    """Waits for the order to have given back exactly `total`; fails showing its money record."""
    try:
        return eventually(lambda: not isinstance(b := _balanced(order_id, total), tuple) and b, timeout=15,
                          what=f"order {order_id} to give back {total}")
    except AssertionError:
        raise AssertionError(_balanced(order_id, total)) from None


def test_cancelling_a_paid_order_records_the_refund_of_what_was_left(shop, stack):
    hook = Receiver()
    endpoint = shop.request("POST", "/admin/webhook-endpoints", admin=True,
                            json={"url": hook.url, "events": ["order.canceled"]}).json()
    try:
        (order,), sku = _orders(shop, 1, paid=True)
        partial = shop.request("POST", f"/admin/orders/{order['id']}/refunds", admin=True,
                               json={"amount": money(400), "reason": "scratched"})
        assert partial.status_code == 201, partial.text
        canceled = shop.request("POST", f"/admin/orders/{order['id']}/cancel", admin=True, json={})
        assert canceled.status_code == 200, canceled.text
        body = canceled.json()
        assert body["status"] == "canceled" and body["payment"]["status"] == "refunded"
        assert body["refunded"] == money(1000), "the 400 refunded before and the 600 the cancel gave back"
        stored = _balanced(order["id"], 1000)
        assert not isinstance(stored, tuple), stored
        assert sorted(r.amount.amount for r in stored.refunds) == [400, 600]
        event = eventually(lambda: [e for e in hook.events("order.canceled")
                                    if e["data"]["order"]["id"] == order["id"]], what="the order.canceled webhook")[0]
        assert event["data"]["order"]["refunded"] == money(1000)
        assert event["data"]["order"]["payment"]["status"] == "refunded"
        assert shop.stock(sku)["reserved"] == 0
    finally:
        shop.request("DELETE", f"/admin/webhook-endpoints/{endpoint['id']}", admin=True)
        hook.close()


def _in_turn(orders, race) -> None:
    """One race per order; five orders race at a time (each its own race, on its own order)."""
    with ThreadPoolExecutor(max_workers=5) as pool:
        list(pool.map(race, orders))


def test_a_full_refund_racing_a_cancel_gives_back_the_payment_once(shop, stack):
    def race(order):
        path = f"/admin/orders/{order['id']}"
        refund, cancel = _all_at_once([
            lambda: shop.request("POST", f"{path}/refunds", admin=True, json={}),
            lambda: shop.request("POST", f"{path}/cancel", admin=True, json={})])
        assert refund.status_code in (201, 409, 422), refund.text
        assert cancel.status_code in (200, 409), cancel.text
        assert _gives_back(order["id"], 1000).status in ("canceled", "refunded")

    _in_turn(_orders(shop, ROUNDS, paid=True)[0], race)


def test_a_cancel_racing_a_late_payment_and_a_merchant_cancel_gives_the_payment_back(shop, stack):
    def race(order):
        succeeded = stripe_event("payment_intent.succeeded", order)
        answers = _all_at_once([
            lambda: shop.request("POST", f"/admin/orders/{order['id']}/cancel", admin=True, json={}),
            lambda: send_stripe(shop, succeeded),
            lambda: send_merchant(shop, {"id": f"evt_cancel_{order['id']}", "type": "order.cancel_requested",
                                         "data": {"order_id": order["id"], "reason": "race"}})])
        assert [a.status_code for a in answers] == [200, 200, 202], [a.text for a in answers]
        assert _gives_back(order["id"], 1000).status == "canceled"

    orders, sku = _orders(shop, ROUNDS, paid=False)
    _in_turn(orders, race)
    eventually(lambda: shop.stock(sku) == {"sku": sku, "on_hand": ROUNDS + 10, "reserved": 0,
                                           "available": ROUNDS + 10}, what="every unit back on the shelf")


@pytest.mark.parametrize("dashboard, refusal", [(1000, "charge_already_refunded"), (400, "")],
                         ids=["full", "partial"])
def test_a_cancel_after_a_dashboard_refund_ends_with_what_the_provider_refunded(shop, stack, dashboard, refusal):
    """The merchant refunded in Stripe's dashboard, then canceled in Shelf before the refund's event came:
    Stripe refuses the cancel's refund (the charge is refunded already, or less is left than asked), and the
    event books what Stripe refunded and gives back the rest. Nothing stays pending."""
    from chalicelib import wiring
    from chalicelib.services.ports import PaymentGatewayError

    (order,), sku = _orders(shop, 1, paid=True)
    on_hand = shop.stock(sku)["on_hand"]
    wiring.context().payments.fail_next("refund", PaymentGatewayError(
        "stripe refund failed: InvalidRequestError: refused", retryable=False, code=refusal))
    canceled = shop.request("POST", f"/admin/orders/{order['id']}/cancel", admin=True, json={})
    assert canceled.status_code == 200, canceled.text
    assert canceled.json()["status"] == "canceled"
    assert send_stripe(shop, stripe_event("charge.refunded", order, amount_refunded=dashboard)).status_code == 200
    stored = _gives_back(order["id"], 1000)
    gone_back = sorted(r.amount.amount for r in stored.refunds if r.status == "succeeded")
    assert gone_back == ([1000] if dashboard == 1000 else [400, 600]), stored.refunds
    assert shop.stock(sku)["on_hand"] == on_hand + 1, "restocked once, by the cancel"


def test_a_merchant_refund_refused_after_the_order_was_canceled_is_given_back_by_the_cancel(shop, stack):
    """A merchant refund of part is booked, its provider call times out (it stays pending), the order is
    canceled (its refund of the rest leaves that part out), and Stripe then refuses the merchant refund for a
    reason of its own: the cancel gives that part back too, and the whole payment is back, once."""
    from chalicelib import wiring
    from chalicelib.services.ports import PaymentGatewayError

    (order,), sku = _orders(shop, 1, paid=True)
    on_hand = shop.stock(sku)["on_hand"]
    payments = wiring.context().payments
    payments.fail_next("refund", PaymentGatewayError("stripe refund failed: APIConnectionError", retryable=True))
    path = f"/admin/orders/{order['id']}"
    refund = shop.request("POST", f"{path}/refunds", admin=True, json={"amount": money(400), "reason": "damaged"})
    assert refund.status_code == 503, refund.text
    payments.fail_next("refund", PaymentGatewayError("stripe refund failed: InvalidRequestError: insufficient "
                                                     "balance", retryable=False, code="balance_insufficient"))
    canceled = shop.request("POST", f"{path}/cancel", admin=True, json={})
    assert canceled.status_code == 200, canceled.text
    stored = _gives_back(order["id"], 1000)
    assert sorted((r.amount.amount, r.status) for r in stored.refunds) == [
        (400, "failed"), (400, "succeeded"), (600, "succeeded")], stored.refunds
    assert shop.stock(sku)["on_hand"] == on_hand + 1, "restocked once, by the cancel"


def test_a_cancel_whose_refund_stripe_refuses_answers_200_and_shows_the_payment_still_captured(shop, stack):
    """A disputed charge: Stripe refuses the cancel's refund. The order is canceled and restocked, its refund
    `failed` (nothing pending), its payment still `succeeded`; it is logged and counted for ops to resolve."""
    from chalicelib import wiring
    from chalicelib.services.ports import PaymentGatewayError

    (order,), sku = _orders(shop, 1, paid=True)
    on_hand = shop.stock(sku)["on_hand"]
    wiring.context().payments.fail_next("refund", PaymentGatewayError(
        "stripe refund failed: InvalidRequestError: charged back", retryable=False, code="charge_disputed"))
    canceled = shop.request("POST", f"/admin/orders/{order['id']}/cancel", admin=True, json={})
    assert canceled.status_code == 200, canceled.text
    body = canceled.json()
    assert body["status"] == "canceled" and body["payment"]["status"] == "succeeded", body
    assert [r["status"] for r in body["refunds"]] == ["failed"], body["refunds"]
    assert body["refunded"]["amount"] == 0
    assert shop.stock(sku)["on_hand"] == on_hand + 1
