// The guided booking flow (movie → time → seats → review → done) in real
// Chromium against a real gateway, on a phone (390×844) at 100 % and 200 %
// text and on a desktop (1280×800), in Korean and English:
// - after every action the focused element and the primary next control are
//   inside the viewport (and not under a sticky bar), never <body>;
// - taps and key presses from opening the app to a confirmed booking are
//   counted and printed;
// - axe-core (WCAG 2.0/2.1/2.2 A and AA plus best-practice) reports zero
//   violations on every step, the chat, the bookings and the cancel dialog;
// - contrast of the seat states and the focus ring, and a greyscale
//   screenshot comparison of every seat state;
// - screenshots of every step into docs/screenshots/.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { AxeBuilder } from "@axe-core/playwright";
import { ROOT, startGateway, launchBrowser, openPage, openSeats, guest, eventually } from "./harness.js";

const SHOTS = path.join(ROOT, "docs/screenshots");
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };
const AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"];
let node, browser, showtimes;
let used = 0;

before(async () => {
  node = await startGateway({ nodeId: "flow" });
  browser = await launchBrowser();
  const g = await guest(node.url);
  showtimes = (await g.api("GET", "/api/showtimes")).body.showtimes;
  fs.mkdirSync(SHOTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  await node?.stop();
});

/** A showtime of the first listed movie on its first day not used by another test yet. */
function nextShowtime() {
  const first = showtimes[0];
  const same = showtimes.filter((s) => s.movie === first.movie && s.starts_at.slice(0, 10) === first.starts_at.slice(0, 10));
  const pool = same.length > 1 ? same : showtimes;
  return pool[used++ % pool.length];
}

async function axeViolations(page, where) {
  const r = await new AxeBuilder({ page }).withTags(AXE_TAGS).analyze();
  return r.violations.map((v) => `${where}: ${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).slice(0, 4).join(", ")}`);
}

/**
 * The focused element is not <body> and is in the viewport, and the primary
 * next control is in the viewport and on top (not under a sticky bar).
 */
async function assertInView(page, primary, where) {
  const r = await page.evaluate((sel) => {
    const vis = (el) => {
      const b = el.getBoundingClientRect();
      const inside = b.bottom > 0 && b.top < innerHeight && b.left >= -1 && b.right <= innerWidth + 1 && b.height > 0;
      const x = Math.min(innerWidth - 1, Math.max(0, b.left + Math.min(b.width / 2, 20)));
      const y = Math.min(innerHeight - 1, Math.max(0, b.top + Math.min(b.height / 2, 20)));
      const hit = document.elementFromPoint(x, y);
      return { inside, onTop: Boolean(hit && (hit === el || el.contains(hit) || hit.contains(el))), box: [b.left, b.top, b.right, b.bottom].map(Math.round) };
    };
    const a = document.activeElement;
    const p = document.querySelector(sel);
    return {
      active: a && a !== document.body ? `${a.tagName}#${a.id}.${a.className}` : null,
      activeVis: a && a !== document.body ? vis(a) : null,
      primary: p ? vis(p) : null,
    };
  }, primary);
  assert.ok(r.active, `${where}: focus is on <body>`);
  assert.ok(r.activeVis.inside && r.activeVis.onTop, `${where}: the focused ${r.active} is not in view (${JSON.stringify(r.activeVis)})`);
  assert.ok(r.primary, `${where}: no ${primary}`);
  assert.ok(r.primary.inside && r.primary.onTop, `${where}: the next control ${primary} is not in view (${JSON.stringify(r.primary)})`);
}

/** Counts taps (clicks) and key presses. */
function counter(page) {
  const c = { taps: 0, keys: 0 };
  c.tap = async (loc) => {
    c.taps += 1;
    await loc.click();
  };
  c.press = async (key) => {
    c.keys += 1;
    await page.keyboard.press(key);
  };
  /** Tab until `sel` is focused (each Tab counted). */
  c.tabTo = async (sel) => {
    for (let i = 0; i < 60; i++) {
      if (await page.evaluate((s) => document.activeElement?.matches(s), sel)) return;
      await c.press("Tab");
    }
    throw new Error(`Tab never reached ${sel}`);
  };
  return c;
}

async function noSidewaysScroll(page, where) {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `${where}: the page is ${overflow}px wider than the screen`);
}

