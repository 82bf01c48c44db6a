// The demo storefront: catalog, cart, checkout and the order page, over Shelf's public HTTP API only.
import { Api, Problem, describeProblem, inWords } from "./api.js";
import { money } from "./money.js";
import { payment } from "./payment.js";

const $ = (selector) => document.querySelector(selector);
const CART_KEY = "shelf.cart";
const ORDER_KEY = (id) => `shelf.order.${id}`;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

const state = {
  config: {},
  api: null,
  cart: null,
  names: {},         // sku -> "Product — Variant", for problems in words
  asking: {},        // sku -> the quantity a change in flight asks for
  available: {},     // sku -> units available when last listed
  pages: [null],     // cursors of the pages seen; pages[i] fetches page i
  page: 0,
  attempt: null,     // {key, body}: one Idempotency-Key per checkout attempt
  placing: false,
  poll: null,
  features: { discount: false, shipping: false },  // what the API offers, from /openapi.json
  pricing: Promise.resolve(),  // the pricing requests in flight, one after another
  optionsFor: null,  // the country whose shipping options are shown
};

// --- notices ---------------------------------------------------------------------------------------

function notify(message, kind = "error") {
  const box = $("#notice");
  box.textContent = message;
  box.className = `notice ${kind}`;
  box.hidden = !message;
  if (message) box.scrollIntoView({ block: "nearest" });
}

function explain(error) {
  notify(describeProblem(error, state.names));
}

// --- catalog ---------------------------------------------------------------------------------------

async function loadCategories() {
  // There is no categories endpoint: gather them from the catalog itself.
  const seen = new Set();
  let cursor = null;
  for (let i = 0; i < 5; i += 1) {
    const page = await state.api.products({ limit: 100, cursor });
    page.items.forEach((p) => p.category && seen.add(p.category));
    cursor = page.next_cursor;
    if (!cursor) break;
  }
  const select = $("#category");
  [...seen].sort().forEach((c) => select.append(el("option", { value: c, text: c })));
}

async function showProducts() {
  const grid = $("#products");
  const limit = Number($("#page-size").value);
  const asked = (state.listing = (state.listing || 0) + 1); // only the latest listing asked for is shown
  let page;
  try {
    page = await state.api.products({ category: $("#category").value, limit, cursor: state.pages[state.page] });
  } catch (error) {
    if (asked === state.listing) explain(error);
    return;
  }
  if (asked !== state.listing) return;
  grid.replaceChildren(...page.items.map(productCard));
  if (!page.items.length) grid.append(el("p", { class: "muted", text: "No products in this category." }));
  state.pages[state.page + 1] = page.next_cursor;
  $("#next-page").disabled = !page.next_cursor;
  $("#prev-page").disabled = state.page === 0;
  $("#page-label").textContent = `Page ${state.page + 1}`;
}

function restartPaging() {
  state.pages = [null];
  state.page = 0;
  showProducts();
}

function productCard(product) {
  product.variants.forEach((v) => {
    state.names[v.sku] = product.variants.length > 1 ? `${product.title} — ${v.title}` : product.title;
    state.available[v.sku] = v.available;
  });
  const select = el("select", { "aria-label": `${product.title} option` },
    product.variants.map((v) => el("option", { value: v.sku, text: `${v.title} · ${money(v.price)}` })));
  const stock = el("p", { class: "stock" });
  const button = el("button", { type: "button", class: "primary", text: "Add to cart" });
  const refresh = () => {
    const variant = product.variants.find((v) => v.sku === select.value);
    stock.textContent = variant.available > 0 ? `${variant.available} in stock` : "Out of stock";
    stock.classList.toggle("out", variant.available <= 0);
    button.disabled = variant.available <= 0;
  };
  select.addEventListener("change", refresh);
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await addToCart(select.value);
      notify(`Added ${state.names[select.value]} to your cart.`, "ok");
    } catch (error) {
      explain(error);
    } finally {
      refresh();
    }
  });
  refresh();
  return el("article", { class: "card", "data-product": product.id },
    el("div", { class: "category", text: product.category || "" }),
    el("h3", { text: product.title }),
    el("p", { class: "description", text: product.description || "" }),
    select, stock, button);
}

// --- cart ------------------------------------------------------------------------------------------

async function ensureCart() {
  if (state.cart && state.cart.status === "open") return state.cart;
  const id = localStorage.getItem(CART_KEY);
  if (id) {
    try {
      const cart = await state.api.cart(id);
      if (cart.status === "open") return setCart(cart);
    } catch (error) {
      if (!(error instanceof Problem) || error.status !== 404) throw error;
    }
  }
  const cart = await state.api.createCart();
  localStorage.setItem(CART_KEY, cart.id);
  return setCart(cart);
}

