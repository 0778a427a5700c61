/* test_xsmm.c - the xsmm variant's linear (libxsmm JIT GEMMs) against ref's.
 *
 * Every GEMM-shaped part the block driver runs (in_proj, x_proj, dt_proj,
 * out_proj, fc1, fc2), with the driver's strides, for every shape of
 * bench/shapes.inc, plus odd sizes (C = 20, 36; n_out, n_in not multiples
 * of anything; K split with a short last chunk) at 1, 7, 63, 65 rows and
 * other row counts that hit every row-block remainder path:
 *  - "exact": small-integer x, W, bias and y, so every product and partial
 *    sum is an exact float: bit-exact against ref whatever the summation
 *    order (no GELU: the vector GELU is not erff);
 *  - "real": unit-scale real values, GELU included, within
 *    VSS_LIM_LINEAR_REORDER (+ VSS_LIM_GELU with GELU);
 *  - strided x (ldx > n_in: the repacking path, stack and heap) and y
 *    (ldy = n_out, VSS_K n_out and other: the kernels' three C layouts).
 * y's padding and a non-accumulating y's old values are NaN, so a kernel
 * that reads C with beta = 0 or writes outside its rows and columns shows;
 * every buffer has a guard band.  Two runs in a forked child cover the
 * other code paths: no JIT (LIBXSMM_TARGET=generic: the plain-C fallback
 * kernel) and VSS_MAX_ISA=avx2 (AVX2 kernels on an AVX-512 machine).
 * The ops table: the two GEMM slots are libxsmm's, every other slot is the
 * best vector variant's (avx512 where it runs, else avx2, else ref), also
 * under VSS_MAX_ISA=avx2 (avx2's), in a forked child.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tolerances.h"
#include "vss_internal.h"
#include "vss_test.h"

#ifdef VSS_HAVE_XSMM
#include <libxsmm.h>

#include "../optimized/xsmm/xsmm.h"

/* ---- the cases ---------------------------------------------------------- */


/* One linear call: the descriptor's sizes and flags, and the strides and
 * offsets the driver calls it with (dt_proj: direction k reads column
 * k(R+2N) of dbl and writes column k Di of dt). */
struct lcase {
  const char *what;
  size_t n_out, n_in, ldx, ldy, xoff, yoff;
  int bias, act, acc;
};

enum { IN_PROJ, X_PROJ, DT_PROJ, OUT_PROJ, FC1, FC2, N_PART };

/* Part p of shape s as core/block.c runs it; n_out == 0 if s has no MLP. */
static struct lcase part_case(const struct bench_shape *s, int p)
{
  const size_t Dz = s->has_z ? 2 * s->Di : s->Di, Dbl = VSS_K * (s->R + 2 * s->N);
  const size_t C = s->C, Di = s->Di, Hd = s->hidden, k = VSS_K - 1;
  switch (p) {
  case IN_PROJ: return (struct lcase){"in_proj", Dz, C, C, Dz, 0, 0, 0, VSS_ACT_NONE, 0};
  case X_PROJ: return (struct lcase){"x_proj", Dbl, Di, Di, Dbl, 0, 0, 0, VSS_ACT_NONE, 0};
  case DT_PROJ:
    return (struct lcase){"dt_proj", Di, s->R, Dbl, VSS_K * Di, k * (s->R + 2 * s->N),
                          k * Di, 0, VSS_ACT_NONE, 0};
  case OUT_PROJ: return (struct lcase){"out_proj", C, Di, Di, C, 0, 0, 0, VSS_ACT_NONE, 1};
  case FC1: return (struct lcase){"fc1", Hd, C, C, Hd, 0, 0, 1, VSS_ACT_GELU, 0};
  default: return (struct lcase){"fc2", Hd ? C : 0, Hd, Hd, C, 0, 0, 1, VSS_ACT_NONE, 1};
  }
}

