/* Unit tests for the token-bucket rate limiter (src/core/ratelimit.c).
 * Deterministic: every call passes an explicit time, relative to the time
 * the buckets were created; only the last test waits on the real timer. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <poll.h>
#include <sys/timerfd.h>
#include "core/ratelimit.h"

#define MS 1000000ULL

static struct rate_limiter make(uint64_t bw_size, uint64_t bw_burst, uint64_t bw_ms,
				uint64_t ops_size, uint64_t ops_burst, uint64_t ops_ms)
{
	struct skiff_rate_limit cfg = {
		.bandwidth = { bw_size, bw_burst, bw_ms },
		.ops = { ops_size, ops_burst, ops_ms },
	};
	struct rate_limiter rl;
	struct skiff_err e = { { 0 } };
	assert_int_equal(rl_init(&rl, &cfg, &e), 0);
	return rl;
}

/* Time left on the limiter's timer, ns (0: disarmed). */
static uint64_t timer_left(const struct rate_limiter *rl)
{
	struct itimerspec its;
	assert_int_equal(timerfd_gettime(rl->timer_fd, &its), 0);
	return (uint64_t)its.it_value.tv_sec * 1000000000ULL + (uint64_t)its.it_value.tv_nsec;
}

/* The timer is armed for about `ns` from now (it has been counting down
 * since it was armed, so allow a little slack). */
static void assert_timer_near(const struct rate_limiter *rl, uint64_t ns)
{
	uint64_t left = timer_left(rl);
	assert_true(left <= ns);
	assert_true(left + 20 * MS >= ns);
}

static void unlimited(void **state)
{
	(void)state;
	struct rate_limiter rl = make(0, 0, 0, 0, 0, 0);
	assert_true(rl_unlimited(&rl));
	assert_int_equal(rl.timer_fd, -1);
	for (int i = 0; i < 1000; i++)
		assert_true(rl_consume(&rl, 1ULL << 40, 0));
	rl_destroy(&rl);
	/* size without refill time (or the reverse) disables that bucket */
	rl = make(100, 0, 0, 0, 0, 100);
	assert_true(rl_unlimited(&rl));
	rl_destroy(&rl);
}

static void bandwidth(void **state)
{
	(void)state;
	/* 1000 bytes per second: one byte per ms */
	struct rate_limiter rl = make(1000, 0, 1000, 0, 0, 0);
	assert_false(rl_unlimited(&rl));
	assert_true(rl.timer_fd >= 0);
	uint64_t t0 = rl.bw.last_ns;
	assert_true(rl_consume(&rl, 600, t0));		/* starts full */
	assert_int_equal(rl.bw.budget, 400);
	assert_false(rl_consume(&rl, 500, t0));		/* 100 short */
	assert_true(rl.throttled);
	assert_int_equal(rl.bw.budget, 400);		/* nothing taken */
	assert_timer_near(&rl, 100 * MS);
	assert_false(rl_consume(&rl, 1, t0));		/* no overtaking while throttled */
	assert_int_equal(rl.throttled_count, 2);
	rl_timer_ack(&rl);
	assert_false(rl.throttled);
	assert_int_equal(timer_left(&rl), 0);
	assert_false(rl_consume(&rl, 500, t0 + 50 * MS));	/* 450 there */
	assert_timer_near(&rl, 50 * MS);
	rl_timer_ack(&rl);
	assert_true(rl_consume(&rl, 500, t0 + 100 * MS));
	assert_int_equal(rl.bw.budget, 0);
	/* a long idle period refills to size, never beyond */
	assert_true(rl_consume(&rl, 1000, t0 + 100000 * MS));
	assert_false(rl_consume(&rl, 1, t0 + 100000 * MS));
	rl_destroy(&rl);
}

static void fractional_refill(void **state)
{
	(void)state;
	/* 3 tokens per 10 ms: one every 3.33 ms; fractions carry over */
	struct rate_limiter rl = make(3, 0, 10, 0, 0, 0);
	uint64_t t0 = rl.bw.last_ns;
	assert_true(rl_consume(&rl, 3, t0));
	assert_false(rl_consume(&rl, 1, t0 + 3 * MS));		/* 0.9 tokens */
	rl_timer_ack(&rl);
	assert_true(rl_consume(&rl, 1, t0 + 5 * MS));		/* 1.5: one, 0.5 kept */
	assert_false(rl_consume(&rl, 1, t0 + 6 * MS));		/* 0.8 */
	rl_timer_ack(&rl);
	assert_true(rl_consume(&rl, 1, t0 + 7 * MS));		/* 1.1 */
	rl_destroy(&rl);
}

