/* layernorm_ref.c - LayerNorm over each row (spec §1): mean, biased
 * variance, (x - mu) / sqrt(var + eps) * g + b.
 *
 * Both reductions accumulate in float, in index order, on purpose: the
 * reference is a literal fp32 transcription of the formula, like the
 * PyTorch fp32 path the tolerances are measured against.  A double
 * accumulator or a pairwise sum would be more accurate but would no longer
 * be the plain formula, and a fixed order keeps the oracle deterministic.
 * The variance is the two-pass mean of squared deviations, never the
 * E[x^2] - mu^2 shortcut (which cancels catastrophically). */
#include <math.h>

#include "vss/vss_kernels.h"

void vss_layernorm__ref(size_t rows, size_t dim, const float *x, size_t ldx,
                        const float *g, const float *b, float eps, float *y,
                        size_t ldy)
{
  for (size_t r = 0; r < rows; r++) {
    const float *xr = x + r * ldx;
    float *yr = y + r * ldy;

    float sum = 0.0f;
    for (size_t i = 0; i < dim; i++) sum += xr[i];
    const float mu = sum / (float)dim;

    float sq = 0.0f;
    for (size_t i = 0; i < dim; i++) {
      const float dev = xr[i] - mu;
      sq += dev * dev;
    }
    const float var = sq / (float)dim;

    const float sd = sqrtf(var + eps);
    for (size_t i = 0; i < dim; i++) yr[i] = (xr[i] - mu) / sd * g[i] + b[i];
  }
}
