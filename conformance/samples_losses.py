"""Hypothesis strategies for cyloss.losses (tf.compat.v1.losses) and
cyloss.contrib.losses (TF 1.x tf.contrib.losses); see samples.py for the
Case type, the value profiles and the size model.

What every strategy here varies, besides shapes, dtypes, layouts and values:

* weights (`_core_weights`, `_contrib_weights`): omitted (the default 1.0),
  a Python float or int, a 0-d array, per-example `[B,1,..,1]`, the full
  shape, a mix of size-1 and full dims (core), or the leading dims `[B]`,
  `[B,..,D_k]` with or without a trailing 1 (contrib); values uniform,
  signed, with some zeros, all zero, all one, or integer; the weights' dtype
  is the data's, float32 on float64 data, or int32;
* reduction (core): omitted (the default) or any of the six keys;
* per function: label smoothing (including 0 and negative values, which TF
  ignores), huber's delta (0 and ties |e| = delta), log_loss' epsilon (0:
  log 0), cosine's axis or its `dim` alias (negative too), sparse labels with
  a trailing 1, one-hot, distribution and integer labels.

About one case in 16 is an error case drawn at random (weights that do not
broadcast under the namespace's rule, labels of another shape, an invalid
reduction key): TF must raise and cyloss must raise the documented class.
"""
import numpy as np
from hypothesis import strategies as st

from .samples import (INT_DTYPES, Case, Expect, _budget, _classes, _common, _dims, _rank,
                      logits_rows, real_values, sprinkle)

REDUCTIONS = ("none", "weighted_sum", "weighted_mean", "weighted_sum_over_batch_size",
              "weighted_sum_by_nonzero_weights")
# float64 inputs whose intermediates may leave float32's range (TF narrows
# compat.v1.losses to float32): the "huge" profile goes up to 1e30.
HUGE = 1e30


def _chance(draw, k):
    """True about once in k draws (the rare branch listed last: hypothesis
    leans towards the first elements, and a NumPy draw seeded by it leans
    towards its favourite seeds)."""
    return draw(st.sampled_from((False,) * (k - 1) + (True,)))


# ---------------------------------------------------------------- weights --

def _weight_values(draw, rng, shape, dtype, kind):
    """Weights of `shape` with values of one kind, in `dtype`."""
    shape = tuple(shape)
    if kind == "ones":
        w = np.ones(shape)
    elif kind == "all-zero":
        w = np.zeros(shape)
    elif kind == "signed":
        w = rng.uniform(-1, 2, shape)
    elif kind == "some-zero":
        w = rng.uniform(0.1, 2, shape) * (rng.random(shape) < 0.6)
    elif kind == "int":
        w = rng.integers(0, 4, shape).astype(np.float64)
    else:
        w = rng.uniform(0.1, 2, shape)
    return np.asarray(w, dtype)


WEIGHT_VALUES = ("uniform", "uniform", "signed", "some-zero", "some-zero", "all-zero", "ones",
                 "int")


def _wdtype(draw, dtype, vkind):
    if vkind == "int":
        return draw(st.sampled_from((dtype, "int32")))
    if dtype == "float64":
        return draw(st.sampled_from(("float64", "float64", "float32")))
    return dtype


def _scalar_weight(draw, rng, dtype, vkind, form):
    if form == "float":
        v = float(_weight_values(draw, rng, (), "float64", vkind if vkind != "int" else
                                 "uniform"))
        return v
    if form == "int":
        return int(draw(st.integers(0, 3)))
    return _weight_values(draw, rng, (), _wdtype(draw, dtype, vkind), vkind)


