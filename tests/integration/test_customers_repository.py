"""Customer accounts on moto, in-process: the profile, address and customer-order repositories, the
guest-cart merge transaction, and erasure through moto's Cognito (scanning every table afterwards)."""
from __future__ import annotations

import json
import secrets
import zlib
from datetime import timedelta

import boto3
import pytest

from chalicelib import config
from chalicelib.adapters.dynamo_customers import DynamoCustomers
from chalicelib.domain.commands import AddToCart, PlaceOrder
from chalicelib.domain.customers import BadCredentials, Profile, SavedAddress, TooManyAddresses, erased_email
from chalicelib.domain.errors import CartNotOpen, Invalid, NotFound
from chalicelib.domain.ids import new_id, utc_now
from chalicelib.domain.orders import Address
from chalicelib.services import accounts, carts, events, webhooks
from chalicelib.services.checkout import place_order
from chalicelib.services.ports import StaleWrite

from .helpers import make_product, random_sku

TTL = timedelta(days=7)
PASSWORD = "Corr3ct-horse-battery"


def _address(tag: str = "") -> Address:
    tag = tag or secrets.token_hex(4)
    return Address(name=f"Ada {tag}", line1=f"{tag} Analytical Row", city=f"London{tag}", postal_code=f"N1{tag}",
                   country="GB", line2=f"Flat {tag}")


# --- profiles and addresses --------------------------------------------------------------------------

def test_a_profile_is_created_once(ctx):
    repo = DynamoCustomers()
    first = Profile(customer_id=new_id("c"), email="a@example.com", created_at=utc_now().replace(microsecond=0))
    assert repo.create_profile(first)
    assert not repo.create_profile(Profile(first.customer_id, "b@example.com", utc_now()))
    assert repo.profile(first.customer_id) == first
    assert repo.profile("nobody") is None


def test_addresses_are_kept_under_the_customer_and_counted(profile, acc, ctx):
    saved = [accounts.add_address(profile, _address(str(i)), acc, ctx) for i in range(3)]
    assert [a.id for a in accounts.addresses(profile, acc)] == [a.id for a in saved]
    assert accounts.addresses(profile, acc)[0].address == saved[0].address
    assert acc.customers.profile(profile.customer_id).address_count == 3
    accounts.remove_address(profile, saved[1].id, acc)
    assert [a.id for a in accounts.addresses(profile, acc)] == [saved[0].id, saved[2].id]
    assert acc.customers.profile(profile.customer_id).address_count == 2
    with pytest.raises(NotFound):
        accounts.remove_address(profile, saved[1].id, acc)
    assert acc.customers.profile(profile.customer_id).address_count == 2


def test_the_address_limit_holds_in_the_transaction(profile, acc, ctx):
    repo = acc.customers
    for i in range(3):
        repo.add_address(profile.customer_id, SavedAddress(new_id("addr"), _address(), utc_now()), limit=3)
    with pytest.raises(TooManyAddresses):
        repo.add_address(profile.customer_id, SavedAddress(new_id("addr"), _address(), utc_now()), limit=3)
    assert len(repo.addresses(profile.customer_id)) == 3


def test_an_unknown_customer_cannot_save_an_address(acc):
    with pytest.raises(TooManyAddresses):
        acc.customers.add_address("nobody", SavedAddress(new_id("addr"), _address(), utc_now()), limit=20)
    assert acc.customers.addresses("nobody") == []


# --- sign-in through moto's Cognito ------------------------------------------------------------------

def test_sign_in_failures_are_counted_per_email_and_throttled(profile, acc, ctx):
    from chalicelib.domain.customers import Throttled

    for _ in range(3):
        with pytest.raises(BadCredentials):
            accounts.sign_in(profile.email, "Wr0ng-password", acc, ctx, max_failures=3, window_seconds=600)
    with pytest.raises(Throttled):
        accounts.sign_in(profile.email, PASSWORD, acc, ctx, max_failures=3, window_seconds=600)
    assert accounts.sign_in(profile.email, PASSWORD, acc, ctx, max_failures=10, window_seconds=600).id_token


