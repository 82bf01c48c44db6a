from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from .cart import PricedLine
from .errors import InvalidTransition
from .money import Money, total

PENDING_PAYMENT = "pending_payment"
PAID = "paid"
SHIPPED = "shipped"
CANCELED = "canceled"
REFUNDED = "refunded"

TRANSITIONS: dict[str, frozenset[str]] = {
    PENDING_PAYMENT: frozenset({PAID, CANCELED}),
    PAID: frozenset({SHIPPED, CANCELED, REFUNDED}),
    SHIPPED: frozenset({REFUNDED}),
    CANCELED: frozenset(),
    REFUNDED: frozenset(),
}
STATUSES = tuple(TRANSITIONS)


def can_transition(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, frozenset())


@dataclass(frozen=True)
class Address:
    name: str
    line1: str
    city: str
    postal_code: str
    country: str
    line2: str | None = None
    region: str | None = None


@dataclass(frozen=True)
class Payment:
    provider: str
    payment_intent_id: str
    status: str
    client_secret: str = ""


@dataclass(frozen=True)
class Fulfillment:
    carrier: str
    tracking_number: str
    shipped_at: datetime


@dataclass(frozen=True)
class StatusChange:
    status: str
    at: datetime


@dataclass(frozen=True)
class OrderPlaced:
    order_id: str
    total: Money


@dataclass(frozen=True)
class OrderStatusChanged:
    order_id: str
    status: str


@dataclass(frozen=True)
class Order:
    id: str
    status: str
    email: str
    lines: tuple[PricedLine, ...]
    shipping_address: Address
    payment: Payment
    access_token_hash: str
    created_at: datetime
    updated_at: datetime
    history: tuple[StatusChange, ...]
    currency: str
    cart_id: str = ""
    fulfillment: Fulfillment | None = None
    refunded: Money | None = None
    events: list = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def place(cls, *, order_id: str, cart_id: str, email: str, lines: list[PricedLine], currency: str,
              shipping_address: Address, payment: Payment, access_token_hash: str, at: datetime) -> Order:
        order = cls(id=order_id, status=PENDING_PAYMENT, email=email, lines=tuple(lines),
                    shipping_address=shipping_address, payment=payment, access_token_hash=access_token_hash,
                    created_at=at, updated_at=at, history=(StatusChange(PENDING_PAYMENT, at),),
                    currency=currency, cart_id=cart_id, refunded=Money.zero(currency))
        order.events.append(OrderPlaced(order_id, order.total))
        return order

    @property
    def subtotal(self) -> Money:
        return total([line.total for line in self.lines], self.currency)

    @property
    def total(self) -> Money:
        return self.subtotal

    def transition(self, target: str, at: datetime) -> Order:
        if not can_transition(self.status, target):
            raise InvalidTransition(f"order {self.id} is {self.status}; it cannot become {target}")
        moved = replace(self, status=target, updated_at=at, history=self.history + (StatusChange(target, at),),
                        events=list(self.events))
        moved.events.append(OrderStatusChanged(self.id, target))
        return moved
