/* test_compare_stages.c - `vssbench compare-stages DIR_A DIR_B` (issue #9),
 * run as a user runs it (build/vssbench, or $VSSBENCH).
 *
 * Stage folders are written here with vss_st_write, in the layout of
 * `vssbench run --dump-stages` (NN_<stage>.safetensors + INDEX), with the
 * stage names and shapes of a small v0 block.  A copy with one stage
 * perturbed, and every later stage too (as a real divergence propagates),
 * must be reported at exactly that stage; identical folders, and folders
 * apart by fp32-rounding-sized noise, must agree.  One case dumps the real
 * block twice with `vssbench run --dump-stages` (golden/v0_tiny).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "vss_test.h"

/* Stages of a v0 block with B=1, H=3, W=4, C=5, Di=6, N=2, R=1 (R+2N = 5). */
static const struct {
  const char *name;
  int ndim;
  size_t shape[5];
} stages[] = {
    {"norm", 4, {1, 3, 4, 5}},       {"in_proj", 4, {1, 3, 4, 12}},
    {"conv_silu", 4, {1, 3, 4, 6}},  {"x_proj", 5, {1, 3, 4, 4, 5}},
    {"dt_proj", 5, {1, 3, 4, 4, 6}}, {"delta", 5, {1, 3, 4, 4, 6}},
    {"scan_k0", 4, {1, 3, 4, 6}},    {"scan_merge", 4, {1, 3, 4, 6}},
    {"out_norm", 4, {1, 3, 4, 6}},   {"gate", 4, {1, 3, 4, 6}},
    {"out_proj", 4, {1, 3, 4, 5}},   {"residual", 4, {1, 3, 4, 5}},
    {"y", 4, {1, 3, 4, 5}},
};
#define NSTAGES ((int)(sizeof stages / sizeof stages[0]))

static size_t numel(int s)
{
  size_t n = 1;
  for (int d = 0; d < stages[s].ndim; d++) n *= stages[s].shape[d];
  return n;
}

/* How a copy departs from the reference, from stage `from` on. */
enum change {
  SAME,    /* identical */
  SHIFT,   /* every point + 1e-3 * (a +-1 pattern): a divergence */
  NOISE,   /* every point + 1e-7 relative: fp32 rounding, must agree */
  POINT,   /* one point (point_idx) + 0.5 */
  ZEROS,   /* the stage is all zeros: not computed */
};

struct dump {
  int from;          /* first changed stage */
  enum change how;
  size_t point_idx;
  int skip;          /* a stage left out of INDEX (-1: none) */
  int reshape;       /* a stage whose shape differs (-1: none) */
};

/* Writes a fresh folder `name`.N under the test's tmpdir; returns its path. */
static const char *write_dump(const char *name, const struct dump *d)
{
  static char dir[8][512];
  static int next;
  char *path = dir[next & 7], leaf[64];
  snprintf(leaf, sizeof leaf, "%s.%d", name, next++);
  snprintf(path, 512, "%s", vss_test_path(leaf));
  ck_assert_msg(mkdir(path, 0777) == 0, "mkdir %s", path);
  char index[512];
  snprintf(index, sizeof index, "%s/INDEX", path);
  FILE *ix = fopen(index, "w");
  ck_assert(ix != NULL);
  fprintf(ix, "# test_compare_stages: file, stage, shape\n");
  for (int s = 0; s < NSTAGES; s++) {
    struct vss_rng r;
    vss_rng_seed(&r, 1000 + (uint64_t)s); /* the same values in every copy */
    const size_t n = numel(s);
    size_t shape[5];
    memcpy(shape, stages[s].shape, sizeof shape);
    float *v = malloc(n * sizeof *v);
    ck_assert(v != NULL);
    for (size_t i = 0; i < n; i++) v[i] = vss_rng_normal(&r);
    if (s >= d->from)
      for (size_t i = 0; i < n; i++) {
        if (d->how == SHIFT) v[i] += (i % 2 ? 1e-3f : -1e-3f);
        if (d->how == NOISE) v[i] *= 1.0f + (i % 3 ? 1e-7f : -1e-7f);
        if (d->how == POINT && s == d->from && i == d->point_idx) v[i] += 0.5f;
        if (d->how == ZEROS && s == d->from) v[i] = 0.0f;
      }
    if (s == d->reshape) shape[stages[s].ndim - 1] -= 1; /* fewer elements: fine */
    char file[64], fpath[600];
    snprintf(file, sizeof file, "%02d_%s.safetensors", s, stages[s].name);
    snprintf(fpath, sizeof fpath, "%s/%s", path, file);
    const struct vss_st_out t = {stages[s].name, VSS_F32, stages[s].ndim, shape, v};
    ck_assert_msg(vss_st_write(fpath, &t, 1, NULL) == VSS_OK, "%s", vss_last_error());
    free(v);
    if (s == d->skip) continue;
    fprintf(ix, "%s\t%s\t", file, stages[s].name);
    for (int k = 0; k < stages[s].ndim; k++) fprintf(ix, "%s%zu", k ? "x" : "", shape[k]);
    fputc('\n', ix);
  }
  ck_assert(fclose(ix) == 0);
  return path;
}

