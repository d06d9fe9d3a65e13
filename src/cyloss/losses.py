"""tf.compat.v1.losses: weighted, reduced losses with TF's names, argument
order, defaults and arithmetic (TF_SEMANTICS.md §2.1-2.5).

Every loss computes a per-element (or per-row) loss, multiplies it by
`weights` and reduces it with `reduction` (default
Reduction.SUM_BY_NONZERO_WEIGHTS):

* `weights` is a scalar or has the losses' rank with each dim 1 or equal to
  the losses' (otherwise ValueError, as TF: a `[B]` weight for `[B, D]`
  losses must be written `[B, 1]`);
* the denominators are TF's: the element count, the count of nonzero
  broadcast weights, or the signed sum of the broadcast weights (MEAN),
  through div_no_nan: a zero denominator gives 0, even for NaN losses;
* gradients flow to the predictions / logits, to the labels wherever TF lets
  them (not for softmax_cross_entropy, whose labels TF stops), and to
  floating-point weights; each gradient has its input's dtype.

Precision: float32 predictions / logits are computed in float32, float64
in float64 (TF rounds everything through float32 and even returns float32
for float64 inputs; cyloss does not narrow). Labels and weights are cast to
that dtype, integer or float16 predictions are computed in float32 (as TF).

Inside `with cyloss.losses.collection():` each result is also added to
`loss_collection` (see cyloss._collections); elsewhere nothing is kept.
"""
import numpy as np

from . import _checks as ck
from . import nn as _nn
from ._autodiff import Ctx, differentiable
# the collection functions are re-exported (see __all__); LossCollection is
# the type `collection()` yields
from ._collections import (LOSSES, LossCollection, add_loss, collection, get_losses,  # noqa: F401
                           get_regularization_loss, get_regularization_losses,
                           get_total_loss, record)
from ._errors import InvalidArgumentError
from ._reduction import Reduction, check_weights, flushed, weighted

__all__ = [
    "Reduction", "compute_weighted_loss", "absolute_difference", "cosine_distance",
    "hinge_loss", "huber_loss", "log_loss", "mean_pairwise_squared_error",
    "mean_squared_error", "sigmoid_cross_entropy", "softmax_cross_entropy",
    "sparse_softmax_cross_entropy", "add_loss", "get_losses", "get_regularization_loss",
    "get_regularization_losses", "get_total_loss", "collection",
]

_F32 = np.dtype(np.float32)
_SBNZ = Reduction.SUM_BY_NONZERO_WEIGHTS


class _Unset(float):
    """The default `weights` 1.0. It equals 1.0 but can be told apart from
    an explicit 1.0: as in TF, where the default is no tensor a gradient
    tape watches, a defaulted weight gets no gradient."""
    __slots__ = ()

    def __repr__(self):
        return "1.0"


ONE = _Unset(1.0)


# ------------------------------------------------------------------ inputs --

def contiguous(a, dtype=None):
    """a as a C-contiguous array (a copy only when needed); unlike
    np.ascontiguousarray, 0-d stays 0-d."""
    return np.asarray(a, dtype=dtype, order="C")


def _given(x, name):
    if x is None:
        raise ValueError(f"Argument `{name}` must not be None.")
    return x


def _real(x, name):
    """x as a native-order real array (TypeError for anything else)."""
    a = ck.native(np.asarray(_given(x, name)))
    if a.dtype.kind not in "biuf":
        raise TypeError(f"`{name}` must be a real number array, got {a.dtype}")
    return a


def _compute_dtype(a):
    """The dtype a loss of predictions `a` is computed in: float32 / float64
    as given, float32 for what TF casts to float32 (ints, bools, float16)."""
    return a.dtype if a.dtype in ck.FLOATS else _F32


def tf_dtype_of(x):
    """The dtype TF's result has when cyloss' keeps its input's: float32 for a
    Python value (TF makes a float32 tensor of it; cyloss computes it as
    NumPy does, in float64), None (the value's own dtype) otherwise. Recorded
    with the loss so that get_total_loss raises where TF's add_n would."""
    return _F32 if isinstance(x, (list, tuple, float, int)) else None


