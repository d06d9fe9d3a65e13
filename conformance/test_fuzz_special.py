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

from cyloss.conformance import engine, oracle, registry, report

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


# (key, value class) -> reason: divergences this test found and not fixed yet,
# listed in the README ("Known differences"). xfail(strict=True) on the default seed and quick
# mode (another CYLOSS_SEED or mode may draw no affected case: strict=False).
_CTC = ("documented (registry_ctc): TF's dense CTC path multiplies log-probabilities by a "
        "one-hot matrix, so one non-finite logit makes its whole frame NaN; cyloss keeps "
        "the other classes' terms")
_DENORMAL = ("TF flushes denormals to zero (CPU flush-to-zero / denormals-are-zero, and "
             "float64 data computed in float32 by tf.compat.v1.losses, tf.contrib.losses "
             "and Keras); cyloss computes with them: sums of nonzero weights, div_no_nan "
             "denominators, clips and logs then differ (README: Known differences)")
_HUGE = ("values near the float max (or 1e30 in float64 data narrowed to float32 by TF): "
         "intermediates overflow at different points (gradient formulas ordered "
         "differently, e.g. d BCE/dp = inf vs TF 2.9e35, NaN vs 0 after a clip; README: "
         "Known differences)")
_NONFINITE = ("NaN / inf inputs: the gradient's NaN / inf pattern differs (cyloss inf or a "
              "number where TF has NaN, or NaN where TF has 0; README: Known differences)")
KNOWN = {}
for _k in ("nn.ctc_loss", "keras.CTC", "keras.ctc"):
    KNOWN[(_k, "nonfinite")] = _CTC
for _k in ("contrib.losses.compute_weighted_loss", "contrib.losses.log_loss",
           "contrib.losses.sparse_softmax_cross_entropy",
           "keras.CategoricalGeneralizedCrossEntropy",
           "keras.categorical_generalized_cross_entropy", "keras.mape",
           "legacy_seq2seq.sequence_loss", "losses.compute_weighted_loss", "losses.hinge_loss",
           "nn.log_poisson_loss"):
    KNOWN[(_k, "denormal")] = _DENORMAL
for _k in ("contrib.losses.hinge_loss", "contrib.losses.log", "contrib.losses.log_loss",
           "contrib.losses.sparse_softmax_cross_entropy", "keras.BinaryCrossentropy",
           "keras.BinaryFocalCrossentropy", "keras.CTC", "keras.CategoricalCrossentropy",
           "keras.CategoricalGeneralizedCrossEntropy", "keras.CategoricalHinge",
           "keras.CosineSimilarity", "keras.Huber", "keras.KLDivergence", "keras.MSLE",
           "keras.Poisson", "keras.binary_crossentropy", "keras.binary_focal_crossentropy",
           "keras.categorical_hinge", "keras.cosine_similarity", "keras.ctc", "keras.huber",
           "keras.poisson", "losses.huber_loss", "losses.sigmoid_cross_entropy",
           "losses.softmax_cross_entropy"):
    KNOWN[(_k, "huge")] = _HUGE
for _k in ("contrib.losses.sigmoid_cross_entropy", "keras.BinaryCrossentropy",
           "keras.CategoricalCrossentropy", "keras.CategoricalFocalCrossentropy",
           "keras.Hinge", "keras.KLD", "keras.KLDivergence", "keras.MSLE",
           "keras.MeanSquaredLogarithmicError", "keras.binary_focal_crossentropy",
           "keras.categorical_crossentropy", "keras.categorical_focal_crossentropy",
           "keras.categorical_generalized_cross_entropy", "keras.kld",
           "keras.kullback_leibler_divergence", "keras.msle"):
    KNOWN[(_k, "nonfinite")] = _NONFINITE


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
