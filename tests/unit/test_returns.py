"""Return rules: what may be returned, what each returned unit refunds, and the order of statuses."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.errors import Invalid, InvalidTransition
from chalicelib.domain.money import Money
from chalicelib.domain.returns import (
    APPROVED,
    RECEIVED,
    REFUNDED,
    REJECTED,
    REQUESTED,
    PaidLine,
    Return,
    ReturnNotAllowed,
    ReturnQuantityExceeded,
    ReturnRequested,
    ReturnStatusChanged,
    divide_half_up,
    returnable,
)

SHIPPED_AT = datetime(2026, 11, 1, tzinfo=timezone.utc)
NOW = SHIPPED_AT + timedelta(days=3)


def usd(amount: int) -> Money:
    return Money(amount, "USD")


def paid(sku="TEE", quantity=2, amount=5000) -> PaidLine:
    return PaidLine(sku, quantity, usd(amount))


def request(asked, *, lines=None, others=(), status="shipped", at=NOW, window=30, shipped_at=SHIPPED_AT,
            return_id="ret_1") -> Return:
    return Return.request(return_id=return_id, order_id="ord_1", order_status=status, shipped_at=shipped_at,
                          paid_lines=lines or [paid()], asked=asked, others=others, reason="too small",
                          currency="USD", at=at, window_days=window)


# --- refund shares ---------------------------------------------------------------------------------------

def test_a_line_paid_excludes_tax_when_prices_include_it_and_adds_it_when_they_do_not():
    kwargs = dict(total=usd(2000), discount=usd(200), tax=usd(360))
    assert PaidLine.of("A", 2, **kwargs, prices_include_tax=False).paid == usd(2160)
    assert PaidLine.of("A", 2, **kwargs, prices_include_tax=True).paid == usd(1800)


def test_one_unit_of_two_refunds_half_of_what_the_line_paid_after_discount_and_with_tax():
    line = PaidLine.of("A", 2, total=usd(5000), discount=usd(500), tax=usd(900), prices_include_tax=False)
    assert line.refund_for(1) == usd(2700)


def test_shares_round_half_up_at_exactly_one_half():
    assert PaidLine("A", 2, usd(1001)).refund_for(1) == usd(501)  # 500.5 -> 501
    assert PaidLine("A", 3, usd(1000)).refund_for(1) == usd(333)  # 333.33 -> 333
    assert PaidLine("A", 3, usd(1000)).refund_for(2) == usd(667)  # 666.67 -> 667
    assert divide_half_up(5, 2) == 3 and divide_half_up(7, 2) == 4 and divide_half_up(0, 9) == 0


@given(quantity=st.integers(1, 99), amount=st.integers(0, 10**9), units=st.integers(0, 99))
def test_shares_are_never_negative_never_more_than_paid_and_the_whole_line_refunds_exactly(quantity, amount, units):
    line = PaidLine("A", quantity, usd(amount))
    units = min(units, quantity)
    share = line.refund_for(units)
    assert 0 <= share.amount <= amount
    assert line.refund_for(quantity) == usd(amount)
    if units < quantity:
        assert share <= line.refund_for(units + 1)


# --- quantity rules ----------------------------------------------------------------------------------------

def test_a_request_prices_each_line_and_records_an_event():
    ret = request([("TEE", 1)])
    assert ret.status == REQUESTED
    assert [(ln.sku, ln.quantity, ln.refund) for ln in ret.lines] == [("TEE", 1, usd(2500))]
    assert ret.refund_total == usd(2500)
    assert ret.events == [ReturnRequested("ret_1", "ord_1")]


def test_no_line_may_ask_for_more_than_shipped():
    with pytest.raises(ReturnQuantityExceeded) as raised:
        request([("TEE", 3)])
    assert raised.value.errors[0].field == "lines[0].quantity"


def test_units_held_by_open_or_completed_returns_cannot_be_asked_for_again_but_rejected_ones_free_theirs():
    first = request([("TEE", 1)])
    for holding in (first, first.approve(NOW), first.approve(NOW).receive(NOW),
                    first.approve(NOW).receive(NOW).mark_refunded(NOW)):
        with pytest.raises(ReturnQuantityExceeded):
            request([("TEE", 2)], others=[holding])
        assert request([("TEE", 1)], others=[holding]).lines[0].quantity == 1
    rejected = first.reject("worn", NOW)
    assert request([("TEE", 2)], others=[rejected]).lines[0].quantity == 2
    assert returnable([paid()], [first, rejected]) == {"TEE": 1}


@pytest.mark.parametrize("asked, field", [
    ([("NOPE", 1)], "lines[0].sku"),
    ([("TEE", 0)], "lines[0].quantity"),
    ([("TEE", 1), ("TEE", 1)], "lines[1].sku"),
    ([], "lines"),
])
def test_malformed_requests_are_invalid(asked, field):
    with pytest.raises(Invalid) as raised:
        request(asked)
    assert field in {e.field for e in raised.value.errors}


# --- order status and window -------------------------------------------------------------------------------

@pytest.mark.parametrize("status", ["pending_payment", "paid", "canceled", "refunded"])
def test_only_a_shipped_order_can_be_returned(status):
    with pytest.raises(ReturnNotAllowed):
        request([("TEE", 1)], status=status)


def test_the_window_counts_from_shipment_and_includes_its_last_moment():
    assert request([("TEE", 1)], at=SHIPPED_AT + timedelta(days=30)).status == REQUESTED
    with pytest.raises(ReturnNotAllowed):
        request([("TEE", 1)], at=SHIPPED_AT + timedelta(days=30, seconds=1))
    with pytest.raises(ReturnNotAllowed):
        request([("TEE", 1)], window=7, at=SHIPPED_AT + timedelta(days=8))


# --- statuses ----------------------------------------------------------------------------------------------

def test_statuses_only_move_forward():
    ret = request([("TEE", 1)])
    done = ret.approve(NOW).receive(NOW).mark_refunded(NOW)
    assert [h.status for h in done.history] == [REQUESTED, APPROVED, RECEIVED, REFUNDED]
    assert done.events[-1] == ReturnStatusChanged("ret_1", "ord_1", REFUNDED)
    for illegal in (lambda r: r.receive(NOW), lambda r: r.mark_refunded(NOW)):
        with pytest.raises(InvalidTransition):
            illegal(ret)  # receive before approval, refund before receipt
    for final in (done, ret.reject("no", NOW)):
        for move in (lambda r: r.approve(NOW), lambda r: r.reject("x", NOW), lambda r: r.receive(NOW)):
            with pytest.raises(InvalidTransition):
                move(final)
    with pytest.raises(InvalidTransition):
        ret.approve(NOW).receive(NOW).reject("late", NOW)


def test_a_rejection_keeps_its_reason():
    rejected = request([("TEE", 1)]).approve(NOW).reject("worn", NOW)
    assert (rejected.status, rejected.rejection_reason) == (REJECTED, "worn")
