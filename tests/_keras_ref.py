"""Extended-precision references for cyloss.keras (tf.keras.losses of Keras 3.15),
written from TF_SEMANTICS.md section 4: the per-sample formulas of 4.2 and the
Loss.__call__ pipeline of 4.1 (rank fix, mask, sample weight, reduction).

Everything is computed in np.longdouble (64-bit significand on x86-64) from
inputs first rounded to the compute dtype, with Keras' constants (epsilon =
1e-7, 1 - epsilon, ...) rounded in that dtype as Keras does. Each function
returns (value, scale): `scale` bounds the magnitude of the terms whose rounding
makes up the value, so a result computed in `dtype` is expected within
k * eps(dtype) * scale (see _cases.assert_close).
"""
import numpy as np

from _fd import on_grid

REF = np.longdouble

# constructor args of every class (besides reduction, name, dtype) and the
# function form that computes its per-sample values
CLASSES = {
    "BinaryCrossentropy": "binary_crossentropy",
    "BinaryFocalCrossentropy": "binary_focal_crossentropy",
    "CategoricalCrossentropy": "categorical_crossentropy",
    "CategoricalFocalCrossentropy": "categorical_focal_crossentropy",
    "SparseCategoricalCrossentropy": "sparse_categorical_crossentropy",
    "CategoricalGeneralizedCrossEntropy": "categorical_generalized_cross_entropy",
    "MeanSquaredError": "mse",
    "MeanAbsoluteError": "mae",
    "MeanAbsolutePercentageError": "mape",
    "MeanSquaredLogarithmicError": "msle",
    "Huber": "huber",
    "LogCosh": "logcosh",
    "CosineSimilarity": "cosine_similarity",
    "Hinge": "hinge",
    "SquaredHinge": "squared_hinge",
    "CategoricalHinge": "categorical_hinge",
    "KLDivergence": "kld",
    "Poisson": "poisson",
    "Dice": "dice",
    "Tversky": "tversky",
    "Circle": "circle",
    "CTC": "ctc",
}


def consts(dtype):
    """(epsilon, 1 - epsilon) as Keras has them in `dtype`."""
    e = np.asarray(1e-7, dtype)
    return REF(e), REF(np.asarray(1, dtype) - e)


def _r(a, dtype):
    """The input as the kernel sees it: rounded to `dtype`, then exact."""
    return np.asarray(np.asarray(a, dtype), REF)


def _mean(v, s, axis=-1):
    return np.mean(v, axis=axis), np.mean(s, axis=axis) * 2


def rank_fix(a, b):
    """Keras' squeeze_or_expand_to_same_rank: ranks differing by one, longer one
    with last dim 1 -> expand the shorter if it has rank 1, else squeeze."""
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim == b.ndim + 1 and a.shape[-1] == 1:
        return (a, b[..., None]) if b.ndim == 1 else (a[..., 0], b)
    if b.ndim == a.ndim + 1 and b.shape[-1] == 1:
        return (a[..., None], b) if a.ndim == 1 else (a, b[..., 0])
    return a, b


# ---------------------------------------------------------------- per sample --

def _smooth_binary(z, ls):
    return z * (1 - REF(ls)) + REF(0.5) * REF(ls) if ls else z


def binary_crossentropy(y, p, dtype, from_logits=False, label_smoothing=0.0, axis=-1):
    z, x = _r(y, dtype), _r(p, dtype)
    z = _smooth_binary(z, label_smoothing)
    if from_logits:
        v = np.maximum(x, 0) - x * z + np.log1p(np.exp(-np.abs(x)))
        s = np.abs(x) * (1 + np.abs(z)) + 1
    else:
        lo, hi = consts(dtype)
        c = np.clip(x, lo, hi)
        a, b = -z * np.log(c), -(1 - z) * np.log(1 - c)
        v = a + b
        s = (np.abs(a) + np.abs(b)) * 2 + 1
    return _mean(v, s, axis)


