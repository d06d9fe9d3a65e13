"""Conformance entries for the cross-entropy family of `cyloss.keras`
(tf.keras.losses of TF 2.21 / Keras 3.15, TF_SEMANTICS.md sec. 4), every class
and its function form: BinaryCrossentropy, BinaryFocalCrossentropy,
CategoricalCrossentropy, CategoricalFocalCrossentropy,
SparseCategoricalCrossentropy, CategoricalGeneralizedCrossEntropy, Circle and
CTC. Shared machinery (oracle wrappers, the class adapter, the
Narrowing for Keras' float32 computing, the sample-weight / reduction
strategy and scales) lives in samples_keras.py.

Oracle: `tf.keras.losses.<Class>(**ctor)(y_true, y_pred, sample_weight=...)`
and `tf.keras.losses.<function>(y_true, y_pred, **kw)`, eager, oneDNN off,
plain tensors (never a Softmax op's output: Keras would silently take its
logits, TF_SEMANTICS 4.2 last bullet), gradients from tf.GradientTape with a
random dy.

Precision: a class with dtype=None computes float64 data in float32 in Keras
and in float64 in cyloss; those cases are measured in float32's eps
(samples_keras.KerasNarrowing) and the models below add the rounding of the
inputs to float32 (`n` = samples_keras.nar(case)) -- including the clip
bound 1 - 1e-7, which is 0.99999988 in float32 and 0.9999999 in float64:
log(1 - c) near that bound has condition number c/(1-c), so the input
rounding term n*c/(1-c) covers it. Function forms compute in y_pred's dtype
(Keras casts y_true to it), except `ctc`, which Keras computes in float32.

Scales: each model returns the per-sample loss L (Keras' unreduced values),
the magnitude T of its error terms, and for each differentiated input the
local derivative `loc` (per unit of upstream gradient of its sample) and
the magnitude `tloc` of its error; samples_keras.keras_reduce carries L, T
through weighting and reduction (classes), then chain() combines them.
Branches that rounding may decide otherwise (clip bounds, `circle_loss > 0`)
add the whole jump of the derivative (`_flip`).
"""
import numpy as np

from . import samples_keras as sk, tforder
from .compare import fin
from .registry import NAMESPACES, Entry, Tol, _add, acc, err, f32, f64, row_stats

NAMESPACES["cyloss.keras"] = "keras"

EPS = sk.K_EPS


def _eps_c(case):
    """eps of the type TF computes in (float32 when Keras narrows)."""
    if sk.nar(case) or case.dtype != "float64":
        return float(np.finfo(np.float32).eps)
    return float(np.finfo(np.float64).eps)   # (ctc: its narrowing is handled in _model_ctc)


def _ctype(case):
    """The type TF computes in (float32 when Keras narrows)."""
    return np.float32 if _eps_c(case) == np.finfo(np.float32).eps else np.float64


def _hi(case):
    """Keras' upper clip bound 1 - 1e-7 in TF's compute type."""
    if sk.nar(case) or case.dtype != "float64":
        return float(np.float32(1.0) - np.float32(1e-7))
    return 1.0 - 1e-7


def _flip(amb, size, case):
    """A branch decided differently by rounding: the derivative may differ by
    its whole size (2 |local| / eps units)."""
    return np.where(amb, 2.0 * np.abs(size) / _eps_c(case), 0.0)


def _opt(case, name, default):
    v = case.options.get(name, default)
    return default if v is None else v


def _ls(case):
    return float(_opt(case, "label_smoothing", 0.0))


def _axis(case, rank):
    return int(_opt(case, "axis", -1)) % rank


def _last(a, ax):
    return np.moveaxis(a, ax, -1)


def _back(a, ax):
    return np.moveaxis(a, -1, ax)


def _clip_amb(o, case, rel):
    """o within its rounding error (relative `rel` eps) of a clip bound."""
    e = _eps_c(case)
    hi = _hi(case)
    shift = abs((1 - 1e-7) - float(np.float32(1) - np.float32(1e-7))) if sk.nar(case) else 0
    return ((np.abs(o - EPS) <= 2 * rel * e * EPS)
            | (np.abs(o - hi) <= 2 * rel * e + shift))


# ---------------------------------------------------------------- models ----
# Each model(case) -> (L, T, {input: (loc, tloc)}, expand) where L, T have the
# per-sample shape and expand(G) broadcasts an upstream of that shape to the
# inputs' shape (along the reduced axis).

def _model_cce(case):
    yp = np.asarray(case.args["y_pred"], np.float64)
    yt = fin(case.args["y_true"])
    n = sk.nar(case)
    rank = yp.ndim
    ax = _axis(case, rank)
    ls = _ls(case)
    k = yt.shape[-1] if yt.ndim else 1            # Keras: the LAST axis, whatever `axis`
    y = yt * (1 - ls) + ls / max(k, 1) if ls else yt   # (k = 0: no elements)
    y, x = _last(y, ax), _last(yp, ax)
    c_n = x.shape[-1]
    a = acc(c_n)
    ay = np.abs(y)
    if _opt(case, "from_logits", False):
        s, Lr, p = row_stats(x, -1)
        ax_ = np.abs(fin(x))
        m = np.max(ax_, axis=-1, keepdims=True) if x.size else np.zeros(x.shape[:-1] + (1,))
        inrnd = n * (ax_ + 2 * m)                  # x rounded to float32: s and L move
        L = np.sum(y * (Lr - s), axis=-1)
        T = (np.sum(ay * (np.abs(Lr) + np.abs(s) + 1) * (2 + a), axis=-1)
             + np.sum(ay * inrnd, axis=-1) + n * np.abs(L))
        locs = {"y_pred": (p + ay, p * (2 + np.abs(s) + a + inrnd) + ay * (1 + n)),
                "y_true": ((1 - ls) * np.abs(Lr - s),
                           abs(1 - ls) * (np.abs(Lr) + np.abs(s) + 2 + a + inrnd))}
    else:
        # S as TF adds it (its type and order): where +-max values cancel in
        # the row, S is decided by the order, and o = p / S follows TF's S
        S = tforder.tf_sum_rows(x.astype(_ctype(case)))[..., None].astype(np.float64)
        with np.errstate(all="ignore"):
            o = x / S
        hi = _hi(case)
        inr = (o >= EPS) & (o <= hi)
        c = np.clip(np.nan_to_num(o, nan=0.5), EPS, hi)
        lc = np.log(c)
        rel = 3 + a + 2 * n
        L = -np.sum(y * lc, axis=-1)
        T = np.sum(ay * (np.abs(lc) * (2 + a + n) + rel), axis=-1)
        amb = _clip_amb(np.nan_to_num(o), case, rel)
        aS = np.abs(S)
        own = ay / c * inr / aS
        cross = np.sum(ay * inr * np.abs(o) / c, axis=-1, keepdims=True) / aS
        fl = np.sum(_flip(amb, ay / c, case) * np.abs(o), axis=-1, keepdims=True) / aS
        locs = {"y_pred": (own + cross, (own + cross) * (4 + 2 * a + 2 * n)
                           + _flip(amb, ay / c, case) / aS + fl),
                "y_true": (abs(1 - ls) * np.abs(lc),
                           abs(1 - ls) * (np.abs(lc) * (1 + n) + rel))}
    locs = {kk: (_back(v[0], ax), _back(v[1], ax)) for kk, v in locs.items()}
    return L, T, locs, lambda G: np.expand_dims(G, ax)


