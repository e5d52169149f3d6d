/* PCI bus 0: the host bridge, configuration mechanism #1 and ECAM, BAR
 * sizing/placement/decoding, INTx. See pci/pci.h.
 *
 * Locks: cfg_lock serialises configuration space (the CF8 latch, every
 * device's cfg image, BAR programming, the cfg_write and bar_moved hooks);
 * map_lock (read-mostly) guards the table of BARs that decode, which the
 * window handlers search on every BAR access; intx_lock guards the INTx
 * levels. Order: cfg_lock, then map_lock or intx_lock. Device BAR handlers
 * run with no bus lock held. The buses' ranges never change while vCPUs
 * run: whole windows are registered once and BARs are found inside them. */
#include "pci/pci.h"
#include "boot/layout.h"
#include "core/guest_mem.h"
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Type 0 configuration header (PCI 3.0 §6.1). */
#define CFG_VENDOR		0x00
#define CFG_DEVICE		0x02
#define CFG_COMMAND		0x04
#define CFG_STATUS		0x06
#define CFG_REVISION		0x08
#define CFG_CLASS		0x09	/* prog-if, subclass, base class */
#define CFG_CACHE_LINE		0x0C
#define CFG_LATENCY		0x0D
#define CFG_HEADER_TYPE		0x0E
#define CFG_BAR0		0x10
#define CFG_SUBSYS_VENDOR	0x2C
#define CFG_SUBSYS_ID		0x2E
#define CFG_CAP_PTR		0x34
#define CFG_INT_LINE		0x3C
#define CFG_INT_PIN		0x3D
#define CFG_CAP_START		0x40	/* first byte after the header */
#define CFG_COMPAT_SIZE		256	/* capabilities live below this */

#define CMD_IO			0x0001
#define CMD_MEM			0x0002
#define CMD_MASTER		0x0004
#define CMD_PARITY		0x0040
#define CMD_SERR		0x0100
#define CMD_INTX_DISABLE	0x0400
#define CMD_WRITABLE	(CMD_IO | CMD_MEM | CMD_MASTER | CMD_PARITY | CMD_SERR | CMD_INTX_DISABLE)
#define STATUS_INTX		0x0008	/* read-only: INTx asserted */
#define STATUS_CAP_LIST		0x0010
#define STATUS_W1C		0xF900	/* parity, target/master aborts, SERR, parity error */

#define BAR_IO_SPACE		0x1
#define BAR_MEM_64		0x4
#define BAR_MEM_PREFETCH	0x8

/* Configuration address register (PCI 3.0 §3.2.2.3.2): enable, bus,
 * device, function, dword register; bits 30-24 and 1-0 read as zero. */
#define CONF1_ENABLE		0x80000000u
#define CONF1_MASK		0x80FFFFFCu

#define HOST_VENDOR		0x8086
#define HOST_DEVICE		0x0d57
#define HOST_CLASS		0x060000	/* bridge, host bridge */

#define RESET_PORT		(PCI_CONF1_PORT + 1)	/* 0xCF9, see pci_bus_create */

struct pci_window {
	struct pci_bus *b;
	uint64_t base, size;	/* bytes or ports */
	bool io;
	bool registered;
};

/* One BAR that decodes now. */
struct pci_decode {
	uint64_t base, size;
	bool io;
	bus_io_fn fn;
	void *opaque;
};

struct pci_bus {
	const struct dev_host *host;
	struct bus *pio, *mmio;		/* not owned */
	pthread_mutex_t cfg_lock;
	pthread_rwlock_t map_lock;
	pthread_mutex_t intx_lock;
	uint32_t conf1;			/* the 0xCF8 latch */
	struct pci_device *dev[PCI_MAX_SLOTS];
	struct pci_device bridge;	/* slot 0 */
	uint64_t dec[PCI_MAX_SLOTS][PCI_NUM_BARS];	/* decoded base, 0: off (cfg_lock) */
	struct pci_decode map[PCI_MAX_SLOTS * PCI_NUM_BARS];	/* map_lock */
	size_t nmap;
	struct pci_window win_io, win32, win64;
	uint64_t next_io, next32, next64;	/* placement cursors */
	bool intx_level[PCI_MAX_SLOTS];		/* intx_lock */
	bool intx_off[PCI_MAX_SLOTS];		/* Interrupt Disable set */
	uint32_t gsi_users[PCI_INTX_GSI_COUNT];	/* asserted lines per GSI */
	bool conf1_registered, ecam_registered;
	bus_io_fn reset_fn;		/* the range taken over at 0xCF9, if any */
	void *reset_opaque;
	const char *reset_name;
};

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void all_ones(uint8_t *data, uint32_t len, bool is_write)
{
	if (!is_write)
		memset(data, 0xff, len);
}

