"""Shared pieces of the cyloss.keras conformance entries (tf.keras.losses,
TF_SEMANTICS.md sec. 4), used by registry_keras.py (cross-entropies, Circle,
CTC) and registry_keras_more.py (regression, hinge, KL, Poisson, cosine,
Dice, Tversky, Loss/Reduction/get/serialize ...).

How to use (everything below is importable as `from . import samples_keras as sk`):

* `sk.cy(name)`: the public `cyloss.keras.<name>`, or a stand-in that fails
  every case while the name does not exist yet.

* Function forms (`keras.categorical_crossentropy`, ...): an ordinary Entry,
  `fn=sk.cy(name)`, `tf_fn=sk.tf_fn(name)`, `call_tf=sk.tf_function(name)`,
  args `{"y_true": ..., "y_pred": ...}` and the keyword options of the
  function. They compute in y_pred's dtype (no Narrowing).

* Classes (`keras.CategoricalCrossentropy`, ...): build them with
  `sk.class_entry(name, wrt=("y_true", "y_pred", "sample_weight"), cases=...,
  scale=..., tol=..., examples=..., errors=..., **other Entry fields)`.
  A case's args are `{"y_true", "y_pred"[, "sample_weight"]}` and its options
  are the CONSTRUCTOR arguments (from_logits, reduction, dtype, ...). The
  Entry's `fn` is the public class (so the completeness/signature tests see
  the real object and compare the constructor's signature with Keras'), its
  `wrt` is () (the class' signature has no y_pred) and its `check` runs each
  case through the normal engine with a twin Entry whose `fn` is
  `sk.adapter(name)` -- a function `(y_true, y_pred, sample_weight=None,
  **ctor)` carrying `_cyloss_impl` that builds `cyloss.keras.<name>(**ctor)`
  and calls it (plain call) or `cyloss.vjp(instance, ...)` (gradients) --
  and whose `call_tf` is `sk.tf_class(name)`: `tf.keras.losses.<name>(**ctor)
  (y_true, y_pred, sample_weight=...)` under the engine's GradientTape (eager,
  oneDNN off, plain tensors: never a Softmax op's output, TF_SEMANTICS 4.2).
  The class entry gets `sk.KerasNarrowing(outputs)` automatically.

* `case.dtype` of a class case is the COMPUTE dtype: `sk.compute_dtype(y_pred,
  options)` -- the explicit `dtype=` option if given, else float64 for float64
  y_pred (cyloss never narrows) and float32 otherwise. `sk.KerasNarrowing`
  applies when `dtype` is None/absent and the case dtype is float64: Keras
  then computes in float32 (value returned in float32, gradients in float64
  from float32 arithmetic) and the comparison is in units of float32's eps
  (the scale functions add the rounding of the inputs to float32 with
  `sk.nar(case)`: 1.0 on such a narrowed CLASS case, 0 otherwise -- function
  forms never narrow; `sk.is_class(case)` tells class cases apart, via the
  keys class_entry registered), never with a loosened k. `always=True` in
  class_entry: Keras narrows even under dtype="float64" (CTC). A narrowed
  case whose terms leave float32's range (the entry's `overflows`) is instead
  compared with TF computing in float64 (KerasNarrowing.wide_reference).

* Strategies: `sk.draw_reduction(draw, options)` (omitted or one of the six
  values, None included), `sk.draw_dtype_option(draw, dtype, options)`,
  `sk.draw_sample_weight(draw, rng, values_shape, dtype)` -> (weight or None,
  label, Expect or None): omitted, 0-d, [B], [B,1], full, full+[1], leading
  dims with ones, trailing-size-1 forms, in the data's dtype, the other float
  dtype or int32, with uniform / some-zero / all-zero / ones / signed values,
  and about 1 in 16 a shape Keras' broadcasting rejects (the Expect then
  says InvalidArgumentError from TF and from cyloss). `sk.weighted_shape`
  emulates Keras' rank fix + broadcasting (4.1 steps 4-5).

* Scales: `sk.keras_reduce(case, L, T, dy, mask=None)` carries a per-sample
  loss L (the shape of Keras' unreduced values) with the magnitude T of its
  error terms through the weighting and the reduction; it returns
  (value scale, G, GT, sample_weight scale or None), G = |upstream gradient
  of each L element|, GT = the magnitude of its error; a per-input gradient
  scale is then `sk.chain(loc, Tloc, G, GT)` = |loc| GT + Tloc G (G
  broadcast along any reduced axis by the caller). Tolerances stay
  k * eps * scale (see registry.py).

* Fixed cases: `sk.kex(label, args, options)` (dtype = the compute dtype)
  and registry.err for error parity.

* Cross-entropy / Circle / CTC strategies (registry_keras.py):
  `xent_strategy(loss, form)`, `strategy(circle_cases | ctc_cases, form)`.
"""
import dataclasses

import numpy as np
from hypothesis import strategies as st

