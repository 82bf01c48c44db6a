"""Orders: placed as pending_payment; statuses only move forward; canceled and refunded are final."""
from __future__ import annotations

import dataclasses
import itertools
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.cart import PricedLine
from chalicelib.domain.errors import Conflict, Invalid, InvalidTransition
from chalicelib.domain.money import Money
from chalicelib.domain.orders import (
    CANCELED,
    PAID,
    PENDING_PAYMENT,
    REFUNDED,
    SHIPPED,
    STATUSES,
    Address,
    Order,
    OrderPlaced,
    OrderStatusChanged,
    Payment,
    Refund,
    StatusChange,
    can_transition,
)

T0 = datetime(2026, 11, 21, 10, 0, tzinfo=timezone.utc)

# The transitions API.md allows, written out here on purpose rather than imported from the code:
#   pending_payment → paid → shipped; pending_payment → canceled; paid → canceled;
#   paid/shipped → refunded.
ALLOWED = {
    ("pending_payment", "paid"),
    ("pending_payment", "canceled"),
    ("paid", "shipped"),
    ("paid", "canceled"),
    ("paid", "refunded"),
    ("shipped", "refunded"),
}
ALL_STATUSES = ["pending_payment", "paid", "shipped", "canceled", "refunded"]
TERMINAL = {"canceled", "refunded"}
# How far along an order is; a transition must always increase this.
RANK = {"pending_payment": 0, "paid": 1, "shipped": 2, "canceled": 3, "refunded": 3}


def usd(amount: int) -> Money:
    return Money(amount, "USD")


def place(lines: list[PricedLine] | None = None, at: datetime = T0, order_id: str = "ord_test") -> Order:
    if lines is None:
        lines = [PricedLine("TEE-M", "Tee, M", 2, usd(2500)), PricedLine("MUG", "Mug", 1, usd(1200))]
    return Order.place(
        order_id=order_id, cart_id="cart_test", email="shopper@example.com", lines=lines, currency="USD",
        shipping_address=Address(name="Ada", line1="1 Main St", city="Springfield", postal_code="12345",
                                 country="US"),
        payment=Payment(provider="simulated", payment_intent_id="pi_test", status="requires_payment_method"),
        access_token_hash="0" * 64, at=at)


def order_in(status: str) -> Order:
    """An order walked to `status` through allowed transitions only."""
    path = {
        "pending_payment": [],
        "paid": ["paid"],
        "shipped": ["paid", "shipped"],
        "canceled": ["canceled"],
        "refunded": ["paid", "refunded"],
    }[status]
    order = place()
    for i, step in enumerate(path, start=1):
        order = order.transition(step, T0 + timedelta(minutes=i))
    assert order.status == status
    return order


def test_the_code_knows_exactly_the_statuses_of_the_api():
    assert set(STATUSES) == set(ALL_STATUSES)
    assert (PENDING_PAYMENT, PAID, SHIPPED, CANCELED, REFUNDED) == tuple(ALL_STATUSES)


# --- placing ------------------------------------------------------------------------------------

class TestPlace:
    def test_a_new_order_awaits_payment(self):
        order = place()
        assert order.status == PENDING_PAYMENT
        assert order.history == (StatusChange(PENDING_PAYMENT, T0),)
        assert order.created_at == order.updated_at == T0

    def test_a_new_order_keeps_what_it_was_given(self):
        order = place()
        assert order.id == "ord_test"
        assert order.cart_id == "cart_test"
        assert order.email == "shopper@example.com"
        assert order.currency == "USD"
        assert order.payment.payment_intent_id == "pi_test"
        assert order.shipping_address.country == "US"
        assert order.fulfillment is None
        assert isinstance(order.lines, tuple) and [ln.sku for ln in order.lines] == ["TEE-M", "MUG"]

    def test_the_total_is_the_sum_of_its_lines(self):
        order = place()
        assert order.subtotal == usd(2 * 2500 + 1200)
        assert order.total == order.subtotal

    def test_nothing_is_refunded_yet(self):
        assert place().refunded == Money.zero("USD")

    def test_placing_records_an_order_placed_event(self):
        order = place()
        assert order.events == [OrderPlaced("ord_test", usd(6200))]

    def test_events_are_not_part_of_an_orders_identity(self):
        a, b = place(), place()
        b.events.clear()
        assert a == b

    def test_orders_are_immutable(self):
        with pytest.raises(dataclasses.FrozenInstanceError):
            place().status = PAID  # type: ignore[misc]


