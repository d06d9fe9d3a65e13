# cython: language_level=3
"""Elementwise loss kernels: sigmoid and weighted cross-entropy, log-Poisson.
Each pt_<loss> holds the value and the local derivatives of one element; the
k_<loss> loops are prange over fixed blocks of elements, so gcc vectorizes the
inner loop and the bits do not depend on the thread count."""
from cython.parallel cimport prange, threadid
from libc.math cimport INFINITY
from _types cimport real
from _math cimport (exp_, log_, log1p_, relu_, fabs_, rowsum, pt_sigmoid_xent, pow_, clip_,
                    daz_, tfsum, cyl_tf_expd)

cdef Py_ssize_t BLOCK = 4096
WEIGHTED_BLOCK = BLOCK    # for the callers' scratch sizes


cdef inline real pt_weighted_xent(real z, real x, real pw, real g, real *dx, real *dz,
                                  real *dpw) noexcept nogil:
    # TF's graph, op by op (nn_impl.py):  s = pw - 1;  q = 1 + s z;  u = 1 - z
    #   e = exp(-|x|);  c = log1p(e) + relu(-x);  value = u x + q c
    # and the gradients its autodiff builds for the upstream g, each product
    # in TF's order (so the same intermediates overflow, or give 0 * inf = NaN):
    #   dq = g c;  dc = q g;  relu's gradient dc [-x > 0] (ReluGrad multiplies);
    #   log1p then exp: (dc (1/(1 + e))) e;  abs: times sign(x) (sign(0) = 0)
    #   dx = (u g + -(relu path)) + -(abs path)    (the tape's AddN order)
    #   dz = -(g x) + s dq ;  dpw = dq z
    # TF's CPU treats denormal inputs as 0 and flushes denormal results; the
    # flushes that can show: exp(-|x|), and dq = g c, which s and z (up to
    # the maximum) multiply next (TF's 0, not a normal number). Elsewhere a
    # denormal result only meets factors of at most 1 or additions.
    # (Constants typed: Cython writes a bare 1 as a double.)
    cdef real one = 1
    z = daz_(z)
    x = daz_(x)
    pw = daz_(pw)
    g = daz_(g)
    cdef real s = pw - one
    cdef real q = one + s * z
    cdef real u = one - z
    cdef real e = daz_(exp_(-fabs_(x)))
    cdef real c = log1p_(e) + relu_(-x)
    cdef real sg = <real>(x > 0) - <real>(x < 0)
    cdef real dq = daz_(g * c)
    cdef real dc = q * g
    cdef real drelu = dc * <real>(-x > 0)
    cdef real dabs = daz_((dc * (one / (one + e))) * e)
    dx[0] = (u * g + -drelu) + (-dabs) * sg
    dz[0] = -(g * x) + s * dq
    dpw[0] = dq * z
    return u * x + q * c


cdef inline real pt_log_poisson(real z, real c, bint full, real g, real *dc,
                                real *dz) noexcept nogil:
    # TF's graph (nn_impl.py): value = exp(c) - c z  [+ where(0 <= z <= 1, 0, st)]
    #   st = (z log z - z) + 0.5 log(2 pi z)            (Stirling's term)
    # and the gradients its autodiff builds for the upstream g, each product
    # in TF's order, so the same intermediates overflow or give 0 * inf = NaN:
    #   dc = g exp(c) + (-g) z
    #   dz = (((c (-g) + -h) + h log z) + (z h) (1/z)) + 2 pi ((0.5 h) (1/(2 pi z)))
    # (the tape's AddN order) with h = g where the Stirling term is taken, else
    # 0: where()'s gradient is 0 on the untaken side, which the chain still
    # multiplies (NaN at z = 0: 0 * -inf). Log's gradient multiplies by the
    # reciprocal, which TF's CPU flushes when denormal; it also treats
    # denormal inputs (and upstreams) as 0.
    cdef real one = 1, zero = 0, half = <real>0.5, two_pi = <real>6.283185307179586
    cdef real ec, v, lz, st, h
    z = daz_(z)
    c = daz_(c)
    g = daz_(g)
    ec = exp_(c)
    v = ec - c * z
    dc[0] = g * ec + (-g) * z
    dz[0] = c * (-g)
    if full:
        lz = log_(z)
        st = (z * lz - z) + half * log_(two_pi * z)
        h = g if (z > 1) | (z < 0) else zero
        v = v + (st if (z > 1) | (z < 0) else zero)
        dz[0] = (((dz[0] + -h) + h * lz) + (z * h) * daz_(one / z)) + \
            two_pi * daz_((half * h) * daz_(one / (two_pi * z)))
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
                    const real[::1] dy,         # IN, the upstream: length n or 1
                    real[::1] loss_out,         # OUT
                    real[::1] dlogits_out,      # OUT or None (then all grads None)
                    real[::1] dlabels_out,      # OUT or None
                    real[::1] dpw_out,          # OUT or None
                    int n_threads):
    cdef Py_ssize_t n = logits.shape[0], b, k, lo, hi
    cdef Py_ssize_t n_blocks = (n + BLOCK - 1) // BLOCK
    cdef Py_ssize_t pws = 1 if pos_weight.shape[0] > 1 else 0
    cdef Py_ssize_t dys = 1 if dy.shape[0] > 1 else 0
    cdef bint grad = dlogits_out is not None
    cdef real d1, d2, d3
    for b in prange(n_blocks, schedule="static", nogil=True,
                    num_threads=n_threads, use_threads_if=n_threads > 1):
        lo = b * BLOCK
        hi = min(lo + BLOCK, n)
        if grad:
            for k in range(lo, hi):
                loss_out[k] = pt_weighted_xent(labels[k], logits[k], pos_weight[k * pws],
                                               dy[k * dys], &dlogits_out[k],
                                               &dlabels_out[k], &dpw_out[k])
        else:
            for k in range(lo, hi):
                d1 = d2 = d3 = 0    # private to the thread, so the loop vectorizes
                loss_out[k] = pt_weighted_xent(labels[k], logits[k], pos_weight[k * pws],
                                               dy[k * dys], &d1, &d2, &d3)


