// The console's shell: login, header and navigation, the hash router,
// and messages. Routes:
//   #/map                   the map
//   #/evidence/{id}         the map with one evidence item's panel
//   #/cases[/{id}]          the cases board [and one case]
//   #/assessment[/{month}[/{code}]]  the monthly assessment [and a township's details]
// Routes live in the fragment so that the server serves one page and a
// route change never reloads it (a reload would drop the in-memory tokens).

import { h, fill, field } from "./dom.js";
import { t, lang, setLang, onLangChange, label } from "./i18n.js";
import { Api } from "./api.js";
import { MapView, loadGeography } from "./map.js";
import { EvidencePanel } from "./evidence.js";
import { CasesView } from "./cases.js";
import { AssessmentView } from "./assessment.js";

const root = document.getElementById("app");
const toasts = document.getElementById("toasts");
let config = {};
let session = null; // { me, geo, views, panel } while logged in

const api = new Api(() => {
  // The refresh token was refused or expired: back to the login form.
  session = null;
  showLogin(t("login.expired"));
});

async function boot() {
  document.documentElement.lang = lang();
  try {
    const res = await fetch("/console/config.json");
    if (res.ok) config = await res.json();
  } catch {
    // No config: no base map, which the console handles anyway.
  }
  onLangChange(() => {
    if (!session) {
      showLogin();
      return;
    }
    // Redraw in the new language: the header, the map's labels, and the
    // current route (views fetch again, which also refreshes them).
    renderHeader();
    session.views.map.relabel();
    route();
  });
  window.addEventListener("hashchange", route);
  showLogin();
}

// ---------------------------------------------------------------- login

function showLogin(message = "") {
  document.title = t("app.title");
  const user = h("input", { id: "username", name: "username", autocomplete: "username", required: true });
  const pass = h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true });
  const error = h("p", { class: "error", role: "alert", id: "login-error" }, message);
  const submit = h("button", { type: "submit", class: "primary" }, t("login.submit"));
  const form = h("form", { class: "login", "aria-labelledby": "login-title" },
    h("h1", { id: "login-title" }, t("app.title")),
    h("h2", {}, t("login.title")),
    field(t("login.username"), user),
    field(t("login.password"), pass),
    error,
    submit,
    langButton());
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    submit.disabled = true;
    error.textContent = "";
    try {
      await api.login(user.value.trim(), pass.value);
    } catch (err) {
      error.textContent = err.userMessage ? err.userMessage() : String(err);
      submit.disabled = false;
      return;
    }
    try {
      await startSession();
    } catch (err) {
      // Logged in, but the console could not start (the API failed, or a
      // bug): say so, and keep the cause for the developer tools.
      console.error(err);
      await api.logout();
      session = null;
      showLogin(err.userMessage ? err.userMessage() : String(err));
    }
  });
  fill(root, form);
  user.focus();
}

function langButton() {
  const other = lang() === "en" ? "zh-CN" : "en";
  return h("button", {
    type: "button", class: "lang", lang: other, "aria-label": t("lang.switchLabel"),
    onclick: () => setLang(other),
  }, t("lang.switch"));
}

// ---------------------------------------------------------------- session

async function startSession() {
  const [me, geo] = await Promise.all([api.get("/v1/me"), loadGeography(api)]);
  const common = { api, geo, me, onError: showError, onNotice: showNotice };
  const map = new MapView({ ...common, config, onOpen: (id) => { location.hash = `#/evidence/${id}`; } });
  const panel = new EvidencePanel({
    ...common,
    onClose: () => { location.hash = "#/map"; },
    onShown: (e) => map.showSelection(e),
    onReviewed: (_e, text) => { showNotice(text); map.refresh(); },
    onCaseOpened: (c) => {
      showNotice(t("case.created", { title: c.title }));
      location.hash = `#/cases/${c.id}`;
    },
  });
  map.el.append(panel.el);
  const views = { map, cases: new CasesView(common), assessment: new AssessmentView(common) };
  session = { me, geo, views, panel };

  const header = h("header", { class: "top", id: "top" });
  const main = h("main", { id: "main" }, Object.values(views).map((v) => v.el));
  fill(root, header, main);
  document.body.dataset.role = me.role;
  renderHeader();
  // The map fits the county to its container: only the map view may be
  // visible when it is made.
  showOnly("map");
  map.mount();
  if (!location.hash || location.hash === "#" || location.hash === "#/") location.hash = "#/map";
  else route();
}

function renderHeader() {
  const { me } = session;
  const nav = [["map", "nav.map"], ["cases", "nav.cases"], ["assessment", "nav.assessment"]];
  document.title = t("app.title");
  fill(document.getElementById("top"),
    h("h1", {}, t("app.title")),
    h("nav", { "aria-label": t("app.title") }, h("ul", {}, nav.map(([name, key]) =>
      h("li", {}, h("a", { href: `#/${name}`, "data-nav": name }, t(key)))))),
    h("div", { class: "user" },
      h("span", { id: "whoami", "data-role": me.role }, `${me.display_name} (${label("role", me.role)})`),
      langButton(),
      h("button", { type: "button", onclick: logout }, t("user.logout"))),
  );
  markNav(currentView());
}

async function logout() {
  await api.logout();
  session = null;
  location.hash = "";
  showLogin();
}

// ---------------------------------------------------------------- routing

function parseRoute() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  return { view: parts[0] || "map", arg: parts[1] || "", arg2: parts[2] || "" };
}

function currentView() {
  const v = parseRoute().view;
  return v === "evidence" ? "map" : v;
}

async function route() {
  if (!session) return;
  const r = parseRoute();
  const { views, panel } = session;
  const view = r.view === "evidence" ? "map" : r.view;
  if (!views[view]) {
    location.hash = "#/map";
    return;
  }
  showOnly(view);
  switch (r.view) {
    case "map":
      views.map.shown();
      panel.close();
      break;
    case "evidence":
      views.map.shown();
      await panel.show(r.arg);
      break;
    case "cases":
      await views.cases.show(r.arg);
      break;
    case "assessment":
      await views.assessment.show(r.arg, r.arg2);
      break;
  }
}

function showOnly(view) {
  for (const [name, v] of Object.entries(session.views)) v.el.hidden = name !== view;
  markNav(view);
}

function markNav(view) {
  for (const a of document.querySelectorAll("[data-nav]")) {
    if (a.dataset.nav === view) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

// ---------------------------------------------------------------- messages

// showError shows a problem+json error (or any error) until dismissed or
// replaced by a newer one a few seconds later.
function showError(err) {
  const text = err && typeof err.userMessage === "function" ? err.userMessage() : String(err?.message || err);
  toast(text, "error");
}

function showNotice(text) {
  toast(text, "notice");
}

function toast(text, kind) {
  const item = h("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" },
    h("span", {}, text),
    h("button", { type: "button", "aria-label": t("common.close"), onclick: () => item.remove() }, "×"));
  toasts.append(item);
  setTimeout(() => item.remove(), kind === "error" ? 12000 : 5000);
}

boot();
