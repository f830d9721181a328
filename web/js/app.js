// app: wires the modules together. Starts the connection, follows the user's
// own topic (chat events and booking events), switches views, and holds the
// display settings (language, text size). No protocol logic lives here.

import { apply, t, setLanguage, language, onLanguage } from "./i18n.js";
import { Connection } from "./connection.js";
import { Holds } from "./holds.js";
import { SeatMap } from "./seatmap.js";
import { Bookings } from "./bookings.js";
import { Flow } from "./flow.js";
import { Chat } from "./chat.js";
import { Voice } from "./voice.js";
import { ReadAloud } from "./readaloud.js";
import { TOOL } from "./tools.js";

const $ = (id) => document.getElementById(id);
const conn = new Connection();

// Display settings: text size 100–200 % in steps of 25, kept across visits.
const SIZES = [100, 125, 150, 175, 200];
let size = Number(localStorage.getItem("marquee.size")) || 100;
function setSize(next) {
  size = Math.min(200, Math.max(100, next));
  localStorage.setItem("marquee.size", String(size));
  document.documentElement.style.fontSize = `${size}%`;
  $("size-value").textContent = `${size}%`;
  $("smaller").disabled = size === SIZES[0];
  $("larger").disabled = size === SIZES[SIZES.length - 1];
}
$("smaller").addEventListener("click", () => setSize(size - 25));
$("larger").addEventListener("click", () => setSize(size + 25));
setSize(size);

$("lang").addEventListener("click", () => setLanguage(language() === "ko" ? "en" : "ko"));

// Views: one at a time, chosen from the tab bar.
let view = "chat";
function show(next, { focus = false } = {}) {
  view = next;
  for (const b of document.querySelectorAll(".tab")) {
    if (b.dataset.tab === next) b.setAttribute("aria-current", "page");
    else b.removeAttribute("aria-current");
  }
  for (const v of document.querySelectorAll(".view")) v.hidden = v.id !== `view-${next}`;
  if (next === "bookings") bookings.refresh();
  if (next === "seats") seatmap.fit();
  if (focus) {
    if (next === "seats") flow.focusStep();
    else if (next === "bookings") $("bookings-heading").focus();
  }
}
for (const b of document.querySelectorAll(".tab")) b.addEventListener("click", () => show(b.dataset.tab, { focus: true }));

const readAloud = new ReadAloud($("read-aloud"), $("read-rate"), $("read-rate-value"));
let seatmap;
const holds = new Holds(conn, $("holds"), document.querySelector("#step-review .holds-note"), {
  showtime: (id) => seatmap.showtime(id),
  classOf: (st, seat) => seatmap.classOf(st, seat),
  priceOf: (st, seat) => seatmap.priceOf(st, seat),
});
seatmap = new SeatMap(conn, holds, {
  map: $("seatmap"),
  overview: $("overview"),
  legend: document.querySelector("#step-seats .legend"),
  selection: $("selection"),
  total: $("selection-total"),
  holdButton: $("hold"),
  clearButton: $("clear"),
  zoomIn: $("zoom-in"),
  zoomOut: $("zoom-out"),
  message: $("seat-message"),
  title: $("seatmap-title"),
});
const flow = new Flow($("view-seats"), seatmap, holds);
const bookings = new Bookings(
  conn,
  { list: $("bookings"), status: $("bookings-status"), dialog: $("cancel-dialog"), what: $("cancel-what"), yes: $("cancel-yes"), no: $("cancel-no") },
  (id) => seatmap.showtime(id),
);
$("refresh-bookings").addEventListener("click", () => bookings.refresh());
$("done-bookings").addEventListener("click", () => show("bookings", { focus: true }));
holds.addEventListener("confirmed", (e) => {
  seatmap.markSold(e.detail.showtime, e.detail.seats);
  bookings.refresh();
});
holds.addEventListener("warning", () => readAloud.speak(t("hold_warning")));

/** The chat jumps into the guided flow: the review of the bot's hold. */
function openReview() {
  show("seats");
  flow.go("review");
}

