/* PCI configuration access for the guest kit; see pci.h. */
#include "pci.h"

static enum pci_method method;
static uint64_t ecam_base;
static unsigned ecam_buses;		/* buses mapped from ecam_base */

static bool acpi_sum_ok(const uint8_t *p, uint32_t len)
{
	uint8_t s = 0;
	for (uint32_t i = 0; i < len; i++)
		s += p[i];
	return s == 0;
}

/* Only tables in RAM the kit maps (below 4 GiB here: skiff's ACPI tables
 * are below 1 MiB) are looked at. */
static bool table_ok(uint64_t a)
{
	if (!a || a >= 0xc0000000ULL)
		return false;
	uint32_t len = *(const uint32_t *)(a + 4);
	return len >= 36 && len < 0x100000 && acpi_sum_ok((const uint8_t *)a, len);
}

const void *pci_acpi_table(const char sig[4])
{
	const uint8_t *rsdp = NULL;
	for (uintptr_t a = 0xe0000; a < 0x100000; a += 16)
		if (!memcmp((const void *)a, "RSD PTR ", 8) && acpi_sum_ok((const void *)a, 20)) {
			rsdp = (const uint8_t *)a;
			break;
		}
	if (!rsdp)
		return NULL;
	uint64_t sdt;
	int esize;
	if (rsdp[15] >= 2 && *(const uint64_t *)(rsdp + 24)) {
		sdt = *(const uint64_t *)(rsdp + 24);
		esize = 8;
	} else {
		sdt = *(const uint32_t *)(rsdp + 16);
		esize = 4;
	}
	if (!table_ok(sdt))
		return NULL;
	uint32_t len = *(const uint32_t *)(sdt + 4);
	for (uint32_t off = 36; off + esize <= len; off += esize) {
		uint64_t t = esize == 8 ? *(const uint64_t *)(sdt + off) : *(const uint32_t *)(sdt + off);
		if (table_ok(t) && !memcmp((const void *)t, sig, 4))
			return (const void *)t;
	}
	return NULL;
}

/* MCFG (PCI Firmware 3.2 §4.1.2): 36-byte header, 8 reserved, then 16-byte
 * entries {base u64, segment u16, start bus u8, end bus u8, reserved u32}. */
static void find_ecam(void)
{
	const uint8_t *m = pci_acpi_table("MCFG");
	if (!m)
		return;
	uint32_t len = *(const uint32_t *)(m + 4);
	for (uint32_t off = 44; off + 16 <= len; off += 16) {
		uint64_t base = *(const uint64_t *)(m + off);
		uint16_t seg = *(const uint16_t *)(m + off + 8);
		uint8_t start = m[off + 10], end = m[off + 11];
		if (seg != 0 || start != 0 || end < start)
			continue;
		ecam_base = base;
		ecam_buses = end >= 1 ? 2 : 1;	/* bus 0, and bus 1 to probe absence */
		return;
	}
}

int pci_init(enum pci_method m)
{
	static bool searched;
	if (!searched) {
		find_ecam();
		searched = true;
	}
	if (m == PCI_ECAM) {
		if (!ecam_base) {
			kit_puts("pci: no ACPI MCFG table (no ECAM window)\n");
			return -1;
		}
		static bool mapped;
		if (!mapped && kit_map_mmio(ecam_base, (uint64_t)ecam_buses << 20)) {
			kit_printf("pci: cannot map the ECAM window at 0x%lx\n", ecam_base);
			return -1;
		}
		mapped = true;
	} else if (m != PCI_CF8) {
		return -1;
	}
	method = m;
	return 0;
}

enum pci_method pci_method(void) { return method; }
uint64_t pci_ecam_base(void) { return ecam_base; }

/* ECAM address, or 0 when bdf/off are outside what is mapped. */
static uint64_t ecam_addr(uint16_t bdf, uint16_t off)
{
	if ((bdf >> 8) >= ecam_buses || off >= 4096)
		return 0;
	return ecam_base + ((uint64_t)bdf << 12) + off;
}

static uint32_t cf8_addr(uint16_t bdf, uint16_t off)
{
	return 0x80000000u | (uint32_t)bdf << 8 | (off & 0xfc);
}

uint32_t pci_read32(uint16_t bdf, uint16_t off)
{
	if (method == PCI_ECAM) {
		uint64_t a = ecam_addr(bdf, off);
		return a ? mmio_read32(a) : 0xffffffff;
	}
	if (off >= 256)
		return 0xffffffff;
	outl(0xcf8, cf8_addr(bdf, off));
	return inl(0xcfc);
}

uint16_t pci_read16(uint16_t bdf, uint16_t off)
{
	if (method == PCI_ECAM) {
		uint64_t a = ecam_addr(bdf, off);
		return a ? mmio_read16(a) : 0xffff;
	}
	if (off >= 256)
		return 0xffff;
	outl(0xcf8, cf8_addr(bdf, off));
	return inw(0xcfc + (off & 2));
}

