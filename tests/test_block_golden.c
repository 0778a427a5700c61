/* test_block_golden.c - the whole block against the golden files (DESIGN
 * §7, §8), and the verification rule itself.
 *
 * "golden": every case of golden/MANIFEST x every variant this CPU can run
 * (SKIP lines for the others: Check has no skip status) must be PASS or
 * MARGINAL under core's rule (golden.h: residual branch y - x against the
 * float64 truth, limits from the case's PyTorch fp32 noise).
 * "stages": on the cases holding stages.*, every intermediate of every
 * runnable variant against the golden one (vss_stage_limits).
 * "compare": vss_compare / vss_golden_limits on hand-made data.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "golden.h"
#include "vss_test.h"

#define MANIFEST "golden/MANIFEST"
#define MAX_CASES 128
#define MAX_VARIANTS 16

static char case_file[MAX_CASES][160];
static int n_cases;
static const char *variants[MAX_VARIANTS];
static int n_variants;

/* The case files of MANIFEST (second column) and the runnable variants. */
static void build_tables(void)
{
  struct vss_variant_info vi;
  n_variants = 0;
  for (size_t i = 0; vss_variant_info(i, &vi) == 0 && n_variants < MAX_VARIANTS; i++) {
    if (vi.runnable) variants[n_variants++] = vi.name;
    else printf("SKIP %s: %s\n", vi.name, vi.why_not);
  }
  n_cases = 0;
  FILE *f = fopen(MANIFEST, "r");
  if (!f) return; /* the manifest suite reports it; the loop below fails too */
  char line[4096], cas[64], file[128];
  while (fgets(line, sizeof line, f) && n_cases < MAX_CASES)
    if (line[0] != '#' && sscanf(line, "%63s %127s", cas, file) == 2)
      snprintf(case_file[n_cases++], sizeof case_file[0], "golden/%s", file);
  fclose(f);
}

static void print_bad(const char *what, const struct vss_cmp *r, int ndim, const size_t *shape)
{
  for (size_t i = 0; i < r->n_bad && i < VSS_CMP_MAX_BAD; i++) {
    size_t c[VSS_MAX_DIMS];
    vss_unravel(r->bad_idx[i], ndim, shape, c);
    fprintf(stderr, "  %s[", what);
    for (int k = 0; k < ndim; k++) fprintf(stderr, "%s%zu", k ? "," : "", c[k]);
    fprintf(stderr, "]: got %.9g expected %.9g\n", r->bad_got[i], r->bad_exp[i]);
  }
}

static int acceptable(enum vss_verdict v) { return v == VSS_PASS || v == VSS_MARGINAL; }

START_TEST(golden_case)
{
  ck_assert_msg(n_cases > 0 && n_variants > 0, "%s lists no cases, or no variant runs",
                MANIFEST);
  const char *path = case_file[_i / n_variants], *variant = variants[_i % n_variants];
  struct vss_golden g;
  struct vss_cmp r;
  char ran[32];
  ck_assert_msg(vss_golden_open(path, &g) == VSS_OK, "%s", vss_last_error());
  float *got = vss_guarded_alloc(g.n);
  vss_status s = vss_golden_run(&g, variant, NULL, NULL, got, &r, ran, sizeof ran);
  ck_assert_msg(s == VSS_OK, "%s with %s: %s", path, variant, vss_last_error());
  ck_assert_str_eq(ran, variant);
  ck_assert_msg(vss_guard_ok(got, g.n), "%s with %s: wrote past y", path, variant);
  printf("%-11s %-9s %-10s max_abs %.3e max_rel %.3e nmse %.3e used %.3f "
         "(x fp32: abs %.2f nmse %.2f)\n", g.name, variant, vss_verdict_str(r.verdict),
         r.max_abs, r.max_rel, r.nmse, r.worst_frac, r.max_abs / g.fp32_max_abs,
         r.nmse / g.fp32_nmse_branch);
  if (!acceptable(r.verdict)) {
    print_bad("branch", &r, 4, g.dims);
  }
  ck_assert_msg(acceptable(r.verdict),
                "%s with %s: %s (%zu bad points, max_abs %.3g > atol %.3g or nmse %.3g > "
                "%.3g); repro: build/vssbench verify --variant %s %s", path, variant,
                vss_verdict_str(r.verdict), r.n_bad, r.max_abs, g.lim.atol, r.nmse,
                g.lim.nmse_max, variant, path);
  vss_guarded_free(got);
  vss_golden_close(&g);
}
END_TEST

