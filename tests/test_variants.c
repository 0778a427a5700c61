/* test_variants.c - every runnable variant but ref, op by op, against ref.
 *
 * Generic over the variant list (include/vss/variants.inc): each test is a
 * Check loop test over vss_variant_count(); ref itself and variants this
 * CPU or build cannot run are passed over (the suite prints one
 * `SKIP <variant>: <why>` line for the latter when it is built, since
 * Check has no skip status).  Every output lives in a guarded buffer.
 *
 *  - linear: small-integer x, W, bias and y (|v| <= 8, K <= 3072: every
 *    product and partial sum is an integer below 2^24, exact in fp32
 *    whatever the order), bit-exact against ref, for the sizes around the
 *    vector width (1, 7, 8, 9, 15, 16, 17, 25, 33), around the K block and
 *    the row block, with strides, and every GEMM-shaped part of every shape
 *    of bench/shapes.inc as core/block.c calls it (ref on a sample of rows:
 *    rows are independent).  GELU stays exact too when the bias lifts every
 *    pre-activation to >= 8, where Phi rounds to 1 (any correct GELU, ref's
 *    erff form included, returns x); that pins where the epilogue applies
 *    it, and the real-valued runs (unit scale, VSS_LIM_LINEAR_REORDER, plus
 *    VSS_LIM_GELU with GELU) check that it applies it at all.
 *  - dwconv3x3 + bias + SiLU: bit-exact through the fused SiLU by keeping
 *    every pre-activation >= 18 (a large bias, or positive inputs when
 *    there is none): there silu(s) = s / (1 + e^-s) rounds to s exactly
 *    (e^-18 < 2^-25), so the outputs are the exact integer convolutions;
 *    then real values (both SiLU branches) within VSS_LIM_VAR_DWCONV.
 *  - layernorm, silu, gelu, softplus, gate: real inputs (sweeps through the
 *    interesting ranges), against ref within the VSS_LIM_VAR_* rows, in
 *    place and out of place.
 *  - the selective scan: odd shapes (H or W = 1, Di = 1, 7, 9, 17, N = 1,
 *    2, 5, 16), direction masks, B = 2, extreme decays, and the real
 *    shapes, within vss_var_scan_limits() (relative to the output's scale);
 *    where the variant fuses dt_proj into its scan (ssm_scan_dt), that
 *    slot on the odd shapes and the stage 3-4 ones, bit for bit against
 *    its linear then its scan.
 *  - the avx2 vector exp (when built): at most 2 ulp against double exp
 *    over [-200, 70], subnormal results included.
 * On failure: up to 10 bad points, the variant, the case, the seed and
 * the line that reruns the suite.  VSS_TEST_MEASURE=1 prints every
 * comparison's figures (how the core/tolerances.h rows were calibrated).
 */
#include <fenv.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tolerances.h"
#include "vss_internal.h"
#include "vss_test.h"
#ifdef VSS_HAVE_AVX2
#include "../optimized/avx2/avx2_ops.h"
#endif

#define SEED 0x5eed4u

/* The ops of variant i, or 0 when it is ref or cannot run here. */
static int variant_ops(int i, struct vss_ops *ops, const char **name)
{
  struct vss_variant_info info;
  ck_assert_int_eq(vss_variant_info((size_t)i, &info), 0);
  *name = info.name;
  if (!strcmp(info.name, "ref") || !info.runnable) return 0;
  ck_assert_msg(vss_resolve_variant(info.name, ops, NULL) == VSS_OK, "%s: %s",
                info.name, vss_last_error());
  return 1;
}

/* The prologue of every test: the variant's ops (or return), ref's, and
 * the test's random stream r. */
#define VARIANT_OR_RETURN(ops, name, seed)   \
  struct vss_ops ops;                        \
  const char *name;                          \
  if (!variant_ops(_i, &ops, &name)) return; \
  struct vss_ops ref;                        \
  vss_init__ref(&ref, NULL);                 \
  struct vss_rng r;                          \
  vss_rng_seed(&r, seed)

static const size_t sizes[] = {1, 7, 8, 9, 15, 16, 17, 25, 33};
#define N_SIZES (sizeof sizes / sizeof sizes[0])


/* ---- helpers ------------------------------------------------------------ */

static float *fill(float *p, size_t n, struct vss_rng *r, float lo, float hi, int ints)
{
  for (size_t i = 0; i < n; i++)
    p[i] = ints ? vss_rng_int(r, (int)lo, (int)hi) : vss_rng_uniform(r, lo, hi);
  return p;
}

/* A guarded buffer of n floats filled by fill(). */
static float *gbuf(size_t n, struct vss_rng *r, float lo, float hi, int ints)
{
  return fill(vss_guarded_alloc(n), n, r, lo, hi, ints);
}

static float *copy_of(const float *p, size_t n)
{
  float *q = vss_guarded_alloc(n);
  memcpy(q, p, n * sizeof *q);
  return q;
}

/* got against exp (ref's output) within lim (vss_compare: pointwise and
 * NMSE); lim == NULL: bit for bit. */
