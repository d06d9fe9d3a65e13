"""Conformance entries for `cyloss.losses` (tf.compat.v1.losses) and
`cyloss.contrib.losses` (TF 1.x tf.contrib.losses), TF_SEMANTICS.md sec. 2.

Oracles
* core: the TF 2.21 function itself, eagerly, except
  `mean_pairwise_squared_error`, which runs inside `tf.function` (graph
  semantics, sec. 2.4; error cases call it eagerly, where its static shape
  checks raise the same ValueError without depending on tracing history);
* contrib: tf.contrib is gone from TF 2.x, so each function is composed here
  from TF 2.21 primitives exactly as sec. 2.6 writes it (float32 arithmetic,
  leading-dim weights, "sum / number present", pairwise with n); gradients
  come from tf.GradientTape over that composition;
* loss collections (add_loss, get_*): scenarios (a sequence of losses,
  add_loss calls and queries) run in a TF 1.x graph (`tf.Graph().as_default()`,
  as sec. 2.5 was verified) and, for cyloss, inside `cyloss.losses.collection()`;
  every query's members, order, values, dtypes and raised errors must agree.

Precision: TF computes these losses in float32 even for float64 inputs;
cyloss computes float64 in float64 and returns float64 (API.md "never
narrows"). Every entry therefore carries a Narrowing: on float64 cases the
value and the gradients (TF's float64 gradients are computed from float32
values, sec. 2.2) are measured in units of float32's eps, and the scale
functions below add the rounding of the inputs to float32 (`nar` terms), so
the tolerances keep their k. float32 cases compare at float32's eps as usual.

Scales: each per-element loss has a model (`_m_*`) giving the loss L, the
magnitude T of the terms it is computed from (its error is k * eps * T) and,
per differentiated input, the local derivative and the magnitude of its
terms; `_core_reduce` / `_contrib_reduce` carry them through the weighting
and reduction (sums of n terms get acc(n), MEAN's weight sum adds the
relative error of a cancelling denominator).
"""
import numpy as np
from hypothesis import strategies as st

from . import oracle
from . import samples_losses as sl
from .compare import compare, fin
from .registry import (NAMESPACES, NOT_CHECKED, Entry, Narrowing, Tol, Weak, _add, acc, err,
                       ex, f32, f64, reduce_abs_to, row_stats)
from .samples import Case

try:        # the namespaces are written in parallel with these entries
    import cyloss.losses as cy_losses
except ImportError:         # pragma: no cover
    cy_losses = None
try:
    import cyloss.contrib.losses as cy_contrib
except ImportError:         # pragma: no cover
    cy_contrib = None

if cy_losses is not None:
    NAMESPACES["cyloss.losses"] = "losses"
if cy_contrib is not None:
    NAMESPACES["cyloss.contrib.losses"] = "contrib.losses"

NOT_CHECKED["losses.collection"] = (
    "cyloss' own context manager (the stand-in for a TF 1.x graph, API.md 'Loss "
    "collections'); no TF counterpart. It is exercised by every collection scenario "
    "(losses.add_loss, losses.get_*) and by tests/test_collections.py")

EPS32 = float(np.finfo(np.float32).eps)
SBNZ = "weighted_sum_by_nonzero_weights"
MEAN = "weighted_mean"


def _cy(module, name):
    """The public cyloss object, or a stand-in that fails every case (the
    module is not written yet)."""
    obj = getattr(module, name, None) if module is not None else None
    if obj is not None:
        return obj

    def missing(*a, **k):
        raise NotImplementedError(f"cyloss has no {name} yet")
    missing.__name__ = name
    return missing


def _ovf(case):
    """Narrowing.overflows: float64 inputs whose products/squares can leave
    float32's range (|v| >= 1e15: a product of two is 1e30, a sum of up to
    4e5 of them approaches FMAX; the 'huge' profile goes to 1e30)."""
    for v in case.args.values():
        a = np.asarray(v)
        if a.dtype.kind == "f" and a.size:
            m = np.abs(a[np.isfinite(a)])
            if m.size and m.max() >= 1e15:
                return True
    return False


# every narrowed entry (tf.compat.v1.losses and tf.contrib.losses compute
# float64 data in float32) defaults to _ovf: float64 inputs beyond float32's
# range overflow in TF, not in cyloss
def narrowing(outputs, overflows=None):
    return Narrowing(
        "float32", tuple(outputs),
        "TF casts to float32 (group A: inputs and result; cross-entropies: the weighted "
        "reduction) and its float64 gradients are computed from float32 values; cyloss "
        "computes and returns float64 (API.md 'never narrows')", overflows)


def nar(case):
    """1.0 on a narrowed case (float64 data, TF computes in float32), else 0."""
    return 1.0 if case.dtype == "float64" else 0.0


def _arr(v):
    return fin(np.asarray(v, np.float64))


def _finite_scale(s):
    """Scales where a term is inf/NaN (a division by an exact zero, an input
    at +-inf) carry no bound: the outputs there are non-finite and compared
    exactly."""
    s = np.asarray(s, np.float64)
    return np.where(np.isfinite(s), s, np.inf)


def _flip(mask):
    """A branch (sign, relu kink) that float32 rounding may decide otherwise:
    the derivative may differ by its whole size there (2 * |local|)."""
    return np.where(mask, 2.0 / EPS32, 0.0)


# ------------------------------------------------------ element-wise models --
# Each returns (L, T, {input name: (|local derivative|, its term magnitude)}).

def _m_absdiff(l, p, n):
    e = p - l
    T = np.abs(e) + n * (np.abs(p) + np.abs(l) + np.abs(e))
    amb = (n > 0) & (np.abs(e) <= 4 * EPS32 * (np.abs(p) + np.abs(l)))
    one = np.ones_like(e)
    return np.abs(e), T, {"p": (one, _flip(amb)), "l": (one, _flip(amb))}


def _m_sqdiff(l, p, n):
    e = p - l
    T = 3 * e * e + n * (2 * np.abs(e) * (np.abs(p) + np.abs(l)) + e * e)
    loc = 2 * np.abs(e)
    Tl = 2 * np.abs(e) + n * 2 * (np.abs(p) + np.abs(l) + np.abs(e))
    return e * e, T, {"p": (loc, Tl), "l": (loc, Tl)}


def _m_huber(l, p, n, delta, inf_e=False):
    """inf_e: where the raw e = p - l is +-inf (l, p here are fin()'s, an
    infinite input read as 0): there q = min(|e|, delta) is delta, and the
    gradients delta u sign(e) are finite (the value is inf, compared exactly)."""
    e = p - l
    a = np.abs(e)
    q = np.minimum(a, delta)
    L = 0.5 * q * q + delta * (a - q)
    T = q * q + 2 * delta * (a + q) + n * ((q + delta) * (np.abs(p) + np.abs(l)) + L
                                          + delta * (1 + a))
    # (an infinite e has a certain sign)
    amb = (n > 0) & (a <= 4 * EPS32 * (np.abs(p) + np.abs(l))) & ~np.asarray(inf_e)
    qg = np.where(inf_e, delta, q)      # the local derivative's magnitude
    # TF's gradient sums the paths of q^2/2 (q), of delta*|e| (+delta) and of
    # -delta*q (-delta): its rounding is relative to delta, not to q
    Tl = qg + 2 * delta + n * (np.abs(p) + np.abs(l) + delta) + _flip(amb) * qg
    return L, T, {"p": (qg, Tl), "l": (qg, Tl)}


def _inf_diff(a_name, b_name):
    """Where b - a of the raw inputs is +-inf (one input infinite, or both
    with opposite signs), for models whose local derivative is finite there."""
    def f(case):
        with np.errstate(invalid="ignore"):
            return np.isinf(np.asarray(case.args[b_name], np.float64)
                            - np.asarray(case.args[a_name], np.float64))
    return f


def _m_log(z, p, n, eps):
    with np.errstate(all="ignore"):
        a, b = p + eps, 1 - p + eps
        lp, lq = np.log(np.abs(a)), np.log(np.abs(b))
        ra, rb = (1 + np.abs(p)) / np.abs(a), (1 + np.abs(p)) / np.abs(b)
        L = -z * lp - (1 - z) * lq
        T = ((1 + np.abs(z)) * (np.abs(lp) + np.abs(lq) + 2) + np.abs(z) * ra
             + np.abs(1 - z) * rb + n * np.abs(L))
        dp = np.abs(z) / np.abs(a) + np.abs(1 - z) / np.abs(b)
        Tp = (np.abs(z) / np.abs(a) * (2 + ra) + np.abs(1 - z) / np.abs(b) * (2 + rb)
              + (1 + np.abs(z)) * (1 / np.abs(a) + 1 / np.abs(b)))
        dz = np.abs(lp) + np.abs(lq)
        Tz = dz + 2 + ra + rb
    return L, _finite_scale(T), {"p": (_finite_scale(dp), _finite_scale(Tp)),
                                 "l": (_finite_scale(dz), _finite_scale(Tz))}


def _m_hinge(z, x, n):
    t = 2 * z - 1
    m = 1 - t * x
    T0 = 1 + np.abs(t * x) + np.abs(x) * (2 * np.abs(z) + 1)
    # (4 eps T0 distributed: T0 overflows float64 for |x| near its max)
    amb = (n > 0) & (np.abs(m) <= 4 * EPS32 + 4 * EPS32 * np.abs(t * x)
                     + (4 * EPS32 * np.abs(x)) * (2 * np.abs(z) + 1))
    T = T0 + n * (np.abs(t * x) + np.abs(x) * (2 * np.abs(z)) + np.abs(m))
    # where the relu clamps beyond any rounding (m < 0, not ambiguous), the
    # loss is exactly 0 in TF and cyloss: its terms add no error
    T = np.where((m < 0) & ~amb, 0.0, T)
    return (np.maximum(m, 0), T,
            {"p": (np.abs(t), 2 * np.abs(z) + 1 + _flip(amb) * np.abs(t)),
             "l": (2 * np.abs(x), 2 * np.abs(x) * (1 + _flip(amb)))})


def _m_sigmoid(z, x, n, ls):
    zs = z * (1 - ls) + 0.5 * ls if ls > 0 else z
    with np.errstate(all="ignore"):
        e = np.exp(-np.abs(x))
        lg = np.log1p(e)
    L = np.maximum(x, 0) - x * zs + lg
    # z reaches the loss only through z (1 - ls): its terms are |z| (1 + ls)
    # (the product's rounding and that of ls in the dtype, which TF and cyloss
    # apply at different places), except at ls = 1, where both form 1 - ls as
    # exactly 0 (1 is exact in every dtype) and z (1 - ls) is exactly 0 for any
    # finite z, however large: z then adds no error (|x| |z| would overflow)
    cz = 0.0 if ls == 1 else 1 + ls
    # (|x| |z| first: at x = 0 a huge z adds nothing, where |z| (1 + ls)
    # alone would overflow to inf and 0 * inf make the scale NaN; nothing at
    # all at ls = 1, where |x| |z| itself may overflow)
    xz = np.abs(x) * np.abs(z) * cz if cz else 0.0
    T = (2 * (np.maximum(x, 0) + np.abs(x * zs) + lg)
         + xz + np.abs(x) * ls + n * np.abs(L))
    dx = (x >= 0) + np.abs(zs) + e / (1 + e)
    dz = np.abs(x) * abs(1 - ls if ls > 0 else 1)
    return L, T, {"p": (dx, dx + np.abs(z) * ls), "l": (dz, np.abs(x) * (1 + ls))}


# ---------------------------------------------------------- core reduction --

def _ftz32(w):
    """Weights as TF's reductions use them: float32, denormals flushed to
    zero (a |w| below float32's smallest normal is 0: not present, adds 0 to
    MEAN's sum). NaN and inf are kept."""
    w = np.asarray(w, np.float64)
    return np.where(np.abs(w) < np.finfo(np.float32).tiny, 0.0, w)


def _weights64(case, wname, shape=None):
    """The weights as float64 as TF's reductions see them (_ftz32),
    non-finite entries kept (see _core_reduce)."""
    w = case.args.get(wname, 1.0)
    return _ftz32(w)


