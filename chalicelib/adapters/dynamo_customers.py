"""Customers' profiles, saved addresses and sign-in failure counts in DynamoDB; customers' orders through
the orders table's by_customer index; the guest-cart merge as one transaction."""
from __future__ import annotations

from datetime import datetime

from ..domain.cart import Cart
from ..domain.customers import Profile, SavedAddress, TooManyAddresses
from ..domain.orders import Address, Order
from ..services.accounts_port import Customers
from ..services.ports import Page, StaleWrite
from . import cursor as cursors
from .dynamo_carts import _cart_from, _cart_model
from .dynamo_orders import _as_dict, _order_from
from .dynamodb import Tx, versioned, written
from .models import PROFILE, CartModel, CustomerModel, OrderModel, bind

ADDRESS = "address#"


def _profile_from(m: CustomerModel) -> Profile:
    return Profile(customer_id=m.customer_id, email=m.email or "", created_at=m.created_at or m.erased_at,
                   address_count=int(m.address_count or 0), cart_id=m.cart_id or "", erased_at=m.erased_at)


def _address_from(m: CustomerModel) -> SavedAddress:
    a = _as_dict(m.address)
    return SavedAddress(id=m.item.removeprefix(ADDRESS), created_at=m.created_at,
                        address=Address(name=a["name"], line1=a["line1"], line2=a.get("line2"), city=a["city"],
                                        postal_code=a["postal_code"], country=a["country"], region=a.get("region")))


def _live_profile():
    return CustomerModel.customer_id.exists() & CustomerModel.erased_at.does_not_exist()


class DynamoCustomers(Customers):
    def profile(self, customer_id: str) -> Profile | None:
        bind()
        try:
            model = CustomerModel.get(customer_id, PROFILE, consistent_read=True)
        except CustomerModel.DoesNotExist:
            return None
        return _profile_from(model)

    def create_profile(self, profile: Profile) -> bool:
        model = CustomerModel(profile.customer_id, PROFILE, email=profile.email, created_at=profile.created_at,
                              address_count=0)
        return written(lambda: model.save(CustomerModel.customer_id.does_not_exist()))

    def addresses(self, customer_id: str) -> list[SavedAddress]:
        bind()
        found = CustomerModel.query(customer_id, CustomerModel.item.startswith(ADDRESS), consistent_read=True)
        return sorted((_address_from(m) for m in found), key=lambda a: (a.created_at, a.id))

    def add_address(self, customer_id: str, saved: SavedAddress, limit: int) -> None:
        bind()
        tx = Tx()
        address = {k: v for k, v in vars(saved.address).items() if v is not None}
        tx.save("address", CustomerModel(customer_id, ADDRESS + saved.id, address=address,
                                         created_at=saved.created_at), CustomerModel.item.does_not_exist())
        tx.update("profile", CustomerModel(customer_id, PROFILE), [CustomerModel.address_count.add(1)],
                  _live_profile() & (CustomerModel.address_count < limit))
        failed = tx.commit()
        if "profile" in failed:
            raise TooManyAddresses()
        if failed:
            raise StaleWrite(saved.id)

    def remove_address(self, customer_id: str, address_id: str) -> bool:
        bind()
        tx = Tx()
        tx.delete("address", CustomerModel(customer_id, ADDRESS + address_id), CustomerModel.item.exists())
        tx.update("profile", CustomerModel(customer_id, PROFILE), [CustomerModel.address_count.add(-1)],
                  _live_profile())
        return not tx.commit()

    def link_cart(self, customer_id: str, cart_id: str, replacing: str) -> bool:
        bind()
        was = (CustomerModel.cart_id == replacing) if replacing else CustomerModel.cart_id.does_not_exist()
        model = CustomerModel(customer_id, PROFILE)
        return written(lambda: model.update(actions=[CustomerModel.cart_id.set(cart_id)],
                                            condition=_live_profile() & was))

    def delete_cart(self, cart_id: str, customer_id: str) -> None:
        model = CartModel(cart_id)
        # Whatever version it is at: PynamoDB would otherwise add "no version yet", which no saved cart meets.
        written(lambda: model.delete(CartModel.customer_id == customer_id, add_version_condition=False))

    def delete_checked_out_cart(self, cart_id: str, customer_id: str) -> None:
        model = CartModel(cart_id)
        owner = (CartModel.customer_id == customer_id) | CartModel.customer_id.does_not_exist()
        written(lambda: model.delete((CartModel.status == "checked_out") & owner, add_version_condition=False))

    def merge_carts(self, target: Cart, guest: Cart) -> Cart:
        bind()
        tx = Tx()
        # The version attribute adds "as read" to both conditions.
        tx.save("target", _cart_model(target),
                (CartModel.status == "open") & (CartModel.customer_id == target.customer_id))
        tx.update("guest", CartModel(guest.id, **versioned(guest.version)),
                  [CartModel.status.set("merged"), CartModel.updated_at.set(target.updated_at)],
                  (CartModel.status == "open") & CartModel.customer_id.does_not_exist())
        if tx.commit():
            raise StaleWrite(f"{target.id},{guest.id}")
        return _cart_from(CartModel.get(target.id, consistent_read=True))

    def orders(self, customer_id: str, *, limit: int, cursor: str | None) -> Page[Order]:
        bind()
        partition = {"customer_id": customer_id}
        keys = {"order_id", "created_key", "customer_id"}
        start = cursors.decode(cursor, keys=keys, fixed=partition)
        hits, next_cursor = cursors.page(
            OrderModel.by_customer.query(customer_id, scan_index_forward=False, limit=limit + 1,
                                         last_evaluated_key=start), limit, keys)
        # The index keeps keys only: the page's orders are read by key.
        found = {m.order_id: m for m in OrderModel.batch_get([hit.order_id for hit in hits])} if hits else {}
        return Page([_order_from(found[hit.order_id]) for hit in hits if hit.order_id in found], next_cursor)

    def start_attempt(self, key: str, window: int, limit: int, expires_at: datetime) -> bool:
        bind()
        model = CustomerModel(key, f"window#{window}")
        return written(lambda: model.update(
            actions=[CustomerModel.failures.add(1), CustomerModel.expires_at.set(expires_at)],
            condition=CustomerModel.failures.does_not_exist() | (CustomerModel.failures < limit)))

    def end_attempt(self, key: str, window: int) -> None:
        bind()
        model = CustomerModel(key, f"window#{window}")
        written(lambda: model.update(actions=[CustomerModel.failures.add(-1)], condition=CustomerModel.failures > 0))

    def erase(self, customer_id: str, at: datetime) -> None:
        bind()
        # The tombstone first: from then on no address can be saved (add_address needs a live profile), so
        # the listing below finds every address there will ever be, one saved meanwhile included.
        CustomerModel(customer_id, PROFILE, erased_at=at).save()
        for m in CustomerModel.query(customer_id, CustomerModel.item.startswith(ADDRESS), consistent_read=True):
            m.delete()
