"""In-memory fakes of the repository ports (catalog, inventory, carts, orders), with the DynamoDB
adapters' semantics: optimistic writes over the version read, and stock moved all or nothing with the
order that moves it. tests/integration/test_repository_contract.py holds both to the same contract."""
from __future__ import annotations

import threading
from dataclasses import replace

from chalicelib.domain.cart import Cart
from chalicelib.domain.catalog import Product, SkuInfo
from chalicelib.domain.errors import Conflict, DomainError, FieldError, NotFound, OutOfStock, SkuTaken
from chalicelib.domain.inventory import StockLevel
from chalicelib.domain.orders import Order, StockMove
from chalicelib.domain.stock_shards import check_count
from chalicelib.services import ports
from chalicelib.services.ports import OrderAlreadyPlaced, Page, StaleWrite


class FakeInventory(ports.Inventory):
    def __init__(self):
        self.lock = threading.RLock()
        self.stock: dict[str, StockLevel] = {}

    def add_sku(self, sku: str, on_hand: int = 0) -> None:
        with self.lock:
            self.stock.setdefault(sku, StockLevel(on_hand, 0))

    def get(self, sku: str) -> StockLevel | None:
        return self.stock.get(sku)

    def levels(self, skus: list[str]) -> dict[str, StockLevel]:
        return {s: self.stock[s] for s in skus if s in self.stock}

    def _change(self, sku: str, rule) -> StockLevel:
        with self.lock:
            if sku not in self.stock:
                raise NotFound(f"unknown SKU {sku}")
            self.stock[sku] = rule(self.stock[sku])
            return self.stock[sku]

    def set_on_hand(self, sku: str, on_hand: int, shards: int | None = None) -> StockLevel:
        # One level per SKU: the shard count is checked but the stock stays whole (the in-memory store has no
        # per-item throughput to spread; the DynamoDB adapter's shards are tested against DynamoDB).
        if shards is not None:
            check_count(shards)
        return self._change(sku, lambda level: level.set_on_hand(on_hand))

    def adjust(self, sku: str, delta: int) -> StockLevel:
        return self._change(sku, lambda level: level.adjust(delta))

    def reserve(self, sku: str, qty: int) -> StockLevel:
        return self._change(sku, lambda level: level.reserve(qty))

    def release(self, sku: str, qty: int) -> StockLevel:
        return self._change(sku, lambda level: level.release(qty))

    def commit(self, sku: str, qty: int) -> StockLevel:
        return self._change(sku, lambda level: level.commit(qty))

    def moved(self, moves: list[StockMove]) -> dict[str, StockLevel]:
        """The levels after `moves`, without storing them; raises if any move is refused."""
        after = dict(self.stock)
        for m in moves:
            if m.sku not in after:
                if m.kind == "restock":
                    continue  # deleted from the catalog since: nothing to put back
                raise NotFound(m.sku)
            level = after[m.sku]
            after[m.sku] = (StockLevel(level.on_hand + m.quantity, level.reserved) if m.kind == "restock"
                            else getattr(level, m.kind)(m.quantity))
        return after


class FakeCarts(ports.Carts):
    def __init__(self):
        self.lock = threading.RLock()
        self.carts: dict[str, Cart] = {}

    def add(self, cart: Cart) -> None:
        with self.lock:
            if cart.id in self.carts:
                raise Conflict(f"cart {cart.id} exists")
            self.carts[cart.id] = replace(cart, version=1)

    def get(self, cart_id: str) -> Cart | None:
        return self.carts.get(cart_id)

    def save(self, cart: Cart) -> Cart:
        with self.lock:
            stored = self.carts.get(cart_id := cart.id)
            if stored is None or stored.version != cart.version:
                raise StaleWrite(cart_id)
            self.carts[cart_id] = replace(cart, version=cart.version + 1)
            return self.carts[cart_id]


