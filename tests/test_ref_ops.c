/* test_ref_ops.c - the reference ops (ref/) against hand-computed values.
 *
 * linear and dwconv run on small integers, so every product and partial
 * sum is an exact float and the expected sums (worked out here in double)
 * must match bit for bit; layernorm rows are built so mean and variance are
 * exact; the activations are checked at hand-picked points against the
 * double formulas, including the edges (softplus threshold, |x| large,
 * GELU erf vs tanh). */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vss_test.h"

/* Activation results are a handful of fp32 roundings plus libm's expf /
 * log1pf / erff (each within 1-2 ulp): 4 ulp relative is the bound. */
#define RTOL_ACT (4 * (double)FLT_EPSILON)

/* Odd and SIMD-boundary sizes: 1, below/at/above 8 and 16, and more. */
static const size_t sizes[] = {1, 7, 8, 9, 15, 16, 17, 25, 33};
#define N_SIZES (sizeof sizes / sizeof sizes[0])

static double silu_d(double x) { return x / (1.0 + exp(-x)); }
static double gelu_d(double x) { return 0.5 * x * (1.0 + erf(x / sqrt(2.0))); }

static float *floats_of(const double *e, size_t n)
{
  float *f = malloc((n ? n : 1) * sizeof *f);
  ck_assert_ptr_nonnull(f);
  for (size_t i = 0; i < n; i++) f[i] = (float)e[i];
  return f;
}

/* Runs fn on x (out of place into a guarded buffer, then in place) and
 * compares with the double values e; finite inputs give finite outputs. */
static void check_unary(const char *what, vss_unary_fn fn, const float *x,
                        const double *e, size_t n, double atol, double rtol)
{
  float *y = vss_guarded_alloc(n), *in = vss_guarded_alloc(n), *ef = floats_of(e, n);
  fn(n, x, y);
  for (size_t i = 0; i < n; i++)
    ck_assert_msg(isfinite(y[i]), "%s(%g) = %g", what, x[i], y[i]);
  vss_assert_close(what, y, ef, n, atol, rtol);
  memcpy(in, x, n * sizeof *x);
  fn(n, in, in);
  vss_assert_equal("in place", in, y, n);
  ck_assert(vss_guard_ok(y, n) && vss_guard_ok(in, n));
  vss_guarded_free(y); vss_guarded_free(in); free(ef);
}

/* ---- activations ------------------------------------------------------- */

START_TEST(silu_points)
{
  static const float x[] = {0, 1, -1, 2.5f, -2.5f, 20, -20, -88.9f, 100, 1e4f, -1e4f};
  enum { n = sizeof x / sizeof x[0] };
  double e[n];
  for (int i = 0; i < n; i++) e[i] = silu_d(x[i]);
  check_unary("silu", vss_silu__ref, x, e, n, 0, RTOL_ACT);
  /* x = -100: the true value (-3.7e-42) is subnormal, so only its
   * magnitude can be asked for; and nothing overflows into NaN. */
  float y, xm = -100.0f;
  vss_silu__ref(1, &xm, &y);
  ck_assert(y <= 0 && y > -1e-40f);
}
END_TEST

START_TEST(gelu_is_exact_erf_form)
{
  static const float x[] = {0, 0.5f, 1.5f, -1.5f, 3, -3, 10, -10, 1e4f, -1e4f};
  enum { n = sizeof x / sizeof x[0] };
  double e[n];
  for (int i = 0; i < n; i++) e[i] = gelu_d(x[i]);
  /* for x < 0, 1 + erf(x/sqrt2) cancels: erff's absolute error (~1e-7)
   * becomes the output's, hence the small atol */
  check_unary("gelu", vss_gelu__ref, x, e, n, 1e-7, RTOL_ACT);
  /* at 1.5 the erf form is 1.3997892, the tanh approximation
   * 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3))) gives 1.3995716 */
  float y, x15 = 1.5f;
  vss_gelu__ref(1, &x15, &y);
  ck_assert_double_eq_tol(y, 1.3997892, 2e-7);
  ck_assert_double_gt(fabs(y - 1.3995716), 2e-4);
}
END_TEST