/* Rows for a shape: all of them up to 256 (v0_T4/v2_T4: 49 = 48 + 1,
 * v2_T3: 196 = 3 x 64 + 4), else 197 = 3 x 64 + 5 (full row blocks and a
 * short one), which keeps ref's time low. */
static size_t shape_rows(const struct bench_shape *s)
{
  const size_t M = s->B * s->H * s->W;
  return M <= 256 ? M : 197;
}

/* ---- running one case --------------------------------------------------- */

static struct vss_ops xs; /* the xsmm table, as the block gets it */

static void init_ops(void) { vss_init__xsmm(&xs, NULL); }

/* Fills n floats: small integers in [-m, m] (exact), or reals in [-m, m]. */
static void fill(struct vss_rng *g, float *p, size_t n, int exact, float m)
{
  for (size_t i = 0; i < n; i++)
    p[i] = exact ? vss_rng_int(g, -(int)m, (int)m) : vss_rng_uniform(g, -m, m);
}

/* Runs case c on rows rows through xsmm and through ref, on the same
 * inputs, and compares all of y's buffer (padding included) within lim;
 * returns the number of bad points (guard damage counts as one), with a
 * line for the first in msg.  No Check assertion inside (it runs in forked
 * children too). */
static size_t run_case(const struct lcase *c, size_t rows, int exact, uint64_t seed,
                       struct vss_limits lim, char *msg, size_t msgsz)
{
  struct vss_rng g;
  vss_rng_seed(&g, seed);
  const size_t nx = c->xoff + (rows ? (rows - 1) * c->ldx + c->n_in : 1);
  const size_t ny = c->yoff + (rows ? (rows - 1) * c->ldy + c->n_out : 1);
  float *x = vss_guarded_alloc(nx), *w = vss_guarded_alloc(c->n_out * c->n_in);
  float *b = vss_guarded_alloc(c->n_out), *yx = vss_guarded_alloc(ny), *yr = vss_guarded_alloc(ny);
  fill(&g, x, nx, exact, exact ? 3 : 1);
  fill(&g, w, c->n_out * c->n_in, exact, exact ? 3 : 1 / sqrtf((float)c->n_in));
  fill(&g, b, c->n_out, exact, exact ? 8 : 1);
  if (c->acc) fill(&g, yr, ny, exact, exact ? 8 : 4);
  else for (size_t i = 0; i < ny; i++) yr[i] = NAN; /* must be neither read nor kept */
  for (size_t i = 0; i < ny; i++)
    if (i < c->yoff || (i - c->yoff) % c->ldy >= c->n_out) yr[i] = NAN; /* padding */
  memcpy(yx, yr, ny * sizeof *yx);

  struct vss_linear lx = {{c->n_out, c->n_in, w, c->bias ? b : NULL, c->act, c->acc}, NULL, NULL};
  struct vss_linear lr = lx;
  size_t bad = 0;
  msg[0] = 0;
  if (xs.linear_prepare(&lx) != 0) {
    snprintf(msg, msgsz, "%s: prepare failed", c->what);
    bad = 1;
  } else {
    xs.linear(&lx, rows, x + c->xoff, c->ldx, yx + c->yoff, c->ldy);
    vss_linear__ref(&lr, rows, x + c->xoff, c->ldx, yr + c->yoff, c->ldy);
    if (lx.priv_free) lx.priv_free(lx.priv);
    for (size_t i = 0; i < ny; i++) {
      const double d = fabs((double)yx[i] - yr[i]);
      if ((isnan(yx[i]) && isnan(yr[i])) || d <= lim.atol + lim.rtol * fabs((double)yr[i]))
        continue;
      if (!bad++)
        snprintf(msg, msgsz, "%s (%zu x %zu, ldx %zu, ldy %zu) rows %zu: y[%zu] (row %zu "
                 "col %zu of the output, or padding): xsmm %.9g ref %.9g (seed %llu)",
                 c->what, c->n_out, c->n_in, c->ldx, c->ldy, rows, i,
                 i < c->yoff ? 0 : (i - c->yoff) / c->ldy, i < c->yoff ? 0 : (i - c->yoff) % c->ldy,
                 yx[i], yr[i], (unsigned long long)seed);
    }
  }
  if (!vss_guard_ok(x, nx) || !vss_guard_ok(yx, ny) || !vss_guard_ok(w, c->n_out * c->n_in)) {
    if (!bad++) snprintf(msg, msgsz, "%s rows %zu: a guard band was overwritten", c->what, rows);
  }
  vss_guarded_free(x); vss_guarded_free(w); vss_guarded_free(b);
  vss_guarded_free(yx); vss_guarded_free(yr);
  return bad;
}

