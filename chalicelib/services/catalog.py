"""Catalog and inventory use cases."""
from __future__ import annotations

from ..domain.catalog import Product, validate_product
from ..domain.commands import AdjustStock, CreateProduct, SetStock, UpdateProduct
from ..domain.errors import NotFound, found
from ..domain.ids import new_id
from ..domain.inventory import StockLevel
from .context import Context
from .events import announce_low_stock
from .ports import Page, StockedProduct
from .retry import retrying

_UPDATE_RETRIES = 5


def create_product(cmd: CreateProduct, ctx: Context) -> StockedProduct:
    now = ctx.clock()
    product = Product(id=new_id("prod"), title=cmd.title, description=cmd.description, category=cmd.category,
                      status=cmd.status, variants=cmd.variants, created_at=now, updated_at=now)
    validate_product(product, ctx.currency)
    ctx.catalog.create(product)
    return StockedProduct(product, {v.sku: StockLevel() for v in product.variants})


def get_product(product_id: str, ctx: Context, *, public: bool) -> StockedProduct:
    found = ctx.catalog.get(product_id)
    if found is None or (public and not found.product.sellable):
        raise NotFound(f"no product {product_id}")
    return found


def list_products(ctx: Context, *, category: str | None, limit: int, cursor: str | None,
                  status: str = "active") -> Page[StockedProduct]:
    return ctx.catalog.list(status=status, category=category, limit=limit, cursor=cursor)


def update_product(cmd: UpdateProduct, ctx: Context) -> StockedProduct:
    def attempt() -> None:
        current = get_product(cmd.product_id, ctx, public=False).product
        ctx.catalog.replace(current, current.changed(ctx.clock(), ctx.currency, **cmd.changes))

    retrying(attempt, times=_UPDATE_RETRIES,
             conflict=f"product {cmd.product_id} is being changed by someone else; try again")
    return get_product(cmd.product_id, ctx, public=False)


def archive_product(product_id: str, ctx: Context) -> None:
    current = get_product(product_id, ctx, public=False).product
    if current.status != "archived":
        update_product(UpdateProduct(product_id, {"status": "archived"}), ctx)


def _stock(sku: str, ctx: Context) -> StockLevel:
    return found(ctx.inventory.get(sku), f"SKU {sku}")


def get_stock(sku: str, ctx: Context) -> StockLevel:
    return _stock(sku, ctx)


def set_stock(cmd: SetStock, ctx: Context, *, threshold: int | None = None) -> StockLevel:
    before = ctx.inventory.get(cmd.sku) if threshold is not None else None
    level = ctx.inventory.set_on_hand(cmd.sku, cmd.on_hand, cmd.shards)
    if before is not None:
        announce_low_stock(ctx, cmd.sku, level, before.available, threshold, new_id("chg"))
    return level


def adjust_stock(cmd: AdjustStock, ctx: Context, *, threshold: int | None = None) -> StockLevel:
    level = ctx.inventory.adjust(cmd.sku, cmd.delta)
    if threshold is not None:
        announce_low_stock(ctx, cmd.sku, level, level.available - cmd.delta, threshold, new_id("chg"))
    return level
