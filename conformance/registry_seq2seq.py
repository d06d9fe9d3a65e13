"""Conformance entries for cyloss.seq2seq (contrib.seq2seq.sequence_loss) and
cyloss.legacy_seq2seq (sequence_loss_by_example, sequence_loss).

Neither ships with TF 2.21, so the oracle is the composition TF_SEMANTICS.md
sec. 3.3 prescribes, written here from TF 2.21 primitives:
tf.nn.sparse_softmax_cross_entropy_with_logits (or the loss function given),
tf.reshape, tf.reduce_sum, tf.math.divide_no_nan, tf.math.count_nonzero,
tf.add_n and `+ 1e-12`, with the static checks of the TF 1.x sources in their
order; the gradients are tf.GradientTape's over that composition.

Scales (see registry.py): per position the sparse xent's terms (as
nn.sparse_softmax_cross_entropy_with_logits: |L| + |s_label| + 1 + acc(C)),
weighted by |w|; a group sum of n terms adds acc(n) of the summed
magnitudes; the denominator D (a weight sum, a nonzero count, or a weight
sum + 1e-12) is exact for counts and carries acc(n) * sum|w| / |D| of
relative error for sums (signed weights cancel). Gradients: the upstream
factor dy * w / D (three roundings plus D's error) times the softmax-minus-
onehot terms; the weights' gradient ce * dy / D (+ the -S dy / D^2 of the
averaging branches, with S's absolute error).
"""
import numpy as np

import cyloss
import cyloss.nn

from . import samples_seq2seq as ss
from .registry import (NAMESPACES, Entry, Tol, _add, acc, err, ex, f32, f64,
                       sparse_xent_terms)
from .compare import fin

NAMESPACES["cyloss.seq2seq"] = "seq2seq"
NAMESPACES["cyloss.legacy_seq2seq"] = "legacy_seq2seq"


class _TF1Seq2Seq:
    """The signatures of the TF 1.x functions (for the signature test)."""

    def sequence_loss(logits, targets, weights, average_across_timesteps=True,
                      average_across_batch=True, sum_over_timesteps=False,
                      sum_over_batch=False, softmax_loss_function=None, name=None): pass


class _TF1Legacy:
    def sequence_loss_by_example(logits, targets, weights, average_across_timesteps=True,
                                 softmax_loss_function=None, name=None): pass

    def sequence_loss(logits, targets, weights, average_across_timesteps=True,
                      average_across_batch=True, softmax_loss_function=None, name=None): pass


# --------------------------------------------------------------- oracles ---

def _tf_loss_fn(tf, fn):
    """The TF function standing for the cyloss one a case passes."""
    if fn is None:
        return None
    if fn is cyloss.nn.sparse_softmax_cross_entropy_with_logits:
        return tf.nn.sparse_softmax_cross_entropy_with_logits
    raise ValueError(f"no TF counterpart registered for softmax_loss_function={fn!r}")


def tf_sequence_loss(tf, a, o):
    """contrib.seq2seq.sequence_loss, final version (TF_SEMANTICS sec. 3.1)."""
    logits = tf.convert_to_tensor(a["logits"])
    targets = tf.convert_to_tensor(a["targets"])
    weights = tf.convert_to_tensor(a["weights"])
    avg_t = o.get("average_across_timesteps", True)
    avg_b = o.get("average_across_batch", True)
    sum_t = o.get("sum_over_timesteps", False)
    sum_b = o.get("sum_over_batch", False)
    fn = _tf_loss_fn(tf, o.get("softmax_loss_function"))
    if len(logits.shape) != 3:
        raise ValueError("Logits must be a [batch_size x sequence_length x logits] tensor")
    if len(targets.shape) != 2:
        raise ValueError("Targets must be a [batch_size x sequence_length] tensor")
    if len(weights.shape) != 2:
        raise ValueError("Weights must be a [batch_size x sequence_length] tensor")
    if avg_t and sum_t:
        raise ValueError("average_across_timesteps and sum_over_timesteps")
    if avg_b and sum_b:
        raise ValueError("average_across_batch and sum_over_batch")
    c = tf.shape(logits)[2]
    flat_logits = tf.reshape(logits, [-1, c])
    flat_targets = tf.reshape(targets, [-1])
    if fn is None:
        ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=flat_targets,
                                                            logits=flat_logits)
    else:
        ce = fn(labels=flat_targets, logits=flat_logits)
    ce = ce * tf.reshape(weights, [-1])
    if avg_t and avg_b:
        return tf.math.divide_no_nan(tf.reduce_sum(ce), tf.reduce_sum(weights))
    if sum_t and sum_b:
        n = tf.cast(tf.math.count_nonzero(weights), ce.dtype)
        return tf.math.divide_no_nan(tf.reduce_sum(ce), n)
    ce = tf.reshape(ce, tf.shape(logits)[0:2])
    if avg_t or avg_b:
        ax = [0] if avg_b else [1]
        return tf.math.divide_no_nan(tf.reduce_sum(ce, axis=ax),
                                     tf.reduce_sum(weights, axis=ax))
    if sum_t or sum_b:
        ax = [0] if sum_b else [1]
        n = tf.cast(tf.math.count_nonzero(weights, axis=ax), ce.dtype)
        return tf.math.divide_no_nan(tf.reduce_sum(ce, axis=ax), n)
    return ce


