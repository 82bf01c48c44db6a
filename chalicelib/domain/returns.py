"""Returns: a shopper asks to send units of a shipped order back, the merchant approves or rejects, the
warehouse receives the goods, and the shopper gets back what they paid for those units.

Pure rules only: what may be returned, what each returned unit refunds, and the order of statuses.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from .errors import Conflict, FieldError, Invalid, InvalidTransition
from .money import Money

REQUESTED = "requested"
APPROVED = "approved"
RECEIVED = "received"
REFUNDED = "refunded"
REJECTED = "rejected"

TRANSITIONS: dict[str, frozenset[str]] = {
    REQUESTED: frozenset({APPROVED, REJECTED}),
    APPROVED: frozenset({RECEIVED, REJECTED}),
    RECEIVED: frozenset({REFUNDED}),
    REFUNDED: frozenset(),
    REJECTED: frozenset(),
}
STATUSES = tuple(TRANSITIONS)
# A return in one of these holds its units: nobody may ask to return them again.
HOLDS_UNITS = frozenset({REQUESTED, APPROVED, RECEIVED, REFUNDED})


class ReturnNotAllowed(Conflict):
    slug = "return_not_allowed"
    title = "The order cannot be returned"


class ReturnQuantityExceeded(Conflict):
    slug = "return_quantity_exceeded"
    title = "More units than are left to return"


def divide_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half up (both non-negative), in integers: no float ever sees money."""
    if denominator <= 0 or numerator < 0:
        raise ValueError("divide_half_up takes a non-negative numerator and a positive denominator")
    return (2 * numerator + denominator) // (2 * denominator)


@dataclass(frozen=True)
class PaidLine:
    """What the order's record says the shopper paid for one line: `paid` is the whole line's share of the
    payment (line total less its discount, plus its tax where prices exclude tax)."""

    sku: str
    quantity: int
    paid: Money

    @classmethod
    def of(cls, sku: str, quantity: int, *, total: Money, discount: Money, tax: Money,
           prices_include_tax: bool) -> PaidLine:
        paid = total - discount if prices_include_tax else total - discount + tax
        return cls(sku, quantity, paid)

    def refund_for(self, units: int) -> Money:
        """round(units × paid / quantity), half up. Shipping is never part of it."""
        return Money(divide_half_up(units * self.paid.amount, self.quantity), self.paid.currency)

    def share(self, units: int, already: int = 0, already_refunds: Money | None = None) -> Money:
        """What `units` more refund when `already` units of the line are held by other returns, which refund
        `already_refunds` together (by default the rounded share of those units): the rounded share of all of
        them less that, never below 0. The first return of a line refunds exactly `refund_for(units)`;
        returns that together take the whole line refund exactly what it paid, even when a return rejected in
        between freed units whose share was rounded the other way."""
        held = already_refunds if already_refunds is not None else self.refund_for(already)
        return Money(max((self.refund_for(already + units) - held).amount, 0), self.paid.currency)


def paid_lines(order) -> list[PaidLine]:
    """What each line of `order` paid, from what the order records. The one place that reads an order's
    price breakdown for returns: a line without a recorded `discount` or `tax` had none, and an order that
    does not record `prices_include_tax` was priced with tax excluded."""
    breakdown = getattr(order, "pricing", None)  # an Order's breakdown, fixed at checkout
    include_tax = bool(breakdown.prices_include_tax if breakdown is not None
                       else getattr(order, "prices_include_tax", False))
    out = []
    for line in order.lines:
        zero = Money.zero(line.total.currency)
        priced = breakdown.line(line.sku) if breakdown is not None else line
        out.append(PaidLine.of(line.sku, line.quantity, total=line.total,
                               discount=getattr(priced, "discount", None) or zero,
                               tax=getattr(priced, "tax", None) or zero, prices_include_tax=include_tax))
    return out


@dataclass(frozen=True)
class ReturnLine:
    sku: str
    quantity: int
    refund: Money


@dataclass(frozen=True)
class StatusChange:
    status: str
    at: datetime


@dataclass(frozen=True)
class ReturnRequested:
    return_id: str
    order_id: str


@dataclass(frozen=True)
class ReturnStatusChanged:
    return_id: str
    order_id: str
    status: str


