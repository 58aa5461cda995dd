// The map: evidence markers (clustered, coloured by category) over the
// township boundaries and river reaches drawn as vector layers from the
// API, so the map is useful without any base-map tiles. The view's
// bounding box and the filters drive GET /v1/evidence.
//
// Leaflet and leaflet.markercluster are loaded as classic scripts before
// the modules and used through the global L.

import { h, fill, field, select } from "./dom.js";
import { t, label, lang, formatTime } from "./i18n.js";

export const categories = ["dust_site", "open_burning", "river_section", "other"];
const flags = [
  "exif_missing", "exif_device_mismatch", "location_missing", "mock_location", "capture_time_future",
  "capture_stale", "capture_time_missing", "outside_county", "decode_incomplete", "duplicate_of",
];
const reviewStates = ["pending", "accepted", "rejected", "needs_info", "withdrawn"];

// The API's page limit: one request covers the view; beyond it the
// console asks the user to zoom in rather than paging a whole county.
const pageLimit = 500;
const debounceMs = 250;
const listMax = 200;

// loadGeography fetches the townships with their boundaries and the
// reaches in force. Geography is public to every signed-in role.
export async function loadGeography(api) {
  const [infos, reaches] = await Promise.all([api.get("/v1/townships"), api.get("/v1/reaches")]);
  const features = await Promise.all(infos.map((ti) => api.get(`/v1/townships/${ti.code}`)));
  const townships = new Map(infos.map((ti, i) => [ti.code, { ...ti, feature: features[i] }]));
  return { townships, reaches: reaches.features };
}

// townshipName is the township's name in the interface language.
export function townshipName(geo, code) {
  if (!code) return "";
  const ti = geo.townships.get(code);
  if (!ti) return code;
  return lang() === "en" && ti.name_en ? ti.name_en : ti.name;
}

export function reachName(geo, code) {
  const f = geo.reaches.find((r) => r.properties.code === code);
  if (!f) return code || "";
  const p = f.properties;
  const river = lang() === "en" && p.river_en ? p.river_en : p.river;
  return `${river} ${p.name || ""} (${code})`.replace(/\s+/g, " ");
}

export class MapView {
  // opts: api, geo, config (config.json), onOpen(id), onError(err)
  constructor(opts) {
    this.opts = opts;
    this.filters = {};
    this.markers = new Map(); // evidence id → L.Marker
    this.items = [];
    this.truncated = false;
    this.seq = 0;
    this.timer = 0;
    this.el = h("section", { class: "view view-map", "aria-label": t("nav.map") });
    this.side = h("div", { class: "map-side" });
    this.mapEl = h("div", { id: "map", class: "map", "data-state": "loading" });
    this.el.append(this.side, this.mapEl);
  }

  // mount creates the Leaflet map once its container is in the document.
  mount() {
    // Without a tile layer nothing gives the map a zoom range, which the
    // cluster plugin needs.
    const map = L.map(this.mapEl, { zoomControl: true, minZoom: 3, maxZoom: 18 });
    this.map = map;
    this.baseLayer = this.#baseLayer();
    if (this.baseLayer) this.baseLayer.addTo(map);
    this.townshipLayer = this.#townshipLayer().addTo(map);
    this.reachLayer = this.#reachLayer().addTo(map);
    this.cluster = L.markerClusterGroup({
      maxClusterRadius: 45,
      disableClusteringAtZoom: 17,
      showCoverageOnHover: false,
      spiderfyOnMaxZoom: true,
    }).addTo(map);
    this.selection = L.layerGroup().addTo(map);
    this.#relabelLayers();
    const bounds = this.townshipLayer.getBounds();
    if (bounds.isValid()) map.fitBounds(bounds);
    else map.setView([39.7, 118.7], 10);
    map.on("moveend", () => this.#scheduleLoad());
    this.renderSide();
    this.load();
  }

  // setVisible tells Leaflet the container's size may have changed.
  shown() {
    this.map?.invalidateSize();
  }

  #baseLayer() {
    const c = this.opts.config;
    if (!c.tile_url) return null;
    return L.tileLayer(c.tile_url, {
      subdomains: c.tile_subdomains || "abc",
      maxZoom: 18,
      // Leaflet renders attributions as HTML; the operator's text is
      // escaped so it can only ever be text.
      attribution: escapeHTML(c.tile_attribution || ""),
    });
  }

