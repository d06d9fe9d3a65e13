# Scalar maths and row loops for the kernels. The vectorizable loops live in
# _vec.h (gcc needs `omp simd` pragmas there); these wrappers pick the float
# or double version at compile time, so float32 stays float32.
from libc.math cimport fabs, fabsf, expl, logl, INFINITY
from _types cimport real

cdef extern from "_vec.h" nogil:
    const int CYL_BLOCK_ROWS
    float cyl_expf(float x)
    double cyl_expd(double x)
    double cyl_tf_expd(double x, int mode)
    float cyl_logf(float x)
    double cyl_logd(double x)
    float cyl_log1pf(float x)
    double cyl_log1pd(double x)
    float cyl_rowmax_f(const float *x, Py_ssize_t n)
    double cyl_rowmax_d(const double *x, Py_ssize_t n)
    float cyl_absmax_f(const float *x, Py_ssize_t n)
    double cyl_absmax_d(const double *x, Py_ssize_t n)
    float cyl_sum_f(const float *x, Py_ssize_t n)
    double cyl_sum_d(const double *x, Py_ssize_t n)
    float cyl_daz_f(float v)
    double cyl_daz_d(double v)
    float cyl_tfsum_f(const float *x, Py_ssize_t n, Py_ssize_t first)
    double cyl_tfsum_d(const double *x, Py_ssize_t n, Py_ssize_t first)
    void cyl_tfsum_cols_f(const float *x, Py_ssize_t R, Py_ssize_t B, Py_ssize_t b0,
                          Py_ssize_t b1, Py_ssize_t i0, Py_ssize_t n_out, int packets,
                          float *out)
    void cyl_tfsum_cols_d(const double *x, Py_ssize_t R, Py_ssize_t B, Py_ssize_t b0,
                          Py_ssize_t b1, Py_ssize_t i0, Py_ssize_t n_out, int packets,
                          double *out)
    float cyl_halfsumsq_f(const float *x, Py_ssize_t n)
    double cyl_halfsumsq_d(const double *x, Py_ssize_t n)
    float cyl_dot_f(const float *a, const float *b, Py_ssize_t n)
    double cyl_dot_d(const double *a, const double *b, Py_ssize_t n)
    float cyl_expsum_f(const float *x, Py_ssize_t n, float m, float *e, const float *pf)
    double cyl_expsum_d(const double *x, Py_ssize_t n, double m, double *e,
                        const double *pf)
    void cyl_div_f(const float *e, Py_ssize_t n, float d, float *y)
    void cyl_div_d(const double *e, Py_ssize_t n, double d, double *y)
    void cyl_sub_f(const float *x, Py_ssize_t n, float c, float *y)
    void cyl_sub_d(const double *x, Py_ssize_t n, double c, double *y)
    void cyl_scale_f(const float *x, Py_ssize_t n, float a, float *y)
    void cyl_scale_d(const double *x, Py_ssize_t n, double a, double *y)
    void cyl_block_softmax_f(const float *x, Py_ssize_t r, Py_ssize_t n,
                             float *m, float *s, float *p)
    void cyl_block_softmax_d(const double *x, Py_ssize_t r, Py_ssize_t n,
                             double *m, double *s, double *p)
    float cyl_xent_row_f(const float *x, const float *y, Py_ssize_t n,
                         float *dx, float *dlab, const float *pf, Py_ssize_t first)
    double cyl_xent_row_d(const double *x, const double *y, Py_ssize_t n,
                          double *dx, double *dlab, const double *pf, Py_ssize_t first)
    float cyl_sparse_xent_row_f(const float *x, Py_ssize_t n, Py_ssize_t label,
                                float *dx, const float *pf)
    double cyl_sparse_xent_row_d(const double *x, Py_ssize_t n, Py_ssize_t label,
                                 double *dx, const double *pf)
    float cyl_sparse_xent_row_nt_f(const float *x, Py_ssize_t n, Py_ssize_t label,
                                   float *dx, float *e, const float *pf)
    double cyl_sparse_xent_row_nt_d(const double *x, Py_ssize_t n, Py_ssize_t label,
                                    double *dx, double *e, const double *pf)


cdef inline real exp_(real x) noexcept nogil:
    if real is float:
        return cyl_expf(x)
    else:
        return cyl_expd(x)


