// A real network drop: the page's gateway node is killed (SIGKILL, so the
// socket is reset without a goodbye) while another person keeps booking
// through a second node on the same redis-server. The node is restarted on
// the same port; the page reconnects with backoff and recovers exactly the
// missed seat deltas from offsets, without refetching the snapshot. Then a
// version gap (a change whose delta this page never gets) makes it refetch.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway, openPage, openSeats, guest, redisCommand, startTwoNodes } from "./harness.js";

let c;

before(async () => {
  c = await startTwoNodes();
});

after(async () => {
  await c?.stop();
});

test("a drop and reconnect recovers missed deltas; a version gap refetches the snapshot", async () => {
  const { context, page } = await openPage(c.browser, c.a.url);
  await openSeats(page, c.showtime);
  const map = page.locator("#seatmap");
  assert.equal(await map.getAttribute("data-snapshots"), "1");
  const v0 = Number(await map.getAttribute("data-version"));

  await c.a.kill();
  await page.locator('#conn[data-state="offline"]').waitFor();
  assert.match(await page.locator("#conn").textContent(), /연결 끊김/);

  // Meanwhile someone else books through node B: three deltas the page misses.
  const other = await guest(c.b.url);
  for (const [seats, key] of [[["D1", "D2"], "k1"], [["D3"], "k2"], [["D4"], "k3"]]) {
    const r = await other.api("POST", `/api/showtimes/${c.showtime}/holds`, { seats, idempotency_key: key });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  }
  assert.equal(await page.locator('[data-seat="D1"]').getAttribute("data-state"), "free");

  c.a = await startGateway({ redis: c.redis, nodeId: "a", port: c.a.port });
  await page.locator('#conn[data-state="online"]').waitFor();
  for (const s of ["D1", "D2", "D3", "D4"]) await page.locator(`[data-seat="${s}"][data-state="held"]`).waitFor();
  assert.equal(Number(await map.getAttribute("data-version")), v0 + 3, "three deltas applied in order");
  assert.equal(await map.getAttribute("data-snapshots"), "1", "recovered from offsets, no snapshot refetch");

  // A version gap: the seat store's version moves on by a change whose delta
  // this page never receives (as if it were lost), then a real hold follows.
  // Its delta's version is last + 2, so the page must refetch the snapshot.
  const ver = await redisCommand(c.redis.port, "INCR", `mq:{showtime:${c.showtime}}:ver`);
  assert.match(ver, /^:\d+/);
  const r = await other.api("POST", `/api/showtimes/${c.showtime}/holds`, { seats: ["D6"], idempotency_key: "k4" });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  await page.locator('#seatmap[data-snapshots="2"]').waitFor();
  await page.locator('[data-seat="D6"][data-state="held"]').waitFor();
  assert.equal(Number(await map.getAttribute("data-version")), r.body.version);
  await context.close();
});