static void ops_bucket(void **state)
{
	(void)state;
	struct rate_limiter rl = make(0, 0, 0, 2, 0, 100);	/* 20 ops/s */
	uint64_t t0 = rl.ops.last_ns;
	assert_true(rl_consume(&rl, 1 << 30, t0));		/* bytes are free */
	assert_true(rl_consume(&rl, 0, t0));
	assert_false(rl_consume(&rl, 0, t0));
	assert_timer_near(&rl, 50 * MS);
	rl_timer_ack(&rl);
	assert_true(rl_consume(&rl, 0, t0 + 50 * MS));
	rl_destroy(&rl);
}

static void one_time_burst(void **state)
{
	(void)state;
	struct rate_limiter rl = make(100, 50, 100, 0, 0, 0);
	uint64_t t0 = rl.bw.last_ns;
	assert_true(rl_consume(&rl, 30, t0));			/* from the burst */
	assert_int_equal(rl.bw.burst, 20);
	assert_int_equal(rl.bw.budget, 100);
	assert_true(rl_consume(&rl, 120, t0));			/* 20 burst + 100 */
	assert_int_equal(rl.bw.burst, 0);
	assert_int_equal(rl.bw.budget, 0);
	assert_false(rl_consume(&rl, 1, t0));
	rl_timer_ack(&rl);
	/* the burst never comes back */
	assert_true(rl_consume(&rl, 100, t0 + 1000 * MS));
	assert_int_equal(rl.bw.burst, 0);
	assert_false(rl_consume(&rl, 1, t0 + 1000 * MS));
	rl_destroy(&rl);
}

static void oversized_request(void **state)
{
	(void)state;
	struct rate_limiter rl = make(100, 0, 100, 0, 0, 0);	/* 1 token per ms */
	uint64_t t0 = rl.bw.last_ns;
	/* not full: wait until it is */
	assert_true(rl_consume(&rl, 10, t0));
	assert_false(rl_consume(&rl, 250, t0));
	assert_timer_near(&rl, 10 * MS);
	rl_timer_ack(&rl);
	uint64_t t1 = t0 + 10 * MS;
	/* full: let through, the 150 excess is a debt of 150 ms */
	assert_true(rl_consume(&rl, 250, t1));
	assert_int_equal(rl.bw.budget, 0);
	assert_false(rl_consume(&rl, 1, t1 + 100 * MS));
	assert_timer_near(&rl, 51 * MS);
	rl_timer_ack(&rl);
	assert_false(rl_consume(&rl, 1, t1 + 150 * MS));	/* debt paid, no token yet */
	rl_timer_ack(&rl);
	assert_true(rl_consume(&rl, 1, t1 + 151 * MS));
	rl_destroy(&rl);
}

static void both_buckets_atomic(void **state)
{
	(void)state;
	struct rate_limiter rl = make(1000, 0, 1000, 1, 0, 1000);
	uint64_t t0 = rl.bw.last_ns;
	assert_true(rl_consume(&rl, 100, t0));
	/* bandwidth would allow it, ops does not: neither is taken */
	assert_false(rl_consume(&rl, 100, t0 + 10 * MS));
	assert_int_equal(rl.bw.budget, 900 + 10);
	assert_int_equal(rl.ops.budget, 0);
	assert_timer_near(&rl, 990 * MS);
	rl_timer_ack(&rl);
	/* ops back after 1 s; bandwidth short: the later of the two counts */
	assert_true(rl_consume(&rl, 900, t0 + 1000 * MS));
	assert_true(rl_consume(&rl, 1000, t0 + 2000 * MS));
	/* bandwidth ready in 100 ms, ops in 500 ms: armed for the later */
	assert_false(rl_consume(&rl, 600, t0 + 2500 * MS));
	assert_timer_near(&rl, 500 * MS);
	rl_destroy(&rl);
}

static void real_timer(void **state)
{
	(void)state;
	struct rate_limiter rl = make(1000, 0, 20, 0, 0, 0);	/* 50 KB/s */
	uint64_t now = rl_now_ns();
	assert_true(rl_consume(&rl, 1000, now));
	assert_false(rl_consume(&rl, 500, rl_now_ns()));
	struct pollfd p = { .fd = rl.timer_fd, .events = POLLIN };
	uint64_t t0 = rl_now_ns();
	assert_int_equal(poll(&p, 1, 2000), 1);
	uint64_t waited = rl_now_ns() - t0;
	assert_true(waited <= 1000 * MS);
	rl_timer_ack(&rl);
	assert_true(rl_consume(&rl, 500, rl_now_ns()));
	rl_destroy(&rl);
	assert_int_equal(rl.timer_fd, -1);
}

/* --- run-time updates (rl_update, Firecracker's update_buckets) --- */