static void check_case(const struct lcase *c, size_t rows, int exact, uint64_t seed)
{
  struct vss_limits lim = exact ? VSS_LIM_EXACT : VSS_LIM_LINEAR_REORDER;
  if (!exact && c->act == VSS_ACT_GELU) {
    lim.atol += VSS_LIM_GELU.atol;
    lim.rtol += VSS_LIM_GELU.rtol;
  }
  char msg[320];
  const size_t bad = run_case(c, rows, exact, seed, lim, msg, sizeof msg);
  ck_assert_msg(bad == 0, "%zu bad points; first: %s", bad, msg);
}

/* ---- every part of every benchmark shape -------------------------------- */

static void shape_part(int i, int exact)
{
  const struct bench_shape *s = &bench_shapes[i / N_PART];
  struct lcase c = part_case(s, i % N_PART);
  if (!c.n_out) return; /* no MLP in this shape */
  if (exact && c.act == VSS_ACT_GELU) c.act = VSS_ACT_NONE;
  check_case(&c, shape_rows(s), exact, 0x5eed0000u + (uint64_t)i);
}

START_TEST(shapes_exact) { shape_part(_i, 1); }
END_TEST

START_TEST(shapes_real) { shape_part(_i, 0); }
END_TEST

/* ---- odd sizes and row counts ------------------------------------------- */

/* Blocks with C = 20 (z gate, Di = 2C, N = 16) and C = 36 (v05 form:
 * Di = C, N = 1), R = ceil(C/16), MLP 4C: every part, as the driver runs
 * it; then sizes that are multiples of nothing, and split K. */
static const struct bench_shape odd_shapes[] = {
    {"C20", 1, 1, 1, 20, 40, 16, 2, 80, 1, 1},
    {"C36", 1, 1, 1, 36, 36, 1, 3, 144, 0, 0},
};
#define N_ODD_SHAPE_CASES (2 * N_PART)
static const struct lcase odd_sizes[] = {
    {"1x1", 1, 1, 1, 1, 0, 0, 1, VSS_ACT_NONE, 0},
    {"65x33", 65, 33, 33, 65, 0, 0, 1, VSS_ACT_NONE, 0},
    /* K split in 3 chunks of 344, 344, 342 (KB = 512), m = 2 x 64 + 1 */
    {"129x1030 split K", 129, 1030, 1030, 129, 0, 0, 1, VSS_ACT_NONE, 1},
    {"7x2000 split K", 7, 2000, 2000, 7, 0, 0, 0, VSS_ACT_NONE, 0},
};
#define N_ODD (N_ODD_SHAPE_CASES + sizeof odd_sizes / sizeof odd_sizes[0])

static struct lcase odd_case_at(size_t i)
{
  return i < N_ODD_SHAPE_CASES ? part_case(&odd_shapes[i / N_PART], (int)(i % N_PART))
                               : odd_sizes[i - N_ODD_SHAPE_CASES];
}

/* 0 rows: nothing written; 1..7 and 9..15 rows: the < 8-row kernels alone
 * and after an 8-row one; 63, 64, 65, 130: one block short, exact, one
 * over, two plus a bit. */
static const size_t odd_rows[] = {0, 1, 2, 3, 7, 9, 15, 63, 64, 65, 130};
#define N_ODD_ROWS (sizeof odd_rows / sizeof odd_rows[0])

