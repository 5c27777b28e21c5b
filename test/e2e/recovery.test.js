// Connection state recovery with the real socket.io-client: a client that loses its connection and
// reconnects in time gets its id and rooms back, and the broadcasts it missed.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { startServer } from "./lib/server.js";
import { collect, once } from "./lib/util.js";

const srv = await startServer(["--recovery", "--ping-interval", "25s", "--ping-timeout", "20s"]);
const clients = [];
after(async () => {
  for (const c of clients) c.close();
  await srv.stop();
});

function client(opts = {}) {
  const socket = io(srv.url, { reconnectionDelay: 50, reconnectionDelayMax: 100, randomizationFactor: 0, ...opts });
  clients.push(socket);
  return socket;
}

for (const transports of [["websocket"], ["polling"]]) {
  test(`recovery (${transports[0]}): same id, rooms kept, missed broadcasts delivered`, { timeout: 20_000 }, async () => {
    const a = client({ transports });
    await once(a, "connect");
    assert.equal(a.recovered, false);
    const firstId = a.id;
    await new Promise((resolve) => a.emit("join", "news", resolve));

    const b = client({ transports: ["websocket"] });
    await once(b, "connect");

    // one broadcast while connected: it carries the offset the client will resume from
    const first = once(a, "broadcast");
    b.emit("broadcast", "news", "one");
    assert.equal((await first)[0], "one");

    // the connection drops (not a client disconnect: the client reconnects by itself)
    const dropped = once(a, "disconnect");
    a.io.engine.close();
    await dropped;
    b.emit("broadcast", "news", "two");
    b.emit("broadcast", "", "three"); // to everyone
    b.emit("broadcast", "elsewhere", "not for a");

    const missed = collect(a, "broadcast", 2);
    await once(a, "connect");
    assert.equal(a.recovered, true);
    assert.equal(a.id, firstId);
    const got = await missed;
    assert.deepEqual(got, ["two", "three"]);

    // still in the room after the recovery
    const again = once(a, "broadcast");
    b.emit("broadcast", "news", "four");
    assert.equal((await again)[0], "four");
    a.close();
    b.close();
  });
}
