/* linear_avx512.c - y = act(x W^T + b) [+ y] as a packed-panel GEMM with a
 * 14 x 32 register tile (AVX-512F).
 *
 * GEMM view: C (rows x n_out) = A (rows x n_in) B (n_in x n_out), A = x
 * read in place (row stride ldx), B = W^T.
 *
 * Plan step (linear_prepare, once per weight): W is cut into panels of
 * NR = 32 output channels; panel j holds, for k = 0..n_in-1, the 32
 * weights W[32j + c][k] side by side (two zmm, 64-byte aligned, zero past
 * n_out), so the kernel reads it front to back.  The bias follows, padded
 * with zeros to whole panels.
 *
 * Micro-kernel: 14 rows x 32 outputs in 28 zmm accumulators over the whole
 * of K: per k, two aligned panel vectors and 14 broadcasts of x (memory
 * operands of the FMAs), 28 FMAs; 30 of the 32 zmm registers in use.
 * There is no K blocking (so no partial sums to park): a panel slice is
 * 128 bytes per k and the 28 FMAs that use it give the L2 plenty of time to
 * deliver it when the panel does not fit in L1 (n_in > ~200).
 *
 * Blocking: rows in blocks of MC (a multiple of 14, at most 224) such that
 * the block of x stays in L2 (<= 256 KiB) while all the panels sweep past
 * it, and so do the block's rows of y (dt_proj writes 4 Di floats a row, a
 * quarter at a time: without the cap it took twice as long); the tiles of a
 * block reuse each panel from L1/L2.  Row tails (rows % 14) run a copy of
 * the kernel specialised for that many rows.
 *
 * Epilogue: a panel with nothing to apply (in_proj, x_proj, dt_proj) is
 * stored by the kernel itself, masked on the last panel's columns; else the
 * tile goes through a small buffer and the epilogue applies, in ref's
 * order, + bias, then GELU, then + y (accumulate). */
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "avx512_ops.h"
#include "avx512_util.h"

#define MR 14
#define NR 32
#define X_BLOCK_BYTES (256u * 1024u)
#define MC_MAX (16 * MR) /* and the block's rows of y stay in L2 across the panels */

struct panels {
  size_t n_out, n_in, npanel;
  const float *bias;   /* npanel x NR, or NULL */
  alignas(64) float w[]; /* npanel x n_in x NR */
};

int VSS_AVX512_FN(linear_prepare)(struct vss_linear *lin)
{
  const struct vss_linear_desc *d = &lin->d;
  const size_t npanel = d->n_out / NR + (d->n_out % NR != 0);
  size_t nw, nf, bytes;
  lin->priv = NULL;
  lin->priv_free = NULL;
  if (__builtin_mul_overflow(npanel, NR * d->n_in, &nw) ||
      __builtin_add_overflow(nw, d->b ? npanel * NR : 0, &nf) ||
      __builtin_mul_overflow(nf, sizeof(float), &bytes) ||
      __builtin_add_overflow(bytes, sizeof(struct panels) + 63, &bytes))
    return 1;
  struct panels *p = aligned_alloc(64, bytes & ~(size_t)63);
  if (!p) return 1;
  *p = (struct panels){d->n_out, d->n_in, npanel, NULL};
  memset(p->w, 0, nf * sizeof(float)); /* the padding */
  for (size_t o = 0; o < d->n_out; o++) { /* W row by row, into its panel column */
    float *col = p->w + (o / NR) * d->n_in * NR + o % NR;
    for (size_t k = 0; k < d->n_in; k++) col[k * NR] = d->w[o * d->n_in + k];
  }
  if (d->b) {
    float *bias = p->w + nw;
    memcpy(bias, d->b, d->n_out * sizeof(float));
    p->bias = bias;
  }
  lin->priv = p;
  lin->priv_free = free;
  return 0;
}

/* c (m rows, ldc apart; lanes m0 | m1 of the 32 columns) = the m rows of a
 * (lda apart) times the panel bp, over all K.  m is a constant in each
 * specialised copy, so acc stays in registers. */
