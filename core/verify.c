/* verify.c - comparing a result with the truth, and the verdict (DESIGN §8).
 *
 * All arithmetic is in double.  A point passes when |got - exp| <= atol +
 * rtol*|exp|; NaN and Inf must sit at the same positions in both (and an
 * Inf have the same sign); such matching non-finite points are skipped.
 * The tensor passes when every point does and nmse <= nmse_max (a limit
 * with nmse_max 0 is pointwise only).
 *   max_abs    largest |got - exp| over the finite points
 *   max_rel    max_abs / max|exp| (the error on the tensor's own scale)
 *   worst_frac largest used fraction of a limit: |diff| / (atol+rtol|exp|)
 *              over the points, nmse / nmse_max; Inf on a NaN/Inf mismatch
 * Verdict: MISTRUSTED if at least VSS_MISTRUST_FRAC of the got values are
 * one and the same exact value (zeros, a constant) while the expected ones
 * are not (a variant that did nothing cannot be judged by a limit, however
 * tight); else FAIL if any check fails; else MARGINAL if worst_frac >
 * VSS_MARGINAL_FRAC; else PASS.  An empty tensor (n = 0) is a PASS.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "golden.h"
#include "vss_internal.h"

const char *vss_verdict_str(enum vss_verdict v)
{
  switch (v) {
  case VSS_PASS: return "PASS";
  case VSS_MARGINAL: return "MARGINAL";
  case VSS_FAIL: return "FAIL";
  case VSS_MISTRUSTED: return "MISTRUSTED";
  }
  return "?";
}

/* The values being compared: got or exp, minus base when there is one. */
struct side {
  const float *f;   /* got (float) or NULL */
  const double *d;  /* exp (double) or NULL */
  const float *base;
};

static double at(const struct side *s, size_t i)
{
  double v = s->f ? (double)s->f[i] : s->d[i];
  return s->base ? v - (double)s->base[i] : v;
}

/* Fraction of the n values equal to the most common one.  Only a value
 * held by at least half of them matters, so Boyer-Moore's majority vote
 * finds it in O(1) memory: a value held by >= n/2 is either a strict
 * majority of the first n-1 values or it is the last value. */
static double mode_frac(const struct side *s, size_t n)
{
  if (n == 0) return 0.0;
  double cand = 0.0;
  size_t votes = 0;
  for (size_t i = 0; i + 1 < n; i++) {
    double v = at(s, i);
    if (votes == 0) { cand = v; votes = 1; }
    else if (v == cand) votes++;
    else votes--;
  }
  const double last = at(s, n - 1);
  size_t c1 = 0, c2 = 0;
  for (size_t i = 0; i < n; i++) {
    double v = at(s, i);
    c1 += (votes > 0 && v == cand);
    c2 += (v == last);
  }
  return (double)(c1 > c2 ? c1 : c2) / (double)n;
}

/* Used fraction of a limit; a zero limit is exceeded by anything > 0. */
static double frac_of(double used, double limit)
{
  if (limit > 0) return used / limit;
  return used > 0 ? INFINITY : 0.0;
}

static void record_bad(struct vss_cmp *r, size_t i, double got, double exp)
{
  if (r->n_bad < VSS_CMP_MAX_BAD) {
    r->bad_idx[r->n_bad] = i;
    r->bad_got[r->n_bad] = got;
    r->bad_exp[r->n_bad] = exp;
  }
  r->n_bad++;
}

/* NaN and Inf must match in position, and Inf in sign. */
static int nonfinite_match(double g, double e)
{
  if (isnan(g) || isnan(e)) return isnan(g) && isnan(e);
  return g == e; /* both Inf here: same sign */
}