/* --------------------------------------------------------------- stages */

struct stage_check {
  const struct vss_golden *g;
  const char *variant;
  int seen, bad;
};

static int check_stage(void *ctx, const char *name, const float *data, int ndim,
                       const size_t *shape)
{
  struct stage_check *c = ctx;
  struct vss_cmp r;
  vss_status s = vss_golden_stage(c->g, name, data, ndim, shape, &r);
  c->seen++;
  if (s != VSS_OK) {
    fprintf(stderr, "  %s: %s\n", c->variant, vss_last_error());
    c->bad++;
  } else if (!acceptable(r.verdict)) {
    fprintf(stderr, "  %s %s stage %s: %s, max_rel %.3g nmse %.3g\n", c->g->name,
            c->variant, name, vss_verdict_str(r.verdict), r.max_rel, r.nmse);
    print_bad(name, &r, ndim, shape);
    c->bad++;
  }
  return 0;
}

START_TEST(golden_stages)
{
  const char *path = case_file[_i / n_variants], *variant = variants[_i % n_variants];
  struct vss_golden g;
  struct vss_cmp r;
  ck_assert_msg(vss_golden_open(path, &g) == VSS_OK, "%s", vss_last_error());
  if (!g.has_stages) { vss_golden_close(&g); return; }
  struct stage_check c = {&g, variant, 0, 0};
  float *got = malloc(g.n * sizeof *got);
  ck_assert_msg(vss_golden_run(&g, variant, check_stage, &c, got, &r, NULL, 0) == VSS_OK,
                "%s with %s: %s", path, variant, vss_last_error());
  int want = 0; /* every golden stage must have been reported */
  for (size_t i = 0; i < vss_st_count(g.st); i++)
    want += !strncmp(vss_st_at(g.st, i)->name, "stages.", 7);
  ck_assert_msg(c.seen == want, "%s with %s: the block reported %d stages, the golden "
                "file holds %d", path, variant, c.seen, want);
  ck_assert_msg(!c.bad, "%s with %s: %d of %d stages off", path, variant, c.bad, c.seen);
  free(got);
  vss_golden_close(&g);
}
END_TEST

/* -------------------------------------------------------------- compare */

static const struct vss_limits lim1 = {1e-3, 0.0, 1e-4};

