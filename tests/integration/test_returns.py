"""Returns against DynamoDB (moto), stood up from infra/template.yaml: receiving is one transaction with the
stock, and however receives race or fail, a return is restocked once and refunded once."""
from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta

import pytest

from chalicelib.adapters.dynamo_returns import ReturnModel
from chalicelib.adapters.models import SkuModel
from chalicelib.adapters.payments import SimulatedGateway
from chalicelib.domain.commands import AddToCart, PlaceOrder
from chalicelib.domain.errors import Conflict, Invalid, InvalidTransition
from chalicelib.domain.ids import new_id, rfc3339
from chalicelib.domain.money import Money
from chalicelib.domain.orders import Address
from chalicelib.domain.returns import ReturnQuantityExceeded
from chalicelib.services import carts, lifecycle, returns
from chalicelib.services.checkout import place_order
from chalicelib.services.ports import PaymentGatewayError, StaleWrite

from .helpers import make_product, random_sku

TTL = timedelta(days=7)
ADDRESS = Address(name="Ada", line1="1 Main St", city="Springfield", postal_code="12345", country="US")
ADMIN = "sk_it_returns"


class CountingGateway(SimulatedGateway):
    def __init__(self):
        super().__init__()
        self.refund_keys: list[str] = []
        self.metadata: list[dict] = []
        self._calls = threading.Lock()

    def refund(self, payment_intent_id, amount, idempotency_key, *, metadata=None):
        refund_id = super().refund(payment_intent_id, amount, idempotency_key, metadata=metadata)
        with self._calls:
            self.refund_keys.append(idempotency_key)
            self.metadata.append(metadata)
        return refund_id


@pytest.fixture
def atomic_calls(monkeypatch):
    """moto's backends have no locks of their own: two calls running at once can interleave inside moto and
    lose a write (a failed transaction even restores a snapshot of the tables taken before the other one
    committed). AWS makes each call atomic; one lock around each call gives in-process moto the same
    guarantee, as the local stack's server does (local/moto_server.py)."""
    from moto.core.botocore_stubber import BotocoreStubber

    lock, handle = threading.RLock(), BotocoreStubber.process_request

    def serialized(self, request):
        with lock:
            return handle(self, request)

    monkeypatch.setattr(BotocoreStubber, "process_request", serialized)


@pytest.fixture
def rctx(ctx, monkeypatch, atomic_calls):
    from chalicelib.services import auth

    auth.register_key(ADMIN, "it", frozenset({"*"}), ctx)
    monkeypatch.setattr(returns, "_observers", [])
    return replace(ctx, payments=CountingGateway(), workflow=None)


def _shipped(ctx, qty=2, price=1001, stock=5):
    sku = random_sku("RET")
    make_product(ctx, (sku, price), stock={sku: stock})
    cart = carts.create_cart(ctx, TTL).cart
    carts.add_item(AddToCart(cart.id, sku, qty), ctx, TTL)
    order = place_order(PlaceOrder(cart.id, "k", "ada@example.com", ADDRESS), ctx).order
    lifecycle.record_payment_status(order.id, "succeeded", ctx)
    lifecycle.await_shipment(order.id, "shipment-token", ctx)  # the workflow's step that makes it paid
    return lifecycle.record_shipment(order.id, "UPS", "1Z", ctx), sku


def _approved(ctx, order, sku, qty=1):
    ret = returns.request_return(order.id, ADMIN, [(sku, qty)], "too small", ctx, window_days=30)
    return returns.approve(ret.id, ctx)


def test_receive_restocks_and_refunds_the_share_and_a_full_return_refunds_the_order(rctx):
    order, sku = _shipped(rctx)
    before = rctx.inventory.get(sku).on_hand
    first = returns.receive(_approved(rctx, order, sku).id, rctx)
    assert first.status == "refunded" and first.refunded == Money(1001, "USD"), "half of 2002, half up"
    assert rctx.inventory.get(sku).on_hand == before + 1
    after = rctx.orders.get(order.id)
    assert after.status == "shipped" and after.refunded == Money(1001, "USD")
    assert [r.id for r in after.refunds] == [first.refund_id]
    assert rctx.payments.metadata[0] == {"order_id": order.id, "refund_id": first.refund_id, "return_id": first.id,
                                         "reason": "too_small"}, "what the provider's dashboard shows"
    second = returns.receive(_approved(rctx, order, sku).id, rctx)
    assert second.refunded == Money(1001, "USD"), "the second unit refunds exactly what is left of the line"
    final = rctx.orders.get(order.id)
    assert final.status == "refunded" and final.refunded == final.total
    with pytest.raises(Conflict):  # a refunded order: nothing is left to return
        returns.request_return(order.id, ADMIN, [(sku, 1)], "again", rctx, window_days=30)


