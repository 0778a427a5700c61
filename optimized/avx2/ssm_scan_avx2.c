/* ssm_scan_avx2.c - the selective scan of the four directions with the
 * cross-merge fused in (spec §2.5-2.6, DESIGN §2), 16 channels per tile.
 *
 * No permuted copies: for each sample and direction k, the kernel walks the
 * steps t = 0..L-1 over the pixels p = pos_k(t) (incremental index
 * arithmetic, struct walk), reading u, dt and the x_proj output where they
 * lie, and adds each step's output straight into y[p] (the first direction
 * of dirs writes, the others add, in v0's merge order 0, 2, 1, 3, as ref).
 *
 * Two entries: vss_ssm_scan__avx2_c16 reads dt (the dt_proj output);
 * vss_ssm_scan_dt__avx2_c16 (the ssm_scan_dt slot) computes it per tile
 * and step from the pixel's x_proj row, 2 R FMAs, in linear_avx2.c's
 * order (the same bits), so the block never writes or reads the
 * (B, L, 4 Di) dt tensor, 9.6 MB at v0_T1, where the avx2 block took
 * 17.2-17.7 ms against 19.2-19.9 ms without it (best of 30 forwards,
 * alternated four times, on a loaded machine).
 *
 * Blocking.  The steps go in chunks of nt (12 for N = 16, up to CHUNK for
 * small N); within a chunk, every channel tile (TILE = 16 channels = two
 * ymm) in turn:
 *  1. precomputes what does not depend on the state, for the chunk's
 *     steps: delta = softplus(dt + bias), delta*u, D*u, and the decay
 *     factors dA[t][n] = 2^(delta A') with A' = A log2(e) (the bulk of the
 *     work: N exps per channel and step, 11-14 vector ops each), from
 *     z = delta A8, A8 = 8 A' (exact), in lockstep groups of vectors
 *     (avx2_util.h) into an in-cache buffer (<= 12 KiB); when every delta
 *     of the chunk keeps delta A' >= -125, the exps take the cheaper table
 *     form vss_avx2_exp2_tab8_n (normal results only: 4 FMA-unit ops
 *     instead of 6; measured 8% of the v0 scan; its rounding to eighths
 *     straight from 8 delta A', 1.5% more), else the general one (gradual
 *     underflow);
 *  2. runs the recurrence over them, 4 states of both vectors of the tile
 *     at a time, their state in registers for the whole chunk, 3 FMA-unit
 *     ops per state and vector:
 *        h[n]  = dA[t][n] h[n] + (delta u)[t] B_t[n]
 *        ys[t] = D u + sum_n C_t[n] h[n]
 *     with B_t[n], C_t[n] broadcast from the pixel's x_proj row; the
 *     last group of states adds its finished ys[t] into y[p] (or writes
 *     it, for the first direction) instead of storing it.
 * Chunk outside, tiles inside: the tiles of a step read neighbouring lines
 * of the same pixel rows (dt, u, y, B/C), where one tile per whole walk
 * would touch a new page at every step; and each tile prefetches its lines
 * of the next chunk, which the hardware prefetchers do not find (measured:
 * the scattered rows cost about a quarter of the time before these two).
 * The price is the state of every tile at once: h and A8 (2 Di N floats),
 * allocated once per call with dA and the chunk, at fixed distances
 * (CHUNK_SKEW), in one page-aligned block (printing a line and aborting if
 * that fails, as ref does).
 *
 * Accuracy: 2^(delta A') is within 1.28 ulp of 2^z for the rounded
 * z = delta*A' (= delta A8 / 8, exactly) on the table path (z in
 * [-125, 0], measured over every float z in [-125, 101]; held to
 * VSS_EXP2_TAB_MAX_ULP = 2 by
 * tests/test_variants.c through vss_exp2f_scan__avx2) and within 0.95 ulp
 * on the general path (every float z in [-151, 101], subnormal results
 * included; e^x on the same core, vss_expf__avx2: 1.18 ulp, held to 2 by
 * tests/test_variants.c), which differs from ref's expf(delta*A)
 * by the rounding of A' (relative 2^-24 of the exponent, like the rounding
 * of delta*A that ref already has); sums are reordered.  Both stay far
 * inside the tests' variant-vs-ref limit (core/tolerances.h).
 *
 * Domain: A = -exp(A_logs) <= 0 in a block; a positive A must keep
 * delta A log2(e) <= 101 (the exp2's range).
 *
 * The decay factors are not computed inside the recurrence, as avx512
 * does: with 16 ymm registers the state and the exp's temporaries do not
 * fit together (measured: 9-35% slower, 2 to 8 states per pass; with the
 * state kept in L1 instead, loaded and stored at every step, 4-7% slower,
 * 1 or 2 states' exps in lockstep).
 *
 * Paths: N = 16 and N = 1 are compiled with N constant (unrolled state
 * loop; N = 1 runs both vectors of a tile in one loop, two independent
 * chains); any other N runs the same code with N at run time.  A tile of
 * Di % 16 channels is handled by masked loads/stores; its padding lanes
 * compute on zeros (finite) and are never stored.
 */
