/* bss: a 24 MiB .bss array (the ELF's last PT_LOAD has p_memsz far beyond
 * p_filesz) must read as zeros; exits 42, or 0x33 at the first non-zero
 * word. The loader zero-fills it, but fresh guest RAM is zero as well, so
 * this mostly proves that the segment is placed and fits. Needs -m 32 or
 * more; with -m 16 skiff must refuse the ELF (the segment does not fit in
 * RAM). Linked at 0x8000 instead of 1 MiB it is low.elf, which skiff must
 * refuse because it overlaps skiff's boot structures. */
#include "kit.h"

#define BIG (24u << 20)
static uint64_t big[BIG / 8];

int payload_main(void)
{
	for (size_t i = 0; i < BIG / 8; i++)
		if (big[i]) {
			kit_printf("bss: word %zu at %p is 0x%lx\n", i, (void *)&big[i], big[i]);
			return KIT_EXIT_FAIL;
		}
	kit_printf("bss: %u MiB of zeros at %p\n", BIG >> 20, (void *)big);
	return KIT_EXIT_OK;
}