def _tf_steps(tf, v):
    """Per-step tensors: a stacked tensor (value cases) is unstacked (the tape
    watches the stacked one); a raw list (error cases) is converted step by step."""
    if tf.is_tensor(v):
        return tf.unstack(v) if v.shape.rank else []
    return [tf.convert_to_tensor(s) for s in v]


def tf_by_example(tf, a, o):
    """legacy_seq2seq.sequence_loss_by_example (TF_SEMANTICS sec. 3.2)."""
    logits, targets, weights = (_tf_steps(tf, a[k]) for k in ("logits", "targets", "weights"))
    fn = _tf_loss_fn(tf, o.get("softmax_loss_function"))
    if len(targets) != len(logits) or len(weights) != len(logits):
        raise ValueError("Lengths of logits, weights, and targets must be the same %d, %d, %d."
                         % (len(logits), len(weights), len(targets)))
    per_step = []
    for x, t, w in zip(logits, targets, weights):
        if fn is None:
            ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.reshape(t, [-1]),
                                                                logits=x)
        else:
            ce = fn(labels=t, logits=x)
        per_step.append(ce * w)
    log_perps = tf.add_n(per_step)
    if o.get("average_across_timesteps", True):
        log_perps = log_perps / (tf.add_n(weights) + 1e-12)
    return log_perps


def tf_legacy_sequence_loss(tf, a, o):
    """legacy_seq2seq.sequence_loss: the batch sum (or mean: / B) of by_example."""
    o2 = {k: v for k, v in o.items() if k != "average_across_batch"}
    cost = tf.reduce_sum(tf_by_example(tf, a, o2))
    if o.get("average_across_batch", True):
        targets0 = _tf_steps(tf, a["targets"])[0]
        return cost / tf.cast(tf.shape(targets0)[0], cost.dtype)
    return cost


# ---------------------------------------------------------------- scales ---

def _group_scale(ce, tce, w, dy, ax, kind, guard=0.0, raw=None):
    """Scales of a grouped reduction over [B, T] (float64, finite parts).
    kind: "avg" (D = sum w, div_no_nan), "guard" (D = sum w + guard), "count"
    (D = nonzero count of the weights as given, `raw`: a NaN or inf weight
    counts, exact), "none". ax: None (everything), 0 or 1.
    Returns (value scale [group], upstream |dy / D| over [B, T], relative
    error of the upstream factor, weights-gradient scale [B, T], shaky [B, T]:
    True in groups whose D is within its own rounding of 0 -- its bits,
    which TF's order of additions (followed by cyloss) decides, then set
    the size of every output, and the caller measures TF's own numbers)."""
    aw, ace = np.abs(w), np.abs(ce)
    d = np.abs(np.asarray(dy, np.float64))
    if kind == "none":
        return (aw * tce + ace * aw, d, np.full(w.shape, 3.0), d * (tce + ace * 3),
                np.zeros(w.shape, bool))
    kd = dict(axis=ax, keepdims=True)
    n = w.size if ax is None else w.shape[ax]
    a = acc(n)
    S = np.sum(ce * w, **kd)
    errS = np.sum(aw * tce, **kd) + a * np.sum(ace * aw, **kd)
    if kind == "count":
        D = np.count_nonzero(w if raw is None else raw, **kd).astype(np.float64)
        relD = np.zeros_like(D)
        shaky = np.zeros(w.shape, bool)
    else:
        D = np.sum(w, **kd) + guard
        relD = (a * np.sum(aw, **kd) + (guard > 0)) / np.where(D == 0, 1, np.abs(D))
        shaky = ((np.abs(D) <= a * np.sum(aw, **kd)) & (np.sum(aw, **kd) > 0)) \
            * np.ones(w.shape, bool)
    live = D != 0
    Dz = np.where(live, np.abs(D), 1.0)
    dgrp = d if ax is None else np.expand_dims(d, ax)
    value = np.where(live, errS / Dz + np.abs(S) / Dz * (relD + 2), 0.0)
    G = np.where(live, dgrp / Dz, 0.0) * np.ones_like(w)
    rel = 3 + relD * np.ones_like(w)
    wg = G * (tce + ace * rel)
    if kind != "count":
        wg = wg + np.where(live, dgrp / Dz ** 2 * (errS + np.abs(S) * (2 * relD + 3)), 0.0)
    value = value.reshape(()) if ax is None else np.squeeze(value, ax)
    return value, G, rel, wg, shaky


