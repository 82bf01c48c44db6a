"""The order lifecycle after checkout: payment, shipment, cancellation and refunds.

Each use case reads the order, lets the domain decide, and writes the result over the version it read
(retrying when someone else wrote first). Side effects at the payment provider carry idempotency keys
derived from the order and the step, so any step can be retried. Waiting workflow steps store their task
token on the order; whichever of "token stored" and "event recorded" comes second resumes the step."""
from __future__ import annotations

from dataclasses import replace
from typing import Callable

from ..domain.errors import Conflict, InvalidTransition, NotFound, OrderClosed
from ..domain.ids import derived_id, new_id
from ..domain.money import Money
from ..domain.orders import (
    CANCELED,
    PAID,
    PAYMENT_SETTLED,
    PENDING_PAYMENT,
    REFUNDED,
    SHIPPED,
    Fulfillment,
    Order,
    Refund,
    StockMove,
)
from .context import Context
from .events import announce_low_stock, publish_order
from .ports import PaymentGatewayError, StaleWrite

_RETRIES = 8


def _load(order_id: str, ctx: Context) -> Order:
    order = ctx.orders.get(order_id)
    if order is None:
        raise NotFound(f"no order {order_id}")
    return order


def _update(order_id: str, ctx: Context, change: Callable[[Order], tuple[Order, list[StockMove]] | None]) -> Order:
    """Read, decide, write over the read version; again if someone else wrote in between.
    `change` returns None when there is nothing to write."""
    for _ in range(_RETRIES):
        order = _load(order_id, ctx)
        decided = change(order)
        if decided is None:
            return order
        updated, moves = decided
        try:
            return ctx.orders.save(updated, moves)
        except StaleWrite:
            continue
    raise Conflict(f"order {order_id} is changing too fast; try again")


# --- starting --------------------------------------------------------------------------------------

def after_checkout(order: Order, ctx: Context, threshold: int) -> None:
    """What follows a placed order: its workflow is asked for, merchants hear of it."""
    if ctx.workflow is not None:
        ctx.workflow.request_start(order.id)
    publish_order(ctx, "order.created", order)
    levels = ctx.inventory.levels([ln.sku for ln in order.lines])
    for line in order.lines:
        if line.sku in levels:
            level = levels[line.sku]
            announce_low_stock(ctx, line.sku, level, level.available + line.quantity, threshold, order.id)


def start_workflow(order_id: str, ctx: Context, *, payment_timeout: int, shipment_timeout: int) -> None:
    ctx.workflow.start(order_id, {"order_id": order_id, "payment_timeout_seconds": payment_timeout,
                                  "shipment_timeout_seconds": shipment_timeout})


def restart_stalled(ctx: Context, *, older_than_seconds: int, limit: int = 1000) -> int:
    """Asks again for the workflow of every pending order old enough that its workflow should be waiting
    for payment by now but has not stored its token. Starting is idempotent, so a false alarm is harmless."""
    from datetime import timedelta

    cutoff = ctx.clock() - timedelta(seconds=older_than_seconds)
    requested, cursor = 0, None
    while requested < limit:
        page = ctx.orders.list(status=PENDING_PAYMENT, limit=100, cursor=cursor)
        for order in page.items:
            if order.created_at <= cutoff and not order.payment_token:
                ctx.workflow.request_start(order.id)
                publish_order(ctx, "order.created", order)  # same event id: endpoints that had it get nothing new
                requested += 1
        cursor = page.next_cursor
        if not cursor:
            break
    return requested


# --- payment ---------------------------------------------------------------------------------------

def await_payment(order_id: str, task_token: str, ctx: Context) -> None:
    def store(order: Order):
        if order.status != PENDING_PAYMENT:
            raise OrderClosed(f"order {order_id} is {order.status}")
        if order.payment_token == task_token:
            return None
        return replace(order, payment_token=task_token), []

    order = _update(order_id, ctx, store)
    _resume_payment(order, ctx)


def _resume_payment(order: Order, ctx: Context) -> None:
    if not order.payment_token or order.status != PENDING_PAYMENT:
        return
    if order.payment.status in PAYMENT_SETTLED:
        ctx.workflow.succeed(order.payment_token, {"payment_status": order.payment.status})
    elif order.payment.status == "canceled":
        ctx.workflow.fail(order.payment_token, "PaymentCanceled", "the payment intent was canceled")


