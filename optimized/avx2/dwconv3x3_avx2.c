/* dwconv3x3_avx2.c - depthwise 3x3 conv (stride 1, zero pad 1, no flip),
 * + bias, then SiLU, channel-last (spec §1).
 *
 * Blocking: channels in chunks of DC = 256, whose tap weights are first
 * transposed to wt[9][DC] (9 KiB on the stack, zero past D) with the bias;
 * then, pixel by pixel in image order, each block of CB = 4 vectors (32
 * channels) sums its in-image taps from the pixel's 3 x 3 neighbourhood:
 * every tap reads 32 consecutive channels of a neighbour's row, so the
 * image streams through the cache once per chunk, in order.  Interior
 * pixels run the fully unrolled nine-tap form; border pixels the same loop
 * over their in-image taps (the others read zero padding, adding nothing).
 * Taps are summed in ref's (i, j) order, with FMA; then + bias and the
 * SiLU on the block's 4 vectors in lockstep.  The last block of a row of D
 * channels is masked (it never reads or writes past channel D). */
#include "avx2_ops.h"
#include "avx2_util.h"

#define DC 256 /* channels per chunk */
#define CB 4   /* vectors per block */

/* One pixel, one block of n <= 32 channels: y = silu(b + sum of the taps
 * (i, j) in [i0, i1] x [j0, j1]); taps are row and col floats apart. */
VSS_AVX2_INLINE void conv_block(const float *xc, ptrdiff_t row, ptrdiff_t col,
                                const float *wt, const float *bt, size_t n,
                                int i0, int i1, int j0, int j1, float *yc)
{
  __m256 acc[CB], xv[CB];
  VSS_AVX2_EACH(q, CB) acc[q] = _mm256_setzero_ps();
  for (int i = i0; i <= i1; i++)
    for (int j = j0; j <= j1; j++) {
      vss_avx2_load_v(CB, xc + (i - 1) * row + (j - 1) * col, n, xv);
      VSS_AVX2_EACH(q, CB)
      acc[q] = _mm256_fmadd_ps(_mm256_loadu_ps(wt + (i * 3 + j) * DC + 8 * q), xv[q], acc[q]);
    }
  VSS_AVX2_EACH(q, CB) acc[q] = _mm256_add_ps(_mm256_loadu_ps(bt + 8 * q), acc[q]);
  vss_avx2_silu_n(CB, acc);
  vss_avx2_store_v(CB, yc, n, acc);
}

void vss_dwconv3x3__avx2(size_t B, size_t H, size_t W, size_t D, const float *x,
                         size_t ldx, const float *w, const float *b, float *y)
{
  const size_t L = H * W;
  const ptrdiff_t row = (ptrdiff_t)(W * ldx), col = (ptrdiff_t)ldx;
  float wt[9 * DC], bt[DC];
  for (size_t d0 = 0; d0 < D; d0 += DC) {
    const size_t nd = D - d0 < DC ? D - d0 : DC;
    for (size_t c = 0; c < DC; c++) {
      for (int t = 0; t < 9; t++) wt[t * DC + c] = c < nd ? w[(d0 + c) * 9 + t] : 0.0f;
      bt[c] = c < nd && b ? b[d0 + c] : 0.0f;
    }
    for (size_t s = 0; s < B; s++)
      for (size_t h = 0; h < H; h++) {
        const int i0 = h == 0, i1 = h + 1 < H ? 2 : 1;
        for (size_t c = 0; c < W; c++) {
          const int j0 = c == 0, j1 = c + 1 < W ? 2 : 1;
          const size_t p = s * L + h * W + c;
          for (size_t c0 = 0; c0 < nd; c0 += 8 * CB) {
            const float *xc = x + p * ldx + d0 + c0;
            float *yc = y + p * D + d0 + c0;
            if (i0 == 0 && i1 == 2 && j0 == 0 && j1 == 2) /* interior: unrolled */
              conv_block(xc, row, col, wt + c0, bt + c0, nd - c0, 0, 2, 0, 2, yc);
            else
              conv_block(xc, row, col, wt + c0, bt + c0, nd - c0, i0, i1, j0, j1, yc);
          }
        }
      }
  }
}