void vss_compare(const float *got, const double *exp, const float *base,
                 size_t n, const struct vss_limits *lim, struct vss_cmp *r)
{
  const struct side gs = {got, NULL, base}, es = {NULL, exp, base};
  double sum_d2 = 0, sum_e2 = 0;
  memset(r, 0, sizeof *r);
  r->n = n;
  for (size_t i = 0; i < n; i++) {
    const double g = at(&gs, i), e = at(&es, i);
    if (!isfinite(g) || !isfinite(e)) {
      if (!nonfinite_match(g, e)) {
        r->n_nan_mismatch++;
        record_bad(r, i, g, e);
      }
      continue;
    }
    const double d = fabs(g - e), ae = fabs(e);
    const double f = frac_of(d, lim->atol + lim->rtol * ae);
    if (f > 1) record_bad(r, i, g, e);
    if (f > r->worst_frac) r->worst_frac = f;
    if (d > r->max_abs) r->max_abs = d;
    if (ae > r->max_abs_exp) r->max_abs_exp = ae;
    sum_d2 += d * d;
    sum_e2 += e * e;
  }
  r->nmse = sum_e2 > 0 ? sum_d2 / sum_e2 : (sum_d2 > 0 ? INFINITY : 0.0);
  r->max_rel = r->max_abs_exp > 0 ? r->max_abs / r->max_abs_exp
                                  : (r->max_abs > 0 ? INFINITY : 0.0);
  /* nmse_max 0: a pointwise-only limit (VSS_LIM_EXACT is exact anyway) */
  const double fn = lim->nmse_max > 0 ? r->nmse / lim->nmse_max : 0.0;
  if (fn > r->worst_frac) r->worst_frac = fn;
  if (r->n_nan_mismatch) r->worst_frac = INFINITY;

  if (mode_frac(&gs, n) >= VSS_MISTRUST_FRAC &&
      mode_frac(&es, n) < VSS_MISTRUST_FRAC)
    r->verdict = VSS_MISTRUSTED;
  else if (r->n_bad || fn > 1)
    r->verdict = VSS_FAIL;
  else if (r->worst_frac > VSS_MARGINAL_FRAC)
    r->verdict = VSS_MARGINAL;
  else
    r->verdict = VSS_PASS;
}

/* A non-negative finite number from the golden file's metadata. */
static vss_status meta_num(const vss_st *g, const char *key, double *out)
{
  const char *s = vss_st_meta(g, key);
  char *end;
  if (!s)
    return vss_fail(VSS_ERR_FORMAT, "%s: __metadata__: no '%s' (not a golden "
                    "file from scripts/gen_golden.py?)", vss_st_path(g), key);
  double v = strtod(s, &end);
  if (end == s || *end || !isfinite(v) || v < 0)
    return vss_fail(VSS_ERR_FORMAT, "%s: __metadata__: '%s' is '%s', not a "
                    "non-negative number", vss_st_path(g), key, s);
  *out = v;
  return VSS_OK;
}

vss_status vss_golden_limits(const vss_st *golden, struct vss_limits *out)
{
  double max_abs, nmse, branch;
  vss_status s;
  if (!golden || !out) return vss_fail(VSS_ERR_ARG, "vss_golden_limits: NULL argument");
  if ((s = meta_num(golden, "fp32_max_abs", &max_abs)) ||
      (s = meta_num(golden, "fp32_nmse_branch", &nmse)) ||
      (s = meta_num(golden, "max_abs_branch", &branch)))
    return s;
  out->atol = fmax(VSS_GOLDEN_K_ABS * max_abs, VSS_GOLDEN_ATOL_FLOOR_REL * branch);
  out->rtol = 0.0;
  out->nmse_max = fmax(VSS_GOLDEN_K_NMSE * nmse, VSS_GOLDEN_NMSE_FLOOR);
  return VSS_OK;
}

/* ------------------------------------------------------- golden cases */

void vss_unravel(size_t idx, int ndim, const size_t *shape, size_t *coord)
{
  for (int d = ndim - 1; d >= 0; d--) {
    coord[d] = shape[d] ? idx % shape[d] : 0;
    idx = shape[d] ? idx / shape[d] : 0;
  }
}

vss_status vss_read_bhwc(const vss_st *f, const char *name, size_t C,
                         float **out, size_t shape[4])
{
  return vss_read_act(f, name, C, VSS_NHWC, out, shape);
}