/* ---- device set-up ---- */

void pci_dev_init(struct pci_device *d, const char *name, uint16_t vendor, uint16_t device,
		  uint32_t class_code, uint16_t subsys_vendor, uint16_t subsys_id, uint8_t revision)
{
	memset(d, 0, sizeof(*d));
	d->name = name;
	put16(d->cfg + CFG_VENDOR, vendor);
	put16(d->cfg + CFG_DEVICE, device);
	d->cfg[CFG_REVISION] = revision;
	d->cfg[CFG_CLASS] = (uint8_t)class_code;
	d->cfg[CFG_CLASS + 1] = (uint8_t)(class_code >> 8);
	d->cfg[CFG_CLASS + 2] = (uint8_t)(class_code >> 16);
	d->cfg[CFG_HEADER_TYPE] = 0;		/* type 0, single function */
	put16(d->cfg + CFG_SUBSYS_VENDOR, subsys_vendor);
	put16(d->cfg + CFG_SUBSYS_ID, subsys_id);
	d->cfg[CFG_INT_PIN] = 1;		/* INTA# */
	put16(d->wmask + CFG_COMMAND, CMD_WRITABLE);
	put16(d->w1cmask + CFG_STATUS, STATUS_W1C);
	d->wmask[CFG_CACHE_LINE] = 0xff;
	d->wmask[CFG_LATENCY] = 0xff;
	d->wmask[CFG_INT_LINE] = 0xff;
	d->cap_next = CFG_CAP_START;
}

int pci_dev_set_bar(struct pci_device *d, int idx, uint64_t size, uint32_t flags,
		    bus_io_fn fn, void *opaque)
{
	bool io = flags & PCI_BAR_IO, m64 = flags & PCI_BAR_MEM64, pf = flags & PCI_BAR_PREFETCH;
	if (d->bus || idx < 0 || idx >= PCI_NUM_BARS || !fn || !size || (size & (size - 1)))
		return -EINVAL;
	if ((flags & ~(uint32_t)(PCI_BAR_IO | PCI_BAR_MEM64 | PCI_BAR_PREFETCH)) || (io && (m64 || pf)))
		return -EINVAL;
	if (io ? (size < 4 || size > 256) : size < 16)
		return -EINVAL;
	if (!io && !m64 && size > (1ULL << 31))
		return -EINVAL;
	/* The slot must be free: not declared, not the upper half of a 64-bit
	 * BAR below, and for a 64-bit BAR the next slot free too. */
	if (d->bar[idx].size || (idx > 0 && (d->bar[idx - 1].flags & PCI_BAR_MEM64) && d->bar[idx - 1].size))
		return -EINVAL;
	if (m64 && (idx == PCI_NUM_BARS - 1 || d->bar[idx + 1].size))
		return -EINVAL;
	d->bar[idx] = (struct pci_bar){ .size = size, .flags = flags, .fn = fn, .opaque = opaque };
	uint32_t type = io ? BAR_IO_SPACE : (m64 ? BAR_MEM_64 : 0) | (pf ? BAR_MEM_PREFETCH : 0);
	uint64_t mask = ~(size - 1) & ~(uint64_t)(io ? 0x3 : 0xf);
	uint32_t reg = CFG_BAR0 + 4 * (uint32_t)idx;
	put32(d->cfg + reg, type);
	put32(d->wmask + reg, (uint32_t)mask);
	if (m64) {
		put32(d->cfg + reg + 4, 0);
		put32(d->wmask + reg + 4, (uint32_t)(mask >> 32));
	}
	return 0;
}

