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

# --- tracing -----------------------------------------------------------------------------------------
# Powertools Tracer imports the X-Ray SDK and patches botocore (DynamoDB, SQS, Step Functions, KMS) and
# requests (Stripe) as it is built: it is built on the first invocation that can be traced, never at import,
# and never where no X-Ray daemon listens (offline, tests, `chalice local`), as Powertools itself decides.
_tracer = None
_TRUE = ("1", "true", "yes", "on")


def tracing_enabled() -> bool:
    import os

    if os.environ.get("POWERTOOLS_TRACE_DISABLED", "").strip().lower() in _TRUE:
        return False
    in_lambda = bool(os.environ.get("LAMBDA_TASK_ROOT"))
    return in_lambda and not os.environ.get("AWS_CHALICE_CLI_MODE") and not os.environ.get("AWS_SAM_LOCAL")


def tracer():
    """The Powertools Tracer, or None where tracing is off."""
    global _tracer
    if _tracer is None and tracing_enabled():
        from aws_lambda_powertools import Tracer

        _tracer = Tracer(service="shelf", patch_modules=("botocore", "requests"))
    return _tracer


def trace_invocation(event, get_response):
    """Chalice middleware (all event types): one invocation as a `## lambda_handler` subsegment with the
    ColdStart and Service annotations, and the error if one is raised; never the response (it may hold
    customers' data). Where tracing is off, it only calls through."""
    active = tracer()
    if active is None:
        return get_response(event)

    def lambda_handler(_event, _context):
        return get_response(event)

    return active.capture_lambda_handler(lambda_handler, capture_response=False)(event, _lambda_context(event))
