/*
 * cyloss vector primitives: branch-free exp and log, and the row loops of the
 * softmax family, written so that gcc vectorizes them at every SIMD level.
 *
 * Everything here is generated twice by CYL_DEFINE, for float (suffix f) and
 * double (suffix d); float stays float, as TensorFlow's CPU kernels do.
 *
 * Determinism: sums use CYL_LANES fixed accumulators combined by a fixed tree,
 * so a row's result depends on nothing but its values (not on the thread
 * count, the address alignment or the vector width). Long rows are summed in
 * chunks of CYL_CHUNK elements whose sums are combined pairwise (a binary
 * counter), so the rounding error grows like CYL_CHUNK/CYL_LANES + log2(n)
 * rather than n/CYL_LANES (a 16.8M-class float32 row stays within ~1e-6). The build disables FMA
 * contraction (-ffp-contract=off), so every SIMD level gives the same bits.
 */
#ifndef CYLOSS_VEC_H
#define CYLOSS_VEC_H

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <stddef.h>
#if defined(__SSE2__)
#include <immintrin.h>
#endif

#define CYL_LANES 16
#define CYL_BLOCK_ROWS 64
#define CYL_CHUNK 2048

/* ------------------------------------------------------------------ exp --
 * exp(x) = 2^n * exp(r), n = round(x / ln2), r = x - n*ln2 in [-ln2/2, ln2/2]
 * (Cody-Waite: ln2 split so that n*LN2_HI is exact). exp(r) by its Taylor
 * polynomial: degree 7 for float (truncation < 0.1 ulp), degree 13 for double.
 * 2^n is built from exponent bits in two halves so that n = 128 (float) or
 * 1024 (double) does not overflow the exponent field.
 * Results below the normal range (x < ln(FLT_MIN) / ln(DBL_MIN)) are flushed
 * to +0, as TF's Eigen kernels do; x > ln(MAX) gives +inf; NaN propagates.
 * n is rounded with the 1.5*2^23 (1.5*2^52) shifter, which needs no
 * rounding instruction and so vectorizes on plain SSE2.
 */
/* The shared core: n = round(x / ln2) and p = exp(x - n ln2), for x >= lo. */
static inline float cyl_exp_core_f(float xc, int32_t *n)
{
    const float shifter = 12582912.0f;     /* 1.5 * 2^23 */
    float t = xc * 1.44269504088896341f + shifter;
    float nf = t - shifter;
    int32_t ti;
    memcpy(&ti, &t, sizeof ti);
    *n = ti - 0x4b400000;                  /* bits of the shifter */
    float r = xc - nf * 0.693359375f;      /* LN2_HI: 9 significant bits */
    r = r - nf * -2.12194440e-4f;          /* LN2_LO = ln2 - LN2_HI */
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    return p;
}

static inline float cyl_pow2f(int32_t n)    /* 2^n for -126 <= n <= 127 */
{
    uint32_t b = (uint32_t)(n + 127) << 23;
    float s;
    memcpy(&s, &b, sizeof s);
    return s;
}

static inline float cyl_expf(float x)
{
    const float lo = -87.3365447504f;      /* ln(FLT_MIN) */
    const float hi = 88.7228391117f;       /* ln(FLT_MAX) */
    float xc = x < lo ? lo : x;
    xc = xc > hi ? hi : xc;
    int32_t n;
    float p = cyl_exp_core_f(xc, &n);
    int32_t n1 = n >> 1;                   /* n = 128 needs two factors */
    float res = p * cyl_pow2f(n1) * cyl_pow2f(n - n1);
    res = x < lo ? 0.0f : res;
    res = x > hi ? (float)INFINITY : res;
    return res;
}

/* exp(x) for x <= 88 (float) / 709 (double), as in exp(x - rowmax) where
 * x - rowmax <= 0: without the overflow clamp and select, and with 2^n in one
 * factor (-126 <= n <= 127 fits the exponent field); ~10% fewer instructions.
 * The same bits as cyl_expf / cyl_expd on that range (checked on every float
 * <= 88 and NaN, and on 2e8 sampled doubles). */
static inline float cyl_expnegf(float x)
{
    const float lo = -87.3365447504f;
    float xc = x < lo ? lo : x;
    int32_t n;
    float p = cyl_exp_core_f(xc, &n);
    float res = p * cyl_pow2f(n);
    return x < lo ? 0.0f : res;
}

static inline double cyl_exp_core_d(double xc, int64_t *n)
{
    const double shifter = 6755399441055744.0;  /* 1.5 * 2^52 */
    double t = xc * 1.4426950408889634074 + shifter;
    double nf = t - shifter;
    int64_t ti;
    memcpy(&ti, &t, sizeof ti);
    *n = ti - (int64_t)0x4338000000000000LL;
    double r = xc - nf * 6.93147180369123816490e-01;  /* LN2_HI: 32 bits */
    r = r - nf * 1.90821492927058770002e-10;          /* LN2_LO */
    double p = 1.0 / 6227020800.0;                    /* 1/13! */
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    return p;
}

static inline double cyl_pow2d(int64_t n)   /* 2^n for -1022 <= n <= 1023 */
{
    uint64_t b = (uint64_t)(n + 1023) << 52;
    double s;
    memcpy(&s, &b, sizeof s);
    return s;
}

