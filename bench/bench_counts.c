/* bench_counts.c - THE definition of the `flops` and `bytes` counters.
 *
 * FLOP (counter `flops` = FLOP per second of wall time):
 *   - a multiply-add is 2 FLOP (unlike spec §5's fvcore tables, which count
 *     it as 1 MAC: our GEMM/conv figures are twice theirs);
 *   - LayerNorm is 5 FLOP per element (spec §5, fvcore's count, already
 *     operation-style: not doubled);
 *   - an elementwise add, multiply or activation (SiLU, GELU, softplus,
 *     exp) is 1 FLOP per element;
 *   - the selective scan is its sequential C operation count (spec §5
 *     "seq. C"): K*L*Di*(6N+3) multiplies/adds, plus K*L*Di*N exps and
 *     K*L*Di softplus at 1 each: B*K*L*Di*(7N+4) in all.  (fvcore's
 *     9*L*K*Di*N + L*K*Di counts the scan differently; we count what runs.)
 *   So, per call ("rows" = pixels M = B*H*W):
 *     layernorm(rows, dim)          5*rows*dim
 *     linear(rows, in -> out)       2*rows*in*out + rows*out*(bias + act + accumulate)
 *     dwconv3x3 + bias + SiLU       rows*D*(18 + bias + 1)
 *     gate y*silu(z)                2*rows*dim
 *     gelu(n)                       n
 *     ssm_scan                      B*4*L*Di*(7N+4)
 *     block                         the sum of the ops core/block.c calls:
 *                                   norm, in_proj, dwconv, x_proj, 4 dt_proj, scan,
 *                                   out_norm, gate (v0), out_proj (+x),
 *                                   norm2, fc1 (+b, GELU), fc2 (+b, +x) (MLP)
 *   A stage-1 v0 block (v0_T1) comes to 856.2 M FLOP, of which the scan
 *   279.4 M; spec §5's 638.5 M "MAC" (scan 349.2 M) differ by the doubled
 *   GEMMs and conv and by the scan convention above.
 *
 * Bytes (counter `bytes` = bytes per second): the fp32 data one call must
 * touch at least once - every input and weight read once, every output
 * written once (and read too when the op accumulates into it or works in
 * place).  The block: x read, y written, every weight read once (the
 * intermediates could stay in cache in principle).
 */
#include "bench.h"

#define F4 4.0 /* bytes per float */

static struct bench_count add(struct bench_count a, struct bench_count b)
{
  return (struct bench_count){a.flop + b.flop, a.bytes + b.bytes};
}

struct bench_count bench_count_layernorm(size_t rows, size_t dim)
{
  const double n = (double)rows * dim;
  return (struct bench_count){5.0 * n, F4 * (2.0 * n + 2.0 * dim)};
}

struct bench_count bench_count_linear(size_t rows, const struct vss_linear_desc *d)
{
  const double M = (double)rows, in = (double)d->n_in, out = (double)d->n_out;
  const double extra = (d->b != NULL) + (d->act != VSS_ACT_NONE) + (d->accumulate != 0);
  return (struct bench_count){
      2.0 * M * in * out + M * out * extra,
      F4 * (M * in + out * in + (d->b ? out : 0.0) + M * out * (1.0 + (d->accumulate != 0)))};
}

struct bench_count bench_count_dwconv3x3(size_t M, size_t D, int bias)
{
  const double n = (double)M * D;
  return (struct bench_count){n * (18.0 + (bias != 0) + 1.0),
                              F4 * (2.0 * n + 9.0 * D + (bias ? D : 0.0))};
}

struct bench_count bench_count_gate(size_t rows, size_t dim)
{
  const double n = (double)rows * dim;
  return (struct bench_count){2.0 * n, F4 * 3.0 * n};
}

struct bench_count bench_count_gelu(size_t n)
{
  return (struct bench_count){(double)n, F4 * 2.0 * n};
}

struct bench_count bench_count_scan(size_t B, size_t L, size_t Di, size_t N, size_t R)
{
  (void)R; /* dt_proj's columns of x_proj's output are not read by the scan */
  const double steps = (double)B * VSS_K * L * Di; /* (k, d, t) triples */
  const double M = (double)B * L;
  /* read u, dt, B and C of every direction, dt_bias, A, D; write y */
  const double bytes = F4 * (M * Di + M * VSS_K * Di + M * VSS_K * 2.0 * N +
                             VSS_K * Di * (2.0 + N) + M * Di);
  return (struct bench_count){steps * (7.0 * N + 4.0), bytes};
}

struct bench_count bench_count_part(const struct bench_shape *s, enum bench_part p)
{
  const size_t M = s->B * s->H * s->W;
  struct vss_linear_desc d[VSS_K];
  size_t dim, ldx, ldy;
  const float *g, *b;
  struct bench_count c = {0, 0};
  if (bench_layernorm_part(s, NULL, p, &dim, &g, &b)) return bench_count_layernorm(M, dim);
  const int n = bench_linear_part(s, NULL, p, d, &ldx, &ldy);
  for (int k = 0; k < n; k++) c = add(c, bench_count_linear(M, &d[k]));
  return c;
}

struct bench_count bench_count_block(const struct bench_shape *s)
{
  const size_t M = s->B * s->H * s->W;
  struct bench_count c = bench_count_dwconv3x3(M, s->Di, s->conv_bias);
  c = add(c, bench_count_scan(s->B, s->H * s->W, s->Di, s->N, s->R));
  if (s->has_z) c = add(c, bench_count_gate(M, s->Di));
  for (int p = 0; p < BP_COUNT; p++) c = add(c, bench_count_part(s, (enum bench_part)p));
  /* the ops' own bytes overlap; the block moves x, y and its weights */
  c.bytes = F4 * (2.0 * M * s->C + (double)bench_weight_count(s));
  return c;
}
