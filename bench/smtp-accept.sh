#!/usr/bin/env bash
# Durable SMTP accept rate: Postfix's smtp-source sends N messages of SIZE bytes over SESSIONS
# parallel sessions, first to smtp-sink (the reference: a server that stores nothing), then to
# Impulse (which commits each message to its spool before answering 250, and delivers it on to
# another smtp-sink). Runs alternate ROUNDS times; prints each run and the medians.
# Usage: bench/smtp-accept.sh [MESSAGES=50000] [SESSIONS=20] [SIZE=1024] [ROUNDS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-50000}; S=${2:-20}; L=${3:-1024}; ROUNDS=${4:-3}
command -v smtp-source >/dev/null || bash scripts/install-test-deps.sh
cargo build --release -p impulse --locked -q
work=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
. bench/lib.sh
send() { local t0 t1; t0=$(date +%s.%N); smtp-source -s "$S" -l "$L" -m "$N" -f bench@example.org -t sink@example.com "127.0.0.1:$1"; t1=$(date +%s.%N); python3 -c "print(round($N/($t1-$t0)))"; }

ref_port=$(port); smtp-sink "${user[@]}" -c "127.0.0.1:$ref_port" 1000 >/dev/null & wait_port "$ref_port"
gw_port=$(port); smtp-sink "${user[@]}" "127.0.0.1:$gw_port" 1000 >/dev/null & wait_port "$gw_port"
imp_port=$(port)
refs=(); imps=()
for r in $(seq "$ROUNDS"); do
  refs+=("$(send "$ref_port")")
  rm -rf "$work/spool"
  cat > "$work/bench.conf" <<CONF
Spoolbase = "$work/spool"
ESMTP_Listener { Listen "127.0.0.1:$imp_port" { } Relay_Hosts = ( "127.0.0.1" ) }
Gateway = "127.0.0.1:$gw_port"
CONF
  target/release/impulse serve -c "$work/bench.conf" 2>"$work/impulse.log" & pid=$!
  wait_port "$imp_port"
  imps+=("$(send "$imp_port")")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "round $r: smtp-sink ${refs[-1]} msg/s, impulse ${imps[-1]} msg/s" >&2
done
mr=$(median "${refs[@]}"); mi=$(median "${imps[@]}")
echo "messages=$N sessions=$S size=$L rounds=$ROUNDS"
echo "smtp-sink median: $mr msg/s (runs: ${refs[*]})"
echo "impulse   median: $mi msg/s (runs: ${imps[*]})"
python3 -c "print('ratio impulse/smtp-sink: %.2f' % ($mi/$mr))"
