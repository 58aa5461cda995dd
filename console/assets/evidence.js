// The evidence panel: the photo, capture time, both positions and the
// distance between them, flags, the responsibility record, the review
// history, and (for administrators) review buttons and "open case".

import { h, fill, field, select, ObjectURLs } from "./dom.js";
import { t, label, formatTime, formatNumber } from "./i18n.js";
import { ApiError } from "./api.js";
import { categories, townshipName, reachName } from "./map.js";

// Browsers show these; HEIC/HEIF originals are shown as the 1280 px
// thumbnail instead.
const displayable = new Set(["image/jpeg", "image/png", "image/webp"]);

export class EvidencePanel {
  // opts: api, geo, me, onClose(), onReviewed(evidence), onCaseOpened(case), onError(err), onShown(evidence|null)
  constructor(opts) {
    this.opts = opts;
    this.urls = new ObjectURLs();
    this.el = h("aside", { class: "panel evidence-panel", "aria-label": t("evidence.title"), hidden: true });
    this.current = null;
    this.seq = 0;
  }

  get isAdmin() {
    return this.opts.me.role === "admin";
  }

  close() {
    this.seq++;
    this.current = null;
    this.urls.revokeAll();
    this.el.hidden = true;
    fill(this.el);
    this.opts.onShown(null);
  }

  // show loads and draws one evidence item. Out of scope and missing
  // look the same (404): the panel says "not found" and shows no photo.
  async show(id) {
    const seq = ++this.seq;
    this.urls.revokeAll();
    this.el.hidden = false;
    this.el.dataset.evidenceId = id;
    this.el.dataset.state = "loading";
    fill(this.el, this.#header(), h("p", {}, t("common.loading")));
    let e, reviews;
    try {
      [e, reviews] = await Promise.all([
        this.opts.api.get(`/v1/evidence/${encodeURIComponent(id)}`),
        this.opts.api.get(`/v1/evidence/${encodeURIComponent(id)}/reviews`),
      ]);
    } catch (err) {
      if (seq !== this.seq) return;
      this.current = null;
      this.opts.onShown(null);
      if (err instanceof ApiError && (err.status === 404 || err.status === 400)) {
        this.el.dataset.state = "not-found";
        fill(this.el, this.#header(), h("p", { class: "not-found", role: "status" }, t("common.notFound")));
        return;
      }
      this.el.dataset.state = "error";
      fill(this.el, this.#header(), h("p", { class: "error" }, err.userMessage ? err.userMessage() : String(err)));
      return;
    }
    if (seq !== this.seq) return;
    this.current = e;
    this.reviews = reviews;
    this.render();
    this.opts.onShown(e);
  }

  // render redraws the loaded evidence (also after a language change).
  render() {
    const e = this.current;
    if (!e) return;
    this.urls.revokeAll();
    const photo = h("div", { class: "photo" }, h("p", { class: "muted" }, t("common.loading")));
    this.el.dataset.state = "ready";
    fill(this.el,
      this.#header(),
      photo,
      this.#facts(e),
      this.#positions(e),
      this.#flags(e),
      this.#responsibility(e),
      this.#reviews(),
      this.isAdmin ? this.#reviewForm(e) : null,
      this.isAdmin ? this.#caseForm(e) : null,
    );
    this.#loadPhoto(e, photo);
  }

  #header() {
    return h(
      "header",
      { class: "panel-head" },
      h("h2", {}, t("evidence.title")),
      h("button", { type: "button", class: "close", "aria-label": t("common.close"), onclick: () => this.opts.onClose() }, "×"),
    );
  }

  // #loadPhoto fetches the 320 px thumbnail with the bearer token (an
  // <img src> could not send it) and falls back to the original while
  // the thumbnail is not made yet.
  async #loadPhoto(e, box) {
    const seq = this.seq;
    const api = this.opts.api;
    let blob = null;
    try {
      blob = await api.blob(`/v1/evidence/${e.id}/thumbnail`, { size: 320 });
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 404) || !displayable.has(e.content_type)) {
        if (seq === this.seq) fill(box, h("p", { class: "muted" }, t("evidence.noThumbnail")));
        return;
      }
      try {
        blob = await api.blob(`/v1/evidence/${e.id}/photo`);
      } catch {
        if (seq === this.seq) fill(box, h("p", { class: "muted" }, t("evidence.photoUnavailable")));
        return;
      }
    }
    if (seq !== this.seq) return;
    const img = h("img", { src: this.urls.make(blob), alt: label("category", e.category), class: "thumb" });
    const full = h("button", { type: "button", onclick: () => this.#showFull(e) }, t("evidence.fullPhoto"));
    fill(box, img, full);
  }

  // #showFull opens the photo in a dialog: the original bytes when the
  // browser can show them, else the 1280 px rendering. (With an S3 photo
  // store the original is a redirect to a presigned URL; fetching it
  // needs the bucket to allow this origin, so the thumbnail is the
  // fallback.)
  async #showFull(e) {
    const api = this.opts.api;
    let blob;
    try {
      blob = displayable.has(e.content_type)
        ? await api.blob(`/v1/evidence/${e.id}/photo`)
        : await api.blob(`/v1/evidence/${e.id}/thumbnail`, { size: 1280 });
    } catch {
      try {
        blob = await api.blob(`/v1/evidence/${e.id}/thumbnail`, { size: 1280 });
      } catch (err) {
        this.opts.onError(err);
        return;
      }
    }
    const url = URL.createObjectURL(blob);
    const dialog = h(
      "dialog",
      { class: "photo-dialog", onclose: () => { URL.revokeObjectURL(url); dialog.remove(); } },
      h("img", { src: url, alt: label("category", e.category) }),
      h("form", { method: "dialog" }, h("button", {}, t("common.close"))),
    );
    document.body.append(dialog);
    dialog.showModal();
  }

