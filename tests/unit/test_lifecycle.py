"""The order lifecycle's use cases on the in-memory repositories (held to the DynamoDB adapters' contract
in test_repository_contract), with the workflow engine replaced by a recorder: what each
step writes, what it signals, and that every path leaves stock and payment balanced."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from chalicelib.adapters.payments import SimulatedGateway
from chalicelib.domain.commands import AddToCart, PlaceOrder
from chalicelib.domain.errors import Invalid, InvalidTransition, OrderClosed
from chalicelib.domain.inventory import StockLevel
from chalicelib.domain.money import Money
from chalicelib.domain.orders import Address
from chalicelib.services import carts, lifecycle
from chalicelib.services.checkout import place_order
from chalicelib.services.ports import Event, Notifier, PaymentDeclined, PaymentGatewayError, Workflow
from tests.fakes import fake_context
from tests.integration.helpers import make_product, random_sku

TTL = timedelta(days=7)
ADDRESS = Address(name="Ada", line1="1 Main St", city="Springfield", postal_code="12345", country="US")


class RecordingWorkflow(Workflow):
    def __init__(self):
        self.calls = []

    def request_start(self, order_id, *, deliveries=()):
        self.calls.append(("request_start", order_id))

    def start(self, order_id, payload):
        self.calls.append(("start", order_id))

    def succeed(self, task_token, output):
        self.calls.append(("succeed", task_token))
        return True

    def fail(self, task_token, error, cause):
        self.calls.append(("fail", task_token, error))
        return True


class RecordingNotifier(Notifier):
    def __init__(self):
        self.events: list[Event] = []

    def publish(self, event):
        self.events.append(event)

    def types(self):
        return [e.type for e in self.events]


class RecordingGateway(SimulatedGateway):
    def __init__(self):
        super().__init__()
        self.calls = []

    def cancel_intent(self, payment_intent_id, idempotency_key):
        super().cancel_intent(payment_intent_id, idempotency_key)
        self.calls.append(("cancel", idempotency_key))

    def capture(self, payment_intent_id, idempotency_key):
        super().capture(payment_intent_id, idempotency_key)
        self.calls.append(("capture", idempotency_key))

    def refund(self, payment_intent_id, amount, idempotency_key, **kw):
        refund_id = super().refund(payment_intent_id, amount, idempotency_key, **kw)
        self.calls.append(("refund", amount.amount, idempotency_key))
        return refund_id


@pytest.fixture
def lctx():
    return fake_context(workflow=RecordingWorkflow(), notifier=RecordingNotifier(), payments=RecordingGateway())


def _order(c, qty=2, stock=5, price=1000):
    sku = random_sku()
    make_product(c, (sku, price), stock={sku: stock})
    cart = carts.create_cart(c, TTL).cart
    carts.add_item(AddToCart(cart.id, sku, qty), c, TTL)
    order = place_order(PlaceOrder(cart.id, "k", "ada@example.com", ADDRESS), c).order
    return order, sku


def _paid(c, **kw):
    order, sku = _order(c, **kw)
    lifecycle.record_payment_status(order.id, "succeeded", c)
    return lifecycle.await_shipment(order.id, "ship-token", c), sku


def test_a_payment_recorded_before_the_workflow_waits_resumes_it_when_it_does(lctx):
    order, _ = _order(lctx)
    lifecycle.record_payment_status(order.id, "succeeded", lctx)
    assert not [c for c in lctx.workflow.calls if c[0] == "succeed"], "no token yet: nothing to resume"
    lifecycle.await_payment(order.id, "token-1", lctx)
    assert ("succeed", "token-1") in lctx.workflow.calls


def test_a_workflow_waiting_first_is_resumed_by_the_payment(lctx):
    order, _ = _order(lctx)
    lifecycle.await_payment(order.id, "token-1", lctx)
    assert lctx.workflow.calls == []
    lifecycle.record_payment_status(order.id, "succeeded", lctx)
    assert lctx.workflow.calls == [("succeed", "token-1")]


def test_paying_commits_the_reserved_stock_once(lctx):
    order, sku = _paid(lctx)
    assert order.status == "paid" and ctx_level(lctx, sku) == StockLevel(3, 0)
    assert order.shipment_token == "ship-token", "paid and waiting for the shipment, in one write"
    again = lifecycle.await_shipment(order.id, "ship-token-2", lctx)  # a retried or re-entered step
    assert again.status == "paid" and again.shipment_token == "ship-token-2"
    assert ctx_level(lctx, sku) == StockLevel(3, 0)
    assert lctx.notifier.types().count("order.paid") == 2
    paid_ids = {e.id for e in lctx.notifier.events if e.type == "order.paid"}
    assert len(paid_ids) == 1, "a retry republishes the same event"


def ctx_level(c, sku):
    return c.inventory.get(sku)


def test_a_late_failure_never_moves_a_paid_order_back(lctx):
    order, _ = _paid(lctx)
    after = lifecycle.record_payment_status(order.id, "requires_payment_method", lctx)
    assert after.status == "paid" and after.payment.status == "succeeded"


def test_canceling_before_payment_releases_stock_and_cancels_the_intent(lctx):
    order, sku = _order(lctx)
    lifecycle.await_payment(order.id, "token-1", lctx)
    canceled = lifecycle.cancel(order.id, lctx, reason="merchant")
    assert canceled.status == "canceled" and canceled.payment.status == "canceled"
    assert ctx_level(lctx, sku) == StockLevel(5, 0)
    assert lctx.payments.calls == [("cancel", f"{order.id}:cancel")]
    assert ("fail", "token-1", "OrderClosed") in lctx.workflow.calls
    again = lifecycle.cancel(order.id, lctx, reason="again")
    assert again.status == "canceled" and ctx_level(lctx, sku) == StockLevel(5, 0)
    assert len(lctx.payments.calls) == 1


def test_canceling_a_paid_order_restocks_and_refunds_everything(lctx):
    order, sku = _paid(lctx)
    canceled = lifecycle.cancel(order.id, lctx, reason="merchant")
    assert canceled.status == "canceled" and canceled.payment.status == "refunded"
    assert ctx_level(lctx, sku) == StockLevel(5, 0)
    _assert_given_back(lctx, order.id, 2000)


def _assert_given_back(c, order_id, amount):
    """One refund of `amount`, booked on the order and asked of the provider under that refund's id."""
    stored = c.orders.get(order_id)
    (booked,) = stored.refunds
    assert booked.status == "succeeded" and booked.amount == Money(amount, "USD") == stored.refunded
    assert stored.payment.status == "refunded"
    assert c.payments.calls == [("refund", amount, f"{order_id}:{booked.id}")]


