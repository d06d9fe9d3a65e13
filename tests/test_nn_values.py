"""Values of cyloss.nn: TF's verified outputs (TF_SEMANTICS.md section 1),
closed forms against an extended-precision NumPy reference, metamorphic
relations, TF's non-finite conventions, and the edge shapes (empty, C = 1,
rank 1, rank 4)."""
import numpy as np
import pytest
from numpy.testing import assert_array_equal

import cyloss
from cyloss import nn

from _cases import SPECS, assert_close, assert_same_bits, eps, ref_sigmoid_xent, \
    ref_weighted_xent

# The hand examples are TF float32 outputs printed to 7 (sometimes 8)
# significant digits: printing rounds by <= 5e-7 relative (~4.2 eps32), and
# cyloss' float32 exp/log differ from Eigen's by a few ulp (TF_SEMANTICS 0.2).
# 8 eps32 relative covers both; it applies to float64 runs too, because the
# expected numbers themselves carry float32 / 7-digit precision.
HAND_RTOL = 8 * eps(np.float32)


def hand(got, want):
    want = np.asarray(want, np.float64)
    assert_close(got, want, np.abs(want), HAND_RTOL / eps(np.float32), np.float32,
                 "TF example")


def f(a, dtype):
    return np.asarray(a, dtype)


# ------------------------------------------------------------ TF's examples --

def test_softmax_example(dtype):
    hand(nn.softmax(f([1, 2, 3], dtype)), [0.09003057, 0.2447285, 0.6652409])
    hand(nn.log_softmax(f([1, 2, 3], dtype)), [-2.407606, -1.407606, -0.4076059])


def test_softmax_xent_issue_example(dtype):
    logits = f([[2, 7, 5], [6, 3, 4], [7, 5, 6]], dtype)
    labels = f([[0, 1, 0], [1, 0, 0], [0, 0, 1]], dtype)
    got = nn.softmax_cross_entropy_with_logits(labels, logits)
    assert got.dtype == dtype and got.shape == (3,)
    hand(got, [0.13284527, 0.16984604, 1.407606])


def test_sparse_xent_issue_example():
    # float64 seed of the issue: exact to float64 eps (17 digits given).
    logits = np.array([[[1, 2], [1, 2]], [[1, 2], [1, 2]]], np.float64)
    labels = np.array([[0, 1], [1, 1]])
    got = nn.sparse_softmax_cross_entropy_with_logits(labels, logits)
    assert got.shape == (2, 2) and got.dtype == np.float64
    # mean of 4 values, each within a few ulp: 4 eps relative
    assert_close(got.mean(), 0.5632616875182228, 0.5632616875182228, 4, np.float64)


def test_sparse_xent_issue_example_float32():
    logits = np.array([[[1, 2], [1, 2]], [[1, 2], [1, 2]]], np.float32)
    got = nn.sparse_softmax_cross_entropy_with_logits(np.array([[0, 1], [1, 1]], np.int32),
                                                      logits)
    hand(got, [[1.3132616, 0.3132617], [0.3132617, 0.3132617]])


def test_softmax_xent_example_values_and_grads(dtype):
    logits = f([[1, 2, 3], [1, -1, 0.5]], dtype)
    labels = f([[0, 1, 0], [0.2, 0.3, 0.5]], dtype)
    hand(nn.softmax_cross_entropy_with_logits(labels, logits), [1.407606, 1.404957])
    _, bwd = cyloss.vjp(nn.softmax_cross_entropy_with_logits, labels, logits)
    g = bwd()
    hand(g["logits"], [[0.09003057, -0.7552716, 0.6652409],
                       [0.374097, -0.2223044, -0.1517926]])
    hand(g["labels"], [[2.407606, 1.407606, 0.407606], [0.554957, 2.554957, 1.054957]])


def test_softmax_xent_labels_not_summing_to_one(dtype):
    # value is exact for any labels; the logits gradient is TF's softmax - labels,
    # not the true derivative [0.1800611, -1.5105431, 1.3304818]
    logits, labels = f([[1, 2, 3]], dtype), f([[0, 2, 0]], dtype)
    value, bwd = cyloss.vjp(nn.softmax_cross_entropy_with_logits, labels, logits)
    hand(value, [2.8152118])
    hand(bwd()["logits"], [[0.0900306, -1.7552716, 0.6652409]])


def test_sparse_xent_example(dtype):
    got = nn.sparse_softmax_cross_entropy_with_logits(
        np.array([1, 2]), f([[1, 2, 3], [1, -1, 0.5]], dtype))
    hand(got, [1.407606, 1.054957])


