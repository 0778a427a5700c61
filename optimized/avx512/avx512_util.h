/* avx512_util.h - static-inline AVX-512 helpers shared by the avx512
 * kernels (private to optimized/avx512/).  Every includer is compiled
 * twice: natively (-mavx512f/dq/bw/vl) and with -DVSS_AVX512_EMU against
 * SIMDe (DESIGN §5).  The kernels are plain AVX-512F/DQ/BW/VL intrinsics
 * either way; the only difference between the builds is the "SIMDe gaps"
 * block below, which writes the few intrinsics SIMDe 0.7.4 lacks.
 *
 * Tails: a row whose length is not a multiple of 16 ends with a masked
 * access (_mm512_maskz_loadu_ps / _mm512_mask_storeu_ps under a prefix
 * __mmask16), so no kernel reads or writes past its data.
 *
 * Vector math, 16 fp32 lanes per call; the accuracy figures below are
 * tested by tests/test_avx512.c (both builds) against double precision:
 *
 *   2^z  (vss_avx512_exp2_*): z is rounded to the 1/16 grid, r = j/16 + n
 *       (the magic-constant sum t = z + 1.5*2^19, so that the low 4 bits of
 *       t's encoding are j), f = z - r exactly (|f| <= 1/32), then
 *           2^z = 2^n * T[j] * (1 + f q(f)),   T[j] = 2^(j/16) (fp32),
 *       with T[j] picked by one in-register permute (vpermps of a 16-entry
 *       table) and q of degree 2, fitted here (relative error of 1 + f q
 *       1.6e-9); the scaling by 2^n is _mm512_scalef_ps, whose single
 *       rounding underflows gradually (subnormals exact to the rounding).
 *       Error: T[j]'s own rounding (2^-25 relative) plus the final one:
 *       measured 0.98 ulp at most over [-160, 130], subnormal results
 *       included (ulp 2^-149 there); the tests hold it to 1.5.
 *       vss_avx512_exp2 clamps z to [-160, 200] first (so -inf -> 0,
 *       +inf -> inf, NaN stays NaN); vss_avx512_exp2_raw, the scan's, does
 *       not and needs |z| <= 2^17 (the scan checks its chunk's deltas).
 *
 *   e^x  (vss_avx512_exp): x clamped to [-110, 100] (NaN stays), then the
 *       same with r = the 1/16-grid rounding of x L_hi, computed by one FMA
 *       with the magic constant, and f = (x L_hi - r) + x L_lo by two more
 *       (L_hi + L_lo = log2 e to 48 bits: f's error is below 2^-29).
 *       Measured 0.99 ulp at most against double exp on [-200, 89] (held
 *       to 1.5), -inf -> 0, +inf -> inf.
 *   scalef never sees a NaN with an infinite exponent here (z, x are
 *       clamped or bounded first): there Zen 4 returns 0 or inf where
 *       Intel's table (and the SIMDe build) returns the NaN.
 *
 *   log1p(y) for y in [0, 1] (softplus): 2 atanh(s), s = y / (2 + y) in
 *       [0, 1/3], as s Q(s^2) with Q of degree 4 fitted here (relative
 *       error 4.0e-9).
 *   softplus(x) = max(x, 0) + log1p(e^-|x|): equal to x above ~17, so the
 *       threshold-20 rule of spec §1 holds bit for bit.
 *   silu(x) = x / (1 + e^-x), the numerator x e^x for x < 0 (as
 *       x / (1 + e^-x) overflows there): silu(-inf) = NaN, as ref.
 *   gelu(x) = x Phi(x) (exact GELU) = max(x, 0) - |x| Q(|x|), one FNMA,
 *       with Q(a) = Phi(-a) = erfc(a / sqrt 2) / 2 piecewise polynomial,
 *       no exp and no divide: j = round(a s), s = 5.375, picks one of 32
 *       intervals of width 1/s (5 two-source permutes of 32-entry tables,
 *       vpermt2ps), u = a s - j in [-1/2, 1/2], Q = C0[j] + ... + C4[j] u^4,
 *       degree 4, fitted here per interval (relative minimax of Q in double,
 *       then C1..C4 refitted to C0 rounded to fp32).  Intervals 0..30 cover
 *       |x| <= 30.5/s = 5.674 (Q's error with the fp32 C: <= 6e-8
 *       relative for |x| < 2.5, rising to 1.6e-5 at 5.67, where Q = 1e-8,
 *       i.e. <= 2e-9 absolute in gelu beyond |x| = 2.5); interval 31
 *       (|x| clamped to 31/s = 5.767) has all C = 0, so Q = 0 beyond:
 *       gelu(x) = x exactly for x >= 5.767 and +inf, an exact -0 for
 *       finite x <= -5.767 (true value above -2.4e-8 there); NaN stays,
 *       -inf gives NaN (inf * 0, as ref's x (1 + erf) / 2).
 *       Measured against double x Phi(x) on every float of [-10, 10]:
 *       2.39e-7 absolute at most (at x = 4.02: half an ulp, the final
 *       rounding), 0.095 of VSS_LIM_GELU at most (tests/test_avx512.c holds
 *       it to 1); <= 1.16 ulp on [0, 2), <= 0.54 ulp on [2, 10], <= 2.11
 *       ulp on [-2, 0); 3.95e-8 absolute at most on [-10, -2) (the zeroed
 *       strip; up to 149 ulp near -4.95 from the 1.6e-5 relative).
 */
