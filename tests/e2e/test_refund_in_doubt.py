"""A merchant refund the provider carried out but did not answer (a timeout), with Stripe's charge.refunded
event arriving before the request gives up, over HTTP: the order never says less went back than the
provider gave, and the schedule settles the refund with the same idempotency key."""
from __future__ import annotations

import pytest

from chalicelib import wiring
from chalicelib.services.ports import PaymentGatewayError
from tools.webhook import stripe_event

from .fixtures import money, shop_fixture  # noqa: F401
from .workflow_helpers import admin_order, eventually, pay, send_stripe, wait_status


def _paid(shop):
    product = shop.create_product(1000, stock=5)
    cart = shop.cart_with((product["variants"][0]["sku"], 1))
    order = shop.checkout(cart["id"], expect=201).json()["order"]
    pay(shop, order)
    wait_status(shop, order["id"], "paid")
    return order


@pytest.mark.parametrize("key", [None, "erp-41"], ids=["without_key", "with_key"])
def test_a_refund_the_provider_made_but_did_not_answer_is_booked_and_settled(shop, stack, monkeypatch, key):
    order = _paid(shop)
    gateway = type(wiring.context().payments)
    real, keys = gateway.refund, []

    def refunds_then_times_out(self, intent_id, amount, idempotency_key, **kw):
        keys.append(idempotency_key)
        provider_id = real(self, intent_id, amount, idempotency_key, **kw)
        if len(keys) == 1:  # the provider refunded; its event arrives before the call gives up
            event = stripe_event("charge.refunded", order, amount_refunded=amount.amount)
            assert send_stripe(shop, event).status_code == 200
            raise PaymentGatewayError("refund: the provider did not answer in time", retryable=True)
        return provider_id

    monkeypatch.setattr(gateway, "refund", refunds_then_times_out)
    headers = {"Idempotency-Key": key} if key else {}
    answer = shop.request("POST", f"/admin/orders/{order['id']}/refunds", admin=True, headers=headers,
                          json={"amount": money(400), "reason": "damaged"})
    assert answer.status_code == 503, answer.text
    after = admin_order(shop, order["id"])
    assert after["refunded"] == money(400), "the provider refunded 400: so does the record"
    assert [(r["amount"], r["status"]) for r in after["refunds"]] == [(money(400), "pending")]
    problem = answer.json()
    assert f"{after['refunds'][0]['id']} stays pending" in problem["detail"]
    assert "Retry-After" not in answer.headers, "retried without its key it would be another refund"

    from datetime import datetime, timedelta, timezone

    later = datetime.now(timezone.utc) + timedelta(days=1)
    assert order["id"] in wiring.context().orders.refunds_due(before=later, limit=1000), "in the sparse index"

    from local.runtime import Scheduler

    monkeypatch.setenv("SHELF_RECONCILE_AFTER_SECONDS", "0")

    def settled():
        Scheduler(stack.app, every=0).run_once()
        body = admin_order(shop, order["id"])
        return body["refunds"][0]["status"] == "succeeded" and body

    body = eventually(settled, timeout=30, what="the schedule to settle the refund")
    assert body["refunded"] == money(400) and body["status"] == "paid"
    assert order["id"] not in wiring.context().orders.refunds_due(before=later, limit=1000), "settled: out of it"
    assert keys == [f"{order['id']}:{body['refunds'][0]['id']}"] * 2, "asked again with the same key"
