"""/docs is part of the app (so the deployed API has it, unless SHELF_DOCS=0); the storefront and the
simulated "pay" action belong to the local stack only, never to the Lambda app."""
from __future__ import annotations

import json

import pytest
from chalice.test import Client

from app import app
from chalicelib.api.openapi import document
from local import pages


@pytest.fixture
def client():
    with Client(app) as c:
        yield c


def test_the_lambda_app_never_serves_the_storefront_or_the_simulated_payment():
    paths = set(app.routes)
    assert pages.SIMULATED_PAY not in paths
    assert not any(p == "/" or p.startswith(("/storefront", "/_local")) for p in paths)


def test_docs_page_loads_swagger_ui_from_this_api_under_a_strict_csp(client):
    response = client.http.get("/docs")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    html = response.body.decode()
    # relative URLs, so the page also works under API Gateway's stage prefix (/api/docs)
    for asset in ("docs/swagger-ui.css", "docs/swagger-ui-bundle.js", "docs/init.js"):
        assert f'"{asset}?v=' in html
    assert "http" not in html.replace("http-equiv", "")  # nothing from a CDN
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-eval" not in csp and "frame-ancestors 'none'" in csp
    assert "X-Request-Id" in response.headers


@pytest.mark.parametrize("path, content_type, marker", [
    ("/docs/swagger-ui-bundle.js", "text/javascript", "SwaggerUIBundle"),
    ("/docs/swagger-ui.css", "text/css", ".swagger-ui"),
    ("/docs/init.js", "text/javascript", "openapi.json"),
])
def test_docs_assets_are_served_with_their_type_and_cached(client, path, content_type, marker):
    response = client.http.get(path)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith(content_type)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "max-age=" in response.headers["Cache-Control"]
    assert marker in response.body.decode()


def test_docs_can_be_switched_off(client, monkeypatch):
    monkeypatch.setenv("SHELF_DOCS", "0")
    for path in ("/docs", "/docs/swagger-ui-bundle.js", "/docs/init.js"):
        response = client.http.get(path)
        assert response.status_code == 404
        assert response.headers["Content-Type"] == "application/problem+json"
        assert json.loads(response.body)["status"] == 404
    monkeypatch.setenv("SHELF_DOCS", "1")
    assert client.http.get("/docs").status_code == 200


def test_docs_are_not_api_operations():
    assert not any(p.startswith("/docs") for p in document()["paths"])


def test_the_storefront_csp_allows_stripe_js_only_when_stripe_is_the_provider(monkeypatch):
    monkeypatch.delenv("STRIPE_SECRET_KEY", raising=False)
    monkeypatch.delenv("STRIPE_SECRET_KEY_PARAMETER", raising=False)
    assert "stripe" not in pages.content_security_policy()
    assert pages.storefront_config()["simulated_pay"] == pages.SIMULATED_PAY

    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_x")
    monkeypatch.setenv("SHELF_STRIPE_JS_URL", "http://127.0.0.1:8420/js.stripe.com/v3/")
    csp = pages.content_security_policy()
    assert "script-src 'self' http://127.0.0.1:8420;" in csp
    assert pages.storefront_config()["simulated_pay"] is None
    assert pages.storefront_config()["stripe_js_url"] == "http://127.0.0.1:8420/js.stripe.com/v3/"
