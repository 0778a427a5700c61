/* linear_avx2.c - y = act(x W^T + b) [+ y] as a packed-panel GEMM with a
 * 6 x 16 register tile (AVX2 + FMA).
 *
 * GEMM view: C (rows x n_out) = A (rows x n_in) B (n_in x n_out) with
 * A = x (row-major, row stride ldx, read in place) and B = W^T.
 *
 * Packing (the plan step, linear_prepare, once per weight): W (n_out, n_in)
 * is cut into panels of NR = 16 output channels; panel j holds, for each
 * k, the 16 weights W[16j + c][k] contiguously (n_in x 16 floats, 64-byte
 * aligned; channels past n_out are zero).  The bias is padded the same way.
 *
 * Micro-kernel: a tile of MR = 6 rows x 16 outputs lives in 12 ymm
 * accumulators; per k it loads two vectors of the panel, broadcasts six x
 * values and issues 12 FMAs (15 of the 16 ymm registers in use).
 *
 * Blocking (32 KiB L1d, 512 KiB+ L2 per core):
 *  - row blocks of MC = 96 rows: the x block (96 x KC floats, <= 96 KiB)
 *    stays in L2 while the panels stream past it;
 *  - K blocks of KC = 256: the panel slice the micro-kernel reads (KC x 16
 *    floats = 16 KiB) stays in L1 across the 16 tiles of a row block.  When
 *    n_in > KC, the tile's partial sums wait in a small buffer (MC x 16
 *    floats on the stack) between K blocks;
 *  - the bias is added to the accumulators after the last K block, before
 *    they are stored (ref's order, sum + b; starting the accumulators
 *    from b instead failed the variant tests on fc2 of v2_T3, K = 1536:
 *    every add then rounds at the bias's scale);
 *  - the epilogue runs once per tile after the last K block: GELU, then
 *    + y (accumulate), with masked stores for the last panel's columns
 *    past n_out; a whole panel with no GELU (in_proj, x_proj, and the
 *    accumulating out_proj and fc2) is stored, or added to y, by the
 *    kernel itself, bias or not.
 * K <= 6 without GELU (dt_proj) takes its own loop (smallk below).
 * Row tails (rows % 6) run the same kernel with fewer rows (m = 1..5, one
 * specialised copy each).
 */
#include <stdalign.h>
#include <stdlib.h>

#include "avx2_ops.h"
#include "avx2_util.h"

#define MR 6   /* rows per register tile */
#define NR 16  /* output channels per panel (two ymm) */
#define KC 256 /* K block */
#define MC 96  /* row block, a multiple of MR */

struct pack {
  size_t n_out, n_in, npanel;
  float *w;    /* npanel x n_in x NR */
  float *bias; /* npanel x NR, or NULL */
};

int vss_linear_prepare__avx2(struct vss_linear *lin)
{
  const struct vss_linear_desc *d = &lin->d;
  lin->priv = NULL;
  lin->priv_free = NULL;
  const size_t npanel = (d->n_out + NR - 1) / NR;
  const size_t head = (sizeof(struct pack) + 63) / 64 * 64;
  size_t nw, nb = d->b ? npanel * NR : 0, bytes;
  if (__builtin_mul_overflow(npanel * NR, d->n_in, &nw) ||
      __builtin_add_overflow(nw, nb, &bytes) ||
      __builtin_mul_overflow(bytes, sizeof(float), &bytes) ||
      __builtin_add_overflow(bytes, head + 63, &bytes))
    return 1;
  char *mem = aligned_alloc(64, bytes / 64 * 64);
  if (!mem) return 1;
  struct pack *p = (struct pack *)mem;
  p->n_out = d->n_out;
  p->n_in = d->n_in;
  p->npanel = npanel;
  p->w = (float *)(mem + head);
  p->bias = d->b ? p->w + nw : NULL;
  for (size_t j = 0; j < npanel; j++)
    for (size_t k = 0; k < d->n_in; k++)
      for (size_t c = 0; c < NR; c++) {
        const size_t o = j * NR + c;
        p->w[(j * d->n_in + k) * NR + c] = o < d->n_out ? d->w[o * d->n_in + k] : 0.0f;
      }
  for (size_t o = 0; o < nb; o++) p->bias[o] = o < d->n_out ? d->b[o] : 0.0f;
  lin->priv = p;
  lin->priv_free = free;
  return 0;
}

