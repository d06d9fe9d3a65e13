"""tf.contrib.legacy_seq2seq.sequence_loss_by_example and sequence_loss on
Python lists of per-step arrays (TF_SEMANTICS.md sec. 3.2): the per-example
weighted log-perplexity, normalized by the example's own weight sum plus
1e-12 (not div_no_nan), and its sum (or mean) over the batch.

Without `softmax_loss_function` the steps are stacked into [T, B, C] and go
through the same fused compiled pass as cyloss.seq2seq (ce, ce * w and the
logits gradient pre-scaled by w / (sum_t w + 1e-12), zero-weight positions
skipped where TF's answer is exactly 0). Gradients come back as lists, one
array per step, under "logits" and "weights".
"""
import numpy as np

from . import _checks as ck
from ._autodiff import differentiable
from ._errors import InvalidArgumentError
from .seq2seq import custom_loss, same_bits, xent_rows

__all__ = ["sequence_loss_by_example", "sequence_loss"]

GUARD = 1e-12       # TF adds it to the weight sums (in the weights' dtype)


def _steps(seq, name):
    if seq is None:
        raise ValueError(f"`{name}` must be provided (got None)")
    try:
        return list(seq)
    except TypeError:
        raise TypeError(f"`{name}` must be a list of per-step arrays, got "
                        f"{type(seq).__name__}") from None


