/* test_cli.c - build/vssbench as a user runs it (DESIGN §6, §8): run on
 * golden cases, --dump-stages, verify on good and doctored golden files,
 * list, help, and every bad input from the command line: a non-zero exit,
 * one clear line on stderr naming the file and tensor, and no output file.
 * The tests run from the repository root (they read golden/).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "golden.h"
#include "vss_test.h"

/* The binary under test: $VSSBENCH (for builds with BUILD=...), else
 * build/vssbench. */
static const char *vssbench_bin(void)
{
  const char *b = getenv("VSSBENCH");
  return b && *b ? b : "build/vssbench";
}
#define TINY "golden/v0_tiny.safetensors" /* v0, 1x5x7x16, with stages */
#define V05 "golden/v05_s1.safetensors"   /* v05_noz, 1x6x5x24, with stages */
/* issue #10's options, with stages: train p 0.5 (4x2x3x16); post_norm;
 * nchw + post_norm + train p 0.3 seed 1 (3x16x3x3) */
#define DROP "golden/v05_droppath.safetensors"
#define DROP_SEED "12345678901234567898"
#define PNORM "golden/v0_postnorm.safetensors"
#define COMBO "golden/v05_combo.safetensors"

/* ------------------------------------------------------------ helpers */

static char out_buf[1 << 20], err_buf[1 << 16];

static void slurp(const char *path, char *buf, size_t cap)
{
  FILE *f = fopen(path, "r");
  size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
  buf[n] = 0;
  if (f) fclose(f);
}

/* Runs build/vssbench with argv (NULL-terminated, argv[0] excluded) and
 * env ("NAME=value" or NULL); returns its exit status, stdout and stderr
 * in out_buf and err_buf. */
