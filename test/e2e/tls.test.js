// HTTPS / WSS end-to-end tests: the real socket.io-client and engine.io-client talk to
// `$FASTIO_SERVER --tls-self-signed` (net/http with a throwaway self-signed certificate for 127.0.0.1,
// ::1 and localhost), plus a short check of `--stdhttp` over plain HTTP.
//
// The Node.js reference server has no TLS flag, so without FASTIO_SERVER every test here is skipped.

import { after, afterEach, before, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import http2 from "node:http2";
import tls from "node:tls";
import { io } from "socket.io-client";
import { Socket as EngineSocket } from "engine.io-client";
import { isReference, RELAXED_ARGS, RELAXED_MODE, startServer } from "./lib/server.js";
import { bytes, collect, once, sleep, waitUntil, withTimeout, emitAck, roundTrip } from "./lib/util.js";

const SKIP = isReference() ? "the reference server has no --tls-self-signed (set FASTIO_SERVER)" : false;
const T = { timeout: 30_000, skip: SKIP };
// Generous waits: the machine may be loaded; a failing wait only costs time.
const WAIT = 10_000;
// Node clients accept the throwaway certificate (one test pins it as `ca` instead).
const INSECURE = { rejectUnauthorized: false };

// `server`: TLS with the contract heartbeat (or the relaxed one in RELAXED_MODE), for the functional tests;
// `relaxed`: TLS with the benchmark heartbeat, for raw HTTP/2 clients that do not answer pings.
let server, relaxed;
const sockets = new Set();
const engines = new Set();
const extraServers = new Set();
const closers = new Set();

before(async () => {
  if (SKIP) return;
  const functionalArgs = RELAXED_MODE ? [...RELAXED_ARGS] : [];
  const [a, b] = await Promise.all([
    startServer(["--tls-self-signed", ...functionalArgs]),
    RELAXED_MODE ? null : startServer(["--tls-self-signed", ...RELAXED_ARGS]),
  ]);
  server = a;
  relaxed = b ?? a;
  for (const s of new Set([server, relaxed])) s.https = `https://127.0.0.1:${s.port}`;
});

afterEach(async () => {
  for (const s of sockets) {
    s.io.reconnection(false);
    s.disconnect();
    s.io._close?.();
  }
  sockets.clear();
  for (const e of engines) e.close();
  engines.clear();
  for (const fn of closers) {
    try {
      fn();
    } catch {
      // already closed
    }
  }
  closers.clear();
  for (const s of extraServers) await s.stop();
  extraServers.clear();
});

after(async () => {
  await Promise.all([...new Set([server, relaxed])].filter(Boolean).map((s) => s.stop()));
});

/** A socket.io-client on `base` (https://... by default) that afterEach closes. */
function client(opts = {}, base = server.https) {
  const socket = io(base, {
    forceNew: true,
    ...INSECURE,
    reconnectionDelay: 50,
    reconnectionDelayMax: 200,
    randomizationFactor: 0,
    ...opts,
  });
  sockets.add(socket);
  return socket;
}

/** Connects and resolves once both "connect" and the server's "auth" arrived. */
async function connect(opts = {}, base = server.https) {
  const socket = client(opts, base);
  const authP = once(socket, "auth", WAIT, ["connect_error"]);
  await once(socket, "connect", WAIT, ["connect_error"]);
  const [auth] = await authP;
  return { socket, auth };
}


async function ownServer(args = []) {
  const s = await startServer(args);
  extraServers.add(s);
  return s;
}

/** Echo, message-with-ack, message-back and binary over an already connected socket. */
async function checkHandlers(socket, tag) {
  // ack: echo and message-with-ack
  assert.deepEqual(await emitAck(socket, "echo", tag, 1, { x: [2, "three"] }), [tag, 1, { x: [2, "three"] }]);
  assert.deepEqual(await emitAck(socket, "message-with-ack", tag, null, true), [tag, null, true]);
  // echo without an ack comes back as an "echo" event
  assert.deepEqual(await roundTrip(socket, "echo", "echo", tag, "no-ack"), [tag, "no-ack"]);
  // message -> message-back
  assert.deepEqual(await roundTrip(socket, "message", "message-back", tag, "ünï 漢 🙂"), [tag, "ünï 漢 🙂"]);
  // binary attachments, top level and nested, stay binary
  const small = bytes(16, 11);
  const empty = Buffer.alloc(0);
  const big = bytes(200 * 1024, 12); // several TLS records
  const args = [small, { nested: [empty, { big }], n: 1 }, tag];
  const back = await roundTrip(socket, "message", "message-back", ...args);
  assert.deepEqual(back, args);
  assert.ok(Buffer.isBuffer(back[0]), "top-level attachment is a Buffer");
  assert.ok(Buffer.isBuffer(back[1].nested[1].big), "nested attachment is a Buffer");
  // binary in an ack
  const [ackBin] = await emitAck(socket, "message-with-ack", small);
  assert.ok(Buffer.isBuffer(ackBin));
  assert.deepEqual(ackBin, small);
}

/** Resolves with the next engine.io-client "message" (text or binary). */
function nextEngineMessage(engine) {
  return once(engine, "message", WAIT, ["close", "error"]).then(([m]) => m);
}

// ---------------------------------------------------------------- socket.io over TLS

test("tls websocket-only: connect, acks, message-back, binary round trip", T, async () => {
  const { socket, auth } = await connect({ transports: ["websocket"], auth: { over: "wss" } });
  assert.deepEqual(auth, { over: "wss" });
  assert.equal(socket.io.engine.transport.name, "websocket");
  assert.equal(typeof socket.id, "string");
  await checkHandlers(socket, "wss");
});

test("tls polling-only: connect, messages both ways, acks, binary round trip", T, async () => {
  const { socket, auth } = await connect({ transports: ["polling"] });
  assert.deepEqual(auth, {});
  assert.equal(socket.io.engine.transport.name, "polling");
  await checkHandlers(socket, "https-polling");

  // many messages in both directions, some sent in one burst (several packets per POST and per GET)
  const N = 60;
  const backs = collect(socket, "message-back", N, WAIT, true);
  for (let i = 0; i < N; i++) {
    socket.emit("message", i, i % 10 === 0 ? bytes(32, i + 1) : `s${i}`);
    if (i % 20 === 19) await sleep(5);
  }
  const got = await backs;
  got.forEach((args, i) => assert.deepEqual(args, [i, i % 10 === 0 ? bytes(32, i + 1) : `s${i}`], `message ${i}`));
  // and many acks in flight at once resolve to the right callers
  const acks = await Promise.all(Array.from({ length: 30 }, (_, i) => emitAck(socket, "message-with-ack", i)));
  acks.forEach((r, i) => assert.deepEqual(r, [i]));
  assert.equal(socket.io.engine.transport.name, "polling");
});

test("tls polling -> websocket upgrade: messages before, during and after the upgrade arrive in order", T, async () => {
  const socket = client({ transports: ["polling", "websocket"] });
  const engine = socket.io.engine;
  const got = [];
  socket.on("message-back", (i) => got.push(i));
  const sentOn = [];
  let n = 0;
  const send = () => {
    sentOn.push(engine.transport?.name ?? "none");
    socket.emit("message", n++);
  };
  const upgraded = once(engine, "upgrade", WAIT, ["close"]);
  // buffered by the client until CONNECT, then flushed over polling
  for (let i = 0; i < 10; i++) send();
  // sent while the probe is in flight: the client buffers them and flushes after the switch
  engine.on("upgrading", () => {
    for (let i = 0; i < 10; i++) send();
  });
  const authP = once(socket, "auth", WAIT, ["connect_error"]);
  await once(socket, "connect", WAIT, ["connect_error"]);
  await authP;
  // keep sending until the upgrade is done
  let done = false;
  const upgradedFlag = upgraded.then(
    () => (done = true),
    (err) => {
      done = true;
      throw err;
    },
  );
  while (!done) {
    send();
    await Promise.race([upgradedFlag.catch(() => {}), sleep(3)]);
  }
  const [transport] = await upgraded;
  assert.equal(transport.name, "websocket");
  assert.equal(socket.io.engine.transport.name, "websocket");
  // right after the upgrade
  for (let i = 0; i < 10; i++) send();
  await waitUntil(() => got.length >= n, WAIT, `${n} "message-back" events (got ${got.length})`);
  assert.deepEqual(got, Array.from({ length: n }, (_, i) => i));
  assert.ok(sentOn.includes("polling"), "some messages were sent while on polling");
  assert.ok(sentOn.includes("websocket"), "some messages were sent after the upgrade");
  // still fully usable over wss after the upgrade
  await checkHandlers(socket, "upgraded");
});

for (const transports of [["websocket"], ["polling"], ["polling", "websocket"]]) {
  const name = transports.join("+");
  test(`tls reconnection (${name}): disconnect() then connect() again; reconnects by itself after a server restart`, T, async () => {
    // its own server, restarted below (a new process, hence a new self-signed certificate)
    const own = await ownServer(["--tls-self-signed", ...(RELAXED_MODE ? RELAXED_ARGS : [])]);
    const base = `https://127.0.0.1:${own.port}`;
    const { socket } = await connect({ transports }, base);
    const ids = [socket.id];
    for (let round = 0; round < 3; round++) {
      const gone = once(socket, "disconnect", WAIT);
      socket.disconnect();
      const [reason] = await gone;
      assert.equal(reason, "io client disconnect");
      assert.equal(socket.connected, false);
      const authP = once(socket, "auth", WAIT, ["connect_error"]);
      socket.connect();
      await once(socket, "connect", WAIT, ["connect_error"]);
      await authP;
      assert.ok(!ids.includes(socket.id), "a new session gets a new id");
      ids.push(socket.id);
      if (transports.length === 2 && socket.io.engine.transport.name !== "websocket") {
        await once(socket.io.engine, "upgrade", WAIT, ["close"]);
      }
      assert.deepEqual(await roundTrip(socket, "message", "message-back", "round", round), ["round", round]);
      assert.deepEqual(await emitAck(socket, "echo", round), [round]);
    }
    // the server goes away under the client (not a client disconnect): the client reconnects by itself
    const dropped = once(socket, "disconnect", WAIT);
    await own.stop();
    const [reason] = await dropped;
    assert.ok(!["io client disconnect", "io server disconnect"].includes(reason), `disconnect reason ${reason}`);
    const authP = once(socket, "auth", 20_000);
    const reconnected = once(socket, "connect", 20_000);
    await own.restart();
    await reconnected;
    await authP;
    assert.ok(!ids.includes(socket.id));
    assert.deepEqual(await roundTrip(socket, "message", "message-back", bytes(64, 5)), [bytes(64, 5)]);
  });
}

test("tls broadcast reaches a websocket client and a polling client", T, async () => {
  const room = `tls-room-${process.pid}`;
  const { socket: a } = await connect({ transports: ["websocket"] });
  const { socket: b } = await connect({ transports: ["polling"] });
  for (const s of [a, b]) assert.deepEqual(await emitAck(s, "join", room), []);

  const bin = bytes(1000, 7);
  const toBoth = Promise.all([a, b].map((s) => once(s, "broadcast", WAIT, ["disconnect"])));
  a.emit("broadcast", room, "from-a", 1, { bin });
  for (const args of await toBoth) assert.deepEqual(args, ["from-a", 1, { bin }]);

  const toBoth2 = Promise.all([a, b].map((s) => once(s, "broadcast", WAIT, ["disconnect"])));
  b.emit("broadcast", room, "from-b");
  for (const args of await toBoth2) assert.deepEqual(args, ["from-b"]);

  // broadcast-others: the polling sender does not get it, the websocket client does
  const seenByB = [];
  b.on("broadcast", (...args) => seenByB.push(args));
  const toA = once(a, "broadcast", WAIT, ["disconnect"]);
  b.emit("broadcast-others", room, "others-from-b");
  assert.deepEqual(await toA, ["others-from-b"]);
  // a marker sent after it by b to b itself: when it arrives, "others-from-b" would have arrived first
  assert.deepEqual(await roundTrip(b, "message", "message-back", "marker"), ["marker"]);
  assert.deepEqual(seenByB, []);

  // "" reaches every socket on /, both transports included
  const toAll = Promise.all(
    [a, b].map((s) =>
      withTimeout(
        new Promise((resolve) => {
          const h = (...args) => {
            if (args[0] === "everyone") {
              s.off("broadcast", h);
              resolve(args);
            }
          };
          s.on("broadcast", h);
        }),
        WAIT,
        `broadcast to everyone on ${s.io.engine.transport.name}`,
      ),
    ),
  );
  a.emit("broadcast", "", "everyone", bytes(10, 9));
  for (const args of await toAll) assert.deepEqual(args, ["everyone", bytes(10, 9)]);
});

test("tls certificate: valid for 127.0.0.1 and localhost; clients that pin it connect with verification on", T, async () => {
  const cert = await withTimeout(
    new Promise((resolve, reject) => {
      const s = tls.connect({ host: "127.0.0.1", port: server.port, ...INSECURE }, () => {
        const c = s.getPeerCertificate();
        s.end();
        resolve(c);
      });
      s.on("error", reject);
      closers.add(() => s.destroy());
    }),
    WAIT,
    "TLS handshake",
  );
  assert.ok(cert.raw?.length > 0, "the server presents a certificate");
  assert.equal(tls.checkServerIdentity("127.0.0.1", cert), undefined, "valid for 127.0.0.1");
  assert.equal(tls.checkServerIdentity("localhost", cert), undefined, "valid for localhost");
  const pem = `-----BEGIN CERTIFICATE-----\n${cert.raw
    .toString("base64")
    .match(/.{1,64}/g)
    .join("\n")}\n-----END CERTIFICATE-----\n`;
  for (const transports of [["websocket"], ["polling"]]) {
    const { socket } = await connect({ transports, rejectUnauthorized: true, ca: pem });
    assert.deepEqual(await roundTrip(socket, "message", "message-back", "pinned", transports[0]), ["pinned", transports[0]]);
  }
  // without the pin and with verification on, the client refuses the unknown certificate
  const refused = client({ transports: ["websocket"], rejectUnauthorized: true, reconnection: false });
  const [err] = await once(refused, "connect_error", WAIT, ["connect"]);
  assert.ok(err instanceof Error);
});

test("tls: a plain-HTTP request and plain ws:// / http:// clients on the TLS port fail, they do not hang", T, async () => {
  // raw HTTP/1.1 request: a 400 response (Go's "client sent an HTTP request to an HTTPS server") or a reset
  const outcome = await withTimeout(
    new Promise((resolve) => {
      const req = http.get(
        { host: "127.0.0.1", port: server.port, path: "/socket.io/?EIO=4&transport=polling", agent: false },
        (res) => {
          res.resume();
          res.on("end", () => resolve({ status: res.statusCode }));
          res.on("error", (err) => resolve({ status: res.statusCode, err }));
        },
      );
      req.on("error", (err) => resolve({ err }));
      closers.add(() => req.destroy());
    }),
    WAIT,
    "the plain-HTTP request to settle",
  );
  if (outcome.status !== undefined) {
    assert.ok(outcome.status >= 400, `plain HTTP on the TLS port got status ${outcome.status}`);
  } else {
    assert.ok(outcome.err instanceof Error);
  }
  // socket.io-client with http:// and ws:// on the TLS port: connect_error, never "connect"
  for (const transports of [["polling"], ["websocket"]]) {
    const s = client({ transports, reconnection: false, timeout: 5000 }, `http://127.0.0.1:${server.port}`);
    const [err] = await once(s, "connect_error", WAIT, ["connect"]);
    assert.ok(err instanceof Error, `${transports[0]}: connect_error`);
  }
  // the TLS server still works afterwards
  const { socket } = await connect({ transports: ["websocket"] });
  assert.deepEqual(await emitAck(socket, "echo", "still-up"), ["still-up"]);
});

// ---------------------------------------------------------------- engine.io over TLS

for (const transports of [["websocket"], ["polling"], ["polling", "websocket"]]) {
  const name = transports.join("+");
  test(`tls engine.io echo (${name}): text and binary come back unchanged`, T, async () => {
    const engine = new EngineSocket(`${server.https}/engine.io/`, { transports, ...INSECURE });
    engines.add(engine);
    await once(engine, "open", WAIT, ["close", "error"]);
    if (transports.length === 2) {
      if (engine.transport.name !== "websocket") await once(engine, "upgrade", WAIT, ["close", "error"]);
      assert.equal(engine.transport.name, "websocket");
    } else {
      assert.equal(engine.transport.name, transports[0]);
    }
    const text = "héllo 🙂 over TLS";
    const p1 = nextEngineMessage(engine);
    engine.send(text);
    assert.equal(await p1, text);
    const bin = bytes(64 * 1024, 21);
    const p2 = nextEngineMessage(engine);
    engine.send(bin);
    const got = await p2;
    assert.deepEqual(Buffer.from(got), bin);
    // a burst keeps its order
    const burst = collect(engine, "message", 20);
    for (let i = 0; i < 20; i++) engine.send(`m${i}`);
    assert.deepEqual(await burst, Array.from({ length: 20 }, (_, i) => `m${i}`));
  });
}

// ---------------------------------------------------------------- HTTP/2 polling

/** A minimal HTTP/2 client for Engine.IO long-polling. */
async function h2Session(base) {
  const session = http2.connect(base, { ...INSECURE });
  closers.add(() => session.destroy());
  session.on("error", () => {});
  await once(session, "connect", WAIT, ["error"]);
  const request = (method, path, body) =>
    withTimeout(
      new Promise((resolve, reject) => {
        const headers = { ":method": method, ":path": path };
        if (body !== undefined) headers["content-type"] = "text/plain;charset=UTF-8";
        const req = session.request(headers, { endStream: body === undefined });
        let status;
        const chunks = [];
        req.on("response", (h) => (status = h[":status"]));
        req.on("data", (c) => chunks.push(c));
        req.on("end", () => resolve({ status, body: Buffer.concat(chunks).toString() }));
        req.on("error", reject);
        if (body !== undefined) req.end(body);
      }),
      WAIT,
      `HTTP/2 ${method} ${path}`,
    );
  return { session, request };
}

test("tls HTTP/2: Engine.IO and Socket.IO long-polling over h2", T, async () => {
  const { session, request } = await h2Session(relaxed.https);
  assert.equal(session.alpnProtocol, "h2", "HTTP/2 negotiated by ALPN");

  // Engine.IO echo endpoint
  const hs = await request("GET", "/engine.io/?EIO=4&transport=polling");
  assert.equal(hs.status, 200);
  assert.equal(hs.body[0], "0");
  const open = JSON.parse(hs.body.slice(1));
  assert.deepEqual(Object.keys(open), ["sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"]);
  assert.deepEqual(open.upgrades, ["websocket"]);
  const eio = `/engine.io/?EIO=4&transport=polling&sid=${encodeURIComponent(open.sid)}`;
  const post = await request("POST", eio, "4hello h2\x1ebAQID\x1e4ünï");
  assert.equal(post.status, 200);
  assert.equal(post.body, "ok");
  const echoed = [];
  while (echoed.length < 3) {
    const get = await request("GET", eio);
    assert.equal(get.status, 200);
    echoed.push(...get.body.split("\x1e"));
  }
  assert.deepEqual(echoed, ["4hello h2", "bAQID", "4ünï"]);
  // a long-poll held open on one h2 stream is answered when a message is posted on another stream
  const pending = request("GET", eio);
  await sleep(50);
  assert.equal((await request("POST", eio, "4later")).status, 200);
  assert.deepEqual(await pending, { status: 200, body: "4later" });

  // Socket.IO on the same h2 connection
  const shs = await request("GET", "/socket.io/?EIO=4&transport=polling");
  assert.equal(shs.status, 200);
  const sid = JSON.parse(shs.body.slice(1)).sid;
  const sio = `/socket.io/?EIO=4&transport=polling&sid=${encodeURIComponent(sid)}`;
  assert.equal((await request("POST", sio, '40{"via":"h2"}')).status, 200);
  const packets = [];
  const nextPacket = async () => {
    while (packets.length === 0) {
      const get = await request("GET", sio);
      assert.equal(get.status, 200);
      packets.push(...get.body.split("\x1e"));
    }
    return packets.shift();
  };
  const connected = await nextPacket();
  assert.match(connected, /^40\{"sid":"[^"]+"\}$/);
  assert.equal(await nextPacket(), '42["auth",{"via":"h2"}]');
  assert.equal((await request("POST", sio, '42["message","over h2",1]\x1e421["echo","acked"]')).status, 200);
  assert.equal(await nextPacket(), '42["message-back","over h2",1]');
  assert.equal(await nextPacket(), '431["acked"]');
  assert.equal((await request("POST", sio, "1")).status, 200);
});

// ---------------------------------------------------------------- --stdhttp (plain HTTP through net/http)

test("--stdhttp: websocket, polling and upgrade clients over plain HTTP", T, async () => {
  const std = await ownServer(["--stdhttp", ...(RELAXED_MODE ? RELAXED_ARGS : [])]);
  const { socket: ws } = await connect({ transports: ["websocket"] }, std.url);
  const { socket: poll } = await connect({ transports: ["polling"] }, std.url);
  const { socket: up } = await connect({ transports: ["polling", "websocket"] }, std.url);
  if (up.io.engine.transport.name !== "websocket") await once(up.io.engine, "upgrade", WAIT, ["close"]);
  assert.equal(up.io.engine.transport.name, "websocket");
  for (const [tag, s] of [["ws", ws], ["poll", poll], ["up", up]]) {
    const bin = bytes(100, tag.length);
    assert.deepEqual(await roundTrip(s, "message", "message-back", tag, { bin }), [tag, { bin }]);
    assert.deepEqual(await emitAck(s, "message-with-ack", tag, bin), [tag, bin]);
  }
  const room = "std-room";
  for (const s of [ws, poll, up]) assert.deepEqual(await emitAck(s, "join", room), []);
  const all = Promise.all([ws, poll, up].map((s) => once(s, "broadcast", WAIT, ["disconnect"])));
  poll.emit("broadcast", room, "to-all-three");
  for (const args of await all) assert.deepEqual(args, ["to-all-three"]);
});
