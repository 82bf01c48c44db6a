"""Customer accounts: the profile Shelf keeps beside the identity provider's user, saved addresses, and
what erasure leaves of a customer's orders. Pure: no AWS here."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from .errors import Conflict, DomainError, Invalid, Unauthenticated
from .ids import sha256_hex
from .orders import Address, Order

MAX_ADDRESSES = 20


@dataclass(frozen=True)
class Profile:
    customer_id: str
    email: str
    created_at: datetime
    address_count: int = 0
    cart_id: str = ""  # the customer's open cart, made on first use
    erased_at: datetime | None = None  # a tombstone: the account was erased; its tokens no longer work

    @property
    def erased(self) -> bool:
        return self.erased_at is not None


@dataclass(frozen=True)
class SavedAddress:
    id: str
    address: Address
    created_at: datetime


@dataclass(frozen=True)
class Tokens:
    id_token: str
    access_token: str
    refresh_token: str
    expires_in: int


@dataclass(frozen=True)
class Identity:
    """Who a verified ID token names."""

    customer_id: str
    email: str


def erased_email(customer_id: str) -> str:
    """What an erased customer's orders keep instead of the email: an opaque value that still groups that
    customer's orders in the books, derived from an id that no longer names anyone."""
    return f"erased:{sha256_hex(customer_id)[:32]}"


def redact(order: Order, customer_id: str) -> Order:
    """The order as the merchant's books keep it after the customer's erasure: no email, no name, no
    street, only the destination country."""
    a = order.shipping_address
    return replace(order, email=erased_email(customer_id), customer_id="",
                   shipping_address=Address(name="", line1="", city="", postal_code="", country=a.country))


class EmailTaken(Conflict):
    slug = "email_taken"
    title = "An account with this email exists"


class PasswordRefused(Invalid):
    slug = "password_policy"
    title = "The password does not meet the policy"


class CodeRefused(Invalid):
    slug = "code_invalid"
    title = "The confirmation code is wrong or expired"


class BadCredentials(Unauthenticated):
    slug = "invalid_credentials"
    title = "Wrong email or password"


class NotConfirmed(Unauthenticated):
    slug = "account_not_confirmed"
    title = "The account is not confirmed yet"


class TooManyAddresses(Conflict):
    slug = "address_limit"
    title = f"At most {MAX_ADDRESSES} saved addresses"


class Throttled(DomainError):
    slug = "throttled"
    title = "Too many attempts"

    def __init__(self, detail: str = "", retry_after: int = 60):
        super().__init__(detail)
        self.retry_after = retry_after
