"""Special values and foreign dtypes against TensorFlow (the TF half of the
fuzzing; tests/test_fuzz.py is the TF-free half).

* test_special_values[key-class]: for every entry and value class
  (nonfinite: NaN, +-inf; huge: +-max, +-1e30; denormal), valid cases drawn
  from the entry's own strategy get values of the class written at random
  positions of one float argument; the engine then compares cyloss with TF
  exactly as for any random case (values, gradients, dtypes, shapes, NaN and
  infinity positions, every SIMD level, inputs untouched). The divergences
  found and not fixed yet are listed in KNOWN (xfail, with the reason).
* test_dtype_catalogue: tests/_fuzz.py's catalogue of the foreign dtypes TF
  accepts (TF_ACCEPTS) and of those TF accepts but cyloss refuses on purpose
  (refusal_reason) is re-confirmed against TF: a mutant dtype TF accepts must
  be in one of them, one it rejects in neither.

    pytest conformance/test_fuzz_special.py      # 2 cases per entry and class, 1 per entry
    CYLOSS_FUZZ_SPECIAL_EXAMPLES=20 CYLOSS_FUZZ_DTYPE_CASES=5 pytest ...   # deeper
"""
import dataclasses
import os
import sys
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from cyloss.conformance import engine, oracle, registry, report, samples

try:        # load TF first: tests/_fuzz.py hides TF only while it is not loaded
    oracle.tf()
except oracle.OracleUnavailable:        # the tf_oracle fixture reports it
    pass
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "tests"))
import _fuzz as fz       # noqa: E402  (tests/_fuzz.py: the catalogue and the targets)

SEED = int(os.environ.get("CYLOSS_SEED", "0"))           # as conftest.py reads them
MODE = os.environ.get("CYLOSS_CONFORMANCE", "quick").strip().lower() or "quick"
EXAMPLES = int(os.environ.get("CYLOSS_FUZZ_SPECIAL_EXAMPLES", "2"))
DTYPE_CASES = int(os.environ.get("CYLOSS_FUZZ_DTYPE_CASES", "1"))

DEFAULT_DRAW = SEED == 0 and MODE == "quick" and EXAMPLES == 2
ARRAY_KEYS = sorted(k for k, t in fz.TARGETS.items() if t.kind != "scenario")
# entries whose cases have float arguments TF and cyloss compute with
SPECIAL_KEYS = [k for k in ARRAY_KEYS if fz.TARGETS[k].kind != "nograd"]


def _settings(n):
    return settings(max_examples=n, database=None, deadline=None,
                    phases=(Phase.explicit, Phase.generate),
                    suppress_health_check=list(HealthCheck))


VALUE_CLASSES = ("nonfinite", "huge", "denormal")


def values_of(dtype, cls):
    fi = np.finfo(dtype)
    if cls == "nonfinite":
        return np.array([np.nan, np.inf, -np.inf], dtype)
    if cls == "huge":
        return np.array([fi.max, -fi.max] + ([1e30, -1e30] if fi.max > 1e30 else []), dtype)
    return np.array([fi.tiny / 4, -fi.tiny / 4, fi.tiny / 1024], dtype)


