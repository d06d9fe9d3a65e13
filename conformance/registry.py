"""The conformance registry: one Entry per public cyloss function.

An Entry names the cyloss callable and its TensorFlow oracle, the arguments
TF differentiates, a hypothesis strategy of Cases, a `scale` function (the
magnitude of the terms behind each output element, see compare.py), the
tolerance per output with its reason, fixed examples, error-parity cases and
any deliberate divergence from TF (with the reason; the divergent cases still
run, against a substitute oracle, and the divergence itself is re-confirmed on
every such case).

Adding a function is one `_add(Entry(...))` call: reuse a strategy from
samples.py (or write one), pick or write a scale function, list the
tolerances. cyloss.losses and cyloss.contrib.losses have theirs in
registry_losses.py (strategies in samples_losses.py), imported at the end. The completeness test fails until every name in the `__all__` of
every public namespace has an entry (or is listed in NOT_CHECKED with a reason).

Tolerances are k * eps(dtype) * scale, where scale is the magnitude of the
terms an element is computed from (so cancellation is judged against the size
of what cancelled), and `acc(n)` models the rounding of an n-term sum whose
order differs between TF (Eigen's packet reduction) and cyloss (16 lanes + a
fixed tree): log2(n + 1) units. TF's float32 exp/log/log1p are Eigen's vectorized
approximations (TF_SEMANTICS.md sec. 0.2): a few ulp, never bitwise.

Calibration (quick and full runs, ~100k cases, every SIMD level): the worst
error seen is below 5 units for every output, so k = 8 leaves headroom
without hiding real defects (a wrong formula or a lost term shows up as
hundreds of units or as a NaN/inf mismatch). Outputs that are one rounding
in both implementations (-x*dy, t*dy) use k = 1.
"""
from dataclasses import dataclass, field
import warnings

import numpy as np

import cyloss
import cyloss.nn

from . import samples
from .compare import fin
from .samples import Case, Expect

# ------------------------------------------------------------------ types --


@dataclass(frozen=True)
class Tol:
    k: float            # units of eps(dtype) * scale
    reason: str


@dataclass(frozen=True)
class Divergence:
    """A deliberate difference from TF on some cases.

    `outputs`: the gradients affected. On such a case the harness (1) checks
    that TF still behaves as described (`tf_raises`, a tf.errors class name,
    when TF's own gradient fails), (2) compares value and the other gradients
    with TF's direct call, and (3) compares the affected gradients with
    `substitute(tf, targs, options)`, a TF computation of what cyloss returns
    instead."""
    reason: str
    outputs: tuple
    tf_raises: str
    substitute: object


@dataclass(frozen=True)
class Weak:
    """An Entry.convert spec: only values without an array dtype of their own
    (Python floats, NumPy float scalars) are given to TF in the dtype of
    argument `like` (a Python float has no dtype; cyloss computes it in that
    dtype and returns its gradient there); arrays, 0-d included, and integers
    keep their own dtype. A plain string converts every value."""
    like: str


@dataclass(frozen=True)
class Narrowing:
    """TF computes `outputs` in the narrower float type `to` when a case's
    dtype is wider (tf.compat.v1.losses: float32 for float64 inputs, float32
    results for group A), while cyloss computes and returns the case's dtype
    (API.md: "never narrows"). On such a case (`applies`) the compare step
    requires cyloss' value in the case dtype (TF's may be `to`), measures each
    listed output in units of eps(`to`) -- the entry's scale functions then add
    the rounding of the inputs to `to` -- and, when `overflows(case)` (terms
    beyond `to`'s range), leaves TF's non-finite elements unconstrained (its
    float32 overflowed; cyloss' finite elements must still match TF's finite
    ones). Outputs not listed keep the case dtype's eps (TF computes them at
    full precision). Tolerances are not loosened: k stays the entry's."""
    to: str
    outputs: tuple
    reason: str
    overflows: object = None        # case -> bool

    def applies(self, case):
        return bool(case.dtype) and np.finfo(case.dtype).eps < np.finfo(self.to).eps


@dataclass
class Entry:
    key: str                        # "<namespace>.<name>", e.g. "nn.softmax"
    fn: object                      # the cyloss callable
    tf_fn: object                   # tf -> the TF function (signature check)
    call_tf: object                 # (tf, args, options) -> TF value
    wrt: tuple                      # arguments TF differentiates
    cases: object                   # (mode, key) -> hypothesis strategy of Case
    scale: object                   # (case, ref, dy) -> {output: scale array}
    tol: dict                       # output ("value" or argument) -> Tol
    examples: list = field(default_factory=list)     # fixed value cases
    errors: list = field(default_factory=list)       # fixed error-parity cases
    divergences: dict = field(default_factory=dict)  # key -> Divergence
    convert: dict = field(default_factory=dict)      # arg -> arg whose dtype TF converts it to
    notes: str = ""
    narrowing: Narrowing = None     # TF computes in a narrower type (see Narrowing)
    budget: dict = field(default_factory=dict)       # mode name -> random cases (else the mode's)
    check: object = None            # (entry, case) -> engine.CaseResult: entries that are not
    #                                 array functions (collections, Reduction) run their own cases

    def fixed_cases(self):
        out = []
        for c in self.examples + self.errors:
            c.fn = self.key
            out.append(c)
        return out


REGISTRY = {}


def _add(entry):
    assert entry.key not in REGISTRY, entry.key
    REGISTRY[entry.key] = entry
    return entry


# Public namespaces whose __all__ must be covered (module name -> key prefix).
# cyloss.losses, cyloss.keras, ... are added here as they appear; the
# completeness test also discovers any module listed in cyloss.__all__.
NAMESPACES = {"cyloss.nn": "nn"}

# Public names that are not TF functions to cross-check, with the reason.
NOT_CHECKED = {}


