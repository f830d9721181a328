// flow: the guided booking, one step per screen on a phone: movie → date and
// showtime (grouped by theater, nearest first when the browser shares its
// location, seats left) → tickets (a counter per ticket type the showtime
// offers, with prices and a live total; a film rated 19 sells no teen or
// child tickets) → seats (exactly as many as tickets) → review → done (code,
// QR e-ticket, add to calendar). After every step change the new step's
// heading is scrolled into view and focused, so the next thing to do is
// where the person is looking. The chat jumps into a step with go(); a hold
// the bot made shows in the review step.

import { t, money, showTime, dayName, titleOf, theaterOf, spacedCode, language } from "./i18n.js";
import { sortSeats } from "./seatmap.js";
import { offered, admits, fare, byType, total as ticketTotal, MAX_TICKETS } from "./tickets.js";

export const STEPS = ["movie", "time", "tickets", "seats", "review", "done"];

const ymd = (st) => String(st.starts_at).slice(0, 10);
const hhmm = (st) => String(st.starts_at).slice(11, 16);

export class Flow extends EventTarget {
  /** root: #view-seats; seatmap: SeatMap; holds: Holds. */
  constructor(root, seatmap, holds) {
    super();
    this.root = root;
    this.seatmap = seatmap;
    this.holds = holds;
    this.step = "movie";
    this.movie = null;
    this.day = null;
    this.booking = null;
    this.counts = {}; // ticket type -> count, for the open showtime
    this.countsFor = null; // the showtime the counts are for
    this.near = null; // "lat,lon" when the browser shared its location
    this.free = new Map(); // showtime id -> free seats, counted from a snapshot when the list has no `free`
    this.$ = (sel) => root.querySelector(sel);
    for (const b of root.querySelectorAll("[data-back]")) b.addEventListener("click", () => this.go(b.dataset.back));
    this.$("#date").addEventListener("change", (e) => {
      this.day = e.target.value;
      this.renderTimes();
    });
    seatmap.addEventListener("showtimes", () => this.renderChoices());
    seatmap.addEventListener("held", () => this.go("review"));
    holds.addEventListener("change", () => {
      this.renderCountdowns();
      if (this.step === "review" && holds.holds.size === 0 && !this.booking) this.go("seats");
    });
    holds.addEventListener("confirmed", (e) => {
      this.booking = e.detail;
      this.renderDone();
      this.go("done");
    });
    this.$("#tickets-next").addEventListener("click", () => {
      this.seatmap.setTickets(this.counts);
      this.go("seats");
    });
    this.$("#near").addEventListener("click", () => this.locate());
    // Already allowed (an earlier visit): nearest first without asking again.
    navigator.permissions
      ?.query({ name: "geolocation" })
      .then((p) => p.state === "granted" && this.locate())
      .catch(() => {});
    this.$("#done-again").addEventListener("click", () => {
      this.booking = null;
      this.countsFor = null;
      this.go("movie");
    });
  }

  /** Shows step `name`; focus moves to its heading unless `focus` is false. */
  go(name, { focus = true } = {}) {
    if (!STEPS.includes(name)) return;
    if (name === "review" && this.holds.holds.size === 0) name = "seats";
    if (name !== "review" && name !== "done") this.booking = null;
    this.step = name;
    this.root.dataset.step = name;
    for (const s of this.root.querySelectorAll(".step")) s.hidden = s.dataset.step !== name;
    for (const li of this.root.querySelectorAll(".progress li")) {
      if (li.dataset.for === name) li.setAttribute("aria-current", "step");
      else li.removeAttribute("aria-current");
      li.dataset.done = String(STEPS.indexOf(li.dataset.for) < STEPS.indexOf(name));
    }
    if (name === "time") this.renderTimes();
    if (name === "tickets") this.renderTickets();
    if (name === "seats") this.seatmap.fit();
    this.renderCountdowns();
    this.dispatchEvent(new CustomEvent("step", { detail: name }));
    if (focus && !this.root.hidden) this.focusStep();
  }

  focusStep() {
    const h = this.$(`#step-${this.step}-h`);
    if (!h) return;
    h.focus({ preventScroll: true });
    h.scrollIntoView({ block: "start" });
  }