static const struct dump REF = {NSTAGES, SAME, 0, -1, -1};

/* ------------------------------------------------- running the command */

static char out[1 << 16];

/* Runs `vssbench compare-stages ARGS` (stdout and stderr together into
 * out); returns the exit status. */
static int compare_stages(const char *args)
{
  const char *bin = getenv("VSSBENCH");
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "'%s' compare-stages %s 2>&1",
           bin && *bin ? bin : "build/vssbench", args);
  fflush(NULL);
  FILE *p = popen(cmd, "r");
  ck_assert_msg(p != NULL, "cannot run: %s", cmd);
  size_t n = fread(out, 1, sizeof out - 1, p);
  out[n] = 0;
  int st = pclose(p);
  ck_assert_msg(WIFEXITED(st), "%s: did not exit normally", cmd);
  ck_assert_msg(WEXITSTATUS(st) != 127, "cannot run %s (run `make` first)", cmd);
  ck_assert_msg(!strstr(out, "unknown command 'compare-stages'"),
                "build/vssbench has no compare-stages command (dispatch line missing in "
                "tools/vssbench.c: VSS_CMD_COMPARE_STAGES from tools/commands.h)");
  return WEXITSTATUS(st);
}

static int compare_dirs(const char *a, const char *b, const char *extra)
{
  char args[1600];
  snprintf(args, sizeof args, "'%s' '%s' %s", a, b, extra ? extra : "");
  return compare_stages(args);
}

/* The reference folder and a copy changed as d says; their paths. */
static const char *dir_a, *dir_b;

/* Writes both and compares them (extra: options or NULL); the exit status. */
static int compare_changed(const struct dump *d, const char *extra)
{
  dir_a = write_dump("a", &REF);
  dir_b = write_dump("b", d);
  return compare_dirs(dir_a, dir_b, extra);
}

static void assert_has(const char *needle)
{
  ck_assert_msg(strstr(out, needle) != NULL, "output lacks '%s':\n%s", needle, out);
}

/* ------------------------------------------------------------- tests */

START_TEST(identical_agree)
{
  ck_assert_msg(compare_changed(&REF, NULL) == 0, "%s", out);
  assert_has("all 13 stages agree");
  ck_assert_msg(!strstr(out, "first divergence"), "%s", out);
}
END_TEST

START_TEST(rounding_noise_agrees)
{
  const struct dump d = {0, NOISE, 0, -1, -1};
  ck_assert_msg(compare_changed(&d, NULL) == 0, "%s", out);
  assert_has("all 13 stages agree");
}
END_TEST

