/* ssm_scan_omp.c - the selective scan of the four directions with the
 * cross-merge (spec §2.5-2.6), threaded with OpenMP and vectorised with
 * AVX2+FMA (8 channels per vector; the vector exp2 of avx2_util.h).
 *
 * Work units.  A sample's channels are cut into groups of GROUP channels
 * (the last group narrower when Di is not a multiple), and the sequence of
 * L = H*W steps into chunks:
 *  - unchunked (B * ngroup >= MIN_UNITS, or L <= CHUNK): a unit is one
 *    (sample, group) and runs the four directions one after the other, in
 *    v0's merge order 0, 2, 1, 3 (the first one selected writes y, the
 *    others add, as ref).  Units write disjoint channels of y: no barrier.
 *  - chunked (otherwise: too few groups to share out): chunks of CHUNK
 *    steps, a unit is one (sample, group, chunk), and each direction, in
 *    merge order, runs the two-pass chunked scan:
 *      1. local pass, every chunk in parallel: the recurrence from a zero
 *         state, its output into y, and for the carry its end state
 *         h_end[d][n] and its sum of steps S[d] = sum_t delta_t[d] (the
 *         chunk's cumulative decay is prod_t exp(delta_t A) =
 *         2^(A log2(e) S), one exp per (d, n) instead of a product);
 *      2. carry, each (sample, group) in parallel, sequential over the
 *         chunks (cheap: one exp and one FMA per (d, n, chunk)):
 *         h_in(c+1) = 2^(A' S_c) h_in(c) + h_end(c), h_in(0) = 0 (the
 *         combine (a0, b0) o (a1, b1) = (a1 a0, a1 b0 + b1) of spec §2.6);
 *      3. fix-up, every chunk but the first in parallel: the carried
 *         state's share of each output, decayed to step t of the chunk,
 *         y[p] += sum_n C_t[n] 2^(A'[n] S(t)) h_in[n] with S(t) the sum of
 *         the chunk's deltas up to t.
 *    Barriers separate the passes and the directions (a direction's
 *    chunks write pixels that another direction's chunks also write).
 *    The fix-up costs about as much as the local pass (an exp per (t, d,
 *    n) either way), so chunking doubles the work of all chunks but the
 *    first: it buys parallelism only for shapes that lack it otherwise.
 * Scheduling is dynamic over units (the machine this was tuned on is
 * shared and noisy: a static split waits for the slowest thread).
 *
 * Determinism.  The cut (GROUP, CHUNK, MIN_UNITS, hence which path) is a
 * function of the shape only, never of the thread count, and every unit's
 * arithmetic is the same whichever thread runs it; each output element
 * receives the same operations in the same order.  So the result is
 * bit-identical for any number of threads, and from run to run.  (Not
 * bit-identical to the avx2 variant or to ref: sums are reordered, and a
 * chunked shape adds the carried state as a separate term.)
 *
 * dt_proj fused (vss_ssm_scan_dt__omp, the ssm_scan_dt slot where the
 * base has one): each step's dt is formed from the pixel's x_proj row
 * (R FMAs per vector, the base linear's order: the same bits), so the
 * block skips the (B, L, 4 Di) dt tensor; at v0_T1, 2 threads, the omp
 * block took 11.2-12.2 ms against 11.9-13.4 without (best of 30,
 * alternated four times).
 *
 * Inside a unit: steps in blocks of NT = 16; per block, each vector of 8
 * channels in turn (the unit's vectors read neighbouring lines of the same
 * pixel rows; the next block's lines are prefetched, one vector's worth at
 * a time, since the walk of directions 1 and 3 jumps a whole image row per
 * step, out of the hardware prefetchers' reach):
 *   delta = softplus(dt + bias) straight from the loads, 4 steps in
 *   lockstep, then delta*u and D*u (storing dt + bias to reload it for a
 *   separate softplus pass cost 35%: 20.7 against 15.4 ms at stage 1, the
 *   loads stalled behind the stores to the block buffer);
 *   per group of 8 states (then single states for N % 8): the decay
 *   factors 2^(delta A'), 4 vectors in lockstep (avx2_util.h), into an
 *   L1 buffer; then h = dA h + (delta u) B_t[n], ys += C_t[n] h, the
 *   group's 8 states in registers; then y[p] (+)= ys.
 * The unit's states live in a per-call array ([sample][chunk][vector][n]),
 * which in the chunked path is also the end state handed to the carry.
 * A (vector, block) whose deltas keep every decay normal (delta |A'| <=
 * 125) takes the cheaper table exp2 of avx2_util.h, as the avx2 scan
 * does, else the general one (gradual underflow); which one depends on the
 * data of that vector and block only, so not on the thread count.
 *
 * Chosen by measurement on this project's machine (2-core Zen 4, shared:
 * one thread, the least CPU time of 20 calls, so that the other jobs'
 * load counts as little as it can; build/vss_bench's data scales):
 *  - GROUP = 16 channels.  VMamba-T stage 1 (56x56, Di 192, N 16, four
 *    directions) took 15.4 ms with 16-channel groups, 15.7 with 48, 14.9
 *    with all 192 in one group, the avx2 scan 14.5 (both with the
 *    polynomial exp2; with the table exp2 since: 12.9-13.7 ms against
 *    avx2's 11.7-12.2; at N 1 on par, 4.7 against 4.5-5.1); stages 2-4,
 *    N = 16 and 1, groups of 16 / 32 / 64 within 10% of each other and of
 *    avx2 (e.g. stage 3 N 16: 3.63 / 3.90 / 3.80 ms, avx2 3.39).  16 is the
 *    most units at no cost that matters: 12 at stage 1, so no VMamba-T
 *    stage at batch 1 is chunked, and one cache line of each pixel row
 *    per unit (two units never write the same line of y when Di is a
 *    multiple of 16).
 *  - CHUNK = 128 steps.  Chunked, 56x56 with Di 32, N 16, took 4.9-5.5 ms
 *    for chunks of 64 to 512 steps, against 2.5 unchunked (avx2: 2.3):
 *    the fix-up costs a local pass whatever the length, so the length
 *    only sets the parallelism; 128 still cuts stage 3's 196 steps in 2.
 *  - MIN_UNITS = 4.  Chunking doubles the work, so it pays only when the
 *    units number less than half the threads: with fewer than 4 (sample,
 *    group) units a shape gains on 8 threads or more and loses little on
 *    2 to 4; every VMamba-T shape has 12 or more and is never chunked.
 *  - NT = 16 (8 and 32 measured no better); prefetching 1, 2 or 4 blocks
 *    ahead, or a compact per-call copy of B and C in step order: within
 *    noise, not kept.
 * Each unit's working set (its states, A', the block buffers: a few KiB
 * for N = 16) stays in L1/L2; what streams is the pixel rows.
 *
 * Accuracy: as the avx2 scan (2^(delta A') against expf(delta A): the
 * rounding of A' = A log2(e)); the carry's decay 2^(A' S) rounds once,
 * with S summed under Kahan compensation, where a product of the per-step
 * factors would round at every step.  Measured against ref on the odd
 * shapes of tests/test_omp.c: within 0.4 of vss_var_scan_limits, the same
 * as the avx2 scan on the same data.
 *
 * Without AVX2 (the CPU lacks it, or VSS_MAX_ISA capped the base table to
 * ref), the scan runs base's scan on each sample in parallel instead:
 * bit-identical to base for any thread count, parallel only over B.
 * Allocation: one block per call (positions, tables, states); if it fails
 * the scan prints a line and aborts, as the avx2 scan does.
 */
