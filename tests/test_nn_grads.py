"""Gradients: float64 finite differences of every function and argument TF
differentiates, TF's deliberate departures from the true derivative, and the
vjp / value_and_grad API."""
import numpy as np
import pytest
from numpy.testing import assert_array_equal

import cyloss
from cyloss import nn

from _cases import LAYOUTS, SPECS, assert_close, assert_same_bits, eps, simplex_labels, \
    with_layout
from _fd import central_diff_4, fd_tolerance, on_grid


def assert_fd_close(got, fd, noise, what):
    """An exact gradient against central_diff_4's estimate: <= 16 eps * noise / h
    of stencil rounding (see _fd.fd_tolerance) plus 16 eps relative for the
    few ulp of the gradient itself."""
    tol = fd_tolerance(noise) + 16 * eps(np.float64) * np.abs(fd)
    err = np.abs(got - fd)
    worst = np.unravel_index(np.argmax(err / tol), err.shape) if err.ndim else ()
    assert np.all(err <= tol), (
        f"{what}: at {worst}: got {got[worst]!r}, finite differences "
        f"{fd[worst]!r}, tolerance {tol[worst]:.3g}; "
        f"{int((err > tol).sum())} of {err.size} off")


def _check_fd(fn, args, kw, name, dy, scale, what):
    """backward(dy)[name] against central_diff_4 of fn in args[name]."""
    _, bwd = cyloss.vjp(fn, **args, **kw)
    got = bwd(dy)[name]

    def f(t):
        return fn(**{**args, name: t}, **kw)
    fd, noise = central_diff_4(f, args[name], dy=dy, scale=scale)
    assert_fd_close(got, fd, noise, f"{what} d{name}")


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_grad_matches_finite_differences(spec, rng):
    arrays, kw = spec.make(rng)
    args = spec.cast(arrays, np.float64)
    value = spec.call(args, kw)
    dy = rng.normal(size=np.shape(value))
    scale = np.asarray(spec.ref(args, kw)["scale"], np.float64)
    for name in spec.grads:
        _check_fd(spec.fn, args, kw, name, dy, scale, str(spec))


def test_fd_helper_is_exact_enough():
    # the helper itself on a function with a known gradient, at its tolerance
    x = on_grid(np.linspace(-2, 2, 9))
    dy = np.linspace(1, 3, 9)
    g, noise = central_diff_4(np.exp, x, dy=dy, scale=np.exp(x))
    assert_fd_close(dy * np.exp(x), g, noise, "exp")
    with pytest.raises(AssertionError):                  # and it can fail
        assert_fd_close(dy * np.exp(x) * (1 + 1e-9), g, noise, "exp")
    with pytest.raises(ValueError, match="inexact step"):
        central_diff_4(np.negative, np.array([3e13]))  # ulp(3e13) = 2**-8 > h


# ------------------------------------- TF's conventions where FD disagrees ---

def test_dense_xent_logits_gradient_is_softmax_minus_labels(rng):
    # labels not summing to 1: TF (and cyloss) return dy * (softmax - labels),
    # while the true derivative is dy * (sum(labels) softmax - labels)
    x = on_grid(rng.normal(size=(4, 5)) * 2)
    y = on_grid(rng.uniform(0, 1, size=(4, 5)))         # row sums ~2.5, not 1
    dy = rng.normal(size=4)
    _, bwd = cyloss.vjp(nn.softmax_cross_entropy_with_logits, y, x)
    got = bwd(dy)["logits"]
    p = nn.softmax(x)
    assert_close(got, dy[:, None] * (p - y), np.abs(dy[:, None]) * (p + y), 8, np.float64,
                 "softmax - labels")
    fd, noise = central_diff_4(lambda t: nn.softmax_cross_entropy_with_logits(y, t), x,
                               dy=dy, scale=np.abs(nn.log_softmax(x)).sum(1) * 3 + 1)
    true = dy[:, None] * (y.sum(axis=1, keepdims=True) * p - y)
    assert_fd_close(true, fd, noise, "FD is the true derivative")
    assert np.all(np.abs(got - fd) > 1e-3 * np.abs(dy[:, None] * p)), \
        "with labels summing to ~2.5 the convention must differ from the true derivative"
    # the labels gradient is exact whatever the labels: -log_softmax
    _check_fd(nn.softmax_cross_entropy_with_logits, {"labels": y, "logits": x}, {},
              "labels", dy, np.abs(nn.log_softmax(x)).sum(1) + 1, "dense xent dlabels")


