"""Idempotency-Key handling through Powertools' idempotency utility, on a DynamoDB table."""
from __future__ import annotations

from functools import lru_cache
from typing import Callable

from .. import config
from ..domain.errors import IdempotencyInProgress, IdempotencyKeyReused, Unavailable


class _Context:
    """Stands in for a Lambda context when none is at hand (local server, tests)."""

    function_name = "shelf-local"
    aws_request_id = "local"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


@lru_cache(maxsize=32)
def _setup(name: str, key_fields: str, validate: str, table: str, endpoint: str | None, region: str, ttl: int):
    """One config and one persistence layer per idempotent function, as Powertools expects of a decorator
    (a persistence layer is configured once, by its first function, and keeps that config)."""
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig

    from .aws import client_for

    settings = IdempotencyConfig(event_key_jmespath=key_fields, payload_validation_jmespath=validate,
                                 raise_on_no_idempotency_key=True, expires_after_seconds=ttl)
    # The process's shared DynamoDB client: Powertools would otherwise build a session and a client for
    # each persistence layer (one per idempotent function).
    return settings, DynamoDBPersistenceLayer(table_name=table, boto3_client=client_for("dynamodb", region, endpoint),
                                              static_pk_value="shelf")


def run_once(fn: Callable[..., dict], *, name: str, payload, key_fields: str, validate: str = "",
             lambda_context=None) -> dict:
    """Run `fn(payload=...)` once per key (a JMESPath over the payload: a dict or a dataclass, such as a
    command); a repeat with the same key returns the stored result; with the same key and another
    `validate` part, IdempotencyKeyReused. `name` keeps each use case's keys apart."""
    from aws_lambda_powertools.utilities.idempotency import idempotent_function
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyPersistenceLayerError,
        IdempotencyValidationError,
    )

    settings, persistence = _setup(name, key_fields, validate, config.table("idempotency"),
                                   config.endpoint_url(), config.aws_region(), config.idempotency_ttl_seconds())
    settings.register_lambda_context(lambda_context or _Context())
    wrapped = idempotent_function(fn, data_keyword_argument="payload", persistence_store=persistence,
                                  config=settings, key_prefix=name)
    try:
        return wrapped(payload=payload)
    except IdempotencyValidationError:
        raise IdempotencyKeyReused("this Idempotency-Key was used with a different request") from None
    except IdempotencyAlreadyInProgressError:
        raise IdempotencyInProgress() from None
    except IdempotencyPersistenceLayerError as exc:
        raise Unavailable("could not record the request; retry with the same key") from exc
