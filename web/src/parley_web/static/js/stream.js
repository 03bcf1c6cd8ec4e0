// The live stream (docs/stream.md "For client authors"): a fresh single-use ticket per
// connect so no token goes into a URL, `resume` with the highest seq held per chat, pings,
// and reconnection with jittered exponential backoff after any close but 4403.

import { SessionExpired } from "./api.js";

const PING_MS = 25_000;
const MAX_BACKOFF_MS = 15_000;

export class Stream {
  /**
   * @param {import("./api.js").Session} session
   * @param {{cursors: () => Object<string, number>, onFrame: (f: object) => void,
   *          onState: (state: string, detail?: string) => void, onReady: () => void}} hooks
   */
  constructor(session, hooks) {
    this.session = session;
    this.hooks = hooks;
    this.socket = null;
    this.attempt = 0;
    this.timer = null;
    this.pinger = null;
    this.stopped = true;
    this.connects = 0;
    this.online = () => this.reconnectNow();
  }

  start() {
    this.stopped = false;
    globalThis.addEventListener?.("online", this.online);
    this.connect();
  }

  stop() {
    this.stopped = true;
    globalThis.removeEventListener?.("online", this.online);
    clearTimeout(this.timer);
    clearInterval(this.pinger);
    if (this.socket) this.socket.close(1000);
    this.socket = null;
  }

  get live() {
    return this.socket?.readyState === WebSocket.OPEN && this.ready;
  }

  send(frame) {
    if (this.live) this.socket.send(JSON.stringify(frame));
  }

  reconnectNow() {
    if (this.stopped || this.socket || this.connecting) return;
    clearTimeout(this.timer);
    this.attempt = 0;
    this.connect();
  }

  async connect() {
    if (this.stopped) return;
    this.hooks.onState(this.connects ? "reconnecting" : "connecting");
    let ticket;
    this.connecting = true;
    try {
      ticket = await this.session.request("POST", "/v1/stream/ticket");
    } catch (error) {
      if (!(error instanceof SessionExpired)) this.retry();
      return;
    } finally {
      this.connecting = false;
    }
    if (this.stopped) return;
    const origin = new URL(this.session.base || globalThis.location.href, globalThis.location.href);
    origin.protocol = origin.protocol === "https:" ? "wss:" : "ws:";
    const url = new URL(`/v1/stream?ticket=${encodeURIComponent(ticket.ticket)}`, origin);
    const socket = new WebSocket(url);
    this.socket = socket;
    this.ready = false;
    socket.onmessage = (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      if (frame.type === "ready") {
        this.ready = true;
        this.attempt = 0;
        this.connects += 1;
        // contract: the first frame after ready is resume, so no live event overtakes it.
        socket.send(JSON.stringify({ type: "resume", cursors: this.hooks.cursors() }));
        clearInterval(this.pinger);
        this.pinger = setInterval(() => this.send({ type: "ping" }), PING_MS);
        this.hooks.onState("live");
        this.hooks.onReady(this.connects > 1);
        return;
      }
      this.hooks.onFrame(frame);
    };
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.ready = false;
      clearInterval(this.pinger);
      if (this.stopped) return;
      if (event.code === 4403) {
        this.hooks.onState("suspended", "This tenant is suspended.");
        return;
      }
      this.retry();
    };
  }

  retry() {
    if (this.stopped) return;
    const ceiling = Math.min(MAX_BACKOFF_MS, 500 * 2 ** this.attempt);
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.attempt += 1;
    this.hooks.onState("offline");
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), delay);
  }
}
