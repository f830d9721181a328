// The chat view against the documented chat events (docs/protocol.md, "Chat
// with the bot"), delivered by a real gateway: the events are published on the
// user's own topic user:<id> (which its owner may publish to) and arrive as
// `pub` frames exactly as the bot's do. Also the voice button, with the
// browser's SpeechRecognition replaced by a scripted stand-in (headless
// Chromium has no microphone), and without speech recognition at all.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway, launchBrowser, openPage, firstShowtime, eventually, WAIT_MS } from "./harness.js";

let node, browser, showtime;

before(async () => {
  node = await startGateway({ nodeId: "chatview" });
  browser = await launchBrowser();
  showtime = await firstShowtime(node.url);
});

after(async () => {
  await browser?.close();
  await node?.stop();
});

/** Publishes chat events on the page user's own topic, in order. */
async function publish(page, events) {
  for (const data of events) {
    const r = await page.evaluate(async (d) => {
      const c = window.marquee.conn;
      return (await c.request({ type: "publish", topic: `user:${c.user}`, data: d })).type;
    }, data);
    assert.equal(r, "published");
  }
}

test("streamed answer: highest attempt wins, restart discards, citations and suggestions", async () => {
  const { context, page } = await openPage(browser, node.url);
  const base = { type: "chat", message_id: "m-1", conversation: "c-1" };
  await publish(page, [
    { ...base, event: "message", text: "토요일 저녁 영화 있어요?" },
    { ...base, event: "queued", position: 3 },
  ]);
  const bot = page.locator('.msg.bot[data-message="m-1"]');
  await bot.locator(".note", { hasText: "3" }).waitFor();
  await publish(page, [
    { ...base, event: "start", attempt: 1 },
    { ...base, event: "delta", attempt: 1, text: "버려질 " },
    { ...base, event: "citation", attempt: 1, movie: "nsyn-03", snippet: "old", attribution: "버려질 출처" },
  ]);
  await bot.locator(".text", { hasText: "버려질" }).waitFor();
  await publish(page, [
    { ...base, event: "restart", attempt: 2 },
    { ...base, event: "start", attempt: 2 },
    { ...base, event: "delta", attempt: 2, text: "토요일 19시에 " },
    { ...base, event: "citation", attempt: 2, movie: "nsyn-04", snippet: "온 가족이 함께 보기 좋은 작품", attribution: "리뷰 · 네이버 영화" },
    { ...base, event: "delta", attempt: 1, text: "늦게 온 옛 조각" },
    { ...base, event: "delta", attempt: 2, text: "센과 치히로의 행방불명이 있어요." },
  ]);
  await bot.locator(".text", { hasText: "센과 치히로의 행방불명이 있어요." }).waitFor();
  assert.equal(await bot.locator(".text").textContent(), "토요일 19시에 센과 치히로의 행방불명이 있어요.");
  assert.equal(await bot.getAttribute("aria-busy"), "true");
  await publish(page, [
    {
      ...base,
      event: "final",
      attempt: 2,
      text: "토요일 19시에 센과 치히로의 행방불명이 있어요. 예매할까요?",
      speech: "토요일 일곱 시에 센과 치히로의 행방불명이 있어요.",
      suggestions: [
        { label: "토 19:00 센과 치히로의 행방불명", text: "토요일 19시 센과 치히로의 행방불명 두 장", showtime: showtime.id },
        { label: "다른 영화", text: "다른 영화도 알려 주세요" },
      ],
    },
  ]);
  await bot.locator('.suggestion[data-showtime]').waitFor();
  assert.equal(await bot.getAttribute("data-state"), "final");
  assert.equal(await bot.getAttribute("aria-busy"), "false");
  assert.equal(await bot.locator(".text").textContent(), "토요일 19시에 센과 치히로의 행방불명이 있어요. 예매할까요?");
  assert.deepEqual(await bot.locator(".citations li").allTextContents(), ["온 가족이 함께 보기 좋은 작품 — 출처: 리뷰 · 네이버 영화"]);
  // Tapping a suggestion sends its text as the user's next chat message.
  // Record the frames the page sends from here on.
  await page.evaluate(() => {
    const ws = window.marquee.conn.ws;
    const orig = ws.send.bind(ws);
    window.__sent = [];
    ws.send = (s) => {
      window.__sent.push(JSON.parse(s));
      orig(s);
    };
  });
  await bot.locator(".suggestion").first().click();
  await page.locator(".msg.user", { hasText: "토요일 19시 센과 치히로의 행방불명 두 장" }).waitFor();
  const chat = (await page.evaluate(() => window.__sent)).find((f) => f.type === "chat");
  assert.equal(chat.text, "토요일 19시 센과 치히로의 행방불명 두 장");
  assert.equal(chat.context.showtime, showtime.id);
  assert.equal(chat.conversation, await page.evaluate(() => window.marquee.chat.conversation));
  await context.close();
});

