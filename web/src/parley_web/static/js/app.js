// The Parley web client: plain ES modules over the public contract (docs/api.md), no
// framework and no build step. docs/web.md says how it is put together.

import { ApiError, Session, SessionExpired } from "./api.js";
import { Files, Uploads } from "./attachments.js";
import { completeMentions } from "./mentions.js";
import { People } from "./people.js";
import { Presence } from "./presence.js";
import { applyFrame, keepMine, toggled } from "./reactions.js";
import { chatItem, chatTitle, el, memberItem, messageItem } from "./render.js";
import { Search } from "./search.js";
import { Settings } from "./settings.js";
import { Stream } from "./stream.js";
import { ThreadPanel } from "./threads.js";
import { Timeline } from "./timeline.js";

const MAX_SEQ = 2 ** 31 - 1;
const PAGE = 50;
const TYPING_SEND_MS = 2_000;
const TYPING_SHOW_MS = 5_000;

const $ = (id) => document.getElementById(id);

const state = {
  me: null,
  chats: new Map(), // id -> chat, as the server last described it plus what the stream said
  order: [], // chat ids, most recent activity first
  nextCursor: null,
  seen: new Map(), // chat id -> highest seq seen: the resume cursor
  timelines: new Map(), // chat id -> Timeline, for chats opened at least once
  pending: new Map(), // client_msg_id -> a message not acknowledged yet
  openId: null,
  typing: new Map(), // chat id -> Map(username -> timer)
  lastTypingSent: 0,
  mode: "login",
};

let session;
let stream = null;
// The second wave's features, each a module of its own, built once the session exists.
let threads;
let presence;
let people;
let search;
let files;
let uploads;

function uuid4() {
  // crypto.randomUUID needs a secure context; getRandomValues works on plain http too.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function describe(error) {
  if (error instanceof ApiError) return error.detail;
  return "The server cannot be reached.";
}

// ---- log in and register ----------------------------------------------------------

function showAuth(message = "") {
  stream?.stop();
  stream = null;
  $("app-view").hidden = true;
  $("auth-view").hidden = false;
  const tenant = new URLSearchParams(location.search).get("tenant") || session.tenant || "default";
  $("auth-tenant").value = tenant;
  $("auth-error").textContent = message;
  setMode(state.mode);
  ($("auth-username").value ? $("auth-password") : $("auth-username")).focus();
}

function setMode(mode) {
  state.mode = mode;
  const register = mode === "register";
  $("auth-title").textContent = register ? "Create a Parley account" : "Log in to Parley";
  $("auth-submit").textContent = register ? "Create account" : "Log in";
  $("auth-switch-text").textContent = register ? "Have an account?" : "No account yet?";
  $("auth-switch").textContent = register ? "Log in" : "Create one";
  $("display-name-field").hidden = !register;
  $("auth-password").autocomplete = register ? "new-password" : "current-password";
}

async function submitAuth(event) {
  event.preventDefault();
  const tenant = $("auth-tenant").value.trim().toLowerCase();
  const username = $("auth-username").value.trim().toLowerCase();
  const password = $("auth-password").value;
  const problem = !tenant
    ? ["auth-tenant", "Enter the tenant."]
    : !username
      ? ["auth-username", "Enter your username."]
      : password.length < 8
        ? ["auth-password", "The password has at least 8 characters."]
        : null;
  for (const id of ["auth-tenant", "auth-username", "auth-password"]) $(id).removeAttribute("aria-invalid");
  if (problem) {
    $(problem[0]).setAttribute("aria-invalid", "true");
    $("auth-error").textContent = problem[1];
    $(problem[0]).focus();
    return;
  }
  $("auth-error").textContent = "";
  $("auth-submit").disabled = true;
  try {
    if (state.mode === "register") {
      await session.register(tenant, username, password, $("auth-display-name").value.trim());
    }
    await session.login(tenant, username, password);
    $("auth-password").value = "";
    setMode("login"); // what the form offers after logging out
    await enterApp();
  } catch (error) {
    $("auth-error").textContent =
      error instanceof ApiError && error.status === 401 ? "Wrong username or password." : describe(error);
  } finally {
    $("auth-submit").disabled = false;
  }
}

// ---- the app ----------------------------------------------------------------------

