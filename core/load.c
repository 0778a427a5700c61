/* load.c - a VSSBlock from a safetensors file (DESIGN.md §6).
 *
 * The block's tensors are the ones under a prefix, in one of VMamba's two key
 * generations: current (norm.*, op.*, norm2.*, mlp.*) or old v0 (ln_1.*,
 * self_attention.*; no MLP).  The config is inferred from them (spec §2.3,
 * §3.2): C from norm.weight, Di from op.conv2d.weight rows, the z gate from
 * in_proj rows (2Di or Di), N from A_logs columns, R from dt_projs_weight,
 * conv bias and MLP from presence, hidden from mlp.fc1.weight rows.  Then
 * every tensor's shape is checked against the config.  Other tensors outside
 * the block's key namespaces (a golden file's x, y, stages.*) are ignored.
 * post_norm, which no tensor shows, comes from the file's __metadata__ key
 * `post_norm` ("1"/"true"; absent, "0" or "false": pre-norm).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vss_internal.h"

enum key {
  NORM_W, NORM_B, IN_PROJ, CONV_W, CONV_B, X_PROJ, DT_W, DT_B, A_LOGS, DS,
  ONORM_W, ONORM_B, OUT_PROJ, NORM2_W, NORM2_B, FC1_W, FC1_B, FC2_W, FC2_B,
  NKEYS
};

/* Current names, rank and meaning of each dimension. */
static const struct { const char *name; int ndim; const char *dims; } keys[NKEYS] = {
    [NORM_W] = {"norm.weight", 1, "C"},
    [NORM_B] = {"norm.bias", 1, "C"},
    [IN_PROJ] = {"op.in_proj.weight", 2, "Di or 2*Di, C"},
    [CONV_W] = {"op.conv2d.weight", 4, "Di, 1, 3, 3"},
    [CONV_B] = {"op.conv2d.bias", 1, "Di"},
    [X_PROJ] = {"op.x_proj_weight", 3, "4, R+2*N, Di"},
    [DT_W] = {"op.dt_projs_weight", 3, "4, Di, R"},
    [DT_B] = {"op.dt_projs_bias", 2, "4, Di"},
    [A_LOGS] = {"op.A_logs", 2, "4*Di, N"},
    [DS] = {"op.Ds", 1, "4*Di"},
    [ONORM_W] = {"op.out_norm.weight", 1, "Di"},
    [ONORM_B] = {"op.out_norm.bias", 1, "Di"},
    [OUT_PROJ] = {"op.out_proj.weight", 2, "C, Di"},
    [NORM2_W] = {"norm2.weight", 1, "C"},
    [NORM2_B] = {"norm2.bias", 1, "C"},
    [FC1_W] = {"mlp.fc1.weight", 2, "hidden, C"},
    [FC1_B] = {"mlp.fc1.bias", 1, "hidden"},
    [FC2_W] = {"mlp.fc2.weight", 2, "C, hidden"},
    [FC2_B] = {"mlp.fc2.bias", 1, "C"},
};

/* Namespaces of the two generations; old names map onto current ones. */
static const struct { const char *cur, *old; } spaces[] = {
    {"norm.", "ln_1."}, {"op.", "self_attention."}, {"norm2.", NULL}, {"mlp.", NULL},
};
#define NSPACES (sizeof spaces / sizeof *spaces)

static const char *after(const char *s, const char *head)
{
  size_t n = strlen(head);
  return strncmp(s, head, n) == 0 ? s + n : NULL;
}

/* Which generation a key (after the prefix) belongs to: 1 current, 2 old, 0
 * neither; *rest is the key after its namespace, *space the namespace. */
static int generation(const char *key, const char **rest, size_t *space)
{
  for (size_t i = 0; i < NSPACES; i++)
    for (int g = 1; g <= 2; g++) {
      const char *head = g == 1 ? spaces[i].cur : spaces[i].old;
      if (head && (*rest = after(key, head))) {
        *space = i;
        return g;
      }
    }
  return 0;
}

