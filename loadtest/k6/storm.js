// Connect storm: many WebSockets connecting at once, each receiving its welcome and
// a subscribe acknowledgement.
//
// Set-up (loadtest/run k6 storm [VUS] [SECS]): redis-server and two gateway nodes on
// loopback, started by the runner; NODES names them. VUS virtual users ramp from 0 to
// VUS over the first third of SECS, then stay. Each iteration: a guest token (once
// per VU), open a WebSocket to the VU's node (VUs alternate nodes), wait for
// `welcome`, subscribe to `room:storm-<n>` (50 rooms), wait for `subscribed`, keep
// the socket HOLD_MS, close it, and connect again. Bounded: SECS plus a 10 s grace.
//
// Thresholds (the run fails when one is crossed):
//   - checks: at least 99.9 % pass (welcome received, subscribe acknowledged, 101 upgrade)
//   - storm_welcome_ms p(95) < 1000: connect start to welcome
//   - storm_subscribed_ms p(95) < 1000: subscribe sent to subscribed
//   - storm_errors: none (error frames, unexpected closes)

import ws from 'k6/ws';
import { check } from 'k6';
import { Counter, Trend } from 'k6/metrics';
import { guest, nodeFor, num, frame, wsUrl, LATENCY_TARGETS } from './lib.js';

const VUS = num('VUS', 200);
const SECS = num('SECS', 30);
const HOLD_MS = num('HOLD_MS', 2000);

const welcomeMs = new Trend('storm_welcome_ms', true);
const subscribedMs = new Trend('storm_subscribed_ms', true);
const sessions = new Counter('storm_sessions');
const errors = new Counter('storm_errors');

export const options = {
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'],
  scenarios: {
    storm: {
      executor: 'ramping-vus',
      startVUs: 0,
      stages: [
        { duration: `${Math.max(1, Math.round(SECS / 3))}s`, target: VUS },
        { duration: `${Math.max(1, SECS - Math.round(SECS / 3))}s`, target: VUS },
      ],
      gracefulRampDown: '5s',
      gracefulStop: '10s',
    },
  },
  thresholds: {
    checks: ['rate>0.999'],
    storm_errors: ['count==0'],
    storm_sessions: ['count>0'],
    ...(LATENCY_TARGETS ? {
      storm_welcome_ms: ['p(95)<1000'],
      storm_subscribed_ms: ['p(95)<1000'],
    } : {}),
  },
};

let token = null;

export default function () {
  const node = nodeFor(__VU);
  if (token === null) {
    token = guest(node, `storm${__VU}`).token;
  }
  const started = Date.now();
  let subscribeSent = 0;
  let welcomed = false;
  let subscribed = false;
  const res = ws.connect(wsUrl(node, token), {}, (socket) => {
    socket.on('message', (data) => {
      const f = frame(socket, data);
      if (f === null) return;
      if (f.type === 'welcome') {
        welcomed = true;
        welcomeMs.add(Date.now() - started);
        subscribeSent = Date.now();
        socket.send(JSON.stringify({ type: 'subscribe', id: 1, topic: `room:storm-${__VU % 50}` }));
      } else if (f.type === 'subscribed' && f.id === 1) {
        subscribed = true;
        subscribedMs.add(Date.now() - subscribeSent);
        socket.setTimeout(() => socket.close(), HOLD_MS);
      } else if (f.type === 'error') {
        errors.add(1);
        socket.close();
      }
    });
    socket.on('error', () => errors.add(1));
    // Never wait forever for a frame that does not come.
    socket.setTimeout(() => socket.close(), HOLD_MS + 10000);
  });
  check(res, { 'upgraded (101)': (r) => r && r.status === 101 });
  check(null, { 'welcome received': () => welcomed, 'subscribe acknowledged': () => subscribed });
  sessions.add(1);
}