int pci_dev_add_cap(struct pci_device *d, uint8_t cap_id, uint32_t len)
{
	if (len < 2)
		return -EINVAL;
	uint32_t off = d->cap_next < CFG_CAP_START ? CFG_CAP_START : d->cap_next;
	off = (off + 3) & ~3u;
	if (off >= CFG_COMPAT_SIZE || len > CFG_COMPAT_SIZE - off)
		return -ENOSPC;
	d->cfg[off] = cap_id;
	d->cfg[off + 1] = 0;
	if (!d->cfg[CFG_CAP_PTR]) {
		d->cfg[CFG_CAP_PTR] = (uint8_t)off;
	} else {
		/* The list is ours (read-only to the guest); bound the walk anyway. */
		uint8_t p = d->cfg[CFG_CAP_PTR];
		for (int n = 0; d->cfg[p + 1] && n < CFG_COMPAT_SIZE / 4; n++)
			p = d->cfg[p + 1];
		d->cfg[p + 1] = (uint8_t)off;
	}
	d->cfg[CFG_STATUS] |= STATUS_CAP_LIST;
	d->cap_next = (uint16_t)(off + len);
	return (int)off;
}

/* ---- BAR decoding ---- */

static bool in_window(const struct pci_window *w, uint64_t a, uint64_t size)
{
	return a >= w->base && size <= w->size && a - w->base <= w->size - size;
}

/* The address BAR i is programmed with (type bits masked). */
static uint64_t bar_programmed(const struct pci_device *d, int i)
{
	uint32_t reg = CFG_BAR0 + 4 * (uint32_t)i;
	uint32_t lo = get32(d->cfg + reg);
	if (d->bar[i].flags & PCI_BAR_IO)
		return lo & ~0x3u;
	uint64_t a = lo & ~0xfu;
	if (d->bar[i].flags & PCI_BAR_MEM64)
		a |= (uint64_t)get32(d->cfg + reg + 4) << 32;
	return a;
}

/* Where BAR i decodes now, or 0: its space is enabled in the command
 * register and the whole BAR lies inside one of our windows (an address
 * elsewhere, such as the all-ones of sizing, reaches nothing). */
static uint64_t bar_decode(const struct pci_bus *b, const struct pci_device *d, int i)
{
	const struct pci_bar *bar = &d->bar[i];
	if (!bar->size)
		return 0;
	uint16_t cmd = get16(d->cfg + CFG_COMMAND);
	uint64_t a = bar_programmed(d, i);
	if (bar->flags & PCI_BAR_IO)
		return (cmd & CMD_IO) && in_window(&b->win_io, a, bar->size) ? a : 0;
	if (!(cmd & CMD_MEM))
		return 0;
	return in_window(&b->win32, a, bar->size) || in_window(&b->win64, a, bar->size) ? a : 0;
}

/* map_lock held for writing. */
static void rebuild_map(struct pci_bus *b)
{
	b->nmap = 0;
	for (int s = 0; s < PCI_MAX_SLOTS; s++) {
		const struct pci_device *d = b->dev[s];
		for (int i = 0; d && i < PCI_NUM_BARS; i++) {
			if (!b->dec[s][i])
				continue;
			b->map[b->nmap++] = (struct pci_decode){
				.base = b->dec[s][i], .size = d->bar[i].size,
				.io = d->bar[i].flags & PCI_BAR_IO, .fn = d->bar[i].fn,
				.opaque = d->bar[i].opaque,
			};
		}
	}
}

/* Recompute where the device's BARs decode after a configuration change;
 * publish the new map and tell the device. cfg_lock held. */
