"""The order lifecycle after checkout: payment, shipment, cancellation and refunds.

Each use case writes through the one write path (order_writes): read the order, let the domain decide,
write over the version read; the events the domain recorded are dispatched after the save. Side effects
at the payment provider carry idempotency keys derived from the order and the step, so any step can be
retried. The workflow enters two states on a happy order: waiting for the payment, then (the order marked paid in
the same write that stores the token) waiting for the shipment, which the merchant's notice captures and
records before resuming it."""
from __future__ import annotations

from dataclasses import replace

from ..domain.errors import Conflict, EventTooEarly, IdempotencyKeyReused, InvalidTransition, OrderClosed
from ..domain.ids import derived_id, new_id
from ..domain.money import Money
from ..domain.orders import (
    AUTHORIZED,
    CANCELED,
    CAPTURED,
    PAID,
    PAYMENT_SETTLED,
    PENDING_PAYMENT,
    REFUNDED,
    SHIPPED,
    Fulfillment,
    Order,
    OrderPlaced,
    Refund,
)
from .context import Context
from .events import announce_low_stock, dispatch
from .order_writes import OrderWrites, update
from .orders import get_order as _load
from .ports import PaymentDeclined, PaymentGatewayError, RefundInDoubt

UNEXPECTED_STATE = "payment_intent_unexpected_state"
# The provider refuses a refund of a charge it has refunded in full already (its dashboard refunded it first).
ALREADY_REFUNDED = "charge_already_refunded"
_SETTLE_STEPS = 8  # more than any settlement needs (void, book, refund) even with others racing it


# --- starting --------------------------------------------------------------------------------------

def after_checkout(order: Order, ctx: Context, threshold: int) -> None:
    """What follows a placed order: its workflow is asked for, merchants hear of it. The webhook deliveries
    published here ride in the workflow's start message, and its worker makes their first attempts: the
    shopper waits on no merchant endpoint, and no message of their own is sent."""
    from .webhooks import hand_over, holding

    with holding() as held:
        try:
            dispatch(order, order.events, ctx)
            levels = ctx.inventory.levels([ln.sku for ln in order.lines])
            for line in order.lines:
                if line.sku in levels:
                    level = levels[line.sku]
                    announce_low_stock(ctx, line.sku, level, level.available + line.quantity, threshold, order.id)
        finally:
            if ctx.workflow is None:
                hand_over(held, ctx)
            else:
                try:
                    ctx.workflow.request_start(order.id, deliveries=held)
                except Exception:
                    hand_over(held, ctx)  # queued on their own; the schedule asks for the workflow again
                    raise


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
                # The same event id: endpoints that had it get nothing new.
                dispatch(order, [OrderPlaced(order.id, order.total)], ctx)
                requested += 1
        cursor = page.next_cursor
        if not cursor:
            break
    return requested


# --- waiting workflow steps --------------------------------------------------------------------------

def await_payment(order_id: str, task_token: str, ctx: Context) -> None:
    """The workflow's first step: the task token is stored on the pending order; a payment already recorded
    resumes it at once (whichever of "token stored" and "payment recorded" comes second resumes the step)."""
    def store(order: Order):
        if order.status == PAID:
            return None  # a zero total was paid at checkout: nothing to wait for
        if order.status != PENDING_PAYMENT:
            raise OrderClosed(f"order {order_id} is {order.status}")
        return None if order.payment_token == task_token else replace(order, payment_token=task_token)

    order = update(order_id, ctx, store)
    if order.status == PAID:
        ctx.workflow.succeed(task_token, {"payment_status": order.payment.status})
        return
    _resume_payment(order, ctx)


def _resume_payment(order: Order, ctx: Context) -> None:
    if not order.payment_token or order.status != PENDING_PAYMENT:
        return
    if order.payment.status in PAYMENT_SETTLED:
        ctx.workflow.succeed(order.payment_token, {"payment_status": order.payment.status})
    elif order.payment.status == "canceled":
        ctx.workflow.fail(order.payment_token, "PaymentCanceled", "the payment intent was canceled")