static void check(const char *variant, const char *what, const float *got,
                  const float *exp, size_t n, const struct vss_limits *lim)
{
  char label[256];
  snprintf(label, sizeof label, "%s: %s (seed %#x; rerun: CK_RUN_SUITE=variants build/vss_tests)",
           variant, what, SEED);
  if (!lim) { /* equal values (NaN matching NaN) */
    for (size_t i = 0; i < n; i++)
      if (got[i] != exp[i] && !(isnan(got[i]) && isnan(exp[i])))
        vss_assert_equal(label, got, exp, n); /* prints the bad points, fails */
    return;
  }
  double *e = malloc((n ? n : 1) * sizeof *e);
  ck_assert_ptr_nonnull(e);
  for (size_t i = 0; i < n; i++) e[i] = exp[i];
  struct vss_limits l = *lim;
  if (l.nmse_max <= 0) l.nmse_max = INFINITY; /* a pointwise-only row */
  struct vss_cmp c;
  vss_compare(got, e, NULL, n, &l, &c);
  free(e);
  if (getenv("VSS_TEST_MEASURE")) /* for calibrating the limits */
    printf("MEASURE %s %s: max|diff| %.3g max rel %.3g nmse %.3g, %.2f of the limit\n",
           variant, what, c.max_abs, c.max_rel, c.nmse, c.worst_frac);
  if (c.verdict == VSS_FAIL || c.verdict == VSS_MISTRUSTED) {
    for (size_t k = 0; k < c.n_bad && k < VSS_CMP_MAX_BAD; k++)
      fprintf(stderr, "  %s %s[%zu]: got %.9g ref %.9g\n", variant, what, c.bad_idx[k],
              c.bad_got[k], c.bad_exp[k]);
    ck_abort_msg("%s: %s, %zu of %zu points bad, max |diff| %.3g, nmse %.3g "
                 "(limits atol %.3g rtol %.3g nmse %.3g)",
                 label, vss_verdict_str(c.verdict), c.n_bad, n, c.max_abs, c.nmse,
                 lim->atol, lim->rtol, lim->nmse_max);
  }
}

/* ---- linear ------------------------------------------------------------- */

/* One linear call: sizes, strides, flags. */
struct lin_case {
  size_t rows, n_out, n_in, ldx, ldy;
  int bias, act, acc;
};

/* Runs the case through the variant (all rows) and ref (rows [r0, r0+nr)
 * of each sample window in rsel) and compares those rows (the whole ldy
 * row: padding columns must come back untouched). */
static void run_linear(const char *variant, const struct vss_ops *ops,
                       const struct vss_ops *ref, const struct lin_case *c,
                       int exact, struct vss_rng *r, const char *what)
{
  const size_t nx = (c->rows - 1) * c->ldx + c->n_in, ny = c->rows * c->ldy;
  const float ws = exact ? 8.0f : 1.0f / sqrtf((float)(c->n_in ? c->n_in : 1));
  /* exact GELU without a bias to lift the sums: x, W in [3, 8], s >= 9 */
  const float lo = exact && c->act == VSS_ACT_GELU && !c->bias ? 3 : -ws;
  float *x = gbuf(nx ? nx : 1, r, exact ? (lo > 0 ? lo : -8) : -1, exact ? 8 : 1, exact);
  float *w = gbuf(c->n_out * c->n_in + 1, r, lo, ws, exact);
  float *b = gbuf(c->n_out, r, exact ? -8 : -1, exact ? 8 : 1, exact);
  float *y = gbuf(ny, r, exact ? -8 : -4, exact ? 8 : 4, exact);
  if (exact && c->act == VSS_ACT_GELU) /* every pre-activation >= 8 */
    for (size_t o = 0; o < c->n_out; o++) b[o] += 64.0f * (float)c->n_in + 16.0f;
  float *yr = copy_of(y, ny);

  struct vss_linear lv = {{c->n_out, c->n_in, w, c->bias ? b : NULL, c->act, c->acc}, NULL, NULL};
  struct vss_linear lr = lv;
  ck_assert_int_eq(ops->linear_prepare(&lv), 0);
  ck_assert_int_eq(ref->linear_prepare(&lr), 0);
  ops->linear(&lv, c->rows, x, c->ldx, y, c->ldy);
  /* ref on the first, a middle and the last rows (rows are independent):
   * three disjoint windows, or all rows when they are few */
  const size_t win = 13, nwin = c->rows >= 4 * win ? 3 : 1;
  const size_t starts[3] = {0, c->rows / 2, c->rows - win};
  const struct vss_limits real = c->act == VSS_ACT_GELU
      ? (struct vss_limits){VSS_LIM_LINEAR_REORDER.atol + VSS_LIM_GELU.atol,
                            VSS_LIM_LINEAR_REORDER.rtol + VSS_LIM_GELU.rtol, 0.0}
      : VSS_LIM_LINEAR_REORDER;
  char msg[160];
  for (size_t s = 0; s < nwin; s++) {
    const size_t r0 = nwin == 1 ? 0 : starts[s], nr = nwin == 1 ? c->rows : win;
    ref->linear(&lr, nr, x + r0 * c->ldx, c->ldx, yr + r0 * c->ldy, c->ldy);
    snprintf(msg, sizeof msg, "%s rows %zu..%zu (%zu x %zu <- %zu, ldx %zu, ldy %zu, bias %d, act %d, acc %d)",
             what, r0, r0 + nr, c->rows, c->n_out, c->n_in, c->ldx, c->ldy, c->bias, c->act, c->acc);
    check(variant, msg, y + r0 * c->ldy, yr + r0 * c->ldy, nr * c->ldy, exact ? NULL : &real);
  }
  ck_assert_msg(vss_guard_ok(y, ny), "%s: %s: wrote past y", variant, what);
  if (lv.priv_free) lv.priv_free(lv.priv);
  if (lr.priv_free) lr.priv_free(lr.priv);
  vss_guarded_free(x); vss_guarded_free(w); vss_guarded_free(b);
  vss_guarded_free(y); vss_guarded_free(yr);
}

/* Sizes around the vector width, strided, every flag combination in turn,
 * plus K around the K block and rows around the row block. */
