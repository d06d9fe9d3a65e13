"""Machinery of tests/test_fuzz.py: every public cyloss function, a valid case
drawn from its conformance entry's own strategy, one mutation from a
catalogue, and the property the mutated call must have. No TensorFlow: the
registry (`cyloss.conformance.registry`) is imported with TensorFlow hidden,
so this runs where TF is not installed (the sanitizer build) and never loads
it where it is (registry_sampled then draws its candidates with cyloss' own
sampler).

Targets (`target(entry)`): how a registry entry is called and differentiated.
  plain    entry.fn(**args, **options), cyloss.vjp for the entry's `wrt`
  class    a cyloss.keras class through samples_keras.adapter (builds the
           instance from the options, then calls or differentiates it)
  sampled  nce_loss / sampled_softmax_loss: the case's flat arguments grouped
           the way the registry does (sampled_values tuple, partitions)
  nograd   the candidate sampler and compute_accidental_hits (integer
           outputs, nothing differentiated)
  scenario the collection / Reduction / get / serialize entries: no array
           arguments; only the wrong-keyword mutation applies.

Mutations (`mutations(tgt, case)` lists the ones that apply to a case):
  layout:<arg>:<how>   strided | reversed (negative strides) | fortran |
                       readonly | misaligned (a view at byte offset 1 of a
                       uint8 buffer): results (value and every gradient)
                       BITWISE equal to the canonical call's, same dtype and
                       shape.
                       list (nested Python lists) | pyscalar (0-d -> Python
                       number) | npscalar (0-d -> NumPy scalar): bitwise
                       equal to the canonical result or to the call with
                       np.asarray(value) in its own or the case's dtype
                       (Python floats are float64; Python and NumPy scalars
                       take a partner's dtype where TF converts them,
                       registry.Weak / _checks.same_dtype).
  dtype:<arg>:<dtype>  float16, int32, int64, bool, object, complex64 on a
                       float argument; float32, float64, bool, object on an
                       integer one: TypeError naming the argument, unless TF
                       accepts that dtype there and cyloss follows it
                       (TF_ACCEPTS); then the result equals the call with the
                       argument converted to a float dtype. Where TF accepts
                       a dtype cyloss refuses, refusal_reason names why
                       (TF_REFUSED_BY_CYLOSS); conformance/test_fuzz_special.py
                       re-confirms both lists against TF.
  shape:<arg>:<how>    drop the last dimension, add a trailing 1, grow the
                       last dimension by one, make the first one 0: a result (TF broadcasts /
                       accepts the shape), cyloss.InvalidArgumentError, or a
                       ValueError naming the argument, a shape or a
                       rank-dependent option; never another class.
  labels:<arg>:<how>   a class id of 2**30 or -1 at a random position:
                       cyloss.InvalidArgumentError naming the value, or
                       TF's documented non-raising behaviour (LABELS_ALLOWED).
  special:<arg>        NaN, +-inf, +-max, +-1e30, denormals at random
                       positions: no exception (InvalidArgumentError for float
                       class ids), outputs of the canonical dtypes and shapes.
  keyword              an unknown keyword argument: TypeError.

After every call, whether it returned or raised, no input array may have
changed (compared with a snapshot taken before).
"""
import contextlib
import dataclasses
import inspect
import os
import sys

import numpy as np

import cyloss


# ------------------------------------------------------------ the registry --

@contextlib.contextmanager
def tensorflow_hidden():
    """Run the body as if TensorFlow were not installed, unless it is already
    loaded (then there is nothing to hide). The oracle module sets TF's
    environment variables on import; they are restored."""
    if "tensorflow" in sys.modules:
        yield
        return
    env = {k: os.environ.get(k) for k in ("TF_ENABLE_ONEDNN_OPTS", "TF_CPP_MIN_LOG_LEVEL")}
    sys.modules["tensorflow"] = None
    try:
        yield
    finally:
        if sys.modules.get("tensorflow", 0) is None:
            del sys.modules["tensorflow"]
        for k, v in env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


with tensorflow_hidden():
    from cyloss.conformance import engine, registry, samples       # noqa: E402
    from cyloss.conformance import samples_keras as sk              # noqa: E402
    from cyloss.conformance import registry_sampled as rs           # noqa: E402


# ---------------------------------------------------------------- targets --

@dataclasses.dataclass
class Target:
    key: str
    kind: str               # plain, class, sampled, nograd, scenario
    fn: object              # the public object
    callee: object          # what is called / differentiated
    wrt: tuple

    def kwargs(self, args, options):
        if self.kind == "sampled":
            return rs._cy_kwargs(args, options, "as-is")[0]
        return {**args, **options}

    def call(self, args, options, grad=True):
        """(value, grads or None) of the call; the same NumPy error state as
        the conformance engine (warnings on inf/NaN inputs are not parity)."""
        kw = self.kwargs(args, options)
        with np.errstate(all="ignore"):
            value = self.callee(**kw)
            if not grad or not self.wrt:
                return value, None
            v2, backward = cyloss.vjp(self.callee, **kw)
            grads = backward()
        if not same_bits(value, v2):
            raise AssertionError(f"{self.key}: fn() and vjp() values differ in bits")
        return value, grads


