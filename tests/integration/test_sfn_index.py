"""The local stack finds Step Functions executions and task tokens by key: the same answers and errors as moto's
own scans of every execution, without walking them.

Each behaviour test runs twice, against moto as it is and with the index installed, and expects the same."""
from __future__ import annotations

import json
import time
import uuid
from contextlib import ExitStack
from unittest import mock

import boto3
import pytest
from moto import mock_aws
from moto.core.config import default_user_config

from local.sfn_index import SfnIndex, _Executions

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/sfn"


def _definition(queue_url: str, timeout: int = 3600) -> str:
    """Waits for a task token, which it sends to the queue with the execution's name; a wait that times out
    is caught, and the execution waits again (for a second token)."""

    def wait(next_state=None, timeout=3600):
        state = {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                 "Parameters": {"QueueUrl": queue_url,
                                "MessageBody": {"name.$": "$$.Execution.Name", "token.$": "$$.Task.Token"}},
                 "TimeoutSeconds": timeout}
        if timeout > 60:
            state["HeartbeatSeconds"] = 60
        if next_state:
            state["Catch"] = [{"ErrorEquals": ["States.Timeout"], "Next": next_state}]
        state["End"] = True
        return state

    return json.dumps({"StartAt": "Wait", "States": {"Wait": wait("Again", timeout), "Again": wait()}})


class Sfn:
    def __init__(self):
        self.client = boto3.client("stepfunctions", region_name=REGION)
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.queue = self.sqs.create_queue(QueueName="tokens")["QueueUrl"]
        self.machine = self.create("orders")
        self.tokens: dict[str, list[str]] = {}
        self.started: list = []  # moto's executions, to end them after the test

    def create(self, name: str, timeout: int = 3600) -> str:
        return self.client.create_state_machine(name=name, roleArn=ROLE,
                                                definition=_definition(self.queue, timeout))["stateMachineArn"]

    def start(self, name: str, payload: dict | None = None, machine: str | None = None) -> str:
        arn = self.client.start_execution(stateMachineArn=machine or self.machine, name=name,
                                          input=json.dumps(payload or {"n": name}))["executionArn"]
        self.started.append(_backend().describe_execution(arn))
        return arn

    def token(self, name: str, nth: int = 0, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while len(self.tokens.get(name, ())) <= nth:
            assert time.monotonic() < deadline, f"no token for {name}"
            self._drain()
            time.sleep(0.02)
        return self.tokens[name][nth]

    def _drain(self) -> None:
        while messages := self.sqs.receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10,
                                                   WaitTimeSeconds=0).get("Messages", []):
            for message in messages:
                body = json.loads(message["Body"])
                self.tokens.setdefault(body["name"], []).append(body["token"])
                self.sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=message["ReceiptHandle"])

    def status(self, arn: str, expected: str, timeout: float = 20.0) -> dict:
        deadline = time.monotonic() + timeout
        while (described := self.client.describe_execution(executionArn=arn))["status"] != expected:
            assert time.monotonic() < deadline, described
            time.sleep(0.02)
        return described

    def end_all(self) -> None:
        """Fails every wait of every execution started, so none goes on (and calls out) after moto's mock has
        ended: straight through each callback endpoint, past any lookup a test changed or broke on purpose."""
        from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackOutcomeFailure

        for execution in self.started:
            env = execution.exec_worker.env
            for token, endpoint in list(env.callback_pool_manager._pool.items()) if env is not None else ():
                endpoint.notify(CallbackOutcomeFailure(callback_id=token, error="TestOver", cause=None))

    def error(self, call, **kwargs) -> str:
        with pytest.raises(self.client.exceptions.ClientError) as raised:
            call(**kwargs)
        return raised.value.response["Error"]["Code"]


