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


@lru_cache(maxsize=8)
def _persistence(table: str, endpoint: str | None, region: str):
    import boto3
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    client = boto3.session.Session().client("dynamodb", region_name=region, endpoint_url=endpoint)
    return DynamoDBPersistenceLayer(table_name=table, boto3_client=client, static_pk_value="shelf")


def run_once(fn: Callable[..., dict], *, payload: dict, key_fields: str, validate: str = "",
             lambda_context=None) -> dict:
    """Run `fn(payload=...)` once per key (a JMESPath over the payload); a repeat with the same key
    returns the stored result; with the same key and another `validate` part, IdempotencyKeyReused."""
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyPersistenceLayerError,
        IdempotencyValidationError,
    )

    settings = IdempotencyConfig(event_key_jmespath=key_fields, payload_validation_jmespath=validate,
                                 raise_on_no_idempotency_key=True,
                                 expires_after_seconds=config.idempotency_ttl_seconds())
    settings.register_lambda_context(lambda_context or _Context())
    persistence = _persistence(config.table("idempotency"), config.endpoint_url(), config.aws_region())
    wrapped = idempotent_function(fn, data_keyword_argument="payload", persistence_store=persistence,
                                  config=settings, key_prefix=fn.__name__)
    try:
        return wrapped(payload=payload)
    except IdempotencyValidationError:
        raise IdempotencyKeyReused("this Idempotency-Key was used with a different request") from None
    except IdempotencyAlreadyInProgressError:
        raise IdempotencyInProgress() from None
    except IdempotencyPersistenceLayerError as exc:
        raise Unavailable("could not record the request; retry with the same key") from exc