START_TEST(linear_small_exact)
{
  VARIANT_OR_RETURN(ops, name, SEED);
  static const size_t rows[] = {1, 5, 6, 7, 13, 33};
  int flags = 0;
  for (size_t i = 0; i < N_SIZES; i++)
    for (size_t j = 0; j < N_SIZES; j++)
      for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++, flags++) {
        const size_t n_out = sizes[i], n_in = sizes[j];
        const struct lin_case c = {rows[k], n_out, n_in, n_in + (flags % 3 == 0 ? 3 : 0),
                                   n_out + (flags % 4 == 1 ? 5 : 0), flags & 1,
                                   (flags >> 1) % 3 == 2 ? VSS_ACT_GELU : VSS_ACT_NONE,
                                   (flags >> 2) & 1};
        run_linear(name, &ops, &ref, &c, 1, &r, "small");
      }
  /* K = 2..6: the avx2 small-K loop (K = 1 is in the sizes above); every
   * flag combination at every n_out */
  for (size_t K = 2; K <= 6; K++)
    for (size_t i = 0; i < N_SIZES; i++)
      for (int f = 0; f < 8; f++) {
        const struct lin_case c = {rows[(K + i + (size_t)f) % 6], sizes[i], K, K + (f & 1 ? 3 : 0),
                                   sizes[i] + (f & 2 ? 5 : 0), f & 1, f & 4 ? VSS_ACT_GELU : VSS_ACT_NONE,
                                   (f >> 1) & 1};
        run_linear(name, &ops, &ref, &c, 1, &r, "small K");
      }
  static const size_t kk[] = {255, 256, 257, 600, 1024};
  for (size_t j = 0; j < sizeof kk / sizeof kk[0]; j++)
    for (int f = 0; f < 4; f++) {
      const struct lin_case c = {95 + (size_t)f, 17 + 16 * (size_t)f, kk[j], kk[j] + 1, 40 + 16 * (size_t)f,
                                 f & 1, f == 2 ? VSS_ACT_GELU : VSS_ACT_NONE, f >= 1};
      run_linear(name, &ops, &ref, &c, 1, &r, "K block");
    }
}
END_TEST

/* The linears core/block.c runs for shape s, with its strides. */
static size_t block_linears(const struct bench_shape *s, struct lin_case c[6])
{
  const size_t M = s->B * s->H * s->W, C = s->C, Di = s->Di, Dz = s->has_z ? 2 * Di : Di;
  const size_t Dbl = VSS_K * (s->R + 2 * s->N), Hd = s->hidden;
  size_t n = 0;
  c[n++] = (struct lin_case){M, Di, C, C, Dz, 0, VSS_ACT_NONE, 0};          /* in_proj (x; z alike) */
  c[n++] = (struct lin_case){M, Dbl, Di, Di, Dbl, 0, VSS_ACT_NONE, 0};      /* x_proj */
  c[n++] = (struct lin_case){M, Di, s->R, Dbl, VSS_K * Di, 0, VSS_ACT_NONE, 0}; /* dt_proj */
  c[n++] = (struct lin_case){M, C, Di, Di, C, 0, VSS_ACT_NONE, 1};          /* out_proj */
  if (Hd) {
    c[n++] = (struct lin_case){M, Hd, C, C, Hd, 1, VSS_ACT_GELU, 0};        /* fc1 */
    c[n++] = (struct lin_case){M, C, Hd, Hd, C, 1, VSS_ACT_NONE, 1};        /* fc2 */
  }
  return n;
}

START_TEST(linear_shapes)
{
  VARIANT_OR_RETURN(ops, name, SEED + 1);
  static const char *const part[6] = {"in_proj", "x_proj", "dt_proj", "out_proj", "fc1", "fc2"};
  char what[64];
  for (size_t s = 0; s < bench_n_shapes; s++) {
    struct lin_case c[6];
    const size_t n = block_linears(&bench_shapes[s], c);
    for (size_t p = 0; p < n; p++)
      for (int exact = 1; exact >= 0; exact--) {
        snprintf(what, sizeof what, "%s/%s/%s", bench_shapes[s].name, part[p], exact ? "exact" : "real");
        run_linear(name, &ops, &ref, &c[p], exact, &r, what);
      }
  }
}
END_TEST

/* ---- dwconv3x3 ---------------------------------------------------------- */

/* exact: integers with every pre-activation >= 18 (see the top comment) */
static void run_dwconv(const char *variant, const struct vss_ops *ops,
                       const struct vss_ops *ref, size_t B, size_t H, size_t W,
                       size_t D, size_t ldx, int bias, int exact, struct vss_rng *r)
{
  const size_t nx = (B * H * W - 1) * ldx + D, ny = B * H * W * D;
  float *x, *w, *b = NULL;
  if (exact && !bias) { /* no bias to lift the sums: positive taps */
    x = gbuf(nx, r, 18, 30, 1);
    w = gbuf(9 * D, r, 1, 4, 1);
  } else {
    x = gbuf(nx, r, exact ? -8 : -2, exact ? 8 : 2, exact);
    w = gbuf(9 * D, r, exact ? -8 : -1, exact ? 8 : 1, exact);
  }
  if (bias) {
    b = gbuf(D, r, exact ? -8 : -1, exact ? 8 : 1, exact);
    if (exact) /* |taps| <= 9 * 64 = 576 */
      for (size_t d = 0; d < D; d++) b[d] += 600.0f;
  }
  float *y = vss_guarded_alloc(ny), *yr = vss_guarded_alloc(ny);
  ops->dwconv3x3(B, H, W, D, x, ldx, w, b, y);
  ref->dwconv3x3(B, H, W, D, x, ldx, w, b, yr);
  char what[128];
  snprintf(what, sizeof what, "dwconv B=%zu H=%zu W=%zu D=%zu ldx=%zu bias %d %s", B, H, W,
           D, ldx, bias, exact ? "exact" : "real");
  const struct vss_limits lim = VSS_LIM_VAR_DWCONV;
  check(variant, what, y, yr, ny, exact ? NULL : &lim);
  ck_assert_msg(vss_guard_ok(y, ny), "%s: %s: wrote past y", variant, what);
  vss_guarded_free(x); vss_guarded_free(w); vss_guarded_free(y); vss_guarded_free(yr);
  if (b) vss_guarded_free(b);
}