def k_log_poisson(const real[::1] targets,     # IN
                  const real[::1] log_input,   # IN
                  bint full,
                  const real[::1] dy,          # IN, the upstream: length n or 1
                  real[::1] loss_out,          # OUT
                  real[::1] dlog_input_out,    # OUT or None (then both None)
                  real[::1] dtargets_out,      # OUT or None
                  int n_threads):
    cdef Py_ssize_t n = log_input.shape[0], b, k, lo, hi
    cdef Py_ssize_t n_blocks = (n + BLOCK - 1) // BLOCK
    cdef Py_ssize_t dys = 1 if dy.shape[0] > 1 else 0
    cdef bint grad = dlog_input_out is not None
    cdef real d1, d2
    for b in prange(n_blocks, schedule="static", nogil=True,
                    num_threads=n_threads, use_threads_if=n_threads > 1):
        lo = b * BLOCK
        hi = min(lo + BLOCK, n)
        if grad:
            for k in range(lo, hi):
                loss_out[k] = pt_log_poisson(targets[k], log_input[k], full, dy[k * dys],
                                             &dlog_input_out[k], &dtargets_out[k])
        else:
            for k in range(lo, hi):
                d1 = d2 = 0         # private to the thread, so the loop vectorizes
                loss_out[k] = pt_log_poisson(targets[k], log_input[k], full, dy[k * dys],
                                             &d1, &d2)


# ---------------------------------------------------------------------------
# Weighted pointwise losses (tf.compat.v1.losses, contrib.losses): the loss of
# each element, its weight, the block sums of loss * weight and the scaled
# local gradients, in one pass. `kind` picks the loss; each kind gets its own
# specialised, vectorized loop (the branch on the constant kind folds away).

cdef enum:
    K_IDENTITY = 0      # L = b (compute_weighted_loss on given losses)
    K_ABSDIFF = 1       # |b - a|
    K_SQDIFF = 2        # (b - a)^2, p1 = 0 (TF's squared_difference) or 1 (square)
    K_HUBER = 3         # p1 = delta
    K_LOGLOSS = 4       # p1 = epsilon
    K_HINGE = 5         # a = labels in {0,1}, b = logits
    K_SIGMOID = 6       # a = labels, b = logits, p1 = label smoothing
    # Keras (a = y_true, b = y_pred; p1 = Keras' epsilon where it clips)
    K_MAPE = 7          # |(a - b) / max(|a|, eps)|        (x 100 by the caller)
    K_MSLE = 8          # (log(max(b, eps) + 1) - log(max(a, eps) + 1))^2
    K_LOGCOSH = 9       # e + softplus(-2e) - p1 (log 2), e = b - a
    K_POISSON = 10      # b - a log(b + eps)
    K_KLD = 11          # ca log(ca / cb), c = clip(., eps, 1)
    K_KHINGE = 12       # max(1 - a b, 0)    (a: labels already converted to +-1)
    K_SQHINGE = 13      # max(1 - a b, 0)^2
    K_BCE = 14          # -(a log c + (1 - a) log(1 - c)), c = clip(b, eps, 1 - eps)
    K_FOCAL = 15        # binary focal on probabilities: p2 = gamma, p3 = alpha (< 0: no balancing),
                        # p4 = 1 - alpha as Keras rounds it (in double, then to the dtype)
    K_FOCAL_LOGITS = 16 # the same on sigmoid(b), its bce term from the logits (Keras);
                        # p1 = which exp (float64): 0 cyloss', 1 TF's packets', 2 its tail's
    K_KHUBER = 17       # |e| <= d ? e^2/2 : d|e| - d^2/2 (Keras' where(), p1 = d)

KINDS = {"identity": K_IDENTITY, "absolute_difference": K_ABSDIFF,
         "squared_difference": K_SQDIFF, "huber": K_HUBER, "log_loss": K_LOGLOSS,
         "hinge": K_HINGE, "sigmoid": K_SIGMOID, "mape": K_MAPE, "msle": K_MSLE,
         "logcosh": K_LOGCOSH, "poisson": K_POISSON, "kld": K_KLD,
         "keras_hinge": K_KHINGE, "squared_hinge": K_SQHINGE, "bce": K_BCE,
         "focal": K_FOCAL, "focal_logits": K_FOCAL_LOGITS, "keras_huber": K_KHUBER}