async function smallTargets(page) {
  return page.evaluate(() =>
    [...document.querySelectorAll("button, input, select, summary")]
      .filter((el) => el.offsetParent !== null)
      .map((el) => [el, el.getBoundingClientRect()])
      .filter(([, r]) => r.width < 44 || r.height < 44)
      .map(([el, r]) => `${el.id || el.className || el.tagName} ${Math.round(r.width)}x${Math.round(r.height)}`),
  );
}

const CONFIGS = [
  { name: "phone-ko", locale: "ko-KR", lang: "ko", viewport: PHONE, shots: true },
  { name: "phone-ko-200", locale: "ko-KR", lang: "ko", viewport: PHONE, textSize: 200, shots: true },
  { name: "phone-en", locale: "en-US", lang: "en", viewport: PHONE },
  { name: "phone-en-200", locale: "en-US", lang: "en", viewport: PHONE, textSize: 200 },
  { name: "desktop-en", locale: "en-US", lang: "en", viewport: DESKTOP, shots: true },
  { name: "desktop-ko", locale: "ko-KR", lang: "ko", viewport: DESKTOP },
];

for (const cfg of CONFIGS) {
  test(`guided flow by taps (${cfg.name}): in view after every action, axe clean on every step`, async () => {
    const st = nextShowtime();
    const { context, page } = await openPage(browser, node.url, cfg);
    assert.equal(await page.getAttribute("html", "lang"), cfg.lang);
    const c = counter(page);
    const problems = [];
    const step = async (name, primary) => {
      await page.locator(`#view-seats:not([hidden]) #step-${name}:not([hidden])`).waitFor();
      await eventually(`focus on the ${name} step`, async () => page.evaluate((n) => document.activeElement?.id === `step-${n}-h` || document.getElementById(`step-${n}`)?.contains(document.activeElement), name));
      await assertInView(page, primary, `${cfg.name} ${name}`);
      await noSidewaysScroll(page, `${cfg.name} ${name}`);
      assert.deepEqual(await smallTargets(page), [], `${cfg.name} ${name}: targets under 44 px`);
      problems.push(...(await axeViolations(page, `${cfg.name} ${name}`)));
      if (cfg.shots) await page.screenshot({ path: path.join(SHOTS, `flow-${name}-${cfg.name}.png`) });
    };
    // The header leaves most of the first screen to the content.
    const headerBottom = await page.evaluate(() => document.querySelector("nav").getBoundingClientRect().bottom);
    assert.ok(headerBottom < cfg.viewport.height * 0.45, `${cfg.name}: header and tabs take ${headerBottom}px of ${cfg.viewport.height}`);
    problems.push(...(await axeViolations(page, `${cfg.name} chat`)));

    await c.tap(page.locator('.tab[data-tab="seats"]'));
    await step("movie", `.choice[data-movie="${st.movie}"]`);
    await c.tap(page.locator(`.choice[data-movie="${st.movie}"]`));
    await step("time", `.showtime[data-showtime="${st.id}"]`);
    await c.tap(page.locator(`.showtime[data-showtime="${st.id}"]`));
    await page.locator(`#seatmap[data-showtime="${st.id}"] [data-seat]`).first().waitFor();
    await step("seats", "#hold");
    // The whole hall: either the map fits, or the overview shows all of it.
    const fits = await page.evaluate(() => {
      const m = document.getElementById("seatmap");
      return m.scrollWidth <= m.clientWidth + 1 || !document.getElementById("overview").hidden;
    });
    assert.ok(fits, `${cfg.name}: the whole hall is visible (map fits or overview shown)`);
    // Two adults and a child: three seats next to each other in the middle of row E.
    const seats = ["E8", "E9", "E10"];
    for (const s of seats) {
      await c.tap(page.locator(`[data-seat="${s}"]`));
      await page.locator(`[data-seat="${s}"][data-state="selected"]`).waitFor();
      await assertInView(page, "#hold", `${cfg.name} after tapping ${s}`);
    }
    if (cfg.shots) await page.screenshot({ path: path.join(SHOTS, `flow-seats-chosen-${cfg.name}.png`) });
    const total = Number(await page.locator("#selection").getAttribute("data-total"));
    const expected = await page.evaluate(([id, ss]) => ss.reduce((sum, s) => sum + window.marquee.seatmap.priceOf(id, s), 0), [st.id, seats]);
    assert.ok(total > 0 && total === expected, `running total ${total} is the sum of the seats' class prices (${expected})`);
    await c.tap(page.locator("#hold"));
    await step("review", '.hold-card [data-action="confirm"]');
    const card = page.locator(".hold-card");
    assert.deepEqual(
      (await card.locator(".hold-seats li").allTextContents()).map((l) => l.split(" ")[0]),
      seats,
      "seats sorted in hall order",
    );
    await card.locator(".hold-left", { hasText: /\d/ }).waitFor();
    assert.match(await card.locator(".total").textContent(), new RegExp(new Intl.NumberFormat(cfg.lang === "ko" ? "ko-KR" : "en-US").format(total)));
    await c.tap(card.locator('[data-action="confirm"]'));
    await step("done", "#done-bookings");
    // The short booking code, in two groups of four to read out; the list shows the same.
    const code = /[34679ACDEFGHJKMNPQRTUVWXY]{4}\u00a0[34679ACDEFGHJKMNPQRTUVWXY]{4}/;
    const shown = (await page.locator("#done-summary").textContent()).match(code);
    assert.ok(shown, "the done step shows the booking code");
    console.log(`# ${cfg.name}: ${c.taps} taps from opening the app to a confirmed booking of 3 seats`);
    // The seats now read as booked by me, not as held.
    await page.locator(`[data-seat="E8"][data-state="booked"]`).waitFor({ state: "attached" });
    assert.doesNotMatch(await page.locator('[data-seat="E8"]').getAttribute("aria-label"), /held by you|내가 잡아/);
    await c.tap(page.locator("#done-bookings"));
    await page.locator("#view-bookings:not([hidden]) .booking").first().waitFor();
    await assertInView(page, '.booking[data-status="confirmed"]', `${cfg.name} bookings`);
    assert.match(await page.locator('.booking[data-status="confirmed"] .code').first().textContent(), new RegExp(shown[0]));
    problems.push(...(await axeViolations(page, `${cfg.name} bookings`)));
    if (cfg.shots) await page.screenshot({ path: path.join(SHOTS, `bookings-${cfg.name}.png`) });
    // Cancelling asks first, names what is refunded, and returns focus to the list.
    const booking = page.locator('.booking[data-status="confirmed"]').first();
    await booking.locator("button").click();
    const dialog = page.locator("#cancel-dialog[open]");
    await dialog.waitFor();
    assert.match(await dialog.textContent(), new RegExp(new Intl.NumberFormat(cfg.lang === "ko" ? "ko-KR" : "en-US").format(total)));
    problems.push(...(await axeViolations(page, `${cfg.name} cancel dialog`)));
    if (cfg.shots) await page.screenshot({ path: path.join(SHOTS, `cancel-${cfg.name}.png`) });
    await page.locator("#cancel-no").click();
    assert.equal(await page.locator('.booking[data-status="confirmed"]').count(), 1, "keeping it cancels nothing");
    await booking.locator("button").click();
    await page.locator("#cancel-yes").click();
    await page.locator('.booking[data-status="cancelled"]').first().waitFor();
    await eventually("focus back on the booking list", async () => page.evaluate(() => document.getElementById("bookings").contains(document.activeElement)));
    assert.deepEqual(problems, [], "axe violations");
    await context.close();
  });
}

