/* layernorm_avx2.c - LayerNorm over each row (spec §1), 8 lanes:
 * mean, then the two-pass biased variance (never E[x^2] - mu^2), then
 * (x - mu) / sqrt(var + eps) * g + b, as ref writes it.  The two sums run
 * in 8 lanes x 2 accumulators and are reduced at the end, a more accurate
 * order than ref's sequential one; row tails are masked loads/stores. */
#include <math.h>

#include "avx2_ops.h"
#include "avx2_util.h"

/* The sum of a row's x (squares = 0) or of its (x - mu)^2 (squares = 1),
 * in 2 x 8 lanes; the masked tail's missing lanes count 0. */
static float row_sum(size_t dim, const float *xr, __m256 mu, int squares)
{
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= dim; i += 16) {
    __m256 a = _mm256_loadu_ps(xr + i), b = _mm256_loadu_ps(xr + i + 8);
    if (squares) {
      a = _mm256_sub_ps(a, mu);
      b = _mm256_sub_ps(b, mu);
      s0 = _mm256_fmadd_ps(a, a, s0);
      s1 = _mm256_fmadd_ps(b, b, s1);
    } else {
      s0 = _mm256_add_ps(s0, a);
      s1 = _mm256_add_ps(s1, b);
    }
  }
  for (; i < dim; i += 8) {
    const size_t n = dim - i < 8 ? dim - i : 8;
    __m256 a = vss_avx2_load_n(xr + i, n);
    if (squares) {
      a = _mm256_and_ps(_mm256_sub_ps(a, mu), _mm256_castsi256_ps(vss_avx2_mask(n)));
      s0 = _mm256_fmadd_ps(a, a, s0);
    } else {
      s0 = _mm256_add_ps(s0, a);
    }
  }
  return vss_avx2_hsum(_mm256_add_ps(s0, s1));
}

void vss_layernorm__avx2(size_t rows, size_t dim, const float *x, size_t ldx,
                         const float *g, const float *b, float eps, float *y,
                         size_t ldy)
{
  for (size_t r = 0; r < rows; r++) {
    const float *xr = x + r * ldx;
    float *yr = y + r * ldy;
    const float mu = row_sum(dim, xr, _mm256_setzero_ps(), 0) / (float)dim;
    const __m256 vmu = _mm256_set1_ps(mu);
    const float var = row_sum(dim, xr, vmu, 1) / (float)dim;
    const __m256 sd = _mm256_set1_ps(sqrtf(var + eps));
    for (size_t i = 0; i < dim; i += 8) {
      const size_t n = dim - i < 8 ? dim - i : 8;
      const __m256 v = _mm256_div_ps(_mm256_sub_ps(vss_avx2_load_n(xr + i, n), vmu), sd);
      vss_avx2_store_n(yr + i,
                       _mm256_fmadd_ps(v, vss_avx2_load_n(g + i, n), vss_avx2_load_n(b + i, n)),
                       n);
    }
  }
}
