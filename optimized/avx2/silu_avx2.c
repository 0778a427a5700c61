/* silu_avx2.c - y = silu(x) = x / (1 + e^-x), 8 lanes (vss_avx2_silu_n:
 * within 4 ulp of the double value; see avx2_util.h). */
#include "avx2_ops.h"
#include "avx2_util.h"

void vss_silu__avx2(size_t n, const float *x, float *y)
{
  vss_avx2_map(n, x, y, vss_avx2_silu_n);
}
