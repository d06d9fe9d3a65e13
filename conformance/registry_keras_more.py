"""Conformance entries for the rest of `cyloss.keras` (tf.keras.losses of TF
2.21 / Keras 3.15, TF_SEMANTICS.md sec. 4): the regression, margin,
distribution and overlap losses as classes and function forms, the `Loss`
base class, the legacy `Reduction` constants, and `get` / `serialize` /
`deserialize`. The shared pieces (oracles, the class adapter, the Keras
Narrowing, sample weights, the weighting/reduction scale `keras_reduce`)
come from samples_keras.py.

Per loss a model (`_m_*`) computes, in float64 NumPy on Keras' own shapes
(rank fix of 4.1 step 2 where Keras applies it, then NumPy broadcasting),
the per-sample values L, the magnitude T of the terms their error comes
from, and a `back(G, GT)` giving, per differentiated input, the scale of
its gradient from the upstream G (and GT, the magnitude of G's error) that
`keras_reduce` returns. Rounding of an input to the dtype TF computes in
(float64 data in a float32 Keras class, float64 y_true given to a float32
y_pred) adds `n * |input| * |d/d input|` terms (`_Ctx.n*`): a Narrowing never
loosens k, the scale says what float32 inputs can move. Where that rounding
may decide a branch (a sign, a margin, a clip bound, a max among ties) the
derivative may differ by its whole size: `_flip`. Sums of n terms carry
acc(n) (registry.py).

Randomized: ranks 1-4 (cosine/Dice/Tversky with every axis form), y_true of
the same shape, rank-fixed ([B..] vs [B..,1] either way), broadcast (size-1
dims) or incompatible (an error case); values per loss domain with exact
kinks (e == 0, |e| == delta, hinge margins 0, zero vectors, y_true == 0 at
the MAPE/MSLE/KLD clips, argmax ties); every reduction, every sample_weight
shape Keras accepts (samples_keras), dtype None / float32 / float64, float32
and float64 inputs; gradients w.r.t. y_pred, y_true, sample_weight with a
random dy.
"""
import numpy as np
from hypothesis import strategies as st

from . import oracle
from . import samples_keras as sk
from .compare import compare, fin
from .registry import Entry, Tol, _add, acc, err, reduce_abs_to
from .registry_losses import compare_validate
from .samples import Case, Expect, _budget, _common, _dims, real_values

K_EPS = 1e-7


def _eps(dt):
    return float(np.finfo(dt).eps)


# ------------------------------------------------------------ model input --

def _rank_fix(a, b):
    return sk._rank_fix(a, b)


class _Ctx:
    """A case's inputs as Keras sees them: rank fix (classes, and the function
    forms that apply it themselves), broadcast grid, the dtype TF computes in
    and which inputs TF rounds to it (n_y, n_p in units of that dtype's eps)."""

    def __init__(self, case, rankfix, is_class):
        y0, p0 = np.asarray(case.args["y_true"]), np.asarray(case.args["y_pred"])
        self.ys0, self.ps0 = y0.shape, p0.shape
        if is_class:
            tf_dt = case.options.get("dtype") or "float32"
        else:
            tf_dt = str(p0.dtype)
        self.tf_dt = np.dtype(tf_dt)
        e = _eps(self.tf_dt)
        self.ny = 1.0 if y0.dtype.kind == "f" and _eps(y0.dtype) < e else 0.0
        # below this a label is 0 to TF (its CPU reads denormals as 0; a cast
        # between float32 and float64 flushes those of either type)
        self.y_tiny = max(float(np.finfo(self.tf_dt).tiny),
                          float(np.finfo(y0.dtype).tiny) if y0.dtype.kind == "f" else 0.0)
        self.np_ = 1.0 if p0.dtype.kind == "f" and _eps(p0.dtype) < e else 0.0
        ys, ps = (_rank_fix(self.ys0, self.ps0) if rankfix else (self.ys0, self.ps0))
        self.ys, self.ps = ys, ps
        self.y = fin(y0).reshape(ys)
        self.p = fin(p0).reshape(ps)
        self.grid = tuple(np.broadcast_shapes(ys, ps))
        self.yb = np.broadcast_to(self.y, self.grid)
        self.pb = np.broadcast_to(self.p, self.grid)
        # the raw inputs (non-finite values kept), for models that clip first
        self.y_raw = np.broadcast_to(y0.reshape(ys), self.grid)
        self.p_raw = np.broadcast_to(p0.reshape(ps), self.grid)
        self.o = case.options
        self.flipv = 2.0 / e        # a branch decided otherwise: the whole derivative

    def to_y(self, s):
        return self._to(s, self.ys, self.ys0)

    def to_p(self, s):
        return self._to(s, self.ps, self.ps0)

    @staticmethod
    def _to(s, fixed, orig):
        s = np.broadcast_to(s, np.broadcast_shapes(np.shape(s), fixed))
        r, m = reduce_abs_to(s, fixed)
        return np.where(np.isfinite(r), r * (1 + acc(m)), np.inf).reshape(orig)


def _flip(c, mask, mag):
    """Scale term where float rounding may take the other branch."""
    return np.where(np.asarray(mask, bool), c.flipv * np.abs(mag), 0.0)


# ------------------------------------------------- elementwise-mean models --
# elem(c) -> (f, T, (dfp, Tfp), (dfy, Tfy)) on the grid; the loss is the mean
# of f over the last axis.

def _mean_last(elem):
    def model(c):
        f, T, (dp, Tp), (dy, Ty) = elem(c)
        K = f.shape[-1] if f.ndim else 1
        with np.errstate(all="ignore"):
            L = f.mean(-1) if K else np.full(f.shape[:-1], np.nan)
            TL = (T.sum(-1) + acc(K) * np.abs(f).sum(-1)) / max(K, 1)

        def back(G, GT):
            Ge, GTe = G[..., None] / max(K, 1), GT[..., None] / max(K, 1)
            return {"y_pred": c.to_p(sk.chain(dp, Tp, Ge, GTe)),
                    "y_true": c.to_y(sk.chain(dy, Ty, Ge, GTe))}
        return L, TL, back
    return model


def _R(c):
    """What rounding the inputs to TF's dtype can move e = p - y by (in eps)."""
    return c.ny * np.abs(c.yb) + c.np_ * np.abs(c.pb)


def _e_mse(c):
    e = c.pb - c.yb
    R = _R(c)
    # e^2 with e off by eps*R: 2|e| R + eps R^2 (the second-order term matters at e ~ 0)
    return (e * e, e * e + 2 * np.abs(e) * R + _eps(c.tf_dt) * R * R,
            (2 * e, 2 * np.abs(e) + 2 * R),
            (2 * e, 2 * np.abs(e) + 2 * R))


def _e_mae(c):
    e = c.pb - c.yb
    R = _R(c)
    one = np.ones_like(e)
    amb = (R > 0) & (np.abs(e) <= 4 * _eps(c.tf_dt) * R)
    return (np.abs(e), np.abs(e) + R, (one, _flip(c, amb, one)), (one, _flip(c, amb, one)))


def _e_mape(c):
    y, p = c.yb, c.pb
    m = np.maximum(np.abs(y), K_EPS)
    d = y - p
    f = 100 * np.abs(d) / m
    R = _R(c)
    e = _eps(c.tf_dt)
    amb = (R > 0) & (np.abs(d) <= 4 * e * R)
    near = (c.ny > 0) & (np.abs(np.abs(y) - K_EPS) <= 4 * e * K_EPS)    # the eps clip bound
    T = f * (2 + c.ny) + 100 * R / m
    dp = 100 / m
    Tp = dp * (2 + c.ny) + _flip(c, amb, dp)
    over = np.abs(y) >= K_EPS         # the |y_true| path of max(|y|, eps)
    dyv = 100 / m + f / m * over
    Ty = (100 / m + f / m * over) * (3 + c.ny) + 100 * R / m / m * over + _flip(c, amb, dp) + \
        _flip(c, near, f / m)
    return f, T, (dp, Tp), (dyv, Ty)


def _e_msle(c):
    y, p = c.yb, c.pb
    qp, qy = np.maximum(p, K_EPS), np.maximum(y, K_EPS)
    with np.errstate(all="ignore"):
        a, b = np.log(qp + 1), np.log(qy + 1)
        d = a - b
        # log(q + 1): q + 1 is rounded (absolute eps), log ~2 ulp of |a|; TF's float64
        # MSLE clips at float32's 1e-7 widened (1.0000000116860974e-07): an absolute
        # 1.2e-15 in a, inside the "+1" term
        ea = 2 + 2 * np.abs(a) + c.np_ * np.abs(qp) / (qp + 1)
        eb = 2 + 2 * np.abs(b) + c.ny * np.abs(qy) / (qy + 1)
        # second order: d = a - b is off by eps*(ea + eb) even where d == 0 (TF's float32
        # log of a 1-element tensor and of a vectorized one differ by an ulp)
        T = d * d + 2 * np.abs(d) * (ea + eb) + _eps(c.tf_dt) * (ea + eb) ** 2
        e = _eps(c.tf_dt)
        ambp = (c.np_ > 0) & (np.abs(p - K_EPS) <= 4 * e * K_EPS)
        amby = (c.ny > 0) & (np.abs(y - K_EPS) <= 4 * e * K_EPS)
        dp = 2 * d / (qp + 1) * (p >= K_EPS)
        dyv = -2 * d / (qy + 1) * (y >= K_EPS)
        Tp = 2 * (ea + eb + np.abs(d)) / (qp + 1) + _flip(c, ambp, 2 * d / (qp + 1))
        Ty = 2 * (ea + eb + np.abs(d)) / (qy + 1) + _flip(c, amby, 2 * d / (qy + 1))
    return d * d, T, (dp, Tp), (dyv, Ty)


def _e_huber(c, delta):
    e = c.pb - c.yb
    a = np.abs(e)
    R = _R(c)
    ad = abs(delta)
    quad = a <= delta
    f = np.where(quad, 0.5 * e * e, delta * a - 0.5 * delta * delta)
    # quadratic branch: e^2 rounded; linear: delta*|e| - delta^2/2 (no cancellation
    # beyond its two terms); rounding the inputs moves e by R, f by min(|e|,|delta|) R
    T = np.where(quad, e * e, ad * a + ad * ad) + 2 * np.minimum(a, ad) * R
    loc = np.where(quad, e, delta * np.sign(e))
    amb = (R > 0) & (a <= 4 * _eps(c.tf_dt) * R) & (delta < 0)      # sign(e) with delta < 0
    Tl = np.where(quad, a, 0) + R + _flip(c, amb, ad)
    return f, T, (loc, Tl), (loc, Tl)