def _core_weights(draw, rng, shape, dtype, error_ok=True):
    """(weights or None for the default, label) for tf.compat.v1.losses: a
    scalar, or an array of the losses' rank whose dims are 1 or the losses'.
    With error_ok, about 1 in 16 is a shape TF rejects: [B] for rank >= 2
    losses, one more dim, or a wrong size (label starts with "bad")."""
    shape = list(shape)
    r = len(shape)
    forms = ["default", "float", "int", "0d", "row", "full", "full", "mixed"]
    form = draw(st.sampled_from(forms if r else ["default", "float", "int", "0d", "0d"]))
    vkind = draw(st.sampled_from(WEIGHT_VALUES))
    if error_ok and r and _chance(draw, 16):
        bad = draw(st.sampled_from(("lead", "extra", "size")))
        if bad == "lead" and r >= 2:
            wshape = shape[:1]
        elif bad == "size" and any(d > 1 for d in shape):
            i = next(i for i, d in enumerate(shape) if d > 1)
            wshape = list(shape)
            wshape[i] = shape[i] + 1
        else:
            wshape = [1] + shape
        return _weight_values(draw, rng, wshape, dtype, vkind), f"bad-{bad}"
    if form == "default":
        return None, "default"
    if form in ("float", "int", "0d"):
        return _scalar_weight(draw, rng, dtype, vkind, form), f"{form}:{vkind}"
    if form == "row":
        wshape = shape[:1] + [1] * (r - 1)
    elif form == "full":
        wshape = shape
    else:
        wshape = [d if draw(st.booleans()) else 1 for d in shape]
    return (_weight_values(draw, rng, wshape, _wdtype(draw, dtype, vkind), vkind),
            f"{form}{wshape}:{vkind}")


def _contrib_weights(draw, rng, shape, dtype, error_ok=True, max_k=None):
    """(weights or None, label) for tf.contrib.losses: a scalar, or the
    leading k dims of the losses' shape (k >= 1), optionally with a trailing
    size-1 dim (squeezed). error_ok: about 1 in 16 does not broadcast (a
    leading dim of another size)."""
    shape = list(shape)
    r = len(shape)
    max_k = r if max_k is None else min(r, max_k)
    forms = ["default", "float", "0d", "int"] + (["lead", "lead", "lead1"] if max_k else [])
    form = draw(st.sampled_from(forms))
    vkind = draw(st.sampled_from(WEIGHT_VALUES))
    if error_ok and r and shape[0] > 1 and _chance(draw, 16):
        return _weight_values(draw, rng, [shape[0] + 1], dtype, vkind), "bad-lead"
    if form == "default":
        return None, "default"
    if form in ("float", "int", "0d"):
        return _scalar_weight(draw, rng, dtype, vkind, form), f"{form}:{vkind}"
    k = draw(st.integers(1, max_k))
    wshape = shape[:k] + ([1] if form == "lead1" else [])
    return (_weight_values(draw, rng, wshape, _wdtype(draw, dtype, vkind), vkind),
            f"{form}{wshape}:{vkind}")


def _wkey(draw, names, namespace):
    """The weights' keyword: contrib also accepts the other generation's
    name (`weight` for `weights` and vice versa); one case in 5 uses it."""
    w = names.get("w") or "weights"
    if namespace == "contrib" and _chance(draw, 5):
        return names.get("w_alias") or ("weight" if w == "weights" else "weights")
    return w


def _reduction(draw, options):
    r = draw(st.sampled_from(("default",) + REDUCTIONS + ("enum",)))
    if r == "enum":         # the Reduction attribute name's value, e.g. SUM_OVER_NONZERO_WEIGHTS
        options["reduction"] = "weighted_sum_by_nonzero_weights"
        return "SUM_OVER_NONZERO_WEIGHTS"
    if r != "default":
        options["reduction"] = r
    return r


def _weights_error(label, namespace):
    if not label.startswith("bad"):
        return None
    if namespace == "contrib":
        return Expect(("InvalidArgumentError",), "ValueError",
                      "contrib: weights align with the leading dims; a leading dim of "
                      "another size fails in TF's multiply (InvalidArgumentError), cyloss "
                      "raises ValueError naming both shapes")
    return Expect(("ValueError",), "ValueError",
                  "weights must be scalar or have the losses' rank with dims 1 or equal "
                  "(TF: weights can not be broadcast to values)")


# ------------------------------------------------------------------ values --

REGRESSION_PROFILES = ("normal", "normal", "wide", "tiny", "ties", "equal", "big", "huge",
                       "special")