def _model_cfce(case):
    """sum_axis alpha (1 - o)^g (-y' log o), o = clip(p / sum p), p = softmax(x)
    when from_logits."""
    yp = np.asarray(case.args["y_pred"], np.float64)
    yt = fin(case.args["y_true"])
    n = sk.nar(case)
    rank = yp.ndim
    ax = _axis(case, rank)
    ls = _ls(case)
    g = float(_opt(case, "gamma", 2.0))
    alpha = np.asarray(_opt(case, "alpha", 0.25), np.float64)
    k = yt.shape[-1] if yt.ndim else 1
    y = yt * (1 - ls) + ls / max(k, 1) if ls else yt   # (k = 0: no elements)
    y, x = _last(y, ax), _last(yp, ax)
    al = np.abs(np.broadcast_to(alpha, np.shape(yt))) if alpha.ndim else np.abs(alpha)
    if alpha.ndim:
        al = _last(al, ax)
    c_n = x.shape[-1]
    a = acc(c_n)
    logits = _opt(case, "from_logits", False)
    with np.errstate(all="ignore"):
        if logits:
            s, _, p = row_stats(x, -1)
            relp = 2 + np.abs(s) + a + n * (np.abs(fin(x)) + np.max(np.abs(fin(x)), axis=-1,
                                                                     keepdims=True))
        else:
            p = x
            relp = n * np.ones_like(x)
        if logits:
            S = np.sum(p, axis=-1, keepdims=True)
        else:
            # S as TF adds it (see _model_cce): where +-max values cancel in
            # the row, the order decides S, and o = p / S follows TF's S
            S = np.expand_dims(tforder.tf_reduce_sum(yp.astype(_ctype(case)), (ax,)),
                               -1).astype(np.float64)
        o = p / S
        hi = _hi(case)
        inr = (o >= EPS) & (o <= hi)
        c = np.clip(np.nan_to_num(o, nan=0.5), EPS, hi)
        rel = relp + 2 + a                          # relative error of c, in eps
        lc = np.log(c)
        q = 1 - c
        F = q ** g
        ay = np.abs(y)
        gl = F * ay * np.abs(lc)
        L = -np.sum(alpha_b(al, y) * F * y * lc, axis=-1)
        dF = g * q ** max(g - 1, 0) if g >= 1 else g * np.where(q > 0, q ** (g - 1), np.inf)
        TF_ = dF * c * rel + F * (2 + g * np.abs(np.log(np.where(q > 0, q, 1))))
        T = np.sum(al * (TF_ * ay * np.abs(lc) + F * ay * (rel + 3 * np.abs(lc))), axis=-1) \
            + a * np.sum(al * gl, axis=-1)
        # d/dc of alpha (1-c)^g (-y log c); then the normalization p/S and the softmax
        m_all = al * (dF * ay * np.abs(lc) + F * ay / c)
        m = m_all * inr
        ddF = (g * abs(g - 1) * q ** (g - 2) if g >= 2 or g in (0.0, 1.0) else
               np.where(q > 0, g * abs(g - 1) * q ** (g - 2), np.inf))
        tm = (m * (4 + g + rel) + al * inr * ay * (np.abs(lc) * ddF + 2 * dF / c) * c * rel
              + _flip(_clip_amb(np.nan_to_num(o), case, rel), m_all, case))
        aS = np.abs(S)
        v = (m + np.sum(m * np.abs(o), axis=-1, keepdims=True)) / aS
        tv = (tm + np.sum(tm * np.abs(o), axis=-1, keepdims=True)) / aS + v * (2 + a)
        if logits:
            loc = p * (v + np.sum(p * v, axis=-1, keepdims=True))
            tloc = p * (tv + np.sum(p * tv, axis=-1, keepdims=True)) + loc * (relp + 2 + a)
        else:
            loc, tloc = v, tv
        ly = abs(1 - ls) * al * F * np.abs(lc)
        tly = abs(1 - ls) * al * (TF_ * np.abs(lc) + F * (rel + 3 * np.abs(lc)))
    locs = {"y_pred": (_back(loc, ax), _back(tloc, ax)), "y_true": (_back(ly, ax),
                                                                    _back(tly, ax))}
    return L, T, locs, lambda G: np.expand_dims(G, ax)


def alpha_b(al, y):
    return np.broadcast_to(al, y.shape) if np.ndim(al) else al


def _model_bce(case, focal=False):
    yp = np.asarray(case.args["y_pred"], np.float64)
    yt = fin(case.args["y_true"])
    n = sk.nar(case)
    ax = _axis(case, yp.ndim)
    ls = _ls(case)
    z = yt * (1 - ls) + 0.5 * ls if ls else yt
    cn = yp.shape[ax]
    a = acc(cn)
    logits = _opt(case, "from_logits", False)
    xf = fin(yp)
    with np.errstate(all="ignore"):
        if logits and not focal:
            ex_ = np.exp(-np.abs(xf))
            lg = np.log1p(ex_)
            e = np.maximum(xf, 0) - xf * z + lg
            Te = (2 * (np.maximum(xf, 0) + np.abs(xf * z) + lg)
                  + np.abs(xf) * (np.abs(yt) * (1 + ls) + ls) + n * (np.abs(e) + np.abs(xf)))
            dx = (xf >= 0) + np.abs(z) + ex_ / (1 + ex_)
            tdx = dx + np.abs(yt) * ls + n * np.abs(xf) * ex_ / (1 + ex_) ** 2
            dz = abs(1 - ls) * np.abs(xf)
            tdz = np.abs(xf) * (1 + ls)
            py = (dx, tdx)
        else:
            if logits:
                p = 1 / (1 + np.exp(-xf))
                relp = 2 + n * (1 + np.abs(xf) * (1 - p))
            else:
                p = yp
                relp = n * np.ones_like(p)
            hi = _hi(case)
            inr = (p >= EPS) & (p <= hi)
            c = np.clip(np.nan_to_num(p, nan=0.5), EPS, hi)
            lc, l1c = np.log(c), np.log1p(-c)
            r1 = c / (1 - c)                        # condition number of log(1 - c)
            b = -(z * lc + (1 - z) * l1c)
            az, a1z = np.abs(z), np.abs(1 - z)
            Tb = (2 * az * np.abs(lc) + 2 * a1z * np.abs(l1c) + az * (1 + relp)
                  + a1z * (1 + r1 * (1 + relp)) + np.abs(b) + n * (az + 1) * np.abs(l1c))
            db = inr * (az / c + a1z / (1 - c))
            tdb = db * 3 + inr * (az / c + a1z / (1 - c) * (1 + r1)) * relp
            amb = _clip_amb(np.nan_to_num(p), case, 1 + relp)
            tdb = tdb + _flip(amb, az / c + a1z / (1 - c), case)
            dbz = np.abs(lc) + np.abs(l1c)
            tdbz = dbz + 2 + (1 + r1) * relp
            if logits:
                # Keras' ops.sigmoid tags its output with `_keras_logits`, so the focal
                # loss' bce goes through the backend's LOGITS path even in eager mode:
                # sigmoid_xent(z', x) (sec. 1.4 form), unclipped; d/dx = sigmoid(x) - z'
                # (applied below without the sigmoid' factor), d/dz' = -x
                ex_ = np.exp(-np.abs(xf))
                lg = np.log1p(ex_)
                b = np.maximum(xf, 0) - xf * z + lg
                Tb = (2 * (np.maximum(xf, 0) + np.abs(xf * z) + lg)
                      + np.abs(xf) * (np.abs(yt) * (1 + ls) + ls) + n * (np.abs(b) + np.abs(xf)))
                db = (xf >= 0) + az + ex_ / (1 + ex_)
                tdb = db + np.abs(yt) * ls + n * np.abs(xf) * ex_ / (1 + ex_) ** 2
                dbz, tdbz = np.abs(xf), np.abs(xf) * (1 + ls) + n * np.abs(xf)
            if not focal:
                e, Te = b, Tb
                loc_p, tloc_p = db, tdb
                dz, tdz = abs(1 - ls) * dbz, abs(1 - ls) * tdbz
            else:
                g = float(_opt(case, "gamma", 2.0))
                al = float(_opt(case, "alpha", 0.25))
                bal = bool(_opt(case, "apply_class_balancing", False))
                pt = z * p + (1 - z) * (1 - p)
                q = 1 - pt
                aq = np.abs(q)
                ap = np.abs(p)        # (magnitudes: p may be a huge negative input)
                Tq = 1 + az * ap + a1z * (1 + ap) + (az + a1z) * ap * relp
                F = np.abs(q) ** g if g == int(g) else np.where(q >= 0, aq ** g, np.nan)
                with np.errstate(all="ignore"):
                    dF = g * aq ** (g - 1) if g >= 1 else np.where(aq > 0, g * aq ** (g - 1),
                                                                    np.inf * (g > 0))
                    ddF = (g * abs(g - 1) * aq ** (g - 2) if g >= 2 else
                           np.where(aq > 0, g * abs(g - 1) * aq ** (g - 2),
                                    np.inf * (g not in (0.0, 1.0))))
                wb = np.abs(z * al + (1 - z) * (1 - al)) if bal else np.ones_like(z)
                # the class weight's own rounding: its two products (alpha and
                # 1 - alpha in the dtype too) and the sum, absolute -- large
                # against w where the two cancel (z just below 0 with alpha 0.9)
                Tw = (2 * np.abs(z * al) + 3 * np.abs((1 - z) * (1 - al)) + wb) if bal \
                    else np.zeros_like(z)
                e = (z * al + (1 - z) * (1 - al) if bal else 1) * F * b
                TF_ = dF * Tq + F * (2 + g * np.abs(np.log(np.where(aq > 0, aq, 1))))
                Te = wb * (TF_ * np.abs(b) + F * Tb + 3 * np.abs(F * b)) + (
                    n * np.abs(e) if bal else 0) + Tw * np.abs(F * b)
                s2 = np.abs(2 * z - 1)
                sg = p * (1 - p) if logits else 1.0      # sigmoid' (the p_t path only)
                loc_p = wb * (dF * s2 * np.abs(b) * sg + F * db)
                # TF differentiates p_t's two products apart (g z - g (1 - z)), so
                # its rounding scales with |z| + |1 - z|, not with the |2z - 1| the two
                # terms cancel to (z near 1/2); cyloss factors them
                tloc_p = wb * ((ddF * Tq * s2 * np.abs(b) + dF * s2 * Tb) * sg
                               + dF * s2 * np.abs(b) * sg * (3 + n * np.abs(xf))
                               + 2 * dF * (az + a1z) * np.abs(b) * sg
                               + TF_ * db + F * tdb) + loc_p * 4 + Tw * (
                    dF * s2 * np.abs(b) * sg + F * db)
                s2p = np.abs(2 * p - 1)
                dz_ = wb * (dF * s2p * np.abs(b) + F * dbz) + (
                    np.abs(2 * al - 1) * F * np.abs(b) if bal else 0)
                tdz_ = wb * (ddF * Tq * s2p * np.abs(b) + dF * (s2p * Tb + np.abs(b) * (
                    2 + ap * relp)) + 2 * dF * (np.abs(p) + np.abs(1 - p)) * np.abs(b)
                    + TF_ * dbz + F * tdbz) + dz_ * 4 + (
                    np.abs(2 * al - 1) * (TF_ * np.abs(b) + F * Tb) if bal else 0) + Tw * (
                    dF * s2p * np.abs(b) + F * dbz)
                dz, tdz = abs(1 - ls) * dz_, abs(1 - ls) * tdz_
            py = (loc_p, tloc_p)
        L = np.mean(e, axis=ax) if cn else np.sum(e, axis=ax) * np.nan
        T = (np.sum(Te, axis=ax) + a * np.sum(np.abs(e), axis=ax)) / max(cn, 1) + np.abs(L)
    locs = {"y_pred": (py[0] / max(cn, 1), py[1] / max(cn, 1) + py[0] / max(cn, 1)),
            "y_true": (dz / max(cn, 1), tdz / max(cn, 1) + dz / max(cn, 1))}
    return L, T, locs, lambda G: np.expand_dims(G, ax)


