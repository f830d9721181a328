// chat: the conversation with the booking bot. Sends `chat` frames, and draws
// the chat events that arrive on user:<id>: streamed deltas of the highest
// attempt (a restart discards the earlier text), citations with attribution,
// booking actions, and quick replies as large buttons. It never books by
// itself: actions are the bot's, reported through onAction.

import { t, language } from "./i18n.js";
import { TOOL } from "./tools.js";

function newId(prefix) {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

export class Chat {
  /**
   * els: {log, form, input, status}; hooks: {onAction(event), speak(text),
   * context() → {showtime?}, openReview()}.
   */
  constructor(conn, els, hooks) {
    this.conn = conn;
    this.els = els;
    this.hooks = hooks;
    this.entries = new Map(); // message_id -> entry
    this.lost = new Map(); // message_id -> text: unanswered when the connection dropped
    this.conversation = localStorage.getItem("marquee.conversation") || newId("c");
    localStorage.setItem("marquee.conversation", this.conversation);
    els.form.addEventListener("submit", (e) => {
      e.preventDefault();
      const text = els.input.value.trim();
      if (text) this.send(text).then((ok) => ok && (els.input.value = ""));
    });
  }

  /** Sends a typed (or tapped) message; resolves true when the gateway accepted it. */
  async send(text, extra = {}) {
    const messageId = newId("m");
    const context = { ...this.hooks.context(), ...extra };
    this.userBubble(messageId, text, false);
    this.entry(messageId).text = text;
    return this.accept(messageId, {
      type: "chat",
      message_id: messageId,
      conversation: this.conversation,
      text,
      locale: language(),
      context: Object.keys(context).length ? context : undefined,
    });
  }

  /** Sends the final transcript of an utterance. */
  async sendVoice(utteranceId, text) {
    const messageId = `voice:${utteranceId}`;
    this.userBubble(messageId, text, true);
    const context = this.hooks.context();
    return this.accept(messageId, {
      type: "voice_final",
      utterance_id: utteranceId,
      conversation: this.conversation,
      text,
      locale: language(),
      context: Object.keys(context).length ? context : undefined,
    });
  }

  async accept(messageId, frame) {
    this.status("");
    let r;
    try {
      r = await this.conn.request(frame);
    } catch {
      this.status(t("send_failed"));
      this.failed(this.entry(messageId));
      return false;
    }
    if (r.type === "chat_accepted") {
      const e = this.entry(messageId);
      if (!e.bot) this.botBubble(e).dataset.state = "waiting";
      return true;
    }
    this.entries.get(messageId)?.user?.classList.add("failed");
    this.status(r.code === "rate_limited" ? t("rate_limited") : r.code === "unavailable" || r.code === "overloaded" ? t("chat_unavailable") : t("error_generic", { code: r.code }));
    return false;
  }

  /** Marks a message as unanswered and offers to send it again. */
  failed(e) {
    const host = e.bot ?? e.user;
    if (!host) return;
    e.user?.classList.add("failed");
    if (e.bot) {
      e.bot.dataset.state = "dropped";
      e.bot.setAttribute("aria-busy", "false");
      e.bot.querySelector(".note").textContent = t("chat_dropped");
    }
    if (host.querySelector(".resend")) return;
    const b = document.createElement("button");
    b.type = "button";
    b.className = "secondary resend";
    b.textContent = t("resend");
    b.addEventListener("click", () => {
      const text = e.text ?? e.user?.querySelector(".text")?.textContent ?? "";
      if (!text) return;
      b.remove();
      this.lost.delete(e.id);
      this.send(text);
    });
    host.append(b);
  }

  /** The connection dropped: every answer still on its way is marked, with a resend button. */
  dropped() {
    for (const e of this.entries.values()) {
      const state = e.bot?.dataset.state;
      if (e.bot && (state === "waiting" || state === "queued" || state === "streaming")) {
        this.lost.set(e.id, e.text ?? e.user?.querySelector(".text")?.textContent ?? "");
        this.failed(e);
      }
    }
  }

  status(text) {
    this.els.status.textContent = text;
  }

  entry(id) {
    let e = this.entries.get(id);
    if (!e) {
      e = { id, user: null, bot: null, attempt: 0 };
      this.entries.set(id, e);
    }
    return e;
  }

  userBubble(id, text, voice) {
    const e = this.entry(id);
    if (e.user) return e.user;
    const li = document.createElement("li");
    li.className = "msg user";
    li.dataset.message = id;
    if (voice) li.dataset.voice = "true";
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = t("you");
    const p = document.createElement("p");
    p.className = "text";
    p.textContent = text;
    li.append(who, p);
    this.els.log.append(li);
    e.user = li;
    li.scrollIntoView({ block: "end" });
    return li;
  }

  botBubble(e) {
    if (e.bot) return e.bot;
    const li = document.createElement("li");
    li.className = "msg bot";
    li.dataset.message = e.id;
    li.dataset.state = "waiting";
    li.setAttribute("aria-busy", "true");
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = t("bot");
    const note = document.createElement("p");
    note.className = "note";
    note.textContent = t("thinking");
    const text = document.createElement("p");
    text.className = "text";
    const cites = document.createElement("ul");
    cites.className = "citations";
    const actions = document.createElement("ul");
    actions.className = "actions";
    const sugg = document.createElement("div");
    sugg.className = "suggestions";
    li.append(who, note, text, actions, cites, sugg);
    // Keep the bubble after its question (events of several messages may interleave).
    const after = e.user;
    if (after && after.parentNode === this.els.log) after.after(li);
    else this.els.log.append(li);
    e.bot = li;
    return li;
  }

  clearAttempt(e) {
    const b = this.botBubble(e);
    b.querySelector(".text").textContent = "";
    b.querySelector(".citations").replaceChildren();
    b.querySelector(".actions").replaceChildren();
    b.querySelector(".suggestions").replaceChildren();
  }

  /** Accepts attempt `a` of entry e: false when it is older than the current one. */
  current(e, a) {
    if (a === undefined) return true;
    if (a < e.attempt) return false;
    if (a > e.attempt) {
      e.attempt = a;
      this.clearAttempt(e);
    }
    return true;
  }

  /** Handles one chat event from user:<id>; `replay` = from history (not spoken). */
  onEvent(d, replay = false) {
    if (d?.type !== "chat") return;
    if (d.event === "warning") return this.warning(d, replay);
    const e = this.entry(d.message_id);
    switch (d.event) {
      case "message":
        this.userBubble(d.message_id, d.text, d.voice === true);
        break;
      case "queued": {
        const b = this.botBubble(e);
        b.dataset.state = "queued";
        b.querySelector(".note").textContent = t("queued", { n: d.position });
        break;
      }
      case "start": {
        if (!this.current(e, d.attempt)) break;
        const b = this.botBubble(e);
        b.dataset.state = "streaming";
        b.querySelector(".note").textContent = t("thinking");
        break;
      }
      case "delta": {
        if (!this.current(e, d.attempt)) break;
        const b = this.botBubble(e);
        b.dataset.state = "streaming";
        b.querySelector(".note").textContent = "";
        b.querySelector(".text").textContent += d.text;
        break;
      }
      case "citation": {
        if (!this.current(e, d.attempt)) break;
        const li = document.createElement("li");
        const q = document.createElement("q");
        q.textContent = d.snippet;
        const src = document.createElement("span");
        src.className = "attribution";
        // An empty attribution means no licence asks for one; still say where it is from.
        src.textContent = ` — ${t("source")}: ${d.attribution || t(d.review ? "source_review" : "source_movie")}`;
        li.append(q, src);
        this.botBubble(e).querySelector(".citations").append(li);
        break;
      }
      case "action": {
        if (!this.current(e, d.attempt)) break;
        const li = document.createElement("li");
        li.dataset.tool = d.tool;
        li.dataset.ok = String(d.ok);
        li.textContent = this.describeAction(d);
        if (d.ok && d.tool === TOOL.HOLD_BEST_AVAILABLE && !replay) {
          const b = document.createElement("button");
          b.type = "button";
          b.className = "secondary open-review";
          b.textContent = t("action_open");
          b.addEventListener("click", () => this.hooks.openReview?.());
          li.append(" ", b);
        }
        this.botBubble(e).querySelector(".actions").append(li);
        if (!replay) this.hooks.onAction(d);
        break;
      }
      case "restart": {
        e.attempt = Math.max(e.attempt, d.attempt ?? 0);
        this.clearAttempt(e);
        const b = this.botBubble(e);
        b.dataset.state = "streaming";
        b.querySelector(".note").textContent = t("restarting");
        break;
      }
      case "final": {
        if (!this.current(e, d.attempt)) break;
        const b = this.botBubble(e);
        b.dataset.state = "final";
        b.setAttribute("aria-busy", "false");
        b.querySelector(".note").textContent = "";
        b.querySelector(".text").textContent = d.text;
        b.querySelector(".resend")?.remove();
        e.user?.classList.remove("failed");
        this.lost.delete(d.message_id);
        this.suggestions(b, d.suggestions);
        if (!replay) this.hooks.speak(d.speech || d.text);
        break;
      }
      case "apology": {
        const b = this.botBubble(e);
        b.dataset.state = "apology";
        b.setAttribute("aria-busy", "false");
        b.querySelector(".note").textContent = d.text;
        if (!replay) this.hooks.speak(d.speech || d.text);
        break;
      }
      default:
        break;
    }
    if (!replay) e.bot?.scrollIntoView({ block: "end" });
  }

  warning(d, replay) {
    const e = this.entry(`warning:${d.hold_id}:${d.expires_at}`);
    const b = this.botBubble(e);
    b.dataset.state = "final";
    b.classList.add("warning");
    b.setAttribute("aria-busy", "false");
    b.querySelector(".note").textContent = "";
    b.querySelector(".text").textContent = d.text;
    this.suggestions(b, d.suggestions);
    if (!replay) {
      this.hooks.speak(d.speech || d.text);
      b.scrollIntoView({ block: "end" });
    }
  }

  suggestions(bubble, list) {
    const box = bubble.querySelector(".suggestions");
    box.replaceChildren();
    if (!list?.length) return;
    box.setAttribute("role", "group");
    box.setAttribute("aria-label", t("suggestions"));
    for (const s of list) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "suggestion";
      b.textContent = s.label || s.text;
      if (s.showtime) b.dataset.showtime = s.showtime;
      b.addEventListener("click", () => this.send(s.text, s.showtime ? { showtime: s.showtime } : {}));
      box.append(b);
    }
  }

  describeAction(d) {
    if (!d.ok) return t("action_failed");
    const r = d.result ?? {};
    switch (d.tool) {
      case TOOL.HOLD_BEST_AVAILABLE:
        return t("action_hold", { seats: (r.seats ?? []).join(", ") });
      case TOOL.CONFIRM_BOOKING:
        return t("action_confirm", { seats: (r.seats ?? []).join(", ") });
      case TOOL.RELEASE_HOLD:
        return t("action_release");
      case TOOL.CANCEL_BOOKING:
        return t("action_cancel");
      case TOOL.FIND_SHOWTIMES:
        return t("action_find");
      case TOOL.EXTEND_HOLD:
        return t("action_extend");
      case TOOL.LIST_BOOKINGS:
        return t("action_list");
      default:
        return t("action_ok");
    }
  }

  /** Draws the conversation again from the user topic's history (oldest first). */
  replay(pubs) {
    this.entries.clear();
    this.els.log.replaceChildren();
    for (const p of pubs) this.onEvent(p.data, true);
    // Messages left unanswered by a dropped connection stay marked, with their resend button.
    for (const [id, text] of this.lost) {
      const e = this.entry(id);
      e.text ??= text;
      if (!e.user && text) this.userBubble(id, text, false);
      this.botBubble(e);
      this.failed(e);
    }
  }
}