  /** Opens a showtime: its tickets step (from the list), or `step` (the chat). */
  openShowtime(id, opts, step = "tickets") {
    const st = this.seatmap.showtime(id);
    if (st) {
      this.movie = st.movie;
      this.day = ymd(st);
    }
    if (this.countsFor !== id) {
      this.counts = {};
      this.countsFor = id;
    }
    this.seatmap.open(id);
    this.go(step, opts);
  }

  /** Asks the browser for its location and lists the nearest theaters first. */
  locate() {
    const note = this.$("#near-note");
    if (!navigator.geolocation) {
      note.textContent = t("near_failed");
      return;
    }
    navigator.geolocation.getCurrentPosition(
      async (pos) => {
        this.near = `${pos.coords.latitude.toFixed(4)},${pos.coords.longitude.toFixed(4)}`;
        await this.seatmap.loadShowtimes(this.near);
        note.textContent = t("near_on");
      },
      () => (note.textContent = t("near_failed")),
      { maximumAge: 600_000, timeout: 15_000 },
    );
  }

  /** The tickets step: a counter per offered type, prices, a live total. */
  renderTickets() {
    const st = this.seatmap.showtime(this.seatmap.current);
    const list = this.$("#tickets");
    if (!st) return list.replaceChildren();
    this.$("#tickets-showtime").textContent = `${titleOf(st)} · ${showTime(st.starts_at)} · ${t("theater_screen", { theater: theaterOf(st), screen: st.screen })}`;
    const adultsOnly = !admits(st.age_rating, "child");
    const age = this.$("#tickets-age");
    age.textContent = adultsOnly ? t("age_note_19") : "";
    age.hidden = !adultsOnly;
    const n = ticketTotal(this.counts);
    list.replaceChildren(
      ...offered(st).map((type) => {
        const ok = admits(st.age_rating, type);
        if (!ok) this.counts[type] = 0;
        const count = this.counts[type] ?? 0;
        const li = document.createElement("li");
        li.className = "ticket";
        li.dataset.ticket = type;
        li.dataset.blocked = String(!ok);
        const name = `${t(`ticket_${type}`)}`;
        const info = document.createElement("div");
        info.className = "ticket-info";
        const title = document.createElement("span");
        title.className = "ticket-name";
        title.id = `ticket-${type}-name`;
        title.textContent = name;
        const who = document.createElement("span");
        who.className = "ticket-who";
        who.textContent = t(`who_${type}`);
        const price = document.createElement("span");
        price.className = "ticket-price";
        const std = fare(st, type, "standard");
        const prem = fare(st, type, "premium");
        price.textContent = t("ticket_price", { price: money(std) });
        info.append(title, price, who);
        if (prem && prem !== std) {
          const more = document.createElement("span");
          more.className = "ticket-more";
          more.textContent = t("ticket_price_more", { cls: t("class_premium"), price: money(prem) });
          info.append(more);
        }
        const stepper = document.createElement("div");
        stepper.className = "stepper";
        stepper.setAttribute("role", "group");
        stepper.setAttribute("aria-labelledby", title.id);
        const button = (sign, key, disabled) => {
          const b = document.createElement("button");
          b.type = "button";
          b.className = "secondary";
          b.dataset.ticketStep = `${type}${sign}`;
          b.textContent = sign === "+" ? "+" : "−";
          b.setAttribute("aria-label", t(key, { type: name }));
          b.disabled = disabled;
          b.addEventListener("click", () => this.addTicket(type, sign === "+" ? 1 : -1));
          return b;
        };
        const out = document.createElement("output");
        out.className = "ticket-count";
        out.dataset.count = type;
        out.textContent = String(count);
        out.setAttribute("aria-label", t("ticket_count", { type: name, n: count }));
        stepper.append(button("-", "ticket_remove", !ok || count === 0), out, button("+", "ticket_add", !ok || n >= MAX_TICKETS));
        li.append(info, stepper);
        if (!ok) {
          const why = document.createElement("p");
          why.className = "ticket-blocked";
          why.id = `ticket-${type}-why`;
          why.textContent = t("age_blocked");
          li.append(why);
          for (const b of stepper.querySelectorAll("button")) b.setAttribute("aria-describedby", why.id);
        }
        return li;
      }),
    );
    this.renderTicketTotal();
  }

