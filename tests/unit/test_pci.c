/* PCI bus 0 (pci/pci.c) and MSI-X (pci/msix.c) through the VM's buses, as
 * a guest reaches them: configuration mechanism #1, ECAM, BAR sizing, moves
 * and decode enables, capabilities, INTx, the MSI-X table and PBA, hostile
 * accesses; then the VM's interrupt services on real KVM and a tiny guest
 * that finds the host bridge and powers off. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include "unit/guest_elf.h"
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include "boot/layout.h"
#include "core/vm_internal.h"
#include "pci/msix.h"
#include "pci/pci.h"

/* ---- a host that records what it is asked ---- */

struct fake_host {
	struct dev_host h;
	int level[64];			/* last level per GSI, -1: never set */
	int nirq;
	int next_gsi, nalloc, nfree, nroute, nsignal;
	bool refuse_route;
	uint64_t route_addr[128];
	uint32_t route_data[128];
	int irqfd_efd[128];		/* per GSI, -1: none */
	uint64_t signal_addr;
	uint32_t signal_data;
	int reset_writes;		/* the 0xCF9 range */
	uint8_t reset_val;
};

static void fh_set_irq(void *ctx, uint32_t gsi, int level)
{
	struct fake_host *f = ctx;
	assert_true(gsi < 64 && (level == 0 || level == 1));
	f->level[gsi] = level;
	f->nirq++;
}

static int fh_msi_alloc(void *ctx)
{
	struct fake_host *f = ctx;
	if (f->next_gsi >= 128)
		return -ENOSPC;
	f->nalloc++;
	return f->next_gsi++;
}

static int fh_msi_route(void *ctx, uint32_t gsi, uint64_t addr, uint32_t data)
{
	struct fake_host *f = ctx;
	assert_true(gsi >= 24 && gsi < 128);
	if (f->refuse_route)
		return -EINVAL;
	f->nroute++;
	f->route_addr[gsi] = addr;
	f->route_data[gsi] = data;
	return 0;
}

static void fh_msi_free(void *ctx, uint32_t gsi)
{
	struct fake_host *f = ctx;
	(void)gsi;
	f->nfree++;
}

static int fh_irqfd(void *ctx, int efd, uint32_t gsi, int resample, bool assign)
{
	struct fake_host *f = ctx;
	assert_true(gsi < 128);
	assert_int_equal(resample, -1);
	if (assign) {
		assert_int_equal(f->irqfd_efd[gsi], -1);
		f->irqfd_efd[gsi] = efd;
	} else {
		assert_int_equal(f->irqfd_efd[gsi], efd);
		f->irqfd_efd[gsi] = -1;
	}
	return 0;
}

static int fh_signal_msi(void *ctx, uint64_t addr, uint32_t data)
{
	struct fake_host *f = ctx;
	f->nsignal++;
	f->signal_addr = addr;
	f->signal_data = data;
	return 0;
}

static void fh_reset_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct fake_host *f = opaque;
	assert_int_equal(off, 0);
	assert_int_equal(len, 1);
	if (is_write) {
		f->reset_writes++;
		f->reset_val = data[0];
	} else {
		data[0] = f->reset_val;
	}
}

/* ---- a test device: BAR 0 32-bit memory, BAR 1 I/O, BAR 2 64-bit ---- */

struct tdev {
	struct pci_device pci;
	struct msix msix;
	bool has_msix;
	int nacc[PCI_NUM_BARS];
	uint64_t last_off[PCI_NUM_BARS];
	uint32_t last_len[PCI_NUM_BARS];
	uint64_t last_val[PCI_NUM_BARS];
	int nmoved;
	int moved_bar[16];
	uint64_t moved_addr[16];
	int ncfg;
};

static void tdev_bar(struct tdev *t, int bar, uint64_t off, uint8_t *data, uint32_t len,
		     bool is_write)
{
	t->nacc[bar]++;
	t->last_off[bar] = off;
	t->last_len[bar] = len;
	uint64_t v = 0;
	if (is_write) {
		memcpy(&v, data, len < 8 ? len : 8);
		t->last_val[bar] = v;
	} else {
		v = 0x1122334455667788ULL + off;
		memcpy(data, &v, len < 8 ? len : 8);
	}
}