#ifndef VSS_AVX512_UTIL_H
#define VSS_AVX512_UTIL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#ifdef VSS_AVX512_EMU
#include <simde/x86/avx512.h> /* SIMDE_ENABLE_NATIVE_ALIASES: _mm512_* names */
#else
#include <immintrin.h>
#endif

#include "avx512_ops.h"

#define VSS_AVX512_INLINE static inline __attribute__((always_inline))

/* ------------------------------------------------------------- SIMDe gaps
 * AVX-512 intrinsics that SIMDe 0.7.4 does not provide, in plain C with
 * the hardware's semantics: masked-off lanes are never read or written. */
#ifdef VSS_AVX512_EMU
#ifndef _mm512_maskz_loadu_ps
VSS_AVX512_INLINE __m512 vss_emu_maskz_loadu_ps(__mmask16 k, const float *p)
{
  float lane[16];
  for (int i = 0; i < 16; i++) lane[i] = k >> i & 1 ? p[i] : 0.0f;
  return _mm512_loadu_ps(lane);
}
#define _mm512_maskz_loadu_ps(k, p) vss_emu_maskz_loadu_ps((k), (const float *)(p))
#endif
#ifndef _mm512_mask_storeu_ps
VSS_AVX512_INLINE void vss_emu_mask_storeu_ps(float *p, __mmask16 k, __m512 v)
{
  float lane[16];
  _mm512_storeu_ps(lane, v);
  for (int i = 0; i < 16; i++)
    if (k >> i & 1) p[i] = lane[i];
}
#define _mm512_mask_storeu_ps(p, k, v) vss_emu_mask_storeu_ps((float *)(p), (k), (v))
#endif
#ifndef _mm512_reduce_add_ps
VSS_AVX512_INLINE float vss_emu_reduce_add_ps(__m512 v)
{
  /* the hardware sequence's pairing: halves, then quarters, ... */
  float l[16];
  _mm512_storeu_ps(l, v);
  for (int w = 8; w >= 1; w /= 2)
    for (int i = 0; i < w; i++) l[i] += l[i + w];
  return l[0];
}
#define _mm512_reduce_add_ps(v) vss_emu_reduce_add_ps(v)
#endif
/* SIMDe 0.7.4's scalef multiplies a by exp2(floor(b)) as a separate
 * factor, which overflows (or underflows) on its own where a * 2^floor(b)
 * does not: 0.99 * 2^128 came out inf.  The hardware rounds the product
 * once; so does ldexpf, lane by lane. */
VSS_AVX512_INLINE __m512 vss_emu_scalef_ps(__m512 a, __m512 b)
{
  float x[16], e[16];
  _mm512_storeu_ps(x, a);
  _mm512_storeu_ps(e, b);
  for (int i = 0; i < 16; i++) {
    if (isnan(x[i]) || isnan(e[i])) x[i] = x[i] + e[i];
    else if (isinf(e[i])) x[i] *= e[i] > 0 ? INFINITY : 0.0f; /* 0 * inf: NaN, as scalef */
    else x[i] = ldexpf(x[i], (int)fmaxf(-400.0f, fminf(400.0f, floorf(e[i]))));
  }
  return _mm512_loadu_ps(x);
}
#undef _mm512_scalef_ps
#define _mm512_scalef_ps(a, b) vss_emu_scalef_ps((a), (b))
#endif /* VSS_AVX512_EMU */

