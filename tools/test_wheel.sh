#!/usr/bin/env bash
# Test the artefacts tools/build_wheel.sh made, as a user gets them:
#   1. the manylinux wheel, installed (binary packages only) with its test and
#      oracle extras into a fresh venv without Cython; run from outside the
#      source tree: cyloss.__file__ must be in site-packages, `cyloss info`
#      must show the OpenMP runtime bundled in cyloss.libs/, then the unit
#      tests (this repository's tests/, importing the INSTALLED cyloss) and the
#      quick conformance against TensorFlow;
#   2. the sdist, built and installed by pip in another fresh venv (this needs
#      a C compiler with OpenMP), imported and run from outside the tree.
#
# Usage: tools/test_wheel.sh [WHEEL [SDIST]]   (default: the newest in dist/)
# Environment: PYTHON (default python3), CYLOSS_SKIP_SDIST=1 skips step 2.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-python3}
WHEEL=$(realpath "${1:-$(ls -t "$REPO"/dist/cyloss-*manylinux*.whl | head -1)}")
SDIST=$(realpath "${2:-$(ls -t "$REPO"/dist/cyloss-*.tar.gz | head -1)}")
WORK=$(mktemp -d /tmp/cyloss-wheeltest.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
export TF_CPP_MIN_LOG_LEVEL=2
step() { printf '\n== %s (%ss)\n' "$1" "$SECONDS"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

# Checks run by the venv's python from $WORK/run: where cyloss comes from.
check_installed() {
    "$1" - <<'EOF'
import os, sysconfig
import cyloss
site = {os.path.realpath(sysconfig.get_paths()[k]) for k in ("purelib", "platlib")}
where = os.path.realpath(os.path.dirname(cyloss.__file__))
assert os.path.dirname(where) in site, f"cyloss imported from {where}, not from {site}"
print("cyloss imported from", where)
EOF
}

step "wheel: fresh venv, pip install $(basename "$WHEEL")[test,oracle] (binary only)"
"$PY" -m venv "$WORK/venv"
V=$WORK/venv/bin
"$V/python" -m pip install --quiet --upgrade pip
"$V/python" -m pip uninstall --quiet -y setuptools wheel 2>/dev/null || true
"$V/python" -m pip install --quiet --only-binary :all: "$WHEEL[test,oracle]"
if "$V/python" -c "import Cython" 2>/dev/null; then fail "Cython is in the test venv"; fi
echo "build-side packages in the venv: $("$V/python" -m pip list --format=freeze 2>/dev/null \
    | grep -iE '^(cython|setuptools|wheel|meson|scikit-build)' | tr '\n' ' ' || true)(none is Cython)"

mkdir "$WORK/run" && cd "$WORK/run"           # nothing of the source tree on sys.path
check_installed "$V/python"

step "cyloss info"
"$V/cyloss" info | tee "$WORK/info.txt"
grep -E '^openmp runtime' "$WORK/info.txt" | grep -q "/cyloss.libs/libgomp" \
    || fail "cyloss info does not show the OpenMP runtime bundled in cyloss.libs"
[ "$(grep -E '^openmp runtime' "$WORK/info.txt" | tr ',' '\n' | grep -c gomp)" = 1 ] \
    || fail "more than one OpenMP runtime loaded"

step "unit tests against the installed wheel"
# --rootdir/-c: the repository's pytest settings; tests/conftest.py puts only
# tests/ on sys.path (for _cases, _fd), so `import cyloss` is the installed one.
# -p no:cacheprovider: nothing written into the repository.
"$V/python" -m pytest "$REPO/tests" -q -p no:cacheprovider \
    --rootdir "$REPO" -c "$REPO/pyproject.toml" 2>&1 | tee "$WORK/pytest.txt" | tail -15
grep -qE '^[0-9]+ passed' "$WORK/pytest.txt" && ! grep -qE '[0-9]+ (failed|error)' "$WORK/pytest.txt" \
    || fail "unit tests"

step "cyloss conformance --quick against the installed wheel"
"$V/cyloss" conformance --quick --no-progress --report "$WORK/conformance-report" \
    2>&1 | tee "$WORK/conformance.txt" | tail -15
[ "${PIPESTATUS[0]}" = 0 ] || fail "conformance"

if [ -z "${CYLOSS_SKIP_SDIST:-}" ]; then
    step "sdist: fresh venv, pip install $(basename "$SDIST") (built from source)"
    "$PY" -m venv "$WORK/sdist-venv"
    S=$WORK/sdist-venv/bin
    "$S/python" -m pip install --quiet --upgrade pip
    CYLOSS_REQUIRE_OPENMP=1 "$S/python" -m pip install --quiet "$SDIST" threadpoolctl
    cd "$WORK/run"
    check_installed "$S/python"
    "$S/cyloss" info
    "$S/python" - <<'EOF'
import numpy as np
import cyloss
from cyloss import _kernels, nn
from threadpoolctl import threadpool_info
logits = np.array([[2., 7., 5.], [6., 3., 4.]], np.float32)
for level in _kernels.available_levels():
    _kernels.use(level)
    v = nn.sparse_softmax_cross_entropy_with_logits(np.array([1, 2]), logits)
    assert np.allclose(v, [0.13284527, 2.169846], rtol=1e-6), (level, v)
assert any(i["user_api"] == "openmp" for i in threadpool_info())
print("sdist install: imports, computes at levels", _kernels.available_levels())
EOF
fi
printf '\nOK (%ss)\n' "$SECONDS"
