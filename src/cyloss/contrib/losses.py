"""TF 1.x tf.contrib.losses: the losses before tf.losses, with their own
argument order and reduction (TF_SEMANTICS.md §2.6).

Differences from cyloss.losses (tf.compat.v1.losses):

* predictions / logits come first: `absolute_difference(predictions, labels,
  weights)`, `sigmoid_cross_entropy(logits, multi_class_labels, ...)`;
* `weights` is also accepted under its older name `weight` (not both); the
  oldest names `sum_of_squares`, `sum_of_pairwise_squares` and `log` take
  `(predictions, targets, weight=1.0, ...)` and accept `weights` likewise.
  The weights' gradient is returned under the name the caller used;
* one reduction, "the sum over the present elements": a weight tensor with a
  trailing dim of 1 drops it, then the weights align with the LEADING dims
  of the losses (`[B]` weights scale whole examples of `[B, D]` losses) and

      loss = sum(losses * weights) / n,   n = #nonzero(weights) * (size of
             the losses' dims past the weights'),  or size(losses) for a
             nonzero scalar weight;  0 when n == 0 (even for NaN losses),

  computed in TF 1's order: the losses summed over the dims past the
  weights' first, then times the weights, then summed (an overflowing sum
  stays inf under a small weight; a zero loss meets an infinite weight only
  through its row's sum);

  n counts the weights' own entries: weights with a leading dim of 1 (e.g.
  `[1]`) are broadcast in the sum but counted once, as in TF 1;
* `mean_pairwise_squared_error` / `sum_of_pairwise_squares` normalize by n
  (twice the per-example population variance of the differences), not n - 1,
  and weight the per-example terms with the weights as TF 1's code did;
* `hinge_loss(logits, labels)` returns the unreduced, unweighted losses and
  is not added to the collection; every other loss adds its result to the
  'losses' collection of the active `cyloss.losses.collection()` block.

Precision and gradients are as in cyloss.losses: float64 stays float64,
gradients come back in their inputs' dtypes. softmax_cross_entropy's labels
get no gradient (TF 1 stopped it); sigmoid_cross_entropy's do.
"""
import numpy as np

from .. import _checks as ck
from .. import losses as _core
from .._autodiff import differentiable
from .._collections import (LOSSES, add_loss, get_losses,  # noqa: F401 (re-exported)
                            get_regularization_losses, record, get_total_loss as _core_total)
from .._errors import InvalidArgumentError
from .._reduction import Reduction, flushed, weighted

__all__ = [
    "absolute_difference", "add_loss", "compute_weighted_loss", "cosine_distance",
    "get_losses", "get_regularization_losses", "get_total_loss", "hinge_loss", "log_loss",
    "log", "mean_pairwise_squared_error", "mean_squared_error", "sigmoid_cross_entropy",
    "softmax_cross_entropy", "sparse_softmax_cross_entropy", "sum_of_pairwise_squares",
    "sum_of_squares",
]


_ONE = _core.ONE


def _alias(primary, alias, primary_name, alias_name):
    """(weights value, the argument name it came in)."""
    if alias is None:
        return primary, primary_name
    if primary is not _ONE:
        raise ValueError(f"Cannot specify both '{primary_name}' and '{alias_name}'.")
    return alias, alias_name


def _new(weights, weight):
    return _alias(weights, weight, "weights", "weight")


def _old(weight, weights):
    return _alias(weight, weights, "weight", "weights")