def _pair_values(rng, shape, dtype, profile):
    """labels and predictions for the regression losses."""
    base = {"equal": "normal", "special": "normal"}.get(profile, profile)
    a = real_values(rng, shape, dtype, base)
    b = real_values(rng, shape, dtype, base)
    if profile == "equal" and a.size:       # e = 0 exactly: sign(0) = 0
        m = rng.random(a.shape) < 0.5
        b[m] = a[m]
    if profile == "huge":                   # keep float64 inside float32's range
        a, b = np.clip(a, -HUGE, HUGE), np.clip(b, -HUGE, HUGE)
    if profile == "special":
        sprinkle(rng, a, 0.05)
        sprinkle(rng, b, 0.05)
    return a, b


def _maybe_shape_error(draw, shape):
    """Another shape for the second input (TF: shapes are incompatible)."""
    if not shape or not _chance(draw, 24):
        return None
    i = draw(st.integers(0, len(shape) - 1))
    other = list(shape)
    other[i] = shape[i] + 1 if shape[i] != 1 or draw(st.booleans()) else 2
    return other


SHAPE_ERROR = Expect(("ValueError",), "ValueError",
                     "the two inputs must have compatible static shapes (no broadcasting): "
                     "Shapes ... are incompatible")


@st.composite
def pair_cases(draw, mode, fn, loss, names, namespace):
    """Element-wise losses of two arrays: absolute_difference,
    mean_squared_error, huber_loss, log_loss, hinge_loss and their contrib
    forms (sum_of_squares, log). names: {"a": labels name, "b": predictions
    (or logits) name, "w": weights name or None (contrib hinge)}."""
    dtype, seed, layout = _common(draw)
    shape = _dims(draw, _rank(draw, 1 if namespace == "contrib" else 0, 4),
                  _budget(draw, mode))
    rng = np.random.default_rng(seed)
    options = {}
    if loss in ("log_loss",):
        profile = draw(st.sampled_from(("unit", "unit", "binary", "edges", "outside",
                                        "special")))
        zk = "binary" if profile in ("binary", "edges") else draw(st.sampled_from(
            ("binary", "unit")))
        z = rng.integers(0, 2, shape).astype(np.float64) if zk == "binary" else rng.random(
            shape)
        p = rng.random(shape)
        if profile == "edges":              # p exactly 0 and 1 (log(eps), log(1 + eps))
            p = np.where(rng.random(shape) < 0.4, rng.integers(0, 2, shape), p)
        elif profile == "outside":          # p > 1 + eps or < -eps: NaN
            p = rng.uniform(-0.5, 1.5, shape)
        elif profile == "special" and p.size:
            p = p.astype(np.float64)
            sprinkle(rng, p, 0.05, ("nan", "inf", "zero"))
        a, b = np.asarray(z, dtype), np.asarray(p, dtype)
        epsf = draw(st.sampled_from(("omit", "omit", 1e-7, 1e-3, 0.0, 0.25)))
        if epsf != "omit":
            options["epsilon"] = epsf
        kind = f"{profile}/eps={epsf}"
    elif loss == "hinge_loss":
        profile = draw(st.sampled_from(("normal", "normal", "wide", "ties", "kink", "huge",
                                        "special")))
        zk = draw(st.sampled_from(("binary", "binary", "half", "unit", "int")))
        if zk == "int":
            a = rng.integers(0, 2, shape).astype(draw(st.sampled_from(INT_DTYPES)))
        else:
            a = rng.integers(0, 2, shape).astype(np.float64)
            if zk == "half":
                a[rng.random(shape) < 0.3] = 0.5
            elif zk == "unit":
                a = rng.random(shape)
            a = np.asarray(a, dtype)
        b = real_values(rng, shape, dtype, {"kink": "ties", "special": "normal"}.get(
            profile, profile))
        if profile == "kink":               # t * x = 1 exactly: relu'(0) = 0
            b = np.asarray(np.where(np.asarray(a) > 0.5, 1.0, -1.0), dtype)
            b[rng.random(shape) < 0.3] *= -1
        if profile == "huge":
            b = np.clip(b, -HUGE, HUGE)
        if profile == "special":
            sprinkle(rng, b, 0.05)
        kind = f"{zk}/{profile}"
    else:
        profile = draw(st.sampled_from(REGRESSION_PROFILES))
        a, b = _pair_values(rng, shape, dtype, profile)
        kind = profile
        if loss == "huber_loss":
            delta = draw(st.sampled_from(("omit", "omit", 1.0, 0.5, 2.0, 0.1, 0.0, 1e-3,
                                          100.0)))
            if delta != "omit":
                options["delta"] = delta
            if profile == "ties" and a.size:    # |e| = delta exactly
                d = 1.0 if delta == "omit" else delta
                m = rng.random(a.shape) < 0.3
                b = np.asarray(np.where(m, a + np.where(rng.random(a.shape) < .5, d, -d), b),
                               dtype)
            kind = f"{profile}/delta={delta}"
    args = {names["a"]: a, names["b"]: b}
    expect = None
    other = _maybe_shape_error(draw, shape)
    if other is not None:
        args[names["a"]] = np.resize(np.asarray(a), other).astype(np.asarray(a).dtype)
        expect = SHAPE_ERROR
    if names.get("w"):
        if namespace == "contrib":
            w, wl = _contrib_weights(draw, rng, shape, dtype, error_ok=expect is None)
        else:
            w, wl = _core_weights(draw, rng, shape, dtype, error_ok=expect is None)
        if w is not None:
            args[_wkey(draw, names, namespace)] = w
        expect = expect or _weights_error(wl, namespace)
        kind += f"/w={wl}"
    if namespace == "core":
        kind += f"/red={_reduction(draw, options)}"
        if expect is None and _chance(draw, 20):
            options["reduction"] = draw(st.sampled_from(("mean", "sum", "auto", "NONE",
                                                         "sum_over_batch_size")))
            expect = Expect(("ValueError",), "ValueError", "Invalid Reduction Key")
            kind += "/bad-reduction"
    return Case(fn, args, options, dtype=dtype, kind=kind, seed=seed, layout=layout,
                expect=expect)