static void odd_case(int i, int exact)
{
  struct lcase c = odd_case_at((size_t)i / N_ODD_ROWS);
  if (exact && c.act == VSS_ACT_GELU) c.act = VSS_ACT_NONE;
  check_case(&c, odd_rows[i % N_ODD_ROWS], exact, 0x0dd00000u + (uint64_t)i);
}

START_TEST(odd_exact) { odd_case(_i, 1); }
END_TEST

START_TEST(odd_real) { odd_case(_i, 0); }
END_TEST

/* ---- strides: every C layout and both x paths, with and without bias,
 * accumulation and GELU ---------------------------------------------------- */

START_TEST(strides)
{
  static const size_t sizes[][2] = {{40, 20}, {96, 6}, {70, 200}}; /* n_out, n_in */
  for (size_t s = 0; s < 3; s++)
    for (int ly = 0; ly < 3; ly++)     /* ldy: n_out, VSS_K n_out, n_out + 3 */
      for (int lx = 0; lx < 2; lx++)   /* ldx: n_in, n_in + 5 (repacked) */
        for (int f = 0; f < 8; f++) {  /* bias, accumulate, GELU */
          const size_t no = sizes[s][0], ni = sizes[s][1];
          struct lcase c = {"strides", no, ni, lx ? ni + 5 : ni,
                            ly == 0 ? no : ly == 1 ? VSS_K * no : no + 3,
                            lx ? 2 : 0, ly ? 1 : 0, f & 1, f & 4 ? VSS_ACT_GELU : VSS_ACT_NONE,
                            (f >> 1) & 1};
          const uint64_t seed = 0x57d00000u + (uint64_t)(((s * 3 + ly) * 2 + lx) * 8 + f);
          for (size_t r = 0; r < 2; r++) check_case(&c, r ? 70 : 5, !(f & 4), seed);
        }
}
END_TEST

/* ---- the other code paths, in a forked child ----------------------------- */

/* In a child with env name=value set before libxsmm starts: the exact odd
 * cases at 1, 9 and 65 rows; says whether libxsmm took the target arch.
 * (Under CK_FORK=no an earlier test may have started libxsmm already: the
 * results are still checked, on the default kernels.) */
static void in_child(const char *name, const char *value, const char *want_arch)
{
  fflush(NULL);
  const pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    setenv(name, value, 1);
    size_t bad = 0;
    char msg[320];
    for (size_t i = 0; i < N_ODD; i++)
      for (size_t r = 1; r < 100; r += 8 + 48 * (r > 1)) {
        struct lcase c = odd_case_at(i);
        c.act = VSS_ACT_NONE;
        size_t nb = run_case(&c, r, 1, 0xc41d0000u + i, VSS_LIM_EXACT, msg, sizeof msg);
        if (nb) fprintf(stderr, "%s=%s: %s\n", name, value, msg);
        bad += nb;
      }
    const char *arch = libxsmm_get_target_arch();
    if (strcmp(arch, want_arch) != 0)
      printf("NOTE %s=%s: libxsmm was already started (%s), %s path not exercised\n", name,
             value, arch, want_arch);
    fflush(NULL);
    _exit(bad ? 1 : 0);
  }
  int st = 0;
  ck_assert_int_eq(waitpid(pid, &st, 0), pid);
  ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s=%s: xsmm differs from ref (see stderr)",
                name, value);
}

START_TEST(fallback_without_jit) { in_child("LIBXSMM_TARGET", "generic", "generic"); }
END_TEST

START_TEST(avx2_kernels_under_cap) { in_child("VSS_MAX_ISA", "avx2", "hsw"); }
END_TEST

/* ---- threads: one plan, two callers; two prepares at once ---------------- */

struct thr { const struct vss_linear *lin; const float *x; float *y; size_t rows; };

static void *thr_run(void *arg)
{
  struct thr *t = arg;
  for (int i = 0; i < 20; i++) xs.linear(t->lin, t->rows, t->x, 100, t->y, 130);
  return NULL;
}

