// Money is {amount: integer minor units, currency}; only ever formatted here, never computed with floats.
const formats = new Map();

function format(currency) {
  if (!formats.has(currency)) {
    formats.set(currency, new Intl.NumberFormat(undefined, { style: "currency", currency }));
  }
  return formats.get(currency);
}

export function money(value) {
  if (!value || typeof value.amount !== "number") return "";
  const f = format(value.currency);
  const digits = f.resolvedOptions().maximumFractionDigits;
  return f.format(value.amount / 10 ** digits);
}