test("keyboard only: the guided flow from opening the app to a confirmed booking", async () => {
  const st = nextShowtime();
  for (const cfg of [CONFIGS[0], CONFIGS[4]]) {
    const { context, page } = await openPage(browser, node.url, cfg);
    const c = counter(page);
    await c.tabTo('.tab[data-tab="seats"]');
    await c.press("Enter");
    await page.locator("#step-movie-h:focus").waitFor();
    await c.tabTo(`.choice[data-movie="${st.movie}"]`);
    await c.press("Enter");
    await page.locator("#step-time-h:focus").waitFor();
    await assertInView(page, `.showtime[data-showtime="${st.id}"]`, `keys ${cfg.name} time`);
    await c.tabTo(`.showtime[data-showtime="${st.id}"]`);
    await c.press("Enter");
    await page.locator("#step-seats-h:focus").waitFor();
    await page.locator(`#seatmap[data-showtime="${st.id}"] [data-seat]`).first().waitFor();
    await c.tabTo("#seatmap [data-seat]");
    // To row F (five rows down from A), seats 8–10.
    for (let i = 0; i < 5; i++) await c.press("ArrowDown");
    await c.press("Home");
    for (let i = 0; i < 7; i++) await c.press("ArrowRight");
    for (let i = 0; i < 3; i++) {
      await c.press("Space");
      if (i < 2) await c.press("ArrowRight");
    }
    await page.locator('[data-seat="F10"][data-state="selected"]').waitFor();
    await assertInView(page, "#hold", `keys ${cfg.name} seats`);
    await c.tabTo("#hold");
    await c.press("Enter");
    await page.locator("#step-review-h:focus").waitFor();
    await c.tabTo('.hold-card [data-action="confirm"]');
    await c.press("Enter");
    await page.locator("#step-done-h:focus").waitFor();
    await assertInView(page, "#done-bookings", `keys ${cfg.name} done`);
    console.log(`# keyboard ${cfg.name}: ${c.keys} key presses from opening the app to a confirmed booking of 3 seats`);
    // Release the seats for the next round (cancel through the dialog by keyboard).
    await c.tabTo("#done-bookings");
    await c.press("Enter");
    await page.locator('.booking[data-status="confirmed"] button').first().focus();
    await page.keyboard.press("Enter");
    await page.locator("#cancel-dialog[open]").waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.id), "cancel-no", "the safe answer has focus");
    await page.keyboard.press("Tab");
    await page.keyboard.press("Tab");
    assert.equal(await page.evaluate(() => document.activeElement?.id), "cancel-yes");
    await page.keyboard.press("Enter");
    await page.locator('.booking[data-status="cancelled"]').first().waitFor();
    await context.close();
  }
});

