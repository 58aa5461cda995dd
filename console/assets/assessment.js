// The monthly assessment (通报): a sortable table of townships, the
// drill-down behind each value, and the CSV/XLSX downloads. Downloads
// need the bearer token, so they are fetched and saved from a blob
// rather than linked.

import { h, fill, shortID, field, saveBlob } from "./dom.js";
import { t, label, formatTime, formatNumber } from "./i18n.js";
import { ApiError } from "./api.js";
import { townshipName } from "./map.js";

export class AssessmentView {
  // opts: api, geo, onError(err)
  constructor(opts) {
    this.opts = opts;
    this.month = lastMonth();
    this.data = null;
    this.detail = null;
    this.sort = { key: "rank", dir: 1 };
    this.el = h("section", { class: "view view-assessment", "aria-label": t("assessment.title") });
    this.tableEl = h("div", { class: "assessment-main" });
    this.detailEl = h("aside", { class: "panel assessment-panel", hidden: true });
    this.el.append(this.tableEl, this.detailEl);
  }

  // show loads month (default: last month) and, with code, its drill-down.
  async show(month, code) {
    if (month && month !== this.month) {
      this.month = month;
      this.data = null;
    }
    if (!this.data) await this.load();
    else this.render();
    if (code) await this.showTownship(code);
    else this.detailEl.hidden = true;
  }

  async load() {
    this.tableEl.dataset.state = "loading";
    this.render();
    try {
      this.data = await this.opts.api.get(`/v1/assessments/${this.month}`);
      this.tableEl.dataset.state = "ready";
    } catch (err) {
      this.data = null;
      this.tableEl.dataset.state = "error";
      this.opts.onError(err);
    }
    this.render();
  }

