"""Customer accounts: sign-up and sign-in through the identity provider (Cognito), the profile and saved
addresses Shelf keeps, customer-owned carts, order history, and the privacy export and erasure."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from ..domain.cart import MAX_LINE_QUANTITY, MAX_LINES, Cart
from ..domain.customers import (
    MAX_ADDRESSES,
    Profile,
    SavedAddress,
    Throttled,
    Tokens,
    TooManyAddresses,
    erased_email,
    redact,
)
from ..domain.errors import CartNotOpen, Conflict, FieldError, Invalid, NotFound, Unauthenticated
from ..domain.ids import derived_id, new_id, sha256_hex
from ..domain.orders import Address, Order
from . import carts
from .accounts_port import Accounts
from .context import Context
from .ports import Page, StaleWrite
from .retry import retrying

_RETRIES = 5


# --- sign-up and sign-in -----------------------------------------------------------------------------

def sign_up(email: str, password: str, acc: Accounts, ctx: Context, *, auto_confirm: bool) -> tuple[str, bool]:
    customer_id, confirmed = acc.identity.sign_up(email, password)
    if auto_confirm and not confirmed:
        acc.identity.confirm_now(email)
        confirmed = True
    acc.customers.create_profile(Profile(customer_id=customer_id, email=email, created_at=ctx.clock()))
    return customer_id, confirmed


def confirm(email: str, code: str, acc: Accounts) -> None:
    acc.identity.confirm(email, code)


def _failure_key(email: str) -> str:
    return f"signin#{sha256_hex(email.strip().lower())}"


def sign_in(email: str, password: str, acc: Accounts, ctx: Context, *, max_failures: int,
            window_seconds: int) -> Tokens:
    """Cognito's answer, after a per-email count of recent failures: past `max_failures` in the current
    window, every attempt is refused (429) until the window ends, right password or not. The attempt is
    counted before Cognito is asked, in one conditional write, and uncounted unless the credentials were
    wrong: so concurrent guesses cannot all pass the check before any failure is counted."""
    from ..domain.customers import BadCredentials

    now = ctx.clock().timestamp()
    window, key = int(now // window_seconds), _failure_key(email)
    retry_after = int((window + 1) * window_seconds - now) + 1
    expires = datetime.fromtimestamp((window + 1) * window_seconds, tz=ctx.clock().tzinfo)
    if not acc.customers.start_attempt(key, window, max_failures, expires + timedelta(seconds=window_seconds)):
        raise Throttled("too many failed sign-ins for this email; try again later", retry_after=retry_after)
    try:
        tokens = acc.identity.sign_in(email, password)
    except BadCredentials:
        raise  # a failure: it stays counted
    except BaseException:
        acc.customers.end_attempt(key, window)
        raise
    acc.customers.end_attempt(key, window)
    return tokens


def refresh(refresh_token: str, acc: Accounts) -> Tokens:
    return acc.identity.refresh(refresh_token)


# --- who is calling ----------------------------------------------------------------------------------

def authenticate(token: str, acc: Accounts, ctx: Context, *, allow_erased: bool = False) -> Profile:
    """The profile of the customer a valid ID token names. A profile missing after a sign-up that failed
    half-way is made now; an erased account's tokens no longer work (but erasure may be retried)."""
    who = acc.verifier.verify(token)
    profile = acc.customers.profile(who.customer_id)
    if profile is None:
        if not who.email:
            raise Unauthenticated("the token names no email")
        acc.customers.create_profile(Profile(customer_id=who.customer_id, email=who.email, created_at=ctx.clock()))
        profile = acc.customers.profile(who.customer_id)
    if profile is None or (profile.erased and not allow_erased):
        raise Unauthenticated("this account no longer exists")
    return profile


# --- profile and addresses ---------------------------------------------------------------------------

def addresses(profile: Profile, acc: Accounts) -> list[SavedAddress]:
    return acc.customers.addresses(profile.customer_id)


def add_address(profile: Profile, address: Address, acc: Accounts, ctx: Context) -> SavedAddress:
    saved = SavedAddress(id=new_id("addr"), address=address, created_at=ctx.clock())
    try:
        acc.customers.add_address(profile.customer_id, saved, MAX_ADDRESSES)
    except TooManyAddresses:
        raise TooManyAddresses(f"an account keeps at most {MAX_ADDRESSES} addresses; delete one first") from None
    return saved


def remove_address(profile: Profile, address_id: str, acc: Accounts) -> None:
    if not acc.customers.remove_address(profile.customer_id, address_id):
        raise NotFound(f"no address {address_id}")


# --- carts -------------------------------------------------------------------------------------------

def customer_cart(profile: Profile, acc: Accounts, ctx: Context, ttl: timedelta) -> carts.CartView:
    """The customer's open cart, made on first use (and again once it is checked out or expired)."""
    def attempt() -> carts.CartView:
        current = acc.customers.profile(profile.customer_id) or profile
        if current.cart_id:
            cart = ctx.carts.get(current.cart_id)
            if cart is not None and cart.status == "open" and not cart.is_expired(ctx.clock()):
                return carts.view(cart, ctx)
        made = carts.create_cart(ctx, ttl, customer_id=profile.customer_id)
        if not acc.customers.link_cart(profile.customer_id, made.cart.id, replacing=current.cart_id):
            acc.customers.delete_cart(made.cart.id, profile.customer_id)
            raise StaleWrite(profile.customer_id)  # another request made one first: use that
        return made

    return retrying(attempt, times=_RETRIES, conflict="your cart is being changed concurrently; try again")