cdef inline real sign_(real e) noexcept nogil:
    # TF's sign: 0 at 0, NaN at NaN
    return (e > 0) - (e < 0) if e == e else e


# One tag type per kind: a fused type over the tags specialises every loop
# below at compile time (Cython's templates), so each loop inlines its own
# small pt_weighted and vectorizes.
cdef struct TIdentity:
    char _
cdef struct TAbsDiff:
    char _
cdef struct TSqDiff:
    char _
cdef struct THuber:
    char _
cdef struct TLogLoss:
    char _
cdef struct THinge:
    char _
cdef struct TSigmoid:
    char _
cdef struct TMape:
    char _
cdef struct TMsle:
    char _
cdef struct TLogCosh:
    char _
cdef struct TPoisson:
    char _
cdef struct TKld:
    char _
cdef struct TKHinge:
    char _
cdef struct TSqHinge:
    char _
cdef struct TBce:
    char _
cdef struct TFocal:
    char _
cdef struct TFocalLogits:
    char _
cdef struct TKHuber:
    char _

ctypedef fused kind_t:
    TIdentity
    TAbsDiff
    TSqDiff
    THuber
    TLogLoss
    THinge
    TSigmoid
    TMape
    TMsle
    TLogCosh
    TPoisson
    TKld
    TKHinge
    TSqHinge
    TBce
    TFocal
    TFocalLogits
    TKHuber


cdef inline void bce_grad(real z, real p, real eps, real hi, real c, real lc, real l1,
                          real g, real *dp, real *dz) noexcept nogil:
    # the gradients of -(z log c + (1 - z) log(1 - c)), c = clip(p, eps, hi),
    # for an upstream g, in the order TF's autodiff builds them op by op (g
    # enters each term before the reciprocals, the two terms are added, the
    # clip selects): an infinite g or label then overflows / is NaN exactly
    # where TF's is. g = 1 gives the local derivatives.
    cdef real one = 1
    cdef real gn = -g
    cdef real dc = (gn * z) * (one / c) + -((gn * (one - z)) * (one / (one - c)))
    dp[0] = dc if (p >= eps) & (p <= hi) else <real>0
    dz[0] = gn * lc + -(gn * l1)


cdef inline real bce(real z, real p, real eps, real g, real *dp, real *dz) noexcept nogil:
    # Keras' binary crossentropy on probability p:
    #   c = clip(p, eps, 1 - eps); value = -(z log c + (1 - z) log(1 - c))
    # `one` keeps the arithmetic in the element's type (Cython writes a bare
    # 1 as the double 1.0, which would round float32 steps in double)
    cdef real one = 1
    cdef real hi = one - eps, c = clip_(p, eps, hi)
    cdef real lc = log_(c), l1 = log_(one - c)
    bce_grad(z, p, eps, hi, c, lc, l1, g, dp, dz)
    return -(z * lc + (one - z) * l1)


cdef inline real focal_factor(real z, real p, real b, real gm, real alpha, real alpha_c,
                              real g, real *gb, real *gpt, real *dw) noexcept nogil:
    # The focal part of Keras' binary focal crossentropy with bce value b:
    #   pt = z p + (1 - z)(1 - p); f = (1 - pt)^gm;
    #   returns L = f b [x w, w = z a + (1 - z) ac when alpha >= 0, ac = 1 - a
    #   computed in double as Keras does: not the dtype's 1 - a]
    # and, for the upstream g in TF's op order, gb (what reaches b), gpt (what
    # reaches pt) and dw (d/dz through w)
    cdef real one = 1, gf = g, gw
    cdef real pt = z * p + (one - z) * (one - p)
    cdef real f = pow_(one - pt, gm)
    cdef real fb = f * b, w = one
    dw[0] = 0
    if alpha >= 0:
        w = z * alpha + (one - z) * alpha_c
        gf = g * w
        gw = g * fb
        dw[0] = gw * alpha + -(gw * alpha_c)
    gb[0] = gf * f
    gpt[0] = -(((gf * b) * gm) * pow_(one - pt, gm - one))    # TF's pow gradient
    return w * fb if alpha >= 0 else fb


