/* block.c - the VSSBlock driver, written once over struct vss_ops.
 *
 * Data flow (DESIGN.md §2), M = B*H*W pixels, all channel-last:
 *   xn  = LN(x)                      (M, C)
 *   xz  = in_proj(xn)                (M, Di or 2Di)   [x | z]
 *   u   = silu(dwconv3x3(xz[:, :Di]) + b)   (M, Di)
 *   dbl = x_proj(u), 4 directions at once   (M, 4(R+2N))
 *   dt  = dt_proj_k(dbl[:, k, :R])   (M, 4Di)          one linear per k
 *   ys  = ssm_scan(...)              (M, Di)   softplus, recurrence, merge
 *   yn  = LN(ys; out_norm) [* silu(z)]
 *   y   = x + out_proj(yn)           (accumulating linear: fused residual)
 *   MLP: y += fc2(gelu(fc1(LN(y; norm2))))
 * Everything but the conv and the scan is position-wise, so it runs on all
 * B*H*W rows at once.  The stage callback path recomputes the pieces that
 * the fused path never materialises (delta, single directions, branches).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vss_internal.h"

struct vss_block {
  struct vss_block_config cfg;
  struct vss_ops ops;
  const char *variant;
  int threads;
  float *wbuf;                  /* every weight, one allocation */
  struct vss_block_weights w;   /* pointers into wbuf */
  float *A;                     /* -exp(A_logs), (4Di, N), in wbuf */
  struct vss_linear in_proj, x_proj, dt_proj[VSS_K], out_proj, fc1, fc2;
  float *ws;                    /* workspace, grown on demand */
  size_t ws_cap;                /* its capacity in floats */
};

/* ------------------------------------------------------------- weights */

/* One row per weight tensor: where it lives in struct vss_block_weights
 * and how many floats it has for a config (0: absent for this config). */
struct wdesc {
  size_t off;
  const char *name;
};
#define W(field) {offsetof(struct vss_block_weights, field), #field}
static const struct wdesc wtab[] = {
    W(norm_w),     W(norm_b),     W(in_proj_w),  W(conv_w),     W(conv_b),
    W(x_proj_w),   W(dt_projs_w), W(dt_projs_b), W(A_logs),     W(Ds),
    W(out_norm_w), W(out_norm_b), W(out_proj_w), W(norm2_w),    W(norm2_b),
    W(fc1_w),      W(fc1_b),      W(fc2_w),      W(fc2_b),
};
#undef W
#define N_W (sizeof wtab / sizeof wtab[0])

static const float **wslot(struct vss_block_weights *w, size_t i)
{
  return (const float **)((char *)w + wtab[i].off);
}

/* Element counts of every weight under cfg; *ovf set on size overflow. */
static void wcounts(const struct vss_block_config *c, size_t n[N_W], int *ovf)
{
  const size_t C = c->C, Di = c->Di, N = c->N, R = c->R, Hd = c->mlp_hidden;
  const size_t K = VSS_K, mlp = Hd ? 1 : 0;
  const size_t cnt[N_W] = {
      C,
      C,
      vss_mul_ovf(vss_mul_ovf(Di, c->has_z ? 2 : 1, ovf), C, ovf),
      vss_mul_ovf(Di, 9, ovf),
      c->conv_bias ? Di : 0,
      vss_mul_ovf(vss_mul_ovf(K, R + 2 * N, ovf), Di, ovf),
      vss_mul_ovf(vss_mul_ovf(K, Di, ovf), R, ovf),
      K * Di,
      vss_mul_ovf(K * Di, N, ovf),
      K * Di,
      Di,
      Di,
      vss_mul_ovf(C, Di, ovf),
      mlp * C,
      mlp * C,
      vss_mul_ovf(Hd, C, ovf),
      Hd,
      vss_mul_ovf(C, Hd, ovf),
      mlp * C,
  };
  memcpy(n, cnt, sizeof cnt);
}

static vss_status check_config(const struct vss_block_config *c)
{
  if (!c->C || !c->Di || !c->N || !c->R)
    return vss_fail(VSS_ERR_SHAPE, "block config: C=%zu Di=%zu N=%zu R=%zu must all be > 0",
                    c->C, c->Di, c->N, c->R);
  if (c->C > (1u << 20) || c->Di > (1u << 20) || c->N > 4096 || c->R > (1u << 20) ||
      c->mlp_hidden > (1u << 22))
    return vss_fail(VSS_ERR_SHAPE, "block config: implausible size (C=%zu Di=%zu N=%zu R=%zu hidden=%zu)",
                    c->C, c->Di, c->N, c->R, c->mlp_hidden);
  if (!(c->eps > 0.0f) || !isfinite(c->eps))
    return vss_fail(VSS_ERR_ARG, "block config: eps must be a positive finite number");
  return VSS_OK;
}

