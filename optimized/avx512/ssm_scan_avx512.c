/* ssm_scan_avx512.c - the selective scan of the four directions with the
 * cross-merge fused in (spec §2.5-2.6, DESIGN §2), 16 channels per zmm.
 *
 * No permuted copies: for each sample and direction k the kernel walks the
 * steps t = 0..L-1 over the pixels p = pos_k(t), reading u, dt and the
 * x_proj output (B, C) where they lie, and adds each step's output straight
 * into y[p] (the first direction of dirs writes, the others add, in v0's
 * merge order 0, 2, 1, 3, as ref).  The ssm_scan_dt entry computes dt
 * itself, per tile and step from the pixel's x_proj row (R FMAs, in
 * linear_avx512.c's order: the same bits), so the block never stores the
 * (B, L, 4 Di) dt tensor (as ssm_scan_avx2.c).
 *
 * Blocking: the steps go in chunks of CHUNK = 16; within a chunk, every
 * tile of 16 channels in turn (the tiles of a step read neighbouring lines
 * of the same pixel rows, where one tile per whole walk would touch a new
 * page at every step of the column-major directions):
 *  1. prep: delta = softplus(dt + bias), delta*u and D*u for the chunk's
 *     steps, into a small buffer (one vector per step, masked loads for
 *     the last tile's Di % 16 channels; its padding lanes compute on
 *     zeros and are never stored); and a prefetch (to L2) of the lines of
 *     dt, u, y (and B, C) that the tile needs in the next chunk, which the
 *     hardware prefetchers miss (measured: 5% of the v0_T1 scan; to L1,
 *     the chunk's lines evict each other);
 *  2. the recurrence, with the decay factors computed in place: for each
 *     state n (all N = 16 in registers, h[n] one zmm each),
 *        h[n] = 2^(delta A'[n]) h[n] + (delta u) B_t[n]
 *        ys  += C_t[n] h[n]             (two partial sums, even/odd n)
 *     then y[p] (+)= ys + D u.  A' = A log2(e), scaled once per direction.
 *     Per state and step: the exp2 of avx512_util.h (one permute for the
 *     2^(j/16) table, three add-unit ops, four FMA-unit ops, scalef) and
 *     three FMA-unit ops of recurrence.  The 16 exps of a step are
 *     independent of the state, so the out-of-order core runs them ahead
 *     of the h chains; no buffer of decay factors is written or read back
 *     (a microbenchmark of both: 12% faster than computing them into a
 *     buffer first, as avx2 does).  Measured on Zen 4: ~2.5 ns per state,
 *     step and 16 channels in the recurrence, about the rate of its FMA
 *     units (which take one zmm op per cycle there); prep is a fifth of
 *     the time.
 * The state of every tile (h and A', 2 Di N floats) lives between chunks
 * in one allocation per call (printing a line and aborting if that fails,
 * as ref does).
 *
 * The fast exp2 needs |delta A'| <= 2^17: each chunk checks its deltas
 * against the tile's bound (2^17 / max |A'|, far above any real delta) and
 * runs the clamped exp2 when one is larger, infinite or NaN, so that
 * exp(-inf) = 0 as in ref.
 *
 * Accuracy: the exp2 is within 1 ulp of 2^z for the rounded z = delta*A',
 * which differs from ref's expf(delta*A) by the rounding of A' (relative
 * 2^-24 of the exponent, like the rounding of delta*A that ref already
 * has); sums are reordered.  Both stay far inside the tests' variant-vs-ref
 * limit (core/tolerances.h).
 *
 * Paths: the states go in groups of 16, 8, 4, 2 and 1 with the group size
 * a constant, so N = 16 and N = 1 each run one fully unrolled group (and
 * write y directly); any other N runs several groups, the partial sums of
 * ys parked in the chunk buffer between them. */
#include <math.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avx512_ops.h"
#include "avx512_util.h"

