"""contrib.seq2seq.sequence_loss on [batch, time, classes] arrays, the final
contrib / TensorFlow Addons version (div_no_nan guards), TF_SEMANTICS.md sec. 3.1.

Without `softmax_loss_function` one compiled pass
(pyx/_softmax.pyx k_sparse_xent_weighted) computes, per position, the sparse
softmax cross-entropy ce, ce * w and the logits gradient already scaled by
TF's factor div_no_nan(1, D) * w (D: the weight sum or nonzero count the flags
divide by, known from the weights before the pass; the pass runs again for
another upstream dy, whose factor div_no_nan(dy, D) * w TF forms in that
order); positions of weight 0 skip the softmax where TF's answer is exactly 0
there. Denormal weights count as 0, as on TF's CPU. The reductions run in
NumPy on the small [B, T] arrays (the sums in TF's order). With a cyloss
loss function (anything carrying `_cyloss_impl`, e.g.
cyloss.nn.sparse_softmax_cross_entropy_with_logits) its implementation runs
with the caller's gradient request and its backward is chained; any other
callable gives values, and gradients with respect to the weights only.
"""
import numpy as np

from . import _checks as ck
from . import _kernels
from ._autodiff import VALUE_ONLY, Ctx, differentiable
from ._errors import InvalidArgumentError
from ._threads import for_work

__all__ = ["sequence_loss"]


def div_no_nan(a, b):
    """TF's div_no_nan: a / b, and 0 where b == 0 (even if a is NaN or inf)."""
    with np.errstate(all="ignore"):
        q = np.divide(a, b)
    return np.where(b == 0, q.dtype.type(0), q).astype(q.dtype, copy=False)


def xent_rows(ctx_logits, need_ce, x2, lab1, w1, gscale):
    """The fused pass over rows: (ce, ce * w, dlogits or None) for C-contiguous
    logits [N, C], checked labels [N] and weights [N]; dlogits rows are
    (softmax - onehot) * gscale when ctx_logits."""
    n = x2.shape[0]
    ce = np.empty(n, x2.dtype)
    cew = np.empty(n, x2.dtype)
    dx = np.empty_like(x2) if ctx_logits else None
    _kernels.K.softmax.k_sparse_xent_weighted(
        x2, lab1, w1, gscale if ctx_logits else None, ce, cew, dx, bool(need_ce),
        for_work(x2.size))
    return ce, cew, dx


def same_bits(a, b):
    """a and b (one shape and dtype) hold the same bits (NaN payloads, zero signs)."""
    return a is b or np.array_equal(np.ascontiguousarray(a).view(np.uint8),
                                    np.ascontiguousarray(b).view(np.uint8))


def custom_loss(ctx_logits, fn, labels, logits, dtype, n):
    """softmax_loss_function(labels=..., logits=...) as TF calls it: (ce,
    backward or None). A cyloss function runs its implementation (compiled,
    differentiable); any other callable gives values only."""
    impl = getattr(fn, "_cyloss_impl", None)
    if impl is None and ctx_logits:
        raise TypeError(
            f"gradients with respect to the logits through softmax_loss_function="
            f"{getattr(fn, '__name__', fn)!r} need a cyloss loss function (one carrying "
            f"`_cyloss_impl`, e.g. cyloss.nn.sparse_softmax_cross_entropy_with_logits); "
            f"a plain Python callable gives values and gradients with respect to the "
            f"weights only")
    if impl is None:
        ce, bwd = fn(labels=labels, logits=logits), None
    else:
        inner = Ctx(True, frozenset({"logits"})) if ctx_logits else VALUE_ONLY
        ce, bwd = impl(inner, labels=labels, logits=logits)
    ce = np.asarray(ce)
    if ce.shape != (n,):
        raise ValueError(f"softmax_loss_function must return the per-example loss of shape "
                         f"({n},), got shape {ce.shape} (logits shape {np.shape(logits)})")
    if ce.dtype != dtype:
        raise TypeError(f"softmax_loss_function returned {ce.dtype}, but the weights are "
                        f"{dtype}: TF's multiply needs one dtype")
    return ce, bwd


def _flags(avg_t, avg_b, sum_t, sum_b):
    """(mode, axis): TF's branch order, with its silent combinations
    (avg_t + sum_b is avg_t alone, avg_b + sum_t is avg_b alone)."""
    if avg_t and avg_b:
        return "avg", None
    if sum_t and sum_b:
        return "count", None
    if avg_t or avg_b:
        return "avg", 0 if avg_b else 1
    if sum_t or sum_b:
        return "count", 0 if sum_b else 1
    return "none", None


