// The demo app (`fastio demo`, the default of the binary) driven by the seed's client code: a newcomer is
// announced to the others, and a message comes back to everyone as a notification. FASTIO_DEMO names the
// command (e.g. "/work/main/bin/fastio demo"); without it the seed's own Node.js server is tested.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { io } from "socket.io-client";
import { freePort } from "./lib/server.js";
import { once, waitUntil } from "./lib/util.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const command = process.env.FASTIO_DEMO?.trim() || `${process.execPath} ${path.join(HERE, "demo-reference.js")}`;

async function startDemo() {
  const port = await freePort();
  const child = spawn("/bin/sh", ["-c", `exec ${command} --port ${port}`], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  after(() => child.kill("SIGKILL"));
  const url = `http://127.0.0.1:${port}`;
  // wait until it accepts a Socket.IO connection
  const deadline = Date.now() + 10_000;
  for (;;) {
    const s = io(url, { transports: ["websocket"], reconnection: false, timeout: 500 });
    try {
      await once(s, "connect", 1000, ["connect_error"]);
      break;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`demo server did not start: ${err}\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      s.close();
    }
  }
  return { url, output: () => output };
}

const UTC = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$/;

test("demo: the seed's client code sees joins and messages, over websocket and polling", async () => {
  const { url, output } = await startDemo();
  const notes = (socket) => {
    const list = [];
    socket.on("notification", (payload) => list.push(payload));
    return list;
  };
  const a = io(url, { transports: ["websocket"], reconnection: false });
  const aNotes = notes(a);
  await once(a, "connect");
  const b = io(url, { transports: ["polling"], reconnection: false });
  const bNotes = notes(b);
  await once(b, "connect");

  // a is told that b joined; b is not told about itself
  await waitUntil(() => aNotes.some((n) => n.id === b.id), 5000, "join notification");
  assert.deepEqual(aNotes.find((n) => n.id === b.id), { id: b.id, message: "a new user has joined" });

  a.emit("message", { text: "hello from a", from: "a" });
  b.emit("message", { text: "hello from b", from: "b" });
  for (const list of [aNotes, bNotes]) {
    await waitUntil(() => list.filter((n) => n.type === "user_message").length === 2, 5000, "both messages");
    const got = list.filter((n) => n.type === "user_message").sort((x, y) => x.from.localeCompare(y.from));
    for (const [i, who] of ["a", "b"].entries()) {
      assert.deepEqual(Object.keys(got[i]), ["text", "from", "type", "timestamp"]);
      assert.equal(got[i].text, `hello from ${who}`);
      assert.match(got[i].timestamp, UTC);
    }
  }
  assert.equal(bNotes.some((n) => n.id === b.id), false);
  a.close();
  b.close();
  await waitUntil(() => /total connections\D+0\b/.test(output()), 5000, "the count to drop back to 0");
});
