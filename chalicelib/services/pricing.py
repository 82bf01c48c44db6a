"""Pricing use cases: the merchant's shipping methods, tax rates and discount codes, and the quote of a cart
(its breakdown through the one pricing function, for the cart view, the shipping options and checkout)."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from ..domain.address import Address
from ..domain.cart import Cart, PricedLine
from ..domain.errors import FieldError, Invalid, NotFound, found
from ..domain.ids import new_id
from ..domain.money import Money
from ..domain.orders import Order
from ..domain.pricing import (
    DISCOUNT_KINDS,
    FIXED,
    MAX_BPS,
    PERCENTAGE,
    Breakdown,
    Discount,
    DiscountExhausted,
    DiscountInvalid,
    ShippingMethod,
    ShippingMethodRequired,
    ShippingUnavailable,
    TaxRate,
    normalize_code,
    price,
)
from .context import Context
from .pricing_store import UNSET, PricingStore
from .retry import retrying


def _store(ctx: Context) -> PricingStore | None:
    return getattr(ctx, "pricing", None)


@dataclass(frozen=True)
class Quote:
    breakdown: Breakdown
    discount: Discount | None = None  # the code applied
    discount_problem: str = ""  # why the cart's code does not apply now
    method: ShippingMethod | None = None
    address: Address | None = None


def quote(lines: list[PricedLine], ctx: Context, *, discount_code: str = "", address: Address | None = None,
          method_id: str = "", strict: bool = False) -> Quote:
    """Prices `lines` for a destination, a method and a code. `strict` (checkout): a code that does not apply,
    a missing method or one that does not serve the address is refused; otherwise (the cart view) it is left
    out and the cart shows why."""
    store, currency = _store(ctx), ctx.currency
    items = list(lines)
    subtotal = price(items, currency=currency).subtotal
    discount, problem = None, ""
    if discount_code:
        code = normalize_code(discount_code)
        found_code = store.discount(code) if store and code else None
        problem = ("a code is not blank" if not code else f"there is no code {code}" if found_code is None
                   else found_code.why_not(subtotal, ctx.clock()) or "")
        if problem and strict and found_code is not None and found_code.used_up:
            raise DiscountExhausted(problem + "; nothing was reserved")
        if problem and strict:
            raise DiscountInvalid(problem)
        discount = None if problem else found_code
    method, rate = None, None
    if address is not None and store is not None:
        method = _method_for(store, address.country, method_id, strict)
        rate = store.rate(address.country)
    breakdown = price(items, currency=currency, discount=discount, shipping=method, tax=rate,
                      region=address.region if address else None, prices_include_tax=_include_tax(ctx))
    return Quote(breakdown, discount, problem, method, address)


def _include_tax(ctx: Context) -> bool:
    return bool(getattr(ctx, "prices_include_tax", False))


def _method_for(store: PricingStore, country: str, method_id: str, strict: bool) -> ShippingMethod | None:
    if method_id:
        method = store.method(method_id)
        if method is not None and method.serves(country):
            return method
        if strict:
            raise ShippingUnavailable(f"the shipping method {method_id} does not ship to {country}",
                                      [FieldError("shipping_method", f"not offered for {country}")])
        return None
    if strict and any(m.active for m in store.methods()):
        offered = [m.id for m in store.methods() if m.serves(country)]
        if not offered:
            raise ShippingUnavailable(f"no shipping method ships to {country}",
                                      [FieldError("shipping_address.country", f"nothing ships to {country}")])
        raise ShippingMethodRequired(f"choose a shipping method for {country}: {', '.join(offered)}",
                                     [FieldError("shipping_method", "required")])
    return None


def shipping_options(lines: list[PricedLine], cart: Cart, country: str, ctx: Context) -> list[tuple[ShippingMethod,
                                                                                                      Money]]:
    """Every active method serving `country`, priced for these lines with the cart's code as it applies now,
    cheapest first."""
    store = _store(ctx)
    if store is None:
        return []
    address = Address(name="-", line1="-", city="-", postal_code="-", country=country)
    options = []
    for method in store.methods():
        if method.serves(country):
            q = quote(lines, ctx, discount_code=cart.discount_code, address=address, method_id=method.id)
            options.append((method, q.breakdown.shipping_total))
    return sorted(options, key=lambda option: (option[1].amount, option[0].name, option[0].id))


def valid_method(method_id: str, country: str, ctx: Context) -> None:
    store = _store(ctx)
    method = store.method(method_id) if store else None
    if method is None or not method.serves(country):
        raise ShippingUnavailable(f"the shipping method {method_id} does not ship to {country}",
                                  [FieldError("shipping_method", f"not offered for {country}")])


def usable_code(code: str, lines: list[PricedLine], ctx: Context) -> Discount:
    """The discount for `code` if it applies to these lines now; else 422 discount_invalid saying why."""
    q = quote(lines, ctx, discount_code=code, strict=False)
    if q.discount_problem:
        raise DiscountInvalid(q.discount_problem)
    return q.discount


def breakdown_data(order: Order) -> dict:
    """The breakdown as the order's webhooks carry it."""
    b = order.pricing
    return {
        "subtotal": b.subtotal.as_dict(), "discount_total": b.discount_total.as_dict(),
        "shipping_total": b.shipping_total.as_dict(), "tax_total": b.tax_total.as_dict(),
        "prices_include_tax": b.prices_include_tax,
        "shipping_method": None if order.shipping_method is None else {
            "method_id": order.shipping_method.method_id, "name": order.shipping_method.name},
        "discount": None if order.discount is None else {"code": order.discount.code,
                                                         "amount": b.discount_total.as_dict()},
    }


