// The HTTP side of the public contract (docs/api.md): tokens, one shared refresh, errors.
//
// Tokens live in this object and in sessionStorage (one tab's session, gone with the tab),
// never in localStorage, where any later script of the origin could read them for good.

const STORAGE_KEY = "parley.session";

export class ApiError extends Error {
  constructor(status, detail, body) {
    super(detail || `HTTP ${status}`);
    this.status = status;
    this.detail = detail || `HTTP ${status}`;
    this.body = body;
  }
}

/** The session ended (refresh refused): the user has to log in again. */
export class SessionExpired extends ApiError {}

export class Session {
  constructor({ base = "", storage = globalThis.sessionStorage, fetchImpl } = {}) {
    this.base = base;
    this.storage = storage;
    this.fetch = fetchImpl || globalThis.fetch.bind(globalThis);
    this.tenant = null;
    this.accessToken = null;
    this.refreshToken = null;
    this.refreshing = null; // the one refresh in flight, shared by every caller
    this.onExpired = () => {};
    this.refreshCount = 0;
    this.restore();
  }

  get loggedIn() {
    return Boolean(this.refreshToken);
  }

  restore() {
    try {
      const saved = JSON.parse(this.storage?.getItem(STORAGE_KEY) || "null");
      if (saved && saved.refresh_token) {
        this.tenant = saved.tenant;
        this.accessToken = saved.access_token;
        this.refreshToken = saved.refresh_token;
      }
    } catch {
      this.storage?.removeItem(STORAGE_KEY);
    }
  }

  save() {
    this.storage?.setItem(
      STORAGE_KEY,
      JSON.stringify({
        tenant: this.tenant,
        access_token: this.accessToken,
        refresh_token: this.refreshToken,
      }),
    );
  }

  clear() {
    this.accessToken = null;
    this.refreshToken = null;
    this.storage?.removeItem(STORAGE_KEY);
  }

  adopt(tenant, pair) {
    this.tenant = tenant;
    this.accessToken = pair.access_token;
    this.refreshToken = pair.refresh_token;
    this.save();
  }

  async register(tenant, username, password, displayName) {
    const body = { tenant, username, password };
    if (displayName) body.display_name = displayName;
    return this.raw("POST", "/v1/auth/register", body);
  }

  async login(tenant, username, password) {
    const pair = await this.raw("POST", "/v1/auth/login", { tenant, username, password });
    this.adopt(tenant, pair);
    return pair;
  }

  async logout() {
    const refreshToken = this.refreshToken;
    this.clear();
    if (refreshToken) {
      try {
        await this.raw("POST", "/v1/auth/logout", { refresh_token: refreshToken });
      } catch {
        // The family ends when its refresh token expires anyway; the tab forgets it now.
      }
    }
  }

  /** Rotate the refresh token. Concurrent callers share one request: a refresh token
   * works once, and a second use would be taken for theft and end the whole login. */
  refresh() {
    if (!this.refreshing) {
      this.refreshing = this.rotate().finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  async rotate() {
    if (!this.refreshToken) throw new SessionExpired(401, "Not logged in");
    let pair;
    try {
      pair = await this.raw("POST", "/v1/auth/refresh", { refresh_token: this.refreshToken });
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        this.clear();
        this.onExpired();
        throw new SessionExpired(401, "Your session has ended; please log in again.");
      }
      throw error;
    }
    this.adopt(this.tenant, pair);
    this.refreshCount += 1;
    return pair;
  }

  /** An authenticated call; a 401 triggers one refresh and one retry. */
  async request(method, path, body) {
    if (!this.accessToken && this.refreshToken) await this.refresh();
    const used = this.accessToken;
    try {
      return await this.raw(method, path, body, used);
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 401 || !this.refreshToken) throw error;
    }
    // Another request may have refreshed while this one was out: then only retry.
    if (this.accessToken === used) await this.refresh();
    return this.raw(method, path, body, this.accessToken);
  }

  /** An authenticated call whose 401 means something else than an expired token (a wrong
   * current password): the token is refreshed first if it is about to expire, and a 401
   * is the answer, not a reason to refresh and repeat the call. */
  async requestOnce(method, path, body) {
    if (!this.accessToken || expiresWithin(this.accessToken, 30)) await this.refresh();
    return this.raw(method, path, body, this.accessToken);
  }

  /** A file's bytes (GET with the token; a 401 refreshes once, as `request` does). */
  async blob(path) {
    if (!this.accessToken && this.refreshToken) await this.refresh();
    for (let attempt = 0; ; attempt += 1) {
      const used = this.accessToken;
      const response = await this.fetch(this.base + path, {
        headers: used ? { Authorization: `Bearer ${used}` } : {},
        credentials: "omit",
        cache: "no-store",
      });
      if (response.ok) return response.blob();
      if (response.status !== 401 || attempt || !this.refreshToken) {
        throw new ApiError(response.status, `HTTP ${response.status}`);
      }
      if (this.accessToken === used) await this.refresh();
    }
  }

  async raw(method, path, body, token) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (token) headers.Authorization = `Bearer ${token}`;
    const response = await this.fetch(this.base + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
    });
    if (response.status === 204) return null;
    let payload = null;
    const text = await response.text();
    if (text) {
      try {
        payload = JSON.parse(text);
      } catch {
        payload = { detail: text };
      }
    }
    if (!response.ok) {
      let detail = payload && typeof payload.detail === "string" ? payload.detail : "";
      if (response.status === 429) {
        const wait = response.headers.get("Retry-After");
        detail = `Too many attempts${wait ? `; try again in ${wait} s` : ""}.`;
      }
      throw new ApiError(response.status, detail, payload);
    }
    return payload;
  }
}

/** Whether a JWT's `exp` is less than `seconds` away (or unreadable: then refresh). */
function expiresWithin(token, seconds) {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const { exp } = JSON.parse(atob(payload.padEnd(payload.length + ((4 - (payload.length % 4)) % 4), "=")));
    return typeof exp !== "number" || exp - Date.now() / 1000 < seconds;
  } catch {
    return true;
  }
}
