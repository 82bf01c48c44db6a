// The Shelf HTTP API, as any storefront calls it: JSON in and out, RFC 9457 problems on failure.
import { money } from "./money.js";

export class Problem extends Error {
  constructor(status, body) {
    super(body.detail || body.title || `HTTP ${status}`);
    this.status = status;
    this.type = body.type || "error";
    this.title = body.title || "";
    this.detail = body.detail || "";
    this.errors = Array.isArray(body.errors) ? body.errors : [];
  }
}

export class Api {
  constructor(base) {
    this.base = (base || "").replace(/\/$/, "");
    this.spec = null;
  }

  async request(method, path, { body, token, headers = {} } = {}) {
    const init = { method, headers: { Accept: "application/json", ...headers } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    if (token) init.headers.Authorization = `Bearer ${token}`;
    const response = await fetch(this.base + path, init);
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = null; }
    if (!response.ok) {
      throw new Problem(response.status, data && typeof data === "object" ? data : { detail: text.slice(0, 200) });
    }
    return data;
  }

  // Optional features (shipping methods, discount codes) are used only when the API describes them.
  async has(method, path) {
    if (this.spec === null) {
      this.spec = this.request("GET", "/openapi.json").catch(() => ({ paths: {} })); // fetched once
    }
    const spec = await this.spec;
    return Boolean(spec.paths && spec.paths[path] && spec.paths[path][method.toLowerCase()]);
  }

  products({ category, limit, cursor }) {
    const query = new URLSearchParams({ limit: String(limit) });
    if (category) query.set("category", category);
    if (cursor) query.set("cursor", cursor);
    return this.request("GET", `/products?${query}`);
  }

  createCart() { return this.request("POST", "/carts", { body: {} }); }
  cart(id) { return this.request("GET", `/carts/${encodeURIComponent(id)}`); }
  addItem(id, sku, quantity) {
    return this.request("POST", `/carts/${encodeURIComponent(id)}/items`, { body: { sku, quantity } });
  }
  setQuantity(id, sku, quantity) {
    return this.request("PATCH", `/carts/${encodeURIComponent(id)}/items/${encodeURIComponent(sku)}`,
      { body: { quantity } });
  }
  removeItem(id, sku) {
    return this.request("DELETE", `/carts/${encodeURIComponent(id)}/items/${encodeURIComponent(sku)}`);
  }
  applyDiscount(id, code) {
    return this.request("PUT", `/carts/${encodeURIComponent(id)}/discount`, { body: { code } });
  }
  removeDiscount(id) { return this.request("DELETE", `/carts/${encodeURIComponent(id)}/discount`); }
  shippingOptions(id, country) {
    return this.request("GET", `/carts/${encodeURIComponent(id)}/shipping-options?country=${encodeURIComponent(country)}`);
  }
  setShipping(id, body) { return this.request("PUT", `/carts/${encodeURIComponent(id)}/shipping`, { body }); }
  checkout(id, body, idempotencyKey) {
    return this.request("POST", `/carts/${encodeURIComponent(id)}/checkout`,
      { body, headers: { "Idempotency-Key": idempotencyKey } });
  }
  order(id, token) { return this.request("GET", `/orders/${encodeURIComponent(id)}`, { token }); }
}

// A problem's detail as a sentence; the amounts in it are minor units with a currency ("10000 USD").
export function inWords(detail) {
  const text = String(detail || "").replace(/\b(\d+) ([A-Z]{3})\b/g, (all, amount, currency) => {
    try { return money({ amount: Number(amount), currency }) || all; } catch { return all; }
  });
  if (!text) return "";
  return text.charAt(0).toUpperCase() + text.slice(1) + (/[.!?]$/.test(text) ? "" : ".");
}

// Problems whose detail is meant for a developer (it names SKUs or method ids), said for a shopper.
const HEADS = {
  out_of_stock: () => "Some items are no longer available in the quantity you asked for.",
  shipping_method_required: () => "Choose a shipping method.",
  shipping_unavailable: (error) => (error.errors.some((e) => e.field === "shipping_method")
    ? "The chosen shipping method does not ship to that country. Choose another one."
    : error.detail || error.title),
  discount_invalid: (error) => `The discount code can't be used. ${inWords(error.detail)}`,
  discount_exhausted: (error) => inWords(error.detail),
  discount_already_used: (error) => inWords(error.detail),
};

// A problem in words, with the names the shopper knows instead of SKUs.
export function describeProblem(error, names = {}) {
  if (!(error instanceof Problem)) {
    return "Could not reach the store. Check your connection and try again.";
  }
  const lines = error.errors.map((e) => {
    const field = names[e.field] || e.field.replace(/^shipping_address\./, "").replace(/_/g, " ");
    return `${field}: ${e.message}`;
  });
  const head = HEADS[error.type] ? HEADS[error.type](error) : error.detail || error.title || error.message;
  return [head, ...lines].join("\n");
}