cdef inline real log_(real x) noexcept nogil:
    if real is float:
        return cyl_logf(x)
    else:
        return cyl_logd(x)


cdef inline real log1p_(real x) noexcept nogil:
    if real is float:
        return cyl_log1pf(x)
    else:
        return cyl_log1pd(x)


cdef inline real rowmax(const real *x, Py_ssize_t n) noexcept nogil:
    if real is float:
        return cyl_rowmax_f(x, n)
    else:
        return cyl_rowmax_d(x, n)


cdef inline real absmax(const real *x, Py_ssize_t n) noexcept nogil:
    # max |x[k]|, NaN if an element is not finite
    if real is float:
        return cyl_absmax_f(x, n)
    else:
        return cyl_absmax_d(x, n)


cdef inline real rowsum(const real *x, Py_ssize_t n) noexcept nogil:
    if real is float:
        return cyl_sum_f(x, n)
    else:
        return cyl_sum_d(x, n)


cdef inline real tfsum(const real *x, Py_ssize_t n, Py_ssize_t first) noexcept nogil:
    # sum in the order of TF's CPU Sum kernel (_vec.h): where partial sums
    # overflow, the order decides between inf, -inf and NaN
    if real is float:
        return cyl_tfsum_f(x, n, first)
    else:
        return cyl_tfsum_d(x, n, first)


cdef inline void tfsum_cols(const real *x, Py_ssize_t R, Py_ssize_t B, Py_ssize_t b0,
                            Py_ssize_t b1, Py_ssize_t i0, Py_ssize_t n_out, bint packets,
                            real *out) noexcept nogil:
    # out[b0:b1] = column sums of the slab x [R, B] in the order of TF's CPU
    # Sum over a leading or middle axis (_vec.h)
    if real is float:
        cyl_tfsum_cols_f(x, R, B, b0, b1, i0, n_out, packets, out)
    else:
        cyl_tfsum_cols_d(x, R, B, b0, b1, i0, n_out, packets, out)


cdef inline real rowhalfsumsq(const real *x, Py_ssize_t n) noexcept nogil:
    if real is float:
        return cyl_halfsumsq_f(x, n)
    else:
        return cyl_halfsumsq_d(x, n)


cdef inline real rowdot(const real *a, const real *b, Py_ssize_t n) noexcept nogil:
    if real is float:
        return cyl_dot_f(a, b, n)
    else:
        return cyl_dot_d(a, b, n)


cdef inline real expsum(const real *x, Py_ssize_t n, real m, real *e,
                        const real *pf=NULL) noexcept nogil:
    # pf (or NULL): the next row, prefetched into L2 while this one is worked
    if real is float:
        return cyl_expsum_f(x, n, m, e, pf)
    else:
        return cyl_expsum_d(x, n, m, e, pf)


cdef inline void rowdiv(const real *e, Py_ssize_t n, real d, real *y) noexcept nogil:
    if real is float:
        cyl_div_f(e, n, d, y)
    else:
        cyl_div_d(e, n, d, y)


cdef inline void rowsub(const real *x, Py_ssize_t n, real c, real *y) noexcept nogil:
    if real is float:
        cyl_sub_f(x, n, c, y)
    else:
        cyl_sub_d(x, n, c, y)


cdef inline void rowscale(const real *x, Py_ssize_t n, real a, real *y) noexcept nogil:
    if real is float:
        cyl_scale_f(x, n, a, y)
    else:
        cyl_scale_d(x, n, a, y)


cdef inline void block_softmax(const real *x, Py_ssize_t r, Py_ssize_t n,
                               real *m, real *s, real *p) noexcept nogil:
    if real is float:
        cyl_block_softmax_f(x, r, n, m, s, p)
    else:
        cyl_block_softmax_d(x, r, n, m, s, p)


cdef inline real xent_row(const real *x, const real *y, Py_ssize_t n,
                          real *dx, real *dlab, const real *pf,
                          Py_ssize_t first) noexcept nogil:
    # first: the row's offset in TF's [rows, n] tensor (its order of additions
    # where the loss' partial sums may overflow)
    if real is float:
        return cyl_xent_row_f(x, y, n, dx, dlab, pf, first)
    else:
        return cyl_xent_row_d(x, y, n, dx, dlab, pf, first)


