/* dwconv3x3_avx512.c - depthwise 3x3 conv (stride 1, zero pad 1, no flip),
 * + bias, then SiLU, channel-last (spec §1).
 *
 * Channel blocks of 16 (one zmm; the last one masked) outermost: a block's
 * nine tap vectors and its bias live in registers for the whole image.
 * Within a block, each image row is swept left to right with a 3 x 3
 * window of vectors in registers (three columns of three rows): a step
 * loads only the new right-hand column (three 64-byte lines) and shifts the
 * window, so every input line is read three times in all (once per output
 * row that needs it), from lines that were just touched.  Out-of-image taps
 * read zeros (a zero-masked load of the absent row, a zero column past the
 * edges): the border pixels run the same code as the interior.  The taps
 * are summed in ref's (i, j) order, with FMA; then + bias and the SiLU. */
#include "avx512_ops.h"
#include "avx512_util.h"

/* One column of the window: the pixel's vector in the rows above, at and
 * below (zeros where the row is absent: up/down masks). */
struct column {
  __m512 r[3];
};

VSS_AVX512_INLINE struct column load_column(const float *p, ptrdiff_t row, __mmask16 up,
                                            __mmask16 mid, __mmask16 down)
{
  struct column c;
  c.r[0] = _mm512_maskz_loadu_ps(up, up ? p - row : p);
  c.r[1] = _mm512_maskz_loadu_ps(mid, p);
  c.r[2] = _mm512_maskz_loadu_ps(down, down ? p + row : p);
  return c;
}

void VSS_AVX512_FN(dwconv3x3)(size_t B, size_t H, size_t W, size_t D, const float *x,
                              size_t ldx, const float *w, const float *b, float *y)
{
  const ptrdiff_t row = (ptrdiff_t)(W * ldx);
  const struct column zero = {{_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()}};
  for (size_t d0 = 0; d0 < D; d0 += 16) {
    const __mmask16 m = vss_avx512_mask(D - d0);
    float tap[9][16] = {{0}};
    for (size_t c = 0; c < 16 && d0 + c < D; c++)
      for (int t = 0; t < 9; t++) tap[t][c] = w[(d0 + c) * 9 + (size_t)t];
    __m512 k[9];
    for (int t = 0; t < 9; t++) k[t] = _mm512_loadu_ps(tap[t]);
    const __m512 bias = b ? _mm512_maskz_loadu_ps(m, b + d0) : _mm512_setzero_ps();
    for (size_t s = 0; s < B; s++)
      for (size_t h = 0; h < H; h++) {
        const float *xr = x + ((s * H + h) * W) * ldx + d0;
        float *yr = y + ((s * H + h) * W) * D + d0;
        const __mmask16 up = h > 0 ? m : 0, down = h + 1 < H ? m : 0;
        struct column c0 = zero, c1 = load_column(xr, row, up, m, down);
        struct column c2 = W > 1 ? load_column(xr + ldx, row, up, m, down) : zero;
        for (size_t px = 0; px < W; px++) {
          __m512 acc = _mm512_mul_ps(k[0], c0.r[0]);
          acc = _mm512_fmadd_ps(k[1], c1.r[0], acc);
          acc = _mm512_fmadd_ps(k[2], c2.r[0], acc);
#pragma GCC unroll 2
          for (int i = 1; i < 3; i++) {
            acc = _mm512_fmadd_ps(k[3 * i], c0.r[i], acc);
            acc = _mm512_fmadd_ps(k[3 * i + 1], c1.r[i], acc);
            acc = _mm512_fmadd_ps(k[3 * i + 2], c2.r[i], acc);
          }
          _mm512_mask_storeu_ps(yr + px * D, m, vss_avx512_silu(_mm512_add_ps(bias, acc)));
          c0 = c1;
          c1 = c2;
          c2 = px + 2 < W ? load_column(xr + (px + 2) * ldx, row, up, m, down) : zero;
        }
      }
  }
}