def test_the_return_and_the_stock_are_written_together_or_not_at_all(rctx):
    order, sku = _shipped(rctx)
    approved = _approved(rctx, order, sku)
    on_hand = rctx.inventory.get(sku).on_hand

    stale = replace(approved.receive(approved.updated_at), version=approved.version - 1)
    with pytest.raises(StaleWrite):
        rctx.returns.save(stale, restock=True)
    assert rctx.inventory.get(sku).on_hand == on_hand, "a stale return moved no stock"

    SkuModel(sku).update(actions=[SkuModel.on_hand.set(-1)])  # a shelf the restock's condition refuses
    with pytest.raises(Conflict):
        returns.receive(approved.id, rctx)
    assert returns.get_return(approved.id, rctx).status == "approved", "no receipt without its stock"
    SkuModel(sku).update(actions=[SkuModel.on_hand.set(on_hand)])
    assert returns.receive(approved.id, rctx).status == "refunded"
    assert rctx.inventory.get(sku).on_hand == on_hand + 1


def test_the_return_and_its_ledger_are_written_over_their_versions_or_not_at_all(rctx):
    order, sku = _shipped(rctx)
    ret = returns.request_return(order.id, ADMIN, [(sku, 1)], "too small", rctx, window_days=30)
    ledger = rctx.returns.ledger(order.id)
    assert ledger.held == {sku: 1}
    stale = replace(ledger, version=ledger.version - 1)

    another = replace(ret, id=new_id("ret"), version=0)
    with pytest.raises(StaleWrite):
        rctx.returns.add(another, stale.changed(another, +1))
    assert rctx.returns.get(another.id) is None, "no return without its ledger"
    with pytest.raises(StaleWrite):
        rctx.returns.add(replace(ret, version=0), ledger.changed(ret, +1))
    assert rctx.returns.ledger(order.id) == ledger, "a return is added once, ledger and all"

    with pytest.raises(StaleWrite):
        rctx.returns.save(ret.reject("worn", ret.updated_at), ledger=stale.changed(ret, -1))
    with pytest.raises(StaleWrite):
        rctx.returns.save(another.reject("worn", ret.updated_at), ledger=ledger.changed(another, -1))
    kept = rctx.returns.get(ret.id)
    assert (kept.status, kept.version) == ("requested", ret.version), "no rejection without its ledger"
    assert rctx.returns.ledger(order.id) == ledger and rctx.returns.get(another.id) is None

    rejected = rctx.returns.save(ret.reject("worn", ret.updated_at), ledger=ledger.changed(ret, -1))
    assert rejected.status == "rejected" and rctx.returns.ledger(order.id).held == {}


def test_two_concurrent_receives_restock_once_and_refund_once(rctx):
    order, sku = _shipped(rctx, qty=3, price=999)
    approved = _approved(rctx, order, sku, qty=2)
    on_hand = rctx.inventory.get(sku).on_hand
    barrier, results, errors = threading.Barrier(2), [], []

    def receive():
        barrier.wait()
        try:
            results.append(returns.receive(approved.id, rctx))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=receive) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert rctx.inventory.get(sku).on_hand == on_hand + 2, "one restock"
    final = returns.get_return(approved.id, rctx)
    assert final.status == "refunded" and final.refunded == Money(1998, "USD")
    refunded = rctx.orders.get(order.id)
    assert len(refunded.refunds) == 1 and refunded.refunded == Money(1998, "USD"), "one refund booked"
    assert len(set(rctx.payments.refund_keys)) == 1, "the provider was asked for one refund (perhaps twice)"
    assert [h.status for h in final.history] == ["requested", "approved", "received", "refunded"]


