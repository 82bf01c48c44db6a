"""Helpers for the e2e tests: a small client for the Shelf HTTP API, over real HTTP to the local stack.

The stack is shared by the whole e2e package, so nothing here assumes an empty store: every product
gets fresh random SKUs, and every assertion is about objects the test made itself.
"""
from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
import requests

PROBLEM_JSON = "application/problem+json"
CURRENCY = "USD"
TIMEOUT = 60  # generous: a loaded CI machine can take seconds per request; a hung request still fails

ADDRESS = {"name": "Ada Lovelace", "line1": "12 Analytical Row", "city": "London",
           "postal_code": "N1 9GU", "country": "GB"}
CHECKOUT_BODY = {"email": "ada@example.com", "shipping_address": ADDRESS}


def random_sku(name: str = "E2E") -> str:
    return f"{name}-{secrets.token_hex(6).upper()}"


def new_key() -> str:
    return f"idem-{uuid.uuid4()}"


def money(amount: int) -> dict:
    return {"amount": amount, "currency": CURRENCY}


def fake_id(prefix: str) -> str:
    """Well-formed (prefix + 26 base32 chars) but naming nothing."""
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    return f"{prefix}_" + "".join(secrets.choice(alphabet) for _ in range(26))


def assert_problem(response: requests.Response, status: int, type_: str | None = None) -> dict:
    """An RFC 9457 problem with this status (and type, when given)."""
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert response.headers.get("Content-Type", "").split(";")[0].strip() == PROBLEM_JSON, response.headers
    body = response.json()
    assert isinstance(body, dict), body
    assert isinstance(body.get("type"), str) and body["type"], body
    assert isinstance(body.get("title"), str) and body["title"], body
    assert body.get("status") == status, body
    if type_ is not None:
        assert body["type"] == type_, body
    assert response.headers.get("X-Request-Id"), "every response carries X-Request-Id"
    return body


def error_fields(problem: dict) -> set[str]:
    return {e["field"] for e in problem.get("errors") or []}


class OneShot:
    """`requests` with a new connection per request (thread-safe, nothing pooled).

    Chalice's dev server writes a response's headers and body in two sends with Nagle's algorithm on,
    so on a kept-alive connection every request waits out the client's delayed ACK (~40 ms): ten times
    slower than a fresh loopback connection. (Setting `disable_nagle_algorithm = True` on the local
    stack's request handler removes the wait; then a pooled `requests.Session` is as good.)"""

    @staticmethod
    def request(method: str, url: str, **kwargs: Any) -> requests.Response:
        return requests.request(method, url, **kwargs)


@dataclass
class Shop:
    """The API, as a storefront and a merchant use it. Methods that take `expect` assert the status."""

    http: Any  # anything with requests' `request(method, url, **kwargs)`
    base_url: str
    admin: dict[str, str]

    # -- raw ----------------------------------------------------------------------------------------

    def request(self, method: str, path: str, *, admin: bool = False, headers: dict | None = None,
                **kwargs: Any) -> requests.Response:
        merged = {**(self.admin if admin else {}), **(headers or {})}
        return self.http.request(method, f"{self.base_url}{path}", headers=merged, timeout=TIMEOUT, **kwargs)

    @staticmethod
    def _expect(response: requests.Response, expect: int | None) -> requests.Response:
        if expect is not None:
            assert response.status_code == expect, (response.request.method, response.request.url,
                                                    response.status_code, response.text[:800])
        return response

    # -- merchant -----------------------------------------------------------------------------------

    def create_product(self, *prices: int, stock: int | dict[str, int] | None = None, title: str | None = None,
                       category: str = "e2e", status: str = "active") -> dict:
        """A product with one variant per price (fresh random SKUs) and, optionally, stock for each."""
        prices = prices or (1500,)
        body = {"title": title or f"E2E product {secrets.token_hex(3)}", "description": "made by an e2e test",
                "category": category, "status": status,
                "variants": [{"sku": random_sku(), "title": f"variant {i}", "price": money(p),
                              "attributes": {"size": str(i)}} for i, p in enumerate(prices)]}
        product = self._expect(self.request("POST", "/admin/products", admin=True, json=body), 201).json()
        skus = [v["sku"] for v in product["variants"]]
        if stock is not None:
            levels = stock if isinstance(stock, dict) else {sku: stock for sku in skus}
            for sku, on_hand in levels.items():
                self.set_stock(sku, on_hand)
        return product

    def set_stock(self, sku: str, on_hand: int, expect: int | None = 200) -> requests.Response:
        return self._expect(self.request("PUT", f"/admin/inventory/{sku}", admin=True, json={"on_hand": on_hand}),
                            expect)

    def adjust_stock(self, sku: str, delta: int, reason: str = "e2e", expect: int | None = 200) -> requests.Response:
        return self._expect(self.request("POST", f"/admin/inventory/{sku}/adjustments", admin=True,
                                         json={"delta": delta, "reason": reason}), expect)

    def stock(self, sku: str) -> dict:
        return self._expect(self.request("GET", f"/admin/inventory/{sku}", admin=True), 200).json()

    def admin_product(self, product_id: str) -> dict:
        return self._expect(self.request("GET", f"/admin/products/{product_id}", admin=True), 200).json()

    def orders(self, status: str | None = None, limit: int = 100) -> list[dict]:
        """Every order (of that status), walking all pages."""
        items: list[dict] = []
        cursor = None
        while True:
            params = {"limit": limit, "status": status, "cursor": cursor}  # requests drops the None ones
            page = self._expect(self.request("GET", "/admin/orders", admin=True, params=params), 200).json()
            items.extend(page["items"])
            cursor = page["next_cursor"]
            if not cursor:
                return items

    # -- storefront ---------------------------------------------------------------------------------

    def product(self, product_id: str, expect: int | None = 200) -> requests.Response:
        return self._expect(self.request("GET", f"/products/{product_id}"), expect)

    def new_cart(self) -> dict:
        return self._expect(self.request("POST", "/carts", json={}), 201).json()

    def cart(self, cart_id: str) -> dict:
        return self._expect(self.request("GET", f"/carts/{cart_id}"), 200).json()

    def add(self, cart_id: str, sku: str, quantity: int = 1, expect: int | None = 201) -> requests.Response:
        return self._expect(self.request("POST", f"/carts/{cart_id}/items", json={"sku": sku, "quantity": quantity}),
                            expect)

    def cart_with(self, *lines: tuple[str, int]) -> dict:
        cart = self.new_cart()
        for sku, quantity in lines:
            cart = self.add(cart["id"], sku, quantity).json()
        return cart

    def checkout(self, cart_id: str, key: str | None = None, body: dict | None = None,
                 expect: int | None = None) -> requests.Response:
        headers = {"Idempotency-Key": key or new_key()}
        return self._expect(self.request("POST", f"/carts/{cart_id}/checkout", headers=headers,
                                         json=CHECKOUT_BODY if body is None else body), expect)

    def order(self, order_id: str, token: str | None, expect: int | None = None) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        return self._expect(self.request("GET", f"/orders/{order_id}", headers=headers), expect)


@pytest.fixture(name="shop", scope="module")
def shop_fixture(stack) -> Shop:
    """Import `shop_fixture` into a test module to get the `shop` fixture (module-scoped: it holds no state)."""
    return Shop(OneShot(), stack.url, {"Authorization": f"Bearer {stack.admin_api_key}"})