def _class_wrt(entry):
    return inspect.getclosurevars(entry.check).nonlocals["wrt"]


def target(entry):
    if entry.key in sk.CLASS_KEYS:
        name = entry.key.split(".", 1)[1]
        return Target(entry.key, "class", entry.fn, sk.adapter(name), _class_wrt(entry))
    if entry.check is rs.run_sampled:
        return Target(entry.key, "sampled", entry.fn, entry.fn, tuple(entry.wrt))
    if entry.check in (rs.run_sampler, rs.run_hits):
        return Target(entry.key, "nograd", entry.fn, entry.fn, ())
    if entry.check is not None:
        return Target(entry.key, "scenario", entry.fn, entry.fn, ())
    return Target(entry.key, "plain", entry.fn, entry.fn, tuple(entry.wrt))


ENTRIES = list(registry.REGISTRY.values())
TARGETS = {e.key: target(e) for e in ENTRIES}


def strategy(entry, mode_name="quick"):
    return entry.cases(samples.MODES[mode_name], entry.key)


# ------------------------------------------------------------- comparison --

def same_bits(a, b):
    """Bitwise equal values (any NaN equals any NaN), dtype and shape; tuples
    (the sampler's three outputs) and dicts (gradients; partitioned weights
    are lists) element by element."""
    if isinstance(a, dict) or isinstance(b, dict):
        return (isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys()
                and all(same_bits(a[k], b[k]) for k in a))
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return (isinstance(a, (list, tuple)) and isinstance(b, (list, tuple))
                and len(a) == len(b) and all(same_bits(x, y) for x, y in zip(a, b)))
    return engine._bits_equal(a, b)


def snapshot(obj):
    """Every array reachable in obj (dicts, lists, tuples): shape, dtype, bytes."""
    if isinstance(obj, np.ndarray):
        return ("a", obj.shape, obj.dtype.str, np.ascontiguousarray(obj).tobytes()
                if obj.dtype != object else repr(obj.tolist()))
    if isinstance(obj, dict):
        return ("d", tuple((k, snapshot(v)) for k, v in obj.items()))
    if isinstance(obj, (list, tuple)):
        return ("l", tuple(snapshot(v) for v in obj))
    return ("o", repr(obj))


def shapes_dtypes(res):
    if isinstance(res, dict):
        return {k: shapes_dtypes(v) for k, v in res.items()}
    if isinstance(res, (list, tuple)):
        return [shapes_dtypes(v) for v in res]
    a = np.asarray(res)
    return (a.shape, str(a.dtype))


# ---------------------------------------------------------------- layouts --

def misaligned(a):
    """The values of `a` in a view at byte offset 1 into a uint8 buffer (not
    aligned for any element type wider than a byte)."""
    buf = np.zeros(a.nbytes + a.dtype.itemsize + 1, np.uint8)
    view = buf[1:1 + a.nbytes].view(a.dtype).reshape(a.shape)
    view[...] = a
    return view


def relayout(a, how):
    if how in ("strided", "reversed", "fortran", "readonly"):
        return samples.apply_layout(a, how)
    if how == "misaligned":
        return misaligned(a)
    if how == "list":
        return a.tolist()
    if how == "npscalar":
        return a[()]
    if how == "pyscalar":
        return a.item()
    raise ValueError(how)


LAYOUTS = ("strided", "reversed", "fortran", "readonly", "misaligned", "list")


# ------------------------------------------------------------- arguments --

def array_args(case):
    """Names of the case's NumPy array arguments (0-d included)."""
    return [k for k, v in case.args.items() if isinstance(v, np.ndarray)]


def float_args(case):
    return [k for k in array_args(case) if case.args[k].dtype.kind == "f"]


def int_args(case):
    return [k for k in array_args(case) if case.args[k].dtype.kind in "iu"]


# The names a cyloss message may use for a case argument that the target
# regroups (sampled losses take sampled_values = (candidates, counts, counts)).
ALIASES = {"sampled_candidates": ("sampled_candidates", "sampled_values"),
           "true_expected_count": ("true_expected_count", "sampled_values"),
           "sampled_expected_count": ("sampled_expected_count", "sampled_values")}


# Keras' own messages (cyloss keeps them) name Keras' internal arguments.
KERAS_ALIASES = {
    ("sparse", "y_pred"): ("output",), ("sparse", "y_true"): ("target",),
    ("ctc", "y_pred"): ("logits",), ("ctc", "y_true"): ("labels",),
}


