"""Stock levels on the SKU items: every move is a conditional update."""
from __future__ import annotations

from pynamodb.exceptions import UpdateError

from ..domain.errors import BelowReserved, Conflict, FieldError, Invalid, NotFound, OutOfStock
from ..domain.inventory import StockLevel
from ..services import ports
from ..services.ports import StaleWrite
from .dynamodb import STOCK_MOVES, batch_skus, conditional_failure
from .models import SkuModel, bind

_STOCK_RETRIES = 10


def stock_levels(skus: list[str]) -> dict[str, StockLevel]:
    return {s: StockLevel(int(m.on_hand), int(m.reserved)) for s, m in batch_skus(skus).items()}


class DynamoInventory(ports.Inventory):
    def get(self, sku: str) -> StockLevel | None:
        return self.levels([sku]).get(sku)

    def levels(self, skus: list[str]) -> dict[str, StockLevel]:
        return stock_levels(skus)

    def _update(self, sku: str, actions, condition, on_refusal: Exception) -> StockLevel:
        bind()
        item = SkuModel(sku)
        try:
            item.update(actions=actions, condition=SkuModel.sku.exists() & condition)
        except UpdateError as exc:
            if not conditional_failure(exc):
                raise
            if self.get(sku) is None:
                raise NotFound(f"unknown SKU {sku}") from exc
            raise on_refusal from exc
        return StockLevel(int(item.on_hand), int(item.reserved))

    def set_on_hand(self, sku: str, on_hand: int) -> StockLevel:
        for _ in range(_STOCK_RETRIES):
            current = self.get(sku)
            if current is None:
                raise NotFound(f"unknown SKU {sku}")
            current.set_on_hand(on_hand)  # raises BelowReserved when the rule says no
            try:
                return self._update(sku, [SkuModel.on_hand.set(on_hand),
                                          SkuModel.available.set(on_hand - current.reserved)],
                                    SkuModel.reserved == current.reserved, StaleWrite(sku))
            except StaleWrite:
                continue
        raise Conflict(f"stock of {sku} is changing too fast; try again")

    def adjust(self, sku: str, delta: int) -> StockLevel:
        if delta == 0:
            level = self.get(sku)
            if level is None:
                raise NotFound(f"unknown SKU {sku}")
            return level
        return self._update(sku, [SkuModel.on_hand.add(delta), SkuModel.available.add(delta)],
                            SkuModel.available >= -delta,
                            BelowReserved("on hand cannot go below what is reserved",
                                          [FieldError("delta", "would take on hand below what is reserved")]))

    def _move(self, kind: str, sku: str, qty: int, refusal: Exception) -> StockLevel:
        _positive(qty)
        actions, condition = STOCK_MOVES[kind](qty)
        return self._update(sku, actions, condition, refusal)

    def reserve(self, sku: str, qty: int) -> StockLevel:
        return self._move("reserve", sku, qty, OutOfStock("not enough stock", [FieldError(sku, "not enough stock")]))

    def release(self, sku: str, qty: int) -> StockLevel:
        return self._move("release", sku, qty, Invalid(f"fewer than {qty} units of {sku} are reserved"))

    def commit(self, sku: str, qty: int) -> StockLevel:
        return self._move("commit", sku, qty, Invalid(f"fewer than {qty} units of {sku} are reserved"))


def _positive(qty: int) -> None:
    if qty <= 0:
        raise Invalid("quantity must be positive")