def _scce_ids(case):
    yp = np.asarray(case.args["y_pred"])
    yt = np.asarray(case.args["y_true"])
    if yt.ndim == yp.ndim and yt.ndim and yt.shape[-1] == 1:
        yt = yt.reshape(yt.shape[:-1])
    if yt.dtype.kind == "f":
        yt = np.trunc(yt)
    return yt.astype(np.int64)


def _model_scce(case):
    yp = np.asarray(case.args["y_pred"], np.float64)
    ids = _scce_ids(case)
    n = sk.nar(case)
    ig = case.options.get("ignore_class")
    keep = np.ones(ids.shape, bool) if ig is None else ids != ig
    cn = yp.shape[-1]
    a = acc(cn)
    x = np.where(keep[..., None], yp, 0.0)
    idc = np.where(keep, ids, 0)
    onehot = np.zeros(x.shape)
    if x.size:
        np.put_along_axis(onehot, np.clip(idc, 0, cn - 1)[..., None], 1.0, -1)
    with np.errstate(all="ignore"):
        if _opt(case, "from_logits", False):
            s, Lr, p = row_stats(x, -1)
            inrnd = n * (np.abs(fin(x)) + np.max(np.abs(fin(x)), axis=-1, keepdims=True)) \
                if x.size else 0
            L = Lr[..., 0] - np.sum(s * onehot, axis=-1)
            T = (np.abs(Lr[..., 0]) + np.sum(np.abs(s) * onehot, axis=-1) + 2 + a
                 + np.sum(inrnd * (onehot + p), axis=-1))
            loc = p + onehot
            tloc = p * (2 + np.abs(s) + a + inrnd) + onehot
        else:
            hi = _hi(case)
            inr = (x >= EPS) & (x <= hi)
            c = np.clip(np.nan_to_num(x, nan=0.5), EPS, hi)
            lx = np.log(c)
            s, Lr, p = row_stats(lx, -1)
            L = Lr[..., 0] - np.sum(s * onehot, axis=-1)
            rel = 2 + a + n
            T = np.abs(Lr[..., 0]) + np.sum(np.abs(s) * onehot, axis=-1) + 2 * rel
            loc = inr * (p + onehot) / c
            amb = _clip_amb(np.nan_to_num(x), case, 1 + n)
            tloc = (inr * (p * (2 + np.abs(s) + rel) + onehot * (1 + n)) / c
                    + _flip(amb, (p + onehot) / c, case))
    L = np.where(keep, L, 0.0)
    T = np.where(keep, T, 0.0)
    kx = keep[..., None]
    locs = {"y_pred": (np.where(kx, loc, 0), np.where(kx, tloc, 0))}
    return L, T, locs, lambda G: np.expand_dims(G, -1), (None if ig is None else keep)


def _model_cgce(case):
    yp = np.asarray(case.args["y_pred"], np.float64)
    yt = np.asarray(case.args["y_true"])
    ids = (np.trunc(yt) if yt.dtype.kind == "f" else yt).astype(np.int64)
    n = sk.nar(case)
    q = float(case.options.get("q", 0.5))
    cn = yp.shape[-1]
    onehot = np.zeros(yp.shape)
    ok = (ids >= 0) & (ids < cn)
    if yp.size:
        np.put_along_axis(onehot, np.clip(ids, 0, cn - 1)[..., None], 1.0, -1)
        onehot *= ok[..., None]
    py = np.sum(fin(yp) * onehot, axis=-1)
    with np.errstate(all="ignore"):
        P = np.abs(py) ** q
        L = (1 - P) / q
        lp = np.abs(np.log(np.where(py > 0, py, 1)))
        T = (1 + P * (3 + q * lp + n * q)) / q
        d = np.where(py > 0, np.abs(py) ** (q - 1), np.inf)
        loc = onehot * d[..., None]
        tloc = loc * (3 + (1 - q) * lp[..., None] + n)
    return L, T, {"y_pred": (loc, tloc)}, lambda G: np.expand_dims(G, -1)


# ------------------------------------------------------------ scale glue ----

def _scale_from(model):
    """scale(case, ref, dy) for a class or function entry of `model`."""
    def scale(case, ref, dy):
        out = model(case)
        L, T, locs, expand = out[:4]
        mask = out[4] if len(out) > 4 else None
        T = np.where(np.isfinite(T), T, np.inf)
        if _is_class(case):
            value, G, GT, ws = sk.keras_reduce(case, L, T, dy, mask=mask)
        else:
            d = np.abs(np.asarray(dy, np.float64))
            value, G, GT, ws = T + np.abs(L), d, d, None
        res = {"value": value}
        for name, (loc, tloc) in locs.items():
            res[name] = sk.chain(loc, tloc, expand(G), expand(GT))
        if ws is not None:
            res["sample_weight"] = ws
        return res
    return scale


_is_class = sk.is_class


# ------------------------------------------------------------ tolerances ----

VALUE_TOL = Tol(8, "per-sample loss judged against the magnitude of its terms (Eigen's float32 "
                   "exp/log/log1p/pow are a few ulp; sums over C classes in another order, "
                   "acc(C)), then weighted and reduced: a sum of n terms in another order "
                   "(acc(n)) divided by the batch size or the weight sum (whose cancellation "
                   "counts)")
SW_TOL = Tol(8, "the unweighted per-sample losses times dy / D (mean_with_sample_weight: "
                "minus S dy / D^2), summed over the axes the weight broadcasts along")


def _grad_tol(what):
    return Tol(8, f"{what}, times the upstream w dy / D of the reduction (one rounding each "
                  f"and the relative error of D); clip bounds that rounding may decide "
                  f"otherwise carry the whole derivative")


CCE_TOL = {"value": VALUE_TOL, "sample_weight": SW_TOL,
           "y_pred": _grad_tol("logits: softmax - y' (TF's kernel); probabilities: "
                               "(-y'/c [in range] + sum_j y'_j o_j/c_j [in range]) / sum p"),
           "y_true": _grad_tol("-(1 - ls) log_softmax (logits) or -(1 - ls) log c (probs)")}
CFCE_TOL = {"value": VALUE_TOL, "sample_weight": SW_TOL,
            "y_pred": _grad_tol("the focal product rule (pow's relative error g |log(1-o)| "
                                "eps), through p/sum p and the softmax for logits"),
            "y_true": _grad_tol("-(1 - ls) alpha (1 - o)^g log o")}
