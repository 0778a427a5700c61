/* dwconv3x3_ref.c - depthwise 3x3 conv, stride 1, zero padding 1,
 * cross-correlation (no kernel flip), + bias, then SiLU (spec §1):
 *   Y[h][w][d] = silu( b[d] + sum_{i,j} K[d][i][j] * Xpad[h+i][w+j][d] )
 * The nine taps are summed in float in (i, j) row-major order, out-of-image
 * taps reading the zero ring; the bias is added to the finished sum, as the
 * formula writes it.  (PyTorch's conv is not bit-exact with any fixed order
 * anyway; the tests pin this one on exactly representable inputs.) */
#include "vss/vss_kernels.h"

/* Xpad[h + i][w + j] of one sample: the pixel at (h + i - 1, w + j - 1), or
 * 0 outside the image (size_t wraps below zero, so one compare per axis). */
static float xpad(const float *x, size_t ldx, size_t H, size_t W, size_t h,
                  size_t w, size_t i, size_t j, size_t d)
{
  const size_t hh = h + i - 1, ww = w + j - 1;
  return hh < H && ww < W ? x[(hh * W + ww) * ldx + d] : 0.0f;
}

void vss_dwconv3x3__ref(size_t B, size_t H, size_t W, size_t D, const float *x,
                        size_t ldx, const float *w, const float *b, float *y)
{
  const size_t L = H * W;
  for (size_t s = 0; s < B; s++) {
    const float *xs = x + s * L * ldx;
    for (size_t h = 0; h < H; h++)
      for (size_t col = 0; col < W; col++)
        for (size_t d = 0; d < D; d++) {
          const float *k = w + d * 9;
          float acc = 0.0f;
          for (size_t i = 0; i < 3; i++)
            for (size_t j = 0; j < 3; j++)
              acc += k[i * 3 + j] * xpad(xs, ldx, H, W, h, col, i, j, d);
          if (b) acc = b[d] + acc;
          float *out = &y[(s * L + h * W + col) * D + d];
          vss_silu__ref(1, &acc, out);
        }
  }
}