/* The slot of the key `rest` in namespace sp; NKEYS if there is none. */
static int slot(size_t sp, const char *rest)
{
  int k = 0;
  for (const char *r; k < NKEYS; k++)
    if ((r = after(keys[k].name, spaces[sp].cur)) && strcmp(r, rest) == 0) break;
  return k;
}

/* The key of a slot as this file names it (prefix, generation). */
static const char *file_key(char *buf, size_t len, const char *pfx, int old, int k)
{
  const char *name = keys[k].name;
  for (size_t i = 0; old && i < NSPACES; i++) {
    const char *rest = after(name, spaces[i].cur);
    if (rest && spaces[i].old) {
      snprintf(buf, len, "%s%s%s", pfx, spaces[i].old, rest);
      return buf;
    }
  }
  snprintf(buf, len, "%s%s", pfx, name);
  return buf;
}

static void fmt_shape(char *buf, size_t len, int ndim, const size_t *d)
{
  int n = snprintf(buf, len, "[");
  for (int i = 0; i < ndim && n > 0 && (size_t)n < len; i++)
    n += snprintf(buf + n, len - (size_t)n, "%s%zu", i ? ", " : "", d[i]);
  if (n > 0 && (size_t)n < len) snprintf(buf + n, len - (size_t)n, "]");
}

struct found {
  const vss_st *f;
  const char *path, *pfx;
  int old;                                 /* old v0 key names */
  const struct vss_tensor *t[NKEYS];
};

/* Picks the block's tensors under the prefix into fd->t. */
static vss_status pick(struct found *fd)
{
  const char *path = fd->path, *pfx = fd->pfx, *first[3] = {NULL, NULL, NULL};
  size_t under = 0, n = vss_st_count(fd->f);
  for (size_t i = 0; i < n; i++) {
    const struct vss_tensor *t = vss_st_at(fd->f, i);
    const char *key = after(t->name, pfx), *rest;
    size_t sp;
    if (!key) continue;
    under++;
    int g = generation(key, &rest, &sp);
    if (!g) continue;
    if (!first[g]) first[g] = t->name;
    if (first[1] && first[2])
      return vss_fail(VSS_ERR_FORMAT, "%s: mixes key generations: '%s' (current) "
                      "and '%s' (old v0)", path, first[1], first[2]);
    int k = slot(sp, rest);
    if (k == NKEYS)
      return vss_fail(VSS_ERR_FORMAT, "%s: tensor '%s' is not a VSSBlock parameter "
                      "this loader knows", path, t->name);
    fd->t[k] = t;
  }
  if (*pfx && !under)
    return vss_fail(VSS_ERR_MISSING, "%s: no tensor under prefix '%s'", path, pfx);
  if (!first[1] && !first[2]) {
    char hint[256] = "";
    for (size_t i = 0; i < n && !hint[0]; i++) { /* a block somewhere else? */
      const char *name = vss_st_at(fd->f, i)->name, *end = strstr(name, ".op.A_logs");
      if (!end) end = strstr(name, ".self_attention.A_logs");
      if (end)
        snprintf(hint, sizeof hint, "; one is under prefix '%.*s.'", (int)(end - name), name);
    }
    return vss_fail(VSS_ERR_MISSING, "%s: no VSSBlock tensors (norm.*, op.* or "
                    "ln_1.*, self_attention.*) under prefix '%s'%s", path, pfx, hint);
  }
  fd->old = first[2] != NULL;
  return VSS_OK;
}