async function enterApp() {
  try {
    state.me = await session.request("GET", "/v1/auth/me");
  } catch (error) {
    if (error instanceof SessionExpired || (error instanceof ApiError && error.status === 401)) {
      session.clear();
      showAuth(error instanceof SessionExpired ? error.detail : "");
    } else {
      showAuth(describe(error));
    }
    return;
  }
  $("auth-view").hidden = true;
  $("app-view").hidden = false;
  showMe();
  people.remember(state.me);
  await loadChats(true);
  search.detect();
  presence.start();
  detectAttachments();
  stream = new Stream(session, { cursors, onFrame, onState: showConnection, onReady });
  stream.start();
  const wanted = new URLSearchParams(location.hash.slice(1)).get("chat");
  if (wanted && state.chats.has(wanted)) openChat(wanted, { focus: false });
  else $("chat-list").querySelector("button")?.focus();
}

function showMe() {
  $("me").textContent = `${state.me.display_name || state.me.username} · ${state.me.tenant}`;
}

function resetState() {
  threads.close();
  presence.reset();
  people.reset();
  search.clear();
  files.reset();
  uploads.clear();
  state.chats.clear();
  state.order = [];
  state.seen.clear();
  state.timelines.clear();
  state.pending.clear();
  state.openId = null;
  state.me = null;
  $("chat-list").replaceChildren();
  $("message-list").replaceChildren();
  showChatPane();
}

function cursors() {
  return Object.fromEntries(state.seen);
}

function showConnection(status, detail) {
  const text = {
    connecting: "Connecting…",
    reconnecting: "Reconnecting…",
    offline: "Offline, retrying…",
    live: "Connected",
    suspended: detail || "Suspended",
  }[status];
  const badge = $("connection");
  badge.dataset.state = status;
  badge.textContent = text;
}

function onReady(reconnected) {
  // Sends that failed for want of a connection go again, with the same client_msg_id.
  for (const pending of state.pending.values()) {
    if (pending.state === "failed" && pending.retryable) post(pending);
  }
  if (reconnected) {
    loadChats(false);
    // Edits and deletions made meanwhile are not replayed by resume: re-read the open page
    // and the open thread's newest replies.
    if (state.openId) loadLatest(state.openId);
    if (threads.isOpen) threads.loadMore();
  }
}

// ---- chats --------------------------------------------------------------------------

async function loadChats(reset, cursor = null) {
  let page;
  try {
    const query = cursor ? `?limit=${PAGE}&cursor=${encodeURIComponent(cursor)}` : `?limit=${PAGE}`;
    page = await session.request("GET", `/v1/chats${query}`);
  } catch (error) {
    if (!(error instanceof SessionExpired)) showConnection("offline");
    return;
  }
  if (reset) state.order = [];
  for (const chat of page.chats) upsertChat(chat, { top: false });
  if (!cursor) {
    // The server's order for the first page; chats only this client knows stay after it.
    const listed = page.chats.map((c) => c.id);
    state.order = [...listed, ...state.order.filter((id) => !listed.includes(id))];
  }
  if (cursor || reset) state.nextCursor = page.next_cursor ?? null;
  renderChats();
}

function upsertChat(chat, { top }) {
  const held = state.chats.get(chat.id);
  const merged = { ...held, ...chat };
  merged.last_seq = Math.max(held?.last_seq || 0, chat.last_seq || 0);
  merged.last_read_seq = Math.max(held?.last_read_seq || 0, chat.last_read_seq || 0);
  merged.unread = Math.max(0, merged.last_seq - merged.last_read_seq);
  state.chats.set(chat.id, merged);
  if (!state.seen.has(chat.id)) state.seen.set(chat.id, chat.last_seq || 0);
  if (!state.order.includes(chat.id)) state.order[top ? "unshift" : "push"](chat.id);
  else if (top) moveToTop(chat.id);
  return merged;
}

function moveToTop(chatId) {
  state.order = [chatId, ...state.order.filter((id) => id !== chatId)];
}

function removeChat(chatId) {
  state.chats.delete(chatId);
  state.seen.delete(chatId);
  state.timelines.delete(chatId);
  state.order = state.order.filter((id) => id !== chatId);
  if (state.openId === chatId) closeChat();
  renderChats();
}

async function fetchChat(chatId) {
  try {
    const chat = await session.request("GET", `/v1/chats/${chatId}`);
    // The stream replays nothing of a chat absent from resume: start from its present.
    upsertChat(chat, { top: true });
    renderChats();
  } catch {
    // Gone again or unreachable: the next chat list load settles it.
  }
}

