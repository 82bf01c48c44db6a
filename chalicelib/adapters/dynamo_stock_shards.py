"""Stock shards of hot SKUs in the SKU table (see domain/stock_shards): reading them into one level, and the
keys and writes of each shard. A SKU that is not hot is never read or written here beyond its own item."""
from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..domain.inventory import StockLevel
from ..domain.orders import StockMove
from ..domain.stock_shards import aggregate
from .dynamodb import stock_moves
from .models import SkuModel, SkuShardModel, bind


def shard_key(sku: str, shard: int) -> str:
    return sku if shard == 0 else f"{sku}#{shard}"


def shard_count(model: SkuModel) -> int:
    return max(int(model.shards or 1), 1)


def read_shards(counts: Mapping[str, int], *, consistent: bool = True, starts: Mapping[str, int] | None = None,
                window: int = 0) -> dict[str, dict[int, StockLevel]]:
    """Each SKU's shards 0..count-1 that exist, read in one batch; with `starts` and `window`, only `window`
    shards of each from its start on. A shard the merchant has since taken away is simply missing (nothing is
    planned on it)."""
    bind()

    def shards(sku: str, n: int) -> list[int]:
        n = max(n, 1)
        if starts is None or not window:
            return list(range(n))
        return sorted({(starts[sku] + j) % n for j in range(min(window, n))})

    keys = {shard_key(sku, i): (sku, i) for sku, n in counts.items() for i in shards(sku, n)}
    out: dict[str, dict[int, StockLevel]] = {sku: {} for sku in counts}
    if keys:
        for m in SkuShardModel.batch_get(list(keys), consistent_read=consistent):
            sku, i = keys[m.sku]
            out[sku][i] = StockLevel(int(m.on_hand), int(m.reserved))
    return out


def levels_of(models: Mapping[str, SkuModel]) -> dict[str, StockLevel]:
    """The stock of each SKU item read: its own for a SKU that is not hot (no extra read), the sum of its shards
    for a hot one (one batch read of the other shards)."""
    hot = {s: shard_count(m) for s, m in models.items() if shard_count(m) > 1}
    levels: dict[str, StockLevel] = {s: StockLevel(int(m.on_hand), int(m.reserved))
                                     for s, m in models.items() if s not in hot}
    if hot:
        others = read_shards(hot, consistent=False)
        for sku, n in hot.items():
            shards = {**others[sku], 0: StockLevel(int(models[sku].on_hand), int(models[sku].reserved))}
            levels[sku] = aggregate(shards, n)
    return levels


def existing(keys: Iterable[str]) -> set[str]:
    bind()
    wanted = list(dict.fromkeys(keys))
    return {m.sku for m in SkuShardModel.batch_get(wanted, attributes_to_get=["sku"])} if wanted else set()


def stock_writes(moves: list[StockMove], known: set[str] | None = None) -> dict[str, tuple[str, int]]:
    """The item write of each stock move, by item key: a move of shard i > 0 hits that shard's item, a move of
    shard 0 the SKU's own. Goods going back whose item is gone go to the SKU's own item (a shard the merchant
    took away since), or nowhere (a SKU deleted from the catalog since). One write per item. `known`: the
    SKUs the caller has just read to exist, enough when no restock is of a shard > 0 (no read of its own)."""
    restocks = [m for m in moves if m.kind == "restock"]
    keys = {shard_key(m.sku, m.shard) for m in restocks} | {m.sku for m in restocks}
    if known is not None and all(m.shard == 0 for m in restocks):
        there = set(known)
    else:
        there = existing(keys) if restocks else set()
    writes: dict[str, tuple[str, int]] = {}
    for m in moves:
        key = shard_key(m.sku, m.shard)
        if m.kind == "restock" and key not in there:
            if m.sku not in there:
                continue
            key = m.sku
        kind, qty = writes.get(key, (m.kind, 0))
        writes[key] = (kind, qty + m.quantity)
    return writes


def shard_item(sku: str, shard: int) -> SkuShardModel:
    return SkuShardModel(shard_key(sku, shard))


SHARD_MOVES = stock_moves(SkuShardModel)