/* Every required tensor is present and has its rank. */
static vss_status check_present(const struct found *fd, int mlp)
{
  char key[512];
  for (int k = 0; k < NKEYS; k++) {
    const struct vss_tensor *t = fd->t[k];
    int optional = k == CONV_B || (k >= NORM2_W && !mlp);
    if (!t && !optional)
      return vss_fail(VSS_ERR_MISSING, "%s: tensor '%s' is missing%s", fd->path,
                      file_key(key, sizeof key, fd->pfx, fd->old, k),
                      k >= NORM2_W ? " (the MLP branch needs norm2.*, mlp.fc1.*, "
                                     "mlp.fc2.*)" : "");
    if (t && t->ndim != keys[k].ndim)
      return vss_fail(VSS_ERR_SHAPE, "%s: tensor '%s' has %d dims, expected %d (%s)",
                      fd->path, t->name, t->ndim, keys[k].ndim, keys[k].dims);
  }
  return VSS_OK;
}

/* Infers the config; the ranks are checked.  Shape entries of a file are at
 * most 2^53 (vss_st_open), so 4*Di and R+2*N cannot overflow. */
static vss_status infer(const struct found *fd, struct vss_block_config *c)
{
  const struct vss_tensor *const *t = fd->t;
  const struct { size_t *v; const char *what; int k, dim; } from[] = {
      {&c->C, "C", NORM_W, 0},     {&c->Di, "Di", CONV_W, 0},
      {&c->N, "N", A_LOGS, 1},     {&c->R, "R", DT_W, 2},
      {&c->mlp_hidden, "hidden", FC1_W, 0},
  };
  for (size_t i = 0; i < sizeof from / sizeof *from; i++) {
    if (!t[from[i].k]) continue; /* no MLP */
    *from[i].v = t[from[i].k]->shape[from[i].dim];
    if (!*from[i].v)
      return vss_fail(VSS_ERR_SHAPE, "%s: tensor '%s' has a zero-sized dimension: "
                      "%s = 0", fd->path, t[from[i].k]->name, from[i].what);
  }
  size_t rows = t[IN_PROJ]->shape[0];
  if (rows != c->Di && rows != 2 * c->Di)
    return vss_fail(VSS_ERR_SHAPE, "%s: tensor '%s' has %zu rows, expected Di = %zu "
                    "(no z) or 2*Di = %zu (v0, z gate)", fd->path, t[IN_PROJ]->name,
                    rows, c->Di, 2 * c->Di);
  c->has_z = rows == 2 * c->Di;
  c->conv_bias = t[CONV_B] != NULL;
  c->eps = 1e-5f;
  return VSS_OK;
}

/* Every present tensor has the shape the config gives it. */
static vss_status check_shapes(const struct found *fd, const struct vss_block_config *c)
{
  const size_t C = c->C, Di = c->Di, N = c->N, R = c->R, Hd = c->mlp_hidden;
  const size_t want[NKEYS][4] = {
      [NORM_W] = {C},           [NORM_B] = {C},
      [IN_PROJ] = {c->has_z ? 2 * Di : Di, C},
      [CONV_W] = {Di, 1, 3, 3}, [CONV_B] = {Di},
      [X_PROJ] = {4, R + 2 * N, Di},
      [DT_W] = {4, Di, R},      [DT_B] = {4, Di},
      [A_LOGS] = {4 * Di, N},   [DS] = {4 * Di},
      [ONORM_W] = {Di},         [ONORM_B] = {Di},
      [OUT_PROJ] = {C, Di},
      [NORM2_W] = {C},          [NORM2_B] = {C},
      [FC1_W] = {Hd, C},        [FC1_B] = {Hd},
      [FC2_W] = {C, Hd},        [FC2_B] = {C},
  };
  for (int k = 0; k < NKEYS; k++) {
    const struct vss_tensor *t = fd->t[k];
    if (!t || memcmp(t->shape, want[k], (size_t)t->ndim * sizeof *t->shape) == 0)
      continue;
    char got[128], exp[128];
    fmt_shape(got, sizeof got, t->ndim, t->shape);
    fmt_shape(exp, sizeof exp, t->ndim, want[k]);
    return vss_fail(VSS_ERR_SHAPE, "%s: tensor '%s' has shape %s, expected %s = (%s) "
                    "with C=%zu Di=%zu N=%zu R=%zu%s", fd->path, t->name, got, exp,
                    keys[k].dims, C, Di, N, R, c->has_z ? " (z gate)" : "");
  }
  return VSS_OK;
}

