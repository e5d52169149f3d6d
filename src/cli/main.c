/* skiff's command-line front end: a table of subcommands over the library
 * (kvmtool-style `skiff run ...`). Everything here is thin: parse, call the
 * library, map the result to an exit status. */
#include "cli/cli.h"
#include <stdio.h>
#include <string.h>

static int cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("skiff %s\n", SKIFF_VERSION);
	return 0;
}

static int cmd_help(int argc, char **argv);

static const struct cli_cmd commands[] = {
	{ "run", "boot a kernel in a new VM", cmd_run },
	{ "list", "list the VMs on this host", cmd_list },
	{ "pause", "pause a VM (skiff pause ID)", cmd_pause },
	{ "resume", "resume a paused VM", cmd_resume },
	{ "info", "show a VM's state and configuration as JSON", cmd_info },
	{ "stop", "stop a VM (power button, then at once; --force: at once)", cmd_stop },
	{ "limits", "show or set host-wide limits (VMs, guest memory)", cmd_limits },
	{ "version", "print the version", cmd_version },
	{ "help", "show this help, or a command's (skiff help run)", cmd_help },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static int cmd_help(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "run") == 0) {
		cli_run_usage(stdout);
		return 0;
	}
	if (argc > 1 && strcmp(argv[1], "api") == 0) {
		cli_api_usage(stdout);
		return 0;
	}
	if (argc > 1 && strcmp(argv[1], "list") == 0) {
		cli_list_usage(stdout);
		return 0;
	}
	if (argc > 1 && strcmp(argv[1], "limits") == 0) {
		cli_limits_usage(stdout);
		return 0;
	}
	if (argc > 1 && (!strcmp(argv[1], "pause") || !strcmp(argv[1], "resume") ||
			 !strcmp(argv[1], "info") || !strcmp(argv[1], "stop"))) {
		cli_control_usage(stdout);
		return 0;
	}
	printf("usage: skiff COMMAND [OPTIONS]\n\ncommands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		printf("  %-8s %s\n", commands[i].name, commands[i].summary);
	printf("\nskiff --api-sock PATH [--config-file PATH] [--no-api] serves Firecracker's API\n"
	       "(skiff help api). skiff --version prints the version. Exit status: see\n"
	       "skiff help run.\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		cmd_help(0, NULL);
		return SKIFF_EXIT_USAGE_CLI;
	}
	const char *c = argv[1];
	if (!strcmp(c, "--version") || !strcmp(c, "-V"))
		return cmd_version(0, NULL);
	if (!strcmp(c, "--help") || !strcmp(c, "-h"))
		return cmd_help(0, NULL);
	/* Firecracker's command line: options only. */
	if (c[0] == '-')
		return cmd_api(argc, argv);
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!strcmp(c, commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "skiff: unknown command '%s' (try: skiff help)\n", c);
	return SKIFF_EXIT_USAGE_CLI;
}
