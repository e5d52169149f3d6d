/* virtio_blk_update (src/dev/virtio_blk.c): Firecracker's PATCH /drives on a
 * running device. Driven as the test_virtio_blk_*.c tests drive the device:
 * a queue laid out by hand in guest RAM, a real I/O event loop, real image
 * files, and a fake transport that counts interrupts. The image swap runs
 * with both engines. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/evloop.h"
#include "core/guest_mem.h"
#include "core/ratelimit.h"
#include "dev/virtio_blk.h"

#define RAM	(4u << 20)
#define QSZ	64
#define DESC	0x10000
#define AVAIL	0x11000
#define USED	0x12000
#define HDR	0x20000
#define STATUS	0x21000
#define DATA	0x100000
#define MS	1000000ULL

struct fx {
	struct guest_mem gm;
	struct evloop *loop;
	struct skiff_log log;
	struct dev_host host;
	struct virtio_transport_ops tops;
	int irqs, config_irqs;		/* atomic */
	char a[64], b[64];		/* two images: a is the device's at creation */
	struct virtio_blk *blk;
	struct virtio_device *vd;
	uint16_t avail_idx, used_seen, next_desc;
};

static void fake_interrupt(struct virtio_device *vd, uint16_t q)
{
	struct fx *x = vd->transport;
	__atomic_fetch_add(q == 0xffff ? &x->config_irqs : &x->irqs, 1, __ATOMIC_SEQ_CST);
}