#include <math.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../avx2/avx2_util.h"
#include "omp_ops.h"

#ifndef OMP_SCAN_GROUP
#define OMP_SCAN_GROUP 16 /* channels per unit (a multiple of 8) */
#endif
#ifndef OMP_SCAN_CHUNK
#define OMP_SCAN_CHUNK 128 /* steps per chunk, when chunked */
#endif
#ifndef OMP_SCAN_MIN_UNITS
#define OMP_SCAN_MIN_UNITS 4 /* fewer (sample, group) units than this: chunk */
#endif
#define GV (OMP_SCAN_GROUP / 8) /* vectors per group */
#define NT 16 /* steps per block */
#define LOCK 4                  /* exp2 vectors in lockstep */

/* --------------------------------------------------------- call tables */

/* One call: what every unit reads. */
struct scan {
  const struct vss_scan_args *a;
  struct vss_omp_scan_plan pl;
  size_t L, G, nv;   /* steps, x_proj row per direction (R + 2N), vectors per row */
  size_t *pos;       /* [4][L]: the pixel of direction k's step t */
  float *A8;         /* [4][N][8 nv]: A8 = 8 A log2(e) (vss_avx2_exp2_decay8_n), channels
                        contiguous, 0-padded */
  float *bias, *D;   /* [4][8 nv] */
  float *lim;        /* [4][8 nv]: delta (or S) <= lim keeps 2^(delta A') normal */
  float *dtw;        /* [4][R][8 nv]: dt_w, 0-padded, when dt_proj is fused; else NULL */
  float *h;          /* [B][nchunk][nv][N][8]: states (and chunk end states) */
  float *s;          /* [B][nchunk][nv][8]: each chunk's sum of deltas */
};

