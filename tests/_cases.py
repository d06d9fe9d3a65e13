"""Shared test material: one Spec per public cyloss.nn function (and per
interesting variant), NumPy reference values and gradients computed in
extended precision, an eps-scaled comparison that reports the worst input,
and the array layouts of the layout matrix.

References follow TF_SEMANTICS.md section 1 literally (the TF formulas, in
np.longdouble: 64-bit significand on x86-64, so the reference error is well
below float64's eps there; elsewhere longdouble is float64 and the tolerances
below still hold because each one allows for a few ulp on both sides).
"""
import dataclasses
import os
from typing import Callable

import numpy as np

import cyloss
from cyloss import nn

from _fd import on_grid

REF = np.longdouble


def _read_seed(default=20240607):
    raw = os.environ.get("CYLOSS_TEST_SEED", "").strip()
    try:
        return int(raw) if raw else default
    except ValueError:
        raise ValueError(f"CYLOSS_TEST_SEED={raw!r} is not an integer") from None


# The one seed of the suite (CYLOSS_TEST_SEED overrides; conftest prints it).
SEED = _read_seed()
FLOATS = (np.float32, np.float64)


def eps(dtype):
    return float(np.finfo(dtype).eps)


# --------------------------------------------------------------- comparison --

def assert_close(got, want, scale, k, dtype, what="", inputs=None):
    """|got - want| <= k * eps(dtype) * scale + tiny(dtype), elementwise.

    `scale` is the magnitude of the terms that make up each value (its
    rounding scale); `tiny` allows for results below the normal range, which
    cyloss' exp flushes to zero as TF's Eigen kernels do. NaN must match NaN
    and infinities must match exactly. On failure the message names the worst
    element, its got / want values and, when `inputs` (a dict of arrays of the
    same shape) is given, the inputs there.
    """
    got = np.asarray(got)
    want = np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != expected {want.shape}"
    g = got.astype(REF)
    w = want.astype(REF)
    nan_g, nan_w = np.isnan(g), np.isnan(w)
    assert np.array_equal(nan_g, nan_w), (
        f"{what}: NaN at {np.argwhere(nan_g != nan_w)[:5].tolist()} "
        f"(got {g[nan_g != nan_w][:5]}, want {w[nan_g != nan_w][:5]})")
    inf_w = np.isinf(w)
    assert np.array_equal(g[inf_w], w[inf_w]) and not np.isinf(g[~inf_w]).any(), (
        f"{what}: infinities differ: got {g[inf_w | np.isinf(g)]}, "
        f"want {w[inf_w | np.isinf(g)]}")
    fin = ~(nan_w | inf_w)
    if not fin.any():
        return
    tol = k * eps(dtype) * np.broadcast_to(np.asarray(scale, REF), w.shape) \
        + REF(np.finfo(dtype).tiny)
    err = np.where(fin, np.abs(g - w), 0)
    ratio = np.where(fin, err / tol, 0)
    worst = np.unravel_index(int(np.argmax(ratio)), w.shape) if w.ndim else ()
    if ratio[worst] > 1:
        at = "" if inputs is None else ", inputs there: " + ", ".join(
            f"{n}={np.broadcast_to(a, w.shape)[worst]!r}" for n, a in inputs.items())
        raise AssertionError(
            f"{what}: {int((ratio > 1).sum())} of {w.size} values off by more than "
            f"{k} eps({np.dtype(dtype).name}) x scale; worst at {worst}: got "
            f"{g[worst]!r}, want {w[worst]!r}, |err| = "
            f"{float(err[worst] / (eps(dtype) * np.broadcast_to(scale, w.shape)[worst])):.3g}"
            f" eps x scale{at}")


def assert_special_positions(got, want, what=""):
    """NaN and +-inf exactly where `want` (TF's numbers) has them, signs
    included; returns (got, want) as float64 and the mask of want's finite
    elements, for the caller's tolerance on them."""
    got = np.asarray(got, np.float64)
    want = np.asarray(want, np.float64)
    assert got.shape == want.shape, what
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=what)
    inf = np.isinf(want)
    np.testing.assert_array_equal(np.isinf(got), inf, err_msg=what)
    np.testing.assert_array_equal(got[inf], want[inf], err_msg=what)
    return got, want, np.isfinite(want)


