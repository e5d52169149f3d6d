/* virtio-net's receive path over user-mode networking (libslirp): waiting
 * for receive buffers without spinning, a buffer too small for the frame,
 * merged receive buffers (MRG_RXBUF), more frames than one pass handles,
 * and receive rate limiting. Fixture: virtio_net_fixture.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <sys/resource.h>
#include "unit/virtio_net_fixture.h"

/* With no receive buffers the device holds the frame, stops reading the
 * backend and does not spin; a buffer and a notify deliver it. */
static void user_rx_waits_for_buffers(void **state)
{
	struct fx *x = *state;
	uint8_t f[64];
	size_t n = arp_request(x->mac, 0x0a00020f, 0x0a000203, f);
	send_frame(x, f, (uint32_t)n);
	assert_true(wait_used(x, TXQ, NULL, NULL, 5000));
	struct rusage r0, r1;
	getrusage(RUSAGE_SELF, &r0);
	usleep(300 * 1000);
	getrusage(RUSAGE_SELF, &r1);
	long us = (r1.ru_utime.tv_sec - r0.ru_utime.tv_sec) * 1000000L +
		  (r1.ru_utime.tv_usec - r0.ru_utime.tv_usec) +
		  (r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) * 1000000L +
		  (r1.ru_stime.tv_usec - r0.ru_stime.tv_usec);
	assert_true(us < 100000);	/* 300 ms idle: no busy loop */
	assert_int_equal(used_idx(x, RXQ), 0);
	assert_int_equal(stats(x).rx_frames, 0);
	assert_int_equal(stats(x).rx_dropped, 0);

	post_rx(x, 1, 2048);
	struct virtio_net_hdr_v1 h;
	uint8_t r[2048];
	size_t len;
	assert_true(recv_type(x, 0x0806, &h, r, &len));
	assert_int_equal(be32(r + 14 + 14), 0x0a000203);	/* the DNS address's reply */
	assert_int_equal(stats(x).rx_frames, 1);
}

/* Without MRG_RXBUF a buffer must hold the whole frame: a small one is
 * kept for later, the frame is dropped and counted. */
static void user_rx_buffer_too_small(void **state)
{
	struct fx *x = *state;
	post_rx(x, 1, 40);		/* < 12 + 64 */
	uint8_t f[64];
	size_t n = arp_request(x->mac, 0x0a00020f, 0x0a000202, f);
	send_frame(x, f, (uint32_t)n);
	uint64_t t0 = now_ms();
	while (stats(x).rx_dropped == 0 && now_ms() - t0 < 5000)
		usleep(1000);
	assert_int_equal(stats(x).rx_dropped, 1);
	assert_int_equal(used_idx(x, RXQ), 0);
	assert_false(x->vd->broken);
}

/* MRG_RXBUF: a frame spread over several small buffers, num_buffers in
 * the first; and buffers added one at a time while a frame is half placed. */
static void user_mrg_rxbuf(void **state)
{
	struct fx *x = *state;
	post_rx(x, 4, 24);
	uint8_t f[64];
	size_t n = arp_request(x->mac, 0x0a00020f, 0x0a000202, f);
	send_frame(x, f, (uint32_t)n);
	struct virtio_net_hdr_v1 h;
	uint8_t r[2048];
	size_t len;
	assert_true(recv_frame(x, &h, r, sizeof(r), &len, 5000));
	/* slirp's ARP reply is 64 bytes: 12 + 64 over 24-byte buffers */
	assert_int_equal(len, 64);
	assert_int_equal(h.num_buffers, 4);
	assert_int_equal(be16(r + 12), 0x0806);
	assert_int_equal(be32(r + 14 + 14), 0x0a000202);

	/* two buffers now, two more only after a pause */
	post_rx(x, 2, 24);
	send_frame(x, f, (uint32_t)n);
	usleep(100 * 1000);
	assert_int_equal(used_idx(x, RXQ), x->q[RXQ].used_seen);	/* held, not used */
	post_rx(x, 2, 24);
	assert_true(recv_frame(x, &h, r, sizeof(r), &len, 5000));
	assert_int_equal(h.num_buffers, 4);
	assert_int_equal(len, 64);
	assert_int_equal(stats(x).rx_frames, 2);
}

/* More frames than one pass handles (NET_BATCH) in both directions: the
 * rest follows without another notify, nothing is lost. */
static void user_batches(void **state)
{
	struct fx *x = *state;
	enum { N = 200 };
	post_rx(x, 250, 128);
	uint8_t f[64];
	size_t n = arp_request(x->mac, 0x0a00020f, 0x0a000202, f);
	struct virtio_net_hdr_v1 h = { 0 };
	for (int i = 0; i < N; i++) {
		uint64_t g = alloc_buf(x, VIRTIO_NET_HDR_LEN + n);
		gm_write(&x->gm, g, &h, sizeof(h));
		gm_write(&x->gm, g + VIRTIO_NET_HDR_LEN, f, n);
		struct seg sg = { g, (uint32_t)(VIRTIO_NET_HDR_LEN + n), false };
		post(x, TXQ, &sg, 1);
	}
	kick(x, TXQ);		/* one notify for all of them */
	for (int i = 0; i < N; i++)
		assert_true(wait_used(x, TXQ, NULL, NULL, 5000));
	uint8_t r[2048];
	size_t len;
	for (int i = 0; i < N; i++) {
		assert_true(recv_frame(x, &h, r, sizeof(r), &len, 5000));
		assert_int_equal(be16(r + 12), 0x0806);
	}
	struct virtio_net_stats s = stats(x);
	assert_int_equal(s.tx_frames, N);
	assert_int_equal(s.rx_frames, N);
	assert_int_equal(s.rx_dropped, 0);
}

/* rx rate limit: bytes; frames are delayed, not lost. */
static void user_rx_rate_limit(void **state)
{
	(void)state;
	struct fx *x = fx_new();
	assert_non_null(x);
	x->cfg.rx.bandwidth = (struct skiff_bucket){ .size = 64, .refill_time_ms = 100 };
	struct skiff_err e = { { 0 } };
	assert_true(fx_start(x, ALL_FEATURES, &e));
	post_rx(x, 8, 2048);
	uint8_t f[64];
	size_t n = arp_request(x->mac, 0x0a00020f, 0x0a000202, f);
	uint64_t t0 = now_ms();
	for (int i = 0; i < 3; i++)
		send_frame(x, f, (uint32_t)n);
	struct virtio_net_hdr_v1 h;
	uint8_t r[2048];
	size_t len;
	for (int i = 0; i < 3; i++)
		assert_true(recv_type(x, 0x0806, &h, r, &len));
	assert_true(now_ms() - t0 >= 150);
	struct virtio_net_stats s = stats(x);
	assert_true(s.rx_throttled >= 1);
	assert_int_equal(s.rx_dropped, 0);
	fx_free(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(user_rx_waits_for_buffers, setup_user, teardown),
		cmocka_unit_test_setup_teardown(user_rx_buffer_too_small, setup_user, teardown),
		cmocka_unit_test_setup_teardown(user_mrg_rxbuf, setup_user_mrg, teardown),
		cmocka_unit_test_setup_teardown(user_batches, setup_user, teardown),
		cmocka_unit_test(user_rx_rate_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
