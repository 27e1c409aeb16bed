#!/usr/bin/env bash
# Runs every Impulse test on a fresh machine: installs the third-party peers the integration
# tests talk to, checks formatting and lints, smoke-runs the fuzz target, then runs the whole
# test suite (last, so its summary closes the output).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-test-deps.sh

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

# Dependencies: licences, banned crates (a second TLS provider, rustls-pemfile...) and sources
# (deny.toml). RustSec advisories need github.com, which some build machines cannot reach: they
# are checked where it answers, and the run says so where it does not.
if ! cargo deny --version >/dev/null 2>&1; then
  cargo install cargo-deny --locked --version 0.20.2
fi
cargo deny --offline check licenses bans sources
if timeout 20 git ls-remote https://github.com/RustSec/advisory-db HEAD >/dev/null 2>&1; then
  cargo deny check advisories
else
  echo "cargo deny: advisories NOT checked (github.com, home of the RustSec database, is unreachable)"
fi

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