def names_argument(msg, arg, options=None, key=""):
    names = ALIASES.get(arg, (arg,))
    low = key.lower()
    for (family, a), more in KERAS_ALIASES.items():
        if low.startswith("keras.") and family in low and a == arg:
            names += more
    if arg == "targets" and (options or {}).get("softmax_loss_function") is not None:
        names += ("labels",)    # the user's loss function raises about its own `labels`
    return any(n in msg for n in names)


FLOAT_MUTANTS = ("float16", "int32", "int64", "bool", "object", "complex64")
INT_MUTANTS = ("float32", "float64", "bool", "object")


def cast_back(a, dtype):
    """A float result cast to an integer input's dtype (TF's compute_weighted_loss
    of integer losses); NaN / out-of-range values give what NumPy's cast gives."""
    with np.errstate(all="ignore"):
        return np.asarray(a).astype(dtype)


def cast(a, dtype):
    if dtype == "object":
        return np.asarray(a).astype(object)
    with np.errstate(all="ignore"):
        if np.dtype(dtype).kind in "iub" and a.dtype.kind == "f":
            a = np.nan_to_num(a, nan=0.0, posinf=0.0, neginf=0.0)
            if np.dtype(dtype).kind != "b":
                info = np.iinfo(dtype)
                a = np.clip(np.trunc(a), max(info.min, -2**53), min(info.max, 2**53))
        return np.asarray(a).astype(dtype)      # (ufuncs return NumPy scalars for 0-d)


# Where TF 2.21 accepts another dtype and converts it, and cyloss does the
# same: key -> {argument: mutant dtypes}. Found by probing TF with every
# mutant dtype on drawn cases of every entry (integer arguments such as an
# int32 `weights` mutated to float appear with float dtypes); re-confirmed
# against TF on every CI run by conformance/test_fuzz_special.py. The result
# must equal the call with the argument converted to a float dtype (the
# case's, float32 (TF's v1 losses and Keras compute there) or float64), or,
# for compute_weighted_loss of integer losses, that result cast back to the
# losses' dtype as TF does. Any other mutant dtype must raise TypeError
# naming the argument; TF_REFUSED_BY_CYLOSS says where TF accepts it anyway.

