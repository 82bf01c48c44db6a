"""Pricing: the one function that turns lines, a discount, a shipping method and tax rates into the money of
a cart or an order. Nothing else computes money. Every amount is integer minor units; every rounding is
half-up to the minor unit, per line."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from .cart import PricedLine
from .errors import Conflict, Invalid
from .money import Money

PERCENTAGE = "percentage"
FIXED = "fixed"
FREE_SHIPPING = "free_shipping"
DISCOUNT_KINDS = (PERCENTAGE, FIXED, FREE_SHIPPING)
MAX_BPS = 10000
# What a card provider can charge in one payment (Stripe's limits in minor units, for every provider: the
# simulated one stands in for Stripe). A total of 0 needs no payment at all. Stripe's minimum is 50 minor units
# in most currencies and more in these (its table of minimum charge amounts, for a store that settles in the
# currency it charges: Stripe checks the amount converted into the settlement currency).
MIN_CHARGE = 50
MIN_CHARGES = {"AED": 200, "BGN": 100, "CZK": 1500, "DKK": 250, "GBP": 30, "HKD": 400, "HUF": 17500,
               "MXN": 1000, "MYR": 200, "NOK": 300, "PLN": 200, "RON": 200, "SEK": 300, "THB": 1000}
MAX_CHARGE = 99_999_999


class DiscountInvalid(Invalid):
    slug = "discount_invalid"
    title = "The discount code does not apply"


class DiscountExhausted(Conflict):
    slug = "discount_exhausted"
    title = "The discount code has been used up"


class DiscountAlreadyUsed(Conflict):
    slug = "discount_already_used"
    title = "The discount code was already used with this email"


class DiscountCodeTaken(Conflict):
    slug = "discount_code_taken"
    title = "A discount with this code exists"


class ShippingMethodRequired(Invalid):
    slug = "shipping_method_required"
    title = "Choose a shipping method"


class ShippingUnavailable(Invalid):
    slug = "shipping_unavailable"
    title = "The shipping method does not serve this address"


class AmountOutOfRange(Invalid):
    slug = "amount_out_of_range"
    title = "The payment provider cannot charge this total"


def min_charge(currency: str) -> int:
    """The least a payment in `currency` may be, in minor units."""
    return MIN_CHARGES.get(currency.upper(), MIN_CHARGE)


def chargeable(total: Money) -> bool:
    return total.amount == 0 or min_charge(total.currency) <= total.amount <= MAX_CHARGE


def normalize_code(code: str) -> str:
    return code.strip().upper()


def normalize_email(email: str) -> str:
    return email.strip().lower()


def round_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half-up, for numerator >= 0 and denominator > 0, in integers only."""
    return (2 * numerator + denominator) // (2 * denominator)


@dataclass(frozen=True)
class Discount:
    code: str  # stored upper case
    kind: str
    percent_bps: int = 0
    amount: Money | None = None
    min_subtotal: Money | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    usage_limit: int | None = None
    once_per_email: bool = False
    active: bool = True
    times_used: int = 0
    created_at: datetime | None = None

    @property
    def used_up(self) -> bool:
        return self.usage_limit is not None and self.times_used >= self.usage_limit

    def why_not(self, subtotal: Money, now: datetime) -> str | None:
        """Why this code does not apply to a cart of `subtotal` now, or None when it does."""
        if not self.active:
            return f"the code {self.code} is no longer active"
        if self.starts_at is not None and now < self.starts_at:
            return f"the code {self.code} is not valid yet"
        if self.ends_at is not None and now >= self.ends_at:
            return f"the code {self.code} has expired"
        if self.used_up:
            return f"the code {self.code} has been used up"
        if self.min_subtotal is not None and subtotal < self.min_subtotal:
            return (f"the code {self.code} needs a subtotal of at least {self.min_subtotal.amount} "
                    f"{self.min_subtotal.currency}")
        return None


