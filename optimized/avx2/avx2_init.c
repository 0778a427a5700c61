/* avx2_init.c - the avx2 variant: every op of the table in AVX2+FMA
 * intrinsics, 8 fp32 lanes (the accuracy of its vector math: avx2_util.h). */
#include "avx2_ops.h"

void vss_init__avx2(struct vss_ops *ops, const struct vss_ops *base)
{
  vss_init__ref(ops, NULL); /* every slot valid first */
  (void)base;               /* avx2 wraps nothing */
  ops->layernorm = vss_layernorm__avx2;
  ops->linear_prepare = vss_linear_prepare__avx2;
  ops->linear = vss_linear__avx2_6x16;
  ops->dwconv3x3 = vss_dwconv3x3__avx2;
  ops->silu = vss_silu__avx2;
  ops->gelu = vss_gelu__avx2;
  ops->softplus = vss_softplus__avx2;
  ops->gate = vss_gate__avx2;
  ops->ssm_scan = vss_ssm_scan__avx2_c16;
  ops->ssm_scan_dt = vss_ssm_scan_dt__avx2_c16;
}