static int vssbench_argv(const char *env, const char *const *argv)
{
  char o[512], e[512];
  const char *args[64] = {vssbench_bin()};
  int n = 1;
  for (; argv[n - 1]; n++) {
    ck_assert(n < 63);
    args[n] = argv[n - 1];
  }
  args[n] = NULL;
  snprintf(o, sizeof o, "%s", vss_test_path("cli.stdout"));
  snprintf(e, sizeof e, "%s", vss_test_path("cli.stderr"));
  fflush(NULL);
  pid_t pid = fork();
  ck_assert(pid >= 0);
  if (pid == 0) {
    int fo = open(o, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int fe = open(e, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fo < 0 || fe < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0) _exit(126);
    if (env) putenv((char *)env);
    execv(args[0], (char *const *)args);
    _exit(127);
  }
  int st;
  ck_assert(waitpid(pid, &st, 0) == pid);
  ck_assert_msg(WIFEXITED(st), "%s did not exit normally (signal %d)", args[0],
                WIFSIGNALED(st) ? WTERMSIG(st) : 0);
  ck_assert_msg(WEXITSTATUS(st) != 127, "cannot run %s (run `make` first)", args[0]);
  slurp(o, out_buf, sizeof out_buf);
  slurp(e, err_buf, sizeof err_buf);
  return WEXITSTATUS(st);
}
#define VB(env, ...) vssbench_argv(env, (const char *const[]){__VA_ARGS__, NULL})

static int lines(const char *s)
{
  int n = 0;
  for (; *s; s++) n += *s == '\n';
  return n;
}

static void assert_has(const char *buf, const char *what, const char *needle)
{
  ck_assert_msg(strstr(buf, needle) != NULL, "%s lacks '%s':\n%s", what, needle, buf);
}

static int exists(const char *path) { return access(path, F_OK) == 0; }

/* A fresh empty folder under the test's tmpdir (unique also when the
 * tests share one process, CK_FORK=no). */
static const char *fresh_dir(const char *name)
{
  static int serial;
  char leaf[96];
  snprintf(leaf, sizeof leaf, "%s.%d", name, serial++);
  const char *d = vss_test_path(leaf);
  ck_assert_msg(mkdir(d, 0777) == 0, "mkdir %s", d);
  return d;
}

static int dir_entries(const char *dir)
{
  struct dirent **e;
  int n = scandir(dir, &e, NULL, NULL), real = 0;
  ck_assert(n >= 0);
  for (int i = 0; i < n; i++) {
    real += strcmp(e[i]->d_name, ".") && strcmp(e[i]->d_name, "..");
    free(e[i]);
  }
  free(e);
  return real;
}

/* Writes one F32/F64 tensor `name` to tmpdir/file. */
static const char *write_tensor(const char *file, const char *name, enum vss_dtype dt,
                                int ndim, const size_t *shape, const void *data)
{
  const struct vss_st_out t = {name, dt, ndim, shape, data};
  const char *path = vss_test_path(file);
  ck_assert_msg(vss_st_write(path, &t, 1, NULL) == VSS_OK, "%s", vss_last_error());
  return path;
}

/* Copies a whole file to tmpdir/name. */
static const char *copy_file(const char *src, const char *name, size_t max_bytes)
{
  static char buf[1 << 20];
  FILE *f = fopen(src, "rb");
  ck_assert_msg(f != NULL, "cannot open %s", src);
  size_t n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  ck_assert(n < sizeof buf);
  return vss_test_write(name, buf, n < max_bytes ? n : max_bytes);
}

static int same_bytes(const char *a, const char *b)
{
  static char ba[1 << 20], bb[1 << 20];
  FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
  ck_assert(fa && fb);
  size_t na = fread(ba, 1, sizeof ba, fa), nb = fread(bb, 1, sizeof bb, fb);
  fclose(fa);
  fclose(fb);
  return na == nb && !memcmp(ba, bb, na);
}

/* ---------------------------------------------------------------- run */

/* The y that `run` wrote must match the golden truth on the residual
 * branch to 1e-5 of its scale, and be F32 with x's shape (as stored). */
static void check_output(const char *ypath, const char *golden)
{
  struct vss_golden g;
  vss_st *f;
  float *y;
  struct vss_cmp r;
  ck_assert_msg(vss_golden_open(golden, &g) == VSS_OK, "%s", vss_last_error());
  ck_assert_msg(vss_st_open(ypath, &f) == VSS_OK, "%s", vss_last_error());
  const struct vss_tensor *t = vss_st_find(f, "y");
  ck_assert_msg(t != NULL, "%s holds no y", ypath);
  ck_assert_int_eq(t->dtype, VSS_F32);
  ck_assert_int_eq(t->ndim, 4);
  ck_assert(!memcmp(t->shape, g.dims, sizeof g.dims));
  ck_assert(vss_st_to_f32(f, t, &y) == VSS_OK);
  vss_compare(y, g.y, g.x, g.n, &g.lim, &r);
  ck_assert_msg(r.max_rel < 1e-5, "%s: branch max rel err %.3g", golden, r.max_rel);
  ck_assert_msg(r.verdict == VSS_PASS || r.verdict == VSS_MARGINAL, "%s: %s", golden,
                vss_verdict_str(r.verdict));
  free(y);
  vss_st_close(f);
  vss_golden_close(&g);
}

START_TEST(run_matches_golden)
{
  const char *dir = fresh_dir("run");
  char y[600];
  snprintf(y, sizeof y, "%s/y.safetensors", dir);
  static const char *const cases[] = {TINY, V05, "golden/v0_oldkeys.safetensors"};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int rc = VB(NULL, "run", "--weights", cases[i], "--input", cases[i], "--output", y);
    ck_assert_msg(rc == 0, "run %s: exit %d: %s", cases[i], rc, err_buf);
    check_output(y, cases[i]);
  }
  /* a block inside a whole-model file, explicit variant, --opt=value */
  int rc = VB(NULL, "run", "--weights=golden/v0_prefix.safetensors", "--prefix",
              "layers.1.blocks.0.", "--input", "golden/v0_prefix.safetensors", "--output", y,
              "--variant", "ref", "--threads", "1");
  ck_assert_msg(rc == 0, "run with --prefix: %s", err_buf);
  check_output(y, "golden/v0_prefix.safetensors");
  /* without the prefix there is no block at the top level */
  unlink(y);
  rc = VB(NULL, "run", "--weights", "golden/v0_prefix.safetensors", "--input",
          "golden/v0_prefix.safetensors", "--output", y);
  ck_assert_int_eq(rc, 1);
  ck_assert(!exists(y));
}
END_TEST

START_TEST(run_any_dtype_and_threads)
{
  struct vss_golden g;
  ck_assert(vss_golden_open(TINY, &g) == VSS_OK);
  double *x64 = malloc(g.n * sizeof *x64);
  for (size_t i = 0; i < g.n; i++) x64[i] = g.x[i];
  const size_t shape[4] = {g.B, g.H, g.W, g.C};
  char in[600], y[600];
  snprintf(in, sizeof in, "%s", write_tensor("x64.safetensors", "x", VSS_F64, 4, shape, x64));
  snprintf(y, sizeof y, "%s", vss_test_path("y64.safetensors"));
  int rc = VB("VSS_VERBOSE=1", "run", "--weights", TINY, "--input", in, "--output", y,
              "--threads", "4", "--variant", "ref"); /* single-threaded: says it ignores it */
  ck_assert_msg(rc == 0, "%s", err_buf);
  assert_has(err_buf, "stderr under VSS_VERBOSE", "--threads 4");
  assert_has(err_buf, "stderr under VSS_VERBOSE", "ignores it");
  check_output(y, TINY);
  free(x64);
  vss_golden_close(&g);
}
END_TEST

