/* bench.h - what the benchmark files (bench/bench_*.c) share; not an API.
 *
 * build/vss_bench registers, through the C wrapper gbench.h, one Google
 * Benchmark row per (op x implementation x shape [x part]) and per
 * (block x implementation x shape), named <op>/<impl>/<shape>[/<part>].
 * Implementations are the variants of include/vss/variants.inc (from the
 * registry, so a new variant appears here by itself) and the peer rows that
 * are not variants: `naive` (a plain scalar scan, naive_scan.c) and
 * `openblas` (cblas_sgemm, one thread, gemm_openblas.c).
 */
#ifndef VSS_BENCH_H
#define VSS_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "vss/vss.h"
#include "vss/vss_kernels.h"

/* ---- shapes (bench/shapes.inc) ------------------------------------------ */
#include "shapes.h"

/* ---- parts of a block: the layernorms and linears core/block.c runs ------ */
enum bench_part {
  BP_NORM, BP_OUT_NORM, BP_NORM2,                                /* layernorm */
  BP_IN_PROJ, BP_X_PROJ, BP_DT_PROJ, BP_OUT_PROJ, BP_FC1, BP_FC2, /* linear */
  BP_COUNT
};
extern const char *const bench_part_name[BP_COUNT];

/* ---- data: deterministic random numbers, spec-scale weights ------------- */
struct bench_rng { uint64_t s; };
void bench_rng_seed(struct bench_rng *r, const char *what, uint64_t seed);
float bench_uniform(struct bench_rng *r, float lo, float hi);
float bench_normal(struct bench_rng *r, float mean, float std);

/* What a buffer of activations looks like (spec §2.7 scales). */
enum bench_fill {
  FILL_NORMAL,      /* N(0, scale^2) */
  FILL_SILU_NORMAL, /* silu(N(0, scale^2)): conv+SiLU output */
  FILL_GELU_NORMAL, /* gelu(N(0, scale^2)): fc1+GELU output */
};
void bench_fill(struct bench_rng *r, float *p, size_t n, enum bench_fill kind,
                float scale);
/* 64-byte aligned, zeroed; aborts with a message when out of memory. */
float *bench_alloc(size_t n);

/* A block's weights drawn from the spec's initialisation (§2.7), perturbed
 * off the trivial values as scripts/gen_golden.py does, from a fixed seed. */
struct bench_weights {
  struct vss_block_config cfg;
  struct vss_block_weights w;
  float *A;      /* -exp(A_logs), (4Di, N): the scan's A */
  float *buf;    /* everything above lives here */
  size_t n;      /* floats in the block's weights (A excluded) */
};
void bench_weights_make(const struct bench_shape *s, struct bench_weights *bw);
size_t bench_weight_count(const struct bench_shape *s); /* floats, A excluded */
void bench_weights_free(struct bench_weights *bw);

/* The layernorm of a part: dim, gamma, beta; 0 if the shape lacks it. */
int bench_layernorm_part(const struct bench_shape *s,
                         const struct vss_block_weights *w, enum bench_part p,
                         size_t *dim, const float **g, const float **b);
/* The linear(s) of a part as core/block.c runs them, in d[]; returns how
 * many calls (4 for dt_proj: one per direction), 0 if the shape lacks it.
 * *ldx / *ldy: the row strides of their input and output (dt_proj reads
 * x_proj's output in place); w may be NULL when only sizes are needed. */
int bench_linear_part(const struct bench_shape *s,
                      const struct vss_block_weights *w, enum bench_part p,
                      struct vss_linear_desc d[VSS_K], size_t *ldx, size_t *ldy);

/* ---- counts (bench_counts.c): the one definition of FLOP and bytes ------ */
struct bench_count {
  double flop;  /* arithmetic operations of one call, see bench_counts.c */
  double bytes; /* bytes one call must move at minimum */
};
struct bench_count bench_count_layernorm(size_t rows, size_t dim);
struct bench_count bench_count_linear(size_t rows, const struct vss_linear_desc *d);
struct bench_count bench_count_dwconv3x3(size_t M, size_t D, int bias);
struct bench_count bench_count_gate(size_t rows, size_t dim);
struct bench_count bench_count_gelu(size_t n);
struct bench_count bench_count_scan(size_t B, size_t L, size_t Di, size_t N,
                                    size_t R);
