// The cases board: cases not yet closed, grouped by township, soonest
// deadline first; and a case's detail: before/after photos side by side,
// the timeline, and the actions the API says the caller may take.

import { h, fill, shortID, ObjectURLs, uuid } from "./dom.js";
import { t, label, formatTime } from "./i18n.js";
import { ApiError } from "./api.js";
import { townshipName, reachName } from "./map.js";

const pageLimit = 500;
const maxPages = 10;
const dayMs = 86_400_000;

export class CasesView {
  // opts: api, geo, me, onError(err), onNotice(text)
  constructor(opts) {
    this.opts = opts;
    this.urls = new ObjectURLs();
    this.overdueOnly = false;
    this.includeClosed = false;
    this.cases = [];
    this.selected = null;
    this.seq = 0;
    this.el = h("section", { class: "view view-cases", "aria-label": t("cases.title") });
    this.boardEl = h("div", { class: "board-wrap" });
    this.detailEl = h("aside", { class: "panel case-panel", "aria-label": t("case.detail"), hidden: true });
    this.el.append(this.boardEl, this.detailEl);
  }

  // show loads the board and, when id is given, that case's detail.
  async show(id) {
    await this.loadBoard();
    if (id) await this.showCase(id);
    else this.closeCase();
  }

  async loadBoard() {
    const seq = ++this.seq;
    this.boardEl.dataset.state = "loading";
    try {
      const cases = await this.#fetchAll();
      if (seq !== this.seq) return;
      this.cases = cases;
      this.renderBoard();
      this.boardEl.dataset.state = "ready";
    } catch (err) {
      if (seq !== this.seq) return;
      this.boardEl.dataset.state = "error";
      this.opts.onError(err);
    }
  }