/* pos[k][t] for the four directions (spec §2.5, vss_scan_pos) without a
 * division per step. */
static void fill_pos(size_t H, size_t W, size_t *pos)
{
  const size_t L = H * W;
  for (size_t t = 0; t < L; t++) {
    pos[t] = t;
    pos[2 * L + t] = L - 1 - t;
  }
  size_t t = 0;
  for (size_t w = 0; w < W; w++)
    for (size_t h = 0; h < H; h++, t++) pos[L + t] = pos[3 * L + L - 1 - t] = h * W + w;
}

/* A', bias, D and the normal-exp limit, per direction, channel-contiguous
 * (work-shared: call it inside a parallel region). */
static void fill_tables(const struct scan *sc)
{
  const struct vss_scan_args *a = sc->a;
  const size_t Di = a->Di, N = a->N, Dp = 8 * sc->nv;
#pragma omp for schedule(static)
  for (size_t i = 0; i < VSS_K * Dp; i++) {
    const size_t k = i / Dp, d = i % Dp;
    const int in = d < Di;
    float most = 0.0f; /* largest |A'| of the channel */
    for (size_t n = 0; n < N; n++) {
      const float a2 = in ? a->A[(k * Di + d) * N + n] * 1.44269504088896341f : 0.0f;
      sc->A8[(k * N + n) * Dp + d] = 8.0f * a2;
      most = fabsf(a2) > most ? fabsf(a2) : most;
    }
    sc->bias[i] = in ? a->dt_bias[k * Di + d] : 0.0f;
    if (sc->dtw)
      for (size_t r = 0; r < a->R; r++)
        sc->dtw[(k * a->R + r) * Dp + d] = in ? a->dt_w[(k * Di + d) * a->R + r] : 0.0f;
    sc->D[i] = in ? a->D[k * Di + d] : 0.0f;
    /* delta |A'| <= 125: 2^(-delta |A'|) stays normal */
    sc->lim[i] = most > 0.0f ? 125.0f / most : INFINITY;
  }
}

/* ---------------------------------------------------------------- units */

enum { LOCAL, FIX };

/* One unit's view: direction k of sample b, vectors [v0, v0 + nvu) (< GV),
 * steps [t0, t1). */
struct unit {
  const struct scan *sc;
  int k, add, mode;  /* add: y += (else y =); mode: LOCAL or FIX */
  size_t v0, nvu, t0, t1;
  const size_t *pos; /* the direction's step -> pixel map */
  const float *u, *dt;  /* sample b's u, and its dt of direction k (NULL: fused) */
  const float *bc;      /* sample b's B of direction k at pixel 0 (C follows, N further) */
  float *y;
  float *h;          /* [nvu][N][8]: LOCAL the state (zeroed at t0), FIX the carried state */
  float *s;          /* [nvu][8]: LOCAL, chunked: the chunk's sum of deltas; else NULL */
  float run[GV][2][8]; /* per vector: running sum of deltas and its compensation */
};

/* The block's per-step values of one vector.  Every row is 32-byte
 * aligned: after the three counts (24 bytes) of a struct that was only
 * 8-byte aligned on the stack, rows straddled cache lines, and each ymm
 * access of them then touched two; aligned, the scan at one thread ran
 * 6-7% faster at v0_T1 and 10% at v2_T1 (in-process A/B), the same bits. */
struct vblk {
  size_t nt, d, nl;          /* steps; first channel; valid lanes */
  alignas(64) float dl[NT][8]; /* delta */
  alignas(32) float du[NT][8]; /* LOCAL: delta*u */
  alignas(32) float out[NT][8]; /* LOCAL: D*u, then + C.h; FIX: the carried share */
  alignas(32) float sum[NT][8]; /* FIX: running sum of delta */
  alignas(32) float e[NT * 8][8]; /* decay factors of one state group, [t][q] */
};

