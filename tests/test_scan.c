/* test_scan.c - the cross-scan index maps and the reference selective scan
 * (spec §2.5-2.6): explicit tables for the maps, hand-worked scans whose
 * fp32 result is exact, a two-pixel closed form, and a randomized
 * comparison with a float64 scan written from the spec's t_k(h,w) table. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vss_test.h"

/* ---- index maps -------------------------------------------------------- */

/* t_k(h,w): the step at which direction k visits (h,w), spec §2.5 table. */
static size_t t_of(int k, size_t h, size_t w, size_t H, size_t W)
{
  switch (k) {
  case 0: return h * W + w;
  case 1: return w * H + h;
  case 2: return (H - 1 - h) * W + (W - 1 - w);
  default: return (W - 1 - w) * H + (H - 1 - h);
  }
}

/* pos[k][t] for every direction, as a (4, H*W) table */
static void check_pos_table(size_t H, size_t W, const size_t *pos)
{
  for (int k = 0; k < VSS_K; k++)
    for (size_t t = 0; t < H * W; t++)
      ck_assert_msg(vss_scan_pos(k, t, H, W) == pos[k * H * W + t],
                    "%zux%zu: pos_%d(%zu) = %zu, expected %zu", H, W, k, t,
                    vss_scan_pos(k, t, H, W), pos[k * H * W + t]);
}

START_TEST(scan_pos_tables)
{
  /* 2x3: p = h*3 + w                  3x2: p = h*2 + w
   *   0 1 2                              0 1
   *   3 4 5                              2 3
   *                                      4 5
   * k=1 walks down the columns, k=2/3 are k=0/1 reversed. */
  static const size_t p2x3[] = {0, 1, 2, 3, 4, 5, /**/ 0, 3, 1, 4, 2, 5,
                                5, 4, 3, 2, 1, 0, /**/ 5, 2, 4, 1, 3, 0};
  static const size_t p3x2[] = {0, 1, 2, 3, 4, 5, /**/ 0, 2, 4, 1, 3, 5,
                                5, 4, 3, 2, 1, 0, /**/ 5, 3, 1, 4, 2, 0};
  /* one row or one column: column-major = row-major */
  static const size_t line4[] = {0, 1, 2, 3, 0, 1, 2, 3, 3, 2, 1, 0, 3, 2, 1, 0};
  static const size_t one[] = {0, 0, 0, 0};
  check_pos_table(2, 3, p2x3);
  check_pos_table(3, 2, p3x2);
  check_pos_table(1, 4, line4);
  check_pos_table(4, 1, line4);
  check_pos_table(1, 1, one);
}
END_TEST

START_TEST(scan_pos_is_permutation_inverse_of_t)
{
  static const size_t hw[][2] = {{1, 1}, {1, 7}, {7, 1}, {5, 7}, {8, 3}, {4, 4}};
  for (size_t s = 0; s < sizeof hw / sizeof hw[0]; s++) {
    const size_t H = hw[s][0], W = hw[s][1], L = H * W;
    for (int k = 0; k < VSS_K; k++) {
      char seen[64] = {0};
      for (size_t t = 0; t < L; t++) {
        const size_t p = vss_scan_pos(k, t, H, W);
        ck_assert_msg(p < L && !seen[p], "%zux%zu k=%d: pixel %zu again", H, W, k, p);
        seen[p] = 1;
        ck_assert_uint_eq(t_of(k, p / W, p % W, H, W), t);
      }
    }
  }
}
END_TEST

/* ---- a scan problem: the arguments and their guarded buffers ----------- */

struct scan_case {
  struct vss_scan_args a;
  float *u, *dbl, *dt, *dt_bias, *A, *D, *y;
  size_t L, G; /* pixels per sample, x_proj rows per direction */
};