def ex(label, args, options=None, dtype=None, divergence=None):
    """A fixed value case."""
    if dtype is None:
        dtype = next(str(np.asarray(v).dtype) for v in args.values()
                     if np.asarray(v).dtype.kind == "f")
    return Case("", args, dict(options or {}), dtype=dtype, kind="fixed", label=label,
                divergence=divergence)


def err(label, args, tf, cy, why, options=None, mention=()):
    """A fixed error-parity case."""
    tf = (tf,) if isinstance(tf, str) else tuple(tf)
    return Case("", args, dict(options or {}), dtype="", kind="error", label=label,
                expect=Expect(tf, cy, why, tuple(mention)))


def f32(*a):
    return np.array(*a, dtype=np.float32)


def f64(*a):
    return np.array(*a, dtype=np.float64)


# --------------------------------------------------------- scale helpers --

def acc(n):
    """Rounding growth of an n-term sum computed in a different order. Both
    sides sum in vector lanes joined by a tree; the observed error grows like
    log2(n) (worst seen: ~1 eps of the summed magnitude at n = 5000)."""
    return np.log2(np.maximum(n, 1) + 1)


def _axis_of(case, rank, default=-1):
    o = case.options
    a = o.get("dim", o.get("axis", default))
    a = default if a is None else a
    return int(a) % rank


def row_stats(x, ax):
    """s = x - max, L = log sum exp(s), p = softmax, along axis `ax`, in float64
    over the finite entries (non-finite entries give 0; they are compared
    exactly). All keep the reduced axis with size 1 (L) or full size (s, p)."""
    x = np.asarray(x, np.float64)
    if x.size == 0:
        red = list(x.shape)
        red[ax] = 1
        return np.zeros(x.shape), np.zeros(red), np.zeros(x.shape)
    xm = np.where(np.isfinite(x), x, np.nan)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        m = np.nanmax(xm, axis=ax, keepdims=True)
        s = xm - m
        e = np.exp(s)
        tot = np.nansum(e, axis=ax, keepdims=True)
        L = np.log(tot)
        p = e / tot
    return fin(s), fin(L), fin(p)


def reduce_abs_to(a, shape):
    """Sum |a| over the axes broadcasting added (NumPy rules) to reach `shape`,
    and the number of summed terms."""
    a = np.abs(a)
    shape = tuple(shape)
    lead = a.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape)
                                      if s == 1 and a.shape[lead + i] != 1)
    n = int(np.prod([a.shape[i] for i in axes])) if axes else 1
    out = a.sum(axis=axes, keepdims=True).reshape(shape) if axes else a.reshape(shape)
    return out, n


# ------------------------------------------------------------ softmax ------

def _tf_softmax(name):
    def call(tf, a, o):
        if "dim" in o:
            return getattr(tf.compat.v1.nn, name)(**a, **o)
        return getattr(tf.nn, name)(**a, **o)
    return call


def scale_softmax(case, ref, dy):
    x = np.asarray(case.args["logits"])
    ax = _axis_of(case, x.ndim)
    s, L, p = row_stats(x, ax)
    c = x.shape[ax]
    a = acc(c)
    y = np.abs(fin(ref["value"]))
    rel = 1 + np.abs(s) + a                 # relative error of one probability
    t = np.sum(np.abs(dy) * y, axis=ax, keepdims=True)      # sum |dy*y|
    return {"value": y * rel,
            "logits": y * rel * (np.abs(dy) + t)}


def scale_log_softmax(case, ref, dy):
    x = np.asarray(case.args["logits"])
    ax = _axis_of(case, x.ndim)
    s, L, p = row_stats(x, ax)
    c = x.shape[ax]
    a = acc(c)
    sdy = np.sum(np.abs(dy), axis=ax, keepdims=True)
    return {"value": np.abs(s) + np.abs(L) + a,
            "logits": np.abs(dy) + sdy * p * (1 + np.abs(s) + a)}


SOFTMAX_TOL = {
    "value": Tol(8, "exp (Eigen's float32 exp is ~2 ulp, cyloss' < 1), the rounding of "
                    "x - max (relative eps*|s| after exp) and a differently ordered sum of "
                    "C exponentials (acc(C)); one division"),
    "logits": Tol(8, "(dy - sum(dy*y))*y: the errors of y plus a C-term dot product"),
}
LOG_SOFTMAX_TOL = {
    "value": Tol(8, "s - log(sum exp s): rounding of s and L, log ~1 ulp, sum of C terms "
                    "in another order (acc(C)) gives an absolute error in L"),
    "logits": Tol(8, "dy - sum(dy)*exp(log_softmax): exp ~2 ulp of a value with the error "
                     "of log_softmax, C-term sum"),
}


def _softmax_examples(name):
    v1 = f32([1, 2, 3])
    return [
        ex("TF_SEMANTICS sec. 1.1 [1,2,3]", {"logits": v1}),
        ex("rank 2 float64, axis=0", {"logits": f64([[1, 2, 3], [4, -5, 0.5]])}, {"axis": 0}),
        ex("axis=None explicit", {"logits": f32([[1, 2, 3], [4, -5, 0.5]])}, {"axis": None}),
        ex("dim=-2 alias", {"logits": f32([[1, 2, 3], [4, -5, 0.5]])}, {"dim": -2}),
        ex("rank 6, axis=2 (oneDNN off path)",
           {"logits": np.arange(24, dtype=np.float32).reshape(2, 1, 2, 1, 3, 2) / 7},
           {"axis": 2}),
        ex("single -inf, all -inf row, +inf row, NaN row",
           {"logits": f32([[-np.inf, 0, 1], [-np.inf] * 3, [np.inf, 0, 1], [np.nan, 0, 1]])}),
        ex("+-1e4", {"logits": f32([[1e4, -1e4, 0], [1e4, 1e4 - 1, -1e4]])}),
        ex("C = 0", {"logits": np.zeros((3, 0), np.float32)}),
        ex("batch 0", {"logits": np.zeros((0, 5), np.float64)}),
        ex("C = 1 (always 1 / 0)", {"logits": f64([[3.0], [-7.0]])}),
        ex("5000 classes, 2 rows (threads off), strided",
           {"logits": np.linspace(-30, 30, 20000, dtype=np.float32).reshape(4, 5000)[::2]}),
        ex("40000 elements (multi-threaded)",
           {"logits": np.sin(np.arange(40000, dtype=np.float64)).reshape(400, 100) * 20}),
    ]


