/* ssm_scan_ref.c - the selective scan of the four directions, with the
 * cross-merge (spec §2.5-2.6), transcribed the way PyTorch's fallback does
 * it (forward_corev0 + selective_scan_torch / selective_scan_ref):
 *
 *  1. cross scan: per sample, materialise every direction's sequence-order
 *     copies u_k[t][d] = u[pos_k(t)][d], delta_k, B_k, C_k;
 *  2. delta_k = softplus(dt + dt_bias);
 *  3. per direction k, channel d, state n, the sequential recurrence
 *       deltaA = exp(delta*A), deltaB_u = delta*B*u, h = deltaA*h + deltaB_u,
 *       ys = sum_n h*C (in n order), then + u*D;
 *  4. cross merge: each ys_k mapped back to its pixel and summed in v0's
 *     order ((y0 + y2') + y1') + y3', over the directions in dirs only.
 *
 * Allocation: the copies of one sample (3 of K*L*Di floats, 2 of K*L*N and
 * N for the state) are allocated once per call and reused for every
 * sample.  The op type returns nothing, so running out of memory prints a
 * line and aborts; the copies are the point of this variant (spec §4.1),
 * the optimized variants do not make them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vss/vss_kernels.h"

static float *alloc_floats(size_t n)
{
  float *p = malloc((n ? n : 1) * sizeof *p);
  if (!p) {
    fprintf(stderr, "vss_ssm_scan__ref: out of memory (%zu floats)\n", n);
    abort();
  }
  return p;
}

void vss_ssm_scan__ref(const struct vss_scan_args *a)
{
  static const int merge_order[VSS_K] = {0, 2, 1, 3}; /* v0 (spec §2.5) */
  const size_t H = a->H, W = a->W, L = H * W, Di = a->Di, N = a->N,
               R = a->R, G = R + 2 * N; /* G: x_proj rows per direction */
  float *us = alloc_floats(VSS_K * L * Di), *delta = alloc_floats(VSS_K * L * Di),
        *ys = alloc_floats(VSS_K * L * Di), *Bs = alloc_floats(VSS_K * L * N),
        *Cs = alloc_floats(VSS_K * L * N), *h = alloc_floats(N);

  for (size_t b = 0; b < a->B; b++) {
    const float *u = a->u + b * L * Di, *dbl = a->dbl + b * L * VSS_K * G,
                *dt = a->dt + b * L * VSS_K * Di;
    float *y = a->y + b * L * Di;

    /* 1. cross scan; row kt = k*L + t of each copy is step t of direction k */
    for (int k = 0; k < VSS_K; k++)
      for (size_t t = 0; t < L; t++) {
        const size_t p = vss_scan_pos(k, t, H, W), kt = k * L + t;
        for (size_t d = 0; d < Di; d++) {
          us[kt * Di + d] = u[p * Di + d];
          delta[kt * Di + d] = dt[(p * VSS_K + k) * Di + d] + a->dt_bias[k * Di + d];
        }
        for (size_t n = 0; n < N; n++) {
          Bs[kt * N + n] = dbl[(p * VSS_K + k) * G + R + n];
          Cs[kt * N + n] = dbl[(p * VSS_K + k) * G + R + N + n];
        }
      }

    /* 2. delta_k = softplus(dt + bias) */
    vss_softplus__ref(VSS_K * L * Di, delta, delta);

    /* 3. the recurrence */
    for (int k = 0; k < VSS_K; k++) {
      if (!(a->dirs >> k & 1)) continue;
      for (size_t d = 0; d < Di; d++) {
        const float *A = a->A + (k * Di + d) * N, D = a->D[k * Di + d];
        memset(h, 0, N * sizeof *h);
        for (size_t t = 0; t < L; t++) {
          const size_t kt = k * L + t;
          const float dl = delta[kt * Di + d], ut = us[kt * Di + d];
          float yt = 0.0f;
          for (size_t n = 0; n < N; n++) {
            const float deltaA = expf(dl * A[n]);
            const float deltaB_u = dl * Bs[kt * N + n] * ut;
            h[n] = deltaA * h[n] + deltaB_u;
            yt += h[n] * Cs[kt * N + n];
          }
          ys[kt * Di + d] = yt + ut * D;
        }
      }
    }

    /* 4. cross merge: y[pos_k(t)] += ys_k[t], k in v0's order */
    memset(y, 0, L * Di * sizeof *y);
    for (int m = 0; m < VSS_K; m++) {
      const int k = merge_order[m];
      if (!(a->dirs >> k & 1)) continue;
      for (size_t t = 0; t < L; t++) {
        const size_t p = vss_scan_pos(k, t, H, W);
        for (size_t d = 0; d < Di; d++) y[p * Di + d] += ys[(k * L + t) * Di + d];
      }
    }
  }
  free(us); free(delta); free(ys); free(Bs); free(Cs); free(h);
}
