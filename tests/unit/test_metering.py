"""What the dashboard counts, counted where it happens: each order status reached once per write, a failed
payment once per Stripe event applied, a webhook attempt that fails and a delivery given up."""
from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from chalicelib.domain.commands import AddToCart, PlaceOrder
from chalicelib.domain.orders import Address
from chalicelib.services import carts, inbound, lifecycle, metering
from chalicelib.services.checkout import place_order
from chalicelib.services.ports import InboundEvents, Meter
from tests.fakes import fake_context
from tests.integration.helpers import make_product, random_sku

TTL = timedelta(days=7)
ADDRESS = Address(name="Ada", line1="1 Main St", city="Springfield", postal_code="12345", country="US")


class RecordingMeter(Meter):
    def __init__(self):
        self.counts: Counter = Counter()

    def count(self, name, value=1):
        self.counts[name] += value


class MemoryInbound(InboundEvents):
    def __init__(self):
        self.events = {}

    def claim(self, event, *, now, until):
        held = self.events.get((event.source, event.id))
        if held is not None:
            return held
        self.events[(event.source, event.id)] = event
        return None

    def release(self, source, event_id):
        self.events.pop((source, event_id), None)

    def record(self, event):
        self.events[(event.source, event.id)] = event

    def get(self, source, event_id):
        return self.events.get((source, event_id))


@pytest.fixture
def mctx():
    return fake_context(meter=RecordingMeter(), inbound=MemoryInbound())


def _order(c):
    sku = random_sku()
    make_product(c, (sku, 1500), stock={sku: 5})
    cart = carts.create_cart(c, TTL).cart
    carts.add_item(AddToCart(cart.id, sku, 1), c, TTL)
    return place_order(PlaceOrder(cart.id, "k", "ada@example.com", ADDRESS), c).order


def test_a_paid_order_then_canceled_counts_one_of_each(mctx):
    order = _order(mctx)
    lifecycle.record_payment_status(order.id, "succeeded", mctx)
    lifecycle.await_shipment(order.id, "token-1", mctx)  # pays the order
    lifecycle.await_shipment(order.id, "token-1", mctx)  # a retried step writes nothing, counts nothing
    lifecycle.await_shipment(order.id, "token-2", mctx)  # entered again: stores the token, still paid

    lifecycle.cancel(order.id, mctx, reason="customer asked")

    assert mctx.meter.counts == Counter({"OrdersPaid": 1, "OrdersCanceled": 1})


def test_an_order_canceled_before_payment_counts_only_the_cancel(mctx):
    order = _order(mctx)

    lifecycle.compensate(order.id, mctx, error="PaymentTimeout")

    assert mctx.meter.counts == Counter({"OrdersCanceled": 1})


def _stripe_event(order, event_type):
    return {"id": f"evt_{event_type}", "type": event_type, "data": {"object": {
        "id": order.payment.payment_intent_id, "amount": order.total.amount, "currency": order.currency.lower(),
        "metadata": {"order_id": order.id}, "last_payment_error": {"message": "card declined"}}}}


def test_a_failed_payment_is_counted_when_applied_and_a_stray_one_is_not(mctx):
    order = _order(mctx)

    assert inbound.stripe_event(_stripe_event(order, "payment_intent.payment_failed"), mctx) == "processed"
    stray = _stripe_event(order, "payment_intent.payment_failed")
    stray["id"], stray["data"]["object"]["amount"] = "evt_stray", stray["data"]["object"]["amount"] + 1
    assert inbound.stripe_event(stray, mctx) == "ignored"

    assert mctx.meter.counts == Counter({"PaymentFailed": 1})


def test_without_a_meter_nothing_is_counted_and_nothing_fails():
    c = fake_context()
    order = _order(c)

    lifecycle.cancel(order.id, c, reason="customer asked")

    metering.count(c, "OrdersCanceled")  # no meter: a no-op
    assert c.meter is None


def test_the_status_metrics_are_the_names_the_dashboard_plots():
    assert metering.ORDERS_BY_STATUS["paid"] == "OrdersPaid"
    assert metering.ORDERS_BY_STATUS["canceled"] == "OrdersCanceled"
