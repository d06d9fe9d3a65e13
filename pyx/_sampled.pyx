# cython: language_level=3
"""Sampled losses (nce_loss, sampled_softmax_loss): the parts that are not
plain matrix products. The products inputs @ W_sampled^T, G_sampled @ W_sampled
and G_sampled^T @ inputs are formed by the caller (_matmul: BLAS, or TF's
order of additions where terms near +-max may meet).

Layout: B rows (examples), nt true columns, S sampled columns, n = nt + S
logits per row, D the embedding width. `table` is the weights matrix (or the
gathered rows of a partitioned one) and `rows_true[i * nt + t]` the table
row of true class (i, t).

Determinism: every prange iteration owns one example row (forward, dx) or one
distinct class id (the weight / bias scatter), and adds its terms in a fixed
order (ids grouped by a stable sort, so in index order): no float `+=` is
shared between iterations, the bits do not depend on the thread count.
"""
from cython.parallel cimport prange, threadid
from libc.stdint cimport int64_t
from _types cimport real
from libc.math cimport INFINITY, NAN
from _math cimport (log_, daz_, rowdot, rowsum, absmax, xent_row, pt_sigmoid_xent,
                    tfsum_cols)

# TF adds cast(-FLT_MAX, logits dtype) to the logit of an accidental hit.
cdef double NEG_FLT_MAX = -3.4028234663852886e38
# TF's CPU Log evaluates a float32 tensor in packets of 8 (AVX) and its last
# n % 8 elements one by one with glibc's logf; there, with TF's threads
# treating denormals as zero, a positive denormal normalizes to the bits of
# 2^-150 and its log is this float32 (measured on TF 2.21: -103.97208).
cdef float DAZ_LOGF = -103.97208
cdef Py_ssize_t LOG_PACKET_F = 8


def k_hits(const int64_t[::1] labels,        # IN [B * nt] true ids, row-major
           const int64_t[::1] uniq,          # IN sorted distinct sampled ids
           const int64_t[::1] last_pos,      # IN last position of uniq[j] in sampled
           int64_t[::1] hitpos_out,          # OUT [B * nt]: position masked by (i, t), or -1
           int n_threads):
    """TF_SEMANTICS 1.8: true id v of (i, t) hits the LAST sampled position
    holding v (binary search in the sorted distinct sampled ids)."""
    cdef Py_ssize_t n = labels.shape[0], m = uniq.shape[0], j, lo, hi, mid
    cdef int64_t v
    for j in prange(n, schedule="static", nogil=True, num_threads=n_threads,
                    use_threads_if=n_threads > 1):
        v = labels[j]
        lo = 0
        hi = m
        while lo < hi:
            mid = (lo + hi) // 2
            if uniq[mid] < v:
                lo = mid + 1
            else:
                hi = mid
        if lo < m and uniq[lo] == v:
            hitpos_out[j] = last_pos[lo]
        else:
            hitpos_out[j] = -1


cdef inline real count_log(real c, bint scalar_tail) noexcept nogil:
    """TF's log of an expected count on CPU (TF_SEMANTICS 1.9: subtract_log_q).
    A denormal count is zero to the vectorized log: -inf whatever its sign
    (float64 everywhere: TF's log of a float64 denormal is always -inf). In a
    float32 tensor's scalar tail glibc's logf sees it: DAZ_LOGF if positive,
    NaN if negative. NaN and +-inf go through log_ (NaN, inf, NaN)."""
    if daz_(c) != 0:            # a normal number, +-inf or NaN
        return log_(c)
    if real is float:
        if scalar_tail and c != 0:
            return <real>DAZ_LOGF if c > 0 else <real>NAN
    return -INFINITY


