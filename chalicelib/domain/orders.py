from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from .address import Address
from .cart import Priced, PricedLine
from .errors import InvalidTransition
from .ids import derived_id
from .money import Money
from .pricing import AppliedCode, Breakdown, CodeRelease, ShippingChoice, price
from .stock_shards import Allocation, part_of

NO_PROVIDER = "none"  # a total of 0: nothing to charge
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
class Payment:
    provider: str
    payment_intent_id: str
    status: str
    client_secret: str = ""
    idempotency_key: str = ""  # the key the intent was created with: asking again returns the same intent


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
class StockMove:
    """What an order change does to one SKU's stock: `release` a reservation, `commit` it when the goods
    are paid for (they leave on hand), or `restock` committed goods that will not ship after all."""

    sku: str
    kind: str  # reserve | release | commit | restock
    quantity: int
    shard: int = 0  # the stock shard of a hot SKU it moves (domain/stock_shards); 0 is the SKU's own item


@dataclass(frozen=True)
class Refund:
    id: str
    amount: Money
    status: str  # pending | succeeded | failed
    reason: str
    created_at: datetime
    provider_refund_id: str = ""
    merchant: bool = False  # asked for by the merchant (the admin API): settled by the schedule when in doubt


# Payment statuses Shelf records from the provider. "authorized" and "succeeded" both mean the order is paid.
CAPTURED = "succeeded"
AUTHORIZED = "requires_capture"
PAYMENT_SETTLED = frozenset({CAPTURED, AUTHORIZED})
# Nothing more can happen to the money: the intent was voided, or what it captured went back.
PAYMENT_CLOSED = frozenset({"canceled", "refunded"})


@dataclass(frozen=True)
class Settlement:
    """What the provider must still do for a canceled order: carry out the booked `refund` (kind "refund"),
    or void the uncaptured intent (kind "void")."""

    kind: str  # refund | void
    refund: Refund | None = None


