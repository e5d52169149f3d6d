/* spin: "exits=N" (default 1000) byte writes to port 0x80, each a VM exit,
 * then exit 42. Silent, for the exit round-trip benchmark; linked with the
 * boot-timer entry it is boottimer.elf. The writes run in a tight loop at
 * CPL0 (a kernel call), so that on KVM PVM they do not each take a #GP
 * first; "cpl3" on the command line issues them from CPL3 instead. */
#include "kit.h"

int payload_main(void)
{
	uint64_t n = kit_cmdline_u64("exits=", 1000);
	if (kit_cmdline_has("cpl3")) {
		for (uint64_t i = 0; i < n; i++)
			outb(0x80, (uint8_t)i);
	} else {
		kit_kcall(KIT_KCALL_OUT_LOOP, (long)n, 0x80);
	}
	return KIT_EXIT_OK;
}
