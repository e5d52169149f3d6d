/* virtio-net device model (virtio 1.2 §5.1); the contract is in virtio_net.h.
 *
 * Receive path (§5.1.6.3, §5.1.6.4). One frame at a time is "pending":
 * read from the backend into rx_buf (header + frame), charged to the rx
 * rate limiter once, then copied into guest buffers:
 *   - without MRG_RXBUF, into one chain that must hold it all (a chain that
 *     is too small is put back for the next frame, the frame is dropped);
 *   - with MRG_RXBUF, across as many chains as it takes; chains popped and
 *     filled are held (not yet used) until the frame is complete, then
 *     num_buffers is written into the first one's header and all are
 *     pushed. Running out of chains midway keeps them held and the frame
 *     pending until the driver adds buffers.
 * Whenever the device cannot go on (no buffers, throttled) it disables the
 * backend's receive side; the queue notify or the limiter's timerfd
 * resumes it.
 *
 * Transmit path (§5.1.6.2): each chain is parsed by net_tx_parse() (a pure
 * function, fuzzed) into a checked header and a linear frame copy, charged
 * to the tx limiter, and handed to the backend (with the header when the
 * backend takes one). The copy means the guest cannot change the frame
 * after the checks. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include "core/evloop.h"
#include "core/ratelimit.h"
#include "dev/net_backend.h"
#include "dev/virtio_net.h"
#include "dev/virtio_net_hdr.h"
#include "virtio/virtio.h"

#define HDR		VIRTIO_NET_HDR_LEN
#define RX_BUF_SIZE	(HDR + NET_MAX_FRAME)
/* Frames one pass over a queue handles before letting the I/O thread serve
 * others (the other queue, other devices); the rest follows through
 * resume_fd. */
#define NET_BATCH	128

/* feature bits that come in pairs (§5.1.3.1) */
#define F(bit)		(1ULL << (bit))


struct virtio_net {
	struct virtio_device vd;
	const struct dev_host *host;
	struct net_backend *be;
	char name[64];			/* "virtio-net (tap 'tap0')", for logs */
	char ident[40];			/* "tap 'tap0'", for device errors */
	uint8_t mac[6];
	uint8_t config[VIRTIO_NET_CONFIG_LEN];
	struct virtio_net_stats stats;	/* updated with relaxed atomics */
	struct rate_limiter rl_rx, rl_tx;
	bool rl_rx_watched, rl_tx_watched;
	int resume_fd;			/* eventfd: a queue stopped at NET_BATCH */
	bool resume_watched;

	/* I/O thread only */
	bool active;			/* between activate and reset */
	uint64_t features;		/* negotiated */
	bool mrg;			/* MRG_RXBUF negotiated */
	bool be_rx_on;			/* backend receive enabled */
	bool warned_tx, warned_rx;	/* first complaint logged at WARN */
	uint8_t *rx_buf;		/* RX_BUF_SIZE: header + frame */
	size_t rx_len;			/* pending frame incl. header; 0: none */
	size_t rx_off;			/* bytes of it already in held chains */
	bool rx_charged;		/* rate-limit tokens taken for it */
	bool rx_pushed;			/* used entries added since the last interrupt */
	bool resume_rx, resume_tx;	/* a pass stopped at NET_BATCH */
	struct virtq_used *held;		/* queue-size entries */
	uint32_t nheld, held_cap;
	struct virtq_chain *rx_first;	/* first chain of a mergeable frame */
	struct virtq_chain *rx_chain;	/* scratch */
	struct virtq_chain *tx_chain;
	uint8_t *tx_frame;		/* NET_MAX_FRAME */
};

/* NEEDS_RESET raised (by us, or by the core on another thread). */
static bool vd_broken(struct virtio_net *n)
{
	return __atomic_load_n(&n->vd.broken, __ATOMIC_ACQUIRE);
}

#define STAT_ADD(n, field, v) __atomic_fetch_add(&(n)->stats.field, (v), __ATOMIC_RELAXED)

/* --- receive --- */

/* A pass stopped at NET_BATCH: come back after the loop served others. */
static void schedule_resume(struct virtio_net *n, bool *which)
{
	*which = true;
	uint64_t one = 1;
	ssize_t r = write(n->resume_fd, &one, sizeof(one));
	(void)r;	/* EAGAIN: already signalled */
}

