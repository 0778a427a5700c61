/* avx2_ops.h - the avx2 variant's ops (private to optimized/avx2/, plus the
 * exp hook that tests/test_variants.c sweeps).  Plain C declarations: this
 * header may be included by files compiled without -mavx2. */
#ifndef VSS_AVX2_OPS_H
#define VSS_AVX2_OPS_H

#include "vss/vss_kernels.h"

void vss_layernorm__avx2(size_t rows, size_t dim, const float *x, size_t ldx,
                         const float *g, const float *b, float eps, float *y,
                         size_t ldy);
int vss_linear_prepare__avx2(struct vss_linear *lin);
void vss_linear__avx2_6x16(const struct vss_linear *lin, size_t rows,
                           const float *x, size_t ldx, float *y, size_t ldy);
void vss_dwconv3x3__avx2(size_t B, size_t H, size_t W, size_t D, const float *x,
                         size_t ldx, const float *w, const float *b, float *y);
void vss_silu__avx2(size_t n, const float *x, float *y);
void vss_gelu__avx2(size_t n, const float *x, float *y);
void vss_softplus__avx2(size_t n, const float *x, float *y);
void vss_gate__avx2(size_t rows, size_t dim, float *y, const float *z,
                    size_t ldz);
void vss_ssm_scan__avx2_c16(const struct vss_scan_args *a);
void vss_ssm_scan_dt__avx2_c16(const struct vss_scan_args *a); /* dt_proj fused */

/* y[i] = e^x[i] with the kernels' vector exp (vss_avx2_exp_n, avx2_util.h):
 * <= 2 ulp for x <= 70, gradual underflow included.  For the tests. */
void vss_expf__avx2(size_t n, const float *x, float *y);
/* y[i] = 2^x[i] with the scan's decay-factor exp2 (vss_avx2_exp2_tab8_n on 8x):
 * x in [-125, 101] only, <= VSS_EXP2_TAB_MAX_ULP.  For the tests. */
void vss_exp2f_scan__avx2(size_t n, const float *x, float *y);

#endif
