"""Products and their variants (one SKU item per variant, shared with inventory)."""
from __future__ import annotations

from dataclasses import replace

from ..domain.catalog import Product, SkuInfo, Variant
from ..domain.errors import Conflict, FieldError, Invalid, SkuTaken
from ..domain.inventory import StockLevel
from ..domain.money import Money
from ..services import ports
from ..services.ports import Page, StaleWrite
from . import cursor as cursors
from .dynamo_stock_shards import levels_of, shard_count
from .dynamodb import Tx, batch_skus, created_key, find, versioned
from .models import ProductModel, SkuModel, bind


def _product_from(model: ProductModel, skus: dict[str, SkuModel]) -> Product:
    variants = sorted((skus[s] for s in model.skus if s in skus), key=lambda v: v.position)
    return Product(
        id=model.product_id, title=model.title, description=model.description or "",
        category=model.category or "", status=model.status,
        variants=tuple(Variant(sku=v.sku, title=v.title, price=Money(int(v.price_amount), v.currency),
                               attributes=dict(v.attributes.as_dict() if hasattr(v.attributes, "as_dict")
                                               else v.attributes or {}),
                               weight_grams=int(v.weight_grams or 0))
                       for v in variants),
        created_at=model.created_at, updated_at=model.updated_at, version=model.version or 0)


def _stocked(model: ProductModel, skus: dict[str, SkuModel],
             levels: dict[str, StockLevel] | None = None) -> ports.StockedProduct:
    levels = levels_of(skus) if levels is None else levels
    return ports.StockedProduct(_product_from(model, skus), {s: levels[s] for s in model.skus if s in levels})


def _product_model(p: Product) -> ProductModel:
    return ProductModel(p.id, title=p.title, description=p.description, category=p.category, status=p.status,
                        category_status=f"{p.category}#{p.status}", skus=p.skus(), created_at=p.created_at,
                        updated_at=p.updated_at, created_key=created_key(p.created_at, p.id),
                        **versioned(p.version))


def _variant_fields(p: Product, position: int, v: Variant) -> dict:
    return dict(product_id=p.id, product_title=p.title, title=v.title, price_amount=v.price.amount,
                currency=v.price.currency, attributes=dict(v.attributes), position=position,
                sellable=p.sellable, weight_grams=v.weight_grams)


class DynamoCatalog(ports.Catalog):
    def create(self, product: Product) -> None:
        bind()
        tx = Tx()
        tx.save("product", _product_model(product), ProductModel.product_id.does_not_exist())
        for i, v in enumerate(product.variants):
            tx.save(("sku", i, v.sku), SkuModel(v.sku, **_variant_fields(product, i, v)),
                    SkuModel.sku.does_not_exist())
        failed = tx.commit()
        taken = [label for label in failed if label != "product"]
        if taken:
            raise SkuTaken("a SKU is unique store-wide",
                           [FieldError(f"variants[{i}].sku", f"SKU {sku} is already in use") for _, i, sku in taken])
        if failed:
            raise Conflict(f"product {product.id} already exists")

    def replace(self, old: Product, new: Product) -> None:
        bind()
        if len(set(old.skus()) | set(new.skus())) + 1 > 100:
            raise Invalid("too many SKU changes in one request",
                          [FieldError("variants", "add or remove fewer variants at once")])
        tx = Tx()
        model = _product_model(replace(new, version=old.version))
        tx.save("product", model, ProductModel.product_id.exists())
        old_skus = set(old.skus())
        for i, v in enumerate(new.variants):
            fields_ = _variant_fields(new, i, v)
            if v.sku in old_skus:
                actions = [getattr(SkuModel, name).set(value) for name, value in fields_.items()]
                tx.update(("keep", i, v.sku), SkuModel(v.sku), actions, SkuModel.product_id == new.id)
            else:
                tx.save(("add", i, v.sku), SkuModel(v.sku, **fields_), SkuModel.sku.does_not_exist())
        for sku in old_skus - set(new.skus()):
            # A hot SKU's stock is over shard items: it goes back to one item (PUT shards 1) before it can go.
            tx.delete(("remove", None, sku), SkuModel(sku), (SkuModel.product_id == new.id) & (SkuModel.reserved == 0)
                      & (SkuModel.shards.does_not_exist() | (SkuModel.shards <= 1)))
        failed = tx.commit()
        if not failed:
            return
        errors = []
        for label in failed:
            if label == "product":
                raise StaleWrite(new.id)
            kind, i, sku = label
            if kind == "add":
                errors.append(FieldError(f"variants[{i}].sku", f"SKU {sku} is already in use"))
            elif kind == "remove":
                errors.append(FieldError("variants", f"SKU {sku} has reserved stock, or stock shards, and cannot "
                                                     "be removed"))
            else:
                raise StaleWrite(sku)
        raise (SkuTaken if all(label[0] == "add" for label in failed) else Conflict)(
            "the variants cannot change that way", errors)

    def get(self, product_id: str) -> ports.StockedProduct | None:
        model = find(ProductModel, product_id)
        return None if model is None else _stocked(model, batch_skus(model.skus))

    def list(self, *, status: str, category: str | None, limit: int,
             cursor: str | None) -> Page[ports.StockedProduct]:
        bind()
        if category is not None:
            partition = {"category_status": f"{category}#{status}"}
            index = ProductModel.by_category
            hash_value = partition["category_status"]
        else:
            partition = {"status": status}
            index = ProductModel.by_status
            hash_value = status
        keys = {"product_id", "created_key", *partition}
        start = cursors.decode(cursor, keys=keys, fixed=partition)
        models, next_cursor = cursors.page(
            index.query(hash_value, scan_index_forward=False, limit=limit + 1, last_evaluated_key=start), limit, keys)
        skus = batch_skus([s for m in models for s in m.skus])
        levels = levels_of(skus)
        return Page([_stocked(m, skus, levels) for m in models], next_cursor)

    def sku_info(self, skus: list[str]) -> dict[str, SkuInfo]:
        models = batch_skus(skus)
        levels = levels_of(models)  # a hot SKU's available is the sum over its shards
        return {s: SkuInfo(sku=s, product_id=m.product_id, title=f"{m.product_title} - {m.title}",
                           price=Money(int(m.price_amount), m.currency), sellable=bool(m.sellable),
                           available=max(levels[s].available, 0), weight_grams=int(m.weight_grams or 0),
                           stock_shards=shard_count(m))
                for s, m in models.items()}

    def any_sku_exists(self, skus: list[str]) -> bool:
        return bool(batch_skus(skus))