#include <float.h>
#include <math.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avx2_ops.h"
#include "avx2_util.h"

#define TILE 16        /* channels per tile: two ymm */
#define CHUNK 64       /* most steps per chunk */
/* A tile's decay factors for a chunk (12 KiB, in L1): 12 steps at N = 16.
 * With the chunk's rows aligned (struct chunk), 12 and 8 steps ran the
 * v0_T1 scan 1.5-2% faster than 16 (in-process A/B, six runs each), 4
 * steps slower, 32 5% slower. */
#define DA_FLOATS 3072
#define RECUR_NG 4 /* states per pass of the recurrence: 8 ymm of state */
/* Decay-factor vectors computed in lockstep: even (a group's vectors
 * alternate between the tile's two halves).  2 rather than 4: the v0_T1
 * scan 3-5% faster, the avx2 block 0.2-0.4 ms (medians, alternated in one
 * process); with 4, temporaries and constants overflow the 16 ymm
 * registers (GCC 12 reloads two constants from the stack per group).
 * N = 1 (two steps of the one state per group of 4) keeps 4: 0.5-2.4%
 * faster than 2 at v2_T1. */
#define DA_V 2
#define DA_V_N1 4
_Static_assert(DA_V % 2 == 0 && DA_V_N1 % 2 == 0, "DA_V, DA_V_N1 must be even");
/* Where the chunk lies: this many bytes past a 4 KiB boundary of dA (see
 * scan()).  On the stack it lay at a distance from dA that changed from
 * run to run, and with the chunk starting 2-3 KiB past such a boundary (a
 * quarter of the distances) the fused v0_T1 scan took 10.8-11.6 ms against
 * 10.1-10.6 elsewhere (a sweep in 64-byte steps; the same quarter cost the
 * avx2 block 0.5-0.8 ms), as when loads wait behind stores whose addresses
 * match theirs in the low 12 bits (4K aliasing).  512 is the middle of the
 * good three quarters. */
#define CHUNK_SKEW 512
_Static_assert(CHUNK_SKEW % 64 == 0, "the chunk's rows must start on cache lines");

/* ------------------------------------------------------------ the walk */

/* pos_k(t) for t = 0, 1, ... without divisions (spec §2.5): k = 0 row-major,
 * k = 1 column-major, k = 2, 3 their reverses. */
struct walk {
  int k;
  size_t H, W, h, w, t;
};

static void walk_start(struct walk *s, int k, size_t H, size_t W)
{
  *s = (struct walk){k, H, W, k == 3 ? H - 1 : 0, k == 3 ? W - 1 : 0, 0};
}