/* Checks one dumped stage file against INDEX's line and the golden. */
static void check_dumped(const struct vss_golden *g, const char *dir, int k,
                         const char *file, const char *name, const char *shape_s)
{
  char path[1024], want[96], shape_got[128] = "";
  vss_st *f;
  float *data;
  struct vss_cmp r;
  snprintf(want, sizeof want, "%02d_%s.safetensors", k, name);
  ck_assert_str_eq(file, want);
  snprintf(path, sizeof path, "%s/%s", dir, file);
  ck_assert_msg(vss_st_open(path, &f) == VSS_OK, "%s", vss_last_error());
  ck_assert_uint_eq(vss_st_count(f), 1);
  const struct vss_tensor *t = vss_st_at(f, 0);
  ck_assert_str_eq(t->name, name);
  ck_assert_int_eq(t->dtype, VSS_F32);
  for (int i = 0; i < t->ndim; i++)
    snprintf(shape_got + strlen(shape_got), sizeof shape_got - strlen(shape_got), "%s%zu",
             i ? "x" : "", t->shape[i]);
  ck_assert_str_eq(shape_got, shape_s);
  ck_assert(vss_st_to_f32(f, t, &data) == VSS_OK);
  ck_assert_msg(vss_golden_stage(g, name, data, t->ndim, t->shape, &r) == VSS_OK, "%s",
                vss_last_error());
  ck_assert_msg(r.verdict == VSS_PASS || r.verdict == VSS_MARGINAL,
                "%s: stage %s %s (max_rel %.3g)", g->name, name, vss_verdict_str(r.verdict),
                r.max_rel);
  free(data);
  vss_st_close(f);
}

/* The golden cases dumped: plain ones, and one with every option (its
 * stages channel-last, the drop_path mask first). */
static const struct {
  const char *golden, *first, *opts[7];
} dumps[] = {
    {TINY, "norm", {NULL}},
    {V05, "norm", {NULL}},
    {COMBO, "drop_mask", {"--layout", "nchw", "--train", "--drop-path", "0.3", "--seed", "1"}},
};

START_TEST(dump_stages)
{
  const char *golden = dumps[_i].golden;
  char dir[600], y[600], index[700], line[512];
  snprintf(dir, sizeof dir, "%s/nested", fresh_dir("stages")); /* made by run */
  snprintf(y, sizeof y, "%s", vss_test_path("y.safetensors"));
  const char *argv[20] = {"run", "--weights", golden, "--input", golden, "--output", y,
                          "--dump-stages", dir};
  for (int i = 0; i < 7 && dumps[_i].opts[i]; i++) argv[9 + i] = dumps[_i].opts[i];
  int rc = vssbench_argv(NULL, argv);
  ck_assert_msg(rc == 0, "%s", err_buf);
  struct vss_golden g;
  ck_assert(vss_golden_open(golden, &g) == VSS_OK);
  int want = 0;
  for (size_t i = 0; i < vss_st_count(g.st); i++)
    want += !strncmp(vss_st_at(g.st, i)->name, "stages.", 7);
  snprintf(index, sizeof index, "%s/INDEX", dir);
  FILE *f = fopen(index, "r");
  ck_assert_msg(f != NULL, "%s not written", index);
  int k = 0;
  char first[64] = "", last[64] = "";
  while (fgets(line, sizeof line, f)) {
    if (line[0] == '#') continue;
    char file[128], name[64], shape[128];
    ck_assert_msg(sscanf(line, "%127[^\t]\t%63[^\t]\t%127[^\n]", file, name, shape) == 3,
                  "INDEX line '%s'", line);
    check_dumped(&g, dir, k++, file, name, shape);
    if (!first[0]) snprintf(first, sizeof first, "%s", name);
    snprintf(last, sizeof last, "%s", name);
  }
  fclose(f);
  ck_assert_int_eq(k, want);
  ck_assert_str_eq(first, dumps[_i].first);
  ck_assert_str_eq(last, "y");
  ck_assert_int_eq(dir_entries(dir), want + 1); /* the stages and INDEX, nothing else */
  check_output(y, golden);
  vss_golden_close(&g);
}
END_TEST

/* ---------------------------------------------------- run options (#10) */