static inline double cyl_expd(double x)
{
    const double lo = -708.39641853226410622;   /* ln(DBL_MIN) */
    const double hi = 709.78271289338399673;    /* ln(DBL_MAX) */
    double xc = x < lo ? lo : x;
    xc = xc > hi ? hi : xc;
    int64_t n;
    double p = cyl_exp_core_d(xc, &n);
    int64_t n1 = n >> 1;
    double res = p * cyl_pow2d(n1) * cyl_pow2d(n - n1);
    res = x < lo ? 0.0 : res;
    res = x > hi ? (double)INFINITY : res;
    return res;
}

static inline double cyl_expnegd(double x)
{
    const double lo = -708.39641853226410622;
    double xc = x < lo ? lo : x;
    int64_t n;
    double p = cyl_exp_core_d(xc, &n);
    double res = p * cyl_pow2d(n);
    return x < lo ? 0.0 : res;
}

/* exp(x) as TF's float64 CPU kernels compute it where the last bit decides
 * (tf.sigmoid's e^x / (1 + e^x) is exactly 1 or not for x in about
 * [36.7, 37.5]): TF evaluates whole packets of 4 with Eigen's vector exp and
 * the last n % 4 elements of the tensor with the C library's exp. The packet
 * one, lane by lane: n = floor(x log2(e) + 1/2), r = x - n C1 - n C2 (ln 2 in
 * two parts), the cephes rational approximation exp(r) = 1 + 2 r P(r^2) /
 * (Q(r^2) - r P(r^2)), times 2^n; every multiply-add rounds twice (TF's
 * wheels are built without FMA; so is cyloss). Matched bit for bit with TF
 * 2.21's tf.sigmoid over [36, 38.5] (tests/test_special_kerasxent.py).
 * `mode`: 0 cyloss' exp, 1 the packet exp, 2 the C library's. */
static inline double cyl_eigen_packet_expd(double x)
{
    if (!(x >= -745.519))
        return x != x ? x : 0.0;        /* NaN, or below the range: 0 */
    double c = x > 709.784 ? 709.784 : x;
    double n = floor(1.4426950408889634073599 * c + 0.5);
    double r = c - n * 0.693145751953125;
    r = r - n * 1.42860682030941723212e-6;
    double r2 = r * r;
    double pp = 1.26177193074810590878e-4 * r2 + 3.02994407707441961300e-2;
    pp = (pp * r2 + 9.99999999999999999910e-1) * r;
    double q = 3.00198505138664455042e-6 * r2 + 2.52448340349684104192e-3;
    q = q * r2 + 2.27265548208155028766e-1;
    q = q * r2 + 2.00000000000000000009e0;
    double e = ldexp(2.0 * (pp / (q - pp)) + 1.0, (int)n);
    return e > x ? e : x;               /* max(e, x): inf at x = inf */
}

static inline double cyl_tf_expd(double x, int mode)
{
    return mode == 1 ? cyl_eigen_packet_expd(x) : (mode == 2 ? exp(x) : cyl_expd(x));
}

/* ------------------------------------------------------------------ log --
 * x = 2^e * m with m in [sqrt(1/2), sqrt(2)); f = m - 1 (exact), s = f/(2+f):
 * log(m) = 2 atanh(s) = 2s + 2s*R(s^2),  R = s^2/3 + s^4/5 + ...
 * and since 2s = f - s*f:  log(m) = f - s*(f - 2R)  (the rounding of s only
 * touches the small correction). Series to s^8 (float) / s^20 (double):
 * |s| <= 0.172 leaves a truncation error below 0.05 ulp.
 * log(x) = e*LN2_HI + (e*LN2_LO + log(m)). Subnormals are rescaled first;
 * 0 -> -inf, x < 0 -> NaN, +inf -> +inf, NaN -> NaN.
 */
static inline float cyl_logf(float x)
{
    const float tiny = 1.17549435e-38f;    /* FLT_MIN */
    int sub = x < tiny;
    float xs = sub ? x * 8388608.0f : x;   /* 2^23 */
    int32_t ix;
    memcpy(&ix, &xs, sizeof ix);
    int32_t e = ((ix >> 23) & 0xff) - 127 - (sub ? 23 : 0);
    uint32_t mb = ((uint32_t)ix & 0x007fffffu) | 0x3f800000u;
    float m;
    memcpy(&m, &mb, sizeof m);
    int big = m > 1.41421356f;
    m = big ? m * 0.5f : m;
    e = e + big;
    float f = m - 1.0f;
    float s = f / (2.0f + f);
    float z = s * s;
    float R = 1.0f / 9.0f;
    R = R * z + 1.0f / 7.0f;
    R = R * z + 1.0f / 5.0f;
    R = R * z + 1.0f / 3.0f;
    R = R * z;
    float lm = f - s * (f - 2.0f * R);
    float ef = (float)e;
    float res = ef * 0.693359375f + (ef * -2.12194440e-4f + lm);
    res = x == 0.0f ? -(float)INFINITY : res;
    res = x < 0.0f ? (float)NAN : res;
    res = x == (float)INFINITY ? (float)INFINITY : res;
    res = x != x ? x : res;
    return res;
}

