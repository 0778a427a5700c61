/* ops_omp.c - the threaded wrappers around base's single-thread kernels:
 * the position-wise ops over pieces of rows (or elements), the conv over
 * (sample, band of image rows).
 *
 * Partition.  Every op cuts its work into pieces fixed by its sizes alone
 * (cut_rows below: about PIECE_WORK flops per piece, at most MAX_PIECES,
 * piece lengths a multiple of an alignment), never by the thread count,
 * and runs the pieces with a dynamic schedule; a single piece runs on the
 * calling thread without a parallel region.  Each piece is one call of
 * base's kernel on its rows, so every output is computed by the same code
 * on the same inputs whatever the thread count: bit-identical for any
 * number of threads (rows of these ops are independent).  For the linear,
 * the plan (struct vss_linear: base's packed weights) is shared read-only
 * by the pieces; rows are cut at multiples of 6 (the avx2 micro-kernel's
 * row tile) so that no piece but the last has a row tail.
 *
 * The conv needs each output row's neighbours.  Pass 1 computes each band
 * of image rows [h0, h1) (at least CONV_ROWS rows; an image of fewer than
 * 2 * CONV_ROWS rows is one band) as a sub-image, straight into y: every
 * row but the two next to a seam between bands saw exactly its neighbours,
 * so it holds the numbers base computes for the whole image.  Pass 2
 * recomputes the two rows at each seam from the 4-row sub-image around it
 * (where both are inner rows) in a small buffer, and copies them over.
 * Extra work: 4 rows per seam (21% at VMamba-T stage 1, 56 rows in 4
 * bands; a first version that computed each band with its halo rows in a
 * buffer and copied the whole band cost 40% at one thread, measured).
 * The seam buffer is the only allocation (one per seam and call); if it
 * fails the conv prints a line and aborts, as the scans do.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "omp_ops.h"

VSS_OMP_ANY_X86_BEGIN

/* About 2^18 flops (some 5-10 us on one core) per piece and at most 64
 * pieces: at one thread the wrapped ops ran within 0-4% of base's own
 * (linear and layernorm rows of build/vss_bench at v0_T1 and v0_T4, CPU
 * time; the conv: see above), with 12 or more pieces for every linear of
 * VMamba-T stage 1. */
#define PIECE_WORK (1u << 18) /* flops per piece, about */
#define MAX_PIECES 64
#define CONV_ROWS 12          /* least image rows per conv band */

/* pieces of per rows (the last shorter): n of them */
struct cut {
  size_t per, n;
};

/* rows cut into pieces of ~PIECE_WORK flops (flop: per row), lengths a
 * multiple of align (but the last) */
static struct cut cut_rows(size_t rows, double flop, size_t align)
{
  double want = flop * (double)rows / PIECE_WORK;
  size_t n = want < 1 ? 1 : want > MAX_PIECES ? MAX_PIECES : (size_t)want;
  const size_t most = (rows + align - 1) / align; /* pieces of one alignment unit */
  if (n > most) n = most;
  if (n < 1) n = 1;
  size_t per = (rows + n - 1) / n;
  per = (per + align - 1) / align * align;
  return (struct cut){per, per ? (rows + per - 1) / per : 0};
}

/* f(ctx, r0, nr) over the pieces of c (rows in all) */
typedef void (*piece_fn)(const void *ctx, size_t r0, size_t nr);
static void for_pieces(struct cut c, size_t rows, piece_fn f, const void *ctx)
{
  if (c.n <= 1) {
    if (rows) f(ctx, 0, rows);
    return;
  }
#pragma omp parallel for schedule(dynamic)
  for (size_t i = 0; i < c.n; i++) {
    const size_t r0 = i * c.per;
    f(ctx, r0, rows - r0 < c.per ? rows - r0 : c.per);
  }
}

/* ------------------------------------------------------------ layernorm */

struct ln_args {
  size_t dim, ldx, ldy;
  const float *x, *g, *b;
  float eps, *y;
};

static void ln_piece(const void *ctx, size_t r0, size_t nr)
{
  const struct ln_args *p = ctx;
  vss_omp_base.layernorm(nr, p->dim, p->x + r0 * p->ldx, p->ldx, p->g, p->b, p->eps,
                         p->y + r0 * p->ldy, p->ldy);
}

static void vss_layernorm__omp(size_t rows, size_t dim, const float *x, size_t ldx,
                               const float *g, const float *b, float eps, float *y,
                               size_t ldy)
{
  const struct ln_args p = {dim, ldx, ldy, x, g, b, eps, y};
  for_pieces(cut_rows(rows, 8.0 * (double)dim, 8), rows, ln_piece, &p);
}

/* --------------------------------------------------------------- linear */

struct lin_args {
  const struct vss_linear *lin;
  size_t ldx, ldy;
  const float *x;
  float *y;
};

static void lin_piece(const void *ctx, size_t r0, size_t nr)
{
  const struct lin_args *p = ctx;
  vss_omp_base.linear(p->lin, nr, p->x + r0 * p->ldx, p->ldx, p->y + r0 * p->ldy, p->ldy);
}

