// Socket.IO end-to-end tests against the testserver contract at /socket.io/,
// driven by the real socket.io-client (plus a few raw WebSocket checks of
// the exact wire format).

import { after, afterEach, before, test } from "node:test";
import assert from "node:assert/strict";
import { io, Manager } from "socket.io-client";
import WebSocket from "ws";
import { startServer, startServers } from "./lib/server.js";
import { bytes, once, sleep, text, waitUntil, withTimeout, emitAck, roundTrip } from "./lib/util.js";

const T = { timeout: 30_000 };
// Generous waits: the machine may be loaded; a failing wait only costs time.
const WAIT = 10_000;
const TRANSPORTS = {
  websocket: { transports: ["websocket"] },
  polling: { transports: ["polling"] },
  "polling+upgrade": { transports: ["polling", "websocket"] },
};

// See startServers(): `server` for functional tests, `strict` (always the
// contract's 300 ms/200 ms heartbeat) for the wire and timeout checks,
// `relaxed` (25 s/20 s) for big payloads and many clients: those are not about
// the heartbeat and must not race the 500 ms ping timeout on a loaded machine.
let servers, server, strict, relaxed;
const sockets = new Set();
const managers = new Set();
const raws = new Set();
const extraServers = new Set();

before(async () => {
  servers = await startServers();
  ({ server, strict, relaxed } = servers);
});

afterEach(async () => {
  for (const s of sockets) s.disconnect();
  sockets.clear();
  for (const m of managers) m._close();
  managers.clear();
  for (const r of raws) r.terminate();
  raws.clear();
  for (const s of extraServers) await s.stop();
  extraServers.clear();
});

after(async () => {
  await servers?.stopAll();
});

function client(nsp = "/", opts = {}, srv = server) {
  const socket = io(srv.url + nsp, { forceNew: true, transports: ["websocket"], ...opts });
  sockets.add(socket);
  return socket;
}

/** Connects and resolves once both "connect" and the server's "auth" arrived. */
async function connect(nsp = "/", opts = {}, srv = server, ms = WAIT) {
  const socket = client(nsp, opts, srv);
  const authP = once(socket, "auth", ms, ["connect_error"]);
  await once(socket, "connect", ms, ["connect_error"]);
  const [auth] = await authP;
  return { socket, auth };
}


async function ownServer(args = []) {
  const s = await startServer(args);
  extraServers.add(s);
  return s;
}

function rawWs(srv = server) {
  const ws = new WebSocket(`ws://127.0.0.1:${srv.port}/socket.io/?EIO=4&transport=websocket`);
  raws.add(ws);
  const frames = [];
  const waiters = [];
  ws.pings = 0;
  ws.on("message", (data, isBinary) => {
    // answer Engine.IO pings so that the heartbeat never closes us
    if (!isBinary && data.toString() === "2") {
      ws.pings++;
      ws.send("3");
      return;
    }
    frames.push(isBinary ? data : data.toString());
    while (waiters.length) waiters.shift()();
  });
  ws.next = async (ms = WAIT) => {
    await withTimeout(
      (async () => {
        while (frames.length === 0) await new Promise((r) => waiters.push(r));
      })(),
      ms,
      "next websocket frame",
    );
    return frames.shift();
  };
  return ws;
}

// -------------------------------------------------------------- connecting

for (const [name, opts] of Object.entries(TRANSPORTS)) {
  test(`connect (${name}): "auth" echoes the auth payload`, T, async () => {
    const auth = { token: "abc", n: 1, nested: { list: [1, "x", null, true] }, "ü": "漢" };
    const { socket, auth: got } = await connect("/", { ...opts, auth });
    assert.deepEqual(got, auth);
    assert.equal(typeof socket.id, "string");
    assert.equal(socket.id.length, 20);
    const engine = socket.io.engine;
    if (name === "polling+upgrade") {
      if (engine.transport.name !== "websocket") await once(engine, "upgrade", WAIT);
      assert.equal(engine.transport.name, "websocket");
      // still usable after the upgrade
      assert.deepEqual(await roundTrip(socket, "message", "message-back", "after upgrade"), ["after upgrade"]);
    } else {
      assert.equal(engine.transport.name, opts.transports[0]);
    }
  });

  test(`connect (${name}): without auth the server sends "auth" with {}`, T, async () => {
    const { auth } = await connect("/", opts);
    assert.deepEqual(auth, {});
  });
}