static struct skiff_rate_limit_update upd(bool set_bw, uint64_t bw_size, bool set_ops,
					   uint64_t ops_size)
{
	struct skiff_rate_limit_update u = { .set_bandwidth = set_bw, .set_ops = set_ops };
	u.cfg.bandwidth = (struct skiff_bucket){ bw_size, 0, bw_size ? 1000 : 0 };
	u.cfg.ops = (struct skiff_bucket){ ops_size, 0, ops_size ? 1000 : 0 };
	return u;
}

/* The timer fires (nearly) at once: the device retries the held request. */
static void assert_fires_now(const struct rate_limiter *rl)
{
	struct pollfd p = { .fd = rl->timer_fd, .events = POLLIN };
	assert_int_equal(poll(&p, 1, 100), 1);
}

/* A throttled limiter given a larger bucket lets the held request through
 * at once; the bucket not named keeps its tokens. */
static void update_raise(void **state)
{
	(void)state;
	struct rate_limiter rl = make(1000, 0, 1000, 3, 0, 1000);
	struct skiff_err e = { { 0 } };
	uint64_t t0 = rl.bw.last_ns;
	assert_true(rl_consume(&rl, 1000, t0));
	assert_false(rl_consume(&rl, 500, t0));
	assert_true(rl.throttled);
	assert_timer_near(&rl, 500 * MS);
	struct skiff_rate_limit_update u = upd(true, 100000, false, 0);
	assert_int_equal(rl_update(&rl, &u, t0, &e), 0);
	assert_fires_now(&rl);
	rl_timer_ack(&rl);
	assert_int_equal(rl.ops.budget, 2);		/* untouched: 1 of 3 used */
	assert_true(rl_consume(&rl, 50000, t0));	/* the new, full bucket */
	assert_true(rl_consume(&rl, 50000, t0));
	assert_false(rl_consume(&rl, 1, t0));		/* ops: 3 used */
	rl_destroy(&rl);
}

/* A cut applies to the next request: a new full bucket of the new size. */
static void update_cut(void **state)
{
	(void)state;
	struct rate_limiter rl = make(100000, 0, 1000, 0, 0, 0);
	struct skiff_err e = { { 0 } };
	uint64_t t0 = rl.bw.last_ns;
	assert_true(rl_consume(&rl, 1000, t0));
	struct skiff_rate_limit_update u = upd(true, 100, false, 0);
	assert_int_equal(rl_update(&rl, &u, t0, &e), 0);
	assert_false(rl.throttled);
	assert_true(rl_consume(&rl, 100, t0));
	assert_false(rl_consume(&rl, 1, t0));
	assert_timer_near(&rl, 10 * MS);		/* 1 byte at 100 B/s */
	rl_timer_ack(&rl);
	assert_true(rl_consume(&rl, 1, t0 + 10 * MS));
	rl_destroy(&rl);
}

/* Zero size disables a bucket; a throttled, now unlimited limiter still
 * wakes its device (rl_consume would ignore `throttled`). From unlimited,
 * an update creates the timerfd. */
static void update_disable_enable(void **state)
{
	(void)state;
	struct rate_limiter rl = make(0, 0, 0, 1, 0, 1000);
	struct skiff_err e = { { 0 } };
	uint64_t t0 = rl.ops.last_ns;
	assert_true(rl_consume(&rl, 0, t0));
	assert_false(rl_consume(&rl, 0, t0));
	struct skiff_rate_limit_update u = upd(false, 0, true, 0);
	assert_int_equal(rl_update(&rl, &u, t0, &e), 0);
	assert_true(rl_unlimited(&rl));
	assert_true(rl.timer_fd >= 0);
	assert_fires_now(&rl);
	rl_timer_ack(&rl);
	for (int i = 0; i < 100; i++)
		assert_true(rl_consume(&rl, 1 << 20, t0));
	rl_destroy(&rl);

	rl = make(0, 0, 0, 0, 0, 0);
	assert_int_equal(rl.timer_fd, -1);
	u = upd(false, 0, true, 2);
	u.cfg.ops.one_time_burst = 1;
	assert_int_equal(rl_update(&rl, &u, t0, &e), 0);
	assert_true(rl.timer_fd >= 0);
	assert_false(rl.throttled);
	for (int i = 0; i < 3; i++)			/* 2 + a burst of 1 */
		assert_true(rl_consume(&rl, 0, t0));
	assert_false(rl_consume(&rl, 0, t0));
	rl_destroy(&rl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(unlimited),
		cmocka_unit_test(bandwidth),
		cmocka_unit_test(fractional_refill),
		cmocka_unit_test(ops_bucket),
		cmocka_unit_test(one_time_burst),
		cmocka_unit_test(oversized_request),
		cmocka_unit_test(both_buckets_atomic),
		cmocka_unit_test(real_timer),
		cmocka_unit_test(update_raise),
		cmocka_unit_test(update_cut),
		cmocka_unit_test(update_disable_enable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
