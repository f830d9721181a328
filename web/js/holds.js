// holds: the user's live holds (made on the seat map or by the chat bot). Each
// is drawn as a review card (movie, time, theater, seats in hall order with
// class, ticket type and unit price as the store priced them, tickets by type,
// the store's total, countdown, confirm / more time / release) in the
// review step, and its countdown also wherever a [data-countdown] element names
// it (the seat step). It asks the gateway; it does not draw seats.

import { t, money, showTime, titleOf, theaterOf } from "./i18n.js";
import { sortSeats } from "./seatmap.js";
import { byType } from "./tickets.js";

/** A hold's lines in hall order (A2 before A10). */
function sortLines(lines) {
  const order = sortSeats(lines.map((l) => l.seat));
  return [...lines].sort((a, b) => order.indexOf(a.seat) - order.indexOf(b.seat));
}

/** Warn this long before a hold expires (the issue asks for at least a minute). */
export const WARN_BEFORE_MS = 2 * 60 * 1000;

function left(ms) {
  return { m: Math.floor(ms / 60000), s: Math.floor(ms / 1000) % 60 };
}

export class Holds extends EventTarget {
  /** conn: Connection; root: the review step's list; note: its note line; info: {showtime(id), classOf(st, seat), priceOf(st, seat)}. */
  constructor(conn, root, note, info) {
    super();
    this.conn = conn;
    this.root = root;
    this.noteEl = note;
    this.info = info;
    this.holds = new Map(); // hold_id -> hold
    this.warned = new Set();
    setInterval(() => this.tick(), 1000);
  }

  /** Adds or updates a hold (from `held`, `extended`, a snapshot or a bot action). */
  put(hold) {
    if (!hold?.hold_id) return;
    this.holds.set(hold.hold_id, { ...this.holds.get(hold.hold_id), ...hold });
    this.note("");
    this.render();
    this.changed();
  }

  /** Forgets a hold (released, confirmed or expired). */
  drop(holdId) {
    if (this.holds.delete(holdId)) {
      this.warned.delete(holdId);
      this.render();
      this.changed();
    }
  }

  /** The seats of live holds on one showtime. */
  seatsOn(showtime) {
    const out = new Set();
    for (const h of this.holds.values()) if (h.showtime === showtime) for (const s of h.seats) out.add(s);
    return out;
  }

  changed() {
    this.dispatchEvent(new Event("change"));
  }

  async extend(h) {
    const before = this.holds.get(h.hold_id)?.expires_at ?? h.expires_at;
    const r = await this.conn.request({ type: "extend_hold", showtime: h.showtime, hold_id: h.hold_id }).catch((e) => ({ type: "error", code: e.message }));
    if (r.type === "extended") {
      this.warned.delete(h.hold_id);
      this.put(r.hold);
      const added = left(Math.max(0, r.hold.expires_at - before));
      const now = left(Math.max(0, r.hold.expires_at - Date.now()));
      this.say(h.hold_id, t("extended_by", { am: added.m, as: added.s, m: now.m, s: now.s }));
      this.root.querySelector(`[data-hold="${h.hold_id}"] [data-action="extend"]`)?.focus();
    } else if (r.code === "extend_limit") this.say(h.hold_id, t("extend_limit"));
    else this.fail(h, r);
  }

  async confirm(h) {
    const r = await this.conn.request({ type: "confirm", showtime: h.showtime, hold_id: h.hold_id }).catch((e) => ({ type: "error", code: e.message }));
    if (r.type === "confirmed") {
      this.dispatchEvent(new CustomEvent("confirmed", { detail: r.booking }));
      this.drop(h.hold_id);
    } else this.fail(h, r);
  }

  async release(h) {
    const r = await this.conn.request({ type: "release", showtime: h.showtime, hold_id: h.hold_id }).catch((e) => ({ type: "error", code: e.message }));
    if (r.type === "released" || r.code === "hold_not_found" || r.code === "hold_expired") {
      this.drop(h.hold_id);
      this.dispatchEvent(new CustomEvent("released", { detail: h }));
    } else this.fail(h, r);
  }

  fail(h, r) {
    if (r.code === "hold_not_found" || r.code === "hold_expired") {
      this.drop(h.hold_id);
      this.note(t("hold_expired"));
      return;
    }
    this.say(h.hold_id, t("error_generic", { code: r.code }));
  }

  note(text) {
    if (this.noteEl) this.noteEl.textContent = text;
  }

  say(holdId, text) {
    const el = this.root.querySelector(`[data-hold="${holdId}"] .hold-msg`);
    if (el) el.textContent = text;
  }

