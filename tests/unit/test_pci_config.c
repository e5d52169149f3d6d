/* PCI bus 0 (pci/pci.c) through the VM's buses, as a guest reaches it:
 * configuration mechanism #1, ECAM, BAR sizing, moves and decode enables,
 * window placement, status and command, capabilities, and hostile
 * configuration and BAR accesses. Fixture: pci_fixture.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include "unit/pci_fixture.h"

/* ---- configuration space ---- */

static void test_host_bridge_cf8(void **state)
{
	struct fx *x = *state;
	assert_int_equal(cf8_rd(x, 0, 0, 4), 0x0d578086);
	assert_int_equal(cf8_rd(x, 0, 2, 2), 0x0d57);
	assert_int_equal(cf8_rd(x, 0, 3, 1), 0x0d);
	assert_int_equal(cf8_rd(x, 0, 8, 4) >> 8, 0x060000);		/* host bridge */
	assert_int_equal(cf8_rd(x, 0, 0x0e, 1), 0);			/* type 0 */
	assert_int_equal(cf8_rd(x, 0, 0x3d, 1), 0);			/* no INTx pin */
	/* The latch: bits 30-24 and 1-0 read as zero (Linux's type-1 probe). */
	io_wr(&x->pio, 0xcf8, 4, 0x80000000u);
	assert_int_equal(io_rd(&x->pio, 0xcf8, 4), 0x80000000u);
	io_wr(&x->pio, 0xcf8, 4, 0xffffffffu);
	assert_int_equal(io_rd(&x->pio, 0xcf8, 4), 0x80fffffcu);
	/* Enable clear, or bus 1: all-ones. */
	io_wr(&x->pio, 0xcf8, 4, 0);
	assert_int_equal(io_rd(&x->pio, 0xcfc, 4), 0xffffffffu);
	io_wr(&x->pio, 0xcf8, 4, 0x80010000u);
	assert_int_equal(io_rd(&x->pio, 0xcfc, 4), 0xffffffffu);
	/* Absent slots and functions. */
	assert_int_equal(cf8_rd(x, 7, 0, 4), 0xffffffffu);
	io_wr(&x->pio, 0xcf8, 4, 0x80000100u);			/* 00:00.1 */
	assert_int_equal(io_rd(&x->pio, 0xcfc, 4), 0xffffffffu);
	/* Byte writes to 0xCFB (Linux's probe) change nothing. */
	io_wr(&x->pio, 0xcf8, 4, 0x80000000u);
	io_wr(&x->pio, 0xcfb, 1, 0x01);
	assert_int_equal(io_rd(&x->pio, 0xcf8, 4), 0x80000000u);
	assert_int_equal(io_rd(&x->pio, 0xcfa, 2), 0xffff);
	/* 0xCF9 still reaches the reset register. */
	io_wr(&x->pio, 0xcf9, 1, 0x06);
	assert_int_equal(x->f.reset_writes, 1);
	assert_int_equal(io_rd(&x->pio, 0xcf9, 1), 0x06);
	/* Read-only identity. */
	cf8_wr(x, 0, 0, 4, 0);
	assert_int_equal(cf8_rd(x, 0, 0, 4), 0x0d578086);
	/* Unaligned data accesses and ones crossing 0xCFF read all-ones. */
	io_wr(&x->pio, 0xcf8, 4, 0x80000000u);
	assert_int_equal(io_rd(&x->pio, 0xcfd, 2), 0xffff);
	assert_int_equal(io_rd(&x->pio, 0xcfe, 4), 0xffffffffu);
	assert_int_equal(io_rd(&x->pio, 0xcfd, 4), 0xffffffffu);
}