# --- transitions --------------------------------------------------------------------------------

class TestTransitionTable:
    @pytest.mark.parametrize("current, target", sorted(itertools.product(ALL_STATUSES, repeat=2)))
    def test_can_transition_matches_the_api(self, current, target):
        assert can_transition(current, target) == ((current, target) in ALLOWED)

    @pytest.mark.parametrize("current, target", sorted(ALLOWED))
    def test_every_allowed_transition_moves_forward(self, current, target):
        assert RANK[target] > RANK[current]

    @pytest.mark.parametrize("current, target", sorted(ALLOWED))
    def test_given_an_order_when_an_allowed_transition_is_applied_then_it_succeeds(self, current, target):
        assert order_in(current).transition(target, T0 + timedelta(hours=1)).status == target

    @pytest.mark.parametrize("current, target",
                             sorted(set(itertools.product(ALL_STATUSES, repeat=2)) - ALLOWED))
    def test_given_an_order_when_a_forbidden_transition_is_applied_then_invalid_transition(self, current,
                                                                                           target):
        before = order_in(current)
        with pytest.raises(InvalidTransition) as exc:
            before.transition(target, T0 + timedelta(hours=1))
        assert current in exc.value.detail and target in exc.value.detail
        assert before.status == current

    @pytest.mark.parametrize("status", sorted(TERMINAL))
    def test_canceled_and_refunded_are_final(self, status):
        order = order_in(status)
        for target in ALL_STATUSES:
            with pytest.raises(InvalidTransition):
                order.transition(target, T0 + timedelta(hours=1))

    @pytest.mark.parametrize("target", ["", "PAID", "delivered", "open"])
    def test_an_unknown_target_status_is_an_invalid_transition(self, target):
        with pytest.raises(InvalidTransition):
            place().transition(target, T0)

    def test_an_order_in_an_unknown_status_cannot_move(self):
        assert not can_transition("delivered", PAID)
        weird = dataclasses.replace(place(), status="delivered")
        with pytest.raises(InvalidTransition):
            weird.transition(PAID, T0)

    def test_invalid_transition_is_a_conflict(self):
        assert issubclass(InvalidTransition, Conflict)
        assert InvalidTransition.slug == "invalid_transition"


class TestTransition:
    def test_given_a_pending_order_when_paid_then_status_history_and_time_move(self):
        paid_at = T0 + timedelta(minutes=3)
        order = place().transition(PAID, paid_at)
        assert order.status == PAID
        assert order.updated_at == paid_at
        assert order.created_at == T0
        assert order.history == (StatusChange(PENDING_PAYMENT, T0), StatusChange(PAID, paid_at))

    def test_a_transition_records_a_status_changed_event_after_the_earlier_ones(self):
        order = place().transition(PAID, T0 + timedelta(minutes=1))
        assert order.events == [OrderPlaced("ord_test", usd(6200)), OrderStatusChanged("ord_test", PAID)]

    def test_a_transition_leaves_the_original_order_and_its_events_alone(self):
        before = place()
        after = before.transition(PAID, T0 + timedelta(minutes=1))
        assert before.status == PENDING_PAYMENT
        assert before.history == (StatusChange(PENDING_PAYMENT, T0),)
        assert before.events == [OrderPlaced("ord_test", usd(6200))]
        assert after.events is not before.events

    def test_a_transition_keeps_everything_else(self):
        before = place()
        after = before.transition(PAID, T0 + timedelta(minutes=1))
        for f in ("id", "email", "lines", "shipping_address", "payment", "access_token_hash", "currency",
                  "cart_id", "fulfillment", "refunded", "created_at"):
            assert getattr(after, f) == getattr(before, f), f

    def test_the_full_happy_path(self):
        order = place()
        for i, status in enumerate([PAID, SHIPPED, REFUNDED], start=1):
            order = order.transition(status, T0 + timedelta(minutes=i))
        assert [h.status for h in order.history] == [PENDING_PAYMENT, PAID, SHIPPED, REFUNDED]
        assert [type(e) for e in order.events] == [OrderPlaced] + [OrderStatusChanged] * 3

    @pytest.mark.parametrize("status", [PAID, SHIPPED, CANCELED, REFUNDED])
    def test_given_an_order_in_a_status_when_the_same_transition_arrives_again_then_invalid_transition(
            self, status):
        # A repeated webhook (payment_intent.succeeded twice, say) must not change the order again.
        order = order_in(status)
        with pytest.raises(InvalidTransition):
            order.transition(status, T0 + timedelta(hours=1))

    def test_a_late_payment_never_revives_a_canceled_order(self):
        with pytest.raises(InvalidTransition):
            order_in(CANCELED).transition(PAID, T0 + timedelta(hours=1))

    def test_a_shipped_order_can_no_longer_be_canceled(self):
        with pytest.raises(InvalidTransition):
            order_in(SHIPPED).transition(CANCELED, T0 + timedelta(hours=1))

    def test_a_pending_order_cannot_be_refunded_or_shipped(self):
        for target in (REFUNDED, SHIPPED):
            with pytest.raises(InvalidTransition):
                place().transition(target, T0)