VSS_AVX512_INLINE void tile(int m, size_t K, const float *a, size_t lda, const float *bp,
                            float *c, size_t ldc, __mmask16 m0, __mmask16 m1)
{
  __m512 acc[MR][2];
#pragma GCC unroll 14
  for (int r = 0; r < m; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
#pragma GCC unroll 2
  for (size_t k = 0; k < K; k++) {
    const __m512 b0 = _mm512_load_ps(bp + k * NR), b1 = _mm512_load_ps(bp + k * NR + 16);
#pragma GCC unroll 14
    for (int r = 0; r < m; r++) {
      const __m512 av = _mm512_set1_ps(a[(size_t)r * lda + k]);
      acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(av, b1, acc[r][1]);
    }
  }
#pragma GCC unroll 14
  for (int r = 0; r < m; r++) {
    _mm512_mask_storeu_ps(c + (size_t)r * ldc, m0, acc[r][0]);
    _mm512_mask_storeu_ps(c + (size_t)r * ldc + 16, m1, acc[r][1]);
  }
}

static void run_tile(int m, size_t K, const float *a, size_t lda, const float *bp, float *c,
                     size_t ldc, __mmask16 m0, __mmask16 m1)
{
  switch (m) {
#define TILE_CASE(M) \
  case M: tile(M, K, a, lda, bp, c, ldc, m0, m1); break;
    TILE_CASE(14) TILE_CASE(13) TILE_CASE(12) TILE_CASE(11) TILE_CASE(10)
    TILE_CASE(9) TILE_CASE(8) TILE_CASE(7) TILE_CASE(6) TILE_CASE(5)
    TILE_CASE(4) TILE_CASE(3) TILE_CASE(2) default: tile(1, K, a, lda, bp, c, ldc, m0, m1);
#undef TILE_CASE
  }
}

/* y rows (m of them, ldy apart) = [y +] act(c + bias) on the panel's
 * columns (lanes m0 | m1), c the m x 32 tile. */
static void epilogue(int m, const float *c, float *y, size_t ldy, const float *bias, int gelu,
                     int accumulate, __mmask16 m0, __mmask16 m1)
{
  for (int i = 0; i < 2 * m; i++) {
    const __mmask16 lanes = i & 1 ? m1 : m0;
    float *yv = y + (size_t)(i >> 1) * ldy + 16 * (i & 1);
    __m512 v = _mm512_load_ps(c + 16 * i);
    if (bias) v = _mm512_add_ps(v, _mm512_load_ps(bias + 16 * (i & 1)));
    if (gelu) v = vss_avx512_gelu(v);
    if (accumulate) v = _mm512_add_ps(_mm512_maskz_loadu_ps(lanes, yv), v);
    _mm512_mask_storeu_ps(yv, lanes, v);
  }
}

void VSS_AVX512_FN_T(linear, 14x32)(const struct vss_linear *lin, size_t rows, const float *x,
                                    size_t ldx, float *y, size_t ldy)
{
  const struct panels *p = lin->priv;
  if (!p) { /* not prepared by this variant: nothing packed to run on */
    vss_linear__ref(lin, rows, x, ldx, y, ldy);
    return;
  }
  const size_t K = p->n_in;
  const int gelu = lin->d.act == VSS_ACT_GELU, accumulate = lin->d.accumulate;
  const int plain = !p->bias && !gelu && !accumulate;
  size_t mc = X_BLOCK_BYTES / sizeof(float) / (K ? K : 1) / MR * MR;
  mc = mc < MR ? MR : mc > MC_MAX ? MC_MAX : mc;
  alignas(64) float buf[MR * NR];
  for (size_t i0 = 0; i0 < rows; i0 += mc) {
    const size_t i1 = rows - i0 < mc ? rows : i0 + mc;
    for (size_t j = 0; j < p->npanel; j++) {
      const float *bp = p->w + j * K * NR, *bias = p->bias ? p->bias + j * NR : NULL;
      const __mmask16 m0 = vss_avx512_lanes(p->n_out - j * NR, 0);
      const __mmask16 m1 = vss_avx512_lanes(p->n_out - j * NR, 16);
      for (size_t i = i0; i < i1; i += MR) {
        const int m = (int)(i1 - i < MR ? i1 - i : MR);
        float *yt = y + i * ldy + j * NR;
        if (plain) {
          run_tile(m, K, x + i * ldx, ldx, bp, yt, ldy, m0, m1);
        } else {
          run_tile(m, K, x + i * ldx, ldx, bp, buf, NR, 0xFFFF, 0xFFFF);
          epilogue(m, buf, yt, ldy, bias, gelu, accumulate, m0, m1);
        }
      }
    }
  }
}
