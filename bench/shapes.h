/* shapes.h - the benchmark shapes of shapes.inc as a table, shared by the
 * benchmarks (bench/) and the tests (tests/, which link bench/shapes.c). */
#ifndef VSS_BENCH_SHAPES_H
#define VSS_BENCH_SHAPES_H

#include <stddef.h>

struct bench_shape {
  const char *name;
  size_t B, H, W, C, Di, N, R, hidden;
  int has_z, conv_bias;
};
extern const struct bench_shape bench_shapes[];
extern const size_t bench_n_shapes;

#endif
