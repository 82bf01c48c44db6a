"""Customer accounts over HTTP: sign-up and sign-in (Cognito), the profile and saved addresses, the
customer's cart and orders, and the privacy export and erasure. Customers call with
`Authorization: Bearer <id_token>`."""
from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from .. import config, wiring
from ..domain.customers import SavedAddress
from ..domain.errors import FieldError, Invalid
from ..domain.ids import rfc3339
from ..domain.orders import Address
from ..services import accounts, carts
from . import presenters as present
from . import schemas as s
from .common import CART_ID
from .http import Request, Router, looks_like_jwt

ADDRESS_ID = {"address_id": r"^addr_[a-z2-7]{26}$"}

auth = Router("auth", "accounts", cors=True)
me = Router("me", "accounts", cors=True)
ROUTERS = [auth, me]

Email = Annotated[EmailStr, StringConstraints(max_length=254)]
Password = Annotated[str, StringConstraints(min_length=1, max_length=256)]


# --- schemas -----------------------------------------------------------------------------------------

class SignUpIn(s.Input):
    email: Email
    password: Password = Field(description="At least 10 characters, with upper and lower case letters and a digit")


class SignUpOut(s.Output):
    customer_id: str
    confirmed: bool = Field(description="False when a code was emailed: confirm with POST /auth/confirm")


class ConfirmIn(s.Input):
    email: Email
    code: Annotated[str, StringConstraints(pattern=r"^\S{1,64}$")]


class SignInIn(s.Input):
    email: Email
    password: Password


class RefreshIn(s.Input):
    refresh_token: Annotated[str, StringConstraints(min_length=1, max_length=8192)]


class TokensOut(s.Output):
    id_token: str = Field(description="Send as Authorization: Bearer <id_token> on customer calls")
    access_token: str
    refresh_token: str
    expires_in: int = Field(description="Seconds until the ID and access tokens expire")


class SavedAddressOut(s.Address):
    id: str


class Me(s.Output):
    id: str
    email: str
    addresses: list[SavedAddressOut]
    created_at: s.Timestamp


class MergeIn(s.Input):
    cart_id: Annotated[str, StringConstraints(pattern=CART_ID["cart_id"])]


class OrdersQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)
    limit: s.Limit = 20
    cursor: s.Cursor | None = None


class Export(s.Output):
    profile: Me
    orders: list[s.Order]
    cart: s.Cart | None


# --- presenters --------------------------------------------------------------------------------------

def _address(saved: SavedAddress) -> SavedAddressOut:
    a = saved.address
    return SavedAddressOut(id=saved.id, name=a.name, line1=a.line1, line2=a.line2, city=a.city,
                           postal_code=a.postal_code, country=a.country, region=a.region)


def _me(profile, addresses: list[SavedAddress]) -> Me:
    return Me(id=profile.customer_id, email=profile.email, addresses=[_address(a) for a in addresses],
              created_at=rfc3339(profile.created_at))


def _tokens(t) -> TokensOut:
    return TokensOut(id_token=t.id_token, access_token=t.access_token, refresh_token=t.refresh_token,
                     expires_in=t.expires_in)


# --- what other areas' routes ask about the caller ---------------------------------------------------

def customer_id_of(req: Request) -> str:
    """The signed-in customer's id on a route that takes an optional customer token; "" for a guest."""
    return req.customer.customer_id if req.customer is not None else ""


def checkout_email(req: Request, email) -> str:
    """The order's email: the one given, else the signed-in customer's. A guest must give one."""
    if email:
        return str(email)
    if req.customer is not None:
        return req.customer.email
    raise Invalid("an email is required", [FieldError("email", "required when checking out as a guest")])


def owner_of(req: Request) -> str:
    """On a route that takes an order token or a merchant key: the signed-in customer's id when the bearer is
    a customer's ID token (401 if it is not a valid one), else ""."""
    if not looks_like_jwt(req.bearer):
        return ""
    return accounts.authenticate(req.bearer, wiring.accounts(), wiring.context()).customer_id


def order_for_customer_token(order_id: str, token: str):
    """GET /orders/{id} with a customer's ID token: the order if it is that customer's, else a 404."""
    profile = accounts.authenticate(token, wiring.accounts(), wiring.context())
    return accounts.order_for_customer(order_id, profile, wiring.context())


# --- sign-up and sign-in -----------------------------------------------------------------------------

