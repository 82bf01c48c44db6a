"""A customer erased while a delivery of their order's event still waits for its first attempt (in the
workflow-start message checkout sends, or on the webhook queue): that attempt sends and logs the body
with the erased email. On moto through the real adapters, queues and sender, to a receiver on loopback."""
from __future__ import annotations

import json
import zlib
from datetime import timedelta

import boto3
import pytest

from chalicelib import config
from chalicelib.adapters import aws as aws_adapter
from chalicelib.domain.commands import AddToCart, PlaceOrder
from chalicelib.domain.customers import erased_email
from chalicelib.domain.ids import new_id
from chalicelib.domain.orders import Address
from chalicelib.domain.webhooks import verify
from chalicelib.services import accounts, carts, events, lifecycle, webhooks
from chalicelib.services.checkout import place_order
from chalicelib.services.ports import queued_delivery

from .helpers import make_product, random_sku

TTL = timedelta(days=7)
SETTINGS = {"max_attempts": 3, "allow_local": True, "timeout": 5, "backoff_base": 1}


def _order(ctx, profile):
    sku = random_sku("Q")
    make_product(ctx, (sku, 900), stock={sku: 10})
    cart = carts.create_cart(ctx, TTL, customer_id=profile.customer_id).cart
    carts.add_item(AddToCart(cart.id, sku, 1, profile.customer_id), ctx, TTL)
    address = Address(name="Ada Queue", line1="1 Waiting Row", city="London", postal_code="N1 1AA", country="GB")
    order = place_order(PlaceOrder(cart.id, new_id("key"), profile.email, address,
                                   customer_id=profile.customer_id), ctx).order
    lifecycle.after_checkout(order, ctx, threshold=0)  # as the checkout route: the workflow-start message
    return order


def _messages(queue: str) -> list[dict]:
    sqs = boto3.client("sqs", region_name=config.aws_region())
    got = sqs.receive_message(QueueUrl=aws_adapter.queue_url(queue), MaxNumberOfMessages=10,
                              AttributeNames=["All"]).get("Messages", [])
    return [json.loads(m["Body"]) for m in got]


def _logged_bodies() -> str:
    """Every item of the delivery log as stored, bodies unpacked."""
    dynamodb = boto3.client("dynamodb", region_name=config.aws_region())
    items = dynamodb.scan(TableName=config.table("webhook_deliveries"))["Items"]
    return json.dumps([zlib.decompress(i["payload_z"]["B"]).decode() if "payload_z" in i else i for i in items])


def _first_attempts_in_the_workflow_start(ctx, profile) -> None:
    """Checkout held the deliveries in its workflow-start message; the worker that starts the workflow
    makes their first attempts (as start_order_workflows does)."""
    (start,) = _messages("checkout")
    held = [queued_delivery(m) for m in start["deliveries"]]
    assert held and all(profile.email in d.payload for d in held), "queued with the email, before the erasure"
    with webhooks.first_attempts_here(ctx, seconds=30, on_failure=lambda d, e: None, **SETTINGS):
        webhooks.hand_over(held, ctx)


def _first_attempts_from_the_webhook_queue(ctx, profile) -> None:
    for message in _messages("outbound_webhooks"):
        queued = queued_delivery(message)
        assert profile.email in queued.payload, "queued with the email, before the erasure"
        assert webhooks.deliver(queued, 1, ctx, now=1, **SETTINGS) == "delivered"


@pytest.mark.parametrize("first_attempts", [_first_attempts_in_the_workflow_start,
                                            _first_attempts_from_the_webhook_queue])
def test_a_delivery_queued_before_the_erasure_is_sent_and_logged_with_the_erased_email(
        first_attempts, receiver, profile, acc, ctx):
    url, got = receiver.url, receiver.got
    endpoint = webhooks.register_endpoint(url, ["order.created", "order.paid", "order.shipped"], ctx,
                                          allow_local=True)
    order = _order(ctx, profile)
    if first_attempts is _first_attempts_from_the_webhook_queue:
        events.publish_order(ctx, "order.paid", order)  # outside a worker: on the queue, for its first attempt
    assert got == [] and "payload_z" not in _logged_bodies(), "nothing attempted, nothing logged yet"

    accounts.erase(acc.customers.profile(profile.customer_id), acc, ctx)
    assert profile.email not in _logged_bodies()

    first_attempts(ctx, profile)
    erased = erased_email(profile.customer_id)
    assert got, "the queued deliveries were sent"
    for headers, body in got:
        signed_at = int(headers["Shelf-Signature"].split(",")[0].removeprefix("t="))
        verify(endpoint.secret, body, headers["Shelf-Signature"], now=signed_at)  # signed over the body sent
        assert profile.email.encode() not in body and json.loads(body)["data"]["order"]["email"] == erased
    logged = ctx.webhooks.deliveries(status=None, limit=100, cursor=None).items
    assert sorted(d.event_id for d in logged) == sorted(h["Shelf-Event-Id"] for h, _ in got)
    assert all(d.status == "delivered" and erased in d.payload for d in logged)
    assert profile.email not in _logged_bodies()


def test_an_erased_customers_later_events_and_a_retried_erasure_go_on_as_before(receiver, profile, acc, ctx):
    """The marks are written only once, under ids nothing was logged under, and are never listed; an event
    published after the erasure (from the redacted order) is delivered and logged once, as any other."""
    url, got = receiver.url, receiver.got
    webhooks.register_endpoint(url, ["order.shipped"], ctx, allow_local=True)
    order = _order(ctx, profile)
    accounts.erase(acc.customers.profile(profile.customer_id), acc, ctx)
    accounts.erase(acc.customers.profile(profile.customer_id), acc, ctx)  # a retry changes nothing
    assert ctx.webhooks.deliveries(status=None, limit=100, cursor=None).items == []

    events.publish_order(ctx, "order.shipped", ctx.orders.get(order.id))
    (message,) = _messages("outbound_webhooks")
    queued = queued_delivery(message)
    assert webhooks.deliver(queued, 1, ctx, now=1, **SETTINGS) == "delivered"
    assert webhooks.deliver(queued, 1, ctx, now=1, **SETTINGS) == "delivered", "a copy sends nothing again"
    (logged,) = ctx.webhooks.deliveries(status=None, limit=100, cursor=None).items
    assert (logged.status, logged.attempts, len(got)) == ("delivered", 1, 1)
    assert json.loads(logged.payload)["data"]["order"]["email"] == erased_email(profile.customer_id)
