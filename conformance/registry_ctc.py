"""Conformance entry for nn.ctc_loss (TF 2.21's tf.nn.ctc_loss, v2 API).

TF has two implementations behind the name and cyloss follows each (see
cyloss/_nn_ctc.py): dense labels go through TF's Python forward-backward
(floor weight float32(log(1e-307)) off the label path, so impossible
alignments give ~707, and its gradient there), sparse labels through the C++
CTCLoss kernel (exact model; impossible alignments raise). Cases: samples_ctc.

Oracle notes:
* float64 with dense labels: TF 2.21's dense path raises (a float32 constant
  meets float64 logits in a Mul). call_tf tries it first (so the day TF
  accepts it, TF's own result is used) and otherwise computes the same loss
  with TF's C++ kernel on the same labels (sparse form), which supports
  float64. The float64 dense cases are drawn where the two TF models agree
  (see samples_ctc).
* Dense-path inputs for which TF returns meaningless numbers without an error
  (labels outside [0, C) within label_length, label_length outside [0, L],
  logit_length outside [0, T], blank_index outside [-C, C)) raise
  InvalidArgumentError in cyloss; they are unit-tested in tests/test_ctc.py.
  The same conditions with sparse labels are TF errors too and are checked
  here as error parity.
* TF's C++ kernel adds log-probabilities with log1pf(expf(.)) even for
  double, so float64 cases are measured in float32 eps (registry.Narrowing).
* Non-finite and huge logits (conformance/test_fuzz_special.py) get TF's
  answers, NaN and inf positions included: float32 dense labels against TF's
  dense path (log-probabilities times a one-hot matrix, -inf * 0 = NaN;
  padding frames masked by multiplying by 0: one NaN / +-inf logit, or -inf
  log-probability of an overflowing huge one, anywhere in an example's
  frames normally makes its loss and gradient NaN; with `unique` a NaN
  occupancy reaches only the classes of its labels), sparse labels against the C++ kernel (frames <
  logit_length only: NaN, or +inf and the softmax gradient when no alignment
  exists). float64 dense examples with a log-probability below the dense
  floor (-707) follow the C++ kernel in cyloss (cyloss/_nn_ctc.py), so the
  substitute oracle above is TF's answer for them too.

Tolerances. Both sides compute per frame a log-softmax (|log p| up to the
frame's largest |log p_k|) and a normalising log-sum over the S = 2L+2
states, and sum the T log-normalisers into the loss; the error of the loss
is therefore a few eps times sum_t (max_k |log p_t(k)| + log(S+1)) + |loss|
(`scale_ctc`, value). The gradient softmax - occupancy carries the relative
error of the occupancy, which is exp of a log-space quantity with that same
absolute error: |dy| (p + occupancy) (1 + value scale). Float32 exp/log are
Eigen's on TF's side (a few ulp).
"""
import numpy as np

import cyloss.nn

from . import samples_ctc as sc
from .compare import fin
from .registry import Entry, Narrowing, Tol, _add, err, ex, row_stats

# ------------------------------------------------------------------ oracle --


def _np(v):
    return v.numpy() if hasattr(v, "numpy") else np.asarray(v)


def _to_tf_labels(tf, v):
    if isinstance(v, sc.SparseLabels):
        return tf.SparseTensor(v.indices, v.values, v.dense_shape)
    if len(getattr(v, "shape", ())) == 1:                # packed sparse (see samples_ctc)
        return tf.SparseTensor(*sc.SparseLabels.unpack(_np(v)))
    return v


def _is_float64(v):
    dt = getattr(v, "dtype", None)
    dt = getattr(dt, "as_numpy_dtype", dt)
    return dt is not None and np.dtype(dt) == np.float64


def _dense_as_sparse(tf, labels, label_length):
    lab = _np(labels)
    ll = _np(label_length)
    idx = np.array([(b, j) for b in range(lab.shape[0]) for j in range(int(ll[b]))],
                   np.int64).reshape(-1, 2)
    vals = lab[idx[:, 0], idx[:, 1]].astype(np.int32)
    return tf.SparseTensor(idx, vals, [lab.shape[0], max(1, lab.shape[1])])


def call_tf(tf, a, o):
    a = dict(a)
    o = dict(o)
    labels = _to_tf_labels(tf, a.pop("labels"))
    if "unique" in a:
        u = a.pop("unique")
        if not isinstance(u, tuple):                     # engine: stacked [2, B, L]
            u = (tf.cast(u[0], tf.int64), tf.cast(u[1], tf.int32))
        o["unique"] = u
    try:
        return tf.nn.ctc_loss(labels=labels, **a, **o)
    except tf.errors.InvalidArgumentError:
        dense = not isinstance(labels, tf.SparseTensor)
        if not (dense and _is_float64(a.get("logits"))):
            raise
    # TF 2.21's dense path rejects float64: the C++ kernel on the same labels
    o.pop("unique", None)
    blank = o.pop("blank_index", None)
    sparse = _dense_as_sparse(tf, labels, a.pop("label_length"))
    a["logit_length"] = tf.cast(a["logit_length"], tf.int32)    # the C++ op wants int32
    return tf.nn.ctc_loss(labels=sparse, label_length=None,
                          blank_index=0 if blank is None else blank, **a, **o)