const chat = new Chat(
  conn,
  { log: $("chat-log"), form: $("chat-form"), input: $("chat-input"), status: $("chat-status") },
  {
    speak: (text) => readAloud.speak(text),
    context: () => (seatmap.current ? { showtime: seatmap.current } : {}),
    openReview,
    onAction: (d) => {
      // The bot's booking actions show where the user's own would.
      if (!d.ok) return;
      const r = d.result ?? {};
      if ((d.tool === TOOL.HOLD_BEST_AVAILABLE || d.tool === TOOL.EXTEND_HOLD) && r.hold_id) {
        if (seatmap.current !== r.showtime) flow.openShowtime(r.showtime, { focus: false }, "seats");
        holds.put(r);
        // The step shows what the bot did: its hold is what the review step shows.
        if (d.tool === TOOL.HOLD_BEST_AVAILABLE) flow.go("review", { focus: view === "seats" });
      } else if (d.tool === TOOL.RELEASE_HOLD) {
        for (const h of [...holds.holds.values()]) if (h.seats.every((s) => (r.seats ?? []).includes(s))) holds.drop(h.hold_id);
      }
      else if (d.tool === TOOL.CONFIRM_BOOKING && r.booking_id) {
        flow.booking = r;
        flow.renderDone();
        flow.go("done", { focus: view === "seats" });
        for (const h of [...holds.holds.values()]) if (h.showtime === r.showtime && r.seats?.every((s) => h.seats.includes(s))) holds.drop(h.hold_id);
        seatmap.markSold(r.showtime, r.seats ?? []);
        bookings.refresh();
      } else if (d.tool === TOOL.CANCEL_BOOKING) bookings.refresh();
    },
  },
);
new Voice(conn, chat, { mic: $("mic"), cancel: $("mic-cancel"), partial: $("partial"), note: $("mic-note"), input: $("chat-input") });

// The user's own topic: chat answers and booking events, recovered after drops.
async function loadUserHistory(topic) {
  const tp = conn.topics.get(topic);
  let h;
  try {
    h = await conn.request({ type: "history", topic, before: (tp?.offset ?? 0) + 1, limit: 100 });
  } catch {
    return;
  }
  if (h.type === "history") chat.replay([...h.pubs].reverse());
}
conn.addEventListener("welcome", (e) => {
  const topic = `user:${e.detail.user}`;
  conn.subscribe(topic, {
    onPub: (data) => {
      if (data?.type === "chat") chat.onEvent(data);
      else if (data?.type === "booking") {
        bookings.refresh();
        if (data.event === "confirmed") seatmap.markSold(data.booking.showtime, data.booking.seats);
      }
    },
    onRefetch: () => loadUserHistory(topic),
  });
  if (seatmap.showtimes.length === 0) seatmap.loadShowtimes();
  bookings.refresh();
});

// Connection state, always visible, in plain words.
let retryTimer = null;
function drawState(detail) {
  const el = $("conn");
  el.dataset.state = detail.state;
  clearInterval(retryTimer);
  if (detail.state === "offline") {
    const until = Date.now() + (detail.retryInMs ?? 0);
    const draw = () => (el.textContent = t("conn_offline", { s: Math.max(0, Math.ceil((until - Date.now()) / 1000)) }));
    draw();
    retryTimer = setInterval(draw, 500);
  } else el.textContent = t(detail.state === "online" ? "conn_online" : "conn_connecting");
}
let lastState = { state: "connecting" };
conn.addEventListener("state", (e) => {
  lastState = e.detail;
  drawState(e.detail);
  if (e.detail.state === "offline") chat.dropped();
});

function langButton() {
  $("lang").lang = language() === "ko" ? "en" : "ko";
}
onLanguage(() => {
  langButton();
  drawState(lastState);
  seatmap.render();
  flow.render();
  if (flow.step === "time") flow.renderTimes();
  holds.render();
  bookings.render();
  $("mic").querySelector(".label").textContent = t($("mic").getAttribute("aria-pressed") === "true" ? "mic_stop" : "mic_start");
});
apply(document);
langButton();
drawState(lastState);
seatmap.render();
flow.go("movie", { focus: false });
$("mic").querySelector(".label").textContent = t("mic_start");

conn.start().catch(() => ($("conn").textContent = t("conn_failed")));

// For the browser tests and for debugging from the console.
window.marquee = { conn, seatmap, holds, chat, bookings, flow, show };
