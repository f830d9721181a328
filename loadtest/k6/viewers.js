// Seat-map viewers with a publisher: how long a seat change takes to reach every viewer
// of the showtime, on both nodes.
//
// Set-up (loadtest/run k6 viewers [VIEWERS] [RATE] [SECS]): redis-server and two gateway
// nodes on loopback, started by the runner; NODES names them. setup() picks the first
// showtime of the demo schedule, one free seat, the map's version v0, and a start time
// T0 far enough ahead for every viewer to connect. VIEWERS virtual users (alternating
// nodes) subscribe to `showtime:<id>` and read deltas; one publisher VU holds and
// releases that seat over its WebSocket, change k (k = 0, 1, …) scheduled at
// T0 + k/RATE s, for RATE × SECS changes, each after the previous one's answer.
// Only the publisher changes this showtime, so change k produces version v0 + k + 1.
// A viewer's latency for version v is its receive time minus the *scheduled* send
// time of change v − v0 − 1 (the publisher's own lateness is counted against the
// gateway, so the figure is an upper bound; `viewers_publisher_lag_ms` shows it).
// Bounded: every VU stops at T0 + SECS + 10 s.
//
// Thresholds:
//   - viewers_delta_ms p(99) < 50: change scheduled → delta at the viewer (issue 3 target)
//   - viewers_deltas count ≥ VIEWERS × RATE × SECS: nothing lost
//   - viewers_gaps, viewers_publisher_errors: none (a version skipped, a refused change)
//   - checks: every viewer subscribed and saw every change

import ws from 'k6/ws';
import { check } from 'k6';
import { Counter, Trend } from 'k6/metrics';
import { guest, nodeFor, num, frame, wsUrl, showtimes, seatMap, NODES, LATENCY_TARGETS } from './lib.js';

const VIEWERS = num('VIEWERS', 200);
const RATE = num('RATE', 20);
const SECS = num('SECS', 10);
const CHANGES = RATE * SECS;
// Time for all viewers to connect and subscribe before the first change.
const LEAD_MS = num('LEAD_MS', 3000 + VIEWERS * 10);

const deltaMs = new Trend('viewers_delta_ms', true);
const deltas = new Counter('viewers_deltas');
const gaps = new Counter('viewers_gaps');
const publisherLag = new Trend('viewers_publisher_lag_ms', true);
const publisherErrors = new Counter('viewers_publisher_errors');

const maxDuration = `${Math.ceil((LEAD_MS + SECS * 1000) / 1000) + 15}s`;

export const options = {
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'],
  setupTimeout: '30s',
  scenarios: {
    viewers: { executor: 'per-vu-iterations', vus: VIEWERS, iterations: 1, maxDuration, exec: 'viewer' },
    publisher: { executor: 'per-vu-iterations', vus: 1, iterations: 1, maxDuration, exec: 'publisher' },
  },
  thresholds: {
    viewers_deltas: [`count>=${VIEWERS * CHANGES}`],
    viewers_gaps: ['count==0'],
    viewers_publisher_errors: ['count==0'],
    checks: ['rate==1'],
    ...(LATENCY_TARGETS ? {
      viewers_delta_ms: ['p(99)<50'],
    } : {}),
  },
};

export function setup() {
  const node = NODES[0];
  const { token } = guest(node, 'viewers-setup');
  const st = showtimes(node, token)[0];
  const map = seatMap(node, token, st.id);
  const seat = map.seats.find((s) => s.state === 'free').seat;
  return { showtime: st.id, seat, v0: map.version, t0: Date.now() + LEAD_MS };
}

export function viewer(d) {
  const node = nodeFor(__VU);
  const { token } = guest(node, `viewer${__VU}`);
  let subscribed = false;
  let last = d.v0;
  let seen = 0;
  const until = d.t0 + SECS * 1000 + 10000;
  ws.connect(wsUrl(node, token), {}, (socket) => {
    socket.on('message', (data) => {
      const f = frame(socket, data);
      if (f === null) return;
      if (f.type === 'welcome') {
        socket.send(JSON.stringify({ type: 'subscribe', id: 1, topic: `showtime:${d.showtime}` }));
      } else if (f.type === 'subscribed') {
        subscribed = true;
      } else if (f.type === 'pub' && f.data && f.data.type === 'seats') {
        const v = f.data.version;
        if (v <= d.v0 || v > d.v0 + CHANGES) return;
        const now = Date.now();
        deltaMs.add(now - (d.t0 + ((v - d.v0 - 1) * 1000) / RATE));
        deltas.add(1);
        if (v !== last + 1) gaps.add(1);
        last = v;
        seen += 1;
        if (v === d.v0 + CHANGES) socket.close();
      }
    });
    socket.setTimeout(() => socket.close(), Math.max(1000, until - Date.now()));
  });
  check(null, { 'viewer subscribed': () => subscribed, 'viewer saw every change': () => seen === CHANGES });
}

export function publisher(d) {
  const node = NODES[0];
  const { token } = guest(node, 'publisher');
  let k = 0;
  ws.connect(wsUrl(node, token), {}, (socket) => {
    const next = () => {
      if (k >= CHANGES) {
        socket.close();
        return;
      }
      const due = d.t0 + (k * 1000) / RATE;
      socket.setTimeout(
        () => {
          publisherLag.add(Math.max(0, Date.now() - due));
          const req =
            k % 2 === 0
              ? { type: 'hold', id: k + 1, showtime: d.showtime, seats: [d.seat], idempotency_key: `k6-${d.t0}-${k}` }
              : { type: 'release', id: k + 1, showtime: d.showtime, seats: [d.seat] };
          socket.send(JSON.stringify(req));
        },
        // k6 timers need a positive delay; a late publisher sends at once (and its lag is counted).
        Math.max(1, due - Date.now()),
      );
    };
    socket.on('message', (data) => {
      const f = frame(socket, data);
      if (f === null) return;
      if (f.type === 'welcome') {
        next();
      } else if (f.id === k + 1) {
        const version = f.type === 'held' ? f.hold.version : f.type === 'released' ? f.released.version : -1;
        if (version !== d.v0 + k + 1) publisherErrors.add(1);
        k += 1;
        next();
      }
    });
    socket.setTimeout(() => socket.close(), Math.max(1000, d.t0 + SECS * 1000 + 10000 - Date.now()));
  });
  check(null, { 'publisher made every change': () => k === CHANGES });
}
