/* test_omp.c - the omp variant (issue #6): the chunked, tiled selective
 * scan against ref, bit-identity across thread counts and runs, the
 * threaded wrappers against the single-thread kernels they wrap, the
 * golden block cases, and the thread count of a block and of the CLI.
 *
 *  - scan vs ref (within vss_var_scan_limits, as tests/test_variants.c):
 *    shapes placed around the plan's chunk length C (read from
 *    vss_ssm_scan_omp_plan, so the cases follow a change of CHUNK): a
 *    sequence shorter than a chunk, exactly one, one step longer than one
 *    (a last chunk of one step), exactly 3 chunks; H = 1 and W = 1 (and
 *    both); N = 1, 5 and 16; Di not a multiple of the 16-channel group;
 *    B = 2, 3; every direction mask; decays from none (deltas ~1e-9: the
 *    carried state is all there is) to total (underflow);
 *  - bit-identical outputs for 1, 2, 3 and 4 threads (omp_set_num_threads)
 *    and from run to run, for the scan (chunked and not) and every
 *    wrapped op; the wrapped ops also bit-identical to base's own kernels
 *    (they only cut rows, or image bands with their halo);
 *  - every golden case through the omp variant PASSes, at 1 and 3 threads,
 *    bit-identically;
 *  - vss_block_opts.threads: the forward runs with that many threads
 *    (omp_get_max_threads() seen from the stage callback), the caller's
 *    setting is restored, outputs match; `vssbench run --variant omp
 *    --threads N` writes the same y for N = 1 and 3;
 *  - without AVX2 (VSS_MAX_ISA=none: base is ref) the scan falls back to
 *    base's scan per sample, bit-identical to ref, and there is no fused
 *    scan (ssm_scan_dt NULL);
 *  - the fused scan (dt_proj inside, where the base fuses it too): on every
 *    odd shape, chunked ones included, bit-identical to omp's linear then
 *    omp's scan, and for 1 to 4 threads.
 * On failure: the case, the thread count and the seed.
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "golden.h"
#include "tolerances.h"
#include "vss_internal.h"
#include "vss_test.h"

#ifdef VSS_HAVE_OMP
#include <omp.h>

#include "../optimized/omp/omp_ops.h"

#define SEED 0x0e9b6u
static const int thread_counts[] = {1, 2, 3, 4};
#define N_COUNTS (sizeof thread_counts / sizeof thread_counts[0])

static void omp_ops(struct vss_ops *ops)
{
  ck_assert_msg(vss_resolve_variant("omp", ops, NULL) == VSS_OK, "%s", vss_last_error());
}

/* A guarded buffer of n uniform values in [lo, hi]. */
static float *rand_buf(size_t n, struct vss_rng *r, float lo, float hi)
{
  float *p = vss_guarded_alloc(n);
  for (size_t i = 0; i < n; i++) p[i] = vss_rng_uniform(r, lo, hi);
  return p;
}

static int same_bits(const float *a, const float *b, size_t n)
{
  return !memcmp(a, b, n * sizeof *a);
}

/* ---- scan problems ---------------------------------------------------- */

struct scan_shape {
  size_t B, H, W, Di, N;
  unsigned dirs;
  float dt_lo, dt_hi; /* dt + bias spans about [dt_lo - 1, dt_hi + 1] */
  int no_D;           /* D = 0: the output is the state's alone */
};

struct scan_prob {
  struct scan_shape s;
  struct vss_scan_args a;
  float *u, *dbl, *dt, *bias, *A, *D, *y;
  size_t ny;
  char what[160];
};