from .compare import fin
from .samples import (INT_DTYPES, Case, Expect, _budget, _classes, _common, _dims, _rank,
                      logits_rows, real_values)

KERAS_REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none",
                    None)
CLASS_WRT = ("y_true", "y_pred", "sample_weight")
EPS32 = float(np.finfo(np.float32).eps)
K_EPS = 1e-7        # Keras' epsilon (backend.epsilon())


# ------------------------------------------------------------ the objects --

def _keras_module():
    try:
        import cyloss.keras as m
    except ImportError:         # pragma: no cover
        return None
    return m


def cy(name):
    """The public cyloss.keras object, or a stand-in that fails every case
    (the lead engineer is still writing it)."""
    m = _keras_module()
    obj = getattr(m, name, None) if m is not None else None
    if obj is not None:
        return obj

    def missing(*a, **k):
        raise NotImplementedError(f"cyloss.keras has no {name} yet")
    missing.__name__ = name
    return missing


def tf_fn(name):
    return lambda tf: getattr(tf.keras.losses, name)


def tf_function(name):
    """call_tf of a function form: tf.keras.losses.<name>(**args, **options)."""
    def call(tf, a, o):
        return getattr(tf.keras.losses, name)(**a, **o)
    return call


def tf_class(name, dtype=None):
    """call_tf of a class: tf.keras.losses.<name>(**options)(y_true, y_pred,
    sample_weight=...) (eager; the engine's GradientTape watches the inputs);
    `dtype`: the loss dtype TF is given instead of the case's (see
    KerasNarrowing.wide_reference)."""
    def call(tf, a, o):
        loss = getattr(tf.keras.losses, name)(**(o if dtype is None else dict(o, dtype=dtype)))
        return loss(a["y_true"], a["y_pred"], sample_weight=a.get("sample_weight"))
    return call


def adapter(name):
    """A registry-callable for a cyloss.keras class: `f(y_true, y_pred,
    sample_weight=None, **ctor)` builds `cyloss.keras.<name>(**ctor)` and calls
    it; `cyloss.vjp(f, ...)` returns `cyloss.vjp(instance, ...)`'s value and
    backward (the documented way to differentiate a loss instance)."""
    import cyloss

    def _cls():
        m = _keras_module()
        c = getattr(m, name, None) if m is not None else None
        if c is None:
            raise NotImplementedError(f"cyloss.keras has no {name} yet")
        return c

    def call(y_true, y_pred, sample_weight=None, **ctor):
        return _cls()(**ctor)(y_true, y_pred, sample_weight=sample_weight)

    def impl(ctx, y_true, y_pred, sample_weight=None, **ctor):
        inst = _cls()(**ctor)
        if not ctx.grad:
            return inst(y_true, y_pred, sample_weight=sample_weight), None
        value, backward = cyloss.vjp(inst, y_true, y_pred, sample_weight=sample_weight)
        return value, backward

    call.__name__ = f"{name}_adapter"
    call._cyloss_impl = impl
    call._cyloss_wrt = CLASS_WRT
    return call


def _class_check(name, wrt):
    twins = {}

    def check(entry, case):
        from . import engine
        twin = twins.get(entry.key)
        if twin is None:
            twin = twins[entry.key] = dataclasses.replace(entry, fn=adapter(name), wrt=wrt,
                                                          check=None)
        if case.expect:
            return engine._run_error_case(twin, case)
        if entry.narrowing is not None and entry.narrowing.wide_reference(case):
            # cyloss (dtype=None, float64 data) against TF computing in float64
            twin = twins.setdefault((entry.key, "float64"), dataclasses.replace(
                twin, call_tf=tf_class(name, dtype="float64")))
        return engine._run_value_case(twin, case)
    return check


def class_entry(name, wrt=CLASS_WRT, narrowed=None, overflows=None, always=False, **fields):
    """The Entry of class `cyloss.keras.<name>` (see the module docstring).
    `narrowed`: the outputs Keras computes in float32 under dtype=None
    (default: value and every wrt); `always`: Keras computes float64 in
    float32 even with dtype="float64" (CTC)."""
    from .registry import Entry
    narrowing = KerasNarrowing(tuple(narrowed or ("value",) + tuple(wrt)),
                               overflows=overflows, always=always)
    CLASS_KEYS[f"keras.{name}"] = narrowing
    return Entry(key=f"keras.{name}", fn=cy(name), tf_fn=tf_fn(name), call_tf=tf_class(name),
                 wrt=(), check=_class_check(name, tuple(wrt)), narrowing=narrowing, **fields)


# ------------------------------------------------------------- precision --

def compute_dtype(y_pred, options):
    """The dtype a cyloss.keras class computes in (keras_api.md 'Precision')."""
    d = options.get("dtype")
    if d is not None:
        return str(np.dtype(d))
    return "float64" if np.asarray(y_pred).dtype == np.float64 else "float32"