def _measured(scale, shaky, got):
    """The scale, and TF's own magnitude where the group's D is shaky."""
    if not np.any(shaky):
        return scale
    return np.where(shaky, np.maximum(scale, np.abs(fin(got))), scale)


def _mode(o):
    """The reduction branch TF takes (the scale model needs it; the oracle is TF)."""
    from cyloss.seq2seq import _flags
    return _flags(o.get("average_across_timesteps", True), o.get("average_across_batch", True),
                  o.get("sum_over_timesteps", False), o.get("sum_over_batch", False))


def scale_sequence_loss(case, ref, dy):
    x = np.asarray(case.args["logits"], np.float64)
    lab = np.asarray(case.args["targets"])
    w = fin(case.args["weights"])
    ce, tce, bps, bpm = sparse_xent_terms(x, lab)
    ce = fin(ce)
    kind, ax = _mode(case.options)
    raw = np.asarray(case.args["weights"])      # (TF's CPU reads denormals as 0)
    raw = np.where(np.abs(raw) < np.finfo(raw.dtype).tiny, 0, raw)
    value, G, rel, wg, shaky = _group_scale(ce, tce, w, dy, ax, kind, raw=raw)
    f = (G * np.abs(w))[..., None]
    per_group = shaky.any() if ax is None else shaky.any(axis=ax)
    return {"value": _measured(value, per_group, ref["value"]),
            "logits": _measured(f * (bps + bpm * rel[..., None]), shaky[..., None],
                                ref["logits"]),
            "weights": _measured(wg, shaky, ref["weights"]) if "weights" in ref else wg}


def _stacked(v):
    return np.asarray(v) if not isinstance(v, list) else np.stack([np.asarray(s) for s in v])


def _legacy_scale(case, dy, batch, ref):
    x = _stacked(case.args["logits"]).astype(np.float64)      # [T, B, C]
    lab = _stacked(case.args["targets"])
    w0 = fin(_stacked(case.args["weights"]))                   # [T, B], or [T(, 1)]
    w = np.broadcast_to(w0.reshape(x.shape[0], -1), x.shape[:2])
    x, lab, w = np.swapaxes(x, 0, 1), lab.T, w.T                # [B, T, ...]
    b = x.shape[0]
    ce, tce, bps, bpm = sparse_xent_terms(x, lab)
    ce = fin(ce)
    dy = np.asarray(dy, np.float64)
    div = max(b, 1) if batch == "mean" else 1
    up = dy if batch is None else np.full(b, abs(float(dy)) / div)
    eps_g = float(np.float32(1e-12)) if x.dtype == np.float32 else 1e-12
    avg = case.options.get("average_across_timesteps", True)
    value, G, rel, wg, shaky = _group_scale(ce, tce, w, up, 1, "guard" if avg else "count",
                                            eps_g if avg else 0.0)
    if not avg:         # plain sums: D = 1
        G = np.abs(up)[:, None] * np.ones_like(w)
        value = np.sum(np.abs(w) * tce + acc(w.shape[1]) * np.abs(ce * w), axis=1)
        rel = 3 * np.ones_like(w)
        wg = G * (tce + np.abs(ce) * rel)
    if batch is not None:
        lp = np.abs(fin(np.sum(ce * w, axis=1) / (np.sum(w, axis=1) + (eps_g if avg else 0))
                        if avg else np.sum(ce * w, axis=1)))
        div = b if batch == "mean" else 1
        value = np.asarray((np.sum(value) + acc(b) * np.sum(lp)) / max(div, 1) + np.sum(lp)
                           / max(div, 1))
    f = (G * np.abs(w))[..., None]
    gx = np.swapaxes(f * (bps + bpm * rel[..., None]), 0, 1)
    per_ex = shaky.any(axis=1)              # (an example's D within its rounding of 0)
    if batch is None:
        value = _measured(value, per_ex, ref["value"])
    elif per_ex.any():                      # (such an example may be all of the total)
        value = np.maximum(value, np.abs(fin(ref["value"])))
    gx = _measured(gx, shaky.T[..., None], ref["logits"].reshape(gx.shape))
    if w0.shape == wg.T.shape:
        wg = wg.T
        if "weights" in ref:
            wg = _measured(wg, shaky.T, ref["weights"].reshape(wg.shape))
    else:
        wg = np.sum(wg, axis=0).reshape(w0.shape)
    return {"value": value, "logits": gx, "weights": wg}