static inline double cyl_logd(double x)
{
    const double tiny = 2.2250738585072014e-308;   /* DBL_MIN */
    int sub = x < tiny;
    double xs = sub ? x * 4503599627370496.0 : x;  /* 2^52 */
    int64_t ix;
    memcpy(&ix, &xs, sizeof ix);
    int64_t e = ((ix >> 52) & 0x7ff) - 1023 - (sub ? 52 : 0);
    uint64_t mb = ((uint64_t)ix & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL;
    double m;
    memcpy(&m, &mb, sizeof m);
    int big = m > 1.4142135623730951;
    m = big ? m * 0.5 : m;
    e = e + big;
    double f = m - 1.0;
    double s = f / (2.0 + f);
    double z = s * s;
    double R = 1.0 / 21.0;
    R = R * z + 1.0 / 19.0;
    R = R * z + 1.0 / 17.0;
    R = R * z + 1.0 / 15.0;
    R = R * z + 1.0 / 13.0;
    R = R * z + 1.0 / 11.0;
    R = R * z + 1.0 / 9.0;
    R = R * z + 1.0 / 7.0;
    R = R * z + 1.0 / 5.0;
    R = R * z + 1.0 / 3.0;
    R = R * z;
    double lm = f - s * (f - 2.0 * R);
    double ef = (double)e;
    double res = ef * 6.93147180369123816490e-01 + (ef * 1.90821492927058770002e-10 + lm);
    res = x == 0.0 ? -(double)INFINITY : res;
    res = x < 0.0 ? (double)NAN : res;
    res = x == (double)INFINITY ? (double)INFINITY : res;
    res = x != x ? x : res;
    return res;
}

/* log1p(a) = log(u) + (a - (u - 1)) / u with u = fl(1 + a): the second term
 * restores what rounding 1 + a lost (exact for a below eps/2). a > -1. */
static inline float cyl_log1pf(float a)
{
    float u = 1.0f + a;
    return cyl_logf(u) + (a - (u - 1.0f)) / u;
}

static inline double cyl_log1pd(double a)
{
    double u = 1.0 + a;
    return cyl_logd(u) + (a - (u - 1.0)) / u;
}

#if defined(__GNUC__)
#define cyl_prefetch_l2(p) __builtin_prefetch((p), 0, 2)
#else
#define cyl_prefetch_l2(p) ((void)(p))
#endif

/* Body of a chunked fixed-order sum over k in [0, n): TERM is the summand
 * expression of element k in the vector loop, TAIL the same for the tail.
 * CYL_CHUNKED_PF also prefetches PF[k] (when PF is not NULL) into L2 as it
 * goes: the next row, fetched from memory while this one is computed. */
#define CYL_CHUNKED(T, S, TERM, TAIL) CYL_CHUNKED_PF(T, S, TERM, TAIL, (const T *)0)
#define CYL_CHUNKED_PF(T, S, TERM, TAIL, PF)                                  \
    cyl_cascade_##S casc;                                                     \
    casc.top = 0;                                                             \
    for (ptrdiff_t c0 = 0; c0 < n || c0 == 0; c0 += CYL_CHUNK) {              \
        ptrdiff_t c1 = n - c0 < CYL_CHUNK ? n : c0 + CYL_CHUNK;               \
        T acc[CYL_LANES] = {0};                                               \
        ptrdiff_t nb = c1 - (c1 - c0) % CYL_LANES, k;                         \
        for (k = c0; k < nb; k += CYL_LANES) {                                \
            if (PF)                                                           \
                for (size_t b = 0; b < CYL_LANES * sizeof(T); b += 64)        \
                    cyl_prefetch_l2((const char *)((PF) + k) + b);            \
            for (int j = 0; j < CYL_LANES; j++) {                             \
                ptrdiff_t kk = k + j;                                         \
                { ptrdiff_t k = kk; acc[j] += (TERM); }                       \
            }                                                                 \
        }                                                                     \
        for (; k < c1; k++)                                                   \
            acc[k - nb] += (TAIL);                                            \
        if (c1 == n && casc.top == 0)                                         \
            return cyl_lanesum_##S(acc);                                      \
        cyl_cascade_push_##S(&casc, cyl_lanesum_##S(acc));                    \
        if (c1 == n)                                                          \
            break;                                                            \
    }                                                                         \
    return cyl_cascade_done_##S(&casc);

/* A denormal v as a zero of its sign: TF's CPU kernels read denormal inputs
 * as zero (DAZ) and flush denormal results (FTZ). */
static inline float cyl_daz_f(float v)
{
    return (v < FLT_MIN && v > -FLT_MIN) ? v * 0.0f : v;
}
static inline double cyl_daz_d(double v)
{
    return (v < DBL_MIN && v > -DBL_MIN) ? v * 0.0 : v;
}
/* The same for a quotient of exponentials (>= 0 or NaN): one comparison. */
static inline float cyl_ftzq_f(float q)
{
    return q < FLT_MIN ? 0.0f : q;
}
static inline double cyl_ftzq_d(double q)
{
    return q < DBL_MIN ? 0.0 : q;
}

/* ------------------------------------------------------- streamed division --
 * y[k] = e[k] / d written with non-temporal stores (the aligned middle of y;
 * the ends with plain stores), for gradients far larger than the caches: the
 * store then costs no read of y's old contents, and the output does not evict
 * the input rows still to come. The vector divisions are IEEE divisions, the
 * same bits as the plain loop; a denormal quotient is 0, as TF's CPU flushes
 * it (cyl_ftzq). Ends with a store fence, so the row is ordered before
 * whatever follows (the parallel region's end publishes it). */
#if defined(__AVX512F__)
#define CYL_NT_BYTES 64
/* r (a quotient of exponentials: >= 0 or NaN) where r >= the smallest
 * normal or is NaN, else 0 (cyl_ftzq) */
#define CYL_NT_FLUSH(P, r, tiny)                                              \
    _mm512_maskz_mov_##P(_mm512_cmp_##P##_mask(r, tiny, _CMP_NLT_UQ), r)
#define CYL_NT_PS(y, e, d) _mm512_stream_ps((y), CYL_NT_FLUSH(ps,                 \
    _mm512_div_ps(_mm512_loadu_ps(e), (d)), _mm512_set1_ps(FLT_MIN)))