/* dt of the vector at channel d for steps [t0, t0 + cnt), fused, into
 * out[t] (vss_avx2_dt_proj: the base linear's order, the same bits). */
VSS_AVX2_INLINE void dt_proj_vecs(int cnt, const struct unit *w, size_t t0, size_t d,
                                  float (*out)[8])
{
  const struct scan *sc = w->sc;
  const size_t R = sc->a->R, Dp = 8 * sc->nv, row = VSS_K * sc->G;
  const float *x[VSS_AVX2_MAXV];
  VSS_AVX2_EACH(j, cnt) x[j] = w->bc - R + w->pos[t0 + (size_t)j] * row;
  vss_avx2_dt_proj(cnt, 1, x, R, sc->dtw + (size_t)w->k * R * Dp + d, Dp, NULL, out[t0], 8);
}

/* Steps [t0, t0 + cnt) of block_inputs, in lockstep: delta = softplus(dt +
 * bias) straight from the loads (fused: from bk->dl, where block_inputs put
 * dt); LOCAL: delta*u and D*u; FIX, or LOCAL when the chunk's sum is kept:
 * the running sum of delta (Kahan). */
VSS_AVX2_INLINE void inputs_steps(int cnt, const struct unit *w, struct vblk *bk, size_t t0,
                                  __m256 bias, __m256 D, int sum, __m256 *s, __m256 *c)
{
  const size_t Di = w->sc->a->Di;
  __m256 dl[VSS_AVX2_MAXV];
  VSS_AVX2_EACH(j, cnt)
  {
    const size_t t = t0 + (size_t)j; /* fused: dt is in bk->dl already (block_inputs) */
    const __m256 dt = w->dt ? vss_avx2_load_n(w->dt + w->pos[t] * VSS_K * Di + bk->d, bk->nl)
                            : _mm256_loadu_ps(bk->dl[t]);
    dl[j] = _mm256_add_ps(dt, bias);
  }
  vss_avx2_softplus_n(cnt, dl);
  VSS_AVX2_EACH(j, cnt)
  {
    const size_t t = t0 + (size_t)j;
    _mm256_storeu_ps(bk->dl[t], dl[j]);
    if (sum) { /* Kahan: s + (dl - c), c what the addition lost */
      const __m256 yk = _mm256_sub_ps(dl[j], *c), sn = _mm256_add_ps(*s, yk);
      *c = _mm256_sub_ps(_mm256_sub_ps(sn, *s), yk);
      *s = sn;
      _mm256_storeu_ps(bk->sum[t], *s);
    }
    if (w->mode == FIX) {
      _mm256_storeu_ps(bk->out[t], _mm256_setzero_ps());
    } else {
      const __m256 u = vss_avx2_load_n(w->u + w->pos[t] * Di + bk->d, bk->nl);
      _mm256_storeu_ps(bk->du[t], _mm256_mul_ps(dl[j], u));
      _mm256_storeu_ps(bk->out[t], _mm256_mul_ps(D, u));
    }
  }
}

/* What the block's steps need of vector vi that does not depend on the
 * state, 4 steps in lockstep (softplus: a polynomial on 8 intervals, with
 * a wide form for lanes with |x| >= 7.5). */
static void block_inputs(struct unit *w, size_t vi, struct vblk *bk)
{
  const struct scan *sc = w->sc;
  const size_t Dp = 8 * sc->nv, k = (size_t)w->k;
  const __m256 bias = _mm256_loadu_ps(sc->bias + k * Dp + bk->d);
  const __m256 D = _mm256_loadu_ps(sc->D + k * Dp + bk->d);
  const int sum = w->mode == FIX || w->s;
  __m256 s = _mm256_loadu_ps(w->run[vi][0]), c = _mm256_loadu_ps(w->run[vi][1]);
  size_t t = 0;
  if (!w->dt) { /* fused dt_proj: 8 steps' chains at a time */
    for (; t + 8 <= bk->nt; t += 8) dt_proj_vecs(8, w, t, bk->d, bk->dl);
    for (; t < bk->nt; t++) dt_proj_vecs(1, w, t, bk->d, bk->dl);
    t = 0;
  }
  for (; t + 4 <= bk->nt; t += 4) inputs_steps(4, w, bk, t, bias, D, sum, &s, &c);
  for (; t < bk->nt; t++) inputs_steps(1, w, bk, t, bias, D, sum, &s, &c);
  _mm256_storeu_ps(w->run[vi][0], s);
  _mm256_storeu_ps(w->run[vi][1], c);
}