  /** The live total (for standard seats: the seat classes come later) and the next button. */
  renderTicketTotal() {
    const st = this.seatmap.showtime(this.seatmap.current);
    const n = ticketTotal(this.counts);
    const types = offered(st).filter((type) => this.counts[type] > 0);
    const sum = types.reduce((a, type) => a + this.counts[type] * (fare(st, type, "standard") ?? 0), 0);
    const box = this.$("#tickets-total");
    box.dataset.total = String(sum);
    // Empty (and not drawn) until the first ticket: the bar then holds only the next button.
    box.textContent = n ? t(n === 1 ? "tickets_total_one" : "tickets_total", { n, total: money(sum) }) : "";
    if (n >= MAX_TICKETS) box.textContent += ` ${t("tickets_max", { n: MAX_TICKETS })}`;
    const next = this.$("#tickets-next");
    next.disabled = n === 0;
    next.textContent = n ? t("tickets_next_n", { n }) : t("tickets_next");
  }

  addTicket(type, d) {
    const n = ticketTotal(this.counts);
    const now = this.counts[type] ?? 0;
    if (d > 0 && n >= MAX_TICKETS) return;
    this.counts[type] = Math.max(0, now + d);
    this.renderTickets();
    // Keep focus on the pressed button (it was redrawn); if it is now disabled, on its pair.
    const sign = d > 0 ? "+" : "-";
    const other = d > 0 ? "-" : "+";
    const b = this.$(`[data-ticket-step="${type}${sign}"]`);
    const el = b && !b.disabled ? b : this.$(`[data-ticket-step="${type}${other}"]`);
    if (!el) return;
    el.focus();
    // The sticky bar (total and next) may have grown over the counter: keep the counter above it.
    const top = this.$("#step-tickets .actionbar").getBoundingClientRect().top;
    const bottom = el.getBoundingClientRect().bottom;
    if (bottom > top - 8) window.scrollBy(0, bottom - top + 8);
  }

  movies() {
    const byId = new Map();
    for (const st of this.seatmap.showtimes) {
      const m = byId.get(st.movie) ?? { id: st.movie, st, count: 0, days: new Set() };
      m.count += 1;
      m.days.add(ymd(st));
      byId.set(st.movie, m);
    }
    return [...byId.values()];
  }

  renderChoices() {
    const list = this.$("#movies");
    list.replaceChildren(
      ...this.movies().map((m) => {
        const li = document.createElement("li");
        const b = document.createElement("button");
        b.type = "button";
        b.className = "choice";
        b.dataset.movie = m.id;
        const title = document.createElement("span");
        title.className = "choice-title";
        title.textContent = titleOf(m.st);
        const sub = document.createElement("span");
        sub.className = "choice-sub";
        sub.textContent = t("movie_sub", { n: m.count, days: m.days.size });
        const facts = document.createElement("span");
        facts.className = "choice-sub";
        const badge = document.createElement("span");
        badge.className = "age-badge";
        badge.dataset.rating = String(m.st.age_rating ?? "all");
        badge.textContent = t(`age_${m.st.age_rating ?? "all"}`);
        facts.append(badge, m.st.runtime_min ? ` · ${t("runtime", { min: m.st.runtime_min })}` : "");
        b.append(title, facts, sub);
        b.addEventListener("click", () => {
          this.movie = m.id;
          this.day = null;
          this.go("time");
        });
        li.append(b);
        return li;
      }),
    );
    if (this.step === "time") this.renderTimes();
  }

