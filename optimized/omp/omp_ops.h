/* omp_ops.h - the omp variant's ops (private to optimized/omp/, plus the
 * plan query tests/test_omp.c uses).  Plain C declarations: this header
 * may be included by files compiled without -fopenmp or -mavx2.
 *
 * The omp variant wraps the best single-thread table (DESIGN §3): its init
 * receives that table as `base` and keeps a copy in vss_omp_base, because
 * an op function has no context pointer.  Constraint: one base per
 * process.  The registry always passes the same table (the first runnable,
 * non-emulated, non-wrapping variant of include/vss/variants.inc), so
 * after the first init the copy is only compared, never rewritten; a
 * program that changed VSS_MAX_ISA between two inits would switch the base
 * of every omp table at once (tests/test_omp.c does, and switches back).
 *
 * Threads: every op runs on OpenMP's current team size for the calling
 * thread (omp_get_max_threads(): OMP_NUM_THREADS, or what
 * omp_set_num_threads() set; core/block.c sets it for a forward when the
 * block was created with vss_block_opts.threads > 0).  Work is cut into
 * pieces that depend only on the shape, never on the thread count, so
 * every op's result is bit-identical for any number of threads (see each
 * op for its partition). */
#ifndef VSS_OMP_OPS_H
#define VSS_OMP_OPS_H

#include "vss/vss_kernels.h"

/* Code any x86-64 may run.  The directory is compiled -mavx2 -mfma (for
 * the scan's intrinsics), but the registry may pick omp on a CPU without
 * AVX2 (its isa is OpenMP alone) or under VSS_MAX_ISA=none: the wrappers,
 * the init and the scan's dispatch sit between these marks, which compile
 * them for plain x86-64 (GCC, this directory's compiler; struct copies
 * would otherwise become AVX moves).  The AVX2 scan runs only after a
 * CPU check (vss_ssm_scan_omp_plan). */
#if defined(__GNUC__) && !defined(__clang__)
#define VSS_OMP_ANY_X86_BEGIN _Pragma("GCC push_options") _Pragma("GCC target(\"no-avx\")")
#define VSS_OMP_ANY_X86_END _Pragma("GCC pop_options")
#else
#define VSS_OMP_ANY_X86_BEGIN
#define VSS_OMP_ANY_X86_END
#endif

/* The wrapped single-thread table (set by vss_init__omp). */
extern struct vss_ops vss_omp_base;

/* Points the position-wise slots of ops (layernorm, linear, gate, silu,
 * gelu, softplus) and the conv at the threaded wrappers of ops_omp.c. */
void vss_omp_wrap_ops(struct vss_ops *ops);
/* The chunked, tiled scan (ssm_scan_omp.c). */
void vss_ssm_scan__omp(const struct vss_scan_args *a);
/* ... with dt_proj fused (the ssm_scan_dt slot, installed where the base
 * has one: its linear forms dt in the order the fused scan does). */
void vss_ssm_scan_dt__omp(const struct vss_scan_args *a);

/* How vss_ssm_scan__omp cuts a problem (a function of the shape only). */
struct vss_omp_scan_plan {
  int vector;      /* 1: the AVX2 chunked scan; 0: base's scan per sample */
  size_t group;    /* channels per work unit (the last group may be narrower) */
  size_t ngroup;   /* groups per sample */
  size_t chunk;    /* steps per chunk of the sequence (L when unchunked) */
  size_t nchunk;   /* chunks per sequence */
};
void vss_ssm_scan_omp_plan(const struct vss_scan_args *a, struct vss_omp_scan_plan *p);

#endif
