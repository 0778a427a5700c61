/* test_main.c - runs every Check suite listed in suites.inc.
 * CK_FORK=no runs in-process (for a debugger); CK_RUN_SUITE=name selects
 * one suite, CK_RUN_CASE=name one test case. */
#include <stdio.h>
#include <stdlib.h>

#include "vss_test.h"

/* Weak while suites are being written in parallel: a missing one fails. */
#define SUITE(name) Suite *suite_##name(void) __attribute__((weak));
#include "suites.inc"
#undef SUITE

int main(void)
{
  SRunner *sr = srunner_create(NULL);
  int missing = 0;
#define SUITE(name)                                                   \
  if (suite_##name) srunner_add_suite(sr, suite_##name());            \
  else { fprintf(stderr, "MISSING suite %s\n", #name); missing++; }
#include "suites.inc"
#undef SUITE
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr) + missing;
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
