"""Over HTTP: a customer erased while their order's `order.created` delivery still rides in the
workflow-start message (its first attempt not made yet). The merchant's endpoint gets the body with the
erased email, and the delivery log keeps no trace of the real one. The stack runs in this process, so the
worker that starts the workflow is held (before it hands the deliveries over) by patching the use case."""
from __future__ import annotations

import json
import threading
import zlib

import pytest

from chalicelib.domain import webhooks as signatures
from chalicelib.services import lifecycle

from .fixtures import shop_fixture  # noqa: F401
from .test_accounts import Customer, _checkout
from .workflow_helpers import Receiver, eventually


@pytest.fixture
def hook(shop):
    receiver = Receiver()
    endpoint = shop._expect(shop.request("POST", "/admin/webhook-endpoints", admin=True,
                                         json={"url": receiver.url, "events": ["order.created"]}), 201).json()
    yield receiver, endpoint
    shop.request("DELETE", f"/admin/webhook-endpoints/{endpoint['id']}", admin=True)
    receiver.close()


def _logged_bodies(stack) -> str:
    dynamodb = stack.aws("dynamodb")
    table = next(t for t in dynamodb.list_tables()["TableNames"] if t.endswith("-webhook-deliveries"))
    items = [i for page in dynamodb.get_paginator("scan").paginate(TableName=table) for i in page["Items"]]
    return json.dumps([zlib.decompress(i["payload_z"]["B"]).decode() if "payload_z" in i else i for i in items])


def test_a_delivery_queued_before_the_erasure_reaches_the_endpoint_with_the_erased_email(
        shop, stack, hook, monkeypatch):
    receiver, endpoint = hook
    customer = Customer(shop)
    release, held = threading.Event(), threading.Event()
    start_workflow = lifecycle.start_workflow

    def held_start(order_id, ctx, **kwargs):
        held.set()
        release.wait(timeout=60)
        return start_workflow(order_id, ctx, **kwargs)

    monkeypatch.setattr(lifecycle, "start_workflow", held_start)
    try:
        sku = shop.create_product(1800, stock=10)["variants"][0]["sku"]
        order_id = _checkout(customer, sku)["order"]["id"]
        assert held.wait(timeout=60), "the worker took the workflow-start message"
        assert receiver.events() == [] and customer.email not in _logged_bodies(stack)

        customer.call("DELETE", "/me", 204)
    finally:
        release.set()

    def sent():
        got = [r for r in receiver.received if json.loads(r["body"])["data"]["order"]["id"] == order_id]
        return got[0] if got else None

    request = eventually(sent, timeout=60, what="the held order.created delivery")
    body, headers = request["body"], request["headers"]
    signed_at = int(headers["Shelf-Signature"].split(",")[0].removeprefix("t="))
    signatures.verify(endpoint["secret"], body, headers["Shelf-Signature"], now=signed_at)
    assert customer.email.encode() not in body
    assert json.loads(body)["data"]["order"]["email"].startswith("erased:")
    deliveries = shop._expect(shop.request("GET", "/admin/webhook-deliveries", admin=True,
                                           params={"limit": 100}), 200).json()["items"]
    (logged,) = [d for d in deliveries if d["event_id"] == json.loads(body)["id"]]
    assert (logged["status"], logged["attempts"]) == ("delivered", 1)
    assert customer.email not in _logged_bodies(stack)
