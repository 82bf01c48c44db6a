"""Orders: placed with the cart closed and stock reserved in one transaction, then saved over the
version read together with their stock moves."""
from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

from ..domain.cart import Cart, PricedLine
from ..domain.errors import Conflict, FieldError, OutOfStock, Unauthenticated
from ..domain.ids import rfc3339
from ..domain.money import Money
from ..domain.orders import Address, Fulfillment, Order, Payment, Refund, StatusChange, StockMove
from ..domain.pricing import CodeRelease, DiscountAlreadyUsed
from ..domain.stock_shards import MAX_TRANSACTION_ITEMS, Allocation, decode, encode, plan, start_shard
from ..services import ports
from ..services.ports import OrderAlreadyPlaced, Page, StaleWrite
from . import cursor as cursors
from .dynamo_pricing import give_back, redeem, refused_code
from .dynamo_stock_shards import SHARD_MOVES, read_shards, shard_item, stock_writes
from .dynamodb import STOCK_MOVES, Tx, created_key, find, versioned, written
from .models import ORDER_SHARDS, PROFILE, CartModel, CustomerModel, OrderModel, SkuModel, SkuShardModel, bind
from .pricing_codec import pricing_from, pricing_map

_PLAN_ATTEMPTS = 5  # plans of a hot SKU's line, each from fresh reads, before it is out of stock
_PLAN_WINDOW = 2  # shards a plan reads first


def _order_model(o: Order) -> OrderModel:
    due = o.refund_due_since
    return OrderModel(
        o.id, status=o.status, status_shard=f"{o.status}#{_shard(o.id)}", created_shard=str(_shard(o.id)),
        created_key=created_key(o.created_at, o.id), cart_id=o.cart_id, email=o.email,
        currency=o.currency,
        lines=[{"sku": ln.sku, "title": ln.title, "quantity": ln.quantity, "unit_price": ln.unit_price.amount,
                **({"allocation": encode(o.allocations[ln.sku])} if ln.sku in o.allocations else {})}
               for ln in o.lines],
        shipping_address={k: v for k, v in vars(o.shipping_address).items() if v is not None},
        payment={"provider": o.payment.provider, "payment_intent_id": o.payment.payment_intent_id,
                 "status": o.payment.status, "idempotency_key": o.payment.idempotency_key},
        fulfillment=_fulfillment_map(o.fulfillment),
        refunded_amount=(o.refunded.amount if o.refunded else 0), access_token_hash=o.access_token_hash,
        refunds=[{"id": r.id, "amount": r.amount.amount, "status": r.status, "reason": r.reason,
                  "created_at": rfc3339(r.created_at), "provider_refund_id": r.provider_refund_id,
                  **({"merchant": True} if r.merchant else {})} for r in o.refunds],
        payment_token=o.payment_token or None, shipment_token=o.shipment_token or None,
        history=[{"status": h.status, "at": rfc3339(h.at)} for h in o.history], pricing=pricing_map(o),
        customer_id=o.customer_id or None, created_at=o.created_at, updated_at=o.updated_at,
        refund_due_shard=None if due is None else str(_shard(o.id)),
        refund_due_key=None if due is None else created_key(due, o.id), **versioned(o.version))


