"""The port of the pricing data: shipping methods, tax rates and discount codes."""
from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime

from ..domain.pricing import Discount, ShippingMethod, TaxRate
from .ports import Page

UNSET = object()


class PricingStore(ABC):
    @abstractmethod
    def add_method(self, method: ShippingMethod) -> None: ...

    @abstractmethod
    def replace_method(self, old: ShippingMethod, new: ShippingMethod) -> None:
        """Store `new` over `old`; raises StaleWrite if the method changed since it was read."""

    @abstractmethod
    def method(self, method_id: str) -> ShippingMethod | None: ...

    @abstractmethod
    def methods(self) -> list[ShippingMethod]: ...

    @abstractmethod
    def put_rate(self, rate: TaxRate) -> None: ...

    @abstractmethod
    def rate(self, country: str) -> TaxRate | None: ...

    @abstractmethod
    def rates(self) -> list[TaxRate]: ...

    @abstractmethod
    def delete_rate(self, country: str) -> bool: ...

    @abstractmethod
    def add_discount(self, discount: Discount) -> None:
        """Raises DiscountCodeTaken when the (upper-cased) code exists."""

    @abstractmethod
    def discount(self, code: str) -> Discount | None: ...

    @abstractmethod
    def discounts(self, *, limit: int, cursor: str | None) -> Page[Discount]: ...

    @abstractmethod
    def update_discount(self, code: str, *, active=UNSET, ends_at: datetime | None | object = UNSET,
                        usage_limit: int | None | object = UNSET) -> Discount | None:
        """Change only the fields given (never the use counter); None if there is no such code."""
