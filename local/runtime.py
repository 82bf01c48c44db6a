"""What Lambda's service does for Shelf in AWS, done in-process for the local stack:

- `LambdaDispatcher` answers moto's Lambda `Invoke` (which Step Functions Task states call) by running the
  Chalice app's own `@lambda_function`, mapping a raised exception to a function error whose type is the
  exception's class name, as AWS does, so the state machine's Retry and Catch see the same errors.
- `SqsPoller` delivers each queue's messages to the function that consumes it in AWS, as declared by the
  event source mappings in infra/events.yaml, with the SQS event shape, and deletes only the messages the
  function did not report as failed (ReportBatchItemFailures). Failed ones come back after their
  visibility timeout and end in the dead-letter queue after maxReceiveCount deliveries, as in AWS.
"""
from __future__ import annotations

import json
import logging
import threading
import time
import traceback
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import boto3

from . import infra

log = logging.getLogger("shelf.local")


class LambdaContext:
    """The attributes of a Lambda context object that Shelf and Powertools read."""

    def __init__(self, function_name: str, timeout_seconds: int = 60):
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 512
        self.invoked_function_arn = f"arn:aws:lambda:{infra.REGION}:123456789012:function:{function_name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(int((self._deadline - time.monotonic()) * 1000), 0)


def _functions(app: Any) -> dict[str, Any]:
    return {f.name: f for f in app.pure_lambda_functions}


def invoke(app: Any, stage: str, function: str, event: Any) -> Any:
    """Runs the app's function named `function` (short name, or shelf-<stage>-<name>, or its ARN)."""
    name = function.split(":function:", 1)[-1].split(":", 1)[0]
    short = name.removeprefix(f"shelf-{stage}-")
    target = _functions(app).get(short)
    if target is None:
        raise LookupError(f"no function {short!r} in the app")
    return handler(target.handler_string)(event, LambdaContext(name))


def handler(handler_string: str) -> Any:
    """What Lambda runs for a function: the module attribute its handler setting names (Chalice's
    wrapper, which applies the app's middleware), not the bare function."""
    import importlib

    module, _, attribute = handler_string.rpartition(".")
    return getattr(importlib.import_module(module), attribute)


class LambdaDispatcher:
    def __init__(self, app: Any, stage: str):
        self.app = app
        self.stage = stage
        self._patch: Any = None

    def install(self) -> None:
        from moto.awslambda_simple.models import LambdaSimpleBackend

        dispatcher = self

        def dispatch(backend, function_name, qualifier, body, headers, response_headers):
            return dispatcher.handle(function_name, body, response_headers)

        self._patch = mock.patch.object(LambdaSimpleBackend, "invoke", dispatch)
        self._patch.start()

    def uninstall(self) -> None:
        if self._patch is not None:
            self._patch.stop()
            self._patch = None

    def handle(self, function_name: str, body: Any, response_headers: dict) -> bytes:
        try:
            event = json.loads(body or "{}")
            result = invoke(self.app, self.stage, function_name, event)
            return json.dumps(result).encode()
        except Exception as exc:  # a function error, as Lambda reports it: the caller decides what it means
            log.info("function %s raised %s: %s", function_name, type(exc).__name__, exc)
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc),
                               "stackTrace": traceback.format_exception(exc)[-5:]}).encode()


@dataclass(frozen=True)
class Mapping:
    queue_name: str
    function: str
    batch_size: int


def event_source_mappings(stage: str, path: Path | None = None) -> list[Mapping]:
    """The SQS -> function mappings infra/events.yaml declares, with ${Stage} filled in."""
    template = infra.load_template(path or infra.REPO_ROOT / "infra" / "events.yaml")
    found = []
    for resource in (template.get("Resources") or {}).values():
        if resource.get("Type") != "AWS::Lambda::EventSourceMapping":
            continue
        props = resource["Properties"]
        arn = _sub(props["EventSourceArn"], stage)
        found.append(Mapping(queue_name=arn.rsplit(":", 1)[-1], function=_sub(props["FunctionName"], stage),
                             batch_size=int(props.get("BatchSize", 10))))
    return found


