/* softplus_avx2.c - y = softplus(x) (threshold 20, spec §1), 8 lanes:
 * max(x, 0) + log1p(e^-|x|) (vss_avx2_softplus_array, avx2_util.h). */
#include "avx2_ops.h"
#include "avx2_util.h"

void vss_softplus__avx2(size_t n, const float *x, float *y)
{
  vss_avx2_softplus_array(n, x, y);
}