def test_sigmoid_xent_example(dtype):
    x, z = f([-3, -0.5, 0, 0.5, 3], dtype), f([0, 1, 0.5, 0.2, 1], dtype)
    value, bwd = cyloss.vjp(nn.sigmoid_cross_entropy_with_logits, labels=z, logits=x)
    hand(value, [0.04858735, 0.974077, 0.6931472, 0.874077, 0.04858735])
    assert_array_equal(bwd()["labels"], -x)                  # dz = -x, exactly


def test_weighted_xent_example(dtype):
    x, z = f([-3, -0.5, 0, 0.5, 3], dtype), f([0, 1, 0.5, 0.2, 1], dtype)
    hand(nn.weighted_cross_entropy_with_logits(z, x, 2.5),
         [0.04858732, 2.435193, 1.213008, 1.0163, 0.1214684])


def test_log_poisson_example(dtype):
    z, c = f([0, 1, 3, 0.5, 10], dtype), f([0.5, -1, 2, 0, 1.5], dtype)
    hand(nn.log_poisson_loss(z, c), [1.648721, 1.367879, 1.389056, 1, -10.51831])
    value, bwd = cyloss.vjp(nn.log_poisson_loss, z, c, compute_full_loss=True)
    hand(value, [1.648721, 1.367879, 3.153138, 1, 4.577773])
    hand(bwd()["targets"], [np.nan, 1, -0.734721, 0, 0.8525851])


def test_l2_loss_example(dtype):
    got = nn.l2_loss(f([[1, 2], [3, 4]], dtype))
    assert got.shape == () and got.dtype == dtype
    assert got == 15                      # sums of small integers are exact


# ------------------------------------------------ closed forms vs reference --

@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_value_matches_reference(spec, dtype, rng):
    arrays, kw = spec.make(rng)
    args = spec.cast(arrays, dtype)
    got = spec.call(args, kw)
    ref = spec.ref(args, kw)
    assert got.dtype == dtype
    assert_close(got, ref["value"], ref["scale"], spec.k, dtype, f"{spec} value",
                 inputs=args if all(np.shape(a) == np.shape(got) for a in args.values())
                 else None)


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_grad_matches_reference(spec, dtype, rng):
    arrays, kw = spec.make(rng)
    args = spec.cast(arrays, dtype)
    value, bwd = spec.vjp(args, kw)
    dy = rng.normal(size=np.shape(value)).astype(dtype)
    grads = bwd(dy)
    ref = spec.ref(args, kw, dy)
    assert sorted(grads) == sorted(spec.grads)
    for name in spec.grads:
        assert grads[name].dtype == dtype
        assert_close(grads[name], ref[name], ref[name + "_scale"], spec.k, dtype,
                     f"{spec} d{name}")


# ------------------------------------------------------------- metamorphic --

def test_two_class_softmax_xent_is_sigmoid_xent(dtype, rng):
    # labels [1-z, z] and logits [a, b] give sigmoid_xent(z, b - a); on the
    # 2**-20 grid 1 - z and b - a are exact, so only the two kernels' own
    # rounding differs: a few ulp of |b - a| + log 2 + 1 (8 eps x that).
    n = 200
    a = np.round(rng.normal(size=n) * 3 * 2 ** 20) / 2 ** 20
    b = np.round(rng.normal(size=n) * 3 * 2 ** 20) / 2 ** 20
    z = np.round(rng.uniform(0, 1, size=n) * 2 ** 20) / 2 ** 20
    logits = np.stack([a, b], axis=1).astype(dtype)
    labels = np.stack([1 - z, z], axis=1).astype(dtype)
    x = (b - a).astype(dtype)
    scale = np.abs(b - a) + 1
    v2, bwd2 = cyloss.vjp(nn.softmax_cross_entropy_with_logits, labels, logits)
    vs, bwds = cyloss.vjp(nn.sigmoid_cross_entropy_with_logits, z.astype(dtype), x)
    assert_close(v2, vs.astype(np.float64), scale, 8, dtype, "value")
    g2, gs = bwd2()["logits"], bwds()["logits"]
    assert_close(g2[:, 1], gs.astype(np.float64), 2, 8, dtype, "d/d logit 1")
    assert_close(g2[:, 0], -gs.astype(np.float64), 2, 8, dtype, "d/d logit 0")