@dataclasses.dataclass(frozen=True)
class KerasNarrowing:
    """A registry.Narrowing for Keras classes: applies on float64 cases whose
    `dtype` option is None/absent (Keras computes in floatx = float32, its
    float64 gradients come from float32 arithmetic; cyloss computes and
    returns float64, API.md 'never narrows'). With an explicit dtype both
    sides compute in it: no narrowing.

    Where the case's float64 terms leave float32's range (`overflows`), TF's
    float32 results are not a rounding of cyloss' float64 ones: the overflow
    gives infinities, but also finite values from them (rsqrt(inf) = 0 in
    CosineSimilarity's normalization, (-inf)^-0.5 = -0 in CGCE's gradient,
    where float64 has a number or NaN). Such a case (`wide_reference`) is
    compared with TF computing in float64 (the class built with
    dtype="float64", the precision cyloss computes dtype=None float64 data
    in): no narrowing. With `always` (Keras' ctc computes float32 even under
    dtype="float64") the wide reference still has the sample weights and the
    reduction in float64 (a weight near float32's maximum would flush
    float32's dy / sum(w) to 0), and the narrowing, with the overflow rule
    of registry.Narrowing, stays for the ctc inside."""
    outputs: tuple
    to: str = "float32"
    reason: str = ("Keras converts inputs to its dtype (floatx = float32 when dtype=None) and "
                   "returns float32; cyloss computes and returns float64 (API.md)")
    overflows: object = None        # case -> bool
    always: bool = False            # also under dtype="float64" (Keras' ctc casts to float32)

    def _narrowed(self, case):
        return (case.dtype == "float64" and not case.expect
                and (self.always or case.options.get("dtype") is None))

    def wide_reference(self, case):
        """A narrowed case whose terms overflow float32: TF's reference is
        computed with dtype="float64" (see the class docstring)."""
        return (self.overflows is not None and self._narrowed(case)
                and case.options.get("dtype") is None and bool(self.overflows(case)))

    def applies(self, case):
        return self._narrowed(case) and (self.always or not self.wide_reference(case))


CLASS_KEYS = {}      # key of every class_entry -> its KerasNarrowing


def is_class(case):
    """True for a case of a class entry (made by class_entry)."""
    return case.fn in CLASS_KEYS


def nar(case):
    """1.0 on a narrowed case of a class entry (Keras computes float64 data in
    float32), else 0 (function forms compute in y_pred's dtype)."""
    n = CLASS_KEYS.get(case.fn)
    return 1.0 if n is not None and n.applies(case) else 0.0


# ------------------------------------------------------------- strategies --

def _chance(draw, k):
    return draw(st.sampled_from((False,) * (k - 1) + (True,)))


def draw_reduction(draw, options):
    """Omitted (the default sum_over_batch_size) or any of the six values."""
    r = draw(st.sampled_from(("omit",) + KERAS_REDUCTIONS))
    if r != "omit":
        options["reduction"] = r
    return r


def draw_dtype_option(draw, dtype, options):
    """dtype option: omitted, None, "float32" or "float64" (mostly omitted, so
    that the Narrowing path gets most cases); returns the compute dtype."""
    d = draw(st.sampled_from(("omit", "omit", "omit", None, "float32", "float64")))
    if d != "omit":
        options["dtype"] = d
    if d in ("float32", "float64"):
        return d
    return "float64" if dtype == "float64" else "float32"


def _rank_fix(a, b):
    """Keras' squeeze_or_expand_to_same_rank on shapes (expand_rank_1=True)."""
    a, b = list(a), list(b)
    if len(a) == len(b) + 1 and a[-1] == 1:
        if len(b) == 1:
            b = b + [1]
        else:
            a = a[:-1]
    elif len(b) == len(a) + 1 and b[-1] == 1:
        if len(a) == 1:
            a = a + [1]
        else:
            b = b[:-1]
    return tuple(a), tuple(b)


def weighted_shape(values_shape, weight_shape, mask=False):
    """Shape of Keras' weighted values (4.1 steps 4-5): rank fix between the
    mask (values' shape) and the weight, then between values and weight, then
    NumPy broadcasting; raises ValueError where TF's multiply fails.
    Returns (weighted values shape, the weight's shape after the fixes)."""
    w = tuple(weight_shape)
    if mask:
        m, w = _rank_fix(values_shape, w)
        w = tuple(np.broadcast_shapes(m, w))
    v, w = _rank_fix(values_shape, w)
    return tuple(np.broadcast_shapes(v, w)), w


WEIGHT_VALUES = ("uniform", "uniform", "some-zero", "some-zero", "all-zero", "ones", "int",
                 "signed")

BROADCAST_ERROR = Expect(("InvalidArgumentError",), "InvalidArgumentError",
                         "sample_weight does not broadcast against the per-sample losses "
                         "(after Keras' rank fix): TF's multiply fails at run time "
                         "(Incompatible shapes); cyloss InvalidArgumentError (keras_api.md)")


