"""A merchant refunds a charge in the Stripe dashboard, and the order is canceled in Shelf: every ordering of
(dashboard refund, its charge.refunded event, the cancel) ends with the order's record equal to what the
provider refunded, no refund pending, and the goods back on the shelf once. The provider here keeps a
charge's refunded total and refuses refunds as Stripe does: `charge_already_refunded` once the whole charge
went back, and an amount larger than what is left."""
from __future__ import annotations

import pytest

from chalicelib.domain.errors import EventTooEarly, InvalidTransition
from chalicelib.domain.inventory import StockLevel
from chalicelib.domain.money import Money
from chalicelib.services import lifecycle
from chalicelib.services.order_writes import update
from chalicelib.services.ports import PaymentGatewayError
from tests.fakes import fake_context
from tests.unit.test_external_refunds import _after_first_read
from tests.unit.test_lifecycle import RecordingGateway, RecordingNotifier, RecordingWorkflow, _paid


class ChargeGateway(RecordingGateway):
    """A provider with one captured charge per intent: it refunds at most what is left of it, and answers an
    idempotency key it already carried out with the same refund."""

    def __init__(self):
        super().__init__()
        self.charged: dict[str, int] = {}
        self.refunded: dict[str, int] = {}
        self.done: dict[str, str] = {}
        self.during_refund = None  # runs once inside the next refund call, before the provider answers

    def dashboard_refund(self, intent: str, amount: int) -> int:
        assert self.refunded.get(intent, 0) + amount <= self.charged[intent]
        self.refunded[intent] = self.refunded.get(intent, 0) + amount
        return self.refunded[intent]

    def refund(self, payment_intent_id, amount, idempotency_key, **kw):
        if self.during_refund is not None:
            hook, self.during_refund = self.during_refund, None
            hook()
        if idempotency_key in self.done:
            return self.done[idempotency_key]
        left = self.charged[payment_intent_id] - self.refunded.get(payment_intent_id, 0)
        if left == 0:
            raise PaymentGatewayError("stripe refund failed: InvalidRequestError: Charge ch_1 has already been "
                                      "refunded.", retryable=False, code="charge_already_refunded")
        if amount.amount > left:
            raise PaymentGatewayError(f"stripe refund failed: InvalidRequestError: Refund amount is greater than "
                                      f"unrefunded amount on charge ({left})", retryable=False, code="")
        self.refunded[payment_intent_id] = self.refunded.get(payment_intent_id, 0) + amount.amount
        self.done[idempotency_key] = super().refund(payment_intent_id, amount, idempotency_key, **kw)
        return self.done[idempotency_key]


@pytest.fixture
def ctx():
    return fake_context(workflow=RecordingWorkflow(), notifier=RecordingNotifier(), payments=ChargeGateway())


def _charged(ctx):
    order, sku = _paid(ctx, qty=2, stock=5)
    ctx.payments.charged[order.payment.payment_intent_id] = order.total.amount
    return order, sku


def _dashboard(ctx, order, amount=None) -> int:
    """A refund made in the dashboard; returns the charge's refunded total, as its charge.refunded carries."""
    return ctx.payments.dashboard_refund(order.payment.payment_intent_id,
                                         order.total.amount if amount is None else amount)


def _event(ctx, order, total):
    return lifecycle.record_external_refund(order.id, total, ctx)


def _matches_provider(ctx, order_id, sku):
    after = ctx.orders.get(order_id)
    provider = ctx.payments.refunded.get(after.payment.payment_intent_id, 0)
    states = [(r.amount.amount, r.status, r.reason) for r in after.refunds]
    assert not [r for r in after.refunds if r.status == "pending"], states
    assert after.refunded == Money(provider, after.currency), (provider, states)
    assert provider == after.total.amount, "canceled or refunded: everything went back"
    assert ctx.inventory.get(sku) == StockLevel(5, 0), "the goods are back on the shelf, once"
    return after


def test_dashboard_refund_then_cancel_then_its_event(ctx):
    order, sku = _charged(ctx)
    total = _dashboard(ctx, order)
    canceled = lifecycle.cancel(order.id, ctx, reason="merchant")  # the provider refuses: already refunded
    assert canceled.status == "canceled"
    _event(ctx, order, total)
    after = _matches_provider(ctx, order.id, sku)
    assert after.payment.status == "refunded"