def test_weighted_xent_with_pos_weight_one_is_sigmoid_xent(dtype, rng):
    # (1 - z) x + relu(-x) = relu(x) - x z: equal up to the rounding of the two
    # forms, a few ulp of |x| + 1 (the size of the terms).
    x = (rng.normal(size=300) * 4).astype(dtype)
    z = rng.uniform(0, 1, size=300).astype(dtype)
    vw, bw = cyloss.vjp(nn.weighted_cross_entropy_with_logits, z, x, 1.0)
    vs, bs = cyloss.vjp(nn.sigmoid_cross_entropy_with_logits, z, x)
    assert_close(vw, vs.astype(np.float64), np.abs(x) + 1, 8, dtype, "value")
    gw, gs = bw(), bs()
    assert_close(gw["logits"], gs["logits"].astype(np.float64), 2, 8, dtype, "dlogits")
    # dz: -x + (pw - 1) c = -x exactly when pw = 1
    assert_array_equal(gw["labels"], gs["labels"])


def test_labels_outside_the_unit_interval_are_used_as_is(dtype, rng):
    # TF does not check sigmoid / weighted labels: the formula is applied as is
    x = (rng.normal(size=12) * 3).astype(dtype)
    z = np.array([-1, 2, 5, -0.5] * 3, dtype)
    for fn, args, ref in (
            (nn.sigmoid_cross_entropy_with_logits, (z, x), ref_sigmoid_xent(z, x)),
            (nn.weighted_cross_entropy_with_logits, (z, x, 1.5),
             ref_weighted_xent(z, x, dtype(1.5)))):
        assert_close(fn(*args), ref["value"], ref["scale"], 8, dtype, fn.__name__)


def test_weighted_xent_is_affine_in_pos_weight(dtype, rng):
    # value(pw) = value(1) + (pw - 1) z c with z c = dpos_weight at dy = 1
    x = (rng.normal(size=100) * 3).astype(dtype)
    z = rng.uniform(0, 1, size=100).astype(dtype)
    pw = rng.uniform(0.5, 4, size=100).astype(dtype)
    v1 = nn.weighted_cross_entropy_with_logits(z, x, np.ones_like(x))
    vp, bwd = cyloss.vjp(nn.weighted_cross_entropy_with_logits, z, x, pw)
    zc = bwd()["pos_weight"].astype(np.float64)
    scale = np.abs(x) + (1 + pw * z) * (zc + 1)
    assert_close(vp, v1 + (pw.astype(np.float64) - 1) * zc, scale, 8, dtype, "value")


def _grid_logits(rng, shape, step=2.0 ** -6, bound=64):
    # multiples of 1/64 in [-64, 64]: adding a power of two <= 256 is exact in
    # float32, and so is every difference x - max(x)
    return np.round(rng.uniform(-bound, bound, size=shape) / step) * step


@pytest.mark.parametrize("shift", [1.0, -32.0, 256.0])
def test_shifting_logits_keeps_bits(dtype, rng, shift):
    # softmax(x + c) = softmax(x): with exact shifts, x - max is bitwise the
    # same, so every result must be identical, not just close.
    x = _grid_logits(rng, (9, 5)).astype(dtype)
    xs = (x + dtype(shift)).astype(dtype)
    assert_array_equal(xs - dtype(shift), x)          # the shift is exact
    for fn in (nn.softmax, nn.log_softmax):
        assert_same_bits(fn(xs), fn(x), fn.__name__)
    y = np.abs(rng.normal(size=x.shape)).astype(dtype)
    lab = rng.integers(0, 5, size=9)
    for fn, labels in ((nn.softmax_cross_entropy_with_logits, y),
                       (nn.sparse_softmax_cross_entropy_with_logits, lab)):
        v0, b0 = cyloss.vjp(fn, labels, x)
        v1, b1 = cyloss.vjp(fn, labels, xs)
        assert_same_bits(v1, v0, fn.__name__)
        g0, g1 = b0(), b1()
        for name in g0:
            assert_same_bits(g1[name], g0[name], f"{fn.__name__} d{name}")


def test_softmax_rows_sum_to_one_and_log_softmax_is_log(dtype, rng):
    x = (rng.normal(size=(50, 33)) * 4).astype(dtype)
    p = nn.softmax(x)
    # a sum of 33 values in [0, 1] with ~1 ulp each + the division: 8 eps x C
    assert_close(p.sum(axis=1, dtype=np.float64), np.ones(50), 33, 8, dtype, "row sums")
    lp = nn.log_softmax(x)
    assert np.all(lp <= 0) and np.all((p >= 0) & (p <= 1))
    # exp(log_softmax) vs softmax: each ~ (1 + |log p|) ulp of p
    assert_close(np.exp(lp.astype(np.float64)), p.astype(np.float64),
                 p * (2 + np.abs(lp.astype(np.float64))), 8, dtype, "exp(log_softmax)")


