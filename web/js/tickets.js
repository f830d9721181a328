// tickets: ticket types (권종), what a showtime offers and an estimate of
// what seats will cost. The store prices every hold itself (a client never
// sends a price); `assign` mirrors its rule (seats/src/tickets.rs) only so
// the seat step can show a running total before the hold. The review step
// shows the store's lines and amount.

/** Every type, in the order the store gives tickets to seats. */
export const TYPES = ["adult", "teen", "senior", "disabled", "child"];
/** Tickets for minors: refused for a film rated 19 (청소년관람불가). */
export const MINOR = new Set(["teen", "child"]);
/** Most tickets (and seats) in one booking, as the seat map allows. */
export const MAX_TICKETS = 10;

/** The types a showtime offers (it has a fare for), in type order. */
export function offered(st) {
  const fares = st?.fares ?? (st?.prices ? { adult: st.prices } : {});
  return TYPES.filter((t) => fares[t]);
}

/** Whether a film of `rating` admits a ticket of `type`. */
export function admits(rating, type) {
  return !(String(rating) === "19" && MINOR.has(type));
}

/** The fare of `type` in seat class `cls` (won), or undefined when not offered. */
export function fare(st, type, cls) {
  return st?.fares?.[type]?.[cls] ?? (type === "adult" ? st?.prices?.[cls] : undefined);
}

/** Counts with zeros left out: `{adult: 2, child: 1}`. */
export function nonZero(counts) {
  return Object.fromEntries(TYPES.filter((t) => counts[t] > 0).map((t) => [t, counts[t]]));
}

/** How many tickets in all. */
export function total(counts) {
  return TYPES.reduce((n, t) => n + (counts[t] ?? 0), 0);
}

/**
 * Gives each of `seats` (sorted) a ticket of `counts`, as the store does:
 * disabled tickets to wheelchair spaces first, then the rest in type order
 * to the remaining seats in seat order. With fewer tickets than seats the
 * rest are adult (the seat step's estimate while seats are being chosen).
 * classOf(seat) → class. Returns [{seat, class, ticket, price}].
 */
export function assign(st, seats, counts, classOf) {
  const classes = seats.map(classOf);
  const given = seats.map(() => null);
  let disabled = counts.disabled ?? 0;
  classes.forEach((cls, i) => {
    if (disabled > 0 && cls === "wheelchair") {
      given[i] = "disabled";
      disabled -= 1;
    }
  });
  const rest = TYPES.flatMap((t) => Array(t === "disabled" ? disabled : (counts[t] ?? 0)).fill(t));
  for (let i = 0; i < given.length; i++) if (!given[i]) given[i] = rest.shift() ?? "adult";
  return seats.map((seat, i) => ({ seat, class: classes[i], ticket: given[i], price: fare(st, given[i], classes[i]) ?? 0 }));
}

/** Lines grouped by ticket type and unit price: [{ticket, price, n}], in type order. */
export function byType(lines) {
  const groups = new Map();
  for (const l of lines) {
    const k = `${l.ticket}:${l.price}`;
    const g = groups.get(k) ?? { ticket: l.ticket, price: l.price, n: 0 };
    g.n += 1;
    groups.set(k, g);
  }
  return [...groups.values()].sort((a, b) => TYPES.indexOf(a.ticket) - TYPES.indexOf(b.ticket) || a.price - b.price);
}
