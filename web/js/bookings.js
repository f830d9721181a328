// bookings: the user's bookings (my_bookings) with a cancel button each.
// Refreshed on demand and whenever a booking event arrives on user:<id>.

import { t, money, showTime, language } from "./i18n.js";

export class Bookings {
  /** conn: Connection; root: the list element; showtimeOf(id) → showtime entry. */
  constructor(conn, root, status, showtimeOf) {
    this.conn = conn;
    this.root = root;
    this.status = status;
    this.showtimeOf = showtimeOf;
    this.list = [];
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

  async cancel(b, button) {
    button.disabled = true;
    const r = await this.conn.request({ type: "cancel_booking", booking_id: b.booking_id }).catch((e) => ({ type: "error", code: e.message }));
    if (r.type === "booking_cancelled" || r.code === "already_cancelled") await this.refresh();
    else {
      this.status.textContent = t("error_generic", { code: r.code });
      button.disabled = false;
    }
  }

  render() {
    this.root.dataset.count = String(this.list.filter((b) => b.status === "confirmed").length);
    if (this.list.length === 0) {
      const li = document.createElement("li");
      li.textContent = t("bookings_none");
      this.root.replaceChildren(li);
      return;
    }
    this.root.replaceChildren(
      ...[...this.list].reverse().map((b) => {
        const st = this.showtimeOf(b.showtime);
        const li = document.createElement("li");
        li.className = "booking";
        li.dataset.booking = b.booking_id;
        li.dataset.status = b.status;
        const p = document.createElement("p");
        const title = st ? (language() === "ko" ? st.title_ko || st.title : st.title) : b.showtime;
        p.textContent = t("booking_line", {
          title,
          time: st ? showTime(st.starts_at) : "",
          seats: b.seats.join(", "),
          amount: money(b.amount),
        });
        li.append(p);
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
          button.addEventListener("click", () => this.cancel(b, button));
          li.append(button);
        }
        return li;
      }),
    );
  }
}