def test_softmax_permutes_with_classes(dtype, rng):
    x = (rng.normal(size=(6, 11)) * 3).astype(dtype)
    perm = rng.permutation(11)
    # the lane order of the sum changes: equal to a few ulp, not bitwise
    assert_close(nn.softmax(x[:, perm]), nn.softmax(x)[:, perm].astype(np.float64),
                 1, 8, dtype, "permuted softmax")


def test_sparse_equals_dense_with_one_hot(dtype, rng):
    for c in (5, 19):                           # block path and row path
        x = (rng.normal(size=(40, c)) * 3).astype(dtype)
        lab = rng.integers(0, c, size=40)
        onehot = np.eye(c, dtype=dtype)[lab]
        vs, bs = cyloss.vjp(nn.sparse_softmax_cross_entropy_with_logits, lab, x)
        vd, bd = cyloss.vjp(nn.softmax_cross_entropy_with_logits, onehot, x)
        scale = np.abs(x - x.max(axis=1, keepdims=True)).max(axis=1) + np.log(c) + 1
        assert_close(vs, vd.astype(np.float64), scale, 2, dtype, f"value C={c}")
        assert_close(bs()["logits"], bd()["logits"].astype(np.float64), 1, 2, dtype,
                     f"dlogits C={c}")


def test_rows_do_not_depend_on_the_batch(dtype, rng):
    # every row is computed on its own: a row's bits are the same alone, in
    # the batch, or at another offset (block boundaries of the small-C path)
    for c in (3, 15, 16, 40):
        x = (rng.normal(size=(150, c)) * 3).astype(dtype)
        lab = rng.integers(0, c, size=150)
        y = rng.dirichlet(np.ones(c), size=150).astype(dtype)
        fns = [lambda s: nn.softmax(x[s]), lambda s: nn.log_softmax(x[s]),
               lambda s: nn.softmax_cross_entropy_with_logits(y[s], x[s]),
               lambda s: nn.sparse_softmax_cross_entropy_with_logits(lab[s], x[s])]
        for i, fn in enumerate(fns):
            full = fn(slice(None))
            assert_same_bits(fn(slice(37, 150)), full[37:], f"fn {i} C={c} offset 37")
            assert_same_bits(fn(slice(70, 71)), full[70:71], f"fn {i} C={c} row 70")


def test_axis_is_a_transpose(dtype, rng):
    x = (rng.normal(size=(4, 6, 5)) * 3).astype(dtype)
    for fn in (nn.softmax, nn.log_softmax):
        for axis in (0, 1, -2, -3):
            want = np.moveaxis(fn(np.moveaxis(x, axis, -1)), -1, axis)
            assert_same_bits(fn(x, axis=axis), want, f"{fn.__name__} axis={axis}")
    y = rng.dirichlet(np.ones(6), size=(4, 5)).astype(dtype)          # classes last
    want = nn.softmax_cross_entropy_with_logits(y, np.moveaxis(x, 1, -1))
    got = nn.softmax_cross_entropy_with_logits(np.moveaxis(y, -1, 1), x, axis=1)
    assert_same_bits(got, want, "softmax_xent axis=1")
    # TF v1's `dim` is an alias of the axis
    assert_same_bits(nn.softmax(x, dim=0), nn.softmax(x, axis=0), "dim=0")
    assert_same_bits(nn.softmax_cross_entropy_with_logits(np.moveaxis(y, -1, 1), x, dim=1),
                     want, "xent dim=1")


def test_l2_loss_is_half_sum_of_squares_and_scales(dtype, rng):
    t = rng.normal(size=(40, 30)).astype(dtype)
    # scaling by 2 is exact: l2(2 t) = 4 l2(t), bit for bit
    assert_same_bits(nn.l2_loss(2 * t), 4 * nn.l2_loss(t), "l2(2t)")
    assert nn.l2_loss(t) == nn.l2_loss(-t)


# ------------------------------------------------- kinks and tie conventions --

