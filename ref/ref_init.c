/* ref_init.c - the ref variant: every slot of the ops table. */
#include "vss/vss_kernels.h"

void vss_init__ref(struct vss_ops *ops, const struct vss_ops *base)
{
  (void)base; /* ref wraps nothing */
  ops->layernorm = vss_layernorm__ref;
  ops->linear_prepare = vss_linear_prepare__ref;
  ops->linear = vss_linear__ref;
  ops->dwconv3x3 = vss_dwconv3x3__ref;
  ops->silu = vss_silu__ref;
  ops->gelu = vss_gelu__ref;
  ops->softplus = vss_softplus__ref;
  ops->gate = vss_gate__ref;
  ops->ssm_scan = vss_ssm_scan__ref;
  ops->ssm_scan_dt = NULL; /* ref keeps dt_proj a linear of its own */
}