def _weight_values(rng, shape, kind):
    if kind == "ones":
        return np.ones(shape)
    if kind == "all-zero":
        return np.zeros(shape)
    if kind == "some-zero":
        return rng.uniform(0.1, 2, shape) * (rng.random(shape) < 0.6)
    if kind == "int":
        return rng.integers(0, 4, shape).astype(np.float64)
    if kind == "signed":
        return rng.uniform(-1, 2, shape)
    return rng.uniform(0.1, 2, shape)


def draw_sample_weight(draw, rng, values_shape, dtype, error_ok=True, mask=False):
    """(sample_weight or None, label, Expect or None) for per-sample losses of
    `values_shape` (see the module docstring)."""
    vs = list(values_shape)
    r = len(vs)
    forms = ["omit", "omit", "0d"]
    if r:
        forms += ["batch", "batch1", "full", "full", "full1", "lead"]
    form = draw(st.sampled_from(forms))
    vkind = draw(st.sampled_from(WEIGHT_VALUES))
    wdtype = draw(st.sampled_from((dtype, dtype, dtype, "float32" if dtype == "float64"
                                   else "float64", "int32")))
    if wdtype == "int32":
        vkind = draw(st.sampled_from(("int", "ones", "all-zero")))
    if error_ok and r and _chance(draw, 16):
        i = draw(st.integers(0, r - 1))
        wshape = list(vs)
        wshape[i] = vs[i] + draw(st.sampled_from((1, 2)))
        if draw(st.booleans()):
            wshape = wshape[:i + 1]
        form = f"bad{wshape}"
    elif form == "omit":
        return None, "omit", None
    elif form == "0d":
        wshape = []
    elif form == "batch":
        wshape = vs[:1]
    elif form == "batch1":
        wshape = vs[:1] + [1]
    elif form == "full":
        wshape = vs
    elif form == "full1":
        wshape = vs + [1]
    else:
        k = draw(st.integers(1, r))
        wshape = vs[:k] + [1] * (r - k)
    w = np.asarray(_weight_values(rng, tuple(wshape), vkind), wdtype)
    try:
        weighted_shape(vs, wshape, mask)
        expect = None
    except ValueError:
        expect = BROADCAST_ERROR
    return w, f"{form}{list(wshape)}:{vkind}:{wdtype}", expect


# ----------------------------------------------------------------- scales --

def chain(loc, tloc, G, GT):
    """Scale of (local derivative) x (upstream): |loc| GT + Tloc G."""
    s = np.abs(loc) * GT + tloc * G
    return np.where(np.isfinite(s), s, np.inf)


def _mask_weight(mask, reduction):
    """Keras' float mask (4.1 step 4): size/count for sum_over_batch_size and
    mean (div_no_nan), else 1 on kept entries."""
    m = np.asarray(mask, bool)
    if reduction in ("mean", "sum_over_batch_size"):
        c = int(m.sum())
        return np.where(m, (m.size / c) if c else 0.0, 0.0)
    return m.astype(np.float64)