def test_sigmoid_xent_at_zero(dtype):
    # branch test x >= 0 (also for -0.0): value log 2, gradient 0.5 - z
    z = f([0, 0.2, 0.5, 1, 0.2], dtype)
    x = f([0, 0, 0, 0, -0.0], dtype)
    value, bwd = cyloss.vjp(nn.sigmoid_cross_entropy_with_logits, z, x)
    assert_close(value, np.full(5, np.log(2)), 1, 2, dtype, "value at 0")
    assert_close(bwd()["logits"], 0.5 - z.astype(np.float64), 1, 2, dtype, "dx at 0")


def test_weighted_xent_gradient_at_zero_is_one_minus_z(dtype):
    # TF: sign(0) = 0 and relu'(0) = 0, so dx = 1 - z at x = 0 exactly (not the
    # analytic q/2 - q z): z = 1, pw = 3 -> 0;  z = 0.5, pw = 4 (q = 2.5) -> 0.5
    z = f([1, 0.5, 0, 0.25, 0.5], dtype)
    x = f([0, 0, 0, 0, -0.0], dtype)
    pw = f([3, 4, 2, 5, 4], dtype)
    _, bwd = cyloss.vjp(nn.weighted_cross_entropy_with_logits, z, x, pw)
    assert_array_equal(bwd()["logits"], 1 - z)
    # next to zero the analytic gradient is back, (1 - z - pw z)/2 + O(x), not 1 - z
    near = f([1e-6, 1e-6, 1e-6, 1e-6, -1e-6], dtype)
    dy = np.ones(5, dtype)
    _, bwd = cyloss.vjp(nn.weighted_cross_entropy_with_logits, z, near, pw)
    ref = ref_weighted_xent(z, near, pw, dy)
    assert_close(bwd()["logits"], ref["logits"], ref["logits_scale"], 8, dtype, "dx near 0")


def test_log_poisson_stirling_switch(dtype):
    # the Stirling term is added only where z > 1 (or z < 0): not at z = 1 or in [0, 1]
    z = f([0, 0.5, 1, 2], dtype)
    c = f([0.25, 0.25, 0.25, 0.25], dtype)
    part = nn.log_poisson_loss(z, c)
    full, bwd = cyloss.vjp(nn.log_poisson_loss, z, c, compute_full_loss=True)
    assert_array_equal(full[:3], part[:3])
    st = 2 * np.log(2) - 2 + 0.5 * np.log(4 * np.pi)
    assert_close(full[3], part[3].astype(np.float64) + st, 4, 8, dtype, "z = 2")
    dz = bwd()["targets"]
    assert np.isnan(dz[0])                                   # TF: 0 * (-inf + inf)
    assert_array_equal(dz[1:3], -c[1:3])
    assert_close(dz[3], -0.25 + np.log(2) + 0.25, 2, 8, dtype, "dz at z = 2")


def test_log_poisson_negative_targets_full_loss_is_nan(dtype):
    value, bwd = cyloss.vjp(nn.log_poisson_loss, f([-1, 2], dtype), f([0.5, 0.5], dtype),
                            compute_full_loss=True)
    g = bwd()
    assert np.isnan(value[0]) and np.isfinite(value[1])
    assert np.isnan(g["targets"][0]) and np.isfinite(g["targets"][1])
    # without the full loss a negative target is just a number
    assert np.isfinite(nn.log_poisson_loss(f([-1.0], dtype), f([0.5], dtype))).all()


# ------------------------------------------------------------- non-finite ----

INF = np.inf


def test_softmax_non_finite_rows(dtype):
    x = f([[-INF, -INF, -INF], [1, INF, 2], [0, -INF, 1], [1, np.nan, 2], [1, 2, 3]],
          dtype)
    for fn in (nn.softmax, nn.log_softmax):
        out = fn(x)
        assert np.isnan(out[0]).all(), "row of all -inf"
        assert np.isnan(out[1]).all(), "+inf in the row"
        assert np.isnan(out[3]).all(), "NaN in the row"
        assert np.isfinite(out[4]).all(), "other rows untouched"
    p, lp = nn.softmax(x[2:3]), nn.log_softmax(x[2:3])
    assert p[0, 1] == 0 and lp[0, 1] == -INF                 # a single -inf entry
    assert_close(p[0, [0, 2]], np.exp([0, 1]) / (1 + np.e), 1, 4, dtype, "finite part")


