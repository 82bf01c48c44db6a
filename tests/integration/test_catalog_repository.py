from __future__ import annotations

import pytest

from chalicelib.domain.catalog import Variant
from chalicelib.domain.commands import UpdateProduct
from chalicelib.domain.errors import Conflict, Invalid, NotFound, SkuTaken
from chalicelib.domain.money import Money
from chalicelib.services import catalog

from .helpers import make_product, random_sku


def test_a_created_product_reads_back_with_its_variants_in_order(ctx):
    a, b = random_sku("A"), random_sku("B")
    product = make_product(ctx, (a, 1000), (b, 1200), stock={a: 4})
    found = catalog.get_product(product.id, ctx, public=True)
    assert [v.sku for v in found.product.variants] == [a, b]
    assert [v.price for v in found.product.variants] == [Money(1000, "USD"), Money(1200, "USD")]
    assert found.available(a) == 4 and found.available(b) == 0


def test_a_sku_is_unique_store_wide_and_a_refused_product_leaves_nothing_behind(ctx):
    taken, fresh = random_sku(), random_sku()
    make_product(ctx, (taken, 100))
    with pytest.raises(SkuTaken) as refused:
        make_product(ctx, (fresh, 100), (taken, 100))
    assert [e.field for e in refused.value.errors] == ["variants[1].sku"]
    assert ctx.catalog.sku_info([fresh]) == {}, "the transaction must not leave the other SKU behind"


def test_draft_and_archived_products_are_hidden_from_the_public(ctx):
    draft = make_product(ctx, (random_sku(), 100), status="draft")
    with pytest.raises(NotFound):
        catalog.get_product(draft.id, ctx, public=True)
    assert catalog.get_product(draft.id, ctx, public=False).product.status == "draft"
    active = make_product(ctx, (random_sku(), 100))
    catalog.archive_product(active.id, ctx)
    with pytest.raises(NotFound):
        catalog.get_product(active.id, ctx, public=True)
    listed = catalog.list_products(ctx, category=None, limit=100, cursor=None).items
    assert active.id not in [p.product.id for p in listed]


def test_listing_pages_through_every_active_product_newest_first_and_filters_by_category(ctx):
    ids = [make_product(ctx, (random_sku(), 100), category="mugs" if i % 2 else "tees").id for i in range(5)]
    seen, cursor = [], None
    while True:
        page = catalog.list_products(ctx, category=None, limit=2, cursor=cursor)
        seen += [p.product.id for p in page.items]
        cursor = page.next_cursor
        if not cursor:
            break
    assert sorted(seen) == sorted(ids) and len(seen) == len(set(seen))
    mugs = catalog.list_products(ctx, category="mugs", limit=100, cursor=None).items
    assert sorted(p.product.id for p in mugs) == sorted(ids[1::2])


def test_the_last_page_has_no_cursor_and_no_page_is_empty(ctx):
    for _ in range(4):
        make_product(ctx, (random_sku(), 100), category="exact")
    sizes, cursor = [], None
    while True:
        page = catalog.list_products(ctx, category="exact", limit=2, cursor=cursor)
        sizes.append(len(page.items))
        cursor = page.next_cursor
        if not cursor:
            break
    assert sizes == [2, 2]
    assert catalog.list_products(ctx, category="exact", limit=4, cursor=None).next_cursor is None


def test_a_cursor_from_another_listing_or_garbage_is_refused(ctx):
    for i in range(3):
        make_product(ctx, (random_sku(), 100), category="tees")
    cursor = catalog.list_products(ctx, category="tees", limit=1, cursor=None).next_cursor
    assert cursor
    with pytest.raises(Invalid):
        catalog.list_products(ctx, category="mugs", limit=1, cursor=cursor)
    for garbage in ("x", "eyJhIjoxfQ", "!!!", cursor[:-3]):
        with pytest.raises(Invalid):
            catalog.list_products(ctx, category=None, limit=1, cursor=garbage)


def test_patching_variants_adds_updates_and_removes_skus(ctx):
    keep, drop, add = random_sku("KEEP"), random_sku("DROP"), random_sku("ADD")
    product = make_product(ctx, (keep, 100), (drop, 200), stock={keep: 3})
    variants = (Variant(keep, "renamed", Money(150, "USD"), {"size": "M"}), Variant(add, "new", Money(300, "USD"), {}))
    updated = catalog.update_product(UpdateProduct(product.id, {"variants": variants, "title": "New"}), ctx)
    assert [(v.sku, v.title, v.price.amount) for v in updated.product.variants] == [
        (keep, "renamed", 150), (add, "new", 300)]
    assert updated.available(keep) == 3, "stock of a kept SKU survives a patch"
    assert drop not in ctx.catalog.sku_info([drop])
    assert ctx.catalog.sku_info([keep])[keep].title == "New - renamed"


def test_a_sku_with_reserved_stock_cannot_be_removed(ctx):
    keep, busy = random_sku(), random_sku()
    product = make_product(ctx, (keep, 100), (busy, 100), stock={busy: 2})
    ctx.inventory.reserve(busy, 1)
    with pytest.raises(Conflict):
        catalog.update_product(UpdateProduct(product.id, {"variants": (Variant(keep, "k", Money(1, "USD"), {}),)}), ctx)
    assert [v.sku for v in catalog.get_product(product.id, ctx, public=False).product.variants] == [keep, busy]


def test_patching_to_a_sku_of_another_product_is_refused(ctx):
    other = random_sku()
    make_product(ctx, (other, 100))
    mine = make_product(ctx, (random_sku(), 100))
    with pytest.raises(SkuTaken):
        catalog.update_product(UpdateProduct(mine.id, {"variants": (Variant(other, "x", Money(1, "USD"), {}),)}), ctx)
