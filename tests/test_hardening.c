/* test_hardening.c - bad inputs not covered by test_io.c / test_cli.c,
 * non-finite values, size overflow, the fuzzer's regression inputs, and
 * determinism (issue #8; the whole catalogue is docs/BAD_INPUTS.md).
 *
 * "bad_inputs"   a claimed 2 GiB header (fails before reading the file),
 *                writing onto a FIFO, H*W*C overflowing size_t, a block
 *                whose workspace cannot be allocated, the fuzzer's
 *                regression inputs (tests/fuzz/corpus/regress_*)
 * "nonfinite"    NaN / Inf in the input and NaN in weights propagate the
 *                way PyTorch's do, identically for every runnable variant
 * "determinism"  every runnable variant gives the same bits on repeated
 *                runs, through a fresh block each time
 * The tests run from the repository root (they read golden/).
 */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "golden.h"
#include "vss_test.h"

/* Under AddressSanitizer an allocation the allocator cannot serve must come
 * back NULL (the library then reports VSS_ERR_NOMEM), as it does without
 * ASan; ASan's default is to abort.  Unused in builds without ASan. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }

#define V0B2 "golden/v0_b2.safetensors"   /* v0, z gate, no MLP, 2x3x4x24, Di 48 */
#define V05B2 "golden/v05_b2.safetensors" /* v05_noz, MLP, 2x4x3x20 */
#define V0T1 "golden/v0_T1.safetensors"   /* v0, 1x56x56x96: scan chunks, threads */
#define MAX_VARIANTS 16

/* The variants this CPU can run (SKIP lines for the others). */
static int runnable(const char *names[MAX_VARIANTS])
{
  struct vss_variant_info vi;
  int n = 0;
  for (size_t i = 0; vss_variant_info(i, &vi) == 0 && n < MAX_VARIANTS; i++)
    if (vi.runnable) names[n++] = vi.name;
  return n;
}

/* The last call failed with status want and a one-line message naming what. */
static void assert_failed(const char *what, vss_status got, vss_status want,
                          const char *needle)
{
  const char *msg = vss_last_error();
  ck_assert_msg(got == want, "%s: status %s, expected %s (%s)", what,
                vss_status_str(got), vss_status_str(want), msg);
  ck_assert_msg(msg[0] && !strchr(msg, '\n'), "%s: message empty or not one line: %s",
                what, msg);
  ck_assert_msg(!needle || strstr(msg, needle), "%s: message lacks '%s': %s", what,
                needle, msg);
}

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ----------------------------------------------------------- bad inputs */

/* A header length of 2 GiB, in a 40-byte file and in a sparse file of
 * 2 GiB + 64 bytes (which it would fit): both fail at once, before the
 * file is read (nothing of the 2 GiB is allocated). */
START_TEST(header_claims_2GiB)
{
  const uint64_t hlen = 1ull << 31;
  unsigned char head[40] = {0};
  memcpy(head, &hlen, 8);
  memcpy(head + 8, "{}", 2);
  const char *small = vss_test_write("claims2g_small.safetensors", head, sizeof head);
  const char *sparse = vss_test_write("claims2g_sparse.safetensors", head, sizeof head);
  ck_assert_int_eq(truncate(sparse, (off_t)(hlen + 64)), 0);
  const char *files[2] = {small, sparse};
  for (int i = 0; i < 2; i++) {
    double t0 = now();
    vss_st *f = (vss_st *)&f;
    assert_failed(files[i], vss_st_open(files[i], &f), VSS_ERR_FORMAT, "2147483648");
    ck_assert_ptr_null(f);
    ck_assert_msg(strstr(vss_last_error(), files[i]), "%s", vss_last_error());
    vss_block *b = (vss_block *)&b;
    assert_failed(files[i], vss_block_load(files[i], NULL, NULL, &b), VSS_ERR_FORMAT,
                  "absurd");
    ck_assert_ptr_null(b);
    ck_assert_msg(now() - t0 < 1.0, "%s: took %.2f s, must fail fast", files[i], now() - t0);
  }
}
END_TEST

/* vss_st_write never replaces something that is not a regular file (a FIFO
 * here; as root, --output /dev/null would otherwise become a file). */
