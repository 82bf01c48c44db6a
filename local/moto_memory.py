"""Keeps the emulated AWS's memory and per-request cost flat over a long session.

- moto keeps every model object it ever creates (every DynamoDB item and table, every SQS message...) in a
  class-level `instances_tracked` list, for its dashboard only, and never lets go of it.
- moto's DynamoDB `TransactWriteItems` deep-copies every table it touches before it starts, to roll back on
  failure, so each transaction costs time in proportion to the table's size (under the server's one lock)
  and, with the list above, keeps the copy forever: a long session slowed down and grew by megabytes per order.

- moto's server works out which service a request is for by listing its own package directory (a
  `listdir` and ~150 `isdir` calls) on every request, under the lock that serializes them: about a tenth
  of the local stack's CPU. The list never changes while it runs: it is read once.
- every execution keeps its event history as a list of dicts (about 11 KB of Python objects for the dozen
  events of an order waiting for its shipment, against 3.5 KB of JSON, or 0.8 KB compressed), for as long
  as moto lives; nothing but GetExecutionHistory reads it, and that reads a deep copy.
- an execution that has ended keeps its whole evaluation environment (its states' inputs and outputs, the
  context object, the evaluation stack and heap, its frames) for as long as moto lives, though nothing
  reads more of it than the event history and the callback tokens.
- moto's Step Functions backend finds a task token, an execution's ARN or its name by walking every
  execution (of the backend, or of the state machine), under the lock: SendTaskSuccess cost nearly twice as
  much with 2,500 executions waiting. Those lookups go through indexes instead (local/sfn_index.py), with
  moto's own code still giving each answer and error.

Here the dashboard's lists take nothing (S3's, which moto uses for its own cleanup, are left alone), and a
transaction's backup copies only the items it names: the table's index of items is copied (references),
and each named item deeply, which is all a rollback restores. moto's transaction code is unchanged. An
execution that ends keeps only what the API reads of it afterwards (`_Ended`). An event history is kept
packed (`PackedEvents`): GetExecutionHistory answers the same events.
"""
from __future__ import annotations

import copy
import json
import threading
import zlib
from collections import defaultdict
from contextlib import ExitStack
from typing import Any
from unittest import mock

from .sfn_index import SfnIndex

_local = threading.local()


class Discard(list):
    """Stands in for a list moto appends to forever and reads only for its dashboard (or not at all)."""

    def append(self, _item) -> None:
        pass


def _named_keys(transact_items: list[dict[str, Any]]) -> dict[str, list[dict]]:
    keys: dict[str, list[dict]] = defaultdict(list)
    for entry in transact_items:
        for op in entry.values():
            if isinstance(op, dict) and op.get("TableName"):
                keys[op["TableName"]].append(op.get("Key") or op.get("Item") or {})
    return keys