def await_shipment(order_id: str, task_token: str, ctx: Context) -> Order:
    """The workflow's second step, entered once the payment settled. In one write the order becomes paid
    (its reserved stock committed) and the task token is stored; the merchant's shipment notice resumes it
    (`record_shipment`). An order shipped meanwhile resumes it at once. Retried, or entered again after a
    timeout, it only stores the new token."""
    def store(order: Order):
        if order.status == SHIPPED:
            return None
        if order.status == PENDING_PAYMENT:
            if order.payment.status not in PAYMENT_SETTLED:
                raise InvalidTransition(f"order {order_id} has no settled payment ({order.payment.status})")
            paid, moves = order.pay(ctx.clock())
            return replace(paid, shipment_token=task_token), moves
        if order.status != PAID:
            raise OrderClosed(f"order {order_id} is {order.status}")
        return None if order.shipment_token == task_token else replace(order, shipment_token=task_token)

    writes = OrderWrites(order_id, ctx)
    order = writes(store)
    # A run that paid the order but died before announcing it is announced again, under the same event id.
    order = writes.dispatch(again=PAID)
    if order.status == SHIPPED:
        ctx.workflow.succeed(task_token, {"shipped": True})
    return order


# --- payment ---------------------------------------------------------------------------------------

def record_payment_status(order_id: str, status: str, ctx: Context) -> Order:
    """The provider says the payment moved (succeeded, authorized, canceled, failed). A pending order takes
    it; a canceled one records money that arrived late and gives it back; a late event never moves an
    order backwards."""
    def record(order: Order):
        if order.status == CANCELED:
            return order.record_late_payment(status, ctx.clock())
        if order.status != PENDING_PAYMENT or order.payment.status == status:
            return None
        if (order.payment.status in PAYMENT_SETTLED and status not in PAYMENT_SETTLED
                and not (order.payment.status == AUTHORIZED and status == "canceled")):
            return None  # e.g. payment_failed arriving after succeeded; an authorization can still be canceled
        if order.payment.status == CAPTURED:
            return None  # an authorization reported after its capture: captured stays captured
        return order.with_payment_status(status, ctx.clock())

    order = update(order_id, ctx, record)
    if order.status == CANCELED:
        return settle(order_id, ctx)
    if status == "canceled" and authorization_lost(order):
        _decline(order, ctx, "the provider canceled the authorization (it expired, or was canceled there)")
        return _load(order_id, ctx)
    if ctx.workflow is not None:
        _resume_payment(order, ctx)
    return order


def authorization_lost(order: Order) -> bool:
    """Told the intent was canceled, a paid order that was only authorized has nothing left to capture: the
    provider let the authorization expire, or someone canceled it there. Not when Shelf is releasing it
    itself (a full refund of the authorization, booked and in flight): that refund finishes the order."""
    return (order.status == PAID and order.payment.status == AUTHORIZED
            and not any(r.status == "pending" for r in order.refunds))


# --- shipment --------------------------------------------------------------------------------------

def record_shipment(order_id: str, carrier: str, tracking_number: str, ctx: Context) -> Order:
    """The merchant shipped a paid order: an authorized payment is captured, the order is marked shipped,
    and the workflow's waiting step is resumed. A capture the provider declines cancels the order (the
    workflow voids the authorization and puts the stock back). A repeated notice changes nothing."""
    order = _load(order_id, ctx)
    if order.status == PAID and order.payment.status == AUTHORIZED:
        try:
            ctx.payments.capture(order.payment.payment_intent_id, f"{order_id}:capture")
        except PaymentGatewayError as exc:
            # Declined, or refused because the intent is no longer authorized (it expired, or was canceled
            # at the provider): there is nothing to capture, and asking again will not change that.
            if not isinstance(exc, PaymentDeclined) and exc.code != UNEXPECTED_STATE:
                raise
            _decline(order, ctx, str(exc))
            raise InvalidTransition(f"order {order_id} could not be captured ({exc.code}); it is being "
                                    "canceled") from None
    fulfillment = Fulfillment(carrier=carrier, tracking_number=tracking_number, shipped_at=ctx.clock())

    def mark(current: Order):
        if current.status == SHIPPED:
            return None
        if current.status != PAID:
            raise InvalidTransition(f"order {order_id} is {current.status}; only a paid order ships")
        shipped = current.ship(fulfillment, ctx.clock())
        if current.payment.status == AUTHORIZED:
            shipped = shipped.with_payment_status("succeeded", ctx.clock())
        return shipped

    writes = OrderWrites(order_id, ctx)
    writes(mark)
    order = writes.dispatch(again=SHIPPED)
    if ctx.workflow is not None and order.shipment_token:
        ctx.workflow.succeed(order.shipment_token, {"shipped": True})
    return order


def _decline(order: Order, ctx: Context, cause: str) -> None:
    """The waiting step fails with PaymentDeclined, and the workflow compensates; an order no workflow
    waits on is canceled here."""
    if ctx.workflow is not None and order.shipment_token and ctx.workflow.fail(order.shipment_token,
                                                                                 "PaymentDeclined", cause):
        return
    cancel(order.id, ctx, reason=f"capture declined: {cause}")


