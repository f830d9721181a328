// Marquee web client (chat room). Plain ES module, no build step.
// Keeps the last offset and epoch per topic so a reconnect recovers what was missed.

const $ = (id) => document.getElementById(id);
const state = { token: null, ws: null, nextId: 1, room: null, epoch: null, offset: 0, backoff: 500, pending: new Map() };

function setStatus(kind, text) {
  $("status").dataset.state = kind;
  $("status").textContent = text;
}

function addLine(who, text, note = false) {
  const li = document.createElement("li");
  if (who) {
    const b = document.createElement("span");
    b.className = "who";
    b.textContent = who;
    li.append(b);
  }
  const t = document.createElement("span");
  if (note) t.className = "note";
  t.textContent = text;
  li.append(t);
  $("messages").append(li);
  li.scrollIntoView({ block: "end" });
}

function request(msg) {
  const id = state.nextId++;
  state.ws.send(JSON.stringify({ ...msg, id }));
  return new Promise((resolve) => state.pending.set(id, resolve));
}

async function guestToken(name) {
  const r = await fetch("/auth/guest", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name }) });
  if (!r.ok) throw new Error(`guest token: ${r.status}`);
  return (await r.json()).token;
}

function connect() {
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${proto}://${location.host}/ws?token=${encodeURIComponent(state.token)}`);
  state.ws = ws;
  setStatus("reconnecting", "연결 중… · Connecting…");
  ws.onmessage = (ev) => onFrame(JSON.parse(ev.data));
  ws.onclose = (ev) => {
    setStatus("offline", `연결 끊김 · Disconnected (${ev.code})`);
    if (ev.code === 4001) return; // token rejected: do not loop
    const delay = state.reconnectIn ?? state.backoff;
    state.reconnectIn = null;
    state.backoff = Math.min(state.backoff * 2, 15000);
    setTimeout(connect, delay + Math.random() * 300);
  };
}

async function onFrame(f) {
  if (f.id !== undefined && state.pending.has(f.id)) {
    state.pending.get(f.id)(f);
    state.pending.delete(f.id);
  }
  switch (f.type) {
    case "welcome": {
      state.backoff = 500;
      setStatus("online", "연결됨 · Online");
      const recover = state.epoch ? { epoch: state.epoch, offset: state.offset } : undefined;
      const r = await request({ type: "subscribe", topic: `room:${state.room}`, recover });
      if (r.type !== "subscribed") return addLine(null, `오류 · Error: ${r.message}`, true);
      state.epoch = r.epoch;
      if (!r.recovered) {
        // First join, or the gap could not be recovered: start from the
        // server's offset and refill the recent past from history.
        state.offset = r.offset;
        await reload(r.offset);
      }
      break;
    }
    case "pub":
      if (f.offset <= state.offset) break;
      state.offset = f.offset;
      addLine(f.info?.name ?? "system", typeof f.data?.text === "string" ? f.data.text : JSON.stringify(f.data));
      break;
    case "reset":
      state.epoch = f.epoch;
      state.offset = f.offset;
      await reload(f.offset);
      break;
    case "join":
    case "leave":
      addLine(null, `${f.client.name} ${f.type === "join" ? "입장 · joined" : "퇴장 · left"}`, true);
      break;
    case "ping":
      state.ws.send('{"type":"pong"}');
      break;
    case "reconnect":
      state.reconnectIn = f.delay_ms;
      break;
  }
}

// Refetch the room's recent history up to `upto` (after a first join or when
// recovery failed). Live messages that arrive meanwhile stay below it.
async function reload(upto) {
  $("messages").replaceChildren();
  const h = await request({ type: "history", topic: `room:${state.room}`, before: upto + 1, limit: 50 });
  const live = [...$("messages").children];
  $("messages").replaceChildren();
  for (const p of (h.pubs ?? []).reverse()) {
    addLine(p.info?.name ?? "system", typeof p.data?.text === "string" ? p.data.text : JSON.stringify(p.data));
  }
  $("messages").append(...live);
}

$("join").addEventListener("submit", async (e) => {
  e.preventDefault();
  state.room = $("room").value;
  state.token = await guestToken($("name").value);
  $("join").hidden = true;
  $("chat").hidden = false;
  connect();
  $("text").focus();
});

$("send").addEventListener("submit", async (e) => {
  e.preventDefault();
  const text = $("text").value.trim();
  if (!text || state.ws?.readyState !== WebSocket.OPEN) return;
  const r = await request({ type: "publish", topic: `room:${state.room}`, data: { text } });
  if (r.type === "error") addLine(null, `오류 · Error: ${r.message}`, true);
  else $("text").value = "";
});