@dataclass(frozen=True)
class ShippingMethod:
    id: str
    name: str
    countries: tuple[str, ...]  # ("*",) serves every country
    price: Money
    free_over: Money | None = None
    per_kg: Money | None = None
    min_days: int | None = None
    max_days: int | None = None
    active: bool = True
    created_at: datetime | None = None

    def serves(self, country: str) -> bool:
        return self.active and ("*" in self.countries or country in self.countries)

    def price_for(self, weight_grams: int, discounted_subtotal: Money) -> Money:
        """`price`, plus `per_kg` for every started kilogram, and 0 at or above `free_over` (after discounts)."""
        if self.free_over is not None and discounted_subtotal >= self.free_over:
            return Money.zero(self.price.currency)
        kilograms = -(-max(weight_grams, 0) // 1000)
        extra = self.per_kg * kilograms if self.per_kg is not None else Money.zero(self.price.currency)
        return self.price + extra


@dataclass(frozen=True)
class TaxRate:
    country: str
    rate_bps: int
    regions: dict[str, int] = field(default_factory=dict)
    tax_shipping: bool = True

    def rate_for(self, region: str | None) -> int:
        if region is not None and region in self.regions:
            return self.regions[region]
        return self.rate_bps


@dataclass(frozen=True)
class ShippingChoice:
    """The shipping method an order was priced with, as it was then."""

    method_id: str
    name: str


@dataclass(frozen=True)
class AppliedCode:
    """The code an order redeemed: one use of its counter, and with `once_per_email` its email's redemption."""

    code: str
    once_per_email: bool = False


@dataclass(frozen=True)
class CodeRelease:
    """Gives an order's use of its code back (it was canceled before payment), in the write that cancels it."""

    code: str
    email: str
    once_per_email: bool
    order_id: str
    kind: str = "give_back"


@dataclass(frozen=True)
class LinePrice:
    sku: str
    total: Money
    discount: Money
    tax: Money


@dataclass(frozen=True)
class Breakdown:
    currency: str
    lines: tuple[LinePrice, ...]
    subtotal: Money
    discount_total: Money
    shipping_total: Money
    shipping_tax: Money
    tax_total: Money
    total: Money
    prices_include_tax: bool
    tax_rate_bps: int = 0

    def line(self, sku: str) -> LinePrice | None:
        return next((ln for ln in self.lines if ln.sku == sku), None)


def _tax(net: int, rate_bps: int, include: bool) -> int:
    if rate_bps <= 0 or net <= 0:
        return 0
    if include:
        return round_half_up(net * rate_bps, MAX_BPS + rate_bps)
    return round_half_up(net * rate_bps, MAX_BPS)


def split_fixed(amount: int, totals: list[int]) -> list[int]:
    """Split `amount` (at most sum(totals)) over lines in proportion to their totals, by largest remainder,
    so the parts add up exactly and no part exceeds its line. Ties go to the earlier line."""
    whole = sum(totals)
    if whole <= 0 or amount <= 0:
        return [0] * len(totals)
    amount = min(amount, whole)
    parts = [amount * t // whole for t in totals]
    remainders = [amount * t % whole for t in totals]
    left = amount - sum(parts)
    for i in sorted(range(len(totals)), key=lambda i: (-remainders[i], i))[:left]:
        parts[i] += 1
    return parts


def price(lines: list[PricedLine], *, currency: str, discount: Discount | None = None,
          shipping: ShippingMethod | None = None, tax: TaxRate | None = None, region: str | None = None,
          prices_include_tax: bool = False) -> Breakdown:
    """The breakdown of `lines`. The discount is applied as given (whether it is valid is `Discount.why_not`'s
    question); no shipping method means shipping is free; no tax rate means a rate of 0."""
    for ln in lines:
        if ln.unit_price.currency != currency:
            raise ValueError(f"line {ln.sku} is priced in {ln.unit_price.currency}, not {currency}")
        if ln.quantity < 0 or ln.unit_price.amount < 0:
            raise ValueError(f"line {ln.sku} has a negative quantity or price")
    totals = [ln.total.amount for ln in lines]
    subtotal = sum(totals)

    discounts = [0] * len(lines)
    if discount is not None and discount.kind == PERCENTAGE:
        bps = min(max(discount.percent_bps, 0), MAX_BPS)
        discounts = [round_half_up(t * bps, MAX_BPS) for t in totals]
    elif discount is not None and discount.kind == FIXED and discount.amount is not None:
        discounts = split_fixed(discount.amount.amount, totals)
    discount_total = sum(discounts)

    shipping_total = 0
    if shipping is not None and not (discount is not None and discount.kind == FREE_SHIPPING):
        weight = sum(max(ln.weight_grams, 0) * ln.quantity for ln in lines)
        shipping_total = shipping.price_for(weight, Money(subtotal - discount_total, currency)).amount

    rate = tax.rate_for(region) if tax is not None else 0
    line_taxes = [_tax(t - d, rate, prices_include_tax) for t, d in zip(totals, discounts)]
    shipping_tax = _tax(shipping_total, rate, prices_include_tax) if tax is not None and tax.tax_shipping else 0
    tax_total = sum(line_taxes) + shipping_tax
    total = subtotal - discount_total + shipping_total + (0 if prices_include_tax else tax_total)

    def m(amount: int) -> Money:
        return Money(amount, currency)

    return Breakdown(
        currency=currency,
        lines=tuple(LinePrice(ln.sku, m(t), m(d), m(x)) for ln, t, d, x in zip(lines, totals, discounts, line_taxes)),
        subtotal=m(subtotal), discount_total=m(discount_total), shipping_total=m(shipping_total),
        shipping_tax=m(shipping_tax), tax_total=m(tax_total), total=m(total), prices_include_tax=prices_include_tax,
        tax_rate_bps=rate)


def refund_limit(breakdown: Breakdown, refunded: Money) -> Money:
    """What may still be refunded: the total less what went back already, never below 0."""
    return Money(max(breakdown.total.amount - refunded.amount, 0), breakdown.currency)