#define TILE 16  /* channels per tile: one zmm */
#define CHUNK 16 /* steps per chunk */
#define LOG2E 1.44269504088896341f
#define Z_MAX 131072.0f /* 2^17: |delta A'| below it keeps exp2_raw exact */

/* One (sample, direction) pass. */
struct scan {
  int k, add;                /* add = 0: the first direction writes y */
  size_t H, W, Di, N, R, G, ntile;
  const float *u, *dt, *bc;  /* bc: this direction's B at pixel 0 */
  float *y;
  float *A2, *h;             /* [ntile][N][TILE] each */
  float *dtw;                /* [ntile][R][TILE]: dt_w packed (dt_proj fused), or NULL */
  float *bias, *D;           /* [ntile][TILE] */
  float *dl_max;             /* [ntile] */
};

/* A chunk of steps: its pixels (and the next chunk's), and the current
 * tile's per-step vectors, each row one cache line by the type itself:
 * after the pixel lists, in a struct only 8-byte aligned on the stack, a
 * row could straddle two lines, and then every zmm access of it would
 * (the avx2 and omp scans lost 3-10% that way; for this scan no change
 * was measured at v0_T1 or v2_T1). */
struct chunk {
  size_t nt, pos[CHUNK], next_nt, next[CHUNK];
  alignas(64) float dl[CHUNK][TILE];
  alignas(64) float du[CHUNK][TILE];
  alignas(64) float ys[CHUNK][TILE];
};

/* pos_k(t) for t = t0 .. t0 + nt - 1 (spec §2.5): rows of the image for
 * k = 0, 2 (forwards, backwards); for k = 1, 3 columns, from one division
 * at t0 and then down (k = 1) or up (k = 3) the column. */
static void chunk_positions(int k, size_t H, size_t W, size_t t0, size_t nt, size_t *pos)
{
  const size_t L = H * W;
  if (!(k & 1)) {
    for (size_t i = 0; i < nt; i++) pos[i] = k ? L - 1 - t0 - i : t0 + i;
    return;
  }
  const size_t s = k == 3 ? L - 1 - t0 : t0; /* the index along k = 1's walk */
  size_t col = s / H, row = s % H;
  for (size_t i = 0; i < nt; i++) {
    pos[i] = row * W + col;
    if (k == 1) {
      if (++row == H) row = 0, col++;
    } else if (row-- == 0) {
      row = H - 1, col--;
    }
  }
}

/* dt of tile i at cnt steps from t0 of the chunk, into ch->dl: the
 * dt_proj sums from the pixels' x_proj rows as linear_avx512.c's kernel
 * forms them (from zero, one FMA per r in order): the bits of linear then
 * scan.  The cnt chains run side by side: one step's alone (R FMAs deep)
 * made the fused block 9% slower than linear then scan at R = 48. */
#define DT_STEPS 8
VSS_AVX512_INLINE void dt_proj_steps(int cnt, const struct scan *sc, size_t i, struct chunk *ch,
                                     size_t t0)
{
  const size_t ld = VSS_K * sc->G;
  const float *w = sc->dtw + i * sc->R * TILE, *x[DT_STEPS];
  __m512 acc[DT_STEPS];
#pragma GCC unroll 8
  for (int j = 0; j < cnt; j++) {
    x[j] = sc->bc - sc->R + ch->pos[t0 + (size_t)j] * ld;
    acc[j] = _mm512_setzero_ps();
  }
  for (size_t r = 0; r < sc->R; r++) {
    const __m512 wv = _mm512_load_ps(w + r * TILE);
#pragma GCC unroll 8
    for (int j = 0; j < cnt; j++) acc[j] = _mm512_fmadd_ps(_mm512_set1_ps(x[j][r]), wv, acc[j]);
  }
#pragma GCC unroll 8
  for (int j = 0; j < cnt; j++) _mm512_storeu_ps(ch->dl[t0 + (size_t)j], acc[j]);
}

/* Step 1 for tile i (and the prefetch of its next chunk); returns 1 when
 * every delta of the chunk is within the tile's bound for the fast exp2. */
