"""Keras' per-sample loss functions (TF_SEMANTICS.md sec. 4.2) and their
public function forms (`cyloss.keras.mse`, `categorical_crossentropy`, ...).

Each `_name(ctx, y_true, y_pred, **kw) -> (values, mask, backward)` works on
arrays already in the compute dtype; `backward(dvalues)` returns the gradients
w.r.t. y_true and y_pred of sum(values * dvalues). The compiled work reuses the
kernel families: elementwise losses reduced over an axis go through
k_weighted (pyx/_pointwise.pyx, one pass: row sums in TF's order + local
gradients), the cross-entropies through cyloss.nn's softmax / sparse softmax
kernels, the row losses on probability vectors through pyx/_rows.pyx.
"""
import inspect

import numpy as np

from .. import _checks as ck
from .. import _kernels
from .. import _matmul as mm
from .. import nn
from .. import _nn_ctc
from .._autodiff import differentiable
from .._threads import for_work
from .._errors import InvalidArgumentError
from ._pipeline import cast, dense, numeric, same_rank

EPSILON = 1e-7          # keras.backend.epsilon()


def _shape(a, b):
    """The broadcast shape of two inputs; Keras reports a mismatch at run time."""
    try:
        return np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise InvalidArgumentError(f"Incompatible shapes: {list(a.shape)} vs. "
                                   f"{list(b.shape)}") from None


def _axis(axis, ndim):
    if isinstance(axis, bool):
        raise ValueError(f"`axis` must be of type `int`. Received: axis={axis} of type "
                         f"{type(axis)}")
    return ck.normalize_axis(axis, ndim)


# ------------------------------------------------------ elementwise, reduced --

# kinds whose kernel gradient takes the upstream in TF's order (pyx/_pointwise.pyx
# scaled: the binary cross-entropies, from logits through v1_chain's sigmoid,
# and tf_chain's kinds)
_TF_CHAIN = frozenset(("bce", "sigmoid", "focal", "focal_logits", "kld", "msle", "poisson",
                       "keras_hinge", "squared_hinge", "keras_huber", "mape", "logcosh"))


