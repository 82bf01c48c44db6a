"""boto3 clients (built lazily, once per endpoint) and the Step Functions / SQS adapters."""
from __future__ import annotations

import json
import threading
from functools import lru_cache

from .. import config
from ..services import ports

_lock = threading.Lock()


@lru_cache(maxsize=16)
def _client(service: str, region: str, endpoint: str | None):
    import boto3

    with _lock:  # boto3's default session is not thread-safe to create clients from
        return boto3.session.Session().client(service, region_name=region, endpoint_url=endpoint)


def client(service: str):
    return _client(service, config.aws_region(), config.endpoint_url())


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
    def request_start(self, order_id: str) -> None:
        send("checkout", {"order_id": order_id})

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