# dtype lists of the catalogue: every non-float32/64 real dtype drawn, and those
# plus the float dtypes (an argument drawn as integers).
NOT_FLOAT = "float16 int32 int64 bool"
ANY_REAL = NOT_FLOAT + " float32 float64"
TF_ACCEPTS = {
    "nn.softmax_cross_entropy_with_logits": {
        "labels": ANY_REAL},
    "nn.weighted_cross_entropy_with_logits": {"pos_weight": NOT_FLOAT},
    "losses.absolute_difference": {"labels": NOT_FLOAT,
        "predictions": NOT_FLOAT,
        "weights": ANY_REAL},
    "losses.mean_squared_error": {"labels": NOT_FLOAT,
        "predictions": NOT_FLOAT,
        "weights": ANY_REAL},
    "losses.huber_loss": {"labels": NOT_FLOAT,
        "predictions": NOT_FLOAT,
        "weights": ANY_REAL},
    "losses.log_loss": {"labels": NOT_FLOAT,
        "predictions": NOT_FLOAT, "weights": NOT_FLOAT},
    "losses.hinge_loss": {"labels": NOT_FLOAT,
        "logits": NOT_FLOAT,
        "weights": ANY_REAL},
    "losses.compute_weighted_loss": {"losses": NOT_FLOAT,
        "weights": ANY_REAL},
    "losses.cosine_distance": {"predictions": NOT_FLOAT,
        "labels": NOT_FLOAT,
        "weights": ANY_REAL},
    "losses.mean_pairwise_squared_error": {"predictions": NOT_FLOAT,
        "labels": NOT_FLOAT, "weights": NOT_FLOAT},
    "losses.sigmoid_cross_entropy": {
        "multi_class_labels": ANY_REAL,
        "weights": NOT_FLOAT},
    "losses.softmax_cross_entropy": {"onehot_labels": ANY_REAL,
        "weights": NOT_FLOAT},
    "losses.sparse_softmax_cross_entropy": {"weights": ANY_REAL},
    "contrib.losses.absolute_difference": {"labels": NOT_FLOAT,
        "predictions": NOT_FLOAT, "weight": NOT_FLOAT,
        "weights": NOT_FLOAT},
    "contrib.losses.mean_squared_error": {"labels": NOT_FLOAT,
        "predictions": NOT_FLOAT, "weight": NOT_FLOAT,
        "weights": NOT_FLOAT},
    "contrib.losses.sum_of_squares": {"targets": NOT_FLOAT,
        "predictions": NOT_FLOAT, "weights": NOT_FLOAT,
        "weight": NOT_FLOAT},
    "contrib.losses.log_loss": {"labels": NOT_FLOAT,
        "predictions": NOT_FLOAT, "weight": NOT_FLOAT},
    "contrib.losses.log": {"targets": NOT_FLOAT,
        "predictions": NOT_FLOAT, "weights": NOT_FLOAT},
    "contrib.losses.compute_weighted_loss": {"losses": NOT_FLOAT,
        "weight": NOT_FLOAT,
        "weights": ANY_REAL},
    "contrib.losses.cosine_distance": {"predictions": NOT_FLOAT,
        "labels": NOT_FLOAT,
        "weights": ANY_REAL},
    "contrib.losses.hinge_loss": {"labels": NOT_FLOAT},
    "contrib.losses.mean_pairwise_squared_error": {"predictions": NOT_FLOAT,
        "labels": NOT_FLOAT, "weight": NOT_FLOAT,
        "weights": NOT_FLOAT},
    "contrib.losses.sum_of_pairwise_squares": {"predictions": NOT_FLOAT,
        "targets": NOT_FLOAT, "weights": NOT_FLOAT,
        "weight": NOT_FLOAT},
    "contrib.losses.sigmoid_cross_entropy": {"multi_class_labels": NOT_FLOAT,
        "weights": ANY_REAL,
        "weight": NOT_FLOAT},
    "contrib.losses.softmax_cross_entropy": {
        "onehot_labels": ANY_REAL,
        "weights": NOT_FLOAT},
    "contrib.losses.sparse_softmax_cross_entropy": {"weights": NOT_FLOAT,
        "weight": NOT_FLOAT},
    "keras.CategoricalCrossentropy": {"y_true": NOT_FLOAT,
        "y_pred": NOT_FLOAT,
        "sample_weight": ANY_REAL},
    "keras.categorical_crossentropy": {"y_true": ANY_REAL},
    "keras.CategoricalFocalCrossentropy": {"y_true": NOT_FLOAT,
        "y_pred": NOT_FLOAT,
        "sample_weight": ANY_REAL},
    "keras.categorical_focal_crossentropy": {"y_true": ANY_REAL},
    "keras.BinaryCrossentropy": {"y_true": ANY_REAL,
        "y_pred": NOT_FLOAT,
        "sample_weight": ANY_REAL},
    "keras.binary_crossentropy": {"y_true": ANY_REAL},
    "keras.BinaryFocalCrossentropy": {"y_true": NOT_FLOAT,
        "y_pred": NOT_FLOAT,
        "sample_weight": ANY_REAL},
    "keras.binary_focal_crossentropy": {"y_true": ANY_REAL},
    "keras.SparseCategoricalCrossentropy": {"y_true": ANY_REAL,
        "y_pred": NOT_FLOAT,
        "sample_weight": ANY_REAL},
    "keras.sparse_categorical_crossentropy": {
        "y_true": ANY_REAL},
    "keras.CategoricalGeneralizedCrossEntropy": {
        "y_true": ANY_REAL,
        "y_pred": NOT_FLOAT,
        "sample_weight": ANY_REAL},
    "keras.categorical_generalized_cross_entropy": {
        "y_true": ANY_REAL},
    "keras.Circle": {"y_true": ANY_REAL,
        "y_pred": NOT_FLOAT,
        "sample_weight": ANY_REAL},
    "keras.circle": {"y_true": "bool float32 float64", "ref_labels": "bool float32 float64",
        "ref_embeddings": NOT_FLOAT},
    "keras.CTC": {"y_true": ANY_REAL,
        "y_pred": NOT_FLOAT,
        "sample_weight": ANY_REAL},
    "keras.ctc": {"y_true": "bool float32 float64"},
    "keras.MeanSquaredError": {"y_true": NOT_FLOAT,
        "y_pred": NOT_FLOAT, "sample_weight": NOT_FLOAT},
    "keras.mse": {"y_true": NOT_FLOAT},
    "keras.MSE": {"y_true": NOT_FLOAT},
    "keras.MeanAbsoluteError": {"y_true": NOT_FLOAT,
        "y_pred": NOT_FLOAT, "sample_weight": NOT_FLOAT},
    "keras.mae": {"y_true": NOT_FLOAT},
    "keras.MAE": {"y_true": NOT_FLOAT},
    "keras.MeanAbsolutePercentageError": {"y_true": NOT_FLOAT,
        "y_pred": NOT_FLOAT, "sample_weight": NOT_FLOAT},
    "keras.mape": {"y_true": NOT_FLOAT},
    "keras.MAPE": {"y_true": NOT_FLOAT},
    "keras.MeanSquaredLogarithmicError": {"y_true": NOT_FLOAT,
        "y_pred": NOT_FLOAT, "sample_weight": NOT_FLOAT},
    "keras.msle": {"y_true": NOT_FLOAT},
    "keras.MSLE": {"y_true": NOT_FLOAT},
    "keras.Huber": {"y_true": NOT_FLOAT, "y_pred": NOT_FLOAT,
        "sample_weight": NOT_FLOAT},
    "keras.huber": {"y_true": NOT_FLOAT},
    "keras.LogCosh": {"y_true": NOT_FLOAT, "y_pred": NOT_FLOAT,
        "sample_weight": NOT_FLOAT},
    "keras.logcosh": {"y_true": NOT_FLOAT},
    "keras.CosineSimilarity": {"y_true": NOT_FLOAT,
        "y_pred": NOT_FLOAT,
        "sample_weight": ANY_REAL},
    "keras.cosine_similarity": {"y_true": NOT_FLOAT},
    "keras.Hinge": {"y_true": NOT_FLOAT, "y_pred": NOT_FLOAT,
        "sample_weight": NOT_FLOAT},
    "keras.hinge": {"y_true": NOT_FLOAT},
    "keras.SquaredHinge": {"y_true": NOT_FLOAT,
        "y_pred": NOT_FLOAT, "sample_weight": NOT_FLOAT},
    "keras.squared_hinge": {"y_true": NOT_FLOAT},
    "keras.CategoricalHinge": {"y_true": NOT_FLOAT,
        "y_pred": NOT_FLOAT, "sample_weight": NOT_FLOAT},
    "keras.categorical_hinge": {"y_true": NOT_FLOAT},
    "keras.KLDivergence": {"y_true": NOT_FLOAT,
        "y_pred": NOT_FLOAT, "sample_weight": NOT_FLOAT},
    "keras.kld": {"y_true": NOT_FLOAT},
    "keras.KLD": {"y_true": NOT_FLOAT},
    "keras.kullback_leibler_divergence": {"y_true": NOT_FLOAT},
    "keras.Poisson": {"y_true": NOT_FLOAT, "y_pred": NOT_FLOAT,
        "sample_weight": NOT_FLOAT},
    "keras.poisson": {"y_true": NOT_FLOAT},
    "keras.Dice": {"y_true": NOT_FLOAT, "y_pred": NOT_FLOAT,
        "sample_weight": ANY_REAL},
    "keras.dice": {"y_true": NOT_FLOAT},
    "keras.Tversky": {"y_true": NOT_FLOAT, "y_pred": NOT_FLOAT,
        "sample_weight": NOT_FLOAT},
    "keras.tversky": {"y_true": NOT_FLOAT},
}

