"""Redriving a parked delivery: its log goes back to pending and a message starts a new chain. If the message
cannot be sent, the delivery must stay redrivable: a pending delivery with no message is never attempted,
and a redrive of it is refused (409) for good."""
from __future__ import annotations

import pytest

from chalicelib.domain.errors import Unavailable
from chalicelib.services import webhooks
from tests.fakes import fake_context
from tests.unit.test_webhook_first_attempts import ENDPOINT, SETTINGS, MemoryWebhooks, Sender, _event


class QueueDown(MemoryWebhooks):
    def __init__(self):
        super().__init__()
        self.down = False

    def enqueue(self, delivery, delay_seconds=0, *, redelivery=""):
        if self.down:
            raise ConnectionError("the queue did not answer")
        super().enqueue(delivery, delay_seconds, redelivery=redelivery)


def _parked(c):
    """A delivery whose every attempt failed (SETTINGS: 3 attempts)."""
    c.notifier.publish(_event())
    (message, _, _), = c.webhooks.queued
    from chalicelib.services.ports import queued_delivery

    queued = queued_delivery(message)
    for receive in range(1, SETTINGS["max_attempts"] + 1):
        with pytest.raises(webhooks.DeliveryFailed):
            webhooks.deliver(queued, receive, c, now=1, handle=f"h{receive}", **SETTINGS)
    assert c.webhooks.logged[queued.id].status == "failed"
    c.webhooks.queued.clear()
    return queued.id


def test_a_redrive_whose_message_cannot_be_sent_leaves_the_delivery_failed_and_redrivable():
    hooks = QueueDown()
    c = fake_context(webhooks=hooks, sender=Sender(500, 500, 500), notifier=webhooks.WebhookNotifier(hooks))
    delivery_id = _parked(c)
    hooks.down = True
    with pytest.raises(Unavailable):  # a 503 problem: try again
        webhooks.redrive(delivery_id, c)
    assert hooks.logged[delivery_id].status == "failed"
    hooks.down = False
    assert webhooks.redrive(delivery_id, c).status == "pending"
    (message, _, _), = hooks.queued
    assert message["delivery_id"] == delivery_id and message["endpoint_id"] == ENDPOINT.id
