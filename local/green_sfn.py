"""Runs moto's Step Functions executions on a few threads, however many executions wait.

moto's interpreter runs each execution on a thread of its own, evaluates the program on a second and each
Task state on a third, and a `.waitForTaskToken` Task parks that third thread on an Event until the callback
or the timeout: about three threads per waiting order, for as long as it waits (30 minutes for a payment,
days for a shipment). A long `make run` grew to thousands of threads.

Here moto's interpreter is left as it is, and only the primitives its engine modules block on are swapped
(`Thread`, `Event`, `time.sleep`) for cooperative ones: an execution runs as a greenlet on one of a fixed
pool of hub threads, and where moto would block a thread (joining its worker, waiting for a task token,
sleeping between retries, a Wait state) the greenlet is suspended and its hub runs other executions. A
`SendTaskSuccess`/`SendTaskFailure` (served on moto's request thread) or the timeout resumes it. Anything
outside those modules, or called outside a hub, gets the ordinary blocking behaviour. Where moto starts a
thread only to wait for it at once (the program's body, each state), the target runs inline
(`InlineThread`), so a waiting execution is one suspended greenlet and one frame stack, not three.

Limits: a Task state's `TimeoutSeconds` is enforced while it waits (for a token, a retry, a Wait), not in the
middle of a Lambda call, which runs to its end on the hub. Parallel and Map states (not in Shelf's
definitions) still start real threads and would block their hub while their branches run.
"""
from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from contextlib import ExitStack
from functools import lru_cache
from importlib import import_module
from unittest import mock

import greenlet

from .moto_memory import Discard

log = logging.getLogger("shelf.local.stepfunctions")

_PARSER = "moto.stepfunctions.parser."
# module -> the names in it that the engine blocks on (and the list where moto keeps every thread it made)
_PATCHED = {
    "backend.execution_worker": ("Thread", "TMP_THREADS"),
    "asl.component.program.program": ("threading", "TMP_THREADS"),  # inline (InlineThread)
    "asl.component.state.exec.execute_state": ("Thread", "threading", "TMP_THREADS"),  # inline
    "asl.component.state.exec.state_task.service.state_task_service_callback": ("threading", "time",
                                                                                "TMP_THREADS"),
    "asl.component.common.retry.retrier_decl": ("time",),
    "asl.eval.callback.callback": ("Event",),
    "asl.eval.environment": ("threading",),
}

_INLINED = ("asl.component.program.program", "asl.component.state.exec.execute_state")

_local = threading.local()


class _Park:
    """One suspension of one greenlet: resumed once, by whichever comes first of a wake-up and its timeout."""

    __slots__ = ("glet", "args", "done")

    def __init__(self, glet, args=()):
        self.glet, self.args, self.done = glet, args, False


