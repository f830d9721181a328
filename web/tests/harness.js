// Test harness for the browser tests: starts real processes on free loopback
// ports (redis-server, gateway nodes: the `marquee` binary, the gateway with
// the model service in process, built by `cargo build -p marquee`) and
// Debian's headless Chromium through playwright-core. Every process started
// here is stopped by the returned handle; nothing listens beyond 127.0.0.1.

import { spawn } from "node:child_process";
import net from "node:net";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const GATEWAY_BIN = process.env.MARQUEE_GATEWAY_BIN || path.join(ROOT, "target/debug/marquee");
export const CHROMIUM = process.env.CHROMIUM_BIN || "/usr/bin/chromium";
const JWT_SECRET = "web-tests-secret-0123456789abcdef0123";

/** Generous waits: the machine is shared and small (2 cores). */
export const WAIT_MS = 30_000;
/** Waits for a bot answer: the model service shares the cores with everything else. */
export const CHAT_WAIT_MS = 90_000;

/** A port free on 127.0.0.1 right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Polls `check` (async, returns a truthy value when done) until it does or `ms` pass. */
export async function eventually(what, check, ms = WAIT_MS) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}${last ? ` (${last.message})` : ""}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Sends one Redis command over RESP and returns the raw reply text. */
export function redisCommand(port, ...args) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, "127.0.0.1");
    let buf = "";
    sock.setTimeout(5000, () => sock.destroy(new Error("redis timeout")));
    sock.on("data", (d) => {
      buf += d.toString();
      if (buf.endsWith("\r\n")) {
        sock.end();
        resolve(buf);
      }
    });
    sock.on("error", reject);
    sock.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(String(a))}\r\n${a}\r\n`).join("")}`);
  });
}

function waitExit(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once("exit", () => resolve());
  });
}

