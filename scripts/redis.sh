#!/usr/bin/env bash
# Start a throwaway Redis server for the test suite on 127.0.0.1:${REPWATCH_REDIS_PORT:-56379}
# and print the URL to use as REPWATCH_TEST_REDIS_URL (the scale-out tests' Celery broker).
# Installs Debian's redis-server if it is missing and we are root. Idempotent: a server
# already answering there is reused. Nothing is persisted (no RDB, no AOF).
set -euo pipefail
port=${REPWATCH_REDIS_PORT:-56379}
dir=${REPWATCH_REDIS_DIR:-/tmp/repwatch-redis}
url="redis://127.0.0.1:${port}/0"

if ! command -v redis-server >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "redis.sh: installing redis-server from Debian" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) >&2
  else
    echo "redis.sh: redis-server not found (install Debian's redis-server)" >&2
    exit 1
  fi
fi

if redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG; then
  echo "$url"; exit 0
fi
mkdir -p "$dir"
redis-server --bind 127.0.0.1 --port "$port" --daemonize yes --dir "$dir" --logfile "$dir/server.log" \
  --pidfile "$dir/redis.pid" --save "" --appendonly no >/dev/null
for _ in $(seq 50); do
  redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG && { echo "$url"; exit 0; }
  sleep 0.1
done
echo "redis.sh: redis-server did not answer on port $port (see $dir/server.log)" >&2
exit 1