@pytest.fixture(params=["moto", "indexed"])
def sfn(request, monkeypatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with ExitStack() as patches:
        patches.enter_context(mock.patch.dict(default_user_config, {"stepfunctions": {"execute_state_machine": True}}))
        patches.enter_context(mock_aws())
        if request.param == "indexed":
            SfnIndex().install(patches)
        sfn = Sfn()
        yield sfn
        sfn.end_all()


def _backend():
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    return stepfunctions_parser_backends["123456789012"][REGION]


def _endpoint(token: str):
    for machine in _backend().state_machines:
        for execution in machine.executions:
            endpoint = execution.exec_worker.env.callback_pool_manager.get(token)
            if endpoint is not None:
                return endpoint
    raise AssertionError("no endpoint")


def test_start_execution_answers_a_repeated_name_as_moto_does(sfn):
    arn = sfn.start("o1")
    sfn.token("o1")
    other = sfn.start("o2")
    # the same name and input while it runs: the execution already started
    assert sfn.start("o1") == arn
    assert sfn.error(sfn.start, name="o1", payload={"other": "input"}) == "ExecutionAlreadyExists"
    # the same name on another state machine is another execution
    second = sfn.create("returns")
    assert sfn.start("o1", machine=second) == arn.replace(":orders:", ":returns:")

    sfn.client.send_task_success(taskToken=sfn.token("o1"), output="{}")
    sfn.status(arn, "SUCCEEDED")
    # once it has ended, even the same input is refused
    assert sfn.error(sfn.start, name="o1") == "ExecutionAlreadyExists"
    assert sfn.start("o2") == other


def test_describe_history_and_stop_find_the_execution_or_say_it_does_not_exist(sfn):
    arns = {name: sfn.start(name) for name in ("a", "b", "c")}
    for name, arn in arns.items():
        sfn.token(name)
        described = sfn.client.describe_execution(executionArn=arn)
        assert (described["name"], described["status"], json.loads(described["input"])) == (name, "RUNNING",
                                                                                             {"n": name})
        events = sfn.client.get_execution_history(executionArn=arn)["events"]
        assert events[0]["type"] == "ExecutionStarted"

    missing = arns["a"][: -len("a")] + "nope"
    unknown_machine = arns["a"].replace(":orders:", ":nomachine:")
    for arn in (missing, unknown_machine):
        for call in (sfn.client.describe_execution, sfn.client.get_execution_history, sfn.client.stop_execution):
            assert sfn.error(call, executionArn=arn) == "ExecutionDoesNotExist"
    assert sfn.error(sfn.client.describe_execution, executionArn="arn:aws:states:nope") == "InvalidArn"

    sfn.client.stop_execution(executionArn=arns["b"])
    # moto ends a stopped execution once its wait is over
    sfn.client.send_task_success(taskToken=sfn.token("b"), output="{}")
    assert sfn.status(arns["b"], "ABORTED")["stopDate"]
    assert sfn.client.describe_execution(executionArn=arns["c"])["status"] == "RUNNING"


def test_task_tokens_reach_their_own_execution_and_bad_ones_are_refused(sfn):
    arns = {name: sfn.start(name) for name in ("p", "q", "r")}
    tokens = {name: sfn.token(name) for name in arns}

    sfn.client.send_task_heartbeat(taskToken=tokens["q"])
    sfn.client.send_task_success(taskToken=tokens["q"], output=json.dumps({"paid": "q"}))
    assert json.loads(sfn.status(arns["q"], "SUCCEEDED")["output"]) == {"paid": "q"}
    sfn.client.send_task_failure(taskToken=tokens["r"], error="Declined", cause="card")
    assert sfn.status(arns["r"], "FAILED")["error"] == "Declined"
    assert sfn.client.describe_execution(executionArn=arns["p"])["status"] == "RUNNING"

    for token in (tokens["q"], "no-such-token"):  # success and heartbeat ask running executions only
        assert sfn.error(sfn.client.send_task_success, taskToken=token, output="{}") == "InvalidToken"
        assert sfn.error(sfn.client.send_task_heartbeat, taskToken=token) == "InvalidToken"
    assert sfn.error(sfn.client.send_task_failure, taskToken="no-such-token") == "InvalidToken"
    sfn.client.send_task_failure(taskToken=tokens["q"])  # failure asks ended executions too, and moto accepts it

    # A wait whose consumer reported an error (moto's engine never reports one itself): moto's answer is to
    # raise TaskTimedOut or TaskDoesNotExist, which in moto 5.2.5 fails on their missing message argument.
    from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackConsumerTimeout

    _endpoint(tokens["p"]).report(CallbackConsumerTimeout())
    for call, kwargs in ((sfn.client.send_task_success, {"output": "{}"}), (sfn.client.send_task_heartbeat, {}),
                         (sfn.client.send_task_failure, {})):
        with pytest.raises(TypeError, match="message"):
            call(taskToken=tokens["p"], **kwargs)


def test_a_token_of_a_wait_that_timed_out_and_was_caught_is_accepted_by_the_running_execution(sfn):
    machine = sfn.create("short", timeout=1)
    arn = sfn.start("t", machine=machine)
    first, second = sfn.token("t"), sfn.token("t", nth=1)  # the first wait timed out, the catch waits again
    sfn.client.send_task_success(taskToken=first, output="{}")  # moto accepts it: the execution still runs
    sfn.client.send_task_success(taskToken=second, output=json.dumps({"done": True}))
    assert json.loads(sfn.status(arn, "SUCCEEDED")["output"]) == {"done": True}


def test_a_state_machine_created_after_deletion_of_its_namesake_does_not_see_its_executions(sfn):
    arn = sfn.start("d")
    token = sfn.token("d")
    sfn.client.delete_state_machine(stateMachineArn=sfn.machine)
    sfn.machine = sfn.create("orders")
    assert sfn.error(sfn.client.describe_execution, executionArn=arn) == "ExecutionDoesNotExist"
    assert sfn.error(sfn.client.send_task_success, taskToken=token, output="{}") == "InvalidToken"
    assert sfn.start("d") == arn  # a new execution, under the same name


class _Unwalkable(_Executions):
    guard = False

    def __iter__(self):
        if self.guard:
            raise AssertionError("a lookup walked the executions")
        return super().__iter__()


@pytest.fixture(params=["threads", "greenlets"])
def engine(request):
    """moto's engine as it is, or run by the local stack's hubs (which make an execution's environment before
    StartExecution answers)."""
    if request.param == "threads":
        yield None
        return
    from local.green_sfn import GreenExecutions

    executions = GreenExecutions(hubs=2)
    executions.install()
    yield executions
    executions.uninstall()


@pytest.mark.parametrize("sfn", ["indexed"], indirect=True)  # moto as it is walks them
def test_lookups_do_not_walk_the_executions(sfn, engine):
    arns = {name: sfn.start(name) for name in (f"w{i}" for i in range(12))}
    tokens = {name: sfn.token(name) for name in arns}
    consulted = []
    from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackPoolManager

    notify = CallbackPoolManager.notify

    def spy(pool, callback_id, outcome):
        consulted.append(pool)
        return notify(pool, callback_id, outcome)

    (machine,) = _backend().state_machines
    machine.executions = guarded = _Unwalkable(machine.executions)
    guarded.guard = True
    with mock.patch.object(CallbackPoolManager, "notify", spy):
        last = list(arns)[-1]
        sfn.client.send_task_success(taskToken=tokens[last], output="{}")
        assert consulted == [_endpoint_pool(machine, arns[last])]
        sfn.client.send_task_heartbeat(taskToken=tokens["w0"])
        sfn.client.send_task_failure(taskToken=tokens["w1"], error="E")
        assert len(consulted) == 2
        assert sfn.client.describe_execution(executionArn=arns["w3"])["name"] == "w3"
        assert sfn.client.get_execution_history(executionArn=arns["w3"])["events"]
        assert sfn.start("w4") == arns["w4"]
        assert sfn.error(sfn.start, name="w4", payload={"x": 1}) == "ExecutionAlreadyExists"
        new = sfn.start(f"n{uuid.uuid4().hex[:6]}")
        sfn.client.stop_execution(executionArn=arns["w5"])
    assert new.startswith(sfn.machine.replace(":stateMachine:", ":execution:"))
    guarded.guard = False
    sfn.status(arns[last], "SUCCEEDED")
    sfn.status(arns["w1"], "FAILED")
    sfn.client.send_task_success(taskToken=tokens["w5"], output="{}")
    sfn.status(arns["w5"], "ABORTED")


def _endpoint_pool(machine, arn):
    return machine.executions.by_arn[arn].exec_worker.env.callback_pool_manager
