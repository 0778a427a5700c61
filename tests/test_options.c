/* test_options.c - the block options of issue #10 through the API:
 * training-mode drop_path (vss_drop_mask, vss_run_opts.train/drop_path/
 * seed/keep_mask), post_norm (config field, file metadata, setter) and
 * channel-first tensors (vss_run_opts.layout), for every runnable variant.
 * The CLI side is in test_cli.c.  The tests run from the repository root
 * (they read golden/).
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "golden.h"
#include "vss_test.h"

#define MAX_VARIANTS 16

static const char *variants[MAX_VARIANTS];
static int n_variants;

static void build_variants(void)
{
  struct vss_variant_info vi;
  n_variants = 0;
  for (size_t i = 0; vss_variant_info(i, &vi) == 0 && n_variants < MAX_VARIANTS; i++)
    if (vi.runnable) variants[n_variants++] = vi.name;
}

static int acceptable(enum vss_verdict v) { return v == VSS_PASS || v == VSS_MARGINAL; }

/* A golden case's block with a variant, and its x. */
struct fixture {
  struct vss_golden g;
  vss_block *blk;
  float *y, *y2;        /* g.n floats each */
};

static void fx_open(struct fixture *f, const char *name, const char *variant)
{
  char path[256];
  snprintf(path, sizeof path, "golden/%s.safetensors", name);
  ck_assert_msg(vss_golden_open(path, &f->g) == VSS_OK, "%s", vss_last_error());
  const struct vss_block_opts o = {variant, 0};
  ck_assert_msg(vss_block_load(path, f->g.prefix, &o, &f->blk) == VSS_OK, "%s",
                vss_last_error());
  f->y = vss_guarded_alloc(f->g.n);
  f->y2 = vss_guarded_alloc(f->g.n);
}

static void fx_close(struct fixture *f)
{
  ck_assert(vss_guard_ok(f->y, f->g.n) && vss_guard_ok(f->y2, f->g.n));
  vss_guarded_free(f->y);
  vss_guarded_free(f->y2);
  vss_block_free(f->blk);
  vss_golden_close(&f->g);
}

static vss_status fx_run(struct fixture *f, const struct vss_run_opts *ro, float *y)
{
  return vss_block_forward_ex(f->blk, f->g.B, f->g.H, f->g.W, f->g.x, y, ro, NULL, NULL);
}

static int bits_equal(const float *a, const float *b, size_t n)
{
  return memcmp(a, b, n * sizeof *a) == 0;
}

/* The factor of a kept branch as vss.h defines it. */
static float kept(float p) { return (float)(1.0 / (1.0 - (double)p)); }

/* -------------------------------------------------------- the mask */