def _core_reduce(case, L, T, dy, wname="weights", w=None, reduction=None):
    """Scales through tf.compat.v1.losses.compute_weighted_loss (sec. 2.2):
    returns (value scale, G = |upstream of each loss element|, GT = the
    magnitude of its error terms, weights-gradient scale or None).
    `w`: the weights as float64 with their non-finite entries: the
    denominator D counts an inf/NaN weight as present (SUM_BY_NONZERO) and
    sums it (MEAN) as TF does; the magnitudes use fin(w) (an inf/NaN weight
    makes its own outputs non-finite, compared exactly, and d/dweights of
    w * loss does not depend on w)."""
    red = case.options.get("reduction", SBNZ) if reduction is None else reduction
    wraw = _weights64(case, wname) if w is None else _ftz32(w)
    w = fin(wraw)
    shape = L.shape
    wb = np.broadcast_to(w, shape)
    wrb = np.broadcast_to(wraw, shape)
    aw, aL = np.abs(wb), np.abs(L)
    d = np.abs(np.asarray(dy, np.float64))
    n = L.size
    a = acc(n)
    P = aL * aw
    if red == "none":
        G = aw * d
        wpe = (aL + T) * d
        ws, m = reduce_abs_to(wpe, w.shape)
        return aw * T + 2 * P, G, 3 * G, ws * (1 + acc(m))
    if red == "weighted_sum":
        D = 1.0
    elif red == "weighted_sum_over_batch_size":
        D = float(n)
    elif red == MEAN:
        D = float(np.sum(wrb))
    else:
        D = float(np.count_nonzero(wrb))
    if D == 0 or n == 0:            # div_no_nan: exact zeros on both sides
        z = np.zeros(shape)
        return np.zeros(()), z, z, np.zeros(w.shape)
    dd = abs(D)
    # the weights divided by |D| before any product or sum: with a weight near
    # float64's max (MEAN: D is about that weight), w * T, sum(|w|) or D^2
    # overflow where the terms relative to D are the true, finite, magnitudes
    wn = aw / dd
    Sn = float(np.sum(L * (wb / dd)))                  # S / |D|, signed
    rel = a * float(np.sum(wn)) if red == MEAN else 0.0
    value = np.sum(wn * T) + np.sum(aL * wn) * (2 + a) + abs(Sn) * rel
    G = wn * d
    GT = G * (3 + rel)
    wpe = (aL + T) * d / dd
    if red == MEAN:
        wpe = wpe + d * (abs(Sn) / dd * (1 + a + rel) + aL / dd * rel)
    ws, m = reduce_abs_to(wpe, w.shape)
    return np.asarray(value), G, GT, ws * (1 + acc(m))


def _chain(loc, G, GT):
    """Scale of local derivative x upstream: |loc| * GT + T_loc * G."""
    mag, tl = loc
    return _finite_scale(mag * GT + tl * G)


def _scale_pair(model, a_name, b_name, core=True, **kw):
    """scale function for an element-wise loss of (a_name: labels, b_name:
    predictions/logits) with weights and a reduction."""
    def scale(case, ref, dy):
        l = _arr(case.args[a_name])
        p = _arr(case.args[b_name])
        n = nar(case)
        L, T, locs = model(l, p, n, **{k: f(case) for k, f in kw.items()})
        if core:
            value, G, GT, ws = _core_reduce(case, L, T, dy)
        else:
            value, G, GT, ws = _contrib_reduce(case, L, T, dy)
        out = {"value": value, b_name: _chain(locs["p"], G, GT),
               a_name: _chain(locs["l"], G, GT)}
        if ws is not None:
            out[_wname(case)] = ws
        return out
    return scale


def _wname(case):
    return "weight" if "weight" in case.args else "weights"


def _opt(name, default):
    return lambda case: float(case.options.get(name, default))


def _ls(case):
    ls = float(case.options.get("label_smoothing", 0))
    return ls if ls > 0 else 0.0


# --------------------------------------------------------------- oracles ---

def _v1(name):
    def call(tf, a, o):
        return getattr(tf.compat.v1.losses, name)(**a, **o)
    return call


_GRAPH_FN = {}


def _tf_pairwise(tf, a, o):
    """mean_pairwise_squared_error in graph mode (sec. 2.4): one tf.function
    whose traces relax to unknown dims (one trace per rank and dtype)."""
    if not any(tf.is_tensor(v) for v in a.values()):     # error case: plain eager call
        return tf.compat.v1.losses.mean_pairwise_squared_error(**a, **o)
    if "fn" not in _GRAPH_FN:
        tf.get_logger().setLevel("ERROR")       # (retracing notices: one trace per rank)
        _GRAPH_FN["fn"] = tf.function(
            lambda labels, predictions, weights: tf.compat.v1.losses.mean_pairwise_squared_error(
                labels, predictions, weights), reduce_retracing=True)
    w = a.get("weights", 1.0)
    return _GRAPH_FN["fn"](a["labels"], a["predictions"], tf.convert_to_tensor(w))


# --------------------------------------------------------------- tolerances --

VALUE_TOL = Tol(8, "per-element loss (a few roundings; Eigen log/exp ~2 ulp) judged against "
                   "its terms, times the weights, and a sum of n terms in another order "
                   "(acc(n)) divided by the denominator (MEAN: a signed weight sum, whose "
                   "relative error counts)")
WEIGHTS_TOL = Tol(8, "the unweighted losses times dy / D (MEAN: minus S dy / D^2), summed over "
                     "the axes the weights broadcast along (acc(m))")


def _grad_tol(what):
    return Tol(8, f"{what} times the upstream w dy / D of the reduction (one rounding each, "
                  f"and the relative error of D)")


# ----------------------------------------------------------- core entries --

def _core_entry(name, wrt, cases, scale, tol, examples, errors, narrowed=None, notes="",
                overflows=_ovf, convert_like=None, budget=None):
    fn = _cy(cy_losses, name)
    return _add(Entry(
        key=f"losses.{name}", fn=fn,
        tf_fn=lambda tf, _n=name: getattr(tf.compat.v1.losses, _n),
        call_tf=_tf_pairwise if name == "mean_pairwise_squared_error" else _v1(name),
        wrt=wrt, cases=cases, scale=scale, tol=tol, examples=examples, errors=errors,
        convert={"weights": Weak(convert_like)} if convert_like else {},
        narrowing=narrowing(narrowed or ("value",) + tuple(wrt), overflows),
        budget=budget or {"quick": 120, "full": 1000}, notes=notes))


def _pair_strategy(loss, names, namespace):
    def cases(mode, key):
        return sl.pair_cases(mode, key, loss, names, namespace)
    return cases


CORE_NAMES = {"a": "labels", "b": "predictions", "w": "weights"}
X = f32([[0, 1, 2], [3, 4, 5]])
P = f32([[0.5, 1, 0], [3, 6, 4]])
Z2, P2 = f32([[0, 1], [1, 0]]), f32([[.1, .9], [.6, .3]])


def _reduction_examples(args, label, dtype=None):
    return [ex(f"{label}, reduction={r}", args, {"reduction": r}, dtype=dtype)
            for r in sl.REDUCTIONS]


def _core_errors(a_name, b_name, extra=()):
    good = np.zeros((2, 3), np.float32)
    return [
        err("weights [B] for [B,D] losses", {a_name: good, b_name: good,
                                             "weights": np.ones(2, np.float32)},
            "ValueError", "ValueError", "weights need the losses' rank: use [B,1]"),
        err("weights of higher rank", {a_name: good, b_name: good,
                                       "weights": np.ones((1, 2, 3), np.float32)},
            "ValueError", "ValueError", "weights can not be broadcast to values"),
        err("weights dim neither 1 nor equal", {a_name: good, b_name: good,
                                                "weights": np.ones((2, 2), np.float32)},
            "ValueError", "ValueError", "weights can not be broadcast to values"),
        err("incompatible shapes (no broadcasting)", {a_name: np.zeros((1, 3), np.float32),
                                                      b_name: good},
            "ValueError", "ValueError", "Shapes (1, 3) and (2, 3) are incompatible"),
        err("invalid Reduction key 'mean' (a Keras string)", {a_name: good, b_name: good},
            "ValueError", "ValueError", "Invalid Reduction Key", {"reduction": "mean"}),
        err(f"{a_name} None", {a_name: None, b_name: good}, "ValueError", "ValueError",
            "must not be None"),
    ] + list(extra)


_PAIR_TOL = {"value": VALUE_TOL, "weights": WEIGHTS_TOL}

_core_entry(
    "absolute_difference", ("labels", "predictions", "weights"),
    _pair_strategy("absolute_difference", CORE_NAMES, "core"),
    _scale_pair(_m_absdiff, "labels", "predictions"),
    dict(_PAIR_TOL, predictions=_grad_tol("sign(e) (0 at e = 0; float64 cases: float32 "
                                          "rounding may flip the sign where |e| is ~eps "
                                          "of the inputs)"),
         labels=_grad_tol("-sign(e)")),
    [ex("TF_SEMANTICS sec. 2.3 example", {"labels": X, "predictions": P}),
     ex("float64: computed in float64, TF rounds through float32",
        {"labels": f64([[0, 1, 2], [3, 4, 5]]), "predictions": f64([[.5, 1, 0], [3, 6, 4]]),
         "weights": f64([[1], [0.5]])}),
     ex("e = 0 exactly (gradient 0)", {"labels": f32([1, 2, 3]), "predictions": f32([1, 0, 3])}),
     ex("Python float weights", {"labels": X, "predictions": P, "weights": 0.5}),
     ex("all-zero weights -> 0 for every gradient", {"labels": X, "predictions": P,
                                                     "weights": f32([[0], [0]])}),
     ex("full weights with zeros, MEAN", {"labels": X, "predictions": P,
                                          "weights": f32([[1, 0, 2], [0, 0, 3]])},
        {"reduction": MEAN})],
    _core_errors("labels", "predictions"), convert_like="predictions")

_core_entry(
    "mean_squared_error", ("labels", "predictions", "weights"),
    _pair_strategy("mean_squared_error", CORE_NAMES, "core"),
    _scale_pair(_m_sqdiff, "labels", "predictions"),
    dict(_PAIR_TOL, predictions=_grad_tol("2e (float64: e carries the float32 rounding of "
                                          "both inputs)"),
         labels=_grad_tol("-2e")),
    [ex("TF_SEMANTICS sec. 2.3 example", {"labels": X, "predictions": P}),
     ex("float64 [1e8+1]*3 vs 0, SUM (TF: 3e8 in float32)",
        {"labels": f64([0, 0, 0]), "predictions": f64([1e4, 1e4, 1e4]) + 5e-5},
        {"reduction": "weighted_sum"}),
     ex("float32 squares overflow -> inf", {"labels": f32([0, 1]), "predictions": f32([2e19, 1])}),
     ex("float64 squares beyond float32 (TF: inf, cyloss: finite)",
        {"labels": f64([0, 1]), "predictions": f64([2e19, 1])}),
     ex("int32 weights [B,1]", {"labels": X, "predictions": P,
                                "weights": np.array([[2], [1]], np.int32)}),
     ex("rank 0", {"labels": np.float32(1.5), "predictions": np.float32(-0.25),
                   "weights": np.float32(3)})],
    _core_errors("labels", "predictions"), convert_like="predictions", overflows=_ovf)

_core_entry(
    "huber_loss", ("labels", "predictions", "weights"),
    _pair_strategy("huber_loss", CORE_NAMES, "core"),
    _scale_pair(_m_huber, "labels", "predictions", delta=_opt("delta", 1.0),
                inf_e=_inf_diff("labels", "predictions")),
    dict(_PAIR_TOL, predictions=_grad_tol("sign(e) min(|e|, delta) (delta at the tie "
                                          "|e| = delta)"),
         labels=_grad_tol("-sign(e) min(|e|, delta)")),
    [ex("TF_SEMANTICS sec. 2.3 example", {"labels": X, "predictions": P}),
     ex("delta = 0.5", {"labels": X, "predictions": P}, {"delta": 0.5}),
     ex("delta = 0: all-zero losses", {"labels": X, "predictions": P}, {"delta": 0.0}),
     ex("ties |e| = delta", {"labels": f64([0, 0, 0, 0]), "predictions": f64([1, -1, .5, 2])}),
     ex("delta 0.1 (not a float32 number), float64", {"labels": f64([0, 0]),
                                                     "predictions": f64([0.3, 0.05])},
        {"delta": 0.1})],
    _core_errors("labels", "predictions"), convert_like="predictions")

_core_entry(
    "log_loss", ("labels", "predictions", "weights"),
    _pair_strategy("log_loss", CORE_NAMES, "core"),
    _scale_pair(_m_log, "labels", "predictions", eps=_opt("epsilon", 1e-7)),
    dict(_PAIR_TOL, predictions=_grad_tol("-z/(p+eps) + (1-z)/(1-p+eps)"),
         labels=_grad_tol("-log(p+eps) + log(1-p+eps)")),
    [ex("TF_SEMANTICS sec. 2.3 example", {"labels": Z2, "predictions": P2}),
     ex("p = 0, z = 0: slightly negative", {"labels": f32([0, 1]), "predictions": f32([0, 1])}),
     ex("epsilon = 0 with p in {0, 1}: inf / NaN", {"labels": f32([0, 1, 1, 0]),
                                                    "predictions": f32([0, 1, 0, 1])},
        {"epsilon": 0.0}),
     ex("p > 1 + eps: NaN", {"labels": f64([0, 1]), "predictions": f64([1.5, 0.5])}),
     ex("epsilon 1e-3, float64", {"labels": f64([0.3, 1]), "predictions": f64([0.2, 1e-9])},
        {"epsilon": 1e-3})],
    _core_errors("labels", "predictions"), convert_like="predictions")

