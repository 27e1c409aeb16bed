#!/usr/bin/env bash
# submit_sm throughput and latency through one bind against `impulse sim smsc`, at window 1, 10
# and 64; beside the same load from the smpp34 crate's perf_esme example (an independent Rust
# SMPP 3.4 client) against the same simulator in the same run. ROUNDS alternating runs each;
# prints every run and the medians.
# Usage: bench/smpp-submit.sh [COUNT=200000] [ROUNDS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${1:-200000}; ROUNDS=${2:-3}
cargo build --release --locked -q -p impulse -p impulse-smpp --bin impulse --example bench_esme
work=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

# Build smpp34's perf_esme from the published crate, in a scratch copy (nothing is committed).
ref="$work/smpp34"
mkdir -p "$ref/fetch/src" && echo 'fn main() {}' > "$ref/fetch/src/main.rs"
printf '[package]\nname="fetch"\nversion="0.0.0"\nedition="2021"\n[dependencies]\nsmpp34="=1.5.1"\n' > "$ref/fetch/Cargo.toml"
(cd "$ref/fetch" && cargo fetch -q)
src=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/smpp34-1.5.1 | head -1)
cp -r "$src" "$ref/crate"
(cd "$ref/crate" && cargo build --release -q --example perf_esme)
perf_esme="$ref/crate/target/release/examples/perf_esme"

. bench/lib.sh
p=$(port)
target/release/impulse sim smsc --listen "127.0.0.1:$p" --receipt-delay-ms 0 >/dev/null & sleep 0.5

echo "count=$COUNT rounds=$ROUNDS machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
for w in 1 10 64; do
  ours=(); p50s=(); p99s=(); theirs=()
  for r in $(seq "$ROUNDS"); do
    line=$(SMSC_ADDR="127.0.0.1:$p" COUNT=$COUNT WINDOW=$w target/release/examples/bench_esme)
    echo "  window $w round $r: $line" >&2
    ours+=("$(sed -E 's/.*= ([0-9]+) submit_sm.*/\1/' <<<"$line")")
    p50s+=("$(sed -E 's/.*p50 ([0-9]+)us.*/\1/' <<<"$line")")
    p99s+=("$(sed -E 's/.*p99 ([0-9]+)us.*/\1/' <<<"$line")")
    line=$(SMSC_ADDR="127.0.0.1:$p" COUNT=$COUNT WINDOW=$w SESSIONS=1 "$perf_esme" 2>/dev/null)
    echo "  window $w round $r: $line" >&2
    theirs+=("$(sed -E 's/.*= ([0-9]+) submit_sm.*/\1/' <<<"$line")")
  done
  mo=$(median "${ours[@]}"); mt=$(median "${theirs[@]}")
  echo "window $w: impulse $mo/s (p50 $(median "${p50s[@]}") us, p99 $(median "${p99s[@]}") us) | smpp34 perf_esme $mt/s | ratio $(python3 -c "print('%.2f' % ($mo/$mt))")"
done