function setCart(cart) {
  state.cart = cart;
  cart.lines.forEach((line) => { state.names[line.sku] = state.names[line.sku] || line.title; });
  $("#cart-count").textContent = String(cart.lines.reduce((n, line) => n + line.quantity, 0));
  renderCart();
  return cart;
}

async function addToCart(sku) {
  const cart = await ensureCart();
  setCart(await state.api.addItem(cart.id, sku, 1));
  repriceAfterChange();
}

async function changeQuantity(sku, quantity) {
  // Only the latest change's answer is shown: an earlier one arriving late would re-render the boxes under
  // a shopper typing the next quantity (it still updates the cart the next render shows).
  const asked = (state.quantityAsked = (state.quantityAsked || 0) + 1);
  state.asking[sku] = quantity;
  try {
    const cart = await state.api.setQuantity(state.cart.id, sku, quantity);
    if (asked !== state.quantityAsked) { state.cart = cart; return; }
    setCart(cart);
    notify("");
    repriceAfterChange();
  } catch (error) {
    if (asked !== state.quantityAsked) return;
    explain(error);
    renderCart();
  } finally {
    if (state.asking[sku] === quantity) delete state.asking[sku];
  }
}

async function removeLine(sku) {
  try {
    setCart(await state.api.removeItem(state.cart.id, sku));
    notify("");
    repriceAfterChange();
  } catch (error) {
    explain(error);
  }
}

function renderCart() {
  const cart = state.cart;
  const body = $("#cart-lines tbody");
  const lines = cart ? cart.lines : [];
  body.replaceChildren(...lines.map((line) => {
    const name = state.names[line.sku] || line.title;
    const quantity = el("input", {
      type: "number", min: "0", max: "99", value: String(line.quantity), "aria-label": `Quantity of ${name}`,
      class: "quantity", "data-sku": line.sku,
    });
    quantity.addEventListener("change", () => {
      const n = Number.parseInt(quantity.value, 10);
      // A box re-rendered while focused may report its change again: only a new quantity is sent, so a
      // late answer to a repeat never clears the notice of a later change.
      if (n === line.quantity || n === state.asking[line.sku]) return;
      if (Number.isInteger(n) && n >= 0 && n <= 99) changeQuantity(line.sku, n);
      else { notify("A quantity is a whole number from 0 to 99."); quantity.value = String(line.quantity); }
    });
    return el("tr", { "data-sku": line.sku },
      el("td", {}, el("strong", { text: line.title }), el("div", { class: "muted sku", text: line.sku })),
      el("td", { text: money(line.unit_price) }),
      el("td", {}, quantity),
      el("td", { text: money(line.total) }),
      el("td", {}, el("button", { type: "button", class: "link remove", text: "Remove",
        "aria-label": `Remove ${name}`, onclick: () => removeLine(line.sku) })));
  }));
  const empty = lines.length === 0;
  $("#cart-lines").hidden = empty;
  $("#cart-empty").hidden = !empty;
  $("#checkout-form").hidden = empty;
  const unavailable = cart && cart.unavailable_skus && cart.unavailable_skus.length
    ? el("p", { class: "warning", text: `No longer available: ${cart.unavailable_skus.map((s) => state.names[s] || s).join(", ")}` })
    : null;
  $("#cart-summary").replaceChildren(
    ...(cart && !empty ? [breakdown(cart, { open: true }), unavailable].filter(Boolean) : []));
  $("#discount-form").hidden = !state.features.discount || empty;
  const discount = cart && cart.discount;
  $("#discount-remove").hidden = !(discount || (cart && cart.discount_problem));
  if (discount) $("#discount-code").value = discount.code;
  if (cart && cart.discount_problem) discountMessage(`Your code no longer applies. ${inWords(cart.discount_problem)}`);
  else if (!discount && $("#discount-message").classList.contains("ok")) discountMessage("");
}