# --- cancel ----------------------------------------------------------------------------------------

def cancel(order_id: str, ctx: Context, *, reason: str) -> Order:
    """Cancel an order that has not shipped: release (or restock) its stock, and give back its payment: a
    captured one is refunded (what was not refunded yet), an uncaptured one voided. Idempotent: canceling a
    canceled order finishes whatever the payment side left undone."""
    def decide(order: Order):
        if order.status == CANCELED:
            return None
        if order.status not in (PENDING_PAYMENT, PAID):
            raise InvalidTransition(f"order {order_id} is {order.status}; only unshipped orders can be canceled")
        return order.cancel(ctx.clock())

    writes = OrderWrites(order_id, ctx)
    writes(decide)
    _settle(writes)
    return writes.dispatch(again=CANCELED)


def settle(order_id: str, ctx: Context) -> Order:
    """Makes a canceled order's money record match the provider: see `Order.settlement`."""
    writes = OrderWrites(order_id, ctx)
    _settle(writes)
    return writes.dispatch()


def _settle(writes: OrderWrites) -> None:
    """Each step is decided from the version being written; a step someone else took meanwhile is
    decided again, never repeated from a stale copy."""
    ctx, order_id = writes.ctx, writes.order_id
    for _ in range(_SETTLE_STEPS):
        order = writes(lambda o: None)
        step = order.settlement()
        if step is None:
            return
        intent = order.payment.payment_intent_id
        if step.kind == "refund":
            # A refund booked by someone else (a racing refund request) is asked for again with its own
            # idempotency key: the provider answers what it did, never refunds twice.
            refund_id, release = step.refund.id, order.payment.status == AUTHORIZED
            try:
                provider_id = _carry_out(order, step.refund, release, ctx)
            except PaymentGatewayError as exc:
                if exc.retryable:
                    raise  # booked still: the next cancel (or charge.refunded) asks again with the same key
                _refused(writes, refund_id, exc)
                continue
            writes(lambda o: o.settle_refund(refund_id, provider_id, ctx.clock(), released=release))
            continue
        try:
            ctx.payments.cancel_intent(intent, f"{order_id}:cancel")
        except PaymentGatewayError as exc:
            if exc.code != UNEXPECTED_STATE:
                raise
            # The shopper paid while we were canceling (its webhook is still on the way): it is captured,
            # so what it took is booked as a refund and given back on the next step.
            writes(lambda o: (o.record_late_payment("succeeded", ctx.clock()) or o).book_return(ctx.clock()))
            continue
        writes(lambda o: o.record_void(ctx.clock()))
    raise Conflict(f"order {order_id} is changing too fast; try again")


def compensate(order_id: str, ctx: Context, *, error: str) -> str:
    """The workflow's catch-all: whatever failed, leave the order consistent. A shipped or refunded order
    needs nothing; anything else is canceled, its stock put back and its payment canceled or refunded."""
    order = _load(order_id, ctx)
    if order.status in (SHIPPED, REFUNDED):
        return order.status
    return cancel(order_id, ctx, reason=f"workflow: {error}").status


# --- refunds ---------------------------------------------------------------------------------------

