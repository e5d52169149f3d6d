/* virtio-blk (src/dev/virtio_blk.c) driven as a guest driver would drive
 * it: a virtqueue and requests laid out by hand in real guest RAM, the
 * device activated and notified through its virtio_ops on a real I/O event
 * loop, a real temporary image file underneath, and a fake transport that
 * records interrupts. Every data-path test runs with both engines. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
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

static void fake_interrupt(struct virtio_device *vd, uint16_t q)
{
	struct fx *x = vd->transport;
	__atomic_fetch_add(q == 0xffff ? &x->config_irqs : &x->irqs, 1, __ATOMIC_SEQ_CST);
}

/* --- image and fixture --------------------------------------------------- */

static uint8_t pattern(uint64_t off)
{
	return (uint8_t)(off * 7 + (off >> 9) * 13 + 1);
}

static void make_image_in(struct fx *x, const char *dir, uint64_t size, bool fill)
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

static void make_image(struct fx *x, uint64_t size, bool fill)
{
	make_image_in(x, "/tmp", size, fill);
}

static struct fx *fx_new(void)
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

static void fx_free(struct fx *x)
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

static void call_kick(void *opaque)
{
	struct fx *x = opaque;
	virtio_queue_kick(x->vd, 0);
}

/* What a driver does through the transport before the first request
 * (§3.1.1), through the virtio core as virtio-pci would call it. */
static void start_queue(struct fx *x)
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

static int create(struct fx *x, struct skiff_err *e)
{
	int r = virtio_blk_create(&x->cfg, &x->host, &x->b, e);
	if (r == 0)
		x->vd = virtio_blk_vdev(x->b);
	return r;
}

static struct fx *setup_engine(enum skiff_io_engine engine, bool ro)
{
	struct fx *x = fx_new();
	make_image(x, IMG_SECTORS * 512ULL, true);
	x->cfg = (struct skiff_disk_config){ .path = x->path, .engine = engine, .read_only = ro };
	struct skiff_err e = { { 0 } };
	assert_int_equal(create(x, &e), 0);
	start_queue(x);
	return x;
}

static int setup_sync(void **state)
{
	*state = setup_engine(SKIFF_IO_SYNC, false);
	return 0;
}

static int setup_uring(void **state)
{
	*state = setup_engine(SKIFF_IO_URING, false);
	return 0;
}

static int teardown(void **state)
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

static void put_desc(struct fx *x, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	uint8_t d[16];
	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
	assert_int_equal(gm_write(&x->gm, DESC + 16ULL * i, d, 16), 0);
}

static uint16_t *avail_idx_ptr(struct fx *x)
{
	return gm_ptr(&x->gm, AVAIL + 2, 2);
}

/* Put a chain on the avail ring (not yet notified). Returns its head. */
static uint16_t post(struct fx *x, const struct seg *s, int n)
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

static void kick(struct fx *x)
{
	assert_int_equal(evloop_call(x->loop, call_kick, x), 0);
}

static uint64_t now_ms(void)
{
	return rl_now_ns() / 1000000;
}

/* Wait (up to 5 s) for the next used entry; returns its length. */
static uint32_t wait_used(struct fx *x, uint16_t *id)
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

static uint16_t used_idx(struct fx *x)
{
	return __atomic_load_n((uint16_t *)gm_ptr(&x->gm, USED + 2, 2), __ATOMIC_ACQUIRE);
}

static void put_hdr(struct fx *x, uint64_t gpa, uint32_t type, uint64_t sector)
{
	uint8_t h[16] = { 0 };
	memcpy(h, &type, 4);
	memcpy(h + 8, &sector, 8);
	assert_int_equal(gm_write(&x->gm, gpa, h, 16), 0);
}

static uint8_t get_status(struct fx *x, uint64_t gpa)
{
	uint8_t s;
	assert_int_equal(gm_read(&x->gm, gpa, &s, 1), 0);
	return s;
}

static void set_status(struct fx *x, uint64_t gpa, uint8_t v)
{
	assert_int_equal(gm_write(&x->gm, gpa, &v, 1), 0);
}