static void prob_make(struct scan_prob *p, const struct scan_shape *s, struct vss_rng *r)
{
  const size_t R = 3, L = s->H * s->W, M = s->B * L, G = R + 2 * s->N;
  p->s = *s;
  p->ny = M * s->Di;
  p->u = rand_buf(M * s->Di, r, -2, 2);
  p->dbl = rand_buf(M * VSS_K * G, r, -1, 1);
  p->dt = rand_buf(M * VSS_K * s->Di, r, s->dt_lo, s->dt_hi);
  p->bias = rand_buf(VSS_K * s->Di, r, -1, 1);
  p->D = rand_buf(VSS_K * s->Di, r, s->no_D ? 0.0f : 0.5f, s->no_D ? 0.0f : 1.5f);
  p->A = vss_guarded_alloc(VSS_K * s->Di * s->N);
  for (size_t i = 0; i < VSS_K * s->Di * s->N; i++) p->A[i] = -expf(vss_rng_uniform(r, 0, 2.8f));
  p->y = vss_guarded_alloc(p->ny);
  p->a = (struct vss_scan_args){s->B, s->H, s->W, s->Di, s->N, R, p->u, p->dbl, p->dt,
                                p->bias, p->A, p->D, s->dirs, p->y, NULL};
  snprintf(p->what, sizeof p->what, "scan B=%zu H=%zu W=%zu Di=%zu N=%zu dirs=%#x dt [%g, %g]%s",
           s->B, s->H, s->W, s->Di, s->N, s->dirs, s->dt_lo, s->dt_hi, s->no_D ? " D=0" : "");
}

static void prob_free(struct scan_prob *p)
{
  float *bufs[] = {p->u, p->dbl, p->dt, p->bias, p->A, p->D, p->y};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) vss_guarded_free(bufs[i]);
}

/* Runs fn into out (y starts as junk: it must be overwritten). */
static void prob_run(struct scan_prob *p, vss_ssm_scan_fn fn, float *out)
{
  for (size_t i = 0; i < p->ny; i++) p->y[i] = -777.0f;
  fn(&p->a);
  ck_assert_msg(vss_guard_ok(p->y, p->ny), "%s: wrote past y", p->what);
  memcpy(out, p->y, p->ny * sizeof *out);
}

/* The chunk length of the plan for a shape that is chunked (one group,
 * one sample, a long sequence). */
static size_t chunk_len(void)
{
  const struct vss_scan_args a = {.B = 1, .H = 1, .W = 1u << 20, .Di = 1, .N = 1};
  struct vss_omp_scan_plan p;
  vss_ssm_scan_omp_plan(&a, &p);
  ck_assert_msg(p.nchunk > 1, "a 1-channel, 2^20-step scan should be chunked");
  return p.chunk;
}

/* The plan of a shape. */
static struct vss_omp_scan_plan plan_of(const struct scan_shape *s)
{
  const struct vss_scan_args a = {.B = s->B, .H = s->H, .W = s->W, .Di = s->Di, .N = s->N};
  struct vss_omp_scan_plan p;
  vss_ssm_scan_omp_plan(&a, &p);
  return p;
}

/* The odd shapes; C is the chunk length.  Most draw dt + bias from about
 * [-8, -1.5], VMamba's delta range (spec §2.7: delta in [1e-3, 1e-1] at
 * init): with A in [-16, -1] the state decays by 2^-0.5 to 2^-500 over a
 * chunk, so the carried state is a large part of the output (and D = 0
 * leaves it alone). */