def test_a_payment_that_fails_to_cancel_is_finished_by_the_next_attempt(lctx):
    order, sku = _order(lctx)
    lctx.payments.fail_next("cancel_intent", PaymentGatewayError("down", retryable=True))
    with pytest.raises(PaymentGatewayError):
        lifecycle.compensate(order.id, lctx, error="States.Timeout")
    half = lctx.orders.get(order.id)
    assert half.status == "canceled" and half.payment.status != "canceled"
    assert ctx_level(lctx, sku) == StockLevel(5, 0)
    assert lifecycle.compensate(order.id, lctx, error="States.Timeout") == "canceled"
    assert lctx.orders.get(order.id).payment.status == "canceled"


def test_a_paid_but_never_marked_order_is_refunded_when_compensated(lctx):
    order, sku = _order(lctx)
    lifecycle.record_payment_status(order.id, "succeeded", lctx)
    assert lifecycle.compensate(order.id, lctx, error="MarkPaidFailed") == "canceled"
    assert ctx_level(lctx, sku) == StockLevel(5, 0)
    _assert_given_back(lctx, order.id, 2000)


def test_shipping_needs_a_paid_order_and_captures_an_authorized_payment(lctx):
    order, _ = _order(lctx)
    with pytest.raises(InvalidTransition):
        lifecycle.record_shipment(order.id, "UPS", "1Z", lctx)
    lifecycle.record_payment_status(order.id, "requires_capture", lctx)
    lifecycle.await_shipment(order.id, "ship-token", lctx)
    shipped = lifecycle.record_shipment(order.id, "UPS", "1Z", lctx)
    assert ("succeed", "ship-token") in lctx.workflow.calls
    assert shipped.status == "shipped" and shipped.fulfillment.tracking_number == "1Z"
    assert lifecycle.record_shipment(order.id, "UPS", "1Z", lctx).status == "shipped", "a repeat changes nothing"
    assert shipped.payment.status == "succeeded"
    assert lctx.payments.calls == [("capture", f"{order.id}:capture")]
    with pytest.raises(InvalidTransition):
        lifecycle.cancel(order.id, lctx, reason="too late")


def test_waiting_for_shipment_before_the_payment_settled_is_refused(lctx):
    order, sku = _order(lctx)
    with pytest.raises(InvalidTransition):
        lifecycle.await_shipment(order.id, "ship-token", lctx)
    assert lctx.orders.get(order.id).status == "pending_payment" and ctx_level(lctx, sku) == StockLevel(5, 2)


