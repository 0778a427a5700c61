/* peak_fma.c - the FMA-throughput probe, compiled twice (Makefile, bench
 * section): with -mavx2 -mfma into bench_fma_chains_avx2 (8 lanes), and
 * with the AVX-512 flags into bench_fma_chains_avx512 (16 lanes).
 *
 * BENCH_FMA_CHAINS independent accumulators, each a chain of dependent
 * FMAs: with 2 FMA pipes of 4-5 cycles latency (Zen 3/4, Skylake), 8-10
 * chains keep both pipes full; 12 leave a margin and still fit the 16 ymm
 * registers with the two constants.  a = a*m + c converges to c/(1-m), so
 * no value overflows or becomes denormal. */
#include <immintrin.h>

#include "bench.h"

#ifdef __AVX512F__
#define VEC __m512
#define SET1 _mm512_set1_ps
#define FMADD _mm512_fmadd_ps
#define ADD _mm512_add_ps
#define FIRST(v) _mm512_cvtss_f32(v)
#define PROBE bench_fma_chains_avx512
#else
#define VEC __m256
#define SET1 _mm256_set1_ps
#define FMADD _mm256_fmadd_ps
#define ADD _mm256_add_ps
#define FIRST(v) _mm256_cvtss_f32(v)
#define PROBE bench_fma_chains_avx2
#endif

float PROBE(long iters)
{
  const VEC m = SET1(0.999f), c = SET1(0.001f);
  VEC a[BENCH_FMA_CHAINS];
  for (int j = 0; j < BENCH_FMA_CHAINS; j++) a[j] = SET1((float)j);
  for (long i = 0; i < iters; i++) {
#pragma GCC unroll 12
    for (int j = 0; j < BENCH_FMA_CHAINS; j++) a[j] = FMADD(a[j], m, c);
  }
  VEC s = a[0];
  for (int j = 1; j < BENCH_FMA_CHAINS; j++) s = ADD(s, a[j]);
  return FIRST(s);
}