def assert_special_close(got, expected, dt, what="", k=8, floor=1):
    """TF's NaN/inf positions (signs included) exactly, and the finite
    elements within k eps(dt) of TF's, relative, plus `floor` times dt's
    smallest normal (TF flushes denormal results, so values near 0 may be 0).
    dt is the type TF computes in. For results built with TF's ops in TF's
    order: only a few roundings (Eigen's float32 exp/log ulps, short sums in
    another order) can move a finite element."""
    got, exp, fin = assert_special_positions(got, np.asarray(expected, dt), what)
    fi = np.finfo(dt)
    np.testing.assert_allclose(got[fin], exp[fin], rtol=k * float(fi.eps),
                               atol=floor * float(fi.tiny), err_msg=what)


def assert_same_bits(got, want, what=""):
    """Bitwise equality (NaN payloads aside) plus dtype and shape."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != {want.dtype}"
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    if got.dtype.kind == "f":
        both_nan = np.isnan(got) & np.isnan(want)
        # equal values with equal signs (tells -0.0 from +0.0), or NaN in both
        same = ((got == want) & (np.signbit(got) == np.signbit(want))) | both_nan
    else:
        same = got == want
    if not np.all(same):
        bad = np.argwhere(~np.asarray(same))[:5]
        raise AssertionError(f"{what}: {int((~same).sum())} elements differ; first at "
                             f"{bad.tolist()}: got {got[tuple(bad[0])]!r}, want "
                             f"{want[tuple(bad[0])]!r}")


# --------------------------------------------------------------- references --

def _lse(x, axis=-1):
    m = np.max(x, axis=axis, keepdims=True)
    return m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)), m


def ref_softmax(x, axis=-1, dy=None):
    x = np.asarray(x, REF)
    L, m = _lse(x, axis)
    s = x - m
    p = np.exp(x - L)
    scale = p * (1 + np.abs(s))          # exp(s) is off by ~|s| ulp from the rounding of s
    out = {"value": p, "scale": scale}
    if dy is not None:
        dy = np.asarray(dy, REF)
        t = np.sum(dy * p, axis=axis, keepdims=True)
        out["logits"] = (dy - t) * p
        out["logits_scale"] = (np.abs(dy) + np.sum(np.abs(dy) * p, axis=axis,
                                                   keepdims=True)) * scale
    return out


def ref_log_softmax(x, axis=-1, dy=None):
    x = np.asarray(x, REF)
    L, m = _lse(x, axis)
    s = x - m
    out = {"value": x - L, "scale": np.abs(s) + (L - m) + 1}
    if dy is not None:
        dy = np.asarray(dy, REF)
        p = np.exp(x - L)
        t = np.sum(dy, axis=axis, keepdims=True)
        out["logits"] = dy - t * p
        out["logits_scale"] = np.abs(dy) + np.sum(np.abs(dy), axis=axis,
                                                  keepdims=True) * p * (1 + np.abs(s))
    return out


def ref_softmax_xent(labels, logits, axis=-1, dy=None):
    """TF's kernel: loss = sum y (L - s); dlogits = softmax - y (even if sum y != 1);
    dlabels = L - s = -log_softmax. Labels broadcast against the logits."""
    x = np.asarray(logits, REF)
    y = np.broadcast_to(np.asarray(labels, REF), x.shape)
    L, m = _lse(x, axis)
    s = x - m
    nls = L - x                                     # -log_softmax
    value = np.sum(y * nls, axis=axis)
    scale = np.sum(np.abs(y) * (np.abs(s) + (L - m) + 1), axis=axis)
    out = {"value": value, "scale": scale}
    if dy is not None:
        d = np.expand_dims(np.asarray(dy, REF), axis)
        p = np.exp(x - L)
        out["logits"] = d * (p - y)
        out["logits_scale"] = np.abs(d) * (p * (1 + np.abs(s)) + np.abs(y))
        # broadcast labels get the sum over the rows / classes they were spread to
        out["labels"] = _reduce_to(d * nls, np.shape(labels))
        out["labels_scale"] = _reduce_to(np.abs(d) * (np.abs(s) + (L - m) + 1),
                                         np.shape(labels))
    return out


def ref_sparse_xent(labels, logits, dy=None):
    x = np.asarray(logits, REF)
    lab = np.asarray(labels)
    L, m = _lse(x, -1)
    s = x - m
    onehot = (np.arange(x.shape[-1]) == lab[..., None]).astype(REF)
    value = np.sum(onehot * (L - x), axis=-1)
    scale = np.sum(onehot * (np.abs(s) + (L - m) + 1), axis=-1)
    out = {"value": value, "scale": scale}
    if dy is not None:
        d = np.asarray(dy, REF)[..., None]
        p = np.exp(x - L)
        out["logits"] = d * (p - onehot)
        out["logits_scale"] = np.abs(d) * (p * (1 + np.abs(s)) + onehot)
    return out


def ref_sigmoid_xent(labels, logits, dy=None):
    x = np.asarray(logits, REF)
    z = np.asarray(labels, REF)
    e = np.exp(-np.abs(x))
    value = np.maximum(x, 0) - x * z + np.log1p(e)
    out = {"value": value, "scale": np.abs(x) * (1 + np.abs(z)) + 1}
    if dy is not None:
        d = np.asarray(dy, REF)
        sig = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
        out["logits"] = d * (sig - z)
        out["logits_scale"] = np.abs(d) * (1 + np.abs(z))
        out["labels"] = -d * x
        out["labels_scale"] = np.abs(d * x)
    return out


def ref_weighted_xent(labels, logits, pos_weight, dy=None):
    x = np.asarray(logits, REF)
    z = np.asarray(labels, REF)
    pw = np.asarray(pos_weight, REF)
    e = np.exp(-np.abs(x))
    c = np.log1p(e) + np.maximum(-x, 0)              # -log sigmoid(x)
    q = 1 + (pw - 1) * z
    value = (1 - z) * x + q * c
    scale = np.abs(1 - z) * np.abs(x) + (1 + np.abs(pw - 1) * np.abs(z)) * (c + 1)
    out = {"value": value, "scale": np.broadcast_to(scale, value.shape)}
    if dy is not None:
        d = np.asarray(dy, REF)
        sg = np.sign(x)
        out["logits"] = d * ((1 - z) + q * (-sg * e / (1 + e) - (x < 0)))
        out["logits_scale"] = np.abs(d) * (np.abs(1 - z) + 2 * np.abs(q) + 1)
        out["labels"] = d * (-x + (pw - 1) * c)
        out["labels_scale"] = np.abs(d) * (np.abs(x) + np.abs(pw - 1) * (c + 1))
        gp = d * z * c
        out["pos_weight"] = _reduce_to(gp, np.shape(pos_weight))
        out["pos_weight_scale"] = _reduce_to(np.abs(gp) * 2 + np.abs(d * z),
                                             np.shape(pos_weight))
    return out


def ref_log_poisson(targets, log_input, compute_full_loss=False, dy=None):
    c = np.asarray(log_input, REF)
    z = np.asarray(targets, REF)
    ec = np.exp(c)
    value = ec - c * z
    scale = ec * (1 + np.abs(c)) + np.abs(c * z)
    stir_mask = (z > 1) | (z < 0)
    zz = np.where(stir_mask, z, 2)                   # keep log() away from the masked zeros
    with np.errstate(invalid="ignore", divide="ignore"):
        stir = zz * np.log(zz) - zz + REF(0.5) * np.log(2 * REF(np.pi) * zz)
        if compute_full_loss:
            value = value + np.where(stir_mask, stir, 0)
            value = np.where(z < 0, REF(np.nan), value)
            scale = scale + np.where(stir_mask, np.abs(zz * np.log(np.abs(zz)))
                                     + np.abs(zz) + np.abs(np.log(np.abs(zz))) + 1, 0)
    out = {"value": value, "scale": scale}
    if dy is not None:
        d = np.asarray(dy, REF)
        out["log_input"] = d * (ec - z)
        out["log_input_scale"] = np.abs(d) * (ec * (1 + np.abs(c)) + np.abs(z))
        dz = -c
        dz_scale = np.abs(c)
        if compute_full_loss:
            with np.errstate(invalid="ignore", divide="ignore"):
                dz = np.where(stir_mask, -c + (np.log(zz) + REF(0.5) / zz), -c)
                dz = np.where(z == 0, REF(np.nan), dz)      # TF: 0 * (-inf + inf)
                dz_scale = dz_scale + np.where(stir_mask, np.abs(np.log(np.abs(zz)))
                                               + 1 / np.abs(zz), 0)
        out["targets"] = d * dz
        out["targets_scale"] = np.abs(d) * (dz_scale + 1)
    return out


def ref_l2_loss(t, dy=None):
    a = np.asarray(t, REF)
    value = np.sum(a * a) / 2
    # cyloss sums in 16 lanes over blocks of 4096: each lane adds <= n/16 + 256
    # terms in sequence, so the summation error is <= (n/16 + 16) eps * sum|t^2|
    # (Higham's bound for recursive summation of positive terms).
    # The spec uses k = 1, so the tolerance is exactly that bound; the gradient
    # t * dy is one rounding (<= 0.5 ulp), also within k = 1.
    scale = (a.size / 16 + 16) * value
    out = {"value": value, "scale": scale}
    if dy is not None:
        d = np.asarray(dy, REF)
        out["t"] = a * d
        out["t_scale"] = np.abs(a * d)
    return out


def _reduce_to(g, shape):
    shape = tuple(shape)
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    g = g.sum(axis=tuple(range(lead))) if lead else g
    axes = tuple(i for i, s in enumerate(shape) if s == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True) if axes else g


# ----------------------------------------------------------------- samplers --

def logits_like(rng, shape, spread=3.0):
    """Normal(0, spread) values on a 2**-20 grid: exact in float32 (|x| < 16,
    clipped) and exact finite-difference steps in float64."""
    return on_grid(np.clip(rng.normal(size=shape) * spread, -15, 15))


def simplex_labels(rng, shape):
    """Rows (last axis) of multiples of 2**-20 summing to exactly 1 (also in
    float32), so TF's softmax - labels gradient is the true derivative."""
    shape = tuple(shape)
    n = shape[-1]
    w = rng.dirichlet(np.ones(n), size=shape[:-1]) if n else np.zeros(shape)
    k = np.floor(w * 2 ** 20)
    if n:
        k[..., -1] += 2 ** 20 - k.sum(axis=-1)
    return k / 2 ** 20


