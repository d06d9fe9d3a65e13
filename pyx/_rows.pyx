# cython: language_level=3
"""Row losses on probability vectors (Keras): categorical crossentropy on
probabilities and categorical focal crossentropy (on probabilities or on
softmax(logits)). Per row: p (softmax of the logits for the focal-logits kind),
S = sum(p), o = p / S, c = clip(o, eps, 1 - eps), the loss sum over the row and,
in the same pass, the gradients w.r.t. the labels and the predictions (zero
where the clip is active, as TF's clip_by_value). prange over rows; every row
sum has a fixed order (_vec.h lanes), so the bits do not depend on threads."""
from cython.parallel cimport prange, threadid
from _types cimport real, label_t
from _math cimport log_, rowmax, rowsum, tfsum, rowdot, expsum, rowdiv, pow_, clip_, daz_

cdef enum:
    R_CCE = 0               # -sum y log c
    R_FOCAL = 1             # sum alpha (1 - c)^gamma (-y log c)
    R_FOCAL_LOGITS = 2      # the same on p = softmax(x)

KINDS = {"cce": R_CCE, "focal": R_FOCAL, "focal_logits": R_FOCAL_LOGITS}


cdef inline real prob_row(int kind, const real *y, const real *x, Py_ssize_t n,
                          Py_ssize_t first, const real *alpha, bint per_class, real eps, real gamma, real g,
                          real *p, real *t, real *u, real *v, bint want_dx) noexcept nogil:
    # p, t, u, v: scratch rows of n. On return t = the loss terms, u = d/dx
    # (if want_dx), v = d/dy for the upstream g of the row, in the order TF's
    # autodiff builds them (g enters each term first, the clip selects, o = p / S
    # gives d/dp_k = go_k / S + sum_j go_j ((-p_j / S) / S)), so infinities and
    # NaNs land where TF's do; g = 1 gives the local derivatives. The row's
    # sums are added in TF's order (`first`: the row's offset in the tensor),
    # so that overflowing partial sums give TF's inf or NaN.
    cdef Py_ssize_t k
    cdef real one = 1, zero = 0
    cdef real m, s, o, c, lc, hi = one - eps, su, sg, a, mf, gn, cce, gwf, dc, yk
    if kind == R_FOCAL_LOGITS:
        m = rowmax(x, n)
        s = expsum(x, n, m, p)
        rowdiv(p, n, s, p)
        for k in range(n):
            p[k] = daz_(p[k])
    else:
        for k in range(n):
            p[k] = daz_(x[k])
    s = tfsum(p, n, first)
    if kind == R_CCE:                       # -sum(y log c)
        gn = -g
        for k in range(n):
            o = daz_(p[k] / s)
            c = clip_(o, eps, hi)
            lc = log_(c)
            yk = daz_(y[k])
            t[k] = -(yk * lc)
            dc = (gn * yk) * (one / c)
            u[k] = dc if (o >= eps) & (o <= hi) else zero
            v[k] = gn * lc
    else:                                   # sum (1 - c)^gamma a ((-y) log c)
        for k in range(n):
            o = daz_(p[k] / s)
            c = clip_(o, eps, hi)
            lc = log_(c)
            a = alpha[k] if per_class else alpha[0]
            mf = pow_(one - c, gamma)
            yk = daz_(y[k])
            cce = (-yk) * lc
            t[k] = (mf * a) * cce
            gwf = g * (mf * a)
            dc = -((((g * cce) * a) * gamma) * pow_(one - c, gamma - one)) \
                + (gwf * (-yk)) * (one / c)        # TF's pow gradient, then the log's
            u[k] = dc if (o >= eps) & (o <= hi) else zero
            v[k] = -(gwf * lc)
    m = tfsum(t, n, first)                  # the row's loss (t is scratch below)
    if want_dx:
        # o = p / S:  d/dp_k = u_k / S + sum_j u_j ((-p_j / S) / S), with 1/S
        # multiplied (the same infinities and NaNs as TF's divisions: S = 0
        # or inf, 0 / 0 and inf / inf alike; one division per row, not 3n)
        o = one / s
        for k in range(n):
            t[k] = (-p[k] * o) * o
        su = rowdot(u, t, n)
        for k in range(n):
            u[k] = u[k] * o + su
        if kind == R_FOCAL_LOGITS:          # softmax: d/dx_k = (g_k - sum_j g_j p_j) p_k
            sg = rowdot(u, p, n)
            for k in range(n):
                u[k] = (u[k] - sg) * p[k]
    return m


