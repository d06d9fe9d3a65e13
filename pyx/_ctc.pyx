# cython: language_level=3
"""CTC loss kernel: the forward-backward recursion of tf.nn.ctc_loss in log
space, per example, with the gradient with respect to the logits.

The state model is TF 2.21's dense one (ctc_ops.ctc_loss_and_grad), for a
padded label row of Lmax entries, S = 2 * Lmax + 2 states:
  label states 0..Lmax   (state 0 is the start; state s > 0 emits label s-1)
  blank states Lmax+1+s  (s = 0..Lmax; "blank after s labels")
  moves: self loops; start -> label 1; label s -> blank s; blank s -> label
  s+1; label s -> label s+1 unless labels s-1 and s (0-based) are equal
  (all of log-weight 0, except start -> blank 0 when Lmax = 0: log 2, as in
  TF, whose two scattered entries then coincide).
Labels arrive "rotated" as in TF's dense path (blank is class 0, class k of
the caller's logits is k + 1 below the blank, k above it); a label outside
[0, n_classes) observes log-probability 0 and a label equal to 0 observes
the blank, and neither takes a share of the gradient (TF's one-hot rules).
The start distribution is 0 at the start state and `floor` elsewhere, the
final one 0 at label/blank state `label_length` and `floor` elsewhere: TF's
dense path uses floor = float32(log(1e-307)) (so an impossible alignment
gives a loss near 707, not inf); the sparse path (TF's C++ kernel) is the
exact model, floor = -inf, which also observes log(y) of the probability
y = exp(x - m) / sum (-inf where y underflows) instead of the log-softmax.

Per example b (one prange iteration, scratch row of its thread):
  1. per frame t < logit_length: m_t = max_k x, L_t = log sum_k exp(x - m_t);
     log p_t(k) = (x_k - m_t) - L_t  (TF's log_softmax; exact: see log_prob).
  2. backward: beta_tl = final; beta_t(i) = lse_{i -> j} (beta_{t+1}(j) +
     log p_t(class j)), normalised by its log-sum n_t; loss = -(beta_0(start)
     + sum_t n_t), the sum taken from t = tl-1 down to 0 as TF does. When
     no alignment exists (exact model only) the loss is +inf and the
     gradient the softmax, as in TF's C++ kernel.
  3. forward (gradient only): alpha_0 = start distribution; alpha_{t+1}(j) =
     lse_{i -> j} alpha_t(i) + log p_t(class j), normalised; occupancy
     gamma_t = alpha_{t+1} + beta_{t+1}, normalised over the states;
     grad_t(k) = exp(log p_t(k)) - sum_{states of class k} exp(gamma_t);
     frames t >= logit_length get 0.
Non-finite log-probabilities (NaN / +-inf logits, or -inf from x - m
overflowing at huge logits) follow TF's own operations, in a per-example
slow path taken only then (step 1 detects them; ordinary examples never
reach it and keep their bits):
  * dense (dense_special): TF observes a label state as sum_k log p(k) *
    one_hot(label)(k), so a non-finite log p of any other class makes it NaN
    (-inf * 0); a NaN or +inf logit makes the whole log-softmax row NaN; the
    log-sum-exps run over all states (one NaN state makes all NaN); a frame
    without a finite state normalises to -inf - -inf = NaN; TF also computes
    the frames t >= logit_length and masks them by multiplying by 0 (NaN for
    a NaN or -inf there). In practice one such logit anywhere in the example
    (padding frames included) makes its loss and every gradient entry NaN;
    the exceptions (Lmax = 0, labels all of the -inf class) come out of the
    same steps. With `unique` TF scatters the occupancy by label class, so a
    NaN occupancy reaches only the classes of the example's labels.
  * exact (TF's C++ kernel): y = softmax of a NaN / +inf / all -inf frame is
    NaN; its unnormalised recursion then gives log p(labels) NaN (every
    alignment meets the frame: loss and all gradients at t < tl NaN) or -inf
    (no alignment: loss +inf, gradient y), decided by cpp_log_likelihood,
    which runs the kernel's own beta recursion. Frames t >= tl are not read.
  * kernel64 (float64 logits, dense labels; TF's dense path has no float64,
    its float64 CTC is the C++ kernel, the conformance oracle there): an
    example with a log-probability below the dense floor (-707: underflowing
    probabilities, -inf, NaN) is computed with the exact model when the C++
    kernel accepts its labels, since the two models part there.
Every example is computed by one thread in a fixed order, so the bits do not
depend on the thread count; the row helpers of _vec.h are lane-deterministic,
so they do not depend on the SIMD level either.
"""
from cython.parallel cimport prange, threadid
from libc.stdint cimport int64_t
from libc.math cimport INFINITY, NAN
from libc.float cimport FLT_MIN, DBL_MIN
from _types cimport real
from _math cimport exp_, log_, log1p_, rowmax, expsum