/* The pixel of the current step t; then moves to step t + 1. */
static inline size_t walk_next(struct walk *s)
{
  const size_t L = s->H * s->W, t = s->t++;
  size_t p;
  switch (s->k) {
  case 0: return t;
  case 2: return L - 1 - t;
  case 1: /* h fastest, then w */
    p = s->h * s->W + s->w;
    if (++s->h == s->H) { s->h = 0; s->w++; }
    return p;
  default: /* 3: the reverse of 1 */
    p = s->h * s->W + s->w;
    if (s->h-- == 0) { s->h = s->H - 1; s->w--; }
    return p;
  }
}

/* ------------------------------------------------------ one direction */

/* The chunk: its pixels (and the next chunk's), and per step the current
 * tile's delta, delta*u, and output ys (D*u, then + C.h state by state).
 * The step rows start on cache lines (the chunk itself does, CHUNK_SKEW
 * past a page): after the two pixel lists they began 16 bytes in, so that
 * every other ymm access of du and ys (each step of the recurrence) and
 * of dl straddled two lines; aligned, the v0_T1 scan ran 2.5-5% faster,
 * v2_T1 7% (in-process A/B, both orders), the same bits. */
struct chunk {
  size_t nt, pos[CHUNK], next_nt, next[CHUNK];
  alignas(64) float dl[CHUNK][TILE];
  alignas(64) float du[CHUNK][TILE];
  alignas(64) float ys[CHUNK][TILE];
};

/* One (sample, direction) pass: what every tile reads and keeps. */
struct dir {
  int k, add;                  /* add = 0: the first direction writes y */
  size_t Di, N, R, G, ntile, nt; /* nt: steps per chunk */
  const float *u, *dt, *bc;    /* bc: this direction's B at pixel 0 */
  float *y;
  float *A8, *h;               /* [ntile][N][TILE] each; A8 = 8 A' */
  float *dtw;                  /* [ntile][R][TILE]: dt_w packed (fused
                                  dt_proj), or NULL: dt is read */
  float *bias, *D;             /* [ntile][TILE] */
  float *dl_max;               /* [ntile]: delta <= this keeps 2^(delta A') normal */
  float *dA;                   /* [nt][N][TILE], one tile's chunk */
  struct chunk *ch;            /* the chunk's step rows, CHUNK_SKEW past dA */
};

/* Tile i of a direction: channels d0 = 16 i, n0 + n1 of them valid. */
struct tile {
  size_t i, d0, n0, n1;
};

static struct tile tile_of(const struct dir *dr, size_t i)
{
  const size_t d0 = i * TILE, nd = dr->Di - d0 < TILE ? dr->Di - d0 : TILE;
  return (struct tile){i, d0, nd < 8 ? nd : 8, nd > 8 ? nd - 8 : 0};
}

/* Position (step t, half-tile j < nj = 2N) in the chunk's flat dA. */
struct da_walk {
  size_t t, j, nj;
};

/* cnt consecutive vectors of dA = 2^(delta A8 / 8), from where w stands;
 * vector j of a step uses the half j & 1 of its delta and half-tile j of
 * A8.
 * normal: every result is known to be normal (the cheaper exp2). */
VSS_AVX2_INLINE void da_group(int cnt, int normal, const float *A8, const struct chunk *ch,
                              struct da_walk *w, float *out)
{
  __m256 z[VSS_AVX2_MAXV];
  VSS_AVX2_EACH(q, cnt)
  {
    z[q] = _mm256_mul_ps(_mm256_loadu_ps(ch->dl[w->t] + 8 * (w->j & 1)),
                         _mm256_loadu_ps(A8 + 8 * w->j));
    if (++w->j == w->nj) { w->j = 0; w->t++; }
  }
  vss_avx2_exp2_decay8_n(cnt, normal, z);
  VSS_AVX2_EACH(q, cnt) _mm256_storeu_ps(out + 8 * q, z[q]);
}

