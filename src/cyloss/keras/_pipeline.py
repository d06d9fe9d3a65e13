"""The pipeline every Keras loss class runs (TF_SEMANTICS.md sec. 4.1):
convert to the loss dtype, fix ranks, per-sample values, mask, sample weight,
reduction -- and its gradient, chained onto the per-sample function's.

A per-sample function (keras/_functions.py) is `fn(ctx, y_true, y_pred, **kw)
-> (values, mask, backward)`, with `backward(dvalues) -> {"y_true": g,
"y_pred": g}` (dvalues None means ones); `mask` is a boolean array of the
values' shape or None (Keras' `_keras_mask`).
"""
import numpy as np

from .. import _checks as ck
from .._autodiff import Ctx
from .._errors import InvalidArgumentError

REDUCTIONS = ("sum_over_batch_size", "sum", None, "none", "mean", "mean_with_sample_weight")
_MEANS = ("sum_over_batch_size", "mean")


def standardize_reduction(reduction):
    if not isinstance(reduction, (str, type(None))) or reduction not in REDUCTIONS:
        raise ValueError("Invalid value for argument `reduction`. Expected one of "
                         f"{set(REDUCTIONS)}. Received: reduction={reduction}")
    return reduction


def resolve_dtype(dtype):
    """The compute dtype of a loss built with `dtype=` (None: decided per call)."""
    if dtype is None:
        return None
    name = getattr(dtype, "compute_dtype", None) or getattr(dtype, "name", None) or dtype
    if isinstance(name, str) and name.startswith("mixed_"):
        name = name[len("mixed_"):]
    try:
        dt = np.dtype(name)
    except TypeError:
        raise ValueError(f"Unknown dtype for a Keras loss: {dtype!r}") from None
    if dt not in ck.FLOATS:
        raise TypeError(f"cyloss computes Keras losses in float32 or float64, got dtype={dtype!r}"
                        + (" (float16/bfloat16 are not supported yet)" if dt.kind == "f" else ""))
    return dt


def numeric(x, name):
    """`x` as a native ndarray of a real dtype (bool and integers included),
    C-contiguous and aligned (see dense)."""
    a = ck.native(np.asarray(ck.require(x, name)))
    if a.dtype.kind not in "biuf":
        raise TypeError(f"`{name}` must be a real number array, got {a.dtype}")
    return dense(a)


def dense(a):
    """`a` C-contiguous and aligned (a copy only when it is not): NumPy's
    reductions and matmul round differently on strided, reversed or
    misaligned memory, and results must not depend on the layout."""
    return np.require(a, requirements=("C", "A"))


def cast(a, dtype):
    # TF's CPU Cast: flushes float32/float64 denormals (a float32 1e-40 widened
    # to float64 becomes 0)
    return ck.tf_cast(a, dtype)


def same_rank(x1, x2, expand_rank_1=True):
    """Keras' squeeze_or_expand_to_same_rank: if the ranks differ by one and the
    longer has last dim 1, expand the shorter when it has rank 1, else squeeze
    the longer."""
    r1, r2 = x1.ndim, x2.ndim
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = x2[..., None]
        else:
            x1 = x1[..., 0]
    if r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = x1[..., None]
        else:
            x2 = x2[..., 0]
    return x1, x2


def broadcast_mul(a, b):
    try:
        return a * b
    except ValueError:
        raise InvalidArgumentError(f"Incompatible shapes: {list(a.shape)} vs. "
                                   f"{list(b.shape)}") from None


def _div_no_nan(s, d, dtype):
    return dtype.type(0) if d == 0 else dtype.type(s) / dtype.type(d)


def reduce_weighted(ctx, values, mask, sample_weight, reduction, bwd, sw_dtype=None):
    """Keras' reduce_weighted_values with its gradient. Returns (value, backward)
    where backward(dy) -> (dvalues for `bwd`'s caller, d sample_weight)."""
    dt = values.dtype
    sw0 = None if sample_weight is None else numeric(sample_weight, "sample_weight")
    sw = None if sw0 is None else cast(sw0, dt)
    if sw is not None and sw.dtype.kind == "f":     # TF's CPU reads denormal weights as 0
        sw = ck.flush_denormals(sw)
    fmask = None
    if mask is not None:
        if reduction in _MEANS:
            valid = np.count_nonzero(mask)
            mw = _div_no_nan(mask.size, valid, dt)
            fmask = np.where(mask, mw, dt.type(0)).astype(dt)
        else:
            fmask = mask.astype(dt)
    if fmask is not None:
        if sw is not None:
            fm2, sw2 = same_rank(fmask, sw)
            sw_eff = broadcast_mul(sw2, fm2)
        else:
            sw_eff = fmask
    else:
        sw_eff = sw
    if sw_eff is not None:
        v2, w2 = same_rank(values, sw_eff)
        weighted = broadcast_mul(v2, w2)
    else:
        v2, w2, weighted = values, None, values
    unreduced = reduction in (None, "none") or weighted.shape in ((), (0,))
    if unreduced:
        value = weighted
        s = d = None
    else:
        s = ck.tf_sum(np.asarray(weighted, dt))     # TF's order: an overflowing sum's inf/NaN
        if reduction == "sum":
            d = None
            value = np.asarray(s, dt)
        else:
            if reduction == "mean_with_sample_weight" and sw_eff is not None:
                d = ck.tf_sum(np.asarray(sw_eff, dt))
            else:
                d = dt.type(weighted.size)
            value = np.asarray(_div_no_nan(s, d, dt), dt)
    value = np.asarray(value)
    if not ctx.grad:
        return value, None

    def backward(dy):
        if unreduced or d is None:            # none, or "sum": dy itself
            dw = np.broadcast_to(np.asarray(dt.type(1) if dy is None else dy, dt),
                                 weighted.shape)
        elif d == 0:
            dw = np.zeros(weighted.shape, dt)
        else:
            f = dt.type(1) if dy is None else dy
            q = np.asarray(f / d, dt)
            # TF's CPU flushes a denormal quotient (a huge weight sum) to zero
            q = ck.flush_denormals(q)
            dw = np.broadcast_to(q, weighted.shape)
        dv = dw if w2 is None else ck.reduce_to(dw * w2, v2.shape)
        dvalues = np.ascontiguousarray(dv, dt).reshape(values.shape)
        out = bwd(dvalues)
        if sw is not None and sw0.dtype.kind == "f" and ctx.wants("sample_weight"):
            g = ck.reduce_to(dw * v2, w2.shape)
            if reduction == "mean_with_sample_weight" and not unreduced and d != 0:
                # DivNoNan's gradient for its divisor (d != 0 here)
                g = g + ck.divisor_grad(dt.type(1) if dy is None else dy, s, d)
            if fmask is not None:             # sw_eff = sw * mask: chain the mask factor
                fm2, sw2 = same_rank(fmask, sw)
                g = ck.reduce_to(g.reshape(sw_eff.shape) * fm2, sw2.shape)
            g = np.asarray(g, dt).reshape(sw0.shape)
            out["sample_weight"] = g.astype(sw0.dtype)     # (TF: none for integer weights)
        return out
    return value, backward


