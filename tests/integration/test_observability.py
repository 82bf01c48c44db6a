"""Day-one observability: the dashboard the template declares plots the metrics the code emits (under the
names and dimensions it emits them), every dead-letter queue and the order workflow; every function, HTTP
or not, flushes what it counted with its stage."""
from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import replace

import boto3
import pytest
from moto import mock_aws

from chalicelib.adapters.metrics import CloudWatchMeter
from chalicelib.services import webhooks
from chalicelib.services.ports import Delivery, Meter, WebhookSender, queue_message, queued_delivery
from local import infra

CHALICELIB = infra.REPO_ROOT / "chalicelib"


def _dashboard_body_template() -> str:
    return infra.load_template(infra.TEMPLATE)["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]


def _metric_rows(body: dict) -> list[list]:
    return [row for widget in body["widgets"] for row in widget["properties"]["metrics"]]


def _emitted_names() -> set[str]:
    """Metric names given to add_metric (routes) or to the meter (services.metering), read from the source."""
    source = "\n".join(p.read_text() for p in CHALICELIB.rglob("*.py"))
    names = set(re.findall(r'add_metric\(name="(\w+)"', source))
    metering = (CHALICELIB / "services" / "metering.py").read_text()
    names |= set(re.findall(r'"((?:Orders|Payment|Webhook)\w+)"', metering))
    return names


@pytest.fixture
def moto(monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield


def test_the_dashboard_stands_up_with_every_reference_resolved(moto):
    stack = infra.stand_up("obs")
    body = json.loads(boto3.client("cloudwatch", region_name="us-east-1")
                      .get_dashboard(DashboardName="shelf-obs")["DashboardBody"])
    rows = _metric_rows(body)

    assert "${" not in json.dumps(body)
    dlqs = {row[3] for row in rows if row[:2] == ["AWS/SQS", "ApproximateNumberOfMessagesVisible"]}
    declared = {lid for lid, r in infra.load_template(infra.TEMPLATE)["Resources"].items()
                if r["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" not in r["Properties"]}
    assert dlqs == {stack.physical_ids[lid].rsplit("/", 1)[-1] for lid in declared}
    workflow = {row[3] for row in rows if row[0] == "AWS/States"}
    assert workflow == {stack.outputs["OrderWorkflowArn"]}


def test_every_shelf_metric_on_the_dashboard_is_one_the_code_emits_with_its_dimensions():
    rows = _metric_rows(json.loads(_dashboard_body_template()))
    shelf = [row for row in rows if row[0] == "Shelf"]

    assert {row[1] for row in shelf} <= _emitted_names()
    for row in shelf:
        assert row[2:6] == ["service", "shelf", "stage", "${Stage}"], row
    plotted = {row[1] for row in shelf}
    for wanted in ("OrdersPlaced", "OrdersPaid", "OrdersCanceled", "CheckoutLatency", "PaymentFailed",
                   "WebhookDeliveriesFailed"):
        assert wanted in plotted
    stats = {row[-1]["stat"] for row in shelf if row[1] == "CheckoutLatency"}
    assert stats == {"p50", "p99"}


class RecordingMeter(Meter):
    def __init__(self):
        self.counts: Counter = Counter()

    def count(self, name, value=1):
        self.counts[name] += value


class DownSender(WebhookSender):
    def post(self, url, body, headers, timeout):
        return 503

    def resolve(self, host):
        return ["93.184.216.34"]


def test_a_failed_attempt_and_a_delivery_given_up_are_counted_apart(ctx):
    meter = RecordingMeter()
    c = replace(ctx, meter=meter, sender=DownSender())
    endpoint = webhooks.register_endpoint("https://merchant.example/hooks", ["order.paid"], c, allow_local=False)
    delivery_id = f"{endpoint.id}.evt_1"
    queued = queued_delivery(queue_message(Delivery(
        id=delivery_id, endpoint_id=endpoint.id, event_id="evt_1", event_type="order.paid", payload="{}",
        status="pending", attempts=0, created_at="2026-01-01T00:00:00Z", updated_at="2026-01-01T00:00:00Z")))

    for attempt in (1, 2, 3):
        with pytest.raises(webhooks.DeliveryFailed):
            webhooks.deliver(queued, attempt, c, now=1_700_000_000, max_attempts=3, allow_local=False,
                             timeout=1, backoff_base=1)

    assert meter.counts == Counter({"WebhookDeliveryAttemptsFailed": 2, "WebhookDeliveriesFailed": 1})
    assert c.webhooks.delivery(delivery_id).status == "failed"


def test_a_function_flushes_what_it_counted_with_its_stage(monkeypatch, capsys):
    from chalicelib.api.http import _flush_metrics
    from chalicelib.observability import metrics

    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.setenv("SHELF_STAGE", "obs")
    capsys.readouterr()

    def step(event):
        CloudWatchMeter().count("OrdersPaid")
        return {"status": "paid"}

    assert _flush_metrics({"order_id": "o1"}, step) == {"status": "paid"}

    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert len(emitted) == 1
    blob = emitted[0]
    assert blob["OrdersPaid"] == [1.0]
    assert (blob["service"], blob["stage"]) == ("shelf", "obs")
    directive = blob["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "Shelf"
    assert set(directive["Dimensions"][0]) == {"service", "stage"}
    assert not metrics.metric_set
