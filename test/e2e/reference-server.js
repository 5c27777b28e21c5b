#!/usr/bin/env node
// Reference implementation of the `fastio testserver` contract
// (see /work/shared/testserver-contract.md), built on the Node.js
// socket.io / engine.io servers. It is the ground truth fastio is compared
// with: the e2e tests in this folder must pass against it unchanged.
//
// One HTTP server carries:
//   /engine.io/  a plain Engine.IO v4 echo server (no Socket.IO layer)
//   /socket.io/  the Socket.IO server with the namespaces /, /custom, /guarded
//
// Flags: --port 3000 --ping-interval 300ms --ping-timeout 200ms
//        --max-payload 1000000 --connect-timeout 1000ms
// Nothing is logged per connection.

import http from "node:http";
import process from "node:process";
import { realpathSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { Server as EngineServer } from "engine.io";
import { Server as SocketIOServer } from "socket.io";

const ENGINE_PATH = "/engine.io/";
const SOCKETIO_PATH = "/socket.io/";

// Parses "300ms", "25s", "1.5s", "2m", "1h" or a bare number of milliseconds.
export function parseDuration(text) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(String(text).trim());
  if (!m) throw new Error(`invalid duration: ${text}`);
  const n = Number(m[1]);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? "ms"];
  return Math.round(n * unit);
}

export function parseArgs(argv) {
  const opts = {
    port: 3000,
    pingInterval: 300,
    pingTimeout: 200,
    maxPayload: 1_000_000,
    connectTimeout: 1000,
  };
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    let value;
    const eq = arg.indexOf("=");
    if (arg.startsWith("--") && eq !== -1) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    const next = () => {
      if (value !== undefined) return value;
      if (i + 1 >= argv.length) throw new Error(`missing value for ${arg}`);
      return argv[++i];
    };
    switch (arg) {
      case "--port":
        opts.port = Number.parseInt(next(), 10);
        break;
      case "--ping-interval":
        opts.pingInterval = parseDuration(next());
        break;
      case "--ping-timeout":
        opts.pingTimeout = parseDuration(next());
        break;
      case "--max-payload":
        opts.maxPayload = Number.parseInt(next(), 10);
        break;
      case "--connect-timeout":
        opts.connectTimeout = parseDuration(next());
        break;
      case "--recovery":
        opts.recovery = true;
        break;
      case "--redis":
        throw new Error("--redis is not supported by the reference server");
      default:
        throw new Error(`unknown argument: ${arg}`);
    }
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) {
    throw new Error("invalid --port");
  }
  if (!Number.isInteger(opts.maxPayload) || opts.maxPayload <= 0) {
    throw new Error("invalid --max-payload");
  }
  return opts;
}

function lastIsAck(args) {
  return args.length > 0 && typeof args[args.length - 1] === "function";
}

// Handlers shared by all three namespaces.
function registerCommonHandlers(socket) {
  socket.on("message", (...args) => {
    socket.emit("message-back", ...args);
  });
  socket.on("message-with-ack", (...args) => {
    if (!lastIsAck(args)) return;
    const ack = args.pop();
    ack(...args);
  });
}

// Handlers on the main namespace "/" only.
function registerMainHandlers(nsp, socket) {
  socket.on("join", (room, ack) => {
    socket.join(room);
    if (typeof ack === "function") ack();
  });
  socket.on("leave", (room, ack) => {
    socket.leave(room);
    if (typeof ack === "function") ack();
  });
  socket.on("broadcast", (room, ...args) => {
    if (room === "") nsp.emit("broadcast", ...args);
    else nsp.to(room).emit("broadcast", ...args);
  });
  socket.on("broadcast-others", (room, ...args) => {
    if (room === "") socket.broadcast.emit("broadcast", ...args);
    else socket.to(room).emit("broadcast", ...args);
  });
  socket.on("echo", (...args) => {
    if (lastIsAck(args)) {
      const ack = args.pop();
      ack(...args);
    } else {
      socket.emit("echo", ...args);
    }
  });
  socket.on("server-ack", (...args) => {
    socket.timeout(1000).emit("ping-me", ...args, (err, value) => {
      socket.emit("server-ack-result", err ? "timeout" : value);
    });
  });
  socket.on("disconnect-me", () => {
    socket.disconnect(true);
  });
}

export function createReferenceServer(options) {
  const opts = { ...parseArgs([]), ...options };
  const engineOptions = {
    pingInterval: opts.pingInterval,
    pingTimeout: opts.pingTimeout,
    maxHttpBufferSize: opts.maxPayload,
    cors: { origin: "*" },
  };

  // Fallback for anything that is neither /engine.io/ nor /socket.io/.
  const httpServer = http.createServer((req, res) => {
    res.writeHead(404, { "Content-Type": "text/plain" });
    res.end("Not Found");
  });

  // Plain Engine.IO echo server. It must only handle its own path and leave
  // other upgrade requests alone (destroyUpgrade: false), since socket.io
  // registers its own upgrade listener on the same HTTP server.
  const engine = new EngineServer({ ...engineOptions, path: ENGINE_PATH });
  engine.attach(httpServer, { path: ENGINE_PATH, destroyUpgrade: false });
  engine.on("connection", (socket) => {
    socket.on("message", (data) => socket.send(data));
  });

  // Socket.IO server. Its request listener forwards requests for other paths
  // to the listeners that were registered before (engine.io's, then the 404).
  const io = new SocketIOServer(httpServer, {
    ...engineOptions,
    path: SOCKETIO_PATH,
    serveClient: false,
    connectTimeout: opts.connectTimeout,
    destroyUpgrade: false,
    ...(opts.recovery ? { connectionStateRecovery: {} } : {}),
  });

  // Upgrade requests for neither path: close them (engine.io's default
  // destroyUpgrade behaviour, without the 1 s delay).
  httpServer.on("upgrade", (req, socket) => {
    const url = req.url ?? "";
    if (url.startsWith(ENGINE_PATH) || url.startsWith(SOCKETIO_PATH)) return;
    socket.on("error", () => {});
    socket.end();
  });

  const main = io.of("/");
  main.on("connection", (socket) => {
    const room = socket.handshake.auth?.room;
    if (typeof room === "string" && room !== "") socket.join(room);
    registerCommonHandlers(socket);
    registerMainHandlers(main, socket);
    socket.emit("auth", socket.handshake.auth);
  });

  const custom = io.of("/custom");
  custom.on("connection", (socket) => {
    registerCommonHandlers(socket);
    socket.emit("auth", socket.handshake.auth);
  });

  const guarded = io.of("/guarded");
  guarded.use((socket, next) => {
    if (socket.handshake.auth?.token === "secret") return next();
    const err = new Error("unauthorized");
    err.data = { code: 401 };
    next(err);
  });
  guarded.on("connection", (socket) => {
    registerCommonHandlers(socket);
    socket.emit("auth", socket.handshake.auth);
  });

  return { httpServer, engine, io, opts };
}

function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`reference-server: ${err.message}\n`);
    process.exit(2);
  }
  const { httpServer } = createReferenceServer(opts);
  httpServer.on("error", (err) => {
    process.stderr.write(`reference-server: ${err.message}\n`);
    process.exit(1);
  });
  // Listen on all interfaces (IPv6 wildcard, dual-stack where available) so
  // that both 127.0.0.1 and localhost work.
  httpServer.listen(opts.port, () => {
    process.stderr.write(`reference-server listening on port ${httpServer.address().port}\n`);
  });
  const stop = () => process.exit(0);
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

const isMain =
  process.argv[1] !== undefined &&
  import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href;
if (isMain) main();
