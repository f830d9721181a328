// The guided booking flow (movie → time → tickets → seats → review → done) in
// real Chromium against a real gateway, on a phone (390×844) at 100 % and 200 %
// text and on a desktop (1280×800), in Korean and English, booking two adults
// and a child:
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

/**
 * A showtime for a family (child tickets offered, not rated 19) of the first
 * such movie on its first day: the first one (listed at the top of the time
 * step), or with `next` the others in turn. Every test that books on it
 * cancels at the end, so its seats are free for the next.
 */
let family = 0;
function familyShowtime({ next = false } = {}) {
  const ok = (s) => s.fares?.child && s.age_rating !== "19";
  const first = showtimes.find(ok);
  assert.ok(first, "the schedule has a showtime with child tickets");
  const day = showtimes.filter((s) => s.movie === first.movie).map((s) => s.starts_at.slice(0, 10)).sort()[0];
  const pool = showtimes.filter((s) => ok(s) && s.movie === first.movie && s.starts_at.slice(0, 10) === day);
  return next ? pool[family++ % pool.length] : pool[0];
}

/** What the store should charge for `tickets` in standard seats, from the showtime's fares. */
function standardPrice(st, tickets) {
  return Object.entries(tickets).reduce((sum, [type, n]) => sum + n * st.fares[type].standard, 0);
}

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

const FAMILY = { adult: 2, child: 1 };

