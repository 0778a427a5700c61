/* block.c - the VSSBlock driver, written once over struct vss_ops.
 *
 * Data flow (DESIGN.md §2), M = B*H*W pixels, all channel-last:
 *   xn  = LN(x)                      (M, C)
 *   xz  = in_proj(xn)                (M, Di or 2Di)   [x | z]
 *         as two linears: x first, z a band of rows at a time just
 *         before the gate reads it; x then lies alone, (M, Di), and each
 *         band of z after it (a stage dump forms xz whole, [x | z] rows)
 *   u   = silu(dwconv3x3(xz[:, :Di]) + b)   (M, Di)
 *   dbl = x_proj(u), 4 directions at once   (M, 4(R+2N))
 *   dt  = dt_proj_k(dbl[:, k, :R])   (M, 4Di)          one linear per k
 *   ys  = ssm_scan(...)              (M, Di)   softplus, recurrence, merge
 *         (ssm_scan_dt where the variant has it: dt_proj inside the scan,
 *         dt never stored; 9.6 MB at v0_T1, the largest tensor)
 *   yn  = LN(ys; out_norm) [* silu(z)]   a band of rows at a time,
 *         z = in_proj_z(xn) for the band
 *   y   = x + out_proj(yn)           (accumulating linear: fused residual)
 *   MLP: y += fc2(gelu(fc1(LN(y; norm2))))
 * Everything but the conv and the scan is position-wise, so it runs on all
 * B*H*W rows at once.  The stage callback path recomputes the pieces that
 * the fused path never materialises (delta, single directions, branches).
 * Run options (vss_block_forward_ex): post_norm moves each LN after its
 * branch (y = x + LN(out_proj(SS2D(x)))); training-mode drop_path scales
 * each branch per sample by 0 or 1/(1-p) before its residual add (both
 * materialise the branch instead of the fused add); layout nchw transposes
 * x in and y out, the math in between unchanged.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vss_internal.h"
#ifdef VSS_HAVE_OMP
#include <omp.h> /* threads: the forward's OpenMP team size (vss_block_forward_ex) */
#endif

