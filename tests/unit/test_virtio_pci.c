/* The modern virtio-pci transport and the virtio core, driven the way a
 * guest driver does (virtio 1.2 §3.1.1, §4.1): PCI identity and vendor
 * capabilities through configuration space, BAR 0 registers through the
 * MMIO bus, feature negotiation, status, queue set-up, notifications,
 * ISR/INTx and MSI-X interrupts, reset, and a hostile driver's
 * out-of-range and odd-width accesses. A tiny test device stands in for a
 * device model; a fake struct dev_host records what KVM would be asked. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "core/bus.h"
#include "core/evloop.h"
#include "core/guest_mem.h"
#include "pci/msix.h"
#include "pci/pci.h"
#include "virtio/virtio_pci.h"

#define NQ	2
#define QMAX	16
#define CFG_LEN	8
#define DEV_FEATURES	((1ULL << 0) | (1ULL << 5))

/* ---- fake VM services ---- */

struct ioev {
	int efd;
	uint64_t addr;
	bool live;
};

struct fake_host {
	struct dev_host h;
	struct skiff_log log;
	int irq_level[64];
	int next_gsi;
	int irqfd_efd[64];		/* by GSI */
	int signal_msi_calls;
	bool ioeventfd_fails;
	struct ioev ioev[16];
	int ioev_assign, ioev_deassign;
};

static void f_set_irq(void *ctx, uint32_t gsi, int level)
{
	struct fake_host *f = ctx;
	assert_true(gsi < 64);
	f->irq_level[gsi] = level;
}

static int f_msi_alloc(void *ctx)
{
	struct fake_host *f = ctx;
	return f->next_gsi < 64 ? f->next_gsi++ : -ENOSPC;
}

static int f_msi_route(void *ctx, uint32_t gsi, uint64_t addr, uint32_t data) { return 0; }
static void f_msi_free(void *ctx, uint32_t gsi) { }

static int f_irqfd(void *ctx, int efd, uint32_t gsi, int resample, bool assign)
{
	struct fake_host *f = ctx;
	assert_true(gsi < 64);
	f->irqfd_efd[gsi] = assign ? efd : -1;
	return 0;
}

static int f_ioeventfd(void *ctx, int efd, uint64_t addr, uint32_t len, bool mmio, bool assign)
{
	struct fake_host *f = ctx;
	assert_true(mmio);
	if (assign) {
		if (f->ioeventfd_fails)
			return -ENOSPC;
		for (int i = 0; i < 16; i++) {
			if (!f->ioev[i].live) {
				f->ioev[i] = (struct ioev){ .efd = efd, .addr = addr, .live = true };
				f->ioev_assign++;
				return 0;
			}
		}
		fail_msg("too many ioeventfds");
	}
	for (int i = 0; i < 16; i++) {
		if (f->ioev[i].live && f->ioev[i].efd == efd && f->ioev[i].addr == addr) {
			f->ioev[i].live = false;
			f->ioev_deassign++;
			return 0;
		}
	}
	fail_msg("deassigning an ioeventfd that is not there");
	return -ENOENT;
}

static int f_signal_msi(void *ctx, uint64_t addr, uint32_t data)
{
	struct fake_host *f = ctx;
	f->signal_msi_calls++;
	return 0;
}

/* ---- a tiny device ---- */

struct tdev {
	struct virtio_device vd;
	uint8_t config[CFG_LEN];
	atomic_int activates, resets, notifies[NQ];
	int activate_ret;
	uint32_t last_cfg_off, last_cfg_len;
	int cfg_writes;
};

static uint64_t t_features(struct virtio_device *vd) { return DEV_FEATURES; }

static void t_config_write(struct virtio_device *vd, uint32_t off, const void *data, uint32_t len)
{
	struct tdev *t = vd->priv;
	t->last_cfg_off = off;
	t->last_cfg_len = len;
	t->cfg_writes++;
	memcpy(t->config + off, data, len);
}

static int t_activate(struct virtio_device *vd)
{
	struct tdev *t = vd->priv;
	atomic_fetch_add(&t->activates, 1);
	return t->activate_ret;
}

static void t_reset(struct virtio_device *vd)
{
	struct tdev *t = vd->priv;
	atomic_fetch_add(&t->resets, 1);
}

static void t_notify(struct virtio_device *vd, uint16_t q)
{
	struct tdev *t = vd->priv;
	assert_true(q < NQ);
	atomic_fetch_add(&t->notifies[q], 1);
}

static const struct virtio_ops t_ops = {
	.name = "virtio-test",
	.device_id = VIRTIO_ID_RNG,
	.num_queues = NQ,
	.queue_max = QMAX,
	.features = t_features,
	.config_write = t_config_write,
	.activate = t_activate,
	.reset = t_reset,
	.queue_notify = t_notify,
};