def _e_logcosh(c):
    e = c.pb - c.yb
    R = _R(c)
    with np.errstate(all="ignore"):
        sp = np.logaddexp(0, -2 * e)
        f = e + sp - np.log(2.0)
        th = np.tanh(e)
        s = 1 / (1 + np.exp(2 * e))     # sigmoid(-2e)
    T = np.abs(e) + sp + np.log(2.0) + np.abs(th) * R
    Tl = 1 + 2 * s + (1 - th * th) * R
    return f, T, (th, Tl), (th, Tl)


def _hinge_t(c):
    # (Keras tests the labels as given: a NaN or inf label is not binary)
    y = np.asarray(c.y_raw, np.float64)
    binary = bool(np.all((np.abs(y) < c.y_tiny) | (y == 1))) if y.size else True
    return (2 * c.yb - 1, 2.0) if binary else (c.yb, 1.0)


def _e_hinge(c):
    t, ky = _hinge_t(c)
    p = c.pb
    m = 1 - t * p
    R = c.ny * np.abs(c.yb) * ky * np.abs(p) + c.np_ * np.abs(t * p)
    T = 1 + np.abs(t * p) + R
    amb = np.abs(m) <= 4 * _eps(c.tf_dt) * (1 + np.abs(t * p) + R)
    act = m >= 0            # maximum(m, 0): a tie goes to m
    dp = -t * act
    dyv = -ky * p * act
    return (np.maximum(m, 0), T, (dp, _flip(c, amb & (R > 0), t) + np.abs(t) * (R > 0)),
            (dyv, _flip(c, amb & (R > 0), ky * p) + ky * np.abs(p)))


def _e_sqhinge(c):
    t, ky = _hinge_t(c)
    p = c.pb
    m = 1 - t * p
    R = c.ny * np.abs(c.yb) * ky * np.abs(p) + c.np_ * np.abs(t * p)
    h = np.maximum(m, 0)
    Tm = 1 + np.abs(t * p) + R
    T = h * h + 2 * h * Tm + _eps(c.tf_dt) * Tm * Tm * (m > -4 * _eps(c.tf_dt) * Tm)
    Tl = 2 * Tm
    return (h * h, T, (-2 * t * h, np.abs(t) * Tl), (-2 * ky * p * h, ky * np.abs(p) * Tl))


def _e_poisson(c):
    y, p = c.yb, c.pb
    with np.errstate(all="ignore"):
        q = p + K_EPS
        lg = np.log(q)
        f = p - y * lg
        rp = np.abs(p) / np.abs(q)
        T = np.abs(p) + np.abs(y) * (2 * np.abs(lg) + 1) + \
            c.np_ * (np.abs(p) + np.abs(y) * rp) + c.ny * np.abs(y * lg)
        dp = 1 - y / q
        Tp = 1 + np.abs(y) / np.abs(q) * (3 + c.np_ * rp + c.ny)
        dyv = -lg
        Ty = 2 * np.abs(lg) + 1 + c.np_ * rp
    return f, T, (dp, Tp), (dyv, Ty)


# --------------------------------------------------------- axis models -----

def _m_kld(c):
    y, p = c.yb, c.pb
    # TF clips first: an infinite input is a term of size 1 or K_EPS (NaN: 0,
    # its position is compared exactly)
    cy = fin(np.clip(c.y_raw.astype(np.float64), K_EPS, 1))
    cp = fin(np.clip(c.p_raw.astype(np.float64), K_EPS, 1))
    with np.errstate(all="ignore"):
        lr = np.log(cy / cp)
        f = cy * lr
    K = f.shape[-1] if f.ndim else 1
    n = c.ny + c.np_
    L = f.sum(-1)
    TL = (cy * (2 * np.abs(lr) + 2 + 2 * n)).sum(-1) + acc(K) * np.abs(f).sum(-1)
    e = _eps(c.tf_dt)

    def edge(v, nv):
        return (nv > 0) & ((np.abs(v - K_EPS) <= 4 * e * K_EPS) | (np.abs(v - 1) <= 4 * e))
    inp, iny = (p >= K_EPS) & (p <= 1), (y >= K_EPS) & (y <= 1)
    dp, dyv = -cy / cp * inp, (lr + 1) * iny
    Tp = cy / cp * (3 + 2 * n) + _flip(c, edge(p, c.np_), cy / cp)
    Ty = np.abs(lr) * 2 + 3 + 2 * n * (1 + np.abs(lr)) + _flip(c, edge(y, c.ny), lr + 1)

    def back(G, GT):
        Ge, GTe = G[..., None], GT[..., None]
        return {"y_pred": c.to_p(sk.chain(dp, Tp, Ge, GTe)),
                "y_true": c.to_y(sk.chain(dyv, Ty, Ge, GTe))}
    return L, TL, back


def _m_cathinge(c):
    y, p = c.yb, c.pb
    K = p.shape[-1] if p.ndim else 1
    e = _eps(c.tf_dt)
    u = (1 - y) * p
    if K == 0:
        L = np.maximum(-np.inf - 0 + 1, 0) * np.ones(p.shape[:-1])
        z = np.zeros(p.shape[:-1])

        def back0(G, GT):
            return {"y_pred": c.to_p(np.zeros(c.grid)), "y_true": c.to_y(np.zeros(c.grid))}
        return L, z, back0
    neg = u.max(-1)
    pos = (y * p).sum(-1)
    m = neg - pos + 1
    n = c.ny + c.np_
    Mu = ((1 + np.abs(y)) * np.abs(p))
    Tm = 1 + np.abs(neg) + (acc(K) + 2 * n + 2) * (np.abs(y * p).sum(-1) + Mu.max(-1))
    L = np.maximum(m, 0)
    act = (m >= 0)[..., None]
    tie = u == neg[..., None]
    cnt = tie.sum(-1, keepdims=True)
    amb_act = (np.abs(m) <= 4 * e * Tm)[..., None]
    amb_tie = (n > 0) & (neg[..., None] - u <= 4 * e * (Mu.max(-1, keepdims=True) + Mu)) & ~tie
    dp = act * (tie * (1 - y) / np.maximum(cnt, 1) - y)
    dyv = act * (-(tie * p) / np.maximum(cnt, 1) - p)
    mag_p, mag_y = np.abs(1 - y) + np.abs(y), 2 * np.abs(p)
    # exact ties split the gradient identically on both sides (same products);
    # rounding the inputs (n > 0) can make or break a tie
    flip = amb_act | ((n > 0) & (amb_tie | (cnt > 1)))
    Tp = mag_p * (1 + n) + _flip(c, flip, mag_p)
    Ty = mag_y * (1 + n) + _flip(c, flip, mag_y)

    def back(G, GT):
        Ge, GTe = G[..., None], GT[..., None]
        return {"y_pred": c.to_p(sk.chain(dp, Tp, Ge, GTe)),
                "y_true": c.to_y(sk.chain(dyv, Ty, Ge, GTe))}
    return L, Tm, back


def acc_axes(n, axes, rank):
    """Rounding growth of a sum of n terms over `axes`: Eigen reduces the
    innermost axis in vector lanes (acc(n), registry.py) but an outer axis
    with one running sum per output element, whose error grows like a random
    walk (sqrt(n)); 2 sqrt(n) leaves room for correlated terms."""
    if tuple(axes) and max(axes) == rank - 1 and len(axes) == 1:
        return acc(n)
    return acc(n) + 2 * np.sqrt(max(n, 1))


def _axis(o, rank, key="axis", default=-1):
    a = o.get(key, default)
    if a is None:
        return tuple(range(rank))
    a = (a,) if np.isscalar(a) else tuple(a)
    return tuple(sorted(int(x) % rank for x in a))


def _m_cosine(c):
    """Keras normalizes y_true and y_pred each on its own shape (a y_true of
    size 1 along the axis becomes sign(y)), then broadcasts the product."""
    ax = _axis(c.o, len(c.grid))[0]
    K = c.grid[ax]
    inv = 1.0 / K_EPS
    raw = c.o.get("axis", -1)
    raw = -1 if raw is None else int(raw)

    def norm(v):
        # `axis` counts in v's own rank (inputs of different ranks)
        s = np.sum(v * v, axis=raw % v.ndim, keepdims=True)
        with np.errstate(all="ignore"):
            r = np.minimum(1 / np.sqrt(s), inv)
        return [np.broadcast_to(a, c.grid) for a in (v * r, r, r < inv)]
    ny, ry, fy = norm(c.y)
    npp, rp, fp = norm(c.p)
    prod = ny * npp
    L = -prod.sum(ax)
    n = c.ny + c.np_
    rel = 6 + 2 * acc_axes(K, (ax,), len(c.grid)) + 2 * n
    TL = rel * np.abs(prod).sum(ax)
    cs = prod.sum(ax, keepdims=True)
    aps = np.abs(prod).sum(ax, keepdims=True)
    # d/dp_i = -rp (ny_i - cs * np_i) where not clipped, -rp ny_i where clipped
    dp = -rp * (ny - cs * npp * fp)
    dyv = -ry * (npp - cs * ny * fy)
    Tp = rp * (np.abs(ny) + aps * np.abs(npp)) * rel
    Ty = ry * (np.abs(npp) + aps * np.abs(ny)) * rel

    def back(G, GT):
        Ge, GTe = np.expand_dims(G, ax), np.expand_dims(GT, ax)
        return {"y_pred": c.to_p(sk.chain(dp, Tp, Ge, GTe)),
                "y_true": c.to_y(sk.chain(dyv, Ty, Ge, GTe))}
    return L, TL, back


