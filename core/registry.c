/* registry.c - the variant table, CPU detection and dispatch.
 *
 * The table comes from include/vss/variants.inc (best first, ref last).
 * Environment:
 *   VSS_VARIANT=name  forces a variant for "best"; fails if not runnable
 *   VSS_MAX_ISA=none|avx2|avx512  caps the ISA the dispatcher may use
 *   VSS_VERBOSE=1     prints the choice and why on stderr
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vss_internal.h"

static const struct vss_variant_entry variants[] = {
#define VSS_VARIANT(name, isa, wraps, desc) {#name, isa, wraps, desc, vss_init__##name},
#include "vss/variants.inc"
#undef VSS_VARIANT
};
#define N_VARIANTS (sizeof variants / sizeof variants[0])

static int verbose(void)
{
  const char *v = getenv("VSS_VERBOSE");
  return v && *v && strcmp(v, "0") != 0;
}

/* ISA bits this CPU supports, with the OS saving the registers (gcc's
 * __builtin_cpu_supports checks XGETBV), capped by VSS_MAX_ISA. */
static unsigned cpu_isa(const char **cap_note)
{
  unsigned isa = VSS_ISA_OPENMP;
  *cap_note = NULL;
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    isa |= VSS_ISA_AVX2;
  if ((isa & VSS_ISA_AVX2) && __builtin_cpu_supports("avx512f") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl"))
    isa |= VSS_ISA_AVX512;
  const char *cap = getenv("VSS_MAX_ISA");
  if (cap && *cap) {
    if (!strcmp(cap, "none") || !strcmp(cap, "scalar"))
      isa &= ~(unsigned)(VSS_ISA_AVX2 | VSS_ISA_AVX512);
    else if (!strcmp(cap, "avx2"))
      isa &= ~(unsigned)VSS_ISA_AVX512;
    *cap_note = cap;
  }
  return isa;
}

int vss_isa_runnable(unsigned need, const char **why)
{
  const char *cap;
  unsigned have = cpu_isa(&cap);
  unsigned lacking = need & ~have;
  if (!lacking) { if (why) *why = ""; return 1; }
  if (why) {
    if (lacking & VSS_ISA_AVX512)
      *why = cap ? "needs AVX-512 F/DQ/BW/VL (absent, or capped by VSS_MAX_ISA)"
                 : "CPU lacks AVX-512 F/DQ/BW/VL (or the OS does not save zmm)";
    else if (lacking & VSS_ISA_AVX2)
      *why = cap ? "needs AVX2+FMA (absent, or capped by VSS_MAX_ISA)"
                 : "CPU lacks AVX2+FMA";
    else
      *why = "not built";
  }
  return 0;
}

static int is_emulated(const char *name)
{
  size_t n = strlen(name);
  return n > 3 && !strcmp(name + n - 3, "emu");
}

size_t vss_variant_count(void) { return N_VARIANTS; }

int vss_variant_info(size_t i, struct vss_variant_info *info)
{
  if (i >= N_VARIANTS || !info) return -1;
  info->name = variants[i].name;
  info->desc = variants[i].desc;
  info->runnable = vss_isa_runnable(variants[i].isa, &info->why_not);
  info->emulated = is_emulated(variants[i].name);
  return 0;
}

static const struct vss_variant_entry *find(const char *name)
{
  for (size_t i = 0; i < N_VARIANTS; i++)
    if (!strcmp(variants[i].name, name)) return &variants[i];
  return NULL;
}

/* The first runnable, non-emulated, non-wrapping variant: the single-thread
 * table a wrapping variant (omp) builds on. */
static const struct vss_variant_entry *best_single(void)
{
  for (size_t i = 0; i < N_VARIANTS; i++)
    if (!variants[i].wraps && !is_emulated(variants[i].name) &&
        vss_isa_runnable(variants[i].isa, NULL))
      return &variants[i];
  return find("ref");
}

static const struct vss_variant_entry *best_auto(void)
{
  for (size_t i = 0; i < N_VARIANTS; i++)
    if (!is_emulated(variants[i].name) && vss_isa_runnable(variants[i].isa, NULL))
      return &variants[i];
  return find("ref");
}

const char *vss_best_variant(void)
{
  const char *forced = getenv("VSS_VARIANT");
  if (forced && *forced && strcmp(forced, "best") != 0) return forced;
  return best_auto()->name;
}

static void fill_ops(const struct vss_variant_entry *v, struct vss_ops *ops)
{
  if (v->wraps) {
    struct vss_ops base;
    const struct vss_variant_entry *b = best_single();
    b->init(&base, NULL);
    v->init(ops, &base);
  } else {
    v->init(ops, NULL);
  }
}

vss_status vss_resolve_variant(const char *name, struct vss_ops *ops,
                               const char **resolved)
{
  const char *why = "";
  const int asked_best = !name || !*name || !strcmp(name, "best");
  const char *forced = getenv("VSS_VARIANT");
  const char *origin = "requested";
  if (asked_best && forced && *forced && strcmp(forced, "best") != 0) {
    name = forced;
    origin = "forced by VSS_VARIANT";
  }
  const struct vss_variant_entry *v;
  if (asked_best && (!forced || !*forced || !strcmp(forced, "best"))) {
    v = best_auto();
    origin = "best runnable on this CPU";
  } else {
    v = find(name);
    if (!v) {
      char list[256] = "";
      for (size_t i = 0; i < N_VARIANTS; i++) {
        strncat(list, variants[i].name, sizeof list - strlen(list) - 2);
        if (i + 1 < N_VARIANTS) strncat(list, ", ", sizeof list - strlen(list) - 1);
      }
      return vss_fail(VSS_ERR_VARIANT, "unknown variant '%s' (%s; known: %s, best)",
                      name, origin, list);
    }
    if (!vss_isa_runnable(v->isa, &why))
      return vss_fail(VSS_ERR_VARIANT, "variant '%s' (%s) cannot run here: %s",
                      v->name, origin, why);
  }
  fill_ops(v, ops);
  if (resolved) *resolved = v->name;
  if (verbose())
    fprintf(stderr, "vss: variant %s (%s)%s%s\n", v->name, origin,
            v->wraps ? ", wrapping " : "", v->wraps ? best_single()->name : "");
  return VSS_OK;
}
