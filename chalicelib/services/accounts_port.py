"""The customer-account ports: the identity provider (the user pool), the ID-token verifier, the customers
repository, and the `Accounts` bundle the account use cases take."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime

from ..domain.cart import Cart
from ..domain.customers import Identity, Profile, SavedAddress, Tokens
from ..domain.orders import Order
from .ports import Page


class IdentityProvider(ABC):
    """The user pool. Raises the domain's account errors (EmailTaken, PasswordRefused, BadCredentials, ...)."""

    @abstractmethod
    def sign_up(self, email: str, password: str) -> tuple[str, bool]:
        """(customer id, confirmed)."""

    @abstractmethod
    def confirm_now(self, email: str) -> None:
        """Confirm without the emailed code (where the stage auto-confirms)."""

    @abstractmethod
    def confirm(self, email: str, code: str) -> None: ...

    @abstractmethod
    def sign_in(self, email: str, password: str) -> Tokens: ...

    @abstractmethod
    def refresh(self, refresh_token: str) -> Tokens: ...

    @abstractmethod
    def delete_user(self, customer_id: str, email: str = "") -> None:
        """Signs the user out everywhere (its refresh tokens stop working) and deletes it; nothing happens
        for an unknown user."""


class TokenVerifier(ABC):
    @abstractmethod
    def verify(self, token: str) -> Identity:
        """The identity a valid ID token names; Unauthenticated for anything else."""


class Customers(ABC):
    """Profiles, saved addresses and sign-in failure counts, under the customer id."""

    @abstractmethod
    def profile(self, customer_id: str) -> Profile | None: ...

    @abstractmethod
    def create_profile(self, profile: Profile) -> bool:
        """False when a profile (or an erased account's tombstone) is there already."""

    @abstractmethod
    def addresses(self, customer_id: str) -> list[SavedAddress]: ...

    @abstractmethod
    def add_address(self, customer_id: str, saved: SavedAddress, limit: int) -> None:
        """With the profile's count, in one transaction; TooManyAddresses at the limit."""

    @abstractmethod
    def remove_address(self, customer_id: str, address_id: str) -> bool: ...

    @abstractmethod
    def link_cart(self, customer_id: str, cart_id: str, replacing: str) -> bool:
        """Points the profile at `cart_id` if it still points at `replacing`."""

    @abstractmethod
    def merge_carts(self, target: Cart, guest: Cart) -> Cart:
        """In one transaction: save `target` over the version read and close `guest` (still open, at the
        version read). StaleWrite when either changed meanwhile."""

    @abstractmethod
    def orders(self, customer_id: str, *, limit: int, cursor: str | None) -> Page[Order]:
        """The customer's orders, newest first."""

    @abstractmethod
    def start_attempt(self, key: str, window: int, limit: int, expires_at: datetime) -> bool:
        """Counts one sign-in attempt in the window, in one conditional write: False (and nothing counted)
        when the window already holds `limit` failed or unfinished attempts."""

    @abstractmethod
    def end_attempt(self, key: str, window: int) -> None:
        """Uncounts an attempt that did not fail on its credentials."""

    @abstractmethod
    def erase(self, customer_id: str, at: datetime) -> None:
        """Replaces the profile with a tombstone that holds no personal data, then deletes the addresses."""

    @abstractmethod
    def delete_cart(self, cart_id: str, customer_id: str) -> None:
        """Deletes the customer's cart (only if it is that customer's)."""

    @abstractmethod
    def delete_checked_out_cart(self, cart_id: str, customer_id: str) -> None:
        """Deletes a checked-out cart that is the customer's or a guest's (one the customer checked out)."""


@dataclass(frozen=True)
class Accounts:
    identity: IdentityProvider
    verifier: TokenVerifier
    customers: Customers