static void bar0_io(void *o, uint64_t off, uint8_t *d, uint32_t len, bool w)
{
	struct tdev *t = o;
	if (t->has_msix && msix_bar_access(&t->msix, off, d, len, w))
		return;
	tdev_bar(t, 0, off, d, len, w);
}

static void bar1_io(void *o, uint64_t off, uint8_t *d, uint32_t len, bool w) { tdev_bar(o, 1, off, d, len, w); }
static void bar2_io(void *o, uint64_t off, uint8_t *d, uint32_t len, bool w) { tdev_bar(o, 2, off, d, len, w); }

static void tdev_moved(struct pci_device *d, int bar, uint64_t addr)
{
	struct tdev *t = d->opaque;
	assert_true(t->nmoved < 16);
	t->moved_bar[t->nmoved] = bar;
	t->moved_addr[t->nmoved] = addr;
	t->nmoved++;
}

static void tdev_cfg_write(struct pci_device *d, uint32_t off, uint32_t len)
{
	struct tdev *t = d->opaque;
	t->ncfg++;
	if (t->has_msix)
		msix_cfg_write(&t->msix, off, len);
}

static void tdev_init(struct tdev *t, struct fake_host *f, bool with_msix)
{
	memset(t, 0, sizeof(*t));
	pci_dev_init(&t->pci, "tdev", 0x1234, 0x5678, 0xff0000, 0x1af4, 0x1100, 3);
	t->pci.opaque = t;
	t->pci.bar_moved = tdev_moved;
	t->pci.cfg_write = tdev_cfg_write;
	assert_int_equal(pci_dev_set_bar(&t->pci, 0, 0x4000, 0, bar0_io, t), 0);
	assert_int_equal(pci_dev_set_bar(&t->pci, 1, 32, PCI_BAR_IO, bar1_io, t), 0);
	assert_int_equal(pci_dev_set_bar(&t->pci, 2, 0x4000, PCI_BAR_MEM64 | PCI_BAR_PREFETCH,
					 bar2_io, t), 0);
	if (with_msix) {
		assert_int_equal(msix_init(&t->msix, &t->pci, &f->h, 4, 0, 0x1000, 0x1800), 0);
		t->has_msix = true;
	}
}

/* ---- fixture: buses, host, bus 0 ---- */

struct fx {
	struct fake_host f;
	struct bus pio, mmio;
	struct pci_bus *pci;
};

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));
	struct fake_host *f = &x->f;
	f->h = (struct dev_host){ .ctx = f, .set_irq = fh_set_irq, .msi_alloc = fh_msi_alloc,
				  .msi_route = fh_msi_route, .msi_free = fh_msi_free,
				  .irqfd = fh_irqfd, .signal_msi = fh_signal_msi };
	for (int i = 0; i < 64; i++)
		f->level[i] = -1;
	for (int i = 0; i < 128; i++)
		f->irqfd_efd[i] = -1;
	f->next_gsi = 24;
	bus_init(&x->pio, 0x10000);
	bus_init(&x->mmio, 0);
	/* The platform's reset register is there first; the bus takes it over. */
	assert_int_equal(bus_register(&x->pio, 0xcf9, 1, fh_reset_io, f, "reset"), 0);
	struct skiff_err e = { "" };
	assert_int_equal(pci_bus_create(&f->h, &x->pio, &x->mmio, &x->pci, &e), 0);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;
	pci_bus_destroy(x->pci);
	/* 0xCF9 is back, alone. */
	const struct bus_range *r = bus_find(&x->pio, 0xcf9, 1);
	assert_non_null(r);
	assert_int_equal(r->base, 0xcf9);
	assert_int_equal(x->pio.n, 1);
	assert_int_equal(x->mmio.n, 0);
	bus_destroy(&x->pio);
	bus_destroy(&x->mmio);
	free(x);
	return 0;
}

static uint64_t io_rd(struct bus *b, uint64_t a, uint32_t len)
{
	uint8_t d[8];
	memset(d, 0x5a, sizeof(d));
	bus_access(b, a, d, len, false);
	uint64_t v = 0;
	memcpy(&v, d, len);
	return v;
}

static void io_wr(struct bus *b, uint64_t a, uint32_t len, uint64_t v)
{
	uint8_t d[8];
	memcpy(d, &v, 8);
	bus_access(b, a, d, len, true);
}

