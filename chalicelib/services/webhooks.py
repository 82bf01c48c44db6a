"""Outbound webhooks: endpoints merchants register, and deliveries that are signed, retried with
exponential backoff, and parked (never dropped) after the last attempt."""
from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace

from ..domain import webhooks as rules
from ..domain.errors import Conflict, FieldError, Invalid, NotFound, Unavailable, found
from ..domain.ids import new_id, new_secret, rfc3339
from .context import Context
from .metering import WEBHOOK_ATTEMPT_FAILED, WEBHOOK_DELIVERY_FAILED, count
from .ports import Delivery, Event, Notifier, Page, SendFailed, StaleWrite, WebhookEndpoint, Webhooks
from .retry import retrying

EVENT_TYPES = ("order.created", "order.paid", "order.shipped", "order.canceled", "order.refunded", "inventory.low",
               "return.requested", "return.refunded")


def register_endpoint(url: str, events: list[str], ctx: Context, *, allow_local: bool) -> WebhookEndpoint:
    unknown = sorted(set(events) - set(EVENT_TYPES))
    if unknown or not events:
        raise Invalid("unknown event types", [FieldError("events", f"choose from {', '.join(EVENT_TYPES)}")])
    rules.check_target(url, ctx.sender.resolve, allow_local=allow_local)
    endpoint = WebhookEndpoint(id=new_id("we"), url=url, events=tuple(dict.fromkeys(events)),
                               secret=new_secret("whsec"), created_at=rfc3339(ctx.clock()))
    ctx.webhooks.add_endpoint(endpoint)
    return endpoint


def remove_endpoint(endpoint_id: str, ctx: Context) -> None:
    if not ctx.webhooks.remove_endpoint(endpoint_id):
        raise NotFound(f"no webhook endpoint {endpoint_id}")


def get_endpoint(endpoint_id: str, ctx: Context) -> WebhookEndpoint:
    return found(ctx.webhooks.endpoint(endpoint_id), f"webhook endpoint {endpoint_id}")


class WebhookNotifier(Notifier):
    """Publishes an event as one queue message per subscribed endpoint. The message carries the whole
    delivery and is its durable record until the first attempt, which writes the delivery log once with
    its outcome. The delivery id is endpoint + event, so an event published again (a retried step) is sent
    again only if no attempt has been recorded for it yet."""

    def __init__(self, webhooks: Webhooks, *, endpoints_max_age_seconds: float = 0):
        self._webhooks = webhooks
        self._max_age = endpoints_max_age_seconds

    def publish(self, event: Event) -> None:
        webhooks = self._webhooks
        body = json.dumps({"id": event.id, "type": event.type, "created_at": event.created_at, "data": event.data},
                          separators=(",", ":"))
        for endpoint in webhooks.endpoints(max_age_seconds=self._max_age):
            if event.type in endpoint.events:
                delivery = Delivery(id=f"{endpoint.id}.{event.id}", endpoint_id=endpoint.id, event_id=event.id,
                                    event_type=event.type, payload=body, status="pending", attempts=0,
                                    created_at=event.created_at, updated_at=event.created_at)
                if not (_hold(delivery) or _attempted_here(delivery)):
                    webhooks.enqueue(delivery)


_held: ContextVar[list[Delivery] | None] = ContextVar("webhook_deliveries_held", default=None)
_HOLD_AT_MOST, _HOLD_BYTES = 10, 100_000  # what one queue message (256 KB at most) carries with room to spare


@contextmanager
def holding() -> Iterator[list[Delivery]]:
    """Inside, the deliveries published are collected instead of queued (up to a message's worth; the rest
    are queued), for the caller to put in a message it sends anyway, whose worker hands them over
    (`hand_over`). After checkout, that message is the workflow's start."""
    held: list[Delivery] = []
    token = _held.set(held)
    try:
        yield held
    finally:
        _held.reset(token)


def _hold(delivery: Delivery) -> bool:
    held = _held.get()
    if (held is None or len(held) >= _HOLD_AT_MOST
            or sum(len(d.payload) for d in held) + len(delivery.payload) > _HOLD_BYTES):
        return False
    held.append(delivery)
    return True


def hand_over(deliveries: list[Delivery], ctx: Context) -> None:
    """Deliveries another function published and held: attempted here first in a worker that makes first
    attempts (first_attempts_here), queued otherwise."""
    for delivery in deliveries:
        if not _attempted_here(delivery):
            ctx.webhooks.enqueue(delivery)