def _softmax_errors(name):
    return [
        err("rank 0", {"logits": np.float32(1.0)}, "InvalidArgumentError",
            "InvalidArgumentError", "TF: logits must have >= 1 dimension"),
        err("axis = rank", {"logits": np.zeros((2, 3), np.float32)}, "InvalidArgumentError",
            "InvalidArgumentError", "TF: `dim` must be in the range [-r, r)", {"axis": 2}),
        err("axis = -rank-1", {"logits": np.zeros((2, 3), np.float32)},
            "InvalidArgumentError", "InvalidArgumentError", "axis out of range", {"axis": -3}),
        err("both axis and dim", {"logits": np.zeros((2, 3), np.float32)}, "ValueError",
            "ValueError", "v1 alias: Cannot specify both 'dim' and 'axis'",
            {"axis": 0, "dim": 1}),
        err("int32 logits", {"logits": np.zeros((2, 3), np.int32)}, "InvalidArgumentError",
            "TypeError", "dtype error: TF's eager op rejects attr T=int32 "
            "(InvalidArgumentError); cyloss documents TypeError for wrong dtypes"),
    ]


for _name, _scale, _tol in (("softmax", scale_softmax, SOFTMAX_TOL),
                            ("log_softmax", scale_log_softmax, LOG_SOFTMAX_TOL)):
    _add(Entry(
        key=f"nn.{_name}", fn=getattr(cyloss.nn, _name),
        tf_fn=lambda tf, _n=_name: getattr(tf.nn, _n),
        call_tf=_tf_softmax(_name), wrt=("logits",),
        cases=samples.softmax_cases, scale=_scale, tol=_tol,
        examples=_softmax_examples(_name), errors=_softmax_errors(_name),
        notes="v1's `dim` alias is checked against tf.compat.v1.nn." + _name))


# ------------------------------------------------ softmax cross-entropy ----

def _tf_softmax_xent(tf, a, o):
    if "dim" in o:
        return tf.compat.v1.nn.softmax_cross_entropy_with_logits_v2(**a, **o)
    return tf.nn.softmax_cross_entropy_with_logits(**a, **o)


def _flat_label_shape(labels_shape):
    k = labels_shape[-1] if labels_shape else 1
    m = int(np.prod(labels_shape[:-1])) if len(labels_shape) > 1 else 1
    return m, k


def _tf_xent_broadcast_labels(tf, a, o):
    """What cyloss computes for broadcast labels, in TF: broadcast the labels
    explicitly (as the kernel does: [M, K] with M in {1, N}, K in {1, C}) so
    that TF's gradient flows back through broadcast_to (a sum)."""
    logits, labels = a["logits"], a["labels"]
    c = int(logits.shape[-1])
    n = int(np.prod(logits.shape[:-1])) if len(logits.shape) > 1 else 1
    m, k = _flat_label_shape(tuple(int(d) for d in labels.shape))
    y = tf.broadcast_to(tf.reshape(labels, [m, k]), [n, c])
    y = tf.reshape(y, logits.shape)
    axis = o.get("dim", o.get("axis", -1))          # the v1 alias means the same axis
    return tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits,
                                                   axis=-1 if axis is None else axis)


def _xent_moved(case):
    """logits and (possibly broadcast) labels in float64 with the class axis last,
    labels broadcast to the logits' shape."""
    x = np.asarray(case.args["logits"], np.float64)
    y = np.asarray(case.args["labels"], np.float64)
    ax = _axis_of(case, x.ndim) if x.ndim else 0
    if ax != x.ndim - 1:
        x, y = np.moveaxis(x, ax, -1), np.moveaxis(y, ax, -1)
    if y.shape != x.shape:
        m, k = _flat_label_shape(y.shape)
        n = int(np.prod(x.shape[:-1])) if x.ndim > 1 else 1
        y = np.broadcast_to(y.reshape(m, k), (n, x.shape[-1])).reshape(x.shape)
    return x, y, ax


def scale_softmax_xent(case, ref, dy):
    x, y, ax = _xent_moved(case)
    s, L, p = row_stats(x, -1)
    c = x.shape[-1]
    a = acc(c)
    y = np.abs(fin(y))
    d = np.abs(np.asarray(dy, np.float64))[..., None]
    term = np.abs(L) + np.abs(s) + 1
    # value: each term carries eps*(|L| + |s|) and L's error (acc(C)); the C-term
    # sum itself adds acc(C) * eps * sum |terms|
    out = {"value": np.sum(y * (term + a), axis=-1) * (1 + a),
           "logits": d * (p * (1 + np.abs(s) + a) + y),
           "labels": d * (term + a)}
    if ax != x.ndim - 1:
        out["logits"] = np.moveaxis(out["logits"], -1, ax)
        out["labels"] = np.moveaxis(out["labels"], -1, ax)
    lab_shape = np.shape(case.args["labels"])
    if out["labels"].shape != lab_shape:        # broadcast labels: summed gradient
        m, k = _flat_label_shape(lab_shape)
        g = out["labels"].reshape(int(np.prod(x.shape[:-1])), c)
        g = g.sum(axis=0, keepdims=True) * (1 + acc(g.shape[0])) if m == 1 else g
        g = g.sum(axis=1, keepdims=True) * (1 + acc(c)) if k == 1 and c != 1 else g
        out["labels"] = g.reshape(lab_shape)
    return out


