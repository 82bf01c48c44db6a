"""Webhook events coming in: from Stripe (payments) and from merchant systems (warehouse, ERP, 3PL).
Every event is recorded with what was done with it; an event that does not fit changes nothing."""
from __future__ import annotations

import re
from typing import Callable

from ..domain.commands import SetStock
from ..domain.errors import DomainError, EventTooEarly, FieldError, IdempotencyInProgress, Invalid
from ..domain.orders import PENDING_PAYMENT
from ..domain.stock_shards import MAX_SHARDS
from . import catalog, lifecycle
from .context import Context
from .metering import PAYMENT_FAILED, count
from .ports import InboundEvent

PROCESSING = "processing"  # the outcome of a claimed event still being applied
_ORDER_ID = re.compile(r"ord_[a-z2-7]{26}")

_INTENT_STATUS = {
    "payment_intent.succeeded": "succeeded",
    "payment_intent.amount_capturable_updated": "requires_capture",
    "payment_intent.canceled": "canceled",
    "payment_intent.payment_failed": "requires_payment_method",
}


def stripe_event(event: dict, ctx: Context, *, lease_seconds: int = 60) -> str:
    """Applies a verified, well-formed Stripe event (domain.webhooks.read_event) once per event id. Returns
    the outcome recorded: processed, ignored (nothing for Shelf to do) or rejected (it contradicts the
    order: the event is kept for a person to look at, and Stripe is answered so that it stops sending it)."""
    event_id, event_type = event["id"], event["type"]
    obj = event["data"].get("object")

    def apply() -> tuple[str, str]:
        try:
            return _apply_stripe(event_type, obj if isinstance(obj, dict) else {}, ctx)
        except Invalid as refusal:
            return "rejected", f"{refusal.slug}: {refusal.detail}"

    return _once("stripe", event_id, event_type, apply, ctx, lease_seconds)


def _once(source: str, event_id: str, event_type: str, apply: Callable[[], tuple[str, str]], ctx: Context,
          lease_seconds: int) -> str:
    """The event's one record is its dedupe: claimed first (a conditional put), then overwritten with the
    outcome. A copy that finds the claim held gets IdempotencyInProgress (Stripe is answered 409 and sends
    it again later; a queue message comes back); one that finds an outcome gets that outcome, and changes
    nothing. A claim whose holder failed is given back; one whose holder died lapses after `lease_seconds`
    (the function's time left), so the event is never stuck."""
    now = int(ctx.clock().timestamp())
    held = ctx.inbound.claim(InboundEvent(source, event_id, event_type, PROCESSING), now=now,
                             until=now + max(lease_seconds, 1))
    if held is not None:
        if held.outcome == PROCESSING:
            raise IdempotencyInProgress(f"{source} event {event_id} is being applied; send it again later")
        return held.outcome
    try:
        outcome, detail = apply()
    except BaseException:
        ctx.inbound.release(source, event_id)
        raise
    ctx.inbound.record(InboundEvent(source, event_id, event_type, outcome, detail))
    return outcome


