/* libFuzzer target: a hostile guest driving PCI configuration space (0xCF8/
 * 0xCFC and ECAM), BAR moves and decoding, INTx and the MSI-X table and PBA
 * of a test device, through the same buses the VM dispatches on, mixed with
 * device-side interrupts. The input is a sequence of 8-byte operations
 * {kind, a, b, size/dir, value (4 bytes)}. ASan/UBSan catch memory errors;
 * the checks catch broken invariants: INTx lines only in GSIs 16-23 with
 * alternating levels, bar_moved addresses inside a window and aligned,
 * read-only identity registers unchanged, every line low once the device
 * drops INTA#.
 *
 * Build: make fuzz (clang); run: build/fuzz/fuzz_pci -max_total_time=60 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "boot/layout.h"
#include "core/bus.h"
#include "core/devhost.h"
#include "pci/msix.h"
#include "pci/pci.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NVEC 8

struct fz {
	struct dev_host h;
	int level[24];		/* -1: never driven */
	int next_gsi;
	int irqfds;		/* attached */
	struct pci_device dev;
	struct msix msix;
	uint8_t reset_reg;
};

static void check(int cond)
{
	if (!cond)
		abort();
}

static void fz_set_irq(void *ctx, uint32_t gsi, int level)
{
	struct fz *f = ctx;
	check(gsi >= PCI_INTX_GSI_BASE && gsi < PCI_INTX_GSI_BASE + PCI_INTX_GSI_COUNT);
	check(level == 0 || level == 1);
	check(f->level[gsi] != level);	/* only edges are sent */
	f->level[gsi] = level;
}

static void fz_stop(void *ctx, enum vm_stop_reason why, int code)
{
	(void)ctx, (void)why, (void)code;
}

static int fz_msi_alloc(void *ctx)
{
	struct fz *f = ctx;
	return f->next_gsi < 24 + NVEC - 2 ? f->next_gsi++ : -ENOSPC;	/* run short */
}

static int fz_msi_route(void *ctx, uint32_t gsi, uint64_t addr, uint32_t data)
{
	(void)ctx, (void)data;
	check(gsi >= 24 && gsi < 24 + NVEC);
	return (addr & 4) ? -EINVAL : 0;	/* KVM refuses some messages */
}

static void fz_msi_free(void *ctx, uint32_t gsi)
{
	(void)ctx;
	check(gsi >= 24 && gsi < 24 + NVEC);
}

static int fz_irqfd(void *ctx, int efd, uint32_t gsi, int resample, bool assign)
{
	struct fz *f = ctx;
	check(efd >= 0 && gsi >= 24 && resample == -1);
	f->irqfds += assign ? 1 : -1;
	check(f->irqfds >= 0);
	return 0;
}

static int fz_signal_msi(void *ctx, uint64_t addr, uint32_t data)
{
	(void)ctx, (void)addr, (void)data;
	return 0;
}

static void reset_io(void *opaque, uint64_t off, uint8_t *d, uint32_t len, bool is_write)
{
	struct fz *f = opaque;
	check(off == 0 && len == 1);
	if (is_write)
		f->reset_reg = d[0];
	else
		d[0] = f->reset_reg;
}

static void bar_io(void *opaque, uint64_t off, uint8_t *d, uint32_t len, bool is_write)
{
	struct fz *f = opaque;
	check(len >= 1 && len <= 8 && off < 0x4000 && len <= 0x4000 - off);
	if (msix_bar_access(&f->msix, off, d, len, is_write))
		return;
	if (!is_write)
		memset(d, 0x42, len);
}

static void io_bar(void *opaque, uint64_t off, uint8_t *d, uint32_t len, bool is_write)
{
	(void)opaque;
	check(len >= 1 && len <= 8 && off < 64 && len <= 64 - off);
	if (!is_write)
		memset(d, 0x43, len);
}

static void moved(struct pci_device *d, int bar, uint64_t addr)
{
	check(bar == 0 || bar == 1 || bar == 2);
	if (!addr)
		return;
	uint64_t size = d->bar[bar].size;
	check(addr % size == 0);
	if (bar == 1)
		check(addr >= PCI_IO_BASE && addr + size <= PCI_IO_BASE + PCI_IO_SIZE);
	else
		check((addr >= PCI_MMIO32_BASE && addr + size <= PCI_MMIO32_BASE + PCI_MMIO32_SIZE) ||
		      (addr >= pci_mmio64_base(0) && addr + size <= pci_mmio64_base(0) + PCI_MMIO64_SIZE));
}

static void cfg_write(struct pci_device *d, uint32_t off, uint32_t len)
{
	struct fz *f = d->opaque;
	check(len == 1 || len == 2 || len == 4);
	check(off < PCI_CFG_SIZE && off % len == 0);
	msix_cfg_write(&f->msix, off, len);
}