SOFTMAX_XENT_TOL = {
    "value": Tol(8, "sum_j y_j (L - s_j): rounding of s and L (L carries the error of a "
                    "C-term sum, acc(C)), products, and a C-term sum in another order"),
    "logits": Tol(8, "exp(s)/sum - y: the softmax error (see nn.softmax) and one subtraction"),
    "labels": Tol(8, "L - s_j: rounding of s, L carries acc(C); broadcast labels add an "
                     "N-term sum (acc(N))"),
}

BROADCAST_LABELS = Divergence(
    reason=("labels broadcast by the kernel ([C], [1,C], [1,1,C], [N,1], [1]): TF computes "
            "the value and the logits gradient, but its gradient w.r.t. the labels fails "
            "(InvalidArgumentError in a Reshape). cyloss returns the mathematical gradient, "
            "summed over the broadcast rows/classes; it is checked against TF's gradient "
            "with the labels broadcast explicitly (tf.broadcast_to)."),
    outputs=("labels",), tf_raises="InvalidArgumentError",
    substitute=_tf_xent_broadcast_labels)

_add(Entry(
    key="nn.softmax_cross_entropy_with_logits",
    fn=cyloss.nn.softmax_cross_entropy_with_logits,
    tf_fn=lambda tf: tf.nn.softmax_cross_entropy_with_logits,
    call_tf=_tf_softmax_xent, wrt=("labels", "logits"),
    cases=samples.softmax_xent_cases, scale=scale_softmax_xent, tol=SOFTMAX_XENT_TOL,
    divergences={"broadcast-labels-grad": BROADCAST_LABELS},
    notes="v2 semantics (labels get a gradient); `dim` is checked against "
          "tf.compat.v1.nn.softmax_cross_entropy_with_logits_v2",
    examples=[
        ex("TF_SEMANTICS sec. 1.2 example", {"labels": f32([[0, 1, 0], [0.2, 0.3, 0.5]]),
                                        "logits": f32([[1, 2, 3], [1, -1, 0.5]])}),
        ex("labels not summing to 1 (grad = softmax - y)",
           {"labels": f32([[0, 2, 0]]), "logits": f32([[1, 2, 3]])}),
        ex("[1e30,-1e30,0], label on class 0 -> 0",
           {"labels": f32([[1, 0, 0]]), "logits": f32([[1e30, -1e30, 0]])}),
        ex("-inf with label 0 -> NaN, -inf with label > 0 -> +inf, +inf -> NaN",
           {"labels": f64([[0, 1, 0], [1, 0, 0], [0, 1, 0]]),
            "logits": f64([[-np.inf, 1, 2], [-np.inf, 1, 2], [np.inf, 1, 2]])}),
        ex("rank 1 -> scalar", {"labels": f64([0.1, 0.9]), "logits": f64([2.0, -1.0])}),
        ex("C = 0 -> zeros", {"labels": np.zeros((2, 0), np.float32),
                              "logits": np.zeros((2, 0), np.float32)}),
        ex("batch 0", {"labels": np.zeros((0, 4), np.float64),
                       "logits": np.zeros((0, 4), np.float64)}),
        ex("int64 one-hot labels (no labels gradient)",
           {"labels": np.eye(3, dtype=np.int64),
            "logits": f32([[1, 2, 3], [0, 0, 0], [5, -5, 1]])}),
        ex("float64 labels on float32 logits (TF casts)",
           {"labels": f64([[0.25, 0.75]]), "logits": f32([[0.5, -0.5]])}, dtype="float32"),
        ex("axis=0", {"labels": f32([[0.5, 0.1], [0.5, 0.9]]),
                      "logits": f32([[1, 2], [3, -1]])}, {"axis": 0}),
        ex("dim=0 alias", {"labels": f32([[0.5, 0.1], [0.5, 0.9]]),
                           "logits": f32([[1, 2], [3, -1]])}, {"dim": 0}),
        ex("labels [N,1] broadcast across classes",
           {"labels": f32([[0.5], [2.0]]), "logits": f32([[1, 2, 3], [1, -1, 0.5]])},
           divergence="broadcast-labels-grad"),
        ex("labels [C] broadcast to every row",
           {"labels": f64([0.2, 0.3, 0.5]), "logits": f64([[1, 2, 3], [1, -1, 0.5]])},
           divergence="broadcast-labels-grad"),
        ex("labels [1,1,C] on rank-3 logits",
           {"labels": f32([[[0.2, 0.8]]]), "logits": f32(np.arange(12).reshape(2, 3, 2) / 5)},
           divergence="broadcast-labels-grad"),
        ex("5000 classes x 9 rows (multi-threaded)",
           {"labels": np.full((9, 5000), 1 / 5000, np.float32),
            "logits": np.cos(np.arange(45000, dtype=np.float32)).reshape(9, 5000) * 8}),
    ],
    errors=[
        err("labels not broadcastable", {"labels": np.zeros((3, 4), np.float32),
                                         "logits": np.zeros((6, 4), np.float32)},
            "InvalidArgumentError", "InvalidArgumentError",
            "TF kernel: logits and labels must be broadcastable (M in {1,N}, K in {1,C})"),
        err("labels with more rows", {"labels": np.zeros((6, 4), np.float32),
                                      "logits": np.zeros((3, 4), np.float32)},
            "InvalidArgumentError", "InvalidArgumentError", "M must be 1 or N"),
        err("labels class count differs", {"labels": np.zeros((2, 2), np.float32),
                                           "logits": np.zeros((2, 3), np.float32)},
            "InvalidArgumentError", "InvalidArgumentError", "K must be 1 or C"),
        err("rank 0", {"labels": np.float32(1), "logits": np.float32(1)},
            "InvalidArgumentError", "InvalidArgumentError", "TF: rank-0 logits rejected"),
        err("axis=-2", {"labels": np.zeros((2, 3), np.float32),
                        "logits": np.zeros((2, 3), np.float32)},
            "InvalidArgumentError", "InvalidArgumentError",
            "TF's Range op accepts only -1 or [0, rank)", {"axis": -2}),
        err("axis=rank", {"labels": np.zeros((2, 3), np.float32),
                          "logits": np.zeros((2, 3), np.float32)},
            "InvalidArgumentError", "InvalidArgumentError", "axis >= rank", {"axis": 2}),
        err("C = 0 and batch 0", {"labels": np.zeros((0, 3, 0), np.float32),
                                  "logits": np.zeros((0, 3, 0), np.float32)},
            "InvalidArgumentError", "InvalidArgumentError",
            "TF fails in a Reshape when both the class axis and the batch are empty "
            "(logits [0,3,0], [0,0], ...); cyloss returns an empty result"),
        err("labels [C] with a positive axis", {"labels": np.full(3, 1 / 3, np.float32),
                                                "logits": f32([[0, 1, 2], [3, 4, 5]])},
            "InvalidArgumentError", "InvalidArgumentError",
            "axis given as a non-negative index (here 1 = the last) makes TF transpose the "
            "labels with the logits' rank: lower-rank broadcast labels fail "
            "(Transpose: expects a vector of size 1); with axis=-1 the same call works",
            {"axis": 1}),
        err("both dim and axis", {"labels": np.zeros((2, 3), np.float32),
                                  "logits": np.zeros((2, 3), np.float32)},
            "ValueError", "ValueError", "v1 alias: Cannot specify both 'dim' and 'axis'",
            {"axis": 0, "dim": 1}),
        err("int32 logits", {"labels": np.zeros((2, 3), np.int32),
                             "logits": np.zeros((2, 3), np.int32)},
            "InvalidArgumentError", "TypeError",
            "dtype error: TF's op rejects T=int32 (InvalidArgumentError); cyloss TypeError"),
    ]))