def _overlap(c, tversky):
    """Dice and Tversky: sums over `axis` (None: all) of each array on its own
    shape (Keras sums y_true and y_pred separately, the products on the grid)."""
    y, p = c.y, c.p
    yb, pb = c.yb, c.pb
    axes = _axis(c.o, len(c.grid), default=None)
    nsum = int(np.prod([c.grid[a] for a in axes])) if axes else 1
    n = c.ny + c.np_
    a = acc_axes(nsum, axes, len(c.grid)) + 2 * n + 2
    I = np.sum(yb * pb, axis=axes)
    MI = np.sum(np.abs(yb * pb), axis=axes)
    if tversky:
        al, be = float(c.o.get("alpha", 0.5)), float(c.o.get("beta", 0.5))
        FP = np.sum((1 - pb) * yb, axis=axes)
        FN = np.sum(pb * (1 - yb), axis=axes)
        MD = MI + abs(al) * np.sum((1 + np.abs(pb)) * np.abs(yb), axis=axes) + \
            abs(be) * np.sum(np.abs(pb) * (1 + np.abs(yb)), axis=axes)
        D = I + FP * al + FN * be + K_EPS
        num, Mn = I, MI
    else:
        D = np.sum(y, axis=axes) + np.sum(p, axis=axes) + K_EPS
        MD = np.sum(np.abs(y), axis=axes) + np.sum(np.abs(p), axis=axes)
        num, Mn = 2 * I, 2 * MI
    with np.errstate(all="ignore"):
        r = num / D
        L = 1 - r
        aD = np.abs(D)
        TL = 1 + np.abs(r) * 2 + a * Mn / aD + np.abs(r) * a * MD / aD

    def back(G, GT):
        def ex(v):
            return np.expand_dims(v, axes) if axes else v
        with np.errstate(all="ignore"):
            gI = ex(G / aD)                       # |d L / d num| * G
            gD = ex(G * np.abs(num) / aD ** 2)    # |d L / d D| * G
            eI = ex((GT / aD + G * a * MD / aD ** 2))
            eD = ex(GT * np.abs(num) / aD ** 2 + G * (a * Mn / aD ** 2
                                                      + 2 * a * np.abs(num) * MD / aD ** 3))
            kn = 1.0 if tversky else 2.0
            if tversky:
                dDp = np.abs(yb) * (1 + abs(al)) + abs(be) * (1 + np.abs(yb))
                dDy = np.abs(pb) * (1 + abs(be)) + abs(al) * (1 + np.abs(pb))
                sp = kn * np.abs(yb) * (eI + gI) + dDp * (eD + gD)
                sy = kn * np.abs(pb) * (eI + gI) + dDy * (eD + gD)
                return {"y_pred": c.to_p(sp), "y_true": c.to_y(sy)}
            sp_grid = kn * np.abs(yb) * (eI + gI)
            sy_grid = kn * np.abs(pb) * (eI + gI)
            # the D = sum(y) + sum(p) path lives on each array's own shape
            sp = c.to_p(sp_grid) + np.broadcast_to(_fold(eD + gD, c.ps), c.ps).reshape(c.ps0)
            sy = c.to_y(sy_grid) + np.broadcast_to(_fold(eD + gD, c.ys), c.ys).reshape(c.ys0)
        return {"y_pred": np.where(np.isfinite(sp), sp, np.inf),
                "y_true": np.where(np.isfinite(sy), sy, np.inf)}
    return L, np.where(np.isfinite(TL), TL, np.inf), back


def _fold(v, shape):
    """v (broadcast to the grid's reduced shape) summed to `shape`'s size-1 dims."""
    v = np.asarray(v)
    while v.ndim > len(shape):
        v = v.sum(0)
    for i, s in enumerate(shape):
        if s == 1 and v.shape[i] != 1:
            v = v.sum(i, keepdims=True)
    return v


# ------------------------------------------------------------ loss specs --

class Spec:
    """One loss: class name, function names, the model, whether the function
    form applies the rank fix itself, ctor/function options and values."""

    def __init__(self, cls, fns, model, fn_rankfix, values, options=lambda draw, rank: {},
                 min_rank=1, max_rank=4, fn_opts=(), notes=""):
        self.cls, self.fns, self.model, self.fn_rankfix = cls, fns, model, fn_rankfix
        self.values, self.options, self.min_rank, self.max_rank = values, options, min_rank, \
            max_rank
        self.fn_opts = fn_opts      # option names the function form takes
        self.notes = notes


def _profile(draw):
    return draw(st.sampled_from(("normal", "normal", "wide", "tiny", "ties", "kink", "big",
                                 "huge", "special")))


def _real(rng, shape, dtype, prof, narrowable):
    base = {"kink": "normal", "special": "normal"}.get(prof, prof)
    if prof == "huge" and narrowable:
        base = "big"            # float64 beyond float32's range: TF's float32 overflows
    return real_values(rng, shape, dtype, base)


def _sprinkle(rng, a, p=0.03):
    if a.size and a.dtype.kind == "f":
        flat = a.reshape(-1)
        pick = rng.random(flat.size) < p
        flat[pick] = rng.choice([np.inf, -np.inf, np.nan], int(pick.sum()))
    return a


def _v_regression(rng, ys, ps, dt, ydt, prof, o, narrowable):
    p = _real(rng, ps, dt, prof, narrowable)
    y = _real(rng, ys, ydt, prof, narrowable)
    if prof == "kink" and y.size and y.shape == p.shape:   # e == 0, |e| == delta (dyadic)
        pick = rng.random(p.shape) < 0.3
        p[pick] = y[pick].astype(dt)
        if "delta" in o:
            pick = rng.random(p.shape) < 0.3
            y2 = np.round(y.astype(np.float64) * 8) / 8
            y[pick] = y2[pick]
            p[pick] = (y2 + o["delta"] * rng.choice([-1, 1], p.shape))[pick]
    if prof == "special":
        _sprinkle(rng, p)
    return y, p


def _v_mape(rng, ys, ps, dt, ydt, prof, o, narrowable):
    y, p = _v_regression(rng, ys, ps, dt, ydt, prof, o, narrowable)
    if y.size:
        y[rng.random(y.shape) < 0.2] = 0          # the max(|y|, eps) clip
    return y, p


def _v_msle(rng, ys, ps, dt, ydt, prof, o, narrowable):
    y = np.asarray(rng.choice([0.0, 1.0], ys) * rng.exponential(3, ys), ydt)
    p = np.asarray(rng.uniform(-0.5, 8, ps), dt)
    if prof in ("kink", "ties"):
        p[rng.random(p.shape) < 0.3] = 0
        if y.size:
            y[rng.random(y.shape) < 0.3] = -1
    if prof == "huge":
        p = np.asarray(p * 1e6, dt)
    return y, p


def _v_hinge(rng, ys, ps, dt, ydt, prof, o, narrowable):
    kind = ["binary", "binary", "pm1", "mixed", "real"][rng.integers(5)]
    if kind == "binary":
        y = rng.integers(0, 2, ys).astype(np.float64)
    elif kind == "pm1":
        y = rng.choice([-1.0, 1.0], ys)
    elif kind == "mixed":           # one non-binary value anywhere disables the conversion
        y = rng.integers(0, 2, ys).astype(np.float64)
        if y.size:
            y.reshape(-1)[rng.integers(y.size)] = rng.choice([-1.0, 0.5, 2.0])
    else:
        y = rng.uniform(-1.5, 1.5, ys)
    y = np.asarray(y, ydt)
    p = _real(rng, ps, dt, prof, narrowable)
    if prof in ("kink", "ties") and p.size:     # margins exactly 0: t * p == 1
        p[rng.random(p.shape) < 0.4] = rng.choice([-1.0, 1.0, 0.0])
    return y, p


def _v_cathinge(rng, ys, ps, dt, ydt, prof, o, narrowable):
    K = ps[-1] if ps else 1
    kind = ["onehot", "onehot", "pm1", "real"][rng.integers(4)]
    if kind == "onehot" and K:
        y = np.zeros(ys)
        if y.size and ys[-1] == K:
            np.put_along_axis(y, rng.integers(0, K, ys[:-1])[..., None], 1.0, -1)
    elif kind == "pm1":
        y = rng.choice([-1.0, 1.0], ys)
    else:
        y = rng.uniform(-1, 2, ys)
    p = _real(rng, ps, dt, "ties" if prof == "kink" else prof, narrowable)
    return np.asarray(y, ydt), p


def _v_kld(rng, ys, ps, dt, ydt, prof, o, narrowable):
    def dist(shape):
        v = rng.random(shape) ** 2
        s = v.sum(-1, keepdims=True) if len(shape) else v
        return np.divide(v, s, out=np.zeros_like(v), where=s > 0)
    y, p = dist(ys), dist(ps)
    if prof in ("kink", "ties", "special"):     # exact 0 and 1 (the clips) and outside [0,1]
        for a in (y, p):
            if a.size:
                r = rng.random(a.shape)
                a[r < 0.2] = 0
                a[(r >= 0.2) & (r < 0.3)] = 1
                a[(r >= 0.3) & (r < 0.4)] = rng.uniform(-0.5, 1.5)
    return np.asarray(y, ydt), np.asarray(p, dt)


def _v_poisson(rng, ys, ps, dt, ydt, prof, o, narrowable):
    y = rng.poisson(rng.uniform(0.1, 10), ys).astype(np.float64)
    p = rng.gamma(2.0, 2.0, ps)
    if prof in ("kink", "ties") and p.size:
        p[rng.random(p.shape) < 0.3] = 0
    if prof == "special" and p.size:            # log of a negative: NaN on both sides
        p[rng.random(p.shape) < 0.05] = -1
    if prof == "wide":
        y, p = y * 100, p * 100
    return np.asarray(y, ydt), np.asarray(p, dt)


def _v_cosine(rng, ys, ps, dt, ydt, prof, o, narrowable):
    ax = _axis(o, len(ps))[0] if "axis" not in o or -len(ps) <= o["axis"] < len(ps) else -1
    p = _real(rng, ps, dt, prof if prof not in ("huge",) else "wide", narrowable)
    y = _real(rng, ys, ydt, prof if prof not in ("huge",) else "wide", narrowable)
    if prof in ("kink", "ties", "special"):     # zero vectors and parallel vectors
        if p.size and p.shape[ax]:
            pm = np.moveaxis(p, ax, -1)
            pm[rng.random(pm.shape[:-1]) < 0.3] = 0
        if y.shape == p.shape and y.size:
            sel = rng.random(p.shape) < 0.5
            y = np.where(sel, p * 2, y).astype(ydt)
    return y, p


def _v_overlap(rng, ys, ps, dt, ydt, prof, o, narrowable):
    if prof in ("normal", "kink", "ties"):
        y = rng.integers(0, 2, ys).astype(np.float64)
    else:
        y = rng.random(ys)
    p = rng.random(ps)
    if prof == "wide":
        p = rng.standard_normal(ps)
    if prof == "kink" and p.size:
        p[rng.random(p.shape) < 0.3] = 0
    return np.asarray(y, ydt), np.asarray(p, dt)


def _o_huber(draw, rank):
    d = draw(st.sampled_from(("omit", 1.0, 0.5, 2.0, 0.0, 0.25, 1e-3, 30.0, -1.0)))
    return {} if d == "omit" else {"delta": d}


def _o_cosine(draw, rank):
    a = draw(st.sampled_from(("omit", -1, "any", "any-neg")))
    if a == "omit":
        return {}
    if a == "any":
        return {"axis": draw(st.integers(0, rank - 1))}
    if a == "any-neg":
        return {"axis": draw(st.integers(-rank, -1))}
    return {"axis": -1}


def _o_axes(draw, rank):
    a = draw(st.sampled_from(("omit", None, "int", "neg", "tuple", "tuple", "all")))
    if a == "omit":
        return {}
    if a is None:
        return {"axis": None}
    if a == "int":
        return {"axis": draw(st.integers(0, rank - 1))}
    if a == "neg":
        return {"axis": draw(st.integers(-rank, -1))}
    if a == "all":
        return {"axis": tuple(range(rank))}
    k = draw(st.integers(1, rank))
    return {"axis": tuple(sorted(draw(st.permutations(range(rank)))[:k]))}


def _o_tversky(draw, rank):
    o = _o_axes(draw, rank)
    for k in ("alpha", "beta"):
        v = draw(st.sampled_from(("omit", 0.5, 0.7, 0.3, 0.0, 1.0, 2.0)))
        if v != "omit":
            o[k] = v
    return o


