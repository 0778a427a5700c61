/* bench_block.c - the block rows: block/<impl>/<shape>.
 *
 * One iteration is vss_block_forward of one (B,H,W,C) input through a block
 * created with that variant from spec-initialised weights (bench_data.c);
 * creation (the variant's plan step: packing weights) is not timed, nor is
 * the block's first forward, which allocates its workspace (bm_block).
 * The row is verified first against the ref block's output on the same
 * input, on the residual branch y - x (as the golden check does, DESIGN
 * §8). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "gbench.h"

/* The shape's weights, input and ref's output, kept for its other rows. */
static struct {
  const struct bench_shape *s;
  struct bench_weights bw;
  float *x, *y;
  double *expect;
} bx;

/* threads: vss_block_opts.threads (0: the default) */
static vss_status make_block(const char *variant, int threads, vss_block **blk)
{
  const struct vss_block_opts opts = {.variant = variant, .threads = threads};
  return vss_block_create(&bx.bw.cfg, &bx.bw.w, &opts, blk);
}

static void block_fixture(const struct bench_shape *s)
{
  const size_t n = s->B * s->H * s->W * s->C;
  free(bx.x), free(bx.y), free(bx.expect);
  bench_weights_free(&bx.bw);
  bx.s = s;
  bench_weights_make(s, &bx.bw);
  bx.x = bench_alloc(n);
  bx.y = bench_alloc(n);
  bx.expect = malloc(n * sizeof *bx.expect);
  struct bench_rng rng;
  bench_rng_seed(&rng, s->name, 11);
  bench_fill(&rng, bx.x, n, FILL_NORMAL, 1.0f);
  vss_block *ref = NULL;
  if (!bx.expect || make_block("ref", 0, &ref) || vss_block_forward(ref, s->B, s->H, s->W, bx.x, bx.y)) {
    fprintf(stderr, "vss_bench: the ref block at %s: %s\n", s->name, vss_last_error());
    exit(1);
  }
  vss_block_free(ref);
  for (size_t i = 0; i < n; i++) bx.expect[i] = bx.y[i];
}

static void bm_block(gb_state *st, void *ctx)
{
  struct bench_row *row = ctx;
  const struct bench_shape *s = row->shape;
  char why[512];
  vss_block *blk = NULL;
  if (!row->impl->runnable) {
    gb_skip_with_error(st, row->impl->why_not);
    return;
  }
  if (bx.s != s) block_fixture(s);
  if (make_block(row->impl->name, row->threads, &blk)) {
    snprintf(why, sizeof why, "cannot create the block: %s", vss_last_error());
    gb_skip_with_error(st, why);
    return;
  }
  /* One forward before the timed ones, in every repetition: the block
   * allocates its workspace (sized by the input, so not at creation) on its
   * first forward, and first touches it there: at v0_T1 the avx2 block's
   * first forward took 15.5-19.7 ms against 14.6-14.8 for the next ones,
   * which the timed loop's 30-odd iterations would average in.  The row's
   * first repetition verifies that forward's output. */
  if (vss_block_forward(blk, s->B, s->H, s->W, bx.x, bx.y)) {
    snprintf(row->failed, sizeof row->failed, "FAILED verification: forward: %s",
             vss_last_error());
    row->checked = 1;
  } else if (!row->checked) {
    bench_verify(row, bx.y, bx.expect, bx.x, s->B * s->H * s->W * s->C);
  }
  if (row->failed[0]) {
    vss_block_free(blk);
    gb_skip_with_error(st, row->failed);
    return;
  }
  while (gb_keep_running(st)) vss_block_forward(blk, s->B, s->H, s->W, bx.x, bx.y);
  vss_block_free(blk);
  bench_report(st, row, bench_count_block(s));
}

void bench_register_block(const struct bench_impl *impls, size_t n_impls)
{
  for (size_t si = 0; si < bench_n_shapes; si++)
    for (size_t i = 0; i < n_impls; i++) {
      struct bench_row *row = bench_row_new(OP_BLOCK, &impls[i], &bench_shapes[si], BP_COUNT);
      if (!row) continue;
      gb_register(row->name, bm_block, row);
      if ((row = bench_row_one_thread(row))) gb_register(row->name, bm_block, row);
    }
}