# ------------------------------------------- sparse softmax cross-entropy --

def sparse_xent_terms(x, lab):
    """Per position (float64): ce, the magnitude of its error terms Tce, and
    per class the error magnitude of softmax - onehot (bp) and |bp|-sized
    terms (p + onehot). Shared with the seq2seq entries."""
    s, L, p = row_stats(x, -1)
    a = acc(x.shape[-1])
    onehot = np.zeros(x.shape)
    if x.size:
        np.put_along_axis(onehot, lab[..., None].astype(np.int64), 1.0, -1)
    s_lab = np.sum(np.abs(s) * onehot, axis=-1)
    ce = L[..., 0] - np.sum(s * onehot, axis=-1)
    tce = np.abs(L[..., 0]) + s_lab + 1 + a
    return ce, tce, p * (1 + np.abs(s) + a) + onehot, p + onehot


def scale_sparse_xent(case, ref, dy):
    _, tce, bp, _ = sparse_xent_terms(np.asarray(case.args["logits"], np.float64),
                                      np.asarray(case.args["labels"]))
    d = np.abs(np.asarray(dy, np.float64))[..., None]
    return {"value": tce, "logits": d * bp}

_add(Entry(
    key="nn.sparse_softmax_cross_entropy_with_logits",
    fn=cyloss.nn.sparse_softmax_cross_entropy_with_logits,
    tf_fn=lambda tf: tf.nn.sparse_softmax_cross_entropy_with_logits,
    call_tf=lambda tf, a, o: tf.nn.sparse_softmax_cross_entropy_with_logits(**a, **o),
    wrt=("logits",), cases=samples.sparse_xent_cases, scale=scale_sparse_xent,
    tol={"value": Tol(8, "L - s_label: rounding of s, log of a C-term sum in another "
                         "order (acc(C))"),
         "logits": Tol(8, "softmax (see nn.softmax) minus one-hot")},
    examples=[
        ex("TF_SEMANTICS sec. 1.3 example", {"labels": np.array([1, 2], np.int32),
                                        "logits": f32([[1, 2, 3], [1, -1, 0.5]])}),
        ex("rank-1 logits, scalar label", {"labels": np.int64(2),
                                           "logits": f64([1, 2, 3])}),
        ex("-inf elsewhere is harmless; -inf on the label -> +inf; +inf -> NaN",
           {"labels": np.array([1, 0, 1], np.int64),
            "logits": f32([[-np.inf, 0, 1], [-np.inf, 0, 1], [np.inf, 0, 1]])}),
        ex("batch 0", {"labels": np.zeros((0,), np.int32), "logits": np.zeros((0, 7), np.float32)}),
        ex("rank 4 logits", {"labels": np.arange(6, dtype=np.int32).reshape(1, 2, 3) % 4,
                             "logits": np.sin(np.arange(24.0)).reshape(1, 2, 3, 4)}),
        ex("C = 1", {"labels": np.zeros(3, np.int64), "logits": f32([[1], [-1e4], [7]])}),
        ex("5000 classes x 8 rows (multi-threaded)",
           {"labels": np.arange(8, dtype=np.int64) * 600,
            "logits": np.cos(np.arange(40000, dtype=np.float64)).reshape(8, 5000) * 30}),
    ],
    errors=[
        err("label == C", {"labels": np.array([0, 4, 1, 0, 0, 0], np.int32),
                           "logits": np.zeros((6, 4), np.float32)},
            "InvalidArgumentError", "InvalidArgumentError",
            "TF's CPU kernel checks [0, C) first", mention=("4",)),
        err("negative label", {"labels": np.array([[0, -1], [2, 1]], np.int64),
                               "logits": np.zeros((2, 2, 3), np.float64)},
            "InvalidArgumentError", "InvalidArgumentError", "label < 0", mention=("-1",)),
        err("C = 0", {"labels": np.zeros(2, np.int32), "logits": np.zeros((2, 0), np.float32)},
            "InvalidArgumentError", "InvalidArgumentError",
            "TF: Must have at least one class"),
        err("C = 0, batch 0", {"labels": np.zeros(0, np.int32),
                               "logits": np.zeros((0, 0), np.float32)},
            "InvalidArgumentError", "InvalidArgumentError", "C = 0 even with no rows"),
        err("labels shape differs", {"labels": np.zeros(3, np.int32),
                                     "logits": np.zeros((2, 3), np.float32)},
            "ValueError", "ValueError", "static shape check",
            mention=("(3,)", "(2, 3)")),
        err("labels rank = logits rank", {"labels": np.zeros((2, 1), np.int32),
                                          "logits": np.zeros((2, 3), np.float32)},
            "ValueError", "ValueError", "static rank check", mention=("(2, 1)", "(2, 3)")),
        err("scalar logits", {"labels": np.int32(0), "logits": np.float32(1)},
            "ValueError", "ValueError", "`logits` cannot be a scalar"),
        err("float labels", {"labels": np.zeros(2, np.float32),
                             "logits": np.zeros((2, 3), np.float32)},
            "InvalidArgumentError", "TypeError",
            "dtype error: TF's op rejects Tlabels=float (InvalidArgumentError); cyloss "
            "TypeError"),
        err("int16 labels", {"labels": np.zeros(2, np.int16),
                             "logits": np.zeros((2, 3), np.float32)},
            "InvalidArgumentError", "TypeError", "only int32/int64 labels"),
        err("int32 logits", {"labels": np.zeros(2, np.int32),
                             "logits": np.zeros((2, 3), np.int32)},
            "InvalidArgumentError", "TypeError", "integer logits"),
    ]))


