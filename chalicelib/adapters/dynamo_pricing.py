"""Shipping methods, tax rates and discount codes in one table (pk = what, sk = which). A discount's item is
also its use counter; a once-per-email code keeps one redemption item per email. Checkout redeems and
cancellation gives back inside the orders' own transactions (`redeem`, `give_back`)."""
from __future__ import annotations

import json
from datetime import datetime

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from ..domain.ids import rfc3339
from ..domain.money import Money
from ..domain.pricing import (
    CodeRelease,
    Discount,
    DiscountCodeTaken,
    DiscountExhausted,
    DiscountInvalid,
    ShippingMethod,
    TaxRate,
    normalize_code,
    normalize_email,
)
from ..services.ports import Page, StaleWrite
from ..services.pricing_store import UNSET, PricingStore
from . import cursor as cursors
from . import models
from .dynamodb import Tx, written

SHIPPING, TAX, DISCOUNT = "shipping", "tax", "discount"


class PricingModel(Model):
    class Meta:
        table_name = "pricing"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    doc = UnicodeAttribute(default="{}")  # the definition, as JSON (immutable parts for a discount)
    active = BooleanAttribute(null=True)
    ends_at = UnicodeAttribute(null=True)
    usage_limit = NumberAttribute(null=True)
    times_used = NumberAttribute(null=True)
    order_id = UnicodeAttribute(null=True)
    redeemed_at = UnicodeAttribute(null=True)


models.register(PricingModel, "pricing")
bind = models.bind


def _get(pk: str, sk: str) -> PricingModel | None:
    bind()
    try:
        return PricingModel.get(pk, sk)
    except PricingModel.DoesNotExist:
        return None


def _query(pk: str) -> list[PricingModel]:
    bind()
    return list(PricingModel.query(pk))


def _money(value: dict | None) -> Money | None:
    return None if value is None else Money(int(value["amount"]), value["currency"])


def _time(value: str | None) -> datetime | None:
    return None if not value else datetime.fromisoformat(value.replace("Z", "+00:00"))


# --- shipping methods --------------------------------------------------------------------------------

def _method_doc(m: ShippingMethod) -> str:
    return json.dumps({"name": m.name, "countries": list(m.countries), "price": m.price.as_dict(),
                       "free_over": m.free_over.as_dict() if m.free_over else None,
                       "per_kg": m.per_kg.as_dict() if m.per_kg else None, "min_days": m.min_days,
                       "max_days": m.max_days, "active": m.active,
                       "created_at": rfc3339(m.created_at) if m.created_at else None}, sort_keys=True)


def _method_from(item: PricingModel) -> ShippingMethod:
    d = json.loads(item.doc)
    return ShippingMethod(id=item.sk, name=d["name"], countries=tuple(d["countries"]), price=_money(d["price"]),
                          free_over=_money(d.get("free_over")), per_kg=_money(d.get("per_kg")),
                          min_days=d.get("min_days"), max_days=d.get("max_days"), active=bool(d.get("active", True)),
                          created_at=_time(d.get("created_at")))


# --- tax rates ---------------------------------------------------------------------------------------

def _rate_from(item: PricingModel) -> TaxRate:
    d = json.loads(item.doc)
    return TaxRate(country=item.sk, rate_bps=int(d["rate_bps"]), regions={k: int(v) for k, v in d["regions"].items()},
                   tax_shipping=bool(d["tax_shipping"]))


# --- discounts ---------------------------------------------------------------------------------------

def _discount_item(d: Discount) -> PricingModel:
    doc = {"kind": d.kind, "percent_bps": d.percent_bps, "amount": d.amount.as_dict() if d.amount else None,
           "min_subtotal": d.min_subtotal.as_dict() if d.min_subtotal else None,
           "starts_at": rfc3339(d.starts_at) if d.starts_at else None, "once_per_email": d.once_per_email,
           "created_at": rfc3339(d.created_at) if d.created_at else None}
    return PricingModel(DISCOUNT, d.code, doc=json.dumps(doc, sort_keys=True), active=d.active,
                        ends_at=rfc3339(d.ends_at) if d.ends_at else None, usage_limit=d.usage_limit,
                        times_used=d.times_used)


def _discount_from(item: PricingModel) -> Discount:
    d = json.loads(item.doc)
    return Discount(code=item.sk, kind=d["kind"], percent_bps=int(d.get("percent_bps") or 0),
                    amount=_money(d.get("amount")), min_subtotal=_money(d.get("min_subtotal")),
                    starts_at=_time(d.get("starts_at")), ends_at=_time(item.ends_at),
                    usage_limit=None if item.usage_limit is None else int(item.usage_limit),
                    once_per_email=bool(d.get("once_per_email")), active=bool(item.active),
                    times_used=int(item.times_used or 0), created_at=_time(d.get("created_at")))


def _redemption_key(code: str) -> str:
    return f"redemption#{code}"


