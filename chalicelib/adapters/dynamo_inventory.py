"""Stock levels on the SKU items: every move is a conditional update."""
from __future__ import annotations

from pynamodb.exceptions import UpdateError

from ..domain.errors import BelowReserved, Conflict, FieldError, Invalid, NotFound, OutOfStock
from ..domain.inventory import StockLevel
from ..domain.stock_shards import check_count, reshard, spread
from ..services import ports
from ..services.ports import StaleWrite
from .dynamo_stock_shards import levels_of, read_shards, shard_count, shard_item, shard_key
from .dynamodb import STOCK_MOVES, Tx, batch_skus, conditional_failure
from .models import SkuModel, SkuShardModel, bind

_STOCK_RETRIES = 10
# The one-item writes below hold only for a SKU that is not hot; a hot SKU's stock moves shard by shard.
_NOT_HOT = SkuModel.shards.does_not_exist() | (SkuModel.shards <= 1)


class _Hot(Exception):
    """The SKU turned out to be hot: its stock is over shard items."""


def stock_levels(skus: list[str]) -> dict[str, StockLevel]:
    return levels_of(batch_skus(skus))


class DynamoInventory(ports.Inventory):
    def get(self, sku: str) -> StockLevel | None:
        """One on_hand/reserved/available: a hot SKU's is the sum of its shards (a SkuStock, with its count)."""
        return self.levels([sku]).get(sku)

    def levels(self, skus: list[str]) -> dict[str, StockLevel]:
        return stock_levels(skus)

    def _update(self, sku: str, actions, condition, on_refusal: Exception, *, whole: bool = True) -> StockLevel:
        """One conditional write of the SKU's item. `whole`: the write stands for the SKU's whole stock, so it
        holds only while the SKU is not hot (else _Hot); a reservation's own moves hold on shard 0 as well."""
        bind()
        item = SkuModel(sku)
        try:
            guard = SkuModel.sku.exists() & _NOT_HOT if whole else SkuModel.sku.exists()
            item.update(actions=actions, condition=guard & condition)
        except UpdateError as exc:
            if not conditional_failure(exc):
                raise
            base = batch_skus([sku]).get(sku)
            if base is None:
                raise NotFound(f"unknown SKU {sku}") from exc
            if whole and shard_count(base) > 1:
                raise _Hot(sku) from exc
            raise on_refusal from exc
        return StockLevel(int(item.on_hand), int(item.reserved))

    def set_on_hand(self, sku: str, on_hand: int, shards: int | None = None) -> StockLevel:
        if shards is not None:
            check_count(shards)
        for _ in range(_STOCK_RETRIES):
            base = batch_skus([sku]).get(sku)
            if base is None:
                raise NotFound(f"unknown SKU {sku}")
            if shard_count(base) > 1 or (shards or 1) > 1:
                return self._rewrite(sku, shards or shard_count(base), on_hand)
            current = StockLevel(int(base.on_hand), int(base.reserved))
            current.set_on_hand(on_hand)  # raises BelowReserved when the rule says no
            try:
                return self._update(sku, [SkuModel.on_hand.set(on_hand),
                                          SkuModel.available.set(on_hand - current.reserved)],
                                    SkuModel.reserved == current.reserved, StaleWrite(sku))
            except (StaleWrite, _Hot):
                continue
        raise Conflict(f"stock of {sku} is changing too fast; try again")

    def adjust(self, sku: str, delta: int) -> StockLevel:
        if delta == 0:
            level = self.get(sku)
            if level is None:
                raise NotFound(f"unknown SKU {sku}")
            return level
        try:
            return self._update(sku, [SkuModel.on_hand.add(delta), SkuModel.available.add(delta)],
                                SkuModel.available >= -delta,
                                BelowReserved("on hand cannot go below what is reserved",
                                              [FieldError("delta", "would take on hand below what is reserved")]))
        except _Hot:
            return self._adjust_shards(sku, delta)

    def _current(self, sku: str) -> tuple[SkuModel, dict[int, StockLevel]]:
        bind()
        try:
            base = SkuModel.get(sku, consistent_read=True)
        except SkuModel.DoesNotExist:
            raise NotFound(f"unknown SKU {sku}") from None
        return base, read_shards({sku: shard_count(base)})[sku]

    def _adjust_shards(self, sku: str, delta: int) -> StockLevel:
        """Spreads the adjustment over the shards (domain/stock_shards.spread), each shard's move guarded by its
        own available units, all in one transaction; a plan that loses a race is made again from fresh reads."""
        for _ in range(_STOCK_RETRIES):
            base, levels = self._current(sku)
            moves = spread(levels, delta)  # raises BelowReserved when the SKU has not got that much available
            tx = Tx()
            for shard, d in moves.items():
                model = SkuModel if shard == 0 else SkuShardModel
                condition = model.sku.exists() & (model.available >= -d if d < 0 else model.on_hand >= 0)
                tx.update(("shard", shard), model(shard_key(sku, shard)),
                          [model.on_hand.add(d), model.available.add(d)], condition)
            if not tx.commit():
                return self.get(sku)
        raise Conflict(f"stock of {sku} is changing too fast; try again")

    def _rewrite(self, sku: str, count: int, on_hand: int | None) -> StockLevel:
        """Lays the SKU's stock out over `count` shards holding `on_hand` in all (domain/stock_shards.reshard)
        in one transaction: every shard that stays is moved by a delta under the on-hand figure it was read
        at (reservations may go on meanwhile: each decrease is also guarded by what is available), new shards
        are created empty of reservations, and shards that go away are deleted only with nothing reserved
        and the on-hand figure read, their units moved to the others. The base item's shard count changes
        in the same transaction, guarded by the count read. A lost race is read and planned again."""
        for _ in range(_STOCK_RETRIES):
            base, levels = self._current(sku)  # every shard there is, those going away too
            old = shard_count(base)
            targets = reshard(levels, count, on_hand)
            tx = Tx()
            for shard in range(count):
                target = targets[shard]
                if shard not in levels:
                    tx.save(("shard", shard), SkuShardModel(shard_key(sku, shard), shard_of=sku, on_hand=target,
                                                            reserved=0, available=target),
                            SkuShardModel.sku.does_not_exist())
                    continue
                d = target - levels[shard].on_hand
                model = SkuModel if shard == 0 else SkuShardModel
                actions = [model.on_hand.add(d), model.available.add(d)]
                condition = model.sku.exists() & (model.on_hand == levels[shard].on_hand)
                if d < 0:
                    condition &= model.available >= -d
                if shard == 0:
                    actions.append(SkuModel.shards.set(count) if count > 1 else SkuModel.shards.remove())
                    condition &= _NOT_HOT if old == 1 else SkuModel.shards == old
                tx.update(("shard", shard), model(shard_key(sku, shard)), actions, condition)
            for shard in sorted(s for s in levels if s >= count):
                tx.delete(("shard", shard), shard_item(sku, shard),
                          (SkuShardModel.reserved == 0) & (SkuShardModel.on_hand == levels[shard].on_hand))
            if not tx.commit():
                level = self.get(sku)
                if level is None:
                    raise NotFound(f"unknown SKU {sku}")
                return level
        raise Conflict(f"stock of {sku} is changing too fast; try again")

    def _move(self, kind: str, sku: str, qty: int, refusal: Exception) -> StockLevel:
        _positive(qty)
        actions, condition = STOCK_MOVES[kind](qty)
        return self._update(sku, actions, condition, refusal, whole=False)

    def reserve(self, sku: str, qty: int) -> StockLevel:
        return self._move("reserve", sku, qty, OutOfStock("not enough stock", [FieldError(sku, "not enough stock")]))

    def release(self, sku: str, qty: int) -> StockLevel:
        return self._move("release", sku, qty, Invalid(f"fewer than {qty} units of {sku} are reserved"))

    def commit(self, sku: str, qty: int) -> StockLevel:
        return self._move("commit", sku, qty, Invalid(f"fewer than {qty} units of {sku} are reserved"))


def _positive(qty: int) -> None:
    if qty <= 0:
        raise Invalid("quantity must be positive")