  #townshipLayer() {
    const fc = [...this.opts.geo.townships.values()].map((ti) => ti.feature);
    return L.geoJSON(fc, {
      style: { color: "#2f855a", weight: 2, fillColor: "#68d391", fillOpacity: 0.06 },
    });
  }

  #reachLayer() {
    return L.geoJSON(this.opts.geo.reaches, {
      style: { color: "#2b6cb0", weight: 3, opacity: 0.85 },
    });
  }

  // #relabelLayers (re)binds the tooltips and the layer control in the
  // interface language.
  #relabelLayers() {
    const geo = this.opts.geo;
    this.townshipLayer.eachLayer((l) => {
      l.unbindTooltip();
      l.bindTooltip(textNode(townshipName(geo, l.feature.properties.code)), { sticky: true });
    });
    this.reachLayer.eachLayer((l) => {
      l.unbindTooltip();
      l.bindTooltip(textNode(reachName(geo, l.feature.properties.code)), { sticky: true });
    });
    this.layerControl?.remove();
    this.layerControl = L.control
      .layers(null, {
        [t("map.layerTownships")]: this.townshipLayer,
        [t("map.layerReaches")]: this.reachLayer,
        [t("map.layerEvidence")]: this.cluster,
      }, { collapsed: false })
      .addTo(this.map);
  }

  relabel() {
    if (!this.map) return;
    this.#relabelLayers();
    for (const [id, m] of this.markers) m.options.title = this.#markerTitle(this.items.find((e) => e.id === id));
    this.renderSide();
  }

  setFilters(filters) {
    this.filters = filters;
    this.load();
  }

  #scheduleLoad() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.load(), debounceMs);
  }

  // load asks for the evidence in the current view. Answers to older
  // requests that arrive late are dropped.
  async load() {
    if (!this.map) return;
    const seq = ++this.seq;
    const bbox = viewBBox(this.map.getBounds());
    this.mapEl.dataset.state = "loading";
    try {
      const page = await this.opts.api.get("/v1/evidence", { ...this.filters, bbox, limit: pageLimit });
      if (seq !== this.seq) return;
      this.items = page.items.filter((e) => e.location);
      this.truncated = Boolean(page.next_cursor);
      this.#syncMarkers();
      this.mapEl.dataset.bbox = bbox;
      this.mapEl.dataset.evidenceIds = this.items.map((e) => e.id).sort().join(",");
      this.renderSide();
      this.mapEl.dataset.state = "ready";
    } catch (err) {
      if (seq !== this.seq) return;
      this.mapEl.dataset.state = "error";
      this.opts.onError(err);
    }
  }

  // #syncMarkers adds and removes markers to match the loaded items, so
  // panning does not rebuild (and flicker) markers that stay in view.
  #syncMarkers() {
    const want = new Map(this.items.map((e) => [e.id, e]));
    const gone = [];
    for (const [id, m] of this.markers) {
      const e = want.get(id);
      if (!e || m.fwKey !== markerKey(e)) {
        gone.push(m);
        this.markers.delete(id);
      }
    }
    this.cluster.removeLayers(gone);
    const added = [];
    for (const e of this.items) {
      if (this.markers.has(e.id)) continue;
      const m = this.#marker(e);
      this.markers.set(e.id, m);
      added.push(m);
    }
    this.cluster.addLayers(added);
  }

  #marker(e) {
    const cls = `fw-marker fw-cat-${e.category}${e.flags.length ? " fw-flagged" : ""}`;
    const m = L.marker([e.location.lat, e.location.lon], {
      icon: L.divIcon({ className: cls, iconSize: [18, 18] }),
      title: this.#markerTitle(e),
      alt: label("category", e.category),
      keyboard: true,
    });
    m.fwKey = markerKey(e);
    // The icon element is made each time the cluster shows the marker.
    m.on("add", () => {
      const el = m.getElement();
      if (el) el.dataset.evidenceId = e.id;
    });
    m.on("click", () => this.opts.onOpen(e.id));
    return m;
  }

  #markerTitle(e) {
    if (!e) return "";
    const place = townshipName(this.opts.geo, e.township_code);
    return `${label("category", e.category)} · ${place} · ${formatTime(e.received_at)}`;
  }

  // showSelection marks the open evidence's EXIF and device positions
  // and the line between them.
  showSelection(e) {
    this.selection.clearLayers();
    if (!e) return;
    const pts = [];
    if (e.exif?.position) pts.push(["E", t("map.exifPos"), e.exif.position]);
    if (e.device_location?.wgs84) pts.push(["D", t("map.devicePos"), e.device_location.wgs84]);
    for (const [letter, text, p] of pts) {
      L.marker([p.lat, p.lon], {
        icon: L.divIcon({ className: `fw-pos fw-pos-${letter}`, html: letter, iconSize: [20, 20] }),
        title: text,
        interactive: false,
      }).addTo(this.selection);
    }
    if (pts.length === 2) {
      L.polyline(pts.map(([, , p]) => [p.lat, p.lon]), { color: "#c53030", dashArray: "4 4", weight: 2 }).addTo(this.selection);
    }
    if (e.location && !this.map.getBounds().contains([e.location.lat, e.location.lon])) {
      this.map.setView([e.location.lat, e.location.lon], Math.max(this.map.getZoom(), 14));
    }
  }

  // refresh reloads the view (after a review changes what filters match).
  refresh() {
    this.load();
  }

  // renderSide draws the filters, the legend and the list of the
  // evidence in view.
  renderSide() {
    fill(this.side, this.#filterForm(), this.#legend(), this.#list());
  }

  #filterForm() {
    const geo = this.opts.geo;
    const f = this.filters;
    const all = ["", t("common.all")];
    const townships = [...geo.townships.values()].map((ti) => [ti.code, townshipName(geo, ti.code)]);
    const reaches = geo.reaches.map((r) => [r.properties.code, reachName(geo, r.properties.code)]);
    const controls = {
      category: select({ name: "category" }, [all, ...categories.map((c) => [c, label("category", c)])], f.category),
      township: select({ name: "township" }, [all, ...townships], f.township),
      reach: select({ name: "reach" }, [all, ...reaches], f.reach),
      review_state: select({ name: "review_state" }, [all, ...reviewStates.map((s) => [s, label("review", s)])], f.review_state),
      flag: select({ name: "flag" }, [all, ...flags.map((x) => [x, label("flag", x)])], f.flag),
      from: h("input", { type: "date", name: "from", value: dateOf(f.from) }),
      to: h("input", { type: "date", name: "to", value: dateOf(f.to, -1) }),
    };
    const form = h(
      "form",
      { class: "filters", "aria-label": t("map.filters"), onsubmit: (ev) => ev.preventDefault() },
      h("h2", {}, t("map.filters")),
      field(t("map.category"), controls.category),
      field(t("map.township"), controls.township),
      field(t("map.reach"), controls.reach),
      field(t("map.reviewState"), controls.review_state),
      field(t("map.flag"), controls.flag),
      h("div", { class: "field-row" }, field(t("map.from"), controls.from), field(t("map.to"), controls.to)),
      h("button", { type: "button", class: "link", onclick: () => this.setFilters({}) }, t("map.reset")),
    );
    form.addEventListener("change", () => this.setFilters(readFilters(controls)));
    return form;
  }

  #legend() {
    const counts = {};
    for (const e of this.items) counts[e.category] = (counts[e.category] || 0) + 1;
    return h(
      "div",
      { class: "legend" },
      h("h2", {}, t("map.legend")),
      h(
        "ul",
        {},
        categories.map((c) =>
          h("li", {}, h("span", { class: `swatch fw-cat-${c}`, "aria-hidden": "true" }), `${label("category", c)} (${counts[c] || 0})`),
        ),
      ),
      this.opts.config.tile_url ? null : h("p", { class: "hint" }, t("map.noTiles")),
    );
  }

  #list() {
    const items = [...this.items].sort((a, b) => (a.received_at < b.received_at ? 1 : -1));
    const geo = this.opts.geo;
    return h(
      "div",
      { class: "evidence-list" },
      h("h2", {}, t("map.list")),
      h("p", { class: "count", "data-count": this.items.length }, t("map.inView", { n: this.items.length })),
      this.truncated ? h("p", { class: "warn" }, t("map.truncated", { n: pageLimit })) : null,
      h(
        "ul",
        {},
        items.slice(0, listMax).map((e) =>
          h(
            "li",
            {},
            h(
              "button",
              { type: "button", class: "evidence-item", "data-evidence-id": e.id, onclick: () => this.opts.onOpen(e.id) },
              h("span", { class: `swatch fw-cat-${e.category}`, "aria-hidden": "true" }),
              h("span", {}, `${label("category", e.category)} · ${townshipName(geo, e.township_code) || "—"}`),
              h("span", { class: "muted" }, formatTime(e.received_at)),
            ),
          ),
        ),
      ),
    );
  }
}

