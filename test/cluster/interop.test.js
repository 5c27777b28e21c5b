// Interop: two fastio nodes (redisadapter) and one Node.js socket.io 4.8 node (@socket.io/redis-adapter 8.x)
// share one Redis cluster; @socket.io/redis-emitter 5.x and the Go emitter publish into it. A socket.io-client on
// each node checks who gets what.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { createClient } from "redis";
import { Emitter } from "@socket.io/redis-emitter";
import { Redis, startGoNode, startNodeNode, client, stopAll, waitFor, sleep, buildNode } from "./lib/harness.js";

const run = promisify(execFile);

// settle lets stray duplicates arrive before counting.
const settle = () => sleep(250);

describe("fastio + Node.js socket.io cluster over Redis", { timeout: 150_000 }, () => {
  const redis = new Redis();
  let go1, go2, nodejs; // servers
  let c1, c2, c3; // one client on each: go1, go2, nodejs
  let serverSideSeen = [];

  before(async () => {
    redis.start();
    buildNode();
    [go1, go2] = await Promise.all([startGoNode("go1", redis.url), startGoNode("go2", redis.url)]);
    nodejs = await startNodeNode("node", redis.url, (io) => {
      io.of("/chat");
      const main = io.of("/");
      main.on("ping", (...args) => {
        const cb = args.pop();
        cb({ node: "node", args });
      });
      main.on("notify", (...args) => {
        serverSideSeen.push(args);
        main.local.emit("server-side", "node", ...args);
      });
      io.on("connection", (socket) => {
        socket.data = { node: "node" };
        if (socket.handshake.auth.room) socket.join(socket.handshake.auth.room);
        socket.emit("ready");
      });
    });
    await waitFor(async () => (await nodejs.io.of("/").adapter.serverCount()) === 3, 10000, "3 servers subscribed");
    const opts = (room) => ({ auth: { room }, query: { probe: "q" }, headers: { "x-fastio-test": "h" } });
    [c1, c2, c3] = await Promise.all([client(go1.url, opts("r1")), client(go2.url, opts("r2")), client(nodejs.url, opts("r1"))]);
  });

  after(async () => {
    await stopAll();
    redis.stop();
  });

  const all = () => [c1, c2, c3];
  const clearAll = () => all().forEach((c) => c.clear());
  // expectOnly waits for event on the clients in want, then checks that each got it exactly once and the others
  // not at all.
  async function expectOnly(event, want, timeout = 5000) {
    await waitFor(() => want.every((c) => c.events(event).length >= 1), timeout, `${event} on ${want.length} clients`);
    await settle();
    for (const c of all()) {
      const n = c.events(event).length;
      assert.equal(n, want.includes(c) ? 1 : 0, `${event}: client ${all().indexOf(c) + 1} got it ${n} times`);
    }
  }

  it("every node counts three servers", async () => {
    assert.equal(await c1.call("server-count"), 3);
    assert.equal(await c2.call("server-count"), 3);
  });

  it("io.emit from each node reaches every client once", async () => {
    clearAll();
    assert.equal(await c1.call("emit", { event: "all-go1" }, "x", 1), null);
    await expectOnly("all-go1", [c1, c2, c3]);
    assert.deepEqual(c3.events("all-go1")[0].args, ["x", 1]);
    nodejs.io.emit("all-node", { a: 1 });
    await expectOnly("all-node", [c1, c2, c3]);
    assert.deepEqual(c2.events("all-node")[0].args, [{ a: 1 }]);
  });

  it("room broadcasts reach the room's members on every node", async () => {
    clearAll();
    await c2.call("emit", { event: "to-r1", to: ["r1"] });
    await expectOnly("to-r1", [c1, c3]);
    nodejs.io.to("r2").emit("to-r2");
    await expectOnly("to-r2", [c2]);
    await c1.call("emit", { event: "to-r1-r2", to: ["r1", "r2"] });
    await expectOnly("to-r1-r2", [c1, c2, c3]);
  });

  it("except excludes rooms and socket ids on every node", async () => {
    clearAll();
    await c2.call("emit", { event: "not-r1", except: ["r1"] });
    await expectOnly("not-r1", [c2]);
    nodejs.io.except("r2").emit("not-r2");
    await expectOnly("not-r2", [c1, c3]);
    await c1.call("emit", { event: "r1-not-c3", to: ["r1"], except: [c3.id] });
    await expectOnly("r1-not-c3", [c1]);
    await c1.call("broadcast-others", { event: "others" }); // socket.broadcast: all but the sender
    await expectOnly("others", [c2, c3]);
  });

  it("keeps key order and binary data across nodes", async () => {
    clearAll();
    const obj = { zeta: 1, alpha: { y: 2, x: [1, { b: 1, a: 2 }] }, 10: "ten", 2: "two", mid: null };
    nodejs.io.emit("ordered", obj, Buffer.from([1, 2, 3]), { nested: Buffer.from([4]) });
    await expectOnly("ordered", [c1, c2, c3]);
    for (const c of [c1, c2]) {
      const [got, bin, nested] = c.events("ordered")[0].args;
      assert.equal(JSON.stringify(got), JSON.stringify(obj));
      assert.deepEqual(Object.keys(got.alpha), ["y", "x"]);
      assert.deepEqual([...bin], [1, 2, 3]);
      assert.deepEqual([...nested.nested], [4]);
    }
    // from a Go node: the client's own arguments (binary included) relayed
    await c1.call("emit", { event: "ordered-go" }, { b: 1, a: 2 }, Buffer.from([9, 8]));
    await expectOnly("ordered-go", [c1, c2, c3]);
    const [got, bin] = c3.events("ordered-go")[0].args;
    assert.equal(JSON.stringify(got), '{"b":1,"a":2}');
    assert.deepEqual([...bin], [9, 8]);
  });

  it("fetchSockets sees the sockets of every node", async () => {
    const sockets = await nodejs.io.fetchSockets();
    const byID = new Map(sockets.map((s) => [s.id, s]));
    assert.equal(sockets.length, 3);
    const remote = byID.get(c1.id);
    assert.deepEqual(remote.data, { node: "go1" });
    assert.ok(remote.rooms.has("r1") && remote.rooms.has(c1.id));
    assert.deepEqual(remote.handshake.auth, { room: "r1" });
    assert.equal(remote.handshake.query.probe, "q");
    assert.equal(remote.handshake.headers["x-fastio-test"], "h");
    assert.match(remote.handshake.url, /^\/socket\.io\/\?/);
    assert.ok(Math.abs(remote.handshake.issued - Date.now()) < 120_000);

    const inR1 = await nodejs.io.in("r1").except(c3.id).fetchSockets();
    assert.deepEqual(inR1.map((s) => s.id), [c1.id]);

    const res = await c2.call("fetch", {});
    assert.equal(res.err, null);
    const ids = res.sockets.map((s) => s.id).sort();
    assert.deepEqual(ids, [c1.id, c2.id, c3.id].sort());
    const fromNode = res.sockets.find((s) => s.id === c3.id);
    assert.deepEqual(fromNode.data, { node: "node" });
    assert.deepEqual(fromNode.handshake.auth, { room: "r1" });
    assert.equal(fromNode.handshake.headers["x-fastio-test"], "h");
    assert.equal(fromNode.handshake.query.probe, "q");
    assert.deepEqual(fromNode.rooms.sort(), [c3.id, "r1"].sort());

    const r2 = await c1.call("fetch", { to: ["r2"] });
    assert.deepEqual(r2.sockets.map((s) => s.id), [c2.id]);
  });

  it("socketsJoin and socketsLeave act on every node", async () => {
    clearAll();
    await c1.call("sockets-join", { to: [c3.id], rooms: ["joined-a"] }); // Go asks Node
    nodejs.io.in(c2.id).socketsJoin("joined-a"); // Node asks Go
    await waitFor(async () => (await nodejs.io.in("joined-a").fetchSockets()).length === 2, 5000, "joins");
    await c1.call("emit", { event: "to-joined", to: ["joined-a"] });
    await expectOnly("to-joined", [c2, c3]);
    await c2.call("sockets-leave", { to: ["joined-a"], rooms: ["joined-a"] });
    await waitFor(async () => (await nodejs.io.in("joined-a").fetchSockets()).length === 0, 5000, "leaves");
    // RemoteSocket.join from Go, for a socket of the Node.js node
    await c1.call("remote-emit", { id: c3.id, rooms: ["joined-b"] });
    await waitFor(() => nodejs.io.of("/").adapter.rooms.get("joined-b")?.has(c3.id), 5000, "remote join");
  });

  it("RemoteSocket.emit from Go reaches a socket of the Node.js node", async () => {
    clearAll();
    assert.equal(await c2.call("remote-emit", { id: c3.id, event: "direct" }, "hi"), null);
    await expectOnly("direct", [c3]);
    assert.deepEqual(c3.events("direct")[0].args, ["hi"]);
  });

  it("serverSideEmit reaches the other nodes, with acknowledgements", async () => {
    clearAll();
    const fromNode = await nodejs.io.serverSideEmitWithAck("ping", 7);
    assert.deepEqual(fromNode.map((r) => r.node).sort(), ["go1", "go2"]);
    assert.deepEqual(fromNode[0].args, [7]);

    const fromGo = await c1.call("server-side-emit", { event: "ping", ack: true, timeout: 3000 }, "x");
    assert.equal(fromGo.err, null);
    const nodes = fromGo.responses.map((r) => r[0].node).sort();
    assert.deepEqual(nodes, ["go2", "node"]);

    serverSideSeen = [];
    await c1.call("server-side-emit", { event: "notify" }, { k: 1 });
    await expectOnly("server-side", [c2, c3]); // go2's and node's handlers emit to their local clients
    assert.deepEqual(serverSideSeen, [[{ k: 1 }]]);
  });

  it("broadcasts with acknowledgements collect every client's answer", async () => {
    const responses = await nodejs.io.timeout(3000).emitWithAck("ask", 1);
    assert.deepEqual(responses.map((r) => r.from).sort(), [c1.id, c2.id, c3.id].sort());
    const res = await c2.call("emit-with-ack", { event: "ask", timeout: 3000 }, "q");
    assert.equal(res.err, null);
    assert.deepEqual(res.responses.map((r) => r[0].from).sort(), [c1.id, c2.id, c3.id].sort());
    assert.deepEqual(res.responses[0][0].args, ["q"]);
    const inRoom = await c1.call("emit-with-ack", { event: "ask", timeout: 3000, to: ["r1"] });
    assert.deepEqual(inRoom.responses.map((r) => r[0].from).sort(), [c1.id, c3.id].sort());
  });

  it("@socket.io/redis-emitter reaches the clients of the fastio nodes", async () => {
    clearAll();
    const rc = createClient({ url: redis.url });
    await rc.connect();
    try {
      const emitter = new Emitter(rc);
      emitter.to("r1").emit("from-emitter", { b: 2, a: 1 }, Buffer.from([5]));
      await expectOnly("from-emitter", [c1, c3]);
      const [obj, bin] = c1.events("from-emitter")[0].args;
      assert.equal(JSON.stringify(obj), '{"b":2,"a":1}');
      assert.deepEqual([...bin], [5]);
      emitter.except("r1").emit("emitter-except");
      await expectOnly("emitter-except", [c2]);
      emitter.serverSideEmit("notify", "from-emitter");
      await expectOnly("server-side", [c1, c2, c3]);
      emitter.in(c2.id).socketsJoin("emitter-room");
      await waitFor(async () => (await c1.call("fetch", { to: ["emitter-room"] })).sockets.length === 1, 5000, "emitter join");
    } finally {
      await rc.disconnect();
    }
  });

  it("the Go emitter reaches the clients of the Node.js node", async () => {
    clearAll();
    await run(buildNode(), ["emit", "--redis", redis.url, "--to", "r1", "--binary", "from-go-emitter", '[{"z":1,"y":[true]},"s"]']);
    await expectOnly("from-go-emitter", [c1, c3]);
    const [obj, s, bin] = c3.events("from-go-emitter")[0].args;
    assert.equal(JSON.stringify(obj), '{"z":1,"y":[true]}');
    assert.equal(s, "s");
    assert.deepEqual([...bin], [1, 2, 3]);
    await run(buildNode(), ["emit", "--redis", redis.url, "--server-side", "notify", '["go-emitter"]']);
    await expectOnly("server-side", [c1, c2, c3]);
  });

  it("custom namespaces are kept apart", async () => {
    const a = await client(go1.url, { nsp: "/chat" });
    const b = await client(nodejs.url, { nsp: "/chat", ready: false });
    clearAll();
    nodejs.io.of("/chat").emit("chat-msg", 1);
    await waitFor(() => a.events("chat-msg").length === 1 && b.events("chat-msg").length === 1, 5000, "chat");
    await settle();
    assert.equal(c1.events("chat-msg").length + c2.events("chat-msg").length + c3.events("chat-msg").length, 0);
    a.socket.disconnect();
    b.socket.disconnect();
  });

  it("disconnectSockets acts on every node", async () => {
    const d1 = await client(go2.url, { auth: { room: "doomed" } });
    const d2 = await client(nodejs.url, { auth: { room: "doomed" } });
    const reasons = [];
    for (const d of [d1, d2]) d.socket.on("disconnect", (r) => reasons.push(r));
    await c1.call("disconnect-sockets", { to: ["doomed"] });
    await waitFor(() => reasons.length === 2, 5000, "two disconnections");
    assert.deepEqual(reasons, ["io server disconnect", "io server disconnect"]);
    const d3 = await client(go1.url, { auth: { room: "doomed2" } });
    const gone = new Promise((r) => d3.socket.on("disconnect", r));
    nodejs.io.in("doomed2").disconnectSockets(true);
    assert.equal(await gone, "io server disconnect");
  });

  it("killing a node leaves the others serving", async () => {
    go2.kill();
    await waitFor(async () => (await nodejs.io.of("/").adapter.serverCount()) === 2, 5000, "2 servers");
    clearAll();
    nodejs.io.emit("after-kill");
    await waitFor(() => c1.events("after-kill").length === 1 && c3.events("after-kill").length === 1, 5000, "after kill");
    await c1.call("emit", { event: "after-kill-go" });
    await waitFor(() => c1.events("after-kill-go").length === 1 && c3.events("after-kill-go").length === 1, 5000, "after kill (go)");
    const res = await c1.call("fetch", {});
    assert.equal(res.err, null);
    assert.deepEqual(res.sockets.map((s) => s.id).sort(), [c1.id, c3.id].sort());
  });

  it("stopping Redis keeps local delivery; restarting it resumes cross-node delivery", async () => {
    const port = redis.port;
    await redis.stopAndWait();
    clearAll();
    await c1.call("emit", { event: "during-outage" });
    nodejs.io.emit("during-outage-node");
    await waitFor(() => c1.events("during-outage").length === 1 && c3.events("during-outage-node").length === 1, 5000, "local delivery");
    redis.start(port);
    // Both adapters reconnect and subscribe again by themselves.
    await waitFor(async () => (await nodejs.io.of("/").adapter.serverCount()) === 2, 20000, "resubscription");
    clearAll();
    await waitFor(async () => {
      await c1.call("emit", { event: "resumed" });
      await sleep(200);
      return c3.events("resumed").length > 0;
    }, 20000, "cross-node delivery from go1");
    await waitFor(async () => {
      nodejs.io.emit("resumed-node");
      await sleep(200);
      return c1.events("resumed-node").length > 0;
    }, 20000, "cross-node delivery from node");
  });
});