static void be_rx(struct virtio_net *n, bool on)
{
	if (n->be_rx_on == on)
		return;
	n->be_rx_on = on;
	n->be->ops->rx_enable(n->be, on);
}

/* Take the next frame from the backend into rx_buf. Returns 1 (pending
 * now), 0 (nothing waiting), 2 (one was dropped: try again), -1 (the
 * backend failed: device error raised). */
static int rx_fetch(struct virtio_net *n)
{
	bool vnet = n->be->vnet_hdr;
	uint8_t *dst = vnet ? n->rx_buf : n->rx_buf + HDR;
	ssize_t r = n->be->ops->recv(n->be, dst, vnet ? RX_BUF_SIZE : RX_BUF_SIZE - HDR);
	if (r == -EAGAIN)
		return 0;
	if (r == -EMSGSIZE) {
		STAT_ADD(n, rx_dropped, 1);
		return 2;
	}
	if (r < 0) {
		STAT_ADD(n, rx_errors, 1);
		be_rx(n, false);
		virtio_device_error(&n->vd, "%s: %s backend receive failed: %s", n->ident, n->be->kind,
				    strerror((int)-r));
		return -1;
	}
	size_t total = vnet ? (size_t)r : (size_t)r + HDR;
	if (!vnet)
		memset(n->rx_buf, 0, HDR);
	if (total < HDR + NET_MIN_FRAME) {
		STAT_ADD(n, rx_dropped, 1);
		return 2;
	}
	struct virtio_net_hdr_v1 h;
	memcpy(&h, n->rx_buf, HDR);
	if (net_rx_hdr_fixup(&h, total - HDR, n->features, 1) < 0) {
		STAT_ADD(n, rx_dropped, 1);
		if (!n->warned_rx) {
			n->warned_rx = true;
			skiff_log(n->host->log, LOG_WARN, "%s: dropping a received frame the guest did "
				  "not negotiate offloads for (flags %#x, gso %#x)", n->name, h.flags,
				  h.gso_type);
		}
		return 2;
	}
	memcpy(n->rx_buf, &h, HDR);
	n->rx_len = total;
	n->rx_off = 0;
	n->rx_charged = false;
	n->nheld = 0;
	return 1;
}

static void rx_done(struct virtio_net *n)
{
	STAT_ADD(n, rx_frames, 1);
	STAT_ADD(n, rx_bytes, n->rx_len - HDR);
	n->rx_len = 0;
	n->nheld = 0;
}

/* Pending frame into one chain (no MRG_RXBUF). 1: consumed (delivered or
 * dropped), 0: no buffer, -1: device error. */
static int rx_deliver_one(struct virtio_net *n, struct virtq *q)
{
	struct virtq_chain *c = n->rx_chain;
	int r = virtq_pop(q, c);
	if (r < 0) {
		virtio_device_error(&n->vd, "%s: receive queue: malformed descriptor chain", n->ident);
		return -1;
	}
	if (r == 0)
		return 0;
	if (c->in_len < n->rx_len) {
		/* §5.1.6.3.1: buffers must hold a whole frame here. Keep the
		 * buffer for a smaller frame; this one is lost. */
		virtq_unpop(q);
		STAT_ADD(n, rx_dropped, 1);
		n->rx_len = 0;
		return 1;
	}
	virtq_chain_write(c, 0, n->rx_buf, n->rx_len);
	if (virtq_push(q, c->head, (uint32_t)n->rx_len) < 0) {
		virtio_device_error(&n->vd, "%s: receive queue: used ring not in RAM", n->ident);
		return -1;
	}
	n->rx_pushed = true;
	rx_done(n);
	return 1;
}

/* Give back the held chains with what they hold, or (with_data false) as
 * empty buffers: the frame is lost. */
static int rx_push_held(struct virtio_net *n, struct virtq *q, bool with_data)
{
	/* One used-index update for all of them: a driver polling the used ring
	 * never sees the first buffer of a merged frame before the rest. */
	if (!with_data)
		for (uint32_t i = 0; i < n->nheld; i++)
			n->held[i].len = 0;
	if (virtq_push_n(q, n->held, n->nheld) < 0) {
		virtio_device_error(&n->vd, "%s: receive queue: used ring not in RAM", n->ident);
		return -1;
	}
	n->rx_pushed = n->rx_pushed || n->nheld;
	n->nheld = 0;
	return 0;
}