# ------------------------------------------------------------------- scale --

def scale_ctc(case, ref, dy):
    # (raw logits: row_stats leaves non-finite entries out of the softmax, so
    # a -inf logit is an impossible class, not a logit of 0)
    x = np.asarray(case.args["logits"], np.float64)
    tm = case.options.get("logits_time_major", True)
    xt = x if tm else np.transpose(x, (1, 0, 2))                # [T, B, C]
    n_time, n_batch, _ = xt.shape
    labels = case.args["labels"]
    lmax = int(labels.dense_shape[1]) if isinstance(labels, sc.SparseLabels) else \
        np.shape(labels)[1]
    s, L, p = row_stats(xt, 2)
    lp = np.abs(s - L)
    frame = (lp.max(-1) if lp.size else np.zeros((n_time, n_batch))) + np.log(2 * lmax + 3)
    live = np.arange(n_time)[:, None] < np.asarray(case.args["logit_length"])[None, :]
    sv = np.where(live, frame, 0).sum(0) + np.abs(fin(ref["value"])) + 1          # [B]
    out = {"value": sv}
    if "logits" in ref:
        g = np.asarray(ref["logits"], np.float64)
        g = g if tm else np.transpose(g, (1, 0, 2))
        d = np.asarray(dy, np.float64)[None, :, None]
        with np.errstate(all="ignore"):
            occ = np.where(d != 0, np.clip(p - g / np.where(d != 0, d, 1), 0, 1), 1)
        sg = np.abs(d) * (p + occ) * (1 + sv[None, :, None]) * live[:, :, None]
        out["logits"] = sg if tm else np.transpose(sg, (1, 0, 2))
    return out


# ---------------------------------------------------------------- examples --

def _sparse(rows, n_batch, width, dtype=np.int32):
    idx = [(b, j) for b, r in enumerate(rows) for j in range(len(r))]
    vals = [rows[b][j] for b, j in idx]
    return sc.SparseLabels(np.array(idx, np.int64).reshape(-1, 2), np.array(vals, dtype),
                           [n_batch, width])