SPECS = [
    Spec("MeanSquaredError", ("mse", "MSE"), _mean_last(_e_mse), True, _v_regression),
    Spec("MeanAbsoluteError", ("mae", "MAE"), _mean_last(_e_mae), True, _v_regression),
    Spec("MeanAbsolutePercentageError", ("mape", "MAPE"), _mean_last(_e_mape), True, _v_mape),
    Spec("MeanSquaredLogarithmicError", ("msle", "MSLE"), _mean_last(_e_msle), True, _v_msle),
    Spec("Huber", ("huber",), _mean_last(lambda c: _e_huber(c, float(c.o.get("delta", 1.0)))),
         True, _v_regression, _o_huber, fn_opts=("delta",)),
    Spec("LogCosh", ("logcosh",), _mean_last(_e_logcosh), True, _v_regression),
    Spec("CosineSimilarity", ("cosine_similarity",), _m_cosine, True, _v_cosine, _o_cosine,
         fn_opts=("axis",)),
    Spec("Hinge", ("hinge",), _mean_last(_e_hinge), False, _v_hinge),
    Spec("SquaredHinge", ("squared_hinge",), _mean_last(_e_sqhinge), False, _v_hinge),
    Spec("CategoricalHinge", ("categorical_hinge",), _m_cathinge, False, _v_cathinge),
    Spec("KLDivergence", ("kld", "KLD", "kullback_leibler_divergence"), _m_kld, False, _v_kld),
    Spec("Poisson", ("poisson",), _mean_last(_e_poisson), False, _v_poisson),
    Spec("Dice", ("dice",), lambda c: _overlap(c, False), False, _v_overlap, _o_axes,
         fn_opts=("axis",)),
    Spec("Tversky", ("tversky",), lambda c: _overlap(c, True), False, _v_overlap, _o_tversky,
         fn_opts=("alpha", "beta", "axis")),
]

BY_CLASS = {s.cls: s for s in SPECS}


# ----------------------------------------------------------------- scales --

def _scale(spec, is_class):
    rankfix = True if is_class else spec.fn_rankfix

    def scale(case, ref, dy):
        c = _Ctx(case, rankfix, is_class)
        L, T, back = spec.model(c)
        L = np.asarray(L, np.float64)
        T = np.asarray(T, np.float64)
        if is_class:
            value, G, GT, ws = sk.keras_reduce(case, L, T, dy)
            if case.args.get("sample_weight") is not None and ws is not None:
                nw = np.asarray(case.args["sample_weight"])
                if nw.dtype.kind == "f" and _eps(nw.dtype) < _eps(c.tf_dt):
                    value = value + np.abs(fin(ref["value"]))     # weights rounded to float32
        else:
            value = T
            G = np.abs(np.broadcast_to(np.asarray(dy, np.float64), L.shape))
            GT = G              # dy is exact: one rounding of the product
            ws = None
        out = {"value": np.where(np.isfinite(value), value, np.inf)}
        out.update(back(G, GT))
        if ws is not None:
            out["sample_weight"] = np.where(np.isfinite(ws), ws, np.inf)
        return out
    return scale


TOL = {
    "value": Tol(8, "per-element terms (a few roundings; Eigen's float32 log/exp/rsqrt ~2 ulp) "
                    "judged against their magnitude, a K-term mean/sum over the axis in another "
                    "order (acc(K)), then Keras' weighting and reduction (keras_reduce: acc(n), "
                    "mean_with_sample_weight's weight-sum error)"),
    "y_pred": Tol(8, "local derivative (its terms' rounding, branch flips where rounding the "
                     "inputs to float32 may decide a kink) times the upstream weight*dy/D"),
    "y_true": Tol(8, "as y_pred; summed over broadcast dims (acc(m))"),
    "sample_weight": Tol(8, "the unweighted per-sample losses times dy/D (mean_with_sample_"
                            "weight: minus S dy/D^2), summed over broadcast dims (acc(m))"),
}
FN_TOL = {k: v for k, v in TOL.items() if k != "sample_weight"}


def _overflows(case):
    """float64 terms beyond float32's range in a narrowed case (TF's float32
    overflows where cyloss' float64 does not): data, or float sample weights
    whose products with the losses can leave float32's range (|w| >= 1e15; a
    float32 weight near its maximum too). Also an infinite or NaN sample
    weight: its product with a loss is inf, or NaN where the loss is 0, and
    TF's float32 rounding can make a loss 0 that is not in float64 (Tversky's
    1 - tp / (tp + 1e-7) for tp > 2: 0 in float32). Such cases are compared
    with TF computing in float64 (samples_keras.KerasNarrowing)."""
    for k in ("y_true", "y_pred", "sample_weight"):
        a = case.args.get(k)
        a = None if a is None else np.asarray(a)
        if a is not None and a.dtype.kind == "f" and a.size:
            fin = np.isfinite(a)
            m = np.abs(a[fin])
            if m.size and m.max() >= 1e15:
                return True
            if k == "sample_weight" and not fin.all():
                return True
    return False


def _cathinge_narrowing(case):
    """Narrowing.overflows of CategoricalHinge: _overflows, or a narrowed case
    whose float32 rounding makes a decision float64 does not: a tie for the
    largest (1 - y_true) y_pred of a row (TF splits reduce_max's gradient
    between ties: 10000.000073 and 10000.0 are one float32), or the sign of
    neg - pos + 1 at the maximum with 0. TF's float32 gradient is then not a
    rounding of cyloss' float64 one: compare with TF in float64, as for an
    overflow."""
    if _overflows(case):
        return True
    t = np.asarray(case.args["y_true"], np.float64)
    p = np.asarray(case.args["y_pred"], np.float64)
    if t.ndim == p.ndim + 1 and t.shape[-1] == 1:
        t = t[..., 0]
    elif p.ndim == t.ndim + 1 and p.shape[-1] == 1:
        p = p[..., 0]
    try:
        t, p = np.broadcast_arrays(t, p)
    except ValueError:
        return False
    if not p.size or p.shape[-1] == 0:
        return False
    seen = []
    with np.errstate(all="ignore"):
        for dt in (np.float32, np.float64):
            tt, pp = t.astype(dt), p.astype(dt)
            negs = (dt(1) - tt) * pp
            neg = negs.max(axis=-1, keepdims=True)
            arg = neg[..., 0] - np.sum(tt * pp, axis=-1) + dt(1)
            seen.append(((negs == neg).sum(axis=-1), arg >= 0))
    return any(not np.array_equal(a, b) for a, b in zip(*seen))


# ------------------------------------------------------------- strategies --

def _shapes(draw, mode, spec, is_class, rankfix):
    """(y_true shape, y_pred shape, variant, Expect or None)."""
    r = draw(st.sampled_from(tuple(range(spec.min_rank, spec.max_rank + 1)) * 2 +
                             (spec.min_rank,)))
    budget = _budget(draw, mode)
    ps = list(_dims(draw, r, budget))
    variant = draw(st.sampled_from(("same",) * 6 + ("rankfix", "bcast-y", "bcast-p", "bad")))
    ys = list(ps)
    overlap = spec.cls in ("Dice", "Tversky")
    if variant == "rankfix" and rankfix and not overlap:
        if draw(st.booleans()):
            ps = ps + [1]
        else:
            ys = ys + [1]
    elif variant == "rankfix":
        variant = "same"
    if variant == "bcast-y" and r:
        ys = [d if draw(st.booleans()) else 1 for d in ys]
    if variant == "bcast-p" and r:
        ps = [d if draw(st.booleans()) else 1 for d in ps]
    expect = None
    if variant == "bad" and r:
        i = draw(st.integers(0, r - 1))
        if ps[i] >= 2 or draw(st.booleans()):
            ys[i] = ps[i] + draw(st.sampled_from((1, 2)))
            if ps[i] == 1 or ps[i] == 0 and ys[i] == 1:
                ys[i] += 1
        else:
            variant = "same"
    try:
        a, b = _rank_fix(ys, ps) if rankfix else (ys, ps)
        np.broadcast_shapes(a, b)
    except ValueError:
        expect = Expect(("InvalidArgumentError",), "InvalidArgumentError",
                        "y_true and y_pred do not broadcast (after Keras' rank fix): TF's "
                        "elementwise op fails at run time (Incompatible shapes); cyloss "
                        "InvalidArgumentError (keras_api.md)")
    if variant == "bad" and expect is None:
        variant = "bad-but-broadcasts"
    if expect is None and spec.cls == "CategoricalHinge" and 0 in np.broadcast_shapes(a, b):
        expect = EMPTY_MAX
    return ys, ps, variant, expect


EMPTY_MAX = Expect(("InvalidArgumentError",), "InvalidArgumentError",
                   "categorical_hinge on an empty tensor: Keras' max over the class axis fails "
                   "at run time ('Cannot compute the max of an empty tensor')")


def _cases(spec, is_class):
    rankfix = True if is_class else spec.fn_rankfix

    @st.composite
    def cases(draw, mode, fn):
        dtype, seed, layout = _common(draw)
        ys, ps, variant, expect = _shapes(draw, mode, spec, is_class, rankfix)
        frank = len(_rank_fix(ys, ps)[1]) if rankfix else len(ps)     # rank Keras sees
        options = dict(spec.options(draw, max(frank, 1)))
        if not is_class:
            options = {k: v for k, v in options.items() if k in spec.fn_opts}
        ydt = draw(st.sampled_from((dtype,) * 5 + ("float32" if dtype == "float64" else
                                                   "float64",)))
        prof = _profile(draw)
        rng = np.random.default_rng(seed)
        narrowable = is_class or ydt == "float64" and dtype == "float32"
        if is_class:
            cdt = sk.draw_dtype_option(draw, dtype, options)
            sk.draw_reduction(draw, options)
        else:
            cdt = dtype
        y, p = spec.values(rng, tuple(ys), tuple(ps), dtype, ydt, prof, options, narrowable)
        y, p = np.asarray(y, ydt), np.asarray(p, dtype)
        args = {"y_true": y, "y_pred": p}
        wlabel = ""
        if is_class and expect is None:
            c = _Ctx(Case(fn, args, options, dtype=cdt), True, True)
            with np.errstate(all="ignore"):
                L = np.asarray(spec.model(c)[0])
            w, wlabel, wexp = sk.draw_sample_weight(draw, rng, L.shape, dtype)
            if w is not None:
                args["sample_weight"] = w
                expect = wexp
        return Case(fn, args, options, dtype=cdt,
                    kind=f"{variant}/{prof}/y:{ydt}/w:{wlabel}", seed=seed, layout=layout,
                    expect=expect)
    return cases


# --------------------------------------------------------- fixed examples --

def f32(a):
    return np.array(a, np.float32)


def f64(a):
    return np.array(a, np.float64)