/* Pending frame across chains (MRG_RXBUF, §5.1.6.4.2). Same returns. */
static int rx_deliver_mrg(struct virtio_net *n, struct virtq *q)
{
	while (n->rx_off < n->rx_len) {
		if (n->nheld >= n->held_cap || n->nheld >= q->size) {
			/* every buffer the ring can hold is ours and the frame
			 * still does not fit: it never will */
			if (rx_push_held(n, q, false) < 0)
				return -1;
			STAT_ADD(n, rx_dropped, 1);
			n->rx_len = 0;
			return 1;
		}
		struct virtq_chain *c = n->nheld ? n->rx_chain : n->rx_first;
		int r = virtq_pop(q, c);
		if (r < 0) {
			virtio_device_error(&n->vd, "%s: receive queue: malformed descriptor chain", n->ident);
			return -1;
		}
		if (r == 0)
			return 0;	/* keep what we hold; the next notify goes on */
		if (c->in_len < HDR) {
			virtio_device_error(&n->vd, "%s: receive buffer of %llu bytes is smaller than the "
					    "12-byte header (§5.1.6.3.1)", n->ident,
					    (unsigned long long)c->in_len);
			return -1;
		}
		size_t k = n->rx_len - n->rx_off;
		if (k > c->in_len)
			k = (size_t)c->in_len;
		virtq_chain_write(c, 0, n->rx_buf + n->rx_off, k);
		n->held[n->nheld++] = (struct virtq_used){ .head = c->head, .len = (uint32_t)k };
		n->rx_off += k;
	}
	if (n->nheld > 1) {
		uint16_t nb = (uint16_t)n->nheld;	/* <= queue size <= 32768 */
		virtq_chain_write(n->rx_first, offsetof(struct virtio_net_hdr_v1, num_buffers), &nb,
				  sizeof(nb));
	}
	if (rx_push_held(n, q, true) < 0)
		return -1;
	rx_done(n);
	return 1;
}

static void rx_process(struct virtio_net *n)
{
	struct virtq *q = &n->vd.vq[VIRTIO_NET_RXQ];
	if (!n->active || vd_broken(n)) {
		be_rx(n, false);	/* a readable tap must not spin the loop */
		return;
	}
	for (unsigned done = 0;; done++) {
		if (done == NET_BATCH) {
			schedule_resume(n, &n->resume_rx);
			break;
		}
		if (!n->rx_len) {
			int r = rx_fetch(n);
			if (r == 2)
				continue;
			if (r < 0)
				return;
			if (r == 0) {
				be_rx(n, true);		/* rx_ready says when there is more */
				break;
			}
		}
		if (!n->rx_charged) {
			if (!rl_consume(&n->rl_rx, n->rx_len - HDR, rl_now_ns())) {
				STAT_ADD(n, rx_throttled, 1);
				be_rx(n, false);	/* the limiter's timer resumes */
				break;
			}
			n->rx_charged = true;
		}
		int d = n->mrg ? rx_deliver_mrg(n, q) : rx_deliver_one(n, q);
		if (d < 0)
			return;
		if (d == 0) {
			be_rx(n, false);	/* the driver's notify resumes */
			break;
		}
	}
	if (n->rx_pushed) {
		n->rx_pushed = false;
		virtio_queue_interrupt(&n->vd, VIRTIO_NET_RXQ);
	}
}

static void rx_ready(void *opaque)
{
	rx_process(opaque);
}

/* --- transmit --- */

