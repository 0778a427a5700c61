/* test_registry.c - variant table, dispatch environment, block creation
 * argument checks. */
#include <stdlib.h>
#include <string.h>

#include "vss_test.h"

START_TEST(ref_is_last_and_runnable)
{
  size_t n = vss_variant_count();
  struct vss_variant_info info;
  ck_assert_uint_ge(n, 1);
  ck_assert_int_eq(vss_variant_info(n - 1, &info), 0);
  ck_assert_str_eq(info.name, "ref");
  ck_assert_int_eq(info.runnable, 1);
  ck_assert_str_eq(info.why_not, "");
  ck_assert_int_ne(vss_variant_info(n, &info), 0);
  for (size_t i = 0; i < n; i++) { /* names are unique */
    struct vss_variant_info a, b;
    vss_variant_info(i, &a);
    for (size_t j = i + 1; j < n; j++) {
      vss_variant_info(j, &b);
      ck_assert_str_ne(a.name, b.name);
    }
    ck_assert_msg(a.runnable || a.why_not[0], "%s: not runnable but no reason", a.name);
  }
}
END_TEST

/* A minimal valid v0-shaped config with every weight 0.5. */
enum { TC = 4, TDI = 8, TN = 2, TR = 1 };
static float wpool[4096];
static void tiny(struct vss_block_config *c, struct vss_block_weights *w)
{
  for (size_t i = 0; i < sizeof wpool / sizeof wpool[0]; i++) wpool[i] = 0.5f;
  *c = (struct vss_block_config){TC, TDI, TN, TR, 0, 1, 1, 1e-5f, 0};
  *w = (struct vss_block_weights){0};
  const float **slots = (const float **)w;
  for (size_t i = 0; i < sizeof *w / sizeof(float *); i++) slots[i] = wpool;
  w->norm2_w = w->norm2_b = w->fc1_w = w->fc1_b = w->fc2_w = w->fc2_b = NULL;
}

static vss_status create_with(const char *variant, vss_block **b)
{
  struct vss_block_config c;
  struct vss_block_weights w;
  struct vss_block_opts o = {variant, 0};
  tiny(&c, &w);
  return vss_block_create(&c, &w, &o, b);
}

START_TEST(unknown_variant_is_refused)
{
  vss_block *b = NULL;
  ck_assert_int_eq(create_with("nosuch", &b), VSS_ERR_VARIANT);
  ck_assert_ptr_null(b);
  ck_assert_ptr_nonnull(strstr(vss_last_error(), "nosuch"));
}
END_TEST

START_TEST(env_forces_variant)
{
  vss_block *b = NULL;
  setenv("VSS_VARIANT", "ref", 1);
  ck_assert_int_eq(create_with(NULL, &b), VSS_OK);
  ck_assert_str_eq(vss_block_variant(b), "ref");
  ck_assert_str_eq(vss_best_variant(), "ref");
  vss_block_free(b);
  setenv("VSS_VARIANT", "bogus", 1); /* never a silent fallback */
  ck_assert_int_eq(create_with("best", &b), VSS_ERR_VARIANT);
  ck_assert_ptr_nonnull(strstr(vss_last_error(), "VSS_VARIANT"));
}
END_TEST

START_TEST(max_isa_caps_best)
{
  vss_block *b = NULL;
  setenv("VSS_MAX_ISA", "none", 1);
  ck_assert_int_eq(create_with("best", &b), VSS_OK);
  /* with every SIMD ISA capped, best must need none of them */
  for (size_t i = 0; i < vss_variant_count(); i++) {
    struct vss_variant_info info;
    vss_variant_info(i, &info);
    if (!strcmp(info.name, vss_block_variant(b))) ck_assert_int_eq(info.runnable, 1);
    if (!strcmp(info.name, "avx2")) ck_assert_int_eq(info.runnable, 0);
  }
  vss_block_free(b);
}
END_TEST

START_TEST(create_checks_arguments)
{
  struct vss_block_config c;
  struct vss_block_weights w;
  vss_block *b = (vss_block *)&c;
  tiny(&c, &w);
  w.A_logs = NULL;
  ck_assert_int_eq(vss_block_create(&c, &w, NULL, &b), VSS_ERR_MISSING);
  ck_assert_ptr_null(b);
  ck_assert_ptr_nonnull(strstr(vss_last_error(), "A_logs"));
  tiny(&c, &w);
  c.N = 0;
  ck_assert_int_eq(vss_block_create(&c, &w, NULL, &b), VSS_ERR_SHAPE);
  tiny(&c, &w);
  c.mlp_hidden = 16; /* MLP asked for, its weights absent */
  ck_assert_int_eq(vss_block_create(&c, &w, NULL, &b), VSS_ERR_MISSING);
  ck_assert_int_eq(vss_block_create(NULL, &w, NULL, &b), VSS_ERR_ARG);
}
END_TEST

START_TEST(forward_checks_arguments)
{
  vss_block *b = NULL;
  float x[2 * 3 * TC], y[2 * 3 * TC];
  ck_assert_int_eq(create_with("ref", &b), VSS_OK);
  for (size_t i = 0; i < sizeof x / sizeof x[0]; i++) x[i] = (float)i / 8;
  ck_assert_int_eq(vss_block_forward(b, 1, 2, 3, x, y), VSS_OK);
  ck_assert_int_eq(vss_block_forward(b, 0, 2, 3, x, y), VSS_ERR_SHAPE);
  ck_assert_int_eq(vss_block_forward(b, 1, 2, 3, x, x), VSS_ERR_ARG);
  ck_assert_int_eq(vss_block_forward(b, SIZE_MAX / 2, 4, 4, x, y), VSS_ERR_SHAPE);
  vss_block_free(b);
}
END_TEST

Suite *suite_registry(void)
{
  Suite *s = suite_create("registry");
  TCase *tc = tcase_create("dispatch");
  tcase_add_test(tc, ref_is_last_and_runnable);
  tcase_add_test(tc, unknown_variant_is_refused);
  tcase_add_test(tc, env_forces_variant);
  tcase_add_test(tc, max_isa_caps_best);
  tcase_add_test(tc, create_checks_arguments);
  tcase_add_test(tc, forward_checks_arguments);
  suite_add_tcase(s, tc);
  return s;
}
