"""The cooperative primitives the local stack hands moto's Step Functions engine: many waiters, few threads."""
from __future__ import annotations

import threading
import time

import pytest

from local import green_sfn
from local.green_sfn import GreenEvent, GreenThread, HubPool, green_sleep

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