cdef inline real focal(real z, real p, real eps, real gm, real alpha, real alpha_c, real g,
                       real *dp, real *dz) noexcept nogil:
    # Keras' binary focal crossentropy of one element on probability p:
    #   B = bce(z, p); pt = z p + (1 - z)(1 - p); f = (1 - pt)^gm
    #   L = f B [x w, w = z a + (1 - z)(1 - a) when alpha >= 0]
    # gradients for the upstream g in TF's op order (see bce); TF's CPU reads
    # denormal inputs as 0 (a denormal p times an infinite gradient is NaN)
    cdef real one = 1, gb, gpt, dbp, dbz, dw
    z = daz_(z)
    p = daz_(p)
    cdef real hi = one - eps, c = clip_(p, eps, hi)
    cdef real lc = log_(c), l1 = log_(one - c)
    cdef real b = -(z * lc + (one - z) * l1)
    cdef real L = focal_factor(z, p, b, gm, alpha, alpha_c, g, &gb, &gpt, &dw)
    bce_grad(z, p, eps, hi, c, lc, l1, gb, &dbp, &dbz)
    dp[0] = (gpt * z + -(gpt * (one - z))) + dbp
    # TF adds z's gradients in the order of its uses from the last back (one
    # AddN, left to right): the class weight's two (dw), bce's z log c, p_t's
    # z p, bce's 1 - z, p_t's 1 - z -- which decides inf + -inf = NaN
    dz[0] = (((dw + (-gb) * lc) + gpt * p) + -((-gb) * l1)) + -(gpt * (one - p))
    return L


cdef inline real focal_logits(real z, real x, real gm, real alpha, real alpha_c, real g,
                              int emode, real *dx, real *dz) noexcept nogil:
    # Keras' binary focal crossentropy from logits: p = sigmoid(x) in the focal
    # factor, but the bce term is sigmoid_cross_entropy_with_logits(z, x) (Keras
    # tags sigmoid's output with its logits and the backend takes that path):
    #   B = where(x >= 0, x, 0) - x z + log1p(exp(where(x >= 0, -x, x)))
    # gradients for the upstream g in TF's op order; dp reaches x through
    # sigmoid's gradient dp p (1 - p)
    # (the sigmoid xent written out, not called: a second caller of
    # pt_sigmoid_xent stops gcc inlining it into the vectorized sigmoid loop)
    cdef real one = 1, zero = 0, gb, gpt, ge, dp, dw
    z = daz_(z)                         # (TF's CPU: denormal inputs are 0)
    x = daz_(x)
    cdef bint pos = x >= 0
    cdef real e = exp_(-x if pos else x)
    cdef real b = ((x if pos else zero) - x * z) + log1p_(e)
    # sigmoid as TF's CPU kernel rounds it, e^x / (1 + e^x) (1 where e^x
    # overflows): it stays below 1 up to x ~ 37 in float64, where 1 / (1 + e^-x)
    # rounds to 1 and would zero the focal factor's gradient. Eigen's float32
    # logistic clamps x at 16.6355324 (e^x = 2^24: the quotient is exactly 1
    # from there on; unclamped it would be 0.99999994 or 0.9999999 up to ~17.3)
    cdef real xs = x
    if real is float:
        xs = <real>16.6355324 if x > <real>16.6355324 else x
    # (float64: emode 1 or 2 takes the exp of TF's packets or of its tail,
    # for the few x where that decides p = 1: _vec.h cyl_tf_expd)
    cdef real ex
    if real is float:
        ex = exp_(xs)
    else:
        ex = cyl_tf_expd(xs, emode)
    cdef real p = one if ex == <real>INFINITY else ex / (one + ex)
    cdef real L = focal_factor(z, p, b, gm, alpha, alpha_c, g, &gb, &gpt, &dw)
    dp = gpt * z + -(gpt * (one - z))
    ge = (gb * (one / (one + e))) * e
    dx[0] = (((gb if pos else zero) + (-gb) * z) + (-ge if pos else ge)) + (dp * p) * (one - p)
    dz[0] = ((dw + (-gb) * x) + gpt * p) + -(gpt * (one - p))     # TF's order (see focal)
    return L