for (const nsp of ["/custom", "/guarded"]) {
  test(`connect to ${nsp}: "auth" echoes the auth payload`, T, async () => {
    const auth = { token: "secret", extra: [1, 2] };
    const { socket, auth: got } = await connect(nsp, { auth });
    assert.deepEqual(got, auth);
    assert.equal(socket.nsp, nsp);
  });
}

// ---------------------------------------------------------------- message

const JSON_VALUES = [
  null,
  true,
  false,
  0,
  1,
  -1,
  3.14159,
  -2.5e-7,
  1e21,
  Number.MAX_SAFE_INTEGER,
  -Number.MAX_SAFE_INTEGER,
  "",
  "plain",
  "quotes \" and \\ backslash / slash \n newline \t tab \u0000 nul \u001f",
  "<script>&amp;</script> \u2028 \u2029",
  "ünïcödé 漢字 한국어 العربية 🙂👍🏽",
  [],
  {},
  [1, "two", null, false, [3, [4, {}]]],
  { a: 1, b: "two", c: null, d: [true, false], e: { f: { g: "deep" } }, "key with space": 0, "": "empty key" },
  { z: 1, a: 2, m: 3 },
];

for (const [name, opts] of Object.entries(TRANSPORTS)) {
  test(`message -> message-back (${name}): every JSON value kind`, T, async () => {
    const { socket } = await connect("/", opts);
    for (const value of JSON_VALUES) {
      const back = await roundTrip(socket, "message", "message-back", value);
      assert.deepEqual(back, [value], `value ${JSON.stringify(value)}`);
    }
    // key order is kept
    const [obj] = await roundTrip(socket, "message", "message-back", { z: 1, a: 2, m: 3 });
    assert.deepEqual(Object.keys(obj), ["z", "a", "m"]);
    // several arguments at once, and no arguments
    assert.deepEqual(await roundTrip(socket, "message", "message-back", ...JSON_VALUES), JSON_VALUES);
    assert.deepEqual(await roundTrip(socket, "message", "message-back"), []);
  });

  test(`message -> message-back (${name}): 500 KB string`, T, async () => {
    const { socket } = await connect("/", opts, relaxed);
    const big = text(500 * 1024);
    const [back] = await roundTrip(socket, "message", "message-back", big);
    assert.equal(back.length, big.length);
    assert.ok(back === big, "500 KB string differs");
  });

  test(`message -> message-back (${name}): binary nested in objects and arrays`, T, async () => {
    const { socket } = await connect("/", opts);
    const a = bytes(16, 1);
    const b = bytes(1, 2);
    const c = Buffer.alloc(0);
    const big = bytes(100 * 1024, 3);
    const args = [
      a,
      { bin: b, list: [c, "text", { deeper: [1, a] }], n: 5 },
      [b, [big]],
      "tail",
    ];
    const back = await roundTrip(socket, "message", "message-back", ...args);
    assert.deepEqual(back, args);
    assert.ok(Buffer.isBuffer(back[0]));
    assert.ok(Buffer.isBuffer(back[2][1][0]));
    // Uint8Array / ArrayBuffer in -> Buffer out
    const u8 = new Uint8Array([1, 2, 3, 250]);
    const [u8Back] = await roundTrip(socket, "message", "message-back", { u8 });
    assert.deepEqual(u8Back, { u8: Buffer.from(u8) });
    const ab = new Uint8Array([9, 8, 7]).buffer;
    const [abBack] = await roundTrip(socket, "message", "message-back", [ab]);
    assert.deepEqual(abBack, [Buffer.from([9, 8, 7])]);
  });
}

