/* bench_ops.c - the op rows: <op>/<impl>/<shape>[/<part>].
 *
 * One row times one op of the kernel interface on the arguments the block
 * driver (core/block.c) gives it at that shape:
 *   ssm_scan    one ops->ssm_scan call: softplus(dt + bias), the recurrence
 *               of the 4 directions, the D term, the merge into y
 *   linear      in_proj, x_proj, dt_proj (its 4 per-direction calls, reading
 *               x_proj's output in place), out_proj (accumulating onto the
 *               residual), fc1 (+bias, GELU), fc2 (+bias, accumulating)
 *   layernorm   norm, out_norm, norm2
 *   dwconv3x3   conv + bias + SiLU, reading the x half of in_proj's output
 *   gate        y * silu(z) in place (y restored before each call, untimed)
 *   gelu        the standalone op, on fc1-sized data (v05 shapes)
 * Inputs are random at the scales of a block with spec-initialised weights
 * (bench_data.c), from a fixed seed.  Before timing, a row's output on
 * those inputs is compared with ref's (the same call through ref's table);
 * a row that fails is reported "FAILED verification" and not timed.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "gbench.h"

/* The data of one (op, part, shape): built for the first of its rows and
 * kept while the next rows (the other implementations) use it. */
struct fixture {
  enum bench_op op;
  enum bench_part part;
  const struct bench_shape *s;
  struct bench_weights bw;
  size_t M;                     /* pixels B*H*W */
  float *in, *out, *out0;       /* input; output; output's initial value */
  size_t n_out;                 /* floats of out */
  int inplace;                  /* out is read and written (gate): restore */
  const float *base;            /* subtracted before comparing, or NULL */
  double *expect;               /* ref's output */
  size_t dim, xstep, ystep;     /* layernorm dim; dt_proj's k offsets */
  const float *g, *b;
  struct vss_linear_desc d[VSS_K];
  size_t ldx, ldy;
  int n_lin;
  struct vss_scan_args scan;
  struct bench_count count;
};

static struct fixture fx; /* the current one; fx.s == NULL: none */

static void fixture_free(void)
{
  bench_weights_free(&fx.bw);
  free(fx.in);
  free(fx.out);
  free(fx.out0);
  free(fx.expect);
  memset(&fx, 0, sizeof fx);
}

/* ops->op once on the fixture, with lin the linears prepared for ops. */
static void run_op(const struct vss_ops *o, const struct vss_linear *lin)
{
  const struct bench_shape *s = fx.s;
  const size_t M = fx.M, Di = s->Di, Dz = s->has_z ? 2 * Di : Di;
  switch (fx.op) {
  case OP_SCAN: o->ssm_scan(&fx.scan); break;
  case OP_LINEAR:
    for (int k = 0; k < fx.n_lin; k++)
      o->linear(&lin[k], M, fx.in + k * fx.xstep, fx.ldx, fx.out + k * fx.ystep, fx.ldy);
    break;
  case OP_LAYERNORM:
    o->layernorm(M, fx.dim, fx.in, fx.dim, fx.g, fx.b, 1e-5f, fx.out, fx.dim);
    break;
  case OP_DWCONV:
    o->dwconv3x3(s->B, s->H, s->W, Di, fx.in, Dz, fx.bw.w.conv_w, fx.bw.w.conv_b, fx.out);
    break;
  case OP_GATE: o->gate(M, Di, fx.out, fx.in + Di, Dz); break;
  case OP_GELU: o->gelu(fx.n_out, fx.in, fx.out); break;
  default: break;
  }
}

/* The linears of the fixture prepared by ops (the variant's plan step). */
static int prepare(const struct vss_ops *o, struct vss_linear lin[VSS_K])
{
  memset(lin, 0, VSS_K * sizeof *lin);
  for (int k = 0; k < fx.n_lin; k++) {
    lin[k].d = fx.d[k];
    if (o->linear_prepare(&lin[k]) != 0) return -1;
  }
  return 0;
}

static void release(struct vss_linear lin[VSS_K])
{
  for (int k = 0; k < VSS_K; k++)
    if (lin[k].priv_free) lin[k].priv_free(lin[k].priv);
}