# -------------------------------------------- sigmoid cross-entropy --------

def scale_sigmoid_xent(case, ref, dy):
    x = fin(case.args["logits"])
    z = fin(case.args["labels"])
    d = np.abs(np.asarray(dy, np.float64))
    e = np.exp(-np.abs(x))
    return {"value": np.maximum(x, 0) + np.abs(x * z) + np.log1p(e),
            "logits": d * ((x >= 0) + np.abs(z) + e / (1 + e)),
            "labels": d * np.abs(x)}


_add(Entry(
    key="nn.sigmoid_cross_entropy_with_logits",
    fn=cyloss.nn.sigmoid_cross_entropy_with_logits,
    tf_fn=lambda tf: tf.nn.sigmoid_cross_entropy_with_logits,
    call_tf=lambda tf, a, o: tf.nn.sigmoid_cross_entropy_with_logits(**a, **o),
    wrt=("labels", "logits"), cases=samples.sigmoid_xent_cases, scale=scale_sigmoid_xent,
    tol={"value": Tol(8, "relu(x) - x*z + log1p(exp(-|x|)): one product, two additions, "
                         "Eigen exp/log1p (~2 ulp each), judged against the terms"),
         "logits": Tol(8, "[x>=0] - z -+ e/(1+e): TF adds the three paths in its own "
                          "order; e/(1+e) carries exp's error"),
         "labels": Tol(1, "-x*dy: one rounding, identical in both")},
    examples=[
        ex("TF_SEMANTICS sec. 1.4 example", {"labels": f32([0, 1, 0.5, 0.2, 1]),
                                        "logits": f32([-3, -0.5, 0, 0.5, 3])}),
        ex("x = +-inf", {"labels": f64([0, 0.5, 1, 0, 0.5, 1]),
                         "logits": f64([np.inf, np.inf, np.inf, -np.inf, -np.inf, -np.inf])}),
        ex("rank 0", {"labels": np.float32(0.25), "logits": np.float32(-2.0)}),
        ex("x = 0 exactly (gradient 0.5 - z)", {"labels": f64([0, 0.3, 1]),
                                                "logits": f64([0, 0, -0.0])}),
        ex("labels outside [0,1]", {"labels": f32([-1, 2, 7]), "logits": f32([1, -2, 0.5])}),
        ex("40000 elements (multi-threaded)",
           {"labels": (np.arange(40000) % 2).astype(np.float32).reshape(200, 200),
            "logits": np.sin(np.arange(40000, dtype=np.float32)).reshape(200, 200) * 10}),
    ],
    errors=[
        err("shape mismatch, no broadcasting", {"labels": np.zeros((1, 3), np.float32),
                                                "logits": np.zeros((2, 3), np.float32)},
            "ValueError", "ValueError", "`logits` and `labels` must have the same shape",
            mention=("(1, 3)", "(2, 3)")),
        err("float64 labels, float32 logits", {"labels": np.zeros((2, 3), np.float64),
                                               "logits": np.zeros((2, 3), np.float32)},
            "InvalidArgumentError", "TypeError",
            "dtype error: TF does not cast labels (cannot compute Mul); cyloss TypeError"),
        err("int logits", {"labels": np.zeros((2, 3), np.int32),
                           "logits": np.zeros((2, 3), np.int32)},
            "InvalidArgumentError", "TypeError", "integer logits"),
        err("labels None", {"labels": None, "logits": np.zeros((2, 3), np.float32)},
            "ValueError", "ValueError", "both must be provided"),
    ]))


# ------------------------------------------- weighted cross-entropy --------