test("a hold the bot made shows in the hold panel and on the seat map; apology and hold warning are shown", async () => {
  const { context, page } = await openPage(browser, node.url, { locale: "en-US" });
  // The bot acts for this user: make the hold as this user (REST, same token),
  // then deliver the action event the dispatcher would publish with its result.
  const token = await page.evaluate(() => JSON.parse(localStorage.getItem("marquee.guest")).token);
  const res = await fetch(`${node.url}/api/showtimes/${showtime.id}/holds`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ seats: ["B3", "B4"], idempotency_key: "bot-1" }),
  });
  assert.equal(res.status, 200);
  const hold = await res.json();
  const base = { type: "chat", message_id: "m-2", conversation: "c-1" };
  await publish(page, [
    { ...base, event: "message", text: "Two seats for the first show" },
    { ...base, event: "start", attempt: 1 },
    { ...base, event: "action", attempt: 1, tool: "hold_best_available", ok: true, result: { ...hold, amount: 30000 } },
  ]);
  const action = page.locator('.actions li[data-tool="hold_best_available"]', { hasText: "B3, B4" });
  await action.waitFor();
  // The chat jumps into the guided flow: the review step shows the bot's hold, with its countdown.
  await action.locator(".open-review").click();
  await page.locator("#step-review-h:focus").waitFor();
  const card = page.locator("#step-review:not([hidden]) .hold-card");
  assert.deepEqual((await card.locator(".hold-seats li").allTextContents()).map((t) => t.split(" ")[0]), ["B3", "B4"]);
  await card.locator(".hold-left", { hasText: /\d/ }).waitFor();
  // And the seat step shows them as held by me, with the countdown.
  await page.locator('#step-review [data-back="seats"]').click();
  await page.locator(`#seatmap[data-showtime="${showtime.id}"] [data-seat="B3"][data-state="mine"]`).waitFor();
  await page.locator('[data-seat="B4"][data-state="mine"]').waitFor();
  await page.locator(`#step-seats [data-countdown="${hold.hold_id}"]`, { hasText: /\d/ }).waitFor();
  await page.locator('.tab[data-tab="chat"]').click();
  await publish(page, [{ type: "chat", message_id: "m-3", conversation: "c-1", event: "apology", text: "Sorry, the answer is taking long. It will come.", speech: "Sorry." }]);
  await page.locator('.msg.bot[data-message="m-3"][data-state="apology"]', { hasText: "Sorry, the answer is taking long" }).waitFor();
  // The bot's hold is about to expire: its warning offers a one-tap extension.
  await publish(page, [
    {
      type: "chat",
      message_id: "m-2",
      conversation: "c-1",
      event: "warning",
      hold_id: hold.hold_id,
      showtime: showtime.id,
      expires_at: hold.expires_at,
      text: "Your seats B3, B4 are held for one more minute. Extend?",
      speech: "Your seats are held for one more minute.",
      suggestions: [{ label: "Extend", text: "extend" }],
    },
  ]);
  const warning = page.locator(".msg.bot.warning", { hasText: "one more minute" });
  await warning.locator(".suggestion", { hasText: "Extend" }).waitFor();
  await context.close();
});