/* Configuration through 0xCF8/0xCFC for slot `dev`, register `off`. */
static uint32_t cf8_rd(struct fx *x, uint32_t dev, uint32_t off, uint32_t len)
{
	io_wr(&x->pio, 0xcf8, 4, 0x80000000u | dev << 11 | (off & 0xfc));
	return (uint32_t)io_rd(&x->pio, 0xcfc + (off & 3), len);
}

static void cf8_wr(struct fx *x, uint32_t dev, uint32_t off, uint32_t len, uint32_t v)
{
	io_wr(&x->pio, 0xcf8, 4, 0x80000000u | dev << 11 | (off & 0xfc));
	io_wr(&x->pio, 0xcfc + (off & 3), len, v);
}

static uint64_t ecam_rd(struct fx *x, uint32_t devfn, uint32_t off, uint32_t len)
{
	return io_rd(&x->mmio, PCI_ECAM_BASE + ((uint64_t)devfn << 12) + off, len);
}

static void ecam_wr(struct fx *x, uint32_t devfn, uint32_t off, uint32_t len, uint64_t v)
{
	io_wr(&x->mmio, PCI_ECAM_BASE + ((uint64_t)devfn << 12) + off, len, v);
}

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

static void test_intx(void **state)
{
	struct fx *x = *state;
	struct skiff_err e = { "" };
	static struct tdev t[9];
	for (int i = 0; i < 9; i++) {
		tdev_init(&t[i], &x->f, false);
		assert_int_equal(pci_bus_add(x->pci, &t[i].pci, &e), i + 1);
	}
	/* Slot 1 and slot 9 share GSI 17: the line is wired-OR. */
	assert_int_equal(t[0].pci.intx_gsi, 17);
	assert_int_equal(t[8].pci.intx_gsi, 17);
	assert_int_equal(t[7].pci.intx_gsi, 16);
	pci_set_intx(&t[0].pci, 1);
	assert_int_equal(x->f.level[17], 1);
	assert_int_not_equal(cf8_rd(x, 1, 6, 2) & 0x8, 0);		/* interrupt status */
	assert_int_equal(cf8_rd(x, 9, 6, 2) & 0x8, 0);
	pci_set_intx(&t[8].pci, 1);
	int nirq = x->f.nirq;
	pci_set_intx(&t[0].pci, 0);
	assert_int_equal(x->f.level[17], 1);		/* slot 9 still holds it */
	assert_int_equal(x->f.nirq, nirq);
	pci_set_intx(&t[8].pci, 1);			/* no change, no call */
	assert_int_equal(x->f.nirq, nirq);
	pci_set_intx(&t[8].pci, 0);
	assert_int_equal(x->f.level[17], 0);
	/* Interrupt Disable holds the line low; status still shows the level. */
	pci_set_intx(&t[2].pci, 1);
	assert_int_equal(x->f.level[19], 1);
	cf8_wr(x, 3, 4, 2, 0x0400);
	assert_int_equal(x->f.level[19], 0);
	assert_int_not_equal(cf8_rd(x, 3, 6, 2) & 0x8, 0);
	pci_set_intx(&t[2].pci, 1);
	assert_int_equal(x->f.level[19], 0);
	cf8_wr(x, 3, 4, 2, 0);
	assert_int_equal(x->f.level[19], 1);
	pci_set_intx(&t[2].pci, 0);
	assert_int_equal(x->f.level[19], 0);
	/* A device on no bus: ignored. */
	struct pci_device lone;
	pci_dev_init(&lone, "lone", 1, 2, 0, 0, 0, 0);
	pci_set_intx(&lone, 1);
	for (int g = 16; g < 24; g++)
		assert_true(x->f.level[g] <= 0);
}

/* ---- MSI-X ---- */