START_TEST(write_onto_fifo)
{
  const char *p = vss_test_path("out.fifo");
  ck_assert_int_eq(mkfifo(p, 0644), 0);
  const float v = 1.0f;
  const size_t sh[1] = {1};
  const struct vss_st_out t = {"y", VSS_F32, 1, sh, &v};
  assert_failed("fifo", vss_st_write(p, &t, 1, NULL), VSS_ERR_IO, "not a regular file");
  struct stat st;
  ck_assert_int_eq(stat(p, &st), 0);
  ck_assert_msg(S_ISFIFO(st.st_mode), "the FIFO was replaced");
  unlink(p);
}
END_TEST

/* B*H*W*C overflowing size_t (only reachable through the API: a file's
 * shape cannot overflow, vss_st_open checks numel), and a forward whose
 * workspace cannot be allocated: clean errors, x never touched. */
START_TEST(forward_size_overflow)
{
  const char *v[MAX_VARIANTS];
  const int nv = runnable(v);
  float x[24] = {0}, y[24];
  for (int i = 0; i < nv; i++) {
    const struct vss_block_opts opts = {v[i], 0};
    vss_block *b;
    ck_assert_msg(vss_block_load(V0B2, NULL, &opts, &b) == VSS_OK, "%s", vss_last_error());
    const size_t big = (size_t)1 << 32;
    assert_failed("H*W overflows", vss_block_forward(b, 1, big, big, x, y), VSS_ERR_SHAPE,
                  "overflows");
    assert_failed("B*H*W*C overflows",
                  vss_block_forward(b, (size_t)1 << 20, (size_t)1 << 20, (size_t)1 << 20, x, y),
                  VSS_ERR_SHAPE, "overflows");
    assert_failed("B*H*W*C*4 overflows",
                  vss_block_forward(b, 1, (size_t)1 << 30, (size_t)1 << 28, x, y),
                  VSS_ERR_SHAPE, "overflows");
    /* 2^40 pixels: B*H*W*C fits, the workspace (petabytes) does not */
    assert_failed("workspace too large", vss_block_forward(b, 1, (size_t)1 << 20,
                                                           (size_t)1 << 20, x, y),
                  VSS_ERR_NOMEM, "pixel");
    assert_failed("zero dim", vss_block_forward(b, 1, 0, 4, x, y), VSS_ERR_SHAPE, "> 0");
    /* the block still works afterwards */
    float *x2 = calloc(2 * 3 * 4 * 24, sizeof *x2), *y2 = malloc(2 * 3 * 4 * 24 * sizeof *y2);
    ck_assert_int_eq(vss_block_forward(b, 2, 3, 4, x2, y2), VSS_OK);
    free(x2);
    free(y2);
    vss_block_free(b);
  }
}
END_TEST

/* Inputs the fuzzer found (tests/fuzz/corpus/regress_*), through the
 * normal library: how each must fail, with one line naming what; one that
 * loads is run (its x, every runnable variant, twice: same bits).  A UB
 * finding only clang's UBSan sees is caught by `make fuzz-corpus`; this
 * test keeps the path covered under the gcc ASan/UBSan suite. */
static const struct regress {
  const char *name, *file;
  vss_status open;    /* vss_st_open's status */
  vss_status load;    /* vss_block_load's (when open succeeds) */
  const char *needle; /* the message must hold it */
} regress[] = {
    /* dtype "\nF16" (a JSON escape): the message printed the newline and
     * became two lines; vss_fail now escapes control characters */
    {"newline_in_dtype", "tests/fuzz/corpus/regress_newline_in_dtype.safetensors",
     VSS_ERR_DTYPE, VSS_ERR_DTYPE, "'\\nF16'"},
    /* a v0 block with N = 1 (d_state): the avx2 scan's N = 1 path indexed
     * ch->dl[0] (float[16]) past its end, walking the 2-D array flat
     * (clang UBSan: index 24 out of bounds for type 'const float[16]') */
    {"avx2_scan_n1_bounds", "tests/fuzz/corpus/regress_avx2_scan_n1_bounds.safetensors",
     VSS_OK, VSS_OK, NULL},
};
#define N_REGRESS (int)(sizeof regress / sizeof regress[0])