def _legacy(ctx, logits, targets, weights, avg_t, fn, batch):
    """batch: None (per example), "sum" or "mean" (sequence_loss)."""
    xs, ts, ws = _steps(logits, "logits"), _steps(targets, "targets"), _steps(weights, "weights")
    if len(ts) != len(xs) or len(ws) != len(xs):
        raise ValueError("Lengths of logits, weights, and targets must be the same %d, %d, %d."
                         % (len(xs), len(ws), len(ts)))
    n_t = len(xs)
    if n_t == 0:
        raise ValueError("sequence_loss needs at least one step (TF's add_n of an empty list "
                         "fails)")
    xs = [ck.floating(v, f"logits[{i}]") for i, v in enumerate(xs)]
    x0 = xs[0]
    for i, v in enumerate(xs):
        if v.ndim != 2:
            raise ValueError(f"logits[{i}] must be [batch, classes], got shape {v.shape}")
        if v.dtype != x0.dtype:
            raise TypeError(f"logits[{i}] has dtype {v.dtype} but logits[0] has {x0.dtype}")
        if v.shape != x0.shape:
            raise ValueError(f"every step needs logits of one shape: logits[{i}] has shape "
                             f"{v.shape}, logits[0] {x0.shape}")
    b, c = x0.shape
    dt = x0.dtype.type
    if fn is None:
        ts = [ck.int_labels(v, f"targets[{i}]") for i, v in enumerate(ts)]
        for i, v in enumerate(ts):
            if v.size != b:
                raise ValueError(f"targets[{i}] of shape {v.shape} does not match logits[{i}] "
                                 f"of shape {xs[i].shape} (TF flattens it to [batch])")
        if c == 0:
            raise InvalidArgumentError(f"Must have at least one class, but got logits shape "
                                       f"{[b, c]}")
    ws = [ck.same_dtype(v, f"weights[{i}]", x0, "logits") for i, v in enumerate(ws)]
    # TF computes in the logits' dtype with denormals flushed to zero: a
    # denormal weight multiplies and sums as 0 (the gradients still go to it)
    ws = [ck.flush_denormals(v) for v in ws]
    wshape = ws[0].shape
    for i, v in enumerate(ws):
        if v.shape != wshape or v.shape not in ((), (1,), (b,)):
            raise ValueError(f"weights[{i}] of shape {v.shape} (weights[0]: {wshape}) must be "
                             f"[batch] = ({b},) or a scalar, the same on every step")
    W0 = np.stack(ws)                                   # [T, *wshape]
    W = np.ascontiguousarray(np.broadcast_to(W0.reshape(n_t, -1), (n_t, b)))    # [T, B]
    with np.errstate(all="ignore"):
        den = ck.tf_add_n(W0) + dt(GUARD) if avg_t else None           # [*wshape]
    # the upstream of each example's log-perplexity for dy = 1
    with np.errstate(all="ignore"):
        up1 = np.full(b, dt(1) / dt(b) if batch == "mean" else dt(1), x0.dtype)
        g1 = ck.flush_denormals(up1 / den) if avg_t else up1            # [B] (TF: FTZ)
        f1 = ck.flush_denormals(g1[None, :] * W)    # each row's factor dce = g * w (TF's Mul)
    want_x, want_w = ctx.wants("logits"), ctx.wants("weights")
    lbwds = None
    if fn is None:
        X = np.ascontiguousarray(np.stack(xs)).reshape(n_t * b, c)
        lab = np.stack([np.ascontiguousarray(v).reshape(-1) for v in ts])     # [T, B]
        ck.check_label_range(lab, c)
        gscale = np.ascontiguousarray(f1.reshape(-1)) if want_x else None
        ce, cew, dx = xent_rows(want_x, want_w, X, lab.reshape(-1), W.reshape(-1), gscale)
        ce, cew = ce.reshape(n_t, b), cew.reshape(n_t, b)
    else:
        ces, lbwds = [], []
        for i in range(n_t):
            e, bw = custom_loss(want_x, fn, ts[i], xs[i], x0.dtype, b)
            ces.append(e)
            lbwds.append(bw)
        ce = np.stack(ces)
        with np.errstate(all="ignore"):
            cew = ce * W
        dx = None
    p = ck.tf_add_n(cew)                                                # [B]
    with np.errstate(all="ignore"):
        lp = p / den if avg_t else p
        if batch is None:
            value = lp
        else:
            cost = ck.tf_sum(lp)
            value = np.asarray(cost / dt(b) if batch == "mean" else cost, x0.dtype)
    if not ctx.grad:
        return value, None

    def backward(dy):
        out = {}
        # upstream of each example: dy (per example) or dy / B (mean) or dy (sum)
        # (TF's order: g = up / den, then each row's factor g * w; flushed as
        # TF's CPU does)
        if dy is None:
            up, g, f = up1, g1, f1
        else:
            dy = np.asarray(dy, x0.dtype)
            up = dy if batch is None else np.broadcast_to(
                ck.flush_denormals(dy / dt(b)) if batch == "mean" else dy, (b,))
            with np.errstate(all="ignore"):
                g = ck.flush_denormals(up / den) if avg_t else up
                f = ck.flush_denormals(g[None, :] * W)
        if want_x:
            if lbwds is None:       # rows already scaled by f1
                gx = dx
                if not same_bits(f, f1):
                    gx = xent_rows(True, False, X, lab.reshape(-1), W.reshape(-1),
                                   np.ascontiguousarray(f).reshape(-1))[2]
                g3 = gx.reshape(n_t, b, c)
                out["logits"] = [g3[i] for i in range(n_t)]
            else:
                out["logits"] = [np.asarray(lbwds[i](np.ascontiguousarray(f[i]))["logits"])
                                 for i in range(n_t)]
        if want_w:
            with np.errstate(all="ignore"):
                gw = ck.flush_denormals(ce * g[None, :])                # [T, B]
                gd = 0
                if avg_t:       # d(p / den)/d den, TF's order (a plain division)
                    gd = ck.divisor_grad(up, p, den)
                if wshape != (b,):      # each step's broadcast weight: its own sums
                    gw = np.stack([ck.tf_sum(r) for r in gw]).reshape((n_t,) + wshape)
                    gd = ck.tf_sum(gd).reshape(wshape) if avg_t else 0
                gw = np.asarray(gw + gd, x0.dtype)
            out["weights"] = [gw[i] for i in range(n_t)]
        return out
    return value, backward


@differentiable("logits", "weights")
def sequence_loss_by_example(ctx, logits, targets, weights, average_across_timesteps=True,
                             softmax_loss_function=None, name=None):
    """Weighted cross-entropy per example for lists of T per-step logits
    [B, C], targets [B] (int32/int64) and weights [B] (the logits' dtype):
    sum_t ce_t * w_t, divided by sum_t w_t + 1e-12 when
    average_across_timesteps. Returns [B]."""
    return _legacy(ctx, logits, targets, weights, average_across_timesteps,
                   softmax_loss_function, None)


@differentiable("logits", "weights")
def sequence_loss(ctx, logits, targets, weights, average_across_timesteps=True,
                  average_across_batch=True, softmax_loss_function=None, name=None):
    """The sum over the batch of sequence_loss_by_example, divided by the
    batch size B (a plain division: each example is first normalized by its
    own weight sum) when average_across_batch. Returns a scalar."""
    return _legacy(ctx, logits, targets, weights, average_across_timesteps,
                   softmax_loss_function, "mean" if average_across_batch else "sum")