# --- carts -------------------------------------------------------------------------------------------

def test_the_customer_cart_is_made_once_and_is_nobody_elses(profile, acc, ctx):
    first = accounts.customer_cart(profile, acc, ctx, TTL).cart
    assert accounts.customer_cart(profile, acc, ctx, TTL).cart.id == first.id
    assert first.customer_id == profile.customer_id
    with pytest.raises(NotFound):
        carts.get_cart(first.id, ctx)  # a guest holding the id
    with pytest.raises(NotFound):
        carts.get_cart(first.id, ctx, customer_id="someone-else")
    assert carts.get_cart(first.id, ctx, customer_id=profile.customer_id).cart.id == first.id


def test_merge_adds_quantities_caps_lines_and_closes_the_guest_cart(profile, acc, ctx):
    a, b = random_sku("A"), random_sku("B")
    make_product(ctx, (a, 500), (b, 700), stock={a: 200, b: 200})
    mine = accounts.customer_cart(profile, acc, ctx, TTL).cart
    carts.add_item(AddToCart(mine.id, a, 60, profile.customer_id), ctx, TTL)
    guest = carts.create_cart(ctx, TTL).cart
    carts.add_item(AddToCart(guest.id, a, 50), ctx, TTL)
    carts.add_item(AddToCart(guest.id, b, 2), ctx, TTL)

    merged = accounts.merge_cart(profile, guest.id, acc, ctx, TTL)
    assert merged.cart.id == mine.id and merged.cart.lines == {a: 99, b: 2}
    assert ctx.carts.get(guest.id).status == "merged"
    with pytest.raises(CartNotOpen):
        accounts.merge_cart(profile, guest.id, acc, ctx, TTL)
    with pytest.raises(CartNotOpen):
        carts.add_item(AddToCart(guest.id, a, 1), ctx, TTL)


def test_the_merge_transaction_changes_nothing_when_either_cart_moved(profile, acc, ctx):
    a = random_sku("A")
    make_product(ctx, (a, 500), stock={a: 20})
    mine = accounts.customer_cart(profile, acc, ctx, TTL).cart
    guest = carts.create_cart(ctx, TTL).cart
    carts.add_item(AddToCart(guest.id, a, 2), ctx, TTL)
    stale_guest = ctx.carts.get(guest.id)
    carts.add_item(AddToCart(guest.id, a, 1), ctx, TTL)  # the guest cart moved after we read it
    target = ctx.carts.get(mine.id)
    with pytest.raises(StaleWrite):
        acc.customers.merge_carts(target.__class__(**{**vars(target), "lines": {a: 2}}), stale_guest)
    assert ctx.carts.get(mine.id).lines == {} and ctx.carts.get(guest.id).status == "open"


def test_a_customers_own_cart_cannot_be_merged(profile, acc, ctx):
    mine = accounts.customer_cart(profile, acc, ctx, TTL).cart
    with pytest.raises(Invalid):
        accounts.merge_cart(profile, mine.id, acc, ctx, TTL)
    someone = Profile(new_id("c"), "x@example.com", utc_now())
    acc.customers.create_profile(someone)
    other = accounts.customer_cart(someone, acc, ctx, TTL).cart
    with pytest.raises(NotFound):
        accounts.merge_cart(profile, other.id, acc, ctx, TTL)


# --- orders ------------------------------------------------------------------------------------------

def _order(ctx, profile, sku, address=None, email=None):
    cart = carts.create_cart(ctx, TTL, customer_id=profile.customer_id).cart
    carts.add_item(AddToCart(cart.id, sku, 1, profile.customer_id), ctx, TTL)
    return place_order(PlaceOrder(cart.id, new_id("key"), email or profile.email, address or _address(),
                                  customer_id=profile.customer_id), ctx).order


