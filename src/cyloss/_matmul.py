"""Matrix products in the order of additions of TF's CPU MatMul.

Where no partial sum can come near float32's range (the usual case, checked
from max |a| * max |b| * depth), the order only changes the last bits and
`matmul` uses BLAS. Where terms near +-max meet, the order decides between
inf, -inf, NaN and a finite leftover; `tf_matmul` then adds the terms in
the order of TF 2.21's x86-64 wheels with oneDNN off (the conformance
oracle's setting, TF_SEMANTICS 0.2). The rules were found by experiment
against TF and checked against the Eigen and TF sources the wheel ships;
the implementation is ours. Where a comparison that follows a product
decides by its last bits (Keras' circle: max(1 - e.e', 0) for identical
unit embeddings), `near_in_tf_order` adds those outputs again in TF's order.

For z = x[M, K] @ y[K, N]:
* min(M, K, N) > 1, TF's tensor contraction:
  - float32, TF's sgemm kernel (fused multiply-adds: each product added
    exactly, one rounding per step): k one after the other in each depth
    block, each block's sum added to the total;
  - float64, Eigen's kernel (built with AVX, no FMA: products rounded, then
    added; micro-kernel rows mr = 8 and columns nr = 4 of z's transpose):
    columns j < N // 8 * 8 one by one; columns up to N // 2 * 2, rows
    i < M // 4 * 4: even and odd k in two sums over the first depth // 8 * 8
    terms, added, then the rest one by one; the last column of an odd N,
    rows i < M // 4 * 4: four sums of k mod 4 over depth // 4 * 4 terms,
    (s0 + s1) + (s2 + s3), then the rest; every other output one by one.
  - Depth blocks: Eigen's kc for one thread (from the L1 data cache size);
    float32 cuts K into ceil(K / kc) slices of K // slices rounded up to 8, and
    oneDNN's sgemm cuts a slice deeper than 384 again (384s, then halves).
* Otherwise Eigen's own products (rounded products, packets of P = 4
  doubles or 8 floats):
  - a row of x or of y's stored transpose against a vector (N == 1, or
    M == 1 with y transposed): lanes of k mod P, reduced by halving
    (l_i + l_{i+P/2}, ...), then the rest one by one; the last row of an
    odd count first adds P/2 more terms as a half packet (not in the
    coefficient-wise product below);
  - a vector against a column-major matrix (M == 1, or N == 1 with x
    transposed): blocks of columns (all of K; 16 or 4 when K >= 128), each
    summed one by one and added to the total;
  - K + M + N < 20 without y transposed (coefficient-wise): one by one.
Denormal inputs and results are zeros (TF's kernels flush them).
Not reproduced: products TF splits over several threads (large ones: it may
then also cut the depth between threads; the result depends on the
machine's core count), both operands transposed, batched products (each
matrix follows the 2-D rules here), and exactly the 1 x 1 product of a row
and a transposed row of 20 terms or more (Eigen's inner product: `_inner`
follows its two packet sums, which match TF in most but not all draws). With oneDNN on, TF's float32 products
run in oneDNN's kernels, whose order depends on the CPU's instruction set.
"""
import numpy as np

from ._checks import flush_denormals


def _l1_bytes():
    """The L1 data cache size Eigen reads from the CPU (its 32 KiB default
    when the system does not say)."""
    try:
        with open("/sys/devices/system/cpu/cpu0/cache/index0/size") as f:
            s = f.read().strip()
        return int(s[:-1]) * 1024 if s.endswith("K") else int(s)
    except (OSError, ValueError):
        return 32768


class _Terms:
    """The terms x[i, k] * y[k, j] over a block of outputs, added to a sum
    fused (exact product, one rounding: computed in float64 and rounded
    once more, which differs from a true fused add only in rare last-bit
    ties) or rounded first."""

    def __init__(self, x, y, fused):
        self.x, self.y, self.dt, self.fused = x, y, x.dtype, fused

    def zeros(self, rows, cols):
        return np.zeros((len(range(*rows.indices(self.x.shape[0]))),
                         len(range(*cols.indices(self.y.shape[1])))), self.dt)

    def _exact(self, rows, cols, k):
        return (self.x[rows, k].astype(np.float64)[:, None]
                * self.y[k, cols].astype(np.float64)[None, :])

    def rounded(self, rows, cols, k):
        if self.fused:
            return self._exact(rows, cols, k).astype(self.dt)
        return self.x[rows, k][:, None] * self.y[k, cols][None, :]

    def add(self, s, rows, cols, k):
        if self.fused:
            return (s.astype(np.float64) + self._exact(rows, cols, k)).astype(self.dt)
        return s + self.rounded(rows, cols, k)


