"""What one order costs in AWS, from the calls real orders make on the local stack.

Every AWS call the functions make reaches the local stack's emulated AWS over HTTP. A WSGI meter inside
that server counts them by service and operation and, for DynamoDB, computes the request units AWS would
bill from the items themselves: their size before and after each write (the larger counts), the
transactional double price, and one write per global secondary index whose projected copy changes. Lambda
invocations are counted where the local stack dispatches them (Step Functions tasks, queue consumers) plus
one per API request; state transitions come from each execution's history. The counts are priced with the
list prices in `PRICES`, the one place they live.

What it leaves out (small, or not per order): CloudWatch metrics and alarms, X-Ray, data transfer, storage,
the empty long polls of SQS event source mappings, and API Gateway's and Lambda's free tiers.
"""
from __future__ import annotations

import io
import json
import math
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from typing import Any
from unittest import mock

# us-east-1 list prices, and the two Lambda assumptions they are priced with.
PRICES = {
    "API Gateway (REST) request": 3.50 / 1e6,
    "Lambda request": 0.20 / 1e6,
    "Lambda GB-second": 0.0000166667,
    "Step Functions state transition": 0.025 / 1e3,
    "DynamoDB write request unit": 0.625 / 1e6,
    "DynamoDB read request unit": 0.125 / 1e6,
    "SQS request (64 KiB)": 0.40 / 1e6,
    "KMS request": 0.03 / 1e4,
    "SSM / other API request": 0.0,
}
LAMBDA_MEMORY_GB = 0.5
LAMBDA_BILLED_SECONDS = 0.1

_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")
_TRANSACTIONAL = ("TransactWriteItems", "TransactGetItems")


def _service(environ: dict) -> str:
    found = _CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    return found.group(1) if found else "unknown"


def _access_key(environ: dict) -> str:
    found = re.search(r"Credential=([^/]+)/", environ.get("HTTP_AUTHORIZATION", ""))
    return found.group(1) if found else ""


def _read_body(environ: dict) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _operation(environ: dict, body: bytes) -> str:
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return target.rsplit(".", 1)[-1]
    if b"Action=" in body:
        from urllib.parse import parse_qs

        return parse_qs(body.decode("utf-8", "replace")).get("Action", ["?"])[0]
    return f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO', '')}"


