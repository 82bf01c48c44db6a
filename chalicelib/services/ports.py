"""The ports the use cases need. Adapters implement them; the services never import an adapter."""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from ..domain.cart import Cart
from ..domain.catalog import Product, SkuInfo
from ..domain.inventory import StockLevel
from ..domain.money import Money
from ..domain.orders import Order, Payment, StockMove

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


@dataclass(frozen=True)
class StockedProduct:
    product: Product
    stock: dict[str, StockLevel]

    def available(self, sku: str) -> int:
        level = self.stock.get(sku)
        return max(level.available, 0) if level else 0


class Catalog(ABC):
    @abstractmethod
    def create(self, product: Product) -> None:
        """Store a new product and its SKUs; raises SkuTaken naming every SKU already in use."""

    @abstractmethod
    def replace(self, old: Product, new: Product) -> None:
        """Store `new` over `old` (optimistic: fails with Conflict if it changed meanwhile)."""

    @abstractmethod
    def get(self, product_id: str) -> StockedProduct | None: ...

    @abstractmethod
    def list(self, *, status: str, category: str | None, limit: int, cursor: str | None) -> Page[StockedProduct]: ...

    @abstractmethod
    def sku_info(self, skus: list[str]) -> dict[str, SkuInfo]: ...

    @abstractmethod
    def any_sku_exists(self, skus: list[str]) -> bool: ...


class Inventory(ABC):
    @abstractmethod
    def get(self, sku: str) -> StockLevel | None: ...

    @abstractmethod
    def levels(self, skus: list[str]) -> dict[str, StockLevel]: ...

    @abstractmethod
    def set_on_hand(self, sku: str, on_hand: int, shards: int | None = None) -> StockLevel:
        """Set the SKU's on-hand stock; with `shards`, also lay it out over that many stock shard items
        (a hot SKU, domain/stock_shards), moving units between shards without making or losing any."""

    @abstractmethod
    def adjust(self, sku: str, delta: int) -> StockLevel: ...

    @abstractmethod
    def reserve(self, sku: str, qty: int) -> StockLevel: ...

    @abstractmethod
    def release(self, sku: str, qty: int) -> StockLevel: ...

    @abstractmethod
    def commit(self, sku: str, qty: int) -> StockLevel: ...


class Carts(ABC):
    @abstractmethod
    def add(self, cart: Cart) -> None: ...

    @abstractmethod
    def get(self, cart_id: str) -> Cart | None:
        """The cart, or None if unknown. Expired carts are returned; the caller decides."""

    @abstractmethod
    def save(self, cart: Cart) -> Cart:
        """Optimistic write: raises StaleWrite if the cart changed since it was read."""


class Orders(ABC):
    @abstractmethod
    def place(self, order: Order, cart: Cart, stock_shards: Mapping[str, int] | None = None) -> Order:
        """In one transaction: create the order, mark the cart checked out and reserve every line's
        stock. All or nothing: raises OutOfStock naming the short SKUs, CartNotOpen, or StaleWrite.
        `stock_shards`: the hot SKUs' shard counts; their lines draw from shards, recorded in the order's
        `allocations`. Returns the order as placed."""

    @abstractmethod
    def save(self, order: Order, moves: list[StockMove] = ()) -> Order:
        """Write `order` over the version it was read at, with its stock moves, in one transaction.
        Raises StaleWrite if the order changed since it was read; returns the order as stored."""

    @abstractmethod
    def get(self, order_id: str) -> Order | None: ...

    @abstractmethod
    def list(self, *, status: str | None, limit: int, cursor: str | None) -> Page[Order]: ...

    @abstractmethod
    def refunds_due(self, *, before: datetime, limit: int) -> list[str]:
        """The ids of orders with a merchant refund `pending` since before `before` (`Order.refund_due_since`),
        at most `limit`."""


@dataclass(frozen=True)
class ApiKey:
    key_hash: str
    name: str
    scopes: frozenset[str]
    revoked: bool = False


class ApiKeys(ABC):
    @abstractmethod
    def get(self, key_hash: str) -> ApiKey | None: ...

    @abstractmethod
    def put(self, key: ApiKey) -> None: ...


@dataclass(frozen=True)
class PaymentRequest:
    order_id: str
    amount: Money
    email: str
    idempotency_key: str


class PaymentGatewayError(Exception):
    """The provider failed. `retryable`: the same call (same idempotency key) may succeed later.
    `resend`: the client may send its request again to get there (Retry-After)."""

    resend = True

    def __init__(self, message: str, *, retryable: bool, code: str = ""):
        super().__init__(message)
        self.retryable = retryable
        self.code = code