class _Pairs(_Terms):
    """The terms x[i_n, k] * y[k, j_n] of chosen outputs n = 0, 1, ... (one
    vector; the orders' rows and columns are ignored: the caller has picked
    the outputs of one region)."""

    def __init__(self, x, y, i, j, fused):
        super().__init__(x[i], y[:, j], fused)

    def zeros(self, rows, cols):
        return np.zeros(self.x.shape[0], self.dt)

    def _exact(self, rows, cols, k):
        return self.x[:, k].astype(np.float64) * self.y[k].astype(np.float64)

    def rounded(self, rows, cols, k):
        if self.fused:
            return self._exact(rows, cols, k).astype(self.dt)
        return self.x[:, k] * self.y[k]


def _seq(t, rows, cols, k0, k1):
    s = t.zeros(rows, cols)
    for k in range(k0, k1):
        s = t.add(s, rows, cols, k)
    return s


def _even_odd(t, rows, cols, k0, k1):
    peeled = k0 + ((k1 - k0) & ~7)
    s = [t.zeros(rows, cols), t.zeros(rows, cols)]
    for k in range(k0, peeled):
        s[(k - k0) % 2] = t.add(s[(k - k0) % 2], rows, cols, k)
    r = s[0] + s[1]
    for k in range(peeled, k1):
        r = t.add(r, rows, cols, k)
    return r


def _mod4(t, rows, cols, k0, k1):
    end4 = k0 + ((k1 - k0) & ~3)
    s = [t.zeros(rows, cols) for _ in range(4)]
    for k in range(k0, end4):
        s[(k - k0) % 4] = t.add(s[(k - k0) % 4], rows, cols, k)
    r = (s[0] + s[1]) + (s[2] + s[3])
    for k in range(end4, k1):
        r = t.add(r, rows, cols, k)
    return r


def _halve(s):
    """Eigen's reduction of a packet's lanes: l_i + l_{i+P/2}, halving."""
    while len(s) > 1:
        h = len(s) // 2
        s = [s[i] + s[i + h] for i in range(h)]
    return s[0]