def keras_reduce(case, L, T, dy, mask=None):
    """Scales through Keras' weighting and reduction (4.1 steps 4-6).

    L: the per-sample losses (Keras' unreduced values, float64), T: the
    magnitude of their error terms (same shape); mask: Keras' mask of the
    values (SCCE ignore_class, Circle) or None. Returns (value scale, G, GT,
    sample_weight scale or None) with G, GT in L's shape."""
    from .registry import acc, reduce_abs_to     # (registry imports this module)
    L = np.asarray(L, np.float64)
    T = np.asarray(T, np.float64)
    red = case.options.get("reduction", "sum_over_batch_size")
    sw0 = case.args.get("sample_weight")
    vshape = L.shape
    W = None
    if mask is not None:
        W = _mask_weight(mask, red)
    if sw0 is not None:
        sw = fin(sw0)
        if W is not None:
            m, s = _rank_fix(W.shape, sw.shape)
            W = W.reshape(m) * sw.reshape(s)
        else:
            W = sw
    if W is None:
        Wf, rshape = np.ones(vshape), vshape
        vfix = vshape
    else:
        vfix, wfix = _rank_fix(vshape, W.shape)
        W = W.reshape(wfix)
        rshape = tuple(np.broadcast_shapes(vfix, wfix))
        Wf = np.broadcast_to(W, rshape)
    Lb = np.broadcast_to(L.reshape(vfix), rshape)
    Tb = np.broadcast_to(T.reshape(vfix), rshape)
    aw, aL = np.abs(Wf), np.abs(Lb)
    d = np.abs(np.broadcast_to(np.asarray(dy, np.float64), rshape)) if np.size(dy) else \
        np.zeros(rshape)
    n = int(np.prod(rshape)) if rshape else 1
    P = aL * aw
    unreduced = red in (None, "none") or rshape in ((), (0,))

    def back(G, GT, wpe):
        g, _ = reduce_abs_to(G, vfix)
        gt, _ = reduce_abs_to(GT, vfix)
        ws = None
        if sw0 is not None:
            swf = np.shape(sw0)
            ws, m = reduce_abs_to(wpe, _rank_fix(vshape, swf)[1])
            ws = (ws * (1 + acc(m))).reshape(swf)
        return g.reshape(vshape), gt.reshape(vshape), ws

    if unreduced:
        G = aw * d
        value = aw * Tb + 2 * P
        g, gt, ws = back(G, 3 * G, (aL + Tb) * d * _mask_abs(mask, red, rshape, vfix))
        return value, g, gt, ws
    if red == "sum":
        D = 1.0
    elif red == "mean_with_sample_weight" and W is not None:
        D = float(np.sum(W))
    else:
        D = float(n)
    if D == 0 or n == 0:        # div_no_nan: exact zeros on both sides
        z = np.zeros(vshape)
        return np.zeros(()), z, z, (None if sw0 is None else np.zeros(np.shape(sw0)))
    dd = abs(D)
    S = float(np.sum(Lb * Wf))
    a = acc(n)
    mws = red == "mean_with_sample_weight" and W is not None
    rel = acc(W.size) * float(np.sum(np.abs(W))) / dd if mws else 0.0
    # (a zero weight makes its element's terms exact zeros, whatever their size)
    wT = float(np.sum(np.where(aw == 0, 0.0, aw * Tb)))
    value = (wT + np.sum(P) * (2 + a)) / dd + abs(S) / dd * (rel + 1)
    G = aw * d / dd
    GT = G * (3 + rel)
    wpe = (aL + Tb) * d / dd * _mask_abs(mask, red, rshape, vfix)
    if mws:
        # d/dw = L/D - S/D^2: S carries the error of every weighted term (wT), not
        # only its own rounding
        wpe = wpe + d * ((abs(S) * (1 + a + rel) + wT) / dd / dd + aL / dd * rel)   # (dd**2: overflow)
    g, gt, ws = back(G, GT, wpe)
    return np.asarray(value), g, gt, ws


def _mask_abs(mask, red, rshape, vfix):
    if mask is None:
        return 1.0
    return np.broadcast_to(np.abs(_mask_weight(mask, red)).reshape(vfix), rshape)


# ---------------------------------------------------------------- fixed --

def kex(label, args, options=None, dtype=None, divergence=None):
    """A fixed value case of a Keras class or function; dtype defaults to
    the compute dtype of a class (compute_dtype) -- pass it for functions
    (y_pred's dtype)."""
    options = dict(options or {})
    if dtype is None:
        dtype = compute_dtype(args["y_pred"], options)
    return Case("", args, options, dtype=dtype, kind="fixed", label=label,
                divergence=divergence)


# ============================================== cross-entropy strategies ===
# (registry_keras.py) One strategy for the whole family; `loss` picks the
# inputs: "bce"/"bfce" (element-wise, mean over `axis`), "cce"/"cfce" (class
# axis `axis`), "scce" (integer ids, class axis last, ignore_class), "cgce"
# (ids, probabilities, q). `form` is "class" (constructor options,
# sample_weight, reduction, dtype) or "function" (the function's keywords).

LOGIT_PROFILES = ("normal", "normal", "wide", "tiny", "ties", "big", "huge", "special")
PROB_KINDS = ("dist", "dist", "unnorm", "edges", "onehot", "near-clip")
LS_VALUES = ("omit", "omit", 0.0, 0.1, 0.2, 0.5, 1.0)


def _probs(rng, shape, kind, rowwise):
    """Probabilities (class axis last when rowwise): rows summing to 1, not
    normalized, with exact 0 and 1 entries, one-hot, or near the clip bounds
    eps and 1 - eps."""
    shape = tuple(shape)
    if kind == "unnorm":
        return rng.random(shape) * 3
    if kind == "onehot" and shape and shape[-1]:
        p = np.zeros(shape)
        np.put_along_axis(p, rng.integers(0, shape[-1], shape[:-1])[..., None], 1.0, -1)
        return p
    if kind == "edges":
        p = rng.random(shape)
        pick = rng.random(shape)
        p = np.where(pick < 0.25, 0.0, np.where(pick < 0.45, 1.0, p))
        return p
    if kind == "near-clip":
        p = rng.choice([1e-7, 1e-8, 2e-7, 1 - 1e-7, 1 - 1e-8, 0.9999998, 0.5], shape)
        return np.where(rng.random(shape) < 0.3, rng.random(shape), p)
    p = rng.random(shape) ** 2 + 1e-3
    if rowwise and shape and shape[-1]:
        p = p / p.sum(-1, keepdims=True)
    return p