def _x(shape, dtype=np.float32, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


_LAB = np.array([[1, 2, 2, 3], [4, 1, 0, 0], [2, 0, 0, 0]], np.int32)
_LL = np.array([4, 2, 1], np.int32)
_TL = np.array([8, 6, 3], np.int32)

EXAMPLES = [
    ex("dense, blank 0 (default), repeated label", {
        "labels": _LAB, "logits": _x((8, 3, 5)), "label_length": _LL, "logit_length": _TL}),
    ex("dense, blank_index = C-1", {
        "labels": _LAB - (_LAB > 0), "logits": _x((8, 3, 5), seed=1), "label_length": _LL,
        "logit_length": _TL}, {"blank_index": 4}),
    ex("dense, blank_index = -2, batch-major", {
        "labels": _LAB, "logits": _x((3, 8, 5), seed=2), "label_length": _LL,
        "logit_length": _TL}, {"blank_index": -2, "logits_time_major": False}),
    ex("dense impossible alignments: finite loss ~707 and TF's gradient", {
        "labels": np.array([[1, 1, 2], [1, 2, 3]], np.int32), "logits": _x((3, 2, 4), seed=3),
        "label_length": np.array([3, 3], np.int32), "logit_length": np.array([3, 2], np.int32)}),
    ex("dense logit_length 0 and label_length 0", {
        "labels": _LAB, "logits": _x((8, 3, 5), seed=4),
        "label_length": np.array([4, 0, 0], np.int32),
        "logit_length": np.array([0, 0, 5], np.int32)}),
    ex("dense labels [B, 0] (TF's start->blank weight 2)", {
        "labels": np.zeros((2, 0), np.int32), "logits": _x((4, 2, 3), seed=5),
        "label_length": np.zeros(2, np.int32), "logit_length": np.array([4, 2], np.int32)}),
    ex("dense T = 0", {
        "labels": np.array([[1], [2]], np.int64), "logits": np.zeros((0, 2, 3), np.float32),
        "label_length": np.array([1, 0], np.int64), "logit_length": np.zeros(2, np.int64)}),
    ex("dense padding -1 / out of range (used on floor paths as TF does)", {
        "labels": np.array([[1, 1, -1, 7], [2, -1, -1, -1]], np.int32),
        "logits": _x((3, 2, 4), seed=6), "label_length": np.array([2, 1], np.int32),
        "logit_length": np.array([2, 3], np.int32)}, {"blank_index": 2}),
    ex("dense labels equal to a nonzero blank_index (TF: class blank-1)", {
        "labels": np.array([[2, 1, 2]], np.int32), "logits": _x((6, 1, 4), seed=7),
        "label_length": np.array([3], np.int32), "logit_length": np.array([6], np.int32)},
        {"blank_index": 2}),
    ex("dense with unique (ctc_unique_labels)", {
        "labels": _LAB, "logits": _x((8, 3, 5), seed=8), "label_length": _LL,
        "logit_length": _TL, "unique": sc.unique_labels(_LAB)}),
    ex("dense float64 (oracle: TF's C++ kernel)", {
        "labels": _LAB, "logits": _x((8, 3, 5), np.float64, seed=9), "label_length": _LL,
        "logit_length": _TL}, {"blank_index": 0}),
    ex("sparse, blank 0", {
        "labels": _sparse([[1, 2, 2, 3], [4, 1], [2]], 3, 4), "logits": _x((8, 3, 5), seed=10),
        "logit_length": _TL}, {"label_length": None, "blank_index": 0}),
    ex("sparse float64, blank -1, batch-major", {
        "labels": _sparse([[0, 2, 2, 3], [3, 1], [2]], 3, 4),
        "logits": _x((3, 8, 5), np.float64, seed=11), "logit_length": _TL},
        {"label_length": None, "blank_index": -1, "logits_time_major": False}),
    ex("sparse, dense_shape wider than the labels, label = nonzero blank", {
        "labels": _sparse([[3, 1], [1], [3, 3]], 3, 9), "logits": _x((8, 3, 5), seed=12),
        "logit_length": _TL}, {"label_length": None, "blank_index": 3}),
    ex("sparse: repeats leave too few frames -> +inf, softmax gradient", {
        "labels": _sparse([[1, 2], [3], [4, 4]], 3, 2), "logits": _x((8, 3, 5), seed=15),
        "logit_length": np.array([8, 6, 2], np.int32)}, {"label_length": None,
                                                          "blank_index": 0}),
    ex("sparse: trailing values >= num_classes are dropped (null labels)", {
        "labels": _sparse([[1, 2, 5, 7], [3, 6], [4, 9]], 3, 4), "logits": _x((8, 3, 5), seed=16),
        "logit_length": _TL}, {"label_length": None, "blank_index": 0}),
    ex("bench shape [200, 32, 50] float32, labels 30..50", {
        "labels": np.random.default_rng(13).integers(1, 50, (32, 50)).astype(np.int32),
        "logits": _x((200, 32, 50), seed=13),
        "label_length": np.random.default_rng(14).integers(30, 51, 32).astype(np.int32),
        "logit_length": np.full(32, 200, np.int32)}),
]


def _err_args(**kw):
    base = {"labels": _LAB, "logits": _x((8, 3, 5)), "label_length": _LL, "logit_length": _TL}
    base.update(kw)
    return base


_SP = _sparse([[1, 2], [3], [4, 4]], 3, 2)
_SPO = {"blank_index": 0}       # (label_length stays in args: ignored for sparse labels)

ERRORS = [
    err("sparse without blank_index", _err_args(labels=_SP, label_length=None), "ValueError",
        "ValueError", "TF: blank_index must be provided for a SparseTensor",
        options={}, mention=("blank_index",)),
    err("sparse logit_length > T", _err_args(labels=_SP, logit_length=np.array(
        [9, 6, 3], np.int32)), "InvalidArgumentError", "InvalidArgumentError",
        "TF: sequence_length(0) <= 8", _SPO, mention=("logit_length[0] = 9",)),
    err("sparse negative logit_length", _err_args(labels=_SP, logit_length=np.array(
        [8, -1, 3], np.int32)), "InvalidArgumentError", "InvalidArgumentError",
        "TF: seq_len(1) < 0", _SPO, mention=("logit_length[1] = -1",)),
    err("sparse empty label row", _err_args(labels=_sparse([[1, 2], [], [4]], 3, 2)),
        "InvalidArgumentError", "InvalidArgumentError", "TF: Labels length is zero in batch 1",
        _SPO, mention=("batch 1",)),
    err("sparse null label followed by a label", _err_args(
        labels=_sparse([[1, 5, 2], [3], [4]], 3, 3)), "InvalidArgumentError",
        "InvalidArgumentError", "TF: Saw a non-null label (index >= num_classes - 1) "
        "following a null label", _SPO, mention=("following a null label",)),
    err("sparse more labels than frames", _err_args(
        labels=_sparse([[1, 2, 3, 1], [3], [4]], 3, 4), logit_length=np.array(
            [3, 6, 3], np.int32)), "InvalidArgumentError", "InvalidArgumentError",
        "TF: Not enough time for target transition sequence", _SPO,
        mention=("required: 4", "available: 3")),
    err("sparse label = blank 0", _err_args(labels=_sparse([[1, 0], [3], [4]], 3, 2)),
        "InvalidArgumentError", "InvalidArgumentError",
        "TF: All labels must be nonnegative integers (0 - 1 after moving the blank)", _SPO,
        mention=("label value of 0",)),
    err("sparse negative label", _err_args(labels=_sparse([[1, -3], [3], [4]], 3, 2)),
        "InvalidArgumentError", "InvalidArgumentError",
        "TF: All labels must be nonnegative integers", {"blank_index": 2}, mention=("-3",)),
    err("sparse indices out of order", _err_args(labels=sc.SparseLabels(
        [[1, 0], [0, 0], [2, 0]], np.array([1, 2, 3], np.int32), [3, 2])),
        "InvalidArgumentError", "InvalidArgumentError", "TF: indices[1] is out of order",
        _SPO, mention=("out of order",)),
    err("sparse repeated index", _err_args(labels=sc.SparseLabels(
        [[0, 0], [0, 0], [1, 0], [2, 0]], np.array([1, 2, 3, 1], np.int32), [3, 2])),
        "InvalidArgumentError", "InvalidArgumentError", "TF: indices[1] is repeated",
        _SPO, mention=("repeated",)),
    err("dense float labels", _err_args(labels=_LAB.astype(np.float32)),
        "InvalidArgumentError", "TypeError",
        "dtype error: TF's OneHot rejects TI=float (InvalidArgumentError); cyloss TypeError"),
    err("dense int16 labels", _err_args(labels=_LAB.astype(np.int16)),
        "InvalidArgumentError", "TypeError", "dtype error: TF's OneHot rejects TI=int16"),
    err("dense labels batch 2 vs logits batch 3", _err_args(labels=_LAB[:2]),
        "InvalidArgumentError", "ValueError",
        "shape error: TF fails in a Mul (Incompatible shapes); cyloss ValueError",
        mention=("(2, 4)", "3")),
    err("dense logit_length batch 2", _err_args(logit_length=_TL[:2]),
        "InvalidArgumentError", "ValueError", "shape error: TF fails in a Mul",
        mention=("(2,)", "3")),
    err("dense label_length batch 2", _err_args(label_length=_LL[:2]),
        "InvalidArgumentError", "ValueError", "shape error: TF fails in an AddV2",
        mention=("(2,)", "3")),
    err("rank-2 logits", _err_args(logits=_x((8, 5))), "IndexError", "ValueError",
        "TF indexes shape[2] (IndexError); cyloss: ValueError naming the shape",
        mention=("(8, 5)",)),
    err("dense label_length None", _err_args(label_length=None), "ValueError", "ValueError",
        "TF cannot convert None to a tensor", mention=("label_length",)),
    err("blank_index float", _err_args(), "TypeError", "TypeError",
        "TF slices with it (TypeError)", {"blank_index": 1.0}, mention=("blank_index",)),
]

_add(Entry(
    key="nn.ctc_loss", fn=cyloss.nn.ctc_loss,
    tf_fn=lambda tf: tf.nn.ctc_loss, call_tf=call_tf, wrt=("logits",),
    cases=sc.ctc_cases, scale=scale_ctc,
    tol={"value": Tol(8, "sum over frames of a log-softmax and a log-sum of <= 3 terms per "
                         "state plus a normalising log-sum over S states, in another "
                         "order than TF's scans; judged against sum_t (max |log p_t| + "
                         "log(S+1)) + |loss| (scale_ctc)"),
         "logits": Tol(8, "softmax - occupancy: the occupancy is exp of a log-space sum "
                          "with the loss' absolute error, so |dy| (p + occupancy) times "
                          "the value scale (scale_ctc)")},
    examples=EXAMPLES, errors=ERRORS,
    budget={"quick": 150, "full": 1500},
    narrowing=Narrowing(
        to="float32", outputs=("value", "logits"),
        reason="every float64 case runs TF's C++ CTC kernel (sparse labels, and the "
               "substitute for TF's float64-rejecting dense path), whose log-sum-exp "
               "(ctc_loss_util.h LogSumExp) is log1pf(expf(.)) in float even for double: "
               "its results carry float32 rounding; cyloss computes in float64"),
    notes="dense (TF's Python forward-backward, floor paths included) and sparse (TF's C++ "
          "kernel) semantics; float64 dense against the C++ kernel (TF's dense path rejects "
          "float64); dense-path inputs TF accepts silently but cyloss rejects are listed in "
          "the module docstring and unit-tested in tests/test_ctc.py"))
