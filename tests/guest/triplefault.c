/* triplefault: load an IDT with limit 0 and fault; skiff exits with 4.
 * Default: the fault is a ud2 at CPL3 after a kernel call broke the IDT;
 * "cpl0" on the command line: the kernel call faults at CPL0 itself. */
#include "kit.h"

int payload_main(void)
{
	bool cpl0 = kit_cmdline_has("cpl0");
	kit_printf("triplefault: breaking the IDT, faulting at CPL%d\n", cpl0 ? 0 : 3);
	if (cpl0) {
		kit_kcall(KIT_KCALL_TRIPLE, 0, 0);
	} else {
		kit_kcall(KIT_KCALL_BREAK_IDT, 0, 0);
		__asm__ volatile("xor %%eax, %%eax; ud2" ::: "rax");
	}
	kit_puts("triplefault: still running\n");
	return KIT_EXIT_FAIL;
}