static size_t odd_shapes(struct scan_shape *out, size_t cap)
{
  const size_t C = chunk_len();
  const float lo = -7.0f, hi = -2.5f;
  const struct scan_shape s[] = {
      {1, 1, C - 1, 7, 16, 0xF, lo, hi, 0},      /* shorter than a chunk */
      {1, 1, C, 9, 1, 0xF, lo, hi, 0},           /* exactly one chunk */
      {1, 1, C + 1, 7, 16, 0xF, lo, hi, 1},      /* one step longer: a 1-step last chunk */
      {1, 3, C, 23, 5, 0xF, lo, hi, 0},          /* exactly 3 chunks, Di = 23 */
      {1, 3, C, 23, 16, 0xF, lo, hi, 1},
      {1, C + 1, 1, 17, 16, 0xF, lo, hi, 0},     /* W = 1 */
      {1, 1, 2 * C + 5, 33, 1, 0xF, lo, hi, 1},  /* H = 1, 3 groups (the last of 1) */
      {1, 1, 1, 5, 16, 0xF, lo, hi, 0},          /* H = W = 1 */
      {2, 1, 2 * C + 3, 16, 16, 0xF, lo, hi, 1}, /* B = 2, one group each */
      {1, 12, 20, 40, 2, 0xF, lo, hi, 0},        /* 2D, 3 groups, chunked */
      {1, 9, 9, 100, 16, 0xF, lo, hi, 0},        /* 7 groups: unchunked */
      {3, 6, 7, 33, 16, 0xF, -6, 1, 0},          /* B = 3: 9 units, unchunked */
      {1, 5, C / 2, 9, 16, 0x5, lo, hi, 1},      /* direction masks, chunked */
      {1, 5, C / 2, 9, 16, 0xA, lo, hi, 0},
      {1, 5, C / 2, 9, 3, 0x8, lo, hi, 1},
      {1, 5, C / 2, 9, 16, 0x0, lo, hi, 0},
      {1, 4, C, 12, 16, 0xF, -14, -9, 1},        /* deltas ~1e-5: little decay, mostly carry */
      {1, 4, C, 12, 16, 0xF, 15, 40, 0},         /* total decay (underflow) */
      {1, 4, C, 12, 1, 0xF, -6, 1, 0},           /* test_variants.c's range */
  };
  const size_t n = sizeof s / sizeof s[0];
  ck_assert(n <= cap);
  memcpy(out, s, sizeof s);
  return n;
}

START_TEST(omp_plan_cuts)
{
  const size_t C = chunk_len();
  struct vss_omp_scan_plan p;
  ck_assert(C >= 16);
  p = plan_of(&(struct scan_shape){1, 1, C, 7, 16, 0xF, 0, 0, 0});
  ck_assert_uint_eq(p.nchunk, 1);
  p = plan_of(&(struct scan_shape){1, 1, C + 1, 7, 16, 0xF, 0, 0, 0});
  ck_assert_uint_eq(p.nchunk, 2);
  ck_assert_uint_eq(p.chunk, C);
  p = plan_of(&(struct scan_shape){1, 3, C, 23, 5, 0xF, 0, 0, 0});
  ck_assert_uint_eq(p.nchunk, 3);
  ck_assert_uint_eq(p.ngroup, (23 + p.group - 1) / p.group);
  /* VMamba-T stage 1 (v0_T1): enough groups, no chunking (no extra work) */
  p = plan_of(&(struct scan_shape){1, 56, 56, 192, 16, 0xF, 0, 0, 0});
  ck_assert_uint_eq(p.nchunk, 1);
  ck_assert_uint_ge(p.ngroup, 8);
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) ck_assert(p.vector);
}
END_TEST

/* fn(p, seed) on a fresh problem of each odd shape, its data from seed. */
typedef void (*prob_fn)(struct scan_prob *p, unsigned seed);
static void each_odd_shape(unsigned seed, prob_fn fn)
{
  struct vss_ops ops;
  omp_ops(&ops); /* also sets the base vss_ssm_scan__omp reads */
  struct vss_rng r;
  vss_rng_seed(&r, seed);
  struct scan_shape shapes[32];
  const size_t n = odd_shapes(shapes, 32);
  for (size_t i = 0; i < n; i++) {
    struct scan_prob p;
    prob_make(&p, &shapes[i], &r);
    fn(&p, seed);
    prob_free(&p);
  }
}