def test_a_shipment_recorded_before_the_step_waits_resumes_it_when_it_does(lctx):
    order, _ = _paid(lctx)
    lifecycle.record_shipment(order.id, "UPS", "1Z", lctx)
    lifecycle.await_shipment(order.id, "re-entered-token", lctx)  # e.g. entered again after a timeout
    assert ("succeed", "re-entered-token") in lctx.workflow.calls


def test_a_declined_capture_fails_the_waiting_step_so_the_workflow_compensates(lctx):
    order, _ = _authorized(lctx)
    lctx.payments.fail_next("capture", PaymentDeclined("expired", "expired_card"))
    with pytest.raises(InvalidTransition):
        lifecycle.record_shipment(order.id, "UPS", "1Z", lctx)
    assert ("fail", "ship-token", "PaymentDeclined") in lctx.workflow.calls
    assert lctx.orders.get(order.id).status == "paid", "the workflow's CancelOrder cancels it"


def test_waiting_for_shipment_on_a_canceled_order_ends_quietly(lctx):
    order, _ = _paid(lctx)
    lifecycle.cancel(order.id, lctx, reason="merchant")
    with pytest.raises(OrderClosed):
        lifecycle.await_shipment(order.id, "ship-token", lctx)


def test_partial_then_full_refund_and_never_more_than_paid(lctx):
    order, sku = _paid(lctx)
    order, first = lifecycle.refund(order.id, Money(500, "USD"), "scratched", lctx)
    assert order.status == "paid" and order.refunded == Money(500, "USD") and first.status == "succeeded"
    with pytest.raises(Invalid):
        lifecycle.refund(order.id, Money(1501, "USD"), "too much", lctx)
    order, rest = lifecycle.refund(order.id, None, "returned", lctx)
    assert rest.amount == Money(1500, "USD") and order.status == "refunded"
    assert ctx_level(lctx, sku) == StockLevel(5, 0), "unshipped goods go back on the shelf"
    assert "order.refunded" in lctx.notifier.types()
    with pytest.raises(InvalidTransition):
        lifecycle.refund(order.id, Money(1, "USD"), "more", lctx)


def test_a_refund_the_provider_refuses_is_not_booked(lctx):
    order, _ = _paid(lctx)
    lctx.payments.fail_next("refund", PaymentGatewayError("no", retryable=False))
    with pytest.raises(PaymentGatewayError):
        lifecycle.refund(order.id, Money(700, "USD"), "x", lctx)
    after = lctx.orders.get(order.id)
    assert after.refunded == Money(0, "USD") and after.refunds[-1].status == "failed"


def test_interleaved_refunds_cannot_exceed_the_payment(lctx, monkeypatch):
    """Two refunds of 1500 on a 2000 order read it at the same version. The other one writes first; ours
    then fails its version condition, reads again and is refused: 2000 paid never becomes 3000 refunded."""
    order, _ = _paid(lctx)
    orders_adapter = type(lctx.orders)
    real_save = orders_adapter.save
    raced = []

    def save_after_a_competitor(self, updated, moves=()):
        if not raced:
            raced.append(1)
            lifecycle.refund(order.id, Money(1500, "USD"), "competitor", lctx)
        return real_save(self, updated, moves)

    monkeypatch.setattr(orders_adapter, "save", save_after_a_competitor)
    with pytest.raises(Invalid):
        lifecycle.refund(order.id, Money(1500, "USD"), "ours", lctx)
    after = lctx.orders.get(order.id)
    assert after.refunded == Money(1500, "USD")
    assert [r.reason for r in after.refunds if r.status == "succeeded"] == ["competitor"]
    assert [c[0] for c in lctx.payments.calls] == ["refund"]


def test_low_stock_is_announced_when_checkout_takes_stock_below_the_threshold(lctx):
    order, sku = _order(lctx, qty=3, stock=5)
    lifecycle.after_checkout(order, lctx, threshold=2)
    low = [e for e in lctx.notifier.events if e.type == "inventory.low"]
    assert [e.data["sku"] for e in low] == [sku] and low[0].data["available"] == 2
    assert ("request_start", order.id) in lctx.workflow.calls
    assert lctx.notifier.types()[0] == "order.created"


def test_stalled_orders_are_asked_for_again(lctx):
    order, _ = _order(lctx)
    assert lifecycle.restart_stalled(lctx, older_than_seconds=3600) == 0
    later = replace(lctx, clock=lambda: lctx.clock() + timedelta(hours=2))
    assert lifecycle.restart_stalled(later, older_than_seconds=3600) == 1
    lifecycle.await_payment(order.id, "t", lctx)
    assert lifecycle.restart_stalled(later, older_than_seconds=3600) == 0


