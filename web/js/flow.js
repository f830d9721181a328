// flow: the guided booking, one step per screen on a phone: movie → date and
// showtime (grouped by theater, seats left) → seats → review → done. After
// every step change the new step's heading is scrolled into view and focused,
// so the next thing to do is where the person is looking. The chat jumps into
// a step with go(); a hold the bot made shows in the review step.
//
// Follow-up (needs the server's ticket types): a "tickets" step between date
// and seats (counters per ticket type with their prices, age rating
// enforced). Until then every seat is priced by its seat class only.

import { t, money, showTime, dayName, titleOf, theaterOf, spacedCode } from "./i18n.js";
import { sortSeats } from "./seatmap.js";

export const STEPS = ["movie", "time", "seats", "review", "done"];

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
    this.$("#done-again").addEventListener("click", () => {
      this.booking = null;
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

  /** Opens a showtime's seat step (from the list or from the chat). */
  openShowtime(id, opts) {
    const st = this.seatmap.showtime(id);
    if (st) {
      this.movie = st.movie;
      this.day = ymd(st);
    }
    this.seatmap.open(id);
    this.go("seats", opts);
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
        b.append(title, sub);
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
      h.textContent = theaterOf(sts[0]);
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
    if (!b) return box.replaceChildren();
    const st = this.seatmap.showtime(b.showtime);
    const lines = [
      b.code ? t("booking_code", { code: spacedCode(b.code) }) : "",
      st ? titleOf(st) : b.showtime,
      st ? `${showTime(st.starts_at)} · ${t("theater_screen", { theater: theaterOf(st), screen: st.screen })}` : "",
      `${t("done_seats", { seats: sortSeats(b.seats).join(", ") })} · ${t("amount", { amount: money(b.amount) })}`,
    ].filter(Boolean);
    box.replaceChildren(
      ...lines.map((text) => {
        const p = document.createElement("p");
        p.textContent = text;
        return p;
      }),
    );
  }

  render() {
    this.renderChoices();
    this.renderCountdowns();
    this.renderDone();
  }
}
