/* xsmm_init.c - the xsmm variant: the GEMM-shaped ops (every linear of the
 * block: in_proj, x_proj, dt_proj, out_proj, fc1, fc2) through libxsmm JIT
 * kernels, every other op from the best vector variant built. */
#include "xsmm.h"

void vss_init__xsmm(struct vss_ops *ops, const struct vss_ops *base)
{
  (void)base; /* xsmm wraps nothing */
#ifdef VSS_HAVE_AVX2
  vss_init__avx2(ops, NULL);
#else
  vss_init__ref(ops, NULL);
#endif
  ops->linear_prepare = vss_linear_prepare__xsmm;
  ops->linear = vss_linear__xsmm;
}