class DynamoPricing:
    """Request units of one DynamoDB call, from moto's own tables (read inside the server's lock)."""

    def __init__(self, account: str, region: str):
        from moto.dynamodb.models import dynamodb_backends

        self.backend = dynamodb_backends[account][region]

    # --- writes -------------------------------------------------------------------------------------

    def write_targets(self, op: str, request: dict) -> list[tuple[str, dict]]:
        """(table, key) of every item the call writes or checks."""
        if op == "PutItem":
            return [(request["TableName"], self._key_of(request["TableName"], request["Item"]))]
        if op in ("UpdateItem", "DeleteItem"):
            return [(request["TableName"], request["Key"])]
        if op == "TransactWriteItems":
            out = []
            for entry in request.get("TransactItems", []):
                (kind, spec), = entry.items()
                key = spec["Item"] if kind == "Put" else spec["Key"]
                out.append((spec["TableName"], self._key_of(spec["TableName"], key)))
            return out
        if op == "BatchWriteItem":
            out = []
            for table, writes in request.get("RequestItems", {}).items():
                for w in writes:
                    item = w.get("PutRequest", {}).get("Item") or w.get("DeleteRequest", {}).get("Key")
                    out.append((table, self._key_of(table, item)))
            return out
        return []

    def snapshot(self, targets: list[tuple[str, dict]]) -> list[Any]:
        import copy

        return [copy.deepcopy(self._item(table, key)) for table, key in targets]

    def write_units(self, op: str, targets, before, after) -> Counter:
        """WRU per table (and per `table/index` for GSI copies)."""
        units: Counter = Counter()
        factor = 2 if op in _TRANSACTIONAL else 1
        for (table_name, _), old, new in zip(targets, before, after):
            size = max(_size(old), _size(new))
            units[table_name] += factor * max(1, math.ceil(size / 1024))
            table = self.backend.get_table(table_name)
            for index in table.global_indexes:
                writes = _index_writes(index, old, new)
                if writes:
                    projected = max(_projected_size(index, old), _projected_size(index, new))
                    units[f"{table_name}/{index.name}"] += factor * writes * max(1, math.ceil((projected + 100) / 1024))
        return units

    # --- reads --------------------------------------------------------------------------------------

    def read_units(self, op: str, request: dict, response: dict) -> Counter:
        units: Counter = Counter()
        if op == "GetItem":
            item = response.get("Item")
            units[request["TableName"]] += _rru(_json_size(item) if item else 0, request.get("ConsistentRead"))
        elif op == "BatchGetItem":
            for table, items in response.get("Responses", {}).items():
                consistent = request["RequestItems"].get(table, {}).get("ConsistentRead")
                for item in items:
                    units[table] += _rru(_json_size(item), consistent)
        elif op == "TransactGetItems":
            for entry, got in zip(request.get("TransactItems", []), response.get("Responses", [])):
                units[entry["Get"]["TableName"]] += 2 * _rru(_json_size(got.get("Item") or {}), True)
        elif op in ("Query", "Scan"):
            size = sum(_json_size(item) for item in response.get("Items", []))
            name = request["TableName"] + (f"/{request['IndexName']}" if request.get("IndexName") else "")
            units[name] += _rru(size, request.get("ConsistentRead"))
        return units

    # --- helpers ------------------------------------------------------------------------------------

    def _key_of(self, table_name: str, item: dict) -> dict:
        table = self.backend.get_table(table_name)
        names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
        return {n: item[n] for n in names if n in item}

    def _item(self, table_name: str, key: dict):
        from moto.dynamodb.models.dynamo_type import DynamoType

        table = self.backend.get_table(table_name)
        hash_key = DynamoType(key[table.hash_key_attr])
        range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        try:
            return table.get_item(hash_key, range_key)
        except Exception:  # noqa: BLE001 — a key moto cannot look up: counted as a new item
            return None


def _size(item) -> int:
    return item.size() if item is not None else 0


def _rru(size: int, consistent: bool | None) -> float:
    return max(1, math.ceil(size / 4096)) * (1.0 if consistent else 0.5)


def _json_size(item: dict) -> int:
    from moto.dynamodb.models.dynamo_type import DynamoType

    return sum(len(k.encode()) + DynamoType(v).size() for k, v in item.items())


def _index_key(index, item):
    if item is None:
        return None
    values = []
    for part in index.schema:
        value = item.attrs.get(part["AttributeName"])
        if value is None:
            return None
        values.append(json.dumps(value.to_json(), sort_keys=True))
    return tuple(values)


def _projected(index, item):
    if item is None or _index_key(index, item) is None:
        return None
    return json.dumps(index.project(item).to_json(), sort_keys=True, default=str)


def _projected_size(index, item) -> int:
    if item is None or _index_key(index, item) is None:
        return 0
    return index.project(item).size()


def _index_writes(index, old, new) -> int:
    """Writes to a GSI: a put for a new entry, a delete for a gone one, both when its key changes, one
    when only its projected attributes change, none when its copy is the same."""
    old_key, new_key = _index_key(index, old), _index_key(index, new)
    if old_key is None and new_key is None:
        return 0
    if old_key is None or new_key is None:
        return 1
    if old_key != new_key:
        return 2
    return 0 if _projected(index, old) == _projected(index, new) else 1