#define CYL_NT_PD(y, e, d) _mm512_stream_pd((y), CYL_NT_FLUSH(pd,                 \
    _mm512_div_pd(_mm512_loadu_pd(e), (d)), _mm512_set1_pd(DBL_MIN)))
#define CYL_NT_SET1_PS _mm512_set1_ps
#define CYL_NT_SET1_PD _mm512_set1_pd
typedef __m512 cyl_nt_vf;
typedef __m512d cyl_nt_vd;
#elif defined(__AVX__)
#define CYL_NT_BYTES 32
#define CYL_NT_FLUSH(P, r, tiny)                                              \
    _mm256_and_##P(r, _mm256_cmp_##P(r, tiny, _CMP_NLT_UQ))
#define CYL_NT_PS(y, e, d) _mm256_stream_ps((y), CYL_NT_FLUSH(ps,                 \
    _mm256_div_ps(_mm256_loadu_ps(e), (d)), _mm256_set1_ps(FLT_MIN)))
#define CYL_NT_PD(y, e, d) _mm256_stream_pd((y), CYL_NT_FLUSH(pd,                 \
    _mm256_div_pd(_mm256_loadu_pd(e), (d)), _mm256_set1_pd(DBL_MIN)))
#define CYL_NT_SET1_PS _mm256_set1_ps
#define CYL_NT_SET1_PD _mm256_set1_pd
typedef __m256 cyl_nt_vf;
typedef __m256d cyl_nt_vd;
#elif defined(__SSE2__)
#define CYL_NT_BYTES 16
#define CYL_NT_FLUSH(P, r, tiny)                                              \
    _mm_and_##P(r, _mm_cmpnlt_##P(r, tiny))
#define CYL_NT_PS(y, e, d) _mm_stream_ps((y), CYL_NT_FLUSH(ps,                    \
    _mm_div_ps(_mm_loadu_ps(e), (d)), _mm_set1_ps(FLT_MIN)))
#define CYL_NT_PD(y, e, d) _mm_stream_pd((y), CYL_NT_FLUSH(pd,                    \
    _mm_div_pd(_mm_loadu_pd(e), (d)), _mm_set1_pd(DBL_MIN)))
#define CYL_NT_SET1_PS _mm_set1_ps
#define CYL_NT_SET1_PD _mm_set1_pd
typedef __m128 cyl_nt_vf;
typedef __m128d cyl_nt_vd;
#endif

#define CYL_DIV_STREAM(T, S, V, NT, SET1)                                     \
static inline void cyl_div_stream_##S(const T *e, ptrdiff_t n, T d, T *y)     \
{                                                                             \
    const ptrdiff_t w = CYL_NT_BYTES / (ptrdiff_t)sizeof(T);                  \
    ptrdiff_t k = 0;                                                          \
    while (k < n && ((uintptr_t)(y + k) % CYL_NT_BYTES) != 0) {               \
        y[k] = cyl_ftzq_##S(e[k] / d);                                         \
        k++;                                                                  \
    }                                                                         \
    if ((uintptr_t)(y + k) % CYL_NT_BYTES == 0) {                             \
        const V dv = SET1(d);                                                 \
        for (; k + w <= n; k += w)                                            \
            NT(y + k, e + k, dv);                                             \
        _mm_sfence();                                                         \
    }                                                                         \
    for (; k < n; k++)                                                        \
        y[k] = cyl_ftzq_##S(e[k] / d);                                         \
}
#if defined(CYL_NT_BYTES)
CYL_DIV_STREAM(float, f, cyl_nt_vf, CYL_NT_PS, CYL_NT_SET1_PS)
CYL_DIV_STREAM(double, d, cyl_nt_vd, CYL_NT_PD, CYL_NT_SET1_PD)
#else                           /* no x86 streaming stores: plain division */
static inline void cyl_div_stream_f(const float *e, ptrdiff_t n, float d, float *y)
{
    for (ptrdiff_t k = 0; k < n; k++)
        y[k] = cyl_ftzq_f(e[k] / d);
}
static inline void cyl_div_stream_d(const double *e, ptrdiff_t n, double d, double *y)
{
    for (ptrdiff_t k = 0; k < n; k++)
        y[k] = cyl_ftzq_d(e[k] / d);
}
#endif
#undef CYL_DIV_STREAM

/* ------------------------------------------------ TensorFlow's sum order --
 * sum_k x[k] added in the order of TF's CPU Sum kernel (Eigen's inner-most
 * reduction as compiled into TF's x86 wheels: 32-byte packets, P = 8 floats
 * or 4 doubles; checked bit for bit against tf.reduce_sum). Where a sum's
 * partial sums overflow (values near the maximum of both signs), only this
 * order gives TF's inf, -inf or NaN. `first` is the row's offset in the
 * tensor: TF splits a long row at a packet boundary counted from there.
 *  - A row of more than 1024 P elements: two parts, the first ending at the
 *    packet boundary at or after its middle; each part summed the same way;
 *    then 0 + left + right.
 *  - Otherwise: whole blocks of 4 P into four packet accumulators, which are
 *    then added (((a0 + a1) + a2) + a3); the whole packets left into a0; the
 *    last n mod P elements added one by one from 0; that scalar plus the lanes
 *    of a0 folded in halves (lane j + lane j + P/2, and again).
 * Same operations at every SIMD level (gcc vectorizes the lane loops).
 * TF shards reductions of more than about 10^5 elements across its threads;
 * this is its one-thread order. */