  tick() {
    const now = Date.now();
    for (const h of [...this.holds.values()]) {
      const ms = h.expires_at - now;
      if (ms <= 0) {
        this.drop(h.hold_id);
        this.note(t("hold_expired"));
        continue;
      }
      const warn = ms <= WARN_BEFORE_MS;
      for (const el of document.querySelectorAll(`[data-countdown="${h.hold_id}"]`)) {
        el.textContent = t("hold_left", left(ms));
        el.classList.toggle("warning", warn);
      }
      const card = this.root.querySelector(`[data-hold="${h.hold_id}"]`);
      if (!card) continue;
      card.classList.toggle("warning", warn);
      const w = card.querySelector(".hold-warning");
      w.hidden = !warn;
      w.textContent = warn ? t("hold_warning") : "";
      if (warn && !this.warned.has(h.hold_id)) {
        this.warned.add(h.hold_id);
        this.dispatchEvent(new CustomEvent("warning", { detail: h }));
      }
    }
  }

  /** A countdown element for hold h (kept current by tick). */
  countdown(h, tag = "p") {
    const el = document.createElement(tag);
    el.className = "hold-left";
    el.setAttribute("role", "timer");
    el.dataset.countdown = h.hold_id;
    el.textContent = t("hold_left", left(Math.max(0, h.expires_at - Date.now())));
    return el;
  }

  render() {
    this.root.replaceChildren();
    for (const h of this.holds.values()) {
      const st = this.info.showtime(h.showtime);
      const card = document.createElement("li");
      card.className = "hold-card";
      card.dataset.hold = h.hold_id;
      card.dataset.showtime = h.showtime;
      const facts = document.createElement("dl");
      facts.className = "facts";
      const fact = (k, v) => {
        const dt = document.createElement("dt");
        dt.textContent = t(k);
        const dd = document.createElement("dd");
        if (typeof v === "string") dd.textContent = v;
        else dd.append(v);
        facts.append(dt, dd);
        return dd;
      };
      fact("fact_movie", st ? titleOf(st) : h.showtime);
      if (st) {
        fact("fact_time", showTime(st.starts_at));
        fact("fact_theater", t("theater_screen", { theater: theaterOf(st), screen: st.screen }));
      }
      const list = document.createElement("ul");
      list.className = "hold-seats";
      // The store's lines (seat, class, ticket, unit price) when the hold has them;
      // else (a hold known from a snapshot only) the seat classes' adult prices.
      const lines = h.lines?.length
        ? sortLines(h.lines)
        : sortSeats(h.seats).map((s) => ({ seat: s, class: this.info.classOf(h.showtime, s), price: this.info.priceOf(h.showtime, s) }));
      let sum = 0;
      for (const l of lines) {
        sum += l.price;
        const li = document.createElement("li");
        const cls = t(`class_${l.class}`);
        li.textContent = l.ticket
          ? t("seat_line_ticket", { seat: l.seat, cls, type: t(`ticket_${l.ticket}`), price: money(l.price) })
          : t("seat_line", { seat: l.seat, cls, price: money(l.price) });
        list.append(li);
      }
      fact("fact_seats", list);
      if (h.lines?.length) {
        const kinds = document.createElement("ul");
        kinds.className = "hold-tickets";
        for (const g of byType(h.lines)) {
          const li = document.createElement("li");
          li.dataset.ticket = g.ticket;
          li.textContent = t("ticket_line", { type: t(`ticket_${g.ticket}`), n: g.n, price: money(g.price) });
          kinds.append(li);
        }
        fact("fact_tickets", kinds);
      }
      const amount = h.amount || sum;
      const total = fact("fact_total", t("amount", { amount: money(amount) }));
      total.className = "total";
      total.dataset.amount = String(amount);
      const warning = document.createElement("p");
      warning.className = "hold-warning";
      warning.setAttribute("role", "alert");
      warning.hidden = true;
      const buttons = document.createElement("div");
      buttons.className = "row";
      for (const [key, fn, cls] of [
        ["confirm", () => this.confirm(h), "primary"],
        ["extend", () => this.extend(h), "secondary"],
        ["release", () => this.release(h), "quiet"],
      ]) {
        const b = document.createElement("button");
        b.type = "button";
        b.className = cls;
        b.dataset.action = key;
        b.textContent = t(key);
        b.addEventListener("click", fn);
        buttons.append(b);
      }
      const msg = document.createElement("p");
      msg.className = "hold-msg";
      msg.setAttribute("aria-live", "polite");
      // The countdown and "confirm" stay in view (sticky); the other two follow the card.
      const bar = document.createElement("div");
      bar.className = "hold-bar row";
      bar.append(this.countdown(h), buttons.firstChild);
      card.append(facts, warning, bar, buttons, msg);
      this.root.append(card);
    }
    this.tick();
  }
}
