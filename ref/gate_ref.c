/* gate_ref.c - the v0 gate after out_norm: y = y * silu(z)  (spec §2.4). */
#include "vss/vss_kernels.h"

void vss_gate__ref(size_t rows, size_t dim, float *y, const float *z,
                   size_t ldz)
{
  for (size_t r = 0; r < rows; r++)
    for (size_t c = 0; c < dim; c++) {
      float s;
      vss_silu__ref(1, &z[r * ldz + c], &s);
      y[r * dim + c] *= s;
    }
}
