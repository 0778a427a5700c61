/* xsmm.h - the xsmm variant's linear (private to optimized/xsmm/). */
#ifndef VSS_XSMM_H
#define VSS_XSMM_H

#include "vss/vss_kernels.h"

int vss_linear_prepare__xsmm(struct vss_linear *lin);
void vss_linear__xsmm(const struct vss_linear *lin, size_t rows, const float *x,
                      size_t ldx, float *y, size_t ldy);

#endif