/* One request in the usual framing: header, data (if any), status. */
static uint8_t request(struct fx *x, uint32_t type, uint64_t sector, uint64_t data_gpa,
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

static void discard_like(struct fx *x, uint32_t type, const struct blk_seg *g, int n,
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

static void file_read(struct fx *x, uint64_t off, void *buf, size_t n)
{
	assert_int_equal(pread(x->fd, buf, n, (off_t)off), (ssize_t)n);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* --- data path ----------------------------------------------------------- */

static void write_then_read(void **state)
{
	struct fx *x = *state;
	uint8_t *g = gm_ptr(&x->gm, DATA, 8192);
	for (int i = 0; i < 4096; i++)
		g[i] = (uint8_t)(i ^ 0x5a);
	uint32_t len;
	assert_int_equal(request(x, VIRTIO_BLK_T_OUT, 8, DATA, 4096, false, &len),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(len, 1);
	uint8_t f[4096];
	file_read(x, 8 * 512, f, sizeof(f));
	assert_memory_equal(f, g, 4096);

	/* read sectors 6..14: two pattern sectors, then what we wrote */
	memset(g, 0, 8192);
	assert_int_equal(request(x, VIRTIO_BLK_T_IN, 6, DATA, 8 * 512, true, &len),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(len, 8 * 512 + 1);
	uint8_t want[4096];
	file_read(x, 6 * 512, want, sizeof(want));
	assert_memory_equal(g, want, 4096);
	/* the last sector of the disk */
	assert_int_equal(request(x, VIRTIO_BLK_T_IN, IMG_SECTORS - 1, DATA, 512, true, NULL),
			 VIRTIO_BLK_S_OK);
	for (int i = 0; i < 512; i++)
		assert_int_equal(g[i], pattern((IMG_SECTORS - 1) * 512ULL + i));
	assert_true(__atomic_load_n(&x->irqs, __ATOMIC_SEQ_CST) >= 3);
	struct virtio_blk_stats st;
	virtio_blk_get_stats(x->b, &st);
	assert_int_equal(st.writes, 1);
	assert_int_equal(st.reads, 2);
	assert_int_equal(st.write_bytes, 4096);
	assert_int_equal(st.read_bytes, 8 * 512 + 512);
	assert_int_equal(st.errors, 0);
}

/* §2.6.4: no assumptions about framing. Header and data share a buffer;
 * data spans odd-sized buffers; the status byte shares the last one. */
static void odd_framing(void **state)
{
	struct fx *x = *state;
	/* OUT: [header + 100 data][412 data][0 data, skipped][status] */
	uint8_t *p = gm_ptr(&x->gm, DATA, 1024);
	put_hdr(x, DATA, VIRTIO_BLK_T_OUT, 3);
	for (int i = 0; i < 512; i++)
		p[16 + i] = (uint8_t)(200 - i);
	set_status(x, STATUS, 0xee);
	struct seg s[] = { { DATA, 116, false }, { DATA + 116, 412, false }, { STATUS, 1, true } };
	post(x, s, 3);
	kick(x);
	wait_used(x, NULL);
	assert_int_equal(get_status(x, STATUS), VIRTIO_BLK_S_OK);
	uint8_t f[512];
	file_read(x, 3 * 512, f, 512);
	assert_memory_equal(f, p + 16, 512);

	/* IN: [header][300][213 = 212 data + status] */
	put_hdr(x, HDR, VIRTIO_BLK_T_IN, 3);
	uint8_t *q = gm_ptr(&x->gm, DATA + 4096, 600);
	memset(q, 0, 600);
	q[512] = 0xee;
	struct seg t[] = { { HDR, 16, false }, { DATA + 4096, 300, true },
			   { DATA + 4096 + 300, 213, true } };
	post(x, t, 3);
	kick(x);
	assert_int_equal(wait_used(x, NULL), 513);
	assert_int_equal(q[512], VIRTIO_BLK_S_OK);
	assert_memory_equal(q, f, 512);
}

static void many_in_flight(void **state)
{
	struct fx *x = *state;
	/* 16 reads of 4 KiB each, posted together, one kick */
	for (int i = 0; i < 16; i++) {
		put_hdr(x, HDR + 64ULL * i, VIRTIO_BLK_T_IN, 8ULL * i);
		set_status(x, STATUS + i, 0xee);
		struct seg s[] = { { HDR + 64ULL * i, 16, false },
				   { DATA + 4096ULL * i, 4096, true },
				   { STATUS + i, 1, true } };
		post(x, s, 3);
	}
	kick(x);
	for (int i = 0; i < 16; i++)
		wait_used(x, NULL);
	uint8_t *g = gm_ptr(&x->gm, DATA, 65536);
	uint8_t f[65536];
	file_read(x, 0, f, sizeof(f));
	assert_memory_equal(g, f, sizeof(f));
	for (int i = 0; i < 16; i++)
		assert_int_equal(get_status(x, STATUS + i), VIRTIO_BLK_S_OK);
}

static void flush(void **state)
{
	struct fx *x = *state;
	memset(gm_ptr(&x->gm, DATA, 512), 0x77, 512);
	assert_int_equal(request(x, VIRTIO_BLK_T_OUT, 100, DATA, 512, false, NULL),
			 VIRTIO_BLK_S_OK);
	uint32_t len;
	assert_int_equal(request(x, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false, &len), VIRTIO_BLK_S_OK);
	assert_int_equal(len, 1);
	struct virtio_blk_stats st;
	virtio_blk_get_stats(x->b, &st);
	assert_int_equal(st.flushes, 1);
}

static void write_zeroes(void **state)
{
	struct fx *x = *state;
	struct blk_seg g[] = { { 16, 8, false }, { 40, 3, true }, { 60, 0, false } };
	discard_like(x, VIRTIO_BLK_T_WRITE_ZEROES, g, 3, VIRTIO_BLK_S_OK);
	uint8_t f[64 * 512];
	file_read(x, 0, f, sizeof(f));
	for (uint64_t i = 0; i < sizeof(f); i++) {
		uint64_t s = i / 512;
		bool zero = (s >= 16 && s < 24) || (s >= 40 && s < 43);
		assert_int_equal(f[i], zero ? 0 : pattern(i));
	}
	struct stat st;
	assert_int_equal(fstat(x->fd, &st), 0);
	assert_int_equal(st.st_size, IMG_SECTORS * 512);
}

static void discard(void **state)
{
	struct fx *x = *state;
	struct blk_seg g[] = { { 256, 256, false } };	/* 128 KiB */
	discard_like(x, VIRTIO_BLK_T_DISCARD, g, 1, VIRTIO_BLK_S_OK);
	struct stat st;
	assert_int_equal(fstat(x->fd, &st), 0);
	assert_int_equal(st.st_size, IMG_SECTORS * 512);	/* KEEP_SIZE */
	/* on file systems that punch holes (ext4, tmpfs, xfs...) the range
	 * reads back as zeroes; a file system that cannot is allowed to keep it */
	uint8_t f[512];
	file_read(x, 300 * 512, f, sizeof(f));
	if (!all_zero(f, sizeof(f)))
		print_message("note: discard left data in place (no hole punching here)\n");
	/* the neighbours are untouched */
	file_read(x, 255 * 512, f, sizeof(f));
	assert_int_equal(f[0], pattern(255 * 512));
	file_read(x, 512 * 512, f, sizeof(f));
	assert_int_equal(f[0], pattern(512 * 512));
	struct virtio_blk_stats s;
	virtio_blk_get_stats(x->b, &s);
	assert_int_equal(s.discards, 1);
}

static void get_id(void **state)
{
	struct fx *x = *state;
	uint8_t *g = gm_ptr(&x->gm, DATA, 32);
	memset(g, 0xcc, 32);
	uint32_t len;
	assert_int_equal(request(x, VIRTIO_BLK_T_GET_ID, 0, DATA, 20, true, &len), VIRTIO_BLK_S_OK);
	assert_int_equal(len, 21);
	/* derived from the image's device and inode */
	struct stat st;
	assert_int_equal(fstat(x->fd, &st), 0);
	char want[48] = { 0 };
	snprintf(want, sizeof(want), "%llx-%llx", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	want[20] = 0;
	assert_memory_equal(g, want, 20);
}

static void get_id_configured(void **state)
{
	(void)state;
	struct fx *x = fx_new();
	make_image(x, 4096, false);
	x->cfg = (struct skiff_disk_config){ .path = x->path, .id = "skiff-disk-7" };
	struct skiff_err e = { { 0 } };
	assert_int_equal(create(x, &e), 0);
	start_queue(x);
	uint8_t *g = gm_ptr(&x->gm, DATA, 32);
	memset(g, 0xcc, 32);
	assert_int_equal(request(x, VIRTIO_BLK_T_GET_ID, 0, DATA, 20, true, NULL),
			 VIRTIO_BLK_S_OK);
	char want[20] = "skiff-disk-7";
	assert_memory_equal(g, want, 20);
	assert_int_equal(g[20], 0xcc);		/* nothing beyond the 20 bytes */
	fx_free(x);

	/* refused ids */
	x = fx_new();
	make_image(x, 4096, false);
	x->cfg = (struct skiff_disk_config){ .path = x->path, .id = "123456789012345678901" };
	assert_int_equal(create(x, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "longer than 20"));
	x->cfg.id = "tab\there";
	assert_int_equal(create(x, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "printable"));
	fx_free(x);
}

static void config_space(void **state)
{
	struct fx *x = *state;
	const struct virtio_blk_config *c = (const void *)x->vd->config;
	assert_int_equal(x->vd->config_len, sizeof(*c));
	assert_int_equal(c->capacity, IMG_SECTORS);
	assert_int_equal(c->seg_max, VIRTIO_BLK_SEG_MAX);
	assert_int_equal(c->blk_size, 512);
	assert_int_equal(c->max_discard_seg, VIRTIO_BLK_DWZ_MAX_SEG);
	assert_int_equal(c->max_write_zeroes_seg, VIRTIO_BLK_DWZ_MAX_SEG);
	assert_int_equal(c->max_discard_sectors, VIRTIO_BLK_DWZ_MAX_SECTORS);
	assert_int_equal(c->discard_sector_alignment, 1);
	assert_int_equal(c->write_zeroes_may_unmap, 1);
	uint64_t f = x->vd->host_features;
	assert_true(f & 1ULL << VIRTIO_BLK_F_FLUSH);
	assert_true(f & 1ULL << VIRTIO_BLK_F_SEG_MAX);
	assert_true(f & 1ULL << VIRTIO_BLK_F_BLK_SIZE);
	assert_true(f & 1ULL << VIRTIO_BLK_F_DISCARD);
	assert_true(f & 1ULL << VIRTIO_BLK_F_WRITE_ZEROES);
	assert_false(f & 1ULL << VIRTIO_BLK_F_RO);
	assert_int_equal(x->vd->ops->device_id, VIRTIO_ID_BLOCK);
	assert_int_equal(virtio_blk_capacity(x->b), IMG_SECTORS);
}

/* --- read-only ----------------------------------------------------------- */

static void read_only(void **state)
{
	(void)state;
	struct fx *x = setup_engine(SKIFF_IO_AUTO, true);
	uint64_t f = x->vd->host_features;
	assert_true(f & 1ULL << VIRTIO_BLK_F_RO);
	assert_false(f & 1ULL << VIRTIO_BLK_F_DISCARD);
	assert_false(f & 1ULL << VIRTIO_BLK_F_WRITE_ZEROES);
	memset(gm_ptr(&x->gm, DATA, 512), 0, 512);
	assert_int_equal(request(x, VIRTIO_BLK_T_OUT, 0, DATA, 512, false, NULL),
			 VIRTIO_BLK_S_IOERR);
	struct blk_seg g[] = { { 0, 1, false } };
	discard_like(x, VIRTIO_BLK_T_WRITE_ZEROES, g, 1, VIRTIO_BLK_S_IOERR);
	discard_like(x, VIRTIO_BLK_T_DISCARD, g, 1, VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(x, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false, NULL), VIRTIO_BLK_S_OK);
	assert_int_equal(request(x, VIRTIO_BLK_T_IN, 0, DATA, 512, true, NULL), VIRTIO_BLK_S_OK);
	uint8_t b[512];
	file_read(x, 0, b, 512);
	for (int i = 0; i < 512; i++)
		assert_int_equal(b[i], pattern(i));		/* nothing written */
	assert_memory_equal(gm_ptr(&x->gm, DATA, 512), b, 512);
	/* two read-only users share the image */
	struct virtio_blk *second;
	struct skiff_err e = { { 0 } };
	assert_int_equal(virtio_blk_create(&x->cfg, &x->host, &second, &e), 0);
	virtio_blk_destroy(second);
	fx_free(x);
}

/* --- a hostile driver ---------------------------------------------------- */

static void hostile(void **state)
{
	struct fx *x = *state;
	/* short header: 8 readable bytes */
	put_hdr(x, HDR, VIRTIO_BLK_T_IN, 0);
	set_status(x, STATUS, 0xee);
	struct seg s1[] = { { HDR, 8, false }, { DATA, 512, true }, { STATUS, 1, true } };
	post(x, s1, 3);
	kick(x);
	assert_int_equal(wait_used(x, NULL), 1);
	assert_int_equal(get_status(x, STATUS), VIRTIO_BLK_S_IOERR);

	/* no status byte at all: returned with nothing written */
	put_hdr(x, HDR, VIRTIO_BLK_T_OUT, 0);
	struct seg s2[] = { { HDR, 16, false }, { DATA, 512, false } };
	post(x, s2, 2);
	kick(x);
	assert_int_equal(wait_used(x, NULL), 0);
	uint8_t b[512];
	file_read(x, 0, b, 512);
	assert_int_equal(b[0], pattern(0));		/* and nothing done */

	/* sector arithmetic overflow, and just beyond capacity */
	assert_int_equal(request(x, VIRTIO_BLK_T_IN, UINT64_MAX - 1, DATA, 1024, true, NULL),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(x, VIRTIO_BLK_T_IN, UINT64_MAX / 512 + 1, DATA, 512, true, NULL),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(x, VIRTIO_BLK_T_OUT, IMG_SECTORS - 1, DATA, 1024, false, NULL),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(x, VIRTIO_BLK_T_IN, IMG_SECTORS, DATA, 512, true, NULL),
			 VIRTIO_BLK_S_IOERR);
	/* data not a multiple of 512 */
	assert_int_equal(request(x, VIRTIO_BLK_T_OUT, 0, DATA, 100, false, NULL),
			 VIRTIO_BLK_S_IOERR);
	/* unknown type; a discard with unmap; unknown segment flags */
	assert_int_equal(request(x, 99, 0, 0, 0, false, NULL), VIRTIO_BLK_S_UNSUPP);
	struct blk_seg u[] = { { 0, 1, true } };
	discard_like(x, VIRTIO_BLK_T_DISCARD, u, 1, VIRTIO_BLK_S_UNSUPP);
	uint8_t seg[16] = { 0 };
	seg[8] = 1;
	seg[12] = 2;	/* reserved flag */
	assert_int_equal(gm_write(&x->gm, DATA, seg, 16), 0);
	assert_int_equal(request(x, VIRTIO_BLK_T_WRITE_ZEROES, 0, DATA, 16, false, NULL),
			 VIRTIO_BLK_S_UNSUPP);
	/* segments: beyond capacity, too many, not a multiple of 16, none */
	struct blk_seg far[] = { { IMG_SECTORS - 1, 2, false } };
	discard_like(x, VIRTIO_BLK_T_WRITE_ZEROES, far, 1, VIRTIO_BLK_S_IOERR);
	struct blk_seg many[VIRTIO_BLK_DWZ_MAX_SEG + 1];
	for (int i = 0; i <= VIRTIO_BLK_DWZ_MAX_SEG; i++)
		many[i] = (struct blk_seg){ (uint64_t)i, 1, false };
	discard_like(x, VIRTIO_BLK_T_DISCARD, many, VIRTIO_BLK_DWZ_MAX_SEG + 1, VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(x, VIRTIO_BLK_T_DISCARD, 0, DATA, 24, false, NULL),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(x, VIRTIO_BLK_T_DISCARD, 0, 0, 0, false, NULL),
			 VIRTIO_BLK_S_IOERR);
	/* GET_ID with room for 5 bytes only: those, and no more */
	uint8_t *g = gm_ptr(&x->gm, DATA, 32);
	memset(g, 0xcc, 32);
	uint32_t len;
	assert_int_equal(request(x, VIRTIO_BLK_T_GET_ID, 0, DATA, 5, true, &len), VIRTIO_BLK_S_OK);
	assert_int_equal(len, 6);
	assert_int_equal(g[5], 0xcc);

	/* the device still works */
	assert_int_equal(request(x, VIRTIO_BLK_T_IN, 0, DATA, 512, true, NULL), VIRTIO_BLK_S_OK);
	struct virtio_blk_stats st;
	virtio_blk_get_stats(x->b, &st);
	assert_true(st.errors >= 10);
	assert_int_equal(st.unsupported, 3);
	assert_false(x->vd->broken);

	/* a descriptor outside guest RAM breaks the queue: NEEDS_RESET */
	put_hdr(x, HDR, VIRTIO_BLK_T_IN, 0);
	struct seg s3[] = { { HDR, 16, false }, { RAM - 256, 4096, true }, { STATUS, 1, true } };
	post(x, s3, 3);
	uint16_t before = used_idx(x);
	kick(x);
	assert_true(x->vd->broken);
	assert_true(x->vd->status & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(__atomic_load_n(&x->config_irqs, __ATOMIC_SEQ_CST), 1);
	assert_int_equal(used_idx(x), before);
	/* kicks are ignored until the driver resets the device */
	kick(x);
	assert_int_equal(used_idx(x), before);
	virtio_device_reset(x->vd);
	start_queue(x);
	assert_int_equal(request(x, VIRTIO_BLK_T_IN, 0, DATA, 512, true, NULL), VIRTIO_BLK_S_OK);
}

/* --- reset with I/O in flight -------------------------------------------- */

static void reset_in_flight(void **state)
{
	struct fx *x = *state;
	for (int i = 0; i < 20; i++) {	/* 60 of the 64 descriptors */
		put_hdr(x, HDR + 64ULL * i, i % 2 ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN, 16ULL * i);
		struct seg s[] = { { HDR + 64ULL * i, 16, false },
				   { DATA + 8192ULL * i, 8192, i % 2 == 0 },
				   { STATUS + i, 1, true } };
		post(x, s, 3);
	}
	kick(x);
	virtio_device_reset(x->vd);		/* on the I/O thread, drains */
	/* nothing completes after the reset returned */
	uint16_t after = used_idx(x);
	usleep(20000);
	assert_int_equal(used_idx(x), after);
	/* and the device comes back */
	start_queue(x);
	assert_int_equal(request(x, VIRTIO_BLK_T_IN, 0, DATA, 512, true, NULL), VIRTIO_BLK_S_OK);
}

/* --- rate limiting ------------------------------------------------------- */

static void rate_limited(void **state)
{
	(void)state;
	struct fx *x = fx_new();
	make_image(x, IMG_SECTORS * 512ULL, true);
	/* one request per 200 ms (the bucket starts full: one goes at once) */
	x->cfg = (struct skiff_disk_config){ .path = x->path,
					     .rl.ops = { .size = 1, .refill_time_ms = 200 } };
	struct skiff_err e = { { 0 } };
	assert_int_equal(create(x, &e), 0);
	start_queue(x);
	uint64_t t0 = now_ms();
	for (int i = 0; i < 3; i++) {
		put_hdr(x, HDR + 64ULL * i, VIRTIO_BLK_T_IN, (uint64_t)i);
		struct seg s[] = { { HDR + 64ULL * i, 16, false }, { DATA + 512ULL * i, 512, true },
				   { STATUS + i, 1, true } };
		post(x, s, 3);
	}
	kick(x);
	wait_used(x, NULL);				/* one at once */
	wait_used(x, NULL);				/* the others a refill apart */
	assert_true(now_ms() - t0 >= 150);
	wait_used(x, NULL);
	uint64_t dt = now_ms() - t0;
	assert_true(dt >= 350);
	struct virtio_blk_stats st;
	virtio_blk_get_stats(x->b, &st);
	assert_true(st.throttled >= 2);
	assert_int_equal(st.reads, 3);
	fx_free(x);
}

static void bandwidth_limited(void **state)
{
	(void)state;
	struct fx *x = fx_new();
	make_image(x, IMG_SECTORS * 512ULL, true);
	/* 64 KiB per 100 ms, after a one-time burst of 64 KiB */
	x->cfg = (struct skiff_disk_config){
		.path = x->path, .engine = SKIFF_IO_URING,
		.rl.bandwidth = { .size = 65536, .one_time_burst = 65536, .refill_time_ms = 100 } };
	struct skiff_err e = { { 0 } };
	assert_int_equal(create(x, &e), 0);
	start_queue(x);
	uint64_t t0 = now_ms();
	for (int i = 0; i < 4; i++) {	/* 4 x 64 KiB: burst + budget, then 2 refills */
		put_hdr(x, HDR + 64ULL * i, VIRTIO_BLK_T_IN, 128ULL * i);
		struct seg s[] = { { HDR + 64ULL * i, 16, false },
				   { DATA + 65536ULL * i, 65536, true }, { STATUS + i, 1, true } };
		post(x, s, 3);
	}
	kick(x);
	for (int i = 0; i < 4; i++)
		wait_used(x, NULL);
	uint64_t dt = now_ms() - t0;
	assert_true(dt >= 150);
	uint8_t f[4 * 65536];
	file_read(x, 0, f, sizeof(f));
	assert_memory_equal(gm_ptr(&x->gm, DATA, sizeof(f)), f, sizeof(f));
	fx_free(x);
}

/* --- O_DIRECT ------------------------------------------------------------ */

static void direct_io(void **state)
{
	(void)state;
	for (int engine = SKIFF_IO_URING; engine <= SKIFF_IO_SYNC; engine++) {
		struct fx *x = fx_new();
		make_image(x, 4 * IMG_SECTORS * 512ULL, true);
		x->cfg = (struct skiff_disk_config){ .path = x->path, .direct = true,
						     .engine = (enum skiff_io_engine)engine };
		struct skiff_err e = { { 0 } };
		int r = create(x, &e);
		if (r == -EINVAL && strstr(e.msg, "O_DIRECT")) {
			fx_free(x);
			skip();
		}
		assert_int_equal(r, 0);
		start_queue(x);
		uint32_t bs = ((const struct virtio_blk_config *)x->vd->config)->blk_size;
		/* aligned, then misaligned guest buffers (bounce path) */
		for (uint64_t mis = 0; mis <= 3; mis += 3) {
			uint8_t *g = gm_ptr(&x->gm, DATA + mis, 8192);
			for (int i = 0; i < 8192; i++)
				g[i] = (uint8_t)(i * 3 + mis);
			uint64_t sector = bs / 512 * 4;
			assert_int_equal(request(x, VIRTIO_BLK_T_OUT, sector, DATA + mis, 8192, false,
						 NULL), VIRTIO_BLK_S_OK);
			uint8_t f[8192];
			file_read(x, sector * 512, f, sizeof(f));
			assert_memory_equal(f, g, 8192);
			memset(g, 0, 8192);
			assert_int_equal(request(x, VIRTIO_BLK_T_IN, sector, DATA + mis, 8192, true,
						 NULL), VIRTIO_BLK_S_OK);
			assert_memory_equal(f, g, 8192);
		}
		/* a misaligned request larger than the async bounce limit */
		uint32_t big = (1u << 20) + 4096;
		uint8_t *g = gm_ptr(&x->gm, DATA + 1, big);
		assert_int_equal(request(x, VIRTIO_BLK_T_IN, 0, DATA + 1, big, true, NULL),
				 VIRTIO_BLK_S_OK);
		uint8_t *want = malloc(big);
		assert_non_null(want);
		file_read(x, 0, want, big);
		assert_memory_equal(g, want, big);
		assert_int_equal(g[big - 1], pattern(big - 1));
		free(want);
		fx_free(x);
	}
}

/* --- image errors -------------------------------------------------------- */

static void image_errors(void **state)
{
	(void)state;
	struct fx *x = fx_new();
	struct skiff_err e = { { 0 } };

	x->cfg = (struct skiff_disk_config){ .path = "/nonexistent/skiff-disk.img" };
	assert_int_equal(create(x, &e), -ENOENT);
	assert_non_null(strstr(e.msg, "/nonexistent/skiff-disk.img"));
	assert_non_null(strstr(e.msg, "No such file"));

	make_image(x, 1000, false);
	x->cfg = (struct skiff_disk_config){ .path = x->path };
	assert_int_equal(create(x, &e), -EINVAL);
	assert_non_null(strstr(e.msg, x->path));
	assert_non_null(strstr(e.msg, "size 1000 is not a multiple of 512 bytes"));

	assert_int_equal(ftruncate(x->fd, 0), 0);
	assert_int_equal(create(x, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "empty"));

	assert_int_equal(ftruncate(x->fd, 4096), 0);
	assert_int_equal(create(x, &e), 0);		/* holds LOCK_EX */
	struct virtio_blk *second;
	assert_int_equal(virtio_blk_create(&x->cfg, &x->host, &second, &e), -EBUSY);
	assert_non_null(strstr(e.msg, x->path));
	assert_non_null(strstr(e.msg, "in use by another process (locked)"));
	x->cfg.read_only = true;				/* LOCK_SH against LOCK_EX */
	assert_int_equal(virtio_blk_create(&x->cfg, &x->host, &second, &e), -EBUSY);
	assert_non_null(strstr(e.msg, "locked"));
	x->cfg.read_only = false;
	virtio_blk_destroy(x->b);				/* the lock goes with it */
	x->b = NULL;
	assert_int_equal(virtio_blk_create(&x->cfg, &x->host, &second, &e), 0);
	virtio_blk_destroy(second);

	/* a read-only file, writable disk */
	if (geteuid() != 0) {
		assert_int_equal(chmod(x->path, 0400), 0);
		assert_true(create(x, &e) < 0);
		assert_non_null(strstr(e.msg, "for writing"));
		x->cfg.read_only = true;
		assert_int_equal(create(x, &e), 0);
	}
	/* a directory */
	x->cfg = (struct skiff_disk_config){ .path = "/tmp", .read_only = true };
	struct virtio_blk *d;
	assert_true(virtio_blk_create(&x->cfg, &x->host, &d, &e) < 0);
	assert_non_null(strstr(e.msg, "/tmp"));
	/* no path */
	x->cfg = (struct skiff_disk_config){ 0 };
	assert_int_equal(virtio_blk_create(&x->cfg, &x->host, &d, &e), -EINVAL);
	fx_free(x);
}

/* tmpfs has no fallocate(ZERO_RANGE): write-zeroes without unmap falls
 * back to writing zeroes, with unmap it punches holes. */
static void zeroes_fallback(void **state)
{
	(void)state;
	struct stat d;
	if (stat("/dev/shm", &d) != 0 || !S_ISDIR(d.st_mode))
		skip();
	for (int engine = SKIFF_IO_URING; engine <= SKIFF_IO_SYNC; engine++) {
		struct fx *x = fx_new();
		make_image_in(x, "/dev/shm", IMG_SECTORS * 512ULL, true);
		x->cfg = (struct skiff_disk_config){ .path = x->path,
						     .engine = (enum skiff_io_engine)engine };
		struct skiff_err e = { { 0 } };
		assert_int_equal(create(x, &e), 0);
		start_queue(x);
		for (int round = 0; round < 2; round++) {	/* learning, then learned */
			struct blk_seg g[] = { { 10 + 100ULL * round, 5, false },
					       { 50 + 100ULL * round, 7, true } };
			discard_like(x, VIRTIO_BLK_T_WRITE_ZEROES, g, 2, VIRTIO_BLK_S_OK);
		}
		uint8_t f[256 * 512];
		file_read(x, 0, f, sizeof(f));
		for (uint64_t i = 0; i < sizeof(f); i++) {
			uint64_t s = i / 512 % 100;
			bool zero = i / 512 < 200 && ((s >= 10 && s < 15) || (s >= 50 && s < 57));
			assert_int_equal(f[i], zero ? 0 : pattern(i));
		}
		fx_free(x);
	}
}

static void engine_auto(void **state)
{
	(void)state;
	struct fx *x = fx_new();
	make_image(x, 4096, false);
	x->cfg = (struct skiff_disk_config){ .path = x->path, .engine = SKIFF_IO_AUTO };
	struct skiff_err e = { { 0 } };
	assert_int_equal(create(x, &e), 0);
	const char *name = virtio_blk_engine(x->b);
	assert_true(strcmp(name, "io_uring") == 0 || strcmp(name, "sync") == 0);
	print_message("SKIFF_IO_AUTO picked %s\n", name);
	fx_free(x);
}

/* --- notification suppression -------------------------------------------- */

static void noop(void *opaque)
{
	(void)opaque;
}

/* Wait until the I/O thread has finished what it was doing. */
static void sync_loop(struct fx *x)
{
	assert_int_equal(evloop_call(x->loop, noop, NULL), 0);
}

static uint16_t used_flags(struct fx *x)
{
	return __atomic_load_n((uint16_t *)gm_ptr(&x->gm, USED, 2), __ATOMIC_ACQUIRE);
}

static uint16_t avail_event(struct fx *x)
{
	return __atomic_load_n((uint16_t *)gm_ptr(&x->gm, USED + 4 + 8ULL * QSZ, 2),
			       __ATOMIC_ACQUIRE);
}

/* The driver's side of §2.7.10 after publishing avail idx `new_idx` (it
 * was `old` at the previous check): must it notify the device? */
static bool driver_must_kick(struct fx *x, uint16_t old, uint16_t new_idx)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);	/* idx store before the flag load */
	if (x->event_idx) {
		uint16_t ev = avail_event(x);
		return (uint16_t)(new_idx - ev - 1) < (uint16_t)(new_idx - old);
	}
	return !(used_flags(x) & VIRTQ_USED_F_NO_NOTIFY);
}

/* One read of sector `sector` (512 bytes) in slot i: descriptors 3i..3i+2. */
static void post_read_slot(struct fx *x, unsigned i, uint64_t sector)
{
	put_hdr(x, HDR + 64ULL * i, VIRTIO_BLK_T_IN, sector);
	set_status(x, STATUS + i, 0xee);
	uint16_t d = (uint16_t)(3 * i);
	put_desc(x, d, HDR + 64ULL * i, 16, VIRTQ_DESC_F_NEXT, (uint16_t)(d + 1));
	put_desc(x, (uint16_t)(d + 1), DATA + 512ULL * i, 512,
		 VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, (uint16_t)(d + 2));
	put_desc(x, (uint16_t)(d + 2), STATUS + i, 1, VIRTQ_DESC_F_WRITE, 0);
	uint16_t slot = x->avail_idx % QSZ;
	assert_int_equal(gm_write(&x->gm, AVAIL + 4 + 2ULL * slot, &d, 2), 0);
	x->avail_idx++;
	__atomic_store_n(avail_idx_ptr(x), x->avail_idx, __ATOMIC_RELEASE);
}

/* While the limiter holds requests back, the device keeps the driver's
 * notifications off (used flags NO_NOTIFY, or avail_event left behind with
 * EVENT_IDX), so a driver adding more does not kick; the limiter's timer
 * resumes, serves what came meanwhile, and turns them on again. */
static void suppressed_while_throttled_mode(bool event_idx)
{
	struct fx *x = fx_new();
	make_image(x, IMG_SECTORS * 512ULL, true);
	x->event_idx = event_idx;
	/* one request per 200 ms; the bucket starts full: one goes at once */
	x->cfg = (struct skiff_disk_config){ .path = x->path,
					     .rl.ops = { .size = 1, .refill_time_ms = 200 } };
	struct skiff_err e = { { 0 } };
	assert_int_equal(create(x, &e), 0);
	start_queue(x);
	/* idle: notifications on */
	sync_loop(x);
	if (event_idx)
		assert_int_equal(avail_event(x), 0);
	else
		assert_int_equal(used_flags(x), 0);
	for (unsigned i = 0; i < 3; i++)
		post_read_slot(x, i, i);
	assert_true(driver_must_kick(x, 0, 3));
	kick(x);
	wait_used(x, NULL);
	sync_loop(x);
	/* two held back: off while the device has work it will come back to */
	if (event_idx)
		assert_int_equal(avail_event(x), 0);	/* left behind */
	else
		assert_int_equal(used_flags(x), VIRTQ_USED_F_NO_NOTIFY);
	post_read_slot(x, 3, 3);
	assert_false(driver_must_kick(x, 3, 4));	/* no kick: the device knows */
	for (int i = 0; i < 3; i++)
		wait_used(x, NULL);
	sync_loop(x);
	/* all served: on again, at the next entry */
	if (event_idx)
		assert_int_equal(avail_event(x), 4);
	else
		assert_int_equal(used_flags(x), 0);
	for (unsigned i = 0; i < 4; i++) {
		assert_int_equal(get_status(x, STATUS + i), VIRTIO_BLK_S_OK);
		uint8_t f[512];
		file_read(x, 512ULL * i, f, sizeof(f));
		assert_memory_equal(gm_ptr(&x->gm, DATA + 512ULL * i, 512), f, sizeof(f));
	}
	struct virtio_blk_stats st;
	virtio_blk_get_stats(x->b, &st);
	assert_true(st.throttled >= 2);
	fx_free(x);
}

static void suppressed_while_throttled(void **state)
{
	(void)state;
	suppressed_while_throttled_mode(false);
	suppressed_while_throttled_mode(true);
}

/* An ioeventfd stand-in: kicks land on the loop asynchronously. */
static void efd_kick(void *opaque, uint32_t events)
{
	struct fx *x = opaque;
	uint64_t v;
	(void)events;
	if (read(x->fd_kick, &v, sizeof(v)) == sizeof(v))
		virtio_queue_kick(x->vd, 0);
}

/* The race notification suppression must survive: a driver that adds
 * requests while the device works and kicks only when the device asks
 * (§2.7.10) never sees a request stall, whether it adds its request just
 * before or just after the device turns notifications back on. Kicks are
 * asynchronous, as through an ioeventfd; QD requests in flight, each
 * completion replaced at once, N in all; a lost kick shows as a 5 s stall
 * in wait_used. */
#define RACE_QD	8
#define RACE_N	3000
static void no_lost_kick_mode(struct fx *x, bool event_idx)
{
	x->event_idx = event_idx;
	start_queue(x);
	unsigned kicks = 0, done = 0, issued = 0;
	uint16_t checked = x->avail_idx;
	uint64_t next_sector = 0;
	uint16_t slot_sector[RACE_QD];
	for (unsigned i = 0; i < RACE_QD; i++, issued++) {
		slot_sector[i] = (uint16_t)(next_sector++ % IMG_SECTORS);
		post_read_slot(x, i, slot_sector[i]);
	}
	if (driver_must_kick(x, checked, x->avail_idx)) {
		uint64_t one = 1;
		assert_int_equal(write(x->fd_kick, &one, 8), 8);
		kicks++;
	}
	checked = x->avail_idx;
	while (done < RACE_N) {
		uint16_t id;
		wait_used(x, &id);
		done++;
		assert_int_equal(id % 3, 0);
		unsigned i = id / 3;
		assert_true(i < RACE_QD);
		assert_int_equal(get_status(x, STATUS + i), VIRTIO_BLK_S_OK);
		const uint8_t *g = gm_ptr(&x->gm, DATA + 512ULL * i, 512);
		uint64_t off = 512ULL * slot_sector[i];
		assert_int_equal(g[0], pattern(off));
		assert_int_equal(g[511], pattern(off + 511));
		if (issued < RACE_N) {
			slot_sector[i] = (uint16_t)(next_sector++ % IMG_SECTORS);
			post_read_slot(x, i, slot_sector[i]);
			issued++;
			if (driver_must_kick(x, checked, x->avail_idx)) {
				uint64_t one = 1;
				assert_int_equal(write(x->fd_kick, &one, 8), 8);
				kicks++;
			}
			checked = x->avail_idx;
		}
	}
	print_message("%s, EVENT_IDX %d: %u requests, %u kicks\n", virtio_blk_engine(x->b),
		      event_idx, done, kicks);
	sync_loop(x);
	if (event_idx)
		assert_int_equal(avail_event(x), x->avail_idx);
	else
		assert_int_equal(used_flags(x), 0);
}

static void no_lost_kick(void **state)
{
	struct fx *x = *state;
	x->fd_kick = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	assert_true(x->fd_kick >= 0);
	assert_int_equal(evloop_add(x->loop, x->fd_kick, EPOLLIN, efd_kick, x), 0);
	no_lost_kick_mode(x, false);
	virtio_set_status(x->vd, 0);		/* reset, then again with EVENT_IDX */
	no_lost_kick_mode(x, true);
	evloop_del(x->loop, x->fd_kick);
	close(x->fd_kick);
	x->fd_kick = -1;
}

#define BOTH(t) cmocka_unit_test_setup_teardown(t, setup_sync, teardown), \
		cmocka_unit_test_setup_teardown(t, setup_uring, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(write_then_read),
		BOTH(odd_framing),
		BOTH(many_in_flight),
		BOTH(flush),
		BOTH(write_zeroes),
		BOTH(discard),
		BOTH(get_id),
		BOTH(config_space),
		BOTH(hostile),
		BOTH(reset_in_flight),
		BOTH(no_lost_kick),
		cmocka_unit_test(get_id_configured),
		cmocka_unit_test(read_only),
		cmocka_unit_test(rate_limited),
		cmocka_unit_test(bandwidth_limited),
		cmocka_unit_test(suppressed_while_throttled),
		cmocka_unit_test(direct_io),
		cmocka_unit_test(image_errors),
		cmocka_unit_test(zeroes_fallback),
		cmocka_unit_test(engine_auto),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