// markerKey changes when what the marker shows changes.
function markerKey(e) {
  return `${e.category}|${e.flags.length > 0}|${e.location.lon},${e.location.lat}`;
}

// viewBBox is the map view as the API's bbox parameter: plain decimals
// (the parameter's pattern has no exponents), clamped to the globe.
function viewBBox(b) {
  const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v)).toFixed(6);
  return [
    clamp(b.getWest(), -180, 180),
    clamp(b.getSouth(), -90, 90),
    clamp(b.getEast(), -180, 180),
    clamp(b.getNorth(), -90, 90),
  ].join(",");
}

// readFilters turns the form into query parameters. Dates are whole days
// in the browser's time zone; "to" is exclusive in the API, so it is the
// next midnight.
function readFilters(c) {
  const out = {};
  for (const k of ["category", "township", "reach", "review_state", "flag"]) {
    if (c[k].value) out[k] = c[k].value;
  }
  if (c.from.value) out.from = new Date(`${c.from.value}T00:00:00`).toISOString();
  if (c.to.value) {
    const d = new Date(`${c.to.value}T00:00:00`);
    d.setDate(d.getDate() + 1);
    out.to = d.toISOString();
  }
  return out;
}

// dateOf is the yyyy-mm-dd of an ISO time in the browser's zone, shifted
// by days (the exclusive "to" shows as the day before).
function dateOf(iso, days = 0) {
  if (!iso) return "";
  const d = new Date(iso);
  d.setDate(d.getDate() + days);
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

// textNode wraps text for Leaflet tooltips, which would parse a string
// as HTML: names come from imported GeoJSON.
function textNode(s) {
  return h("span", {}, s);
}

function escapeHTML(s) {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}
