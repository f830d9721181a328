// seatmap: the showtime list and the live seat map of one showtime. Subscribes
// to showtime:<id> first, then asks for the snapshot, applies deltas in version
// order and refetches the snapshot on a version gap or a reset. Seats are
// buttons in a roving-tabindex grid (Tab enters, arrows move, Space/Enter picks).

import { t, showTime, language, dayName } from "./i18n.js";

function key() {
  return `k-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

export class SeatMap extends EventTarget {
  /** conn: Connection; holds: Holds; els: {list, date, map, selection, holdButton, clearButton, message, title}. */
  constructor(conn, holds, els) {
    super();
    this.conn = conn;
    this.holds = holds;
    this.els = els;
    this.showtimes = [];
    this.current = null; // showtime id
    this.seats = new Map(); // seat -> {seat, class, state, mine}
    this.version = -1;
    this.loading = false;
    this.buffer = [];
    this.selected = new Set();
    this.focusSeat = null;
    this.snapshots = 0;
    this.pendingKey = null; // idempotency key of an unanswered hold, reused on retry
    els.holdButton.addEventListener("click", () => this.hold());
    els.clearButton.addEventListener("click", () => {
      this.selected.clear();
      this.render();
    });
    els.date.addEventListener("change", () => this.renderList());
    els.map.addEventListener("keydown", (e) => this.onKey(e));
    holds.addEventListener("change", () => this.render());
  }

  /** Loads the showtime list (every day of the schedule). */
  async loadShowtimes() {
    const r = await this.conn.request({ type: "showtimes" });
    if (r.type !== "showtimes") return;
    this.showtimes = r.showtimes;
    const dates = [...new Set(r.showtimes.map((s) => s.starts_at.slice(0, 10)))];
    const keep = this.els.date.value;
    this.els.date.replaceChildren(
      ...dates.map((d) => {
        const o = document.createElement("option");
        o.value = d;
        o.textContent = dayName(d);
        return o;
      }),
    );
    if (dates.includes(keep)) this.els.date.value = keep;
    this.renderList();
    this.dispatchEvent(new Event("showtimes"));
  }

  /** The showtime entry for an id, if listed. */
  showtime(id) {
    return this.showtimes.find((s) => s.id === id);
  }

  /** Price of a seat of a showtime, from the seat's class when the map is loaded. */
  priceOf(showtime, seat) {
    const st = this.showtime(showtime);
    const cls = showtime === this.current ? this.seats.get(seat)?.class ?? "standard" : "standard";
    return st?.prices?.[cls] ?? 0;
  }

  label(st) {
    const title = language() === "ko" ? st.title_ko || st.title : st.title;
    const named = t(`theater_${st.theater}`);
    const theater = named.startsWith("theater_") ? st.theater : named;
    return t("showtime_pick", { time: showTime(st.starts_at), title, theater, screen: st.screen });
  }

  renderList() {
    for (const o of this.els.date.options) o.textContent = dayName(o.value);
    const day = this.els.date.value;
    const items = this.showtimes.filter((s) => s.starts_at.slice(0, 10) === day);
    this.els.list.replaceChildren(
      ...items.map((st) => {
        const li = document.createElement("li");
        const b = document.createElement("button");
        b.type = "button";
        b.className = "showtime";
        b.dataset.showtime = st.id;
        b.textContent = this.label(st);
        b.setAttribute("aria-pressed", String(st.id === this.current));
        b.addEventListener("click", () => this.open(st.id));
        li.append(b);
        return li;
      }),
    );
  }

  /** Shows the live map of a showtime (subscribe first, then the snapshot). */
  open(id) {
    if (this.current === id) return;
    if (this.current) this.conn.unsubscribe(`showtime:${this.current}`);
    this.current = id;
    this.seats.clear();
    this.selected.clear();
    this.version = -1;
    this.focusSeat = null;
    const st = this.showtime(id);
    if (st) {
      this.els.date.value = st.starts_at.slice(0, 10);
      this.renderList();
    }
    this.els.title.textContent = st ? this.label(st) : id;
    this.els.map.dataset.showtime = id;
    this.render();
    this.conn.subscribe(`showtime:${id}`, {
      onPub: (data) => this.onDelta(id, data),
      onRefetch: () => this.fetchSnapshot(id),
    });
  }

  async fetchSnapshot(id) {
    if (this.loading) return;
    this.loading = true;
    this.buffer = [];
    try {
      const r = await this.conn.request({ type: "seat_map", showtime: id });
      if (r.type !== "seat_map" || this.current !== id) return;
      this.snapshots += 1;
      this.version = r.map.version;
      this.seats = new Map(r.map.seats.map((s) => [s.seat, s]));
      // The viewer's own holds come with the snapshot (also those the bot made).
      const byHold = new Map();
      for (const s of r.map.seats) {
        if (s.state === "held" && s.mine && s.hold_id) {
          const h = byHold.get(s.hold_id) ?? { hold_id: s.hold_id, showtime: id, seats: [], expires_at: s.until };
          h.seats.push(s.seat);
          byHold.set(s.hold_id, h);
        }
      }
      for (const h of byHold.values()) this.holds.put(h);
    } catch {
      // Disconnected: the resubscribe after reconnect asks again if needed.
    } finally {
      this.loading = false;
    }
    const buffered = this.buffer;
    this.buffer = [];
    for (const d of buffered) this.onDelta(id, d);
    this.render();
  }

  onDelta(id, d) {
    if (d?.type !== "seats" || id !== this.current) return;
    if (this.loading || this.version < 0) {
      this.buffer.push(d);
      return;
    }
    if (d.version <= this.version) return;
    if (d.version !== this.version + 1) {
      this.fetchSnapshot(id); // a gap: deltas were missed
      return;
    }
    this.version = d.version;
    const mine = this.holds.seatsOn(id);
    for (const c of d.changes) {
      const s = this.seats.get(c.seat);
      if (!s) continue;
      s.state = c.state;
      if (c.state === "free") delete s.mine;
      else if (c.state === "held") s.mine = mine.has(c.seat) || undefined;
      if (c.state !== "free") this.selected.delete(c.seat);
    }
    this.render();
  }

  /** Marks seats sold to this user (after a confirm) so they read as "mine". */
  markSold(showtime, seats) {
    if (showtime !== this.current) return;
    for (const id of seats) {
      const s = this.seats.get(id);
      if (s) {
        s.state = "sold";
        s.mine = true;
      }
    }
    this.render();
  }

  async hold() {
    if (!this.current || this.selected.size === 0) return;
    const seats = [...this.selected];
    this.pendingKey ??= key();
    const ttl = Number(new URLSearchParams(location.search).get("hold_ttl")) || undefined;
    this.message("");
    let r;
    try {
      r = await this.conn.request({ type: "hold", showtime: this.current, seats, ttl_secs: ttl, idempotency_key: this.pendingKey });
    } catch {
      this.message(t("send_failed")); // keep the key: a retry learns the first result
      return;
    }
    this.pendingKey = null;
    if (r.type === "held") {
      this.selected.clear();
      this.holds.put(r.hold);
      for (const id of r.hold.seats) {
        const s = this.seats.get(id);
        if (s && s.state !== "sold") {
          s.state = "held";
          s.mine = true;
        }
      }
      this.render();
      this.dispatchEvent(new CustomEvent("held", { detail: r.hold }));
    } else if (r.code === "seats_unavailable") {
      for (const id of r.seats ?? []) this.selected.delete(id);
      this.message(t("hold_failed", { seats: (r.seats ?? []).join(", ") }));
      this.render();
    } else this.message(t("error_generic", { code: r.code }));
  }

  message(text) {
    this.els.message.textContent = text;
  }

  seatState(s) {
    if (this.selected.has(s.seat)) return "selected";
    if (s.state === "free") return "free";
    // A hold's delta and its result (own answer, or the bot's action on
    // user:<id>) arrive on different topics, in either order.
    if (s.mine || (s.state === "held" && this.holds.seatsOn(this.current).has(s.seat))) return "mine";
    return s.state;
  }

  seatLabel(s) {
    const st = this.seatState(s);
    const stateWord = st === "selected" ? t("seat_selected") : t(`seat_${st}`);
    return t("seat_label", { seat: s.seat, cls: t(`class_${s.class}`), state: stateWord });
  }

  toggle(id) {
    const s = this.seats.get(id);
    if (!s || s.state !== "free") return;
    if (this.selected.has(id)) this.selected.delete(id);
    else if (this.selected.size < 10) this.selected.add(id);
    this.focusSeat = id;
    this.render();
    this.els.map.querySelector(`[data-seat="${id}"]`)?.focus();
  }

  onKey(e) {
    const b = e.target.closest("[data-seat]");
    if (!b) return;
    const order = [...this.seats.keys()];
    const row = (id) => id.replace(/\d+$/, "");
    const i = order.indexOf(b.dataset.seat);
    let next = null;
    if (e.key === "ArrowRight") next = order[i + 1];
    else if (e.key === "ArrowLeft") next = order[i - 1];
    else if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      const rows = [...new Set(order.map(row))];
      const r = rows.indexOf(row(order[i])) + (e.key === "ArrowDown" ? 1 : -1);
      if (r >= 0 && r < rows.length) {
        const inRow = order.filter((id) => row(id) === rows[r]);
        const pos = order.filter((id) => row(id) === row(order[i])).indexOf(order[i]);
        next = inRow[Math.min(pos, inRow.length - 1)];
      }
    } else if (e.key === "Home") next = order.find((id) => row(id) === row(order[i]));
    else if (e.key === "End") next = order.filter((id) => row(id) === row(order[i])).pop();
    else return;
    e.preventDefault();
    if (!next) return;
    this.focusSeat = next;
    this.render();
    this.els.map.querySelector(`[data-seat="${next}"]`)?.focus();
  }

  render() {
    const map = this.els.map;
    map.dataset.version = String(this.version);
    map.dataset.snapshots = String(this.snapshots);
    if (!this.current || this.seats.size === 0) {
      map.replaceChildren();
      const p = document.createElement("p");
      p.textContent = this.current ? t("loading") : t("seats_none");
      map.append(p);
      this.renderSelection();
      return;
    }
    if (!this.focusSeat || !this.seats.has(this.focusSeat)) {
      this.focusSeat = [...this.seats.values()].find((s) => s.state === "free")?.seat ?? this.seats.keys().next().value;
    }
    const hadFocus = map.contains(document.activeElement);
    const screen = document.createElement("p");
    screen.className = "screen";
    screen.textContent = t("screen");
    const rows = new Map();
    for (const s of this.seats.values()) {
      const r = s.seat.replace(/\d+$/, "");
      if (!rows.has(r)) rows.set(r, []);
      rows.get(r).push(s);
    }
    const grid = [];
    for (const [r, seats] of rows) {
      const line = document.createElement("div");
      line.className = "seat-row";
      line.setAttribute("role", "group");
      line.setAttribute("aria-label", r);
      const head = document.createElement("span");
      head.className = "row-name";
      head.setAttribute("aria-hidden", "true");
      head.textContent = r;
      line.append(head);
      for (const s of seats) {
        const b = document.createElement("button");
        b.type = "button";
        const st = this.seatState(s);
        b.className = `seat ${s.class}`;
        b.dataset.seat = s.seat;
        b.dataset.state = st;
        b.textContent = s.seat.slice(r.length);
        b.setAttribute("aria-label", this.seatLabel(s));
        b.setAttribute("aria-pressed", String(st === "selected"));
        if (st !== "free" && st !== "selected") b.setAttribute("aria-disabled", "true");
        b.tabIndex = s.seat === this.focusSeat ? 0 : -1;
        b.addEventListener("click", () => this.toggle(s.seat));
        line.append(b);
      }
      grid.push(line);
    }
    map.replaceChildren(screen, ...grid);
    if (hadFocus) map.querySelector(`[data-seat="${this.focusSeat}"]`)?.focus();
    this.renderSelection();
  }

  renderSelection() {
    const seats = [...this.selected];
    this.els.selection.textContent = seats.length ? t("selected_count", { seats: seats.join(", ") }) : t("selected_none");
    this.els.holdButton.disabled = seats.length === 0;
    this.els.clearButton.disabled = seats.length === 0;
  }
}