static void test_host_bridge_ecam(void **state)
{
	struct fx *x = *state;
	assert_int_equal(ecam_rd(x, 0, 0, 4), 0x0d578086);
	assert_int_equal(ecam_rd(x, 0, 2, 2), 0x0d57);
	assert_int_equal(ecam_rd(x, 0, 1, 1), 0x80);
	assert_int_equal(ecam_rd(x, 0, 0, 8) & 0xffffffff, 0x0d578086);
	assert_int_equal((ecam_rd(x, 0, 8, 8) >> 8) & 0xffffff, 0x060000);
	/* Absent device, function, extended space of nothing: all-ones. */
	assert_int_equal(ecam_rd(x, 5 << 3, 0, 4), 0xffffffffu);
	assert_int_equal(ecam_rd(x, 1, 0, 4), 0xffffffffu);
	assert_int_equal(ecam_rd(x, 0xff, 0xffc, 4), 0xffffffffu);
	/* Present device, extended space: zeros (no extended capabilities). */
	assert_int_equal(ecam_rd(x, 0, 0x100, 4), 0);
	assert_int_equal(ecam_rd(x, 0, 0xffc, 4), 0);
	/* Unaligned. */
	assert_int_equal(ecam_rd(x, 0, 1, 2), 0xffff);
	assert_int_equal(ecam_rd(x, 0, 2, 4), 0xffffffffu);
	assert_int_equal(ecam_rd(x, 0, 4, 8), ~0ULL);
	/* Both mechanisms see the same space. */
	ecam_wr(x, 0, 0x0c, 1, 0x10);				/* cache line size */
	assert_int_equal(cf8_rd(x, 0, 0x0c, 1), 0x10);
}

static void test_bar_sizing(void **state)
{
	struct fx *x = *state;
	struct tdev t;
	tdev_init(&t, &x->f, false);
	struct skiff_err e = { "" };
	assert_int_equal(pci_bus_add(x->pci, &t.pci, &e), 1);
	assert_int_equal(t.pci.slot, 1);
	assert_int_equal(cf8_rd(x, 1, 0, 4), 0x56781234);
	assert_int_equal(cf8_rd(x, 1, 0x2c, 4), 0x11001af4);
	assert_int_equal(cf8_rd(x, 1, 8, 4), 0xff000003);
	/* Placement: 32-bit BARs and the small 64-bit one in the 32-bit window. */
	uint32_t b0 = cf8_rd(x, 1, 0x10, 4), b1 = cf8_rd(x, 1, 0x14, 4);
	uint32_t b2 = cf8_rd(x, 1, 0x18, 4), b3 = cf8_rd(x, 1, 0x1c, 4);
	assert_int_equal(b0 & 0xf, 0);
	assert_true(b0 >= PCI_MMIO32_BASE && b0 + 0x4000 <= PCI_MMIO32_BASE + PCI_MMIO32_SIZE);
	assert_int_equal(b0 % 0x4000, 0);
	assert_int_equal(b1 & 3, 1);
	assert_true((b1 & ~3u) >= PCI_IO_BASE && (b1 & ~3u) + 32 <= PCI_IO_BASE + PCI_IO_SIZE);
	assert_int_equal(b2 & 0xf, 0xc);			/* 64-bit, prefetchable */
	assert_int_equal(b3, 0);
	assert_true((b2 & ~0xfu) >= PCI_MMIO32_BASE);
	assert_int_equal(t.pci.bar[0].addr, b0);
	/* Sizing (PCI 3.0 §6.2.5.1): all-ones reads back the size mask. */
	cf8_wr(x, 1, 0x10, 4, 0xffffffff);
	assert_int_equal(cf8_rd(x, 1, 0x10, 4), 0xffffc000);
	cf8_wr(x, 1, 0x14, 4, 0xffffffff);
	assert_int_equal(cf8_rd(x, 1, 0x14, 4), 0xffffffe1);
	ecam_wr(x, 1 << 3, 0x18, 8, ~0ULL);
	assert_int_equal(ecam_rd(x, 1 << 3, 0x18, 8), 0xffffffffffffc00cULL);
	/* The expansion ROM and unused BARs are not implemented. */
	cf8_wr(x, 1, 0x30, 4, 0xffffffff);
	assert_int_equal(cf8_rd(x, 1, 0x30, 4), 0);
	cf8_wr(x, 1, 0x20, 4, 0xffffffff);
	assert_int_equal(cf8_rd(x, 1, 0x20, 4), 0);
	/* Restore. */
	cf8_wr(x, 1, 0x10, 4, b0);
	cf8_wr(x, 1, 0x14, 4, b1);
	cf8_wr(x, 1, 0x18, 4, b2);
	cf8_wr(x, 1, 0x1c, 4, b3);
	assert_int_equal(cf8_rd(x, 1, 0x10, 4), b0);
	assert_int_equal(cf8_rd(x, 1, 0x14, 4), b1);
	assert_int_equal(ecam_rd(x, 1 << 3, 0x18, 8), b2);
	assert_int_equal(t.nmoved, 0);		/* decoding was off throughout */
}

