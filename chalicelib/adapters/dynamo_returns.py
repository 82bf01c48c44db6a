"""Returns in DynamoDB: one item per return, and per order one ledger item (keyed by the order id) with the
units its returns hold. A request is written with the ledger, a rejection gives its units back in the same
transaction, and a receipt puts the units back on hand in the transaction that records it."""
from __future__ import annotations

import zlib
from datetime import datetime

from pynamodb.attributes import (
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from ..domain.errors import Conflict
from ..domain.ids import rfc3339
from ..domain.money import Money
from ..domain.orders import StockMove
from ..domain.returns import Return, ReturnLine, StatusChange
from ..services.ports import Page, StaleWrite
from ..services.returns_port import Ledger, Returns
from . import cursor as cursors
from .dynamo_orders import DynamoOrders
from .dynamo_stock_shards import SHARD_MOVES, shard_count, stock_writes
from .dynamodb import Tx, batch_skus, created_key, find, versioned
from .models import CreatedShards, SkuShardModel, StatusShards, bind, register

# Keys only: a listing reads its page's returns by key. The status and creation indexes spread their
# partition keys over RETURN_SHARDS shards (fewer than the orders': returns are far fewer).
RETURN_SHARDS = 4


class _ByOrder(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_order"
        projection = KeysOnlyProjection()

    order_id = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


class ReturnModel(Model):
    class Meta:
        table_name = "returns"

    return_id = UnicodeAttribute(hash_key=True)
    order_id = UnicodeAttribute()
    status = UnicodeAttribute()
    status_shard = UnicodeAttribute()
    created_shard = UnicodeAttribute()
    created_key = UnicodeAttribute()
    currency = UnicodeAttribute()
    reason = UnicodeAttribute()
    rejection_reason = UnicodeAttribute(null=True)
    lines = ListAttribute(default=list)
    history = ListAttribute(default=list)
    refund_id = UnicodeAttribute(null=True)
    refunded_amount = NumberAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    version = VersionAttribute()

    by_order = _ByOrder()
    status_shards = StatusShards()
    created_shards = CreatedShards()


class LedgerModel(Model):
    """Shares the returns table; its key is the order id, and it carries none of the indexed attributes."""

    class Meta:
        table_name = "returns"

    return_id = UnicodeAttribute(hash_key=True)  # the order id
    held = MapAttribute(default=dict)
    refunds = MapAttribute(null=True)  # minor units per SKU; absent on ledgers written before it was kept
    version = VersionAttribute()


register(ReturnModel, "returns")
register(LedgerModel, "returns")


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _as_dict(value) -> dict:
    return value.as_dict() if hasattr(value, "as_dict") else dict(value or {})


def _shard(return_id: str) -> int:
    return zlib.crc32(return_id.encode()) % RETURN_SHARDS


def _model(r: Return) -> ReturnModel:
    return ReturnModel(
        r.id, order_id=r.order_id, status=r.status, status_shard=f"{r.status}#{_shard(r.id)}",
        created_shard=str(_shard(r.id)), created_key=created_key(r.created_at, r.id),
        currency=r.currency, reason=r.reason, rejection_reason=r.rejection_reason or None,
        lines=[{"sku": ln.sku, "quantity": ln.quantity, "refund": ln.refund.amount} for ln in r.lines],
        history=[{"status": h.status, "at": rfc3339(h.at)} for h in r.history],
        refund_id=r.refund_id or None, refunded_amount=None if r.refunded is None else r.refunded.amount,
        created_at=r.created_at, updated_at=r.updated_at, **versioned(r.version))


def _return(m: ReturnModel) -> Return:
    cur = m.currency
    return Return(
        id=m.return_id, order_id=m.order_id, status=m.status, currency=cur, reason=m.reason,
        lines=tuple(ReturnLine(ln["sku"], int(ln["quantity"]), Money(int(ln["refund"]), cur))
                    for ln in map(_as_dict, m.lines)),
        history=tuple(StatusChange(h["status"], _parse_time(h["at"])) for h in map(_as_dict, m.history)),
        rejection_reason=m.rejection_reason or "", refund_id=m.refund_id or "",
        refunded=None if m.refunded_amount is None else Money(int(m.refunded_amount), cur),
        created_at=m.created_at, updated_at=m.updated_at, version=m.version or 0)


def _ledger_model(ledger: Ledger) -> LedgerModel:
    held = {sku: qty for sku, qty in ledger.held.items() if qty}
    refunds = None if ledger.refunds is None else {sku: amount for sku, amount in ledger.refunds.items() if sku in held}
    return LedgerModel(ledger.order_id, held=held, refunds=refunds, **versioned(ledger.version))


def _versioned_tx(ret: Return, condition, ledger: Ledger | None) -> Tx:
    """A transaction that writes the return (under `condition`: new, or existing) and, if given, its order's
    ledger, each over the version it was read at (labels "return" and "ledger"): any change made since
    cancels all of it."""
    tx = Tx()
    tx.save("return", _model(ret), condition)
    if ledger is not None:
        tx.save("ledger", _ledger_model(ledger))
    return tx


def _onto_shards(moves: list[StockMove], order_id: str, hot: set[str]) -> list[StockMove]:
    """Each hot SKU's restock split over the shards the order's line drew from (the first units drawn first,
    `Order.allocation`); an order placed before the SKU was hot drew from its own item."""
    order = DynamoOrders().get(order_id)
    if order is None:
        return moves
    return [StockMove(m.sku, m.kind, qty, shard) for m in moves
            for shard, qty in (order.allocation(m.sku, m.quantity) if m.sku in hot else ((m.shard, m.quantity),))]


class DynamoReturns(Returns):
    def get(self, return_id: str) -> Return | None:
        bind()
        if not return_id.startswith("ret_"):
            return None  # ledger items share the table
        model = find(ReturnModel, return_id)
        return None if model is None else _return(model)

    def ledger(self, order_id: str) -> Ledger:
        bind()
        model = find(LedgerModel, order_id)
        if model is None:
            return Ledger(order_id, {}, 0)
        held = {k: int(v) for k, v in _as_dict(model.held).items()}
        if model.refunds is not None:
            refunds = {k: int(v) for k, v in _as_dict(model.refunds).items()}
        else:  # kept since: known (nothing) only when no units are held
            refunds = None if any(held.values()) else {}
        return Ledger(order_id, held, model.version or 0, refunds)

    def add(self, ret: Return, ledger: Ledger) -> Return:
        bind()
        if _versioned_tx(ret, ReturnModel.return_id.does_not_exist(), ledger).commit():
            raise StaleWrite(ret.order_id)
        return self.get(ret.id)

    def save(self, ret: Return, *, ledger: Ledger | None = None, restock: bool = False) -> Return:
        bind()
        tx = _versioned_tx(ret, ReturnModel.return_id.exists(), ledger)
        moves = [StockMove(ln.sku, "restock", ln.quantity) for ln in ret.lines] if restock else []
        existing = batch_skus([m.sku for m in moves])
        hot = {m.sku for m in moves if m.sku in existing and shard_count(existing[m.sku]) > 1}
        if hot:  # a hot SKU's units go back to the shards the order's line drew them from
            moves = _onto_shards(moves, ret.order_id, hot)
        for key, (kind, qty) in stock_writes(moves, known=set(existing)).items():
            actions, condition = SHARD_MOVES[kind](qty)
            tx.update(("sku", key), SkuShardModel(key), actions, SkuShardModel.sku.exists() & condition)
        failed = tx.commit()
        if "return" in failed or "ledger" in failed:
            raise StaleWrite(ret.id)
        if failed:
            raise Conflict(f"stock of {', '.join(label[1] for label in failed)} could not take return {ret.id}")
        return self.get(ret.id)

    def _read(self, return_ids: list[str]) -> list[Return]:
        found = {m.return_id: m for m in ReturnModel.batch_get(return_ids)} if return_ids else {}
        return [_return(found[i]) for i in return_ids if i in found]

    def for_order(self, order_id: str) -> list[Return]:
        bind()
        return self._read([hit.return_id for hit in ReturnModel.by_order.query(order_id, scan_index_forward=False)])

    def list(self, *, status: str | None, limit: int, cursor: str | None) -> Page[Return]:
        """Newest first, merged over the index's shards; then the page's returns, read by key."""
        bind()
        hits, next_cursor = cursors.status_or_created_page(ReturnModel, RETURN_SHARDS, status=status, limit=limit,
                                                           cursor=cursor, listing=f"returns:{status or '*'}")
        return Page(self._read([hit.return_id for hit in hits]), next_cursor)
