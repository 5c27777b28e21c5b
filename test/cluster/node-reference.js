// The Node.js reference server of the testserver contract (../e2e/reference-server.js) as a cluster node:
// @socket.io/redis-adapter on the Redis given by --redis. Used to measure cross-node fan-out against fastio.
//   node node-reference.js --port 3000 --redis redis://127.0.0.1:6379 [--ping-interval 25s --ping-timeout 20s]
import { createClient } from "redis";
import { createAdapter } from "@socket.io/redis-adapter";
import { createReferenceServer, parseArgs } from "../e2e/reference-server.js";

const argv = process.argv.slice(2);
const i = argv.indexOf("--redis");
if (i < 0) throw new Error("--redis URL is required");
const url = argv[i + 1];
argv.splice(i, 2);
const opts = parseArgs(argv);
const pub = createClient({ url });
const sub = pub.duplicate();
await Promise.all([pub.connect(), sub.connect()]);
const { httpServer, io } = createReferenceServer(opts);
io.adapter(createAdapter(pub, sub));
httpServer.listen(opts.port);
