/* avx512_ops.h - the avx512 variant's ops (private to optimized/avx512/,
 * plus the vector-math hooks that tests/test_avx512.c sweeps).  Plain C
 * declarations: this header may be included by files compiled without any
 * AVX-512 flag.
 *
 * The sources of optimized/avx512/ are compiled twice (Makefile): natively
 * (-mavx512f -mavx512dq -mavx512bw -mavx512vl) into the variant avx512,
 * and with -DVSS_AVX512_EMU against SIMDe (-mavx2 -mfma) into avx512emu,
 * DESIGN §5.  VSS_AVX512_FN gives every external symbol the name of the
 * build it belongs to, so both link into one library. */
#ifndef VSS_AVX512_OPS_H
#define VSS_AVX512_OPS_H

#include "vss/vss_kernels.h"

#ifdef VSS_AVX512_EMU
#define VSS_AVX512_FN(op) vss_##op##__avx512emu
#define VSS_AVX512_FN_T(op, tile) vss_##op##__avx512emu_##tile
#else
#define VSS_AVX512_FN(op) vss_##op##__avx512
#define VSS_AVX512_FN_T(op, tile) vss_##op##__avx512_##tile
#endif

void VSS_AVX512_FN(layernorm)(size_t rows, size_t dim, const float *x, size_t ldx,
                              const float *g, const float *b, float eps, float *y,
                              size_t ldy);
int VSS_AVX512_FN(linear_prepare)(struct vss_linear *lin);
void VSS_AVX512_FN_T(linear, 14x32)(const struct vss_linear *lin, size_t rows,
                                    const float *x, size_t ldx, float *y, size_t ldy);
void VSS_AVX512_FN(dwconv3x3)(size_t B, size_t H, size_t W, size_t D, const float *x,
                              size_t ldx, const float *w, const float *b, float *y);
void VSS_AVX512_FN(silu)(size_t n, const float *x, float *y);
void VSS_AVX512_FN(gelu)(size_t n, const float *x, float *y);
void VSS_AVX512_FN(softplus)(size_t n, const float *x, float *y);
void VSS_AVX512_FN(gate)(size_t rows, size_t dim, float *y, const float *z, size_t ldz);
void VSS_AVX512_FN_T(ssm_scan, c16)(const struct vss_scan_args *a);
void VSS_AVX512_FN_T(ssm_scan_dt, c16)(const struct vss_scan_args *a); /* dt_proj fused */

/* The kernels' vector math over arrays, for the tests (accuracy:
 * avx512_util.h), under both builds' names:
 *   vss_expf__avx512[emu]:  y = e^x    (silu, softplus, gelu)
 *   vss_exp2f__avx512[emu]: y = 2^x    (the scan's decay factors) */
void vss_expf__avx512(size_t n, const float *x, float *y);
void vss_exp2f__avx512(size_t n, const float *x, float *y);
void vss_expf__avx512emu(size_t n, const float *x, float *y);
void vss_exp2f__avx512emu(size_t n, const float *x, float *y);

#endif
