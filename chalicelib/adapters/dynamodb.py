"""DynamoDB repositories. Every write that guards an invariant is conditional or transactional."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from pynamodb.connection import Connection
from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from ..domain.cart import Cart, PricedLine
from ..domain.catalog import Product, SkuInfo, Variant
from ..domain.errors import BelowReserved, Conflict, FieldError, Invalid, NotFound, OutOfStock, SkuTaken
from ..domain.ids import rfc3339, utc_now
from ..domain.inventory import StockLevel
from ..domain.money import Money
from ..domain.orders import Address, Fulfillment, Order, Payment, Refund, StatusChange, StockMove
from ..services import ports
from ..services.ports import OrderAlreadyPlaced, Page, StaleWrite
from . import cursor as cursors
from .models import ApiKeyModel, CartModel, OrderModel, ProductModel, SkuModel, bind

_STOCK_RETRIES = 10


def _connection() -> Connection:
    bind()
    return SkuModel._get_connection().connection  # cached; a new Connection built a botocore client per call


def _created_key(at: datetime, object_id: str) -> str:
    return f"{rfc3339(at)}#{object_id}"


def _version(version: int) -> dict:
    """PynamoDB's VersionAttribute: absent on a new item, the read value on an update (it adds the condition)."""
    return {"version": version} if version else {}


def _conditional_failure(exc: Exception) -> bool:
    return getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException"


def find(model_cls, key):
    """The item with that key, or None."""
    bind()
    try:
        return model_cls.get(key)
    except DoesNotExist:
        return None


def written(write) -> bool:
    """Runs a conditional write; False when its condition did not hold (other failures raise)."""
    bind()
    try:
        write()
    except (PutError, DeleteError, UpdateError) as exc:
        if _conditional_failure(exc):
            return False
        raise
    return True


@dataclass
class _Tx:
    """A TransactWriteItems whose cancellation reasons come back named by the labels we gave each item."""

    checks: list = field(default_factory=list)
    deletes: list = field(default_factory=list)
    puts: list = field(default_factory=list)
    updates: list = field(default_factory=list)

    def save(self, label, model, condition=None):
        self.puts.append((label, model, condition))

    def update(self, label, model, actions, condition=None):
        self.updates.append((label, model, actions, condition))

    def delete(self, label, model, condition=None):
        self.deletes.append((label, model, condition))

    def commit(self) -> list:
        """Runs the transaction; returns [] on success, else the labels whose condition failed."""
        labels = [d[0] for d in self.deletes] + [p[0] for p in self.puts] + [u[0] for u in self.updates]
        try:
            with TransactWrite(connection=_connection()) as tx:
                for _, model, condition in self.deletes:
                    tx.delete(model, condition=condition)
                for _, model, condition in self.puts:
                    tx.save(model, condition=condition)
                for _, model, actions, condition in self.updates:
                    tx.update(model, actions=actions, condition=condition)
        except TransactWriteError as exc:
            reasons = exc.cancellation_reasons
            if exc.cause_response_code != "TransactionCanceledException" or not reasons:
                raise
            codes = [r.code if r else None for r in reasons]
            if any(c not in (None, "None", "ConditionalCheckFailed") for c in codes):
                raise StaleWrite(",".join(str(c) for c in codes)) from exc
            return [label for label, code in zip(labels, codes) if code == "ConditionalCheckFailed"]
        return []


# --- catalog -------------------------------------------------------------------------------------

def _product_from(model: ProductModel, skus: dict[str, SkuModel]) -> Product:
    variants = sorted((skus[s] for s in model.skus if s in skus), key=lambda v: v.position)
    return Product(
        id=model.product_id, title=model.title, description=model.description or "",
        category=model.category or "", status=model.status,
        variants=tuple(Variant(sku=v.sku, title=v.title, price=Money(int(v.price_amount), v.currency),
                               attributes=dict(v.attributes.as_dict() if hasattr(v.attributes, "as_dict")
                                               else v.attributes or {}))
                       for v in variants),
        created_at=model.created_at, updated_at=model.updated_at, version=model.version or 0)


def _stocked(model: ProductModel, skus: dict[str, SkuModel]) -> ports.StockedProduct:
    return ports.StockedProduct(
        _product_from(model, skus),
        {s: StockLevel(int(skus[s].on_hand), int(skus[s].reserved)) for s in model.skus if s in skus})


def _product_model(p: Product) -> ProductModel:
    return ProductModel(p.id, title=p.title, description=p.description, category=p.category, status=p.status,
                        category_status=f"{p.category}#{p.status}", skus=p.skus(), created_at=p.created_at,
                        updated_at=p.updated_at, created_key=_created_key(p.created_at, p.id),
                        **_version(p.version))