// The API's breakdown as it is: subtotal and total always; discount, shipping and tax when it prices them.
// A cart not yet priced for a destination says what is still to come instead of showing a 0.
function breakdown(priced, { open = false } = {}) {
  const rows = [["subtotal", "Subtotal", money(priced.subtotal)]];
  if (priced.discount_total && priced.discount_total.amount) {
    const code = priced.discount && priced.discount.code ? ` (${priced.discount.code})` : "";
    rows.push(["discount", `Discount${code}`, `−${money(priced.discount_total)}`]);
  }
  if (open && state.features.shipping && !priced.shipping) {
    rows.push(["shipping", "Shipping", "choose below", "pending"]);
  } else if (priced.shipping_total) {
    const name = priced.shipping && priced.shipping.name ? ` (${priced.shipping.name})` : "";
    const free = priced.shipping && !priced.shipping_total.amount;
    rows.push(["shipping", `Shipping${name}`, free ? "Free" : money(priced.shipping_total)]);
  }
  if (open && state.features.shipping && !priced.shipping_address) {
    rows.push(["tax", "Tax", "from your address", "pending"]);
  } else if (priced.tax_total) {
    rows.push(["tax", priced.prices_include_tax ? "Tax included" : "Tax", money(priced.tax_total)]);
  }
  return el("dl", { class: "totals" },
    rows.flatMap(([row, label, value, kind]) => [
      el("dt", { text: label }), el("dd", { "data-row": row, class: kind, text: value })]),
    el("dt", { class: "total", text: "Total" }),
    el("dd", { class: "total", "data-row": "total", "data-total": "", text: money(priced.total) }));
}

// --- checkout step: destination, shipping method and discount code ---------------------------------
// Every price shown comes from the API (the cart view and the shipping options); the page adds nothing up.
// These requests run one after another, so the last cart shown is the answer to the last change made.

function serially(task) {
  // Each task shows its own problems; anything else (the network) is said once, and the queue goes on.
  state.pricing = state.pricing.then(task).catch(explain);
  return state.pricing;
}

async function setupPricingExtras() {
  const [discount, options, destination] = await Promise.all([
    state.api.has("PUT", "/carts/{cart_id}/discount"),
    state.api.has("GET", "/carts/{cart_id}/shipping-options"),
    state.api.has("PUT", "/carts/{cart_id}/shipping"),
  ]);
  state.features = { discount, shipping: options && destination };
  if (discount) {
    $("#discount-form").hidden = false;
    $("#discount-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const code = $("#discount-code").value.trim();
      if (code) serially(() => applyCode(code));
    });
    $("#discount-remove").addEventListener("click", () => serially(removeCode));
  }
  if (state.features.shipping) {
    const form = $("#checkout-form");
    // Options appear as soon as two letters are typed; the rest of the address prices tax on change.
    form.elements.country.addEventListener("input", () => {
      if (countryOf() !== state.optionsFor && /^[A-Z]{2}$/.test(countryOf())) serially(loadShippingOptions);
    });
    form.addEventListener("change", (event) => {
      const name = event.target.name;
      if (!name || name === "email") return;
      if (name === "country") serially(loadShippingOptions);
      else serially(priceDestination);
    });
    // A cart that already has a destination (a reload, another tab) shows it again.
    const saved = state.cart && state.cart.shipping_address;
    if (saved) {
      for (const [name, value] of Object.entries(saved)) {
        if (value && form.elements[name] && !form.elements[name].value) form.elements[name].value = value;
      }
      serially(() => loadShippingOptions({ price: false }));
    }
  }
  renderCart();
}

function discountMessage(text, kind = "error") {
  const box = $("#discount-message");
  box.textContent = text;
  box.className = `field-message ${kind}`;
  box.hidden = !text;
}

async function applyCode(code) {
  try {
    const cart = await state.api.applyDiscount((await ensureCart()).id, code);
    setCart(cart);
    discountMessage(`Code ${cart.discount.code} applied: −${money(cart.discount.amount)}.`, "ok");
    notify("");
    await loadShippingOptions({ price: false }); // a code can change what shipping costs
  } catch (error) {
    if (error instanceof Problem && error.status === 422) {
      discountMessage(`That code can't be used. ${inWords(error.detail || error.title)}`);
    } else {
      explain(error);
    }
  }
}

async function removeCode() {
  try {
    setCart(await state.api.removeDiscount(state.cart.id));
    $("#discount-code").value = "";
    discountMessage("");
    notify("");
    await loadShippingOptions({ price: false });
  } catch (error) { explain(error); }
}

function countryOf() {
  return $("#checkout-form").elements.country.value.trim().toUpperCase();
}