/* An image of `sectors` sectors, each starting with "<tag> <sector>". */
static void make_image(char *path, const char *tag, unsigned sectors)
{
	snprintf(path, 64, "/tmp/skiff-blkupd-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	char s[512];
	for (unsigned i = 0; i < sectors; i++) {
		memset(s, 0, sizeof(s));
		snprintf(s, sizeof(s), "%s %u", tag, i);
		assert_int_equal(pwrite(fd, s, sizeof(s), (off_t)i * 512), 512);
	}
	close(fd);
}

static struct fx *fx_new(enum skiff_io_engine engine, const struct skiff_rate_limit *rl)
{
	struct fx *x = calloc(1, sizeof(*x));
	assert_non_null(x);
	assert_int_equal(gm_init(&x->gm, RAM), 0);
	struct skiff_err e = { { 0 } };
	assert_int_equal(evloop_create(&x->loop, &e), 0);
	assert_int_equal(evloop_start(x->loop), 0);
	x->log.level = getenv("SKIFF_TEST_LOG") ? LOG_DEBUG : -1;
	x->host = (struct dev_host){ .ctx = x, .log = &x->log, .mem = &x->gm, .loop = x->loop };
	x->tops.interrupt = fake_interrupt;
	make_image(x->a, "A", 2048);		/* 1 MiB */
	make_image(x->b, "B", 4096);		/* 2 MiB */
	struct skiff_disk_config c = { .path = x->a, .engine = engine };
	if (rl)
		c.rl = *rl;
	assert_int_equal(virtio_blk_create(&c, &x->host, &x->blk, &e), 0);
	x->vd = virtio_blk_vdev(x->blk);

	/* the driver's start-up (§3.1.1), as virtio-pci would call the core */
	struct virtio_device *vd = x->vd;
	vd->tops = &x->tops;
	vd->transport = x;
	uint8_t st = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;
	virtio_set_status(vd, st);
	vd->driver_features = vd->host_features & ~(1ULL << VIRTIO_F_EVENT_IDX);
	virtio_set_status(vd, st |= VIRTIO_STATUS_FEATURES_OK);
	vd->vq[0].size = QSZ;
	vd->vq[0].desc_gpa = DESC;
	vd->vq[0].avail_gpa = AVAIL;
	vd->vq[0].used_gpa = USED;
	assert_int_equal(virtio_queue_enable(vd, 0), 0);
	virtio_set_status(vd, st | VIRTIO_STATUS_DRIVER_OK);
	assert_true(vd->active);
	return x;
}

static void fx_free(struct fx *x)
{
	virtio_blk_destroy(x->blk);
	evloop_destroy(x->loop);
	gm_destroy(&x->gm);
	unlink(x->a);
	unlink(x->b);
	free(x);
}

static void put_desc(struct fx *x, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags)
{
	uint8_t d[16];
	uint16_t next = (uint16_t)((i + 1) % QSZ);
	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
	assert_int_equal(gm_write(&x->gm, DESC + 16ULL * i, d, 16), 0);
}

static void call_kick(void *opaque)
{
	struct fx *x = opaque;
	virtio_queue_kick(x->vd, 0);
}

/* Post a read of one sector (header, 512 bytes, status) and kick. Slot
 * `slot` picks where its status byte and data go. */
static void post_read(struct fx *x, uint64_t sector, unsigned slot)
{
	uint8_t h[16] = { 0 };		/* type 0: VIRTIO_BLK_T_IN */
	memcpy(h + 8, &sector, 8);
	assert_int_equal(gm_write(&x->gm, HDR + 16ULL * slot, h, 16), 0);
	uint8_t ee = 0xee;
	assert_int_equal(gm_write(&x->gm, STATUS + slot, &ee, 1), 0);
	uint16_t head = x->next_desc;
	put_desc(x, head, HDR + 16ULL * slot, 16, VIRTQ_DESC_F_NEXT);
	put_desc(x, (uint16_t)((head + 1) % QSZ), DATA + 512ULL * slot, 512,
		 VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT);
	put_desc(x, (uint16_t)((head + 2) % QSZ), STATUS + slot, 1, VIRTQ_DESC_F_WRITE);
	x->next_desc = (uint16_t)((head + 3) % QSZ);
	assert_int_equal(gm_write(&x->gm, AVAIL + 4 + 2ULL * (x->avail_idx % QSZ), &head, 2), 0);
	x->avail_idx++;
	__atomic_store_n((uint16_t *)gm_ptr(&x->gm, AVAIL + 2, 2), x->avail_idx, __ATOMIC_RELEASE);
	assert_int_equal(evloop_call(x->loop, call_kick, x), 0);
}

/* Wait up to ms for the next used entry; false if none came. */
static bool wait_used(struct fx *x, uint64_t ms)
{
	uint16_t *idx = gm_ptr(&x->gm, USED + 2, 2);
	uint64_t t0 = rl_now_ns();
	while (__atomic_load_n(idx, __ATOMIC_ACQUIRE) == x->used_seen) {
		if (rl_now_ns() - t0 > ms * MS)
			return false;
		usleep(200);
	}
	x->used_seen++;
	return true;
}

/* Read sector; assert it succeeded and starts with `want`. */
static void expect_sector(struct fx *x, uint64_t sector, const char *want)
{
	post_read(x, sector, 0);
	assert_true(wait_used(x, 5000));
	uint8_t st, buf[32] = { 0 };
	assert_int_equal(gm_read(&x->gm, STATUS, &st, 1), 0);
	assert_int_equal(st, VIRTIO_BLK_S_OK);
	assert_int_equal(gm_read(&x->gm, DATA, buf, sizeof(buf) - 1), 0);
	assert_string_equal((char *)buf, want);
}

static uint64_t config_capacity(struct fx *x)
{
	uint64_t cap;
	pthread_mutex_lock(&x->vd->lock);
	memcpy(&cap, x->vd->config, 8);		/* §5.2.4: capacity first */
	pthread_mutex_unlock(&x->vd->lock);
	return cap;
}

static uint8_t generation(struct fx *x)
{
	return __atomic_load_n(&x->vd->config_generation, __ATOMIC_ACQUIRE);
}

static int config_irqs(struct fx *x)
{
	return __atomic_load_n(&x->config_irqs, __ATOMIC_SEQ_CST);
}

static void swap_mode(enum skiff_io_engine engine)
{
	struct fx *x = fx_new(engine, NULL);
	struct skiff_err e = { { 0 } };
	expect_sector(x, 5, "A 5");
	assert_int_equal(config_capacity(x), 2048);
	uint8_t gen = generation(x);
	assert_int_equal(virtio_blk_update(x->blk, x->b, NULL, &e), 0);
	assert_int_equal(config_capacity(x), 4096);
	assert_int_equal(virtio_blk_capacity(x->blk), 4096);
	assert_int_equal(generation(x), (uint8_t)(gen + 1));
	assert_int_equal(config_irqs(x), 1);
	expect_sector(x, 5, "B 5");
	expect_sector(x, 3000, "B 3000");	/* beyond the old end */
	assert_string_equal(virtio_blk_engine(x->blk),
			    engine == SKIFF_IO_URING ? "io_uring" : "sync");
	/* the old image is closed and unlocked: another user may lock it */
	int fd = open(x->a, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
	close(fd);
	fx_free(x);
}

static void swap_sync(void **state)
{
	(void)state;
	swap_mode(SKIFF_IO_SYNC);
}

static void swap_uring(void **state)
{
	(void)state;
	swap_mode(SKIFF_IO_URING);
}

/* Each refused image leaves the old one in use, the configuration as it
 * was and the driver uninterrupted. */
static void swap_refused(void **state)
{
	(void)state;
	struct fx *x = fx_new(SKIFF_IO_SYNC, NULL);
	struct skiff_err e = { { 0 } };
	uint8_t gen = generation(x);

	assert_int_equal(virtio_blk_update(x->blk, "/nonexistent/disk.img", NULL, &e), -ENOENT);
	assert_non_null(strstr(e.msg, "/nonexistent/disk.img"));
	char fifo[80];
	snprintf(fifo, sizeof(fifo), "%s.fifo", x->b);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(virtio_blk_update(x->blk, fifo, NULL, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "not a regular file or block device"));
	unlink(fifo);
	int fd = open(x->b, O_RDONLY);		/* another VM holds b */
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_SH), 0);
	assert_int_equal(virtio_blk_update(x->blk, x->b, NULL, &e), -EBUSY);
	assert_non_null(strstr(e.msg, "in use by another process"));
	close(fd);
	assert_int_equal(truncate(x->b, 1000), 0);	/* not whole sectors */
	assert_int_equal(virtio_blk_update(x->blk, x->b, NULL, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "multiple of 512"));

	assert_int_equal(config_capacity(x), 2048);
	assert_int_equal(generation(x), gen);
	assert_int_equal(config_irqs(x), 0);
	expect_sector(x, 7, "A 7");
	fx_free(x);
}