class FakeOrders(ports.Orders):
    def __init__(self, carts: FakeCarts, inventory: FakeInventory):
        self.carts, self.inventory = carts, inventory
        self.orders: dict[str, Order] = {}

    def place(self, order: Order, cart: Cart, stock_shards=None) -> Order:
        with self.carts.lock, self.inventory.lock:
            if order.id in self.orders:
                raise OrderAlreadyPlaced(order.id)
            stored = self.carts.get(cart.id)
            if stored is None or stored.version != cart.version or stored.status != "open":
                raise StaleWrite(cart.id)
            short = [ln.sku for ln in order.lines
                     if ln.sku not in self.inventory.stock or self.inventory.stock[ln.sku].available < ln.quantity]
            if short:
                raise OutOfStock("not enough stock for every line; nothing was reserved",
                                 [FieldError(sku, f"not enough stock of {sku}") for sku in short])
            self.inventory.stock = self.inventory.moved([StockMove(ln.sku, "reserve", ln.quantity)
                                                         for ln in order.lines])
            self.carts.carts[cart.id] = replace(stored, status="checked_out", updated_at=order.created_at,
                                                version=stored.version + 1)
            self.orders[order.id] = replace(order, version=1, events=[])
            return order

    def save(self, order: Order, moves: list[StockMove] = ()) -> Order:
        with self.inventory.lock:
            stored = self.orders.get(order.id)
            if stored is None or stored.version != order.version:
                raise StaleWrite(order.id)
            try:
                after = self.inventory.moved([m for m in moves if isinstance(m, StockMove)])
            except DomainError as exc:
                raise Conflict(f"stock does not match order {order.id}") from exc
            self.inventory.stock = after
            self.orders[order.id] = replace(order, version=order.version + 1, events=[])
            return self.orders[order.id]

    def get(self, order_id: str) -> Order | None:
        return self.orders.get(order_id)

    def list(self, *, status: str | None, limit: int, cursor: str | None) -> Page[Order]:
        found = sorted((o for o in self.orders.values() if status is None or o.status == status),
                       key=lambda o: (o.created_at, o.id), reverse=True)
        start = int(cursor or 0)
        more = len(found) > start + limit
        return Page(found[start:start + limit], str(start + limit) if more else None)

    def refunds_due(self, *, before, limit: int) -> list[str]:
        due = sorted((o.refund_due_since, o.id) for o in self.orders.values()
                     if o.refund_due_since is not None and o.refund_due_since < before)
        return [order_id for _, order_id in due[:limit]]


class FakeCatalog(ports.Catalog):
    """Products, with their SKUs' stock kept by the FakeInventory (as both share the SKU items in DynamoDB)."""

    def __init__(self, inventory: FakeInventory):
        self.inventory = inventory
        self.products: dict[str, Product] = {}
        self.owner: dict[str, str] = {}  # sku -> product id

    def create(self, product: Product) -> None:
        with self.inventory.lock:
            taken = [(i, v.sku) for i, v in enumerate(product.variants) if v.sku in self.owner]
            if taken:
                raise SkuTaken("a SKU is unique store-wide",
                               [FieldError(f"variants[{i}].sku", f"SKU {sku} is already in use") for i, sku in taken])
            if product.id in self.products:
                raise Conflict(f"product {product.id} already exists")
            self.products[product.id] = replace(product, version=1)
            for sku in product.skus():
                self.owner[sku] = product.id
                self.inventory.add_sku(sku)

    def replace(self, old: Product, new: Product) -> None:
        with self.inventory.lock:
            if self.products[old.id].version != old.version:
                raise StaleWrite(old.id)
            added = [(i, v.sku) for i, v in enumerate(new.variants) if v.sku not in old.skus()]
            taken = [(i, sku) for i, sku in added if sku in self.owner]
            if taken:
                raise SkuTaken("the variants cannot change that way",
                               [FieldError(f"variants[{i}].sku", f"SKU {sku} is already in use") for i, sku in taken])
            removed = set(old.skus()) - set(new.skus())
            if any(self.inventory.stock[sku].reserved for sku in removed):
                raise Conflict("the variants cannot change that way")
            for sku in removed:
                del self.owner[sku], self.inventory.stock[sku]
            for _, sku in added:
                self.owner[sku] = new.id
                self.inventory.add_sku(sku)
            self.products[new.id] = replace(new, version=old.version + 1)

    def _stocked(self, product: Product) -> ports.StockedProduct:
        return ports.StockedProduct(product, self.inventory.levels(product.skus()))

    def get(self, product_id: str) -> ports.StockedProduct | None:
        product = self.products.get(product_id)
        return None if product is None else self._stocked(product)

    def list(self, *, status: str, category: str | None, limit: int,
             cursor: str | None) -> Page[ports.StockedProduct]:
        found = sorted((p for p in self.products.values()
                        if p.status == status and (category is None or p.category == category)),
                       key=lambda p: (p.created_at, p.id), reverse=True)
        start = int(cursor or 0)
        more = len(found) > start + limit
        return Page([self._stocked(p) for p in found[start:start + limit]], str(start + limit) if more else None)

    def sku_info(self, skus: list[str]) -> dict[str, SkuInfo]:
        info = {}
        for sku in skus:
            if sku in self.owner:
                product = self.products[self.owner[sku]]
                variant = next(v for v in product.variants if v.sku == sku)
                info[sku] = SkuInfo(sku=sku, product_id=product.id, title=f"{product.title} - {variant.title}",
                                    price=variant.price, sellable=product.sellable,
                                    available=max(self.inventory.stock[sku].available, 0))
        return info

    def any_sku_exists(self, skus: list[str]) -> bool:
        return any(sku in self.owner for sku in skus)


def fake_context(**overrides):
    """A service context on the fakes: no AWS, no moto."""
    from chalicelib.adapters.payments import SimulatedGateway
    from chalicelib.domain.ids import utc_now
    from chalicelib.services.context import Context

    inventory, carts = FakeInventory(), FakeCarts()
    ctx = Context(catalog=FakeCatalog(inventory), inventory=inventory, carts=carts,
                  orders=FakeOrders(carts, inventory), api_keys=None, payments=SimulatedGateway(), clock=utc_now,
                  currency="USD")
    return replace(ctx, **overrides)