def scale_by_example(case, ref, dy):
    return _legacy_scale(case, dy, None, ref)


def scale_legacy_sequence_loss(case, ref, dy):
    return _legacy_scale(case, dy, "mean" if case.options.get("average_across_batch", True)
                         else "sum", ref)


TOL = {
    "value": Tol(8, "per position the sparse xent's terms (Eigen's float32 exp/log ~2 ulp, "
                    "a C-term sum in another order: acc(C)) times |w|; group sums of n "
                    "terms in another order (acc(n)); D's relative error (weight sums: "
                    "acc(n) * sum|w| / |D|; counts exact) and one division"),
    "logits": Tol(8, "softmax - onehot (as nn.sparse_softmax_cross_entropy_with_logits) times "
                     "the upstream dy * w / D: cyloss forms (w / D) * bp * dy, TF "
                     "(dy / D * w) * bp (three roundings each, plus D's error)"),
    "weights": Tol(8, "ce * dy / D (ce's terms, three roundings, D's error) and for the "
                      "averaging branches -S dy / D^2 (S's absolute error from its n-term "
                      "sum, D's error twice)"),
}


# ---------------------------------------------------------- fixed cases ----

SEED_X = f64([[[1, 2], [1, 2]], [[1, 2], [1, 2]]])
SEED_T = np.array([[0, 1], [1, 1]], np.int32)
SEED_W = np.ones((2, 2))


def _table_case():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 4, 5))
    t = rng.integers(0, 5, (3, 4))
    w = f64([[1, 1, 1, 0], [2, 2, 0, 0], [0, 0, 0, 0]])
    return x, t, w


def _flags(s):
    return dict(zip(ss.FLAGS, (ch == "T" for ch in s)))


def _seq_examples():
    x, t, w = _table_case()
    out = [ex("TF_SEMANTICS sec. 3.1 seed (0.5632616875182228)",
              {"logits": SEED_X, "targets": SEED_T, "weights": SEED_W}),
           ex("seed, float32", {"logits": SEED_X.astype(np.float32), "targets": SEED_T,
                                "weights": SEED_W.astype(np.float32)})]
    for fl in ("TTFF", "TFFF", "FTFF", "FFTT", "FFTF", "FFFT", "FFFF", "TFFT", "FTTF"):
        out.append(ex(f"sec. 3.1 table, flags {fl}", {"logits": x, "targets": t, "weights": w},
                      _flags(fl)))
    xs = f32([[[1, np.nan, 0], [np.inf, 0, 1], [-np.inf, 0, 1], [0, -np.inf, 1]],
              [[1, 2, 3], [-np.inf] * 3, [1, 3e38, -3e38], [0, 0, 0]]])
    ts = np.array([[0, 0, 0, 1], [1, 2, 2, 0]], np.int64)
    ws = f32([[0, 0, 0, 1], [0, 0, 0, 0]])
    for fl in ("TTFF", "FFFF", "FTFF", "TFFF", "FFTT"):
        out.append(ex(f"zero weights on NaN / +inf / all -inf / -inf-label / overflow rows "
                      f"({fl}): ce * 0 = NaN as in TF", {"logits": xs, "targets": ts,
                                                          "weights": ws}, _flags(fl)))
    out += [
        ex("all weights zero: div_no_nan gives 0 and zero gradients",
           {"logits": x, "targets": t, "weights": np.zeros((3, 4))}),
        ex("softmax_loss_function = cyloss.nn.sparse_softmax_cross_entropy_with_logits",
           {"logits": x, "targets": t, "weights": w},
           {"softmax_loss_function": cyloss.nn.sparse_softmax_cross_entropy_with_logits,
            "average_across_batch": False}),
        ex("B = 0", {"logits": np.zeros((0, 3, 4), np.float32),
                     "targets": np.zeros((0, 3), np.int32), "weights": np.zeros((0, 3),
                                                                                np.float32)}),
        ex("T = 0, per-time [0]", {"logits": np.zeros((2, 0, 4)), "targets": np.zeros(
            (2, 0), np.int64), "weights": np.zeros((2, 0))}, _flags("FTFF")),
        ex("padding, [16, 40, 300] float32 (multi-threaded, skipped rows)",
           {"logits": (np.sin(np.arange(16 * 40 * 300, dtype=np.float32)) * 5).reshape(
               16, 40, 300),
            "targets": (np.arange(640, dtype=np.int32) * 7 % 300).reshape(16, 40),
            "weights": (np.arange(40)[None, :] < np.arange(16)[:, None] * 3).astype(
                np.float32)}),
    ]
    return out


