#!/usr/bin/env bash
# Runs every Impulse test on a fresh machine: installs the third-party peers the integration
# tests talk to, checks formatting and lints, smoke-runs the fuzz target, then runs the whole
# test suite (last, so its summary closes the output).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-test-deps.sh

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

# Fuzz smoke run of the SMPP frame decoder. cargo-fuzz passes nightly-only -Z flags; this machine
# has one stable toolchain, so RUSTC_BOOTSTRAP lets that toolchain accept them.
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked --version 0.13.2
fi
(cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run smpp_frames -- -runs=200000 -max_total_time=60 2>&1 | tail -n 3)
echo "fuzz smoke run: smpp_frames finished without a crash"
(cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run mm7_reader -- -runs=100000 -max_total_time=60 2>&1 | tail -n 3)
echo "fuzz smoke run: mm7_reader finished without a crash"

if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi
