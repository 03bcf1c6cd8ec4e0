// The web client's DOM-free modules in node (run by test_client_modules.py).
import assert from "node:assert/strict";
import { test } from "node:test";

import { ApiError, Session, SessionExpired } from "../../../web/src/parley_web/static/js/api.js";
import { applyFrame, keepMine, toggled } from "../../../web/src/parley_web/static/js/reactions.js";
import { Timeline } from "../../../web/src/parley_web/static/js/timeline.js";

class MemoryStorage {
  constructor() { this.items = new Map(); }
  getItem(key) { return this.items.has(key) ? this.items.get(key) : null; }
  setItem(key, value) { this.items.set(key, String(value)); }
  removeItem(key) { this.items.delete(key); }
}

function json(status, body) {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
}

/** A fake auth server: access tokens `a<n>`, refresh tokens `r<n>`, only the newest valid. */
function server() {
  const calls = { refresh: 0, requests: [] };
  let generation = 1;
  const fetchImpl = async (url, init) => {
    const path = new URL(url, "http://x").pathname;
    if (path === "/v1/auth/refresh") {
      calls.refresh += 1;
      await new Promise((resolve) => setTimeout(resolve, 10));
      const { refresh_token } = JSON.parse(init.body);
      if (refresh_token !== `r${generation}`) return json(401, { detail: "used" });
      generation += 1;
      return json(200, { access_token: `a${generation}`, refresh_token: `r${generation}` });
    }
    calls.requests.push(init.headers.Authorization);
    if (init.headers.Authorization !== `Bearer a${generation}`) return json(401, { detail: "expired" });
    return json(200, { ok: true });
  };
  return { calls, fetchImpl };
}

test("concurrent requests that meet an expired token share one refresh", async () => {
  const fake = server();
  const storage = new MemoryStorage();
  const session = new Session({ storage, fetchImpl: fake.fetchImpl });
  session.adopt("default", { access_token: "stale", refresh_token: "r1" });
  const answers = await Promise.all([1, 2, 3, 4].map(() => session.request("GET", "/v1/chats")));
  assert.deepEqual(answers, [{ ok: true }, { ok: true }, { ok: true }, { ok: true }]);
  assert.equal(fake.calls.refresh, 1);
  assert.equal(session.refreshToken, "r2");
  assert.equal(JSON.parse(storage.getItem("parley.session")).access_token, "a2");
});

test("a refused refresh ends the session and forgets the tokens", async () => {
  const fake = server();
  const storage = new MemoryStorage();
  const session = new Session({ storage, fetchImpl: fake.fetchImpl });
  let ended = 0;
  session.onExpired = () => { ended += 1; };
  session.adopt("default", { access_token: "stale", refresh_token: "r-unknown" });
  await assert.rejects(session.request("GET", "/v1/chats"), SessionExpired);
  assert.equal(ended, 1);
  assert.equal(storage.getItem("parley.session"), null);
  assert.equal(session.loggedIn, false);
});

test("an error answer becomes an ApiError with the server's detail", async () => {
  const session = new Session({
    storage: new MemoryStorage(),
    fetchImpl: async () => json(422, { status_code: 422, detail: "body: too long" }),
  });
  const error = await session.raw("POST", "/v1/chats/x/messages", { body: "x" }).catch((e) => e);
  assert.ok(error instanceof ApiError);
  assert.equal(error.status, 422);
  assert.equal(error.detail, "body: too long");
});

test("a timeline keeps each seq once, in order, and names its first gap", () => {
  const timeline = new Timeline();
  const message = (seq, body = `m${seq}`, extra = {}) => ({
    seq, body, created_at: "2026-01-01T00:00:00Z", edited_at: null, deleted: false, ...extra,
  });
  assert.deepEqual(timeline.merge([message(3), message(1)]).map((m) => m.seq), [1, 3]);
  assert.deepEqual(timeline.merge([message(3), message(4)]).map((m) => m.seq), [4]);
  assert.equal(timeline.firstGap(), 2);
  timeline.merge([message(2)]);
  assert.equal(timeline.firstGap(), null);
  assert.deepEqual(timeline.ordered().map((m) => m.seq), [1, 2, 3, 4]);
  // An edit seen live is not undone by an older copy from a history page.
  timeline.merge([message(2, "edited", { edited_at: "2026-01-01T00:01:00Z" })]);
  timeline.merge([message(2, "m2")]);
  assert.equal(timeline.bySeq.get(2).body, "edited");
  assert.equal(new Timeline().firstGap(), null);
});

test("a reaction frame sets the count it carries, and `me` only for the reader's own", () => {
  const message = { seq: 1, reactions: [{ emoji: "👍", count: 1, me: true }] };
  const other = applyFrame(message, { emoji: "👍", count: 2, user_id: "u2", op: "add" }, "u1");
  assert.deepEqual(other.reactions, [{ emoji: "👍", count: 2, me: true }]);
  const mineGone = applyFrame(other, { emoji: "👍", count: 1, user_id: "u1", op: "remove" }, "u1");
  assert.deepEqual(mineGone.reactions, [{ emoji: "👍", count: 1, me: false }]);
  const fresh = applyFrame(mineGone, { emoji: "🎉", count: 1, user_id: "u1", op: "add" }, "u1");
  assert.deepEqual(fresh.reactions.map((r) => [r.emoji, r.count, r.me]), [["👍", 1, false], ["🎉", 1, true]]);
  const last = applyFrame(fresh, { emoji: "👍", count: 0, user_id: "u2", op: "remove" }, "u1");
  assert.deepEqual(last.reactions.map((r) => r.emoji), ["🎉"]);
});

test("a frame's message keeps the reader's own reactions, and a toggle counts once", () => {
  const held = { seq: 1, reactions: [{ emoji: "👍", count: 1, me: true }] };
  const frame = { seq: 1, body: "edited", reactions: [{ emoji: "👍", count: 2, me: false }, { emoji: "🎉", count: 1, me: false }] };
  assert.deepEqual(keepMine(held, frame).reactions.map((r) => r.me), [true, false]);
  assert.equal(keepMine(undefined, frame), frame);
  const twice = toggled(toggled(held, "🎉", true), "🎉", true);
  assert.deepEqual(twice.reactions.at(-1), { emoji: "🎉", count: 1, me: true });
  assert.deepEqual(toggled(held, "👍", false).reactions, []);
});

test("a call whose 401 is an answer refreshes only an expiring token and never repeats", async () => {
  const soon = (seconds) => `x.${btoa(JSON.stringify({ exp: Date.now() / 1000 + seconds }))}.y`;
  const seen = [];
  const fetchImpl = async (url, init) => {
    const path = new URL(url, "http://x").pathname;
    seen.push([path, init.headers.Authorization]);
    if (path === "/v1/auth/refresh") return json(200, { access_token: soon(600), refresh_token: "r2" });
    return json(401, { detail: "Wrong password." });
  };
  const session = new Session({ storage: new MemoryStorage(), fetchImpl });
  session.adopt("default", { access_token: soon(600), refresh_token: "r1" });
  await assert.rejects(session.requestOnce("POST", "/v1/auth/password", {}), (error) => error.status === 401);
  assert.deepEqual(seen.map(([path]) => path), ["/v1/auth/password"]);
  session.adopt("default", { access_token: soon(5), refresh_token: "r1" });
  await assert.rejects(session.requestOnce("POST", "/v1/auth/password", {}), ApiError);
  assert.deepEqual(seen.slice(1).map(([path]) => path), ["/v1/auth/refresh", "/v1/auth/password"]);
  assert.equal(session.refreshToken, "r2");
});
