#!/usr/bin/env bash
# End-to-end email -> SMS throughput (issue #4), beside Kannel in the same run.
#
# Impulse: Postfix's smtp-source sends N 100-byte messages over SESSIONS sessions (reusing each
# connection, -d) to <number>@sms.example.com; Impulse commits each to its spool, converts it
# and submits it over SMPP (window 64) to `impulse sim smsc`. Rate = N / time from the first
# SMTP connection to the last submit_sm counted by the simulator. Latency: during each Impulse
# round, bench/accept_latency.py sends a probe mail every 10 ms over one more SMTP connection and
# notes when its 250 arrived; the simulator notes when each probe's submit_sm arrived; p50/p99
# over all rounds' probes.
# Kannel 1.4.5 (Debian): wrk sends HTTP sendsms with SESSIONS keep-alive connections for
# KANNEL_SECONDS to smsbox; bearerbox (store-type spool, i.e. durable) submits over SMPP
# (max-pending-submits 64) to another `impulse sim smsc`. Rate = SMS submitted / time until the
# simulator stops receiving.
# Spools (SPOOLS="sqlite pg pg2", default "sqlite"): each round runs Impulse once per spool named,
# beside one Kannel round. sqlite: the embedded spool. pg: one node on a PostgreSQL spool (a
# durable server of scripts/test-postgres.sh, a fresh database each round). pg2: two nodes on one
# database, each taking half of the sessions and messages, both submitting to one simulator.
# LONG_TX_MINUTES=M: instead, one node on one PostgreSQL database, rounds back to back for M
# minutes while a transaction stays open in that database (REPEATABLE READ, with an xid: vacuum
# can reclaim no row deleted after it started), the known way SKIP LOCKED queues degrade; prints
# each round's rate and the last round's against the first. LONG_TX_HOLD=0 runs the same rounds
# without the open transaction: the control.
# Usage: [SPOOLS=...] [LONG_TX_MINUTES=M [LONG_TX_HOLD=0]] bench/email-to-sms.sh [MESSAGES=20000] [SESSIONS=20] [ROUNDS=3] [KANNEL_SECONDS=5]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-20000}; S=${2:-20}; ROUNDS=${3:-3}; KS=${4:-5}
command -v smtp-source >/dev/null || bash scripts/install-test-deps.sh
if ! command -v bearerbox >/dev/null || ! command -v wrk >/dev/null; then
  SUDO=""; [ "$(id -u)" != 0 ] && SUDO=sudo
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends kannel wrk >/dev/null
fi
cargo build --release -p impulse --locked -q
work=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
. bench/lib.sh
bound() { exec 3<>/dev/tcp/127.0.0.1/$1; echo stats >&3; head -1 <&3 | grep -q "bound=1"; }

SPOOLS=${SPOOLS:-sqlite}
[ -n "${LONG_TX_MINUTES:-}" ] && SPOOLS=pg
pg_url=""
if [[ " $SPOOLS " == *" pg"* ]]; then
  pg_url=$(bash scripts/test-postgres.sh start durable)
  trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"; bash scripts/test-postgres.sh stop durable' EXIT
fi

# impulse_round ROUND SPOOL: one Impulse run (one or two nodes); prints msg/s.
impulse_round() {
  local smpp ctl smtp smtp2 t0 t1 spoolbase nodes=1 imp2=""
  smpp=$(port); ctl=$(port); smtp=$(port); smtp2=$(port)
  target/release/impulse sim smsc --listen "127.0.0.1:$smpp" --control "127.0.0.1:$ctl" --keep $((N + 100000)) >/dev/null & local sim=$!
  wait_port "$ctl"
  rm -rf "$work/spool"
  case "$2" in
    sqlite) spoolbase="$work/spool" ;;
    pg|pg2)
      if [ -n "${LONG_TX_MINUTES:-}" ]; then
        spoolbase="${pg_url%/*}/bench_long"
      else
        psql -q "$pg_url" -c "CREATE DATABASE bench_$1_$2" >/dev/null
        spoolbase="${pg_url%/*}/bench_$1_$2"
      fi
      [ "$2" = pg2 ] && nodes=2 ;;
  esac
  for n in $(seq "$nodes"); do
    local listen=$smtp; [ "$n" = 2 ] && listen=$smtp2
    cat > "$work/e2e$n.conf" <<CONF