def binary_focal_crossentropy(y, p, dtype, apply_class_balancing=False, alpha=0.25, gamma=2.0,
                              from_logits=False, label_smoothing=0.0, axis=-1):
    z, x = _r(y, dtype), _r(p, dtype)
    z = _smooth_binary(z, label_smoothing)
    q = 1 / (1 + np.exp(-x)) if from_logits else x
    lo, hi = consts(dtype)
    c = np.clip(q, lo, hi)
    a, b = -z * np.log(c), -(1 - z) * np.log(1 - c)
    bce = a + b
    pt = z * q + (1 - z) * (1 - q)
    fac = (1 - pt) ** REF(gamma)
    v = fac * bce
    # 1 - p_t cancels when p_t ~ 1: its rounding is relative to 1, times gamma
    s = (np.abs(a) + np.abs(b) + 1) * (fac + REF(gamma) * np.abs(fac / np.maximum(1 - pt, 1e-30))
                                       * (1 + np.abs(x)))
    if apply_class_balancing:
        w = z * REF(alpha) + (1 - z) * (1 - REF(alpha))
        v, s = v * w, s * (np.abs(w) + 1)
    return _mean(v, s, axis)


def _smooth_cat(y, ls):
    return y * (1 - REF(ls)) + REF(ls) / y.shape[-1] if ls else y


def categorical_crossentropy(y, p, dtype, from_logits=False, label_smoothing=0.0, axis=-1):
    y, x = _r(y, dtype), _r(p, dtype)
    y = _smooth_cat(y, label_smoothing)     # K = size of the LAST axis, whatever `axis`
    if from_logits:
        m = np.max(x, axis=axis, keepdims=True)
        lse = m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))
        v = np.sum(y * (lse - x), axis=axis)
        s = np.sum(np.abs(y) * (np.abs(x - m) + (lse - m) + 1), axis=axis) + 1
    else:
        lo, hi = consts(dtype)
        o = x / np.sum(x, axis=axis, keepdims=True)
        c = np.clip(o, lo, hi)
        t = -y * np.log(c)
        v = np.sum(t, axis=axis)
        s = np.sum(np.abs(t) + np.abs(y), axis=axis) * 2 + 1
    return v, s


def categorical_focal_crossentropy(y, p, dtype, alpha=0.25, gamma=2.0, from_logits=False,
                                   label_smoothing=0.0, axis=-1):
    y, x = _r(y, dtype), _r(p, dtype)
    y = _smooth_cat(y, label_smoothing)
    if from_logits:
        m = np.max(x, axis=axis, keepdims=True)
        e = np.exp(x - m)
        x = e / np.sum(e, axis=axis, keepdims=True)
    lo, hi = consts(dtype)
    o = np.clip(x / np.sum(x, axis=axis, keepdims=True), lo, hi)
    a = np.asarray(alpha, REF)
    fac = (1 - o) ** REF(gamma)
    t = a * fac * (-y * np.log(o))
    v = np.sum(t, axis=axis)
    s = np.sum((np.abs(t) + np.abs(a * y) * fac) * (4 + 2 * REF(gamma))
               + np.abs(a * y * np.log(o)) * REF(gamma) * o, axis=axis) + 1
    return v, s


def sparse_categorical_crossentropy(y, p, dtype, from_logits=False, ignore_class=None, axis=-1,
                                    convert_labels=True):
    """convert_labels: the class passes labels through `dtype` (then int64
    truncation); the function form keeps integer labels exact."""
    lab = np.asarray(y)
    x = _r(p, dtype)
    if convert_labels or lab.dtype.kind == "f":
        lab = np.trunc(np.asarray(lab, dtype).astype(np.float64)).astype(np.int64)
    if lab.ndim == x.ndim:
        lab = lab[..., 0]
    keep = None
    if ignore_class is not None:
        keep = lab != ignore_class
        lab = np.where(keep, lab, 0)
        x = np.where(keep[..., None], x, 0)
    if not from_logits:
        lo, hi = consts(dtype)
        x = np.log(np.clip(x, lo, hi))
    onehot = (np.arange(x.shape[-1]) == lab[..., None])
    m = np.max(x, axis=-1, keepdims=True)
    lse = m + np.log(np.sum(np.exp(x - m), axis=-1, keepdims=True))
    v = np.sum(np.where(onehot, lse - x, 0), axis=-1)
    s = np.sum(np.where(onehot, np.abs(x - m) + (lse - m) + 1, 0), axis=-1) \
        + (0 if from_logits else np.max(np.abs(x), axis=-1)) + 1
    if keep is not None:
        v, s = np.where(keep, v, 0), np.where(keep, s, 0)
    return v, s, keep


