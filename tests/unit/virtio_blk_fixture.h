/* Shared fixture for the virtio-blk tests (test_virtio_blk_*.c):
 * virtio-blk (src/dev/virtio_blk.c) driven as a guest driver would drive
 * it, with a virtqueue and requests laid out by hand in real guest RAM, the
 * device activated and notified through its virtio_ops on a real I/O event
 * loop, a real temporary image file underneath, and a fake transport that
 * records interrupts. BOTH(test) runs a data-path test with each engine.
 * Header-only: every helper is static inline, so a test file uses what it
 * needs. */
#ifndef SKIFF_TEST_VIRTIO_BLK_FIXTURE_H
#define SKIFF_TEST_VIRTIO_BLK_FIXTURE_H
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/evloop.h"
#include "core/guest_mem.h"
#include "core/ratelimit.h"
#include "dev/virtio_blk.h"

#define RAM		(16u << 20)
#define QSZ		64
#define DESC		0x10000
#define AVAIL		0x11000
#define USED		0x12000
#define HDR		0x20000		/* request headers, one page per slot */
#define STATUS		0x60000		/* status bytes, 64 per slot */
#define DATA		0x100000	/* data buffers */
#define IMG_SECTORS	2048		/* 1 MiB image */

struct fx {
	struct guest_mem gm;
	struct evloop *loop;
	struct skiff_log log;
	struct dev_host host;
	struct virtio_transport_ops tops;
	int irqs;			/* interrupts sent (atomic) */
	int config_irqs;
	char path[64];
	int fd;				/* the test's own view of the image */
	struct skiff_disk_config cfg;
	struct virtio_blk *b;
	struct virtio_device *vd;
	uint16_t avail_idx, used_seen, next_desc;
	bool event_idx;			/* start_queue negotiates VIRTIO_F_EVENT_IDX */
	int fd_kick;			/* no_lost_kick's ioeventfd stand-in */
};

static inline void fake_interrupt(struct virtio_device *vd, uint16_t q)
{
	struct fx *x = vd->transport;
	__atomic_fetch_add(q == 0xffff ? &x->config_irqs : &x->irqs, 1, __ATOMIC_SEQ_CST);
}

/* --- image and fixture --------------------------------------------------- */

static inline uint8_t pattern(uint64_t off)
{
	return (uint8_t)(off * 7 + (off >> 9) * 13 + 1);
}

static inline void make_image_in(struct fx *x, const char *dir, uint64_t size, bool fill)
{
	snprintf(x->path, sizeof(x->path), "%s/skiff-blk-XXXXXX", dir);
	x->fd = mkstemp(x->path);
	assert_true(x->fd >= 0);
	assert_int_equal(ftruncate(x->fd, (off_t)size), 0);
	if (fill) {
		uint8_t *buf = malloc(size);
		assert_non_null(buf);
		for (uint64_t i = 0; i < size; i++)
			buf[i] = pattern(i);
		assert_int_equal(pwrite(x->fd, buf, size, 0), (ssize_t)size);
		free(buf);
	}
}

static inline void make_image(struct fx *x, uint64_t size, bool fill)
{
	make_image_in(x, "/tmp", size, fill);
}

static inline struct fx *fx_new(void)
{
	struct fx *x = calloc(1, sizeof(*x));
	assert_non_null(x);
	x->fd = -1;
	assert_int_equal(gm_init(&x->gm, RAM), 0);
	struct skiff_err e = { { 0 } };
	assert_int_equal(evloop_create(&x->loop, &e), 0);
	assert_int_equal(evloop_start(x->loop), 0);
	x->log.level = getenv("SKIFF_TEST_LOG") ? LOG_DEBUG : -1;
	x->host = (struct dev_host){ .ctx = x, .log = &x->log, .mem = &x->gm, .loop = x->loop };
	x->tops.interrupt = fake_interrupt;
	return x;
}