cdef inline void tf_chain(kind_t *tag, real a, real b, real p1, real g, real *da,
                          real *db) noexcept nogil:
    # The Keras elementwise kinds' gradients for the upstream g (Keras' mean
    # already applied), op by op in the order TF's autodiff builds them: a
    # maximum or clip passes g only where it selected its input (a NaN or inf
    # g elsewhere gives 0), each product is taken in TF's order, so the same
    # intermediates overflow or become NaN (0 * inf) as in TF. TF's CPU also
    # flushes denormal results to zero: g and the factors that can underflow
    # (reciprocals of huge values) go through daz_.
    cdef real one = 1, zero = 0, two = 2, half = <real>0.5
    cdef real e, ae, m, h, gm, mx, c, u, v, q, s, gq, gs, ca, cb
    g = daz_(g)
    if kind_t is TKld:                          # ca log(ca / cb), c = clip(., eps, 1)
        ca = clip_(a, p1, one)
        cb = clip_(b, p1, one)
        q = ca / cb
        gq = (g * ca) * (one / q)               # Mul, then Log: dy * reciprocal(q)
        da[0] = (g * log_(q) + gq / cb) if (a >= p1) & (a <= one) else zero
        db[0] = (gq * ((-ca / cb) / cb)) if (b >= p1) & (b <= one) else zero
    elif kind_t is TMsle:                       # (log(max(b, eps) + 1) - log(max(a, eps) + 1))^2
        mx = p1 if b < p1 else b                # maximum propagates NaN
        c = p1 if a < p1 else a
        e = log_(mx + one) - log_(c + one)
        gm = g * (e * two)                        # Square: dy * (x * 2)
        db[0] = (gm * daz_(one / (mx + one))) if b >= p1 else zero
        da[0] = ((-gm) * daz_(one / (c + one))) if a >= p1 else zero
    elif kind_t is TPoisson:                    # b - a log(b + eps), inputs DAZ
        a = daz_(a)                             # (a denormal a times 1 / eps is normal)
        b = daz_(b)
        u = b + p1
        db[0] = g + ((-g) * a) * daz_(one / u)
        da[0] = (-g) * log_(u)
    elif kind_t is TKHinge:                     # max(1 - a b, 0)
        m = one - a * b
        gm = g if m >= 0 else zero
        db[0] = (-gm) * a
        da[0] = (-gm) * b
    elif kind_t is TSqHinge:                    # max(1 - a b, 0)^2
        m = one - a * b
        h = m if not (m < 0) else zero
        gm = (g * (h * two)) if m >= 0 else zero
        db[0] = (-gm) * a
        da[0] = (-gm) * b
    elif kind_t is TKHuber:                     # where(|e| <= d, e^2/2, d|e| - d^2/2), e = b - a
        e = daz_(b) - daz_(a)                   # (inputs DAZ: sign(e) of a denormal e
        ae = fabs_(e)                           #  is 0 in TF, the linear branch's slope)
        gq = g if ae <= p1 else zero            # where(): the untaken branch gets 0, which
        gs = zero if ae <= p1 else g            # an overflowing e * 2 turns into NaN
        db[0] = (gq * half) * (e * two) + (gs * p1) * sign_(e)
        da[0] = -db[0]
    elif kind_t is TLogCosh:                    # e + softplus(e * -2) - log 2, e = b - a
        e = b - a                               # the e term's g, plus SoftplusGrad's
        gs = daz_(g / (exp_(-(e * -two)) + one))   # dy / (exp(-x) + 1) times -2 (so an
        db[0] = g + gs * -two                   # infinite g gives inf - inf = NaN, as TF)
        da[0] = -db[0]
    elif kind_t is TMape:                       # |(a - b) / max(|a|, eps)|, inputs DAZ
        a = daz_(a)
        b = daz_(b)
        s = a - b
        ae = fabs_(a)
        m = p1 if ae < p1 else ae
        q = s / m
        gq = g * sign_(q)
        gs = daz_(gq / m)                       # (TF flushes each op's denormal result:
        db[0] = -gs                             #  g / m for m near the max)
        da[0] = gs + (daz_(gq * daz_((-s / m) / m)) if ae >= p1 else zero) * sign_(a)


cdef inline void v1_chain(kind_t *tag, real a, real b, real p1, real g, real *da,
                          real *db) noexcept nogil:
    # tf.compat.v1 / contrib squared, huber, sigmoid, hinge and log losses: the
    # gradients for the upstream g (weight x gradient scale) op by op in TF's
    # order, so the same products overflow or become NaN (0 * inf) as in TF.
    cdef real one = 1, two = 2, t, gm, ng, z, e, gl     # (typed: Cython writes a bare
    cdef bint pos                                       # 2 as a double)
    if kind_t is TSqDiff:                       # p1 = 0: squared_difference(b, a), whose
        e = b - a                               # gradient is (2 dy)(b - a); p1 = 1: contrib's
        db[0] = ((two * g) * e) if p1 == 0 else (g * (e * two))     # square(b - a): dy (e 2)
        da[0] = -db[0]
    elif kind_t is TSigmoid:                      # TF: where(x >= 0, x, 0) - x z
        z = a * (one - p1) + <real>0.5 * p1     #     + log1p(exp(where(x >= 0, -x, x)))
        e = exp_(-fabs_(b))                     # z = a (1 - ls) + ls / 2
        gl = (g * (one / (one + e))) * e        # Log1p then Exp: dy * reciprocal(1 + u) * u
        pos = b >= 0                            # each where() passes g to one side only
        db[0] = ((g if pos else <real>0) + (-g) * z) + (-gl if pos else gl)
        da[0] = (b * (-g)) * (one - p1)
    elif kind_t is THinge:                        # relu(1 - t b), t = 2a - 1
        t = two * a - one
        gm = g * <real>(one - t * b > 0)        # ReluGrad multiplies by [m > 0]
        db[0] = t * (-gm)
        da[0] = two * ((-gm) * b)               # through t = 2a - 1
    elif kind_t is THuber:                      # 0.5 (q q) + d (|e| - q), q = min(|e|, d):
        e = b - a                               # |e| gets d g (through |e| - q) and, where
        t = fabs_(e)                            # |e| <= d (Minimum's tie too), q's upstream
        gm = t if t <= p1 else p1               # 0.5 g q twice (q q) minus d g; so a d g
        gl = p1 * g                             # that overflows (or g inf / NaN) gives
        z = <real>0.5 * g                       # inf - inf = NaN inside the quadratic zone
        ng = ((z * gm + gm * z) - gl) if t <= p1 else <real>0
        db[0] = (gl + ng) * sign_(e)            # and +-inf beyond it, as in TF
        da[0] = -db[0]
    elif kind_t is TLogLoss:                    # -(a log(b + eps)) - (1 - a) log(1 - b + eps)
        a = daz_(a)                             # (TF: denormal inputs are 0)
        b = daz_(b)
        ng = -g                                 # Log's gradient: dy * reciprocal(x)
        db[0] = (a * ng) * (one / (b + p1)) - ((one - a) * ng) * (one / ((one - b) + p1))
        da[0] = log_(b + p1) * ng - log_((one - b) + p1) * ng