/* ------------------------------------------------------------ creation */

static vss_status prepare(vss_block *b, struct vss_linear *lin, size_t n_out,
                          size_t n_in, const float *w, const float *bias,
                          int act, int accumulate, const char *what)
{
  lin->d = (struct vss_linear_desc){n_out, n_in, w, bias, act, accumulate};
  lin->priv = NULL;
  lin->priv_free = NULL;
  if (b->ops.linear_prepare(lin) != 0)
    return vss_fail(VSS_ERR_NOMEM, "%s: cannot prepare %s (%zu x %zu)",
                    b->variant, what, n_out, n_in);
  return VSS_OK;
}

static void release(struct vss_linear *lin)
{
  if (lin->priv_free) lin->priv_free(lin->priv);
  lin->priv = NULL;
  lin->priv_free = NULL;
}

void vss_block_free(vss_block *b)
{
  if (!b) return;
  release(&b->in_proj);
  release(&b->x_proj);
  for (int k = 0; k < VSS_K; k++) release(&b->dt_proj[k]);
  release(&b->out_proj);
  release(&b->fc1);
  release(&b->fc2);
  free(b->wbuf);
  free(b->ws);
  free(b);
}

vss_status vss_block_create(const struct vss_block_config *cfg,
                            const struct vss_block_weights *w,
                            const struct vss_block_opts *opts, vss_block **out)
{
  if (!cfg || !w || !out)
    return vss_fail(VSS_ERR_ARG, "vss_block_create: NULL argument");
  *out = NULL;
  vss_status st = check_config(cfg);
  if (st) return st;
  if (opts && opts->threads < 0)
    return vss_fail(VSS_ERR_ARG, "vss_block_create: threads must be >= 0, got %d", opts->threads);

  size_t n[N_W], total = 0;
  int ovf = 0;
  wcounts(cfg, n, &ovf);
  const size_t nA = vss_mul_ovf(VSS_K * cfg->Di, cfg->N, &ovf);
  for (size_t i = 0; i < N_W; i++) {
    const float *src = *wslot((struct vss_block_weights *)w, i);
    if (n[i] && !src)
      return vss_fail(VSS_ERR_MISSING, "vss_block_create: weight %s is required by the config but NULL",
                      wtab[i].name);
    if (__builtin_add_overflow(total, n[i], &total)) ovf = 1;
  }
  if (__builtin_add_overflow(total, nA, &total) || ovf ||
      total > SIZE_MAX / sizeof(float))
    return vss_fail(VSS_ERR_NOMEM, "vss_block_create: weight sizes overflow");

  vss_block *b = calloc(1, sizeof *b);
  if (!b) return vss_fail(VSS_ERR_NOMEM, "vss_block_create: out of memory");
  b->cfg = *cfg;
  b->threads = opts ? opts->threads : 0;
  st = vss_resolve_variant(opts ? opts->variant : NULL, &b->ops, &b->variant);
  if (st) { free(b); return st; }

  b->wbuf = malloc(total * sizeof(float) + 1);
  if (!b->wbuf) { free(b); return vss_fail(VSS_ERR_NOMEM, "vss_block_create: out of memory for %zu weights", total); }
  float *p = b->wbuf;
  for (size_t i = 0; i < N_W; i++) {
    const float *src = *wslot((struct vss_block_weights *)w, i);
    *wslot(&b->w, i) = n[i] ? p : NULL;
    if (n[i]) memcpy(p, src, n[i] * sizeof(float));
    p += n[i];
  }
  b->A = p; /* A = -exp(A_logs), computed once in fp32 (spec §2.6) */
  for (size_t i = 0; i < nA; i++) b->A[i] = -expf(b->w.A_logs[i]);

  const size_t C = cfg->C, Di = cfg->Di, N = cfg->N, R = cfg->R;
  const size_t Dz = cfg->has_z ? 2 * Di : Di, Hd = cfg->mlp_hidden;
  st = prepare(b, &b->in_proj, Dz, C, b->w.in_proj_w, NULL, VSS_ACT_NONE, 0, "in_proj");
  if (!st) st = prepare(b, &b->x_proj, VSS_K * (R + 2 * N), Di, b->w.x_proj_w, NULL,
                        VSS_ACT_NONE, 0, "x_proj");
  for (int k = 0; k < VSS_K && !st; k++)
    st = prepare(b, &b->dt_proj[k], Di, R, b->w.dt_projs_w + (size_t)k * Di * R, NULL,
                 VSS_ACT_NONE, 0, "dt_proj");
  if (!st) st = prepare(b, &b->out_proj, C, Di, b->w.out_proj_w, NULL, VSS_ACT_NONE, 1, "out_proj");
  if (!st && Hd) st = prepare(b, &b->fc1, Hd, C, b->w.fc1_w, b->w.fc1_b, VSS_ACT_GELU, 0, "fc1");
  if (!st && Hd) st = prepare(b, &b->fc2, C, Hd, b->w.fc2_w, b->w.fc2_b, VSS_ACT_NONE, 1, "fc2");
  if (st) { vss_block_free(b); return st; }
  *out = b;
  return VSS_OK;
}