# TF accepts these too; cyloss raises TypeError naming the argument, on purpose.
TF_REFUSED_BY_CYLOSS = {
    "complex64": "TF's cast to float silently drops the imaginary part (losses, Keras, "
                 "dense softmax labels, pos_weight); cyloss refuses complex input",
    "float16": "TF computes tf.nn softmax / xent / l2 / ctc in half precision; cyloss "
               "supports float32 and float64 only (API.md: float16 is a later goal)",
    "object": "TF converts some object arrays of numbers (Keras Circle / "
              "CosineSimilarity, pos_weight, the sampler's true_classes); cyloss "
              "requires a numeric dtype",
    "integer-compute": "Keras' function forms (y_pred, ref_embeddings) and contrib's "
                       "hinge_loss (logits) accept integer / bool arrays and compute in that "
                       "integer type; cyloss requires float there",
    "sampled": "tf.nn.nce_loss / sampled_softmax_loss cast labels and sampled ids to "
               "int64 and accept integer weights / biases; cyloss requires int labels "
               "and float parameters of the inputs' dtype",
    "ids": "TF's candidate sampler / compute_accidental_hits convert float ids to int64; "
           "cyloss requires integer ids",
    "ctc": "tf.nn.ctc_loss casts float logit_length (and, on its dense path, float labels "
           "/ label_length) to int32; cyloss requires integer lengths and labels",
    "seq2seq-bool-weights": "sequence_loss multiplies by bool weights on some paths; "
                            "cyloss requires float weights",
}


# The probe draws few cases with an explicit weight: tf.compat.v1.losses and
# tf.contrib.losses cast `weights` / `weight` of any real dtype on every
# function (math_ops.cast / to_float), as cyloss does.
for _k, _t in TF_ACCEPTS.items():
    if _k.startswith(("losses.", "contrib.losses.")):
        for _w in ("weights", "weight"):
            if _w in inspect.signature(registry.REGISTRY[_k].fn).parameters:
                _t[_w] = "float16 int32 int64 bool float32 float64"
