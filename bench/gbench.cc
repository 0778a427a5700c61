// gbench.cc - the C API of gbench.h over Google Benchmark (>= 1.7).
#include "gbench.h"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <vector>

static benchmark::State &S(gb_state *st)
{
  return *reinterpret_cast<benchmark::State *>(st);
}

extern "C" {

void gb_register(const char *name, gb_fn fn, void *ctx)
{
  benchmark::RegisterBenchmark(name, [fn, ctx](benchmark::State &st) {
    fn(reinterpret_cast<gb_state *>(&st), ctx);
  })
      ->UseRealTime()
      ->ComputeStatistics("min", [](const std::vector<double> &v) {
        return *std::min_element(v.begin(), v.end());
      });
}

int gb_keep_running(gb_state *st) { return S(st).KeepRunning(); }
void gb_pause(gb_state *st) { S(st).PauseTiming(); }
void gb_resume(gb_state *st) { S(st).ResumeTiming(); }

void gb_counter(gb_state *st, const char *name, double value,
                enum gb_counter_kind kind)
{
  S(st).counters[name] = benchmark::Counter(
      value, kind == GB_RATE ? benchmark::Counter::kIsIterationInvariantRate
                             : benchmark::Counter::kDefaults);
}

void gb_label(gb_state *st, const char *label) { S(st).SetLabel(label); }
void gb_skip_with_error(gb_state *st, const char *msg) { S(st).SkipWithError(msg); }

void gb_add_context(const char *key, const char *value)
{
  benchmark::AddCustomContext(key, value);
}

int gb_main(int *argc, char **argv)
{
  benchmark::Initialize(argc, argv);
  if (benchmark::ReportUnrecognizedArguments(*argc, argv)) return 2;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

} // extern "C"
