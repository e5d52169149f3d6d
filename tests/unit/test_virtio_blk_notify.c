/* virtio-blk's rate limiting and notification suppression: request and
 * bandwidth limits, notifications kept off while throttled, and no kick
 * lost to the race around turning them back on (both engines, with and
 * without EVENT_IDX). Fixture: virtio_blk_fixture.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include "unit/virtio_blk_fixture.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(no_lost_kick),
		cmocka_unit_test(rate_limited),
		cmocka_unit_test(bandwidth_limited),
		cmocka_unit_test(suppressed_while_throttled),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
