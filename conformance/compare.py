"""Element-wise comparison of a cyloss result with TensorFlow's.

An element's error is measured in units of the dtype's eps, relative to the
magnitude of the terms that produced it (the `scale`, computed per function
in registry.py):

    units = |got - expected| / (eps(dtype) * max(scale, tiny / eps))

and the element passes when units <= k (the entry's tolerance). The floor
`tiny / eps` lets differences below k * (smallest normal number) pass:
TensorFlow's CPU kernels flush denormals to zero, cyloss may not.

Non-finite values are compared exactly: NaN must face NaN (NaN vs NaN is
equal, NaN vs a number fails), an infinity must face the same infinity.
dtype and shape must be identical.

Narrowing (registry.Narrowing): where TF computes an output in a narrower
type than the inputs (tf.compat.v1.losses: float32 for float64 inputs) and
cyloss deliberately does not (API.md "never narrows"), the engine passes
`dtype` = the narrow type, so the error is measured in units of ITS eps (the
scale functions include the rounding of the inputs to it), `widened` = the
dtype cyloss must return (TF's may be the narrow one), and, on cases whose
terms leave the narrow type's range, `overflow=True`: a non-finite TF
element is then not a constraint (float32 overflowed to inf, or inf - inf /
0 * inf made a NaN; cyloss' wider type did not, or overflowed only when its
result was rounded to a float32 output). Every finite TF element is compared
as usual, so cyloss may not be non-finite where TF is finite.
"""
from dataclasses import dataclass

import numpy as np


def eps(dtype):
    return float(np.finfo(dtype).eps)


@dataclass
class Comparison:
    """The outcome of comparing one output (the value or one gradient)."""
    output: str                 # "value" or the name of a differentiated argument
    ok: bool
    units: float = 0.0          # worst error over finite pairs, in eps units
    tol: float = 0.0
    problem: str = ""           # "", dtype, shape, nan, inf, tolerance, missing, extra
    index: tuple = None         # worst element (np.unravel_index of it)
    got: float = None
    expected: float = None
    detail: str = ""
    n_nan: int = 0              # NaN positions (agreeing) in the expected result
    n_inf: int = 0
    n_narrow_overflow: int = 0  # TF non-finite elements left unconstrained (narrowing)

    def to_dict(self):
        return {k: (_jsonable(v)) for k, v in self.__dict__.items()}


def _jsonable(v):
    if isinstance(v, (np.floating, float)):
        v = float(v)
        if np.isnan(v):
            return "nan"
        if np.isinf(v):
            return "inf" if v > 0 else "-inf"
        return v
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, tuple):
        return [_jsonable(x) for x in v]
    return v


def compare(output, got, expected, scale, tol, dtype=None, widened=None, overflow=False):
    """Compare cyloss' `got` with TensorFlow's `expected` (NumPy arrays).
    `dtype`: the precision the function computes in (default: the expected
    dtype); eps and tiny come from the coarser of it and the output's dtype. A
    float64 gradient of float64 labels fed to float32 logits is computed in
    float32, for instance. `widened`: the dtype cyloss must return where TF
    narrows (TF's may then be `dtype` or `widened`); `overflow`: see the module
    docstring."""
    got = np.asarray(got)
    expected = np.asarray(expected)
    c = Comparison(output, ok=True, tol=tol)
    if widened is not None:
        allowed = {np.dtype(widened), np.dtype(dtype or widened)}
        if got.dtype != np.dtype(widened) or expected.dtype not in allowed:
            c.ok, c.problem = False, "dtype"
            c.detail = (f"dtype {got.dtype} (TF's {expected.dtype}): cyloss must return "
                        f"{np.dtype(widened)} where TF narrows to {dtype}")
            return c
    elif got.dtype != expected.dtype:
        c.ok, c.problem = False, "dtype"
        c.detail = f"dtype {got.dtype} != TF's {expected.dtype}"
        return c
    if got.shape != expected.shape:
        c.ok, c.problem = False, "shape"
        c.detail = f"shape {got.shape} != TF's {expected.shape}"
        return c
    if got.size == 0:
        return c
    g = got.astype(np.float64)
    e = expected.astype(np.float64)
    gn, en = np.isnan(g), np.isnan(e)
    c.n_nan = int(en.sum())
    c.n_inf = int(np.isinf(e).sum())
    nan_bad = gn != en
    inf_bad = ~gn & ~en & (np.isinf(g) | np.isinf(e)) & (g != e)
    if overflow:        # TF's narrow type overflowed where cyloss' did not
        narrow_only = ~np.isfinite(e)
        c.n_narrow_overflow = int(narrow_only.sum())
        nan_bad &= ~narrow_only
        inf_bad &= ~narrow_only
    if nan_bad.any() or inf_bad.any():
        bad = nan_bad | inf_bad
        flat = int(np.argmax(bad.ravel()))
        c.ok = False
        c.problem = "nan" if nan_bad.ravel()[flat] else "inf"
        c.units = float("inf")
        _set_worst(c, flat, got, expected)
        c.detail = (f"{int(nan_bad.sum())} NaN-position and {int(inf_bad.sum())} "
                    f"infinity mismatches")
        return c
    fin = np.isfinite(g) & np.isfinite(e)
    if not fin.any():
        return c
    # eps of the coarser of the compute dtype and the output dtype (float32
    # labels on float64 logits: a float64 gradient rounded to float32)
    dt = np.dtype(dtype or expected.dtype)
    if expected.dtype.kind == "f" and np.finfo(expected.dtype).eps > np.finfo(dt).eps:
        dt = expected.dtype
    floor = np.finfo(dt).tiny / eps(dt)
    s = np.broadcast_to(np.asarray(scale, np.float64), e.shape)
    # NaN scale (no usable magnitude): strict; +inf (terms overflow float64): no bound
    s = np.where(np.isnan(s), floor, np.maximum(s, floor))
    units = np.zeros(e.shape)
    with np.errstate(over="ignore"):
        units[fin] = np.abs(g[fin] - e[fin]) / (eps(dt) * s[fin])
    flat = int(np.argmax(units.ravel()))
    c.units = float(units.ravel()[flat])
    _set_worst(c, flat, got, expected)
    if c.units > tol:
        c.ok = False
        c.problem = "tolerance"
        c.detail = f"{int((units > tol).sum())} of {units.size} elements exceed {tol:g} eps"
    return c


def _set_worst(c, flat, got, expected):
    idx = np.unravel_index(flat, expected.shape) if expected.ndim else ()
    c.index = tuple(int(i) for i in idx)
    c.got = got.ravel()[flat].item()
    c.expected = expected.ravel()[flat].item()


def missing(output, why):
    return Comparison(output, ok=False, problem="missing", units=float("inf"), detail=why)


def extra(output, why):
    return Comparison(output, ok=False, problem="extra", units=float("inf"), detail=why)


def fin(a):
    """a as float64 with non-finite entries replaced by 0: for scale formulas
    (where an input is infinite, the outputs are compared exactly anyway)."""
    a = np.asarray(a, np.float64)
    return np.where(np.isfinite(a), a, 0.0)