class AwsMeter:
    """WSGI middleware for the emulated AWS: counts calls and DynamoDB request units while `enabled`."""

    def __init__(self, account: str, region: str):
        self.dynamo = DynamoPricing(account, region)
        self.calls: Counter = Counter()
        self.wru: Counter = Counter()
        self.rru: Counter = Counter()
        self.enabled = False
        self.skip_access_key = ""
        self._lock = threading.Lock()

    def wrap(self, app: Callable) -> Callable:
        def metered(environ: dict, start_response: Callable) -> Iterable[bytes]:
            if not self.enabled or (self.skip_access_key and _access_key(environ) == self.skip_access_key):
                return app(environ, start_response)
            service = _service(environ)
            body = _read_body(environ)
            op = _operation(environ, body)
            request = _json(body) if service == "dynamodb" else {}
            targets = before = None
            if service == "dynamodb":
                targets = self.dynamo.write_targets(op, request)
                before = self.dynamo.snapshot(targets)
            status: dict[str, str] = {}

            def capture(code: str, headers: list, exc_info: Any = None):
                status["code"] = code
                return start_response(code, headers, exc_info)

            chunks = list(app(environ, capture))
            payload = b"".join(chunks)
            self._count(service, op, request, payload, targets, before)
            return [payload]

        return metered

    def _count(self, service, op, request, payload, targets, before) -> None:
        if service == "lambda":
            return  # counted where the local stack dispatches the invocation
        if service == "sqs" and op == "ReceiveMessage" and b'"Messages"' not in payload and b"<Message>" not in payload:
            return  # an empty poll: the event source mapping's cost, not the order's
        with self._lock:
            self.calls[(service, op)] += 1
        if service != "dynamodb":
            return
        units = self.dynamo.write_units(op, targets, before, self.dynamo.snapshot(targets)) if targets else Counter()
        reads = self.dynamo.read_units(op, request, _json(payload))
        with self._lock:
            self.wru.update(units)
            self.rru.update(reads)

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.wru.clear()
            self.rru.clear()


