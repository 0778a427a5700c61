/* cmd_verify.c - `vssbench verify`: every golden case x every variant,
 * judged by core's rule (golden.h: the residual branch y - x against the
 * float64 truth, limits from the case's PyTorch fp32 noise).
 */
#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "golden.h"

struct tally {
  int cases, pass, marginal, fail, mistrusted;
  int stages, stage_bad;
};

/* ------------------------------------------------------------ inputs */

struct list {
  char **s;
  size_t n, cap;
};

static int push(struct list *l, const char *s)
{
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 16;
    char **p = realloc(l->s, cap * sizeof *p);
    if (!p) return -1;
    l->s = p, l->cap = cap;
  }
  if (!(l->s[l->n] = strdup(s))) return -1;
  l->n++;
  return 0;
}

static void list_free(struct list *l)
{
  for (size_t i = 0; i < l->n; i++) free(l->s[i]);
  free(l->s);
}

static int is_case_file(const struct dirent *e)
{
  size_t n = strlen(e->d_name);
  return e->d_name[0] != '.' && n > 12 && !strcmp(e->d_name + n - 12, ".safetensors");
}

/* The case files of one argument: itself, or a folder's *.safetensors
 * sorted by name.  Returns 0, or -1 after an error line. */
static int add_cases(struct list *files, const char *arg)
{
  struct stat st;
  if (stat(arg, &st) != 0) { cli_error("%s: no such file or folder", arg); return -1; }
  if (!S_ISDIR(st.st_mode)) {
    if (push(files, arg)) { cli_error("out of memory"); return -1; }
    return 0;
  }
  struct dirent **ents;
  int n = scandir(arg, &ents, is_case_file, alphasort);
  if (n < 0) { cli_error("%s: cannot read the folder", arg); return -1; }
  int rc = n ? 0 : -1;
  if (!n) cli_error("%s: no *.safetensors files", arg);
  for (int i = 0; i < n; i++) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s%s%s", arg,
             arg[strlen(arg) - 1] == '/' ? "" : "/", ents[i]->d_name);
    if (!rc && push(files, path)) { cli_error("out of memory"); rc = -1; }
    free(ents[i]);
  }
  free(ents);
  return rc;
}

/* The variants to run: "all" = every runnable one (SKIP lines for the
 * rest); a name must be known (else usage error) and runnable here. */
static int pick_variants(const struct cli_cmd *cmd, const char *want, struct list *out)
{
  struct vss_variant_info vi;
  if (!want) want = "best";
  if (!cli_known_variant(want) && strcmp(want, "all") != 0)
    return cli_usage_error(cmd, "--variant '%s': unknown (see `vssbench list`)", want);
  if (!strcmp(want, "best")) return push(out, "best") ? cli_error("out of memory") : -1;
  for (size_t i = 0; vss_variant_info(i, &vi) == 0; i++) {
    if (strcmp(want, "all") != 0 && strcmp(want, vi.name) != 0) continue;
    if (!vi.runnable) {
      if (strcmp(want, "all") != 0)
        return cli_error("variant '%s' cannot run here: %s", vi.name, vi.why_not);
      printf("SKIP %s: %s\n", vi.name, vi.why_not);
    } else if (push(out, vi.name)) {
      return cli_error("out of memory");
    }
  }
  return -1;
}

/* ----------------------------------------------------------- printing */

static void print_bad(const struct vss_cmp *r, int ndim, const size_t *shape)
{
  const size_t shown = r->n_bad < VSS_CMP_MAX_BAD ? r->n_bad : VSS_CMP_MAX_BAD;
  for (size_t i = 0; i < shown; i++) {
    size_t c[VSS_MAX_DIMS];
    char at[160];
    int len = snprintf(at, sizeof at, "(");
    vss_unravel(r->bad_idx[i], ndim, shape, c);
    for (int k = 0; k < ndim; k++)
      len += snprintf(at + len, sizeof at - (size_t)len, "%s%zu", k ? "," : "", c[k]);
    printf("    at %s): got %.9g expected %.9g |diff| %.3g\n", at, r->bad_got[i],
           r->bad_exp[i], fabs(r->bad_got[i] - r->bad_exp[i]));
  }
}

static void print_why(const struct vss_cmp *r, const struct vss_limits *lim)
{
  if (r->verdict == VSS_MISTRUSTED)
    printf("    MISTRUSTED: at least half of the output is one exact value "
           "(zeros or a constant) while the truth is not\n");
  printf("    %zu of %zu points over atol %.3g + rtol %.3g*|exp|, %zu NaN/Inf "
         "mismatches; nmse %.3g (max %.3g)\n", r->n_bad, r->n, lim->atol, lim->rtol,
         r->n_nan_mismatch, r->nmse, lim->nmse_max);
}

static int judged_bad(enum vss_verdict v) { return v == VSS_FAIL || v == VSS_MISTRUSTED; }

/* ------------------------------------------------------------- stages */

#define MAX_STAGES 32
struct stage_res {
  char name[32];
  int ndim;
  size_t shape[VSS_MAX_DIMS];
  struct vss_cmp r;
  struct vss_limits lim;
};
struct stages {
  const struct vss_golden *g;
  int n;
  struct stage_res res[MAX_STAGES];
};

