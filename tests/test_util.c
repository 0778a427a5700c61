/* test_util.c - rng, guarded buffers, temp files, array comparisons. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vss_test.h"
#include "tolerances.h"

static uint32_t rotl(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }

void vss_rng_seed(struct vss_rng *r, uint64_t seed)
{
  uint64_t z = seed;
  r->seed = seed;
  for (int i = 0; i < 4; i++) { /* splitmix64 */
    z += 0x9e3779b97f4a7c15ull;
    uint64_t t = z;
    t = (t ^ (t >> 30)) * 0xbf58476d1ce4e5b9ull;
    t = (t ^ (t >> 27)) * 0x94d049bb133111ebull;
    r->s[i] = (uint32_t)(t ^ (t >> 31));
  }
  if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3])) r->s[0] = 1;
}

uint32_t vss_rng_u32(struct vss_rng *r)
{
  uint32_t *s = r->s, res = s[0] + s[3], t = s[1] << 9;
  s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
  s[2] ^= t; s[3] = rotl(s[3], 11);
  return res;
}

float vss_rng_uniform(struct vss_rng *r, float lo, float hi)
{
  return lo + (hi - lo) * (float)((vss_rng_u32(r) >> 8) * (1.0 / 16777216.0));
}

float vss_rng_normal(struct vss_rng *r)
{
  double u1 = ((vss_rng_u32(r) >> 8) + 0.5) / 16777216.0;
  double u2 = (vss_rng_u32(r) >> 8) / 16777216.0;
  return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

float vss_rng_int(struct vss_rng *r, int lo, int hi)
{
  return (float)(lo + (int)(vss_rng_u32(r) % (uint32_t)(hi - lo + 1)));
}

#define GUARD 64
static const uint32_t sentinel = 0x7fc0dead; /* a NaN payload no op makes */

float *vss_guarded_alloc(size_t n)
{
  float *p = malloc((n + GUARD) * sizeof *p);
  ck_assert_ptr_nonnull(p);
  memset(p, 0, n * sizeof *p);
  for (size_t i = 0; i < GUARD; i++) memcpy(&p[n + i], &sentinel, 4);
  return p;
}

int vss_guard_ok(const float *p, size_t n)
{
  for (size_t i = 0; i < GUARD; i++)
    if (memcmp(&p[n + i], &sentinel, 4) != 0) return 0;
  return 1;
}

void vss_guarded_free(float *p) { free(p); }

static char tmpdir[256];

static void rm_tmpdir(void)
{
  char cmd[300];
  if (!tmpdir[0]) return;
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system(cmd) != 0) { /* best effort */ }
}

const char *vss_test_tmpdir(void)
{
  /* one directory per process: Check forks each test */
  static pid_t owner;
  if (!tmpdir[0] || owner != getpid()) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/vss_test.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    owner = getpid();
    atexit(rm_tmpdir);
  }
  return tmpdir;
}

const char *vss_test_path(const char *name)
{
  static char paths[8][512];
  static int next;
  char *p = paths[next++ & 7];
  snprintf(p, 512, "%s/%s", vss_test_tmpdir(), name);
  return p;
}

const char *vss_test_write(const char *name, const void *data, size_t n)
{
  const char *path = vss_test_path(name);
  FILE *f = fopen(path, "wb");
  ck_assert_msg(f != NULL, "cannot create %s", path);
  ck_assert(n == 0 || fwrite(data, 1, n, f) == n);
  ck_assert(fclose(f) == 0);
  return path;
}

const char *vss_test_copy_meta(const char *src, const char *name,
                               const char *const *meta)
{
  vss_st *f;
  ck_assert_msg(vss_st_open(src, &f) == VSS_OK, "%s", vss_last_error());
  const size_t n = vss_st_count(f);
  struct vss_st_out *t = calloc(n, sizeof *t);
  ck_assert_ptr_nonnull(t);
  for (size_t i = 0; i < n; i++) {
    const struct vss_tensor *s = vss_st_at(f, i);
    t[i] = (struct vss_st_out){s->name, s->dtype, s->ndim, s->shape, s->data};
  }
  const char *path = vss_test_path(name);
  ck_assert_msg(vss_st_write(path, t, n, meta) == VSS_OK, "%s", vss_last_error());
  free(t);
  vss_st_close(f);
  return path;
}