def test_softmax_xent_non_finite(dtype):
    logits = f([[1, INF, 0], [-INF, 1, 0], [-INF, 1, 0], [1, np.nan, 0],
                [1e30, -1e30, 0]], dtype)
    labels = f([[0.5, 0, 0.5], [0, 0.5, 0.5], [0.5, 0.5, 0], [1, 0, 0], [1, 0, 0]], dtype)
    got = nn.softmax_cross_entropy_with_logits(labels, logits)
    assert np.isnan(got[0])                         # +inf logit anywhere
    assert np.isnan(got[1])                         # -inf logit with label exactly 0
    assert got[2] == INF                            # -inf logit with label > 0
    assert np.isnan(got[3])                         # NaN propagates
    assert got[4] == 0                              # [1e30, -1e30, 0] on class 0


def test_sparse_xent_non_finite(dtype):
    logits = f([[1, INF, 0], [-INF, 0, 1], [-INF, 0, 1], [np.nan, 0, 1]], dtype)
    got = nn.sparse_softmax_cross_entropy_with_logits(np.array([0, 0, 1, 1]), logits)
    assert np.isnan(got[0])                         # +inf anywhere in the row
    assert got[1] == INF                            # -inf on the labelled class
    hand(got[2], 1.3132616)                         # -inf elsewhere is harmless
    assert np.isnan(got[3])


def test_sigmoid_xent_non_finite(dtype):
    x = f([INF, INF, INF, -INF, -INF, -INF], dtype)
    z = f([0, 0.3, 1, 0, 0.3, 1], dtype)
    value, bwd = cyloss.vjp(nn.sigmoid_cross_entropy_with_logits, z, x)
    assert np.isnan(value[:4]).all()                # +inf: inf - inf z; -inf, z = 0: -inf * 0
    assert_array_equal(value[4:], [INF, INF])
    # the gradient stays finite: [x >= 0] - z
    assert_close(bwd()["logits"], np.array([1, 0.7, 0, 0, -0.3, -1]), 1, 2, dtype, "dx")


def test_weighted_xent_non_finite(dtype):
    z = f([0, 1, 0, 1], dtype)
    x = f([INF, -INF, -INF, INF], dtype)
    got = nn.weighted_cross_entropy_with_logits(z, x, 2.0)
    assert got[0] == INF
    assert np.isnan(got[1:]).all()


def test_log_poisson_non_finite(dtype):
    got = nn.log_poisson_loss(f([0, 2, 0], dtype), f([INF, INF, -INF], dtype))
    assert np.isnan(got).all()                      # inf - inf, inf - inf, -inf * 0


def test_l2_loss_non_finite(dtype):
    assert nn.l2_loss(f([1, INF], dtype)) == INF
    assert np.isnan(nn.l2_loss(f([1, np.nan], dtype)))


# ------------------------------------------------------------- edge shapes ---

def test_empty_batch(dtype):
    x = np.zeros((0, 4), dtype)
    for fn in (nn.softmax, nn.log_softmax):
        v, bwd = cyloss.vjp(fn, x)
        assert v.shape == (0, 4) and v.dtype == dtype
        assert bwd()["logits"].shape == (0, 4)
    v, bwd = cyloss.vjp(nn.softmax_cross_entropy_with_logits, x, x)
    assert v.shape == (0,) and v.dtype == dtype
    g = bwd(np.zeros(0, dtype))
    assert g["logits"].shape == (0, 4) and g["labels"].shape == (0, 4)
    v, bwd = cyloss.vjp(nn.sparse_softmax_cross_entropy_with_logits,
                        np.zeros((2, 0), np.int64), np.zeros((2, 0, 4), dtype))
    assert v.shape == (2, 0) and bwd()["logits"].shape == (2, 0, 4)
    for fn in (nn.sigmoid_cross_entropy_with_logits, nn.log_poisson_loss):
        v, bwd = cyloss.vjp(fn, x, x)
        assert v.shape == (0, 4) and all(g.shape == (0, 4) for g in bwd().values())
    v, bwd = cyloss.vjp(nn.weighted_cross_entropy_with_logits, x, x, np.ones(4, dtype))
    g = bwd()
    assert v.shape == (0, 4) and g["pos_weight"].shape == (4,)
    assert_array_equal(g["pos_weight"], 0)
    v, bwd = cyloss.vjp(nn.l2_loss, x)
    assert v.shape == () and v.dtype == dtype and v == 0
    assert bwd()["t"].shape == (0, 4)