class RefundInDoubt(PaymentGatewayError):
    """The provider did not answer a refund (a timeout: it may have refunded). The refund stays booked,
    `pending` under `refund_id`, until the same request is asked again with the same idempotency key.
    Not for the client to resend: the schedule settles it, and a request sent again without its
    Idempotency-Key would be another refund."""

    resend = False

    def __init__(self, refund_id: str, cause: str):
        super().__init__(f"the provider did not answer ({cause}); refund {refund_id} stays pending and is settled "
                         "with the provider within minutes, never made twice", retryable=True, code="refund_pending")
        self.refund_id = refund_id


class PaymentDeclined(PaymentGatewayError):
    def __init__(self, message: str, code: str = "card_declined"):
        super().__init__(message, retryable=False, code=code)


class PaymentGateway(ABC):
    """A payment provider. Every mutating call carries an idempotency key derived from the order and
    the step, so a retried step never charges, captures or refunds twice."""

    name: str

    @abstractmethod
    def create_intent(self, request: PaymentRequest) -> Payment:
        """Create (or, for the same idempotency key, return again) a payment intent for the order,
        with `metadata.order_id` set."""

    @abstractmethod
    def cancel_intent(self, payment_intent_id: str, idempotency_key: str) -> None:
        """Cancel an intent that has not been captured. Canceling a canceled intent is not an error."""

    @abstractmethod
    def capture(self, payment_intent_id: str, idempotency_key: str) -> None:
        """Capture an intent that was authorized only (status requires_capture)."""

    @abstractmethod
    def refund(self, payment_intent_id: str, amount: Money, idempotency_key: str, *,
               metadata: dict[str, str] | None = None) -> str:
        """Refund part or all of a captured payment. Returns the provider's refund id. `metadata` is kept
        on the provider's refund (what it refunds: a return), where its dashboard shows it."""


class StaleWrite(Exception):
    """Someone else wrote the item between our read and our write; read again and retry."""


class OrderAlreadyPlaced(Exception):
    """The order for this cart and key exists (a concurrent or earlier attempt placed it)."""


class Workflow(ABC):
    """The order workflow engine (Step Functions)."""

    @abstractmethod
    def request_start(self, order_id: str, *, deliveries: Sequence[Delivery] = ()) -> None:
        """Ask for the order's workflow to be started (through a queue, so a burst never drops one).
        `deliveries`: webhook deliveries published with the order, for the starting worker to hand over."""

    @abstractmethod
    def start(self, order_id: str, payload: dict) -> None:
        """Start the order's execution, named after the order: starting it twice starts one."""

    @abstractmethod
    def succeed(self, task_token: str, output: dict) -> bool:
        """Resume a waiting step. False if the step no longer waits (it timed out or already resumed)."""

    @abstractmethod
    def fail(self, task_token: str, error: str, cause: str) -> bool: ...


@dataclass(frozen=True)
class Event:
    """A fact sent to merchants' webhook endpoints."""

    id: str
    type: str
    created_at: str
    data: dict


class Meter(ABC):
    """Counts what happened (orders paid, payments failed, deliveries given up) for the dashboard."""

    @abstractmethod
    def count(self, name: str, value: int = 1) -> None: ...


class Notifier(ABC):
    @abstractmethod
    def publish(self, event: Event) -> None:
        """Queue the event for every endpoint subscribed to its type. An endpoint gets an event id once
        whatever the number of publishes, unless they race its first attempt (delivery is at least once)."""


@dataclass(frozen=True)
class InboundEvent:
    source: str  # stripe | merchant
    id: str
    type: str
    outcome: str  # processed | ignored | rejected (or processing, while claimed)
    detail: str = ""


class InboundEvents(ABC):
    """A record of every webhook event received and what was done with it; also its dedupe."""

    @abstractmethod
    def claim(self, event: InboundEvent, *, now: int, until: int) -> InboundEvent | None:
        """Records `event` (outcome `processing`, held until `until`, epoch seconds) unless its id is
        recorded already with an outcome or with a claim still held at `now`: then returns that record."""

    @abstractmethod
    def release(self, source: str, event_id: str) -> None:
        """Drops a claim (an event whose outcome is still `processing`), so the event can be applied again."""

    @abstractmethod
    def record(self, event: InboundEvent) -> None: ...

    @abstractmethod
    def get(self, source: str, event_id: str) -> InboundEvent | None:
        """The event with what was done with it; None until it has been applied (while it is claimed)."""