/* 1 if every x[t] <= lim lane by lane (NaN is not). */
static int all_below(const float (*x)[8], size_t nt, const float *lim)
{
  const __m256 l = _mm256_loadu_ps(lim);
  __m256 ok = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
  for (size_t t = 0; t < nt; t++)
    ok = _mm256_and_ps(ok, _mm256_cmp_ps(_mm256_loadu_ps(x[t]), l, _CMP_LE_OQ));
  return _mm256_movemask_ps(ok) == 0xFF;
}

/* e[i] = 2^(x[i / ng] a8[i % ng] / 8) for i in [i0, i0 + cnt): ng states
 * of A8 (a8, one row of Dp floats per state) at each step. */
VSS_AVX2_INLINE void decay_vectors(int cnt, int normal, int ng, const float (*x)[8],
                                   const float *a8, size_t Dp, size_t i0, float (*e)[8])
{
  __m256 z[VSS_AVX2_MAXV];
  VSS_AVX2_EACH(j, cnt)
  z[j] = _mm256_mul_ps(_mm256_loadu_ps(x[(i0 + (size_t)j) / (size_t)ng]),
                       _mm256_loadu_ps(a8 + ((i0 + (size_t)j) % (size_t)ng) * Dp));
  vss_avx2_exp2_decay8_n(cnt, normal, z);
  VSS_AVX2_EACH(j, cnt) _mm256_storeu_ps(e[i0 + (size_t)j], z[j]);
}

/* The decay factors of ng states for the block's steps, LOCK at a time. */
VSS_AVX2_INLINE void decays(int normal, int ng, const float (*x)[8], size_t nt,
                            const float *a8, size_t Dp, float (*e)[8])
{
  const size_t n = nt * (size_t)ng;
  size_t i = 0;
  for (; i + LOCK <= n; i += LOCK) decay_vectors(LOCK, normal, ng, x, a8, Dp, i, e);
  for (; i < n; i++) decay_vectors(1, normal, ng, x, a8, Dp, i, e);
}

/* States [n0, n0 + ng) of the vector over the block.  LOCAL:
 *   h[q] = e[t][q] h[q] + (delta u)_t B_t[n0+q],  out[t] += C_t[n0+q] h[q]
 * (the group's states in registers); FIX, with h the carried state:
 *   out[t] += C_t[n0+q] (e[t][q] h[q]). */
VSS_AVX2_INLINE void states(int ng, const struct unit *w, struct vblk *bk, size_t n0, float *h)
{
  const size_t N = w->sc->a->N, row = VSS_K * w->sc->G;
  __m256 hv[8];
  VSS_AVX2_EACH(q, ng) hv[q] = _mm256_loadu_ps(h + 8 * q);
  for (size_t t = 0; t < bk->nt; t++) {
    const float *bt = w->bc + w->pos[t] * row + n0, *ct = bt + N;
    const float (*e)[8] = bk->e + t * (size_t)ng;
    __m256 acc = _mm256_loadu_ps(bk->out[t]);
    if (w->mode == FIX) {
      VSS_AVX2_EACH(q, ng)
      acc = _mm256_fmadd_ps(_mm256_broadcast_ss(ct + q),
                            _mm256_mul_ps(_mm256_loadu_ps(e[q]), hv[q]), acc);
    } else {
      const __m256 du = _mm256_loadu_ps(bk->du[t]);
      VSS_AVX2_EACH(q, ng)
      {
        hv[q] = _mm256_fmadd_ps(_mm256_loadu_ps(e[q]), hv[q],
                                _mm256_mul_ps(du, _mm256_broadcast_ss(bt + q)));
        acc = _mm256_fmadd_ps(_mm256_broadcast_ss(ct + q), hv[q], acc);
      }
    }
    _mm256_storeu_ps(bk->out[t], acc);
  }
  if (w->mode == LOCAL) VSS_AVX2_EACH(q, ng) _mm256_storeu_ps(h + 8 * q, hv[q]);
}

/* One state group: its decays (of delta, or of the running sum when
 * fixing up), then its recurrence. */
VSS_AVX2_INLINE void state_group(int ng, int normal, const struct unit *w, struct vblk *bk,
                                 const float *a8, size_t n0, float *h)
{
  const size_t Dp = 8 * w->sc->nv;
  decays(normal, ng, w->mode == FIX ? bk->sum : bk->dl, bk->nt, a8 + n0 * Dp, Dp, bk->e);
  states(ng, w, bk, n0, h + 8 * n0);
}

