/* allones: reads of unclaimed I/O ports and of unmapped MMIO in the PCI hole
 * must return all ones, at every access size; writes there are ignored.
 * Prints one line per check; exit 0x2a if all pass, else 0x33. */
#include "kit.h"

#define PROBE_MMIO 0xd0000000ULL	/* the kit maps this page of the PCI hole */

static int fails;

static void check(const char *what, uint64_t addr, uint64_t got, uint64_t want)
{
	bool ok = got == want;
	kit_printf("allones: %s 0x%lx = 0x%lx %s\n", what, addr, got, ok ? "ok" : "WRONG");
	if (!ok)
		fails++;
}

int payload_main(void)
{
	static const uint16_t ports[] = { 0x1234, 0x4321, 0xfff0 };
	for (unsigned i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
		uint16_t p = ports[i];
		check("inb", p, inb(p), 0xff);
		check("inw", p, inw(p), 0xffff);
		check("inl", p, inl(p), 0xffffffff);
	}
	/* Constant ports below 0x100 compile to the imm8 forms of IN. */
	check("inb imm8", 0xe0, inb(0xe0), 0xff);
	check("inw imm8", 0xe0, inw(0xe0), 0xffff);
	check("inl imm8", 0xe0, inl(0xe0), 0xffffffff);
	static const uint64_t addrs[] = { PROBE_MMIO, PROBE_MMIO + 0x1000, PROBE_MMIO + 0xff8 };
	for (unsigned i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		uint64_t a = addrs[i];
		check("mmio8", a, mmio_read8(a), 0xff);
		check("mmio16", a, mmio_read16(a), 0xffff);
		check("mmio32", a, mmio_read32(a), 0xffffffff);
		check("mmio64", a, mmio_read64(a), ~0ULL);
	}
	mmio_write32(PROBE_MMIO, 0x12345678);
	mmio_write64(PROBE_MMIO + 8, 0);
	outb(0x1234, 0);
	outw(0x1234, 0);
	outl(0x1234, 0);
	outb(0xe0, 0);
	outw(0xe0, 0);
	outl(0xe0, 0);
	check("mmio32 after write", PROBE_MMIO, mmio_read32(PROBE_MMIO), 0xffffffff);
	check("mmio64 after write", PROBE_MMIO + 8, mmio_read64(PROBE_MMIO + 8), ~0ULL);
	check("inb after write", 0x1234, inb(0x1234), 0xff);
	kit_printf("allones: %d failed\n", fails);
	return fails ? KIT_EXIT_FAIL : KIT_EXIT_OK;
}
