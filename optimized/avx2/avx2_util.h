/* avx2_util.h - static-inline AVX2+FMA helpers shared by the avx2 kernels
 * (private to optimized/avx2/; every includer is compiled -mavx2 -mfma).
 *
 * Tails: a row whose length is not a multiple of 8 ends with a masked
 * load/store (vss_avx2_load_n / _store_n), so no kernel touches memory
 * past its data.
 *
 * Vector math on 8 fp32 lanes, as vss_avx2_<f>_n(cnt, v): cnt vectors in
 * place, in lockstep (see VSS_AVX2_EACH); vss_avx2_<f>(x) for one.  Polynomials were fitted for
 * this project (minimax, Lawson's algorithm, in double).  Accuracy, in
 * ulps of the fp32 result against double precision (an ulp of a subnormal
 * is 2^-149):
 *
 *   exp2_scan(z) = 2^z, z <= 101: the selective scan's decay factors, on
 *       z = delta * (A log2 e) with A pre-scaled once per channel tile.
 *       n = rint(z) by the 1.5*2^23 trick, f = z - n exactly, 2^f on
 *       [-1/2, 1/2] by a degree-6 polynomial (relative error 2.0e-9), then
 *       scaled by 2^n so that it underflows gradually: the coefficients
 *       carry a factor 2^-26, 2^(n+26) is built as a float (normal for
 *       -151 <= n <= 101), and the one product rounds once, into the
 *       subnormals where it must.  z is clamped below at -151 (2^-151
 *       rounds to 0).  Measured over every float in [-151, 101]: <= 0.95
 *       ulp.  exp2_normal(z), for z in [-125, 101] only, skips the clamp
 *       and adds n to the exponent field instead of multiplying: bit for
 *       bit the same results there, one FMA-unit op less.
 *   exp(x) = e^x, x <= 70 (every caller passes x <= 0): the same
 *       polynomial and scaling after a two-constant reduction
 *       f = x L_hi - rint(x log2 e) + x L_lo (L_hi + L_lo = log2 e to 48
 *       bits: f is off by < 2^-25).  Measured over every float in
 *       [-105, 70] (2.2e9 of them): <= 1.18 ulp; below -105 it is 0 (the
 *       true value rounds to 0 below -103.98).  NaN stays NaN, -inf -> 0.
 *       tests/test_variants.c holds it to 2 ulp (VSS_EXP_MAX_ULP) on
 *       [-200, 70] through vss_expf__avx2.
 *   log1p01(y) = log(1 + y), y in [0, 1] (softplus), without a divide:
 *       log C[j] + log1p(r) with j = rint(7.49 y) (0..7: 8-entry tables,
 *       vpermps), r = (1 + y) / C[j] - 1 = y c + (c - 1) in one FMA
 *       (c = 1/C[j] from the table), |r| < 0.067, and log1p(r) =
 *       r + r^2 P(r), P of degree 3 (relative error 1.4e-8).  Measured over
 *       every float in [0, 1]: <= 1.14 ulp.
 *   softplus(x) = max(x, 0) + g(|x|), g(a) = log1p(e^-a).  For
 *       |x| < 7.5, g is a piecewise polynomial: j = rint(a) picks one of 8
 *       unit intervals centred on j (vpermps), u = a - j exactly, g =
 *       C0[j] + ... + C7[j] u^7 (fitted here as the GELU's Q: relative
 *       error of g <= 4.4e-8 with fp32 coefficients).  Lanes with
 *       |x| >= 7.5 take the wide form, computed only when a group of
 *       vectors has one: (max(x, 0) + log C[j]) + log1p(r) for y = e^-|x|,
 *       y from its own exp (vss_avx2_exp26_negabs_n: vss_avx2_exp2_tab8_n's
 *       table and Q after vss_avx2_exp_n's two-constant reduction, times
 *       2^26 so that subnormal e^-|x| keep their bits; the log's table
 *       undoes it).  Measured over every float in [-100, 40] (2.2e9 of
 *       them) against log1p(exp(x)) in double: <= 1.28 ulp for |x| < 7.5
 *       (worst at x = -4.496), <= 1.64 beyond (at -9.417; subnormal
 *       results included).  Equal to x above 14.56, so the threshold-20 rule
 *       of spec §1 holds bit for bit; NaN stays NaN, softplus(inf) = inf,
 *       softplus(-inf) = 0.  Over 4096 floats in [-6, -2] in L1: 7.8-8.4
 *       cycles per vector, against 10.4-10.8 for the wide form alone (in
 *       two passes; its worst was 2.004 ulp, at x = 0.508).
 *   silu(x) = x / (1 + e^-x), as x e^x / (1 + e^x) for x < 0 (no
 *       overflow), both scaled by 2^26: (x m) / (2^26 + w) with
 *       w = 2^26 e^-|x| from softplus's table exp and m = w for x < 0,
 *       2^26 for x >= 0: x m stays normal (or 0), and the quotient rounds
 *       into the subnormals where it must.  Measured over every float in
 *       [-105, 100] against double: <= 3.872 ulp (at x = -3.232),
 *       subnormal results included; -0 below -105 (true value above
 *       -2.7e-44); silu(-inf) = NaN as in ref.  The form before,
 *       (x 2^-26) w / (1 + w 2^-26), gave the same bits for every float
 *       of |x| > 8e-31 but 46272 near x = -91.86 (results at the
 *       subnormal boundary, which it rounded twice), and lost x's bits
 *       below |x| = 2^-100, where x 2^-26 underflows: silu(-3e-38) was
 *       -0 (10.7M ulp off; 16.8M at worst, x = -4.7e-38), so its stated
 *       <= 3.88 ulp over [-105, 100] did not hold there; the form before
 *       that, e^x rounded before the product, was 47 ulp off near
 *       x = -92.  7.9 cycles per vector over 4096 floats in L1 (7.2
 *       without the divide; the form before, 8.0-8.05); in the gate
 *       (gate_avx2.c) 9.7 against 9.1 for the form before: its
 *       min(max(x, 0), q) comes after the divide, on the chain.
 *   gelu(x) = x Phi(x) = max(x, 0) - |x| Q(|x|), Q(a) = Phi(-a) =
 *       erfc(a / sqrt 2) / 2, no exp and no divide (the form of the avx512
 *       GELU, with 8 intervals for vpermps's 8 lanes): j = rint(a S),
 *       S = 7.5 / 5.767, picks one of 8 intervals of width 1/S centred on
 *       j / S (interval 0: [0, 1/(2S)]), u = a S - j in [-1/2, 1/2] (one
 *       rounding, by FMA), Q = C0[j] + ... + C8[j] u^8, degree 8, fitted
 *       here per interval (relative error of Q minimised in double by
 *       reweighted least squares, C1..C8 refitted to C0 rounded to fp32):
 *       Q's relative error <= 4.3e-8 for a < 1.92, 1.0e-7 up to 2.7,
 *       rising to 2.7e-6 at 5.77 (where Q = 4e-9).  For
 *       j >= 8 (|x| >= 5.767, and inf) Q = 0: gelu(x) = x exactly for
 *       x >= 5.767 and +inf, -0 for x <= -5.767 (true value above
 *       -2.4e-8 there; ref's x (1 + erf) / 2 is -0 from about -5.9) and
 *       for -0; NaN stays, -inf gives NaN, as ref (inf * 0).
 *       Measured against double x Phi(x) on every float of [-12, 12]:
 *       2.39e-7 absolute at most (at x = 4.02: the final rounding), 0.095
 *       of VSS_LIM_GELU at most; <= 1.22 ulp for x >= 0, <= 4.87 on
 *       [-2, 0) (Horner's cancellation over an interval where Q falls 4x),
 *       <= 45 on [-5.7, -2); below -2, 2.4e-8 absolute at most.
 *       22 -> 10.7 cycles per vector over 4096 floats in L1 against the
 *       former erfc-by-exp-and-divide form (<= 3.9e-7 absolute).
 */
