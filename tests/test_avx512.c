/* test_avx512.c - what is particular to the AVX-512 sources, in both of
 * their builds (DESIGN §5): avx512 (native; run where the CPU has
 * AVX-512 F/DQ/BW/VL) and avx512emu (the same sources through SIMDe; run
 * wherever it is built).  The suite prints which ran: `avx512 native: ran`
 * or `SKIP avx512: <why>`, and `avx512emu: ran` or `SKIP avx512emu: <why>`.
 * (The op-by-op comparison with ref on realistic shapes is
 * tests/test_variants.c, which covers both builds as variants.)
 *
 *  - the vector exponentials (optimized/avx512/avx512_util.h) against
 *    double precision, through the hooks vss_expf__avx512[emu] (e^x: silu,
 *    softplus) and vss_exp2f__avx512[emu] (2^z: the scan's decay
 *    factors): at most VSS_AVX512_EXP_MAX_ULP over their ranges, gradual
 *    underflow included; 2^n exact for integers n; NaN, +-inf, 0 mapped as
 *    libm maps them;
 *  - the vector GELU (its piecewise Phi) against double precision on
 *    [-10, 10] and tiny |x|, within VSS_LIM_GELU; x itself for x >= 5.77,
 *    an exact 0 (-0) for x <= -5.77, NaN, +-inf and +-0 as ref maps them;
 *  - the masked tails: every op at every length 1..33 (through 16 and 32,
 *    the vector width and the linear panel) along its masked dimension,
 *    each output with a guard band before and after it (and the padding
 *    of strided rows) left untouched, values against ref: bit-exact where
 *    the inputs make the arithmetic exact (linear, dwconv on small
 *    integers), else within the variant-vs-ref rows of core/tolerances.h;
 *  - the scan's clamped exp2 (the path a chunk takes when a delta is too
 *    large for the fast one, or infinite): NaN and inf where ref has them.
 * On failure: the build, the op, the length and the bad points. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tolerances.h"
#include "vss_internal.h"
#include "vss_test.h"
#if defined(VSS_HAVE_AVX512) || defined(VSS_HAVE_AVX512EMU)
#include "../optimized/avx512/avx512_ops.h"
#endif

#define SEED 0xa5125eedu

/* The exps' bound, in ulps of the fp32 result (subnormals: 2^-149), as
 * avx512_util.h states it (table rounding + final rounding). */
#define VSS_AVX512_EXP_MAX_ULP 1.5

/* ---- the builds ----------------------------------------------------------- */

struct build {
  const char *name;
  vss_unary_fn expf_hook, exp2f_hook;
};

static const struct build builds[] = {
#ifdef VSS_HAVE_AVX512
    {"avx512", vss_expf__avx512, vss_exp2f__avx512},
#endif
#ifdef VSS_HAVE_AVX512EMU
    {"avx512emu", vss_expf__avx512emu, vss_exp2f__avx512emu},
#endif
    {NULL, NULL, NULL} /* keeps the array non-empty */
};
#define N_BUILDS ((int)(sizeof builds / sizeof builds[0]) - 1)

/* 1 if build i can run here (why: the registry's reason if not). */
static int runnable(int i, const char **why)
{
  *why = "not in the variant registry";
  for (size_t v = 0; v < vss_variant_count(); v++) {
    struct vss_variant_info info;
    if (vss_variant_info(v, &info) == 0 && !strcmp(info.name, builds[i].name)) {
      *why = info.why_not;
      return info.runnable;
    }
  }
  return 0;
}

/* The build of this loop test (_i), or return when it cannot run here. */
#define BUILD_OR_RETURN(bd)          \
  const char *why_;                  \
  if (!runnable(_i, &why_)) return;  \
  const struct build *bd = &builds[_i]

static void ops_of(const struct build *bd, struct vss_ops *ops)
{
  ck_assert_msg(vss_resolve_variant(bd->name, ops, NULL) == VSS_OK, "%s: %s", bd->name,
                vss_last_error());
}

/* A tails test's start: the build bd (or return), its ops and ref's, the
 * random stream r and the pool of buffers pl. */
#define TAILS_SETUP(seed)                \
  BUILD_OR_RETURN(bd);                   \
  struct vss_ops ops, ref;               \
  ops_of(bd, &ops);                      \
  vss_init__ref(&ref, NULL);             \
  struct vss_rng r;                      \
  vss_rng_seed(&r, (seed));              \
  struct pool pl = {0}

/* ---- buffers with a band on both sides ------------------------------------ */

