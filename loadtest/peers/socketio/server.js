// The peer: a Socket.IO server with the official Redis Streams adapter, as a
// user of Socket.IO would run it for a multi-node chat. Same protocol ideas as
// Marquee's load generator expects: "subscribe" joins a room, "publish"
// broadcasts {topic, data} as a "pub" event to the room on every node.
// Usage: PORT=3001 REDIS_URL=redis://127.0.0.1:6379 node server.js
const { createServer } = require("http");
const { Server } = require("socket.io");
const { createClient } = require("redis");
const { createAdapter } = require("@socket.io/redis-streams-adapter");

async function main() {
  const redis = createClient({ url: process.env.REDIS_URL });
  await redis.connect();
  const httpServer = createServer((req, res) => {
    res.writeHead(req.url === "/readyz" ? 200 : 404);
    res.end();
  });
  const io = new Server(httpServer, { adapter: createAdapter(redis), transports: ["websocket"] });
  io.on("connection", (socket) => {
    socket.on("subscribe", (topic) => socket.join(topic));
    socket.on("publish", (msg) => io.to(msg.topic).emit("pub", msg));
  });
  httpServer.listen(Number(process.env.PORT), "127.0.0.1");
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
