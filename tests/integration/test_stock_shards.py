"""Stock shards of a hot SKU against DynamoDB (moto), stood up from infra/template.yaml: the merchant flags a
SKU hot, checkouts draw from several shard items in the order's one transaction, payment, cancel and refunds
move exactly the shards drawn, and however many checkouts race, the SKU is never oversold."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta

import pytest

from chalicelib.adapters.dynamo_stock_shards import shard_key
from chalicelib.adapters.models import OrderModel, SkuModel, SkuShardModel
from chalicelib.domain.commands import AddToCart, AdjustStock, PlaceOrder, SetStock
from chalicelib.domain.errors import BelowReserved, Conflict, OutOfStock
from chalicelib.domain.inventory import StockLevel
from chalicelib.domain.orders import Address
from chalicelib.domain.stock_shards import SkuStock, StockShardsBusy, part_of
from chalicelib.services import carts, catalog, lifecycle
from chalicelib.services.checkout import place_order

from .helpers import make_product, random_sku

TTL = timedelta(days=7)
ADDRESS = Address(name="Ada", line1="1 Main St", city="Springfield", postal_code="12345", country="US")


@pytest.fixture
def sctx(ctx, monkeypatch):
    """Each DynamoDB call atomic, as in AWS and the local stack's server (see test_returns.atomic_calls): the
    races left are the real ones, between one call and the next."""
    from moto.core.botocore_stubber import BotocoreStubber

    lock, handle = threading.RLock(), BotocoreStubber.process_request

    def serialized(self, request):
        with lock:
            return handle(self, request)

    monkeypatch.setattr(BotocoreStubber, "process_request", serialized)
    return replace(ctx, workflow=None)


def _shards(sku: str, count: int) -> dict[int, StockLevel]:
    """Every shard item as stored, read strongly."""
    out = {}
    for i in range(count):
        try:
            m = SkuShardModel.get(shard_key(sku, i), consistent_read=True)
        except SkuShardModel.DoesNotExist:
            continue
        assert int(m.available) == int(m.on_hand) - int(m.reserved), "available is kept with every write"
        assert int(m.on_hand) >= int(m.reserved) >= 0, f"shard {i} broke on hand >= reserved >= 0"
        out[i] = StockLevel(int(m.on_hand), int(m.reserved))
    return out


def _checkout(ctx, sku: str, qty: int, key: str = "k"):
    cart = carts.create_cart(ctx, TTL).cart
    carts.add_item(AddToCart(cart.id, sku, qty), ctx, TTL)
    return place_order(PlaceOrder(cart.id, key, "ada@example.com", ADDRESS), ctx).order


def _hot(ctx, on_hand: int, shards: int) -> str:
    sku = random_sku("HOT")
    make_product(ctx, (sku, 500))
    catalog.set_stock(SetStock(sku, on_hand, shards), ctx)
    return sku


def test_flagging_a_sku_hot_spreads_its_stock_over_shard_items_and_reads_show_one_level(sctx):
    sku = _hot(sctx, 42, 4)
    assert _shards(sku, 8) == {0: StockLevel(11), 1: StockLevel(11), 2: StockLevel(10), 3: StockLevel(10)}
    assert SkuModel.get(sku).shards == 4
    level = sctx.inventory.get(sku)
    assert (level.on_hand, level.reserved, level.available, level.shards) == (42, 0, 42, 4)
    assert sctx.catalog.sku_info([sku])[sku].available == 42
    assert sctx.catalog.sku_info([sku])[sku].stock_shards == 4


def test_a_line_draws_from_several_shards_and_payment_and_cancel_move_exactly_those(sctx):
    sku = _hot(sctx, 8, 4)  # 2 per shard: a line of 5 must draw from 3 shards
    order = _checkout(sctx, sku, 5)
    drawn = dict(order.allocations[sku])
    assert sum(drawn.values()) == 5 and len(drawn) == 3
    stored = [ln for ln in OrderModel.get(order.id).lines if ln["sku"] == sku][0]
    assert {int(k): int(v) for k, v in stored["allocation"].items()} == drawn, "the line records its allocation"
    assert sctx.orders.get(order.id).allocations == order.allocations
    shards = _shards(sku, 4)
    assert {i: lv.reserved for i, lv in shards.items() if lv.reserved} == drawn
    assert sctx.inventory.get(sku) == SkuStock(8, 5, shards=4)

    other = _checkout(sctx, sku, 3, key="k2")  # the rest, wherever it is
    with pytest.raises(OutOfStock):
        _checkout(sctx, sku, 1, key="k3")
    lifecycle.cancel(order.id, sctx, reason="changed my mind")
    shards = _shards(sku, 4)
    assert {i: lv.reserved for i, lv in shards.items() if lv.reserved} == dict(other.allocations[sku])
    assert sctx.inventory.get(sku) == SkuStock(8, 3, shards=4)

    lifecycle.record_payment_status(other.id, "succeeded", sctx)
    lifecycle.await_shipment(other.id, "shipment-token", sctx)  # the workflow's step that makes it paid
    assert sctx.inventory.get(sku) == SkuStock(5, 0, shards=4)
    assert sum(lv.on_hand for lv in _shards(sku, 4).values()) == 5


def test_concurrent_checkouts_on_a_hot_sku_never_oversell(sctx):
    sku = _hot(sctx, 30, 4)
    quantities = [1, 2, 3] * 8  # 48 units asked for, 30 on hand

    def attempt(i: int):
        try:
            return _checkout(sctx, sku, quantities[i], key=f"k{i}")
        except OutOfStock:
            return None

    with ThreadPoolExecutor(max_workers=8) as pool:
        placed = [o for o in pool.map(attempt, range(len(quantities))) if o is not None]
    shards = _shards(sku, 4)
    reserved = sum(o.lines[0].quantity for o in placed)
    assert reserved <= 30
    assert sum(lv.reserved for lv in shards.values()) == reserved
    assert sum(lv.on_hand for lv in shards.values()) == 30
    for i, lv in shards.items():  # each shard holds exactly what the orders say they drew from it
        assert lv.reserved == sum(q for o in placed for s, q in o.allocations[sku] if s == i)
    assert reserved >= 28, "a refusal is only for want of stock: at most a line's worth is left unsold"
    assert sctx.inventory.get(sku) == SkuStock(30, reserved, shards=4)


def test_a_sku_that_is_not_hot_keeps_its_one_item(sctx):
    sku = random_sku("COLD")
    make_product(sctx, (sku, 500), stock={sku: 5})
    order = _checkout(sctx, sku, 2)
    assert order.allocations == {}
    assert "allocation" not in OrderModel.get(order.id).lines[0]
    assert _shards(sku, 4) == {0: StockLevel(5, 2)}
    assert SkuModel.get(sku).shards is None
    assert sctx.inventory.get(sku) == StockLevel(5, 2)


def test_an_order_placed_before_the_flag_moves_the_skus_own_item(sctx):
    sku = random_sku("LATE")
    make_product(sctx, (sku, 500), stock={sku: 10})
    before = _checkout(sctx, sku, 4)
    catalog.set_stock(SetStock(sku, 10, 2), sctx)
    assert _shards(sku, 2) == {0: StockLevel(7, 4), 1: StockLevel(3)}, "shard 0 keeps its reservations"
    lifecycle.cancel(before.id, sctx, reason="changed my mind")
    assert _shards(sku, 2) == {0: StockLevel(7), 1: StockLevel(3)}
    assert sctx.inventory.get(sku) == SkuStock(10, 0, shards=2)


def test_shards_with_reservations_cannot_go_away_and_going_back_loses_no_unit(sctx):
    sku = _hot(sctx, 8, 4)
    order = _checkout(sctx, sku, 5)
    with pytest.raises(StockShardsBusy):
        catalog.set_stock(SetStock(sku, 8, 1), sctx)
    assert sctx.inventory.get(sku) == SkuStock(8, 5, shards=4), "nothing changed"
    lifecycle.cancel(order.id, sctx, reason="changed my mind")
    level = catalog.set_stock(SetStock(sku, 8, 1), sctx)
    assert level == StockLevel(8, 0)
    assert _shards(sku, 4) == {0: StockLevel(8)}
    assert SkuModel.get(sku).shards is None, "back to an ordinary SKU"


def test_restock_of_a_shard_taken_away_goes_to_the_skus_own_item(sctx):
    sku = _hot(sctx, 4, 2)
    order = _checkout(sctx, sku, 2)
    lifecycle.record_payment_status(order.id, "succeeded", sctx)
    lifecycle.await_shipment(order.id, "shipment-token", sctx)
    catalog.set_stock(SetStock(sku, 2, 1), sctx)  # nothing reserved any more: the shards fold into one
    lifecycle.cancel(order.id, sctx, reason="merchant canceled")  # paid, not shipped: the goods go back
    assert _shards(sku, 2) == {0: StockLevel(4)}


def test_adjustments_keep_every_shard_at_or_above_its_reservations(sctx):
    sku = _hot(sctx, 8, 4)
    _checkout(sctx, sku, 5)
    with pytest.raises(BelowReserved):
        catalog.adjust_stock(AdjustStock(sku, -4, "count"), sctx)
    level = catalog.adjust_stock(AdjustStock(sku, -3, "count"), sctx)
    assert level == SkuStock(5, 5, shards=4)
    assert all(lv.available == 0 for lv in _shards(sku, 4).values())
    assert catalog.adjust_stock(AdjustStock(sku, 6, "delivery"), sctx) == SkuStock(11, 5, shards=4)
    assert sorted(lv.available for lv in _shards(sku, 4).values()) == [1, 1, 2, 2]
    assert catalog.set_stock(SetStock(sku, 20), sctx) == SkuStock(20, 5, shards=4)
    with pytest.raises(BelowReserved):
        catalog.set_stock(SetStock(sku, 4), sctx)


def test_a_hot_sku_cannot_be_removed_from_its_product_until_it_is_one_item_again(sctx):
    keep, sku = random_sku("KEEP"), random_sku("HOT")
    product = make_product(sctx, (keep, 100), (sku, 100))
    catalog.set_stock(SetStock(sku, 4, 2), sctx)
    from chalicelib.domain.commands import UpdateProduct

    variants = tuple(v for v in product.variants if v.sku == keep)
    with pytest.raises(Conflict):
        catalog.update_product(UpdateProduct(product.id, {"variants": variants}), sctx)
    catalog.set_stock(SetStock(sku, 0, 1), sctx)
    catalog.update_product(UpdateProduct(product.id, {"variants": variants}), sctx)
    assert _shards(sku, 2) == {}


def test_a_return_of_a_hot_sku_goes_back_to_the_shards_its_line_drew_from(sctx, monkeypatch):
    from chalicelib.adapters.payments import SimulatedGateway
    from chalicelib.services import auth, returns

    auth.register_key("sk_it_hot_returns", "it", frozenset({"*"}), sctx)
    monkeypatch.setattr(returns, "_observers", [])
    rctx = replace(sctx, payments=SimulatedGateway())
    sku = _hot(rctx, 8, 4)  # 2 per shard
    order = _checkout(rctx, sku, 5)
    drawn = order.allocations[sku]
    lifecycle.record_payment_status(order.id, "succeeded", rctx)
    lifecycle.await_shipment(order.id, "shipment-token", rctx)
    lifecycle.record_shipment(order.id, "UPS", "1Z", rctx)
    before = _shards(sku, 4)
    ret = returns.request_return(order.id, "sk_it_hot_returns", [(sku, 3)], "too small", rctx, window_days=30)
    returns.receive(returns.approve(ret.id, rctx).id, rctx)
    after = _shards(sku, 4)
    back = {i: after[i].on_hand - before[i].on_hand for i in after if after[i].on_hand != before[i].on_hand}
    assert back == dict(part_of(drawn, 3)), "the first 3 units drawn go back where they came from"
    assert rctx.inventory.get(sku) == SkuStock(6, 0, shards=4)