BCE_TOL = {"value": VALUE_TOL, "sample_weight": SW_TOL,
           "y_pred": _grad_tol("logits: sigmoid(x) - z' (sec. 1.4's three paths); probs: "
                               "-z'/c + (1-z')/(1-c) in [eps, 1-eps], 0 outside; / C"),
           "y_true": _grad_tol("-(1 - ls) x / C (logits) or -(1 - ls)(log c - log(1-c)) / C")}
BFCE_TOL = {"value": VALUE_TOL, "sample_weight": SW_TOL,
            "y_pred": _grad_tol("(1-p_t)^g bce product rule, times sigmoid' for logits"),
            "y_true": _grad_tol("the z'-derivative of p_t, bce and the balancing weight")}
SCCE_TOL = {"value": VALUE_TOL, "sample_weight": SW_TOL,
            "y_pred": _grad_tol("softmax - onehot (logits); (softmax(log c) - onehot)/c in "
                                "range (probs); ignored positions exactly 0")}
CGCE_TOL = {"value": VALUE_TOL, "sample_weight": SW_TOL,
            "y_pred": _grad_tol("-p_y^(q-1) on the label's entry (inf * 0 = NaN on the row "
                                "when p_y = 0)")}


# -------------------------------------------------------------- entries -----

YS = f32([[0, 1, 0], [0, 0, 1]])
XSM = f32([[0.05, 0.95, 0], [0.1, 0.8, 0.1]])
W2 = f32([0.3, 0.7])
Z2, P2 = f32([[0, 1], [1, 0]]), f32([[.1, .9], [.6, .3]])
ZB, XB = f32([[1, 0, 1], [0, 1, 0]]), f32([[1, -2, .5], [0, 3, -1]])
PC, YC = f32([[.2, .5, .3], [.1, .1, .8]]), f32([[0, 1, 0], [0, 0, 1]])
G2 = np.zeros((2, 3), np.float32)
REDS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


def _bad_reduction(args, extra=None):
    return err("bad reduction 'auto'", args, "ValueError", "ValueError",
               "Invalid value for argument `reduction` (the legacy 'auto' too)",
               dict(extra or {}, reduction="auto"))


def _weight_errors(args, values_len):
    """[B+1] weights on [B] values, and [B] weights on [B,T] values (the rank
    fix only pairs [B] with [B,1]): both fail in TF's multiply at run time."""
    rank3 = {k: np.repeat(np.asarray(v)[:, None], 3, axis=1) for k, v in args.items()}
    return [
        err("sample_weight [B+1] on [B] values", dict(args, sample_weight=np.ones(
            values_len + 1, np.float32)), "InvalidArgumentError", "InvalidArgumentError",
            "Incompatible shapes in values * sample_weight"),
        err("sample_weight [B] on [B,T] values", dict(rank3, sample_weight=np.ones(
            values_len, np.float32)), "InvalidArgumentError", "InvalidArgumentError",
            "[B,T] values broadcast against [B] weights from the right: Incompatible shapes"),
    ]


def _overflows_f32(case):
    """Narrowing.overflows of the classes: float64 terms beyond float32's range,
    in the data (registry_keras_more's test, imported late: that module loads
    after this one) or the sample weights."""
    from .registry_keras_more import _overflows
    w = case.args.get("sample_weight")
    big_w = w is not None and np.asarray(w).dtype.kind == "f" and bool(
        np.any(np.abs(np.asarray(w, np.float64)) >= 1e15))   # (also a weight)
    return _overflows(case) or big_w


def _circle_kink(case):
    """Narrowing.overflows of Circle: _overflows_f32, or a similarity
    Q = y_pred y_pred^T within float32's rounding of a kink that follows it
    (max(1 - Q, 0) at Q = 1, the weights' max(., 0) at Q = 1 + margin and
    -margin; identical unit embeddings sit at Q = 1): Keras' float32 then
    decides the side, and with it whether a gradient (or a NaN) passes, by
    its own last bits, where cyloss' float64 decides by float64's."""
    if _overflows_f32(case):
        return True
    x = fin(case.args["y_pred"])
    if x.ndim != 2 or not x.size:
        return False
    m = float(_opt(case, "margin", 0.4))
    q = x @ x.T
    nx = np.sqrt(np.sum(x * x, axis=1))
    bound = (x.shape[1] + 4) * float(np.finfo(np.float32).eps) * np.outer(nx, nx)
    return bool(any(np.any(np.abs(q - k) <= bound) for k in (1.0, 1.0 + m, -m)))


def _focal_singular(case):
    """Narrowing.overflows of BinaryFocalCrossentropy: _overflows_f32, or a
    gamma < 1 case whose focal base 1 - p_t is 0 (or of another sign) in
    Keras' float32 where it is not in cyloss' float64 (p = 1e-8 with z = 0:
    float32's 1 - p rounds to 1). TF's pow(1 - p_t, gamma - 1) is then inf
    (0 * inf = NaN for gamma = 0) where float64 has a number: a singularity the
    float32 rounding of the narrowed inputs creates, as an overflow does."""
    if _overflows_f32(case):
        return True
    g = float(_opt(case, "gamma", 2.0))
    if g >= 1:
        return False
    ls = _ls(case)
    logits = _opt(case, "from_logits", False)
    qs = []
    with np.errstate(all="ignore"):
        for dt in (np.float32, np.float64):
            one = dt(1)
            z = np.asarray(case.args["y_true"]).astype(dt)
            if ls:
                z = z * dt(1 - ls) + dt(0.5 * ls)
            x = np.asarray(case.args["y_pred"]).astype(dt)
            if logits:      # TF's sigmoid: e^x / (1 + e^x), float32's x clamped at 16.6355324
                e = np.exp(np.minimum(x, dt(16.6355324)) if dt is np.float32 else x)
                x = np.where(np.isinf(e), one, e / (one + e))
            qs.append(one - (z * x + (one - z) * (one - x)))
    q32, q64 = qs
    return bool(np.any(np.sign(q32) != np.sign(q64)))


def _class(name, model, tol, loss, examples, errors, wrt=sk.CLASS_WRT, budget=None, notes="",
           overflows=_overflows_f32):
    # (overflows: float64 data Keras narrows to float32 may overflow there -- e.g. the
    # focal factor (1 - pt)^gamma of a 1e30 label -- where cyloss' float64 does not)
    e = sk.class_entry(name, wrt=wrt, cases=sk.xent_strategy(loss, "class"),
                       scale=_scale_from(model), tol=tol, examples=examples, errors=errors,
                       budget=budget or {"quick": 120, "full": 1000}, notes=notes,
                       overflows=overflows)
    return _add(e)


def _function(name, model, tol, loss, examples, errors, wrt=("y_true", "y_pred"), budget=None,
              narrowing=None, notes=""):
    return _add(Entry(key=f"keras.{name}", fn=sk.cy(name), tf_fn=sk.tf_fn(name),
                      call_tf=sk.tf_function(name), wrt=wrt,
                      cases=sk.xent_strategy(loss, "function"), scale=_scale_from(model),
                      tol={k: v for k, v in tol.items() if k != "sample_weight"},
                      examples=examples, errors=errors, narrowing=narrowing,
                      budget=budget or {"quick": 80, "full": 600}, notes=notes))


kex = sk.kex


def fex(label, args, options=None):
    """A fixed case of a function form (computes in y_pred's dtype)."""
    return kex(label, args, options, dtype=str(np.asarray(args["y_pred"]).dtype))


# CategoricalCrossentropy --------------------------------------------------