START_TEST(dwconv_small)
{
  VARIANT_OR_RETURN(ops, name, SEED + 2);
  static const size_t hw[][2] = {{1, 1}, {1, 5}, {5, 1}, {2, 2}, {3, 4}, {6, 5}};
  int f = 0;
  for (size_t i = 0; i < sizeof hw / sizeof hw[0]; i++)
    for (size_t d = 0; d < N_SIZES; d++, f++)
      for (int exact = 1; exact >= 0; exact--)
        run_dwconv(name, &ops, &ref, 1 + (size_t)(f & 1), hw[i][0], hw[i][1], sizes[d],
                   sizes[d] + (f % 3 ? 0 : 5), f % 4 != 3, exact, &r);
}
END_TEST

START_TEST(dwconv_shapes)
{
  VARIANT_OR_RETURN(ops, name, SEED + 3);
  for (size_t s = 0; s < bench_n_shapes; s++) {
    const struct bench_shape *sh = &bench_shapes[s];
    /* x alone (the driver's fast path), then in [x | z] rows (a stage dump) */
    for (size_t ldx = sh->Di; ldx <= (sh->has_z ? 2 * sh->Di : sh->Di); ldx += sh->Di)
      for (int exact = 1; exact >= 0; exact--)
        run_dwconv(name, &ops, &ref, sh->B, sh->H, sh->W, sh->Di, ldx, sh->conv_bias, exact, &r);
  }
}
END_TEST

/* ---- layernorm, gate ------------------------------------------------------ */

START_TEST(layernorm_rows)
{
  VARIANT_OR_RETURN(ops, name, SEED + 4);
  static const size_t dims[] = {1, 7, 8, 9, 15, 16, 17, 25, 33, 96, 192, 384, 768, 1024};
  const struct vss_limits lim = VSS_LIM_VAR_LAYERNORM;
  for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++) {
    const size_t dim = dims[i], rows = 37, ldx = dim + (i & 1) * 3, ldy = dim + (i & 2);
    const size_t nx = (rows - 1) * ldx + dim, ny = (rows - 1) * ldy + dim;
    float *x = vss_guarded_alloc(nx), *g = gbuf(dim, &r, 0.5f, 1.5f, 0),
          *b = gbuf(dim, &r, -0.5f, 0.5f, 0);
    for (size_t k = 0; k < nx; k++) /* rows of mixed scale and offset */
      x[k] = vss_rng_normal(&r) * (float)(1 + k / ldx % 4) + (float)(k / ldx % 3) - 1.0f;
    float *y = gbuf(ny, &r, -1, 1, 0), *yr = copy_of(y, ny);
    ops.layernorm(rows, dim, x, ldx, g, b, 1e-5f, y, ldy);
    ref.layernorm(rows, dim, x, ldx, g, b, 1e-5f, yr, ldy);
    char what[64];
    snprintf(what, sizeof what, "layernorm dim %zu", dim);
    check(name, what, y, yr, ny, &lim); /* padding columns untouched too */
    ck_assert(vss_guard_ok(y, ny));
    vss_guarded_free(x); vss_guarded_free(g); vss_guarded_free(b);
    vss_guarded_free(y); vss_guarded_free(yr);
  }
}
END_TEST

START_TEST(gate_rows)
{
  VARIANT_OR_RETURN(ops, name, SEED + 5);
  const struct vss_limits lim = VSS_LIM_VAR_GATE;
  for (size_t i = 0; i < N_SIZES; i++) {
    const size_t dim = sizes[i], rows = 11, ldz = 2 * dim + 1, nz = (rows - 1) * ldz + dim;
    float *z = gbuf(nz, &r, -12, 12, 0), *y = gbuf(rows * dim, &r, -3, 3, 0);
    float *yr = copy_of(y, rows * dim);
    ops.gate(rows, dim, y, z, ldz);
    ref.gate(rows, dim, yr, z, ldz);
    check(name, "gate", y, yr, rows * dim, &lim);
    ck_assert(vss_guard_ok(y, rows * dim));
    vss_guarded_free(z); vss_guarded_free(y); vss_guarded_free(yr);
  }
}
END_TEST

/* ---- unary ops ------------------------------------------------------------ */

/* x: a sweep of [lo, hi] with random jitter, plus edge values at the start. */
static float *sweep(size_t n, float lo, float hi, struct vss_rng *r)
{
  static const float edge[] = {0.0f, -0.0f, 1e-30f, -1e-30f, 20.0f, 20.000002f,
                               -88.0f, -90.0f, -104.0f, 80.0f};
  float *x = vss_guarded_alloc(n);
  for (size_t i = 0; i < n; i++)
    x[i] = i < sizeof edge / sizeof edge[0] ? edge[i]
                                          : lo + (hi - lo) * ((float)i + vss_rng_uniform(r, 0, 1)) / (float)n;
  return x;
}