#define CYL_STRIP(...) __VA_ARGS__
/* The order above for sum_k TERM over k in [k0, k0 + n), TERM an expression
 * in k and the PARAMS (parenthesized, passed on as ARGS): defines
 * cyl_NAME_leaf and cyl_NAME (the whole order, `first` as above). */
#define CYL_TFSUM_OF(T, NAME, PARAMS, ARGS, TERM)                             \
static inline T NAME##_leaf(CYL_STRIP PARAMS, ptrdiff_t k0, ptrdiff_t n)      \
{                                                                             \
    enum { P = 32 / sizeof(T) };                                              \
    T acc[4 * P] = {0};                                                       \
    ptrdiff_t i = 0;                                                          \
    if (n >= 4 * P) {                                                         \
        const ptrdiff_t n4 = n - n % (4 * P);                                 \
        for (; i < n4; i += 4 * P)                                            \
            for (int j = 0; j < 4 * P; j++) {                                 \
                const ptrdiff_t k = k0 + i + j;                               \
                acc[j] += (TERM);                                             \
            }                                                                 \
        for (int j = 0; j < P; j++)                                           \
            acc[j] = ((acc[j] + acc[P + j]) + acc[2 * P + j]) + acc[3 * P + j]; \
    }                                                                         \
    for (; i + P <= n; i += P)                                                \
        for (int j = 0; j < P; j++) {                                         \
            const ptrdiff_t k = k0 + i + j;                                   \
            acc[j] += (TERM);                                                 \
        }                                                                     \
    T tail = 0;                                                               \
    for (; i < n; i++) {                                                      \
        const ptrdiff_t k = k0 + i;                                           \
        tail += (TERM);                                                       \
    }                                                                         \
    for (int w = P / 2; w > 0; w /= 2)                                        \
        for (int j = 0; j < w; j++)                                           \
            acc[j] += acc[j + w];                                             \
    return tail + acc[0];                                                     \
}                                                                             \
static T NAME(CYL_STRIP PARAMS, ptrdiff_t k0, ptrdiff_t n, ptrdiff_t first)   \
{                                                                             \
    const ptrdiff_t P = 32 / (ptrdiff_t)sizeof(T);                            \
    if (n <= 1024 * P)                                                        \
        return NAME##_leaf(CYL_STRIP ARGS, k0, n);                            \
    const ptrdiff_t split = P * ((first + (n + 1) / 2 + P - 1) / P);          \
    const ptrdiff_t left = split - first < n ? split - first : n;             \
    T s = (T)0 + NAME(CYL_STRIP ARGS, k0, left, first);                       \
    if (left < n)                                                             \
        s = s + NAME(CYL_STRIP ARGS, k0 + left, n - left, split);             \
    return s;                                                                 \
}

#define CYL_TFSUM(T, S)                                                       \
CYL_TFSUM_OF(T, cyl_tfsum_at_##S, (const T *x), (x), x[k])                    \
static inline T cyl_tfsum_##S(const T *x, ptrdiff_t n, ptrdiff_t first)       \
{                                                                             \
    return cyl_tfsum_at_##S(x, 0, n, first);                                  \
}                                                                             \
/* Sums over a leading or middle axis: x is one slab [R, B] of a tensor       \
 * reduced to [A, B] (row stride B), out[b] = sum_j x[j, b] for b in [b0, b1). \
 * i0 = a * B is the slab's first output index, n_out = A * B. TF evaluates   \
 * the output in packets of P from index 0: a packet that lies inside one    \
 * slab and ends by n_out adds, when R >= 16, rows j = 0 mod 4 .. 3 mod 4    \
 * into four packet accumulators, then ((a0 + a1) + a2) + a3 and the last    \
 * R mod 4 rows; every other output adds its rows one by one from 0 (as all   \
 * outputs do when `packets` is 0: TF's generic reduction). Both orders are  \
 * kept for W columns at a time while the rows stream past (row-major reads); \
 * each output then takes the one TF uses for it. */                          \
static void cyl_tfsum_cols_##S(const T *x, ptrdiff_t R, ptrdiff_t B,          \
                               ptrdiff_t b0, ptrdiff_t b1, ptrdiff_t i0,      \
                               ptrdiff_t n_out, int packets, T *out)          \
{                                                                             \
    enum { P = 32 / sizeof(T), W = 256 };                                     \
    const int four = packets && R >= 16;                                      \
    const ptrdiff_t R4 = R - R % 4;                                           \
    for (ptrdiff_t c = b0; c < b1; c += W) {                                  \
        const ptrdiff_t w = b1 - c < W ? b1 - c : W;                          \
        T one[W], a[4][W];                                                    \
        for (int l = 0; l < w; l++)                                           \
            one[l] = a[0][l] = a[1][l] = a[2][l] = a[3][l] = 0;               \
        for (ptrdiff_t j = 0; j < R; j++) {                                   \
            const T *row = x + j * B + c;                                     \
            for (int l = 0; l < w; l++)                                       \
                one[l] += row[l];                                             \
            if (!four)                                                        \
                continue;                                                     \
            if (j == R4)                                                      \
                for (int l = 0; l < w; l++)                                   \
                    a[0][l] = ((a[0][l] + a[1][l]) + a[2][l]) + a[3][l];      \
            T *acc = a[j < R4 ? j % 4 : 0];                                   \
            for (int l = 0; l < w; l++)                                       \
                acc[l] += row[l];                                             \
        }                                                                     \
        if (four && R4 == R)                                                  \
            for (int l = 0; l < w; l++)                                       \
                a[0][l] = ((a[0][l] + a[1][l]) + a[2][l]) + a[3][l];          \
        for (int l = 0; l < w; l++) {                                         \
            const ptrdiff_t i = i0 + c + l, s = i - i % P;                    \
            const int in_packet = four && s >= i0 && s - i0 + P <= B          \
                                  && s + P <= n_out;                          \
            out[c + l] = in_packet ? a[0][l] : one[l];                        \
        }                                                                     \
    }                                                                         \
}
CYL_TFSUM(float, f)
CYL_TFSUM(double, d)
#undef CYL_TFSUM

