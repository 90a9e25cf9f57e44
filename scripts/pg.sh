#!/usr/bin/env bash
# Start a throwaway PostgreSQL server for the test suite on 127.0.0.1:${REPWATCH_PG_PORT:-55432}
# and print the URL to use as REPWATCH_TEST_PG_URL. Installs Debian's postgresql if it is
# missing and we are root. Idempotent: a server already running there is reused.
set -euo pipefail
port=${REPWATCH_PG_PORT:-55432}
dir=${REPWATCH_PG_DIR:-/tmp/repwatch-pg}
url="postgresql+psycopg://postgres@127.0.0.1:${port}/postgres"

pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$pgbin" ] || [ ! -x "$pgbin/initdb" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "pg.sh: installing postgresql from Debian" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >&2
    pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  else
    echo "pg.sh: PostgreSQL server binaries not found (install Debian's postgresql)" >&2
    exit 1
  fi
fi

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

if as_pg "$pgbin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
  echo "$url"; exit 0
fi
rm -rf "$dir"; mkdir -p "$dir"
[ "$(id -u)" = 0 ] && chown postgres "$dir"
as_pg "$pgbin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 >/dev/null
as_pg "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
echo "$url"
