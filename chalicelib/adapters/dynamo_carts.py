"""Carts, written over the version read."""
from __future__ import annotations

from ..domain.address import Address
from ..domain.cart import Cart
from ..services import ports
from ..services.ports import StaleWrite
from .dynamodb import find, versioned, written
from .models import CartModel, bind


def _cart_from(m: CartModel) -> Cart:
    lines = m.lines.as_dict() if hasattr(m.lines, "as_dict") else dict(m.lines or {})
    return Cart(id=m.cart_id, status=m.status, lines={k: int(v) for k, v in lines.items()},
                created_at=m.created_at, updated_at=m.updated_at, expires_at=m.expires_at, version=m.version or 0,
                discount_code=m.discount_code or "", shipping_method=m.shipping_method or "",
                shipping_address=_address_from(m.shipping_address))


def _address_from(value) -> Address | None:
    fields = value.as_dict() if hasattr(value, "as_dict") else dict(value or {})
    return Address(**fields) if fields else None


def _cart_model(c: Cart) -> CartModel:
    return CartModel(c.id, status=c.status, lines=dict(c.lines), created_at=c.created_at, updated_at=c.updated_at,
                     expires_at=c.expires_at, discount_code=c.discount_code or None,
                     shipping_method=c.shipping_method or None,
                     shipping_address=({k: v for k, v in vars(c.shipping_address).items() if v is not None}
                                       if c.shipping_address else None),
                     **versioned(c.version))


class DynamoCarts(ports.Carts):
    def add(self, cart: Cart) -> None:
        bind()
        _cart_model(cart).save(CartModel.cart_id.does_not_exist())

    def get(self, cart_id: str) -> Cart | None:
        model = find(CartModel, cart_id)
        return None if model is None else _cart_from(model)

    def save(self, cart: Cart) -> Cart:
        model = _cart_model(cart)
        if not written(lambda: model.save(CartModel.cart_id.exists())):
            raise StaleWrite(cart.id)
        return _cart_from(model)
