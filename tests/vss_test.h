/* vss_test.h - helpers shared by the Check suites. */
#ifndef VSS_TEST_H
#define VSS_TEST_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

#include "vss/vss.h"
#include "vss/vss_kernels.h"

#define SUITE(name) Suite *suite_##name(void);
#include "suites.inc"
#undef SUITE

/* Deterministic xoshiro128+ stream; the seed is printed on failure. */
struct vss_rng { uint32_t s[4]; uint64_t seed; };
void vss_rng_seed(struct vss_rng *r, uint64_t seed);
uint32_t vss_rng_u32(struct vss_rng *r);
float vss_rng_uniform(struct vss_rng *r, float lo, float hi);
float vss_rng_normal(struct vss_rng *r);
/* integers in [lo, hi] as floats (exact arithmetic tests) */
float vss_rng_int(struct vss_rng *r, int lo, int hi);

/* Buffers with a guard band of sentinels after n floats;
 * vss_guard_ok() checks the band is untouched. */
float *vss_guarded_alloc(size_t n);
int vss_guard_ok(const float *p, size_t n);
void vss_guarded_free(float *p);

/* A fresh temporary directory (removed at exit) and files in it. */
const char *vss_test_tmpdir(void);
/* Writes bytes to tmpdir/name and returns the full path (static buffer
 * rotation: valid for the next 8 calls). */
const char *vss_test_write(const char *name, const void *data, size_t n);
const char *vss_test_path(const char *name);
/* Copies safetensors file src to tmpdir/name with the tensors as they are
 * and __metadata__ meta instead of src's (NULL or a NULL-terminated key,
 * value, ... list); returns the path as vss_test_path does. */
const char *vss_test_copy_meta(const char *src, const char *name,
                               const char *const *meta);

/* Compares n floats; on failure prints up to 10 points with index, both
 * values and the limits, then the summary, and fails the test. */
void vss_assert_close(const char *what, const float *got, const float *exp,
                      size_t n, double atol, double rtol);
void vss_assert_equal(const char *what, const float *got, const float *exp,
                      size_t n);

/* dt (M, 4, Di) = dt_proj_k(dbl[:, k, :R]) for the four directions through
 * ops's linear prepared from dt_w (4, Di, R), as core/block.c calls it
 * (dbl: (M, 4, R + 2N)): what a variant's fused scan (ssm_scan_dt) must
 * reproduce bit for bit. */
void vss_test_dt_proj(const struct vss_ops *ops, size_t M, size_t Di, size_t R, size_t N,
                      const float *dt_w, const float *dbl, float *dt);

/* exact GELU in double, x Phi(x) = x erfc(-x / sqrt 2) / 2: the tests' truth */
double vss_test_gelu_f64(double x);

/* A GELU kernel (the avx2 and avx512 ones: piecewise polynomials fitted
 * to x Phi(x)) held to VSS_LIM_GELU against x Phi(x) in double on 2M
 * points (half in [-6, 6], the fitted range, a quarter in [-10, 10], a
 * quarter at tiny |x|, 1e-30 to 1, both signs), then at the special
 * values: x itself beyond 5.77, an exact -0 below -5.77 and at -0, +0 at
 * +0, NaN for NaN and -inf (as ref's -inf * 0), inf for inf. */
void vss_test_gelu_bound(const char *name, void (*gelu)(size_t, const float *, float *),
                         uint64_t seed);

/* The benchmark shapes (bench/shapes.inc), for tests at real sizes. */
#include "../bench/shapes.h"

#endif