START_TEST(run_options)
{
  const char *dir = fresh_dir("opts");
  char y[600], plain[600];
  snprintf(y, sizeof y, "%s/y.safetensors", dir);
  /* training mode with the golden's seed; nchw; all of it together */
  int rc = VB(NULL, "run", "--weights", DROP, "--input", DROP, "--output", y, "--train",
              "--drop-path", "0.5", "--seed", DROP_SEED);
  ck_assert_msg(rc == 0, "--train: exit %d: %s", rc, err_buf);
  ck_assert_msg(!err_buf[0], "--train --seed printed: %s", err_buf);
  check_output(y, DROP);
  rc = VB(NULL, "run", "--weights", "golden/v05_nchw.safetensors", "--input",
          "golden/v05_nchw.safetensors", "--output", y, "--layout", "nchw");
  ck_assert_msg(rc == 0, "--layout nchw: %s", err_buf);
  check_output(y, "golden/v05_nchw.safetensors");
  rc = VB(NULL, "run", "--weights", COMBO, "--input", COMBO, "--output", y, "--layout=nchw",
          "--train", "--drop-path=0.3", "--seed=1", "--variant", "ref");
  ck_assert_msg(rc == 0, "all options: %s", err_buf);
  check_output(y, COMBO);
  /* --drop-path without --train is inference (timm's eval mode) */
  rc = VB(NULL, "run", "--weights", TINY, "--input", TINY, "--output", y, "--drop-path", "0.9");
  ck_assert_msg(rc == 0, "%s", err_buf);
  check_output(y, TINY);
  /* post_norm from the file's metadata, or from --post-norm */
  rc = VB(NULL, "run", "--weights", PNORM, "--input", PNORM, "--output", y);
  ck_assert_msg(rc == 0, "%s", err_buf);
  check_output(y, PNORM);
  /* the same file without its metadata (so without post_norm) */
  snprintf(plain, sizeof plain, "%s", vss_test_copy_meta(PNORM, "plain.safetensors", NULL));
  rc = VB(NULL, "run", "--weights", plain, "--input", plain, "--output", y, "--post-norm");
  ck_assert_msg(rc == 0, "--post-norm: %s", err_buf);
  check_output(y, PNORM);
  rc = VB(NULL, "run", "--weights", plain, "--input", plain, "--output", y);
  ck_assert_int_eq(rc, 0);
  struct vss_golden g;
  vss_st *f;
  float *got;
  struct vss_cmp r;
  ck_assert(vss_golden_open(PNORM, &g) == VSS_OK && vss_st_open(y, &f) == VSS_OK);
  ck_assert(vss_st_to_f32(f, vss_st_find(f, "y"), &got) == VSS_OK);
  vss_compare(got, g.y, g.x, g.n, &g.lim, &r);
  ck_assert_msg(r.verdict == VSS_FAIL, "pre-norm run of post_norm weights: %s",
                vss_verdict_str(r.verdict));
  free(got);
  vss_st_close(f);
  vss_golden_close(&g);
  /* the help names the flags */
  ck_assert_int_eq(VB(NULL, "run", "--help"), 0);
  static const char *const flags[] = {"--layout", "--post-norm", "--train", "--drop-path",
                                      "--seed", "drop_mask"};
  for (int i = 0; i < 6; i++) assert_has(out_buf, "run --help", flags[i]);
}
END_TEST

/* --train without --seed draws one, says which on stderr, and the same
 * seed repeats the run byte for byte. */
START_TEST(train_without_seed)
{
  const char *dir = fresh_dir("seed");
  char y1[600], y2[600], seed[32];
  snprintf(y1, sizeof y1, "%s/y1.safetensors", dir);
  snprintf(y2, sizeof y2, "%s/y2.safetensors", dir);
  int rc = VB(NULL, "run", "--weights", DROP, "--input", DROP, "--output", y1, "--train",
              "--drop-path", "0.5");
  ck_assert_msg(rc == 0, "%s", err_buf);
  ck_assert_int_eq(lines(err_buf), 1);
  const char *at = strstr(err_buf, "seed: ");
  ck_assert_msg(at && sscanf(at, "seed: %31[0-9]", seed) == 1, "no seed on stderr: %s", err_buf);
  rc = VB(NULL, "run", "--weights", DROP, "--input", DROP, "--output", y2, "--train",
          "--drop-path", "0.5", "--seed", seed);
  ck_assert_msg(rc == 0, "%s", err_buf);
  ck_assert_msg(same_bytes(y1, y2), "--seed %s did not repeat the run", seed);
  /* the chosen seed goes into y's metadata as well */
  vss_st *f;
  ck_assert(vss_st_open(y1, &f) == VSS_OK);
  ck_assert_str_eq(vss_st_meta(f, "seed_mask"), seed);
  ck_assert_str_eq(vss_st_meta(f, "train"), "1");
  vss_st_close(f);
}
END_TEST

/* -------------------------------------------------------------- verify */

