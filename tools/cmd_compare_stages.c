/* cmd_compare_stages.c - `vssbench compare-stages DIR_A DIR_B`: two
 * `vssbench run --dump-stages` folders (ours and a port's, or two variants,
 * of the same block on the same input), compared stage by stage in DIR_A's
 * INDEX order, to find the FIRST stage where they part (issue #9).
 *
 * A folder: INDEX (lines "file <TAB> stage <TAB> shape" such as
 * "03_x_proj.safetensors  x_proj  1x5x7x4x33"; '#' lines are comments) and
 * one safetensors file per stage holding a tensor named after the stage
 * (any float dtype).  A is the reference: each stage is judged with
 * vss_compare(B, A) under vss_cmpstage_limits(max|A|) of core/tolerances.h,
 * each of whose parts --atol / --rtol / --nmse may replace.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "commands.h"
#include "golden.h"

const char vss_compare_stages_help[] =
    "Compares two `vssbench run --dump-stages` folders of the same block on the\n"
    "same input (e.g. ours and a port's, or two variants), stage by stage in\n"
    "DIR_A's INDEX order, with DIR_A as the reference.  One row per stage: max\n"
    "|B-A|, that relative to max|A|, NMSE and the verdict; then the FIRST stage\n"
    "that diverges beyond the policy, with the coordinates ((b,h,w,c) or\n"
    "(b,h,w,k,j)) and values of its 10 worst points.  Later stages usually\n"
    "diverge too: errors propagate.  Exit 0 when every stage agrees, 1 when one\n"
    "diverges, is absent from DIR_B or has another shape, 2 on usage errors.\n"
    "Policy (core/tolerances.h, vss_cmpstage_limits; the run prints the numbers):\n"
    "per stage |B-A| <= a fixed fraction of max|A| pointwise, and an NMSE limit,\n"
    "twice what one fp32 implementation may differ from the float64 truth.\n"
    "  --atol A   replace the pointwise absolute limit (same for every stage)\n"
    "  --rtol R   add a limit relative to |A| (default 0)\n"
    "  --nmse M   replace the NMSE limit\n"
    "A folder written by anything else needs: INDEX, lines `FILE<TAB>STAGE<TAB>\n"
    "SHAPE` (SHAPE like 1x5x7x16, '#' lines ignored), and FILE a safetensors\n"
    "file holding a tensor named STAGE (F32, F64, F16 or BF16), channel-last.\n";

#define NAME_MAX_LEN 128

struct stage {
  char file[NAME_MAX_LEN], name[NAME_MAX_LEN];
  int ndim;
  size_t shape[VSS_MAX_DIMS];
};

struct index {
  const char *dir;
  struct stage *s;
  size_t n;
};

/* ------------------------------------------------------------- reading */

/* 1 when dir is a folder, else 0 after printing why. */
static int is_dir(const char *dir)
{
  struct stat st;
  if (stat(dir, &st) != 0) {
    cli_error("compare-stages: %s: %s", dir, strerror(errno));
    return 0;
  }
  if (!S_ISDIR(st.st_mode)) {
    cli_error("compare-stages: %s: not a folder (a --dump-stages folder)", dir);
    return 0;
  }
  return 1;
}

/* "1x5x7x16" -> shape; 0, or -1 when it is not such a string. */
static int parse_shape(const char *s, struct stage *st)
{
  st->ndim = 0;
  for (;;) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || errno || *s == '-' || st->ndim == VSS_MAX_DIMS) return -1;
    st->shape[st->ndim++] = (size_t)v;
    if (!*end) return 0;
    if (*end != 'x') return -1;
    s = end + 1;
  }
}

static void shape_str(char *buf, size_t len, int ndim, const size_t *shape)
{
  int at = 0;
  buf[0] = 0;
  for (int i = 0; i < ndim && at < (int)len; i++)
    at += snprintf(buf + at, len - (size_t)at, "%s%zu", i ? "x" : "", shape[i]);
}