function renderChats() {
  const list = $("chat-list");
  const focused = document.activeElement?.dataset?.chatId;
  list.replaceChildren(
    ...state.order
      .map((id) => state.chats.get(id))
      .filter(Boolean)
      .map((chat) =>
        chatItem(chat, state.me, { active: chat.id === state.openId, onOpen: () => openChat(chat.id) }),
      ),
  );
  if (focused) list.querySelector(`[data-chat-id="${focused}"]`)?.focus();
  $("no-chats").hidden = state.order.length > 0;
  $("more-chats").hidden = !state.nextCursor;
  const unread = [...state.chats.values()].reduce((sum, chat) => sum + (chat.unread || 0), 0);
  document.title = unread ? `(${unread}) Parley` : "Parley";
}

function chatListKeys(event) {
  const buttons = [...$("chat-list").querySelectorAll("button")];
  const index = buttons.indexOf(document.activeElement);
  const target = {
    ArrowDown: index + 1,
    ArrowUp: index - 1,
    Home: 0,
    End: buttons.length - 1,
  }[event.key];
  if (target === undefined || !buttons.length) return;
  event.preventDefault();
  buttons[Math.max(0, Math.min(buttons.length - 1, target))].focus();
}

// ---- one chat -----------------------------------------------------------------------

function showChatPane() {
  const open = Boolean(state.openId);
  $("chat-view").hidden = !open;
  $("empty-view").hidden = open;
  document.body.classList.toggle("chat-open", open);
}

async function openChat(chatId, { focus = true } = {}) {
  const chat = state.chats.get(chatId);
  if (!chat) return;
  state.openId = chatId;
  history.replaceState(null, "", `#chat=${chatId}`);
  showChatPane();
  $("chat-title").textContent = chatTitle(chat, state.me);
  $("members-panel").hidden = true;
  $("members-toggle").setAttribute("aria-expanded", "false");
  if (threads.chatId !== chatId) threads.close();
  renderTyping();
  renderChats();
  let timeline = state.timelines.get(chatId);
  if (!timeline) {
    timeline = new Timeline();
    state.timelines.set(chatId, timeline);
  }
  renderTimeline(chatId);
  if (focus) $("composer-input").focus();
  if (!timeline.loaded) await loadLatest(chatId);
  scrollToEnd();
  markReadSoon();
}

function closeChat() {
  const was = state.openId;
  clearTimeout(readTimer);
  markRead(was); // what was on screen has been seen, even if closed at once
  state.openId = null;
  threads.close();
  history.replaceState(null, "", location.pathname + location.search);
  $("message-list").replaceChildren();
  showChatPane();
  renderChats();
  if (was) $("chat-list").querySelector(`[data-chat-id="${was}"]`)?.focus();
}

async function loadLatest(chatId) {
  const timeline = state.timelines.get(chatId);
  let page;
  try {
    page = await session.request("GET", `/v1/chats/${chatId}/messages?before_seq=${MAX_SEQ}&limit=${PAGE}`);
  } catch {
    return;
  }
  if (!timeline.loaded) timeline.hasOlder = page.has_more;
  timeline.loaded = true;
  addMessages(chatId, page.messages);
  if (chatId === state.openId) $("older").hidden = !timeline.hasOlder;
  await fillGaps(chatId);
}

async function loadOlder() {
  const chatId = state.openId;
  const timeline = state.timelines.get(chatId);
  if (!timeline || !timeline.hasOlder || !timeline.size) return;
  const box = $("messages");
  const before = box.scrollHeight - box.scrollTop;
  $("older").disabled = true;
  try {
    const page = await session.request(
      "GET",
      `/v1/chats/${chatId}/messages?before_seq=${timeline.minSeq}&limit=${PAGE}`,
    );
    timeline.hasOlder = page.has_more;
    addMessages(chatId, page.messages, { older: true });
    box.scrollTop = box.scrollHeight - before; // keep what the reader was looking at in place
  } catch {
    // The button stays for another try.
  } finally {
    $("older").disabled = false;
    $("older").hidden = !timeline.hasOlder;
  }
}

async function fillGaps(chatId) {
  const timeline = state.timelines.get(chatId);
  if (!timeline?.loaded || timeline.filling) return;
  timeline.filling = true;
  try {
    for (let gap = timeline.firstGap(); gap !== null; gap = timeline.firstGap()) {
      const page = await session.request(
        "GET",
        `/v1/chats/${chatId}/messages?after_seq=${gap - 1}&limit=200`,
      );
      if (!addMessages(chatId, page.messages).length) break;
    }
  } catch {
    // The next frame or reconnect tries again.
  } finally {
    timeline.filling = false;
  }
}

