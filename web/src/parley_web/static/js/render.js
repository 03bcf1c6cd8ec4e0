// DOM builders. Text always goes in through textContent, never innerHTML: message bodies,
// titles and names are other people's input.

import { el } from "./dom.js";
import { mentionText } from "./mentions.js";
import { reactionBar } from "./reactions.js";

export { el };

const TIME = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const DATE = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

export function chatTitle(chat, me) {
  if (chat.title) return chat.title;
  const others = (chat.members || []).filter((m) => m.user_id !== me?.id).map((m) => m.username);
  if (chat.kind === "direct") return others[0] || "Direct chat";
  return others.length ? others.join(", ") : "Untitled group";
}

export function chatItem(chat, me, { active, onOpen }) {
  const unread = Math.max(0, chat.unread || 0);
  const mentions = chat.unread_mentions || 0;
  const title = chatTitle(chat, me);
  const label = [title, unread ? `${unread} unread` : "", mentions ? `${mentions} mentioning you` : ""]
    .filter(Boolean)
    .join(", ");
  const button = el(
    "button",
    {
      type: "button",
      class: "chat-item",
      "aria-current": active ? "true" : false,
      "aria-label": label,
      dataset: { chatId: chat.id },
      onclick: onOpen,
    },
    el("span", { class: "chat-name", text: title }),
    el("span", { class: "chat-kind", text: chat.kind === "direct" ? "direct" : "group" }),
    mentions ? el("span", { class: "badge mention", "aria-hidden": "true", text: `@${mentions}` }) : null,
    unread ? el("span", { class: "badge unread", "aria-hidden": "true", text: String(unread) }) : null,
  );
  return el("li", {}, button);
}

/** One message, confirmed (`seq`) or still pending (`client_msg_id`). In a thread panel
 * (`inThread`) it has no Reply action and no thread summary: the panel is the thread. */
export function messageItem(message, { me, members, files, state = "sent", error, actions, inThread = false }) {
  const mine = message.sender_id === me.id;
  const mentioned = (message.mentions || []).includes(me.id);
  const when = new Date(message.created_at || Date.now());
  const item = el("li", {
    class: `message${mine ? " mine" : ""}${mentioned ? " mentioned" : ""}${message.reply_to ? " reply" : ""}`,
    dataset: { state, ...(message.seq ? { seq: String(message.seq) } : {}) },
    ...(message.client_msg_id ? { "data-client-msg-id": message.client_msg_id } : {}),
    ...(message.seq ? { tabindex: "-1" } : {}),
  });
  const head = el(
    "div",
    { class: "meta" },
    el("span", { class: "sender", text: message.sender_username || me.username }),
    el("time", { datetime: when.toISOString(), title: DATE.format(when), text: TIME.format(when) }),
    message.edited_at && !message.deleted ? el("span", { class: "edited", text: "(edited)" }) : null,
  );
  const body = message.deleted
    ? el("p", { class: "body deleted", text: "This message was deleted." })
    : el("p", { class: "body" }, mentionText(message.body, { me, members }));
  item.append(head, body);
  if (message.reply_to && !inThread) {
    head.append(
      el("button", {
        type: "button",
        class: "link reply-to",
        text: `reply to #${message.reply_to}`,
        "aria-label": `Open the thread of message ${message.reply_to}`,
        onclick: () => actions.thread(message.reply_to),
      }),
    );
  }
  if (message.thread && message.thread.replies && !inThread) {
    const replies = message.thread.replies;
    const last = message.thread.last_reply_at ? new Date(message.thread.last_reply_at) : null;
    item.append(
      el("button", {
        type: "button",
        class: "link thread",
        "aria-label": `Open the thread of message ${message.seq}, ${replies} ${replies === 1 ? "reply" : "replies"}`,
        text: `${replies} ${replies === 1 ? "reply" : "replies"}${last ? ` · last ${TIME.format(last)}` : ""}`,
        onclick: () => actions.thread(message.seq),
      }),
    );
  }
  if (Array.isArray(message.attachments) && message.attachments.length && !message.deleted && files) {
    item.append(files.list(message));
  }
  // Reactions and actions share the message's last line.
  const foot = el("div", { class: "foot" });
  if (Array.isArray(message.reactions) && message.seq && !message.deleted) {
    foot.append(reactionBar(message, { onToggle: actions.react }));
  }
  if (state === "pending") item.append(el("p", { class: "note", text: "Sending…" }));
  if (state === "failed") {
    item.append(
      el(
        "p",
        { class: "note error" },
        `Not sent${error ? `: ${error}` : ""}. `,
        el("button", { type: "button", class: "link", onclick: actions.retry, text: "Retry" }),
        " ",
        el("button", { type: "button", class: "link", onclick: actions.discard, text: "Discard" }),
      ),
    );
  }
  if (message.seq && !message.deleted) {
    const tools = el("div", { class: "actions" });
    if (!inThread) {
      tools.append(
        el("button", { type: "button", class: "link", onclick: () => actions.thread(message.reply_to || message.seq),
                       text: "Reply", "aria-label": `Reply to message ${message.seq}` }),
      );
    }
    if (mine) {
      tools.append(
        el("button", { type: "button", class: "link", onclick: actions.edit, text: "Edit",
                       "aria-label": `Edit message ${message.seq}` }),
        el("button", { type: "button", class: "link danger", onclick: actions.remove, text: "Delete",
                       "aria-label": `Delete message ${message.seq}` }),
      );
    }
    if (tools.children.length) foot.append(tools);
  }
  if (foot.children.length) item.append(foot);
  return item;
}

const STATUS = { online: "online", away: "away", dnd: "do not disturb", offline: "offline" };

export function memberItem(member, { me, owner, presence, displayName, onRemove }) {
  const canRemove = member.user_id !== me.id && owner;
  const named = displayName && displayName !== member.username;
  return el(
    "li",
    { dataset: { userId: member.user_id } },
    presence
      ? el("span", {
          class: "presence",
          role: "img",
          "aria-label": `${member.username} is ${STATUS[presence] || presence}`,
          dataset: { status: presence },
        })
      : null,
    el(
      "span",
      { class: "member-name" },
      named ? el("span", { class: "display-name", text: displayName }) : null,
      el("span", { class: named ? "username" : null, text: named ? `@${member.username}` : member.username }),
    ),
    member.role === "owner" ? el("span", { class: "role", text: "owner" }) : null,
    canRemove
      ? el("button", {
          type: "button",
          class: "link danger",
          "aria-label": `Remove ${member.username}`,
          text: "Remove",
          onclick: onRemove,
        })
      : null,
  );
}