static inline void fx_free(struct fx *x)
{
	virtio_blk_destroy(x->b);
	evloop_destroy(x->loop);
	gm_destroy(&x->gm);
	if (x->fd >= 0) {
		close(x->fd);
		unlink(x->path);
	}
	free(x);
}

static inline void call_kick(void *opaque)
{
	struct fx *x = opaque;
	virtio_queue_kick(x->vd, 0);
}

/* What a driver does through the transport before the first request
 * (§3.1.1), through the virtio core as virtio-pci would call it. */
static inline void start_queue(struct fx *x)
{
	struct virtio_device *vd = x->vd;
	vd->tops = &x->tops;
	vd->transport = x;
	uint8_t st = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;
	virtio_set_status(vd, st);
	vd->driver_features = vd->host_features;
	if (!x->event_idx)
		vd->driver_features &= ~(1ULL << VIRTIO_F_EVENT_IDX);
	st |= VIRTIO_STATUS_FEATURES_OK;
	virtio_set_status(vd, st);
	assert_true(vd->status & VIRTIO_STATUS_FEATURES_OK);
	uint8_t zero[0x3000] = { 0 };
	assert_int_equal(gm_write(&x->gm, DESC, zero, sizeof(zero)), 0);
	struct virtq *q = &vd->vq[0];
	q->size = QSZ;
	q->desc_gpa = DESC;
	q->avail_gpa = AVAIL;
	q->used_gpa = USED;
	assert_int_equal(virtio_queue_enable(vd, 0), 0);
	x->avail_idx = x->used_seen = x->next_desc = 0;
	virtio_set_status(vd, st | VIRTIO_STATUS_DRIVER_OK);
	assert_true(vd->active);
	assert_false(vd->broken);
}

static inline int create(struct fx *x, struct skiff_err *e)
{
	int r = virtio_blk_create(&x->cfg, &x->host, &x->b, e);
	if (r == 0)
		x->vd = virtio_blk_vdev(x->b);
	return r;
}

static inline struct fx *setup_engine(enum skiff_io_engine engine, bool ro)
{
	struct fx *x = fx_new();
	make_image(x, IMG_SECTORS * 512ULL, true);
	x->cfg = (struct skiff_disk_config){ .path = x->path, .engine = engine, .read_only = ro };
	struct skiff_err e = { { 0 } };
	assert_int_equal(create(x, &e), 0);
	start_queue(x);
	return x;
}

static inline int setup_sync(void **state)
{
	*state = setup_engine(SKIFF_IO_SYNC, false);
	return 0;
}

static inline int setup_uring(void **state)
{
	*state = setup_engine(SKIFF_IO_URING, false);
	return 0;
}

static inline int teardown(void **state)
{
	fx_free(*state);
	return 0;
}

/* --- a hand-driven split virtqueue --------------------------------------- */

struct seg {
	uint64_t gpa;
	uint32_t len;
	bool write;
};

static inline void put_desc(struct fx *x, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
			    uint16_t next)
{
	uint8_t d[16];
	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
	assert_int_equal(gm_write(&x->gm, DESC + 16ULL * i, d, 16), 0);
}

static inline uint16_t *avail_idx_ptr(struct fx *x)
{
	return gm_ptr(&x->gm, AVAIL + 2, 2);
}

/* Put a chain on the avail ring (not yet notified). Returns its head. */
static inline uint16_t post(struct fx *x, const struct seg *s, int n)
{
	uint16_t head = x->next_desc;
	for (int i = 0; i < n; i++) {
		uint16_t d = (uint16_t)((head + i) % QSZ);
		uint16_t flags = (s[i].write ? VIRTQ_DESC_F_WRITE : 0) |
				 (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0);
		put_desc(x, d, s[i].gpa, s[i].len, flags, (uint16_t)((d + 1) % QSZ));
	}
	x->next_desc = (uint16_t)((head + n) % QSZ);
	uint16_t slot = x->avail_idx % QSZ;
	assert_int_equal(gm_write(&x->gm, AVAIL + 4 + 2ULL * slot, &head, 2), 0);
	x->avail_idx++;
	__atomic_store_n(avail_idx_ptr(x), x->avail_idx, __ATOMIC_RELEASE);
	return head;
}

