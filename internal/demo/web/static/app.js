// The demo page: the seed's chat client. Query parameters: transport=polling|websocket forces one transport,
// name=... sets the name sent with each message.
(() => {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);

  const setStatus = (state, text) => {
    $("status").dataset.state = state;
    $("status").textContent = text ?? state;
  };

  if (typeof io === "undefined") {
    $("missing").hidden = false;
    setStatus("error", "no client bundle");
    return;
  }

  const name = params.get("name") || `guest-${Math.floor(1000 + Math.random() * 9000)}`;
  $("name").value = name;

  const options = {
    path: document.querySelector('meta[name="fastio-path"]').content,
    // Ask the server for the "count" event (clients that do not ask, like the seed's, never get it).
    auth: { watchCount: true },
  };
  const forced = params.get("transport");
  if (forced === "polling" || forced === "websocket") options.transports = [forced];
  const socket = io(options);
  window.fastioDemo = { socket };

  const showTransport = () => {
    const t = socket.io.engine?.transport?.name ?? "–";
    $("transport").textContent = t;
    document.body.dataset.transport = t;
  };

  const time = (stamp) => {
    const d = stamp ? new Date(stamp) : new Date();
    return Number.isNaN(d.getTime()) ? "" : d.toLocaleTimeString();
  };

  const add = (kind, text, stamp) => {
    const li = document.createElement("li");
    li.dataset.type = kind;
    const when = document.createElement("time");
    when.textContent = time(stamp);
    const body = document.createElement("span");
    body.textContent = text;
    li.append(when, body);
    const log = $("log");
    const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 8;
    log.append(li);
    if (atBottom) log.scrollTop = log.scrollHeight;
  };

  socket.on("connect", () => {
    setStatus("connected");
    $("submit").disabled = false;
    showTransport();
    socket.io.engine.once("upgrade", showTransport);
  });
  socket.on("disconnect", (reason) => {
    setStatus("disconnected", `disconnected (${reason})`);
    $("submit").disabled = true;
    showTransport();
  });
  socket.on("connect_error", (err) => setStatus("error", `cannot connect: ${err.message}`));
  socket.on("count", (n) => {
    $("count").textContent = String(n);
  });
  socket.on("notification", (payload) => {
    if (payload && payload.type === "user_message") {
      const from = typeof payload.from === "string" && payload.from ? payload.from : "someone";
      add("user_message", `${from}: ${payload.text ?? ""}`, payload.timestamp);
    } else {
      add("join", `${payload?.message ?? "notification"}${payload?.id ? ` (${payload.id})` : ""}`);
    }
  });

  $("send").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = $("text").value.trim();
    if (!text || !socket.connected) return;
    socket.emit("message", { text, from: $("name").value.trim() || name });
    $("text").value = "";
    $("text").focus();
  });
})();
