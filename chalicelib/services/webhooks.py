"""Outbound webhooks: endpoints merchants register, and deliveries that are signed, retried with
exponential backoff, and parked (never dropped) after the last attempt."""
from __future__ import annotations

import json
from dataclasses import replace

from ..domain import webhooks as rules
from ..domain.errors import Conflict, FieldError, Invalid, NotFound, found
from ..domain.ids import new_id, new_secret, rfc3339
from .context import Context
from .ports import Delivery, Event, Notifier, Page, StaleWrite, WebhookEndpoint, Webhooks
from .retry import retrying

EVENT_TYPES = ("order.created", "order.paid", "order.shipped", "order.canceled", "order.refunded", "inventory.low")


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
    """Publishes an event as one delivery per subscribed endpoint. The delivery id is endpoint + event,
    so publishing the same event again (a retried step) queues nothing new."""

    def __init__(self, webhooks: Webhooks, *, endpoints_max_age_seconds: float = 0):
        self._webhooks = webhooks
        self._max_age = endpoints_max_age_seconds

    def publish(self, event: Event) -> None:
        webhooks = self._webhooks
        body = json.dumps({"id": event.id, "type": event.type, "created_at": event.created_at, "data": event.data},
                          separators=(",", ":"))
        for endpoint in webhooks.endpoints(max_age_seconds=self._max_age):
            if event.type not in endpoint.events:
                continue
            delivery = Delivery(id=f"{endpoint.id}.{event.id}", endpoint_id=endpoint.id, event_id=event.id,
                                event_type=event.type, payload=body, status="pending", attempts=0,
                                created_at=event.created_at, updated_at=event.created_at)
            if webhooks.add_delivery(delivery):
                webhooks.enqueue(delivery.id)
            else:
                existing = webhooks.delivery(delivery.id)
                if existing and existing.status == "pending" and existing.attempts == 0:
                    webhooks.enqueue(delivery.id)  # the first publish may have died before queueing


class DeliveryFailed(Exception):
    """This attempt failed; the queue delivers the message again later, or parks it in its DLQ."""


def deliver(delivery_id: str, receive_count: int, ctx: Context, *, now: int, max_attempts: int,
            allow_local: bool, timeout: float, backoff_base: int, handle: str = "") -> str:
    """One attempt. Returns the delivery's status. A failed attempt has the queue message (`handle`) come
    back after an exponential backoff, and raises DeliveryFailed so that the queue counts it."""
    delivery = ctx.webhooks.delivery(delivery_id)
    if delivery is None or delivery.status in ("delivered", "canceled"):
        return delivery.status if delivery else "missing"
    endpoint = ctx.webhooks.endpoint(delivery.endpoint_id)
    if endpoint is None:
        _record(ctx, delivery, status="canceled", error="the endpoint was deleted")
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
            _record(ctx, delivery, status="delivered", code=code)
            return "delivered"
        error = f"the endpoint answered {code}"
    except Invalid as exc:
        error = exc.errors[0].message if exc.errors else exc.detail
    except Exception as exc:  # network failures of every kind: the attempt failed, the delivery goes on
        error = f"{type(exc).__name__}: {exc}"[:500]
    last = receive_count >= max_attempts
    _record(ctx, delivery, status="failed" if last else "pending", code=code, error=error)
    if not last:
        ctx.webhooks.enqueue(delivery.id, backoff_seconds(receive_count, backoff_base), redelivery=handle)
    raise DeliveryFailed(error)


def _record(ctx: Context, delivery: Delivery, *, status: str, code: int | None = None, error: str = "") -> None:
    def attempt() -> None:
        current = ctx.webhooks.delivery(delivery.id) or delivery
        ctx.webhooks.save_delivery(replace(current, status=status, attempts=current.attempts + 1,
                                           last_status_code=code, last_error=error, updated_at=rfc3339(ctx.clock())))

    retrying(attempt, times=5, conflict=f"delivery {delivery.id} is changing; try again")


def backoff_seconds(receive_count: int, base: int) -> int:
    return min(base * 2 ** max(receive_count - 1, 0), 12 * 3600)


def list_deliveries(ctx: Context, *, status: str | None, limit: int, cursor: str | None) -> Page[Delivery]:
    return ctx.webhooks.deliveries(status=status, limit=limit, cursor=cursor)


def redrive(delivery_id: str, ctx: Context) -> Delivery:
    """Send a delivery again from its first attempt: for deliveries that failed (or were parked)."""
    delivery = found(ctx.webhooks.delivery(delivery_id), f"delivery {delivery_id}")
    if delivery.status == "delivered":
        raise Conflict("this delivery succeeded already")
    if ctx.webhooks.endpoint(delivery.endpoint_id) is None:
        raise Conflict("the endpoint of this delivery was deleted")
    try:
        saved = ctx.webhooks.save_delivery(replace(delivery, status="pending", attempts=0, last_error="",
                                                   updated_at=rfc3339(ctx.clock())))
    except StaleWrite:
        raise Conflict("the delivery is changing; try again") from None
    ctx.webhooks.enqueue(saved.id)
    return saved