test("message-with-ack: the ack gets all the other arguments", T, async () => {
  const { socket } = await connect("/");
  const args = [1, "two", { three: [3] }, null, bytes(8, 4), true];
  assert.deepEqual(await emitAck(socket, "message-with-ack", ...args), args);
  assert.deepEqual(await emitAck(socket, "message-with-ack"), []);
  assert.deepEqual(await emitAck(socket, "message-with-ack", "ünï 🙂"), ["ünï 🙂"]);
  // many acks in flight at once resolve to the right callers
  const results = await Promise.all(
    Array.from({ length: 50 }, (_, i) => emitAck(socket, "message-with-ack", i, `s${i}`)),
  );
  results.forEach((r, i) => assert.deepEqual(r, [i, `s${i}`]));
});

test("message-with-ack works on /custom and /guarded too", T, async () => {
  for (const nsp of ["/custom", "/guarded"]) {
    const { socket } = await connect(nsp, { auth: { token: "secret" } });
    assert.deepEqual(await emitAck(socket, "message-with-ack", nsp, 1), [nsp, 1]);
    assert.deepEqual(await roundTrip(socket, "message", "message-back", nsp, 2), [nsp, 2]);
  }
});

// ------------------------------------------------------------------- echo

test("echo with an ack: the ack gets the arguments", T, async () => {
  const { socket } = await connect("/");
  assert.deepEqual(await emitAck(socket, "echo", 1, "a", { b: [2] }), [1, "a", { b: [2] }]);
  assert.deepEqual(await emitAck(socket, "echo"), []);
  const bin = bytes(64, 9);
  assert.deepEqual(await emitAck(socket, "echo", { bin }), [{ bin }]);
});

test("echo without an ack: the server emits \"echo\" back", T, async () => {
  const { socket } = await connect("/");
  assert.deepEqual(await roundTrip(socket, "echo", "echo", 1, "a", { b: [2] }), [1, "a", { b: [2] }]);
  const bin = bytes(64, 10);
  assert.deepEqual(await roundTrip(socket, "echo", "echo", [bin]), [[bin]]);
  assert.deepEqual(await roundTrip(socket, "echo", "echo"), []);
});

test("/custom has no \"echo\" handler: an acked echo times out", T, async () => {
  const { socket } = await connect("/custom");
  await assert.rejects(socket.timeout(500).emitWithAck("echo", 1), /operation has timed out/);
  // the socket is still fine
  assert.deepEqual(await emitAck(socket, "message-with-ack", "ok"), ["ok"]);
});

test("unknown events are ignored", T, async () => {
  const { socket } = await connect("/");
  await assert.rejects(socket.timeout(300).emitWithAck("no-such-event", 1), /operation has timed out/);
  assert.equal(socket.connected, true);
  assert.deepEqual(await emitAck(socket, "echo", "alive"), ["alive"]);
});

// ------------------------------------------------------------- server-ack

test("server-ack answered: \"server-ack-result\" carries the ack's first argument", T, async () => {
  const { socket } = await connect("/");
  const pingArgs = [];
  socket.on("ping-me", (...args) => {
    const ack = args.pop();
    assert.equal(typeof ack, "function");
    pingArgs.push(args);
    ack({ answer: args[0] }, "second argument is dropped");
  });
  const result = await roundTrip(socket, "server-ack", "server-ack-result", "q1", 2, { three: 3 });
  assert.deepEqual(pingArgs, [["q1", 2, { three: 3 }]]);
  assert.deepEqual(result, [{ answer: "q1" }]);
});

test("server-ack not answered: \"server-ack-result\" is \"timeout\" after ~1 s", T, async () => {
  const { socket } = await connect("/");
  let pinged = null;
  socket.on("ping-me", (...args) => {
    assert.equal(typeof args[args.length - 1], "function");
    pinged = args.slice(0, -1);
  });
  const start = Date.now();
  const result = await roundTrip(socket, "server-ack", "server-ack-result", "no answer");
  const elapsed = Date.now() - start;
  assert.deepEqual(pinged, ["no answer"]);
  assert.deepEqual(result, ["timeout"]);
  assert.ok(elapsed >= 900 && elapsed < 2000, `timeout after ${elapsed} ms`);
});

