"""Opaque list cursors: DynamoDB's LastEvaluatedKey, base64url-encoded JSON, checked on the way back in."""
from __future__ import annotations

import base64
import binascii
import itertools
import json

from ..domain.errors import FieldError, Invalid


def encode(last_evaluated_key: dict | None) -> str | None:
    if not last_evaluated_key:
        return None
    raw = json.dumps(last_evaluated_key, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str | None, *, keys: set[str], fixed: dict[str, str]) -> dict | None:
    """`keys` are the attribute names a valid key has; `fixed` those whose value must match the query
    (its partition), so a cursor from another listing is refused, not passed to DynamoDB."""
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError):
        key = None
    ok = (isinstance(key, dict) and set(key) == keys
          and all(isinstance(v, dict) and set(v) == {"S"} and isinstance(v["S"], str) and v["S"] for v in key.values())
          and all(key[name]["S"] == value for name, value in fixed.items()))
    if not ok:
        raise Invalid("invalid cursor", [FieldError("cursor", "not a cursor this listing returned")])
    return key


def page(results, limit: int, key_names: set[str]) -> tuple[list, str | None]:
    """Up to `limit` items, and a cursor only when more exist: the query asks for one item more than it
    returns, so the last page never points at an empty one (as DynamoDB's LastEvaluatedKey can)."""
    items = list(itertools.islice(results, limit + 1))
    if len(items) <= limit:
        return items, None
    last = items[limit - 1]
    return items[:limit], encode({name: {"S": getattr(last, name)} for name in sorted(key_names)})


def status_or_created_page(model, shards: int, *, status: str | None, limit: int, cursor: str | None,
                           listing: str) -> tuple[list, str | None]:
    """A newest-first page of `model`'s `status_shards` index (entries "<status>#<shard>") or, without a
    status, its `created_shards` index ("<shard>"): the layout orders and returns share."""
    index, prefix = (model.status_shards, f"{status}#") if status else (model.created_shards, "")
    return index_page(model, index, shards, prefix=prefix, limit=limit, cursor=cursor, listing=listing)


def index_page(model, index, shards: int, *, prefix: str = "", filter_condition=None, limit: int,
               cursor: str | None, listing: str) -> tuple[list, str | None]:
    """A newest-first page of a sharded `index` of `model` whose partitions are "<prefix><shard>" and whose
    sort key is `created_key`, optionally filtered (orders, returns, webhook deliveries)."""

    def query(shard: int, below: str | None, limit: int):
        condition = model.created_key < below if below else None
        return index.query(f"{prefix}{shard}", condition, filter_condition=filter_condition,
                           scan_index_forward=False, limit=limit)

    return sharded_page(query, shards, limit=limit, cursor=cursor, listing=listing)


def sharded_page(query_shard, shards: int, *, limit: int, cursor: str | None, listing: str) -> tuple[list, str | None]:
    """Newest first across an index whose partition key is spread over `shards` shards: each shard's newest
    entries below the cursor, merged. `query_shard(shard, below, limit)` queries one shard newest first for
    entries whose `created_key` is below `below` (None: from the newest). Returns the page's index entries
    and the next cursor (only when more exist). The cursor is the last `created_key` returned, tied to
    `listing`, so a cursor of one listing is refused by another."""
    fixed = {"listing": listing}
    start = decode(cursor, keys={"listing", "created_key"}, fixed=fixed)
    below = start["created_key"]["S"] if start else None
    hits = sorted((hit for shard in range(shards) for hit in query_shard(shard, below, limit + 1)),
                  key=lambda hit: hit.created_key, reverse=True)
    page = hits[:limit]
    if len(hits) <= limit:
        return page, None
    return page, encode({"listing": {"S": listing}, "created_key": {"S": page[-1].created_key}})
