// Engine.IO end-to-end tests against the plain echo server at /engine.io/,
// driven by the real engine.io-client (and raw `ws` / fetch where a client
// library would hide the behaviour under test).

import { after, afterEach, before, test } from "node:test";
import assert from "node:assert/strict";
import { Socket } from "engine.io-client";
import WebSocket from "ws";
import { startServer, startServers } from "./lib/server.js";
import { bytes, collect, once, sleep, text, waitUntil } from "./lib/util.js";

const PATH = "/engine.io/";
const PING_INTERVAL = 300;
const PING_TIMEOUT = 200;
const MAX_PAYLOAD = 1_000_000;
const T = { timeout: 30_000 };
// Generous waits: the machine may be loaded; a failing wait only costs time.
const WAIT = 10_000;

// See startServers(): `server` for functional tests, `strict` (always the
// contract's 300 ms/200 ms heartbeat) for heartbeat tests, `relaxed` (25 s/20 s)
// for raw-protocol tests whose client does not answer pings: they test payload
// handling and must not race the 500 ms ping timeout on a loaded machine.
let servers, server, strict, relaxed;
const clients = new Set();
const extraServers = new Set();

before(async () => {
  servers = await startServers();
  ({ server, strict, relaxed } = servers);
});

afterEach(async () => {
  for (const c of clients) {
    try {
      if (c instanceof WebSocket) c.terminate();
      else c.close();
    } catch {
      // ignore
    }
  }
  clients.clear();
  for (const s of extraServers) await s.stop();
  extraServers.clear();
});

after(async () => {
  await servers?.stopAll();
});

function eio(opts = {}, srv = server) {
  const socket = new Socket(srv.url, { path: PATH, ...opts });
  clients.add(socket);
  return socket;
}

async function openEio(opts = {}, srv = server) {
  const socket = eio(opts, srv);
  const [[handshake]] = await Promise.all([
    once(socket, "handshake", WAIT, ["close", "error"]),
    once(socket, "open", WAIT, ["close", "error"]),
  ]);
  return { socket, handshake };
}

async function ownServer(args = []) {
  const s = await startServer(args);
  extraServers.add(s);
  return s;
}

function rawWs(srv = server, query = "EIO=4&transport=websocket") {
  const ws = new WebSocket(`ws://127.0.0.1:${srv.port}${PATH}?${query}`);
  clients.add(ws);
  return ws;
}

function assertHandshake(handshake, expectedUpgrades, heartbeat = server.heartbeat) {
  assert.deepEqual(Object.keys(handshake), [
    "sid",
    "upgrades",
    "pingInterval",
    "pingTimeout",
    "maxPayload",
  ]);
  assert.equal(typeof handshake.sid, "string");
  assert.equal(handshake.sid.length, 20);
  assert.match(handshake.sid, /^[A-Za-z0-9_-]{20}$/);
  assert.deepEqual(handshake.upgrades, expectedUpgrades);
  assert.equal(handshake.pingInterval, heartbeat.pingInterval);
  assert.equal(handshake.pingTimeout, heartbeat.pingTimeout);
  assert.equal(handshake.maxPayload, MAX_PAYLOAD);
}

async function echo(socket, data, ms = WAIT) {
  const got = once(socket, "message", ms, ["close"]);
  socket.send(data);
  const [msg] = await got;
  return msg;
}

function assertSameBytes(actual, expected) {
  assert.ok(Buffer.isBuffer(actual) || actual instanceof ArrayBuffer || ArrayBuffer.isView(actual),
    `expected binary, got ${typeof actual}`);
  const a = Buffer.from(actual instanceof ArrayBuffer ? new Uint8Array(actual) : actual);
  assert.equal(a.length, expected.length, "binary length");
  assert.ok(a.equals(Buffer.from(expected)), "binary content differs");
}

// ---------------------------------------------------------------- polling

test("polling-only: open, handshake fields, text echo", T, async () => {
  const { socket, handshake } = await openEio({ transports: ["polling"] });
  assertHandshake(handshake, ["websocket"]);
  assert.equal(socket.id, handshake.sid);
  assert.equal(socket.transport.name, "polling");
  assert.equal(await echo(socket, "hello polling"), "hello polling");
  assert.equal(await echo(socket, "ünïcödé 漢字 🙂"), "ünïcödé 漢字 🙂");
});