/** Messages from history, the stream or a send: kept once per seq, shown in order. */
function addMessages(chatId, messages, { older = false } = {}) {
  const chat = state.chats.get(chatId);
  const timeline = state.timelines.get(chatId);
  let newest = false;
  for (const message of messages) {
    if (message.client_msg_id && message.sender_id === state.me.id) resolvePending(message.client_msg_id);
    if (message.seq > (state.seen.get(chatId) || 0)) state.seen.set(chatId, message.seq);
    if (chat && message.seq > chat.last_seq) {
      chat.last_seq = message.seq;
      newest = true;
      if (message.sender_id === state.me.id) chat.last_read_seq = message.seq;
      else if ((message.mentions || []).includes(state.me.id)) {
        chat.unread_mentions = (chat.unread_mentions || 0) + 1;
      }
      chat.unread = Math.max(0, chat.last_seq - chat.last_read_seq);
    }
  }
  if (newest && !older) moveToTop(chatId);
  const added = timeline ? timeline.merge(messages) : [];
  for (const message of messages) threads.accept(chatId, timeline?.bySeq.get(message.seq) || message);
  if (chatId === state.openId && timeline) {
    const stick = nearEnd();
    for (const message of messages) placeMessage(chatId, timeline.bySeq.get(message.seq));
    if (stick && !older) scrollToEnd();
    if (newest) markReadSoon();
  }
  if (newest) renderChats();
  return added;
}

function nearEnd() {
  const box = $("messages");
  return box.scrollHeight - box.scrollTop - box.clientHeight < 80;
}

function scrollToEnd() {
  const box = $("messages");
  box.scrollTop = box.scrollHeight;
}

function renderTimeline(chatId) {
  const timeline = state.timelines.get(chatId);
  $("message-list").replaceChildren(...timeline.ordered().map((m) => messageNode(chatId, m)));
  for (const pending of state.pending.values()) if (pending.chatId === chatId) placePending(pending);
  $("older").hidden = !timeline.loaded || !timeline.hasOlder;
}

function messageNode(chatId, message, list = $("message-list")) {
  return messageItem(message, {
    me: state.me,
    members: state.chats.get(chatId)?.members,
    files,
    actions: messageActions(chatId, message, list),
    inThread: list !== $("message-list"),
  });
}

/** The copy of a message the client holds, in the timeline or the thread panel. */
function heldMessage(chatId, seq) {
  return state.timelines.get(chatId)?.bySeq.get(seq) || threads.held(chatId, seq);
}

/** A message changed here (an edit, a deletion, a reaction): every view of it follows. */
function messageChanged(chatId, message) {
  const timeline = state.timelines.get(chatId);
  if (timeline?.bySeq.has(message.seq)) {
    timeline.bySeq.set(message.seq, message);
    if (chatId === state.openId) placeMessage(chatId, message);
  }
  threads.accept(chatId, message);
}

function placeMessage(chatId, message) {
  const list = $("message-list");
  const node = messageNode(chatId, message);
  const held = list.querySelector(`li[data-seq="${message.seq}"]`);
  if (held) {
    if (!held.classList.contains("editing")) held.replaceWith(node);
    return;
  }
  const next =
    [...list.children].find((li) => li.dataset.seq && Number(li.dataset.seq) > message.seq) ||
    list.querySelector("li:not([data-seq])");
  list.insertBefore(node, next || null);
}

// ---- sending ------------------------------------------------------------------------

function submitMessage(event) {
  event.preventDefault();
  const input = $("composer-input");
  const body = input.value;
  if (uploads.busy || !state.openId) return; // Send waits for the uploads to finish
  if (!body.trim() && !uploads.ready.length) return;
  input.value = "";
  const pending = {
    client_msg_id: uuid4(),
    chatId: state.openId,
    body,
    attachmentIds: uploads.take(),
    sender_id: state.me.id,
    sender_username: state.me.username,
    created_at: new Date().toISOString(),
    state: "pending",
  };
  state.pending.set(pending.client_msg_id, pending);
  placePending(pending);
  scrollToEnd();
  post(pending);
}

