from __future__ import annotations

from dataclasses import dataclass

from ..domain.ids import Clock
from .ports import (
    ApiKeys,
    Carts,
    Catalog,
    InboundEvents,
    Inventory,
    Notifier,
    Orders,
    PaymentGateway,
    Webhooks,
    WebhookSender,
    Workflow,
)
from .pricing_store import PricingStore


@dataclass(frozen=True)
class Context:
    """The ports one use case may touch, handed in by the wiring (or a test)."""

    catalog: Catalog
    inventory: Inventory
    carts: Carts
    orders: Orders
    api_keys: ApiKeys
    payments: PaymentGateway
    clock: Clock
    currency: str
    workflow: Workflow | None = None
    notifier: Notifier | None = None
    inbound: InboundEvents | None = None
    webhooks: Webhooks | None = None
    sender: WebhookSender | None = None
    pricing: PricingStore | None = None
    prices_include_tax: bool = False