static void run_unary(const char *variant, const char *what, vss_unary_fn fn,
                      vss_unary_fn fref, float lo, float hi, const struct vss_limits *lim,
                      struct vss_rng *r)
{
  static const size_t ns[] = {1, 7, 8, 9, 15, 16, 17, 25, 33, 100003};
  for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
    const size_t n = ns[k];
    float *x = sweep(n, lo, hi, r), *y = vss_guarded_alloc(n), *yr = vss_guarded_alloc(n);
    fn(n, x, y);
    fref(n, x, yr);
    check(variant, what, y, yr, n, lim);
    float *in = copy_of(x, n); /* in place gives the same */
    fn(n, in, in);
    check(variant, "in place", in, y, n, NULL);
    ck_assert(vss_guard_ok(y, n) && vss_guard_ok(in, n));
    vss_guarded_free(x); vss_guarded_free(y); vss_guarded_free(yr); vss_guarded_free(in);
  }
}

START_TEST(silu_sweep)
{
  VARIANT_OR_RETURN(ops, name, SEED + 6);
  const struct vss_limits lim = VSS_LIM_VAR_SILU;
  run_unary(name, "silu", ops.silu, ref.silu, -30, 30, &lim, &r);
}
END_TEST

START_TEST(gelu_sweep)
{
  VARIANT_OR_RETURN(ops, name, SEED + 11);
  const struct vss_limits lim = VSS_LIM_VAR_GELU;
  run_unary(name, "gelu", ops.gelu, ref.gelu, -12, 12, &lim, &r);
}
END_TEST

START_TEST(softplus_sweep)
{
  VARIANT_OR_RETURN(ops, name, SEED + 12);
  const struct vss_limits lim = VSS_LIM_VAR_SOFTPLUS;
  run_unary(name, "softplus", ops.softplus, ref.softplus, -40, 40, &lim, &r);
}
END_TEST

/* ---- selective scan ------------------------------------------------------- */

struct scan_case {
  size_t B, H, W, Di, N, R;
  unsigned dirs;
  float dt_lo, dt_hi; /* dt + bias range: delta from ~1e-3 to beyond 20 */
};

/* The fused slot (ssm_scan_dt) against the variant's own two steps, on
 * a's inputs with a new dt_w (scaled so that dt spans the case's range):
 * dt = dt_proj_k(dbl[:, k, :R]) by the variant's linear, as core/block.c
 * calls it, then ssm_scan, must give the same bits as ssm_scan_dt, which
 * gets dt = NULL (it must not read it). */
static void run_scan_dt(const char *variant, const struct vss_ops *ops, const struct scan_case *c,
                        const struct vss_scan_args *a, struct vss_rng *r, const char *what)
{
  const size_t M = c->B * c->H * c->W, n = M * c->Di;
  const float span = fmaxf(fabsf(c->dt_lo), fabsf(c->dt_hi)) / (float)c->R;
  float *dt_w = gbuf(VSS_K * c->Di * c->R, r, -span, span, 0);
  float *dt = gbuf(M * VSS_K * c->Di, r, 0, 0, 0), *y = gbuf(n, r, -9, 9, 0);
  float *yf = gbuf(n, r, -9, 9, 0);
  vss_test_dt_proj(ops, M, c->Di, c->R, c->N, dt_w, a->dbl, dt);
  struct vss_scan_args two = *a, fused = *a;
  two.dt = dt;
  two.y = y;
  ops->ssm_scan(&two);
  fused.dt = NULL;
  fused.dt_w = dt_w;
  fused.y = yf;
  ops->ssm_scan_dt(&fused);
  for (size_t i = 0; i < n; i++)
    ck_assert_msg(memcmp(&y[i], &yf[i], sizeof *y) == 0,
                  "%s: %s, dt_proj fused: y[%zu] = %.9g, linear then scan %.9g", variant, what,
                  i, yf[i], y[i]);
  ck_assert_msg(vss_guard_ok(yf, n), "%s: %s: the fused scan wrote past y", variant, what);
  vss_guarded_free(dt_w); vss_guarded_free(dt); vss_guarded_free(y); vss_guarded_free(yf);
}

/* fused: also check the variant's ssm_scan_dt on the case (run_scan_dt) */
static void run_scan(const char *variant, const struct vss_ops *ops, const struct vss_ops *ref,
                     const struct scan_case *c, struct vss_rng *r, int fused)
{
  const size_t L = c->H * c->W, M = c->B * L, G = c->R + 2 * c->N;
  float *u = gbuf(M * c->Di, r, -2, 2, 0), *dbl = gbuf(M * VSS_K * G, r, -1, 1, 0);
  float *dt = gbuf(M * VSS_K * c->Di, r, c->dt_lo, c->dt_hi, 0);
  float *bias = gbuf(VSS_K * c->Di, r, -1, 1, 0), *D = gbuf(VSS_K * c->Di, r, 0.5f, 1.5f, 0);
  float *A = vss_guarded_alloc(VSS_K * c->Di * c->N);
  for (size_t i = 0; i < VSS_K * c->Di * c->N; i++) /* -exp(A_logs), A_logs ~ log(1..16) */
    A[i] = -expf(vss_rng_uniform(r, 0.0f, 2.8f));
  float *y = gbuf(M * c->Di, r, -9, 9, 0), *yr = copy_of(y, M * c->Di);
  struct vss_scan_args a = {c->B, c->H, c->W, c->Di, c->N, c->R, u, dbl, dt, bias, A, D,
                            c->dirs, y, NULL};
  ops->ssm_scan(&a);
  a.y = yr;
  ref->ssm_scan(&a);
  char what[128];
  snprintf(what, sizeof what, "scan B=%zu H=%zu W=%zu Di=%zu N=%zu R=%zu dirs=%#x dt [%g, %g]",
           c->B, c->H, c->W, c->Di, c->N, c->R, c->dirs, c->dt_lo, c->dt_hi);
  double scale = 0;
  for (size_t i = 0; i < M * c->Di; i++) scale = fmax(scale, fabs((double)yr[i]));
  const struct vss_limits lim = vss_var_scan_limits(scale);
  check(variant, what, y, yr, M * c->Di, &lim);
  ck_assert_msg(vss_guard_ok(y, M * c->Di), "%s: %s: wrote past y", variant, what);
  if (fused && ops->ssm_scan_dt) run_scan_dt(variant, ops, c, &a, r, what);
  vss_guarded_free(u); vss_guarded_free(dbl); vss_guarded_free(dt); vss_guarded_free(bias);
  vss_guarded_free(D); vss_guarded_free(A); vss_guarded_free(y); vss_guarded_free(yr);
}

