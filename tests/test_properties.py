"""Property-based checks (hypothesis) over shapes, axes and values: the
invariants that must hold for any input, not just the sampled ones."""
import numpy as np
import pytest
from hypothesis import given, seed, strategies as st
from hypothesis.extra import numpy as hnp

import cyloss
from cyloss import nn

from _cases import SEED, assert_close, assert_same_bits, ref_log_softmax, ref_softmax

DTYPES = st.sampled_from([np.float32, np.float64])


@st.composite
def logits_and_axis(draw, max_dims=3, bound=60.0):
    dtype = draw(DTYPES)
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=max_dims, min_side=1, max_side=7))
    x = draw(hnp.arrays(dtype, shape, elements=st.floats(-bound, bound, width=32)))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    return x, axis


@seed(SEED)
@given(logits_and_axis())
def test_softmax_is_a_distribution(case):
    x, axis = case
    dtype = x.dtype.type
    p = nn.softmax(x, axis=axis)
    lp = nn.log_softmax(x, axis=axis)
    assert p.dtype == x.dtype and p.shape == x.shape and lp.shape == x.shape
    assert np.all((p >= 0) & (p <= 1)) and np.all(lp <= 0)
    ref = ref_softmax(x, axis)
    assert_close(p, ref["value"], ref["scale"], 8, dtype, "softmax", inputs={"x": x})
    ref = ref_log_softmax(x, axis)
    assert_close(lp, ref["value"], ref["scale"], 8, dtype, "log_softmax", inputs={"x": x})
    # each sum of C probabilities, each within ~8 ulp: C * 8 eps
    c = x.shape[axis]
    assert_close(p.sum(axis=axis, dtype=np.float64), np.ones(p.sum(axis=axis).shape),
                 c, 8, dtype, "sums")


@seed(SEED)
@given(logits_and_axis(max_dims=4))
def test_non_last_axis_is_the_moved_last_axis(case):
    # the class axis can be anywhere: the result is the same computation on the
    # moved axis, bit for bit, values and gradients
    x, axis = case
    moved = np.ascontiguousarray(np.moveaxis(x, axis, -1))
    dy = np.linspace(-1, 1, x.size).reshape(x.shape).astype(x.dtype)
    for fn in (nn.softmax, nn.log_softmax):
        v, bwd = cyloss.vjp(fn, x, axis=axis)
        vm, bwdm = cyloss.vjp(fn, moved)
        assert_same_bits(v, np.moveaxis(vm, -1, axis), f"{fn.__name__} axis={axis}")
        assert_same_bits(bwd(dy)["logits"],
                         np.moveaxis(bwdm(np.moveaxis(dy, axis, -1))["logits"], -1, axis),
                         f"{fn.__name__} d/dlogits axis={axis}")
    if axis == -1 or axis >= 0:
        y = np.abs(np.cos(np.arange(x.size))).reshape(x.shape).astype(x.dtype)
        v, bwd = cyloss.vjp(nn.softmax_cross_entropy_with_logits, y, x, axis=axis)
        vm, bwdm = cyloss.vjp(nn.softmax_cross_entropy_with_logits,
                              np.moveaxis(y, axis, -1), moved)
        assert_same_bits(v, vm, f"xent axis={axis}")
        d = np.linspace(-2, 2, v.size).reshape(v.shape).astype(x.dtype)
        g, gm = bwd(d), bwdm(d)
        for k in ("labels", "logits"):
            assert_same_bits(g[k], np.moveaxis(gm[k], -1, axis), f"xent d{k} axis={axis}")


@seed(SEED)
@given(DTYPES, st.integers(1, 40), st.data())
def test_shift_by_power_of_two_is_exact(dtype, n, data):
    # x on a 1/64 grid in [-64, 64] plus 2**j (j <= 8) is exact, and so is
    # x - max(x): softmax, log_softmax and both cross-entropies keep their bits
    c = data.draw(st.integers(1, 20))
    k = data.draw(hnp.arrays(np.int64, (n, c), elements=st.integers(-4096, 4096)))
    x = (k / 64).astype(dtype)
    shift = dtype(data.draw(st.sampled_from([-256.0, -2.0, 1.0, 8.0, 128.0, 256.0])))
    xs = x + shift
    assert np.array_equal(xs - shift, x)
    assert_same_bits(nn.softmax(xs), nn.softmax(x), "softmax")
    assert_same_bits(nn.log_softmax(xs), nn.log_softmax(x), "log_softmax")
    lab = data.draw(hnp.arrays(np.int32, (n,), elements=st.integers(0, c - 1)))
    v, b = cyloss.vjp(nn.sparse_softmax_cross_entropy_with_logits, lab, x)
    vs, bs = cyloss.vjp(nn.sparse_softmax_cross_entropy_with_logits, lab, xs)
    assert_same_bits(vs, v, "sparse")
    assert_same_bits(bs()["logits"], b()["logits"], "sparse dlogits")


