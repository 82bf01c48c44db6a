"""Send signed webhooks to a Shelf API, as Stripe or a merchant system would. For development with the
local stack (the simulated payment provider has no Stripe to send its events) and for tests.

    # the shopper paid order ord_...: Stripe's payment_intent.succeeded, built from the order itself
    python -m tools.webhook stripe payment_intent.succeeded ord_...

    # the warehouse shipped it
    python -m tools.webhook merchant fulfillment.shipped \
        '{"order_id": "ord_...", "carrier": "UPS", "tracking_number": "1Z999"}'

Reads SHELF, the store's URL as the README's tour sets it (else SHELF_URL, else http://127.0.0.1:$PORT,
PORT defaulting to 8000), SHELF_ADMIN_API_KEY (to read the order), STRIPE_WEBHOOK_SECRET and
SHELF_WEBHOOK_SECRET (the local stack's defaults when unset).
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import time
import urllib.error
import urllib.request

from chalicelib.domain.webhooks import sign as signature

STRIPE_TYPES = ("payment_intent.succeeded", "payment_intent.amount_capturable_updated", "payment_intent.canceled",
                "payment_intent.payment_failed", "charge.refunded")


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """`t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`: Shelf-Signature and Stripe-Signature alike."""
    return signature(secret, body, int(time.time()) if timestamp is None else timestamp)


def stripe_event(event_type: str, order: dict, *, amount_refunded: int | None = None,
                 event_id: str | None = None) -> dict:
    """A Stripe event about the order's payment intent, shaped as Stripe sends it."""
    intent_id = order["payment"]["payment_intent_id"]
    amount, currency = order["total"]["amount"], order["total"]["currency"].lower()
    if event_type == "charge.refunded":
        obj = {"id": "ch_" + secrets.token_hex(12), "object": "charge", "payment_intent": intent_id,
               "amount": amount, "currency": currency, "metadata": {"order_id": order["id"]},
               "amount_refunded": amount if amount_refunded is None else amount_refunded, "refunded": True}
    else:
        status = {"payment_intent.succeeded": "succeeded", "payment_intent.canceled": "canceled",
                  "payment_intent.amount_capturable_updated": "requires_capture",
                  "payment_intent.payment_failed": "requires_payment_method"}[event_type]
        obj = {"id": intent_id, "object": "payment_intent", "amount": amount, "currency": currency,
               "status": status, "metadata": {"order_id": order["id"]}}
        if event_type == "payment_intent.payment_failed":
            obj["last_payment_error"] = {"code": "card_declined", "message": "Your card was declined."}
    return {"id": event_id or "evt_" + secrets.token_hex(12), "object": "event", "type": event_type,
            "created": int(time.time()), "livemode": False, "data": {"object": obj}}


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _get_order(base: str, order_id: str) -> dict:
    key = os.environ.get("SHELF_ADMIN_API_KEY", "")
    request = urllib.request.Request(f"{base}/orders/{order_id}", headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def store_url(environ=os.environ) -> str:
    """Where the store is: $SHELF (as the README's tour exports it), $SHELF_URL, or the local stack on $PORT."""
    url = environ.get("SHELF") or environ.get("SHELF_URL") or f"http://127.0.0.1:{environ.get('PORT') or '8000'}"
    return url.rstrip("/")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.webhook", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="source", required=True)
    stripe = sub.add_parser("stripe", help="a Stripe event about an order's payment")
    stripe.add_argument("type", choices=STRIPE_TYPES)
    stripe.add_argument("order_id")
    stripe.add_argument("--amount-refunded", type=int)
    merchant = sub.add_parser("merchant", help="an event from a merchant system")
    merchant.add_argument("type")
    merchant.add_argument("data", help="the event's data, as JSON")
    merchant.add_argument("--id", help="event id (default: a new evt_...)")
    args = parser.parse_args(argv)

    base = store_url()
    if args.source == "stripe":
        event = stripe_event(args.type, _get_order(base, args.order_id), amount_refunded=args.amount_refunded)
        body = json.dumps(event).encode()
        secret = os.environ.get("STRIPE_WEBHOOK_SECRET") or "whsec_local_dev"
        status, text = post(f"{base}/webhooks/stripe", body, {"Stripe-Signature": sign(secret, body)})
    else:
        event = {"id": args.id or "evt_" + secrets.token_hex(12), "type": args.type, "data": json.loads(args.data)}
        body = json.dumps(event).encode()
        secret = os.environ.get("SHELF_WEBHOOK_SECRET") or "shelf_local_dev"
        status, text = post(f"{base}/webhooks/merchant", body, {"Shelf-Signature": sign(secret, body)})
    print(status, text)
    return 0 if status < 300 else 1


def _main() -> int:
    try:
        return main()
    except urllib.error.HTTPError as exc:  # reading the order failed: show the store's answer
        print(exc.code, exc.read().decode(errors="replace"), file=sys.stderr)
        return 1
    except urllib.error.URLError as exc:  # nothing listens there: say where we looked, not a traceback
        print(f"cannot reach the store at {store_url()}: {exc.reason}. Is it running? Set SHELF to its URL.",
              file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(_main())