static void tx_process(struct virtio_net *n)
{
	struct virtq *q = &n->vd.vq[VIRTIO_NET_TXQ];
	struct virtq_chain *c = n->tx_chain;
	bool pushed = false;
	int r;
	unsigned done = 0;
	bool stopped = false;
	if (!n->active || vd_broken(n) || n->rl_tx.throttled)
		return;
	/* Notifications off while we work through the ring (virtio 1.2
	 * §2.7.10): a driver adding frames meanwhile need not kick. They come
	 * back on once it is empty, and we look again after that, so no kick
	 * is lost. Stopped early (NET_BATCH, throttled), they stay off: the
	 * resume eventfd or the limiter's timer comes back here. */
again:
	virtq_set_notify(q, false);
	while ((r = virtq_pop(q, c)) == 1) {
		if (done++ == NET_BATCH) {
			virtq_unpop(q);
			schedule_resume(n, &n->resume_tx);
			stopped = true;
			break;
		}
		struct virtio_net_hdr_v1 h;
		size_t len = 0;
		enum net_tx_verdict v = net_tx_parse(c->iov, c->nout, n->features, &h, n->tx_frame, &len);
		if (v == NET_TX_OK) {
			if (!rl_consume(&n->rl_tx, len, rl_now_ns())) {
				virtq_unpop(q);		/* the limiter's timer resumes */
				STAT_ADD(n, tx_throttled, 1);
				stopped = true;
				break;
			}
			struct iovec iov[2] = {
				{ .iov_base = &h, .iov_len = HDR },
				{ .iov_base = n->tx_frame, .iov_len = len },
			};
			bool vnet = n->be->vnet_hdr;
			int s = n->be->ops->send(n->be, vnet ? iov : iov + 1, vnet ? 2 : 1);
			if (s < 0) {
				STAT_ADD(n, tx_errors, 1);
				skiff_log(n->host->log, LOG_DEBUG, "%s: %s backend send: %s", n->name,
					  n->be->kind, strerror(-s));
			} else {
				STAT_ADD(n, tx_frames, 1);
				STAT_ADD(n, tx_bytes, len);
			}
		} else {
			STAT_ADD(n, tx_dropped, 1);
			skiff_log(n->host->log, n->warned_tx ? LOG_DEBUG : LOG_WARN,
				  "%s: dropped a transmitted frame: %s (%llu bytes)", n->name,
				  net_tx_verdict_str(v), (unsigned long long)c->out_len);
			n->warned_tx = true;
		}
		if (virtq_push(q, c->head, 0) < 0) {
			virtio_device_error(&n->vd, "%s: transmit queue: used ring not in RAM", n->ident);
			return;
		}
		pushed = true;
	}
	if (r < 0) {
		virtio_device_error(&n->vd, "%s: transmit queue: malformed descriptor chain", n->ident);
		return;
	}
	if (!stopped && virtq_set_notify(q, true))
		goto again;
	if (pushed)
		virtio_queue_interrupt(&n->vd, VIRTIO_NET_TXQ);
}

static void rl_rx_timer(void *opaque, uint32_t events)
{
	struct virtio_net *n = opaque;
	(void)events;
	rl_timer_ack(&n->rl_rx);
	rx_process(n);
}

static void rl_tx_timer(void *opaque, uint32_t events)
{
	struct virtio_net *n = opaque;
	(void)events;
	rl_timer_ack(&n->rl_tx);
	tx_process(n);
}

static void resume(void *opaque, uint32_t events)
{
	struct virtio_net *n = opaque;
	uint64_t v;
	ssize_t r = read(n->resume_fd, &v, sizeof(v));
	(void)r;
	(void)events;
	bool rx = n->resume_rx, tx = n->resume_tx;
	n->resume_rx = n->resume_tx = false;
	if (tx)
		tx_process(n);
	if (rx)
		rx_process(n);
}

/* --- virtio_ops --- */

static uint64_t net_features(struct virtio_device *vd)
{
	struct virtio_net *n = vd->priv;
	return F(VIRTIO_NET_F_MAC) | F(VIRTIO_NET_F_STATUS) | F(VIRTIO_NET_F_MRG_RXBUF) |
	       n->be->offloads;
}