# Keras classes convert sample_weight of any real dtype (drawn as integers
# too) to their dtype.
for _k, _t in TF_ACCEPTS.items():
    if _k in sk.CLASS_KEYS:
        _t["sample_weight"] = "float16 int32 int64 bool float32 float64"
# ... and labels / predictions drawn as integers take any float dtype too, as
# Keras' y_true does (cast to y_pred's dtype).
for _k, _t in TF_ACCEPTS.items():
    for _a, _d in _t.items():
        if (_k.startswith(("losses.", "contrib.losses.")) or _a == "y_true") \
                and "int32" in _d and "float64" not in _d:
            _t[_a] = _d + " float32 float64"


def refusal_reason(key, arg, dtype):
    """The TF_REFUSED_BY_CYLOSS category of a dtype TF accepts and cyloss
    refuses, or None."""
    if dtype in ("complex64", "float16", "object"):
        return dtype
    if key.startswith("keras.") and key not in sk.CLASS_KEYS and \
            arg in ("y_pred", "ref_embeddings"):
        return "integer-compute"
    if key == "contrib.losses.hinge_loss" and arg == "logits":
        return "integer-compute"
    if key in ("nn.nce_loss", "nn.sampled_softmax_loss"):
        return "sampled"
    if key in ("nn.log_uniform_candidate_sampler", "nn.compute_accidental_hits"):
        return "ids"
    if key == "nn.ctc_loss":
        return "ctc"
    if key.endswith("sequence_loss") or key.endswith("sequence_loss_by_example"):
        if arg == "weights" and dtype == "bool":
            return "seq2seq-bool-weights"
    return None


def tf_accepts(key, arg, dtype):
    return dtype in TF_ACCEPTS.get(key, {}).get(arg, "").split()


# A Python list of weights / biases of the sampled losses is TF's list of
# partitions (shards), not nested rows: the list mutation does not apply.
_LIST_IS_SHARDS = {("weights", "sampled"), ("biases", "sampled")}


def mutations(tgt, case):
    """Every mutation that applies to `case` (a list of strings)."""
    out = ["keyword"]
    if tgt.kind == "scenario" or case.expect is not None:
        return out
    for k in array_args(case):
        a = case.args[k]
        if a.ndim:
            out += [f"layout:{k}:{h}" for h in LAYOUTS
                    if not (h == "list" and (k, tgt.kind) in _LIST_IS_SHARDS)]
        else:
            out += [f"layout:{k}:npscalar", f"layout:{k}:pyscalar"]
        kinds = FLOAT_MUTANTS if a.dtype.kind == "f" else INT_MUTANTS if a.dtype.kind in "iu" \
            else ()
        out += [f"dtype:{k}:{d}" for d in kinds]
        out += [f"shape:{k}:{h}" for h in ("drop", "add", "grow", "zero")]
        if a.dtype.kind == "f" and a.size:
            out.append(f"special:{k}")
        if a.dtype.kind in "iu" and a.size and k in LABEL_ARGS.get(tgt.key, ()):
            out += [f"labels:{k}:{h}" for h in ("high", "negative")]
    return out


# Integer arguments holding class ids / labels in [0, C) whose out-of-range
# values TF rejects at run time, or (LABELS_ALLOWED) defines.
LABEL_ARGS = {
    "nn.sparse_softmax_cross_entropy_with_logits": ("labels",),
    "losses.sparse_softmax_cross_entropy": ("labels",),
    "contrib.losses.sparse_softmax_cross_entropy": ("labels",),
    "seq2seq.sequence_loss": ("targets",),
    "legacy_seq2seq.sequence_loss_by_example": ("targets",),
    "legacy_seq2seq.sequence_loss": ("targets",),
    "nn.nce_loss": ("labels", "sampled_candidates"),
    "nn.sampled_softmax_loss": ("labels", "sampled_candidates"),
    "keras.SparseCategoricalCrossentropy": ("y_true",),
    "keras.sparse_categorical_crossentropy": ("y_true",),
    "keras.CategoricalGeneralizedCrossEntropy": ("y_true",),
    "keras.categorical_generalized_cross_entropy": ("y_true",),
    "nn.ctc_loss": ("labels",),
    "keras.CTC": ("y_true",),
    "keras.ctc": ("y_true",),
    "nn.log_uniform_candidate_sampler": ("true_classes",),
}

# Where TF does not reject an out-of-range label, why (the call may then
# return; if it raises, it must still be InvalidArgumentError naming the value).
_PADDING = ("only labels within label_length are read (TF_SEMANTICS sec. 1.10); a value "
            "past it is padding, ignored by TF and cyloss alike")
_ONE_HOT = ("Keras one-hot encodes the ids (ops.one_hot): an id outside [0, C) is a row "
            "of zeros, p = 0, no error")