static void update_decode(struct pci_bus *b, struct pci_device *d)
{
	uint8_t s = d->slot;
	uint64_t now[PCI_NUM_BARS], old[PCI_NUM_BARS];
	bool changed = false;
	for (int i = 0; i < PCI_NUM_BARS; i++) {
		now[i] = bar_decode(b, d, i);
		if (d->bar[i].size)
			d->bar[i].addr = bar_programmed(d, i);
		changed |= now[i] != b->dec[s][i];
	}
	if (!changed)
		return;
	memcpy(old, b->dec[s], sizeof(old));
	pthread_rwlock_wrlock(&b->map_lock);
	memcpy(b->dec[s], now, sizeof(now));
	rebuild_map(b);
	pthread_rwlock_unlock(&b->map_lock);
	for (int i = 0; i < PCI_NUM_BARS && d->bar_moved; i++)
		if (now[i] != old[i])
			d->bar_moved(d, i, now[i]);
}

/* An access inside one of the windows: find the BAR that holds all of it. */
static void window_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct pci_window *w = opaque;
	struct pci_bus *b = w->b;
	uint64_t addr = w->base + offset;	/* offset < w->size: the bus checked */
	bus_io_fn fn = NULL;
	void *fn_opaque = NULL;
	uint64_t bar_off = 0;
	pthread_rwlock_rdlock(&b->map_lock);
	for (size_t i = 0; i < b->nmap; i++) {
		const struct pci_decode *m = &b->map[i];
		if (m->io != w->io || addr < m->base || addr - m->base >= m->size)
			continue;
		if (len <= m->size - (addr - m->base)) {
			fn = m->fn;
			fn_opaque = m->opaque;
			bar_off = addr - m->base;
		}
		break;
	}
	pthread_rwlock_unlock(&b->map_lock);
	all_ones(data, len, is_write);
	if (fn)
		fn(fn_opaque, bar_off, data, len, is_write);
}

/* ---- INTx ---- */

/* intx_lock held. The slot's INTA# is asserted when its level is high and
 * Interrupt Disable is clear; lines sharing a GSI are wired-OR. */
static void intx_set(struct pci_bus *b, uint8_t s, bool level, bool off)
{
	bool was = b->intx_level[s] && !b->intx_off[s];
	b->intx_level[s] = level;
	b->intx_off[s] = off;
	bool is = level && !off;
	if (was == is)
		return;
	uint32_t g = s % PCI_INTX_GSI_COUNT;
	bool edge = is ? b->gsi_users[g]++ == 0 : --b->gsi_users[g] == 0;
	if (edge && b->host && b->host->set_irq)
		b->host->set_irq(b->host->ctx, PCI_INTX_GSI_BASE + g, is);
}

void pci_set_intx(struct pci_device *d, int level)
{
	struct pci_bus *b = d->bus;
	if (!b || d->slot == 0 || d->slot >= PCI_MAX_SLOTS || b->dev[d->slot] != d)
		return;
	pthread_mutex_lock(&b->intx_lock);
	intx_set(b, d->slot, level != 0, b->intx_off[d->slot]);
	pthread_mutex_unlock(&b->intx_lock);
}

/* ---- configuration space ---- */

static struct pci_device *lookup(struct pci_bus *b, uint32_t devfn)
{
	if (devfn > 0xff || (devfn & 7))
		return NULL;	/* bus 0 only; every device is single-function */
	return b->dev[devfn >> 3];
}

static void cfg_read(struct pci_bus *b, struct pci_device *d, uint32_t off, uint8_t *data,
		     uint32_t len)
{
	memcpy(data, d->cfg + off, len);
	if (off <= CFG_STATUS && CFG_STATUS < off + len) {
		pthread_mutex_lock(&b->intx_lock);
		bool level = b->intx_level[d->slot];
		pthread_mutex_unlock(&b->intx_lock);
		uint8_t *st = data + (CFG_STATUS - off);
		*st = (uint8_t)((*st & ~STATUS_INTX) | (level ? STATUS_INTX : 0));
	}
}