/* DIR/INDEX into ix; 0, or -1 after printing the error. */
static int read_index(const char *dir, struct index *ix)
{
  char path[4096], line[1024];
  snprintf(path, sizeof path, "%s/INDEX", dir);
  ix->dir = dir;
  FILE *f = fopen(path, "r");
  if (!f) {
    cli_error("compare-stages: %s: cannot open: %s (not a --dump-stages folder?)", path,
              strerror(errno));
    return -1;
  }
  int rc = 0, lineno = 0;
  while (fgets(line, sizeof line, f)) {
    char file[NAME_MAX_LEN], name[NAME_MAX_LEN], shape[NAME_MAX_LEN], extra[2];
    lineno++;
    const char *p = line + strspn(line, " \t\r\n");
    if (!*p || *p == '#') continue;
    struct stage st;
    if (sscanf(p, "%127s %127s %127s %1s", file, name, shape, extra) != 3 ||
        parse_shape(shape, &st) != 0) {
      rc = cli_error("compare-stages: %s:%d: expected 'FILE STAGE SHAPE' (shape like "
                     "1x5x7x16), got: %.*s", path, lineno,
                     (int)strcspn(p, "\r\n"), p);
      break;
    }
    struct stage *grown = realloc(ix->s, (ix->n + 1) * sizeof *grown);
    if (!grown) { rc = cli_error("compare-stages: out of memory"); break; }
    ix->s = grown;
    snprintf(st.file, sizeof st.file, "%s", file);
    snprintf(st.name, sizeof st.name, "%s", name);
    ix->s[ix->n++] = st;
  }
  if (!rc && ferror(f)) rc = cli_error("compare-stages: %s: read error", path);
  fclose(f);
  if (!rc && ix->n == 0) rc = cli_error("compare-stages: %s: lists no stage", path);
  return rc ? -1 : 0;
}

static const struct stage *find_stage(const struct index *ix, const char *name)
{
  for (size_t i = 0; i < ix->n; i++)
    if (!strcmp(ix->s[i].name, name)) return &ix->s[i];
  return NULL;
}

/* One side of a stage, read as double (A) or float (B).  Checks the tensor
 * against INDEX's shape. */
struct side {
  vss_st *f;
  const struct vss_tensor *t;
  double *d;
  float *x;
};

static void side_free(struct side *s)
{
  free(s->d);
  free(s->x);
  vss_st_close(s->f);
  memset(s, 0, sizeof *s);
}

static int side_read(const struct index *ix, const struct stage *st, int as_double,
                     struct side *s)
{
  char path[4096], a[160], b[160];
  memset(s, 0, sizeof *s);
  snprintf(path, sizeof path, "%s/%s", ix->dir, st->file);
  if (vss_st_open(path, &s->f) != VSS_OK) {
    cli_error("compare-stages: %s", vss_last_error());
    return -1;
  }
  if (!(s->t = vss_st_find(s->f, st->name))) {
    cli_error("compare-stages: %s: %s: no such tensor (a stage file holds one tensor "
              "named after its stage)", path, st->name);
    goto fail;
  }
  if (s->t->ndim != st->ndim ||
      memcmp(s->t->shape, st->shape, (size_t)st->ndim * sizeof *st->shape)) {
    shape_str(a, sizeof a, s->t->ndim, s->t->shape);
    shape_str(b, sizeof b, st->ndim, st->shape);
    cli_error("compare-stages: %s: %s: has shape %s, %s/INDEX says %s", path, st->name,
              a, ix->dir, b);
    goto fail;
  }
  if ((as_double ? vss_st_to_f64(s->f, s->t, &s->d) : vss_st_to_f32(s->f, s->t, &s->x)) ==
      VSS_OK)
    return 0;
  cli_error("compare-stages: %s", vss_last_error());
fail:
  side_free(s);
  return -1;
}

/* ------------------------------------------------------------ judging */

struct opts {
  const char *atol, *rtol, *nmse;
  double v_atol, v_rtol, v_nmse;
};

static struct vss_limits limits_for(const struct opts *o, double max_abs_a)
{
  struct vss_limits lim = vss_cmpstage_limits(max_abs_a);
  if (o->atol) lim.atol = o->v_atol;
  if (o->rtol) lim.rtol = o->v_rtol;
  if (o->nmse) lim.nmse_max = o->v_nmse;
  return lim;
}

/* The (up to) VSS_CMP_MAX_BAD largest |B-A|, worst first; a NaN/Inf on one
 * side only counts as infinitely bad. */
struct worst {
  size_t n, idx[VSS_CMP_MAX_BAD];
  double d[VSS_CMP_MAX_BAD];
};

