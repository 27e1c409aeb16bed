#!/usr/bin/env bash
# SMS -> email throughput (issue #10): `impulse sim smsc` sends N single-part MO as fast as its
# deliver_sm window (1, 10, 64) lets, to Impulse (a persistent receiver bind; each MO becomes a
# mail committed to the spool before its deliver_sm_resp, then relayed to smtp-sink), and in the
# same run to a do-nothing ESME (crates/smpp/examples/mo_sink.rs: answers at once, stores
# nothing). Rate = N / time from the command to the simulator's N-th ESME_ROK. Medians of ROUNDS.
# Usage: bench/mo-to-mail.sh [N=50000] [ROUNDS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-50000}; ROUNDS=${2:-3}
command -v smtp-sink >/dev/null || [ -x /usr/sbin/smtp-sink ] || bash scripts/install-test-deps.sh
cargo build --release --locked -q -p impulse -p impulse-smpp --bin impulse --example mo_sink
work=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
. bench/lib.sh
sinkp=$(port); smtp-sink "${user[@]}" -c "127.0.0.1:$sinkp" 1000 >/dev/null & wait_port "$sinkp"

impulse_round() { # WINDOW
  local smpp ctl smtp t0 t1
  smpp=$(port); ctl=$(port); smtp=$(port)
  target/release/impulse sim smsc --listen "127.0.0.1:$smpp" --control "127.0.0.1:$ctl" --keep 0 --mo-window "$1" >/dev/null & local sim=$!
  wait_port "$ctl"; rm -rf "$work/spool"
  cat > "$work/mo.conf" <<CONF
Spoolbase = "$work/spool"
ESMTP_Listener { Listen "127.0.0.1:$smtp" { } }
Gateway = "127.0.0.1:$sinkp"
domain "sms.example.com" {
  SMPP_SMSC_Server = "127.0.0.1"
  SMPP_SMSC_Port = $smpp
  SMPP_ESME_Address = "12345"
  SMPP_Default_Email_Address = "inbox@example.com"
  SMPP_Use_Reverse_Address_Mappings = false
  SMPP_Persistent_Connections = [ Persist_This = 1 ]
}
Binding "Persist_This" { SMPP_Bind_Type = "Receiver" }
CONF
  target/release/impulse serve -c "$work/mo.conf" 2>"$work/impulse.log" & local imp=$!
  until control "$ctl" stats | grep -q "bound=1"; do sleep 0.1; done
  t0=$(now)
  control "$ctl" "mo-flood $N 4445551234 12345 hello from a handset" >/dev/null
  while [ "$(sim_stat "$ctl" mo_acked)" -lt "$N" ]; do sleep 0.05; done
  t1=$(now)
  kill "$imp" "$sim"; wait "$imp" "$sim" 2>/dev/null || true
  python3 -c "print(round($N/($t1-$t0)))"
}

sink_round() { # WINDOW
  local smpp ctl t0 t1
  smpp=$(port); ctl=$(port)
  target/release/impulse sim smsc --listen "127.0.0.1:$smpp" --control "127.0.0.1:$ctl" --keep 0 --mo-window "$1" >/dev/null & local sim=$!
  wait_port "$ctl"
  SMSC_ADDR="127.0.0.1:$smpp" COUNT=$N target/release/examples/mo_sink >/dev/null & local esme=$!
  until control "$ctl" stats | grep -q "bound=1"; do sleep 0.1; done
  t0=$(now)
  control "$ctl" "mo-flood $N 4445551234 12345 hello from a handset" >/dev/null
  while [ "$(sim_stat "$ctl" mo_acked)" -lt "$N" ]; do sleep 0.05; done
  t1=$(now)
  kill "$sim" 2>/dev/null; wait "$esme" "$sim" 2>/dev/null || true
  python3 -c "print(round($N/($t1-$t0)))"
}

echo "N=$N rounds=$ROUNDS machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
for w in 1 10 64; do
  ours=(); theirs=()
  for r in $(seq "$ROUNDS"); do
    ours+=("$(impulse_round "$w")"); theirs+=("$(sink_round "$w")")
    echo "window $w round $r: impulse ${ours[-1]} MO/s, do-nothing ESME ${theirs[-1]} MO/s"
  done
  mi=$(median "${ours[@]}"); mt=$(median "${theirs[@]}")
  echo "window $w: impulse median $mi MO/s (MO -> spooled mail), do-nothing ESME median $mt MO/s, ratio $(python3 -c "print('%.2f' % ($mi/$mt))")"
done
