/* xsmm.h - the xsmm variant's linear (private to optimized/xsmm/). */
#ifndef VSS_XSMM_H
#define VSS_XSMM_H

#include "vss/vss_kernels.h"

/* The table the variant's non-GEMM ops (and the fc1 epilogue's GELU) come
 * from: avx512's where it was built and runs here, else avx2's, else ref's
 * (xsmm_init.c). */
void vss_xsmm_vector_ops(struct vss_ops *ops);

int vss_linear_prepare__xsmm(struct vss_linear *lin);
void vss_linear__xsmm(const struct vss_linear *lin, size_t rows, const float *x,
                      size_t ldx, float *y, size_t ldy);

#endif
