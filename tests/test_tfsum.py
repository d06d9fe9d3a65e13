"""TF's order of additions (`_checks.tf_sum`, compiled `cyl_tfsum` in
pyx/_vec.h): where partial sums overflow, the order alone decides between
inf, -inf, NaN and a finite sum, and cyloss must give TF's.

* Sums whose result TF 2.21 gave (tf.reduce_sum on these exact inputs) and
  that neither a left-to-right sum nor NumPy's pairwise sum reproduces.
* The compiled order against conformance/tforder.py, an independent NumPy
  statement of the same order, bit for bit, at every SIMD level, for lengths
  across every branch (tail only, packets, 4-packet blocks, the split of rows
  longer than 1024 packets at offsets that are not packet multiples), and
  over every set of axes of ranks 1-5 (leading, middle and split runs).
No TF is needed to run this file (conformance/test_tforder.py checks
tforder itself against tf.reduce_sum).
"""
import itertools

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


# A column of 16 values that TF sums over a leading axis: with 4 accumulators
# when its output is part of a whole packet (P columns), one by one otherwise.
# (dtype, column, TF's packet result, TF's one-by-one result)
TF_COLUMNS = [
    (np.float32, ["M", "M", 2.0, 2.0, "-M", 1.0, "-M", "M", 2.0, 0.5, "M", "-M", 1.0, 2.0, 2.0,
                  "-M"], 0.0, np.inf),
    (np.float64, ["M", "M", 1.0, 1.0, 2.0, "-M", "M", 2.0, "-M", 0.5, "-M", 1.0, "M", 0.5, 2.0,
                  0.5], np.finfo(np.float64).max, np.inf),
]


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("i", range(len(TF_COLUMNS)))
def test_tf_column_sums(i, level):
    dt, v, packet, single = TF_COLUMNS[i]
    col = values(dt, v)
    P = 32 // np.dtype(dt).itemsize
    _kernels.use(level)
    try:
        whole = ck.tf_sum(np.tile(col[:, None], (1, P)), axis=0)      # one packet
        short = ck.tf_sum(np.tile(col[:, None], (1, P - 1)), axis=0)  # no packet
        # [2, 16, P + 1]: output 0..P-1 of slab 0 is a packet, the rest is not
        mid = ck.tf_sum(np.tile(col[None, :, None], (2, 1, P + 1)), axis=1)
    finally:
        _kernels.use(_kernels.available_levels()[-1])
    assert np.array_equal(whole, np.full(P, packet, dt))
    assert np.array_equal(short, np.full(P - 1, single, dt))
    assert np.array_equal(mid[0], np.r_[np.full(P, packet), single].astype(dt))
    assert np.array_equal(mid[1], np.full(P + 1, single, dt))


def test_tf_sum_over_first_and_last_axes():
    # [3, 2, 3] over axes 0 and 2: TF adds x[j1, k, j2] with j2 the outer loop
    # (tf.reduce_sum gave max; j1 outermost gives -inf, NumPy NaN)
    v = values(np.float32, ["-M", "-M", "M", 2.0, 1.0, 1.0, "M", "M", 2.0]).reshape(3, 3)
    x = np.stack([v, v], axis=1)
    got = ck.tf_sum(x, axis=(0, 2))
    assert np.array_equal(got, np.full(2, np.finfo(np.float32).max, np.float32))
    assert same(got, tforder.tf_reduce_sum(x, (0, 2)))


SHAPES = [(16, 8), (17, 9), (27, 24), (40, 13), (100, 3), (16, 2, 9), (3, 20, 9), (4, 33, 8),
          (3, 16, 12), (20, 3, 17), (16, 5, 16), (5, 4, 3, 20), (17, 1, 24, 1), (1, 33, 1, 9),
          (3, 4, 5, 6, 7), (1, 1, 5), (7,), (1100, 9), (2, 3, 3000, 4), (17, 1030),
          (2, 16, 1100)]


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("level", LEVELS)
def test_compiled_axes_are_tforder(dt, level):
    # every set of axes of every shape: tf_sum's view (tf_runs), its kernels
    # and its transposes against tforder.tf_reduce_sum, bit for bit
    rng = np.random.default_rng(11)
    m = np.finfo(dt).max
    pool = np.array([m, -m, m / 2, -m / 2, m / 4, 1.0, -3.0, -0.0], dt)
    _kernels.use(level)
    try:
        for shape in SHAPES:
            x = rng.choice(pool, size=shape)
            for r in range(len(shape) + 1):
                for axes in itertools.combinations(range(len(shape)), r):
                    want = tforder.tf_reduce_sum(x, axes)
                    assert same(ck.tf_sum(x, axis=axes), want), (shape, axes)
                    assert ck.tf_sum(x, axis=axes, keepdims=True).shape == tuple(
                        1 if i in axes else n for i, n in enumerate(shape))
            assert same(ck.tf_sum(x), tforder.tf_reduce_sum(x, tuple(range(len(shape)))))
    finally:
        _kernels.use(_kernels.available_levels()[-1])


def test_tf_runs():
    assert ck.tf_runs((1, 1, 2, 3, 1, 2, 1, 4), (0, 2, 5, 7)) == ([2, 3, 8], True)
    assert ck.tf_runs((4, 5, 6), (1,)) == ([4, 5, 6], False)
    assert ck.tf_runs((4, 1, 6), (1,)) == ([24], False)
    assert ck.tf_runs((1, 1), (0,)) == ([], True)
    for shape, axes in [((1, 1, 2, 3, 1, 2, 1, 4), (0, 2, 5, 7)), ((3, 1, 4), (0, 1))]:
        assert ck.tf_runs(shape, axes) == tforder.tf_runs(shape, axes)


def test_empty_and_integer_sums():
    assert same(ck.tf_sum(np.zeros((2, 0), np.float64), axis=-1), np.zeros(2))
    assert same(ck.tf_sum(np.zeros((0, 3), np.float32), axis=0), np.zeros(3, np.float32))
    assert same(ck.tf_sum(np.arange(5)), np.sum(np.arange(5)))


def test_tf_add_n():
    # ten scalars: TF's AddN adds the first 2, then the group of 8 on its own
    # (tf.add_n gave 4; left to right gives 1)
    x = values(np.float32, [1.0, 2.0, 2.0, 1.0, 2.0, 2.0, 2.0, "M", "-M", 1.0])
    assert np.array_equal(ck.tf_add_n(x[:, None]), np.float32([4.0]))
    # the grouping for every count: head = n (n <= 9), else n mod 8 (8 for 0, 9 for 1)
    for n in range(1, 42):
        xs = np.zeros((n, 1), np.float64)
        xs[0] = np.finfo(np.float64).max            # overflows where a group adds it twice
        head = n if n <= 9 else (n % 8 or 8) + (8 if n % 8 == 1 else 0)
        if n > head:
            xs[head] = np.finfo(np.float64).max
            xs[head + 1] = -np.finfo(np.float64).max
        # groups of 8 are summed before they meet the running total: M + (M - M) = M
        assert ck.tf_add_n(xs)[0] == np.finfo(np.float64).max, n