static void *thr_prepare(void *arg)
{
  return (void *)(intptr_t)xs.linear_prepare(arg);
}

START_TEST(threads)
{
  enum { n_out = 130, n_in = 100, rows = 150 };
  struct vss_rng g;
  vss_rng_seed(&g, 77);
  float *w = malloc(n_out * n_in * sizeof *w), *x[2], *y[2], *e[2];
  fill(&g, w, n_out * n_in, 1, 3);
  struct vss_linear l1 = {{n_out, n_in, w, NULL, VSS_ACT_NONE, 0}, NULL, NULL}, l2 = l1, lr = l1;
  pthread_t th[2];
  ck_assert_int_eq(pthread_create(&th[0], NULL, thr_prepare, &l1), 0);
  ck_assert_int_eq(pthread_create(&th[1], NULL, thr_prepare, &l2), 0);
  for (int i = 0; i < 2; i++) {
    void *ret;
    ck_assert_int_eq(pthread_join(th[i], &ret), 0);
    ck_assert_ptr_null(ret);
  }
  struct thr t[2];
  for (int i = 0; i < 2; i++) {
    x[i] = malloc(rows * n_in * sizeof *x[i]);
    y[i] = malloc(rows * n_out * sizeof *y[i]);
    e[i] = malloc(rows * n_out * sizeof *e[i]);
    fill(&g, x[i], rows * n_in, 1, 3);
    vss_linear__ref(&lr, rows, x[i], n_in, e[i], n_out);
    t[i] = (struct thr){&l1, x[i], y[i], rows};
    ck_assert_int_eq(pthread_create(&th[i], NULL, thr_run, &t[i]), 0);
  }
  for (int i = 0; i < 2; i++) ck_assert_int_eq(pthread_join(th[i], NULL), 0);
  for (int i = 0; i < 2; i++) {
    vss_assert_equal("thread", y[i], e[i], rows * n_out);
    xs.linear(&l2, rows, x[i], n_in, y[i], n_out); /* the other plan */
    vss_assert_equal("second plan", y[i], e[i], rows * n_out);
    free(x[i]); free(y[i]); free(e[i]);
  }
  l1.priv_free(l1.priv);
  l2.priv_free(l2.priv);
  free(w);
}
END_TEST

/* ---- the ops table -------------------------------------------------------- */

/* The table the non-GEMM ops must come from: avx512 where it was built and
 * runs here (VSS_MAX_ISA included), else avx2, else ref. */
static const char *expected_base(struct vss_ops *base)
{
#ifdef VSS_HAVE_AVX512
  if (vss_isa_runnable(VSS_ISA_AVX512, NULL)) {
    vss_init__avx512(base, NULL);
    return "avx512";
  }
#endif
#ifdef VSS_HAVE_AVX2
  vss_init__avx2(base, NULL);
  return "avx2";
#else
  vss_init__ref(base, NULL);
  return "ref";
#endif
}

/* Which non-GEMM slot of t differs from base's (NULL: none). */
static const char *slot_mismatch(const struct vss_ops *t, const struct vss_ops *base)
{
  if (t->layernorm != base->layernorm) return "layernorm";
  if (t->dwconv3x3 != base->dwconv3x3) return "dwconv3x3";
  if (t->silu != base->silu) return "silu";
  if (t->gelu != base->gelu) return "gelu";
  if (t->softplus != base->softplus) return "softplus";
  if (t->gate != base->gate) return "gate";
  if (t->ssm_scan != base->ssm_scan) return "ssm_scan";
  return NULL;
}