START_TEST(drop_mask_generator)
{
  float m[4];
  /* splitmix64 from state 0 draws 0xe220a8397b1dcdaf (u = 0.883),
   * 0x6e789e6aa1b965f4 (0.432), 0x06c45d188009454f (0.026),
   * 0xf88bb8a8724c81ec (0.971); mask[i*B + b] is draw i*B + b, kept iff
   * u < 1 - p */
  ck_assert_int_eq(vss_drop_mask(2, 0.1f, 0, m), VSS_OK);
  const float f1 = kept(0.1f);
  ck_assert(m[0] == f1 && m[1] == f1 && m[2] == f1 && m[3] == 0.0f);
  ck_assert(f1 > 1.1111f && f1 < 1.1112f);
  ck_assert_int_eq(vss_drop_mask(2, 0.2f, 0, m), VSS_OK);
  ck_assert(m[0] == 0.0f && m[1] == kept(0.2f) && m[2] == kept(0.2f) && m[3] == 0.0f);
  ck_assert_int_eq(vss_drop_mask(2, 0.5f, 0, m), VSS_OK);
  ck_assert(m[0] == 0.0f && m[1] == 2.0f && m[2] == 2.0f && m[3] == 0.0f);
  ck_assert_int_eq(vss_drop_mask(2, 0.02f, 0, m), VSS_OK);
  ck_assert(m[0] != 0.0f && m[1] != 0.0f && m[2] != 0.0f && m[3] != 0.0f); /* .971 < .98 */
  ck_assert_int_eq(vss_drop_mask(2, 0.0f, 0, m), VSS_OK); /* p = 0 keeps all, f = 1 */
  ck_assert(m[0] == 1.0f && m[1] == 1.0f && m[2] == 1.0f && m[3] == 1.0f);
  /* reproducible, seed-dependent, and Bernoulli(1-p) over many draws */
  enum { B = 20000 };
  float *a = malloc(2 * B * sizeof *a), *b = malloc(2 * B * sizeof *b);
  ck_assert_int_eq(vss_drop_mask(B, 0.3f, 42, a), VSS_OK);
  ck_assert_int_eq(vss_drop_mask(B, 0.3f, 42, b), VSS_OK);
  ck_assert(bits_equal(a, b, 2 * B));
  ck_assert_int_eq(vss_drop_mask(B, 0.3f, 43, b), VSS_OK);
  ck_assert(!bits_equal(a, b, 2 * B));
  size_t nk = 0;
  for (size_t i = 0; i < 2 * B; i++) {
    ck_assert(a[i] == 0.0f || a[i] == kept(0.3f));
    nk += a[i] != 0.0f;
  }
  const double frac = (double)nk / (2 * B); /* sd 0.0023 */
  ck_assert_msg(fabs(frac - 0.7) < 0.01, "kept fraction %.4f, expected 0.7", frac);
  free(a);
  free(b);
  /* bad p, NULL mask */
  const float bad[] = {1.0f, -0.1f, 1.5f, NAN, INFINITY};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    ck_assert_int_eq(vss_drop_mask(2, bad[i], 0, m), VSS_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(vss_last_error(), "drop_path"));
  }
  ck_assert_int_eq(vss_drop_mask(2, 0.5f, 0, NULL), VSS_ERR_ARG);
}
END_TEST

/* The golden files' drop_mask stage is vss_drop_mask of their metadata:
 * the Python generator and the C one agree. */
START_TEST(drop_mask_matches_generator)
{
  static const char *const cases[] = {"v05_droppath", "v0_droppath", "v05_combo"};
  char path[256];
  snprintf(path, sizeof path, "golden/%s.safetensors", cases[_i]);
  struct vss_golden g;
  ck_assert_msg(vss_golden_open(path, &g) == VSS_OK, "%s", vss_last_error());
  ck_assert_int_eq(g.run.train, 1);
  const struct vss_tensor *t = vss_st_find(g.st, "stages.drop_mask");
  ck_assert_msg(t && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == g.B,
                "%s: stages.drop_mask missing or not (2, B)", path);
  double *exp;
  float *got = malloc(2 * g.B * sizeof *got);
  ck_assert(vss_st_to_f64(g.st, t, &exp) == VSS_OK);
  ck_assert_int_eq(vss_drop_mask(g.B, g.run.drop_path, g.run.seed, got), VSS_OK);
  int kept_n = 0, dropped_n = 0;
  for (size_t i = 0; i < 2 * g.B; i++) {
    ck_assert_msg((got[i] == 0) == (exp[i] == 0), "%s: mask[%zu] %g vs %g", path, i,
                  (double)got[i], exp[i]);
    ck_assert_msg(fabs(got[i] - exp[i]) <= FLT_EPSILON * exp[i], "%s: factor %g vs %g",
                  path, (double)got[i], exp[i]);
    kept_n += got[i] != 0, dropped_n += got[i] == 0;
  }
  ck_assert_msg(kept_n && dropped_n, "%s: the mask should mix kept and dropped", path);
  free(exp);
  free(got);
  vss_golden_close(&g);
}
END_TEST

/* ---------------------------------------------------------- drop_path */

/* p = 0 in training mode, and any p at inference, is the plain forward,
 * bit for bit. */
