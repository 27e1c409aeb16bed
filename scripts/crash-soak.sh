#!/usr/bin/env bash
# The crash-consistency soak: the harness of crates/impulse/tests/crash_consistency.rs (one node,
# SQLite) with many SIGKILL cycles, built in release mode; with `cluster` as third argument, the
# harness of cluster_crash.rs (three nodes on a PostgreSQL spool) instead. Prints the
# reconciliation line that docs/reliability.md records.
# Usage: bash scripts/crash-soak.sh [CYCLES] [SEED] [cluster]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh
export IMPULSE_CRASH_CYCLES="${1:-100}"
[ -n "${2:-}" ] && export IMPULSE_CRASH_SEED="$2"
harness=crash_consistency
if [ "${3:-}" = cluster ]; then
  harness=cluster_crash
  IMPULSE_TEST_POSTGRES=$(bash scripts/test-postgres.sh start)
  export IMPULSE_TEST_POSTGRES
  trap 'bash scripts/test-postgres.sh stop' EXIT
fi
cargo test --release --locked -p impulse --test "$harness" -- --nocapture 2>&1 \
  | grep -E "^(cycle [0-9]+:|(cluster )?crash harness:|test result:)|panicked|lost"