vss_status vss_meta_bool(const vss_st *f, const char *key, int *out)
{
  const char *v = vss_st_meta(f, key);
  *out = 0;
  if (!v || !strcmp(v, "0") || !strcmp(v, "false")) return VSS_OK;
  if (!strcmp(v, "1") || !strcmp(v, "true")) {
    *out = 1;
    return VSS_OK;
  }
  return vss_fail(VSS_ERR_FORMAT, "%s: __metadata__: '%s' is '%s', expected 1, 0, true "
                  "or false", vss_st_path(f), key, v);
}

static vss_status build(const struct found *fd, const struct vss_block_opts *opts,
                        vss_block **out)
{
  struct vss_block_config cfg = {0};
  int mlp = fd->t[NORM2_W] || fd->t[NORM2_B] || fd->t[FC1_W] || fd->t[FC1_B] ||
            fd->t[FC2_W] || fd->t[FC2_B];
  vss_status s = check_present(fd, mlp);
  if (!s) s = infer(fd, &cfg);
  if (!s) s = vss_meta_bool(fd->f, "post_norm", &cfg.post_norm);
  if (!s) s = check_shapes(fd, &cfg);
  if (s) return s;

  struct vss_block_weights w = {0};
  const float **dst[NKEYS] = {
      &w.norm_w,  &w.norm_b,     &w.in_proj_w,  &w.conv_w,     &w.conv_b,
      &w.x_proj_w, &w.dt_projs_w, &w.dt_projs_b, &w.A_logs,     &w.Ds,
      &w.out_norm_w, &w.out_norm_b, &w.out_proj_w, &w.norm2_w, &w.norm2_b,
      &w.fc1_w,   &w.fc1_b,      &w.fc2_w,      &w.fc2_b,
  };
  float *buf[NKEYS] = {NULL};
  for (int k = 0; k < NKEYS && !s; k++)
    if (fd->t[k] && !(s = vss_st_to_f32(fd->f, fd->t[k], &buf[k]))) *dst[k] = buf[k];
  if (!s) s = vss_block_create(&cfg, &w, opts, out);
  for (int k = 0; k < NKEYS; k++) free(buf[k]);
  return s;
}

vss_status vss_block_load_st(const vss_st *f, const char *prefix,
                             const struct vss_block_opts *opts, vss_block **out)
{
  if (!out) return vss_fail(VSS_ERR_ARG, "vss_block_load: out is NULL");
  *out = NULL;
  if (!f) return vss_fail(VSS_ERR_ARG, "vss_block_load: file is NULL");
  const char *path = vss_st_path(f);
  /* "layers.0.blocks.1" means "layers.0.blocks.1.", never "...blocks.10." */
  char pfx[512];
  size_t plen = prefix ? strlen(prefix) : 0;
  if (plen + 2 > sizeof pfx)
    return vss_fail(VSS_ERR_ARG, "%s: prefix of %zu characters is too long", path, plen);
  snprintf(pfx, sizeof pfx, "%s%s", plen ? prefix : "",
           plen && prefix[plen - 1] != '.' ? "." : "");

  struct found fd = {.f = f, .path = path, .pfx = pfx};
  vss_status s = pick(&fd);
  if (!s) s = build(&fd, opts, out);
  return s;
}

vss_status vss_block_load(const char *path, const char *prefix,
                          const struct vss_block_opts *opts, vss_block **out)
{
  if (!out) return vss_fail(VSS_ERR_ARG, "vss_block_load: out is NULL");
  *out = NULL;
  if (!path) return vss_fail(VSS_ERR_ARG, "vss_block_load: path is NULL");
  vss_st *f = NULL;
  vss_status s = vss_st_open(path, &f);
  if (!s) s = vss_block_load_st(f, prefix, opts, out);
  vss_st_close(f);
  return s;
}
