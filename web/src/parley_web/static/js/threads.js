// The thread panel (docs/api.md "Threads, reactions, mentions"): a root, its replies from
// GET /v1/chats/{id}/threads/{seq} paged with after_seq, and a composer that sends with
// `reply_to`. Replies are ordinary messages with the chat's next seq, so the chat's own
// timeline holds them too; the panel keeps its own copies by seq, because a thread's root
// may be far older than the page of history the timeline holds.

import { ApiError } from "./api.js";
import { completeMentions } from "./mentions.js";

const PAGE = 50;

export class ThreadPanel {
  /**
   * @param {{session: import("./api.js").Session, render: (chatId: string, message: object,
   *   list: HTMLElement) => HTMLElement, held: (chatId: string, seq: number) => object | undefined,
   *   sent: (chatId: string, message: object) => void, members: () => object[],
   *   me: () => object, newId: () => string}} hooks
   */
  constructor(hooks) {
    this.hooks = hooks;
    this.panel = document.getElementById("thread-panel");
    this.list = document.getElementById("thread-list");
    this.more = document.getElementById("thread-more");
    this.input = document.getElementById("thread-input");
    this.error = document.getElementById("thread-error");
    this.chatId = null;
    this.rootSeq = null;
    this.root = null;
    this.replies = new Map(); // seq -> reply
    this.hasMore = false;
    completeMentions(this.input, { members: hooks.members, me: hooks.me });
    document.getElementById("thread-close").addEventListener("click", () => this.close());
    document.getElementById("thread-composer").addEventListener("submit", (event) => this.send(event));
    this.more.addEventListener("click", () => this.loadMore());
    this.input.addEventListener("keydown", (event) => {
      if (event.defaultPrevented) return; // the mention list took the key
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        document.getElementById("thread-composer").requestSubmit();
      }
    });
    this.panel.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !event.defaultPrevented) this.close();
    });
  }

  get isOpen() {
    return !this.panel.hidden;
  }

  async open(chatId, rootSeq) {
    this.chatId = chatId;
    this.rootSeq = rootSeq;
    this.root = this.hooks.held(chatId, rootSeq) || null;
    this.replies = new Map();
    this.hasMore = false;
    this.error.textContent = "";
    this.panel.hidden = false;
    document.getElementById("thread-heading").textContent = `Thread of message ${rootSeq}`;
    this.render();
    this.input.focus();
    const session = this.hooks.session;
    try {
      if (!this.root) {
        const page = await session.request("GET", `/v1/chats/${chatId}/messages?after_seq=${rootSeq - 1}&limit=1`);
        if (this.isCurrent(chatId, rootSeq)) this.root = page.messages.find((m) => m.seq === rootSeq) || null;
      }
      await this.loadMore(0);
    } catch (error) {
      if (this.isCurrent(chatId, rootSeq)) this.error.textContent = describe(error);
    }
  }

  close() {
    if (!this.isOpen) return;
    const seq = this.rootSeq;
    this.panel.hidden = true;
    this.chatId = null;
    this.rootSeq = null;
    this.list.replaceChildren();
    document.querySelector(`#message-list li[data-seq="${seq}"]`)?.focus();
  }

  isCurrent(chatId, rootSeq) {
    return this.isOpen && this.chatId === chatId && this.rootSeq === rootSeq;
  }

  async loadMore(after = Math.max(0, ...this.replies.keys())) {
    const { chatId, rootSeq } = this;
    this.more.disabled = true;
    try {
      const page = await this.hooks.session.request(
        "GET",
        `/v1/chats/${chatId}/threads/${rootSeq}?after_seq=${after}&limit=${PAGE}`,
      );
      if (!this.isCurrent(chatId, rootSeq)) return;
      for (const reply of page.messages) this.keep(reply);
      this.hasMore = page.has_more;
      this.render();
    } catch (error) {
      if (this.isCurrent(chatId, rootSeq)) this.error.textContent = describe(error);
    } finally {
      this.more.disabled = false;
    }
  }

  keep(reply) {
    const held = this.replies.get(reply.seq);
    // An older copy never replaces a newer one, as in the timeline.
    if (held && stamp(held) > stamp(reply)) return;
    this.replies.set(reply.seq, reply);
  }

  /** A message seen anywhere (a frame, a send, an edit): the root or one of its replies. */
  accept(chatId, message) {
    if (!this.isOpen || chatId !== this.chatId) return;
    if (message.seq === this.rootSeq) {
      this.root = message;
      this.render();
    } else if (message.reply_to === this.rootSeq) {
      const stick = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 80;
      this.keep(message);
      this.render();
      if (stick) this.list.scrollTop = this.list.scrollHeight;
    }
  }

  /** The copy this panel holds of `seq`, for a change (a reaction) to apply to. */
  held(chatId, seq) {
    if (!this.isOpen || chatId !== this.chatId) return undefined;
    return seq === this.rootSeq ? this.root || undefined : this.replies.get(seq);
  }

  render() {
    const items = [];
    if (this.root) items.push(this.hooks.render(this.chatId, this.root, this.list));
    const replies = [...this.replies.values()].sort((a, b) => a.seq - b.seq);
    for (const reply of replies) items.push(this.hooks.render(this.chatId, reply, this.list));
    const editing = this.list.querySelector("li.editing");
    if (editing) return; // an edit in progress is not thrown away; the next change redraws
    this.list.replaceChildren(...items);
    this.more.hidden = !this.hasMore;
    document.getElementById("thread-count").textContent = replies.length
      ? `${replies.length}${this.hasMore ? "+" : ""} ${replies.length === 1 ? "reply" : "replies"}`
      : "No replies yet.";
  }

  async send(event) {
    event.preventDefault();
    const body = this.input.value;
    const { chatId, rootSeq } = this;
    if (!body.trim() || !chatId) return;
    const button = event.submitter || document.querySelector("#thread-composer button[type=submit]");
    button.disabled = true;
    this.error.textContent = "";
    try {
      const message = await this.hooks.session.request("POST", `/v1/chats/${chatId}/messages`, {
        body,
        reply_to: rootSeq,
        client_msg_id: this.hooks.newId(),
      });
      this.input.value = "";
      this.accept(chatId, message);
      this.hooks.sent(chatId, message);
      this.list.scrollTop = this.list.scrollHeight;
    } catch (error) {
      this.error.textContent = describe(error);
    } finally {
      button.disabled = false;
      this.input.focus();
    }
  }
}

function describe(error) {
  return error instanceof ApiError ? error.detail : "The server cannot be reached.";
}

function stamp(message) {
  return message.deleted ? Infinity : Date.parse(message.edited_at || message.created_at) || 0;
}
