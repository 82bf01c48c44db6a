"""The counts the dashboard (infra/template.yaml, `Dashboard`) plots, by the names it plots them under.
A use case counts through `count`; without a meter (tests, tools) nothing is counted."""
from __future__ import annotations

from ..domain.orders import CANCELED, PAID, REFUNDED, SHIPPED
from .context import Context

ORDERS_BY_STATUS = {PAID: "OrdersPaid", SHIPPED: "OrdersShipped", CANCELED: "OrdersCanceled",
                    REFUNDED: "OrdersRefunded"}
PAYMENT_FAILED = "PaymentFailed"
# The provider refused a canceled order's return: its payment stays captured until someone resolves it
# (docs/operations.md, "Money record of canceled orders").
CANCELED_REFUND_REFUSED = "PaymentReturnsRefused"
WEBHOOK_DELIVERY_FAILED = "WebhookDeliveriesFailed"  # all attempts used: parked, shown as failed
WEBHOOK_ATTEMPT_FAILED = "WebhookDeliveryAttemptsFailed"  # one attempt failed; the queue tries again


def count(ctx: Context, name: str, value: int = 1) -> None:
    if ctx.meter is not None:
        ctx.meter.count(name, value)
