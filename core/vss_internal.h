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

/* --- block creation from inferred config (core/load.c -> core/block.c) --- */
struct vss_block_config;
#endif
