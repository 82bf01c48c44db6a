from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from .errors import FieldError, Invalid
from .money import Money

STATUSES = ("active", "draft", "archived")
MAX_VARIANTS = 50


@dataclass(frozen=True)
class Variant:
    sku: str
    title: str
    price: Money
    attributes: dict[str, str] = field(default_factory=dict)
    weight_grams: int = 0


@dataclass(frozen=True)
class Product:
    id: str
    title: str
    description: str
    category: str
    status: str
    variants: tuple[Variant, ...]
    created_at: datetime
    updated_at: datetime
    version: int = 0

    @property
    def sellable(self) -> bool:
        return self.status == "active"

    def skus(self) -> list[str]:
        return [v.sku for v in self.variants]

    def changed(self, at: datetime, currency: str, **fields) -> Product:
        updated = replace(self, updated_at=at, **fields)
        validate_product(updated, currency)
        return updated


def validate_product(product: Product, currency: str) -> None:
    errors: list[FieldError] = []
    if product.status not in STATUSES:
        errors.append(FieldError("status", f"must be one of {', '.join(STATUSES)}"))
    if not product.variants:
        errors.append(FieldError("variants", "a product needs at least one variant"))
    if len(product.variants) > MAX_VARIANTS:
        errors.append(FieldError("variants", f"at most {MAX_VARIANTS} variants"))
    seen: set[str] = set()
    for i, v in enumerate(product.variants):
        if v.sku in seen:
            errors.append(FieldError(f"variants[{i}].sku", f"duplicate SKU {v.sku}"))
        seen.add(v.sku)
        if v.price.currency != currency:
            errors.append(FieldError(f"variants[{i}].price.currency", f"the store sells in {currency}"))
        if v.price.amount < 0:
            errors.append(FieldError(f"variants[{i}].price.amount", "must not be negative"))
        if v.weight_grams < 0:
            errors.append(FieldError(f"variants[{i}].weight_grams", "must not be negative"))
    if errors:
        raise Invalid("the product is not valid", errors)


@dataclass(frozen=True)
class SkuInfo:
    """What a cart needs to know about one SKU: its price, title and whether it can be sold now."""

    sku: str
    product_id: str
    title: str
    price: Money
    sellable: bool
    available: int
    weight_grams: int = 0
    stock_shards: int = 1  # >1: a hot SKU, its stock over that many shard items (domain/stock_shards)