@st.composite
def weighted_loss_cases(draw, mode, fn, namespace):
    """compute_weighted_loss: given losses (any rank; contrib: rank >= 1)."""
    dtype, seed, layout = _common(draw)
    shape = _dims(draw, _rank(draw, 1 if namespace == "contrib" else 0, 4),
                  _budget(draw, mode))
    rng = np.random.default_rng(seed)
    profile = draw(st.sampled_from(("normal", "normal", "wide", "tiny", "ties", "big", "huge",
                                    "positive", "special")))
    if profile == "positive":
        losses = np.asarray(rng.exponential(1.0, shape), dtype)
    else:
        losses = real_values(rng, shape, dtype, "normal" if profile == "special" else profile)
        if profile == "huge":
            losses = np.clip(losses, -HUGE, HUGE)
        if profile == "special":
            sprinkle(rng, losses, 0.05)
    args = {"losses": losses}
    options = {}
    if namespace == "contrib":
        w, wl = _contrib_weights(draw, rng, shape, dtype)
    else:
        w, wl = _core_weights(draw, rng, shape, dtype)
    if w is not None:
        args[_wkey(draw, {}, namespace)] = w
    expect = _weights_error(wl, namespace)
    kind = f"{profile}/w={wl}"
    if namespace == "core":
        kind += f"/red={_reduction(draw, options)}"
    return Case(fn, args, options, dtype=dtype, kind=kind, seed=seed, layout=layout,
                expect=expect)