LABELS_ALLOWED = {
    ("nn.ctc_loss", "labels"): _PADDING,
    ("keras.CTC", "y_true"): _PADDING + "; Keras' label_length counts the nonzero labels",
    ("keras.ctc", "y_true"): _PADDING + "; Keras' label_length counts the nonzero labels",
    ("keras.CategoricalGeneralizedCrossEntropy", "y_true"): _ONE_HOT,
    ("keras.categorical_generalized_cross_entropy", "y_true"): _ONE_HOT,
}


# ------------------------------------------------------------------ calls --

class Outcome:
    """What one call did: `result` (value, grads) or `error` (the exception)."""

    def __init__(self, result=None, error=None):
        self.result, self.error = result, error

    def __repr__(self):
        if self.error is not None:
            return f"raised {type(self.error).__name__}: {str(self.error)[:300]}"
        return f"returned {shapes_dtypes(self.result)}"


def call(tgt, args, options, grad=True):
    """Call the target; fail if any input array was written (whatever the
    outcome)."""
    before = snapshot(args)
    try:
        out = Outcome(result=tgt.call(args, options, grad))
    except Exception as e:      # judged by the caller
        out = Outcome(error=e)
    after = snapshot(args)
    if after != before:
        changed = [k for k in args if snapshot(args[k]) != dict(before[1]).get(k)]
        raise AssertionError(f"{tgt.key}: the call wrote to its input(s) {changed} ({out})")
    return out


# Python number / nested-list inputs: NumPy makes them float64 / int64 /
# bool; a function may also take them in the dtype of a partner argument
# (_checks.same_dtype). Either result is right.


def _equal_outcomes(a, b):
    if a.error is not None or b.error is not None:
        return (a.error is not None and b.error is not None
                and type(a.error) is type(b.error))
    return same_bits(a.result, b.result)


class Failure(AssertionError):
    pass


def fail(tgt, case, mutation, text):
    raise Failure(f"{tgt.key} [{mutation}] {text}\n  case: {case.call_repr()} "
                  f"seed={case.seed} kind={case.kind!r}")


# The values the special-value mutation writes (per float dtype).
def special_values(dtype):
    fi = np.finfo(dtype)
    vals = [np.nan, np.inf, -np.inf, fi.max, -fi.max, fi.tiny / 4, -fi.tiny / 4, 0.0]
    if fi.max > 1e30:
        vals += [1e30, -1e30]
    return np.array(vals, dtype)


def _rng(case, mutation):
    import zlib
    return np.random.default_rng([case.seed, zlib.crc32(mutation.encode())])


def reshape_mutant(a, how):
    if how == "drop":
        return None if a.ndim == 0 else np.ascontiguousarray(a[..., 0]) if a.shape[-1] \
            else np.zeros(a.shape[:-1], a.dtype)
    if how == "add":
        return a[..., None].copy()
    if how == "zero":           # 0-sized along the first axis
        return None if a.ndim == 0 or a.shape[0] == 0 else a[:0].copy()
    if how == "grow":
        if a.ndim == 0:
            return None
        extra = a[..., :1] if a.shape[-1] else np.zeros(a.shape[:-1] + (1,), a.dtype)
        return np.concatenate([a, extra], axis=-1)
    raise ValueError(how)


