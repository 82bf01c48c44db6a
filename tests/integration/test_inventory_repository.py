from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.adapters.models import SkuModel
from chalicelib.domain.errors import BelowReserved, DomainError, Invalid, NotFound, OutOfStock
from chalicelib.domain.inventory import StockLevel

from .helpers import make_product, random_sku


def _raw(sku: str) -> tuple[int, int, int]:
    item = SkuModel.get(sku)
    return int(item.on_hand), int(item.reserved), int(item.available)


def test_stock_moves_through_reserve_commit_and_release(ctx):
    sku = random_sku()
    make_product(ctx, (sku, 100), stock={sku: 10})
    inv = ctx.inventory
    assert inv.reserve(sku, 4) == StockLevel(10, 4)
    assert inv.commit(sku, 3) == StockLevel(7, 1)
    assert inv.release(sku, 1) == StockLevel(7, 0)
    assert _raw(sku) == (7, 0, 7)


def test_refusals_change_nothing(ctx):
    sku = random_sku()
    make_product(ctx, (sku, 100), stock={sku: 5})
    inv = ctx.inventory
    inv.reserve(sku, 3)
    with pytest.raises(OutOfStock):
        inv.reserve(sku, 3)
    with pytest.raises(BelowReserved):
        inv.adjust(sku, -3)
    with pytest.raises(BelowReserved):
        inv.set_on_hand(sku, 2)
    with pytest.raises(Invalid):
        inv.release(sku, 4)
    with pytest.raises(Invalid):
        inv.commit(sku, 4)
    assert _raw(sku) == (5, 3, 2)


def test_unknown_skus_are_not_found_and_not_created(ctx):
    sku = random_sku()
    for op in (lambda: ctx.inventory.set_on_hand(sku, 1), lambda: ctx.inventory.adjust(sku, 1),
               lambda: ctx.inventory.reserve(sku, 1)):
        with pytest.raises(NotFound):
            op()
    assert ctx.inventory.get(sku) is None


_ops = st.lists(st.tuples(st.sampled_from(["reserve", "release", "commit", "adjust", "set_on_hand"]),
                          st.integers(min_value=-12, max_value=12)), min_size=1, max_size=25)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(initial=st.integers(min_value=0, max_value=10), ops=_ops)
def test_any_sequence_of_stock_operations_keeps_dynamodb_equal_to_the_rules(ctx, initial, ops):
    """Property: DynamoDB's conditional writes accept and refuse exactly what the domain rules do, so
    stock never goes negative and no unit is created or lost."""
    sku = random_sku("PROP")
    make_product(ctx, (sku, 100), stock={sku: initial})
    model = StockLevel(initial, 0)
    for op, n in ops:
        try:
            expected = getattr(model, op)(n)
        except DomainError as refusal:
            expected = refusal
        try:
            got = getattr(ctx.inventory, op)(sku, n)
        except DomainError as refusal:
            got = refusal
        if isinstance(expected, DomainError):
            assert isinstance(got, DomainError), f"{op}({n}) on {model} was accepted by DynamoDB"
        else:
            assert got == expected, f"{op}({n}) on {model}"
            model = expected
        on_hand, reserved, available = _raw(sku)
        assert (on_hand, reserved) == (model.on_hand, model.reserved)
        assert available == on_hand - reserved >= 0 and reserved >= 0
