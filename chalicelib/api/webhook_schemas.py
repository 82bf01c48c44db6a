"""Request and response models of the webhook routes: events coming in, endpoints and the delivery log."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from .schemas import Input, Output, Timestamp


class Received(Output):
    received: Literal[True]


class StripeEventIn(BaseModel):
    """A Stripe event, as Stripe sends it (documented loosely: Stripe owns its shape)."""

    model_config = ConfigDict(extra="allow", defer_build=True)
    id: str
    type: str
    data: dict


class MerchantEventIn(Input):
    id: Annotated[str, StringConstraints(pattern=r"^evt_[A-Za-z0-9_-]{1,100}$")]
    type: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    data: dict[str, object] = Field(default_factory=dict)


EventType = Literal["order.created", "order.paid", "order.shipped", "order.canceled", "order.refunded",
                    "inventory.low", "return.requested", "return.refunded"]


class WebhookEndpointIn(Input):
    url: Annotated[str, StringConstraints(min_length=8, max_length=2048)]
    events: Annotated[list[EventType], Field(min_length=1, max_length=8)]


class WebhookEndpointOut(Output):
    id: str
    url: str
    events: list[str]
    created_at: Timestamp


class WebhookEndpointCreated(WebhookEndpointOut):
    secret: str = Field(description="signs every delivery (Shelf-Signature); shown only now")


class WebhookEndpointPage(Output):
    items: list[WebhookEndpointOut]
    next_cursor: str | None


class DeliveryOut(Output):
    id: str
    endpoint_id: str
    event_id: str
    event_type: str
    status: Literal["pending", "delivered", "failed", "canceled"]
    attempts: int
    last_status_code: int | None
    last_error: str
    created_at: Timestamp
    updated_at: Timestamp


class DeliveryPage(Output):
    items: list[DeliveryOut]
    next_cursor: str | None


class DeliveryQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)
    status: Literal["pending", "delivered", "failed", "canceled"] | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    cursor: Annotated[str, StringConstraints(min_length=1, max_length=2048)] | None = None