/* dA[t][j] = 2^(delta[t] A8[j] / 8) for the chunk's nt steps, over the flat
 * (t, j) space, j < 2N counting half-tiles, in lockstep groups of DA_V. */
VSS_AVX2_INLINE void da_chunk(int normal, const float *A8, const struct chunk *ch,
                              size_t N, float *dA)
{
  struct da_walk dw = {0, 0, 2 * N};
  const size_t nv = ch->nt * dw.nj;
  size_t i = 0;
  if (dw.nj % DA_V == 0) { /* whole groups per step: no walk */
    for (size_t t = 0; t < ch->nt; t++) {
      const __m256 dl[2] = {_mm256_loadu_ps(ch->dl[t]), _mm256_loadu_ps(ch->dl[t] + 8)};
      for (size_t j = 0; j < dw.nj; j += DA_V, i += DA_V) {
        __m256 z[DA_V];
        VSS_AVX2_EACH(q, DA_V) z[q] = _mm256_mul_ps(dl[q & 1], _mm256_loadu_ps(A8 + 8 * (j + q)));
        vss_avx2_exp2_decay8_n(DA_V, normal, z);
        VSS_AVX2_EACH(q, DA_V) _mm256_storeu_ps(dA + 8 * (i + q), z[q]);
      }
    }
    return;
  }
  if (dw.nj == 2) { /* N = 1: DA_V_N1 / 2 steps per group */
    const __m256 a[2] = {_mm256_loadu_ps(A8), _mm256_loadu_ps(A8 + 8)};
    for (; i + DA_V_N1 <= nv; i += DA_V_N1) {
      __m256 z[DA_V_N1];
      VSS_AVX2_EACH(q, DA_V_N1) z[q] = _mm256_mul_ps(_mm256_loadu_ps((const float *)ch->dl + 8 * (i + q)), a[q & 1]);
      vss_avx2_exp2_decay8_n(DA_V_N1, normal, z);
      VSS_AVX2_EACH(q, DA_V_N1) _mm256_storeu_ps(dA + 8 * (i + q), z[q]);
    }
    dw.t = i / 2;
  }
  for (; i + DA_V <= nv; i += DA_V) da_group(DA_V, normal, A8, ch, &dw, dA + 8 * i);
  for (; i < nv; i++) da_group(1, normal, A8, ch, &dw, dA + 8 * i);
}

#define DT_STEPS 4 /* steps of dt at once (vss_avx2_dt_proj): 8 chains */

/* Everything of the chunk's steps that does not depend on the state, for
 * tile tl: dt (read, or computed from the pixel's x_proj row when
 * dt_proj is fused), delta = softplus(dt + bias), delta*u, D*u, and the decay
 * factors of every state; first, the prefetch of the tile's lines in the
 * next chunk (their rows lie pages apart (k = 1, 3) or far behind (k = 0,
 * 2), out of the hardware prefetchers' reach; a tile's worth at a time
 * keeps them spread out). */