def test_a_customers_orders_are_listed_newest_first_in_pages(profile, acc, ctx):
    sku = random_sku("O")
    make_product(ctx, (sku, 900), stock={sku: 10})
    placed = [_order(ctx, profile, sku) for _ in range(3)]
    guest_cart = carts.create_cart(ctx, TTL).cart
    carts.add_item(AddToCart(guest_cart.id, sku, 1), ctx, TTL)
    place_order(PlaceOrder(guest_cart.id, "k", "guest@example.com", _address()), ctx)

    first = accounts.orders(profile, acc, limit=2, cursor=None)
    second = accounts.orders(profile, acc, limit=2, cursor=first.next_cursor)
    listed = [o.id for o in first.items + second.items]
    assert sorted(listed) == sorted(o.id for o in placed) and second.next_cursor is None
    created = [o.created_at.replace(microsecond=0) for o in first.items + second.items]  # keys are to the second
    assert created == sorted(created, reverse=True)
    assert all(o.customer_id == profile.customer_id for o in first.items)
    assert accounts.order_for_customer(placed[0].id, profile, ctx).id == placed[0].id
    stranger = Profile("someone-else", "x@example.com", utc_now())
    with pytest.raises(NotFound):
        accounts.order_for_customer(placed[0].id, stranger, ctx)


# --- erasure -----------------------------------------------------------------------------------------

def _every_item() -> str:
    """Every item of every Shelf table, as one JSON text; compressed values (a delivery's body) unpacked."""
    def readable(value):
        if isinstance(value, bytes):
            try:
                return zlib.decompress(value).decode()
            except zlib.error:
                return value.hex()
        return str(value)

    dynamodb = boto3.client("dynamodb", region_name=config.aws_region())
    items = []
    for table in dynamodb.list_tables()["TableNames"]:
        for page in dynamodb.get_paginator("scan").paginate(TableName=table):
            items.extend(page["Items"])
    return json.dumps(items, default=readable)


def test_erasure_leaves_no_personal_field_on_any_item(profile, acc, ctx):
    sku = random_sku("E")
    make_product(ctx, (sku, 900), stock={sku: 10})
    address = _address()
    accounts.add_address(profile, address, acc, ctx)
    accounts.customer_cart(profile, acc, ctx, TTL)
    webhooks.register_endpoint("http://127.0.0.1:9/hooks", ["order.created", "order.paid"], ctx, allow_local=True)
    order = _order(ctx, profile, sku, address=address)
    # A worker's first attempt (refused: nothing listens there) logs the body, with the email.
    with webhooks.first_attempts_here(ctx, seconds=5, max_attempts=3, allow_local=True, timeout=1, backoff_base=1,
                                      on_failure=lambda delivery, error: None):
        events.publish_order(ctx, "order.created", order)
    logged = ctx.webhooks.deliveries(status=None, limit=100, cursor=None).items
    assert [d for d in logged if d.event_type == "order.created" and profile.email in d.payload]
    personal = [profile.email, address.name, address.line1, address.line2, address.city, address.postal_code]
    before = _every_item()
    assert all(value in before for value in personal)

    profile = acc.customers.profile(profile.customer_id)
    accounts.erase(profile, acc, ctx)
    accounts.erase(acc.customers.profile(profile.customer_id), acc, ctx)  # idempotent: a retry is safe

    after = _every_item()
    assert [value for value in personal if value in after] == []
    kept = ctx.orders.get(order.id)
    assert kept.email == erased_email(profile.customer_id) and kept.shipping_address.country == "GB"
    assert kept.total == order.total and kept.lines == order.lines and kept.customer_id == ""
    assert acc.customers.profile(profile.customer_id).erased
    assert acc.customers.addresses(profile.customer_id) == []
    assert accounts.orders(profile, acc, limit=10, cursor=None).items == []
    cognito = boto3.client("cognito-idp", region_name=config.aws_region())
    users = cognito.list_users(UserPoolId=config.user_pool_id())["Users"]
    assert profile.customer_id not in [u["Username"] for u in users]
    with pytest.raises(BadCredentials):
        accounts.sign_in(profile.email, PASSWORD, acc, ctx, max_failures=5, window_seconds=600)