def test_empty_class_axis(dtype):
    x = np.zeros((3, 0), dtype)
    assert nn.softmax(x).shape == (3, 0)
    assert nn.log_softmax(x).shape == (3, 0)
    # TF: C = 0 gives a loss of 0 per row for the dense cross-entropy
    v, bwd = cyloss.vjp(nn.softmax_cross_entropy_with_logits, x, x)
    assert_array_equal(v, np.zeros(3, dtype))
    assert bwd()["logits"].shape == (3, 0)


def test_broadcast_labels_of_empty_batch_get_zero_gradient(dtype):
    _, bwd = cyloss.vjp(nn.softmax_cross_entropy_with_logits, np.full((1, 3), 1 / 3, dtype),
                        np.zeros((0, 3), dtype))
    g = bwd()["labels"]
    assert g.shape == (1, 3)
    assert_array_equal(g, 0)


def test_one_class(dtype, rng):
    x = (rng.normal(size=(7, 1)) * 5).astype(dtype)
    assert_array_equal(nn.softmax(x), np.ones_like(x))
    assert_array_equal(nn.log_softmax(x), np.zeros_like(x))
    y = rng.uniform(0, 2, size=(7, 1)).astype(dtype)
    v, bwd = cyloss.vjp(nn.softmax_cross_entropy_with_logits, y, x)
    assert_array_equal(v, np.zeros(7, dtype))               # y * (log 1 - 0)
    g = bwd()
    assert_array_equal(g["logits"], 1 - y)                  # softmax - labels
    assert_array_equal(g["labels"], np.zeros_like(y))       # -log_softmax = 0
    v, bwd = cyloss.vjp(nn.sparse_softmax_cross_entropy_with_logits, np.zeros(7, np.int32), x)
    assert_array_equal(v, np.zeros(7, dtype))
    assert_array_equal(bwd()["logits"], np.zeros_like(x))


def test_rank_one(dtype, rng):
    x = (rng.normal(size=6) * 3).astype(dtype)
    y = rng.dirichlet(np.ones(6)).astype(dtype)
    assert_same_bits(nn.softmax(x), nn.softmax(x[None])[0], "softmax")
    assert_same_bits(nn.log_softmax(x), nn.log_softmax(x[None])[0], "log_softmax")
    v = nn.softmax_cross_entropy_with_logits(y, x)
    assert v.shape == () and v.dtype == dtype                # TF: rank 1 -> scalar
    assert_same_bits(v, nn.softmax_cross_entropy_with_logits(y[None], x[None])[0], "xent")
    v = nn.sparse_softmax_cross_entropy_with_logits(np.array(2), x)
    assert v.shape == ()
    assert_same_bits(v, nn.sparse_softmax_cross_entropy_with_logits(np.array([2]),
                                                                   x[None])[0], "sparse")
    s = nn.l2_loss(dtype(3))                                 # scalar input -> t^2 / 2
    assert s.shape == () and s == 4.5


def test_rank_four(dtype, rng):
    shape = (2, 3, 4, 5)
    x = (rng.normal(size=shape) * 3).astype(dtype)
    flat = x.reshape(-1, 5)
    assert_same_bits(nn.softmax(x), nn.softmax(flat).reshape(shape), "softmax")
    for axis in (1, 2):
        want = np.moveaxis(nn.log_softmax(np.moveaxis(x, axis, -1)), -1, axis)
        assert_same_bits(nn.log_softmax(x, axis=axis), want, f"log_softmax axis={axis}")
    y = rng.dirichlet(np.ones(5), size=shape[:-1]).astype(dtype)
    v, bwd = cyloss.vjp(nn.softmax_cross_entropy_with_logits, y, x)
    v2, bwd2 = cyloss.vjp(nn.softmax_cross_entropy_with_logits, y.reshape(-1, 5), flat)
    assert v.shape == shape[:-1]
    assert_same_bits(v, v2.reshape(shape[:-1]), "xent")
    assert_same_bits(bwd()["logits"], bwd2()["logits"].reshape(shape), "xent dlogits")
    # classes on axis 2
    yc = np.moveaxis(y, -1, 2)                               # (2, 3, 5, 4)
    xc = np.moveaxis(x, -1, 2)
    assert_same_bits(nn.softmax_cross_entropy_with_logits(yc, xc, axis=2), v, "xent axis=2")
    lab = rng.integers(0, 5, size=shape[:-1])
    v, bwd = cyloss.vjp(nn.sparse_softmax_cross_entropy_with_logits, lab, x)
    v2, bwd2 = cyloss.vjp(nn.sparse_softmax_cross_entropy_with_logits, lab.reshape(-1), flat)
    assert v.shape == shape[:-1]
    assert_same_bits(v, v2.reshape(shape[:-1]), "sparse")
    assert_same_bits(bwd()["logits"], bwd2()["logits"].reshape(shape), "sparse dlogits")
    z = rng.uniform(size=shape).astype(dtype)
    for fn in (nn.sigmoid_cross_entropy_with_logits, nn.log_poisson_loss):
        assert_same_bits(fn(z, x), fn(z.reshape(-1), x.reshape(-1)).reshape(shape),
                         fn.__name__)
    assert_same_bits(nn.weighted_cross_entropy_with_logits(z, x, np.full(5, 2, dtype)),
                     nn.weighted_cross_entropy_with_logits(z, x, 2.0), "weighted")
    assert_same_bits(nn.l2_loss(x), nn.l2_loss(x.reshape(-1)), "l2")