def _dense_labels(rng, shape, kind):
    shape = tuple(shape)
    if kind == "onehot" and shape and shape[-1]:
        y = np.zeros(shape)
        np.put_along_axis(y, rng.integers(0, shape[-1], shape[:-1])[..., None], 1.0, -1)
        return y
    if kind == "binary":
        return rng.integers(0, 2, shape).astype(np.float64)
    if kind == "dist" and shape and shape[-1]:
        y = rng.random(shape) + 1e-3
        return y / y.sum(-1, keepdims=True)
    if kind == "outside":
        return rng.uniform(-0.5, 1.5, shape)
    return rng.random(shape)


def _label_dtype(draw, dtype, kind, allow_int):
    choices = [dtype, dtype, "float32" if dtype == "float64" else "float64"]
    if allow_int and kind in ("onehot", "binary"):
        choices.append(draw(st.sampled_from(INT_DTYPES)))
    return draw(st.sampled_from(choices))


def _axis_option(draw, rank, options, logits):
    """axis: omitted, -1, or any axis Keras allows (softmax xent with logits:
    -1 and [0, rank) only; the probability paths and BCE's mean any axis in
    [-rank, rank)). Returns the normalized axis."""
    form = draw(st.sampled_from(("omit", "omit", "-1", "any")))
    if form == "omit":
        return rank - 1
    if form == "-1":
        options["axis"] = -1
        return rank - 1
    lo = 0 if logits else -rank
    a = draw(st.integers(lo, rank - 1))
    options["axis"] = a
    return a % rank


def _class_draws(draw, rng, args, options, kind, vshape, dtype, mask=False):
    """The draws only a class entry makes, in this order: a sample weight for
    per-sample values of shape `vshape` (added to args), the reduction, the
    dtype= option. Returns (expect, the dtype= option's compute dtype)."""
    w, wl, expect = draw_sample_weight(draw, rng, vshape, dtype, mask=mask)
    if w is not None:
        args["sample_weight"] = w
    kind.append(f"w:{wl}")
    kind.append(f"red:{draw_reduction(draw, options)}")
    return expect, draw_dtype_option(draw, dtype, options)


