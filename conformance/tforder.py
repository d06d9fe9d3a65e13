"""The order in which TensorFlow's CPU Sum kernel adds, emulated in NumPy.

TF reduces a row (the last axes of a tensor, or all of it) with Eigen's
inner-most reducer as built into TF's x86 wheels: packets of 8 floats or 4
doubles. Where partial sums overflow (values near the maximum of both signs)
the order alone decides between inf, -inf, NaN and a finite result, so scale
models that need TF's row sum take it from here. An independent statement of
the order that cyloss' compiled `cyl_tfsum` follows (tests/test_tfsum.py
checks one against the other; the order itself was checked bit for bit
against tf.reduce_sum in TF 2.21, up to the ~10^5 elements above which TF
splits a sum across its threads).

    rows of more than 1024 P values: split at the packet boundary at or after
        the middle (counted from the row's offset in the tensor), both parts
        summed this way, then 0 + left + right;
    otherwise: blocks of 4 P values into four packet accumulators added as
        ((a0 + a1) + a2) + a3; whole packets left into a0; the tail summed
        one by one from 0; result = tail + (a0's lanes folded in halves).
"""
import numpy as np


def _packet(dtype):
    return 32 // np.dtype(dtype).itemsize


def _leaf(x):
    """Sums of the rows of x [r, n] (n <= 1024 P), vectorised over rows."""
    dt = x.dtype.type
    r, n = x.shape
    P = _packet(x.dtype)
    acc = np.zeros((r, P), x.dtype)
    k = 0
    if n >= 4 * P:
        a = np.zeros((r, 4, P), x.dtype)
        n4 = n - n % (4 * P)
        for k in range(0, n4, 4 * P):
            a = a + x[:, k:k + 4 * P].reshape(r, 4, P)
        acc = ((a[:, 0] + a[:, 1]) + a[:, 2]) + a[:, 3]
        k = n4
    while k + P <= n:
        acc = acc + x[:, k:k + P]
        k += P
    tail = np.zeros(r, x.dtype)
    for j in range(k, n):
        tail = tail + x[:, j]
    w = P // 2
    while w:
        acc = acc[:, :w] + acc[:, w:2 * w]
        w //= 2
    return (tail + acc[:, 0]).astype(dt)


def _row(x, first):
    P = _packet(x.dtype)
    n = x.size
    if n <= 1024 * P:
        return _leaf(x[None, :])[0]
    split = P * -(-(first + (n + 1) // 2) // P)
    left = min(split - first, n)
    s = x.dtype.type(0) + _row(x[:left], first)
    if left < n:
        s = s + _row(x[left:], split)
    return s


def tf_sum_rows(x):
    """TF's reduce_sum over the last axis of a float32/float64 array (the
    tensor's rows start at multiples of the row length)."""
    x = np.ascontiguousarray(x)
    shape, n = x.shape[:-1], x.shape[-1]
    two = x.reshape(-1, n)
    with np.errstate(over="ignore", invalid="ignore"):
        if n == 0:
            out = np.zeros(two.shape[0], x.dtype)
        elif n <= 1024 * _packet(x.dtype):
            out = _leaf(two)
        else:
            out = np.array([_row(two[i], i * n) for i in range(two.shape[0])], x.dtype)
    return out.reshape(shape)