START_TEST(compare_pass_marginal_fail)
{
  const double exp[4] = {1, -2, 3, 4};
  float got[4] = {1, -2, 3, 4};
  struct vss_cmp r;
  vss_compare(got, exp, NULL, 4, &lim1, &r);
  ck_assert_int_eq(r.verdict, VSS_PASS);
  ck_assert(r.max_abs == 0 && r.nmse == 0 && r.worst_frac == 0 && r.n == 4);
  ck_assert(r.max_abs_exp == 4);
  got[1] = -2.0005f; /* half of atol: MARGINAL */
  vss_compare(got, exp, NULL, 4, &lim1, &r);
  ck_assert_int_eq(r.verdict, VSS_MARGINAL);
  ck_assert(fabs(r.worst_frac - 0.5) < 1e-3 && fabs(r.max_rel - r.max_abs / 4) < 1e-15);
  got[1] = -2.0001f; /* a tenth: PASS */
  vss_compare(got, exp, NULL, 4, &lim1, &r);
  ck_assert_int_eq(r.verdict, VSS_PASS);
  got[1] = -2.01f; /* beyond: FAIL, point recorded */
  vss_compare(got, exp, NULL, 4, &lim1, &r);
  ck_assert_int_eq(r.verdict, VSS_FAIL);
  ck_assert_uint_eq(r.n_bad, 1);
  ck_assert_uint_eq(r.bad_idx[0], 1);
  ck_assert(r.bad_got[0] == (double)-2.01f && r.bad_exp[0] == -2);
  /* rtol widens the limit with |exp| */
  const struct vss_limits rel = {0.0, 1e-2, 1.0};
  vss_compare(got, exp, NULL, 4, &rel, &r);
  ck_assert_int_eq(r.verdict, VSS_MARGINAL);
  ck_assert_str_eq(vss_verdict_str(VSS_PASS), "PASS");
  ck_assert_str_eq(vss_verdict_str(VSS_MARGINAL), "MARGINAL");
  ck_assert_str_eq(vss_verdict_str(VSS_FAIL), "FAIL");
  ck_assert_str_eq(vss_verdict_str(VSS_MISTRUSTED), "MISTRUSTED");
}
END_TEST

START_TEST(compare_nmse_and_bit_exact)
{
  enum { N = 100 };
  double exp[N];
  float got[N];
  struct vss_cmp r;
  for (int i = 0; i < N; i++) exp[i] = got[i] = (float)(i % 7) - 3.0f;
  for (int i = 0; i < N; i++) got[i] += 5e-4f; /* each point fine, nmse not */
  const struct vss_limits tight_nmse = {1e-3, 0.0, 1e-9};
  vss_compare(got, exp, NULL, N, &tight_nmse, &r);
  ck_assert_int_eq(r.verdict, VSS_FAIL);
  ck_assert_uint_eq(r.n_bad, 0);
  ck_assert(r.worst_frac > 1 && r.nmse > 1e-9);
  /* a zero limit: bit-exact or FAIL */
  const struct vss_limits exact = {0, 0, 0};
  for (int i = 0; i < N; i++) got[i] = (float)exp[i];
  vss_compare(got, exp, NULL, N, &exact, &r);
  ck_assert_int_eq(r.verdict, VSS_PASS);
  got[N - 1] = nextafterf(got[N - 1], 10.0f);
  vss_compare(got, exp, NULL, N, &exact, &r);
  ck_assert_int_eq(r.verdict, VSS_FAIL);
  ck_assert(isinf(r.worst_frac));
  /* at most VSS_CMP_MAX_BAD points kept, all counted */
  for (int i = 0; i < N; i++) got[i] = (float)exp[i] + 1.0f;
  vss_compare(got, exp, NULL, N, &lim1, &r);
  ck_assert_uint_eq(r.n_bad, N);
  for (int i = 0; i < VSS_CMP_MAX_BAD; i++) ck_assert_uint_eq(r.bad_idx[i], i);
}
END_TEST

START_TEST(compare_nonfinite)
{
  enum { N = 8 };
  const double exp[N] = {NAN, INFINITY, -INFINITY, 1.0, 2.0, 3.0, 4.0, 5.0};
  float got[N] = {NAN, INFINITY, -INFINITY, 1.0f, 2.0f, 3.0f, 4.0f, 5.0f};
  struct vss_cmp r;
  vss_compare(got, exp, NULL, N, &lim1, &r);
  ck_assert_int_eq(r.verdict, VSS_PASS); /* matching NaN/Inf positions */
  ck_assert(r.max_abs == 0 && r.nmse == 0);
  got[2] = INFINITY; /* wrong Inf sign */
  vss_compare(got, exp, NULL, N, &lim1, &r);
  ck_assert_int_eq(r.verdict, VSS_FAIL);
  ck_assert_uint_eq(r.n_nan_mismatch, 1);
  ck_assert_uint_eq(r.bad_idx[0], 2);
  got[2] = -INFINITY;
  got[3] = NAN; /* NaN where a number is expected */
  vss_compare(got, exp, NULL, N, &lim1, &r);
  ck_assert_int_eq(r.verdict, VSS_FAIL);
  ck_assert_uint_eq(r.n_nan_mismatch, 1);
  got[3] = 1.0f;
  got[0] = 0.0f; /* a number where NaN is expected */
  vss_compare(got, exp, NULL, N, &lim1, &r);
  ck_assert_int_eq(r.verdict, VSS_FAIL);
  ck_assert(isinf(r.worst_frac));
}
END_TEST

