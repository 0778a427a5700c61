/* fuzz_load.c - libFuzzer target over everything a file reaches (issue #8):
 * the safetensors parser (vss_st_open_mem, the same code as vss_st_open),
 * dtype conversion, the writer on what was read (round trip), block loading
 * and configuration inference (vss_block_load_st, the same code as
 * vss_block_load, prefix from the file's __metadata__ like a golden case),
 * input validation (tensor `x` read as (B,H,W,C) with the block's C) and,
 * for small valid inputs only, the forward of every variant built into the
 * fuzz library (ref, and avx2/avx512 where built and runnable), twice.
 * Inputs starting "VSSCFG" instead build a block of a config they choose
 * (synth(), below) to reach every kernel's odd sizes.
 *
 * Besides the sanitizers (address, undefined, libFuzzer's leak and OOM
 * checks) it aborts on a broken invariant:
 *   - a failing call leaves *out NULL and a non-empty one-line message;
 *   - every tensor is found by its name, numel is the product of its shape;
 *   - fp32 and fp64 conversion agree (the fp32 value is the fp64 one rounded);
 *   - the writer writes back what was read, and the file reads back equal;
 *   - a loaded block's config is inside the limits and matches its tensors;
 *   - the forward is deterministic: the same block twice, bit for bit.
 * Build and run: `make fuzz [FUZZ_SECONDS=60]` (Makefile, fuzz section).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "golden.h"
#include "vss_internal.h"

/* Bounds that keep an iteration in the millisecond range. */
#define MAX_CONVERT (1u << 20) /* elements converted per input, all tensors */
#define MAX_DIM 64             /* C, Di, N, R, hidden for a forward */
#define MAX_PIXELS 64          /* B*H*W for a forward */