def categorical_generalized_cross_entropy(y, p, dtype, q=0.5):
    x = _r(p, dtype)
    lab = np.asarray(y)
    lab = np.trunc(np.asarray(lab, np.float64)).astype(np.int64) if lab.dtype.kind == "f" else lab
    if lab.ndim == x.ndim:
        lab = lab[..., 0]
    onehot = np.arange(x.shape[-1]) == lab[..., None]
    py = np.sum(np.where(onehot, x, 0), axis=-1)
    pq = py ** REF(q)
    return (1 - pq) / REF(q), (1 + pq * (1 + np.abs(np.log(np.where(py > 0, py, 1))))) / REF(q)


def mse(y, p, dtype):
    y, p = rank_fix(y, p)
    e = _r(p, dtype) - _r(y, dtype)
    return _mean(e * e, (np.abs(_r(p, dtype)) + np.abs(_r(y, dtype))) ** 2)


def mae(y, p, dtype):
    y, p = rank_fix(y, p)
    e = _r(p, dtype) - _r(y, dtype)
    return _mean(np.abs(e), np.abs(_r(p, dtype)) + np.abs(_r(y, dtype)))


def mape(y, p, dtype):
    y, p = rank_fix(y, p)
    yr, pr = _r(y, dtype), _r(p, dtype)
    lo, _ = consts(dtype)
    d = np.maximum(np.abs(yr), lo)
    v = np.abs((yr - pr) / d)
    return 100 * np.mean(v, -1), 100 * np.mean((np.abs(yr) + np.abs(pr)) / d, -1) * 4


def msle(y, p, dtype):
    y, p = rank_fix(y, p)
    lo, _ = consts(dtype)
    a = np.log(np.maximum(_r(p, dtype), lo) + 1)
    b = np.log(np.maximum(_r(y, dtype), lo) + 1)
    return _mean((a - b) ** 2, (np.abs(a) + np.abs(b) + 1) ** 2)


def huber(y, p, dtype, delta=1.0):
    y, p = rank_fix(y, p)
    e = _r(p, dtype) - _r(y, dtype)
    d = REF(np.asarray(delta, dtype))
    a = np.abs(e)
    v = np.where(a <= d, REF(0.5) * e * e, d * a - REF(0.5) * d * d)
    return _mean(v, (np.abs(_r(p, dtype)) + np.abs(_r(y, dtype)) + d) ** 2)


def logcosh(y, p, dtype):
    y, p = rank_fix(y, p)
    e = _r(p, dtype) - _r(y, dtype)
    # Keras takes log(2) in floatx (float32) and casts it: float64 runs keep
    # that float32 constant (verified against TF 2.21 with dtype="float64")
    v = e + np.logaddexp(REF(0), -2 * e) - REF(np.log(np.float32(2)))
    return _mean(v, 4 * (np.abs(_r(p, dtype)) + np.abs(_r(y, dtype))) + 2)


def cosine_similarity(y, p, dtype, axis=-1):
    y, p = _r(y, dtype), _r(p, dtype)
    lo, _ = consts(dtype)

    def n(v):
        ss = np.sum(v * v, axis=axis, keepdims=True)
        return v * np.minimum(1 / np.sqrt(ss), 1 / lo)
    with np.errstate(divide="ignore"):
        a, b = n(y), n(p)
    return -np.sum(a * b, axis=axis), np.sum(np.abs(a * b), axis=axis) * 4 + 1


