/* vss_internal.h - what core/ files share; not installed. */
#ifndef VSS_INTERNAL_H
#define VSS_INTERNAL_H

#include "vss/vss.h"
#include "vss/vss_kernels.h"

/* Records a one-line message for vss_last_error() and returns s. */
vss_status vss_fail(vss_status s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* a*b, or 0 with *ovf set on overflow (for sizes read from files). */
static inline size_t vss_mul_ovf(size_t a, size_t b, int *ovf)
{
  size_t r;
  if (__builtin_mul_overflow(a, b, &r)) { *ovf = 1; return 0; }
  return r;
}

/* --- safetensors (core/safetensors.c) --- */
/* vss_st_open on n bytes in memory (copied); name stands for the path in
 * messages and vss_st_path ("(memory)" when NULL).  For the fuzzer. */
vss_status vss_st_open_mem(const void *buf, size_t n, const char *name, vss_st **out);

/* --- loading (core/load.c) --- */
/* vss_block_load on an open file (vss_block_load opens it and calls this). */
vss_status vss_block_load_st(const vss_st *f, const char *prefix,
                             const struct vss_block_opts *opts, vss_block **out);

/* --- registry (core/registry.c) --- */
struct vss_variant_entry {
  const char *name;
  unsigned isa;
  int wraps;
  const char *desc;
  vss_init_fn init;
};
/* Finds a variant by name ("best" resolves through the dispatcher) and
 * fills ops; fails with VSS_ERR_VARIANT if unknown or not runnable here. */
vss_status vss_resolve_variant(const char *name, struct vss_ops *ops,
                               const char **resolved);
/* 1 if this CPU/build can run a variant needing these isa bits; else 0
 * and *why says why. */
int vss_isa_runnable(unsigned isa, const char **why);

/* --- metadata (core/load.c) --- */
/* A boolean __metadata__ key: "1"/"true" -> 1; absent, "0"/"false" -> 0;
 * anything else fails with VSS_ERR_FORMAT naming the file and key. */
vss_status vss_meta_bool(const vss_st *f, const char *key, int *out);

/* --- block creation from inferred config (core/load.c -> core/block.c) --- */
struct vss_block_config;
#endif