static void cfg_write(struct pci_bus *b, struct pci_device *d, uint32_t off, const uint8_t *data,
		      uint32_t len)
{
	uint16_t old_cmd = get16(d->cfg + CFG_COMMAND);
	for (uint32_t i = 0; i < len; i++) {
		uint32_t o = off + i;
		uint8_t v = data[i];
		uint8_t c = (uint8_t)((d->cfg[o] & ~d->wmask[o]) | (v & d->wmask[o]));
		d->cfg[o] = (uint8_t)(c & ~(v & d->w1cmask[o]));
	}
	if (d->cfg_write)
		d->cfg_write(d, off, len);
	uint16_t cmd = get16(d->cfg + CFG_COMMAND);
	if ((cmd ^ old_cmd) & CMD_INTX_DISABLE) {
		pthread_mutex_lock(&b->intx_lock);
		intx_set(b, d->slot, b->intx_level[d->slot], cmd & CMD_INTX_DISABLE);
		pthread_mutex_unlock(&b->intx_lock);
	}
	if (d != &b->bridge)
		update_decode(b, d);
}

/* One access of 1, 2 or 4 bytes, naturally aligned; anything else reads
 * all-ones and drops writes. cfg_lock held. */
static void cfg_access(struct pci_bus *b, uint32_t devfn, uint32_t off, uint8_t *data,
		       uint32_t len, bool is_write)
{
	struct pci_device *d = lookup(b, devfn);
	if (!d || (len != 1 && len != 2 && len != 4) || off % len || off >= PCI_CFG_SIZE ||
	    len > PCI_CFG_SIZE - off) {
		all_ones(data, len, is_write);
		return;
	}
	if (is_write)
		cfg_write(b, d, off, data, len);
	else
		cfg_read(b, d, off, data, len);
}

/* As cfg_access, plus aligned 8-byte accesses (ECAM) as two dwords. */
static void cfg_access_any(struct pci_bus *b, uint32_t devfn, uint32_t off, uint8_t *data,
			   uint32_t len, bool is_write)
{
	if (len == 8 && off % 8 == 0) {
		cfg_access(b, devfn, off, data, 4, is_write);
		cfg_access(b, devfn, off + 4, data + 4, 4, is_write);
		return;
	}
	cfg_access(b, devfn, off, data, len, is_write);
}

void pci_bus_cfg_access(struct pci_bus *b, uint32_t devfn, uint32_t off, uint8_t *data,
			uint32_t len, bool is_write)
{
	pthread_mutex_lock(&b->cfg_lock);
	cfg_access_any(b, devfn, off, data, len, is_write);
	pthread_mutex_unlock(&b->cfg_lock);
}

/* Ports 0xCF8-0xCFF (PCI 3.0 §3.2.2.3.2): the address latch is a dword at
 * 0xCF8; data is 0xCFC-0xCFF, 1, 2 or 4 bytes inside that dword. A byte at
 * 0xCF9 is the reset control register we took over. */
static void conf1_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct pci_bus *b = opaque;
	if (off == 1 && len == 1 && b->reset_fn) {
		b->reset_fn(b->reset_opaque, 0, data, 1, is_write);
		return;
	}
	all_ones(data, len, is_write);
	if (off == 0 && len == 4) {
		pthread_mutex_lock(&b->cfg_lock);
		if (is_write)
			b->conf1 = get32(data) & CONF1_MASK;
		else
			put32(data, b->conf1);
		pthread_mutex_unlock(&b->cfg_lock);
		return;
	}
	if (off < 4 || off >= PCI_CONF1_LEN || len > PCI_CONF1_LEN - off)
		return;	/* other accesses to 0xCF8-0xCFB are not ours */
	pthread_mutex_lock(&b->cfg_lock);
	uint32_t a = b->conf1;
	if ((a & CONF1_ENABLE) && ((a >> 16) & 0xff) == 0)
		cfg_access(b, (a >> 8) & 0xff, (a & 0xfc) + (uint32_t)(off - 4), data, len, is_write);
	pthread_mutex_unlock(&b->cfg_lock);
}

/* ECAM (PCIe 4.0 §7.2.2): bus << 20 | device << 15 | function << 12 | register. */
static void ecam_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct pci_bus *b = opaque;
	if (off >= PCI_ECAM_SIZE) {
		all_ones(data, len, is_write);
		return;
	}
	pthread_mutex_lock(&b->cfg_lock);
	cfg_access_any(b, (uint32_t)(off >> 12) & 0xff, (uint32_t)off & 0xfff, data, len, is_write);
	pthread_mutex_unlock(&b->cfg_lock);
}

