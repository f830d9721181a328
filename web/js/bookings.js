// bookings: the user's bookings (my_bookings) with a cancel button each.
// Cancelling asks first in a modal dialog that says what will be cancelled and
// refunded; afterwards focus returns to the booking list. Refreshed on demand
// and whenever a booking event arrives on user:<id>.

import { t, money, showTime, titleOf, theaterOf, spacedCode } from "./i18n.js";
import { sortSeats } from "./seatmap.js";

export class Bookings {
  /** conn: Connection; els: {list, status, dialog, what, yes, no}; showtimeOf(id) → showtime entry. */
  constructor(conn, els, showtimeOf) {
    this.conn = conn;
    this.els = els;
    this.root = els.list;
    this.status = els.status;
    this.showtimeOf = showtimeOf;
    this.list = [];
    this.asking = null;
    els.no.addEventListener("click", () => els.dialog.close("no"));
    els.yes.addEventListener("click", () => els.dialog.close("yes"));
    els.dialog.addEventListener("close", () => this.answered(els.dialog.returnValue));
  }

  async refresh() {
    let r;
    try {
      r = await this.conn.request({ type: "my_bookings" });
    } catch {
      return;
    }
    if (r.type !== "bookings") return;
    this.list = r.bookings;
    this.render();
  }

  describe(b) {
    const st = this.showtimeOf(b.showtime);
    return t("booking_line", {
      title: st ? titleOf(st) : b.showtime,
      time: st ? showTime(st.starts_at) : "",
      theater: st ? t("theater_screen", { theater: theaterOf(st), screen: st.screen }) : "",
      seats: sortSeats(b.seats).join(", "),
      amount: money(b.amount),
    });
  }

  /** Asks before cancelling: the dialog names the booking and the refund. */
  ask(b) {
    this.asking = b;
    this.els.what.textContent = t("cancel_what", { booking: this.describe(b), amount: money(b.amount) });
    this.els.dialog.returnValue = "";
    this.els.dialog.showModal();
    this.els.no.focus();
  }

  async answered(value) {
    const b = this.asking;
    this.asking = null;
    if (!b) return;
    if (value === "yes") await this.cancel(b);
    this.focusList(b.booking_id);
  }

  focusList(id) {
    const item = id && this.root.querySelector(`[data-booking="${id}"]`);
    const target = item ?? this.root;
    if (item) item.tabIndex = -1;
    target.focus();
    target.scrollIntoView({ block: "nearest" });
  }

  async cancel(b) {
    const r = await this.conn.request({ type: "cancel_booking", booking_id: b.booking_id }).catch((e) => ({ type: "error", code: e.message }));
    if (r.type === "booking_cancelled" || r.code === "already_cancelled") {
      this.status.textContent = t("cancelled_refund", { amount: money(b.amount) });
      await this.refresh();
    } else this.status.textContent = t("error_generic", { code: r.code });
  }

  render() {
    this.root.dataset.count = String(this.list.filter((b) => b.status === "confirmed").length);
    const focused = document.activeElement?.closest?.("[data-booking]")?.dataset.booking;
    if (this.list.length === 0) {
      const li = document.createElement("li");
      li.textContent = t("bookings_none");
      this.root.replaceChildren(li);
      return;
    }
    this.root.replaceChildren(
      ...[...this.list].reverse().map((b) => {
        const li = document.createElement("li");
        li.className = "booking";
        li.dataset.booking = b.booking_id;
        li.dataset.status = b.status;
        const p = document.createElement("p");
        p.textContent = this.describe(b);
        li.append(p);
        if (b.code) {
          const code = document.createElement("p");
          code.className = "code";
          code.textContent = t("booking_code", { code: spacedCode(b.code) });
          li.append(code);
        }
        if (b.status === "cancelled") {
          const s = document.createElement("p");
          s.className = "cancelled";
          s.textContent = t("booking_cancelled");
          li.append(s);
        } else {
          const button = document.createElement("button");
          button.type = "button";
          button.className = "quiet";
          button.textContent = t("cancel_booking");
          button.addEventListener("click", () => this.ask(b));
          li.append(button);
        }
        return li;
      }),
    );
    if (focused) this.focusList(focused);
  }
}
