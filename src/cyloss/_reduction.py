"""Weighted reductions shared by tf.compat.v1.losses and tf.contrib.losses
(TF_SEMANTICS.md §2.1-2.2, §2.6).

`weighted(ctx, kind, a, b, weights, reduction)` computes a per-element loss
of (a, b) -- labels and predictions, or just given losses for kind
"identity" -- multiplies it by the broadcast weights and reduces it, with the
local gradients, in one compiled pass (pyx/_pointwise.pyx k_weighted). The
denominators come from the weights alone, before the pass, so the gradients
are scaled in the same pass.
"""
import numpy as np

from . import _kernels
from . import _checks as ck
from ._checks import reduce_to
from ._threads import for_work


class Reduction:
    """tf.compat.v1.losses.Reduction: the string keys of the six reductions."""
    NONE = "none"
    SUM = "weighted_sum"
    SUM_OVER_BATCH_SIZE = "weighted_sum_over_batch_size"
    MEAN = "weighted_mean"
    SUM_BY_NONZERO_WEIGHTS = "weighted_sum_by_nonzero_weights"
    SUM_OVER_NONZERO_WEIGHTS = SUM_BY_NONZERO_WEIGHTS

    @classmethod
    def all(cls):
        return (cls.NONE, cls.SUM, cls.MEAN, cls.SUM_OVER_BATCH_SIZE,
                cls.SUM_OVER_NONZERO_WEIGHTS, cls.SUM_BY_NONZERO_WEIGHTS)

    @classmethod
    def validate(cls, key):
        if key not in cls.all():
            raise ValueError(f"Invalid Reduction Key {key}. Key should be one of {cls.all()}")


def check_weights(weights, losses_shape, dtype):
    """Weights as an array of `dtype`: a scalar, or of the losses' rank with
    each dim 1 or equal to the losses' (TF's rule; ValueError otherwise)."""
    w = np.asarray(1.0 if weights is None else weights)
    if w.dtype.kind not in "biuf":
        raise TypeError(f"`weights` must be real, got {w.dtype}")
    if w.ndim and (w.ndim != len(losses_shape) or any(
            ws not in (1, ls) for ws, ls in zip(w.shape, losses_shape))):
        raise ValueError(f"weights can not be broadcast to values. values.shape="
                         f"{tuple(losses_shape)}, weights.shape={w.shape}")
    # C order: NumPy's sums over the weights (pairwise losses) round by layout
    w = w.astype(dtype, copy=False)
    return w if w.flags.c_contiguous else w.copy(order="C")


F32_TINY = float(np.finfo(np.float32).tiny)
F32_MAX = float(np.finfo(np.float32).max)


def flushed(w):
    """The weights as TF's reductions see them: tf.compat.v1.losses and
    tf.contrib.losses cast them to float32 (whatever the data's dtype) and
    TF's CPU kernels flush denormals to zero, so a weight below float32's
    smallest normal magnitude multiplies as 0 and is not counted as present."""
    return ck.flush_denormals(w, F32_TINY)


def _layout(w, shape):
    """(flat weights for the kernel, n_rows): a scalar, per-row weights
    (leading dims full, trailing ones: the [B, 1] case, read without
    broadcasting), or a full copy for any other broadcast pattern."""
    n = int(np.prod(shape))
    if w.size == 1:
        return w.reshape(1), 1
    if w.shape == tuple(shape):
        return np.ascontiguousarray(w).reshape(-1), 1
    k = len(shape)
    while k and w.shape[k - 1] == 1:
        k -= 1
    if w.shape[:k] == tuple(shape[:k]):
        return np.ascontiguousarray(w).reshape(-1), int(np.prod(shape[:k]))
    return np.ascontiguousarray(np.broadcast_to(w, shape)).reshape(-1), 1 if n else 0


def denominator(w, shape, reduction):
    """The divisor TF applies (after broadcasting w to `shape`)."""
    n = int(np.prod(shape))
    if reduction == Reduction.SUM:
        return 1.0
    if reduction == Reduction.SUM_OVER_BATCH_SIZE:
        return float(n)
    rep = n // w.size if w.size else 0          # each weight repeats rep times
    if reduction == Reduction.MEAN:
        if not rep:                     # no losses: sum(ones_like(losses) * w) = 0
            return 0.0
        with np.errstate(over="ignore", invalid="ignore"):
            big = not float(np.sum(np.abs(w), dtype=np.float64)) * rep <= F32_MAX / 2
        if big:     # partial sums may leave float32's range (or a weight is inf /
            # NaN): TF's float32 reduce_sum(ones_like(losses) * weights), in its
            # order, decides inf, -inf or NaN (or the rounding near the max)
            with np.errstate(over="ignore", invalid="ignore"):
                d = float(ck.tf_sum(np.broadcast_to(w, shape).astype(np.float32)))
            return d if abs(d) >= F32_TINY or d != d else 0.0
        d = float(np.sum(w, dtype=np.float64)) * rep
        # div_no_nan tests its float32 divisor against 0 after flushing
        return d if abs(d) >= F32_TINY or d != d else 0.0
    return float(np.count_nonzero(w)) * rep       # SUM_BY_NONZERO_WEIGHTS


