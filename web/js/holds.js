// holds: the user's live holds (made on the seat map or by the chat bot), shown
// in one panel with a countdown, a warning well before expiry and one-tap
// extend, confirm and release. It asks the gateway; it does not draw seats.

import { t, money } from "./i18n.js";

/** Warn this long before a hold expires (the issue asks for at least a minute). */
export const WARN_BEFORE_MS = 2 * 60 * 1000;

export class Holds extends EventTarget {
  /** conn: Connection; root: the panel element; priceOf(showtime, seat) → won. */
  constructor(conn, root, priceOf) {
    super();
    this.conn = conn;
    this.root = root;
    this.priceOf = priceOf;
    this.holds = new Map(); // hold_id -> hold
    this.warned = new Set();
    setInterval(() => this.tick(), 1000);
  }

  /** Adds or updates a hold (from `held`, `extended`, a snapshot or a bot action). */
  put(hold) {
    if (!hold?.hold_id) return;
    this.holds.set(hold.hold_id, { ...this.holds.get(hold.hold_id), ...hold });
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
    const r = await this.conn.request({ type: "extend_hold", showtime: h.showtime, hold_id: h.hold_id }).catch((e) => ({ type: "error", code: e.message }));
    if (r.type === "extended") {
      this.warned.delete(h.hold_id);
      this.put(r.hold);
      this.say(h.hold_id, "");
    } else this.fail(h, r);
  }

  async confirm(h) {
    const r = await this.conn.request({ type: "confirm", showtime: h.showtime, hold_id: h.hold_id }).catch((e) => ({ type: "error", code: e.message }));
    if (r.type === "confirmed") {
      this.drop(h.hold_id);
      this.dispatchEvent(new CustomEvent("confirmed", { detail: r.booking }));
    } else this.fail(h, r);
  }

  async release(h) {
    const r = await this.conn.request({ type: "release", showtime: h.showtime, hold_id: h.hold_id }).catch((e) => ({ type: "error", code: e.message }));
    if (r.type === "released" || r.code === "hold_not_found" || r.code === "hold_expired") this.drop(h.hold_id);
    else this.fail(h, r);
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
    const p = this.root.querySelector(".holds-note");
    if (p) p.textContent = text;
  }

  say(holdId, text) {
    const el = this.root.querySelector(`[data-hold="${holdId}"] .hold-msg`);
    if (el) el.textContent = text;
  }

  tick() {
    const now = Date.now();
    for (const h of [...this.holds.values()]) {
      const left = h.expires_at - now;
      if (left <= 0) {
        this.drop(h.hold_id);
        this.note(t("hold_expired"));
        continue;
      }
      const card = this.root.querySelector(`[data-hold="${h.hold_id}"]`);
      if (!card) continue;
      card.querySelector(".hold-left").textContent = t("hold_left", { m: Math.floor(left / 60000), s: Math.floor(left / 1000) % 60 });
      const warn = left <= WARN_BEFORE_MS;
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

  render() {
    const list = this.root.querySelector(".holds-list");
    this.root.hidden = this.holds.size === 0 && !this.root.querySelector(".holds-note")?.textContent;
    list.replaceChildren();
    for (const h of this.holds.values()) {
      const card = document.createElement("li");
      card.className = "hold-card";
      card.dataset.hold = h.hold_id;
      const amount = h.amount ?? h.seats.reduce((sum, s) => sum + (this.priceOf(h.showtime, s) || 0), 0);
      const title = document.createElement("p");
      title.className = "hold-seats";
      title.textContent = t("hold_seats", { seats: h.seats.join(", "), amount: money(amount) });
      const left = document.createElement("p");
      left.className = "hold-left";
      left.setAttribute("role", "timer");
      const warning = document.createElement("p");
      warning.className = "hold-warning";
      warning.setAttribute("role", "alert");
      warning.hidden = true;
      const buttons = document.createElement("div");
      buttons.className = "row";
      for (const [key, fn, cls] of [
        ["extend", () => this.extend(h), "secondary"],
        ["confirm", () => this.confirm(h), "primary"],
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
      card.append(title, left, warning, buttons, msg);
      list.append(card);
    }
    this.tick();
  }
}