# --- merchant: shipping methods ----------------------------------------------------------------------

def _require(ctx: Context) -> PricingStore:
    store = _store(ctx)
    if store is None:
        raise NotFound("pricing is not configured")
    return store


def _check_money(errors: list[FieldError], name: str, value: Money | None, currency: str) -> None:
    if value is not None and value.currency != currency:
        errors.append(FieldError(f"{name}.currency", f"the store sells in {currency}"))


def _check_method(m: ShippingMethod, currency: str) -> None:
    errors: list[FieldError] = []
    for name in ("price", "free_over", "per_kg"):
        _check_money(errors, name, getattr(m, name), currency)
    if "*" in m.countries and len(m.countries) > 1:
        errors.append(FieldError("countries", '"*" serves every country; list no other'))
    if m.min_days is not None and m.max_days is not None and m.min_days > m.max_days:
        errors.append(FieldError("max_days", "must not be below min_days"))
    if errors:
        raise Invalid("the shipping method is not valid", errors)


def create_method(fields: dict, ctx: Context) -> ShippingMethod:
    method = ShippingMethod(id=new_id("ship"), created_at=ctx.clock(), **fields)
    _check_method(method, ctx.currency)
    _require(ctx).add_method(method)
    return method


def update_method(method_id: str, changes: dict, ctx: Context) -> ShippingMethod:
    store = _require(ctx)

    def attempt() -> ShippingMethod:
        old = found(store.method(method_id), f"shipping method {method_id}")
        new = replace(old, **changes)
        _check_method(new, ctx.currency)
        if new != old:
            store.replace_method(old, new)
        return new

    return retrying(attempt, times=5, conflict=f"shipping method {method_id} is changing; try again")


def get_method(method_id: str, ctx: Context) -> ShippingMethod:
    return found(_require(ctx).method(method_id), f"shipping method {method_id}")


# --- merchant: tax rates -----------------------------------------------------------------------------

def put_rate(rate: TaxRate, ctx: Context) -> TaxRate:
    _require(ctx).put_rate(rate)
    return rate


def delete_rate(country: str, ctx: Context) -> None:
    if not _require(ctx).delete_rate(country):
        raise NotFound(f"no tax rate for {country}")


# --- merchant: discounts -----------------------------------------------------------------------------

def create_discount(fields: dict, ctx: Context) -> Discount:
    fields = dict(fields)
    fields["code"] = normalize_code(fields["code"])
    discount = Discount(created_at=ctx.clock(), **fields)
    _check_discount(discount, ctx.currency)
    _require(ctx).add_discount(discount)
    return discount


def _check_discount(d: Discount, currency: str) -> None:
    errors: list[FieldError] = []
    if d.kind not in DISCOUNT_KINDS:
        errors.append(FieldError("kind", f"must be one of {', '.join(DISCOUNT_KINDS)}"))
    if d.kind == PERCENTAGE and not 1 <= d.percent_bps <= MAX_BPS:
        errors.append(FieldError("percent_bps", "a percentage discount needs percent_bps 1..10000 (at most 100 %)"))
    if d.kind != PERCENTAGE and d.percent_bps:
        errors.append(FieldError("percent_bps", f"only for a percentage discount, not {d.kind}"))
    if d.kind == FIXED and (d.amount is None or d.amount.amount <= 0):
        errors.append(FieldError("amount", "a fixed discount needs an amount above 0"))
    if d.kind != FIXED and d.amount is not None:
        errors.append(FieldError("amount", f"only for a fixed discount, not {d.kind}"))
    _check_money(errors, "amount", d.amount, currency)
    _check_money(errors, "min_subtotal", d.min_subtotal, currency)
    _check_window(errors, d.starts_at, d.ends_at)
    if errors:
        raise Invalid("the discount is not valid", errors)


def _check_window(errors: list[FieldError], starts_at: datetime | None, ends_at: datetime | None) -> None:
    if starts_at is not None and ends_at is not None and ends_at <= starts_at:
        errors.append(FieldError("ends_at", "must be after starts_at"))


def get_discount(code: str, ctx: Context) -> Discount:
    return found(_require(ctx).discount(code), f"discount code {normalize_code(code)}")


def update_discount(code: str, changes: dict, ctx: Context) -> Discount:
    current = get_discount(code, ctx)
    if "ends_at" in changes:
        errors: list[FieldError] = []
        _check_window(errors, current.starts_at, changes["ends_at"])
        if errors:
            raise Invalid("the discount is not valid", errors)
    kwargs = {k: changes[k] for k in ("active", "ends_at", "usage_limit") if k in changes}
    updated = _require(ctx).update_discount(current.code, **{k: kwargs.get(k, UNSET) for k in
                                                             ("active", "ends_at", "usage_limit")})
    return found(updated, f"discount code {current.code}")