vss_status vss_read_act(const vss_st *f, const char *name, size_t C, int layout,
                        float **out, size_t shape[4])
{
  const char *path = vss_st_path(f);
  const struct vss_tensor *t = vss_st_find(f, name);
  const int nchw = layout == VSS_NCHW;
  *out = NULL;
  if (!t)
    return vss_fail(VSS_ERR_MISSING, "%s: %s: no such tensor", path, name);
  if (t->ndim != 4)
    return vss_fail(VSS_ERR_SHAPE, "%s: %s: must be 4-D %s, has %d dim%s", path, name,
                    nchw ? "(B,C,H,W)" : "(B,H,W,C)", t->ndim, t->ndim == 1 ? "" : "s");
  if (!t->shape[0] || !t->shape[1] || !t->shape[2] || !t->shape[3])
    return vss_fail(VSS_ERR_SHAPE, "%s: %s: zero-sized dimension in (%zu,%zu,%zu,%zu)",
                    path, name, t->shape[0], t->shape[1], t->shape[2], t->shape[3]);
  const size_t got = t->shape[nchw ? 1 : 3], other = t->shape[nchw ? 3 : 1];
  if (C && got != C)
    return vss_fail(VSS_ERR_SHAPE, "%s: %s: has C=%zu channels%s, the block has C=%zu%s",
                    path, name, got, nchw ? " (dim 1 of (B,C,H,W), layout nchw)" : "", C,
                    other != C ? ""
                    : nchw ? "; its last dim is C: a channel-last tensor (layout nhwc)?"
                           : "; its dim 1 is C: a channel-first tensor (layout nchw)?");
  vss_status s = vss_st_to_f32(f, t, out);
  if (s) return s;
  memcpy(shape, t->shape, 4 * sizeof *shape);
  return VSS_OK;
}

void vss_golden_close(struct vss_golden *g)
{
  free(g->x);
  free(g->y);
  vss_st_close(g->st);
  memset(g, 0, sizeof *g);
}

static const char *base_name(const char *path)
{
  const char *s = strrchr(path, '/');
  return s ? s + 1 : path;
}

/* The run options of a case from its metadata (golden.h). */
static vss_status run_opts(const vss_st *f, struct vss_run_opts *ro)
{
  const char *path = vss_st_path(f), *layout = vss_st_meta(f, "layout");
  const char *seed = vss_st_meta(f, "seed_mask");
  double p = 0;
  vss_status s;
  memset(ro, 0, sizeof *ro);
  if (layout && strcmp(layout, "nhwc") && strcmp(layout, "nchw"))
    return vss_fail(VSS_ERR_FORMAT, "%s: __metadata__: 'layout' is '%s', expected nhwc "
                    "or nchw", path, layout);
  ro->layout = layout && !strcmp(layout, "nchw") ? VSS_NCHW : VSS_NHWC;
  if ((s = vss_meta_bool(f, "train", &ro->train)) ||
      (vss_st_meta(f, "drop_path") && (s = meta_num(f, "drop_path", &p))))
    return s;
  ro->drop_path = (float)p;
  if (!ro->train) return VSS_OK;
  char *end;
  if (seed) ro->seed = strtoull(seed, &end, 10);
  if (!seed || !*seed || *end || seed[0] == '-')
    return vss_fail(VSS_ERR_FORMAT, "%s: __metadata__: training-mode case without a "
                    "decimal 'seed_mask' (has '%s')", path, seed ? seed : "none");
  return VSS_OK;
}