test("polling-only: several messages sent at once come back in order", T, async () => {
  const { socket } = await openEio({ transports: ["polling"] });
  const expected = Array.from({ length: 30 }, (_, i) => `msg-${i}`);
  const got = collect(socket, "message", expected.length);
  for (const m of expected) socket.send(m);
  assert.deepEqual(await got, expected);
  assert.equal(socket.transport.name, "polling");
});

// -------------------------------------------------------------- websocket

test("websocket-only: open, handshake fields, text echo", T, async () => {
  const { socket, handshake } = await openEio({ transports: ["websocket"] });
  assertHandshake(handshake, []);
  assert.equal(socket.transport.name, "websocket");
  assert.equal(await echo(socket, "hello websocket"), "hello websocket");
  assert.equal(await echo(socket, "ünïcödé 漢字 🙂"), "ünïcödé 漢字 🙂");
});

test("websocket-only: 100 messages come back in order", T, async () => {
  const { socket } = await openEio({ transports: ["websocket"] });
  const expected = Array.from({ length: 100 }, (_, i) => `ws-${i}`);
  const got = collect(socket, "message", expected.length);
  for (const m of expected) socket.send(m);
  assert.deepEqual(await got, expected);
});

test("websocket handshake is exactly the open packet, byte for byte", T, async () => {
  const ws = rawWs(strict);
  const [first] = await once(ws, "message", WAIT, ["close", "error"]);
  assert.match(
    first.toString(),
    /^0\{"sid":"[A-Za-z0-9_-]{20}","upgrades":\[\],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000\}$/,
  );
});

// ---------------------------------------------------------------- upgrade

test("polling + upgrade: switches to websocket, messages before/during/after arrive in order", T, async () => {
  const socket = eio({ transports: ["polling", "websocket"] });
  const sent = [];
  const send = (m) => {
    sent.push(m);
    socket.send(m);
  };
  const received = [];
  socket.on("message", (m) => received.push(m));
  const upgraded = once(socket, "upgrade", WAIT, ["close", "upgradeError"]);
  const upgrading = once(socket, "upgrading", WAIT, ["close", "upgradeError"]);
  let transportAtOpen;
  socket.on("open", () => {
    transportAtOpen = socket.transport.name;
    for (let i = 0; i < 10; i++) send(`before-${i}`);
  });
  socket.once("upgrading", () => {
    for (let i = 0; i < 10; i++) send(`during-${i}`);
  });
  const [transport] = await upgraded;
  await upgrading;
  assert.equal(transportAtOpen, "polling");
  assert.equal(transport.name, "websocket");
  assert.equal(socket.transport.name, "websocket");
  for (let i = 0; i < 10; i++) send(`after-${i}`);
  await waitUntil(() => received.length >= sent.length, WAIT, "all echoes");
  await sleep(100); // nothing extra may arrive
  assert.equal(sent.length, 30);
  assert.deepEqual(received, sent);
});

// ----------------------------------------------------------------- binary

for (const transport of ["polling", "websocket"]) {
  test(`${transport}: binary echo both ways (Uint8Array and Buffer in, Buffer out)`, T, async () => {
    const { socket } = await openEio({ transports: [transport] });
    const small = new Uint8Array([0, 1, 2, 127, 128, 254, 255]);
    assertSameBytes(await echo(socket, small), small);
    const buf = bytes(1000, 7);
    assertSameBytes(await echo(socket, buf), buf);
    const empty = new Uint8Array(0);
    assertSameBytes(await echo(socket, empty), empty);
    // text stays text after binary
    assert.equal(await echo(socket, "after binary"), "after binary");
  });

  test(`${transport}: 500 KB binary and 500 KB text messages`, T, async () => {
    const { socket } = await openEio({ transports: [transport] }, relaxed);
    const big = bytes(500 * 1024, 42);
    assertSameBytes(await echo(socket, big, 10_000), big);
    const bigText = text(500 * 1024);
    const back = await echo(socket, bigText, 10_000);
    assert.equal(typeof back, "string");
    assert.equal(back.length, bigText.length);
    assert.ok(back === bigText, "500 KB text differs");
  });

  test(`${transport}: mixed text and binary keep their order and types`, T, async () => {
    const { socket } = await openEio({ transports: [transport] });
    const sent = ["a", bytes(10, 1), "b", bytes(20, 2), bytes(30, 3), "c"];
    const got = collect(socket, "message", sent.length);
    for (const m of sent) socket.send(m);
    const back = await got;
    for (let i = 0; i < sent.length; i++) {
      if (typeof sent[i] === "string") assert.equal(back[i], sent[i]);
      else assertSameBytes(back[i], sent[i]);
    }
  });
}

