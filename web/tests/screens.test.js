// The main screens (chat, seat map with a hold, my bookings) in Korean and
// English: axe-core (WCAG 2.0/2.1/2.2 A and AA plus best-practice) finds no
// violation of any impact, the layout still
// fits a phone at 200 % text, and screenshots at phone (390x844) and desktop
// (1280x800) sizes are written to docs/screenshots/ for the README.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { AxeBuilder } from "@axe-core/playwright";
import { ROOT, CHAT_WAIT_MS, startGateway, launchBrowser, openPage, openSeats, firstShowtime, guest } from "./harness.js";

const SHOTS = path.join(ROOT, "docs/screenshots");
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };
let node, browser, showtimes;
let used = 0;

before(async () => {
  node = await startGateway({ nodeId: "screens" });
  browser = await launchBrowser();
  // Each prepared page books on its own showtime of the first day (the one
  // the date list opens on), so every screen looks the same.
  const first = await firstShowtime(node.url);
  const g = await guest(node.url);
  showtimes = (await g.api("GET", `/api/showtimes?date=${first.starts_at.slice(0, 10)}`)).body.showtimes.map((s) => s.id);
  fs.mkdirSync(SHOTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  await node?.stop();
});

/** A page in `locale` with one confirmed booking and one live hold. */
async function preparedPage(locale, viewport) {
  const { context, page } = await openPage(browser, node.url, { locale, viewport });
  const showtime = showtimes[used++ % showtimes.length];
  await openSeats(page, showtime);
  for (const s of ["D5", "D6"]) await page.locator(`[data-seat="${s}"]`).click();
  await page.locator("#hold").click();
  await page.locator('.hold-card [data-action="confirm"]').click();
  await page.locator("#step-done:not([hidden])").waitFor();
  await page.locator('[data-seat="D6"][data-state="booked"]').waitFor({ state: "attached" });
  await page.locator(".hold-card").waitFor({ state: "detached" });
  await openSeats(page, showtime);
  for (const s of ["E5", "E6"]) await page.locator(`[data-seat="${s}"]`).click();
  await page.locator("#hold").click();
  await page.locator(".hold-card").waitFor();
  // Back to the seat step: booked, held and chosen seats, and the hold's countdown.
  await page.locator('#step-review [data-back="seats"]').click();
  await page.locator('[data-seat="C4"]').click();
  // A question to the bot, so the chat screen shows an answer with its sources.
  // A gateway without the chat pipeline (chat frames answer unknown_type) fails here
  // rather than checking a chat screen that has nothing on it.
  const probe = await page.evaluate(() =>
    window.marquee.conn.request({ type: "voice_final", utterance_id: "!", conversation: "probe", text: "probe" }),
  );
  assert.notEqual(probe.code, "unknown_type", "this gateway build has no chat pipeline: chat frames answer unknown_type");
  await page.locator('.tab[data-tab="chat"]').click();
  const q = locale.startsWith("ko") ? "가족이랑 볼 만한 따뜻한 영화 추천해 주세요" : "A warm movie to watch with my family?";
  await page.locator("#chat-input").fill(q);
  await page.locator("#chat-input").press("Enter");
  await page.locator('.msg.bot[data-state="final"]').waitFor({ timeout: CHAT_WAIT_MS });
  return { context, page };
}

async function violations(page) {
  const r = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]).analyze();
  return r.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).slice(0, 5).join(", ")}`);
}

async function showView(page, view) {
  await page.locator(`.tab[data-tab="${view}"]`).click();
  await page.locator(`#view-${view}:not([hidden])`).waitFor();
  if (view === "bookings") await page.locator(".booking").first().waitFor();
  if (view === "chat") await page.locator("#chat-input").focus();
}

for (const [locale, lang] of [["ko-KR", "ko"], ["en-US", "en"]]) {
  test(`no axe violations of any impact on the main screens (${lang})`, async () => {
    const { context, page } = await preparedPage(locale, DESKTOP);
    assert.equal(await page.getAttribute("html", "lang"), lang);
    for (const view of ["chat", "seats", "bookings"]) {
      await showView(page, view);
      assert.deepEqual(await violations(page), [], `${view} (${lang})`);
    }
    await context.close();
  });
}

test("screenshots at phone and desktop sizes", async () => {
  for (const [locale, lang, viewport, size] of [
    ["ko-KR", "ko", PHONE, "phone"],
    ["en-US", "en", DESKTOP, "desktop"],
  ]) {
    const { context, page } = await preparedPage(locale, viewport);
    for (const view of ["chat", "seats", "bookings"]) {
      await showView(page, view);
      const file = path.join(SHOTS, `${view}-${size}-${lang}.png`);
      await page.screenshot({ path: file, fullPage: true });
      assert.ok(fs.statSync(file).size > 1000, file);
    }
    await context.close();
  }
});

test("at 200 % text on a phone the page needs no sideways scrolling and targets stay 44 px", async () => {
  const { context, page } = await preparedPage("ko-KR", PHONE);
  await page.locator(".settings summary").click();
  while (!(await page.locator("#larger").isDisabled())) await page.locator("#larger").click();
  assert.equal(await page.locator("#size-value").textContent(), "200%");
  await page.locator(".settings summary").click();
  for (const view of ["chat", "seats", "bookings"]) {
    await showView(page, view);
    // The seat map scrolls inside its own box; the page itself must fit.
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    const wide = await page.evaluate(() =>
      [...document.querySelectorAll("body *")]
        .filter((el) => el.offsetParent !== null && !el.closest(".seatmap") && el.getBoundingClientRect().right > window.innerWidth)
        .map((el) => el.id || el.className || el.tagName)
        .slice(0, 5),
    );
    assert.ok(overflow <= 0, `${view}: page is ${overflow}px wider than the phone (${wide.join(", ")})`);
    const small = await page.evaluate(() =>
      [...document.querySelectorAll("button, input, select, summary")]
        .filter((el) => el.offsetParent !== null)
        .map((el) => [el, el.getBoundingClientRect()])
        .filter(([, r]) => r.width < 44 || r.height < 44)
        .map(([el, r]) => `${el.id || el.className || el.tagName} ${Math.round(r.width)}x${Math.round(r.height)}`),
    );
    assert.deepEqual(small, [], `${view}: targets under 44 px`);
  }
  await page.locator(".tab[data-tab='seats']").click();
  await page.screenshot({ path: path.join(SHOTS, "seats-phone-ko-200.png") });
  await context.close();
});
