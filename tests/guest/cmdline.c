/* cmdline: echo the kernel command line as the guest sees it:
 * "cmdline: <length>\n<the command line>\n", then exit 42. With "probe=V"
 * somewhere in it, also prints "probe: <V>\n" (kit_cmdline_get) and with a
 * word "flag", "flag: yes\n" (kit_cmdline_has). */
#include "kit.h"

int payload_main(void)
{
	const char *c = kit_cmdline();
	kit_printf("cmdline: %zu\n", strlen(c));
	kit_puts(c);
	kit_putc('\n');
	size_t len;
	const char *v = kit_cmdline_get("probe=", &len);
	if (v) {
		kit_puts("probe: ");
		kit_write(v, len);
		kit_putc('\n');
	}
	if (kit_cmdline_has("flag"))
		kit_puts("flag: yes\n");
	return KIT_EXIT_OK;
}