_core_entry(
    "hinge_loss", ("labels", "logits", "weights"),
    _pair_strategy("hinge_loss", {"a": "labels", "b": "logits", "w": "weights"}, "core"),
    _scale_pair(_m_hinge, "labels", "logits"),
    dict(_PAIR_TOL, logits=_grad_tol("-t [1 - t x > 0] (relu'(0) = 0)"),
         labels=_grad_tol("-2x [1 - t x > 0]")),
    [ex("TF_SEMANTICS sec. 2.3 example", {"labels": Z2, "logits": f32([[.3, -2], [1.5, .2]])}),
     ex("labels 0.5: t = 0, loss 1", {"labels": f32([0.5, 0.5]), "logits": f32([3, -3])}),
     ex("kink t x = 1 exactly", {"labels": f64([1, 0, 1]), "logits": f64([1, -1, 0.5])}),
     ex("int32 labels (cast, no gradient)", {"labels": np.array([[0, 1]], np.int32),
                                             "logits": f32([[0.5, 0.2]])})],
    _core_errors("labels", "logits"), convert_like="logits")


# compute_weighted_loss ----------------------------------------------------

def scale_cwl(case, ref, dy, contrib=False):
    L = _arr(case.args["losses"])
    T = nar(case) * np.abs(L)
    red = _contrib_reduce if contrib else _core_reduce
    value, G, GT, ws = red(case, L, T, dy)
    out = {"value": value, "losses": _finite_scale(GT)}
    if ws is not None:
        out[_wname(case)] = ws
    return out


L23 = f32([[1, 2, 3], [4, 5, 6]])
_core_entry(
    "compute_weighted_loss", ("losses", "weights"),
    lambda mode, key: sl.weighted_loss_cases(mode, key, "core"),
    scale_cwl,
    {"value": VALUE_TOL, "weights": WEIGHTS_TOL,
     "losses": Tol(8, "w dy / D: two roundings and the relative error of D")},
    [ex("sec. 2.2 weights 2.0", {"losses": L23, "weights": 2.0})]
    + [ex(f"sec. 2.2 [[.5],[0]], reduction={r}", {"losses": L23, "weights": f32([[0.5], [0]])},
          {"reduction": r}) for r in (MEAN, SBNZ)]
    + _reduction_examples({"losses": L23, "weights": f32([[1, 0, 2], [0, 0, 3]])},
                          "sec. 2.2 full weights")
    + [ex("NaN loss, zero weights -> 0 (div_no_nan)", {"losses": f32([np.nan, 1]),
                                                       "weights": f32([0, 0])}),
       ex("NaN loss, weights [0,1] -> NaN", {"losses": f32([np.nan, 1]), "weights": f32([0, 1])}),
       ex("signed weights summing to 0, MEAN -> 0", {"losses": L23,
                                                     "weights": f32([[2, -2, 0], [0, 0, 0]])},
          {"reduction": MEAN}),
       ex("signed weights, SUM_BY_NONZERO -> -1", {"losses": L23,
                                                   "weights": f32([[2, -2, 0], [0, 0, 0]])}),
       ex("float64 1+1e-12, NONE (TF: 1.0 in float32)", {"losses": f64([1 + 1e-12])},
          {"reduction": "none"}),
       ex("empty losses -> 0", {"losses": np.zeros((0, 3), np.float32)}),
       ex("bool weights", {"losses": L23, "weights": np.array([[True], [False]])}),
       ex("float32 weights on float64 losses", {"losses": f64([[1, 2], [3, 4]]),
                                               "weights": f32([[0.5, 1.5]])})],
    [err("weights [B] for [B,D]", {"losses": L23, "weights": f32([1, 2])}, "ValueError",
         "ValueError", "weights need the losses' rank"),
     err("weights [1] on rank-0 losses", {"losses": np.float32(3), "weights": f32([1])},
         "ValueError", "ValueError", "higher rank than the losses"),
     err("invalid Reduction key", {"losses": L23}, "ValueError", "ValueError",
         "Invalid Reduction Key", {"reduction": "sum"})],
    convert_like="losses", overflows=_ovf)


# cosine_distance -------------------------------------------------------------

def _axis(case, rank):
    o = case.options
    a = o.get("axis") if o.get("axis") is not None else o.get("dim")
    return int(a) % rank


def _cosine_model(case, a_name, b_name):
    l = _arr(case.args[a_name])
    p = _arr(case.args[b_name])
    ax = _axis(case, p.ndim)
    n = nar(case)
    c = p.shape[ax]
    s = np.sum(np.abs(p * l), axis=ax, keepdims=True)
    L = 1 - np.sum(p * l, axis=ax, keepdims=True)
    T = 1 + s * (1 + acc(c)) + n * (2 * s + np.abs(L))
    return L, T, l, p, ax


def scale_cosine(case, ref, dy, contrib=False, names=("labels", "predictions")):
    a_name, b_name = names
    L, T, l, p, ax = _cosine_model(case, a_name, b_name)
    n = nar(case)
    if contrib:
        Lc, Tc = np.squeeze(L, ax), np.squeeze(T, ax)
        value, G, GT, ws = _contrib_reduce(case, Lc, Tc, dy)
        G, GT = np.expand_dims(G, ax), np.expand_dims(GT, ax)
    else:
        value, G, GT, ws = _core_reduce(case, L, T, dy)
    out = {"value": value,
           b_name: _finite_scale(np.abs(l) * GT + (1 + n) * np.abs(l) * G),
           a_name: _finite_scale(np.abs(p) * GT + (1 + n) * np.abs(p) * G)}
    if ws is not None:
        out[_wname(case)] = ws
    return out


_core_entry(
    "cosine_distance", ("labels", "predictions", "weights"),
    lambda mode, key: sl.cosine_cases(mode, key, CORE_NAMES, "core"),
    scale_cosine,
    {"value": VALUE_TOL, "weights": WEIGHTS_TOL,
     "predictions": _grad_tol("-labels (broadcast over the axis)"),
     "labels": _grad_tol("-predictions")},
    [ex("TF_SEMANTICS sec. 2.3 example", {"labels": f32([[.6, .8], [1, 0]]),
                                          "predictions": f32([[.8, .6], [0, 1]])}, {"axis": 1}),
     ex("dim alias", {"labels": f32([[.6, .8], [1, 0]]), "predictions": f32([[.8, .6], [0, 1]])},
        {"dim": 1}),
     ex("axis=-1, NONE keeps a size-1 axis", {"labels": f64([[.6, .8], [1, 0]]),
                                              "predictions": f64([[.8, .6], [0, 1]])},
        {"axis": -1, "reduction": "none"}),
     ex("axis 0 of rank 3, weights [1,2,2]",
        {"labels": np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 2, 2),
         "predictions": np.linspace(1, -0.5, 12, dtype=np.float32).reshape(3, 2, 2),
         "weights": f32([[[1, 0], [2, 0.5]]])}, {"axis": 0}),
     ex("weights [2,2,1] for [2,2,1] losses", {"labels": np.ones((2, 2, 3), np.float32) / 3,
                                               "predictions": np.full((2, 2, 3), 0.5, np.float32),
                                               "weights": f32([[[1], [2]], [[0], [3]]])},
        {"axis": 2})],
    [err("no axis", {"labels": f32([[1, 0]]), "predictions": f32([[0, 1]])}, "ValueError",
         "ValueError", "You must specify argument `axis`."),
     err("both axis and dim", {"labels": f32([[1, 0]]), "predictions": f32([[0, 1]])},
         "ValueError", "ValueError", "Cannot specify both 'dim' and 'axis'.",
         {"axis": 1, "dim": 1}),
     err("axis out of range", {"labels": f32([[1, 0]]), "predictions": f32([[0, 1]])},
         "InvalidArgumentError", "ValueError",
         "TF: Invalid reduction dimension (InvalidArgumentError); cyloss: an "
         "InvalidArgumentError/ValueError", {"axis": 2}),
     err("weights [2,2] for [2,2,1] losses", {"labels": np.ones((2, 2, 3), np.float32),
                                              "predictions": np.ones((2, 2, 3), np.float32),
                                              "weights": np.ones((2, 2), np.float32)},
         "ValueError", "ValueError", "NONE keeps the axis: weights need rank 3",
         {"axis": 2}),
     err("incompatible shapes", {"labels": np.ones((2, 3), np.float32),
                                 "predictions": np.ones((2, 4), np.float32)},
         "ValueError", "ValueError", "shapes incompatible", {"axis": 1})],
    convert_like="predictions", overflows=_ovf)


# mean_pairwise_squared_error (graph semantics) -------------------------------

