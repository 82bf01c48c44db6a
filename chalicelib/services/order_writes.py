"""The one write path of orders: load, let the domain decide, save over the version read; then the
events the domain recorded go through the one handler table (services.events)."""
from __future__ import annotations

from ..domain.orders import Order, OrderStatusChanged
from .context import Context
from .events import dispatch
from .orders import get_order as _load
from .retry import retrying

_RETRIES = 8


class OrderWrites:
    """One use case's writes to one order. Each write is the one write path: load, let the domain decide,
    save over the version read (deciding again if someone else wrote in between). The events the domain
    recorded are dispatched after the last save, with the order as it then is."""

    def __init__(self, order_id: str, ctx: Context):
        self.order_id, self.ctx = order_id, ctx
        self.events: list = []
        self.order: Order | None = None

    def __call__(self, change) -> Order:
        """`change(order)` returns the new order (or it with its stock moves), or None (or the same order)
        when there is nothing to write."""
        def attempt() -> Order:
            order = _load(self.order_id, self.ctx)
            decided = change(order)
            updated, moves = decided if isinstance(decided, tuple) else (decided, [])
            if updated is None or updated is order:
                return order
            saved = self.ctx.orders.save(updated, moves)
            self.events.extend(updated.events)
            return saved

        self.order = retrying(attempt, times=_RETRIES, conflict=f"order {self.order_id} is changing too fast; "
                                                                "try again")
        return self.order

    def dispatch(self, *, again: str = "") -> Order:
        """`again`: a status whose event is announced again when this run found it reached already (the run
        that reached it may have died before announcing; the event id is the same, so nobody hears it twice)."""
        events, announced_again = self.events, False
        if not events and again and self.order.status == again:
            events, announced_again = [OrderStatusChanged(self.order.id, again)], True
        dispatch(self.order, events, self.ctx, again=announced_again)
        return self.order


def update(order_id: str, ctx: Context, change) -> Order:
    """One write, its events dispatched right after it."""
    writes = OrderWrites(order_id, ctx)
    writes(change)
    return writes.dispatch()
