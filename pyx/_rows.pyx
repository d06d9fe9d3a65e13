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
from _math cimport log_, rowmax, rowsum, rowdot, expsum, rowdiv, pow_, clip_

cdef enum:
    R_CCE = 0               # -sum y log c
    R_FOCAL = 1             # sum alpha (1 - c)^gamma (-y log c)
    R_FOCAL_LOGITS = 2      # the same on p = softmax(x)

KINDS = {"cce": R_CCE, "focal": R_FOCAL, "focal_logits": R_FOCAL_LOGITS}


cdef inline real prob_row(int kind, const real *y, const real *x, Py_ssize_t n,
                          const real *alpha, bint per_class, real eps, real gamma,
                          real *p, real *t, real *u, real *v, bint want_dx) noexcept nogil:
    # p, t, u, v: scratch rows of n. On return t = the loss terms, u = d/dx
    # (if want_dx), v = d/dy; the row's loss is returned.
    cdef Py_ssize_t k
    cdef real m, s, o, c, lc, hi = 1 - eps, su, sg, a, mf, dmf, inside
    if kind == R_FOCAL_LOGITS:
        m = rowmax(x, n)
        s = expsum(x, n, m, p)
        rowdiv(p, n, s, p)
    else:
        for k in range(n):
            p[k] = x[k]
    s = rowsum(p, n)
    if kind == R_CCE:                       # -y log c;  d/do = -y/c inside the clip
        for k in range(n):
            o = p[k] / s
            c = clip_(o, eps, hi)
            lc = log_(c)
            inside = (o >= eps) & (o <= hi)
            t[k] = -(y[k] * lc)
            u[k] = inside * (-y[k] / c)
            v[k] = -lc
    else:                                   # a (1 - c)^gamma (-y log c)
        for k in range(n):
            o = p[k] / s
            c = clip_(o, eps, hi)
            lc = log_(c)
            inside = (o >= eps) & (o <= hi)
            a = alpha[k] if per_class else alpha[0]
            mf = pow_(1 - c, gamma)
            dmf = gamma * pow_(1 - c, gamma - 1)      # TF's pow gradient
            t[k] = a * mf * -(y[k] * lc)
            u[k] = inside * (a * (dmf * -1 * -(y[k] * lc) + mf * (-y[k] / c)))
            v[k] = a * mf * -lc
    if want_dx:
        # o = p / S:  d/dp_k = u_k / S - sum_j u_j p_j / S^2
        su = rowdot(u, p, n)
        for k in range(n):
            u[k] = u[k] / s - su / (s * s)
        if kind == R_FOCAL_LOGITS:          # softmax: d/dx_k = p_k (g_k - sum_j g_j p_j)
            sg = rowdot(u, p, n)
            for k in range(n):
                u[k] = p[k] * (u[k] - sg)
    return rowsum(t, n)


def k_prob_xent(int kind,
                const real[:, ::1] y,          # IN labels [n_rows, n]
                const real[:, ::1] x,          # IN probabilities (or logits) [n_rows, n]
                const real[:, ::1] alpha,      # IN focal alpha: [1, 1], [1, n] or [n_rows, n]
                double eps, double gamma,
                real[::1] loss_out,            # OUT [n_rows]
                real[:, ::1] dy_out,           # OUT d/dy or None
                real[:, ::1] dx_out,           # OUT d/dx or None
                real[:, ::1] scratch,          # [n_threads, 4 n]
                int n_threads):
    cdef Py_ssize_t n_rows = x.shape[0], n = x.shape[1], i
    cdef bint gy = dy_out is not None, gx = dx_out is not None
    cdef bint per_class = alpha.shape[1] > 1
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
    if not 0 <= kind <= 2:
        raise ValueError("k_prob_xent: unknown kind")
    if n_rows == 0 or n == 0:
        for i in range(n_rows):
            loss_out[i] = 0
        return
    for i in prange(n_rows, schedule="static", nogil=True,
                    num_threads=n_threads, use_threads_if=n_threads > 1):
        sc = &scratch[threadid(), 0]
        loss_out[i] = prob_row(kind, &y[i, 0], &x[i, 0], n, &alpha[i * arow, 0], per_class,
                               <real>eps, <real>gamma, sc, sc + n,
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