static struct scan_case *case_new(size_t B, size_t H, size_t W, size_t Di,
                                  size_t N, size_t R)
{
  struct scan_case *c = calloc(1, sizeof *c);
  ck_assert_ptr_nonnull(c);
  c->L = H * W;
  c->G = R + 2 * N;
  c->u = vss_guarded_alloc(B * c->L * Di);
  c->dbl = vss_guarded_alloc(B * c->L * VSS_K * c->G);
  c->dt = vss_guarded_alloc(B * c->L * VSS_K * Di);
  c->dt_bias = vss_guarded_alloc(VSS_K * Di);
  c->A = vss_guarded_alloc(VSS_K * Di * N);
  c->D = vss_guarded_alloc(VSS_K * Di);
  c->y = vss_guarded_alloc(B * c->L * Di);
  c->a = (struct vss_scan_args){B, H, W, Di, N, R, c->u, c->dbl, c->dt,
                                c->dt_bias, c->A, c->D, 0xF, c->y, NULL};
  return c;
}

static size_t y_len(const struct scan_case *c) { return c->a.B * c->L * c->a.Di; }

/* Runs the scan over the selected directions; y starts as junk (it must be
 * overwritten) and nothing past it may be written. */
static void case_run(struct scan_case *c, unsigned dirs)
{
  for (size_t i = 0; i < y_len(c); i++) c->y[i] = 12345.0f;
  c->a.dirs = dirs;
  vss_ssm_scan__ref(&c->a);
  ck_assert(vss_guard_ok(c->y, y_len(c)));
}

static void case_free(struct scan_case *c)
{
  float *bufs[] = {c->u, c->dbl, c->dt, c->dt_bias, c->A, c->D, c->y};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) vss_guarded_free(bufs[i]);
  free(c);
}

/* dbl[b][p][k][j] and dt[b][p][k][d] */
static float *dbl_at(struct scan_case *c, size_t b, size_t p, int k, size_t j)
{
  return &c->dbl[((b * c->L + p) * VSS_K + k) * c->G + j];
}
static float *dt_at(struct scan_case *c, size_t b, size_t p, int k, size_t d)
{
  return &c->dt[((b * c->L + p) * VSS_K + k) * c->a.Di + d];
}

/* Every direction, pixel and channel of sample 0: dt + bias = 30 + 2 = 32
 * > 20, so delta = 32 exactly; every B_n = b32/32 makes delta*B = b32;
 * every C_n = cc; every A = A; the delta-rank slots (unused by the scan)
 * hold junk. */
static void set_exact_dbc(struct scan_case *c, float b32, float cc, float A)
{
  const size_t R = c->a.R, N = c->a.N;
  for (size_t p = 0; p < c->L; p++)
    for (int k = 0; k < VSS_K; k++) {
      for (size_t j = 0; j < c->G; j++) *dbl_at(c, 0, p, k, j) = j < R ? 999 : j < R + N ? b32 / 32 : cc;
      for (size_t d = 0; d < c->a.Di; d++) *dt_at(c, 0, p, k, d) = 30;
    }
  for (size_t i = 0; i < VSS_K * c->a.Di; i++) c->dt_bias[i] = 2;
  for (size_t i = 0; i < VSS_K * c->a.Di * N; i++) c->A[i] = A;
}

/* ---- scans whose fp32 result is exact ---------------------------------- */