// The methods for the address's country, each priced by the API for the cart as it is now. The choice
// kept is the shopper's, else the cart's, else the cheapest; then the cart is priced for it.
async function loadShippingOptions({ price = true } = {}) {
  if (!state.features.shipping) return;
  const country = countryOf();
  const box = $("#shipping-options");
  const note = $("#shipping-note");
  if (!/^[A-Z]{2}$/.test(country) || !state.cart || !state.cart.lines.length) {
    state.optionsFor = null;
    $("#shipping-methods").hidden = true;
    note.hidden = true;
    return;
  }
  let items;
  try {
    ({ items } = await state.api.shippingOptions(state.cart.id, country));
  } catch (error) { explain(error); return; }
  if (!state.cart) return; // ordered meanwhile
  const checked = document.querySelector("input[name=shipping_method]:checked");
  const wanted = [checked && checked.value, state.cart.shipping && state.cart.shipping.method_id]
    .find((id) => id && items.some((option) => option.id === id));
  const cheapest = items.reduce((best, option) => (!best || option.price.amount < best.price.amount ? option : best),
    null);
  const chosen = wanted || (cheapest && cheapest.id);
  box.replaceChildren(...items.map((option) => el("label", { class: "option" },
    el("input", { type: "radio", name: "shipping_method", value: option.id, checked: option.id === chosen }),
    ` ${option.name} · `,
    el("span", { "data-price": "", text: option.price.amount ? money(option.price) : "Free" }),
    option.max_days ? el("span", { class: "muted", text: ` (${option.min_days || 1}–${option.max_days} days)` })
      : null)));
  state.optionsFor = country;
  $("#shipping-methods").hidden = items.length === 0;
  note.hidden = items.length > 0;
  note.textContent = items.length ? "" : `No shipping method is offered for ${country}.`;
  if (price || (chosen && !(state.cart.shipping && state.cart.shipping.method_id === chosen))) {
    await priceDestination();
  }
}

function addressComplete(address) {
  return ["name", "line1", "city", "postal_code"].every((field) => address[field])
    && /^[A-Z]{2}$/.test(address.country);
}

// Sets the cart's destination, so the API prices shipping and tax. Until the address is complete there is
// nothing to send (the API takes a whole address); the checkout then names what is missing.
async function priceDestination() {
  if (!state.features.shipping || !state.cart || !state.cart.lines.length) return;
  const body = checkoutBody();
  if (!addressComplete(body.shipping_address)) return;
  const request = { shipping_address: body.shipping_address };
  if (body.shipping_method) request.shipping_method = body.shipping_method;
  try {
    setCart(await state.api.setShipping(state.cart.id, request));
  } catch (error) {
    if (error instanceof Problem && error.status === 422) return; // the checkout shows it, with the field
    explain(error);
  }
}

// A cart's lines changed: the options' prices (weight, free-over) and the code may have too.
function repriceAfterChange() {
  if (state.features.shipping && /^[A-Z]{2}$/.test(countryOf())) {
    serially(() => loadShippingOptions({ price: false }));
  }
}

// --- checkout --------------------------------------------------------------------------------------

function checkoutBody() {
  const form = $("#checkout-form").elements;
  const value = (name) => form[name].value.trim();
  const address = { name: value("name"), line1: value("line1"), city: value("city"),
    postal_code: value("postal_code"), country: value("country").toUpperCase() };
  if (value("line2")) address.line2 = value("line2");
  if (value("region")) address.region = value("region");
  const body = { email: value("email"), shipping_address: address };
  const method = document.querySelector("input[name=shipping_method]:checked");
  if (method) body.shipping_method = method.value;
  return body;
}

function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function placeOrder(event) {
  event.preventDefault();
  if (state.placing) return; // a second click while the first is on its way
  state.placing = true;
  const button = $("#place-order");
  button.disabled = true;
  button.textContent = "Placing order…";
  try {
    await state.pricing; // the method and totals being shown are the ones ordered
    const body = checkoutBody();
    // The same attempt (same body, no answer yet) keeps its key, so a retry can never order twice.
    const same = state.attempt && JSON.stringify(state.attempt.body) === JSON.stringify(body);
    if (!same) state.attempt = { key: newKey(), body };
    const result = await state.api.checkout(state.cart.id, body, state.attempt.key);
    state.attempt = null;
    localStorage.setItem(ORDER_KEY(result.order.id), JSON.stringify({
      token: result.access_token, payment: result.payment }));
    localStorage.removeItem(CART_KEY);
    state.cart = null;
    state.optionsFor = null;
    $("#shipping-options").replaceChildren();
    $("#shipping-methods").hidden = true;
    $("#discount-code").value = "";
    discountMessage("");
    $("#cart-count").textContent = "0";
    renderCart();
    notify("");
    location.hash = `#/orders/${result.order.id}`;
  } catch (error) {
    // A definite answer ends the attempt; a network failure or a 5xx may be retried with the same key.
    if (error instanceof Problem && error.status < 500) state.attempt = null;
    explain(error);
    if (error instanceof Problem && error.type === "out_of_stock") {
      try { setCart(await state.api.cart(state.cart.id)); } catch { /* keep the cart shown */ }
      markShortLines(error);
    }
  } finally {
    state.placing = false;
    button.disabled = false;
    button.textContent = "Place order";
  }
}