def k_log_counts(const real[::1] counts,     # IN an expected-count tensor, flat (C order)
                 real[::1] log_out):         # OUT TF's log of each count (count_log)
    """TF's Log over a whole count tensor: its float32 scalar tail is the last
    n % 8 elements. Tiny (S or B * nt elements): one thread."""
    cdef Py_ssize_t n = counts.shape[0], k
    cdef Py_ssize_t packed = (n // LOG_PACKET_F) * LOG_PACKET_F
    for k in range(n):
        log_out[k] = count_log(counts[k], real is float and k >= packed)


cdef inline real sampled_row(const real *x, const real *table, Py_ssize_t d,
                             const int64_t *rows_true, const real *b_true,
                             const real *log_tec, const real *samp, const real *b_samp,
                             const real *log_sec, const int64_t *hitpos,
                             const real *lab, const real *tdot, Py_ssize_t nt, Py_ssize_t s,
                             bint nce, real *logit, real *g, real *tmp,
                             Py_ssize_t first) noexcept nogil:
    """One example: its logits row (TF_SEMANTICS 1.9, in TF's order of
    operations; log_tec and log_sec come from k_log_counts; the true dot
    products from tdot when it is not NULL), then the loss and G =
    dloss/dlogits (g may be NULL for softmax; NCE needs g and tmp, both of
    length nt + s). first: the row's offset in TF's [rows, nt + s] logits."""
    cdef Py_ssize_t t, k, hp, n = nt + s
    cdef real dot
    for t in range(nt):
        dot = tdot[t] if tdot != NULL else rowdot(x, table + rows_true[t] * d, d)
        logit[t] = (dot + b_true[t]) - log_tec[t]
    for k in range(s):
        logit[nt + k] = samp[k] + b_samp[k]
    if hitpos != NULL:
        for t in range(nt):
            hp = hitpos[t]
            if hp >= 0:     # written, not summed: a repeated label masks once
                logit[nt + hp] = (samp[hp] + b_samp[hp]) + <real>NEG_FLT_MAX
    for k in range(s):
        logit[nt + k] = logit[nt + k] - log_sec[k]
    if nce:
        # sum_k sigmoid_xent(lab_k, logit_k); G = sigmoid - lab
        for k in range(n):
            tmp[k] = pt_sigmoid_xent(lab[k], logit[k], &g[k])
        return rowsum(tmp, n)
    return xent_row(logit, lab, n, g, NULL, NULL, first)    # G = softmax - lab


def k_sampled_forward(const real[:, ::1] x,          # IN [B, D] inputs
                      const real[:, ::1] table,      # IN [*, D] weight rows
                      const int64_t[::1] rows_true,  # IN [B * nt] table rows of the true ids
                      const real[::1] b_true,        # IN [B * nt] their biases
                      const real[:, ::1] log_tec,    # IN [B, nt] log of the true expected counts
                      const real[:, ::1] samp,       # IN [B, S] x @ W_sampled^T
                      const real[::1] b_samp,        # IN [S] sampled biases
                      const real[::1] log_sec,       # IN [S] log of the sampled expected counts
                      const int64_t[::1] hitpos,     # IN [B * nt] from k_hits, or None
                      const real[::1] lab,           # IN [nt + S] 1/nt then zeros
                      const real[::1] true_dot,      # IN [B * nt] x . w_true, or None (rowdot)
                      bint nce,                      # sigmoid xent (NCE) or softmax xent
                      real[:, ::1] logits_out,       # OUT [B, nt + S]
                      real[::1] loss_out,            # OUT [B]
                      real[:, ::1] g_out,            # OUT [B, nt + S] dloss/dlogits, or None
                      real[:, ::1] bounds_out,       # OUT [B, 2] max |x_i|, max |w_true_i|, or None
                      real[:, ::1] scratch,          # [n_threads, 2 * (nt + S) + 2]
                      int n_threads):
    """The logits, losses and G of every example; with bounds_out, also each
    row's max |x| and max |w| over its true weight rows (NaN where one is not
    finite), from which the caller decides whether the products need TF's
    order of additions (and then runs this again with true_dot)."""
    cdef Py_ssize_t n_rows = x.shape[0], d = x.shape[1], nt = log_tec.shape[1]
    cdef Py_ssize_t s = samp.shape[1], n = nt + s, i, t
    cdef bint grad = g_out is not None, hits = hitpos is not None
    cdef bint given = true_dot is not None, bounded = bounds_out is not None
    cdef real *tmp
    cdef real wm, v
    cdef const real *tab
    cdef const real *samp0
    if n_rows == 0:
        return
    if scratch.shape[0] < n_threads or scratch.shape[1] < 2 * n + 2:
        raise ValueError("scratch too small for k_sampled_forward")
    tab = &table[0, 0] if table.shape[0] > 0 else NULL
    samp0 = &samp[0, 0] if s > 0 else NULL
    for i in prange(n_rows, schedule="static", nogil=True, num_threads=n_threads,
                    use_threads_if=n_threads > 1):
        # thread scratch: NCE's per-column losses, then G when it is not wanted
        tmp = &scratch[threadid(), 0]
        loss_out[i] = sampled_row(
            &x[i, 0], tab, d, &rows_true[i * nt], &b_true[i * nt], &log_tec[i, 0],
            samp0 + i * s, &b_samp[0] if s > 0 else NULL,
            &log_sec[0] if s > 0 else NULL,
            &hitpos[i * nt] if hits else NULL, &lab[0],
            &true_dot[i * nt] if given else NULL, nt, s, nce,
            &logits_out[i, 0], &g_out[i, 0] if grad else (tmp + n + 1 if nce else NULL),
            tmp, i * n)
        if bounded:
            wm = 0
            for t in range(nt):
                v = absmax(tab + rows_true[i * nt + t] * d, d)
                if v > wm or v != v:
                    wm = v
            bounds_out[i, 0] = absmax(&x[i, 0], d)
            bounds_out[i, 1] = wm


def k_sampled_dx(const real[:, ::1] g,            # IN [B, nt + S] dloss/dlogits (scaled by dy)
                 const real[:, ::1] table,        # IN [*, D]
                 const int64_t[::1] rows_true,    # IN [B * nt]
                 real[:, ::1] dx_inout,           # IN G_s @ W_s (BLAS), OUT + true part
                 real[:, ::1] scratch,            # [n_threads, (nt + 1) * D] when nt > 1
                 int n_threads):
    """dx_i = G_s[i] @ W_s + sum_t G[i, t] * W[label_it], TF's order: its
    true part is the gradient of x_i * W[label_it] (a [B, nt, D] product)
    summed over t by a Sum over the middle axis (tfsum_cols), then added to
    the matmul's part (where terms near +-max overflow, the order decides)."""
    cdef Py_ssize_t n_rows = dx_inout.shape[0], d = dx_inout.shape[1]
    cdef Py_ssize_t nt = rows_true.shape[0] // n_rows if n_rows else 0
    cdef Py_ssize_t i, t, k
    cdef real c
    cdef const real *w
    cdef real *prod
    cdef real *tsum
    if n_rows == 0 or d == 0:
        return
    if nt > 1 and (scratch.shape[0] < n_threads or scratch.shape[1] < (nt + 1) * d):
        raise ValueError("scratch too small for k_sampled_dx")
    for i in prange(n_rows, schedule="static", nogil=True, num_threads=n_threads,
                    use_threads_if=n_threads > 1):
        if nt == 1:             # nothing summed over t
            c = g[i, 0]
            w = &table[rows_true[i], 0]
            for k in range(d):
                dx_inout[i, k] = dx_inout[i, k] + c * w[k]
            continue
        prod = &scratch[threadid(), 0]
        tsum = prod + nt * d
        for t in range(nt):
            c = g[i, t]
            w = &table[rows_true[i * nt + t], 0]
            for k in range(d):
                prod[t * d + k] = c * w[k]
        tfsum_cols(prod, nt, d, 0, d, i * d, n_rows * d, True, tsum)
        for k in range(d):
            dx_inout[i, k] = dx_inout[i, k] + tsum[k]


def k_scatter_rows(const int64_t[::1] order,     # IN ids' indices sorted (stably) by dest
                   const int64_t[::1] starts,    # IN [n_groups + 1] group bounds in order
                   const int64_t[::1] dest,      # IN [B * nt + S] output row of each id
                   const real[:, ::1] g,         # IN [B, nt + S] dloss/dlogits (scaled by dy)
                   const real[:, ::1] x,         # IN [B, D]
                   const real[:, ::1] dws,       # IN [S, D] G_s^T @ x (BLAS)
                   real[:, ::1] dw_out,          # OUT [rows, D], zero on entry
                   real[::1] db_out,             # OUT [rows], zero on entry
                   int n_threads):
    """Dense equivalent of TF's IndexedSlices: every id adds its row of
    gradient to its class (duplicates accumulate). One iteration per distinct
    id, its terms in index order: true ids (i, t) add G[i, t] * x_i and
    G[i, t]; sampled position s adds dws[s] and sum_i G[i, nt + s]."""
    cdef Py_ssize_t n_groups = starts.shape[0] - 1, n_rows = g.shape[0]
    cdef Py_ssize_t d = dw_out.shape[1], n_cols = g.shape[1]
    cdef Py_ssize_t n_true = dest.shape[0] - dws.shape[0]
    cdef Py_ssize_t nt = n_cols - dws.shape[0]
    cdef Py_ssize_t q, j, idx, r, i, k, col
    cdef real c, bsum
    for q in prange(n_groups, schedule="static", nogil=True, num_threads=n_threads,
                    use_threads_if=n_threads > 1):
        r = dest[order[starts[q]]]
        for j in range(starts[q], starts[q + 1]):
            idx = order[j]
            if idx < n_true:
                i = idx // nt
                c = g[i, idx - i * nt]
                for k in range(d):
                    dw_out[r, k] = dw_out[r, k] + c * x[i, k]
                db_out[r] = db_out[r] + c
            else:
                col = nt + (idx - n_true)
                for k in range(d):
                    dw_out[r, k] = dw_out[r, k] + dws[idx - n_true, k]
                bsum = 0
                for i in range(n_rows):
                    bsum = bsum + g[i, col]
                db_out[r] = db_out[r] + bsum
