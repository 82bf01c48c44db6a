"""What every DynamoDB repository shares: lookups, conditional writes and labelled transactions.
Each aggregate's repository has its own module (dynamo_catalog, dynamo_inventory, dynamo_carts,
dynamo_orders, dynamo_api_keys)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pynamodb.connection import Connection
from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from ..domain.ids import rfc3339
from ..services.ports import StaleWrite
from .models import SkuModel, bind

_STOCK_RETRIES = 10


def connection() -> Connection:
    bind()
    return SkuModel._get_connection().connection  # the one every model shares (see models.bind)


def created_key(at: datetime, object_id: str) -> str:
    return f"{rfc3339(at)}#{object_id}"


def versioned(version: int) -> dict:
    """PynamoDB's VersionAttribute: absent on a new item, the read value on an update (it adds the condition)."""
    return {"version": version} if version else {}


def conditional_failure(exc: Exception) -> bool:
    return getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException"


def find(model_cls, key):
    """The item with that key, or None."""
    bind()
    try:
        return model_cls.get(key)
    except DoesNotExist:
        return None


def written(write) -> bool:
    """Runs a conditional write; False when its condition did not hold (other failures raise)."""
    bind()
    try:
        write()
    except (PutError, DeleteError, UpdateError) as exc:
        if conditional_failure(exc):
            return False
        raise
    return True


@dataclass
class Tx:
    """A TransactWriteItems whose cancellation reasons come back named by the labels we gave each item."""

    checks: list = field(default_factory=list)
    deletes: list = field(default_factory=list)
    puts: list = field(default_factory=list)
    updates: list = field(default_factory=list)

    def check(self, label, model_cls, hash_key, range_key, condition):
        self.checks.append((label, model_cls, hash_key, range_key, condition))

    def save(self, label, model, condition=None):
        self.puts.append((label, model, condition))

    def update(self, label, model, actions, condition=None):
        self.updates.append((label, model, actions, condition))

    def delete(self, label, model, condition=None):
        self.deletes.append((label, model, condition))

    def commit(self) -> list:
        """Runs the transaction; returns [] on success, else the labels whose condition failed."""
        # In the order PynamoDB sends them (condition checks, deletes, puts, updates): the reasons come back so.
        labels = ([c[0] for c in self.checks] + [d[0] for d in self.deletes] + [p[0] for p in self.puts]
                  + [u[0] for u in self.updates])
        try:
            with TransactWrite(connection=connection()) as tx:
                for _, model_cls, hash_key, range_key, condition in self.checks:
                    tx.condition_check(model_cls, hash_key, range_key, condition=condition)
                for _, model, condition in self.deletes:
                    tx.delete(model, condition=condition)
                for _, model, condition in self.puts:
                    tx.save(model, condition=condition)
                for _, model, actions, condition in self.updates:
                    tx.update(model, actions=actions, condition=condition)
        except TransactWriteError as exc:
            reasons = exc.cancellation_reasons
            if exc.cause_response_code != "TransactionCanceledException" or not reasons:
                raise
            codes = [r.code if r else None for r in reasons]
            if any(c not in (None, "None", "ConditionalCheckFailed") for c in codes):
                raise StaleWrite(",".join(str(c) for c in codes)) from exc
            return [label for label, code in zip(labels, codes) if code == "ConditionalCheckFailed"]
        return []



def batch_skus(skus: list[str]) -> dict[str, SkuModel]:
    bind()
    wanted = list(dict.fromkeys(skus))
    return {m.sku: m for m in SkuModel.batch_get(wanted)} if wanted else {}




def stock_moves(model) -> dict:
    """The update and condition of each kind of stock move on an item with on_hand/reserved/available:
    a SKU's own item (SkuModel) or any shard item of a hot SKU (SkuShardModel, the same table)."""
    return {
        "reserve": lambda q: ([model.reserved.add(q), model.available.add(-q)], model.available >= q),
        "sell": lambda q: ([model.on_hand.add(-q), model.available.add(-q)], model.available >= q),
        "release": lambda q: ([model.reserved.add(-q), model.available.add(q)], model.reserved >= q),
        "commit": lambda q: ([model.reserved.add(-q), model.on_hand.add(-q)], model.reserved >= q),
        "restock": lambda q: ([model.on_hand.add(q), model.available.add(q)], model.on_hand >= 0),
    }


STOCK_MOVES = stock_moves(SkuModel)