START_TEST(softplus_threshold)
{
  static const float x[] = {20, 100, 1e4f, 19.99f, 10.5f, 12, 13.5f, 1, 0, -1, -80, -1e4f};
  const double e[] = {20, 100, 1e4, log1p(exp(19.99f)), log1p(exp(10.5)),
                      log1p(exp(12.0)), log1p(exp(13.5)), log1p(exp(1.0)),
                      log(2.0), log1p(exp(-1.0)), log1p(exp(-80.0)), 0};
  enum { n = sizeof x / sizeof x[0] };
  /* x > 20 returns x itself (bit-exact; no Inf/NaN from exp overflow at 100
   * and 1e4).  At 19.99 log1p(e^x) rounds to x in fp32. */
  check_unary("softplus", vss_softplus__ref, x, e, n, 0, RTOL_ACT);
  float y[n];
  vss_softplus__ref(n, x, y);
  for (int i = 0; i < 3; i++) ck_assert_float_eq(y[i], x[i]);
  /* log1p(e^x) = x + ~e^-x is still above x in fp32 up to x ~ 14 (1.4 ulp
   * at 13.5), so a threshold set that low shows; past ~16 both branches
   * round to x and only overflow tells the threshold. */
  for (int i = 4; i < 7; i++) ck_assert_float_gt(y[i], x[i]);
  ck_assert_float_gt(y[10], 0); /* -80: tiny but positive */
  ck_assert_float_eq(y[11], 0); /* e^-1e4 underflows to 0: log1p(0) = 0 */
}
END_TEST

START_TEST(gate_multiplies_by_silu_z)
{
  enum { rows = 3, dim = 5, ldz = 7 };
  float z[rows * ldz], *y = vss_guarded_alloc(rows * dim);
  double e[rows * dim];
  for (int r = 0; r < rows; r++)
    for (int c = 0; c < ldz; c++) z[r * ldz + c] = c < dim ? 0.75f * (r * dim + c) - 5 : NAN;
  z[0] = 100; /* silu(100) = 100 */
  for (int i = 0; i < rows * dim; i++) {
    y[i] = 0.5f * (float)(i % 4) - 1;
    e[i] = y[i] * silu_d(z[i / dim * ldz + i % dim]);
  }
  vss_gate__ref(rows, dim, y, z, ldz); /* the NaN padding of z is never read */
  float *ef = floats_of(e, rows * dim);
  vss_assert_close("gate", y, ef, rows * dim, 0, RTOL_ACT);
  ck_assert(vss_guard_ok(y, rows * dim));
  vss_guarded_free(y); free(ef);
}
END_TEST

/* ---- linear ------------------------------------------------------------ */

START_TEST(linear_by_hand)
{
  /* W = [1 2 3; 4 5 6], x = [1 -1 2], b = [0.5 -1]:
   * y = [1-2+6+0.5, 4-5+12-1] = [5.5, 10]; accumulated onto [1, 2]:
   * [6.5, 12].  With GELU and x = [0.5 0.25 0]: s = [1.5, 2.25] (the bias
   * comes before the act), gelu(1.5) = 1.3997892. */
  const float w[] = {1, 2, 3, 4, 5, 6}, b[] = {0.5f, -1};
  const float x[] = {1, -1, 2, 0.5f, 0.25f, 0};
  /* priv starts non-NULL: prepare must clear it */
  struct vss_linear lin = {{2, 3, w, b, VSS_ACT_NONE, 0}, &lin, NULL};
  ck_assert_int_eq(vss_linear_prepare__ref(&lin), 0);
  ck_assert_ptr_null(lin.priv);
  ck_assert_ptr_null(lin.priv_free);
  float y[2];
  vss_linear__ref(&lin, 1, x, 3, y, 2);
  ck_assert_float_eq(y[0], 5.5f);
  ck_assert_float_eq(y[1], 10);
  lin.d.accumulate = 1;
  y[0] = 1, y[1] = 2;
  vss_linear__ref(&lin, 1, x, 3, y, 2);
  ck_assert_float_eq(y[0], 6.5f);
  ck_assert_float_eq(y[1], 12);
  lin.d.act = VSS_ACT_GELU;
  y[0] = 1, y[1] = 2;
  vss_linear__ref(&lin, 1, x + 3, 3, y, 2);
  ck_assert_double_eq_tol(y[0], 1 + 1.3997892, 4e-7);
  ck_assert_double_eq_tol(y[1], 2 + gelu_d(2.25), 4e-7);
}
END_TEST

