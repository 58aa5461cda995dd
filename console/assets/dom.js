// Small DOM helpers. Elements are built from data with textContent and
// properties, never from HTML strings: server data (notes, names) can
// never become markup, and the page needs no inline styles or scripts.

// h builds an element. attrs: "class", "on<event>" listeners, DOM
// properties (value, disabled, checked, hidden, type...) and any other
// attribute (aria-*, data-*, for). Children may be nodes, strings,
// arrays, or null/false (skipped).
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k in el && !k.includes("-")) el[k] = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

// fill replaces el's children (same rules as h's children; the DOM's
// replaceChildren would print a null as "null").
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

// ObjectURLs keeps the blob: URLs a view made, so that they are revoked
// when the view is redrawn: photos are fetched with the bearer token and
// shown from memory, and each blob lives until its URL is revoked.
export class ObjectURLs {
  #urls = [];

  make(blob) {
    const url = URL.createObjectURL(blob);
    this.#urls.push(url);
    return url;
  }

  revokeAll() {
    for (const u of this.#urls) URL.revokeObjectURL(u);
    this.#urls = [];
  }
}

// uuid is a random (v4) UUID for Idempotency-Key headers.
// crypto.randomUUID exists only in secure contexts (HTTPS, localhost);
// getRandomValues works everywhere.
export function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

// shortID is how ids are shown in lists: the API's ids are UUIDv7,
// which begin with their creation time, so their last digits tell them
// apart.
export function shortID(id) {
  return id.slice(-8);
}

// saveBlob offers a blob as a download under name.
export function saveBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  // The download has taken its copy once click() returns to the loop.
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// field wraps a labelled control: <label>text control</label>.
export function field(text, control) {
  return h("label", { class: "field" }, h("span", { class: "field-label" }, text), control);
}

// select builds a <select> from [value, text] pairs.
export function select(attrs, options, selected = "") {
  return h(
    "select",
    attrs,
    options.map(([value, text]) => h("option", { value, selected: value === selected }, text)),
  );
}