START_TEST(verify_golden)
{
  int rc = VB(NULL, "verify", TINY, V05);
  ck_assert_msg(rc == 0, "exit %d\n%s%s", rc, out_buf, err_buf);
  assert_has(out_buf, "verify", "v0_tiny");
  assert_has(out_buf, "verify", "v05_s1");
  assert_has(out_buf, "verify", "PASS");
  assert_has(out_buf, "verify", "cases: 2 variants: 1 pass: 2 marginal: 0 fail: 0 mistrusted: 0");
  rc = VB(NULL, "verify", "--variant", "all", "--quiet");
  ck_assert_msg(rc == 0, "verify --variant all golden: exit %d\n%s%s", rc, out_buf, err_buf);
  assert_has(out_buf, "verify --quiet", "fail: 0 mistrusted: 0");
  ck_assert_msg(!strstr(out_buf, "PASS"), "--quiet printed PASS rows:\n%s", out_buf);
  rc = VB(NULL, "verify", "--stages", "--variant", "ref", TINY);
  ck_assert_msg(rc == 0, "%s%s", out_buf, err_buf);
  assert_has(out_buf, "verify --stages", "stage scan_merge");
  assert_has(out_buf, "verify --stages", "stage gate");
}
END_TEST

/* A copy of TINY with y[idx] moved by delta and metadata key `drop`
 * left out. */
static const char *doctored(const char *name, size_t idx, double delta, const char *drop)
{
  static const char *const keys[] = {
      "case", "form", "keys", "prefix", "B", "H", "W", "C", "Di", "N", "R", "mlp_hidden",
      "ssm_ratio", "weight_dtype", "seed", "stages", "fp32_max_abs", "fp32_max_rel_branch",
      "fp32_nmse_branch", "max_abs_branch"};
  vss_st *f;
  ck_assert(vss_st_open(TINY, &f) == VSS_OK);
  const size_t n = vss_st_count(f);
  struct vss_st_out *t = calloc(n, sizeof *t);
  const char *meta[2 * sizeof keys / sizeof keys[0] + 1];
  int m = 0;
  double *y = NULL;
  for (size_t i = 0; i < n; i++) {
    const struct vss_tensor *s = vss_st_at(f, i);
    ck_assert(s->dtype == VSS_F32 || s->dtype == VSS_F64);
    t[i] = (struct vss_st_out){s->name, s->dtype, s->ndim, s->shape, s->data};
    if (!strcmp(s->name, "y")) {
      ck_assert(vss_st_to_f64(f, s, &y) == VSS_OK);
      y[idx] += delta;
      t[i].dtype = VSS_F64;
      t[i].data = y;
    }
  }
  for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
    if (vss_st_meta(f, keys[k]) && !(drop && !strcmp(drop, keys[k])))
      meta[m++] = keys[k], meta[m++] = vss_st_meta(f, keys[k]);
  meta[m] = NULL;
  const char *path = vss_test_path(name);
  ck_assert_msg(vss_st_write(path, t, n, meta) == VSS_OK, "%s", vss_last_error());
  free(y);
  free(t);
  vss_st_close(f);
  return path;
}

START_TEST(verify_doctored)
{
  /* (b,h,w,c) = (0,2,3,5) of 1x5x7x16 */
  const size_t idx = ((0 * 5 + 2) * 7 + 3) * 16 + 5;
  char bad[600];
  snprintf(bad, sizeof bad, "%s", doctored("bad.safetensors", idx, 1e-3, NULL));
  int rc = VB(NULL, "verify", "--variant", "ref", bad);
  ck_assert_msg(rc == 1, "exit %d\n%s", rc, out_buf);
  assert_has(out_buf, "verify of a perturbed y", "FAIL");
  assert_has(out_buf, "verify of a perturbed y", "(0,2,3,5)");
  char repro[1024];
  snprintf(repro, sizeof repro, "repro: %s verify --variant ref %s", vssbench_bin(), bad);
  assert_has(out_buf, "verify of a perturbed y", repro);
  assert_has(out_buf, "verify of a perturbed y", "seed 1001");
  assert_has(out_buf, "verify of a perturbed y", "fail: 1 mistrusted: 0");
  /* --quiet still shows the failure */
  rc = VB(NULL, "verify", "--quiet", bad, TINY);
  ck_assert_int_eq(rc, 1);
  assert_has(out_buf, "verify --quiet", "(0,2,3,5)");
  assert_has(out_buf, "verify --quiet", "cases: 2 variants: 1 pass: 1 marginal: 0 fail: 1");
  /* the same perturbation, tiny: still caught (the limit is ~1e-6) */
  snprintf(bad, sizeof bad, "%s", doctored("bad2.safetensors", idx, 2e-5, NULL));
  ck_assert_int_eq(VB(NULL, "verify", bad), 1);
  /* a golden file without its noise figures cannot be judged */
  snprintf(bad, sizeof bad, "%s", doctored("nonoise.safetensors", 0, 0, "fp32_max_abs"));
  rc = VB(NULL, "verify", bad);
  ck_assert_int_eq(rc, 1);
  assert_has(err_buf, "stderr", "nonoise.safetensors");
  assert_has(err_buf, "stderr", "fp32_max_abs");
  /* not a golden file at all, a missing path, an empty folder */
  rc = VB(NULL, "verify", write_tensor("plain.safetensors", "x", VSS_F32, 1,
                                       (const size_t[]){1}, (const float[]){1}));
  ck_assert_int_eq(rc, 1);
  assert_has(err_buf, "stderr", "plain.safetensors");
  ck_assert_int_eq(VB(NULL, "verify", "golden/nope.safetensors"), 1);
  assert_has(err_buf, "stderr", "golden/nope.safetensors");
  ck_assert_int_eq(VB(NULL, "verify", fresh_dir("empty")), 1);
  assert_has(err_buf, "stderr", "no *.safetensors");
  ck_assert_int_eq(VB(NULL, "verify", "--variant", "nope", TINY), 2);
  assert_has(err_buf, "stderr", "nope");
}
END_TEST

