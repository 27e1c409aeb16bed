#!/usr/bin/env bash
# An SMSC outage and its backlog (issue #10): N mails to an SMPP domain arrive while the SMSC is
# down; Impulse spools them (RSS measured once all are acknowledged); then the SMSC comes back
# and Impulse drains the backlog with no operator action (no `flush`), at the default 20-minute
# Retry_Interval. Reported: the drain rate (N / time from the SMSC's start to the last
# submit_sm), and, in the same run and setup, the end-to-end rate with the SMSC up from the
# start (REF mails), as the reference the drain is compared with.
# Usage: bench/smsc-outage.sh [N=200000] [REF=20000] [SESSIONS=20]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200000}; REF=${2:-20000}; S=${3:-20}
command -v smtp-source >/dev/null || bash scripts/install-test-deps.sh
cargo build --release -p impulse --locked -q
work=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
. bench/lib.sh

config() { # SMTP_PORT SMPP_PORT
  cat > "$work/outage.conf" <<CONF
Spoolbase = "$work/spool"
ESMTP_Listener { Listen "127.0.0.1:$1" { } }
domain "sms.example.com" {
  SMPP_SMSC_Server = "127.0.0.1"
  SMPP_SMSC_Port = $2
  SMPP_ESME_Address = "12345"
  SMPP_Command_Window_Size = 64
}
CONF
}

# Reference: the SMSC is up from the start.
smpp=$(port); ctl=$(port); smtp=$(port)
target/release/impulse sim smsc --listen "127.0.0.1:$smpp" --control "127.0.0.1:$ctl" --keep 0 >/dev/null & sim=$!
wait_port "$ctl"; rm -rf "$work/spool"; config "$smtp" "$smpp"
target/release/impulse serve -c "$work/outage.conf" 2>"$work/ref.log" & imp=$!
wait_port "$smtp"
t0=$(now)
smtp-source -d -s "$S" -l 100 -m "$REF" -f bench@example.org -t 4445551234@sms.example.com "127.0.0.1:$smtp"
while [ "$(submits "$ctl")" -lt "$REF" ]; do sleep 0.05; done
t1=$(now)
kill "$imp" "$sim"; wait "$imp" "$sim" 2>/dev/null || true
ref=$(python3 -c "print(round($REF/($t1-$t0)))")
echo "reference, SMSC up: $REF mails end to end at $ref msg/s"

# The outage: nothing listens on the SMSC's port while the mails arrive.
smpp=$(port); ctl=$(port); smtp=$(port)
rm -rf "$work/spool"; config "$smtp" "$smpp"
target/release/impulse serve -c "$work/outage.conf" 2>"$work/outage.log" & imp=$!
wait_port "$smtp"
t0=$(now)
smtp-source -d -s "$S" -l 100 -m "$N" -f bench@example.org -t 4445551234@sms.example.com "127.0.0.1:$smtp"
t1=$(now)
rss=$(awk '/VmRSS/ {print $2}' "/proc/$imp/status")
spool=$(du -sk "$work/spool" | cut -f1)
echo "outage: $N mails acknowledged in $(python3 -c "print(round($t1-$t0,1))") s; RSS $((rss / 1024)) MiB; spool $((spool / 1024)) MiB"
sleep 2 # the queue settles into its unreachable state
target/release/impulse sim smsc --listen "127.0.0.1:$smpp" --control "127.0.0.1:$ctl" --keep 0 >/dev/null & sim=$!
t2=$(now)
wait_port "$ctl"
while [ "$(submits "$ctl")" -lt "$N" ]; do sleep 0.1; done
t3=$(now)
kill "$imp" "$sim"; wait "$imp" "$sim" 2>/dev/null || true
drain=$(python3 -c "print(round($N/($t3-$t2)))")
echo "drain after the SMSC returned: $N SMS in $(python3 -c "print(round($t3-$t2,1))") s = $drain msg/s (no flush)"
python3 -c "print('ratio drain/reference: %.2f' % ($drain/$ref))"
