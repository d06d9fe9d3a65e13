# cython: language_level=3
"""Softmax family kernels: softmax / log_softmax (+ backward), dense and sparse
softmax cross-entropy with their local gradients. Rows are [n_rows, n_classes]
C-contiguous; each prange iteration owns its row, so the bits do not depend on
the thread count. Small class counts go through block_softmax, which gives the
same bits with one flat vectorized exp per block of rows."""
from cython.parallel cimport prange, threadid
from _types cimport real, label_t
from _math cimport (exp_, rowmax, rowsum, rowdot, expsum, rowdiv, rowsub,
                    block_softmax, xent_row, sparse_xent_row, sparse_xent_row_nt,
                    CYL_BLOCK_ROWS, daz_, scale_flushed)
from libc.math cimport log

cdef Py_ssize_t SMALL_C = 16    # below this, class rows are handled in blocks
cdef Py_ssize_t PREFETCH_C = 256   # rows of at least this many classes prefetch the next


cdef inline const real *next_row(const real *x, Py_ssize_t i, Py_ssize_t n_rows,
                                Py_ssize_t n) noexcept nogil:
    # the row after row i, to prefetch into L2 while row i is worked (the
    # hardware prefetcher does not run ahead of a row already in cache):
    # [8192,1000] vag 3.07 -> 2.57 ms, [2048,32000] forward 20.1 -> 14.0 ms
    return x + (i + 1) * n if n >= PREFETCH_C and i + 1 < n_rows else NULL


cdef inline void softmax_row(const real *x, Py_ssize_t n, real *out,
                             bint log_out, const real *pf=NULL) noexcept nogil:
    # softmax = exp(x - m) / sum ; log_softmax = (x - m) - log(sum)
    cdef real m = rowmax(x, n)
    cdef real s
    if log_out:
        s = expsum(x, n, m, <real*>NULL, pf)
        rowsub(x, n, m, out)
        rowsub(out, n, <real>log(s), out)
    else:
        s = expsum(x, n, m, out, pf)
        rowdiv(out, n, s, out)


cdef inline void softmax_bwd_row(const real *y, const real *dy, Py_ssize_t n,
                                 real *dx, bint log_out) noexcept nogil:
    # softmax:      dx = (dy - sum(dy*y)) * y
    # log_softmax:  dx = dy - sum(dy) * exp(y)
    cdef Py_ssize_t k
    cdef real t
    if log_out:
        t = rowsum(dy, n)
        for k in range(n):
            dx[k] = dy[k] - t * exp_(y[k])
    else:
        t = rowdot(dy, y, n)
        for k in range(n):
            dx[k] = (dy[k] - t) * y[k]


def k_softmax(const real[:, ::1] logits,     # IN
              real[:, ::1] out,              # OUT softmax, or log_softmax if log_out
              real[::1] m_scratch,           # scratch [n_rows]
              real[::1] s_scratch,           # scratch [n_rows]
              bint log_out,
              int n_threads):
    cdef Py_ssize_t n_rows = logits.shape[0], n_classes = logits.shape[1]
    cdef Py_ssize_t i, k, b, i0, r, n_blocks
    cdef real L
    if n_rows == 0 or n_classes == 0:
        return
    if n_classes < SMALL_C:
        n_blocks = (n_rows + CYL_BLOCK_ROWS - 1) // CYL_BLOCK_ROWS
        for b in prange(n_blocks, schedule="static", nogil=True,
                        num_threads=n_threads, use_threads_if=n_threads > 1):
            i0 = b * CYL_BLOCK_ROWS
            r = min(<Py_ssize_t>CYL_BLOCK_ROWS, n_rows - i0)
            block_softmax(&logits[i0, 0], r, n_classes, &m_scratch[i0],
                          &s_scratch[i0], NULL if log_out else &out[i0, 0])
            if log_out:
                for i in range(i0, i0 + r):
                    L = <real>log(s_scratch[i])
                    for k in range(n_classes):
                        out[i, k] = (logits[i, k] - m_scratch[i]) - L
        return
    for i in prange(n_rows, schedule="static", nogil=True,
                    num_threads=n_threads, use_threads_if=n_threads > 1):
        softmax_row(&logits[i, 0], n_classes, &out[i, 0], log_out,
                    next_row(&logits[0, 0], i, n_rows, n_classes))