def unit_labels(rng, shape):
    return on_grid(rng.uniform(0, 1, size=shape))


# --------------------------------------------------------------------- specs --

@dataclasses.dataclass(frozen=True)
class Spec:
    """One public function with a fixed kind of input.

    make(rng) -> (arrays, kwargs): float64 arrays on the FD grid (integer
    labels as int64); cast(arrays, dtype) turns them into a call's inputs.
    ref(arrays, kwargs, dy) -> reference dict (value, scale, <arg>, <arg>_scale).
    grads: argument names backward() must return (TF's differentiable ones).
    k: tolerance factor of the closed-form comparison, in eps x scale.
    """
    name: str
    fn: Callable
    make: Callable
    ref: Callable
    grads: tuple
    k: float = 8
    int_args: tuple = ()

    def __str__(self):
        return self.name

    def cast(self, arrays, dtype):
        return {n: (np.asarray(a) if n in self.int_args else np.asarray(a, dtype))
                for n, a in arrays.items()}

    def call(self, arrays, kwargs):
        return self.fn(**arrays, **kwargs)

    def vjp(self, arrays, kwargs):
        return cyloss.vjp(self.fn, **arrays, **kwargs)


def _spec_softmax(name, fn, ref, shape, axis):
    def make(rng):
        return {"logits": logits_like(rng, shape)}, ({} if axis is None else {"axis": axis})

    def reference(a, kw, dy=None):
        return ref(a["logits"], kw.get("axis", -1), dy)
    return Spec(name, fn, make, reference, ("logits",), k=8)