X = f32([[0, 1, 2], [3, 4, 5]])
P = f32([[.5, 1, 0], [3, 6, 4]])
Z2, P2 = f32([[0, 1], [1, 0]]), f32([[.1, .9], [.6, .3]])
REDS = sk.KERAS_REDUCTIONS


def _sec43(cls):
    """TF_SEMANTICS sec. 4.3 data for the class."""
    if cls in ("MeanSquaredError", "MeanAbsoluteError", "MeanAbsolutePercentageError",
               "MeanSquaredLogarithmicError", "LogCosh", "Huber", "CosineSimilarity"):
        return {"y_true": X, "y_pred": P}, {}
    if cls == "Tversky":
        return {"y_true": Z2, "y_pred": P2}, {"alpha": .7, "beta": .3}
    return {"y_true": Z2, "y_pred": P2}, {}


def _class_examples(spec):
    cls = spec.cls
    a, o = _sec43(cls)
    w = f32([0.3, 0.7])
    out = [sk.kex(f"TF_SEMANTICS sec. 4.3 values", a, o)]
    for r in REDS:
        out.append(sk.kex(f"sec. 4.3 data, sample_weight [0.3,0.7], reduction={r!r}",
                          dict(a, sample_weight=w), dict(o, reduction=r)))
    a64 = {k: v.astype(np.float64) for k, v in a.items()}
    out += [
        sk.kex("float64 data, dtype=None (Keras computes float32: Narrowing)", a64, o),
        sk.kex("float64 data, dtype='float64'", dict(a64, sample_weight=f64([[0.3], [0.7]])),
               dict(o, dtype="float64", reduction="mean_with_sample_weight")),
        sk.kex("float32 data, dtype='float64'", a, dict(o, dtype="float64")),
        sk.kex("float64 data, dtype='float32' (inputs rounded, result float32)", a64,
               dict(o, dtype="float32")),
        sk.kex("[B,1] weights, reduction none -> shape [B,1]",
               dict(a, sample_weight=f32([[0.3], [0.7]])), dict(o, reduction="none")),
        sk.kex("all-zero sample_weight: 0 for sobs and mws (div_no_nan)",
               dict(a, sample_weight=f32([0, 0])), dict(o, reduction="mean_with_sample_weight")),
        sk.kex("int32 sample_weight", dict(a, sample_weight=np.array([1, 2], np.int32)),
               dict(o, reduction="sum")),
        sk.kex("0-d sample_weight", dict(a, sample_weight=np.float32(2.5)), o),
        sk.kex("y_true broadcasts: [1,K] vs [2,K]",
               {"y_true": a["y_true"][:1], "y_pred": a["y_pred"]}, o),
    ] + ([] if cls == "CategoricalHinge" else [
        sk.kex("empty batch: [] unreduced even for 'sum'",
               {"y_true": np.zeros((0, 3), np.float32), "y_pred": np.zeros((0, 3), np.float32)},
               dict(o, reduction="sum")),
    ]) + [
        sk.kex("rank fix: y_true [B] vs y_pred [B,1]",
               {"y_true": f32([0, 1, 1]), "y_pred": f32([[0.2], [0.7], [0.4]])}, o),
        sk.kex("rank fix: y_true [B,T,1] vs y_pred [B,T] (longer squeezed)",
               {"y_true": f32([[[0], [1]], [[1], [1]]]), "y_pred": f32([[0.2, 0.9], [0.6, 0.1]])},
               o),
        sk.kex("mean_with_sample_weight divides by sum of [B,1] weights (sec. 4.1, [2,3,4])",
               {"y_true": (np.arange(24, dtype=np.float32).reshape(2, 3, 4) % 5) / 4,
                "y_pred": np.cos(np.arange(24, dtype=np.float32)).reshape(2, 3, 4) ** 2,
                "sample_weight": f32([[1], [2]])},
               dict(o, reduction="mean_with_sample_weight")),
        sk.kex("40000 elements (multi-threaded)",
               {"y_true": ((np.arange(40000) % 3) / 2).astype(np.float32).reshape(400, 100),
                "y_pred": (np.sin(np.arange(40000, dtype=np.float32)) ** 2).reshape(400, 100)},
               o),
    ]
    return out


def _class_extra(spec):
    cls = spec.cls
    ex = []
    if cls in ("MeanSquaredError", "MeanAbsoluteError", "Huber", "LogCosh"):
        ex.append(sk.kex("e == 0 exactly", {"y_true": f32([[1, 2, 3]]),
                                            "y_pred": f32([[1, 0, 3]])}))
    if cls == "Huber":
        ex += [sk.kex("|e| == delta exactly (tie -> quadratic branch)",
                      {"y_true": f32([[0, 1, 2]]), "y_pred": f32([[0.5, 0.5, 2.5]])},
                      {"delta": 0.5}),
               sk.kex("delta = 0", {"y_true": X, "y_pred": P}, {"delta": 0.0}),
               sk.kex("delta = 2.5, float64", {"y_true": X.astype(np.float64),
                                               "y_pred": P.astype(np.float64)},
                      {"delta": 2.5, "dtype": "float64"})]
    if cls in ("MeanAbsolutePercentageError", "MeanSquaredLogarithmicError", "KLDivergence"):
        ex.append(sk.kex("y_true exactly 0 (the epsilon clip), y_pred 0 too",
                         {"y_true": f32([[0, 0, 1], [0, 2, 0]]),
                          "y_pred": f32([[0, 0.5, 0], [0.3, 0, 1]])}))
        ex.append(sk.kex("y_true exactly 0, float64, dtype='float64'",
                         {"y_true": f64([[0, 0, 1], [0, 2, 0]]),
                          "y_pred": f64([[0, 0.5, 0], [0.3, 0, 1]])}, {"dtype": "float64"}))
    if cls == "MeanSquaredLogarithmicError":
        ex.append(sk.kex("negative values clip to epsilon", {"y_true": f32([[-1, 3]]),
                                                             "y_pred": f32([[2, -0.5]])}))
    if cls in ("Hinge", "SquaredHinge"):
        ex += [sk.kex("one non-binary value anywhere disables the 0/1 -> -1/1 conversion",
                      {"y_true": f32([[0, 1], [1, 0.5]]), "y_pred": P2}),
               sk.kex("labels -1/1", {"y_true": f32([[-1, 1], [1, -1]]), "y_pred": P2}),
               sk.kex("margins exactly 0 (t * p == 1; tie -> gradient flows)",
                      {"y_true": f32([[0, 1], [1, 0]]), "y_pred": f32([[-1, 1], [1, -1]])})]
    if cls == "CategoricalHinge":
        ex += [sk.kex("max ties share the gradient", {"y_true": f32([[0, 0, 1]]),
                                                      "y_pred": f32([[2, 2, 1]])}),
               sk.kex("margin exactly 0", {"y_true": f32([[0, 0, 1]]),
                                           "y_pred": f32([[1, 0.5, 2]])})]
    if cls == "CosineSimilarity":
        ex += [sk.kex("zero vectors -> 0 (clipped inverse norm 1/eps)",
                      {"y_true": f32([[0, 0, 0], [1, 2, 3]]),
                       "y_pred": f32([[1, 2, 3], [0, 0, 0]])}),
               sk.kex("tiny vector is under-normalized (sec. 4.2: -0.05773503)",
                      {"y_true": f32([[1e-8, 0, 0]]), "y_pred": f32([[1, 1, 1]])}),
               sk.kex("axis=0", {"y_true": X, "y_pred": P}, {"axis": 0}),
               sk.kex("parallel and anti-parallel", {"y_true": f32([[1, 2], [1, 2]]),
                                                     "y_pred": f32([[2, 4], [-3, -6]])})]
    if cls in ("Dice", "Tversky"):
        o = {"alpha": .7, "beta": .3} if cls == "Tversky" else {}
        ex += [sk.kex("axis=None: one scalar; sample_weight [1,0] broadcasts it (-> value/2)",
                      {"y_true": Z2, "y_pred": P2, "sample_weight": f32([1, 0])}, o),
               sk.kex("axis=None with reduction none: scalar", {"y_true": Z2, "y_pred": P2},
                      dict(o, reduction="none")),
               sk.kex("axis=(1,2,3) (Keras' docstring data)",
                      {"y_true": f32([[[[1], [1]], [[0], [0]]], [[[1], [1]], [[0], [0]]]]),
                       "y_pred": f32([[[[0], [1]], [[0], [1]]], [[[.4], [0]], [[0], [.9]]]])},
                      dict(o, axis=(1, 2, 3))),
               sk.kex("axis=1", {"y_true": Z2, "y_pred": P2}, dict(o, axis=1)),
               sk.kex("axis=-1 with [B,1] weights, mws", {"y_true": Z2, "y_pred": P2,
                                                          "sample_weight": f32([[2], [1]])},
                      dict(o, axis=-1, reduction="mean_with_sample_weight")),
               sk.kex("all zero -> 1 - 0/eps", {"y_true": np.zeros((2, 2), np.float32),
                                                 "y_pred": np.zeros((2, 2), np.float32)}, o)]
    if cls == "Tversky":
        ex.append(sk.kex("defaults alpha = beta = 0.5 (= Dice up to eps)",
                         {"y_true": Z2, "y_pred": P2}))
    if cls == "Poisson":
        ex.append(sk.kex("y_pred 0 (log eps)", {"y_true": f32([[0, 2], [1, 0]]),
                                                "y_pred": f32([[0, 0], [1, 3]])}))
    return ex


def _class_errors(spec):
    a, o = _sec43(spec.cls)
    out = [
        err("[2,3] vs [2,4]: Incompatible shapes",
            {"y_true": np.zeros((2, 3), np.float32), "y_pred": np.zeros((2, 4), np.float32)},
            "InvalidArgumentError", "InvalidArgumentError",
            "no static shape check: broadcasting fails at run time (sec. 4.4)", o),
        err("reduction='auto' (legacy)", a, "ValueError", "ValueError",
            "Invalid value for argument `reduction` (constructor)", dict(o, reduction="auto")),
        err("sample_weight [3] for [2] values", dict(a, sample_weight=np.ones(3, np.float32)),
            "InvalidArgumentError", "InvalidArgumentError", "Incompatible shapes in the multiply",
            dict(o, axis=-1) if spec.cls in ("Dice", "Tversky") else o),
        err("string y_pred", {"y_true": a["y_true"], "y_pred": np.array([["a", "b"]] * 2)},
            "ValueError", "TypeError", "non-numeric dtype: Keras' conversion to float32 fails "
            "(ValueError: could not convert string to float); cyloss TypeError (keras_api.md)",
            o),
    ]
    if spec.cls == "CategoricalHinge":
        out.append(err("empty batch", {"y_true": np.zeros((0, 3), np.float32),
                                       "y_pred": np.zeros((0, 3), np.float32)},
                       "InvalidArgumentError", "InvalidArgumentError", EMPTY_MAX.why,
                       {"reduction": "sum"}))
    return out


