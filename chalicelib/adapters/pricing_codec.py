"""An order's pricing (breakdown, shipping method, code) to and from its DynamoDB map."""
from __future__ import annotations

from ..domain.money import Money
from ..domain.orders import Order
from ..domain.pricing import AppliedCode, Breakdown, LinePrice, ShippingChoice

_TOTALS = ("subtotal", "discount_total", "shipping_total", "shipping_tax", "tax_total", "total")


def pricing_map(o: Order) -> dict | None:
    b = o.breakdown
    if b is None:
        return None
    out = {name: getattr(b, name).amount for name in _TOTALS}
    out.update(prices_include_tax=b.prices_include_tax, tax_rate_bps=b.tax_rate_bps,
               lines=[{"sku": ln.sku, "total": ln.total.amount, "discount": ln.discount.amount, "tax": ln.tax.amount}
                      for ln in b.lines])
    if o.shipping_method is not None:
        out["shipping_method"] = {"method_id": o.shipping_method.method_id, "name": o.shipping_method.name}
    if o.discount is not None:
        out["discount"] = {"code": o.discount.code, "once_per_email": o.discount.once_per_email}
    return out


def pricing_from(value: dict | None, currency: str) -> dict:
    """The Order fields held in the map (none for an order placed before pricing existed)."""
    if not value:
        return {}

    def m(amount) -> Money:
        return Money(int(amount), currency)

    lines = tuple(LinePrice(ln["sku"], m(ln["total"]), m(ln["discount"]), m(ln["tax"]))
                  for ln in (_plain(x) for x in value.get("lines") or []))
    breakdown = Breakdown(currency=currency, lines=lines, prices_include_tax=bool(value["prices_include_tax"]),
                          tax_rate_bps=int(value.get("tax_rate_bps") or 0),
                          **{name: m(value[name]) for name in _TOTALS})
    ship = _plain(value.get("shipping_method"))
    code = _plain(value.get("discount"))
    return {"breakdown": breakdown,
            "shipping_method": ShippingChoice(ship["method_id"], ship["name"]) if ship else None,
            "discount": AppliedCode(code["code"], bool(code.get("once_per_email"))) if code else None}


def _plain(value) -> dict:
    return value.as_dict() if hasattr(value, "as_dict") else dict(value or {})
