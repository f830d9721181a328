// connection: the one WebSocket to the gateway. Reconnects with exponential
// backoff and jitter, answers heartbeats, matches answers to requests by id, and
// keeps per-topic (epoch, offset) so a resubscribe after a drop recovers exactly
// what was missed; when it cannot, the topic's owner is told to refetch its state.
// It knows frames, not screens: views subscribe with handlers.

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 15000;
const REQUEST_TIMEOUT_MS = 20000;

/** Fetches (and caches in localStorage) a guest token; `fresh` forces a new one. */
export async function guestToken(fresh = false) {
  const saved = JSON.parse(localStorage.getItem("marquee.guest") || "null");
  const now = Date.now() / 1000;
  if (!fresh && saved && saved.expires_at > now + 60) return saved;
  const r = await fetch("/auth/guest", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
  if (!r.ok) throw new Error(`guest token: HTTP ${r.status}`);
  const g = await r.json();
  localStorage.setItem("marquee.guest", JSON.stringify(g));
  return g;
}

/**
 * Events (EventTarget): "state" {detail: {state, retryInMs?}} where state is
 * "connecting" | "online" | "offline"; "welcome" {detail: welcome frame}.
 */
export class Connection extends EventTarget {
  constructor() {
    super();
    this.ws = null;
    this.token = null;
    this.user = null;
    this.nextId = 1;
    this.pending = new Map(); // id -> {resolve, reject, timer}
    this.topics = new Map(); // topic -> {epoch, offset, handlers, active}
    this.backoff = BACKOFF_MIN_MS;
    this.reconnectIn = null;
    this.state = "connecting";
  }

  /** Gets a token and opens the socket. */
  async start() {
    const g = await guestToken();
    this.token = g.token;
    this.user = g.user;
    this.open();
  }

  setState(state, extra = {}) {
    this.state = state;
    this.dispatchEvent(new CustomEvent("state", { detail: { state, ...extra } }));
  }

  open() {
    const proto = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${proto}://${location.host}/ws?token=${encodeURIComponent(this.token)}`);
    this.ws = ws;
    this.setState("connecting");
    ws.onmessage = (ev) => {
      let f;
      try {
        f = JSON.parse(ev.data);
      } catch {
        return;
      }
      this.onFrame(f);
    };
    ws.onclose = (ev) => this.onClose(ev);
  }

  async onClose(ev) {
    if (this.ws === null) return;
    this.ws = null;
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new Error("disconnected"));
    }
    this.pending.clear();
    for (const t of this.topics.values()) t.active = false;
    let delay = this.reconnectIn ?? this.backoff;
    this.reconnectIn = null;
    this.backoff = Math.min(this.backoff * 2, BACKOFF_MAX_MS);
    delay += Math.random() * 300;
    this.setState("offline", { retryInMs: delay, code: ev.code });
    if (ev.code === 4001 || ev.code === 4003) {
      // The token was refused (expired, or the server's secret changed), or the
      // session's token expired (4003): a new guest.
      try {
        const g = await guestToken(true);
        this.token = g.token;
        this.user = g.user;
      } catch {
        // Keep the old token; the next attempt retries the token too.
      }
    }
    setTimeout(() => this.open(), delay);
  }

  /** Sends a request and resolves with its answer (which may be an `error` frame). */
  request(msg, timeoutMs = REQUEST_TIMEOUT_MS) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return Promise.reject(new Error("disconnected"));
    const id = this.nextId++;
    const frame = { ...msg, id };
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error("timeout"));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.ws.send(JSON.stringify(frame));
    });
  }

  /** Sends a frame that has no answer (voice_partial, voice_cancel). False when offline. */
  send(msg) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(msg));
    return true;
  }

  /**
   * Keeps `topic` subscribed across reconnects. handlers.onPub(data, frame) gets
   * every publication once, in offset order; handlers.onRefetch(reason) is called
   * when the view must load its state afresh ("initial", "recover_failed", "reset").
   */
  subscribe(topic, handlers) {
    const existing = this.topics.get(topic);
    if (existing) {
      existing.handlers = handlers;
      return;
    }
    const t = { epoch: null, offset: 0, handlers, active: false };
    this.topics.set(topic, t);
    if (this.state === "online") this.subscribeOnWire(topic, t);
  }

  /** Stops following `topic`. */
  unsubscribe(topic) {
    const t = this.topics.get(topic);
    if (!t) return;
    this.topics.delete(topic);
    if (t.active) this.request({ type: "unsubscribe", topic }).catch(() => {});
  }

  subscribeOnWire(topic, t) {
    // Once per connection: a topic subscribed by a "welcome" or "state"
    // listener must not be subscribed again by the resubscribe loop (a second
    // subscribe without `recover` made the view refetch, and could drop a pub).
    if (t.sentOn === this.generation) return;
    t.sentOn = this.generation;
    const recover = t.epoch ? { epoch: t.epoch, offset: t.offset } : undefined;
    this.request({ type: "subscribe", topic, recover }).catch(() => {
      // Disconnected meanwhile: the next welcome subscribes again.
    });
  }

  onFrame(f) {
    // Subscription answers are applied here, synchronously, before the
    // recovered `pub` frames that follow them are handled.
    if (f.type === "subscribed") this.onSubscribed(f);
    if (f.id !== undefined && this.pending.has(f.id)) {
      const p = this.pending.get(f.id);
      this.pending.delete(f.id);
      clearTimeout(p.timer);
      p.resolve(f);
    }
    switch (f.type) {
      case "welcome":
        this.generation = (this.generation ?? 0) + 1;
        this.backoff = BACKOFF_MIN_MS;
        this.user = f.user;
        this.setState("online");
        this.dispatchEvent(new CustomEvent("welcome", { detail: f }));
        for (const [topic, t] of this.topics) this.subscribeOnWire(topic, t);
        break;
      case "pub": {
        const t = this.topics.get(f.topic);
        if (!t || f.offset <= t.offset) break;
        t.offset = f.offset;
        t.handlers.onPub?.(f.data, f);
        break;
      }
      case "reset": {
        const t = this.topics.get(f.topic);
        if (!t) break;
        t.epoch = f.epoch;
        t.offset = f.offset;
        t.handlers.onRefetch?.("reset");
        break;
      }
      case "ping":
        this.send({ type: "pong" });
        break;
      case "reconnect":
        this.reconnectIn = f.delay_ms;
        break;
      default:
        break;
    }
  }

  onSubscribed(f) {
    const t = this.topics.get(f.topic);
    if (!t) return;
    t.active = true;
    const first = t.epoch === null;
    t.epoch = f.epoch;
    if (f.recovered === true) return; // the missed pubs follow in order
    t.offset = f.offset;
    t.handlers.onRefetch?.(first ? "initial" : "recover_failed");
  }
}
