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
# Usage: bench/email-to-sms.sh [MESSAGES=20000] [SESSIONS=20] [ROUNDS=3] [KANNEL_SECONDS=5]
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

impulse_round() {
  local smpp ctl smtp t0 t1
  smpp=$(port); ctl=$(port); smtp=$(port)
  target/release/impulse sim smsc --listen "127.0.0.1:$smpp" --control "127.0.0.1:$ctl" --keep $((N + 100000)) >/dev/null & local sim=$!
  wait_port "$ctl"
  rm -rf "$work/spool"
  cat > "$work/e2e.conf" <<CONF
Spoolbase = "$work/spool"
ESMTP_Listener { Listen "127.0.0.1:$smtp" { } }
domain "sms.example.com" {
  SMPP_SMSC_Server = "127.0.0.1"
  SMPP_SMSC_Port = $smpp
  SMPP_ESME_Address = "12345"
  SMPP_Command_Window_Size = 64
}
CONF
  target/release/impulse serve -c "$work/e2e.conf" 2>"$work/impulse.log" & local imp=$!
  wait_port "$smtp"
  python3 bench/accept_latency.py probe "$smtp" 4445551234@sms.example.com "$1" "$work/probes.$1" & local probe=$!
  t0=$(now)
  smtp-source -d -s "$S" -l 100 -m "$N" -f bench@example.org -t 4445551234@sms.example.com "127.0.0.1:$smtp"
  kill -TERM "$probe"; wait "$probe" || true
  local want=$((N + $(wc -l < "$work/probes.$1")))
  while [ "$(submits "$ctl")" -lt "$want" ]; do sleep 0.05; done
  t1=$(now)
  python3 bench/accept_latency.py report "$ctl" "$1" "$work/probes.$1" >> "$work/latency"
  kill "$imp" "$sim"; wait "$imp" "$sim" 2>/dev/null || true
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

ours=(); theirs=()
for r in $(seq "$ROUNDS"); do
  ours+=("$(impulse_round "$r")"); theirs+=("$(kannel_round)")
  echo "round $r: impulse ${ours[-1]} msg/s, kannel ${theirs[-1]} msg/s" >&2
done
mi=$(median "${ours[@]}"); mk=$(median "${theirs[@]}")
echo "impulse (SMTP -> spool -> SMPP) median: $mi msg/s (runs: ${ours[*]})"
echo "kannel  (HTTP -> store -> SMPP) median: $mk msg/s (runs: ${theirs[*]})"
python3 -c "print('ratio impulse/kannel: %.2f' % ($mi/$mk))"
python3 bench/accept_latency.py summary "$work/latency"