#define CHECK(cond)                                                           \
  do {                                                                        \
    if (!(cond)) {                                                            \
      fprintf(stderr, "fuzz_load: invariant broken at %s:%d: %s\n  last "     \
              "error: %s\n", __FILE__, __LINE__, #cond, vss_last_error());    \
      abort();                                                                \
    }                                                                         \
  } while (0)

/* A failed call: a known status and a one-line, non-empty message. */
static void check_failure(vss_status s)
{
  const char *m = vss_last_error();
  CHECK(s > VSS_OK && s <= VSS_ERR_VARIANT);
  CHECK(m[0] != 0);
  CHECK(strchr(m, '\n') == NULL);
}

static int same_value(double a, double b)
{
  return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0;
}

static const char *scratch_path(void)
{
  static char p[64];
  if (!p[0])
    snprintf(p, sizeof p, "%s/vss_fuzz_rt.%ld.safetensors",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", (long)getpid());
  return p;
}

/* Every tensor: found by name, numel = prod(shape), fp32 == (float)fp64.
 * Then the converted tensors are written (F64, exact) and read back. */
static void check_file(const vss_st *f)
{
  const size_t n = vss_st_count(f);
  size_t budget = MAX_CONVERT;
  struct vss_st_out *out = calloc(n ? n : 1, sizeof *out);
  double **d64 = calloc(n ? n : 1, sizeof *d64);
  size_t nout = 0;
  CHECK(out && d64);
  CHECK(vss_st_at(f, n) == NULL);
  for (size_t i = 0; i < n; i++) {
    const struct vss_tensor *t = vss_st_at(f, i);
    CHECK(t && t->name && t->ndim >= 0 && t->ndim <= VSS_MAX_DIMS);
    CHECK(vss_st_find(f, t->name) == t);
    size_t numel = 1;
    for (int d = 0; d < t->ndim; d++) numel *= t->shape[d];
    CHECK(numel == t->numel);
    if (t->numel > budget) continue;
    budget -= t->numel;
    float *a = NULL;
    double *b = NULL;
    CHECK(vss_st_to_f32(f, t, &a) == VSS_OK && vss_st_to_f64(f, t, &b) == VSS_OK);
    for (size_t k = 0; k < t->numel; k++) CHECK(same_value(a[k], (float)b[k]));
    free(a);
    if (!t->name[0]) { free(b); continue; } /* the writer refuses "" */
    d64[nout] = b;
    out[nout++] = (struct vss_st_out){t->name, VSS_F64, t->ndim, t->shape, b};
  }
  vss_status s = vss_st_write(scratch_path(), out, nout, NULL);
  if (s) {
    check_failure(s); /* a name the writer cannot write (not UTF-8 after decoding) */
  } else {
    vss_st *g = NULL;
    CHECK(vss_st_open(scratch_path(), &g) == VSS_OK);
    CHECK(vss_st_count(g) == nout);
    for (size_t i = 0; i < nout; i++) {
      const struct vss_tensor *t = vss_st_find(g, out[i].name);
      CHECK(t && t->dtype == VSS_F64 && t->ndim == out[i].ndim);
      CHECK(memcmp(t->shape, out[i].shape, (size_t)t->ndim * sizeof *t->shape) == 0);
      CHECK(t->numel == 0 || memcmp(t->data, d64[i], t->numel * sizeof(double)) == 0);
    }
    vss_st_close(g);
  }
  unlink(scratch_path());
  for (size_t i = 0; i < nout; i++) free(d64[i]);
  free(d64);
  free(out);
}

static int small(const struct vss_block_config *c)
{
  return c->C <= MAX_DIM && c->Di <= MAX_DIM && c->N <= MAX_DIM && c->R <= MAX_DIM &&
         c->mlp_hidden <= MAX_DIM;
}

/* Shape sanity of the stage dumps of one forward. */
static int on_stage(void *ctx, const char *name, const float *data, int ndim,
                    const size_t *shape)
{
  const size_t *bhw = ctx;
  CHECK(name && data && (ndim == 4 || ndim == 5));
  CHECK(shape[0] == bhw[0] && shape[1] == bhw[1] && shape[2] == bhw[2]);
  volatile float sink = 0;
  size_t n = 1;
  for (int d = 0; d < ndim; d++) n *= shape[d];
  for (size_t i = 0; i < n; i++) sink += data[i]; /* every element readable */
  (void)sink;
  return 0;
}

/* The forward of every runnable variant, twice on one block: same bits. */
static void run_forward(const vss_st *f, const char *prefix, const float *x,
                        const size_t sh[4])
{
  const size_t n = sh[0] * sh[1] * sh[2] * sh[3];
  float *y1 = malloc(n * sizeof *y1), *y2 = malloc(n * sizeof *y2);
  CHECK(y1 && y2);
  struct vss_variant_info vi;
  for (size_t v = 0; vss_variant_info(v, &vi) == 0; v++) {
    if (!vi.runnable) continue;
    const struct vss_block_opts opts = {vi.name, 0};
    vss_block *b = NULL;
    CHECK(vss_block_load_st(f, prefix, &opts, &b) == VSS_OK);
    CHECK(vss_block_forward(b, sh[0], sh[1], sh[2], x, y1) == VSS_OK);
    if (!strcmp(vi.name, "ref"))
      CHECK(vss_block_forward_stages(b, sh[0], sh[1], sh[2], x, y2, on_stage,
                                     (void *)sh) == VSS_OK);
    else
      CHECK(vss_block_forward(b, sh[0], sh[1], sh[2], x, y2) == VSS_OK);
    CHECK(memcmp(y1, y2, n * sizeof *y1) == 0);
    vss_block_free(b);
  }
  free(y1);
  free(y2);
}

/* Inputs starting "VSSCFG" are not files: bytes 6..15 pick a small config
 * and the input shape (every kernel's tails: C, Di, N, R, hidden from 1 up,
 * with and without z, conv bias, MLP), the rest fills the weights and x.
 * Each variant runs it through vss_block_create, twice; ref also through
 * the stage path.  (Random mutation of a file can hardly change a block's
 * shapes consistently across its tensors; this mode does.) */
#define SYNTH_MAGIC "VSSCFG"
#define SYNTH_HEAD 16

static void synth(const uint8_t *d, size_t size)
{
  const uint8_t *b = d + 6;
  struct vss_block_config c = {0};
  /* up to 2x16 lanes plus a tail in every dimension, kept small for speed */
  c.C = 1 + b[0] % 40;
  c.Di = 1 + b[1] % 40;
  c.N = 1 + b[2] % 17;
  c.R = 1 + b[3] % 5;
  c.mlp_hidden = b[4] & 1 ? 1 + b[5] % 40 : 0;
  c.has_z = b[6] & 1;
  c.conv_bias = (b[6] >> 1) & 1;
  c.eps = 1e-5f;
  const size_t sh[4] = {1 + b[7] % 2, 1 + b[8] % 6, 1 + b[9] % 6, c.C};
  const uint8_t *fill = d + SYNTH_HEAD;
  const size_t nfill = size - SYNTH_HEAD;
  /* every weight and x from one pool: values k/64, k a signed byte */
  const size_t C = c.C, Di = c.Di, N = c.N, R = c.R, Hd = c.mlp_hidden;
  const size_t counts[] = {C, C, (c.has_z ? 2 : 1) * Di * C, 9 * Di, Di, 4 * (R + 2 * N) * Di,
                           4 * Di * R, 4 * Di, 4 * Di * N, 4 * Di, Di, Di, C * Di,
                           C, C, Hd * C, Hd, C * Hd, C};
  size_t total = sh[0] * sh[1] * sh[2] * C, at = 0;
  for (size_t i = 0; i < sizeof counts / sizeof *counts; i++) total += counts[i];
  float *pool = malloc(total * sizeof *pool), *y1 = NULL, *y2 = NULL;
  CHECK(pool);
  for (size_t i = 0; i < total; i++)
    pool[i] = nfill ? (float)(int8_t)fill[i % nfill] / 64.0f : 0.1f;
  const float *p[19];
  for (size_t i = 0; i < 19; i++) {
    p[i] = counts[i] ? pool + at : NULL;
    at += counts[i];
  }
  const float *x = pool + at;
  const struct vss_block_weights w = {
      .norm_w = p[0], .norm_b = p[1], .in_proj_w = p[2], .conv_w = p[3],
      .conv_b = c.conv_bias ? p[4] : NULL, .x_proj_w = p[5], .dt_projs_w = p[6],
      .dt_projs_b = p[7], .A_logs = p[8], .Ds = p[9], .out_norm_w = p[10],
      .out_norm_b = p[11], .out_proj_w = p[12], .norm2_w = Hd ? p[13] : NULL,
      .norm2_b = Hd ? p[14] : NULL, .fc1_w = p[15], .fc1_b = p[16], .fc2_w = p[17],
      .fc2_b = Hd ? p[18] : NULL};
  const size_t n = sh[0] * sh[1] * sh[2] * C;
  y1 = malloc(n * sizeof *y1);
  y2 = malloc(n * sizeof *y2);
  CHECK(y1 && y2);
  struct vss_variant_info vi;
  for (size_t v = 0; vss_variant_info(v, &vi) == 0; v++) {
    if (!vi.runnable) continue;
    const struct vss_block_opts opts = {vi.name, 0};
    vss_block *blk = NULL;
    CHECK(vss_block_create(&c, &w, &opts, &blk) == VSS_OK);
    CHECK(vss_block_forward(blk, sh[0], sh[1], sh[2], x, y1) == VSS_OK);
    if (!strcmp(vi.name, "ref"))
      CHECK(vss_block_forward_stages(blk, sh[0], sh[1], sh[2], x, y2, on_stage,
                                     (void *)sh) == VSS_OK);
    else
      CHECK(vss_block_forward(blk, sh[0], sh[1], sh[2], x, y2) == VSS_OK);
    CHECK(memcmp(y1, y2, n * sizeof *y1) == 0);
    vss_block_free(blk);
  }
  free(y1);
  free(y2);
  free(pool);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static int quiet;
  if (!quiet) { /* the dispatcher's choice, not the fuzzer's business */
    unsetenv("VSS_VARIANT");
    unsetenv("VSS_VERBOSE");
    quiet = 1;
  }
  if (size >= SYNTH_HEAD && !memcmp(data, SYNTH_MAGIC, 6)) {
    synth(data, size);
    return 0;
  }
  vss_st *f = (vss_st *)&f;
  vss_status s = vss_st_open_mem(data, size, "fuzz.safetensors", &f);
  if (s) {
    check_failure(s);
    CHECK(f == NULL);
    return 0;
  }
  CHECK(f != NULL && !strcmp(vss_st_path(f), "fuzz.safetensors"));
  check_file(f);

  /* the block, as `vssbench verify` loads a golden case */
  const char *prefix = vss_st_meta(f, "prefix");
  const struct vss_block_opts ref = {"ref", 0};
  vss_block *b = (vss_block *)&b;
  s = vss_block_load_st(f, prefix, &ref, &b);
  if (s) {
    check_failure(s);
    CHECK(b == NULL);
    vss_st_close(f);
    return 0;
  }
  const struct vss_block_config c = *vss_block_get_config(b);
  vss_block_free(b);
  CHECK(c.C && c.Di && c.N && c.R && c.eps > 0);
  CHECK(c.C <= (1u << 20) && c.Di <= (1u << 20) && c.N <= 4096);

  /* the input, as `vssbench run` reads it */
  float *x = (float *)&x;
  size_t sh[4];
  s = vss_read_bhwc(f, "x", c.C, &x, sh);
  if (s) {
    check_failure(s);
    CHECK(x == NULL);
  } else {
    CHECK(sh[3] == c.C && sh[0] && sh[1] && sh[2]);
    if (small(&c) && sh[0] * sh[1] * sh[2] <= MAX_PIXELS) run_forward(f, prefix, x, sh);
    free(x);
  }
  vss_st_close(f);
  return 0;
}