def test_low_stock_is_announced_once_per_crossing_of_the_threshold(lctx):
    from chalicelib.domain.commands import AdjustStock, SetStock
    from chalicelib.services import catalog

    sku = random_sku()
    make_product(lctx, (sku, 100), stock={sku: 50})

    def announced():
        return [e.data["available"] for e in lctx.notifier.events if e.type == "inventory.low"]

    catalog.set_stock(SetStock(sku, 40), lctx, threshold=5)
    assert announced() == []
    catalog.adjust_stock(AdjustStock(sku, -36, "counted"), lctx, threshold=5)
    assert announced() == [4]
    catalog.set_stock(SetStock(sku, 3), lctx, threshold=5)  # already below: no news
    assert announced() == [4]
    catalog.set_stock(SetStock(sku, 30), lctx, threshold=5)
    catalog.set_stock(SetStock(sku, 5), lctx, threshold=5)  # a new crossing
    assert announced() == [4, 5]


@pytest.mark.parametrize("late,expected,call", [("succeeded", "refunded", "refund"),
                                                ("requires_capture", "canceled", "cancel")])
def test_a_payment_arriving_after_the_order_was_canceled_goes_back(lctx, late, expected, call):
    order, sku = _order(lctx)
    lifecycle.compensate(order.id, lctx, error="States.Timeout")  # the payment timeout canceled it
    lctx.payments.calls.clear()
    after = lifecycle.record_payment_status(order.id, late, lctx)
    assert after.status == "canceled" and after.payment.status == expected
    assert [c[0] for c in lctx.payments.calls] == [call]
    assert ctx_level(lctx, sku) == StockLevel(5, 0)
    again = lifecycle.record_payment_status(order.id, late, lctx)
    assert again.payment.status == expected
    assert len({c[-1] for c in lctx.payments.calls}) == 1, "a repeat asks the provider with the same key"


def test_an_intent_that_succeeded_while_being_canceled_is_refunded_instead(lctx):
    order, sku = _order(lctx)
    lctx.payments.fail_next("cancel_intent", PaymentGatewayError(
        "already succeeded", retryable=False, code="payment_intent_unexpected_state"))
    canceled = lifecycle.compensate(order.id, lctx, error="States.Timeout")
    assert canceled == "canceled"
    assert lctx.orders.get(order.id).payment.status == "refunded"
    assert [c[0] for c in lctx.payments.calls] == ["refund"]
    assert ctx_level(lctx, sku) == StockLevel(5, 0)


def _authorized(c):
    order, sku = _order(c)
    lifecycle.record_payment_status(order.id, "requires_capture", c)
    lifecycle.await_shipment(order.id, "ship-token", c)
    c.payments.calls.clear()
    return order, sku


def test_refunding_an_authorization_releases_it_instead_of_refunding(lctx):
    order, sku = _authorized(lctx)
    with pytest.raises(InvalidTransition):
        lifecycle.refund(order.id, Money(500, "USD"), "part", lctx)
    after, released = lifecycle.refund(order.id, None, "changed my mind", lctx)
    assert lctx.payments.calls == [("cancel", f"{order.id}:{released.id}")], "the intent is voided, not refunded"
    assert after.status == "refunded" and after.payment.status == "canceled"
    assert released.status == "succeeded" and released.amount == after.refunded == Money(2000, "USD")
    assert ctx_level(lctx, sku) == StockLevel(5, 0)


def test_canceling_an_authorization_voids_it(lctx):
    order, sku = _authorized(lctx)
    canceled = lifecycle.cancel(order.id, lctx, reason="merchant")
    assert lctx.payments.calls == [("cancel", f"{order.id}:cancel")]
    assert canceled.payment.status == "canceled" and canceled.refunded == Money(0, "USD")
    assert ctx_level(lctx, sku) == StockLevel(5, 0)


def test_a_refund_racing_a_cancel_is_finished_by_whichever_comes_second(lctx, monkeypatch):
    """The refund books its amount; before the provider answers it, the order is canceled. The cancel
    finishes that refund (same key), and books nothing more: the provider gives back the payment once."""
    order, _ = _paid(lctx)
    gateway = type(lctx.payments)
    real_refund = gateway.refund
    raced = []

    def refund_after_a_cancel(self, intent, amount, key):
        if not raced:
            raced.append(key)
            lifecycle.cancel(order.id, lctx, reason="race")
        return real_refund(self, intent, amount, key)

    monkeypatch.setattr(gateway, "refund", refund_after_a_cancel)
    after, done = lifecycle.refund(order.id, None, "returned", lctx)
    assert after.status == "canceled" and after.payment.status == "refunded" and done.status == "succeeded"
    assert after.refunded == Money(2000, "USD") and len(after.refunds) == 1
    assert {c[-1] for c in lctx.payments.calls} == {f"{order.id}:{done.id}"}