@st.composite
def cosine_cases(draw, mode, fn, names, namespace):
    """cosine_distance: unit or raw vectors along `axis` (or its `dim`
    alias, negative too); core weights against the keepdims loss shape,
    contrib weights scalar or [B] / [B,1] (axis != 0)."""
    dtype, seed, layout = _common(draw)
    rank = _rank(draw, 1, 4)
    shape = _dims(draw, rank, _budget(draw, mode))
    ax = draw(st.integers(-rank, rank - 1))
    options = {draw(st.sampled_from(("axis", "axis", "dim"))): ax}
    rng = np.random.default_rng(seed)
    profile = draw(st.sampled_from(("unit", "unit", "normal", "wide", "ties", "huge",
                                    "special")))
    base = {"unit": "normal", "special": "normal"}.get(profile, profile)
    a = real_values(rng, shape, dtype, base)
    b = real_values(rng, shape, dtype, base)
    if profile == "unit":
        for v in (a, b):
            nrm = np.sqrt(np.sum(np.asarray(v, np.float64) ** 2, axis=ax, keepdims=True))
            v[...] = np.divide(v, nrm, out=np.zeros(v.shape), where=nrm > 0)
    if profile == "huge":
        # products up to 1e34: a float32 sum of up to 4e4 of them stays finite,
        # so no partial sum overflows in an order-dependent way
        a, b = np.clip(a, -1e17, 1e17), np.clip(b, -1e17, 1e17)
    if profile == "special":
        sprinkle(rng, a, 0.05)
    lshape = list(shape)
    lshape[ax % rank] = 1
    args = {names["b"]: b, names["a"]: a}
    if namespace == "contrib":
        max_k = 1 if ax % rank != 0 and rank >= 2 else 0
        w, wl = _contrib_weights(draw, rng, lshape, dtype, error_ok=False, max_k=max_k)
    else:
        w, wl = _core_weights(draw, rng, lshape, dtype)
    if w is not None:
        args[_wkey(draw, names, namespace)] = w
    expect = _weights_error(wl, namespace)
    kind = f"{profile}/{list(options)[0]}/w={wl}"
    if namespace == "core":
        kind += f"/red={_reduction(draw, options)}"
    return Case(fn, args, options, dtype=dtype, kind=kind, seed=seed, layout=layout,
                expect=expect)


@st.composite
def pairwise_cases(draw, mode, fn, names, namespace):
    """mean_pairwise_squared_error / sum_of_pairwise_squares: axis 0 is the
    example axis; pairs are taken within each example. Core weights: scalar,
    [B,1,..], full or mixed; contrib: scalar or [B] (TF 1.x pairwise neither
    squeezed nor aligned other shapes sensibly)."""
    dtype, seed, layout = _common(draw)
    shape = _dims(draw, _rank(draw, 1, 4), _budget(draw, mode))
    rng = np.random.default_rng(seed)
    profile = draw(st.sampled_from(("normal", "normal", "wide", "tiny", "ties", "equal", "big",
                                    "huge", "special")))
    a, b = _pair_values(rng, shape, dtype, profile)
    args = {names["b"]: b, names["a"]: a}
    if namespace == "contrib":
        w, wl = _contrib_weights(draw, rng, shape, dtype, error_ok=False, max_k=1)
        if wl.startswith("lead1"):          # not part of the contrib pairwise contract
            w, wl = w.reshape(w.shape[:1]), wl.replace("lead1", "lead", 1)
    else:
        w, wl = _core_weights(draw, rng, shape, dtype)
    expect = _weights_error(wl, namespace)
    if w is not None:
        args[_wkey(draw, names, namespace)] = w
    return Case(fn, args, {}, dtype=dtype, kind=f"{profile}/w={wl}", seed=seed,
                layout=layout, expect=expect)


SMOOTHING = ("omit", "omit", 0, 0.1, 0.2, 0.5, 1.0, -0.1)