static void group8(int normal, const struct unit *w, struct vblk *bk, const float *a8,
                   size_t n0, float *h)
{
  if (normal) state_group(8, 1, w, bk, a8, n0, h);
  else state_group(8, 0, w, bk, a8, n0, h);
}

static void group1(int normal, const struct unit *w, struct vblk *bk, const float *a8,
                   size_t n0, float *h)
{
  if (normal) state_group(1, 1, w, bk, a8, n0, h);
  else state_group(1, 0, w, bk, a8, n0, h);
}

/* Vector vi of the unit over the block of steps at w->pos. */
static void vector_block(struct unit *w, size_t vi, size_t nt)
{
  const struct scan *sc = w->sc;
  const size_t Di = sc->a->Di, N = sc->a->N, Dp = 8 * sc->nv, v = w->v0 + vi;
  struct vblk bk;
  bk.nt = nt;
  bk.d = 8 * v;
  bk.nl = Di - bk.d < 8 ? Di - bk.d : 8;
  block_inputs(w, vi, &bk);
  const int normal =
      all_below(w->mode == FIX ? bk.sum : bk.dl, nt, sc->lim + (size_t)w->k * Dp + bk.d);
  const float *a8 = sc->A8 + (size_t)w->k * N * Dp + bk.d;
  float *h = w->h + vi * N * 8;
  size_t n0 = 0;
  for (; n0 + 8 <= N; n0 += 8) group8(normal, w, &bk, a8, n0, h);
  for (; n0 < N; n0++) group1(normal, w, &bk, a8, n0, h);
  for (size_t t = 0; t < nt; t++) {
    float *yp = w->y + w->pos[t] * Di + bk.d;
    __m256 o = _mm256_loadu_ps(bk.out[t]);
    if (w->add) o = _mm256_add_ps(vss_avx2_load_n(yp, bk.nl), o);
    vss_avx2_store_n(yp, o, bk.nl);
  }
}

/* The lines vector vi reads and writes at the steps pos[0..nt) (the next
 * block's), and for vector 0 the steps' B and C: one vector's worth at a
 * time, so that the prefetches keep pace with the work rather than flood
 * L1 with a whole group's next block (measured: 2x slower at 192 channels). */
static void prefetch_steps(const struct unit *w, size_t vi, const size_t *pos, size_t nt)
{
  const struct scan *sc = w->sc;
  const size_t Di = sc->a->Di, d = 8 * (w->v0 + vi);
  for (size_t t = 0; t < nt; t++) {
    const size_t p = pos[t];
    if (w->dt) _mm_prefetch((const char *)(w->dt + p * VSS_K * Di + d), _MM_HINT_T0);
    _mm_prefetch((const char *)(w->y + p * Di + d), _MM_HINT_T0);
    if (w->mode == LOCAL) _mm_prefetch((const char *)(w->u + p * Di + d), _MM_HINT_T0);
    if (vi == 0) /* the pixel's x_proj row: [dt part (fused),] B, C */
      _mm_prefetch((const char *)(w->bc - (sc->dtw ? sc->a->R : 0) + p * VSS_K * sc->G), _MM_HINT_T0);
  }
}

static void run_unit(struct unit *w)
{
  const size_t N = w->sc->a->N;
  const size_t *pos0 = w->pos;
  memset(w->run, 0, sizeof w->run);
  if (w->mode == LOCAL) memset(w->h, 0, w->nvu * N * 8 * sizeof *w->h);
  for (size_t t = w->t0; t < w->t1; t += NT) {
    const size_t nt = w->t1 - t < NT ? w->t1 - t : NT;
    const size_t next = w->t1 - t - nt < NT ? w->t1 - t - nt : NT; /* the next block's steps */
    w->pos = pos0 + t;
    for (size_t vi = 0; vi < w->nvu; vi++) {
      prefetch_steps(w, vi, w->pos + nt, next);
      vector_block(w, vi, nt);
    }
  }
  w->pos = pos0;
  if (w->s)
    for (size_t vi = 0; vi < w->nvu; vi++) memcpy(w->s + 8 * vi, w->run[vi][0], 8 * sizeof(float));
}

