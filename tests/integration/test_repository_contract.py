"""One contract for the repository ports, held against the in-memory fakes (tests/fakes.py) and the
DynamoDB adapters on moto: optimistic writes over the version read, stock all or nothing."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from chalicelib.domain.cart import Cart, PricedLine
from chalicelib.domain.catalog import Product, Variant
from chalicelib.domain.errors import Conflict, OutOfStock, SkuTaken
from chalicelib.domain.ids import new_id
from chalicelib.domain.inventory import StockLevel
from chalicelib.domain.money import Money
from chalicelib.domain.orders import Address, Order, Payment, StockMove
from chalicelib.services.ports import OrderAlreadyPlaced, StaleWrite
from tests.fakes import fake_context

from .helpers import make_product, random_sku

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
ADDRESS = Address(name="Ada", line1="1 Main St", city="Springfield", postal_code="12345", country="US")


@dataclass
class Repos:
    carts: Any
    orders: Any
    inventory: Any
    catalog: Any
    add_sku: Any  # (sku, on_hand) -> None


@pytest.fixture(params=["fake", "dynamodb"])
def repos(request):
    ctx = fake_context() if request.param == "fake" else request.getfixturevalue("ctx")
    return Repos(ctx.carts, ctx.orders, ctx.inventory, ctx.catalog,
                 lambda sku, on_hand: make_product(ctx, (sku, 100), stock={sku: on_hand}))


def _cart(repos, **lines) -> Cart:
    cart = Cart(id=new_id("cart"), status="open", lines=dict(lines), created_at=NOW, updated_at=NOW,
                expires_at=NOW + timedelta(days=7))
    repos.carts.add(cart)
    return repos.carts.get(cart.id)


def _order(cart: Cart) -> Order:
    lines = [PricedLine(sku, sku, qty, Money(100, "USD")) for sku, qty in cart.lines.items()]
    return Order.place(order_id=new_id("ord"), cart_id=cart.id, email="ada@example.com", lines=lines,
                       currency="USD", shipping_address=ADDRESS, access_token_hash="h", at=NOW,
                       payment=Payment("simulated", "pi_1", "requires_payment_method"))


def _skus(repos, **on_hand) -> list[str]:
    skus = []
    for name, count in on_hand.items():
        sku = random_sku(name.upper())
        repos.add_sku(sku, count)
        skus.append(sku)
    return skus


def test_a_cart_is_written_over_the_version_read_only(repos):
    cart = _cart(repos)
    saved = repos.carts.save(replace(cart, lines={"X": 1}))
    assert saved.version > cart.version and repos.carts.get(cart.id).lines == {"X": 1}
    with pytest.raises(StaleWrite):
        repos.carts.save(replace(cart, lines={"X": 2}))
    assert repos.carts.get(cart.id).lines == {"X": 1}
    assert repos.carts.get("cart_unknown") is None


def test_placing_reserves_every_line_or_none(repos):
    plenty, short = _skus(repos, a=5, b=1)
    cart = _cart(repos, **{plenty: 2, short: 2})
    order = _order(cart)
    with pytest.raises(OutOfStock) as refused:
        repos.orders.place(order, cart)
    assert [e.field for e in refused.value.errors] == [short]
    assert repos.inventory.get(plenty) == StockLevel(5, 0) and repos.inventory.get(short) == StockLevel(1, 0)
    assert repos.orders.get(order.id) is None and repos.carts.get(cart.id).status == "open"


def test_placing_closes_the_cart_once_and_the_order_once(repos):
    (sku,) = _skus(repos, a=5)
    cart = _cart(repos, **{sku: 2})
    order = _order(cart)
    repos.orders.place(order, cart)
    assert repos.inventory.get(sku) == StockLevel(5, 2) and repos.carts.get(cart.id).status == "checked_out"
    with pytest.raises((OrderAlreadyPlaced, StaleWrite)):
        repos.orders.place(order, cart)
    with pytest.raises(StaleWrite):
        repos.orders.place(_order(cart), cart)  # the cart changed since it was read
    assert repos.inventory.get(sku) == StockLevel(5, 2)


def test_an_order_is_written_over_the_version_read_with_its_stock_moves(repos):
    (sku,) = _skus(repos, a=5)
    cart = _cart(repos, **{sku: 2})
    repos.orders.place(_order(cart), cart)
    order = repos.orders.list(status="pending_payment", limit=100, cursor=None).items
    placed = next(o for o in order if o.cart_id == cart.id)
    paid, moves = placed.pay(NOW)
    saved = repos.orders.save(paid, moves)
    assert saved.status == "paid" and saved.version > placed.version
    assert repos.inventory.get(sku) == StockLevel(3, 0)
    with pytest.raises(StaleWrite):
        repos.orders.save(replace(placed, email="eve@example.com"), [StockMove(sku, "release", 2)])
    assert repos.inventory.get(sku) == StockLevel(3, 0) and repos.orders.get(placed.id).email == "ada@example.com"


def test_a_stock_move_that_does_not_fit_writes_nothing(repos):
    (sku,) = _skus(repos, a=5)
    cart = _cart(repos, **{sku: 2})
    order = _order(cart)
    repos.orders.place(order, cart)
    placed = repos.orders.get(order.id)
    with pytest.raises(Conflict):
        repos.orders.save(replace(placed, email="eve@example.com"), [StockMove(sku, "commit", 3)])
    assert repos.orders.get(order.id) == placed and repos.inventory.get(sku) == StockLevel(5, 2)


def _product(*skus: str, status: str = "active") -> Product:
    return Product(id=new_id("prod"), title="Tee", description="", category="apparel", status=status,
                   variants=tuple(Variant(sku, sku, Money(100, "USD")) for sku in skus), created_at=NOW,
                   updated_at=NOW)


def test_a_sku_belongs_to_one_product_and_a_product_is_replaced_over_the_version_read(repos):
    first, second = random_sku("A"), random_sku("B")
    product = _product(first)
    repos.catalog.create(product)
    with pytest.raises(SkuTaken):
        repos.catalog.create(_product(first))
    stored = repos.catalog.get(product.id).product
    assert repos.catalog.any_sku_exists([first]) and repos.inventory.get(first) == StockLevel(0, 0)
    repos.catalog.replace(stored, replace(stored, title="Shirt", variants=stored.variants + (
        Variant(second, second, Money(200, "USD")),)))
    with pytest.raises(StaleWrite):
        repos.catalog.replace(stored, replace(stored, title="Stale"))
    info = repos.catalog.sku_info([first, second, "NOPE-1"])
    assert set(info) == {first, second} and info[second].price == Money(200, "USD") and info[second].sellable
    assert repos.catalog.get(product.id).product.title == "Shirt"
