"""Commands: what a caller asks the store to do. Imperative names, small and immutable."""
from __future__ import annotations

from dataclasses import dataclass

from .catalog import Variant
from .orders import Address


@dataclass(frozen=True)
class CreateProduct:
    title: str
    description: str
    category: str
    status: str
    variants: tuple[Variant, ...]


@dataclass(frozen=True)
class UpdateProduct:
    product_id: str
    changes: dict  # only the fields the caller sent: title, description, category, status, variants


@dataclass(frozen=True)
class SetStock:
    sku: str
    on_hand: int
    shards: int | None = None  # a hot SKU's count of stock shard items; None keeps the count it has


@dataclass(frozen=True)
class AdjustStock:
    sku: str
    delta: int
    reason: str


@dataclass(frozen=True)
class AddToCart:
    cart_id: str
    sku: str
    quantity: int
    customer_id: str = ""  # who asks: a customer's cart answers only to that customer


@dataclass(frozen=True)
class SetCartLine:
    cart_id: str
    sku: str
    quantity: int
    customer_id: str = ""


@dataclass(frozen=True)
class PlaceOrder:
    cart_id: str
    idempotency_key: str
    email: str
    shipping_address: Address | None  # None: the cart's destination
    customer_id: str = ""  # set when a signed-in customer checks out
    shipping_method: str = ""  # empty: the cart's method