/* Small-integer data of one shape against the exact sum: |values| <= 8,
 * n_in <= 33, so every partial sum is an integer far below 2^24 and the
 * result must be bit-exact.  x's row padding holds a huge value (a read of
 * it would show); y's padding must come back untouched. */
static void check_linear_int(size_t rows, size_t n_in, size_t n_out,
                             int with_bias, int accumulate)
{
  struct vss_rng rng;
  vss_rng_seed(&rng, 1000 * n_in + n_out);
  const size_t ldx = n_in + 3, ldy = n_out + 2;
  float *x = vss_guarded_alloc(rows * ldx), *w = vss_guarded_alloc(n_out * n_in),
        *b = vss_guarded_alloc(n_out), *y = vss_guarded_alloc(rows * ldy),
        *e = vss_guarded_alloc(rows * ldy);
  for (size_t i = 0; i < rows * ldx; i++) x[i] = i % ldx < n_in ? vss_rng_int(&rng, -8, 8) : 1e30f;
  for (size_t i = 0; i < n_out * n_in; i++) w[i] = vss_rng_int(&rng, -8, 8);
  for (size_t o = 0; o < n_out; o++) b[o] = vss_rng_int(&rng, -20, 20);
  for (size_t i = 0; i < rows * ldy; i++) e[i] = y[i] = vss_rng_int(&rng, -50, 50);
  for (size_t r = 0; r < rows; r++)
    for (size_t o = 0; o < n_out; o++) {
      double s = with_bias ? b[o] : 0;
      for (size_t i = 0; i < n_in; i++) s += (double)x[r * ldx + i] * w[o * n_in + i];
      e[r * ldy + o] = (float)(accumulate ? e[r * ldy + o] + s : s);
    }
  struct vss_linear lin = {{n_out, n_in, w, with_bias ? b : NULL, VSS_ACT_NONE, accumulate}, NULL, NULL};
  ck_assert_int_eq(vss_linear_prepare__ref(&lin), 0);
  vss_linear__ref(&lin, rows, x, ldx, y, ldy);
  vss_assert_equal("linear", y, e, rows * ldy);
  ck_assert(vss_guard_ok(y, rows * ldy));
  vss_guarded_free(x); vss_guarded_free(w); vss_guarded_free(b);
  vss_guarded_free(y); vss_guarded_free(e);
}

START_TEST(linear_integer_exact)
{
  const size_t n_in = sizes[_i];
  for (size_t j = 0; j < N_SIZES; j++)
    for (int mode = 0; mode < 4; mode++)
      check_linear_int(1 + (n_in + j) % 4, n_in, sizes[j], mode & 1, mode >> 1);
}
END_TEST

/* ---- depthwise conv ---------------------------------------------------- */

/* got must be silu(pre) for the exact pre-activations pre (integers or
 * halves): distinct such values give silu values much further apart than
 * RTOL_ACT, so this pins the conv sum exactly. */
static void check_silu_of(const char *what, const float *got, const double *pre, size_t n)
{
  double *e = malloc(n * sizeof *e);
  ck_assert_ptr_nonnull(e);
  for (size_t i = 0; i < n; i++) e[i] = silu_d(pre[i]);
  float *ef = floats_of(e, n);
  vss_assert_close(what, got, ef, n, 0, RTOL_ACT);
  free(e); free(ef);
}

START_TEST(dwconv_by_hand)
{
  /* 2x3 image, 2 channels, pixel stride 3 (the third slot is junk).
   * channel 0: an impulse at (0,0), kernel K[i][j] = 3i+j+1, bias -1:
   *   cross-correlation puts K[1-h][1-w] at (h,w) (a flipped kernel would
   *   give 6 at (0,1)), so pre = [5 4 0; 2 1 0] - 1;
   * channel 1: all ones, kernel ones, bias 0.5: pre = in-image neighbour
   *   count + 0.5 = [4 6 4; 4 6 4] + 0.5. */
  enum { H = 2, W = 3, D = 2, ldx = 3, L = H * W };
  float x[L * ldx], k[D * 9], bias[D] = {-1, 0.5f};
  for (int p = 0; p < L; p++) {
    x[p * ldx] = p == 0;
    x[p * ldx + 1] = 1;
    x[p * ldx + 2] = 1e30f;
  }
  for (int i = 0; i < 9; i++) k[i] = (float)(i + 1), k[9 + i] = 1;
  const double pre[L * D] = {4, 4.5, 3, 6.5, -1, 4.5, 1, 4.5, 0, 6.5, -1, 4.5};
  float *y = vss_guarded_alloc(L * D);
  vss_dwconv3x3__ref(1, H, W, D, x, ldx, k, bias, y);
  check_silu_of("dwconv", y, pre, L * D);
  ck_assert(vss_guard_ok(y, L * D));
  vss_guarded_free(y);
}
END_TEST

