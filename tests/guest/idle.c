/* idle: prints "idle ready" on COM1, then halts with interrupts off until
 * the VMM stops it: a guest that costs no host CPU, for the many-VM tests
 * (skiff list, pause, stop). */
#include "kit.h"

int payload_main(void)
{
	kit_puts("idle ready\n");
	kit_halt();
	return KIT_EXIT_FAIL;
}