def test_array_likes_are_accepted(dtype):
    # anything np.asarray takes: buffer-protocol objects and __array__ objects
    class Wrapped:
        def __init__(self, a):
            self.a = a

        def __array__(self, dtype=None, copy=None):
            return self.a

    x = np.array([[1, 2, 3], [1, -1, 0.5]], dtype)
    lab = np.array([1, 2], np.int32)
    want = nn.sparse_softmax_cross_entropy_with_logits(lab, x)
    for xx in (memoryview(x), Wrapped(x)):
        assert_same_bits(nn.sparse_softmax_cross_entropy_with_logits(memoryview(lab), xx),
                         want, type(xx).__name__)
        assert_same_bits(nn.softmax(xx), nn.softmax(x), type(xx).__name__)
    z = np.full_like(x, 0.5)
    assert_same_bits(nn.sigmoid_cross_entropy_with_logits(Wrapped(z), Wrapped(x)),
                     nn.sigmoid_cross_entropy_with_logits(z, x), "sigmoid")


def test_python_lists_are_accepted():
    # anything np.asarray takes; lists of floats compute in float64
    v = nn.softmax_cross_entropy_with_logits([[0.0, 1.0, 0.0]], [[1.0, 2.0, 3.0]])
    assert v.dtype == np.float64
    hand(v, [1.407606])
    hand(nn.sparse_softmax_cross_entropy_with_logits([1], [[1.0, 2.0, 3.0]]), [1.407606])
    hand(nn.sigmoid_cross_entropy_with_logits([0.5], np.array([0.0])), [0.6931472])


def test_positional_argument_order_follows_tf(dtype):
    # labels before logits; targets before log_input; pos_weight third
    z, x = f([1.0], dtype), f([3.0], dtype)
    assert_array_equal(nn.sigmoid_cross_entropy_with_logits(z, x),
                       nn.sigmoid_cross_entropy_with_logits(labels=z, logits=x))
    assert_array_equal(nn.weighted_cross_entropy_with_logits(z, x, 2.0),
                       nn.weighted_cross_entropy_with_logits(labels=z, logits=x,
                                                             pos_weight=2.0))
    assert_array_equal(nn.log_poisson_loss(z, x),
                       nn.log_poisson_loss(targets=z, log_input=x))
    y, lx = f([[0, 1]], dtype), f([[1, 3]], dtype)
    assert_array_equal(nn.softmax_cross_entropy_with_logits(y, lx),
                       nn.softmax_cross_entropy_with_logits(labels=y, logits=lx))


def test_weighted_xent_v1_targets_alias(dtype):
    # TF 1: weighted_cross_entropy_with_logits(targets=..., logits=..., pos_weight=...)
    z, x = f([0, 1, 0.5], dtype), f([-1, 0.5, 2], dtype)
    want = nn.weighted_cross_entropy_with_logits(labels=z, logits=x, pos_weight=2.5)
    got = nn.weighted_cross_entropy_with_logits(targets=z, logits=x, pos_weight=2.5)
    assert_array_equal(got, want)


def test_pos_weight_numpy_scalar_takes_the_logits_dtype():
    # TF_SEMANTICS 1.5: a Python or NumPy scalar pos_weight is converted to the
    # logits' dtype
    x = np.array([-3, -0.5, 0, 0.5, 3], np.float32)
    z = np.array([0, 1, 0.5, 0.2, 1], np.float32)
    want = nn.weighted_cross_entropy_with_logits(z, x, 2.5)
    for pw in (np.float64(2.5), np.float32(2.5), 2.5):
        got = nn.weighted_cross_entropy_with_logits(z, x, pw)
        assert got.dtype == np.float32
        assert_array_equal(got, want)
