/* bench_data.c - the shapes, deterministic random data at the spec's scales,
 * and the parts of a block (which layernorm / linear runs where). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"


const char *const bench_part_name[BP_COUNT] = {
    "norm", "out_norm", "norm2", "in_proj", "x_proj", "dt_proj", "out_proj", "fc1", "fc2",
};

/* ------------------------------------------------------------- random */

/* splitmix64, seeded from a fixed seed and a name (FNV-1a), so every
 * buffer of every shape is reproducible on its own. */
void bench_rng_seed(struct bench_rng *r, const char *what, uint64_t seed)
{
  uint64_t h = 1469598103934665603ull;
  for (const char *c = what; *c; c++) h = (h ^ (unsigned char)*c) * 1099511628211ull;
  r->s = h ^ seed;
}

static uint64_t next64(struct bench_rng *r)
{
  uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

float bench_uniform(struct bench_rng *r, float lo, float hi)
{
  const double u = (double)(next64(r) >> 11) * 0x1.0p-53; /* [0, 1) */
  return (float)(lo + (hi - lo) * u);
}

float bench_normal(struct bench_rng *r, float mean, float std)
{
  const double u1 = ((double)(next64(r) >> 11) + 1.0) * 0x1.0p-53; /* (0, 1] */
  const double u2 = (double)(next64(r) >> 11) * 0x1.0p-53;
  return (float)(mean + std * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

void bench_fill(struct bench_rng *r, float *p, size_t n, enum bench_fill kind,
                float scale)
{
  for (size_t i = 0; i < n; i++) {
    const double v = bench_normal(r, 0.0f, scale);
    switch (kind) {
    case FILL_NORMAL: p[i] = (float)v; break;
    case FILL_SILU_NORMAL: p[i] = (float)(v / (1.0 + exp(-v))); break;
    case FILL_GELU_NORMAL: p[i] = (float)(0.5 * v * (1.0 + erf(v / sqrt(2.0)))); break;
    }
  }
}

float *bench_alloc(size_t n)
{
  const size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
  float *p = aligned_alloc(64, bytes ? bytes : 64);
  if (!p) {
    fprintf(stderr, "vss_bench: out of memory (%zu floats)\n", n);
    exit(1);
  }
  memset(p, 0, bytes);
  return p;
}

/* ------------------------------------------------------------ weights */

/* Carves consecutive tensors out of one buffer (or only counts them). */
struct carver {
  float *base;
  size_t used;
  struct bench_rng *rng;
};

static float *carve(struct carver *c, size_t n)
{
  float *p = c->base ? c->base + c->used : NULL;
  c->used += n;
  return p;
}

static const float *normal_t(struct carver *c, size_t n, float mean, float std)
{
  float *p = carve(c, n);
  for (size_t i = 0; p && i < n; i++) p[i] = bench_normal(c->rng, mean, std);
  return p;
}

static const float *uniform_t(struct carver *c, size_t n, float bound)
{
  float *p = carve(c, n);
  for (size_t i = 0; p && i < n; i++) p[i] = bench_uniform(c->rng, -bound, bound);
  return p;
}

/* Every tensor of the block in one pass; c->base NULL only counts. */
static void draw_weights(const struct bench_shape *s, struct carver *c,
                         struct vss_block_weights *w)
{
  const size_t C = s->C, Di = s->Di, N = s->N, R = s->R, Hd = s->hidden, K = VSS_K;
  w->norm_w = normal_t(c, C, 1.0f, 0.1f);
  w->norm_b = normal_t(c, C, 0.0f, 0.1f);
  w->in_proj_w = normal_t(c, (s->has_z ? 2 : 1) * Di * C, 0.0f, 0.02f);
  w->conv_w = uniform_t(c, Di * 9, 1.0f / 3.0f);
  w->conv_b = s->conv_bias ? uniform_t(c, Di, 1.0f / 3.0f) : NULL;
  w->x_proj_w = uniform_t(c, K * (R + 2 * N) * Di, (float)(1.0 / sqrt((double)Di)));
  w->dt_projs_w = uniform_t(c, K * Di * R, (float)(1.0 / sqrt((double)R)));
  float *dtb = carve(c, K * Di), *alog = carve(c, K * Di * N);
  for (size_t i = 0; dtb && i < K * Di; i++) { /* inverse softplus of dt */
    const double dt = exp(bench_uniform(c->rng, (float)log(1e-3), (float)log(0.1)));
    dtb[i] = (float)(dt + log(-expm1(-dt))) + bench_normal(c->rng, 0.0f, 0.1f);
  }
  for (size_t i = 0; alog && i < K * Di * N; i++)
    alog[i] = (float)log((double)(i % N + 1)) + bench_normal(c->rng, 0.0f, 0.1f);
  w->dt_projs_b = dtb;
  w->A_logs = alog;
  w->Ds = normal_t(c, K * Di, 1.0f, 0.1f);
  w->out_norm_w = normal_t(c, Di, 1.0f, 0.1f);
  w->out_norm_b = normal_t(c, Di, 0.0f, 0.1f);
  w->out_proj_w = normal_t(c, C * Di, 0.0f, 0.02f);
  if (Hd) {
    w->norm2_w = normal_t(c, C, 1.0f, 0.1f);
    w->norm2_b = normal_t(c, C, 0.0f, 0.1f);
    w->fc1_w = normal_t(c, Hd * C, 0.0f, 0.02f);
    w->fc1_b = normal_t(c, Hd, 0.0f, 0.02f);
    w->fc2_w = normal_t(c, C * Hd, 0.0f, 0.02f);
    w->fc2_b = normal_t(c, C, 0.0f, 0.02f);
  }
}

size_t bench_weight_count(const struct bench_shape *s)
{
  struct vss_block_weights w;
  struct carver count = {NULL, 0, NULL};
  draw_weights(s, &count, &w);
  return count.used;
}

void bench_weights_make(const struct bench_shape *s, struct bench_weights *bw)
{
  struct bench_rng rng;
  memset(bw, 0, sizeof *bw);
  bw->n = bench_weight_count(s);
  const size_t nA = VSS_K * s->Di * s->N;
  bw->buf = bench_alloc(bw->n + nA);
  bench_rng_seed(&rng, s->name, 20240601);
  struct carver fill = {bw->buf, 0, &rng};
  draw_weights(s, &fill, &bw->w);
  bw->A = bw->buf + bw->n;
  for (size_t i = 0; i < nA; i++) bw->A[i] = -expf(bw->w.A_logs[i]);
  bw->cfg = (struct vss_block_config){.C = s->C, .Di = s->Di, .N = s->N, .R = s->R,
                                      .mlp_hidden = s->hidden, .has_z = s->has_z,
                                      .conv_bias = s->conv_bias, .eps = 1e-5f};
}

void bench_weights_free(struct bench_weights *bw)
{
  free(bw->buf);
  memset(bw, 0, sizeof *bw);
}

/* -------------------------------------------------------------- parts */

int bench_layernorm_part(const struct bench_shape *s,
                         const struct vss_block_weights *w, enum bench_part p,
                         size_t *dim, const float **g, const float **b)
{
  static const struct vss_block_weights none;
  if (!w) w = &none;
  switch (p) {
  case BP_NORM: *dim = s->C; *g = w->norm_w; *b = w->norm_b; return 1;
  case BP_OUT_NORM: *dim = s->Di; *g = w->out_norm_w; *b = w->out_norm_b; return 1;
  case BP_NORM2:
    *dim = s->C; *g = w->norm2_w; *b = w->norm2_b;
    return s->hidden != 0;
  default: return 0;
  }
}

int bench_linear_part(const struct bench_shape *s,
                      const struct vss_block_weights *w, enum bench_part p,
                      struct vss_linear_desc d[VSS_K], size_t *ldx, size_t *ldy)
{
  /* sizes only: the biases' presence still counts (bench_count_linear) */
  static const float no_data[1];
  static const struct vss_block_weights sizes_only = {.fc1_b = no_data, .fc2_b = no_data};
  const size_t C = s->C, Di = s->Di, G = s->R + 2 * s->N, Hd = s->hidden;
  const size_t Dz = s->has_z ? 2 * Di : Di;
  if (!w) w = &sizes_only;
  switch (p) {
  case BP_IN_PROJ:
    d[0] = (struct vss_linear_desc){Dz, C, w->in_proj_w, NULL, VSS_ACT_NONE, 0};
    *ldx = C, *ldy = Dz;
    return 1;
  case BP_X_PROJ:
    d[0] = (struct vss_linear_desc){VSS_K * G, Di, w->x_proj_w, NULL, VSS_ACT_NONE, 0};
    *ldx = Di, *ldy = VSS_K * G;
    return 1;
  case BP_DT_PROJ:
    for (int k = 0; k < VSS_K; k++)
      d[k] = (struct vss_linear_desc){Di, s->R, w->dt_projs_w ? w->dt_projs_w + k * Di * s->R : NULL,
                                      NULL, VSS_ACT_NONE, 0};
    *ldx = VSS_K * G, *ldy = VSS_K * Di;
    return VSS_K;
  case BP_OUT_PROJ:
    d[0] = (struct vss_linear_desc){C, Di, w->out_proj_w, NULL, VSS_ACT_NONE, 1};
    *ldx = Di, *ldy = C;
    return 1;
  case BP_FC1:
    d[0] = (struct vss_linear_desc){Hd, C, w->fc1_w, w->fc1_b, VSS_ACT_GELU, 0};
    *ldx = C, *ldy = Hd;
    return Hd != 0;
  case BP_FC2:
    d[0] = (struct vss_linear_desc){C, Hd, w->fc2_w, w->fc2_b, VSS_ACT_NONE, 1};
    *ldx = Hd, *ldy = C;
    return Hd != 0;
  default: return 0;
  }
}
