// Shared helpers of the k6 scenarios: the gateway nodes (loopback only), guest
// tokens, and one WebSocket session that answers the server's heartbeat.
// Not a scenario: `loadtest/run k6 <scenario>` runs the files beside this one.

import http from 'k6/http';

/** The gateway nodes, from NODES="127.0.0.1:8081,127.0.0.1:8082" (set by loadtest/run). */
export const NODES = (__ENV.NODES || '127.0.0.1:8080').split(',').map((s) => s.trim());
for (const n of NODES) {
  // Load is only ever aimed at this machine.
  if (!/^127\.\d+\.\d+\.\d+:\d+$/.test(n)) {
    throw new Error(`refusing to load a non-loopback address: ${n}`);
  }
}

/**
 * Whether the latency thresholds apply: yes for the release runs whose figures
 * go to BENCHMARKS.md; no for the test command's debug smoke runs
 * (`LATENCY_TARGETS=0`), where a debug build on two shared cores measures the
 * machine. Correctness thresholds (gaps, errors, checks) apply always.
 */
export const LATENCY_TARGETS = (__ENV.LATENCY_TARGETS || '1') !== '0';

/** A number from the environment, with a default. */
export function num(name, dflt) {
  const v = __ENV[name];
  return v === undefined || v === '' ? dflt : Number(v);
}

/** The node a virtual user talks to: VUs alternate between the nodes. */
export function nodeFor(vu) {
  return NODES[vu % NODES.length];
}

/** A guest token from POST /auth/guest (each call is a new user). */
export function guest(node, name) {
  const res = http.post(`http://${node}/auth/guest`, JSON.stringify({ name: name || 'k6' }), {
    headers: { 'Content-Type': 'application/json' },
    tags: { name: 'auth_guest' },
  });
  if (res.status !== 200) {
    throw new Error(`guest token: HTTP ${res.status} ${res.body}`);
  }
  return res.json();
}

/** Authorization header for the REST API. */
export function bearer(token) {
  return { headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' } };
}

/** The WebSocket URL of a node for a token. */
export function wsUrl(node, token) {
  return `ws://${node}/ws?token=${token}`;
}

/** Parses a text frame; answers the server's `ping`. Returns the frame, or null. */
export function frame(socket, data) {
  let f;
  try {
    f = JSON.parse(data);
  } catch (e) {
    return null;
  }
  if (f.type === 'ping') {
    socket.send('{"type":"pong"}');
  }
  return f;
}

/** The showtimes of the demo schedule (GET /api/showtimes), and one seat map. */
export function showtimes(node, token) {
  const res = http.get(`http://${node}/api/showtimes`, bearer(token));
  if (res.status !== 200) {
    throw new Error(`showtimes: HTTP ${res.status} ${res.body}`);
  }
  return res.json().showtimes;
}

export function seatMap(node, token, showtime) {
  const res = http.get(`http://${node}/api/showtimes/${showtime}/seats`, bearer(token));
  if (res.status !== 200) {
    throw new Error(`seat map: HTTP ${res.status} ${res.body}`);
  }
  return res.json();
}