/* ---- the bus ---- */

static uint64_t ram_end(const struct guest_mem *gm)
{
	uint64_t end = 0;
	for (size_t i = 0; gm && i < gm->n; i++)
		if (gm->r[i].gpa + gm->r[i].size > end)
			end = gm->r[i].gpa + gm->r[i].size;
	return end;
}

static int register_window(struct pci_bus *b, struct pci_window *w, const char *name,
			   struct skiff_err *e)
{
	int r = bus_register(w->io ? b->pio : b->mmio, w->base, w->size, window_io, w, name);
	if (r)
		return skiff_fail(e, -r, "PCI: cannot register the %s [%#llx, %#llx): %s", name,
				  (unsigned long long)w->base,
				  (unsigned long long)(w->base + w->size), strerror(-r));
	w->registered = true;
	return 0;
}

static int register_ranges(struct pci_bus *b, struct skiff_err *e)
{
	const struct bus_range *rst = bus_find(b->pio, RESET_PORT, 1);
	if (rst && rst->base == RESET_PORT && rst->len == 1) {
		b->reset_fn = rst->fn;
		b->reset_opaque = rst->opaque;
		b->reset_name = rst->name;
		bus_unregister(b->pio, RESET_PORT);
	}
	int r = bus_register(b->pio, PCI_CONF1_PORT, PCI_CONF1_LEN, conf1_io, b, "pci-conf1");
	if (r)
		return skiff_fail(e, -r, "PCI: cannot register ports 0x%x-0x%x: %s", PCI_CONF1_PORT,
				  PCI_CONF1_PORT + PCI_CONF1_LEN - 1, strerror(-r));
	b->conf1_registered = true;
	r = bus_register(b->mmio, PCI_ECAM_BASE, PCI_ECAM_SIZE, ecam_io, b, "pci-ecam");
	if (r)
		return skiff_fail(e, -r, "PCI: cannot register ECAM at %#llx: %s", PCI_ECAM_BASE,
				  strerror(-r));
	b->ecam_registered = true;
	if ((r = register_window(b, &b->win_io, "PCI I/O window", e)) ||
	    (r = register_window(b, &b->win32, "32-bit PCI window", e)) ||
	    (r = register_window(b, &b->win64, "64-bit PCI window", e)))
		return r;
	return 0;
}

int pci_bus_create(const struct dev_host *host, struct bus *pio, struct bus *mmio,
		   struct pci_bus **out, struct skiff_err *e)
{
	*out = NULL;
	struct pci_bus *b = calloc(1, sizeof(*b));
	if (!b)
		return skiff_fail(e, ENOMEM, "out of memory");
	b->host = host;
	b->pio = pio;
	b->mmio = mmio;
	pthread_mutex_init(&b->cfg_lock, NULL);
	pthread_rwlock_init(&b->map_lock, NULL);
	pthread_mutex_init(&b->intx_lock, NULL);
	b->win_io = (struct pci_window){ .b = b, .base = PCI_IO_BASE, .size = PCI_IO_SIZE, .io = true };
	b->win32 = (struct pci_window){ .b = b, .base = PCI_MMIO32_BASE, .size = PCI_MMIO32_SIZE };
	uint64_t top = ram_end(host ? host->mem : NULL);
	b->win64 = (struct pci_window){ .b = b, .base = pci_mmio64_base(top), .size = PCI_MMIO64_SIZE };
	b->next_io = b->win_io.base;
	b->next32 = b->win32.base;
	b->next64 = b->win64.base;

	pci_dev_init(&b->bridge, "host-bridge", HOST_VENDOR, HOST_DEVICE, HOST_CLASS, 0, 0, 0);
	b->bridge.cfg[CFG_INT_PIN] = 0;		/* no interrupt */
	b->bridge.wmask[CFG_INT_LINE] = 0;
	b->bridge.bus = b;
	b->dev[0] = &b->bridge;

	int r = register_ranges(b, e);
	if (r) {
		pci_bus_destroy(b);
		return r;
	}
	*out = b;
	return 0;
}