  render() {
    const monthInput = h("input", { type: "month", id: "assessment-month", value: this.month, required: true });
    const form = h("form", { class: "assessment-controls" },
      field(t("assessment.month"), monthInput),
      h("button", { type: "submit" }, t("assessment.load")),
      h("button", { type: "button", "data-format": "csv", onclick: () => this.#download("csv") }, t("assessment.csv")),
      h("button", { type: "button", "data-format": "xlsx", onclick: () => this.#download("xlsx") }, t("assessment.xlsx")),
      this.data ? h("span", { class: "chip" }, this.data.frozen ? `${t("assessment.frozen")} ${formatTime(this.data.frozen_at)}` : t("assessment.live")) : null,
    );
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      if (monthInput.value) location.hash = `#/assessment/${monthInput.value}`;
    });
    fill(this.tableEl, h("h2", {}, t("assessment.title")), form, this.data ? this.#table() : null);
  }

  // #columns: fixed columns, then one per indicator of the letters in
  // force (metric, and category where the letter names one).
  #columns() {
    const cols = [
      { key: "rank", text: t("assessment.rank"), value: (ts) => ts.rank_overall, num: true },
      { key: "name", text: t("assessment.township"), value: (ts) => ts.name },
      { key: "zone", text: t("assessment.zone"), value: (ts) => label("zone", ts.zone) },
      { key: "rankInZone", text: t("assessment.rankInZone"), value: (ts) => ts.rank_in_zone, num: true },
      { key: "score", text: t("assessment.score"), value: (ts) => ts.score, num: true },
    ];
    const seen = new Set();
    for (const ts of this.data.townships) {
      for (const ind of ts.indicators) {
        const key = indicatorKey(ind);
        if (seen.has(key)) continue;
        seen.add(key);
        cols.push({
          key,
          text: indicatorName(ind),
          value: (row) => row.indicators.find((i) => indicatorKey(i) === key)?.points,
          num: true,
        });
      }
    }
    return cols;
  }

  #table() {
    const cols = this.#columns();
    const col = cols.find((c) => c.key === this.sort.key) || cols[0];
    const rows = [...this.data.townships].sort((a, b) => compare(col.value(a), col.value(b), this.sort.dir));
    return h("table", { class: "assessment", "data-month": this.data.month },
      h("thead", {}, h("tr", {}, cols.map((c) => this.#th(c)))),
      h("tbody", {}, rows.map((ts) => h("tr", { "data-township": ts.code },
        cols.map((c) => h("td", { class: c.num ? "num" : "" }, this.#cell(ts, c)))))),
    );
  }

  // #th is a column header whose button sorts by it; aria-sort tells
  // assistive technology the current order.
  #th(c) {
    const active = this.sort.key === c.key;
    const aria = active ? (this.sort.dir > 0 ? "ascending" : "descending") : "none";
    return h("th", { scope: "col", "aria-sort": aria },
      h("button", {
        type: "button", class: "sort", "data-sort": c.key,
        onclick: () => {
          this.sort = { key: c.key, dir: active ? -this.sort.dir : c.key === "score" ? -1 : 1 };
          this.render();
        },
      }, c.text, active ? (this.sort.dir > 0 ? " ▲" : " ▼") : ""));
  }

  #cell(ts, c) {
    if (c.key === "name") {
      return h("a", { href: `#/assessment/${this.month}/${ts.code}`, "data-drill": ts.code }, this.#name(ts));
    }
    if (c.key === "score" && ts.score === undefined) return h("span", { class: "muted" }, t("assessment.unscored"));
    const v = c.value(ts);
    if (v === undefined || v === null) return "—";
    return typeof v === "number" ? formatNumber(v, 2) : v;
  }

  // #name is the township's name in the interface language (the
  // assessment carries the Chinese name only).
  #name(ts) {
    return this.opts.geo.townships.has(ts.code) ? townshipName(this.opts.geo, ts.code) : ts.name;
  }

  async showTownship(code) {
    this.detailEl.hidden = false;
    this.detailEl.dataset.township = code;
    fill(this.detailEl, h("p", {}, t("common.loading")));
    try {
      this.detail = await this.opts.api.get(`/v1/assessments/${this.month}/townships/${encodeURIComponent(code)}`);
    } catch (err) {
      this.detail = null;
      if (err instanceof ApiError && (err.status === 404 || err.status === 400)) {
        fill(this.detailEl, this.#detailHead(code), h("p", { class: "not-found", role: "status" }, t("common.notFound")));
        return;
      }
      this.opts.onError(err);
      this.detailEl.hidden = true;
      return;
    }
    this.renderDetail();
  }

  #detailHead(title) {
    return h("header", { class: "panel-head" },
      h("h2", {}, title),
      h("a", { href: `#/assessment/${this.month}`, class: "close", "aria-label": t("common.close") }, "×"));
  }

  renderDetail() {
    const d = this.detail;
    if (!d) return;
    const ts = d.township;
    fill(this.detailEl,
      this.#detailHead(`${this.#name(ts)} · ${d.month}`),
      h("p", {}, `${t("assessment.score")}: `, h("strong", {}, ts.score === undefined ? t("assessment.unscored") : formatNumber(ts.score, 2)),
        ts.rank_overall ? ` · ${t("assessment.rank")} ${ts.rank_overall}` : ""),
      h("table", { class: "drill" },
        h("thead", {}, h("tr", {}, ["assessment.metric", "assessment.value", "assessment.target", "assessment.weight", "assessment.points", "assessment.basis"]
          .map((k) => h("th", { scope: "col" }, t(k))))),
        h("tbody", {}, ts.indicators.map((ind) => h("tr", { "data-metric": ind.metric },
          h("td", {}, indicatorName(ind), h("div", { class: "muted" }, label("rule", ind.rule))),
          h("td", { class: "num" }, ind.value === undefined || ind.value === null ? t("assessment.noValue") : formatNumber(ind.value, 2)),
          h("td", { class: "num" }, formatNumber(ind.target, 2)),
          h("td", { class: "num" }, formatNumber(ind.weight, 2)),
          h("td", { class: "num" }, formatNumber(ind.points, 2)),
          h("td", { class: "basis" }, basis(ind)),
        )))),
    );
  }

  async #download(format) {
    try {
      const blob = await this.opts.api.blob(`/v1/assessments/${this.month}`, { format });
      saveBlob(blob, `assessment-${this.month}.${format}`);
    } catch (err) {
      this.opts.onError(err);
    }
  }
}

// basis lists what a value was counted from, each linking to its view
// (patrols have no view in the console: their ids are listed).
function basis(ind) {
  const links = (ids, route) => ids.map((id) => h("a", { href: `#/${route}/${id}`, class: "id-link" }, shortID(id)));
  const parts = [];
  if (ind.evidence_ids.length) parts.push(h("div", {}, `${t("assessment.evidence", { n: ind.evidence_ids.length })}: `, links(ind.evidence_ids, "evidence")));
  if (ind.case_ids.length) parts.push(h("div", {}, `${t("assessment.cases", { n: ind.case_ids.length })}: `, links(ind.case_ids, "cases")));
  if (ind.patrol_ids.length) {
    parts.push(h("div", {}, `${t("assessment.patrols", { n: ind.patrol_ids.length })}: `,
      ind.patrol_ids.map((id) => h("code", { class: "id-link" }, shortID(id)))));
  }
  return parts.length ? parts : "—";
}

function indicatorKey(ind) {
  return ind.category ? `${ind.metric}:${ind.category}` : ind.metric;
}

function indicatorName(ind) {
  const m = label("metric", ind.metric);
  return ind.category ? `${m}（${label("category", ind.category)}）` : m;
}


// compare sorts by value in dir (1 ascending, -1 descending); missing
// values (unscored townships) always come last.
function compare(a, b, dir) {
  const missA = a === undefined || a === null;
  const missB = b === undefined || b === null;
  if (missA || missB) return missA === missB ? 0 : missA ? 1 : -1;
  if (typeof a === "number" && typeof b === "number") return (a - b) * dir;
  return String(a).localeCompare(String(b), "zh-CN") * dir;
}

function lastMonth() {
  const d = new Date();
  d.setDate(1);
  d.setMonth(d.getMonth() - 1);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}`;
}