class Hub:
    """A thread that runs greenlets until each suspends, and resumes them when woken or timed out."""

    def __init__(self, name: str):
        self._cond = threading.Condition()
        self._ready: list[_Park] = []
        self._timers: list[tuple[float, int, _Park]] = []
        self._seq = itertools.count()
        self._stopped = False
        self.main = None
        self.suspended = 0
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()

    def spawn(self, fn) -> None:
        self._push(_Park(None, (fn,)))  # the greenlet is made on the hub's thread: greenlets never migrate

    def _push(self, park: _Park, *args) -> None:
        with self._cond:
            if park.done:
                return
            park.done, park.args = True, args or park.args
            self._ready.append(park)
            self._cond.notify()

    def wake(self, park: _Park) -> None:
        self._push(park, True)

    def suspend(self, park: _Park, timeout: float | None) -> bool:
        """Suspends the calling greenlet (running on this hub) until `wake(park)` (True) or the timeout (False).
        When the greenlet runs an inline child (InlineThread) whose parent's wait runs out first, the child
        is unwound from here (`_ParentGaveUp`)."""
        scope = _nearest_deadline()
        if scope is not None and (timeout is None or scope.at - time.monotonic() < timeout):
            if not self._suspend(park, max(scope.at - time.monotonic(), 0)):
                raise _ParentGaveUp(scope)
            return True
        return self._suspend(park, timeout)

    def _suspend(self, park: _Park, timeout: float | None) -> bool:
        if timeout is not None:
            with self._cond:
                if len(self._timers) > 1024 and len(self._timers) > 2 * self.suspended:
                    # Entries of parks already resumed (moto puts a huge timeout on every state) leave the
                    # heap only at its top; drop them all now and then so the heap stays as small as the waits.
                    self._timers = [entry for entry in self._timers if not entry[2].done]
                    heapq.heapify(self._timers)
                heapq.heappush(self._timers, (time.monotonic() + max(timeout, 0), next(self._seq), park))
        self.suspended += 1
        try:
            return self.main.switch()
        finally:
            self.suspended -= 1

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()

    def _due(self) -> float | None:
        """Moves timed-out parks to the ready list; the seconds until the next timeout, if any."""
        now = time.monotonic()
        while self._timers:
            deadline, _, park = self._timers[0]
            if park.done:
                heapq.heappop(self._timers)
            elif deadline <= now:
                heapq.heappop(self._timers)
                park.done, park.args = True, (False,)
                self._ready.append(park)
            else:
                return deadline - now
        return None

    def _run(self) -> None:
        self.main = greenlet.getcurrent()
        _local.hub = self
        while True:
            with self._cond:
                while True:
                    if self._stopped:
                        return
                    delay = self._due()
                    if self._ready:
                        break
                    self._cond.wait(delay)
                ready, self._ready = self._ready, []
            for park in ready:
                glet, args = park.glet, park.args
                park.glet = park.args = None  # a stale timer entry keeps nothing alive
                if glet is None:
                    glet, args = greenlet.greenlet(args[0]), ()
                try:
                    glet.switch(*args)
                except Exception:  # GreenThread logs its own; this is a bug in a hub's caller
                    log.exception("a greenlet on %s failed", self.thread.name)


def current_hub() -> Hub | None:
    """The hub running the calling code, when that code is one of its greenlets."""
    hub = getattr(_local, "hub", None)
    if hub is None or greenlet.getcurrent() is hub.main:
        return None
    return hub


class GreenEvent:
    """threading.Event for code that may run on a hub: a greenlet waiting on it is suspended, not its thread.
    Set from any thread.

    The engine makes several per execution and keeps them for the execution's life, so one is small: a flag,
    a list of parked greenlets only once one waits, and a Condition only once an ordinary thread waits
    (a Condition with its lock and deque was most of what a waiting execution held)."""

    __slots__ = ("_flag", "_parks", "_cond")
    _lock = threading.Lock()  # shared by all: held only to read or flip a flag and swap a list

    def __init__(self):
        self._flag = False
        self._parks: list[tuple[Hub, _Park]] | None = None
        self._cond: threading.Condition | None = None

    def is_set(self) -> bool:
        return self._flag

    isSet = is_set

    def set(self) -> None:
        with self._lock:
            self._flag = True
            parks, self._parks = self._parks, None
            cond = self._cond
        if cond is not None:
            with cond:
                cond.notify_all()
        for hub, park in parks or ():
            hub.wake(park)

    def clear(self) -> None:
        with self._lock:
            self._flag = False

    def wait(self, timeout: float | None = None) -> bool:
        hub = current_hub()
        if hub is None:
            return self._wait_blocking(timeout)
        timeout = _run_inline_children(timeout)
        with self._lock:
            if self._flag:
                return True
            park = _Park(greenlet.getcurrent())
            if self._parks is None:
                self._parks = []
            self._parks.append((hub, park))
        woken = False
        try:
            woken = hub.suspend(park, timeout)
        finally:
            if not woken:
                with self._lock:
                    if self._parks:
                        self._parks = [(h, p) for h, p in self._parks if p is not park] or None
        return woken

    def _wait_blocking(self, timeout: float | None) -> bool:
        with self._lock:
            if self._flag:
                return True
            if self._cond is None:
                self._cond = threading.Condition(threading.Lock())
            cond = self._cond
        deadline = None if timeout is None else time.monotonic() + timeout
        with cond:  # set() notifies under this lock, after flipping the flag: no wake-up is missed
            while not self._flag:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                cond.wait(remaining)
            return True


