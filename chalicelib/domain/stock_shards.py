"""Stock shards of a hot SKU. One item takes at most about 500 reservations/s (a partition's 1,000 WCU,
2 WCU per transactional write), so a SKU the merchant flags as hot keeps its stock over `count` shard items:
shard 0 is the SKU's own item, shards 1..count-1 are items of their own. Each shard is a StockLevel with the
same rules (on hand >= reserved); the SKU's stock is their sum.

Everything here is pure: it plans which shards a reservation draws from, how an adjustment or a new on-hand
figure spreads over them, and how a change of shard count moves units between them without making or losing
one. The DynamoDB adapter carries the plans out as conditional, transactional writes and plans again from
fresh reads when a plan loses a race."""
from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import BelowReserved, Conflict, FieldError, Invalid, OutOfStock
from .inventory import StockLevel

MAX_SHARDS = 32
# What `shards` means when a merchant flags a SKU hot without a figure of their own in mind: 4 items take
# about 2,000 reservations/s, and 8 leave room for bursts and an uneven spread (see docs/benchmarks.md).
HOT_SHARDS = 8
# A DynamoDB transaction holds at most 100 items.
MAX_TRANSACTION_ITEMS = 100

Allocation = tuple[tuple[int, int], ...]  # (shard, quantity) by shard, each quantity > 0, each shard once


class StockShardsBusy(Conflict):
    slug = "stock_shards_busy"
    title = "Stock shards cannot change now"


@dataclass(frozen=True)
class SkuStock(StockLevel):
    """A SKU's stock as the merchant sees it: the sum of its shards, and how many there are."""

    shards: int = 1


def check_count(count: int) -> int:
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_SHARDS:
        raise Invalid(f"shards must be 1..{MAX_SHARDS}", [FieldError("shards", f"must be 1..{MAX_SHARDS}")])
    return count


def aggregate(levels: Mapping[int, StockLevel], shards: int | None = None) -> SkuStock:
    """One on_hand/reserved/available for the SKU: the sum over its shards."""
    return SkuStock(on_hand=sum(lv.on_hand for lv in levels.values()),
                    reserved=sum(lv.reserved for lv in levels.values()),
                    shards=shards if shards is not None else max(len(levels), 1))


def start_shard(key: str, count: int, attempt: int = 0) -> int:
    """Where a reservation starts looking: spread by its key (order id and SKU), so concurrent orders land
    on different items, and moved on by each attempt after a lost race."""
    return (zlib.crc32(key.encode()) + attempt) % max(count, 1)


def plan(levels: Mapping[int, StockLevel], qty: int, *, start: int = 0,
         max_parts: int = MAX_SHARDS) -> Allocation:
    """The shards to draw `qty` from. One shard that holds it all, looking from `start` on, if there is one
    (one item per line keeps a transaction small); else the shards in turn from `start`; and if that takes
    more than `max_parts` items, the fullest shards first. Never more than a shard has available; raises
    OutOfStock when the SKU has not got `qty` available, or not within `max_parts` items."""
    if isinstance(qty, bool) or not isinstance(qty, int) or qty <= 0:
        raise Invalid("quantity must be positive")
    shards = sorted(levels)
    if not shards:
        raise OutOfStock("no stock")
    i = next((k for k, s in enumerate(shards) if s >= start), 0)
    ring = shards[i:] + shards[:i]
    whole = next((s for s in ring if levels[s].available >= qty), None)
    if whole is not None:
        return ((whole, qty),)
    total = sum(max(levels[s].available, 0) for s in shards)
    if total < qty:
        raise OutOfStock(f"only {total} available")
    for order in (ring, sorted(ring, key=lambda s: -levels[s].available)):
        parts, left = [], qty
        for s in order:
            take = min(max(levels[s].available, 0), left)
            if take > 0:
                parts.append((s, take))
                left -= take
            if left == 0:
                break
        if len(parts) <= max_parts:
            return tuple(sorted(parts))  # by shard: the order it is stored in, so it reads back the same
    raise OutOfStock(f"{qty} units are spread over more than {max_parts} shards")


