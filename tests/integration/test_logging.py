"""What the functions write to their logs: one JSON line per event, each naming the function that wrote it,
and a handled, expected retry as one WARNING line, not a traceback."""
from __future__ import annotations

import io
import json
import logging
import os
import uuid

import pytest

from chalicelib.services import webhooks
from chalicelib.services.ports import Event
from local.runtime import LambdaContext, handler


@pytest.fixture
def app(aws):
    from app import app

    return app


def _function(app, name):
    """The function as Lambda runs it (with the app's middleware)."""
    return handler(next(f for f in app.pure_lambda_functions if f.name == name).handler_string)


class _Log:
    """Every line the `shelf` logger's handlers write, however many handlers it has."""

    def __init__(self):
        self.buffer = io.StringIO()

    def lines(self) -> list[str]:
        text = self.buffer.getvalue()
        self.buffer.seek(0)
        self.buffer.truncate()
        return [line for line in text.splitlines() if line.strip()]


@pytest.fixture
def log(app, monkeypatch):
    captured = _Log()
    for each in logging.getLogger("shelf").handlers:
        monkeypatch.setattr(each, "stream", captured.buffer)
    return captured


def test_the_shelf_logger_has_one_handler_and_does_not_propagate(app):
    shelf = logging.getLogger("shelf")

    assert len(shelf.handlers) == 1
    assert shelf.propagate is False


def _failing_delivery(ctx) -> tuple[str, dict]:
    """A delivery to an endpoint that is down, and the SQS event its queued message makes."""
    import boto3

    endpoint = webhooks.register_endpoint("http://127.0.0.1:9/down", ["order.paid"], ctx, allow_local=True)
    event = Event(id="evt_" + uuid.uuid4().hex, type="order.paid", created_at="2026-01-01T00:00:00Z", data={})
    ctx.notifier.publish(event)
    sqs = boto3.client("sqs")
    queue = os.environ["SHELF_OUTBOUND_WEBHOOKS_QUEUE_URL"]
    message = sqs.receive_message(QueueUrl=queue, AttributeNames=["All"])["Messages"][0]
    return f"{endpoint.id}.{event.id}", {"Records": [{
        "messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"], "body": message["Body"],
        "attributes": message["Attributes"], "messageAttributes": {}, "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q", "awsRegion": "us-east-1"}]}


def test_a_line_logged_by_the_app_is_written_once_as_json(app, log):
    from chalicelib.observability import logger

    log.lines()
    logger.info("one line", extra={"probe": 1})

    lines = log.lines()
    assert len(lines) == 1, lines
    assert json.loads(lines[0])["message"] == "one line"


def test_chalices_own_logger_writes_through_the_same_json_handler(app, log):
    log.lines()
    app.log.warning("from chalice")

    lines = log.lines()
    assert len(lines) == 1, lines
    assert json.loads(lines[0])["message"] == "from chalice"


def test_a_failed_delivery_is_one_warning_line_and_the_message_is_retried(app, ctx, log, monkeypatch):
    monkeypatch.setenv("SHELF_ALLOW_LOCAL_WEBHOOKS", "1")
    delivery_id, event = _failing_delivery(ctx)
    log.lines()

    response = _function(app, "deliver_webhooks")(event, LambdaContext("shelf-it-deliver_webhooks"))

    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    lines = log.lines()
    assert "Traceback" not in "\n".join(lines)
    records = [json.loads(line) for line in lines]
    assert [r["level"] for r in records] == ["WARNING"], lines
    assert records[0]["function_name"] == "shelf-it-deliver_webhooks"
    assert records[0]["delivery_id"] == delivery_id
    assert len(lines[0]) < 1000


def test_a_functions_keys_end_with_its_invocation(app, ctx, log, monkeypatch):
    from chalicelib.observability import logger

    monkeypatch.setenv("SHELF_ALLOW_LOCAL_WEBHOOKS", "1")
    _function(app, "deliver_webhooks")(_failing_delivery(ctx)[1], LambdaContext("shelf-it-deliver_webhooks"))
    log.lines()

    logger.info("outside any function")

    record = json.loads(log.lines()[0])
    assert "function_name" not in record


def test_an_unexpected_failure_is_one_error_line_with_its_traceback_and_the_message_is_retried(app, log):
    event = {"Records": [{"messageId": "m-1", "receiptHandle": "h-1", "body": "not json", "attributes": {},
                          "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                          "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q", "awsRegion": "us-east-1"}]}
    log.lines()

    response = _function(app, "merchant_events")(event, LambdaContext("shelf-it-merchant_events"))

    assert response == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    records = [json.loads(line) for line in log.lines()]
    assert [r["level"] for r in records] == ["ERROR"]
    assert records[0]["function_name"] == "shelf-it-merchant_events"
    assert "JSONDecodeError" in records[0]["exception"]