cdef inline real pt_weighted(kind_t *tag, real a, real b, real p1, real p2, real p3,
                             real p4, real g, real *da, real *db) noexcept nogil:
    # value of one element and the gradients w.r.t. a (labels) and b
    # (predictions / logits / losses) for the upstream g (weight x gradient
    # scale), with TF's conventions at kinks: sign(0) = 0, relu'(0) = 0,
    # min(a, b) routes ties to its first argument. The kinds whose gradients
    # TF builds op by op (bce, focal, tf_chain's and v1_chain's kinds) take g
    # into their chain; the others multiply their local derivatives dA, dB by g.
    cdef real e, ae, q, t, m, z, mx, c, u, v, s, ca, cb, dA, dB
    if kind_t is TIdentity:                     # given losses
        dA = 0
        dB = 1
        da[0] = dA * g
        db[0] = dB * g
        return b
    elif kind_t is TAbsDiff:                    # |e|, d/db = sign(e)
        e = daz_(b) - daz_(a)                   # (TF: denormal inputs are 0)
        dB = sign_(e)
        da[0] = -dB * g
        db[0] = dB * g
        return fabs_(e)
    elif kind_t is TSqDiff:                     # e^2, d/db = 2e
        e = b - a
        v1_chain(tag, a, b, p1, g, da, db)
        return e * e
    elif kind_t is THuber:                      # q = min(|e|, d): q^2/2 + d(|e| - q)
        e = b - a
        ae = fabs_(e)
        q = ae if ae <= p1 else p1
        v1_chain(tag, a, b, p1, g, da, db)
        return <real>0.5 * q * q + p1 * (ae - q)
    elif kind_t is TLogLoss:                    # -a log(b + eps) - (1 - a) log(1 - b + eps)
        v1_chain(tag, a, b, p1, g, da, db)
        a = daz_(a)                             # (TF: denormal inputs are 0)
        b = daz_(b)
        u = <real>1                             # (typed: a bare 1 would be a double)
        return -(a * log_(b + p1)) - (u - a) * log_((u - b) + p1)
    elif kind_t is THinge:                      # t = 2a - 1: relu(1 - t b)
        u = <real>1                             # (NaN m gives NaN, as TF's relu)
        t = (u + u) * a - u
        m = u - t * b
        v1_chain(tag, a, b, p1, g, da, db)
        return m if not (m <= 0) else 0
    elif kind_t is TSigmoid:                    # sigmoid xent, labels smoothed:
        u = <real>1
        z = a * (u - p1) + <real>0.5 * p1       # z = a (1 - ls) + ls / 2
        v1_chain(tag, a, b, p1, g, da, db)
        return pt_sigmoid_xent(z, b, &t)        # (t: its derivative, not used)
    elif kind_t is TMape:                       # |q|, q = (a - b) / m, m = max(|a|, eps)
        a = daz_(a)                             # (TF: denormal inputs are 0)
        b = daz_(b)
        ae = fabs_(a)
        m = p1 if ae < p1 else ae
        tf_chain(tag, a, b, p1, g, da, db)
        return fabs_((a - b) / m)
    elif kind_t is TMsle:                       # (u - v)^2, u = log(max(b, eps) + 1)
        mx = p1 if b < p1 else b                # (maximum propagates NaN)
        c = p1 if a < p1 else a
        e = log_(mx + <real>1) - log_(c + <real>1)
        tf_chain(tag, a, b, p1, g, da, db)
        return e * e
    elif kind_t is TLogCosh:                    # e + softplus(-2e) - log 2
        e = b - a
        t = -2 * e
        u = exp_(-fabs_(t))
        tf_chain(tag, a, b, p1, g, da, db)
        return (e + (relu_(t) + log1p_(u))) - p1        # p1 = log 2 as Keras rounds it
    elif kind_t is TPoisson:                    # b - a log(b + eps)
        tf_chain(tag, a, b, p1, g, da, db)
        a = daz_(a)                             # (TF: denormal inputs are 0)
        b = daz_(b)
        return b - a * log_(b + p1)
    elif kind_t is TKld:                        # ca log(ca / cb)
        ca = clip_(a, p1, 1)
        cb = clip_(b, p1, 1)
        tf_chain(tag, a, b, p1, g, da, db)
        return ca * log_(ca / cb)
    elif kind_t is TKHinge:                     # max(m, 0), m = 1 - a b; ties to m
        m = <real>1 - a * b
        tf_chain(tag, a, b, p1, g, da, db)
        return m if not (m < 0) else 0
    elif kind_t is TSqHinge:                    # max(m, 0)^2
        m = <real>1 - a * b
        mx = m if not (m < 0) else 0
        tf_chain(tag, a, b, p1, g, da, db)
        return mx * mx
    elif kind_t is TBce:                        # clip, then the two logs
        return bce(a, b, p1, g, db, da)
    elif kind_t is TFocal:
        return focal(a, b, p1, p2, p3, p4, g, db, da)
    elif kind_t is TFocalLogits:
        return focal_logits(a, b, p2, p3, p4, g, <int>p1, db, da)
    else:                                       # Keras' huber: where(|e| <= d, e^2/2, d|e| - d^2/2)
        e = daz_(b) - daz_(a)
        ae = fabs_(e)
        tf_chain(tag, a, b, p1, g, da, db)
        if ae <= p1:
            return <real>0.5 * (e * e)
        return p1 * ae - <real>0.5 * (p1 * p1)