static void precompute(const struct dir *dr, const struct tile *tl, struct chunk *ch)
{
  const size_t nt = ch->nt, N = dr->N;
  const size_t rs = VSS_K * dr->G; /* x_proj row stride */
  const float *xr = dr->bc - dr->R; /* this direction's x_proj row at pixel 0 */
  for (size_t t = 0; t < ch->next_nt; t++) {
    const size_t q = ch->next[t];
    if (!dr->dtw)
      _mm_prefetch((const char *)(dr->dt + (q * VSS_K + (size_t)dr->k) * dr->Di + tl->d0), _MM_HINT_T0);
    _mm_prefetch((const char *)(dr->u + q * dr->Di + tl->d0), _MM_HINT_T0);
    _mm_prefetch((const char *)(dr->y + q * dr->Di + tl->d0), _MM_HINT_T0);
    if (tl->i == 0) _mm_prefetch((const char *)(xr + q * rs), _MM_HINT_T0);
  }
  const float *bias = dr->bias + tl->i * TILE, *D = dr->D + tl->i * TILE;
  if (dr->dtw) { /* dt + bias into ch->dl, DT_STEPS steps at a time */
    const float *w = dr->dtw + tl->i * dr->R * TILE;
    size_t t = 0;
    for (; t + DT_STEPS <= nt; t += DT_STEPS) {
      const float *x[DT_STEPS];
      for (int j = 0; j < DT_STEPS; j++) x[j] = xr + ch->pos[t + (size_t)j] * rs;
      vss_avx2_dt_proj(DT_STEPS, 2, x, dr->R, w, TILE, bias, ch->dl[t], TILE);
    }
    for (; t < nt; t++) {
      const float *x1 = xr + ch->pos[t] * rs;
      vss_avx2_dt_proj(1, 2, &x1, dr->R, w, TILE, bias, ch->dl[t], TILE);
    }
  } else { /* dt read from its rows, + bias */
    for (size_t t = 0; t < nt; t++) {
      const float *dt = dr->dt + (ch->pos[t] * VSS_K + (size_t)dr->k) * dr->Di + tl->d0;
      _mm256_storeu_ps(ch->dl[t], _mm256_add_ps(vss_avx2_load_n(dt, tl->n0), _mm256_loadu_ps(bias)));
      _mm256_storeu_ps(ch->dl[t] + 8,
                       _mm256_add_ps(vss_avx2_load_n(dt + 8, tl->n1), _mm256_loadu_ps(bias + 8)));
    }
  }
  vss_avx2_softplus_array(nt * TILE, (float *)ch->dl, (float *)ch->dl); /* rows 0..nt-1, flat */
  /* D*u, delta*u; and whether every delta is <= dl_max (NaN is not) */
  const __m256 lim = _mm256_set1_ps(dr->dl_max[tl->i]);
  __m256 ok = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
  const float *const u0 = dr->u + tl->d0;
  const size_t Di = dr->Di, n0 = tl->n0, n1 = tl->n1;
  for (size_t t = 0; t < nt; t++) {
    const float *u = u0 + ch->pos[t] * Di;
    const __m256 uv[2] = {vss_avx2_load_n(u, n0), vss_avx2_load_n(u + 8, n1)};
    for (size_t v = 0; v < 2; v++) {
      const __m256 dl = _mm256_loadu_ps(ch->dl[t] + 8 * v);
      ok = _mm256_and_ps(ok, _mm256_cmp_ps(dl, lim, _CMP_LE_OQ));
      _mm256_storeu_ps(ch->ys[t] + 8 * v, _mm256_mul_ps(_mm256_loadu_ps(D + 8 * v), uv[v]));
      _mm256_storeu_ps(ch->du[t] + 8 * v, _mm256_mul_ps(dl, uv[v]));
    }
  }
  /* the decay factors, with the cheaper exp2 when all of them are normal */
  const float *A8 = dr->A8 + tl->i * N * TILE;
  if (_mm256_movemask_ps(ok) == 0xFF) da_chunk(1, A8, ch, N, dr->dA);
  else da_chunk(0, A8, ch, N, dr->dA);
}

/* y[p] (+)= ys for n valid lanes (n may be 0: nothing) */
VSS_AVX2_INLINE void put_y(float *yp, __m256 ys, size_t n, int add)
{
  if (!n) return;
  if (add) ys = _mm256_add_ps(vss_avx2_load_n(yp, n), ys);
  vss_avx2_store_n(yp, ys, n);
}

enum { LAST_PUT = 1, LAST_WRITE, LAST_ADD };

