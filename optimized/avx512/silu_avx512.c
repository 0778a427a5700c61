/* silu_avx512.c - y = silu(x) = x / (1 + e^-x), 16 lanes, masked tail
 * (vss_avx512_silu, avx512_util.h). */
#include "avx512_ops.h"
#include "avx512_util.h"

void VSS_AVX512_FN(silu)(size_t n, const float *x, float *y)
{
  vss_avx512_map(n, x, y, vss_avx512_silu);
}