def _elementwise(ctx, kind, yt, yp, axis=-1, mean=True, scale=1.0, params=(0.0, 0.0, 0.0),
                 modes=None):
    """values = scale * mean_axis(L(y_true, y_pred)) (sum_axis if not mean) for a
    k_weighted kind, with both local gradients from the same pass; the kinds in
    _TF_CHAIN instead run the kernel again in backward with the upstream as
    per-row weights, so their gradients follow TF's op order. `modes` (int8,
    y_pred's shape, or None): elements to run again with p1 = their mode
    (focal_logits: which exp, _tf_exp_modes)."""
    dt = yp.dtype
    shape = _shape(yt, yp)
    if not shape:
        shape = (1,)
        squeeze0 = True
    else:
        squeeze0 = False
    ax = _axis(axis, len(shape))
    a, moved = ck.rows(np.broadcast_to(yt, shape), ax)
    b, _ = ck.rows(np.broadcast_to(yp, shape), ax)
    n_rows, k = b.shape
    n = n_rows * k
    want_a = ctx.wants("y_true")
    want_b = ctx.wants("y_pred")
    # the TF-chain kinds take the upstream into their gradients: the forward
    # pass computes them for dy = 1 (g = scale / k per element), backward runs
    # the kernel again for another dy; the others scale local derivatives
    chained = kind in _TF_CHAIN
    kk = dt.type(k)
    g1 = ck.flush_denormals(dt.type(scale) / kk if mean else dt.type(scale))[()]
    da = np.empty((n_rows, k), dt) if want_a and n else None
    db = np.empty((n_rows, k), dt) if want_b and n else None
    K = _kernels.K.pointwise
    block = K.WEIGHTED_BLOCK
    per = -(-k // block)
    nt = for_work(n)

    prm = np.array(tuple(params) + (0.0,) * (4 - len(params)), dt)
    em = None if modes is None else ck.rows(np.broadcast_to(modes, shape), ax)[0].reshape(-1)

    def run(w, gscale, da, db, raw=None, tf_rows=False):
        partials = np.empty(n_rows * per, dt)
        K.k_weighted(K.KINDS[kind], a.reshape(-1), b.reshape(-1), w, n_rows, prm, gscale,
                     None, None if raw is None else raw.reshape(-1),
                     None if da is None else da.reshape(-1),
                     None if db is None else db.reshape(-1),
                     np.empty((nt, 4 * block), dt), partials, nt, tf_rows)
        for mode in () if em is None else (1, 2):
            at = np.flatnonzero(em == mode)
            if not at.size:
                continue
            outs = [None if o is None else np.empty(at.size, dt) for o in (raw, da, db)]
            K.k_weighted(K.KINDS[kind], a.reshape(-1)[at], b.reshape(-1)[at],
                         w if w.size == 1 else np.ascontiguousarray(w[at // k]), at.size,
                         np.concatenate([np.array([mode], dt), prm[1:]]), gscale, None, *outs,
                         np.empty((1, 4 * block), dt), np.empty(at.size, dt), 1)
            for full, part in zip((raw, da, db), outs):
                if part is not None:
                    full.reshape(-1)[at] = part
        return partials
    if n:
        # Keras' mean (or sum) over the axis in TF's Sum order on the caller's
        # layout, where overflowing partial sums decide inf, -inf or NaN: the
        # kernel's rows when the axis is the last and a row fits one block,
        # else tf_sum of the per-element values
        if ax == len(shape) - 1 and per == 1 and em is None:
            sums = run(np.ones(1, dt), g1 if chained else 1.0, da, db, tf_rows=True)[:n_rows]
        else:
            raw = np.empty((n_rows, k), dt)
            run(np.ones(1, dt), g1 if chained else 1.0, da, db, raw)
            sums = ck.tf_sum(ck.unrows(raw, moved, ax, len(shape)), axis=ax).reshape(n_rows)
    else:
        sums = np.zeros(n_rows, dt)
    with np.errstate(invalid="ignore", divide="ignore"):
        rows = (sums / kk) if mean else sums        # a mean over an empty axis is NaN
        if scale != 1.0:
            rows = dt.type(scale) * rows
    values = rows.reshape(moved[:-1])
    if squeeze0:
        values = values.reshape(())
    if not ctx.grad:
        return values, None, None

    def backward(dvalues):
        # (TF's CPU: a denormal upstream, or quotient, is zero)
        f = np.ones(n_rows, dt) if dvalues is None else \
            ck.flush_denormals(np.asarray(dvalues, dt).reshape(n_rows))
        f = f * dt.type(scale)
        if mean:
            f = ck.flush_denormals(f / kk)
        out = {}
        ga, gb = da, db
        if chained and n and not (dvalues is None or np.all(f == g1)):
            ga = np.empty((n_rows, k), dt) if want_a else None
            gb = np.empty((n_rows, k), dt) if want_b else None
            run(np.ascontiguousarray(f, dt), 1.0, ga, gb)
        for name, g, src in (("y_true", ga, yt), ("y_pred", gb, yp)):
            if not ctx.wants(name):
                continue
            if g is None:
                g = np.zeros((n_rows, k), dt)
            elif not chained:
                _kernels.K.reduce.k_scale_rows(g, np.ascontiguousarray(f, dt),
                                               for_work(g.size))
            g = ck.unrows(g, moved, ax, len(shape))
            out[name] = ck.reduce_to(g.reshape(shape), src.shape)
        return out
    return values, None, backward


def _regression(kind, **fixed):
    def sample(ctx, y_true, y_pred):
        yt, yp = same_rank(y_true, y_pred)
        v, m, bwd = _elementwise(ctx, kind, yt, yp, **fixed)
        return v, m, _reshaped(bwd, yt, yp, y_true, y_pred)
    return sample


def _reshaped(bwd, yt, yp, y_true, y_pred):
    """A backward on rank-fixed arrays, returning the gradients in the shapes
    of the arrays before the fix."""
    if bwd is None:
        return None

    def backward(dvalues):
        out = bwd(dvalues)
        for name, orig in (("y_true", y_true), ("y_pred", y_pred)):
            if out.get(name) is not None:
                out[name] = out[name].reshape(orig.shape)
        return out
    return backward


def _mean_squared_error(ctx, y_true, y_pred):
    return _regression("squared_difference")(ctx, y_true, y_pred)


def _mean_absolute_error(ctx, y_true, y_pred):
    return _regression("absolute_difference")(ctx, y_true, y_pred)


def _empty_broadcast(v, m, bwd, shape, y_true, y_pred, carried):
    """TF applies some functions to one argument alone before broadcasting it
    against the other. When the broadcast is empty, the gradient reaching that
    argument is an empty sum, 0, which TF still multiplies by those functions'
    derivatives: 0 * inf or 0 * NaN is NaN. `shape` is the broadcast shape;
    `carried[name](array)` gives that gradient (zeros and NaNs) for a non-empty
    argument, and backward adds it."""
    arrays = {"y_true": y_true, "y_pred": y_pred}
    if bwd is None or 0 not in shape or \
            all(arrays[name].size == 0 for name in carried):
        return v, m, bwd

    def backward(dvalues):
        out = bwd(dvalues)
        with np.errstate(all="ignore"):
            for name, chain in carried.items():
                if out.get(name) is not None and arrays[name].size:
                    out[name] = out[name] + chain(ck.flush_denormals(arrays[name]))
        return out
    return v, m, backward


def _mean_absolute_percentage_error(ctx, y_true, y_pred):
    v, m, bwd = _regression("mape", scale=100.0, params=(EPSILON, 0, 0))(ctx, y_true, y_pred)
    # TF's chain takes abs(y_true)'s gradient: 0 * sign(y_true)
    return _empty_broadcast(v, m, bwd, _shape(*same_rank(y_true, y_pred)), y_true, y_pred,
                            {"y_true": lambda yt: yt.dtype.type(0) * np.sign(yt)})


def _mean_squared_logarithmic_error(ctx, y_true, y_pred):
    # Keras' epsilon tensor here is float32 even for float64 inputs
    eps = float(np.float32(EPSILON))
    return _regression("msle", params=(eps, 0, 0))(ctx, y_true, y_pred)


def _huber(ctx, y_true, y_pred, delta=1.0):
    return _regression("keras_huber", params=(float(delta), 0, 0))(ctx, y_true, y_pred)


def _log_cosh(ctx, y_true, y_pred):
    # Keras takes log(2) in float32 (floatx) and casts it to y_pred's dtype
    return _regression("logcosh", params=(float(np.log(np.float32(2))), 0, 0))(
        ctx, y_true, y_pred)


def _poisson(ctx, y_true, y_pred):
    v, m, bwd = _elementwise(ctx, "poisson", y_true, y_pred, params=(EPSILON, 0, 0))
    shape = _shape(y_true, y_pred)
    if bwd is not None and 0 not in shape and y_pred.shape != shape:
        bwd = _poisson_broadcast(bwd, y_true, y_pred, shape)
    # TF's chain takes log(y_pred + eps)'s gradient: 0 * reciprocal(y_pred + eps)
    return _empty_broadcast(
        v, m, bwd, shape, y_true, y_pred,
        {"y_pred": lambda p: p.dtype.type(0) / ck.flush_denormals(p + p.dtype.type(EPSILON))})


def _poisson_broadcast(bwd, y_true, y_pred, shape):
    """Poisson's backward for a y_pred broadcast against y_true. TF takes
    log(y_pred + eps) on y_pred alone, so its gradient adds the broadcast
    products first and multiplies by the reciprocal after: with g = dv / k
    (the mean's), d/dy_pred = sum(g) + sum(-g y_true) / (y_pred + eps), each
    sum over the broadcast in TF's order and every result flushed as TF's CPU
    does (where terms near the max overflow, this order decides)."""
    fz = ck.flush_denormals

    def backward(dvalues):
        out = bwd(dvalues)
        if out.get("y_pred") is None:
            return out
        t = y_pred.dtype.type
        dv = np.ones(shape[:-1], y_pred.dtype) if dvalues is None else \
            np.asarray(dvalues, y_pred.dtype).reshape(shape[:-1])
        with np.errstate(all="ignore"):
            g = fz(np.broadcast_to(dv[..., None], shape) / t(shape[-1]))
            dlog = fz(ck.reduce_to(fz((-g) * fz(np.broadcast_to(y_true, shape))), y_pred.shape))
            r = fz(t(1) / fz(fz(y_pred) + t(EPSILON)))
            out["y_pred"] = fz(ck.reduce_to(g, y_pred.shape) + fz(dlog * r))
        return out
    return backward


def _kl_divergence(ctx, y_true, y_pred):
    return _elementwise(ctx, "kld", y_true, y_pred, mean=False, params=(EPSILON, 0, 0))


def _hinge_labels(yt):
    """Keras' conversion: 2y - 1 when every label is 0 or 1, else unchanged;
    returns the labels used and d(used)/d(y_true)."""
    # (TF's CPU compares denormals as zero)
    binary = bool(np.all((np.abs(yt) < np.finfo(yt.dtype).tiny) | (yt == 1)))
    return (yt * yt.dtype.type(2) - yt.dtype.type(1), 2.0) if binary else (yt, 1.0)


def _margin(kind):
    def sample(ctx, y_true, y_pred):
        t, chain = _hinge_labels(y_true)
        v, m, bwd = _elementwise(ctx, kind, t, y_pred)
        if bwd is None:
            return v, m, bwd

        def backward(dvalues):
            out = bwd(dvalues)
            if out.get("y_true") is not None:
                out["y_true"] *= out["y_true"].dtype.type(chain)
            return out
        return v, m, backward
    return sample


def _hinge(ctx, y_true, y_pred):
    return _margin("keras_hinge")(ctx, y_true, y_pred)


def _squared_hinge(ctx, y_true, y_pred):
    return _margin("squared_hinge")(ctx, y_true, y_pred)


def _smooth_binary(yt, label_smoothing):
    if not label_smoothing:
        return yt, 1.0
    dt = yt.dtype
    ls = float(label_smoothing)
    return yt * dt.type(1.0 - ls) + dt.type(0.5 * ls), 1.0 - ls


def _check_same_shape(yt, yp):
    if yt.ndim != yp.ndim:
        raise ValueError("Arguments `target` and `output` must have the same rank (ndim). "
                         f"Received: target.shape={yt.shape}, output.shape={yp.shape}")
    if yt.shape != yp.shape:
        raise ValueError("Arguments `target` and `output` must have the same shape. "
                         f"Received: target.shape={yt.shape}, output.shape={yp.shape}")


def _chain_true(bwd, chain):
    """Multiply the y_true gradient by d(smoothed labels)/d(labels)."""
    if bwd is None or chain == 1.0:
        return bwd

    def backward(dvalues):
        out = bwd(dvalues)
        if out.get("y_true") is not None:
            out["y_true"] = out["y_true"] * out["y_true"].dtype.type(chain)
        return out
    return backward


def _binary_crossentropy(ctx, y_true, y_pred, from_logits=False, label_smoothing=0.0,
                         axis=-1):
    _check_same_shape(y_true, y_pred)
    if from_logits:      # the sigmoid kind smooths the labels itself (same formula)
        return _elementwise(ctx, "sigmoid", y_true, y_pred, axis=axis,
                            params=(float(label_smoothing), 0, 0))
    z, chain = _smooth_binary(y_true, label_smoothing)
    params = (EPSILON, 0, 0)
    v, m, bwd = _elementwise(ctx, "bce", z, y_pred, axis=axis, params=params)
    return v, m, _chain_true(bwd, chain)


def _binary_focal_crossentropy(ctx, y_true, y_pred, apply_class_balancing=False, alpha=0.25,
                               gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1):
    z, chain = _smooth_binary(y_true, label_smoothing)
    _check_same_shape(z, y_pred)
    a = float(alpha) if apply_class_balancing else -1.0
    if apply_class_balancing and a < 0:
        raise ValueError(f"alpha must be >= 0 with apply_class_balancing, got {alpha}")
    kind = "focal_logits" if from_logits else "focal"
    # (1 - alpha in double, as Keras; p1 of focal_logits: its exp, see below)
    params = (0.0 if from_logits else EPSILON, float(gamma), a, 1.0 - a)
    v, m, bwd = _elementwise(ctx, kind, z, y_pred, axis=axis, params=params,
                             modes=_tf_exp_modes(y_pred) if from_logits else None)
    return v, m, _chain_true(bwd, chain)


def _tf_exp_modes(x):
    """TF's float64 sigmoid, e^x / (1 + e^x), is exactly 1 or not for x in
    about [36.7, 37.5] depending on its exp's last bit: Eigen's vector exp
    for whole packets of 4, the C library's for the last n % 4 elements of
    the tensor (_vec.h cyl_tf_expd). Each such element's mode (1: a packet,
    2: the tail; 0 elsewhere), or None where there is none (float32's
    logistic is exactly 1 from a clamp: no mode)."""
    if x.dtype != np.float64 or not x.size:
        return None
    near = (x >= 36.5) & (x <= 37.5)
    if not near.any():
        return None
    tail = np.arange(x.size).reshape(x.shape) >= x.size - x.size % 4
    return np.where(near, np.where(tail, 2, 1), 0).astype(np.int8)


# ------------------------------------------------------------ categorical --

def _smooth_categorical(yt, label_smoothing):
    if not label_smoothing:
        return yt, 1.0
    dt = yt.dtype
    ls = float(label_smoothing)
    k = dt.type(yt.shape[-1])           # the LAST axis, whatever `axis` is (Keras)
    return yt * dt.type(1.0 - ls) + dt.type(ls) / k, 1.0 - ls


def _categorical_crossentropy(ctx, y_true, y_pred, from_logits=False, label_smoothing=0.0,
                              axis=-1):
    _axis(axis, max(y_pred.ndim, 1))
    if y_true.ndim < 1:
        raise ValueError("Arguments `target` and `output` must be at least rank 1. "
                         f"Received: target.shape={y_true.shape}, output.shape={y_pred.shape}")
    y, chain = _smooth_categorical(y_true, label_smoothing)
    _check_same_shape(y, y_pred)
    if from_logits:
        value, bwd = nn.softmax_cross_entropy_with_logits._cyloss_impl(
            _Renamed(ctx), y, y_pred, axis=axis)
        return value, None, _chain_true(_renamed(bwd), chain)
    return _rows_loss(ctx, "cce", y, y_pred, axis, chain)


def _categorical_focal_crossentropy(ctx, y_true, y_pred, alpha=0.25, gamma=2.0,
                                    from_logits=False, label_smoothing=0.0, axis=-1):
    _axis(axis, max(y_pred.ndim, 1))
    y, chain = _smooth_categorical(y_true, label_smoothing)
    # no static shape check here in Keras: the shapes broadcast (or fail at run time)
    shape = _shape(y, y_pred)
    # a Python list/tuple alpha becomes a float32 (floatx) tensor in Keras, then
    # widens; a scalar is converted straight to y_pred's dtype
    alpha_arr = np.asarray(alpha, np.float32 if isinstance(alpha, (list, tuple))
                           else None).astype(y_pred.dtype)
    values, mask, bwd = _rows_loss(ctx, "focal_logits" if from_logits else "focal",
                                   np.broadcast_to(y, shape), np.broadcast_to(y_pred, shape),
                                   axis, chain, float(gamma), alpha_arr)
    if bwd is None or (y.shape == shape and y_pred.shape == shape):
        return values, mask, bwd

    def backward(dvalues):
        out = bwd(dvalues)
        for name, own in (("y_true", y_true), ("y_pred", y_pred)):
            if out.get(name) is not None:
                out[name] = ck.reduce_to(out[name], own.shape)
        return out
    return _empty_broadcast(values, mask, backward, shape, y_true, y_pred, {"y_pred": lambda p: (
        _focal_zero_chain(p, _axis(axis, max(p.ndim, 1)), float(gamma), alpha_arr, from_logits))})


def _focal_zero_chain(x, axis, gamma, alpha, from_logits):
    """TF's gradient of categorical focal cross-entropy w.r.t. y_pred (denormals
    flushed) when the sum from the broadcast is 0: Keras normalizes, clips,
    takes the log and the focal power on y_pred alone, so 0 goes back through
    their derivatives -- NaN where a row's sum is 0 or not finite."""
    t = x.dtype.type
    eps, zero = t(EPSILON), t(0)
    flush = ck.flush_denormals
    if x.ndim == 0:
        x, axis = x.reshape(1), 0
    q = x
    if from_logits:
        e = flush(np.exp(x - x.max(axis, keepdims=True)))
        q = flush(e / e.sum(axis, keepdims=True))
    s = flush(q.sum(axis, keepdims=True))
    p = flush(q / s)
    pc = np.clip(p, eps, 1 - eps)
    m = (1 - pc) ** t(gamma)
    dm = ck.reduce_to(zero * np.broadcast_to(alpha, np.broadcast_shapes(m.shape, alpha.shape)),
                      m.shape)
    dpc = zero / pc - dm * t(gamma) * (1 - pc) ** t(gamma - 1)
    dp = np.where((p < eps) | (p > 1 - eps), zero, dpc)
    dq = dp / s + (dp * (-q / s / s)).sum(axis, keepdims=True)
    if from_logits:
        dq = (dq - (dq * q).sum(axis, keepdims=True)) * q
    return dq


class _Renamed:
    """A Ctx seen through cyloss.nn's argument names (labels, logits)."""
    __slots__ = ("grad", "wrt")

    def __init__(self, ctx):
        self.grad = ctx.grad
        self.wrt = ctx.wrt

    def wants(self, name):
        keras = {"labels": "y_true", "logits": "y_pred"}[name]
        return self.grad and (self.wrt is None or keras in self.wrt)


def _renamed(bwd):
    if bwd is None:
        return None

    def backward(dvalues):
        out = bwd(dvalues)
        return {"y_true": out.get("labels"), "y_pred": out.get("logits")}
    return backward


def _rows_loss(ctx, kind, y, p, axis, chain, gamma=0.0, alpha=None):
    """The row losses on probability vectors (pyx/_rows.pyx): categorical
    crossentropy on probabilities, categorical focal crossentropy."""
    dt = p.dtype
    ax = _axis(axis, p.ndim)
    yt2, moved = ck.rows(y, ax)
    x2, _ = ck.rows(p, ax)
    n_rows, k = x2.shape
    if alpha is None or alpha.ndim == 0:
        al = np.full((1, 1), 1 if alpha is None else alpha, dt)
    else:       # Keras broadcasts alpha against the last axis, whatever `axis` is
        try:
            full = np.broadcast_to(alpha, p.shape)
        except ValueError:
            raise InvalidArgumentError(f"Incompatible shapes: {list(p.shape)} vs. "
                                       f"{list(alpha.shape)}") from None
        if ax == p.ndim - 1 and alpha.ndim == 1:
            al = np.ascontiguousarray(np.broadcast_to(alpha, (k,)), dt).reshape(1, k)
        else:
            al = np.ascontiguousarray(ck.rows(full, ax)[0], dt)
    loss = np.empty(n_rows, dt)
    want_t, want_p = ctx.wants("y_true"), ctx.wants("y_pred")
    dp = np.empty_like(x2) if want_p else None
    dtr = np.empty_like(x2) if want_t else None
    R = _kernels.K.rows
    nt = for_work(x2.size)
    R.k_prob_xent(R.KINDS[kind], yt2, x2, al, float(EPSILON), float(gamma), None, loss, dtr,
                  dp, np.empty((nt, 4 * k), dt), nt)
    values = loss.reshape(moved[:-1])
    if not ctx.grad:
        return values, None, None
    # room for TF's terms that take g first: g y (1 / c) with c >= eps, in a sum of k
    big = np.finfo(dt).max * EPSILON / (64 * max(k, 1))

    def backward(dvalues):
        out = {}
        grads = [("y_true", dtr), ("y_pred", dp)]
        if dvalues is not None:
            g = ck.flush_denormals(np.ascontiguousarray(dvalues, dt).reshape(n_rows))
            for name, gr in grads:
                if gr is not None:
                    _kernels.K.reduce.k_scale_rows(gr, g, for_work(gr.size))
            with np.errstate(all="ignore"):
                fine = bool(np.all(np.abs(g) <= big)) and _finite_sums(gr for _, gr in grads)
            if not fine:    # TF's op order (g enters each term first): k_prob_xent with g
                R.k_prob_xent(R.KINDS[kind], yt2, x2, al, float(EPSILON), float(gamma), g,
                              np.empty(n_rows, dt), dtr, dp, np.empty((nt, 4 * k), dt), nt)
        for name, gr in grads:
            if gr is None:
                continue
            if name == "y_true" and chain != 1.0:
                gr *= dt.type(chain)
            out[name] = ck.unrows(gr, moved, ax, p.ndim)
        return out
    return values, None, backward


def _sparse_categorical_crossentropy(ctx, y_true, y_pred, from_logits=False, ignore_class=None,
                                     axis=-1):
    yt = y_true
    if y_pred.ndim and not -y_pred.ndim <= axis < y_pred.ndim:     # (Keras: IndexError)
        raise ValueError(f"`axis`={axis} is out of range for `y_pred` of shape "
                         f"{y_pred.shape}")
    if yt.ndim == y_pred.ndim and yt.ndim and yt.shape[axis] == 1:
        yt = np.squeeze(yt, axis=axis)
    x = y_pred
    valid = None
    if ignore_class is not None:
        # (TF's CPU compares a denormal label as 0)
        lab = ck.flush_denormals(yt) if yt.dtype.kind == "f" else yt
        valid = lab != np.asarray(ignore_class).astype(y_pred.dtype)
        yt = np.where(valid, yt, 0).astype(yt.dtype)
        _shape(np.expand_dims(valid, axis), x)    # TF: Mul's InvalidArgumentError
        n_res = int(np.prod(y_pred.shape[:-1])) if y_pred.ndim else 1
        if valid.size != n_res:     # Keras reshapes the mask to y_pred.shape[:-1]
            raise InvalidArgumentError(
                f"Input to reshape is a tensor with {valid.size} values, but the requested "
                f"shape has {n_res} (`y_true` {list(y_true.shape)} with ignore_class "
                f"against `y_pred` {list(y_pred.shape)})")
        x = np.where(np.expand_dims(valid, axis), x, x.dtype.type(0))
    if axis != -1 and axis != x.ndim - 1:
        raise ValueError(f"Only axis=-1 is currently supported. Received: axis={axis}")
    if yt.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            labels = np.trunc(yt).astype(np.int64)
    else:
        labels = yt.astype(np.int64, copy=False)
    if labels.ndim == x.ndim and labels.ndim and labels.shape[-1] == 1:
        labels = labels[..., 0]
    if x.ndim < 1:
        raise ValueError("Argument `output` must be at least rank 1. "
                         f"Received: output.shape={x.shape}")
    if labels.ndim != x.ndim - 1:
        raise ValueError("Argument `output` must have rank (ndim) `target.ndim - 1`. "
                         f"Received: target.shape={labels.shape}, output.shape={x.shape}")
    if labels.shape != x.shape[:-1]:
        raise ValueError("Arguments `target` and `output` must have the same shape up until"
                         f" the last dimension: target.shape={labels.shape}, "
                         f"output.shape={x.shape}")
    if from_logits:
        value, bwd = nn.sparse_softmax_cross_entropy_with_logits._cyloss_impl(
            _Renamed(ctx), labels, x)
    else:
        value, bwd = _sparse_on_probabilities(ctx, labels, x)
    if valid is not None:
        value = np.where(valid, value, value.dtype.type(0)).astype(value.dtype)
    if not ctx.grad or not ctx.wants("y_pred"):
        return value, valid, (lambda dv: {}) if ctx.grad else None

    def backward(dvalues):
        dv = dvalues
        if valid is not None:
            dv = np.where(valid, np.ones(valid.shape, value.dtype) if dv is None else dv,
                          value.dtype.type(0)).astype(value.dtype)
        g = bwd(dv)["logits"]
        if valid is not None:
            g = np.where(np.expand_dims(valid, -1), g, g.dtype.type(0))
        return {"y_pred": g}
    return value, valid, backward


def _sparse_on_probabilities(ctx, labels, p):
    """Keras' probability path: the sparse softmax xent of log(clip(p)), one
    compiled pass (pyx/_rows.pyx); backward(dv) -> {"logits": d/dp}."""
    dt = p.dtype
    x2 = np.ascontiguousarray(p).reshape(-1, p.shape[-1]) if p.size else \
        np.empty((labels.size, p.shape[-1]), dt)
    lab = np.ascontiguousarray(labels).reshape(-1)
    if x2.shape[1] == 0:
        raise InvalidArgumentError("Must have at least one class, but got logits shape "
                                   f"{list(p.shape)}")
    ck.check_label_range(lab, x2.shape[1])
    loss = np.empty(x2.shape[0], dt)
    dx = np.empty_like(x2) if ctx.wants("y_pred") else None
    nt = for_work(x2.size)
    _kernels.K.rows.k_sparse_prob_xent(x2, lab, float(EPSILON), loss, dx,
                                       np.empty((nt, x2.shape[1]), dt), nt)
    value = loss.reshape(labels.shape)
    if not ctx.grad:
        return value, None

    def backward(dv):
        if dv is not None:
            dv = np.ascontiguousarray(dv, dt).reshape(-1)
            _kernels.K.reduce.k_scale_rows(dx, dv, nt)
            with np.errstate(invalid="ignore"):
                bad = ~np.isfinite(dv)
            if bad.any():
                # clip's gradient (TF's where) is 0 outside [eps, 1 - eps] whatever
                # the upstream: a NaN or inf one gives 0 there, not 0 * inf
                lo = dt.type(EPSILON)
                xb = x2[bad]
                dx[bad] = np.where((xb >= lo) & (xb <= dt.type(1) - lo), dx[bad], dt.type(0))
        return {"logits": dx.reshape(p.shape)}
    return value, backward


def _categorical_generalized_cross_entropy(ctx, y_true, y_pred, q):
    dt = y_pred.dtype
    k = y_pred.shape[-1]
    with np.errstate(invalid="ignore"):
        ids = np.trunc(y_true).astype(np.int64) if y_true.dtype.kind == "f" \
            else y_true.astype(np.int64)
    onehot = (ids[..., None] == np.arange(k)).astype(dt)
    _shape(y_pred, onehot)      # TF: Mul's InvalidArgumentError naming both shapes
    p = ck.tf_sum(y_pred * onehot, axis=-1)
    # TF's CPU kernels flush denormals to zero (the product with the one-hot
    # already does): p^q and p^(q - 1) then see 0, as in TF
    p = np.where(np.abs(p) < np.finfo(dt).tiny, dt.type(0), p)
    qq = dt.type(q)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        values = (dt.type(1) - _c_pow(p, qq)) / qq
    if not ctx.grad:
        return values, None, None

    def backward(dvalues):
        dv = np.ones(values.shape, dt) if dvalues is None else ck.flush_denormals(np.asarray(dvalues, dt))
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            # TF's chain: RealDiv dv / q, Sub's negation, Pow's (grad q) p^(q - 1)
            dp = (-(dv / qq) * qq) * _c_pow(p, qq - dt.type(1))
            g = dp[..., None] * onehot
        return {"y_pred": ck.reduce_to(g, y_pred.shape).astype(dt)}    # (broadcast y_true)
    return values, None, backward


def _c_pow(x, e):
    """x ** e as C's pow (TF's): (-inf) ** e is +inf (e > 0) or +0 (e < 0)
    unless e is an odd integer, where NumPy gives NaN for non-integer e."""
    r = np.power(x, e)
    if float(e) == int(e) and int(e) % 2:
        return r
    return np.where(x == -np.inf, np.power(x.dtype.type(np.inf), e), r)


# -------------------------------------------------------- vector losses --

def _finite_sums(arrays):
    """True when every array's sum is finite (compiled, threaded): no NaN or
    inf in them (an overflowing sum only sends the caller to its exact path)."""
    R = _kernels.K.reduce
    for a in arrays:
        if a is None or not a.size:
            continue
        flat = a.reshape(-1)
        if not np.isfinite(R.k_sum(flat, np.empty(-(-flat.size // 4096), a.dtype), False,
                                   for_work(flat.size))):
            return False
    return True


def _l2_normalize(v, ax):
    """Keras' normalize: v * minimum(rsqrt(sum v^2), 1/eps); returns (n, r0, r)
    with r0 = rsqrt(sum v^2) (NaN stays NaN through the minimum, as TF's)."""
    dt = v.dtype
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        s = ck.tf_sum(v * v, axis=ax, keepdims=True)
        r0 = (dt.type(1) / np.sqrt(s)).astype(dt)
        r = np.where(r0 > dt.type(1.0 / EPSILON), dt.type(1.0 / EPSILON), r0).astype(dt)
        return v * r, r0, r


def _cosine_similarity(ctx, y_true, y_pred, axis=-1):
    # Keras normalizes each input over `axis` on its own shape, then multiplies
    # with broadcasting (inputs of different ranks: `axis` counts in each one's
    # own rank, then in the product's)
    yt, yp = same_rank(y_true, y_pred)
    shape = _shape(yt, yp)
    ax = _axis(axis, len(shape))
    at, ap = _axis(axis, yt.ndim), _axis(axis, yp.ndim)
    yt, yp = ck.flush_denormals(yt), ck.flush_denormals(yp)
    nt, rt0, rt = _l2_normalize(yt, at)
    npred, rp0, rp = _l2_normalize(yp, ap)
    with np.errstate(over="ignore", invalid="ignore"):
        values = -ck.tf_sum(nt * npred, axis=ax)
    if not ctx.grad:
        return values, None, None

    def grad_of(v, r0, r, gn, a):
        # TF's chain, op by op: n = v r gives gn r and sum(gn v) to r; the
        # minimum passes that where r0 <= 1/eps; rsqrt's gradient is
        # (-0.5 r0^2) (r0 dy) with 0 where a factor is 0 (TF's mul_no_nan);
        # the sum of squares sends it back as gs (v 2), so an overflowing
        # v 2 times a zero gs is NaN, as in TF
        dt = v.dtype
        zero = dt.type(0)
        inner = ck.tf_sum(gn * v, axis=a, keepdims=True)
        g0 = np.where(r0 <= dt.type(1.0 / EPSILON), inner, zero)
        b = np.where(g0 == 0, zero, r0 * g0)
        gs = np.where(b == 0, zero, (dt.type(-0.5) * (r0 * r0)) * b)
        return (gn * r + gs * (v * dt.type(2))).astype(dt)

    def backward(dvalues):
        dv = np.ones(values.shape, yp.dtype) if dvalues is None else dvalues
        dv = np.expand_dims(dv, ax)
        out = {}
        with np.errstate(over="ignore", invalid="ignore"):
            if ctx.wants("y_pred"):
                gn = ck.reduce_to(np.broadcast_to(-nt * dv, shape), yp.shape)
                out["y_pred"] = grad_of(yp, rp0, rp, gn, ap).reshape(y_pred.shape)
            if ctx.wants("y_true"):
                gn = ck.reduce_to(np.broadcast_to(-npred * dv, shape), yt.shape)
                out["y_true"] = grad_of(yt, rt0, rt, gn, at).reshape(y_true.shape)
        return out
    return values, None, backward


def _categorical_hinge(ctx, y_true, y_pred):
    dt = y_pred.dtype
    shape = _shape(y_true, y_pred)
    t = np.broadcast_to(ck.flush_denormals(y_true), shape)
    p = np.broadcast_to(ck.flush_denormals(y_pred), shape)
    if t.size == 0:
        raise InvalidArgumentError("Cannot compute the max of an empty tensor "
                                   f"(y_true {list(y_true.shape)}, y_pred {list(y_pred.shape)})")
    with np.errstate(over="ignore", invalid="ignore"):
        pos = ck.tf_sum(t * p, axis=-1)
        negs = ck.flush_denormals((dt.type(1) - t) * p)      # (a denormal product ties with 0 in TF)
        neg = np.max(negs, axis=-1)
        arg = neg - pos + dt.type(1)
        values = np.maximum(arg, dt.type(0))
    if not ctx.grad:
        return values, None, None

    def backward(dvalues):
        # TF's chain op by op: maximum's select (ties to `arg`), reduce_max's
        # even split of its gradient gu among ties, then the products
        # (1 - t) p and t p each apart, so terms overflow or give NaN (0 * inf)
        # where TF's do; each product's gradient is summed over the broadcast
        # axes on its own before the two are added (+inf from one and -inf
        # from the other stays a sum of two infinities, not a NaN per element)
        dv = np.ones(values.shape, dt) if dvalues is None else dvalues
        g = np.where(arg >= 0, dv, dt.type(0)).astype(dt)[..., None]
        ind = (negs == neg[..., None]).astype(dt)
        with np.errstate(over="ignore", invalid="ignore"):
            gu = (ind / np.sum(ind, axis=-1, keepdims=True, dtype=dt)) * g
            out = {}
            if ctx.wants("y_pred"):
                out["y_pred"] = (ck.reduce_to(gu * (dt.type(1) - t), y_pred.shape) +
                                 ck.reduce_to((-g) * t, y_pred.shape))
            if ctx.wants("y_true"):
                out["y_true"] = (-ck.reduce_to(gu * p, y_true.shape) +
                                 ck.reduce_to((-g) * p, y_true.shape))
        return out
    return values, None, backward


def _expand_for(g, axis, ndim):
    if axis is None:
        return g
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    axes = tuple(a % ndim for a in axes)
    return np.expand_dims(g, axes)


def _check_axes(axis, rank, what):
    """An `axis` (int or tuple) outside [-rank, rank) is TF's InvalidArgumentError
    ("Invalid reduction dimension"; NumPy's reductions would raise AxisError)."""
    if axis is None:
        return
    for a in (axis if isinstance(axis, (tuple, list)) else (axis,)):
        if not -rank <= int(a) < rank:
            raise InvalidArgumentError(f"Invalid reduction dimension {int(a)} for {what} "
                                       f"(rank {rank})")


def _dice(ctx, y_true, y_pred, axis=None):
    # the intersection on the broadcast grid, sum(y_true) and sum(y_pred) each
    # over its own shape (Keras)
    dt = y_pred.dtype
    shape = _shape(y_true, y_pred)
    _check_axes(axis, y_true.ndim, f"`y_true` of shape {list(y_true.shape)}")
    _check_axes(axis, y_pred.ndim, f"`y_pred` of shape {list(y_pred.shape)}")
    # TF's CPU reads denormal inputs as 0 (a denormal p times a large factor
    # of the gradient is 0 there, not a normal number)
    y_true, y_pred = ck.flush_denormals(y_true), ck.flush_denormals(y_pred)
    y, p = np.broadcast_to(y_true, shape), np.broadcast_to(y_pred, shape)
    inter = ck.tf_sum(y * p, axis=axis)
    den = ck.tf_sum(y_true, axis=axis) + ck.tf_sum(y_pred, axis=axis) + dt.type(EPSILON)
    _shape(inter, den)      # each summed on its own shape: TF's Div may not broadcast them
    values = np.asarray(dt.type(1) - (dt.type(2) * inter) / den, dt)
    if not ctx.grad:
        return values, None, None

    def backward(dvalues):
        dv = np.ones(values.shape, dt) if dvalues is None else np.asarray(dvalues, dt)
        # L = 1 - N/D, N = 2I, D = sum y + sum p + eps, TF's chain op by op:
        # dN = -dv / D, dI = 2 dN, dD = -dv ((-N / D) / D) (D^2 is never
        # formed: it would overflow where TF's quotients do not). The reduced
        # factors are denormal-flushed as TF's CPU kernels do (the elementwise
        # products are not: a denormal there is not amplified afterwards)
        fz = ck.flush_denormals
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            gq = -dv
            num = dt.type(2) * inter
            a = fz(dt.type(2) * fz(gq / den))
            b = fz(gq * fz(fz(-num / den) / den))
            out = {}
            for name, own, other in (("y_pred", y_pred, y), ("y_true", y_true, p)):
                if ctx.wants(name):
                    g_inter = ck.reduce_to(_expand_for(a, axis, len(shape)) * other, own.shape)
                    g_den = _expand_for(b, axis, own.ndim)       # every element of own's sum
                    g_den = ck.reduce_to(np.broadcast_to(
                        g_den, np.broadcast_shapes(g_den.shape, own.shape)), own.shape)
                    out[name] = (g_inter + g_den).reshape(own.shape)
        return out
    return values, None, backward


def _tversky(ctx, y_true, y_pred, alpha=0.5, beta=0.5, axis=None):
    dt = y_pred.dtype
    shape = _shape(y_true, y_pred)
    _check_axes(axis, len(shape), f"the broadcast of `y_true` {list(y_true.shape)} and "
                                  f"`y_pred` {list(y_pred.shape)}")
    # (TF's CPU reads denormal inputs as 0, see _dice)
    y_true, y_pred = ck.flush_denormals(y_true), ck.flush_denormals(y_pred)
    y, p = np.broadcast_to(y_true, shape), np.broadcast_to(y_pred, shape)
    al, be = dt.type(alpha), dt.type(beta)
    one = dt.type(1)
    tp = ck.tf_sum(y * p, axis=axis)
    fp = ck.tf_sum((one - p) * y, axis=axis)
    fn = ck.tf_sum(p * (one - y), axis=axis)
    den = tp + fp * al + fn * be + dt.type(EPSILON)
    values = np.asarray(one - tp / den, dt)
    if not ctx.grad:
        return values, None, None

    def backward(dvalues):
        dv = np.ones(values.shape, dt) if dvalues is None else np.asarray(dvalues, dt)
        # L = 1 - TP/den, den = TP + fp al + fn be + eps, TF's chain op by op
        # (den^2 is never formed; fp, fn get dden times al, be: 0 * inf is
        # NaN there as in TF); the reduced factors denormal-flushed as TF's
        # kernels do (the elementwise products are not amplified afterwards)
        fz = ck.flush_denormals
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            gq = -dv
            gden = fz(gq * fz(fz(-tp / den) / den))
            gtp = fz(fz(gq / den) + gden)
            gfp = _expand_for(fz(gden * al), axis, len(shape))
            gfn = _expand_for(fz(gden * be), axis, len(shape))
            gtp = _expand_for(gtp, axis, len(shape))
            out = {}
            # TP: y p, fp: (1 - p) y, fn: p (1 - y); TF adds the direct products'
            # terms first, the one through 1 - x last (bitwise TF's order)
            if ctx.wants("y_pred"):
                out["y_pred"] = ck.reduce_to(gtp * y + gfn * (one - y) + -(gfp * y),
                                             y_pred.shape)
            if ctx.wants("y_true"):
                out["y_true"] = ck.reduce_to(gtp * p + (one - p) * gfp + -(p * gfn),
                                             y_true.shape)
        return out
    return values, None, backward


def _softplus(x):
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def _masked_lse(z, mask):
    """logsumexp over axis 1 of where(mask, z, -inf), TF's way (a max shift
    that is 0 when the row has no entries), its exp(z - max) and their sum."""
    dt = z.dtype
    zz = np.where(mask, z, dt.type(-np.inf))
    m = np.max(zz, axis=1, keepdims=True) if zz.shape[1] else \
        np.full(zz.shape[:1] + (1,) + zz.shape[2:], -np.inf)
    m = np.where(np.isfinite(m), m, dt.type(0)).astype(dt)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        e = ck.flush_denormals(np.exp(zz - m))      # (TF's exp flushes them)
        s = ck.tf_sum(e.astype(dt, copy=False), axis=1, keepdims=True)
        lse = np.squeeze(np.log(s) + m, axis=1)
    return lse.astype(dt), e.astype(dt, copy=False), s[:, 0].astype(dt)


def _circle(ctx, y_true, y_pred, ref_labels=None, ref_embeddings=None, remove_diagonal=True,
            gamma=80, margin=0.4):
    dt = y_pred.dtype
    labels = _int32(y_true).reshape(-1)
    ref_e = y_pred if ref_embeddings is None else cast(numeric(ref_embeddings,
                                                               "ref_embeddings"), dt)
    ref_l = labels if ref_labels is None else _int32(numeric(ref_labels, "ref_labels"))
    ref_l = ref_l.reshape(-1)
    g, mg = dt.type(gamma), dt.type(margin)
    one = dt.type(1)
    try:
        m = _mm(y_pred, ref_e.T)
    except ValueError:          # TF: MatMul's InvalidArgumentError
        raise InvalidArgumentError(
            f"Matrix size-incompatible: `y_pred` {list(y_pred.shape)} times the transpose "
            f"of `ref_embeddings` {list(ref_e.shape)}") from None
    # products at a kink of what follows (max(1 - m, 0), pw0 >= 0, nw0 >= 0:
    # m = 1, 1 + margin, -margin; identical embeddings sit at m = 1) take
    # TF's bits, which decide where the gradient goes
    dist0 = one - mm.near_in_tf_order(m, y_pred, ref_e.T, (1, 1 + mg, -mg))
    dist = np.maximum(dist0, dt.type(0))
    pos = labels[:, None] == ref_l[None, :]
    try:
        np.broadcast_shapes(dist.shape, pos.shape)
    except ValueError:          # TF: Mul's InvalidArgumentError
        raise InvalidArgumentError(
            f"Incompatible shapes: {list(dist.shape)} vs. {list(pos.shape)} (the distances "
            f"of `y_pred` {list(y_pred.shape)} to `ref_embeddings` {list(ref_e.shape)} "
            f"against the pairs of `y_true` {list(labels.shape)} and `ref_labels` "
            f"{list(ref_l.shape)})") from None
    neg = ~pos
    if remove_diagonal:
        pos = pos & ~np.eye(labels.size, ref_l.size, dtype=bool)
    posf, negf = pos.astype(dt), neg.astype(dt)
    pw0 = (mg + dist) * posf
    pw = np.maximum(pw0, dt.type(0))
    nw0 = ((one + mg) - dist) * negf
    nw = np.maximum(nw0, dt.type(0))
    pd = mg - dist
    nd = (one - mg) - dist
    pwd = -one * g * pw * pd
    nwd = g * nw * nd
    lp, ep, sp_sum = _masked_lse(pwd, pos)
    ln, en, sn_sum = _masked_lse(nwd, neg)
    t = lp + ln
    with np.errstate(over="ignore", invalid="ignore"):
        # (a denormal softplus is 0 in TF: the mask loss > 0 drops that row)
        values = ck.flush_denormals(_softplus(t).astype(dt))
    mask = values > 0
    if not ctx.grad:
        return values, mask, None

    def backward(dvalues):
        # TF's chain op by op: softplus' dv / (exp(-t) + 1); each logsumexp's
        # dy * reciprocal(sum) times exp(z - max), passed by where() only where
        # the mask is set (0 elsewhere, even against an infinite pd: 0 * inf
        # is NaN in the products that follow, as in TF); pwd = (-g pw) pd and
        # nwd = (g nw) nd multiply each factor apart; maximum's gradient goes
        # to its first argument where it is >= 0 (NaN: nowhere). Denormals are
        # flushed where TF's would be and then amplified (the row factors and
        # their products with exp(z - max)). Of the four terms of d dist, one
        # side's pair is 0 or NaN: their order does not matter
        dv = np.ones(values.shape, dt) if dvalues is None else dvalues
        fz = ck.flush_denormals
        zero = dt.type(0)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            gt = fz(dv / (np.exp(-t) + one))
            gpwd = np.where(pos, fz(fz(gt * fz(one / sp_sum))[:, None] * ep), zero)
            gnwd = np.where(neg, fz(fz(gt * fz(one / sn_sum))[:, None] * en), zero)
            gpd = ck.reduce_to(fz((-g * pw) * gpwd), dist.shape)
            gpwa = ck.reduce_to(np.where(pw0 >= 0, fz(-g * fz(gpwd * pd)), zero) * posf,
                                dist.shape)
            gnd = ck.reduce_to(fz((g * nw) * gnwd), dist.shape)
            gnwa = ck.reduce_to(np.where(nw0 >= 0, fz(g * fz(gnwd * nd)), zero) * negf,
                                dist.shape)
            gdist = fz(gpwa - gpd - gnwa - gnd)
            gdist0 = np.where(dist0 >= 0, gdist, zero).astype(dt)   # max ties to dist0
            if y_pred.ndim == 2 and ref_e.ndim == 2:
                # MatMul's gradients as TF forms them: g @ (ref^T)^T and
                # (y_pred^T @ g)^T, with the transposes as operand flags
                gp_e = -mm.matmul(gdist0, ref_e.T, transpose_b=True)
                g_ref = -mm.matmul(y_pred, gdist0, transpose_a=True).T
            else:           # vectors or batches (matmul's promotions, as TF's)
                gp_e, g_ref = _matmul_grads(y_pred, ref_e.T, -gdist0)
                gp_e, g_ref = fz(gp_e), fz(g_ref.T)
            if ref_embeddings is None:
                return {"y_pred": fz(gp_e + g_ref).astype(dt)}
        return {"y_pred": gp_e.astype(dt), "ref_embeddings": g_ref.astype(dt)}
    return values, mask, backward


def _mm(a, b):
    """a @ b under matmul's rules (1-D operands promoted, batch axes
    broadcast), in TF's order of additions where terms may leave float32's
    range (_matmul: 2-D products as TF's MatMul; each matrix of a batch
    likewise). Denormal inputs and results are zeros (TF's kernels flush
    them)."""
    dt = np.result_type(a, b)
    a, b = np.asarray(a, dt), np.asarray(b, dt)
    if a.ndim == 2 and b.ndim == 2:
        if a.shape[1] != b.shape[0]:
            raise ValueError("matmul: mismatch in its core dimension")
        return mm.matmul(a, b)
    if a.ndim == 0 or b.ndim == 0 or a.size == 0 or b.size == 0:
        with np.errstate(over="ignore", invalid="ignore"):
            return ck.flush_denormals(a @ b)
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    if a2.shape[-1] != b2.shape[-2]:
        raise ValueError("matmul: mismatch in its core dimension")
    batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
    a3 = np.broadcast_to(a2, batch + a2.shape[-2:]).reshape((-1,) + a2.shape[-2:])
    b3 = np.broadcast_to(b2, batch + b2.shape[-2:]).reshape((-1,) + b2.shape[-2:])
    r = np.stack([mm.matmul(x, y) for x, y in zip(a3, b3)]).reshape(
        batch + (a2.shape[-2], b2.shape[-1]))
    if a.ndim == 1:
        r = r[..., 0, :]
    if b.ndim == 1:
        r = r[..., 0]
    return r


def _matmul_grads(a, b, g):
    """The gradients of a @ b for the upstream g under matmul's rules (a 1-D
    operand is promoted to a matrix and the added axis removed again; batch
    axes broadcast and their gradients are summed back)."""
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    g2 = np.asarray(g)
    if a.ndim == 1:
        g2 = np.expand_dims(g2, -2 if b.ndim > 1 else -1)
    if b.ndim == 1:
        g2 = np.expand_dims(g2, -1) if a.ndim > 1 else g2[..., None]
    ga = ck.reduce_to(_mm(g2, np.swapaxes(b2, -1, -2)), a2.shape).reshape(a.shape)
    gb = ck.reduce_to(_mm(np.swapaxes(a2, -1, -2), g2), b2.shape).reshape(b.shape)
    return ga, gb


def _int32(a):
    a = np.asarray(a)
    with np.errstate(invalid="ignore"):
        return np.trunc(a).astype(np.int32) if a.dtype.kind == "f" else a.astype(np.int32)


def _ctc(ctx, y_true, y_pred):
    if y_true.ndim != 2:
        raise ValueError("Targets `y_true` are expected to be a tensor of shape "
                         "`(batch_size, max_length)` in integer format. "
                         f"Received: y_true.shape={y_true.shape}")
    if y_pred.ndim != 3:
        raise ValueError("Logits `y_pred` are expected to be a tensor of shape "
                         "`(batch_size, max_length, num_classes)`. "
                         f"Received: y_pred.shape={y_pred.shape}")
    labels = _int32(y_true)
    b, t = y_pred.shape[:2]
    label_length = np.sum(labels != 0, axis=-1).astype(np.int32)
    logit_length = np.full(b, t, np.int32)
    wide = y_pred.dtype == np.float64

    def f32_range(a):
        # Keras runs TF's dense path on float32(y_pred) between two casts:
        # cyloss keeps float64 precision but takes float32's range at those
        # casts (logits, loss, cotangent, gradient beyond it become +-inf)
        a = np.asarray(a)
        if not wide:
            return a
        with np.errstate(over="ignore"):
            over = np.isinf(a.astype(np.float32)) & np.isfinite(a)
        return np.where(over, np.copysign(np.inf, a), a) if over.any() else a

    value, bwd = _nn_ctc.ctc_checked(
        _Renamed(ctx), labels, f32_range(y_pred), label_length, logit_length,
        logits_time_major=False, blank_index=0, check_labels=False)
    value = f32_range(value)
    if bwd is None:
        return value, None, None
    return value, None, lambda dv: {"y_pred": f32_range(
        bwd(None if dv is None else f32_range(dv))["logits"])}


# ------------------------------------------------------------ public forms --

def _public(sample, name, float_true=True, extra=(), doc=""):
    """The Keras function form of a per-sample function: y_pred float32/64,
    y_true cast to its dtype (kept as given for id labels), unreduced values.
    `extra`: further differentiated arguments the sample's backward returns."""
    wrt = (("y_true", "y_pred") if float_true else ("y_pred",)) + tuple(extra)

    def impl(ctx, y_true, y_pred, *args, **kwargs):
        yp = dense(ck.floating(y_pred, "y_pred"))
        yt0 = numeric(y_true, "y_true")
        yt = cast(yt0, yp.dtype) if float_true else yt0
        values, _mask, bwd = sample(ctx, yt, yp, *args, **kwargs)
        values = np.asarray(values)
        if not ctx.grad:
            return values, None

        def backward(dy):
            out = bwd(dy) if bwd is not None else {}
            res = {}
            if ctx.wants("y_pred") and out.get("y_pred") is not None:
                res["y_pred"] = np.asarray(out["y_pred"]).reshape(yp.shape)
            if (float_true and ctx.wants("y_true") and yt0.dtype.kind == "f"
                    and out.get("y_true") is not None):
                res["y_true"] = np.asarray(out["y_true"]).reshape(yt0.shape).astype(
                    yt0.dtype, copy=False)
            for k in extra:
                if ctx.wants(k) and out.get(k) is not None:
                    res[k] = out[k]
            return res
        return values, backward

    impl.__signature__ = inspect.signature(sample)
    impl.__name__ = impl.__qualname__ = name
    impl.__doc__ = doc or f"Keras' `{name}`: the unreduced per-sample loss."
    fn = differentiable(*wrt)(impl)
    fn._cyloss_sample = sample
    return fn


mean_squared_error = _public(_mean_squared_error, "mean_squared_error")
mean_absolute_error = _public(_mean_absolute_error, "mean_absolute_error")
mean_absolute_percentage_error = _public(_mean_absolute_percentage_error,
                                         "mean_absolute_percentage_error")
mean_squared_logarithmic_error = _public(_mean_squared_logarithmic_error,
                                         "mean_squared_logarithmic_error")
huber = _public(_huber, "huber")
log_cosh = _public(_log_cosh, "log_cosh")
poisson = _public(_poisson, "poisson")
kl_divergence = _public(_kl_divergence, "kl_divergence")
hinge = _public(_hinge, "hinge")
squared_hinge = _public(_squared_hinge, "squared_hinge")
categorical_hinge = _public(_categorical_hinge, "categorical_hinge")
cosine_similarity = _public(_cosine_similarity, "cosine_similarity")
binary_crossentropy = _public(_binary_crossentropy, "binary_crossentropy")
binary_focal_crossentropy = _public(_binary_focal_crossentropy, "binary_focal_crossentropy")
categorical_crossentropy = _public(_categorical_crossentropy, "categorical_crossentropy")
categorical_focal_crossentropy = _public(_categorical_focal_crossentropy,
                                         "categorical_focal_crossentropy")
sparse_categorical_crossentropy = _public(_sparse_categorical_crossentropy,
                                          "sparse_categorical_crossentropy", float_true=False)
categorical_generalized_cross_entropy = _public(_categorical_generalized_cross_entropy,
                                                "categorical_generalized_cross_entropy",
                                                float_true=False)
dice = _public(_dice, "dice")
tversky = _public(_tversky, "tversky")
circle = _public(_circle, "circle", float_true=False, extra=("ref_embeddings",))
ctc = _public(_ctc, "ctc", float_true=False)