@st.composite
def sigmoid_cases(draw, mode, fn, names, namespace):
    """sigmoid_cross_entropy: labels in [0,1], binary, outside [0,1] or
    integer (cast to the logits' dtype), label smoothing."""
    dtype, seed, layout = _common(draw)
    shape = _dims(draw, _rank(draw, 1 if namespace == "contrib" else 0, 4),
                  _budget(draw, mode))
    rng = np.random.default_rng(seed)
    profile = draw(st.sampled_from(("normal", "normal", "wide", "tiny", "kink", "big",
                                    "huge", "special")))
    x = real_values(rng, shape, dtype, {"kink": "ties", "special": "normal"}.get(profile,
                                                                                 profile))
    if profile == "huge":
        x = np.clip(x, -HUGE, HUGE)
    if profile == "special":
        sprinkle(rng, x, 0.05)
    zk = draw(st.sampled_from(("unit", "unit", "binary", "outside", "int")))
    if zk == "int":
        z = rng.integers(0, 2, shape).astype(draw(st.sampled_from(INT_DTYPES)))
    elif zk == "binary":
        z = rng.integers(0, 2, shape).astype(dtype)
    elif zk == "outside":
        z = rng.uniform(-1, 2, shape).astype(dtype)
    else:
        z = rng.random(shape).astype(dtype)
    args = {names["b"]: x, names["a"]: z}
    options = {}
    ls = draw(st.sampled_from(SMOOTHING))
    if ls != "omit":
        options["label_smoothing"] = ls
    expect = None
    other = _maybe_shape_error(draw, shape)
    if other is not None:
        args[names["a"]] = np.resize(z, other).astype(z.dtype)
        expect = SHAPE_ERROR
    if namespace == "contrib":
        w, wl = _contrib_weights(draw, rng, shape, dtype, error_ok=expect is None)
    else:
        w, wl = _core_weights(draw, rng, shape, dtype, error_ok=expect is None)
    if w is not None:
        args[_wkey(draw, names, namespace)] = w
    expect = expect or _weights_error(wl, namespace)
    kind = f"{zk}/{profile}/ls={ls}/w={wl}"
    if namespace == "core":
        kind += f"/red={_reduction(draw, options)}"
    return Case(fn, args, options, dtype=dtype, kind=kind, seed=seed, layout=layout,
                expect=expect)


def _dense_labels(rng, shape, kind, dtype):
    c = shape[-1]
    if kind == "onehot" or kind == "int":
        y = np.zeros(shape)
        if c and y.size:
            idx = rng.integers(0, c, shape[:-1])
            np.put_along_axis(y, np.asarray(idx)[..., None], 1.0, -1)
        return y.astype(dtype)
    if kind == "scaled":
        return (rng.random(shape) * 2).astype(dtype)
    y = rng.random(shape) ** 3
    s = y.sum(-1, keepdims=True)
    y = np.divide(y, s, out=np.full_like(y, 1.0 / max(c, 1)), where=s > 0)
    return y.astype(dtype)