/** A real redis-server on a free port (identified by its pid, ports race). */
export async function startRedis() {
  for (let attempt = 0; attempt < 10; attempt++) {
    const port = await freePort();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "marquee-web-redis-"));
    const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir], { stdio: "ignore" });
    const ok = await eventually("redis-server", async () => {
      if (child.exitCode !== null) return "exited";
      const info = await redisCommand(port, "INFO", "server").catch(() => "");
      const m = /process_id:(\d+)/.exec(info);
      if (!m) return false;
      return Number(m[1]) === child.pid ? "ours" : "other";
    }, 10_000).catch(() => "timeout");
    if (ok === "ours") {
      return {
        port,
        url: `redis://127.0.0.1:${port}`,
        /** The nodes' shared ledger (an SQLite file) lives beside this Redis. */
        dataDir: path.join(dir, "ledger"),
        async stop() {
          child.kill("SIGKILL");
          await waitExit(child);
          fs.rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    child.kill("SIGKILL");
    await waitExit(child);
  }
  throw new Error("could not start redis-server on a free port");
}

/**
 * A gateway node (the debug build) on `port` (default: a free one), with Redis
 * when `redis` is given. Resolves when /readyz answers 200.
 */
export async function startGateway({ redis, port, nodeId = "a", env = {} } = {}) {
  if (!fs.existsSync(GATEWAY_BIN)) throw new Error(`${GATEWAY_BIN} is missing: run cargo build -p marquee`);
  port ??= await freePort();
  const args = ["--addr", `127.0.0.1:${port}`];
  if (redis) args.push("--redis-url", redis.url);
  // Bookings go to a ledger: shared by the nodes of one Redis, else the node's own.
  const dataDir = redis ? redis.dataDir : fs.mkdtempSync(path.join(os.tmpdir(), "marquee-web-data-"));
  const log = fs.openSync(path.join(os.tmpdir(), `marquee-web-gateway-${nodeId}-${port}.log`), "a");
  const child = spawn(GATEWAY_BIN, args, {
    cwd: ROOT,
    // A short drain: a stopping node keeps answering 503 for DRAIN_GRACE_MS (5 s by default).
    env: { ...process.env, JWT_SECRET, NODE_ID: nodeId, WEB_DIR: path.join(ROOT, "web"), DATA_DIR: dataDir, RUST_LOG: "warn", DRAIN_GRACE_MS: "500", ...env },
    stdio: ["ignore", log, log],
  });
  const url = `http://127.0.0.1:${port}`;
  await eventually(`gateway ${nodeId} ready on ${port}`, async () => {
    if (child.exitCode !== null) throw new Error(`gateway exited with ${child.exitCode}`);
    const r = await fetch(`${url}/readyz`).catch(() => null);
    return r?.ok;
  });
  return {
    port,
    url,
    /** Kills the process at once (a crash: no drain, sockets reset). */
    async kill() {
      child.kill("SIGKILL");
      await waitExit(child);
      if (!redis) fs.rmSync(dataDir, { recursive: true, force: true });
    },
    async stop() {
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await waitExit(child);
      clearTimeout(t);
      if (!redis) fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Debian's Chromium, headless. */
export function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--lang=ko-KR"],
  });
}

/** A new page in a fresh context (its own storage, so its own guest user). */
export async function openPage(browser, baseUrl, { locale = "ko-KR", viewport = { width: 1280, height: 800 }, query = "", textSize } = {}) {
  const context = await browser.newContext({ locale, viewport });
  if (textSize) await context.addInitScript((s) => localStorage.setItem("marquee.size", String(s)), textSize);
  context.setDefaultTimeout(WAIT_MS);
  const page = await context.newPage();
  page.on("pageerror", (e) => console.error(`[page error] ${e.message}`));
  await page.goto(`${baseUrl}/${query}`);
  await page.locator('#conn[data-state="online"]').waitFor();
  return { context, page };
}

/** A REST call as a fresh guest user (another person on another device). */
export async function guest(baseUrl) {
  const r = await fetch(`${baseUrl}/auth/guest`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
  const g = await r.json();
  const api = async (method, p, body) => {
    const res = await fetch(`${baseUrl}${p}`, {
      method,
      headers: { authorization: `Bearer ${g.token}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: await res.json().catch(() => null) };
  };
  return { ...g, api };
}

/** The first showtime the gateway lists. */
export async function firstShowtime(baseUrl) {
  const g = await guest(baseUrl);
  const r = await g.api("GET", "/api/showtimes");
  return r.body.showtimes[0];
}

/**
 * Sets the tickets step's counters to `tickets` (`{adult: 2, child: 1}`) by
 * tapping + and −, then goes on to the seat step.
 */
export async function chooseTickets(page, tickets) {
  await page.locator("#step-tickets:not([hidden]) .ticket").first().waitFor();
  for (const type of ["adult", "teen", "senior", "disabled", "child"]) {
    const want = tickets[type] ?? 0;
    const count = page.locator(`[data-count="${type}"]`);
    if (!(await count.count())) {
      if (want) throw new Error(`the showtime offers no ${type} tickets`);
      continue;
    }
    for (let n = Number(await count.textContent()); n !== want; n = Number(await count.textContent())) {
      await page.locator(`[data-ticket-step="${type}${n < want ? "+" : "-"}"]`).click();
      await page.locator(`[data-count="${type}"]`, { hasText: String(n < want ? n + 1 : n - 1) }).waitFor();
    }
  }
  await page.locator("#tickets-next").click();
}

/**
 * Opens the seat step of a showtime through the guided flow (tab, movie, day,
 * showtime, tickets: `tickets`, two adults unless told) and waits for its snapshot.
 */
export async function openSeats(page, showtimeId, tickets = { adult: 2 }) {
  await page.locator('.tab[data-tab="seats"]').click();
  await page.waitForFunction(() => window.marquee.seatmap.showtimes.length > 0);
  const st = await page.evaluate((id) => window.marquee.seatmap.showtime(id), showtimeId);
  if (!st) throw new Error(`showtime ${showtimeId} is not listed`);
  if ((await page.locator("#step-movie").isHidden()) && (await page.locator("#step-time").isHidden())) {
    // Somewhere later in the flow: start again from the movie.
    await page.evaluate(() => window.marquee.flow.go("movie"));
  }
  if (await page.locator("#step-movie").isVisible()) await page.locator(`.choice[data-movie="${st.movie}"]`).click();
  const day = st.starts_at.slice(0, 10);
  if ((await page.locator("#date").inputValue()) !== day) await page.locator("#date").selectOption(day);
  await page.locator(`.showtime[data-showtime="${showtimeId}"]`).click();
  await chooseTickets(page, tickets);
  await page.locator(`#step-seats:not([hidden]) #seatmap[data-showtime="${showtimeId}"] [data-seat]`).first().waitFor();
}

/**
 * Two gateway nodes ("a", "b") on one redis-server and a browser, as the
 * cross-node tests need them; `showtime` is the first listed showtime.
 * `stop()` stops whatever `a` and `b` are by then (a test may restart a node).
 */
export async function startTwoNodes() {
  const redis = await startRedis();
  const c = { redis, a: null, b: null, browser: null, showtime: null };
  c.a = await startGateway({ redis, nodeId: "a" });
  c.b = await startGateway({ redis, nodeId: "b" });
  c.browser = await launchBrowser();
  c.showtime = (await firstShowtime(c.a.url)).id;
  c.stop = async () => {
    await c.browser?.close();
    await c.a?.stop();
    await c.b?.stop();
    await redis.stop();
  };
  return c;
}
