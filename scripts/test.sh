#!/usr/bin/env bash
# Runs every Impulse test on a fresh machine: installs the third-party peers the integration
# tests talk to, checks formatting and lints, smoke-runs the fuzz target, then runs the whole
# test suite (last, so its summary closes the output).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-test-deps.sh

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

# Fuzz smoke run of every target, each from its committed corpus (fuzz/corpus/TARGET).
# cargo-fuzz passes nightly-only -Z flags; this machine has one stable toolchain, so
# RUSTC_BOOTSTRAP lets that toolchain accept them. A crash fails the run (set -o pipefail).
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked --version 0.13.2
fi
for target in smpp_frames mm7_reader smtp_session mime_to_sms config_parser receipt_parser; do
  (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" -- -runs=100000 -max_total_time=40 \
     -rss_limit_mb=2048 2>&1 | tail -n 2)
  echo "fuzz smoke run: $target finished without a crash"
done

if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi
