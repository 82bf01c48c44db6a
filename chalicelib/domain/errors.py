from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class DomainError(Exception):
    """A rule of the store said no. `slug` becomes the problem `type`; the API maps classes to statuses."""

    slug = "domain_error"
    title = "Request refused"

    def __init__(self, detail: str = "", errors: list[FieldError] | None = None):
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = list(errors or [])


class NotFound(DomainError):
    slug = "not_found"
    title = "Not found"


def found(value: T | None, what: str) -> T:
    """`value`, unless a repository found nothing: then a 404 naming `what`."""
    if value is None:
        raise NotFound(f"no {what}")
    return value


class Invalid(DomainError):
    slug = "validation_error"
    title = "Invalid request"


class Conflict(DomainError):
    slug = "conflict"
    title = "Conflict"


class OutOfStock(Conflict):
    slug = "out_of_stock"
    title = "Not enough stock"


class SkuTaken(Conflict):
    slug = "sku_taken"
    title = "SKU already in use"


class BelowReserved(Conflict):
    slug = "below_reserved"
    title = "On hand cannot go below what is reserved"


class InvalidTransition(Conflict):
    slug = "invalid_transition"
    title = "Order cannot move to that status"


class OrderClosed(Conflict):
    """The order left the state a workflow step waits on (canceled, refunded): the step ends quietly."""

    slug = "order_closed"
    title = "The order is closed"


class CartNotOpen(Conflict):
    slug = "cart_not_open"
    title = "Cart is already checked out"


class CartEmpty(Conflict):
    slug = "cart_empty"
    title = "Cart is empty"


class IdempotencyKeyReused(Conflict):
    slug = "idempotency_key_reused"
    title = "Idempotency key already used with another request"


class IdempotencyInProgress(Conflict):
    slug = "idempotency_in_progress"
    title = "A request with this idempotency key is still in progress"


class EventTooEarly(Conflict):
    """An inbound event about a step the order has not reached yet (a refund of a payment not recorded yet):
    it is sent back, to be applied when its sender delivers it again."""

    slug = "event_too_early"
    title = "The order has not reached the state this event follows"


class Unauthenticated(DomainError):
    slug = "unauthenticated"
    title = "Missing or invalid credentials"


class Forbidden(DomainError):
    slug = "forbidden"
    title = "Credentials lack the required scope"


class Unavailable(DomainError):
    """A dependency (payment provider, database) failed; the same request may be retried."""

    slug = "service_unavailable"
    title = "Temporarily unavailable"