def record_payment_status(order_id: str, status: str, ctx: Context) -> Order:
    """The provider says the payment moved (succeeded, authorized, canceled, failed). Only a pending
    order takes it: a late event never moves an order backwards."""
    def record(order: Order):
        if order.status != PENDING_PAYMENT or order.payment.status == status:
            return None
        if order.payment.status in PAYMENT_SETTLED and status not in PAYMENT_SETTLED:
            return None  # e.g. payment_failed arriving after succeeded
        return order.with_payment_status(status, ctx.clock()), []

    order = _update(order_id, ctx, record)
    if order.status == CANCELED and status in PAYMENT_SETTLED and order.payment.status != "refunded":
        return _return_late_payment(order, status, ctx)
    if ctx.workflow is not None:
        _resume_payment(order, ctx)
    return order


def _return_late_payment(order: Order, status: str, ctx: Context) -> Order:
    """Money (or an authorization) arrived for an order already canceled, e.g. at its payment timeout:
    it goes straight back. The order stays canceled."""
    if status == "succeeded":
        ctx.payments.refund(order.payment.payment_intent_id, order.refundable, f"{order.id}:late-refund")
        settled = "refunded"
    else:
        ctx.payments.cancel_intent(order.payment.payment_intent_id, f"{order.id}:late-cancel")
        settled = "canceled"
    return _update(order.id, ctx, lambda o: None if o.payment.status == settled
                   else (o.with_payment_status(settled, ctx.clock()), []))


def mark_paid(order_id: str, ctx: Context) -> Order:
    def pay(order: Order):
        if order.status == PAID:
            return None
        if order.status != PENDING_PAYMENT:
            raise OrderClosed(f"order {order_id} is {order.status}")
        if order.payment.status not in PAYMENT_SETTLED:
            raise InvalidTransition(f"order {order_id} has no settled payment ({order.payment.status})")
        return order.pay(ctx.clock())

    order = _update(order_id, ctx, pay)
    publish_order(ctx, "order.paid", order)  # (committing moves nothing out of `available`: no low-stock check)
    return order


# --- shipment --------------------------------------------------------------------------------------

def await_shipment(order_id: str, task_token: str, ctx: Context) -> None:
    def store(order: Order):
        if order.status == SHIPPED:
            return None
        if order.status != PAID:
            raise OrderClosed(f"order {order_id} is {order.status}")
        if order.shipment_token == task_token:
            return None
        return replace(order, shipment_token=task_token), []

    order = _update(order_id, ctx, store)
    _resume_shipment(order, ctx)


def _resume_shipment(order: Order, ctx: Context) -> None:
    if order.shipment_token and (order.pending_fulfillment is not None or order.status == SHIPPED):
        ctx.workflow.succeed(order.shipment_token, {"shipped": True})


def record_shipment(order_id: str, carrier: str, tracking_number: str, ctx: Context) -> Order:
    """The merchant shipped. Only a paid order can ship; a repeated notice changes nothing."""
    def record(order: Order):
        if order.status == SHIPPED or order.pending_fulfillment is not None:
            return None
        if order.status != PAID:
            raise InvalidTransition(f"order {order_id} is {order.status}; only a paid order ships")
        pending = Fulfillment(carrier=carrier, tracking_number=tracking_number, shipped_at=ctx.clock())
        return replace(order, pending_fulfillment=pending, updated_at=ctx.clock()), []

    order = _update(order_id, ctx, record)
    if ctx.workflow is not None:
        _resume_shipment(order, ctx)
    return order


def ship(order_id: str, ctx: Context) -> Order:
    order = _load(order_id, ctx)
    if order.status == SHIPPED:
        return order
    if order.status != PAID or order.pending_fulfillment is None:
        raise OrderClosed(f"order {order_id} is {order.status}")
    if order.payment.status == "requires_capture":
        ctx.payments.capture(order.payment.payment_intent_id, f"{order_id}:capture")

    def mark(current: Order):
        if current.status == SHIPPED:
            return None
        if current.status != PAID:
            raise OrderClosed(f"order {order_id} is {current.status}")
        shipped = current.ship(current.pending_fulfillment, ctx.clock())
        if current.payment.status == "requires_capture":
            shipped = shipped.with_payment_status("succeeded", ctx.clock())
        return shipped, []

    order = _update(order_id, ctx, mark)
    publish_order(ctx, "order.shipped", order)
    return order


# --- cancel ----------------------------------------------------------------------------------------

