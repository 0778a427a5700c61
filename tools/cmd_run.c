/* cmd_run.c - `vssbench run`: one block on one input, optionally dumping
 * every intermediate.  The output is written once, at the very end, through
 * vss_st_write (temporary file + rename): a failure leaves no output file.
 * Run options (issue #10): --layout nchw, --post-norm, and training-mode
 * drop_path (--train --drop-path P --seed S; without --seed one is drawn
 * from /dev/urandom and printed, so the run can be repeated).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "golden.h"

/* 1 when a and b name the same file: equal strings, or both exist and are
 * one inode (hard links, symlinks, ./x versus x). */
static int same_file(const char *a, const char *b)
{
  struct stat sa, sb;
  if (!strcmp(a, b)) return 1;
  return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

/* --threads: a decimal integer in [1, 1024]; else -1. */
static int parse_threads(const char *s)
{
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (end == s || *end || errno || v < 1 || v > 1024) return -1;
  return (int)v;
}

/* --drop-path: a number in [0, 1); else -1. */
static float parse_drop_path(const char *s)
{
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || *end || errno || !(v >= 0.0 && v < 1.0) || (float)v >= 1.0f) return -1;
  return (float)v;
}

/* --seed: a decimal integer in [0, 2^64); 0 on success. */
static int parse_seed(const char *s, uint64_t *out)
{
  char *end;
  errno = 0;
  if (*s < '0' || *s > '9') return -1;
  unsigned long long v = strtoull(s, &end, 10);
  if (*end || errno) return -1;
  *out = v;
  return 0;
}

/* A fresh seed for --train without --seed: /dev/urandom, else the clock. */
static uint64_t pick_seed(void)
{
  uint64_t seed = 0;
  int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    if (read(fd, &seed, sizeof seed) != (ssize_t)sizeof seed) seed = 0;
    close(fd);
  }
  if (!seed) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    seed = (uint64_t)ts.tv_sec * 1000000007u ^ (uint64_t)ts.tv_nsec ^ (uint64_t)getpid() << 32;
  }
  return seed;
}

/* mkdir -p; 0 or -1 with errno. */
static int make_dirs(const char *dir)
{
  char p[PATH_MAX];
  if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p) { errno = ENAMETOOLONG; return -1; }
  for (char *s = p + 1; *s; s++) {
    if (*s != '/') continue;
    *s = 0;
    if (mkdir(p, 0777) != 0 && errno != EEXIST) return -1;
    *s = '/';
  }
  if (mkdir(p, 0777) != 0 && errno != EEXIST) return -1;
  struct stat st;
  if (stat(p, &st) != 0) return -1;
  if (!S_ISDIR(st.st_mode)) { errno = ENOTDIR; return -1; }
  return 0;
}

/* ---------------------------------------------------------- stage dump */

#define MAX_STAGES 64

struct dump {
  const char *dir;
  const char *variant;
  int n;                       /* stages written */
  char file[MAX_STAGES][96];   /* their file names, in call order */
  char index[MAX_STAGES][160]; /* their INDEX lines */
  char err[PATH_MAX + 160];               /* first failure, for the one error line */
};

static int dump_stage(void *ctx, const char *name, const float *data, int ndim,
                      const size_t *shape)
{
  struct dump *d = ctx;
  char path[PATH_MAX];
  if (d->n >= MAX_STAGES) {
    snprintf(d->err, sizeof d->err, "%s: more than %d stages", d->dir, MAX_STAGES);
    return 1;
  }
  char file[sizeof d->file[0]], line[sizeof d->index[0]];
  snprintf(file, sizeof file, "%02d_%s.safetensors", d->n, name);
  snprintf(path, sizeof path, "%s/%s", d->dir, file);
  int len = snprintf(line, sizeof line, "%s\t%s\t", file, name);
  for (int i = 0; i < ndim && len < (int)sizeof line; i++)
    len += snprintf(line + len, sizeof line - (size_t)len, "%s%zu", i ? "x" : "", shape[i]);
  const struct vss_st_out t = {name, VSS_F32, ndim, shape, data};
  const char *meta[] = {"stage", name, "variant", d->variant, NULL};
  if (vss_st_write(path, &t, 1, meta) != VSS_OK) {
    snprintf(d->err, sizeof d->err, "%s", vss_last_error());
    return 1;
  }
  memcpy(d->file[d->n], file, sizeof file);
  memcpy(d->index[d->n], line, sizeof line);
  d->n++;
  return 0;
}

