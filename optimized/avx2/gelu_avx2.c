/* gelu_avx2.c - y = exact GELU(x) = x Phi(x), 8 lanes, by the piecewise
 * polynomial of avx2_util.h (vss_avx2_gelu_n: 0.095 of VSS_LIM_GELU at
 * most against double, <= 1.22 ulp for x >= 0). */
#include "avx2_ops.h"
#include "avx2_util.h"

void vss_gelu__avx2(size_t n, const float *x, float *y)
{
  vss_avx2_map(n, x, y, vss_avx2_gelu_n);
}