test("server-ack answered late (after the timeout) still gives \"timeout\" only", T, async () => {
  const { socket } = await connect("/");
  socket.on("ping-me", (...args) => {
    const ack = args.pop();
    setTimeout(() => ack("too late"), 1300);
  });
  const results = [];
  socket.on("server-ack-result", (v) => results.push(v));
  socket.emit("server-ack");
  await sleep(1800);
  assert.deepEqual(results, ["timeout"]);
  assert.equal(socket.connected, true);
});

// ------------------------------------------------------------ multiplexing

test("/ and /custom multiplexed over one connection", T, async () => {
  const manager = new Manager(server.url, {});
  managers.add(manager);
  const main = manager.socket("/", { auth: { which: "main" } });
  const custom = manager.socket("/custom", { auth: { which: "custom" } });
  sockets.add(main);
  sockets.add(custom);
  const [[mainAuth], [customAuth]] = await Promise.all([
    once(main, "auth", WAIT, ["connect_error"]),
    once(custom, "auth", WAIT, ["connect_error"]),
  ]);
  assert.deepEqual(mainAuth, { which: "main" });
  assert.deepEqual(customAuth, { which: "custom" });
  assert.equal(main.connected && custom.connected, true);
  assert.equal(main.io, custom.io);
  assert.equal(manager.engine.readyState, "open");

  const mainBacks = [];
  const customBacks = [];
  main.on("message-back", (...a) => mainBacks.push(a));
  custom.on("message-back", (...a) => customBacks.push(a));
  main.emit("message", "to-main");
  custom.emit("message", "to-custom");
  // acks are routed per namespace too
  assert.deepEqual(await emitAck(custom, "message-with-ack", "c"), ["c"]);
  assert.deepEqual(await emitAck(main, "echo", "m"), ["m"]);
  await sleep(50);
  assert.deepEqual(mainBacks, [["to-main"]]);
  assert.deepEqual(customBacks, [["to-custom"]]);

  // leaving one namespace keeps the other (and the connection) alive
  custom.disconnect();
  await sleep(100);
  assert.equal(manager.engine.readyState, "open");
  assert.deepEqual(await emitAck(main, "echo", "still"), ["still"]);
});

test("io() with the same URL shares one Manager for / and /custom", T, async () => {
  const url = `${server.url}`;
  const a = io(url, { transports: ["websocket"] });
  const b = io(`${url}/custom`, { transports: ["websocket"] });
  sockets.add(a);
  sockets.add(b);
  await Promise.all([once(a, "auth", WAIT, ["connect_error"]), once(b, "auth", WAIT, ["connect_error"])]);
  assert.equal(a.io, b.io);
  assert.deepEqual(await emitAck(b, "message-with-ack", "b"), ["b"]);
  assert.deepEqual(await emitAck(a, "message-with-ack", "a"), ["a"]);
});

// ------------------------------------------------------- rejected connects

test("unknown namespace -> connect_error \"Invalid namespace\"", T, async () => {
  const manager = new Manager(server.url, { transports: ["websocket"] });
  managers.add(manager);
  const bad = manager.socket("/does-not-exist");
  const good = manager.socket("/");
  sockets.add(bad);
  sockets.add(good);
  const [[err]] = await Promise.all([
    once(bad, "connect_error", WAIT, ["connect"]),
    once(good, "auth", WAIT, ["connect_error"]),
  ]);
  assert.ok(err instanceof Error);
  assert.equal(err.message, "Invalid namespace");
  assert.equal(err.data, undefined);
  assert.equal(bad.connected, false);
  assert.equal(bad.active, false);
  // the other namespace on the same connection is unaffected
  assert.deepEqual(await emitAck(good, "echo", "fine"), ["fine"]);
});