def test_weighted_xent_gradient_at_zero_differs_from_derivative():
    z, pw = np.array([1.0, 0.5]), np.array([3.0, 4.0])
    x = np.zeros(2)
    _, bwd = cyloss.vjp(nn.weighted_cross_entropy_with_logits, z, x, pw)
    assert_array_equal(bwd()["logits"], 1 - z)               # TF's kink convention
    fd, noise = central_diff_4(lambda t: nn.weighted_cross_entropy_with_logits(z, t, pw), x,
                               scale=4)
    # the function is smooth at 0; its derivative there is (1 - z - pw z) / 2
    assert_fd_close((1 - z - pw * z) / 2, fd, noise, "true derivative at 0")


def test_log_poisson_full_dtargets_nan_at_zero():
    z = np.array([0.0, 0.0, 3.0])
    c = np.array([0.5, -1.0, 2.0])
    _, bwd = cyloss.vjp(nn.log_poisson_loss, z, c, compute_full_loss=True)
    g = bwd(np.array([1.0, 0.0, 1.0]))
    assert np.isnan(g["targets"][:2]).all()                  # NaN even for dy = 0
    assert np.isfinite(g["targets"][2])
    assert_array_equal(g["log_input"][:2], np.exp(c[:2]) * [1, 0])
    _, bwd = cyloss.vjp(nn.log_poisson_loss, z, c)           # partial loss: -c
    assert_array_equal(bwd()["targets"], -c)


# ------------------------------------------------------------- vjp API -------

@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_vjp_contract(spec, dtype, rng):
    arrays, kw = spec.make(rng)
    args = spec.cast(arrays, dtype)
    plain = spec.call(args, kw)
    value, bwd = spec.vjp(args, kw)
    assert_same_bits(value, plain, "vjp value vs plain call")
    dy = rng.normal(size=np.shape(value)).astype(dtype)
    first = bwd(dy)
    again = bwd(dy)                       # the first call may consume buffers
    assert sorted(first) == sorted(spec.grads)
    for name in spec.grads:
        g = first[name]
        assert g.dtype == args[name].dtype and g.shape == np.shape(args[name]), name
        assert_same_bits(again[name], g, f"second backward d{name}")
        for a in args.values():
            assert not np.shares_memory(g, a), f"d{name} aliases an input"
    # linear in dy: doubling dy doubles every gradient, bit for bit
    twice = bwd(2 * dy)
    for name in spec.grads:
        assert_same_bits(twice[name], 2 * first[name], f"d{name} at 2 dy")
    # dy=None means ones; value_and_grad is the same computation
    ones = bwd(np.ones_like(value))
    none = bwd()
    vg_value, vg_grads = cyloss.value_and_grad(spec.fn, wrt=spec.grads)(**args, **kw)
    assert_same_bits(vg_value, plain, "value_and_grad value")
    for name, g in zip(spec.grads, vg_grads):
        assert_same_bits(none[name], ones[name], f"d{name}, dy=None vs ones")
        assert_same_bits(g, none[name], f"value_and_grad d{name}")
        _, single = cyloss.value_and_grad(spec.fn, wrt=name)(**args, **kw)
        assert_same_bits(single, none[name], f"value_and_grad(wrt={name!r})")


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_dy_in_any_layout(spec, rng):
    arrays, kw = spec.make(rng)
    args = spec.cast(arrays, np.float64)
    value, bwd = spec.vjp(args, kw)
    dy = rng.normal(size=np.shape(value))
    want = bwd(dy)
    for layout in LAYOUTS:
        got = bwd(with_layout(dy, layout))
        for name in want:
            assert_same_bits(got[name], want[name], f"{spec} d{name}, dy {layout}")
    # a float32 dy for float64 values is cast up (exactly): same bits
    dy32 = dy.astype(np.float32)
    got = bwd(dy32)
    want = bwd(dy32.astype(np.float64))
    for name in want:
        assert_same_bits(got[name], want[name], f"{spec} d{name}, float32 dy")