START_TEST(fuzz_regression)
{
  const struct regress *r = &regress[_i];
  vss_st *f = NULL;
  vss_status s = vss_st_open(r->file, &f);
  if (r->open) {
    assert_failed(r->name, s, r->open, r->needle);
    ck_assert_ptr_null(f);
  } else {
    ck_assert_msg(s == VSS_OK, "%s: %s", r->name, vss_last_error());
    vss_st_close(f);
  }
  vss_block *b = NULL;
  s = vss_block_load(r->file, NULL, NULL, &b);
  if (r->load) {
    assert_failed(r->name, s, r->load, r->needle);
    ck_assert_ptr_null(b);
  } else {
    ck_assert_msg(s == VSS_OK, "%s: %s", r->name, vss_last_error());
    size_t sh[4];
    float *x = NULL;
    ck_assert(vss_st_open(r->file, &f) == VSS_OK);
    if (vss_read_bhwc(f, "x", vss_block_get_config(b)->C, &x, sh) == VSS_OK) {
      const size_t n = sh[0] * sh[1] * sh[2] * sh[3];
      float *y1 = malloc(n * sizeof *y1), *y2 = malloc(n * sizeof *y2);
      const char *v[MAX_VARIANTS];
      const int nv = runnable(v);
      ck_assert(y1 && y2);
      for (int i = 0; i < nv; i++) {
        const struct vss_block_opts opts = {v[i], 0};
        vss_block *bv;
        ck_assert(vss_block_load(r->file, NULL, &opts, &bv) == VSS_OK);
        ck_assert(vss_block_forward(bv, sh[0], sh[1], sh[2], x, y1) == VSS_OK);
        ck_assert(vss_block_forward(bv, sh[0], sh[1], sh[2], x, y2) == VSS_OK);
        ck_assert_msg(!memcmp(y1, y2, n * sizeof *y1), "%s: %s not deterministic", r->name,
                      v[i]);
        vss_block_free(bv);
      }
      free(y1);
      free(y2);
      free(x);
    }
    vss_st_close(f);
    vss_block_free(b);
  }
}
END_TEST

/* ----------------------------------------------------------- non-finite */

/* The golden case's x and the variant's y on it. */
struct run {
  struct vss_golden g;
  float *y;
};

static void run_open(struct run *r, const char *golden)
{
  ck_assert_msg(vss_golden_open(golden, &r->g) == VSS_OK, "%s", vss_last_error());
  r->y = malloc(r->g.n * sizeof *r->y);
  ck_assert_ptr_nonnull(r->y);
}

static void run_close(struct run *r)
{
  free(r->y);
  vss_golden_close(&r->g);
}

static void forward(const char *weights, const char *variant, const struct run *r,
                    const float *x, float *y)
{
  const struct vss_block_opts opts = {variant, 0};
  vss_block *b;
  ck_assert_msg(vss_block_load(weights, r->g.prefix, &opts, &b) == VSS_OK, "%s",
                vss_last_error());
  ck_assert_msg(vss_block_forward(b, r->g.B, r->g.H, r->g.W, x, y) == VSS_OK, "%s",
                vss_last_error());
  vss_block_free(b);
}

static int nan_count(const float *p, size_t n)
{
  int c = 0;
  for (size_t i = 0; i < n; i++) c += isnan(p[i]) != 0;
  return c;
}

/* One non-finite value in x[b] (NaN, +Inf or -Inf): PyTorch gives NaN for
 * the whole of y[b] (LayerNorm makes the pixel's row NaN, the 3x3 conv
 * spreads it, and the four scan directions carry it to every pixel: the
 * state h is NaN from that step on, forwards and backwards), and the other
 * image of the batch is untouched: bit for bit the clean result.  Every
 * variant must do the same (no NaN swallowed by a min/max or a clamp). */
START_TEST(nonfinite_input)
{
  static const char *const cases[2] = {V0B2, V05B2};
  static const float bad[3] = {NAN, INFINITY, -INFINITY};
  const char *v[MAX_VARIANTS];
  const int nv = runnable(v);
  struct run r;
  run_open(&r, cases[_i]);
  const size_t img = r.g.n / r.g.B; /* floats per image */
  float *x = malloc(r.g.n * sizeof *x), *y = malloc(r.g.n * sizeof *y);
  ck_assert(x && y);
  for (int i = 0; i < nv; i++) {
    forward(r.g.path, v[i], &r, r.g.x, r.y);
    ck_assert_int_eq(nan_count(r.y, r.g.n), 0);
    for (int k = 0; k < 3; k++) {
      const size_t b = (size_t)k % 2, other = 1 - b;
      const size_t at = b * img + img / 2 + 3; /* a pixel inside, channel 3 */
      memcpy(x, r.g.x, r.g.n * sizeof *x);
      x[at] = bad[k];
      forward(r.g.path, v[i], &r, x, y);
      ck_assert_msg(nan_count(y + b * img, img) == (int)img,
                    "%s %s: x[%zu] = %g: %d of %zu values of y[%zu] are NaN, expected all",
                    cases[_i], v[i], at, bad[k], nan_count(y + b * img, img), img, b);
      ck_assert_msg(!memcmp(y + other * img, r.y + other * img, img * sizeof *y),
                    "%s %s: x[%zu] = %g changed the other image y[%zu]", cases[_i], v[i],
                    at, bad[k], other);
    }
  }
  free(x);
  free(y);
  run_close(&r);
}
END_TEST