static void vs_ref(struct scan_prob *p, unsigned seed)
{
  float *got = malloc(p->ny * sizeof *got + 1), *exp = malloc(p->ny * sizeof *exp + 1);
  ck_assert(got && exp);
  prob_run(p, vss_ssm_scan__omp, got);
  prob_run(p, vss_ssm_scan__ref, exp);
  double scale = 0;
  for (size_t j = 0; j < p->ny; j++) scale = fmax(scale, fabs((double)exp[j]));
  const struct vss_limits lim = vss_var_scan_limits(scale);
  const struct vss_omp_scan_plan pl = plan_of(&p->s);
  char what[256];
  snprintf(what, sizeof what, "omp %s (%zu chunk(s) of %zu, seed %#x)", p->what, pl.nchunk,
           pl.chunk, seed);
  vss_assert_close(what, got, exp, p->ny, lim.atol, lim.rtol);
  free(got);
  free(exp);
}

START_TEST(omp_scan_vs_ref) { each_odd_shape(SEED + 1, vs_ref); }
END_TEST

/* fn's output at every thread count, twice each, against one thread's. */
typedef void (*run_fn)(void *ctx, float *out);
static void assert_thread_invariant(const char *what, run_fn fn, void *ctx, size_t n)
{
  const int saved = omp_get_max_threads();
  float *first = malloc(n * sizeof *first + 1), *again = malloc(n * sizeof *again + 1);
  ck_assert(first && again);
  omp_set_num_threads(1);
  fn(ctx, first);
  for (size_t i = 0; i < N_COUNTS; i++)
    for (int rep = 0; rep < 2; rep++) {
      omp_set_num_threads(thread_counts[i]);
      fn(ctx, again);
      ck_assert_msg(same_bits(first, again, n), "%s: %d threads (run %d) differ from 1 thread",
                    what, thread_counts[i], rep + 1);
    }
  omp_set_num_threads(saved);
  free(first);
  free(again);
}

static void scan_omp(void *ctx, float *out)
{
  struct scan_prob *p = ctx;
  prob_run(p, vss_ssm_scan__omp, out);
}

static void thread_invariant(struct scan_prob *p, unsigned seed)
{
  (void)seed;
  assert_thread_invariant(p->what, scan_omp, p, p->ny);
}

static void scan_omp_dt(void *ctx, float *out)
{
  struct scan_prob *p = ctx;
  prob_run(p, vss_ssm_scan_dt__omp, out);
}

/* The fused scan on p with a drawn dt_w against dt = dt_proj through omp's
 * linear (into p->dt) then omp's scan, bit for bit; and thread-invariant. */
static void fused_vs_two_steps(struct scan_prob *p, unsigned seed)
{
  struct vss_ops ops;
  omp_ops(&ops);
  const size_t Di = p->s.Di, R = p->a.R, M = p->s.B * p->s.H * p->s.W;
  struct vss_rng r;
  vss_rng_seed(&r, seed);
  float *dtw = rand_buf(VSS_K * Di * R, &r, -3, 3);
  vss_test_dt_proj(&ops, M, Di, R, p->s.N, dtw, p->dbl, p->dt);
  float *two = malloc(p->ny * sizeof *two + 1), *fused = malloc(p->ny * sizeof *fused + 1);
  ck_assert(two && fused);
  prob_run(p, ops.ssm_scan, two);
  p->a.dt = NULL; /* it must not be read */
  p->a.dt_w = dtw;
  assert_thread_invariant(p->what, scan_omp_dt, p, p->ny);
  prob_run(p, ops.ssm_scan_dt, fused);
  p->a.dt = p->dt;
  p->a.dt_w = NULL;
  for (size_t i = 0; i < p->ny; i++)
    ck_assert_msg(same_bits(&two[i], &fused[i], 1),
                  "%s, dt_proj fused: y[%zu] = %.9g, linear then scan %.9g (seed %#x)", p->what,
                  i, fused[i], two[i], seed);
  vss_guarded_free(dtw);
  free(two);
  free(fused);
}