/* ------------------------------------------------------------ row loops -- */
#define CYL_DEFINE(T, S)                                                      \
                                                                              \
/* Fixed-tree sum of the CYL_LANES accumulators. */                           \
static inline T cyl_lanesum_##S(T *acc)                                       \
{                                                                             \
    for (int w = CYL_LANES / 2; w > 0; w /= 2)                                \
        for (int j = 0; j < w; j++)                                           \
            acc[j] += acc[j + w];                                             \
    return acc[0];                                                            \
}                                                                             \
                                                                              \
/* Largest element (NaN entries are skipped: they poison the row later). */  \
static inline T cyl_rowmax_##S(const T *x, ptrdiff_t n)                       \
{                                                                             \
    T m = -(T)INFINITY;                                                       \
    _Pragma("omp simd reduction(max:m)")                                      \
    for (ptrdiff_t k = 0; k < n; k++)                                         \
        m = x[k] > m ? x[k] : m;                                              \
    return m;                                                                 \
}                                                                             \
                                                                              \
/* Largest |x[k]|; NaN when an element is NaN or infinite (a bound that     \
 * says "not finite", for the callers' may-overflow checks). */             \
static inline T cyl_absmax_##S(const T *x, ptrdiff_t n)                       \
{                                                                             \
    T m = 0, z = 0;                                                           \
    _Pragma("omp simd reduction(max:m) reduction(+:z)")                       \
    for (ptrdiff_t k = 0; k < n; k++) {                                       \
        T a = x[k] < 0 ? -x[k] : x[k];                                        \
        m = a > m ? a : m;                                                    \
        z += x[k] * (T)0;                                                     \
    }                                                                         \
    return m + z;                                                             \
}                                                                             \
                                                                              \
/* Pairwise combination of chunk sums: push the chunk sums in order; equal   \
 * levels merge (a binary counter), cyl_cascade_done adds what is left. */   \
typedef struct { T s[64]; int lv[64]; int top; } cyl_cascade_##S;             \
static inline void cyl_cascade_push_##S(cyl_cascade_##S *c, T v)              \
{                                                                             \
    int lv = 0;                                                               \
    while (c->top > 0 && c->lv[c->top - 1] == lv) {                           \
        v = c->s[c->top - 1] + v;                                             \
        c->top--;                                                             \
        lv++;                                                                 \
    }                                                                         \
    c->s[c->top] = v;                                                         \
    c->lv[c->top] = lv;                                                       \
    c->top++;                                                                 \
}                                                                             \
static inline T cyl_cascade_done_##S(cyl_cascade_##S *c)                      \
{                                                                             \
    if (c->top == 0)                                                          \
        return (T)0;                                                          \
    T r = c->s[c->top - 1];                                                   \
    for (int i = c->top - 2; i >= 0; i--)                                     \
        r = c->s[i] + r;                                                      \
    return r;                                                                 \
}                                                                             \
                                                                              \
/* The lane loops of one chunk [c0, c1): TERM(k) is the summand of element k \
 * (it may store side outputs). A row of at most CYL_CHUNK elements is one   \
 * chunk: its sum is the lane tree's, as before chunking. */                 \
                                                                              \
/* sum_k x[k] in a fixed order. */                                            \
static inline T cyl_sum_##S(const T *x, ptrdiff_t n)                          \
{                                                                             \
    CYL_CHUNKED(T, S, x[k], x[k])                                             \
}                                                                             \
                                                                              \
/* sum_k (x[k]*x[k]) * 0.5 in a fixed order (halving each square, as TF's  \
 * l2_loss does, so the sum overflows only where TF's does). */              \
static inline T cyl_halfsumsq_##S(const T *x, ptrdiff_t n)                    \
{                                                                             \
    CYL_CHUNKED(T, S, (x[k] * x[k]) * (T)0.5, (x[k] * x[k]) * (T)0.5)         \
}                                                                             \
                                                                              \
/* sum_k a[k]*b[k] in a fixed order. */                                       \
static inline T cyl_dot_##S(const T *a, const T *b, ptrdiff_t n)              \
{                                                                             \
    CYL_CHUNKED(T, S, a[k] * b[k], a[k] * b[k])                               \
}                                                                             \
                                                                              \
/* e[k] = exp(x[k] - m) (stored only if e != NULL); returns sum_k e[k].      \
 * m is the row max, so x[k] - m <= 0 (or NaN). pf: NULL, or the next row,   \
 * prefetched into L2 meanwhile (it is read from memory next). */            \
