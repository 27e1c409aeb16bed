#!/usr/bin/env bash
# End-to-end email -> SMS throughput (preliminary; issue #4): Postfix's smtp-source sends N
# 1-line messages over SESSIONS sessions to <number>@sms.example.com; Impulse spools each
# durably, converts it and submits it over SMPP to `impulse sim smsc`. Reports the rate from
# the first SMTP connection to the last submit_sm seen by the simulator, ROUNDS times.
# Kannel as the same-run reference (issue #4) is not in this script yet.
# Usage: bench/email-to-sms.sh [MESSAGES=20000] [SESSIONS=20] [ROUNDS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-20000}; S=${2:-20}; ROUNDS=${3:-3}
command -v smtp-source >/dev/null || bash scripts/install-test-deps.sh
cargo build --release -p impulse --locked -q
work=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return; sleep 0.1; done; exit 1; }
stat() { exec 3<>/dev/tcp/127.0.0.1/$1; echo stats >&3; head -1 <&3 | sed -E 's/submits=([0-9]+).*/\1/'; }
rates=()
for r in $(seq "$ROUNDS"); do
  smpp=$(port); ctl=$(port); smtp=$(port)
  target/release/impulse sim smsc --listen "127.0.0.1:$smpp" --control "127.0.0.1:$ctl" >/dev/null & sim=$!
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
  target/release/impulse serve -c "$work/e2e.conf" 2>"$work/impulse.log" & imp=$!
  wait_port "$smtp"
  t0=$(date +%s.%N)
  smtp-source -s "$S" -l 100 -m "$N" -f bench@example.org -t 4445551234@sms.example.com "127.0.0.1:$smtp"
  while [ "$(stat "$ctl")" -lt "$N" ]; do sleep 0.05; done
  t1=$(date +%s.%N)
  rates+=("$(python3 -c "print(round($N/($t1-$t0)))")")
  echo "round $r: ${rates[-1]} messages/s" >&2
  kill "$imp" "$sim"; wait "$imp" "$sim" 2>/dev/null || true
done
printf '%s\n' "${rates[@]}" | sort -n | awk '{a[NR]=$1} END {print "median: " a[int((NR+1)/2)] " messages/s (email accepted -> submit_sm at the SMSC)"}'