/* A divergence starting at stage _i (and propagating) is named exactly. */
START_TEST(names_the_first_divergent_stage)
{
  const struct dump d = {_i, SHIFT, 0, -1, -1};
  char want[160];
  ck_assert_msg(compare_changed(&d, NULL) == 1, "%s", out);
  snprintf(want, sizeof want, "first divergence: stage %d '%s'", _i, stages[_i].name);
  assert_has(want);
  snprintf(want, sizeof want, "%d of 13 stages diverge; first: %s\n", NSTAGES - _i,
           stages[_i].name);
  assert_has(want);
  ck_assert_msg(strstr(out, "worst points") != NULL, "%s", out);
  /* every stage before it agrees, every one from it on fails */
  for (int s = 0; s < NSTAGES; s++) {
    char row[64];
    snprintf(row, sizeof row, "\n%02d  %-12s", s, stages[s].name);
    const char *line = strstr(out, row);
    ck_assert_msg(line != NULL, "no row for stage %s:\n%s", stages[s].name, out);
    const char *eol = strchr(line + 1, '\n');
    const char *fail = strstr(line, "FAIL");
    ck_assert_msg((s >= _i) == (fail && fail < eol), "stage %s: wrong verdict:\n%s",
                  stages[s].name, out);
  }
}
END_TEST

/* Copies that part from the reference in other ways: what the output says. */
static const struct {
  struct dump d;
  const char *says[3];
} diverging[] = {
    /* one point of x_proj (1,3,4,4,5) at (0,2,1,3,4): ((2*4+1)*4+3)*5+4 = 199 */
    {{3, POINT, 199, -1, -1},
     {"first divergence: stage 3 'x_proj'", "worst points (b,h,w,k,j)",
      "1 of 13 stages diverge; first: x_proj\n"}},
    {{6, ZEROS, 0, -1, -1}, /* a stage not computed */
     {"first divergence: stage 6 'scan_k0'", "MISTRUSTED", "first: scan_k0\n"}},
    {{NSTAGES, SAME, 0, 9, -1}, /* gate left out of B's INDEX */
     {"09  gate", "ABSENT from B", "1 of 13 stages diverge or are absent from B; first: gate"}},
    {{NSTAGES, SAME, 0, -1, 4}, /* dt_proj 1x3x4x4x5 in B */
     {"first divergence: stage 4 'dt_proj'", "SHAPE differs: B has 1x3x4x4x5",
      "first: dt_proj\n"}},
};

START_TEST(diverging_copies)
{
  ck_assert_msg(compare_changed(&diverging[_i].d, NULL) == 1, "%s", out);
  for (int k = 0; k < 3; k++) assert_has(diverging[_i].says[k]);
}
END_TEST

/* The worst point comes first, with its coordinates; a stage only B has is
 * a note, not a divergence. */
START_TEST(worst_point_first_and_extra_stages)
{
  ck_assert_int_eq(compare_changed(&diverging[0].d, NULL), 1);
  const char *w = strstr(out, "worst points");
  ck_assert_msg(w != NULL, "%s", out);
  const char *first = strchr(strchr(w, '\n') + 1, '\n') + 1; /* after the header */
  ck_assert_msg(!strncmp(first + strspn(first, " "), "(0,2,1,3,4)", 11),
                "the worst point is not first:\n%s", out);
  ck_assert_int_eq(compare_changed(&diverging[2].d, NULL), 1);
  ck_assert_msg(compare_dirs(dir_b, dir_a, NULL) == 0, "%s", out);
  assert_has("stage 'gate' of B is not in A's INDEX");
}
END_TEST

START_TEST(loose_limits_from_the_command_line)
{
  const struct dump d = {2, SHIFT, 0, -1, -1};
  ck_assert_msg(compare_changed(&d, "--atol 2e-3 --nmse 1e-5") == 0, "%s", out);
  assert_has("with --atol/--rtol/--nmse");
  ck_assert_msg(compare_dirs(dir_a, dir_b, "--rtol 1e-6") == 1, "%s", out);
}
END_TEST