test("voice: partial transcripts stream as voice_partial with rising revisions, then voice_final", async () => {
  const context = await browser.newContext({ locale: "ko-KR" });
  context.setDefaultTimeout(WAIT_MS);
  // A scripted stand-in for the browser's speech recognition: three results.
  await context.addInitScript(() => {
    class ScriptedRecognition {
      start() {
        const steps = [
          ["토요일", false],
          ["토요일 저녁", false],
          ["토요일 저녁 영화 알려 줘", true],
        ];
        steps.forEach(([text, isFinal], i) =>
          setTimeout(() => {
            const result = [{ transcript: text }];
            result.isFinal = isFinal;
            this.onresult?.({ results: [result] });
            if (isFinal) setTimeout(() => this.onend?.(), 10);
          }, 100 * (i + 1)),
        );
      }
      stop() {}
      abort() {
        this.onend?.();
      }
    }
    window.SpeechRecognition = ScriptedRecognition;
  });
  const page = await context.newPage();
  const sent = [];
  page.on("websocket", (ws) => ws.on("framesent", (f) => sent.push(JSON.parse(f.payload))));
  await page.goto(`${node.url}/`);
  await page.locator('#conn[data-state="online"]').waitFor();
  await page.locator("#mic").click();
  await page.locator('.msg.user[data-voice="true"]', { hasText: "토요일 저녁 영화 알려 줘" }).waitFor();
  const partials = sent.filter((f) => f.type === "voice_partial");
  assert.deepEqual(partials.map((f) => [f.revision, f.text]), [[0, "토요일"], [1, "토요일 저녁"]]);
  const final = sent.find((f) => f.type === "voice_final");
  assert.equal(final.text, "토요일 저녁 영화 알려 줘");
  assert.equal(final.utterance_id, partials[0].utterance_id);
  assert.equal(final.locale, "ko");
  await context.close();
});

test("voice: cancel sends voice_cancel and no final", async () => {
  const context = await browser.newContext({ locale: "en-US" });
  context.setDefaultTimeout(WAIT_MS);
  // A recognizer that hears a partial and then waits (the person stops to think).
  await context.addInitScript(() => {
    window.SpeechRecognition = class {
      start() {
        setTimeout(() => {
          const result = [{ transcript: "two tickets for" }];
          result.isFinal = false;
          this.onresult?.({ results: [result] });
        }, 50);
      }
      stop() {}
      abort() {
        this.onend?.();
      }
    };
  });
  const page = await context.newPage();
  const sent = [];
  page.on("websocket", (ws) => ws.on("framesent", (f) => sent.push(JSON.parse(f.payload))));
  await page.goto(`${node.url}/`);
  await page.locator('#conn[data-state="online"]').waitFor();
  await page.locator("#mic").click();
  await page.locator("#partial", { hasText: "two tickets for" }).waitFor();
  assert.equal(await page.locator("#mic").getAttribute("aria-pressed"), "true");
  await page.locator("#mic-cancel").click();
  await page.locator('#mic[aria-pressed="false"]').waitFor();
  const partial = sent.find((f) => f.type === "voice_partial");
  const cancel = await eventually("voice_cancel sent", async () => sent.find((f) => f.type === "voice_cancel"));
  assert.equal(cancel.utterance_id, partial.utterance_id);
  assert.equal(sent.filter((f) => f.type === "voice_final").length, 0);
  assert.equal(await page.locator("#partial").textContent(), "");
  await context.close();
});

test("voice: without speech recognition the button explains and the text box takes over", async () => {
  const context = await browser.newContext({ locale: "en-US" });
  context.setDefaultTimeout(WAIT_MS);
  await context.addInitScript(() => {
    delete window.SpeechRecognition;
    delete window.webkitSpeechRecognition;
  });
  const page = await context.newPage();
  await page.goto(`${node.url}/`);
  await page.locator('#mic[data-supported="false"]').waitFor();
  await page.locator("#mic").click();
  await page.locator("#mic-note", { hasText: "cannot take speech" }).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.id), "chat-input");
  await context.close();
});