def _int(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _apply_stripe(event_type: str, obj: dict, ctx: Context) -> tuple[str, str]:
    if event_type not in _INTENT_STATUS and event_type != "charge.refunded":
        return "ignored", f"{event_type} is not an event Shelf acts on"
    metadata = obj.get("metadata")
    order_id = metadata.get("order_id") if isinstance(metadata, dict) else None
    if not isinstance(order_id, str) or not _ORDER_ID.fullmatch(order_id):
        return "ignored", "no order id in data.object.metadata.order_id"
    intent_id = obj.get("id") if event_type.startswith("payment_intent.") else obj.get("payment_intent")
    order = ctx.orders.get(order_id)
    if order is None:
        return "ignored", f"no order {order_id}"
    amount, currency = _int(obj.get("amount")), obj.get("currency")
    if (intent_id != order.payment.payment_intent_id or amount != order.total.amount
            or not isinstance(currency, str) or currency.upper() != order.currency):
        return "ignored", (f"mismatch: intent {str(intent_id)[:40]}, {str(obj.get('amount'))[:20]} "
                           f"{str(currency)[:10]} vs order's {order.payment.payment_intent_id}, "
                           f"{order.total.amount} {order.currency}")
    if event_type == "charge.refunded":
        refunded = _int(obj.get("amount_refunded"))
        if refunded is None or refunded < 0:
            return "ignored", "no amount_refunded"
        if refunded > order.total.amount:
            return "rejected", (f"Stripe reports {refunded} refunded, more than the order's total of "
                                f"{order.total.amount}: nothing booked")
        if order.status == PENDING_PAYMENT and refunded > 0:
            # Its payment's event has not been applied yet (Stripe sends events in no set order): booked now,
            # the refund would be lost; sent back (its claim given back), Stripe's retry finds the order paid,
            # or canceled (then the cancel gives back whatever the provider still holds).
            raise EventTooEarly(f"order {order.id} has no recorded payment yet; send this refund again later")
        lifecycle.record_external_refund(order.id, refunded, ctx)
        return "processed", f"refunded {refunded} in total"
    status = _INTENT_STATUS[event_type]
    after = lifecycle.record_payment_status(order.id, status, ctx)
    if after.status == "canceled" and status in ("succeeded", "requires_capture"):
        return "processed", f"the payment arrived after the order was canceled: {after.payment.status}"
    if status == "canceled" and lifecycle.authorization_lost(after):
        return "processed", "the provider canceled the authorization of a paid order: it is being canceled"
    if after.payment.status != status:
        return "ignored", f"order is {after.status} with payment {after.payment.status}: a late event"
    detail = ""
    if event_type == "payment_intent.payment_failed":
        error = obj.get("last_payment_error")
        message = error.get("message") if isinstance(error, dict) else None
        detail = message[:500] if isinstance(message, str) and message else "payment failed"
        count(ctx, PAYMENT_FAILED)
    return "processed", detail


def merchant_event(event: dict, ctx: Context, *, threshold: int, lease_seconds: int = 60) -> str:
    """Applies one merchant event (already verified and queued) once per event id. A refusal (unknown
    order, an order that cannot ship, bad data) is recorded as rejected and not retried; an infrastructure
    failure raises so the queue delivers it again."""
    event_id, event_type = str(event.get("id")), str(event.get("type"))
    data = event.get("data") or {}

    def apply() -> tuple[str, str]:
        try:
            return _apply_merchant(event_type, data, ctx, threshold)
        except DomainError as refusal:
            return "rejected", f"{refusal.slug}: {refusal.detail}"

    return _once("merchant", event_id, event_type, apply, ctx, lease_seconds)


def _text(data: dict, name: str, limit: int = 200) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not 0 < len(value) <= limit:
        raise Invalid(f"data.{name} is required", [FieldError(f"data.{name}", f"a string of 1..{limit} characters")])
    return value


def _apply_merchant(event_type: str, data: dict, ctx: Context, threshold: int) -> tuple[str, str]:
    if event_type == "fulfillment.shipped":
        order = lifecycle.record_shipment(_text(data, "order_id"), _text(data, "carrier"),
                                          _text(data, "tracking_number"), ctx)
        return "processed", f"order {order.id} ships"
    if event_type == "order.cancel_requested":
        reason = data.get("reason") if isinstance(data.get("reason"), str) else ""
        order = lifecycle.cancel(_text(data, "order_id"), ctx, reason=reason[:500] or "requested by merchant")
        return "processed", f"order {order.id} is {order.status}"
    if event_type == "inventory.set":
        on_hand = data.get("on_hand")
        if isinstance(on_hand, bool) or not isinstance(on_hand, int) or not 0 <= on_hand <= 10**9:
            raise Invalid("data.on_hand", [FieldError("data.on_hand", "an integer 0..1000000000")])
        shards = data.get("shards")  # optional, as on PUT /admin/inventory/{sku}: flags a hot SKU
        if shards is not None and (isinstance(shards, bool) or not isinstance(shards, int)
                                   or not 1 <= shards <= MAX_SHARDS):
            raise Invalid("data.shards", [FieldError("data.shards", f"an integer 1..{MAX_SHARDS}")])
        sku = _text(data, "sku", 64)
        catalog.set_stock(SetStock(sku, on_hand, shards), ctx, threshold=threshold)
        return "processed", f"{sku} on hand {on_hand}" + (f" over {shards} shards" if shards else "")
    if event_type == "return.received":
        from . import returns

        ret = returns.receive(_text(data, "return_id", 64), ctx)
        return "processed", f"return {ret.id} is {ret.status}"
    return "ignored", f"{event_type} is not an event Shelf acts on"