def grad_dtype(x, compute):
    """The dtype of the gradient w.r.t. input `x`, or None where TF gives none
    (integer and boolean inputs, the default weight). Python floats, lists
    and NumPy scalars take the compute dtype (TF converts them to a tensor of
    that dtype); arrays keep their own floating dtype."""
    if x is ONE or isinstance(x, (bool, np.bool_)):
        return None
    weak = isinstance(x, (list, tuple, float, int, np.generic))
    a = np.asarray(x)
    if a.dtype.kind != "f":
        return None
    return np.dtype(compute) if weak else a.dtype


def _same_shape(a, b):
    if a.shape != b.shape:
        raise ValueError(f"Shapes {a.shape} and {b.shape} are incompatible")


def _weights_array(weights, shape, dtype):
    if weights is None:
        raise ValueError("`weights` must not be None (use 1.0 for unweighted losses)")
    return check_weights(weights, shape, dtype)


def _ctx(grad, names):
    return Ctx(grad, frozenset(names))


def _cast_grads(grads, dtypes):
    return {k: np.asarray(g).astype(dtypes[k], copy=False) for k, g in grads.items()}


def weighted_loss(ctx, kind, a, b, weights, reduction, p1, names, dtypes):
    """reduce(kind(a, b) * weights) with TF's core v1 reduction.

    a, b: arrays of one shape (a is b for kind "identity"); names: the public
    names of a and b (None: not an input); dtypes: {name: gradient dtype or
    None} for those and "weights" is added here. Returns (value, backward)
    with gradients cast to their inputs' dtypes."""
    Reduction.validate(reduction)
    dt = b.dtype
    w = _weights_array(weights, b.shape, dt)
    dtypes = dict(dtypes, weights=grad_dtype(weights, dt))
    sub = _ctx(ctx.grad, [n for n in (*names, "weights")
                          if n is not None and dtypes.get(n) is not None and ctx.wants(n)])
    a, b = contiguous(a), contiguous(b)
    value, bwd = weighted(sub, kind, a, b, w, reduction, p1, names)
    if not ctx.grad:
        return value, None
    return value, lambda dy: _cast_grads(bwd(dy), dtypes)


def _pair(labels, predictions, names):
    """(labels, predictions) as arrays of the compute dtype, same shape."""
    l0 = _real(labels, names[0])
    p0 = _real(predictions, names[1])
    dt = _compute_dtype(p0)
    p, l = p0.astype(dt, copy=False), l0.astype(dt, copy=False)
    _same_shape(p, l)
    return l, p, {names[0]: grad_dtype(labels, dt), names[1]: grad_dtype(predictions, dt)}


def _pointwise(ctx, kind, labels, predictions, weights, scope, loss_collection, reduction,
               p1, names, default):
    _given(labels, names[0])
    _given(predictions, names[1])
    l, p, dtypes = _pair(labels, predictions, names)
    value, bwd = weighted_loss(ctx, kind, l, p, weights, reduction, p1, names, dtypes)
    record(value, loss_collection, scope, default, tf_dtype=_F32)   # TF: float32 always
    return value, bwd


def _logits_and_labels(labels, logits, names):
    """(labels cast to the logits' dtype, logits) with TF's shape check."""
    _given(labels, names[0])
    _given(logits, names[1])
    x = ck.floating(logits, names[1])
    z = _real(labels, names[0]).astype(x.dtype, copy=False)
    _same_shape(x, z)
    return z, x


def reduce_rows(ctx, losses, row_bwd, weights, reduction, wrt, dtype):
    """Reduce per-row losses computed by an nn kernel and chain the gradient
    to `wrt` (the logits): d wrt = per-row upstream * local gradient."""
    want_rows = row_bwd is not None
    sub = _ctx(ctx.grad, (["losses"] if want_rows else [])
               + (["weights"] if ctx.wants("weights") else []))
    value, bwd = weighted_loss(sub, "identity", losses, losses, weights, reduction, 0.0,
                               (None, "losses"), {"losses": dtype})
    return chained(ctx, value, bwd,
                   lambda g: {wrt: row_bwd(contiguous(g, dtype))[wrt]})