@dataclass(frozen=True)
class Return:
    id: str
    order_id: str
    status: str
    lines: tuple[ReturnLine, ...]
    reason: str
    currency: str
    created_at: datetime
    updated_at: datetime
    history: tuple[StatusChange, ...]
    rejection_reason: str = ""
    refund_id: str = ""  # the order's refund that paid this return back
    refunded: Money | None = None  # what that refund gave back (less than refund_total only if less was left)
    version: int = 0
    events: list = field(default_factory=list, compare=False, repr=False)

    @property
    def refund_total(self) -> Money:
        total = Money.zero(self.currency)
        for line in self.lines:
            total = total + line.refund
        return total

    @property
    def holds_units(self) -> bool:
        return self.status in HOLDS_UNITS

    @classmethod
    def request(cls, *, return_id: str, order_id: str, order_status: str, shipped_at: datetime | None,
                paid_lines: Iterable[PaidLine], asked: Iterable[tuple[str, int]], others: Iterable[Return] = (),
                reason: str, currency: str, at: datetime, window_days: int,
                held: Mapping[str, int] | None = None, held_refunds: Mapping[str, int] | None = None) -> Return:
        """A shopper's request, checked against the order and the returns it already has: `others`, or
        `held`, the units of each SKU they hold, and `held_refunds`, what those returns refund in minor units
        (as the store's ledger of the order's returns keeps them; without it, the rounded share of the units)."""
        if order_status != "shipped" or shipped_at is None:
            raise ReturnNotAllowed(f"order {order_id} is {order_status}; only a shipped order can be returned")
        if at > shipped_at + timedelta(days=window_days):
            raise ReturnNotAllowed(f"order {order_id} shipped more than {window_days} days ago")
        by_sku = {line.sku: line for line in paid_lines}
        wanted = _asked_by_sku(asked, by_sku)
        if held is None:
            held, held_refunds = held_units(others), held_refund_amounts(others)
        held = dict(held)
        left = {sku: max(line.quantity - held.get(sku, 0), 0) for sku, line in by_sku.items()}
        over = [FieldError(f"lines[{i}].quantity", f"{sku}: {left.get(sku, 0)} left to return")
                for i, (sku, qty) in enumerate(wanted.items()) if qty > left.get(sku, 0)]
        if over:
            raise ReturnQuantityExceeded("more units than were shipped and are not already being returned", over)
        lines = tuple(ReturnLine(sku, qty, by_sku[sku].share(qty, held.get(sku, 0), None if held_refunds is None else
                                                              Money(held_refunds.get(sku, 0), currency)))
                      for sku, qty in wanted.items())
        created = cls(id=return_id, order_id=order_id, status=REQUESTED, lines=lines, reason=reason,
                      currency=currency, created_at=at, updated_at=at, history=(StatusChange(REQUESTED, at),))
        created.events.append(ReturnRequested(return_id, order_id))
        return created

    def approve(self, at: datetime) -> Return:
        return self._move(APPROVED, at)

    def reject(self, reason: str, at: datetime) -> Return:
        return replace(self._move(REJECTED, at), rejection_reason=reason)

    def receive(self, at: datetime) -> Return:
        """The goods are back: their units go on hand in the same write (the caller's stock moves)."""
        return self._move(RECEIVED, at)

    def mark_refunded(self, at: datetime, *, refund_id: str = "", amount: Money | None = None) -> Return:
        refunded = amount if amount is not None else self.refund_total
        return replace(self._move(REFUNDED, at), refund_id=refund_id, refunded=refunded)

    def _move(self, target: str, at: datetime) -> Return:
        if target not in TRANSITIONS.get(self.status, frozenset()):
            raise InvalidTransition(f"return {self.id} is {self.status}; it cannot become {target}")
        moved = replace(self, status=target, updated_at=at, history=self.history + (StatusChange(target, at),),
                        events=list(self.events))
        moved.events.append(ReturnStatusChanged(self.id, self.order_id, target))
        return moved


def held_units(returns: Iterable[Return]) -> dict[str, int]:
    """Units of each SKU that returns holding units hold."""
    held: dict[str, int] = {}
    for other in returns:
        if other.holds_units:
            for line in other.lines:
                held[line.sku] = held.get(line.sku, 0) + line.quantity
    return held


def held_refund_amounts(returns: Iterable[Return]) -> dict[str, int]:
    """What returns holding units refund for each SKU, in minor units."""
    amounts: dict[str, int] = {}
    for other in returns:
        if other.holds_units:
            for line in other.lines:
                amounts[line.sku] = amounts.get(line.sku, 0) + line.refund.amount
    return amounts


def returnable(paid_lines: Iterable[PaidLine], others: Iterable[Return]) -> dict[str, int]:
    """Units of each SKU still free to return: shipped, less what returns that hold units hold."""
    held = held_units(others)
    return {line.sku: max(line.quantity - held.get(line.sku, 0), 0) for line in paid_lines}


def _asked_by_sku(asked: Iterable[tuple[str, int]], known: Mapping[str, PaidLine]) -> dict[str, int]:
    wanted: dict[str, int] = {}
    errors = []
    for i, (sku, qty) in enumerate(asked):
        if sku not in known:
            errors.append(FieldError(f"lines[{i}].sku", f"{sku} is not a line of this order"))
        elif sku in wanted:
            errors.append(FieldError(f"lines[{i}].sku", f"{sku} is asked for twice"))
        elif isinstance(qty, bool) or not isinstance(qty, int) or qty < 1:
            errors.append(FieldError(f"lines[{i}].quantity", "must be a whole number of at least 1"))
        else:
            wanted[sku] = qty
    if not wanted and not errors:
        errors.append(FieldError("lines", "at least one line"))
    if errors:
        raise Invalid("invalid return request", errors)
    return wanted