def test_writing_to_the_returned_value_does_not_change_gradients(rng):
    # TF tensors are immutable; a NumPy value is the caller's to modify
    # (p, bwd = vjp(softmax, x); p[mask] = 0 is ordinary NumPy). Either the value
    # is read-only, or backward() must not depend on it. One test over every
    # spec, listing all that fail.
    failures = []
    for spec in SPECS:
        arrays, kw = spec.make(rng)
        args = spec.cast(arrays, np.float64)
        value, bwd = spec.vjp(args, kw)
        dy = rng.normal(size=np.shape(value))
        _, fresh = spec.vjp(args, kw)
        want = fresh(dy)
        try:
            value[...] = 0.25
        except ValueError:                       # read-only value: fine
            continue
        got = bwd(dy)
        for name in want:
            if not np.array_equal(got[name], want[name]):
                failures.append(f"{spec} d{name}")
    assert not failures, "gradient changed after writing to the value: " + ", ".join(failures)


def test_value_and_grad_default_wrt_is_logits(rng):
    x = rng.normal(size=(3, 4))
    y = rng.dirichlet(np.ones(4), size=3)
    v, g = cyloss.value_and_grad(nn.softmax_cross_entropy_with_logits)(y, x)
    _, bwd = cyloss.vjp(nn.softmax_cross_entropy_with_logits, y, x)
    assert_same_bits(g, bwd()["logits"], "default wrt")
    v, (gy, gx) = cyloss.value_and_grad(nn.softmax_cross_entropy_with_logits,
                                        wrt=("labels", "logits"))(labels=y, logits=x)
    assert gy.shape == y.shape and gx.shape == x.shape


def test_no_gradient_for_integer_or_sparse_labels(rng):
    x = rng.normal(size=(3, 4))
    _, bwd = cyloss.vjp(nn.sparse_softmax_cross_entropy_with_logits, np.array([0, 3, 1]), x)
    assert sorted(bwd()) == ["logits"]
    # dense labels given as integers: TF casts them and returns no labels gradient
    _, bwd = cyloss.vjp(nn.softmax_cross_entropy_with_logits, np.eye(4, dtype=np.int64)[:3],
                        x)
    assert sorted(bwd()) == ["logits"]
    _, g = cyloss.value_and_grad(nn.sparse_softmax_cross_entropy_with_logits,
                                 wrt="labels")(np.array([0, 3, 1]), x)
    assert g is None


def test_dense_labels_gradient_keeps_the_labels_dtype(rng):
    x = rng.normal(size=(3, 4))
    y = rng.dirichlet(np.ones(4), size=3).astype(np.float32)
    _, bwd = cyloss.vjp(nn.softmax_cross_entropy_with_logits, y, x)
    g = bwd()
    assert g["labels"].dtype == np.float32 and g["logits"].dtype == np.float64
    # the labels were cast to float64 for the computation; the gradient is cast back
    assert_array_equal(g["labels"], (-nn.log_softmax(x)).astype(np.float32))