class GreenThread:
    """threading.Thread for the engine: its target runs as a greenlet, on the starting greenlet's hub (or on
    the pool's next hub when started from an ordinary thread, as StartExecution is)."""

    def __init__(self, group=None, target=None, name=None, args=(), kwargs=None, *, daemon=None):
        self.name, self.daemon = name or "stepfunctions-green", daemon
        self._target, self._args, self._kwargs = target, args, kwargs or {}
        self._done = GreenEvent()
        self._started = False

    def start(self) -> None:
        self._started = True
        hub = current_hub() or _pool().next_hub()
        hub.spawn(self._run)

    def _run(self) -> None:
        try:
            if self._target is not None:
                self._target(*self._args, **self._kwargs)
        except _ParentGaveUp:
            raise  # an inline target its parent stopped waiting for: it never finishes (is_alive() stays True)
        except Exception:
            log.exception("a Step Functions execution's worker failed")
        finally:
            self._target = self._args = self._kwargs = None
        self._done.set()

    def join(self, timeout: float | None = None) -> None:
        self._done.wait(timeout)

    def is_alive(self) -> bool:
        return self._started and not self._done.is_set()


def green_sleep(seconds: float) -> None:
    hub = current_hub()
    if hub is None:
        time.sleep(seconds)
    else:
        seconds = _run_inline_children(seconds)
        hub.suspend(_Park(greenlet.getcurrent()), seconds)


class _Deadline:
    __slots__ = ("at",)

    def __init__(self, at: float):
        self.at = at


class _ParentGaveUp(BaseException):
    """Unwinds an inline child whose parent stopped waiting for it (a BaseException, so that the engine's
    `except Exception` handlers let it through to the runner that set the deadline)."""

    def __init__(self, scope: _Deadline):
        super().__init__()
        self.scope = scope


def _nearest_deadline() -> _Deadline | None:
    scopes = getattr(greenlet.getcurrent(), "shelf_deadlines", None)
    return min(scopes, key=lambda d: d.at) if scopes else None


class InlineThread(GreenThread):
    """threading.Thread for the two places where moto starts a thread only to wait for it at once, with a
    timeout (the program's body, and each state's evaluation): the target runs inline, in the starting
    greenlet, when that greenlet next waits, with the wait's timeout as its deadline. A waiting execution
    is then one suspended greenlet, not three, each with its own frame stack.

    If the deadline comes while the target is suspended (waiting for a task token, sleeping between
    retries), the target is unwound there and the parent's wait times out, as it would have with a thread;
    unlike a thread, the abandoned target does not go on in the background (nor does it in AWS)."""

    def start(self) -> None:
        if current_hub() is None:
            super().start()
            return
        self._started = True
        me = greenlet.getcurrent()
        pending = getattr(me, "shelf_inline", None)
        if pending is None:
            pending = me.shelf_inline = []
        pending.append(self)


def _run_inline_children(timeout: float | None) -> float | None:
    """Runs the calling greenlet's pending inline children within `timeout`; the time left of it."""
    me = greenlet.getcurrent()
    pending = getattr(me, "shelf_inline", None)
    if not pending:
        return timeout
    scope = _Deadline(time.monotonic() + timeout) if timeout is not None else None
    children, me.shelf_inline = pending, None
    if scope is not None:
        scopes = getattr(me, "shelf_deadlines", None)
        if scopes is None:
            scopes = me.shelf_deadlines = []
        scopes.append(scope)
    try:
        for child in children:
            child._run()
    except _ParentGaveUp as gave_up:
        if gave_up.scope is not scope:
            raise  # a deadline further out: its runner unwinds this greenlet further
    finally:
        if scope is not None:
            me.shelf_deadlines.remove(scope)
    return None if scope is None else max(scope.at - time.monotonic(), 0)