/* ------------------------------------------------------------------ tails */

/* The first n lanes (all 16 for n >= 16). */
VSS_AVX512_INLINE __mmask16 vss_avx512_mask(size_t n)
{
  return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u);
}

/* The lanes of the vector at element i of an n-long row: all 16, the
 * first n - i at its end, none past it. */
VSS_AVX512_INLINE __mmask16 vss_avx512_lanes(size_t n, size_t i)
{
  return i < n ? vss_avx512_mask(n - i) : (__mmask16)0;
}

/* ------------------------------------------------------------- 2^z, e^z */

#define VSS_AVX512_MAGIC16 786432.0f /* 1.5 * 2^19: z + M rounds z to 1/16 */

/* 2^r * (1 + f q(f)) for t = M + r, r on the 1/16 grid, |f| <= 1/32:
 * T[j] by the low 4 bits of t's encoding, 2^floor(r) by scalef. */
VSS_AVX512_INLINE __m512 vss_avx512_exp2_finish(__m512 t, __m512 r, __m512 f)
{
  static const float pow2_16th[16] = { /* 2^(j/16), correctly rounded */
      1.0f,        1.04427373f, 1.09050775f, 1.13878858f, 1.18920708f, 1.24185777f,
      1.29683959f, 1.35425556f, 1.41421354f, 1.47682619f, 1.54221082f, 1.61049032f,
      1.68179286f, 1.75625217f, 1.8340081f,  1.91520655f};
  const __m512 T = _mm512_permutexvar_ps(_mm512_castps_si512(t), _mm512_loadu_ps(pow2_16th));
  __m512 q = _mm512_fmadd_ps(_mm512_set1_ps(0.0555021353f), f, _mm512_set1_ps(0.240234286f));
  q = _mm512_fmadd_ps(q, f, _mm512_set1_ps(0.693147182f));
  return _mm512_scalef_ps(_mm512_fmadd_ps(_mm512_mul_ps(T, f), q, T), r);
}

/* 2^z for |z| <= 2^17 (finite: the caller guarantees it). */
VSS_AVX512_INLINE __m512 vss_avx512_exp2_raw(__m512 z)
{
  const __m512 magic = _mm512_set1_ps(VSS_AVX512_MAGIC16);
  const __m512 t = _mm512_add_ps(z, magic), r = _mm512_sub_ps(t, magic);
  return vss_avx512_exp2_finish(t, r, _mm512_sub_ps(z, r));
}

/* 2^z for any z (clamped to [-160, 200]: 0 and inf beyond; NaN stays). */
VSS_AVX512_INLINE __m512 vss_avx512_exp2(__m512 z)
{
  /* max/min return their second operand when one is NaN */
  z = _mm512_min_ps(_mm512_set1_ps(200.0f), _mm512_max_ps(_mm512_set1_ps(-160.0f), z));
  return vss_avx512_exp2_raw(z);
}

/* e^x (x clamped to [-110, 100]: 0 and inf beyond; NaN stays). */
VSS_AVX512_INLINE __m512 vss_avx512_exp(__m512 x)
{
  const __m512 magic = _mm512_set1_ps(VSS_AVX512_MAGIC16);
  const __m512 l2e_hi = _mm512_set1_ps(1.44269502162933349609375f); /* log2 e rounded */
  const __m512 l2e_lo = _mm512_set1_ps(1.925963033500011079e-8f);   /* the rest */
  x = _mm512_min_ps(_mm512_set1_ps(100.0f), _mm512_max_ps(_mm512_set1_ps(-110.0f), x));
  const __m512 t = _mm512_fmadd_ps(x, l2e_hi, magic), r = _mm512_sub_ps(t, magic);
  const __m512 f = _mm512_fmadd_ps(x, l2e_lo, _mm512_fmsub_ps(x, l2e_hi, r));
  return vss_avx512_exp2_finish(t, r, f);
}

/* --------------------------------------------- log1p, softplus, silu, gelu */

/* log(1 + y) for y in [0, 1]: s Q(s^2), s = y / (2 + y). */
VSS_AVX512_INLINE __m512 vss_avx512_log1p01(__m512 y)
{
  const __m512 s = _mm512_div_ps(y, _mm512_add_ps(_mm512_set1_ps(2.0f), y));
  const __m512 v = _mm512_mul_ps(s, s);
  __m512 q = _mm512_fmadd_ps(_mm512_set1_ps(0.281783342f), v, _mm512_set1_ps(0.279605985f));
  q = _mm512_fmadd_ps(q, v, _mm512_set1_ps(0.400249124f));
  q = _mm512_fmadd_ps(q, v, _mm512_set1_ps(0.66666317f));
  q = _mm512_fmadd_ps(q, v, _mm512_set1_ps(2.0f));
  return _mm512_mul_ps(s, q);
}