static void test_bar_decode_and_moves(void **state)
{
	struct fx *x = *state;
	struct tdev t;
	tdev_init(&t, &x->f, false);
	struct skiff_err e = { "" };
	assert_int_equal(pci_bus_add(x->pci, &t.pci, &e), 1);
	uint64_t a0 = t.pci.bar[0].addr, a1 = t.pci.bar[1].addr, a2 = t.pci.bar[2].addr;
	/* Decoding off: nothing reaches the device. */
	assert_int_equal(io_rd(&x->mmio, a0 + 8, 4), 0xffffffffu);
	assert_int_equal(io_rd(&x->pio, a1, 2), 0xffff);
	assert_int_equal(t.nacc[0] + t.nacc[1] + t.nacc[2], 0);
	/* Memory decode on: BARs 0 and 2 move in, the I/O BAR stays off. */
	cf8_wr(x, 1, 4, 2, 0x0002);
	assert_int_equal(t.nmoved, 2);
	assert_int_equal(t.moved_bar[0], 0);
	assert_int_equal(t.moved_addr[0], a0);
	assert_int_equal(t.moved_bar[1], 2);
	assert_int_equal(t.moved_addr[1], a2);
	assert_int_equal(io_rd(&x->mmio, a0 + 8, 4), 0x55667790);
	assert_int_equal(t.last_off[0], 8);
	assert_int_equal(t.last_len[0], 4);
	io_wr(&x->mmio, a2 + 0x3ff8, 8, 0xdeadbeefcafef00dULL);
	assert_int_equal(t.last_off[2], 0x3ff8);
	assert_int_equal(t.last_val[2], 0xdeadbeefcafef00dULL);
	/* An access straddling the BAR's end reaches nothing. */
	int before = t.nacc[0];
	assert_int_equal(io_rd(&x->mmio, a0 + 0x3ffc, 8), ~0ULL);
	assert_int_equal(t.nacc[0], before);
	assert_int_equal(io_rd(&x->pio, a1, 2), 0xffff);
	/* I/O decode on. */
	cf8_wr(x, 1, 4, 2, 0x0003);
	assert_int_equal(t.nmoved, 3);
	assert_int_equal(t.moved_bar[2], 1);
	assert_int_equal(io_rd(&x->pio, a1 + 4, 2), 0x778c);
	assert_int_equal(t.last_off[1], 4);
	/* The guest moves BAR 0 inside the window: the old address is dead. */
	uint64_t n0 = PCI_MMIO32_BASE + 0x10000000;
	cf8_wr(x, 1, 0x10, 4, (uint32_t)n0);
	assert_int_equal(t.nmoved, 4);
	assert_int_equal(t.moved_bar[3], 0);
	assert_int_equal(t.moved_addr[3], n0);
	assert_int_equal(t.pci.bar[0].addr, n0);
	before = t.nacc[0];
	assert_int_equal(io_rd(&x->mmio, a0, 4), 0xffffffffu);
	assert_int_equal(t.nacc[0], before);
	assert_int_equal(io_rd(&x->mmio, n0, 4), 0x55667788);
	/* ... and the 64-bit BAR to the 64-bit window, in two halves. */
	uint64_t n2 = 0x100000000ULL + 0x40000;
	cf8_wr(x, 1, 0x1c, 4, (uint32_t)(n2 >> 32));	/* transient: off */
	cf8_wr(x, 1, 0x18, 4, (uint32_t)n2);
	assert_int_equal(t.moved_addr[t.nmoved - 1], n2);
	io_wr(&x->mmio, n2 + 16, 4, 7);
	assert_int_equal(t.last_off[2], 16);
	/* Outside every window: decoding stops (bar_moved with 0). */
	cf8_wr(x, 1, 0x10, 4, 0x10000000);
	assert_int_equal(t.moved_bar[t.nmoved - 1], 0);
	assert_int_equal(t.moved_addr[t.nmoved - 1], 0);
	assert_int_equal(io_rd(&x->mmio, n0, 4), 0xffffffffu);
	/* Command register off: everything stops. */
	int moved = t.nmoved;
	cf8_wr(x, 1, 4, 2, 0);
	assert_int_equal(t.nmoved, moved + 2);
	assert_int_equal(t.moved_addr[moved], 0);
	assert_int_equal(t.moved_addr[moved + 1], 0);
	assert_int_equal(io_rd(&x->mmio, n2 + 16, 4), 0xffffffffu);
	assert_int_equal(io_rd(&x->pio, a1, 1), 0xff);
}

