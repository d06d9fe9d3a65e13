"""Fourth-order central finite differences in float64, for checking the
hand-written vector-Jacobian products of cyloss.

For an array function f and an upstream gradient dy, the gradient of
F(x) = sum(dy * f(x)) with respect to x[j] is estimated by the stencil

    F'(x_j) ~ (F(x - 2h) - 8 F(x - h) + 8 F(x + h) - F(x + 2h)) / (12 h)

whose truncation error is h**4 / 30 * |F^(5)|. The stencil is applied to the
outputs of f *before* they are weighted by dy and summed, so outputs that
x[j] does not reach contribute exactly zero and the rounding noise of the
estimate comes only from the outputs x[j] does move. `central_diff_4`
returns that noise scale with the estimate, so callers can state their
tolerance as k * eps * noise / h (see fd_tolerance).

Steps must be exact (x + t*h representable for t in -2..2), otherwise the
stencil divides by the wrong step; inputs on the grid of `on_grid` satisfy
this for the default h, and the helper checks it.
"""
import numpy as np

# h = 2**-10: the rounding term (~eps * scale / h ~ 2e-13 * scale) and the
# truncation term (~h**4 / 30 * |F^(5)| ~ 3e-14 * |F^(5)|) are balanced for
# the O(1) inputs and derivatives the tests use.
H = 2.0 ** -10
GRID = 2.0 ** -20
EPS64 = np.finfo(np.float64).eps


def on_grid(a, grid=GRID):
    """Round `a` to multiples of `grid` (float64). For |a| < 2**30 every
    a + t*H (t = -2..2) is then exactly representable, and so is `a` itself in
    float32 when |a| < 16."""
    return np.round(np.asarray(a, np.float64) / grid) * grid


def central_diff_4(f, x, h=H, dy=None, scale=None):
    """Gradient of sum(dy * f(x)) w.r.t. the float64 array x.

    f: float64 array of x's shape -> array (its outputs y).
    dy: weights of the outputs (default ones).
    scale: per-output magnitude of the terms f sums (its rounding scale;
        default |f(x)| + 1).
    Returns (grad, noise) with grad.shape == noise.shape == x.shape and
    noise[j] = sum(|dy_i| * scale_i) over the outputs i that x[j] moves.
    """
    x = np.array(x, dtype=np.float64)
    if x.dtype != np.float64:
        raise TypeError("central_diff_4 works in float64")
    f0 = np.asarray(f(x), dtype=np.float64)
    dy = np.ones_like(f0) if dy is None else np.broadcast_to(np.asarray(dy, np.float64),
                                                             f0.shape)
    scale = np.abs(f0) + 1 if scale is None else np.broadcast_to(
        np.asarray(scale, np.float64), f0.shape)
    grad = np.empty(x.shape)
    noise = np.empty(x.shape)
    for j in np.ndindex(x.shape):
        outs = []
        for t in (-2, -1, 1, 2):
            xp = x.copy()
            xp[j] = x[j] + t * h
            if xp[j] - x[j] != t * h:
                raise ValueError(f"inexact step at x[{j}] = {x[j]!r}; put x on_grid()")
            outs.append(np.asarray(f(xp), dtype=np.float64))
        m2, m1, p1, p2 = outs
        # differences first: outputs that x[j] does not reach cancel to exact 0
        # (NaN - NaN stays NaN and is reported, as it should be)
        stencil = (m2 - p2) + 8 * (p1 - m1)
        grad[j] = np.sum(dy * stencil) / (12 * h)
        moved = (m2 != f0) | (m1 != f0) | (p1 != f0) | (p2 != f0)
        noise[j] = np.sum(np.abs(dy) * scale * moved)
    return grad, noise


def fd_tolerance(noise, h=H, k=16):
    """Absolute tolerance for comparing an exact gradient with central_diff_4.

    Each evaluation of f is off by at most ~8 eps * scale (the bound the
    closed-form value tests check); the stencil weights sum to 18 / 12, so the
    estimate carries <= 12 eps * noise / h of rounding; k = 16 leaves room for
    the O(h**4) truncation, which is ~1e-13 here and hence below eps / h.
    """
    return k * EPS64 * np.asarray(noise) / h