for (const [label, auth] of [
  ["no auth", undefined],
  ["wrong token", { token: "wrong" }],
  ["token of another type", { token: 123 }],
]) {
  test(`/guarded rejects (${label}) with "unauthorized" and data {code: 401}`, T, async () => {
    const socket = client("/guarded", auth ? { auth } : {});
    const [err] = await once(socket, "connect_error", WAIT, ["connect"]);
    assert.equal(err.message, "unauthorized");
    assert.deepEqual(err.data, { code: 401 });
    assert.equal(socket.connected, false);
    assert.equal(socket.active, false);
  });
}

test("/guarded accepts token \"secret\"", T, async () => {
  const { socket, auth } = await connect("/guarded", { auth: { token: "secret" } });
  assert.deepEqual(auth, { token: "secret" });
  assert.equal(socket.connected, true);
  assert.deepEqual(await roundTrip(socket, "message", "message-back", "guarded"), ["guarded"]);
});

// ------------------------------------------------------------------ rooms

/**
 * Records "broadcast" events per client and returns a function that waits
 * until every client has seen a final marker broadcast, then returns what
 * each client got before the marker. Events to one socket are delivered in
 * order, so anything sent before the marker has arrived by then.
 */
function recorder(named) {
  const got = Object.fromEntries(Object.keys(named).map((k) => [k, []]));
  for (const [k, s] of Object.entries(named)) s.on("broadcast", (...args) => got[k].push(args));
  let n = 0;
  return async (via) => {
    const marker = `marker-${n++}`;
    const waits = Object.values(named).map((s) =>
      withTimeout(
        new Promise((resolve) => {
          const h = (m) => {
            if (m === marker) {
              s.off("broadcast", h);
              resolve();
            }
          };
          s.on("broadcast", h);
        }),
        WAIT,
        marker,
      ),
    );
    via.emit("broadcast", "", marker);
    await Promise.all(waits);
    const out = {};
    for (const k of Object.keys(got)) {
      out[k] = got[k].filter((a) => a[0] !== marker);
      got[k].length = 0;
    }
    return out;
  };
}

test("rooms: join / leave / broadcast / broadcast-others across 3 clients", T, async () => {
  const [{ socket: a }, { socket: b }, { socket: c }] = await Promise.all([
    connect("/"),
    connect("/", { transports: ["polling"] }),
    connect("/"),
  ]);
  const settle = recorder({ a, b, c });

  assert.deepEqual(await emitAck(a, "join", "r1"), []);
  assert.deepEqual(await emitAck(b, "join", "r1"), []);

  a.emit("broadcast", "r1", "to-r1", 1, { x: [2] });
  assert.deepEqual(await settle(a), { a: [["to-r1", 1, { x: [2] }]], b: [["to-r1", 1, { x: [2] }]], c: [] });

  a.emit("broadcast-others", "r1", "others-r1");
  assert.deepEqual(await settle(a), { a: [], b: [["others-r1"]], c: [] });

  // a sender that is not a member still reaches the room, and not itself
  c.emit("broadcast", "r1", "from-outside");
  assert.deepEqual(await settle(c), { a: [["from-outside"]], b: [["from-outside"]], c: [] });
  c.emit("broadcast-others", "r1", "from-outside-others");
  assert.deepEqual(await settle(c), { a: [["from-outside-others"]], b: [["from-outside-others"]], c: [] });

  // "" means everybody on /
  b.emit("broadcast", "", "to-all");
  assert.deepEqual(await settle(b), { a: [["to-all"]], b: [["to-all"]], c: [["to-all"]] });
  b.emit("broadcast-others", "", "to-all-others");
  assert.deepEqual(await settle(b), { a: [["to-all-others"]], b: [], c: [["to-all-others"]] });

  // binary in broadcasts
  const bin = bytes(32, 5);
  a.emit("broadcast", "r1", { bin });
  assert.deepEqual(await settle(a), { a: [[{ bin }]], b: [[{ bin }]], c: [] });

  // leave
  assert.deepEqual(await emitAck(a, "leave", "r1"), []);
  b.emit("broadcast", "r1", "after-leave");
  assert.deepEqual(await settle(b), { a: [], b: [["after-leave"]], c: [] });

  // a room nobody is in
  a.emit("broadcast", "empty-room", "nobody");
  assert.deepEqual(await settle(a), { a: [], b: [], c: [] });

  // joining twice and a second room
  assert.deepEqual(await emitAck(c, "join", "r1"), []);
  assert.deepEqual(await emitAck(c, "join", "r1"), []);
  assert.deepEqual(await emitAck(c, "join", "r2"), []);
  a.emit("broadcast", "r1", "r1-again");
  a.emit("broadcast", "r2", "r2-only");
  assert.deepEqual(await settle(a), { a: [], b: [["r1-again"]], c: [["r1-again"], ["r2-only"]] });
});

