/* vss.h - public C API of vssbench: VMamba's VSSBlock on the CPU.
 *
 * Tensors are fp32, channel-last: x and y are (B, H, W, C) (channel-first
 * (B, C, H, W) through vss_block_forward_ex's layout option).  A block is
 * loaded from a safetensors file holding VMamba's own state_dict keys (both
 * generations), or created from a config and weight pointers; it runs with
 * one variant of the kernels ("ref", "avx2", ..., or "best").
 *
 * Errors: every call returns a vss_status; vss_last_error() gives a one-line
 * message naming the file, the tensor and what is wrong (thread-local).
 */
#ifndef VSS_H
#define VSS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vss_status {
  VSS_OK = 0,
  VSS_ERR_ARG,      /* bad argument to an API call */
  VSS_ERR_IO,       /* cannot open, read or write a file */
  VSS_ERR_FORMAT,   /* malformed safetensors file */
  VSS_ERR_MISSING,  /* a required tensor is absent */
  VSS_ERR_SHAPE,    /* a tensor's shape is inconsistent */
  VSS_ERR_DTYPE,    /* unsupported dtype */
  VSS_ERR_NOMEM,    /* allocation failed or a size overflows */
  VSS_ERR_VARIANT,  /* unknown variant, or the CPU cannot run it */
} vss_status;

const char *vss_status_str(vss_status s);  /* "shape", "io", ... */
const char *vss_last_error(void);          /* message of the last failure */

/* ------------------------------------------------------------------ block */

struct vss_block_config {
  size_t C;          /* d_model */
  size_t Di;         /* d_inner (ssm_ratio * C) */
  size_t N;          /* d_state */
  size_t R;          /* dt_rank */
  size_t mlp_hidden; /* MLP hidden width (mlp_ratio * C), 0: no MLP branch */
  int has_z;         /* v0: in_proj has 2*Di rows, gate y * silu(z) */
  int conv_bias;     /* depthwise conv has a bias */
  float eps;         /* LayerNorm eps, 1e-5 */
  int post_norm;     /* 1: x + op(x) -> x + norm(op(x)), x + mlp(x) ->
                        x + norm2(mlp(x)) (spec §3.2; VMamba's post_norm);
                        vss_block_load sets it from the file's __metadata__
                        key post_norm ("1"/"true") */
};

/* fp32 weights, PyTorch layouts (spec §2.3, §3.2).  NULL where absent. */
struct vss_block_weights {
  const float *norm_w, *norm_b;         /* (C) */
  const float *in_proj_w;               /* (Di or 2*Di, C) */
  const float *conv_w, *conv_b;         /* (Di, 1, 3, 3), (Di) */
  const float *x_proj_w;                /* (4, R+2N, Di) */
  const float *dt_projs_w;              /* (4, Di, R) */
  const float *dt_projs_b;              /* (4, Di) */
  const float *A_logs;                  /* (4*Di, N) */
  const float *Ds;                      /* (4*Di) */
  const float *out_norm_w, *out_norm_b; /* (Di) */
  const float *out_proj_w;              /* (C, Di) */
  const float *norm2_w, *norm2_b;       /* (C) */
  const float *fc1_w, *fc1_b;           /* (H, C), (H) */
  const float *fc2_w, *fc2_b;           /* (C, H), (C) */
};

typedef struct vss_block vss_block;

struct vss_block_opts {
  const char *variant; /* NULL or "best": the dispatcher's choice */
  int threads;         /* 0: the environment's default */
};

/* Copies the weights; the caller's buffers may be freed afterwards. */
vss_status vss_block_create(const struct vss_block_config *cfg,
                            const struct vss_block_weights *w,
                            const struct vss_block_opts *opts,
                            vss_block **out);
/* Loads one block from a safetensors file; prefix ("" or NULL for none)
 * selects "layers.0.blocks.1." out of a whole-model file.  The config is
 * inferred from the tensors. */
vss_status vss_block_load(const char *path, const char *prefix,
                          const struct vss_block_opts *opts, vss_block **out);
void vss_block_free(vss_block *blk);

const struct vss_block_config *vss_block_get_config(const vss_block *blk);
const char *vss_block_variant(const vss_block *blk);

