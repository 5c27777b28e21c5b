#!/bin/bash
# Hand-run comparison behind the section "Served through net/http" of BENCHMARKS.md (bench/NETHTTP.md).
# Needs bin/fastio (make build) and test/e2e/node_modules (make e2e-deps).
# fastio on event loops, fastio through net/http, Node.js socket.io: idle 10k and fan-out 1000.
cd "$(dirname "$0")/.."
run() { # name, command
  name=$1; shift
  "$@" --port 3941 --ping-interval 25s --ping-timeout 20s >/tmp/srv-$name.log 2>&1 &
  sleep 1
  pid=$(pgrep -f -- "--port 3941" | head -1)
  echo "== $name (pid $pid)"
  bin/fastio bench idle --url ws://127.0.0.1:3941 --conns 10000 --rate 3000/s --hold 5s --procs auto --source-ips 127.0.0.1-127.0.0.8 --server-pid $pid 2>&1 | grep -E "KiB per connection|^idle:"
  bin/fastio bench fanout --url ws://127.0.0.1:3941 --subscribers 1000 --delivery-rate 20000 --duration 5s --source-ips 127.0.0.1-127.0.0.4 --server-pid $pid 2>&1 | grep -E "^fanout: [0-9]"
  bin/fastio bench fanout --url ws://127.0.0.1:3941 --subscribers 1000 --rate max --window 16 --duration 6s --source-ips 127.0.0.1-127.0.0.4 --server-pid $pid 2>&1 | grep -E "^fanout: [0-9]"
  bin/fastio bench polling --clients 50 --warmup 1s --duration 5s --url http://127.0.0.1:3941 --server-pid $pid 2>&1 | grep -E "^polling: [0-9]"
  kill $pid; wait 2>/dev/null
}
run eventloops bin/fastio testserver
run nethttp bin/fastio testserver --stdhttp
run node node test/e2e/reference-server.js
