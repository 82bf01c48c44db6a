"""The process's one boto3 session and its one client per service (built lazily, shared by PynamoDB
and the adapters), and the Step Functions / SQS adapters."""
from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence

from .. import config
from ..services import ports

_lock = threading.RLock()  # botocore sessions are not thread-safe to create clients from
_sessions: dict[str | None, object] = {}

# PynamoDB's own defaults (pynamodb.settings: 15 s connect, 30 s read, 3 retries on the standard mode, 10
# pooled connections, no client-side validation), so its calls behave as when it built its own client.
_CLIENT_SETTINGS = {
    "dynamodb": {"parameter_validation": False, "connect_timeout": 15, "read_timeout": 30,
                 "max_pool_connections": 10, "retries": {"total_max_attempts": 4, "mode": "standard"}},
}


def session():
    """One boto3 session per process: a session loads botocore's endpoint and service data once, and
    every client built from it shares that. (Keyed by the environment's access key, which in Lambda never
    changes; a local stack or a test that hands the functions other keys gets a session of its own.)"""
    key_id = os.environ.get("AWS_ACCESS_KEY_ID")
    built = _sessions.get(key_id)
    if built is None:
        with _lock:
            built = _sessions.get(key_id)
            if built is None:
                import boto3

                built = _sessions[key_id] = boto3.session.Session()
    return built


_clients: dict[tuple, object] = {}


def client_for(service: str, region: str, endpoint: str | None):
    key = (service, region, endpoint, os.environ.get("AWS_ACCESS_KEY_ID"))
    built = _clients.get(key)
    if built is None:
        from botocore.config import Config

        with _lock:
            built = _clients.get(key)
            if built is None:
                built = _clients[key] = session().client(service, region_name=region, endpoint_url=endpoint,
                                                         config=Config(**_CLIENT_SETTINGS.get(service, {})))
    return built


def reset() -> None:
    """Forget the sessions and their clients (tests count what a fresh process builds)."""
    with _lock:
        _sessions.clear()
        _clients.clear()


def client(service: str):
    """The shared client of `service` for the configured region and endpoint."""
    return client_for(service, config.aws_region(), config.endpoint_url())


def queue_url(name: str) -> str:
    """Queue URLs come from the stack's outputs (SHELF_<NAME>_QUEUE_URL), handed over by the deploy: the
    Lambda role may not look them up."""
    url = config.queue_url(name)
    if not url:
        raise RuntimeError(f"SHELF_{name.upper()}_QUEUE_URL is not set; `make deploy` sets it from the stack")
    return url


def send(queue: str, body: dict, delay_seconds: int = 0) -> None:
    client("sqs").send_message(QueueUrl=queue_url(queue), MessageBody=json.dumps(body), DelaySeconds=delay_seconds)


def state_machine_arn() -> str:
    """The order workflow's ARN, from the stack's outputs (SHELF_ORDER_WORKFLOW_ARN)."""
    arn = config.order_workflow_arn()
    if not arn:
        raise RuntimeError("SHELF_ORDER_WORKFLOW_ARN is not set; `make deploy` sets it from the stack")
    return arn


class StepFunctionsWorkflow(ports.Workflow):
    def request_start(self, order_id: str, *, deliveries: Sequence[ports.Delivery] = ()) -> None:
        body: dict = {"order_id": order_id}
        if deliveries:
            body["deliveries"] = [ports.queue_message(d) for d in deliveries]
        send("checkout", body)

    def start(self, order_id: str, payload: dict) -> None:
        sfn = client("stepfunctions")
        try:
            sfn.start_execution(stateMachineArn=state_machine_arn(), name=order_id, input=json.dumps(payload))
        except sfn.exceptions.ExecutionAlreadyExists:
            pass  # a redelivered message: the order's workflow already runs (or ran)

    def _send(self, call) -> bool:
        sfn = client("stepfunctions")
        try:
            call(sfn)
        except (sfn.exceptions.TaskDoesNotExist, sfn.exceptions.TaskTimedOut, sfn.exceptions.InvalidToken):
            return False
        return True

    def succeed(self, task_token: str, output: dict) -> bool:
        return self._send(lambda sfn: sfn.send_task_success(taskToken=task_token, output=json.dumps(output)))

    def fail(self, task_token: str, error: str, cause: str) -> bool:
        return self._send(lambda sfn: sfn.send_task_failure(taskToken=task_token, error=error[:256],
                                                             cause=cause[:32768]))
