// Generates adapter/redis/wire/testdata/notepack.json: messages as @socket.io/redis-adapter 8.x and
// @socket.io/redis-emitter 5.x build them (see their dist/index.js), encoded by their codec, notepack.io, with the
// JSON that socket.io-parser then writes for the same packet data. Run: node tools/gen-fixtures.cjs
const msgpack = require("notepack.io");
const { Encoder } = require("socket.io-parser");
const fs = require("fs");
const path = require("path");

const enc = new Encoder();
// What a Socket.IO client receives for data, the JSON text of the packet (and the attachments, hex).
function wireJSON(data) {
  const out = enc.encode({ type: 2, nsp: "/", data });
  const text = out[0];
  const json = text.slice(text.indexOf("["));
  return { json, attachments: out.slice(1).map((b) => Buffer.from(b).toString("hex")) };
}

const cases = [];
function broadcast(name, uid, data, opts, nsp = "/") {
  const msg = msgpack.encode([uid, { type: 2, data, nsp }, opts]);
  // what a receiving Node.js node sends its clients: the packet data as notepack.io decodes it
  const received = msgpack.decode(msg)[1].data;
  cases.push({ name, kind: "broadcast", hex: msg.toString("hex"), uid, nsp, event: data[0], args: wireJSON(received), opts });
}

broadcast("plain emit", "abc123", ["hello", "world", 1, 2.5, true, null], { rooms: [], except: [], flags: {} });
broadcast("key order", "abc123", ["obj", { zeta: 1, alpha: { y: 2, x: [1, { b: 1, a: 2 }] }, "10": "ten", "2": "two" }], { rooms: ["r1"], except: ["s1", "s2"], flags: {} });
broadcast("binary arg", "abc123", ["bin", Buffer.from([1, 2, 3]), { nested: Buffer.from([4, 5]), list: [Buffer.from([6])] }], { rooms: ["a", "b"], except: [], flags: { volatile: true } });
broadcast("emitter order", "emitter", ["e", "x"], { rooms: ["room"], flags: { compress: true }, except: [] });
broadcast("undefined and dates", "abc123", ["u", undefined, { a: undefined, b: 1 }, [undefined, 2], new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678))], { rooms: [], except: [], flags: {} });
broadcast("numbers", "abc123", ["n", 0, -1, -33, 127, 128, 255, 256, 65535, 65536, -129, -32769, 4294967295, 4294967296, -4294967296, 9007199254740991, 0.1, -2.5e-7, 1e300, NaN, Infinity, -0], { rooms: [], except: [], flags: {} });
broadcast("strings", "abc123", ["s", "", "a".repeat(31), "b".repeat(32), "c".repeat(256), "é€😀", "quote\" backslash\\ \n\t\u0001 \u2028"], { rooms: [], except: [], flags: {} });
broadcast("custom namespace", "abc123", ["evt", { k: "v" }], { rooms: [], except: [], flags: { timeout: 5000 } }, "/chat");
broadcast("typed arrays", "abc123", ["t", new Uint8Array([9, 8]), new ArrayBuffer(2)], { rooms: [], except: [], flags: {} });
broadcast("long containers", "abc123", ["l", Array.from({ length: 20 }, (_, i) => i), Object.fromEntries(Array.from({ length: 17 }, (_, i) => ["k" + i, i]))], { rooms: [], except: [], flags: {} });

// requests and responses that are msgpack
function mp(name, kind, value) {
  cases.push({ name, kind, hex: msgpack.encode(value).toString("hex"), value: JSON.parse(JSON.stringify(value)) });
}
mp("broadcast request", "request", {
  uid: "abc123", requestId: "req001", type: 7,
  packet: { type: 2, data: ["ask", 1, Buffer.from([7])], nsp: "/" },
  opts: { rooms: ["r"], except: [], flags: { timeout: 1000 } },
});
mp("broadcast ack", "response", { type: 9, requestId: "req001", packet: { ok: true, b: Buffer.from([1]) } });
mp("broadcast ack undefined", "response", { type: 9, requestId: "req001", packet: undefined });

// ClusterAdapter messages (the sharded adapter), as socket.io-adapter builds them ({type, data} then uid and nsp)
// and the sharded adapter encodes them: msgpack when the data has binary, else JSON.
function cluster(name, message) {
  const hasBinary = JSON.stringify(message, (k, v) => (v && v.type === "Buffer" ? "BIN" : v)).includes("BIN");
  const enc = hasBinary ? msgpack.encode(message).toString("hex") : Buffer.from(JSON.stringify(message)).toString("hex");
  cases.push({ name, kind: "cluster", hex: enc, json: hasBinary ? "" : JSON.stringify(message) });
}
cluster("cluster broadcast", { type: 3, data: { packet: { type: 2, data: ["e", { b: 1, a: 2 }] }, opts: { rooms: ["r"], except: [], flags: {} } }, uid: "n1", nsp: "/" });
cluster("cluster broadcast binary", { type: 3, data: { packet: { type: 2, data: ["e", Buffer.from([1, 2])] }, requestId: "q1", opts: { rooms: [], except: ["x"], flags: { timeout: 1000 } } }, uid: "n1", nsp: "/" });
cluster("cluster join", { type: 4, data: { opts: { rooms: ["a"], except: [], flags: {} }, rooms: ["b"] }, uid: "n1", nsp: "/" });
cluster("cluster disconnect", { type: 6, data: { opts: { rooms: ["a"], except: [], flags: {} }, close: true }, uid: "n1", nsp: "/" });
cluster("cluster fetch", { type: 7, data: { opts: { rooms: [], except: [], flags: {} }, requestId: "q2" }, uid: "n1", nsp: "/" });
cluster("cluster server-side emit", { type: 9, data: { requestId: "q3", packet: ["ping", 1, { k: "v" }] }, uid: "n1", nsp: "/" });
cluster("cluster server-side answer", { type: 10, data: { requestId: "q3", packet: { ok: Buffer.from([5]) } }, uid: "n2", nsp: "/" });
cluster("cluster client count", { type: 11, data: { requestId: "q1", clientCount: 2 }, uid: "n2", nsp: "/" });

// A REMOTE_FETCH response as the Node.js adapter writes it, for a real socket of a socket.io 4.8 server.
async function fetchResponse() {
  const { Server } = require("socket.io");
  const { io: connect } = require("socket.io-client");
  const srv = new Server(0);
  const port = srv.httpServer.address().port;
  srv.on("connection", (s) => {
    s.join("room1");
    s.data = { b: 1, a: [true] };
  });
  const c = connect(`http://127.0.0.1:${port}`, {
    transports: ["websocket"], auth: { token: "t" }, query: { probe: "q" }, extraHeaders: { "x-fastio-test": "h" },
  });
  await new Promise((r) => c.on("connect", r));
  const [socket] = await srv.fetchSockets();
  const { sessionStore, ...handshake } = socket.handshake;
  const json = JSON.stringify({
    requestId: "req002",
    sockets: [{ id: socket.id, handshake, rooms: [...socket.rooms], data: socket.data }],
  });
  cases.push({ name: "fetch response", kind: "fetch-response", json, uid: socket.id });
  c.disconnect();
  srv.close();
}

fetchResponse().then(() => {
  fs.writeFileSync(path.join(__dirname, "../../../adapter/redis/wire/testdata/notepack.json"), JSON.stringify(cases, null, 1) + "\n");
  console.log("wrote", cases.length, "cases");
  process.exit(0);
});