def contrib_reduce(ctx, kind, a, b, weights, wname, p1, names, dtypes):
    """TF 1 contrib's compute_weighted_loss of the pointwise loss `kind` of
    (a, b): sum(L * weights aligned to the leading dims) / n (0 if n == 0).
    `wname`: the public name of the weights (gradient key); names / dtypes:
    the public names of a and b and their gradient dtypes."""
    dt = b.dtype
    if weights is None:
        raise ValueError(f"`{wname}` must not be None (use 1.0 for unweighted losses)")
    wa = _core._real(weights, wname)
    wq = wa.reshape(wa.shape[:-1]) if wa.ndim > 1 and wa.shape[-1] == 1 else wa
    k = wq.ndim
    if k > b.ndim or any(ws not in (1, ls) for ws, ls in zip(wq.shape, b.shape)):
        raise ValueError(f"{wname} of shape {wa.shape} do not align with the leading "
                         f"dimensions of the losses of shape {b.shape}")
    wc = flushed(wq.astype(dt, copy=False))     # float32 in TF: tiny weights are 0
    if k == 0:
        n = b.size if wc != 0 else 0
    else:
        n = int(np.count_nonzero(wc)) * int(np.prod(b.shape[k:]))
    wr = wc.reshape(wc.shape + (1,) * (b.ndim - k))
    wdt = _core.grad_dtype(weights, dt)
    wanted = [x for x in names if x is not None and dtypes.get(x) is not None and ctx.wants(x)]
    if wdt is not None and ctx.wants(wname):
        wanted.append("weights")
    sub = _core._ctx(ctx.grad, wanted)
    # n == 0: the value is 0 and the safe division passes 0 upstream, times
    # each local gradient (NaN where the losses or their derivatives are), as TF
    value, bwd = weighted(sub, kind, _core.contiguous(a), _core.contiguous(b),
                          _core.contiguous(wr), Reduction.SUM_BY_NONZERO_WEIGHTS, p1, names,
                          count=n, lead=k)
    if not ctx.grad:
        return value, None
    out_dtypes = dict(dtypes, weights=wdt)

    def backward(dy):
        with np.errstate(invalid="ignore"):             # 0 * inf is TF's NaN too
            g = bwd(dy)
        out = {}
        for key, v in g.items():
            if key == "weights":
                out[wname] = np.asarray(v).reshape(wa.shape).astype(wdt, copy=False)
            else:
                out[key] = np.asarray(v).astype(out_dtypes[key], copy=False)
        return out
    return value, backward


def _pointwise(ctx, kind, labels, predictions, weights, wname, scope, p1, names, default):
    _core._given(predictions, names[1])
    _core._given(labels, names[0])
    l, p, dtypes = _core._pair(labels, predictions, names)
    value, bwd = contrib_reduce(ctx, kind, l, p, weights, wname, p1, names, dtypes)
    record(value, LOSSES, scope, default, tf_dtype=np.float32)   # contrib: to_float first
    return value, bwd


def _rows_reduced(ctx, rows, row_bwd, weights, wname, dtype):
    """contrib_reduce of per-row losses, chained to the logits."""
    want = row_bwd is not None
    sub = _core._ctx(ctx.grad, (["losses"] if want else [])
                     + ([wname] if ctx.wants(wname) else []))
    value, bwd = contrib_reduce(sub, "identity", rows, rows, weights, wname, 0.0,
                                (None, "losses"), {"losses": dtype})
    if not ctx.grad:
        return value, None

    def backward(dy):
        g = bwd(dy)
        out = {}
        if wname in g:
            out[wname] = g[wname]
        if want:
            out["logits"] = row_bwd(_core.contiguous(g["losses"], dtype))["logits"]
        return out
    return value, backward


# ----------------------------------------------------------------- losses --

@differentiable("losses", "weights")
def compute_weighted_loss(ctx, losses, weights=_ONE, scope=None, weight=None):
    """sum(losses * weights) / (number of present elements), the weights
    aligned to the leading dims of `losses` (see the module docstring).
    Non-float32/64 losses are computed in float32 and cast back, as TF 1."""
    w, wname = _new(weights, weight)
    L0 = _core._real(losses, "losses")
    dt = _core._compute_dtype(L0)
    L = L0.astype(dt, copy=False)
    value, bwd = contrib_reduce(ctx, "identity", L, L, w, wname, 0.0, (None, "losses"),
                                {"losses": _core.grad_dtype(losses, dt)})
    if L0.dtype != dt:
        value = value.astype(L0.dtype)
    record(value, LOSSES, scope, "weighted_loss", tf_dtype=_core.tf_dtype_of(losses))
    return value, bwd


@differentiable("predictions", "labels", "weights")
def absolute_difference(ctx, predictions, labels=None, weights=_ONE, scope=None, weight=None):
    """|predictions - labels|, contrib-reduced."""
    w, wname = _new(weights, weight)
    return _pointwise(ctx, "absolute_difference", labels, predictions, w, wname, scope, 0.0,
                      ("labels", "predictions"), "absolute_difference")


@differentiable("predictions", "labels", "weights")
def mean_squared_error(ctx, predictions, labels=None, weights=_ONE, scope=None, weight=None):
    """(predictions - labels)^2, contrib-reduced. (p1 = 1: the kernel takes
    the gradient of TF's square(e), dy (e 2), not of squared_difference.)"""
    w, wname = _new(weights, weight)
    return _pointwise(ctx, "squared_difference", labels, predictions, w, wname, scope, 1.0,
                      ("labels", "predictions"), "mean_squared_error")