// -------------------------------------------------------------- heartbeat

for (const transport of ["polling", "websocket"]) {
  test(`heartbeat (${transport}): a client answering pings stays open for 2 s`, T, async () => {
    const { socket } = await openEio({ transports: [transport] }, strict);
    let pings = 0;
    socket.on("ping", () => pings++);
    let closed = null;
    socket.on("close", (reason) => (closed = reason));
    await sleep(2000);
    assert.equal(closed, null, `closed: ${closed}`);
    assert.equal(socket.readyState, "open");
    // pingInterval 300 ms: 6 pings in 2 s (fewer only if the machine is slow)
    assert.ok(pings >= 4 && pings <= 7, `expected 4..7 pings in 2 s, got ${pings}`);
    assert.equal(await echo(socket, "still here"), "still here");
  });
}

test("heartbeat: a raw websocket that never answers pings is closed by the server", T, async () => {
  const ws = rawWs(strict);
  const frames = [];
  ws.on("message", (data, isBinary) => frames.push(isBinary ? data : data.toString()));
  await once(ws, "open", WAIT, ["error"]);
  const openedAt = Date.now();
  const [code, reason] = await once(ws, "close", WAIT);
  const elapsed = Date.now() - openedAt;
  // first ping at pingInterval, close pingTimeout after that
  assert.ok(
    elapsed >= PING_INTERVAL + PING_TIMEOUT - 100 && elapsed <= PING_INTERVAL + PING_TIMEOUT + 1500,
    `closed after ${elapsed} ms`,
  );
  assert.equal(frames.length, 2, `frames: ${JSON.stringify(frames)}`);
  assert.match(frames[0], /^0\{"sid":/);
  assert.equal(frames[1], "2");
  // engine.io closes the WebSocket without a status code
  assert.equal(code, 1005);
  assert.equal(reason.toString(), "");
});

for (const transport of ["websocket", "polling"]) {
  test(`heartbeat (${transport}): a SIGSTOPped server makes the client close with "ping timeout"`, T, async () => {
    const srv = await ownServer();
    const { socket } = await openEio({ transports: [transport] }, srv);
    assert.equal(await echo(socket, "x"), "x");
    const closing = once(socket, "close", WAIT);
    srv.kill("SIGSTOP");
    const stoppedAt = Date.now();
    try {
      const [reason] = await closing;
      const elapsed = Date.now() - stoppedAt;
      assert.equal(reason, "ping timeout");
      assert.ok(elapsed <= PING_INTERVAL + PING_TIMEOUT + 1500, `closed after ${elapsed} ms`);
    } finally {
      srv.kill("SIGCONT");
    }
    // the server recovers and serves new clients
    const { socket: again } = await openEio({ transports: [transport] }, srv);
    assert.equal(await echo(again, "back"), "back");
  });
}

// ------------------------------------------------------ server going away

test("server killed (SIGKILL): websocket client closes with \"transport close\", polling with \"transport error\"", T, async () => {
  const srv = await ownServer();
  const { socket: ws } = await openEio({ transports: ["websocket"] }, srv);
  const { socket: poll } = await openEio({ transports: ["polling"] }, srv);
  assert.equal(await echo(ws, "1"), "1");
  assert.equal(await echo(poll, "2"), "2");
  const wsClosed = once(ws, "close", WAIT);
  const pollClosed = once(poll, "close", WAIT);
  srv.kill("SIGKILL");
  const [[wsReason], [pollReason, pollDesc]] = await Promise.all([wsClosed, pollClosed]);
  assert.equal(wsReason, "transport close");
  assert.equal(pollReason, "transport error");
  // "xhr poll error" when the pending GET fails, "xhr post error" when a POST
  // (e.g. a pong) was in flight
  assert.match(pollDesc?.message ?? "", /^xhr (poll|post) error$/);
});

// --------------------------------------------------------------- oversized

test("oversized websocket message closes that connection with 1009; others keep echoing", T, async () => {
  const { socket: bystander } = await openEio({ transports: ["websocket"] }, relaxed);
  const ws = rawWs(relaxed);
  await once(ws, "message", WAIT, ["close", "error"]); // open packet
  // exactly maxPayload bytes is accepted
  const limit = "4" + "a".repeat(MAX_PAYLOAD - 1);
  const echoed = once(ws, "message", WAIT, ["close"]);
  ws.send(limit);
  const [back] = await echoed;
  assert.equal(back.length, MAX_PAYLOAD);
  assert.ok(back.toString() === limit, "maxPayload-sized message differs");
  // one byte more is not
  const closed = once(ws, "close", WAIT);
  ws.send("4" + "a".repeat(MAX_PAYLOAD));
  const [code] = await closed;
  assert.equal(code, 1009);
  assert.equal(bystander.readyState, "open");
  assert.equal(await echo(bystander, "unaffected"), "unaffected");
});

test("oversized binary websocket message closes that connection with 1009", T, async () => {
  const ws = rawWs(relaxed);
  await once(ws, "message", WAIT, ["close", "error"]);
  const closed = once(ws, "close", WAIT);
  ws.send(bytes(MAX_PAYLOAD + 1, 3));
  const [code] = await closed;
  assert.equal(code, 1009);
});

async function pollingHandshake(srv = relaxed) {
  const res = await fetch(`${srv.url}${PATH}?EIO=4&transport=polling`);
  assert.equal(res.status, 200);
  const body = await res.text();
  assert.equal(body[0], "0");
  const handshake = JSON.parse(body.slice(1));
  assertHandshake(handshake, ["websocket"], srv.heartbeat);
  return handshake.sid;
}

function post(sid, body, srv = relaxed) {
  return fetch(`${srv.url}${PATH}?EIO=4&transport=polling&sid=${sid}`, {
    method: "POST",
    headers: { "Content-Type": "text/plain;charset=UTF-8" },
    body,
  });
}

function get(sid, srv = relaxed) {
  return fetch(`${srv.url}${PATH}?EIO=4&transport=polling&sid=${sid}`);
}

test("raw polling: an empty message and a batch of messages echo byte for byte", T, async () => {
  const sid = await pollingHandshake();
  // An empty text message is the single byte "4". (engine.io-client hands it
  // to the app as `undefined`, hence the raw HTTP check.)
  let res = await post(sid, "4");
  assert.equal(res.status, 200);
  assert.equal(await res.text(), "ok");
  res = await get(sid);
  assert.equal(await res.text(), "4");
  // Packets in one POST are separated by \x1e; the echoes come back batched
  // in one GET response, binary ones base64-encoded with a "b" prefix.
  res = await post(sid, "4a\x1e4é漢\x1ebAAH/");
  assert.equal(res.status, 200);
  assert.equal(await res.text(), "ok");
  res = await get(sid);
  assert.equal(res.headers.get("content-type"), "text/plain; charset=UTF-8");
  assert.equal(await res.text(), "4a\x1e4é漢\x1ebAAH/");
});

test("polling POST of exactly maxPayload bytes is accepted", T, async () => {
  const sid = await pollingHandshake();
  const body = "4" + "b".repeat(MAX_PAYLOAD - 1);
  const res = await post(sid, body);
  assert.equal(res.status, 200);
  assert.equal(await res.text(), "ok");
  const back = await get(sid);
  assert.equal(back.status, 200);
  const got = await back.text();
  assert.equal(got.length, body.length);
  assert.ok(got === body, "echoed payload differs");
});

test("polling POST larger than maxPayload gets 413 and the session stays open", T, async () => {
  const sid = await pollingHandshake();
  const res = await post(sid, "4" + "c".repeat(MAX_PAYLOAD));
  assert.equal(res.status, 413);
  await res.arrayBuffer().catch(() => {});
  // the session survives
  const ok = await post(sid, "4after");
  assert.equal(ok.status, 200);
  assert.equal(await ok.text(), "ok");
  const back = await get(sid);
  assert.equal(back.status, 200);
  assert.equal(await back.text(), "4after");
});

// ------------------------------------------------------------------ flags

test("flags: --max-payload, --ping-interval and --ping-timeout are honoured", T, async () => {
  const srv = await ownServer(["--max-payload", "1000", "--ping-interval", "1s", "--ping-timeout", "1500ms"]);
  const { socket, handshake } = await openEio({ transports: ["websocket"] }, srv);
  assert.equal(handshake.pingInterval, 1000);
  assert.equal(handshake.pingTimeout, 1500);
  assert.equal(handshake.maxPayload, 1000);
  const ok = "x".repeat(999); // "4" + 999 bytes = 1000 bytes on the wire
  assert.equal(await echo(socket, ok), ok);
  const ws = rawWs(srv);
  await once(ws, "message", WAIT, ["close", "error"]);
  const closed = once(ws, "close", WAIT);
  ws.send("4" + "y".repeat(1000));
  assert.equal((await closed)[0], 1009);
  const res = await fetch(`${srv.url}${PATH}?EIO=4&transport=polling`);
  const polled = JSON.parse((await res.text()).slice(1));
  assert.equal(polled.maxPayload, 1000);
  const big = await post(polled.sid, "4" + "z".repeat(1000), srv);
  assert.equal(big.status, 413);
  const small = await post(polled.sid, "4" + "z".repeat(999), srv);
  assert.equal(small.status, 200);
});

// -------------------------------------------------------------------- http

for (const path of [PATH, "/socket.io/"]) {
  test(`CORS on ${path}: any origin, on preflight and normal requests`, T, async () => {
    const origin = "http://example.test:8080";
    const allowed = (res) => {
      const v = res.headers.get("access-control-allow-origin");
      assert.ok(v === "*" || v === origin, `Access-Control-Allow-Origin: ${v}`);
    };
    const pre = await fetch(`${relaxed.url}${path}?EIO=4&transport=polling`, {
      method: "OPTIONS",
      headers: { Origin: origin, "Access-Control-Request-Method": "POST" },
    });
    assert.ok(pre.status === 200 || pre.status === 204, `preflight status ${pre.status}`);
    allowed(pre);
    await pre.arrayBuffer();
    const hs = await fetch(`${relaxed.url}${path}?EIO=4&transport=polling`, { headers: { Origin: origin } });
    assert.equal(hs.status, 200);
    allowed(hs);
    const sid = JSON.parse((await hs.text()).slice(1)).sid;
    const res = await fetch(`${relaxed.url}${path}?EIO=4&transport=polling&sid=${sid}`, {
      method: "POST",
      headers: { Origin: origin, "Content-Type": "text/plain;charset=UTF-8" },
      body: path === PATH ? "4cors" : "40",
    });
    assert.equal(res.status, 200);
    allowed(res);
    assert.equal(await res.text(), "ok");
  });
}

test("polling GET with an unknown sid gets 400", T, async () => {
  const res = await get("AAAAAAAAAAAAAAAAAAAA");
  assert.equal(res.status, 400);
  // the reference answers {"code":1,"message":"Session ID unknown"}
  const body = await res.json();
  assert.equal(body.code, 1);
  assert.equal(body.message, "Session ID unknown");
});

test("polling session closed by the client (\"1\"): later GETs get 400", T, async () => {
  const sid = await pollingHandshake();
  const res = await post(sid, "1");
  assert.equal(res.status, 200);
  assert.equal(await res.text(), "ok");
  await sleep(50);
  const after = await get(sid);
  assert.equal(after.status, 400);
  await after.arrayBuffer();
});