# --- properties ---------------------------------------------------------------------------------

@given(st.lists(st.sampled_from(ALL_STATUSES + ["delivered"]), max_size=30))
def test_any_sequence_of_requested_statuses_only_ever_moves_an_order_forward(requests):
    order = place()
    accepted: list[str] = []
    for i, target in enumerate(requests, start=1):
        current = order.status
        try:
            order = order.transition(target, T0 + timedelta(seconds=i))
        except InvalidTransition:
            assert (current, target) not in ALLOWED
            assert order.status == current
            continue
        assert (current, target) in ALLOWED
        assert RANK[order.status] > RANK[current]
        accepted.append(target)

    statuses = [h.status for h in order.history]
    assert statuses == [PENDING_PAYMENT] + accepted
    assert len(statuses) == len(set(statuses)), "an order never returns to a status it has left"
    assert [RANK[s] for s in statuses] == sorted(RANK[s] for s in statuses)
    assert len(order.events) == 1 + len(accepted)
    assert order.updated_at == order.history[-1].at
    if order.status in TERMINAL:
        assert all(not can_transition(order.status, s) for s in ALL_STATUSES)


@given(st.lists(st.sampled_from(ALL_STATUSES), min_size=1, max_size=10))
def test_repeating_an_accepted_transition_is_always_refused(requests):
    order = place()
    for target in requests:
        try:
            order = order.transition(target, T0)
        except InvalidTransition:
            continue
        with pytest.raises(InvalidTransition):
            order.transition(target, T0)


@given(st.lists(st.tuples(st.integers(min_value=1, max_value=99), st.integers(min_value=0, max_value=10**6)),
                min_size=1, max_size=20))
def test_the_order_placed_event_carries_the_order_total(raw_lines):
    lines = [PricedLine(f"SKU-{i}", f"Item {i}", qty, usd(price)) for i, (qty, price) in enumerate(raw_lines)]
    order = place(lines)
    expected = usd(sum(qty * price for qty, price in raw_lines))
    assert order.total == expected
    assert order.events == [OrderPlaced("ord_test", expected)]


# --- the lifecycle's stock moves and refunds ------------------------------------------------------

def _refund(amount: int, refund_id: str = "re_1") -> Refund:
    return Refund(id=refund_id, amount=usd(amount), status="pending", reason="test", created_at=T0)


def test_paying_commits_every_line():
    order = place()
    paid, moves = order.pay(T0)
    assert paid.status == "paid"
    assert [(m.sku, m.kind, m.quantity) for m in moves] == [(ln.sku, "commit", ln.quantity) for ln in order.lines]


@pytest.mark.parametrize("status,kind", [("pending_payment", "release"), ("paid", "restock")])
def test_canceling_puts_stock_back_the_way_it_was_taken(status, kind):
    canceled, moves = order_in(status).cancel(T0)
    assert canceled.status == "canceled" and {m.kind for m in moves} == {kind}