def test_dashboard_refund_then_its_event_then_cancel(ctx):
    order, sku = _charged(ctx)
    total = _dashboard(ctx, order)
    _event(ctx, order, total)
    with pytest.raises(InvalidTransition):
        lifecycle.cancel(order.id, ctx, reason="merchant")
    assert lifecycle.compensate(order.id, ctx, error="States.Timeout") == "refunded"
    _matches_provider(ctx, order.id, sku)


def test_cancel_then_its_own_refund_event(ctx):
    order, sku = _charged(ctx)
    lifecycle.cancel(order.id, ctx, reason="merchant")
    _event(ctx, order, ctx.payments.refunded[order.payment.payment_intent_id])
    _matches_provider(ctx, order.id, sku)


def test_the_workflow_cancel_after_a_dashboard_refund(ctx):
    order, sku = _charged(ctx)
    total = _dashboard(ctx, order)
    assert lifecycle.compensate(order.id, ctx, error="States.Timeout") == "canceled"
    _event(ctx, order, total)
    _matches_provider(ctx, order.id, sku)


@pytest.mark.parametrize("part", [None, 300], ids=["full", "partial"])
def test_the_event_applied_while_the_cancel_asks_the_provider(ctx, part):
    order, sku = _charged(ctx)
    refunded = _dashboard(ctx, order, part)
    ctx.payments.during_refund = lambda: _event(ctx, order, refunded)
    lifecycle.cancel(order.id, ctx, reason="merchant")
    _matches_provider(ctx, order.id, sku)


def test_a_partial_dashboard_refund_then_cancel_then_its_event(ctx):
    order, sku = _charged(ctx)
    part = _dashboard(ctx, order, 300)
    lifecycle.cancel(order.id, ctx, reason="merchant")  # the provider refuses the whole amount: 300 went back
    _event(ctx, order, part)
    after = _matches_provider(ctx, order.id, sku)
    assert after.payment.status == "refunded"


def test_a_partial_dashboard_refund_and_its_event_then_cancel(ctx):
    order, sku = _charged(ctx)
    _event(ctx, order, _dashboard(ctx, order, 300))
    lifecycle.cancel(order.id, ctx, reason="merchant")
    _matches_provider(ctx, order.id, sku)


def test_a_partial_refund_event_delivered_twice_after_the_cancel(ctx):
    order, sku = _charged(ctx)
    first = _dashboard(ctx, order, 300)
    lifecycle.cancel(order.id, ctx, reason="merchant")
    _event(ctx, order, first)  # books 300 and gives back the rest
    _event(ctx, order, first)  # Stripe sends it again: nothing more
    _matches_provider(ctx, order.id, sku)


def test_an_event_that_finds_the_order_canceled_meanwhile_is_sent_back_until_the_cancel_refund_is_done(ctx):
    order, sku = _charged(ctx)
    part = _dashboard(ctx, order, 300)
    # The event reads the order paid; the cancel is written (its refund booked, not asked yet) before it books.
    _after_first_read(ctx, lambda: update(order.id, ctx, lambda o: o.cancel(ctx.clock())))
    with pytest.raises(EventTooEarly):
        _event(ctx, order, part)
    assert [r.status for r in ctx.orders.get(order.id).refunds] == ["pending"], "nothing booked beside it"
    lifecycle.cancel(order.id, ctx, reason="merchant")  # the cancel's own run: the provider refuses it
    _event(ctx, order, part)  # Stripe's retry
    _matches_provider(ctx, order.id, sku)


def test_an_event_whose_refund_of_the_rest_times_out_is_sent_back_and_finished_by_its_retry(ctx):
    order, sku = _charged(ctx)
    part = _dashboard(ctx, order, 300)
    lifecycle.cancel(order.id, ctx, reason="merchant")

    def timeout():
        raise PaymentGatewayError("stripe refund failed: APIConnectionError", retryable=True)

    ctx.payments.during_refund = timeout
    with pytest.raises(EventTooEarly):
        _event(ctx, order, part)
    assert sorted(r.status for r in ctx.orders.get(order.id).refunds) == ["failed", "pending", "succeeded"]
    _event(ctx, order, part)  # Stripe's retry asks again with the same key
    _matches_provider(ctx, order.id, sku)