uint8_t pci_read8(uint16_t bdf, uint16_t off)
{
	if (method == PCI_ECAM) {
		uint64_t a = ecam_addr(bdf, off);
		return a ? mmio_read8(a) : 0xff;
	}
	if (off >= 256)
		return 0xff;
	outl(0xcf8, cf8_addr(bdf, off));
	return inb(0xcfc + (off & 3));
}

void pci_write32(uint16_t bdf, uint16_t off, uint32_t v)
{
	if (method == PCI_ECAM) {
		uint64_t a = ecam_addr(bdf, off);
		if (a)
			mmio_write32(a, v);
		return;
	}
	if (off >= 256)
		return;
	outl(0xcf8, cf8_addr(bdf, off));
	outl(0xcfc, v);
}

void pci_write16(uint16_t bdf, uint16_t off, uint16_t v)
{
	if (method == PCI_ECAM) {
		uint64_t a = ecam_addr(bdf, off);
		if (a)
			*(volatile uint16_t *)a = v;
		return;
	}
	if (off >= 256)
		return;
	outl(0xcf8, cf8_addr(bdf, off));
	outw(0xcfc + (off & 2), v);
}

void pci_write8(uint16_t bdf, uint16_t off, uint8_t v)
{
	if (method == PCI_ECAM) {
		uint64_t a = ecam_addr(bdf, off);
		if (a)
			mmio_write8(a, v);
		return;
	}
	if (off >= 256)
		return;
	outl(0xcf8, cf8_addr(bdf, off));
	outb(0xcfc + (off & 3), v);
}

bool pci_present(uint16_t bdf)
{
	return pci_read16(bdf, PCI_VENDOR_ID) != 0xffff;
}

uint64_t pci_bar_addr(uint16_t bdf, int i, bool *is64, bool *is_io)
{
	uint32_t lo = pci_read32(bdf, PCI_BAR0 + 4 * i);
	bool io = lo & 1, b64 = !io && ((lo >> 1) & 3) == 2 && i < 5;
	if (is64)
		*is64 = b64;
	if (is_io)
		*is_io = io;
	if (io)
		return lo & ~3u;
	uint64_t a = lo & ~0xfu;
	if (b64)
		a |= (uint64_t)pci_read32(bdf, PCI_BAR0 + 4 * (i + 1)) << 32;
	return a;
}

uint64_t pci_bar_size(uint16_t bdf, int i)
{
	uint16_t cmd = pci_read16(bdf, PCI_COMMAND);
	pci_write16(bdf, PCI_COMMAND, cmd & ~(PCI_CMD_IO | PCI_CMD_MEM));
	uint16_t off = PCI_BAR0 + 4 * i;
	uint32_t lo = pci_read32(bdf, off);
	bool io = lo & 1, b64 = !io && ((lo >> 1) & 3) == 2 && i < 5;
	uint32_t hi = b64 ? pci_read32(bdf, off + 4) : 0;
	pci_write32(bdf, off, 0xffffffff);
	uint32_t mlo = pci_read32(bdf, off), mhi = 0;
	if (b64) {
		pci_write32(bdf, off + 4, 0xffffffff);
		mhi = pci_read32(bdf, off + 4);
		pci_write32(bdf, off + 4, hi);
	}
	pci_write32(bdf, off, lo);
	pci_write16(bdf, PCI_COMMAND, cmd);
	if (io) {
		uint32_t m = mlo & 0xfffc;	/* 16-bit I/O decode */
		return m ? ((~m + 1) & 0xffff) : 0;
	}
	if (!b64) {
		uint32_t m = mlo & ~0xfu;
		return m ? (uint64_t)(uint32_t)(~m + 1) : 0;
	}
	uint64_t m = ((uint64_t)mhi << 32 | mlo) & ~0xfULL;
	return m ? ~m + 1 : 0;
}

uint8_t pci_find_cap(uint16_t bdf, uint8_t id, uint8_t from)
{
	if (!(pci_read16(bdf, PCI_STATUS) & PCI_STATUS_CAP_LIST))
		return 0;
	uint8_t p = from ? pci_read8(bdf, from + 1) : pci_read8(bdf, PCI_CAP_PTR);
	for (int n = 0; n < 48 && p >= 0x40; n++) {	/* at most 48 capabilities fit */
		p &= 0xfc;
		if (pci_read8(bdf, p) == id)
			return p;
		p = pci_read8(bdf, p + 1);
	}
	return 0;
}

void pci_enable(uint16_t bdf, uint16_t cmd_bits)
{
	pci_write16(bdf, PCI_COMMAND, pci_read16(bdf, PCI_COMMAND) | cmd_bits);
}
