/* virtio-rng (virtio 1.2 §5.4): see virtio_rng.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include "core/evloop.h"
#include "core/ratelimit.h"
#include "dev/virtio_rng.h"

struct virtio_rng {
	struct virtio_device vd;
	const struct dev_host *host;	/* not owned */
	struct rate_limiter rl;
	bool limited;			/* rl has a limit; its timer_fd is on the loop */
	bool active;			/* DRIVER_OK seen, not reset since (I/O thread) */
	struct virtio_rng_counters cnt;
	struct virtq_chain chain;	/* scratch for the chain being served */
};

static struct virtio_rng *to_rng(struct virtio_device *vd) { return vd->priv; }

/* Fill the first `want` bytes of c's writable part from getrandom(). Returns
 * the bytes written, or -errno. */
static int64_t fill_random(const struct virtq_chain *c, uint64_t want)
{
	uint64_t done = 0;
	for (uint32_t i = c->nout; i < c->nout + c->nin && done < want; i++) {
		uint8_t *p = c->iov[i].iov_base;
		size_t n = c->iov[i].iov_len;
		if (n > want - done)
			n = (size_t)(want - done);
		while (n) {
			ssize_t r = getrandom(p, n, 0);
			if (r < 0) {
				if (errno == EINTR)
					continue;
				return done ? (int64_t)done : -errno;
			}
			p += r;
			n -= (size_t)r;
			done += (uint64_t)r;
		}
	}
	return (int64_t)done;
}

static void rng_fail(struct virtio_rng *r, const char *why)
{
	r->cnt.errors++;
	r->active = false;
	virtio_device_error(&r->vd, "virtio-rng: %s", why);
}

/* Serve every available buffer the rate limit allows. I/O thread. */
static void rng_process(struct virtio_rng *r)
{
	struct virtq *q = &r->vd.vq[0];
	const char *err = NULL;
	bool pushed = false;

	if (!r->active || !q->ready || __atomic_load_n(&r->vd.broken, __ATOMIC_ACQUIRE))
		return;
	while (!(r->limited && r->rl.throttled)) {
		int n = virtq_pop(q, &r->chain);
		if (n == 0)
			break;
		if (n < 0) {
			err = "malformed descriptor chain";
			break;
		}
		if (r->chain.nout) {
			err = "device-readable buffer on the request queue (§5.4.6.2)";
			break;
		}
		uint64_t want = r->chain.in_len < VIRTIO_RNG_MAX_REQ ? r->chain.in_len
								      : VIRTIO_RNG_MAX_REQ;
		if (r->limited && !rl_consume(&r->rl, want, rl_now_ns())) {
			virtq_unpop(q);
			r->cnt.throttled++;
			break;
		}
		int64_t got = fill_random(&r->chain, want);
		if (got < 0 || (want && got == 0)) {
			skiff_log(r->host->log, LOG_ERROR, "virtio-rng: getrandom: %s",
				  strerror(got < 0 ? (int)-got : EIO));
			err = "host entropy source failed";
			break;
		}
		if (virtq_push(q, r->chain.head, (uint32_t)got) < 0) {
			err = "used ring outside guest RAM";
			break;
		}
		pushed = true;
		r->cnt.requests++;
		r->cnt.bytes += (uint64_t)got;
	}
	if (pushed)
		virtio_queue_interrupt(&r->vd, 0);
	if (err)
		rng_fail(r, err);
}

static void rng_timer(void *opaque, uint32_t events)
{
	struct virtio_rng *r = opaque;
	(void)events;
	rl_timer_ack(&r->rl);
	rng_process(r);
}

static uint64_t rng_features(struct virtio_device *vd)
{
	(void)vd;
	return 0;	/* §5.4.3: none */
}

static int rng_activate(struct virtio_device *vd)
{
	/* The core kicks the queue next (virtio.h). */
	to_rng(vd)->active = true;
	return 0;
}

static void rng_reset(struct virtio_device *vd)
{
	to_rng(vd)->active = false;
}

static void rng_notify(struct virtio_device *vd, uint16_t q)
{
	if (q == 0)
		rng_process(to_rng(vd));
}

static const struct virtio_ops rng_ops = {
	.name = "virtio-rng",
	.device_id = VIRTIO_ID_RNG,
	.num_queues = 1,
	.queue_max = VIRTIO_RNG_QUEUE_SIZE,
	.features = rng_features,
	.activate = rng_activate,
	.reset = rng_reset,
	.queue_notify = rng_notify,
};

int virtio_rng_create(const struct dev_host *host, struct virtio_rng **out, struct skiff_err *e)
{
	if (!host || !host->mem || !host->loop)
		return skiff_fail(e, EINVAL, "virtio-rng: needs guest memory and an I/O loop");
	struct virtio_rng *r = calloc(1, sizeof(*r));
	if (!r)
		return skiff_fail(e, ENOMEM, "virtio-rng: out of memory");
	r->host = host;
	r->rl.timer_fd = -1;
	int ret = virtio_device_init(&r->vd, &rng_ops, r, host, NULL, 0);
	if (ret < 0) {
		free(r);
		return skiff_fail(e, -ret, "virtio-rng: device init: %s", strerror(-ret));
	}
	*out = r;
	return 0;
}

int virtio_rng_set_rate_limit(struct virtio_rng *r, const struct skiff_rate_limit *cfg,
			      struct skiff_err *e)
{
	if (r->limited)
		return skiff_fail(e, EBUSY, "virtio-rng: rate limit already set");
	int ret = rl_init(&r->rl, cfg, e);
	if (ret < 0)
		return ret;
	if (rl_unlimited(&r->rl))
		return 0;
	ret = evloop_add(r->host->loop, r->rl.timer_fd, EPOLLIN, rng_timer, r);
	if (ret < 0) {
		rl_destroy(&r->rl);
		r->rl.timer_fd = -1;
		return skiff_fail(e, -ret, "virtio-rng: watching the rate-limit timer: %s",
				  strerror(-ret));
	}
	r->limited = true;
	return 0;
}

struct virtio_device *virtio_rng_vdev(struct virtio_rng *r)
{
	return &r->vd;
}

struct rng_snap {
	struct virtio_rng *r;
	struct virtio_rng_counters *out;
};

static void snap_counters(void *opaque)
{
	struct rng_snap *s = opaque;
	*s->out = s->r->cnt;
}

void virtio_rng_counters(struct virtio_rng *r, struct virtio_rng_counters *out)
{
	struct rng_snap s = { r, out };
	if (evloop_call(r->host->loop, snap_counters, &s) < 0)
		snap_counters(&s);
}

static void quiesce(void *opaque)
{
	struct virtio_rng *r = opaque;
	r->active = false;
	if (r->limited)
		evloop_del(r->host->loop, r->rl.timer_fd);
	r->limited = false;
}

void virtio_rng_destroy(struct virtio_rng *r)
{
	if (!r)
		return;
	if (evloop_call(r->host->loop, quiesce, r) < 0)
		quiesce(r);
	if (r->rl.timer_fd >= 0)
		rl_destroy(&r->rl);
	virtio_device_destroy(&r->vd);
	free(r);
}
