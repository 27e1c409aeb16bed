#!/usr/bin/env bash
# Checks the dependencies of both lock files (the workspace's and the fuzz workspace's) with
# cargo deny: licences, banned crates and sources (deny.toml), then RustSec advisories.
#
# Advisories come from, in this order:
#   1. the live RustSec database (github.com/rustsec/advisory-db), when github.com answers;
#   2. an offline snapshot, `git archive` of that repository as a .tar.gz: $IMPULSE_RUSTSEC_SNAPSHOT,
#      else ../shared/rustsec/advisory-db.tar.gz beside the clone, when it exists;
#   3. neither: the run says loudly that advisories were NOT checked.
# The output names the source and its age. A known advisory fails the run unless deny.toml
# waives it ([advisories] ignore, with a reason).
#
# Needs every crate of both lock files in the cargo cache (scripts/test.sh runs `cargo fetch`).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

manifests=(Cargo.toml fuzz/Cargo.toml)

for m in "${manifests[@]}"; do
  echo "cargo deny ($m): licences, bans, sources"
  cargo deny --offline --manifest-path "$m" --config deny.toml check licenses bans sources
done

work="$root/target/rustsec"
mkdir -p "$work"
config="deny.toml"
source_desc=""
offline=()
if timeout 20 git ls-remote https://github.com/RustSec/advisory-db HEAD >/dev/null 2>&1; then
  source_desc="the live RustSec database (github.com/rustsec/advisory-db, fetched now)"
else
  snapshot="${IMPULSE_RUSTSEC_SNAPSHOT:-$root/../shared/rustsec/advisory-db.tar.gz}"
  if [ ! -f "$snapshot" ]; then
    echo "cargo deny: advisories NOT checked: github.com is unreachable and there is no snapshot at $snapshot"
    exit 0
  fi
  snapshot=$(readlink -f "$snapshot")
  # cargo deny reads a database from db-path/<name derived from its URL>, which must be a git
  # repository with a commit; HEAD's date is the database's date. Unpack the snapshot there and
  # commit it with the date of its files (git archive stamps them with the snapshot's commit date).
  db="$work/db/advisory-db-3157b0e258782691"
  rm -rf "$work/db"
  mkdir -p "$work/db"
  tar -xzf "$snapshot" -C "$work/db"
  mv "$work/db/advisory-db" "$db"
  stamp=$(stat -c %Y "$db/.duplicate-id-guard" 2>/dev/null || stat -c %Y "$db")
  date_iso=$(date -u -d "@$stamp" +%Y-%m-%dT%H:%M:%SZ)
  (cd "$db" && git init -q && git add -A &&
    GIT_AUTHOR_DATE="$date_iso" GIT_COMMITTER_DATE="$date_iso" \
      git -c user.name=snapshot -c user.email=snapshot@localhost commit -q -m snapshot)
  age_days=$(( ($(date -u +%s) - stamp) / 86400 ))
  source_desc="the offline snapshot $snapshot, dated $date_iso ($age_days days old)"
  # The same policy as deny.toml, reading the database from the unpacked snapshot; the snapshot
  # is as fresh as this workplace has, so its age is reported above rather than refused.
  config="$work/deny-offline.toml"
  sed -e "s|^\[advisories\]|[advisories]\ndb-path = \"$work/db\"\nmaximum-db-staleness = \"P3650D\"|" \
    deny.toml >"$config"
  offline=(--offline)
fi

for m in "${manifests[@]}"; do
  echo "cargo deny ($m): advisories from $source_desc"
  cargo deny "${offline[@]}" --manifest-path "$m" --config "$config" check advisories
done
echo "advisories: checked against $source_desc: no advisory affects either lock file"