def _json(body: bytes) -> dict:
    try:
        value = json.loads(body or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


@contextmanager
def metering(stack) -> Iterable[tuple[AwsMeter, Counter]]:
    """Installs the meter in the stack's emulated AWS and counts Lambda dispatches by function."""
    from local import infra, runtime

    meter = AwsMeter(infra.ACCOUNT_ID if hasattr(infra, "ACCOUNT_ID") else "123456789012", infra.REGION)
    serialized = stack._moto._server.app  # SerializedApp: the meter runs inside its lock
    inner = serialized.app
    serialized.app = meter.wrap(inner)
    invocations: Counter = Counter()
    real_invoke = runtime.invoke

    def counting_invoke(app, stage, function, event):
        if meter.enabled:
            name = function.split(":function:", 1)[-1].split(":", 1)[0].removeprefix(f"shelf-{stage}-")
            invocations[name] += 1
        return real_invoke(app, stage, function, event)

    try:
        with mock.patch.object(runtime, "invoke", counting_invoke):
            yield meter, invocations
    finally:
        serialized.app = inner


def price(per_order: dict) -> dict[str, float]:
    """Dollars per 1M orders, by service, from per-order counts."""
    lambda_each = PRICES["Lambda request"] + LAMBDA_MEMORY_GB * LAMBDA_BILLED_SECONDS * PRICES["Lambda GB-second"]
    calls = per_order["aws_calls"]
    sqs = sum(n for (service, _), n in calls.items() if service == "sqs")
    kms = sum(n for (service, _), n in calls.items() if service == "kms")
    per_service = {
        "Step Functions": per_order["state_transitions"] * PRICES["Step Functions state transition"],
        "DynamoDB writes (tables)": per_order["wru_table"] * PRICES["DynamoDB write request unit"],
        "DynamoDB writes (indexes)": per_order["wru_index"] * PRICES["DynamoDB write request unit"],
        "DynamoDB reads": per_order["rru"] * PRICES["DynamoDB read request unit"],
        "API Gateway": per_order["api_requests"] * PRICES["API Gateway (REST) request"],
        "Lambda": per_order["lambda_invocations"] * lambda_each,
        "SQS": sqs * PRICES["SQS request (64 KiB)"],
        "KMS": kms * PRICES["KMS request"],
    }
    return {k: round(v * 1e6, 2) for k, v in per_service.items()}


# --- real orders on the local stack ------------------------------------------------------------------

OBSERVER_KEY = "benchobserver"  # calls signed with this key are the benchmark's own polling: not counted
ADMIN_KEY = "sk_bench_" + "c" * 24
EVENTS = ["order.created", "order.paid", "order.shipped", "order.canceled", "order.refunded"]


def _observer(stack, service: str):
    import boto3

    from local import infra

    return boto3.client(service, endpoint_url=stack.moto_url, region_name=infra.REGION,
                        aws_access_key_id=OBSERVER_KEY, aws_secret_access_key="x")


class _CountingApi:
    """The storefront's and the merchant's calls to the API, counted (each is an API Gateway request and a
    Lambda invocation)."""

    def __init__(self):
        self.requests = 0

    def post(self, url: str, **kwargs):
        import requests

        self.requests += 1
        return requests.post(url, **kwargs)


def happy_orders(n: int = 10, *, with_endpoint: bool = False) -> dict:
    """Places, pays and ships `n` orders one after another, as a storefront, Stripe and a warehouse would,
    and returns what one order cost on average."""
    import requests

    from chalicelib import config
    from local import LocalStack
    from tests.e2e.workflow_helpers import Receiver, eventually
    from tools.webhook import sign, stripe_event

    stack = LocalStack(port=0, stage="cost", banner=False,
                       env={"SHELF_SEED_DEMO": "0", "SHELF_ADMIN_API_KEY": ADMIN_KEY,
                            "SHELF_LOCAL_SCHEDULE_SECONDS": "0", "POWERTOOLS_LOG_LEVEL": "WARNING"},
                       parameters={"RetryIntervalSeconds": "1"}).start()
    receiver = Receiver() if with_endpoint else None
    try:
        base, admin = stack.url, {"Authorization": f"Bearer {ADMIN_KEY}"}
        requests.post(f"{base}/admin/products", headers=admin, timeout=30, json={
            "title": "Cost", "status": "active",
            "variants": [{"sku": "COST-1", "title": "one", "price": {"amount": 2500, "currency": "USD"}}]}
        ).raise_for_status()
        requests.put(f"{base}/admin/inventory/COST-1", json={"on_hand": 100_000}, headers=admin, timeout=30)
        if receiver:
            requests.post(f"{base}/admin/webhook-endpoints", headers=admin, timeout=30,
                          json={"url": receiver.url, "events": EVENTS}).raise_for_status()
        dynamo, sfn = _observer(stack, "dynamodb"), _observer(stack, "stepfunctions")
        orders_table = config.table("orders")

        def status(order_id: str) -> str:
            item = dynamo.get_item(TableName=orders_table, Key={"order_id": {"S": order_id}}).get("Item") or {}
            return item.get("status", {}).get("S", "")

        address = {"name": "C", "line1": "1 St", "city": "C", "postal_code": "1", "country": "US"}
        api = _CountingApi()
        with metering(stack) as (meter, invocations):
            meter.skip_access_key = OBSERVER_KEY
            meter.enabled = True
            order_ids = []
            for i in range(n):
                # A storefront that knows the first line makes the cart with it: one call, one write.
                made = api.post(f"{base}/carts", json={"items": [{"sku": "COST-1", "quantity": 1}]}, timeout=30)
                made.raise_for_status()
                cart = made.json()["id"]
                placed = api.post(f"{base}/carts/{cart}/checkout", headers={"Idempotency-Key": f"c{i}"},
                                       json={"email": "c@example.com", "shipping_address": address}, timeout=30)
                placed.raise_for_status()
                order = placed.json()["order"]
                body = json.dumps(stripe_event("payment_intent.succeeded", order)).encode()
                api.post(f"{base}/webhooks/stripe", data=body, timeout=30, headers={
                    "Content-Type": "application/json", "Stripe-Signature": sign("whsec_local_dev", body)}
                ).raise_for_status()
                eventually(lambda: status(order["id"]) == "paid", timeout=60, what="paid")
                shipped = {"id": f"evt_cost{i}", "type": "fulfillment.shipped",
                           "data": {"order_id": order["id"], "carrier": "UPS", "tracking_number": f"1Z{i}"}}
                body = json.dumps(shipped).encode()
                api.post(f"{base}/webhooks/merchant", data=body, timeout=30, headers={
                    "Content-Type": "application/json", "Shelf-Signature": sign("shelf_local_dev", body)}
                ).raise_for_status()
                eventually(lambda: status(order["id"]) == "shipped", timeout=60, what="shipped")
                order_ids.append(order["id"])
            if receiver:
                eventually(lambda: len(receiver.events()) >= 3 * n, timeout=120, what="webhook deliveries")
            _settle(meter)
            meter.enabled = False
            transitions = 0
            for execution in _executions(sfn, order_ids):
                history = sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]
                transitions += sum(1 for e in history if e["type"].endswith("StateEntered"))
        api_requests = api.requests
        lambda_invocations = api_requests + sum(invocations.values())
        wru_index = sum(v for k, v in meter.wru.items() if "/" in k)
        per_order = {
            "api_requests": api_requests / n,
            "lambda_invocations": lambda_invocations / n,
            "lambda_by_function": {k: v / n for k, v in sorted(invocations.items())},
            "state_transitions": transitions / n,
            "aws_calls": {k: v / n for k, v in meter.calls.items()},
            "wru_table": (sum(meter.wru.values()) - wru_index) / n,
            "wru_index": wru_index / n,
            "rru": sum(meter.rru.values()) / n,
            "wru_by_table": {k: v / n for k, v in sorted(meter.wru.items())},
        }
        return per_order
    finally:
        if receiver:
            receiver.close()
        stack.stop()