def _variant_fields(p: Product, position: int, v: Variant) -> dict:
    return dict(product_id=p.id, product_title=p.title, title=v.title, price_amount=v.price.amount,
                currency=v.price.currency, attributes=dict(v.attributes), position=position,
                sellable=p.sellable)


def _batch_skus(skus: list[str]) -> dict[str, SkuModel]:
    bind()
    wanted = list(dict.fromkeys(skus))
    return {m.sku: m for m in SkuModel.batch_get(wanted)} if wanted else {}


class DynamoCatalog(ports.Catalog):
    def create(self, product: Product) -> None:
        bind()
        tx = _Tx()
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
        tx = _Tx()
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
            tx.delete(("remove", None, sku), SkuModel(sku), (SkuModel.product_id == new.id) & (SkuModel.reserved == 0))
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
                errors.append(FieldError("variants", f"SKU {sku} has reserved stock and cannot be removed"))
            else:
                raise StaleWrite(sku)
        raise (SkuTaken if all(label[0] == "add" for label in failed) else Conflict)(
            "the variants cannot change that way", errors)

    def get(self, product_id: str) -> ports.StockedProduct | None:
        model = find(ProductModel, product_id)
        return None if model is None else _stocked(model, _batch_skus(model.skus))

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
        skus = _batch_skus([s for m in models for s in m.skus])
        return Page([_stocked(m, skus) for m in models], next_cursor)

    def sku_info(self, skus: list[str]) -> dict[str, SkuInfo]:
        return {s: SkuInfo(sku=s, product_id=m.product_id, title=f"{m.product_title} - {m.title}",
                           price=Money(int(m.price_amount), m.currency), sellable=bool(m.sellable),
                           available=max(int(m.available), 0))
                for s, m in _batch_skus(skus).items()}

    def any_sku_exists(self, skus: list[str]) -> bool:
        return bool(_batch_skus(skus))


def stock_levels(skus: list[str]) -> dict[str, StockLevel]:
    return {s: StockLevel(int(m.on_hand), int(m.reserved)) for s, m in _batch_skus(skus).items()}


_STOCK_MOVES = {
    "reserve": lambda q: ([SkuModel.reserved.add(q), SkuModel.available.add(-q)], SkuModel.available >= q),
    "release": lambda q: ([SkuModel.reserved.add(-q), SkuModel.available.add(q)], SkuModel.reserved >= q),
    "commit": lambda q: ([SkuModel.reserved.add(-q), SkuModel.on_hand.add(-q)], SkuModel.reserved >= q),
    "restock": lambda q: ([SkuModel.on_hand.add(q), SkuModel.available.add(q)], SkuModel.on_hand >= 0),
}


# --- inventory -----------------------------------------------------------------------------------

class DynamoInventory(ports.Inventory):
    def get(self, sku: str) -> StockLevel | None:
        return self.levels([sku]).get(sku)

    def levels(self, skus: list[str]) -> dict[str, StockLevel]:
        return stock_levels(skus)

    def _update(self, sku: str, actions, condition, on_refusal: Exception) -> StockLevel:
        bind()
        item = SkuModel(sku)
        try:
            item.update(actions=actions, condition=SkuModel.sku.exists() & condition)
        except UpdateError as exc:
            if not _conditional_failure(exc):
                raise
            if self.get(sku) is None:
                raise NotFound(f"unknown SKU {sku}") from exc
            raise on_refusal from exc
        return StockLevel(int(item.on_hand), int(item.reserved))

    def set_on_hand(self, sku: str, on_hand: int) -> StockLevel:
        for _ in range(_STOCK_RETRIES):
            current = self.get(sku)
            if current is None:
                raise NotFound(f"unknown SKU {sku}")
            current.set_on_hand(on_hand)  # raises BelowReserved when the rule says no
            try:
                return self._update(sku, [SkuModel.on_hand.set(on_hand),
                                          SkuModel.available.set(on_hand - current.reserved)],
                                    SkuModel.reserved == current.reserved, StaleWrite(sku))
            except StaleWrite:
                continue
        raise Conflict(f"stock of {sku} is changing too fast; try again")

    def adjust(self, sku: str, delta: int) -> StockLevel:
        if delta == 0:
            level = self.get(sku)
            if level is None:
                raise NotFound(f"unknown SKU {sku}")
            return level
        return self._update(sku, [SkuModel.on_hand.add(delta), SkuModel.available.add(delta)],
                            SkuModel.available >= -delta,
                            BelowReserved("on hand cannot go below what is reserved",
                                          [FieldError("delta", "would take on hand below what is reserved")]))

    def _move(self, kind: str, sku: str, qty: int, refusal: Exception) -> StockLevel:
        _positive(qty)
        actions, condition = _STOCK_MOVES[kind](qty)
        return self._update(sku, actions, condition, refusal)

    def reserve(self, sku: str, qty: int) -> StockLevel:
        return self._move("reserve", sku, qty, OutOfStock("not enough stock", [FieldError(sku, "not enough stock")]))

    def release(self, sku: str, qty: int) -> StockLevel:
        return self._move("release", sku, qty, Invalid(f"fewer than {qty} units of {sku} are reserved"))

    def commit(self, sku: str, qty: int) -> StockLevel:
        return self._move("commit", sku, qty, Invalid(f"fewer than {qty} units of {sku} are reserved"))