/* y = VSSBlock(x), x and y (B, H, W, C), must not alias.  Not reentrant on
 * one block (it owns its workspace); use one block per thread. */
vss_status vss_block_forward(vss_block *blk, size_t B, size_t H, size_t W,
                             const float *x, float *y);

/* The same forward, calling stage(ctx, name, data, ndim, shape) after each
 * intermediate of spec §2.4 / §3.3, in order.  Names and shapes:
 *   norm (B,H,W,C)  in_proj (B,H,W,Di|2Di)  conv_silu (B,H,W,Di)
 *   x_proj (B,H,W,4,R+2N)  dt_proj (B,H,W,4,Di)  delta (B,H,W,4,Di)
 *   scan_k0..scan_k3 (B,H,W,Di)  scan_merge (B,H,W,Di)  out_norm (B,H,W,Di)
 *   gate (B,H,W,Di, v0 only)  out_proj (B,H,W,C)  residual (B,H,W,C)
 *   norm2 (B,H,W,C)  fc1_gelu (B,H,W,H)  fc2 (B,H,W,C)  (MLP only)  y
 * With post_norm, norm follows its branch (in_proj reads x):
 *   in_proj ... out_proj, norm = LN(out_proj), residual,
 *   fc1_gelu (of residual), fc2, norm2 = LN(fc2), y
 * out_proj and fc2 are always the branch before any drop_path factor;
 * residual and y the sums after it (vss_block_forward_ex).
 * A non-zero return from stage aborts the forward with VSS_ERR_IO. */
typedef int (*vss_stage_fn)(void *ctx, const char *name, const float *data,
                            int ndim, const size_t *shape);
vss_status vss_block_forward_stages(vss_block *blk, size_t B, size_t H,
                                    size_t W, const float *x, float *y,
                                    vss_stage_fn stage, void *ctx);

/* ==================================================================== */
/* Run options: training-mode drop_path, channel-first tensors,          */
/* post_norm (issue #10).                                                */
/* ==================================================================== */

enum vss_layout {
  VSS_NHWC = 0, /* x, y (B, H, W, C): channel-last (the default) */
  VSS_NCHW = 1, /* x, y (B, C, H, W): channel-first, as VMamba's released
                   models hold activations (LayerNorm2d); same math */
};

/* Options of one forward; all zeros (or a NULL pointer) is the plain
 * inference run of vss_block_forward. */
struct vss_run_opts {
  int layout;             /* enum vss_layout */
  int train;              /* 1: training mode, drop_path active */
  float drop_path;        /* p in [0, 1), checked in every mode; used only
                             in training mode (identity at inference) */
  uint64_t seed;          /* the mask's seed (vss_drop_mask) */
  const float *keep_mask; /* NULL, or (2, B): in training mode, replaces the
                             seeded draw: keep_mask[i*B + b] != 0 keeps
                             branch i of sample b (then scaled by 1/(1-p)) */
};

/* drop_path (stochastic depth) as timm's drop_path(scale_by_keep=True),
 * per sample b and branch i (0 = SS2D, 1 = MLP; VMamba drops both):
 *   x = x + f[0][b] * op-branch,   x = x + f[1][b] * mlp-branch
 * with f = 1/(1-p) (kept) or 0 (dropped: the sample's x passes unchanged).
 * vss_drop_mask fills mask[i*B + b] = f, for a (2, B) mask (row 1 is drawn
 * but unused when the block has no MLP), from draw k = i*B + b of
 * splitmix64 seeded with seed:
 *   state += 0x9e3779b97f4a7c15;  z = state;
 *   z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
 *   z = (z ^ (z >> 27)) * 0x94d049bb133111eb;   draw = z ^ (z >> 31)
 *   u = (draw >> 11) * 2^-53                    (a double in [0, 1))
 *   kept iff u < 1.0 - (double)p;  f = kept ? (float)(1.0 / (1.0 - (double)p)) : 0
 * (scripts/gen_golden.py's drop_mask() is the same function in Python.)
 * VSS_ERR_ARG unless 0 <= p < 1. */
vss_status vss_drop_mask(size_t B, float p, uint64_t seed, float *mask);