def _fn_examples(spec, name):
    cls = spec.cls
    a, o = _sec43(cls)
    o = {k: v for k, v in o.items() if k in spec.fn_opts}
    d = "float32"
    out = [
        sk.kex("sec. 4.3 data", a, o, dtype=d),
        sk.kex("float64", {k: v.astype(np.float64) for k, v in a.items()}, o, dtype="float64"),
        sk.kex("float64 y_true, float32 y_pred (cast to y_pred's dtype)",
               {"y_true": a["y_true"].astype(np.float64), "y_pred": a["y_pred"]}, o, dtype=d),
        sk.kex("float32 y_true, float64 y_pred",
               {"y_true": a["y_true"], "y_pred": a["y_pred"].astype(np.float64)}, o,
               dtype="float64"),
        sk.kex("int32 y_true", {"y_true": a["y_true"].astype(np.int32), "y_pred": a["y_pred"]},
               o, dtype=d),
        sk.kex("y_true [1,K] broadcasts", {"y_true": a["y_true"][:1], "y_pred": a["y_pred"]}, o,
               dtype=d),
    ] + ([] if cls == "CategoricalHinge" else [
        sk.kex("empty batch", {"y_true": np.zeros((0, 3), np.float32),
                               "y_pred": np.zeros((0, 3), np.float32)}, o, dtype=d),
    ]) + [
        sk.kex("rank 3", {"y_true": (np.arange(24, dtype=np.float32).reshape(2, 3, 4) % 3) / 2,
                          "y_pred": np.cos(np.arange(24, dtype=np.float32)).reshape(2, 3, 4) ** 2},
               o, dtype=d),
    ]
    if spec.fn_rankfix:
        out.append(sk.kex("rank fix: [B] vs [B,1]", {"y_true": f32([0, 1, 1]),
                                                     "y_pred": f32([[0.2], [0.7], [0.4]])},
                          o, dtype=d))
    if cls == "LogCosh":
        out.append(sk.kex("float64 e == 0 (TF: log 2 computed in float32: -1.9e-9)",
                          {"y_true": f64([[1, 2, 3]]), "y_pred": f64([[1, 2, 3]])}, o,
                          dtype="float64"))
    if cls == "MeanSquaredLogarithmicError":
        out.append(sk.kex("float64 y_pred == 1e-7 exactly (TF clips at float32's 1e-7 widened)",
                          {"y_true": f64([[0.5, 0]]), "y_pred": f64([[1e-7, 1e-7]])}, o,
                          dtype="float64"))
    if cls == "Huber":
        out.append(sk.kex("delta=0.5, ties |e| == delta", {"y_true": f32([[0, 1, 2]]),
                                                           "y_pred": f32([[0.5, 0.5, 2.5]])},
                          {"delta": 0.5}, dtype=d))
    if cls in ("Dice", "Tversky"):
        out.append(sk.kex("axis=(1,2)", {"y_true": (np.arange(24, dtype=np.float32)
                                                    .reshape(2, 3, 4) % 2),
                                         "y_pred": np.cos(np.arange(24, dtype=np.float32))
                                         .reshape(2, 3, 4) ** 2}, dict(o, axis=(1, 2)), dtype=d))
    if cls == "CosineSimilarity":
        out.append(sk.kex("axis=0", a, {"axis": 0}, dtype=d))
    return out


def _fn_errors(spec):
    a, o = _sec43(spec.cls)
    o = {k: v for k, v in o.items() if k in spec.fn_opts}
    return [err("[2,3] vs [2,4]: Incompatible shapes",
                {"y_true": np.zeros((2, 3), np.float32), "y_pred": np.zeros((2, 4), np.float32)},
                "InvalidArgumentError", "InvalidArgumentError",
                "broadcasting fails at run time (sec. 4.4)", o)] + (
        [err("empty batch", {"y_true": np.zeros((0, 3), np.float32),
                             "y_pred": np.zeros((0, 3), np.float32)},
             "InvalidArgumentError", "InvalidArgumentError", EMPTY_MAX.why)]
        if spec.cls == "CategoricalHinge" else [])


# --------------------------------------------------------------- entries ---

BUDGET_CLASS = {"quick": 60, "full": 600}
BUDGET_FN = {"quick": 30, "full": 300}
BUDGET_ALIAS = {"quick": 10, "full": 100}

for _spec in SPECS:
    _add(sk.class_entry(
        _spec.cls, cases=lambda mode, key, _s=_spec: _cases(_s, True)(mode, key),
        scale=_scale(_spec, True), tol=dict(TOL),
        examples=_class_examples(_spec) + _class_extra(_spec), errors=_class_errors(_spec),
        overflows=_cathinge_narrowing if _spec.cls == "CategoricalHinge" else _overflows,
        budget=BUDGET_CLASS,
        notes="TF_SEMANTICS sec. 4.1-4.4; y_true of the same, rank-fixed, broadcast or "
              "incompatible shape; every reduction, sample_weight form and dtype option"))
    for _i, _name in enumerate(_spec.fns):
        _add(Entry(
            key=f"keras.{_name}", fn=sk.cy(_name), tf_fn=sk.tf_fn(_name),
            call_tf=sk.tf_function(_name), wrt=("y_true", "y_pred"),
            cases=lambda mode, key, _s=_spec: _cases(_s, False)(mode, key),
            scale=_scale(_spec, False), tol=dict(FN_TOL),
            examples=_fn_examples(_spec, _name), errors=_fn_errors(_spec),
            budget=BUDGET_FN if _i == 0 else BUDGET_ALIAS,
            notes="function form: unreduced per-sample values in y_pred's dtype "
                  "(TF_SEMANTICS sec. 4.1 last paragraph)"))


# ============================================================ keras.Loss ====
# A subclass with a custom `call` (NumPy in cyloss, TF ops in Keras) must be
# converted, weighted and reduced like Keras' (4.1): value only (a custom
# NumPy call has no cyloss gradient), config and name.

def _cube_call_np(y_true, y_pred):
    return np.mean(np.abs(y_pred - y_true) ** 3, axis=-1)


_SUBCLASSES = {}


def _subclasses(tf):
    if "tf" not in _SUBCLASSES:
        class MyCubeLoss(tf.keras.losses.Loss):
            def call(self, y_true, y_pred):
                return tf.reduce_mean(tf.abs(y_pred - y_true) ** 3, axis=-1)
        _SUBCLASSES["tf"] = MyCubeLoss
    cybase = getattr(sk._keras_module(), "Loss", None)
    if "cy" not in _SUBCLASSES and cybase is not None:
        class MyCubeLoss(cybase):       # noqa: F811 - the cyloss twin, same name
            def call(self, y_true, y_pred):
                return _cube_call_np(y_true, y_pred)
        _SUBCLASSES["cy"] = MyCubeLoss
    return _SUBCLASSES["tf"], _SUBCLASSES.get("cy")


def _name_ok(cy_name, tf_name):
    """Keras' auto names carry a process-wide counter (loss_3, my_cube_loss_2):
    compare them without it."""
    import re
    strip = re.compile(r"_\d+$")
    return strip.sub("", str(cy_name)) == strip.sub("", str(tf_name))


def _cube_scale(case):
    c = _Ctx(case, True, True)
    e = c.pb - c.yb
    R = _R(c)
    f = np.abs(e) ** 3
    K = max(f.shape[-1], 1) if f.ndim else 1
    L = f.mean(-1)
    T = (4 * f + 3 * e * e * R).sum(-1) / K + acc(K) * f.sum(-1) / K
    value, _, _, _ = sk.keras_reduce(case, L, T, np.ones(()))     # (dy: value scale only)
    return value


def run_loss_base(entry, case):
    from .engine import CaseResult, _finish, _exc
    res = CaseResult(case, ok=True)
    tf = oracle.tf()
    TfCube, CyCube = _subclasses(tf)
    if CyCube is None:
        res.problems.append("cyloss.keras.Loss is missing")
        _finish(res)
        return res
    a, o = case.args, dict(case.options)
    if a.get("base"):           # the base class itself: call() is abstract
        outs = []
        for mk in (lambda: tf.keras.losses.Loss(**o), lambda: entry.fn(**o)):
            try:
                mk()(a["y_true"], a["y_pred"])
                outs.append("no error")
            except Exception as e:      # noqa: BLE001 - the class is compared
                outs.append(type(e).__name__)
        if outs[0] != outs[1]:
            res.problems.append(f"Loss(**{o})(...): TF {outs[0]}, cyloss {outs[1]}")
        _finish(res)
        return res
    w = a.get("sample_weight")
    try:
        t = TfCube(**o)
        ref = t(tf.constant(a["y_true"]), tf.constant(a["y_pred"]),
                sample_weight=None if w is None else tf.constant(w)).numpy()
    except Exception as e:      # noqa: BLE001
        res.problems.append(f"TensorFlow raised on a case the registry thinks valid: {_exc(e)}")
        _finish(res)
        return res
    try:
        cinst = CyCube(**o)
        got = np.asarray(cinst(a["y_true"], a["y_pred"], sample_weight=w))
    except Exception as e:      # noqa: BLE001
        res.problems.append(f"cyloss raised {_exc(e)}")
        _finish(res)
        return res
    tcfg, ccfg = t.get_config(), cinst.get_config()
    if set(tcfg) != set(ccfg) or tcfg.get("reduction") != ccfg.get("reduction") or \
            not _name_ok(ccfg.get("name"), tcfg.get("name")):
        res.problems.append(f"get_config(): cyloss {ccfg!r}, TF {tcfg!r}")
    if not _name_ok(getattr(cinst, "name", None), t.name):
        res.problems.append(f"name: cyloss {getattr(cinst, 'name', None)!r}, TF {t.name!r}")
    narrowed = case.dtype == "float64" and o.get("dtype") is None
    with np.errstate(all="ignore"):
        sc = _cube_scale(case)
    res.comparisons.append(compare("value", got, ref, sc, entry.tol["value"].k,
                                   dtype="float32" if narrowed else case.dtype,
                                   widened=case.dtype if narrowed else None))
    _finish(res)
    return res