START_TEST(p0_equals_inference)
{
  static const char *const cases[] = {"v05_b2", "v0_b2"};
  const char *variant = variants[_i % n_variants];
  struct fixture f;
  fx_open(&f, cases[_i / n_variants], variant);
  ck_assert_int_eq(vss_block_forward(f.blk, f.g.B, f.g.H, f.g.W, f.g.x, f.y), VSS_OK);
  const struct vss_run_opts train0 = {.train = 1, .drop_path = 0.0f, .seed = 12345};
  ck_assert_msg(fx_run(&f, &train0, f.y2) == VSS_OK, "%s", vss_last_error());
  ck_assert_msg(bits_equal(f.y, f.y2, f.g.n), "%s: train p=0 differs from inference",
                variant);
  const struct vss_run_opts infer = {.train = 0, .drop_path = 0.7f, .seed = 1};
  ck_assert_int_eq(fx_run(&f, &infer, f.y2), VSS_OK);
  ck_assert_msg(bits_equal(f.y, f.y2, f.g.n), "%s: inference with p=0.7 differs", variant);
  fx_close(&f);
}
END_TEST

/* A seed that drops every branch at p = 0.999: y == x bit for bit; a mask
 * given per (branch, sample) drops exactly those samples; a kept branch is
 * scaled by 1/(1-p). */
START_TEST(dropped_samples_pass_x)
{
  const char *variant = variants[_i];
  struct fixture f;
  fx_open(&f, "v05_b2", variant);
  const size_t B = f.g.B, per = f.g.n / B;
  float m[4];
  ck_assert_int_eq(vss_drop_mask(B, 0.999f, 1, m), VSS_OK);
  for (size_t i = 0; i < 2 * B; i++) ck_assert_msg(m[i] == 0, "seed 1 keeps a branch at p .999");
  const struct vss_run_opts all = {.train = 1, .drop_path = 0.999f, .seed = 1};
  ck_assert_int_eq(fx_run(&f, &all, f.y), VSS_OK);
  ck_assert_msg(bits_equal(f.y, f.g.x, f.g.n), "%s: all dropped, y != x", variant);

  /* keep only sample 0's SS2D branch: sample 1 passes x unchanged */
  const float keep[4] = {1, 0, 0, 0};
  const struct vss_run_opts one = {.train = 1, .drop_path = 0.5f, .seed = 1, .keep_mask = keep};
  ck_assert_int_eq(fx_run(&f, &one, f.y), VSS_OK);
  ck_assert(bits_equal(f.y + per, f.g.x + per, per));
  ck_assert(!bits_equal(f.y, f.g.x, per));
  /* ... and that branch is 2x the inference branch (p = 0.5) */
  struct fixture v0;
  fx_open(&v0, "v0_b2", variant); /* one branch: y - x is it */
  ck_assert_int_eq(vss_block_forward(v0.blk, v0.g.B, v0.g.H, v0.g.W, v0.g.x, v0.y), VSS_OK);
  const float all_kept[4] = {1, 1, 1, 1};
  const struct vss_run_opts twice = {.train = 1, .drop_path = 0.5f, .keep_mask = all_kept};
  ck_assert_int_eq(fx_run(&v0, &twice, v0.y2), VSS_OK);
  double big = 0, worst = 0;
  for (size_t i = 0; i < v0.g.n; i++) big = fmax(big, fabs(v0.y2[i]));
  for (size_t i = 0; i < v0.g.n; i++) {
    const double b1 = (double)v0.y[i] - v0.g.x[i], b2 = (double)v0.y2[i] - v0.g.x[i];
    worst = fmax(worst, fabs(b2 - 2 * b1));
  }
  ck_assert_msg(worst <= 2 * FLT_EPSILON * big, "%s: kept branch not scaled by 2: off by %g",
                variant, worst);
  fx_close(&v0);
  fx_close(&f);
}
END_TEST

/* The training-mode goldens with their seed, and with their mask given
 * instead (another seed): PASS, and the same bits either way. */
