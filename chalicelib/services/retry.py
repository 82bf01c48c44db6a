"""The one loop behind every read-decide-write: optimistic writes over the version read."""
from __future__ import annotations

from typing import Callable, TypeVar

from ..domain.errors import Conflict
from .ports import StaleWrite

T = TypeVar("T")


def retrying(attempt: Callable[[], T], *, times: int, conflict: str) -> T:
    """Runs `attempt` (read, decide, write over the version read) again while its write finds that someone
    else wrote first; after `times` tries, a 409 saying `conflict`."""
    for _ in range(times):
        try:
            return attempt()
        except StaleWrite:
            continue
    raise Conflict(conflict)