  // #fetchAll pages through the caller's cases (the API scopes them).
  async #fetchAll() {
    const out = [];
    let cursor;
    for (let i = 0; i < maxPages; i++) {
      const q = { limit: pageLimit, cursor };
      if (this.overdueOnly) q.overdue = true;
      const page = await this.opts.api.get("/v1/cases", q);
      out.push(...page.items);
      cursor = page.next_cursor;
      if (!cursor) break;
    }
    return out;
  }

  renderBoard() {
    const geo = this.opts.geo;
    const shown = this.cases.filter((c) => this.includeClosed || c.state !== "closed");
    const groups = new Map();
    for (const c of shown.sort((a, b) => (a.deadline < b.deadline ? -1 : 1))) {
      if (!groups.has(c.township_code)) groups.set(c.township_code, []);
      groups.get(c.township_code).push(c);
    }
    // Townships with the most overdue cases first: they need attention.
    const order = [...groups.entries()].sort((a, b) => overdueCount(b[1]) - overdueCount(a[1]) || b[1].length - a[1].length);
    fill(this.boardEl,
      h("header", { class: "board-head" },
        h("h2", {}, t("cases.title")),
        toggle("overdue-only", t("cases.overdueOnly"), this.overdueOnly, (v) => { this.overdueOnly = v; this.loadBoard(); }),
        toggle("include-closed", t("cases.includeClosed"), this.includeClosed, (v) => { this.includeClosed = v; this.renderBoard(); }),
      ),
      shown.length === 0 ? h("p", { class: "muted" }, t("cases.empty")) : null,
      h("div", { class: "board" }, order.map(([code, cs]) =>
        h("section", { class: "column", "data-township": code || "" },
          h("h3", {}, code ? townshipName(geo, code) : t("cases.noTownship"), h("span", { class: "muted" }, ` ${t("cases.count", { n: cs.length })}`)),
          h("ul", {}, cs.map((c) => h("li", {}, this.#card(c)))),
        ),
      )),
    );
  }

  #card(c) {
    const overdue = isOverdue(c);
    return h(
      "a",
      {
        href: `#/cases/${c.id}`,
        class: `card state-${c.state}${overdue ? " overdue" : ""}${this.selected?.id === c.id ? " selected" : ""}`,
        "data-case-id": c.id,
        "data-township": c.township_code || "",
      },
      h("span", { class: "card-title" }, c.title),
      h("span", { class: "chips" },
        h("span", { class: `chip state state-${c.state}` }, label("state", c.state)),
        h("span", { class: `chip fw-cat-${c.category}` }, label("category", c.category)),
        h("span", { class: "chip" }, label("severity", c.severity)),
      ),
      h("span", { class: overdue ? "deadline overdue" : "deadline" }, `${t("cases.deadline")} ${formatTime(c.deadline)} · ${dueText(c)}`),
      c.escalation && c.escalation !== "none" ? h("span", { class: "escalation" }, label("escalation", c.escalation)) : null,
    );
  }

  closeCase() {
    this.selected = null;
    this.urls.revokeAll();
    this.detailEl.hidden = true;
    fill(this.detailEl);
  }

  async showCase(id) {
    this.urls.revokeAll();
    this.detailEl.hidden = false;
    this.detailEl.dataset.caseId = id;
    this.detailEl.dataset.state = "loading";
    fill(this.detailEl, h("p", {}, t("common.loading")));
    try {
      this.selected = await this.opts.api.get(`/v1/cases/${encodeURIComponent(id)}`);
    } catch (err) {
      this.selected = null;
      if (err instanceof ApiError && (err.status === 404 || err.status === 400)) {
        this.detailEl.dataset.state = "not-found";
        fill(this.detailEl, this.#head(), h("p", { class: "not-found", role: "status" }, t("common.notFound")));
        return;
      }
      this.detailEl.dataset.state = "error";
      this.opts.onError(err);
      return;
    }
    this.renderBoard(); // marks the selected card
    this.renderCase();
  }

  renderCase() {
    const c = this.selected;
    if (!c) return;
    const geo = this.opts.geo;
    this.urls.revokeAll();
    this.detailEl.dataset.state = "ready";
    fill(this.detailEl,
      this.#head(),
      h("h3", { class: "case-title" }, c.title),
      h("p", { class: "chips" },
        h("span", { class: `chip state state-${c.state}`, "data-state": c.state }, label("state", c.state)),
        h("span", { class: `chip fw-cat-${c.category}` }, label("category", c.category)),
        h("span", { class: "chip" }, label("severity", c.severity)),
        c.escalation !== "none" ? h("span", { class: "chip escalation" }, label("escalation", c.escalation)) : null,
      ),
      h("dl", {},
        h("dt", {}, t("case.township")), h("dd", {}, c.township_code ? `${townshipName(geo, c.township_code)} (${c.township_code})` : "—"),
        c.reach_code ? [h("dt", {}, t("case.reach")), h("dd", {}, reachName(geo, c.reach_code))] : null,
        c.chiefs.length ? [h("dt", {}, t("case.chiefs")), h("dd", {}, c.chiefs.map((x) => `${x.name} (${label("level", x.level)})`).join("，"))] : null,
        h("dt", {}, t("case.opened")), h("dd", {}, formatTime(c.opened_at)),
        h("dt", {}, t("cases.deadline")), h("dd", { class: isOverdue(c) ? "overdue" : "" }, `${formatTime(c.deadline)} · ${dueText(c)}`),
      ),
      this.#photos(c),
      this.#actions(c),
      this.#timeline(c),
      this.#comment(c),
    );
  }

  #head() {
    return h("header", { class: "panel-head" },
      h("h2", {}, t("case.detail")),
      h("a", { href: "#/cases", class: "close", "aria-label": t("common.close") }, "×"));
  }

  // #photos puts the evidence the case was opened from beside the latest
  // rectification evidence.
  #photos(c) {
    const col = (title, ids, empty, name) =>
      h("figure", { class: `photo-col ${name}` },
        h("figcaption", {}, title),
        ids.length ? ids.map((id) => this.#thumb(id)) : h("p", { class: "muted" }, empty));
    return h("div", { class: "before-after" },
      col(t("case.before"), c.evidence_ids, "—", "before"),
      col(t("case.after"), c.rectification_evidence_ids, t("case.noAfter"), "after"));
  }

  // #thumb links to the evidence and fills its thumbnail in when fetched.
  #thumb(id) {
    const link = h("a", { href: `#/evidence/${id}`, class: "thumb-link", "data-evidence-id": id }, h("span", { class: "muted" }, "…"));
    this.opts.api.blob(`/v1/evidence/${id}/thumbnail`, { size: 320 })
      .then((blob) => fill(link, h("img", { src: this.urls.make(blob), alt: t("evidence.photo"), class: "thumb" })))
      .catch(() => fill(link, h("span", { class: "muted" }, t("evidence.noThumbnail"))));
    return link;
  }

  // #actions shows only what allowed_actions permits. Submitting a
  // rectification needs new photos, which come from the phone.
  #actions(c) {
    const acts = c.allowed_actions.filter((a) => a !== "submit_rectification");
    if (!acts.length && !c.allowed_actions.includes("submit_rectification")) return null;
    const note = h("textarea", { id: "case-action-note", rows: 2, maxLength: 2000 });
    return h("section", { class: "panel-section case-actions" },
      h("h3", {}, t("case.actions")),
      acts.length ? [
        h("label", { for: "case-action-note", class: "field-label" }, t("case.actionNote")),
        note,
        h("div", { class: "buttons" }, acts.map((a) =>
          h("button", {
            type: "button", class: a === "verify" ? "primary" : a === "return" ? "danger" : "", "data-action": a,
            onclick: (ev) => this.#transition(c, a, note.value.trim(), ev.currentTarget),
          }, label("action", a)))),
      ] : null,
      c.allowed_actions.includes("submit_rectification") ? h("p", { class: "hint" }, t("case.submitHint")) : null,
    );
  }

  // #transition sends one intended transition with its own
  // Idempotency-Key: a retry of this request can never apply it twice.
  async #transition(c, action, note, button) {
    if (action === "return" && !note) {
      this.opts.onError(new Error(t("error.noteRequired")));
      return;
    }
    button.disabled = true;
    const body = note ? { action, note } : { action };
    try {
      await this.opts.api.post(`/v1/cases/${c.id}/transitions`, body, { "Idempotency-Key": uuid() });
      this.opts.onNotice(t("case.transitioned", { action: label("action", action) }));
      await this.loadBoard();
      await this.showCase(c.id);
    } catch (err) {
      this.opts.onError(err);
      button.disabled = false;
    }
  }

  #timeline(c) {
    return h("section", { class: "panel-section timeline" },
      h("h3", {}, t("case.timeline")),
      h("ol", {}, c.timeline.map((ev) =>
        h("li", { "data-kind": ev.kind },
          h("span", { class: "muted" }, formatTime(ev.at)), " ",
          h("strong", {}, ev.kind === "transition" && ev.action ? label("action", ev.action) : label("event", ev.kind)),
          ev.from_state && ev.to_state ? ` ${label("state", ev.from_state)} → ${label("state", ev.to_state)}` : "",
          ev.kind === "escalation" && ev.escalation ? ` ${label("escalation", ev.escalation)}` : "",
          ev.note ? h("div", { class: "note" }, ev.note) : null,
          ev.override_reason ? h("div", { class: "note" }, `${t("case.override")}: ${ev.override_reason}`) : null,
          ev.evidence_ids?.length
            ? h("div", {}, ev.evidence_ids.map((id) => h("a", { href: `#/evidence/${id}`, class: "id-link" }, shortID(id))))
            : null,
        ))),
    );
  }

  #comment(c) {
    const body = h("textarea", { id: "case-comment", rows: 2, maxLength: 4000, required: true });
    const form = h("form", { class: "panel-section comment" },
      h("label", { for: "case-comment", class: "field-label" }, t("case.comment")),
      body,
      h("button", { type: "submit" }, t("case.addComment")));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      if (!body.value.trim()) return;
      try {
        await this.opts.api.post(`/v1/cases/${c.id}/comments`, { body: body.value.trim() });
        await this.showCase(c.id);
      } catch (err) {
        this.opts.onError(err);
      }
    });
    return form;
  }
}

function toggle(name, text, checked, onChange) {
  return h("label", { class: "toggle" },
    h("input", { type: "checkbox", name, checked, onchange: (ev) => onChange(ev.currentTarget.checked) }), ` ${text}`);
}

function isOverdue(c) {
  return c.state !== "closed" && (Boolean(c.overdue_since) || new Date(c.deadline) < new Date());
}

function overdueCount(cs) {
  return cs.filter(isOverdue).length;
}

// dueText says how the deadline stands today, in whole days.
function dueText(c) {
  if (c.state === "closed") return label("state", "closed");
  const ms = new Date(c.deadline) - Date.now();
  if (ms < 0) return t("cases.overdueDays", { n: Math.max(1, Math.floor(-ms / dayMs)) });
  const days = Math.floor(ms / dayMs);
  return days === 0 ? t("cases.dueToday") : t("cases.daysLeft", { n: days });
}
