/* vssbench.c - the command-line tool: run, verify, list, compare-stages
 * (DESIGN §6).
 *
 *   vssbench run --weights W --input X --output Y [--variant NAME] ...
 *   vssbench verify [--variant NAME|all] [--quiet] [--stages] [FILES|DIRS]
 *   vssbench list
 *
 * Uses only the public API (vss.h) and core's verification rule
 * (golden.h / tolerances.h).  One command per file: cmd_run.c,
 * cmd_verify.c; `list` is here.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "vss/vss.h"

const char *cli_argv0 = "vssbench";

static const struct cli_cmd commands[] = {
    {"run",
     "run --weights W --input X --output Y [--variant NAME] [--threads N] "
     "[--prefix P] [--dump-stages DIR] [--layout nhwc|nchw] [--post-norm] "
     "[--train [--drop-path P] [--seed S]]",
     "Runs one VSSBlock on tensor `x` (B,H,W,C) of X and writes `y` (F32, same\n"
     "shape) to Y, atomically: Y appears only when everything succeeded.\n"
     "  --weights W        safetensors file with the block's VMamba state_dict keys\n"
     "  --input X          safetensors file holding `x` (any float dtype)\n"
     "  --output Y         where to write `y`; must differ from W and X\n"
     "  --variant NAME     a variant of `vssbench list`, or best (default)\n"
     "  --threads N        threads for threaded variants, 1..1024 (others ignore it)\n"
     "  --prefix P         key prefix of the block in a whole-model file,\n"
     "                     e.g. layers.0.blocks.1.\n"
     "  --dump-stages DIR  also write every intermediate as DIR/NN_<name>.safetensors\n"
     "                     (one F32 tensor <name>, NN = call order) and DIR/INDEX\n"
     "                     (one line per stage: file, name, shape such as 1x5x7x16;\n"
     "                     stages are channel-last whatever --layout says)\n"
     "  --layout nchw      x and y are channel-first (B,C,H,W), as VMamba's released\n"
     "                     models hold activations; default nhwc (B,H,W,C)\n"
     "  --post-norm        x + norm(op(x)), x + norm2(mlp(x)): each LayerNorm after\n"
     "                     its branch (default: as the file's __metadata__ post_norm)\n"
     "  --train            training mode: drop_path (stochastic depth) is active\n"
     "  --drop-path P      drop_path rate in [0, 1): with --train, each sample's SS2D\n"
     "                     and MLP branch is dropped with probability P, else scaled\n"
     "                     by 1/(1-P) (timm); without --train it has no effect\n"
     "  --seed S           the drop_path mask's seed (0..2^64-1; vss_drop_mask in\n"
     "                     vss.h); --train without it draws one and prints `seed: S`\n"
     "                     on stderr.  --dump-stages writes the mask as drop_mask\n",
     cmd_run},
    {"verify",
     "verify [--variant NAME|all] [--quiet] [--stages] [FILES or DIRS...]",
     "Runs every golden case (*.safetensors; default folder: golden) with each\n"
     "variant and judges the residual branch y - x against the float64 truth\n"
     "with the limits of core/tolerances.h (derived from PyTorch's fp32 noise\n"
     "on that case).  One row per case x variant: verdict, max |err|, max |err|\n"
     "relative to max |branch|, NMSE, the used fraction of the limit, and the\n"
     "errors as multiples of PyTorch fp32's.  Exit 0 only if nothing is FAIL\n"
     "or MISTRUSTED.\n"
     "  --variant NAME|all  one variant, or every one this CPU can run (others\n"
     "                      print SKIP); default best\n"
     "  --quiet             print only failing rows and the summary\n"
     "  --stages            also compare every intermediate with the golden\n"
     "                      stages.* tensors, where the file has them\n",
     cmd_verify},
    {"list", "list",
     "Lists every variant: runnable here or not (and why), native or emulated,\n"
     "and which one `best` resolves to (after VSS_VARIANT and VSS_MAX_ISA).\n",
     cmd_list},
    VSS_CMD_COMPARE_STAGES,
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void print_usage(FILE *f)
{
  fprintf(f, "usage: vssbench [--help | --version] <command> [options]\n"
             "commands:\n");
  for (size_t i = 0; i < N_COMMANDS; i++)
    fprintf(f, "  vssbench %s\n", commands[i].usage);
}

int cli_verbose(void)
{
  const char *v = getenv("VSS_VERBOSE");
  return v && *v && strcmp(v, "0") != 0;
}

int cli_usage_error(const struct cli_cmd *cmd, const char *fmt, ...)
{
  va_list ap;
  fprintf(stderr, "vssbench %s: ", cmd->name);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\nusage: vssbench %s\n", cmd->usage);
  return CLI_USAGE;
}

int cli_error(const char *fmt, ...)
{
  va_list ap;
  fputs("vssbench: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  return CLI_FAIL;
}

int cli_known_variant(const char *name)
{
  struct vss_variant_info vi;
  if (!strcmp(name, "best")) return 1;
  for (size_t i = 0; vss_variant_info(i, &vi) == 0; i++)
    if (!strcmp(vi.name, name)) return 1;
  return 0;
}

static const struct cli_opt *find_opt(const struct cli_opt *opts, size_t nopts,
                                      const char *name, size_t len)
{
  for (size_t i = 0; i < nopts; i++)
    if (strlen(opts[i].name) == len && !strncmp(opts[i].name, name, len))
      return &opts[i];
  return NULL;
}

int cli_parse(const struct cli_cmd *cmd, int argc, char **argv,
              const struct cli_opt *opts, size_t nopts, int *npos)
{
  int np = 0, only_pos = 0;
  for (int i = 1; i < argc; i++) {
    char *a = argv[i];
    if (only_pos || a[0] != '-' || !a[1]) { argv[1 + np++] = a; continue; }
    if (!strcmp(a, "--")) { only_pos = 1; continue; }
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      printf("usage: vssbench %s\n\n%s", cmd->usage, cmd->help);
      return CLI_OK;
    }
    if (a[1] != '-') return cli_usage_error(cmd, "unknown option '%s'", a);
    const char *name = a + 2, *eq = strchr(name, '=');
    const size_t len = eq ? (size_t)(eq - name) : strlen(name);
    const struct cli_opt *o = find_opt(opts, nopts, name, len);
    if (!o) return cli_usage_error(cmd, "unknown option '--%.*s'", (int)len, name);
    if (!o->value) {
      if (eq) return cli_usage_error(cmd, "option '--%s' takes no value", o->name);
      *o->flag = 1;
      continue;
    }
    if (*o->value)
      return cli_usage_error(cmd, "option '--%s' given twice", o->name);
    if (eq) *o->value = eq + 1;
    else if (i + 1 < argc) *o->value = argv[++i];
    else return cli_usage_error(cmd, "option '--%s' needs a value", o->name);
  }
  *npos = np;
  return -1;
}

int cmd_list(const struct cli_cmd *cmd, int argc, char **argv)
{
  int np, rc = cli_parse(cmd, argc, argv, NULL, 0, &np);
  if (rc >= 0) return rc;
  if (np) return cli_usage_error(cmd, "unexpected argument '%s'", argv[1]);
  struct vss_variant_info vi;
  printf("%-10s %-9s %-9s %s\n", "variant", "runnable", "kind", "description");
  for (size_t i = 0; vss_variant_info(i, &vi) == 0; i++) {
    printf("%-10s %-9s %-9s %s", vi.name, vi.runnable ? "yes" : "no",
           vi.emulated ? "emulated" : "native", vi.desc);
    if (!vi.runnable) printf(" [cannot run: %s]", vi.why_not);
    putchar('\n');
  }
  const char *best = vss_best_variant();
  const char *forced = getenv("VSS_VARIANT");
  printf("best -> %s%s\n", best,
         forced && *forced && strcmp(forced, "best") ? " (forced by VSS_VARIANT)" : "");
  return CLI_OK;
}

int main(int argc, char **argv)
{
  if (argc > 0 && argv[0] && *argv[0]) cli_argv0 = argv[0];
  if (argc < 2) {
    print_usage(stderr);
    return CLI_USAGE;
  }
  const char *a = argv[1];
  if (!strcmp(a, "--help") || !strcmp(a, "-h") || !strcmp(a, "help")) {
    printf("vssbench %s - VMamba VSSBlock on the CPU: run, verify, list variants, compare stages\n\n",
           VSSBENCH_VERSION);
    print_usage(stdout);
    printf("\n`vssbench <command> --help` describes a command.  Environment:\n"
           "  VSS_VARIANT=name  what `best` means (fails if the CPU cannot run it)\n"
           "  VSS_MAX_ISA=none|avx2|avx512  caps the ISA the dispatcher may use\n"
           "  VSS_VERBOSE=1     prints the dispatcher's choice and why\n");
    return CLI_OK;
  }
  if (!strcmp(a, "--version")) {
    printf("vssbench %s\n", VSSBENCH_VERSION);
    return CLI_OK;
  }
  for (size_t i = 0; i < N_COMMANDS; i++)
    if (!strcmp(a, commands[i].name))
      return commands[i].fn(&commands[i], argc - 1, argv + 1);
  fprintf(stderr, "vssbench: unknown %s '%s'\n", a[0] == '-' ? "option" : "command", a);
  print_usage(stderr);
  return CLI_USAGE;
}