/* vss_block_forward / _stages with options (opts NULL: the defaults).  In
 * training mode the stage callback first receives `drop_mask` (2, B), the
 * factors f used.  Stages stay channel-last whatever the layout. */
vss_status vss_block_forward_ex(vss_block *blk, size_t B, size_t H, size_t W,
                                const float *x, float *y,
                                const struct vss_run_opts *opts,
                                vss_stage_fn stage, void *ctx);

/* Switches post_norm on or off for a loaded block (`vssbench run
 * --post-norm`); the weights are the same tensors either way. */
vss_status vss_block_set_post_norm(vss_block *blk, int on);

/* --------------------------------------------------------------- variants */

struct vss_variant_info {
  const char *name;
  const char *desc;
  int runnable;        /* this build and CPU can run it */
  const char *why_not; /* reason when not runnable, else "" */
  int emulated;        /* 1 for avx512emu (SIMDe) */
};
size_t vss_variant_count(void);
int vss_variant_info(size_t i, struct vss_variant_info *info);
/* The name "best" resolves to (after VSS_VARIANT / VSS_MAX_ISA). */
const char *vss_best_variant(void);

/* ------------------------------------------------------------ safetensors */

enum vss_dtype { VSS_F32, VSS_F16, VSS_BF16, VSS_F64 };
#define VSS_MAX_DIMS 8

struct vss_tensor {
  const char *name;
  enum vss_dtype dtype;
  int ndim;
  size_t shape[VSS_MAX_DIMS];
  size_t numel;
  const void *data; /* raw little-endian bytes inside the file's buffer */
};

typedef struct vss_st vss_st;
/* Reads and validates the whole file (header, offsets, shapes, dtypes). */
vss_status vss_st_open(const char *path, vss_st **out);
void vss_st_close(vss_st *f);
const char *vss_st_path(const vss_st *f);
size_t vss_st_count(const vss_st *f);
const struct vss_tensor *vss_st_at(const vss_st *f, size_t i);
const struct vss_tensor *vss_st_find(const vss_st *f, const char *name);
const char *vss_st_meta(const vss_st *f, const char *key); /* or NULL */
/* Converts a tensor of any dtype to a new fp32 / fp64 buffer (free()). */
vss_status vss_st_to_f32(const vss_st *f, const struct vss_tensor *t,
                         float **out);
vss_status vss_st_to_f64(const vss_st *f, const struct vss_tensor *t,
                         double **out);

struct vss_st_out {    /* one tensor to write */
  const char *name;
  enum vss_dtype dtype; /* VSS_F32 or VSS_F64 */
  int ndim;
  const size_t *shape;
  const void *data;
};
/* Writes path atomically (temporary file, then rename); meta is NULL or a
 * NULL-terminated list of key, value, key, value, ... strings. */
vss_status vss_st_write(const char *path, const struct vss_st_out *t,
                        size_t n, const char *const *meta);

/* ----------------------------------------------------------- verification */

enum vss_verdict { VSS_PASS, VSS_MARGINAL, VSS_FAIL, VSS_MISTRUSTED };
const char *vss_verdict_str(enum vss_verdict v);

struct vss_limits {
  double atol, rtol;  /* pointwise |got-exp| <= atol + rtol*|exp| */
  double nmse_max;    /* sum((got-exp)^2) / sum(exp^2); 0: not checked */
};

#define VSS_CMP_MAX_BAD 10
struct vss_cmp {
  enum vss_verdict verdict;
  size_t n, n_bad, n_nan_mismatch;
  double max_abs, max_rel, nmse;
  double max_abs_exp;    /* max |exp|, the scale of the tensor */
  double worst_frac;     /* largest used fraction of any limit */
  size_t bad_idx[VSS_CMP_MAX_BAD];
  double bad_got[VSS_CMP_MAX_BAD], bad_exp[VSS_CMP_MAX_BAD];
};
/* Compares got (float) with exp (double); base (may be NULL) is subtracted
 * from both first, so a block is judged on its residual branch y - x. */
void vss_compare(const float *got, const double *exp, const float *base,
                 size_t n, const struct vss_limits *lim, struct vss_cmp *r);

#ifdef __cplusplus
}
#endif
#endif /* VSS_H */