@dataclass
class _Here:
    """A worker's invocation that makes the first attempt of what it publishes (first_attempts_here)."""

    ctx: Context
    settings: dict
    seconds_left: float
    on_failure: Callable[[Delivery, str], None]
    open: bool = field(default=True)


_here: ContextVar[_Here | None] = ContextVar("webhook_first_attempts_here", default=None)


@contextmanager
def first_attempts_here(ctx: Context, *, seconds: float, max_attempts: int, allow_local: bool, timeout: float,
                        backoff_base: int, on_failure: Callable[[Delivery, str], None]) -> Iterator[None]:
    """Inside, a worker (a workflow step, a queue consumer: nobody waits on its answer) makes the first
    attempt of each delivery it publishes itself, instead of sending it through the queue to another
    invocation. A failed attempt is logged and queued for the next one after its backoff, as the queue's
    own attempts are; from then on, and once `seconds` were spent attempting, what it publishes is queued,
    so a slow or failing endpoint delays the worker by one attempt at most."""
    token = _here.set(_Here(ctx, {"max_attempts": max_attempts, "allow_local": allow_local, "timeout": timeout,
                                  "backoff_base": backoff_base}, seconds, on_failure))
    try:
        yield
    finally:
        _here.reset(token)


def _attempted_here(delivery: Delivery) -> bool:
    """True if this invocation made the delivery's first attempt (and queued any retry). The endpoint is
    read again for the attempt: the publisher's list may be a minute old, and a deleted endpoint gets
    nothing more. With one attempt in all, the queue makes it, so that a failure is parked in its DLQ."""
    here = _here.get()
    if here is None or not here.open or here.seconds_left <= 0 or here.settings["max_attempts"] < 2:
        return False
    started = time.monotonic()
    try:
        deliver(delivery, 1, here.ctx, now=int(time.time()), **here.settings)
        return True
    except DeliveryFailed as failed:  # logged, counted and queued again after its backoff
        here.open = False
        here.on_failure(delivery, str(failed))
        return True
    except Exception as exc:  # the log or the queue failed: the queue makes the attempt
        here.open = False
        here.on_failure(delivery, f"{type(exc).__name__}: {exc}")
        return False
    finally:
        here.seconds_left -= time.monotonic() - started


class DeliveryFailed(Exception):
    """This attempt failed; the queue delivers the message again later, or parks it in its DLQ."""


def deliver(queued: Delivery | str, receive_count: int, ctx: Context, *, now: int, max_attempts: int,
            allow_local: bool, timeout: float, backoff_base: int, handle: str = "") -> str:
    """One attempt of a queued delivery (what its message carries, or the id of a logged one). Returns the
    delivery's status. The log is written once per attempt: the first attempt adds the delivery with its
    outcome, later ones update it. A failed attempt has the queue message (`handle`) come back after an
    exponential backoff (without one, a new message is queued), and raises DeliveryFailed so that the
    queue counts it. The last attempt is the `max_attempts`th of the chain: the message's receive count
    plus the attempts made before it was queued (by the function that published it)."""
    delivery_id = queued if isinstance(queued, str) else queued.id
    made_before = 0 if isinstance(queued, str) else queued.attempts
    recorded = ctx.webhooks.delivery(delivery_id)
    if recorded is not None and recorded.marker:  # the customer was erased while it waited: sent redacted
        delivery = None if isinstance(queued, str) else _erased(queued, recorded)
    else:
        delivery = recorded or (None if isinstance(queued, str) else queued)
    if delivery is None or delivery.status in ("delivered", "canceled"):
        return delivery.status if delivery else "missing"
    if recorded is not None and recorded.status == "failed" and made_before:
        # Its chain made its last attempt while the message still had receives left: on to the DLQ.
        raise DeliveryFailed(recorded.last_error or "failed")
    endpoint = ctx.webhooks.endpoint(delivery.endpoint_id)
    if endpoint is None:
        _record(ctx, delivery, recorded, status="canceled", error="the endpoint was deleted")
        return "canceled"
    code, error = None, ""
    try:
        rules.check_target(endpoint.url, ctx.sender.resolve, allow_local=allow_local)
        body = delivery.payload.encode()
        headers = {"Content-Type": "application/json", "User-Agent": "Shelf-Webhooks/1",
                   "Shelf-Signature": rules.sign(endpoint.secret, body, now), "Shelf-Event-Id": delivery.event_id,
                   "Shelf-Event-Type": delivery.event_type}
        code = ctx.sender.post(endpoint.url, body, headers, timeout)
        if 200 <= code < 300:
            _record(ctx, delivery, recorded, status="delivered", code=code)
            return "delivered"
        error = http_failure(code)
    except Invalid:
        error = "target_refused"  # the URL no longer passes check_target (say, its name now resolves inward)
    except SendFailed as exc:
        error = exc.kind
    except Exception:  # any other failure of the attempt: the delivery goes on
        error = "error"
    last = receive_count + made_before >= max_attempts
    saved = _record(ctx, delivery, recorded, status="failed" if last else "pending", code=code, error=error)
    count(ctx, WEBHOOK_DELIVERY_FAILED if last else WEBHOOK_ATTEMPT_FAILED)
    if not last:
        ctx.webhooks.enqueue(saved, backoff_seconds(receive_count, backoff_base), redelivery=handle)
    raise DeliveryFailed(error)


