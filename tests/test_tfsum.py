"""TF's order of additions (`_checks.tf_sum`, compiled `cyl_tfsum` in
pyx/_vec.h): where partial sums overflow, the order alone decides between
inf, -inf, NaN and a finite sum, and cyloss must give TF's.

* Sums whose result TF 2.21 gave (tf.reduce_sum on these exact inputs) and
  that neither a left-to-right sum nor NumPy's pairwise sum reproduces.
* The compiled order against conformance/tforder.py, an independent NumPy
  statement of the same order, bit for bit, at every SIMD level, for lengths
  across every branch (tail only, packets, 4-packet blocks, the split of rows
  longer than 1024 packets at offsets that are not packet multiples).
No TF is needed to run this file.
"""
import numpy as np
import pytest

from cyloss import _checks as ck, _kernels
from cyloss.conformance import tforder

LEVELS = _kernels.available_levels()

# (dtype, values with "M" = +max, "-M" = -max, TF's sum)
TF_SUMS = [
    (np.float32, ["-M", 1.0, "M", "M", 0.5, "M", "M", 0.5, 1.0, "-M", 1.0, 1.0, "-M"], np.nan),
    (np.float32, ["-M", "-M", 2.0, "-M", "M", "M", "M", 2.0, "M"], 3.4028235e+38),
    (np.float32, ["M", "-M", "M", 0.5, "-M", "M", 2.0, 2.0, 0.5, 1.0, "-M", "-M", 1.0, 1.0],
     -np.inf),
    (np.float32, ["-M", "-M", 0.5, 0.5, "M", 1.0, "M", 1.0, 0.5, 1.0, 1.0], 2.5),
    (np.float64, [2.0, 1.0, "M", "-M", 0.5, 1.0, 0.5, 2.0, 1.0, 0.5], 1.5),
    (np.float64, ["M", "M", 1.0, 0.5, 2.0, "-M", "-M", "-M", 0.5, "-M", "M", 1.0, 2.0, "-M",
                  1.0, 1.0, 2.0, 1.0, 0.5, "-M", "-M"], -np.inf),
    (np.float64, [0.5, "M", 2.0, 1.0, "M", 2.0, 2.0, 1.0, 1.0, "-M", 0.5, 2.0, 1.0, "M", "-M",
                  "-M", 2.0, 1.0, 2.0], 5.0),
]


def values(dt, v):
    m = np.finfo(dt).max
    return np.array([{"M": m, "-M": -m}.get(a, a) for a in v], dt)


def same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and np.ascontiguousarray(
        a).tobytes() == np.ascontiguousarray(b).tobytes()


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("i", range(len(TF_SUMS)))
def test_tf_sums(i, level):
    dt, v, want = TF_SUMS[i]
    x = values(dt, v)
    with np.errstate(all="ignore"):
        seq, pairwise = np.cumsum(x)[-1], np.sum(x)
    # the case is one where the order matters
    assert not (np.array_equal(seq, want, equal_nan=True)
                and np.array_equal(pairwise, want, equal_nan=True))
    _kernels.use(level)
    try:
        got = ck.tf_sum(x)
        rows = ck.tf_sum(np.stack([x, x[::-1]]), axis=-1)
    finally:
        _kernels.use(_kernels.available_levels()[-1])
    assert got.dtype == dt and np.array_equal(got, dt(want), equal_nan=True)
    assert np.array_equal(rows[0], dt(want), equal_nan=True)
    assert same(tforder.tf_sum_rows(x), got)


LENGTHS = [1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 1000, 4095, 4096, 4097,
           8191, 8192, 8193, 12289, 20001]


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("level", LEVELS)
def test_compiled_order_is_tforder(dt, level):
    rng = np.random.default_rng(7)
    m = np.finfo(dt).max
    _kernels.use(level)
    try:
        for n in LENGTHS:
            rows = 3 if n < 9000 else 2         # rows > 1024 packets start off the packet grid
            x = (rng.standard_normal((rows, n)) * np.exp(rng.uniform(-30, 30, (rows, n))))
            x = x.astype(dt)
            hit = rng.integers(0, n, (rows, max(1, n // 6)))
            np.put_along_axis(x, hit, rng.choice(np.array([m, -m], dt), hit.shape), axis=1)
            want = tforder.tf_sum_rows(x)
            assert same(ck.tf_sum(x, axis=-1), want), n
            assert same(ck.tf_sum(x[0]), want[0]), n
            assert same(ck.tf_sum(x[:1], keepdims=True), want[:1, None]), n
    finally:
        _kernels.use(_kernels.available_levels()[-1])


def test_axes_and_fallback():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 4, 5)).astype(np.float32)
    # trailing axes: one row per leading index, in TF's order
    got = ck.tf_sum(x, axis=(1, 2))
    assert same(got, tforder.tf_sum_rows(x.reshape(3, 20)))
    assert ck.tf_sum(x, axis=(-1, 1), keepdims=True).shape == (3, 1, 1)
    # a leading axis: NumPy's sum (TF's order there is not reproduced)
    assert same(ck.tf_sum(x, axis=0), np.sum(x, axis=0))
    # empty sums and integers
    assert same(ck.tf_sum(np.zeros((2, 0), np.float64), axis=-1), np.zeros(2))
    assert same(ck.tf_sum(np.arange(5)), np.sum(np.arange(5)))
