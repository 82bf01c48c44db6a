"""Functions that are not HTTP routes: the order workflow's steps (invoked by Step Functions) and the
queue consumers (SQS event source mappings with ReportBatchItemFailures, declared in infra/events.yaml).
Each is a few lines: parse, call a use case, shape the answer."""
from __future__ import annotations

import json

from chalice import Blueprint, Rate

from .. import config, wiring
from ..observability import logger

workers = Blueprint(__name__)


def _ctx():
    return wiring.context()


# --- order workflow steps ----------------------------------------------------------------------------

class TransientError(Exception):
    """A waiting step failed for a reason that may pass (a throttled or unreachable service): the state
    machine matches this name and retries the step. A domain refusal keeps its own name."""


def _delivery_settings() -> dict:
    """How a webhook delivery is attempted, for the deliver_webhooks worker and for first attempts."""
    return {"max_attempts": config.webhook_max_attempts(), "allow_local": config.allow_local_webhooks(),
            "timeout": config.webhook_timeout_seconds(), "backoff_base": config.webhook_backoff_base_seconds()}


def _log_failed_delivery(delivery_id: str, attempt: int, error: str) -> None:
    logger.warning("webhook delivery failed", extra={
        "delivery_id": delivery_id, "attempt": attempt, "max_attempts": config.webhook_max_attempts(),
        "error": error[:300]})


def _first_attempts_here():
    """What a worker publishes, it delivers itself first (services.webhooks.first_attempts_here)."""
    from ..services import webhooks

    settings = _delivery_settings()
    return webhooks.first_attempts_here(_ctx(), seconds=settings["timeout"], **settings,
                                        on_failure=lambda delivery, error: _log_failed_delivery(delivery.id, 1, error))


def _step(run):
    from ..domain.errors import DomainError

    try:
        with _first_attempts_here():
            run()
    except DomainError:
        raise
    except Exception as exc:
        logger.warning("workflow step failed; it will be retried", extra={"error": f"{type(exc).__name__}: {exc}"})
        raise TransientError(f"{type(exc).__name__}: {exc}") from None
    return {"status": "waiting"}


@workers.lambda_function(name="await_payment")
def await_payment(event, context):
    from ..services import lifecycle

    return _step(lambda: lifecycle.await_payment(event["order_id"], event["task_token"], _ctx()))


@workers.lambda_function(name="await_shipment")
def await_shipment(event, context):
    from ..services import lifecycle

    return _step(lambda: lifecycle.await_shipment(event["order_id"], event["task_token"], _ctx()))


@workers.lambda_function(name="cancel_order")
def cancel_order(event, context):
    from ..services import lifecycle

    error = event.get("error") or {}
    reason = str(error.get("Error") or "error") if isinstance(error, dict) else str(error)
    logger.info("compensating order", extra={"order_id": event["order_id"], "error": error})
    return {"status": lifecycle.compensate(event["order_id"], _ctx(), error=reason)}


# --- queue consumers ---------------------------------------------------------------------------------

class _Logged(Exception):
    """A message's expected failure, already logged (one warning) where it happened."""


def _batch(event, context, record_handler):
    """Each failed message is reported to SQS (ReportBatchItemFailures) and delivered again later, even
    when the whole batch failed: that is not an error of the function, so it does not raise."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    def handle(record):
        try:
            return record_handler(record)
        except _Logged:
            raise
        except Exception:
            logger.exception("a queue message failed; the queue delivers it again",
                             extra={"message_id": record.message_id})
            raise

    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return process_partial_response(event=event, record_handler=handle, processor=processor, context=context)


@workers.lambda_function(name="start_order_workflows")
def start_order_workflows(event, context):
    from ..services import lifecycle, webhooks
    from ..services.ports import queued_delivery

    def handle(record):
        body = json.loads(record.body)
        lifecycle.start_workflow(body["order_id"], _ctx(), payment_timeout=config.payment_timeout_seconds(),
                                 shipment_timeout=config.shipment_timeout_seconds())
        held = [queued_delivery(m) for m in body.get("deliveries") or () if isinstance(m, dict)]
        webhooks.hand_over([d for d in held if not isinstance(d, str)], _ctx())

    with _first_attempts_here():
        return _batch(event, context, handle)


@workers.lambda_function(name="merchant_events")
def merchant_events(event, context):
    def handle(record):
        wiring.apply_merchant_event(json.loads(record.body), lambda_context=context)

    with _first_attempts_here():
        return _batch(event, context, handle)


@workers.lambda_function(name="deliver_webhooks")
def deliver_webhooks(event, context):
    import time

    from ..services import webhooks
    from ..services.ports import queued_delivery

    def handle(record):
        receive_count = int(record.attributes.approximate_receive_count or 1)
        queued = queued_delivery(json.loads(record.body))
        delivery_id = queued if isinstance(queued, str) else queued.id
        try:
            webhooks.deliver(queued, receive_count, _ctx(), now=int(time.time()), handle=record.receipt_handle,
                             **_delivery_settings())
        except webhooks.DeliveryFailed as exc:  # expected: the endpoint is down; retried, then parked
            _log_failed_delivery(delivery_id, receive_count, str(exc))
            raise _Logged(delivery_id) from None

    return _batch(event, context, handle)


# --- safety net --------------------------------------------------------------------------------------

@workers.schedule(Rate(5, unit=Rate.MINUTES), name="reconcile_orders")
def reconcile_orders(event):
    """An order whose workflow start was lost (the queue send failed after checkout) is started here:
    starting a workflow is idempotent, so asking again for every recent pending order is safe. A merchant
    refund the provider did not answer is settled here too: the provider is asked again with its key."""
    from ..services import lifecycle

    ctx, after = _ctx(), config.reconcile_after_seconds()
    started = lifecycle.restart_stalled(ctx, older_than_seconds=after)
    logger.info("reconciled pending orders", extra={"requested": started})
    refunds = lifecycle.settle_refunds_in_doubt(ctx, older_than_seconds=after)
    if refunds["stale"]:
        logger.error("refunds in doubt past the provider's idempotency window: look them up at the provider",
                     extra=refunds)
    elif any(refunds.values()):
        logger.warning("settled refunds in doubt", extra=refunds)
    return {"requested": started, "refunds": refunds}