/* §5.1.3.1: feature dependencies the driver must respect. */
static const char *bad_feature_combo(uint64_t f)
{
	uint64_t guest_gso = F(VIRTIO_NET_F_GUEST_TSO4) | F(VIRTIO_NET_F_GUEST_TSO6) |
			     F(VIRTIO_NET_F_GUEST_UFO);
	uint64_t host_gso = F(VIRTIO_NET_F_HOST_TSO4) | F(VIRTIO_NET_F_HOST_TSO6) |
			    F(VIRTIO_NET_F_HOST_UFO);
	if ((f & guest_gso) && !(f & F(VIRTIO_NET_F_GUEST_CSUM)))
		return "GUEST_TSO/UFO without GUEST_CSUM";
	if ((f & F(VIRTIO_NET_F_GUEST_ECN)) && !(f & (guest_gso & ~F(VIRTIO_NET_F_GUEST_UFO))))
		return "GUEST_ECN without GUEST_TSO4/6";
	if ((f & host_gso) && !(f & F(VIRTIO_NET_F_CSUM)))
		return "HOST_TSO/UFO without CSUM";
	if ((f & F(VIRTIO_NET_F_HOST_ECN)) && !(f & (host_gso & ~F(VIRTIO_NET_F_HOST_UFO))))
		return "HOST_ECN without HOST_TSO4/6";
	if (!(f & F(VIRTIO_F_VERSION_1)))
		return "no VERSION_1 (legacy drivers are not supported)";
	return NULL;
}

static int net_activate(struct virtio_device *vd)
{
	struct virtio_net *n = vd->priv;
	uint64_t f = vd->driver_features;
	const char *why = bad_feature_combo(f);
	if (why) {
		skiff_log(n->host->log, LOG_WARN, "%s: driver features %#llx: %s", n->name,
			  (unsigned long long)f, why);
		return -EINVAL;
	}
	uint32_t qsize = vd->vq[VIRTIO_NET_RXQ].ready ? vd->vq[VIRTIO_NET_RXQ].size : 0;
	if (qsize > n->held_cap) {
		struct virtq_used *h = realloc(n->held, qsize * sizeof(*h));
		if (!h)
			return -ENOMEM;
		n->held = h;
		n->held_cap = qsize;
	}
	if (n->be->ops->set_offloads) {
		int r = n->be->ops->set_offloads(n->be, f);
		if (r < 0) {
			skiff_log(n->host->log, LOG_ERROR, "%s: %s backend: setting offloads: %s", n->name,
				  n->be->kind, strerror(-r));
			return r;
		}
	}
	n->features = f;
	n->mrg = f & F(VIRTIO_NET_F_MRG_RXBUF);
	n->rx_len = 0;
	n->nheld = 0;
	n->active = true;
	/* the core now notifies each ready queue: the receive queue's notify
	 * enables the backend's receive side */
	return 0;
}

static void net_reset(struct virtio_device *vd)
{
	struct virtio_net *n = vd->priv;
	n->active = false;
	be_rx(n, false);
	/* held chains and the pending frame go with the rings */
	n->rx_len = 0;
	n->nheld = 0;
	n->rx_pushed = false;
	n->features = 0;
	n->mrg = false;
	n->resume_rx = n->resume_tx = false;
	rl_timer_ack(&n->rl_rx);
	rl_timer_ack(&n->rl_tx);
	if (n->be->ops->set_offloads)
		n->be->ops->set_offloads(n->be, 0);
}

static void net_queue_notify(struct virtio_device *vd, uint16_t q)
{
	struct virtio_net *n = vd->priv;
	if (q == VIRTIO_NET_RXQ)
		rx_process(n);
	else if (q == VIRTIO_NET_TXQ)
		tx_process(n);
}

static const struct virtio_ops net_ops = {
	.name = "virtio-net",
	.device_id = VIRTIO_ID_NET,
	.num_queues = 2,
	.queue_max = VIRTIO_NET_QUEUE_SIZE,
	.features = net_features,
	.config_write = NULL,		/* §5.1.4: read-only with VERSION_1 */
	.activate = net_activate,
	.reset = net_reset,
	.queue_notify = net_queue_notify,
};

/* --- life cycle --- */