const struct vss_block_config *vss_block_get_config(const vss_block *b)
{
  return b ? &b->cfg : NULL;
}

const char *vss_block_variant(const vss_block *b) { return b ? b->variant : NULL; }

/* ------------------------------------------------------------ workspace */

enum { BUF_XN, BUF_XZ, BUF_U, BUF_DBL, BUF_DT, BUF_YS, BUF_HID, N_BUF };

/* Per-pixel widths of the workspace buffers (stage dumps need two more
 * scratch buffers, of width 4Di and max(Di, C)). */
static void buf_widths(const struct vss_block_config *c, int stages, size_t wd[N_BUF + 2])
{
  const size_t Di = c->Di;
  wd[BUF_XN] = c->C;
  wd[BUF_XZ] = c->has_z ? 2 * Di : Di;
  wd[BUF_U] = Di;
  wd[BUF_DBL] = VSS_K * (c->R + 2 * c->N);
  wd[BUF_DT] = VSS_K * Di;
  wd[BUF_YS] = Di;
  wd[BUF_HID] = c->mlp_hidden;
  wd[N_BUF] = stages ? VSS_K * Di : 0;
  wd[N_BUF + 1] = stages ? (Di > c->C ? Di : c->C) : 0;
}

/* Carves the workspace for M pixels into bufs (64-byte aligned pieces). */
static vss_status workspace(vss_block *b, size_t M, int stages, float *bufs[N_BUF + 2])
{
  size_t wd[N_BUF + 2], per_row = 0;
  int ovf = 0;
  buf_widths(&b->cfg, stages, wd);
  for (int i = 0; i < N_BUF + 2; i++) per_row += wd[i] + 16;
  const size_t need = vss_mul_ovf(M, per_row, &ovf);
  if (ovf || need > SIZE_MAX / sizeof(float) / 2)
    return vss_fail(VSS_ERR_NOMEM, "forward: workspace for %zu pixels overflows", M);
  if (b->ws_cap < need) {
    free(b->ws);
    b->ws = aligned_alloc(64, (need * sizeof(float) + 63) / 64 * 64);
    b->ws_cap = b->ws ? need : 0;
    if (!b->ws)
      return vss_fail(VSS_ERR_NOMEM, "forward: out of memory for a %zu-pixel workspace", M);
  }
  float *p = b->ws;
  for (int i = 0; i < N_BUF + 2; i++) {
    bufs[i] = p;
    p += (M * wd[i] + 15) / 16 * 16;
  }
  return VSS_OK;
}

/* --------------------------------------------------------------- forward */

struct stager {
  vss_stage_fn fn;
  void *ctx;
  size_t B, H, W;
  int failed;
};

/* Reports a (B,H,W,d1[,d2]) stage; d2 == 0 for a 4-D one. */
static void emit(struct stager *s, const char *name, const float *data, size_t d1, size_t d2)
{
  if (!s || !s->fn || s->failed) return;
  const size_t shape[5] = {s->B, s->H, s->W, d1, d2};
  if (s->fn(s->ctx, name, data, d2 ? 5 : 4, shape) != 0) s->failed = 1;
}