/* Odd shapes, direction masks, B = 1 and 2, and decays from moderate to
 * none (dt + bias <= -12: delta ~ 1e-6) and total (delta up to ~40, past
 * the softplus threshold, times |A| up to 16: exp(-640), far into
 * underflow), in turn. */
START_TEST(scan_odd_shapes)
{
  VARIANT_OR_RETURN(ops, name, SEED + 7);
  static const size_t hw[][2] = {{1, 1}, {1, 6}, {7, 1}, {3, 5}, {9, 9}};
  static const size_t dis[] = {1, 7, 9, 16, 17, 33};
  static const size_t ns[] = {1, 2, 16, 5};
  static const unsigned dirs[] = {0xF, 0x1, 0x2, 0x4, 0x8, 0x5, 0xA, 0x0};
  static const float dts[][2] = {{-6, 1}, {-20, -12}, {-3, 3}, {15, 40}, {-6, 1}};
  int f = 0;
  for (size_t i = 0; i < sizeof hw / sizeof hw[0]; i++)
    for (size_t j = 0; j < sizeof dis / sizeof dis[0]; j++)
      for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++, f++) {
        const struct scan_case c = {1 + (size_t)(f % 3 == 0), hw[i][0], hw[i][1], dis[j], ns[k],
                                    1 + (size_t)f % 3, dirs[f % 8], dts[f % 5][0], dts[f % 5][1]};
        run_scan(name, &ops, &ref, &c, &r, 1);
      }
}
END_TEST

START_TEST(scan_shapes)
{
  VARIANT_OR_RETURN(ops, name, SEED + 9);
  for (size_t s = 0; s < bench_n_shapes; s++) {
    const struct bench_shape *sh = &bench_shapes[s];
    const struct scan_case c = {sh->B, sh->H, sh->W, sh->Di, sh->N, sh->R, 0xF, -6.0f, 1.0f};
    /* the fused slot on the stage 3-4 shapes (N = 16 and 1, R = 24 and 48,
     * up to 96 tiles, B = 8); with the stage 1-2 ones too, the scan tests
     * took 90 s under ASan, not 44, for nothing the structure of the check
     * does not already cover */
    run_scan(name, &ops, &ref, &c, &r, sh->H * sh->W <= 196);
  }
}
END_TEST

/* ---- the avx2 vector exp -------------------------------------------------- */

#ifdef VSS_HAVE_AVX2
/* ulp of the double value e as an fp32 (subnormals: 2^-149) */
static double ulp_f32(double e)
{
  int ex;
  e = fabs(e);
  if (e < FLT_MIN) return ldexp(1.0, -149);
  frexp(e, &ex);
  return ldexp(1.0, ex - 24);
}

/* The largest error of y against truth(x) over n points, in ulps of the
 * fp32 truth; *wi: where. */
static double worst_ulp(size_t n, const float *x, const float *y, double (*truth)(double),
                        size_t *wi)
{
  double worst = 0;
  *wi = 0;
  for (size_t i = 0; i < n; i++) {
    const double e = truth((double)x[i]), u = fabs((double)y[i] - e) / ulp_f32(e);
    if (u > worst) { worst = u; *wi = i; }
  }
  return worst;
}

/* An accuracy sweep: n points, the first half uniform on the dense range
 * [dlo, dhi], the rest on [lo, hi], then the given special points first;
 * y guarded. */
struct sweep {
  size_t n;
  float *x, *y;
};

static void sweep_begin(struct sweep *w, unsigned seed, float dlo, float dhi, float lo, float hi,
                        const float *special, size_t n_special)
{
  struct vss_rng r;
  w->n = 2000003;
  w->x = vss_guarded_alloc(w->n);
  w->y = vss_guarded_alloc(w->n);
  vss_rng_seed(&r, seed);
  for (size_t i = 0; i < w->n; i++)
    w->x[i] = i < w->n / 2 ? dlo + (dhi - dlo) * vss_rng_uniform(&r, 0, 1)
                           : lo + (hi - lo) * vss_rng_uniform(&r, 0, 1);
  memcpy(w->x, special, n_special * sizeof *special);
}

static void sweep_end(struct sweep *w)
{
  ck_assert(vss_guard_ok(w->y, w->n));
  vss_guarded_free(w->x);
  vss_guarded_free(w->y);
}

static double softplus_f64(double x) { return x > 20.0 ? x : log1p(exp(x)); }
static double silu_f64(double x) { return x / (1.0 + exp(-x)); }

/* The vector functions held to an ulp bound against double: each sweeps
 * a dense range (where the block's values lie) and a whole range, after
 * its special points. */