@seed(SEED)
@given(DTYPES, st.data())
def test_two_class_softmax_xent_is_sigmoid_xent(dtype, data):
    n = data.draw(st.integers(1, 30))
    grid = st.integers(-12 * 2 ** 16, 12 * 2 ** 16).map(lambda i: i / 2 ** 16)
    a = np.array(data.draw(st.lists(grid, min_size=n, max_size=n)))
    b = np.array(data.draw(st.lists(grid, min_size=n, max_size=n)))
    z = np.array(data.draw(st.lists(st.integers(0, 2 ** 16), min_size=n, max_size=n))) / 2 ** 16
    logits = np.stack([a, b], 1).astype(dtype)
    labels = np.stack([1 - z, z], 1).astype(dtype)         # exact: sums to 1
    v2, b2 = cyloss.vjp(nn.softmax_cross_entropy_with_logits, labels, logits)
    vs, bs = cyloss.vjp(nn.sigmoid_cross_entropy_with_logits, z.astype(dtype),
                        (b - a).astype(dtype))           # b - a exact on this grid
    # the two kernels' roundings: a few ulp of the term sizes |b - a| + log 2
    assert_close(v2, vs.astype(np.float64), np.abs(b - a) + 1, 8, dtype, "value")
    g2 = b2()["logits"]
    assert_close(g2[:, 1], bs()["logits"].astype(np.float64), 2, 8, dtype, "grad")
    assert_close(g2[:, 0], -g2[:, 1].astype(np.float64), 2, 8, dtype, "grad sums to 0")


@seed(SEED)
@given(DTYPES, st.data())
def test_weighted_with_unit_pos_weight_is_sigmoid(dtype, data):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=6))
    x = data.draw(hnp.arrays(dtype, shape, elements=st.floats(-80, 80, width=32)))
    z = data.draw(hnp.arrays(dtype, shape, elements=st.floats(0, 1, width=32)))
    vw = nn.weighted_cross_entropy_with_logits(z, x, 1.0)
    vs = nn.sigmoid_cross_entropy_with_logits(z, x)
    # (1 - z) x + relu(-x) vs relu(x) - x z: the terms are ~|x|, so k eps |x|
    assert_close(vw, vs.astype(np.float64), np.abs(x.astype(np.float64)) + 1, 8, dtype,
                 "value", inputs={"x": x, "z": z})


@seed(SEED)
@given(DTYPES, st.data())
def test_sigmoid_xent_is_never_negative_for_labels_in_unit_interval(dtype, data):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=2, max_side=8))
    x = data.draw(hnp.arrays(dtype, shape, elements=st.floats(-1e4, 1e4, width=32)))
    z = data.draw(hnp.arrays(dtype, shape, elements=st.floats(0, 1, width=32)))
    v, bwd = cyloss.vjp(nn.sigmoid_cross_entropy_with_logits, z, x)
    # a cross-entropy of a Bernoulli: >= 0 up to rounding of the |x|-sized terms
    assert np.all(v >= -4 * np.finfo(dtype).eps * np.abs(x))
    g = bwd()["logits"]
    assert np.all(np.abs(g) <= 1) and np.all(np.isfinite(g))     # sigma(x) - z


@seed(SEED)
@given(DTYPES, st.data())
def test_value_only_and_vjp_agree_for_any_shape(dtype, data):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=5))
    x = data.draw(hnp.arrays(dtype, shape, elements=st.floats(-30, 30, width=32)))
    c = shape[-1]
    if c:
        lab = data.draw(hnp.arrays(np.int64, shape[:-1], elements=st.integers(0, c - 1)))
        v, bwd = cyloss.vjp(nn.sparse_softmax_cross_entropy_with_logits, lab, x)
        assert_same_bits(v, nn.sparse_softmax_cross_entropy_with_logits(lab, x), "sparse")
        assert bwd()["logits"].shape == shape
    y = np.full(shape, 0.5, dtype)
    if c == 0 and np.prod(shape[:-1]) == 0:
        # no classes and no rows: TF cannot infer the row count (its reshape to
        # [-1, 0] fails), and neither does cyloss
        with pytest.raises(cyloss.InvalidArgumentError, match="empty"):
            nn.softmax_cross_entropy_with_logits(y, x)
    else:
        v, bwd = cyloss.vjp(nn.softmax_cross_entropy_with_logits, y, x)
        assert v.shape == shape[:-1]
        assert_same_bits(v, nn.softmax_cross_entropy_with_logits(y, x), "dense")
    v, bwd = cyloss.vjp(nn.l2_loss, x)
    assert_same_bits(v, nn.l2_loss(x), "l2")
    assert_close(v, 0.5 * np.sum(x.astype(np.longdouble) ** 2),
                 (x.size / 16 + 16) * 0.5 * np.sum(x.astype(np.float64) ** 2), 1, dtype, "l2")