def scale_weighted_xent(case, ref, dy):
    # pos_weight may broadcast the result beyond the logits' shape: terms are
    # formed at the broadcast shape, then summed back to each input's shape.
    x0 = fin(case.args["logits"])
    pw_raw = np.asarray(case.args["pos_weight"], np.float64)
    shape = np.broadcast_shapes(pw_raw.shape, x0.shape)
    x = np.broadcast_to(x0, shape)
    z = np.broadcast_to(fin(case.args["labels"]), shape)
    pw = np.broadcast_to(fin(pw_raw), shape)
    d = np.abs(np.broadcast_to(np.asarray(dy, np.float64), shape))
    e = np.exp(-np.abs(x))
    c = np.log1p(e) + np.maximum(-x, 0)           # -log sigmoid(x)
    q = 1 + np.abs(pw - 1) * np.abs(z) + np.abs(pw * z)
    dpw, n = reduce_abs_to(d * z * c, pw_raw.shape)
    dx, nx = reduce_abs_to(d * ((1 + np.abs(z)) + q * (e / (1 + e) + (x < 0))), x0.shape)
    dz, nz = reduce_abs_to(d * (np.abs(x) + (1 + np.abs(pw - 1) + np.abs(pw)) * c), x0.shape)
    return {"value": (1 + np.abs(z)) * np.abs(x) + q * c,
            "logits": dx * (1 + acc(nx)),
            "labels": dz * (1 + acc(nz)),
            "pos_weight": dpw * (1 + acc(n))}


_add(Entry(
    key="nn.weighted_cross_entropy_with_logits",
    fn=cyloss.nn.weighted_cross_entropy_with_logits,
    tf_fn=lambda tf: tf.nn.weighted_cross_entropy_with_logits,
    call_tf=lambda tf, a, o: tf.nn.weighted_cross_entropy_with_logits(**a, **o),
    wrt=("labels", "logits", "pos_weight"), cases=samples.weighted_xent_cases,
    scale=scale_weighted_xent, convert={"pos_weight": "logits"},
    tol={"value": Tol(8, "(1-z)x + q(log1p(e) + relu(-x)), q = 1 + (pw-1)z: a handful of "
                         "roundings plus Eigen exp/log1p, judged against the terms"),
         "logits": Tol(8, "(1-z) + q(-sign(x) e/(1+e) - [x<0]); kink: sign(0) = 0"),
         "labels": Tol(8, "-x + (pw-1)(log1p(e) + relu(-x))"),
         "pos_weight": Tol(8, "z(log1p(e) + relu(-x))*dy, summed over the broadcast axes "
                              "(acc(n)) when pos_weight is smaller than the logits")},
    notes="pos_weight: Python float/int, NumPy scalar, 0-d, per-class, full and size-1 "
          "broadcast shapes; TF converts NumPy/Python pos_weight to the logits' dtype",
    examples=[
        ex("TF_SEMANTICS sec. 1.5 example", {"labels": f32([0, 1, 0.5, 0.2, 1]),
                                        "logits": f32([-3, -0.5, 0, 0.5, 3]),
                                        "pos_weight": 2.5}),
        ex("x = 0 kink: dx = 1 - z", {"labels": f64([1, 0.5, 0]), "logits": f64([0, 0, 0]),
                                      "pos_weight": f64([3, 2.5, 0.5])}),
        ex("non-finite (z,x) = (0,+inf), (1,-inf), (0,-inf), (1,+inf)",
           {"labels": f32([0, 1, 0, 1]), "logits": f32([np.inf, -np.inf, -np.inf, np.inf]),
            "pos_weight": np.float32(2)}),
        ex("per-class pos_weight [C]", {"labels": f32([[0, 1, 1], [1, 0, 0.5]]),
                                        "logits": f32([[1, -2, 0.5], [0, 3, -1]]),
                                        "pos_weight": f32([0.5, 1, 4])}),
        ex("pos_weight [N,1]", {"labels": f64([[0, 1, 1], [1, 0, 0.5]]),
                                "logits": f64([[1, -2, 0.5], [0, 3, -1]]),
                                "pos_weight": f64([[2], [0.25]])}),
        ex("pos_weight: NumPy float64 scalar on float32 logits (TF converts it, sec. 1.5)",
           {"labels": f32([0, 1, 0.5]), "logits": f32([-1, 0.5, 2]),
            "pos_weight": np.float64(2.5)}, dtype="float32"),
        ex("pos_weight: NumPy float32 0-d array on float64 logits (TF converts it)",
           {"labels": f64([0, 1, 0.5]), "logits": f64([-1, 0.5, 2]),
            "pos_weight": np.array(1.5, np.float32)}, dtype="float64"),
        ex("pos_weight: int64 vector (TF converts NumPy arrays to the logits' dtype)",
           {"labels": f32([[0, 1, 0.5]]), "logits": f32([[-1, 0.5, 2]]),
            "pos_weight": np.array([1, 2, 3], np.int64)}, dtype="float32"),
        ex("pos_weight [2,2,3] broadcasts the result beyond the logits' [2,3]",
           {"labels": f32([[0, 1, 0.5], [1, 1, 0]]), "logits": f32([[-1, 0.5, 2], [0, 1, -3]]),
            "pos_weight": np.linspace(0.5, 3, 12, dtype=np.float32).reshape(2, 2, 3)}),
    ],
    errors=[
        err("shape mismatch", {"labels": np.zeros((1, 3), np.float32),
                               "logits": np.zeros((2, 3), np.float32), "pos_weight": 2.0},
            "ValueError", "ValueError", "same-shape check", mention=("(1, 3)", "(2, 3)")),
        err("float64 labels, float32 logits", {"labels": np.zeros((2, 3), np.float64),
                                               "logits": np.zeros((2, 3), np.float32),
                                               "pos_weight": 2.0},
            "InvalidArgumentError", "TypeError", "dtype error: TF does not cast labels"),
        err("pos_weight not broadcastable", {"labels": np.zeros((2, 3), np.float32),
                                             "logits": np.zeros((2, 3), np.float32),
                                             "pos_weight": np.ones(4, np.float32)},
            "InvalidArgumentError", "ValueError",
            "TF: Incompatible shapes [4] vs [2,3] at run time; cyloss: a broadcast "
            "mismatch is a ValueError naming both shapes", mention=("(4,)", "(2, 3)")),
    ]))