def _shard(order_id: str) -> int:
    """An order's index shard, fixed for its life (a status change keeps it)."""
    return zlib.crc32(order_id.encode()) % ORDER_SHARDS


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
        shipping_address=Address(**{"name": "", "line1": "", "city": "", "postal_code": "", **address}),
        payment=Payment(provider=payment["provider"], payment_intent_id=payment["payment_intent_id"],
                        status=payment["status"], idempotency_key=payment.get("idempotency_key") or ""),
        fulfillment=_fulfillment_from(m.fulfillment),
        refunded=Money(int(m.refunded_amount or 0), cur), access_token_hash=m.access_token_hash,
        refunds=tuple(Refund(id=r["id"], amount=Money(int(r["amount"]), cur), status=r["status"],
                             reason=r.get("reason") or "", created_at=_parse_time(r["created_at"]),
                             provider_refund_id=r.get("provider_refund_id") or "", merchant=bool(r.get("merchant")))
                      for r in map(_as_dict, m.refunds or [])),
        payment_token=m.payment_token or "", shipment_token=m.shipment_token or "",
        history=tuple(StatusChange(h["status"], _parse_time(h["at"])) for h in map(_as_dict, m.history)),
        **pricing_from(_as_dict(m.pricing) if m.pricing else None, cur),
        created_at=m.created_at, updated_at=m.updated_at, version=m.version or 0, customer_id=m.customer_id or "",
        allocations={ln["sku"]: decode(_as_dict(ln["allocation"])) for ln in map(_as_dict, m.lines)
                     if ln.get("allocation")})


def _quantity(order: Order, sku: str) -> int:
    return sum(ln.quantity for ln in order.lines if ln.sku == sku)


