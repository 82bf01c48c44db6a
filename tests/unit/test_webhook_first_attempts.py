"""Outbound deliveries: the queue message carries the delivery and the log is written once per attempt;
a worker makes the first attempt of what it publishes (or is handed), queueing the rest; what checkout
publishes is held for the workflow's start message; a chain makes SHELF_WEBHOOK_MAX_ATTEMPTS attempts in
all, however many were made before its message was queued."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest

from chalicelib.domain.errors import NotFound
from chalicelib.domain.webhooks import redacted_body
from chalicelib.services import webhooks
from chalicelib.services.ports import (
    UNLOGGED,
    Delivery,
    Event,
    Page,
    SendFailed,
    StaleWrite,
    WebhookEndpoint,
    Webhooks,
    WebhookSender,
    queue_message,
    queued_delivery,
)
from tests.fakes import fake_context

ENDPOINT = WebhookEndpoint(id="we_" + "a" * 26, url="https://merchant.example/hooks", events=("order.paid",),
                           secret="whsec_test", created_at="2026-01-01T00:00:00Z")
SETTINGS = {"max_attempts": 3, "allow_local": False, "timeout": 1, "backoff_base": 10}


class MemoryWebhooks(Webhooks):
    def __init__(self):
        self.logged: dict = {}
        self.queued: list = []  # (delivery, delay, redelivery)
        self.writes = 0

    def add_endpoint(self, endpoint):
        raise NotImplementedError

    def endpoints(self, *, max_age_seconds=0):
        return [ENDPOINT]

    def endpoint(self, endpoint_id):
        return ENDPOINT if endpoint_id == ENDPOINT.id else None

    def remove_endpoint(self, endpoint_id):
        raise NotImplementedError

    def add_delivery(self, delivery):
        if delivery.id in self.logged:
            return False
        self.writes += 1
        self.logged[delivery.id] = replace(delivery, version=1)
        return True

    def delivery(self, delivery_id):
        return self.logged.get(delivery_id)

    def mark_erased(self, delivery_id, erased_email):
        if delivery_id in self.logged:
            return False
        self.logged[delivery_id] = Delivery(id=delivery_id, endpoint_id="", event_id="", event_type="", payload="",
                                            status=UNLOGGED, attempts=0, created_at="", updated_at="", version=1,
                                            erased_email=erased_email)
        return True

    def save_delivery(self, delivery):
        current = self.logged.get(delivery.id)
        if current is None or current.version != delivery.version:
            raise StaleWrite(delivery.id)
        self.writes += 1
        self.logged[delivery.id] = replace(delivery, version=delivery.version + 1)
        return self.logged[delivery.id]

    def deliveries(self, *, status, limit, cursor):
        return Page([], None)

    def enqueue(self, delivery, delay_seconds=0, *, redelivery=""):
        self.queued.append((queue_message(delivery), delay_seconds, redelivery))


class Sender(WebhookSender):
    def __init__(self, *answers):
        self.answers = list(answers)
        self.sent: list = []

    def post(self, url, body, headers, timeout):
        self.sent.append(headers["Shelf-Event-Id"])
        answer = self.answers.pop(0) if self.answers else 200
        if isinstance(answer, Exception):
            raise answer
        return answer

    def resolve(self, host):
        return ["93.184.216.34"]


@pytest.fixture
def c():
    hooks = MemoryWebhooks()
    return fake_context(webhooks=hooks, sender=Sender(), notifier=webhooks.WebhookNotifier(hooks))


def _event(n=1):
    return Event(id=f"evt_{n}", type="order.paid", created_at="2026-01-01T00:00:00Z", data={"n": n})


def _here(c, failures, seconds=5.0):
    return webhooks.first_attempts_here(c, seconds=seconds, on_failure=lambda d, e: failures.append((d.id, e)),
                                        **SETTINGS)


def test_publishing_queues_the_whole_delivery_and_logs_nothing_before_the_first_attempt(c):
    c.notifier.publish(_event())
    (message, delay, redelivery), = c.webhooks.queued
    assert c.webhooks.logged == {} and (delay, redelivery) == (0, "")
    queued = queued_delivery(message)
    assert queued.id == f"{ENDPOINT.id}.evt_1" and '"n":1' in queued.payload and queued.attempts == 0

    assert webhooks.deliver(queued, 1, c, now=1, **SETTINGS) == "delivered"
    logged = c.webhooks.logged[queued.id]
    assert (logged.status, logged.attempts, c.webhooks.writes) == ("delivered", 1, 1), "one write"
    assert webhooks.deliver(queued, 1, c, now=1, **SETTINGS) == "delivered"
    assert c.sender.sent == ["evt_1"], "a copy of the message sends nothing again"


def test_a_worker_attempts_what_it_publishes_itself(c):
    failures: list = []
    with _here(c, failures):
        c.notifier.publish(_event())
    assert c.webhooks.queued == [] and c.sender.sent == ["evt_1"] and failures == []
    assert c.webhooks.logged[f"{ENDPOINT.id}.evt_1"].status == "delivered"


def test_after_a_failed_first_attempt_a_worker_queues_the_retry_and_what_it_publishes_next(c):
    c = replace(c, sender=Sender(503))
    failures: list = []
    with _here(c, failures):
        c.notifier.publish(_event(1))
        c.notifier.publish(_event(2))
    assert failures == [(f"{ENDPOINT.id}.evt_1", "http_5xx")] and c.sender.sent == ["evt_1"]
    logged = c.webhooks.logged[f"{ENDPOINT.id}.evt_1"]
    assert (logged.status, logged.attempts, logged.last_error) == ("pending", 1, "http_5xx")
    (retry, delay, _), (second, no_delay, _) = c.webhooks.queued
    assert (retry["delivery_id"], retry["attempts"], delay) == (logged.id, 1, 10)
    assert (second["event_id"], second["attempts"], no_delay) == ("evt_2", 0, 0)


def test_a_worker_whose_attempt_budget_is_spent_queues(c):
    with _here(c, [], seconds=0):
        c.notifier.publish(_event())
    assert c.sender.sent == [] and len(c.webhooks.queued) == 1


def test_a_worker_queues_a_delivery_its_attempt_could_not_log(c):
    def down(delivery):
        raise ConnectionError("DynamoDB is unreachable")

    c.webhooks.add_delivery = down
    failures: list = []
    with _here(c, failures):
        c.notifier.publish(_event())
    assert len(c.webhooks.queued) == 1 and "ConnectionError" in failures[0][1]


def test_held_deliveries_are_queued_by_no_one_until_handed_over(c):
    with webhooks.holding() as held:
        c.notifier.publish(_event(1))
        c.notifier.publish(_event(2))
    assert [d.event_id for d in held] == ["evt_1", "evt_2"] and c.webhooks.queued == []

    webhooks.hand_over(held[:1], c)  # not in a worker: queued
    assert [m["event_id"] for m, _, _ in c.webhooks.queued] == ["evt_1"]
    with _here(c, []):
        webhooks.hand_over(held[1:], c)  # in a worker: attempted
    assert c.sender.sent == ["evt_2"]


def test_a_chain_makes_max_attempts_in_all_counting_those_made_before_it_was_queued(c):
    c = replace(c, sender=Sender(503, 503, 503, 503))
    with _here(c, []):
        c.notifier.publish(_event())
    queued = queued_delivery(c.webhooks.queued[0][0])
    with pytest.raises(webhooks.DeliveryFailed):
        webhooks.deliver(queued, 1, c, now=1, handle="h1", **SETTINGS)
    with pytest.raises(webhooks.DeliveryFailed):
        webhooks.deliver(queued, 2, c, now=1, handle="h2", **SETTINGS)
    logged = c.webhooks.logged[queued.id]
    assert (logged.status, logged.attempts) == ("failed", 3)

    with pytest.raises(webhooks.DeliveryFailed):  # the message's last receive: on to the DLQ, nothing sent
        webhooks.deliver(queued, 3, c, now=1, handle="h3", **SETTINGS)
    assert len(c.sender.sent) == 3
    assert [h for _, _, h in c.webhooks.queued] == ["", "h1"], "a retry after each failure but the last"


def test_a_timeout_is_logged_as_its_class(c):
    c = replace(c, sender=Sender(SendFailed("timeout")))
    queued = queued_delivery({"delivery_id": f"{ENDPOINT.id}.evt_9", "endpoint_id": ENDPOINT.id,
                                       "event_id": "evt_9", "event_type": "order.paid", "created_at": "t",
                                       "payload": "{}"})
    with pytest.raises(webhooks.DeliveryFailed):
        webhooks.deliver(queued, 1, c, now=1, **SETTINGS)
    assert c.webhooks.logged[queued.id].last_error == "timeout"


def test_a_message_that_names_only_a_delivery_id_is_read_from_the_log(c):
    assert queued_delivery({"delivery_id": "we_x.evt_x"}) == "we_x.evt_x"
    assert webhooks.deliver("we_x.evt_x", 1, c, now=1, **SETTINGS) == "missing"
    c.webhooks.add_delivery(queued_delivery({"delivery_id": f"{ENDPOINT.id}.evt_8",
                                                      "endpoint_id": ENDPOINT.id, "event_id": "evt_8",
                                                      "event_type": "order.paid", "created_at": "t",
                                                      "payload": "{}"}))
    assert webhooks.deliver(f"{ENDPOINT.id}.evt_8", 1, c, now=1, **SETTINGS) == "delivered"
    assert c.sender.sent == ["evt_8"]


def test_a_worker_sends_nothing_to_an_endpoint_deleted_since_its_list_was_read(c):
    c.webhooks.endpoint = lambda endpoint_id: None  # deleted; the publisher's list still has it
    with _here(c, []):
        c.notifier.publish(_event())
    assert c.sender.sent == [] and c.webhooks.logged[f"{ENDPOINT.id}.evt_1"].status == "canceled"


def test_with_one_attempt_in_all_the_queue_makes_it_so_that_a_failure_is_parked(c):
    with webhooks.first_attempts_here(c, seconds=5, on_failure=lambda d, e: None,
                                      **{**SETTINGS, "max_attempts": 1}):
        c.notifier.publish(_event())
    assert c.sender.sent == [] and len(c.webhooks.queued) == 1


def _order_event(email="ada@example.com"):
    return Event(id="evt_o", type="order.paid", created_at="2026-01-01T00:00:00Z",
                 data={"order": {"id": "ord_1", "email": email, "lines": []}})


def test_a_first_attempt_the_erasure_marked_sends_and_logs_the_erased_email_in_one_write(c):
    c.notifier.publish(_order_event())
    queued = queued_delivery(c.webhooks.queued[0][0])
    assert c.webhooks.mark_erased(queued.id, "erased:abc") and not c.webhooks.mark_erased(queued.id, "erased:abc")
    bodies: list = []
    c.sender.post = lambda url, body, headers, timeout: bodies.append(body) or 200

    assert webhooks.deliver(queued, 1, c, now=1, **SETTINGS) == "delivered"
    logged = c.webhooks.logged[queued.id]
    assert (logged.status, logged.attempts, c.webhooks.writes) == ("delivered", 1, 1)
    assert json.loads(logged.payload)["data"]["order"]["email"] == "erased:abc" and not logged.marker
    assert bodies == [logged.payload.encode()] and b"ada@example.com" not in bodies[0]


def test_an_erasure_during_a_first_attempt_still_keeps_the_email_out_of_the_log(c):
    """The attempt read the log before the erasure marked the id: the body it had already sent is the
    merchant's, but its log write, conditional on nothing being there, meets the mark and logs redacted."""
    c.notifier.publish(_order_event())
    queued = queued_delivery(c.webhooks.queued[0][0])

    def erased_while_sending(url, body, headers, timeout):
        assert c.webhooks.mark_erased(queued.id, "erased:abc")
        return 200

    c.sender.post = erased_while_sending
    assert webhooks.deliver(queued, 1, c, now=1, **SETTINGS) == "delivered"
    logged = c.webhooks.logged[queued.id]
    assert (logged.status, logged.attempts) == ("delivered", 1)
    assert "ada@example.com" not in logged.payload and "erased:abc" in logged.payload


