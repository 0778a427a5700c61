/* gate_avx2.c - the v0 gate after out_norm, y = y * silu(z) (spec §2.4),
 * two vectors of a row in lockstep (avx2_util.h), masked row tails (y
 * rows are dim long, z rows ldz apart). */
#include "avx2_ops.h"
#include "avx2_util.h"

void vss_gate__avx2(size_t rows, size_t dim, float *y, const float *z,
                    size_t ldz)
{
  /* 2, not vss_avx2_map's 4: with y's loads and the products beside the
   * SiLU, 4 in lockstep spill (a block's band, 128 x 192, y and z in
   * L2: 10.7 -> 9.7 cycles per vector; 3: 10.7, 6: 10.9, 8: 15.4; with
   * the SiLU's former form, avx2_util.h: 10.1 with 4, 9.1 with 2) */
  enum { V = 2 };
  for (size_t r = 0; r < rows; r++) {
    float *yr = y + r * dim;
    const float *zr = z + r * ldz;
    for (size_t c = 0; c < dim; c += 8 * V) {
      __m256 g[V], v[V];
      vss_avx2_load_v(V, zr + c, dim - c, g);
      vss_avx2_silu_n(V, g);
      vss_avx2_load_v(V, yr + c, dim - c, v);
      VSS_AVX2_EACH(j, V) v[j] = _mm256_mul_ps(v[j], g[j]);
      vss_avx2_store_v(V, yr + c, dim - c, v);
    }
  }
}