@st.composite
def softmax_cases(draw, mode, fn, names, namespace):
    """softmax_cross_entropy: class axis last (core: any rank >= 1; contrib:
    [B, C]); one-hot, distribution, unnormalized or integer labels; label
    smoothing over the last axis."""
    dtype, seed, layout = _common(draw)
    rank = 2 if namespace == "contrib" else _rank(draw, 1, 3)
    c = _classes(draw, mode)
    lead = _dims(draw, rank - 1, max(1, _budget(draw, mode) // c))
    rng = np.random.default_rng(seed)
    profile = draw(st.sampled_from(("normal", "normal", "wide", "tiny", "ties", "big", "huge",
                                    "special")))
    x = logits_rows(rng, lead + [c], dtype, profile)
    if profile == "huge":
        x = np.clip(x, -HUGE, HUGE)
    lk = draw(st.sampled_from(("onehot", "onehot", "dist", "scaled", "int")))
    ldt = draw(st.sampled_from(INT_DTYPES)) if lk == "int" else dtype
    y = _dense_labels(rng, lead + [c], lk, ldt)
    args = {names["b"]: x, names["a"]: y}
    options = {}
    ls = draw(st.sampled_from(SMOOTHING))
    if ls != "omit":
        options["label_smoothing"] = ls
    expect = None
    if c > 1 and _chance(draw, 24):
        args[names["a"]] = y[..., :-1]
        expect = SHAPE_ERROR
    if namespace == "contrib":
        w, wl = _contrib_weights(draw, rng, lead, dtype, error_ok=expect is None)
    else:
        w, wl = _core_weights(draw, rng, lead, dtype, error_ok=expect is None)
        if wl.startswith("bad-extra") and lead:     # [B,1]: the classic mistake
            w = w.reshape(lead + [1]) if w.size == int(np.prod(lead)) else w
    if w is not None:
        args[_wkey(draw, names, namespace)] = w
    expect = expect or _weights_error(wl, namespace)
    kind = f"{lk}/{profile}/ls={ls}/w={wl}"
    if namespace == "core":
        kind += f"/red={_reduction(draw, options)}"
    return Case(fn, args, options, dtype=dtype, kind=kind, seed=seed, layout=layout,
                expect=expect)


def _sparse_weights_error(wshape, lead):
    """TF's sparse_softmax_cross_entropy first squeezes a last weights dim of
    1 when the weights have one more dim than the (squeezed) labels -- and
    fails in Squeeze (InvalidArgumentError) when that dim is not 1 -- then
    applies the rank rule. (label, Expect or None when the shape is valid)."""
    wshape, lead = list(wshape), list(lead)
    if len(wshape) == len(lead) + 1:
        if wshape[-1] != 1:
            return "bad-squeeze", Expect(
                ("InvalidArgumentError",), "ValueError",
                "weights of one more dim than the labels must end in 1 (TF: Squeeze fails; "
                "cyloss: InvalidArgumentError, a ValueError)")
        wshape = wshape[:-1]
    if not wshape or (len(wshape) == len(lead) and all(
            w in (1, d) for w, d in zip(wshape, lead))):
        return "squeezed-valid", None
    return "bad", Expect(("ValueError",), "ValueError", "weights can not be broadcast to values")


@st.composite
def sparse_cases(draw, mode, fn, names, namespace):
    """sparse_softmax_cross_entropy: labels [..] or [.., 1] (squeezed),
    weights [..] or [.., 1] (squeezed after the labels); contrib: logits
    [B, C], labels [B] or [B, 1]. Some labels out of range."""
    dtype, seed, layout = _common(draw)
    rank = 2 if namespace == "contrib" else _rank(draw, 1, 3)
    c = _classes(draw, mode)
    lead = _dims(draw, rank - 1, max(1, _budget(draw, mode) // c))
    rng = np.random.default_rng(seed)
    profile = draw(st.sampled_from(("normal", "normal", "wide", "tiny", "ties", "big", "huge",
                                    "special")))
    x = logits_rows(rng, lead + [c], dtype, profile)
    if profile == "huge":
        x = np.clip(x, -HUGE, HUGE)
    ldt = draw(st.sampled_from(INT_DTYPES))
    labels = np.asarray(rng.integers(0, c, lead), ldt)
    expect = None
    if labels.size and _chance(draw, 16):
        bad = draw(st.sampled_from((-1, c, c + 5)))
        labels.reshape(-1)[int(rng.integers(labels.size))] = bad
        expect = Expect(("InvalidArgumentError",), "InvalidArgumentError",
                        "label outside [0, num_classes)", mention=(str(bad),))
    lform = draw(st.sampled_from(("plain", "plain", "trailing1")))
    if lform == "trailing1" and lead:
        labels = labels.reshape(lead + [1])
    args = {names["b"]: x, names["a"]: labels}
    if namespace == "contrib":
        w, wl = _contrib_weights(draw, rng, lead, dtype, error_ok=expect is None, max_k=1)
    else:
        w, wl = _core_weights(draw, rng, lead, dtype, error_ok=expect is None)
        if w is not None and lform == "trailing1" and wl.startswith(("row", "full")) \
                and draw(st.booleans()):
            w = np.asarray(w).reshape(np.shape(w) + (1,))     # squeezed after the labels
            wl += "+[1]"
        if wl.startswith("bad"):
            wl, bad = _sparse_weights_error(np.shape(w), lead)
            expect = expect or bad
    if w is not None:
        args[_wkey(draw, names, namespace)] = w
    expect = expect or _weights_error(wl, namespace)
    options = {}
    kind = f"{lform}/{profile}/w={wl}"
    if namespace == "core":
        kind += f"/red={_reduction(draw, options)}"
    return Case(fn, args, options, dtype=dtype, kind=kind, seed=seed, layout=layout,
                expect=expect)
