/* hello: a known text on COM1, byte for byte, then exit 42.
 * Line 1: "hello from the skiff guest kit\n"
 * Line 2: every byte 0x20..0x7e, then "\r\n"
 * Line 3: "bye\n" */
#include "kit.h"

int payload_main(void)
{
	kit_puts("hello from the skiff guest kit\n");
	for (int c = 0x20; c <= 0x7e; c++)
		kit_putc((char)c);
	kit_puts("\r\n");
	kit_puts("bye\n");
	return KIT_EXIT_OK;
}