#define BAND 16
static const uint32_t band_bits = 0x7fc0a512; /* a NaN payload no op makes */

/* n floats with BAND sentinels before them (and vss_guarded_alloc's after). */
static float *banded(size_t n)
{
  float *p = vss_guarded_alloc(n + BAND);
  for (size_t i = 0; i < BAND; i++) memcpy(&p[i], &band_bits, 4);
  return p + BAND;
}

static void banded_check_free(const char *what, float *p, size_t n)
{
  for (size_t i = 0; i < BAND; i++)
    ck_assert_msg(!memcmp(&p[(ptrdiff_t)i - BAND], &band_bits, 4), "%s: wrote before its output",
                  what);
  ck_assert_msg(vss_guard_ok(p, n), "%s: wrote past its output", what);
  vss_guarded_free(p - BAND);
}

/* The buffers of one case, banded, then checked and freed together. */
#define POOL_MAX 10
struct pool {
  float *p[POOL_MAX];
  size_t n[POOL_MAX];
  int k;
};

static float *take(struct pool *pl, size_t n)
{
  ck_assert_int_lt(pl->k, POOL_MAX);
  pl->n[pl->k] = n;
  return pl->p[pl->k++] = banded(n);
}

/* uniform in [lo, hi], or integers there (exact arithmetic) */
static float *take_fill(struct pool *pl, size_t n, struct vss_rng *r, float lo, float hi,
                        int ints)
{
  float *p = take(pl, n);
  for (size_t i = 0; i < n; i++)
    p[i] = ints ? vss_rng_int(r, (int)lo, (int)hi) : vss_rng_uniform(r, lo, hi);
  return p;
}

static float *take_copy(struct pool *pl, const float *src, size_t n)
{
  return memcpy(take(pl, n), src, n * sizeof *src);
}

static void drain(struct pool *pl, const char *what)
{
  for (int i = 0; i < pl->k; i++) banded_check_free(what, pl->p[i], pl->n[i]);
  pl->k = 0;
}

/* got against ref within lim (pointwise); rows of `len` valid floats ld
 * apart, the padding between them equal too (untouched when both were
 * copies of one buffer). */
static void check_rows(const char *what, const float *got, const float *exp, size_t rows,
                       size_t len, size_t ld, struct vss_limits lim)
{
  for (size_t r = 0; r < rows; r++) {
    vss_assert_close(what, got + r * ld, exp + r * ld, len, lim.atol, lim.rtol);
    if (r + 1 < rows) /* padding: bit for bit */
      ck_assert_msg(!memcmp(got + r * ld + len, exp + r * ld + len, (ld - len) * sizeof(float)),
                    "%s: row %zu: wrote into the row padding", what, r);
  }
}

/* ---- the exponentials ----------------------------------------------------- */

#if defined(VSS_HAVE_AVX512) || defined(VSS_HAVE_AVX512EMU)
/* ulp of the double value e as an fp32: the gap to the next float up
 * from e rounded (2^-149 in the subnormal range) */
static double ulp_f32(double e)
{
  const float f = fabsf((float)e);
  return (double)nextafterf(f, INFINITY) - (double)f;
}

/* hook over n points x against f (double), the worst error in ulps;
 * results beyond FLT_MAX must be +inf. */
static double worst_ulp(const char *what, vss_unary_fn hook, double (*f)(double),
                        const float *x, size_t n)
{
  float *y = banded(n);
  hook(n, x, y);
  double worst = 0;
  size_t wi = 0;
  for (size_t i = 0; i < n; i++) {
    const double e = f((double)x[i]);
    if (e > FLT_MAX) {
      ck_assert_msg(isinf(y[i]) && y[i] > 0, "%s(%.9g) = %.9g, not inf", what, x[i], y[i]);
      continue;
    }
    const double u = fabs((double)y[i] - e) / ulp_f32(e);
    if (!(u <= worst)) worst = u, wi = i; /* NaN counts as the worst */
  }
  ck_assert_msg(worst <= VSS_AVX512_EXP_MAX_ULP, "%s: %.3f ulp at x = %.9g (got %.9g, exp %.9g)",
                what, worst, x[wi], y[wi], f((double)x[wi]));
  banded_check_free(what, y, n);
  return worst;
}