START_TEST(compare_base_and_mistrust)
{
  enum { N = 64 };
  double exp[N];
  float got[N], base[N];
  struct vss_cmp r;
  const struct vss_limits loose = {10.0, 0.0, 1e6};
  for (int i = 0; i < N; i++) {
    base[i] = 3.0f + (float)i;
    exp[i] = base[i] + 0.01 * sin(i + 1.0);
    got[i] = (float)exp[i];
  }
  vss_compare(got, exp, base, N, &lim1, &r);
  ck_assert_int_eq(r.verdict, VSS_PASS);
  ck_assert(r.max_abs_exp < 0.0101 && r.max_abs_exp > 0.009); /* the branch's scale */
  /* a block that forgot its branch (y = x): judged on the branch, and
   * MISTRUSTED even under a loose limit */
  vss_compare(base, exp, base, N, &loose, &r);
  ck_assert_int_eq(r.verdict, VSS_MISTRUSTED);
  /* all zeros, or mostly one constant, with plain data too */
  float zeros[N] = {0}, cst[N];
  for (int i = 0; i < N; i++) exp[i] -= base[i];
  vss_compare(zeros, exp, NULL, N, &loose, &r);
  ck_assert_int_eq(r.verdict, VSS_MISTRUSTED);
  for (int i = 0; i < N; i++) cst[i] = i < N / 2 ? 0.25f : (float)exp[i];
  vss_compare(cst, exp, NULL, N, &loose, &r); /* exactly half one value */
  ck_assert_int_eq(r.verdict, VSS_MISTRUSTED);
  cst[0] = 0.5f; /* under half */
  vss_compare(cst, exp, NULL, N, &loose, &r);
  ck_assert_int_eq(r.verdict, VSS_PASS);
  /* an expected output that is itself zero is no reason to mistrust */
  for (int i = 0; i < N; i++) exp[i] = 0;
  vss_compare(zeros, exp, NULL, N, &lim1, &r);
  ck_assert_int_eq(r.verdict, VSS_PASS);
  vss_compare(zeros, exp, NULL, 0, &lim1, &r);
  ck_assert_int_eq(r.verdict, VSS_PASS);
  ck_assert_uint_eq(r.n, 0);
}
END_TEST

/* A golden-like file with just the noise metadata (and a dummy tensor). */
static const char *meta_file(const char *name, const char *max_abs, const char *nmse,
                             const char *branch)
{
  const float v = 1.0f;
  const size_t shape[1] = {1};
  const struct vss_st_out t = {"dummy", VSS_F32, 1, shape, &v};
  const char *meta[8] = {"fp32_max_abs", max_abs, "fp32_nmse_branch", nmse, NULL};
  if (branch) meta[4] = "max_abs_branch", meta[5] = branch, meta[6] = NULL;
  const char *path = vss_test_path(name);
  ck_assert_msg(vss_st_write(path, &t, 1, meta) == VSS_OK, "%s", vss_last_error());
  return path;
}