cdef inline real sparse_xent_row(const real *x, Py_ssize_t n, Py_ssize_t label,
                                 real *dx, const real *pf=NULL) noexcept nogil:
    # pf: the next row (prefetched while this one is worked), or NULL
    if real is float:
        return cyl_sparse_xent_row_f(x, n, label, dx, pf)
    else:
        return cyl_sparse_xent_row_d(x, n, label, dx, pf)


cdef inline real sparse_xent_row_nt(const real *x, Py_ssize_t n, Py_ssize_t label,
                                    real *dx, real *e, const real *pf) noexcept nogil:
    if real is float:
        return cyl_sparse_xent_row_nt_f(x, n, label, dx, e, pf)
    else:
        return cyl_sparse_xent_row_nt_d(x, n, label, dx, e, pf)


cdef inline real relu_(real x) noexcept nogil:
    return x if x > 0 else 0


cdef inline real fabs_(real x) noexcept nogil:
    if real is float:
        return fabsf(x)
    else:
        return fabs(x)


cdef inline real daz_(real x) noexcept nogil:
    # TF's CPU kernels treat denormal inputs as zero and flush denormal
    # results: x, or a zero of its sign when |x| is below the smallest normal
    # (_vec.h's rule, shared with its row loops)
    if real is float:
        return cyl_daz_f(x)
    else:
        return cyl_daz_d(x)


cdef inline void scale_flushed(real *d, Py_ssize_t n, real a) noexcept nogil:
    # d *= a as TF's Mul forms it on the CPU: d (a TF kernel's output, such as
    # softmax - onehot) read with denormals as 0 and the product flushed (a
    # denormal probability times an infinite factor is 0 * inf = NaN, times
    # 0.4 a denormal: 0)
    cdef Py_ssize_t k
    for k in range(n):
        d[k] = daz_(daz_(d[k]) * a)


cdef inline real clip_(real x, real lo, real hi) noexcept nogil:
    # TF's clip_by_value (NaN stays NaN)
    return lo if x < lo else (hi if x > hi else x)


cdef inline real pow_(real x, real g) noexcept nogil:
    # x^g for Keras' focal factors: exact products for small integer |g| (TF's
    # pow is correctly rounded there), else exp(g log x). Its relative error is
    # about |g log x| eps: in the dtype while |g log x| < 4, else in a wider
    # type (g log x reaches ~700 |g| near the max), so the result stays near
    # the dtype's rounding, as TF's (Eigen's) pow: float in double, double in
    # long double (libm's pow would raise the wheel's glibc floor; expl and
    # logl do not). x >= 0 in valid inputs; at -inf C's pow (TF's): +inf for
    # g > 0, +0 for g < 0 (x < 0 otherwise: NaN, as C's)
    cdef real r = 1
    cdef int i, n
    if -8 <= g <= 8 and g == <int>g:      # range first: <int> of NaN or 1e30 is undefined
        n = <int>g
        for i in range(n if n >= 0 else -n):
            r = r * x
        return r if n >= 0 else (<real>1) / r
    if x == -INFINITY:
        x = INFINITY
    cdef real t = g * log_(x)
    if -4 < t < 4:      # (the dtype's own rounding of t then costs a few eps at most)
        return exp_(t)
    if real is float:
        return <float>cyl_expd(<double>g * cyl_logd(<double>x))
    else:
        return <double>expl(<long double>g * logl(<long double>x))


# Shared by _pointwise (sigmoid xent) and _sampled (NCE).
cdef inline real pt_sigmoid_xent(real z, real x, real *dx) noexcept nogil:
    # TF's stable form, branch on x >= 0:
    #   value = relu(x) - x*z + log1p(exp(-|x|))
    #   dx    = [x >= 0] - z + (x >= 0 ? -1 : +1) * e/(1+e),  e = exp(-|x|)
    # (= sigmoid(x) - z; 0.5 - z at x = 0; finite at x = +-inf)
    # A denormal label is 0 (TF's CPU Mul reads it as 0, DAZ): x*z is 0 for a
    # huge x, and NaN (inf * 0) for x = +-inf.
    cdef real one = 1, zero = 0          # typed: a bare 1 is a C double
    cdef real e = exp_(-fabs_(x))
    cdef real t = e / (one + e)
    z = daz_(z)
    if x >= 0:
        dx[0] = (one - z) - t
        return (x - x * z) + log1p_(e)
    dx[0] = -z + t
    return (zero - x * z) + log1p_(e)
