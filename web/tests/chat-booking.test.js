// A whole booking by conversation in real Chromium against a real gateway
// running the chat pipeline (dispatcher and model service in process, the
// gateway's default role): ask in Korean, then only tap the bot's suggestions
// until seats are booked. A gateway build without the chat frames (they
// answer unknown_type) or a model service without the dialogue engine (the
// `dialog` crate, which gives answers their quick replies) fails the test:
// both are part of the product now, so their absence is a regression.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { ROOT, CHAT_WAIT_MS, startRedis, startGateway, launchBrowser, openPage, eventually } from "./harness.js";

const MAX_TURNS = 10;
let redis, node, browser;

before(async () => {
  redis = await startRedis();
  node = await startGateway({ redis, nodeId: "chat" });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await node?.stop();
  await redis?.stop();
});

/** Fails unless the gateway knows the chat frames (a malformed voice_final is bad_request, not unknown_type). */
async function assertHasChat(page) {
  const r = await page.evaluate(() =>
    window.marquee.conn.request({ type: "voice_final", utterance_id: "!", conversation: "probe", text: "probe" }),
  );
  assert.notEqual(
    r.code,
    "unknown_type",
    "this gateway build has no chat pipeline (docs/protocol.md, 'Chat with the bot'): chat frames answer unknown_type",
  );
}

async function confirmedBookings(page) {
  return page.evaluate(async () => {
    const r = await window.marquee.conn.request({ type: "my_bookings" });
    return (r.bookings ?? []).filter((b) => b.status === "confirmed");
  });
}

test("a chat dialogue books seats by tapping the bot's suggestions", async () => {
  const { context, page } = await openPage(browser, node.url);
  await assertHasChat(page);
  const modelSvc = fs.readFileSync(path.join(ROOT, "model-svc/Cargo.toml"), "utf8");
  assert.ok(
    fs.existsSync(path.join(ROOT, "dialog/Cargo.toml")) && /^dialog\b/m.test(modelSvc),
    "the dialogue engine (dialog/) is not a dependency of model-svc: the bot's answers have no quick replies to tap",
  );
  const finals = page.locator('.msg.bot[data-state="final"]');
  await page.locator("#chat-input").fill("토요일 저녁에 가족이랑 볼 만한 영화 있어?");
  await page.locator("#chat-input").press("Enter");
  await finals.first().waitFor({ timeout: CHAT_WAIT_MS });
  let booked = [];
  for (let turn = 0; turn < MAX_TURNS; turn++) {
    booked = await confirmedBookings(page);
    if (booked.length > 0) break;
    const count = await finals.count();
    const last = finals.nth(count - 1);
    const buttons = last.locator(".suggestion");
    assert.ok((await buttons.count()) > 0, `turn ${turn}: the bot's answer offers suggestions: ${await last.textContent()}`);
    // Take a showtime when offered, agree when asked to confirm, else the first offer.
    const labels = await buttons.allTextContents();
    const showtime = last.locator(".suggestion[data-showtime]");
    let pick = labels.findIndex((l) => /^(네|예|확인|예매|좋아요|yes|confirm)/i.test(l.trim()));
    if (pick < 0 && (await showtime.count()) > 0) pick = labels.indexOf(await showtime.first().textContent());
    if (pick < 0) pick = 0;
    console.log(`# turn ${turn}: tapping "${labels[pick]}"`);
    await buttons.nth(pick).click();
    await eventually(`answer to "${labels[pick]}"`, async () => (await finals.count()) > count, CHAT_WAIT_MS);
  }
  assert.equal(booked.length, 1, "one booking made through the conversation");
  const b = booked[0];
  // The bot's hold was shown on the way, and the booking is everywhere the user looks.
  await page.locator('.actions li[data-tool="hold_best_available"][data-ok="true"]').first().waitFor();
  await page.locator('.tab[data-tab="bookings"]').click();
  await page.locator(`.booking[data-booking="${b.booking_id}"][data-status="confirmed"]`).waitFor();
  // The guided flow shows what the bot did: the done step, and the seats booked by me.
  await page.locator('.tab[data-tab="seats"]').click();
  await page.locator("#step-done:not([hidden])").waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.id), "step-done-h", "the tab focuses the step the bot reached");
  await page.locator(`#seatmap[data-showtime="${b.showtime}"] [data-seat="${b.seats[0]}"][data-state="booked"]`).waitFor({ state: "attached" });
  await context.close();
});

test("a typed question gets the pipeline's streamed answer with citations (any device sees it)", async () => {
  const { context, page } = await openPage(browser, node.url);
  await assertHasChat(page);
  // A second device of the same person (same stored guest token): it shows the question and the answer too.
  const guestState = await page.evaluate(() => localStorage.getItem("marquee.guest"));
  const other = await browser.newContext({ locale: "ko-KR" });
  await other.addInitScript((g) => localStorage.setItem("marquee.guest", g), guestState);
  const second = await other.newPage();
  await second.goto(`${node.url}/`);
  await second.locator('#conn[data-state="online"]').waitFor();

  await page.locator("#chat-input").fill("가족이랑 볼 만한 따뜻한 영화 추천해 주세요");
  await page.locator("#chat-input").press("Enter");
  const answer = page.locator('.msg.bot[data-state="final"]').first();
  await answer.waitFor({ timeout: CHAT_WAIT_MS });
  assert.ok((await answer.locator(".text").textContent()).length > 0, "the answer has text");
  assert.ok((await answer.locator(".citations li").count()) > 0, "the answer cites its sources");
  assert.match(await answer.locator(".citations li").first().textContent(), /출처: \S/);
  const id = await answer.getAttribute("data-message");
  await second.locator(`.msg.user[data-message="${id}"]`).waitFor();
  await second.locator(`.msg.bot[data-message="${id}"][data-state="final"]`).waitFor({ timeout: CHAT_WAIT_MS });
  assert.equal(
    await second.locator(`.msg.bot[data-message="${id}"] .text`).textContent(),
    await answer.locator(".text").textContent(),
  );
  await other.close();
  // After a reload the conversation is drawn again from the user topic's history.
  await page.reload();
  await page.locator(`.msg.user[data-message="${id}"]`).waitFor();
  await page.locator(`.msg.bot[data-message="${id}"][data-state="final"] .citations li`).first().waitFor();
  await context.close();
});