def _make_xent(shape, axis=-1, labels_shape=None):
    def make(rng):
        x = logits_like(rng, shape)
        ax = axis % len(shape)
        lshape = labels_shape or shape
        y = simplex_labels(rng, np.moveaxis(np.empty(lshape), ax, -1).shape)
        y = np.moveaxis(y, -1, ax) if len(lshape) == len(shape) else y
        if labels_shape is not None and labels_shape[-1] == 1:
            y = np.full(labels_shape, 1.0 / 4)        # 1/C with C = 4: sum over the row is 1
        return {"labels": y, "logits": x}, ({} if axis == -1 else {"axis": axis})
    return make


def _ref_xent(a, kw, dy=None):
    return ref_softmax_xent(a["labels"], a["logits"], kw.get("axis", -1), dy)


def _make_sparse(shape):
    def make(rng):
        x = logits_like(rng, shape)
        lab = rng.integers(0, shape[-1], size=shape[:-1])
        return {"labels": lab, "logits": x}, {}
    return make


def _make_pair(shape, label_fn=unit_labels):
    def make(rng):
        return {"labels": label_fn(rng, shape), "logits": logits_like(rng, shape)}, {}
    return make


def _make_weighted(shape, pw_shape):
    def make(rng):
        return {"labels": unit_labels(rng, shape), "logits": logits_like(rng, shape),
                "pos_weight": on_grid(rng.uniform(0.25, 3, size=pw_shape))}, {}
    return make