Spoolbase = "$spoolbase"
Node_Name = "bench$n"
ESMTP_Listener { Listen "127.0.0.1:$listen" { } }
domain "sms.example.com" {
  SMPP_SMSC_Server = "127.0.0.1"
  SMPP_SMSC_Port = $smpp
  SMPP_ESME_Address = "12345"
  SMPP_Command_Window_Size = 64
}
CONF
  done
  target/release/impulse serve -c "$work/e2e1.conf" 2>"$work/impulse.log" & local imp=$!
  wait_port "$smtp"
  if [ "$nodes" = 2 ]; then
    target/release/impulse serve -c "$work/e2e2.conf" 2>"$work/impulse2.log" & imp2=$!
    wait_port "$smtp2"
  fi
  python3 bench/accept_latency.py probe "$smtp" 4445551234@sms.example.com "$1$2" "$work/probes.$1$2" & local probe=$!
  t0=$(now)
  if [ "$nodes" = 2 ]; then
    smtp-source -d -s $((S / 2)) -l 100 -m $((N / 2)) -f bench@example.org -t 4445551234@sms.example.com "127.0.0.1:$smtp" &
    local half=$!
    smtp-source -d -s $((S / 2)) -l 100 -m $((N - N / 2)) -f bench@example.org -t 4445551234@sms.example.com "127.0.0.1:$smtp2"
    wait "$half"
  else
    smtp-source -d -s "$S" -l 100 -m "$N" -f bench@example.org -t 4445551234@sms.example.com "127.0.0.1:$smtp"
  fi
  kill -TERM "$probe"; wait "$probe" || true
  local want=$((N + $(wc -l < "$work/probes.$1$2")))
  while [ "$(submits "$ctl")" -lt "$want" ]; do sleep 0.05; done
  t1=$(now)
  python3 bench/accept_latency.py report "$ctl" "$1$2" "$work/probes.$1$2" >> "$work/latency.$2"
  kill "$imp" $imp2 "$sim"; wait "$imp" $imp2 "$sim" 2>/dev/null || true
  python3 -c "print(round($N/($t1-$t0)))"
}

kannel_round() {
  local smpp ctl admin box http t0 t1 last n
  smpp=$(port); ctl=$(port); admin=$(port); box=$(port); http=$(port)
  target/release/impulse sim smsc --listen "127.0.0.1:$smpp" --control "127.0.0.1:$ctl" >/dev/null & local sim=$!
  wait_port "$ctl"
  rm -rf "$work/kannel"; mkdir -p "$work/kannel/store"
  cat > "$work/kannel/kannel.conf" <<CONF
group = core
admin-port = $admin
admin-password = bench
smsbox-port = $box
box-allow-ip = 127.0.0.1
log-level = 3
log-file = "$work/kannel/bearerbox.log"
store-type = spool
store-location = "$work/kannel/store"
dlr-storage = internal

group = smsc
smsc = smpp
smsc-id = sim
host = 127.0.0.1
port = $smpp
transceiver-mode = true
smsc-username = kannel
smsc-password = kannel
system-type = ""
max-pending-submits = 64

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = $box
sendsms-port = $http
log-level = 3
log-file = "$work/kannel/smsbox.log"

group = sendsms-user
username = bench
password = bench
CONF
  bearerbox "$work/kannel/kannel.conf" >/dev/null 2>&1 & local bb=$!
  wait_port "$box"
  smsbox "$work/kannel/kannel.conf" >/dev/null 2>&1 & local sb=$!
  wait_port "$http"
  for _ in $(seq 100); do bound "$ctl" && break; sleep 0.1; done
  t0=$(now)
  wrk -t2 -c"$S" -d"${KS}s" "http://127.0.0.1:$http/cgi-bin/sendsms?username=bench&password=bench&from=12345&to=4445551234&text=$(printf 'x%.0s' $(seq 100))" >/dev/null
  # Wait for the SMSC to stop receiving.
  last=-1; n=$(submits "$ctl"); t1=$(now)
  while [ "$n" != "$last" ]; do last=$n; t1=$(now); sleep 0.5; n=$(submits "$ctl"); done
  kill "$sb" "$bb" "$sim"; wait "$sb" "$bb" "$sim" 2>/dev/null || true
  python3 -c "print(round($last/($t1-$t0)))"
}

