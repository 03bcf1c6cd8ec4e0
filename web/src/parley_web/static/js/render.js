// DOM builders. Text always goes in through textContent, never innerHTML: message bodies,
// titles and names are other people's input.

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }
  return node;
}

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

/** One message, confirmed (`seq`) or still pending (`client_msg_id`). */
export function messageItem(message, { me, state = "sent", error, actions }) {
  const mine = message.sender_id === me.id;
  const mentioned = (message.mentions || []).includes(me.id);
  const when = new Date(message.created_at || Date.now());
  const item = el("li", {
    class: `message${mine ? " mine" : ""}${mentioned ? " mentioned" : ""}`,
    dataset: { state, ...(message.seq ? { seq: String(message.seq) } : {}) },
    ...(message.client_msg_id ? { "data-client-msg-id": message.client_msg_id } : {}),
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
    : el("p", { class: "body", text: message.body });
  item.append(head, body);
  if (message.reply_to) {
    head.append(el("span", { class: "reply-to", text: `reply to #${message.reply_to}` }));
  }
  if (message.thread && message.thread.replies) {
    item.append(el("p", { class: "thread", text: `${message.thread.replies} replies` }));
  }
  if (Array.isArray(message.attachments) && message.attachments.length) {
    item.append(
      el(
        "ul",
        { class: "attachments" },
        message.attachments.map((a) => el("li", {}, el("a", { href: a.url, text: a.filename }))),
      ),
    );
  }
  if (Array.isArray(message.reactions) && !message.deleted) item.append(reactions(message, actions));
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
  if (mine && message.seq && !message.deleted) {
    item.append(
      el(
        "div",
        { class: "actions" },
        el("button", { type: "button", class: "link", onclick: actions.edit, text: "Edit",
                       "aria-label": `Edit message ${message.seq}` }),
        el("button", { type: "button", class: "link danger", onclick: actions.remove, text: "Delete",
                       "aria-label": `Delete message ${message.seq}` }),
      ),
    );
  }
  return item;
}

const QUICK_REACTIONS = ["👍", "❤️", "😂"];

function reactions(message, actions) {
  const held = new Map(message.reactions.map((r) => [r.emoji, r]));
  const list = el("div", { class: "reactions", role: "group", "aria-label": "Reactions" });
  const shown = [...message.reactions.map((r) => r.emoji)];
  for (const emoji of QUICK_REACTIONS) if (!held.has(emoji)) shown.push(emoji);
  for (const emoji of shown) {
    const reaction = held.get(emoji) || { emoji, count: 0, me: false };
    list.append(
      el(
        "button",
        {
          type: "button",
          class: `reaction${reaction.count ? "" : " quiet"}`,
          "aria-pressed": reaction.me ? "true" : "false",
          "aria-label": `${emoji} ${reaction.count}`,
          onclick: () => actions.react(emoji, !reaction.me),
        },
        `${emoji}${reaction.count ? ` ${reaction.count}` : ""}`,
      ),
    );
  }
  return list;
}

export function memberItem(member, { me, owner, presence, onRemove }) {
  const canRemove = member.user_id !== me.id && owner;
  return el(
    "li",
    {},
    presence
      ? el("span", { class: "presence", role: "img", "aria-label": presence, dataset: { status: presence } })
      : null,
    el("span", { text: member.username }),
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