static const float exp_special[] = {0.0f, -0.0f, -87.33655f, -103.97f, 70.0f, -1e-8f, -150.0f,
                                    -INFINITY};
static const float exp2_special[] = {0.0f,   -0.0f,    -125.0f, 101.0f,  -124.587189f,
                                     -1e-8f, -0.0625f, 0.0625f, -0.9375f};
static const float gelu_special[] = {0.0f, 0.3846031f, 1.1538462f, 5.766f, 5.767f, 1e-30f};
static const float softplus_special[] = {0.0f,    -0.0f,       -2.5567f, 0.508288f,  -88.0f,
                                         -100.0f, 14.5560904f, 20.0f,    20.000002f, 40.0f};
static const float silu_special[] = {0.0f,     -0.0f,    -3.23208f, -87.3f,   -91.8236f,
                                     -103.97f, -104.99f, -105.0f,   100.0f,   1e-30f,
                                     -1e-30f,  -1e-35f,  -3e-38f,   -1e-40f,  -1e-45f,
                                     1e-40f,   1e30f,    3e38f,     -2e-38f,  -7e-31f};
static const struct ulp_case {
  const char *name;
  void (*f)(size_t n, const float *x, float *y);
  double (*truth)(double);
  double max_ulp;
  float dlo, dhi, lo, hi;
  const float *special;
  size_t n_special;
} ulp_cases[] = {
    /* e^x: the scan's range [-100, 0], then [-200, 70] */
    {"exp", vss_expf__avx2, exp, VSS_EXP_MAX_ULP, -100.0f, 0.0f, -200.0f, 70.0f, exp_special,
     sizeof exp_special / sizeof *exp_special},
    /* the scan's decay-factor exp2: the decays' range, then its domain */
    {"scan exp2", vss_exp2f_scan__avx2, exp2, VSS_EXP2_TAB_MAX_ULP, -30.0f, 0.0f, -125.0f,
     101.0f, exp2_special, sizeof exp2_special / sizeof *exp2_special},
    /* softplus (the scan's delta): the deltas' range, then [-100, 40],
     * subnormal results included */
    {"softplus", vss_softplus__avx2, softplus_f64, VSS_SOFTPLUS_MAX_ULP, -12.0f, 4.0f, -100.0f,
     40.0f, softplus_special, sizeof softplus_special / sizeof *softplus_special},
    /* GELU for x >= 0 (below 0: VSS_LIM_GELU, avx2_gelu_within_bound):
     * its fitted range, then [0, 12] */
    {"gelu", vss_gelu__avx2, vss_test_gelu_f64, VSS_GELU_POS_MAX_ULP, 0.0f, 5.8f, 0.0f, 12.0f,
     gelu_special, sizeof gelu_special / sizeof *gelu_special},
    /* SiLU (the conv's and the gate's): the block's range, then [-105,
     * 100], where results near -92 are normal but e^x is not */
    {"silu", vss_silu__avx2, silu_f64, VSS_SILU_MAX_ULP, -20.0f, 20.0f, -105.0f, 100.0f,
     silu_special, sizeof silu_special / sizeof *silu_special},
};

START_TEST(avx2_within_ulp_bound)
{
  const char *why;
  if (!vss_isa_runnable(VSS_ISA_AVX2, &why)) return; /* SKIP printed by the suite */
  const struct ulp_case *c = &ulp_cases[_i];
  struct sweep w;
  sweep_begin(&w, SEED + 10 + (unsigned)_i, c->dlo, c->dhi, c->lo, c->hi, c->special,
              c->n_special);
  c->f(w.n, w.x, w.y);
  size_t wi;
  const double worst = worst_ulp(w.n, w.x, w.y, c->truth, &wi);
  ck_assert_msg(worst <= c->max_ulp, "avx2 %s: %.2f ulp at x = %.9g (got %.9g, true %.9g)",
                c->name, worst, w.x[wi], w.y[wi], c->truth((double)w.x[wi]));
  sweep_end(&w);
}
END_TEST

/* The scans' table exp2 under each directed rounding mode (a caller's
 * fesetround reaches MXCSR): its rounding to eighths and its fraction must
 * come from the same rounding, or s and f disagree by an eighth (9%). */
START_TEST(avx2_exp2_directed_rounding)
{
  const char *why;
  if (!vss_isa_runnable(VSS_ISA_AVX2, &why)) return;
  static const int modes[] = {FE_TOWARDZERO, FE_DOWNWARD, FE_UPWARD};
  const int mode = modes[_i];
  struct sweep w;
  sweep_begin(&w, SEED + 14 + (unsigned)_i, -30.0f, 0.0f, -125.0f, 101.0f, exp2_special,
              sizeof exp2_special / sizeof *exp2_special);
  ck_assert_int_eq(fesetround(mode), 0);
  vss_exp2f_scan__avx2(w.n, w.x, w.y);
  fesetround(FE_TONEAREST);
  double worst = 0.0;
  size_t wi = 0;
  for (size_t i = 0; i < w.n; i++) {
    const double t = exp2((double)w.x[i]), rel = fabs((double)w.y[i] - t) / t;
    if (!(rel <= worst)) worst = rel, wi = i;
  }
  ck_assert_msg(worst <= VSS_EXP2_TAB_DIRECTED_MAX_REL,
                "avx2 scan exp2, rounding mode %d: relative error %.3g at x = %.9g", mode, worst,
                (double)w.x[wi]);
  sweep_end(&w);
}
END_TEST

