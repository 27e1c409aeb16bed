#!/usr/bin/env bash
# Runs every Impulse test on a fresh machine (a Debian with the Rust toolchain and nothing else):
# installs the third-party peers the integration tests talk to and the cargo tools it uses,
# fetches every crate of both lock files, checks formatting, dependencies (licences, bans,
# sources, RustSec advisories) and lints, smoke-runs the fuzz targets, then runs the whole test
# suite (last, so its summary closes the output). Leaves the work tree as it was.
#
# First run on a cold machine: about 35-45 minutes on 2 cores (most of it compiling); with warm
# caches about 12 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
tree_before=$(git status --porcelain --untracked-files=all 2>/dev/null || true)

bash scripts/install-test-deps.sh

# Every crate of both lock files, for every platform: `cargo deny --offline` and `cargo metadata`
# read the Windows-only ones too, which a build on Linux never downloads.
cargo fetch --locked
cargo fetch --locked --manifest-path fuzz/Cargo.toml

cargo fmt --all -- --check

# Dependencies: licences, banned crates (a second TLS provider, rustls-pemfile...), sources and
# RustSec advisories (deny.toml), for the workspace and for the fuzz workspace's own lock file.
if ! cargo deny --version >/dev/null 2>&1; then
  cargo install cargo-deny --locked --version 0.20.2
fi
bash scripts/check-deps.sh

cargo clippy --workspace --all-targets --locked -- -D warnings

# Fuzz smoke run of every target from its committed corpus (fuzz/corpus/TARGET). New inputs go
# to a scratch directory, so the committed corpus changes only on purpose (docs/reliability.md).
# cargo-fuzz passes nightly-only -Z flags; this machine has one stable toolchain, so
# RUSTC_BOOTSTRAP lets that toolchain accept them. A crash fails the run (set -o pipefail).
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked --version 0.13.2
fi
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for target in smpp_frames mm7_reader smtp_session mime_to_sms config_parser receipt_parser address; do
  mkdir -p "$scratch/$target"
  (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" "$scratch/$target" "corpus/$target" \
     -- -runs=100000 -max_total_time=40 -rss_limit_mb=2048 2>&1 | tail -n 2)
  echo "fuzz smoke run: $target finished without a crash"
done

# Tests that need root: mounting a small tmpfs is the only way to give the spool a disk that
# really fills up. Without root they are skipped, by name, in the summary below.
needs_root=(
  "faults::a_full_spool_disk_answers_4xx_loses_nothing_and_recovers"
)
skip=()     # "test|reason"
if [ "$(id -u)" != 0 ]; then
  for t in "${needs_root[@]}"; do skip+=("$t|needs root to mount a tmpfs"); done
fi

# The real-world mail corpus (tests/mail-corpus): public fixtures of other projects, fetched at
# their recorded commits, not committed here. Without GitHub its test is skipped by name.
if [ -n "${IMPULSE_MAIL_CORPUS:-}" ] && [ -d "$IMPULSE_MAIL_CORPUS" ]; then
  echo "mail corpus: $IMPULSE_MAIL_CORPUS (given)"
elif bash scripts/fetch-mail-corpus.sh target/mail-corpus; then
  export IMPULSE_MAIL_CORPUS="$PWD/target/mail-corpus"
  echo "mail corpus: fetched into target/mail-corpus"
else
  skip+=("mail_corpus::real_world_mail_converts_cleanly_and_costs_fewer_segments|the mail corpus could not be fetched whole from GitHub; set IMPULSE_MAIL_CORPUS to a copy")
fi

filter=()
skipped=()
if [ ${#skip[@]} -gt 0 ]; then
  expr=""
  for entry in "${skip[@]}"; do
    t=${entry%%|*}
    expr="${expr:+$expr or }(binary(${t%%::*}) and test(=${t#*::}))"
    skipped+=("$entry")
  done
  filter=(-E "not ($expr)")
fi

# The shared spool's tests use a throwaway PostgreSQL server of their own, stopped at the end.
IMPULSE_TEST_POSTGRES=$(bash scripts/test-postgres.sh start)
export IMPULSE_TEST_POSTGRES
trap 'bash scripts/test-postgres.sh stop; rm -rf "$scratch"' EXIT
echo "PostgreSQL for the tests: $IMPULSE_TEST_POSTGRES"

status=0
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast "${filter[@]}" || status=$?
else
  skip_args=()
  for entry in "${skipped[@]}"; do t=${entry%%|*}; skip_args+=(--skip "${t#*::}"); done
  cargo test --workspace --locked --no-fail-fast -- "${skip_args[@]}" || status=$?
fi
for entry in "${skipped[@]}"; do
  echo "SKIPPED (${entry#*|}): ${entry%%|*}"
done
# The run leaves the work tree as it found it: whatever it writes goes to ignored directories.
tree_after=$(git status --porcelain --untracked-files=all 2>/dev/null || true)
if [ "$tree_before" != "$tree_after" ]; then
  echo "FAILED: the run changed the work tree:"
  diff <(echo "$tree_before") <(echo "$tree_after") | head -20 || true
  status=1
fi
exit $status