  renderTimes() {
    const all = this.seatmap.showtimes.filter((s) => s.movie === this.movie);
    const first = all[0];
    this.$("#time-movie").textContent = first ? titleOf(first) : "";
    const days = [...new Set(all.map(ymd))];
    if (!days.includes(this.day)) this.day = days[0] ?? null;
    const select = this.$("#date");
    select.replaceChildren(
      ...days.map((d) => {
        const o = document.createElement("option");
        o.value = d;
        o.textContent = dayName(d);
        return o;
      }),
    );
    if (this.day) select.value = this.day;
    const items = all.filter((s) => ymd(s) === this.day);
    const byTheater = new Map();
    for (const st of items) {
      if (!byTheater.has(st.theater)) byTheater.set(st.theater, []);
      byTheater.get(st.theater).push(st);
    }
    const groups = [...byTheater.values()].map((sts) => {
      const g = document.createElement("section");
      g.className = "theater";
      const h = document.createElement("h4");
      const km = sts[0].distance_km;
      h.textContent = typeof km === "number" ? `${theaterOf(sts[0])} · ${t("distance", { km: km.toFixed(1) })}` : theaterOf(sts[0]);
      const ul = document.createElement("ul");
      ul.className = "times";
      for (const st of sts) {
        const li = document.createElement("li");
        const b = document.createElement("button");
        b.type = "button";
        b.className = "showtime";
        b.dataset.showtime = st.id;
        const time = document.createElement("span");
        time.className = "time";
        time.textContent = hhmm(st);
        const sub = document.createElement("span");
        sub.className = "choice-sub";
        sub.dataset.free = st.id;
        b.append(time, sub);
        this.drawFree(st, b);
        b.addEventListener("click", () => this.openShowtime(st.id));
        li.append(b);
        ul.append(li);
      }
      g.append(h, ul);
      return g;
    });
    this.$("#showtimes").replaceChildren(...groups);
    this.countFree(items);
  }

  /** The sub-line of a showtime button: screen and seats left (when known). */
  drawFree(st, button) {
    const sub = button.querySelector("[data-free]");
    const free = typeof st.free === "number" ? st.free : this.free.get(st.id);
    const screen = t("screen_n", { screen: st.screen });
    sub.textContent = typeof free === "number" ? `${screen} · ${t("seats_left", { free, total: st.capacity })}` : screen;
    // The name starts with what the button shows (WCAG 2.5.3), then the day and theater.
    button.setAttribute("aria-label", `${hhmm(st)} ${sub.textContent}, ${dayName(ymd(st))} ${theaterOf(st)}`);
  }

  /** Seats left per listed showtime: the showtime list does not carry them, so count a snapshot of each. */
  async countFree(items) {
    for (const st of items) {
      if (typeof st.free === "number") continue;
      let r;
      try {
        r = await this.seatmap.conn.request({ type: "seat_map", showtime: st.id });
      } catch {
        return;
      }
      if (r.type !== "seat_map") continue;
      this.free.set(st.id, r.map.seats.filter((s) => s.state === "free").length);
      const b = this.$(`.showtime[data-showtime="${st.id}"]`);
      if (b) this.drawFree(st, b);
    }
  }

  /** The seat step's line per live hold of the open showtime: seats, countdown, a way to the review. */
  renderCountdowns() {
    const box = this.$("[data-countdowns]");
    const mine = [...this.holds.holds.values()].filter((h) => h.showtime === this.seatmap.current);
    box.replaceChildren(
      ...mine.map((h) => {
        const div = document.createElement("div");
        div.className = "countdown";
        const p = document.createElement("p");
        p.textContent = t("held_line", { seats: sortSeats(h.seats).join(", ") });
        const b = document.createElement("button");
        b.type = "button";
        b.className = "secondary";
        b.dataset.review = h.hold_id;
        b.textContent = t("to_review");
        b.addEventListener("click", () => this.go("review"));
        div.append(p, this.holds.countdown(h), b);
        return div;
      }),
    );
  }

  renderDone() {
    const b = this.booking;
    const box = this.$("#done-summary");
    const fig = this.$("#done-ticket");
    const cal = this.$("#done-calendar");
    this.$("#done-ticket-msg").textContent = "";
    if (!b) {
      fig.hidden = true;
      cal.hidden = true;
      return box.replaceChildren();
    }
    const st = this.seatmap.showtime(b.showtime);
    const lines = [
      b.code ? t("booking_code", { code: spacedCode(b.code) }) : "",
      st ? titleOf(st) : b.showtime,
      st ? `${showTime(st.starts_at)} · ${t("theater_screen", { theater: theaterOf(st), screen: st.screen })}` : "",
      `${t("done_seats", { seats: sortSeats(b.seats ?? []).join(", ") })} · ${t("amount", { amount: money(b.amount ?? 0) })}`,
      ticketSummary(b.lines),
    ].filter(Boolean);
    box.replaceChildren(
      ...lines.map((text) => {
        const p = document.createElement("p");
        p.textContent = text;
        return p;
      }),
    );
    this.loadTicket(b);
    if (st) {
      cal.hidden = false;
      cal.href = `data:text/calendar;charset=utf-8,${encodeURIComponent(ics(b, st))}`;
      cal.download = `marquee-${b.code || "booking"}.ics`;
    } else cal.hidden = true;
  }