def redeem(tx: Tx, *, code: str, email: str, once_per_email: bool, order_id: str, at: datetime) -> None:
    """Adds one use of `code` to the transaction `tx` (label "discount"), under `times_used < usage_limit`
    and the code still active and not ended as of `at` (the checkout's clock: a code deactivated or ended
    after it was priced is not redeemed; its start is fixed at creation, so a code priced valid has started);
    with `once_per_email`, the email's redemption (label "redemption"), under attribute_not_exists."""
    bind()
    tx.update("discount", PricingModel(DISCOUNT, code), [PricingModel.times_used.add(1)],
              PricingModel.sk.exists() & (PricingModel.active == True)  # noqa: E712 - a condition, not a test
              & (PricingModel.ends_at.does_not_exist() | (PricingModel.ends_at > rfc3339(at)))
              & (PricingModel.usage_limit.does_not_exist() | (PricingModel.times_used < PricingModel.usage_limit)))
    if once_per_email:
        tx.save("redemption", PricingModel(_redemption_key(code), normalize_email(email), order_id=order_id,
                                           redeemed_at=rfc3339(at)),
                PricingModel.sk.does_not_exist())


def refused_code(code: str, at: datetime) -> DiscountInvalid | DiscountExhausted:
    """Why the redemption's condition failed, read after the fact: the code was deactivated, ended (as of
    `at`) or deleted meanwhile (422 discount_invalid), or used up (409 discount_exhausted)."""
    item = _get(DISCOUNT, code)
    found = _discount_from(item) if item is not None else None
    if found is None:
        return DiscountInvalid(f"there is no code {code} any more; nothing was reserved")
    if not found.active:
        return DiscountInvalid(f"the code {code} is no longer active; nothing was reserved")
    if found.ends_at is not None and at >= found.ends_at:
        return DiscountInvalid(f"the code {code} has expired; nothing was reserved")
    return DiscountExhausted(f"the code {code} has been used up; nothing was reserved")


def give_back(tx: Tx, release: CodeRelease) -> None:
    """Takes the use back in `tx`: the counter goes down by one, the email's redemption (if it is this
    order's) is deleted."""
    bind()
    tx.update(("give_back", release.code), PricingModel(DISCOUNT, release.code), [PricingModel.times_used.add(-1)],
              PricingModel.times_used >= 1)
    if release.once_per_email:
        tx.delete(("give_back_email", release.code),
                  PricingModel(_redemption_key(release.code), normalize_email(release.email)),
                  PricingModel.order_id.does_not_exist() | (PricingModel.order_id == release.order_id))


class DynamoPricing(PricingStore):
    def add_method(self, method: ShippingMethod) -> None:
        bind()
        PricingModel(SHIPPING, method.id, doc=_method_doc(method)).save(PricingModel.sk.does_not_exist())

    def replace_method(self, old: ShippingMethod, new: ShippingMethod) -> None:
        bind()
        item = PricingModel(SHIPPING, new.id, doc=_method_doc(new))
        if not written(lambda: item.save(PricingModel.doc == _method_doc(old))):
            raise StaleWrite(new.id)

    def method(self, method_id: str) -> ShippingMethod | None:
        item = _get(SHIPPING, method_id)
        return None if item is None else _method_from(item)

    def methods(self) -> list[ShippingMethod]:
        return sorted((_method_from(i) for i in _query(SHIPPING)), key=lambda m: (m.created_at is None, m.created_at,
                                                                                  m.id))

    def put_rate(self, rate: TaxRate) -> None:
        bind()
        PricingModel(TAX, rate.country, doc=json.dumps({"rate_bps": rate.rate_bps, "regions": dict(rate.regions),
                                                        "tax_shipping": rate.tax_shipping}, sort_keys=True)).save()

    def rate(self, country: str) -> TaxRate | None:
        item = _get(TAX, country)
        return None if item is None else _rate_from(item)

    def rates(self) -> list[TaxRate]:
        return [_rate_from(i) for i in _query(TAX)]

    def delete_rate(self, country: str) -> bool:
        bind()
        return written(lambda: PricingModel(TAX, country).delete(PricingModel.sk.exists()))

    def add_discount(self, discount: Discount) -> None:
        bind()
        item = _discount_item(discount)
        if not written(lambda: item.save(PricingModel.sk.does_not_exist())):
            raise DiscountCodeTaken(f"a discount with the code {discount.code} exists (codes ignore letter case)")

    def discount(self, code: str) -> Discount | None:
        code = normalize_code(code)
        if not code:  # a key may not be empty: there is no such code
            return None
        item = _get(DISCOUNT, code)
        return None if item is None else _discount_from(item)

    def discounts(self, *, limit: int, cursor: str | None) -> Page[Discount]:
        bind()
        keys, fixed = {"pk", "sk"}, {"pk": DISCOUNT}
        start = cursors.decode(cursor, keys=keys, fixed=fixed)
        items, next_cursor = cursors.page(PricingModel.query(DISCOUNT, limit=limit + 1, last_evaluated_key=start),
                                          limit, keys)
        return Page([_discount_from(i) for i in items], next_cursor)

    def update_discount(self, code: str, *, active=UNSET, ends_at=UNSET, usage_limit=UNSET) -> Discount | None:
        bind()
        actions = []
        if active is not UNSET:
            actions.append(PricingModel.active.set(bool(active)))
        if ends_at is not UNSET:
            actions.append(PricingModel.ends_at.remove() if ends_at is None else PricingModel.ends_at.set(
                rfc3339(ends_at)))
        if usage_limit is not UNSET:
            actions.append(PricingModel.usage_limit.remove() if usage_limit is None else PricingModel.usage_limit.set(
                int(usage_limit)))
        code = normalize_code(code)
        if actions and not written(lambda: PricingModel(DISCOUNT, code).update(actions=actions,
                                                                              condition=PricingModel.sk.exists())):
            return None
        return self.discount(code)
