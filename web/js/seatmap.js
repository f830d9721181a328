// seatmap: the live seat map of one showtime. Subscribes to showtime:<id>
// first, then asks for the snapshot, applies deltas in version order and
// refetches the snapshot on a version gap or a reset. Seats are buttons in a
// roving-tabindex grid (Tab enters, arrows move, Space/Enter picks); a small
// overview shows the whole hall when the map is wider than its box, and the
// zoom buttons change the seat size (44 px at the smallest).

import { t, money, showTime, titleOf, theaterOf } from "./i18n.js";
import { assign, nonZero, total as ticketTotal } from "./tickets.js";

function key() {
  return `k-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

/**
 * Zoom steps: factors of the base seat size, max(44 px, 2.2 rem) (44 px is the
 * smallest touch target; larger text makes seats and their numbers larger).
 */
export const ZOOM = [1, 1.3, 1.6];
/** Seat states as drawn (not only the server's: chosen, own hold, own booking). */
export const STATES = ["free", "selected", "mine", "booked", "held", "sold"];
const CLASSES = ["standard", "premium", "wheelchair"];

const rowOf = (id) => id.replace(/\d+$/, "");
const numOf = (id) => Number(id.slice(rowOf(id).length)) || 0;
/** Seat ids in hall order: row letter, then number (A2 before A10). */
export function sortSeats(seats) {
  return [...seats].sort((a, b) => rowOf(a).localeCompare(rowOf(b)) || numOf(a) - numOf(b));
}

export class SeatMap extends EventTarget {
  /** conn: Connection; holds: Holds; els: {map, overview, legend, selection, holdButton, clearButton, message, title, zoomIn, zoomOut}. */
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
    this.centred = false;
    this.pendingKey = null; // idempotency key of an unanswered hold, reused on retry
    this.tickets = null; // counts per ticket type from the tickets step; null: any number of seats, all adult
    this.columns = 0; // positions per row (seats and gaps), from the snapshot
    this.aisles = new Set(); // columns with no seat in any row
    this.zoom = Math.min(ZOOM.length - 1, Math.max(0, Number(localStorage.getItem("marquee.zoom")) || 0));
    els.holdButton.addEventListener("click", () => this.hold());
    els.clearButton.addEventListener("click", () => {
      this.selected.clear();
      this.render();
    });
    els.zoomIn.addEventListener("click", () => this.setZoom(this.zoom + 1));
    els.zoomOut.addEventListener("click", () => this.setZoom(this.zoom - 1));
    els.map.addEventListener("keydown", (e) => this.onKey(e));
    els.overview.addEventListener("click", (e) => {
      // A tap on the overview scrolls the map to that part of the hall.
      const r = els.overview.getBoundingClientRect();
      const m = els.map;
      m.scrollLeft = ((e.clientX - r.left) / r.width) * m.scrollWidth - m.clientWidth / 2;
    });
    els.map.addEventListener("scroll", () => this.drawWindow());
    window.addEventListener("resize", () => this.fit());
    holds.addEventListener("change", () => this.render());
    this.setZoom(this.zoom);
  }

  setZoom(z) {
    this.zoom = Math.min(ZOOM.length - 1, Math.max(0, z));
    localStorage.setItem("marquee.zoom", String(this.zoom));
    this.els.map.style.setProperty("--zoom", String(ZOOM[this.zoom]));
    this.els.map.dataset.zoom = String(this.zoom);
    this.els.zoomOut.disabled = this.zoom === 0;
    this.els.zoomIn.disabled = this.zoom === ZOOM.length - 1;
    this.centred = false;
    this.fit();
  }

  /** Loads the showtime list (every day of the schedule); with `near` (`lat,lon`) nearest theaters first. */
  async loadShowtimes(near) {
    const r = await this.conn.request(near ? { type: "showtimes", near } : { type: "showtimes" });
    if (r.type !== "showtimes") return;
    this.showtimes = r.showtimes;
    this.dispatchEvent(new Event("showtimes"));
  }

  /** The showtime entry for an id, if listed. */
  showtime(id) {
    return this.showtimes.find((s) => s.id === id);
  }

  /** Seat class of a seat of a showtime (known when its map is loaded). */
  classOf(showtime, seat) {
    return (showtime === this.current && this.seats.get(seat)?.class) || "standard";
  }

  /** Price of a seat of a showtime, from the seat's class. */
  priceOf(showtime, seat) {
    return this.showtime(showtime)?.prices?.[this.classOf(showtime, seat)] ?? 0;
  }

  /** Sets the tickets of the tickets step: the seat step then asks for exactly that many seats. */
  setTickets(counts) {
    this.tickets = counts && ticketTotal(counts) > 0 ? { ...counts } : null;
    const want = this.want();
    // Fewer tickets than chosen seats: keep the first ones in hall order.
    if (want) for (const s of sortSeats(this.selected).slice(want)) this.selected.delete(s);
    this.message("");
    this.render();
  }

  /** How many seats the tickets ask for (0: no tickets chosen, any number up to 10). */
  want() {
    return this.tickets ? ticketTotal(this.tickets) : 0;
  }

  /** The chosen seats priced as the store will price them with the chosen tickets (an estimate). */
  lines(seats) {
    return assign(this.showtime(this.current), seats, this.tickets ?? {}, (s) => this.classOf(this.current, s));
  }

  label(st) {
    return t("showtime_pick", { time: showTime(st.starts_at), title: titleOf(st), theater: theaterOf(st), screen: st.screen });
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
    this.centred = false;
    this.tickets = null;
    this.columns = 0;
    this.aisles = new Set();
    const st = this.showtime(id);
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
      this.columns = Number(r.map.columns) || 0;
      this.aisles = new Set(r.map.aisles ?? []);
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
    this.dispatchEvent(new Event("loaded"));
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
      const wasMine = s.mine;
      s.state = c.state;
      if (c.state === "free") delete s.mine;
      else if (c.state === "held") s.mine = mine.has(c.seat) || undefined;
      // held → sold keeps `mine` (our own confirm); someone else's sale is not ours.
      else if (c.state === "sold") s.mine = wasMine || mine.has(c.seat) || undefined;
      if (c.state !== "free") this.selected.delete(c.seat);
    }
    this.render();
  }

  /** Marks seats sold to this user (after a confirm) so they read as "booked by you". */
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
    const seats = sortSeats(this.selected);
    this.pendingKey ??= key();
    const ttl = Number(new URLSearchParams(location.search).get("hold_ttl")) || undefined;
    this.message("");
    let r;
    try {
      // The tickets go with the hold; the store prices every seat from them.
      const tickets = this.tickets ? nonZero(this.tickets) : undefined;
      r = await this.conn.request({ type: "hold", showtime: this.current, seats, ttl_secs: ttl, idempotency_key: this.pendingKey, tickets });
    } catch {
      this.message(t("send_failed")); // keep the key: a retry learns the first result
      return;
    }
    this.pendingKey = null;
    if (r.type === "held") {
      this.selected.clear();
      for (const id of r.hold.seats) {
        const s = this.seats.get(id);
        if (s && s.state !== "sold") {
          s.state = "held";
          s.mine = true;
        }
      }
      this.holds.put(r.hold);
      this.render();
      this.dispatchEvent(new CustomEvent("held", { detail: r.hold }));
    } else if (r.code === "seats_unavailable") {
      for (const id of r.seats ?? []) this.selected.delete(id);
      this.message(t("hold_failed", { seats: (r.seats ?? []).join(", ") }));
      this.render();
    } else if (["ticket_count_mismatch", "ticket_not_offered", "age_restricted"].includes(r.code)) this.message(t(`err_${r.code}`));
    else this.message(t("error_generic", { code: r.code }));
  }

  message(text) {
    this.els.message.textContent = text;
  }

  seatState(s) {
    if (this.selected.has(s.seat)) return "selected";
    if (s.state === "free") return "free";
    if (s.state === "sold") return s.mine ? "booked" : "sold";
    // A hold's delta and its result (own answer, or the bot's action on
    // user:<id>) arrive on different topics, in either order.
    if (s.mine || this.holds.seatsOn(this.current).has(s.seat)) return "mine";
    return "held";
  }

  seatLabel(s) {
    const price = this.showtime(this.current)?.prices?.[s.class];
    return t("seat_label", { seat: s.seat, cls: t(`class_${s.class}`), price: price ? money(price) : "", state: t(`seat_${this.seatState(s)}`) });
  }

  toggle(id) {
    const s = this.seats.get(id);
    if (!s || s.state !== "free") return;
    const want = this.want();
    if (this.selected.has(id)) this.selected.delete(id);
    else if (want && this.selected.size >= want) this.message(t("seats_full", { n: want }));
    else if (this.selected.size < 10) this.selected.add(id);
    if (!want || this.selected.size < want) this.message("");
    this.focusSeat = id;
    this.render();
    this.els.map.querySelector(`[data-seat="${id}"]`)?.focus();
  }

  onKey(e) {
    const b = e.target.closest("[data-seat]");
    if (!b) return;
    const order = [...this.seats.keys()];
    const i = order.indexOf(b.dataset.seat);
    let next = null;
    if (e.key === "ArrowRight") next = order[i + 1];
    else if (e.key === "ArrowLeft") next = order[i - 1];
    else if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      const rows = [...new Set(order.map(rowOf))];
      const r = rows.indexOf(rowOf(order[i])) + (e.key === "ArrowDown" ? 1 : -1);
      if (r >= 0 && r < rows.length) {
        const inRow = order.filter((id) => rowOf(id) === rows[r]);
        const pos = order.filter((id) => rowOf(id) === rowOf(order[i])).indexOf(order[i]);
        next = inRow[Math.min(pos, inRow.length - 1)];
      }
    } else if (e.key === "Home") next = order.find((id) => rowOf(id) === rowOf(order[i]));
    else if (e.key === "End") next = order.filter((id) => rowOf(id) === rowOf(order[i])).pop();
    else return;
    e.preventDefault();
    if (!next) return;
    this.focusSeat = next;
    this.render();
    this.els.map.querySelector(`[data-seat="${next}"]`)?.focus();
  }

  rows() {
    const rows = new Map();
    for (const s of this.seats.values()) {
      const r = rowOf(s.seat);
      if (!rows.has(r)) rows.set(r, []);
      rows.get(r).push(s);
    }
    return rows;
  }

  render() {
    const map = this.els.map;
    map.dataset.version = String(this.version);
    map.dataset.snapshots = String(this.snapshots);
    this.renderLegend();
    if (!this.current || this.seats.size === 0) {
      map.replaceChildren();
      this.els.overview.replaceChildren();
      this.els.overview.hidden = true;
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
    const hall = document.createElement("div");
    hall.className = "hall";
    const screen = document.createElement("p");
    screen.className = "screen";
    screen.textContent = t("screen");
    hall.append(screen);
    const rowName = (r, side) => {
      const head = document.createElement("span");
      head.className = `row-name ${side}`;
      head.setAttribute("aria-hidden", "true");
      head.textContent = r;
      return head;
    };
    const over = [];
    for (const [r, seats] of this.rows()) {
      const line = document.createElement("div");
      line.className = "seat-row";
      line.setAttribute("role", "group");
      line.setAttribute("aria-label", t("row_label", { row: r }));
      line.append(rowName(r, "left"));
      const mini = document.createElement("div");
      mini.className = "mini-row";
      // Positions left to right: seats, and gaps where the row has none
      // (an aisle of the hall is narrower than a seat; another gap keeps
      // the seats behind each other in line).
      const at = new Map(seats.map((s) => [Number(s.column), s]));
      const positions = this.columns > 0 ? Array.from({ length: this.columns }, (_, c) => at.get(c) ?? c) : seats;
      for (const s of positions) {
        if (typeof s === "number") {
          const aisle = this.aisles.has(s);
          const gap = document.createElement("span");
          gap.className = aisle ? "gap aisle" : "gap";
          gap.setAttribute("aria-hidden", "true");
          line.append(gap);
          const mg = document.createElement("span");
          mg.className = aisle ? "mini-gap aisle" : "mini-gap";
          mini.append(mg);
          continue;
        }
        const b = document.createElement("button");
        b.type = "button";
        const st = this.seatState(s);
        b.className = `seat ${s.class}`;
        b.dataset.seat = s.seat;
        b.dataset.state = st;
        // Held and sold seats show a mark instead of their number (the name says which seat).
        b.textContent = st === "held" ? "" : st === "sold" ? "×" : s.seat.slice(r.length);
        b.setAttribute("aria-label", this.seatLabel(s));
        b.setAttribute("aria-pressed", String(st === "selected"));
        if (st !== "free" && st !== "selected") b.setAttribute("aria-disabled", "true");
        b.tabIndex = s.seat === this.focusSeat ? 0 : -1;
        b.addEventListener("click", () => this.toggle(s.seat));
        line.append(b);
        const m = document.createElement("span");
        m.className = `mini ${s.class}`;
        m.dataset.state = st;
        mini.append(m);
      }
      line.append(rowName(r, "right"));
      hall.append(line);
      over.push(mini);
    }
    map.replaceChildren(hall);
    const oscreen = document.createElement("span");
    oscreen.className = "mini-screen";
    const win = document.createElement("span");
    win.className = "mini-window";
    this.els.overview.replaceChildren(oscreen, ...over, win);
    const free = [...this.seats.values()].filter((s) => s.state === "free").length;
    this.els.overview.setAttribute("aria-label", t("overview_label", { free, total: this.seats.size }));
    if (hadFocus) map.querySelector(`[data-seat="${this.focusSeat}"]`)?.focus();
    this.renderSelection();
    this.fit();
  }

  /** Shows the overview only when the hall is wider than its box; centres the map once. */
  fit() {
    const map = this.els.map;
    if (!map.querySelector(".hall")) return;
    const wide = map.scrollWidth > map.clientWidth + 1;
    this.els.overview.hidden = !wide;
    if (wide && !this.centred && map.clientWidth > 0) {
      map.scrollLeft = (map.scrollWidth - map.clientWidth) / 2;
      this.centred = true;
    }
    this.drawWindow();
  }

  /** The overview's frame around the part of the hall the map shows. */
  drawWindow() {
    const win = this.els.overview.querySelector(".mini-window");
    const map = this.els.map;
    if (!win || map.scrollWidth === 0) return;
    win.style.left = `${(map.scrollLeft / map.scrollWidth) * 100}%`;
    win.style.width = `${Math.min(1, map.clientWidth / map.scrollWidth) * 100}%`;
  }

  renderLegend() {
    const st = this.showtime(this.current);
    const present = new Set([...this.seats.values()].map((s) => s.class));
    const items = [];
    for (const state of STATES) {
      if (state === "booked" && ![...this.seats.values()].some((s) => this.seatState(s) === "booked")) continue;
      items.push([`seat legend-seat`, state, t(`legend_${state}`), state === "sold" ? "×" : state === "held" ? "" : "1"]);
    }
    for (const cls of CLASSES) {
      if (!present.has(cls)) continue;
      const price = st?.prices?.[cls];
      items.push([`seat legend-seat ${cls}`, "free", price ? t("legend_class", { cls: t(`class_${cls}`), price: money(price) }) : t(`class_${cls}`), "1"]);
    }
    this.els.legend.replaceChildren(
      ...items.map(([cls, state, text, mark]) => {
        const li = document.createElement("li");
        const sw = document.createElement("span");
        sw.className = cls;
        sw.dataset.state = state;
        sw.setAttribute("aria-hidden", "true");
        sw.textContent = mark;
        const label = document.createElement("span");
        label.textContent = text;
        li.append(sw, label);
        return li;
      }),
    );
  }

  renderSelection() {
    const seats = sortSeats(this.selected);
    const lines = this.lines(seats);
    const total = lines.reduce((sum, l) => sum + l.price, 0);
    const want = this.want();
    const chosen = seats.length
      ? t("selected_count", {
          n: seats.length,
          seats: lines.map((l) => `${l.seat} ${t(`class_${l.class}`)}${this.tickets ? ` ${t(`ticket_${l.ticket}`)}` : ""} ${money(l.price)}${t("won")}`).join(", "),
          total: money(total),
        })
      : t("selected_none");
    this.els.selection.textContent = want ? `${t("seats_want", { n: want, k: seats.length })} ${seats.length ? chosen : ""}`.trim() : chosen;
    this.els.selection.dataset.total = String(total);
    if (this.els.total) this.els.total.textContent = seats.length ? t("bar_total", { n: seats.length, total: money(total) }) : want ? t("seats_want", { n: want, k: 0 }) : t("bar_none");
    this.els.holdButton.disabled = want ? seats.length !== want : seats.length === 0;
    this.els.clearButton.disabled = seats.length === 0;
  }
}
