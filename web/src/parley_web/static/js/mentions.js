// Mentions (docs/api.md "Threads, reactions and mentions in detail"): `@name` starts a
// word and ends one, for a member of the chat. Bodies show such names marked (the reader's
// own name most of all), and the composers complete `@` from the open chat's members.

import { el } from "./dom.js";

// A name as usernames are made (parley_core.names), after an `@` that starts a word.
const MENTION = /(^|[^\p{L}\p{N}_@.-])@([a-z0-9][a-z0-9._-]{2,31})/giu;

/** A body as text nodes and `<mark>`s: the reader's own name, and other members' names. */
export function mentionText(body, { me, members }) {
  const names = new Set((members || []).map((m) => m.username));
  const parts = [];
  let last = 0;
  for (const match of body.matchAll(MENTION)) {
    let name = match[2].toLowerCase();
    // A full stop after a name ends a sentence, unless a member's name ends so.
    if (name.endsWith(".") && !names.has(name)) name = name.replace(/\.+$/, "");
    const isMe = name === me.username;
    if (!isMe && !names.has(name)) continue;
    const start = match.index + match[1].length;
    parts.push(body.slice(last, start));
    parts.push(
      el("mark", { class: `mention${isMe ? " me" : ""}`, text: body.slice(start, start + 1 + name.length) }),
    );
    last = start + 1 + name.length;
  }
  parts.push(body.slice(last));
  return parts.filter((part) => part !== "");
}

/** `@` completion in a textarea from `members()`; Up/Down pick, Enter or Tab take, Escape
 * closes. Attach before any other keydown listener: it claims the keys it uses. */
export function completeMentions(textarea, { members, me }) {
  const listId = `${textarea.id}-mentions`;
  const list = el("ul", { id: listId, class: "mention-list", role: "listbox", "aria-label": "Members to mention", hidden: true });
  textarea.after(list);
  textarea.setAttribute("aria-autocomplete", "list");
  textarea.setAttribute("aria-controls", listId);
  let options = [];
  let active = 0;

  const query = () => {
    const before = textarea.value.slice(0, textarea.selectionStart);
    const match = /(^|\s)@([a-z0-9._-]{0,31})$/i.exec(before);
    return match ? match[2].toLowerCase() : null;
  };
  const close = () => {
    list.hidden = true;
    options = [];
    textarea.removeAttribute("aria-activedescendant");
  };
  const show = () => {
    list.replaceChildren(
      ...options.map((member, index) =>
        el("li", {
          id: `${listId}-${index}`,
          role: "option",
          "aria-selected": index === active ? "true" : "false",
          text: `@${member.username}`,
          onmousedown: (event) => {
            event.preventDefault(); // keep the focus in the textarea
            take(member);
          },
        }),
      ),
    );
    list.hidden = false;
    textarea.setAttribute("aria-activedescendant", `${listId}-${active}`);
  };
  const take = (member) => {
    const caret = textarea.selectionStart;
    const before = textarea.value.slice(0, caret).replace(/@[a-z0-9._-]*$/i, `@${member.username} `);
    textarea.value = before + textarea.value.slice(caret);
    textarea.selectionStart = textarea.selectionEnd = before.length;
    close();
  };
  textarea.addEventListener("input", () => {
    const prefix = query();
    options =
      prefix === null
        ? []
        : members()
            .filter((m) => m.user_id !== me().id && m.username.startsWith(prefix))
            .slice(0, 8);
    active = 0;
    if (options.length) show();
    else close();
  });
  textarea.addEventListener("keydown", (event) => {
    if (list.hidden || !options.length) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      active = (active + (event.key === "ArrowDown" ? 1 : -1) + options.length) % options.length;
      show();
    } else if (event.key === "Enter" || event.key === "Tab") {
      event.preventDefault();
      take(options[active]);
    } else if (event.key === "Escape") {
      event.preventDefault();
      close();
    }
  });
  textarea.addEventListener("blur", close);
  return { close };
}
