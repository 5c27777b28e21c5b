// Starts the server under test for one test file.
//
// The command comes from the environment variable FASTIO_SERVER, a shell
// command prefix such as `/work/main/bin/fastio testserver`. Without it the
// Node.js reference server in this folder is used. `--port <free port>` and
// any extra flags are appended.
//
// The server runs in its own process group, so signals (SIGSTOP, SIGKILL, ...)
// reach it even when the command is a wrapper such as `go run`. Every server
// started here is killed when the test process exits.

import { spawn } from "node:child_process";
import net from "node:net";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const E2E_DIR = path.resolve(HERE, "..");
const REFERENCE = path.join(E2E_DIR, "reference-server.js");
const START_TIMEOUT_MS = 10_000;

function shellQuote(s) {
  return `'${String(s).replace(/'/g, `'\\''`)}'`;
}

export function serverCommand() {
  const env = process.env.FASTIO_SERVER;
  if (env && env.trim() !== "") return env.trim();
  return `${shellQuote(process.execPath)} ${shellQuote(REFERENCE)}`;
}

/** True when the server under test is the Node.js reference server. */
export function isReference() {
  return !process.env.FASTIO_SERVER || process.env.FASTIO_SERVER.trim() === "";
}

/** Asks the OS for a free TCP port. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function tryConnect(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host: "127.0.0.1" });
    const done = (ok) => {
      sock.removeAllListeners();
      sock.on("error", () => {});
      sock.destroy();
      resolve(ok);
    };
    sock.once("connect", () => done(true));
    sock.once("error", () => done(false));
    sock.setTimeout(1000, () => done(false));
  });
}

const live = new Set();

function killGroup(child, signal) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

function killAllSync() {
  for (const child of live) {
    killGroup(child, "SIGCONT");
    killGroup(child, "SIGKILL");
  }
  live.clear();
}

process.on("exit", killAllSync);
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.once(sig, () => {
    killAllSync();
    process.exit(128 + (sig === "SIGINT" ? 2 : sig === "SIGTERM" ? 15 : 1));
  });
}

/**
 * Starts a server and waits until its port accepts TCP connections.
 *
 * @param {string[]} [extraArgs] flags appended after `--port N`
 * @param {{port?: number}} [opts]
 * @returns {Promise<{url: string, port: number, proc: import("node:child_process").ChildProcess,
 *   stop(): Promise<void>, kill(signal?: string): void, restart(): Promise<void>,
 *   exited(): Promise<void>, output(): string}>}
 */
export async function startServer(extraArgs = [], opts = {}) {
  const port = opts.port ?? (await freePort());
  const args = ["--port", String(port), ...extraArgs];
  const command = `exec ${serverCommand()} ${args.map(shellQuote).join(" ")}`;
  let out = "";

  const handle = {
    port,
    url: `http://127.0.0.1:${port}`,
    proc: null,
    output: () => out,
    kill(signal = "SIGKILL") {
      killGroup(handle.proc, signal);
    },
    /** Resolves when the current process has exited. */
    exited() {
      const child = handle.proc;
      if (!child || child.exitCode !== null || child.signalCode !== null) {
        return Promise.resolve();
      }
      return new Promise((resolve) => child.once("exit", () => resolve()));
    },
    async stop() {
      const child = handle.proc;
      if (!child) return;
      const gone = handle.exited();
      killGroup(child, "SIGCONT");
      killGroup(child, "SIGTERM");
      const timer = setTimeout(() => killGroup(child, "SIGKILL"), 2000);
      await gone;
      clearTimeout(timer);
      // Also reap anything left in the group (wrappers such as `go run`).
      killGroup(child, "SIGKILL");
    },
    async restart() {
      await handle.stop();
      await launch();
    },
  };

  async function launch() {
    const child = spawn("/bin/sh", ["-c", command], {
      cwd: E2E_DIR,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: process.env,
    });
    handle.proc = child;
    live.add(child);
    // Do not let the server keep the test process alive: if a test fails
    // before its `after` hook stops the server, the process still exits and
    // the "exit" handler kills the server.
    child.unref();
    child.stdout.unref?.();
    child.stderr.unref?.();
    const collect = (chunk) => {
      out += chunk.toString();
      if (out.length > 64_000) out = out.slice(-32_000);
      if (process.env.FASTIO_E2E_VERBOSE) process.stderr.write(chunk);
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    let exitInfo = null;
    child.once("exit", (code, signal) => {
      exitInfo = { code, signal };
      live.delete(child);
    });
    child.once("error", (err) => {
      exitInfo = { code: null, signal: null, err };
      live.delete(child);
    });

    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (exitInfo) {
        throw new Error(
          `server exited before listening (code ${exitInfo.code}, signal ${exitInfo.signal}): ` +
            `${command}\n${out}`,
        );
      }
      if (await tryConnect(port)) return;
      if (Date.now() > deadline) {
        killGroup(child, "SIGKILL");
        throw new Error(`server did not listen on port ${port} within 10 s: ${command}\n${out}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  await launch();
  return handle;
}

/** The contract's heartbeat and the benchmark one (`--ping-interval 25s --ping-timeout 20s`). */
export const DEFAULT_HEARTBEAT = Object.freeze({ pingInterval: 300, pingTimeout: 200 });
export const RELAXED_HEARTBEAT = Object.freeze({ pingInterval: 25_000, pingTimeout: 20_000 });
export const RELAXED_ARGS = Object.freeze(["--ping-interval", "25s", "--ping-timeout", "20s"]);

/**
 * True when FASTIO_E2E_RELAXED=1: the functional tests then run against a
 * server with the benchmark heartbeat instead of the contract's 300 ms/200 ms,
 * for machines so loaded that a 500 ms stall is likely. The heartbeat tests
 * always use the contract values.
 */
export const RELAXED_MODE = process.env.FASTIO_E2E_RELAXED === "1";

/**
 * Starts the servers one test file needs, in parallel:
 *  - `server`: for the functional tests (contract defaults, or the relaxed
 *    heartbeat in RELAXED_MODE);
 *  - `strict`: always the contract defaults, for the heartbeat tests (the
 *    same process as `server` unless RELAXED_MODE);
 *  - `relaxed`: always the benchmark heartbeat, for tests with big payloads,
 *    many clients or raw clients that do not answer pings.
 * Each handle gets a `heartbeat` property with its pingInterval/pingTimeout.
 */
export async function startServers() {
  const [strict, relaxed, maybeServer] = await Promise.all([
    startServer(),
    startServer([...RELAXED_ARGS]),
    RELAXED_MODE ? startServer([...RELAXED_ARGS]) : null,
  ]);
  strict.heartbeat = DEFAULT_HEARTBEAT;
  relaxed.heartbeat = RELAXED_HEARTBEAT;
  const server = maybeServer ?? strict;
  server.heartbeat = RELAXED_MODE ? RELAXED_HEARTBEAT : DEFAULT_HEARTBEAT;
  const all = [...new Set([server, strict, relaxed])];
  return { server, strict, relaxed, stopAll: () => Promise.all(all.map((s) => s.stop())) };
}
