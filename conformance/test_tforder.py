"""TF's order of additions against TF itself, bit for bit, with values near
+-max of both signs, where the order alone decides between inf, -inf, NaN and
a finite sum: tforder.py and cyloss' compiled `_checks.tf_sum` against
tf.reduce_sum over every set of axes of tensors of ranks 1-5, and
`_checks.tf_add_n` against tf.add_n.

Sums of more than about 10^5 float64 values are left out: TF splits those
across its threads, in an order that depends on the machine (README, "Known
differences").
"""
import itertools
import zlib

import numpy as np
import pytest

from cyloss import _checks as ck
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