/* The unit of (sample b, group g, chunk c) of direction k. */
static void unit_init(struct unit *w, const struct scan *sc, int k, int mode, int add,
                      size_t b, size_t g, size_t c)
{
  const struct vss_scan_args *a = sc->a;
  const size_t L = sc->L, Di = a->Di, N = a->N, nch = sc->pl.nchunk;
  w->sc = sc;
  w->k = k, w->mode = mode, w->add = add;
  w->v0 = g * GV;
  w->nvu = sc->nv - w->v0 < GV ? sc->nv - w->v0 : GV;
  w->t0 = c * sc->pl.chunk;
  w->t1 = w->t0 + sc->pl.chunk < L ? w->t0 + sc->pl.chunk : L;
  w->pos = sc->pos + (size_t)k * L;
  w->u = a->u + b * L * Di;
  w->dt = sc->dtw ? NULL : a->dt + b * L * VSS_K * Di + (size_t)k * Di;
  w->bc = a->dbl + b * L * VSS_K * sc->G + (size_t)k * sc->G + a->R;
  w->y = a->y + b * L * Di;
  /* LOCAL: chunk c's own state; FIX: the carry into chunk c, kept in slot c - 1 */
  const size_t slot = b * nch + (mode == FIX ? c - 1 : c);
  w->h = sc->h + (slot * sc->nv + w->v0) * N * 8;
  w->s = mode == LOCAL && nch > 1 ? sc->s + (slot * sc->nv + w->v0) * 8 : NULL;
}

/* The carry of (sample b, group g) of direction k: slot c of the states
 * becomes the state entering chunk c + 1. */
static void carry(const struct scan *sc, int k, size_t b, size_t g)
{
  const size_t N = sc->a->N, nch = sc->pl.nchunk, Dp = 8 * sc->nv;
  const size_t v0 = g * GV, v1 = v0 + GV < sc->nv ? v0 + GV : sc->nv;
  for (size_t v = v0; v < v1; v++)
    for (size_t n = 0; n < N; n++) {
      const __m256 a2 = _mm256_mul_ps(_mm256_loadu_ps(sc->A8 + ((size_t)k * N + n) * Dp + 8 * v),
                                      _mm256_set1_ps(0.125f)); /* A', exactly */
      __m256 r = _mm256_setzero_ps();
      for (size_t c = 0; c + 1 < nch; c++) {
        float *hs = sc->h + (((b * nch + c) * sc->nv + v) * N + n) * 8;
        const __m256 S = _mm256_loadu_ps(sc->s + ((b * nch + c) * sc->nv + v) * 8);
        r = _mm256_fmadd_ps(vss_avx2_exp2_scan(_mm256_mul_ps(a2, S)), r, _mm256_loadu_ps(hs));
        _mm256_storeu_ps(hs, r);
      }
    }
}

/* --------------------------------------------------------------- driver */

static const int merge_order[VSS_K] = {0, 2, 1, 3}; /* v0's, as ref */

static void run_unchunked(const struct scan *sc)
{
  const size_t units = sc->a->B * sc->pl.ngroup;
#pragma omp parallel
  {
    fill_tables(sc);
#pragma omp for schedule(dynamic)
    for (size_t i = 0; i < units; i++) {
      struct unit w;
      int add = 0;
      for (int m = 0; m < VSS_K; m++) {
        const int k = merge_order[m];
        if (!(sc->a->dirs >> k & 1)) continue;
        unit_init(&w, sc, k, LOCAL, add, i / sc->pl.ngroup, i % sc->pl.ngroup, 0);
        run_unit(&w);
        add = 1;
      }
    }
  }
}

static void run_chunked(const struct scan *sc)
{
  const size_t ng = sc->pl.ngroup, nch = sc->pl.nchunk, bg = sc->a->B * ng;
#pragma omp parallel
  {
    int add = 0;
    fill_tables(sc);
    for (int m = 0; m < VSS_K; m++) {
      const int k = merge_order[m];
      if (!(sc->a->dirs >> k & 1)) continue;
      struct unit w;
#pragma omp for schedule(dynamic)
      for (size_t i = 0; i < bg * nch; i++) { /* 1. local, chunk-major: (b, g) inner */
        unit_init(&w, sc, k, LOCAL, add, i % bg / ng, i % ng, i / bg);
        run_unit(&w);
      }
#pragma omp for schedule(dynamic)
      for (size_t i = 0; i < bg; i++) carry(sc, k, i / ng, i % ng); /* 2. */
#pragma omp for schedule(dynamic)
      for (size_t i = 0; i < bg * (nch - 1); i++) { /* 3. fix-up, chunks 1.. */
        unit_init(&w, sc, k, FIX, 1, i % bg / ng, i % ng, 1 + i / bg);
        run_unit(&w);
      }
      add = 1;
    }
  }
}

