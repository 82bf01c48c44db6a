"""Domain objects to response models."""
from __future__ import annotations

from ..domain.cart import PricedLine
from ..domain.ids import rfc3339
from ..domain.money import Money
from ..domain.orders import Order
from ..domain.pricing import Breakdown
from ..services.carts import CartView
from ..services.checkout import CheckoutResult
from ..services.ports import StockedProduct
from . import schemas as s
from . import webhook_schemas as ws


def money(m: Money) -> s.Money:
    return s.Money(amount=m.amount, currency=m.currency)


def product(sp: StockedProduct) -> s.Product:
    p = sp.product
    return s.Product(
        id=p.id, title=p.title, description=p.description, category=p.category, status=p.status,
        variants=[s.VariantOut(sku=v.sku, title=v.title, price=money(v.price), available=sp.available(v.sku),
                               attributes=dict(v.attributes), weight_grams=v.weight_grams) for v in p.variants],
        created_at=rfc3339(p.created_at), updated_at=rfc3339(p.updated_at))


def stock(sku: str, level) -> s.Stock:
    return s.Stock(sku=sku, on_hand=level.on_hand, reserved=level.reserved, available=max(level.available, 0),
                   shards=shards if (shards := getattr(level, "shards", 1)) > 1 else None)


def line(ln: PricedLine, b: Breakdown | None = None) -> s.Line:
    priced = b.line(ln.sku) if b is not None else None
    return s.Line(sku=ln.sku, title=ln.title, quantity=ln.quantity, unit_price=money(ln.unit_price),
                  total=money(ln.total), discount=money(priced.discount) if priced else None,
                  tax=money(priced.tax) if priced else None)


def address(a) -> s.Address | None:
    if a is None:
        return None
    return s.Address(name=a.name, line1=a.line1, line2=a.line2, city=a.city, postal_code=a.postal_code,
                     country=a.country, region=a.region)


def _totals(b: Breakdown) -> dict:
    return dict(subtotal=money(b.subtotal), discount_total=money(b.discount_total),
                shipping_total=money(b.shipping_total), tax_total=money(b.tax_total), total=money(b.total),
                prices_include_tax=b.prices_include_tax)


def cart(view: CartView) -> s.Cart:
    c, priced, q = view.cart, view.priced, view.quote
    b = q.breakdown
    return s.Cart(id=c.id, status=c.status, lines=[line(ln, b) for ln in priced.lines], **_totals(b),
                  expires_at=rfc3339(c.expires_at), unavailable_skus=priced.unavailable,
                  discount=s.AppliedDiscount(code=q.discount.code, amount=money(b.discount_total)) if q.discount
                  else None,
                  discount_problem=q.discount_problem or None, shipping_address=address(c.shipping_address),
                  shipping=s.ShippingChoice(method_id=q.method.id, name=q.method.name,
                                            price=money(b.shipping_total)) if q.method else None)


def order(o: Order) -> s.Order:
    b = o.pricing
    return s.Order(
        id=o.id, status=o.status, email=o.email, lines=[line(ln, b) for ln in o.lines], **_totals(b),
        discount=s.AppliedDiscount(code=o.discount.code, amount=money(b.discount_total)) if o.discount else None,
        shipping=s.ShippingChoice(method_id=o.shipping_method.method_id, name=o.shipping_method.name,
                                  price=money(b.shipping_total)) if o.shipping_method else None,
        shipping_address=address(o.shipping_address),
        payment=s.OrderPayment(provider=o.payment.provider, payment_intent_id=o.payment.payment_intent_id,
                               status=o.payment.status),
        fulfillment=None if o.fulfillment is None else s.Fulfillment(
            carrier=o.fulfillment.carrier, tracking_number=o.fulfillment.tracking_number,
            shipped_at=rfc3339(o.fulfillment.shipped_at)),
        refunded=money(o.refunded or Money.zero(o.currency)), refunds=[refund(r) for r in o.refunds],
        created_at=rfc3339(o.created_at),
        updated_at=rfc3339(o.updated_at),
        history=[s.HistoryEntry(status=h.status, at=rfc3339(h.at)) for h in o.history],
        customer_id=o.customer_id or None)


def checkout(result: CheckoutResult) -> s.Checkout:
    return s.Checkout(order=order(result.order), access_token=result.access_token,
                      payment=s.CheckoutPayment(provider=result.payment.provider,
                                                payment_intent_id=result.payment.payment_intent_id,
                                                client_secret=result.payment.client_secret))


def refund(r) -> s.RefundOut:
    return s.RefundOut(id=r.id, amount=money(r.amount), status=r.status, reason=r.reason,
                       created_at=rfc3339(r.created_at))


def endpoint(e, *, with_secret: bool = False):
    fields = dict(id=e.id, url=e.url, events=list(e.events), created_at=e.created_at)
    return ws.WebhookEndpointCreated(**fields, secret=e.secret) if with_secret else ws.WebhookEndpointOut(**fields)


def delivery(d) -> ws.DeliveryOut:
    return ws.DeliveryOut(id=d.id, endpoint_id=d.endpoint_id, event_id=d.event_id, event_type=d.event_type,
                         status=d.status, attempts=d.attempts, last_status_code=d.last_status_code,
                         last_error=d.last_error, created_at=d.created_at, updated_at=d.updated_at)