def _sub(value: Any, stage: str) -> str:
    text = value["Fn::Sub"] if isinstance(value, dict) else value
    return (text.replace("${Stage}", stage).replace("${AWS::Region}", infra.REGION)
            .replace("${AWS::AccountId}", "123456789012"))


class SqsPoller:
    def __init__(self, app: Any, stage: str, *, wait_seconds: int = 1,
                 setup_session: boto3.session.Session | None = None):
        self.app = app
        self.stage = stage
        # Finding the queues is set-up (Lambda knows a mapping's queue); polling runs as the function's role.
        self.setup_session = setup_session
        self.wait_seconds = wait_seconds
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        sqs = (self.setup_session or boto3.session.Session()).client("sqs")
        for mapping in event_source_mappings(self.stage):
            url = sqs.get_queue_url(QueueName=mapping.queue_name)["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            thread = threading.Thread(target=self._run, args=(mapping, url, arn), daemon=True,
                                      name=f"sqs-{mapping.queue_name}")
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads.clear()

    def _run(self, mapping: Mapping, url: str, arn: str) -> None:
        sqs = boto3.client("sqs")
        while not self._stop.is_set():
            try:
                self.poll_once(sqs, mapping, url, arn)
            except Exception:  # keep polling: a broken batch must not stop delivery of the next
                log.exception("polling %s failed", mapping.queue_name)
                self._stop.wait(1)

    def poll_once(self, sqs, mapping: Mapping, url: str, arn: str) -> int:
        received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=min(mapping.batch_size, 10),
                                       WaitTimeSeconds=self.wait_seconds, AttributeNames=["All"],
                                       MessageAttributeNames=["All"]).get("Messages", [])
        if not received:
            return 0
        event = {"Records": [_record(message, arn) for message in received]}
        try:
            response = invoke(self.app, self.stage, mapping.function, event) or {}
            failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
        except Exception:
            log.exception("%s raised: the whole batch will be delivered again", mapping.function)
            return len(received)
        done = [m for m in received if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            sqs.delete_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done[start:start + 10])])
        return len(received)


def _record(message: dict, arn: str) -> dict:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": message.get("MessageAttributes", {}),
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": arn,
        "awsRegion": infra.REGION,
    }


class Scheduler:
    """Runs the app's scheduled functions (CloudWatch Events rules in AWS) every `every` seconds."""

    def __init__(self, app: Any, every: float):
        self.app = app
        self.every = every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.every <= 0:
            return
        self._thread = threading.Thread(target=self._run, daemon=True, name="shelf-schedule")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def run_once(self) -> None:
        import importlib

        for source in self.app.event_sources:
            if not hasattr(source, "schedule_expression"):
                continue
            module, _, attr = source.handler_string.rpartition(".")
            try:
                handler = getattr(importlib.import_module(module), attr)
                handler({"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event",
                         "source": "aws.events", "account": "123456789012",
                         "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "region": infra.REGION,
                         "resources": [f"arn:aws:events:{infra.REGION}:123456789012:rule/{source.name}"],
                         "detail": {}}, LambdaContext(source.name))
            except Exception:
                log.exception("scheduled function %s failed", source.name)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.run_once()


@dataclass(frozen=True)
class GatewayResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def gateway_responses(path: Path | None = None) -> dict[str, GatewayResponse]:
    """The API Gateway responses infra/events.yaml declares, by type, for the local server to answer
    the same way (static header values only; `context.requestId` becomes a fresh id)."""
    template = infra.load_template(path or infra.REPO_ROOT / "infra" / "events.yaml")
    found = {}
    for resource in (template.get("Resources") or {}).values():
        if resource.get("Type") != "AWS::ApiGateway::GatewayResponse":
            continue
        props = resource["Properties"]
        headers = {}
        for name, value in (props.get("ResponseParameters") or {}).items():
            header = name.removeprefix("gatewayresponse.header.")
            headers[header] = value.strip("'") if value.startswith("'") else "req_" + uuid.uuid4().hex
        body = (props.get("ResponseTemplates") or {}).get("application/json", "").encode()
        found[props["ResponseType"]] = GatewayResponse(int(props["StatusCode"]), headers, body)
    return found
