/* Token-bucket rate limiter (see ratelimit.h): Firecracker's semantics,
 * with the timer armed for the moment the missing tokens are back instead
 * of a fixed interval.
 *
 * A bucket refills continuously: after t ns it has gained
 * floor(t * size / refill_ns) tokens, capped at size; the fractional token
 * is kept by advancing last_ns only by the time the whole tokens took. A
 * full bucket accrues nothing (last_ns follows the clock). A request larger
 * than the bucket is allowed when the bucket is full; its excess becomes a
 * debt, recorded by moving last_ns into the future by the time the excess
 * takes to refill, so no tokens appear before the debt is paid. */
#include <errno.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include "core/ratelimit.h"

#define NS_PER_MS	1000000ULL

typedef unsigned __int128 u128;

static void bucket_init(struct token_bucket *b, const struct skiff_bucket *c, uint64_t now)
{
	memset(b, 0, sizeof(*b));
	/* Firecracker: size 0 or refill time 0 disables the bucket. A refill
	 * time whose ns value overflows is treated as "practically never"
	 * (clamped), not as unlimited. */
	if (!c->size || !c->refill_time_ms)
		return;
	b->size = c->size;
	b->refill_ns = c->refill_time_ms > UINT64_MAX / NS_PER_MS ? UINT64_MAX
								   : c->refill_time_ms * NS_PER_MS;
	b->budget = c->size;		/* starts full */
	b->burst = c->one_time_burst;
	b->last_ns = now;
}

/* ns needed to generate `tokens` tokens, rounded up. */
static uint64_t tokens_ns(const struct token_bucket *b, uint64_t tokens)
{
	u128 t = ((u128)tokens * b->refill_ns + b->size - 1) / b->size;
	return t > UINT64_MAX ? UINT64_MAX : (uint64_t)t;
}

static void bucket_refill(struct token_bucket *b, uint64_t now)
{
	if (!b->size)
		return;
	if (b->budget >= b->size) {
		b->budget = b->size;
		if (now > b->last_ns)	/* a full bucket accrues nothing */
			b->last_ns = now;
		return;
	}
	if (now <= b->last_ns)		/* no time passed, or still in debt */
		return;
	uint64_t dt = now - b->last_ns;
	u128 tokens = (u128)dt * b->size / b->refill_ns;
	if (!tokens)
		return;
	if (tokens >= b->size - b->budget) {
		b->budget = b->size;
		b->last_ns = now;
		return;
	}
	b->budget += (uint64_t)tokens;
	/* keep the fraction of a token already earned */
	b->last_ns += tokens_ns(b, (uint64_t)tokens);
	if (b->last_ns > now)
		b->last_ns = now;
}

/* Can `n` tokens be taken now? If not, *ready_ns gets the earliest time at
 * which they can (bucket already refilled to `now`). */
static bool bucket_check(const struct token_bucket *b, uint64_t n, uint64_t now, uint64_t *ready_ns)
{
	if (!b->size || n <= b->burst || n - b->burst <= b->budget)
		return true;
	uint64_t need = n - b->burst;
	/* Larger than the bucket: wait for a full bucket, then allow. */
	if (need > b->size) {
		if (b->budget == b->size)
			return true;
		need = b->size;
	}
	uint64_t from = b->last_ns > now ? b->last_ns : now;
	uint64_t base = b->last_ns;
	/* tokens at time t: budget + floor((t - last_ns) * size / refill_ns) */
	uint64_t wait = tokens_ns(b, need - b->budget);
	uint64_t t = base > UINT64_MAX - wait ? UINT64_MAX : base + wait;
	*ready_ns = t > from ? t : from + 1;
	return false;
}

static void bucket_take(struct token_bucket *b, uint64_t n, uint64_t now)
{
	if (!b->size)
		return;
	uint64_t from_burst = n < b->burst ? n : b->burst;
	b->burst -= from_burst;
	n -= from_burst;
	if (n <= b->budget) {
		b->budget -= n;
		return;
	}
	/* Oversized request on a full bucket: the excess is a debt. */
	uint64_t excess = n - b->budget;
	b->budget = 0;
	uint64_t base = b->last_ns > now ? b->last_ns : now;
	uint64_t d = tokens_ns(b, excess);
	b->last_ns = base > UINT64_MAX - d ? UINT64_MAX : base + d;
}