cdef inline real lanes_done(real *acc) noexcept nogil:
    # the fixed tree of _vec.h's cyl_lanesum
    cdef int w = 8, j
    while w > 0:
        for j in range(w):
            acc[j] += acc[j + w]
        w = w // 2
    return acc[0]


cdef inline real run_weighted(kind_t *tag, bint own, const real *a, const real *b,
                              const real *w, Py_ssize_t n, const real *prm, real gscale,
                              real *wl, real *raw, real *da, real *db) noexcept nogil:
    # n elements with their own weights w[k] (own) or sharing w[0]; returns
    # sum(L * w) in lane order. Every output pointer is real or a per-thread
    # junk tile (no branches, so the loop vectorizes).
    cdef real acc[16]
    cdef Py_ssize_t k0, j, nb = n - n % 16
    cdef real L, wk = w[0], g = w[0] * gscale
    cdef real p1 = prm[0], p2 = prm[1], p3 = prm[2], p4 = prm[3]   # locals: no reload
    for j in range(16):
        acc[j] = 0
    if own:
        for k0 in range(0, nb, 16):
            for j in range(16):
                L = pt_weighted(tag, a[k0 + j], b[k0 + j], p1, p2, p3, p4, w[k0 + j] * gscale,
                                &da[k0 + j], &db[k0 + j])
                acc[j] += L * w[k0 + j]
                wl[k0 + j] = L * w[k0 + j]
                raw[k0 + j] = L
        for j in range(n - nb):
            L = pt_weighted(tag, a[nb + j], b[nb + j], p1, p2, p3, p4, w[nb + j] * gscale,
                            &da[nb + j], &db[nb + j])
            acc[j] += L * w[nb + j]
            wl[nb + j] = L * w[nb + j]
            raw[nb + j] = L
    else:
        for k0 in range(0, nb, 16):
            for j in range(16):
                L = pt_weighted(tag, a[k0 + j], b[k0 + j], p1, p2, p3, p4, g, &da[k0 + j],
                                &db[k0 + j])
                acc[j] += L * wk
                wl[k0 + j] = L * wk
                raw[k0 + j] = L
        for j in range(n - nb):
            L = pt_weighted(tag, a[nb + j], b[nb + j], p1, p2, p3, p4, g, &da[nb + j],
                            &db[nb + j])
            acc[j] += L * wk
            wl[nb + j] = L * wk
            raw[nb + j] = L
    return lanes_done(acc)


cdef inline real run_kind(int kind, bint own, const real *a, const real *b, const real *w,
                          Py_ssize_t n, const real *prm, real gscale, real *wl, real *raw,
                          real *da, real *db) noexcept nogil:
    # run-time kind -> the loop specialised for it
    if kind == K_IDENTITY:
        return run_weighted(<TIdentity*>NULL, own, a, b, w, n, prm, gscale, wl, raw, da, db)
    if kind == K_ABSDIFF:
        return run_weighted(<TAbsDiff*>NULL, own, a, b, w, n, prm, gscale, wl, raw, da, db)
    if kind == K_SQDIFF:
        return run_weighted(<TSqDiff*>NULL, own, a, b, w, n, prm, gscale, wl, raw, da, db)
    if kind == K_HUBER:
        return run_weighted(<THuber*>NULL, own, a, b, w, n, prm, gscale, wl, raw, da, db)
    if kind == K_LOGLOSS:
        return run_weighted(<TLogLoss*>NULL, own, a, b, w, n, prm, gscale, wl, raw, da, db)
    if kind == K_HINGE:
        return run_weighted(<THinge*>NULL, own, a, b, w, n, prm, gscale, wl, raw, da, db)
    if kind == K_MAPE:
        return run_weighted(<TMape*>NULL, own, a, b, w, n, prm, gscale, wl, raw, da, db)
    if kind == K_MSLE:
        return run_weighted(<TMsle*>NULL, own, a, b, w, n, prm, gscale, wl, raw, da, db)
    if kind == K_LOGCOSH:
        return run_weighted(<TLogCosh*>NULL, own, a, b, w, n, prm, gscale, wl, raw, da, db)
    if kind == K_POISSON:
        return run_weighted(<TPoisson*>NULL, own, a, b, w, n, prm, gscale, wl, raw, da, db)
    if kind == K_KLD:
        return run_weighted(<TKld*>NULL, own, a, b, w, n, prm, gscale, wl, raw, da, db)
    if kind == K_KHINGE:
        return run_weighted(<TKHinge*>NULL, own, a, b, w, n, prm, gscale, wl, raw, da, db)
    if kind == K_SQHINGE:
        return run_weighted(<TSqHinge*>NULL, own, a, b, w, n, prm, gscale, wl, raw, da, db)
    if kind == K_BCE:
        return run_weighted(<TBce*>NULL, own, a, b, w, n, prm, gscale, wl, raw, da, db)
    if kind == K_FOCAL:
        return run_weighted(<TFocal*>NULL, own, a, b, w, n, prm, gscale, wl, raw, da, db)
    if kind == K_FOCAL_LOGITS:
        return run_weighted(<TFocalLogits*>NULL, own, a, b, w, n, prm, gscale, wl, raw, da, db)
    if kind == K_KHUBER:
        return run_weighted(<TKHuber*>NULL, own, a, b, w, n, prm, gscale, wl, raw, da, db)
    return run_weighted(<TSigmoid*>NULL, own, a, b, w, n, prm, gscale, wl, raw, da, db)