/* avx2's GELU within VSS_LIM_GELU (as avx512's, tests/test_avx512.c) */
START_TEST(avx2_gelu_within_bound)
{
  const char *why;
  if (!vss_isa_runnable(VSS_ISA_AVX2, &why)) return;
  vss_test_gelu_bound("avx2", vss_gelu__avx2, SEED + 13);
}
END_TEST

/* SiLU's edges: -0 below -105 (w clamped there, then zeroed), NaN for
 * -inf as ref (-inf / inf), inf for inf, NaN kept, x/2 for tiny x of
 * either sign (x 2^-26 underflowed for |x| < 2^-100 in the former form:
 * silu(-3e-38) was -0), and x itself up to FLT_MAX (x 2^26 overflows
 * above 2^102) */
START_TEST(avx2_silu_specials)
{
  const char *why;
  if (!vss_isa_runnable(VSS_ISA_AVX2, &why)) return;
  const float x[15] = {-INFINITY, INFINITY, NAN,    -105.01f, -200.0f, -1e30f,  -0.0f,    0.0f,
                       1e-40f,    -1e-40f,  -3e-38f, -1e-35f,  1e31f,   3e38f,   FLT_MAX};
  float y[15];
  vss_silu__avx2(15, x, y);
  ck_assert(isnan(y[0]) && y[1] == INFINITY && isnan(y[2]));
  for (int i = 3; i < 7; i++)
    ck_assert_msg(y[i] == 0.0f && signbit(y[i]), "silu(%g) = %g, not -0", x[i], y[i]);
  ck_assert(y[7] == 0.0f && !signbit(y[7]));
  for (int i = 8; i < 12; i++) ck_assert_msg(y[i] == x[i] / 2, "silu(%g) = %g", x[i], y[i]);
  for (int i = 12; i < 15; i++) ck_assert_msg(y[i] == x[i], "silu(%g) = %g, not x", x[i], y[i]);
}
END_TEST

/* exp keeps NaN; softplus is x itself above 20 (spec's threshold) and
 * keeps NaN, inf and -inf -> 0 */
START_TEST(avx2_exp_softplus_specials)
{
  const char *why;
  if (!vss_isa_runnable(VSS_ISA_AVX2, &why)) return;
  float nan_in = NAN, nan_out = 0;
  vss_expf__avx2(1, &nan_in, &nan_out);
  ck_assert(isnan(nan_out));
  enum { NT = 4099 };
  float x[NT], y[NT];
  for (int i = 0; i < NT; i++) x[i] = nextafterf(20.0f, 41.0f) + 20.0f * (float)i / NT;
  vss_softplus__avx2(NT, x, y);
  for (int i = 0; i < NT; i++)
    ck_assert_msg(y[i] == x[i], "softplus(%.9g) = %.9g, not x", x[i], y[i]);
  const float sp_in[3] = {NAN, INFINITY, -INFINITY};
  float sp_out[3];
  vss_softplus__avx2(3, sp_in, sp_out);
  ck_assert(isnan(sp_out[0]) && sp_out[1] == INFINITY && sp_out[2] == 0.0f);
}
END_TEST
#endif

/* ---- the suite ------------------------------------------------------------ */

Suite *suite_variants(void)
{
  Suite *s = suite_create("variants");
  const int nv = (int)vss_variant_count();
  int tested = 0;
  for (int i = 0; i < nv; i++) {
    struct vss_variant_info info;
    vss_variant_info((size_t)i, &info);
    if (!strcmp(info.name, "ref")) continue;
    if (!info.runnable) printf("SKIP %s: %s\n", info.name, info.why_not);
    else tested++;
  }
  if (!tested) printf("SKIP variants: no runnable variant but ref in this build\n");

  TCase *lin = tcase_create("linear"), *conv = tcase_create("dwconv"),
        *rows = tcase_create("rows"), *act = tcase_create("unary"),
        *scan = tcase_create("scan");
  tcase_set_timeout(lin, 300);
  tcase_set_timeout(conv, 120);
  tcase_set_timeout(scan, 300);
  tcase_add_loop_test(lin, linear_small_exact, 0, nv);
  tcase_add_loop_test(lin, linear_shapes, 0, nv);
  tcase_add_loop_test(conv, dwconv_small, 0, nv);
  tcase_add_loop_test(conv, dwconv_shapes, 0, nv);
  tcase_add_loop_test(rows, layernorm_rows, 0, nv);
  tcase_add_loop_test(rows, gate_rows, 0, nv);
  tcase_add_loop_test(act, silu_sweep, 0, nv);
  tcase_add_loop_test(act, gelu_sweep, 0, nv);
  tcase_add_loop_test(act, softplus_sweep, 0, nv);
  tcase_add_loop_test(scan, scan_odd_shapes, 0, nv);
  tcase_add_loop_test(scan, scan_shapes, 0, nv);
#ifdef VSS_HAVE_AVX2
  {
    const char *why;
    if (!vss_isa_runnable(VSS_ISA_AVX2, &why)) printf("SKIP avx2 exp sweep: %s\n", why);
    tcase_add_loop_test(act, avx2_within_ulp_bound, 0,
                        (int)(sizeof ulp_cases / sizeof *ulp_cases));
    tcase_add_test(act, avx2_exp_softplus_specials);
    tcase_add_test(act, avx2_silu_specials);
    tcase_add_test(act, avx2_gelu_within_bound);
    tcase_add_loop_test(act, avx2_exp2_directed_rounding, 0, 3);
  }
#endif
  suite_add_tcase(s, lin);
  suite_add_tcase(s, conv);
  suite_add_tcase(s, rows);
  suite_add_tcase(s, act);
  suite_add_tcase(s, scan);
  return s;
}