def _hinge_t(y):
    return 2 * y - 1 if np.all((y == 0) | (y == 1)) else y


def hinge(y, p, dtype):
    y, p = rank_fix(y, p)
    t, x = _hinge_t(_r(y, dtype)), _r(p, dtype)
    return _mean(np.maximum(1 - t * x, 0), 1 + np.abs(t * x))


def squared_hinge(y, p, dtype):
    y, p = rank_fix(y, p)
    t, x = _hinge_t(_r(y, dtype)), _r(p, dtype)
    return _mean(np.maximum(1 - t * x, 0) ** 2, (1 + np.abs(t * x)) ** 2)


def categorical_hinge(y, p, dtype):
    y, x = _r(y, dtype), _r(p, dtype)
    pos = np.sum(y * x, -1)
    neg = np.max((1 - y) * x, -1)
    return np.maximum(neg - pos + 1, 0), np.sum(np.abs(y * x), -1) + np.abs(neg) + 1


def kld(y, p, dtype):
    y, p = rank_fix(y, p)
    lo, _ = consts(dtype)
    a = np.clip(_r(y, dtype), lo, 1)
    b = np.clip(_r(p, dtype), lo, 1)
    t = a * np.log(a / b)
    return np.sum(t, -1), np.sum(np.abs(t) + a * 2, -1) * 2


def poisson(y, p, dtype):
    y, p = rank_fix(y, p)
    lo, _ = consts(dtype)
    yr, pr = _r(y, dtype), _r(p, dtype)
    t = yr * np.log(pr + lo)
    return _mean(pr - t, np.abs(pr) + np.abs(t) * 2 + np.abs(yr))


def _axis(axis):
    return tuple(axis) if isinstance(axis, (list, tuple)) else axis


def dice(y, p, dtype, axis=None):
    y, p = _r(y, dtype), _r(p, dtype)
    lo, _ = consts(dtype)
    ax = _axis(axis)
    i = np.sum(y * p, axis=ax)
    d = np.sum(y, axis=ax) + np.sum(p, axis=ax) + lo
    n = y.size if ax is None else y.size // np.asarray(i).size
    s = (np.sum(np.abs(y * p), axis=ax) + np.sum(np.abs(y) + np.abs(p), axis=ax)
         * np.abs(2 * i / d)) * 2 / np.abs(d) * n + 1
    return 1 - 2 * i / d, s


def tversky(y, p, dtype, alpha=0.5, beta=0.5, axis=None):
    y, p = _r(y, dtype), _r(p, dtype)
    lo, _ = consts(dtype)
    ax = _axis(axis)
    tp = np.sum(y * p, axis=ax)
    fp = np.sum((1 - p) * y, axis=ax)
    fn = np.sum(p * (1 - y), axis=ax)
    d = tp + REF(alpha) * fp + REF(beta) * fn + lo
    n = y.size if ax is None else y.size // np.asarray(tp).size
    s = (np.abs(tp) + np.abs(fp) + np.abs(fn) + 1) * 4 * n / np.abs(d) + 1
    return 1 - tp / d, s


def circle(y, p, dtype, ref_labels=None, ref_embeddings=None, remove_diagonal=True,
           gamma=80.0, margin=0.4):
    lab = np.asarray(y).astype(np.int64).reshape(-1)
    P = _r(p, dtype)
    R = P if ref_embeddings is None else _r(ref_embeddings, dtype)
    rl = lab if ref_labels is None else np.asarray(ref_labels).astype(np.int64).reshape(-1)
    g, m = REF(np.asarray(gamma, dtype)), REF(np.asarray(margin, dtype))
    dist = np.maximum(1 - P @ R.T, 0)
    pos = lab[:, None] == rl[None, :]
    neg = ~pos
    if remove_diagonal:
        pos = pos & ~np.eye(len(lab), len(rl), dtype=bool)
    wp = np.maximum((m + dist) * pos, 0)
    wn = np.maximum((1 + m - dist) * neg, 0)
    ap = np.where(pos, -g * wp * (m - dist), -np.inf)
    an = np.where(neg, g * wn * ((1 - m) - dist), -np.inf)

    def lse(a):
        mx = np.max(a, axis=1, keepdims=True)
        mx = np.where(np.isfinite(mx), mx, 0)
        with np.errstate(divide="ignore"):
            return (mx + np.log(np.sum(np.exp(a - mx), axis=1, keepdims=True)))[:, 0]
    z = lse(ap) + lse(an)
    v = np.logaddexp(REF(0), z)
    # dist carries ~D eps of rounding, amplified by gamma * (|w| + |d|) in the exponents
    s = (1 + g * 4 * (1 + np.max(np.abs(dist))) ** 2 * (P.shape[1] + 2)) * np.ones_like(v)
    return v, s, v > 0