static void test_window_placement(void **state)
{
	struct fx *x = *state;
	struct skiff_err e = { "" };
	/* A 1 GiB 64-bit BAR does not fit the 512 MiB window: it goes high. */
	struct tdev big;
	memset(&big, 0, sizeof(big));
	pci_dev_init(&big.pci, "big", 1, 2, 0, 0, 0, 0);
	big.pci.opaque = &big;
	assert_int_equal(pci_dev_set_bar(&big.pci, 4, 1ULL << 30, PCI_BAR_MEM64, bar2_io, &big), 0);
	assert_int_equal(pci_bus_add(x->pci, &big.pci, &e), 1);
	assert_int_equal(big.pci.bar[4].addr, 0x100000000ULL);	/* RAM-less host: 4 GiB */
	assert_int_equal(ecam_rd(x, 1 << 3, 0x20, 8), 0x100000004ULL);
	cf8_wr(x, 1, 4, 2, 2);
	io_wr(&x->mmio, 0x100000000ULL + (1ULL << 30) - 4, 4, 1);
	assert_int_equal(big.nacc[2], 1);
	assert_int_equal(big.last_off[2], (1ULL << 30) - 4);
	/* A 32-bit BAR bigger than the window is refused. */
	struct tdev huge;
	pci_dev_init(&huge.pci, "huge", 1, 2, 0, 0, 0, 0);
	assert_int_equal(pci_dev_set_bar(&huge.pci, 0, 1ULL << 31, 0, bar0_io, &huge), 0);
	assert_int_equal(pci_bus_add(x->pci, &huge.pci, &e), -ENOSPC);
	assert_non_null(strstr(e.msg, "huge"));
	assert_null(huge.pci.bus);
	/* Bad BAR declarations. */
	struct pci_device d;
	pci_dev_init(&d, "bad", 1, 2, 0, 0, 0, 0);
	assert_int_equal(pci_dev_set_bar(&d, 6, 4096, 0, bar0_io, NULL), -EINVAL);
	assert_int_equal(pci_dev_set_bar(&d, -1, 4096, 0, bar0_io, NULL), -EINVAL);
	assert_int_equal(pci_dev_set_bar(&d, 0, 4095, 0, bar0_io, NULL), -EINVAL);
	assert_int_equal(pci_dev_set_bar(&d, 0, 8, 0, bar0_io, NULL), -EINVAL);
	assert_int_equal(pci_dev_set_bar(&d, 0, 512, PCI_BAR_IO, bar0_io, NULL), -EINVAL);
	assert_int_equal(pci_dev_set_bar(&d, 0, 16, PCI_BAR_IO | PCI_BAR_MEM64, bar0_io, NULL), -EINVAL);
	assert_int_equal(pci_dev_set_bar(&d, 0, 4096, 0, NULL, NULL), -EINVAL);
	assert_int_equal(pci_dev_set_bar(&d, 5, 4096, PCI_BAR_MEM64, bar0_io, NULL), -EINVAL);
	assert_int_equal(pci_dev_set_bar(&d, 2, 4096, PCI_BAR_MEM64, bar0_io, NULL), 0);
	assert_int_equal(pci_dev_set_bar(&d, 3, 4096, 0, bar0_io, NULL), -EINVAL);
	assert_int_equal(pci_dev_set_bar(&d, 2, 4096, 0, bar0_io, NULL), -EINVAL);
	assert_int_equal(pci_dev_set_bar(&d, 1, 4096, PCI_BAR_MEM64, bar0_io, NULL), -EINVAL);
	/* Slots run out after 31 devices. */
	static struct pci_device many[31];
	for (int i = 0; i < 30; i++) {
		pci_dev_init(&many[i], "many", 1, 2, 0, 0, 0, 0);
		assert_int_equal(pci_bus_add(x->pci, &many[i], &e), i + 2);
	}
	pci_dev_init(&many[30], "one too many", 1, 2, 0, 0, 0, 0);
	assert_int_equal(pci_bus_add(x->pci, &many[30], &e), -ENOSPC);
	assert_int_equal(pci_bus_add(x->pci, &many[0], &e), -EINVAL);	/* twice */
}