/* DIR/INDEX, atomically like the tensors. */
static int write_index(struct dump *d)
{
  char path[PATH_MAX], tmp[PATH_MAX + 8];
  snprintf(path, sizeof path, "%s/INDEX", d->dir);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  int ok = f != NULL;
  if (ok) {
    fprintf(f, "# vssbench run --dump-stages (variant %s): file, stage, shape; "
               "F32, channel-last (drop_mask: (2,B) drop_path factors), in call "
               "order\n", d->variant);
    for (int i = 0; i < d->n; i++) fprintf(f, "%s\n", d->index[i]);
    ok = !ferror(f);
    ok = (fclose(f) == 0) && ok;
  }
  if (ok && rename(tmp, path) == 0) return 0;
  snprintf(d->err, sizeof d->err, "%s: cannot write: %s", path, strerror(errno));
  unlink(tmp);
  return -1;
}

static void undo_dump(const struct dump *d)
{
  char path[PATH_MAX];
  for (int i = 0; i < d->n; i++) {
    snprintf(path, sizeof path, "%s/%s", d->dir, d->file[i]);
    unlink(path);
  }
}

/* ---------------------------------------------------------------- run */

struct run_args {
  const char *weights, *input, *output, *variant, *threads, *prefix, *dump;
  const char *layout, *drop_path, *seed;
  int train, post_norm;
};

static int run(const struct run_args *a, int threads, const struct vss_run_opts *ro)
{
  const struct vss_block_opts opts = {a->variant, threads};
  vss_block *blk = NULL;
  vss_st *in = NULL;
  float *x = NULL, *y = NULL;
  struct dump *d = NULL;
  size_t sh[4];
  int rc = CLI_FAIL;

  if (vss_block_load(a->weights, a->prefix, &opts, &blk) != VSS_OK ||
      (a->post_norm && vss_block_set_post_norm(blk, 1) != VSS_OK)) {
    cli_error("%s", vss_last_error());
    goto out;
  }
  const char *variant = vss_block_variant(blk);
  if (cli_verbose() && a->threads)
    fprintf(stderr, "vssbench: --threads %d: %s\n", threads,
            strcmp(variant, "omp") ? "this variant is single-threaded and ignores it"
                                   : "the omp variant runs with that many threads");
  if (vss_st_open(a->input, &in) != VSS_OK ||
      vss_read_act(in, "x", vss_block_get_config(blk)->C, ro->layout, &x, sh) != VSS_OK) {
    cli_error("%s", vss_last_error());
    goto out;
  }
  const int nchw = ro->layout == VSS_NCHW;
  const size_t B = sh[0], H = sh[nchw ? 2 : 1], W = sh[nchw ? 3 : 2];
  const size_t n = sh[0] * sh[1] * sh[2] * sh[3];
  if (!(y = malloc(n * sizeof *y))) {
    cli_error("%s: y: out of memory for %zu floats", a->output, n);
    goto out;
  }
  vss_status s;
  if (a->dump) {
    if (!(d = calloc(1, sizeof *d))) { cli_error("out of memory"); goto out; }
    d->dir = a->dump;
    d->variant = variant;
    if (make_dirs(a->dump) != 0) {
      cli_error("%s: cannot create the stage folder: %s", a->dump, strerror(errno));
      goto out;
    }
    s = vss_block_forward_ex(blk, B, H, W, x, y, ro, dump_stage, d);
    if (s == VSS_OK && write_index(d) == 0) {
      /* stages done */
    } else {
      cli_error("%s", d->err[0] ? d->err : vss_last_error());
      undo_dump(d);
      goto out;
    }
  } else if ((s = vss_block_forward_ex(blk, B, H, W, x, y, ro, NULL, NULL)) != VSS_OK) {
    cli_error("%s: x: %s", a->input, vss_last_error());
    goto out;
  }
  const struct vss_st_out t = {"y", VSS_F32, 4, sh, y};
  char p_s[32], seed_s[24];
  snprintf(p_s, sizeof p_s, "%.9g", (double)ro->drop_path);
  snprintf(seed_s, sizeof seed_s, "%" PRIu64, ro->seed);
  const char *meta[] = {"variant", variant, "layout", nchw ? "nchw" : "nhwc",
                        "post_norm", vss_block_get_config(blk)->post_norm ? "1" : "0",
                        ro->train ? "train" : NULL, "1", "drop_path", p_s, "seed_mask",
                        seed_s, NULL};
  if (vss_st_write(a->output, &t, 1, meta) != VSS_OK) {
    cli_error("%s", vss_last_error());
    if (d) undo_dump(d);
    goto out;
  }
  rc = CLI_OK;
out:
  free(d);
  free(y);
  free(x);
  vss_st_close(in);
  vss_block_free(blk);
  return rc;
}