static int prep(const struct scan *sc, size_t i, struct chunk *ch)
{
  const size_t d0 = i * TILE;
  const __mmask16 m = vss_avx512_mask(sc->Di - d0);
  const __m512 bias = _mm512_loadu_ps(sc->bias + d0), D = _mm512_loadu_ps(sc->D + d0);
  const __m512 lim = _mm512_set1_ps(sc->dl_max[i]);
  __mmask16 ok = 0xFFFF;
  /* the lines this tile reads and writes in the next chunk: their pixels
   * lie rows apart (k = 1, 3) or a pixel row (3 KiB of dt at Di = 192)
   * apart (k = 0, 2), beyond what the hardware prefetchers follow */
  const size_t ld = VSS_K * sc->G; /* x_proj row stride */
  for (size_t t = 0; t < ch->next_nt; t++) {
    const size_t q = ch->next[t];
    if (!sc->dtw)
      _mm_prefetch((const char *)(sc->dt + (q * VSS_K + (size_t)sc->k) * sc->Di + d0), _MM_HINT_T1);
    _mm_prefetch((const char *)(sc->u + q * sc->Di + d0), _MM_HINT_T1);
    _mm_prefetch((const char *)(sc->y + q * sc->Di + d0), _MM_HINT_T1);
    if (i == 0 && (sc->N || sc->dtw)) { /* the pixel's row: [dt part,] B and C */
      const float *row = sc->bc + q * ld - (sc->dtw ? sc->R : 0);
      _mm_prefetch((const char *)row, _MM_HINT_T1);
      _mm_prefetch((const char *)(sc->bc + q * ld + 2 * sc->N - 1), _MM_HINT_T1);
    }
  }
  if (sc->dtw) { /* fused dt_proj: dt into ch->dl first, DT_STEPS chains at a time */
    size_t t = 0;
    for (; t + DT_STEPS <= ch->nt; t += DT_STEPS) dt_proj_steps(DT_STEPS, sc, i, ch, t);
    for (; t < ch->nt; t++) dt_proj_steps(1, sc, i, ch, t);
  }
  for (size_t t = 0; t < ch->nt; t++) {
    const size_t p = ch->pos[t];
    const __m512 x = sc->dtw ? _mm512_loadu_ps(ch->dl[t])
                             : _mm512_maskz_loadu_ps(m, sc->dt + (p * VSS_K + (size_t)sc->k) * sc->Di + d0);
    const __m512 u = _mm512_maskz_loadu_ps(m, sc->u + p * sc->Di + d0);
    const __m512 dl = vss_avx512_softplus(_mm512_add_ps(x, bias));
    ok &= _mm512_cmp_ps_mask(dl, lim, _CMP_LE_OQ);
    _mm512_storeu_ps(ch->dl[t], dl);
    _mm512_storeu_ps(ch->du[t], _mm512_mul_ps(dl, u));
    _mm512_storeu_ps(ch->ys[t], _mm512_mul_ps(D, u));
  }
  return ok == 0xFFFF;
}

/* Step 2 for states [n0, n0 + ng) of tile i over the chunk, their state in
 * ng registers all along (ng a constant: the loops unroll).  last: the
 * final group, which puts ys into y; the others leave it in ch->ys.
 * clamp: the exp2 that takes any z. */