static void test_status_and_command(void **state)
{
	struct fx *x = *state;
	struct tdev t;
	tdev_init(&t, &x->f, false);
	struct skiff_err e = { "" };
	assert_int_equal(pci_bus_add(x->pci, &t.pci, &e), 1);
	/* Only the implemented command bits stick. */
	cf8_wr(x, 1, 4, 2, 0xffff);
	assert_int_equal(cf8_rd(x, 1, 4, 2), 0x0547);
	cf8_wr(x, 1, 4, 2, 0);
	/* Status: error bits are write-1-to-clear, the rest read-only. */
	t.pci.cfg[7] |= 0x80 | 0x20;		/* detected parity error, received master abort */
	cf8_wr(x, 1, 6, 2, 0);
	assert_int_equal(cf8_rd(x, 1, 6, 2), 0xa000);
	cf8_wr(x, 1, 6, 2, 0x8000);
	assert_int_equal(cf8_rd(x, 1, 6, 2), 0x2000);
	cf8_wr(x, 1, 4, 4, 0xffff0000);		/* dword write: command 0, clear all */
	assert_int_equal(cf8_rd(x, 1, 4, 4), 0);
	/* Interrupt line is writable, pin is not; the bus set the line. */
	assert_int_equal(cf8_rd(x, 1, 0x3c, 2), 0x0100 | (16 + 1));
	cf8_wr(x, 1, 0x3c, 2, 0x0000);
	assert_int_equal(cf8_rd(x, 1, 0x3c, 2), 0x0100);
	assert_int_equal(t.pci.intx_gsi, 17);
	/* Latency timer and cache line size are scratch registers. */
	ecam_wr(x, 8, 0x0c, 2, 0x4010);
	assert_int_equal(ecam_rd(x, 8, 0x0c, 2), 0x4010);
	assert_true(t.ncfg > 0);
}

static void test_capabilities(void **state)
{
	struct fx *x = *state;
	struct tdev t;
	tdev_init(&t, &x->f, true);
	int v1 = pci_dev_add_cap(&t.pci, 0x09, 16);
	int v2 = pci_dev_add_cap(&t.pci, 0x09, 19);
	assert_true(v1 > 0 && v2 > v1 && v1 % 4 == 0 && v2 % 4 == 0);
	assert_int_equal(pci_dev_add_cap(&t.pci, 0x09, 1), -EINVAL);
	assert_int_equal(pci_dev_add_cap(&t.pci, 0x09, 256), -ENOSPC);
	struct skiff_err e = { "" };
	assert_int_equal(pci_bus_add(x->pci, &t.pci, &e), 1);
	assert_int_not_equal(cf8_rd(x, 1, 6, 2) & 0x10, 0);		/* capability list */
	/* Walk as an OS does (PCI 3.0 §6.7): MSI-X, then the two vendor caps. */
	const uint8_t want[] = { 0x11, 0x09, 0x09 };
	uint32_t p = cf8_rd(x, 1, 0x34, 1);
	int n = 0;
	while (p && n < 48) {
		assert_true(p >= 0x40 && p % 4 == 0);
		assert_true(n < 3);
		assert_int_equal(cf8_rd(x, 1, p, 1), want[n]);
		p = cf8_rd(x, 1, p + 1, 1);
		n++;
	}
	assert_int_equal(n, 3);
	/* MSI-X: table size 4 (N - 1), table at 0x1000 and PBA at 0x1800 in BAR 0. */
	uint32_t c = cf8_rd(x, 1, 0x34, 1);
	assert_int_equal(cf8_rd(x, 1, c + 2, 2), 3);
	assert_int_equal(cf8_rd(x, 1, c + 4, 4), 0x1000);
	assert_int_equal(cf8_rd(x, 1, c + 8, 4), 0x1800);
	/* The capability structure is read-only but for Enable and Function Mask. */
	cf8_wr(x, 1, c, 4, 0xffffffff);
	assert_int_equal(cf8_rd(x, 1, c, 4), (0xc003u << 16) | (uint32_t)v1 << 8 | 0x11);
	cf8_wr(x, 1, c + 4, 4, 0);
	assert_int_equal(cf8_rd(x, 1, c + 4, 4), 0x1000);
	msix_destroy(&t.msix);
}

