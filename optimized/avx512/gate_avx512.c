/* gate_avx512.c - the v0 gate after out_norm, y = y * silu(z) (spec §2.4):
 * per row, two vectors per round, the row's last vector masked (y rows are
 * dim long, z rows ldz apart). */
#include "avx512_ops.h"
#include "avx512_util.h"

void VSS_AVX512_FN(gate)(size_t rows, size_t dim, float *y, const float *z, size_t ldz)
{
  for (size_t r = 0; r < rows; r++) {
    float *yr = y + r * dim;
    const float *zr = z + r * ldz;
    size_t c = 0;
    for (; c + 32 <= dim; c += 32) {
      const __m512 g0 = vss_avx512_silu(_mm512_loadu_ps(zr + c));
      const __m512 g1 = vss_avx512_silu(_mm512_loadu_ps(zr + c + 16));
      _mm512_storeu_ps(yr + c, _mm512_mul_ps(_mm512_loadu_ps(yr + c), g0));
      _mm512_storeu_ps(yr + c + 16, _mm512_mul_ps(_mm512_loadu_ps(yr + c + 16), g1));
    }
    for (; c < dim; c += 16) {
      const __mmask16 m = vss_avx512_mask(dim - c);
      const __m512 g = vss_avx512_silu(_mm512_maskz_loadu_ps(m, zr + c));
      _mm512_mask_storeu_ps(yr + c, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, yr + c), g));
    }
  }
}