static void worst_points(const double *a, const float *b, size_t n, struct worst *w)
{
  w->n = 0;
  for (size_t i = 0; i < n; i++) {
    const double x = a[i], y = b[i];
    double d;
    if (isfinite(x) && isfinite(y)) d = fabs(y - x);
    else if ((isnan(x) && isnan(y)) || x == y) continue; /* matching NaN/Inf */
    else d = INFINITY;
    if (w->n == VSS_CMP_MAX_BAD && !(d > w->d[w->n - 1])) continue;
    size_t j = w->n < VSS_CMP_MAX_BAD ? w->n++ : w->n - 1;
    for (; j > 0 && d > w->d[j - 1]; j--) {
      w->d[j] = w->d[j - 1];
      w->idx[j] = w->idx[j - 1];
    }
    w->d[j] = d;
    w->idx[j] = i;
  }
}

static const char *coord_names(int ndim)
{
  return ndim == 4 ? "(b,h,w,c)" : ndim == 5 ? "(b,h,w,k,j)" : "(index)";
}

static void print_coord(int ndim, const size_t *shape, size_t idx)
{
  size_t c[VSS_MAX_DIMS];
  char buf[256];
  int at = snprintf(buf, sizeof buf, "(");
  vss_unravel(idx, ndim, shape, c);
  for (int i = 0; i < ndim; i++)
    at += snprintf(buf + at, sizeof buf - (size_t)at, "%s%zu", i ? "," : "", c[i]);
  printf("    %-22s", strcat(buf, ")"));
}

/* The first divergence: why, and its worst points. */
static void report_first(size_t i, const struct stage *st, const struct side *a,
                         const struct side *b, const struct vss_cmp *r,
                         const struct vss_limits *lim)
{
  char sh[160];
  shape_str(sh, sizeof sh, st->ndim, st->shape);
  printf("\nfirst divergence: stage %zu '%s' (%s): %s; %zu of %zu points beyond "
         "|B-A| <= %.3g + %.3g*|A|%s, nmse %.3g (limit %.3g)\n",
         i, st->name, sh, vss_verdict_str(r->verdict), r->n_bad, r->n, lim->atol,
         lim->rtol, r->n_nan_mismatch ? " (NaN/Inf mismatches included)" : "", r->nmse,
         lim->nmse_max);
  if (r->verdict == VSS_MISTRUSTED)
    printf("  B is mostly one exact value (zeros, a constant) where A is not: the stage "
           "was not computed?\n");
  struct worst w;
  worst_points(a->d, b->x, r->n, &w);
  printf("  worst points %s:\n    %-22s %15s %15s %11s\n", coord_names(st->ndim), "at",
         "A", "B", "|B-A|");
  for (size_t k = 0; k < w.n; k++) {
    print_coord(st->ndim, st->shape, w.idx[k]);
    printf(" %15.8g %15.8g %11.3g\n", a->d[w.idx[k]], (double)b->x[w.idx[k]], w.d[k]);
  }
}

/* A stage that cannot be compared (absent from B, another shape). */
static void row_note(size_t i, const struct stage *st, const char *what)
{
  char sh[160];
  shape_str(sh, sizeof sh, st->ndim, st->shape);
  printf("%02zu  %-12s %-14s %s\n", i, st->name, sh, what);
}

