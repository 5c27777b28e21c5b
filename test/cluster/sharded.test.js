// Interop in the sharded protocol (createShardedAdapter, Redis 7 sharded Pub/Sub): two fastio nodes
// (Options.Sharded) and one Node.js socket.io 4.8 node, for each subscription mode.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { Redis, startGoNode, startNodeNode, client, stopAll, waitFor, sleep } from "./lib/harness.js";

for (const mode of ["dynamic", "static", "dynamic-private"]) {
  describe(`sharded protocol, subscriptionMode ${mode}`, { timeout: 60_000 }, () => {
    const redis = new Redis();
    let go1, go2, nodejs, c1, c2, c3;

    before(async () => {
      redis.start();
      const extra = ["--sharded", "--subscription-mode", mode];
      [go1, go2] = await Promise.all([startGoNode("go1", redis.url, extra), startGoNode("go2", redis.url, extra)]);
      nodejs = await startNodeNode(
        "node",
        redis.url,
        (io) => {
          const main = io.of("/");
          main.on("ping", (...args) => args.pop()({ node: "node", args }));
          io.on("connection", (socket) => {
            socket.data = { node: "node" };
            if (socket.handshake.auth.room) socket.join(socket.handshake.auth.room);
            socket.emit("ready");
          });
        },
        { sharded: { subscriptionMode: mode } },
      );
      await waitFor(async () => (await nodejs.io.of("/").adapter.serverCount()) === 3, 10000, "3 servers subscribed");
      [c1, c2, c3] = await Promise.all([
        client(go1.url, { auth: { room: "r1" } }),
        client(go2.url, { auth: { room: "r2" } }),
        client(nodejs.url, { auth: { room: "r1" } }),
      ]);
      await sleep(200); // the rooms' channels are subscribed in the background
    });

    after(async () => {
      await stopAll();
      redis.stop();
    });

    const all = () => [c1, c2, c3];
    const clearAll = () => all().forEach((c) => c.clear());
    async function expectOnly(event, want) {
      await waitFor(() => want.every((c) => c.events(event).length >= 1), 5000, `${event} on ${want.length} clients`);
      await sleep(200);
      for (const c of all()) {
        assert.equal(c.events(event).length, want.includes(c) ? 1 : 0, `${event}: client ${all().indexOf(c) + 1}`);
      }
    }

    it("broadcasts: all, one room, rooms, except, a socket of another node", async () => {
      clearAll();
      assert.equal(await c1.call("server-count"), 3);
      await c1.call("emit", { event: "all" }, { b: 1, a: 2 }, Buffer.from([1]));
      await expectOnly("all", [c1, c2, c3]);
      const [obj, bin] = c3.events("all")[0].args;
      assert.equal(JSON.stringify(obj), '{"b":1,"a":2}');
      assert.deepEqual([...bin], [1]);
      nodejs.io.to("r1").emit("room", { z: 1, y: 2 });
      await expectOnly("room", [c1, c3]);
      assert.equal(JSON.stringify(c1.events("room")[0].args[0]), '{"z":1,"y":2}');
      await c2.call("emit", { event: "room-go", to: ["r1"] });
      await expectOnly("room-go", [c1, c3]);
      await c2.call("emit", { event: "rooms", to: ["r1", "r2"], except: [c3.id] });
      await expectOnly("rooms", [c1, c2]);
      nodejs.io.to(c2.id).emit("to-id");
      await expectOnly("to-id", [c2]);
      await c1.call("emit", { event: "to-id-go", to: [c3.id] });
      await expectOnly("to-id-go", [c3]);
    });

    it("rooms joined later get their channel", async () => {
      clearAll();
      await c1.call("join", "late");
      nodejs.io.in(c2.id).socketsJoin("late");
      await waitFor(async () => (await nodejs.io.in("late").fetchSockets()).length === 2, 5000, "joins");
      await sleep(200);
      nodejs.io.to("late").emit("late");
      await expectOnly("late", [c1, c2]);
      await c1.call("leave", "late");
      await sleep(200);
      nodejs.io.to("late").emit("late2");
      await expectOnly("late2", [c2]);
    });

    it("fetchSockets, serverSideEmit and broadcast acknowledgements", async () => {
      const sockets = await nodejs.io.fetchSockets();
      assert.deepEqual(sockets.map((s) => s.id).sort(), [c1.id, c2.id, c3.id].sort());
      assert.deepEqual(sockets.find((s) => s.id === c1.id).data, { node: "go1" });
      const res = await c1.call("fetch", { to: ["r1"] });
      assert.equal(res.err, null);
      assert.deepEqual(res.sockets.map((s) => s.id).sort(), [c1.id, c3.id].sort());

      const fromNode = await nodejs.io.serverSideEmitWithAck("ping", Buffer.from([3]));
      assert.deepEqual(fromNode.map((r) => r.node).sort(), ["go1", "go2"]);
      const fromGo = await c2.call("server-side-emit", { event: "ping", ack: true, timeout: 3000 });
      assert.equal(fromGo.err, null);
      assert.deepEqual(fromGo.responses.map((r) => r[0].node).sort(), ["go1", "node"]);

      const answers = await nodejs.io.timeout(3000).emitWithAck("ask", 1);
      assert.deepEqual(answers.map((r) => r.from).sort(), [c1.id, c2.id, c3.id].sort());
      const goAnswers = await c1.call("emit-with-ack", { event: "ask", timeout: 3000 });
      assert.equal(goAnswers.err, null);
      assert.deepEqual(goAnswers.responses.map((r) => r[0].from).sort(), [c1.id, c2.id, c3.id].sort());
    });

    it("socketsJoin and disconnectSockets from a fastio node", async () => {
      await c2.call("sockets-join", { to: [c3.id], rooms: ["joined"] });
      await waitFor(() => nodejs.io.of("/").adapter.rooms.get("joined")?.has(c3.id), 5000, "join");
      const d = await client(nodejs.url, { auth: { room: "doomed" } });
      const gone = new Promise((r) => d.socket.on("disconnect", r));
      await c1.call("disconnect-sockets", { to: ["doomed"] });
      assert.equal(await gone, "io server disconnect");
    });
  });
}
