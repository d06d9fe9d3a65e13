#!/usr/bin/env bash
# Developer helper: rebuild the extensions out of place and move them into
# src/cyloss with rename(2), so processes that have the old modules mapped
# (tests running in parallel) never see a half-written file.
#   tools/install_so.sh               # every module
#   tools/install_so.sh _ctc _rows    # only these modules (kernels: all levels; or _runtime)
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p build
exec 9>build/.install_so.lock   # one build at a time: they share build/cyloss_gen
flock 9
if [ $# -gt 0 ]; then
    export CYLOSS_BUILD_ONLY=$(IFS=,; echo "$*")
fi
out=$(mktemp -d)
python setup.py -q build_ext -b "$out" 2>&1 | grep -vE "Warning|warn" || true
for so in "$out"/cyloss/*.so; do
    cp "$so" "src/cyloss/.$(basename "$so").tmp"
    mv -f "src/cyloss/.$(basename "$so").tmp" "src/cyloss/$(basename "$so")"
done
rm -rf "$out"