def _positive(qty: int) -> None:
    if qty <= 0:
        raise Invalid("quantity must be positive")


# --- carts ---------------------------------------------------------------------------------------

def _cart_from(m: CartModel) -> Cart:
    lines = m.lines.as_dict() if hasattr(m.lines, "as_dict") else dict(m.lines or {})
    return Cart(id=m.cart_id, status=m.status, lines={k: int(v) for k, v in lines.items()},
                created_at=m.created_at, updated_at=m.updated_at, expires_at=m.expires_at, version=m.version or 0)


def _cart_model(c: Cart) -> CartModel:
    return CartModel(c.id, status=c.status, lines=dict(c.lines), created_at=c.created_at, updated_at=c.updated_at,
                     expires_at=c.expires_at, **_version(c.version))


class DynamoCarts(ports.Carts):
    def add(self, cart: Cart) -> None:
        bind()
        _cart_model(cart).save(CartModel.cart_id.does_not_exist())

    def get(self, cart_id: str) -> Cart | None:
        model = find(CartModel, cart_id)
        return None if model is None else _cart_from(model)

    def save(self, cart: Cart) -> Cart:
        model = _cart_model(cart)
        if not written(lambda: model.save(CartModel.cart_id.exists())):
            raise StaleWrite(cart.id)
        return _cart_from(model)


# --- orders --------------------------------------------------------------------------------------

def _order_model(o: Order) -> OrderModel:
    return OrderModel(
        o.id, status=o.status, created_key=_created_key(o.created_at, o.id), cart_id=o.cart_id, email=o.email,
        currency=o.currency,
        lines=[{"sku": ln.sku, "title": ln.title, "quantity": ln.quantity, "unit_price": ln.unit_price.amount}
               for ln in o.lines],
        shipping_address={k: v for k, v in vars(o.shipping_address).items() if v is not None},
        payment={"provider": o.payment.provider, "payment_intent_id": o.payment.payment_intent_id,
                 "status": o.payment.status, "idempotency_key": o.payment.idempotency_key},
        fulfillment=_fulfillment_map(o.fulfillment), pending_fulfillment=_fulfillment_map(o.pending_fulfillment),
        refunded_amount=(o.refunded.amount if o.refunded else 0), access_token_hash=o.access_token_hash,
        refunds=[{"id": r.id, "amount": r.amount.amount, "status": r.status, "reason": r.reason,
                  "created_at": rfc3339(r.created_at), "provider_refund_id": r.provider_refund_id} for r in o.refunds],
        payment_token=o.payment_token or None, shipment_token=o.shipment_token or None,
        history=[{"status": h.status, "at": rfc3339(h.at)} for h in o.history],
        created_at=o.created_at, updated_at=o.updated_at, **_version(o.version))


def _fulfillment_map(f: Fulfillment | None) -> dict | None:
    if f is None:
        return None
    return {"carrier": f.carrier, "tracking_number": f.tracking_number, "shipped_at": rfc3339(f.shipped_at)}


def _fulfillment_from(value) -> Fulfillment | None:
    f = _as_dict(value) if value else None
    if not f:
        return None
    return Fulfillment(carrier=f["carrier"], tracking_number=f["tracking_number"],
                       shipped_at=_parse_time(f["shipped_at"]))