function markShortLines(error) {
  for (const e of error.errors) {
    const row = document.querySelector(`#cart-lines tr[data-sku="${CSS.escape(e.field)}"]`);
    if (row) row.classList.add("short");
  }
}

// --- order page ------------------------------------------------------------------------------------

async function showOrder(id) {
  const saved = JSON.parse(localStorage.getItem(ORDER_KEY(id)) || "null");
  $("#order-id").textContent = id;
  if (!saved) {
    notify("This browser has no access token for that order. Open it from the browser that placed it.");
    return;
  }
  let order;
  try { order = await state.api.order(id, saved.token); } catch (error) { explain(error); return; }
  renderOrder(order);
  payment.setup({ order, saved, config: state.config, api: state.api, notify,
    onPaid: () => pollOrder(id, saved.token, 500) });
  if (order.status === "pending_payment") pollOrder(id, saved.token, 2000);
}

function renderOrder(order) {
  const status = $("#order-status");
  status.textContent = order.status.replace(/_/g, " ");
  status.dataset.status = order.status;
  $("#order-lines tbody").replaceChildren(...order.lines.map((line) => el("tr", {},
    el("td", { text: line.title }), el("td", { text: money(line.unit_price) }),
    el("td", { text: String(line.quantity) }), el("td", { text: money(line.total) }))));
  const method = order.shipping ? ` by ${order.shipping.name}` : "";
  $("#order-summary").replaceChildren(breakdown(order), el("p", { class: "muted" },
    `Ships${method} to ${order.shipping_address.name}, ${order.shipping_address.city}, `
    + `${order.shipping_address.country}. `,
    `Receipt to ${order.email}.`));
  const pending = order.status === "pending_payment";
  $("#payment-box").hidden = !pending;
  const done = $("#order-done");
  done.hidden = pending;
  done.textContent = {
    paid: "Thank you! Your payment is complete and the order is being prepared.",
    shipped: "Your order is on its way.",
    canceled: "This order was canceled.",
    refunded: "This order was refunded.",
  }[order.status] || "";
}

// Poll until the order leaves pending_payment: the payment completes through a webhook, not this page.
function pollOrder(id, token, interval) {
  clearTimeout(state.poll);
  const started = Date.now();
  const tick = async () => {
    if (location.hash !== `#/orders/${id}`) return;
    try {
      const order = await state.api.order(id, token);
      renderOrder(order);
      if (order.status !== "pending_payment") return;
    } catch (error) {
      if (!(error instanceof Problem)) { /* offline for a moment: keep polling */ } else { explain(error); return; }
    }
    const wait = Date.now() - started > 60000 ? 5000 : interval;
    state.poll = setTimeout(tick, wait);
  };
  state.poll = setTimeout(tick, interval);
}

// --- routing ---------------------------------------------------------------------------------------

async function route() {
  clearTimeout(state.poll);
  const hash = location.hash || "#/";
  const orderMatch = hash.match(/^#\/orders\/([A-Za-z0-9_]+)$/);
  const view = orderMatch ? "order" : hash === "#/cart" ? "cart" : "shop";
  for (const name of ["shop", "cart", "order"]) $(`#view-${name}`).hidden = name !== view;
  document.body.dataset.view = view;
  if (view === "order") await showOrder(orderMatch[1]);
  if (view === "cart") renderCart();
}

async function main() {
  state.config = await fetch("/storefront/config.json").then((r) => (r.ok ? r.json() : {})).catch(() => ({}));
  state.api = new Api(state.config.api || "");
  if (state.config.docs) $("#nav-docs").href = state.config.docs;
  if (state.config.docs === null) $("#nav-docs").hidden = true;
  $("#category").addEventListener("change", restartPaging);
  $("#page-size").addEventListener("change", restartPaging);
  $("#next-page").addEventListener("click", () => { state.page += 1; showProducts(); });
  $("#prev-page").addEventListener("click", () => { state.page = Math.max(0, state.page - 1); showProducts(); });
  $("#checkout-form").addEventListener("submit", placeOrder);
  window.addEventListener("hashchange", () => { notify(""); route(); });
  try {
    const id = localStorage.getItem(CART_KEY);
    if (id) await ensureCart();
  } catch (error) { explain(error); }
  renderCart();
  await Promise.all([showProducts(), loadCategories().catch(explain), setupPricingExtras()]);
  await route();
  document.body.dataset.ready = "true";
}

main();
