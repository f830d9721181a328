// Booking race: many users race to hold and buy the same few seats; no seat may be
// sold twice, and every refusal must be a clean `seats_unavailable`.
//
// Set-up (loadtest/run k6 race [RACERS] [SEATS] [ROUNDS]): redis-server and two gateway
// nodes on loopback, started by the runner; NODES names them. setup() picks the first
// showtime of the demo schedule and its first SEATS free seats, in map order. RACERS
// virtual users (each its own guest user, alternating nodes) share RACERS × ROUNDS
// attempts over the REST API: hold a random pair of neighbouring race seats (an
// all-or-nothing two-seat hold), and when it is granted confirm it at once. Bounded in
// count (the attempts) and time (60 s).
//
// Thresholds and checks:
//   - race_sold{seat:X} count ≤ 1 for every race seat: no seat sold twice
//   - race_errors: none (anything but a grant, a sale or `seats_unavailable`)
//   - race_bookings > 0, race_refused > 0: there was a sale and a real race
//   - teardown() re-reads the seat map; `race_map_sold` (a gauge) is the number of race
//     seats sold there, and loadtest/run checks it equals the sum of race_sold.

import http from 'k6/http';
import { check } from 'k6';
import { Counter, Gauge } from 'k6/metrics';
import { guest, nodeFor, num, bearer, showtimes, seatMap, NODES } from './lib.js';

const RACERS = num('RACERS', 100);
const SEATS = num('SEATS', 20);
const ROUNDS = num('ROUNDS', 5);

const sold = new Counter('race_sold');
const bookings = new Counter('race_bookings');
const refused = new Counter('race_refused');
const errors = new Counter('race_errors');
const mapSold = new Gauge('race_map_sold');

// One threshold per race seat. The seat ids are those of the first SEATS free seats of
// the first showtime; with a fresh Redis every seat is free, so they are the first
// SEATS seats of the screen, known here from the map in setup() (thresholds are fixed
// at init time, so the names are listed for rows A.. of the demo screens).
const thresholds = {
  race_errors: ['count==0'],
  race_bookings: ['count>0'],
  race_refused: ['count>0'],
  checks: ['rate==1'],
};
const SEAT_IDS = (__ENV.RACE_SEATS || '').split(',').filter((s) => s);
for (const s of SEAT_IDS) thresholds[`race_sold{seat:${s}}`] = ['count<=1'];

export const options = {
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'],
  setupTimeout: '30s',
  scenarios: {
    race: { executor: 'shared-iterations', vus: RACERS, iterations: RACERS * ROUNDS, maxDuration: '60s' },
  },
  thresholds,
};

export function setup() {
  const node = NODES[0];
  const { token } = guest(node, 'race-setup');
  const st = showtimes(node, token)[0];
  const seats = seatMap(node, token, st.id)
    .seats.filter((s) => s.state === 'free')
    .slice(0, SEATS)
    .map((s) => s.seat);
  if (SEAT_IDS.length > 0 && SEAT_IDS.join(',') !== seats.join(',')) {
    throw new Error(`RACE_SEATS (${SEAT_IDS}) are not the race seats (${seats})`);
  }
  return { showtime: st.id, seats };
}

let token = null;

export default function (d) {
  const node = nodeFor(__VU);
  if (token === null) token = guest(node, `racer${__VU}`).token;
  const i = Math.floor(Math.random() * (d.seats.length - 1));
  const pair = [d.seats[i], d.seats[i + 1]];
  const key = `race-${__VU}-${__ITER}`;
  const base = `http://${node}/api/showtimes/${d.showtime}`;
  const held = http.post(`${base}/holds`, JSON.stringify({ seats: pair, idempotency_key: key }), bearer(token));
  if (held.status === 409 && held.json().code === 'seats_unavailable') {
    refused.add(1);
    return;
  }
  if (held.status !== 200) {
    errors.add(1);
    return;
  }
  const hold = held.json();
  const done = http.post(`${base}/holds/${hold.hold_id}/confirm`, null, bearer(token));
  const ok = check(done, {
    'a granted hold is confirmed': (r) => r.status === 200,
    'the sale has the held seats': (r) => r.status === 200 && r.json().seats.join(',') === hold.seats.join(','),
  });
  if (!ok) {
    errors.add(1);
    return;
  }
  bookings.add(1);
  for (const s of hold.seats) sold.add(1, { seat: s });
}

export function teardown(d) {
  const node = NODES[NODES.length - 1];
  const { token } = guest(node, 'race-teardown');
  const map = seatMap(node, token, d.showtime);
  const race = new Set(d.seats);
  mapSold.add(map.seats.filter((s) => race.has(s.seat) && s.state === 'sold').length);
}
