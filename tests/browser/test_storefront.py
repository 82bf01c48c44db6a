"""A shopper in a real browser: the demo storefront at / and the API reference at /docs."""
from __future__ import annotations

import re

import requests
from playwright.sync_api import expect

from .conftest import ADMIN_API_KEY, save_screenshot

ADMIN = {"Authorization": f"Bearer {ADMIN_API_KEY}"}


def card(page, title: str):
    return page.locator("article.card", has=page.get_by_role("heading", name=title))


def add(page, title: str, sku: str | None = None) -> None:
    item = card(page, title)
    if sku:
        item.get_by_role("combobox").select_option(sku)
    item.get_by_role("button", name="Add to cart").click()
    expect(page.locator("#notice")).to_contain_text(f"Added {title}")


def open_shop(page) -> None:
    page.goto("/")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")


def fill_address(page, email: str) -> None:
    form = page.locator("#checkout-form")
    form.get_by_label("Email").fill(email)
    form.get_by_label("Full name").fill("Ada Lovelace")
    form.get_by_label("Address", exact=True).fill("12 St James's Square")
    form.get_by_label("City").fill("London")
    form.get_by_label("Postal code").fill("SW1Y 4JH")
    country = form.get_by_label("Country (2 letters)")
    country.fill("GB")
    country.dispatch_event("change")
    # the demo store ships to GB: its options appear, the cheapest chosen, and the cart is priced for them
    expect(page.locator("input[name=shipping_method]:checked")).to_have_count(1)


def set_quantity(page, sku: str, quantity: int) -> None:
    box = page.locator(f'input.quantity[data-sku="{sku}"]')
    box.fill(str(quantity))
    box.dispatch_event("change")


def test_a_shopper_browses_fills_a_cart_checks_out_once_and_pays(page, shop):
    open_shop(page)
    expect(page.locator("article.card")).to_have_count(3)
    save_screenshot(page, "storefront.png")

    # the category filter and cursor paging
    page.get_by_label("Category").select_option("kitchen")
    expect(page.locator("article.card")).to_have_count(1)
    expect(card(page, "Ceramic Mug")).to_be_visible()
    page.get_by_label("Category").select_option("")
    page.get_by_label("Per page").select_option("2")
    expect(page.locator("article.card")).to_have_count(2)
    first_page = set(page.locator("article.card h3").all_inner_texts())
    page.get_by_role("button", name="Next").click()
    expect(page.locator("#page-label")).to_have_text("Page 2")
    expect(page.locator("article.card")).to_have_count(1)
    assert not first_page & set(page.locator("article.card h3").all_inner_texts())
    expect(page.get_by_role("button", name="Next")).to_be_disabled()
    page.get_by_role("button", name="Previous").click()
    expect(page.locator("#page-label")).to_have_text("Page 1")
    page.get_by_label("Per page").select_option("6")
    expect(page.locator("article.card")).to_have_count(3)

    # add, change quantities, remove
    add(page, "Classic Tee", "TEE-BLK-L")
    add(page, "Ceramic Mug")
    add(page, "Ceramic Mug")
    expect(page.locator("#cart-count")).to_have_text("3")
    page.get_by_role("link", name=re.compile("Cart")).click()
    expect(page.locator('input.quantity[data-sku="MUG-350"]')).to_have_value("2")
    set_quantity(page, "MUG-350", 3)
    expect(page.locator("[data-total]")).to_have_text("$67.00")  # 25.00 + 3 × 14.00
    page.get_by_role("button", name="Remove Classic Tee — Black / L").click()
    expect(page.locator("#cart-lines tbody tr")).to_have_count(1)
    expect(page.locator("[data-total]")).to_have_text("$42.00")

    # a double click on "Place order" places one order
    email = "ada.browser@example.com"
    fill_address(page, email)
    # 42.00, Standard shipping 4.99 + 2 started kg × 1.00, GB tax 20 % of goods and shipping (8.40 + 1.40)
    expect(page.locator("#shipping-methods").get_by_label(re.compile(r"^\s*Standard"))).to_be_checked()
    expect(page.locator("[data-total]")).to_have_text("$58.79")
    save_screenshot(page, "cart.png")
    page.get_by_role("button", name="Place order").dblclick()
    expect(page).to_have_url(re.compile(r"#/orders/ord_"), timeout=30_000)
    order_id = page.url.rsplit("/", 1)[1]
    expect(page.locator("#order-status")).to_have_text("pending payment")
    orders = requests.get(f"{shop.url}/admin/orders", params={"limit": 100}, headers=ADMIN, timeout=30).json()
    assert [o["id"] for o in orders["items"] if o["email"] == email] == [order_id]
    expect(page.locator("#cart-count")).to_have_text("0")

    # the simulated provider: the local stack sends the signed event Stripe would; the page polls to `paid`
    page.get_by_role("button", name="Pay (simulated)").click()
    expect(page.locator("#order-status")).to_have_text("paid", timeout=60_000)
    expect(page.locator("#order-done")).to_contain_text("payment is complete")
    expect(page.locator("#order-summary [data-total]")).to_have_text("$58.79")
    save_screenshot(page, "order-paid.png")
    order = requests.get(f"{shop.url}/orders/{order_id}", headers=ADMIN, timeout=30).json()
    assert order["status"] == "paid" and order["payment"]["provider"] == "simulated"
    assert page.errors == []