def check(tgt, case, mutation, known=()):
    """Run the canonical call and the mutated one; assert the mutation's
    property (module docstring). `known`: (predicate(case, mutation), reason)
    pairs of reported defects that have an xfail test of their own."""
    opts = case.options
    if tgt.kind == "scenario":      # no array call to make: the keyword check only
        try:
            tgt.fn(no_such_argument_xyz=1)
        except TypeError:
            return
        except Exception as e:
            fail(tgt, case, mutation, f"an unknown keyword: expected TypeError, raised "
                                      f"{type(e).__name__}: {e}")
        fail(tgt, case, mutation, "an unknown keyword was accepted")
    canon = call(tgt, case.args, opts)
    if case.expect is not None:         # a drawn error case: the documented class
        want = engine._cyloss_error_class(case.expect.cyloss)
        if not isinstance(canon.error, want):
            fail(tgt, case, "error case", f"expected {case.expect.cyloss}, {canon}")
    elif canon.error is not None:
        fail(tgt, case, "canonical", f"a valid case: {canon}")
    kind, _, rest = mutation.partition(":")
    arg, _, how = rest.partition(":")
    if kind == "keyword":
        bad = dict(opts, no_such_argument_xyz=1)
        out = call(tgt, case.args, bad, grad=False)
        if not isinstance(out.error, TypeError):
            fail(tgt, case, mutation, f"an unknown keyword: expected TypeError, {out}")
        return
    args = dict(case.args)
    a = args[arg]
    if kind == "layout":
        args[arg] = relayout(a, how)
        out = call(tgt, args, opts)
        if how in ("list", "pyscalar", "npscalar"):     # may take a partner's dtype
            alts = [call(tgt, dict(args, **{arg: np.asarray(args[arg], dtype=d)}), opts)
                    for d in (None, case.dtype or None)]
            if not (_equal_outcomes(out, canon) or any(_equal_outcomes(out, b) for b in alts)):
                fail(tgt, case, mutation, f"{out}; the array call {canon}; np.asarray of "
                                          f"the list {alts[0]}, in {case.dtype} {alts[1]}")
        elif not _equal_outcomes(out, canon):
            fail(tgt, case, mutation, f"not bitwise equal to the canonical call: {out} vs "
                                      f"{canon}")
        return
    if kind == "dtype":
        args[arg] = cast(a, how)
        out = call(tgt, args, opts, grad=False)
        if tf_accepts(tgt.key, arg, how):
            # the same outcome as a converted call: its value (or, compute_weighted_loss
            # of integers, that value cast back), or its error (a converted label out of
            # range, ...)
            tried = []
            for to in dict.fromkeys((case.dtype or "float32", "float32", "float64")):
                ref = call(tgt, dict(args, **{arg: cast(args[arg], to)}), opts, grad=False)
                if out.error is not None or ref.error is not None:
                    if _equal_outcomes(out, ref):
                        return
                elif same_bits(out.result[0], ref.result[0]) or same_bits(
                        out.result[0], cast_back(ref.result[0], args[arg].dtype)):
                    return
                tried.append(f"as {to}: {ref}")
            fail(tgt, case, mutation, f"{out}, equal to no conversion of {arg!r} "
                                      f"({'; '.join(tried)})")
        if not isinstance(out.error, TypeError):
            fail(tgt, case, mutation, f"expected TypeError, {out}")
        if not names_argument(str(out.error), arg, opts, tgt.key):
            fail(tgt, case, mutation, f"the TypeError does not name {arg!r}: {out}")
        return
    if kind == "shape":
        m = reshape_mutant(a, how)
        if m is None:
            return
        args[arg] = m
        out = call(tgt, args, opts)
        if out.error is None:
            return          # TF broadcasts / accepts this shape too (conformance checks values)
        if not isinstance(out.error, ValueError):
            fail(tgt, case, mutation, f"expected ValueError or a result, {out}")
        if isinstance(out.error, cyloss.InvalidArgumentError):
            return          # the new shape made a value invalid (a label >= classes, ...)
        msg = str(out.error).replace(" ", "")
        shown = [str(s).replace(" ", "") for s in (m.shape, list(m.shape), a.shape,
                                                   list(a.shape))]
        # (or an option whose meaning depends on the rank, e.g. Keras' "Only
        # axis=-1 is currently supported. Received: axis=3")
        if not (names_argument(msg, arg, opts, tgt.key) or any(s in msg for s in shown)
                or any(f"{k}=" in msg or f"`{k}`" in msg for k in opts)):
            fail(tgt, case, mutation, f"the error names neither {arg!r} nor its shape: {out}")
        return
    if kind == "labels":
        m = np.array(a, copy=True)
        rng = _rng(case, mutation)
        bad = 2 ** 30 if how == "high" else -1
        m.reshape(-1)[rng.integers(m.size)] = bad
        args[arg] = m
        out = call(tgt, args, opts, grad=False)
        allowed = LABELS_ALLOWED.get((tgt.key, arg))
        if opts.get("ignore_class") is not None and int(opts["ignore_class"]) == bad:
            allowed = "Keras' ignore_class masks this label"
        if allowed is not None and out.error is None:
            return
        if not isinstance(out.error, cyloss.InvalidArgumentError):
            fail(tgt, case, mutation, f"expected InvalidArgumentError, {out}")
        if str(bad) not in str(out.error):
            fail(tgt, case, mutation, f"the error does not name the value {bad}: {out}")
        return
    if kind == "special":
        m = np.array(a, copy=True)
        rng = _rng(case, mutation)
        vals = special_values(a.dtype)
        flat = m.reshape(-1)
        k = int(rng.integers(1, max(2, flat.size // 4) + 1))
        flat[rng.integers(0, flat.size, k)] = rng.choice(vals, k)
        args[arg] = m
        out = call(tgt, args, opts)
        if isinstance(out.error, cyloss.InvalidArgumentError) and \
                arg in LABEL_ARGS.get(tgt.key, ()):
            return      # float class ids (Keras truncates them): NaN / inf are bad ids
        if out.error is not None:
            fail(tgt, case, mutation, f"special values raised: {out}")
        if shapes_dtypes(out.result) != shapes_dtypes(canon.result):
            fail(tgt, case, mutation, f"outputs {shapes_dtypes(out.result)}, canonical "
                                      f"{shapes_dtypes(canon.result)}")
        return
    raise ValueError(mutation)
