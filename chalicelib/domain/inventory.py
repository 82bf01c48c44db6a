"""Stock rules. The DynamoDB adapter enforces the same rules as conditional writes; this model is
the reference the property-based tests compare it against."""
from __future__ import annotations

from dataclasses import dataclass

from .errors import BelowReserved, Invalid, OutOfStock


@dataclass(frozen=True)
class StockLevel:
    on_hand: int = 0
    reserved: int = 0

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved

    def reserve(self, qty: int) -> StockLevel:
        _positive(qty)
        if qty > self.available:
            raise OutOfStock(f"only {self.available} available")
        return StockLevel(self.on_hand, self.reserved + qty)

    def release(self, qty: int) -> StockLevel:
        _positive(qty)
        if qty > self.reserved:
            raise Invalid(f"cannot release {qty}, only {self.reserved} reserved")
        return StockLevel(self.on_hand, self.reserved - qty)

    def commit(self, qty: int) -> StockLevel:
        """A paid reservation leaves the shelf: on hand and reserved both drop."""
        _positive(qty)
        if qty > self.reserved:
            raise Invalid(f"cannot commit {qty}, only {self.reserved} reserved")
        return StockLevel(self.on_hand - qty, self.reserved - qty)

    def adjust(self, delta: int) -> StockLevel:
        _integer(delta)
        return self.set_on_hand(self.on_hand + delta)

    def set_on_hand(self, on_hand: int) -> StockLevel:
        _integer(on_hand)
        if on_hand < 0:
            raise BelowReserved("on hand cannot be negative")
        if on_hand < self.reserved:
            raise BelowReserved(f"{self.reserved} units are reserved; on hand cannot go below that")
        return StockLevel(on_hand, self.reserved)


def _integer(value: int) -> None:
    # Same rule as the cart's quantities: a bool or float is not a count of units.
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid("quantity must be an integer")


def _positive(qty: int) -> None:
    _integer(qty)
    if qty <= 0:
        raise Invalid("quantity must be positive")