/* --------------------------------------------------------- list, help */

START_TEST(list_help_version)
{
  ck_assert_int_eq(VB(NULL, "list"), 0);
  assert_has(out_buf, "list", "ref");
  assert_has(out_buf, "list", "native");
  assert_has(out_buf, "list", "best -> ");
  struct vss_variant_info vi;
  for (size_t i = 0; vss_variant_info(i, &vi) == 0; i++) assert_has(out_buf, "list", vi.name);
  ck_assert_int_eq(VB("VSS_VARIANT=ref", "list"), 0);
  assert_has(out_buf, "list", "best -> ref (forced by VSS_VARIANT)");
  ck_assert_int_eq(VB(NULL, "--version"), 0);
  assert_has(out_buf, "--version", "vssbench 0.");
  ck_assert_int_eq(VB(NULL, "--help"), 0);
  assert_has(out_buf, "--help", "usage: vssbench");
  static const char *const cmds[] = {"run", "verify", "list"};
  for (int i = 0; i < 3; i++) {
    ck_assert_int_eq(VB(NULL, cmds[i], "--help"), 0);
    assert_has(out_buf, "command --help", "usage: vssbench ");
    assert_has(out_buf, "command --help", cmds[i]);
  }
  /* usage errors: exit 2, the complaint and the usage line */
  ck_assert_int_eq(vssbench_argv(NULL, (const char *const[]){NULL}), 2);
  assert_has(err_buf, "no command", "usage:");
  ck_assert_int_eq(VB(NULL, "frobnicate"), 2);
  assert_has(err_buf, "unknown command", "frobnicate");
  ck_assert_int_eq(VB(NULL, "--frob"), 2);
  ck_assert_int_eq(VB(NULL, "list", "--frob"), 2);
  assert_has(err_buf, "list --frob", "--frob");
  assert_has(err_buf, "list --frob", "usage: vssbench list");
  ck_assert_int_eq(VB(NULL, "list", "extra"), 2);
  ck_assert_int_eq(VB(NULL, "verify", "--quiet=1", TINY), 2);
}
END_TEST

/* ------------------------------------------------------ bad run inputs */

struct bad_case {
  const char *what;
  int rc;               /* 1: runtime failure (one line), 2: usage */
  const char *w, *x, *o; /* --weights, --input, --output; NULL: a good
                            file (@W, @X, a fresh output folder's
                            y.safetensors), "-": left out */
  const char *extra[4]; /* more arguments */
  const char *needles[3]; /* the error line must name these */
};
/* In w, x, o and extra, "@name" stands for tmpdir/name (made below). */