# ----------------------------------------------------------------- losses --

@differentiable("losses", "weights")
def compute_weighted_loss(ctx, losses, weights=ONE, scope=None, loss_collection=LOSSES,
                          reduction=_SBNZ):
    """Multiply `losses` by `weights` and reduce with `reduction`.

    float32 / float64 losses are computed in their dtype; other real dtypes
    are computed in float32 and the result is cast back to the input dtype,
    as TF does (an int64 result is truncated)."""
    L0 = _real(losses, "losses")
    dt = _compute_dtype(L0)
    L = L0.astype(dt, copy=False)
    value, bwd = weighted_loss(ctx, "identity", L, L, weights, reduction, 0.0,
                               (None, "losses"), {"losses": grad_dtype(losses, dt)})
    if L0.dtype != dt:
        value = value.astype(L0.dtype)
    record(value, loss_collection, scope, "weighted_loss", tf_dtype=tf_dtype_of(losses))
    return value, bwd


@differentiable("labels", "predictions", "weights")
def absolute_difference(ctx, labels, predictions, weights=ONE, scope=None,
                        loss_collection=LOSSES, reduction=_SBNZ):
    """|predictions - labels|, weighted and reduced. Gradient sign(e) (0 at
    e = 0) for the predictions, its negative for the labels."""
    return _pointwise(ctx, "absolute_difference", labels, predictions, weights, scope,
                      loss_collection, reduction, 0.0, ("labels", "predictions"),
                      "absolute_difference")


@differentiable("labels", "predictions", "weights")
def mean_squared_error(ctx, labels, predictions, weights=ONE, scope=None,
                       loss_collection=LOSSES, reduction=_SBNZ):
    """(predictions - labels)^2, weighted and reduced."""
    return _pointwise(ctx, "squared_difference", labels, predictions, weights, scope,
                      loss_collection, reduction, 0.0, ("labels", "predictions"),
                      "mean_squared_error")


@differentiable("labels", "predictions", "weights")
def huber_loss(ctx, labels, predictions, weights=ONE, delta=1.0, scope=None,
               loss_collection=LOSSES, reduction=_SBNZ):
    """Huber loss 0.5 q^2 + delta (|e| - q) with q = min(|e|, delta): quadratic
    up to |e| = delta (inclusive), linear beyond. Gradient sign(e) min(|e|,
    delta)."""
    return _pointwise(ctx, "huber", labels, predictions, weights, scope, loss_collection,
                      reduction, float(delta), ("labels", "predictions"), "huber_loss")


@differentiable("labels", "predictions", "weights")
def log_loss(ctx, labels, predictions, weights=ONE, epsilon=1e-7, scope=None,
             loss_collection=LOSSES, reduction=_SBNZ):
    """-z log(p + epsilon) - (1 - z) log(1 - p + epsilon), no clipping
    (predictions above 1 + epsilon give NaN, as in TF)."""
    return _pointwise(ctx, "log_loss", labels, predictions, weights, scope,
                      loss_collection, reduction, float(epsilon), ("labels", "predictions"),
                      "log_loss")


@differentiable("labels", "logits", "weights")
def hinge_loss(ctx, labels, logits, weights=ONE, scope=None, loss_collection=LOSSES,
               reduction=_SBNZ):
    """relu(1 - t x) with t = 2 labels - 1 (labels in {0, 1}). Gradient 0 where
    1 - t x <= 0."""
    return _pointwise(ctx, "hinge", labels, logits, weights, scope, loss_collection,
                      reduction, 0.0, ("labels", "logits"), "hinge_loss")


def _axis_or_dim(axis, dim):
    if dim is not None:
        if axis is not None:
            raise ValueError("Cannot specify both 'dim' and 'axis'.")
        axis = dim
    if axis is None:
        raise ValueError("You must specify argument `axis`.")
    return axis