def scratch_sizes(Py_ssize_t n_time, Py_ssize_t max_label, Py_ssize_t n_classes):
    """(reals, ints) of scratch each thread needs for k_ctc."""
    cdef Py_ssize_t S = 2 * max_label + 2
    return 3 * n_time + (2 * n_time + 1) * S + 5 * S + n_classes, 2 * S


cdef inline Py_ssize_t obs_class(int64_t r, Py_ssize_t blank,
                                 Py_ssize_t n_classes) noexcept nogil:
    # rotated class r (blank = 0) -> column of the caller's logits, -1 if none
    if r < 0 or r >= n_classes:
        return -1
    if r == 0:
        return blank
    if r <= blank:
        return <Py_ssize_t>r - 1
    return <Py_ssize_t>r


cdef inline real lse3(real a, real b, real c) noexcept nogil:
    # log(e^a + e^b + e^c) around the largest term; all -inf gives -inf
    # (shift 0: exp(-inf) = 0, log(0) = -inf). Branch-free: the state loops
    # that call it vectorize.
    cdef real m = a if a > b else b
    m = m if m > c else c
    m = 0 if m == -INFINITY else m
    return m + log_(exp_(a - m) + exp_(b - m) + exp_(c - m))


cdef inline real lse2(real a, real b) noexcept nogil:
    cdef real m = a if a > b else b
    m = 0 if m == -INFINITY else m
    return m + log_(exp_(a - m) + exp_(b - m))


cdef inline real row_lse(const real *x, Py_ssize_t n) noexcept nogil:
    # log sum_k exp(x_k), fixed summation order (16 lanes + tree)
    cdef real m = rowmax(x, n)
    if m == -INFINITY:
        return m
    return m + log_(expsum(x, n, m, <real*>NULL))


cdef inline real rowmin(const real *x, Py_ssize_t n) noexcept nogil:
    # smallest element (NaN entries skipped; the frame's log-sum is NaN then)
    cdef real m = INFINITY
    cdef Py_ssize_t k
    for k in range(n):
        m = x[k] if x[k] < m else m
    return m