class _Module:
    """Stands in for `threading` or `time` in an engine module: the blocking names are the green ones."""

    def __init__(self, real, **overrides):
        self._real, self._overrides = real, overrides

    def __getattr__(self, name):
        return self._overrides.get(name) or getattr(self._real, name)


_GREEN = {
    "Thread": GreenThread,
    "Event": GreenEvent,
    "threading": _Module(threading, Thread=GreenThread, Event=GreenEvent),
    "time": _Module(time, sleep=green_sleep),
    "TMP_THREADS": Discard(),  # moto keeps every thread it starts in a module-level list, forever
}
# Where moto starts a thread and at once waits for it with a timeout, the target runs inline (InlineThread).
_INLINE = {**_GREEN, "Thread": InlineThread, "threading": _Module(threading, Thread=InlineThread, Event=GreenEvent)}


class HubPool:
    def __init__(self, size: int):
        self.hubs = [Hub(f"stepfunctions-hub-{i}") for i in range(size)]
        self._next = itertools.cycle(self.hubs)
        self._lock = threading.Lock()

    def next_hub(self) -> Hub:
        with self._lock:
            return next(self._next)

    def suspended(self) -> int:
        """Greenlets suspended right now (a waiting execution holds one)."""
        return sum(h.suspended for h in self.hubs)

    def stop(self) -> None:
        for hub in self.hubs:
            hub.stop()


_active: HubPool | None = None


@lru_cache(maxsize=32)
def _parse(definition: str):
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    return AmazonStateLanguageParser.parse(definition)[0]


def _parsed_program(worker):
    """moto parses the definition again for every execution (about 0.1 s of CPU and 0.3 MB kept for the
    execution's life). The parsed program holds no evaluation state (moto itself evaluates one parsed Map
    iterator for many items at once), so executions of one definition share it."""
    return _parse(worker._evaluation_details.state_machine_details.definition)


def _started_with_its_environment(start):
    """moto's worker makes its execution's environment only once its thread runs, and a hub may run the
    greenlet a moment after StartExecution has answered RUNNING. In between, SendTaskSuccess/Failure (which
    ask every running execution's environment for the token) and StopExecution failed with a 500 on
    `env` being None. The environment is made here, before StartExecution answers, and the worker takes it."""

    def start_with_environment(worker) -> None:
        env = worker._get_evaluation_environment()
        worker.env = env
        worker._get_evaluation_environment = lambda: env  # what _execution_logic makes: this one
        start(worker)

    return start_with_environment


def _pool() -> HubPool:
    if _active is None:
        raise RuntimeError("green Step Functions executions are not installed")
    return _active


class GreenExecutions:
    """Installs the cooperative primitives into moto's Step Functions engine (`install()`/`uninstall()`)."""

    def __init__(self, hubs: int = 4):
        self.size = hubs
        self.pool: HubPool | None = None
        self._patches: ExitStack | None = None

    def install(self) -> None:
        global _active
        self.pool = _active = HubPool(self.size)
        self._patches = ExitStack()
        for module_name, names in _PATCHED.items():
            module = import_module(_PARSER + module_name)
            replacements = _INLINE if module_name in _INLINED else _GREEN
            for name in names:
                self._patches.enter_context(mock.patch.object(module, name, replacements[name]))
        worker = import_module(_PARSER + "backend.execution_worker").ExecutionWorker
        self._patches.enter_context(mock.patch.object(worker, "_get_evaluation_entrypoint", _parsed_program))
        self._patches.enter_context(mock.patch.object(worker, "start", _started_with_its_environment(worker.start)))

    def uninstall(self) -> None:
        global _active
        if self._patches is not None:
            self._patches.close()
            self._patches = None
        if self.pool is not None:
            self.pool.stop()
            if _active is self.pool:
                _active = None
            self.pool = None
