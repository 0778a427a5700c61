/* silu_ref.c - silu(x) = x * sigmoid(x) = x / (1 + e^-x)  (spec §1).
 * For x < 0 the literal form overflows e^-x (x < -88.7: x/inf = -0 while
 * the true value is still representable); there we use the same function
 * written as x e^x / (1 + e^x), whose exponential cannot overflow.  Finite
 * inputs never give NaN or Inf; silu(-inf) is NaN (-inf * 0), as in
 * PyTorch. */
#include <math.h>

#include "vss/vss_kernels.h"

static float silu1(float x)
{
  if (x >= 0.0f) return x / (1.0f + expf(-x));
  const float e = expf(x);
  return x * e / (1.0f + e);
}

void vss_silu__ref(size_t n, const float *x, float *y)
{
  for (size_t i = 0; i < n; i++) y[i] = silu1(x[i]);
}
