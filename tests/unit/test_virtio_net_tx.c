/* virtio-net's transmit path over user-mode networking (libslirp): hostile
 * transmit chains, a broken ring (NEEDS_RESET) and the reset that recovers
 * it, reset and restart, and transmit rate limiting, also updated on a
 * running device. Fixture: virtio_net_fixture.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include "unit/virtio_net_fixture.h"

/* A hostile driver's transmit chains: dropped, counted, returned, and the
 * device keeps working. */
static void user_hostile_tx(void **state)
{
	struct fx *x = *state;
	post_rx(x, 4, 2048);
	uint8_t f[64];
	size_t n = arp_request(x->mac, 0x0a00020f, 0x0a000202, f);
	struct virtio_net_hdr_v1 h = { 0 };
	int bad = 0;

	/* header shorter than 12 bytes */
	uint64_t g = alloc_buf(x, 64);
	struct seg s8 = { g, 8, false };
	post(x, TXQ, &s8, 1), bad++;
	/* a header and nothing else (an empty frame) */
	struct seg s12 = { g, 12, false };
	post(x, TXQ, &s12, 1), bad++;
	/* no readable part at all: one writable buffer */
	struct seg sw = { g, 64, true };
	post(x, TXQ, &sw, 1), bad++;
	/* a zero-length descriptor only */
	struct seg s0 = { g, 0, false };
	post(x, TXQ, &s0, 1), bad++;
	/* a runt: header + 10 bytes */
	struct seg s22 = { g, 22, false };
	post(x, TXQ, &s22, 1), bad++;
	kick(x, TXQ);
	/* a frame of 70000 bytes (> 64 KiB + header) */
	static uint8_t big[70000];
	memcpy(big, f, n);
	send_raw(x, &h, big, sizeof(big), 4096), bad++;
	/* exactly one byte too many */
	send_raw(x, &h, big, NET_MAX_FRAME + 1, 12), bad++;
	/* flags the driver may not set, or offloads it did not negotiate */
	h.flags = VIRTIO_NET_HDR_F_DATA_VALID;
	send_raw(x, &h, f, (uint32_t)n, 12), bad++;
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;	/* CSUM is not offered by slirp */
	send_raw(x, &h, f, (uint32_t)n, 12), bad++;
	h.flags = 0;
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	h.gso_size = 1000;
	send_raw(x, &h, f, (uint32_t)n, 12), bad++;

	for (int i = 0; i < bad; i++) {
		uint32_t l = 1;
		assert_true(wait_used(x, TXQ, NULL, &l, 5000));
		assert_int_equal(l, 0);
	}
	struct virtio_net_stats st = stats(x);
	assert_int_equal(st.tx_dropped, bad);
	assert_int_equal(st.tx_frames, 0);
	assert_false(x->vd->broken);

	/* still working: a good frame goes through, its reply comes back */
	send_frame(x, f, (uint32_t)n);
	uint8_t r[2048];
	size_t len;
	assert_true(recv_type(x, 0x0806, &h, r, &len));
	assert_int_equal(stats(x).tx_frames, 1);
}

/* A descriptor outside guest RAM is a broken ring: NEEDS_RESET, a
 * configuration interrupt, no crash; a reset brings the device back. */
static void user_broken_ring(void **state)
{
	struct fx *x = *state;
	struct seg s = { RAM + 0x1000, 100, false };
	post(x, TXQ, &s, 1);
	kick(x, TXQ);
	uint64_t t0 = now_ms();
	while (!__atomic_load_n(&x->vd->broken, __ATOMIC_SEQ_CST) && now_ms() - t0 < 5000)
		usleep(1000);
	assert_true(x->vd->broken);
	assert_true(x->vd->status & VIRTIO_STATUS_NEEDS_RESET);
	assert_true(__atomic_load_n(&x->config_irqs, __ATOMIC_SEQ_CST) >= 1);
	/* the driver resets and starts again */
	virtio_set_status(x->vd, 0);
	assert_false(x->vd->broken);
	assert_true(driver_start(x, ALL_FEATURES & ~(1ULL << VIRTIO_NET_F_MRG_RXBUF)));
	post_rx(x, 2, 2048);
	uint8_t f[64];
	size_t n = arp_request(x->mac, 0x0a00020f, 0x0a000202, f);
	send_frame(x, f, (uint32_t)n);
	struct virtio_net_hdr_v1 h;
	uint8_t r[2048];
	size_t len;
	assert_true(recv_type(x, 0x0806, &h, r, &len));
}