def k_weighted(int kind,
               const real[::1] a,          # IN labels (unused by identity), n elements
               const real[::1] b,          # IN predictions / logits / losses
               const real[::1] w,          # IN weights: 1 (scalar), n_rows (per row) or n
               Py_ssize_t n_rows,          # rows of the [n_rows, n / n_rows] view
               const real[::1] params,     # [p1, p2, p3, p4]: delta, epsilon or label smoothing; focal gamma, alpha, 1 - alpha
               real gscale,                # gradient factor (1 / denominator)
               real[::1] wl_out,           # OUT L * w, or None
               real[::1] raw_out,          # OUT L, or None
               real[::1] da_out,           # OUT dL/da * w * gscale, or None
               real[::1] db_out,           # OUT dL/db * w * gscale, or None
               real[:, ::1] junk,          # scratch [n_threads, 4 * BLOCK] for unwanted outputs
               real[::1] partials,         # scratch [n_rows * ceil(inner / BLOCK)]
               int n_threads,
               bint tf_rows=False):
    """sum(L * w) over all n elements, in a fixed order (block partial sums
    added in index order), and the requested per-element outputs.
    tf_rows (rows of at most BLOCK elements): partials[r] is then row r's sum
    of L * w in the order of TF's CPU Sum over the last axis (_vec.h's
    tfsum, from the block's L * w while it is in L1), for Keras' means."""
    cdef Py_ssize_t n = b.shape[0], inner, per, t, r, c0, m, off, tid
    cdef Py_ssize_t n_tasks
    cdef bint own = w.shape[0] == n and n > 1
    cdef real *jk
    cdef real *wl
    if n == 0:
        return 0.0
    if n_rows < 1 or n % n_rows or not (w.shape[0] in (1, n, n_rows)):
        raise ValueError("k_weighted: inconsistent shapes")
    if (a.shape[0] != n or (wl_out is not None and wl_out.shape[0] != n)
            or (raw_out is not None and raw_out.shape[0] != n)
            or (da_out is not None and da_out.shape[0] != n)
            or (db_out is not None and db_out.shape[0] != n)):
        raise ValueError("k_weighted: output sizes differ from the input's")
    if params.shape[0] < 4:
        raise ValueError("k_weighted: params needs 4 values")
    if junk.shape[0] < n_threads or junk.shape[1] < 4 * BLOCK:
        raise ValueError("k_weighted: junk scratch too small")
    inner = n // n_rows
    per = (inner + BLOCK - 1) // BLOCK
    n_tasks = n_rows * per
    if partials.shape[0] < n_tasks:
        raise ValueError("k_weighted: partials scratch too small")
    if tf_rows and per != 1:
        raise ValueError("k_weighted: tf_rows needs rows of at most WEIGHTED_BLOCK elements")
    for t in prange(n_tasks, schedule="static", nogil=True,
                    num_threads=n_threads, use_threads_if=n_threads > 1):
        r = t // per
        c0 = (t % per) * BLOCK
        m = min(BLOCK, inner - c0)
        off = r * inner + c0
        jk = &junk[threadid(), 0]
        wl = &wl_out[off] if wl_out is not None else jk
        partials[t] = run_kind(
            kind, own, &a[off], &b[off],
            &w[off] if own else (&w[r] if w.shape[0] == n_rows else &w[0]),
            m, &params[0], gscale, wl,
            &raw_out[off] if raw_out is not None else jk + BLOCK,
            &da_out[off] if da_out is not None else jk + 2 * BLOCK,
            &db_out[off] if db_out is not None else jk + 3 * BLOCK)
        if tf_rows:         # (a row of <= BLOCK <= 1024 packets: one leaf of TF's order)
            partials[t] = tfsum(wl, m, 0)
    return rowsum(&partials[0], n_tasks)
