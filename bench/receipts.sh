#!/usr/bin/env bash
# Delivery receipts at the end-to-end rate (issue #10): N mails to an SMPP domain asking for
# receipts, submitted to `impulse sim smsc --receipts-first`, which sends each receipt *before*
# the submit_sm_resp it reports on (the hardest order for an ESME). Reported: the end-to-end rate,
# and how many receipts Impulse matched to their submission (S records in the SMPP log) of those
# the simulator sent. Goal: all.
# Usage: bench/receipts.sh [N=20000] [SESSIONS=20]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-20000}; S=${2:-20}
command -v smtp-source >/dev/null || bash scripts/install-test-deps.sh
cargo build --release -p impulse --locked -q
work=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
. bench/lib.sh
smpp=$(port); ctl=$(port); smtp=$(port)
target/release/impulse sim smsc --listen "127.0.0.1:$smpp" --control "127.0.0.1:$ctl" --keep 0 --receipts-first >/dev/null & sim=$!
wait_port "$ctl"
cat > "$work/r.conf" <<CONF
Spoolbase = "$work/spool"
ESMTP_Listener { Listen "127.0.0.1:$smtp" { } }
domain "sms.example.com" {
  SMPP_SMSC_Server = "127.0.0.1"
  SMPP_SMSC_Port = $smpp
  SMPP_ESME_Address = "12345"
  SMPP_Command_Window_Size = 64
  SMPP_Registered_Delivery = ( "SMSC_Delivery" )
}
smpp_logger "l" { logfile = "$work/smpplog.ec" }
CONF
target/release/impulse serve -c "$work/r.conf" 2>"$work/impulse.log" & imp=$!
wait_port "$smtp"
t0=$(now)
smtp-source -d -s "$S" -l 100 -m "$N" -f bench@example.org -t 4445551234@sms.example.com "127.0.0.1:$smtp"
while [ "$(sim_stat "$ctl" submits)" -lt "$N" ]; do sleep 0.05; done
t1=$(now)
while [ "$(sim_stat "$ctl" receipts)" -lt "$N" ]; do sleep 0.05; done
sent=$(sim_stat "$ctl" receipts)
for _ in $(seq 300); do
  matched=$(grep -c "@S@" "$work/smpplog.ec" || true)
  [ "$matched" -ge "$sent" ] && break
  sleep 0.1
done
# A clean stop flushes the log files.
kill -TERM "$imp"; wait "$imp" 2>/dev/null || true
matched=$(grep -c "@S@" "$work/smpplog.ec" || true)
echo "end to end: $N mails at $(python3 -c "print(round($N/($t1-$t0)))") msg/s; receipts sent before their response: $sent; matched: $matched"
grep -c "matches no submission" "$work/impulse.log" | sed 's/^/unmatched logged: /' || true
