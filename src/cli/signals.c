/* Process signals for the front ends that run a VM (`skiff run`, API mode). */
#include "cli/cli.h"
#include <signal.h>
#include <sys/signalfd.h>

int cli_stop_signal_fd(void)
{
	/* SIGINT/SIGTERM/SIGHUP stop the VM cleanly (so a terminal is restored):
	 * blocked in every thread and read from a signalfd instead. Call before
	 * any thread exists, so that every thread inherits the mask. */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	/* A dead reader of our stdout must not kill us mid-write. */
	signal(SIGPIPE, SIG_IGN);
	return signalfd(-1, &sigs, SFD_CLOEXEC);
}