def _backup(table):
    """What a rollback of this transaction needs: the items index as it is, with the named items copied."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    snapshot = copy.copy(table)
    if table.range_key_attr:
        snapshot.items = defaultdict(dict, {h: dict(rows) for h, rows in table.items.items()})
    else:
        snapshot.items = defaultdict(dict, table.items)
    for key in _local.keys.get(table.name, []):
        hash_value = DynamoType(key[table.hash_key_attr])
        if table.range_key_attr:
            range_value = DynamoType(key[table.range_key_attr])
            row = snapshot.items.get(hash_value, {})
            if range_value in row:
                row[range_value] = copy.deepcopy(row[range_value])
        elif hash_value in snapshot.items:
            snapshot.items[hash_value] = copy.deepcopy(snapshot.items[hash_value])
    return snapshot


class _Copy:
    """`copy` as moto's DynamoDB backend sees it: a Table's deep copy inside a transaction is the backup above."""

    def __getattr__(self, name):
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value, memo=None):
        from moto.dynamodb.models.table import Table

        if isinstance(value, Table) and getattr(_local, "keys", None) is not None:
            try:
                return _backup(value)
            except (KeyError, TypeError, AttributeError):
                pass  # a key it cannot read: the full copy, as moto would
        return copy.deepcopy(value, memo)


class PackedEvents:
    """An execution's event history, as moto's EventManager appends to it and deep-copies it to answer
    GetExecutionHistory: kept as compressed JSON, in chunks of `CHUNK` events (the latest chunk compressed
    again at each append, so a long history costs no more per event than a short one). The copy is the
    events decoded, equal to what was appended: an event's type, a str enum, reads back as its str value,
    which compares equal. An event that is not JSON (none of moto's are) is kept as it is."""

    CHUNK = 64
    __slots__ = ("_sealed", "_latest", "_count", "_odd")

    def __init__(self):
        self._sealed: list[bytes] = []  # zlib of `CHUNK` events, comma-separated JSON
        self._latest = b""  # zlib of the events after them
        self._count = 0
        self._odd: dict[int, object] = {}  # index -> an event kept as it is (its JSON is null)

    def append(self, event) -> None:
        try:
            data = json.dumps(event, separators=(",", ":"), allow_nan=False).encode()
        except (TypeError, ValueError):
            self._odd[self._count] = copy.deepcopy(event)
            data = b"null"
        latest = zlib.decompress(self._latest) + b"," + data if self._count % self.CHUNK else data
        self._count += 1
        if self._count % self.CHUNK:
            self._latest = zlib.compress(latest)
        else:
            self._sealed.append(zlib.compress(latest))
            self._latest = b""

    def events(self) -> list:
        chunks = [*self._sealed, self._latest] if self._count % self.CHUNK else self._sealed
        events = [e for chunk in chunks for e in json.loads(b"[" + zlib.decompress(chunk) + b"]")]
        for index, event in self._odd.items():
            events[index] = copy.deepcopy(event)
        return events

    def __len__(self) -> int:
        return self._count

    def __iter__(self):
        return iter(self.events())

    def __getitem__(self, index):
        return self.events()[index]

    def __deepcopy__(self, memo):
        return self.events()


def _packed_history(original):
    def __init__(manager, *args, **kwargs) -> None:
        original(manager, *args, **kwargs)
        manager._history_event_list = PackedEvents()

    return __init__


class _Ended:
    """What an ended execution's environment is read for: GetExecutionHistory (its events), SendTask* with
    its tokens (its callback pool, which answers as before), the map runs, its final program state, and
    StopExecution, which changes nothing once the program has ended (as moto's own environment does)."""

    __slots__ = ("event_manager", "callback_pool_manager", "map_run_record_pool_manager", "_program_state")

    def __init__(self, env):
        self.event_manager = env.event_manager
        self.callback_pool_manager = env.callback_pool_manager
        self.map_run_record_pool_manager = env.map_run_record_pool_manager
        self._program_state = env.program_state()

    def program_state(self):
        return copy.deepcopy(self._program_state)

    def is_running(self) -> bool:
        return False

    def set_stop(self, stop_date, cause, error) -> None:
        pass

    def set_ended(self) -> None:
        pass


def _release_when_ended(original):
    def _execution_logic(worker) -> None:
        original(worker)  # evaluates the program, then reflects its end on the execution (status, output)
        if worker.env is not None:
            worker.env = _Ended(worker.env)

    return _execution_logic


class LeanMoto:
    def __init__(self):
        self._patches: ExitStack | None = None

    def install(self) -> None:
        import moto.dynamodb.models as dynamodb
        import moto.sqs.models  # noqa: F401  (models register themselves in model_data on import)
        import moto.stepfunctions.models  # noqa: F401
        from moto.core.model_instances import model_data

        self._patches = ExitStack()
        for service, models in list(model_data.items()):
            if service == "s3":
                continue
            for model in list(models.values()):
                self._patches.enter_context(mock.patch.object(model, "instances_tracked", Discard()))
        original = dynamodb.DynamoDBBackend.transact_write_items

        def transact_write_items(backend, transact_items):
            _local.keys = _named_keys(transact_items)
            try:
                return original(backend, transact_items)
            finally:
                _local.keys = None

        from moto import backends
        from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager
        from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

        modules = tuple(backends.list_of_moto_modules())
        self._patches.enter_context(mock.patch.object(backends, "list_of_moto_modules", lambda: modules))

        self._patches.enter_context(mock.patch.object(ExecutionWorker, "_execution_logic",
                                                      _release_when_ended(ExecutionWorker._execution_logic)))
        self._patches.enter_context(mock.patch.object(EventManager, "__init__",
                                                      _packed_history(EventManager.__init__)))
        self._patches.enter_context(mock.patch.object(dynamodb, "copy", _Copy()))
        SfnIndex().install(self._patches)
        self._patches.enter_context(mock.patch.object(dynamodb.DynamoDBBackend, "transact_write_items",
                                                      transact_write_items))

    def uninstall(self) -> None:
        if self._patches is not None:
            self._patches.close()
            self._patches = None
