#!/usr/bin/env bash
# Run the unit tests (tests/, the fuzz pass tests/test_fuzz.py included) against
# a build of cyloss instrumented with AddressSanitizer and
# UndefinedBehaviorSanitizer; any sanitizer report fails the run.
#   1. a clean copy of HEAD (git archive; CYLOSS_FROM_WORKTREE=1: the work
#      tree's tracked and untracked-not-ignored files instead, to test
#      uncommitted work);
#   2. a fresh venv with the build and test packages from PyPI (no TensorFlow:
#      its tests skip themselves, and TF's own libraries are not ours to check);
#   3. `pip install --no-build-isolation .` with CYLOSS_SANITIZE=1 (setup.py:
#      -fsanitize=address,undefined -fno-sanitize-recover=all, Cython bounds and
#      initialized checks), every SIMD level this compiler targets: the tests
#      run each kernel at every level the CPU supports (tests/conftest.py);
#   4. pytest from outside the source tree, the ASan runtime preloaded into the
#      Python process (the interpreter itself is not instrumented, so the
#      runtime must come first: LD_PRELOAD, as the sanitizer documents);
#   5. fail if pytest fails, or any process (subprocesses of tests too) left a
#      sanitizer report.
#
# Usage: tools/sanitize.sh           Environment: PYTHON (default python3),
# CYLOSS_FROM_WORKTREE=1, CYLOSS_KEEP_WORK=1, PYTEST_ARGS (extra pytest args).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
. "$REPO/tools/lib.sh"
PY=${PYTHON:-python3}
WORK=$(mktemp -d /tmp/cyloss-sanitize.XXXXXX)
[ -n "${CYLOSS_KEEP_WORK:-}" ] && echo "work directory: $WORK" || trap 'rm -rf "$WORK"' EXIT
step() { printf '\n== %s (%ss)\n' "$1" "$SECONDS"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

ASAN_RT=$(gcc -print-file-name=libasan.so)
[ -e "$ASAN_RT" ] || fail "gcc has no libasan.so ($ASAN_RT)"

step "clean source tree in $WORK/src"
copy_source_tree "$WORK/src"

step "venv: numpy cython setuptools wheel pytest hypothesis threadpoolctl"
"$PY" -m venv "$WORK/venv"
V=$WORK/venv/bin
"$V/python" -m pip install --quiet --upgrade pip
# --upgrade: the venv's bundled setuptools is too old for pyproject.toml
"$V/python" -m pip install --quiet --upgrade numpy cython setuptools wheel pytest hypothesis \
    threadpoolctl

# SIMD levels: base and the best one this CPU runs (the one cyloss
# dispatches to); the tests run every kernel at both. A level between them
# compiles the same source with other -m flags and would add a third to the
# build time for no index arithmetic of its own (CYLOSS_SIMD_LEVELS overrides).
if grep -qw avx512bw /proc/cpuinfo; then TOP=avx512
elif grep -qw avx2 /proc/cpuinfo; then TOP=avx2
else TOP=base; fi
LEVELS=${CYLOSS_SIMD_LEVELS:-$TOP}

step "build with CYLOSS_SANITIZE=1 (ASan + UBSan, -O1, Cython bounds checks), levels base,$LEVELS"
# CC=gcc: the runtime preloaded below is gcc's; a module built by another
# compiler would need that compiler's runtime.
( cd "$WORK/src" && CC=gcc CYLOSS_SANITIZE=1 CYLOSS_REQUIRE_OPENMP=1 CYLOSS_SIMD_LEVELS=$LEVELS \
    "$V/python" -m pip install --no-build-isolation --no-deps -v . ) > "$WORK/build.log" 2>&1 \
    || { tail -50 "$WORK/build.log"; fail "sanitizer build"; }
SO=$(ls "$WORK"/venv/lib/python*/site-packages/cyloss/_softmax_base*.so)
# (grep without -q: -q stops reading early, ldd gets SIGPIPE and pipefail fails)
ldd "$SO" | grep libasan >/dev/null || fail "$SO is not linked against libasan"
(cd "$WORK" && LD_PRELOAD=$ASAN_RT ASAN_OPTIONS=detect_leaks=0 "$V/python" -c \
    'from cyloss import _kernels; print("built levels", _kernels.built_levels(),
          "; this CPU runs", _kernels.available_levels())')

step "unit tests + fuzz under ASan/UBSan"
mkdir "$WORK/reports" "$WORK/run"
# Every report goes to $WORK/reports/<tool>.<pid> (log_path), also from the
# subprocesses tests start, and stderr captured by pytest cannot swallow it.
# halt_on_error/-fno-sanitize-recover: the first error ends the process with
# exit code 86; abort_on_error=0: an exit code, not a core dump.
# detect_leaks=0: LeakSanitizer would report what CPython, NumPy and the test
# tools deliberately keep until exit (interned objects, type caches, arenas),
# none of it ours; leaks of cyloss' own are tested by tests/test_memory.py
# (RSS and tracemalloc flat over 100000 calls per family) in the normal run.
# allocator_may_return_null=1: an oversized request (a test checking that a
# huge shape raises MemoryError) returns NULL to NumPy, as malloc would,
# instead of being reported as an ASan error.
# PYTHONMALLOC=malloc: Python objects come from malloc too, so ASan's redzones
# and quarantine cover them (an overrun from a kernel into a neighbouring
# object is caught, not hidden inside a pymalloc arena).
export LD_PRELOAD=$ASAN_RT
export ASAN_OPTIONS="halt_on_error=1:abort_on_error=0:exitcode=86:detect_leaks=0:allocator_may_return_null=1:log_path=$WORK/reports/asan"
export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=0:exitcode=86:print_stacktrace=1:log_path=$WORK/reports/ubsan"
export PYTHONMALLOC=malloc
export TF_CPP_MIN_LOG_LEVEL=2
cd "$WORK/run"            # the installed (instrumented) cyloss, not the tree
# --capture=sys: pytest captures Python-level output only; what the
# sanitizers write to fd 2 reaches the log even when the process dies there
# (UBSan ignores log_path when it runs beside ASan).
# Left out: tests/test_memory.py, whose two measurements are of the allocator
# that ASan replaces. RSS: freed memory sits in ASan's quarantine (256 MB by
# default) and every block carries redzones and shadow memory. tracemalloc:
# with PYTHONMALLOC=malloc under ASan it counts ~0.2 blocks per call as
# retained on error-message lines that the normal run (either allocator) and
# ASan with pymalloc count as freed. The file runs in the normal test run,
# where it is meaningful. And the `slow` tests
# (tests/test_large.py's 8 GiB gradient): with ASan's shadow memory they
# would hold > 9 GiB of this shared 24 GiB machine for minutes; the same
# >2**31-element indexing runs here in test_large's other tests (inputs
# that are zero pages, so ASan checks every access at no memory cost).
set +e
"$V/python" -m pytest "$WORK/src/tests" -q -p no:cacheprovider \
    --rootdir "$WORK/src" -c "$WORK/src/pyproject.toml" --capture=sys \
    --ignore="$WORK/src/tests/test_memory.py" -m "not slow" ${PYTEST_ARGS:-} 2>&1 | tee "$WORK/pytest.log" | tail -25
status=${PIPESTATUS[0]}
set -e
unset LD_PRELOAD

step "sanitizer reports"
found=$(ls "$WORK/reports")
grep -l -E "ERROR: AddressSanitizer|runtime error:" "$WORK/pytest.log" >/dev/null \
    && found="$found pytest.log"
if [ -n "$found" ]; then
    for f in "$WORK"/reports/*; do [ -f "$f" ] && { echo "--- $f"; head -60 "$f"; }; done
    grep -E -A30 "ERROR: AddressSanitizer|runtime error:" "$WORK/pytest.log" | head -80 || true
    fail "sanitizer reports: $found"
fi
echo "no sanitizer report"
[ "$status" = 0 ] || fail "pytest exited with $status"
printf '\nOK (%ss)\n' "$SECONDS"
