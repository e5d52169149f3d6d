/* fault: check the kit's exception path (TSS RSP0, IDT, report, exit code).
 * Command line "kind=pf" (default): read a non-present page (0x7fff00000000)
 * -> exit 0x80 + 14; "kind=ud": ud2 -> 0x86; "kind=de": divide by zero
 * -> 0x80; "kind=gp": non-canonical address -> 0x8d. */
#include "kit.h"

int payload_main(void)
{
	size_t len;
	const char *k = kit_cmdline_get("kind=", &len);
	if (!k || (len == 2 && !strncmp(k, "pf", 2))) {
		kit_puts("fault: reading 0x7fff00000000\n");
		(void)*(volatile uint64_t *)0x7fff00000000ULL;
	} else if (len == 2 && !strncmp(k, "ud", 2)) {
		kit_puts("fault: ud2\n");
		__asm__ volatile("xor %%eax, %%eax; ud2" ::: "rax");	/* not a kernel call */
	} else if (len == 2 && !strncmp(k, "de", 2)) {
		kit_puts("fault: dividing by zero\n");
		volatile uint32_t zero = 0;
		uint32_t a = 1, d = 0;
		__asm__ volatile("divl %2" : "+a"(a), "+d"(d) : "r"(zero));
	} else if (len == 2 && !strncmp(k, "gp", 2)) {
		kit_puts("fault: reading 0x8000000000000000\n");
		(void)*(volatile uint64_t *)0x8000000000000000ULL;
	}
	kit_puts("fault: no fault happened\n");
	return KIT_EXIT_FAIL;
}
