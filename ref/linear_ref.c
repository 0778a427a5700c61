/* linear_ref.c - y = act(x W^T + b), optionally added to y (spec §1:
 * y[o] = sum_i W[o][i] x[i] + b[o], PyTorch's (out, in) weight layout).
 * The dot product accumulates in float, in index order; then the bias,
 * then the activation, then the optional accumulation into y. */
#include "vss/vss_kernels.h"

/* ref computes straight from the caller's weight: nothing to pack. */
int vss_linear_prepare__ref(struct vss_linear *lin)
{
  lin->priv = NULL;
  lin->priv_free = NULL;
  return 0;
}

void vss_linear__ref(const struct vss_linear *lin, size_t rows, const float *x,
                     size_t ldx, float *y, size_t ldy)
{
  const struct vss_linear_desc *d = &lin->d;
  for (size_t r = 0; r < rows; r++) {
    const float *xr = x + r * ldx;
    float *yr = y + r * ldy;
    for (size_t o = 0; o < d->n_out; o++) {
      const float *wo = d->w + o * d->n_in;
      float s = 0.0f;
      for (size_t i = 0; i < d->n_in; i++) s += xr[i] * wo[i];
      if (d->b) s += d->b[o];
      if (d->act == VSS_ACT_GELU) vss_gelu__ref(1, &s, &s);
      yr[o] = d->accumulate ? yr[o] + s : s;
    }
  }
}
