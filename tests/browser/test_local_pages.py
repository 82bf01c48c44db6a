"""The local stack's own pages over HTTP (no browser needed): static files, their headers, and the
simulated payment, which needs the order's access token."""
from __future__ import annotations

import requests

from .conftest import ADMIN_API_KEY

ADMIN = {"Authorization": f"Bearer {ADMIN_API_KEY}"}


def test_storefront_files_have_their_types_and_the_page_a_csp(shop):
    index = requests.get(f"{shop.url}/", timeout=30)
    assert index.status_code == 200 and index.headers["Content-Type"].startswith("text/html")
    csp = index.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp
    for path, kind in (("/storefront/js/app.js", "text/javascript"), ("/storefront/style.css", "text/css"),
                       ("/storefront/config.json", "application/json")):
        response = requests.get(f"{shop.url}{path}", timeout=30)
        assert response.status_code == 200 and response.headers["Content-Type"].startswith(kind), path
        assert response.headers["Cache-Control"] == "no-cache"
    config = requests.get(f"{shop.url}/storefront/config.json", timeout=30).json()
    assert config["simulated_pay"] == "/_local/simulated-pay" and config["payment_provider"] == "simulated"


def test_nothing_outside_the_storefront_folder_is_served(shop):
    for path in ("/storefront/%2e%2e/app.py", "/storefront/..%2fREADME.md", "/storefront/missing.js"):
        response = requests.get(f"{shop.url}{path}", timeout=30)
        assert response.status_code == 404, path
        assert response.headers["Content-Type"] == "application/problem+json"


def test_the_simulated_payment_needs_the_order_token(shop):
    cart = requests.post(f"{shop.url}/carts", json={}, timeout=30).json()
    requests.post(f"{shop.url}/carts/{cart['id']}/items", json={"sku": "MUG-350", "quantity": 1}, timeout=30)
    options = requests.get(f"{shop.url}/carts/{cart['id']}/shipping-options", params={"country": "US"},
                           timeout=30).json()["items"]
    checkout = requests.post(
        f"{shop.url}/carts/{cart['id']}/checkout", headers={"Idempotency-Key": cart["id"]}, timeout=30,
        json={"email": "pages@example.com", "shipping_method": options[0]["id"], "shipping_address": {
            "name": "A", "line1": "1 Road", "city": "Town", "postal_code": "1000", "country": "US"}})
    assert checkout.status_code == 201, checkout.text
    order_id = checkout.json()["order"]["id"]

    assert requests.get(f"{shop.url}/_local/simulated-pay", timeout=30).status_code == 405
    bad = requests.post(f"{shop.url}/_local/simulated-pay", json={"order_id": order_id, "access_token": "nope"},
                        timeout=30)
    assert bad.status_code in (401, 404)
    assert requests.post(f"{shop.url}/_local/simulated-pay", data=b"{", timeout=30).status_code == 400
    order = requests.get(f"{shop.url}/orders/{order_id}", headers=ADMIN, timeout=30).json()
    assert order["status"] == "pending_payment"

    paid = requests.post(f"{shop.url}/_local/simulated-pay", timeout=30,
                         json={"order_id": order_id, "access_token": checkout.json()["access_token"]})
    assert paid.status_code == 200, paid.text


def test_a_body_on_a_page_request_is_read_or_refused_like_the_api_does(shop):
    with requests.Session() as session:  # one kept-alive connection
        assert session.get(f"{shop.url}/", data=b"x" * 100, timeout=30).status_code == 200
        assert session.get(f"{shop.url}/storefront/style.css", timeout=30).status_code == 200
        too_large = session.get(f"{shop.url}/", data=b"x" * (70 * 1024), timeout=30)
        assert too_large.status_code == 413
        assert too_large.headers["Content-Type"] == "application/problem+json"
        assert session.get(f"{shop.url}/health", timeout=30).json() == {"status": "ok"}
    assert requests.delete(f"{shop.url}/", timeout=30).status_code == 405


def test_odd_page_requests_get_a_problem_not_a_dropped_connection(shop):
    # A NUL byte in a file name, a name too long for the file system, and a body nested deeper than a JSON
    # parser recurses: each answered.
    for path in ("/storefront/%00", "/storefront/index.html%00.js", "/storefront/" + "a" * 300):
        response = requests.get(f"{shop.url}{path}", timeout=30)
        assert response.status_code == 404, path
        assert response.headers["Content-Type"] == "application/problem+json"
    deep = requests.post(f"{shop.url}/_local/simulated-pay", data=b"[" * 60000, timeout=30)
    assert deep.status_code == 400
    assert deep.headers["Content-Type"] == "application/problem+json"
