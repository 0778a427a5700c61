/* avx512_init.c - the avx512 variant (and, compiled with -DVSS_AVX512_EMU
 * against SIMDe, avx512emu): every op of the table in AVX-512F/DQ/BW/VL
 * intrinsics, 16 fp32 lanes (the accuracy of its vector math:
 * avx512_util.h). */
#include "avx512_ops.h"

void VSS_AVX512_FN(init)(struct vss_ops *ops, const struct vss_ops *base)
{
  vss_init__ref(ops, NULL); /* every slot valid first */
  (void)base;               /* wraps nothing */
  ops->layernorm = VSS_AVX512_FN(layernorm);
  ops->linear_prepare = VSS_AVX512_FN(linear_prepare);
  ops->linear = VSS_AVX512_FN_T(linear, 14x32);
  ops->dwconv3x3 = VSS_AVX512_FN(dwconv3x3);
  ops->silu = VSS_AVX512_FN(silu);
  ops->gelu = VSS_AVX512_FN(gelu);
  ops->softplus = VSS_AVX512_FN(softplus);
  ops->gate = VSS_AVX512_FN(gate);
  ops->ssm_scan = VSS_AVX512_FN_T(ssm_scan, c16);
  ops->ssm_scan_dt = VSS_AVX512_FN_T(ssm_scan_dt, c16);
}