/* NaN, -inf, +inf and zeros as libm maps them. */
static void special_values(const char *what, vss_unary_fn hook)
{
  const float x[5] = {NAN, -INFINITY, INFINITY, 0.0f, -0.0f};
  float y[5];
  hook(5, x, y);
  ck_assert_msg(isnan(y[0]), "%s(NaN) = %g", what, y[0]);
  ck_assert_msg(y[1] == 0.0f && !signbit(y[1]), "%s(-inf) = %g", what, y[1]);
  ck_assert_msg(isinf(y[2]) && y[2] > 0, "%s(inf) = %g", what, y[2]);
  ck_assert_msg(y[3] == 1.0f && y[4] == 1.0f, "%s(+-0) = %g, %g", what, y[3], y[4]);
}

/* hook against f on 2M points: half of them in [dense, 0], half in
 * [lo, hi], the first ones the edge values; then the special values. */
static void sweep(const char *build, const char *name, vss_unary_fn hook, double (*f)(double),
                  uint64_t seed, float dense, float lo, float hi, const float *edge, size_t n_edge)
{
  char what[64];
  snprintf(what, sizeof what, "%s %s", build, name);
  const size_t n = 2000003;
  float *x = banded(n);
  struct vss_rng r;
  vss_rng_seed(&r, seed);
  for (size_t i = 0; i < n; i++)
    x[i] = i < n_edge ? edge[i]
           : i < n / 2 ? dense * vss_rng_uniform(&r, 0, 1)
                       : lo + (hi - lo) * vss_rng_uniform(&r, 0, 1);
  const double w = worst_ulp(what, hook, f, x, n);
  special_values(what, hook);
  banded_check_free(what, x, n);
  printf("%s: %.3f ulp at most over [%g, %g]\n", what, w, lo, hi);
}

/* e^x: silu/softplus/gelu's range [-110, 0] densely, then [-200, 89] */
START_TEST(exp_within_bound)
{
  BUILD_OR_RETURN(bd);
  static const float edge[] = {-87.33655f, -87.3366f, -103.27893f, -103.97208f, -104.0f,
                               -1e-8f,     1e-8f,     88.72283f,   88.7229f,    -0.5f};
  sweep(bd->name, "exp", bd->expf_hook, exp, SEED + 1, -110, -200, 89, edge,
        sizeof edge / sizeof *edge);
}
END_TEST

/* 2^z: the scan's delta*A' in [-40, 0] densely, then [-160, 130]; and 2^n
 * exactly for every integer n of the fp32 range */
START_TEST(exp2_within_bound)
{
  BUILD_OR_RETURN(bd);
  static const float edge[] = {-126.0f, -126.5f, -149.0f, -149.49f, -149.51f, -150.0f,
                               127.99f, 128.0f,  1e-9f,   -1e-9f,   -1.0f / 32, 1.0f / 32};
  sweep(bd->name, "exp2", bd->exp2f_hook, exp2, SEED + 2, -40, -160, 130, edge,
        sizeof edge / sizeof *edge);
  /* 2^n exactly for every integer n of the fp32 range */
  float xi[277], yi[277];
  for (int k = 0; k < 277; k++) xi[k] = (float)(k - 149);
  bd->exp2f_hook(277, xi, yi);
  for (int k = 0; k < 277; k++)
    ck_assert_msg(yi[k] == ldexpf(1.0f, k - 149), "%s exp2(%d) = %.9g", bd->name, k - 149, yi[k]);
}
END_TEST

/* gelu within VSS_LIM_GELU, and its special values (vss_test_gelu_bound) */
START_TEST(gelu_within_bound)
{
  BUILD_OR_RETURN(bd);
  struct vss_ops ops;
  ops_of(bd, &ops);
  vss_test_gelu_bound(bd->name, ops.gelu, SEED + 9);
}
END_TEST
#endif

/* ---- masked tails: lengths 1..33 ------------------------------------------ */

#define MAX_LEN 33

START_TEST(tails_unary)
{
  TAILS_SETUP(SEED + 3);
  const struct {
    const char *name;
    vss_unary_fn f, fref;
    float lo, hi;
    struct vss_limits lim;
  } un[] = {{"silu", ops.silu, ref.silu, -30, 30, VSS_LIM_VAR_SILU},
            {"gelu", ops.gelu, ref.gelu, -12, 12, VSS_LIM_VAR_GELU},
            {"softplus", ops.softplus, ref.softplus, -40, 40, VSS_LIM_VAR_SOFTPLUS}};
  for (size_t u = 0; u < 3; u++)
    for (size_t n = 1; n <= MAX_LEN; n++) {
      char what[96];
      snprintf(what, sizeof what, "%s %s n=%zu", bd->name, un[u].name, n);
      float *x = take_fill(&pl, n, &r, un[u].lo, un[u].hi, 0);
      float *y = take(&pl, n), *yr = take(&pl, n), *in = take_copy(&pl, x, n);
      un[u].f(n, x, y);
      un[u].fref(n, x, yr);
      check_rows(what, y, yr, 1, n, n, un[u].lim);
      un[u].f(n, in, in); /* in place: the same values */
      check_rows(what, in, y, 1, n, n, (struct vss_limits){0, 0, 0});
      drain(&pl, what);
    }
}
END_TEST

