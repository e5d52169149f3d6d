/* How a VM ended, for the user: shared by `skiff run` and the API mode. */
#include "cli/cli.h"
#include "core/vm.h"
#include <stdio.h>

static const char *reason_text(const struct skiff_result *r)
{
	switch (r->reason) {
	case VM_STOP_POWEROFF: return "the guest powered off";
	case VM_STOP_RESET: return "the guest requested a reset";
	case VM_STOP_TRIPLE_FAULT: return "the guest triple-faulted (CPU shutdown)";
	case VM_STOP_DEBUG_EXIT: return "the guest wrote to the debug-exit port";
	case VM_STOP_QUIT: return "quit from the console";
	case VM_STOP_SIGNAL: return "stopped by a signal";
	case VM_STOP_HOST: return "stopped on request (skiff stop, action skiff_stop)";
	default: return "VMM error";
	}
}

int cli_report_result(const struct skiff_result *res)
{
	int status = skiff_exit_status(res);
	if (res->reason == VM_STOP_ERROR)
		fprintf(stderr, "skiff: error: %s\n", res->msg);
	else if (res->reason != VM_STOP_DEBUG_EXIT)
		fprintf(stderr, "skiff: %s (exit status %d)\n", reason_text(res), status);
	return status;
}