def cancel(order_id: str, ctx: Context, *, reason: str) -> Order:
    """Cancel an order that has not shipped: release (or restock) its stock, then cancel (or refund) its
    payment. Idempotent: canceling a canceled order finishes whatever the payment side left undone."""
    def decide(order: Order):
        if order.status == CANCELED:
            return None
        if order.status not in (PENDING_PAYMENT, PAID):
            raise InvalidTransition(f"order {order_id} is {order.status}; only unshipped orders can be canceled")
        return order.cancel(ctx.clock())

    order = _update(order_id, ctx, decide)
    order = _settle_canceled_payment(order, ctx)
    publish_order(ctx, "order.canceled", order)
    if ctx.workflow is not None:
        for token in (order.payment_token, order.shipment_token):
            if token:
                ctx.workflow.fail(token, "OrderClosed", reason or "canceled")
    return order


def _settle_canceled_payment(order: Order, ctx: Context) -> Order:
    status = order.payment.status
    if status in ("canceled", "refunded"):
        return order
    if status == "succeeded" and order.refundable.amount > 0:
        ctx.payments.refund(order.payment.payment_intent_id, order.refundable, f"{order.id}:cancel-refund")
        settled = "refunded"
    else:
        # Not captured (never paid, or authorized only): cancel the intent; no money moved.
        try:
            ctx.payments.cancel_intent(order.payment.payment_intent_id, f"{order.id}:cancel")
            settled = "canceled"
        except PaymentGatewayError as exc:
            if exc.code != "payment_intent_unexpected_state":
                raise
            # The shopper paid while we were canceling (its webhook is still on the way): refund instead.
            ctx.payments.refund(order.payment.payment_intent_id, order.refundable, f"{order.id}:cancel-refund")
            settled = "refunded"
    return _update(order.id, ctx, lambda o: None if o.payment.status == settled
                   else (o.with_payment_status(settled, ctx.clock()), []))


def compensate(order_id: str, ctx: Context, *, error: str) -> str:
    """The workflow's catch-all: whatever failed, leave the order consistent. A shipped or refunded order
    needs nothing; anything else is canceled, its stock put back and its payment canceled or refunded."""
    order = _load(order_id, ctx)
    if order.status in (SHIPPED, REFUNDED):
        return order.status
    return cancel(order_id, ctx, reason=f"workflow: {error}").status


# --- refunds ---------------------------------------------------------------------------------------

def refund(order_id: str, amount: Money | None, reason: str, ctx: Context) -> tuple[Order, Refund]:
    refund_id = new_id("re")
    requested: dict = {}

    def book(order: Order):
        value = amount if amount is not None else order.refundable
        requested["amount"] = value
        return order.start_refund(Refund(id=refund_id, amount=value, status="pending", reason=reason,
                                         created_at=ctx.clock()), ctx.clock()), []

    order = _update(order_id, ctx, book)
    try:
        provider_id = ctx.payments.refund(order.payment.payment_intent_id, requested["amount"],
                                          f"{order_id}:{refund_id}")
    except PaymentGatewayError:
        _update(order_id, ctx, lambda o: (o.fail_refund(refund_id, ctx.clock()), []))
        raise
    order = _update(order_id, ctx, lambda o: o.settle_refund(refund_id, provider_id, ctx.clock()))
    if order.status == REFUNDED:
        publish_order(ctx, "order.refunded", order)
        if ctx.workflow is not None and order.shipment_token:
            ctx.workflow.fail(order.shipment_token, "OrderClosed", "refunded")
    return order, next(r for r in order.refunds if r.id == refund_id)


def record_external_refund(order_id: str, amount_refunded: int, ctx: Context) -> Order:
    """The provider reports refunds made outside Shelf (its dashboard): book the difference."""
    order = _load(order_id, ctx)
    booked = sum(r.amount.amount for r in order.refunds if r.status != "failed")
    missing = amount_refunded - booked
    if missing <= 0 or order.status not in (PAID, SHIPPED):
        return order
    refund_id = derived_id("re", order_id, str(amount_refunded))
    order = _update(order_id, ctx, lambda o: None if any(r.id == refund_id for r in o.refunds) else (
        o.start_refund(Refund(refund_id, Money(missing, o.currency), "pending", "refunded at the provider",
                              ctx.clock()), ctx.clock()), []))
    order = _update(order_id, ctx, lambda o: o.settle_refund(refund_id, "", ctx.clock()))
    if order.status == REFUNDED:
        publish_order(ctx, "order.refunded", order)
    return order