# ---------------------------------------------------- log_poisson_loss -----

def scale_log_poisson(case, ref, dy):
    c = fin(case.args["log_input"])
    z = fin(case.args["targets"])
    d = np.abs(np.asarray(dy, np.float64))
    full = bool(case.options.get("compute_full_loss", False))
    with np.errstate(over="ignore"):
        ec = np.exp(c)                          # inf where float64 overflows: no bound
    st = np.zeros_like(z)
    dst = np.zeros_like(z)
    if full:
        mask = (z > 1) | (z < 0)
        az = np.where(mask, np.abs(z), 1.0)
        st = np.where(mask, az * np.abs(np.log(az)) + az + 0.5 * np.abs(np.log(2 * np.pi * az)),
                      0)
        dst = np.where(mask, np.abs(np.log(az)) + 0.5 / az, 0)
    return {"value": ec + np.abs(c * z) + st,
            "log_input": d * (ec + np.abs(z)),
            "targets": d * (np.abs(c) + dst)}


_add(Entry(
    key="nn.log_poisson_loss",
    fn=cyloss.nn.log_poisson_loss,
    tf_fn=lambda tf: tf.nn.log_poisson_loss,
    call_tf=lambda tf, a, o: tf.nn.log_poisson_loss(**a, **o),
    wrt=("targets", "log_input"), cases=samples.log_poisson_cases, scale=scale_log_poisson,
    tol={"value": Tol(8, "exp(c) - c*z (+ z log z - z + 0.5 log(2 pi z)): Eigen exp/log "
                         "(~2 ulp) and a few roundings, judged against the terms"),
         "log_input": Tol(8, "exp(c) - z"),
         "targets": Tol(8, "-c (+ log z + 0.5/z)")},
    examples=[
        ex("TF_SEMANTICS sec. 1.6 example", {"targets": f32([0, 1, 3, 0.5, 10]),
                                        "log_input": f32([0.5, -1, 2, 0, 1.5])}),
        ex("sec. 1.6 example, full loss (dz NaN at z = 0)",
           {"targets": f32([0, 1, 3, 0.5, 10]), "log_input": f32([0.5, -1, 2, 0, 1.5])},
           {"compute_full_loss": True}),
        ex("negative targets, full loss -> NaN", {"targets": f64([-1, -0.5, 2]),
                                                 "log_input": f64([0.1, 0.2, 0.3])},
           {"compute_full_loss": True}),
        ex("c = +-inf -> NaN", {"targets": f32([0, 1, 2, 0]),
                                "log_input": f32([np.inf, np.inf, -np.inf, -np.inf])}),
        ex("compute_full_loss=False explicit", {"targets": f64([[2, 3], [0, 5]]),
                                                "log_input": f64([[0.1, 1], [-2, 3]])},
           {"compute_full_loss": False}),
        ex("rank 0", {"targets": np.float32(4), "log_input": np.float32(1.25)},
           {"compute_full_loss": True}),
    ],
    errors=[
        err("shape mismatch", {"targets": np.zeros((1, 3), np.float32),
                               "log_input": np.zeros((2, 3), np.float32)},
            "ValueError", "ValueError", "same-shape check", mention=("(1, 3)", "(2, 3)")),
        err("float64 targets, float32 log_input", {"targets": np.zeros((2, 3)),
                                                   "log_input": np.zeros((2, 3), np.float32)},
            "InvalidArgumentError", "TypeError", "dtype error: TF does not cast"),
        err("int32 targets", {"targets": np.zeros((2, 3), np.int32),
                              "log_input": np.zeros((2, 3), np.float32)},
            "InvalidArgumentError", "TypeError", "dtype error: integer targets"),
    ]))


# -------------------------------------------------------------- l2_loss ----

def scale_l2_loss(case, ref, dy):
    t = fin(case.args["t"])
    d = np.abs(np.asarray(dy, np.float64))
    return {"value": np.asarray(np.sum(t * t) / 2 * (1 + acc(t.size))),
            "t": d * np.abs(t)}


_add(Entry(
    key="nn.l2_loss",
    fn=cyloss.nn.l2_loss,
    tf_fn=lambda tf: tf.nn.l2_loss,
    call_tf=lambda tf, a, o: tf.nn.l2_loss(**a, **o),
    wrt=("t",), cases=samples.l2_loss_cases, scale=scale_l2_loss,
    tol={"value": Tol(4, "sum of n squares in another order: acc(n) of the sum of terms"),
         "t": Tol(1, "t*dy: one rounding, identical in both")},
    examples=[
        ex("[[1,2],[3,4]] -> 15", {"t": f32([[1, 2], [3, 4]])}),
        ex("empty -> 0", {"t": np.zeros((0, 3), np.float64)}),
        ex("scalar", {"t": np.float32(-3.0)}),
        ex("inf / NaN", {"t": f32([1, np.inf, 2])}),
        ex("float32 overflow -> inf", {"t": f32([1e20, 1])}),
        ex("float32: the squares fit, their sum does not, the sum of halves does",
           {"t": f32([1.5e19, 1.5e19])}),
        ex("float64: the squares fit, their sum does not, the sum of halves does",
           {"t": f64([1e154, 1e154])}),
        ex("100000 elements (multi-threaded partial sums)",
           {"t": np.sin(np.arange(100000, dtype=np.float32))}),
    ],
    errors=[
        err("int32", {"t": np.arange(3, dtype=np.int32)}, "InvalidArgumentError", "TypeError",
            "dtype error: TF's op rejects T=int32; cyloss TypeError"),
    ]))


# Further namespaces live in their own modules; importing them adds their entries.
from . import (registry_losses, registry_keras, registry_keras_more, registry_seq2seq,  # noqa: E402,F401
               registry_ctc, registry_sampled)
