/* vss_kernels.h - the kernel interface: what every variant implements.
 *
 * Every op works on fp32, channel-last data ("rows" of a contiguous channel
 * vector, one row per pixel).  A variant fills a struct vss_ops: it first
 * calls vss_init__ref() so every slot is valid (BLIS context pattern), then
 * overrides the slots it optimises.  The block driver (core/block.c) is
 * written once and calls only through this table.
 *
 * Naming: vss_<op>__<variant>[_<tile>]  (double underscore: what, then how).
 *
 * Contracts common to all ops:
 *  - sizes are element counts; ld* are row strides in elements (>= the row
 *    length); outputs never alias inputs unless the op says so;
 *  - an op never reads or writes outside the rows/columns it is given;
 *  - no op allocates on its hot path except where documented (ref's scan
 *    materialises copies, on purpose: it is a literal transcription).
 */
#ifndef VSS_KERNELS_H
#define VSS_KERNELS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VSS_K 4 /* scan directions, always four (spec §2.5) */

/* ---- cross-scan index maps (spec §2.5) -----------------------------------
 * Direction k visits pixel vss_scan_pos(k, t, H, W) at step t; the flat
 * pixel index is p = h*W + w.  k=0: row-major, k=1: column-major (t = w*H+h),
 * k=2: reverse of k=0, k=3: reverse of k=1. */
static inline size_t vss_scan_pos(int k, size_t t, size_t H, size_t W)
{
  const size_t L = H * W;
  if (k >= 2) t = L - 1 - t;
  if (k & 1) { /* column-major: t = w*H + h */
    const size_t w = t / H, h = t % H;
    return h * W + w;
  }
  return t;
}

/* ---- linear: y = x W^T (+ b), optionally GELU, optionally accumulated ----
 * The weight keeps PyTorch's layout W[out][in].  A variant may pre-pack it
 * once at block creation in linear_prepare (its "plan step"); ref does not. */
enum vss_act { VSS_ACT_NONE = 0, VSS_ACT_GELU = 1 };

struct vss_linear_desc {
  size_t n_out, n_in;
  const float *w;   /* (n_out, n_in), must outlive the plan */
  const float *b;   /* (n_out) or NULL */
  int act;          /* enum vss_act, applied after the bias */
  int accumulate;   /* 1: y = y + act(x W^T + b)  (fuses a residual add) */
};

struct vss_linear {
  struct vss_linear_desc d;
  void *priv;                 /* variant-owned packed weights, or NULL */
  void (*priv_free)(void *);  /* how to free priv (NULL: nothing to free) */
};

/* Returns 0, or non-zero if it could not allocate (priv then NULL). */
typedef int (*vss_linear_prepare_fn)(struct vss_linear *lin);
/* rows x n_in input with row stride ldx -> rows x n_out output, stride ldy */
typedef void (*vss_linear_fn)(const struct vss_linear *lin, size_t rows,
                              const float *x, size_t ldx, float *y, size_t ldy);

/* ---- layernorm over each row: mu, biased var, (x-mu)/sqrt(var+eps)*g+b --- */
typedef void (*vss_layernorm_fn)(size_t rows, size_t dim, const float *x,
                                 size_t ldx, const float *g, const float *b,
                                 float eps, float *y, size_t ldy);

/* ---- depthwise 3x3 conv, stride 1, zero pad 1, + bias, then SiLU --------
 * x: (B, H, W, D) with row stride ldx (pixels), y: (B, H, W, D) contiguous.
 * w: (D, 3, 3) = conv2d.weight (D,1,3,3); b: (D) or NULL. */
typedef void (*vss_dwconv3x3_fn)(size_t B, size_t H, size_t W, size_t D,
                                 const float *x, size_t ldx, const float *w,
                                 const float *b, float *y);

/* ---- elementwise: y[i] = f(x[i]); y == x allowed ------------------------ */
typedef void (*vss_unary_fn)(size_t n, const float *x, float *y);

/* ---- gate: y[r][c] = y[r][c] * silu(z[r][c]); y is (rows, dim) contiguous,
 * z has row stride ldz. */
typedef void (*vss_gate_fn)(size_t rows, size_t dim, float *y, const float *z,
                            size_t ldz);