@dataclass(frozen=True)
class WebhookEndpoint:
    id: str
    url: str
    events: tuple[str, ...]
    secret: str
    created_at: str


@dataclass(frozen=True)
class Delivery:
    id: str
    endpoint_id: str
    event_id: str
    event_type: str
    payload: str  # the exact JSON body sent, so a redelivery is byte-identical
    status: str  # pending | delivered | failed | canceled; UNLOGGED for an erasure's marker
    attempts: int
    created_at: str
    updated_at: str
    last_status_code: int | None = None
    last_error: str = ""
    version: int = 0
    erased_email: str = ""  # a marker's: what its body must carry instead of the erased customer's email

    @property
    def marker(self) -> bool:
        return self.status == UNLOGGED


UNLOGGED = "unlogged"  # no attempt logged yet: a customer's erasure marked the id (Webhooks.mark_erased)


def queue_message(delivery: Delivery) -> dict:
    """The queue message of a delivery: everything its first attempt needs, with no read. The format is
    shared by whoever queues a delivery (services, adapters) and the worker that reads it back."""
    return {"delivery_id": delivery.id, "endpoint_id": delivery.endpoint_id, "event_id": delivery.event_id,
            "event_type": delivery.event_type, "created_at": delivery.created_at, "payload": delivery.payload,
            "attempts": delivery.attempts}


def queued_delivery(message: dict) -> Delivery | str:
    """The delivery a queue message carries; only its id for a message that names a logged delivery."""
    if not isinstance(message.get("payload"), str):
        return str(message["delivery_id"])
    attempts = message.get("attempts")
    return Delivery(id=message["delivery_id"], endpoint_id=message["endpoint_id"], event_id=message["event_id"],
                    event_type=message["event_type"], payload=message["payload"], status="pending",
                    attempts=attempts if isinstance(attempts, int) and attempts > 0 else 0,
                    created_at=message["created_at"], updated_at=message["created_at"])


class Webhooks(ABC):
    @abstractmethod
    def add_endpoint(self, endpoint: WebhookEndpoint) -> None: ...

    @abstractmethod
    def endpoints(self, *, max_age_seconds: float = 0) -> list[WebhookEndpoint]:
        """Every endpoint. `max_age_seconds`: a list this process read that recently will do (publishing
        reads it on every event); changes made through this process are seen at once."""

    @abstractmethod
    def endpoint(self, endpoint_id: str) -> WebhookEndpoint | None: ...

    @abstractmethod
    def remove_endpoint(self, endpoint_id: str) -> bool: ...

    @abstractmethod
    def add_delivery(self, delivery: Delivery) -> bool:
        """Logs a delivery at its first attempt; False if a delivery (or a marker) with that id is there."""

    @abstractmethod
    def delivery(self, delivery_id: str) -> Delivery | None:
        """The logged delivery, or the erasure's marker (`marker`, with only `erased_email` and `version`)."""

    @abstractmethod
    def mark_erased(self, delivery_id: str, erased_email: str) -> bool:
        """Marks a delivery not logged yet (perhaps still queued, perhaps never to be published) so that its
        first attempt sends and logs the body with `erased_email`: a put conditional on nothing under the
        id. False when something is (a logged delivery, or a marker)."""

    @abstractmethod
    def save_delivery(self, delivery: Delivery) -> Delivery:
        """Optimistic write over the version read; raises StaleWrite."""

    @abstractmethod
    def deliveries(self, *, status: str | None, limit: int, cursor: str | None) -> Page[Delivery]: ...

    @abstractmethod
    def enqueue(self, delivery: Delivery, delay_seconds: int = 0, *, redelivery: str = "") -> None:
        """Queue a delivery attempt in `delay_seconds`, in a message that carries the delivery. With
        `redelivery` (the handle of the queue message being handled) that message comes back after the delay
        instead of a new one being sent, so the queue counts the attempts and parks the delivery in its
        dead-letter queue after the last."""


class SendFailed(Exception):
    """A webhook POST got no answer. `kind` is the class of failure (timeout, connection_refused, tls, dns,
    connection_reset, connection_error): what the delivery log shows, never the raw error."""

    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind


class WebhookSender(ABC):
    @abstractmethod
    def post(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
        """POST and return the status code; raise SendFailed when no answer came."""

    @abstractmethod
    def resolve(self, host: str) -> list[str]: ...
