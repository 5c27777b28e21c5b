// The demo page in a real browser: headless Chromium (Debian's chromium package), driven by playwright-core.
// Two pages chat through bin/fastio, one of them forced to HTTP long-polling; each must see both messages and
// the right number of connected clients. Then the server is stopped with SIGTERM and the page must notice.
// The same runs again over HTTPS (`fastio --tls-cert/--tls-key`: net/http, HTTP/2 for polling, WSS).
//
//   FASTIO_BIN      the binary (default ../../bin/fastio, built by `make build` with the client bundle embedded)
//   CHROMIUM        the browser (default /usr/bin/chromium)
//   FASTIO_TLS_DIR  a folder with cert.pem and key.pem for 127.0.0.1 (`go run ./internal/selfsigned/gencert DIR`;
//                   `make test-browser` makes it, and sets NODE_EXTRA_CA_CERTS so that this process trusts it);
//                   without it the HTTPS run is skipped
//
// Screenshots of both pages land in test/browser/artifacts/.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BIN = process.env.FASTIO_BIN || path.resolve(HERE, "../../bin/fastio");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const ARTIFACTS = path.join(HERE, "artifacts");
const TOKEN = "browser-test-token";
const WAIT = 10_000;

/** Starts fastio on a free port and resolves with its URL once it logged that it is ready. */
function startServer(extraArgs = []) {
  const args = ["demo", "--addr", "127.0.0.1:0", "--event-loops", "2", "--api-token", TOKEN, "--shutdown-grace", "3s", ...extraArgs];
  const child = spawn(BIN, args, {
    stdio: ["ignore", "ignore", "pipe"],
    env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("FASTIO_"))),
  });
  let log = "";
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  after(() => child.kill("SIGKILL"));
  const url = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`fastio did not get ready:\n${log}`)), WAIT);
    child.stderr.on("data", (d) => {
      log += d;
      const m = /msg="fastio demo ready" url=(https?:\/\/[0-9.:]+\/)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on("error", (err) => reject(new Error(`cannot start ${BIN}: ${err.message} (run make build)`)));
    exited.then(({ code }) => reject(new Error(`fastio exited with ${code}:\n${log}`)));
  });
  return { child, url, exited, log: () => log };
}

async function stats(base) {
  const res = await fetch(new URL("/api/stats", base));
  assert.equal(res.status, 200);
  return res.json();
}

async function waitFor(what, fn, timeout = WAIT) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const messages = (page) => page.locator('#log li[data-type="user_message"] span').allTextContents();

const TLS_DIR = process.env.FASTIO_TLS_DIR;

test("two pages, one on long-polling, chat through fastio", () => chat([], "plain"));

test("the same over HTTPS: WSS, and polling over HTTP/2", { skip: TLS_DIR ? false : "FASTIO_TLS_DIR is not set" }, () =>
  chat(["--tls-cert", path.join(TLS_DIR, "cert.pem"), "--tls-key", path.join(TLS_DIR, "key.pem")], "tls"));

/** Runs the chat scenario against a server started with serverArgs; tag names the screenshots. */
async function chat(serverArgs, tag) {
  assert.ok(fs.existsSync(BIN), `${BIN} is missing: run make build`);
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`);
  const server = startServer(serverArgs);
  const base = await server.url;
  const tls = base.startsWith("https:");

  const bundle = await fetch(new URL("/socket.io.min.js", base));
  assert.equal(bundle.status, 200, `the client bundle is not embedded (${await bundle.text()})`);

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
  after(() => browser.close());
  const errors = [];
  const open = async (query) => {
    // The throwaway certificate is not one Chromium trusts: this test checks the transport, not the PKI.
    const context = await browser.newContext({ viewport: { width: 720, height: 480 }, ignoreHTTPSErrors: tls });
    const page = await context.newPage();
    page.on("pageerror", (err) => errors.push(`${query}: ${err.message}`));
    page.on("console", (msg) => msg.type() === "error" && errors.push(`${query}: console: ${msg.text()}`));
    await page.goto(new URL(query, base).href);
    await page.locator('#status[data-state="connected"]').waitFor({ timeout: WAIT });
    return page;
  };

  const alice = await open("/?name=alice");
  const bob = await open("/?name=bob&transport=polling");

  // Both see two clients; alice upgraded to WebSocket, bob stays on polling.
  for (const page of [alice, bob]) {
    await waitFor("the count of 2", async () => (await page.locator("#count").textContent()) === "2");
  }
  await waitFor("alice on websocket", async () => (await alice.locator("#transport").textContent()) === "websocket");
  assert.equal(await bob.locator("#transport").textContent(), "polling");
  const s = await waitFor("one session on each transport", async () => {
    const st = await stats(base);
    return st.sessions.polling === 1 && st.sessions.websocket === 1 ? st : null;
  });
  assert.equal(s.sockets["/"], 2);

  // alice was told that bob joined (the seed's notification to everyone but the newcomer)
  await waitFor("the join notification", async () => (await alice.locator('#log li[data-type="join"]').count()) === 1);
  assert.match(await alice.locator('#log li[data-type="join"] span').textContent(), /a new user has joined/);
  assert.equal(await bob.locator('#log li[data-type="join"]').count(), 0);

  // Each sends a message: one with the button, one with Enter.
  await alice.fill("#text", "hello from alice");
  await alice.click("#submit");
  await bob.fill("#text", "hello from bob");
  await bob.press("#text", "Enter");
  for (const page of [alice, bob]) {
    await waitFor("both messages", async () => (await messages(page)).length === 2);
    assert.deepEqual((await messages(page)).sort(), ["alice: hello from alice", "bob: hello from bob"]);
    assert.match(await page.locator('#log li[data-type="user_message"] time').first().textContent(), /\d/);
  }

  // A backend publishes through the HTTP API: both pages show it.
  const res = await fetch(new URL("/api/emit", base), {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ event: "notification", args: [{ type: "user_message", from: "backend", text: "hi from the API" }] }),
  });
  assert.equal(res.status, 200);
  for (const page of [alice, bob]) {
    await waitFor("the API message", async () => (await messages(page)).includes("backend: hi from the API"));
  }

  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await alice.screenshot({ path: path.join(ARTIFACTS, `alice-websocket-${tag}.png`) });
  await bob.screenshot({ path: path.join(ARTIFACTS, `bob-polling-${tag}.png`) });
  if (tls) {
    // bob's polling requests went over HTTP/2 (Chromium negotiates it with net/http over TLS).
    const proto = await bob.evaluate(() => performance.getEntriesByType("resource")
      .filter((e) => e.name.includes("/socket.io/?")).map((e) => e.nextHopProtocol));
    assert.ok(proto.length > 0 && proto.every((p) => p === "h2"), `polling protocols: ${proto}`);
  }

  // bob leaves: alice's count drops to 1
  await bob.context().close();
  await waitFor("the count of 1", async () => (await alice.locator("#count").textContent()) === "1");

  // SIGTERM: the server tells alice and exits cleanly
  server.child.kill("SIGTERM");
  const { code } = await server.exited;
  assert.equal(code, 0, server.log());
  await alice.locator('#status[data-state="disconnected"]').waitFor({ timeout: WAIT });
  assert.match(server.log(), /msg="shutting down"/);

  assert.deepEqual(errors.filter((e) => !/ERR_CONNECTION_REFUSED|Failed to load resource/.test(e)), []);
}