@pytest.mark.parametrize("labels_shape", [(1, 4), (4,), (1, 1, 4), (5, 1), (1, 1), ()])
def test_broadcast_labels_gradient_is_reduced(dtype, rng, labels_shape):
    # TF flattens labels to [M, K] and broadcasts M in {1, N}, K in {1, C}
    x = (rng.normal(size=(5, 4)) * 2).astype(dtype)
    y = rng.uniform(0, 1, size=labels_shape).astype(dtype)
    dy = rng.normal(size=5).astype(dtype)
    value, bwd = cyloss.vjp(nn.softmax_cross_entropy_with_logits, y, x)
    g = bwd(dy)
    k = labels_shape[-1] if labels_shape else 1
    full = np.broadcast_to(y.reshape(-1, k), x.shape).astype(dtype)
    v_full, bwd_full = cyloss.vjp(nn.softmax_cross_entropy_with_logits, full, x)
    assert_same_bits(value, v_full, "value with broadcast labels")
    gf = bwd_full(dy)
    assert_same_bits(g["logits"], gf["logits"], "dlogits")
    assert g["labels"].shape == labels_shape and g["labels"].dtype == dtype
    # the broadcast gradient is the sum over the copies; the summation order may
    # differ, so a few ulp of sum |dy (L - s)|
    want, scale = gf["labels"].astype(np.float64), np.abs(gf["labels"].astype(np.float64))
    if y.size // k == 1:
        want, scale = want.sum(axis=0, keepdims=True), scale.sum(axis=0, keepdims=True)
    if k == 1:
        want, scale = want.sum(axis=1, keepdims=True), scale.sum(axis=1, keepdims=True)
    assert_close(g["labels"], want.reshape(labels_shape), scale.reshape(labels_shape), 8,
                 dtype, "reduced dlabels")


@pytest.mark.parametrize("pw_shape", [(), (1,), (6,), (1, 6), (4, 1), (1, 1)])
def test_broadcast_pos_weight_gradient_is_reduced(dtype, rng, pw_shape):
    x = (rng.normal(size=(4, 6)) * 2).astype(dtype)
    z = rng.uniform(0, 1, size=(4, 6)).astype(dtype)
    pw = rng.uniform(0.5, 3, size=pw_shape).astype(dtype)
    dy = rng.normal(size=(4, 6)).astype(dtype)
    value, bwd = cyloss.vjp(nn.weighted_cross_entropy_with_logits, z, x, pw)
    g = bwd(dy)
    full = np.ascontiguousarray(np.broadcast_to(pw, x.shape))
    v_full, bwd_full = cyloss.vjp(nn.weighted_cross_entropy_with_logits, z, x, full)
    assert_same_bits(value, v_full, "value")
    gf = bwd_full(dy)
    for name in ("labels", "logits"):
        assert_same_bits(g[name], gf[name], f"d{name}")
    assert g["pos_weight"].shape == pw_shape and g["pos_weight"].dtype == dtype
    lead = 2 - len(pw_shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(pw_shape) if s == 1)
    gp = gf["pos_weight"].astype(np.float64)
    assert_close(g["pos_weight"], gp.sum(axis=axes).reshape(pw_shape),
                 np.abs(gp).sum(axis=axes).reshape(pw_shape), 8, dtype, "reduced dpos_weight")


def test_dy_is_broadcast_and_checked(rng):
    x = rng.normal(size=(3, 4))
    _, bwd = cyloss.vjp(nn.softmax, x)
    assert_same_bits(bwd(2.0)["logits"], bwd(np.full((3, 4), 2.0))["logits"], "scalar dy")
    with pytest.raises(ValueError, match=r"\(3, 5\).*\(3, 4\)"):
        bwd(np.ones((3, 5)))
    _, bwd = cyloss.vjp(nn.l2_loss, x)
    assert_same_bits(bwd(np.float32(3))["t"], 3 * x, "l2 dy")


def test_vjp_rejects_non_cyloss_functions():
    with pytest.raises(TypeError, match="not a cyloss loss function"):
        cyloss.vjp(np.sum, np.ones(3))
    with pytest.raises(ValueError, match="no argument 'weights'"):
        cyloss.value_and_grad(nn.softmax, wrt="weights")


def test_vjp_of_empty_and_zero_dy_is_zero(rng):
    y = simplex_labels(rng, (3, 4))
    x = rng.normal(size=(3, 4))
    _, bwd = cyloss.vjp(nn.softmax_cross_entropy_with_logits, y, x)
    g = bwd(np.zeros(3))
    assert_array_equal(g["logits"], 0)
    assert_array_equal(g["labels"], 0)