START_TEST(known_mask_reproduces_golden)
{
  static const char *const cases[] = {"v05_droppath", "v0_droppath", "v05_combo"};
  const char *variant = variants[_i % n_variants], *name = cases[_i / n_variants];
  struct fixture f;
  struct vss_cmp r;
  fx_open(&f, name, variant);
  ck_assert_msg(vss_golden_run(&f.g, variant, NULL, NULL, f.y, &r, NULL, 0) == VSS_OK, "%s",
                vss_last_error());
  ck_assert_msg(acceptable(r.verdict), "%s %s: %s", name, variant, vss_verdict_str(r.verdict));

  float *mask = malloc(2 * f.g.B * sizeof *mask);
  ck_assert(vss_drop_mask(f.g.B, f.g.run.drop_path, f.g.run.seed, mask) == VSS_OK);
  struct vss_golden given = f.g;
  given.run.keep_mask = mask;
  given.run.seed = f.g.run.seed + 1;
  ck_assert(vss_golden_run(&given, variant, NULL, NULL, f.y2, &r, NULL, 0) == VSS_OK);
  ck_assert_msg(bits_equal(f.y, f.y2, f.g.n), "%s %s: the given mask differs from the seed's",
                name, variant);
  /* the same case at inference is far off: the mask matters */
  given.run.train = 0;
  ck_assert(vss_golden_run(&given, variant, NULL, NULL, f.y2, &r, NULL, 0) == VSS_OK);
  ck_assert_msg(r.verdict == VSS_FAIL, "%s %s: inference passes a training golden", name,
                variant);
  free(mask);
  fx_close(&f);
}
END_TEST

/* ---------------------------------------------------------- post_norm */

START_TEST(post_norm_golden)
{
  static const char *const cases[] = {"v05_postnorm", "v0_postnorm"};
  const char *variant = variants[_i % n_variants], *name = cases[_i / n_variants];
  struct fixture f;
  struct vss_cmp r;
  fx_open(&f, name, variant);
  ck_assert_int_eq(vss_block_get_config(f.blk)->post_norm, 1); /* from the metadata */
  ck_assert(vss_golden_run(&f.g, variant, NULL, NULL, f.y, &r, NULL, 0) == VSS_OK);
  ck_assert_msg(acceptable(r.verdict), "%s %s: %s", name, variant, vss_verdict_str(r.verdict));
  /* switched off, the same weights miss the truth */
  ck_assert_int_eq(vss_block_set_post_norm(f.blk, 0), VSS_OK);
  ck_assert_int_eq(vss_block_forward(f.blk, f.g.B, f.g.H, f.g.W, f.g.x, f.y2), VSS_OK);
  vss_compare(f.y2, f.g.y, f.g.x, f.g.n, &f.g.lim, &r);
  ck_assert_int_eq(r.verdict, VSS_FAIL);
  /* and on again through the setter: the golden result, bit for bit */
  ck_assert_int_eq(vss_block_set_post_norm(f.blk, 1), VSS_OK);
  ck_assert_int_eq(vss_block_forward(f.blk, f.g.B, f.g.H, f.g.W, f.g.x, f.y2), VSS_OK);
  ck_assert(bits_equal(f.y, f.y2, f.g.n));
  fx_close(&f);
}
END_TEST

/* A block made with config.post_norm = 1 from a pre-norm file's weights
 * equals that file loaded and switched to post_norm. */