def _seq_errors():
    g = {"logits": np.zeros((2, 3, 4), np.float32), "targets": np.zeros((2, 3), np.int32),
         "weights": np.ones((2, 3), np.float32)}
    bad_rank = {**g, "logits": np.zeros((6, 4), np.float32),
                "targets": np.zeros(6, np.int32), "weights": np.ones(6, np.float32)}
    out = [
        err("logits rank 2 (checked first)", bad_rank, "ValueError", "ValueError",
            "Logits must be [batch, time, classes]", mention=("Logits",)),
        err("targets rank 1", {**g, "targets": np.zeros(6, np.int32),
                               "weights": np.ones(6, np.float32)},
            "ValueError", "ValueError", "Targets rank, before the weights'",
            mention=("Targets",)),
        err("weights rank 1", {**g, "weights": np.ones(6, np.float32)}, "ValueError",
            "ValueError", "Weights rank", mention=("Weights",)),
        err("avg_t and sum_t", g, "ValueError", "ValueError", "static flag check",
            _flags("TTTF"), mention=("average_across_timesteps",)),
        err("avg_b and sum_b (after the time check)", g, "ValueError", "ValueError",
            "static flag check", _flags("FTFT"), mention=("average_across_batch",)),
        err("rank error before flag error", bad_rank, "ValueError", "ValueError",
            "rank checks come first", _flags("TTTT"), mention=("Logits",)),
        err("weights float64 for float32 logits", {**g, "weights": np.ones((2, 3))},
            "InvalidArgumentError", "TypeError",
            "dtype: TF's Mul rejects float32 * float64 (InvalidArgumentError); cyloss "
            "TypeError for dtypes"),
        err("float targets", {**g, "targets": np.zeros((2, 3), np.float32)},
            "InvalidArgumentError", "TypeError", "sparse xent rejects Tlabels=float"),
        err("label out of range", {**g, "targets": np.array([[0, 1, 4], [0, 0, 0]],
                                                            np.int32)},
            "InvalidArgumentError", "InvalidArgumentError", "label == C", mention=("4",)),
        err("targets of another size", {**g, "targets": np.zeros((2, 4), np.int32)},
            "ValueError", "ValueError",
            "TF: the sparse xent's static check of labels [8] vs logits [6, 4]",
            mention=("(2, 4)", "(2, 3, 4)")),
        err("weights of another size", {**g, "weights": np.ones((3, 3), np.float32)},
            "InvalidArgumentError", "InvalidArgumentError",
            "TF: Mul of [6] and [9] at run time; cyloss names both shapes",
            mention=("(3, 3)", "(2, 3, 4)")),
        err("C = 0", {**g, "logits": np.zeros((2, 3, 0), np.float32)},
            "InvalidArgumentError", "InvalidArgumentError",
            "TF's reshape to [-1, 0] of an empty tensor fails"),
    ]
    return out


_add(Entry(
    key="seq2seq.sequence_loss", fn=cyloss.seq2seq.sequence_loss,
    tf_fn=lambda tf: _TF1Seq2Seq.sequence_loss, call_tf=tf_sequence_loss,
    wrt=("logits", "weights"), cases=ss.sequence_loss_cases, scale=scale_sequence_loss,
    tol=TOL, examples=_seq_examples(), errors=_seq_errors(),
    budget={"quick": 150, "full": 1500},
    notes="oracle composed from TF 2.21 primitives as TF_SEMANTICS sec. 3.1/3.3 writes it"))