START_TEST(scan_prefix_sums_2x2)
{
  /* A = 0 (no decay), delta*B = 1, C = 1, D = 0: h_t is the running sum of
   * u along the direction, so ys = that prefix sum, exact in fp32.
   * u (ch 0) = [1 2; 3 4], ch 1 = 10x.  Visiting orders of the pixels
   * p = 0..3 and the prefix sums mapped back to p:
   *   k=0: 0 1 2 3 -> [ 1  3  6 10]     k=1: 0 2 1 3 -> [ 1  6  4 10]
   *   k=2: 3 2 1 0 -> [10  9  7  4]     k=3: 3 1 2 0 -> [10  6  9  4] */
  static const float Y[VSS_K][4] = {{1, 3, 6, 10}, {1, 6, 4, 10}, {10, 9, 7, 4}, {10, 6, 9, 4}};
  struct scan_case *c = case_new(1, 2, 2, 2, 1, 1);
  set_exact_dbc(c, 1, 1, 0);
  for (size_t p = 0; p < 4; p++) c->u[2 * p] = (float)(p + 1), c->u[2 * p + 1] = 10.0f * (p + 1);
  for (unsigned dirs = 0; dirs <= 0xF; dirs++) { /* the sum over the set bits */
    float e[8] = {0};
    for (int k = 0; k < VSS_K; k++) {
      if (!(dirs >> k & 1)) continue;
      for (size_t p = 0; p < 4; p++) e[2 * p] += Y[k][p], e[2 * p + 1] += 10 * Y[k][p];
    }
    case_run(c, dirs);
    vss_assert_equal("prefix sums", c->y, e, 8);
  }
  const float all[8] = {22, 220, 24, 240, 26, 260, 28, 280}; /* dirs 0xF by hand */
  vss_assert_equal("prefix sums, 4 directions", c->y, all, 8);
  case_free(c);
}
END_TEST

START_TEST(scan_D_term_layout)
{
  /* B = 0: the state stays 0 and ys = D[k*Di + d] * u, with D[k*Di + d] =
   * 2^(2k+d) so every (k, d) pair shows in the sum: over all four
   * directions channel 0 gets 1+4+16+64 = 85 u, channel 1 2+8+32+128 = 170 u
   * (a d-major D would give 15 u and 240 u). */
  struct scan_case *c = case_new(1, 1, 3, 2, 1, 2);
  for (size_t i = 0; i < VSS_K * 2; i++) c->D[i] = (float)(1u << i), c->A[i] = -1;
  for (size_t p = 0; p < 3; p++)
    for (int k = 0; k < VSS_K; k++) *dbl_at(c, 0, p, k, 3) = 7; /* C; B = 0 */
  for (size_t i = 0; i < 6; i++) c->u[i] = (float)(i + 1) * (i % 2 ? -1 : 1);
  for (int k = 0; k < VSS_K; k++) {
    float e[6];
    for (size_t i = 0; i < 6; i++) e[i] = c->D[k * 2 + i % 2] * c->u[i];
    case_run(c, 1u << k);
    vss_assert_equal("D term, one direction", c->y, e, 6);
  }
  const float all[6] = {85 * 1, 170 * -2, 85 * 3, 170 * -4, 85 * 5, 170 * -6};
  case_run(c, 0xF);
  vss_assert_equal("D term, 4 directions", c->y, all, 6);
  case_free(c);
}
END_TEST

START_TEST(scan_BC_shared_by_channels)
{
  /* One pixel, N = 2, 3 channels: ys_k[d] = sum_n C_k[n] * delta*B_k[n] * u[d]
   * with delta*B_k = [1, k+1] and C_k = [k+2, 3]: factor 4k + 5 = 5, 9,
   * 13, 17 for every channel of direction k; all four: 44 u[d]. */
  struct scan_case *c = case_new(1, 1, 1, 3, 2, 1);
  set_exact_dbc(c, 1, 3, -1);
  for (int k = 0; k < VSS_K; k++) {
    *dbl_at(c, 0, 0, k, 2) = (float)(k + 1) / 32; /* B_k[1] */
    *dbl_at(c, 0, 0, k, 3) = (float)(k + 2);      /* C_k[0] */
  }
  const float u[3] = {1, -2, 0.5f};
  memcpy(c->u, u, sizeof u);
  for (int k = 0; k <= VSS_K; k++) {
    const float f = k < VSS_K ? 4.0f * k + 5 : 44;
    const float e[3] = {f * u[0], f * u[1], f * u[2]};
    case_run(c, k < VSS_K ? 1u << k : 0xF);
    vss_assert_equal("grouped B/C", c->y, e, 3);
  }
  case_free(c);
}
END_TEST

