"""Gradients: every public loss is written once, as an implementation that
returns its value and, when asked, a backward function built on the local
gradients its kernel computed in the same pass.

    value, backward = cyloss.vjp(fn, *args, **kwargs)
    grads = backward(dy=None)          # {argument name: gradient}

    value, grad = cyloss.value_and_grad(fn, wrt="logits")(*args, **kwargs)
"""
import contextvars
import functools
import inspect

import numpy as np

from . import _pool


class Ctx:
    """What the caller wants from an implementation: gradients or not, and
    for which arguments (None: every differentiable one)."""
    __slots__ = ("grad", "wrt")

    def __init__(self, grad, wrt=None):
        self.grad = grad
        self.wrt = wrt

    def wants(self, name):
        return self.grad and (self.wrt is None or name in self.wrt)


VALUE_ONLY = Ctx(False)

# Set while a backward function re-runs a forward pass: side effects of the
# forward (adding the loss to a collection) must not happen twice.
_recomputing = contextvars.ContextVar("cyloss_recomputing", default=False)


def recomputing():
    return _recomputing.get()


def differentiable(*wrt):
    """Make a public loss from `impl(ctx, *args, **kwargs) -> (value, backward)`.

    `wrt` names the arguments TensorFlow differentiates. `backward(dy)` gets
    dy as an array of the value's shape and dtype, or None for ones, and
    returns {name: gradient} for the wanted arguments. It may consume the
    buffers the forward pass filled: cyloss.vjp calls it at most once per
    forward pass.
    """
    def deco(impl):
        sig = inspect.signature(impl)
        public_sig = sig.replace(parameters=list(sig.parameters.values())[1:])

        @functools.wraps(impl)
        def public(*args, **kwargs):
            if _pool.wanted(args, kwargs):
                return _pool.run(True, impl, VALUE_ONLY, *args, **kwargs)[0]
            return impl(VALUE_ONLY, *args, **kwargs)[0]

        public.__signature__ = public_sig
        del public.__wrapped__
        public._cyloss_impl = impl
        public._cyloss_wrt = tuple(wrt)
        return public
    return deco


def _impl_of(fn):
    impl = getattr(fn, "_cyloss_impl", None)
    if impl is None:
        raise TypeError(f"{getattr(fn, '__name__', fn)!r} is not a cyloss loss function")
    return impl


def _as_dy(dy, value):
    if dy is None:
        return None
    d = np.asarray(dy)
    if d.dtype.kind not in "biuf":
        raise TypeError(f"dy must be real, got {d.dtype}")
    if d.shape != value.shape:
        try:
            d = np.broadcast_to(d, value.shape)
        except ValueError:
            raise ValueError(f"dy of shape {d.shape} does not broadcast to the value's "
                             f"shape {value.shape}") from None
    d = np.asarray(d, dtype=value.dtype)      # (ascontiguousarray would make 0-d 1-d)
    return d if d.flags.c_contiguous else d.copy()


def _as_array(g):
    """A gradient as NumPy; a list (one array per step, legacy_seq2seq) stays a list."""
    return [np.asarray(v) for v in g] if isinstance(g, list) else np.asarray(g)


def vjp(fn, *args, **kwargs):
    """Value of `fn(*args, **kwargs)` and its vector-Jacobian product.

    backward(dy=None) returns the gradient of sum(value * dy) (dy defaults to
    ones) with respect to every floating-point argument TensorFlow
    differentiates, as a dict keyed by argument name.
    """
    impl = _impl_of(fn)
    pooled = _pool.wanted(args, kwargs)
    value, bwd = _pool.run(pooled, impl, Ctx(True), *args, **kwargs)
    fresh = [bwd]

    def backward(dy=None):
        # The first call may scale the forward pass' buffers in place; a
        # second call recomputes them rather than reuse consumed buffers.
        if fresh:
            b = fresh.pop()
        else:
            token = _recomputing.set(True)
            try:
                b = _pool.run(pooled, impl, Ctx(True), *args, **kwargs)[1]
            finally:
                _recomputing.reset(token)
        grads = _pool.run(pooled, b, _as_dy(dy, value))
        return {k: _as_array(g) for k, g in grads.items()}

    return value, backward


def _fused(impl, ctx, args, kwargs):
    value, bwd = impl(ctx, *args, **kwargs)
    return value, bwd(None)


def value_and_grad(fn, wrt="logits"):
    """fn's value and its gradient with respect to `wrt` (a name or a tuple of
    names), for dy = ones, computed in one fused pass where the kernel can."""
    impl = _impl_of(fn)
    names = (wrt,) if isinstance(wrt, str) else tuple(wrt)
    allowed = set(inspect.signature(fn).parameters)
    for n in names:
        if n not in allowed:
            raise ValueError(f"{fn.__name__} has no argument {n!r}")

    ctx = Ctx(True, frozenset(names))       # immutable in use: shared by every call

    def run(*args, **kwargs):
        if _pool.wanted(args, kwargs):
            value, grads = _pool.run(True, _fused, impl, ctx, args, kwargs)
        else:
            value, grads = _fused(impl, ctx, args, kwargs)
        out = tuple(None if grads.get(n) is None else _as_array(grads[n]) for n in names)
        return value, (out[0] if isinstance(wrt, str) else out)

    return run
