/* bench_main.c - build/vss_bench: the Google Benchmark binary.
 *
 *   build/vss_bench [--golden=DIR] [--benchmark_* flags]
 *
 * At start-up it measures this core's FP32 peak (peak.c), checks every
 * runnable variant on the golden cases of DIR (default golden/; empty: no
 * check) and records the machine and those accuracy figures in the report's
 * context; then it registers every (block | op) x implementation x shape
 * row (bench_block.c, bench_ops.c) and runs what the flags select.
 * Context keys (all strings):
 *   vss_cpu_model, vss_isa, vss_cores, vss_peak_gflops, vss_peak_probe,
 *   vss_compiler, vss_cflags, vss_openblas, vss_variants, vss_counts,
 *   vss_verify_limits, vss_golden_dir, and one per golden case and variant:
 *   accuracy/<case>/<variant> = "verdict=PASS nmse=... max_abs=...
 *   max_rel=... frac=..." (frac: the largest used fraction of the case's
 *   limits, vss_cmp.worst_frac; over 1 fails).
 */
#include <cblas.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "gbench.h"
#include "golden.h"
#include "tolerances.h"
#include "vss_internal.h"
#ifdef VSS_HAVE_OMP
#include <omp.h> /* the threads of omp's rows */
#endif

#ifndef VSS_BENCH_CFLAGS
#define VSS_BENCH_CFLAGS "(not recorded)"
#endif

const char *const bench_op_name[OP_COUNT] = {
    "block", "ssm_scan", "linear", "layernorm", "dwconv3x3", "gate", "gelu",
};
double bench_peak_flops;

/* ------------------------------------------------------- implementations */

#define MAX_IMPLS 32
static struct bench_impl impls[MAX_IMPLS];
static size_t n_impls;