/* ---- two pixels in closed form ----------------------------------------- */

static double softplus_d(double x) { return log1p(exp(x)); }

/* One direction over the two pixels of a 1x2 (or 2x1) image, visiting
 * pixel f first, then s (Di = N = 1): writes ys mapped back to the pixels. */
static void two_step(struct scan_case *c, int k, size_t f, size_t s, double ys[2])
{
  const double A = c->A[k], D = c->D[k];
  const double df = softplus_d((double)*dt_at(c, 0, f, k, 0) + c->dt_bias[k]);
  const double ds = softplus_d((double)*dt_at(c, 0, s, k, 0) + c->dt_bias[k]);
  const double hf = df * *dbl_at(c, 0, f, k, 1) * c->u[f]; /* h_-1 = 0 */
  const double hs = exp(ds * A) * hf + ds * *dbl_at(c, 0, s, k, 1) * c->u[s];
  ys[f] = *dbl_at(c, 0, f, k, 2) * hf + D * c->u[f];
  ys[s] = *dbl_at(c, 0, s, k, 2) * hs + D * c->u[s];
}

START_TEST(scan_two_pixels_closed_form)
{
  /* 1x2 and 2x1: with one row (column) column-major is row-major, so
   * k = 0, 1 visit pixel 0 then 1, and k = 2, 3 pixel 1 then 0.  Each
   * output is ~15 fp32 roundings of terms below 2 in magnitude: 1e-6. */
  for (int tall = 0; tall < 2; tall++) {
    struct scan_case *c = case_new(1, 1 + tall, 2 - tall, 1, 1, 1);
    c->u[0] = 0.7f, c->u[1] = -1.3f;
    for (int k = 0; k < VSS_K; k++) {
      c->dt_bias[k] = -0.5f + 0.25f * k;
      c->A[k] = -0.6f * (k + 1);
      c->D[k] = 0.5f + 0.1f * k;
      for (size_t p = 0; p < 2; p++) {
        *dt_at(c, 0, p, k, 0) = 0.1f * (k + 1) * (p ? -1 : 1);
        *dbl_at(c, 0, p, k, 0) = 999;
        *dbl_at(c, 0, p, k, 1) = 0.3f + 0.2f * k - 0.4f * p; /* B */
        *dbl_at(c, 0, p, k, 2) = 1.1f - 0.3f * k + 0.5f * p; /* C */
      }
    }
    double sum[2] = {0, 0};
    for (int k = 0; k < VSS_K; k++) {
      double ys[2];
      two_step(c, k, k < 2 ? 0 : 1, k < 2 ? 1 : 0, ys);
      const float e[2] = {(float)ys[0], (float)ys[1]};
      case_run(c, 1u << k);
      vss_assert_close("two pixels, one direction", c->y, e, 2, 1e-6, 1e-6);
      sum[0] += ys[0], sum[1] += ys[1];
    }
    const float e[2] = {(float)sum[0], (float)sum[1]};
    case_run(c, 0xF);
    vss_assert_close("two pixels, 4 directions", c->y, e, 2, 1e-6, 1e-6);
    case_free(c);
  }
}
END_TEST

/* ---- randomized, against a float64 scan -------------------------------- */

#define U32 (FLT_EPSILON / 2) /* fp32 unit roundoff, 2^-24 */