def k_softmax_bwd(const real[:, ::1] y,     # IN softmax, or log_softmax if log_out
                  const real[:, ::1] dy,    # IN upstream gradient
                  real[:, ::1] dx_out,      # OUT
                  bint log_out,
                  int n_threads):
    cdef Py_ssize_t n_rows = y.shape[0], n_classes = y.shape[1], i
    if n_classes == 0:
        return
    for i in prange(n_rows, schedule="static", nogil=True,
                    num_threads=n_threads, use_threads_if=n_threads > 1):
        softmax_bwd_row(&y[i, 0], &dy[i, 0], n_classes, &dx_out[i, 0], log_out)


def k_sparse_xent(const real[:, ::1] logits,     # IN
                  const label_t[::1] labels,     # IN, checked in [0, n_classes)
                  real[::1] loss_out,            # OUT
                  real[:, ::1] dlogits_out,      # OUT softmax - onehot, or None
                  real[::1] m_scratch,           # scratch [n_rows]
                  real[::1] s_scratch,           # scratch [n_rows]
                  int n_threads,
                  real[:, ::1] e_scratch=None):  # [n_threads, n_classes]: stream dlogits
    cdef Py_ssize_t n_rows = logits.shape[0], n_classes = logits.shape[1]
    cdef Py_ssize_t i, b, i0, r, n_blocks
    cdef bint grad = dlogits_out is not None
    cdef bint stream = grad and e_scratch is not None and n_classes >= SMALL_C
    if n_rows == 0:
        return
    if n_classes < SMALL_C:
        n_blocks = (n_rows + CYL_BLOCK_ROWS - 1) // CYL_BLOCK_ROWS
        for b in prange(n_blocks, schedule="static", nogil=True,
                        num_threads=n_threads, use_threads_if=n_threads > 1):
            i0 = b * CYL_BLOCK_ROWS
            r = min(<Py_ssize_t>CYL_BLOCK_ROWS, n_rows - i0)
            block_softmax(&logits[i0, 0], r, n_classes, &m_scratch[i0],
                          &s_scratch[i0], &dlogits_out[i0, 0] if grad else NULL)
            for i in range(i0, i0 + r):
                loss_out[i] = <real>log(s_scratch[i]) - (logits[i, labels[i]] - m_scratch[i])
                if grad:
                    dlogits_out[i, labels[i]] -= 1
        return
    if stream:      # the caller sized e_scratch to n_threads rows
        for i in prange(n_rows, schedule="static", nogil=True,
                        num_threads=n_threads, use_threads_if=n_threads > 1):
            loss_out[i] = sparse_xent_row_nt(&logits[i, 0], n_classes, labels[i],
                                             &dlogits_out[i, 0], &e_scratch[threadid(), 0],
                                             next_row(&logits[0, 0], i, n_rows, n_classes))
        return
    for i in prange(n_rows, schedule="static", nogil=True,
                    num_threads=n_threads, use_threads_if=n_threads > 1):
        loss_out[i] = sparse_xent_row(&logits[i, 0], n_classes, labels[i],
                                      &dlogits_out[i, 0] if grad else NULL,
                                      next_row(&logits[0, 0], i, n_rows, n_classes))