static inline void kick(struct fx *x)
{
	assert_int_equal(evloop_call(x->loop, call_kick, x), 0);
}

static inline uint64_t now_ms(void)
{
	return rl_now_ns() / 1000000;
}

/* Wait (up to 5 s) for the next used entry; returns its length. */
static inline uint32_t wait_used(struct fx *x, uint16_t *id)
{
	uint16_t *idx = gm_ptr(&x->gm, USED + 2, 2);
	uint64_t t0 = now_ms();
	while (__atomic_load_n(idx, __ATOMIC_ACQUIRE) == x->used_seen) {
		assert_true(now_ms() - t0 < 5000);
		usleep(200);
	}
	uint16_t slot = x->used_seen % QSZ;
	uint32_t elem[2];
	assert_int_equal(gm_read(&x->gm, USED + 4 + 8ULL * slot, elem, 8), 0);
	x->used_seen++;
	if (id)
		*id = (uint16_t)elem[0];
	return elem[1];
}

static inline uint16_t used_idx(struct fx *x)
{
	return __atomic_load_n((uint16_t *)gm_ptr(&x->gm, USED + 2, 2), __ATOMIC_ACQUIRE);
}

static inline void put_hdr(struct fx *x, uint64_t gpa, uint32_t type, uint64_t sector)
{
	uint8_t h[16] = { 0 };
	memcpy(h, &type, 4);
	memcpy(h + 8, &sector, 8);
	assert_int_equal(gm_write(&x->gm, gpa, h, 16), 0);
}

static inline uint8_t get_status(struct fx *x, uint64_t gpa)
{
	uint8_t s;
	assert_int_equal(gm_read(&x->gm, gpa, &s, 1), 0);
	return s;
}

static inline void set_status(struct fx *x, uint64_t gpa, uint8_t v)
{
	assert_int_equal(gm_write(&x->gm, gpa, &v, 1), 0);
}

/* One request in the usual framing: header, data (if any), status. */
static inline uint8_t request(struct fx *x, uint32_t type, uint64_t sector, uint64_t data_gpa,
			      uint32_t data_len, bool data_write, uint32_t *used_len)
{
	put_hdr(x, HDR, type, sector);
	set_status(x, STATUS, 0xee);
	struct seg s[3];
	int n = 0;
	s[n++] = (struct seg){ HDR, 16, false };
	if (data_len)
		s[n++] = (struct seg){ data_gpa, data_len, data_write };
	s[n++] = (struct seg){ STATUS, 1, true };
	uint16_t head = post(x, s, n), id;
	kick(x);
	uint32_t len = wait_used(x, &id);
	assert_int_equal(id, head);
	if (used_len)
		*used_len = len;
	return get_status(x, STATUS);
}

static inline void discard_like(struct fx *x, uint32_t type, const struct blk_seg *g, int n,
				uint8_t expect)
{
	uint8_t buf[16 * 40];
	for (int i = 0; i < n; i++) {
		uint32_t flags = g[i].unmap ? VIRTIO_BLK_DWZ_F_UNMAP : 0;
		memcpy(buf + 16 * i, &g[i].sector, 8);
		memcpy(buf + 16 * i + 8, &g[i].num_sectors, 4);
		memcpy(buf + 16 * i + 12, &flags, 4);
	}
	assert_int_equal(gm_write(&x->gm, DATA, buf, 16ULL * n), 0);
	assert_int_equal(request(x, type, 0, DATA, 16u * n, false, NULL), expect);
}

static inline void file_read(struct fx *x, uint64_t off, void *buf, size_t n)
{
	assert_int_equal(pread(x->fd, buf, n, (off_t)off), (ssize_t)n);
}

#define BOTH(t) cmocka_unit_test_setup_teardown(t, setup_sync, teardown), \
		cmocka_unit_test_setup_teardown(t, setup_uring, teardown)

#endif
