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

#endif