START_TEST(omp_scan_dt_fused)
{
  struct vss_ops ops;
  omp_ops(&ops);
  /* installed exactly where the base fuses dt_proj, and never base's own */
  ck_assert(ops.ssm_scan_dt == (vss_omp_base.ssm_scan_dt ? vss_ssm_scan_dt__omp : NULL));
  if (!ops.ssm_scan_dt) {
    printf("SKIP omp fused scan: the base has no ssm_scan_dt\n");
    return;
  }
  each_odd_shape(SEED + 5, fused_vs_two_steps);
}
END_TEST

START_TEST(omp_scan_thread_invariant)
{
  each_odd_shape(SEED + 2, thread_invariant);
  struct vss_rng r; /* and a real shape (VMamba-T stage 3) */
  vss_rng_seed(&r, SEED + 2);
  struct scan_prob p;
  prob_make(&p, &(struct scan_shape){1, 14, 14, 768, 16, 0xF, -7, -2.5f, 0}, &r);
  thread_invariant(&p, SEED + 2);
  prob_free(&p);
}
END_TEST

/* ---- the wrapped ops ---------------------------------------------------- */

/* One op call on fixed inputs through a table (the omp one or base). */
struct op_case {
  const struct vss_ops *ops;
  int op; /* enum below */
  size_t rows, dim, ldx, n_out, B, H, W;
  const float *x, *g, *b, *z;
  float *y0;            /* initial y (gate, accumulating linear), or NULL */
  struct vss_linear lin;
  size_t ny;
};
enum { OP_LN, OP_LIN, OP_GATE, OP_SILU, OP_GELU, OP_SOFTPLUS, OP_CONV, N_OPS };
static const char *const op_names[N_OPS] = {"layernorm", "linear", "gate", "silu",
                                            "gelu", "softplus", "dwconv3x3"};

static void op_run(void *ctx, float *out)
{
  const struct op_case *c = ctx;
  const struct vss_ops *o = c->ops;
  if (c->y0) memcpy(out, c->y0, c->ny * sizeof *out);
  switch (c->op) {
  case OP_LN: o->layernorm(c->rows, c->dim, c->x, c->ldx, c->g, c->b, 1e-5f, out, c->dim); break;
  case OP_LIN: o->linear(&c->lin, c->rows, c->x, c->ldx, out, c->n_out); break;
  case OP_GATE: o->gate(c->rows, c->dim, out, c->z, c->ldx); break;
  case OP_SILU: o->silu(c->ny, c->x, out); break;
  case OP_GELU: o->gelu(c->ny, c->x, out); break;
  case OP_SOFTPLUS: o->softplus(c->ny, c->x, out); break;
  default: o->dwconv3x3(c->B, c->H, c->W, c->dim, c->x, c->ldx, c->g, c->b, out); break;
  }
}

/* A guarded buffer of n small integers in [-lo, lo] (ints), else of
 * uniform values in [-lo, lo]. */
static float *fill_buf(size_t n, struct vss_rng *r, int ints, int lo)
{
  if (!ints) return rand_buf(n, r, (float)-lo, (float)lo);
  float *p = vss_guarded_alloc(n);
  for (size_t i = 0; i < n; i++) p[i] = vss_rng_int(r, -lo, lo);
  return p;
}

/* op at (rows, dim) [for the conv: B x H x W pixels of dim channels]:
 * omp's output thread-invariant, and bit-identical to base's.  A linear
 * cuts rows where the kernels it wraps would not (libxsmm's JIT kernels
 * round differently for other row counts), so for it the second check
 * runs on small integers (ints), where every order is exact. */