SEED_ARGS = {"y_true": YS, "y_pred": XSM, "sample_weight": W2}
SEED_OPTS = {"from_logits": True, "label_smoothing": 0.2}
_class(
    "CategoricalCrossentropy", _model_cce, CCE_TOL, "cce",
    [kex("TF_SEMANTICS 4.3 seed = 0.5761805", SEED_ARGS, SEED_OPTS)]
    + [kex(f"4.3 seed, reduction={r!r}", SEED_ARGS, dict(SEED_OPTS, reduction=r))
       for r in REDS]
    + [kex("4.3 seed without weights: 1.025228", {"y_true": YS, "y_pred": XSM}, SEED_OPTS),
       kex("4.3 seed, sample_weight [[.3],[.7]], none -> [2,1]",
           {"y_true": YS, "y_pred": XSM, "sample_weight": f32([[.3], [.7]])},
           dict(SEED_OPTS, reduction="none")),
       kex("4.3 seed, dtype='float64', float64 inputs: 0.5761805076617295",
           {"y_true": YS.astype(np.float64), "y_pred": XSM.astype(np.float64),
            "sample_weight": W2.astype(np.float64)}, dict(SEED_OPTS, dtype="float64")),
       kex("4.3 seed, float64 inputs, dtype=None (Keras: float32)",
           {"y_true": YS.astype(np.float64), "y_pred": XSM.astype(np.float64),
            "sample_weight": W2.astype(np.float64)}, SEED_OPTS),
       kex("Python float sample_weight (TF: a float64 constant, float64 gradient)",
           {"y_true": YS, "y_pred": XSM, "sample_weight": 2.5}, SEED_OPTS),
       kex("4.3 probs 0.4581454", {"y_true": YC, "y_pred": PC}),
       kex("probs with an all-zero row -> NaN", {"y_true": YC, "y_pred": f32([[0, 0, 0],
                                                                            [.1, .1, .8]])}),
       kex("probs with exact 0 and 1 (clipped: zero gradient)",
           {"y_true": f32([[0, 1, 0], [.2, .3, .5]]), "y_pred": f32([[0, 1, 0], [1, 0, 0]])}),
       kex("axis=0, label smoothing uses the LAST axis' size",
           {"y_true": f32([[1, 0], [0, 1], [0, 0]]), "y_pred": f32([[.2, .3], [.5, .4],
                                                                    [.3, .3]])},
           {"axis": 0, "label_smoothing": 0.3}),
       kex("logits axis=0 with ls", {"y_true": f32([[1, 0], [0, 1], [0, 0]]),
                                     "y_pred": f32([[2, -1], [0, 3], [1, 1]])},
           {"axis": 0, "label_smoothing": 0.3, "from_logits": True}),
       kex("int one-hot labels (converted; no y_true gradient)",
           {"y_true": np.eye(3, dtype=np.int32), "y_pred": f32([[1, 2, 3], [0, 0, 0],
                                                                [5, -5, 1]])},
           {"from_logits": True}),
       kex("empty batch -> [] even for 'sum'", {"y_true": np.zeros((0, 3), np.float32),
                                               "y_pred": np.zeros((0, 3), np.float32)},
           {"reduction": "sum"}),
       kex("batch 1, all-zero sample_weight, mean_with_sample_weight -> 0",
           {"y_true": YS[:1], "y_pred": XSM[:1], "sample_weight": f32([0])},
           {"reduction": "mean_with_sample_weight", "from_logits": True}),
       kex("rank 1 (single sample) -> scalar", {"y_true": f32([0, 0, 1]),
                                                "y_pred": f32([1, 2, 3])}, {"from_logits": True}),
       kex("rank 3, weights [B,T]", {"y_true": np.eye(4, dtype=np.float32)[[[0, 1], [2, 3]]],
                                     "y_pred": np.linspace(0.1, 1, 16, dtype=np.float32)
                                     .reshape(2, 2, 4),
                                     "sample_weight": f32([[1, 0], [2, .5]])})],
    [_bad_reduction(SEED_ARGS),
     err("y_true of another class count", {"y_true": YS[:, :2], "y_pred": XSM}, "ValueError",
         "ValueError", "Arguments `target` and `output` must have the same shape"),
     err("ranks differ", {"y_true": f32([1, 0, 0]), "y_pred": XSM}, "ValueError",
         "ValueError", "Arguments `target` and `output` must have the same rank")]
    + _weight_errors({"y_true": YS, "y_pred": XSM}, 2))

_function(
    "categorical_crossentropy", _model_cce, CCE_TOL, "cce",
    [fex("4.3 seed per sample [0.7073968, 1.34306]", {"y_true": YS, "y_pred": XSM},
         SEED_OPTS),
     fex("float64 computes in float64", {"y_true": YS.astype(np.float64),
                                         "y_pred": XSM.astype(np.float64)}, SEED_OPTS),
     fex("probs 4.3", {"y_true": YC, "y_pred": PC}),
     fex("float64 labels on float32 probs (cast to y_pred's dtype)",
         {"y_true": YC.astype(np.float64), "y_pred": PC}),
     fex("axis=0 probs, ls", {"y_true": f32([[1, 0], [0, 1], [0, 0]]),
                              "y_pred": f32([[.2, .3], [.5, .4], [.3, .3]])},
         {"axis": 0, "label_smoothing": 0.3})],
    [err("shape mismatch", {"y_true": YS[:, :2], "y_pred": XSM}, "ValueError", "ValueError",
         "must have the same shape"),
     err("axis=True", {"y_true": YS, "y_pred": XSM}, "ValueError", "ValueError",
         "`axis` must be of type `int`", {"axis": True})])


# CategoricalFocalCrossentropy ----------------------------------------------

_class(
    "CategoricalFocalCrossentropy", _model_cfce, CFCE_TOL, "cfce",
    [kex("4.3 probs 0.02277657", {"y_true": YC, "y_pred": PC}),
     kex("per-class alpha, logits, ls", {"y_true": YS, "y_pred": XSM, "sample_weight": W2},
         {"alpha": [0.2, 0.5, 1.0], "from_logits": True, "label_smoothing": 0.1}),
     kex("gamma 0 (CCE times alpha)", {"y_true": YC, "y_pred": PC}, {"gamma": 0.0}),
     kex("per-class alpha with axis=0: alpha still broadcasts against the LAST axis",
         {"y_true": np.eye(2, dtype=np.float32)[[0, 1, 1]].reshape(3, 1, 2).repeat(2, 1),
          "y_pred": np.tile(f32([.2, .8]), (3, 2, 1))}, {"alpha": [0.9, 0.6], "axis": 0}),
     kex("exact 0 and 1 probabilities", {"y_true": f32([[0, 1, 0], [1, 0, 0]]),
                                         "y_pred": f32([[0, 1, 0], [1, 0, 0]])}),
     kex("float64, dtype float64", {"y_true": YC.astype(np.float64),
                                    "y_pred": PC.astype(np.float64)}, {"dtype": "float64"})]
    + [kex(f"4.3 probs, reduction={r!r}", {"y_true": YC, "y_pred": PC, "sample_weight": W2},
           {"reduction": r}) for r in REDS],
    [_bad_reduction({"y_true": YC, "y_pred": PC}),
     err("shape mismatch (no static check in the focal loss)",
         {"y_true": YC[:, :2], "y_pred": PC}, "InvalidArgumentError", "InvalidArgumentError",
         "TF fails in -y_true * log(output) at run time (Incompatible shapes)")]
    + _weight_errors({"y_true": YC, "y_pred": PC}, 2))

_function(
    "categorical_focal_crossentropy", _model_cfce, CFCE_TOL, "cfce",
    [fex("4.3 probs per sample", {"y_true": YC, "y_pred": PC}),
     fex("logits, gamma 3, alpha 1", {"y_true": YS, "y_pred": XSM},
         {"from_logits": True, "gamma": 3.0, "alpha": 1.0})],
    [err("axis=True", {"y_true": YC, "y_pred": PC}, "ValueError", "ValueError",
         "`axis` must be of type `int`", {"axis": True})])


# BinaryCrossentropy --------------------------------------------------------

_class(
    "BinaryCrossentropy", lambda c: _model_bce(c), BCE_TOL, "bce",
    [kex("4.3 probs 0.2695554", {"y_true": Z2, "y_pred": P2}),
     kex("4.3 logits ls 0.1: 0.3907105", {"y_true": ZB, "y_pred": XB},
         {"from_logits": True, "label_smoothing": 0.1}),
     kex("probs exactly 0 and 1 (clipped, zero gradient)",
         {"y_true": f32([[0, 1, 1, 0]]), "y_pred": f32([[0, 1, 0, 1]])}),
     kex("float64 probs at 1 - 1e-7 (float32 bound 0.99999988), dtype=None",
         {"y_true": f64([[0, 1, 0.5]]), "y_pred": f64([[1 - 1e-7, 1e-7, 1 - 1e-8]])}),
     kex("float64 probs, dtype float64", {"y_true": f64([[0, 1, 0.5]]),
                                          "y_pred": f64([[1 - 1e-7, 1e-7, 0.3]])},
         {"dtype": "float64"}),
     kex("axis=0 mean", {"y_true": ZB, "y_pred": XB}, {"axis": 0, "from_logits": True}),
     kex("scalar sample_weight", {"y_true": Z2, "y_pred": P2,
                                  "sample_weight": np.array(2.5, np.float32)})]
    + [kex(f"4.3 logits, reduction={r!r}, weights [B,1]",
           {"y_true": ZB, "y_pred": XB, "sample_weight": f32([[2], [0.5]])},
           {"from_logits": True, "reduction": r}) for r in REDS],
    [_bad_reduction({"y_true": Z2, "y_pred": P2}),
     err("shape mismatch", {"y_true": ZB[:, :2], "y_pred": XB}, "ValueError", "ValueError",
         "must have the same shape")]
    + _weight_errors({"y_true": Z2, "y_pred": P2}, 2))