void vss_assert_close(const char *what, const float *got, const float *exp,
                      size_t n, double atol, double rtol)
{
  size_t bad = 0;
  double worst = 0;
  for (size_t i = 0; i < n; i++) {
    double d = fabs((double)got[i] - (double)exp[i]);
    double lim = atol + rtol * fabs((double)exp[i]);
    int nan_ok = isnan(got[i]) && isnan(exp[i]);
    if (!nan_ok && !(d <= lim)) {
      if (bad < 10)
        fprintf(stderr, "  %s[%zu]: got %.9g expected %.9g |diff| %.3g > %.3g\n",
                what, i, got[i], exp[i], d, lim);
      bad++;
    }
    if (d > worst) worst = d;
  }
  ck_assert_msg(bad == 0, "%s: %zu of %zu points outside atol %.3g + rtol %.3g (max |diff| %.3g)",
                what, bad, n, atol, rtol, worst);
}

void vss_assert_equal(const char *what, const float *got, const float *exp,
                      size_t n)
{
  vss_assert_close(what, got, exp, n, 0.0, 0.0);
}

void vss_test_dt_proj(const struct vss_ops *ops, size_t M, size_t Di, size_t R, size_t N,
                      const float *dt_w, const float *dbl, float *dt)
{
  const size_t G = R + 2 * N;
  for (int k = 0; k < VSS_K; k++) {
    struct vss_linear lin = {{Di, R, dt_w + (size_t)k * Di * R, NULL, VSS_ACT_NONE, 0}, NULL, NULL};
    ck_assert_int_eq(ops->linear_prepare(&lin), 0);
    ops->linear(&lin, M, dbl + (size_t)k * G, VSS_K * G, dt + (size_t)k * Di, VSS_K * Di);
    if (lin.priv_free) lin.priv_free(lin.priv);
  }
}

double vss_test_gelu_f64(double x) { return 0.5 * x * erfc(-x / sqrt(2.0)); }

void vss_test_gelu_bound(const char *name, void (*gelu)(size_t, const float *, float *),
                         uint64_t seed)
{
  const size_t n = 2000003;
  float *x = vss_guarded_alloc(n), *y = vss_guarded_alloc(n);
  struct vss_rng r;
  vss_rng_seed(&r, seed);
  for (size_t i = 0; i < n; i++)
    x[i] = i < n / 2       ? vss_rng_uniform(&r, -6, 6)
           : i < 3 * n / 4 ? vss_rng_uniform(&r, -10, 10)
                           : (i & 1 ? -1 : 1) * expf(vss_rng_uniform(&r, -69, 0));
  gelu(n, x, y);
  const struct vss_limits lim = VSS_LIM_GELU;
  double worst = 0, worst_abs = 0; /* of err / limit */
  size_t wi = 0;
  for (size_t i = 0; i < n; i++) {
    const double e = vss_test_gelu_f64(x[i]), err = fabs((double)y[i] - e);
    worst_abs = fmax(worst_abs, err);
    if (!(err / (lim.atol + lim.rtol * fabs(e)) <= worst))
      worst = err / (lim.atol + lim.rtol * fabs(e)), wi = i;
  }
  ck_assert_msg(worst <= 1.0, "%s gelu: %.3g of VSS_LIM_GELU at x = %.9g (got %.9g, exp %.9g)",
                name, worst, x[wi], y[wi], vss_test_gelu_f64(x[wi]));
  printf("%s gelu: %.3g abs at most, %.3f of VSS_LIM_GELU\n", name, worst_abs, worst);
  ck_assert(vss_guard_ok(y, n));
  vss_guarded_free(x);
  vss_guarded_free(y);
  /* x beyond the fitted range: x itself, or an exact zero (the sign of x * 0) */
  const float sx[] = {5.77f, 6.0f, 8.0f, 1e4f, 1e30f, FLT_MAX, -5.77f, -6.0f, -1e4f, -FLT_MAX};
  float sy[10];
  gelu(10, sx, sy);
  for (int i = 0; i < 10; i++)
    ck_assert_msg(sx[i] > 0 ? sy[i] == sx[i] : sy[i] == 0.0f && signbit(sy[i]),
                  "%s gelu(%.9g) = %.9g", name, sx[i], sy[i]);
  /* NaN, -inf (-inf * 0 = NaN, as ref), +inf, +-0 */
  const float zx[5] = {NAN, -INFINITY, INFINITY, 0.0f, -0.0f};
  float zy[5];
  gelu(5, zx, zy);
  ck_assert_msg(isnan(zy[0]) && isnan(zy[1]), "%s gelu(NaN, -inf) = %g, %g", name, zy[0], zy[1]);
  ck_assert_msg(isinf(zy[2]) && zy[2] > 0, "%s gelu(inf) = %g", name, zy[2]);
  ck_assert_msg(zy[3] == 0.0f && !signbit(zy[3]) && zy[4] == 0.0f && signbit(zy[4]),
                "%s gelu(+-0) = %g, %g", name, zy[3], zy[4]);
}