def inject(case, arg, cls, rng):
    """A copy of `case` with values of class `cls` at random positions of `arg`."""
    a = np.array(case.args[arg], copy=True)
    vals = values_of(a.dtype, cls)
    flat = a.reshape(-1)
    k = int(rng.integers(1, max(2, flat.size // 4) + 1))
    flat[rng.integers(0, flat.size, k)] = rng.choice(vals, k)
    return dataclasses.replace(case, args=dict(case.args, **{arg: a}),
                               kind=f"{case.kind}/{cls}:{arg}")


def _tf_rejects(entry, case):
    """The error class TF raises on `case` (one cyloss has too), or None."""
    try:
        entry.call_tf(oracle.tf(), dict(case.args), case.options)
    except Exception as e:      # noqa: BLE001  (any of them: the name decides)
        name = type(e).__name__
        return name if name in ("InvalidArgumentError", "ValueError", "TypeError") else None
    return None


# (key, value class) -> reason: divergences this test found and not fixed yet,
# listed in the README ("Known differences"). xfail(strict=True) on the default seed and quick
# mode (another CYLOSS_SEED or mode may draw no affected case: strict=False).
KNOWN = {}


def _params():
    out = []
    for k in SPECIAL_KEYS:
        for cls in VALUE_CLASSES:
            why = KNOWN.get((k, cls))
            marks = [pytest.mark.xfail(strict=DEFAULT_DRAW, reason=why)] if why else []
            out.append(pytest.param(k, cls, id=f"{k}-{cls}", marks=marks))
    return out


@pytest.mark.parametrize("key,cls", _params())
def test_special_values(key, cls, tf_oracle, conformance_mode):
    entry = registry.REGISTRY[key]
    strategy = entry.cases(conformance_mode, key)
    failures = []

    @seed(SEED * 1_000_003 + zlib.crc32(f"special:{cls}:{key}".encode()))
    @_settings(EXAMPLES)
    @given(st.data())
    def run(data):
        case = data.draw(strategy, label="case")
        case.fn = key
        floats = [k for k in fz.float_args(case) if case.args[k].size] if not case.expect \
            else []
        if not floats:
            return
        arg = data.draw(st.sampled_from(floats), label="argument")
        mutated = inject(case, arg, cls,
                         np.random.default_rng([case.seed, zlib.crc32(arg.encode())]))
        r = engine.run_case(entry, mutated)
        name = None if r.ok else _tf_rejects(entry, mutated)
        if name:    # values TF refuses (e.g. NaN class ids cast to int): cyloss must
            # raise the same error class (the engine's error-parity check)
            r = engine.run_case(entry, dataclasses.replace(mutated, expect=samples.Expect(
                (name,), name, f"TF raises {name} on {cls} values")))
        if not r.ok:
            failures.append(r)

    run()
    if failures:
        texts = [report.reproducer(r, suite_seed=SEED) for r in failures[:3]]
        pytest.fail(f"{key}: {len(failures)} cases with {cls} values disagree with "
                    f"TensorFlow:\n\n" + "\n\n".join(texts), pytrace=False)


@pytest.mark.parametrize("key", ARRAY_KEYS)
def test_dtype_catalogue(key, tf_oracle, conformance_mode):
    entry = registry.REGISTRY[key]
    tgt = fz.TARGETS[key]
    strategy = entry.cases(conformance_mode, key)
    stale = []

    @seed(SEED * 1_000_003 + zlib.crc32(("dtype:" + key).encode()))
    @_settings(DTYPE_CASES)
    @given(strategy)
    def run(case):
        if case.expect:
            return
        case.fn = key
        for arg in fz.array_args(case):
            a = case.args[arg]
            mutants = fz.FLOAT_MUTANTS if a.dtype.kind == "f" else \
                fz.INT_MUTANTS if a.dtype.kind in "iu" else ()
            for d in mutants:
                accepted = tf_outcome(entry, tgt, case, arg, fz.cast(a, d), tf_oracle)
                listed = fz.tf_accepts(key, arg, d)
                why = fz.refusal_reason(key, arg, d)
                if accepted and not listed and why is None:
                    stale.append(f"TF accepts {arg}={d} (not in TF_ACCEPTS, no refusal reason)")
                if not accepted and listed:
                    stale.append(f"TF rejects {arg}={d} but TF_ACCEPTS lists it")

    run()
    assert not stale, f"{key}: tests/_fuzz.py's dtype catalogue is stale: " + "; ".join(
        sorted(set(stale)))


def tf_outcome(entry, tgt, case, arg, mutant, tf):
    """True when TF computes a result with `arg` replaced by `mutant`."""
    args = dict(case.args)
    try:
        if tgt.kind in ("plain", "class"):
            targs = engine._tf_args(entry, fz.samples.Case("", args, case.options), tf)
        else:
            targs = dict(args)
        targs[arg] = mutant
        with np.errstate(all="ignore"):
            entry.call_tf(tf, targs, case.options)
        return True
    except Exception:       # any refusal counts (TypeError, ValueError, tf.errors.*)
        return False