def k_xent(const real[:, ::1] logits,     # IN [n_rows, n_classes]
           const real[:, ::1] labels,     # IN [n_rows or 1, n_classes]
           real[::1] loss_out,            # OUT
           real[:, ::1] dlogits_out,      # OUT softmax - labels, or None
           real[:, ::1] dlabels_out,      # OUT -log_softmax, or None
           int n_threads):
    cdef Py_ssize_t n_rows = logits.shape[0], n_classes = logits.shape[1]
    cdef Py_ssize_t i, lab_step = n_classes if labels.shape[0] > 1 else 0
    cdef bint gx = dlogits_out is not None, gy = dlabels_out is not None
    cdef const real *lab0
    if n_rows == 0:
        return
    if n_classes == 0:
        loss_out[:] = 0
        return
    lab0 = &labels[0, 0]
    for i in prange(n_rows, schedule="static", nogil=True,
                    num_threads=n_threads, use_threads_if=n_threads > 1):
        loss_out[i] = xent_row(&logits[i, 0], lab0 + i * lab_step, n_classes,
                               &dlogits_out[i, 0] if gx else NULL,
                               &dlabels_out[i, 0] if gy else NULL,
                               next_row(&logits[0, 0], i, n_rows, n_classes),
                               i * n_classes)


# ---------------------------------------------------------------------------
# A class axis that is not last: the array is viewed as [outer, n_classes,
# inner] (C-contiguous, the class stride is `inner`). Each task gathers a
# tile of TILE columns into thread scratch as contiguous rows, runs the same
# row code as above, and scatters the results back: no transposed copy of the
# whole array, and bit-identical results to the last-axis kernels.

cdef Py_ssize_t TILE = 16
TILE_COLUMNS = TILE      # for the callers' scratch: [n_threads, k * TILE * n_classes]


cdef check_scratch(real[:, ::1] scratch, Py_ssize_t k, Py_ssize_t n_classes, int n_threads):
    if scratch.shape[0] < n_threads or scratch.shape[1] < k * TILE * n_classes:
        raise ValueError("scratch too small for the tiled kernel")


cdef inline void gather(const real *src, Py_ssize_t n_classes, Py_ssize_t inner,
                        Py_ssize_t w, real *tile) noexcept nogil:
    # tile[j, k] = src[k, j] for j < w
    cdef Py_ssize_t j, k
    for k in range(n_classes):
        for j in range(w):
            tile[j * n_classes + k] = src[k * inner + j]


cdef inline void scatter(const real *tile, Py_ssize_t n_classes, Py_ssize_t inner,
                         Py_ssize_t w, real *dst) noexcept nogil:
    cdef Py_ssize_t j, k
    for k in range(n_classes):
        for j in range(w):
            dst[k * inner + j] = tile[j * n_classes + k]


def k_softmax_mid(const real[:, :, ::1] logits,   # IN [outer, n_classes, inner]
                  real[:, :, ::1] out,            # OUT same layout
                  real[:, ::1] scratch,           # [n_threads, 2 * TILE * n_classes]
                  bint log_out,
                  int n_threads):
    cdef Py_ssize_t n_outer = logits.shape[0], n_classes = logits.shape[1]
    cdef Py_ssize_t inner = logits.shape[2]
    cdef Py_ssize_t per = (inner + TILE - 1) // TILE, t, o, j0, w, j
    cdef real *a
    cdef real *b
    if n_outer == 0 or n_classes == 0 or inner == 0:
        return
    check_scratch(scratch, 2, n_classes, n_threads)
    for t in prange(n_outer * per, schedule="static", nogil=True,
                    num_threads=n_threads, use_threads_if=n_threads > 1):
        a = &scratch[threadid(), 0]
        b = a + TILE * n_classes
        o = t // per
        j0 = (t % per) * TILE
        w = min(TILE, inner - j0)
        gather(&logits[o, 0, j0], n_classes, inner, w, a)
        for j in range(w):
            softmax_row(a + j * n_classes, n_classes, b + j * n_classes, log_out)
        scatter(b, n_classes, inner, w, &out[o, 0, j0])


