// The API client: the JWT flow of openapi.yaml and problem+json errors.
//
// Tokens live in this object only, never in localStorage or cookies: a
// page reload logs out, and no other script or later visitor of the
// machine can read them. The access token is refreshed about a minute
// before it expires; a 401 gets one refresh and one retry, then the
// session ends.

import { t } from "./i18n.js";

// refreshLead is how long before expiry the access token is renewed.
const refreshLead = 60_000;

// ApiError carries the problem document (RFC 9457) of a failed request.
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }

  // userMessage is what the console shows: our own words for the status,
  // the server's detail (English) and the request id to quote.
  userMessage() {
    if (this.status === 0) return t("error.network");
    const key = `error.${this.status}`;
    const head = t(key) !== key ? t(key) : t("error.generic", { status: this.status });
    const parts = [head];
    if (this.problem.detail) parts.push(this.problem.detail);
    for (const f of this.problem.fields || []) parts.push(`${f.field}: ${f.reason}`);
    if (this.problem.request_id) parts.push(t("common.requestId", { id: this.problem.request_id }));
    return parts.join(" — ");
  }
}

export class Api {
  #access = "";
  #refresh = "";
  #timer = 0;
  #refreshing = null;
  #onExpired;

  // onExpired is called once when the session cannot be renewed.
  constructor(onExpired) {
    this.#onExpired = onExpired;
  }

  get loggedIn() {
    return this.#access !== "";
  }

  async login(username, password) {
    const pair = await this.#tokenCall("/v1/auth/login", { username, password });
    this.#store(pair);
  }

  async logout() {
    const rt = this.#refresh;
    this.#clear();
    if (rt) {
      // Revokes the refresh token's family; failure changes nothing here.
      await fetch("/v1/auth/logout", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: rt }),
      }).catch(() => {});
    }
  }

  // get returns the JSON body of a GET.
  async get(path, query) {
    const res = await this.request("GET", path, { query });
    return res.json();
  }

  // post sends a JSON body and returns the JSON answer (null for 204).
  async post(path, body, headers = {}) {
    const res = await this.request("POST", path, { body, headers });
    return res.status === 204 ? null : res.json();
  }

  // blob returns the body of a GET as a Blob (photos, downloads).
  async blob(path, query) {
    const res = await this.request("GET", path, { query });
    return res.blob();
  }

  // request sends an authenticated request and returns the Response when
  // it is 2xx, else throws ApiError.
  async request(method, path, { query, body, headers = {} } = {}) {
    const url = withQuery(path, query);
    const init = { method, headers: { ...headers } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let res = await this.#send(url, init);
    if (res.status === 401 && this.#refresh) {
      // The access token may have expired in a sleeping laptop: renew once.
      if (await this.#renew()) res = await this.#send(url, init);
    }
    if (res.status === 401) this.#expire();
    if (!res.ok) throw await problemOf(res);
    return res;
  }

  async #send(url, init) {
    const headers = { ...init.headers };
    if (this.#access) headers.Authorization = `Bearer ${this.#access}`;
    try {
      return await fetch(url, { ...init, headers });
    } catch {
      throw new ApiError(0, null);
    }
  }

  // #renew exchanges the refresh token once, however many requests ask
  // at the same time: a refresh token is good for one exchange.
  #renew() {
    if (!this.#refreshing) {
      const rt = this.#refresh;
      this.#refreshing = this.#tokenCall("/v1/auth/refresh", { refresh_token: rt })
        .then((pair) => {
          this.#store(pair);
          return true;
        })
        .catch(() => false)
        .finally(() => {
          this.#refreshing = null;
        });
    }
    return this.#refreshing;
  }

  async #tokenCall(path, body) {
    let res;
    try {
      res = await fetch(path, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
    } catch {
      throw new ApiError(0, null);
    }
    if (!res.ok) throw await problemOf(res);
    return res.json();
  }

  #store(pair) {
    this.#access = pair.access_token;
    this.#refresh = pair.refresh_token;
    clearTimeout(this.#timer);
    const ms = Math.max(5_000, expiresAt(pair) - Date.now() - refreshLead);
    this.#timer = setTimeout(async () => {
      if (!(await this.#renew())) this.#expire();
    }, ms);
  }

  #clear() {
    clearTimeout(this.#timer);
    this.#access = "";
    this.#refresh = "";
  }

  #expire() {
    if (!this.#access && !this.#refresh) return;
    this.#clear();
    this.#onExpired();
  }
}

// expiresAt reads exp from the JWT payload (milliseconds); expires_in is
// the fallback when the token cannot be decoded.
function expiresAt(pair) {
  try {
    const payload = pair.access_token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const padded = payload + "=".repeat((4 - (payload.length % 4)) % 4);
    const exp = JSON.parse(atob(padded)).exp;
    if (typeof exp === "number") return exp * 1000;
  } catch {
    // fall through
  }
  return Date.now() + (pair.expires_in || 300) * 1000;
}

function withQuery(path, query) {
  if (!query) return path;
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== "") qs.set(k, String(v));
  }
  const s = qs.toString();
  return s ? `${path}?${s}` : path;
}

async function problemOf(res) {
  let problem = null;
  try {
    if ((res.headers.get("Content-Type") || "").includes("json")) problem = await res.json();
  } catch {
    // A body that is not JSON: the status says enough.
  }
  return new ApiError(res.status, problem);
}