/* The m x 8 nv tile dst (row stride ldd) = [dst +] init (row stride NR) +
 * a (m x kc, row stride lda) times the first 8 nv columns of the panel
 * slice bp (kc x 16) [+ bias, 16 floats]; init NULL means zero;
 * accumulate: dst + (sum + bias), the epilogue's order.  nv = 2 (the
 * whole panel) or 1 (its first half: a last panel of <= 8 channels, which
 * would otherwise spend half its FMAs on padding).  m and nv are
 * constants in each specialised copy, so acc stays in registers. */
VSS_AVX2_INLINE void ukernel_body(int m, int nv, size_t kc, const float *a, size_t lda,
                                  const float *bp, const float *init, const float *bias,
                                  float *dst, size_t ldd, int accumulate)
{
  __m256 acc[MR][2];
#pragma GCC unroll 6
  for (int r = 0; r < m; r++)
#pragma GCC unroll 2
    for (int v = 0; v < nv; v++)
      acc[r][v] = init ? _mm256_load_ps(init + r * NR + 8 * v) : _mm256_setzero_ps();
#pragma GCC unroll 4
  for (size_t k = 0; k < kc; k++) {
    __m256 b[2];
#pragma GCC unroll 2
    for (int v = 0; v < nv; v++) b[v] = _mm256_load_ps(bp + k * NR + 8 * v);
#pragma GCC unroll 6
    for (int r = 0; r < m; r++) {
      const __m256 av = _mm256_broadcast_ss(a + r * lda + k);
#pragma GCC unroll 2
      for (int v = 0; v < nv; v++) acc[r][v] = _mm256_fmadd_ps(av, b[v], acc[r][v]);
    }
  }
  if (bias) {
#pragma GCC unroll 6
    for (int r = 0; r < m; r++)
#pragma GCC unroll 2
      for (int v = 0; v < nv; v++)
        acc[r][v] = _mm256_add_ps(acc[r][v], _mm256_load_ps(bias + 8 * v));
  }
  if (accumulate) {
#pragma GCC unroll 6
    for (int r = 0; r < m; r++)
#pragma GCC unroll 2
      for (int v = 0; v < nv; v++)
        acc[r][v] = _mm256_add_ps(_mm256_loadu_ps(dst + r * ldd + 8 * v), acc[r][v]);
  }
#pragma GCC unroll 6
  for (int r = 0; r < m; r++)
#pragma GCC unroll 2
    for (int v = 0; v < nv; v++) _mm256_storeu_ps(dst + r * ldd + 8 * v, acc[r][v]);
}

#define UKERNEL_NV(nv)                                                                  \
  static void ukernel_##nv(int m, size_t kc, const float *a, size_t lda, const float *bp, \
                           const float *init, const float *bias, float *dst, size_t ldd,   \
                           int acc)                                                        \
  {                                                                                        \
    switch (m) {                                                                           \
    case 6: ukernel_body(6, nv, kc, a, lda, bp, init, bias, dst, ldd, acc); break;         \
    case 5: ukernel_body(5, nv, kc, a, lda, bp, init, bias, dst, ldd, acc); break;         \
    case 4: ukernel_body(4, nv, kc, a, lda, bp, init, bias, dst, ldd, acc); break;         \
    case 3: ukernel_body(3, nv, kc, a, lda, bp, init, bias, dst, ldd, acc); break;         \
    case 2: ukernel_body(2, nv, kc, a, lda, bp, init, bias, dst, ldd, acc); break;         \
    default: ukernel_body(1, nv, kc, a, lda, bp, init, bias, dst, ldd, acc); break;        \
    }                                                                                      \
  }
UKERNEL_NV(1)
UKERNEL_NV(2)
#undef UKERNEL_NV

typedef void (*ukernel_fn)(int, size_t, const float *, size_t, const float *, const float *,
                           const float *, float *, size_t, int);

/* What the epilogue of one panel applies (the bias is already in: the
 * kernel adds it before its store). */
struct epi {
  size_t nv; /* valid output channels in the panel, 1..16 */
  int gelu, accumulate;
};