#ifndef VSS_AVX2_UTIL_H
#define VSS_AVX2_UTIL_H

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#define VSS_AVX2_INLINE static inline __attribute__((always_inline))

/* ------------------------------------------------------------- tails */

/* Lane mask of the first n lanes (n clamped to 0..8), for maskload/store. */
VSS_AVX2_INLINE __m256i vss_avx2_mask(size_t n)
{
  static const int32_t ones_then_zeros[16] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                              0,  0,  0,  0,  0,  0,  0,  0};
  return _mm256_loadu_si256((const __m256i *)(ones_then_zeros + 8 - (n < 8 ? n : 8)));
}

/* Loads/stores n <= 8 floats: a plain access when n == 8, else masked. */
VSS_AVX2_INLINE __m256 vss_avx2_load_n(const float *p, size_t n)
{
  return n >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, vss_avx2_mask(n));
}
VSS_AVX2_INLINE void vss_avx2_store_n(float *p, __m256 v, size_t n)
{
  if (n >= 8) _mm256_storeu_ps(p, v);
  else _mm256_maskstore_ps(p, vss_avx2_mask(n), v);
}

/* Sum of the 8 lanes. */
VSS_AVX2_INLINE float vss_avx2_hsum(__m256 v)
{
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

/* --------------------------------------------------- lockstep vectors
 * The math below works on cnt independent vectors at once, one stage of
 * the computation for all of them before the next (VSS_AVX2_EACH): an exp
 * is a ~45-cycle dependency chain, and in a long loop body the
 * out-of-order window alone does not find enough of them to keep the FMA
 * units busy (measured, cycles per vector: softplus 19 -> 15, GELU
 * 29 -> 21 with 4 in lockstep).  cnt is a constant at every call site, so
 * the loops unroll and v stays in registers. */
#define VSS_AVX2_MAXV 8 /* largest cnt */
#define VSS_AVX2_EACH(i, cnt) _Pragma("GCC unroll 8") for (int i = 0; i < (cnt); i++)

#define VSS_AVX2_RINT_MAGIC 12582912.0f /* 1.5 * 2^23: x + M rounds x to an integer */

/* ------------------------------------------ the scans' fused dt_proj */

/* out[j][8 v ..] = sum_r x[j][r] w[r ldw + 8 v ..] [+ bias[8 v ..]] for
 * rows j < cnt and vectors v < nv (1 or 2, a constant at each call site):
 * the dt_proj sums of a scan that forms dt itself (the ssm_scan_dt slot),
 * from zero with one FMA per r in order, as the avx2 and avx512 linear
 * kernels form them, so the bits are those of linear then scan; then the
 * scan's dt bias, if any, added to the finished sum (the scan's order).
 * cnt nv chains run side by side (one step's alone, R FMAs deep, made the
 * fused block slower than linear then scan at R = 24 and 48);
 * cnt nv <= VSS_AVX2_MAXV. */
VSS_AVX2_INLINE void vss_avx2_dt_proj(int cnt, int nv, const float *const *x, size_t R,
                                      const float *w, size_t ldw, const float *bias,
                                      float *out, size_t ldo)
{
  __m256 a[VSS_AVX2_MAXV][2];
  VSS_AVX2_EACH(j, cnt)
  {
    a[j][0] = _mm256_setzero_ps();
    a[j][1] = _mm256_setzero_ps();
  }
  for (size_t r = 0; r < R; r++) {
    const __m256 w0 = _mm256_loadu_ps(w + r * ldw);
    const __m256 w1 = nv > 1 ? _mm256_loadu_ps(w + r * ldw + 8) : w0;
    VSS_AVX2_EACH(j, cnt)
    {
      const __m256 xv = _mm256_broadcast_ss(x[j] + r);
      a[j][0] = _mm256_fmadd_ps(xv, w0, a[j][0]);
      if (nv > 1) a[j][1] = _mm256_fmadd_ps(xv, w1, a[j][1]);
    }
  }
  if (bias) {
    const __m256 b0 = _mm256_loadu_ps(bias), b1 = nv > 1 ? _mm256_loadu_ps(bias + 8) : b0;
    VSS_AVX2_EACH(j, cnt)
    {
      a[j][0] = _mm256_add_ps(a[j][0], b0);
      if (nv > 1) a[j][1] = _mm256_add_ps(a[j][1], b1);
    }
  }
  VSS_AVX2_EACH(j, cnt)
  {
    _mm256_storeu_ps(out + j * ldo, a[j][0]);
    if (nv > 1) _mm256_storeu_ps(out + j * ldo + 8, a[j][1]);
  }
}

/* ------------------------------------------------------------ exp, 2^x */

/* p = 2^f * s for f in [-1/2, 1/2] (s a power of two, a constant):
 * minimax polynomial of degree 6, relative error 2.0e-9, with the
 * coefficients times s (exact). */
VSS_AVX2_INLINE void vss_avx2_exp2_poly_n(int cnt, const __m256 *f, __m256 *p, float s)
{
  static const float c[7] = {1.535336196e-4f, 1.339887502e-3f, 9.618436918e-3f,
                             5.550332367e-2f, 2.402264774e-1f, 6.931471825e-1f, 1.0f};
  VSS_AVX2_EACH(i, cnt) p[i] = _mm256_set1_ps(c[0] * s);
#pragma GCC unroll 6
  for (int k = 1; k < 7; k++)
    VSS_AVX2_EACH(i, cnt) p[i] = _mm256_fmadd_ps(p[i], f[i], _mm256_set1_ps(c[k] * s));
}

/* v = 2^f * 2^n for f in [-1/2, 1/2] and t = M + n (the rounding trick's
 * sum; -151 <= n <= 101).  p = 2^(f-26) is a normal number; the scale
 * 2^(n+26) is built from the low bits of t: bits(t) = bits(M) + n and
 * bits(M) ends in nine zero bits, so ((bits(t) + 153) << 23) holds exactly
 * n + 26 + 127 as the exponent field.  The one multiply rounds the product
 * once, gradually underflowing below 2^-126. */
VSS_AVX2_INLINE void vss_avx2_exp2_finish_n(int cnt, __m256 *v, const __m256 *t)
{
  __m256 p[VSS_AVX2_MAXV];
  vss_avx2_exp2_poly_n(cnt, v, p, 0x1p-26f);
  VSS_AVX2_EACH(i, cnt)
  {
    const __m256i e = _mm256_slli_epi32(
        _mm256_add_epi32(_mm256_castps_si256(t[i]), _mm256_set1_epi32(153)), 23);
    v[i] = _mm256_mul_ps(p[i], _mm256_castsi256_ps(e));
  }
}

/* z = 2^z for z <= 101 (the scan's decay factors, z <= 0). */
VSS_AVX2_INLINE void vss_avx2_exp2_scan_n(int cnt, __m256 *z)
{
  const __m256 magic = _mm256_set1_ps(VSS_AVX2_RINT_MAGIC);
  __m256 t[VSS_AVX2_MAXV];
  VSS_AVX2_EACH(i, cnt) z[i] = _mm256_max_ps(_mm256_set1_ps(-151.0f), z[i]); /* NaN stays */
  VSS_AVX2_EACH(i, cnt) t[i] = _mm256_add_ps(z[i], magic);
  VSS_AVX2_EACH(i, cnt) z[i] = _mm256_sub_ps(z[i], _mm256_sub_ps(t[i], magic)); /* exact */
  vss_avx2_exp2_finish_n(cnt, z, t);
}

/* z = 2^z for z in [-125, 101] only, where the result is normal: the same
 * polynomial unscaled, and 2^n added to its exponent field as an integer
 * (bits(t) << 23 = n << 23): no clamp, one multiply less, and bit for bit
 * the result of vss_avx2_exp2_scan_n (whose product is then exact). */
VSS_AVX2_INLINE void vss_avx2_exp2_normal_n(int cnt, __m256 *z)
{
  const __m256 magic = _mm256_set1_ps(VSS_AVX2_RINT_MAGIC);
  __m256 t[VSS_AVX2_MAXV], p[VSS_AVX2_MAXV];
  VSS_AVX2_EACH(i, cnt) t[i] = _mm256_add_ps(z[i], magic);
  VSS_AVX2_EACH(i, cnt) z[i] = _mm256_sub_ps(z[i], _mm256_sub_ps(t[i], magic));
  vss_avx2_exp2_poly_n(cnt, z, p, 1.0f);
  VSS_AVX2_EACH(i, cnt)
  z[i] = _mm256_castsi256_ps(_mm256_add_epi32(
      _mm256_castps_si256(p[i]), _mm256_slli_epi32(_mm256_castps_si256(t[i]), 23)));
}

/* z = s + (s f) Q(f) = 2^(n + j/8 + f) scaled by the table: the part of
 * the table exp2s after the rounding, shared with softplus's exp.  k is
 * 8n + j modulo 2^12 (only k << 20 and k's low 3 bits are used: the bits
 * of t = M + (8n + j)/8 will do); z holds f / u, u a power of two (u = 1/8:
 * z = 8f), |f| <= 1/16; tab[j] = bits(2^(j/8) * scale) - (j << 20).  Q's
 * coefficients are scaled by u (exact): the same bits for every u. */
VSS_AVX2_INLINE void vss_avx2_exp2_tab_finish_n(int cnt, const int32_t *tab, const __m256i *k,
                                                __m256 *z, float u)
{
  const __m256i T = _mm256_loadu_si256((const __m256i *)tab);
  __m256 s[VSS_AVX2_MAXV], q[VSS_AVX2_MAXV];
  VSS_AVX2_EACH(i, cnt)
  s[i] = _mm256_castsi256_ps(_mm256_add_epi32(_mm256_permutevar8x32_epi32(T, k[i]),
                                              _mm256_slli_epi32(k[i], 20)));
  VSS_AVX2_EACH(i, cnt)
  q[i] = _mm256_fmadd_ps(_mm256_set1_ps(5.549621955e-02f * u * u * u), z[i],
                         _mm256_set1_ps(2.402576208e-01f * u * u));
  VSS_AVX2_EACH(i, cnt) q[i] = _mm256_fmadd_ps(q[i], z[i], _mm256_set1_ps(6.931472421e-01f * u));
  VSS_AVX2_EACH(i, cnt) z[i] = _mm256_fmadd_ps(_mm256_mul_ps(s[i], z[i]), q[i], s[i]);
}

/* z = 2^(z/8) for z/8 in [-125, 101] only (normal results), the scans'
 * cheap decay factors, which take z = 8 delta A' (A' scaled by 8 once,
 * exact): z/8 = n + j/8 + f with |f| <= 1/16, from k = rint(z) = 8n + j
 * (vcvtps2dq) and z - rint(z) = 8f (vroundps; exact), both straight from
 * z; 2^(n + j/8) from an 8-entry table by vpermps plus n in the exponent
 * field, and 2^f = 1 + f Q(f), Q of degree 2 (relative error 2.7e-8),
 * applied as s + (s f) Q: 4 FMA-unit ops where vss_avx2_exp2_normal_n
 * takes 6.  Table entries T'[j] hold bits(2^(j/8)) - (j << 20): k << 20
 * is (8n + j) << 20, so the integer sum is exactly bits(2^(n + j/8)).
 * Both roundings follow MXCSR, so k and f agree in any mode; in the
 * default one (to nearest even) |f| <= 1/16, in a directed one |f| < 1/8
 * and Q's error grows to about 2e-6, as with the z + M trick before.
 * That trick (M = 1.5*2^20 on z/8: add, sub, sub) gave the same k, f and
 * bits with two dependent ops more before the polynomial: a 24-cycle chain,
 * now 21, and 3.55 -> 3.40 cycles per vector in a loop of independent
 * exps (k taken from rint(z) rather than z, a longer chain to s, ran at
 * 3.51-3.57; k and 8f by two FMAs straight from delta and A8, t = M +
 * delta A8 and delta A8 - (t - M), 10 ops but 6 on the FMA pipes where
 * these take 5, ran at 3.55).  What bounds that rate is not settled: the
 * same ops without their dependences ran at 2.8 in an asm probe, but a
 * software-pipelined loop, each op fed by the previous iteration, ran at
 * the same 3.4 (in the fifth look and again in the sixth, in registers:
 * 3.39 against 3.37); the 11 FP ops and the store of a vector on 4 FP
 * pipes come to about 3.0 if the store's data takes one (README, the
 * fourth to sixth looks).
 * Measured over every float in [-125, 101]: see VSS_EXP2_TAB_MAX_ULP
 * (core/tolerances.h); NaN and values outside the range are the caller's
 * to exclude. */
VSS_AVX2_INLINE void vss_avx2_exp2_tab8_n(int cnt, __m256 *z)
{
  static const int32_t tab[8] = {0x3f800000, 0x3f7b95c2, 0x3f7837f0, 0x3f75fed7,
                                 0x3f7504f3, 0x3f75672a, 0x3f7744fd, 0x3f7ac0c7};
  __m256i k[VSS_AVX2_MAXV];
  VSS_AVX2_EACH(i, cnt)
  {
    k[i] = _mm256_cvtps_epi32(z[i]); /* both round as MXCSR says: they agree */
    z[i] = _mm256_sub_ps(z[i], _mm256_round_ps(z[i], _MM_FROUND_CUR_DIRECTION));
  }
  vss_avx2_exp2_tab_finish_n(cnt, tab, k, z, 0.125f);
}

/* z = 2^(z/8), the scans' decay factors from z = 8 delta A': the table
 * form when every result is known normal, else the general exp2 (gradual
 * underflow) on z/8 (exact). */
VSS_AVX2_INLINE void vss_avx2_exp2_decay8_n(int cnt, int normal, __m256 *z)
{
  if (normal) {
    vss_avx2_exp2_tab8_n(cnt, z);
    return;
  }
  VSS_AVX2_EACH(i, cnt) z[i] = _mm256_mul_ps(z[i], _mm256_set1_ps(0.125f));
  vss_avx2_exp2_scan_n(cnt, z);
}

/* x = e^x for x <= 70. */
VSS_AVX2_INLINE void vss_avx2_exp_n(int cnt, __m256 *x)
{
  const __m256 magic = _mm256_set1_ps(VSS_AVX2_RINT_MAGIC);
  const __m256 l2e_hi = _mm256_set1_ps(1.44269502162933349609375f);
  const __m256 l2e_lo = _mm256_set1_ps(1.925963033500011079e-8f);
  __m256 t[VSS_AVX2_MAXV], f[VSS_AVX2_MAXV];
  VSS_AVX2_EACH(i, cnt) x[i] = _mm256_max_ps(_mm256_set1_ps(-105.0f), x[i]); /* n >= -152 */
  VSS_AVX2_EACH(i, cnt) t[i] = _mm256_fmadd_ps(x[i], l2e_hi, magic); /* M + rint(x log2 e) */
  VSS_AVX2_EACH(i, cnt) f[i] = _mm256_fmsub_ps(x[i], l2e_hi, _mm256_sub_ps(t[i], magic));
  VSS_AVX2_EACH(i, cnt) x[i] = _mm256_fmadd_ps(x[i], l2e_lo, f[i]); /* f, error < 2^-25 */
  vss_avx2_exp2_finish_n(cnt, x, t);
}

/* ------------------------------------------------- log1p, softplus, ... */

/* l + p = log(1 + y) for w = 2^26 y, y in [0, 1] (no divide): j = rint(S y),
 * S = 7.49, by the rounding trick (the low 3 bits of M + S y, 0..7, index
 * the tables by vpermps); c = 1/C[j] ~ 1 / (1 + y) (c = 1 for j = 0);
 * r = c (1 + y) - 1 = y c + (c - 1) in one FMA (c - 1 exact), with
 * |r| < 0.067; l = -log c = log C[j] (C[j] picked so that log C[j] is
 * within 1e-4 ulp of the float in the table), p = log1p(r) = r + r^2 P(r),
 * P of degree 3 (relative error 1.4e-8).  For j = 0 (y < 0.067), l = 0 and
 * r = y exactly: no cancellation, subnormal y included.  The 2^26 is
 * undone in the tables (c 2^-26): the exp below leaves it in. */
VSS_AVX2_INLINE void vss_avx2_log1p26_n(int cnt, const __m256 *w, __m256 *l, __m256 *p)
{
  static const int32_t cs[8] = {0x32800000, 0x3261cd9a, 0x324a136e, 0x3236cdd4, /* c 2^-26 */
                                0x3226e9be, 0x321993f9, 0x320e19b2, 0x32046f6d};
  static const int32_t cm1[8] = {0x00000000, (int32_t)0xbdf19330, (int32_t)0xbe57b248, /* c - 1 */
                                 (int32_t)0xbe926458, (int32_t)0xbeb22c84, (int32_t)0xbeccd80e,
                                 (int32_t)0xbee3cc9c, (int32_t)0xbef72126};
  static const int32_t lc[8] = {0x00000000, 0x3e0086b9, 0x3e7235fe, 0x3eac6c2d, /* -log c */
                                0x3edafc12, 0x3f02ced9, 0x3f16b15c, 0x3f28b9b3};
  static const float P[4] = {2.006588280e-01f, -2.509224713e-01f, 3.333327472e-01f,
                             -4.999989867e-01f};
  __m256 c[VSS_AVX2_MAXV], r[VSS_AVX2_MAXV];
  VSS_AVX2_EACH(i, cnt)
  {
    const __m256i j = _mm256_castps_si256(_mm256_fmadd_ps(
        w[i], _mm256_set1_ps(7.49f * 0x1p-26f), _mm256_set1_ps(VSS_AVX2_RINT_MAGIC)));
    c[i] = _mm256_permutevar8x32_ps(_mm256_loadu_ps((const float *)cs), j);
    r[i] = _mm256_permutevar8x32_ps(_mm256_loadu_ps((const float *)cm1), j);
    l[i] = _mm256_permutevar8x32_ps(_mm256_loadu_ps((const float *)lc), j);
  }
  VSS_AVX2_EACH(i, cnt) r[i] = _mm256_fmadd_ps(w[i], c[i], r[i]);
  VSS_AVX2_EACH(i, cnt) p[i] = _mm256_fmadd_ps(_mm256_set1_ps(P[0]), r[i], _mm256_set1_ps(P[1]));
#pragma GCC unroll 2
  for (int k = 2; k < 4; k++)
    VSS_AVX2_EACH(i, cnt) p[i] = _mm256_fmadd_ps(p[i], r[i], _mm256_set1_ps(P[k]));
  VSS_AVX2_EACH(i, cnt) p[i] = _mm256_fmadd_ps(_mm256_mul_ps(r[i], r[i]), p[i], r[i]);
}

/* y = log(1 + y) for y in [0, 1] */
VSS_AVX2_INLINE void vss_avx2_log1p01_n(int cnt, __m256 *y)
{
  __m256 l[VSS_AVX2_MAXV], p[VSS_AVX2_MAXV];
  VSS_AVX2_EACH(i, cnt) y[i] = _mm256_mul_ps(y[i], _mm256_set1_ps(0x1p26f)); /* exact */
  vss_avx2_log1p26_n(cnt, y, l, p);
  VSS_AVX2_EACH(i, cnt) y[i] = _mm256_add_ps(l[i], p[i]);
}

/* |x| */
VSS_AVX2_INLINE __m256 vss_avx2_abs(__m256 x)
{
  return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
}

/* w = 2^26 e^-|x| of each x (softplus): z = -|x| log2 e (|x| clamped at
 * 105) = n + j/8 + f, |f| <= 1/16, by vss_avx2_exp_n's
 * two-constant reduction but rounding to eighths (the 1.5*2^20 trick); then
 * as vss_avx2_exp2_tab8_n: 2^(n + j/8) from the 8-entry table by vpermps,
 * 2^f = 1 + f Q(f), Q of degree 2, applied as s + (s f) Q.  The factor
 * 2^26 (in the table) keeps s normal down to n = -152, so that the result,
 * 2^26 times a subnormal for |x| > 87.3, keeps every bit the log needs. */
VSS_AVX2_INLINE void vss_avx2_exp26_negabs_n(int cnt, const __m256 *x, __m256 *w)
{
  static const int32_t tab[8] = {0x4c800000, 0x4c7b95c2, 0x4c7837f0, 0x4c75fed7, /* T'[j] + (26 << 23) */
                                 0x4c7504f3, 0x4c75672a, 0x4c7744fd, 0x4c7ac0c7};
  const __m256 magic = _mm256_set1_ps(1572864.0f); /* 1.5 * 2^20: rounds to eighths */
  const __m256 l2e_hi = _mm256_set1_ps(1.44269502162933349609375f);
  const __m256 l2e_lo = _mm256_set1_ps(1.925963033500011079e-8f);
  __m256 e[VSS_AVX2_MAXV], t[VSS_AVX2_MAXV];
  VSS_AVX2_EACH(i, cnt) /* -|x|, >= -105 (NaN stays) */
  e[i] = _mm256_max_ps(_mm256_set1_ps(-105.0f), _mm256_or_ps(x[i], _mm256_set1_ps(-0.0f)));
  VSS_AVX2_EACH(i, cnt) t[i] = _mm256_fmadd_ps(e[i], l2e_hi, magic); /* M + (8n + j)/8 */
  VSS_AVX2_EACH(i, cnt) w[i] = _mm256_fmsub_ps(e[i], l2e_hi, _mm256_sub_ps(t[i], magic));
  VSS_AVX2_EACH(i, cnt) w[i] = _mm256_fmadd_ps(e[i], l2e_lo, w[i]); /* f */
  __m256i k[VSS_AVX2_MAXV];
  VSS_AVX2_EACH(i, cnt) k[i] = _mm256_castps_si256(t[i]);
  vss_avx2_exp2_tab_finish_n(cnt, tab, k, w, 1.0f);
}

/* x = (max(x, 0) + l) + p: softplus's last step */
VSS_AVX2_INLINE void vss_avx2_softplus_end_n(int cnt, __m256 *x, const __m256 *l,
                                             const __m256 *p)
{
  VSS_AVX2_EACH(i, cnt)
  x[i] = _mm256_add_ps(_mm256_add_ps(_mm256_max_ps(x[i], _mm256_setzero_ps()), l[i]), p[i]);
}

/* q = C[0][j] + C[1][j] u + ... + C[deg][j] u^deg by Horner, j the low 3
 * bits of t's bits (the piecewise polynomials' interval: each C[k] an
 * 8-entry table, read by vpermps); deg a constant at each call site. */
VSS_AVX2_INLINE void vss_avx2_piecewise_n(int cnt, const float (*C)[8], int deg, const __m256 *t,
                                          const __m256 *u, __m256 *q)
{
  VSS_AVX2_EACH(i, cnt)
  q[i] = _mm256_permutevar8x32_ps(_mm256_load_ps(C[deg]), _mm256_castps_si256(t[i]));
#pragma GCC unroll 8
  for (int k = deg - 1; k >= 0; k--)
    VSS_AVX2_EACH(i, cnt)
    q[i] = _mm256_fmadd_ps(q[i], u[i],
                           _mm256_permutevar8x32_ps(_mm256_load_ps(C[k]), _mm256_castps_si256(t[i])));
}

/* x = softplus(x) = log1p(e^x) (= x above the threshold 20, spec §1), as
 * (max(x, 0) + l) + p with l + p = log1p(e^-|x|): the form for every x
 * (vss_avx2_softplus_n's lanes with |x| >= 7.5). */
VSS_AVX2_INLINE void vss_avx2_softplus_wide_n(int cnt, __m256 *x)
{
  __m256 w[VSS_AVX2_MAXV], l[VSS_AVX2_MAXV], p[VSS_AVX2_MAXV];
  vss_avx2_exp26_negabs_n(cnt, x, w);
  vss_avx2_log1p26_n(cnt, w, l, p);
  vss_avx2_softplus_end_n(cnt, x, l, p);
}

/* x = softplus(x): max(x, 0) + g(|x|), g(a) = log1p(e^-a) by a piecewise
 * polynomial for |x| < 7.5 (see the header comment), lanes beyond by
 * vss_avx2_softplus_wide_n (computed only when a group has one; each
 * lane's result depends on its x alone). */
VSS_AVX2_INLINE void vss_avx2_softplus_n(int cnt, __m256 *x)
{
  static const float C[8][8] __attribute__((aligned(32))) = {
      {6.931471825e-01f, 3.132616878e-01f, 1.269280165e-01f, 4.858735204e-02f, 1.814992726e-02f, 6.715348456e-03f, 2.475685207e-03f, 9.114664281e-04f},
      {-5.000001192e-01f, -2.689414322e-01f, -1.192029268e-01f, -4.742587358e-02f, -1.798620820e-02f, -6.692850962e-03f, -2.472623251e-03f, -9.110511746e-04f},
      {1.250029057e-01f, 9.830599278e-02f, 5.249661952e-02f, 2.258830890e-02f, 8.831374347e-03f, 3.324029502e-03f, 1.233252464e-03f, 4.551114980e-04f},
      {-2.731477070e-05f, -1.514283009e-02f, -1.332694944e-02f, -6.815250497e-03f, -2.837924520e-03f, -1.093179686e-03f, -4.090477014e-04f, -1.514284086e-04f},
      {-5.075737834e-03f, -1.472748700e-03f, 1.620166469e-03f, 1.372385072e-03f, 6.577988970e-04f, 2.659415477e-04f, 1.012662615e-04f, 3.771041884e-05f},
      {-3.483183973e-04f, 1.028112019e-03f, 1.721972367e-04f, -1.561361569e-04f, -1.115409468e-04f, -5.028516534e-05f, -1.988161603e-05f, -7.478086900e-06f},
      {8.230095846e-04f, -6.459745782e-05f, -1.232785435e-04f, -8.135669304e-06f, 1.270476878e-05f, 7.480002751e-06f, 3.151290912e-06f, 1.255507186e-06f},
      {-2.795232867e-04f, -5.311907444e-05f, 2.293767466e-05f, 8.233725566e-06f, -7.869139722e-07f, -8.307644634e-07f, -3.378403903e-07f, -1.953850983e-07f},
  };
  const __m256 magic = _mm256_set1_ps(VSS_AVX2_RINT_MAGIC);
  __m256 t[VSS_AVX2_MAXV], u[VSS_AVX2_MAXV], q[VSS_AVX2_MAXV], far[VSS_AVX2_MAXV];
  int any = 0;
  VSS_AVX2_EACH(i, cnt)
  {
    const __m256 a = vss_avx2_abs(x[i]);
    t[i] = _mm256_add_ps(a, magic);                      /* M + rint(a) */
    u[i] = _mm256_sub_ps(a, _mm256_sub_ps(t[i], magic)); /* exact */
    far[i] = _mm256_cmp_ps(_mm256_sub_ps(t[i], magic), _mm256_set1_ps(8.0f), _CMP_GE_OQ);
    any |= _mm256_movemask_ps(far[i]);
  }
  vss_avx2_piecewise_n(cnt, C, 7, t, u, q);
  if (any) { /* rare in the scan: |dt + bias| >= 7.5 */
    __m256 wv[VSS_AVX2_MAXV];
    VSS_AVX2_EACH(i, cnt) wv[i] = x[i];
    vss_avx2_softplus_wide_n(cnt, wv);
    VSS_AVX2_EACH(i, cnt)
    x[i] = _mm256_blendv_ps(_mm256_add_ps(_mm256_max_ps(x[i], _mm256_setzero_ps()), q[i]), wv[i],
                            far[i]);
    return;
  }
  VSS_AVX2_EACH(i, cnt) x[i] = _mm256_add_ps(_mm256_max_ps(x[i], _mm256_setzero_ps()), q[i]);
}

/* x = silu(x) = x / (1 + e^-x); for x < 0 as x e^x / (1 + e^x), both
 * scaled by 2^26 through w = 2^26 e^-|x| from softplus's table exp
 * (vss_avx2_exp26_negabs_n): silu = (x m) / (2^26 + w), m = w for x < 0,
 * 2^26 for x >= 0.  x m rounds once (x 2^26 is exact) and stays normal
 * (or 0), for tiny x of either sign too, so that only the quotient rounds
 * into the subnormals; 2^26 + w rounds once; one FMA-unit op (x m) where
 * the two scalings by 2^-26 and the FMA of 1 + w 2^-26 took three.
 * x 2^26 overflows above 2^102, where silu(x) = x: the result is
 * min(max(x, 0), q), which keeps every other x >= 0 (q <= x: the
 * denominator is >= 2^26 and x 2^26 exact) and every x < 0
 * (q <= 0 <= max(x, 0)), and NaN (the second operand).  w is clamped at
 * |x| = 105, so lanes with x < -105 (true value above -2.7e-44) take
 * w = 0: -0 there, NaN for -inf (-inf * 0), as ref's -inf / inf. */
VSS_AVX2_INLINE void vss_avx2_silu_n(int cnt, __m256 *x)
{
  const __m256 s = _mm256_set1_ps(0x1p26f);
  __m256 w[VSS_AVX2_MAXV];
  vss_avx2_exp26_negabs_n(cnt, x, w);
  VSS_AVX2_EACH(i, cnt)
  w[i] = _mm256_and_ps(w[i], _mm256_cmp_ps(x[i], _mm256_set1_ps(-105.0f), _CMP_GE_OQ));
  VSS_AVX2_EACH(i, cnt)
  {
    const __m256 q = _mm256_div_ps(_mm256_mul_ps(x[i], _mm256_blendv_ps(s, w[i], x[i])),
                                   _mm256_add_ps(s, w[i]));
    x[i] = _mm256_min_ps(_mm256_max_ps(x[i], _mm256_setzero_ps()), q);
  }
}

/* x = exact GELU(x) = x Phi(x) = max(x, 0) - |x| Q(|x|), Q(a) = Phi(-a),
 * piecewise (see the header comment): j = rint(a S) picks one of 8
 * intervals (vpermps), u = a S - j, Q = sum_k C[k][j] u^k. */
VSS_AVX2_INLINE void vss_avx2_gelu_n(int cnt, __m256 *x)
{
  static const float C[9][8] __attribute__((aligned(32))) = {
      {5.000000000e-01f, 2.209664434e-01f, 6.204060838e-02f, 1.053298637e-02f, 1.049927785e-03f, 6.035820843e-05f, 1.978768296e-06f, 3.672231941e-08f},
      {-3.067600131e-01f, -2.282488495e-01f, -9.402388334e-02f, -2.144309320e-02f, -2.707425039e-03f, -1.892540313e-04f, -7.324088074e-06f, -1.569214589e-07f},
      {-2.218035311e-09f, 6.747706234e-02f, 5.559247360e-02f, 1.901760697e-02f, 3.201575018e-03f, 2.797449706e-04f, 1.299134874e-05f, 3.247454003e-07f},
      {3.022912517e-02f, 9.193589911e-03f, -1.264758501e-02f, -9.131266735e-03f, -2.257143846e-03f, -2.570190700e-04f, -1.464078559e-05f, -4.325542875e-07f},
      {-5.076366847e-07f, -8.008660749e-03f, -1.740024542e-03f, 2.175247762e-03f, 1.019082381e-03f, 1.623927965e-04f, 1.170292853e-05f, 4.152649922e-07f},
      {-2.677994547e-03f, 1.310935913e-04f, 1.532926341e-03f, 3.839957571e-05f, -2.818978101e-04f, -7.323351019e-05f, -7.002758139e-06f, -3.050604960e-07f},
      {-1.029872146e-05f, 6.198432529e-04f, -1.609658793e-04f, -1.831868867e-04f, 3.063269833e-05f, 2.325354581e-05f, 3.230261882e-06f, 1.800017770e-07f},
      {2.095041418e-04f, -5.842539031e-05f, -7.923098747e-05f, 4.224093209e-05f, 9.797922758e-06f, -4.583169812e-06f, -1.162587068e-06f, -8.820460096e-08f},
      {-2.291439523e-05f, -3.651362931e-05f, 1.476389752e-05f, 2.590527401e-06f, -4.459314368e-06f, 2.759103666e-07f, 2.789277573e-07f, 2.861023418e-08f},
  };
  const __m256 S = _mm256_set1_ps(1.30050286f), magic = _mm256_set1_ps(VSS_AVX2_RINT_MAGIC);
  __m256 a[VSS_AVX2_MAXV], u[VSS_AVX2_MAXV], t[VSS_AVX2_MAXV], q[VSS_AVX2_MAXV];
  VSS_AVX2_EACH(i, cnt)
  {
    a[i] = vss_avx2_abs(x[i]);
    t[i] = _mm256_fmadd_ps(a[i], S, magic);                  /* M + j */
    u[i] = _mm256_fmsub_ps(a[i], S, _mm256_sub_ps(t[i], magic)); /* a S - j, one rounding */
  }
  vss_avx2_piecewise_n(cnt, C, 8, t, u, q);
  VSS_AVX2_EACH(i, cnt)
  {
    /* j >= 8 (a S >= 7.5, a >= 5.767, and inf): Q = 0; NaN keeps its NaN */
    const __m256 beyond = _mm256_cmp_ps(_mm256_sub_ps(t[i], magic), _mm256_set1_ps(8.0f), _CMP_GE_OQ);
    q[i] = _mm256_andnot_ps(beyond, q[i]);
    /* |x| capped so that Q = 0 times it is 0 at +inf; -inf gets ref's NaN
     * (inf * 0) from the FMA (a finite x adds min(x, 0) * 0 = +-0); then
     * x's sign on the result (which has it already, or is +0): -0 for -0
     * and x <= -5.767, as ref's x (1 + erf) / 2 */
    __m256 r = _mm256_fnmadd_ps(_mm256_min_ps(a[i], _mm256_set1_ps(8.0f)), q[i],
                                _mm256_max_ps(x[i], _mm256_setzero_ps()));
    r = _mm256_fmadd_ps(_mm256_min_ps(x[i], _mm256_setzero_ps()), _mm256_setzero_ps(), r);
    x[i] = _mm256_or_ps(r, _mm256_and_ps(x[i], _mm256_set1_ps(-0.0f)));
  }
}

/* One-vector forms, for code that has a single vector in hand. */
#define VSS_AVX2_ONE(name)                         \
  VSS_AVX2_INLINE __m256 vss_avx2_##name(__m256 x) \
  {                                                \
    vss_avx2_##name##_n(1, &x);                    \
    return x;                                      \
  }
VSS_AVX2_ONE(exp)
VSS_AVX2_ONE(exp2_scan)
VSS_AVX2_ONE(exp2_normal)
VSS_AVX2_ONE(softplus)
VSS_AVX2_ONE(silu)
VSS_AVX2_ONE(gelu)
#undef VSS_AVX2_ONE

/* --------------------------------------------------- elementwise loops */

/* cnt vectors from p, of which n floats are data (the rest read as 0 and
 * are not touched); and the matching store. */
VSS_AVX2_INLINE void vss_avx2_load_v(int cnt, const float *p, size_t n, __m256 *v)
{
  VSS_AVX2_EACH(j, cnt) v[j] = vss_avx2_load_n(p + 8 * j, n > 8u * j ? n - 8u * j : 0);
}
VSS_AVX2_INLINE void vss_avx2_store_v(int cnt, float *p, size_t n, const __m256 *v)
{
  VSS_AVX2_EACH(j, cnt) if (n > 8u * j) vss_avx2_store_n(p + 8 * j, v[j], n - 8u * j);
}

/* The same for a group that may be whole (n >= 8 cnt: plain accesses, no
 * per-vector test) or the last, partial one. */
VSS_AVX2_INLINE void vss_avx2_load_group(int cnt, const float *p, size_t n, __m256 *v)
{
  if (n >= 8u * (size_t)cnt) VSS_AVX2_EACH(j, cnt) v[j] = _mm256_loadu_ps(p + 8 * j);
  else vss_avx2_load_v(cnt, p, n, v);
}
VSS_AVX2_INLINE void vss_avx2_store_group(int cnt, float *p, size_t n, const __m256 *v)
{
  if (n >= 8u * (size_t)cnt) VSS_AVX2_EACH(j, cnt) _mm256_storeu_ps(p + 8 * j, v[j]);
  else vss_avx2_store_v(cnt, p, n, v);
}

/* y[i] = f(x[i]) over n floats, VSS_AVX2_MAP_V vectors in lockstep; y == x
 * allowed.  Whole groups load and store unconditionally; only the last,
 * partial group is masked.  (With the masked form for every group, GCC
 * sinks each vector's computation into its conditional store and the
 * vectors no longer run side by side: GELU took 48 cycles per vector
 * instead of 2x fewer in a loop over 4096 floats.) */
#define VSS_AVX2_MAP_V 4
VSS_AVX2_INLINE void vss_avx2_map(size_t n, const float *x, float *y,
                                  void (*f)(int, __m256 *))
{
  __m256 v[VSS_AVX2_MAP_V];
  size_t i = 0;
  for (; i + 8 * VSS_AVX2_MAP_V <= n; i += 8 * VSS_AVX2_MAP_V) {
    VSS_AVX2_EACH(j, VSS_AVX2_MAP_V) v[j] = _mm256_loadu_ps(x + i + 8 * j);
    f(VSS_AVX2_MAP_V, v);
    VSS_AVX2_EACH(j, VSS_AVX2_MAP_V) _mm256_storeu_ps(y + i + 8 * j, v[j]);
  }
  if (i < n) {
    vss_avx2_load_v(VSS_AVX2_MAP_V, x + i, n - i, v);
    f(VSS_AVX2_MAP_V, v);
    vss_avx2_store_v(VSS_AVX2_MAP_V, y + i, n - i, v);
  }
}

/* y = softplus(x) over n floats (y == x allowed): vss_avx2_map's groups
 * of vss_avx2_softplus_n (the two passes of the wide form, e^-|x| into a
 * buffer then the log, were 9-13% faster than one; the piecewise form
 * needs neither). */
VSS_AVX2_INLINE void vss_avx2_softplus_array(size_t n, const float *x, float *y)
{
  vss_avx2_map(n, x, y, vss_avx2_softplus_n);
}

#endif /* VSS_AVX2_UTIL_H */