static uint32_t rd32(struct pci_bus *b, uint32_t devfn, uint32_t off)
{
	uint8_t v[4];
	pci_bus_cfg_access(b, devfn, off, v, 4, false);
	return (uint32_t)v[0] | (uint32_t)v[1] << 8 | (uint32_t)v[2] << 16 | (uint32_t)v[3] << 24;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fz f;	/* 12 KiB of configuration images: not on the stack */
	memset(&f, 0, sizeof(f));
	struct skiff_log log = { .level = -1, .out = NULL };
	f.h = (struct dev_host){ .ctx = &f, .set_irq = fz_set_irq, .request_stop = fz_stop,
				 .log = &log, .msi_alloc = fz_msi_alloc, .msi_route = fz_msi_route,
				 .msi_free = fz_msi_free, .irqfd = fz_irqfd,
				 .signal_msi = fz_signal_msi };
	for (int i = 0; i < 24; i++)
		f.level[i] = -1;
	f.next_gsi = 24;
	struct bus pio, mmio;
	bus_init(&pio, 0x10000);
	bus_init(&mmio, 0);
	bus_register(&pio, 0xcf9, 1, reset_io, &f, "reset");
	struct pci_bus *b = NULL;
	if (pci_bus_create(&f.h, &pio, &mmio, &b, NULL))
		abort();
	struct pci_device *d = &f.dev;
	pci_dev_init(d, "fuzz", 0x1234, 0x5678, 0xff0000, 0, 0, 1);
	d->opaque = &f;
	d->bar_moved = moved;
	d->cfg_write = cfg_write;
	if (pci_dev_set_bar(d, 0, 0x4000, 0, bar_io, &f) ||
	    pci_dev_set_bar(d, 1, 64, PCI_BAR_IO, io_bar, &f) ||
	    pci_dev_set_bar(d, 2, 0x4000, PCI_BAR_MEM64, bar_io, &f) ||
	    msix_init(&f.msix, d, &f.h, NVEC, 0, 0x1000, 0x1800) ||
	    pci_dev_add_cap(d, 0x09, 16) < 0 || pci_bus_add(b, d, NULL) != 1)
		abort();

	static const uint32_t sizes[] = { 1, 2, 4, 8 };
	for (size_t i = 0; i + 8 <= size; i += 8) {
		const uint8_t *op = data + i;
		uint32_t val = (uint32_t)op[4] | (uint32_t)op[5] << 8 | (uint32_t)op[6] << 16 |
			       (uint32_t)op[7] << 24;
		uint32_t len = sizes[op[3] & 3];
		bool wr = op[3] & 4;
		uint8_t buf[16];
		memcpy(buf, &val, 4);
		memcpy(buf + 4, &val, 4);
		switch (op[0] % 8) {
		case 0:	/* the latch, mostly pointing at bus 0 */
			if (op[3] & 8)
				val = 0x80000000u | (val & 0xfffc) | (uint32_t)(op[1] & 0x1f) << 11;
			memcpy(buf, &val, 4);
			bus_access(&pio, PCI_CONF1_PORT, buf, 4, true);
			break;
		case 1:	/* any access in 0xCF8-0xCFF */
			bus_access(&pio, PCI_CONF1_PORT + (op[1] & 7), buf, len, wr);
			break;
		case 2: {	/* ECAM: the host bridge, the device, or anywhere */
			uint32_t devfn = op[1] % 3 == 0 ? 0 : op[1] % 3 == 1 ? 8 : op[2];
			uint32_t reg = (uint32_t)(op[2] & 0xff) | (uint32_t)(op[1] >> 4) << 8;
			bus_access(&mmio, PCI_ECAM_BASE + ((uint64_t)devfn << 12) + reg, buf, len, wr);
			break;
		}
		case 3: {	/* a BAR where it is programmed (maybe not decoding) */
			int bar = op[1] % 3;
			uint64_t span = d->bar[bar].size + 16;
			uint64_t a = d->bar[bar].addr + ((uint64_t)op[2] | (uint64_t)op[5] << 8) % span;
			bus_access(bar == 1 ? &pio : &mmio, a, buf, len, wr);
			break;
		}
		case 4:
			msix_notify(&f.msix, (uint16_t)(op[1] % (NVEC + 2)));
			break;
		case 5:
			pci_set_intx(d, op[1] & 1);
			break;
		case 6: {	/* the raw hook: any devfn, offset and length */
			uint32_t devfn = op[1] & 1 ? 8 : (uint32_t)op[2] << (op[1] & 0x18);
			uint32_t off = op[1] & 2 ? val : val & 0xfff;
			pci_bus_cfg_access(b, devfn, off, buf, op[3] % 17, wr);
			break;
		}
		default: {	/* anywhere in the windows */
			uint64_t base = op[1] & 1 ? pci_mmio64_base(0) : PCI_MMIO32_BASE;
			bus_access(&mmio, base + (val & 0x1fffffff), buf, len, wr);
			break;
		}
		}
		check(rd32(b, 0, 0) == 0x0d578086);
		check(rd32(b, 8, 0) == 0x56781234);
	}

	/* Dropping INTA# leaves every line low. */
	pci_set_intx(d, 0);
	for (int g = PCI_INTX_GSI_BASE; g < PCI_INTX_GSI_BASE + PCI_INTX_GSI_COUNT; g++)
		check(f.level[g] <= 0);
	msix_destroy(&f.msix);
	check(f.irqfds == 0);
	pci_bus_destroy(b);
	check(pio.n == 1 && mmio.n == 0);	/* the reset register is back */
	bus_destroy(&pio);
	bus_destroy(&mmio);
	return 0;
}