def refund(order_id: str, amount: Money | None, reason: str, ctx: Context, *,
           refund_id: str = "", at_most: bool = False, merchant: bool = False,
           metadata: dict[str, str] | None = None) -> tuple[Order, Refund | None]:
    """Books the refund before asking the provider (so concurrent refunds never exceed the payment), then
    records the provider's answer. An authorization never captured is released (its intent voided), in full.

    A caller that names its `refund_id` (derived from what it refunds) may run again: a refund booked under
    that id already is carried out (the provider answers the same idempotency key with what it did), never
    booked twice. A provider failure that may pass (a timeout: the provider may have refunded) leaves the
    refund booked and raises RefundInDoubt: a caller's next run settles it, and a `merchant` refund (the
    admin API's, with or without a key) is settled by the schedule too (`settle_refunds_in_doubt`). A
    refusal un-books it (`failed`); on an order canceled meanwhile, the cancel then gives that amount back
    (`Order.fail_refund` books it as a return, and it is settled here). With `at_most`,
    `amount` is capped at what is left of the payment, decided from the version being written; when nothing
    is left, or the amount is 0, nothing is booked and the refund is None. `metadata` (with the order and
    refund ids) goes on the provider's refund."""
    refund_id = refund_id or new_id("re")
    writes = OrderWrites(order_id, ctx)

    def book(order: Order):
        if any(r.id == refund_id for r in order.refunds):
            return None
        value = amount if amount is not None else order.refundable
        if at_most:
            value = min(value, order.refundable)
            if value.amount <= 0:
                return None  # nothing asked for (units that paid nothing), or nothing left
        if order.payment.status == AUTHORIZED and order.status == PAID and value != order.refundable:
            raise InvalidTransition(f"order {order_id} is authorized only: its authorization is released in "
                                    "full, or captured when it ships")
        return order.start_refund(Refund(id=refund_id, amount=value, status="pending", reason=reason,
                                         created_at=ctx.clock(), merchant=merchant), ctx.clock())

    order = writes(book)
    booked = next((r for r in order.refunds if r.id == refund_id), None)
    if booked is None or booked.status != "pending":
        return writes.dispatch(), booked
    release = order.payment.status == AUTHORIZED
    try:
        provider_id = _carry_out(order, booked, release, ctx, metadata)
    except PaymentGatewayError as exc:
        if exc.retryable:
            # The outcome is unknown (the provider may have refunded): booked still, so the money record never
            # says less than the provider did. The next run (the caller's, or the schedule's for a merchant
            # refund: `settle_refunds_in_doubt`) asks again with the same key and settles it either way.
            writes.dispatch()
            raise RefundInDoubt(refund_id, str(exc)) from exc
        done_there = _refused(writes, refund_id, exc)
        order = writes.dispatch()
        if order.status == CANCELED:
            # Canceled meanwhile: what this refund did not give back is booked as a return (the same write
            # that un-booked it), and carried out here with the cancel's other steps.
            order = settle(order_id, ctx)
        if not done_there:
            raise
        return order, next(r for r in order.refunds if r.id == refund_id)
    writes(lambda o: o.settle_refund(refund_id, provider_id, ctx.clock(), released=release))
    order = writes.dispatch()
    return order, next(r for r in order.refunds if r.id == refund_id)


def _carry_out(order: Order, booked: Refund, release: bool, ctx: Context,
               metadata: dict[str, str] | None = None) -> str:
    """Asks the provider for a booked refund under its own idempotency key (`<order id>:<refund id>`), so
    asking again is answered with what it did: an authorization is released (its intent voided), a capture
    refunded (with `metadata`, and the order and refund ids, on the provider's refund). The provider's id."""
    key, intent = f"{order.id}:{booked.id}", order.payment.payment_intent_id
    if release:
        ctx.payments.cancel_intent(intent, key)
        return ""
    extra = {"metadata": {"order_id": order.id, "refund_id": booked.id, **metadata}} if metadata else {}
    return ctx.payments.refund(intent, booked.amount, key, **extra)


def _refused(writes: OrderWrites, refund_id: str, exc: PaymentGatewayError) -> bool:
    """The provider refused a booked refund for good. A charge it had refunded in full already (in its
    dashboard) holds everything booked: the refund is settled as done there, and True is returned. Any
    other refusal un-books it; the provider's `charge.refunded` then books what it did refund. On a canceled
    order the domain books what a refund booked before the cancel did not give back as a return, which
    settling then carries out (`Order.fail_refund`); a refused return leaves the payment captured, and is
    logged as an error and counted, for a person to resolve (docs/operations.md)."""
    ctx = writes.ctx
    if exc.code == ALREADY_REFUNDED:
        writes(lambda o: o.settle_refund(refund_id, "", ctx.clock()))
        return True
    failed_here = []

    def fail(o: Order):
        step = o.fail_refund(refund_id, ctx.clock())
        failed_here[:] = [step is not None]  # decided again on every attempt: only the run that un-books it
        return step

    order = writes(fail)
    if failed_here == [True] and order.status == CANCELED and order.is_return(refund_id):
        _report_refused_return(order, refund_id, exc, ctx)
    return False


def _report_refused_return(order: Order, refund_id: str, exc: PaymentGatewayError, ctx: Context) -> None:
    from ..observability import logger
    from .metering import CANCELED_REFUND_REFUSED, count

    logger.error("the provider refused a canceled order's refund: its payment stays captured",
                 extra={"order_id": order.id, "refund_id": refund_id, "payment_intent_id":
                        order.payment.payment_intent_id, "code": exc.code, "error": str(exc),
                        "captured_not_refunded": order.refundable.amount, "currency": order.currency})
    count(ctx, CANCELED_REFUND_REFUSED)


