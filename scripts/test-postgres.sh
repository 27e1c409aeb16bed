#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests of the shared spool, from Debian's `postgresql`
# package (scripts/install-test-deps.sh installs it): initdb in a temporary directory, run by an
# unprivileged user, on a free loopback port. Nothing outside this run is touched.
#
#   scripts/test-postgres.sh start   prints the server's URL; starts it unless it runs already
#                                    (tests call this themselves, so `cargo nextest` alone works)
#   scripts/test-postgres.sh stop    stops it and removes its files
#   ... start durable / stop durable  the same, for benchmarks: a second server with
#                                    PostgreSQL's durable defaults (fsync, full page writes)
#
# The tests' settings are for tests, not for production: fsync is off (the tests kill Impulse
# nodes, never the database), and the connection limit is raised for many test processes.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
durable=""; [ "${2:-}" = durable ] && durable=1
state="$root/target/test-postgres${durable:+-durable}"
mkdir -p "$state"

bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$d" ] && [ -x "$d/initdb" ] || { echo "PostgreSQL is not installed: run scripts/install-test-deps.sh" >&2; exit 1; }
  echo "$d"
}

# PostgreSQL refuses to run as root: as root, the server runs as Debian's `postgres` user (or
# nobody), in a directory that user owns.
as_server_user() {
  if [ "$(id -u)" = 0 ]; then
    local user=postgres
    id -u "$user" >/dev/null 2>&1 || user=nobody
    runuser -u "$user" -- "$@"
  else
    "$@"
  fi
}

server_user() {
  if [ "$(id -u)" = 0 ]; then
    if id -u postgres >/dev/null 2>&1; then echo postgres; else echo nobody; fi
  else
    id -un
  fi
}

running() {
  [ -f "$state/url" ] && [ -f "$state/datadir" ] || return 1
  local dir port
  dir=$(cat "$state/datadir")
  port=$(cat "$state/port")
  "$(bindir)/pg_isready" -q -h 127.0.0.1 -p "$port" -t 2 && [ -f "$dir/data/postmaster.pid" ]
}

start() {
  if running; then cat "$state/url"; return; fi
  local bin dir port user
  bin=$(bindir)
  # A server left by an earlier run that is gone: forget it.
  if [ -f "$state/datadir" ]; then rm -rf "$(cat "$state/datadir")"; fi
  rm -f "$state/url" "$state/datadir" "$state/port"
  dir=$(mktemp -d "${TMPDIR:-/tmp}/impulse-pg.XXXXXX")
  user=$(server_user)
  chown "$user" "$dir"
  chmod 700 "$dir"
  as_server_user "$bin/initdb" -D "$dir/data" -U impulse -A trust -E UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  cat >>"$dir/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 400
shared_buffers = 128MB
EOF
  if [ -z "$durable" ]; then
    printf 'fsync = off\nfull_page_writes = off\n' >>"$dir/data/postgresql.conf"
  fi
  # The server must not inherit the lock (fd 9) nor this script's output.
  as_server_user "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null 2>&1 9>&- \
    || { cat "$dir/server.log" >&2; exit 1; }
  echo "$dir" >"$state/datadir"
  echo "$port" >"$state/port"
  echo "postgresql://impulse@127.0.0.1:$port/postgres" >"$state/url"
  cat "$state/url"
}

stop() {
  [ -f "$state/datadir" ] || return 0
  local dir
  dir=$(cat "$state/datadir")
  if [ -d "$dir/data" ]; then
    as_server_user "$(bindir)/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
  rm -f "$state/url" "$state/datadir" "$state/port"
}

# One start at a time: test processes call `start` concurrently.
exec 9>"$state/lock"
flock 9
case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop [durable]" >&2; exit 2 ;;
esac