def k_prob_xent(int kind,
                const real[:, ::1] y,          # IN labels [n_rows, n]
                const real[:, ::1] x,          # IN probabilities (or logits) [n_rows, n]
                const real[:, ::1] alpha,      # IN focal alpha: [1, 1], [1, n] or [n_rows, n]
                double eps, double gamma,
                const real[::1] g,             # IN upstream gradient per row, or None (1)
                real[::1] loss_out,            # OUT [n_rows]
                real[:, ::1] dy_out,           # OUT d/dy or None
                real[:, ::1] dx_out,           # OUT d/dx or None
                real[:, ::1] scratch,          # [n_threads, 4 n]
                int n_threads):
    cdef Py_ssize_t n_rows = x.shape[0], n = x.shape[1], i
    cdef bint gy = dy_out is not None, gx = dx_out is not None
    cdef bint per_class = alpha.shape[1] > 1, gup = g is not None
    cdef Py_ssize_t arow = 1 if alpha.shape[0] > 1 else 0
    cdef real *sc
    if y.shape[0] != n_rows or y.shape[1] != n or loss_out.shape[0] != n_rows:
        raise ValueError("k_prob_xent: inconsistent shapes")
    if (gy and (dy_out.shape[0] != n_rows or dy_out.shape[1] != n)) or \
            (gx and (dx_out.shape[0] != n_rows or dx_out.shape[1] != n)):
        raise ValueError("k_prob_xent: gradient shapes differ from the input's")
    if alpha.shape[0] not in (1, n_rows) or alpha.shape[1] not in (1, n) or \
            scratch.shape[0] < n_threads or scratch.shape[1] < 4 * n:
        raise ValueError("k_prob_xent: alpha or scratch of the wrong size")
    if gup and g.shape[0] != n_rows:
        raise ValueError("k_prob_xent: g needs one value per row")
    if not 0 <= kind <= 2:
        raise ValueError("k_prob_xent: unknown kind")
    if n_rows == 0 or n == 0:
        for i in range(n_rows):
            loss_out[i] = 0
        return
    for i in prange(n_rows, schedule="static", nogil=True,
                    num_threads=n_threads, use_threads_if=n_threads > 1):
        sc = &scratch[threadid(), 0]
        loss_out[i] = prob_row(kind, &y[i, 0], &x[i, 0], n, i * n, &alpha[i * arow, 0], per_class,
                               <real>eps, <real>gamma, g[i] if gup else <real>1, sc, sc + n,
                               &dx_out[i, 0] if gx else sc + 2 * n,
                               &dy_out[i, 0] if gy else sc + 3 * n, gx)


def k_sparse_prob_xent(const real[:, ::1] x,          # IN probabilities [n_rows, n]
                       const label_t[::1] labels,     # IN, checked in [0, n)
                       double eps,
                       real[::1] loss_out,            # OUT [n_rows]
                       real[:, ::1] dx_out,           # OUT d/dx or None
                       real[:, ::1] scratch,          # [n_threads, n]
                       int n_threads):
    """Keras' sparse crossentropy on probabilities: the sparse softmax xent of
    z = log(clip(x, eps, 1 - eps)), i.e. log(sum c) - log(c_y), and its
    gradient w.r.t. x: (c / sum c - onehot) / c inside the clip, 0 outside."""
    cdef Py_ssize_t n_rows = x.shape[0], n = x.shape[1], i, k, y
    cdef bint gx = dx_out is not None
    cdef real lo = <real>eps, hi = 1 - <real>eps, s, cy
    cdef real *sc
    if labels.shape[0] != n_rows or loss_out.shape[0] != n_rows or \
            (gx and (dx_out.shape[0] != n_rows or dx_out.shape[1] != n)) or \
            scratch.shape[0] < n_threads or scratch.shape[1] < n:
        raise ValueError("k_sparse_prob_xent: inconsistent shapes")
    for i in range(n_rows):
        if not 0 <= labels[i] < n:
            raise ValueError("k_sparse_prob_xent: label out of range")
    for i in prange(n_rows, schedule="static", nogil=True,
                    num_threads=n_threads, use_threads_if=n_threads > 1):
        sc = &scratch[threadid(), 0]
        for k in range(n):
            sc[k] = clip_(x[i, k], lo, hi)
        s = rowsum(sc, n)                   # the shared fixed-order (chunked) row sum
        y = labels[i]
        cy = clip_(x[i, y], lo, hi)
        loss_out[i] = log_(s) - log_(cy)
        if gx:
            for k in range(n):
                dx_out[i, k] = (1 / s) if (x[i, k] >= lo) & (x[i, k] <= hi) else <real>0
            if (x[i, y] >= lo) & (x[i, y] <= hi):
                dx_out[i, y] = dx_out[i, y] - 1 / cy

