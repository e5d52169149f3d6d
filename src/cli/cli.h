/* Subcommand table entries for the skiff CLI (one file per subcommand). */
#ifndef SKIFF_CLI_H
#define SKIFF_CLI_H
#include <stdio.h>

#define SKIFF_EXIT_USAGE_CLI 2

struct cli_cmd {
	const char *name;
	const char *summary;
	int (*fn)(int argc, char **argv);	/* argv[0] is the command name */
};

int cmd_run(int argc, char **argv);
void cli_run_usage(FILE *f);
/* Firecracker-compatible mode: skiff --api-sock PATH [--config-file PATH]
 * [--no-api] ... (argv[0] is the program name). */
int cmd_api(int argc, char **argv);
void cli_api_usage(FILE *f);

/* Management of the host's VMs (docs/management.md): list.c, control.c,
 * limits.c. */
int cmd_list(int argc, char **argv);
void cli_list_usage(FILE *f);
int cmd_pause(int argc, char **argv);
int cmd_resume(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_stop(int argc, char **argv);
void cli_control_usage(FILE *f);
int cmd_limits(int argc, char **argv);
void cli_limits_usage(FILE *f);

struct skiff_result;
/* Print how the VM ended on stderr (nothing for a debug-exit) and return
 * its exit status. */
int cli_report_result(const struct skiff_result *res);

/* Block SIGINT/SIGTERM/SIGHUP in the process (before threads start) and
 * return a signalfd for them (-1 on failure); SIGPIPE is ignored. */
int cli_stop_signal_fd(void);

#endif
