/* omp_init.c - the omp variant: OpenMP-threaded wrappers around the best
 * single-thread table (`base`, DESIGN §3), and the chunked, tiled scan of
 * ssm_scan_omp.c.  Every op's result is bit-identical for any thread count
 * (omp_ops.h); the thread count is OpenMP's (OMP_NUM_THREADS, or
 * vss_block_opts.threads / `vssbench run --threads N` through core/block.c). */
#include <string.h>

#include "omp_ops.h"

VSS_OMP_ANY_X86_BEGIN

struct vss_ops vss_omp_base;

void vss_init__omp(struct vss_ops *ops, const struct vss_ops *base)
{
  struct vss_ops b;
  if (base) b = *base;
  else vss_init__ref(&b, NULL); /* the registry always passes one */
  /* one base per process (omp_ops.h): rewritten only if it changed */
#pragma omp critical(vss_omp_base)
  if (memcmp(&vss_omp_base, &b, sizeof b) != 0) vss_omp_base = b;
  *ops = b; /* every slot valid first */
  vss_omp_wrap_ops(ops);
  ops->ssm_scan = vss_ssm_scan__omp;
  /* dt_proj fused where the base fuses it (avx2, avx512: their linear sums
   * dt as the fused scan does; not xsmm's libxsmm GEMM), never base's own
   * single-thread slot */
  ops->ssm_scan_dt = b.ssm_scan_dt ? vss_ssm_scan_dt__omp : NULL;
}

VSS_OMP_ANY_X86_END