cdef inline bint any_nan(const real *v, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef bint r = False
    for i in range(n):
        r = r | (v[i] != v[i])
    return r


cdef inline real tf_lse(const real *v, Py_ssize_t n) noexcept nogil:
    # TF's reduce_logsumexp of a state vector (no +inf can occur there): NaN
    # if any entry is NaN, -inf if all are -inf
    if any_nan(v, n):
        return NAN
    return row_lse(v, n)


cdef inline real cpp_lse(real a, real b) noexcept nogil:
    # TF's C++ kernel's LogSumExp of two log-probabilities: an operand equal
    # to -inf returns the other one, otherwise NaN propagates (only which of
    # NaN / -inf / finite comes out matters where this is used)
    if a == -INFINITY:
        return b
    if b == -INFINITY:
        return a
    return a + log1p_(exp_(b - a)) if a > b else b + log1p_(exp_(a - b))


cdef inline real log_prob(real x, const real *f, bint exact) noexcept nogil:
    # log p(k) for logit x of a frame with f = (max m, L = log sum, sum).
    # Dense: TF's log_softmax (x - m) - L. Exact: TF's C++ kernel takes the
    # log of the probability y = exp(x - m) / sum, which is 0 (so -inf) when
    # it falls below the smallest normal number (TF's threads flush
    # denormals); (x - m) - L is that log up to rounding, and y itself is
    # only formed near the threshold to decide.
    cdef real d = (x - f[0]) - f[1], y
    if not exact:
        return d
    if real is float:
        if d > -86.0:               # log(FLT_MIN) = -87.34
            return d
        y = exp_(x - f[0]) / f[2]
        return -INFINITY if y < FLT_MIN else log_(y)     # (NaN stays NaN)
    else:
        if d > -707.0:              # log(DBL_MIN) = -708.40
            return d
        y = exp_(x - f[0]) / f[2]
        return -INFINITY if y < DBL_MIN else log_(y)


cdef inline real prob(real x, const real *f, bint exact) noexcept nogil:
    # p(k) as the gradient uses it: exp(log_softmax) (dense), y (exact)
    return exp_(x - f[0]) / f[2] if exact else exp_((x - f[0]) - f[1])


cdef inline void fill_obs(const real *x, const real *f, bint exact, Py_ssize_t Lmax,
                          const int64_t *ocls, Py_ssize_t blank, real *obs) noexcept nogil:
    # log-probability each state observes in the frame with logits x
    cdef Py_ssize_t s
    cdef real vb = log_prob(x[blank], f, exact)
    obs[0] = -INFINITY
    for s in range(1, Lmax + 1):
        obs[s] = log_prob(x[ocls[s]], f, exact) if ocls[s] >= 0 else 0
    for s in range(Lmax + 1, 2 * Lmax + 2):
        obs[s] = vb


cdef inline void normalise(real *v, Py_ssize_t n, real *norm) noexcept nogil:
    cdef Py_ssize_t i
    cdef real z = row_lse(v, n)
    for i in range(n):
        v[i] = v[i] - z
    norm[0] = z


cdef inline void final_weights(real *bt, Py_ssize_t S, real floor, Py_ssize_t lab_len,
                               Py_ssize_t nb) noexcept nogil:
    # the final distribution: 0 at the two end states (label state lab_len and
    # its blank), floor elsewhere
    cdef Py_ssize_t s
    for s in range(S):
        bt[s] = floor
    bt[lab_len] = 0
    bt[nb + lab_len] = 0


cdef inline void start_weights(real *fw, Py_ssize_t S, real floor, real *acc,
                               Py_ssize_t n_classes) noexcept nogil:
    # the start distribution (0 at the start state, floor elsewhere) and the
    # gradient accumulators cleared
    cdef Py_ssize_t s, k
    for s in range(S):
        fw[s] = floor
    fw[0] = 0
    for k in range(n_classes):
        acc[k] = 0


cdef inline void beta_step(const real *a, real *bt, Py_ssize_t Lmax, const real *step,
                           real w01) noexcept nogil:
    # one frame of the backward recursion: bt from a = beta(t + 1) + obs(t).
    # The move to state s + 1 reads a[s + 1] for every s (a[nb] at s = Lmax)
    # and adds step[] (-inf where the move does not exist): no branches.
    cdef Py_ssize_t s, nb = Lmax + 1
    for s in range(nb):
        bt[s] = lse3(a[s], a[nb + s], a[s + 1] + step[s])
    for s in range(nb):
        bt[nb + s] = lse2(a[nb + s], a[s + 1] + step[nb + s])
    if Lmax == 0:
        bt[0] = lse3(a[0], a[1] + w01, -INFINITY)


cdef inline void alpha_step(const real *fw, const real *ob, real *nw, Py_ssize_t Lmax,
                            const real *step, real w01) noexcept nogil:
    # one frame of the forward recursion: nw from fw (alpha(t - 1)) and obs(t)
    cdef Py_ssize_t s, nb = Lmax + 1
    nw[0] = fw[0] + ob[0]
    for s in range(1, nb):
        nw[s] = lse3(fw[s], fw[nb + s - 1], fw[s - 1] + step[s - 1]) + ob[s]
    for s in range(nb):
        nw[nb + s] = lse2(fw[nb + s], fw[s]) + ob[nb + s]
    if Lmax == 0:
        nw[nb] = lse2(fw[nb], fw[0] + w01) + ob[nb]


cdef inline void frame_grad(const real *x, const real *f, bint exact, const real *a,
                            Py_ssize_t Lmax, const int64_t *gcls, Py_ssize_t blank,
                            Py_ssize_t n_classes, real *acc, real *g) noexcept nogil:
    # one frame's logits gradient: softmax minus the occupancy exp(a) of the
    # states of each class (a: normalised log-occupancy; acc: zeroed scratch
    # per class, left zeroed)
    cdef Py_ssize_t k, s, c, nb = Lmax + 1
    for k in range(n_classes):
        g[k] = prob(x[k], f, exact)
    g[blank] = g[blank] - expsum(a + nb, nb, 0, <real*>NULL)
    for s in range(1, nb):
        c = gcls[s]
        if c >= 0:
            acc[c] = acc[c] + exp_(a[s])
    for s in range(1, nb):
        c = gcls[s]
        if c >= 0:
            g[c] = g[c] - acc[c]
            acc[c] = 0


cdef void no_path(const real *x0, real *g0, Py_ssize_t tstep, Py_ssize_t n_classes,
                  Py_ssize_t tl, Py_ssize_t n_time, const real *ms, bint exact,
                  real value, bint nan_grad, real *loss) noexcept nogil:
    # An example whose loss TF's C++ kernel does not compute through its
    # recursion: no alignment (value +inf, gradient the softmax, NaN in its
    # NaN frames) or a NaN probability on every alignment (value NaN, NaN
    # gradient). Frames t >= logit_length get 0.
    cdef Py_ssize_t t, k
    cdef const real *x
    cdef real *g
    loss[0] = value
    if g0 == NULL:
        return
    for t in range(n_time):
        g = g0 + t * tstep
        if t < tl:
            x = x0 + t * tstep
            for k in range(n_classes):
                g[k] = NAN if nan_grad else prob(x[k], ms + 3 * t, exact)
        else:
            for k in range(n_classes):
                g[k] = 0


cdef inline Py_ssize_t lcls(Py_ssize_t u, const int64_t *ocls, Py_ssize_t blank) noexcept nogil:
    # column of state u of the C++ kernel's l' (even: blank, odd: label (u+1)/2)
    return blank if u % 2 == 0 else <Py_ssize_t>ocls[(u + 1) // 2]


cdef real cpp_log_likelihood(const real *x0, Py_ssize_t tstep, Py_ssize_t n_classes,
                             const int64_t *ocls, Py_ssize_t lab_len, Py_ssize_t tl,
                             Py_ssize_t blank, const real *ms, real *cur,
                             real *nxt) noexcept nogil:
    """log p(labels) as TF's C++ CTCLoss kernel computes it (unnormalised
    beta over the band of states that can still finish, l' = blank, label,
    blank, ..., blank), for an example with a NaN frame: it tells whether
    the NaN reaches the result (NaN) or no alignment exists (-inf)."""
    cdef Py_ssize_t U = 2 * lab_len + 1, u, t, lo, hi
    cdef real r
    cdef const real *x
    for u in range(U):
        nxt[u] = 0 if u >= U - 2 else -INFINITY
    t = tl - 2
    while t >= 0:
        x = x0 + (t + 1) * tstep
        for u in range(U):
            cur[u] = -INFINITY
        lo = U - 2 * (tl - t)
        lo = lo if lo > 0 else 0
        hi = 2 * (t + 1)
        hi = hi if hi < U else U
        for u in range(lo, hi):
            r = cpp_lse(-INFINITY, nxt[u] + log_prob(x[lcls(u, ocls, blank)], ms + 3 * (t + 1),
                                                     True))
            if u + 1 < U:
                r = cpp_lse(r, nxt[u + 1] + log_prob(x[lcls(u + 1, ocls, blank)],
                                                     ms + 3 * (t + 1), True))
            if (u + 2 < U and u % 2 == 1
                    and lcls(u, ocls, blank) != lcls(u + 2, ocls, blank)):
                r = cpp_lse(r, nxt[u + 2] + log_prob(x[lcls(u + 2, ocls, blank)],
                                                     ms + 3 * (t + 1), True))
            cur[u] = r
        for u in range(U):
            nxt[u] = cur[u]
        t = t - 1
    # alpha at frame 0: the blank (u = 0) and the first label (u = 1)
    r = cpp_lse(-INFINITY, log_prob(x0[blank], ms, True) + nxt[0])
    r = cpp_lse(r, log_prob(x0[lcls(1, ocls, blank)], ms, True) + nxt[1])
    for u in range(2, U):
        r = cpp_lse(r, -INFINITY + nxt[u])
    return r


cdef void dense_special(const real *x0, real *g0, Py_ssize_t tstep, Py_ssize_t n_classes,
                        Py_ssize_t Lmax, Py_ssize_t lab_len, Py_ssize_t tl,
                        Py_ssize_t n_time, Py_ssize_t blank, real floor, real w01,
                        const real *step, const int64_t *ocls, const int64_t *gcls,
                        const real *ms, real *beta, real *obs, real *a, real *fw,
                        real *nw, real *acc, bint unique, real *loss) noexcept nogil:
    """TF's dense path, step by step, for an example with a non-finite
    log-probability in some frame t < T (padding frames included: TF computes
    them and masks them by multiplying by 0). TF's observation of a label
    state is sum_k log p(k) * one_hot(label)(k): NaN as soon as a class other
    than the label's has a non-finite log-probability (-inf * 0); the
    recursions take log-sum-exps over all states (NaN anywhere makes every
    state NaN), normalise (a frame without any finite state gives -inf -
    -inf = NaN), and the padding frames are masked as state * 0 + final (NaN
    for a -inf state) and log-normaliser * 0 in the sum."""
    cdef Py_ssize_t S = 2 * Lmax + 2, nb = Lmax + 1
    cdef Py_ssize_t t, s, k, c, nbad
    cdef const real *x
    cdef const real *f
    cdef real *ob
    cdef real *bt
    cdef real *bn
    cdef real *g
    cdef real v, vb, z, cum
    cdef bint labnan
    for t in range(n_time):
        x = x0 + t * tstep
        f = ms + 3 * t
        ob = obs + t * S
        nbad = 0
        for k in range(n_classes):
            v = (x[k] - f[0]) - f[1]
            nbad = nbad + (not (v > -INFINITY))
        vb = (x[blank] - f[0]) - f[1]
        ob[0] = -INFINITY
        for s in range(1, nb):
            c = ocls[s]
            if c < 0:
                ob[s] = 0 if nbad == 0 else NAN
            else:
                v = (x[c] - f[0]) - f[1]
                ob[s] = v if nbad == 0 or (nbad == 1 and not (v > -INFINITY)) else NAN
        for s in range(nb, S):
            ob[s] = vb

    # backward over every frame (final distribution at T, masked beyond tl)
    bt = beta + n_time * S
    final_weights(bt, S, floor, lab_len, nb)
    cum = 0
    t = n_time - 1
    while t >= 0:
        ob = obs + t * S
        bn = beta + (t + 1) * S
        bt = beta + t * S
        for s in range(S):
            a[s] = bn[s] + ob[s]
        if any_nan(a, S):
            for s in range(S):
                bt[s] = NAN
        else:
            beta_step(a, bt, Lmax, step, w01)
        z = tf_lse(bt, S)
        for s in range(S):
            bt[s] = bt[s] - z
        if t < tl:
            cum = cum + z
        else:
            cum = cum + z * 0
            for s in range(S):
                bt[s] = bt[s] * 0 + (0 if s == lab_len or s == nb + lab_len else floor)
        t = t - 1
    loss[0] = -(beta[0] + cum)
    if g0 == NULL:
        return

    # forward over every frame, occupancy, gradient (times the frame mask)
    start_weights(fw, S, floor, acc, n_classes)
    for t in range(n_time):
        x = x0 + t * tstep
        ob = obs + t * S
        if any_nan(fw, S):
            for s in range(S):
                nw[s] = NAN
        else:
            alpha_step(fw, ob, nw, Lmax, step, w01)
        z = tf_lse(nw, S)
        bn = beta + (t + 1) * S
        for s in range(S):
            nw[s] = nw[s] - z
            fw[s] = nw[s]
            a[s] = nw[s] + bn[s]
        z = tf_lse(a, S)
        for s in range(S):
            a[s] = a[s] - z if t < tl else (a[s] - z) + (-INFINITY)
        g = g0 + t * tstep
        frame_grad(x, ms + 3 * t, False, a, Lmax, gcls, blank, n_classes, acc, g)
        labnan = any_nan(a + 1, Lmax)
        if labnan:
            # a NaN label state: the plain path's one-hot log-sum-exp makes
            # every other class NaN; the unique path (tf.nn.ctc_unique_labels)
            # scatters only the classes of the example's labels
            if unique:
                for s in range(1, nb):
                    if gcls[s] >= 0:
                        g[gcls[s]] = NAN
            else:
                for k in range(n_classes):
                    if k != blank:
                        g[k] = NAN
        if t >= tl:
            for k in range(n_classes):
                g[k] = g[k] * 0


cdef inline bint kernel_accepts(const int64_t *gcls, Py_ssize_t lab_len,
                                Py_ssize_t tl) noexcept nogil:
    # TF's C++ kernel computes an example of these dense labels: at least one
    # label, none the blank or outside [0, C), no more labels than frames
    cdef Py_ssize_t s
    cdef bint ok = 1 <= lab_len <= tl
    for s in range(1, lab_len + 1):
        ok = ok and gcls[s] >= 0
    return ok


cdef void ctc_example(const real *x0, Py_ssize_t tstep, Py_ssize_t n_classes,
                      const int64_t *lab, Py_ssize_t Lmax, Py_ssize_t lab_len,
                      Py_ssize_t tl, Py_ssize_t n_time, Py_ssize_t blank, real floor,
                      bint kernel64, bint unique, real *loss, real *g0, real *w,
                      int64_t *iw) noexcept nogil:
    """One example. x0/g0: its frame-0 logits/gradient rows, frame t at
    t * tstep. w/iw: this thread's scratch (see scratch_sizes)."""
    cdef Py_ssize_t S = 2 * Lmax + 2, nb = Lmax + 1
    cdef Py_ssize_t t, s, k, c
    cdef real *ms = w                            # [3 * n_time] m_t, L_t, sum_t
    cdef real *beta = ms + 3 * n_time            # [(n_time + 1) * S]
    cdef real *obs = beta + (n_time + 1) * S     # [n_time * S] per-frame observations
    cdef real *a = obs + n_time * S              # [S]
    cdef real *fw = a + S                        # [S]
    cdef real *nw = fw + S                       # [S]
    cdef real *step = nw + S                     # [S] log-weight label s -> s+1 (0/-inf),
    #                                              then blank s -> label s+1
    cdef real *acc = step + S                    # [n_classes]
    cdef int64_t *ocls = iw                      # [S] observed column of a label state
    cdef int64_t *gcls = iw + S                  # [S] gradient column (or -1)
    cdef const real *x
    cdef const real *ob
    cdef real *g
    cdef real *bt
    cdef real *bn
    cdef real z, z2, cum
    cdef bint grad = g0 != NULL
    cdef bint exact = floor == -INFINITY      # TF's C++ kernel (sparse labels)
    cdef bint special = False, under = False
    cdef real dmin
    # TF builds its transition matrix by scattering ones; with Lmax = 0 the
    # start -> label 1 entry lands on start -> blank 0, which then has weight 2
    cdef real w01 = log_(<real>2) if Lmax == 0 else 0

    # class of each label state; the label -> label and blank -> label moves
    ocls[0] = -1
    gcls[0] = -1
    for s in range(1, nb):
        ocls[s] = obs_class(lab[s - 1], blank, n_classes)
        gcls[s] = ocls[s] if lab[s - 1] >= 1 else -1
    for s in range(nb):
        step[s] = 0 if s < Lmax and (s == 0 or lab[s] != lab[s - 1]) else -INFINITY
        step[nb + s] = 0 if s < Lmax else -INFINITY

    # 1. frame statistics and observations. A frame with a non-finite
    # log-probability (NaN / inf logits, or -inf from overflow) sends the
    # example to TF's own handling: the dense path's every frame counts (TF
    # computes the padding frames too), the C++ kernel's frames < tl only,
    # and only a NaN probability changes its recursion. kernel64 (float64
    # logits, dense labels): where a log-probability falls below the dense
    # path's floor weight (-707; an underflowing or non-finite one included)
    # the dense model and TF's float64 kernel (the C++ one) part; the example
    # follows the kernel then, if the kernel accepts its labels.
    for t in range(tl if exact else n_time):
        x = x0 + t * tstep
        ms[3 * t] = rowmax(x, n_classes)
        ms[3 * t + 2] = expsum(x, n_classes, ms[3 * t], <real*>NULL)
        ms[3 * t + 1] = log_(ms[3 * t + 2])
        if exact:
            special = special | (ms[3 * t + 2] != ms[3 * t + 2])
        else:
            dmin = (rowmin(x, n_classes) - ms[3 * t]) - ms[3 * t + 1]
            special = special | (not (dmin > -INFINITY))
            under = under | (not (dmin > -707.0))
    if kernel64 and under and kernel_accepts(gcls, lab_len, tl):
        exact = True
        floor = -INFINITY
        special = False
        for t in range(tl):
            special = special | (ms[3 * t + 2] != ms[3 * t + 2])
    for t in range(tl):
        fill_obs(x0 + t * tstep, ms + 3 * t, exact, Lmax, ocls, blank, obs + t * S)
    if special and exact:
        z = cpp_log_likelihood(x0, tstep, n_classes, ocls, lab_len, tl, blank, ms, a, fw)
        no_path(x0, g0, tstep, n_classes, tl, n_time, ms, exact,
                INFINITY if z == -INFINITY else NAN, z != -INFINITY, loss)
        return
    if special:
        dense_special(x0, g0, tstep, n_classes, Lmax, lab_len, tl, n_time, blank, floor,
                      w01, step, ocls, gcls, ms, beta, obs, a, fw, nw, acc, unique, loss)
        return

    # 2. backward; beta row t lives at beta + t * S (beta_step)
    bt = beta + tl * S
    final_weights(bt, S, floor, lab_len, nb)
    cum = 0
    t = tl - 1
    while t >= 0:
        ob = obs + t * S
        bn = beta + (t + 1) * S
        bt = beta + t * S
        for s in range(S):
            a[s] = bn[s] + ob[s]
        beta_step(a, bt, Lmax, step, w01)
        normalise(bt, S, &z)
        if z == -INFINITY:      # no state reaches the end (exact model only)
            break
        cum = cum + z
        t = t - 1
    if t >= 0 or beta[0] == -INFINITY:
        # No alignment exists (floor = -inf and too many repeats for the
        # frames, or underflowed probabilities): TF's C++ kernel returns an
        # infinite loss and, as the occupancy is empty, the softmax as gradient.
        no_path(x0, g0, tstep, n_classes, tl, n_time, ms, exact, INFINITY, False, loss)
        return
    loss[0] = -(beta[0] + cum)
    if not exact and not (loss[0] - loss[0] == 0):
        # finite log-probabilities whose sums overflow (logits near the float
        # maximum): TF's steps decide where NaN and inf land
        dense_special(x0, g0, tstep, n_classes, Lmax, lab_len, tl, n_time, blank, floor,
                      w01, step, ocls, gcls, ms, beta, obs, a, fw, nw, acc, unique, loss)
        return
    if not grad:
        return

    # 3. forward, occupancy and gradient
    start_weights(fw, S, floor, acc, n_classes)
    for t in range(tl):
        x = x0 + t * tstep
        ob = obs + t * S
        alpha_step(fw, ob, nw, Lmax, step, w01)
        normalise(nw, S, &z)
        bn = beta + (t + 1) * S
        for s in range(S):
            fw[s] = nw[s]
            a[s] = nw[s] + bn[s]
        normalise(a, S, &z2)
        if not exact and not (z - z == 0 and z2 - z2 == 0):        # (as above)
            dense_special(x0, g0, tstep, n_classes, Lmax, lab_len, tl, n_time, blank, floor,
                          w01, step, ocls, gcls, ms, beta, obs, a, fw, nw, acc, unique, loss)
            return
        g = g0 + t * tstep
        frame_grad(x, ms + 3 * t, exact, a, Lmax, gcls, blank, n_classes, acc, g)
    for t in range(tl, n_time):
        g = g0 + t * tstep
        for k in range(n_classes):
            g[k] = 0


def k_ctc(const real[:, :, ::1] logits,      # IN [T, B, C] (time_major) or [B, T, C]
          const int64_t[:, ::1] labels,     # IN [B, Lmax] rotated class ids (blank = 0)
          const int64_t[::1] label_length,  # IN [B], checked in [0, Lmax]
          const int64_t[::1] logit_length,  # IN [B], checked in [0, T]
          Py_ssize_t blank,                 # column of the blank, checked in [0, C)
          bint time_major,
          real floor,                       # start/final log-weight off the path
          bint kernel64,                    # float64 dense: see ctc_example
          bint unique,                      # dense with `unique`: see dense_special
          real[::1] loss_out,               # OUT [B]
          real[:, :, ::1] dlogits_out,      # OUT like logits, or None
          real[:, ::1] scratch,             # [n_threads, scratch_sizes()[0]]
          int64_t[:, ::1] iscratch,         # [n_threads, scratch_sizes()[1]]
          int n_threads):
    cdef Py_ssize_t B, T, C = logits.shape[2], Lmax = labels.shape[1], b, tstep, off
    cdef Py_ssize_t nr, ni
    cdef bint grad = dlogits_out is not None
    cdef const real *xb
    cdef real *gb
    if time_major:
        T, B = logits.shape[0], logits.shape[1]
        tstep, off = B * C, C
    else:
        B, T = logits.shape[0], logits.shape[1]
        tstep, off = C, T * C
    nr, ni = scratch_sizes(T, Lmax, C)
    if (labels.shape[0] != B or label_length.shape[0] != B or logit_length.shape[0] != B
            or loss_out.shape[0] != B or scratch.shape[0] < n_threads
            or scratch.shape[1] < nr or iscratch.shape[0] < n_threads
            or iscratch.shape[1] < ni or C < 1 or not 0 <= blank < C):
        raise ValueError("k_ctc: inconsistent shapes or scratch sizes")
    if grad and (dlogits_out.shape[0] != logits.shape[0] or dlogits_out.shape[1]
                 != logits.shape[1] or dlogits_out.shape[2] != C):
        raise ValueError("k_ctc: dlogits_out must have the logits' shape")
    for b in range(B):      # the wrappers check these; never read out of bounds
        if not (0 <= label_length[b] <= Lmax and 0 <= logit_length[b] <= T):
            raise ValueError("k_ctc: a length is out of range")
    if B == 0:
        return
    xb = &logits[0, 0, 0] if T > 0 else NULL
    gb = &dlogits_out[0, 0, 0] if grad and T > 0 else NULL
    for b in prange(B, schedule="static", nogil=True, num_threads=n_threads,
                    use_threads_if=n_threads > 1):
        ctc_example(xb + b * off if xb != NULL else NULL, tstep, C,
                    &labels[b, 0] if Lmax > 0 else NULL, Lmax,
                    label_length[b], logit_length[b], T, blank, floor, kernel64,
                    unique, &loss_out[b], gb + b * off if gb != NULL else NULL,
                    &scratch[threadid(), 0], &iscratch[threadid(), 0])
