#!/usr/bin/env bash
# Starts a throw-away redis-server on a loopback port, in the background, without persistence, and prints
#
#   REDIS_PORT=<port>
#   REDIS_STOP='<command that stops it>'
#
# so that `eval "$(test/cluster/start-redis.sh)"` sets both. Installs Debian's redis-server package when
# redis-server is missing and we are root. Options:
#   --port N   use port N (default: a free port); used to restart Redis on the same port
#   --dir D    working directory of the server (default: a new temporary directory)
#   --watch P  stop the server when process P (a test runner) is gone, even if it could not clean up
# Exit status 2 when redis-server cannot be found or installed, 1 when it does not start.
set -euo pipefail

port=""
dir=""
watch=""
while [ $# -gt 0 ]; do
  case "$1" in
    --port) port="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    --watch) watch="$2"; shift 2 ;;
    *) echo "start-redis.sh: unknown argument $1" >&2; exit 64 ;;
  esac
done

bin="${REDIS_SERVER:-$(command -v redis-server || true)}"
if [ -z "$bin" ] && [ -x /usr/bin/redis-server ]; then bin=/usr/bin/redis-server; fi
if [ -z "$bin" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "start-redis.sh: installing redis-server" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) >&2 || true
    bin="$(command -v redis-server || true)"
  fi
  if [ -z "$bin" ]; then
    echo "start-redis.sh: redis-server not found (install Debian's redis-server package)" >&2
    exit 2
  fi
fi

if [ -z "$port" ]; then
  # a free port: bind port 0 and read back what the kernel chose
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()' 2>/dev/null \
    || node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
fi
if [ -z "$dir" ]; then
  dir="$(mktemp -d -t fastio-redis.XXXXXX)"
fi
mkdir -p "$dir"

"$bin" --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" \
  --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >/dev/null

# wait until it answers (or give up after 5 s)
for _ in $(seq 1 100); do
  if [ -s "$dir/redis.pid" ] && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    pid="$(cat "$dir/redis.pid")"
    if [ -n "$watch" ]; then
      nohup sh -c "while kill -0 $watch 2>/dev/null && kill -0 $pid 2>/dev/null; do sleep 1; done; kill $pid 2>/dev/null" \
        >/dev/null 2>&1 </dev/null &
    fi
    echo "REDIS_PORT=$port"
    echo "REDIS_STOP='kill $pid'"
    exit 0
  fi
  sleep 0.05
done
echo "start-redis.sh: redis-server did not start on port $port; log:" >&2
cat "$dir/redis.log" >&2 2>/dev/null || true
exit 1
