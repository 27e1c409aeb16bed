#!/usr/bin/env bash
# Downloads the real-world mail corpus of tests/mail-corpus/MANIFEST.tsv into DIR, each file
# at its recorded commit from GitHub, and checks its SHA-256. Files already in DIR with the
# right hash are kept. Exits 0 when every file is there and right, 1 otherwise (saying why).
set -uo pipefail
dir=${1:?usage: fetch-mail-corpus.sh DIR}
root=$(cd "$(dirname "$0")/.." && pwd)
manifest="$root/tests/mail-corpus/MANIFEST.tsv"
[[ -f $manifest ]] || { echo "mail corpus: no $manifest" >&2; exit 1; }
mkdir -p "$dir/bodies"
missing=0
while IFS=$'\t' read -r file repo path commit _licence sha _what; do
    [[ $file == \#* || -z $file ]] && continue
    target="$dir/$file"
    if [[ -f $target ]] && echo "$sha  $target" | sha256sum -c --quiet - 2>/dev/null; then
        continue
    fi
    if ! curl -fsS --max-time 20 -o "$target.part" \
        "https://raw.githubusercontent.com/$repo/$commit/$path"; then
        echo "mail corpus: cannot download $repo/$path at $commit" >&2
        missing=$((missing + 1))
        rm -f "$target.part"
        # Without GitHub nothing more will come: stop at the first failure.
        break
    fi
    if echo "$sha  $target.part" | sha256sum -c --quiet - 2>/dev/null; then
        mv "$target.part" "$target"
    else
        echo "mail corpus: $file does not have its recorded SHA-256 (not used)" >&2
        rm -f "$target.part"
        missing=$((missing + 1))
    fi
done <"$manifest"
[[ $missing -eq 0 ]]
