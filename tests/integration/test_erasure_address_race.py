"""Erasure racing a saved address: an address saved while the account is being erased must not outlive it."""
from __future__ import annotations

import secrets

import pytest

from chalicelib import wiring
from chalicelib.adapters import dynamo_customers
from chalicelib.domain.customers import SavedAddress, TooManyAddresses
from chalicelib.domain.ids import new_id, utc_now
from chalicelib.domain.orders import Address
from chalicelib.services import accounts

PASSWORD = "Corr3ct-horse-battery"


def _address() -> Address:
    tag = secrets.token_hex(4)
    return Address(name=f"Ada {tag}", line1=f"{tag} Analytical Row", city="London", postal_code="N1 1AA",
                   country="GB")


def test_an_address_saved_while_erasure_lists_the_addresses_is_not_left_behind(ctx):
    acc = wiring.accounts()
    email = f"it-{secrets.token_hex(5)}@example.com"
    customer_id, _ = accounts.sign_up(email, PASSWORD, acc, ctx, auto_confirm=True)
    acc.customers.add_address(customer_id, SavedAddress(new_id("addr"), _address(), utc_now()), limit=20)
    model = dynamo_customers.CustomerModel
    real_query = model.query.__func__
    raced = []

    def query_then_a_concurrent_save(cls, *args, **kwargs):
        found = list(real_query(cls, *args, **kwargs))
        if not raced:  # another request saves an address just after erasure read the list
            raced.append(True)
            try:
                acc.customers.add_address(customer_id, SavedAddress(new_id("addr"), _address(), utc_now()),
                                          limit=20)
            except TooManyAddresses:
                pass  # the account was already erased: nothing saved
        return iter(found)

    profile = acc.customers.profile(customer_id)
    model.query = classmethod(query_then_a_concurrent_save)
    try:
        accounts.erase(profile, acc, ctx)
    finally:
        del model.query  # the inherited classmethod again

    assert raced
    assert acc.customers.profile(customer_id).erased
    assert acc.customers.addresses(customer_id) == []
    with pytest.raises(TooManyAddresses):
        acc.customers.add_address(customer_id, SavedAddress(new_id("addr"), _address(), utc_now()), limit=20)
