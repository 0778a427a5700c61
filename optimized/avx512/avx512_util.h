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
 *   gelu(x) = x Phi(x) (exact GELU): with a = |x| / sqrt 2 and
 *       t = 1 / (1 + 0.4 a), erfc(a) / 2 = t P(t) e^(-a^2), P of degree 7
 *       fitted here on a in [0, 10] (relative error 4.6e-7, which is at
 *       most 8e-8 absolute in gelu, since x erfc(a) / 2 <= 0.17);
 *       Phi = erfc / 2 for x < 0 and 1 - erfc / 2 for x >= 0.
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

VSS_AVX512_INLINE __m512 vss_avx512_gelu(__m512 x)
{
  static const float P[8] = { /* erfc(a) / 2 = t P(t) e^-a^2, highest power first */
      0.0256083384f, -0.146021277f, 0.247215092f, -0.092009671f,
      0.149161056f,  0.0884810835f, 0.11483521f,  0.112729974f};
  const __m512 one = _mm512_set1_ps(1.0f);
  const __m512 a = _mm512_mul_ps(_mm512_abs_ps(x), _mm512_set1_ps(0.707106781f));
  const __m512 t = _mm512_div_ps(one, _mm512_fmadd_ps(a, _mm512_set1_ps(0.4f), one));
  __m512 p = _mm512_set1_ps(P[0]);
  for (int k = 1; k < 8; k++) p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(P[k]));
  const __m512 e = vss_avx512_exp(_mm512_mul_ps(_mm512_sub_ps(_mm512_setzero_ps(), a), a));
  const __m512 half_erfc = _mm512_mul_ps(_mm512_mul_ps(t, p), e);
  const __mmask16 pos = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GE_OQ);
  return _mm512_mul_ps(x, _mm512_mask_sub_ps(half_erfc, pos, one, half_erfc));
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
