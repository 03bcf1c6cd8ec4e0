// Search (docs/api.md "Search"): the box over GET /v1/search, shown only when the server
// has it, and results that open their chat at the message found.

import { ApiError } from "./api.js";
import { chatTitle, el } from "./render.js";

const $ = (id) => document.getElementById(id);
const LIMIT = 20;

export class Search {
  /** @param {{session: import("./api.js").Session, me: () => object,
   *           chat: (id: string) => object | undefined,
   *           jump: (chatId: string, seq: number) => void}} hooks */
  constructor(hooks) {
    this.hooks = hooks;
    this.cursor = null;
    this.query = "";
    $("search-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.run($("search-input").value.trim());
    });
    $("search-input").addEventListener("input", () => {
      if (!$("search-input").value) this.clear();
    });
    $("search-input").addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.clear();
    });
    $("search-more").addEventListener("click", () => this.run(this.query, this.cursor));
  }

  /** Probed once after login: a missing route is 404 (or 405); a 4xx about the query still
   * means search is there. */
  async detect() {
    try {
      await this.hooks.session.request("GET", "/v1/search?q=parley&limit=1");
    } catch (error) {
      if (!(error instanceof ApiError) || error.status === 404 || error.status === 405) return;
    }
    $("search-form").hidden = false;
  }

  clear() {
    $("search-results").hidden = true;
    $("search-list").replaceChildren();
    $("search-more").hidden = true;
    this.cursor = null;
  }

  async run(q, cursor = null) {
    if (!q) return this.clear();
    this.query = q;
    $("search-results").hidden = false;
    if (!cursor) {
      $("search-list").replaceChildren();
      $("search-summary").textContent = "Searching…";
    }
    const query = `q=${encodeURIComponent(q)}&limit=${LIMIT}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
    try {
      const page = await this.hooks.session.request("GET", `/v1/search?${query}`);
      this.cursor = page.next_cursor ?? null;
      $("search-list").append(...page.results.map((result) => this.item(result)));
      const shown = $("search-list").children.length;
      $("search-summary").textContent = shown
        ? `${shown}${this.cursor ? "+" : ""} message${shown === 1 ? "" : "s"} found`
        : "Nothing found.";
      $("search-more").hidden = !this.cursor;
    } catch (error) {
      $("search-summary").textContent = error instanceof ApiError ? error.detail : "The server cannot be reached.";
    }
  }

  item({ chat_id: chatId, message }) {
    const chat = this.hooks.chat(chatId);
    const where = chat ? chatTitle(chat, this.hooks.me()) : "Chat";
    return el(
      "li",
      {},
      el(
        "button",
        {
          type: "button",
          class: "chat-item result",
          "aria-label": `${message.sender_username} in ${where}: ${message.body}`,
          onclick: () => this.hooks.jump(chatId, message.seq),
        },
        el(
          "span",
          { class: "chat-name" },
          `${where} · ${message.sender_username}`,
          el("span", { class: "result-body", text: message.body }),
        ),
      ),
    );
  }
}
