// Chat round trips to the bot: send `chat`, wait for its `final` event on `user:<id>`
// (docs/protocol.md, "Chat with the bot").
//
// Set-up (loadtest/run k6 chat [USERS] [ROUNDS]): redis-server, a model service (loadgen's
// instant model by default, K6_CHAT_MODEL=model-svc for the real one) and two gateway
// nodes on loopback, started by the runner; NODES names the gateways. USERS virtual
// users (alternating nodes) each connect once, subscribe to their own `user:<id>` topic
// (`user` from `welcome`), then send ROUNDS questions one after another (the next after
// the previous one's `final`, which keeps each connection under CHAT_RATE). Bounded:
// USERS × ROUNDS chats, and 120 s.
//
// Thresholds:
//   - checks: every chat accepted (`chat_accepted`, not a duplicate) and answered (`final`)
//   - chat_accepted_ms p(99) < 500: chat sent → chat_accepted
//   - chat_final_ms p(99) < 20000: chat sent → final (inside CHAT_DEADLINE_MS)
//   - chat_apologies, chat_errors: none

import ws from 'k6/ws';
import { check } from 'k6';
import { Counter, Trend } from 'k6/metrics';
import { guest, nodeFor, num, frame, wsUrl, LATENCY_TARGETS } from './lib.js';

const USERS = num('USERS', 20);
const ROUNDS = num('ROUNDS', 3);
const QUESTIONS = [
  { text: '토요일 저녁에 가족이랑 볼 만한 영화 있어?', locale: 'ko' },
  { text: 'Which movies with Keanu Reeves are showing this week?', locale: 'en' },
  { text: '매트릭스 리뷰 어때?', locale: 'ko' },
  { text: 'A rat who wants to be a chef in Paris', locale: 'en' },
];

const acceptedMs = new Trend('chat_accepted_ms', true);
const firstDeltaMs = new Trend('chat_first_delta_ms', true);
const finalMs = new Trend('chat_final_ms', true);
const answered = new Counter('chat_answered');
const apologies = new Counter('chat_apologies');
const errors = new Counter('chat_errors');

export const options = {
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'],
  scenarios: {
    chat: { executor: 'per-vu-iterations', vus: USERS, iterations: 1, maxDuration: '120s' },
  },
  thresholds: {
    checks: ['rate==1'],
    chat_answered: [`count>=${USERS * ROUNDS}`],
    chat_apologies: ['count==0'],
    chat_errors: ['count==0'],
    ...(LATENCY_TARGETS ? {
      chat_accepted_ms: ['p(99)<500'],
      chat_final_ms: ['p(99)<20000'],
    } : {}),
  },
};

export default function () {
  const node = nodeFor(__VU);
  const { token, user } = guest(node, `chatter${__VU}`);
  let round = 0;
  let sentAt = 0;
  let gotDelta = false;
  let accepted = 0;
  let finals = 0;
  const messageId = () => `k6-${__VU}-${round}-${Date.now() % 1000000}`;
  let current = '';
  ws.connect(wsUrl(node, token), {}, (socket) => {
    const send = () => {
      if (round >= ROUNDS) {
        socket.close();
        return;
      }
      const q = QUESTIONS[(__VU + round) % QUESTIONS.length];
      current = messageId();
      gotDelta = false;
      sentAt = Date.now();
      socket.send(
        JSON.stringify({ type: 'chat', id: round + 10, message_id: current, conversation: `c-${__VU}`, ...q }),
      );
    };
    socket.on('message', (data) => {
      const f = frame(socket, data);
      if (f === null) return;
      if (f.type === 'welcome') {
        socket.send(JSON.stringify({ type: 'subscribe', id: 1, topic: `user:${user}` }));
      } else if (f.type === 'subscribed' && f.id === 1) {
        send();
      } else if (f.type === 'chat_accepted' && f.message_id === current) {
        if (!f.duplicate) accepted += 1;
        acceptedMs.add(Date.now() - sentAt);
      } else if (f.type === 'error') {
        errors.add(1);
        socket.close();
      } else if (f.type === 'pub' && f.data && f.data.type === 'chat' && f.data.message_id === current) {
        const e = f.data.event;
        if (e === 'delta' && !gotDelta) {
          gotDelta = true;
          firstDeltaMs.add(Date.now() - sentAt);
        } else if (e === 'apology') {
          apologies.add(1);
        } else if (e === 'final') {
          finalMs.add(Date.now() - sentAt);
          answered.add(1);
          finals += 1;
          round += 1;
          send();
        }
      }
    });
    socket.setTimeout(() => socket.close(), 110000);
  });
  check(null, {
    'every chat accepted': () => accepted === ROUNDS,
    'every chat answered with a final': () => finals === ROUNDS,
  });
}