/* Reset stops the device; a new start on the same device works. */
static void user_reset_restart(void **state)
{
	struct fx *x = *state;
	post_rx(x, 2, 2048);
	virtio_set_status(x->vd, 0);
	assert_false(x->vd->active);
	assert_true(driver_start(x, ALL_FEATURES));	/* now with MRG_RXBUF */
	assert_true(x->vd->driver_features & (1ULL << VIRTIO_NET_F_MRG_RXBUF));
	post_rx(x, 2, 2048);
	uint8_t f[64];
	size_t n = arp_request(x->mac, 0x0a00020f, 0x0a000202, f);
	send_frame(x, f, (uint32_t)n);
	struct virtio_net_hdr_v1 h;
	uint8_t r[2048];
	size_t len;
	assert_true(recv_type(x, 0x0806, &h, r, &len));
}

/* tx rate limit: one frame per 100 ms. Frames wait (no drops) and the
 * limiter's timer, not a busy loop, lets them through. */
static void user_tx_rate_limit(void **state)
{
	(void)state;
	struct fx *x = fx_new();
	assert_non_null(x);
	x->cfg.tx.ops = (struct skiff_bucket){ .size = 1, .refill_time_ms = 100 };
	struct skiff_err e = { { 0 } };
	assert_true(fx_start(x, ALL_FEATURES, &e));
	post_rx(x, 8, 2048);
	uint8_t f[64];
	size_t n = arp_request(x->mac, 0x0a00020f, 0x0a000202, f);
	uint64_t t0 = now_ms();
	for (int i = 0; i < 3; i++)
		send_frame(x, f, (uint32_t)n);
	for (int i = 0; i < 3; i++)
		assert_true(wait_used(x, TXQ, NULL, NULL, 5000));
	uint64_t dt = now_ms() - t0;
	struct virtio_net_stats s = stats(x);
	assert_int_equal(s.tx_frames, 3);
	assert_true(s.tx_throttled >= 1);
	assert_int_equal(s.tx_dropped, 0);
	assert_true(dt >= 150);		/* two refills of 100 ms, minus slack */
	fx_free(x);
}

/* PATCH /network-interfaces: a transmit queue held by a 1-per-10-s limiter
 * goes on at once when the limit is raised (virtio_net_update_rate_limits),
 * and stops again under a cut one. */
static void user_tx_rate_limit_update(void **state)
{
	(void)state;
	struct fx *x = fx_new();
	assert_non_null(x);
	x->cfg.tx.ops = (struct skiff_bucket){ .size = 1, .refill_time_ms = 10000 };
	struct skiff_err e = { { 0 } };
	assert_true(fx_start(x, ALL_FEATURES, &e));
	post_rx(x, 8, 2048);
	uint8_t f[64];
	size_t n = arp_request(x->mac, 0x0a00020f, 0x0a000202, f);
	send_frame(x, f, (uint32_t)n);
	assert_true(wait_used(x, TXQ, NULL, NULL, 5000));
	send_frame(x, f, (uint32_t)n);
	assert_false(wait_used(x, TXQ, NULL, NULL, 300));	/* held for 10 s */
	struct skiff_rate_limit_update u = { .set_ops = true };
	u.cfg.ops = (struct skiff_bucket){ .size = 2, .refill_time_ms = 10000 };
	uint64_t t0 = now_ms();
	assert_int_equal(virtio_net_update_rate_limits(x->n, NULL, &u, &e), 0);
	assert_true(wait_used(x, TXQ, NULL, NULL, 5000));
	assert_true(now_ms() - t0 < 2000);
	send_frame(x, f, (uint32_t)n);
	assert_true(wait_used(x, TXQ, NULL, NULL, 5000));	/* the second token */
	send_frame(x, f, (uint32_t)n);
	assert_false(wait_used(x, TXQ, NULL, NULL, 300));
	assert_int_equal(stats(x).tx_frames, 3);
	fx_free(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(user_hostile_tx, setup_user, teardown),
		cmocka_unit_test_setup_teardown(user_broken_ring, setup_user, teardown),
		cmocka_unit_test_setup_teardown(user_reset_restart, setup_user, teardown),
		cmocka_unit_test(user_tx_rate_limit),
		cmocka_unit_test(user_tx_rate_limit_update),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