/* y rows (m of them, ldy apart) = [y +] act(c), c the m x 16 tile (GELU
 * in place, through vss_avx2_map's lockstep groups: measured on fc1 of
 * v2_T1, 3.43 -> 3.22 ms against 4-vector groups of a register array;
 * with the piecewise GELU, 3.45-3.57 -> 2.82-2.98 ms, 0.56-0.58 ->
 * 0.67-0.71 of peak on a busy hour). */
static void epilogue(int m, float *c, float *y, size_t ldy, const struct epi *e)
{
  if (e->gelu) vss_avx2_map((size_t)m * NR, c, c, vss_avx2_gelu_n);
  for (int i = 0; i < 2 * m; i++) {
    const size_t col = 8 * (size_t)(i & 1);
    if (col >= e->nv) continue;
    const size_t n = e->nv - col < 8 ? e->nv - col : 8;
    float *yv = y + (size_t)(i >> 1) * ldy + col;
    __m256 v = _mm256_load_ps(c + 8 * i);
    if (e->accumulate) v = _mm256_add_ps(vss_avx2_load_n(yv, n), v);
    vss_avx2_store_n(yv, v, n);
  }
}

/* Small K (1 <= n_in <= SMALLK, no GELU: dt_proj, whose K is the dt
 * rank): the panel's K x 16 weights stay in 2 K registers while the rows
 * of a row block stream past, a row (two vectors) at a time.  The sums
 * are the tile's, in its order (from zero, an FMA per k, then + b, then
 * y +): the same bits, which the fused scans' vss_avx2_dt_proj also
 * keeps.  Measured at K = 6 (v0_T1's four dt_proj calls; cycles per 6
 * rows, L1-resident rows): the 6 x 16 tile, 53-57, against 36 of FMAs (a
 * tile's 6 steps do not hide its fixed costs); this loop, 40-43; the
 * same inlined into vss_linear__avx2_6x16, 50-51 (GCC 12 then keeps the
 * loop counters in memory and two weights on the stack), hence noinline.
 * `linear/avx2/v0_T1/dt_proj`: 0.54-0.57 of peak -> 0.63-0.65 in
 * alternated gbench runs (0.66-0.70 timing the four calls alone). */
#define SMALLK 6

VSS_AVX2_INLINE void smallk_rows(int K, size_t rows, const float *x, size_t ldx,
                                 const float *panel, const float *bias, float *y, size_t ldy,
                                 size_t nv, int accumulate)
{
  __m256 w[SMALLK][2];
#pragma GCC unroll 6
  for (int k = 0; k < K; k++) {
    w[k][0] = _mm256_load_ps(panel + k * NR);
    w[k][1] = _mm256_load_ps(panel + k * NR + 8);
  }
  const size_t n0 = nv < 8 ? nv : 8, n1 = nv - n0;
  for (size_t r = 0; r < rows; r++) {
    const float *xr = x + r * ldx;
    float *yr = y + r * ldy;
    __m256 s0 = _mm256_setzero_ps(), s1 = s0;
#pragma GCC unroll 6
    for (int k = 0; k < K; k++) {
      const __m256 xv = _mm256_broadcast_ss(xr + k);
      s0 = _mm256_fmadd_ps(xv, w[k][0], s0);
      s1 = _mm256_fmadd_ps(xv, w[k][1], s1);
    }
    if (bias) {
      s0 = _mm256_add_ps(s0, _mm256_load_ps(bias));
      s1 = _mm256_add_ps(s1, _mm256_load_ps(bias + 8));
    }
    if (nv == NR) {
      if (accumulate) {
        s0 = _mm256_add_ps(_mm256_loadu_ps(yr), s0);
        s1 = _mm256_add_ps(_mm256_loadu_ps(yr + 8), s1);
      }
      _mm256_storeu_ps(yr, s0);
      _mm256_storeu_ps(yr + 8, s1);
    } else {
      if (accumulate) {
        s0 = _mm256_add_ps(vss_avx2_load_n(yr, n0), s0);
        s1 = _mm256_add_ps(vss_avx2_load_n(yr + 8, n1), s1);
      }
      vss_avx2_store_n(yr, s0, n0);
      if (n1) vss_avx2_store_n(yr + 8, s1, n1);
    }
  }
}