/* Random small integers (|x|, |k|, |b| <= 3: |pre| <= 84, silu stays a
 * normal float) on shape (2, H, W, D) with pixel stride D+2, against a
 * conv written out with explicit neighbour offsets. */
static void check_dwconv_int(size_t H, size_t W, size_t D, int with_bias)
{
  struct vss_rng rng;
  vss_rng_seed(&rng, H * 100 + W * 10 + D);
  const size_t B = 2, L = H * W, ldx = D + 2;
  float *x = vss_guarded_alloc(B * L * ldx), *k = vss_guarded_alloc(D * 9),
        *b = vss_guarded_alloc(D), *y = vss_guarded_alloc(B * L * D);
  double *pre = malloc(B * L * D * sizeof *pre);
  ck_assert_ptr_nonnull(pre);
  for (size_t i = 0; i < B * L * ldx; i++) x[i] = i % ldx < D ? vss_rng_int(&rng, -3, 3) : 1e30f;
  for (size_t i = 0; i < D * 9; i++) k[i] = vss_rng_int(&rng, -3, 3);
  for (size_t d = 0; d < D; d++) b[d] = vss_rng_int(&rng, -3, 3);
  for (size_t s = 0; s < B; s++)
    for (size_t h = 0; h < H; h++)
      for (size_t w = 0; w < W; w++)
        for (size_t d = 0; d < D; d++) {
          double acc = with_bias ? b[d] : 0;
          for (int dh = -1; dh <= 1; dh++)
            for (int dw = -1; dw <= 1; dw++) {
              const long hh = (long)h + dh, ww = (long)w + dw;
              if (hh < 0 || ww < 0 || hh >= (long)H || ww >= (long)W) continue;
              acc += k[d * 9 + (dh + 1) * 3 + (dw + 1)] *
                     (double)x[((s * H + hh) * W + ww) * ldx + d];
            }
          pre[((s * H + h) * W + w) * D + d] = acc;
        }
  vss_dwconv3x3__ref(B, H, W, D, x, ldx, k, with_bias ? b : NULL, y);
  check_silu_of("dwconv", y, pre, B * L * D);
  ck_assert(vss_guard_ok(y, B * L * D));
  vss_guarded_free(x); vss_guarded_free(k); vss_guarded_free(b);
  vss_guarded_free(y); free(pre);
}

START_TEST(dwconv_integer_exact)
{
  static const size_t hw[][2] = {{1, 1}, {1, 5}, {5, 1}, {3, 4}, {4, 3}, {2, 2}};
  for (size_t i = 0; i < sizeof hw / sizeof hw[0]; i++)
    check_dwconv_int(hw[i][0], hw[i][1], sizes[_i], (int)(i & 1));
}
END_TEST

/* ---- layernorm --------------------------------------------------------- */

/* Row r: mean mu_r, then +-0.25 alternating (the sign starts with r's
 * parity); for an odd dim the last element is mu itself.  Mean and the sum
 * of squared deviations are then exact (m * 0.0625 over the m nonzero
 * deviations), so y = s_i * 0.25 / sqrt(m*0.0625/dim + eps) * g + b; with
 * eps = 0 and even dim that is s_i * g + b exactly.  mu = 1000 catches the
 * cancelling E[x^2] - mu^2 shortcut. */
