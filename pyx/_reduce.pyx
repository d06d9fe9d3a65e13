# cython: language_level=3
"""Shared reductions and gradient scaling. Sums run over fixed blocks whose
partial sums are added in index order: the bits never depend on the thread
count (no float `+=` reduction inside prange)."""
from cython.parallel cimport prange
from _types cimport real, label_t
from _math cimport rowsum, rowhalfsumsq, tfsum, tfsum_cols, daz_, scale_flushed

cdef Py_ssize_t BLOCK = 4096


def k_sum(const real[::1] x,          # IN
          real[::1] partials,         # scratch [ceil(n / 4096)]
          bint half_squares,
          int n_threads):
    """sum(x), or sum(x*x/2) if half_squares, in a fixed order."""
    cdef Py_ssize_t n = x.shape[0], b, lo
    cdef Py_ssize_t n_blocks = (n + BLOCK - 1) // BLOCK
    if n == 0:
        return 0.0
    for b in prange(n_blocks, schedule="static", nogil=True,
                    num_threads=n_threads, use_threads_if=n_threads > 1):
        lo = b * BLOCK
        if half_squares:
            partials[b] = rowhalfsumsq(&x[lo], min(BLOCK, n - lo))
        else:
            partials[b] = rowsum(&x[lo], min(BLOCK, n - lo))
    return rowsum(&partials[0], n_blocks)


def k_tfsum_rows(const real[:, ::1] x,     # IN [n_rows, n], n >= 1
                 real[::1] out,            # OUT [n_rows]
                 int n_threads):
    """out[i] = sum(x[i, :]) in the order of TF's CPU Sum over the last axis
    (row i starts at element i * n of the tensor)."""
    cdef Py_ssize_t n_rows = x.shape[0], n = x.shape[1], i
    for i in prange(n_rows, schedule="static", nogil=True,
                    num_threads=n_threads, use_threads_if=n_threads > 1):
        out[i] = tfsum(&x[i, 0], n, i * n)


def k_tfsum_cols(const real[:, :, ::1] x,   # IN [A, R, B], R >= 1
                 real[:, ::1] out,          # OUT [A, B]
                 bint packets,
                 int n_threads):
    """out[a, b] = sum(x[a, :, b]) in the order of TF's CPU Sum over a
    leading or middle axis (packets: TF's preserving-inner path; otherwise
    every output one by one, its generic path). Work items: whole slabs, or
    column ranges of one when there are fewer slabs than threads."""
    cdef Py_ssize_t A = x.shape[0], R = x.shape[1], B = x.shape[2]
    cdef Py_ssize_t per = (n_threads + A - 1) // A, cols, n_chunks, t, a, b0
    cols = ((B + per - 1) // per + 255) // 256 * 256
    n_chunks = (B + cols - 1) // cols
    for t in prange(A * n_chunks, schedule="static", nogil=True,
                    num_threads=n_threads, use_threads_if=n_threads > 1):
        a = t // n_chunks
        b0 = (t % n_chunks) * cols
        tfsum_cols(&x[a, 0, 0], R, B, b0, min(b0 + cols, B), a * B, A * B, packets,
                   &out[a, 0])


def k_scale_rows(real[:, ::1] g,          # IN/OUT (a buffer cyloss owns)
                 const real[::1] dy,      # IN, one factor per row
                 int n_threads):
    """g[i, :] *= dy[i] as TF's Mul forms it (_math.pxd scale_flushed): g
    stands for a TF kernel's output, its denormals 0, and a denormal product
    is 0 (a probability of 2e-38 times dy 0.4; a denormal one times an
    infinite dy is 0 * inf = NaN)."""
    cdef Py_ssize_t n_rows = g.shape[0], n_cols = g.shape[1], i
    if n_cols == 0:
        return
    for i in prange(n_rows, schedule="static", nogil=True,
                    num_threads=n_threads, use_threads_if=n_threads > 1):
        scale_flushed(&g[i, 0], n_cols, dy[i])


def k_mul(real[::1] g,                  # IN/OUT (a buffer cyloss owns)
          const real[::1] dy,           # IN
          int n_threads):
    """g *= dy elementwise, a denormal product as 0 (TF's Mul flushes it)"""
    cdef Py_ssize_t n = g.shape[0], b, k, lo, hi
    cdef Py_ssize_t n_blocks = (n + BLOCK - 1) // BLOCK
    for b in prange(n_blocks, schedule="static", nogil=True,
                    num_threads=n_threads, use_threads_if=n_threads > 1):
        lo = b * BLOCK
        hi = min(lo + BLOCK, n)
        for k in range(lo, hi):
            g[k] = daz_(g[k] * dy[k])


def k_first_bad_label(const label_t[::1] labels,   # IN
                      Py_ssize_t n_classes):
    """Index of the first label outside [0, n_classes), or -1: the range check
    that runs before any sparse kernel (cheaper than NumPy on small inputs)."""
    cdef Py_ssize_t i, bad = -1, n = labels.shape[0]
    with nogil:
        for i in range(n):
            if labels[i] < 0 or labels[i] >= n_classes:
                bad = i
                break
    return bad