VSS_AVX512_INLINE void recur(const struct scan *sc, size_t i, struct chunk *ch, size_t n0,
                             int ng, int clamp, int last)
{
  const size_t N = sc->N, d0 = i * TILE, ld = VSS_K * sc->G;
  const __mmask16 m = vss_avx512_mask(sc->Di - d0);
  float *hp = sc->h + (i * N + n0) * TILE;
  const float *a2 = sc->A2 + (i * N + n0) * TILE;
  __m512 h[16], A2[16]; /* A2: what does not fit in registers stays on the stack */
#pragma GCC unroll 16
  for (int q = 0; q < ng; q++) h[q] = _mm512_loadu_ps(hp + q * TILE), A2[q] = _mm512_loadu_ps(a2 + q * TILE);
  for (size_t t = 0; t < ch->nt; t++) {
    const float *Bt = sc->bc + ch->pos[t] * ld + n0, *Ct = Bt + N;
    const __m512 dl = _mm512_loadu_ps(ch->dl[t]), du = _mm512_loadu_ps(ch->du[t]);
    __m512 acc0 = _mm512_loadu_ps(ch->ys[t]), acc1 = _mm512_setzero_ps();
#pragma GCC unroll 16
    for (int q = 0; q < ng; q++) {
      const __m512 z = _mm512_mul_ps(dl, A2[q]);
      const __m512 dA = clamp ? vss_avx512_exp2(z) : vss_avx512_exp2_raw(z);
      h[q] = _mm512_fmadd_ps(dA, h[q], _mm512_mul_ps(du, _mm512_set1_ps(Bt[q])));
      if (q & 1) acc1 = _mm512_fmadd_ps(_mm512_set1_ps(Ct[q]), h[q], acc1);
      else acc0 = _mm512_fmadd_ps(_mm512_set1_ps(Ct[q]), h[q], acc0);
    }
    const __m512 ys = _mm512_add_ps(acc0, acc1);
    if (!last) {
      _mm512_storeu_ps(ch->ys[t], ys);
      continue;
    }
    float *yp = sc->y + ch->pos[t] * sc->Di + d0;
    _mm512_mask_storeu_ps(yp, m, sc->add ? _mm512_add_ps(_mm512_maskz_loadu_ps(m, yp), ys) : ys);
  }
#pragma GCC unroll 16
  for (int q = 0; q < ng; q++) _mm512_storeu_ps(hp + q * TILE, h[q]);
}

/* recur with ng and clamp made constants. */
static void recur_group(const struct scan *sc, size_t i, struct chunk *ch, size_t n0, int ng,
                        int clamp, int last)
{
  switch (ng * 2 + clamp) {
#define GROUP_CASE(NG)                                        \
  case 2 * NG: recur(sc, i, ch, n0, NG, 0, last); break;     \
  case 2 * NG + 1: recur(sc, i, ch, n0, NG, 1, last); break;
    GROUP_CASE(16) GROUP_CASE(8) GROUP_CASE(4) GROUP_CASE(2) GROUP_CASE(1) GROUP_CASE(0)
#undef GROUP_CASE
  default: break;
  }
}

/* The pass of sample b, direction k (add: into y, else over it): every
 * tile's A', bias, D and zero state, then the walk, chunk by chunk, each
 * chunk tile by tile. */
