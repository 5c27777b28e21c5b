// Small promise helpers shared by the test files.

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Rejects with a clear message if `promise` does not settle within `ms`. */
export function withTimeout(promise, ms, what = "operation") {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Resolves with the arguments (as an array) of the next `event` on an
 * emitter that has `once`/`off` (Node EventEmitter, component-emitter).
 * If `failOn` events fire first, rejects with their arguments.
 */
export function once(emitter, event, ms = 10_000, failOn = []) {
  const cleanups = [];
  const done = () => cleanups.splice(0).forEach((fn) => fn());
  return withTimeout(
    new Promise((resolve, reject) => {
      const onEvent = (...args) => {
        done();
        resolve(args);
      };
      emitter.once(event, onEvent);
      cleanups.push(() => emitter.off(event, onEvent));
      for (const bad of failOn) {
        const onBad = (...args) => {
          done();
          reject(
            new Error(
              `got "${bad}" while waiting for "${event}": ${args
                .map((a) => (a instanceof Error ? a.message : JSON.stringify(a)))
                .join(", ")}`,
            ),
          );
        };
        emitter.once(bad, onBad);
        cleanups.push(() => emitter.off(bad, onBad));
      }
    }),
    ms,
    `"${event}"`,
  ).finally(done);
}

/**
 * Collects `count` occurrences of `event` and resolves with the list of their
 * first arguments (or of all arguments when `allArgs` is set).
 */
export function collect(emitter, event, count, ms = 10_000, allArgs = false) {
  const got = [];
  return withTimeout(
    new Promise((resolve) => {
      const onEvent = (...args) => {
        got.push(allArgs ? args : args[0]);
        if (got.length === count) {
          emitter.off(event, onEvent);
          resolve(got);
        }
      };
      emitter.on(event, onEvent);
    }),
    ms,
    `${count} "${event}" events`,
  ).catch((err) => {
    err.message += ` (received ${got.length})`;
    throw err;
  });
}

/** Deterministic pseudo-random bytes. */
export function bytes(n, seed = 1) {
  const buf = Buffer.allocUnsafe(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    buf[i] = x & 0xff;
  }
  return buf;
}

/**
 * A deterministic string of about `n` UTF-16 code units (never a split
 * surrogate pair) mixing ASCII, 2-, 3- and 4-byte UTF-8 characters.
 */
export function text(n) {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789 é漢🙂\"\\\n";
  const chars = Array.from(alphabet);
  let s = "";
  let i = 0;
  while (s.length < n) {
    s += chars[i % chars.length];
    i = (i * 7 + 3) % 9973;
  }
  return s;
}

/** Polls `cond` every 5 ms until it is true; rejects after `ms`. */
export async function waitUntil(cond, ms = 10_000, what = "condition") {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(5);
  }
}

/** Emits with an ack callback and resolves with all the ack's arguments; fails on disconnect or after ms. */
export function emitAck(socket, event, ...args) {
  let onDisconnect;
  return withTimeout(
    new Promise((resolve, reject) => {
      onDisconnect = (reason) => reject(new Error(`disconnected (${reason}) while waiting for the ack of "${event}"`));
      socket.once("disconnect", onDisconnect);
      socket.emit(event, ...args, (...res) => resolve(res));
    }),
    10_000,
    `ack of "${event}"`,
  ).finally(() => socket.off("disconnect", onDisconnect));
}

/** Emits `event` and resolves with all arguments of the next `reply` event. */
export function roundTrip(socket, event, reply, ...args) {
  const got = once(socket, reply, 10_000, ["disconnect"]);
  socket.emit(event, ...args);
  return got;
}