# kinds whose kernel takes TF's upstream (weight x dy / D) into the chain in
# TF's order (pyx/_pointwise.pyx v1_chain): their gradients are computed in
# backward, by a second pass with dy known, so that the same products
# overflow or become NaN as in TF
_CHAINED = frozenset(("hinge", "huber", "log_loss", "sigmoid", "squared_difference"))


def weighted(ctx, kind, a, b, weights, reduction, p1=0.0, names=("labels", "predictions"),
             count=None, lead=None):
    """(value, backward) of reduce(loss_kind(a, b) * weights).

    a, b: C-contiguous arrays of one float dtype and one shape (for kind
    "identity", a is b). weights: as check_weights returns. backward(dy)
    returns {names[0]: dL/da, names[1]: dL/db, "weights": dL/dw} for the
    names ctx wants (a None name is never returned); D == 0 gives 0 and
    passes 0 upstream (div_no_nan), so the gradients are 0 except where a
    local derivative is NaN or infinite. Weights below float32's smallest
    normal count as 0 (see `flushed`).

    count: the divisor to use instead of the reduction's own (contrib's
    number of present elements; `reduction` is then only told apart from
    NONE and MEAN), so the gradients are scaled by 1 / count in the pass, as
    TF scales its upstream before the local gradients. lead: contrib's
    weights align with the first `lead` dims and TF sums the losses over the
    others BEFORE weighting (_lead_sums): the value is that sum times the
    weights, summed, and the weights' gradient takes the same row sums (an
    overflowing sum times a zero upstream is NaN, as in TF).
    """
    Reduction.validate(reduction)
    shape, dtype = b.shape, b.dtype
    n = b.size
    w = flushed(weights)
    wflat, n_rows = _layout(w, shape)
    none = reduction == Reduction.NONE
    d = 1.0 if none else (denominator(w, shape, reduction) if count is None else float(count))
    want_a = names[0] is not None and ctx.wants(names[0])
    want_b = ctx.wants(names[1])
    want_w = ctx.wants("weights")
    live = d != 0.0
    chained = kind in _CHAINED
    gscale = 1.0 if none else (1.0 / d if live else 0.0)
    K = _kernels.K.pointwise
    params = np.array([p1, 0, 0, 0], dtype)

    def factor(dy):
        # TF's div_no_nan(dy, D), the upstream of every weighted loss before
        # its weight: 0 when D == 0, and a result below float32's smallest
        # normal is flushed to 0 (TF computes these losses in float32, FTZ)
        t = dtype.type
        if not live:
            return t(0)
        with np.errstate(all="ignore"):
            f = (t(1) if dy is None else t(dy)) / t(d)
        return t(0) if abs(f) < F32_TINY else f

    f1 = None if none else factor(None)
    if not none and f1 == 0:        # 1 / D flushed: the upstream is 0 (0 w)
        gscale = 0.0

    def run(wf, rows, gs, wl, raw, da, db):
        nt = for_work(n)
        inner = n // rows if rows else 0
        partials = np.empty(max(1, rows * -(-inner // K.WEIGHTED_BLOCK)), dtype)
        junk = np.empty((nt, 4 * K.WEIGHTED_BLOCK), dtype)
        return K.k_weighted(K.KINDS[kind], a.reshape(-1), b.reshape(-1), wf, max(rows, 1),
                            params, gs, wl, raw, da, db, junk, partials, nt)

    contrib = lead is not None and not none
    # float32: TF's reduce_sum(L * w) in its order (tf_sum of the pass' L * w),
    # where partial sums near the max decide inf, -inf or NaN even when the
    # pass' own block order stays finite. (float64 data: TF sums in float32,
    # where it overflows first; the pass' order, and TF's only on overflow.)
    tf_order = not none and not contrib and dtype == np.float32
    wl = np.empty(n, dtype) if none or tf_order else None
    raw = np.empty(n, dtype) if want_w or contrib else None
    da = np.empty(n, dtype) if want_a else None
    db = np.empty(n, dtype) if want_b else None
    if chained and not none:        # the upstream for dy = 1, in TF's dtype: 1 / D
        gscale = f1
    s = run(wflat, n_rows, gscale, wl, raw, da, db)
    inner = None
    if contrib:                     # TF 1 contrib's order: sum(sum(L, past lead) * w)
        inner, s = _lead_sums(raw.reshape(shape), w, lead)
    elif tf_order:
        with np.errstate(over="ignore", invalid="ignore"):
            s = ck.tf_sum(wl)
    elif not none and not np.isfinite(s):
        # the pass' block order overflowed: TF's order of reduce_sum(L * w)
        # decides between inf, -inf and NaN (a second pass for L * w, only here)
        wl2 = np.empty(n, dtype)
        run(wflat, n_rows, gscale, wl2, None, None, None)
        with np.errstate(over="ignore", invalid="ignore"):
            s = ck.tf_sum(wl2)
    if none:
        value = wl.reshape(shape)
    else:
        value = ck.flush_denormals(np.asarray(s / dtype.type(d) if live else 0.0, dtype))
    if not ctx.grad:
        return value, None

    def chained_grads(dy):
        # TF's upstream of each element: dy w (NONE) or (dy / D) w
        ga = np.empty(n, dtype) if want_a else None
        gb = np.empty(n, dtype) if want_b else None
        with np.errstate(all="ignore"):
            if none:
                wd = np.broadcast_to(w, shape) if dy is None else np.broadcast_to(w, shape) * dy
                run(np.ascontiguousarray(wd, dtype).reshape(-1), 1, 1.0, None, None, ga, gb)
            else:
                run(wflat, n_rows, factor(dy), None, None, ga, gb)
        return ga, gb

    def backward(dy):
        out = {}
        ones = dy is None or bool(np.all(np.asarray(dy) == 1))
        # chained kinds: the forward pass' gradients are TF's for dy = 1 (the
        # usual case, one pass); another dy runs the kernel again with it, as
        # do NONE's (TF's upstream of each element is dy w, formed first: a
        # product that overflows times a zero derivative is NaN) and the other
        # kinds where dy / D is flushed to 0 and 1 / D is not (or the
        # reverse): their gradients are then scaled by that factor
        fq = None if none else factor(dy)
        flip = not chained and not none and (fq == 0) != (f1 == 0)
        redo = (chained or flip or none) and (want_a or want_b) and not ones
        ga, gb = chained_grads(dy) if redo else (da, db)
        if dy is not None and not chained and not ones and not redo:
            # a scalar upstream; not in place: the pass' arrays serve every
            # call of backward
            ga, gb = (None if g is None else
                      (g.reshape(shape) * dy).astype(dtype, copy=False).reshape(-1)
                      for g in (ga, gb))
        for name, g in ((names[0], ga), (names[1], gb)):
            if name is not None and ctx.wants(name):
                out[name] = g.reshape(shape)
        if want_w:
            with np.errstate(invalid="ignore"):         # 0 * inf is TF's NaN too
                out["weights"] = _weights_grad(raw, s, d, dy, shape, w, reduction, inner, fq)
        return out
    return value, backward


def _lead_sums(L, w, lead):
    """TF 1 contrib's weighting (its _scale_losses): the losses L summed over
    the dims past the first `lead` (the weights' rank) FIRST, then times the
    weights w (L's rank, 1 past `lead`), then summed, each sum in TF's order
    (tf_sum). So an overflowing sum of the losses times a small weight is
    inf, and a zero loss times an infinite weight does not make a NaN unless
    its whole row sums to 0, as in TF. Returns (the row sums keeping L's
    rank, the total as a 0-d array)."""
    with np.errstate(over="ignore", invalid="ignore"):
        inner = ck.tf_sum(L, axis=tuple(range(lead, L.ndim)), keepdims=True) \
            if lead < L.ndim else L
        return inner, ck.tf_sum(inner * w)


def _weights_grad(raw, s, d, dy, shape, w, reduction, inner=None, fq=None):
    """dL/dw: the (unweighted) losses times the upstream factor fq (TF's
    dy / D, flushed), summed back over the broadcast axes; MEAN also
    differentiates its denominator sum(w). inner: contrib's losses already
    summed past the weights' dims (_lead_sums), which is what its weights
    multiply."""
    # (a denormal loss is 0 to TF's Mul: its weight gets 0, not loss / D)
    g = ck.flush_denormals(raw.reshape(shape) if inner is None else inner)
    if reduction == Reduction.NONE:
        g = g if dy is None else g * dy
    elif d == 0:                        # div_no_nan passes 0 to both its inputs
        g = g * raw.dtype.type(0)
    else:
        f = 1.0 if dy is None else dy
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            # (dy / D flushed to 0 by TF: 0 times the losses, NaN where inf)
            g = g * (f / d) if fq is None or fq != 0 else g * raw.dtype.type(0)
            if reduction == Reduction.MEAN:
                # TF's div_no_nan gradient, dy ((-S / D) / D) in the dtype (d * d
                # would underflow for a tiny d; a quotient past the dtype's
                # max is inf there, and inf - inf NaN against the other term)
                t = raw.dtype.type
                g = g + t(f) * ck.flush_denormals(
                    ck.flush_denormals(-t(s) / t(d)) / t(d))
    return reduce_to(g, w.shape)


__all__ = ["Reduction"]
