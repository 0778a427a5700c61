/* layernorm_avx2.c - LayerNorm over each row (spec §1), 8 lanes:
 * mean, then the two-pass biased variance (never E[x^2] - mu^2), then
 * (x - mu) * rstd * g + b with rstd = 1 / sqrt(var + eps) rounded once
 * (from double), where ref divides by sqrtf(var + eps): two roundings for
 * the scaled value either way.  The two sums run in 8 lanes x 2
 * accumulators and are reduced at the end, a more accurate order than
 * ref's sequential one; row tails are masked loads/stores.
 *
 * LN_ROWS rows in lockstep: a row's sums are two chains of adds (FMAs),
 * with scalar steps between its passes, and one row at a time, dividing
 * each vector by sd, took 9-10 cycles per vector of 8; four rows at once,
 * multiplying by rstd: layernorm/avx2/v0_T1/norm (3136 rows of 96)
 * 0.095 -> 0.059 ms, out_norm (rows of 192) 0.191 -> 0.107 ms (gbench
 * medians of 3, the two builds alternated twice); the figures against
 * ref stay where they were (0.24 and 0.33 of the bench's limit). */
#include <math.h>

#include "avx2_ops.h"
#include "avx2_util.h"

#define LN_ROWS 4

/* s[j] = the sum over rows xr[j] (j < nr) of x (squares = 0) or of
 * (x - mu[j])^2 (squares = 1), each in 2 x 8 lanes; a masked tail's
 * missing lanes count 0. */
VSS_AVX2_INLINE void row_sums(int nr, size_t dim, const float *const *xr, const __m256 *mu,
                              int squares, float *s)
{
  __m256 s0[LN_ROWS], s1[LN_ROWS];
  VSS_AVX2_EACH(j, nr) s0[j] = s1[j] = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= dim; i += 16)
    VSS_AVX2_EACH(j, nr)
    {
      __m256 a = _mm256_loadu_ps(xr[j] + i), b = _mm256_loadu_ps(xr[j] + i + 8);
      if (squares) {
        a = _mm256_sub_ps(a, mu[j]);
        b = _mm256_sub_ps(b, mu[j]);
        s0[j] = _mm256_fmadd_ps(a, a, s0[j]);
        s1[j] = _mm256_fmadd_ps(b, b, s1[j]);
      } else {
        s0[j] = _mm256_add_ps(s0[j], a);
        s1[j] = _mm256_add_ps(s1[j], b);
      }
    }
  for (; i < dim; i += 8) {
    const size_t n = dim - i < 8 ? dim - i : 8;
    const __m256 m = _mm256_castsi256_ps(vss_avx2_mask(n));
    VSS_AVX2_EACH(j, nr)
    {
      __m256 a = vss_avx2_load_n(xr[j] + i, n);
      if (squares) {
        a = _mm256_and_ps(_mm256_sub_ps(a, mu[j]), m);
        s0[j] = _mm256_fmadd_ps(a, a, s0[j]);
      } else {
        s0[j] = _mm256_add_ps(s0[j], a);
      }
    }
  }
  VSS_AVX2_EACH(j, nr) s[j] = vss_avx2_hsum(_mm256_add_ps(s0[j], s1[j]));
}

/* LayerNorm of the nr rows xr[j] into yr[j]. */
VSS_AVX2_INLINE void ln_rows(int nr, size_t dim, const float *const *xr, const float *g,
                             const float *b, float eps, float *const *yr)
{
  __m256 mu[LN_ROWS], rs[LN_ROWS];
  float s[LN_ROWS];
  row_sums(nr, dim, xr, mu, 0, s);
  VSS_AVX2_EACH(j, nr) mu[j] = _mm256_set1_ps(s[j] / (float)dim);
  row_sums(nr, dim, xr, mu, 1, s);
  VSS_AVX2_EACH(j, nr)
  rs[j] = _mm256_set1_ps((float)(1.0 / sqrt((double)(s[j] / (float)dim + eps))));
  for (size_t i = 0; i < dim; i += 8) {
    const size_t n = dim - i < 8 ? dim - i : 8;
    const __m256 gv = vss_avx2_load_n(g + i, n), bv = vss_avx2_load_n(b + i, n);
    VSS_AVX2_EACH(j, nr)
    {
      const __m256 v = _mm256_mul_ps(_mm256_sub_ps(vss_avx2_load_n(xr[j] + i, n), mu[j]), rs[j]);
      vss_avx2_store_n(yr[j] + i, _mm256_fmadd_ps(v, gv, bv), n);
    }
  }
}

void vss_layernorm__avx2(size_t rows, size_t dim, const float *x, size_t ldx,
                         const float *g, const float *b, float eps, float *y,
                         size_t ldy)
{
  size_t r = 0;
  for (; r + LN_ROWS <= rows; r += LN_ROWS) {
    const float *xr[LN_ROWS];
    float *yr[LN_ROWS];
    VSS_AVX2_EACH(j, LN_ROWS)
    {
      xr[j] = x + (r + (size_t)j) * ldx;
      yr[j] = y + (r + (size_t)j) * ldy;
    }
    ln_rows(LN_ROWS, dim, xr, g, b, eps, yr);
  }
  for (; r < rows; r++) {
    const float *xr = x + r * ldx;
    float *yr = y + r * ldy;
    ln_rows(1, dim, &xr, g, b, eps, &yr);
  }
}
