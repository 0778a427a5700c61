/* gelu_avx512.c - y = exact GELU(x) = x Phi(x), 16 lanes, masked tail,
 * Phi(-|x|) from the piecewise polynomial of avx512_util.h (vss_avx512_gelu). */
#include "avx512_ops.h"
#include "avx512_util.h"

void VSS_AVX512_FN(gelu)(size_t n, const float *x, float *y)
{
  vss_avx512_map(n, x, y, vss_avx512_gelu);
}