for (const cfg of CONFIGS) {
  test(`guided flow by taps (${cfg.name}): 2 adults + 1 child, in view after every action, axe clean on every step`, async () => {
    const st = familyShowtime();
    const { context, page } = await openPage(browser, node.url, cfg);
    assert.equal(await page.getAttribute("html", "lang"), cfg.lang);
    const c = counter(page);
    const problems = [];
    const fmt = (n) => new Intl.NumberFormat(cfg.lang === "ko" ? "ko-KR" : "en-US").format(n);
    const step = async (name, primary, shot = name) => {
      await page.locator(`#view-seats:not([hidden]) #step-${name}:not([hidden])`).waitFor();
      await eventually(`focus on the ${name} step`, async () => page.evaluate((n) => document.activeElement?.id === `step-${n}-h` || document.getElementById(`step-${n}`)?.contains(document.activeElement), name));
      await assertInView(page, primary, `${cfg.name} ${name}`);
      await noSidewaysScroll(page, `${cfg.name} ${name}`);
      assert.deepEqual(await smallTargets(page), [], `${cfg.name} ${name}: targets under 44 px`);
      problems.push(...(await axeViolations(page, `${cfg.name} ${name}`)));
      if (cfg.shots && shot) await page.screenshot({ path: path.join(SHOTS, `flow-${shot}-${cfg.name}.png`) });
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

    // Tickets: a counter per type the showtime offers, each with its price; a live total.
    await step("tickets", '[data-ticket-step="adult+"]');
    const offered = await page.locator(".ticket").evaluateAll((els) => els.map((el) => el.dataset.ticket));
    assert.deepEqual(offered, ["adult", "teen", "senior", "disabled", "child"].filter((t) => st.fares[t]), "one counter per offered ticket type, in order");
    for (const type of offered) assert.match(await page.locator(`.ticket[data-ticket="${type}"] .ticket-price`).textContent(), new RegExp(fmt(st.fares[type].standard)));
    assert.equal(await page.locator("#tickets-next").isDisabled(), true, "no tickets, no next step");
    assert.equal(await page.locator("#tickets-total").getAttribute("role"), "status", "the total is a live region");
    const tapped = {};
    for (const [type, n] of Object.entries(FAMILY)) {
      for (let i = 0; i < n; i++) {
        await c.tap(page.locator(`[data-ticket-step="${type}+"]`));
        tapped[type] = (tapped[type] ?? 0) + 1;
        await page.locator(`[data-count="${type}"]`, { hasText: String(tapped[type]) }).waitFor();
        assert.equal(await page.evaluate(() => document.activeElement?.dataset.ticketStep), `${type}+`, "focus stays on the pressed counter");
        await assertInView(page, "#tickets-next", `${cfg.name} after one more ${type}`);
        const shown = Number(await page.locator("#tickets-total").getAttribute("data-total"));
        assert.equal(shown, standardPrice(st, tapped), `live total after one more ${type}`);
        assert.match(await page.locator("#tickets-total").textContent(), new RegExp(fmt(shown)));
      }
    }
    problems.push(...(await axeViolations(page, `${cfg.name} tickets, chosen`)));
    if (cfg.shots) await page.screenshot({ path: path.join(SHOTS, `flow-tickets-chosen-${cfg.name}.png`) });
    await c.tap(page.locator("#tickets-next"));
    await page.locator(`#seatmap[data-showtime="${st.id}"] [data-seat]`).first().waitFor();
    await step("seats", "#hold");
    // The whole hall: either the map fits, or the overview shows all of it.
    const fits = await page.evaluate(() => {
      const m = document.getElementById("seatmap");
      return m.scrollWidth <= m.clientWidth + 1 || !document.getElementById("overview").hidden;
    });
    assert.ok(fits, `${cfg.name}: the whole hall is visible (map fits or overview shown)`);
    // Aisles are drawn: a gap between the rows' blocks of seats.
    assert.ok((await page.locator("#seatmap .seat-row").first().locator(".gap.aisle").count()) > 0, "aisles are drawn in each row");
    // Three seats next to each other in the middle block of row C (standard seats).
    const seats = ["C5", "C6", "C7"];
    for (const s of seats) {
      assert.equal(await page.locator("#hold").isDisabled(), true, "the hold waits for as many seats as tickets");
      await c.tap(page.locator(`[data-seat="${s}"]`));
      await page.locator(`[data-seat="${s}"][data-state="selected"]`).waitFor();
      await assertInView(page, "#hold", `${cfg.name} after tapping ${s}`);
    }
    // A fourth seat is refused with a reason: three tickets, three seats.
    await page.locator('[data-seat="C4"]').click();
    assert.equal(await page.locator('[data-seat="C4"]').getAttribute("data-state"), "free");
    assert.notEqual((await page.locator("#seat-message").textContent()).trim(), "", "a fourth seat says why not");
    await page.locator(`[data-seat="C7"]`).focus();
    if (cfg.shots) await page.screenshot({ path: path.join(SHOTS, `flow-seats-chosen-${cfg.name}.png`) });
    const total = Number(await page.locator("#selection").getAttribute("data-total"));
    assert.equal(total, standardPrice(st, FAMILY), "the running total prices the tickets");
    await c.tap(page.locator("#hold"));
    await step("review", '.hold-card [data-action="confirm"]');
    const card = page.locator(".hold-card");
    assert.deepEqual(
      (await card.locator(".hold-seats li").allTextContents()).map((l) => l.split(" ")[0]),
      seats,
      "seats sorted in hall order",
    );
    // The store priced the hold: its amount is what the review shows, with the tickets by type.
    const hold = await page.evaluate(() => [...window.marquee.holds.holds.values()][0]);
    assert.deepEqual(hold.tickets, FAMILY, "the hold carries the tickets");
    assert.equal(hold.amount, standardPrice(st, FAMILY), "the store's amount");
    assert.equal(Number(await card.locator(".total").getAttribute("data-amount")), hold.amount);
    assert.match(await card.locator(".total").textContent(), new RegExp(fmt(hold.amount)));
    const kinds = await card.locator(".hold-tickets li").evaluateAll((els) => els.map((el) => [el.dataset.ticket, el.textContent]));
    assert.deepEqual(kinds.map(([k]) => k), ["adult", "child"]);
    assert.match(kinds[0][1], new RegExp(`2.*${fmt(st.fares.adult.standard)}`));
    assert.match(kinds[1][1], new RegExp(`1.*${fmt(st.fares.child.standard)}`));
    await card.locator(".hold-left", { hasText: /\d/ }).waitFor();
    await c.tap(card.locator('[data-action="confirm"]'));
    await step("done", "#done-bookings", null);
    // The short booking code, in two groups of four to read out; the list shows the same.
    const code = /[34679ACDEFGHJKMNPQRTUVWXY]{4}\u00a0[34679ACDEFGHJKMNPQRTUVWXY]{4}/;
    const shown = (await page.locator("#done-summary").textContent()).match(code);
    assert.ok(shown, "the done step shows the booking code");
    console.log(`# ${cfg.name}: ${c.taps} taps from opening the app to a confirmed booking of 2 adults + 1 child`);
    assert.ok(c.taps <= 12, `${c.taps} taps (target at most 12)`);
    // The QR e-ticket, named by the booking code; "add to calendar" gives an .ics of the showtime.
    const qr = page.locator("#done-ticket:not([hidden]) #done-qr");
    await qr.waitFor();
    assert.ok((await qr.getAttribute("alt")).includes(shown[0]), "the QR's alt text names the booking code");
    assert.ok(await qr.evaluate((img) => img.complete && img.naturalWidth > 0), "the QR image is drawn");
    problems.push(...(await axeViolations(page, `${cfg.name} done`)));
    if (cfg.shots) await page.screenshot({ path: path.join(SHOTS, `flow-done-${cfg.name}.png`) });
    const [download] = await Promise.all([page.waitForEvent("download"), page.locator("#done-calendar").click()]);
    assert.match(download.suggestedFilename(), /\.ics$/);
    const ics = fs.readFileSync(await download.path(), "utf8");
    assert.match(ics, /BEGIN:VEVENT/);
    const startUtc = new Date(st.starts_at.replace(/\[.*\]$/, "")).toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
    assert.ok(ics.includes(`DTSTART:${startUtc}`), `the event starts at the showtime (${startUtc})`);
    assert.ok(ics.replace(/\r\n /g, "").includes(shown[0].replace("\u00a0", "")), "the event names the booking code");
    // The seats now read as booked by me, not as held.
    await page.locator(`[data-seat="C5"][data-state="booked"]`).waitFor({ state: "attached" });
    assert.doesNotMatch(await page.locator('[data-seat="C5"]').getAttribute("aria-label"), /held by you|내가 잡아/);
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
    assert.match(await dialog.textContent(), new RegExp(fmt(hold.amount)));
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

test("a film rated 19: teen and child counters are disabled with the reason in words; axe clean (ko and en)", async () => {
  const st = showtimes.find((s) => s.age_rating === "19" && (s.fares?.teen || s.fares?.child));
  assert.ok(st, "the schedule has an adults-only showtime that lists teen or child fares");
  for (const [locale, lang] of [["ko-KR", "ko"], ["en-US", "en"]]) {
    const { context, page } = await openPage(browser, node.url, { locale, viewport: PHONE });
    await page.locator('.tab[data-tab="seats"]').click();
    await page.locator(`.choice[data-movie="${st.movie}"] .age-badge[data-rating="19"]`).waitFor();
    await page.locator(`.choice[data-movie="${st.movie}"]`).click();
    const day = st.starts_at.slice(0, 10);
    if ((await page.locator("#date").inputValue()) !== day) await page.locator("#date").selectOption(day);
    await page.locator(`.showtime[data-showtime="${st.id}"]`).click();
    await page.locator("#step-tickets-h:focus").waitFor();
    assert.match(await page.locator("#tickets-age").textContent(), lang === "ko" ? /청소년관람불가/ : /rated 19/);
    for (const type of ["teen", "child"].filter((t) => st.fares[t])) {
      const row = page.locator(`.ticket[data-ticket="${type}"]`);
      assert.equal(await row.getAttribute("data-blocked"), "true");
      assert.equal(await row.locator(`[data-ticket-step="${type}+"]`).isDisabled(), true, `${type}: cannot add`);
      assert.notEqual((await row.locator(".ticket-blocked").textContent()).trim(), "", `${type}: says why`);
      const why = await row.locator(`[data-ticket-step="${type}+"]`).getAttribute("aria-describedby");
      assert.ok(why && (await page.locator(`#${why}`).count()) === 1, `${type}: the reason describes the button`);
    }
    assert.equal(await page.locator('[data-ticket-step="adult+"]').isDisabled(), false, "adults may still book");
    assert.deepEqual(await axeViolations(page, `tickets rated 19 (${lang})`), []);
    assert.deepEqual(await smallTargets(page), [], "targets under 44 px");
    // Were a child ticket sent anyway (a stale page), the store refuses it and the page says why in words.
    await page.evaluate(() => {
      window.marquee.seatmap.setTickets({ adult: 1, child: 1 });
      window.marquee.flow.go("seats");
    });
    await page.locator(`#seatmap[data-showtime="${st.id}"] [data-seat="C5"]`).click();
    await page.locator('[data-seat="C6"]').click();
    await page.locator("#hold").click();
    await page.locator("#seat-message", { hasText: lang === "ko" ? /청소년관람불가/ : /rated 19/ }).waitFor();
    assert.equal(await page.evaluate(() => window.marquee.holds.holds.size), 0, "nothing was held");
    await context.close();
  }
});

test("nearest theater first when the browser shares its location; today's order without it", async () => {
  const demo = JSON.parse(fs.readFileSync(path.join(ROOT, "seats/data/demo.json"), "utf8"));
  const where = new Map(demo.theaters.map((t) => [t.id, t.location]));
  // A movie shown in more than one theater on one day.
  const byMovieDay = new Map();
  for (const s of showtimes) {
    const k = `${s.movie} ${s.starts_at.slice(0, 10)}`;
    byMovieDay.set(k, [...(byMovieDay.get(k) ?? []), s]);
  }
  const [key, list] = [...byMovieDay].find(([, l]) => new Set(l.map((s) => s.theater)).size > 1);
  const [movie, day] = key.split(" ");
  // The API lists by start time: that order of theaters is today's order.
  const usual = [...new Set(list.map((s) => s.theater))];
  const far = usual[usual.length - 1];
  const groups = (page) => page.locator("#showtimes .theater").evaluateAll((els) => els.map((el) => el.querySelector(".showtime").dataset.showtime));
  const theaterOf = (id) => showtimes.find((s) => s.id === id).theater;
  const toTime = async (page) => {
    await page.locator('.tab[data-tab="seats"]').click();
    await page.locator(`.choice[data-movie="${movie}"]`).click();
    if ((await page.locator("#date").inputValue()) !== day) await page.locator("#date").selectOption(day);
    await page.locator("#showtimes .theater").first().waitFor();
  };
  {
    const { context, page } = await openPage(browser, node.url, { locale: "en-US", viewport: PHONE });
    await toTime(page);
    assert.deepEqual((await groups(page)).map(theaterOf), usual, "without a location: the usual order");
    await context.close();
  }
  {
    const context = await browser.newContext({ locale: "ko-KR", viewport: PHONE, geolocation: { latitude: where.get(far).lat, longitude: where.get(far).lon }, permissions: ["geolocation"] });
    const page = await context.newPage();
    await page.goto(`${node.url}/`);
    await page.locator('#conn[data-state="online"]').waitFor();
    await toTime(page);
    await page.locator("#near").click();
    await page.locator("#near-note", { hasText: /가까운/ }).waitFor();
    await eventually("the nearest theater comes first", async () => theaterOf((await groups(page))[0]) === far);
    assert.match(await page.locator("#showtimes .theater h4").first().textContent(), /0\.0\s?km/, "its distance is shown");
    assert.deepEqual(await axeViolations(page, "time step with distances"), []);
    await context.close();
  }
});

test("keyboard only: the guided flow from opening the app to a confirmed booking of 2 adults + 1 child", async () => {
  const st = familyShowtime({ next: true });
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
    await page.locator("#step-tickets-h:focus").waitFor();
    await c.tabTo('[data-ticket-step="adult+"]');
    await c.press("Enter");
    await c.press("Enter");
    await c.tabTo('[data-ticket-step="child+"]');
    await c.press("Enter");
    await page.locator('[data-count="child"]', { hasText: "1" }).waitFor();
    assert.equal(await page.locator('[data-count="adult"]').textContent(), "2");
    await assertInView(page, "#tickets-next", `keys ${cfg.name} tickets`);
    await c.tabTo("#tickets-next");
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
    const hold = await page.evaluate(() => window.marquee.flow.booking);
    assert.deepEqual(hold.tickets, { adult: 2, child: 1 }, "booked as 2 adults + 1 child");
    console.log(`# keyboard ${cfg.name}: ${c.keys} key presses from opening the app to a confirmed booking of 2 adults + 1 child`);
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
