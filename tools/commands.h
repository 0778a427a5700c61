/* commands.h - vssbench commands kept in their own files (tools/ only).
 *
 * compare-stages (tools/cmd_compare_stages.c): compares two
 * `vssbench run --dump-stages` folders stage by stage.  The command table in
 * tools/vssbench.c takes it with one line:
 *
 *     VSS_CMD_COMPARE_STAGES,
 */
#ifndef VSS_COMMANDS_H
#define VSS_COMMANDS_H

#include "cli.h"

#define VSS_COMPARE_STAGES_USAGE \
  "compare-stages DIR_A DIR_B [--atol A] [--rtol R] [--nmse M]"
extern const char vss_compare_stages_help[];

/* The command-table entry: fn(cmd, argc, argv), argv[0] the command name. */
int cmd_compare_stages(const struct cli_cmd *cmd, int argc, char **argv);
#define VSS_CMD_COMPARE_STAGES \
  {"compare-stages", VSS_COMPARE_STAGES_USAGE, vss_compare_stages_help, \
   cmd_compare_stages}

/* The same command without a table: argv[0] is "compare-stages", argv[1..]
 * its arguments.  Exit status: 0 every stage agrees, 1 a stage diverges (or
 * is absent from DIR_B, or a file cannot be read), 2 a usage error. */
int vss_cmd_compare_stages(int argc, char **argv);

#endif
