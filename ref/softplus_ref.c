/* softplus_ref.c - softplus(x) = x if x > 20 else log1p(e^x)  (spec §1:
 * PyTorch's beta = 1, threshold = 20, the same rule as the CUDA kernels).
 * The threshold also keeps expf from overflowing for large x. */
#include <math.h>

#include "vss/vss_kernels.h"

void vss_softplus__ref(size_t n, const float *x, float *y)
{
  for (size_t i = 0; i < n; i++) y[i] = x[i] > 20.0f ? x[i] : log1pf(expf(x[i]));
}