/* The LayerNorm of a row holding an Inf: mean = Inf, x - mean = NaN (the
 * Inf itself) or -Inf, variance NaN, so the whole normalised row is NaN,
 * as in PyTorch (torch.layer_norm of [1, inf] is [nan, nan]).  The other
 * rows are finite. */
static int ln_row_nan, ln_rows_finite;
static size_t ln_pixel;

static int check_norm(void *ctx, const char *name, const float *data, int ndim,
                      const size_t *shape)
{
  (void)ctx;
  if (strcmp(name, "norm") != 0) return 0;
  ck_assert_int_eq(ndim, 4);
  const size_t C = shape[3], M = shape[0] * shape[1] * shape[2];
  for (size_t m = 0; m < M; m++) {
    int nans = nan_count(data + m * C, C);
    if (m == ln_pixel) ln_row_nan = nans == (int)C;
    else ln_rows_finite &= nans == 0;
  }
  return 0;
}

START_TEST(inf_in_layernorm_row)
{
  const char *v[MAX_VARIANTS];
  const int nv = runnable(v);
  struct run r;
  run_open(&r, V05B2);
  float *x = malloc(r.g.n * sizeof *x);
  ck_assert_ptr_nonnull(x);
  memcpy(x, r.g.x, r.g.n * sizeof *x);
  ln_pixel = 5;
  x[ln_pixel * r.g.C + 7] = INFINITY;
  for (int i = 0; i < nv; i++) {
    const struct vss_block_opts opts = {v[i], 0};
    vss_block *b;
    ck_assert(vss_block_load(r.g.path, r.g.prefix, &opts, &b) == VSS_OK);
    ln_row_nan = 0;
    ln_rows_finite = 1;
    ck_assert(vss_block_forward_stages(b, r.g.B, r.g.H, r.g.W, x, r.y, check_norm, NULL) ==
              VSS_OK);
    ck_assert_msg(ln_row_nan, "%s: LayerNorm of the row holding Inf is not all NaN", v[i]);
    ck_assert_msg(ln_rows_finite, "%s: Inf leaked into other LayerNorm rows", v[i]);
    vss_block_free(b);
  }
  free(x);
  run_close(&r);
}
END_TEST

/* A copy of a golden case (block tensors and x, as F32) with one weight
 * element set to val (key NULL: none). */
static const char *patched_copy(const char *golden, const char *file, const char *key,
                                size_t idx, float val)
{
  vss_st *f;
  ck_assert_msg(vss_st_open(golden, &f) == VSS_OK, "%s", vss_last_error());
  const size_t n = vss_st_count(f);
  struct vss_st_out *o = calloc(n, sizeof *o);
  float **buf = calloc(n, sizeof *buf);
  size_t k = 0;
  int patched = 0;
  ck_assert(o && buf);
  for (size_t i = 0; i < n; i++) {
    const struct vss_tensor *t = vss_st_at(f, i);
    if (!strcmp(t->name, "y") || !strncmp(t->name, "stages.", 7)) continue;
    ck_assert(vss_st_to_f32(f, t, &buf[k]) == VSS_OK);
    if (key && !strcmp(t->name, key)) {
      ck_assert(idx < t->numel);
      buf[k][idx] = val;
      patched = 1;
    }
    o[k] = (struct vss_st_out){t->name, VSS_F32, t->ndim, t->shape, buf[k]};
    k++;
  }
  ck_assert_msg(!key || patched, "%s has no %s", golden, key);
  const char *path = vss_test_path(file);
  ck_assert_msg(vss_st_write(path, o, k, NULL) == VSS_OK, "%s", vss_last_error());
  for (size_t i = 0; i < k; i++) free(buf[i]);
  free(buf);
  free(o);
  vss_st_close(f);
  return path;
}

/* NaN in a weight: loading accepts it (PyTorch would too), the forward
 * propagates it.  NaN in out_proj row c or in fc2's bias c reaches channel
 * c of y only (the last ops are per-channel; no MLP after out_proj in v0);
 * NaN in norm.weight or A_logs reaches everything (in_proj mixes the
 * channels; a NaN state in one scan channel makes out_norm's rows NaN). */
