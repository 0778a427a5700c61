/* layernorm_avx512.c - LayerNorm over each row (spec §1), 16 lanes: the
 * mean, then the two-pass biased variance (never E[x^2] - mu^2), then
 * (x - mu) / sqrt(var + eps) * g + b in ref's order.  Every pass walks the
 * row 16 floats at a time under the mask of the lanes left (all 16 but at
 * the row's end; none past it), so the tail needs no second loop: masked-off lanes load
 * as 0 and the variance pass zeroes their x - mu (maskz_sub).  The sums run
 * in 16 lanes x 2 accumulators, reduced at the end: a more accurate order
 * than ref's sequential one. */
#include <math.h>

#include "avx512_ops.h"
#include "avx512_util.h"

void VSS_AVX512_FN(layernorm)(size_t rows, size_t dim, const float *x, size_t ldx,
                              const float *g, const float *b, float eps, float *y,
                              size_t ldy)
{
  for (size_t r = 0; r < rows; r++) {
    const float *xr = x + r * ldx;
    float *yr = y + r * ldy;
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    for (size_t i = 0; i < dim; i += 32) {
      s0 = _mm512_add_ps(s0, _mm512_maskz_loadu_ps(vss_avx512_lanes(dim, i), xr + i));
      s1 = _mm512_add_ps(s1, _mm512_maskz_loadu_ps(vss_avx512_lanes(dim, i + 16), xr + i + 16));
    }
    const __m512 mu = _mm512_set1_ps(_mm512_reduce_add_ps(_mm512_add_ps(s0, s1)) / (float)dim);
    s0 = s1 = _mm512_setzero_ps();
    for (size_t i = 0; i < dim; i += 32) {
      const __mmask16 m0 = vss_avx512_lanes(dim, i), m1 = vss_avx512_lanes(dim, i + 16);
      const __m512 d0 = _mm512_maskz_sub_ps(m0, _mm512_maskz_loadu_ps(m0, xr + i), mu);
      const __m512 d1 = _mm512_maskz_sub_ps(m1, _mm512_maskz_loadu_ps(m1, xr + i + 16), mu);
      s0 = _mm512_fmadd_ps(d0, d0, s0);
      s1 = _mm512_fmadd_ps(d1, d1, s1);
    }
    const float var = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1)) / (float)dim;
    const __m512 sd = _mm512_set1_ps(sqrtf(var + eps));
    for (size_t i = 0; i < dim; i += 16) {
      const __mmask16 m = vss_avx512_mask(dim - i);
      const __m512 v = _mm512_div_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, xr + i), mu), sd);
      _mm512_mask_storeu_ps(yr + i, m,
                            _mm512_fmadd_ps(v, _mm512_maskz_loadu_ps(m, g + i),
                                            _mm512_maskz_loadu_ps(m, b + i)));
    }
  }
}