__attribute__((noinline)) /* see above */
static void smallk(const struct pack *p, int accumulate, size_t rows, const float *x, size_t ldx,
                   float *y, size_t ldy)
{
  const int K = (int)p->n_in;
  for (size_t i0 = 0; i0 < rows; i0 += MC) {
    const size_t mb = rows - i0 < MC ? rows - i0 : MC;
    for (size_t j = 0; j < p->npanel; j++) {
      const float *panel = p->w + j * p->n_in * NR, *bias = p->bias ? p->bias + j * NR : NULL;
      const size_t nv = p->n_out - j * NR < NR ? p->n_out - j * NR : NR;
      const float *xb = x + i0 * ldx;
      float *yb = y + i0 * ldy + j * NR;
      switch (K) {
      case 1: smallk_rows(1, mb, xb, ldx, panel, bias, yb, ldy, nv, accumulate); break;
      case 2: smallk_rows(2, mb, xb, ldx, panel, bias, yb, ldy, nv, accumulate); break;
      case 3: smallk_rows(3, mb, xb, ldx, panel, bias, yb, ldy, nv, accumulate); break;
      case 4: smallk_rows(4, mb, xb, ldx, panel, bias, yb, ldy, nv, accumulate); break;
      case 5: smallk_rows(5, mb, xb, ldx, panel, bias, yb, ldy, nv, accumulate); break;
      default: smallk_rows(6, mb, xb, ldx, panel, bias, yb, ldy, nv, accumulate); break;
      }
    }
  }
}

void vss_linear__avx2_6x16(const struct vss_linear *lin, size_t rows,
                           const float *x, size_t ldx, float *y, size_t ldy)
{
  const struct pack *p = lin->priv;
  if (!p) { /* not prepared by this variant: nothing packed to run on */
    vss_linear__ref(lin, rows, x, ldx, y, ldy);
    return;
  }
  const size_t K = p->n_in;
  if (K >= 1 && K <= SMALLK && lin->d.act != VSS_ACT_GELU) {
    smallk(p, lin->d.accumulate, rows, x, ldx, y, ldy);
    return;
  }
  alignas(64) float part[MC * NR]; /* partial sums between K blocks */
  alignas(64) float tile[MR * NR]; /* a finished tile, for the epilogue */

  for (size_t i0 = 0; i0 < rows; i0 += MC) {
    const size_t mb = rows - i0 < MC ? rows - i0 : MC;
    for (size_t j = 0; j < p->npanel; j++) {
      const float *panel = p->w + j * K * NR;
      const float *bias = p->bias ? p->bias + j * NR : NULL;
      const struct epi e = {p->n_out - j * NR < NR ? p->n_out - j * NR : NR,
                            lin->d.act == VSS_ACT_GELU, lin->d.accumulate};
      /* no GELU on a whole panel: the kernel stores (or adds) straight to y */
      const int plain = !e.gelu && e.nv == NR;
      /* a last panel of <= 8 channels, no GELU: the 8-wide kernel (the
       * epilogue never reads the tile's second half: its columns are past
       * n_out) */
      const ukernel_fn ukernel = e.nv <= 8 && !e.gelu ? ukernel_1 : ukernel_2;
      size_t k0 = 0;
      do { /* at least once, so that n_in == 0 still writes act(b) */
        const size_t kc = K - k0 < KC ? K - k0 : KC;
        const int first = k0 == 0, last = k0 + kc == K;
        for (size_t i = 0; i < mb; i += MR) {
          const int m = (int)(mb - i < MR ? mb - i : MR);
          float *pi = part + i * NR, *yt = y + (i0 + i) * ldy + j * NR;
          const float *a = x + (i0 + i) * ldx + k0, *init = first ? NULL : pi;
          if (!last)
            ukernel(m, kc, a, ldx, panel + k0 * NR, init, NULL, pi, NR, 0);
          else if (plain)
            ukernel(m, kc, a, ldx, panel + k0 * NR, init, bias, yt, ldy, e.accumulate);
          else {
            ukernel(m, kc, a, ldx, panel + k0 * NR, init, bias, tile, NR, 0);
            epilogue(m, tile, yt, ldy, &e);
          }
        }
        k0 += kc;
      } while (k0 < K);
    }
  }
}