static void scan_direction(struct scan *sc, const struct vss_scan_args *a, size_t b, int k,
                           int add)
{
  const size_t L = sc->H * sc->W, N = sc->N;
  sc->k = k;
  sc->add = add;
  sc->u = a->u + b * L * sc->Di;
  sc->y = a->y + b * L * sc->Di;
  sc->dt = sc->dtw ? NULL : a->dt + b * L * VSS_K * sc->Di;
  sc->bc = a->dbl + (b * L * VSS_K + (size_t)k) * sc->G + a->R;
  for (size_t i = 0; i < sc->ntile; i++) {
    const size_t d0 = i * TILE, kd = (size_t)sc->k * sc->Di + d0;
    float amax = 0.0f;
    for (size_t j = 0; j < TILE; j++) {
      const int in = d0 + j < sc->Di;
      sc->bias[d0 + j] = in ? a->dt_bias[kd + j] : 0.0f;
      sc->D[d0 + j] = in ? a->D[kd + j] : 0.0f;
      for (size_t n = 0; n < N; n++) {
        const float a2 = in ? a->A[(kd + j) * N + n] * LOG2E : 0.0f;
        sc->A2[(i * N + n) * TILE + j] = a2;
        amax = fabsf(a2) > amax ? fabsf(a2) : amax;
      }
      if (sc->dtw) /* zero past Di */
        for (size_t r = 0; r < sc->R; r++)
          sc->dtw[(i * sc->R + r) * TILE + j] = in ? a->dt_w[(kd + j) * sc->R + r] : 0.0f;
    }
    sc->dl_max[i] = amax > 0.0f ? Z_MAX / amax : INFINITY;
  }
  memset(sc->h, 0, sc->ntile * N * TILE * sizeof(float));
  struct chunk ch;
  ch.next_nt = L < CHUNK ? L : CHUNK;
  chunk_positions(sc->k, sc->H, sc->W, 0, ch.next_nt, ch.next);
  for (size_t t0 = 0; t0 < L; t0 += CHUNK) {
    ch.nt = ch.next_nt;
    memcpy(ch.pos, ch.next, ch.nt * sizeof *ch.pos);
    ch.next_nt = L - t0 - ch.nt < CHUNK ? L - t0 - ch.nt : CHUNK;
    chunk_positions(sc->k, sc->H, sc->W, t0 + ch.nt, ch.next_nt, ch.next);
    for (size_t i = 0; i < sc->ntile; i++) {
      const int clamp = !prep(sc, i, &ch);
      size_t n0 = 0;
      do { /* at least once: N = 0 still writes D u */
        const size_t left = N - n0;
        const int ng = left >= 16 ? 16 : left >= 8 ? 8 : left >= 4 ? 4 : left >= 2 ? 2 : (int)left;
        recur_group(sc, i, &ch, n0, ng, clamp, n0 + (size_t)ng == N);
        n0 += (size_t)ng;
      } while (n0 < N);
    }
  }
}

/* The scan; fused: dt_proj computed in it from a->dt_w (a->dt not read). */
static void scan(const struct vss_scan_args *a, int fused)
{
  static const int merge_order[VSS_K] = {0, 2, 1, 3}; /* v0's, as ref */
  const size_t ntile = (a->Di + TILE - 1) / TILE, per_state = ntile * a->N * TILE;
  /* packed dt_w first, 64-byte aligned ([ntile][R][TILE] when fused), then
   * A' and h ([ntile][N][TILE] each), bias and D ([ntile][TILE] each), the
   * delta bounds ([ntile]) */
  const size_t ndtw = fused ? ntile * a->R * TILE : 0;
  const size_t nfloats = ndtw + 2 * per_state + 2 * ntile * TILE + ntile;
  float *mem = aligned_alloc(64, (nfloats * sizeof(float) + 63) / 64 * 64);
  if (!mem) {
    fprintf(stderr, "%s: out of memory for the state of %zu channels x %zu states\n", __func__,
            a->Di, a->N);
    abort();
  }
  float *st = mem + ndtw;
  struct scan sc = {.H = a->H, .W = a->W, .Di = a->Di, .N = a->N, .R = a->R,
                    .G = a->R + 2 * a->N, .ntile = ntile, .A2 = st, .h = st + per_state,
                    .dtw = fused ? mem : NULL, .bias = st + 2 * per_state,
                    .D = st + 2 * per_state + ntile * TILE,
                    .dl_max = st + 2 * per_state + 2 * ntile * TILE};
  for (size_t b = 0; b < a->B; b++) {
    int passes = 0;
    for (int m = 0; m < VSS_K; m++)
      if (a->dirs >> merge_order[m] & 1) scan_direction(&sc, a, b, merge_order[m], passes++ > 0);
    if (!passes) /* no direction selected */
      memset(a->y + b * a->H * a->W * a->Di, 0, a->H * a->W * a->Di * sizeof(float));
  }
  free(mem);
}

void VSS_AVX512_FN_T(ssm_scan, c16)(const struct vss_scan_args *a) { scan(a, 0); }

void VSS_AVX512_FN_T(ssm_scan_dt, c16)(const struct vss_scan_args *a) { scan(a, 1); }