@dataclass(frozen=True)
class Order(Priced):
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
    refunds: tuple[Refund, ...] = ()
    payment_token: str = ""
    shipment_token: str = ""
    customer_id: str = ""  # the account that placed it; "" for a guest
    breakdown: Breakdown | None = None  # None only for orders placed before pricing: then lines are all
    shipping_method: ShippingChoice | None = None
    discount: AppliedCode | None = None
    version: int = 0
    events: list = field(default_factory=list, compare=False, repr=False)
    # Which stock shards each line of a hot SKU drew from, set when it is placed. A SKU not in it drew all
    # from its own item (shard 0): every SKU that is not hot, and every order placed before shards existed.
    allocations: Mapping[str, Allocation] = field(default_factory=dict)

    def allocation(self, sku: str, quantity: int) -> Allocation:
        drawn = self.allocations.get(sku)
        return part_of(drawn, quantity) if drawn else ((0, quantity),)

    def stock_moves(self, kind: str) -> list[StockMove]:
        """`kind` for every line, on exactly the shards each line drew from."""
        return [StockMove(line.sku, kind, qty, shard) for line in self.lines
                for shard, qty in self.allocation(line.sku, line.quantity)]

    @classmethod
    def place(cls, *, order_id: str, cart_id: str, email: str, lines: list[PricedLine], currency: str,
              shipping_address: Address, payment: Payment, access_token_hash: str, at: datetime,
              customer_id: str = "", breakdown: Breakdown | None = None,
              shipping_method: ShippingChoice | None = None, discount: AppliedCode | None = None) -> Order:
        """A placed order waits for its payment; one that needs none (its total is 0: provider "none") is paid
        at once."""
        order = cls(id=order_id, status=PENDING_PAYMENT, email=email, lines=tuple(lines),
                    shipping_address=shipping_address, payment=payment, access_token_hash=access_token_hash,
                    created_at=at, updated_at=at, history=(StatusChange(PENDING_PAYMENT, at),),
                    currency=currency, cart_id=cart_id, refunded=Money.zero(currency), customer_id=customer_id,
                    breakdown=breakdown, shipping_method=shipping_method, discount=discount)
        order.events.append(OrderPlaced(order_id, order.total))
        if payment.provider == NO_PROVIDER:
            return order.transition(PAID, at)
        return order

    @property
    def pricing(self) -> Breakdown:
        if self.breakdown is not None:
            return self.breakdown
        return price(list(self.lines), currency=self.currency)

    @property
    def subtotal(self) -> Money:
        return self.pricing.subtotal

    @property
    def total(self) -> Money:
        """What the shopper pays: the breakdown's total, fixed at checkout."""
        return self.pricing.total

    @property
    def refund_due_since(self) -> datetime | None:
        """When the oldest merchant refund still `pending` was booked: one whose provider call did not answer
        (a timeout), left for the schedule to settle. None when there is none."""
        pending = [r.created_at for r in self.refunds if r.merchant and r.status == "pending"]
        return min(pending) if pending else None

    @property
    def refundable(self) -> Money:
        return self.total - (self.refunded or Money.zero(self.currency))

    @property
    def is_closed(self) -> bool:
        return self.status in (CANCELED, REFUNDED)

    def with_payment_status(self, status: str, at: datetime) -> Order:
        return replace(self, payment=replace(self.payment, status=status), updated_at=at)

    def record_late_payment(self, status: str, at: datetime) -> Order | None:
        """The provider took money (or an authorization) for an order already canceled: record it, so that
        settling gives it back. None when there is nothing new to record."""
        if status not in PAYMENT_SETTLED or self.payment.status in (status, "refunded", CAPTURED):
            return None
        return self.with_payment_status(status, at).book_return(at)

    def settlement(self) -> Settlement | None:
        """What a canceled order still owes the shopper, decided from this version: a pending refund to
        finish, or an uncaptured intent to void. None once the money record matches the provider."""
        if self.status != CANCELED:
            return None
        pending = next((r for r in self.refunds if r.status == "pending"), None)
        if pending is not None:
            return Settlement("refund", pending)
        if self.payment.status in PAYMENT_CLOSED or self.payment.status == CAPTURED:
            return None
        return Settlement("void")

    def book_return(self, at: datetime) -> Order:
        """A canceled order gives back what it captured and has not refunded yet, booked as a refund (pending
        until the provider confirms) in the same write that decides it."""
        if self.payment.status != CAPTURED or self.refundable.amount <= 0:
            return self
        refund = Refund(id=self._return_id(len(self.refunds)), amount=self.refundable,
                        status="pending", reason="order canceled", created_at=at)
        return replace(self, refunded=(self.refunded or Money.zero(self.currency)) + refund.amount,
                       refunds=self.refunds + (refund,), updated_at=at)

    def _return_id(self, index: int) -> str:
        return derived_id("re", self.id, "cancel", str(index))

    def is_return(self, refund_id: str) -> bool:
        """Whether the refund is a canceled order's own return (`book_return`), booked with or after the
        cancel: not a refund booked before it (a merchant's or a return's), which that return left out."""
        return any(r.id == refund_id == self._return_id(i) for i, r in enumerate(self.refunds))

    def record_void(self, at: datetime) -> Order | None:
        """The provider voided the intent. Unless it captured in the meantime (then settling refunds it)."""
        if self.payment.status in PAYMENT_CLOSED or self.payment.status == CAPTURED:
            return None
        return self.with_payment_status("canceled", at)

    def pay(self, at: datetime) -> tuple[Order, list[StockMove]]:
        """Payment arrived: the order is paid and its reserved stock is committed, in one write."""
        paid = self.transition(PAID, at)
        return paid, self.stock_moves("commit")

    def cancel(self, at: datetime) -> tuple[Order, list[StockMove]]:
        """Before payment the reservation is released; after, the committed goods go back on the shelf."""
        kind = {PENDING_PAYMENT: "release", PAID: "restock"}.get(self.status)
        canceled = self.transition(CANCELED, at).book_return(at)
        moves: list = self.stock_moves(kind) if kind else []
        if self.status == PENDING_PAYMENT and self.discount is not None:
            moves.append(CodeRelease(self.discount.code, self.email, self.discount.once_per_email, self.id))
        return canceled, moves

    def ship(self, fulfillment: Fulfillment, at: datetime) -> Order:
        shipped = self.transition(SHIPPED, at)
        return replace(shipped, fulfillment=fulfillment)

    def start_refund(self, refund: Refund, at: datetime) -> Order:
        """Books a pending refund against what was paid, before the provider is asked, so that concurrent
        refunds can never add up to more than the payment."""
        from .errors import FieldError, Invalid

        if self.status not in (PAID, SHIPPED):
            raise InvalidTransition(f"order {self.id} is {self.status}; only paid or shipped orders are refunded")
        if refund.amount.amount <= 0 or refund.amount > self.refundable:
            raise Invalid("refund amount out of range", [FieldError(
                "amount", f"must be between 1 and {self.refundable.amount} (what remains of the payment)")])
        refunded = (self.refunded or Money.zero(self.currency)) + refund.amount
        return replace(self, refunded=refunded, refunds=self.refunds + (refund,), updated_at=at)

    def book_provider_refund(self, refund: Refund, at: datetime) -> Order:
        """Books a refund the provider made outside Shelf (its dashboard), pending until settled. A canceled
        order takes it too: the provider refused its cancel's own refund because the charge was refunded
        there first, and what it refunded is what the record must say. Not one whose intent was voided (or
        never captured): it has no charge to refund."""
        if self.status != CANCELED:
            return self.start_refund(refund, at)
        if self.payment.status != CAPTURED or refund.amount.amount <= 0 or refund.amount > self.refundable:
            return self
        return replace(self, refunded=(self.refunded or Money.zero(self.currency)) + refund.amount,
                       refunds=self.refunds + (refund,), updated_at=at)

    def settle_refund(self, refund_id: str, provider_refund_id: str, at: datetime, *,
                      released: bool = False) -> tuple[Order, list[StockMove]]:
        """The provider refunded (or, with `released`, voided the authorization instead: nothing had been
        captured). Once everything paid is refunded the order is `refunded`; goods that never shipped go
        back on the shelf. A canceled order whose money all went back records its payment as refunded."""
        refund = next((r for r in self.refunds if r.id == refund_id), None)
        if refund is None or refund.status == "succeeded":
            return self, []
        refunds = tuple(replace(r, status="succeeded", provider_refund_id=provider_refund_id) if r.id == refund_id
                        else r for r in self.refunds)
        settled = replace(self, refunds=refunds, updated_at=at)
        done = all(r.status != "pending" for r in refunds) and settled.refundable.amount == 0
        if released:
            settled = settled.with_payment_status("canceled", at)
        elif done and self.status == CANCELED and self.payment.status == CAPTURED:
            settled = settled.with_payment_status("refunded", at)
        if not done or self.status not in (PAID, SHIPPED):
            return settled, []
        moves = self.stock_moves("restock") if self.status == PAID else []
        return settled.transition(REFUNDED, at), moves

    def fail_refund(self, refund_id: str, at: datetime) -> Order | None:
        """The provider refused the refund: it is un-booked. On a canceled order, one booked before the cancel
        (a merchant's refund in flight when the order was canceled) was left out of the cancel's return, so
        what it did not give back is booked as a return in the same write. A refused return is not booked
        again: the provider refuses the charge's refunds (a dispute), or a dashboard refund got there first
        and its `charge.refunded` books what it refunded."""
        refund = next(r for r in self.refunds if r.id == refund_id)
        if refund.status != "pending":
            return None
        refunds = tuple(replace(r, status="failed") if r.id == refund_id else r for r in self.refunds)
        failed = replace(self, refunds=refunds, refunded=(self.refunded or Money.zero(self.currency)) - refund.amount,
                         updated_at=at)
        if self.status == CANCELED and not self.is_return(refund_id):
            return failed.book_return(at)
        return failed

    def transition(self, target: str, at: datetime) -> Order:
        if not can_transition(self.status, target):
            raise InvalidTransition(f"order {self.id} is {self.status}; it cannot become {target}")
        moved = replace(self, status=target, updated_at=at, history=self.history + (StatusChange(target, at),),
                        events=list(self.events))
        moved.events.append(OrderStatusChanged(self.id, target))
        return moved