/* One call on fresh outputs: the initial value restored first. */
static void run_fresh(const struct vss_ops *o, const struct vss_linear *lin)
{
  memcpy(fx.out, fx.out0, fx.n_out * sizeof *fx.out);
  run_op(o, lin);
}

/* Input scales (spec §2.7 init): LN and out_norm outputs ~N(0,1); in_proj
 * and fc1 pre-activations ~N(0, (0.02 sqrt C)^2); x_proj's outputs ~0.5. */
static void fill_inputs(struct bench_rng *r, size_t n_in)
{
  const struct bench_shape *s = fx.s;
  const float proj = 0.02f * sqrtf((float)s->C);
  switch (fx.op) {
  case OP_SCAN: break; /* its own buffers, below */
  case OP_LINEAR: {
    static const enum bench_fill kind[BP_COUNT] = {
        [BP_X_PROJ] = FILL_SILU_NORMAL, [BP_FC2] = FILL_GELU_NORMAL};
    static const float scale[BP_COUNT] = {[BP_IN_PROJ] = 1.0f, [BP_X_PROJ] = 1.0f,
        [BP_DT_PROJ] = 0.5f, [BP_OUT_PROJ] = 0.5f, [BP_FC1] = 1.0f, [BP_FC2] = 1.0f};
    bench_fill(r, fx.in, n_in, kind[fx.part], scale[fx.part]);
    if (fx.d[0].accumulate) bench_fill(r, fx.out0, fx.n_out, FILL_NORMAL, 1.0f);
    break;
  }
  case OP_LAYERNORM: bench_fill(r, fx.in, n_in, FILL_NORMAL, 1.0f); break;
  case OP_GATE: bench_fill(r, fx.out0, fx.n_out, FILL_NORMAL, 1.0f); /* fall through */
  case OP_DWCONV:
  case OP_GELU: bench_fill(r, fx.in, n_in, FILL_NORMAL, proj); break;
  default: break;
  }
}

/* Builds the fixture of a row, and ref's output on it. */
static void fixture_build(const struct bench_row *row)
{
  const struct bench_shape *s = row->shape;
  fixture_free();
  fx.op = row->op, fx.part = row->part, fx.s = s;
  bench_weights_make(s, &fx.bw);
  const size_t M = fx.M = s->B * s->H * s->W, Di = s->Di;
  const size_t Dz = s->has_z ? 2 * Di : Di, G = s->R + 2 * s->N;
  size_t n_in = 0;
  switch (row->op) {
  case OP_SCAN: n_in = M * (Di + VSS_K * G + VSS_K * Di), fx.n_out = M * Di; break;
  case OP_LINEAR:
    fx.n_lin = bench_linear_part(s, &fx.bw.w, row->part, fx.d, &fx.ldx, &fx.ldy);
    n_in = M * fx.ldx, fx.n_out = M * fx.ldy;
    if (fx.n_lin > 1) fx.xstep = G, fx.ystep = Di;
    break;
  case OP_LAYERNORM:
    bench_layernorm_part(s, &fx.bw.w, row->part, &fx.dim, &fx.g, &fx.b);
    n_in = fx.n_out = M * fx.dim;
    fx.count = bench_count_layernorm(M, fx.dim);
    break;
  case OP_DWCONV:
    n_in = M * Dz, fx.n_out = M * Di;
    fx.count = bench_count_dwconv3x3(M, Di, s->conv_bias);
    break;
  case OP_GATE:
    n_in = M * Dz, fx.n_out = M * Di, fx.inplace = 1;
    fx.count = bench_count_gate(M, Di);
    break;
  case OP_GELU:
    n_in = fx.n_out = M * s->hidden;
    fx.count = bench_count_gelu(fx.n_out);
    break;
  default: break;
  }
  if (row->op == OP_LINEAR || row->op == OP_LAYERNORM)
    fx.count = bench_count_part(s, row->part);
  fx.in = bench_alloc(n_in);
  fx.out = bench_alloc(fx.n_out);
  fx.out0 = bench_alloc(fx.n_out);
  struct bench_rng rng;
  char what[96]; /* the same data for every implementation */
  snprintf(what, sizeof what, "%s/%s/%s", bench_op_name[row->op], s->name,
           row->part < BP_COUNT ? bench_part_name[row->part] : "");
  bench_rng_seed(&rng, what, 7);
  fill_inputs(&rng, n_in);
  if (row->op == OP_LINEAR && fx.d[0].accumulate) fx.base = fx.out0;
  if (row->op == OP_SCAN) {
    float *u = fx.in, *dbl = u + M * Di, *dt = dbl + M * VSS_K * G;
    bench_fill(&rng, u, M * Di, FILL_SILU_NORMAL, 1.0f);
    bench_fill(&rng, dbl, M * VSS_K * G, FILL_NORMAL, 0.5f);
    bench_fill(&rng, dt, M * VSS_K * Di, FILL_NORMAL, 0.3f);
    fx.scan = (struct vss_scan_args){s->B, s->H, s->W, Di, s->N, s->R, u, dbl, dt,
                                     fx.bw.w.dt_projs_b, fx.bw.A, fx.bw.w.Ds, 0xF, fx.out, NULL};
    fx.count = bench_count_scan(s->B, s->H * s->W, Di, s->N, s->R);
  }
  /* the truth of the rows: ref on the same data */
  struct vss_ops ref;
  struct vss_linear lin[VSS_K];
  vss_init__ref(&ref, NULL);
  prepare(&ref, lin);
  run_fresh(&ref, lin);
  release(lin);
  fx.expect = malloc(fx.n_out * sizeof *fx.expect);
  if (!fx.expect) { fprintf(stderr, "vss_bench: out of memory\n"); exit(1); }
  for (size_t i = 0; i < fx.n_out; i++) fx.expect[i] = fx.out[i];
}

