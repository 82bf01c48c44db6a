"""Stripe events arriving in another order than they happened (Stripe does not promise any order): the order
ends with the money record the provider holds, whichever event comes first."""
from __future__ import annotations

import pytest

from chalicelib.domain.errors import Conflict
from chalicelib.domain.money import Money
from chalicelib.services import inbound, lifecycle
from tests.fakes import fake_context
from tests.unit.test_inbound_dedupe import LeasedInbound
from tests.unit.test_lifecycle import RecordingGateway, RecordingNotifier, RecordingWorkflow, _order


@pytest.fixture
def c():
    return fake_context(inbound=LeasedInbound(), workflow=RecordingWorkflow(), notifier=RecordingNotifier(),
                        payments=RecordingGateway())


def _event(order, event_id, event_type, **fields):
    obj = {"id": order.payment.payment_intent_id, "amount": order.total.amount, "currency": "usd",
           "metadata": {"order_id": order.id}, **fields}
    if event_type.startswith("charge."):
        obj = {**obj, "id": "ch_1", "payment_intent": order.payment.payment_intent_id}
    return {"id": event_id, "type": event_type, "data": {"object": obj}}


def test_a_refund_reported_before_the_payment_is_booked_once_the_order_is_paid(c):
    order, _ = _order(c)
    # The shopper paid and the merchant refunded 300 in Stripe's dashboard; the refund's event comes first.
    refunded = _event(order, "evt_refund", "charge.refunded", amount_refunded=300)
    with pytest.raises(Conflict):
        inbound.stripe_event(refunded, c)  # sent back: Stripe sends it again later
    assert c.orders.get(order.id).refunds == (), "nothing booked on an order that has no payment yet"

    inbound.stripe_event(_event(order, "evt_paid", "payment_intent.succeeded"), c)
    lifecycle.await_shipment(order.id, "ship-token", c)
    assert inbound.stripe_event(refunded, c) == "processed"  # Stripe's retry
    after = c.orders.get(order.id)
    assert after.status == "paid" and after.refunded == Money(300, "USD")


def test_a_refund_reported_for_an_order_canceled_before_its_payment_arrived_is_done_with(c):
    order, _ = _order(c)
    lifecycle.cancel(order.id, c, reason="payment timeout")
    # Its intent is voided: a charge.refunded for it changes nothing and is not sent back.
    assert inbound.stripe_event(_event(order, "evt_refund", "charge.refunded", amount_refunded=300), c) \
        == "processed"
    assert c.orders.get(order.id).refunds == ()


def test_an_authorization_reported_after_the_capture_does_not_move_the_payment_back(c):
    order, _ = _order(c)
    # Authorized, then captured (by hand at the provider): the authorization's event comes last.
    inbound.stripe_event(_event(order, "evt_captured", "payment_intent.succeeded"), c)
    assert inbound.stripe_event(_event(order, "evt_authorized", "payment_intent.amount_capturable_updated"),
                                c) == "ignored"
    assert c.orders.get(order.id).payment.status == "succeeded"
    lifecycle.await_shipment(order.id, "ship-token", c)
    assert c.orders.get(order.id).payment.status == "succeeded", "paid as captured: nothing to capture at shipment"
