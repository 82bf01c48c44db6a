"""Powertools singletons. Other modules use these (or Logger(child=True)); nothing else configures logging.

The Chalice app is made with `configure_logs=False`: its logger and this one are both `shelf`, so Chalice's
handler would write every line a second time. `log_invocation` (a middleware for every kind of function)
gives each line of an invocation its function's name, request id and cold start, in keys that belong to
the running thread and end with the invocation: the local stack runs many functions in one process."""
from __future__ import annotations

import logging

from aws_lambda_powertools import Logger, Metrics

logger = Logger(service="shelf")
# This logger's handler writes each line; a handler on the root logger (Lambda's runtime may add one) must not.
logging.getLogger(logger.name).propagate = False
metrics = Metrics(namespace="Shelf", service="shelf")

_cold_start = True


def _lambda_context(event):
    """The Lambda context of a Chalice middleware's event: HTTP requests carry it as `lambda_context`,
    other events (pure functions, schedules, queues) as `context`."""
    return getattr(event, "lambda_context", None) or getattr(event, "context", None)


def invocation_keys(context) -> dict:
    global _cold_start

    keys = {"cold_start": _cold_start}
    _cold_start = False
    for key, attribute in (("function_name", "function_name"), ("function_memory_size", "memory_limit_in_mb"),
                           ("function_arn", "invoked_function_arn"), ("function_request_id", "aws_request_id")):
        value = getattr(context, attribute, None)
        if value is not None:
            keys[key] = value
    return keys


def log_invocation(event, get_response):
    """Chalice middleware (all event types): the invocation's keys on every line it logs, and only those."""
    logger.thread_safe_clear_keys()
    context = _lambda_context(event)
    if context is not None:
        logger.thread_safe_append_keys(**invocation_keys(context))
    try:
        return get_response(event)
    finally:
        logger.thread_safe_clear_keys()