@auth.route("POST", "/auth/sign-up", summary="Create a customer account", status=201, body=SignUpIn,
            response=SignUpOut, errors=(409, 429, 503))
def sign_up(req: Request):
    customer_id, confirmed = accounts.sign_up(str(req.body.email), req.body.password, wiring.accounts(),
                                              wiring.context(), auto_confirm=config.auto_confirm())
    return SignUpOut(customer_id=customer_id, confirmed=confirmed)


@auth.route("POST", "/auth/confirm", summary="Confirm an account with the emailed code", status=204,
            body=ConfirmIn, errors=(429, 503))
def confirm(req: Request):
    accounts.confirm(str(req.body.email), req.body.code, wiring.accounts())


@auth.route("POST", "/auth/sign-in", summary="Sign in: the tokens for customer calls", body=SignInIn,
            response=TokensOut, errors=(401, 429, 503))
def sign_in(req: Request):
    return _tokens(accounts.sign_in(str(req.body.email), req.body.password, wiring.accounts(), wiring.context(),
                                    max_failures=config.sign_in_max_failures(),
                                    window_seconds=config.sign_in_window_seconds()))


@auth.route("POST", "/auth/refresh", summary="New ID and access tokens for a refresh token", body=RefreshIn,
            response=TokensOut, errors=(401, 429, 503))
def refresh(req: Request):
    return _tokens(accounts.refresh(req.body.refresh_token, wiring.accounts()))


# --- the signed-in customer --------------------------------------------------------------------------

@me.route("GET", "/me", summary="The signed-in customer's profile and saved addresses", response=Me,
          customer="required")
def get_me(req: Request):
    return _me(req.customer, accounts.addresses(req.customer, wiring.accounts()))


@me.route("POST", "/me/addresses", summary="Save an address (at most 20)", status=201, body=s.AddressIn,
          response=SavedAddressOut, customer="required", errors=(409,))
def add_address(req: Request):
    a: s.AddressIn = req.body
    saved = accounts.add_address(req.customer, Address(name=a.name, line1=a.line1, line2=a.line2, city=a.city,
                                                       postal_code=a.postal_code, country=a.country,
                                                       region=a.region), wiring.accounts(), wiring.context())
    return _address(saved)


@me.route("DELETE", "/me/addresses/{address_id}", summary="Delete a saved address", status=204,
          customer="required", path_patterns=ADDRESS_ID)
def remove_address(req: Request, address_id: str):
    accounts.remove_address(req.customer, address_id, wiring.accounts())


@me.route("GET", "/me/cart", summary="The signed-in customer's open cart (made on first use)", response=s.Cart,
          customer="required", errors=(409,))
def my_cart(req: Request):
    return present.cart(accounts.customer_cart(req.customer, wiring.accounts(), wiring.context(), config.cart_ttl()))


@me.route("POST", "/me/cart/merge", summary="Move a guest cart's lines into the customer's cart", body=MergeIn,
          response=s.Cart, customer="required", errors=(404, 409))
def merge_cart(req: Request):
    return present.cart(accounts.merge_cart(req.customer, req.body.cart_id, wiring.accounts(), wiring.context(),
                                            config.cart_ttl()))


@me.route("GET", "/me/orders", summary="The signed-in customer's orders, newest first", query=OrdersQuery,
          response=s.OrderPage, customer="required")
def my_orders(req: Request):
    page = accounts.orders(req.customer, wiring.accounts(), limit=req.query.limit, cursor=req.query.cursor)
    return s.OrderPage(items=[present.order(o) for o in page.items], next_cursor=page.next_cursor)


# --- privacy -----------------------------------------------------------------------------------------

@me.route("GET", "/me/export", summary="Everything Shelf holds about the signed-in customer", response=Export,
          customer="required")
def export(req: Request):
    ctx = wiring.context()
    held = accounts.export(req.customer, wiring.accounts(), ctx)
    cart = None
    if held.cart is not None and not held.cart.is_expired(ctx.clock()):
        cart = present.cart(carts.view(held.cart, ctx))
    return Export(profile=_me(held.profile, held.addresses), orders=[present.order(o) for o in held.orders],
                  cart=cart)


@me.route("DELETE", "/me", summary="Erase the account: its profile, addresses and sign-in; orders keep no "
          "personal data", status=204, customer="erasure", errors=(503,))
def erase(req: Request):
    accounts.erase(req.customer, wiring.accounts(), wiring.context())