def _settle(meter: AwsMeter, quiet_seconds: float = 1.5, timeout: float = 20) -> None:
    """Waits until the emulated AWS has had no counted call for a moment: the last deletes and updates of
    the last order land in the count."""
    import time

    deadline = time.monotonic() + timeout
    last, quiet_since = sum(meter.calls.values()), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = sum(meter.calls.values())
        if now != last:
            last, quiet_since = now, time.monotonic()
        elif time.monotonic() - quiet_since >= quiet_seconds:
            return


def _executions(sfn, order_ids: list[str]) -> list[str]:
    wanted, found = set(order_ids), []
    for machine in sfn.list_state_machines()["stateMachines"]:
        for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=machine["stateMachineArn"]):
            found += [e["executionArn"] for e in page["executions"] if e["name"] in wanted]
    return found


def report(n: int = 10) -> dict:
    out = {}
    for label, with_endpoint in (("happy order", False), ("happy order, one webhook endpoint", True)):
        per_order = happy_orders(n, with_endpoint=with_endpoint)
        dollars = price(per_order)
        out[label] = {
            "cost per 1M orders ($)": round(sum(dollars.values()), 2),
            "by service ($ per 1M orders)": dollars,
            "per order": {
                "API requests": per_order["api_requests"],
                "Lambda invocations": per_order["lambda_invocations"],
                "Lambda invocations by function": per_order["lambda_by_function"],
                "state transitions": per_order["state_transitions"],
                "DynamoDB WRU (tables, indexes)": [round(per_order["wru_table"], 2), round(per_order["wru_index"], 2)],
                "DynamoDB RRU": round(per_order["rru"], 2),
                "DynamoDB WRU by table/index": {k: round(v, 2) for k, v in per_order["wru_by_table"].items()},
                "AWS calls": {f"{s} {op}": round(v, 2) for (s, op), v in sorted(per_order["aws_calls"].items())},
            },
        }
    return out