def part_of(allocation: Allocation, qty: int) -> Allocation:
    """The first `qty` units of an allocation, in its order (a part of a line going back to the shelf)."""
    parts, left = [], qty
    for shard, n in allocation:
        take = min(n, left)
        if take > 0:
            parts.append((shard, take))
            left -= take
    if left > 0:
        if not parts:
            return ((0, qty),)
        shard, n = parts[-1]
        parts[-1] = (shard, n + left)  # more than was drawn: the rest goes where the last part came from
    return tuple(parts)


def encode(allocation: Allocation) -> dict[str, int]:
    return {str(shard): qty for shard, qty in allocation}


def decode(value: Mapping[str, object] | None) -> Allocation:
    if not value:
        return ()
    return tuple(sorted(((int(k), int(v)) for k, v in value.items()), key=lambda p: p[0]))


def spread(levels: Mapping[int, StockLevel], delta: int) -> dict[int, int]:
    """How an on-hand adjustment of `delta` spreads over the shards: units taken away come out of what is
    available, fullest shards first (no shard goes below what it has reserved); units added go to the
    emptiest shards first, evening them out. Raises BelowReserved when the SKU has not got `-delta` available."""
    if not levels:
        raise Invalid("no shards")
    if delta == 0:
        return {}
    if delta < 0:
        total = sum(max(lv.available, 0) for lv in levels.values())
        if -delta > total:
            raise BelowReserved("on hand cannot go below what is reserved",
                                [FieldError("delta", "would take on hand below what is reserved")])
        moves, left = {}, -delta
        for s in sorted(levels, key=lambda k: (-levels[k].available, k)):
            take = min(max(levels[s].available, 0), left)
            if take:
                moves[s] = -take
                left -= take
            if not left:
                break
        return moves
    targets = _even_out({s: lv.available for s, lv in levels.items()}, delta)
    return {s: targets[s] - levels[s].available for s in levels if targets[s] != levels[s].available}


def _even_out(available: Mapping[int, int], units: int) -> dict[int, int]:
    """Adds `units` to the smallest values first (water filling), ties broken by the lower shard."""
    order = sorted(available, key=lambda k: (available[k], k))
    values = [available[k] for k in order]
    left, n = units, 0
    # Raise the lowest n values to the next level while the units last.
    while n < len(values):
        n += 1
        level = values[n] if n < len(values) else None
        need = (level - values[n - 1]) * n if level is not None else None
        if need is None or need > left:
            base = values[n - 1] + left // n
            extra = left % n
            out = {k: base + (1 if i < extra else 0) for i, k in enumerate(order[:n])}
            out.update({k: values[i] for i, k in enumerate(order) if i >= n})
            return out
        left -= need
        values[:n] = [level] * n
    raise AssertionError("unreachable")


def reshard(levels: Mapping[int, StockLevel], count: int, on_hand: int | None = None) -> dict[int, int]:
    """New on-hand figures for shards 0..count-1, holding `on_hand` in all (by default what the shards hold
    now), each at least what it has reserved, with what is available spread evenly. Shards at `count` and
    above go away: each must have nothing reserved (else StockShardsBusy), and their units move to the
    shards that stay. With `on_hand` left out, no unit is made or lost."""
    check_count(count)
    total = sum(lv.on_hand for lv in levels.values()) if on_hand is None else on_hand
    if isinstance(total, bool) or not isinstance(total, int) or total < 0:
        raise BelowReserved("on hand cannot be negative")
    leaving = sorted(s for s in levels if s >= count and levels[s].reserved)
    if leaving:
        raise StockShardsBusy(f"shards {', '.join(map(str, leaving))} have reserved units; try again when "
                              "those orders are paid or canceled",
                              [FieldError("shards", "the shards that would go away have reserved units")])
    reserved = {s: (levels[s].reserved if s in levels else 0) for s in range(count)}
    held = sum(reserved.values())
    if total < held:
        raise BelowReserved(f"{held} units are reserved; on hand cannot go below that")
    free = _even_out({s: 0 for s in range(count)}, total - held)
    return {s: reserved[s] + free[s] for s in range(count)}
