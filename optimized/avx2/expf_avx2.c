/* expf_avx2.c - the kernels' vector exp over an array: not an op of the
 * table, the hook through which tests/test_variants.c sweeps vss_avx2_exp
 * against a double-precision exp (vss_avx2_exp_n; accuracy: avx2_util.h). */
#include "avx2_ops.h"
#include "avx2_util.h"

void vss_expf__avx2(size_t n, const float *x, float *y)
{
  vss_avx2_map(n, x, y, vss_avx2_exp_n);
}

/* y[i] = 2^x[i] with the scan's table exp2 (vss_avx2_exp2_tab_n), for
 * x in [-125, 101] only. */
void vss_exp2f_scan__avx2(size_t n, const float *x, float *y)
{
  vss_avx2_map(n, x, y, vss_avx2_exp2_tab_n);
}