test("rooms: sockets on /custom do not get broadcasts on /", T, async () => {
  const [{ socket: a }, { socket: other }] = await Promise.all([connect("/"), connect("/custom")]);
  let leaked = 0;
  other.on("broadcast", () => leaked++);
  const settle = recorder({ a });
  a.emit("broadcast", "", "only-main");
  assert.deepEqual(await settle(a), { a: [["only-main"]] });
  await sleep(50);
  assert.equal(leaked, 0);
});

test("rooms: auth.room joins that room on connect (before \"auth\" is sent)", T, async () => {
  const [{ socket: member, auth }, { socket: outsider }, { socket: sender }] = await Promise.all([
    connect("/", { auth: { room: "lobby" } }),
    connect("/", { auth: { room: "" } }),
    connect("/", { auth: { room: 42 } }),
  ]);
  assert.deepEqual(auth, { room: "lobby" });
  const settle = recorder({ member, outsider, sender });
  sender.emit("broadcast", "lobby", "hello lobby");
  assert.deepEqual(await settle(sender), { member: [["hello lobby"]], outsider: [], sender: [] });
  // an empty or non-string room joins nothing: "" and "42" reach nobody
  sender.emit("broadcast", "42", "numeric");
  assert.deepEqual(await settle(sender), { member: [], outsider: [], sender: [] });
});

test("rooms: the auth.room membership is in place when \"auth\" arrives", T, async () => {
  const { socket: sender } = await connect("/");
  const member = client("/", { auth: { room: "early" } });
  const got = [];
  member.on("broadcast", (...a) => got.push(a));
  // as soon as the member sees "auth", a broadcast to its room must reach it
  await once(member, "auth", WAIT, ["connect_error"]);
  assert.deepEqual(await emitAck(sender, "echo", "sync"), ["sync"]);
  sender.emit("broadcast", "early", "early-bird");
  await waitUntil(() => got.length > 0, WAIT, "broadcast");
  assert.deepEqual(got, [["early-bird"]]);
});

// ------------------------------------------------------------- disconnect

for (const [name, opts] of Object.entries(TRANSPORTS)) {
  test(`disconnect-me (${name}): reason "io server disconnect" and no reconnection`, T, async () => {
    const { socket } = await connect("/", { ...opts, reconnectionDelay: 50, reconnectionDelayMax: 100 });
    if (name === "polling+upgrade" && socket.io.engine.transport.name !== "websocket") {
      await once(socket.io.engine, "upgrade", WAIT);
    }
    let reconnects = 0;
    socket.io.on("reconnect_attempt", () => reconnects++);
    let connects = 0;
    socket.on("connect", () => connects++);
    const engineClosed = once(socket.io.engine, "close", WAIT);
    const [reason] = await roundTrip(socket, "disconnect-me", "disconnect");
    assert.equal(reason, "io server disconnect");
    assert.equal(socket.connected, false);
    assert.equal(socket.active, false);
    await engineClosed; // the underlying connection is closed too
    await sleep(600);
    assert.equal(reconnects, 0);
    assert.equal(connects, 0);
    assert.equal(socket.connected, false);
  });
}

