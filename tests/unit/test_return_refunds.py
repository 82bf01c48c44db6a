"""What a return refunds, read from the order's record, and how returns of one line add up."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.money import Money
from chalicelib.domain.returns import PaidLine, Return, ReturnQuantityExceeded, held_units, paid_lines

SHIPPED_AT = datetime(2026, 11, 1, tzinfo=timezone.utc)


def usd(amount: int) -> Money:
    return Money(amount, "USD")


@dataclass(frozen=True)
class Line:
    sku: str
    quantity: int
    total: Money
    discount: Money | None = None
    tax: Money | None = None


@dataclass(frozen=True)
class Order:
    lines: tuple
    prices_include_tax: bool = False


def test_an_order_without_a_breakdown_paid_its_line_totals():
    @dataclass(frozen=True)
    class Bare:  # what an order records today: no per-line discount or tax, no tax mode
        lines: tuple

    lines = paid_lines(Bare((Line("A", 2, usd(5000)),)))
    assert lines == [PaidLine("A", 2, usd(5000))]


def test_tax_is_added_when_prices_exclude_it_and_already_inside_when_they_include_it():
    line = Line("A", 2, usd(5000), discount=usd(500), tax=usd(900))
    assert paid_lines(Order((line,)))[0].refund_for(1) == usd(2700)  # (5000 - 500 + 900) / 2
    assert paid_lines(Order((line,), prices_include_tax=True))[0].refund_for(1) == usd(2250)  # (5000 - 500) / 2


def test_a_discounted_line_refunds_what_was_paid_not_its_list_price():
    line = Line("A", 3, usd(3000), discount=usd(1000))
    assert paid_lines(Order((line,)))[0].refund_for(1) == usd(667)  # 2000 / 3 = 666.67, half up


def test_the_first_return_of_a_line_refunds_exactly_round_half_up_of_its_share():
    line = PaidLine("A", 2, usd(1001))
    assert line.share(1) == line.refund_for(1) == usd(501)


def test_the_return_that_takes_the_rest_of_a_line_refunds_the_rest_of_what_it_paid():
    line = PaidLine("A", 2, usd(1001))
    assert line.share(1, already=1) == usd(500)  # not 501 again: 501 + 500 is what the line paid
    assert line.share(1) + line.share(1, already=1) == usd(1001)


@given(quantity=st.integers(1, 99), paid=st.integers(0, 10**7), data=st.data())
def test_returns_that_split_a_line_never_refund_more_than_it_paid_and_all_of_it_together(quantity, paid, data):
    line = PaidLine("A", quantity, usd(paid))
    cuts = sorted(data.draw(st.sets(st.integers(1, quantity - 1), max_size=5)) if quantity > 1 else [])
    bounds = [0, *cuts, quantity]
    shares = [line.share(b - a, already=a) for a, b in zip(bounds, bounds[1:])]
    assert all(s.amount >= 0 for s in shares)
    assert sum(s.amount for s in shares) == paid


def _request(asked, held):
    return Return.request(return_id="ret_1", order_id="ord_1", order_status="shipped", shipped_at=SHIPPED_AT,
                          paid_lines=[PaidLine("A", 3, usd(1000)), PaidLine("B", 1, usd(700))], asked=asked,
                          held=held, reason="damaged", currency="USD", at=SHIPPED_AT + timedelta(days=1),
                          window_days=30)


def test_a_request_checks_the_units_the_ledger_says_are_held_and_prices_on_from_them():
    ret = _request([("A", 1)], {"A": 2})
    assert ret.lines[0].refund == usd(333)  # 1000 - round(2 * 1000 / 3) = 1000 - 667
    with pytest.raises(ReturnQuantityExceeded) as raised:
        _request([("A", 2), ("B", 1)], {"A": 2, "B": 1})
    assert {e.field for e in raised.value.errors} == {"lines[0].quantity", "lines[1].quantity"}


def test_held_units_count_open_and_completed_returns_but_not_rejected_ones():
    now = SHIPPED_AT + timedelta(days=1)
    open_one = _request([("A", 1)], {})
    rejected = _request([("A", 2)], {}).reject("worn", now)
    refunded = _request([("B", 1)], {}).approve(now).receive(now).mark_refunded(now, refund_id="re_1")
    assert held_units([open_one, rejected, refunded]) == {"A": 1, "B": 1}
    assert refunded.refunded == usd(700) and refunded.refund_id == "re_1"


def test_a_line_refunds_no_more_than_it_paid_when_a_return_is_rejected_between_others():
    """Shares are priced on from what the returns holding units will refund, not from a rounded share of
    their units: a rejection in between frees units whose share was rounded differently."""
    now = SHIPPED_AT + timedelta(days=1)
    line = PaidLine("A", 3, usd(1000))  # 333.33 a unit

    def ask(others):
        return Return.request(return_id="ret_x", order_id="ord_1", order_status="shipped", shipped_at=SHIPPED_AT,
                              paid_lines=[line], asked=[("A", 1)], others=others, reason="damaged",
                              currency="USD", at=now, window_days=30)

    first = ask([])  # 333
    second = ask([first])  # 667 - 333 = 334
    rejected = first.reject("worn", now)
    third = ask([rejected, second])
    fourth = ask([rejected, second, third])
    refunded = second.refund_total + third.refund_total + fourth.refund_total
    assert refunded == usd(1000), [r.refund_total.amount for r in (second, third, fourth)]


@given(quantity=st.integers(1, 12), paid=st.integers(0, 10**6), data=st.data())
def test_returns_and_rejections_in_any_order_refund_a_line_exactly_what_it_paid(quantity, paid, data):
    now = SHIPPED_AT + timedelta(days=1)
    line = PaidLine("A", quantity, usd(paid))
    returns: list[Return] = []

    def ask(units):
        return Return.request(return_id=f"ret_{len(returns)}", order_id="ord_1", order_status="shipped",
                              shipped_at=SHIPPED_AT, paid_lines=[line], asked=[("A", units)], others=returns,
                              reason="damaged", currency="USD", at=now, window_days=30)

    for _ in range(data.draw(st.integers(0, 8))):
        holding = [i for i, r in enumerate(returns) if r.holds_units]
        left = quantity - held_units(returns).get("A", 0)
        if holding and (left == 0 or data.draw(st.booleans())):
            i = data.draw(st.sampled_from(holding))
            returns[i] = returns[i].reject("worn", now)
        elif left:
            returns.append(ask(data.draw(st.integers(1, left))))
    left = quantity - held_units(returns).get("A", 0)
    if left:
        returns.append(ask(left))  # the rest of the line comes back
    shares = [r.refund_total.amount for r in returns if r.holds_units]
    assert all(s >= 0 for s in shares) and sum(shares) == paid, shares