/* States [n0, n0 + ng) of both vectors of the tile over the chunk's steps,
 * their state in 2 ng registers all along (ng <= RECUR_NG, a constant):
 *     h[n] = dA[t][n] h[n] + (delta u)[t] B_t[n],   ys[t] += C_t[n] h[n]
 * 3 FMA-unit ops per state, step and vector; each B_t[n], C_t[n] is
 * broadcast once for both vectors (a pass per vector, 8 states each, took
 * 5% longer over the v0_T1 scan: a third more loads).  The sums of a step
 * are short chains, independent of the other steps'.  A tile of 8 or
 * fewer channels runs its second vector on zeros (never stored).  The
 * last group (last != 0) puts each step's finished sum into y itself
 * rather than into ys (a pass over the steps less: 0.8-2% off the v0_T1
 * scan, 4% off v2_T1); a whole tile's with the add or not decided once
 * (LAST_WRITE, LAST_ADD: no lane counts or add flag tested per step, the
 * same sums; the v0_T1 scan's best of 21 about 1% lower in five in-process
 * A/Bs), a partial tile's through put_y (LAST_PUT). */
VSS_AVX2_INLINE void recur_group(const struct dir *dr, const struct tile *tl,
                                 struct chunk *ch, size_t N, size_t n0, int ng, int last)
{
  float *hp = dr->h + (tl->i * N + n0) * TILE;
  const float *bc = dr->bc + n0, *dA0 = dr->dA + n0 * TILE;
  const size_t rs = VSS_K * dr->G, nt = ch->nt, Di = dr->Di;
  float *const y0 = dr->y + tl->d0;
  const size_t *const pos = ch->pos;
  __m256 h[RECUR_NG][2];
  VSS_AVX2_EACH(q, ng)
  {
    h[q][0] = _mm256_loadu_ps(hp + q * TILE);
    h[q][1] = _mm256_loadu_ps(hp + q * TILE + 8);
  }
  for (size_t t = 0; t < nt; t++) {
    const float *Bt = bc + pos[t] * rs, *Ct = Bt + N;
    const float *dA = dA0 + t * N * TILE;
    const __m256 du0 = _mm256_loadu_ps(ch->du[t]), du1 = _mm256_loadu_ps(ch->du[t] + 8);
    __m256 acc0 = _mm256_loadu_ps(ch->ys[t]), acc1 = _mm256_loadu_ps(ch->ys[t] + 8);
    VSS_AVX2_EACH(q, ng)
    {
      const __m256 b = _mm256_broadcast_ss(Bt + q), c = _mm256_broadcast_ss(Ct + q);
      h[q][0] = _mm256_fmadd_ps(_mm256_loadu_ps(dA + q * TILE), h[q][0], _mm256_mul_ps(du0, b));
      h[q][1] = _mm256_fmadd_ps(_mm256_loadu_ps(dA + q * TILE + 8), h[q][1], _mm256_mul_ps(du1, b));
      acc0 = _mm256_fmadd_ps(c, h[q][0], acc0);
      acc1 = _mm256_fmadd_ps(c, h[q][1], acc1);
    }
    if (last) {
      float *yp = y0 + pos[t] * Di;
      if (last == LAST_PUT) {
        put_y(yp, acc0, tl->n0, dr->add);
        put_y(yp + 8, acc1, tl->n1, dr->add);
      } else { /* a whole tile: constant lane counts and add, no tests */
        put_y(yp, acc0, 8, last == LAST_ADD);
        put_y(yp + 8, acc1, 8, last == LAST_ADD);
      }
    } else {
      _mm256_storeu_ps(ch->ys[t], acc0);
      _mm256_storeu_ps(ch->ys[t] + 8, acc1);
    }
  }
  VSS_AVX2_EACH(q, ng)
  {
    _mm256_storeu_ps(hp + q * TILE, h[q][0]);
    _mm256_storeu_ps(hp + q * TILE + 8, h[q][1]);
  }
}

/* The recurrence of tile tl over the chunk, four states at a time (then
 * state by state for N % 4), the last group putting the steps' outputs
 * into y.  N is a constant in the specialised copies (16, 1), a variable
 * in the generic one (N >= 1). */