def _poisson_targets(rng, shape, full):
    if not full:
        return on_grid(rng.uniform(0, 6, size=shape))
    # away from the Stirling switch at z = 1 and from the NaN gradient at z = 0
    lo = rng.uniform(0.05, 0.95, size=shape)
    hi = rng.uniform(1.25, 6, size=shape)
    return on_grid(np.where(rng.random(shape) < 0.4, lo, hi))


def _make_poisson(shape, full):
    def make(rng):
        return ({"targets": _poisson_targets(rng, shape, full),
                 "log_input": on_grid(rng.uniform(-2, 2, size=shape))},
                {"compute_full_loss": full})
    return make


SPECS = [
    _spec_softmax("softmax[C=7]", nn.softmax, ref_softmax, (5, 7), None),
    _spec_softmax("softmax[C=24]", nn.softmax, ref_softmax, (3, 24), None),
    _spec_softmax("softmax[axis=1]", nn.softmax, ref_softmax, (2, 5, 3), 1),
    _spec_softmax("log_softmax[C=7]", nn.log_softmax, ref_log_softmax, (5, 7), None),
    _spec_softmax("log_softmax[C=24]", nn.log_softmax, ref_log_softmax, (3, 24), None),
    _spec_softmax("log_softmax[axis=0]", nn.log_softmax, ref_log_softmax, (6, 4), 0),
    Spec("softmax_xent", nn.softmax_cross_entropy_with_logits, _make_xent((5, 6)),
         _ref_xent, ("labels", "logits")),
    Spec("softmax_xent[C=20]", nn.softmax_cross_entropy_with_logits, _make_xent((3, 20)),
         _ref_xent, ("labels", "logits")),
    Spec("softmax_xent[axis=0]", nn.softmax_cross_entropy_with_logits,
         _make_xent((6, 4), axis=0), _ref_xent, ("labels", "logits")),
    Spec("softmax_xent[labels 1xC]", nn.softmax_cross_entropy_with_logits,
         _make_xent((5, 4), labels_shape=(1, 4)), _ref_xent, ("labels", "logits")),
    Spec("softmax_xent[labels Nx1]", nn.softmax_cross_entropy_with_logits,
         _make_xent((5, 4), labels_shape=(5, 1)), _ref_xent, ("labels", "logits")),
    Spec("sparse_xent[C=6]", nn.sparse_softmax_cross_entropy_with_logits,
         _make_sparse((7, 6)), lambda a, kw, dy=None: ref_sparse_xent(a["labels"],
                                                                      a["logits"], dy),
         ("logits",), int_args=("labels",)),
    Spec("sparse_xent[C=20,rank3]", nn.sparse_softmax_cross_entropy_with_logits,
         _make_sparse((2, 3, 20)), lambda a, kw, dy=None: ref_sparse_xent(a["labels"],
                                                                          a["logits"], dy),
         ("logits",), int_args=("labels",)),
    Spec("sigmoid_xent", nn.sigmoid_cross_entropy_with_logits, _make_pair((4, 9)),
         lambda a, kw, dy=None: ref_sigmoid_xent(a["labels"], a["logits"], dy),
         ("labels", "logits")),
    Spec("weighted_xent[pw full]", nn.weighted_cross_entropy_with_logits,
         _make_weighted((4, 6), (4, 6)),
         lambda a, kw, dy=None: ref_weighted_xent(a["labels"], a["logits"],
                                                  a["pos_weight"], dy),
         ("labels", "logits", "pos_weight")),
    Spec("weighted_xent[pw C]", nn.weighted_cross_entropy_with_logits,
         _make_weighted((4, 6), (6,)),
         lambda a, kw, dy=None: ref_weighted_xent(a["labels"], a["logits"],
                                                  a["pos_weight"], dy),
         ("labels", "logits", "pos_weight")),
    Spec("weighted_xent[pw 0-d]", nn.weighted_cross_entropy_with_logits,
         _make_weighted((3, 5), ()),
         lambda a, kw, dy=None: ref_weighted_xent(a["labels"], a["logits"],
                                                  a["pos_weight"], dy),
         ("labels", "logits", "pos_weight")),
    Spec("log_poisson", nn.log_poisson_loss, _make_poisson((4, 7), False),
         lambda a, kw, dy=None: ref_log_poisson(a["targets"], a["log_input"],
                                                kw["compute_full_loss"], dy),
         ("targets", "log_input")),
    Spec("log_poisson[full]", nn.log_poisson_loss, _make_poisson((4, 7), True),
         lambda a, kw, dy=None: ref_log_poisson(a["targets"], a["log_input"],
                                                kw["compute_full_loss"], dy),
         ("targets", "log_input")),
    Spec("l2_loss", nn.l2_loss, lambda rng: ({"t": logits_like(rng, (6, 7))}, {}),
         lambda a, kw, dy=None: ref_l2_loss(a["t"], dy), ("t",), k=1),
]

