# cython: language_level=3
"""Elementwise loss kernels: sigmoid and weighted cross-entropy, log-Poisson.
Each pt_<loss> holds the value and the local derivatives of one element; the
k_<loss> loops are prange over fixed blocks of elements, so gcc vectorizes the
inner loop and the bits do not depend on the thread count."""
from cython.parallel cimport prange
from _types cimport real
from _math cimport exp_, log_, log1p_, relu_, fabs_

cdef Py_ssize_t BLOCK = 4096


cdef inline real pt_sigmoid_xent(real z, real x, real *dx) noexcept nogil:
    # TF's stable form, branch on x >= 0:
    #   value = relu(x) - x*z + log1p(exp(-|x|))
    #   dx    = [x >= 0] - z + (x >= 0 ? -1 : +1) * e/(1+e),  e = exp(-|x|)
    # (= sigmoid(x) - z; 0.5 - z at x = 0; finite at x = +-inf)
    cdef real e = exp_(-fabs_(x))
    cdef real t = e / (1 + e)
    if x >= 0:
        dx[0] = (1 - z) - t
        return (x - x * z) + log1p_(e)
    dx[0] = -z + t
    return (0 - x * z) + log1p_(e)


cdef inline real pt_weighted_xent(real z, real x, real pw, real *dx, real *dz,
                                  real *dpw) noexcept nogil:
    # q = 1 + (pw - 1) z;  c = log1p(exp(-|x|)) + relu(-x)  (= -log sigmoid(x))
    #   value = (1 - z) x + q c
    #   dx    = (1 - z) + q (-sign(x) e/(1+e) - [x < 0])   (sign(0) = 0: 1 - z at x = 0)
    #   dz    = -x + (pw - 1) c ;  dpw = z c
    cdef real e = exp_(-fabs_(x))
    cdef real c = log1p_(e) + relu_(-x)
    cdef real q = 1 + (pw - 1) * z
    cdef real sg = (x > 0) - (x < 0)
    dx[0] = (1 - z) + q * (-sg * (e / (1 + e)) - (x < 0))
    dz[0] = -x + (pw - 1) * c
    dpw[0] = z * c
    return (1 - z) * x + q * c


cdef inline real pt_log_poisson(real z, real c, bint full, real *dc,
                                real *dz) noexcept nogil:
    # value = exp(c) - c z  [+ st(z) where z > 1 or z < 0, else + 0]
    #   st(z) = z log z - z + 0.5 log(2 pi z)        (Stirling's term)
    # dc = exp(c) - z ;  dz = -c + (z > 1 or z < 0 ? st'(z) : 0 * st'(z))
    #   st'(z) = log z + 0.5/z
    # TF differentiates the masked branch too, so dz is NaN at z = 0
    # (0 * (-inf + inf)) and NaN for z < 0; branch-free so the loop vectorizes.
    cdef real ec = exp_(c)
    cdef real v = ec - c * z
    cdef real lz, st, dst
    cdef bint big
    dc[0] = ec - z
    dz[0] = -c
    if full:
        lz = log_(z)
        st = (z * lz - z) + <real>0.5 * log_(<real>6.283185307179586 * z)
        dst = lz + <real>0.5 / z
        big = (z > 1) | (z < 0)
        v = v + (st if big else <real>0)
        dz[0] = -c + (dst if big else <real>0 * dst)
    return v


def k_sigmoid_xent(const real[::1] labels,     # IN
                   const real[::1] logits,     # IN
                   real[::1] loss_out,         # OUT
                   real[::1] dlogits_out,      # OUT or None
                   int n_threads):
    cdef Py_ssize_t n = logits.shape[0], b, k, lo, hi
    cdef Py_ssize_t n_blocks = (n + BLOCK - 1) // BLOCK
    cdef bint grad = dlogits_out is not None
    cdef real dummy
    for b in prange(n_blocks, schedule="static", nogil=True,
                    num_threads=n_threads, use_threads_if=n_threads > 1):
        lo = b * BLOCK
        hi = min(lo + BLOCK, n)
        if grad:
            for k in range(lo, hi):
                loss_out[k] = pt_sigmoid_xent(labels[k], logits[k], &dlogits_out[k])
        else:
            for k in range(lo, hi):
                dummy = 0     # assigned here: private to the thread, so it vectorizes
                loss_out[k] = pt_sigmoid_xent(labels[k], logits[k], &dummy)


def k_weighted_xent(const real[::1] labels,     # IN
                    const real[::1] logits,     # IN
                    const real[::1] pos_weight, # IN, length n or 1 (broadcast)
                    real[::1] loss_out,         # OUT
                    real[::1] dlogits_out,      # OUT or None (then all grads None)
                    real[::1] dlabels_out,      # OUT or None
                    real[::1] dpw_out,          # OUT or None
                    int n_threads):
    cdef Py_ssize_t n = logits.shape[0], b, k, lo, hi
    cdef Py_ssize_t n_blocks = (n + BLOCK - 1) // BLOCK
    cdef Py_ssize_t pws = 1 if pos_weight.shape[0] > 1 else 0
    cdef bint grad = dlogits_out is not None
    cdef real d1, d2, d3
    for b in prange(n_blocks, schedule="static", nogil=True,
                    num_threads=n_threads, use_threads_if=n_threads > 1):
        lo = b * BLOCK
        hi = min(lo + BLOCK, n)
        if grad:
            for k in range(lo, hi):
                loss_out[k] = pt_weighted_xent(labels[k], logits[k], pos_weight[k * pws],
                                               &dlogits_out[k], &dlabels_out[k],
                                               &dpw_out[k])
        else:
            for k in range(lo, hi):
                d1 = d2 = d3 = 0    # private to the thread, so the loop vectorizes
                loss_out[k] = pt_weighted_xent(labels[k], logits[k], pos_weight[k * pws],
                                               &d1, &d2, &d3)


def k_log_poisson(const real[::1] targets,     # IN
                  const real[::1] log_input,   # IN
                  bint full,
                  real[::1] loss_out,          # OUT
                  real[::1] dlog_input_out,    # OUT or None (then both None)
                  real[::1] dtargets_out,      # OUT or None
                  int n_threads):
    cdef Py_ssize_t n = log_input.shape[0], b, k, lo, hi
    cdef Py_ssize_t n_blocks = (n + BLOCK - 1) // BLOCK
    cdef bint grad = dlog_input_out is not None
    cdef real d1, d2
    for b in prange(n_blocks, schedule="static", nogil=True,
                    num_threads=n_threads, use_threads_if=n_threads > 1):
        lo = b * BLOCK
        hi = min(lo + BLOCK, n)
        if grad:
            for k in range(lo, hi):
                loss_out[k] = pt_log_poisson(targets[k], log_input[k], full,
                                             &dlog_input_out[k], &dtargets_out[k])
        else:
            for k in range(lo, hi):
                d1 = d2 = 0         # private to the thread, so the loop vectorizes
                loss_out[k] = pt_log_poisson(targets[k], log_input[k], full, &d1, &d2)