VSS_AVX2_INLINE void recur(const struct dir *dr, const struct tile *tl, struct chunk *ch,
                           size_t N)
{
  size_t n0 = 0;
  for (; n0 + RECUR_NG <= N; n0 += RECUR_NG) {
    if (n0 + RECUR_NG < N) recur_group(dr, tl, ch, N, n0, RECUR_NG, 0);
    else if (tl->n1 < 8) recur_group(dr, tl, ch, N, n0, RECUR_NG, LAST_PUT);
    else if (dr->add) recur_group(dr, tl, ch, N, n0, RECUR_NG, LAST_ADD);
    else recur_group(dr, tl, ch, N, n0, RECUR_NG, LAST_WRITE);
  }
  for (; n0 < N; n0++) {
    if (n0 + 1 == N) recur_group(dr, tl, ch, N, n0, 1, LAST_PUT);
    else recur_group(dr, tl, ch, N, n0, 1, 0);
  }
}

typedef void (*recur_fn)(const struct dir *, const struct tile *, struct chunk *);
static void recur_n16(const struct dir *dr, const struct tile *tl, struct chunk *ch)
{
  recur(dr, tl, ch, 16);
}
static void recur_n1(const struct dir *dr, const struct tile *tl, struct chunk *ch)
{
  recur(dr, tl, ch, 1);
}
static void recur_any(const struct dir *dr, const struct tile *tl, struct chunk *ch)
{
  recur(dr, tl, ch, dr->N);
}

/* Fills pos with the pixels of the next chunk of the walk; returns how
 * many (0 at the end). */
static size_t walk_chunk(const struct dir *dr, struct walk *wk, size_t L, size_t *pos)
{
  const size_t nt = L - wk->t < dr->nt ? L - wk->t : dr->nt;
  for (size_t t = 0; t < nt; t++) pos[t] = walk_next(wk);
  return nt;
}

/* One (sample, direction) pass: every tile's A8, bias, D and zero state,
 * then the walk, chunk by chunk, each chunk tile by tile. */
static void scan_dir(struct dir *dr, const struct vss_scan_args *a)
{
  const size_t L = a->H * a->W, N = dr->N;
  for (size_t i = 0; i < dr->ntile; i++) {
    const struct tile tl = tile_of(dr, i);
    const size_t nd = tl.n0 + tl.n1, kd = (size_t)dr->k * dr->Di + tl.d0;
    float a2min = 0.0f;
    int nan = 0;
    for (size_t j = 0; j < TILE; j++) {
      dr->bias[i * TILE + j] = j < nd ? a->dt_bias[kd + j] : 0.0f;
      dr->D[i * TILE + j] = j < nd ? a->D[kd + j] : 0.0f;
      for (size_t n = 0; n < N; n++) {
        const float a2 = j < nd ? a->A[(kd + j) * N + n] * 1.44269504088896341f : 0.0f;
        dr->A8[(i * N + n) * TILE + j] = 8.0f * a2;
        a2min = a2 < a2min ? a2 : a2min;
        nan |= a2 != a2;
      }
      if (dr->dtw) /* zero past Di: the padding lanes' dt is 0 */
        for (size_t r = 0; r < dr->R; r++)
          dr->dtw[(i * dr->R + r) * TILE + j] = j < nd ? a->dt_w[(kd + j) * dr->R + r] : 0.0f;
    }
    /* delta A' >= -125 for every state when delta <= 125 / |min A'|; never
     * for a NaN in A' (the all-normal exp2 would not keep it NaN) */
    dr->dl_max[i] = nan ? -INFINITY : a2min < 0.0f ? -125.0f / a2min : FLT_MAX;
  }
  memset(dr->h, 0, dr->ntile * N * TILE * sizeof(float));
  const recur_fn run = N == 16 ? recur_n16 : N == 1 ? recur_n1 : recur_any;
  struct walk wk;
  struct chunk *ch = dr->ch;
  walk_start(&wk, dr->k, a->H, a->W);
  ch->next_nt = walk_chunk(dr, &wk, L, ch->next);
  while (ch->next_nt) {
    ch->nt = ch->next_nt;
    memcpy(ch->pos, ch->next, ch->nt * sizeof *ch->pos);
    ch->next_nt = walk_chunk(dr, &wk, L, ch->next);
    for (size_t i = 0; i < dr->ntile; i++) {
      const struct tile tl = tile_of(dr, i);
      precompute(dr, &tl, ch);
      run(dr, &tl, ch);
    }
  }
}

