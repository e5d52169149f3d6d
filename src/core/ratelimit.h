/* Token-bucket rate limiter with Firecracker's semantics (swagger
 * RateLimiter/TokenBucket; src/vmm/src/rate_limiter in Firecracker): two
 * buckets, bytes and operations; tokens refill continuously at
 * size / refill_time; one_time_burst is spent first and never refilled.
 *
 * A throttled device stops consuming its queue and waits for the limiter's
 * timerfd (armed for when enough tokens will be back) on the I/O thread: no
 * busy waiting. Time is CLOCK_MONOTONIC in ns. Not thread-safe: one device,
 * one thread. */
#ifndef SKIFF_RATELIMIT_H
#define SKIFF_RATELIMIT_H
#include <stdbool.h>
#include <stdint.h>
#include "core/devcfg.h"
#include "core/err.h"

struct token_bucket {
	uint64_t size;			/* tokens; 0: unlimited */
	uint64_t refill_ns;		/* time to refill `size` tokens */
	uint64_t budget;		/* tokens available now */
	uint64_t burst;			/* one-time-burst tokens left */
	uint64_t last_ns;		/* last refill */
};

struct rate_limiter {
	struct token_bucket bw, ops;
	int timer_fd;			/* timerfd, owned; -1 when unlimited */
	bool throttled;			/* waiting for the timer */
	uint64_t throttled_count;	/* times a request was refused (metrics) */
};

/* Set up from cfg (all-zero cfg: unlimited, no timerfd). 0, or -errno with a message in *e. */
int rl_init(struct rate_limiter *rl, const struct skiff_rate_limit *cfg, struct skiff_err *e);
void rl_destroy(struct rate_limiter *rl);
bool rl_unlimited(const struct rate_limiter *rl);
/* Take one operation and `bytes` bytes at time now_ns. true: go ahead.
 * false: nothing taken, the timer is armed; retry when timer_fd fires.
 * A request larger than a bucket's size is let through once the bucket is
 * full (it then goes negative in effect: budget 0), as Firecracker does. */
bool rl_consume(struct rate_limiter *rl, uint64_t bytes, uint64_t now_ns);
/* Replace buckets at run time (Firecracker's RateLimiter::update_buckets):
 * a bucket `u` sets becomes a new full bucket (with its one_time_burst), or
 * unlimited when its size or refill time is 0; the other keeps its state.
 * A throttled limiter has its timer armed to fire at once, so the device's
 * timer callback retries the held request under the new limits (a raised
 * limit is felt at once; a cut one throttles again from a full bucket).
 * Creates the timerfd if there was none (the caller must then watch it:
 * compare timer_fd before and after); it is kept when the update makes
 * the limiter unlimited. Call on the device's thread. 0, or -errno
 * (timerfd_create; the limiter is then unchanged) with a message in *e. */
int rl_update(struct rate_limiter *rl, const struct skiff_rate_limit_update *u, uint64_t now_ns,
	      struct skiff_err *e);
/* Call when timer_fd is readable: reads it and clears `throttled`. */
void rl_timer_ack(struct rate_limiter *rl);
uint64_t rl_now_ns(void);	/* CLOCK_MONOTONIC */

#endif