@differentiable("predictions", "targets", "weight")
def sum_of_squares(ctx, predictions, targets, weight=_ONE, scope=None, weights=None):
    """The oldest name of mean_squared_error: (predictions - targets)^2,
    contrib-reduced (a mean over the present elements despite the name)."""
    w, wname = _old(weight, weights)
    return _pointwise(ctx, "squared_difference", targets, predictions, w, wname, scope, 1.0,
                      ("targets", "predictions"), "sum_of_squares_loss")


@differentiable("predictions", "labels", "weights")
def log_loss(ctx, predictions, labels=None, weights=_ONE, epsilon=1e-7, scope=None,
             weight=None):
    """-z log(p + epsilon) - (1 - z) log(1 - p + epsilon), contrib-reduced."""
    w, wname = _new(weights, weight)
    return _pointwise(ctx, "log_loss", labels, predictions, w, wname, scope, float(epsilon),
                      ("labels", "predictions"), "log_loss")


@differentiable("predictions", "targets", "weight")
def log(ctx, predictions, targets, weight=_ONE, epsilon=1e-7, scope=None, weights=None):
    """The oldest name of log_loss (same formula, contrib-reduced)."""
    w, wname = _old(weight, weights)
    return _pointwise(ctx, "log_loss", targets, predictions, w, wname, scope, float(epsilon),
                      ("targets", "predictions"), "log_loss")


@differentiable("logits", "labels")
def hinge_loss(ctx, logits, labels=None, scope=None):
    """relu(1 - (2 labels - 1) logits), elementwise: neither weighted nor
    reduced, and not added to any collection (as TF 1 contrib)."""
    z, x = _core._logits_and_labels(labels, logits, ("labels", "logits"))
    dtypes = {"labels": _core.grad_dtype(labels, x.dtype), "logits": x.dtype}
    sub = _core._ctx(ctx.grad, [n for n in ("labels", "logits") if ctx.wants(n)])
    value, bwd = _core.weighted_loss(sub, "hinge", z, x, 1.0, Reduction.NONE, 0.0,
                                     ("labels", "logits"), dtypes)
    record(value, None, scope, "hinge_loss")
    return value, bwd


@differentiable("predictions", "labels", "weights")
def cosine_distance(ctx, predictions, labels=None, axis=None, weights=_ONE, scope=None,
                    dim=None, weight=None):
    """1 - sum(predictions * labels, axis) (the axis is dropped), contrib-
    reduced; the inputs are assumed unit-normalized. `dim` is the older name
    of `axis`."""
    if dim is not None:
        if axis is not None:
            raise ValueError("Cannot specify both 'axis' and 'dim'")
        axis = dim
    if axis is None:
        raise ValueError("`axis` and `dim` cannot both be None.")
    w, wname = _new(weights, weight)
    _core._given(predictions, "predictions")
    _core._given(labels, "labels")
    l, p, dtypes = _core._pair(labels, predictions, ("labels", "predictions"))
    losses, chain, want = _core.radial(ctx, l, p, dtypes, axis, keepdims=False)
    sub = _core._ctx(ctx.grad, (["losses"] if want else [])
                     + ([wname] if ctx.wants(wname) else []))
    value, bwd = contrib_reduce(sub, "identity", losses, losses, w, wname, 0.0,
                                (None, "losses"), {"losses": p.dtype})
    record(value, LOSSES, scope, "cosine_distance_loss", tf_dtype=np.float32)
    if not ctx.grad:
        return value, None

    def backward(dy):
        g = bwd(dy)
        out = {wname: g[wname]} if wname in g else {}
        if "losses" in g:
            out.update(chain(g["losses"]))
        return out
    return value, backward


def _pairwise(ctx, labels, predictions, weights, wname, scope, names, default):
    _core._given(predictions, names[1])
    _core._given(labels, names[0])
    if weights is None:
        raise ValueError(f"`{wname}` must not be None (use 1.0 for unweighted losses)")
    l, p, dtypes = _core._pair(labels, predictions, names)
    wa = _core._real(weights, wname)
    dtypes[wname] = _core.grad_dtype(weights, p.dtype)
    value, bwd = _core.pairwise(ctx, l, p, wa.astype(p.dtype, copy=False), dtypes, False,
                                (names[0], names[1], wname))
    record(value, LOSSES, scope, default, tf_dtype=np.float32)
    return value, bwd


@differentiable("predictions", "labels", "weights")
def mean_pairwise_squared_error(ctx, predictions, labels=None, weights=_ONE, scope=None,
                                weight=None):
    """TF 1 contrib's pairwise loss: per example i of the differences
    d = predictions - labels, t_i = 2 sum_j d_ij^2 / n_i - 2 (sum_j d_ij)^2 /
    n_i^2 (n_i: present elements; twice the population variance of d_i), then
    sum_i t_i weighted by `weights` (scalar or `[B]`; other shapes broadcast
    against the `[B]` terms as TF 1's code did). 0 when nothing is present."""
    w, wname = _new(weights, weight)
    return _pairwise(ctx, labels, predictions, w, wname, scope, ("labels", "predictions"),
                     "mean_pairwise_squared_error")


