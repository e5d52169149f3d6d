/* virtio-rng (src/dev/virtio_rng.c) driven like a guest driver would, on real
 * guest RAM and a running I/O loop (tests/unit/vdrv.h): buffers come back
 * filled with random bytes and the right lengths, a request is capped at
 * VIRTIO_RNG_MAX_REQ, the rate limit holds requests back until its timer,
 * and a driver error (a device-readable buffer) sets NEEDS_RESET. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include "dev/virtio_rng.h"
#include "vdrv.h"

struct fx {
	struct vdrv d;
	struct virtio_rng *rng;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_int_equal(vdrv_init(&f->d), 0);
	struct skiff_err e = { { 0 } };
	assert_int_equal(virtio_rng_create(&f->d.host, &f->rng, &e), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	virtio_rng_destroy(f->rng);
	vdrv_fini(&f->d);
	free(f);
	return 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static void test_fills_buffers(void **state)
{
	struct fx *f = *state;
	struct virtio_device *vd = virtio_rng_vdev(f->rng);
	assert_int_equal(vd->ops->device_id, VIRTIO_ID_RNG);
	assert_int_equal(vdrv_start(&f->d, vd, 0, 1), 0);

	uint64_t a = vdrv_alloc(&f->d, 512), b1 = vdrv_alloc(&f->d, 100), b2 = vdrv_alloc(&f->d, 300);
	struct vdrv_buf one = { a, 512, true };
	struct vdrv_buf two[2] = { { b1, 100, true }, { b2, 300, true } };
	uint16_t h1 = vdrv_add(&f->d, 0, &one, 1);
	uint16_t h2 = vdrv_add(&f->d, 0, two, 2);
	uint32_t id, len;
	assert_true(vdrv_wait_used(&f->d, 0, &id, &len, 2000));
	assert_int_equal(id, h1);
	assert_int_equal(len, 512);
	assert_false(all_zero(vdrv_ptr(&f->d, a, 512), 512));
	assert_true(vdrv_wait_used(&f->d, 0, &id, &len, 2000));
	assert_int_equal(id, h2);
	assert_int_equal(len, 400);
	assert_false(all_zero(vdrv_ptr(&f->d, b1, 100), 100));
	assert_false(all_zero(vdrv_ptr(&f->d, b2, 300), 300));
	assert_true(vdrv_irqs(&f->d, 0) >= 1);

	struct virtio_rng_counters c;
	virtio_rng_counters(f->rng, &c);
	assert_int_equal(c.requests, 2);
	assert_int_equal(c.bytes, 912);
	assert_int_equal(c.errors, 0);
}

static void test_request_cap(void **state)
{
	struct fx *f = *state;
	assert_int_equal(vdrv_start(&f->d, virtio_rng_vdev(f->rng), 0, 1), 0);
	uint32_t big = 3 * VIRTIO_RNG_MAX_REQ;
	uint64_t a = vdrv_alloc(&f->d, big);
	struct vdrv_buf b = { a, big, true };
	vdrv_add(&f->d, 0, &b, 1);
	uint32_t len;
	assert_true(vdrv_wait_used(&f->d, 0, NULL, &len, 2000));
	assert_int_equal(len, VIRTIO_RNG_MAX_REQ);
	const uint8_t *p = vdrv_ptr(&f->d, a, big);
	assert_true(all_zero(p + VIRTIO_RNG_MAX_REQ, big - VIRTIO_RNG_MAX_REQ));
}

static void test_readable_buffer_is_driver_error(void **state)
{
	struct fx *f = *state;
	assert_int_equal(vdrv_start(&f->d, virtio_rng_vdev(f->rng), 0, 1), 0);
	struct vdrv_buf b = { vdrv_alloc(&f->d, 64), 64, false };
	vdrv_add(&f->d, 0, &b, 1);
	for (int i = 0; i < 200 && !(vdrv_status(&f->d) & VIRTIO_STATUS_NEEDS_RESET); i++)
		poll(NULL, 0, 5);
	assert_true(vdrv_status(&f->d) & VIRTIO_STATUS_NEEDS_RESET);
	assert_true(vdrv_irqs(&f->d, 0xffff) >= 1);
	/* Broken until reset: further buffers are ignored... */
	struct vdrv_buf ok = { vdrv_alloc(&f->d, 64), 64, true };
	vdrv_add(&f->d, 0, &ok, 1);
	assert_false(vdrv_wait_used(&f->d, 0, NULL, NULL, 50));
	/* ...and a reset brings the device back. */
	virtio_device_reset(virtio_rng_vdev(f->rng));
	assert_int_equal(vdrv_status(&f->d), 0);
	assert_int_equal(vdrv_start(&f->d, virtio_rng_vdev(f->rng), 0, 1), 0);
	vdrv_add(&f->d, 0, &ok, 1);
	uint32_t len;
	assert_true(vdrv_wait_used(&f->d, 0, NULL, &len, 2000));
	assert_int_equal(len, 64);
}

static void test_rate_limit(void **state)
{
	struct fx *f = *state;
	struct skiff_err e = { { 0 } };
	/* 1000 bytes per 200 ms, no burst. */
	struct skiff_rate_limit rl = { .bandwidth = { .size = 1000, .refill_time_ms = 200 } };
	assert_int_equal(virtio_rng_set_rate_limit(f->rng, &rl, &e), 0);
	assert_int_equal(vdrv_start(&f->d, virtio_rng_vdev(f->rng), 0, 1), 0);

	uint64_t t0 = vdrv_now_ms();
	for (int i = 0; i < 3; i++) {
		struct vdrv_buf b = { vdrv_alloc(&f->d, 1000), 1000, true };
		vdrv_add(&f->d, 0, &b, 1);
	}
	uint32_t len;
	assert_true(vdrv_wait_used(&f->d, 0, NULL, &len, 2000));	/* the bucket starts full */
	assert_int_equal(len, 1000);
	assert_false(vdrv_wait_used(&f->d, 0, NULL, NULL, 50));	/* then waits */
	assert_true(vdrv_wait_used(&f->d, 0, NULL, &len, 2000));
	assert_true(vdrv_wait_used(&f->d, 0, NULL, &len, 2000));
	uint64_t took = vdrv_now_ms() - t0;
	assert_true(took >= 300);	/* two refills of ~200 ms each (some slack) */

	struct virtio_rng_counters c;
	virtio_rng_counters(f->rng, &c);
	assert_int_equal(c.requests, 3);
	assert_true(c.throttled >= 2);
}

static void test_create_needs_loop(void **state)
{
	(void)state;
	struct dev_host h = { 0 };
	struct virtio_rng *r = NULL;
	struct skiff_err e = { { 0 } };
	assert_int_equal(virtio_rng_create(&h, &r, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "virtio-rng"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fills_buffers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readable_buffer_is_driver_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rate_limit, setup, teardown),
		cmocka_unit_test(test_create_needs_loop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
