/* expf_avx512.c - the kernels' vector exponentials over arrays: not ops of
 * the table, the hooks through which tests/test_avx512.c sweeps them
 * against double precision (accuracy: avx512_util.h). */
#include "avx512_ops.h"
#include "avx512_util.h"

void VSS_AVX512_FN(expf)(size_t n, const float *x, float *y)
{
  vss_avx512_map(n, x, y, vss_avx512_exp);
}

void VSS_AVX512_FN(exp2f)(size_t n, const float *x, float *y)
{
  vss_avx512_map(n, x, y, vss_avx512_exp2);
}
