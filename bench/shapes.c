/* shapes.c - the table of shapes.inc (see shapes.h). */
#include "shapes.h"

const struct bench_shape bench_shapes[] = {
#define SHAPE(name, B, H, W, C, Di, N, R, hidden, has_z, conv_bias) \
  {#name, B, H, W, C, Di, N, R, hidden, has_z, conv_bias},
#include "shapes.inc"
#undef SHAPE
};
const size_t bench_n_shapes = sizeof bench_shapes / sizeof bench_shapes[0];