static void check_layernorm(size_t dim, float eps, double atol, double rtol)
{
  static const float mu[] = {0, 3, -1.5f, 1000};
  enum { rows = 4 };
  const size_t ldx = dim + 1, ldy = dim + 2, m = dim & ~(size_t)1;
  const double var = 0.0625 * (double)m / (double)dim;
  float *x = vss_guarded_alloc(rows * ldx), *g = vss_guarded_alloc(dim),
        *b = vss_guarded_alloc(dim), *y = vss_guarded_alloc(rows * ldy),
        *e = vss_guarded_alloc(rows * ldy);
  for (size_t i = 0; i < dim; i++) {
    g[i] = (float)((int)(i % 5) - 2);
    b[i] = 0.5f * (float)(i % 3);
  }
  for (size_t r = 0; r < rows; r++)
    for (size_t i = 0; i < ldx; i++) {
      const int s = i >= m ? 0 : ((i + r) % 2 ? -1 : 1);
      x[r * ldx + i] = i < dim ? mu[r] + 0.25f * s : 1e30f;
      if (i < dim) e[r * ldy + i] = (float)(s * 0.25 / sqrt(var + eps) * g[i] + b[i]);
    }
  for (size_t r = 0; r < rows; r++) /* y's row padding stays as it was */
    for (size_t i = dim; i < ldy; i++) y[r * ldy + i] = e[r * ldy + i] = -7;
  vss_layernorm__ref(rows, dim, x, ldx, g, b, eps, y, ldy);
  vss_assert_close("layernorm", y, e, rows * ldy, atol, rtol);
  ck_assert(vss_guard_ok(y, rows * ldy));
  vss_guarded_free(x); vss_guarded_free(g); vss_guarded_free(b);
  vss_guarded_free(y); vss_guarded_free(e);
}

START_TEST(layernorm_exact_rows)
{
  const size_t dim = sizes[_i];
  if (dim % 2 == 0) check_layernorm(dim, 0.0f, 0, 0); /* bit-exact */
  /* with eps (and odd dims): var+eps, sqrt, the division, *g and +b are
   * each one rounding of a term of size <= 2 (|g| <= 2) */
  check_layernorm(dim, 1e-5f, 4 * 2 * (double)FLT_EPSILON, RTOL_ACT);
  check_layernorm(dim, 0.5f, 4 * 2 * (double)FLT_EPSILON, RTOL_ACT);
}
END_TEST

/* ---- the ops table ----------------------------------------------------- */

START_TEST(init_fills_every_slot)
{
  struct vss_ops ops;
  memset(&ops, 0, sizeof ops);
  vss_init__ref(&ops, NULL);
  ck_assert(ops.layernorm == vss_layernorm__ref);
  ck_assert(ops.linear_prepare == vss_linear_prepare__ref);
  ck_assert(ops.linear == vss_linear__ref);
  ck_assert(ops.dwconv3x3 == vss_dwconv3x3__ref);
  ck_assert(ops.silu == vss_silu__ref);
  ck_assert(ops.gelu == vss_gelu__ref);
  ck_assert(ops.softplus == vss_softplus__ref);
  ck_assert(ops.gate == vss_gate__ref);
  ck_assert(ops.ssm_scan == vss_ssm_scan__ref);
  ck_assert(ops.ssm_scan_dt == NULL); /* ref's dt_proj stays a linear */
}
END_TEST

Suite *suite_ref_ops(void)
{
  Suite *s = suite_create("ref_ops");
  TCase *act = tcase_create("activations"), *lin = tcase_create("linear"),
        *conv = tcase_create("dwconv"), *ln = tcase_create("layernorm"),
        *init = tcase_create("init");
  tcase_add_test(act, silu_points);
  tcase_add_test(act, gelu_is_exact_erf_form);
  tcase_add_test(act, softplus_threshold);
  tcase_add_test(act, gate_multiplies_by_silu_z);
  tcase_add_test(lin, linear_by_hand);
  tcase_add_loop_test(lin, linear_integer_exact, 0, N_SIZES);
  tcase_add_test(conv, dwconv_by_hand);
  tcase_add_loop_test(conv, dwconv_integer_exact, 0, N_SIZES);
  tcase_add_loop_test(ln, layernorm_exact_rows, 0, N_SIZES);
  tcase_add_test(init, init_fills_every_slot);
  suite_add_tcase(s, act);
  suite_add_tcase(s, lin);
  suite_add_tcase(s, conv);
  suite_add_tcase(s, ln);
  suite_add_tcase(s, init);
  return s;
}
