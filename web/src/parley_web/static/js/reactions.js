// Reactions (docs/api.md "Threads, reactions and mentions in detail"): the chips under a
// message, the small picker that adds one, and what a `reaction` frame does to a message.
// A frame's `me` is always false (one frame serves every member), so the reader's own
// reactions are known from REST reads and from frames whose `user_id` is the reader's.

import { el } from "./dom.js";

/** A short list anyone can reach without an emoji keyboard; the server takes any RGI emoji. */
export const COMMON_EMOJI = ["👍", "❤️", "😂", "🎉", "😮", "😢", "🙏", "👀"];

/** The chips of a message's reactions, and the button that opens the picker. */
export function reactionBar(message, { onToggle }) {
  const bar = el("div", { class: "reactions", role: "group", "aria-label": `Reactions to message ${message.seq}` });
  for (const reaction of message.reactions || []) {
    const people = reaction.count === 1 ? "1 person" : `${reaction.count} people`;
    bar.append(
      el(
        "button",
        {
          type: "button",
          class: "reaction",
          "aria-pressed": reaction.me ? "true" : "false",
          "aria-label": `${reaction.emoji} ${reaction.count}`,
          title: `${people}${reaction.me ? ", you included" : ""}`,
          onclick: () => onToggle(reaction.emoji, !reaction.me),
        },
        el("span", { class: "emoji", text: reaction.emoji }),
        el("span", { class: "count", text: String(reaction.count) }),
      ),
    );
  }
  bar.append(picker(message, (emoji) => {
    const held = (message.reactions || []).find((r) => r.emoji === emoji);
    if (!held?.me) onToggle(emoji, true);
  }));
  return bar;
}

function picker(message, onPick) {
  const menu = el("div", { class: "picker", role: "menu", "aria-label": `Pick a reaction to message ${message.seq}`, hidden: true });
  const toggle = el("button", {
    type: "button",
    class: "reaction add",
    "aria-label": `Add a reaction to message ${message.seq}`,
    "aria-haspopup": "menu",
    "aria-expanded": "false",
    text: "☺+",
  });
  const close = (refocus) => {
    menu.hidden = true;
    toggle.setAttribute("aria-expanded", "false");
    if (refocus) toggle.focus();
  };
  toggle.addEventListener("click", () => {
    menu.hidden = !menu.hidden;
    toggle.setAttribute("aria-expanded", String(!menu.hidden));
    if (!menu.hidden) menu.querySelector("button")?.focus();
  });
  for (const emoji of COMMON_EMOJI) {
    menu.append(
      el("button", {
        type: "button",
        role: "menuitem",
        class: "pick",
        "aria-label": `React with ${emoji}`,
        text: emoji,
        onclick: () => {
          close(false);
          onPick(emoji);
        },
      }),
    );
  }
  menu.addEventListener("keydown", (event) => {
    const items = [...menu.querySelectorAll("button")];
    const index = items.indexOf(document.activeElement);
    const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[event.key];
    if (event.key === "Escape") {
      event.stopPropagation();
      close(true);
    } else if (step) {
      event.preventDefault();
      items[(index + step + items.length) % items.length].focus();
    }
  });
  return el("span", { class: "picker-anchor" }, toggle, menu);
}

/** The message as it is after the reader toggled `emoji` (`on`), before any frame says so. */
export function toggled(message, emoji, on) {
  const reactions = (message.reactions || []).map((r) => ({ ...r }));
  let reaction = reactions.find((r) => r.emoji === emoji);
  if (!reaction) reactions.push((reaction = { emoji, count: 0, me: false }));
  if (reaction.me !== on) reaction.count += on ? 1 : -1;
  reaction.me = on;
  return { ...message, reactions: reactions.filter((r) => r.count > 0) };
}

/** The message after a `reaction` frame: the frame's count is the truth right after it. */
export function applyFrame(message, frame, meId) {
  const reactions = (message.reactions || []).map((r) => ({ ...r }));
  let reaction = reactions.find((r) => r.emoji === frame.emoji);
  if (!reaction) reactions.push((reaction = { emoji: frame.emoji, count: 0, me: false }));
  reaction.count = frame.count;
  if (frame.user_id === meId) reaction.me = frame.op === "add";
  return { ...message, reactions: reactions.filter((r) => r.count > 0) };
}

/** A message from a stream frame keeps the reader's `me` from the copy held. */
export function keepMine(held, incoming) {
  if (!held || !Array.isArray(incoming.reactions)) return incoming;
  const mine = new Set((held.reactions || []).filter((r) => r.me).map((r) => r.emoji));
  return { ...incoming, reactions: incoming.reactions.map((r) => ({ ...r, me: mine.has(r.emoji) })) };
}