/* The scan in float64, written from the spec: the visiting order of
 * direction k is the inverse of t_k(h,w), outputs are summed per pixel.
 * Beside it runs a first-order bound on the fp32 reference's rounding
 * error, eb (per output), from these per-step facts (u = 2^-24; expf and
 * log1pf within 1 ulp = 2u):
 *  - delta = softplus(dt + bias): the add rounds (u, amplified by the
 *    condition number |x| sigmoid(x) / softplus(x) <= max(1, |x|)), expf
 *    and log1pf 2u each: e_delta = (1 + |x| + 4) u, relative;
 *  - deltaA = exp(delta*A): argument error |delta A|(e_delta + u), then
 *    expf's 2u; deltaB_u = delta*B*u: e_delta + 2u;
 *  - h = deltaA*h + deltaB_u: two more roundings.  With H the same
 *    recurrence on absolute values, the state's error e obeys
 *      e_t = a e_{t-1} + (|delta A|(e_delta + u) + 4u) a H_{t-1}
 *                      + (e_delta + 4u) |deltaB_u|,
 *    which lets old errors decay as the state itself does;
 *  - ys = sum_n C h + D u: sum |C| e + (N + 2) u (sum |C| H + |D u|);
 *  - the merge's three adds and the final rounding: 4u sum_k |ys_k|.
 * The bound is doubled for the second-order terms.  It is a worst case:
 * the measured error is typically 10-100 times smaller, while any wrong
 * index, order, threshold or missing term is off by orders of magnitude. */
static void scan_f64(struct scan_case *c, double *y, double *eb)
{
  const struct vss_scan_args *a = &c->a;
  const size_t H = a->H, W = a->W, L = c->L, Di = a->Di, N = a->N, R = a->R;
  size_t *seq = malloc(L * sizeof *seq);
  double *st = malloc(3 * (N + 1) * sizeof *st), *hs = st, *Hs = st + N + 1, *es = Hs + N + 1;
  ck_assert(seq && st);
  memset(y, 0, y_len(c) * sizeof *y);
  memset(eb, 0, y_len(c) * sizeof *eb);
  for (size_t b = 0; b < a->B; b++)
    for (int k = 0; k < VSS_K; k++) {
      if (!(a->dirs >> k & 1)) continue;
      for (size_t h = 0; h < H; h++)
        for (size_t w = 0; w < W; w++) seq[t_of(k, h, w, H, W)] = h * W + w;
      for (size_t d = 0; d < Di; d++) {
        memset(st, 0, 3 * (N + 1) * sizeof *st);
        for (size_t t = 0; t < L; t++) {
          const size_t p = seq[t], o = (b * L + p) * Di + d;
          const double ut = a->u[o], x = (double)*dt_at(c, b, p, k, d) + a->dt_bias[k * Di + d];
          const double delta = softplus_d(x), edelta = (5 + fabs(x)) * U32;
          const double Dk = a->D[k * Di + d];
          double ys = Dk * ut, ysabs = fabs(Dk * ut), eys = 0;
          for (size_t n = 0; n < N; n++) {
            const double dA = delta * a->A[(k * Di + d) * N + n], ea = exp(dA);
            const double bu = delta * *dbl_at(c, b, p, k, R + n) * ut;
            const double C = *dbl_at(c, b, p, k, R + N + n);
            es[n] = ea * es[n] + (fabs(dA) * (edelta + U32) + 4 * U32) * ea * Hs[n] +
                    (edelta + 4 * U32) * fabs(bu);
            hs[n] = ea * hs[n] + bu;
            Hs[n] = ea * Hs[n] + fabs(bu);
            ys += C * hs[n];
            ysabs += fabs(C) * Hs[n];
            eys += fabs(C) * es[n];
          }
          eys += (double)(N + 2) * U32 * ysabs;
          y[o] += ys;
          eb[o] += 2 * (eys + 4 * U32 * (fabs(ys) + eys));
        }
      }
    }
  free(seq);
  free(st);
}

/* Inputs like a trained block's: u ~ U(-2, 2); delta around the init's
 * softplus(bias) in [1e-3, 0.1] spread by dt ~ N(0, 1), with a few
 * dt + bias > 20 (the threshold path); A = -exp(ln(n+1) +- 0.5); B, C ~
 * N(0, 1); D ~ U(0.5, 1.5). */