@differentiable("predictions", "targets", "weight")
def sum_of_pairwise_squares(ctx, predictions, targets, weight=_ONE, scope=None, weights=None):
    """The oldest name of mean_pairwise_squared_error (same normalization by
    n, not n - 1)."""
    w, wname = _old(weight, weights)
    return _pairwise(ctx, targets, predictions, w, wname, scope, ("targets", "predictions"),
                     "sum_of_pairwise_squares_loss")


@differentiable("logits", "multi_class_labels", "weights")
def sigmoid_cross_entropy(ctx, logits, multi_class_labels, weights=_ONE, label_smoothing=0,
                          scope=None, weight=None):
    """Elementwise sigmoid cross-entropy, labels smoothed towards 1/2 when
    `label_smoothing` > 0, contrib-reduced. Labels are differentiable."""
    w, wname = _new(weights, weight)
    names = ("multi_class_labels", "logits")
    z, x = _core._logits_and_labels(multi_class_labels, logits, names)
    ls = float(label_smoothing) if label_smoothing > 0 else 0.0
    dtypes = {names[0]: _core.grad_dtype(multi_class_labels, x.dtype), names[1]: x.dtype}
    value, bwd = contrib_reduce(ctx, "sigmoid", z, x, w, wname, ls, names, dtypes)
    record(value, LOSSES, scope, "sigmoid_cross_entropy_loss", tf_dtype=_core.tf_dtype_of(logits))
    return value, bwd


@differentiable("logits", "weights")
def softmax_cross_entropy(ctx, logits, onehot_labels, weights=_ONE, label_smoothing=0,
                          scope=None, weight=None):
    """Softmax cross-entropy of [batch, num_classes] logits, labels smoothed
    towards 1/num_classes (num_classes = logits.shape[1], as TF 1) when
    `label_smoothing` > 0, contrib-reduced. The labels get no gradient."""
    w, wname = _new(weights, weight)
    y, x = _core._logits_and_labels(onehot_labels, logits, ("onehot_labels", "logits"))
    if label_smoothing > 0:
        if x.ndim < 2:
            raise ValueError(f"label smoothing reads num_classes from dim 1 of the labels, "
                             f"which have shape {y.shape}")
        y = _core.smooth_onehot(y, float(label_smoothing), x.shape[1])
    rows, row_bwd = _core._dense_rows(ctx, y, x)
    value, backward = _rows_reduced(ctx, rows, row_bwd, w, wname, x.dtype)
    record(value, LOSSES, scope, "softmax_cross_entropy_loss", tf_dtype=_core.tf_dtype_of(logits))
    return value, backward


@differentiable("logits", "weights")
def sparse_softmax_cross_entropy(ctx, logits, labels, weights=_ONE, scope=None, weight=None):
    """Sparse softmax cross-entropy of [batch, num_classes] logits; labels
    [batch] or [batch, 1] (reshaped to [batch]), contrib-reduced."""
    w, wname = _new(weights, weight)
    _core._given(logits, "logits")
    _core._given(labels, "labels")
    lab = ck.native(np.asarray(labels))
    if lab.ndim == 0:
        raise ValueError("`labels` must have a batch dimension, got a scalar")
    if lab.size != lab.shape[0]:
        raise InvalidArgumentError(f"Input to reshape is a tensor with {lab.size} values, "
                                   f"but the requested shape has {lab.shape[0]} (labels of "
                                   f"shape {lab.shape})")
    lab = lab.reshape(lab.shape[0])
    x = ck.floating(logits, "logits")
    rows, row_bwd = _core.sparse_rows(ctx, lab, x)
    value, backward = _rows_reduced(ctx, rows, row_bwd, w, wname, x.dtype)
    record(value, LOSSES, scope, "sparse_softmax_cross_entropy_loss", tf_dtype=_core.tf_dtype_of(logits))
    return value, backward


# ------------------------------------------------------------ collections --

def get_total_loss(add_regularization_losses=True, name="total_loss"):
    """The sum of the 'losses' collection (plus 'regularization_losses' when
    `add_regularization_losses`) of the active block, with TF's add_n errors
    (ValueError when empty, which is always the case outside a block)."""
    return _core_total(add_regularization_losses, name)
