"""Webhooks out: merchants register endpoints; events reach them signed, failed deliveries are retried
with backoff, and the ones that never succeed are parked in the DLQ and shown in the delivery log."""
from __future__ import annotations

import json
import time

import pytest

from chalicelib.domain import webhooks as signatures

from .fixtures import assert_problem, shop_fixture  # noqa: F401
from .workflow_helpers import Receiver, eventually, pay, wait_status


@pytest.fixture
def receiver():
    made = []

    def make(plan=None):
        r = Receiver(plan)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


@pytest.fixture
def endpoints(shop):
    created = []

    def register(url, events):
        response = shop.request("POST", "/admin/webhook-endpoints", admin=True, json={"url": url, "events": events})
        assert response.status_code == 201, response.text
        created.append(response.json()["id"])
        return response.json()

    yield register
    for endpoint_id in created:
        shop.request("DELETE", f"/admin/webhook-endpoints/{endpoint_id}", admin=True)


def _order_events(receiver, order_id, event_type):
    return [e for e in receiver.events(event_type) if e["data"].get("order", {}).get("id") == order_id]


def _deliveries(shop, **params):
    return shop._expect(shop.request("GET", "/admin/webhook-deliveries", admin=True,
                                     params={"limit": 100, **params}), 200).json()["items"]


def test_events_are_delivered_signed_with_the_endpoints_secret(shop, stack, receiver, endpoints):
    hook = receiver()
    endpoint = endpoints(hook.url, ["order.created", "order.paid"])
    assert endpoint["secret"].startswith("whsec_")
    listed = shop.request("GET", "/admin/webhook-endpoints", admin=True).json()["items"]
    assert endpoint["id"] in [e["id"] for e in listed] and all("secret" not in e for e in listed)

    product = shop.create_product(900, stock=3)
    cart = shop.cart_with((product["variants"][0]["sku"], 1))
    order = shop.checkout(cart["id"], expect=201).json()["order"]
    pay(shop, order)
    wait_status(shop, order["id"], "paid")
    paid = eventually(lambda: _order_events(hook, order["id"], "order.paid"), what="order.paid delivery")
    assert _order_events(hook, order["id"], "order.created")
    assert paid[0]["data"]["order"]["status"] == "paid" and paid[0]["id"].startswith("evt_")
    delivered = next(r for r in hook.received if json.loads(r["body"])["id"] == paid[0]["id"])
    signatures.verify(endpoint["secret"], delivered["body"], delivered["headers"]["Shelf-Signature"],
                      int(time.time()))
    with pytest.raises(signatures.BadSignature):
        signatures.verify("whsec_other", delivered["body"], delivered["headers"]["Shelf-Signature"], int(time.time()))


def test_an_endpoint_that_fails_first_is_retried_and_then_receives(shop, stack, receiver, endpoints):
    hook = receiver([500, 200])
    endpoints(hook.url, ["inventory.low"])
    product = shop.create_product(100, stock=6)  # the threshold is 5: a sale of one crosses it
    sku = product["variants"][0]["sku"]
    cart = shop.cart_with((sku, 1))
    shop.checkout(cart["id"], expect=201)
    low = eventually(lambda: [e for e in hook.events("inventory.low") if e["data"]["sku"] == sku],
                     timeout=30, what="the retried delivery")
    assert low[0]["data"]["available"] == 5 and low[0]["data"]["threshold"] == 5
    attempts = [r for r in hook.received if json.loads(r["body"])["data"].get("sku") == sku]
    assert [a["status"] for a in attempts][:2] == [500, 200]
    delivered = eventually(lambda: [d for d in _deliveries(shop, status="delivered") if d["event_id"] == low[0]["id"]],
                           what="the delivery log")
    assert delivered[0]["attempts"] == 2


def test_an_endpoint_that_always_fails_ends_in_the_dlq_and_the_log_and_can_be_redriven(shop, stack, receiver,
                                                                                      endpoints):
    hook = receiver([503])
    endpoint = endpoints(hook.url, ["order.created"])
    product = shop.create_product(100, stock=10)
    cart = shop.cart_with((product["variants"][0]["sku"], 1))
    order = shop.checkout(cart["id"], expect=201).json()["order"]

    def parked():
        return [d for d in _deliveries(shop, status="failed") if d["endpoint_id"] == endpoint["id"]]

    failed = eventually(parked, timeout=60, what="the delivery to be parked")[0]
    assert failed["attempts"] == 3 and failed["last_status_code"] == 503 and failed["last_error"] == "http_5xx"
    assert len([r for r in hook.received if json.loads(r["body"])["data"]["order"]["id"] == order["id"]]) == 3

    sqs = stack.aws("sqs")
    dlq = sqs.get_queue_url(QueueName="shelf-e2e-outbound-webhooks-dlq")["QueueUrl"]

    def in_dlq():
        # Other tests park deliveries here too: hide each message read for a moment, so that the next
        # receive returns the next ten instead of the same ten.
        found = []
        for _ in range(10):
            for message in sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, VisibilityTimeout=5,
                                               WaitTimeSeconds=1).get("Messages", []):
                if json.loads(message["Body"])["delivery_id"] == failed["id"]:
                    found.append(message)
        return found

    assert eventually(in_dlq, timeout=20, what="the message in the DLQ")

    hook.plan = [200]
    redriven = shop.request("POST", f"/admin/webhook-deliveries/{failed['id']}/redrive", admin=True)
    assert redriven.status_code == 202 and redriven.json()["status"] == "pending"
    eventually(lambda: [d for d in _deliveries(shop, status="delivered") if d["id"] == failed["id"]],
               timeout=30, what="the redriven delivery")
    assert_problem(shop.request("POST", f"/admin/webhook-deliveries/{failed['id']}/redrive", admin=True), 409)


def test_endpoint_urls_must_be_public_https_unless_local_webhooks_are_allowed(shop, stack, monkeypatch):
    monkeypatch.setenv("SHELF_ALLOW_LOCAL_WEBHOOKS", "0")
    for url in ("http://example.com/hook", "https://127.0.0.1/hook", "https://10.0.0.8/hook",
                "https://169.254.169.254/latest/meta-data", "https://[::1]/hook", "https://localhost/hook",
                "ftp://example.com/x", "https://user:pw@example.com/x"):
        response = shop.request("POST", "/admin/webhook-endpoints", admin=True,
                                json={"url": url, "events": ["order.paid"]})
        assert_problem(response, 422)
    assert_problem(shop.request("POST", "/admin/webhook-endpoints", admin=True,
                                json={"url": "https://example.com/h", "events": ["order.exploded"]}), 422)


def test_deleting_an_endpoint(shop, stack, receiver):
    hook = receiver()
    created = shop.request("POST", "/admin/webhook-endpoints", admin=True,
                           json={"url": hook.url, "events": ["order.paid"]}).json()
    path = f"/admin/webhook-endpoints/{created['id']}"
    assert shop.request("GET", path, admin=True).json()["url"] == hook.url
    assert shop.request("DELETE", path, admin=True).status_code == 204
    assert_problem(shop.request("GET", path, admin=True), 404)
    assert_problem(shop.request("DELETE", path, admin=True), 404)
