from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from .address import Address
from .catalog import SkuInfo
from .errors import CartNotOpen, FieldError, Invalid, NotFound
from .money import Money, total

MAX_LINE_QUANTITY = 99
MAX_LINES = 50


@dataclass(frozen=True)
class Cart:
    id: str
    status: str
    lines: dict[str, int]
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    version: int = 0
    discount_code: str = ""
    shipping_address: Address | None = None
    shipping_method: str = ""
    customer_id: str = ""  # the account that owns it; "" for a guest cart (its id is the capability)

    def is_expired(self, now: datetime) -> bool:
        return now >= self.expires_at

    def visible_to(self, customer_id: str) -> bool:
        """A customer's cart is theirs alone; a guest cart is anyone's who holds its id."""
        return not self.customer_id or self.customer_id == customer_id

    def ensure_open(self) -> None:
        if self.status != "open":
            raise CartNotOpen(f"cart {self.id} is {self.status}")

    def _with_lines(self, lines: dict[str, int], now: datetime, ttl: timedelta) -> Cart:
        return replace(self, lines=lines, updated_at=now, expires_at=now + ttl)

    def add(self, sku: str, quantity: int, now: datetime, ttl: timedelta) -> Cart:
        self.ensure_open()
        _check_quantity(quantity, minimum=1)
        new_qty = self.lines.get(sku, 0) + quantity
        if new_qty > MAX_LINE_QUANTITY:
            raise Invalid("too many of one item",
                          [FieldError("quantity", f"a line holds at most {MAX_LINE_QUANTITY}; "
                                                  f"the cart already has {self.lines.get(sku, 0)}")])
        if sku not in self.lines and len(self.lines) >= MAX_LINES:
            raise Invalid("cart is full", [FieldError("sku", f"a cart holds at most {MAX_LINES} lines")])
        return self._with_lines({**self.lines, sku: new_qty}, now, ttl)

    def set_quantity(self, sku: str, quantity: int, now: datetime, ttl: timedelta) -> Cart:
        self.ensure_open()
        _check_quantity(quantity, minimum=0)
        if sku not in self.lines:
            raise NotFound(f"no line for SKU {sku} in this cart")
        lines = dict(self.lines)
        if quantity == 0:
            del lines[sku]
        else:
            lines[sku] = quantity
        return self._with_lines(lines, now, ttl)

    def remove(self, sku: str, now: datetime, ttl: timedelta) -> Cart:
        """Idempotent: removing a line that is not there leaves the cart as it is."""
        self.ensure_open()
        if sku not in self.lines:
            return self
        return self.set_quantity(sku, 0, now, ttl)


def _check_quantity(quantity: int, minimum: int) -> None:
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not minimum <= quantity <= MAX_LINE_QUANTITY:
        raise Invalid("bad quantity", [FieldError("quantity", f"must be an integer {minimum}..{MAX_LINE_QUANTITY}")])


@dataclass(frozen=True)
class PricedLine:
    sku: str
    title: str
    quantity: int
    unit_price: Money
    weight_grams: int = 0

    @property
    def total(self) -> Money:
        return self.unit_price * self.quantity


class Priced:
    """What a priced cart and an order share: the sums of their `lines` in their `currency`, in one place."""

    lines: list[PricedLine] | tuple[PricedLine, ...]
    currency: str

    @property
    def subtotal(self) -> Money:
        return total([line.total for line in self.lines], self.currency)


@dataclass(frozen=True)
class PricedCart(Priced):
    lines: list[PricedLine]
    currency: str
    unavailable: list[str] = field(default_factory=list)
    stock_shards: dict[str, int] = field(default_factory=dict)  # the hot SKUs among the lines: their shard counts


def price_lines(lines: dict[str, int], catalog: dict[str, SkuInfo], currency: str) -> PricedCart:
    """Prices always come from the catalog. Lines whose SKU can no longer be sold are left out and named."""
    priced, unavailable = [], []
    for sku, qty in lines.items():
        info = catalog.get(sku)
        if info is None or not info.sellable or info.price.currency != currency:
            unavailable.append(sku)
            continue
        priced.append(PricedLine(sku=sku, title=info.title, quantity=qty, unit_price=info.price,
                                 weight_grams=info.weight_grams))
    shards = {ln.sku: catalog[ln.sku].stock_shards for ln in priced if catalog[ln.sku].stock_shards > 1}
    return PricedCart(lines=priced, currency=currency, unavailable=unavailable, stock_shards=shards)