int cmd_run(const struct cli_cmd *cmd, int argc, char **argv)
{
  struct run_args a = {0};
  const struct cli_opt opts[] = {
      {"weights", &a.weights, NULL}, {"input", &a.input, NULL},
      {"output", &a.output, NULL},   {"variant", &a.variant, NULL},
      {"threads", &a.threads, NULL}, {"prefix", &a.prefix, NULL},
      {"dump-stages", &a.dump, NULL}, {"layout", &a.layout, NULL},
      {"train", NULL, &a.train},       {"drop-path", &a.drop_path, NULL},
      {"seed", &a.seed, NULL},         {"post-norm", NULL, &a.post_norm},
  };
  int np, rc = cli_parse(cmd, argc, argv, opts, sizeof opts / sizeof opts[0], &np);
  if (rc >= 0) return rc;
  if (np) return cli_usage_error(cmd, "unexpected argument '%s'", argv[1]);
  if (!a.weights || !a.input || !a.output)
    return cli_usage_error(cmd, "--weights, --input and --output are required");
  int threads = 0;
  if (a.threads && (threads = parse_threads(a.threads)) < 0)
    return cli_usage_error(cmd, "--threads '%s': must be an integer from 1 to 1024",
                           a.threads);
  if (a.variant && !cli_known_variant(a.variant))
    return cli_usage_error(cmd, "--variant '%s': unknown (see `vssbench list`)", a.variant);
  if (same_file(a.output, a.input) || same_file(a.output, a.weights))
    return cli_usage_error(cmd, "--output %s: would overwrite the %s file", a.output,
                           same_file(a.output, a.input) ? "input" : "weights");
  if (a.dump && same_file(a.dump, a.output))
    return cli_usage_error(cmd, "--dump-stages %s: is the output file", a.dump);
  struct vss_run_opts ro = {.layout = VSS_NHWC, .train = a.train};
  if (a.layout && strcmp(a.layout, "nhwc") && strcmp(a.layout, "nchw"))
    return cli_usage_error(cmd, "--layout '%s': must be nhwc (B,H,W,C) or nchw (B,C,H,W)",
                           a.layout);
  if (a.layout && !strcmp(a.layout, "nchw")) ro.layout = VSS_NCHW;
  if (a.drop_path && (ro.drop_path = parse_drop_path(a.drop_path)) < 0)
    return cli_usage_error(cmd, "--drop-path '%s': must be a number in [0, 1)", a.drop_path);
  if (a.seed && parse_seed(a.seed, &ro.seed) != 0)
    return cli_usage_error(cmd, "--seed '%s': must be a decimal integer from 0 to "
                           "18446744073709551615", a.seed);
  if (a.train && !a.seed) {
    ro.seed = pick_seed();
    fprintf(stderr, "vssbench: seed: %" PRIu64 " (--train without --seed; repeat the run "
                    "with --seed %" PRIu64 ")\n", ro.seed, ro.seed);
  }
  return run(&a, threads, &ro);
}
