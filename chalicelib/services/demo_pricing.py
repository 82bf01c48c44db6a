"""The demo store's pricing: two shipping methods, a tax rate and a code, so the tour prices a checkout."""
from __future__ import annotations

from ..domain.money import Money
from ..domain.pricing import DiscountCodeTaken, TaxRate
from . import pricing
from .context import Context

DEMO_CODE = "WELCOME10"


def seed_demo_pricing(ctx: Context) -> None:
    def usd(amount: int) -> Money:
        return Money(amount, ctx.currency)

    if not any(m.active for m in ctx.pricing.methods()):
        pricing.create_method({"name": "Standard", "countries": ("*",), "price": usd(499), "per_kg": usd(100),
                               "free_over": usd(7500), "min_days": 3, "max_days": 5}, ctx)
        pricing.create_method({"name": "Express", "countries": ("US", "GB"), "price": usd(1500), "min_days": 1,
                               "max_days": 2}, ctx)
    if ctx.pricing.rate("GB") is None:
        pricing.put_rate(TaxRate("GB", 2000, tax_shipping=True), ctx)
    try:
        pricing.create_discount({"code": DEMO_CODE, "kind": "percentage", "percent_bps": 1000}, ctx)
    except DiscountCodeTaken:
        pass