static const struct bad_case bad_cases[] = {
    {"missing weights", 1, "@nope.safetensors", NULL, NULL, {0}, {"nope.safetensors"}},
    {"missing input", 1, NULL, "@nope.safetensors", NULL, {0}, {"nope.safetensors"}},
    {"corrupt weights", 1, "@trunc.safetensors", NULL, NULL, {0}, {"trunc.safetensors"}},
    {"input not 4-D", 1, NULL, "@x3d.safetensors", NULL, {0}, {"x3d.safetensors", "x:", "4-D"}},
    {"wrong C", 1, NULL, "@xc8.safetensors", NULL, {0}, {"xc8.safetensors", "x:", "C=8"}},
    {"zero-sized dim", 1, NULL, "@x0.safetensors", NULL, {0}, {"x0.safetensors", "x:", "zero"}},
    {"no x tensor", 1, NULL, "@nox.safetensors", NULL, {0}, {"nox.safetensors", "x:"}},
    {"unknown variant", 2, NULL, NULL, NULL, {"--variant", "nope"}, {"nope"}},
    {"unknown flag", 2, NULL, NULL, NULL, {"--bogus"}, {"--bogus"}},
    {"threads 0", 2, NULL, NULL, NULL, {"--threads", "0"}, {"--threads"}},
    {"threads -1", 2, NULL, NULL, NULL, {"--threads", "-1"}, {"--threads"}},
    {"threads abc", 2, NULL, NULL, NULL, {"--threads", "abc"}, {"--threads"}},
    {"threads 1025", 2, NULL, NULL, NULL, {"--threads", "1025"}, {"--threads"}},
    {"threads 4x", 2, NULL, NULL, NULL, {"--threads=4x"}, {"--threads"}},
    {"threads without value", 2, NULL, NULL, NULL, {"--threads"}, {"--threads"}},
    {"output folder missing", 1, NULL, NULL, "@nodir/y.safetensors", {0}, {"nodir/y.safetensors"}},
    {"output is a folder", 1, NULL, NULL, "@adir", {0}, {"adir"}},
    {"output == input", 2, NULL, NULL, "@x.safetensors", {0}, {"input"}},
    {"output == weights", 2, NULL, NULL, "@./w.safetensors", {0}, {"weights"}},
    {"no --output", 2, NULL, NULL, "-", {0}, {"--output"}},
    {"no --weights", 2, "-", NULL, NULL, {0}, {"--weights"}},
    {"flag given twice", 2, NULL, NULL, NULL, {"--weights", "@w.safetensors"}, {"--weights"}},
    {"positional argument", 2, NULL, NULL, NULL, {"extra"}, {"extra"}},
    {"dump-stages onto a file", 1, NULL, NULL, NULL, {"--dump-stages", "@x3d.safetensors"},
     {"x3d.safetensors"}},
    /* issue #10's run options */
    {"drop-path 1", 2, NULL, NULL, NULL, {"--train", "--drop-path", "1"}, {"--drop-path", "[0, 1)"}},
    {"drop-path -0.1", 2, NULL, NULL, NULL, {"--drop-path", "-0.1"}, {"--drop-path"}},
    {"drop-path nan", 2, NULL, NULL, NULL, {"--drop-path=nan", "--train"}, {"--drop-path"}},
    {"drop-path abc", 2, NULL, NULL, NULL, {"--drop-path", "abc"}, {"--drop-path"}},
    {"drop-path 0.99999999", 2, NULL, NULL, NULL, {"--drop-path", "0.99999999"}, {"--drop-path"}},
    {"seed -1", 2, NULL, NULL, NULL, {"--train", "--seed", "-1"}, {"--seed"}},
    {"seed 2^64", 2, NULL, NULL, NULL, {"--seed", "18446744073709551616"}, {"--seed"}},
    {"seed 12x", 2, NULL, NULL, NULL, {"--seed=12x"}, {"--seed"}},
    {"layout chw", 2, NULL, NULL, NULL, {"--layout", "chw"}, {"--layout", "chw"}},
    {"train takes no value", 2, NULL, NULL, NULL, {"--train=1"}, {"--train"}},
    {"layout nchw on channel-last x", 1, NULL, NULL, NULL, {"--layout", "nchw"},
     {"x.safetensors", "layout nchw", "channel-last"}},
    {"channel-first x without --layout", 1, NULL, "@xnchw.safetensors", NULL, {0},
     {"xnchw.safetensors", "C=5", "channel-first"}},
    /* issue #8's catalogue (docs/BAD_INPUTS.md) */
    {"threads huge", 2, NULL, NULL, NULL, {"--threads", "99999999999999999999"}, {"--threads"}},
    {"prefix matches nothing", 1, NULL, NULL, NULL, {"--prefix", "layers.9"},
     {"w.safetensors", "layers.9."}},
    {"output under a file", 1, NULL, NULL, "@x3d.safetensors/y.safetensors", {0},
     {"x3d.safetensors/y.safetensors"}},
    {"output is a FIFO", 1, NULL, NULL, "@fifo", {0}, {"fifo", "not a regular file"}},
    {"header claims 2 GiB", 1, "@claims2g.safetensors", NULL, NULL, {0},
     {"claims2g.safetensors", "absurd"}},
    {"newline in a dtype", 1, NULL, "@nl_dtype.safetensors", NULL, {0},
     {"nl_dtype.safetensors", "op.A_logs", "'\\nF16'"}},
};
#define N_BAD (int)(sizeof bad_cases / sizeof bad_cases[0])

