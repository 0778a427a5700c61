/* gelu_ref.c - exact GELU, 0.5 x (1 + erf(x / sqrt 2)) (spec §1; PyTorch's
 * nn.GELU() default), not the tanh approximation. */
#include <math.h>

#include "vss/vss_kernels.h"

void vss_gelu__ref(size_t n, const float *x, float *y)
{
  const float sqrt2 = 1.41421356237309505f;
  for (size_t i = 0; i < n; i++)
    y[i] = 0.5f * x[i] * (1.0f + erff(x[i] / sqrt2));
}
