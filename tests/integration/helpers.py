from __future__ import annotations

import secrets

from chalicelib.domain.catalog import Variant
from chalicelib.domain.commands import CreateProduct, SetStock
from chalicelib.domain.money import Money
from chalicelib.services import catalog


def random_sku(name: str = "SKU") -> str:
    return f"{name}-{secrets.token_hex(4).upper()}"


def make_product(ctx, *skus_and_prices, stock: dict[str, int] | None = None, title: str = "Tee",
                 category: str = "apparel", status: str = "active"):
    variants = tuple(Variant(sku, f"variant {sku}", Money(price, "USD"), {}) for sku, price in skus_and_prices)
    created = catalog.create_product(CreateProduct(title=title, description="", category=category, status=status,
                                                   variants=variants), ctx)
    for sku, on_hand in (stock or {}).items():
        catalog.set_stock(SetStock(sku, on_hand), ctx)
    return created.product