def merge_cart(profile: Profile, guest_cart_id: str, acc: Accounts, ctx: Context, ttl: timedelta) -> carts.CartView:
    """Moves a guest cart's lines into the customer's open cart (quantities added, at most 99 a line) and
    closes the guest cart, in one transaction."""
    def attempt() -> carts.CartView:
        target = customer_cart(profile, acc, ctx, ttl).cart
        guest = carts.load_cart(guest_cart_id, ctx, profile.customer_id)
        if guest.id == target.id or guest.customer_id:
            raise Invalid("not a guest cart", [FieldError("cart_id", "name a guest cart, not your own")])
        guest.ensure_open()
        now = ctx.clock()
        lines = dict(target.lines)
        for sku, quantity in guest.lines.items():
            lines[sku] = min(lines.get(sku, 0) + quantity, MAX_LINE_QUANTITY)
        if len(lines) > MAX_LINES:
            raise Invalid("the carts hold too many items together",
                          [FieldError("cart_id", f"a cart holds at most {MAX_LINES} lines")])
        merged = replace(target, lines=lines, updated_at=now, expires_at=now + ttl)
        return carts.view(acc.customers.merge_carts(merged, guest), ctx)

    try:
        return retrying(attempt, times=_RETRIES, conflict="the carts are being changed concurrently; try again")
    except Conflict as exc:
        guest = ctx.carts.get(guest_cart_id)
        if guest is not None and guest.status != "open":
            raise CartNotOpen(f"cart {guest_cart_id} is {guest.status}") from exc
        raise


# --- orders ------------------------------------------------------------------------------------------

def orders(profile: Profile, acc: Accounts, *, limit: int, cursor: str | None) -> Page[Order]:
    return acc.customers.orders(profile.customer_id, limit=limit, cursor=cursor)


def order_for_customer(order_id: str, profile: Profile, ctx: Context) -> Order:
    order = ctx.orders.get(order_id)
    if order is None or not order.customer_id or order.customer_id != profile.customer_id:
        raise NotFound(f"no order {order_id}")
    return order


# --- privacy -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Export:
    profile: Profile
    addresses: list[SavedAddress]
    orders: list[Order]
    cart: Cart | None


def export(profile: Profile, acc: Accounts, ctx: Context) -> Export:
    everything: list[Order] = []
    cursor = None
    while True:
        page = acc.customers.orders(profile.customer_id, limit=100, cursor=cursor)
        everything.extend(page.items)
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    cart = ctx.carts.get(profile.cart_id) if profile.cart_id else None
    return Export(profile, acc.customers.addresses(profile.customer_id), everything, cart)


def erase(profile: Profile, acc: Accounts, ctx: Context) -> None:
    """Idempotent, and safe to retry after a failure at any step: the user leaves the pool (signed out
    everywhere), the open cart goes, the profile becomes a tombstone with the addresses deleted (so the ID
    tokens stop working; erasure itself still accepts them), then the orders lose their personal data."""
    acc.identity.delete_user(profile.customer_id, profile.email)
    if profile.cart_id:
        acc.customers.delete_cart(profile.cart_id, profile.customer_id)
    acc.customers.erase(profile.customer_id, profile.erased_at or ctx.clock())
    cursor = None
    while True:
        page = acc.customers.orders(profile.customer_id, limit=100, cursor=cursor)
        for order in page.items:
            _redact_order(order.id, profile.customer_id, acc, ctx)
        if not page.next_cursor:
            break
        cursor = page.next_cursor


def _redact_order(order_id: str, customer_id: str, acc: Accounts, ctx: Context) -> None:
    def attempt() -> None:
        order = ctx.orders.get(order_id)
        if order is None or order.customer_id != customer_id:
            return
        # The cart it was checked out from keeps the destination set on it (a guest cart too, when the
        # customer signed in to check it out): it goes, before the order stops naming the customer.
        if order.cart_id:
            acc.customers.delete_checked_out_cart(order.cart_id, customer_id)
        _redact_deliveries(order_id, customer_id, ctx)  # first: a retry finds the order again until it is done
        ctx.orders.save(redact(order, customer_id))

    retrying(attempt, times=_RETRIES, conflict=f"order {order_id} is being changed; retry the erasure")


def _redact_deliveries(order_id: str, customer_id: str, ctx: Context) -> None:
    """The delivery log keeps each order event's body: the email in it is replaced as on the order. Their
    ids are endpoint + event, and an order event's id derives from its type and the order id. An id with
    nothing logged yet gets a marker (a conditional put): its delivery may still be queued for its first
    attempt, which then sends and logs the body redacted."""
    from ..domain.webhooks import redacted_body
    from .webhooks import EVENT_TYPES

    if ctx.webhooks is None:
        return
    erased = erased_email(customer_id)
    for endpoint in ctx.webhooks.endpoints():
        for event_type in (t for t in EVENT_TYPES if t.startswith("order.") and t in endpoint.events):
            delivery_id = f"{endpoint.id}.{derived_id('evt', event_type, order_id)}"

            def attempt(delivery_id: str = delivery_id) -> None:
                delivery = ctx.webhooks.delivery(delivery_id)
                if delivery is None:
                    if not ctx.webhooks.mark_erased(delivery_id, erased):
                        raise StaleWrite(delivery_id)  # its first attempt was logged meanwhile: redact that
                    return
                if delivery.marker:  # marked by an earlier try of this erasure
                    return
                payload = redacted_body(delivery.payload, erased)
                if payload != delivery.payload:
                    ctx.webhooks.save_delivery(replace(delivery, payload=payload))

            retrying(attempt, times=_RETRIES, conflict=f"delivery {delivery_id} is being sent; retry the erasure")