async function post(pending) {
  pending.state = "pending";
  placePending(pending);
  try {
    const send = { body: pending.body, client_msg_id: pending.client_msg_id };
    if (pending.attachmentIds?.length) send.attachments = pending.attachmentIds;
    const message = await session.request("POST", `/v1/chats/${pending.chatId}/messages`, send);
    addMessages(pending.chatId, [message]);
  } catch (error) {
    if (!state.pending.has(pending.client_msg_id)) return; // the stream delivered it meanwhile
    pending.state = "failed";
    pending.error = describe(error);
    // A send the server never answered, or refused for now, is safe to repeat: the same
    // client_msg_id makes the server answer with the original instead of storing it twice.
    pending.retryable = !(error instanceof ApiError) || error.status >= 500 || error.status === 429;
    placePending(pending);
  }
}

function resolvePending(clientMsgId) {
  if (!state.pending.delete(clientMsgId)) return;
  document.querySelector(`li[data-client-msg-id="${clientMsgId}"]:not([data-seq])`)?.remove();
}

function placePending(pending) {
  if (pending.chatId !== state.openId || !state.pending.has(pending.client_msg_id)) return;
  const node = messageItem(pending, {
    me: state.me,
    state: pending.state,
    error: pending.error,
    actions: {
      retry: () => post(pending),
      discard: () => resolvePending(pending.client_msg_id),
    },
  });
  const held = document.querySelector(`li[data-client-msg-id="${pending.client_msg_id}"]:not([data-seq])`);
  if (held) held.replaceWith(node);
  else $("message-list").append(node);
}

function composerKeys(event) {
  if (event.defaultPrevented) return; // the mention list took the key
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    $("composer").requestSubmit();
  }
}

function composerInput() {
  const now = Date.now();
  if (state.openId && now - state.lastTypingSent > TYPING_SEND_MS && $("composer-input").value) {
    state.lastTypingSent = now;
    stream?.send({ type: "typing", chat_id: state.openId });
  }
}

// ---- edit, delete, react ------------------------------------------------------------

function messageActions(chatId, message, list) {
  return {
    edit: () => startEdit(chatId, message, list),
    remove: (event) => removeMessage(chatId, message, event.currentTarget),
    react: (emoji, on) => react(chatId, message.seq, emoji, on),
    thread: (seq) => openThread(chatId, seq),
  };
}

function openThread(chatId, seq) {
  $("members-panel").hidden = true;
  $("members-toggle").setAttribute("aria-expanded", "false");
  threads.open(chatId, seq);
}

