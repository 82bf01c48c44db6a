"""A refund the provider refuses on an order canceled meanwhile. A merchant refund refused for a reason of its
own (not the charge's) is un-booked, and the cancel gives back that amount too: the customer gets the whole
payment back, recorded, nothing pending, the goods back on the shelf once. A refusal of the cancel's own
refund (a disputed charge: the provider refuses every refund of it) leaves the payment captured on a canceled
order: that order is logged as an error and counted, for a person to resolve (docs/operations.md)."""
from __future__ import annotations

import json
from collections import Counter

import pytest

from chalicelib.domain.inventory import StockLevel
from chalicelib.domain.money import Money
from chalicelib.domain.orders import Refund
from chalicelib.services import lifecycle, metering
from chalicelib.services.order_writes import update
from chalicelib.services.ports import Meter, PaymentGatewayError
from tests.fakes import fake_context
from tests.unit.test_cancel_after_dashboard_refund import ChargeGateway, _charged
from tests.unit.test_lifecycle import RecordingNotifier, RecordingWorkflow


class RefusingGateway(ChargeGateway):
    """Refuses the refunds asked for under the keys in `refuse` (always the same answer for the same key, as
    Stripe answers a key it has seen), or every refund of a disputed intent."""

    def __init__(self):
        super().__init__()
        self.refuse: dict[str, str] = {}
        self.disputed: set[str] = set()

    def refund(self, payment_intent_id, amount, idempotency_key, **kw):
        if self.during_refund is not None:
            hook, self.during_refund = self.during_refund, None
            hook()
        if payment_intent_id in self.disputed:
            raise PaymentGatewayError("stripe refund failed: InvalidRequestError: Charge ch_1 has been charged "
                                      "back.", retryable=False, code="charge_disputed")
        if idempotency_key in self.refuse:
            raise PaymentGatewayError("stripe refund failed: InvalidRequestError: refused", retryable=False,
                                      code=self.refuse[idempotency_key])
        return super().refund(payment_intent_id, amount, idempotency_key, **kw)


class CountingMeter(Meter):
    def __init__(self):
        self.counts: Counter = Counter()

    def count(self, name, value=1):
        self.counts[name] += value


@pytest.fixture
def ctx():
    return fake_context(workflow=RecordingWorkflow(), notifier=RecordingNotifier(), payments=RefusingGateway(),
                        meter=CountingMeter())


def _all_back(ctx, order_id, sku):
    after = ctx.orders.get(order_id)
    provider = ctx.payments.refunded.get(after.payment.payment_intent_id, 0)
    states = [(r.amount.amount, r.status, r.reason) for r in after.refunds]
    assert after.status == "canceled"
    assert not [r for r in after.refunds if r.status == "pending"], states
    assert provider == after.total.amount, ("a canceled paid order gives back the whole payment", states)
    assert after.refunded == Money(provider, after.currency), (provider, states)
    assert after.payment.status == "refunded"
    assert ctx.inventory.get(sku) == StockLevel(5, 0), "the goods are back on the shelf, once"
    return after


def _merchant_refund_refused(ctx, order, during):
    key_of = {}

    def hook():
        pending = next(r for r in ctx.orders.get(order.id).refunds if r.status == "pending")
        key_of["key"] = f"{order.id}:{pending.id}"
        ctx.payments.refuse[key_of["key"]] = "balance_insufficient"
        during()

    ctx.payments.during_refund = hook
    with pytest.raises(PaymentGatewayError):
        lifecycle.refund(order.id, Money(300, order.currency), "damaged", ctx, merchant=True)


def test_a_merchant_refund_refused_after_a_cancel_was_written_is_given_back_by_the_cancel(ctx):
    order, sku = _charged(ctx)
    # The cancel is written (its refund of the rest booked) while the merchant's refund is at the provider.
    _merchant_refund_refused(ctx, order, lambda: update(order.id, ctx, lambda o: o.cancel(ctx.clock())))
    _all_back(ctx, order.id, sku)
    lifecycle.cancel(order.id, ctx, reason="merchant")  # the cancel's own run finds nothing more to do
    after = _all_back(ctx, order.id, sku)
    assert sorted(r.status for r in after.refunds) == ["failed", "succeeded", "succeeded"]
    assert not ctx.meter.counts[metering.CANCELED_REFUND_REFUSED]


def test_a_merchant_refund_refused_while_a_cancel_runs_is_given_back_by_the_cancel(ctx):
    order, sku = _charged(ctx)
    # The whole cancel runs meanwhile: it asks for the merchant's refund again (its key), and is refused too.
    _merchant_refund_refused(ctx, order, lambda: lifecycle.cancel(order.id, ctx, reason="merchant"))
    _all_back(ctx, order.id, sku)
    assert not ctx.meter.counts[metering.CANCELED_REFUND_REFUSED]