class DynamoOrders(ports.Orders):
    def place(self, order: Order, cart: Cart, stock_shards: Mapping[str, int] | None = None) -> Order:
        """One transaction: the order, the cart closed, every line's stock reserved (the code redeemed). A line
        of a hot SKU (in `stock_shards`, from the catalog read that priced the cart) draws from the shards its
        plan chose; a plan that loses a race to another order is made again from fresh reads, a few times,
        before the line is out of stock. A SKU that is not hot costs exactly one item write, as ever."""
        bind()
        hot = {ln.sku: n for ln in order.lines if (n := (stock_shards or {}).get(ln.sku, 1)) > 1}
        if not hot:
            self._place(order, cart, {})
            return order
        budget = MAX_TRANSACTION_ITEMS - 2 - (2 if order.discount else 0) - (len(order.lines) - len(hot))
        short: set[str] = set()
        parts = max(budget // len(hot), 1)
        for attempt in range(_PLAN_ATTEMPTS):
            starts = {sku: start_shard(f"{order.id}:{sku}", n, attempt) for sku, n in hot.items()}

            def allocate(levels):
                return {sku: plan(levels[sku], _quantity(order, sku), start=starts[sku], max_parts=parts)
                        for sku in hot}

            # A few shards from each line's start first, so a checkout reads the same few items however many
            # shards there are; all of them when those few cannot hold the line.
            try:
                allocations = allocate(read_shards(hot, starts=starts, window=_PLAN_WINDOW))
            except OutOfStock:
                levels = read_shards(hot)
                try:
                    allocations = allocate(levels)
                except OutOfStock:
                    short = {sku for sku in hot if sum(max(lv.available, 0) for lv in levels[sku].values())
                             < _quantity(order, sku)} or set(hot)
                    break
            placed = replace(order, allocations=allocations)
            short = self._place(placed, cart, allocations)
            if not short:
                return placed
            if short - set(hot):
                break  # a SKU that is not hot is short: planning again changes nothing
        raise OutOfStock("not enough stock for every line; nothing was reserved",
                         [FieldError(sku, f"not enough stock of {sku}") for sku in sorted(short)])

    def _place(self, order: Order, cart: Cart, allocations: Mapping[str, Allocation]) -> set[str]:
        """The placing transaction; answers the SKUs whose stock was short (none: placed)."""
        tx = Tx()
        tx.save("order", _order_model(order), OrderModel.order_id.does_not_exist())
        tx.update("cart", CartModel(cart.id, **versioned(cart.version)),
                  [CartModel.status.set("checked_out"), CartModel.updated_at.set(order.created_at)],
                  CartModel.status == "open")
        # A zero-total order is paid at checkout: its goods leave on hand at once, never reserved.
        kind = "reserve" if order.status == "pending_payment" else "sell"
        for line in order.lines:
            if line.sku in allocations:
                for shard, qty in allocations[line.sku]:
                    actions, condition = SHARD_MOVES[kind](qty)
                    tx.update(("sku", line.sku, shard), shard_item(line.sku, shard), actions, condition)
                continue
            actions, condition = STOCK_MOVES[kind](line.quantity)
            tx.update(("sku", line.sku), SkuModel(line.sku), actions, condition)
        if order.discount is not None:
            redeem(tx, code=order.discount.code, email=order.email, once_per_email=order.discount.once_per_email,
                   order_id=order.id, at=order.created_at)
        if order.customer_id:  # an erasure lists the customer's orders after its tombstone: none may follow it
            tx.check("customer", CustomerModel, order.customer_id, PROFILE, CustomerModel.erased_at.does_not_exist())
        failed = tx.commit()
        if not failed:
            return set()
        if "order" in failed:
            raise OrderAlreadyPlaced(order.id)
        if "customer" in failed:
            raise Unauthenticated("this account no longer exists; nothing was reserved")
        if "cart" in failed:
            raise StaleWrite(cart.id)
        if "discount" in failed:
            raise refused_code(order.discount.code, order.created_at)
        if "redemption" in failed:
            raise DiscountAlreadyUsed(f"the code {order.discount.code} was already used with this email; "
                                      "nothing was reserved")
        short = {label[1] for label in failed}
        if not allocations:
            raise OutOfStock("not enough stock for every line; nothing was reserved",
                             [FieldError(sku, f"not enough stock of {sku}") for sku in sorted(short)])
        return short

    def save(self, order: Order, moves: list[StockMove] = ()) -> Order:
        """Writes the order over the version it was read at, with its stock moves in the same transaction.
        A change with no stock moves is one conditional put (a transaction of one item costs twice as much).
        Answers the order as written, with its new version, without reading it back."""
        bind()
        model = _order_model(order)
        if not moves:
            if not written(lambda: model.save(OrderModel.order_id.exists())):
                raise StaleWrite(order.id)
            return _order_from(model)
        tx = Tx()
        tx.save("order", model, OrderModel.order_id.exists())
        for release in (m for m in moves if isinstance(m, CodeRelease)):
            give_back(tx, release)
        for key, (kind, qty) in stock_writes([m for m in moves if not isinstance(m, CodeRelease)]).items():
            actions, condition = SHARD_MOVES[kind](qty)
            tx.update(("sku", key), SkuShardModel(key), actions, SkuShardModel.sku.exists() & condition)
        failed = tx.commit()
        if "order" in failed:
            raise StaleWrite(order.id)
        if failed:
            raise Conflict(f"stock of {', '.join(label[1] for label in failed)} does not match order {order.id}")
        return _order_from(model)

    def get(self, order_id: str) -> Order | None:
        model = find(OrderModel, order_id)
        return None if model is None else _order_from(model)

    def list(self, *, status: str | None, limit: int, cursor: str | None) -> Page[Order]:
        """Newest first, merged over the index's shards; then the page's orders, read by key."""
        bind()
        hits, next_cursor = cursors.status_or_created_page(OrderModel, ORDER_SHARDS, status=status, limit=limit,
                                                           cursor=cursor, listing=status or "*")
        found = {m.order_id: m for m in OrderModel.batch_get([hit.order_id for hit in hits])}
        return Page([_order_from(found[hit.order_id]) for hit in hits if hit.order_id in found], next_cursor)

    def refunds_due(self, *, before: datetime, limit: int) -> list[str]:
        """The ids of orders whose oldest merchant refund in doubt was booked before `before`, from the sparse
        index's shards."""
        bind()
        below = created_key(before, "")
        ids: list[str] = []
        for shard in range(ORDER_SHARDS):
            for hit in OrderModel.refunds_due.query(str(shard), OrderModel.refund_due_key < below,
                                                    limit=limit - len(ids)):
                ids.append(hit.order_id)
            if len(ids) >= limit:
                break
        return ids