def k_softmax_bwd_mid(const real[:, :, ::1] y,    # IN softmax or log_softmax
                      const real[:, :, ::1] dy,   # IN
                      real[:, :, ::1] dx_out,     # OUT
                      real[:, ::1] scratch,       # [n_threads, 2 * TILE * n_classes]
                      bint log_out,
                      int n_threads):
    cdef Py_ssize_t n_outer = y.shape[0], n_classes = y.shape[1], inner = y.shape[2]
    cdef Py_ssize_t per = (inner + TILE - 1) // TILE, t, o, j0, w, j
    cdef real *a
    cdef real *g
    if n_outer == 0 or n_classes == 0 or inner == 0:
        return
    check_scratch(scratch, 2, n_classes, n_threads)
    for t in prange(n_outer * per, schedule="static", nogil=True,
                    num_threads=n_threads, use_threads_if=n_threads > 1):
        a = &scratch[threadid(), 0]
        g = a + TILE * n_classes
        o = t // per
        j0 = (t % per) * TILE
        w = min(TILE, inner - j0)
        gather(&y[o, 0, j0], n_classes, inner, w, a)
        gather(&dy[o, 0, j0], n_classes, inner, w, g)
        for j in range(w):
            softmax_bwd_row(a + j * n_classes, g + j * n_classes, n_classes,
                            g + j * n_classes, log_out)
        scatter(g, n_classes, inner, w, &dx_out[o, 0, j0])


def k_xent_mid(const real[:, :, ::1] logits,     # IN [outer, n_classes, inner]
               const real[:, :, ::1] labels,     # IN same shape
               real[:, ::1] loss_out,            # OUT [outer, inner]
               real[:, :, ::1] dlogits_out,      # OUT or None
               real[:, :, ::1] dlabels_out,      # OUT or None
               real[:, ::1] scratch,             # [n_threads, 4 * TILE * n_classes]
               int n_threads):
    cdef Py_ssize_t n_outer = logits.shape[0], n_classes = logits.shape[1]
    cdef Py_ssize_t inner = logits.shape[2]
    cdef Py_ssize_t per = (inner + TILE - 1) // TILE, t, o, j0, w, j
    cdef bint gx = dlogits_out is not None, gy = dlabels_out is not None
    cdef real *a
    cdef real *b
    cdef real *c
    cdef real *d
    if n_outer == 0 or inner == 0:
        return
    if n_classes == 0:
        loss_out[:, :] = 0
        return
    check_scratch(scratch, 4, n_classes, n_threads)
    for t in prange(n_outer * per, schedule="static", nogil=True,
                    num_threads=n_threads, use_threads_if=n_threads > 1):
        a = &scratch[threadid(), 0]
        b = a + TILE * n_classes
        c = b + TILE * n_classes
        d = c + TILE * n_classes
        o = t // per
        j0 = (t % per) * TILE
        w = min(TILE, inner - j0)
        gather(&logits[o, 0, j0], n_classes, inner, w, a)
        gather(&labels[o, 0, j0], n_classes, inner, w, b)
        for j in range(w):
            # (TF moves the class axis last: row (o, j) is row o * inner + j)
            loss_out[o, j0 + j] = xent_row(a + j * n_classes, b + j * n_classes, n_classes,
                                           c + j * n_classes if gx else NULL,
                                           d + j * n_classes if gy else NULL, NULL,
                                           (o * inner + j0 + j) * n_classes)
        if gx:
            scatter(c, n_classes, inner, w, &dlogits_out[o, 0, j0])
        if gy:
            scatter(d, n_classes, inner, w, &dlabels_out[o, 0, j0])