def test_redrive_does_not_know_a_mark():
    c = fake_context(webhooks=MemoryWebhooks(), sender=Sender())
    c.webhooks.mark_erased(f"{ENDPOINT.id}.evt_m", "erased:abc")
    with pytest.raises(NotFound):
        webhooks.redrive(f"{ENDPOINT.id}.evt_m", c)


@pytest.mark.parametrize("payload,expected", [
    ('{"data":{"order":{"email":"a@b.example","id":"o"}}}', '{"data":{"order":{"email":"erased:x","id":"o"}}}'),
    ('{"data":{"order":{"email":"erased:x"}}}', '{"data":{"order":{"email":"erased:x"}}}'),
    ('{"data":{"return":{"id":"r"}}}', '{"data":{"return":{"id":"r"}}}'),
    ('{"data":[1]}', '{"data":[1]}'),
    ("[]", "[]"),
    ("not json", "not json"),
])
def test_a_body_is_redacted_in_one_place(payload, expected):
    assert redacted_body(payload, "erased:x") == expected


def test_a_marked_first_attempt_that_fails_queues_its_retry_with_the_erased_email(c):
    c = replace(c, sender=Sender(503))
    c.notifier.publish(_order_event())
    queued = queued_delivery(c.webhooks.queued[0][0])
    c.webhooks.mark_erased(queued.id, "erased:abc")
    with pytest.raises(webhooks.DeliveryFailed):
        webhooks.deliver(queued, 1, c, now=1, **SETTINGS)
    logged = c.webhooks.logged[queued.id]
    assert (logged.status, logged.attempts, logged.last_error) == ("pending", 1, "http_5xx")
    retry = queued_delivery(c.webhooks.queued[-1][0])
    assert "ada@example.com" not in logged.payload + retry.payload and "erased:abc" in retry.payload