/* ---- selective scan of all 4 directions, with the merge (spec §2.5-2.6) --
 * Per sample b, direction k, channel d, state n, step t (p = pos_k(t)):
 *   delta = softplus(dt[p][k][d] + dt_bias[k][d])          (threshold 20)
 *   h[n]  = exp(delta*A[k*Di+d][n]) * h[n] + delta*B_k(p)[n]*u[p][d]
 *   ys    = sum_n C_k(p)[n]*h[n] + D[k*Di+d]*u[p][d]
 *   y[p][d] += ys        for every k in dirs (y is overwritten first)
 * where B_k(p) = dbl[p][k*(R+2N) + R + n], C_k(p) = dbl[p][k*(R+2N)+R+N+n]. */
struct vss_scan_args {
  size_t B, H, W;      /* L = H*W pixels per sample */
  size_t Di, N, R;
  const float *u;       /* (B, L, Di): conv+SiLU output */
  const float *dbl;     /* (B, L, 4*(R+2N)): x_proj output, all directions */
  const float *dt;      /* (B, L, 4*Di): dt_proj output, before bias */
  const float *dt_bias; /* (4, Di) = dt_projs_bias */
  const float *A;       /* (4*Di, N) = -exp(A_logs), k-major */
  const float *D;       /* (4*Di) = Ds */
  unsigned dirs;        /* bit k set: include direction k; 0xF for a block */
  float *y;             /* (B, L, Di): sum of the selected directions */
  const float *dt_w;    /* (4, Di, R) = dt_projs_weight: read by ssm_scan_dt
                           only, which computes dt itself (dt not read) */
};
typedef void (*vss_ssm_scan_fn)(const struct vss_scan_args *a);

/* ---- the ops table ------------------------------------------------------ */
struct vss_ops {                 /* every slot non-NULL after init, but ssm_scan_dt */
  vss_layernorm_fn layernorm;
  vss_linear_prepare_fn linear_prepare;
  vss_linear_fn linear;
  vss_dwconv3x3_fn dwconv3x3;   /* conv + bias + SiLU */
  vss_unary_fn silu, gelu, softplus;
  vss_gate_fn gate;
  vss_ssm_scan_fn ssm_scan;
  /* Optional (NULL: the variant has none; the one slot that may be NULL):
   * dt_proj fused into the scan.  It computes dt[p][k] = dt_w[k] .
   * dbl[p][k][:R] where it needs it, in the variant's own linear's order
   * (the same bits as linear into dt, then ssm_scan), and never reads
   * a->dt: the block then skips the (B, L, 4 Di) dt tensor, its largest. */
  vss_ssm_scan_fn ssm_scan_dt;
};

/* A variant's init: fill every slot.  base is the best single-thread table
 * for a variant that wraps one (omp), NULL for the others. */
typedef void (*vss_init_fn)(struct vss_ops *ops, const struct vss_ops *base);

/* ISA bits a variant needs (checked with __builtin_cpu_supports). */
enum vss_isa {
  VSS_ISA_NONE = 0,
  VSS_ISA_AVX2 = 1u << 0,    /* avx2 + fma */
  VSS_ISA_AVX512 = 1u << 1,  /* avx512 f/dq/bw/vl */
  VSS_ISA_OPENMP = 1u << 2,  /* built with OpenMP (not a CPU feature) */
};

/* One prototype per variant, from the X-macro list. */
#define VSS_VARIANT(name, isa, wraps, desc) \
  void vss_init__##name(struct vss_ops *ops, const struct vss_ops *base);
#include "vss/variants.inc"
#undef VSS_VARIANT

/* Reference ops (ref/), the oracle every variant starts from. */
void vss_layernorm__ref(size_t rows, size_t dim, const float *x, size_t ldx,
                        const float *g, const float *b, float eps, float *y,
                        size_t ldy);
int vss_linear_prepare__ref(struct vss_linear *lin);
void vss_linear__ref(const struct vss_linear *lin, size_t rows, const float *x,
                     size_t ldx, float *y, size_t ldy);
void vss_dwconv3x3__ref(size_t B, size_t H, size_t W, size_t D, const float *x,
                        size_t ldx, const float *w, const float *b, float *y);
void vss_silu__ref(size_t n, const float *x, float *y);
void vss_gelu__ref(size_t n, const float *x, float *y);
void vss_softplus__ref(size_t n, const float *x, float *y);
void vss_gate__ref(size_t rows, size_t dim, float *y, const float *z,
                   size_t ldz);
void vss_ssm_scan__ref(const struct vss_scan_args *a);

#ifdef __cplusplus
}
#endif
#endif /* VSS_KERNELS_H */