/** WCAG relative luminance and contrast of CSS rgb() colours. */
function lum(rgb) {
  const [r, g, b] = rgb.match(/[\d.]+/g).slice(0, 3).map((v) => {
    const c = Number(v) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}
function contrast(a, b) {
  const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
}

/** A page with a seat in every state on one showtime: free, chosen, held by me, booked by me, held by someone, sold. */
async function allStates(lang) {
  const st = nextShowtime();
  const other = await guest(node.url);
  for (const [seats, confirm] of [[["B3"], false], [["B5"], true]]) {
    const r = await other.api("POST", `/api/showtimes/${st.id}/holds`, { seats, idempotency_key: `o-${seats[0]}-${lang}` });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    if (confirm) assert.equal((await other.api("POST", `/api/showtimes/${st.id}/holds/${r.body.hold_id}/confirm`)).status, 200);
  }
  const { context, page } = await openPage(browser, node.url, { locale: lang === "ko" ? "ko-KR" : "en-US", viewport: DESKTOP });
  const token = await page.evaluate(() => JSON.parse(localStorage.getItem("marquee.guest")).token);
  const api = (p, body) => fetch(`${node.url}${p}`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(body ?? {}) }).then((r) => r.json());
  const booked = await api(`/api/showtimes/${st.id}/holds`, { seats: ["B9"], idempotency_key: `b9-${lang}` });
  await api(`/api/showtimes/${st.id}/holds/${booked.hold_id}/confirm`);
  await api(`/api/showtimes/${st.id}/holds`, { seats: ["B7"], idempotency_key: `b7-${lang}` });
  await openSeats(page, st.id);
  await page.locator('[data-seat="B11"]').click();
  await page.locator("#step-seats-h").focus();
  const want = { free: "B1", selected: "B11", mine: "B7", booked: "B9", held: "B3", sold: "B5" };
  for (const [state, seat] of Object.entries(want)) await page.locator(`[data-seat="${seat}"][data-state="${state}"]`).waitFor();
  return { context, page, want };
}

test("contrast: seat state edges and the focus ring at least 3:1, seat text at least 4.5:1", async () => {
  const { context, page, want } = await allStates("en");
  const white = "rgb(255, 255, 255)";
  for (const [state, seat] of Object.entries(want)) {
    const s = await page.locator(`[data-seat="${seat}"]`).evaluate((el) => {
      const cs = getComputedStyle(el);
      return { border: cs.borderTopColor, bg: cs.backgroundColor, color: cs.color, text: el.textContent, page: getComputedStyle(el.closest(".seat-row")).backgroundColor };
    });
    const edge = contrast(s.border, white);
    assert.ok(edge >= 3, `${state}: seat edge ${s.border} is ${edge.toFixed(2)}:1 against the page`);
    if (s.text && s.bg !== "rgba(0, 0, 0, 0)") {
      const txt = contrast(s.color, s.bg);
      assert.ok(txt >= 4.5, `${state}: seat text ${s.color} on ${s.bg} is ${txt.toFixed(2)}:1`);
    }
    console.log(`# ${state}: edge ${edge.toFixed(2)}:1${s.text ? `, text ${contrast(s.color, s.bg === "rgba(0, 0, 0, 0)" ? white : s.bg).toFixed(2)}:1` : ""}`);
  }
  // The focus ring, on a seat and on a primary button, against the white page and the seat fills.
  await page.locator('[data-seat="B1"]').focus();
  await page.keyboard.press("ArrowRight");
  await page.keyboard.press("ArrowLeft");
  const ring = await page.evaluate(() => {
    const cs = getComputedStyle(document.activeElement);
    return { style: cs.outlineStyle, width: parseFloat(cs.outlineWidth), color: cs.outlineColor };
  });
  assert.equal(ring.style, "solid");
  assert.ok(ring.width >= 3, `focus ring ${ring.width}px`);
  const ringContrast = contrast(ring.color, white);
  assert.ok(ringContrast >= 3, `focus ring ${ring.color} is ${ringContrast.toFixed(2)}:1 against white`);
  console.log(`# focus ring ${ring.color}: ${ringContrast.toFixed(2)}:1 against white`);
  await context.close();
});

test("greyscale: every seat state renders differently without colour", async () => {
  const { context, page, want } = await allStates("ko");
  // The page's CSP allows no inline <style>; the CSSOM is allowed.
  await page.evaluate(() => (document.documentElement.style.filter = "grayscale(1)"));
  const shots = {};
  for (const [state, seat] of Object.entries(want)) shots[state] = (await page.locator(`[data-seat="${seat}"]`).screenshot()).toString("base64");
  fs.writeFileSync(path.join(SHOTS, "seat-states-grey.png"), await page.locator("#seatmap .seat-row").nth(1).screenshot());
  // Decode in the page (canvas) and compare the grey pixels of each pair of states.
  const diffs = await page.evaluate(async (pngs) => {
    const grey = {};
    for (const [state, b64] of Object.entries(pngs)) {
      const img = new Image();
      img.src = `data:image/png;base64,${b64}`;
      await img.decode();
      const c = document.createElement("canvas");
      c.width = 40;
      c.height = 40;
      const ctx = c.getContext("2d");
      ctx.drawImage(img, 0, 0, 40, 40);
      const d = ctx.getImageData(0, 0, 40, 40).data;
      const g = [];
      for (let i = 0; i < d.length; i += 4) g.push((d[i] + d[i + 1] + d[i + 2]) / 3);
      grey[state] = g;
    }
    const out = [];
    const names = Object.keys(grey);
    for (let i = 0; i < names.length; i++)
      for (let j = i + 1; j < names.length; j++) {
        const a = grey[names[i]];
        const b = grey[names[j]];
        let sum = 0;
        for (let k = 0; k < a.length; k++) sum += Math.abs(a[k] - b[k]);
        out.push([names[i], names[j], sum / a.length]);
      }
    return out;
  }, shots);
  for (const [a, b, d] of diffs) {
    console.log(`# greyscale ${a} vs ${b}: mean difference ${d.toFixed(1)} of 255`);
    assert.ok(d >= 12, `${a} and ${b} look alike in greyscale (mean difference ${d.toFixed(1)})`);
  }
  await context.close();
});

test("English labels: text-size buttons show English words that are their accessible names; slider shows its value", async () => {
  const { context, page } = await openPage(browser, node.url, { locale: "en-US", viewport: PHONE });
  await page.locator(".settings summary").click();
  for (const id of ["smaller", "larger"]) {
    const b = page.locator(`#${id}`);
    const text = (await b.textContent()).trim();
    assert.match(text, /^[A-Za-z ]+$/, `#${id} shows English text: ${text}`);
    const label = await b.getAttribute("aria-label");
    assert.ok(label === null || label.includes(text), `#${id} accessible name contains what it shows`);
  }
  assert.equal(await page.locator("#read-rate-value").textContent(), "0.9×");
  await page.locator("#read-rate").fill("1.3");
  assert.equal(await page.locator("#read-rate-value").textContent(), "1.3×");
  assert.ok(await page.locator('link[rel="icon"]').count(), "a favicon");
  // The connection badge stays in view when the page scrolls.
  await page.evaluate(() => {
    document.body.style.minHeight = "3000px";
    window.scrollTo(0, 2000);
  });
  const top = await page.locator("#conn").evaluate((el) => el.getBoundingClientRect().top);
  assert.ok(top >= 0 && top < 10, `the connection badge is sticky (top ${top})`);
  await context.close();
});