static void check_op(int op, size_t B, size_t H, size_t W, size_t dim, size_t n_out,
                     int accumulate, int ints, struct vss_rng *r)
{
  struct vss_ops ops;
  omp_ops(&ops);
  const size_t rows = B * H * W, ldx = dim + 3; /* a row stride wider than the row */
  /* g: LN gain, conv taps (dim x 9) or the linear's W (n_out x dim) */
  float *x = fill_buf(rows * ldx, r, ints, 4);
  float *g = fill_buf(dim * (n_out > 9 ? n_out : 9), r, ints, 1);
  float *b = fill_buf(n_out > dim ? n_out : dim, r, ints, 1);
  struct op_case c = {.ops = &ops, .op = op, .rows = rows, .dim = dim, .ldx = ldx,
                      .n_out = n_out, .B = B, .H = H, .W = W, .x = x, .g = g, .b = b,
                      .z = x + 1, .ny = rows * dim};
  if (op == OP_LIN) {
    c.ny = rows * n_out;
    c.lin.d = (struct vss_linear_desc){n_out, dim, g, b, accumulate ? VSS_ACT_NONE : VSS_ACT_GELU,
                                       accumulate};
    ck_assert(ops.linear_prepare(&c.lin) == 0);
  }
  if (op >= OP_SILU && op <= OP_SOFTPLUS) c.ny = rows * dim;
  if (op == OP_GATE || accumulate) c.y0 = fill_buf(c.ny, r, ints, 2);
  char what[160];
  snprintf(what, sizeof what, "%s B=%zu H=%zu W=%zu dim=%zu n_out=%zu%s", op_names[op], B, H,
           W, dim, n_out, accumulate ? " accumulating" : "");
  assert_thread_invariant(what, op_run, &c, c.ny);
  float *got = malloc(c.ny * sizeof *got + 1), *exp = malloc(c.ny * sizeof *exp + 1);
  ck_assert(got && exp);
  op_run(&c, got);
  c.ops = &vss_omp_base;
  op_run(&c, exp);
  ck_assert_msg(op == OP_LIN && !ints ? 1 : same_bits(got, exp, c.ny),
                "%s: omp differs from the kernel it wraps", what);
  if (c.lin.priv_free) c.lin.priv_free(c.lin.priv);
  free(got);
  free(exp);
  vss_guarded_free(x);
  vss_guarded_free(g);
  vss_guarded_free(b);
  if (c.y0) vss_guarded_free(c.y0);
}

START_TEST(omp_ops_match_base)
{
  struct vss_rng r;
  vss_rng_seed(&r, SEED + 3);
  static const size_t rows[] = {1, 7, 49, 3136};
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    check_op(OP_LN, 1, 1, rows[i], 96, 0, 0, 0, &r);
    for (int ints = 0; ints < 2; ints++) {
      check_op(OP_LIN, 1, 1, rows[i], 96, 200, 0, ints, &r);
      check_op(OP_LIN, 1, 1, rows[i], 40, 33, 1, ints, &r);
    }
    check_op(OP_GATE, 1, 1, rows[i], 65, 0, 0, 0, &r);
    for (int op = OP_SILU; op <= OP_SOFTPLUS; op++) check_op(op, 1, 1, rows[i], 37, 0, 0, 0, &r);
  }
  /* the conv: one band, several (with halos), B > 1, H or W = 1 */
  static const size_t conv[][4] = {{1, 56, 9, 40}, {2, 25, 6, 19}, {1, 1, 30, 8},
                                   {1, 40, 1, 16}, {3, 7, 7, 33},  {1, 24, 5, 96}};
  for (size_t i = 0; i < sizeof conv / sizeof conv[0]; i++)
    check_op(OP_CONV, conv[i][0], conv[i][1], conv[i][2], conv[i][3], 0, 0, 0, &r);
}
END_TEST

/* ---- blocks: golden cases, vss_block_opts.threads, the CLI -------------- */

static int is_case(const struct dirent *e)
{
  const size_t n = strlen(e->d_name);
  return n > 12 && !strcmp(e->d_name + n - 12, ".safetensors");
}