static int cores(void)
{
  const long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

/* The threads a threaded variant runs: OpenMP's default (OMP_NUM_THREADS,
 * else the cores). */
static int default_threads(void)
{
#ifdef VSS_HAVE_OMP
  return omp_get_max_threads();
#else
  return cores();
#endif
}

int bench_threads_begin(const struct bench_row *row)
{
#ifdef VSS_HAVE_OMP
  const int saved = omp_get_max_threads();
  if (row->threads > 0) omp_set_num_threads(row->threads);
  return saved;
#else
  (void)row;
  return 0;
#endif
}

void bench_threads_end(int saved)
{
#ifdef VSS_HAVE_OMP
  omp_set_num_threads(saved);
#else
  (void)saved;
#endif
}

/* The variants, from the registry (include/vss/variants.inc), then the
 * peers.  Variants have every row; naive the scan, openblas the linears. */
static void collect_impls(void)
{
  const unsigned all = (1u << OP_COUNT) - 1;
  for (size_t i = 0; i < vss_variant_count() && n_impls < MAX_IMPLS - 2; i++) {
    struct vss_variant_info v;
    vss_variant_info(i, &v);
    if (v.emulated && !getenv("VSS_BENCH_EMULATED")) continue; /* DESIGN §5: emulation is never timed as AVX-512 */
    /* omp runs threads (its name is fixed by DESIGN §3's vocabulary) */
    impls[n_impls++] = (struct bench_impl){v.name, v.runnable, v.why_not, all,
                                           strcmp(v.name, "omp") ? 1 : default_threads(), v.emulated,
                                           NULL};
  }
  impls[n_impls++] = (struct bench_impl){"naive", 1, "", 1u << OP_SCAN, 1, 0, bench_init_naive};
  impls[n_impls++] = (struct bench_impl){"openblas", 1, "", 1u << OP_LINEAR, 1, 0,
                                         bench_init_openblas};
}

int bench_impl_ops(const struct bench_impl *impl, struct vss_ops *ops, char *why,
                   size_t len)
{
  if (impl->peer_init) {
    impl->peer_init(ops);
    return 0;
  }
  if (!impl->runnable) {
    snprintf(why, len, "%s", impl->why_not);
    return -1;
  }
  if (vss_resolve_variant(impl->name, ops, NULL)) {
    snprintf(why, len, "%s", vss_last_error());
    return -1;
  }
  return 0;
}

/* ------------------------------------------------------------------ rows */

struct bench_row *bench_row_new(enum bench_op op, const struct bench_impl *impl,
                                const struct bench_shape *s, enum bench_part p)
{
  struct vss_linear_desc d[VSS_K];
  size_t dim, ldx, ldy;
  const float *g, *b;
  int has; /* the shape has this op (and part) */
  switch (op) {
  case OP_LINEAR: has = p < BP_COUNT && bench_linear_part(s, NULL, p, d, &ldx, &ldy) > 0; break;
  case OP_LAYERNORM: has = p < BP_COUNT && bench_layernorm_part(s, NULL, p, &dim, &g, &b); break;
  case OP_GATE: has = p == BP_COUNT && s->has_z; break;
  case OP_GELU: has = p == BP_COUNT && s->hidden; break;
  default: has = p == BP_COUNT; break;
  }
  if (!has || !(impl->ops >> op & 1)) return NULL;
  struct bench_row *row = calloc(1, sizeof *row);
  if (!row) { fprintf(stderr, "vss_bench: out of memory\n"); exit(1); }
  row->op = op, row->impl = impl, row->shape = s, row->part = p;
  snprintf(row->name, sizeof row->name, "%s/%s/%s%s%s", bench_op_name[op], impl->name,
           s->name, p < BP_COUNT ? "/" : "", p < BP_COUNT ? bench_part_name[p] : "");
  if (!strcmp(impl->name, "ref")) { /* the oracle the others are judged by */
    row->checked = 1;
    snprintf(row->label, sizeof row->label, "ref (oracle)");
  }
  return row;
}

struct bench_row *bench_row_one_thread(const struct bench_row *row)
{
  if (row->impl->threads < 2) return NULL;
  struct bench_row *one = malloc(sizeof *one);
  if (!one) { fprintf(stderr, "vss_bench: out of memory\n"); exit(1); }
  *one = *row;
  one->threads = 1;
  snprintf(one->name + strlen(one->name), sizeof one->name - strlen(one->name), "/threads:1");
  return one;
}

/* Both ref and a variant lie within an fp32-vs-exact limit of the truth,
 * so within twice it of each other (nmse: 4x; at least what the pointwise
 * bound implies, since a zero nmse_max would demand bit-exactness). */
static struct vss_limits twice(struct vss_limits l)
{
  const double implied = 4.0 * l.rtol * l.rtol;
  return (struct vss_limits){2 * l.atol, 2 * l.rtol,
                             4 * l.nmse_max > implied ? 4 * l.nmse_max : implied};
}

/* The limits a row is judged by against ref's output on the same data.
 * Elementwise ops: their fp32 rows of core/tolerances.h, doubled.  Ops
 * that may reorder sums on realistic data (linear, dwconv, the scan, the
 * block) have no measured op-vs-ref limit yet: the documented ceiling. */
static struct vss_limits row_limits(enum bench_op op)
{
  switch (op) {
  case OP_LAYERNORM: return twice(VSS_LIM_LAYERNORM_F32);
  case OP_GELU: return twice(VSS_LIM_GELU);
  case OP_GATE: return twice(VSS_LIM_SILU);
  default: return VSS_LIM_CEILING;
  }
}

void bench_verify(struct bench_row *row, const float *got, const double *exp,
                  const float *base, size_t n)
{
  const struct vss_limits lim = row_limits(row->op);
  struct vss_cmp r;
  vss_compare(got, exp, base, n, &lim, &r);
  row->checked = 1;
  if (r.verdict == VSS_FAIL || r.verdict == VSS_MISTRUSTED)
    snprintf(row->failed, sizeof row->failed,
             "FAILED verification: %s vs ref: %zu of %zu points bad, max_abs %.3g, nmse %.3g "
             "(limits atol %.3g rtol %.3g nmse %.3g)",
             vss_verdict_str(r.verdict), r.n_bad, r.n, r.max_abs, r.nmse, lim.atol, lim.rtol,
             lim.nmse_max);
  else
    snprintf(row->label, sizeof row->label, "%s vs ref, %.2g of limit",
             vss_verdict_str(r.verdict), r.worst_frac);
}

void bench_report(struct gb_state *st, const struct bench_row *row, struct bench_count c)
{
  gb_counter(st, "flops", c.flop, GB_RATE);
  gb_counter(st, "bytes", c.bytes, GB_RATE);
  const int threads = row->threads > 0 ? row->threads : row->impl->threads;
  gb_counter(st, "peak_frac", c.flop / (bench_peak_flops * threads), GB_RATE);
  char label[sizeof row->label + 32];
  snprintf(label, sizeof label, "%s%s", row->impl->emulated ? "emulated (SIMDe), " : "",
           row->label);
  if (label[0]) gb_label(st, label);
}

/* --------------------------------------------------------------- context */

static void context_f(const char *key, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void context_f(const char *key, const char *fmt, ...)
{
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  gb_add_context(key, buf);
}

static void cpu_model(char *out, size_t len)
{
  char line[512];
  FILE *f = fopen("/proc/cpuinfo", "r");
  snprintf(out, len, "unknown");
  while (f && fgets(line, sizeof line, f)) {
    char *colon = strchr(line, ':');
    if (!strncmp(line, "model name", 10) && colon) {
      snprintf(out, len, "%s", colon + 2);
      out[strcspn(out, "\n")] = 0;
      break;
    }
  }
  if (f) fclose(f);
}

static void machine_context(void)
{
  static const char *const flags[] = {"sse2", "sse4.2", "avx", "avx2", "fma", "f16c",
                                      "avx512f", "avx512dq", "avx512bw", "avx512vl"};
  char model[256], isa[256] = "";
  const char *how;
  cpu_model(model, sizeof model);
  __builtin_cpu_init();
  /* __builtin_cpu_supports needs a literal: test each name by hand */
  const int have[] = {
      __builtin_cpu_supports("sse2"),     __builtin_cpu_supports("sse4.2"),
      __builtin_cpu_supports("avx"),      __builtin_cpu_supports("avx2"),
      __builtin_cpu_supports("fma"),      __builtin_cpu_supports("f16c"),
      __builtin_cpu_supports("avx512f"),  __builtin_cpu_supports("avx512dq"),
      __builtin_cpu_supports("avx512bw"), __builtin_cpu_supports("avx512vl")};
  for (size_t i = 0; i < sizeof flags / sizeof *flags; i++)
    if (have[i]) snprintf(isa + strlen(isa), sizeof isa - strlen(isa), "%s%s",
                          isa[0] ? " " : "", flags[i]);
  bench_peak_flops = bench_measure_peak(&how);
  fprintf(stderr, "vss_bench: %s, %d cores, %s; FP32 peak %.1f GFLOP/s per core\n",
          model, cores(), isa, bench_peak_flops * 1e-9);
  context_f("vss_cpu_model", "%s", model);
  context_f("vss_isa", "%s", isa);
  context_f("vss_cores", "%d", cores());
  context_f("vss_peak_gflops", "%.2f", bench_peak_flops * 1e-9);
  context_f("vss_peak_probe", "%s", how);
  context_f("vss_compiler", "gcc %s", __VERSION__);
  context_f("vss_cflags", "%s", VSS_BENCH_CFLAGS);
  context_f("vss_openblas", "%s (1 thread)", bench_openblas_config());
  context_f("vss_counts", "flops: 2 per multiply-add, LayerNorm 5/element, elementwise "
            "1/element, scan B*4*L*Di*(7N+4); bytes: the minimum moved (bench/bench_counts.c)");
  const struct vss_limits c = VSS_LIM_CEILING;
  context_f("vss_verify_limits", "each row vs ref on its data: linear, dwconv3x3, ssm_scan, "
            "block: atol %g rtol %g nmse %g (VSS_LIM_CEILING); layernorm, gelu, gate: 2x their "
            "fp32 rows of core/tolerances.h", c.atol, c.rtol, c.nmse_max);
  char list[1024] = "";
  for (size_t i = 0; i < n_impls; i++)
    snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s%s%s%s", i ? "; " : "",
             impls[i].name, impls[i].peer_init ? " (peer)" : "",
             impls[i].runnable ? "" : ": not runnable: ", impls[i].runnable ? "" : impls[i].why_not);
  context_f("vss_variants", "%s", list);
}

/* ------------------------------------------------------ golden accuracy */

static int by_name(const struct dirent **a, const struct dirent **b)
{
  return strcmp((*a)->d_name, (*b)->d_name);
}

static int is_case(const struct dirent *e)
{
  const size_t n = strlen(e->d_name);
  return n > 12 && !strcmp(e->d_name + n - 12, ".safetensors");
}

/* Every runnable variant on every golden case: accuracy/<case>/<variant>. */
static void golden_context(const char *dir)
{
  struct dirent **ents;
  const int n = dir[0] ? scandir(dir, &ents, is_case, by_name) : -1;
  context_f("vss_golden_dir", "%s", n < 0 ? "(none: no accuracy figures)" : dir);
  if (n < 0) {
    if (dir[0]) fprintf(stderr, "vss_bench: no golden cases in %s: no accuracy figures\n", dir);
    return;
  }
  size_t counts[4] = {0, 0, 0, 0};
  for (int i = 0; i < n; i++) {
    char path[1024], key[256];
    struct vss_golden g;
    snprintf(path, sizeof path, "%s/%s", dir, ents[i]->d_name);
    free(ents[i]);
    if (vss_golden_open(path, &g)) {
      fprintf(stderr, "vss_bench: golden: %s\n", vss_last_error());
      continue;
    }
    float *got = bench_alloc(g.n);
    for (size_t v = 0; v < n_impls; v++) {
      struct vss_cmp r;
      if (impls[v].peer_init || !impls[v].runnable) continue;
      snprintf(key, sizeof key, "accuracy/%s/%s", g.name, impls[v].name);
      if (vss_golden_run(&g, impls[v].name, NULL, NULL, got, &r, NULL, 0)) {
        context_f(key, "verdict=ERROR %s", vss_last_error());
        counts[VSS_FAIL]++;
        continue;
      }
      counts[r.verdict]++;
      context_f(key, "verdict=%s nmse=%.4g max_abs=%.4g max_rel=%.4g frac=%.4g",
                vss_verdict_str(r.verdict), r.nmse, r.max_abs, r.max_rel, r.worst_frac);
    }
    free(got);
    vss_golden_close(&g);
  }
  free(ents);
  fprintf(stderr, "vss_bench: golden accuracy (%s): %zu PASS, %zu MARGINAL, %zu FAIL, "
          "%zu MISTRUSTED\n", dir, counts[VSS_PASS], counts[VSS_MARGINAL], counts[VSS_FAIL],
          counts[VSS_MISTRUSTED]);
}

int main(int argc, char **argv)
{
  const char *golden = "golden";
  int kept = 1;
  for (int i = 1; i < argc; i++) { /* our flags out, the rest for the library */
    if (!strncmp(argv[i], "--golden=", 9)) golden = argv[i] + 9;
    else argv[kept++] = argv[i];
    if (!strcmp(argv[i], "--benchmark_list_tests") ||
        !strcmp(argv[i], "--benchmark_list_tests=true"))
      golden = ""; /* only listing: no time spent on checks */
  }
  argc = kept;
  openblas_set_num_threads(1);
  collect_impls();
  machine_context();
  golden_context(golden);
  bench_register_block(impls, n_impls);
  bench_register_ops(impls, n_impls);
  return gb_main(&argc, argv);
}