@differentiable("logits", "weights")
def sequence_loss(ctx, logits, targets, weights, average_across_timesteps=True,
                  average_across_batch=True, sum_over_timesteps=False, sum_over_batch=False,
                  softmax_loss_function=None, name=None):
    """Weighted cross-entropy of a sequence of logits [batch, time, classes]
    against targets [batch, time] (int32/int64) with weights [batch, time]
    (the logits' dtype).

    Reductions (TF's, with div_no_nan): average over time and batch -> scalar
    sum(ce * w) / sum(w); sum over both -> scalar sum(ce * w) / count_nonzero(w);
    one average -> [batch] (over time) or [time] (over batch), divided by the
    weight sums along that axis; one sum -> likewise with nonzero counts;
    none -> ce * w [batch, time]. average_x with sum_over_x raises ValueError;
    average_across_timesteps with sum_over_batch is average_across_timesteps,
    average_across_batch with sum_over_timesteps is average_across_batch (as
    in TF). softmax_loss_function(labels=[B*T], logits=[B*T, C]) -> [B*T]
    replaces the sparse softmax cross-entropy.
    """
    x = np.asarray(ck.require(logits, "logits"))
    t = np.asarray(ck.require(targets, "targets"))
    w_in = ck.require(weights, "weights")
    if x.ndim != 3:
        raise ValueError(f"Logits must be a [batch_size x sequence_length x logits] tensor, "
                         f"got shape {x.shape}")
    if t.ndim != 2:
        raise ValueError(f"Targets must be a [batch_size x sequence_length] tensor, got "
                         f"shape {t.shape}")
    if np.ndim(w_in) != 2:
        raise ValueError(f"Weights must be a [batch_size x sequence_length] tensor, got "
                         f"shape {np.shape(w_in)}")
    if average_across_timesteps and sum_over_timesteps:
        raise ValueError("average_across_timesteps and sum_over_timesteps cannot be set to "
                         "True at same time.")
    if average_across_batch and sum_over_batch:
        raise ValueError("average_across_batch and sum_over_batch cannot be set to True at "
                         "same time.")
    x = ck.floating(x, "logits")
    if softmax_loss_function is None:
        t = ck.int_labels(t, "targets")
    w = ck.same_dtype(w_in, "weights", x, "logits")
    b, n_t, c = x.shape
    # TF: the flattened targets fail the sparse xent's static shape check
    # (ValueError), the flattened weights the multiply at run time
    for nm, a, exc in (("targets", t, ValueError), ("weights", w, InvalidArgumentError)):
        if a.shape != (b, n_t):
            raise exc(f"`{nm}` of shape {a.shape} does not match the [batch, time] of "
                      f"logits of shape {x.shape}")
    if c == 0:
        raise InvalidArgumentError(f"Must have at least one class, but got logits shape "
                                   f"{list(x.shape)}")
    mode, ax = _flags(average_across_timesteps, average_across_batch, sum_over_timesteps,
                      sum_over_batch)
    dt = x.dtype.type
    # TF's CPU kernels treat denormal weights as 0 (DAZ) and flush denormal
    # results (FTZ): in ce * w, the sums and counts, and the gradient chain
    w = ck.flush_denormals(w)

    # denominators from the weights alone (before the pass)
    if mode == "avg":
        d = ck.flush_denormals(np.asarray(ck.tf_sum(w, axis=ax), x.dtype))    # TF's order
    elif mode == "count":
        d = np.asarray(np.count_nonzero(w, axis=ax), x.dtype)
    else:
        d = None

    def spread(v):
        """A per-group array ([], [T] for axis 0, [B] for axis 1) over [B, T]."""
        v = np.asarray(v, x.dtype)
        if ax == 0:
            return np.broadcast_to(v[None, :], (b, n_t))
        if ax == 1:
            return np.broadcast_to(v[:, None], (b, n_t))
        return np.broadcast_to(v, (b, n_t))

    def upstream(dy):
        """(g, g * w) for the upstream dy, in TF's order: g = div_no_nan(dy, D)
        spread over [B, T] (dy itself without a reduction); g * w is the
        factor of each row's softmax - onehot (the Mul's gradient), both
        flushed as TF's CPU does."""
        dy = np.asarray(dy, x.dtype)
        g = np.broadcast_to(dy, (b, n_t)) if d is None else \
            spread(ck.flush_denormals(div_no_nan(dy, d)))
        with np.errstate(all="ignore"):
            return g, ck.flush_denormals(g * w)

    want_x, want_w = ctx.wants("logits"), ctx.wants("weights")
    g1, f1 = upstream(np.ones((b, n_t) if d is None else d.shape, x.dtype))   # dy = 1
    x2 = np.ascontiguousarray(x).reshape(-1, c) if x.size else np.empty((b * n_t, c), x.dtype)
    w1 = np.ascontiguousarray(w).reshape(-1)
    lab1 = None
    lbwd = None
    if softmax_loss_function is None:
        lab1 = np.ascontiguousarray(t).reshape(-1)
        ck.check_label_range(np.ascontiguousarray(t), c)
        gscale = np.ascontiguousarray(f1).reshape(-1) if want_x else None
        ce, cew, dx = xent_rows(want_x, want_w, x2, lab1, w1, gscale)
    else:
        ce, lbwd = custom_loss(want_x, softmax_loss_function,
                               np.ascontiguousarray(t).reshape(-1), x2, x.dtype, b * n_t)
        with np.errstate(all="ignore"):
            cew = ce * w1
        dx = None
    cew2 = ck.flush_denormals(cew.reshape(b, n_t))
    s = ck.tf_sum(cew2, axis=ax) if mode != "none" else None
    value = cew2 if mode == "none" else \
        ck.flush_denormals(np.asarray(div_no_nan(s, d), x.dtype))
    if not ctx.grad:
        return value, None

    def backward(dy):
        out = {}
        g, f = (g1, f1) if dy is None else upstream(dy)
        if want_x:
            if lbwd is None:        # the fused pass scaled the rows by f1
                gx = dx
                if not same_bits(f, f1):
                    gx = xent_rows(True, False, x2, lab1, w1,
                                   np.ascontiguousarray(f).reshape(-1))[2]
                out["logits"] = gx.reshape(x.shape)
            else:
                out["logits"] = np.asarray(
                    lbwd(np.ascontiguousarray(f, x.dtype).reshape(-1))["logits"]
                ).reshape(x.shape)
        if want_w:
            ce2 = ce.reshape(b, n_t)
            with np.errstate(all="ignore"):
                gw = ck.flush_denormals(ce2 * g)
                if mode == "avg":       # d(S / D)/dD, TF's order (div_no_nan)
                    dyg = dt(1) if dy is None else np.asarray(dy, x.dtype)
                    gw = gw + spread(ck.divisor_grad(dyg, s, d, div_no_nan))
            out["weights"] = np.asarray(gw, x.dtype)
        return out
    return value, backward
