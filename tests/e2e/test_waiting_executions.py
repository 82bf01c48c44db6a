"""Orders waiting in the workflow hold no thread: moto's engine would park about three threads per waiting
execution; on the local stack they are suspended greenlets on a fixed pool of hub threads."""
from __future__ import annotations

import threading

import pytest

from .fixtures import shop_fixture  # noqa: F401
from .test_order_workflow import _placed, _ship, _waiting_for_payment
from .workflow_helpers import eventually, pay, wait_status

WAITING = 24
# The stack's own threads (HTTP server, moto, SQS pollers, hubs) plus slack for requests in flight.
SLACK = 12


def test_threads_do_not_grow_with_the_number_of_waiting_executions(shop, stack):
    before = threading.active_count()
    orders = [_placed(shop, quantity=1, stock=1)[0] for _ in range(WAITING)]
    for order in orders:
        _waiting_for_payment(stack, order["id"])
    # Every execution sits in WaitForPayment, its evaluation suspended, not run by a thread.
    eventually(lambda: stack.executions.pool.suspended() >= WAITING, what="every execution to be suspended")
    assert threading.active_count() <= before + SLACK, [t.name for t in threading.enumerate()]

    # The callbacks resume them: each goes on to wait for its shipment.
    for order in orders[: WAITING // 2]:
        pay(shop, order)
    for order in orders[: WAITING // 2]:
        wait_status(shop, order["id"], "paid", timeout=60)
    assert threading.active_count() <= before + SLACK


def test_an_ended_execution_keeps_what_the_api_reads_and_lets_go_of_the_rest(shop, stack):
    from moto.stepfunctions.parser.backend.execution import Execution

    from local.moto_memory import _Ended

    order = _placed(shop, quantity=1, stock=1)[0]
    pay(shop, order)
    wait_status(shop, order["id"], "paid", timeout=60)
    shipment_token = eventually(lambda: _token(order["id"]), what="the shipment wait")
    _ship(shop, order["id"])
    wait_status(shop, order["id"], "shipped", timeout=60)

    sfn = stack.aws("stepfunctions")
    machine = sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"]
    arn = machine.replace(":stateMachine:", ":execution:") + ":" + order["id"]
    described = eventually(lambda: (lambda d: d if d["status"] == "SUCCEEDED" else None)(
        sfn.describe_execution(executionArn=arn)), what="the execution to end")
    assert '"order_id"' in described["output"] or order["id"] in described["output"]
    events = [e["type"] for e in sfn.get_execution_history(executionArn=arn)["events"]]
    assert events[0] == "ExecutionStarted" and events[-1] == "ExecutionSucceeded" and "TaskSucceeded" in events

    import gc

    ended = [e for e in gc.get_objects() if isinstance(e, Execution) and e.exec_arn == arn]
    assert ended and isinstance(ended[0].exec_worker.env, _Ended)  # the evaluation's states and frames are gone
    # A late callback with the ended task's token is refused, as before.
    with pytest.raises(sfn.exceptions.InvalidToken):
        sfn.send_task_success(taskToken=shipment_token, output="{}")


def _token(order_id):
    from chalicelib import wiring

    order = wiring.context().orders.get(order_id)
    return getattr(order, "shipment_token", None)


def test_an_execution_answers_callbacks_and_stops_before_its_greenlet_first_runs(stack):
    import json
    import time
    import uuid

    sfn = stack.aws("stepfunctions")
    role = sfn.describe_state_machine(
        stateMachineArn=sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"])["roleArn"]
    machine = sfn.create_state_machine(name=f"pause-{uuid.uuid4().hex[:8]}", roleArn=role, definition=json.dumps(
        {"StartAt": "Pause", "States": {"Pause": {"Type": "Wait", "Seconds": 1, "End": True}}}))["stateMachineArn"]
    for hub in stack.executions.pool.hubs:  # every hub busy: a new execution's greenlet cannot run yet
        hub.spawn(lambda: time.sleep(1.5))
    time.sleep(0.1)
    started = sfn.start_execution(stateMachineArn=machine, name="paused")["executionArn"]
    with pytest.raises(sfn.exceptions.InvalidToken):  # was a 500: the execution had no environment yet
        sfn.send_task_success(taskToken="not-a-token", output="{}")
    sfn.stop_execution(executionArn=started)  # was a 500 too; moto's engine lets a program not yet begun run
    eventually(lambda: sfn.describe_execution(executionArn=started)["status"] != "RUNNING", what="the end")
