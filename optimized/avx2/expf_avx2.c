/* expf_avx2.c - the kernels' vector exp over an array: not an op of the
 * table, the hook through which tests/test_variants.c sweeps vss_avx2_exp
 * against a double-precision exp (vss_avx2_exp_n; accuracy: avx2_util.h). */
#include "avx2_ops.h"
#include "avx2_util.h"

void vss_expf__avx2(size_t n, const float *x, float *y)
{
  vss_avx2_map(n, x, y, vss_avx2_exp_n);
}

/* 2^x as the scans form it: 8x (exact), then 2^(8x / 8). */
VSS_AVX2_INLINE void exp2_scan_tab_n(int cnt, __m256 *x)
{
  VSS_AVX2_EACH(i, cnt) x[i] = _mm256_mul_ps(x[i], _mm256_set1_ps(8.0f));
  vss_avx2_exp2_tab8_n(cnt, x);
}

/* y[i] = 2^x[i] with the scans' table exp2 (vss_avx2_exp2_tab8_n), for
 * x in [-125, 101] only. */
void vss_exp2f_scan__avx2(size_t n, const float *x, float *y)
{
  vss_avx2_map(n, x, y, exp2_scan_tab_n);
}