START_TEST(tails_layernorm_gate)
{
  TAILS_SETUP(SEED + 4);
  const size_t rows = 3;
  for (size_t dim = 1; dim <= MAX_LEN; dim++) {
    char what[96];
    /* layernorm: strided rows in and out */
    const size_t ldx = dim + 3, ldy = dim + 5;
    const size_t nx = (rows - 1) * ldx + dim, ny = (rows - 1) * ldy + dim;
    const float *x = take_fill(&pl, nx, &r, -3, 4, 0), *g = take_fill(&pl, dim, &r, 0.5f, 1.5f, 0);
    const float *b = take_fill(&pl, dim, &r, -1, 1, 0);
    float *y = take_fill(&pl, ny, &r, -9, 9, 0), *yr = take_copy(&pl, y, ny);
    ops.layernorm(rows, dim, x, ldx, g, b, 1e-5f, y, ldy);
    ref.layernorm(rows, dim, x, ldx, g, b, 1e-5f, yr, ldy);
    snprintf(what, sizeof what, "%s layernorm dim=%zu", bd->name, dim);
    check_rows(what, y, yr, rows, dim, ldy, VSS_LIM_VAR_LAYERNORM);
    drain(&pl, what);
    /* gate: y rows dim long, z rows ldz apart */
    const size_t ldz = 2 * dim + 1, nz = (rows - 1) * ldz + dim;
    const float *z = take_fill(&pl, nz, &r, -12, 12, 0);
    float *v = take_fill(&pl, rows * dim, &r, -3, 3, 0), *vr = take_copy(&pl, v, rows * dim);
    ops.gate(rows, dim, v, z, ldz);
    ref.gate(rows, dim, vr, z, ldz);
    snprintf(what, sizeof what, "%s gate dim=%zu", bd->name, dim);
    check_rows(what, v, vr, 1, rows * dim, rows * dim, VSS_LIM_VAR_GATE);
    drain(&pl, what);
  }
}
END_TEST

/* n_out = rows = 1..33 (the panel's column mask and the tile's row count
 * both run through their tails) on small integers, so every
 * pre-activation is exact: bit-exact plain and with bias + accumulate;
 * with bias + GELU within VSS_LIM_VAR_GELU. */
START_TEST(tails_linear)
{
  TAILS_SETUP(SEED + 5);
  for (size_t n = 1; n <= MAX_LEN; n++)
    for (int mode = 0; mode < 3; mode++) { /* plain; bias + accumulate; bias + GELU */
      const size_t n_in = n % 2 ? 5 : n, rows = n, ldx = n_in + 2, ldy = n + 3;
      const size_t nx = (rows - 1) * ldx + n_in, ny = (rows - 1) * ldy + n;
      const float *w = take_fill(&pl, n * n_in, &r, -8, 8, 1), *b = take_fill(&pl, n, &r, -8, 8, 1);
      const float *x = take_fill(&pl, nx, &r, -8, 8, 1);
      float *y = take_fill(&pl, ny, &r, -8, 8, 1), *yr = take_copy(&pl, y, ny);
      struct vss_linear lin = {
          {n, n_in, w, mode ? b : NULL, mode == 2 ? VSS_ACT_GELU : VSS_ACT_NONE, mode == 1},
          NULL, NULL};
      struct vss_linear lref = lin;
      ck_assert_int_eq(ops.linear_prepare(&lin), 0);
      ck_assert_int_eq(ref.linear_prepare(&lref), 0);
      ops.linear(&lin, rows, x, ldx, y, ldy);
      ref.linear(&lref, rows, x, ldx, yr, ldy);
      char what[96];
      snprintf(what, sizeof what, "%s linear n_out=rows=%zu n_in=%zu mode %d", bd->name, n, n_in,
               mode);
      check_rows(what, y, yr, rows, n, ldy,
                 mode == 2 ? VSS_LIM_VAR_GELU : (struct vss_limits){0, 0, 0});
      if (lin.priv_free) lin.priv_free(lin.priv);
      if (lref.priv_free) lref.priv_free(lref.priv);
      drain(&pl, what);
    }
}
END_TEST