static int check_stage(void *ctx, const char *name, const float *data, int ndim,
                       const size_t *shape)
{
  struct stages *s = ctx;
  if (s->n >= MAX_STAGES) return 0;
  struct stage_res *e = &s->res[s->n];
  vss_status st = vss_golden_stage(s->g, name, data, ndim, shape, &e->r);
  if (st == VSS_ERR_MISSING) return 0;
  if (st) { cli_error("%s", vss_last_error()); memset(&e->r, 0, sizeof e->r); e->r.verdict = VSS_FAIL; }
  snprintf(e->name, sizeof e->name, "%s", name);
  e->ndim = ndim;
  memcpy(e->shape, shape, (size_t)ndim * sizeof *shape);
  e->lim = vss_stage_limits(e->r.max_abs_exp);
  s->n++;
  return 0;
}

static void print_stages(const struct stages *s, int quiet, struct tally *t)
{
  for (int i = 0; i < s->n; i++) {
    const struct stage_res *e = &s->res[i];
    const int bad = judged_bad(e->r.verdict);
    t->stages++;
    t->stage_bad += bad;
    if (quiet && !bad) continue;
    printf("  stage %-10s %-10s %10.3e %10.3e %10.3e %7.3g\n", e->name,
           vss_verdict_str(e->r.verdict), e->r.max_abs, e->r.max_rel, e->r.nmse,
           e->r.worst_frac);
    if (bad) {
      print_why(&e->r, &e->lim);
      print_bad(&e->r, e->ndim, e->shape);
    }
  }
}

/* --------------------------------------------------------------- cases */

struct vopts {
  int quiet, stages;
};

static void count(struct tally *t, enum vss_verdict v)
{
  switch (v) {
  case VSS_PASS: t->pass++; break;
  case VSS_MARGINAL: t->marginal++; break;
  case VSS_FAIL: t->fail++; break;
  case VSS_MISTRUSTED: t->mistrusted++; break;
  }
}

static void one(const struct vss_golden *g, const char *variant, const struct vopts *o,
                float *got, struct stages *stg, struct tally *t)
{
  struct vss_cmp r;
  char ran[32];
  const int with_stages = o->stages && g->has_stages;
  if (stg) { stg->g = g; stg->n = 0; }
  vss_status s = vss_golden_run(g, variant, with_stages ? check_stage : NULL, stg, got,
                                &r, ran, sizeof ran);
  if (s) {
    printf("%-12s %-9s %-10s %s\n", g->name, variant, "ERROR", vss_status_str(s));
    cli_error("%s", vss_last_error());
    t->fail++;
    return;
  }
  count(t, r.verdict);
  const int bad = judged_bad(r.verdict);
  if (!o->quiet || bad)
    printf("%-12s %-9s %-10s %10.3e %10.3e %10.3e %7.3g %8.3g %9.3g\n", g->name, ran,
           vss_verdict_str(r.verdict), r.max_abs, r.max_rel, r.nmse, r.worst_frac,
           r.max_abs / g->fp32_max_abs, r.nmse / g->fp32_nmse_branch);
  if (bad) {
    const char *seed = vss_st_meta(g->st, "seed");
    print_why(&r, &g->lim);
    printf("    %s of the branch y - x:\n",
           g->run.layout == VSS_NCHW ? "(b,c,h,w)" : "(b,h,w,c)");
    print_bad(&r, 4, g->dims);
    printf("    repro: %s verify --variant %s %s%s%s\n", cli_argv0, ran, g->path,
           seed ? "   # seed " : "", seed ? seed : "");
  }
  if (with_stages) print_stages(stg, o->quiet, t);
}

int cmd_verify(const struct cli_cmd *cmd, int argc, char **argv)
{
  const char *variant = NULL;
  struct vopts o = {0, 0};
  const struct cli_opt opts[] = {
      {"variant", &variant, NULL}, {"quiet", NULL, &o.quiet}, {"stages", NULL, &o.stages}};
  int np, rc = cli_parse(cmd, argc, argv, opts, sizeof opts / sizeof opts[0], &np);
  if (rc >= 0) return rc;

  struct list files = {0}, vars = {0};
  struct tally t = {0};
  struct stages *stg = NULL;
  int errors = 0;
  if ((rc = pick_variants(cmd, variant, &vars)) >= 0) goto out;
  if (!vars.n) { rc = cli_error("no variant can run here"); goto out; }
  for (int i = 0; i < (np ? np : 1); i++)
    errors += add_cases(&files, np ? argv[1 + i] : "golden") != 0;
  if (o.stages && !(stg = malloc(sizeof *stg))) { rc = cli_error("out of memory"); goto out; }

  if (!o.quiet)
    printf("%-12s %-9s %-10s %10s %10s %10s %7s %8s %9s\n", "case", "variant", "verdict",
           "max_abs", "max_rel", "nmse", "used", "abs/fp32", "nmse/fp32");
  for (size_t i = 0; i < files.n; i++) {
    struct vss_golden g;
    if (vss_golden_open(files.s[i], &g) != VSS_OK) {
      cli_error("%s", vss_last_error());
      errors++;
      continue;
    }
    float *got = malloc(g.n * sizeof *got);
    if (!got) {
      cli_error("%s: y: out of memory for %zu floats", g.path, g.n);
      errors++;
    }
    t.cases++;
    for (size_t v = 0; got && v < vars.n; v++) one(&g, vars.s[v], &o, got, stg, &t);
    free(got);
    vss_golden_close(&g);
  }
  printf("cases: %d variants: %zu pass: %d marginal: %d fail: %d mistrusted: %d\n",
         t.cases, vars.n, t.pass, t.marginal, t.fail + errors, t.mistrusted);
  if (o.stages)
    printf("stages: %d compared, %d fail or mistrusted\n", t.stages, t.stage_bad);
  rc = (t.fail || t.mistrusted || t.stage_bad || errors) ? CLI_FAIL : CLI_OK;
out:
  free(stg);
  list_free(&files);
  list_free(&vars);
  return rc;
}
