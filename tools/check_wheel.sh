#!/usr/bin/env bash
# Check a repaired Linux wheel of cyloss; exits non-zero on the first failure.
#   - every platform tag is manylinux and no newer than the target;
#   - `auditwheel show` reports the target policy;
#   - our extension modules need no glibc symbol version newer than the floor;
#   - exactly one library is grafted (cyloss.libs/), an OpenMP runtime, which
#     itself needs no newer glibc and defines every GOMP_*/OMP_* symbol version
#     our modules use; every module that needs OpenMP needs that copy;
#   - modules are stripped, keep no build-machine rpath; wheel under the limit.
# Needs auditwheel on PATH, binutils (objdump, readelf) and python3.
#
# Usage: tools/check_wheel.sh WHEEL [TARGET]   (TARGET default manylinux_2_17)
# Environment: CYLOSS_WHEEL_MAX_BYTES (default 3500000: the stripped wheel is about
# 3 MB; an unstripped build is ten times that, the case this limit catches).
set -euo pipefail
WHL=$(realpath "$1")
TARGET=${2:-manylinux_2_17}
MAX_BYTES=${CYLOSS_WHEEL_MAX_BYTES:-3500000}
ARCH=$(uname -m)
FLOOR=${TARGET#manylinux_}; FLOOR=${FLOOR/_/.}           # manylinux_2_17 -> 2.17
fail() { echo "FAIL: $*" >&2; exit 1; }
newer() { [ "$(printf '%s\n%s\n' "$1" "$FLOOR" | sort -V | tail -1)" != "$FLOOR" ]; }
max_glibc() { objdump -T "$1" | grep -oE '\bGLIBC_[0-9.]+\b' | sed 's/GLIBC_//' | sort -uV | tail -1; }
X=$(mktemp -d /tmp/cyloss-check.XXXXXX)
trap 'rm -rf "$X"' EXIT

auditwheel show "$WHL" | tee "$X/show.txt"
grep -q "\"${TARGET}_$ARCH\"" "$X/show.txt" || fail "auditwheel show does not report ${TARGET}_$ARCH"

name=$(basename "$WHL")
plats=${name%.whl}; plats=${plats##*-}
echo "platform tags: $plats (target $TARGET, glibc floor $FLOOR)"
for p in ${plats//./ }; do
    case "$p" in
        manylinux1_*) v=2.5;; manylinux2010_*) v=2.12;; manylinux2014_*) v=2.17;;
        manylinux_*) v=${p#manylinux_}; v=${v%_"$ARCH"}; v=${v/_/.};;
        *) fail "platform tag $p is not a manylinux tag";;
    esac
    newer "$v" && fail "platform tag $p is newer than $TARGET"
done

python3 -m zipfile -e "$WHL" "$X/w"
libs=$(cd "$X/w" && ls cyloss.libs 2>/dev/null || true)
echo "grafted: ${libs:-nothing}"
[ "$(echo "$libs" | wc -w)" = 1 ] && [[ $libs == libgomp-*.so* || $libs == libomp-*.so* ]] \
    || fail "cyloss.libs must hold exactly one OpenMP runtime, has: ${libs:-nothing}"
gomp=$X/w/cyloss.libs/$libs
newer "$(max_glibc "$gomp")" && fail "the grafted $libs needs GLIBC_$(max_glibc "$gomp")"
gomp_provides=$(objdump -T "$gomp" | grep -v '\*UND\*' | grep -oE '\b(GOMP|OMP|VERSION)_[0-9.]+\b' | sort -u)

printf '%-50s %-10s %-28s %s\n' module "max glibc" "OpenMP versions" stripped
n=0
for so in "$X"/w/cyloss/*.so; do
    n=$((n + 1))
    mod=$(basename "$so")
    g=$(max_glibc "$so")
    omp=$(objdump -T "$so" | grep '\*UND\*' | grep -oE '\((GOMP|OMP)_[0-9.]+\)' | tr -d '()' | sort -u || true)
    sym=$(readelf -S "$so" | grep -cE '\.symtab|\.debug_' || true)
    printf '%-50s %-10s %-28s %s\n' "$mod" "$g" "$(echo $omp)" "$([ "$sym" = 0 ] && echo yes || echo NO)"
    newer "$g" && fail "$mod needs GLIBC_$g, newer than the floor $FLOOR"
    for v in $omp; do
        grep -qx "$v" <<< "$gomp_provides" || fail "$mod needs $v, which $libs does not define"
    done
    [ "$sym" = 0 ] || fail "$mod is not stripped"
    needs_omp=$(readelf -d "$so" | grep NEEDED | grep -oE '\[lib(g|i)?omp[^]]*\]' | tr -d '[]' || true)
    [ -z "$needs_omp" ] || [ "$needs_omp" = "$libs" ] || fail "$mod needs $needs_omp, not $libs"
    if readelf -d "$so" | grep -E 'RPATH|RUNPATH' | grep -qE '/root|/home|/tmp|/usr/local|pyenv'; then
        fail "$mod keeps a build-machine rpath"
    fi
done
[ "$n" -ge 2 ] || fail "only $n extension modules in the wheel"
size=$(stat -c %s "$WHL")
echo "wheel size: $size bytes (limit $MAX_BYTES)"
[ "$size" -lt "$MAX_BYTES" ] || fail "wheel is $size bytes, limit $MAX_BYTES"
echo "check_wheel: OK"