START_TEST(ops_table)
{
  struct vss_ops base;
  const char *from = expected_base(&base);
  ck_assert_ptr_nonnull(xs.linear_prepare);
  ck_assert_ptr_nonnull(xs.linear);
  /* the GEMM slots are libxsmm's */
  ck_assert(xs.linear_prepare == vss_linear_prepare__xsmm && xs.linear == vss_linear__xsmm);
  /* everything but the linear comes from the best vector variant */
  const char *bad = slot_mismatch(&xs, &base);
  ck_assert_msg(bad == NULL, "xsmm's %s is not %s's", bad ? bad : "", from);
  /* dt_proj is a libxsmm GEMM too: no vector variant's fused scan */
  ck_assert_ptr_null(xs.ssm_scan_dt);
#if defined(VSS_HAVE_AVX512) && defined(VSS_HAVE_AVX2)
  /* the registry's check agrees with the CPU's flags when nothing caps it */
  const char *cap = getenv("VSS_MAX_ISA");
  __builtin_cpu_init();
  if ((!cap || !*cap) && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
    ck_assert_msg(!strcmp(from, "avx512"), "an AVX-512 CPU, uncapped, but avx512 not runnable");
  /* where avx512 runs, the choice shows: its scan is not avx2's */
  if (!strcmp(from, "avx512")) {
    struct vss_ops a2;
    vss_init__avx2(&a2, NULL);
    ck_assert_msg(xs.ssm_scan != a2.ssm_scan, "xsmm's ssm_scan is avx2's on an avx512 CPU");
  }
#endif
}
END_TEST

/* Under VSS_MAX_ISA=avx2 (in a forked child: the cap is read at init) the
 * non-GEMM ops are avx2's, even on an AVX-512 machine. */
START_TEST(ops_table_under_cap)
{
  fflush(NULL);
  const pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    setenv("VSS_MAX_ISA", "avx2", 1);
    struct vss_ops t, base;
    vss_init__xsmm(&t, NULL);
    const char *from = expected_base(&base);
    const char *bad = slot_mismatch(&t, &base);
    if (strcmp(from, "avx512") == 0)
      fprintf(stderr, "VSS_MAX_ISA=avx2: avx512 still counted runnable\n");
    else if (bad)
      fprintf(stderr, "VSS_MAX_ISA=avx2: xsmm's %s is not %s's\n", bad, from);
    fflush(NULL);
    _exit(bad || strcmp(from, "avx512") == 0 ? 1 : 0);
  }
  int st = 0;
  ck_assert_int_eq(waitpid(pid, &st, 0), pid);
  ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                "VSS_MAX_ISA=avx2: xsmm's non-GEMM ops are not avx2's (see stderr)");
}
END_TEST

static int runnable(void)
{
  struct vss_variant_info vi;
  for (size_t i = 0; vss_variant_info(i, &vi) == 0; i++)
    if (!strcmp(vi.name, "xsmm")) {
      if (!vi.runnable) printf("SKIP xsmm: %s\n", vi.why_not);
      return vi.runnable;
    }
  return 0;
}

Suite *suite_xsmm(void)
{
  Suite *s = suite_create("xsmm");
  if (!runnable()) return s;
  init_ops();
  TCase *tc = tcase_create("xsmm");
  tcase_set_timeout(tc, 60);
  tcase_add_loop_test(tc, shapes_exact, 0, (int)(bench_n_shapes * N_PART));
  tcase_add_loop_test(tc, shapes_real, 0, (int)(bench_n_shapes * N_PART));
  tcase_add_loop_test(tc, odd_exact, 0, (int)(N_ODD * N_ODD_ROWS));
  tcase_add_loop_test(tc, odd_real, 0, (int)(N_ODD * N_ODD_ROWS));
  tcase_add_test(tc, strides);
  tcase_add_test(tc, fallback_without_jit);
  tcase_add_test(tc, avx2_kernels_under_cap);
  tcase_add_test(tc, threads);
  tcase_add_test(tc, ops_table);
  tcase_add_test(tc, ops_table_under_cap);
  suite_add_tcase(s, tc);
  return s;
}

#else /* the xsmm variant is not built here */

Suite *suite_xsmm(void)
{
  printf("SKIP xsmm: not built (needs optimized/xsmm/ and /usr/include/libxsmm.h)\n");
  return suite_create("xsmm");
}

#endif
