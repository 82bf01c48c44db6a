"""Webhooks in (Stripe, merchant systems) and out (endpoints and the delivery log)."""
from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit

from .. import config, wiring
from ..observability import logger, metrics
from . import presenters as present
from . import webhook_schemas as ws
from .common import DELIVERY_ID, WEBHOOK_ENDPOINT_ID, ctx
from .http import BadRequest, Request, Router, parse_body

hooks = Router("webhooks", "webhooks")
admin = Router("webhooks_admin", "merchant")
ROUTERS = [hooks, admin]


# --- webhooks in -------------------------------------------------------------------------------------

@hooks.route("POST", "/webhooks/stripe", summary="Stripe events (signed with Stripe-Signature)",
             body=ws.StripeEventIn, raw_body=True, response=ws.Received, errors=(409,))
def stripe_webhook(req: Request):
    import time

    from ..domain import webhooks as signatures

    try:
        signatures.verify(config.stripe_webhook_secret(), req.raw_body, req.header("Stripe-Signature"),
                          int(time.time()), config.webhook_tolerance_seconds())
    except signatures.BadSignature as exc:
        raise BadRequest(f"invalid Stripe signature: {exc}") from None
    event = signatures.read_event(req.raw_body)
    if wiring.apply_stripe_event(event, lambda_context=req.lambda_context) == "rejected":
        # Answered 200 so that Stripe stops sending it; kept in the inbound events for a person to look at.
        logger.error("Stripe event rejected", extra={"event_id": event["id"], "event_type": event["type"]})
        metrics.add_metric(name="StripeEventsRejected", unit=MetricUnit.Count, value=1)
    return ws.Received(received=True)


@hooks.route("POST", "/webhooks/merchant", summary="Events from merchant systems (signed with Shelf-Signature)",
             status=202, body=ws.MerchantEventIn, raw_body=True, response=ws.Received, errors=(401, 422))
def merchant_webhook(req: Request):
    import time

    from ..domain import webhooks as signatures
    from ..domain.errors import Unauthenticated

    try:
        signatures.verify(config.shelf_webhook_secret(), req.raw_body, req.header("Shelf-Signature"),
                          int(time.time()), config.webhook_tolerance_seconds())
    except signatures.BadSignature as exc:
        raise Unauthenticated(f"invalid Shelf-Signature: {exc}") from None
    event = parse_body(ws.MerchantEventIn, req.raw_body)
    wiring.queue_merchant_event(event.model_dump(mode="json"))
    return ws.Received(received=True)


# --- webhooks out ------------------------------------------------------------------------------------

@admin.route("POST", "/admin/webhook-endpoints", summary="Register a webhook endpoint", status=201,
             body=ws.WebhookEndpointIn, response=ws.WebhookEndpointCreated, scope="webhooks:write")
def create_webhook_endpoint(req: Request):
    from ..services import webhooks

    endpoint = webhooks.register_endpoint(req.body.url, list(req.body.events), ctx(),
                                          allow_local=config.allow_local_webhooks())
    return present.endpoint(endpoint, with_secret=True)


@admin.route("GET", "/admin/webhook-endpoints", summary="List webhook endpoints", response=ws.WebhookEndpointPage,
             scope="webhooks:write")
def list_webhook_endpoints(req: Request):
    return ws.WebhookEndpointPage(items=[present.endpoint(e) for e in ctx().webhooks.endpoints()], next_cursor=None)


@admin.route("GET", "/admin/webhook-endpoints/{endpoint_id}", summary="One webhook endpoint",
             response=ws.WebhookEndpointOut, scope="webhooks:write", path_patterns=WEBHOOK_ENDPOINT_ID)
def get_webhook_endpoint(req: Request, endpoint_id: str):
    from ..services import webhooks

    return present.endpoint(webhooks.get_endpoint(endpoint_id, ctx()))


@admin.route("DELETE", "/admin/webhook-endpoints/{endpoint_id}", summary="Delete a webhook endpoint", status=204,
             scope="webhooks:write", path_patterns=WEBHOOK_ENDPOINT_ID)
def delete_webhook_endpoint(req: Request, endpoint_id: str):
    from ..services import webhooks

    webhooks.remove_endpoint(endpoint_id, ctx())


@admin.route("GET", "/admin/webhook-deliveries", summary="The delivery log, newest first", query=ws.DeliveryQuery,
             response=ws.DeliveryPage, scope="webhooks:write")
def list_webhook_deliveries(req: Request):
    from ..services import webhooks

    page = webhooks.list_deliveries(ctx(), status=req.query.status, limit=req.query.limit, cursor=req.query.cursor)
    return ws.DeliveryPage(items=[present.delivery(d) for d in page.items], next_cursor=page.next_cursor)


@admin.route("POST", "/admin/webhook-deliveries/{delivery_id}/redrive", summary="Deliver a failed webhook again",
             status=202, response=ws.DeliveryOut, scope="webhooks:write", errors=(409, 503), path_patterns=DELIVERY_ID)
def redrive_webhook_delivery(req: Request, delivery_id: str):
    from ..services import webhooks

    return present.delivery(webhooks.redrive(delivery_id, ctx()))