# One spec per public function, for the bigger matrices.
CORE_SPECS = [s for s in SPECS if s.name in (
    "softmax[C=7]", "log_softmax[C=24]", "softmax_xent", "sparse_xent[C=6]",
    "sigmoid_xent", "weighted_xent[pw C]", "log_poisson[full]", "l2_loss")]

PUBLIC_NN = ("softmax", "log_softmax", "softmax_cross_entropy_with_logits",
             "sparse_softmax_cross_entropy_with_logits", "sigmoid_cross_entropy_with_logits",
             "weighted_cross_entropy_with_logits", "log_poisson_loss", "l2_loss")


# ------------------------------------------------------------------- layouts --

LAYOUTS = ("C", "strided", "negative", "fortran", "readonly")


def with_layout(a, layout):
    """A new array with a's values (and dtype) in the given memory layout."""
    a = np.asarray(a)
    full = (slice(None),) * a.ndim
    if a.ndim == 0 and layout in ("strided", "negative", "fortran"):
        out = np.array(a)                  # a 0-d array has no strides to vary
    elif layout == "C":
        out = np.array(a, order="C")
    elif layout == "strided":
        big = np.zeros(tuple(2 * s + 1 for s in a.shape), a.dtype)
        out = big[tuple(slice(1, None, 2) for _ in full)]
        out[...] = a
    elif layout == "negative":
        rev = tuple(slice(None, None, -1) for _ in full)
        out = np.array(a[rev], order="C")[rev]
    elif layout == "fortran":
        out = np.array(a, order="F")
    elif layout == "readonly":
        out = np.array(a)
        out.flags.writeable = False
    else:
        raise ValueError(layout)
    assert np.array_equal(out, a) and out.dtype == a.dtype
    return out


def snapshot(a):
    """Everything about an input array a call could change."""
    a = np.asarray(a)
    base = a.base if isinstance(a.base, np.ndarray) else None
    return (a, a.copy(), a.strides, a.flags.writeable, a.flags.c_contiguous,
            a.flags.f_contiguous, a.__array_interface__["data"][0],
            None if base is None else (base, base.copy()))


def assert_unchanged(snap, what):
    a, values, strides, writeable, c, f, ptr, base = snap
    assert_same_bits(a, values, f"{what} values")
    assert (a.strides, a.flags.writeable, a.flags.c_contiguous, a.flags.f_contiguous,
            a.__array_interface__["data"][0]) == (strides, writeable, c, f, ptr), \
        f"{what}: array flags / strides changed"
    if base is not None:
        assert_same_bits(base[0], base[1], f"{what}: the array it is a view of")
