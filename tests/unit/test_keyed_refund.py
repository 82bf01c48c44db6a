"""A refund named by its caller (a return's) on the order's one refund path: booked once, carried out with one
idempotency key however often it runs, left booked for the next run while the provider may still succeed."""
from __future__ import annotations

import pytest

from chalicelib.domain.money import Money
from chalicelib.services import lifecycle
from chalicelib.services.ports import PaymentGatewayError
from tests.unit.test_lifecycle import _paid, lctx  # noqa: F401 - the fixture


def test_a_keyed_refund_runs_twice_and_is_booked_once(lctx):  # noqa: F811
    order, _ = _paid(lctx)
    _, first = lifecycle.refund(order.id, Money(400, "USD"), "return", lctx, refund_id="re_return_0")
    order, again = lifecycle.refund(order.id, Money(400, "USD"), "return", lctx, refund_id="re_return_0")
    assert first == again and again.status == "succeeded"
    assert order.refunded == Money(400, "USD") and len(order.refunds) == 1
    assert [c for c in lctx.payments.calls if c[0] == "refund"] == [("refund", 400, f"{order.id}:re_return_0")]


def test_a_passing_provider_failure_leaves_the_keyed_refund_booked_for_the_next_run(lctx):  # noqa: F811
    order, _ = _paid(lctx)
    lctx.payments.fail_next("refund", PaymentGatewayError("timeout", retryable=True))
    with pytest.raises(PaymentGatewayError):
        lifecycle.refund(order.id, Money(400, "USD"), "return", lctx, refund_id="re_r")
    booked = lctx.orders.get(order.id)
    assert booked.refunded == Money(400, "USD") and booked.refunds[0].status == "pending"
    order, done = lifecycle.refund(order.id, Money(400, "USD"), "return", lctx, refund_id="re_r")
    assert done.status == "succeeded" and order.refunded == Money(400, "USD")
    keys = {c[2] for c in lctx.payments.calls if c[0] == "refund"}
    assert keys == {f"{order.id}:re_r"}, "asked again with the same key, never a second refund"


def test_at_most_caps_the_refund_at_what_is_left_and_books_nothing_when_nothing_is(lctx):  # noqa: F811
    order, _ = _paid(lctx)
    lifecycle.refund(order.id, Money(1800, "USD"), "by hand", lctx)
    order, capped = lifecycle.refund(order.id, Money(500, "USD"), "return", lctx, refund_id="re_a", at_most=True)
    assert capped.amount == Money(200, "USD") and order.refunded == order.total and order.status == "refunded"
    order, none = lifecycle.refund(order.id, Money(500, "USD"), "return", lctx, refund_id="re_b", at_most=True)
    assert none is None and len(order.refunds) == 2


def test_a_return_refund_carries_its_metadata_to_stripe():
    from tests.unit.test_stripe_gateway import gateway

    gw, http = gateway((200, {"id": "re_1", "object": "refund", "amount": 700, "status": "succeeded"}))
    gw.refund("pi_1", Money(700, "USD"), "ord_1:re_x", metadata={"order_id": "ord_1", "return_id": "ret_1"})
    assert http.sent[0].form == {"payment_intent": "pi_1", "amount": "700", "metadata[order_id]": "ord_1",
                                 "metadata[return_id]": "ret_1"}


def test_a_merchant_refund_under_an_idempotency_key_is_answered_again_and_never_made_twice(lctx):  # noqa: F811
    from chalicelib.domain.errors import IdempotencyKeyReused

    order, _ = _paid(lctx)
    lctx.payments.fail_next("refund", PaymentGatewayError("timeout", retryable=True))
    with pytest.raises(PaymentGatewayError):
        lifecycle.keyed_refund(order.id, "erp-77", Money(300, "USD"), "damaged", lctx)
    assert lctx.orders.get(order.id).refunds[0].status == "pending", "booked: the provider may have refunded"
    _, done = lifecycle.keyed_refund(order.id, "erp-77", Money(300, "USD"), "damaged", lctx)
    order, again = lifecycle.keyed_refund(order.id, "erp-77", Money(300, "USD"), "damaged", lctx)
    assert done == again and again.status == "succeeded"
    assert order.refunded == Money(300, "USD") and len(order.refunds) == 1
    assert len({c[2] for c in lctx.payments.calls if c[0] == "refund"}) == 1
    with pytest.raises(IdempotencyKeyReused):
        lifecycle.keyed_refund(order.id, "erp-77", Money(500, "USD"), "damaged", lctx)
    _, other = lifecycle.keyed_refund(order.id, "erp-78", Money(500, "USD"), "damaged", lctx)
    assert other.id != done.id and lctx.orders.get(order.id).refunded == Money(800, "USD")


def test_a_key_whose_refund_was_refused_asks_for_a_new_key(lctx):  # noqa: F811
    from chalicelib.domain.errors import Conflict

    order, _ = _paid(lctx)
    lctx.payments.fail_next("refund", PaymentGatewayError("card closed", retryable=False))
    with pytest.raises(PaymentGatewayError):
        lifecycle.keyed_refund(order.id, "erp-9", Money(300, "USD"), "damaged", lctx)
    with pytest.raises(Conflict, match="new key"):
        lifecycle.keyed_refund(order.id, "erp-9", Money(300, "USD"), "damaged", lctx)
    assert lctx.orders.get(order.id).refunded == Money(0, "USD")
