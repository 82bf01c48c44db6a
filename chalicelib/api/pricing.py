"""Pricing routes: the merchant's shipping methods, tax rates and discount codes, and the storefront's
shipping options, destination and discount code on a cart."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from .. import config
from ..domain.address import Address
from ..domain.errors import FieldError, Invalid
from ..domain.ids import rfc3339
from ..domain.money import Money
from ..domain.pricing import Discount, ShippingMethod, TaxRate
from ..services import cart_pricing
from ..services import pricing as pricing_service
from . import presenters as present
from . import schemas as s
from .accounts import customer_id_of
from .common import CART_ID, ID, ctx
from .http import Request, Router

METHOD_ID = {"method_id": ID.format(prefix="ship")}
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
CODE = {"code": CODE_PATTERN}
SCOPE = "pricing:write"

merchant = Router("pricing_admin", "pricing")
storefront = Router("pricing_carts", "carts", cors=True)
ROUTERS = [merchant, storefront]


# --- schemas -----------------------------------------------------------------------------------------

Days = Annotated[int, Field(ge=0, le=365)]
Bps = Annotated[int, Field(ge=0, le=10000, description="basis points: 2000 = 20 %")]
ShipTo = s.Country | Literal["*"]  # type: ignore[valid-type]
RegionCode = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class ShippingMethodIn(s.Input):
    name: s.Text
    countries: Annotated[list[ShipTo], Field(min_length=1, max_length=250,
                                             description='ISO 3166-1 alpha-2 codes, or ["*"] for every country')]
    price: s.MoneyIn
    free_over: s.MoneyIn | None = Field(default=None, description="free at or above this subtotal after discounts")
    per_kg: s.MoneyIn | None = Field(default=None, description="added for every started kilogram of the cart")
    min_days: Days | None = None
    max_days: Days | None = None
    active: bool = True


class ShippingMethodPatch(s.Input):
    """Only the fields sent change; null clears an optional one."""

    name: s.Text = None  # type: ignore[assignment]
    countries: Annotated[list[ShipTo], Field(min_length=1, max_length=250)] = None  # type: ignore[assignment]
    price: s.MoneyIn = None  # type: ignore[assignment]
    free_over: s.MoneyIn | None = None
    per_kg: s.MoneyIn | None = None
    min_days: Days | None = None
    max_days: Days | None = None
    active: bool = None  # type: ignore[assignment]


class ShippingMethodOut(s.Output):
    id: str
    name: str
    countries: list[str]
    price: s.Money
    free_over: s.Money | None
    per_kg: s.Money | None
    min_days: int | None
    max_days: int | None
    active: bool
    created_at: s.Timestamp | None


class ShippingMethodPage(s.Output):
    items: list[ShippingMethodOut]
    next_cursor: str | None


class TaxRateIn(s.Input):
    rate_bps: Bps
    regions: Annotated[dict[RegionCode, Bps], Field(max_length=100, description="region -> rate_bps")] = Field(
        default_factory=dict)
    tax_shipping: bool = True


class TaxRateOut(s.Output):
    country: str
    rate_bps: int
    regions: dict[str, int]
    tax_shipping: bool


class TaxRatePage(s.Output):
    items: list[TaxRateOut]
    next_cursor: str | None


class DiscountIn(s.Input):
    code: Annotated[str, StringConstraints(pattern=CODE_PATTERN)] = Field(description="case-insensitive")
    kind: Literal["percentage", "fixed", "free_shipping"]
    percent_bps: Annotated[int, Field(ge=1, le=10000)] | None = Field(default=None, description="percentage only")
    amount: s.MoneyIn | None = Field(default=None, description="fixed only")
    min_subtotal: s.MoneyIn | None = None
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    usage_limit: Annotated[int, Field(ge=1, le=10**9)] | None = None
    once_per_email: bool = False


class DiscountPatch(s.Input):
    active: bool = None  # type: ignore[assignment]
    ends_at: AwareDatetime | None = None
    usage_limit: Annotated[int, Field(ge=1, le=10**9)] | None = None


class DiscountOut(s.Output):
    code: str
    kind: str
    percent_bps: int | None
    amount: s.Money | None
    min_subtotal: s.Money | None
    starts_at: s.Timestamp | None
    ends_at: s.Timestamp | None
    usage_limit: int | None
    once_per_email: bool
    times_used: int
    active: bool
    created_at: s.Timestamp | None


class DiscountPage(s.Output):
    items: list[DiscountOut]
    next_cursor: str | None


class DiscountQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)
    limit: s.Limit = 20
    cursor: s.Cursor | None = None


class ShippingOptionsQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)
    country: s.Country = Field(description="ISO 3166-1 alpha-2")  # type: ignore[valid-type]


class ShippingOption(s.Output):
    id: str
    name: str
    price: s.Money
    min_days: int | None
    max_days: int | None


class ShippingOptions(s.Output):
    items: list[ShippingOption]


class CartShippingIn(s.Input):
    shipping_address: s.AddressIn
    shipping_method: s.ShippingMethodId | None = None


class CartDiscountIn(s.Input):
    code: Annotated[str, StringConstraints(min_length=1, max_length=64)]


# --- presenting --------------------------------------------------------------------------------------

def _money(m: s.MoneyIn | None) -> Money | None:
    return None if m is None else Money(m.amount, m.currency)


def _out(m: Money | None) -> s.Money | None:
    return None if m is None else present.money(m)


def _time(t) -> str | None:
    return None if t is None else rfc3339(t)


def method_out(m: ShippingMethod) -> ShippingMethodOut:
    return ShippingMethodOut(id=m.id, name=m.name, countries=list(m.countries), price=present.money(m.price),
                             free_over=_out(m.free_over), per_kg=_out(m.per_kg), min_days=m.min_days,
                             max_days=m.max_days, active=m.active, created_at=_time(m.created_at))


def rate_out(r: TaxRate) -> TaxRateOut:
    return TaxRateOut(country=r.country, rate_bps=r.rate_bps, regions=dict(r.regions), tax_shipping=r.tax_shipping)


def discount_out(d: Discount) -> DiscountOut:
    return DiscountOut(code=d.code, kind=d.kind, percent_bps=d.percent_bps or None, amount=_out(d.amount),
                       min_subtotal=_out(d.min_subtotal), starts_at=_time(d.starts_at), ends_at=_time(d.ends_at),
                       usage_limit=d.usage_limit, once_per_email=d.once_per_email, times_used=d.times_used,
                       active=d.active, created_at=_time(d.created_at))


def _instant(value: datetime | None, name: str) -> datetime | None:
    """An aware timestamp as UTC; one too far from now to store (year outside 2000..9998) is a 422."""
    if value is None:
        return None
    try:
        utc = value.astimezone(timezone.utc)
    except OverflowError:
        utc = None
    if utc is None or not 2000 <= utc.year <= 9998:
        raise Invalid("timestamp out of range", [FieldError(name, "must be between the years 2000 and 9998")])
    return utc


def _country(code: str) -> str:
    if code not in s.COUNTRIES:
        raise Invalid("unknown country", [FieldError("country", f"{code} is not an ISO 3166-1 alpha-2 code")])
    return code


# --- merchant: shipping methods ----------------------------------------------------------------------

def _method_fields(b: BaseModel, fields: set[str]) -> dict:
    out = {}
    for name in fields:
        value = getattr(b, name)
        if name in ("price", "free_over", "per_kg"):
            value = _money(value)
        elif name == "countries":
            value = tuple(dict.fromkeys(value))
        out[name] = value
    return out


@merchant.route("POST", "/admin/shipping-methods", summary="Create a shipping method", status=201,
                body=ShippingMethodIn, response=ShippingMethodOut, scope=SCOPE)
def create_shipping_method(req: Request):
    fields = _method_fields(req.body, set(ShippingMethodIn.model_fields))
    return method_out(pricing_service.create_method(fields, ctx()))


@merchant.route("GET", "/admin/shipping-methods", summary="List shipping methods", response=ShippingMethodPage,
                scope=SCOPE)
def list_shipping_methods(req: Request):
    return ShippingMethodPage(items=[method_out(m) for m in ctx().pricing.methods()], next_cursor=None)


@merchant.route("GET", "/admin/shipping-methods/{method_id}", summary="One shipping method",
                response=ShippingMethodOut, scope=SCOPE, path_patterns=METHOD_ID)
def get_shipping_method(req: Request, method_id: str):
    return method_out(pricing_service.get_method(method_id, ctx()))


@merchant.route("PATCH", "/admin/shipping-methods/{method_id}", summary="Change a shipping method",
                body=ShippingMethodPatch, response=ShippingMethodOut, scope=SCOPE, errors=(409,),
                path_patterns=METHOD_ID)
def patch_shipping_method(req: Request, method_id: str):
    sent = set(req.body.model_dump(exclude_unset=True))
    required = {"name", "countries", "price", "active"}
    nulls = [name for name in sent & required if getattr(req.body, name) is None]
    if nulls:
        raise Invalid("a required field cannot be cleared", [FieldError(n, "may not be null") for n in nulls])
    return method_out(pricing_service.update_method(method_id, _method_fields(req.body, sent), ctx()))


@merchant.route("DELETE", "/admin/shipping-methods/{method_id}", summary="Deactivate a shipping method",
                status=204, scope=SCOPE, errors=(409,), path_patterns=METHOD_ID)
def delete_shipping_method(req: Request, method_id: str):
    pricing_service.update_method(method_id, {"active": False}, ctx())


# --- merchant: tax rates -----------------------------------------------------------------------------

@merchant.route("PUT", "/admin/tax-rates/{country}", summary="Set a country's tax rate", body=TaxRateIn,
                response=TaxRateOut, scope=SCOPE)
def put_tax_rate(req: Request, country: str):
    b: TaxRateIn = req.body
    rate = TaxRate(country=_country(country), rate_bps=b.rate_bps, regions=dict(b.regions),
                   tax_shipping=b.tax_shipping)
    return rate_out(pricing_service.put_rate(rate, ctx()))


@merchant.route("GET", "/admin/tax-rates", summary="List tax rates", response=TaxRatePage, scope=SCOPE)
def list_tax_rates(req: Request):
    return TaxRatePage(items=[rate_out(r) for r in ctx().pricing.rates()], next_cursor=None)


@merchant.route("DELETE", "/admin/tax-rates/{country}", summary="Remove a country's tax rate (taxed at 0)",
                status=204, scope=SCOPE, errors=(422,))
def delete_tax_rate(req: Request, country: str):
    pricing_service.delete_rate(_country(country), ctx())


# --- merchant: discount codes ------------------------------------------------------------------------

@merchant.route("POST", "/admin/discounts", summary="Create a discount code", status=201, body=DiscountIn,
                response=DiscountOut, scope=SCOPE, errors=(409,))
def create_discount(req: Request):
    b: DiscountIn = req.body
    fields = dict(code=b.code, kind=b.kind, percent_bps=b.percent_bps or 0, amount=_money(b.amount),
                  min_subtotal=_money(b.min_subtotal), starts_at=_instant(b.starts_at, "starts_at"),
                  ends_at=_instant(b.ends_at, "ends_at"),
                  usage_limit=b.usage_limit, once_per_email=b.once_per_email)
    return discount_out(pricing_service.create_discount(fields, ctx()))


@merchant.route("GET", "/admin/discounts", summary="List discount codes", query=DiscountQuery,
                response=DiscountPage, scope=SCOPE)
def list_discounts(req: Request):
    page = ctx().pricing.discounts(limit=req.query.limit, cursor=req.query.cursor)
    return DiscountPage(items=[discount_out(d) for d in page.items], next_cursor=page.next_cursor)


@merchant.route("GET", "/admin/discounts/{code}", summary="One discount code", response=DiscountOut, scope=SCOPE,
                path_patterns=CODE)
def get_discount(req: Request, code: str):
    return discount_out(pricing_service.get_discount(code, ctx()))


@merchant.route("PATCH", "/admin/discounts/{code}", summary="Change a code's active flag, end or usage limit",
                body=DiscountPatch, response=DiscountOut, scope=SCOPE, path_patterns=CODE)
def patch_discount(req: Request, code: str):
    changes = {name: getattr(req.body, name) for name in req.body.model_dump(exclude_unset=True)}
    if "active" in changes and changes["active"] is None:
        raise Invalid("active cannot be cleared", [FieldError("active", "may not be null")])
    if "ends_at" in changes:
        changes["ends_at"] = _instant(changes["ends_at"], "ends_at")
    return discount_out(pricing_service.update_discount(code, changes, ctx()))


@merchant.route("DELETE", "/admin/discounts/{code}", summary="Deactivate a discount code", status=204,
                scope=SCOPE, path_patterns=CODE)
def delete_discount(req: Request, code: str):
    pricing_service.update_discount(code, {"active": False}, ctx())


# --- storefront --------------------------------------------------------------------------------------

@storefront.route("GET", "/carts/{cart_id}/shipping-options", summary="Shipping methods for a country, priced "
                  "for the cart as it is", query=ShippingOptionsQuery, response=ShippingOptions,
                  path_patterns=CART_ID, customer="optional")
def shipping_options(req: Request, cart_id: str):
    options = cart_pricing.shipping_options(cart_id, req.query.country, ctx(), customer_id_of(req))
    return ShippingOptions(items=[ShippingOption(id=m.id, name=m.name, price=present.money(p), min_days=m.min_days,
                                                 max_days=m.max_days) for m, p in options])


@storefront.route("PUT", "/carts/{cart_id}/shipping", summary="Set the cart's destination (address and method): "
                  "the cart then shows shipping and tax", body=CartShippingIn, response=s.Cart, errors=(409,),
                  path_patterns=CART_ID, customer="optional")
def set_cart_shipping(req: Request, cart_id: str):
    a = req.body.shipping_address
    address = Address(name=a.name, line1=a.line1, line2=a.line2, city=a.city, postal_code=a.postal_code,
                      country=a.country, region=a.region)
    return present.cart(cart_pricing.set_destination(cart_id, address, req.body.shipping_method or "", ctx(),
                                                     config.cart_ttl(), customer_id_of(req)))


@storefront.route("PUT", "/carts/{cart_id}/discount", summary="Apply a discount code (one per cart); 422 "
                  "discount_invalid says why one does not apply", body=CartDiscountIn, response=s.Cart,
                  errors=(409,), path_patterns=CART_ID, customer="optional")
def apply_cart_discount(req: Request, cart_id: str):
    return present.cart(cart_pricing.apply_code(cart_id, req.body.code, ctx(), config.cart_ttl(),
                                                customer_id_of(req)))


@storefront.route("DELETE", "/carts/{cart_id}/discount", summary="Remove the cart's discount code",
                  response=s.Cart, errors=(409,), path_patterns=CART_ID, customer="optional")
def remove_cart_discount(req: Request, cart_id: str):
    return present.cart(cart_pricing.remove_code(cart_id, ctx(), config.cart_ttl(), customer_id_of(req)))
