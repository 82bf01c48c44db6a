"""The catalog: public browsing, and the merchant's products and stock."""
from __future__ import annotations

from .. import config
from ..domain.catalog import Variant
from ..domain.commands import AdjustStock, CreateProduct, SetStock, UpdateProduct
from ..domain.money import Money
from ..observability import logger
from ..services import catalog
from . import presenters as present
from . import schemas as s
from .common import PRODUCT_ID, SKU, ctx
from .http import Request, Router

public = Router("catalog", "catalog", cors=True)
admin = Router("catalog_admin", "merchant")
ROUTERS = [public, admin]


# --- catalog (public) --------------------------------------------------------------------------------

@public.route("GET", "/products", summary="List active products", query=s.ProductQuery, response=s.ProductPage)
def list_products(req: Request):
    page = catalog.list_products(ctx(), category=req.query.category, limit=req.query.limit, cursor=req.query.cursor)
    return s.ProductPage(items=[present.product(p) for p in page.items], next_cursor=page.next_cursor)


@public.route("GET", "/products/{product_id}", summary="One active product", response=s.Product,
              path_patterns=PRODUCT_ID)
def get_product(req: Request, product_id: str):
    return present.product(catalog.get_product(product_id, ctx(), public=True))


# --- catalog and inventory (merchant) ----------------------------------------------------------------

def _variants(items: list[s.VariantIn]) -> tuple[Variant, ...]:
    return tuple(Variant(sku=v.sku, title=v.title, price=Money(v.price.amount, v.price.currency),
                         attributes=dict(v.attributes), weight_grams=v.weight_grams) for v in items)


@admin.route("POST", "/admin/products", summary="Create a product", status=201, body=s.ProductCreate,
             response=s.Product, scope="catalog:write", errors=(409,))
def create_product(req: Request):
    b: s.ProductCreate = req.body
    return present.product(catalog.create_product(CreateProduct(
        title=b.title, description=b.description, category=b.category, status=b.status,
        variants=_variants(b.variants)), ctx()))


@admin.route("GET", "/admin/products/{product_id}", summary="One product, any status", response=s.Product,
             scope="catalog:write", path_patterns=PRODUCT_ID)
def admin_get_product(req: Request, product_id: str):
    return present.product(catalog.get_product(product_id, ctx(), public=False))


@admin.route("PATCH", "/admin/products/{product_id}", summary="Change a product", body=s.ProductPatch,
             response=s.Product, scope="catalog:write", errors=(409,), path_patterns=PRODUCT_ID)
def patch_product(req: Request, product_id: str):
    changes = req.body.model_dump(exclude_unset=True)
    if "variants" in changes:
        changes["variants"] = _variants(req.body.variants)
    return present.product(catalog.update_product(UpdateProduct(product_id, changes), ctx()))


@admin.route("DELETE", "/admin/products/{product_id}", summary="Archive a product", status=204,
             scope="catalog:write", errors=(409,), path_patterns=PRODUCT_ID)
def delete_product(req: Request, product_id: str):
    catalog.archive_product(product_id, ctx())


@admin.route("GET", "/admin/inventory/{sku}", summary="Stock of one SKU", response=s.Stock,
             scope="inventory:write", path_patterns=SKU)
def get_stock(req: Request, sku: str):
    return present.stock(sku, catalog.get_stock(sku, ctx()))


@admin.route("PUT", "/admin/inventory/{sku}", summary="Set on-hand stock (and flag a hot SKU)", body=s.StockSet,
             response=s.Stock, scope="inventory:write", errors=(409,), path_patterns=SKU)
def set_stock(req: Request, sku: str):
    level = catalog.set_stock(SetStock(sku, req.body.on_hand, req.body.shards), ctx(),
                              threshold=config.low_stock_threshold())
    return present.stock(sku, level)


@admin.route("POST", "/admin/inventory/{sku}/adjustments", summary="Adjust on-hand stock by a delta",
             body=s.StockAdjustment, response=s.Stock, scope="inventory:write", errors=(409,), path_patterns=SKU)
def adjust_stock(req: Request, sku: str):
    cmd = AdjustStock(sku, req.body.delta, req.body.reason)
    level = catalog.adjust_stock(cmd, ctx(), threshold=config.low_stock_threshold())
    # The reason is kept in the structured log (there is no adjustment history table yet).
    logger.info("stock adjusted", extra={"sku": sku, "delta": cmd.delta, "reason": cmd.reason,
                                         "on_hand": level.on_hand, "merchant": req.merchant.name})
    return present.stock(sku, level)