def http_failure(code: int) -> str:
    """An answer that is not 2xx, by class: http_3xx (redirects are not followed), http_4xx, http_5xx."""
    return f"http_{code // 100}xx" if 300 <= code < 600 else "http_other"


def _record(ctx: Context, delivery: Delivery, recorded: Delivery | None, *, status: str, code: int | None = None,
            error: str = "") -> Delivery:
    """Logs an attempt's outcome: a conditional put when no attempt was logged yet, else an update over the
    version read (the one read before the attempt first, a fresh one if someone wrote since)."""
    def outcome(current: Delivery) -> Delivery:
        return replace(current, status=status, attempts=current.attempts + 1, last_status_code=code,
                       last_error=error, updated_at=rfc3339(ctx.clock()))

    if recorded is None:
        first = outcome(delivery)
        if ctx.webhooks.add_delivery(first):
            return first
    read = [recorded] if recorded is not None else []

    def attempt() -> Delivery:
        current = read.pop() if read else (ctx.webhooks.delivery(delivery.id) or delivery)
        if current.marker:  # the first attempt's log, over the marker of an erasure made meanwhile
            current = _erased(delivery, current)
        return ctx.webhooks.save_delivery(outcome(current))

    return retrying(attempt, times=5, conflict=f"delivery {delivery.id} is changing; try again")


def _erased(delivery: Delivery, marker: Delivery) -> Delivery:
    """The delivery as its first attempt sends and logs it after the customer's erasure marked it: the body
    redacted, written over the marker (its version)."""
    return replace(delivery, payload=rules.redacted_body(delivery.payload, marker.erased_email),
                   version=marker.version)


def backoff_seconds(receive_count: int, base: int) -> int:
    return min(base * 2 ** max(receive_count - 1, 0), 12 * 3600)


def list_deliveries(ctx: Context, *, status: str | None, limit: int, cursor: str | None) -> Page[Delivery]:
    return ctx.webhooks.deliveries(status=status, limit=limit, cursor=cursor)


def redrive(delivery_id: str, ctx: Context) -> Delivery:
    """Send a failed (parked) delivery again from its first attempt. Only a `failed` one: a pending delivery
    is on its way already, and a second chain would send it twice. The write is conditional on the version
    read, so of two redrives at once one starts a chain and the other is a 409."""
    logged = ctx.webhooks.delivery(delivery_id)
    delivery = found(None if logged is None or logged.marker else logged, f"delivery {delivery_id}")
    if delivery.status != "failed":
        raise Conflict(f"only a failed delivery can be redriven; this one is {delivery.status}")
    if ctx.webhooks.endpoint(delivery.endpoint_id) is None:
        raise Conflict("the endpoint of this delivery was deleted")
    try:
        saved = ctx.webhooks.save_delivery(replace(delivery, status="pending", attempts=0, last_error="",
                                                   updated_at=rfc3339(ctx.clock())))
    except StaleWrite:
        raise Conflict("the delivery is changing; try again") from None
    try:
        ctx.webhooks.enqueue(saved)
    except Exception as exc:
        # Pending with no message, it would never be attempted, and never be redriven again (a pending delivery
        # is refused): it goes back to failed, as it was, over the version just written.
        try:
            ctx.webhooks.save_delivery(replace(delivery, version=saved.version))
        except StaleWrite:
            pass  # changed again meanwhile: whoever changed it owns it now
        raise Unavailable("the delivery could not be queued; it is still failed, try again") from exc
    return saved