/* ------------------------------------------------- plain x86-64 from here */

VSS_OMP_ANY_X86_BEGIN

void vss_ssm_scan_omp_plan(const struct vss_scan_args *a, struct vss_omp_scan_plan *p)
{
  const size_t L = a->H * a->W;
  __builtin_cpu_init();
  p->vector = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
              vss_omp_base.ssm_scan != vss_ssm_scan__ref;
  p->group = OMP_SCAN_GROUP;
  p->ngroup = (a->Di + OMP_SCAN_GROUP - 1) / OMP_SCAN_GROUP;
  if (a->B * p->ngroup >= OMP_SCAN_MIN_UNITS || L <= OMP_SCAN_CHUNK) {
    p->chunk = L;
    p->nchunk = 1;
  } else {
    p->chunk = OMP_SCAN_CHUNK;
    p->nchunk = (L + OMP_SCAN_CHUNK - 1) / OMP_SCAN_CHUNK;
  }
}

/* Without AVX2: base's scan on each sample. */
static void run_per_sample(const struct vss_scan_args *a)
{
  const size_t L = a->H * a->W, G = a->R + 2 * a->N;
#pragma omp parallel for schedule(dynamic)
  for (size_t b = 0; b < a->B; b++) {
    struct vss_scan_args s = *a;
    s.B = 1;
    s.u += b * L * a->Di;
    s.dbl += b * L * VSS_K * G;
    s.dt += b * L * VSS_K * a->Di;
    s.y += b * L * a->Di;
    vss_omp_base.ssm_scan(&s);
  }
}

/* fused: dt_proj computed in the scan from a->dt_w (a->dt not read); only
 * where the vector path runs (vss_ssm_scan_dt__omp is installed only then). */
static void scan_omp(const struct vss_scan_args *a, int fused)
{
  struct scan sc = {.a = a, .L = a->H * a->W, .G = a->R + 2 * a->N, .nv = (a->Di + 7) / 8};
  vss_ssm_scan_omp_plan(a, &sc.pl);
  if (!sc.pl.vector) { run_per_sample(a); return; }
  if (!(a->dirs & 0xF)) { /* no direction selected: y = 0 */
    memset(a->y, 0, a->B * sc.L * a->Di * sizeof *a->y);
    return;
  }
  const size_t N = a->N, Dp = 8 * sc.nv, nst = a->B * sc.pl.nchunk * Dp;
  const size_t npos = VSS_K * sc.L * sizeof(size_t) / sizeof(float);
  const size_t ndtw = fused ? VSS_K * a->R * Dp : 0;
  const size_t nfloats = npos + VSS_K * N * Dp + 3 * VSS_K * Dp + nst * N + nst + ndtw;
  float *mem = malloc(nfloats * sizeof *mem);
  if (!mem) {
    fprintf(stderr, "vss_ssm_scan__omp: out of memory (%zu floats of tables and state)\n", nfloats);
    abort();
  }
  sc.pos = (size_t *)mem; /* first: size_t-aligned */
  sc.A8 = mem + npos;
  sc.bias = sc.A8 + VSS_K * N * Dp;
  sc.D = sc.bias + VSS_K * Dp;
  sc.lim = sc.D + VSS_K * Dp;
  sc.h = sc.lim + VSS_K * Dp;
  sc.s = sc.h + nst * N;
  sc.dtw = fused ? sc.s + nst : NULL;
  fill_pos(a->H, a->W, sc.pos);
  if (sc.pl.nchunk == 1) run_unchunked(&sc);
  else run_chunked(&sc);
  free(mem);
}

void vss_ssm_scan__omp(const struct vss_scan_args *a) { scan_omp(a, 0); }

void vss_ssm_scan_dt__omp(const struct vss_scan_args *a)
{
  struct vss_omp_scan_plan pl;
  vss_ssm_scan_omp_plan(a, &pl);
  if (!pl.vector) { /* not installed where this holds; if called, not silently wrong */
    fprintf(stderr, "vss_ssm_scan_dt__omp: no AVX2 scan here (the slot is NULL there)\n");
    abort();
  }
  scan_omp(a, 1);
}

VSS_OMP_ANY_X86_END