/* The same path again: the image was resized in place; the guest learns the
 * new capacity (Firecracker's way to grow a disk). A bad new size is
 * refused and the old capacity kept. */
static void resize_same_image(void **state)
{
	(void)state;
	struct fx *x = fx_new(SKIFF_IO_URING, NULL);
	struct skiff_err e = { { 0 } };
	assert_int_equal(truncate(x->a, 4096 * 512), 0);
	assert_int_equal(virtio_blk_update(x->blk, x->a, NULL, &e), 0);
	assert_int_equal(config_capacity(x), 4096);
	assert_int_equal(config_irqs(x), 1);
	expect_sector(x, 2047, "A 2047");
	assert_int_equal(truncate(x->a, 4096 * 512 + 100), 0);
	assert_int_equal(virtio_blk_update(x->blk, x->a, NULL, &e), -EINVAL);
	assert_int_equal(config_capacity(x), 4096);
	assert_int_equal(config_irqs(x), 1);
	fx_free(x);
}

/* A queue held by the limiter runs as soon as the limit is raised, and a
 * cut limit holds the next requests back. */
static void limiter_update(void **state)
{
	(void)state;
	struct skiff_rate_limit rl = { .ops = { .size = 1, .refill_time_ms = 10000 } };
	struct fx *x = fx_new(SKIFF_IO_SYNC, &rl);
	struct skiff_err e = { { 0 } };
	expect_sector(x, 1, "A 1");		/* the one token */
	post_read(x, 2, 1);
	assert_false(wait_used(x, 200));	/* held: next token in 10 s */
	struct skiff_rate_limit_update u = { .set_ops = true };
	u.cfg.ops = (struct skiff_bucket){ .size = 3, .refill_time_ms = 10000 };
	uint64_t t0 = rl_now_ns();
	assert_int_equal(virtio_blk_update(x->blk, NULL, &u, &e), 0);
	assert_true(wait_used(x, 2000));	/* woken at once, not after 10 s */
	assert_true(rl_now_ns() - t0 < 1000 * MS);
	assert_int_equal(config_irqs(x), 0);	/* no configuration change */
	expect_sector(x, 3, "A 3");
	expect_sector(x, 4, "A 4");		/* 3 tokens spent */
	post_read(x, 5, 1);
	assert_false(wait_used(x, 200));
	/* disabling the bucket lets it through */
	u.cfg.ops.size = 0;
	assert_int_equal(virtio_blk_update(x->blk, NULL, &u, &e), 0);
	assert_true(wait_used(x, 2000));
	fx_free(x);
}

/* A device created without a limiter gets one: the new timerfd must be
 * watched, or a throttled queue would never resume. */
static void limiter_added(void **state)
{
	(void)state;
	struct fx *x = fx_new(SKIFF_IO_SYNC, NULL);
	struct skiff_err e = { { 0 } };
	struct skiff_rate_limit_update u = { .set_ops = true };
	u.cfg.ops = (struct skiff_bucket){ .size = 1, .refill_time_ms = 300 };
	assert_int_equal(virtio_blk_update(x->blk, NULL, &u, &e), 0);
	expect_sector(x, 1, "A 1");
	uint64_t t0 = rl_now_ns();
	post_read(x, 2, 1);
	assert_true(wait_used(x, 3000));	/* after the 300 ms refill */
	assert_true(rl_now_ns() - t0 >= 200 * MS);
	fx_free(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(swap_sync),
		cmocka_unit_test(swap_uring),
		cmocka_unit_test(swap_refused),
		cmocka_unit_test(resize_same_image),
		cmocka_unit_test(limiter_update),
		cmocka_unit_test(limiter_added),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