static void bm_op(gb_state *st, void *ctx)
{
  struct bench_row *row = ctx;
  struct vss_ops ops;
  struct vss_linear lin[VSS_K];
  char why[256];
  if (bench_impl_ops(row->impl, &ops, why, sizeof why)) {
    gb_skip_with_error(st, why);
    return;
  }
  if (fx.s != row->shape || fx.op != row->op || fx.part != row->part) fixture_build(row);
  if (prepare(&ops, lin)) {
    release(lin);
    gb_skip_with_error(st, "linear_prepare failed (out of memory)");
    return;
  }
  if (!row->checked) {
    run_fresh(&ops, lin);
    bench_verify(row, fx.out, fx.expect, fx.base, fx.n_out);
  }
  if (row->failed[0]) {
    release(lin);
    gb_skip_with_error(st, row->failed);
    return;
  }
  memcpy(fx.out, fx.out0, fx.n_out * sizeof *fx.out);
  const int saved = bench_threads_begin(row);
  while (gb_keep_running(st)) {
    if (fx.inplace) { /* the op scales its output in place: start afresh */
      gb_pause(st);
      memcpy(fx.out, fx.out0, fx.n_out * sizeof *fx.out);
      gb_resume(st);
    }
    run_op(&ops, lin);
  }
  bench_threads_end(saved);
  release(lin);
  bench_report(st, row, fx.count);
}

void bench_register_ops(const struct bench_impl *impls, size_t n_impls)
{
  static const enum bench_op order[] = {OP_SCAN, OP_LINEAR, OP_LAYERNORM, OP_DWCONV,
                                        OP_GATE, OP_GELU};
  for (size_t o = 0; o < sizeof order / sizeof *order; o++)
    for (size_t si = 0; si < bench_n_shapes; si++)
      for (int p = 0; p <= BP_COUNT; p++) /* BP_COUNT: the op without parts */
        for (size_t i = 0; i < n_impls; i++) {
          struct bench_row *row = bench_row_new(order[o], &impls[i], &bench_shapes[si],
                                                (enum bench_part)p);
          if (!row) continue;
          gb_register(row->name, bm_op, row);
          /* the scan's scaling row (block rows have theirs, bench_block.c) */
          if (order[o] == OP_SCAN && (row = bench_row_one_thread(row)))
            gb_register(row->name, bm_op, row);
        }
}
