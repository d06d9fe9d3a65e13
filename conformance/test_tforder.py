"""TF's order of additions against TF itself, bit for bit, with values near
+-max of both signs, where the order alone decides between inf, -inf, NaN and
a finite sum: tforder.py and cyloss' compiled `_checks.tf_sum` against
tf.reduce_sum over every set of axes of tensors of ranks 1-5,
`_checks.tf_add_n` against tf.add_n, and `_matmul.tf_matmul` against
tf.linalg.matmul over every path of TF's CPU MatMul.

Sums of more than about 10^5 float64 values, and products large enough for
TF to run them on several threads, are left out: TF splits those across its
threads, in an order that depends on the machine (README, "Known
differences").
"""
import itertools
import zlib

import numpy as np
import pytest

from cyloss import _checks as ck, _matmul
from cyloss.conformance import tforder

SHAPES = [(1,), (9,), (100,), (1000,), (9000,), (16, 8), (17, 9), (27, 24), (33, 100), (5, 7),
          (100, 3), (40, 13), (9000, 20), (16, 2, 9), (3, 20, 9), (2, 17, 5), (4, 33, 8),
          (3, 16, 12), (20, 3, 17), (16, 5, 16), (3, 2100, 9), (5, 4, 3, 20), (17, 1, 24, 1),
          (1, 33, 1, 9), (6, 5, 4, 18), (2, 3, 3000, 4), (3, 4, 5, 6, 7)]


def _bits(a):
    return np.ascontiguousarray(a).tobytes()


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_order_is_tfs(tf_oracle, shape, dt):
    tf = tf_oracle
    rng = np.random.default_rng(zlib.crc32(repr((shape, dt.__name__)).encode()))
    m = np.finfo(dt).max
    pool = np.array([m, -m, m / 2, -m / 2, m / 4, 1.0, -3.0, -0.0], dt)
    for _ in range(3):
        x = rng.choice(pool, size=shape)
        for r in range(1, len(shape) + 1):
            for axes in itertools.combinations(range(len(shape)), r):
                want = tf.reduce_sum(x, axis=list(axes)).numpy()
                emulated = tforder.tf_reduce_sum(x, axes)
                assert want.dtype == dt and _bits(emulated) == _bits(want), (axes, x)
                assert _bits(ck.tf_sum(x, axis=axes)) == _bits(want), (axes, x)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_add_n_order_is_tfs(tf_oracle, dt):
    # _checks.tf_add_n (the legacy seq2seq sums over steps) against tf.add_n
    tf = tf_oracle
    rng = np.random.default_rng(5)
    m = np.finfo(dt).max
    pool = np.array([m, -m, m / 2, 1.0, -0.0], dt)
    for n in list(range(1, 30)) + [33, 40, 41]:
        for _ in range(10):
            xs = rng.choice(pool, size=(n, 5))
            want = tf.add_n([tf.constant(x) for x in xs]).numpy()
            assert _bits(ck.tf_add_n(xs)) == _bits(want), (n, xs)


# (M, K, N): every row and column class of the float64 kernel (N mod 8, M mod
# 4), depth blocks of a 48 KiB L1 (700), Eigen's matrix-vector products
# (N == 1 or M == 1, odd and even counts, K >= 128 column blocks) and its
# coefficient-wise product (K + M + N < 20)
MATMUL_SHAPES = [(m, k, n) for m in (1, 2, 3, 5, 8, 13) for k in (2, 5, 9, 17, 24, 64)
                 for n in (1, 2, 3, 6, 9, 13)]
MATMUL_SHAPES += [(40, 105, 1), (361, 105, 2), (230, 102, 8), (64, 64, 64), (1, 140, 7),
                  (7, 140, 1), (16, 400, 16), (4, 700, 4), (100, 17, 3), (3, 17, 100)]


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("trans", [(False, False), (False, True), (True, False)], ids=str)
def test_matmul_order_is_tfs(tf_oracle, dt, trans):
    # Operands with entries near +-max, where the order of the products'
    # additions decides inf, -inf, NaN or the finite value, bit for bit.
    # (A 1 x 1 product of a row and a transposed row of 20 or more terms is
    # left out: _matmul's docstring.)
    tf = tf_oracle
    rng = np.random.default_rng(zlib.crc32(repr((trans, dt.__name__)).encode()))
    big = np.finfo(dt).max
    n_order_sensitive = 0
    for M, K, N in MATMUL_SHAPES:
        if M == 1 and N == 1 and trans[1] and K + 2 >= 20:
            continue
        x = rng.standard_normal((M, K))
        pick = rng.random((M, K)) < min(0.3, 6.0 / K)
        x[pick] = rng.choice([-0.95, -0.6, 0.6, 0.95], pick.sum()) * big
        y = rng.uniform(-1.6, 1.6, (K, N))
        x, y = x.astype(dt), y.astype(dt)
        xs, ys = (x.T.copy() if trans[0] else x), (y.T.copy() if trans[1] else y)
        want = tf.linalg.matmul(xs, ys, transpose_a=trans[0], transpose_b=trans[1]).numpy()
        got = _matmul.tf_matmul(xs, ys, *trans)
        assert want.dtype == dt and _bits(got) == _bits(want), ((M, K, N), x, y)
        with np.errstate(over="ignore", invalid="ignore"):
            bound = float(np.max(np.abs(x))) * float(np.max(np.abs(y))) * K
        if _matmul.may_overflow(bound):    # (else BLAS: the last bits may differ)
            assert _bits(_matmul.matmul(xs, ys, *trans)) == _bits(ck.flush_denormals(want))
        with np.errstate(over="ignore", invalid="ignore"):
            n_order_sensitive += not np.array_equal(want, x @ y, equal_nan=True)
    assert n_order_sensitive > len(MATMUL_SHAPES) // 8     # the draws do test the order
