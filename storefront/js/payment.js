// Paying for an order. With Stripe: Stripe.js, a card element and the intent's client secret (the card
// goes to Stripe, never to Shelf). With the local stack's simulated provider: a button that has the local
// stack send the signed event Stripe would send. Either way the order turns `paid` through Shelf's webhook.
let stripeLoading = null;

function loadStripe(url) {
  if (!stripeLoading) {
    stripeLoading = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = url;
      script.onload = () => (window.Stripe ? resolve(window.Stripe) : reject(new Error("Stripe.js did not load")));
      script.onerror = () => reject(new Error(`could not load Stripe.js from ${url}`));
      document.head.append(script);
    });
  }
  return stripeLoading;
}

function setupSimulated({ order, config, notify, onPaid }, button, note) {
  if (!config.simulated_pay) {
    note.textContent = "This order waits for its payment (the simulated provider has no payment page here).";
    button.hidden = true;
    return;
  }
  button.hidden = false;
  button.textContent = "Pay (simulated)";
  note.textContent = "Local stack: no card needed. The stack sends Shelf the signed payment_intent.succeeded "
    + "event Stripe would send.";
  button.onclick = async () => {
    button.disabled = true;
    try {
      const saved = JSON.parse(localStorage.getItem(`shelf.order.${order.id}`));
      const response = await fetch(config.simulated_pay, {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ order_id: order.id, access_token: saved.token }),
      });
      if (!response.ok) throw new Error(`the simulated payment failed (HTTP ${response.status})`);
      note.textContent = "Payment sent; waiting for the order to update…";
      onPaid();
    } catch (error) {
      notify(String(error.message || error));
      button.disabled = false;
    }
  };
}

async function setupStripe({ saved, config, notify, onPaid }, button, note) {
  const card = document.getElementById("card-element");
  if (!config.stripe_publishable_key) {
    note.textContent = "Stripe is the provider, but no publishable key is configured (STRIPE_PUBLISHABLE_KEY).";
    button.hidden = true;
    return;
  }
  let stripe;
  try {
    stripe = (await loadStripe(config.stripe_js_url))(config.stripe_publishable_key);
  } catch (error) {
    notify(String(error.message || error));
    return;
  }
  const element = stripe.elements().create("card");
  card.hidden = false;
  element.mount(card);
  button.hidden = false;
  button.textContent = "Pay";
  note.textContent = "Card details go straight to Stripe.";
  button.onclick = async () => {
    button.disabled = true;
    const result = await stripe.confirmCardPayment(saved.payment.client_secret, { payment_method: { card: element } });
    if (result.error) {
      notify(result.error.message || "The payment did not go through.");
      button.disabled = false;
      return;
    }
    note.textContent = "Payment confirmed; waiting for the order to update…";
    onPaid();
  };
}

export const payment = {
  setup(context) {
    const button = document.getElementById("pay");
    const note = document.getElementById("payment-note");
    button.disabled = false;
    if (context.order.status !== "pending_payment") return;
    const provider = context.saved.payment && context.saved.payment.provider;
    if (provider === "stripe") setupStripe(context, button, note);
    else setupSimulated(context, button, note);
  },
};
