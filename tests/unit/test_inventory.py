"""StockLevel: on hand, reserved, available = on hand - reserved; none of them ever negative."""
from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, note
from hypothesis import strategies as st

from chalicelib.domain.errors import BelowReserved, Conflict, Invalid, OutOfStock
from chalicelib.domain.inventory import StockLevel


def stock(on_hand: int, reserved: int = 0) -> StockLevel:
    return StockLevel(on_hand=on_hand, reserved=reserved)


def test_a_new_stock_level_is_empty():
    s = StockLevel()
    assert (s.on_hand, s.reserved, s.available) == (0, 0, 0)


def test_available_is_on_hand_minus_reserved():
    assert stock(10, 3).available == 7


def test_stock_levels_are_immutable_values():
    s = stock(10, 3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.on_hand = 1  # type: ignore[misc]
    assert s == stock(10, 3)


# --- reserve ------------------------------------------------------------------------------------

class TestReserve:
    def test_given_available_stock_when_reserving_then_reserved_grows_and_on_hand_stays(self):
        after = stock(10, 2).reserve(3)
        assert after == stock(10, 5)
        assert after.available == 5

    def test_reserving_exactly_what_is_available_leaves_nothing_available(self):
        assert stock(10, 4).reserve(6).available == 0

    def test_given_too_little_available_when_reserving_then_out_of_stock_and_nothing_changes(self):
        before = stock(10, 8)
        with pytest.raises(OutOfStock) as exc:
            before.reserve(3)
        assert "2" in exc.value.detail  # says how many are available
        assert before == stock(10, 8)

    def test_reserving_from_an_empty_shelf_is_out_of_stock(self):
        with pytest.raises(OutOfStock):
            StockLevel().reserve(1)

    def test_out_of_stock_is_a_conflict_with_its_own_slug(self):
        assert issubclass(OutOfStock, Conflict)
        assert OutOfStock.slug == "out_of_stock"

    @pytest.mark.parametrize("qty", [0, -1])
    def test_reserving_a_non_positive_quantity_is_invalid(self, qty):
        with pytest.raises(Invalid):
            stock(10).reserve(qty)

    @pytest.mark.parametrize("qty", [True, 1.5, "1", None])
    def test_reserving_a_non_integer_quantity_is_invalid_not_a_crash(self, qty):
        with pytest.raises(Invalid):
            stock(10).reserve(qty)


# --- release ------------------------------------------------------------------------------------

class TestRelease:
    def test_given_a_reservation_when_released_then_units_are_available_again(self):
        after = stock(10, 5).release(3)
        assert after == stock(10, 2)
        assert after.available == 8

    def test_releasing_everything_reserved(self):
        assert stock(10, 5).release(5) == stock(10, 0)

    def test_releasing_more_than_reserved_is_invalid(self):
        with pytest.raises(Invalid):
            stock(10, 2).release(3)

    @pytest.mark.parametrize("qty", [0, -2, True, 2.0, "2"])
    def test_releasing_a_non_positive_or_non_integer_quantity_is_invalid(self, qty):
        with pytest.raises(Invalid):
            stock(10, 5).release(qty)


# --- commit -------------------------------------------------------------------------------------

class TestCommit:
    def test_given_a_paid_reservation_when_committed_then_units_leave_the_shelf(self):
        after = stock(10, 5).commit(3)
        assert after == stock(7, 2)
        assert after.available == stock(10, 5).available  # committing does not change what is sellable

    def test_committing_more_than_reserved_is_invalid(self):
        with pytest.raises(Invalid):
            stock(10, 2).commit(3)

    def test_committing_unreserved_stock_is_invalid(self):
        with pytest.raises(Invalid):
            stock(10, 0).commit(1)

    @pytest.mark.parametrize("qty", [0, -1, True, 1.0])
    def test_committing_a_non_positive_or_non_integer_quantity_is_invalid(self, qty):
        with pytest.raises(Invalid):
            stock(10, 5).commit(qty)


# --- adjust / set_on_hand -----------------------------------------------------------------------

class TestAdjust:
    @pytest.mark.parametrize("delta, expected", [(5, 15), (-4, 6), (0, 10)])
    def test_adjusting_moves_on_hand_and_keeps_reserved(self, delta, expected):
        assert stock(10, 3).adjust(delta) == stock(expected, 3)

    def test_adjusting_down_to_exactly_what_is_reserved_is_allowed(self):
        assert stock(10, 3).adjust(-7) == stock(3, 3)

    def test_given_reservations_when_adjusting_below_them_then_below_reserved(self):
        # API.md: 409 if it would take on hand below what is reserved.
        with pytest.raises(BelowReserved):
            stock(10, 3).adjust(-8)

    def test_adjusting_below_zero_is_below_reserved(self):
        with pytest.raises(BelowReserved):
            stock(2, 0).adjust(-3)

    @pytest.mark.parametrize("delta", [1.5, "1", None, True])
    def test_adjusting_by_a_non_integer_is_invalid_not_a_crash(self, delta):
        with pytest.raises(Invalid):
            stock(10).adjust(delta)


class TestSetOnHand:
    def test_setting_on_hand_replaces_it_and_keeps_reserved(self):
        assert stock(10, 3).set_on_hand(42) == stock(42, 3)

    def test_setting_on_hand_to_zero_with_nothing_reserved(self):
        assert stock(10).set_on_hand(0) == stock(0)

    def test_setting_on_hand_to_exactly_what_is_reserved(self):
        assert stock(10, 3).set_on_hand(3).available == 0

    def test_setting_on_hand_below_reserved_is_below_reserved(self):
        with pytest.raises(BelowReserved):
            stock(10, 3).set_on_hand(2)

    def test_setting_a_negative_on_hand_is_refused(self):
        # Refused as BelowReserved (409); see the report: API.md's body rule `on_hand >= 0` suggests 422.
        with pytest.raises(BelowReserved):
            stock(10).set_on_hand(-1)

    @pytest.mark.parametrize("on_hand", [1.5, "5", None, True])
    def test_setting_a_non_integer_on_hand_is_invalid_not_a_crash(self, on_hand):
        with pytest.raises(Invalid):
            stock(10).set_on_hand(on_hand)


# --- properties ---------------------------------------------------------------------------------

@st.composite
def stock_levels(draw):
    on_hand = draw(st.integers(min_value=0, max_value=50))
    reserved = draw(st.integers(min_value=0, max_value=on_hand))
    return StockLevel(on_hand, reserved)


quantities = st.integers(min_value=-3, max_value=30)
operations = st.one_of(
    st.tuples(st.just("reserve"), quantities),
    st.tuples(st.just("release"), quantities),
    st.tuples(st.just("commit"), quantities),
    st.tuples(st.just("adjust"), st.integers(min_value=-30, max_value=30)),
    st.tuples(st.just("set_on_hand"), st.integers(min_value=-5, max_value=60)),
)


def _expected_refusal(level: StockLevel, op: str, n: int) -> type[Exception] | None:
    """The rules, restated independently: which error (if any) each operation must raise."""
    if op in ("reserve", "release", "commit") and n <= 0:
        return Invalid
    if op == "reserve":
        return OutOfStock if n > level.available else None
    if op in ("release", "commit"):
        return Invalid if n > level.reserved else None
    new_on_hand = level.on_hand + n if op == "adjust" else n
    return BelowReserved if new_on_hand < level.reserved else None


@given(stock_levels(), st.lists(operations, max_size=60))
def test_any_sequence_of_operations_keeps_stock_non_negative_and_conserves_units(initial, ops):
    level = initial
    reserved_in = released = committed = adjusted = set_delta = 0

    for op, n in ops:
        expected_error = _expected_refusal(level, op, n)
        try:
            after = getattr(level, op)(n)
        except (Invalid, OutOfStock, BelowReserved) as exc:
            note(f"{op}({n}) on {level} refused: {exc!r}")
            assert expected_error is not None, f"{op}({n}) on {level} should have been accepted"
            assert type(exc) is expected_error
            continue  # a refused operation changes nothing: `level` is an immutable value
        assert expected_error is None, f"{op}({n}) on {level} should have raised {expected_error.__name__}"

        if op == "reserve":
            reserved_in += n
        elif op == "release":
            released += n
        elif op == "commit":
            committed += n
        elif op == "adjust":
            adjusted += n
        else:
            set_delta += n - level.on_hand
        level = after

        assert level.on_hand >= 0
        assert level.reserved >= 0
        assert level.available >= 0

    # Conservation: every unit on the shelf or held for a cart is accounted for.
    assert level.on_hand == initial.on_hand + adjusted + set_delta - committed
    assert level.reserved == initial.reserved + reserved_in - released - committed
    assert level.available == level.on_hand - level.reserved


@given(stock_levels(), st.lists(st.tuples(st.sampled_from(["reserve", "release", "commit"]), quantities),
                                max_size=60))
def test_without_merchant_changes_units_only_leave_the_shelf_by_being_committed(initial, ops):
    level, committed = initial, 0
    for op, n in ops:
        try:
            level_after = getattr(level, op)(n)
        except (Invalid, OutOfStock):
            continue
        if op == "commit":
            committed += n
        level = level_after
    assert level.on_hand + committed == initial.on_hand
    assert 0 <= level.reserved <= level.on_hand


@given(stock_levels(), st.integers(min_value=1, max_value=50))
def test_reserve_then_release_is_a_round_trip(level, qty):
    if qty > level.available:
        return
    assert level.reserve(qty).release(qty) == level


@given(stock_levels(), st.integers(min_value=1, max_value=50))
def test_reserve_then_commit_removes_exactly_qty_from_the_shelf(level, qty):
    if qty > level.available:
        return
    after = level.reserve(qty).commit(qty)
    assert after == StockLevel(level.on_hand - qty, level.reserved)


@given(stock_levels(), st.integers(min_value=-50, max_value=50))
def test_an_accepted_adjustment_can_be_undone(level, delta):
    try:
        moved = level.adjust(delta)
    except BelowReserved:
        assert level.on_hand + delta < level.reserved
        return
    assert moved.adjust(-delta) == level


@given(stock_levels(), st.integers(min_value=0, max_value=100))
def test_set_on_hand_is_idempotent(level, target):
    try:
        once = level.set_on_hand(target)
    except BelowReserved:
        assert target < level.reserved
        return
    assert once.set_on_hand(target) == once
    assert once.on_hand == target and once.reserved == level.reserved