START_TEST(bad_folders_and_files)
{
  const char *a = write_dump("a", &REF);
  ck_assert_int_eq(compare_dirs(a, vss_test_path("nope"), NULL), 1);
  assert_has("nope: No such file or directory");
  const char *file = vss_test_write("plain", "x", 1);
  ck_assert_int_eq(compare_dirs(a, file, NULL), 1);
  assert_has("not a folder");
  const char *empty = vss_test_path("empty");
  ck_assert(mkdir(empty, 0777) == 0);
  ck_assert_int_eq(compare_dirs(a, empty, NULL), 1);
  assert_has("empty/INDEX: cannot open");
  /* INDEX names a file that is not there */
  const char *b = write_dump("b", &REF);
  char victim[600];
  snprintf(victim, sizeof victim, "%s/05_delta.safetensors", b);
  ck_assert(remove(victim) == 0);
  ck_assert_int_eq(compare_dirs(a, b, NULL), 1);
  assert_has("05_delta.safetensors");
  /* a malformed INDEX line */
  const char *c = write_dump("c", &REF);
  char index[600];
  snprintf(index, sizeof index, "%s/INDEX", c);
  FILE *f = fopen(index, "a");
  ck_assert(f != NULL);
  fprintf(f, "99_bad.safetensors\tbad\t1x2xZ\n");
  fclose(f);
  ck_assert_int_eq(compare_dirs(a, c, NULL), 1);
  assert_has("INDEX:15: expected 'FILE STAGE SHAPE'");
}
END_TEST

START_TEST(usage_errors)
{
  const char *a = write_dump("a", &REF);
  char args[600];
  snprintf(args, sizeof args, "'%s'", a);
  ck_assert_int_eq(compare_stages(args), 2);
  assert_has("expected two stage folders");
  ck_assert_int_eq(compare_dirs(a, a, "--atol -1"), 2);
  assert_has("--atol '-1': must be a non-negative number");
  ck_assert_int_eq(compare_dirs(a, a, "--bogus"), 2);
  ck_assert_int_eq(compare_stages("--help"), 0);
  assert_has("compare-stages DIR_A DIR_B");
}
END_TEST

/* The real block, dumped twice by `vssbench run --dump-stages`. */
START_TEST(real_dumps_agree)
{
  const char *bin = getenv("VSSBENCH");
  char dir[2][512], cmd[2048];
  for (int k = 0; k < 2; k++) {
    snprintf(dir[k], sizeof dir[k], "%s", vss_test_path(k ? "run1" : "run0"));
    snprintf(cmd, sizeof cmd,
             "'%s' run --weights golden/v0_tiny.safetensors --input "
             "golden/v0_tiny.safetensors --output '%s/y' --dump-stages '%s' >/dev/null",
             bin && *bin ? bin : "build/vssbench", dir[k], dir[k]);
    ck_assert_msg(system(cmd) == 0, "failed: %s", cmd);
  }
  ck_assert_msg(compare_dirs(dir[0], dir[1], NULL) == 0, "%s", out);
  assert_has("\n00  norm ");
  assert_has("all 16 stages agree");
}
END_TEST

Suite *suite_compare_stages(void)
{
  Suite *s = suite_create("compare_stages");
  TCase *tc = tcase_create("cli");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, identical_agree);
  tcase_add_test(tc, rounding_noise_agrees);
  tcase_add_loop_test(tc, names_the_first_divergent_stage, 0, NSTAGES);
  tcase_add_loop_test(tc, diverging_copies, 0,
                      (int)(sizeof diverging / sizeof diverging[0]));
  tcase_add_test(tc, worst_point_first_and_extra_stages);
  tcase_add_test(tc, loose_limits_from_the_command_line);
  tcase_add_test(tc, bad_folders_and_files);
  tcase_add_test(tc, usage_errors);
  tcase_add_test(tc, real_dumps_agree);
  suite_add_tcase(s, tc);
  return s;
}
