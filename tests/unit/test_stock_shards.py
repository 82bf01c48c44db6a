"""Stock shards of a hot SKU (domain/stock_shards): plans never draw more than a shard has available, the
shards always add up to the one level the merchant sees, and no layout change makes or loses a unit."""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.address import Address
from chalicelib.domain.cart import PricedLine
from chalicelib.domain.errors import BelowReserved, Invalid, OutOfStock
from chalicelib.domain.inventory import StockLevel
from chalicelib.domain.money import Money
from chalicelib.domain.orders import Order, Payment
from chalicelib.domain.stock_shards import (
    MAX_SHARDS,
    StockShardsBusy,
    aggregate,
    check_count,
    decode,
    encode,
    part_of,
    plan,
    reshard,
    spread,
    start_shard,
)


@st.composite
def shard_levels(draw, min_shards: int = 1, max_shards: int = 12) -> dict[int, StockLevel]:
    n = draw(st.integers(min_shards, max_shards))
    levels = {}
    for i in range(n):
        on_hand = draw(st.integers(0, 60))
        levels[i] = StockLevel(on_hand, draw(st.integers(0, on_hand)))
    return levels


def _apply(levels: dict[int, StockLevel], allocation, move: str) -> dict[int, StockLevel]:
    after = dict(levels)
    for shard, qty in allocation:
        after[shard] = getattr(after[shard], move)(qty)  # the single-item rules raise on any overdraw
    return after


# --- aggregate ------------------------------------------------------------------------------------

@given(shard_levels())
def test_the_aggregate_is_the_sum_of_the_shards(levels):
    total = aggregate(levels)
    assert total.on_hand == sum(lv.on_hand for lv in levels.values())
    assert total.reserved == sum(lv.reserved for lv in levels.values())
    assert total.available == sum(lv.available for lv in levels.values()) >= 0
    assert total.shards == len(levels)


# --- plan -----------------------------------------------------------------------------------------

@given(shard_levels(), st.integers(1, 200), st.integers(0, 40), st.integers(1, MAX_SHARDS))
def test_a_plan_never_takes_more_than_a_shard_has_and_covers_the_quantity(levels, qty, start, max_parts):
    try:
        allocation = plan(levels, qty, start=start, max_parts=max_parts)
    except OutOfStock:
        fullest = sorted((lv.available for lv in levels.values()), reverse=True)
        assert sum(fullest) < qty or sum(fullest[:max_parts]) < qty
        return
    assert sum(q for _, q in allocation) == qty
    assert all(q > 0 for _, q in allocation)
    assert len({s for s, _ in allocation}) == len(allocation) <= max_parts
    assert list(allocation) == sorted(allocation)
    assert decode(encode(allocation)) == allocation
    assert all(q <= levels[s].available for s, q in allocation)
    after = _apply(levels, allocation, "reserve")
    assert all(lv.available >= 0 and lv.reserved >= 0 for lv in after.values())
    assert aggregate(after).reserved == aggregate(levels).reserved + qty
    assert aggregate(after).on_hand == aggregate(levels).on_hand


@given(shard_levels(), st.integers(1, 30), st.integers(0, 40))
def test_reserving_then_releasing_or_committing_its_allocation_keeps_the_invariants(levels, qty, start):
    try:
        allocation = plan(levels, qty, start=start)
    except OutOfStock:
        return
    reserved = _apply(levels, allocation, "reserve")
    assert _apply(reserved, allocation, "release") == levels
    committed = _apply(reserved, allocation, "commit")
    assert aggregate(committed).on_hand == aggregate(levels).on_hand - qty
    assert aggregate(committed).reserved == aggregate(levels).reserved
    assert all(lv.on_hand >= lv.reserved >= 0 for lv in committed.values())


def test_one_shard_that_holds_the_line_is_preferred_from_the_start_shard_on():
    levels = {0: StockLevel(5), 1: StockLevel(1), 2: StockLevel(5), 3: StockLevel(5)}
    assert plan(levels, 2, start=1) == ((2, 2),)
    assert plan(levels, 2, start=3) == ((3, 2),)


def test_a_line_larger_than_any_shard_draws_from_several():
    levels = {0: StockLevel(2), 1: StockLevel(3, 1), 2: StockLevel(4)}
    allocation = plan(levels, 7, start=1)
    assert allocation == ((0, 1), (1, 2), (2, 4)), "from shard 1 on, 2 + 4 + 1; kept by shard"
    with pytest.raises(OutOfStock):
        plan(levels, 9)


def test_a_plan_within_fewer_items_draws_from_the_fullest_shards():
    levels = {0: StockLevel(1), 1: StockLevel(1), 2: StockLevel(5), 3: StockLevel(5)}
    assert plan(levels, 10, start=0, max_parts=2) == ((2, 5), (3, 5))
    with pytest.raises(OutOfStock):
        plan(levels, 11, start=0, max_parts=2)


def test_start_shards_spread_orders_over_the_shards():
    starts = {start_shard(f"ord_{i}:SKU", 8) for i in range(200)}
    assert starts == set(range(8))
    assert start_shard("ord_1:SKU", 8, 1) == (start_shard("ord_1:SKU", 8) + 1) % 8


@pytest.mark.parametrize("qty", [0, -1, True, 1.5])
def test_a_plan_needs_a_positive_whole_quantity(qty):
    with pytest.raises(Invalid):
        plan({0: StockLevel(5)}, qty)


