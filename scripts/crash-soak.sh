#!/usr/bin/env bash
# The crash-consistency soak: the harness of crates/impulse/tests/crash_consistency.rs with many
# SIGKILL cycles, built in release mode. Prints the reconciliation line that docs/reliability.md
# records. Usage: bash scripts/crash-soak.sh [CYCLES] [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh
export IMPULSE_CRASH_CYCLES="${1:-100}"
[ -n "${2:-}" ] && export IMPULSE_CRASH_SEED="$2"
cargo test --release --locked -p impulse --test crash_consistency -- --nocapture 2>&1 \
  | grep -E "^(cycle [0-9]+:|crash harness:|test result:)|panicked|lost"