@st.composite
def loss_base_cases(draw, mode, fn):
    dtype, seed, layout = _common(draw)
    r = draw(st.integers(1, 3))
    ps = _dims(draw, r, _budget(draw, mode) // 4 + 1)
    options = {}
    cdt = sk.draw_dtype_option(draw, dtype, options)
    sk.draw_reduction(draw, options)
    if draw(st.booleans()):
        options["name"] = draw(st.sampled_from(("cube", "my loss", "x_1")))
    rng = np.random.default_rng(seed)
    y = real_values(rng, ps, dtype, "normal")
    p = real_values(rng, ps, dtype, draw(st.sampled_from(("normal", "ties", "tiny"))))
    args = {"y_true": y, "y_pred": p}
    w, wl, wexp = sk.draw_sample_weight(draw, rng, ps[:-1], dtype, error_ok=False)
    if w is not None and wexp is None:      # (shapes Keras rejects: the class entries test them)
        args["sample_weight"] = w
    return Case(fn, args, options, dtype=cdt, kind=f"rank {r}/w:{wl}", seed=seed)


def _lb(label, args, options=None, dtype="float32"):
    return Case("", args, dict(options or {}), dtype=dtype, kind="fixed", label=label)


_add(Entry(
    key="keras.Loss", fn=sk.cy("Loss"), tf_fn=sk.tf_fn("Loss"), call_tf=None, wrt=(),
    cases=loss_base_cases, scale=None,
    tol={"value": Tol(8, "mean of |e|^3 over K (a few roundings, acc(K)) through Keras' "
                         "weighting and reduction (keras_reduce)")},
    examples=[
        _lb("subclass, sec. 4.3 data, sample_weight, sum",
            {"y_true": X, "y_pred": P, "sample_weight": f32([1, 2])}, {"reduction": "sum"}),
        _lb("subclass, float64 data, dtype=None (Keras float32)",
            {"y_true": X.astype(np.float64), "y_pred": P.astype(np.float64)}, dtype="float64"),
        _lb("subclass, dtype='float64', mean_with_sample_weight",
            {"y_true": X, "y_pred": P, "sample_weight": f32([[0.5], [2]])},
            {"dtype": "float64", "reduction": "mean_with_sample_weight"}, dtype="float64"),
        _lb("subclass, empty batch", {"y_true": np.zeros((0, 3), np.float32),
                                      "y_pred": np.zeros((0, 3), np.float32)}),
        _lb("subclass, name='cube', reduction=None", {"y_true": X, "y_pred": P},
            {"name": "cube", "reduction": None}),
        _lb("base class: call() not implemented", {"y_true": X, "y_pred": P, "base": True}),
    ],
    check=run_loss_base, budget={"quick": 25, "full": 200},
    notes="cyloss.keras.Loss subclassed with a NumPy `call` vs tf.keras.losses.Loss with the "
          "same maths in TF ops: conversion, weighting, reduction, name, get_config"))


# ======================================================= keras.Reduction ====

def run_reduction(entry, case):
    from .engine import CaseResult, _finish
    res = CaseResult(case, ok=True)
    tfR = oracle.tf().keras.losses.Reduction
    cyR = entry.fn
    for attr in ("AUTO", "NONE", "SUM", "SUM_OVER_BATCH_SIZE"):
        if getattr(cyR, attr, None) != getattr(tfR, attr):
            res.problems.append(f"Reduction.{attr}: {getattr(cyR, attr, None)!r} != TF's "
                                f"{getattr(tfR, attr)!r}")
    try:
        if tuple(cyR.all()) != tuple(tfR.all()):
            res.problems.append(f"Reduction.all(): {cyR.all()!r} != TF's {tfR.all()!r}")
    except Exception as e:      # noqa: BLE001
        res.problems.append(f"Reduction.all() raised {type(e).__name__}")
    extra = sorted(a for a in dir(cyR) if not a.startswith("_")) != \
        sorted(a for a in dir(tfR) if not a.startswith("_"))
    if extra:
        res.problems.append(f"public attributes differ: cyloss "
                            f"{sorted(a for a in dir(cyR) if not a.startswith('_'))}, TF "
                            f"{sorted(a for a in dir(tfR) if not a.startswith('_'))}")
    compare_validate(tfR, cyR, case.args["keys"], res)
    _finish(res)
    return res


_RKEYS = ("auto", "none", "sum", "sum_over_batch_size", "mean", "mean_with_sample_weight",
          "weighted_sum", "AUTO", "NONE", "Sum", "", " sum", None)


@st.composite
def reduction_cases(draw, mode, fn):
    keys = draw(st.lists(st.one_of(st.sampled_from(_RKEYS), st.text(max_size=10)),
                         min_size=1, max_size=6))
    return Case(fn, {"keys": keys}, {}, dtype="", kind="keys", seed=0)


_add(Entry(
    key="keras.Reduction", fn=sk.cy("Reduction"), tf_fn=sk.tf_fn("Reduction"), call_tf=None,
    wrt=(), cases=reduction_cases, scale=None,
    tol={"value": Tol(0, "string constants: equal")},
    examples=[Case("", {"keys": list(_RKEYS)}, {}, dtype="", kind="fixed",
                   label="the four legacy keys, Keras 3's reductions, case variants, None")],
    check=run_reduction, budget={"quick": 10, "full": 100},
    notes="tf.keras.losses.Reduction is Keras' legacy constant class (AUTO, NONE, SUM, "
          "SUM_OVER_BATCH_SIZE, all(), validate()); the losses themselves reject 'auto'"))


# ================================================ get / serialize / deserialize

CLASS_ARGS = {
    "BinaryCrossentropy": {"from_logits": (False, True), "label_smoothing": (0.0, 0.1),
                           "axis": (-1, 0)},
    "BinaryFocalCrossentropy": {"apply_class_balancing": (False, True), "alpha": (0.25, 0.4),
                                "gamma": (2.0, 0.5), "from_logits": (False, True),
                                "label_smoothing": (0.0, 0.1)},
    "CategoricalCrossentropy": {"from_logits": (False, True), "label_smoothing": (0.0, 0.2),
                                "axis": (-1, 0)},
    "CategoricalFocalCrossentropy": {"alpha": (0.25, 0.5), "gamma": (2.0, 1.0),
                                     "from_logits": (False, True),
                                     "label_smoothing": (0.0, 0.1)},
    "SparseCategoricalCrossentropy": {"from_logits": (False, True), "ignore_class": (None, 2)},
    "CategoricalGeneralizedCrossEntropy": {"q": (0.5, 0.3)},
    "MeanSquaredError": {}, "MeanAbsoluteError": {}, "MeanAbsolutePercentageError": {},
    "MeanSquaredLogarithmicError": {}, "LogCosh": {}, "Hinge": {}, "SquaredHinge": {},
    "CategoricalHinge": {}, "KLDivergence": {}, "Poisson": {}, "CTC": {},
    "Huber": {"delta": (1.0, 2.5, 0.5)},
    "CosineSimilarity": {"axis": (-1, 0)},
    "Dice": {"axis": (None, 1, (1,), -1)},
    "Tversky": {"alpha": (0.5, 0.7), "beta": (0.5, 0.2), "axis": (None, 1)},
    "Circle": {"gamma": (80.0, 40.0), "margin": (0.4, 0.2), "remove_diagonal": (True, False)},
}
COMMON_ARGS = {"reduction": sk.KERAS_REDUCTIONS, "name": ("omit", "custom_name"),
               "dtype": ("omit", None, "float32", "float64")}
# Non-default arguments for every class (the serialize/deserialize fixed cases).
NONDEFAULT = {c: {k: v[-1] for k, v in a.items()} for c, a in CLASS_ARGS.items()}
for _c, _a in NONDEFAULT.items():
    _a.setdefault("reduction", "sum")
NONDEFAULT["MeanSquaredError"].update(name="m", dtype="float64")
NONDEFAULT["Huber"].update(reduction="mean_with_sample_weight")
NONDEFAULT["Hinge"].update(reduction=None)


NAMES = (tuple(CLASS_ARGS) + (
    "Loss", "Reduction", "LossFunctionWrapper",
    "binary_crossentropy", "binary_focal_crossentropy", "categorical_crossentropy",
    "categorical_focal_crossentropy", "sparse_categorical_crossentropy",
    "categorical_generalized_cross_entropy", "categorical_hinge", "circle", "cosine_similarity",
    "ctc", "dice", "hinge", "huber", "kld", "KLD", "kullback_leibler_divergence", "logcosh",
    "log_cosh", "kl_divergence", "mae", "MAE", "mape", "MAPE", "mse", "MSE", "msle", "MSLE",
    "poisson", "squared_hinge", "tversky", "mean_squared_error", "mean_absolute_error",
    "mean_absolute_percentage_error", "mean_squared_logarithmic_error", "huber_loss",
    "get", "serialize", "deserialize", "nope", "Nope", "", "Mse", "MEAN_SQUARED_ERROR",
    "meansquarederror", "BinaryCrossEntropy", "keras.losses.MeanSquaredError", "bce", "BCE",
    "cce", "sce"))


def _probe(kind):
    """Fixed benign inputs for comparing two resolved losses' values."""
    rng = np.random.default_rng(7)
    if kind == "sparse":
        p = rng.uniform(0.1, 1, (4, 3)).astype(np.float32)
        return np.array([0, 2, 1, 2], np.int32), p / p.sum(-1, keepdims=True)
    if kind == "circle":
        e = rng.standard_normal((4, 3)).astype(np.float32)
        return np.array([0, 1, 0, 1], np.int32), e / np.linalg.norm(e, axis=-1, keepdims=True)
    if kind == "ctc":
        return (np.array([[1, 2, 0], [3, 0, 0]], np.int32),
                rng.standard_normal((2, 5, 4)).astype(np.float32))
    return (rng.integers(0, 2, (4, 3)).astype(np.float32),
            rng.uniform(0.1, 0.9, (4, 3)).astype(np.float32))


def _kind_of(name):
    n = name.lower()
    if "sparse" in n or "generalized" in n:
        return "sparse"
    if "circle" in n:
        return "circle"
    if n == "ctc":
        return "ctc"
    return "default"


def _outcome(f):
    try:
        return "ok", f()
    except Exception as e:      # noqa: BLE001 - the class is compared
        return "raise", e


def _public_names_of(module, obj):
    names = getattr(module, "__all__", None)
    if names is None:       # tf.keras.losses has no __all__: its public attributes
        names = [n for n in dir(module) if not n.startswith("_")]
    return {n for n in names if getattr(module, n, None) is obj}


def _compare_resolved(res, what, t, c, tol):
    """Compare TF's and cyloss' results of get/deserialize: the same kind of
    outcome (an error class, None, a string, a function, a loss instance),
    the same public function / class and config, the same values on a probe."""
    tf = oracle.tf()
    ck = sk._keras_module()
    if isinstance(t, Exception) or isinstance(c, Exception):
        tn = type(t).__name__ if isinstance(t, Exception) else f"returned {type(t).__name__}"
        cn = type(c).__name__ if isinstance(c, Exception) else f"returned {type(c).__name__}"
        if tn != cn:
            res.problems.append(f"{what}: TF {tn}, cyloss {cn}")
        return
    if t is None or isinstance(t, str) or not callable(t):
        if not (c == t and type(c) is type(t)):
            res.problems.append(f"{what}: TF returned {t!r}, cyloss {c!r}")
        return
    tf_is_loss = isinstance(t, tf.keras.losses.Loss)
    cy_is_loss = isinstance(c, getattr(ck, "Loss", ()))
    if tf_is_loss != cy_is_loss:
        res.problems.append(f"{what}: TF returned {type(t).__name__}, cyloss "
                            f"{type(c).__name__}")
        return
    if not tf_is_loss:          # a function: the same public function
        tf_names = _public_names_of(tf.keras.losses, t) or {getattr(t, "__name__", "?")}
        cy_names = _public_names_of(ck, c)
        if not tf_names & cy_names:
            res.problems.append(f"{what}: TF returned the function {sorted(tf_names)}, cyloss "
                                f"{sorted(cy_names) or c!r}")
            return
        kind = _kind_of(next(iter(tf_names)))
        name = next(iter(tf_names))
        y, p = _probe(kind)
        kw = {"q": 0.5} if "generalized" in name else {}
        ok_t, vt = _outcome(lambda: t(tf.constant(y), tf.constant(p), **kw).numpy())
        ok_c, vc = _outcome(lambda: c(y, p, **kw))
    else:
        if type(t).__name__ != type(c).__name__:
            res.problems.append(f"{what}: TF returned a {type(t).__name__}, cyloss a "
                                f"{type(c).__name__}")
            return
        tcfg, ccfg = _outcome(t.get_config)[1], _outcome(c.get_config)[1]
        if isinstance(tcfg, dict) and isinstance(ccfg, dict):
            same = set(tcfg) == set(ccfg) and all(
                _name_ok(ccfg[k], tcfg[k]) if k == "name" else ccfg[k] == tcfg[k] for k in tcfg)
            if not same:
                res.problems.append(f"{what}: get_config() cyloss {ccfg!r}, TF {tcfg!r}")
        y, p = _probe(_kind_of(type(t).__name__))
        w = np.float32(0.5)
        ok_t, vt = _outcome(lambda: np.asarray(
            t(tf.constant(y), tf.constant(p), sample_weight=tf.constant(w))))
        ok_c, vc = _outcome(lambda: c(y, p, sample_weight=w))
    if ok_t != ok_c or ok_t == "raise":
        if ok_t != ok_c or type(vt).__name__ != type(vc).__name__:
            res.problems.append(f"{what}: calling it: TF {ok_t} "
                                f"{type(vt).__name__ if ok_t == 'raise' else ''}, cyloss "
                                f"{ok_c} {type(vc).__name__ if ok_c == 'raise' else ''}")
        return
    vt = np.asarray(vt)
    cmp = compare("value", np.asarray(vc), vt, 4 * (np.abs(fin(vt)) + 1), tol)
    if not cmp.ok:
        cmp.detail = f"{what}: {cmp.detail}"
    res.comparisons.append(cmp)


def _resolve_ident(ident, tf):
    """(TF identifier, cyloss identifier) for a case's identifier description."""
    import copy
    ck = sk._keras_module()
    if isinstance(ident, (list, tuple)) and ident and ident[0] == "callable":
        return getattr(tf.keras.losses, ident[1]), getattr(ck, ident[1], None)
    if isinstance(ident, (list, tuple)) and ident and ident[0] == "instance":
        return (getattr(tf.keras.losses, ident[1])(**ident[2]),
                getattr(ck, ident[1])(**ident[2]))
    if isinstance(ident, (list, tuple)) and ident and ident[0] == "config":
        cfg = tf.keras.losses.serialize(getattr(tf.keras.losses, ident[1])(**ident[2]))
        if len(ident) > 3:      # a hand-edited Keras config
            cfg["config"].update(ident[3])
        return cfg, copy.deepcopy(cfg)
    return ident, (dict(ident) if isinstance(ident, dict) else ident)


def run_resolver(entry, case):
    """engine hook for keras.get / keras.deserialize / keras.serialize."""
    from .engine import CaseResult, _finish
    import copy
    res = CaseResult(case, ok=True)
    tf = oracle.tf()
    which = entry.key.split(".")[-1]
    tol = entry.tol["value"].k
    for ident in case.args["idents"]:
        what = f"{which}({ident!r})"
        try:
            ti, ci = _resolve_ident(ident, tf)
        except Exception as e:      # noqa: BLE001
            res.problems.append(f"{what}: building the identifier failed: "
                                f"{type(e).__name__}: {e}")
            continue
        if which == "serialize":
            ot, st_ = _outcome(lambda: tf.keras.losses.serialize(ti))
            oc, sc = _outcome(lambda: entry.fn(ci))
            if ot != oc:
                res.problems.append(f"{what}: TF {ot}, cyloss {oc} ({sc!r})")
                continue
            if ot == "ok" and st_ != sc:
                res.problems.append(f"{what}: cyloss {sc!r} != TF's {st_!r}")
                continue
            if ot == "ok":      # round trips: cyloss' own, and Keras' config in cyloss
                t2 = _outcome(lambda: tf.keras.losses.deserialize(copy.deepcopy(st_)))[1]
                c2 = _outcome(lambda: sk.cy("deserialize")(copy.deepcopy(sc)))[1]
                _compare_resolved(res, f"deserialize(serialize({ident!r}))", t2, c2, tol)
                if isinstance(ti, tf.keras.losses.Loss):
                    cls = type(ci)
                    c3 = _outcome(lambda: cls.from_config(ti.get_config()))[1]
                    t3 = _outcome(lambda: type(ti).from_config(ti.get_config()))[1]
                    _compare_resolved(res, f"{cls.__name__}.from_config(Keras' get_config())",
                                      t3, c3, tol)
            continue
        f_tf = getattr(tf.keras.losses, which)
        t = _outcome(lambda: f_tf(ti))[1]
        c = _outcome(lambda: entry.fn(ci))[1]
        if which == "get" and isinstance(ident, (tuple, list)) \
                and ident[0] in ("callable", "instance"):
            if c is not ci:
                res.problems.append(f"{what}: a callable must come back as is (Keras "
                                    f"returns the same object); cyloss returned {c!r}")
            continue
        _compare_resolved(res, what, t, c, tol)
    _finish(res)
    return res


def _draw_kwargs(draw, cls, common=True):
    kw = {}
    for k, vals in CLASS_ARGS[cls].items():
        v = draw(st.sampled_from(("omit",) + tuple(vals)))
        if v != "omit":
            kw[k] = v
    if common:
        for k, vals in COMMON_ARGS.items():
            v = draw(st.sampled_from(("omit",) + tuple(vals)))
            if v != "omit":
                kw[k] = v
        if kw.get("name") == "omit":
            del kw["name"]
    return kw


@st.composite
def resolver_cases(draw, mode, fn, which):
    idents = []
    for _ in range(draw(st.integers(1, 5))):
        cls = draw(st.sampled_from(tuple(CLASS_ARGS)))
        if which == "serialize":
            form = draw(st.sampled_from(("instance", "instance", "instance", "callable")))
        else:
            form = draw(st.sampled_from(("name", "name", "config", "config", "edited", "none",
                                         "callable") + (("instance",) if which == "get"
                                                        else ())))
        if form == "name":
            idents.append(draw(st.sampled_from(NAMES)))
        elif form == "none":
            idents.append(None)
        elif form == "callable":
            idents.append(("callable", draw(st.sampled_from(
                ("mse", "mae", "huber", "dice", "kld", "hinge", "poisson", "logcosh",
                 "cosine_similarity", "binary_crossentropy", "categorical_hinge")))))
        elif form == "edited":
            edit = draw(st.sampled_from(({"reduction": "auto"}, {"bogus": 1}, {"name": "x"},
                                         {"reduction": None}, {"dtype": "float64"})))
            idents.append(("config", cls, _draw_kwargs(draw, cls), edit))
        else:
            idents.append((form, cls, _draw_kwargs(draw, cls)))
    return Case(fn, {"idents": idents}, {}, dtype="", kind=f"{len(idents)} identifiers",
                seed=0)


def _rc(label, idents):
    return Case("", {"idents": list(idents)}, {}, dtype="", kind="fixed", label=label)


_ALL_NAMES = [n for n in NAMES]
_RESOLVER_EXAMPLES = {
    "get": [
        _rc("every public class and function name, config names, unknown names", _ALL_NAMES),
        _rc("None, callables (returned as is), Loss instances (returned as is)",
            [None, ("callable", "mse"), ("callable", "huber"),
             ("instance", "Huber", {"delta": 2.0})]),
        _rc("Keras-written configs of every class with non-default arguments",
            [("config", c, a) for c, a in NONDEFAULT.items()]),
        _rc("configs with an unknown key (TypeError), reduction 'auto' (ValueError), "
            "unknown class (ValueError)",
            [("config", "Huber", {}, {"bogus": 1}), ("config", "MeanSquaredError", {},
                                                     {"reduction": "auto"}),
             {"class_name": "Nope", "config": {}}, 42]),
    ],
    "deserialize": [
        _rc("every public name; unknown names come back as the string (Keras)", _ALL_NAMES),
        _rc("Keras-written configs of every class with non-default arguments "
            "(CategoricalGeneralizedCrossEntropy: Keras returns its class name string)",
            [("config", c, a) for c, a in NONDEFAULT.items()]),
        _rc("function configs, bad configs, an unknown class",
            [{"module": "builtins", "class_name": "function", "config": "huber",
              "registered_name": "function"},
             {"module": "builtins", "class_name": "function", "config": "mean_squared_error",
              "registered_name": "function"},
             ("config", "Tversky", {"alpha": 0.7}, {"bogus": 1}),
             ("config", "Dice", {}, {"reduction": "auto"}),
             {"class_name": "Nope", "config": {}}, 42]),
    ],
    "serialize": [
        _rc("every class with non-default arguments; round trips",
            [("instance", c, a) for c, a in NONDEFAULT.items()]),
        _rc("every class with defaults", [("instance", c, {}) for c in CLASS_ARGS]),
        _rc("function forms", [("callable", n) for n in ("mse", "MSE", "mae", "huber", "kld",
                                                         "logcosh", "dice", "tversky",
                                                         "cosine_similarity", "hinge")]),
    ],
}
RESOLVER_TOL = Tol(16, "the same loss on a fixed benign probe (no cancellation, no clip edge): "
                       "a few ulp of |value| + 1; a different loss or a lost argument (delta, "
                       "axis, alpha, from_logits ...) moves it by > 1e-3")

for _which in ("get", "serialize", "deserialize"):
    _add(Entry(
        key=f"keras.{_which}", fn=sk.cy(_which), tf_fn=sk.tf_fn(_which), call_tf=None, wrt=(),
        cases=lambda mode, key, _w=_which: resolver_cases(mode, key, _w), scale=None,
        tol={"value": RESOLVER_TOL}, examples=_RESOLVER_EXAMPLES[_which],
        check=run_resolver, budget={"quick": 15, "full": 150},
        notes="identifiers resolve to the same kind of result as Keras (error class, None, "
              "string, the same public function, an instance of the same class with the same "
              "config and values); serialize gives Keras' dict and round-trips"))