START_TEST(omp_golden_cases)
{
  struct dirent **ents;
  const int n = scandir("golden", &ents, is_case, alphasort);
  ck_assert_msg(n > 0, "no golden cases in golden/ (run from the repository root)");
  const int saved = omp_get_max_threads();
  for (int i = 0; i < n; i++) {
    char path[512];
    struct vss_golden g;
    snprintf(path, sizeof path, "golden/%s", ents[i]->d_name);
    free(ents[i]);
    ck_assert_msg(vss_golden_open(path, &g) == VSS_OK, "%s", vss_last_error());
    float *got[2];
    for (int t = 0; t < 2; t++) {
      struct vss_cmp cmp;
      got[t] = malloc(g.n * sizeof(float) + 1);
      ck_assert(got[t] != NULL);
      omp_set_num_threads(t ? 3 : 1);
      ck_assert_msg(vss_golden_run(&g, "omp", NULL, NULL, got[t], &cmp, NULL, 0) == VSS_OK,
                    "%s: %s", path, vss_last_error());
      ck_assert_msg(cmp.verdict == VSS_PASS, "%s, omp, %d thread(s): %s (nmse %.3g, max_abs %.3g)",
                    g.name, t ? 3 : 1, vss_verdict_str(cmp.verdict), cmp.nmse, cmp.max_abs);
    }
    ck_assert_msg(same_bits(got[0], got[1], g.n), "%s: 1 and 3 threads differ", g.name);
    free(got[0]);
    free(got[1]);
    vss_golden_close(&g);
  }
  free(ents);
  omp_set_num_threads(saved);
}
END_TEST

#define TINY "golden/v0_tiny.safetensors"

/* The stage callback: records the team size the forward runs with. */
static int seen_threads(void *ctx, const char *name, const float *data, int ndim,
                        const size_t *shape)
{
  (void)name, (void)data, (void)ndim, (void)shape;
  *(int *)ctx = omp_get_max_threads();
  return 0;
}

START_TEST(omp_block_threads_option)
{
  struct vss_golden g;
  ck_assert_msg(vss_golden_open(TINY, &g) == VSS_OK, "%s", vss_last_error());
  const int saved = omp_get_max_threads();
  omp_set_num_threads(2);
  float *y[3];
  static const int counts[3] = {0, 1, 3}; /* 0: the caller's setting (2) */
  for (int i = 0; i < 3; i++) {
    const struct vss_block_opts opts = {"omp", counts[i]};
    vss_block *blk;
    int seen = -1;
    ck_assert_msg(vss_block_load(TINY, g.prefix, &opts, &blk) == VSS_OK, "%s", vss_last_error());
    y[i] = malloc(g.n * sizeof(float) + 1);
    ck_assert(y[i] != NULL);
    ck_assert(vss_block_forward_stages(blk, g.B, g.H, g.W, g.x, y[i], seen_threads, &seen) ==
              VSS_OK);
    ck_assert_int_eq(seen, counts[i] ? counts[i] : 2);
    ck_assert_int_eq(omp_get_max_threads(), 2); /* restored */
    vss_block_free(blk);
  }
  ck_assert_msg(same_bits(y[0], y[1], g.n) && same_bits(y[0], y[2], g.n),
                "threads 0 (2), 1 and 3 give different blocks");
  for (int i = 0; i < 3; i++) free(y[i]);
  omp_set_num_threads(saved);
  vss_golden_close(&g);
}
END_TEST