test("read-aloud speaks the final answer's speech form at the chosen rate; the language toggle switches the page", async () => {
  const context = await browser.newContext({ locale: "ko-KR" });
  context.setDefaultTimeout(WAIT_MS);
  // Record what would be spoken (headless Chromium has no voices).
  await context.addInitScript(() => {
    window.__spoken = [];
    const synth = { speak: (u) => window.__spoken.push({ text: u.text, rate: Math.round(u.rate * 100) / 100, lang: u.lang }), cancel() {} };
    Object.defineProperty(window, "speechSynthesis", { value: synth, configurable: true });
  });
  const page = await context.newPage();
  await page.goto(`${node.url}/`);
  await page.locator('#conn[data-state="online"]').waitFor();
  await page.locator(".settings summary").click();
  await page.locator("#read-aloud").click();
  assert.equal(await page.locator("#read-aloud").getAttribute("aria-pressed"), "true");
  await page.locator("#read-rate").fill("1.2");
  await page.locator("#read-rate").dispatchEvent("change");
  assert.equal(await page.locator("#read-rate-value").textContent(), "1.2×");
  const base = { type: "chat", message_id: "m-9", conversation: "c-9" };
  await publish(page, [
    { ...base, event: "start", attempt: 1 },
    { ...base, event: "final", attempt: 1, text: "《레옹》 11/28 19:00", speech: "레옹, 십일월 이십팔일 저녁 일곱 시", suggestions: [] },
  ]);
  await page.locator('.msg.bot[data-message="m-9"][data-state="final"]').waitFor();
  const spoken = await page.evaluate(() => window.__spoken);
  assert.deepEqual(spoken, [{ text: "레옹, 십일월 이십팔일 저녁 일곱 시", rate: 1.2, lang: "ko-KR" }]);
  // The language button switches every word and the speech language.
  assert.equal(await page.getAttribute("html", "lang"), "ko");
  await page.locator("#lang").click();
  assert.equal(await page.getAttribute("html", "lang"), "en");
  assert.equal(await page.locator('.tab[data-tab="seats"]').textContent(), "Step by step");
  assert.equal(await page.locator("#conn").textContent(), "Connected");
  await context.close();
});

test("voice: a denied microphone permission is reported as such", async () => {
  const context = await browser.newContext({ locale: "en-US" });
  context.setDefaultTimeout(WAIT_MS);
  await context.addInitScript(() => {
    window.SpeechRecognition = class {
      start() {
        setTimeout(() => {
          this.onerror?.({ error: "not-allowed" });
          this.onend?.();
        }, 20);
      }
      stop() {}
      abort() {}
    };
  });
  const page = await context.newPage();
  await page.goto(`${node.url}/`);
  await page.locator('#conn[data-state="online"]').waitFor();
  await page.locator("#mic").click();
  await page.locator("#mic-note", { hasText: "permission was denied" }).waitFor();
  await context.close();
});

test("a message whose answer is lost with the connection says so and offers to resend", async () => {
  const { context, page } = await openPage(browser, node.url, { locale: "en-US" });
  // A message the bot has queued but not answered yet (its events as the pipeline publishes them).
  const base = { type: "chat", message_id: "m-drop", conversation: "c-drop" };
  await publish(page, [
    { ...base, event: "message", text: "Two seats for tonight" },
    { ...base, event: "queued", position: 2 },
  ]);
  const bot = page.locator('.msg.bot[data-message="m-drop"][data-state="queued"]');
  await bot.waitFor();
  // The node goes away (a crash): the answer cannot come over this connection.
  const port = node.port;
  await node.kill();
  await page.locator('#conn[data-state="offline"]').waitFor();
  const dropped = page.locator('.msg.bot[data-message="m-drop"][data-state="dropped"]');
  await dropped.locator(".note", { hasText: "connection dropped" }).waitFor();
  node = await startGateway({ nodeId: "chatview", port });
  await page.locator('#conn[data-state="online"]').waitFor();
  await dropped.locator(".resend").click();
  await page.locator(".msg.user", { hasText: "Two seats for tonight" }).nth(1).waitFor();
  await context.close();
});