def radial(ctx, l, p, dtypes, axis, keepdims):
    """1 - sum(p * l, axis) and a function turning its upstream gradient into
    the gradients w.r.t. predictions and labels."""
    if p.ndim == 0:
        raise InvalidArgumentError(f"Invalid reduction dimension {axis} for input with 0 "
                                   f"dimensions (predictions and labels are scalars)")
    ax = ck.normalize_axis(axis, p.ndim)
    # TF's CPU Mul treats denormal inputs as 0 (a denormal times inf is NaN,
    # times a huge float32 is 0), in the product and in its gradient
    p, l = ck.flush_denormals(p), ck.flush_denormals(l)
    with np.errstate(invalid="ignore", over="ignore"):     # inf - inf: NaN, as TF
        s = ck.tf_sum(p * l, axis=ax, keepdims=keepdims)
        losses = contiguous(p.dtype.type(1) - s, p.dtype)

    def chain(g):
        g = g if keepdims else np.expand_dims(g, ax)
        with np.errstate(invalid="ignore"):
            return _chain(g)

    def _chain(g):
        out = {}
        if ctx.wants("predictions") and dtypes["predictions"] is not None:
            out["predictions"] = (-(l * g)).astype(dtypes["predictions"], copy=False)
        if ctx.wants("labels") and dtypes["labels"] is not None:
            out["labels"] = (-(p * g)).astype(dtypes["labels"], copy=False)
        return out
    want = any(ctx.wants(n) and dtypes[n] is not None for n in ("labels", "predictions"))
    return losses, chain, want


def chained(ctx, value, bwd, chain):
    """backward of a loss reduced by weighted_loss on intermediate "losses"."""
    if not ctx.grad:
        return value, None

    def backward(dy):
        g = bwd(dy)
        out = {}
        if "weights" in g and ctx.wants("weights"):
            out["weights"] = g["weights"]
        if "losses" in g:
            out.update(chain(g["losses"]))
        return out
    return value, backward


@differentiable("labels", "predictions", "weights")
def cosine_distance(ctx, labels, predictions, axis=None, weights=ONE, scope=None,
                    loss_collection=LOSSES, reduction=_SBNZ, dim=None):
    """1 - sum(predictions * labels, axis), keeping `axis` as a size-1 dim
    (so weights have the inputs' rank, with 1 along `axis`). The inputs are
    assumed unit-normalized (they are not normalized here). `dim` is TF 1's
    name for `axis`."""
    axis = _axis_or_dim(axis, dim)
    _given(labels, "labels")
    _given(predictions, "predictions")
    l, p, dtypes = _pair(labels, predictions, ("labels", "predictions"))
    losses, chain, want = radial(ctx, l, p, dtypes, axis, keepdims=True)
    sub = _ctx(ctx.grad, (["losses"] if want else [])
               + (["weights"] if ctx.wants("weights") else []))
    value, bwd = weighted_loss(sub, "identity", losses, losses, weights, reduction, 0.0,
                               (None, "losses"), {"losses": p.dtype})
    record(value, loss_collection, scope, "cosine_distance_loss", tf_dtype=_F32)
    return chained(ctx, value, bwd, chain)