/* `vssbench run --variant omp --threads N` into tmpdir/name; its y. */
static float *cli_run(int threads, const char *name, size_t n)
{
  const char *bin = getenv("VSSBENCH");
  const char *out = vss_test_path(name);
  char cmd[1024];
  snprintf(cmd, sizeof cmd,
           "%s run --weights %s --input %s --output %s --variant omp --threads %d >/dev/null",
           bin && *bin ? bin : "build/vssbench", TINY, TINY, out, threads);
  const int rc = system(cmd);
  ck_assert_msg(rc == 0, "`%s` exited with %d", cmd, rc);
  vss_st *f;
  float *y;
  ck_assert_msg(vss_st_open(out, &f) == VSS_OK, "%s", vss_last_error());
  const struct vss_tensor *t = vss_st_find(f, "y");
  ck_assert_msg(t != NULL && vss_st_to_f32(f, t, &y) == VSS_OK, "%s: no y", out);
  ck_assert_uint_eq(t->shape[0] * t->shape[1] * t->shape[2] * t->shape[3], n);
  vss_st_close(f);
  return y;
}

START_TEST(omp_cli_threads)
{
  struct vss_golden g;
  ck_assert_msg(vss_golden_open(TINY, &g) == VSS_OK, "%s", vss_last_error());
  float *y1 = cli_run(1, "omp_t1.safetensors", g.n), *y3 = cli_run(3, "omp_t3.safetensors", g.n);
  ck_assert_msg(same_bits(y1, y3, g.n), "vssbench run --threads 1 and 3 differ");
  free(y1);
  free(y3);
  vss_golden_close(&g);
}
END_TEST

/* ---- without AVX2 ------------------------------------------------------- */

START_TEST(omp_scan_without_avx2)
{
  struct vss_ops ops, ref;
  setenv("VSS_MAX_ISA", "none", 1); /* the registry hands omp ref's table */
  omp_ops(&ops);
  vss_init__ref(&ref, NULL);
  struct vss_rng r;
  vss_rng_seed(&r, SEED + 4);
  struct scan_prob p;
  prob_make(&p, &(struct scan_shape){3, 6, 7, 19, 16, 0xF, -7, -2.5f, 0}, &r);
  const struct vss_omp_scan_plan pl = plan_of(&p.s);
  float *got = malloc(p.ny * sizeof *got + 1), *exp = malloc(p.ny * sizeof *exp + 1);
  ck_assert(got && exp);
  prob_run(&p, ref.ssm_scan, exp);
  assert_thread_invariant(p.what, scan_omp, &p, p.ny);
  prob_run(&p, ops.ssm_scan, got);
  ck_assert_msg(ops.ssm_scan_dt == NULL, "VSS_MAX_ISA=none: omp has a fused scan");
  unsetenv("VSS_MAX_ISA");
  omp_ops(&ops); /* the usual base again */
  ck_assert_msg(!pl.vector, "with VSS_MAX_ISA=none the scan must not use AVX2");
  ck_assert_msg(same_bits(got, exp, p.ny), "%s: the per-sample fallback differs from ref",
                p.what);
  free(got);
  free(exp);
  prob_free(&p);
}
END_TEST

Suite *suite_omp(void)
{
  Suite *s = suite_create("omp");
  TCase *scan = tcase_create("scan"), *ops = tcase_create("ops"),
        *block = tcase_create("block");
  tcase_set_timeout(scan, 300);
  tcase_set_timeout(ops, 300);
  tcase_set_timeout(block, 300);
  tcase_add_test(scan, omp_plan_cuts);
  tcase_add_test(scan, omp_scan_vs_ref);
  tcase_add_test(scan, omp_scan_thread_invariant);
  tcase_add_test(scan, omp_scan_without_avx2);
  tcase_add_test(scan, omp_scan_dt_fused);
  tcase_add_test(ops, omp_ops_match_base);
  tcase_add_test(block, omp_golden_cases);
  tcase_add_test(block, omp_block_threads_option);
  tcase_add_test(block, omp_cli_threads);
  suite_add_tcase(s, scan);
  suite_add_tcase(s, ops);
  suite_add_tcase(s, block);
  return s;
}

#else /* built without OpenMP: nothing to test */

Suite *suite_omp(void)
{
  printf("SKIP omp: not built (no optimized/omp sources, or no OpenMP)\n");
  return suite_create("omp");
}

#endif