static vss_status forward(vss_block *b, size_t B, size_t H, size_t W,
                          const float *x, float *y, struct stager *sg)
{
  if (!b || !x || !y) return vss_fail(VSS_ERR_ARG, "forward: NULL argument");
  if (!B || !H || !W)
    return vss_fail(VSS_ERR_SHAPE, "forward: input dims B=%zu H=%zu W=%zu must be > 0", B, H, W);
  if (x == y) return vss_fail(VSS_ERR_ARG, "forward: x and y must not alias");
  int ovf = 0;
  const size_t L = vss_mul_ovf(H, W, &ovf), M = vss_mul_ovf(B, L, &ovf);
  vss_mul_ovf(vss_mul_ovf(M, b->cfg.C, &ovf), sizeof(float), &ovf);
  if (ovf) return vss_fail(VSS_ERR_SHAPE, "forward: B*H*W*C overflows (B=%zu H=%zu W=%zu)", B, H, W);

  const struct vss_block_config *c = &b->cfg;
  const struct vss_ops *o = &b->ops;
  const size_t C = c->C, Di = c->Di, R = c->R, N = c->N, Hd = c->mlp_hidden;
  const size_t Dz = c->has_z ? 2 * Di : Di, Dbl = VSS_K * (R + 2 * N);
  float *buf[N_BUF + 2];
  vss_status st = workspace(b, M, sg != NULL, buf);
  if (st) return st;
  float *xn = buf[BUF_XN], *xz = buf[BUF_XZ], *u = buf[BUF_U], *dbl = buf[BUF_DBL];
  float *dt = buf[BUF_DT], *ys = buf[BUF_YS], *hid = buf[BUF_HID];
  float *scratch4 = buf[N_BUF], *scratch = buf[N_BUF + 1];

  o->layernorm(M, C, x, C, b->w.norm_w, b->w.norm_b, c->eps, xn, C);
  emit(sg, "norm", xn, C, 0);
  o->linear(&b->in_proj, M, xn, C, xz, Dz);
  emit(sg, "in_proj", xz, Dz, 0);
  o->dwconv3x3(B, H, W, Di, xz, Dz, b->w.conv_w, b->w.conv_b, u);
  emit(sg, "conv_silu", u, Di, 0);
  o->linear(&b->x_proj, M, u, Di, dbl, Dbl);
  emit(sg, "x_proj", dbl, VSS_K, R + 2 * N);
  for (int k = 0; k < VSS_K; k++)
    o->linear(&b->dt_proj[k], M, dbl + (size_t)k * (R + 2 * N), Dbl, dt + (size_t)k * Di, VSS_K * Di);
  emit(sg, "dt_proj", dt, VSS_K, Di);

  struct vss_scan_args sa = {B, H, W, Di, N, R, u, dbl, dt, b->w.dt_projs_b,
                             b->A, b->w.Ds, 0xF, ys};
  if (sg) { /* delta and each direction alone exist only for the dump */
    for (size_t m = 0; m < M; m++)
      for (size_t j = 0; j < VSS_K * Di; j++)
        scratch4[m * VSS_K * Di + j] = dt[m * VSS_K * Di + j] + b->w.dt_projs_b[j];
    o->softplus(M * VSS_K * Di, scratch4, scratch4);
    emit(sg, "delta", scratch4, VSS_K, Di);
    static const char *const names[VSS_K] = {"scan_k0", "scan_k1", "scan_k2", "scan_k3"};
    for (int k = 0; k < VSS_K; k++) {
      struct vss_scan_args one = sa;
      one.dirs = 1u << k;
      one.y = scratch;
      o->ssm_scan(&one);
      emit(sg, names[k], scratch, Di, 0);
    }
  }
  o->ssm_scan(&sa);
  emit(sg, "scan_merge", ys, Di, 0);

  float *yn = u; /* u is dead after the scan */
  o->layernorm(M, Di, ys, Di, b->w.out_norm_w, b->w.out_norm_b, c->eps, yn, Di);
  emit(sg, "out_norm", yn, Di, 0);
  if (c->has_z) {
    o->gate(M, Di, yn, xz + Di, Dz);
    emit(sg, "gate", yn, Di, 0);
  }
  if (sg) { /* the branch alone: accumulate onto zeros (0 + s == s) */
    memset(scratch, 0, M * C * sizeof(float));
    o->linear(&b->out_proj, M, yn, Di, scratch, C);
    emit(sg, "out_proj", scratch, C, 0);
  }
  memcpy(y, x, M * C * sizeof(float));
  o->linear(&b->out_proj, M, yn, Di, y, C); /* y = x + out_proj(yn) */
  emit(sg, "residual", y, C, 0);

  if (Hd) {
    o->layernorm(M, C, y, C, b->w.norm2_w, b->w.norm2_b, c->eps, xn, C);
    emit(sg, "norm2", xn, C, 0);
    o->linear(&b->fc1, M, xn, C, hid, Hd);
    emit(sg, "fc1_gelu", hid, Hd, 0);
    if (sg) {
      memset(scratch, 0, M * C * sizeof(float));
      o->linear(&b->fc2, M, hid, Hd, scratch, C);
      emit(sg, "fc2", scratch, C, 0);
    }
    o->linear(&b->fc2, M, hid, Hd, y, C); /* y += fc2(gelu(fc1(.))) */
  }
  emit(sg, "y", y, C, 0);
  if (sg && sg->failed) return vss_fail(VSS_ERR_IO, "forward: the stage callback failed");
  return VSS_OK;
}

vss_status vss_block_forward(vss_block *b, size_t B, size_t H, size_t W,
                             const float *x, float *y)
{
  return forward(b, B, H, W, x, y, NULL);
}

vss_status vss_block_forward_stages(vss_block *b, size_t B, size_t H, size_t W,
                                    const float *x, float *y, vss_stage_fn stage,
                                    void *ctx)
{
  struct stager sg = {stage, ctx, B, H, W, 0};
  return forward(b, B, H, W, x, y, &sg);
}
