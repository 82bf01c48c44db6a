"""An authorization the provider no longer holds (it expired uncaptured, after about 7 days at Stripe, or was
canceled in the dashboard): a paid order that was only authorized is canceled, its goods restocked, instead
of staying paid with nothing to capture and its shipment notices failing until they are parked."""
from __future__ import annotations

from dataclasses import replace

import pytest

from chalicelib.domain.errors import InvalidTransition
from chalicelib.domain.inventory import StockLevel
from chalicelib.services import inbound, lifecycle
from chalicelib.services.ports import PaymentGatewayError
from tests.unit.test_lifecycle import _authorized, ctx_level, lctx  # noqa: F401 - the fixture

UNEXPECTED_STATE = "payment_intent_unexpected_state"


def test_the_provider_canceling_an_authorization_fails_the_waiting_step_so_the_workflow_compensates(lctx):  # noqa: F811
    order, _ = _authorized(lctx)
    lifecycle.record_payment_status(order.id, "canceled", lctx)
    assert ("fail", "ship-token", "PaymentDeclined") in lctx.workflow.calls


def test_with_no_workflow_waiting_the_order_is_canceled_and_restocked_once(lctx):  # noqa: F811
    order, sku = _authorized(lctx)
    lctx.workflow.fail = lambda *a: False  # the step is gone (say, between two shipment waits)
    after = lifecycle.record_payment_status(order.id, "canceled", lctx)
    assert after.status == "canceled" and after.payment.status == "canceled"
    assert ctx_level(lctx, sku) == StockLevel(5, 0)
    lifecycle.record_payment_status(order.id, "canceled", lctx)  # Stripe's retry
    assert ctx_level(lctx, sku) == StockLevel(5, 0)


def test_the_cancel_event_of_a_release_in_flight_leaves_the_refund_to_finish(lctx):  # noqa: F811
    order, sku = _authorized(lctx)
    # A full refund of an authorization releases it (voids the intent); the provider's event for that void
    # arrives before the refund's answer is recorded.
    cancel_intent = lctx.payments.cancel_intent

    def void_and_hear_of_it(intent_id, key):
        cancel_intent(intent_id, key)
        lifecycle.record_payment_status(order.id, "canceled", lctx)

    lctx.payments.cancel_intent = void_and_hear_of_it
    after, _ = lifecycle.refund(order.id, None, "changed my mind", lctx)
    assert after.status == "refunded" and not [c for c in lctx.workflow.calls if c[-1] == "PaymentDeclined"]
    assert ctx_level(lctx, sku) == StockLevel(5, 0)


def test_a_capture_refused_because_the_authorization_is_gone_cancels_like_a_decline(lctx):  # noqa: F811
    order, _ = _authorized(lctx)
    lctx.payments.fail_next("capture", PaymentGatewayError(
        "stripe capture failed: this PaymentIntent could not be captured because it has a status of canceled",
        retryable=False, code=UNEXPECTED_STATE))
    with pytest.raises(InvalidTransition):
        lifecycle.record_shipment(order.id, "UPS", "1Z", lctx)
    assert ("fail", "ship-token", "PaymentDeclined") in lctx.workflow.calls


def test_stripe_s_event_for_it_is_recorded_as_processed(lctx):  # noqa: F811
    from tests.unit.test_inbound_dedupe import LeasedInbound
    from tests.unit.test_stripe_event_order import _event

    c = replace(lctx, inbound=LeasedInbound())
    order, _ = _authorized(c)
    assert inbound.stripe_event(_event(order, "evt_void", "payment_intent.canceled"), c) == "processed"
    assert ("fail", "ship-token", "PaymentDeclined") in c.workflow.calls


def test_an_authorization_canceled_before_the_order_was_paid_fails_the_payment_step(lctx):  # noqa: F811
    from tests.unit.test_lifecycle import _order

    order, sku = _order(lctx)
    lifecycle.await_payment(order.id, "pay-token", lctx)
    lifecycle.record_payment_status(order.id, "requires_capture", lctx)
    # Canceled at the provider before the workflow made the order paid: the order is not paid as authorized.
    after = lifecycle.record_payment_status(order.id, "canceled", lctx)
    assert after.payment.status == "canceled" and ("fail", "pay-token", "PaymentCanceled") in lctx.workflow.calls
    with pytest.raises(InvalidTransition):
        lifecycle.await_shipment(order.id, "ship-token", lctx)  # a step already past the payment fails too
    assert lifecycle.compensate(order.id, lctx, error="PaymentCanceled") == "canceled"
    assert ctx_level(lctx, sku) == StockLevel(5, 0)