def test_a_merchant_refund_in_doubt_then_refused_after_a_cancel_is_given_back(ctx):
    order, sku = _charged(ctx)

    def timeout_then_cancel():
        update(order.id, ctx, lambda o: o.cancel(ctx.clock()))
        raise PaymentGatewayError("stripe refund failed: APIConnectionError", retryable=True)

    ctx.payments.during_refund = timeout_then_cancel
    with pytest.raises(PaymentGatewayError):
        lifecycle.refund(order.id, Money(300, order.currency), "damaged", ctx, merchant=True)
    merchant = next(r for r in ctx.orders.get(order.id).refunds if r.merchant)
    ctx.payments.refuse[f"{order.id}:{merchant.id}"] = "balance_insufficient"
    lifecycle.cancel(order.id, ctx, reason="merchant")  # asks for both; the merchant's is refused
    _all_back(ctx, order.id, sku)


@pytest.fixture
def logged(monkeypatch):
    """What the service logger writes, whatever stream it was given when first imported."""
    import io

    from chalicelib.observability import logger

    stream = io.StringIO()
    monkeypatch.setattr(logger.registered_handler, "stream", stream)
    return stream


def test_a_cancel_whose_refund_the_provider_refuses_is_logged_and_counted(ctx, logged):
    order, sku = _charged(ctx)
    ctx.payments.disputed.add(order.payment.payment_intent_id)
    canceled = lifecycle.cancel(order.id, ctx, reason="merchant")

    assert canceled.status == "canceled" and canceled.payment.status == "succeeded"
    assert [r.status for r in canceled.refunds] == ["failed"], "un-booked, nothing pending forever"
    assert canceled.refunded == Money(0, canceled.currency)
    assert ctx.inventory.get(sku) == StockLevel(5, 0)
    assert ctx.meter.counts[metering.CANCELED_REFUND_REFUSED] == 1
    lines = [json.loads(line) for line in logged.getvalue().splitlines() if line.startswith("{")]
    errors = [ln for ln in lines if ln.get("level") == "ERROR"]
    assert len(errors) == 1, lines
    assert errors[0]["order_id"] == order.id and errors[0]["code"] == "charge_disputed"
    assert errors[0]["captured_not_refunded"] == order.total.amount

    again = lifecycle.cancel(order.id, ctx, reason="merchant")  # asked again: nothing new is tried or logged
    assert again.refunds == canceled.refunds
    assert ctx.meter.counts[metering.CANCELED_REFUND_REFUSED] == 1


def test_a_merchant_refund_on_a_disputed_charge_canceled_meanwhile_ends_with_nothing_pending(ctx, logged):
    order, sku = _charged(ctx)
    ctx.payments.disputed.add(order.payment.payment_intent_id)
    with pytest.raises(PaymentGatewayError):
        lifecycle.refund(order.id, Money(300, order.currency), "damaged", ctx, merchant=True)
    ctx.payments.during_refund = None
    after = ctx.orders.get(order.id)
    assert after.status == "paid" and [r.status for r in after.refunds] == ["failed"]

    def cancel_meanwhile():
        update(order.id, ctx, lambda o: o.cancel(ctx.clock()))

    ctx.payments.during_refund = cancel_meanwhile
    with pytest.raises(PaymentGatewayError):
        lifecycle.refund(order.id, Money(300, order.currency), "damaged", ctx, merchant=True)
    after = ctx.orders.get(order.id)
    assert not [r for r in after.refunds if r.status == "pending"], "the loop of refusals ends"
    assert after.refunded == Money(0, after.currency) and after.payment.status == "succeeded"
    assert ctx.meter.counts[metering.CANCELED_REFUND_REFUSED] >= 1


def test_the_domain_books_a_refused_refund_again_only_when_the_cancel_left_it_out(ctx):
    order, _ = _charged(ctx)
    at = ctx.clock()
    booked = order.start_refund(Refund("re_m", Money(300, order.currency), "pending", "damaged", at,
                                                 merchant=True), at)
    canceled, _ = booked.cancel(at)
    merchant, own = canceled.refunds
    assert not canceled.is_return(merchant.id) and canceled.is_return(own.id)

    refused = canceled.fail_refund(merchant.id, at)
    assert [(r.amount.amount, r.status) for r in refused.refunds] == [(300, "failed"), (1700, "pending"),
                                                                       (300, "pending")]
    assert refused.refunded == order.total and refused.is_return(refused.refunds[2].id)

    own_refused = canceled.fail_refund(own.id, at)
    assert [r.status for r in own_refused.refunds] == ["pending", "failed"], "a refused return is not booked again"
    assert own_refused.refunded == Money(300, order.currency)

    paid_refused = booked.fail_refund("re_m", at)  # not canceled: un-booked only
    assert [r.status for r in paid_refused.refunds] == ["failed"] and paid_refused.refunded.amount == 0