_function(
    "binary_crossentropy", lambda c: _model_bce(c), BCE_TOL, "bce",
    [fex("4.3 probs per sample", {"y_true": Z2, "y_pred": P2}),
     fex("logits ls 0.1", {"y_true": ZB, "y_pred": XB},
         {"from_logits": True, "label_smoothing": 0.1}),
     fex("float64 at the clip bound", {"y_true": f64([[0, 1]]),
                                       "y_pred": f64([[1 - 1e-7, 1e-7]])})],
    [err("shape mismatch", {"y_true": ZB[:, :2], "y_pred": XB}, "ValueError", "ValueError",
         "must have the same shape")])


# BinaryFocalCrossentropy ---------------------------------------------------

_class(
    "BinaryFocalCrossentropy", lambda c: _model_bce(c, focal=True), BFCE_TOL, "bfce",
    [kex("4.3 probs 0.02898501", {"y_true": Z2, "y_pred": P2}),
     kex("4.3 balanced + logits 0.02848275", {"y_true": ZB, "y_pred": XB},
         {"apply_class_balancing": True, "from_logits": True}),
     kex("gamma 0, alpha 0.9, balanced", {"y_true": Z2, "y_pred": P2},
         {"gamma": 0.0, "alpha": 0.9, "apply_class_balancing": True}),
     kex("exact 0/1 probabilities", {"y_true": f32([[0, 1, 1, 0]]),
                                     "y_pred": f32([[0, 1, 0, 1]])}),
     kex("gamma 0 with 1 - p_t < 0 (y_pred > 1, y_true outside [0,1]): 0 * x^-1 = 0",
         {"y_true": f32([[1.0, 1.5]]), "y_pred": f32([[1.5, 0.3]])}, {"gamma": 0.0}),
     kex("logits beyond the clip: Keras' bce takes the logits path (25, not 16.03)",
         {"y_true": f32([[0, 1]]), "y_pred": f32([[20, -30]])},
         {"from_logits": True, "gamma": 0.0}),
     kex("float32 logits past sigmoid's saturation (Eigen: exactly 1 from 16.6355324), "
         "gamma 0: pow(0, -1) * 0 = NaN", {"y_true": f32([[1, 1, 0]]),
                                           "y_pred": f32([[16.63553, 16.7, -3]])},
         {"from_logits": True, "gamma": 0.0})]
    + [kex(f"4.3 probs, reduction={r!r}", {"y_true": Z2, "y_pred": P2, "sample_weight": W2},
           {"reduction": r}) for r in REDS],
    [_bad_reduction({"y_true": Z2, "y_pred": P2})]
    + _weight_errors({"y_true": Z2, "y_pred": P2}, 2), overflows=_focal_singular)

_function(
    "binary_focal_crossentropy", lambda c: _model_bce(c, focal=True), BFCE_TOL, "bfce",
    [fex("4.3 probs per sample", {"y_true": Z2, "y_pred": P2}),
     fex("balanced logits ls", {"y_true": ZB, "y_pred": XB},
         {"apply_class_balancing": True, "from_logits": True, "label_smoothing": 0.2}),
     fex("gamma 0 with 1 - p_t < 0: TF's pow gradient 0 * x^-1 is 0, not NaN",
         {"y_true": f32([[1.0, 1.5]]), "y_pred": f32([[1.5, 0.3]])}, {"gamma": 0.0}),
     fex("logits beyond the clip: sigmoid's _keras_logits -> stable bce, dx = sigmoid - z'",
         {"y_true": f32([[0, 1, 0.5]]), "y_pred": f32([[20, -30, 1e4]])},
         {"from_logits": True, "gamma": 1.0})],
    [])


# SparseCategoricalCrossentropy ---------------------------------------------

LAB = np.array([1, 2], np.int32)
IGL = np.array([1, -1, 0, -1], np.int32)
IGX = f32([[.5, 1, -1], [0, 0, 3], [2, 1, 0], [1, 1, 1]])
_class(
    "SparseCategoricalCrossentropy", _model_scce, SCCE_TOL, "scce",
    [kex("4.3 logits 0.9868951", {"y_true": LAB, "y_pred": XSM}, {"from_logits": True}),
     kex("4.3 ignore_class=-1, none", {"y_true": IGL, "y_pred": IGX},
         {"from_logits": True, "ignore_class": -1, "reduction": "none"}),
     kex("4.3 ignore_class=-1, sobs 0.4812815", {"y_true": IGL, "y_pred": IGX},
         {"from_logits": True, "ignore_class": -1}),
     kex("4.3 ignore_class=-1, sum 0.9625629", {"y_true": IGL, "y_pred": IGX},
         {"from_logits": True, "ignore_class": -1, "reduction": "sum"}),
     kex("4.3 ignore_class, weights [1,2,3,4], sobs 0.8888874",
         {"y_true": IGL, "y_pred": IGX, "sample_weight": f32([1, 2, 3, 4])},
         {"from_logits": True, "ignore_class": -1}),
     kex("4.3 ignore_class, weights, mws 0.4444437",
         {"y_true": IGL, "y_pred": IGX, "sample_weight": f32([1, 2, 3, 4])},
         {"from_logits": True, "ignore_class": -1, "reduction": "mean_with_sample_weight"}),
     kex("every position ignored -> 0", {"y_true": np.array([-1, -1], np.int32),
                                         "y_pred": XSM},
         {"from_logits": True, "ignore_class": -1}),
     kex("probs: clip then renormalize", {"y_true": np.array([1, 0], np.int64),
                                          "y_pred": f32([[0, 1, 0], [.2, .5, .3]])}),
     kex("labels [B,1]", {"y_true": LAB.reshape(2, 1), "y_pred": XSM},
         {"from_logits": True}),
     kex("float labels (truncated)", {"y_true": f32([1.0, 2.0]), "y_pred": XSM},
         {"from_logits": True}),
     kex("float64 logits dtype float64", {"y_true": LAB, "y_pred": XSM.astype(np.float64)},
         {"from_logits": True, "dtype": "float64"})]
    + [kex(f"logits, weights [B,1], reduction={r!r}",
           {"y_true": LAB, "y_pred": XSM, "sample_weight": f32([[2], [0.5]])},
           {"from_logits": True, "reduction": r}) for r in REDS],
    [_bad_reduction({"y_true": LAB, "y_pred": XSM}),
     err("axis not last", {"y_true": np.array([1, 0, 1], np.int32), "y_pred": XSM},
         "ValueError", "ValueError", "Only axis=-1 is currently supported", {"axis": 0}),
     err("C = 1 with [B,T] labels: the rank fix squeezes y_pred [B,T,1]",
         {"y_true": np.zeros((2, 3), np.int32), "y_pred": np.ones((2, 3, 1), np.float32)},
         "ValueError", "ValueError", "Argument `output` must have rank (ndim) `target.ndim - 1`"),
     err("labels of another batch size", {"y_true": np.array([1, 0, 1], np.int32),
                                          "y_pred": XSM},
         "ValueError", "ValueError", "must have the same shape up until the last dimension")]
    + _weight_errors({"y_true": LAB, "y_pred": XSM}, 2),
    wrt=("y_pred", "sample_weight"),
    notes="labels pass through the loss dtype (float32 by default): ids > 2^24 round")

_function(
    "sparse_categorical_crossentropy", _model_scce, SCCE_TOL, "scce",
    [fex("4.3 logits per sample", {"y_true": LAB, "y_pred": XSM}, {"from_logits": True}),
     fex("ignore_class=-1 per sample", {"y_true": IGL, "y_pred": IGX},
         {"from_logits": True, "ignore_class": -1}),],
    [err("axis not last", {"y_true": np.array([1, 0, 1], np.int32), "y_pred": XSM},
         "ValueError", "ValueError", "Only axis=-1 is currently supported", {"axis": 0})],
    wrt=("y_pred",))


# CategoricalGeneralizedCrossEntropy -----------------------------------------