def _div_no_nan(a, b):
    """a / b, and 0 where b == 0 (whatever a is)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b != 0, a / np.where(b != 0, b, 1), 0).astype(np.result_type(a, b))


@differentiable("labels", "predictions", "weights")
def mean_pairwise_squared_error(ctx, labels, predictions, weights=ONE, scope=None,
                                loss_collection=LOSSES):
    """For each example i (axis 0) with differences d = predictions - labels:
    t_i = 2 sum_j d_ij^2 / (n_i - 1) - 2 (sum_j d_ij)^2 / (n_i (n_i - 1)), the
    mean of (d_ij - d_ik)^2 over the n_i (n_i - 1) / 2 pairs, where n_i counts
    the nonzero broadcast weights of example i; the result is
    sum(t_i * weights) over the examples -- summed, not averaged, and with no
    `reduction` argument, as in TF.

    This is TF's graph-mode value (per-example n_i, as tf.function and TF 1
    compute it). TF 2 executing eagerly with a nonzero scalar weight uses the
    whole batch's element count for every n_i instead; cyloss does not copy
    that quirk. Zero-weighted elements still enter the sums; they only
    change n_i."""
    _given(labels, "labels")
    _given(predictions, "predictions")
    l0 = _real(labels, "labels")
    p0 = _real(predictions, "predictions")
    dt = _compute_dtype(p0)
    l, p = l0.astype(dt, copy=False), p0.astype(dt, copy=False)
    w = _weights_array(weights, l.shape, dt)
    _same_shape(p, l)
    dtypes = {"labels": grad_dtype(labels, dt), "predictions": grad_dtype(predictions, dt),
              "weights": grad_dtype(weights, dt)}
    value, backward = pairwise(ctx, l, p, w, dtypes, True, ("labels", "predictions", "weights"))
    record(value, loss_collection, scope, "mean_pairwise_squared_error", tf_dtype=_F32)
    return value, backward


def pairwise(ctx, l, p, w, dtypes, core, names):
    """Shared by the core (n - 1 normalization, weights of the inputs' rank)
    and the contrib (n normalization, weights aligned to the leading dims)
    pairwise losses. names: the public names of labels, predictions and
    weights (keys of `dtypes` and of the gradients). Returns (value, backward)."""
    nl, np_, nw = names
    dt = p.dtype
    w = flushed(w)          # TF: float32 weights, denormals flushed (count as 0)
    axes = tuple(range(1, p.ndim))
    keep = core
    n = count_present(p, w, core)
    if core:
        den1 = np.maximum(n - 1, 0)
        den2 = np.maximum(n * (n - 1), 0)
    else:
        den1 = n
        den2 = n * n
    with np.errstate(invalid="ignore", over="ignore"):     # inf - inf: NaN, as TF
        d = p - l
        s2 = ck.tf_sum(d * d, axis=axes, keepdims=keep)     # TF's order: overflowing sums
        s1 = ck.tf_sum(d, axis=axes, keepdims=keep)         # give TF's inf / NaN
        t = 2 * _div_no_nan(s2, den1) - 2 * _div_no_nan(s1 * s1, den2)
    if core:
        r = t
    else:                        # contrib: t reduced over the dims past the weights'
        r = ck.tf_sum(t, axis=tuple(range(w.ndim, t.ndim))) if w.ndim < t.ndim else t
    try:
        prod = r * w
    except ValueError:
        raise ValueError(f"weights of shape {w.shape} do not broadcast with the per-example "
                         f"losses of shape {r.shape} (inputs of shape {d.shape})") from None
    live = bool(np.sum(n) > 0)
    value = np.asarray(ck.tf_sum(prod) if live else 0, dt)
    if not ctx.grad:
        return value, None

    def backward(dy):
        # inf * 0 is TF's NaN too; 2 g overflows to inf as in TF
        with np.errstate(invalid="ignore", over="ignore"):
            return _pairwise_grads(dy)

    def _pairwise_grads(dy):
        # nothing present: TF's where() passes 0 upstream, and the chain rule
        # multiplies it by every local gradient (NaN where those are inf / NaN)
        f = (dt.type(1) if dy is None else dy) if live else dt.type(0)
        out = {}
        if ctx.wants(nw) and dtypes[nw] is not None:
            out[nw] = ck.reduce_to(np.broadcast_to(r, prod.shape) * f,
                                   w.shape).astype(dtypes[nw])
        want_l = ctx.wants(nl) and dtypes[nl] is not None
        want_p = ctx.wants(np_) and dtypes[np_] is not None
        if want_l or want_p:
            gr = ck.reduce_to(np.broadcast_to(w, prod.shape) * f, r.shape)
            gt = gr if r.shape == t.shape else np.broadcast_to(gr, t.shape)
            # TF's order, op by op (the products by 2 are exact, so only where
            # an intermediate overflows does the order show): the upstream of
            # each 2.0 * div_no_nan(.) is 2 g (+-inf where |g| > max / 2),
            # divided by the denominator, then times Square's local 2 x
            # (x * 2: d * 2 and S1 * 2); an infinite S1 times a 0 from a zero
            # denominator is NaN, as in TF
            g2 = gt * dt.type(2)
            gs2 = ck.reduce_to(_div_no_nan(g2, den1), s2.shape)
            gs1 = ck.reduce_to(_div_no_nan(-g2, den2), s1.shape) * (s1 * dt.type(2))
            if not keep:
                gs2 = gs2.reshape(gs2.shape + (1,) * (d.ndim - gs2.ndim))
                gs1 = gs1.reshape(gs1.shape + (1,) * (d.ndim - gs1.ndim))
            gd = (gs2 * (d * dt.type(2)) + gs1).astype(dt)
            if want_p:
                out[np_] = gd.astype(dtypes[np_], copy=False)
            if want_l:
                out[nl] = (-gd).astype(dtypes[nl], copy=False)
        return out
    return value, backward


def count_present(d, w, core):
    """n_i, the present elements of each example. Core: the nonzero entries
    of the weights broadcast to d's shape, kept as [B, 1, ..., 1]. Contrib
    (TF 1 contrib's _num_present): a scalar weight counts every element of an
    example; otherwise the nonzero weights of each leading row times the size
    of the dims past the weights', shape [rows]."""
    dt = d.dtype
    if core:
        present = np.broadcast_to(w != 0, d.shape)
        return np.sum(present, axis=tuple(range(1, d.ndim)), keepdims=True).astype(dt)
    if d.ndim == 0:
        raise ValueError("the inputs need a batch dimension (got scalars)")
    b = d.shape[0]
    if w.ndim == 0:
        per = d.size // b if b else 0
        return np.full(b, per if w != 0 else 0, dt)
    if w.ndim > d.ndim:
        raise ValueError(f"weights of shape {w.shape} have more dimensions than the inputs "
                         f"of shape {d.shape}")
    nnz = np.sum(w != 0, axis=tuple(range(1, w.ndim))).astype(dt)
    return nnz * dt.type(int(np.prod(d.shape[w.ndim:])))


@differentiable("multi_class_labels", "logits", "weights")
def sigmoid_cross_entropy(ctx, multi_class_labels, logits, weights=ONE, label_smoothing=0,
                          scope=None, loss_collection=LOSSES, reduction=_SBNZ):
    """Elementwise sigmoid cross-entropy (tf.nn.sigmoid_cross_entropy_with_logits)
    on labels smoothed towards 1/2 when `label_smoothing` > 0:
    z (1 - label_smoothing) + label_smoothing / 2. The labels are cast to the
    logits' dtype and are differentiable."""
    names = ("multi_class_labels", "logits")
    z, x = _logits_and_labels(multi_class_labels, logits, names)
    ls = float(label_smoothing) if label_smoothing > 0 else 0.0
    dtypes = {names[0]: grad_dtype(multi_class_labels, x.dtype), names[1]: x.dtype}
    value, bwd = weighted_loss(ctx, "sigmoid", z, x, weights, reduction, ls, names, dtypes)
    record(value, loss_collection, scope, "sigmoid_cross_entropy_loss",
           tf_dtype=tf_dtype_of(logits))
    return value, bwd


def smooth_onehot(y, ls, n_classes):
    """y (1 - ls) + ls / n_classes in y's dtype."""
    t = y.dtype.type
    with np.errstate(divide="ignore", invalid="ignore"):
        return y * t(1.0 - ls) + t(ls) / t(n_classes)


def _dense_rows(ctx, y, x):
    """Per-row softmax cross-entropy of the last axis (labels stopped) and
    the backward function of the logits (None unless wanted)."""
    want = ctx.wants("logits")
    rows, bwd = _nn.softmax_cross_entropy_with_logits._cyloss_impl(
        _ctx(want, ["logits"]), y, x)
    return contiguous(rows), (bwd if want else None)


@differentiable("logits", "weights")
def softmax_cross_entropy(ctx, onehot_labels, logits, weights=ONE, label_smoothing=0,
                          scope=None, loss_collection=LOSSES, reduction=_SBNZ):
    """Softmax cross-entropy over the last axis of `logits` (labels of the
    same shape, cast to the logits' dtype) with labels smoothed towards
    1/num_classes when `label_smoothing` > 0. The loss has shape
    logits.shape[:-1], so weights are a scalar or of that rank (`[B]` for 2-D
    logits; `[B, 1]` is rejected as in TF). The labels get no gradient (TF
    stops it); the logits get TF's softmax - labels."""
    y, x = _logits_and_labels(onehot_labels, logits, ("onehot_labels", "logits"))
    if label_smoothing > 0 and x.ndim:
        y = smooth_onehot(y, float(label_smoothing), x.shape[-1])
    rows, row_bwd = _dense_rows(ctx, y, x)
    value, backward = reduce_rows(ctx, rows, row_bwd, weights, reduction, "logits", x.dtype)
    record(value, loss_collection, scope, "softmax_cross_entropy_loss",
           tf_dtype=tf_dtype_of(logits))
    return value, backward


def _squeeze_last(a, what):
    if a.shape[-1] != 1:
        raise InvalidArgumentError(f"Can not squeeze dim[{a.ndim - 1}], expected a dimension "
                                   f"of 1, got {a.shape[-1]} ({what} of shape {a.shape})")
    return a.reshape(a.shape[:-1])


def sparse_rows(ctx, labels, x):
    """Per-row sparse softmax cross-entropy and the logits' backward."""
    want = ctx.wants("logits")
    rows, bwd = _nn.sparse_softmax_cross_entropy_with_logits._cyloss_impl(
        _ctx(want, ["logits"]), labels, x)
    return contiguous(rows), (bwd if want else None)


@differentiable("logits", "weights")
def sparse_softmax_cross_entropy(ctx, labels, logits, weights=ONE, scope=None,
                                 loss_collection=LOSSES, reduction=_SBNZ):
    """Softmax cross-entropy with integer class ids (int32 / int64, each in
    [0, num_classes)): labels [d0..dr-1], logits [d0..dr-1, num_classes].

    As TF, labels with the logits' rank and a trailing dim of 1 are squeezed
    ([B, 1] -> [B]); then weights with one more dim than the labels are
    squeezed on their last dim ([B, 1] -> [B]; InvalidArgumentError if that
    dim is not 1). The weights' gradient has the weights' original shape."""
    _given(labels, "labels")
    _given(logits, "logits")
    lab = ck.native(np.asarray(labels))
    x = ck.floating(logits, "logits")
    x_shape = x.shape
    if x.ndim - lab.ndim == 2 and x.shape[-1] == 1:
        x = x.reshape(x.shape[:-1])
    elif x.ndim == lab.ndim and lab.ndim and lab.shape[-1] == 1:
        lab = lab.reshape(lab.shape[:-1])
    w = weights
    w_shape = None
    if weights is not None and not isinstance(weights, (float, int)):
        wa = np.asarray(weights)
        if wa.ndim - lab.ndim == 1:
            w_shape = wa.shape
            w = _squeeze_last(wa, "weights")
            if isinstance(weights, (list, tuple, np.generic)):
                w = w.tolist()          # keeps a Python list's weak dtype for the gradient
    rows, row_bwd = sparse_rows(ctx, lab, x)
    if row_bwd is not None and x.shape != x_shape:
        inner = row_bwd

        def row_bwd(g):
            return {"logits": inner(g)["logits"].reshape(x_shape)}
    value, backward = reduce_rows(ctx, rows, row_bwd, w, reduction, "logits", x.dtype)
    if backward is not None and w_shape is not None:
        reduced = backward

        def backward(dy):
            out = reduced(dy)
            if "weights" in out:
                out["weights"] = out["weights"].reshape(w_shape)
            return out
    record(value, loss_collection, scope, "sparse_softmax_cross_entropy_loss",
           tf_dtype=tf_dtype_of(logits))
    return value, backward