/* e^-|x| */
VSS_AVX512_INLINE __m512 vss_avx512_exp_negabs(__m512 x)
{
  return vss_avx512_exp(_mm512_or_ps(x, _mm512_set1_ps(-0.0f)));
}

VSS_AVX512_INLINE __m512 vss_avx512_softplus(__m512 x)
{
  return _mm512_add_ps(_mm512_max_ps(x, _mm512_setzero_ps()),
                       vss_avx512_log1p01(vss_avx512_exp_negabs(x)));
}

VSS_AVX512_INLINE __m512 vss_avx512_silu(__m512 x)
{
  const __m512 e = vss_avx512_exp_negabs(x);
  const __mmask16 neg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
  return _mm512_div_ps(_mm512_mask_mul_ps(x, neg, x, e),
                       _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

/* gelu(x) = max(x, 0) - |x| Q(|x|), Q(a) = Phi(-a) piecewise (see the top). */
VSS_AVX512_INLINE __m512 vss_avx512_gelu(__m512 x)
{
  /* Q on [(j - 1/2) / s, (j + 1/2) / s] (j = 0: [0, 1 / (2s)]) is
   * sum_k C[k][j] u^k, u = |x| s - j; interval 31 (|x| > 30.5 / s) is 0 */
  static const float C[5][32] __attribute__((aligned(64))) = {
      {0.5f, 0.426204145f, 0.354911804f, 0.288374543f,
       0.228381962f, 0.176125348f, 0.13215135f, 0.0964025557f,
       0.0683263987f, 0.0470241793f, 0.0314098746f, 0.0203530304f,
       0.0127890483f, 0.00779008167f, 0.00459839217f, 0.00262972852f,
       0.00145663472f, 0.000781323062f, 0.000405757222f, 0.000203977237f,
       9.92450878e-05f, 4.67290374e-05f, 2.12892282e-05f, 9.38378889e-06f,
       4.00125691e-06f, 1.65033941e-06f, 6.58371846e-07f, 2.54013059e-07f,
       9.47755723e-08f, 3.41950752e-08f, 1.19297434e-08f, 0.0f},
      {-0.0742218122f, -0.0729483068f, -0.0692575127f, -0.0635164082f,
       -0.0562694483f, -0.0481534079f, -0.0398060605f, -0.0317862257f,
       -0.0245186258f, -0.0182692688f, -0.0131496349f, -0.00914268382f,
       -0.00614046445f, -0.00398379005f, -0.00249665789f, -0.00151143305f,
       -0.000883865869f, -0.000499287911f, -0.000272447709f, -0.000143609286f,
       -7.31221735e-05f, -3.59652367e-05f, -1.7087712e-05f, -7.84245458e-06f,
       -3.47686e-06f, -1.48898175e-06f, -6.15968645e-07f, -2.46147124e-07f,
       -9.50162118e-08f, -3.54297072e-08f, -1.27615731e-08f, 0.0f},
      {-1.90411001e-07f, 0.00126248214f, 0.00239708461f, 0.00329804304f,
       0.00389541732f, 0.0041667968f, 0.00413343078f, 0.00385077321f,
       0.00339464075f, 0.00284561072f, 0.00227575586f, 0.00174051186f,
       0.00127525395f, 0.000896300713f, 0.000604926317f, 0.000392373651f,
       0.000244754425f, 0.000146902006f, 8.48767595e-05f, 4.72256106e-05f,
       2.53120797e-05f, 1.30725857e-05f, 6.50694847e-06f, 3.12222346e-06f,
       1.44443254e-06f, 6.44385864e-07f, 2.77247807e-07f, 1.15058256e-07f,
       4.60616505e-08f, 1.77900503e-08f, 6.62931443e-09f, 0.0f},
      {0.000429320789f, 0.000405657804f, 0.000343921216f, 0.000252131169f,
       0.000144829435f, 3.75572854e-05f, -5.61662528e-05f, -0.000127212465f,
       -0.000171525637f, -0.000189765618f, -0.000186482779f, -0.000168034094f,
       -0.000141106371f, -0.000111478912f, -8.33710219e-05f, -5.92656652e-05f,
       -4.01594807e-05f, -2.59988083e-05f, -1.6106369e-05f, -9.56088479e-06f,
       -5.44384238e-06f, -2.97566066e-06f, -1.56255612e-06f, -7.88707041e-07f,
       -3.82858929e-07f, -1.78808136e-07f, -8.03740079e-08f, -3.47825484e-08f,
       -1.44960408e-08f, -5.81938053e-09f, -2.2508122e-09f, 0.0f},
      {-2.71286012e-06f, -1.07749265e-05f, -1.93291362e-05f, -2.65291419e-05f,
       -2.77294039e-05f, -2.53852359e-05f, -2.08131223e-05f, -1.44194537e-05f,
       -7.56448526e-06f, -1.59184617e-06f, 3.03475531e-06f, 5.98030283e-06f,
       7.28114355e-06f, 7.3525207e-06f, 6.58659565e-06f, 5.39931352e-06f,
       4.11906376e-06f, 2.95371638e-06f, 2.00084946e-06f, 1.28575391e-06f,
       7.86849967e-07f, 4.59227579e-07f, 2.56171603e-07f, 1.36754934e-07f,
       6.99498628e-08f, 3.43067299e-08f, 1.61480145e-08f, 7.2983033e-09f,
       3.16977733e-09f, 1.32328959e-09f, 5.31236832e-10f, 0.0f}};
  const __m512 s = _mm512_set1_ps(5.375f), top = _mm512_set1_ps(31.0f / 5.375f);
  const __m512 magic = _mm512_set1_ps(12582912.0f); /* 1.5 * 2^23: rounds to integers */
  /* min returns its second operand when the first is NaN: +inf and NaN
   * become top in m (and in a); -inf stays in m and becomes top in a */
  const __m512 m = _mm512_and_ps(_mm512_min_ps(x, top), /* |.|: SIMDe's abs keeps -0 */
                                 _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff)));
  const __m512 a = _mm512_min_ps(m, top);
  const __m512 t = _mm512_fmadd_ps(a, s, magic); /* magic + j, j = round(a s) in [0, 31] */
  const __m512 u = _mm512_fmsub_ps(a, s, _mm512_sub_ps(t, magic));
  const __m512i j = _mm512_castps_si512(t); /* low 5 bits: j */
#define VSS_GELU_C(k) _mm512_permutex2var_ps(_mm512_load_ps(C[k]), j, _mm512_load_ps(C[k] + 16))
  __m512 q = _mm512_fmadd_ps(VSS_GELU_C(4), u, VSS_GELU_C(3));
  q = _mm512_fmadd_ps(q, u, VSS_GELU_C(2));
  q = _mm512_fmadd_ps(q, u, VSS_GELU_C(1));
  q = _mm512_fmadd_ps(q, u, VSS_GELU_C(0));
#undef VSS_GELU_C
  /* max(-0, x): x for x >= +0 and NaN (max returns its second operand
   * when one is NaN or both are zeros), -0 for x <= -0 */
  return _mm512_fnmadd_ps(m, q, _mm512_max_ps(_mm512_set1_ps(-0.0f), x));
}

/* ------------------------------------------------------- elementwise map */

/* y[i] = f(x[i]) for i < n, four vectors per round (independent chains
 * for the out-of-order core), the last ones masked; y == x allowed. */
VSS_AVX512_INLINE void vss_avx512_map(size_t n, const float *x, float *y,
                                      __m512 (*f)(__m512))
{
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    const __m512 v0 = f(_mm512_loadu_ps(x + i)), v1 = f(_mm512_loadu_ps(x + i + 16));
    const __m512 v2 = f(_mm512_loadu_ps(x + i + 32)), v3 = f(_mm512_loadu_ps(x + i + 48));
    _mm512_storeu_ps(y + i, v0);
    _mm512_storeu_ps(y + i + 16, v1);
    _mm512_storeu_ps(y + i + 32, v2);
    _mm512_storeu_ps(y + i + 48, v3);
  }
  for (; i < n; i += 16) {
    const __mmask16 m = vss_avx512_mask(n - i);
    _mm512_mask_storeu_ps(y + i, m, f(_mm512_maskz_loadu_ps(m, x + i)));
  }
}

#endif /* VSS_AVX512_UTIL_H */
