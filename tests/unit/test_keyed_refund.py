"""A refund named by its caller (a return's) on the order's one refund path: booked once, carried out with one
idempotency key however often it runs, left booked for the next run while the provider may still succeed."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from chalicelib.domain.money import Money
from chalicelib.services import lifecycle
from chalicelib.services.ports import PaymentGatewayError, RefundInDoubt
from tests.fakes import fake_context
from tests.unit.test_lifecycle import (  # noqa: F401 - the fixture
    RecordingGateway,
    RecordingNotifier,
    RecordingWorkflow,
    _paid,
    lctx,
)


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


class _RefundsThenTimesOut(RecordingGateway):
    """The provider refunds, its `charge.refunded` webhook is recorded, and only then does the call time out:
    the order in which an un-booked refund was lost."""

    def __init__(self):
        super().__init__()
        self.ctx, self.armed = None, True

    def refund(self, payment_intent_id, amount, idempotency_key):
        refund_id = super().refund(payment_intent_id, amount, idempotency_key)
        if self.armed:
            self.armed = False
            order_id = idempotency_key.split(":")[0]
            lifecycle.record_external_refund(order_id, amount.amount, self.ctx)
            raise PaymentGatewayError("timeout", retryable=True)
        return refund_id


def _later(ctx, seconds):
    now = ctx.clock()
    return replace(ctx, clock=lambda: now + timedelta(seconds=seconds))


@pytest.mark.parametrize("key", [None, "erp-5"])
def test_a_merchant_refund_the_provider_made_but_did_not_answer_is_never_lost(key):
    gateway = _RefundsThenTimesOut()
    ctx = gateway.ctx = fake_context(workflow=RecordingWorkflow(), notifier=RecordingNotifier(), payments=gateway)
    order, _ = _paid(ctx)
    with pytest.raises(RefundInDoubt) as raised:
        lifecycle.keyed_refund(order.id, key, Money(400, "USD"), "damaged", ctx)
    booked = ctx.orders.get(order.id)
    assert booked.refunded == Money(400, "USD"), "the provider refunded 400: the record says so"
    assert [(r.id, r.status) for r in booked.refunds] == [(raised.value.refund_id, "pending")]

    assert lifecycle.settle_refunds_in_doubt(ctx, older_than_seconds=120) == {"succeeded": 0, "failed": 0,
                                                                              "pending": 0, "stale": 0}, "too young"
    ctx = _later(ctx, 121)
    assert lifecycle.settle_refunds_in_doubt(ctx, older_than_seconds=120)["succeeded"] == 1
    order = ctx.orders.get(order.id)
    assert order.refunded == Money(400, "USD") and [r.status for r in order.refunds] == ["succeeded"]
    assert order.refund_due_since is None
    keys = [c[2] for c in ctx.payments.calls if c[0] == "refund"]
    assert keys == [f"{order.id}:{raised.value.refund_id}"] * 2, "asked again with the same key"
    assert lifecycle.settle_refunds_in_doubt(ctx, older_than_seconds=120)["succeeded"] == 0


def test_the_schedule_fails_a_refund_in_doubt_the_provider_refuses_and_keeps_one_still_unanswered(lctx):  # noqa: F811
    order, _ = _paid(lctx)
    lctx.payments.fail_next("refund", PaymentGatewayError("timeout", retryable=True), times=3)
    for _ in range(2):
        with pytest.raises(RefundInDoubt):
            lifecycle.keyed_refund(order.id, None, Money(300, "USD"), "damaged", lctx)
    assert lctx.orders.get(order.id).refunded == Money(600, "USD")
    lctx = _later(lctx, 300)
    # The first is asked again and times out once more; the second is answered.
    assert lifecycle.settle_refunds_in_doubt(lctx, older_than_seconds=120) == {"succeeded": 1, "failed": 0,
                                                                               "pending": 1, "stale": 0}
    lctx.payments.fail_next("refund", PaymentGatewayError("charge disputed", retryable=False))
    assert lifecycle.settle_refunds_in_doubt(lctx, older_than_seconds=120)["failed"] == 1
    order = lctx.orders.get(order.id)
    assert sorted(r.status for r in order.refunds) == ["failed", "succeeded"]
    assert order.refunded == Money(300, "USD") and order.refund_due_since is None


def test_a_return_refund_in_doubt_is_left_to_the_returns_schedule(lctx):  # noqa: F811
    order, _ = _paid(lctx)
    lctx.payments.fail_next("refund", PaymentGatewayError("timeout", retryable=True))
    with pytest.raises(RefundInDoubt):
        lifecycle.refund(order.id, Money(400, "USD"), "return", lctx, refund_id="re_r",
                         metadata={"return_id": "ret_1"})
    lctx = _later(lctx, 300)
    assert lifecycle.settle_refunds_in_doubt(lctx, older_than_seconds=120)["succeeded"] == 0
    assert lctx.orders.get(order.id).refunds[0].status == "pending", "asked again only with its own metadata"


def test_a_refund_in_doubt_past_the_providers_key_window_is_never_asked_for_again(lctx):  # noqa: F811
    order, _ = _paid(lctx)
    lctx.payments.fail_next("refund", PaymentGatewayError("timeout", retryable=True))
    with pytest.raises(RefundInDoubt):
        lifecycle.keyed_refund(order.id, None, Money(300, "USD"), "damaged", lctx)
    asked = len([c for c in lctx.payments.calls if c[0] == "refund"])
    lctx = _later(lctx, lifecycle.KEY_WINDOW_SECONDS + 1)
    assert lifecycle.settle_refunds_in_doubt(lctx, older_than_seconds=120) == {"succeeded": 0, "failed": 0,
                                                                               "pending": 0, "stale": 1}
    assert len([c for c in lctx.payments.calls if c[0] == "refund"]) == asked, "a forgotten key could refund twice"
    assert [r.status for r in lctx.orders.get(order.id).refunds] == ["pending"]