test("disconnect-me closes the whole connection: every namespace on it gets \"io server disconnect\"", T, async () => {
  const manager = new Manager(server.url, { transports: ["websocket"], reconnectionDelay: 50 });
  managers.add(manager);
  const main = manager.socket("/");
  const custom = manager.socket("/custom");
  sockets.add(main);
  sockets.add(custom);
  await Promise.all([once(main, "auth", WAIT, ["connect_error"]), once(custom, "auth", WAIT, ["connect_error"])]);
  const reasons = {};
  main.on("disconnect", (r) => (reasons.main = r));
  custom.on("disconnect", (r) => (reasons.custom = r));
  let reconnects = 0;
  manager.on("reconnect_attempt", () => reconnects++);
  const engineClosed = once(manager.engine, "close", WAIT);
  main.emit("disconnect-me");
  await engineClosed;
  await sleep(300);
  assert.deepEqual(reasons, { main: "io server disconnect", custom: "io server disconnect" });
  assert.equal(custom.connected, false);
  assert.equal(custom.active, false);
  assert.equal(reconnects, 0);
});

test("wire: disconnect-me sends DISCONNECT for each namespace, then closes the WebSocket", T, async () => {
  const ws = rawWs(server);
  await ws.next();
  ws.send("40");
  assert.match(await ws.next(), /^40\{"sid":/);
  assert.equal(await ws.next(), '42["auth",{}]');
  ws.send("40/custom,");
  assert.match(await ws.next(), /^40\/custom,\{"sid":/);
  assert.equal(await ws.next(), '42/custom,["auth",{}]');
  const closed = once(ws, "close", WAIT);
  ws.send('42["disconnect-me"]');
  // one DISCONNECT per namespace, in the order they were joined
  assert.equal(await ws.next(), "41");
  assert.equal(await ws.next(), "41/custom,");
  const [code] = await closed;
  assert.equal(code, 1005); // closed without a status code
});

// ----------------------------------------------------------- reconnection

for (const [name, opts, expectedReason] of [
  ["websocket", TRANSPORTS.websocket, "transport close"],
  ["polling", TRANSPORTS.polling, "transport error"],
]) {
  test(`reconnection (${name}): the client reconnects after the server is killed and restarted`, T, async () => {
    const srv = await ownServer();
    const { socket, auth } = await connect(
      "/",
      { ...opts, auth: { token: "t" }, reconnectionDelay: 100, reconnectionDelayMax: 300, randomizationFactor: 0 },
      srv,
    );
    assert.deepEqual(auth, { token: "t" });
    const firstId = socket.id;
    const disconnected = once(socket, "disconnect", WAIT);
    srv.kill("SIGKILL");
    const [reason] = await disconnected;
    assert.equal(reason, expectedReason);
    assert.equal(socket.active, true);
    // let it fail at least once while the server is down
    await once(socket.io, "reconnect_error", WAIT);
    const reconnected = once(socket.io, "reconnect", 10_000);
    const authAgain = once(socket, "auth", 10_000);
    await srv.restart();
    const [attempts] = await reconnected;
    assert.ok(Number.isInteger(attempts) && attempts >= 2, `attempts ${attempts}`);
    assert.deepEqual((await authAgain)[0], { token: "t" });
    assert.equal(socket.connected, true);
    assert.notEqual(socket.id, firstId);
    assert.deepEqual(await emitAck(socket, "echo", "again"), ["again"]);
  });
}

// ------------------------------------------------------------ concurrency

test("200 concurrent clients each doing 5 acked echoes", { timeout: 60_000 }, async () => {
  // The relaxed server: 200 handshakes at once can stall this test process's
  // event loop for longer than the default pingInterval + pingTimeout
  // (500 ms) on a loaded 2-core machine.
  const srv = relaxed;
  const N = 200;
  const conns = await Promise.all(
    Array.from({ length: N }, (_, i) => connect("/", { auth: { i } }, srv, 30_000)),
  );
  conns.forEach(({ auth }, i) => assert.deepEqual(auth, { i }));
  const ids = new Set(conns.map(({ socket }) => socket.id));
  assert.equal(ids.size, N);
  const results = await Promise.all(
    conns.map(({ socket }, i) =>
      Promise.all(Array.from({ length: 5 }, (_, j) => emitAck(socket, "echo", i, j, `c${i}-${j}`))),
    ),
  );
  results.forEach((perClient, i) =>
    perClient.forEach((r, j) => assert.deepEqual(r, [i, j, `c${i}-${j}`])),
  );
});

// ------------------------------------------------------------ wire checks

test("wire: CONNECT reply, auth event and errors are byte-exact", T, async () => {
  const ws = rawWs(strict);
  assert.match(
    await ws.next(),
    /^0\{"sid":"[A-Za-z0-9_-]{20}","upgrades":\[\],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000\}$/,
  );
  ws.send("40");
  assert.match(await ws.next(), /^40\{"sid":"[A-Za-z0-9_-]{20}"\}$/);
  assert.equal(await ws.next(), '42["auth",{}]');
  ws.send('40/custom,{"a":"<&>"}');
  assert.match(await ws.next(), /^40\/custom,\{"sid":"[A-Za-z0-9_-]{20}"\}$/);
  assert.equal(await ws.next(), '42/custom,["auth",{"a":"<&>"}]');
  ws.send("40/x,");
  assert.equal(await ws.next(), '44/x,{"message":"Invalid namespace"}');
  ws.send("40/guarded,");
  assert.equal(await ws.next(), '44/guarded,{"message":"unauthorized","data":{"code":401}}');
  ws.send('42["message",1,"two",{"b":1,"a":[]}]');
  assert.equal(await ws.next(), '42["message-back",1,"two",{"b":1,"a":[]}]');
  ws.send('423["echo","x"]');
  assert.equal(await ws.next(), '433["x"]');
  ws.send('42/custom,7["message-with-ack",null]');
  assert.equal(await ws.next(), '43/custom,7[null]');
  ws.send('42[1,2]'); // numeric event names are valid (and ignored here)
  ws.send('42["echo","after numeric"]');
  assert.equal(await ws.next(), '42["echo","after numeric"]');
});

test("wire: binary attachments come back as a 45x packet plus binary frames", T, async () => {
  const ws = rawWs();
  await ws.next();
  ws.send("40");
  await ws.next();
  await ws.next();
  ws.send('452-["message",{"_placeholder":true,"num":0},{"x":{"_placeholder":true,"num":1}}]');
  ws.send(Buffer.from([1, 2, 3]));
  ws.send(Buffer.from([4]));
  assert.equal(
    await ws.next(),
    '452-["message-back",{"_placeholder":true,"num":0},{"x":{"_placeholder":true,"num":1}}]',
  );
  assert.deepEqual(await ws.next(), Buffer.from([1, 2, 3]));
  assert.deepEqual(await ws.next(), Buffer.from([4]));
});

test("connectTimeout: a connection that never sends CONNECT is closed after ~1 s", T, async () => {
  const ws = rawWs(strict);
  const first = await ws.next();
  assert.match(first, /^0\{"sid":/);
  const start = Date.now();
  // rawWs answers pings, so only the connect timeout can close us
  const [code] = await once(ws, "close", WAIT);
  const elapsed = Date.now() - start;
  assert.ok(elapsed >= 900 && elapsed <= 2000, `closed after ${elapsed} ms`);
  assert.ok(ws.pings >= 2, `pings answered: ${ws.pings}`);
  assert.equal(code, 1005);
});

test("--connect-timeout is honoured", T, async () => {
  const srv = await ownServer(["--connect-timeout", "300ms"]);
  const ws = rawWs(srv);
  assert.match(await ws.next(), /^0\{"sid":/);
  const start = Date.now();
  const [code] = await once(ws, "close", WAIT);
  const elapsed = Date.now() - start;
  assert.ok(elapsed >= 200 && elapsed < 900, `closed after ${elapsed} ms`);
  assert.equal(code, 1005);
});
