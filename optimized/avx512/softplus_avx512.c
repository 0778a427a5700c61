/* softplus_avx512.c - y = softplus(x) (threshold 20, spec §1), 16 lanes,
 * masked tail: max(x, 0) + log1p(e^-|x|) (vss_avx512_softplus). */
#include "avx512_ops.h"
#include "avx512_util.h"

void VSS_AVX512_FN(softplus)(size_t n, const float *x, float *y)
{
  vss_avx512_map(n, x, y, vss_avx512_softplus);
}