def ctc(y, p, dtype):
    """-log p(labels | logits) with blank 0, labels = nonzero entries of each row."""
    lab = np.asarray(y).astype(np.int64)
    x = _r(p, dtype)
    B, T, K = x.shape
    m = np.max(x, -1, keepdims=True)
    logp = x - (m + np.log(np.sum(np.exp(x - m), -1, keepdims=True)))
    out = np.empty(B, REF)
    for b in range(B):
        seq = [int(c) for c in lab[b] if c != 0]
        ext = [0]
        for c in seq:
            ext += [c, 0]
        S = len(ext)
        a = np.full(S, -np.inf, dtype=REF)
        a[0] = logp[b, 0, 0]
        if S > 1:
            a[1] = logp[b, 0, ext[1]]
        for t in range(1, T):
            n = np.full(S, -np.inf, dtype=REF)
            for s in range(S):
                terms = [a[s]]
                if s >= 1:
                    terms.append(a[s - 1])
                if s >= 2 and ext[s] != 0 and ext[s] != ext[s - 2]:
                    terms.append(a[s - 2])
                t_ = np.array(terms, REF)
                mx = np.max(t_)
                if np.isfinite(mx):
                    n[s] = mx + np.log(np.sum(np.exp(t_ - mx))) + logp[b, t, ext[s]]
            a = n
        fin = [a[-1]] + ([a[-2]] if S > 1 else [])
        t_ = np.array(fin, REF)
        mx = np.max(t_)
        out[b] = -(mx + np.log(np.sum(np.exp(t_ - mx))))
    return out, (np.abs(out) + T * (np.max(np.abs(x)) + 2)) * 2


FUNCS = {f: globals()[f] for f in set(CLASSES.values())}


def values(fn, y_true, y_pred, dtype, **kw):
    """Per-sample values of a function form: (values, scale, keras mask or None)."""
    out = FUNCS[fn](y_true, y_pred, dtype, **kw)
    return out if len(out) == 3 else (*out, None)


# ------------------------------------------------------------------ pipeline --

def loss(cls, y_true, y_pred, sample_weight=None, reduction="sum_over_batch_size",
         dtype=np.float32, **kw):
    """(value, scale) of `cls(**kw, reduction=reduction)(y_true, y_pred,
    sample_weight)` computed in `dtype` (TF_SEMANTICS 4.1 steps 1-6)."""
    fn = CLASSES[cls]
    yt, yp = np.asarray(y_true), np.asarray(y_pred)
    if cls == "SparseCategoricalCrossentropy":
        v, s, mask = sparse_categorical_crossentropy(yt, yp, dtype, **kw)
    else:
        if cls not in ("CategoricalGeneralizedCrossEntropy", "Circle", "CTC"):
            yt, yp = rank_fix(yt, yp)
        v, s, mask = values(fn, yt, yp, dtype, **kw)
    v, s = np.asarray(v, REF), np.asarray(s, REF)
    w = None
    if mask is not None:
        mask = np.broadcast_to(mask, v.shape)
        if reduction in ("sum_over_batch_size", "mean"):
            cnt = np.count_nonzero(mask)
            w = np.where(mask, REF(mask.size) / cnt if cnt else REF(0), REF(0))
        else:
            w = mask.astype(REF)
    if sample_weight is not None:
        sw = _r(sample_weight, dtype)
        if w is not None:
            w, sw = rank_fix(w, sw)
            sw = w * sw
        w = sw
    if w is not None:
        v, w = rank_fix(v, w)
        s = np.broadcast_to(s.reshape(s.shape + (1,) * (v.ndim - s.ndim)), v.shape)
        v, s = v * w, s * np.abs(w) + np.abs(v * w)
    if reduction in (None, "none") or v.shape in ((), (0,)):
        return v, s
    S = np.sum(v)
    n = REF(max(v.size, 1))
    sc = (np.sum(s) + np.sum(np.abs(v)) * np.log2(n + 1)) if v.size else REF(0)
    if reduction == "sum":
        return S, sc
    if reduction in ("sum_over_batch_size", "mean"):
        return (S / v.size if v.size else REF(0)), sc / n
    if reduction == "mean_with_sample_weight":
        D = np.sum(w) if w is not None else REF(v.size)
        if D == 0:
            return REF(0), REF(0)
        # the divisor's own rounding: |S / D| relative
        return S / D, sc / abs(D) + abs(S / D) * np.log2(n + 1)
    raise ValueError(reduction)


