#!/usr/bin/env bash
# Developer helper: rebuild the extensions out of place and move them into
# src/cyloss with rename(2), so processes that have the old modules mapped
# (tests running in parallel) never see a half-written file.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
python setup.py -q build_ext -b "$out" 2>&1 | grep -vE "Warning|warn" || true
for so in "$out"/cyloss/*.so; do
    cp "$so" "src/cyloss/.$(basename "$so").tmp"
    mv -f "src/cyloss/.$(basename "$so").tmp" "src/cyloss/$(basename "$so")"
done
rm -rf "$out"