static int compare(const struct index *A, const struct index *B, const struct opts *o)
{
  size_t n_div = 0, n_absent = 0, first = (size_t)-1;
  char policy_atol[32], policy_nmse[32];
  snprintf(policy_atol, sizeof policy_atol, "%.3g", VSS_CMPSTAGE_ATOL_REL);
  snprintf(policy_nmse, sizeof policy_nmse, "%.3g", VSS_CMPSTAGE_NMSE);
  printf("compare-stages: A = %s, B = %s (A is the reference)\n", A->dir, B->dir);
  printf("limits: |B-A| <= %s%s + %s*|A| per point, nmse <= %s (core/tolerances.h%s)\n",
         o->atol ? o->atol : policy_atol, o->atol ? "" : "*max|A|", o->rtol ? o->rtol : "0",
         o->nmse ? o->nmse : policy_nmse,
         o->atol || o->rtol || o->nmse ? ", with --atol/--rtol/--nmse" : "");
  printf("%-3s %-12s %-14s %11s %11s %11s  %s\n", "#", "stage", "shape", "max|B-A|",
         "max rel", "nmse", "verdict");
  for (size_t i = 0; i < A->n; i++) {
    const struct stage *sa = &A->s[i], *sb = find_stage(B, sa->name);
    char sh[160];
    const char *why = NULL;
    if (!sb) {
      why = "ABSENT from B";
      n_absent++;
    } else if (sb->ndim != sa->ndim ||
               memcmp(sb->shape, sa->shape, (size_t)sa->ndim * sizeof *sa->shape)) {
      shape_str(sh, sizeof sh, sb->ndim, sb->shape);
      why = "SHAPE differs: B has";
    }
    if (why) {
      char msg[200];
      snprintf(msg, sizeof msg, "%s%s%s", why, sb ? " " : "", sb ? sh : "");
      row_note(i, sa, msg);
      n_div++;
      if (first == (size_t)-1) {
        first = i;
        printf("\nfirst divergence: stage %zu '%s': %s\n\n", i, sa->name, msg);
      }
      continue;
    }
    struct side a, b;
    if (side_read(A, sa, 1, &a) != 0) return CLI_FAIL;
    if (side_read(B, sb, 0, &b) != 0) { side_free(&a); return CLI_FAIL; }
    double scale = 0;
    for (size_t k = 0; k < a.t->numel; k++)
      if (isfinite(a.d[k])) scale = fmax(scale, fabs(a.d[k]));
    const struct vss_limits lim = limits_for(o, scale);
    struct vss_cmp r;
    vss_compare(b.x, a.d, NULL, a.t->numel, &lim, &r);
    shape_str(sh, sizeof sh, sa->ndim, sa->shape);
    printf("%02zu  %-12s %-14s %11.3e %11.3e %11.3e  %s\n", i, sa->name, sh, r.max_abs,
           r.max_rel, r.nmse, vss_verdict_str(r.verdict));
    if (r.verdict == VSS_FAIL || r.verdict == VSS_MISTRUSTED) {
      n_div++;
      if (first == (size_t)-1) {
        first = i;
        report_first(i, sa, &a, &b, &r, &lim);
        printf("\n");
      }
    }
    side_free(&a);
    side_free(&b);
  }
  for (size_t i = 0; i < B->n; i++)
    if (!find_stage(A, B->s[i].name))
      printf("note: stage '%s' of B is not in A's INDEX (not compared)\n", B->s[i].name);
  if (!n_div) {
    printf("compare-stages: all %zu stages agree\n", A->n);
    return CLI_OK;
  }
  printf("compare-stages: %zu of %zu stages diverge%s; first: %s\n", n_div, A->n,
         n_absent ? " or are absent from B" : "", A->s[first].name);
  return CLI_FAIL;
}

/* ---------------------------------------------------------------- cli */

static int parse_limit(const struct cli_cmd *cmd, const char *flag, const char *s,
                       double *v)
{
  char *end;
  errno = 0;
  *v = strtod(s, &end);
  if (end == s || *end || errno || !isfinite(*v) || *v < 0)
    return cli_usage_error(cmd, "--%s '%s': must be a non-negative number", flag, s);
  return -1;
}

int cmd_compare_stages(const struct cli_cmd *cmd, int argc, char **argv)
{
  struct opts o = {0};
  const struct cli_opt opts[] = {
      {"atol", &o.atol, NULL}, {"rtol", &o.rtol, NULL}, {"nmse", &o.nmse, NULL}};
  int np, rc = cli_parse(cmd, argc, argv, opts, sizeof opts / sizeof opts[0], &np);
  if (rc >= 0) return rc;
  if (np != 2)
    return cli_usage_error(cmd, "expected two stage folders, got %d argument%s", np,
                           np == 1 ? "" : "s");
  if ((o.atol && (rc = parse_limit(cmd, "atol", o.atol, &o.v_atol)) >= 0) ||
      (o.rtol && (rc = parse_limit(cmd, "rtol", o.rtol, &o.v_rtol)) >= 0) ||
      (o.nmse && (rc = parse_limit(cmd, "nmse", o.nmse, &o.v_nmse)) >= 0))
    return rc;
  if (!is_dir(argv[1]) || !is_dir(argv[2])) return CLI_FAIL;
  struct index A = {0}, B = {0};
  rc = CLI_FAIL;
  if (read_index(argv[1], &A) == 0 && read_index(argv[2], &B) == 0)
    rc = compare(&A, &B, &o);
  free(A.s);
  free(B.s);
  return rc;
}

int vss_cmd_compare_stages(int argc, char **argv)
{
  static const struct cli_cmd cmd = VSS_CMD_COMPARE_STAGES;
  return cmd_compare_stages(&cmd, argc, argv);
}