static void vss_linear__omp(const struct vss_linear *lin, size_t rows, const float *x,
                            size_t ldx, float *y, size_t ldy)
{
  const struct lin_args p = {lin, ldx, ldy, x, y};
  const double flop = 2.0 * (double)lin->d.n_in * (double)lin->d.n_out;
  for_pieces(cut_rows(rows, flop, 6), rows, lin_piece, &p);
}

/* ----------------------------------------------------------------- gate */

struct gate_args {
  size_t dim, ldz;
  float *y;
  const float *z;
};

static void gate_piece(const void *ctx, size_t r0, size_t nr)
{
  const struct gate_args *p = ctx;
  vss_omp_base.gate(nr, p->dim, p->y + r0 * p->dim, p->z + r0 * p->ldz, p->ldz);
}

static void vss_gate__omp(size_t rows, size_t dim, float *y, const float *z, size_t ldz)
{
  const struct gate_args p = {dim, ldz, y, z};
  for_pieces(cut_rows(rows, 24.0 * (double)dim, 8), rows, gate_piece, &p);
}

/* ---------------------------------------------------------------- unary */

struct unary_args {
  vss_unary_fn f;
  const float *x;
  float *y;
};

static void unary_piece(const void *ctx, size_t i0, size_t n)
{
  const struct unary_args *p = ctx;
  p->f(n, p->x + i0, p->y + i0);
}

/* elements in pieces of a multiple of 64 floats (whole cache lines) */
static void unary(vss_unary_fn f, size_t n, const float *x, float *y)
{
  const struct unary_args p = {f, x, y};
  for_pieces(cut_rows(n, 24.0, 64), n, unary_piece, &p);
}

static void vss_silu__omp(size_t n, const float *x, float *y)
{
  unary(vss_omp_base.silu, n, x, y);
}
static void vss_gelu__omp(size_t n, const float *x, float *y)
{
  unary(vss_omp_base.gelu, n, x, y);
}
static void vss_softplus__omp(size_t n, const float *x, float *y)
{
  unary(vss_omp_base.softplus, n, x, y);
}

/* ----------------------------------------------------------------- conv */

struct conv_args {
  size_t H, W, D, ldx, rows, bands; /* rows per band, bands per image */
  const float *x, *w, *b;
  float *y;
};

/* Pass 1, piece i: band i % bands of sample i / bands, as a sub-image,
 * straight into y (its rows next to another band come out wrong: pass 2). */
static void conv_band(const void *ctx, size_t i, size_t one)
{
  const struct conv_args *p = ctx;
  const size_t H = p->H, W = p->W, D = p->D, s = i / p->bands;
  const size_t h0 = i % p->bands * p->rows, h1 = h0 + p->rows < H ? h0 + p->rows : H;
  (void)one;
  vss_omp_base.dwconv3x3(1, h1 - h0, W, D, p->x + (s * H + h0) * W * p->ldx, p->ldx, p->w,
                         p->b, p->y + (s * H + h0) * W * D);
}

/* Pass 2, piece i: the two rows either side of seam i % (bands - 1) of
 * sample i / (bands - 1), from the 4-row sub-image around them. */
static void conv_seam(const void *ctx, size_t i, size_t one)
{
  const struct conv_args *p = ctx;
  const size_t H = p->H, W = p->W, D = p->D, s = i / (p->bands - 1);
  const size_t e = (i % (p->bands - 1) + 1) * p->rows; /* the lower band's first row */
  const size_t lo = e >= 2 ? e - 2 : 0, hi = e + 2 < H ? e + 2 : H;
  float *tmp = malloc((hi - lo) * W * D * sizeof *tmp);
  (void)one;
  if (!tmp) {
    fprintf(stderr, "vss_dwconv3x3__omp: out of memory (%zu rows of %zu x %zu)\n", hi - lo,
            W, D);
    abort();
  }
  vss_omp_base.dwconv3x3(1, hi - lo, W, D, p->x + (s * H + lo) * W * p->ldx, p->ldx, p->w,
                         p->b, tmp);
  memcpy(p->y + (s * H + e - 1) * W * D, tmp + (e - 1 - lo) * W * D, 2 * W * D * sizeof *tmp);
  free(tmp);
}

static void vss_dwconv3x3__omp(size_t B, size_t H, size_t W, size_t D, const float *x,
                               size_t ldx, const float *w, const float *b, float *y)
{
  const size_t bands = H / CONV_ROWS > 1 ? H / CONV_ROWS : 1;
  const size_t rows = (H + bands - 1) / bands;
  const struct conv_args p = {H, W, D, ldx, rows, (H + rows - 1) / rows, x, w, b, y};
  for_pieces((struct cut){1, B * p.bands}, B * p.bands, conv_band, &p);
  if (p.bands > 1)
    for_pieces((struct cut){1, B * (p.bands - 1)}, B * (p.bands - 1), conv_seam, &p);
}

void vss_omp_wrap_ops(struct vss_ops *ops)
{
  ops->layernorm = vss_layernorm__omp;
  ops->linear = vss_linear__omp; /* linear_prepare stays base's: the plan is shared */
  ops->dwconv3x3 = vss_dwconv3x3__omp;
  ops->silu = vss_silu__omp;
  ops->gelu = vss_gelu__omp;
  ops->softplus = vss_softplus__omp;
  ops->gate = vss_gate__omp;
}

VSS_OMP_ANY_X86_END