def scale_pairwise(case, ref, dy, core=True, names=("labels", "predictions", "weights")):
    a_name, b_name, w_name = names
    if w_name not in case.args:         # contrib: the other name of the weights
        w_name = next((w for w in ("weights", "weight") if w in case.args), w_name)
    l = _arr(case.args[a_name])
    p = _arr(case.args[b_name])
    # n_i counts an inf/NaN weight as present (TF's count of nonzero weights
    # does), so its example's t_i and d/dweights keep their magnitudes; the
    # magnitudes use fin(w) (d/dw_i = t_i dy does not depend on w_i, and the
    # outputs an inf/NaN weight reaches are non-finite, compared exactly)
    wraw = _ftz32(case.args.get(w_name, 1.0))
    w = fin(wraw)
    n = nar(case)
    d = p - l
    B = d.shape[0]
    axes = tuple(range(1, d.ndim))
    m = int(np.prod(d.shape[1:])) if d.ndim > 1 else 1
    apl = np.abs(p) + np.abs(l)
    S2 = np.sum(d * d, axis=axes).reshape(B)
    S1 = np.sum(d, axis=axes).reshape(B)
    A1 = np.sum(np.abs(d), axis=axes).reshape(B)
    E2 = np.sum(2 * np.abs(d) * apl, axis=axes).reshape(B)
    E1 = np.sum(apl, axis=axes).reshape(B)
    if core:
        wb = np.broadcast_to(wraw, d.shape)
        n_i = np.sum(wb != 0, axis=axes).reshape(B).astype(np.float64)
        den1, den2 = np.maximum(n_i - 1, 0), np.maximum(n_i * (n_i - 1), 0)
    else:
        wk = wraw.reshape(wraw.shape[:-1]) if wraw.ndim > 1 and wraw.shape[-1] == 1 else wraw
        if wk.ndim == 0:
            n_i = np.full(B, float(m) if wk != 0 else 0.0)
        else:
            n_i = np.sum(wk != 0, axis=tuple(range(1, wk.ndim))).reshape(-1) * float(
                np.prod(d.shape[wk.ndim:]))
            n_i = np.broadcast_to(n_i, (B,))
        den1, den2 = n_i, n_i * n_i
    with np.errstate(all="ignore"):
        r1 = np.where(den1 > 0, 1 / np.where(den1 > 0, den1, 1), 0)
        r2 = np.where(den2 > 0, 1 / np.where(den2 > 0, den2, 1), 0)
    t = 2 * S2 * r1 - 2 * S1 * S1 * r2
    am = acc(m)
    Tt = (2 * S2 * r1 * (2 + am) + 6 * S1 * S1 * r2 + 4 * np.abs(S1) * am * A1 * r2
          + n * (2 * E2 * r1 + 4 * np.abs(S1) * E1 * r2 + np.abs(t)))
    dd = np.abs(np.asarray(dy, np.float64))
    bshape = (B,) + (1,) * (d.ndim - 1)
    if core:
        tb = np.broadcast_shapes(bshape, w.shape)
        Wb = np.broadcast_to(w, tb)
        tt = np.broadcast_to(t.reshape(bshape), tb)
        Ttb = np.broadcast_to(Tt.reshape(bshape), tb)
        Wabs = np.sum(np.abs(Wb), axis=tuple(range(1, len(tb)))).reshape(B)
    else:
        wk = w.reshape(w.shape[:-1]) if w.ndim > 1 and w.shape[-1] == 1 else w
        tb = (B,)
        Wb = np.broadcast_to(wk, tb)
        tt, Ttb = t, Tt
        Wabs = np.abs(Wb)
    live = np.sum(n_i) > 0
    if not live:
        z = np.zeros(())
        return {"value": z, b_name: np.zeros(d.shape), a_name: np.zeros(d.shape),
                w_name: np.zeros(np.shape(case.args.get(w_name, 1.0)))}
    nt = int(np.prod(tb)) if tb else 1
    # (a zero weight's example adds nothing, also where its float64 magnitudes
    # overflow: inf - inf in t)
    with np.errstate(invalid="ignore"):
        value = (np.sum(np.where(Wb == 0, 0.0, np.abs(Wb) * Ttb))
                 + np.sum(np.where(Wb == 0, 0.0, np.abs(Wb * tt))) * (2 + acc(nt)))
    # upstream of t_i: dy * W_i (W_i summed with signs: its error is acc * sum |w|)
    gt = dd * Wabs * (2 + acc(max(nt // max(B, 1), 1)))
    shp = (B,) + (1,) * (d.ndim - 1)
    g2, g1 = (gt * r1).reshape(shp), (gt * r2).reshape(shp)
    gd = (4 * np.abs(d) * g2 * 2 + 4 * np.abs(S1).reshape(shp) * g1 * 2
          + 4 * am * A1.reshape(shp) * g1
          + n * (4 * apl * g2 + 4 * E1.reshape(shp) * g1))
    out = {"value": np.asarray(value), b_name: _finite_scale(gd), a_name: _finite_scale(gd)}
    if w_name in case.args:
        wpe = (np.abs(tt) + Ttb) * dd
        ws, mm = reduce_abs_to(wpe, np.shape(case.args[w_name]) if core else wk.shape)
        out[w_name] = (ws * (1 + acc(mm))).reshape(np.shape(case.args[w_name]))
    return out


_core_entry(
    "mean_pairwise_squared_error", ("labels", "predictions", "weights"),
    lambda mode, key: sl.pairwise_cases(mode, key, CORE_NAMES, "core"),
    scale_pairwise,
    {"value": Tol(8, "per example 2 S2/(n-1) - 2 S1^2/(n(n-1)) (cancellation judged against "
                     "both terms; S1, S2 are m-term sums, acc(m)), times the weights, summed"),
     "weights": Tol(8, "t_i dy summed over the weights' broadcast entries"),
     "predictions": _grad_tol("4 d/(n-1) - 4 S1/(n(n-1)) (S1 carries acc(m))"),
     "labels": _grad_tol("the negative of d/dpredictions")},
    [ex("sec. 2.4 data: graph value 8.166666 (eager would give 3.483333)",
        {"labels": X, "predictions": P}),
     ex("sec. 2.4 weights [[2],[1]] -> 11.666666 with gradients",
        {"labels": X, "predictions": P, "weights": f32([[2], [1]])}),
     ex("single-element examples: graph 0", {"labels": f32([[1], [2]]),
                                             "predictions": f32([[1.5], [3]])}),
     ex("rank 1: each example one element -> 0", {"labels": f64([1, 2, 3]),
                                                  "predictions": f64([0, 0, 0])}),
     ex("per-element zero weights change only n_i",
        {"labels": X, "predictions": P, "weights": f32([[1, 0, 1], [0, 0, 1]])}),
     ex("all-zero weights -> 0", {"labels": X, "predictions": P, "weights": f32([[0], [0]])}),
     ex("scalar weight 0 -> 0", {"labels": X, "predictions": P, "weights": np.float32(0)}),
     ex("rank 3, weights [1,2,1]", {"labels": np.arange(12, dtype=np.float64).reshape(2, 2, 3),
                                    "predictions": np.cos(np.arange(12.0)).reshape(2, 2, 3),
                                    "weights": f64([[[1], [0.5]]])})],
    [err("weights [B] for [B,D]", {"labels": X, "predictions": P, "weights": f32([1, 2])},
         "ValueError", "ValueError", "weights need the inputs' rank"),
     err("a reduction argument", {"labels": X, "predictions": P}, "TypeError", "TypeError",
         "mean_pairwise_squared_error has no `reduction`", {"reduction": "none"}),
     err("incompatible shapes", {"labels": X[:1], "predictions": P}, "ValueError",
         "ValueError", "shapes incompatible")],
    convert_like="predictions", overflows=_ovf,
    notes="oracle: tf.compat.v1.losses.mean_pairwise_squared_error inside tf.function "
          "(graph semantics, per-example n; TF_SEMANTICS sec. 2.4)")


# sigmoid_cross_entropy -------------------------------------------------------

def scale_sigmoid(case, ref, dy, contrib=False, names=("multi_class_labels", "logits")):
    a_name, b_name = names
    z = _arr(case.args[a_name])
    x = _arr(case.args[b_name])
    L, T, locs = _m_sigmoid(z, x, nar(case), _ls(case))
    red = _contrib_reduce if contrib else _core_reduce
    value, G, GT, ws = red(case, L, T, dy)
    out = {"value": value, b_name: _chain(locs["p"], G, GT), a_name: _chain(locs["l"], G, GT)}
    if ws is not None:
        out[_wname(case)] = ws
    return out


XS = f32([[1, -2, .5], [0, 3, -1]])
ZS = f32([[1, 0, 1], [0, 1, 0]])
_core_entry(
    "sigmoid_cross_entropy", ("multi_class_labels", "logits", "weights"),
    lambda mode, key: sl.sigmoid_cases(mode, key, {"a": "multi_class_labels", "b": "logits"},
                                       "core"),
    scale_sigmoid,
    {"value": VALUE_TOL, "weights": WEIGHTS_TOL,
     "logits": _grad_tol("sigmoid(x) - z' (TF's three-path sum, sec. 1.4)"),
     "multi_class_labels": _grad_tol("-x (1 - label_smoothing)")},
    [ex("TF_SEMANTICS sec. 2.3 example, ls 0.2", {"multi_class_labels": ZS, "logits": XS},
        {"label_smoothing": 0.2}),
     ex("negative label smoothing is ignored", {"multi_class_labels": ZS, "logits": XS},
        {"label_smoothing": -0.3}),
     ex("float64 logits: per-element float64, reduced through float32",
        {"multi_class_labels": f64([[1, 0, 1]]), "logits": f64([[0.1, 0.2, 0.3]])}),
     ex("int64 labels (cast; no gradient)", {"multi_class_labels": np.array([[1, 0]], np.int64),
                                             "logits": f32([[2, -1]])}),
     ex("logits +-inf", {"multi_class_labels": f32([0, 1, 0, 1]),
                         "logits": f32([np.inf, np.inf, -np.inf, -np.inf])}),
     ex("weights [B,1], NONE", {"multi_class_labels": ZS, "logits": XS,
                                "weights": f32([[0.5], [2]])}, {"reduction": "none"})],
    [err("weights [B] for [B,C]", {"multi_class_labels": ZS, "logits": XS,
                                   "weights": f32([1, 2])},
         "ValueError", "ValueError", "weights need the logits' rank"),
     err("shape mismatch", {"multi_class_labels": ZS[:1], "logits": XS}, "ValueError",
         "ValueError", "shapes incompatible"),
     err("invalid reduction", {"multi_class_labels": ZS, "logits": XS}, "ValueError",
         "ValueError", "Invalid Reduction Key", {"reduction": "auto"}),
     err("labels None", {"multi_class_labels": None, "logits": XS}, "ValueError",
         "ValueError", "must not be None")],
    convert_like="logits")


# softmax_cross_entropy -------------------------------------------------------

def _softmax_model(case, a_name, b_name):
    x = np.asarray(case.args[b_name], np.float64)
    y = _arr(case.args[a_name])
    c = x.shape[-1] if x.ndim else 1
    ls = _ls(case)
    if ls > 0:
        y = y * (1 - ls) + ls / c
    s, Lr, p = row_stats(x, -1)
    a = acc(c)
    ay = np.abs(y)
    term = np.abs(Lr) + np.abs(s) + 1
    L = np.sum(y * (Lr - s), axis=-1)
    T = np.sum(ay * (term + a), axis=-1) * (1 + a) + nar(case) * np.abs(L)
    loc = (p + ay, p * (1 + np.abs(s) + a) + ay)
    return L, T, loc


def scale_softmax_loss(case, ref, dy, contrib=False, names=("onehot_labels", "logits")):
    a_name, b_name = names
    L, T, loc = _softmax_model(case, a_name, b_name)
    red = _contrib_reduce if contrib else _core_reduce
    value, G, GT, ws = red(case, L, T, dy)
    out = {"value": value, b_name: _chain(loc, G[..., None], GT[..., None])}
    if ws is not None:
        out[_wname(case)] = ws
    return out


YS = f32([[0, 1, 0], [0, 0, 1]])
XSM = f32([[.05, .95, 0], [.1, .8, .1]])
_core_entry(
    "softmax_cross_entropy", ("logits", "weights"),
    lambda mode, key: sl.softmax_cases(mode, key, {"a": "onehot_labels", "b": "logits"},
                                       "core"),
    scale_softmax_loss,
    {"value": VALUE_TOL, "weights": WEIGHTS_TOL,
     "logits": _grad_tol("softmax - y' (the labels are stop_gradient)")},
    [ex("sec. 2.3 example (weights [.3,.7], ls 0.2) = 0.5761805",
        {"onehot_labels": YS, "logits": XSM, "weights": f32([.3, .7])}, {"label_smoothing": 0.2})]
    + [ex(f"sec. 2.3 example, {r}", {"onehot_labels": YS, "logits": XSM,
                                     "weights": f32([.3, .7])},
          {"label_smoothing": 0.2, "reduction": r}) for r in ("none", "weighted_sum",
                                                               "weighted_mean")]
    + [ex("float64 [[0.1,0.2,0.3]] one-hot: 1.1019428968429565 in TF",
          {"onehot_labels": f64([[0, 1, 0]]), "logits": f64([[0.1, 0.2, 0.3]])}),
       ex("rank-1 logits: scalar loss", {"onehot_labels": f32([0, 0, 1]),
                                         "logits": f32([1, 2, 3])}, {"reduction": "none"}),
       ex("int32 one-hot labels", {"onehot_labels": np.eye(3, dtype=np.int32),
                                   "logits": f32([[1, 2, 3], [0, 0, 0], [5, -5, 1]])},
          {"label_smoothing": 0.1}),
       ex("weights [1] (rank 1 = loss rank)", {"onehot_labels": YS, "logits": XSM,
                                               "weights": f32([2])})],
    [err("weights [B,1]", {"onehot_labels": YS, "logits": XSM, "weights": f32([[1], [2]])},
         "ValueError", "ValueError", "the loss has shape [B]: [B,1] weights are rejected"),
     err("labels of another class count", {"onehot_labels": YS[:, :2], "logits": XSM},
         "ValueError", "ValueError", "shapes incompatible"),
     err("invalid reduction", {"onehot_labels": YS, "logits": XSM}, "ValueError", "ValueError",
         "Invalid Reduction Key", {"reduction": "SUM"})],
    convert_like="logits")


# sparse_softmax_cross_entropy ------------------------------------------------

def _sparse_model(case, a_name, b_name):
    x = np.asarray(case.args[b_name], np.float64)
    lab = np.asarray(case.args[a_name]).astype(np.int64)
    if lab.ndim == x.ndim:
        lab = lab.reshape(lab.shape[:-1])
    c = x.shape[-1]
    s, Lr, p = row_stats(x, -1)
    onehot = np.zeros(x.shape)
    if x.size:
        np.put_along_axis(onehot, np.clip(lab, 0, c - 1)[..., None], 1.0, -1)
    s_lab = np.sum(np.abs(s) * onehot, axis=-1)
    L = Lr[..., 0] - np.sum(s * onehot, axis=-1)
    a = acc(c)
    T = np.abs(Lr[..., 0]) + s_lab + 1 + a + nar(case) * np.abs(L)
    loc = (p + onehot, p * (1 + np.abs(s) + a) + onehot)
    return L, T, loc


def scale_sparse_loss(case, ref, dy, contrib=False, names=("labels", "logits")):
    a_name, b_name = names
    L, T, loc = _sparse_model(case, a_name, b_name)
    wn = _wname(case)
    w0 = case.args.get(wn, 1.0)
    w = np.asarray(w0, np.float64)      # non-finite kept: _core_reduce counts them
    if w.ndim == L.ndim + 1 and w.shape[-1] == 1 and not contrib:
        w = w.reshape(w.shape[:-1])
    red = _contrib_reduce if contrib else _core_reduce
    value, G, GT, ws = red(case, L, T, dy, w=None if contrib else w)
    out = {"value": value, b_name: _chain(loc, G[..., None], GT[..., None])}
    if ws is not None:
        out[wn] = np.reshape(ws, np.shape(w0))
    return out


LAB = np.array([1, 2], np.int32)
_core_entry(
    "sparse_softmax_cross_entropy", ("logits", "weights"),
    lambda mode, key: sl.sparse_cases(mode, key, {"a": "labels", "b": "logits"}, "core"),
    scale_sparse_loss,
    {"value": VALUE_TOL, "weights": WEIGHTS_TOL,
     "logits": _grad_tol("softmax - onehot (labels are integers)")},
    [ex("sec. 2.3 example 0.5740138", {"labels": LAB, "logits": XSM, "weights": f32([.3, .7])}),
     ex("labels [B,1] and weights [B,1] (both squeezed)",
        {"labels": LAB.reshape(2, 1), "logits": XSM, "weights": f32([[.3], [.7]])},
        {"reduction": "none"}),
     ex("labels [B] and weights [B,1] (weights squeezed)",
        {"labels": LAB, "logits": XSM, "weights": f64([[.3], [.7]])}, {"reduction": "none"},
        dtype="float32"),
     ex("rank-3 logits, int64 labels", {"labels": np.array([[0, 3], [2, 1]], np.int64),
                                        "logits": np.sin(np.arange(16.0)).reshape(2, 2, 4)},
        {"reduction": "weighted_mean"})],
    [err("label out of range", {"labels": np.array([0, 3], np.int32), "logits": XSM},
         "InvalidArgumentError", "InvalidArgumentError", "label outside [0, C)",
         mention=("3",)),
     err("weights [B,2] with labels [B]", {"labels": LAB, "logits": XSM,
                                           "weights": np.ones((2, 2), np.float32)},
         ("InvalidArgumentError", "ValueError"), "ValueError",
         "weights of one more dim than the labels must end in 1 (TF: squeeze fails)"),
     err("float labels", {"labels": f32([1, 2]), "logits": XSM},
         ("InvalidArgumentError", "TypeError"), "TypeError", "labels must be int32/int64")],
    convert_like="logits")


# ============================================================ contrib ======
# TF 1.x tf.contrib.losses composed from TF 2.21 primitives (sec. 2.6).

def _c_weights(tf, a):
    """weights under either name (TF 1.x's deprecated-argument lookup)."""
    if "weights" in a and "weight" in a:
        raise ValueError("Cannot specify both 'weights' and 'weight'.")
    return a.get("weights", a.get("weight", 1.0))


def c_reduce(tf, losses, weights):
    """The contrib reduction of sec. 2.6: float32, weights aligned to the
    leading dims (a trailing size-1 dim squeezed), total / #present (0 when
    nothing is present), cast back to the losses' dtype."""
    losses = tf.convert_to_tensor(losses)
    in_dtype = losses.dtype
    L = tf.cast(losses, tf.float32)
    w = tf.cast(tf.convert_to_tensor(weights), tf.float32)
    if w.shape.rank > 1 and w.shape[-1] == 1:
        w = tf.squeeze(w, [-1])
    k, r = w.shape.rank, L.shape.rank
    inner = tf.reduce_sum(L, axis=list(range(k, r))) if r > k else L
    total = tf.reduce_sum(inner * w)
    rest = float(np.prod(L.shape.as_list()[k:])) if r > k else 1.0
    if k == 0:
        n = tf.where(tf.equal(w, 0.0), 0.0, tf.cast(tf.size(L), tf.float32))
    else:
        n = tf.cast(tf.math.count_nonzero(w), tf.float32) * rest
    return tf.cast(tf.math.divide_no_nan(total, n), in_dtype)


def _c_pair(tf, a, first, second):
    p = tf.convert_to_tensor(a[first])
    l = tf.convert_to_tensor(a[second])
    p.shape.assert_is_compatible_with(l.shape)
    return tf.cast(p, tf.float32), tf.cast(l, tf.float32)


def _c_elementwise(kind, first="predictions", second="labels"):
    def call(tf, a, o):
        p, l = _c_pair(tf, a, first, second)
        if kind == "absolute_difference":
            losses = tf.abs(p - l)
        elif kind == "squared":
            losses = tf.square(p - l)
        else:       # log
            e = o.get("epsilon", 1e-7)
            losses = -l * tf.math.log(p + e) - (1 - l) * tf.math.log(1 - p + e)
        return c_reduce(tf, losses, _c_weights(tf, a))
    return call


def _c_weighted(tf, a, o):
    return c_reduce(tf, a["losses"], _c_weights(tf, a))


def _c_cosine(tf, a, o):
    axis, dim = o.get("axis"), o.get("dim")
    if dim is not None:
        if axis is not None:
            raise ValueError("Cannot specify both 'dim' and 'axis'.")
        axis = dim
    if axis is None:
        raise ValueError("You must specify 'axis'.")
    p, l = _c_pair(tf, a, "predictions", "labels")
    losses = 1 - tf.reduce_sum(p * l, axis=[axis])
    return c_reduce(tf, losses, _c_weights(tf, a))


def _c_hinge(tf, a, o):
    """Unreduced relu(1 - (2 labels - 1) logits); the labels are cast to the
    logits' dtype (TF 1.x cast them to float32, so float64 logits failed)."""
    x = tf.convert_to_tensor(a["logits"])
    z = tf.convert_to_tensor(a["labels"])
    x.shape.assert_is_compatible_with(z.shape)
    t = 2 * tf.cast(z, x.dtype) - 1
    return tf.nn.relu(1 - t * x)


def _c_sigmoid(tf, a, o):
    x = tf.convert_to_tensor(a["logits"])
    z = tf.convert_to_tensor(a["multi_class_labels"])
    x.shape.assert_is_compatible_with(z.shape)
    z = tf.cast(z, x.dtype)
    ls = o.get("label_smoothing", 0)
    if ls > 0:
        z = z * (1 - ls) + 0.5 * ls
    losses = tf.nn.sigmoid_cross_entropy_with_logits(labels=z, logits=x)
    return c_reduce(tf, losses, _c_weights(tf, a))


def _c_softmax(tf, a, o):
    x = tf.convert_to_tensor(a["logits"])
    y = tf.convert_to_tensor(a["onehot_labels"])
    x.shape.assert_is_compatible_with(y.shape)
    y = tf.cast(y, x.dtype)
    ls = o.get("label_smoothing", 0)
    if ls > 0:
        c = tf.cast(tf.shape(y)[1], x.dtype)
        y = y * (1 - ls) + ls / c
    losses = tf.nn.softmax_cross_entropy_with_logits(labels=tf.stop_gradient(y), logits=x)
    return c_reduce(tf, losses, _c_weights(tf, a))


def _c_sparse(tf, a, o):
    x = tf.convert_to_tensor(a["logits"])
    lab = tf.convert_to_tensor(a["labels"])
    lab = tf.reshape(lab, [tf.shape(lab)[0]])
    losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=lab, logits=x)
    return c_reduce(tf, losses, _c_weights(tf, a))


def _c_pairwise(first="predictions", second="labels"):
    def call(tf, a, o):
        p, l = _c_pair(tf, a, first, second)
        w = tf.cast(tf.convert_to_tensor(_c_weights(tf, a)), tf.float32)
        if w.shape.rank > 1 and w.shape[-1] == 1:
            w = tf.squeeze(w, [-1])
        d = p - l
        r = d.shape.rank
        axes = list(range(1, r))
        s2 = tf.reduce_sum(tf.square(d), axis=axes)
        s1 = tf.reduce_sum(d, axis=axes)
        b = tf.shape(d)[0]
        k = w.shape.rank
        if k == 0:
            per = float(np.prod(d.shape.as_list()[1:])) if r > 1 else 1.0
            n = tf.where(tf.equal(w, 0.0), 0.0, per) * tf.ones([b])
        else:
            rest = float(np.prod(d.shape.as_list()[k:])) if r > k else 1.0
            nz = tf.cast(tf.not_equal(w, 0.0), tf.float32)
            n = (tf.reduce_sum(nz, axis=list(range(1, k))) if k > 1 else nz) * rest
        t = 2 * tf.math.divide_no_nan(s2, n) - 2 * tf.math.divide_no_nan(tf.square(s1),
                                                                         tf.square(n))
        loss = tf.reduce_sum(t * w)
        return tf.where(tf.reduce_sum(n) > 0, loss, tf.zeros_like(loss))
    return call


def _contrib_reduce(case, L, T, dy, w=None):
    """Scales through the contrib reduction (sec. 2.6)."""
    wn = _wname(case)
    w0 = _ftz32(case.args.get(wn, 1.0) if w is None else w)
    wk = w0.reshape(w0.shape[:-1]) if w0.ndim > 1 and w0.shape[-1] == 1 else w0
    # #present counts an inf/NaN weight (TF's count_nonzero does); the
    # magnitudes use fin(w): d/dweights of w * loss does not depend on w, and
    # the outputs an inf/NaN weight reaches are non-finite (compared exactly)
    nz = np.count_nonzero(wk)
    wk = fin(wk)
    k, r = wk.ndim, L.ndim
    d = np.abs(np.asarray(dy, np.float64))
    rest = int(np.prod(L.shape[k:])) if r > k else 1
    axes = tuple(range(k, r))
    aL = np.abs(L)
    inner_a = np.sum(aL, axis=axes) if axes else aL
    inner_T = np.sum(T, axis=axes) if axes else T
    if k == 0:
        nn = float(L.size) if nz else 0.0
    else:
        nn = float(nz) * rest
    if nn == 0 or L.size == 0:
        z = np.zeros(L.shape)
        return np.zeros(()), z, z, np.zeros(w0.shape)
    prod = np.abs(inner_a * wk)
    ar = acc(rest)
    value = (np.sum(np.abs(inner_T * wk)) + np.sum(prod) * (2 + ar + acc(prod.size))) / nn
    wl = np.broadcast_to(np.abs(wk).reshape(wk.shape + (1,) * (r - k)), L.shape) if k else \
        np.broadcast_to(np.abs(wk), L.shape)
    G = wl * d / nn
    per = (inner_a * (1 + ar) + inner_T) * d / nn
    ws, m = reduce_abs_to(np.broadcast_to(per, np.broadcast_shapes(np.shape(per), wk.shape)),
                          wk.shape)
    return np.asarray(value), G, 3 * G, (ws * (1 + acc(m))).reshape(w0.shape)


class _TF1Contrib:
    """The signatures of TF 1.x tf.contrib.losses (for the signature test):
    the final module's 14 names, and the three 2016 names in their form."""

    def absolute_difference(predictions, labels=None, weights=1.0, scope=None): pass

    def add_loss(loss, loss_collection="losses"): pass

    def compute_weighted_loss(losses, weights=1.0, scope=None): pass

    def cosine_distance(predictions, labels=None, axis=None, weights=1.0, scope=None,
                        dim=None): pass

    def get_losses(scope=None, loss_collection="losses"): pass

    def get_regularization_losses(scope=None): pass

    def get_total_loss(add_regularization_losses=True, name="total_loss"): pass

    def hinge_loss(logits, labels=None, scope=None): pass

    def log_loss(predictions, labels=None, weights=1.0, epsilon=1e-7, scope=None): pass

    def mean_pairwise_squared_error(predictions, labels=None, weights=1.0, scope=None): pass

    def mean_squared_error(predictions, labels=None, weights=1.0, scope=None): pass

    def sigmoid_cross_entropy(logits, multi_class_labels, weights=1.0, label_smoothing=0,
                              scope=None): pass

    def softmax_cross_entropy(logits, onehot_labels, weights=1.0, label_smoothing=0,
                              scope=None): pass

    def sparse_softmax_cross_entropy(logits, labels, weights=1.0, scope=None): pass

    def sum_of_squares(predictions, targets, weight=1.0, scope=None): pass

    def sum_of_pairwise_squares(predictions, targets, weight=1.0, scope=None): pass

    def log(predictions, targets, weight=1.0, epsilon=1e-7, scope=None): pass


def _contrib_entry(name, wrt, call, cases, scale, tol, examples, errors, narrowed=None,
                   notes="", overflows=_ovf, convert_like=None, budget=None):
    fn = _cy(cy_contrib, name)
    wrt = tuple(wrt)
    if "weights" in wrt or "weight" in wrt:     # contrib accepts both names
        wrt = tuple(w for w in wrt if w not in ("weights", "weight")) + ("weights", "weight")
        tol = dict(_C_TOL, **tol)
    return _add(Entry(
        key=f"contrib.losses.{name}", fn=fn,
        tf_fn=lambda tf, _n=name: getattr(_TF1Contrib, _n),
        call_tf=call, wrt=wrt, cases=cases, scale=scale, tol=tol, examples=examples,
        errors=errors,
        convert={w: Weak(convert_like) for w in ("weights", "weight")} if convert_like else {},
        narrowing=None if narrowed == () else narrowing(narrowed or ("value",) + wrt,
                                                        overflows),
        budget=budget or {"quick": 60, "full": 600},
        notes="oracle composed from TF 2.21 primitives as TF_SEMANTICS sec. 2.6 writes it"
              + (f"; {notes}" if notes else "")))


C_NAMES = {"a": "labels", "b": "predictions", "w": "weights", "w_alias": "weight"}
OLD_NAMES = {"a": "targets", "b": "predictions", "w": "weight", "w_alias": "weights"}
CP = f32([[0.5, 1, 0], [3, 6, 4]])
CL = f32([[0, 1, 2], [3, 4, 5]])


def _contrib_errors(first, second, wname="weights", extra=()):
    good = np.zeros((2, 3), np.float32)
    return [
        err("weights with a leading dim of another size", {first: good, second: good,
                                                           wname: np.ones(3, np.float32)},
            "InvalidArgumentError", "ValueError",
            "weights align with the leading dims; TF's multiply fails"),
        err("incompatible shapes", {first: good, second: np.zeros((2, 4), np.float32)},
            "ValueError", "ValueError", "shapes incompatible"),
        err("both weights and weight", {first: good, second: good, "weights": 1.0,
                                        "weight": 2.0},
            "ValueError", "ValueError", "the two names of one argument"),
    ] + list(extra)


_C_TOL = {"value": Tol(8, "per-element loss judged against its terms, weighted over the "
                          "leading dims, an n-term sum in another order, / #present"),
          "weights": Tol(8, "sum over the trailing dims of the losses, times dy / #present"),
          "weight": Tol(8, "as weights (the 2016 name)")}

for _name, _kind, _names, _model, _first, _second in (
        ("absolute_difference", "absolute_difference", C_NAMES, _m_absdiff, "predictions",
         "labels"),
        ("mean_squared_error", "squared", C_NAMES, _m_sqdiff, "predictions", "labels"),
        ("sum_of_squares", "squared", OLD_NAMES, _m_sqdiff, "predictions", "targets"),
        ("log_loss", "log", C_NAMES, _m_log, "predictions", "labels"),
        ("log", "log", OLD_NAMES, _m_log, "predictions", "targets")):
    _wn = _names["w"]
    _kw = {"eps": _opt("epsilon", 1e-7)} if _model is _m_log else {}
    _loss = {"absolute_difference": "absolute_difference", "squared": "mean_squared_error",
             "log": "log_loss"}[_kind]
    _z, _p = (Z2, P2) if _kind == "log" else (CL, CP)
    _contrib_entry(
        _name, (_second, _first, _wn), _c_elementwise(_kind, _first, _second),
        _pair_strategy(_loss, _names, "contrib"),
        _scale_pair(_model, _second, _first, core=False, **_kw),
        dict(_C_TOL, **{_first: _grad_tol("the element-wise derivative (as the core loss)"),
                        _second: _grad_tol("its negative")}),
        ([ex("sec. 2.3 data, scalar weight", {_first: _p, _second: _z}),
         ex("weights [B] align with the leading dim", {_first: _p, _second: _z,
                                                       _wn: f32([2, 0.5])}),
         ex("weights [B,1] (squeezed)", {_first: _p, _second: _z, _wn: f64([[0], [1.5]])},
            dtype="float32"),
         ex("full weights with zeros", {_first: f64(_p), _second: f64(_z),
                                        _wn: f64(np.array([[1, 0], [0, 3]] if _kind == "log"
                                                          else [[1, 0, 2], [0, 0, 3]]))}),
         ex("weights [1]: one leading weight, n = its count x trailing size",
            {_first: _p, _second: _z, _wn: f32([2])}),
         ex("zero scalar weight -> 0", {_first: _p, _second: _z, _wn: 0.0})]
         if _names is C_NAMES else
         [ex("sec. 2.3 data, weight [B] (the 2016 names)", {_first: _p, _second: _z,
                                                           _wn: f32([2, 0.5])}),
          ex("weights= accepted for weight=", {_first: f64(_p), _second: f64(_z),
                                               "weights": f64([[0], [1.5]])})]),
        _contrib_errors(_first, _second, _wn), convert_like=_first,
        overflows=_ovf)

_contrib_entry(
    "compute_weighted_loss", ("losses", "weights"), _c_weighted,
    lambda mode, key: sl.weighted_loss_cases(mode, key, "contrib"),
    lambda case, ref, dy: scale_cwl(case, ref, dy, contrib=True),
    dict(_C_TOL, losses=Tol(8, "w dy / #present: two roundings")),
    [ex("sec. 2.2 data, weights 2.0", {"losses": L23, "weights": 2.0}),
     ex("weights [B] (contrib accepts them)", {"losses": L23, "weights": f32([0.5, 0])}),
     ex("weights [B,1]", {"losses": f64(L23), "weights": f64([[0.5], [2]])}),
     ex("rank-3 losses, weights [B, T]",
        {"losses": np.arange(12, dtype=np.float32).reshape(2, 3, 2),
         "weights": f32([[1, 0, 2], [0, 0, 3]])}),
     ex("all-zero weights -> 0", {"losses": L23, "weights": f32([0, 0])}),
     ex("NaN loss under a zero weight, nothing present -> 0", {"losses": f32([[np.nan, 1]]),
                                                               "weights": f32([0])})],
    [err("weights of another leading size", {"losses": L23, "weights": f32([1, 2, 3])},
         "InvalidArgumentError", "ValueError", "weights align with the leading dims")],
    convert_like="losses", overflows=_ovf)

_contrib_entry(
    "cosine_distance", ("labels", "predictions", "weights"), _c_cosine,
    lambda mode, key: sl.cosine_cases(mode, key, C_NAMES, "contrib"),
    lambda case, ref, dy: scale_cosine(case, ref, dy, contrib=True),
    dict(_C_TOL, predictions=_grad_tol("-labels"), labels=_grad_tol("-predictions")),
    [ex("sec. 2.3 data, axis 1", {"predictions": f32([[.8, .6], [0, 1]]),
                                  "labels": f32([[.6, .8], [1, 0]])}, {"axis": 1}),
     ex("dim alias, weights [B]", {"predictions": f32([[.8, .6], [0, 1]]),
                                   "labels": f32([[.6, .8], [1, 0]]), "weights": f32([1, 3])},
        {"dim": 1})],
    [err("no axis", {"predictions": f32([[1, 0]]), "labels": f32([[0, 1]])}, "ValueError",
         "ValueError", "axis is required"),
     err("both axis and dim", {"predictions": f32([[1, 0]]), "labels": f32([[0, 1]])},
         "ValueError", "ValueError", "Cannot specify both", {"axis": 1, "dim": 1})],
    convert_like="predictions", overflows=_ovf,
    notes="weights: scalar, [B] or [B,1] (with keepdims or not, the contrib reduction "
          "gives the same value for these)")


def scale_contrib_hinge(case, ref, dy):
    z = _arr(case.args["labels"])
    x = _arr(case.args["logits"])
    L, T, locs = _m_hinge(z, x, 0.0)
    d = np.abs(np.asarray(dy, np.float64))
    return {"value": T + np.abs(L), "logits": _chain(locs["p"], d, 2 * d),
            "labels": _chain(locs["l"], d, 2 * d)}


_contrib_entry(
    "hinge_loss", ("labels", "logits"), _c_hinge,
    _pair_strategy("hinge_loss", {"a": "labels", "b": "logits", "w": None}, "contrib"),
    scale_contrib_hinge,
    {"value": Tol(8, "relu(1 - t x), t = 2z - 1: three roundings"),
     "logits": Tol(8, "-t [m > 0] dy"), "labels": Tol(8, "-2x [m > 0] dy")},
    [ex("unreduced per-element result", {"logits": f32([[.3, -2], [1.5, .2]]), "labels": Z2}),
     ex("float64 logits (computed in float64)", {"logits": f64([[1, -1, 0.25]]),
                                                 "labels": f64([[1, 0, 0.5]])})],
    [err("incompatible shapes", {"logits": np.zeros((2, 3), np.float32),
                                 "labels": np.zeros((3, 2), np.float32)},
         "ValueError", "ValueError", "shapes incompatible")],
    narrowed=(), notes="unreduced; labels cast to the logits' dtype")


def _c_pairwise_strategy(names):
    def cases(mode, key):
        return sl.pairwise_cases(mode, key, names, "contrib")
    return cases


for _name, _names in (("mean_pairwise_squared_error", C_NAMES),
                      ("sum_of_pairwise_squares", OLD_NAMES)):
    _a, _b, _wn = _names["a"], _names["b"], _names["w"]
    _contrib_entry(
        _name, (_a, _b, _wn), _c_pairwise(_b, _a), _c_pairwise_strategy(_names),
        lambda case, ref, dy, _n=(_a, _b, _wn): scale_pairwise(case, ref, dy, False, _n),
        {"value": Tol(8, "per example 2 S2/n - 2 S1^2/n^2 (cancellation judged against "
                         "both), times the weights, summed"),
         _wn: Tol(8, "t_i dy"), _b: _grad_tol("4 d/n - 4 S1/n^2"), _a: _grad_tol("its negative")},
        [ex("sec. 2.6 data: 5.444444 (core graph value 8.166666)", {_b: CP, _a: CL}),
         ex("weights [B]", {_b: CP, _a: CL, _wn: f32([2, 1])}),
         ex("a zero weight removes the example", {_b: f64(CP), _a: f64(CL),
                                                  _wn: f64([0, 1])}),
         ex("rank 3", {_b: np.cos(np.arange(12.0)).reshape(2, 3, 2),
                       _a: np.arange(12, dtype=np.float64).reshape(2, 3, 2)})],
        [err("incompatible shapes", {_b: CP, _a: CL[:, :2]}, "ValueError", "ValueError",
             "shapes incompatible")],
        convert_like=_b, overflows=_ovf,
        notes="weights: scalar or [B] (TF 1.x pairwise neither squeezed [B,1] nor aligned "
              "full-shape weights)")

_contrib_entry(
    "sigmoid_cross_entropy", ("multi_class_labels", "logits", "weights"), _c_sigmoid,
    lambda mode, key: sl.sigmoid_cases(mode, key, {"a": "multi_class_labels", "b": "logits"},
                                       "contrib"),
    lambda case, ref, dy: scale_sigmoid(case, ref, dy, contrib=True),
    dict(_C_TOL, logits=_grad_tol("sigmoid(x) - z'"),
         multi_class_labels=_grad_tol("-x (1 - label_smoothing)")),
    [ex("sec. 2.3 data, ls 0.2", {"logits": XS, "multi_class_labels": ZS},
        {"label_smoothing": 0.2}),
     ex("weights [B]", {"logits": f64(XS), "multi_class_labels": f64(ZS),
                        "weights": f64([1, 0.25])})],
    [err("weights of another leading size", {"logits": XS, "multi_class_labels": ZS,
                                              "weights": f32([1, 2, 3])},
         "InvalidArgumentError", "ValueError", "leading dims")],
    convert_like="logits")

_contrib_entry(
    "softmax_cross_entropy", ("logits", "weights"), _c_softmax,
    lambda mode, key: sl.softmax_cases(mode, key, {"a": "onehot_labels", "b": "logits"},
                                       "contrib"),
    lambda case, ref, dy: scale_softmax_loss(case, ref, dy, contrib=True),
    dict(_C_TOL, logits=_grad_tol("softmax - y' (labels stopped, v1 xent)")),
    [ex("sec. 2.3 data, weights [B], ls 0.2", {"logits": XSM, "onehot_labels": YS,
                                               "weights": f32([.3, .7])},
        {"label_smoothing": 0.2}),
     ex("weights [B,1] (squeezed)", {"logits": f64(XSM), "onehot_labels": f64(YS),
                                     "weights": f64([[.3], [.7]])})],
    [err("labels of another class count", {"logits": XSM, "onehot_labels": YS[:, :2]},
         "ValueError", "ValueError", "shapes incompatible")],
    convert_like="logits")

_contrib_entry(
    "sparse_softmax_cross_entropy", ("logits", "weights"), _c_sparse,
    lambda mode, key: sl.sparse_cases(mode, key, {"a": "labels", "b": "logits"}, "contrib"),
    lambda case, ref, dy: scale_sparse_loss(case, ref, dy, contrib=True),
    dict(_C_TOL, logits=_grad_tol("softmax - onehot")),
    [ex("sec. 2.3 data, weights [B]", {"logits": XSM, "labels": LAB, "weights": f32([.3, .7])}),
     ex("labels [B,1]", {"logits": f64(XSM), "labels": LAB.reshape(2, 1)})],
    [err("label out of range", {"logits": XSM, "labels": np.array([0, 5], np.int64)},
         "InvalidArgumentError", "InvalidArgumentError", "label outside [0, C)",
         mention=("5",))],
    convert_like="logits")


# ====================================================== loss collections ===
# Scenarios: JSON-friendly steps (arrays are rebuilt from a seed), run in a
# TF 1.x graph and in a cyloss collection() block. A step is a dict:
#   {"op": "loss", "fn": name, "dtype": d, "seed": s, "kw": {...}}
#   {"op": "add", "value": float | {"dtype": d, "shape": [...], "seed": s},
#    "collection": c (omitted: default), "scope": str (omitted: none)}
#   {"op": <getter>, "kw": {...}}            (a query: its result is compared)

GROUP_F32 = ("absolute_difference", "mean_squared_error", "huber_loss", "log_loss",
             "hinge_loss", "cosine_distance", "mean_pairwise_squared_error")
GROUP_KEEP = ("compute_weighted_loss", "sigmoid_cross_entropy", "softmax_cross_entropy",
              "sparse_softmax_cross_entropy")
CONTRIB_LOSSES = ("absolute_difference", "mean_squared_error", "sum_of_squares", "log_loss",
                  "log", "compute_weighted_loss", "cosine_distance",
                  "mean_pairwise_squared_error", "sum_of_pairwise_squares",
                  "sigmoid_cross_entropy", "softmax_cross_entropy",
                  "sparse_softmax_cross_entropy")
CONTRIB_CALL = {
    "absolute_difference": lambda tf, a, o: _c_elementwise("absolute_difference")(tf, a, o),
    "mean_squared_error": lambda tf, a, o: _c_elementwise("squared")(tf, a, o),
    "sum_of_squares": lambda tf, a, o: _c_elementwise("squared", "predictions",
                                                      "targets")(tf, a, o),
    "log_loss": lambda tf, a, o: _c_elementwise("log")(tf, a, o),
    "log": lambda tf, a, o: _c_elementwise("log", "predictions", "targets")(tf, a, o),
    "compute_weighted_loss": _c_weighted, "cosine_distance": _c_cosine,
    "mean_pairwise_squared_error": lambda tf, a, o: _c_pairwise()(tf, a, o),
    "sum_of_pairwise_squares": lambda tf, a, o: _c_pairwise("predictions", "targets")(tf, a, o),
    "sigmoid_cross_entropy": _c_sigmoid, "softmax_cross_entropy": _c_softmax,
    "sparse_softmax_cross_entropy": _c_sparse,
}


def _scenario_inputs(fn, dtype, seed, contrib):
    """(arguments, options) of a loss step: small well-conditioned inputs
    (the numerics are the loss entries' business; here the bookkeeping is)."""
    rng = np.random.default_rng(seed)
    b, c = 2 + int(rng.integers(0, 3)), 3 + int(rng.integers(0, 3))
    x = rng.standard_normal((b, c)).astype(dtype)
    u = rng.uniform(0.05, 0.95, (b, c)).astype(dtype)
    z = rng.integers(0, 2, (b, c)).astype(dtype)
    w = rng.uniform(0.5, 2, (b, 1)).astype(dtype)
    lab, pred = ("targets", "predictions") if fn in ("sum_of_squares", "log",
                                                    "sum_of_pairwise_squares") \
        else ("labels", "predictions")
    wkey = "weight" if lab == "targets" else "weights"
    o = {}
    if fn == "compute_weighted_loss":
        a = {"losses": np.abs(x)}
    elif fn in ("log_loss", "log"):
        a = {lab: z, pred: u}
    elif fn == "hinge_loss":
        a = {"labels": z, "logits": x}
    elif fn == "cosine_distance":
        a = {lab: u, pred: x}
        o = {"axis": 1}
    elif fn == "sigmoid_cross_entropy":
        a = {"multi_class_labels": z, "logits": x}
    elif fn == "softmax_cross_entropy":
        a = {"onehot_labels": np.eye(c, dtype=dtype)[rng.integers(0, c, b)], "logits": x}
    elif fn == "sparse_softmax_cross_entropy":
        a = {"labels": rng.integers(0, c, b).astype(np.int32), "logits": x}
    else:
        a = {lab: u, pred: x}
    if rng.random() < 0.5 and fn != "hinge_loss":
        a[wkey] = w[:, 0] if (contrib or fn in ("softmax_cross_entropy",
                                                 "sparse_softmax_cross_entropy")) else w
    if fn == "cosine_distance" and not contrib and wkey in a:
        a[wkey] = w
    return a, o


def _value_of(tf, v):
    """An 'add' step's value: a Python float (kept as is: TF stores it, and
    its add_n makes it float32), or an array of a dtype with a given value or
    values drawn from a seed."""
    if isinstance(v, dict):
        if "value" in v:
            return np.asarray(v["value"], v["dtype"])
        rng = np.random.default_rng(v["seed"])
        return np.asarray(rng.uniform(0.5, 2, v["shape"]), v["dtype"])
    return v


def _tf_scenario(steps, contrib):
    """Run the steps in a TF 1.x graph; returns [(step index, result or
    exception)] for the queries and failing steps."""
    tf = oracle.tf()
    L = tf.compat.v1.losses
    out, fetch = [], []
    graph = tf.Graph()
    with graph.as_default():
        for i, s in enumerate(steps):
            kw = dict(s.get("kw", {}))
            try:
                if s["op"] == "loss":
                    a, o = _scenario_inputs(s["fn"], s["dtype"], s["seed"], contrib)
                    if contrib:
                        with tf.compat.v1.name_scope(kw.pop("scope")):
                            t = tf.identity(CONTRIB_CALL[s["fn"]](tf, a, o), name="value")
                        tf.compat.v1.add_to_collection("losses", t)
                    else:
                        getattr(L, s["fn"])(**a, **o, **kw)
                elif s["op"] == "add":
                    v = _value_of(tf, s["value"])
                    if s.get("scope") is not None:
                        with tf.compat.v1.name_scope(s["scope"]):
                            v = tf.constant(v, name="value")
                    elif not isinstance(v, float):
                        v = tf.constant(v)
                    if "collection" in s:
                        L.add_loss(v, s["collection"])
                    else:
                        L.add_loss(v)
                else:
                    r = getattr(L, s["op"])(**kw)
                    out.append((i, r))
                    fetch.append(r)
            except Exception as e:          # recorded, compared with cyloss' exception
                out.append((i, e))
        tensors = []
        for r in fetch:
            for t in (r if isinstance(r, list) else [r]):
                if tf.is_tensor(t):
                    tensors.append(t)
        vals = {}
        if tensors:
            with tf.compat.v1.Session(graph=graph) as sess:
                vals = dict(zip([t.ref() for t in tensors], sess.run(tensors)))
    res = []
    for i, r in out:
        if isinstance(r, Exception):
            res.append((i, r))
        elif isinstance(r, list):
            res.append((i, [vals[t.ref()] if tf.is_tensor(t) else t for t in r]))
        else:
            res.append((i, vals[r.ref()] if tf.is_tensor(r) else r))
    return res


def _cy_scenario(steps, contrib):
    L = cy_contrib if contrib else cy_losses
    out = []
    with cy_losses.collection():
        for i, s in enumerate(steps):
            kw = dict(s.get("kw", {}))
            try:
                if s["op"] == "loss":
                    a, o = _scenario_inputs(s["fn"], s["dtype"], s["seed"], contrib)
                    getattr(L, s["fn"])(**a, **o, **kw)
                elif s["op"] == "add":
                    v = _value_of(None, s["value"])
                    kw = {} if s.get("scope") is None else {"scope": s["scope"]}
                    if "collection" in s:
                        L.add_loss(v, s["collection"], **kw)
                    else:
                        L.add_loss(v, **kw)
                else:
                    out.append((i, getattr(L, s["op"])(**kw)))
            except Exception as e:
                out.append((i, e))
    return out


SCENARIO_TOL = Tol(16, "bookkeeping: each member is a loss already checked by its own entry "
                       "(well-conditioned inputs here); sums of up to a dozen members in "
                       "TF's add_n order (cyloss adds left to right)")


def _compare_member(what, got, exp):
    """float64 members: TF computed them through float32 (and may return
    float32): compared at float32's eps, cyloss' dtype float64 (Narrowing).
    Reported as output "value", the step in the detail."""
    g, e = np.asarray(got), np.asarray(exp)
    widened = None
    if g.dtype != e.dtype and g.dtype == np.float64 and e.dtype == np.float32:
        widened = "float64"         # a float64 loss TF narrowed (API.md "never narrows")
    scale = np.abs(e.astype(np.float64)) if e.dtype.kind == "f" else 1.0
    c = compare("value", g, e, scale, SCENARIO_TOL.k,
                dtype="float32" if g.dtype.kind == "f" else None, widened=widened)
    if not c.ok:
        c.detail = f"{what}: {c.detail}"
    return c


def _msg(e):
    return f": {str(e).splitlines()[0][:120]}" if isinstance(e, Exception) and str(e) else ""


def run_scenario(entry, case):
    """engine hook (Entry.check): TF graph vs cyloss collection, query by query."""
    from .engine import CaseResult, _finish
    res = CaseResult(case, ok=True)
    contrib = entry.key.startswith("contrib.")
    steps = case.args["steps"]
    if (cy_contrib if contrib else cy_losses) is None:
        res.problems.append("cyloss namespace missing")
        _finish(res)
        return res
    try:
        tf_out = dict(_tf_scenario(steps, contrib))
    except Exception as e:      # pragma: no cover - a harness bug, reported as such
        res.problems.append(f"harness: the TF scenario failed: {type(e).__name__}: {e}")
        _finish(res)
        return res
    cy_out = dict(_cy_scenario(steps, contrib))
    for i in sorted(set(tf_out) | set(cy_out)):
        s = steps[i]
        what = f"step {i} {s['op']}({', '.join(f'{k}={v!r}' for k, v in s.get('kw', {}).items())})"
        t, c = tf_out.get(i), cy_out.get(i)
        if isinstance(t, Exception) or isinstance(c, Exception):
            tn = type(t).__name__ if isinstance(t, Exception) else "no error"
            cn = type(c).__name__ if isinstance(c, Exception) else "no error"
            if tn != cn:
                res.problems.append(f"{what}: TF raised {tn}{_msg(t)}, cyloss {cn}{_msg(c)}")
            continue
        if isinstance(t, list) or isinstance(c, list):
            if not (isinstance(t, list) and isinstance(c, list)) or len(t) != len(c):
                res.problems.append(f"{what}: TF returned {len(t) if isinstance(t, list) else t!r}"
                                    f" members, cyloss {len(c) if isinstance(c, list) else c!r}")
                continue
            for j, (tj, cj) in enumerate(zip(t, c)):
                res.comparisons.append(_compare_member(f"{what}[{j}]", cj, tj))
        else:
            res.comparisons.append(_compare_member(what, c, t))
    _finish(res)
    return res


SCOPES = ("foo", "foo", "bar", "foo_1", "layer/", "Foo")
FILTERS = ("foo", "fo", "b.r", "bar", "foo_1", "nothing", "layer", "abs", "sparse", "FOO")


def _step_loss(draw, fns, dtype, contrib):
    fn = draw(st.sampled_from(fns))
    kw = {}
    scope = draw(st.sampled_from((None,) + SCOPES))
    if contrib:
        kw["scope"] = scope or "unnamed"
    else:
        if scope is not None:
            kw["scope"] = scope
        coll = draw(st.sampled_from(("omit", "omit", "omit", "regularization_losses", None,
                                     "", "extra")))
        if coll != "omit":
            kw["loss_collection"] = coll
        if fn != "mean_pairwise_squared_error" and draw(st.sampled_from((False,) * 7 + (True,))):
            kw["reduction"] = draw(st.sampled_from(("none", "weighted_sum")))
    return {"op": "loss", "fn": fn, "dtype": dtype, "seed": draw(st.integers(0, 2**16)),
            "kw": kw}


def _step_add(draw, dtype):
    """A Python float only unscoped and in float32 scenarios: TF's add_n turns
    a Python float into float32 (so it cannot join float64 members), cyloss
    lets it take the other members' dtype; that difference is one fixed case
    (losses.get_total_loss), not a random failure."""
    scope = draw(st.sampled_from((None, None) + SCOPES))
    forms = ("float", "scalar", "scalar", "vector", "other-dtype")
    if scope is not None or dtype != "float32":
        forms = forms[1:]
    form = draw(st.sampled_from(forms))
    if form == "float":
        value = draw(st.sampled_from((0.5, 10.0, 0.25, 3.0)))
    else:
        shape = [3] if form == "vector" else []
        dt = ("float64" if dtype == "float32" else "float32") if form == "other-dtype" else dtype
        value = {"dtype": dt, "shape": shape, "seed": draw(st.integers(0, 2**16))}
    s = {"op": "add", "value": value}
    coll = draw(st.sampled_from(("omit", "losses", "regularization_losses",
                                 "regularization_losses", None)))
    if coll != "omit":
        s["collection"] = coll
    if scope is not None:
        s["scope"] = scope
    return s


def _step_query(draw, contrib, focus):
    ops = ["get_losses", "get_regularization_losses", "get_total_loss"]
    if not contrib:
        ops.append("get_regularization_loss")
    op = focus if focus in ops and draw(st.booleans()) else draw(st.sampled_from(ops))
    kw = {}
    filt = draw(st.sampled_from((None, None) + FILTERS))
    if op == "get_total_loss":
        if draw(st.booleans()):
            kw["add_regularization_losses"] = draw(st.booleans())
        if filt is not None and not contrib:
            kw["scope"] = filt
    elif filt is not None:
        kw["scope"] = filt
    if op == "get_losses" and draw(st.sampled_from((False, False, True))):
        kw["loss_collection"] = draw(st.sampled_from(("regularization_losses", "extra")))
    return {"op": op, "kw": kw}


@st.composite
def scenario_cases(draw, mode, fn, contrib, focus):
    """A random scenario: some losses (one dtype; float64 only with the
    functions whose TF result keeps float64, so that TF's narrowing does not
    change which add_n calls mix dtypes), some add_loss calls, queries."""
    dtype = draw(st.sampled_from(("float32", "float32", "float64")))
    if contrib:
        fns = CONTRIB_LOSSES if dtype == "float32" else ("compute_weighted_loss",
                                                         "sigmoid_cross_entropy",
                                                         "softmax_cross_entropy",
                                                         "sparse_softmax_cross_entropy")
    else:
        fns = GROUP_F32 + GROUP_KEEP if dtype == "float32" else GROUP_KEEP
    steps = []
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(("loss", "loss", "add", "query")))
        if kind == "loss":
            steps.append(_step_loss(draw, fns, dtype, contrib))
        elif kind == "add":
            steps.append(_step_add(draw, dtype))
        else:
            steps.append(_step_query(draw, contrib, focus))
    for _ in range(draw(st.integers(1, 3))):
        steps.append(_step_query(draw, contrib, focus))
    return Case(fn, {"steps": steps}, {}, dtype=dtype,
                kind=f"{len(steps)} steps/{dtype}", seed=0)


def scenario(label, steps, dtype="float32"):
    return Case("", {"steps": steps}, {}, dtype=dtype, kind="fixed", label=label)


def _loss(fn, seed=1, dtype="float32", **kw):
    return {"op": "loss", "fn": fn, "dtype": dtype, "seed": seed, "kw": kw}


def _add_step(value, collection="omit", scope=None):
    s = {"op": "add", "value": value}
    if collection != "omit":
        s["collection"] = collection
    if scope is not None:
        s["scope"] = scope
    return s


def _q(op, **kw):
    return {"op": op, "kw": kw}


# The TF_SEMANTICS sec. 2.5 example: losses 2.0 ('foo/...') and 1.0, add_loss(10.0),
# regularization 0.5 and 0.25 (the second in 'foo_1/...').
def _f32(v):
    return {"dtype": "float32", "value": v}


SEC25 = [
    _add_step(_f32(2.0), scope="foo"), _add_step(_f32(1.0), scope="bar"), _add_step(10.0),
    _add_step(_f32(0.5), "regularization_losses", scope="reg"),
    _add_step(_f32(0.25), "regularization_losses", scope="foo"),
]
CORE_SCENARIOS = {
    "add_loss": [
        scenario("sec. 2.5 collections", SEC25 + [_q("get_losses"),
                                                  _q("get_regularization_losses")]),
        scenario("loss_collection None / '' adds nothing",
                 [_add_step(1.0, None), _add_step(2.0, ""), _add_step(3.0, "losses"),
                  _q("get_losses")]),
        scenario("duplicates count twice", [_add_step(_f32(1.5), scope="foo"),
                                            _add_step(_f32(1.5), scope="foo"),
                                            _q("get_total_loss")]),
        scenario("every loss adds its result (NONE too) unless loss_collection is None",
                 [_loss("absolute_difference"), _loss("sigmoid_cross_entropy", seed=2),
                  _loss("hinge_loss", loss_collection=None),
                  _loss("mean_squared_error", reduction="none"), _q("get_losses")]),
    ],
    "get_losses": [
        scenario("scope is re.match on the name: 'fo', 'foo' (foo_1 too), 'b.r'",
                 [_loss("absolute_difference", scope="foo"),
                  _loss("mean_squared_error", scope="foo"), _loss("huber_loss", scope="bar"),
                  _add_step(3.0), _q("get_losses", scope="fo"), _q("get_losses", scope="foo"),
                  _q("get_losses", scope="b.r"), _q("get_losses", scope="foo_1"),
                  _q("get_losses", scope="FOO")]),
        scenario("default scope names", [_loss("softmax_cross_entropy"),
                                         _loss("compute_weighted_loss"),
                                         _loss("cosine_distance"),
                                         _q("get_losses", scope="softmax"),
                                         _q("get_losses", scope="weighted"),
                                         _q("get_losses", scope="cosine_distance_loss")]),
        scenario("another collection", [_loss("log_loss", loss_collection="extra"),
                                        _q("get_losses"),
                                        _q("get_losses", loss_collection="extra")]),
    ],
    "get_regularization_losses": [
        scenario("sec. 2.5", SEC25 + [_q("get_regularization_losses"),
                                      _q("get_regularization_losses", scope="foo")]),
    ],
    "get_regularization_loss": [
        scenario("sec. 2.5: 0.75, scope foo 0.25, scope nothing 0.0",
                 SEC25 + [_q("get_regularization_loss"),
                          _q("get_regularization_loss", scope="foo"),
                          _q("get_regularization_loss", scope="nothing")]),
        scenario("none at all: float32 0.0", [_q("get_regularization_loss")]),
        scenario("float64 members stay float64",
                 [_add_step({"dtype": "float64", "shape": [], "seed": 3},
                            "regularization_losses", scope="r"),
                  _add_step({"dtype": "float64", "shape": [], "seed": 4},
                            "regularization_losses"), _q("get_regularization_loss")],
                 dtype="float64"),
    ],
    "get_total_loss": [
        scenario("sec. 2.5: 13.75, without regularization 13.0, scope foo 2.25",
                 SEC25 + [_q("get_total_loss"),
                          _q("get_total_loss", add_regularization_losses=False),
                          _q("get_total_loss", scope="foo")]),
        scenario("empty -> ValueError", [_q("get_total_loss")]),
        scenario("mixed dtypes -> TypeError",
                 [_add_step({"dtype": "float32", "shape": [], "seed": 1}),
                  _add_step({"dtype": "float64", "shape": [], "seed": 2}),
                  _q("get_total_loss")]),
        scenario("mixed shapes (a NONE loss) -> ValueError",
                 [_loss("absolute_difference"), _loss("huber_loss", reduction="none"),
                  _q("get_total_loss")]),
        scenario("float64 cross-entropies sum in float64",
                 [_loss("sparse_softmax_cross_entropy", dtype="float64"),
                  _loss("softmax_cross_entropy", seed=5, dtype="float64"),
                  _q("get_total_loss")], dtype="float64"),
        scenario("a Python float with float64 members: TF's add_n makes it float32 "
                 "-> TypeError",
                 [_loss("sparse_softmax_cross_entropy", dtype="float64"), _add_step(0.5),
                  _q("get_total_loss")], dtype="float64"),
    ],
}

CONTRIB_SCENARIOS = {
    "add_loss": [scenario("sec. 2.5 collections", SEC25 + [_q("get_losses")])],
    "get_losses": [
        scenario("contrib losses add to 'losses'",
                 [_loss("absolute_difference", scope="foo"), _loss("log", scope="bar"),
                  _loss("sum_of_pairwise_squares", scope="foo"),
                  _q("get_losses"), _q("get_losses", scope="foo")])],
    "get_regularization_losses": [
        scenario("sec. 2.5", SEC25 + [_q("get_regularization_losses", scope="foo")])],
    "get_total_loss": [
        scenario("sec. 2.5: 13.75 and 13.0", SEC25 + [
            _q("get_total_loss"), _q("get_total_loss", add_regularization_losses=False)]),
        scenario("empty -> ValueError", [_q("get_total_loss")])],
}


def _collection_entry(ns, name, fixed):
    contrib = ns == "contrib.losses"
    module = cy_contrib if contrib else cy_losses
    tf_fn = (lambda tf, _n=name: getattr(_TF1Contrib, _n)) if contrib else \
        (lambda tf, _n=name: getattr(tf.compat.v1.losses, _n))
    return _add(Entry(
        key=f"{ns}.{name}", fn=_cy(module, name), tf_fn=tf_fn, call_tf=None, wrt=(),
        cases=lambda mode, key, _c=contrib, _f=name: scenario_cases(mode, key, _c, _f),
        scale=None, tol={"value": SCENARIO_TOL}, examples=fixed, check=run_scenario,
        budget={"quick": 15, "full": 100},
        notes="scenarios in a TF 1.x graph (tf.Graph().as_default(), TF_SEMANTICS sec. 2.5) "
              "vs a cyloss collection() block: each query's members, order, values, dtypes "
              "and errors; cyloss names an added value with add_loss(..., scope=...), TF "
              "with a name scope around it"))


for _name, _fixed in CORE_SCENARIOS.items():
    _collection_entry("losses", _name, _fixed)
for _name, _fixed in CONTRIB_SCENARIOS.items():
    _collection_entry("contrib.losses", _name, _fixed)


# ------------------------------------------------------------- Reduction --

def run_reduction(entry, case):
    """engine hook: cyloss.losses.Reduction's constants, all() and validate()
    against tf.compat.v1.losses.Reduction."""
    from .engine import CaseResult, _finish
    res = CaseResult(case, ok=True)
    tfR = oracle.tf().compat.v1.losses.Reduction
    cyR = entry.fn
    for attr in ("NONE", "SUM", "SUM_OVER_BATCH_SIZE", "MEAN", "SUM_BY_NONZERO_WEIGHTS",
                 "SUM_OVER_NONZERO_WEIGHTS"):
        if getattr(cyR, attr, None) != getattr(tfR, attr):
            res.problems.append(f"Reduction.{attr}: {getattr(cyR, attr, None)!r} != TF's "
                                f"{getattr(tfR, attr)!r}")
    if tuple(cyR.all()) != tuple(tfR.all()):
        res.problems.append(f"Reduction.all(): {cyR.all()!r} != TF's {tfR.all()!r}")
    compare_validate(tfR, cyR, case.args["keys"], res)
    _finish(res)
    return res


def compare_validate(tfR, cyR, keys, res):
    """Reduction.validate(key) must accept or raise (the same class) as TF's
    does, for every key; differences are added to res.problems. (Shared with
    the Keras Reduction entry.)"""
    for key in keys:
        outcome = []
        for R in (tfR, cyR):
            try:
                R.validate(key)
                outcome.append("ok")
            except Exception as e:      # noqa: BLE001 - the class is what is compared
                outcome.append(type(e).__name__)
        if outcome[0] != outcome[1]:
            res.problems.append(f"Reduction.validate({key!r}): TF {outcome[0]}, cyloss "
                                f"{outcome[1]}")


@st.composite
def reduction_cases(draw, mode, fn):
    keys = draw(st.lists(st.one_of(
        st.sampled_from(sl.REDUCTIONS + ("mean", "sum", "auto", "NONE", "weighted_sum ",
                                         "sum_over_batch_size", "")),
        st.text(max_size=12)), min_size=1, max_size=6))
    return Case(fn, {"keys": keys}, {}, dtype="", kind="keys", seed=0)


_add(Entry(
    key="losses.Reduction", fn=_cy(cy_losses, "Reduction"),
    tf_fn=lambda tf: tf.compat.v1.losses.Reduction, call_tf=None, wrt=(),
    cases=reduction_cases, scale=None,
    tol={"value": Tol(0, "string constants: equal")},
    examples=[Case("", {"keys": list(sl.REDUCTIONS) + ["mean", "sum", "auto"]}, {}, dtype="",
                   kind="fixed", label="the six keys and Keras' strings")],
    check=run_reduction, budget={"quick": 15, "full": 100},
    notes="constants, all() and validate() against tf.compat.v1.losses.Reduction"))