  /** The QR e-ticket (GET /api/bookings/{id}/ticket.svg needs the token, so it is fetched, then shown as a data: image). */
  async loadTicket(b) {
    const fig = this.$("#done-ticket");
    const img = this.$("#done-qr");
    fig.hidden = true;
    const id = b.booking_id || b.code;
    if (!id) return;
    try {
      const r = await fetch(`/api/bookings/${encodeURIComponent(id)}/ticket.svg`, { headers: { authorization: `Bearer ${this.seatmap.conn.token}` } });
      if (!r.ok) throw new Error(String(r.status));
      const svg = await r.text();
      if (this.booking !== b) return;
      img.src = `data:image/svg+xml;base64,${btoa(unescape(encodeURIComponent(svg)))}`;
      img.alt = t("qr_alt", { code: spacedCode(b.code || id) });
      fig.hidden = false;
    } catch {
      if (this.booking === b) this.$("#done-ticket-msg").textContent = t("qr_failed");
    }
  }

  render() {
    this.renderChoices();
    if (this.step === "tickets") this.renderTickets();
    this.renderCountdowns();
    this.renderDone();
  }
}

/** "성인 2명 × 15,000원, 어린이 1명 × 9,000원": a booking's or hold's lines by ticket type and unit price. */
export function ticketSummary(lines) {
  if (!lines?.length) return "";
  return byType(lines)
    .map((g) => t("ticket_line", { type: t(`ticket_${g.ticket}`), n: g.n, price: money(g.price) }))
    .join(", ");
}

/** An iCalendar event for a booking (RFC 5545): start, end from the runtime, place, code. */
export function ics(b, st) {
  const start = new Date(String(st.starts_at).replace(/\[.*\]$/, ""));
  const end = new Date(start.getTime() + (Number(st.runtime_min) || 120) * 60_000);
  const stamp = (d) => d.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
  const esc = (v) => String(v).replace(/[\\;,]/g, (c) => `\\${c}`).replace(/\n/g, "\\n");
  const seats = sortSeats(b.seats ?? []).join(" ");
  const where = t("theater_screen", { theater: theaterOf(st), screen: st.screen });
  return [
    "BEGIN:VCALENDAR",
    "VERSION:2.0",
    "PRODID:-//Marquee//Booking//" + language().toUpperCase(),
    "BEGIN:VEVENT",
    `UID:${b.booking_id || b.code}@marquee`,
    `DTSTAMP:${stamp(new Date())}`,
    `DTSTART:${stamp(start)}`,
    `DTEND:${stamp(end)}`,
    `SUMMARY:${esc(t("calendar_title", { title: titleOf(st), theater: theaterOf(st) }))}`,
    `LOCATION:${esc(where)}`,
    `DESCRIPTION:${esc([b.code ? t("booking_code", { code: b.code }) : "", t("done_seats", { seats }), ticketSummary(b.lines)].filter(Boolean).join("\n"))}`,
    "END:VEVENT",
    "END:VCALENDAR",
  ]
    .map(fold)
    .join("\r\n")
    .concat("\r\n");
}

/** Folds a content line longer than 75 octets (RFC 5545 3.1), never inside a character. */
function fold(line) {
  const enc = new TextEncoder();
  const out = [];
  let cur = "";
  let bytes = 0;
  for (const ch of line) {
    const n = enc.encode(ch).length;
    if (bytes + n > 75) {
      out.push(cur);
      cur = " ";
      bytes = 1;
    }
    cur += ch;
    bytes += n;
  }
  out.push(cur);
  return out.join("\r\n");
}