START_TEST(golden_limits_rule)
{
  vss_st *f;
  struct vss_limits lim;
  ck_assert(vss_st_open(meta_file("a.safetensors", "2e-7", "1e-11", "0.5"), &f) == VSS_OK);
  ck_assert_int_eq(vss_golden_limits(f, &lim), VSS_OK);
  ck_assert(fabs(lim.atol - VSS_GOLDEN_K_ABS * 2e-7) < 1e-20);
  ck_assert(lim.rtol == 0);
  ck_assert(fabs(lim.nmse_max - VSS_GOLDEN_K_NMSE * 1e-11) < 1e-25);
  vss_st_close(f);
  /* PyTorch got lucky: the floors apply */
  ck_assert(vss_st_open(meta_file("b.safetensors", "0", "0.0", "2.0"), &f) == VSS_OK);
  ck_assert_int_eq(vss_golden_limits(f, &lim), VSS_OK);
  ck_assert(fabs(lim.atol - VSS_GOLDEN_ATOL_FLOOR_REL * 2.0) < 1e-20);
  ck_assert(lim.nmse_max == VSS_GOLDEN_NMSE_FLOOR);
  vss_st_close(f);
  /* absent or malformed figures are errors naming the file and key */
  ck_assert(vss_st_open(meta_file("c.safetensors", "1e-7", "1e-12", NULL), &f) == VSS_OK);
  ck_assert_int_eq(vss_golden_limits(f, &lim), VSS_ERR_FORMAT);
  ck_assert_ptr_nonnull(strstr(vss_last_error(), "c.safetensors"));
  ck_assert_ptr_nonnull(strstr(vss_last_error(), "max_abs_branch"));
  vss_st_close(f);
  ck_assert(vss_st_open(meta_file("d.safetensors", "1e-7x", "1e-12", "1"), &f) == VSS_OK);
  ck_assert_int_eq(vss_golden_limits(f, &lim), VSS_ERR_FORMAT);
  ck_assert_ptr_nonnull(strstr(vss_last_error(), "fp32_max_abs"));
  vss_st_close(f);
  ck_assert(vss_st_open(meta_file("e.safetensors", "1e-7", "-1", "1"), &f) == VSS_OK);
  ck_assert_int_eq(vss_golden_limits(f, &lim), VSS_ERR_FORMAT);
  vss_st_close(f);
  ck_assert(vss_st_open(meta_file("f.safetensors", "nan", "1e-12", "1"), &f) == VSS_OK);
  ck_assert_int_eq(vss_golden_limits(f, &lim), VSS_ERR_FORMAT);
  vss_st_close(f);
}
END_TEST

START_TEST(unravel)
{
  const size_t shape[4] = {2, 3, 4, 5};
  size_t c[4];
  vss_unravel(((1 * 3 + 2) * 4 + 3) * 5 + 4, 4, shape, c);
  ck_assert(c[0] == 1 && c[1] == 2 && c[2] == 3 && c[3] == 4);
  vss_unravel(0, 4, shape, c);
  ck_assert(c[0] == 0 && c[1] == 0 && c[2] == 0 && c[3] == 0);
}
END_TEST

Suite *suite_block_golden(void)
{
  Suite *s = suite_create("block_golden");
  TCase *tc = tcase_create("compare");
  tcase_add_test(tc, compare_pass_marginal_fail);
  tcase_add_test(tc, compare_nmse_and_bit_exact);
  tcase_add_test(tc, compare_nonfinite);
  tcase_add_test(tc, compare_base_and_mistrust);
  tcase_add_test(tc, golden_limits_rule);
  tcase_add_test(tc, unravel);
  suite_add_tcase(s, tc);

  build_tables();
  const int n = n_variants ? n_cases * n_variants : 0;
  tc = tcase_create("golden");
  tcase_set_timeout(tc, 300);
  if (n) tcase_add_loop_test(tc, golden_case, 0, n);
  else tcase_add_loop_test(tc, golden_case, 0, 1); /* fails: no cases */
  suite_add_tcase(s, tc);
  tc = tcase_create("stages");
  tcase_set_timeout(tc, 300);
  if (n) tcase_add_loop_test(tc, golden_stages, 0, n);
  suite_add_tcase(s, tc);
  return s;
}
