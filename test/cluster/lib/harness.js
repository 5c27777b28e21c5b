// Cluster harness: a throw-away redis-server (start-redis.sh), fastio nodes (fastionode, built from Go), a
// Node.js socket.io 4.8 node with @socket.io/redis-adapter, and socket.io-client clients. Every process it starts
// is killed by stopAll().
import { spawn, execFile, execFileSync } from "node:child_process";
import { createServer } from "node:http";
import net from "node:net";
import path from "node:path";
import fs from "node:fs";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { Server } from "socket.io";
import { io as connect } from "socket.io-client";
import { createClient } from "redis";
import { createAdapter, createShardedAdapter } from "@socket.io/redis-adapter";

const here = path.dirname(fileURLToPath(import.meta.url));
export const clusterDir = path.resolve(here, "..");
export const repoDir = path.resolve(clusterDir, "../..");

const children = new Set();
const closers = [];

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// waitFor polls cond until it returns a truthy value, or fails after timeout ms.
export async function waitFor(cond, timeout = 5000, what = "condition") {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await cond();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} (last: ${last})`);
    await sleep(25);
  }
}

// Redis: start-redis.sh, and restart on the same port.
export class Redis {
  constructor() {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "fastio-cluster-redis-"));
  }
  start(port) {
    const args = ["--dir", this.dir, "--watch", String(process.pid)];
    if (port) args.push("--port", String(port));
    let out;
    try {
      out = execFileSync(path.join(clusterDir, "start-redis.sh"), args, { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
    } catch (e) {
      throw new Error(`start-redis.sh failed (status ${e.status}): is redis-server installed?`);
    }
    this.port = Number(/REDIS_PORT=(\d+)/.exec(out)[1]);
    this.pid = Number(/kill (\d+)/.exec(out)[1]);
    this.url = `redis://127.0.0.1:${this.port}`;
    return this;
  }
  stop() {
    if (!this.pid) return;
    try {
      process.kill(this.pid, "SIGKILL");
    } catch {}
    this.pid = 0;
  }
  // stopAndWait stops Redis and waits until its port is free (the process may linger as a zombie).
  async stopAndWait() {
    this.stop();
    await waitFor(
      () =>
        new Promise((resolve) => {
          const s = net.connect(this.port, "127.0.0.1");
          s.once("connect", () => (s.destroy(), resolve(false)));
          s.once("error", () => resolve(true));
        }),
      5000,
      "redis-server to exit",
    );
  }
}

// buildNode builds the fastio test node once (FASTIO_CLUSTER_NODE overrides).
let nodeBin = process.env.FASTIO_CLUSTER_NODE;
export function buildNode() {
  if (nodeBin) return nodeBin;
  const out = path.join(os.tmpdir(), `fastionode-${process.pid}`);
  execFileSync("go", ["build", "-o", out, "./test/cluster/fastionode"], { cwd: repoDir, stdio: "inherit" });
  process.on("exit", () => fs.rmSync(out, { force: true }));
  nodeBin = out;
  return out;
}

// startGoNode starts a fastio node; resolves once it listens.
export async function startGoNode(name, redisURL, extra = []) {
  const port = await freePort();
  const child = spawn(buildNode(), ["serve", "--port", String(port), "--redis", redisURL, "--name", name, ...extra], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  children.add(child);
  child.on("exit", () => children.delete(child));
  const logs = [];
  child.stderr.on("data", (d) => {
    logs.push(d.toString());
    if (process.env.FASTIO_CLUSTER_DEBUG) process.stderr.write(`[${name}] ${d}`);
  });
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start:\n${logs.join("")}`)), 20000);
    let buf = "";
    child.stdout.on("data", (d) => {
      buf += d;
      if (buf.includes("listening")) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code}:\n${logs.join("")}`));
    });
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
  return { name, port, url: `http://127.0.0.1:${port}`, child, logs, kill: (sig = "SIGKILL") => child.kill(sig) };
}

// startNodeNode starts a Node.js socket.io node with the Redis adapter (createShardedAdapter with
// {sharded: {subscriptionMode}}), in this process.
export async function startNodeNode(name, redisURL, setup, { sharded } = {}) {
  const pub = createClient({ url: redisURL, socket: { reconnectStrategy: () => 100 } });
  const sub = pub.duplicate();
  for (const c of [pub, sub]) c.on("error", () => {}); // outages are expected
  await Promise.all([pub.connect(), sub.connect()]);
  const httpServer = createServer();
  const io = new Server(httpServer, { pingInterval: 2000, pingTimeout: 2000 });
  io.adapter(sharded ? createShardedAdapter(pub, sub, sharded) : createAdapter(pub, sub, { requestsTimeout: 2000 }));
  setup?.(io);
  const port = await freePort();
  await new Promise((r) => httpServer.listen(port, "127.0.0.1", r));
  const node = {
    name,
    port,
    url: `http://127.0.0.1:${port}`,
    io,
    pub,
    sub,
    async close() {
      // io.close() closes the adapters (the sharded one unsubscribes): wait for it, but not forever.
      await Promise.race([io.close().catch(() => {}), sleep(2000)]);
      // quit lets the commands in flight finish (the sharded adapter unsubscribes as rooms empty, without
      // waiting); disconnect if Redis does not answer.
      for (const c of [pub, sub]) {
        await Promise.race([c.quit().catch(() => {}), sleep(1000)]);
        if (c.isOpen) await c.disconnect().catch(() => {});
      }
    },
  };
  closers.push(() => node.close());
  return node;
}

// client connects a socket.io-client and records what it receives.
// Unless ready is false, it waits for the server's "ready" event (sent once the connection handlers ran).
export async function client(url, { nsp = "/", auth = {}, query = {}, headers = {}, ready = true } = {}) {
  const socket = connect(url + nsp, {
    transports: ["websocket"],
    auth,
    query,
    extraHeaders: headers,
    reconnection: false,
    forceNew: true,
  });
  const received = [];
  socket.onAny((event, ...args) => received.push({ event, args }));
  socket.on("ask", (...args) => {
    const cb = args.pop();
    cb({ from: socket.id, args });
  });
  closers.push(() => socket.disconnect());
  await new Promise((resolve, reject) => {
    socket.once(ready ? "ready" : "connect", resolve);
    socket.once("connect_error", reject);
    setTimeout(() => reject(new Error(`no ${ready ? "ready" : "connect"} from ${url}${nsp}`)), 5000);
  });
  return {
    socket,
    received,
    id: socket.id,
    events: (name) => received.filter((r) => r.event === name),
    clear: () => received.splice(0),
    call: (event, ...args) => socket.timeout(8000).emitWithAck(event, ...args),
  };
}

export async function stopAll() {
  for (const c of children) c.kill("SIGKILL");
  for (const close of closers.splice(0).reverse()) {
    try {
      await close();
    } catch {}
  }
}

process.on("exit", () => {
  for (const c of children) c.kill("SIGKILL");
});