/* Place `size` bytes at the next size-aligned address of window w. */
static bool place(uint64_t *cur, const struct pci_window *w, uint64_t size, uint64_t *at)
{
	if (size > w->size)
		return false;
	uint64_t a = (*cur + size - 1) & ~(size - 1);
	if (a < *cur || !in_window(w, a, size))
		return false;
	*at = a;
	*cur = a + size;
	return true;
}

int pci_bus_add(struct pci_bus *b, struct pci_device *d, struct skiff_err *e)
{
	const char *name = d->name ? d->name : "device";
	if (d->bus)
		return skiff_fail(e, EINVAL, "PCI: %s is already on a bus", name);
	pthread_mutex_lock(&b->cfg_lock);
	int slot = 1;
	while (slot < PCI_MAX_SLOTS && b->dev[slot])
		slot++;
	if (slot == PCI_MAX_SLOTS) {
		pthread_mutex_unlock(&b->cfg_lock);
		return skiff_fail(e, ENOSPC, "PCI: no free slot for %s (%d devices at most)", name,
				  PCI_MAX_SLOTS - 1);
	}
	uint64_t io = b->next_io, m32 = b->next32, m64 = b->next64, at[PCI_NUM_BARS] = { 0 };
	for (int i = 0; i < PCI_NUM_BARS; i++) {
		const struct pci_bar *bar = &d->bar[i];
		if (!bar->size)
			continue;
		bool ok;
		if (bar->flags & PCI_BAR_IO)
			ok = place(&io, &b->win_io, bar->size, &at[i]);
		else if (bar->flags & PCI_BAR_MEM64)
			ok = place(&m32, &b->win32, bar->size, &at[i]) ||
			     place(&m64, &b->win64, bar->size, &at[i]);
		else
			ok = place(&m32, &b->win32, bar->size, &at[i]);
		if (!ok) {
			pthread_mutex_unlock(&b->cfg_lock);
			return skiff_fail(e, ENOSPC, "PCI: no room for BAR %d of %s (%llu bytes) in "
					  "the PCI windows", i, name, (unsigned long long)bar->size);
		}
	}
	b->next_io = io;
	b->next32 = m32;
	b->next64 = m64;
	for (int i = 0; i < PCI_NUM_BARS; i++) {
		if (!d->bar[i].size)
			continue;
		uint32_t reg = CFG_BAR0 + 4 * (uint32_t)i;
		uint32_t type = get32(d->cfg + reg) & (d->bar[i].flags & PCI_BAR_IO ? 0x3u : 0xfu);
		put32(d->cfg + reg, type | (uint32_t)at[i]);
		if (d->bar[i].flags & PCI_BAR_MEM64)
			put32(d->cfg + reg + 4, (uint32_t)(at[i] >> 32));
		d->bar[i].addr = at[i];
	}
	d->slot = (uint8_t)slot;
	d->bus = b;
	d->intx_gsi = PCI_INTX_GSI_BASE + (uint32_t)slot % PCI_INTX_GSI_COUNT;
	d->cfg[CFG_INT_LINE] = (uint8_t)d->intx_gsi;
	b->dev[slot] = d;
	update_decode(b, d);
	pthread_mutex_unlock(&b->cfg_lock);
	return slot;
}

void pci_bus_destroy(struct pci_bus *b)
{
	if (!b)
		return;
	struct pci_window *w[] = { &b->win_io, &b->win32, &b->win64 };
	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++)
		if (w[i]->registered)
			bus_unregister(w[i]->io ? b->pio : b->mmio, w[i]->base);
	if (b->ecam_registered)
		bus_unregister(b->mmio, PCI_ECAM_BASE);
	if (b->conf1_registered)
		bus_unregister(b->pio, PCI_CONF1_PORT);
	if (b->reset_fn)	/* give 0xCF9 back */
		bus_register(b->pio, RESET_PORT, 1, b->reset_fn, b->reset_opaque, b->reset_name);
	pthread_mutex_destroy(&b->cfg_lock);
	pthread_rwlock_destroy(&b->map_lock);
	pthread_mutex_destroy(&b->intx_lock);
	free(b);
}