if [ -n "${LONG_TX_MINUTES:-}" ]; then
  psql -q "$pg_url" -c "CREATE DATABASE bench_long" >/dev/null
  # Open a transaction in the spool's database, take an xid, and sit idle in it
  # (LONG_TX_HOLD=0: the same rounds without it, the control).
  if [ "${LONG_TX_HOLD:-1}" != 0 ]; then
    # psql reads a FIFO this script holds open: when the script ends, psql sees the end of
    # its input and leaves (no idle client or sleep is left behind).
    mkfifo "$work/hold"
    psql -q "${pg_url%/*}/bench_long" <"$work/hold" >/dev/null &
    exec 7>"$work/hold"
    echo "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT txid_current();" >&7
    sleep 1
  fi
  psql -Atq "${pg_url%/*}/bench_long" -c "SELECT 'held: ' || count(*) FROM pg_stat_activity WHERE state = 'idle in transaction'" >&2
  t_start=$(now); rates=(); minutes=(); r=0
  while python3 -c "import sys; sys.exit(0 if $(now) - $t_start < ${LONG_TX_MINUTES} * 60 else 1)"; do
    r=$((r + 1)); rates+=("$(impulse_round "$r" pg)")
    minutes+=("$(python3 -c "print(round(($(now) - $t_start) / 60, 2))")")
    echo "round $r at ${minutes[-1]} min: ${rates[-1]} msg/s" >&2
  done
  psql -Atq "${pg_url%/*}/bench_long" -c "SELECT 'dead tuples in recipients: ' || n_dead_tup FROM pg_stat_user_tables WHERE relname = 'recipients'" >&2
  echo "long transaction held ${LONG_TX_MINUTES} min: rounds ${rates[*]}"
  python3 -c "
import statistics as st
r = [$(IFS=,; echo "${rates[*]}")]; t = [$(IFS=,; echo "${minutes[*]}")]; end = t[-1]
print('first %d, last %d, lowest %d msg/s; last/first %.2f, lowest/first %.2f' % (r[0], r[-1], min(r), r[-1]/r[0], min(r)/r[0]))
first = [v for v, m in zip(r, t) if m <= 1]; last = [v for v, m in zip(r, t) if m > end - 1]
print('median of the first minute %d, of the last minute %d (%.0f %%), of all %d' % (st.median(first), st.median(last), 100 * st.median(last) / st.median(first), st.median(r)))"
  exit 0
fi
declare -A ours; theirs=()
for r in $(seq "$ROUNDS"); do
  line="round $r:"
  for sp in $SPOOLS; do
    v=$(impulse_round "$r" "$sp"); ours[$sp]="${ours[$sp]:-} $v"; line="$line impulse/$sp $v msg/s,"
  done
  theirs+=("$(kannel_round)")
  echo "$line kannel ${theirs[-1]} msg/s" >&2
done
mk=$(median "${theirs[@]}")
for sp in $SPOOLS; do
  # shellcheck disable=SC2086
  mi=$(median ${ours[$sp]})
  echo "impulse/$sp (SMTP -> spool -> SMPP) median: $mi msg/s (runs:${ours[$sp]}); ratio to kannel $(python3 -c "print('%.2f' % ($mi/$mk))")"
  python3 bench/accept_latency.py summary "$work/latency.$sp"
done
echo "kannel  (HTTP -> store -> SMPP) median: $mk msg/s (runs: ${theirs[*]})"