# ------------------------------------------------------------------ sampling --
# One smooth test point per class: float64 arrays on the finite-difference grid
# (tests/_fd.py), at least 0.01 away from every kink, clip bound and branch
# switch the class has, so 4th-order differences with steps <= 2**-9 see a
# smooth function. Integer labels are int64.

# classes whose y_true Keras lets gradient reach (4.2 "Gradients")
NO_LABEL_GRAD = {"SparseCategoricalCrossentropy", "CategoricalGeneralizedCrossEntropy",
                 "Circle", "CTC"}


def _simplex(rng, shape):
    w = rng.dirichlet(np.ones(shape[-1]), size=shape[:-1])
    k = np.floor(w * 2 ** 20)
    k[..., -1] += 2 ** 20 - k.sum(axis=-1)
    return k / 2 ** 20


def _away(a, kinks, gap=0.01, step=0.0625):
    """Push values within `gap` of any kink away by `step`."""
    a = np.array(a, np.float64)
    for k in kinks:
        a = np.where(np.abs(a - k) < gap, a + step, a)
    return a


def sample(cls, rng, shape=(4, 5), variant=0, label_grad=False):
    """(constructor kwargs, y_true, y_pred) for `cls` at a smooth point.
    variant picks another argument set (0: defaults / probabilities, 1:
    logits and non-default arguments). label_grad: the point must also be
    smooth in y_true (Hinge: non-binary labels, so that perturbing them does
    not switch the 0/1 -> -1/1 conversion)."""
    B, C = shape
    u = lambda lo, hi, s=shape: on_grid(rng.uniform(lo, hi, size=s))  # noqa: E731
    n = lambda s=shape, sd=1.0: on_grid(np.clip(rng.normal(size=s) * sd, -4, 4))  # noqa: E731
    if cls in ("BinaryCrossentropy", "BinaryFocalCrossentropy"):
        if variant == 0:
            return {}, u(0, 1), u(0.05, 0.95)
        kw = {"from_logits": True, "label_smoothing": 0.125}
        if cls == "BinaryFocalCrossentropy":
            kw.update(apply_class_balancing=True, alpha=0.375, gamma=1.5)
        return kw, u(0, 1), n()
    if cls in ("CategoricalCrossentropy", "CategoricalFocalCrossentropy"):
        if variant == 0:
            return {}, _simplex(rng, shape), u(0.1, 1)
        kw = {"from_logits": True, "label_smoothing": 0.25}
        if cls == "CategoricalFocalCrossentropy":
            kw.update(alpha=[0.125, 0.25, 0.5, 0.375, 0.75][:C] + [0.5] * max(C - 5, 0),
                      gamma=3.0)
        return kw, _simplex(rng, shape), n(sd=2)
    if cls == "SparseCategoricalCrossentropy":
        lab = rng.integers(0, C, size=B)
        if variant == 0:          # log p: 5th derivative 24 / p**5, kept <= 1e4
            return {}, lab, u(0.2, 0.95)
        return {"from_logits": True, "ignore_class": 1}, lab, n(sd=2)
    if cls == "CategoricalGeneralizedCrossEntropy":
        return ({"q": 0.5} if variant == 0 else {"q": 0.25}), rng.integers(0, C, size=B), \
            u(0.05, 0.95)
    if cls in ("MeanSquaredError", "LogCosh"):
        return {}, n(), n()
    if cls == "CosineSimilarity":
        # entries of magnitude >= 0.5: norms well above 0 (smooth normalisation)
        kw = {"axis": 0} if variant else {}
        def s():
            return on_grid(np.sign(rng.normal(size=shape)) * rng.uniform(0.5, 2, size=shape))
        return kw, s(), s()
    if cls == "MeanAbsoluteError":
        y = n()
        return {}, y, on_grid(_away(n() - y, [0]) + y)
    if cls == "MeanAbsolutePercentageError":
        # |y| >= 0.5: 1/|y| has 5th derivative 120 / |y|**6 <= 1e4
        y = on_grid(np.sign(rng.normal(size=shape)) * rng.uniform(0.5, 2, size=shape))
        return {}, y, on_grid(_away(n() - y, [0]) + y)
    if cls == "MeanSquaredLogarithmicError":
        return {}, u(0.1, 3), u(0.1, 3)
    if cls == "Huber":
        d = 0.75 if variant else 1.0
        y = n()
        e = _away(_away(n(), [d, -d]), [d, -d])
        return ({"delta": d} if variant else {}), y, on_grid(y + e)
    if cls in ("Hinge", "SquaredHinge"):
        y = n() if label_grad else rng.integers(0, 2, size=shape).astype(np.float64)
        t = y if label_grad else 2 * y - 1
        p = n()
        m = 1 - t * p
        p = on_grid(np.where(np.abs(m) < 0.02, p - 0.125 * np.sign(t), p))
        return {}, y, p
    if cls == "CategoricalHinge":
        y = _simplex(rng, shape)
        p = n()
        # unique maximum of (1 - y) p with a gap, and a value away from 0
        for _ in range(100):
            q = np.sort((1 - y) * p, axis=-1)
            v = q[:, -1] - np.sum(y * p, -1) + 1
            if np.all(q[:, -1] - q[:, -2] > 0.02) and np.all(np.abs(v) > 0.02):
                break
            p = n()
        return {}, y, p
    if cls == "KLDivergence":
        return {}, u(0.2, 0.95), u(0.2, 0.95)
    if cls == "Poisson":
        return {}, u(0, 3), u(0.5, 3)
    if cls in ("Dice", "Tversky"):
        kw = {} if variant == 0 else {"axis": 1}
        if cls == "Tversky" and variant:
            kw.update(alpha=0.75, beta=0.25)
        return kw, u(0, 1), u(0, 1)
    if cls == "Circle":
        lab = rng.permutation(np.arange(B) % max(2, B // 2))   # positives and negatives
        for _ in range(100):
            P = rng.normal(size=shape)
            P = on_grid(0.8 * P / np.linalg.norm(P, axis=1, keepdims=True))
            d = 1 - P @ P.T
            off = ~np.eye(B, dtype=bool)
            # kinks: Dist = 0 (max(., 0)) and Dist = 1 + margin (neg weights)
            if np.all(np.abs(d[off]) > 0.02) and np.all(np.abs(d[off] - 1.4) > 0.02):
                break
        return {"gamma": 8.0, "margin": 0.4, "remove_diagonal": bool(variant == 0)}, lab, P
    if cls == "CTC":
        T, K = shape[1] + 3, 5
        L = max(1, shape[1] // 2)
        y = rng.integers(1, K, size=(B, L))
        y[:, -1] = 0                      # padding
        return {}, y, n((B, T, K), 1.5)
    raise KeyError(cls)


def sample_weight(rng, B):
    return on_grid(rng.uniform(0.25, 2, size=B))