def _as_dict(value) -> dict:
    return value.as_dict() if hasattr(value, "as_dict") else dict(value or {})


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _order_from(m: OrderModel) -> Order:
    cur = m.currency
    address = _as_dict(m.shipping_address)
    payment = _as_dict(m.payment)
    return Order(
        id=m.order_id, status=m.status, email=m.email, currency=cur, cart_id=m.cart_id,
        lines=tuple(PricedLine(sku=ln["sku"], title=ln["title"], quantity=int(ln["quantity"]),
                               unit_price=Money(int(ln["unit_price"]), cur)) for ln in map(_as_dict, m.lines)),
        shipping_address=Address(**address),
        payment=Payment(provider=payment["provider"], payment_intent_id=payment["payment_intent_id"],
                        status=payment["status"], idempotency_key=payment.get("idempotency_key") or ""),
        fulfillment=_fulfillment_from(m.fulfillment), pending_fulfillment=_fulfillment_from(m.pending_fulfillment),
        refunded=Money(int(m.refunded_amount or 0), cur), access_token_hash=m.access_token_hash,
        refunds=tuple(Refund(id=r["id"], amount=Money(int(r["amount"]), cur), status=r["status"],
                             reason=r.get("reason") or "", created_at=_parse_time(r["created_at"]),
                             provider_refund_id=r.get("provider_refund_id") or "")
                      for r in map(_as_dict, m.refunds or [])),
        payment_token=m.payment_token or "", shipment_token=m.shipment_token or "",
        history=tuple(StatusChange(h["status"], _parse_time(h["at"])) for h in map(_as_dict, m.history)),
        created_at=m.created_at, updated_at=m.updated_at, version=m.version or 0)


class DynamoOrders(ports.Orders):
    def place(self, order: Order, cart: Cart) -> None:
        bind()
        tx = _Tx()
        tx.save("order", _order_model(order), OrderModel.order_id.does_not_exist())
        tx.update("cart", CartModel(cart.id, **_version(cart.version)),
                  [CartModel.status.set("checked_out"), CartModel.updated_at.set(order.created_at)],
                  CartModel.status == "open")
        for line in order.lines:
            actions, condition = _STOCK_MOVES["reserve"](line.quantity)
            tx.update(("sku", line.sku), SkuModel(line.sku), actions, condition)
        failed = tx.commit()
        if not failed:
            return
        if "order" in failed:
            raise OrderAlreadyPlaced(order.id)
        if "cart" in failed:
            raise StaleWrite(cart.id)
        raise OutOfStock("not enough stock for every line; nothing was reserved",
                         [FieldError(sku, f"not enough stock of {sku}") for _, sku in failed])

    def save(self, order: Order, moves: list[StockMove] = ()) -> Order:
        """Writes the order over the version it was read at, with its stock moves, in one transaction."""
        bind()
        tx = _Tx()
        tx.save("order", _order_model(order), OrderModel.order_id.exists())
        existing = _batch_skus([m.sku for m in moves if m.kind == "restock"])
        for m in moves:
            if m.kind == "restock" and m.sku not in existing:
                continue  # the SKU was deleted from the catalog since: nothing to put back
            actions, condition = _STOCK_MOVES[m.kind](m.quantity)
            tx.update(("sku", m.sku), SkuModel(m.sku), actions, SkuModel.sku.exists() & condition)
        failed = tx.commit()
        if "order" in failed:
            raise StaleWrite(order.id)
        if failed:
            raise Conflict(f"stock of {', '.join(label[1] for label in failed)} does not match order {order.id}")
        return self.get(order.id)

    def get(self, order_id: str) -> Order | None:
        model = find(OrderModel, order_id)
        return None if model is None else _order_from(model)

    def list(self, *, status: str | None, limit: int, cursor: str | None) -> Page[Order]:
        bind()
        if status is not None:
            partition, index = {"status": status}, OrderModel.by_status
        else:
            partition, index = {"kind": "order"}, OrderModel.by_created
        keys = {"order_id", "created_key", *partition}
        start = cursors.decode(cursor, keys=keys, fixed=partition)
        models, next_cursor = cursors.page(index.query(next(iter(partition.values())), scan_index_forward=False,
                                                       limit=limit + 1, last_evaluated_key=start), limit, keys)
        return Page([_order_from(m) for m in models], next_cursor)


# --- API keys ------------------------------------------------------------------------------------

class DynamoApiKeys(ports.ApiKeys):
    def get(self, key_hash: str) -> ports.ApiKey | None:
        m = find(ApiKeyModel, key_hash)
        if m is None:
            return None
        return ports.ApiKey(key_hash=m.key_hash, name=m.name, scopes=frozenset(m.scopes or ()),
                            revoked=bool(m.revoked))

    def put(self, key: ports.ApiKey) -> None:
        bind()
        ApiKeyModel(key.key_hash, name=key.name, scopes=set(key.scopes), created_at=utc_now(),
                    revoked=key.revoked).save()