static uint64_t efd_count(int fd)
{
	uint64_t v = 0;
	if (read(fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
		return 0;
	return v;
}

struct mx {
	struct tdev t;
	uint64_t tbl, pba;	/* GPAs */
	uint32_t cap;
};

static void mx_init(struct fx *x, struct mx *m)
{
	tdev_init(&m->t, &x->f, true);
	struct skiff_err e = { "" };
	assert_int_equal(pci_bus_add(x->pci, &m->t.pci, &e), 1);
	cf8_wr(x, 1, 4, 2, 0x0006);
	m->tbl = m->t.pci.bar[0].addr + 0x1000;
	m->pba = m->t.pci.bar[0].addr + 0x1800;
	m->cap = cf8_rd(x, 1, 0x34, 1);
}

static void msix_ctrl(struct fx *x, struct mx *m, uint16_t bits)
{
	cf8_wr(x, 1, m->cap + 2, 2, bits);
}

static void test_msix_table(void **state)
{
	struct fx *x = *state;
	struct mx m;
	mx_init(x, &m);
	/* Reset state: every vector masked, message zero. */
	for (int v = 0; v < 4; v++) {
		assert_int_equal(io_rd(&x->mmio, m.tbl + 16 * v + 12, 4), 1);
		assert_int_equal(io_rd(&x->mmio, m.tbl + 16 * v, 8), 0);
	}
	/* Dword and qword writes read back; reserved control bits read 0. */
	io_wr(&x->mmio, m.tbl + 16, 4, 0xfee01000);
	io_wr(&x->mmio, m.tbl + 20, 4, 0);
	io_wr(&x->mmio, m.tbl + 24, 8, 0xfffffffe00004041ULL);
	assert_int_equal(io_rd(&x->mmio, m.tbl + 16, 8), 0xfee01000);
	assert_int_equal(io_rd(&x->mmio, m.tbl + 24, 8), 0x0000000000004041ULL);
	assert_int_equal(m.t.msix.vec[1].data, 0x4041);
	/* Odd sizes and unaligned accesses: all-ones, nothing written. */
	assert_int_equal(io_rd(&x->mmio, m.tbl + 16, 2), 0xffff);
	assert_int_equal(io_rd(&x->mmio, m.tbl + 17, 1), 0xff);
	assert_int_equal(io_rd(&x->mmio, m.tbl + 20, 8), ~0ULL);
	assert_int_equal(io_rd(&x->mmio, m.tbl + 18, 4), 0xffffffffu);
	io_wr(&x->mmio, m.tbl + 16, 2, 0);
	io_wr(&x->mmio, m.tbl + 16, 1, 0);
	io_wr(&x->mmio, m.tbl + 20, 8, 0);
	assert_int_equal(io_rd(&x->mmio, m.tbl + 16, 4), 0xfee01000);
	/* Straddling the table's start or end: not the device's register. */
	assert_int_equal(io_rd(&x->mmio, m.tbl - 4, 8), ~0ULL);
	assert_int_equal(io_rd(&x->mmio, m.tbl + 64 - 4, 8), ~0ULL);
	/* Outside table and PBA the device's own handler answers. */
	int before = m.t.nacc[0];
	io_rd(&x->mmio, m.tbl + 64, 4);
	assert_int_equal(m.t.nacc[0], before + 1);
	/* PBA: read-only, all clear. */
	assert_int_equal(io_rd(&x->mmio, m.pba, 8), 0);
	io_wr(&x->mmio, m.pba, 8, ~0ULL);
	assert_int_equal(io_rd(&x->mmio, m.pba, 4), 0);
	assert_int_equal(io_rd(&x->mmio, m.pba, 2), 0xffff);
	msix_destroy(&m.t.msix);
}

static void test_msix_delivery(void **state)
{
	struct fx *x = *state;
	struct fake_host *f = &x->f;
	struct mx m;
	mx_init(x, &m);
	struct msix *ms = &m.t.msix;
	io_wr(&x->mmio, m.tbl + 0, 8, 0xfee00000);
	io_wr(&x->mmio, m.tbl + 8, 4, 0x31);
	/* Disabled: nothing happens, nothing pends. */
	assert_false(msix_enabled(ms));
	assert_int_equal(msix_notify(ms, 0), 0);
	assert_int_equal(io_rd(&x->mmio, m.pba, 8), 0);
	assert_int_equal(f->nalloc + f->nsignal, 0);
	/* Enabled, vector masked: the pending bit. */
	msix_ctrl(x, &m, 0x8000);
	assert_true(msix_enabled(ms));
	assert_int_equal(msix_notify(ms, 0), 0);
	assert_int_equal(msix_notify(ms, 2), 0);
	assert_int_equal(io_rd(&x->mmio, m.pba, 8), 0x5);
	assert_int_equal(f->nalloc, 0);
	/* Unmask vector 0: routed (GSI, route, irqfd) and the pending one fires. */
	io_wr(&x->mmio, m.tbl + 12, 4, 0);
	assert_int_equal(f->nalloc, 1);
	assert_int_equal(f->nroute, 1);
	int gsi = ms->vec[0].gsi;
	assert_true(gsi >= 24);
	assert_int_equal(f->route_addr[gsi], 0xfee00000);
	assert_int_equal(f->route_data[gsi], 0x31);
	int efd = f->irqfd_efd[gsi];
	assert_true(efd >= 0);
	assert_int_equal(efd_count(efd), 1);
	assert_int_equal(io_rd(&x->mmio, m.pba, 8), 0x4);
	/* Raised again: one eventfd write, no new route. */
	assert_int_equal(msix_notify(ms, 0), 0);
	assert_int_equal(msix_notify(ms, 0), 0);
	assert_int_equal(efd_count(efd), 2);
	assert_int_equal(f->nroute, 1);
	/* Function mask: pends; clearing it fires. */
	msix_ctrl(x, &m, 0xc000);
	assert_int_equal(msix_notify(ms, 0), 0);
	assert_int_equal(efd_count(efd), 0);
	assert_int_equal(io_rd(&x->mmio, m.pba, 4), 0x5);
	msix_ctrl(x, &m, 0x8000);
	assert_int_equal(efd_count(efd), 1);
	assert_int_equal(io_rd(&x->mmio, m.pba, 4), 0x4);
	/* A new message is routed before the next interrupt (same GSI and fd). */
	io_wr(&x->mmio, m.tbl + 12, 4, 1);
	io_wr(&x->mmio, m.tbl + 8, 4, 0x32);
	io_wr(&x->mmio, m.tbl + 12, 4, 0);
	assert_int_equal(f->nroute, 2);
	assert_int_equal(f->route_data[gsi], 0x32);
	assert_int_equal(ms->vec[0].gsi, gsi);
	assert_int_equal(f->irqfd_efd[gsi], efd);
	/* Out-of-range vectors are the guest's choice: -EINVAL, no interrupt. */
	assert_int_equal(msix_notify(ms, 4), -EINVAL);
	assert_int_equal(msix_notify(ms, MSIX_NO_VECTOR), -EINVAL);
	/* A message KVM refuses: delivered through KVM_SIGNAL_MSI instead. */
	f->refuse_route = true;
	io_wr(&x->mmio, m.tbl + 16, 8, 0xfee02000);
	io_wr(&x->mmio, m.tbl + 24, 8, 0x41);		/* data 0x41, unmasked */
	assert_int_equal(f->nsignal, 0);
	assert_int_equal(msix_notify(ms, 1), 0);
	assert_int_equal(f->nsignal, 1);
	assert_int_equal(f->signal_addr, 0xfee02000);
	assert_int_equal(f->signal_data, 0x41);
	/* Disable: pending bits stay as they are; nothing is delivered. */
	msix_ctrl(x, &m, 0);
	assert_int_equal(msix_notify(ms, 0), 0);
	assert_int_equal(efd_count(efd), 0);
	/* Teardown detaches the irqfds and frees the GSIs. */
	int allocs = f->nalloc;
	msix_destroy(ms);
	assert_int_equal(f->nfree, allocs);
	assert_int_equal(f->irqfd_efd[gsi], -1);
	m.t.has_msix = false;
}

static void test_msix_init_refused(void **state)
{
	struct fx *x = *state;
	struct tdev t;
	tdev_init(&t, &x->f, false);
	struct msix m;
	const struct dev_host *h = &x->f.h;
	assert_int_equal(msix_init(&m, &t.pci, h, 0, 0, 0, 0x800), -EINVAL);
	assert_int_equal(msix_init(&m, &t.pci, h, MSIX_MAX_VECTORS + 1, 0, 0, 0x800), -EINVAL);
	assert_int_equal(msix_init(&m, &t.pci, h, 4, 1, 0, 0x800), -EINVAL);	/* I/O BAR */
	assert_int_equal(msix_init(&m, &t.pci, h, 4, 3, 0, 0x800), -EINVAL);	/* no BAR */
	assert_int_equal(msix_init(&m, &t.pci, h, 4, 0, 4, 0x800), -EINVAL);	/* unaligned */
	assert_int_equal(msix_init(&m, &t.pci, h, 4, 0, 0, 0x20), -EINVAL);	/* overlap */
	assert_int_equal(msix_init(&m, &t.pci, h, 4, 0, 0x3ff8, 0), -EINVAL);	/* past the end */
	assert_int_equal(msix_init(&m, &t.pci, h, 4, 0, 0xfffffff8u, 0), -EINVAL);
	assert_false(msix_bar_access(&m, 0, (uint8_t[4]){ 0 }, 4, false));
	assert_int_equal(msix_notify(&m, 0), -EINVAL);
	msix_destroy(&m);
	assert_int_equal(msix_table_size(64), 1024);
	assert_int_equal(msix_pba_size(1), 8);
	assert_int_equal(msix_pba_size(64), 8);
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

/* ---- the VM: interrupt services on real KVM, a guest on bus 0 ---- */

static bool have_kvm(void)
{
	return access("/dev/kvm", R_OK | W_OK) == 0;
}

#define GUEST_GPA TEST_GUEST_GPA


/* 64-bit, CPL0: the host bridge's ID through 0xCF8/0xCFC and through ECAM
 * (and its class code; slot 1 absent), then ACPI S5 through PM1a_CNT.
 * A failed check exits 0x51..0x54 through port 0xf4. */
static const uint8_t pci_guest[] = {
	0xb8, 0x00, 0x00, 0x00, 0x80,		/* mov $0x80000000, %eax */
	0x66, 0xba, 0xf8, 0x0c,			/* mov $0xcf8, %dx */
	0xef,					/* out %eax, (%dx) */
	0x66, 0xba, 0xfc, 0x0c,			/* mov $0xcfc, %dx */
	0xed,					/* in (%dx), %eax */
	0x3d, 0x86, 0x80, 0x57, 0x0d,		/* cmp $0x0d578086, %eax */
	0x75, 0x30,				/* jne fail1 */
	0xbb, 0x00, 0x00, 0x00, 0xe0,		/* mov $0xe0000000, %ebx */
	0x8b, 0x03,				/* mov (%rbx), %eax */
	0x3d, 0x86, 0x80, 0x57, 0x0d,		/* cmp $0x0d578086, %eax */
	0x75, 0x26,				/* jne fail2 */
	0x8b, 0x43, 0x08,			/* mov 8(%rbx), %eax */
	0x3d, 0x00, 0x00, 0x00, 0x06,		/* cmp $0x06000000, %eax */
	0x75, 0x20,				/* jne fail3 */
	0x8b, 0x83, 0x00, 0x80, 0x00, 0x00,	/* mov 0x8000(%rbx), %eax */
	0x83, 0xf8, 0xff,			/* cmp $-1, %eax */
	0x75, 0x19,				/* jne fail4 */
	0x66, 0xb8, 0x00, 0x34,			/* mov $0x3400, %ax: SLP_TYP 5, SLP_EN */
	0x66, 0xba, 0x04, 0x06,			/* mov $0x604, %dx */
	0x66, 0xef,				/* out %ax, (%dx) */
	0xf4, 0xeb, 0xfd,			/* 1: hlt; jmp 1b */
	0xb0, 0x51, 0xe6, 0xf4,			/* fail1: exit 0x51 */
	0xb0, 0x52, 0xe6, 0xf4,
	0xb0, 0x53, 0xe6, 0xf4,
	0xb0, 0x54, 0xe6, 0xf4,
};

static struct skiff_vm *make_vm(char *path, size_t cap)
{
	snprintf(path, cap, "/tmp/skiff-test-pci-%d.elf", getpid());
	write_guest_elf(path, pci_guest, sizeof(pci_guest));
	struct skiff_config c;
	skiff_config_default(&c);
	c.kernel_path = path;
	c.mem_mib = 32;
	c.console_in = -1;
	c.console_out = -1;
	c.log_level = LOG_ERROR;
	struct skiff_err e = { "" };
	struct skiff_vm *vm = NULL;
	int r = skiff_vm_create(&c, &vm, &e);
	if (r)
		fail_msg("skiff_vm_create: %s", e.msg);
	return vm;
}

static void test_vm_boots_with_pci(void **state)
{
	(void)state;
	if (!have_kvm())
		skip();
	char path[128];
	struct skiff_vm *vm = make_vm(path, sizeof(path));
	assert_non_null(vm->pci);
	assert_non_null(vm->loop);
	assert_ptr_equal(vm->host.loop, vm->loop);
	assert_ptr_equal(vm->host.mem, &vm->mem);
	struct skiff_result res;
	assert_int_equal(skiff_vm_run(vm, &res), 0);
	if (res.reason == VM_STOP_DEBUG_EXIT)
		fail_msg("guest check 0x%x failed", res.code);
	assert_int_equal(res.reason, VM_STOP_POWEROFF);
	skiff_vm_destroy(vm);
	unlink(path);
}

static void test_vm_irq_services(void **state)
{
	(void)state;
	if (!have_kvm())
		skip();
	char path[128];
	struct skiff_vm *vm = make_vm(path, sizeof(path));
	const struct dev_host *h = &vm->host;
	/* MSI GSIs: above the IOAPIC, distinct, routed, freed and reused. */
	int g1 = h->msi_alloc(h->ctx), g2 = h->msi_alloc(h->ctx);
	assert_true(g1 >= 24 && g2 >= 24 && g1 != g2);
	assert_int_equal(h->msi_route(h->ctx, (uint32_t)g1, 0xfee00000, 0x30), 0);
	assert_int_equal(h->msi_route(h->ctx, (uint32_t)g2, 0xfee00000, 0x31), 0);
	assert_int_equal(h->msi_route(h->ctx, (uint32_t)g1, 0xfee00000, 0x32), 0);
	assert_int_equal(h->msi_route(h->ctx, 5, 0xfee00000, 0x30), -EINVAL);	/* not MSI */
	assert_int_equal(h->msi_route(h->ctx, 100000, 0xfee00000, 0x30), -EINVAL);
	assert_int_equal(h->msi_route(h->ctx, (uint32_t)g2 + 1, 0xfee00000, 0x30), -EINVAL);
	/* irqfd on an MSI route, and a level-triggered one with resample on
	 * an INTx GSI; detach both. */
	int efd = eventfd(0, EFD_CLOEXEC), rfd = eventfd(0, EFD_CLOEXEC);
	assert_true(efd >= 0 && rfd >= 0);
	assert_int_equal(h->irqfd(h->ctx, efd, (uint32_t)g1, -1, true), 0);
	assert_int_equal(h->irqfd(h->ctx, efd, (uint32_t)g1, -1, false), 0);
	int r = h->irqfd(h->ctx, efd, 17, rfd, true);
	assert_true(r == 0 || r == -ENOTSUP);
	if (r == 0)
		assert_int_equal(h->irqfd(h->ctx, efd, 17, -1, false), 0);
	/* ioeventfd: MMIO in the 32-bit window and a port, attach and detach. */
	assert_int_equal(h->ioeventfd(h->ctx, efd, PCI_MMIO32_BASE + 0x3000, 4, true, true), 0);
	assert_int_equal(h->ioeventfd(h->ctx, efd, PCI_MMIO32_BASE + 0x3000, 4, true, false), 0);
	assert_int_equal(h->ioeventfd(h->ctx, efd, PCI_IO_BASE, 2, false, true), 0);
	assert_int_equal(h->ioeventfd(h->ctx, efd, PCI_IO_BASE, 2, false, false), 0);
	assert_int_equal(h->ioeventfd(h->ctx, efd, PCI_IO_BASE, 3, false, true), -EINVAL);
	/* One MSI now (the vCPU has not run; KVM queues it or drops it). */
	r = h->signal_msi(h->ctx, 0xfee00000, 0x30);
	assert_true(r == 0 || r == -ENOTSUP);
	h->msi_free(h->ctx, (uint32_t)g1);
	h->msi_free(h->ctx, (uint32_t)g1);		/* twice: harmless */
	assert_int_equal(h->msi_route(h->ctx, (uint32_t)g1, 0xfee00000, 0x30), -EINVAL);
	assert_int_equal(h->msi_alloc(h->ctx), g1);		/* reused */
	/* The GSIs run out with -ENOSPC. */
	int n = 0;
	while (h->msi_alloc(h->ctx) >= 0)
		n++;
	assert_int_equal(n, VM_MSI_GSIS - 2);
	assert_int_equal(h->msi_alloc(h->ctx), -ENOSPC);
	close(efd);
	close(rfd);
	skiff_vm_destroy(vm);
	unlink(path);
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
		cmocka_unit_test_setup_teardown(test_intx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_msix_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_msix_delivery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_msix_init_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile, setup, teardown),
		cmocka_unit_test(test_vm_boots_with_pci),
		cmocka_unit_test(test_vm_irq_services),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