@st.composite
def xent_cases(draw, mode, fn, loss, form):
    dtype, seed, layout = _common(draw)
    rng = np.random.default_rng(seed)
    options = {}
    cls = form == "class"
    kind = [loss]
    if loss == "scce":
        return draw(_scce_cases(mode, fn, form, dtype, seed, layout))
    if loss == "cgce":
        return draw(_cgce_cases(mode, fn, form, dtype, seed, layout))
    logits = draw(st.sampled_from((False, True)))
    lf = draw(st.sampled_from(("omit", "explicit")))
    if logits or lf == "explicit":
        options["from_logits"] = logits
    rank = _rank(draw, 1, 4)
    categorical = loss in ("cce", "cfce")
    if categorical:
        c = _classes(draw, mode)
        c = min(c, 1000)
        lead = _dims(draw, rank - 1, max(1, _budget(draw, mode) // max(c, 1)))
        shape = lead + [c]
    else:
        shape = _dims(draw, rank, _budget(draw, mode))
    ax = _axis_option(draw, rank, options, logits and categorical)
    ls = draw(st.sampled_from(LS_VALUES))
    if ls != "omit":
        options["label_smoothing"] = ls
    if loss in ("bfce", "cfce"):
        g = draw(st.sampled_from(("omit", 0.0, 0.5, 1.0, 2.0, 3.0)))
        if g != "omit":
            options["gamma"] = g
        if loss == "bfce":
            if draw(st.booleans()):
                options["apply_class_balancing"] = draw(st.booleans())
            a = draw(st.sampled_from(("omit", 0.25, 0.5, 0.9, 0.0)))
        else:           # a list broadcasts against the LAST axis, whatever `axis`
            a = draw(st.sampled_from(("omit", 0.25, 1.0, "per-class")))
            if a == "per-class":
                last = shape[-2] if ax != rank - 1 else shape[-1]
                a = [float(v) for v in np.round(rng.uniform(0.1, 1, last), 3)]
        if a != "omit":
            options["alpha"] = a
    if logits:
        profile = draw(st.sampled_from(LOGIT_PROFILES))
        yp = logits_rows(rng, shape, dtype, profile) if categorical else \
            real_values(rng, shape, dtype, "normal" if profile == "special" else profile)
        if profile == "huge":
            yp = np.clip(yp, -1e30, 1e30)
    else:
        profile = draw(st.sampled_from(PROB_KINDS))
        yp = np.asarray(_probs(rng, shape, profile, categorical), dtype)
    kind.append(f"{'logits' if logits else 'probs'}:{profile}")
    lkind = draw(st.sampled_from(("onehot", "dist", "unit") if categorical else
                                 ("binary", "binary", "unit", "outside")))
    ldt = _label_dtype(draw, dtype, lkind, cls or True)
    yt = np.asarray(_dense_labels(rng, shape, lkind), ldt)
    kind.append(f"y_true:{lkind}:{ldt}")
    if ax != rank - 1:          # the same data with the class / mean axis elsewhere
        yp, yt = np.moveaxis(yp, -1, ax), np.moveaxis(yt, -1, ax)
    args = {"y_true": yt, "y_pred": yp}
    expect = None
    cdt = dtype
    if cls:
        vshape = [d for i, d in enumerate(yp.shape) if i != ax]
        expect, cdt = _class_draws(draw, rng, args, options, kind, vshape, dtype)
    return Case(fn, args, options, dtype="" if expect else cdt, kind="/".join(kind), seed=seed,
                layout=layout, expect=expect)


@st.composite
def _scce_cases(draw, mode, fn, form, dtype, seed, layout):
    rng = np.random.default_rng(seed)
    options = {}
    cls = form == "class"
    logits = draw(st.sampled_from((False, True)))
    if logits or draw(st.booleans()):
        options["from_logits"] = logits
    rank = _rank(draw, 1, 4)
    c = min(_classes(draw, mode), 1000)
    if rank == 1 or (form == "class" and rank >= 3):
        # C = 1: the class' rank fix squeezes y_pred [..., 1] against the labels and TF
        # then fails in shape-dependent ways (IndexError, ValueError, SelectV2); one fixed
        # error case covers the plain ValueError
        c = max(c, 2)
    lead = _dims(draw, rank - 1, max(1, _budget(draw, mode) // c))
    if draw(st.booleans()):
        options["axis"] = draw(st.sampled_from((-1, rank - 1)))
    if logits:
        profile = draw(st.sampled_from(LOGIT_PROFILES))
        yp = logits_rows(rng, lead + [c], dtype, profile)
        if profile == "huge":
            yp = np.clip(yp, -1e30, 1e30)
    else:
        profile = draw(st.sampled_from(PROB_KINDS))
        yp = np.asarray(_probs(rng, lead + [c], profile, True), dtype)
    ids = rng.integers(0, c, lead).astype(np.int64) if lead else np.asarray(
        rng.integers(0, c), np.int64)
    ig = draw(st.sampled_from(("omit", "omit", None, -1, "class")))
    if ig != "omit":
        if ig == "class":
            ig = int(rng.integers(0, c))
        options["ignore_class"] = ig
        if ig is not None and ids.size:
            drop = rng.random(ids.shape) < draw(st.sampled_from((0.3, 1.0)))
            ids = np.where(drop, ig, ids)
    lform = draw(st.sampled_from(("int32", "int64", "int64", "float", "trailing1")))
    if lform == "float":
        yt = ids.astype(dtype)
    elif lform == "trailing1":
        yt = ids.reshape(ids.shape + (1,)).astype(draw(st.sampled_from(INT_DTYPES)))
    else:
        yt = ids.astype(lform)
    args = {"y_true": yt, "y_pred": yp}
    kind = [f"scce/{'logits' if logits else 'probs'}:{profile}/labels:{lform}/ignore:{ig}"]
    expect = None
    cdt = dtype
    if cls:
        expect, cdt = _class_draws(draw, rng, args, options, kind, lead, dtype,
                                   mask=options.get("ignore_class") is not None)
    return Case(fn, args, options, dtype="" if expect else cdt, kind="/".join(kind), seed=seed,
                layout=layout, expect=expect)


@st.composite
def _cgce_cases(draw, mode, fn, form, dtype, seed, layout):
    rng = np.random.default_rng(seed)
    options = {}
    cls = form == "class"
    c = max(2, min(_classes(draw, mode), 1000))
    b = _dims(draw, 1, max(1, _budget(draw, mode) // c))[0]
    q = draw(st.sampled_from((0.5, 0.1, 0.3, 0.7, 0.9, 0.999)))
    if cls:
        if q != 0.5 or draw(st.booleans()):
            options["q"] = q
    else:
        options["q"] = q
    profile = draw(st.sampled_from(("dist", "dist", "unnorm", "edges", "onehot")))
    yp = np.asarray(_probs(rng, (b, c), profile, True), dtype)
    ids = rng.integers(0, c, b)
    oor = draw(st.sampled_from((False, False, False, True)))
    if oor and b:           # out-of-range ids: a one-hot of zeros, 1/q (sec. 4.2)
        ids = np.where(rng.random(b) < 0.3, rng.choice([c, c + 3, -1], b), ids)
    yt = ids.astype(draw(st.sampled_from(INT_DTYPES + (dtype,))))
    args = {"y_true": yt, "y_pred": yp}
    kind = [f"cgce/{profile}/q={q}/oor={oor}"]
    expect = None
    cdt = dtype
    if cls:
        expect, cdt = _class_draws(draw, rng, args, options, kind, [b], dtype)
    return Case(fn, args, options, dtype="" if expect else cdt, kind="/".join(kind), seed=seed,
                layout=layout, expect=expect)


def xent_strategy(loss, form):
    """Entry.cases for a cross-entropy `loss` in `form` ("class"/"function")."""
    def cases(mode, key):
        return xent_cases(mode, key, loss, form)
    return cases


# ======================================================= Circle and CTC ====

def _embeddings(rng, shape, kind):
    """Embeddings [N, D]: unit rows (the intended input), raw normal rows,
    one-hot rows (exact Q = 1 and Q = 0: max(1 - Q, 0) at its tie), or unit
    rows with duplicates."""
    e = rng.standard_normal(shape)
    if kind == "onehot" and shape[1]:
        e = np.eye(shape[1])[rng.integers(0, shape[1], shape[0])]
    elif kind != "raw":
        nrm = np.linalg.norm(e, axis=1, keepdims=True)
        e = np.divide(e, nrm, out=np.zeros_like(e), where=nrm > 0)
        if kind == "dup" and shape[0] > 1:
            e[1::2] = e[0:-1:2]
    return e


@st.composite
def circle_cases(draw, mode, fn, form):
    dtype, seed, layout = _common(draw)
    rng = np.random.default_rng(seed)
    options = {}
    cls = form == "class"
    b = draw(st.sampled_from((0, 1, 2, 3, 5, 8, 17, 40, 64)))
    d = draw(st.sampled_from((1, 2, 3, 8, 16, 33, 64)))
    kind = draw(st.sampled_from(("unit", "unit", "raw", "onehot", "dup")))
    nlab = draw(st.sampled_from((1, 2, 3, 5, 1000)))
    for name, vals in (("gamma", (80.0, 1.0, 10.0, 256.0)), ("margin", (0.4, 0.25, 0.0, 0.6)),
                       ("remove_diagonal", (True, False))):
        v = draw(st.sampled_from(("omit",) + vals))
        if v != "omit":
            options[name] = v
    yp = np.asarray(_embeddings(rng, (b, d), kind), dtype)
    lab = rng.integers(0, nlab, b)
    ldt = draw(st.sampled_from(INT_DTYPES + ((dtype,) if cls else ())))
    args = {"y_true": lab.astype(ldt), "y_pred": yp}
    label = [f"circle/{kind}/B={b}/D={d}/labels<{nlab}"]
    expect = None
    cdt = dtype
    if cls:
        expect, cdt = _class_draws(draw, rng, args, options, label, [b], dtype, mask=True)
    elif draw(st.booleans()):        # a reference set (the function form only)
        r = draw(st.sampled_from((1, 4, 9, 30)))
        args["ref_labels"] = rng.integers(0, nlab, r).astype(draw(st.sampled_from(INT_DTYPES)))
        args["ref_embeddings"] = np.asarray(_embeddings(rng, (r, d), kind), dtype)
        label.append(f"ref:{r}")
    return Case(fn, args, options, dtype="" if expect else cdt, kind="/".join(label),
                seed=seed, layout=layout, expect=expect)


@st.composite
def ctc_cases(draw, mode, fn, form):
    """y_true [B, L] ids in 1..K-1 (0 is padding and blank) right-padded with
    zeros, y_pred [B, T, K] logits; lengths from 0 to L, repeats (which need
    a blank between them), infeasible pairs (label longer than T: inf)."""
    dtype, seed, layout = _common(draw)
    rng = np.random.default_rng(seed)
    options = {}
    cls = form == "class"
    # (batch 0: TF's dense ctc path fails inside a scatter, cyloss.nn.ctc_loss returns []:
    # a documented nn-level difference, not drawn here)
    b = draw(st.sampled_from((1, 2, 3, 8, 20)))
    t = draw(st.sampled_from((1, 2, 5, 12, 40)))
    k = draw(st.sampled_from((2, 3, 5, 10, 29)))
    lmax = draw(st.sampled_from((1, 2, 4, 8)))
    rep = draw(st.sampled_from(("random", "repeats")))
    ids = rng.integers(1, k, (b, lmax))
    if rep == "repeats" and lmax > 1:
        ids[:, 1::2] = ids[:, 0:-1:2]
    lens = rng.integers(0, lmax + 1, b)
    ids = np.where(np.arange(lmax)[None, :] < lens[:, None], ids, 0)
    profile = draw(st.sampled_from(("normal", "normal", "wide", "tiny", "ties", "big")))
    yp = real_values(rng, (b, t, k), dtype, profile)
    ldt = draw(st.sampled_from(INT_DTYPES + ((dtype,) if cls else ())))
    args = {"y_true": ids.astype(ldt), "y_pred": yp}
    label = [f"ctc/B={b}/T={t}/K={k}/L={lmax}/{rep}/{profile}"]
    expect = None
    cdt = dtype
    if cls:
        expect, _ = _class_draws(draw, rng, args, options, label, [b], dtype)
        cdt = compute_dtype(yp, options)
    return Case(fn, args, options, dtype="" if expect else cdt, kind="/".join(label),
                seed=seed, layout=layout, expect=expect)


def strategy(fn, form):
    """Entry.cases of circle_cases / ctc_cases in `form`."""
    def cases(mode, key):
        return fn(mode, key, form)
    return cases