/* ---- fixture ---- */

struct fx {
	struct fake_host fh;
	struct guest_mem gm;
	struct evloop *loop;
	struct bus pio, mmio;
	struct pci_bus *pci;
	struct tdev t;
	struct virtio_pci *vp;
	uint32_t devfn;
	uint64_t bar;		/* BAR 0 GPA */
};

static uint32_t cfg_rd(struct fx *f, uint32_t off, uint32_t len)
{
	uint8_t d[4] = { 0 };
	pci_bus_cfg_access(f->pci, f->devfn, off, d, len, false);
	return (uint32_t)d[0] | (uint32_t)d[1] << 8 | (uint32_t)d[2] << 16 | (uint32_t)d[3] << 24;
}

static void cfg_wr(struct fx *f, uint32_t off, uint32_t v, uint32_t len)
{
	uint8_t d[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
	pci_bus_cfg_access(f->pci, f->devfn, off, d, len, true);
}

static uint64_t rd(struct fx *f, uint64_t off, uint32_t len)
{
	uint8_t d[8] = { 0 };
	bus_access(&f->mmio, f->bar + off, d, len, false);
	uint64_t v = 0;
	for (uint32_t i = 0; i < len; i++)
		v |= (uint64_t)d[i] << (8 * i);
	return v;
}

static void wr(struct fx *f, uint64_t off, uint64_t v, uint32_t len)
{
	uint8_t d[8];
	for (uint32_t i = 0; i < 8; i++)
		d[i] = (uint8_t)(v >> (8 * i));
	bus_access(&f->mmio, f->bar + off, d, len, true);
}

/* BAR 0 layout and common configuration offsets (§4.1.4.3) */
#define COMMON	0x0000
#define ISR	0x1000
#define DEVCFG	0x2000
#define NOTIFY	0x3000
#define MSIXTAB	0x4000
#define DFSEL	(COMMON + 0x00)
#define DF	(COMMON + 0x04)
#define GFSEL	(COMMON + 0x08)
#define GF	(COMMON + 0x0c)
#define MSIXCFG	(COMMON + 0x10)
#define NUMQ	(COMMON + 0x12)
#define STATUS	(COMMON + 0x14)
#define GEN	(COMMON + 0x15)
#define QSEL	(COMMON + 0x16)
#define QSIZE	(COMMON + 0x18)
#define QMSIX	(COMMON + 0x1a)
#define QEN	(COMMON + 0x1c)
#define QNOFF	(COMMON + 0x1e)
#define QDESC	(COMMON + 0x20)
#define QDRV	(COMMON + 0x28)
#define QDEV	(COMMON + 0x30)

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	struct skiff_err e = { { 0 } };
	f->fh.log = (struct skiff_log){ .level = LOG_ERROR };
	f->fh.next_gsi = 24;
	for (int i = 0; i < 64; i++)
		f->fh.irqfd_efd[i] = -1;
	assert_int_equal(gm_init(&f->gm, 1 << 20), 0);
	assert_int_equal(evloop_create(&f->loop, &e), 0);
	f->fh.h = (struct dev_host){
		.ctx = &f->fh, .set_irq = f_set_irq, .log = &f->fh.log, .mem = &f->gm,
		.loop = f->loop, .msi_alloc = f_msi_alloc, .msi_route = f_msi_route,
		.msi_free = f_msi_free, .irqfd = f_irqfd, .ioeventfd = f_ioeventfd,
		.signal_msi = f_signal_msi,
	};
	bus_init(&f->pio, 0x10000);
	bus_init(&f->mmio, 0);
	assert_int_equal(pci_bus_create(&f->fh.h, &f->pio, &f->mmio, &f->pci, &e), 0);
	assert_int_equal(virtio_device_init(&f->t.vd, &t_ops, &f->t, &f->fh.h, f->t.config, CFG_LEN), 0);
	memcpy(f->t.config, "\x11\x22\x33\x44\x55\x66\x77\x88", CFG_LEN);
	int r = virtio_pci_create(&f->t.vd, f->pci, &f->vp, &e);
	if (r)
		fail_msg("virtio_pci_create: %s", e.msg);
	struct pci_device *d = virtio_pci_dev(f->vp);
	f->devfn = (uint32_t)d->slot << 3;
	f->bar = (cfg_rd(f, 0x10, 4) & ~0xfULL) | (uint64_t)cfg_rd(f, 0x14, 4) << 32;
	assert_true(f->bar != 0);
	cfg_wr(f, 0x04, 0x0006, 2);	/* memory decode, bus master */
	assert_int_equal(evloop_start(f->loop), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	evloop_stop(f->loop);
	pci_bus_destroy(f->pci);
	virtio_pci_destroy(f->vp);
	virtio_device_destroy(&f->t.vd);
	evloop_destroy(f->loop);
	bus_destroy(&f->pio);
	bus_destroy(&f->mmio);
	gm_destroy(&f->gm);
	free(f);
	return 0;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { 0, ms * 1000000L };
	nanosleep(&ts, NULL);
}

/* Wait until *v reaches want (at most 2 s). */
static void wait_for(atomic_int *v, int want)
{
	for (int i = 0; i < 2000 && atomic_load(v) < want; i++)
		sleep_ms(1);
	assert_int_equal(atomic_load(v), want);
}

/* Driver initialisation up to FEATURES_OK (§3.1.1 steps 1-6). */
static void negotiate(struct fx *f, uint64_t feats)
{
	wr(f, STATUS, VIRTIO_STATUS_ACKNOWLEDGE, 1);
	wr(f, STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER, 1);
	wr(f, GFSEL, 0, 4);
	wr(f, GF, (uint32_t)feats, 4);
	wr(f, GFSEL, 1, 4);
	wr(f, GF, (uint32_t)(feats >> 32), 4);
	wr(f, STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK, 1);
}

#define ST_FEAT (VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK)
#define V1	(1ULL << VIRTIO_F_VERSION_1)

static void setup_queue(struct fx *f, uint16_t q, uint64_t desc, uint64_t drv, uint64_t dev)
{
	wr(f, QSEL, q, 2);
	wr(f, QDESC, desc, 8);
	wr(f, QDRV, (uint32_t)drv, 4);
	wr(f, QDRV + 4, drv >> 32, 4);
	wr(f, QDEV, dev, 8);
	wr(f, QEN, 1, 2);
}

static void test_identity_and_caps(void **state)
{
	struct fx *f = *state;
	assert_int_equal(cfg_rd(f, 0x00, 2), 0x1af4);
	assert_int_equal(cfg_rd(f, 0x02, 2), 0x1040 + VIRTIO_ID_RNG);
	assert_int_equal(cfg_rd(f, 0x08, 1), 1);		/* revision */
	assert_int_equal(cfg_rd(f, 0x2c, 2), 0x1af4);
	assert_true(cfg_rd(f, 0x2e, 2) >= 0x40);
	assert_int_equal(cfg_rd(f, 0x10, 4) & 0x7, 0x4);	/* 64-bit memory BAR */
	assert_true(cfg_rd(f, 0x06, 2) & 0x10);		/* capability list */
	bool seen[5] = { false };
	bool msix = false;
	int guard = 0;
	for (uint32_t c = cfg_rd(f, 0x34, 1); c && guard < 48; c = cfg_rd(f, c + 1, 1), guard++) {
		uint32_t id = cfg_rd(f, c, 1);
		if (id == 0x11) {
			msix = true;
			assert_int_equal(cfg_rd(f, c + 2, 2) & 0x7ff, NQ);	/* N - 1 vectors */
			assert_int_equal(cfg_rd(f, c + 4, 4), MSIXTAB);		/* BAR 0 */
			continue;
		}
		assert_int_equal(id, 0x09);
		uint32_t type = cfg_rd(f, c + 3, 1), off = cfg_rd(f, c + 8, 4), len = cfg_rd(f, c + 12, 4);
		assert_true(type >= 1 && type <= 4);
		assert_int_equal(cfg_rd(f, c + 4, 1), 0);	/* BAR 0 */
		seen[type] = true;
		switch (type) {
		case 1: assert_int_equal(off, COMMON); assert_true(len >= 0x38); break;
		case 2:
			assert_int_equal(off, NOTIFY);
			assert_int_equal(len, 4 * NQ);
			assert_int_equal(cfg_rd(f, c + 2, 1), 20);
			assert_int_equal(cfg_rd(f, c + 16, 4), 4);	/* notify_off_multiplier */
			break;
		case 3: assert_int_equal(off, ISR); assert_true(len >= 1); break;
		case 4: assert_int_equal(off, DEVCFG); assert_int_equal(len, CFG_LEN); break;
		}
	}
	assert_true(seen[1] && seen[2] && seen[3] && seen[4] && msix);
	/* ioeventfds were registered when decoding turned on, one per queue */
	assert_int_equal(f->fh.ioev_assign, NQ);
	for (int q = 0; q < NQ; q++) {
		bool found = false;
		for (int i = 0; i < 16; i++)
			found |= f->fh.ioev[i].live && f->fh.ioev[i].addr == f->bar + NOTIFY + 4 * q;
		assert_true(found);
	}
}

static void test_feature_negotiation(void **state)
{
	struct fx *f = *state;
	wr(f, DFSEL, 0, 4);
	uint64_t lo = rd(f, DF, 4);
	wr(f, DFSEL, 1, 4);
	uint64_t hi = rd(f, DF, 4);
	uint64_t offered = lo | hi << 32;
	assert_true(offered & V1);
	assert_true(offered & (1ULL << VIRTIO_F_INDIRECT_DESC));
	assert_true(offered & (1ULL << VIRTIO_F_EVENT_IDX));
	assert_int_equal(offered & DEV_FEATURES, DEV_FEATURES);
	wr(f, DFSEL, 7, 4);
	assert_int_equal(rd(f, DF, 4), 0);	/* beyond 64 bits */
	assert_int_equal(rd(f, NUMQ, 2), NQ);

	/* a bit we did not offer: FEATURES_OK does not stick (§3.1.1 step 6) */
	negotiate(f, V1 | (1ULL << 3));
	assert_int_equal(rd(f, STATUS, 1), VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	/* no VERSION_1: refused too */
	wr(f, STATUS, 0, 1);
	assert_int_equal(rd(f, STATUS, 1), 0);
	negotiate(f, 1ULL << 0);
	assert_false(rd(f, STATUS, 1) & VIRTIO_STATUS_FEATURES_OK);
	/* a subset with VERSION_1 */
	wr(f, STATUS, 0, 1);
	negotiate(f, V1 | (1ULL << 5) | (1ULL << VIRTIO_F_EVENT_IDX));
	assert_int_equal(rd(f, STATUS, 1), ST_FEAT);
	assert_true(virtio_has_feature(&f->t.vd, 5));
	assert_false(virtio_has_feature(&f->t.vd, 0));
	/* features are frozen after FEATURES_OK */
	wr(f, GFSEL, 0, 4);
	wr(f, GF, 0xffffffff, 4);
	assert_int_equal(rd(f, GF, 4), (1u << 5) | (1u << VIRTIO_F_EVENT_IDX));
	wr(f, GFSEL, 1, 4);
	assert_int_equal(rd(f, GF, 4), 1);
	/* bits do not clear except by reset */
	wr(f, STATUS, VIRTIO_STATUS_ACKNOWLEDGE, 1);
	assert_int_equal(rd(f, STATUS, 1), ST_FEAT);
	/* the driver cannot set NEEDS_RESET */
	wr(f, STATUS, ST_FEAT | VIRTIO_STATUS_NEEDS_RESET, 1);
	assert_int_equal(rd(f, STATUS, 1), ST_FEAT);
}

static void test_queue_setup_and_activate(void **state)
{
	struct fx *f = *state;
	negotiate(f, V1 | (1ULL << VIRTIO_F_EVENT_IDX));
	wr(f, QSEL, 0, 2);
	assert_int_equal(rd(f, QSIZE, 2), QMAX);
	wr(f, QSIZE, 8, 2);
	assert_int_equal(rd(f, QSIZE, 2), 8);
	wr(f, QSIZE, 6, 2);		/* not a power of two */
	assert_int_equal(rd(f, QSIZE, 2), 8);
	wr(f, QSIZE, 2 * QMAX, 2);	/* above the maximum */
	assert_int_equal(rd(f, QSIZE, 2), 8);
	wr(f, QSIZE, 0, 2);
	assert_int_equal(rd(f, QSIZE, 2), 8);
	assert_int_equal(rd(f, QNOFF, 2), 0);
	wr(f, QSEL, 1, 2);
	assert_int_equal(rd(f, QNOFF, 2), 1);
	wr(f, QSEL, NQ, 2);		/* no such queue */
	assert_int_equal(rd(f, QSIZE, 2), 0);
	assert_int_equal(rd(f, QMSIX, 2), MSIX_NO_VECTOR);
	assert_int_equal(rd(f, QDESC, 8), 0);
	wr(f, QSIZE, 4, 2);
	wr(f, QEN, 1, 2);		/* ignored */
	assert_int_equal(rd(f, QEN, 2), 0);

	wr(f, QSEL, 0, 2);
	setup_queue(f, 0, 0x1000, 0x100000000ULL | 0x2000, 0x3000);
	/* the high half above went outside RAM: enabling failed, NEEDS_RESET */
	assert_int_equal(rd(f, QEN, 2), 0);
	assert_true(rd(f, STATUS, 1) & VIRTIO_STATUS_NEEDS_RESET);
	wr(f, STATUS, 0, 1);
	assert_int_equal(rd(f, STATUS, 1), 0);
	assert_int_equal(atomic_load(&f->t.resets), 1);

	negotiate(f, V1 | (1ULL << VIRTIO_F_EVENT_IDX));
	wr(f, QSEL, 0, 2);
	assert_int_equal(rd(f, QSIZE, 2), QMAX);	/* reset restored the maximum */
	wr(f, QSIZE, 8, 2);
	setup_queue(f, 0, 0x1000, 0x2000, 0x3000);
	assert_int_equal(rd(f, QEN, 2), 1);
	assert_int_equal(rd(f, QDESC, 8), 0x1000);
	assert_int_equal(rd(f, QDRV, 4), 0x2000);
	assert_int_equal(rd(f, QDRV + 4, 4), 0);
	assert_int_equal(rd(f, QDEV + 4, 4), 0);
	assert_int_equal(rd(f, QDEV, 8), 0x3000);
	assert_true(f->t.vd.vq[0].ready);
	assert_true(f->t.vd.vq[0].event_idx);
	assert_false(f->t.vd.vq[0].indirect);
	/* frozen while enabled */
	wr(f, QSIZE, 4, 2);
	wr(f, QDESC, 0x5000, 8);
	wr(f, QEN, 0, 2);
	assert_int_equal(rd(f, QSIZE, 2), 8);
	assert_int_equal(rd(f, QDESC, 8), 0x1000);
	assert_int_equal(rd(f, QEN, 2), 1);
	/* DRIVER_OK: activate on the I/O thread, one kick for the ready queue */
	wr(f, STATUS, ST_FEAT | VIRTIO_STATUS_DRIVER_OK, 1);
	assert_int_equal(atomic_load(&f->t.activates), 1);
	assert_true(f->t.vd.active);
	wait_for(&f->t.notifies[0], 1);
	assert_int_equal(atomic_load(&f->t.notifies[1]), 0);
	/* a guest kick at the notify address (the MMIO path; with a real
	 * ioeventfd KVM would signal the same eventfd) */
	wr(f, NOTIFY + 0, 0, 2);
	wait_for(&f->t.notifies[0], 2);
	wr(f, NOTIFY + 4, 1, 2);	/* queue 1 is not enabled: dropped */
	wr(f, NOTIFY + 8, 2, 2);	/* no queue 2 */
	wr(f, NOTIFY + 2, 0, 2);	/* not a queue's address */
	sleep_ms(20);
	assert_int_equal(atomic_load(&f->t.notifies[1]), 0);
	assert_int_equal(atomic_load(&f->t.notifies[0]), 2);
	/* reset: device callback, registers back to defaults, kicks dropped */
	wr(f, QMSIX, 1, 2);
	wr(f, STATUS, 0, 1);
	assert_int_equal(atomic_load(&f->t.resets), 2);
	assert_false(f->t.vd.active);
	assert_int_equal(rd(f, QEN, 2), 0);
	assert_int_equal(rd(f, QMSIX, 2), MSIX_NO_VECTOR);
	assert_int_equal(rd(f, GF, 4), 0);
	wr(f, NOTIFY, 0, 2);
	sleep_ms(20);
	assert_int_equal(atomic_load(&f->t.notifies[0]), 2);
}

static void test_activate_failure_and_device_error(void **state)
{
	struct fx *f = *state;
	f->t.activate_ret = -EIO;
	negotiate(f, V1);
	wr(f, STATUS, ST_FEAT | VIRTIO_STATUS_DRIVER_OK, 1);
	assert_true(rd(f, STATUS, 1) & VIRTIO_STATUS_NEEDS_RESET);
	assert_false(f->t.vd.active);
	/* INTx: the configuration interrupt went out (ISR bit 1) */
	uint32_t gsi = cfg_rd(f, 0x3c, 1);
	assert_int_equal(f->fh.irq_level[gsi], 1);
	assert_int_equal(rd(f, ISR, 1), 2);
	assert_int_equal(f->fh.irq_level[gsi], 0);
	wr(f, STATUS, 0, 1);
	f->t.activate_ret = 0;
	/* DRIVER_OK without FEATURES_OK */
	wr(f, STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DRIVER_OK, 1);
	assert_true(rd(f, STATUS, 1) & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(atomic_load(&f->t.activates), 1);
	wr(f, STATUS, 0, 1);
	/* a device model's own error: once, until reset */
	negotiate(f, V1);
	wr(f, STATUS, ST_FEAT | VIRTIO_STATUS_DRIVER_OK, 1);
	assert_true(f->t.vd.active);
	virtio_device_error(&f->t.vd, "test error %d", 42);
	virtio_device_error(&f->t.vd, "again");
	assert_int_equal(rd(f, STATUS, 1), ST_FEAT | VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(rd(f, ISR, 1), 2);
	assert_int_equal(rd(f, ISR, 1), 0);	/* read clears */
	/* broken: queue interrupts suppressed */
	virtio_queue_interrupt(&f->t.vd, 0);
	assert_int_equal(rd(f, ISR, 1), 0);
}

static void test_config_space(void **state)
{
	struct fx *f = *state;
	assert_int_equal(rd(f, DEVCFG, 4), 0x44332211);
	assert_int_equal(rd(f, DEVCFG + 4, 4), 0x88776655);
	assert_int_equal(rd(f, DEVCFG, 8), 0x8877665544332211ULL);
	assert_int_equal(rd(f, DEVCFG + 7, 1), 0x88);
	assert_int_equal(rd(f, DEVCFG + 6, 2), 0x8877);
	/* past the end, straddling it */
	assert_int_equal(rd(f, DEVCFG + 8, 1), 0xff);
	assert_int_equal(rd(f, DEVCFG + 6, 4), 0xffffffff);
	assert_int_equal(rd(f, DEVCFG + 0xfff, 1), 0xff);
	wr(f, DEVCFG + 2, 0xabcd, 2);
	assert_int_equal(f->t.cfg_writes, 1);
	assert_int_equal(f->t.last_cfg_off, 2);
	assert_int_equal(f->t.last_cfg_len, 2);
	assert_int_equal(rd(f, DEVCFG, 4), 0xabcd2211);
	wr(f, DEVCFG + 6, 0, 4);	/* straddles the end: ignored */
	wr(f, DEVCFG + 8, 0, 1);
	wr(f, DEVCFG + 1, 0, 3);	/* odd width */
	assert_int_equal(f->t.cfg_writes, 1);
	/* generation and change interrupt */
	uint64_t g = rd(f, GEN, 1);
	negotiate(f, V1);
	wr(f, STATUS, ST_FEAT | VIRTIO_STATUS_DRIVER_OK, 1);
	pthread_mutex_lock(&f->t.vd.lock);
	f->t.config[0] = 0x99;
	virtio_config_changed(&f->t.vd);
	pthread_mutex_unlock(&f->t.vd.lock);
	assert_int_equal(rd(f, GEN, 1), (g + 1) & 0xff);
	assert_int_equal(rd(f, ISR, 1), 2);
}

static void test_odd_accesses_ignored(void **state)
{
	struct fx *f = *state;
	wr(f, DFSEL, 1, 4);
	assert_int_equal(rd(f, DF, 1), 0xff);		/* 32-bit register, 8-bit read */
	assert_int_equal(rd(f, DF, 2), 0xffff);
	assert_int_equal(rd(f, DF + 2, 2), 0xffff);	/* half of it */
	assert_int_equal(rd(f, DF, 8), UINT64_MAX);
	assert_int_equal(rd(f, NUMQ, 4), 0xffffffff);
	assert_int_equal(rd(f, STATUS, 2), 0xffff);
	assert_int_equal(rd(f, QDESC + 2, 4), 0xffffffff);	/* misaligned half */
	assert_int_equal(rd(f, DF, 3), 0xffffff);
	wr(f, STATUS, VIRTIO_STATUS_ACKNOWLEDGE, 2);	/* wrong width */
	wr(f, STATUS, VIRTIO_STATUS_ACKNOWLEDGE, 4);
	assert_int_equal(rd(f, STATUS, 1), 0);
	wr(f, QSEL, 1, 1);
	wr(f, QSEL, 1, 4);
	assert_int_equal(rd(f, QSEL, 2), 0);
	wr(f, DFSEL, 0, 2);
	wr(f, QDESC + 1, 0x1234, 2);
	wr(f, QDESC + 4, 0x1234, 8);
	assert_int_equal(rd(f, QDESC, 8), 0);
	wr(f, NUMQ, 7, 2);				/* read-only */
	assert_int_equal(rd(f, NUMQ, 2), NQ);
	/* the reserved tail of the common region reads as zero */
	assert_int_equal(rd(f, COMMON + 0x3c, 4), 0);
	/* between the regions and past everything: all-ones, writes dropped */
	assert_int_equal(rd(f, 0x0800, 4), 0xffffffff);
	assert_int_equal(rd(f, ISR + 1, 1), 0xff);
	assert_int_equal(rd(f, ISR, 2), 0xffff);
	assert_int_equal(rd(f, 0x7ffc, 4), 0xffffffff);
	wr(f, 0x7ff8, UINT64_MAX, 8);
	wr(f, 0x6000, 1, 4);
	assert_int_equal(rd(f, NOTIFY, 2), 0);		/* notify reads as zero */
	/* the MSI-X table only takes aligned dwords/qwords */
	assert_int_equal(rd(f, MSIXTAB + 12, 4), 1);	/* masked */
	assert_int_equal(rd(f, MSIXTAB + 12, 2), 0xffff);
	/* the status still works after all that */
	wr(f, STATUS, VIRTIO_STATUS_ACKNOWLEDGE, 1);
	assert_int_equal(rd(f, STATUS, 1), VIRTIO_STATUS_ACKNOWLEDGE);
}

/* Rings for queue 0 at 0x1000/0x2000/0x3000 (size 8) and one used entry. */
static void push_one(struct fx *f)
{
	struct virtq *q = &f->t.vd.vq[0];
	uint16_t one = 1, head = 0;
	struct { uint64_t a; uint32_t l; uint16_t fl, n; } d = { 0x8000, 16, 0, 0 };
	assert_int_equal(gm_write(&f->gm, 0x1000, &d, 16), 0);
	uint16_t idx;
	assert_int_equal(gm_read(&f->gm, 0x2002, &idx, 2), 0);
	assert_int_equal(gm_write(&f->gm, 0x2004 + 2 * (idx % 8), &head, 2), 0);
	idx += one;
	assert_int_equal(gm_write(&f->gm, 0x2002, &idx, 2), 0);
	struct virtq_chain *c = malloc(sizeof(*c));
	assert_non_null(c);
	assert_int_equal(virtq_pop(q, c), 1);
	assert_int_equal(virtq_push(q, c->head, 0), 0);
	free(c);
	virtio_queue_interrupt(&f->t.vd, 0);
}

static void driver_ok_with_queue(struct fx *f)
{
	negotiate(f, V1);
	wr(f, QSEL, 0, 2);
	wr(f, QSIZE, 8, 2);
	setup_queue(f, 0, 0x1000, 0x2000, 0x3000);
	wr(f, STATUS, ST_FEAT | VIRTIO_STATUS_DRIVER_OK, 1);
	assert_true(f->t.vd.active);
}

static void test_intx(void **state)
{
	struct fx *f = *state;
	driver_ok_with_queue(f);
	uint32_t gsi = cfg_rd(f, 0x3c, 1);
	assert_true(gsi >= 16 && gsi < 24);
	push_one(f);
	assert_int_equal(f->fh.irq_level[gsi], 1);
	/* INTx disabled in the command register holds the line low */
	cfg_wr(f, 0x04, 0x0406, 2);
	assert_int_equal(f->fh.irq_level[gsi], 0);
	cfg_wr(f, 0x04, 0x0006, 2);
	assert_int_equal(f->fh.irq_level[gsi], 1);
	assert_int_equal(rd(f, ISR, 1), 1);
	assert_int_equal(f->fh.irq_level[gsi], 0);
	assert_int_equal(rd(f, ISR, 1), 0);
	/* NO_INTERRUPT from the driver: no interrupt */
	uint16_t fl = VIRTQ_AVAIL_F_NO_INTERRUPT;
	assert_int_equal(gm_write(&f->gm, 0x2000, &fl, 2), 0);
	push_one(f);
	assert_int_equal(f->fh.irq_level[gsi], 0);
	/* a reset lowers a pending line */
	fl = 0;
	assert_int_equal(gm_write(&f->gm, 0x2000, &fl, 2), 0);
	push_one(f);
	assert_int_equal(f->fh.irq_level[gsi], 1);
	wr(f, STATUS, 0, 1);
	assert_int_equal(f->fh.irq_level[gsi], 0);
	assert_int_equal(rd(f, ISR, 1), 0);
}

static void test_msix(void **state)
{
	struct fx *f = *state;
	/* find the MSI-X capability and enable it */
	uint32_t cap = 0;
	for (uint32_t c = cfg_rd(f, 0x34, 1); c; c = cfg_rd(f, c + 1, 1))
		if (cfg_rd(f, c, 1) == 0x11)
			cap = c;
	assert_true(cap);
	cfg_wr(f, cap + 2, 0x8000, 2);
	/* vector 1: a message, unmasked */
	wr(f, MSIXTAB + 16, 0xfee00000, 4);
	wr(f, MSIXTAB + 20, 0, 4);
	wr(f, MSIXTAB + 24, 0x41, 4);
	wr(f, MSIXTAB + 28, 0, 4);
	wr(f, MSIXCFG, 0, 2);
	assert_int_equal(rd(f, MSIXCFG, 2), 0);
	wr(f, MSIXCFG, NQ + 1, 2);			/* beyond the table */
	assert_int_equal(rd(f, MSIXCFG, 2), MSIX_NO_VECTOR);
	driver_ok_with_queue(f);
	wr(f, QSEL, 0, 2);
	wr(f, QMSIX, 1, 2);
	assert_int_equal(rd(f, QMSIX, 2), 1);
	uint32_t gsi = cfg_rd(f, 0x3c, 1);
	push_one(f);
	assert_int_equal(f->fh.irq_level[gsi], 0);	/* no INTx with MSI-X on */
	assert_int_equal(rd(f, ISR, 1), 0);
	/* the vector's irqfd was written */
	int fired = 0;
	for (int g = 24; g < 64; g++) {
		uint64_t v;
		if (f->fh.irqfd_efd[g] >= 0 && read(f->fh.irqfd_efd[g], &v, 8) == 8)
			fired += (int)v;
	}
	assert_int_equal(fired + f->fh.signal_msi_calls, 1);
	/* NO_VECTOR: nothing at all */
	wr(f, QMSIX, MSIX_NO_VECTOR, 2);
	push_one(f);
	for (int g = 24; g < 64; g++) {
		uint64_t v;
		if (f->fh.irqfd_efd[g] >= 0)
			assert_int_equal(read(f->fh.irqfd_efd[g], &v, 8), -1);
	}
	assert_int_equal(f->fh.signal_msi_calls, 0);
	assert_int_equal(rd(f, ISR, 1), 0);
}

static void test_bar_moves_and_ioeventfd_fallback(void **state)
{
	struct fx *f = *state;
	assert_int_equal(f->fh.ioev_assign, NQ);
	/* decoding off: the ioeventfds go */
	cfg_wr(f, 0x04, 0x0000, 2);
	assert_int_equal(f->fh.ioev_deassign, NQ);
	/* move the BAR while off, turn decoding on with ioeventfd refused */
	uint64_t nbar = f->bar + 0x10000;
	cfg_wr(f, 0x10, (uint32_t)nbar | 0x4, 4);
	cfg_wr(f, 0x14, (uint32_t)(nbar >> 32), 4);
	f->fh.ioeventfd_fails = true;
	cfg_wr(f, 0x04, 0x0006, 2);
	assert_int_equal(f->fh.ioev_assign, NQ);
	f->bar = nbar;
	driver_ok_with_queue(f);
	wait_for(&f->t.notifies[0], 1);
	wr(f, NOTIFY, 0, 2);		/* the vCPU path signals the eventfd */
	wait_for(&f->t.notifies[0], 2);
	/* and back on with ioeventfds at the new place */
	f->fh.ioeventfd_fails = false;
	cfg_wr(f, 0x04, 0x0000, 2);
	cfg_wr(f, 0x04, 0x0006, 2);
	assert_int_equal(f->fh.ioev_assign, 2 * NQ);
	for (int i = 0; i < 16; i++)
		if (f->fh.ioev[i].live)
			assert_true(f->fh.ioev[i].addr >= nbar + NOTIFY &&
				    f->fh.ioev[i].addr < nbar + NOTIFY + 4 * NQ);
	/* a KVM-signalled ioeventfd (simulated) reaches queue_notify */
	for (int i = 0; i < 16; i++) {
		if (f->fh.ioev[i].live && f->fh.ioev[i].addr == nbar + NOTIFY) {
			uint64_t one = 1;
			assert_int_equal(write(f->fh.ioev[i].efd, &one, 8), 8);
		}
	}
	wait_for(&f->t.notifies[0], 3);
}

static void test_init_checks(void **state)
{
	struct fx *f = *state;
	struct virtio_device vd;
	struct virtio_ops o = t_ops;
	uint8_t cfg[8];
	o.num_queues = 0;
	assert_int_equal(virtio_device_init(&vd, &o, NULL, &f->fh.h, cfg, 8), -EINVAL);
	o.num_queues = VIRTIO_MAX_QUEUES + 1;
	assert_int_equal(virtio_device_init(&vd, &o, NULL, &f->fh.h, cfg, 8), -EINVAL);
	o.num_queues = 1;
	o.queue_max = 100;
	assert_int_equal(virtio_device_init(&vd, &o, NULL, &f->fh.h, cfg, 8), -EINVAL);
	o.queue_max = 64;
	assert_int_equal(virtio_device_init(&vd, &o, NULL, &f->fh.h, NULL, 8), -EINVAL);
	assert_int_equal(virtio_device_init(&vd, &o, NULL, &f->fh.h, cfg, 8192), -EINVAL);
	assert_int_equal(virtio_device_init(&vd, &o, NULL, &f->fh.h, NULL, 0), 0);
	assert_int_equal(vd.vq[0].size, 64);
	/* no event loop: refused by the transport */
	struct dev_host h = f->fh.h;
	h.loop = NULL;
	vd.host = &h;
	struct virtio_pci *vp;
	struct skiff_err e;
	assert_int_equal(virtio_pci_create(&vd, f->pci, &vp, &e), -EINVAL);
	virtio_device_destroy(&vd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_identity_and_caps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_feature_negotiation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_setup_and_activate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_activate_failure_and_device_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_space, setup, teardown),
		cmocka_unit_test_setup_teardown(test_odd_accesses_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_intx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_msix, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bar_moves_and_ioeventfd_fallback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_init_checks, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
