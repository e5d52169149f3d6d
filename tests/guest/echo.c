/* echo: reads COM1 (polling LSR.DR) and writes back each byte, letters
 * upper-cased; exits 42 on 'q'. Drives the console input tests. */
#include "kit.h"

#define COM1 0x3f8

int payload_main(void)
{
	kit_puts("echo: ready\n");
	for (;;) {
		while (!(inb(COM1 + 5) & 1))
			cpu_relax();
		char c = (char)inb(COM1);
		if (c == 'q')
			break;
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		kit_putc(c);
	}
	kit_puts("\necho: bye\n");
	return KIT_EXIT_OK;
}
