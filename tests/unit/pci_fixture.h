/* Shared fixture for the PCI tests (test_pci_config.c, test_pci_irq.c):
 * PCI bus 0 (pci/pci.c) and MSI-X (pci/msix.c) on port and MMIO buses as a
 * guest reaches them, a fake host that records what it is asked, and a test
 * device with three BARs and, optionally, MSI-X. Header-only: every helper
 * is static inline, so a test file uses what it needs. */
#ifndef SKIFF_TEST_PCI_FIXTURE_H
#define SKIFF_TEST_PCI_FIXTURE_H
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
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

static inline void fh_set_irq(void *ctx, uint32_t gsi, int level)
{
	struct fake_host *f = ctx;
	assert_true(gsi < 64 && (level == 0 || level == 1));
	f->level[gsi] = level;
	f->nirq++;
}

static inline int fh_msi_alloc(void *ctx)
{
	struct fake_host *f = ctx;
	if (f->next_gsi >= 128)
		return -ENOSPC;
	f->nalloc++;
	return f->next_gsi++;
}

static inline int fh_msi_route(void *ctx, uint32_t gsi, uint64_t addr, uint32_t data)
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

static inline void fh_msi_free(void *ctx, uint32_t gsi)
{
	struct fake_host *f = ctx;
	(void)gsi;
	f->nfree++;
}

static inline int fh_irqfd(void *ctx, int efd, uint32_t gsi, int resample, bool assign)
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

static inline int fh_signal_msi(void *ctx, uint64_t addr, uint32_t data)
{
	struct fake_host *f = ctx;
	f->nsignal++;
	f->signal_addr = addr;
	f->signal_data = data;
	return 0;
}

static inline void fh_reset_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len,
			       bool is_write)
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

static inline void tdev_bar(struct tdev *t, int bar, uint64_t off, uint8_t *data, uint32_t len,
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

static inline void bar0_io(void *o, uint64_t off, uint8_t *d, uint32_t len, bool w)
{
	struct tdev *t = o;
	if (t->has_msix && msix_bar_access(&t->msix, off, d, len, w))
		return;
	tdev_bar(t, 0, off, d, len, w);
}

static inline void bar1_io(void *o, uint64_t off, uint8_t *d, uint32_t len, bool w)
{
	tdev_bar(o, 1, off, d, len, w);
}

static inline void bar2_io(void *o, uint64_t off, uint8_t *d, uint32_t len, bool w)
{
	tdev_bar(o, 2, off, d, len, w);
}

static inline void tdev_moved(struct pci_device *d, int bar, uint64_t addr)
{
	struct tdev *t = d->opaque;
	assert_true(t->nmoved < 16);
	t->moved_bar[t->nmoved] = bar;
	t->moved_addr[t->nmoved] = addr;
	t->nmoved++;
}

static inline void tdev_cfg_write(struct pci_device *d, uint32_t off, uint32_t len)
{
	struct tdev *t = d->opaque;
	t->ncfg++;
	if (t->has_msix)
		msix_cfg_write(&t->msix, off, len);
}

static inline void tdev_init(struct tdev *t, struct fake_host *f, bool with_msix)
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

static inline int setup(void **state)
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

static inline int teardown(void **state)
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

static inline uint64_t io_rd(struct bus *b, uint64_t a, uint32_t len)
{
	uint8_t d[8];
	memset(d, 0x5a, sizeof(d));
	bus_access(b, a, d, len, false);
	uint64_t v = 0;
	memcpy(&v, d, len);
	return v;
}

static inline void io_wr(struct bus *b, uint64_t a, uint32_t len, uint64_t v)
{
	uint8_t d[8];
	memcpy(d, &v, 8);
	bus_access(b, a, d, len, true);
}

/* Configuration through 0xCF8/0xCFC for slot `dev`, register `off`. */
static inline uint32_t cf8_rd(struct fx *x, uint32_t dev, uint32_t off, uint32_t len)
{
	io_wr(&x->pio, 0xcf8, 4, 0x80000000u | dev << 11 | (off & 0xfc));
	return (uint32_t)io_rd(&x->pio, 0xcfc + (off & 3), len);
}

static inline void cf8_wr(struct fx *x, uint32_t dev, uint32_t off, uint32_t len, uint32_t v)
{
	io_wr(&x->pio, 0xcf8, 4, 0x80000000u | dev << 11 | (off & 0xfc));
	io_wr(&x->pio, 0xcfc + (off & 3), len, v);
}

static inline uint64_t ecam_rd(struct fx *x, uint32_t devfn, uint32_t off, uint32_t len)
{
	return io_rd(&x->mmio, PCI_ECAM_BASE + ((uint64_t)devfn << 12) + off, len);
}

static inline void ecam_wr(struct fx *x, uint32_t devfn, uint32_t off, uint32_t len, uint64_t v)
{
	io_wr(&x->mmio, PCI_ECAM_BASE + ((uint64_t)devfn << 12) + off, len, v);
}

/* ---- a test device with MSI-X, enabled on bus 0 slot 1 ---- */

struct mx {
	struct tdev t;
	uint64_t tbl, pba;	/* GPAs */
	uint32_t cap;
};

static inline void mx_init(struct fx *x, struct mx *m)
{
	tdev_init(&m->t, &x->f, true);
	struct skiff_err e = { "" };
	assert_int_equal(pci_bus_add(x->pci, &m->t.pci, &e), 1);
	cf8_wr(x, 1, 4, 2, 0x0006);
	m->tbl = m->t.pci.bar[0].addr + 0x1000;
	m->pba = m->t.pci.bar[0].addr + 0x1800;
	m->cap = cf8_rd(x, 1, 0x34, 1);
}

#endif
