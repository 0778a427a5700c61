/* dwconv3x3_avx2.c - depthwise 3x3 conv (stride 1, zero pad 1, no flip),
 * + bias, then SiLU, channel-last (spec §1).
 *
 * Blocking: channels in chunks of DC = 256, whose tap weights are first
 * transposed to wt[9][DC] (9 KiB on the stack, zero past D) with the bias;
 * then the image row by row, in order, so that it streams through the
 * cache once per chunk:
 *  - interior pixels in runs of RUN along the row, 8 channels at a time
 *    (conv_run): a tap row's three weight vectors are loaded once for the
 *    run and each x vector once for the up to three outputs it feeds,
 *    3 + (RUN + 2) loads per tap row for RUN outputs, where a pixel alone
 *    loads 9 + 9 per output vector;
 *  - the other pixels (borders, a row's last interior ones, and the last
 *    D % 8 channels of a run) one by one, CB = 4 vectors (32 channels) at
 *    a time (conv_block): the unrolled nine-tap form inside, the same loop
 *    over the in-image taps on the border (the others would read zero
 *    padding, adding nothing); the last block masked (it never reads or
 *    writes past channel D);
 *  - then the SiLU over the row's outputs, in one pass (vss_avx2_map).
 * Each output's taps are summed in ref's (i, j) order, with FMA, then
 * + bias, in both forms: the same bits either way.  The runs and the
 * separate SiLU pass took the v0_T1 conv (Di = 192, x rows 2 Di apart)
 * from 0.53-0.54 to 0.39-0.42 ms (medians of 31, the two alternated in
 * one process, three times): with the SiLU inside each block, its long
 * chains held up the sums. */
#include "avx2_ops.h"
#include "avx2_util.h"

#define DC 256 /* channels per chunk */
#define CB 4   /* vectors per block (conv_block) */
#define RUN 4  /* interior pixels per run (conv_run) */

/* One pixel, one block of n <= 32 channels: y = b + the taps (i, j) in
 * [i0, i1] x [j0, j1]; taps are row and col floats apart. */
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
  vss_avx2_store_v(CB, yc, n, acc);
}

/* RUN consecutive interior pixels of a row (the first at xc, outputs D
 * floats apart from yc), 8 channels: y = b + the nine taps. */
VSS_AVX2_INLINE void conv_run(const float *xc, ptrdiff_t row, ptrdiff_t col, const float *wt,
                              const float *bt, float *yc, size_t D)
{
  __m256 acc[RUN];
  VSS_AVX2_EACH(p, RUN) acc[p] = _mm256_setzero_ps();
  for (int i = 0; i < 3; i++) {
    const __m256 w0 = _mm256_loadu_ps(wt + (i * 3) * DC);
    const __m256 w1 = _mm256_loadu_ps(wt + (i * 3 + 1) * DC);
    const __m256 w2 = _mm256_loadu_ps(wt + (i * 3 + 2) * DC);
    const float *xr = xc + (i - 1) * row - col; /* column c - 1 */
    /* x column k feeds pixel k (tap j = 0), k - 1 (j = 1) and k - 2 (j = 2):
     * each pixel's taps in order of j */
#pragma GCC unroll 8
    for (int k = 0; k < RUN + 2; k++) {
      const __m256 xv = _mm256_loadu_ps(xr + k * col);
      if (k < RUN) acc[k] = _mm256_fmadd_ps(w0, xv, acc[k]);
      if (k >= 1 && k <= RUN) acc[k - 1] = _mm256_fmadd_ps(w1, xv, acc[k - 1]);
      if (k >= 2) acc[k - 2] = _mm256_fmadd_ps(w2, xv, acc[k - 2]);
    }
  }
  const __m256 b = _mm256_loadu_ps(bt);
  VSS_AVX2_EACH(p, RUN) _mm256_storeu_ps(yc + p * D, _mm256_add_ps(b, acc[p]));
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
        const size_t p0 = s * L + h * W; /* the row's first pixel */
        for (size_t c = 0; c < W; c++) {
          const size_t p = p0 + c;
          if (i0 == 0 && i1 == 2 && c >= 1 && c + RUN < W) { /* RUN interior pixels */
            size_t c0 = 0;
            for (; c0 + 8 <= nd; c0 += 8)
              conv_run(x + p * ldx + d0 + c0, row, col, wt + c0, bt + c0, y + p * D + d0 + c0, D);
            if (c0 < nd) /* the last channels, pixel by pixel */
              for (size_t q = 0; q < RUN; q++)
                conv_block(x + (p + q) * ldx + d0 + c0, row, col, wt + c0, bt + c0, nd - c0, 0,
                           2, 0, 2, y + (p + q) * D + d0 + c0);
            c += RUN - 1;
            continue;
          }
          const int j0 = c == 0, j1 = c + 1 < W ? 2 : 1;
          for (size_t c0 = 0; c0 < nd; c0 += 8 * CB) {
            const float *xc = x + p * ldx + d0 + c0;
            float *yc = y + p * D + d0 + c0;
            if (i0 == 0 && i1 == 2 && j0 == 0 && j1 == 2) /* interior: unrolled */
              conv_block(xc, row, col, wt + c0, bt + c0, nd - c0, 0, 2, 0, 2, yc);
            else
              conv_block(xc, row, col, wt + c0, bt + c0, nd - c0, i0, i1, j0, j1, yc);
          }
        }
        /* the SiLU over the row's outputs: one run when the chunk is all of D */
        float *yr = y + p0 * D + d0;
        if (nd == D) vss_avx2_map(W * D, yr, yr, vss_avx2_silu_n);
        else
          for (size_t c = 0; c < W; c++) vss_avx2_map(nd, yr + c * D, yr + c * D, vss_avx2_silu_n);
      }
  }
}
