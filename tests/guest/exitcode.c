/* exitcode: exit with the value of "code=N" (decimal or 0x-hex, 0..255) from
 * the command line; without it, print a complaint and exit 0x33. */
#include "kit.h"

int payload_main(void)
{
	uint64_t code = kit_cmdline_u64("code=", 0x1000);
	if (code > 255) {
		kit_printf("exitcode: no valid code=N in \"%s\"\n", kit_cmdline());
		return KIT_EXIT_FAIL;
	}
	return (int)code;
}