vss_status vss_golden_open(const char *path, struct vss_golden *g)
{
  size_t *sh = g->dims;
  memset(g, 0, sizeof *g);
  vss_status s = vss_st_open(path, &g->st);
  if (s) return s;
  g->path = vss_st_path(g->st);
  g->name = vss_st_meta(g->st, "case");
  if (!g->name) g->name = base_name(g->path);
  g->prefix = vss_st_meta(g->st, "prefix");
  if (!g->prefix) g->prefix = "";
  if ((s = vss_golden_limits(g->st, &g->lim)) ||
      (s = meta_num(g->st, "fp32_max_abs", &g->fp32_max_abs)) ||
      (s = meta_num(g->st, "fp32_nmse_branch", &g->fp32_nmse_branch)) ||
      (s = meta_num(g->st, "max_abs_branch", &g->max_abs_branch)) ||
      (s = run_opts(g->st, &g->run)) ||
      (s = vss_read_act(g->st, "x", 0, g->run.layout, &g->x, sh)))
    goto fail;
  const int nchw = g->run.layout == VSS_NCHW;
  g->B = sh[0], g->C = sh[nchw ? 1 : 3], g->H = sh[nchw ? 2 : 1], g->W = sh[nchw ? 3 : 2];
  g->n = g->B * g->H * g->W * g->C;
  const struct vss_tensor *y = vss_st_find(g->st, "y");
  if (!y) {
    s = vss_fail(VSS_ERR_MISSING, "%s: y: no such tensor (the truth)", g->path);
    goto fail;
  }
  if (y->ndim != 4 || memcmp(y->shape, sh, sizeof g->dims)) {
    s = vss_fail(VSS_ERR_SHAPE, "%s: y: shape differs from x's (%zu,%zu,%zu,%zu)",
                 g->path, sh[0], sh[1], sh[2], sh[3]);
    goto fail;
  }
  if ((s = vss_st_to_f64(g->st, y, &g->y))) goto fail;
  for (size_t i = 0; i < vss_st_count(g->st) && !g->has_stages; i++)
    g->has_stages = !strncmp(vss_st_at(g->st, i)->name, "stages.", 7);
  return VSS_OK;
fail:
  vss_golden_close(g);
  return s;
}

vss_status vss_golden_run(const struct vss_golden *g, const char *variant,
                          vss_stage_fn stage, void *ctx, float *got,
                          struct vss_cmp *r, char *variant_out, size_t len)
{
  const struct vss_block_opts opts = {variant, 0};
  vss_block *blk = NULL;
  vss_status s = vss_block_load(g->path, g->prefix, &opts, &blk);
  if (s) return s;
  const struct vss_block_config *cfg = vss_block_get_config(blk);
  if (cfg->C != g->C) {
    s = vss_fail(VSS_ERR_SHAPE, "%s: x: has C=%zu channels, the block has C=%zu",
                 g->path, g->C, cfg->C);
  } else {
    s = vss_block_forward_ex(blk, g->B, g->H, g->W, g->x, got, &g->run, stage, ctx);
  }
  if (!s) {
    if (variant_out && len) snprintf(variant_out, len, "%s", vss_block_variant(blk));
    vss_compare(got, g->y, g->x, g->n, &g->lim, r);
  }
  vss_block_free(blk);
  return s;
}

vss_status vss_golden_stage(const struct vss_golden *g, const char *name,
                            const float *data, int ndim, const size_t *shape,
                            struct vss_cmp *r)
{
  char key[96];
  snprintf(key, sizeof key, "stages.%s", name);
  const struct vss_tensor *t = vss_st_find(g->st, key);
  if (!t) return vss_fail(VSS_ERR_MISSING, "%s: %s: no such tensor", g->path, key);
  if (t->ndim != ndim || memcmp(t->shape, shape, (size_t)ndim * sizeof *shape))
    return vss_fail(VSS_ERR_SHAPE, "%s: %s: the block's stage has a different shape",
                    g->path, key);
  double *exp, scale = 0;
  vss_status s = vss_st_to_f64(g->st, t, &exp);
  if (s) return s;
  for (size_t i = 0; i < t->numel; i++)
    if (isfinite(exp[i])) scale = fmax(scale, fabs(exp[i]));
  const struct vss_limits lim = vss_stage_limits(scale);
  vss_compare(data, exp, NULL, t->numel, &lim, r);
  free(exp);
  return VSS_OK;
}
