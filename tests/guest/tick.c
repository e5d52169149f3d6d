/* tick: prints "tick N" (N = 0, 1, 2, ...) on COM1 every "delay_ms=" ms
 * (default 20; TSC-timed as kit_delay_us), "count=N" lines (default 200),
 * then "tick done" and exit 42. For the pause/resume test: the lines must
 * stop while the VM is paused and go on without a gap when resumed. The
 * counting runs at CPL3. */
#include "kit.h"

int payload_main(void)
{
	uint64_t count = kit_cmdline_u64("count=", 200);
	uint64_t delay = kit_cmdline_u64("delay_ms=", 20);
	for (uint64_t i = 0; i < count; i++) {
		kit_printf("tick %u\n", (unsigned)i);
		kit_delay_us(delay * 1000);
	}
	kit_puts("tick done\n");
	return KIT_EXIT_OK;
}