_class(
    "CategoricalGeneralizedCrossEntropy", _model_cgce, CGCE_TOL, "cgce",
    [kex("4.3 q=.5 labels [1,0]: 0.27672", {"y_true": np.array([1, 0], np.int32),
                                            "y_pred": P2}, {"q": 0.5}),
     kex("out-of-range id -> 1/q, NaN gradient row", {"y_true": np.array([5, 0], np.int64),
                                                      "y_pred": PC}, {"q": 0.3}),
     kex("p_y = 0 exactly", {"y_true": np.array([0, 2], np.int32),
                             "y_pred": f32([[0, .5, .5], [.2, .3, .5]])}),
     kex("float ids", {"y_true": f32([1, 0]), "y_pred": P2})]
    + [kex(f"reduction={r!r}", {"y_true": np.array([1, 2], np.int32), "y_pred": PC,
                                "sample_weight": W2}, {"reduction": r}) for r in REDS],
    [err("q = 0", {"y_true": np.array([1, 0]), "y_pred": P2}, "ValueError", "ValueError",
         "q must be in the interval (0, 1)", {"q": 0.0}),
     err("q = 1", {"y_true": np.array([1, 0]), "y_pred": P2}, "ValueError", "ValueError",
         "q must be in the interval (0, 1)", {"q": 1.0}),
     _bad_reduction({"y_true": np.array([1, 0]), "y_pred": P2})]
    + _weight_errors({"y_true": np.array([1, 0], np.int32), "y_pred": P2}, 2),
    wrt=("y_pred", "sample_weight"))

_function(
    "categorical_generalized_cross_entropy", _model_cgce, CGCE_TOL, "cgce",
    [fex("4.3 per sample", {"y_true": np.array([1, 0], np.int32), "y_pred": P2},
         {"q": 0.5})],
    [], wrt=("y_pred",))


# Circle ----------------------------------------------------------------------

def _model_circle(case):
    """softplus(lse_pos(g (Dist^2 - m^2)) + lse_neg(g ((1 - Dist)^2 - m^2))) per
    query row (the max(., 0) weights simplified: Dist >= 0), Dist = max(1 - Q,
    0), Q = P R^T. E: the error of Dist (a D-term dot product, plus the
    float32 rounding of the inputs when narrowed)."""
    P = np.asarray(case.args["y_pred"], np.float64)
    yl = np.asarray(case.args["y_true"])
    yl = (np.trunc(yl) if yl.dtype.kind == "f" else yl).astype(np.int64)
    ref = "ref_embeddings" in case.args
    R = np.asarray(case.args["ref_embeddings"], np.float64) if ref else P
    rl = np.asarray(case.args["ref_labels"]).astype(np.int64) if ref else yl
    n = sk.nar(case)
    g = float(_opt(case, "gamma", 80.0))
    m = float(_opt(case, "margin", 0.4))
    rd = bool(_opt(case, "remove_diagonal", True))
    b, d = P.shape
    r = R.shape[0]
    e = _eps_c(case)
    Q = P @ R.T
    AQ = np.abs(P) @ np.abs(R).T
    E = AQ * (1 + acc(d) + 2 * n)                   # |error of Q| / eps
    dist = np.maximum(1 - Q, 0)
    pos = yl[:, None] == rl[None, :]
    if rd:
        pos = pos & ~np.eye(b, r, dtype=bool)
    neg = ~(yl[:, None] == rl[None, :])
    wn_on = (1 + m - dist) > 0
    tp = g * (dist ** 2 - m ** 2)
    tn = np.where(wn_on, g * ((1 - dist) ** 2 - m ** 2), 0.0)
    dtp = 2 * g * dist                              # |d term / d Dist|
    dtn = 2 * g * np.abs(1 - dist) * wn_on
    errp = dtp * E + 3 * np.abs(tp) + g * (dist ** 2 + m ** 2) * 2
    errn = dtn * E + 3 * np.abs(tn) + g * ((1 - dist) ** 2 + m ** 2) * 2

    def lse(t, mask):
        with np.errstate(all="ignore"):
            tt = np.where(mask, t, -np.inf)
            mx = np.max(tt, axis=1, keepdims=True) if r else np.full((b, 1), -np.inf)
            mx = np.where(np.isfinite(mx), mx, 0)
            ex_ = np.where(mask, np.exp(tt - mx), 0)
            s = ex_.sum(axis=1, keepdims=True)
            a = np.divide(ex_, s, out=np.zeros_like(ex_), where=s > 0)
            return (np.where(s[:, 0] > 0, np.log(np.where(s[:, 0] > 0, s[:, 0], 1)) + mx[:, 0],
                             -np.inf), a)
    lp, ap = lse(tp, pos)
    ln, an = lse(tn, neg)
    z = lp + ln
    with np.errstate(all="ignore"):
        sig = np.where(np.isfinite(z), 1 / (1 + np.exp(-np.where(np.isfinite(z), z, 0))), 0)
        L = np.where(np.isfinite(z), np.logaddexp(0, np.where(np.isfinite(z), z, 0)), 0)
        L = np.where(z == np.inf, np.inf, L)
    rowp = np.max(np.where(pos, errp, 0), axis=1) if r else np.zeros(b)
    rown = np.max(np.where(neg, errn, 0), axis=1) if r else np.zeros(b)
    zerr = rowp + rown + np.abs(np.where(np.isfinite(lp), lp, 0)) + np.abs(
        np.where(np.isfinite(ln), ln, 0)) + 2 * acc(r)
    T = sig * zerr + np.abs(L) * 2
    # gradient: dL/dQ_ij = -sig_i (a_p 2g Dist + a_n (-2g (1 - Dist))) [1 - Q >= 0]
    live = (1 - Q) >= 0
    M = sig[:, None] * (ap * dtp + an * dtn) * live
    tie = np.abs(1 - Q) <= 2 * E * e
    kink = np.abs(1 + m - dist) <= 2 * E * e
    jump = sig[:, None] * (an * 2 * g * np.maximum(np.abs(1 - dist), m) * (tie | kink)
                           + ap * 2 * g * dist * tie)
    # d term / d Dist is a difference of two products (g (m + D) and g (m - D); g wn
    # and g (1 - m - D)): its rounding is judged against them, not against the difference
    dterms = (ap * g * (np.abs(m + dist) + np.abs(m - dist))
              + an * g * (np.abs(1 + m - dist) + np.abs(1 - m - dist)) * wn_on)
    tM = (M * (4 + zerr[:, None] + np.where(pos, errp, 0) + np.where(neg, errn, 0))
          + sig[:, None] * ((ap + an) * 2 * g * E + 3 * dterms * live) + jump / e * 2)
    loc = M @ np.abs(R)
    tloc = tM @ np.abs(R) + loc * (1 + acc(r) + n)
    if not ref:
        loc = loc + M.T @ np.abs(P)
        tloc = tloc + tM.T @ np.abs(P) + (M.T @ np.abs(P)) * (1 + acc(b) + n)
    locs = {"y_pred": (loc, tloc)}
    if ref:
        lr = M.T @ np.abs(P)
        locs["ref_embeddings"] = (lr, tM.T @ np.abs(P) + lr * (1 + acc(b) + n))
        # (the upstream G of row i multiplies M's row i: applied in _scale_circle)
    return L, T, locs, L > 0


def _scale_circle(case, ref, dy):
    L, T, locs, mask = _model_circle(case)
    T = np.where(np.isfinite(T), T, np.inf)
    if _is_class(case):
        value, G, GT, ws = sk.keras_reduce(case, L, T, dy, mask=mask)
    else:
        G = np.abs(np.asarray(dy, np.float64))
        value, GT, ws = T + np.abs(L), G, None
    # the per-row upstream enters M row-wise: bound with its largest entry
    gmax = float(np.max(G)) if np.size(G) else 0.0
    gtmax = float(np.max(GT)) if np.size(GT) else 0.0
    res = {"value": value}
    for name, (loc, tloc) in locs.items():
        res[name] = sk.chain(loc, tloc, gmax, gtmax)
    if ws is not None:
        res["sample_weight"] = ws
    return res


CIRCLE_TOL = {"value": VALUE_TOL, "sample_weight": SW_TOL,
              "y_pred": _grad_tol("through the two masked logsumexps (softmax weights), "
                                  "2g Dist and -2g (1 - Dist), and Q = P P^T (both factors); "
                                  "the ties max(1 - Q, 0) (first argument wins) and "
                                  "max(1 + m - Dist, 0) carry their jumps"),
              "ref_embeddings": _grad_tol("as y_pred, through the reference factor of Q")}

