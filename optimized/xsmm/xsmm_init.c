/* xsmm_init.c - the xsmm variant: the GEMM-shaped ops (every linear of the
 * block: in_proj, x_proj, dt_proj, out_proj, fc1, fc2) through libxsmm JIT
 * kernels, every other op (layernorm, dwconv3x3, silu, gelu, softplus,
 * gate, ssm_scan) from the best vector variant this CPU can run: avx512
 * where it was built and the CPU and OS run it (and VSS_MAX_ISA does not
 * cap it), else avx2, else ref.  The check is the registry's
 * (vss_isa_runnable), made when the table is filled. */
#include "vss_internal.h"
#include "xsmm.h"

void vss_xsmm_vector_ops(struct vss_ops *ops)
{
#ifdef VSS_HAVE_AVX512
  if (vss_isa_runnable(VSS_ISA_AVX512, NULL)) {
    vss_init__avx512(ops, NULL);
    return;
  }
#endif
#ifdef VSS_HAVE_AVX2
  vss_init__avx2(ops, NULL);
#else
  vss_init__ref(ops, NULL);
#endif
}

void vss_init__xsmm(struct vss_ops *ops, const struct vss_ops *base)
{
  (void)base; /* xsmm wraps nothing */
  vss_xsmm_vector_ops(ops);
  ops->linear_prepare = vss_linear_prepare__xsmm;
  ops->linear = vss_linear__xsmm;
  ops->ssm_scan_dt = NULL; /* dt_proj is a libxsmm GEMM too */
}
