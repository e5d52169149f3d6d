/* pcienum: enumerate PCI bus 0 through ECAM (ACPI MCFG) and through
 * configuration mechanism #1 (0xCF8/0xCFC), and check that both show the
 * same functions with the same headers. For every function it prints
 *   pci: 00:SS.F VVVV:DDDD class CCCCCC rev RR irq PIN/LINE
 *   pci: 00:SS.F bar I mem64|mem32|io 0xADDR size 0xSIZE
 * and checks BARs: sizes are powers of two, addresses aligned to them,
 * memory BARs inside the PCI windows (not in e820 RAM), no two overlap;
 * sizing restores them. Read-only header fields ignore writes. Then
 *   pci: N functions
 * and exits 0x2a, or 0x33 after "pci: FAIL ..." lines.
 * "cf8" on the command line enumerates through 0xCF8 only (no MCFG needed).
 * "maptest" only checks the kit's kit_map_mmio (see maptest()). */
#include "pci.h"

static int fails;

#define FAIL(...) do { kit_printf("pci: FAIL " __VA_ARGS__); fails++; } while (0)

struct bar {
	uint64_t lo, hi;
	uint16_t bdf;
	int i;
};

static bool in_ram(uint64_t lo, uint64_t hi)
{
	for (int i = 0; i < kit_e820_count(); i++) {
		const struct kit_e820 *e = kit_e820_entry(i);
		if (e->type == KIT_E820_RAM && lo < e->addr + e->size && e->addr < hi)
			return true;
	}
	return false;
}

/* Compare the first 64 bytes of every function's header, both ways. */
static void compare_methods(void)
{
	int diffs = 0;
	for (int dev = 0; dev < 32; dev++) {
		uint16_t bdf = PCI_BDF(0, dev, 0);
		for (uint16_t off = 0; off < 64; off += 4) {
			pci_init(PCI_ECAM);
			uint32_t a = pci_read32(bdf, off);
			pci_init(PCI_CF8);
			uint32_t b = pci_read32(bdf, off);
			if (a != b) {
				FAIL("00:%02x.0 offset 0x%02x: ECAM 0x%08x, CF8 0x%08x\n", dev, off, a, b);
				diffs++;
			}
			if (a == 0xffffffff && off == 0)
				break;
		}
	}
	/* sub-dword reads agree with the dword (CF8 byte lanes, ECAM sizes) */
	for (int m = PCI_ECAM; m <= PCI_CF8; m++) {
		pci_init(m);
		uint32_t v = pci_read32(0, 0);
		if (pci_read16(0, 2) != v >> 16 || pci_read8(0, 1) != ((v >> 8) & 0xff) ||
		    pci_read8(0, 3) != v >> 24)
			FAIL("%s: sub-dword reads of 00:00.0 disagree with 0x%08x\n",
			     m == PCI_ECAM ? "ECAM" : "CF8", v);
	}
	kit_printf("pci: ECAM and CF8 agree%s\n", diffs ? " NOT" : "");
}

/* "maptest": kit_map_mmio at the PCI hole, above the kit's 64 GiB and in a
 * second PML4 slot; unclaimed MMIO there reads all-ones. */
static void maptest(void)
{
	static const uint64_t addrs[] = { 0xc0000000ULL, 0xdfe00000ULL, 64ULL << 30, 100ULL << 30,
					  (1ULL << 40) + 0x200000 };
	for (unsigned i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		uint64_t a = addrs[i];
		if (kit_map_mmio(a, 4096)) {
			FAIL("kit_map_mmio(0x%lx) failed\n", a);
			continue;
		}
		uint32_t v = mmio_read32(a + 0x40);
		kit_printf("pci: maptest 0x%lx reads 0x%x\n", a, v);
		if (v != 0xffffffff)
			FAIL("0x%lx reads 0x%x, not all-ones\n", a, v);
	}
}