void virtio_net_default_mac(unsigned index, uint8_t mac[6])
{
	const uint8_t base[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
	memcpy(mac, base, 6);
	mac[5] = (uint8_t)(0x56 + index);
}

/* 52:54:00 plus 24 bits of FNV-1a over the backend's identity. */
static void derive_mac(const struct skiff_net_config *c, uint8_t mac[6])
{
	const char *id = c->kind == SKIFF_NET_TAP && c->tap_name ? c->tap_name : "user";
	uint32_t h = 2166136261u;
	for (const char *p = id; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	mac[0] = 0x52;
	mac[1] = 0x54;
	mac[2] = 0x00;
	mac[3] = (uint8_t)(h >> 16);
	mac[4] = (uint8_t)(h >> 8);
	mac[5] = (uint8_t)h;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static int watch_limiter(struct virtio_net *n, struct rate_limiter *rl, evloop_fn fn, bool *watched,
			 struct skiff_err *e)
{
	if (rl->timer_fd < 0)
		return 0;
	int r = evloop_add(n->host->loop, rl->timer_fd, EPOLLIN, fn, n);
	if (r < 0)
		return skiff_fail(e, -r, "%s: rate limiter: event loop: %s", n->name, strerror(-r));
	*watched = true;
	return 0;
}

static void free_net(struct virtio_net *n)
{
	if (n->resume_watched)
		evloop_del(n->host->loop, n->resume_fd);
	if (n->resume_fd >= 0)
		close(n->resume_fd);
	if (n->rl_rx_watched)
		evloop_del(n->host->loop, n->rl_rx.timer_fd);
	if (n->rl_tx_watched)
		evloop_del(n->host->loop, n->rl_tx.timer_fd);
	net_backend_destroy(n->be);
	rl_destroy(&n->rl_rx);
	rl_destroy(&n->rl_tx);
	free(n->held);
	free(n->rx_first);
	free(n->rx_chain);
	free(n->tx_chain);
	free(n->rx_buf);
	free(n->tx_frame);
	free(n);
}

int virtio_net_create(const struct skiff_net_config *c, const struct dev_host *host,
		      struct virtio_net **out, struct skiff_err *e)
{
	if (!host || !host->mem || !host->loop)
		return skiff_fail(e, EINVAL, "virtio-net: needs guest memory and an I/O loop");
	struct virtio_net *n = calloc(1, sizeof(*n));
	if (!n)
		return skiff_fail(e, ENOMEM, "virtio-net: out of memory");
	n->host = host;
	n->rl_rx.timer_fd = n->rl_tx.timer_fd = -1;
	n->resume_fd = -1;
	if (c->kind == SKIFF_NET_TAP)
		snprintf(n->ident, sizeof(n->ident), "tap '%.16s'", c->tap_name ? c->tap_name : "");
	else
		snprintf(n->ident, sizeof(n->ident), "user");
	snprintf(n->name, sizeof(n->name), "virtio-net (%s)", n->ident);
	n->rx_buf = malloc(RX_BUF_SIZE);
	n->tx_frame = malloc(NET_MAX_FRAME);
	n->rx_first = malloc(sizeof(*n->rx_first));
	n->rx_chain = malloc(sizeof(*n->rx_chain));
	n->tx_chain = malloc(sizeof(*n->tx_chain));
	if (!n->rx_buf || !n->tx_frame || !n->rx_first || !n->rx_chain || !n->tx_chain) {
		free_net(n);
		return skiff_fail(e, ENOMEM, "virtio-net: out of memory");
	}
	n->resume_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (n->resume_fd < 0) {
		int err = errno;
		free_net(n);
		return skiff_fail(e, err, "virtio-net: eventfd: %s", strerror(err));
	}
	int r = evloop_add(host->loop, n->resume_fd, EPOLLIN, resume, n);
	if (r < 0) {
		free_net(n);
		return skiff_fail(e, -r, "virtio-net: event loop: %s", strerror(-r));
	}
	n->resume_watched = true;
	r = rl_init(&n->rl_rx, &c->rx, e);
	if (r == 0)
		r = rl_init(&n->rl_tx, &c->tx, e);
	if (r == 0)
		r = watch_limiter(n, &n->rl_rx, rl_rx_timer, &n->rl_rx_watched, e);
	if (r == 0)
		r = watch_limiter(n, &n->rl_tx, rl_tx_timer, &n->rl_tx_watched, e);
	if (r < 0) {
		free_net(n);
		return r;
	}
	struct net_backend_host bh = {
		.loop = host->loop,
		.log = host->log,
		.rx_ready = rx_ready,
		.opaque = n,
		.name = n->name,
	};
	r = net_backend_open(c, &bh, &n->be, e);
	if (r < 0) {
		free_net(n);
		return r;
	}
	if (c->has_mac)
		memcpy(n->mac, c->mac, 6);
	else
		derive_mac(c, n->mac);
	memcpy(n->config, n->mac, 6);
	put16(n->config + 6, VIRTIO_NET_S_LINK_UP);	/* status */
	put16(n->config + 8, 1);			/* max_virtqueue_pairs */
	put16(n->config + 10, 1500);			/* mtu (F_MTU not offered) */
	r = virtio_device_init(&n->vd, &net_ops, n, host, n->config, sizeof(n->config));
	if (r < 0) {
		free_net(n);
		return skiff_fail(e, -r, "%s: virtio device: %s", n->name, strerror(-r));
	}
	*out = n;
	return 0;
}

struct virtio_device *virtio_net_vdev(struct virtio_net *n)
{
	return &n->vd;
}

static void quiesce(void *opaque)
{
	struct virtio_net *n = opaque;
	net_reset(&n->vd);
}

void virtio_net_destroy(struct virtio_net *n)
{
	if (!n)
		return;
	evloop_call(n->host->loop, quiesce, n);
	virtio_device_destroy(&n->vd);
	free_net(n);
}

void virtio_net_get_stats(const struct virtio_net *n, struct virtio_net_stats *out)
{
	const struct virtio_net_stats *s = &n->stats;
	out->rx_frames = __atomic_load_n(&s->rx_frames, __ATOMIC_RELAXED);
	out->rx_bytes = __atomic_load_n(&s->rx_bytes, __ATOMIC_RELAXED);
	out->rx_dropped = __atomic_load_n(&s->rx_dropped, __ATOMIC_RELAXED) +
			  __atomic_load_n(&n->be->dropped, __ATOMIC_RELAXED);
	out->rx_errors = __atomic_load_n(&s->rx_errors, __ATOMIC_RELAXED);
	out->rx_throttled = __atomic_load_n(&s->rx_throttled, __ATOMIC_RELAXED);
	out->tx_frames = __atomic_load_n(&s->tx_frames, __ATOMIC_RELAXED);
	out->tx_bytes = __atomic_load_n(&s->tx_bytes, __ATOMIC_RELAXED);
	out->tx_dropped = __atomic_load_n(&s->tx_dropped, __ATOMIC_RELAXED);
	out->tx_errors = __atomic_load_n(&s->tx_errors, __ATOMIC_RELAXED);
	out->tx_throttled = __atomic_load_n(&s->tx_throttled, __ATOMIC_RELAXED);
}

void virtio_net_mac(const struct virtio_net *n, uint8_t mac[6])
{
	memcpy(mac, n->mac, 6);
}

/* --- run-time rate limits (API PATCH /network-interfaces) ---------------- */

struct net_update {
	struct virtio_net *n;
	const struct skiff_rate_limit_update *rx, *tx;
	struct skiff_err *e;
	int err;
};

static int update_one(struct virtio_net *n, struct rate_limiter *rl,
		      const struct skiff_rate_limit_update *u, evloop_fn fn, bool *watched,
		      struct skiff_err *e)
{
	int r = rl_update(rl, u, rl_now_ns(), e);
	if (r == 0 && !*watched)	/* it had no timer before */
		r = watch_limiter(n, rl, fn, watched, e);
	return r;
}

/* On the I/O thread, where the limiters are used. */
static void do_update(void *opaque)
{
	struct net_update *u = opaque;
	struct virtio_net *n = u->n;
	if (u->rx)
		u->err = update_one(n, &n->rl_rx, u->rx, rl_rx_timer, &n->rl_rx_watched, u->e);
	if (!u->err && u->tx)
		u->err = update_one(n, &n->rl_tx, u->tx, rl_tx_timer, &n->rl_tx_watched, u->e);
}

int virtio_net_update_rate_limits(struct virtio_net *n, const struct skiff_rate_limit_update *rx,
				  const struct skiff_rate_limit_update *tx, struct skiff_err *e)
{
	struct net_update u = { .n = n, .rx = rx, .tx = tx, .e = e };
	int r = evloop_call(n->host->loop, do_update, &u);
	if (r)
		return skiff_fail(e, -r, "%s: I/O thread: %s", n->name, strerror(-r));
	return u.err;
}