uint64_t rl_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int rl_init(struct rate_limiter *rl, const struct skiff_rate_limit *cfg, struct skiff_err *e)
{
	memset(rl, 0, sizeof(*rl));
	rl->timer_fd = -1;
	uint64_t now = rl_now_ns();
	bucket_init(&rl->bw, &cfg->bandwidth, now);
	bucket_init(&rl->ops, &cfg->ops, now);
	if (rl_unlimited(rl))
		return 0;
	rl->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (rl->timer_fd < 0)
		return skiff_fail(e, errno, "rate limiter: timerfd_create: %s", strerror(errno));
	return 0;
}

void rl_destroy(struct rate_limiter *rl)
{
	if (rl->timer_fd >= 0)
		close(rl->timer_fd);
	rl->timer_fd = -1;
	rl->throttled = false;
}

bool rl_unlimited(const struct rate_limiter *rl)
{
	return !rl->bw.size && !rl->ops.size;
}

static void arm(struct rate_limiter *rl, uint64_t delay_ns)
{
	if (!delay_ns)
		delay_ns = 1;		/* 0 would disarm */
	struct itimerspec its = { 0 };
	its.it_value.tv_sec = (time_t)(delay_ns / 1000000000ULL);
	its.it_value.tv_nsec = (long)(delay_ns % 1000000000ULL);
	if (rl->timer_fd >= 0)
		timerfd_settime(rl->timer_fd, 0, &its, NULL);
	rl->throttled = true;
}

bool rl_consume(struct rate_limiter *rl, uint64_t bytes, uint64_t now_ns)
{
	if (rl_unlimited(rl))
		return true;
	if (rl->throttled) {		/* waiting for the timer: no overtaking */
		rl->throttled_count++;
		return false;
	}
	bucket_refill(&rl->bw, now_ns);
	bucket_refill(&rl->ops, now_ns);
	uint64_t t_bw = 0, t_ops = 0;
	bool ok_bw = bucket_check(&rl->bw, bytes, now_ns, &t_bw);
	bool ok_ops = bucket_check(&rl->ops, 1, now_ns, &t_ops);
	if (ok_bw && ok_ops) {
		bucket_take(&rl->bw, bytes, now_ns);
		bucket_take(&rl->ops, 1, now_ns);
		return true;
	}
	uint64_t ready = t_bw > t_ops ? t_bw : t_ops;
	arm(rl, ready > now_ns ? ready - now_ns : 1);
	rl->throttled_count++;
	return false;
}

int rl_update(struct rate_limiter *rl, const struct skiff_rate_limit_update *u, uint64_t now_ns,
	      struct skiff_err *e)
{
	struct token_bucket bw = rl->bw, ops = rl->ops;
	if (u->set_bandwidth)
		bucket_init(&bw, &u->cfg.bandwidth, now_ns);
	if (u->set_ops)
		bucket_init(&ops, &u->cfg.ops, now_ns);
	bool limited = bw.size || ops.size;
	if (limited && rl->timer_fd < 0) {
		rl->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (rl->timer_fd < 0)
			return skiff_fail(e, errno, "rate limiter: timerfd_create: %s",
					  strerror(errno));
	}
	rl->bw = bw;
	rl->ops = ops;
	/* The held request was refused under the old limits: let the device
	 * retry now rather than when the old timer would have fired (maybe
	 * much later), and never leave `throttled` set on an unlimited
	 * limiter, which rl_consume no longer looks at. */
	if (rl->throttled)
		arm(rl, 1);
	return 0;
}

void rl_timer_ack(struct rate_limiter *rl)
{
	if (rl->timer_fd >= 0) {
		uint64_t n;
		/* non-blocking: EAGAIN when acked before expiry (tests, resets) */
		ssize_t r = read(rl->timer_fd, &n, sizeof(n));
		(void)r;
		struct itimerspec off = { 0 };
		timerfd_settime(rl->timer_fd, 0, &off, NULL);
	}
	rl->throttled = false;
}