/* ---- hostile accesses ---- */

static void test_hostile(void **state)
{
	struct fx *x = *state;
	struct mx m;
	mx_init(x, &m);
	uint8_t buf[16];
	/* Every length, offset and devfn through the test hook: no crash, and
	 * anything not a naturally aligned 1/2/4/8 on a present function reads
	 * all-ones. */
	const uint32_t devfns[] = { 0, 1, 7, 8, 9, 16, 0xf8, 0xff, 0x100, 0x101, 0xffffffffu };
	const uint32_t offs[] = { 0, 1, 2, 3, 4, 6, 0xfc, 0xff, 0x100, 0xffc, 0xffd, 0xfff,
				  0x1000, 0x1001, 0xfffffffcu, 0xffffffffu };
	for (size_t i = 0; i < sizeof(devfns) / sizeof(devfns[0]); i++) {
		for (size_t j = 0; j < sizeof(offs) / sizeof(offs[0]); j++) {
			for (uint32_t len = 0; len <= 16; len++) {
				memset(buf, 0x5a, sizeof(buf));
				pci_bus_cfg_access(x->pci, devfns[i], offs[j], buf, len, false);
				bool present = devfns[i] == 0 || devfns[i] == 8;
				bool ok = present && (len == 1 || len == 2 || len == 4 || len == 8) &&
					  offs[j] % len == 0 && offs[j] < 4096;
				for (uint32_t k = 0; !ok && k < len; k++)
					assert_int_equal(buf[k], 0xff);
				assert_int_equal(buf[len < 16 ? len : 15], len < 16 ? 0x5a : buf[15]);
				memset(buf, 0xff, sizeof(buf));
				if (offs[j] >= 0x34 || offs[j] + len <= 4 || devfns[i] != 8)
					pci_bus_cfg_access(x->pci, devfns[i], offs[j], buf, len, true);
			}
		}
	}
	/* The device survived: identity intact, BAR 0 where it was. */
	assert_int_equal(cf8_rd(x, 1, 0, 4), 0x56781234);
	assert_int_equal(cf8_rd(x, 0, 0, 4), 0x0d578086);
	/* CF8 and ECAM with every size at every port/offset near the edges. */
	for (uint32_t len = 1; len <= 8; len *= 2) {
		for (uint64_t p = 0xcf0; p < 0xd08; p++) {
			io_wr(&x->pio, 0xcf8, 4, 0x80000800u | (uint32_t)(p & 0xfc));
			io_rd(&x->pio, p, len);
		}
		for (uint64_t o = 0; o < 16; o++) {
			io_rd(&x->mmio, PCI_ECAM_BASE + PCI_ECAM_SIZE - 8 + o, len);
			io_rd(&x->mmio, PCI_ECAM_BASE - 8 + o, len);
		}
	}
	/* The windows' edges, with the device's decoding off. */
	cf8_wr(x, 1, 4, 2, 0);
	const uint64_t edges[] = { PCI_MMIO32_BASE, PCI_MMIO32_BASE + PCI_MMIO32_SIZE - 4,
				   0x100000000ULL, 0x100000000ULL + PCI_MMIO64_SIZE - 4 };
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(io_rd(&x->mmio, edges[i], 4), 0xffffffffu);
		io_wr(&x->mmio, edges[i], 4, 0);
	}
	assert_int_equal(io_rd(&x->pio, PCI_IO_BASE, 4), 0xffffffffu);
	assert_int_equal(io_rd(&x->pio, 0xfffe, 2), 0xffff);
	msix_destroy(&m.t.msix);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_host_bridge_cf8, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_bridge_ecam, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bar_sizing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bar_decode_and_moves, setup, teardown),
		cmocka_unit_test_setup_teardown(test_window_placement, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_and_command, setup, teardown),
		cmocka_unit_test_setup_teardown(test_capabilities, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
