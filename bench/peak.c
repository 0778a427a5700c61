/* peak.c - one core's FP32 peak in FLOP/s, measured at start-up.
 *
 * Where the CPU has AVX2+FMA, the probe is peak_fma.c's independent FMA
 * chains (8 lanes x 2 FLOP per FMA), and where it has AVX-512 too, the
 * 16-lane build of the same (equal on Zen 4, which splits a 512-bit FMA
 * in two; double on Intel parts with two 512-bit FMA units): the AVX-512
 * rate when it is clearly higher, else the higher of the two, a second
 * sample against noise.  Elsewhere independent SSE2 multiply and add chains (4 lanes, one
 * FLOP each; x86-64's baseline).  Each probe runs a warm-up (the clock
 * ramps up), then the best of 7 runs of 20-40 ms: the least disturbed one
 * on a shared machine. */
#include <emmintrin.h>
#include <time.h>

#include "bench.h"

float bench_mul_add_chains_sse2(long iters)
{
  const __m128 m = _mm_set1_ps(0.999f), c = _mm_set1_ps(0.001f);
  __m128 p[BENCH_SSE2_CHAINS], q[BENCH_SSE2_CHAINS];
  for (int j = 0; j < BENCH_SSE2_CHAINS; j++) p[j] = q[j] = _mm_set1_ps((float)j);
  for (long i = 0; i < iters; i++)
    for (int j = 0; j < BENCH_SSE2_CHAINS; j++) {
      p[j] = _mm_mul_ps(p[j], m);
      q[j] = _mm_add_ps(q[j], c);
    }
  __m128 s = _mm_add_ps(p[0], q[0]);
  for (int j = 1; j < BENCH_SSE2_CHAINS; j++) s = _mm_add_ps(s, _mm_add_ps(p[j], q[j]));
  return _mm_cvtss_f32(s);
}

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

volatile float bench_peak_sink; /* keeps the probes' results alive */

/* Best FLOP/s of probe(iters) over several runs, flop_per_iter each. */
static double best_rate(float (*probe)(long), double flop_per_iter)
{
  long iters = 1 << 16;
  double best = 0;
  for (;; iters *= 2) { /* warm-up, and iters for ~20 ms */
    const double t0 = now();
    bench_peak_sink = probe(iters);
    if (now() - t0 >= 0.02) break;
  }
  for (int r = 0; r < 7; r++) {
    const double t0 = now();
    bench_peak_sink = probe(iters);
    const double rate = flop_per_iter * (double)iters / (now() - t0);
    if (rate > best) best = rate;
  }
  return best;
}

double bench_measure_peak(const char **how)
{
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
    *how = "SSE2: 8 independent 4-lane mul + add chain pairs, 1 FLOP per lane op, best of 7";
    return best_rate(bench_mul_add_chains_sse2, BENCH_SSE2_CHAINS * 4 * 2.0);
  }
  const double avx2 = best_rate(bench_fma_chains_avx2, BENCH_FMA_CHAINS * 8 * 2.0);
  *how = "AVX2 FMA: 12 independent 8-lane FMA chains, 2 FLOP per lane, best of 7";
#ifdef VSS_BENCH_AVX512_PROBE
  if (__builtin_cpu_supports("avx512f")) {
    const double avx512 = best_rate(bench_fma_chains_avx512, BENCH_FMA_CHAINS * 16 * 2.0);
    if (avx512 > 1.25 * avx2) { /* wider FMA units, not noise */
      *how = "AVX-512 FMA: 12 independent 16-lane FMA chains, 2 FLOP per lane, best of 7";
      return avx512;
    }
    *how = "AVX2 FMA: 12 independent 8-lane FMA chains, 2 FLOP per lane, best of 7 "
           "(the 16-lane AVX-512 probe reached the same rate: the higher of the two)";
    return avx512 > avx2 ? avx512 : avx2;
  }
#endif
  return avx2;
}