static const struct nan_w {
  const char *golden, *key;
  size_t idx;
  int channel; /* -1: all of y NaN; else only this channel */
} nan_w[] = {
    {V0B2, "op.out_proj.weight", 3 * 48 + 0, 3},
    {V0B2, "norm.weight", 0, -1},
    {V05B2, "mlp.fc2.bias", 5, 5},
    {V05B2, "op.A_logs", 0, -1},
};

START_TEST(nan_in_weights)
{
  const struct nan_w *c = &nan_w[_i];
  const char *v[MAX_VARIANTS];
  const int nv = runnable(v);
  struct run r;
  run_open(&r, c->golden);
  const char *clean = patched_copy(c->golden, "clean.safetensors", NULL, 0, 0.0f);
  const char *bad = patched_copy(c->golden, "nan_w.safetensors", c->key, c->idx, NAN);
  float *y = malloc(r.g.n * sizeof *y);
  ck_assert_ptr_nonnull(y);
  for (int i = 0; i < nv; i++) {
    forward(clean, v[i], &r, r.g.x, r.y);
    forward(bad, v[i], &r, r.g.x, y);
    for (size_t j = 0; j < r.g.n; j++) {
      const int want_nan = c->channel < 0 || j % r.g.C == (size_t)c->channel;
      if (want_nan)
        ck_assert_msg(isnan(y[j]), "%s %s: NaN in %s[%zu]: y[%zu] = %g, expected NaN",
                      c->golden, v[i], c->key, c->idx, j, y[j]);
      else
        ck_assert_msg(!memcmp(&y[j], &r.y[j], sizeof *y),
                      "%s %s: NaN in %s[%zu]: y[%zu] = %g, expected the clean %g",
                      c->golden, v[i], c->key, c->idx, j, y[j], r.y[j]);
    }
  }
  free(y);
  run_close(&r);
}
END_TEST

/* ---------------------------------------------------------- determinism */

/* Each runnable variant, three runs through a fresh block each time (and
 * with the environment's thread count and with 3 threads): identical bits. */
static const char *const det_cases[] = {V0B2, V05B2, V0T1};

START_TEST(determinism)
{
  const char *v[MAX_VARIANTS];
  const int nv = runnable(v);
  static const int threads[2] = {0, 3};
  struct run r;
  run_open(&r, det_cases[_i]);
  float *y = malloc(r.g.n * sizeof *y);
  ck_assert_ptr_nonnull(y);
  for (int i = 0; i < nv; i++)
    for (int t = 0; t < 2; t++) {
      for (int rep = 0; rep < 3; rep++) {
        const struct vss_block_opts opts = {v[i], threads[t]};
        vss_block *b;
        ck_assert_msg(vss_block_load(r.g.path, r.g.prefix, &opts, &b) == VSS_OK, "%s",
                      vss_last_error());
        ck_assert(vss_block_forward(b, r.g.B, r.g.H, r.g.W, r.g.x, rep ? y : r.y) == VSS_OK);
        vss_block_free(b);
        if (!rep) continue;
        size_t j = 0;
        while (j < r.g.n && !memcmp(&y[j], &r.y[j], sizeof *y)) j++;
        ck_assert_msg(j == r.g.n, "%s %s threads=%d: run %d differs from run 0 at y[%zu]: "
                      "%.9g vs %.9g", det_cases[_i], v[i], threads[t], rep, j, y[j], r.y[j]);
      }
    }
  free(y);
  run_close(&r);
}
END_TEST

Suite *suite_hardening(void)
{
  Suite *s = suite_create("hardening");
  TCase *tc = tcase_create("bad_inputs");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, header_claims_2GiB);
  tcase_add_test(tc, write_onto_fifo);
  tcase_add_test(tc, forward_size_overflow);
  tcase_add_loop_test(tc, fuzz_regression, 0, N_REGRESS);
  suite_add_tcase(s, tc);

  tc = tcase_create("nonfinite");
  tcase_set_timeout(tc, 120);
  tcase_add_loop_test(tc, nonfinite_input, 0, 2);
  tcase_add_test(tc, inf_in_layernorm_row);
  tcase_add_loop_test(tc, nan_in_weights, 0, (int)(sizeof nan_w / sizeof *nan_w));
  suite_add_tcase(s, tc);

  tc = tcase_create("determinism");
  tcase_set_timeout(tc, 300);
  tcase_add_loop_test(tc, determinism, 0, (int)(sizeof det_cases / sizeof *det_cases));
  suite_add_tcase(s, tc);
  return s;
}