def _dot_rows(t, M, K, half=True):
    """z = x @ y for one column y (Eigen's row-major matrix times vector):
    each output a dot product of a contiguous row, in lanes of k mod P (the
    packet: 4 doubles, 8 floats) reduced by halving, then the rest one by
    one; with `half`, the last row of an odd M first adds the next P/2 terms
    as a half packet."""
    P = 8 if t.dt == np.float32 else 4
    out = np.zeros((M, 1), t.dt)
    cols = slice(0, 1)
    for lo, hi in ((0, M - M % 2), (M - M % 2, M)):
        if hi == lo:
            continue
        rows = slice(lo, hi)
        lanes = [t.zeros(rows, cols) for _ in range(P)]
        end = K // P * P
        for k in range(end):
            lanes[k % P] = t.add(lanes[k % P], rows, cols, k)
        r = _halve(lanes)
        k = end
        if half and hi - lo == 1 and M % 2 and K - k >= P // 2:
            r = r + _halve([t.rounded(rows, cols, j) for j in range(k, k + P // 2)])
            k += P // 2
        for k in range(k, K):
            r = t.add(r, rows, cols, k)
        out[rows] = r
    return out


def _inner(t, K):
    """The 1 x 1 product of two contiguous rows (Eigen's vectorized sum of
    the products, approximately: module docstring): packets alternate
    between two lane sets, which are added, then an odd last packet; the
    lanes reduced by halving, then the rest one by one."""
    P = 8 if t.dt == np.float32 else 4
    one = slice(0, 1)
    packet = lambda k0: [t.rounded(one, one, k) for k in range(k0, k0 + P)]
    n_packets = K // P
    if n_packets == 0:
        return _seq(t, one, one, 0, K)
    s0 = packet(0)
    if n_packets > 1:
        s1 = packet(P)
        for j in range(2, n_packets // 2 * 2, 2):
            s0 = [a + b for a, b in zip(s0, packet(j * P))]
            s1 = [a + b for a, b in zip(s1, packet((j + 1) * P))]
        s0 = [a + b for a, b in zip(s0, s1)]
        if n_packets % 2:
            s0 = [a + b for a, b in zip(s0, packet((n_packets - 1) * P))]
    r = _halve(s0)
    for k in range(n_packets * P, K):
        r = t.add(r, one, one, k)
    return r


def _by_column_blocks(t, M, K, N):
    """z = x @ y for one row x (column-major matrix times vector)."""
    width = K if K < 128 else (16 if max(M, N) * 8 < 32000 else 4)
    r = np.zeros((M, N), t.dt)
    for k0 in range(0, K, width):
        r = r + _seq(t, slice(0, M), slice(0, N), k0, min(K, k0 + width))
    return r


def _eigen_kc(K, M, N, mr, size):
    """Eigen's depth block for one thread (computeProductBlockingSizes): the
    most that mr rows and nr = 4 columns of packed operands fit in L1."""
    if max(K, M, N) < 48:
        return K
    max_kc = max(((_l1_bytes() - mr * 4 * size) // ((mr + 4) * size)) & ~7, 1)
    if K <= max_kc:
        return K
    r = K % max_kc
    return max_kc if r == 0 else max_kc - 8 * ((max_kc - 1 - r) // (8 * (K // max_kc + 1)))


def _sgemm_blocks(k0, k1):
    """oneDNN's sgemm cuts a depth of more than 384: blocks of 384 while more
    than 768 remain, then the rest in two halves (the first one larger)."""
    blocks = []
    while k1 - k0 > 768:
        blocks.append((k0, k0 + 384))
        k0 += 384
    if k1 - k0 > 384:
        half = k0 + (k1 - k0 + 1) // 2
        return blocks + [(k0, half), (half, k1)]
    return blocks + [(k0, k1)]


def _depth_blocks(K, M, N, f32):
    """float64: Eigen's blocks (mr = 8). float32: TF's sgemm kernel cuts K
    by Eigen's block (mr = 16) into ceil(K / kc) slices of K // slices
    rounded up to a multiple of 8, and oneDNN's sgemm cuts each again."""
    if not f32:
        kc = _eigen_kc(K, M, N, 8, 8)
        return [(k0, min(K, k0 + kc)) for k0 in range(0, K, kc)]
    kc = _eigen_kc(K, M, N, 16, 4)
    slices = -(-K // kc)
    kc = min(K, -(-(K // slices) // 8) * 8)
    return [b for k0 in range(0, K, kc) for b in _sgemm_blocks(k0, min(K, k0 + kc))]


def _regions(M, N, fused):
    """The output regions of the tensor contraction and each one's order."""
    if fused:
        return [(slice(0, M), slice(0, N), _seq)]
    N8, N2, M4 = N // 8 * 8, N // 2 * 2, M // 4 * 4
    regions = [(slice(0, M), slice(0, N8), _seq),
               (slice(0, M4), slice(N8, N2), _even_odd),
               (slice(M4, M), slice(N8, N2), _seq)]
    if N % 2:
        regions += [(slice(0, M4), slice(N - 1, N), _mod4),
                    (slice(M4, M), slice(N - 1, N), _seq)]
    return [r for r in regions if r[0].stop > r[0].start and r[1].stop > r[1].start]


def _blocked(order, t, rows, cols, blocks):
    total = order(t, rows, cols, *blocks[0])
    for k0, k1 in blocks[1:]:
        total = total + order(t, rows, cols, k0, k1)
    return total


def _contraction(t, M, K, N):
    blocks = _depth_blocks(K, M, N, t.fused)
    out = np.zeros((M, N), t.dt)
    for rows, cols, order in _regions(M, N, t.fused):
        out[rows, cols] = _blocked(order, t, rows, cols, blocks)
    return out


def tf_matmul(x, y, transpose_a=False, transpose_b=False):
    """z = op(x) @ op(y) for 2-D float arrays of one dtype, added in TF's
    order (module docstring); denormals are not flushed here."""
    x = x.T if transpose_a else x
    y = y.T if transpose_b else y
    M, K = x.shape
    N = y.shape[1]
    if M == 0 or N == 0 or K == 0:
        return np.zeros((M, N), x.dtype)
    R, C = slice(0, M), slice(0, N)
    with np.errstate(over="ignore", invalid="ignore"):
        if min(M, K, N) > 1:            # the tensor contraction
            return _contraction(_Terms(x, y, x.dtype == np.float32), M, K, N)
        # Eigen's own products (one of M, K, N is 1): rounded products
        t = _Terms(x, y, False)
        if M == 1 and N == 1 and transpose_b and K + M + N >= 20:
            return _inner(t, K)
        rows_of_x = N == 1 and not transpose_a and (M > 1 or transpose_b)
        rows_of_y = M == 1 and N > 1 and transpose_b
        if K == 1:
            return t.rounded(R, C, 0)
        lazy = K + M + N < 20           # Eigen's coefficient-wise product
        if lazy and not transpose_b:
            return _seq(t, R, C, 0, K)
        if rows_of_x:
            return _dot_rows(t, M, K, half=not lazy)
        if rows_of_y:
            return _dot_rows(_Terms(y.T, x.T, False), N, K, half=not lazy).T
        if M == 1 and N > 1 or N == 1 and M > 1:     # column-major matrix times vector
            return _by_column_blocks(t, M, K, N)
        return _seq(t, R, C, 0, K)


def _operand(a):
    """(a with denormals as zeros, max |a|: inf or NaN when an entry is not
    finite)."""
    return flush_denormals(a), float(np.max(np.abs(a))) if a.size else 0.0


_F32_MAX = float(np.finfo(np.float32).max)


def may_overflow(bound):
    """Whether a sum of terms with |term| totals up to `bound` (NaN or inf:
    not finite inputs) could come near float32's range. float32's for both
    dtypes: a float64 product a caller casts to float32 (Keras' float32
    outputs) or that cancels to a small difference needs TF's last bits
    too. Such products are rare; they then take the exact order."""
    return not bound < _F32_MAX / 4


def decides(bound, dtype):
    """Whether the order of a sum of terms with |term| totals up to `bound`
    can decide what follows: near float32's range (may_overflow), or where
    its rounding, up to eps * bound, reaches a unit -- logits whose softmax
    or sigmoid then rests on the last bits (a probability of 0 or 1 that a
    huge weight turns into inf or NaN downstream)."""
    return may_overflow(bound) or not bound * np.finfo(dtype).eps < 1


def matmul(x, y, transpose_a=False, transpose_b=False, bounds=None):
    """op(x) @ op(y) as TF's CPU MatMul computes it (2-D, one float dtype):
    BLAS where no partial sum can overflow, else tf_matmul with denormal
    inputs and results as zeros. Without `bounds` the BLAS path flushes them
    too (an extra pass); a caller that passes (max |x|, max |y|) saves both
    passes and takes BLAS's result as it is."""
    if bounds is None:
        (x, mx), (y, my) = _operand(x), _operand(y)
    else:
        mx, my = bounds
    depth = x.shape[0] if transpose_a else x.shape[-1]
    with np.errstate(over="ignore", invalid="ignore"):
        if not may_overflow(mx * my * depth):
            z = (x.T if transpose_a else x) @ (y.T if transpose_b else y)
            return z if bounds is not None else flush_denormals(z)
        return flush_denormals(tf_matmul(flush_denormals(x), flush_denormals(y),
                                         transpose_a, transpose_b))


def tf_matmul_at(x, y, i, j):
    """(x @ y)[i, j] for 2-D x, y of one dtype and index vectors i, j, each
    output added in TF's order as tf_matmul adds it (only the chosen
    outputs' terms are formed, where the product is a tensor contraction)."""
    M, K = x.shape
    N = y.shape[1]
    if min(M, K, N) <= 1 or len(i) == 0:
        return tf_matmul(x, y)[i, j]
    fused = x.dtype == np.float32
    blocks = _depth_blocks(K, M, N, fused)
    out = np.empty(len(i), x.dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        for rows, cols, order in _regions(M, N, fused):
            sel = ((i >= rows.start) & (i < rows.stop) & (j >= cols.start) & (j < cols.stop))
            if sel.any():
                out[sel] = _blocked(order, _Pairs(x, y, i[sel], j[sel], fused), None, None,
                                    blocks)
    return out


def near_in_tf_order(z, x, y, values):
    """z = x @ y (2-D, from BLAS or any order), with every output that lies
    within two orders' rounding of one of `values` added again in TF's
    order: there a comparison (a kink of max, a select) that follows the
    product decides by the last bits, and TF's bits decide it. The rounding
    of a sum of K products is at most K eps sum_k |x_ik y_kj| <= K eps
    |x_i| |y_j| (Cauchy-Schwarz); outputs whose bound is not finite are left
    (their inputs are not finite: no rounding decides them)."""
    if z.ndim != 2 or x.ndim != 2 or y.ndim != 2 or z.size == 0:
        return z
    K = x.shape[1]
    with np.errstate(over="ignore", invalid="ignore"):
        nx = np.sqrt(np.sum(np.square(x, dtype=np.float64), axis=1))
        ny = np.sqrt(np.sum(np.square(y, dtype=np.float64), axis=0))
        bound = (2.0 * K * float(np.finfo(z.dtype).eps)) * np.outer(nx, ny)
        zz = z.astype(np.float64)
        near = np.zeros(z.shape, bool)
        for v in values:
            near |= np.abs(zz - float(v)) <= bound
        near &= np.isfinite(bound)
    if not near.any():
        return z
    i, j = np.nonzero(near)
    z = z.copy()
    z[i, j] = flush_denormals(tf_matmul_at(flush_denormals(x), flush_denormals(y), i, j))
    return z


__all__ = ["matmul", "tf_matmul", "tf_matmul_at", "near_in_tf_order", "may_overflow"]
