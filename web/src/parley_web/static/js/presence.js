// Presence (docs/api.md "Presence"): the reader's own status selector, which PUTs
// /v1/presence, and the statuses of the people sharing a chat, from GET /v1/presence and
// the stream's `presence` frames. A server without presence (404) hides the selector.

import { ApiError } from "./api.js";

export class Presence {
  /** @param {{session: import("./api.js").Session, me: () => object, changed: () => void}} hooks */
  constructor(hooks) {
    this.hooks = hooks;
    this.status = new Map(); // user id -> status
    this.missing = false;
    this.heard = new Set(); // users a frame spoke of while a read was out: the frame is newer
    this.select = document.getElementById("status-select");
    this.select.addEventListener("change", () => this.set(this.select.value));
  }

  of(userId) {
    return this.status.get(userId);
  }

  /** After login: the reader's own status, which also says whether the server has presence. */
  async start() {
    const me = this.hooks.me();
    document.getElementById("status-field").hidden = true;
    try {
      const { presence } = await this.hooks.session.request("GET", `/v1/presence?user_id=${encodeURIComponent(me.id)}`);
      for (const entry of presence) this.status.set(entry.user_id, entry.status);
    } catch (error) {
      if (error instanceof ApiError && (error.status === 404 || error.status === 405)) this.missing = true;
      if (this.missing) return;
    }
    this.showMine();
    document.getElementById("status-field").hidden = false;
  }

  showMine() {
    const mine = this.status.get(this.hooks.me().id);
    // With a stream open the reader is at least online; "offline" is for others to see.
    this.select.value = mine === "away" || mine === "dnd" ? mine : "online";
  }

  async set(status) {
    try {
      await this.hooks.session.request("PUT", "/v1/presence", { status });
      this.status.set(this.hooks.me().id, status);
      this.hooks.changed();
    } catch {
      this.showMine(); // the selector shows what the server holds
    }
  }

  /** The statuses of these users (at most 100 a request, as the contract allows). */
  async load(userIds) {
    if (this.missing || !userIds.length) return;
    this.heard.clear();
    try {
      for (let start = 0; start < userIds.length; start += 100) {
        const query = userIds
          .slice(start, start + 100)
          .map((id) => `user_id=${encodeURIComponent(id)}`)
          .join("&");
        const { presence } = await this.hooks.session.request("GET", `/v1/presence?${query}`);
        for (const entry of presence) {
          if (!this.heard.has(entry.user_id)) this.status.set(entry.user_id, entry.status);
        }
      }
      this.hooks.changed();
    } catch (error) {
      if (error instanceof ApiError && (error.status === 404 || error.status === 405)) this.missing = true;
    }
  }

  /** A `presence` frame. */
  frame(frame) {
    this.heard.add(frame.user_id);
    this.status.set(frame.user_id, frame.status);
    if (frame.user_id === this.hooks.me().id) this.showMine();
    this.hooks.changed();
  }

  reset() {
    this.status.clear();
    this.missing = false;
  }
}