def test_a_shopper_sees_validation_and_out_of_stock_errors_in_words(page, shop):
    open_shop(page)
    add(page, "Canvas Tote")
    page.goto("/#/cart")
    set_quantity(page, "TOTE-NAT", 3)
    expect(page.locator('input.quantity[data-sku="TOTE-NAT"]')).to_have_value("3")
    expect(page.locator("[data-total]")).to_have_text("$54.00")

    # asking for more than there is, in the cart
    set_quantity(page, "TOTE-NAT", 9)
    expect(page.locator("#notice")).to_contain_text("available")
    expect(page.locator('input.quantity[data-sku="TOTE-NAT"]')).to_have_value("3")

    # a form the API refuses: the problem's field errors, in words
    fill_address(page, "not-an-email")
    page.get_by_role("button", name="Place order").click()
    expect(page.locator("#notice")).to_contain_text("email")
    expect(page).to_have_url(re.compile(r"#/cart$"))

    # meanwhile the stock went down: checkout says which line is short, and nothing is ordered
    response = requests.put(f"{shop.url}/admin/inventory/TOTE-NAT", json={"on_hand": 1}, headers=ADMIN, timeout=30)
    assert response.status_code == 200, response.text
    page.locator("#checkout-form").get_by_label("Email").fill("grace.browser@example.com")
    page.get_by_role("button", name="Place order").click()
    notice = page.locator("#notice")
    expect(notice).to_contain_text("no longer available")
    expect(notice).to_contain_text("Canvas Tote: not enough stock")
    expect(page.locator('#cart-lines tr[data-sku="TOTE-NAT"]')).to_have_class(re.compile("short"))
    expect(page).to_have_url(re.compile(r"#/cart$"))
    inventory = requests.get(f"{shop.url}/admin/inventory/TOTE-NAT", headers=ADMIN, timeout=30).json()
    assert inventory["reserved"] == 0
    save_screenshot(page, "out-of-stock.png")


def test_docs_render_every_operation_and_try_it_out_reaches_the_api(page, shop):
    spec = requests.get(f"{shop.url}/openapi.json", timeout=30).json()
    operations = sum(len(methods) for methods in spec["paths"].values())
    page.goto("/")
    page.get_by_role("link", name="API reference").click()
    expect(page).to_have_url(re.compile(r"/docs$"))
    expect(page.locator(".opblock")).to_have_count(operations, timeout=30_000)
    expect(page.locator(".opblock-summary-path", has_text="/carts/{cart_id}/checkout")).to_be_visible()
    save_screenshot(page, "docs.png")

    health = page.locator(".opblock", has=page.locator('.opblock-summary-path[data-path="/health"]'))
    health.locator(".opblock-summary").click()
    health.get_by_role("button", name="Try it out").click()
    health.get_by_role("button", name="Execute").click()
    expect(health.locator(".live-responses-table .response .response-col_status").first).to_have_text("200")
    expect(health.locator(".live-responses-table")).to_contain_text('"status": "ok"')
    assert page.errors == []