function startEdit(chatId, message, list) {
  const item = list.querySelector(`li[data-seq="${message.seq}"]`);
  if (!item) return;
  item.classList.add("editing");
  const field = el("textarea", { class: "edit-input", "aria-label": "Edit message", rows: "2" });
  field.value = message.body;
  const error = el("p", { class: "error", role: "alert" });
  const finish = (latest) => {
    item.classList.remove("editing");
    messageChanged(chatId, latest || heldMessage(chatId, message.seq) || message);
    list.querySelector(`li[data-seq="${message.seq}"] .actions button`)?.focus();
  };
  const form = el(
    "form",
    {
      class: "edit",
      onsubmit: async (event) => {
        event.preventDefault();
        if (!field.value.trim()) return;
        try {
          const updated = await session.request("PATCH", `/v1/chats/${chatId}/messages/${message.seq}`, {
            body: field.value,
          });
          finish(keepMine(heldMessage(chatId, message.seq), updated));
        } catch (failure) {
          error.textContent = describe(failure);
        }
      },
    },
    field,
    el("button", { type: "submit", class: "primary", text: "Save" }),
    el("button", { type: "button", text: "Cancel", onclick: () => finish() }),
    error,
  );
  field.addEventListener("keydown", (event) => {
    if (event.key === "Escape") finish();
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  item.querySelector(".body").replaceWith(form);
  item.querySelector(".actions")?.remove();
  field.focus();
}

async function removeMessage(chatId, message, button) {
  // Two steps instead of a blocking confirm(): the first press asks, the second deletes.
  if (button.dataset.confirm !== "yes") {
    button.dataset.confirm = "yes";
    button.textContent = "Really delete?";
    button.setAttribute("aria-label", `Really delete message ${message.seq}?`);
    return;
  }
  try {
    await session.request("DELETE", `/v1/chats/${chatId}/messages/${message.seq}`);
    const gone = { ...message, body: "", deleted: true, reactions: [], mentions: [] };
    state.timelines.get(chatId)?.merge([gone]);
    messageChanged(chatId, gone);
    $("composer-input").focus();
  } catch (error) {
    button.textContent = describe(error);
  }
}

async function react(chatId, seq, emoji, on) {
  const inThread = Boolean(document.activeElement?.closest("#thread-list"));
  const path = `/v1/chats/${chatId}/messages/${seq}/reactions/${encodeURIComponent(emoji)}`;
  try {
    await session.request(on ? "PUT" : "DELETE", path);
  } catch {
    return;
  }
  const held = heldMessage(chatId, seq);
  if (held) messageChanged(chatId, toggled(held, emoji, on));
  // The chip keeps the focus across the redraw, so the keyboard can toggle again.
  $(inThread ? "thread-list" : "message-list")
    .querySelector(`li[data-seq="${seq}"] .reaction[aria-label^="${CSS.escape(emoji)} "]`)
    ?.focus();
}

function onReaction(frame) {
  const held = heldMessage(frame.chat_id, frame.seq);
  if (held) messageChanged(frame.chat_id, applyFrame(held, frame, state.me.id));
}

// ---- read markers and typing --------------------------------------------------------

let readTimer = null;

function markReadSoon() {
  clearTimeout(readTimer);
  readTimer = setTimeout(markRead, 300);
}

async function markRead(chatId = state.openId) {
  const chat = state.chats.get(chatId);
  if (!chat || document.visibilityState !== "visible") return;
  const seq = chat.last_seq;
  if (seq <= chat.last_read_seq) return;
  chat.last_read_seq = seq;
  chat.unread = 0;
  if (chat.unread_mentions) chat.unread_mentions = 0;
  renderChats();
  try {
    await session.request("POST", `/v1/chats/${chat.id}/read`, { seq });
  } catch {
    // The marker is only moved forward; the next read tries again.
  }
}

function showTyping(chatId, username) {
  let typers = state.typing.get(chatId);
  if (!typers) state.typing.set(chatId, (typers = new Map()));
  clearTimeout(typers.get(username));
  typers.set(
    username,
    setTimeout(() => {
      typers.delete(username);
      renderTyping();
    }, TYPING_SHOW_MS),
  );
  renderTyping();
}

function clearTyping(chatId, username) {
  const typers = state.typing.get(chatId);
  if (!typers?.has(username)) return;
  clearTimeout(typers.get(username));
  typers.delete(username);
  renderTyping();
}

function renderTyping() {
  const names = [...(state.typing.get(state.openId)?.keys() || [])];
  $("typing").textContent = !names.length
    ? ""
    : names.length === 1
      ? `${names[0]} is typing…`
      : `${names.slice(0, -1).join(", ")} and ${names.at(-1)} are typing…`;
}

// ---- stream frames ------------------------------------------------------------------

function onFrame(frame) {
  const chat = state.chats.get(frame.chat_id);
  switch (frame.type) {
    case "message":
      if (!chat) fetchChat(frame.chat_id);
      else {
        clearTyping(frame.chat_id, frame.message.sender_username);
        addMessages(frame.chat_id, [keepMine(heldMessage(frame.chat_id, frame.message.seq), frame.message)]);
        const timeline = state.timelines.get(frame.chat_id);
        if (timeline?.loaded && timeline.firstGap() !== null) fillGaps(frame.chat_id);
      }
      break;
    case "message.updated": {
      // A frame's reactions never say which are the reader's: the copy held does.
      const message = keepMine(heldMessage(frame.chat_id, frame.message.seq), frame.message);
      if (state.timelines.has(frame.chat_id)) addMessages(frame.chat_id, [message]);
      else threads.accept(frame.chat_id, message);
      break;
    }
    case "reaction":
      onReaction(frame);
      break;
    case "member.joined":
      if (frame.member.user_id === state.me.id && !chat) fetchChat(frame.chat_id);
      else if (chat) {
        chat.members = [...(chat.members || []).filter((m) => m.user_id !== frame.member.user_id), frame.member];
        if (frame.chat_id === state.openId) renderMembers();
      }
      break;
    case "member.left":
      if (frame.member.user_id === state.me.id) removeChat(frame.chat_id);
      else if (chat) {
        chat.members = (chat.members || []).filter((m) => m.user_id !== frame.member.user_id);
        if (frame.chat_id === state.openId) renderMembers();
      }
      break;
    case "typing":
      if (frame.user_id !== state.me.id) showTyping(frame.chat_id, frame.username);
      break;
    case "presence":
      presence.frame(frame);
      break;
    default:
      if (frame.message && frame.chat_id && state.timelines.has(frame.chat_id)) {
        addMessages(frame.chat_id, [frame.message]); // e.g. a reaction carrying its message
      }
  }
}

// ---- members and new chats ----------------------------------------------------------

function renderMembers() {
  const chat = state.chats.get(state.openId);
  if (!chat) return;
  const owner = (chat.members || []).some((m) => m.user_id === state.me.id && m.role === "owner");
  $("member-list").replaceChildren(
    ...(chat.members || []).map((member) =>
      memberItem(member, {
        me: state.me,
        owner,
        presence: presence.of(member.user_id),
        displayName: people.displayName(member.user_id),
        onRemove: () => removeMember(chat.id, member.username),
      }),
    ),
  );
  $("add-member").hidden = chat.kind === "direct";
}

function toggleMembers() {
  const panel = $("members-panel");
  panel.hidden = !panel.hidden;
  $("members-toggle").setAttribute("aria-expanded", String(!panel.hidden));
  if (!panel.hidden) {
    threads.close();
    renderMembers();
    const members = state.chats.get(state.openId)?.members || [];
    presence.load(members.map((m) => m.user_id));
    people.load(members).then(() => {
      if (!panel.hidden) renderMembers();
    });
    panel.querySelector("button, input")?.focus();
  }
}

async function addMember(event) {
  event.preventDefault();
  const chat = state.chats.get(state.openId);
  const username = $("add-member-input").value.trim().toLowerCase();
  if (!chat || !username) return;
  try {
    const member = await session.request("POST", `/v1/chats/${chat.id}/members`, { username });
    chat.members = [...(chat.members || []).filter((m) => m.user_id !== member.user_id), member];
    $("add-member-input").value = "";
    $("add-member-error").textContent = "";
    renderMembers();
  } catch (error) {
    $("add-member-error").textContent = describe(error);
  }
}

async function removeMember(chatId, username) {
  try {
    await session.request("DELETE", `/v1/chats/${chatId}/members/${encodeURIComponent(username)}`);
    if (username === state.me.username) removeChat(chatId);
    else {
      const chat = state.chats.get(chatId);
      chat.members = chat.members.filter((m) => m.username !== username);
      renderMembers();
    }
  } catch (error) {
    $("add-member-error").textContent = describe(error);
  }
}

function openNewChat() {
  $("new-chat-form").reset();
  $("new-chat-error").textContent = "";
  $("new-chat-title-field").hidden = false;
  $("new-chat-dialog").showModal();
  $("new-chat-title").focus();
}

async function createChat(event) {
  event.preventDefault();
  const form = $("new-chat-form");
  const kind = form.elements.kind.value;
  const members = $("new-chat-members")
    .value.split(/[\s,]+/)
    .map((name) => name.trim().toLowerCase().replace(/^@/, ""))
    .filter(Boolean);
  if (kind === "direct" && members.length !== 1) {
    $("new-chat-error").textContent = "A direct chat has exactly one other member.";
    $("new-chat-members").focus();
    return;
  }
  const body = { kind, members };
  const title = $("new-chat-title").value.trim();
  if (kind === "group" && title) body.title = title;
  try {
    const chat = await session.request("POST", "/v1/chats", body);
    upsertChat(chat, { top: true });
    $("new-chat-dialog").close();
    renderChats();
    openChat(chat.id);
  } catch (error) {
    $("new-chat-error").textContent = describe(error);
  }
}

let suggestTimer = null;

function suggestUsers(event) {
  const prefix = event.target.value.split(/[\s,]+/).at(-1).toLowerCase();
  clearTimeout(suggestTimer);
  if (!prefix) return;
  suggestTimer = setTimeout(async () => {
    try {
      const { users } = await session.request("GET", `/v1/users?prefix=${encodeURIComponent(prefix)}&limit=10`);
      $("user-suggestions").replaceChildren(
        ...users.filter((u) => u.id !== state.me.id).map((u) => el("option", { value: u.username })),
      );
    } catch {
      // Suggestions are a convenience.
    }
  }, 200);
}

// ---- attachments ---------------------------------------------------------------------

/** The attach button shows when the server takes uploads: an empty announcement is refused
 * with 400 or 422 by a server that has the route, 404 or 405 by one that has not. */
async function detectAttachments() {
  try {
    await session.request("POST", "/v1/attachments", {});
  } catch (error) {
    if (!(error instanceof ApiError) || error.status === 404 || error.status === 405) return;
  }
  $("attach").hidden = false;
}

// ---- search results ----------------------------------------------------------------

/** Open a chat at one message: older pages are read until it is held, then it is shown. */
async function jumpTo(chatId, seq) {
  if (!state.chats.has(chatId)) await fetchChat(chatId);
  await openChat(chatId, { focus: false });
  const timeline = state.timelines.get(chatId);
  if (!timeline) return;
  for (let pages = 0; pages < 100 && !timeline.bySeq.has(seq) && timeline.hasOlder; pages += 1) {
    if (state.openId !== chatId) return;
    const before = timeline.size;
    await loadOlder();
    if (timeline.size === before) break;
  }
  const item = $("message-list").querySelector(`li[data-seq="${seq}"]`);
  if (!item) return;
  for (const found of $("message-list").querySelectorAll("li.found")) found.classList.remove("found");
  item.classList.add("found");
  item.scrollIntoView({ block: "center" });
  item.focus({ preventScroll: true });
}

// ---- start --------------------------------------------------------------------------

async function loadConfig() {
  try {
    const response = await fetch("config.json", { cache: "no-store" });
    if (response.ok) return await response.json();
  } catch {
    // Served without a config: the API is on this origin.
  }
  return {};
}

function wire() {
  $("auth-form").addEventListener("submit", submitAuth);
  $("auth-switch").addEventListener("click", () => {
    setMode(state.mode === "login" ? "register" : "login");
    $("auth-error").textContent = "";
  });
  $("logout").addEventListener("click", async () => {
    stream?.stop();
    stream = null;
    await session.logout();
    resetState();
    showAuth();
  });
  $("chat-list").addEventListener("keydown", chatListKeys);
  $("more-chats").addEventListener("click", () => loadChats(false, state.nextCursor));
  $("new-chat").addEventListener("click", openNewChat);
  $("new-chat-form").addEventListener("submit", createChat);
  $("new-chat-cancel").addEventListener("click", () => $("new-chat-dialog").close());
  $("new-chat-form").addEventListener("change", (event) => {
    if (event.target.name === "kind") $("new-chat-title-field").hidden = event.target.value === "direct";
  });
  $("new-chat-members").addEventListener("input", suggestUsers);
  $("add-member-input").addEventListener("input", suggestUsers);
  $("back").addEventListener("click", closeChat);
  $("older").addEventListener("click", loadOlder);
  $("messages").addEventListener("scroll", () => {
    if ($("messages").scrollTop < 40 && !$("older").hidden && !$("older").disabled) loadOlder();
  });
  completeMentions($("composer-input"), {
    members: () => state.chats.get(state.openId)?.members || [],
    me: () => state.me,
  });
  $("composer").addEventListener("submit", submitMessage);
  $("composer-input").addEventListener("keydown", composerKeys);
  $("composer-input").addEventListener("input", composerInput);
  $("members-toggle").addEventListener("click", toggleMembers);
  $("add-member").addEventListener("submit", addMember);
  $("leave-chat").addEventListener("click", () => {
    if (state.openId) removeMember(state.openId, state.me.username);
  });
  document.addEventListener("visibilitychange", markReadSoon);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && state.openId && document.body.classList.contains("chat-open")) {
      if (!$("members-panel").hidden) toggleMembers();
    }
  });
}

