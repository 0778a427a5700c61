/* gelu_avx2.c - y = exact GELU(x) = x Phi(x), 8 lanes, with the vector
 * erfc of avx2_util.h (vss_avx2_gelu_n: within 6e-7 + 4 ulp of double). */
#include "avx2_ops.h"
#include "avx2_util.h"

void vss_gelu__avx2(size_t n, const float *x, float *y)
{
  vss_avx2_gelu_array(n, x, y);
}