class Reduction:
    """tf.keras.losses.Reduction (the legacy constants Keras 3 keeps)."""
    AUTO = "auto"
    NONE = "none"
    SUM = "sum"
    SUM_OVER_BATCH_SIZE = "sum_over_batch_size"

    @classmethod
    def all(cls):
        return (cls.AUTO, cls.NONE, cls.SUM, cls.SUM_OVER_BATCH_SIZE)

    @classmethod
    def validate(cls, key):
        if key not in cls.all():
            raise ValueError(f'Invalid Reduction Key: {key}. Expected keys are "{cls.all()}"')


def _snake(name):
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i and (not name[i - 1].isupper()
                                   or (i + 1 < len(name) and name[i + 1].islower())):
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


class Loss:
    """Base class of the Keras losses: `loss(y_true, y_pred, sample_weight=None)`.

    Subclasses implement `call(y_true, y_pred)` on NumPy arrays (value only;
    cyloss.vjp then raises TypeError) or, as cyloss' own classes do,
    `_call(ctx, y_true, y_pred) -> (values, mask, backward)`.
    """
    _wrt = ("y_true", "y_pred", "sample_weight")

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        self.name = name or _snake(type(self).__name__)
        self.reduction = standardize_reduction(reduction)
        self._dtype = resolve_dtype(dtype)

    @property
    def dtype(self):
        return "float32" if self._dtype is None else self._dtype.name

    @property
    def _cyloss_wrt(self):
        return self._wrt

    def __call__(self, y_true, y_pred, sample_weight=None):
        return self._cyloss_impl(Ctx(False), y_true, y_pred, sample_weight)[0]

    def _compute_dtype(self, y_pred):
        if self._dtype is not None:
            return self._dtype
        # never narrow float64 (API.md); Keras' floatx float32 otherwise
        return np.dtype(np.float64) if y_pred.dtype == np.float64 else np.dtype(np.float32)

    def _convert_true(self, yt0, dt):
        return cast(yt0, dt)

    def _cyloss_impl(self, ctx, y_true, y_pred, sample_weight=None):
        yp0 = numeric(y_pred, "y_pred")
        yt0 = numeric(y_true, "y_true")
        dt = self._compute_dtype(yp0)
        yp, yt = cast(yp0, dt), self._convert_true(yt0, dt)
        values, mask, bwd = self._call(ctx, yt, yp)
        values = cast(np.asarray(values), dt)
        value, red_bwd = reduce_weighted(ctx, values, mask, sample_weight, self.reduction, bwd)
        if not ctx.grad:
            return value, None

        def backward(dy):
            out = red_bwd(dy)
            for name, orig in (("y_true", yt0), ("y_pred", yp0)):
                g = out.pop(name, None)
                if g is not None and ctx.wants(name) and orig.dtype.kind == "f":
                    out[name] = np.asarray(g).reshape(orig.shape).astype(orig.dtype, copy=False)
            return out
        return value, backward

    def _call(self, ctx, y_true, y_pred):
        values = self.call(y_true, y_pred)
        if ctx.grad:
            raise TypeError(f"{type(self).__name__}.call is not a cyloss loss: cyloss.vjp "
                            "needs a loss built from cyloss.keras functions")
        return np.asarray(values), None, None

    def call(self, y_true, y_pred):
        raise NotImplementedError

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class LossFunctionWrapper(Loss):
    """A Loss from a per-sample function: the rank fix, then the function."""

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def _call(self, ctx, y_true, y_pred):
        yt, yp = same_rank(y_true, y_pred)
        values, mask, bwd = self.fn._cyloss_sample(ctx, yt, yp, **self._fn_kwargs)
        if bwd is None:
            return values, mask, None

        def backward(dvalues):
            out = bwd(dvalues)
            if out.get("y_true") is not None:
                out["y_true"] = out["y_true"].reshape(y_true.shape)
            if out.get("y_pred") is not None:
                out["y_pred"] = out["y_pred"].reshape(y_pred.shape)
            return out
        return values, mask, backward

    def __repr__(self):
        return f"<{type(self).__name__}({self.fn.__name__}, kwargs={self._fn_kwargs})>"