# --- allocations on the order ---------------------------------------------------------------------

allocations = st.dictionaries(st.integers(0, MAX_SHARDS - 1), st.integers(1, 10**6), min_size=1).map(
    lambda d: tuple(sorted(d.items())))


@given(allocations)
def test_an_allocation_round_trips_through_its_stored_form(allocation):
    assert decode(encode(allocation)) == allocation
    assert decode({str(k): v for k, v in encode(allocation).items()}) == allocation
    assert decode(None) == ()


@given(allocations, st.integers(1, 10**6))
def test_part_of_an_allocation_takes_its_first_units(allocation, qty):
    part = part_of(allocation, qty)
    assert sum(q for _, q in part) == qty
    drawn = dict(allocation)
    if qty <= sum(drawn.values()):
        assert all(0 < q <= drawn[s] for s, q in part)


def _order(allocations: dict) -> Order:
    line = PricedLine(sku="HOT", title="Hot", quantity=5, unit_price=Money(100, "USD"))
    plain = PricedLine(sku="COLD", title="Cold", quantity=2, unit_price=Money(100, "USD"))
    at = datetime(2026, 1, 1, tzinfo=UTC)
    address = Address(name="A", line1="1 St", city="C", postal_code="1", country="GB")
    order = Order.place(order_id="ord_1", cart_id="cart_1", email="a@example.com", lines=[line, plain],
                        currency="USD", shipping_address=address,
                        payment=Payment(provider="fake", payment_intent_id="pi_1", status="requires_payment"),
                        access_token_hash="h", at=at)
    return replace(order, allocations=allocations)


def test_an_orders_stock_moves_hit_exactly_the_shards_its_lines_drew_from():
    order = _order({"HOT": ((1, 3), (4, 2))})
    at = datetime(2026, 1, 2, tzinfo=UTC)
    _, commits = order.pay(at)
    assert [(m.sku, m.kind, m.quantity, m.shard) for m in commits] == [
        ("HOT", "commit", 3, 1), ("HOT", "commit", 2, 4), ("COLD", "commit", 2, 0)]
    _, releases = order.cancel(at)
    assert [(m.sku, m.kind, m.quantity, m.shard) for m in releases] == [
        ("HOT", "release", 3, 1), ("HOT", "release", 2, 4), ("COLD", "release", 2, 0)]


def test_an_order_placed_before_shards_moves_the_skus_own_item():
    _, moves = _order({}).pay(datetime(2026, 1, 2, tzinfo=UTC))
    assert [(m.sku, m.quantity, m.shard) for m in moves] == [("HOT", 5, 0), ("COLD", 2, 0)]


# --- adjustments ----------------------------------------------------------------------------------

@given(shard_levels(), st.integers(-300, 300))
def test_an_adjustment_spreads_without_taking_a_shard_below_its_reserved(levels, delta):
    try:
        moves = spread(levels, delta)
    except BelowReserved:
        assert -delta > aggregate(levels).available
        return
    assert sum(moves.values()) == delta
    after = {s: StockLevel(lv.on_hand + moves.get(s, 0), lv.reserved) for s, lv in levels.items()}
    assert all(lv.on_hand >= lv.reserved >= 0 for lv in after.values())
    assert aggregate(after).on_hand == aggregate(levels).on_hand + delta
    if delta > 0:  # units added even out what is available: the emptiest shard gains first
        assert min(lv.available for lv in after.values()) >= min(lv.available for lv in levels.values())


def test_units_added_go_to_the_emptiest_shards():
    levels = {0: StockLevel(10), 1: StockLevel(2), 2: StockLevel(5, 1)}
    assert spread(levels, 9) == {1: 6, 2: 3}


# --- re-sharding ----------------------------------------------------------------------------------

@given(shard_levels(), st.integers(1, 16))
def test_resharding_moves_units_and_never_makes_or_loses_one(levels, count):
    try:
        targets = reshard(levels, count)
    except StockShardsBusy:
        assert any(lv.reserved for s, lv in levels.items() if s >= count)
        return
    assert sorted(targets) == list(range(count))
    assert sum(targets.values()) == aggregate(levels).on_hand
    for s, on_hand in targets.items():
        assert on_hand >= (levels[s].reserved if s in levels else 0)
    free = [on_hand - (levels[s].reserved if s in levels else 0) for s, on_hand in targets.items()]
    assert max(free) - min(free) <= 1  # what is available is spread evenly


@given(shard_levels(), st.integers(1, 16), st.integers(0, 2000))
def test_setting_on_hand_over_shards_keeps_every_shards_reservations(levels, count, on_hand):
    kept_reserved = sum(lv.reserved for s, lv in levels.items() if s < count)
    try:
        targets = reshard(levels, count, on_hand)
    except StockShardsBusy:
        return
    except BelowReserved:
        assert on_hand < kept_reserved
        return
    assert sum(targets.values()) == on_hand
    assert all(targets[s] >= levels[s].reserved for s in targets if s in levels)


def test_shards_with_reserved_units_cannot_go_away():
    with pytest.raises(StockShardsBusy):
        reshard({0: StockLevel(5), 1: StockLevel(5, 1)}, 1)
    assert reshard({0: StockLevel(5), 1: StockLevel(5)}, 1) == {0: 10}


@pytest.mark.parametrize("count", [0, MAX_SHARDS + 1, True, 2.0])
def test_a_shard_count_is_1_to_the_maximum(count):
    with pytest.raises(Invalid):
        check_count(count)