START_TEST(post_norm_config_field)
{
  struct fixture f;
  fx_open(&f, "v05_s1", "ref");
  ck_assert_int_eq(vss_block_get_config(f.blk)->post_norm, 0);
  ck_assert_int_eq(vss_block_set_post_norm(f.blk, 1), VSS_OK);
  ck_assert_int_eq(vss_block_forward(f.blk, f.g.B, f.g.H, f.g.W, f.g.x, f.y), VSS_OK);

  static const char *const keys[] = {
      "norm.weight", "norm.bias", "op.in_proj.weight", "op.conv2d.weight", "op.x_proj_weight",
      "op.dt_projs_weight", "op.dt_projs_bias", "op.A_logs", "op.Ds", "op.out_norm.weight",
      "op.out_norm.bias", "op.out_proj.weight", "norm2.weight", "norm2.bias",
      "mlp.fc1.weight", "mlp.fc1.bias", "mlp.fc2.weight", "mlp.fc2.bias"};
  float *buf[18];
  for (int i = 0; i < 18; i++)
    ck_assert(vss_st_to_f32(f.g.st, vss_st_find(f.g.st, keys[i]), &buf[i]) == VSS_OK);
  const struct vss_block_weights w = {
      .norm_w = buf[0], .norm_b = buf[1], .in_proj_w = buf[2], .conv_w = buf[3],
      .x_proj_w = buf[4], .dt_projs_w = buf[5], .dt_projs_b = buf[6], .A_logs = buf[7],
      .Ds = buf[8], .out_norm_w = buf[9], .out_norm_b = buf[10], .out_proj_w = buf[11],
      .norm2_w = buf[12], .norm2_b = buf[13], .fc1_w = buf[14], .fc1_b = buf[15],
      .fc2_w = buf[16], .fc2_b = buf[17]};
  struct vss_block_config cfg = *vss_block_get_config(f.blk);
  ck_assert_int_eq(cfg.post_norm, 1);
  const struct vss_block_opts o = {"ref", 0};
  vss_block *made;
  ck_assert_msg(vss_block_create(&cfg, &w, &o, &made) == VSS_OK, "%s", vss_last_error());
  ck_assert_int_eq(vss_block_forward(made, f.g.B, f.g.H, f.g.W, f.g.x, f.y2), VSS_OK);
  ck_assert(bits_equal(f.y, f.y2, f.g.n));
  vss_block_free(made);
  for (int i = 0; i < 18; i++) free(buf[i]);
  ck_assert_int_eq(vss_block_set_post_norm(NULL, 1), VSS_ERR_ARG);
  fx_close(&f);
}
END_TEST

/* Stage order: drop_mask first in training mode; under post_norm each norm
 * follows its branch. */
struct names {
  char s[40][16];
  int n;
  size_t mask_shape[2];
};

static int record(void *ctx, const char *name, const float *data, int ndim, const size_t *shape)
{
  struct names *nm = ctx;
  (void)data;
  if (!strcmp(name, "drop_mask")) {
    ck_assert_int_eq(ndim, 2);
    nm->mask_shape[0] = shape[0], nm->mask_shape[1] = shape[1];
  }
  if (nm->n < 40) snprintf(nm->s[nm->n++], sizeof nm->s[0], "%s", name);
  return 0;
}

START_TEST(stage_order)
{
  struct fixture f;
  struct names nm = {0};
  fx_open(&f, "v05_combo", "ref");
  ck_assert_msg(vss_block_forward_ex(f.blk, f.g.B, f.g.H, f.g.W, f.g.x, f.y, &f.g.run, record,
                                     &nm) == VSS_OK, "%s", vss_last_error());
  static const char *const want[] = {
      "drop_mask", "in_proj", "conv_silu", "x_proj", "dt_proj", "delta", "scan_k0",
      "scan_k1", "scan_k2", "scan_k3", "scan_merge", "out_norm", "out_proj", "norm",
      "residual", "fc1_gelu", "fc2", "norm2", "y"};
  const int nw = sizeof want / sizeof *want;
  ck_assert_int_eq(nm.n, nw);
  for (int i = 0; i < nw; i++) ck_assert_str_eq(nm.s[i], want[i]);
  ck_assert(nm.mask_shape[0] == 2 && nm.mask_shape[1] == f.g.B);
  /* the run through the callback is the run without one */
  ck_assert_int_eq(vss_block_forward_ex(f.blk, f.g.B, f.g.H, f.g.W, f.g.x, f.y2, &f.g.run,
                                        NULL, NULL), VSS_OK);
  ck_assert(bits_equal(f.y, f.y2, f.g.n));
  fx_close(&f);
}
END_TEST