struct bench_count bench_count_part(const struct bench_shape *s, enum bench_part p);
struct bench_count bench_count_block(const struct bench_shape *s);

/* ---- implementations ---------------------------------------------------- */
enum bench_op { OP_BLOCK, OP_SCAN, OP_LINEAR, OP_LAYERNORM, OP_DWCONV, OP_GATE,
                OP_GELU, OP_COUNT };
extern const char *const bench_op_name[OP_COUNT];

struct bench_impl {
  const char *name;        /* a variant name, or a peer: naive, openblas */
  int runnable;
  const char *why_not;     /* when not runnable */
  unsigned ops;            /* bit (1 << enum bench_op): the rows it has */
  int threads;             /* threads it runs (omp: OpenMP's default), for peak_frac */
  int emulated;            /* avx512emu: AVX-512 code through SIMDe */
  void (*peer_init)(struct vss_ops *ops); /* peers only: fills the table */
};
/* Fills *ops for impl; returns non-zero with a message in why if it
 * cannot (unknown variant, CPU lacks its ISA). */
int bench_impl_ops(const struct bench_impl *impl, struct vss_ops *ops,
                   char *why, size_t len);

/* The peers (naive_scan.c, gemm_openblas.c). */
void bench_ssm_scan__naive(const struct vss_scan_args *a);
void bench_init_naive(struct vss_ops *ops);
void bench_init_openblas(struct vss_ops *ops);
const char *bench_openblas_config(void);

/* ---- rows: shared by the op and block benchmarks ----------------------- */
extern double bench_peak_flops; /* FP32 FLOP/s of one core, measured */

struct bench_row {
  char name[128];
  enum bench_op op;
  enum bench_part part;      /* BP_COUNT when the op has no parts */
  const struct bench_shape *shape;
  const struct bench_impl *impl;
  int checked;               /* verification done (ok or failed) */
  char failed[320];          /* non-empty: "FAILED verification: ..." */
  char label[64];            /* the verdict shown on the row */
  int threads;               /* > 0: a scaling row, run on this many OpenMP
                                threads (name <...>/threads:N); 0: impl's */
};
/* Judges got against the reference's output on a row (limits of its op,
 * bench_ops.c); fills row->failed or row->label.  base: see vss_compare. */
void bench_verify(struct bench_row *row, const float *got, const double *exp,
                  const float *base, size_t n);
/* Sets the counters flops, bytes, peak_frac (and the label) of a row. */
struct gb_state;
void bench_report(struct gb_state *st, const struct bench_row *row,
                  struct bench_count c);
/* A row object (static storage) for an (op, impl, shape, part); NULL when
 * the shape lacks the part. */
struct bench_row *bench_row_new(enum bench_op op, const struct bench_impl *impl,
                                const struct bench_shape *s, enum bench_part p);

/* The scaling row of a threaded implementation's row (omp's block and
 * ssm_scan rows): a copy run on one thread, named <row>/threads:1, so that
 * one run shows 1 thread -> OpenMP's default; NULL for a one-thread impl. */
struct bench_row *bench_row_one_thread(const struct bench_row *row);
/* Sets OpenMP's thread count for an op row's timing (row->threads > 0)
 * and returns the previous count for bench_threads_end (block rows use
 * vss_block_opts.threads instead).  No-ops in a build without OpenMP. */
int bench_threads_begin(const struct bench_row *row);
void bench_threads_end(int saved);

void bench_register_ops(const struct bench_impl *impls, size_t n_impls);
void bench_register_block(const struct bench_impl *impls, size_t n_impls);

/* ---- the FMA-throughput probe (peak_fma.c, peak.c) --------------------- */
/* Run iters rounds of independent FMA (or mul + add) chains; return a
 * value that depends on all of them (so nothing is optimised away). */
float bench_fma_chains_avx2(long iters);
float bench_fma_chains_avx512(long iters); /* VSS_BENCH_AVX512_PROBE only */
float bench_mul_add_chains_sse2(long iters);
#define BENCH_FMA_CHAINS 12 /* FMA accumulators in flight */
#define BENCH_SSE2_CHAINS 8 /* mul + add pairs in flight */
/* Measures one core's FP32 peak in FLOP/s; *how describes the probe. */
double bench_measure_peak(const char **how);

#endif /* VSS_BENCH_H */
