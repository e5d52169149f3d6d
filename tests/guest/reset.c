/* reset: pulse the reset line through the i8042 (0xFE to port 0x64); skiff
 * exits with 3. If the guest is still running after that, exit 0x33. */
#include "kit.h"

int payload_main(void)
{
	kit_puts("reset: writing 0xfe to port 0x64\n");
	outb(0x64, 0xfe);
	kit_delay_us(2000000);
	kit_puts("reset: still running\n");
	return KIT_EXIT_FAIL;
}