static inline T cyl_expsum_##S(const T *x, ptrdiff_t n, T m, T *e,            \
                               const T *pf)                                   \
{                                                                             \
    if (e) {                                                                  \
        CYL_CHUNKED_PF(T, S, (e[k] = cyl_expneg##S(x[k] - m)),                \
                       (e[k] = cyl_expneg##S(x[k] - m)), pf)                  \
    }                                                                         \
    CYL_CHUNKED_PF(T, S, cyl_expneg##S(x[k] - m), cyl_expneg##S(x[k] - m), pf) \
}                                                                             \
                                                                              \
/* y[k] = e[k] / d  (softmax from the exponentials; TF divides too, and     \
 * flushes a denormal quotient). */                                           \
static inline void cyl_div_##S(const T *e, ptrdiff_t n, T d, T *y)            \
{                                                                             \
    for (ptrdiff_t k = 0; k < n; k++)                                         \
        y[k] = cyl_ftzq_##S(e[k] / d);                                         \
}                                                                             \
                                                                              \
/* y[k] = x[k] - c */                                                         \
static inline void cyl_sub_##S(const T *x, ptrdiff_t n, T c, T *y)            \
{                                                                             \
    for (ptrdiff_t k = 0; k < n; k++)                                         \
        y[k] = x[k] - c;                                                      \
}                                                                             \
                                                                              \
/* y[k] = a * x[k] */                                                         \
static inline void cyl_scale_##S(const T *x, ptrdiff_t n, T a, T *y)          \
{                                                                             \
    for (ptrdiff_t k = 0; k < n; k++)                                         \
        y[k] = a * x[k];                                                      \
}                                                                             \
                                                                              \
/* Small class counts (n < CYL_LANES): rows i0..i0+r-1 of a row-major        \
 * [*, n] block, worked on transposed (e[k][i]) so that every step runs      \
 * across the r rows in full vectors: the row max, one exp per entry, the    \
 * lane tree (its first level adds e[j] + e[j + 8], missing lanes are exact  \
 * zeros) and the division. m[i], sum[i] and the optional softmax p come out   \
 * bit-identical to cyl_rowmax / cyl_expsum / cyl_div (same operations in the  \
 * same order per row), so the path taken never changes a result. */         \
static inline void cyl_block_softmax_##S(const T *x, ptrdiff_t r, ptrdiff_t n, \
                                         T *m, T *sum, T *p)                  \
{                                                                             \
    T e[CYL_LANES][CYL_BLOCK_ROWS];                                           \
    T a[CYL_LANES / 2][CYL_BLOCK_ROWS];                                       \
    const int half = CYL_LANES / 2;                                           \
    ptrdiff_t i, k;                                                           \
    for (i = 0; i < r; i++)                                                   \
        for (k = 0; k < n; k++)                                               \
            e[k][i] = x[i * n + k];                                           \
    for (i = 0; i < r; i++)                                                   \
        m[i] = -(T)INFINITY;                                                  \
    for (k = 0; k < n; k++)                                                   \
        for (i = 0; i < r; i++)                                               \
            m[i] = e[k][i] > m[i] ? e[k][i] : m[i];                           \
    for (k = 0; k < n; k++)                                                   \
        for (i = 0; i < r; i++)                                               \
            e[k][i] = cyl_expneg##S(e[k][i] - m[i]);                          \
    for (int j = 0; j < half; j++) {                                          \
        if (j + half < n)                                                     \
            for (i = 0; i < r; i++)                                           \
                a[j][i] = e[j][i] + e[j + half][i];                           \
        else if (j < n)                                                       \
            for (i = 0; i < r; i++)                                           \
                a[j][i] = e[j][i];                                            \
        else                                                                  \
            for (i = 0; i < r; i++)                                           \
                a[j][i] = 0;                                                  \
    }                                                                         \
    for (int w = half / 2; w > 0; w /= 2)                                     \
        for (int j = 0; j < w; j++)                                           \
            for (i = 0; i < r; i++)                                           \
                a[j][i] += a[j + w][i];                                       \
    for (i = 0; i < r; i++)                                                   \
        sum[i] = a[0][i];                                                     \
    if (p) {                                                                  \
        for (k = 0; k < n; k++)                                               \
            for (i = 0; i < r; i++)                                           \
                e[k][i] = cyl_ftzq_##S(e[k][i] / sum[i]);                      \
        for (i = 0; i < r; i++)                                               \
            for (k = 0; k < n; k++)                                           \
                p[i * n + k] = e[k][i];                                       \
    }                                                                         \
}                                                                             \
static inline T cyl_keep_top_##S(T *top, T t)   /* t; *top = max(*top, |t|) */ \
{                                                                             \
    T a = t < 0 ? -t : t;                                                     \
    *top = a > *top ? a : *top;                                               \
    return t;                                                                 \
}                                                                             \
/* Dense softmax cross-entropy of one row, labels y (contiguous).             \
 * s = x - m, L = log(sum exp(s)):  loss = sum_k y_k (L - s_k).               \
 * dx = e/sum - y (TF's convention: not scaled by sum(y)), dy_k = L - s_k.   \
 * Denormal labels count as 0 (DAZ, as TF's CPU kernel reads them). The      \
 * loss pass reads y as given and a pass over the row (then in L1) tells    \
 * whether some label is denormal; only such a row is summed again with    \
 * the flush (daz(y) == y elsewhere: the same bits either way).             \
 * Either gradient pointer may be NULL; pf (or NULL) is the next row, to   \
 * prefetch while this one is worked. The loss pass also keeps the largest \
 * |term| per lane (top[CYL_LANES], zeros on entry): partial sums of any     \
 * order are at most n times it. Near T's maximum the order decides between \
 * inf, -inf, NaN and a finite sum, and the row is summed again in TF's     \
 * order (`first`: the row's offset in TF's [rows, n] tensor, as for        \
 * cyl_tfsum; a NaN term gives NaN in every order). */                        \
static inline T cyl_xent_loss_##S(const T *x, const T *y, ptrdiff_t n,        \
                                  T m, T L, T *top)                           \
{                                                                             \
    CYL_CHUNKED(T, S, cyl_keep_top_##S(&top[j], y[k] * (L - (x[k] - m))),      \
                cyl_keep_top_##S(&top[k - nb], y[k] * (L - (x[k] - m))))      \
}                                                                             \
static inline T cyl_xent_loss_daz_##S(const T *x, const T *y, ptrdiff_t n,    \
                                      T m, T L)                               \
{                                                                             \
    CYL_CHUNKED(T, S, cyl_daz_##S(y[k]) * (L - (x[k] - m)),                   \
                cyl_daz_##S(y[k]) * (L - (x[k] - m)))                         \
}                                                                             \
static inline int cyl_any_denormal_##S(const T *y, ptrdiff_t n)               \
{                                                                             \
    const T tiny = sizeof(T) == sizeof(float) ? (T)FLT_MIN : (T)DBL_MIN;      \
    int any = 0;                                                              \
    for (ptrdiff_t k = 0; k < n; k++)                                         \
        any |= (y[k] < tiny) & (y[k] > -tiny) & (y[k] != (T)0);               \
    return any;                                                               \
}                                                                             \
CYL_TFSUM_OF(T, cyl_xent_loss_tf_##S,                                          \
             (const T *x, const T *y, T m, T L, int daz), (x, y, m, L, daz),   \
             (daz ? cyl_daz_##S(y[k]) : y[k]) * (L - (x[k] - m)))             \
static inline T cyl_xent_row_##S(const T *x, const T *y, ptrdiff_t n,         \
                                 T *dx, T *dlab, const T *pf, ptrdiff_t first) \
{                                                                             \
    T m = cyl_rowmax_##S(x, n);                                               \
    T sum = cyl_expsum_##S(x, n, m, dx, pf);                                  \
    T L = (T)log(sum);                                                        \
    T top[CYL_LANES] = {0}, tm = 0;                                           \
    T loss = cyl_xent_loss_##S(x, y, n, m, L, top);                           \
    int flush = cyl_any_denormal_##S(y, n);                                   \
    if (flush)                                                                \
        loss = cyl_xent_loss_daz_##S(x, y, n, m, L);                          \
    for (int j = 0; j < (n < CYL_LANES ? n : CYL_LANES); j++)                 \
        tm = top[j] > tm ? top[j] : tm;                                       \
    const T big = (sizeof(T) == sizeof(float) ? (T)FLT_MAX : (T)DBL_MAX) / 4; \
    if (!(tm * (T)n < big))                                                   \
        loss = cyl_xent_loss_tf_##S(x, y, m, L, flush, 0, n, first);          \
    if (dx && flush)                                                          \
        for (ptrdiff_t k = 0; k < n; k++)                                     \
            dx[k] = cyl_ftzq_##S(dx[k] / sum) - cyl_daz_##S(y[k]);             \
    else if (dx)                                                              \
        for (ptrdiff_t k = 0; k < n; k++)                                     \
            dx[k] = cyl_ftzq_##S(dx[k] / sum) - y[k];                          \
    if (dlab)                                                                 \
        for (ptrdiff_t k = 0; k < n; k++)                                     \
            dlab[k] = L - (x[k] - m);                                         \
    return loss;                                                              \
}                                                                             \
                                                                              \
/* Sparse softmax cross-entropy of one row: loss = L - s_label;               \
 * dx = e/sum - onehot(label) when dx != NULL. */                             \
static inline T cyl_sparse_xent_row_##S(const T *x, ptrdiff_t n,              \
                                        ptrdiff_t label, T *dx, const T *pf)  \
{                                                                             \
    T m = cyl_rowmax_##S(x, n);                                               \
    T sum = cyl_expsum_##S(x, n, m, dx, pf);                                  \
    T L = (T)log(sum);                                                        \
    if (dx) {                                                                 \
        cyl_div_##S(dx, n, sum, dx);                                          \
        dx[label] -= (T)1;                                                    \
    }                                                                         \
    return L - (x[label] - m);                                                \
}                                                                             \
                                                                              \
/* The same row with dx written by streaming stores: the exponentials go to  \
 * the scratch row e (cache-resident, n elements) and dx is written once.    \
 * Same operations in the same order: the same bits. */                      \
static inline T cyl_sparse_xent_row_nt_##S(const T *x, ptrdiff_t n,           \
                                           ptrdiff_t label, T *dx, T *e,      \
                                           const T *pf)                       \
{                                                                             \
    T m = cyl_rowmax_##S(x, n);                                               \
    T sum = cyl_expsum_##S(x, n, m, e, pf);                                   \
    T L = (T)log(sum);                                                        \
    cyl_div_stream_##S(e, n, sum, dx);                                        \
    dx[label] = cyl_ftzq_##S(e[label] / sum) - (T)1;                           \
    return L - (x[label] - m);                                                \
}

CYL_DEFINE(float, f)
CYL_DEFINE(double, d)

#undef CYL_DEFINE


#endif /* CYLOSS_VEC_H */
