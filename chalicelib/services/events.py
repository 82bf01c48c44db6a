"""What follows the events the domain records: one handler table, dispatched after the save. Webhook
event ids derive from what happened, so a retried step publishes the same event again, never a new one,
and endpoints that had it get nothing more."""
from __future__ import annotations

from ..domain.ids import derived_id, rfc3339
from ..domain.money import Money
from ..domain.orders import CANCELED, REFUNDED, Order, OrderPlaced, OrderStatusChanged
from .context import Context
from .ports import Event
from .pricing import breakdown_data


def order_data(order: Order) -> dict:
    return {"order": {
        "id": order.id, "status": order.status, "email": order.email,
        "total": order.total.as_dict(), "refunded": (order.refunded or Money.zero(order.currency)).as_dict(),
        "lines": [{"sku": ln.sku, "quantity": ln.quantity, "unit_price": ln.unit_price.as_dict()}
                  for ln in order.lines],
        "payment": {"provider": order.payment.provider, "payment_intent_id": order.payment.payment_intent_id,
                    "status": order.payment.status},
        "fulfillment": None if order.fulfillment is None else {
            "carrier": order.fulfillment.carrier, "tracking_number": order.fulfillment.tracking_number,
            "shipped_at": rfc3339(order.fulfillment.shipped_at)},
        "created_at": rfc3339(order.created_at), "updated_at": rfc3339(order.updated_at),
        **breakdown_data(order)}}


def publish(ctx: Context, event_type: str, key: str, data: dict) -> None:
    if ctx.notifier is not None:
        ctx.notifier.publish(Event(id=derived_id("evt", event_type, key), type=event_type,
                                   created_at=rfc3339(ctx.clock()), data=data))


def publish_order(ctx: Context, event_type: str, order: Order) -> None:
    publish(ctx, event_type, order.id, order_data(order))


def announce_low_stock(ctx: Context, sku: str, level, available_before: int, threshold: int, key: str) -> None:
    """`inventory.low` when a change takes a SKU's available stock from above the threshold to at or
    below it: once per crossing, not on every sale below it. `key` names the change (an order id, a
    request), so a retried change announces the same event."""
    if level.available <= threshold < available_before:
        publish(ctx, "inventory.low", f"{sku}:{key}", {
            "sku": sku, "on_hand": level.on_hand, "reserved": level.reserved,
            "available": max(level.available, 0), "threshold": threshold})


def _order_created(event: OrderPlaced, order: Order, ctx: Context) -> None:
    publish_order(ctx, "order.created", order)


def _order_moved(event: OrderStatusChanged, order: Order, ctx: Context) -> None:
    publish_order(ctx, f"order.{event.status}", order)


def _close_waiting_steps(event: OrderStatusChanged, order: Order, ctx: Context) -> None:
    """A closed order ends the workflow steps still waiting on it."""
    if ctx.workflow is None or event.status not in (CANCELED, REFUNDED):
        return
    tokens = (order.payment_token, order.shipment_token) if event.status == CANCELED else (order.shipment_token,)
    for token in filter(None, tokens):
        ctx.workflow.fail(token, "OrderClosed", f"order {event.status}")


HANDLERS = {
    OrderPlaced: (_order_created,),
    OrderStatusChanged: (_order_moved, _close_waiting_steps),
}


def dispatch(order: Order, events: list, ctx: Context) -> None:
    """Runs the handlers of each event, in order, with the order as saved."""
    for event in events:
        for handler in HANDLERS[type(event)]:
            handler(event, order, ctx)