def test_a_provider_failure_after_the_restock_is_retried_to_one_refund(rctx):
    order, sku = _shipped(rctx)
    approved = _approved(rctx, order, sku)
    on_hand = rctx.inventory.get(sku).on_hand
    queued = []
    rctx.payments.fail_next("refund", PaymentGatewayError("provider down", retryable=True))
    answered = returns.receive(approved.id, rctx, retry_later=queued.append)
    assert answered.status == "received" and queued == [approved.id]
    booked = rctx.orders.get(order.id)
    assert booked.refunded == Money(1001, "USD") and booked.refunds[0].status == "pending", "booked before asking"

    rctx.payments.fail_next("refund", PaymentGatewayError("card closed", retryable=False))
    with pytest.raises(PaymentGatewayError):
        returns.receive(approved.id, rctx)  # a queue's retry: no retry_later, the error goes back to the queue
    unbooked = rctx.orders.get(order.id)
    assert unbooked.refunded == Money(0, "USD") and unbooked.refunds[0].status == "failed"

    done = returns.receive(approved.id, rctx)
    assert done.status == "refunded" and rctx.inventory.get(sku).on_hand == on_hand + 1
    final = rctx.orders.get(order.id)
    assert final.refunded == Money(1001, "USD") and [r.status for r in final.refunds] == ["failed", "succeeded"]
    assert done.refund_id == final.refunds[1].id
    assert returns.receive(approved.id, rctx) == done, "receiving a refunded return changes nothing"


def test_receive_before_approval_and_after_rejection_is_refused(rctx):
    order, sku = _shipped(rctx)
    ret = returns.request_return(order.id, ADMIN, [(sku, 2)], "changed mind", rctx, window_days=30)
    with pytest.raises(InvalidTransition):
        returns.receive(ret.id, rctx)
    rejected = returns.reject(ret.id, "worn", rctx)
    assert rejected.status == "rejected"
    with pytest.raises(InvalidTransition):
        returns.receive(ret.id, rctx)
    again = returns.request_return(order.id, ADMIN, [(sku, 2)], "changed mind", rctx, window_days=30)
    assert again.lines[0].quantity == 2, "a rejection gives its units back"


def test_racing_requests_cannot_both_take_the_last_units(rctx):
    order, sku = _shipped(rctx, qty=1)
    barrier, outcomes = threading.Barrier(4), []

    def ask():
        barrier.wait()
        try:
            outcomes.append(returns.request_return(order.id, ADMIN, [(sku, 1)], "damaged", rctx, window_days=30))
        except ReturnQuantityExceeded as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sum(1 for o in outcomes if not isinstance(o, Exception)) == 1, outcomes
    assert len(list(ReturnModel.by_order.query(order.id))) == 1


def test_a_return_left_received_by_a_dead_receiver_is_queued_again_by_the_schedule(rctx):
    order, sku = _shipped(rctx)
    approved = _approved(rctx, order, sku)
    rctx.payments.fail_next("refund", PaymentGatewayError("timeout", retryable=True))
    with pytest.raises(PaymentGatewayError):
        returns.receive(approved.id, rctx)  # as if the receiver died before queuing its retry
    queued = []
    assert returns.finish_stalled(rctx, older_than_seconds=3600, retry=queued.append) == 0, "not stalled yet"
    assert returns.finish_stalled(rctx, older_than_seconds=0, retry=queued.append) >= 1
    assert approved.id in queued
    assert returns.receive(approved.id, rctx).status == "refunded"
    assert rctx.orders.get(order.id).refunded == Money(1001, "USD")


def test_listings_page_newest_first_over_the_shards_and_by_status(rctx):
    order, sku = _shipped(rctx, qty=5)
    made = [returns.request_return(order.id, ADMIN, [(sku, 1)], "too large", rctx, window_days=30).id
            for _ in range(5)]
    returns.approve(made[1], rctx)
    seen, cursor = [], None
    while True:
        page = returns.list_returns(rctx, status=None, limit=2, cursor=cursor)
        seen += [r.id for r in page.items]
        cursor = page.next_cursor
        if not cursor:
            break
    newest_first = sorted(made, key=lambda i: (rfc3339(returns.get_return(i, rctx).created_at), i), reverse=True)
    assert seen == newest_first, "newest first (by the second, then by id), each once"
    assert [r.id for r in returns.list_returns(rctx, status="approved", limit=10, cursor=None).items] == [made[1]]
    assert [r.id for r in returns.returns_of_order(order.id, ADMIN, rctx)] == newest_first
    with pytest.raises(Invalid):
        returns.list_returns(rctx, status="requested", limit=2, cursor=page_cursor(rctx))


def page_cursor(rctx):
    return returns.list_returns(rctx, status=None, limit=1, cursor=None).next_cursor
