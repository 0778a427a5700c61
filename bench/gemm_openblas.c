/* gemm_openblas.c - the `openblas` peer rows: linear through cblas_sgemm
 * (one thread: main() calls openblas_set_num_threads(1)), the bias and
 * GELU in a separate pass, as a BLAS user would write it. */
#include <cblas.h>

#include "bench.h"

static void linear_openblas(const struct vss_linear *lin, size_t rows,
                            const float *x, size_t ldx, float *y, size_t ldy)
{
  const struct vss_linear_desc *d = &lin->d;
  if (d->act != VSS_ACT_NONE && d->accumulate) { /* the block never asks */
    vss_linear__ref(lin, rows, x, ldx, y, ldy);
    return;
  }
  if (d->act == VSS_ACT_NONE && d->b) /* y = (y +) b, then y += x W^T */
    for (size_t r = 0; r < rows; r++)
      for (size_t o = 0; o < d->n_out; o++)
        y[r * ldy + o] = (d->accumulate ? y[r * ldy + o] : 0.0f) + d->b[o];
  const float beta = d->accumulate || (d->b && d->act == VSS_ACT_NONE) ? 1.0f : 0.0f;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)d->n_out,
              (int)d->n_in, 1.0f, x, (int)ldx, d->w, (int)d->n_in, beta, y, (int)ldy);
  if (d->act == VSS_ACT_NONE) return;
  for (size_t r = 0; r < rows; r++) { /* act(x W^T + b) */
    float *yr = y + r * ldy;
    if (d->b)
      for (size_t o = 0; o < d->n_out; o++) yr[o] += d->b[o];
    vss_gelu__ref(d->n_out, yr, yr);
  }
}

void bench_init_openblas(struct vss_ops *ops)
{
  vss_init__ref(ops, NULL);
  ops->linear_prepare = vss_linear_prepare__ref; /* nothing to pack */
  ops->linear = linear_openblas;
}

const char *bench_openblas_config(void) { return openblas_get_config(); }
