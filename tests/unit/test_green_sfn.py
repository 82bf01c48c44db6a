"""The cooperative primitives the local stack hands moto's Step Functions engine: many waiters, few threads."""
from __future__ import annotations

import threading
import time

import pytest

from local import green_sfn
from local.green_sfn import GreenEvent, GreenThread, HubPool, InlineThread, green_sleep

WAITERS = 200


@pytest.fixture
def pool(monkeypatch):
    hubs = HubPool(2)
    monkeypatch.setattr(green_sfn, "_active", hubs)
    yield hubs
    hubs.stop()


def _until(probe, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not probe():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_many_waiters_hold_no_thread_and_each_is_woken_by_its_event(pool):
    before = threading.active_count()
    events = [GreenEvent() for _ in range(WAITERS)]
    outcomes: dict[int, bool] = {}

    def waiter(i):  # as moto's execution -> program -> state chain does: a thread joining a thread
        inner = GreenThread(target=lambda: outcomes.__setitem__(i, events[i].wait(timeout=60)))
        inner.start()
        inner.join()

    for i in range(WAITERS):
        GreenThread(target=waiter, args=(i,), daemon=True).start()
    _until(lambda: pool.suspended() == 2 * WAITERS)
    assert threading.active_count() == before

    for event in events:  # set from this (ordinary) thread, as moto's request thread does
        event.set()
    _until(lambda: len(outcomes) == WAITERS)
    assert set(outcomes.values()) == {True} and pool.suspended() == 0


def test_a_wait_times_out_and_a_sleep_lasts_without_blocking_the_hub(pool):
    results = []

    def timed_out():
        results.append(("wait", GreenEvent().wait(timeout=0.2)))

    def sleeper():
        started = time.monotonic()
        green_sleep(0.3)
        results.append(("sleep", time.monotonic() - started >= 0.3))

    for target in (timed_out, sleeper):
        GreenThread(target=target).start()
    _until(lambda: len(results) == 2)
    assert sorted(results) == [("sleep", True), ("wait", False)]


def test_outside_a_hub_they_are_ordinary_blocking_primitives():
    event, seen = GreenEvent(), []
    threading.Timer(0.05, event.set).start()
    seen.append(event.wait(timeout=5))
    assert seen == [True] and GreenEvent().wait(timeout=0.01) is False


def _state(target, timeout, outcome):
    """What moto's execute_state does: start a thread for the state's work, wait for it with the Task's
    timeout, and give up on it when the timeout comes first."""
    done = GreenEvent()

    def work():
        target()
        done.set()

    InlineThread(target=work, daemon=True).start()
    outcome.append(done.wait(timeout))


def test_a_waiting_chain_of_inline_threads_is_one_suspended_greenlet(pool):
    events = [GreenEvent() for _ in range(WAITERS)]
    outcomes: dict[int, list] = {}

    def execution(i):  # execution -> program (join) -> state (wait with timeout) -> task token
        states: list = []
        program = InlineThread(target=_state, args=(lambda: events[i].wait(60), 30, states))
        program.start()
        program.join()
        outcomes[i] = states + [program.is_alive()]

    for i in range(WAITERS):
        GreenThread(target=execution, args=(i,)).start()
    _until(lambda: pool.suspended() == WAITERS)  # one each, not three
    for event in events:
        event.set()
    _until(lambda: len(outcomes) == WAITERS)
    assert all(outcome == [True, False] for outcome in outcomes.values())


def test_when_the_parent_stops_waiting_the_inline_child_is_abandoned_where_it_waits(pool):
    seen: list = []

    def parent():
        token = GreenEvent()
        _state(lambda: seen.append(("child woke", token.wait(60))), 0.2, seen)
        seen.append("parent went on")
        token.set()  # too late: the abandoned child never resumes

    started = time.monotonic()
    GreenThread(target=parent).start()
    _until(lambda: "parent went on" in seen)
    assert 0.2 <= time.monotonic() - started < 5
    time.sleep(0.1)
    assert seen == [False, "parent went on"] and pool.suspended() == 0


def test_an_outer_deadline_unwinds_every_inline_level_and_an_inner_one_only_its_own(pool):
    results: dict[str, list] = {"outer": [], "inner": []}

    def outer_gives_up():  # the program's timeout (0.2 s) comes before the state's (10 s)
        program = InlineThread(target=_state, args=(lambda: GreenEvent().wait(60), 10, results["outer"]))
        program.start()
        program.join(0.2)
        results["outer"].append(("program timed out", program.is_alive()))

    def inner_gives_up():  # the state's timeout (0.2 s) comes first: the program goes on
        program = InlineThread(target=_state, args=(lambda: GreenEvent().wait(60), 0.2, results["inner"]))
        program.start()
        program.join(10)
        results["inner"].append(("program timed out", program.is_alive()))

    for target in (outer_gives_up, inner_gives_up):
        GreenThread(target=target).start()
    _until(lambda: len(results["outer"]) == 1 and len(results["inner"]) == 2)
    assert results["outer"] == [("program timed out", True)]
    assert results["inner"] == [False, ("program timed out", False)]


def test_an_inline_thread_started_outside_a_hub_is_an_ordinary_green_thread(pool):
    seen = []
    thread = InlineThread(target=lambda: seen.append(GreenEvent().wait(0.05)))
    thread.start()
    thread.join(5)
    assert seen == [False] and not thread.is_alive()