@pytest.mark.parametrize("status", ["shipped", "canceled", "refunded"])
def test_only_unshipped_orders_cancel(status):
    with pytest.raises(InvalidTransition):
        order_in(status).cancel(T0)


def test_a_refund_is_booked_before_it_settles_and_never_exceeds_what_remains():
    paid = order_in("paid")
    total = paid.total.amount
    booked = paid.start_refund(_refund(total - 1), T0)
    assert booked.status == "paid" and booked.refundable == usd(1)
    with pytest.raises(Invalid):
        booked.start_refund(_refund(2, "re_2"), T0)
    settled, moves = booked.settle_refund("re_1", "re_provider", T0)
    assert settled.status == "paid" and moves == []


def test_the_last_refund_settling_makes_the_order_refunded_and_restocks_unshipped_goods():
    paid = order_in("paid")
    booked = paid.start_refund(_refund(paid.total.amount), T0)
    refunded, moves = booked.settle_refund("re_1", "re_provider", T0)
    assert refunded.status == "refunded" and {m.kind for m in moves} == {"restock"}
    shipped = order_in("shipped")
    refunded, moves = shipped.start_refund(_refund(shipped.total.amount), T0).settle_refund("re_1", "", T0)
    assert refunded.status == "refunded" and moves == [], "shipped goods are not on the shelf"


def test_a_failed_refund_gives_its_amount_back():
    paid = order_in("paid")
    failed = paid.start_refund(_refund(100), T0).fail_refund("re_1", T0)
    assert failed.refunded == usd(0) and failed.refunds[0].status == "failed"


@pytest.mark.parametrize("status", ["pending_payment", "canceled", "refunded"])
def test_only_paid_or_shipped_orders_are_refunded(status):
    with pytest.raises(InvalidTransition):
        order_in(status).start_refund(_refund(1), T0)


@pytest.mark.parametrize("amount", [0, -1])
def test_a_refund_must_be_positive(amount):
    with pytest.raises(Invalid):
        order_in("paid").start_refund(_refund(amount), T0)


def _captured(order: Order) -> Order:
    return order.with_payment_status("succeeded", T0)


def test_canceling_a_captured_order_books_what_was_not_refunded_yet():
    paid = _captured(order_in("paid"))
    partly = paid.start_refund(_refund(400), T0).settle_refund("re_1", "re_provider", T0)[0]
    canceled, _ = partly.cancel(T0)
    rest = canceled.refunds[-1]
    assert rest.status == "pending" and rest.amount == paid.total - usd(400)
    assert canceled.refunded == paid.total and canceled.settlement().refund == rest
    settled, moves = canceled.settle_refund(rest.id, "re_rest", T0)
    assert settled.payment.status == "refunded" and settled.settlement() is None and moves == []


def test_a_cancel_books_nothing_over_a_refund_already_booked():
    booked = _captured(order_in("paid")).start_refund(_refund(order_in("paid").total.amount), T0)
    canceled, _ = booked.cancel(T0)
    assert [r.id for r in canceled.refunds] == ["re_1"], "the pending refund is finished, not doubled"
    assert canceled.settlement().refund.id == "re_1"


def test_an_uncaptured_canceled_order_voids_its_intent_unless_it_was_captured_meanwhile():
    canceled, _ = order_in("pending_payment").cancel(T0)
    assert canceled.refunds == () and canceled.settlement().kind == "void"
    assert canceled.record_void(T0).payment.status == "canceled"
    late = canceled.record_late_payment("succeeded", T0)
    assert late.refunded == late.total and late.settlement().kind == "refund"
    assert late.record_void(T0) is None, "a void never overwrites a captured payment"
    assert late.record_late_payment("succeeded", T0) is None


def test_releasing_an_authorization_in_full_voids_it_and_closes_the_order():
    authorized = order_in("paid").with_payment_status("requires_capture", T0)
    booked = authorized.start_refund(_refund(authorized.total.amount), T0)
    released, moves = booked.settle_refund("re_1", "", T0, released=True)
    assert released.status == "refunded" and released.payment.status == "canceled" and moves
