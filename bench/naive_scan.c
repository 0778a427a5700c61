/* naive_scan.c - the `naive` peer row: the selective scan of the 4
 * directions written the plain way, the baseline the optimized scans'
 * speed targets are ratios to.
 *
 * Straightforward loops, scalar code: compiled -O2 -fno-tree-vectorize,
 * without vector ISA flags.  Unlike ref it makes no copies: for each
 * direction k and channel d it walks the pixels in scan order and adds
 * each output straight into y (same math as vss_kernels.h's contract;
 * the merge order differs from ref's, within fp32 rounding). */
#include <math.h>
#include <string.h>

#include "bench.h"

static float softplus(float x) { return x > 20.0f ? x : log1pf(expf(x)); }

void bench_ssm_scan__naive(const struct vss_scan_args *a)
{
  const size_t H = a->H, W = a->W, L = H * W, Di = a->Di, N = a->N;
  const size_t G = a->R + 2 * a->N; /* x_proj outputs per direction */
  float h[4096];                    /* the state; N <= 4096 (block config) */
  memset(a->y, 0, a->B * L * Di * sizeof *a->y);
  for (size_t b = 0; b < a->B; b++)
    for (int k = 0; k < VSS_K; k++) {
      if (!(a->dirs >> k & 1)) continue;
      for (size_t d = 0; d < Di; d++) {
        const float *A = a->A + (k * Di + d) * N;
        const float D = a->D[k * Di + d], bias = a->dt_bias[k * Di + d];
        for (size_t n = 0; n < N; n++) h[n] = 0.0f;
        for (size_t t = 0; t < L; t++) {
          const size_t p = b * L + vss_scan_pos(k, t, H, W);
          const float u = a->u[p * Di + d];
          const float delta = softplus(a->dt[(p * VSS_K + k) * Di + d] + bias);
          const float *Bt = a->dbl + (p * VSS_K + k) * G + a->R, *Ct = Bt + N;
          float y = 0.0f;
          for (size_t n = 0; n < N; n++) {
            h[n] = expf(delta * A[n]) * h[n] + delta * Bt[n] * u;
            y += Ct[n] * h[n];
          }
          a->y[p * Di + d] += y + D * u;
        }
      }
    }
}

void bench_init_naive(struct vss_ops *ops)
{
  vss_init__ref(ops, NULL);
  ops->ssm_scan = bench_ssm_scan__naive;
}
