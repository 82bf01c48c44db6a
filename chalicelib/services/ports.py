"""The ports the use cases need. Adapters implement them; the services never import an adapter."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Generic, TypeVar

from ..domain.cart import Cart
from ..domain.catalog import Product, SkuInfo
from ..domain.inventory import StockLevel
from ..domain.money import Money
from ..domain.orders import Order, Payment

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
    def set_on_hand(self, sku: str, on_hand: int) -> StockLevel: ...

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
    def place(self, order: Order, cart: Cart) -> None:
        """In one transaction: create the order, mark the cart checked out and reserve every line's
        stock. All or nothing: raises OutOfStock naming the short SKUs, CartNotOpen, or StaleWrite."""

    @abstractmethod
    def get(self, order_id: str) -> Order | None: ...

    @abstractmethod
    def list(self, *, status: str | None, limit: int, cursor: str | None) -> Page[Order]: ...


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


class PaymentGateway(ABC):
    name: str

    @abstractmethod
    def create_intent(self, request: PaymentRequest) -> Payment:
        """Create (or, for the same idempotency key, return again) a payment intent for the order."""

    @abstractmethod
    def cancel_intent(self, payment_intent_id: str, idempotency_key: str) -> None: ...


class StaleWrite(Exception):
    """Someone else wrote the item between our read and our write; read again and retry."""


class OrderAlreadyPlaced(Exception):
    """The order for this cart and key exists (a concurrent or earlier attempt placed it)."""