/* ------------------------------------------------------------- layout */

/* dst (B, C, L) <-> (B, L, C), in either direction. */
static void swap_layout(size_t B, size_t rows, size_t cols, const float *src, float *dst)
{
  for (size_t b = 0; b < B; b++)
    for (size_t i = 0; i < rows; i++)
      for (size_t j = 0; j < cols; j++)
        dst[(b * cols + j) * rows + i] = src[(b * rows + i) * cols + j];
}

/* nchw in, nchw out: the nhwc result transposed, bit for bit (also under
 * post_norm and drop_path). */
START_TEST(nchw_equals_nhwc)
{
  static const char *const cases[] = {"v05_b2", "v0_b2"};
  const char *variant = variants[_i % n_variants];
  const int combo = (_i / n_variants) % 2, which = _i / n_variants / 2;
  struct fixture f;
  fx_open(&f, cases[which], variant);
  const size_t B = f.g.B, C = f.g.C, L = f.g.H * f.g.W;
  struct vss_run_opts ro = {.layout = VSS_NHWC};
  if (combo) {
    ro = (struct vss_run_opts){.train = 1, .drop_path = 0.3f, .seed = 5};
    ck_assert_int_eq(vss_block_set_post_norm(f.blk, 1), VSS_OK);
  }
  ck_assert_int_eq(fx_run(&f, &ro, f.y), VSS_OK);
  float *xc = malloc(f.g.n * sizeof *xc), *yc = malloc(f.g.n * sizeof *yc);
  swap_layout(B, L, C, f.g.x, xc);
  ro.layout = VSS_NCHW;
  ck_assert_int_eq(vss_block_forward_ex(f.blk, B, f.g.H, f.g.W, xc, yc, &ro, NULL, NULL),
                   VSS_OK);
  swap_layout(B, C, L, yc, f.y2);
  ck_assert_msg(bits_equal(f.y, f.y2, f.g.n), "%s %s%s: nchw != nhwc transposed",
                cases[which], variant, combo ? " (post_norm, drop_path)" : "");
  free(xc);
  free(yc);
  fx_close(&f);
}
END_TEST

START_TEST(nchw_golden)
{
  const char *variant = variants[_i];
  struct vss_golden g;
  struct vss_cmp r;
  ck_assert(vss_golden_open("golden/v05_nchw.safetensors", &g) == VSS_OK);
  ck_assert_int_eq(g.run.layout, VSS_NCHW);
  ck_assert(g.dims[1] == g.C && g.dims[2] == g.H && g.dims[3] == g.W && g.H != g.W);
  float *got = malloc(g.n * sizeof *got);
  ck_assert(vss_golden_run(&g, variant, NULL, NULL, got, &r, NULL, 0) == VSS_OK);
  ck_assert_msg(acceptable(r.verdict), "v05_nchw %s: %s", variant, vss_verdict_str(r.verdict));
  /* read as channel-last, the same numbers are another image: FAIL */
  g.run.layout = VSS_NHWC;
  ck_assert(vss_golden_run(&g, variant, NULL, NULL, got, &r, NULL, 0) != VSS_OK ||
            r.verdict == VSS_FAIL);
  free(got);
  vss_golden_close(&g);
}
END_TEST

/* ---------------------------------------------------------- bad input */