/* The scan; fused: dt_proj computed in it from a->dt_w (a->dt not read). */
static void scan(const struct vss_scan_args *a, int fused)
{
  static const int merge_order[VSS_K] = {0, 2, 1, 3}; /* v0's, as ref */
  const size_t L = a->H * a->W, Di = a->Di, N = a->N, R = a->R, G = R + 2 * N;
  const size_t ntile = (Di + TILE - 1) / TILE, tN = ntile * N * TILE;
  /* steps per chunk: as many as keep a tile's decay factors in DA_FLOATS */
  size_t nt = DA_FLOATS / (N * TILE);
  nt = nt < 1 ? 1 : nt > CHUNK ? CHUNK : nt;
  /* One block, page-aligned: dA, the chunk CHUNK_SKEW bytes past dA's
   * last page, then dtw (32-byte aligned: its aligned loads) and the
   * per-direction tables and state. */
  const size_t nda = nt * N * TILE, ndtw = fused ? ntile * R * TILE : 0;
  const size_t ch_at = (nda * sizeof(float) + 4095) / 4096 * 4096 + CHUNK_SKEW;
  const size_t tab_at = (ch_at + sizeof(struct chunk) + 63) / 64 * 64;
  const size_t nfloats = ndtw + 2 * tN + 2 * ntile * TILE + ntile;
  const size_t bytes = (tab_at + nfloats * sizeof(float) + 4095) / 4096 * 4096;
  char *blk = aligned_alloc(4096, bytes);
  if (!blk) {
    fprintf(stderr, "vss_ssm_scan__avx2: out of memory (%zu bytes of state)\n", bytes);
    abort();
  }
  float *mem = (float *)(blk + tab_at); /* dtw, then the tables and state */
  for (size_t b = 0; b < a->B; b++) {
    float *y = a->y + b * L * Di;
    int add = 0;
    for (int m = 0; m < VSS_K; m++) {
      const int k = merge_order[m];
      if (!(a->dirs >> k & 1)) continue;
      float *st = mem + ndtw; /* the per-direction tables and state */
      struct dir dr = {
          .k = k, .add = add, .Di = Di, .N = N, .R = R, .G = G, .ntile = ntile, .nt = nt,
          .u = a->u + b * L * Di, .dt = fused ? NULL : a->dt + b * L * VSS_K * Di,
          .bc = a->dbl + b * L * VSS_K * G + (size_t)k * G + R, .y = y,
          .A8 = st, .h = st + tN, .dtw = fused ? mem : NULL, .bias = st + 2 * tN,
          .D = st + 2 * tN + ntile * TILE, .dl_max = st + 2 * tN + 2 * ntile * TILE,
          .dA = (float *)blk, .ch = (struct chunk *)(blk + ch_at)};
      scan_dir(&dr, a);
      add = 1;
    }
    if (!add) memset(y, 0, L * Di * sizeof *y); /* no direction selected */
  }
  free(blk);
}

void vss_ssm_scan__avx2_c16(const struct vss_scan_args *a) { scan(a, 0); }

void vss_ssm_scan_dt__avx2_c16(const struct vss_scan_args *a) { scan(a, 1); }