CL_P = f32([[1, 0], [0.6, 0.8], [0, 1], [-0.8, 0.6]])
CL_Y = np.array([0, 0, 1, 1], np.int32)
_class_circle = sk.class_entry(
    "Circle", wrt=("y_pred", "sample_weight"), cases=sk.strategy(sk.circle_cases, "class"),
    scale=_scale_circle, tol=CIRCLE_TOL,
    overflows=_circle_kink,         # (float64 embeddings Keras narrows may overflow float32,
    #                                  or sit at a kink float32 decides otherwise)
    examples=[kex("4 unit embeddings, 2 labels", {"y_true": CL_Y, "y_pred": CL_P}),
              kex("gamma 1, margin 0.25, keep the diagonal", {"y_true": CL_Y, "y_pred": CL_P},
                  {"gamma": 1.0, "margin": 0.25, "remove_diagonal": False}),
              kex("a row without positives is masked out of the mean",
                  {"y_true": np.array([0, 0, 1, 2], np.int32), "y_pred": CL_P}),
              kex("one-hot embeddings: Q = 1 exactly (tie of max(1 - Q, 0))",
                  {"y_true": CL_Y, "y_pred": f32([[1, 0], [1, 0], [0, 1], [0, 1]])}),
              kex("float64, dtype float64", {"y_true": CL_Y, "y_pred": CL_P.astype(np.float64)},
                  {"dtype": "float64"}),
              kex("all labels distinct: every loss 0", {"y_true": np.arange(4), "y_pred": CL_P})]
    + [kex(f"reduction={r!r} with weights", {"y_true": CL_Y, "y_pred": CL_P,
                                             "sample_weight": f32([1, 0, 2, .5])},
           {"reduction": r}) for r in REDS],
    errors=[_bad_reduction({"y_true": CL_Y, "y_pred": CL_P}),
            err("sample_weight [B+1]", {"y_true": CL_Y, "y_pred": CL_P,
                                        "sample_weight": np.ones(5, np.float32)},
                "InvalidArgumentError", "InvalidArgumentError", "Incompatible shapes")],
    budget={"quick": 80, "full": 600},
    notes="Circle's mask (loss > 0) makes sum_over_batch_size average over rows with "
          "positives; y_true (ids) are converted to the loss dtype first")
_add(_class_circle)

_add(Entry(
    key="keras.circle", fn=sk.cy("circle"), tf_fn=sk.tf_fn("circle"),
    call_tf=sk.tf_function("circle"), wrt=("y_pred", "ref_embeddings"),
    cases=sk.strategy(sk.circle_cases, "function"), scale=_scale_circle,
    tol={k: v for k, v in CIRCLE_TOL.items() if k != "sample_weight"},
    examples=[fex("per row", {"y_true": CL_Y, "y_pred": CL_P}),
              fex("reference set", {"y_true": CL_Y, "y_pred": CL_P,
                                    "ref_labels": np.array([1, 0, 2], np.int32),
                                    "ref_embeddings": f32([[0, 1], [1, 0], [.6, .8]])},
                  {"remove_diagonal": False})],
    errors=[], budget={"quick": 60, "full": 400}))


# CTC -------------------------------------------------------------------------

def _model_ctc(case):
    """A magnitude model: |L_b| <= A_b = sum_t max_k |log_softmax(x_t)_k| (any
    alignment's cost bounds the NLL); the forward/backward recursions round
    relative to the running log-probability at each of the T steps and add a
    log-softmax (acc(K)) per step: T_b = (T + 2) (A_b + T acc(K))."""
    x = np.asarray(case.args["y_pred"], np.float64)
    b, t, k = x.shape
    n = 1.0 if case.dtype == "float64" else 0.0         # Keras' ctc computes in float32
    s, Lr, p = row_stats(x, -1)
    ls = np.abs(s - Lr)
    A = np.sum(np.max(ls, axis=-1), axis=-1) if t and k else np.zeros(b)
    rnd = n * np.sum(np.max(np.abs(x), axis=-1), axis=-1) * 2 if t and k else 0
    lab = np.asarray(case.args["y_true"]).astype(np.int64)
    need = np.sum(lab != 0, axis=-1) + np.sum((lab[:, 1:] == lab[:, :-1]) & (lab[:, 1:] != 0),
                                              axis=-1)
    A = A + np.where(need > t, 707.0, 0.0)             # TF's dense path: log(1e-307) floor
    T = (t + 2) * (A + t * acc(k) + rnd)
    loc = p + 1.0                                       # softmax - occupancy, both in [0, 1]
    tloc = p * (2 + np.abs(s) + acc(k)) + T[:, None, None]
    return A, T, {"y_pred": (loc, tloc)}, lambda G: G[:, None, None]


def _scale_ctc(case, ref, dy):
    return _scale_from(_model_ctc)(case, ref, dy)


def _ctc_overflows(case):
    """KerasNarrowing.overflows of CTC (TF computes it in float32): logits
    whose float32 log-softmax or frame sums can leave float32's range (cyloss'
    float64 ones do not), or infinite sample weights, which turn the float32
    gradient's exact zeros (where cyloss' float64 has a tiny number) into
    0 * inf = NaN, and its rounding-sized signs into the sign of an inf; or
    weights whose products with the losses can leave float32's range
    (|w| >= 1e15, as _overflows_f32)."""
    x = np.asarray(case.args["y_pred"], np.float64)
    m = np.abs(x[np.isfinite(x)])
    if m.size and m.max() >= np.finfo(np.float32).max / (4 * (x.shape[1] + 2)):
        return True
    w = case.args.get("sample_weight")
    if w is None or np.asarray(w).dtype.kind not in "fiub":
        return False
    w = np.asarray(w, np.float64)
    return not np.all(np.isfinite(w)) or bool(np.any(np.abs(w) >= 1e15))


CTC_TOL = {"value": VALUE_TOL, "sample_weight": SW_TOL,
           "y_pred": _grad_tol("softmax - alignment occupancy (exp(alpha + beta - L), whose "
                               "relative error is the absolute error of the recursions)")}
CTC_Y = np.array([[1, 2, 0], [3, 3, 1]], np.int32)
CTC_X = np.sin(np.arange(2 * 6 * 4, dtype=np.float32)).reshape(2, 6, 4)
_ctc = sk.class_entry(
    "CTC", wrt=("y_pred", "sample_weight"), cases=sk.strategy(sk.ctc_cases, "class"),
    scale=_scale_ctc, tol=CTC_TOL, always=True, overflows=_ctc_overflows,
    examples=[kex("2 sequences, padding 0, a repeat", {"y_true": CTC_Y, "y_pred": CTC_X}),
              kex("float64 logits (Keras' ctc computes float32 even for dtype float64)",
                  {"y_true": CTC_Y, "y_pred": CTC_X.astype(np.float64)}, {"dtype": "float64"}),
              kex("label longer than T: TF's dense path gives ~707 (log 1e-307 floor)", {"y_true": np.array([[1, 2, 1]], np.int32),
                                                "y_pred": CTC_X[:1, :2]}),
              kex("empty label (all padding)", {"y_true": np.zeros((2, 3), np.int32),
                                                "y_pred": CTC_X})]
    + [kex(f"reduction={r!r}, weights", {"y_true": CTC_Y, "y_pred": CTC_X,
                                         "sample_weight": f32([0.5, 2])}, {"reduction": r})
       for r in REDS],
    errors=[_bad_reduction({"y_true": CTC_Y, "y_pred": CTC_X}),
            err("y_pred rank 2", {"y_true": CTC_Y, "y_pred": CTC_X[:, 0]}, "ValueError",
                "ValueError", "Logits `y_pred` are expected to be a tensor of shape "
                "`(batch_size, max_length, num_classes)`"),
            err("y_true rank 1", {"y_true": CTC_Y[0], "y_pred": CTC_X}, "ValueError",
                "ValueError", "Targets `y_true` are expected ... `(batch_size, max_length)`")],
    budget={"quick": 60, "full": 400},
    notes="needs cyloss.nn.ctc_loss; the magnitude model bounds |NLL| by the cost of any "
          "alignment")
_add(_ctc)

_add(Entry(
    key="keras.ctc", fn=sk.cy("ctc"), tf_fn=sk.tf_fn("ctc"), call_tf=sk.tf_function("ctc"),
    wrt=("y_pred",), cases=sk.strategy(sk.ctc_cases, "function"), scale=_scale_ctc,
    tol={k: v for k, v in CTC_TOL.items() if k != "sample_weight"},
    examples=[fex("2 sequences", {"y_true": CTC_Y, "y_pred": CTC_X}),
              fex("float64 (computed in float32 by Keras)",
                  {"y_true": CTC_Y, "y_pred": CTC_X.astype(np.float64)})],
    errors=[err("y_pred rank 2", {"y_true": CTC_Y, "y_pred": CTC_X[:, 0]}, "ValueError",
                "ValueError", "Logits `y_pred` are expected to be rank 3")],
    narrowing=sk.KerasNarrowing(("value", "y_pred"), always=True),
    budget={"quick": 60, "full": 400}))