def keyed_refund(order_id: str, key: str | None, amount: Money | None, reason: str,
                 ctx: Context) -> tuple[Order, Refund]:
    """A merchant's refund under its Idempotency-Key: the refund id derives from the order and the key, so
    the same request again is answered with the same refund, and one the provider may still have carried out
    (a timeout) stays booked for that retry, which asks the provider again with the same key: never a second
    refund. The key with another amount is a 409. Without a key, each call is a refund of its own; one in
    doubt stays booked too. Either way the schedule settles a refund left in doubt."""
    if key is None:
        return refund(order_id, amount, reason, ctx, merchant=True)
    order, booked = refund(order_id, amount, reason, ctx, refund_id=derived_id("re", order_id, "merchant", key),
                           merchant=True)
    if booked is None or (amount is not None and booked.amount != amount):
        raise IdempotencyKeyReused("this Idempotency-Key was used for another refund of this order")
    if booked.status == "failed":
        raise Conflict(f"the refund {booked.id} under this Idempotency-Key failed; send a new key to try again")
    return order, booked


# How long the provider keeps an idempotency key (Stripe: at least 24 hours), less a margin: a refund in doubt
# older than this is never asked for again, since the provider could take the key as new and refund twice.
KEY_WINDOW_SECONDS = 23 * 3600


def settle_refunds_in_doubt(ctx: Context, *, older_than_seconds: int, limit: int = 200) -> dict[str, int]:
    """The schedule's side of a merchant refund the provider did not answer: once it is older than any request
    that could still be carrying it out, the provider is asked again with the refund's own idempotency key
    (it answers with what it did, never a second refund) and the refund is settled, or failed (un-booked) if
    the provider refused it. One still unanswered stays pending for the next run. One older than the
    provider keeps its keys (`KEY_WINDOW_SECONDS`) is not asked again: it is counted `stale`, for a person to
    look up at the provider (docs/operations.md). Returns how many refunds ended each way."""
    from datetime import timedelta

    now = ctx.clock()
    cutoff, expired = now - timedelta(seconds=older_than_seconds), now - timedelta(seconds=KEY_WINDOW_SECONDS)
    outcomes = {"succeeded": 0, "failed": 0, "pending": 0, "stale": 0}
    for order_id in ctx.orders.refunds_due(before=cutoff, limit=limit):
        order = ctx.orders.get(order_id)
        for r in order.refunds if order is not None else ():
            if not (r.merchant and r.status == "pending" and r.created_at < cutoff):
                continue
            if r.created_at < expired:
                outcomes["stale"] += 1
                continue
            try:
                _, done = refund(order_id, r.amount, r.reason, ctx, refund_id=r.id, merchant=True)
            except PaymentGatewayError as exc:
                outcomes["pending" if exc.retryable else "failed"] += 1
            else:
                outcomes[done.status if done is not None else "failed"] += 1
    return outcomes


def record_external_refund(order_id: str, amount_refunded: int, ctx: Context) -> Order:
    """The provider reports refunds made outside Shelf (its dashboard): book the difference. What is missing
    is decided from the version being written: events racing each other (each carries the charge's running
    total) or a Shelf refund un-booked meanwhile never leave more booked than the provider refunded.

    A canceled order first has its cancel's refund carried out (or refused: the dashboard got there first),
    since only a record with nothing in flight can be compared with the provider's total; what the provider
    refunded is then booked, and what it still holds is booked as the cancel's return and given back."""
    refund_id = derived_id("re", order_id, str(amount_refunded))
    writes = OrderWrites(order_id, ctx)

    def settle_first() -> None:
        try:
            _settle(writes)
        except PaymentGatewayError as exc:
            if not exc.retryable:
                raise
            # The provider did not answer: the refund stays booked, and Stripe sends the event again later.
            raise EventTooEarly(f"order {order_id} has a refund in flight; send this refund again later") from exc

    if writes(lambda o: None).status == CANCELED:
        settle_first()

    def book(o: Order):
        if o.status not in (PAID, SHIPPED, CANCELED) or any(r.id == refund_id for r in o.refunds):
            return None
        if o.status == CANCELED and any(r.status == "pending" for r in o.refunds):
            # Canceled since the step above: its refund is in flight, so the total cannot be compared yet.
            raise EventTooEarly(f"order {order_id} has a refund in flight; send this refund again later")
        missing = amount_refunded - sum(r.amount.amount for r in o.refunds if r.status != "failed")
        if missing <= 0:
            return None
        return o.book_provider_refund(Refund(refund_id, Money(missing, o.currency), "pending",
                                             "refunded at the provider", ctx.clock()), ctx.clock())

    writes(book)
    writes(lambda o: o.settle_refund(refund_id, "", ctx.clock()))
    if writes.order.status == CANCELED:
        writes(lambda o: o.book_return(ctx.clock()))
        settle_first()
    return writes.dispatch()