  #facts(e) {
    const rows = [
      [t("evidence.category"), `${label("category", e.category)}${e.subcategory ? ` · ${e.subcategory}` : ""}`],
      [t("evidence.capturedAt"), e.captured_at
        ? `${formatTime(e.captured_at)} (${t("evidence.source", { source: label("evidence.source", e.capture_time_source) })})`
        : t("common.none")],
      [t("evidence.receivedAt"), formatTime(e.received_at)],
      e.note ? [t("evidence.note"), e.note] : null,
    ];
    return dl(rows);
  }

  #positions(e) {
    const dev = e.device_location;
    const devText = dev
      ? [
          coords(dev.wgs84),
          dev.crs !== "wgs84" ? ` (${dev.crs}: ${coords(dev)})` : "",
          dev.accuracy_m !== undefined ? `, ${t("evidence.accuracy", { n: formatNumber(dev.accuracy_m) })}` : "",
          dev.mock ? `, ${t("evidence.mock")}` : "",
        ].join("")
      : t("common.none");
    const dist = distanceOf(e);
    return section("positions", t("evidence.positions"), dl([
      [t("evidence.location"), e.location
        ? `${coords(e.location)} (${t("evidence.source", { source: label("evidence.source", e.location_source) })})`
        : t("common.none")],
      [t("evidence.exif"), e.exif?.position ? coords(e.exif.position) : t("common.none")],
      [t("evidence.device"), devText],
      [t("evidence.distance"), dist === null ? "—" : t("common.metres", { n: formatNumber(dist, 1) })],
    ]));
  }

  #flags(e) {
    const chips = e.flags.map((f) => h("li", { class: "chip flag", "data-flag": f }, label("flag", f)));
    return section(
      "flags",
      t("evidence.flags"),
      chips.length ? h("ul", { class: "chips" }, chips) : h("p", { class: "muted" }, t("evidence.noFlags")),
      e.duplicate_of
        ? h("p", {}, h("a", { href: `#/evidence/${e.duplicate_of}` }, t("evidence.duplicateOf")))
        : null,
    );
  }

  #responsibility(e) {
    const r = e.responsibility;
    const geo = this.opts.geo;
    if (!r) return section("responsibility", t("evidence.responsibility"), h("p", { class: "muted" }, t("common.none")));
    const chiefs = r.chiefs.map((c) => `${c.name} (${label("level", c.level)})`).join("，");
    const candidates = r.candidates
      .map((c) => `${c.code} ${t("common.metres", { n: formatNumber(c.distance_m) })}`)
      .join("，");
    return section("responsibility", t("evidence.responsibility"), dl([
      [t("evidence.township"), r.township_code
        ? `${townshipName(geo, r.township_code)} (${r.township_code})${r.zone ? ` · ${label("zone", r.zone)}` : ""}`
        : t("common.none")],
      [t("evidence.reach"), r.reach_code
        ? `${reachName(geo, r.reach_code)}${r.reach_distance_m !== undefined ? ` · ${t("common.metres", { n: formatNumber(r.reach_distance_m) })}` : ""}`
        : t("common.none")],
      [t("evidence.chiefs"), chiefs || t("common.none")],
      [t("evidence.candidates"), candidates || t("common.none")],
    ]));
  }

  #reviews() {
    const latest = this.reviews.at(-1);
    const state = latest ? latest.decision : "pending";
    return section(
      "reviews",
      t("review.history"),
      h("p", {}, `${t("review.state")}: `, h("strong", { class: `review-state state-${state}`, "data-review-state": state }, label("review", state))),
      this.reviews.length
        ? h("ol", { class: "history" }, this.reviews.map((r) =>
            h("li", {}, h("strong", {}, label("review", r.decision)), ` · ${formatTime(r.at)}`, r.note ? h("div", { class: "note" }, r.note) : null)))
        : null,
    );
  }

  // #reviewForm: accept, reject or ask for more, with a note (required
  // for the last two: the inspector must learn what is wrong).
  #reviewForm(e) {
    const note = h("textarea", { id: "review-note", rows: 2, maxLength: 2000 });
    const buttons = [
      ["accepted", "review.accept", "primary"],
      ["rejected", "review.reject", "danger"],
      ["needs_info", "review.needsInfo", ""],
    ].map(([decision, key, cls]) =>
      h("button", {
        type: "button", class: cls, "data-decision": decision,
        onclick: (ev) => this.#review(e, decision, note.value.trim(), ev.currentTarget),
      }, t(key)),
    );
    return section("review-form", t("review.note"), h("label", { for: "review-note", class: "sr-only" }, t("review.note")), note, h("div", { class: "buttons" }, buttons));
  }

  async #review(e, decision, note, button) {
    if (decision !== "accepted" && !note) {
      this.opts.onError(new Error(t("error.noteRequired")));
      return;
    }
    button.disabled = true;
    try {
      await this.opts.api.post(`/v1/evidence/${e.id}/review`, note ? { decision, note } : { decision });
      this.reviews = await this.opts.api.get(`/v1/evidence/${e.id}/reviews`);
      this.opts.onReviewed(e, t("review.recorded", { decision: label("review", decision) }));
      if (this.current?.id === e.id) this.render();
    } catch (err) {
      this.opts.onError(err);
    } finally {
      button.disabled = false;
    }
  }

  // #caseForm opens a rectification case from this evidence. Township,
  // reach and chiefs come from its responsibility record (server side).
  #caseForm(e) {
    const geo = this.opts.geo;
    const place = townshipName(geo, e.township_code);
    const title = h("input", {
      id: "case-title", type: "text", required: true, maxLength: 200,
      value: `${label("category", e.category)}${place ? ` · ${place}` : ""}`,
    });
    const category = select({ id: "case-category" }, categories.map((c) => [c, label("category", c)]), e.category);
    const severity = select({ id: "case-severity" }, ["low", "medium", "high"].map((s) => [s, label("severity", s)]), "medium");
    const note = h("textarea", { id: "case-note", rows: 2, maxLength: 2000 });
    const submit = h("button", { type: "submit", class: "primary", "data-action": "open-case" }, t("case.create"));
    const form = h(
      "form",
      { class: "case-form", hidden: true },
      h("h3", {}, t("case.new")),
      field(t("case.title"), title),
      field(t("case.category"), category),
      field(t("case.severity"), severity),
      field(t("case.note"), note),
      h("div", { class: "buttons" }, submit, h("button", { type: "button", onclick: () => { form.hidden = true; opener.hidden = false; } }, t("common.cancel"))),
    );
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      submit.disabled = true; // no idempotency key on createCase: one click, one case
      const body = { evidence_ids: [e.id], title: title.value.trim(), category: category.value, severity: severity.value };
      if (note.value.trim()) body.note = note.value.trim();
      try {
        const c = await this.opts.api.post("/v1/cases", body);
        this.opts.onCaseOpened(c);
      } catch (err) {
        this.opts.onError(err);
        submit.disabled = false;
      }
    });
    const opener = h("button", {
      type: "button", class: "primary", "data-action": "show-case-form",
      onclick: () => { form.hidden = false; opener.hidden = true; title.focus(); },
    }, t("evidence.openCase"));
    return h("div", { class: "case-open" }, opener, form);
  }
}

// section is a titled part of the panel; name is its class, for styling
// and tests.
function section(name, title, ...children) {
  return h("section", { class: `panel-section ${name}` }, h("h3", {}, title), children);
}

function dl(rows) {
  return h("dl", {}, rows.filter(Boolean).map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

function coords(p) {
  return `${p.lon.toFixed(6)}, ${p.lat.toFixed(6)}`;
}

// distanceOf is the server's EXIF–device distance, or the great-circle
// distance when the server gave none but both positions exist.
function distanceOf(e) {
  if (typeof e.exif_device_distance_m === "number") return e.exif_device_distance_m;
  const a = e.exif?.position;
  const b = e.device_location?.wgs84;
  if (!a || !b) return null;
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const s = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371008.8 * Math.asin(Math.sqrt(s));
}