async function start() {
  const config = await loadConfig();
  session = new Session({ base: config.api_url || "" });
  threads = new ThreadPanel({
    session,
    render: (chatId, message, list) => messageNode(chatId, message, list),
    held: (chatId, seq) => state.timelines.get(chatId)?.bySeq.get(seq),
    sent: (chatId, message) => addMessages(chatId, [message]),
    members: () => state.chats.get(threads.chatId)?.members || [],
    me: () => state.me,
    newId: uuid4,
  });
  presence = new Presence({
    session,
    me: () => state.me,
    changed: () => {
      if (state.openId && !$("members-panel").hidden) renderMembers();
    },
  });
  people = new People(session);
  files = new Files(session);
  uploads = new Uploads({
    session,
    changed: () => {
      $("composer").querySelector("button[type=submit]").disabled = uploads.busy;
    },
  });
  search = new Search({
    session,
    me: () => state.me,
    chat: (id) => state.chats.get(id),
    jump: jumpTo,
  });
  new Settings({
    session,
    me: () => state.me,
    renamed: (user) => {
      state.me = { ...state.me, ...user };
      people.remember(state.me);
      showMe();
      if (state.openId && !$("members-panel").hidden) renderMembers();
    },
  });
  session.onExpired = () => {
    resetState();
    showAuth("Your session has ended; please log in again.");
  };
  wire();
  if (session.loggedIn) await enterApp();
  else showAuth();
  document.body.dataset.ready = "true";
}

start();