/* D = 1..33 channels (the channel block's mask), strided input: small
 * integers with a bias of 20 (pre-activations >= 20, where SiLU rounds to
 * the identity: bit-exact), then real values within VSS_LIM_VAR_DWCONV. */
START_TEST(tails_dwconv)
{
  TAILS_SETUP(SEED + 6);
  const size_t H = 3, W = 4, L = H * W;
  for (size_t D = 1; D <= MAX_LEN; D++)
    for (int real = 0; real < 2; real++) {
      const size_t ldx = D + 2, nx = (L - 1) * ldx + D;
      const float lo = real ? -1 : 0;
      const float *x = take_fill(&pl, nx, &r, 2 * lo, 2, !real);
      const float *w = take_fill(&pl, D * 9, &r, lo, 1, !real);
      const float *b = take_fill(&pl, D, &r, real ? -1 : 20, real ? 1 : 20, !real);
      float *y = take(&pl, L * D), *yr = take(&pl, L * D);
      ops.dwconv3x3(1, H, W, D, x, ldx, w, b, y);
      ref.dwconv3x3(1, H, W, D, x, ldx, w, b, yr);
      char what[96];
      snprintf(what, sizeof what, "%s dwconv3x3 D=%zu %s", bd->name, D, real ? "real" : "exact");
      check_rows(what, y, yr, 1, L * D, L * D,
                 real ? VSS_LIM_VAR_DWCONV : (struct vss_limits){0, 0, 0});
      drain(&pl, what);
    }
}
END_TEST

/* Di = 1..33 channels (the tile's mask) for N = 16, 1 and 3 (the state
 * group paths), all four directions, within vss_var_scan_limits(max |ref|). */
START_TEST(tails_scan)
{
  TAILS_SETUP(SEED + 7);
  static const size_t ns[] = {16, 1, 3};
  const size_t H = 3, W = 5, L = H * W, R = 2;
  for (size_t Di = 1; Di <= MAX_LEN; Di++)
    for (size_t k = 0; k < 3; k++) {
      const size_t N = ns[k], G = R + 2 * N, nk = VSS_K * Di;
      struct vss_scan_args a = {1, H, W, Di, N, R, NULL, NULL, NULL, NULL, NULL, NULL, 0xF, NULL, NULL};
      a.u = take_fill(&pl, L * Di, &r, -2, 2, 0);
      a.dbl = take_fill(&pl, L * VSS_K * G, &r, -1, 1, 0);
      a.dt = take_fill(&pl, L * nk, &r, -6, 1, 0);
      a.dt_bias = take_fill(&pl, nk, &r, -1, 1, 0);
      a.D = take_fill(&pl, nk, &r, 0.5f, 1.5f, 0);
      float *A = take_fill(&pl, nk * N, &r, 0.0f, 2.8f, 0); /* A_logs, then -exp */
      for (size_t i = 0; i < nk * N; i++) A[i] = -expf(A[i]);
      a.A = A;
      float *y = take_fill(&pl, L * Di, &r, -9, 9, 0), *yr = take_copy(&pl, y, L * Di);
      a.y = y;
      ops.ssm_scan(&a);
      a.y = yr;
      ref.ssm_scan(&a);
      double scale = 0;
      for (size_t i = 0; i < L * Di; i++) scale = fmax(scale, fabs((double)yr[i]));
      char what[96];
      snprintf(what, sizeof what, "%s ssm_scan Di=%zu N=%zu", bd->name, Di, N);
      check_rows(what, y, yr, 1, L * Di, L * Di, vss_var_scan_limits(scale));
      drain(&pl, what);
    }
}
END_TEST

/* ---- the scan's clamped exp2 ------------------------------------------------
 * The scan's fast exp2 needs |delta A'| <= 2^17; a chunk with a larger
 * (or infinite, or NaN) delta takes the clamped one.  Here: a few states
 * with A = -1e30 (every chunk of their tiles clamped, their decay exactly
 * 0 as in ref), then a few dt = +inf (delta = inf: decay 0, where the
 * fast exp2 would give NaN; inf and NaN flow into y), against ref: the
 * same NaN and inf positions, the finite values within
 * vss_var_scan_limits. */
