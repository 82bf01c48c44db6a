"""Returns: a shopper asks, the merchant approves (or rejects) and receives, the units go back on hand and
the shopper's share is refunded through the order's one refund path.

Receiving is two steps. First the return becomes `received` in the transaction that puts its units back
on hand. Then its refund is booked on the order under an id derived from the return, and carried out with
an idempotency key derived from that id: running the second step again (a concurrent receive, a retry from
the merchant-events queue) finds the same booking and asks the provider the same question, so a return is
refunded once, whatever fails and whenever it is retried."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from itertools import count

from ..domain.errors import DomainError, NotFound, found
from ..domain.ids import derived_id, new_id, rfc3339
from ..domain.money import Money
from ..domain.returns import (
    RECEIVED,
    REFUNDED,
    Return,
    ReturnRequested,
    ReturnStatusChanged,
    paid_lines,
)
from . import lifecycle
from .auth import authenticate_merchant
from .context import Context
from .events import publish
from .orders import get_order_for_token
from .ports import Page, PaymentGatewayError
from .retry import retrying

_RETRIES = 8

# Called with (return, event) for every event a use case dispatches: the metrics sink the wiring installs.
_observers: list[Callable[[Return, object], None]] = []


def observe(observer: Callable[[Return, object], None]) -> None:
    if observer not in _observers:
        _observers.append(observer)


# --- reading -------------------------------------------------------------------------------------------

def _order_for(order_id: str, bearer: str, ctx: Context, scope: str, bootstrap_hash: str, customer_id: str = ""):
    """The order, for the holder of its access token, the signed-in customer who placed it (`customer_id`,
    verified by the caller), or a merchant key with `scope`; anyone else gets a 404, as if it did not exist."""
    if customer_id:
        order = ctx.orders.get(order_id)
        if order is None or order.customer_id != customer_id:
            raise NotFound(f"no order {order_id}")
        return order
    if bearer.startswith("ot_"):
        return get_order_for_token(order_id, bearer, ctx)
    try:
        authenticate_merchant(bearer, ctx, bootstrap_hash=bootstrap_hash).require(scope)
    except DomainError:
        raise NotFound(f"no order {order_id}") from None
    return found(ctx.orders.get(order_id), f"order {order_id}")


def returns_of_order(order_id: str, bearer: str, ctx: Context, *, bootstrap_hash: str = "",
                     customer_id: str = "") -> list[Return]:
    _order_for(order_id, bearer, ctx, "orders:read", bootstrap_hash, customer_id)
    return ctx.returns.for_order(order_id)


def get_return(return_id: str, ctx: Context) -> Return:
    return found(ctx.returns.get(return_id), f"return {return_id}")


def list_returns(ctx: Context, *, status: str | None, limit: int, cursor: str | None) -> Page[Return]:
    return ctx.returns.list(status=status, limit=limit, cursor=cursor)


# --- asking --------------------------------------------------------------------------------------------

def request_return(order_id: str, bearer: str, lines: Iterable[tuple[str, int]], reason: str, ctx: Context, *,
                   window_days: int, bootstrap_hash: str = "", customer_id: str = "") -> Return:
    """Checked against the order (shipped, within the window) and the units its other returns hold, as the
    order's ledger says; the return and the ledger are written together over the ledger's version, so two
    racing requests cannot take the same units."""
    order = _order_for(order_id, bearer, ctx, "orders:write", bootstrap_hash, customer_id)
    asked = list(lines)
    return_id = new_id("ret")

    def attempt() -> Return:
        ledger = ctx.returns.ledger(order_id)
        ret = Return.request(
            return_id=return_id, order_id=order_id, order_status=order.status,
            shipped_at=order.fulfillment.shipped_at if order.fulfillment else None, paid_lines=paid_lines(order),
            asked=asked, held=ledger.held, held_refunds=ledger.refunds, reason=reason, currency=order.currency,
            at=ctx.clock(), window_days=window_days)
        saved = ctx.returns.add(ret, ledger.changed(ret, +1))
        return replace(saved, events=list(ret.events))

    ret = retrying(attempt, times=_RETRIES, conflict=f"returns of order {order_id} are changing too fast; try again")
    _dispatch(ret, ctx)
    return ret


# --- the merchant's decisions --------------------------------------------------------------------------

def _change(return_id: str, ctx: Context, decide) -> Return:
    """Load, let `decide(ret)` return (new return, ledger or None, restock) or None, save over the version
    read; again when someone else wrote in between."""
    def attempt() -> Return:
        ret = get_return(return_id, ctx)
        decided = decide(ret)
        if decided is None:
            return ret
        moved, ledger, restock = decided
        saved = ctx.returns.save(moved, ledger=ledger, restock=restock)
        return replace(saved, events=list(moved.events))

    ret = retrying(attempt, times=_RETRIES, conflict=f"return {return_id} is changing too fast; try again")
    _dispatch(ret, ctx)
    return ret


def approve(return_id: str, ctx: Context) -> Return:
    return _change(return_id, ctx, lambda r: (r.approve(ctx.clock()), None, False))


def reject(return_id: str, reason: str, ctx: Context) -> Return:
    """A rejected return frees its units: the ledger gives them back in the same write."""
    def decide(ret: Return):
        rejected = ret.reject(reason, ctx.clock())
        return rejected, ctx.returns.ledger(ret.order_id).changed(ret, -1), False

    return _change(return_id, ctx, decide)


def receive(return_id: str, ctx: Context, *, retry_later: Callable[[str], None] | None = None) -> Return:
    """The goods are back: their units go on hand in the write that makes the return `received`, then its
    refund is issued. Receiving a received return finishes its refund; a refunded one is answered as it is.
    If the provider fails after the stock went back, `retry_later(return_id)` queues the refund again and
    the return is answered `received`; without it the failure is raised (the queue retrying it)."""
    def decide(ret: Return):
        if ret.status in (RECEIVED, REFUNDED):
            return None
        return ret.receive(ctx.clock()), None, True

    ret = _change(return_id, ctx, decide)
    try:
        return finish_refund(ret, ctx)
    except PaymentGatewayError:
        if retry_later is None:
            raise
        retry_later(ret.id)
        return get_return(ret.id, ctx)


def finish_refund(ret: Return, ctx: Context) -> Return:
    """Refunds a received return through the order's refund path, once: see the module's docstring."""
    if ret.status != RECEIVED:
        return ret
    order = found(ctx.orders.get(ret.order_id), f"order {ret.order_id}")
    refund_id = _refund_id(ret.id, order)
    order, refund = lifecycle.refund(ret.order_id, ret.refund_total, f"return {ret.id}: {ret.reason}"[:500], ctx,
                                     refund_id=refund_id, at_most=True,
                                     metadata={"return_id": ret.id, "reason": reason_code(ret.reason)})
    if refund is not None and refund.status != "succeeded":
        # Un-booked by a racing run that saw the provider refuse it: the next run books it afresh.
        raise PaymentGatewayError(f"refund {refund.id} of return {ret.id} is {refund.status}", retryable=True)
    amount = refund.amount if refund is not None else Money.zero(ret.currency)
    booked_id = refund.id if refund is not None else ""

    def decide(current: Return):
        if current.status != RECEIVED:
            return None
        return current.mark_refunded(ctx.clock(), refund_id=booked_id, amount=amount), None, False

    return _change(ret.id, ctx, decide)


REASON_CODES = ("damaged", "defective", "wrong_item", "not_as_described", "too_small", "too_large",
                "changed_mind", "arrived_late", "other")


def reason_code(reason: str) -> str:
    """The reason as one of REASON_CODES (free text counts as other): what metrics and the provider see."""
    code = "_".join(reason.strip().lower().replace("-", " ").split())
    return code if code in REASON_CODES else "other"


def _refund_id(return_id: str, order) -> str:
    """The id the return's refund is booked under: the same on every run, unless an earlier booking failed
    for good at the provider (it was un-booked), when the next attempt takes the next id."""
    booked = {r.id: r for r in order.refunds}
    for attempt in count():
        refund_id = derived_id("re", return_id, str(attempt))
        if refund_id not in booked or booked[refund_id].status != "failed":
            return refund_id
    raise AssertionError("unreachable")


def finish_stalled(ctx: Context, *, older_than_seconds: int, retry: Callable[[str], None], limit: int = 500) -> int:
    """Queues the refund of every return left `received` for longer than it takes (its receiver died after
    the stock went back). Finishing is idempotent, so a false alarm costs a no-op."""
    from datetime import timedelta

    cutoff = ctx.clock() - timedelta(seconds=older_than_seconds)
    queued, cursor = 0, None
    while queued < limit:
        page = ctx.returns.list(status=RECEIVED, limit=100, cursor=cursor)
        for ret in page.items:
            if ret.updated_at <= cutoff:
                retry(ret.id)
                queued += 1
        cursor = page.next_cursor
        if not cursor:
            break
    return queued


# --- what follows --------------------------------------------------------------------------------------

def return_data(ret: Return) -> dict:
    return {"return": {
        "id": ret.id, "order_id": ret.order_id, "status": ret.status, "reason": ret.reason,
        "lines": [{"sku": ln.sku, "quantity": ln.quantity, "refund": ln.refund.as_dict()} for ln in ret.lines],
        "refund_total": ret.refund_total.as_dict(),
        "refunded": None if ret.refunded is None else ret.refunded.as_dict(), "refund_id": ret.refund_id or None,
        "created_at": rfc3339(ret.created_at), "updated_at": rfc3339(ret.updated_at)}}


def _dispatch(ret: Return, ctx: Context) -> None:
    """Webhooks out (event ids derive from the return, so a retried step announces the same event) and
    the observers, after the save."""
    for event in ret.events:
        if isinstance(event, ReturnRequested):
            publish(ctx, "return.requested", ret.id, return_data(ret))
        elif isinstance(event, ReturnStatusChanged) and event.status == REFUNDED:
            publish(ctx, "return.refunded", ret.id, return_data(ret))
        for observer in _observers:
            observer(ret, event)