# ---------------------------------------------------------------- legacy ---

def _steps(a):
    return [a[i] for i in range(a.shape[0])]


def _legacy_examples(name):
    xl = _steps(np.swapaxes(SEED_X, 0, 1))
    tl = _steps(SEED_T.T.copy())
    wl = _steps(SEED_W.T.copy())
    x, t, w = _table_case()
    xs, tst, wst = np.swapaxes(x, 0, 1).copy(), t.T.copy(), w.T.copy()
    out = [
        ex("TF_SEMANTICS sec. 3.2 seed, per-step lists",
           {"logits": xl, "targets": tl, "weights": wl}, dtype="float64"),
        ex("sec. 3.1 table data as lists, averaged", {"logits": _steps(xs), "targets":
                                                      _steps(tst), "weights": _steps(wst)},
           dtype="float64"),
        ex("not averaged over time", {"logits": xs, "targets": tst, "weights": wst},
           {"average_across_timesteps": False}),
        ex("zero weight sum: the 1e-12 guard (huge weights gradient)",
           {"logits": xs.astype(np.float32), "targets": tst, "weights":
            np.zeros_like(wst, np.float32)}),
        ex("scalar weight per step", {"logits": _steps(xs), "targets": _steps(tst),
                                      "weights": [1.0, 0.5, 2.0, 0.0]}, dtype="float64"),
        ex("cyloss softmax_loss_function", {"logits": xs, "targets": tst, "weights": wst},
           {"softmax_loss_function": cyloss.nn.sparse_softmax_cross_entropy_with_logits}),
        ex("one step", {"logits": xs[:1], "targets": tst[:1], "weights": wst[:1]}),
    ]
    if name == "sequence_loss":
        out.append(ex("batch sum (average_across_batch=False)",
                      {"logits": xs, "targets": tst, "weights": wst},
                      {"average_across_batch": False}))
    return out


def _legacy_errors():
    x = [np.zeros((2, 3), np.float32)] * 2
    t = [np.zeros(2, np.int32)] * 2
    w = [np.ones(2, np.float32)] * 2
    return [
        err("fewer targets than logits", {"logits": x, "targets": t[:1], "weights": w},
            "ValueError", "ValueError", "Lengths of logits, weights, and targets",
            mention=("Lengths of logits, weights, and targets must be the same 2, 2, 1.",)),
        err("more weights than logits", {"logits": x, "targets": t, "weights": w * 2},
            "ValueError", "ValueError", "length check", mention=("2, 4, 2",)),
        err("no steps", {"logits": [], "targets": [], "weights": []}, "ValueError",
            "ValueError", "TF's add_n of an empty list"),
        err("label out of range", {"logits": x, "targets": [np.array([0, 3], np.int32)] * 2,
                                   "weights": w},
            "InvalidArgumentError", "InvalidArgumentError", "label == C", mention=("3",)),
        err("weights float64 for float32 logits", {"logits": x, "targets": t,
                                                   "weights": [np.ones(2)] * 2},
            "InvalidArgumentError", "TypeError", "TF's Mul rejects the dtypes; cyloss "
                                                 "TypeError"),
        err("targets of another batch size", {"logits": x, "targets": [np.zeros(3, np.int32)]
                                              * 2, "weights": w},
            "ValueError", "ValueError", "sparse xent static shape check"),
    ]


for _name, _call, _scale, _tf in (
        ("sequence_loss_by_example", tf_by_example, scale_by_example,
         _TF1Legacy.sequence_loss_by_example),
        ("sequence_loss", tf_legacy_sequence_loss, scale_legacy_sequence_loss,
         _TF1Legacy.sequence_loss)):
    _add(Entry(
        key=f"legacy_seq2seq.{_name}", fn=getattr(cyloss.legacy_seq2seq, _name),
        tf_fn=lambda tf, _f=_tf: _f, call_tf=_call,
        wrt=("logits", "weights"), cases=ss.legacy_cases, scale=_scale,
        tol=dict(TOL, value=Tol(8, TOL["value"].reason + "; sequence_loss adds a B-term sum "
                                                        "(acc(B)) and the division by B")),
        examples=_legacy_examples(_name), errors=_legacy_errors(),
        budget={"quick": 100, "full": 1000},
        notes="oracle composed from TF 2.21 primitives as TF_SEMANTICS sec. 3.2/3.3 writes "
              "it; lists given stacked are unstacked by the oracle"))