# ---------------------------------------------------------------------------
# Weighted sparse softmax cross-entropy over the flattened positions of a
# sequence loss (contrib.seq2seq / legacy_seq2seq, TF_SEMANTICS.md sec. 3):
# per row the value ce (sparse_xent_row), ce * w, and the logits gradient
# (softmax - onehot) * gscale[i], in one pass over the row.
#
# A zero-weight row (padding) skips the softmax when TF's answer does not need
# it: TF computes ce * 0 and (g * 0) * (softmax - onehot), which are 0 only
# when g * 0 (the row's gscale) is 0, not NaN (an inf or NaN upstream g), and
# ce and the softmax row are finite. They are exactly when the row has
# no NaN, a finite max m, and x[label] - m does not overflow to -inf (then
# 0 <= L <= log C and ce = L - (x[label] - m) is finite; a -inf elsewhere in
# the row is harmless). Any other zero-weight row is computed in full, so
# NaN / inf rows give TF's NaN.

cdef inline bint zero_is_exact(const real *x, Py_ssize_t n,
                               Py_ssize_t label) noexcept nogil:
    cdef real m = rowmax(x, n)          # NaN entries are skipped by rowmax
    cdef real inf = <real>1e300 * <real>1e300
    cdef Py_ssize_t k
    cdef int nan = 0
    if not (m < inf and m > -inf):
        return False
    if not (x[label] - m > -inf):       # (evaluated in real: float stays float)
        return False
    for k in range(n):                  # an int OR reduction: vectorizes
        nan = nan | (x[k] != x[k])
    return nan == 0


def k_sparse_xent_weighted(const real[:, ::1] logits,   # IN [n_rows, n_classes]
                           const label_t[::1] labels,   # IN, checked in [0, n_classes)
                           const real[::1] weights,     # IN [n_rows]
                           const real[::1] gscale,      # IN [n_rows] gradient row factor
                           real[::1] ce_out,            # OUT ce (unweighted)
                           real[::1] cew_out,           # OUT ce * w
                           real[:, ::1] dlogits_out,    # OUT (softmax - onehot) * gscale, or None
                           bint need_ce,
                           int n_threads):
    """Rows with w == 0 (and gscale 0, when gradients are wanted) whose
    result is exactly 0 (zero_is_exact) get
    cew = w (= ce * w: ce >= 0 is finite, w is +-0) and a zero gradient row
    without any exp; their ce_out is computed only if need_ce (the weights'
    gradient needs it), else set to 0. gscale may be None when dlogits_out
    is None."""
    cdef Py_ssize_t n_rows = logits.shape[0], n_classes = logits.shape[1]
    cdef Py_ssize_t i, k
    cdef bint grad = dlogits_out is not None
    cdef real ce
    if n_rows == 0:
        return
    if n_classes <= 0:
        raise ValueError("k_sparse_xent_weighted needs at least one class")
    if weights.shape[0] != n_rows or ce_out.shape[0] != n_rows or cew_out.shape[0] != n_rows \
            or labels.shape[0] != n_rows:
        raise ValueError("k_sparse_xent_weighted: row counts differ")
    if grad and (gscale is None or gscale.shape[0] != n_rows
                 or dlogits_out.shape[0] != n_rows or dlogits_out.shape[1] != n_classes):
        raise ValueError("k_sparse_xent_weighted: gradient buffers do not match")
    for i in prange(n_rows, schedule="static", nogil=True,
                    num_threads=n_threads, use_threads_if=n_threads > 1):
        if weights[i] == 0 and (not grad or gscale[i] == 0) and \
                zero_is_exact(&logits[i, 0], n_classes, labels[i]):
            if need_ce:
                ce_out[i] = sparse_xent_row(&logits[i, 0], n_classes, labels[i], NULL)
            else:
                ce_out[i] = 0
            cew_out[i] = weights[i]
            if grad:
                for k in range(n_classes):
                    dlogits_out[i, k] = 0
        else:
            ce = sparse_xent_row(&logits[i, 0], n_classes, labels[i],
                                 &dlogits_out[i, 0] if grad else NULL,
                                 next_row(&logits[0, 0], i, n_rows, n_classes))
            ce_out[i] = ce
            cew_out[i] = ce * weights[i]
            if grad:
                scale_flushed(&dlogits_out[i, 0], n_classes, gscale[i])
