"""The returns repository port (and the ledger it keeps per order)."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace

from ..domain.returns import Return
from .ports import Page


@dataclass(frozen=True)
class Ledger:
    """The units of each SKU of one order that its returns hold (requested, approved, received, refunded), and
    what they refund. Written in the same transaction as every request and rejection, over the version read."""

    order_id: str
    held: dict[str, int]
    version: int = 0
    # What those returns refund for each SKU, in minor units: the next return of a line is priced on from it.
    # None for a ledger written before it was kept (its returns are then priced from the units alone).
    refunds: dict[str, int] | None = field(default_factory=dict)

    def changed(self, ret: Return, sign: int) -> Ledger:
        held = dict(self.held)
        refunds = None if self.refunds is None else dict(self.refunds)
        for line in ret.lines:
            held[line.sku] = held.get(line.sku, 0) + sign * line.quantity
            if refunds is not None:
                refunds[line.sku] = refunds.get(line.sku, 0) + sign * line.refund.amount
        return replace(self, held=held, refunds=refunds)


class Returns(ABC):
    @abstractmethod
    def get(self, return_id: str) -> Return | None: ...

    @abstractmethod
    def ledger(self, order_id: str) -> Ledger:
        """The order's ledger (empty, version 0, when it has no returns yet); read consistently."""

    @abstractmethod
    def add(self, ret: Return, ledger: Ledger) -> Return:
        """Create the return and write `ledger` over the version it was read at, in one transaction.
        Raises StaleWrite if the ledger changed meanwhile."""

    @abstractmethod
    def save(self, ret: Return, *, ledger: Ledger | None = None, restock: bool = False) -> Return:
        """Write the return over the version read, with `ledger` (over its version) and, with `restock`,
        every line's units back on hand: all in one transaction. Raises StaleWrite if either changed."""

    @abstractmethod
    def for_order(self, order_id: str) -> list[Return]:
        """The order's returns, newest first."""

    @abstractmethod
    def list(self, *, status: str | None, limit: int, cursor: str | None) -> Page[Return]:
        """Newest first (by the second they were asked for, then by id)."""
