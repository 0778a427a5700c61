/* gbench.h - a small C API over Google Benchmark (implemented in gbench.cc).
 *
 * The benchmark definitions are C: they register a function with a name and
 * a context pointer, and the function loops while gb_keep_running() says so:
 *
 *   static void bm(gb_state *st, void *ctx) {
 *     if (!ready(ctx)) { gb_skip_with_error(st, "why"); return; }
 *     while (gb_keep_running(st)) work(ctx);
 *     gb_counter(st, "flops", flop_per_iteration, GB_RATE);
 *   }
 *   gb_register("op/variant/shape", bm, ctx);     (UseRealTime() is set)
 *   return gb_main(&argc, argv);
 *
 * Every registered benchmark measures wall time (UseRealTime), since some
 * variants run threads, and with --benchmark_repetitions reports a "min"
 * aggregate beside mean, median, stddev and cv (the least disturbed
 * repetition, for noisy shared machines).
 */
#ifndef VSS_GBENCH_H
#define VSS_GBENCH_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gb_state gb_state; /* a benchmark::State */
typedef void (*gb_fn)(gb_state *st, void *ctx);

/* Registers fn(state, ctx) under name (copied): UseRealTime(), "min". */
void gb_register(const char *name, gb_fn fn, void *ctx);

/* The timing loop: 1 while iterations remain. */
int gb_keep_running(gb_state *st);
/* Excludes the code between them from the timing (costly: ~a microsecond). */
void gb_pause(gb_state *st);
void gb_resume(gb_state *st);

enum gb_counter_kind {
  GB_PLAIN = 0, /* reported as is */
  GB_RATE = 1,  /* value per iteration, reported per second of wall time */
};
void gb_counter(gb_state *st, const char *name, double value,
                enum gb_counter_kind kind);
/* A short free-text label for the row (shown in the console and JSON). */
void gb_label(gb_state *st, const char *label);
/* Marks the row as failed with msg; call before the timing loop, then
 * return without looping. */
void gb_skip_with_error(gb_state *st, const char *msg);

/* A key/value pair for the "context" of every report (before gb_main). */
void gb_add_context(const char *key, const char *value);

/* Initialize (consumes --benchmark_* flags), rejects unknown flags, runs
 * the benchmarks the flags select, shuts down.  Returns the exit status. */
int gb_main(int *argc, char **argv);

#ifdef __cplusplus
}
#endif
#endif /* VSS_GBENCH_H */