static void make_bad_inputs(void)
{
  static float zeros[5 * 7 * 16];
  copy_file(TINY, "w.safetensors", (size_t)-1);
  copy_file(TINY, "x.safetensors", (size_t)-1);
  copy_file(TINY, "trunc.safetensors", 100);
  write_tensor("x3d.safetensors", "x", VSS_F32, 3, (const size_t[]){5, 7, 16}, zeros);
  write_tensor("xc8.safetensors", "x", VSS_F32, 4, (const size_t[]){1, 5, 7, 8}, zeros);
  write_tensor("x0.safetensors", "x", VSS_F32, 4, (const size_t[]){1, 0, 7, 16}, zeros);
  write_tensor("nox.safetensors", "y", VSS_F32, 4, (const size_t[]){1, 5, 7, 16}, zeros);
  write_tensor("xnchw.safetensors", "x", VSS_F32, 4, (const size_t[]){1, 16, 7, 5}, zeros);
  ck_assert(mkdir(vss_test_path("adir"), 0777) == 0 || errno == EEXIST);
  ck_assert(mkfifo(vss_test_path("fifo"), 0644) == 0 || errno == EEXIST);
  const uint64_t hlen = 1ull << 31; /* a header of 2 GiB, in a 24-byte file */
  unsigned char claims[24] = {0};
  memcpy(claims, &hlen, 8);
  vss_test_write("claims2g.safetensors", claims, sizeof claims);
  copy_file("tests/fuzz/corpus/regress_newline_in_dtype.safetensors", "nl_dtype.safetensors",
            (size_t)-1);
}

START_TEST(run_bad_input)
{
  const struct bad_case *c = &bad_cases[_i];
  static char paths[8][600];
  const char *argv[20] = {"run"};
  int n = 1, np = 0;
  make_bad_inputs();
  const char *outdir = fresh_dir("out");
  const char *flag[3] = {"--weights", "--input", "--output"};
  const char *val[3] = {c->w ? c->w : "@w.safetensors", c->x ? c->x : "@x.safetensors", c->o};
  for (int i = 0; i < 3 + 4; i++) {
    const char *a = i < 3 ? val[i] : c->extra[i - 3];
    if (i < 3 && a && !strcmp(a, "-")) continue;
    if (i < 3) argv[n++] = flag[i];
    if (i == 2 && !a) { /* the default output */
      snprintf(paths[np], sizeof paths[0], "%s/y.safetensors", outdir);
      a = paths[np++];
    } else if (!a) {
      continue;
    } else if (a[0] == '@') {
      snprintf(paths[np], sizeof paths[0], "%s/%s", vss_test_tmpdir(), a + 1);
      a = paths[np++];
    }
    argv[n++] = a;
  }
  argv[n] = NULL;
  int rc = vssbench_argv(NULL, argv);
  ck_assert_msg(rc == c->rc, "%s: exit %d, expected %d; stderr:\n%s", c->what, rc, c->rc,
                err_buf);
  ck_assert_msg(!strncmp(err_buf, "vssbench", 8), "%s: stderr '%s'", c->what, err_buf);
  ck_assert_msg(lines(err_buf) == c->rc, "%s: %s on stderr, expected %s:\n%s", c->what,
                "wrong number of lines", c->rc == 1 ? "one error line" : "complaint + usage",
                err_buf);
  const char *first_end = strchr(err_buf, '\n');
  for (int k = 0; k < 3 && c->needles[k]; k++) {
    const char *hit = strstr(err_buf, c->needles[k]);
    ck_assert_msg(hit && hit < first_end, "%s: the error line does not name '%s':\n%s",
                  c->what, c->needles[k], err_buf);
  }
  ck_assert_msg(dir_entries(outdir) == 0, "%s: left a file in the output folder", c->what);
  ck_assert_msg(dir_entries(vss_test_path("adir")) == 0, "%s: wrote into adir", c->what);
  ck_assert_msg(same_bytes(vss_test_path("x.safetensors"), TINY), "%s: changed the input",
                c->what);
  ck_assert_msg(same_bytes(vss_test_path("w.safetensors"), TINY), "%s: changed the weights",
                c->what);
}
END_TEST

Suite *suite_cli(void)
{
  Suite *s = suite_create("cli");
  TCase *tc = tcase_create("cli");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, run_matches_golden);
  tcase_add_test(tc, run_any_dtype_and_threads);
  tcase_add_loop_test(tc, dump_stages, 0, sizeof dumps / sizeof dumps[0]);
  tcase_add_test(tc, run_options);
  tcase_add_test(tc, train_without_seed);
  tcase_add_test(tc, verify_golden);
  tcase_add_test(tc, verify_doctored);
  tcase_add_test(tc, list_help_version);
  tcase_add_loop_test(tc, run_bad_input, 0, N_BAD);
  suite_add_tcase(s, tc);
  return s;
}