struct vss_block {
  struct vss_block_config cfg;
  struct vss_ops ops;
  const char *variant;
  int threads;                  /* > 0: OpenMP threads of a forward; 0: the default */
  float *wbuf;                  /* every weight, one allocation */
  struct vss_block_weights w;   /* pointers into wbuf */
  float *A;                     /* -exp(A_logs), (4Di, N), in wbuf */
  struct vss_linear in_proj, in_proj_z; /* xz's x half (all of it without z), its z half */
  struct vss_linear x_proj, dt_proj[VSS_K], out_proj, fc1, fc2;
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
  release(&b->in_proj_z);
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
  const size_t Hd = cfg->mlp_hidden;
  st = prepare(b, &b->in_proj, Di, C, b->w.in_proj_w, NULL, VSS_ACT_NONE, 0, "in_proj");
  if (!st && cfg->has_z) /* rows Di..2Di-1 of in_proj_w */
    st = prepare(b, &b->in_proj_z, Di, C, b->w.in_proj_w + Di * C, NULL, VSS_ACT_NONE, 0,
                 "in_proj");
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

enum {
  BUF_XN, BUF_XZ, BUF_U, BUF_DBL, BUF_DT, BUF_YS, BUF_HID,
  BUF_S4, BUF_S, /* stage dumps: delta (4Di) and one direction's scan (Di) */
  BUF_PN,        /* post_norm: the normalised branch (C) */
  BUF_XT, BUF_YT, /* layout nchw: x and y channel-last (C) */
  N_BUF
};
enum { WS_STAGES = 1, WS_POST = 2, WS_NCHW = 4,
       WS_DT_IN_SCAN = 8 /* ssm_scan_dt forms dt: no dt buffer */ };

/* Per-pixel widths of the workspace buffers; the optional ones are 0
 * unless the run needs them (ws: WS_* bits). */
static void buf_widths(const struct vss_block_config *c, unsigned ws, size_t wd[N_BUF])
{
  const size_t Di = c->Di;
  wd[BUF_XN] = c->C;
  wd[BUF_XZ] = c->has_z ? 2 * Di : Di;
  wd[BUF_U] = Di;
  wd[BUF_DBL] = VSS_K * (c->R + 2 * c->N);
  wd[BUF_DT] = ws & WS_DT_IN_SCAN ? 0 : VSS_K * Di;
  wd[BUF_YS] = Di;
  wd[BUF_HID] = c->mlp_hidden;
  wd[BUF_S4] = ws & WS_STAGES ? VSS_K * Di : 0;
  wd[BUF_S] = ws & WS_STAGES ? Di : 0;
  wd[BUF_PN] = ws & WS_POST ? c->C : 0;
  wd[BUF_XT] = wd[BUF_YT] = ws & WS_NCHW ? c->C : 0;
}

/* Carves the workspace for M pixels into bufs (64-byte aligned pieces). */
static vss_status workspace(vss_block *b, size_t M, unsigned ws, float *bufs[N_BUF])
{
  size_t wd[N_BUF], per_row = 0;
  int ovf = 0;
  buf_widths(&b->cfg, ws, wd);
  for (int i = 0; i < N_BUF; i++) per_row += wd[i] + 16;
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
  for (int i = 0; i < N_BUF; i++) {
    bufs[i] = p;
    p += (M * wd[i] + 15) / 16 * 16;
  }
  return VSS_OK;
}

/* ------------------------------------------------------------ drop_path */

/* One splitmix64 step (vss.h, vss_drop_mask). */
static uint64_t splitmix64(uint64_t *state)
{
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static vss_status check_p(const char *who, float p)
{
  if (!(p >= 0.0f && p < 1.0f)) /* also NaN */
    return vss_fail(VSS_ERR_ARG, "%s: drop_path p = %g: must be in [0, 1)", who, (double)p);
  return VSS_OK;
}

/* The factor of a kept branch, timm's 1/keep_prob. */
static float keep_scale(float p) { return (float)(1.0 / (1.0 - (double)p)); }

vss_status vss_drop_mask(size_t B, float p, uint64_t seed, float *mask)
{
  vss_status st = check_p("vss_drop_mask", p);
  if (st) return st;
  if (!mask && B) return vss_fail(VSS_ERR_ARG, "vss_drop_mask: mask is NULL");
  const double keep = 1.0 - (double)p;
  const float f = keep_scale(p);
  uint64_t state = seed;
  for (size_t k = 0; k < 2 * B; k++) {
    const double u = (double)(splitmix64(&state) >> 11) * 0x1p-53;
    mask[k] = u < keep ? f : 0.0f;
  }
  return VSS_OK;
}

/* The run's (2, B) factors into fac: the caller's keep flags, or drawn. */
static vss_status drop_factors(const struct vss_run_opts *ro, size_t B, float *fac)
{
  if (!ro->keep_mask) return vss_drop_mask(B, ro->drop_path, ro->seed, fac);
  const float f = keep_scale(ro->drop_path);
  for (size_t k = 0; k < 2 * B; k++) fac[k] = ro->keep_mask[k] != 0.0f ? f : 0.0f;
  return VSS_OK;
}

/* --------------------------------------------------------------- forward */

struct stager {
  vss_stage_fn fn;
  void *ctx;
  size_t B, H, W;
  int failed;
};

static void emit_shape(struct stager *s, const char *name, const float *data, int ndim,
                       const size_t *shape)
{
  if (!s || !s->fn || s->failed) return;
  if (s->fn(s->ctx, name, data, ndim, shape) != 0) s->failed = 1;
}

/* Reports a (B,H,W,d1[,d2]) stage; d2 == 0 for a 4-D one. */
static void emit(struct stager *s, const char *name, const float *data, size_t d1, size_t d2)
{
  if (!s) return;
  const size_t shape[5] = {s->B, s->H, s->W, d1, d2};
  emit_shape(s, name, data, d2 ? 5 : 4, shape);
}

/* dst[b][j][i] = src[b][i][j] for each of B (rows x cols) matrices: NCHW
 * to NHWC with (rows, cols) = (C, L), back with (L, C). */
static void transpose_batch(size_t B, size_t rows, size_t cols, const float *src, float *dst)
{
  for (size_t b = 0; b < B; b++, src += rows * cols, dst += rows * cols)
    for (size_t i = 0; i < rows; i++)
      for (size_t j = 0; j < cols; j++) dst[j * rows + i] = src[i * cols + j];
}

/* What one forward works with. */
struct fwd {
  vss_block *b;
  size_t B, L, M;       /* samples, pixels per sample, B*L */
  float *buf[N_BUF];
  struct stager *sg;
  int dt_in_scan;       /* ssm_scan_dt forms dt (the variant has it, no dump) */
};

/* The end of a residual branch: out = base + f[s] * post(lin(in)) for each
 * sample s, where post is LN(.; nw, nb) under post_norm (nw non-NULL), else
 * the identity, and f the branch's drop_path factors (NULL: all 1; a
 * dropped sample's out is its base, bit for bit).  base may be out.  The
 * branch is reported as stage s_branch, its norm as s_norm.  Without
 * post_norm and factors, lin accumulates straight onto out (fused add). */
static void branch_end(const struct fwd *fw, const struct vss_linear *lin, const float *in,
                       size_t ldin, const float *nw, const float *nb, const float *f,
                       const float *base, float *out, const char *s_branch, const char *s_norm)
{
  const struct vss_ops *o = &fw->b->ops;
  const size_t C = fw->b->cfg.C, n = fw->M * C, per = fw->L * C;
  float *br = fw->buf[BUF_XN]; /* free: in_proj / fc1 has read it */
  if (fw->sg || nw || f) { /* the branch alone: accumulate onto zeros (0 + s == s) */
    memset(br, 0, n * sizeof *br);
    o->linear(lin, fw->M, in, ldin, br, C);
    emit(fw->sg, s_branch, br, C, 0);
  }
  if (!nw && !f) {
    if (out != base) memcpy(out, base, n * sizeof *out);
    o->linear(lin, fw->M, in, ldin, out, C); /* out = base + lin(in) */
    return;
  }
  if (nw) {
    o->layernorm(fw->M, C, br, C, nw, nb, fw->b->cfg.eps, fw->buf[BUF_PN], C);
    br = fw->buf[BUF_PN];
    emit(fw->sg, s_norm, br, C, 0);
  }
  for (size_t s = 0; s < fw->B; s++) {
    const float k = f ? f[s] : 1.0f, *bs = base + s * per, *rs = br + s * per;
    float *os = out + s * per;
    if (k != 0.0f)
      for (size_t i = 0; i < per; i++) os[i] = bs[i] + k * rs[i];
    else if (os != bs)
      memcpy(os, bs, per * sizeof *os);
  }
}

/* Rows per band of z + out_norm + gate: a band's z, ys and yn rows (3 Di
 * floats each) stay in L2 from one to the next, where whole-tensor passes
 * re-read yn from L3 and z from wherever in_proj left it, long before (the
 * three are per row: the same bits).  Forming z per band, rather than with
 * in_proj's x half, took 0.2-0.7 ms off the avx2 v0_T1 block (median of 30
 * forwards, alternated in one process; bits unchanged); x alone, (M, Di),
 * and the band in one place after it, rather than [x | z] rows, another
 * 0.2-0.3 ms. */
#define NORM_GATE_ROWS 128

/* Whether z is formed band by band (see ss2d): x then lies alone in xz,
 * (M, Di), each band of z at xz + M Di. */
static int z_in_bands(const struct fwd *fw) { return fw->b->cfg.has_z && !fw->sg; }

/* The SS2D branch's end: yn = out_norm(ys), then yn *= SiLU(z) where the
 * block has z: z = in_proj_z(in) formed here, band by band, unless the
 * stage dump has formed it already (xz's second half); returns yn. */
static float *out_norm_gate(const struct fwd *fw, const float *in, float *xz, const float *ys,
                            float *yn)
{
  const vss_block *b = fw->b;
  const struct vss_block_config *c = &b->cfg;
  const struct vss_ops *o = &b->ops;
  const size_t M = fw->M, C = c->C, Di = c->Di, Dz = 2 * Di;
  if (z_in_bands(fw)) {
    float *z = xz + M * Di; /* the band's z, after x */
    for (size_t m0 = 0; m0 < M; m0 += NORM_GATE_ROWS) {
      const size_t mr = M - m0 < NORM_GATE_ROWS ? M - m0 : NORM_GATE_ROWS;
      o->linear(&b->in_proj_z, mr, in + m0 * C, C, z, Di);
      o->layernorm(mr, Di, ys + m0 * Di, Di, b->w.out_norm_w, b->w.out_norm_b, c->eps,
                   yn + m0 * Di, Di);
      o->gate(mr, Di, yn + m0 * Di, z, Di);
    }
    return yn;
  }
  o->layernorm(M, Di, ys, Di, b->w.out_norm_w, b->w.out_norm_b, c->eps, yn, Di);
  emit(fw->sg, "out_norm", yn, Di, 0);
  if (c->has_z) {
    o->gate(M, Di, yn, xz + Di, Dz);
    emit(fw->sg, "gate", yn, Di, 0);
  }
  return yn;
}

/* The SS2D branch up to its out_proj input yn (spec §2.4 / §3.3), from in
 * (LN(x), or x itself under post_norm). */
static const float *ss2d(const struct fwd *fw, size_t H, size_t W, const float *in)
{
  const vss_block *b = fw->b;
  const struct vss_block_config *c = &b->cfg;
  const struct vss_ops *o = &b->ops;
  struct stager *sg = fw->sg;
  const size_t M = fw->M, C = c->C, Di = c->Di, R = c->R, N = c->N;
  const size_t Dz = c->has_z ? 2 * Di : Di, Dbl = VSS_K * (R + 2 * N);
  float *xz = fw->buf[BUF_XZ], *u = fw->buf[BUF_U], *dbl = fw->buf[BUF_DBL];
  float *dt = fw->buf[BUF_DT], *ys = fw->buf[BUF_YS];

  const size_t ldx = z_in_bands(fw) ? Di : Dz; /* x alone, or [x | z] rows */
  o->linear(&b->in_proj, M, in, C, xz, ldx); /* x (all of xz without z) */
  if (c->has_z && sg) o->linear(&b->in_proj_z, M, in, C, xz + Di, Dz); /* z, for the dump */
  emit(sg, "in_proj", xz, Dz, 0);
  o->dwconv3x3(fw->B, H, W, Di, xz, ldx, b->w.conv_w, b->w.conv_b, u);
  emit(sg, "conv_silu", u, Di, 0);
  o->linear(&b->x_proj, M, u, Di, dbl, Dbl);
  emit(sg, "x_proj", dbl, VSS_K, R + 2 * N);
  struct vss_scan_args sa = {fw->B, H, W, Di, N, R, u, dbl, dt, b->w.dt_projs_b,
                             b->A, b->w.Ds, 0xF, ys, b->w.dt_projs_w};
  if (fw->dt_in_scan) { /* dt_proj inside the scan: no dt tensor */
    o->ssm_scan_dt(&sa);
    return out_norm_gate(fw, in, xz, ys, u);
  }
  for (int k = 0; k < VSS_K; k++)
    o->linear(&b->dt_proj[k], M, dbl + (size_t)k * (R + 2 * N), Dbl, dt + (size_t)k * Di, VSS_K * Di);
  emit(sg, "dt_proj", dt, VSS_K, Di);

  if (sg) { /* delta and each direction alone exist only for the dump */
    float *scratch4 = fw->buf[BUF_S4];
    for (size_t m = 0; m < M; m++)
      for (size_t j = 0; j < VSS_K * Di; j++)
        scratch4[m * VSS_K * Di + j] = dt[m * VSS_K * Di + j] + b->w.dt_projs_b[j];
    o->softplus(M * VSS_K * Di, scratch4, scratch4);
    emit(sg, "delta", scratch4, VSS_K, Di);
    static const char *const names[VSS_K] = {"scan_k0", "scan_k1", "scan_k2", "scan_k3"};
    for (int k = 0; k < VSS_K; k++) {
      struct vss_scan_args one = sa;
      one.dirs = 1u << k;
      one.y = fw->buf[BUF_S];
      o->ssm_scan(&one);
      emit(sg, names[k], one.y, Di, 0);
    }
  }
  o->ssm_scan(&sa);
  emit(sg, "scan_merge", ys, Di, 0);
  return out_norm_gate(fw, in, xz, ys, u); /* u is dead after the scan */
}

/* A branch's input: LN(t) (stage `name`) in the pre-norm block, t itself
 * under post_norm (the norm then follows the branch, in branch_end). */
static const float *branch_in(const struct fwd *fw, const float *t, const float *nw,
                              const float *nb, const char *name)
{
  const vss_block *b = fw->b;
  if (b->cfg.post_norm) return t;
  float *xn = fw->buf[BUF_XN];
  b->ops.layernorm(fw->M, b->cfg.C, t, b->cfg.C, nw, nb, b->cfg.eps, xn, b->cfg.C);
  emit(fw->sg, name, xn, b->cfg.C, 0);
  return xn;
}

/* The block on channel-last x into y, with drop_path factors fac ((2, B),
 * NULL: none). */
static void block(const struct fwd *fw, size_t H, size_t W, const float *x, float *y,
                  const float *fac)
{
  const vss_block *b = fw->b;
  const struct vss_block_config *c = &b->cfg;
  const struct vss_block_weights *w = &b->w;
  const size_t C = c->C, Hd = c->mlp_hidden;
  const int post = c->post_norm;

  /* pre-norm: x + op(norm(x)); post_norm: x + norm(op(x)) */
  const float *yn = ss2d(fw, H, W, branch_in(fw, x, w->norm_w, w->norm_b, "norm"));
  branch_end(fw, &b->out_proj, yn, c->Di, post ? w->norm_w : NULL, w->norm_b, fac, x, y,
             "out_proj", "norm");
  emit(fw->sg, "residual", y, C, 0);

  if (Hd) {
    float *hid = fw->buf[BUF_HID];
    b->ops.linear(&b->fc1, fw->M, branch_in(fw, y, w->norm2_w, w->norm2_b, "norm2"), C, hid,
                  Hd);
    emit(fw->sg, "fc1_gelu", hid, Hd, 0);
    branch_end(fw, &b->fc2, hid, Hd, post ? w->norm2_w : NULL, w->norm2_b,
               fac ? fac + fw->B : NULL, y, y, "fc2", "norm2");
  }
  emit(fw->sg, "y", y, C, 0);
}

static vss_status check_run(const vss_block *b, size_t B, size_t H, size_t W, const float *x,
                            const float *y, const struct vss_run_opts *ro)
{
  if (!b || !x || !y) return vss_fail(VSS_ERR_ARG, "forward: NULL argument");
  if (!B || !H || !W)
    return vss_fail(VSS_ERR_SHAPE, "forward: input dims B=%zu H=%zu W=%zu must be > 0", B, H, W);
  if (x == y) return vss_fail(VSS_ERR_ARG, "forward: x and y must not alias");
  int ovf = 0;
  const size_t M = vss_mul_ovf(B, vss_mul_ovf(H, W, &ovf), &ovf);
  vss_mul_ovf(vss_mul_ovf(M, b->cfg.C, &ovf), sizeof(float), &ovf);
  if (ovf) return vss_fail(VSS_ERR_SHAPE, "forward: B*H*W*C overflows (B=%zu H=%zu W=%zu)", B, H, W);
  if (ro->layout != VSS_NHWC && ro->layout != VSS_NCHW)
    return vss_fail(VSS_ERR_ARG, "forward: layout %d is neither VSS_NHWC (0) nor VSS_NCHW (1)",
                    ro->layout);
  return check_p("forward", ro->drop_path);
}

static vss_status forward(vss_block *b, size_t B, size_t H, size_t W, const float *x,
                          float *y, const struct vss_run_opts *opts, vss_stage_fn stage,
                          void *ctx)
{
  static const struct vss_run_opts defaults = {0};
  const struct vss_run_opts *ro = opts ? opts : &defaults;
  vss_status st = check_run(b, B, H, W, x, y, ro);
  if (st) return st;
  struct stager sgs = {stage, ctx, B, H, W, 0};
  const int nchw = ro->layout == VSS_NCHW;
  struct fwd fw = {b, B, H * W, B * H * W, {NULL}, stage ? &sgs : NULL,
                   b->ops.ssm_scan_dt && !stage};
  const unsigned ws = (stage ? WS_STAGES : 0) | (b->cfg.post_norm ? WS_POST : 0) |
                      (nchw ? WS_NCHW : 0) | (fw.dt_in_scan ? WS_DT_IN_SCAN : 0);
  if ((st = workspace(b, fw.M, ws, fw.buf))) return st;
  float *fac = NULL;
  if (ro->train) {
    if (!(fac = malloc(2 * B * sizeof *fac)))
      return vss_fail(VSS_ERR_NOMEM, "forward: out of memory for a drop_path mask of %zu", B);
    (void)drop_factors(ro, B, fac); /* p was checked */
    emit_shape(fw.sg, "drop_mask", fac, 2, (const size_t[]){2, B});
  }
  const size_t C = b->cfg.C;
  if (nchw) { /* the math is channel-last: transpose in and out */
    transpose_batch(B, C, fw.L, x, fw.buf[BUF_XT]);
    block(&fw, H, W, fw.buf[BUF_XT], fw.buf[BUF_YT], fac);
    transpose_batch(B, fw.L, C, fw.buf[BUF_YT], y);
  } else {
    block(&fw, H, W, x, y, fac);
  }
  free(fac);
  if (sgs.failed) return vss_fail(VSS_ERR_IO, "forward: the stage callback failed");
  return VSS_OK;
}

/* A block created with threads > 0 runs its forward on that many OpenMP
 * threads (the omp variant's ops; single-thread variants ignore it): the
 * calling thread's OpenMP team size (a per-thread setting, other threads
 * are unaffected) is set for the forward and restored after it.  With
 * threads = 0 the ops use OpenMP's default (OMP_NUM_THREADS, or the
 * caller's omp_set_num_threads). */
vss_status vss_block_forward_ex(vss_block *b, size_t B, size_t H, size_t W, const float *x,
                                float *y, const struct vss_run_opts *opts, vss_stage_fn stage,
                                void *ctx)
{
#ifdef VSS_HAVE_OMP
  if (b && b->threads > 0) {
    const int saved = omp_get_max_threads();
    omp_set_num_threads(b->threads);
    const vss_status st = forward(b, B, H, W, x, y, opts, stage, ctx);
    omp_set_num_threads(saved);
    return st;
  }
#endif
  return forward(b, B, H, W, x, y, opts, stage, ctx);
}

vss_status vss_block_forward(vss_block *b, size_t B, size_t H, size_t W,
                             const float *x, float *y)
{
  return vss_block_forward_ex(b, B, H, W, x, y, NULL, NULL, NULL);
}

vss_status vss_block_forward_stages(vss_block *b, size_t B, size_t H, size_t W,
                                    const float *x, float *y, vss_stage_fn stage,
                                    void *ctx)
{
  return vss_block_forward_ex(b, B, H, W, x, y, NULL, stage, ctx);
}

vss_status vss_block_set_post_norm(vss_block *b, int on)
{
  if (!b) return vss_fail(VSS_ERR_ARG, "vss_block_set_post_norm: block is NULL");
  b->cfg.post_norm = on != 0;
  return VSS_OK;
}