START_TEST(bad_options)
{
  struct fixture f;
  fx_open(&f, "v05_b2", "ref");
  const float bad[] = {1.0f, -0.1f, 1.5f, NAN, -INFINITY};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    for (int train = 0; train < 2; train++) {
      const struct vss_run_opts ro = {.train = train, .drop_path = bad[i]};
      ck_assert_int_eq(fx_run(&f, &ro, f.y), VSS_ERR_ARG);
      ck_assert_ptr_nonnull(strstr(vss_last_error(), "drop_path"));
      ck_assert_ptr_nonnull(strstr(vss_last_error(), "[0, 1)"));
    }
  const struct vss_run_opts lay = {.layout = 2};
  ck_assert_int_eq(fx_run(&f, &lay, f.y), VSS_ERR_ARG);
  ck_assert_ptr_nonnull(strstr(vss_last_error(), "layout"));

  /* a tensor whose layout does not match: the message says so */
  float *x;
  size_t sh[4];
  ck_assert_int_eq(vss_read_act(f.g.st, "x", f.g.C, VSS_NCHW, &x, sh), VSS_ERR_SHAPE);
  ck_assert_ptr_nonnull(strstr(vss_last_error(), "v05_b2.safetensors"));
  ck_assert_ptr_nonnull(strstr(vss_last_error(), "layout nchw"));
  ck_assert_ptr_nonnull(strstr(vss_last_error(), "channel-last"));
  struct vss_golden nc;
  ck_assert(vss_golden_open("golden/v05_nchw.safetensors", &nc) == VSS_OK);
  ck_assert_int_eq(vss_read_act(nc.st, "x", nc.C, VSS_NHWC, &x, sh), VSS_ERR_SHAPE);
  ck_assert_ptr_nonnull(strstr(vss_last_error(), "channel-first"));
  ck_assert_int_eq(vss_read_act(nc.st, "x", nc.C, VSS_NCHW, &x, sh), VSS_OK);
  ck_assert(sh[1] == nc.C);
  free(x);
  vss_golden_close(&nc);
  fx_close(&f);
}
END_TEST

/* A block file whose metadata post_norm is neither 1/0/true/false. */
START_TEST(bad_post_norm_metadata)
{
  static const char *const vals[] = {"maybe", "true", "0"};
  for (int v = 0; v < 3; v++) {
    const char *meta[] = {"post_norm", vals[v], NULL};
    const char *path = vss_test_copy_meta("golden/v0_tiny.safetensors", "pn.safetensors", meta);
    vss_block *b = NULL;
    vss_status s = vss_block_load(path, NULL, NULL, &b);
    if (v == 0) {
      ck_assert_int_eq(s, VSS_ERR_FORMAT);
      ck_assert_ptr_nonnull(strstr(vss_last_error(), "pn.safetensors"));
      ck_assert_ptr_nonnull(strstr(vss_last_error(), "post_norm"));
      ck_assert_ptr_nonnull(strstr(vss_last_error(), "maybe"));
    } else {
      ck_assert_int_eq(s, VSS_OK);
      ck_assert_int_eq(vss_block_get_config(b)->post_norm, v == 1);
    }
    vss_block_free(b);
  }
}
END_TEST

Suite *suite_options(void)
{
  Suite *s = suite_create("options");
  build_variants();
  const int nv = n_variants ? n_variants : 1;
  TCase *tc = tcase_create("drop_path");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, drop_mask_generator);
  tcase_add_loop_test(tc, drop_mask_matches_generator, 0, 3);
  tcase_add_loop_test(tc, p0_equals_inference, 0, 2 * nv);
  tcase_add_loop_test(tc, dropped_samples_pass_x, 0, nv);
  tcase_add_loop_test(tc, known_mask_reproduces_golden, 0, 3 * nv);
  suite_add_tcase(s, tc);
  tc = tcase_create("post_norm");
  tcase_set_timeout(tc, 120);
  tcase_add_loop_test(tc, post_norm_golden, 0, 2 * nv);
  tcase_add_test(tc, post_norm_config_field);
  tcase_add_test(tc, stage_order);
  tcase_add_test(tc, bad_post_norm_metadata);
  suite_add_tcase(s, tc);
  tc = tcase_create("layout");
  tcase_set_timeout(tc, 120);
  tcase_add_loop_test(tc, nchw_equals_nhwc, 0, 4 * nv);
  tcase_add_loop_test(tc, nchw_golden, 0, nv);
  tcase_add_test(tc, bad_options);
  suite_add_tcase(s, tc);
  return s;
}
