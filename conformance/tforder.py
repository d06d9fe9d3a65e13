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

Over other axes (tf_reduce_sum) TF first views the tensor as alternating runs
of summed and kept axes (leading 1s dropped, a size-1 axis joins the run
before it, neighbours of one kind merged), then:
    [R] or [K, R]: rows as above (row i starts at i * R);
    [R, K] or [A, R, B]: the output is evaluated in packets of P from index 0;
        a packet inside one [*, B] slab that ends by the output's end adds,
        when R >= 16, rows 0, 4, 8.. / 1, 5, 9.. / 2.. / 3.. into four packet
        accumulators, then ((a0 + a1) + a2) + a3 and the last R mod 4 rows;
        every other output adds its R values one by one from 0;
    [R1, K, R2]: each output one by one from 0, the R2 index the outer loop;
    more runs: the summed axes moved last, then rows.
(Checked bit for bit against tf.reduce_sum in TF 2.21 over ranks 1-5 and
every set of axes: conformance/test_tforder.py.)
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


def tf_runs(shape, axes):
    """TF's view of `shape` summed over `axes`: (run sizes, first run summed)."""
    summed = [i in axes for i in range(len(shape))]
    lead = 0
    while lead < len(shape) and shape[lead] == 1:
        lead += 1
    runs, kinds = [], []
    for i in range(lead, len(shape)):
        if i > lead and shape[i] == 1:
            summed[i] = summed[i - 1]
        if kinds and kinds[-1] == summed[i]:
            runs[-1] *= shape[i]
        else:
            runs.append(shape[i])
            kinds.append(summed[i])
    return runs, (kinds[0] if kinds else True)


def _columns(x, packets):
    """Sums over axis 1 of x [A, R, B] (see the module's docstring)."""
    A, R, B = x.shape
    P = _packet(x.dtype)
    one = np.zeros((A, B), x.dtype)
    for j in range(R):
        one = one + x[:, j]
    if not packets or R < 16:
        return one
    a = np.zeros((4, A, B), x.dtype)
    r4 = R - R % 4
    for j in range(0, r4, 4):
        a = a + np.moveaxis(x[:, j:j + 4], 1, 0)
    four = ((a[0] + a[1]) + a[2]) + a[3]
    for j in range(r4, R):
        four = four + x[:, j]
    start = np.arange(A * B).reshape(A, B)
    start -= start % P
    in_packet = (start + P <= A * B) & (start % B + P <= B)
    return np.where(in_packet, four, one)


def tf_reduce_sum(x, axes):
    """TF's reduce_sum of a float32/float64 array over `axes` (a tuple)."""
    x = np.asarray(x)
    axes = tuple(sorted(a % x.ndim for a in axes))
    kept = [n for i, n in enumerate(x.shape) if i not in axes]
    runs, first = tf_runs(x.shape, axes)
    v = np.ascontiguousarray(x).reshape(runs)
    with np.errstate(over="ignore", invalid="ignore"):
        if not runs or (len(runs) == 1 and not first):
            out = v.copy()
        elif len(runs) == 1:
            out = tf_sum_rows(v)
        elif len(runs) == 2 and not first:
            out = tf_sum_rows(v)
        elif len(runs) == 2:
            out = _columns(v[None], True)
        elif len(runs) == 3 and not first:
            out = _columns(v, True)
        elif len(runs) == 3:
            out = _columns(v.transpose(2, 0, 1).reshape(1, -1, runs[1]), False)
        else:
            summed = [i for i in range(len(runs)) if (i % 2 == 0) == first]
            moved = v.transpose([i for i in range(len(runs)) if i not in summed] + summed)
            out = tf_sum_rows(moved.reshape(-1, int(np.prod([runs[i] for i in summed]))))
    return np.asarray(out, x.dtype).reshape(kept)
