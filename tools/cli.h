/* cli.h - what the vssbench command files share (tools/ only). */
#ifndef VSS_CLI_H
#define VSS_CLI_H

#include <stddef.h>

#define VSSBENCH_VERSION "0.1.0" /* as vss.pc.in */

/* Exit statuses: 0 success, 1 a failure (bad file, failed verification),
 * 2 a usage error (unknown command, flag or variant, bad value). */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

struct cli_cmd {
  const char *name;
  const char *usage; /* one line after "usage: vssbench " */
  const char *help;  /* the rest of --help */
  int (*fn)(const struct cli_cmd *cmd, int argc, char **argv);
};

/* One option of a command: --name VALUE (or --name=VALUE) when value is
 * non-NULL, else a flag that sets *flag to 1. */
struct cli_opt {
  const char *name;
  const char **value;
  int *flag;
};

/* Parses argv[1..argc-1] of a command.  Non-option arguments are moved to
 * the front of argv+1 and counted in *npos ("--" ends the options).
 * Returns -1 to go on, else the exit status: CLI_OK after printing --help,
 * CLI_USAGE after a one-line complaint and the usage line on stderr. */
int cli_parse(const struct cli_cmd *cmd, int argc, char **argv,
              const struct cli_opt *opts, size_t nopts, int *npos);

/* "vssbench <cmd>: <what>" and the usage line on stderr; CLI_USAGE. */
int cli_usage_error(const struct cli_cmd *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* "vssbench: <what>" on stderr; returns CLI_FAIL. */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* 1 when name is a variant of the registry or "best". */
int cli_known_variant(const char *name);
/* The name the program was run as (argv[0]), for repro lines. */
extern const char *cli_argv0;
/* VSS_VERBOSE is set to something other than "" or "0". */
int cli_verbose(void);

int cmd_run(const struct cli_cmd *cmd, int argc, char **argv);
int cmd_verify(const struct cli_cmd *cmd, int argc, char **argv);
int cmd_list(const struct cli_cmd *cmd, int argc, char **argv);

#endif