static void fill_random(struct scan_case *c, uint64_t seed)
{
  struct vss_rng rng;
  const struct vss_scan_args *a = &c->a;
  vss_rng_seed(&rng, seed);
  for (size_t i = 0; i < y_len(c); i++) c->u[i] = vss_rng_uniform(&rng, -2, 2);
  for (size_t i = 0; i < a->B * c->L * VSS_K * c->G; i++) c->dbl[i] = vss_rng_normal(&rng);
  for (size_t i = 0; i < a->B * c->L * VSS_K * a->Di; i++)
    c->dt[i] = i % 17 == 5 ? 26.0f : vss_rng_normal(&rng);
  for (size_t i = 0; i < VSS_K * a->Di; i++) {
    const double dt0 = exp(vss_rng_uniform(&rng, (float)log(1e-3), (float)log(0.1)));
    c->dt_bias[i] = (float)log(expm1(dt0));
    c->D[i] = vss_rng_uniform(&rng, 0.5f, 1.5f);
    for (size_t n = 0; n < a->N; n++)
      c->A[i * a->N + n] = -expf(logf((float)(n + 1)) + vss_rng_uniform(&rng, -0.5f, 0.5f));
  }
}

START_TEST(scan_random_vs_f64)
{
  /* B, H, W, Di, N, R: odd and square images, H or W = 1, one pixel, a
   * VMamba-v0-like N = 16 and a v2-like N = 1, batch 2 */
  static const size_t shapes[][6] = {{2, 5, 7, 9, 4, 3}, {1, 1, 6, 5, 2, 2}, {1, 6, 1, 5, 2, 2},
                                     {1, 4, 4, 16, 16, 6}, {1, 3, 3, 5, 1, 2}, {2, 1, 1, 3, 3, 1}};
  static const unsigned dirs[] = {0xF, 0x1, 0x2, 0x4, 0x8, 0x6};
  const size_t *s = shapes[_i];
  struct scan_case *c = case_new(s[0], s[1], s[2], s[3], s[4], s[5]);
  const size_t n = y_len(c), Di = s[3];
  double *y = malloc(n * sizeof *y), *eb = malloc(n * sizeof *eb);
  float *e = malloc(n * sizeof *e);
  ck_assert(y && eb && e);
  fill_random(c, 7 + _i);
  for (size_t m = 0; m < sizeof dirs / sizeof dirs[0]; m++) {
    case_run(c, dirs[m]);
    scan_f64(c, y, eb);
    for (size_t i = 0; i < n; i++) e[i] = (float)y[i];
    for (size_t o = 0; o < n; o += Di) { /* per pixel, channels inside */
      double atol = 0;
      for (size_t d = 0; d < Di; d++) atol = fmax(atol, eb[o + d]);
      const size_t p = o / Di % c->L;
      char what[160];
      snprintf(what, sizeof what, "scan seed %d dirs %#x b=%zu h=%zu w=%zu: channel",
               7 + _i, dirs[m], o / Di / c->L, p / s[2], p % s[2]);
      vss_assert_close(what, c->y + o, e + o, Di, atol, 0);
    }
  }
  free(y); free(eb); free(e);
  case_free(c);
}
END_TEST

Suite *suite_scan(void)
{
  Suite *s = suite_create("scan");
  TCase *maps = tcase_create("index_maps"), *exact = tcase_create("exact"),
        *rnd = tcase_create("random");
  tcase_add_test(maps, scan_pos_tables);
  tcase_add_test(maps, scan_pos_is_permutation_inverse_of_t);
  tcase_add_test(exact, scan_prefix_sums_2x2);
  tcase_add_test(exact, scan_D_term_layout);
  tcase_add_test(exact, scan_BC_shared_by_channels);
  tcase_add_test(exact, scan_two_pixels_closed_form);
  tcase_add_loop_test(rnd, scan_random_vs_f64, 0, 6);
  suite_add_tcase(s, maps);
  suite_add_tcase(s, exact);
  suite_add_tcase(s, rnd);
  return s;
}
