/* golden.h - running the block on a golden case and judging it (DESIGN §7,
 * §8), shared by `vssbench verify` (tools/) and the golden Check suite
 * (tests/), so both apply exactly the same rule.  Implemented in
 * core/verify.c; the limits are in core/tolerances.h.
 *
 * A golden file (scripts/gen_golden.py) holds the block's weights under
 * VMamba's keys (behind __metadata__ `prefix`), `x` (B,H,W,C), `y` the
 * float64 truth, optionally `stages.<name>` float64 intermediates, and the
 * PyTorch fp32 noise figures the limits are derived from.  Run options of a
 * case are metadata too: `layout` nchw (x, y stored (B,C,H,W)), `train` +
 * `drop_path` + `seed_mask` (training-mode drop_path with vss_drop_mask's
 * mask), and `post_norm`, which vss_block_load reads itself.
 */
#ifndef VSS_GOLDEN_H
#define VSS_GOLDEN_H

#include "tolerances.h"

/* Reads tensor `name` of f as a (B,H,W,C) fp32 array (any stored dtype):
 * it must be 4-D with no zero-sized dimension, and have C channels when C
 * is non-zero.  On success *out is a new buffer (free()) and shape[4] its
 * dims; on failure the message names the file and the tensor. */
vss_status vss_read_bhwc(const vss_st *f, const char *name, size_t C,
                         float **out, size_t shape[4]);
/* The same for an activation in either layout (enum vss_layout): the
 * channels are dim 3 (B,H,W,C) or dim 1 (B,C,H,W); shape[4] is the tensor's
 * as stored.  A tensor whose other channel dim would match gets a hint
 * that the layout looks wrong. */
vss_status vss_read_act(const vss_st *f, const char *name, size_t C, int layout,
                        float **out, size_t shape[4]);

struct vss_golden {
  vss_st *st;
  const char *path;
  const char *name;       /* metadata `case`, else the file's name */
  const char *prefix;     /* metadata `prefix`, "" when absent */
  size_t B, H, W, C, n;   /* shape of x and y; n = B*H*W*C */
  size_t dims[4];         /* x and y as stored: (B,H,W,C), or (B,C,H,W)
                             under layout nchw */
  struct vss_run_opts run; /* from __metadata__ layout ("nhwc" | "nchw"),
                             train, drop_path, seed_mask (absent: the
                             defaults, plain inference) */
  float *x;               /* the input */
  double *y;              /* the float64 truth */
  struct vss_limits lim;  /* vss_golden_limits() of this case */
  double fp32_max_abs, fp32_nmse_branch, max_abs_branch; /* its metadata */
  int has_stages;         /* the file holds stages.* tensors */
};

/* Opens a golden file and reads x, y and the limits; *g is zeroed first,
 * and on failure everything is released again. */
vss_status vss_golden_open(const char *path, struct vss_golden *g);
void vss_golden_close(struct vss_golden *g);

/* Loads the block from the case file with this variant (NULL: best), runs
 * it on x with g->run (stage callback when stage is non-NULL) into
 * got (n floats, caller's), and compares got - x with y - x under g->lim.
 * variant_out (may be NULL) receives the variant that ran, truncated to
 * len.  A load or run failure returns its status (r is then untouched). */
vss_status vss_golden_run(const struct vss_golden *g, const char *variant,
                          vss_stage_fn stage, void *ctx, float *got,
                          struct vss_cmp *r, char *variant_out, size_t len);

/* Compares one intermediate the block reported (a vss_stage_fn's name,
 * data, ndim, shape) with the case's `stages.<name>` under
 * vss_stage_limits().  VSS_ERR_MISSING when the case has no such stage,
 * VSS_ERR_SHAPE when the shapes differ. */
vss_status vss_golden_stage(const struct vss_golden *g, const char *name,
                            const float *data, int ndim, const size_t *shape,
                            struct vss_cmp *r);

/* Splits a flat row-major index into coordinates (the inverse of
 * ((i0*s1 + i1)*s2 + i2)...): for the bad points of vss_cmp. */
void vss_unravel(size_t idx, int ndim, const size_t *shape, size_t *coord);

#endif
