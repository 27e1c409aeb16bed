#!/usr/bin/env bash
# End-to-end email -> MMS throughput (issue #5): SubmitReq per second at the MMSC.
#
# Postfix's smtp-source sends N messages of SIZE bytes over SESSIONS sessions (reusing each
# connection, -d) to 15551234567@mms.example.com; Impulse commits each to its spool, converts it
# to MMS content and POSTs one SubmitReq (SOAP with attachments, keep-alive HTTP) to
# `impulse sim mmsc`. Rate = N / time from the first SMTP connection to the last SubmitReq the
# simulator counted. Reference in the same round: the same smtp-source run against Postfix's
# smtp-sink (SMTP alone, nothing stored or converted), so the ratio shows what MM7 costs.
# Usage: bench/email-to-mms.sh [MESSAGES=5000] [SIZE=30720] [SESSIONS=20] [ROUNDS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-5000}; SIZE=${2:-30720}; S=${3:-20}; ROUNDS=${4:-3}
command -v smtp-source >/dev/null || bash scripts/install-test-deps.sh
cargo build --release -p impulse --locked -q
work=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
. bench/lib.sh

impulse_round() {
  local http ctl smtp t0 t1
  http=$(port); ctl=$(port); smtp=$(port)
  target/release/impulse sim mmsc --listen "127.0.0.1:$http" --control "127.0.0.1:$ctl" >/dev/null & local sim=$!
  wait_port "$ctl"
  rm -rf "$work/spool"
  cat > "$work/e2e.conf" <<CONF
Spoolbase = "$work/spool"
ESMTP_Listener { Listen "127.0.0.1:$smtp" { } }
domain "mms.example.com" {
  MM7_MMSC_Server = "127.0.0.1"
  MM7_MMSC_Port = $http
  MM7_VASPID = "bench"
  Max_Outbound_Connections = 64
}
CONF
  target/release/impulse serve -c "$work/e2e.conf" 2>"$work/impulse.log" & local imp=$!
  wait_port "$smtp"
  t0=$(now)
  smtp-source -d -s "$S" -l "$SIZE" -m "$N" -f bench@example.org -t 15551234567@mms.example.com "127.0.0.1:$smtp"
  while [ "$(submits "$ctl")" -lt "$N" ]; do sleep 0.05; done
  t1=$(now)
  kill "$imp" "$sim"; wait "$imp" "$sim" 2>/dev/null || true
  python3 -c "print(round($N/($t1-$t0)))"
}

sink_round() {
  local p t0 t1
  p=$(port)
  smtp-sink "${user[@]}" "127.0.0.1:$p" 1000 >/dev/null & local sink=$!
  wait_port "$p"
  t0=$(now)
  smtp-source -d -s "$S" -l "$SIZE" -m "$N" -f bench@example.org -t 15551234567@mms.example.com "127.0.0.1:$p"
  t1=$(now)
  kill "$sink"; wait "$sink" 2>/dev/null || true
  python3 -c "print(round($N/($t1-$t0)))"
}

imp=(); ref=()
for r in $(seq "$ROUNDS"); do
  i=$(impulse_round); s=$(sink_round)
  echo "round $r: impulse $i SubmitReq/s, smtp-sink $s msg/s"
  imp+=("$i"); ref+=("$s")
done
mi=$(median "${imp[@]}"); ms=$(median "${ref[@]}")
echo "impulse (SMTP -> spool -> MM7 SubmitReq, $SIZE bytes) median: $mi SubmitReq/s (runs: ${imp[*]})"
echo "smtp-sink (SMTP only, same load) median: $ms msg/s (runs: ${ref[*]})"
python3 -c "print('ratio impulse/smtp-sink: %.2f' % ($mi/$ms))"
