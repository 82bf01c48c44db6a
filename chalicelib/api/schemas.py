"""Request and response models, defined once: they validate requests and generate /openapi.json."""
from __future__ import annotations

from functools import partial
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints, model_serializer

from ..domain.stock_shards import HOT_SHARDS, MAX_SHARDS
from ..domain.text import clean_line

COUNTRIES = frozenset("""
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ
CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR
GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO
JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR
MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO
RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV
TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
""".split())

SKU_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
Sku = Annotated[str, StringConstraints(pattern=SKU_PATTERN)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=200)]
ShortText = Annotated[str, StringConstraints(max_length=200)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Country = Literal[tuple(sorted(COUNTRIES))]  # type: ignore[valid-type]
Quantity = Annotated[int, Field(ge=1, le=99)]
MAX_AMOUNT = 10**11  # a billion in major units: well past any real price, well inside DynamoDB's numbers
ProductStatus = Literal["active", "draft", "archived"]
OrderStatus = Literal["pending_payment", "paid", "shipped", "canceled", "refunded"]
Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
ShippingMethodId = Annotated[str, StringConstraints(pattern=r"^ship_[a-z2-7]{26}$")]


# defer_build: a model's validator is built on its first use, not at import: a cold start that serves
# one route (or none: the workflow's functions share this bundle) builds only what it needs.
class Input(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)


class Output(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


# --- shared ------------------------------------------------------------------------------------------

class MoneyIn(Input):
    amount: Annotated[int, Field(ge=0, le=MAX_AMOUNT, description="integer minor units (cents)")]
    currency: Currency


class Money(Output):
    amount: int = Field(description="integer minor units (cents)")
    currency: str


class FieldProblem(Output):
    field: str
    message: str


class Problem(Output):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str | None = None
    errors: list[FieldProblem] | None = None


class Health(Output):
    status: Literal["ok"]


# --- catalog -----------------------------------------------------------------------------------------

Attributes = Annotated[dict[Annotated[str, StringConstraints(min_length=1, max_length=50)], ShortText],
                       Field(max_length=20)]


class VariantIn(Input):
    sku: Sku
    title: Text
    price: MoneyIn
    attributes: Attributes = Field(default_factory=dict)
    weight_grams: Annotated[int, Field(ge=0, le=10**7, description="weight of one unit; shipping charges per kg")] = 0


Variants = Annotated[list[VariantIn], Field(min_length=1, max_length=50)]
Category = Annotated[str, StringConstraints(max_length=100)]
Description = Annotated[str, StringConstraints(max_length=5000)]


class ProductCreate(Input):
    title: Text
    description: Description = ""
    category: Category = ""
    status: ProductStatus = "active"
    variants: Variants


class ProductPatch(Input):
    """Only the fields sent change. `variants`, when sent, is the whole new list of variants."""

    title: Text = None  # type: ignore[assignment]
    description: Description = None  # type: ignore[assignment]
    category: Category = None  # type: ignore[assignment]
    status: ProductStatus = None  # type: ignore[assignment]
    variants: Variants = None  # type: ignore[assignment]


class VariantOut(Output):
    sku: str
    title: str
    price: Money
    available: int = Field(ge=0)
    attributes: dict[str, str]
    weight_grams: int = Field(default=0, ge=0)


class Product(Output):
    id: str
    title: str
    description: str
    category: str
    status: ProductStatus
    variants: list[VariantOut]
    created_at: Timestamp
    updated_at: Timestamp


class ProductPage(Output):
    items: list[Product]
    next_cursor: str | None


class StockSet(Input):
    on_hand: Annotated[int, Field(ge=0, le=10**9)]
    shards: Annotated[int | None, Field(
        ge=1, le=MAX_SHARDS,
        description="Flags a hot SKU: its stock is kept over this many shard items, so that many checkouts can "
                    f"reserve it at once (about 500 reservations/s each; {HOT_SHARDS} is a good start). 1 makes "
                    "it an ordinary SKU again. Left out, the SKU keeps the count it has. Reads always show one "
                    "on_hand/reserved/available. A count that would take away shards with reserved units is "
                    "refused (409 stock_shards_busy).")] = None


class StockAdjustment(Input):
    delta: Annotated[int, Field(ge=-(10**9), le=10**9)]
    reason: Text


class Stock(Output):
    sku: str
    on_hand: int
    reserved: int
    available: int = Field(ge=0)
    shards: int | None = Field(default=None, ge=2, description="A hot SKU only: how many stock shard items hold "
                                                             "its stock (the figures above are their sum)")

    @model_serializer(mode="wrap")
    def _shards_of_hot_skus_only(self, handler):
        out = handler(self)
        if out.get("shards") is None:
            out.pop("shards", None)
        return out


# --- carts -------------------------------------------------------------------------------------------

class Address(Output):
    name: str
    line1: str
    line2: str | None = None
    city: str
    postal_code: str
    country: str
    region: str | None = None


class CartItemAdd(Input):
    sku: Sku
    quantity: Quantity


class CartCreate(Input):
    items: Annotated[list[CartItemAdd], Field(max_length=50)] = Field(
        default_factory=list, description="Lines to start the cart with (one call instead of one per line); "
                                          "the same rules as adding each item.")


class CartItemSet(Input):
    quantity: Annotated[int, Field(ge=0, le=99)]


class Line(Output):
    sku: str
    title: str
    quantity: int
    unit_price: Money
    total: Money
    discount: Money | None = Field(default=None, description="this line's share of the discount")
    tax: Money | None = Field(default=None, description="tax on this line (contained in it when prices include tax)")


class AppliedDiscount(Output):
    code: str
    amount: Money


class ShippingChoice(Output):
    method_id: str
    name: str
    price: Money


class Cart(Output):
    id: str
    status: Literal["open", "checked_out", "merged"]
    lines: list[Line]
    subtotal: Money
    total: Money
    expires_at: Timestamp
    unavailable_skus: list[str] = Field(
        default_factory=list, description="SKUs in the cart that can no longer be bought; not priced")
    discount_total: Money | None = None
    shipping_total: Money | None = None
    tax_total: Money | None = None
    prices_include_tax: bool = False
    discount: AppliedDiscount | None = None
    discount_problem: str | None = Field(default=None, description="why the cart's code does not apply now")
    shipping_address: Address | None = None
    shipping: ShippingChoice | None = Field(default=None, description="the chosen method, priced for this cart")


# --- checkout and orders -----------------------------------------------------------------------------

def _line(max_length: int):
    """A line of an address: NFC, stripped, not blank, no control or format characters (domain.text)."""
    return Annotated[str, Field(min_length=1, max_length=max_length),
                     AfterValidator(partial(clean_line, max_length=max_length))]


AddressLine, AddressCity, PostalCode = _line(200), _line(100), _line(20)


class AddressIn(Input):
    name: AddressLine
    line1: AddressLine
    line2: AddressLine | None = None
    city: AddressCity
    postal_code: PostalCode
    country: Country = Field(description="ISO 3166-1 alpha-2")
    region: AddressCity | None = None


class CheckoutIn(Input):
    email: Annotated[EmailStr, StringConstraints(max_length=254)] | None = Field(
        default=None, description="Required for a guest; a signed-in customer's account email is the default")
    shipping_address: AddressIn | None = Field(default=None, description="omit to use the cart's destination")
    shipping_method: ShippingMethodId | None = Field(default=None, description="omit to use the cart's method")


class OrderPayment(Output):
    provider: str
    payment_intent_id: str
    status: str


class CheckoutPayment(Output):
    provider: Literal["stripe", "simulated", "none"]
    payment_intent_id: str
    client_secret: str


class Fulfillment(Output):
    carrier: str
    tracking_number: str
    shipped_at: Timestamp


class HistoryEntry(Output):
    status: OrderStatus
    at: Timestamp


class RefundOut(Output):
    id: str
    amount: Money
    status: Literal["pending", "succeeded", "failed"]
    reason: str
    created_at: Timestamp


class Order(Output):
    id: str
    status: OrderStatus
    email: str
    lines: list[Line]
    subtotal: Money
    discount_total: Money
    shipping_total: Money
    tax_total: Money
    total: Money
    prices_include_tax: bool
    discount: AppliedDiscount | None = None
    shipping: ShippingChoice | None = None
    shipping_address: Address
    payment: OrderPayment
    fulfillment: Fulfillment | None
    refunded: Money
    refunds: list[RefundOut] = Field(default_factory=list)
    created_at: Timestamp
    updated_at: Timestamp
    history: list[HistoryEntry]
    customer_id: str | None = Field(default=None, description="The account that placed it; null for a guest")


class OrderPage(Output):
    items: list[Order]
    next_cursor: str | None


class Checkout(Output):
    order: Order
    access_token: str = Field(description="Bearer token that lets the shopper read this order")
    payment: CheckoutPayment


class CancelIn(Input):
    reason: Annotated[str, StringConstraints(max_length=500)] = ""


class RefundIn(Input):
    amount: MoneyIn | None = Field(default=None, description="omit for a full refund of what remains")
    reason: Annotated[str, StringConstraints(max_length=500)] = ""


class RefundResult(Output):
    refund: RefundOut
    order: Order


# --- query strings -----------------------------------------------------------------------------------

Limit = Annotated[int, Field(ge=1, le=100)]
Cursor = Annotated[str, StringConstraints(min_length=1, max_length=2048)]


class ProductQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)
    category: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None
    limit: Limit = 20
    cursor: Cursor | None = None


class OrderQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)
    status: OrderStatus | None = None
    limit: Limit = 20
    cursor: Cursor | None = None