int payload_main(void)
{
	if (kit_cmdline_has("maptest")) {
		maptest();
		return fails ? KIT_EXIT_FAIL : KIT_EXIT_OK;
	}
	bool cf8_only = kit_cmdline_has("cf8");
	if (!cf8_only) {
		if (pci_init(PCI_ECAM))
			return KIT_EXIT_FAIL;
		kit_printf("pci: ECAM at 0x%lx\n", pci_ecam_base());
		compare_methods();
		pci_init(PCI_ECAM);
	} else if (pci_init(PCI_CF8)) {
		return KIT_EXIT_FAIL;
	}

	static struct bar bars[32 * 6];
	int nbars = 0, nfn = 0;
	for (int dev = 0; dev < 32; dev++) {
		for (int fn = 0; fn < 8; fn++) {
			uint16_t bdf = PCI_BDF(0, dev, fn);
			if (!pci_present(bdf)) {
				if (fn == 0)
					break;
				continue;
			}
			nfn++;
			uint32_t id = pci_read32(bdf, 0), cls = pci_read32(bdf, 8);
			uint8_t hdr = pci_read8(bdf, PCI_HEADER_TYPE);
			kit_printf("pci: 00:%02x.%x %04x:%04x class %06x rev %02x irq %u/%u\n", dev, fn,
				   id & 0xffff, id >> 16, cls >> 8, cls & 0xff,
				   pci_read8(bdf, PCI_INT_PIN), pci_read8(bdf, PCI_INT_LINE));
			/* read-only identity */
			pci_write32(bdf, 0, 0x12345678);
			pci_write32(bdf, 8, 0);
			if (pci_read32(bdf, 0) != id || pci_read32(bdf, 8) != cls)
				FAIL("00:%02x.%x: identity changed by a write\n", dev, fn);
			if ((hdr & 0x7f) == 0) {
				for (int i = 0; i < 6; i++) {
					bool is64, io;
					uint64_t a = pci_bar_addr(bdf, i, &is64, &io);
					uint64_t size = pci_bar_size(bdf, i);
					uint64_t again = pci_bar_addr(bdf, i, NULL, NULL);
					if (again != a)
						FAIL("00:%02x.%x bar %d: 0x%lx after sizing, was 0x%lx\n",
						     dev, fn, i, again, a);
					if (size) {
						kit_printf("pci: 00:%02x.%x bar %d %s 0x%lx size 0x%lx\n", dev,
							   fn, i, io ? "io" : is64 ? "mem64" : "mem32", a,
							   size);
						if (size & (size - 1))
							FAIL("bar size 0x%lx is not a power of two\n", size);
						else if (a & (size - 1))
							FAIL("bar 0x%lx not aligned to its size\n", a);
						if (!io && (a < 0xc0000000ULL || (a < 0x100000000ULL &&
						    a + size > 0xfec00000ULL)))
							FAIL("bar 0x%lx outside the PCI windows\n", a);
						if (!io && in_ram(a, a + size))
							FAIL("bar 0x%lx overlaps RAM\n", a);
						if (!io && nbars < 32 * 6)
							bars[nbars++] = (struct bar){ a, a + size, bdf, i };
					}
					if (is64)
						i++;
				}
			}
			if (fn == 0 && !(hdr & 0x80))
				break;
		}
	}
	for (int i = 0; i < nbars; i++)
		for (int j = i + 1; j < nbars; j++)
			if (bars[i].lo < bars[j].hi && bars[j].lo < bars[i].hi)
				FAIL("bars 0x%lx and 0x%lx overlap\n", bars[i].lo, bars[j].lo);
	/* an absent device and an absent function read all-ones */
	if (pci_read32(PCI_BDF(0, 31, 7), 0) != 0xffffffff)
		FAIL("00:1f.7 is not absent\n");
	if (pci_read16(0, 0) == 0xffff)
		FAIL("no host bridge at 00:00.0\n");
	else if ((pci_read32(0, 8) >> 8) != 0x060000)
		FAIL("00:00.0 class 0x%06x, not a host bridge\n", pci_read32(0, 8) >> 8);
	kit_printf("pci: %d functions\n", nfn);
	return fails ? KIT_EXIT_FAIL : KIT_EXIT_OK;
}