static void check_classes(const char *what, const float *got, const float *exp, size_t n)
{
  double scale = 0;
  for (size_t i = 0; i < n; i++) {
    ck_assert_msg(isnan(got[i]) == isnan(exp[i]) && isinf(got[i]) == isinf(exp[i]) &&
                      (!isinf(got[i]) || got[i] == exp[i]),
                  "%s[%zu]: got %g, ref %g", what, i, got[i], exp[i]);
    if (isfinite(exp[i])) scale = fmax(scale, fabs((double)exp[i]));
  }
  const struct vss_limits lim = vss_var_scan_limits(scale);
  for (size_t i = 0; i < n; i++)
    if (isfinite(exp[i]))
      ck_assert_msg(fabs((double)got[i] - exp[i]) <= lim.atol, "%s[%zu]: got %.9g, ref %.9g",
                    what, i, got[i], exp[i]);
}

START_TEST(scan_clamped_exp2)
{
  TAILS_SETUP(SEED + 8);
  const size_t H = 4, W = 6, L = H * W, Di = 21, R = 3;
  for (int inf_dt = 0; inf_dt < 2; inf_dt++) {
    /* dt = inf: one state and one direction, so that ref's +-inf states
     * stay +-inf in y (several would mix into NaN whatever the decay) */
    const size_t N = inf_dt ? 1 : 16, G = R + 2 * N, nk = VSS_K * Di;
    struct vss_scan_args a = {1, H, W, Di, N, R, NULL, NULL, NULL, NULL, NULL, NULL,
                              inf_dt ? 0x1u : 0xFu, NULL, NULL};
    a.u = take_fill(&pl, L * Di, &r, -2, 2, 0);
    a.dbl = take_fill(&pl, L * VSS_K * G, &r, -1, 1, 0);
    float *dt = take_fill(&pl, L * nk, &r, -6, 1, 0);
    a.dt = dt;
    a.dt_bias = take_fill(&pl, nk, &r, -1, 1, 0);
    a.D = take_fill(&pl, nk, &r, 0.5f, 1.5f, 0);
    float *A = take_fill(&pl, nk * N, &r, 0.0f, 2.8f, 0);
    for (size_t i = 0; i < nk * N; i++) A[i] = !inf_dt && i % 37 == 5 ? -1e30f : -expf(A[i]);
    if (inf_dt)
      for (size_t i = 7; i < L * nk; i += 331) dt[i] = INFINITY;
    a.A = A;
    float *y = take(&pl, L * Di), *yr = take(&pl, L * Di);
    a.y = y;
    ops.ssm_scan(&a);
    a.y = yr;
    ref.ssm_scan(&a);
    char what[96];
    snprintf(what, sizeof what, "%s ssm_scan, %s in places", bd->name,
             inf_dt ? "dt = inf" : "A = -1e30");
    check_classes(what, y, yr, L * Di);
    drain(&pl, what);
  }
}
END_TEST

/* ---- the suite ------------------------------------------------------------ */

Suite *suite_avx512(void)
{
  Suite *s = suite_create("avx512");
  static const char *const names[2] = {"avx512", "avx512emu"};
  for (int k = 0; k < 2; k++) { /* which build runs here, and why not */
    int i = 0;
    while (i < N_BUILDS && strcmp(builds[i].name, names[k])) i++;
    const char *why;
    if (i == N_BUILDS) printf("SKIP %s: not built (%s)\n", names[k],
                              k ? "no SIMDe: /usr/include/simde/x86/avx512.h" : "no sources");
    else if (!runnable(i, &why)) printf("SKIP %s: %s\n", names[k], why);
    else printf("%s: ran\n", k ? "avx512emu" : "avx512 native");
  }
  /* each test once per build (_i), in two cases */
  const TTest *const tests[][2] = {
#if defined(VSS_HAVE_AVX512) || defined(VSS_HAVE_AVX512EMU)
      {exp_within_bound, NULL}, {exp2_within_bound, NULL}, {gelu_within_bound, NULL},
#endif
      {NULL, tails_unary}, {NULL, tails_layernorm_gate}, {NULL, tails_linear},
      {NULL, tails_dwconv}, {NULL, tails_scan},          {NULL, scan_clamped_exp2}};
  TCase *tc[2] = {tcase_create("exp"), tcase_create("tails")};
  for (int c = 0; c < 2; c++) {
    tcase_set_timeout(tc[c], 120);
    for (size_t t = 0; t < sizeof tests / sizeof tests[0]; t++)
      if (tests[t][c]) tcase_add_loop_test(tc[c], tests[t][c], 0, N_BUILDS);
    suite_add_tcase(s, tc[c]);
  }
  return s;
}
