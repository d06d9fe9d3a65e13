# cython: language_level=3
"""Softmax family kernels: softmax / log_softmax (+ backward), dense and sparse
softmax cross-entropy with their local gradients. Rows are [n_rows, n_classes]
C-contiguous; each prange iteration owns its row, so the bits do not depend on
the thread count. Small class counts go through block_softmax, which gives the
same bits with one flat vectorized exp per block of rows."""
from cython.parallel cimport prange
from _types cimport real, label_t
from _math cimport (exp_, rowmax, rowsum, rowdot, expsum, rowdiv, rowsub,
                    block_softmax, xent_row, sparse_xent_row, CYL_BLOCK_ROWS)
from libc.math cimport log

cdef Py_ssize_t SMALL_C = 16    # below this, class rows are handled in blocks


def k_softmax(const real[:, ::1] logits,     # IN
              real[:, ::1] out,              # OUT softmax, or log_softmax if log_out
              real[::1] m_scratch,           # scratch [n_rows]
              real[::1] s_scratch,           # scratch [n_rows]
              bint log_out,
              int n_threads):
    cdef Py_ssize_t n_rows = logits.shape[0], n_classes = logits.shape[1]
    cdef Py_ssize_t i, k, b, i0, r, n_blocks
    cdef real m, s, L
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
        m = rowmax(&logits[i, 0], n_classes)
        if log_out:
            s = expsum(&logits[i, 0], n_classes, m, <real*>NULL)
            rowsub(&logits[i, 0], n_classes, m, &out[i, 0])
            rowsub(&out[i, 0], n_classes, <real>log(s), &out[i, 0])
        else:
            s = expsum(&logits[i, 0], n_classes, m, &out[i, 0])
            rowdiv(&out[i, 0], n_classes, s, &out[i, 0])


def k_softmax_bwd(const real[:, ::1] y,     # IN softmax, or log_softmax if log_out
                  const real[:, ::1] dy,    # IN upstream gradient
                  real[:, ::1] dx_out,      # OUT
                  bint log_out,
                  int n_threads):
    # softmax:      dx = (dy - sum(dy*y)) * y
    # log_softmax:  dx = dy - sum(dy) * exp(y)
    cdef Py_ssize_t n_rows = y.shape[0], n_classes = y.shape[1]
    cdef Py_ssize_t i, k
    cdef real t
    if n_classes == 0:
        return
    for i in prange(n_rows, schedule="static", nogil=True,
                    num_threads=n_threads, use_threads_if=n_threads > 1):
        if log_out:
            t = rowsum(&dy[i, 0], n_classes)
            for k in range(n_classes):
                dx_out[i, k] = dy[i, k] - t * exp_(y[i, k])
        else:
            t = rowdot(&dy[i, 0], &y[i, 0], n_classes)
            for k in range(n_classes):
                dx_out[i, k] = (dy[i, k] - t) * y[i, k]


def k_sparse_xent(const real[:, ::1] logits,     # IN
                  const label_t[::1] labels,     # IN, checked in [0, n_classes)
                  real[::1] loss_out,            # OUT
                  real[:, ::1] dlogits_out,      # OUT softmax - onehot, or None
                  real[::1] m_scratch,           # scratch [n_rows]
                  real[::1] s_scratch,           # scratch [n_rows]
                  int n_threads):
    cdef Py_ssize_t n_rows = logits.shape[0], n_classes = logits.shape[1]
    cdef Py_ssize_t i, b, i0, r, n_blocks
    cdef bint grad = dlogits_out is not None
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
    for i in prange(n_rows, schedule="static", nogil=True,
                    num_threads=n_threads, use_threads_if=n_threads > 1):
        loss_out[i] = sparse_xent_row(&logits[i, 0], n_classes, labels[i],
                                      &dlogits_out[i, 0] if grad else NULL)


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
                               &dlabels_out[i, 0] if gy else NULL)
