/* virtio-vsock device (virtio 1.2 §5.10) bridged to AF_UNIX sockets: see
 * virtio_vsock.h for the host convention and the limits.
 *
 * Everything here runs on the VM's I/O thread: queue notifications, the
 * listener, every connection's socket and the timeout timer are sources on
 * host->loop, so no lock is needed. Connections live in a small array (at
 * most VSOCK_MAX_CONNS), keyed by (local port, peer port); connections with
 * something to send to the guest sit on a FIFO (rxq) that RX buffers are
 * handed to one packet at a time. RSTs answering packets for no connection
 * go through a small ring; when it is full the TX queue waits (unpopped)
 * until RX buffers drain it, so nothing grows without bound.
 *
 * Per connection, host -> guest: the socket is read only when the guest has
 * credit and an RX buffer is at hand, straight into that buffer; guest ->
 * host: written straight from the TX buffer, the rest kept in a ring of
 * VSOCK_CONN_BUF bytes that the advertised buf_alloc never lets overflow. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>
#include "core/evloop.h"
#include "dev/vsock_conn.h"

/* The driver set the device up and nothing has broken it since. */
static bool queue_usable(struct virtio_vsock *vs, const struct virtq *q)
{
	return vs->active && q->ready && !__atomic_load_n(&vs->vd.broken, __ATOMIC_ACQUIRE);
}

static void vsock_fail(struct virtio_vsock *vs, const char *why)
{
	vs->active = false;
	vsock_drop_all(vs);
	virtio_device_error(&vs->vd, "virtio-vsock: %s", why);
}

static void process_rx(struct virtio_vsock *vs)
{
	struct virtq *q = &vs->vd.vq[VSOCK_QUEUE_RX];
	bool pushed = false;
	const char *err = NULL;

	if (!queue_usable(vs, q))
		return;
	while (vs->rst_len || vs->rxq_head) {
		int n = virtq_pop(q, &vs->chain);
		if (n == 0)
			break;
		if (n < 0) {
			err = "malformed descriptor chain on the RX queue";
			break;
		}
		if (vs->chain.nout || vs->chain.in_len < VSOCK_HDR_LEN) {
			err = "RX buffer not device-writable or shorter than a header";
			break;
		}
		uint32_t written = 0;
		struct vconn *c = NULL, *deferred = NULL;
		if (vs->rst_len) {
			struct rst_req *r = &vs->rst[vs->rst_head];
			struct vsock_hdr h;
			uint8_t raw[VSOCK_HDR_LEN];
			vsock_fill_hdr(vs, &h, r->local_port, r->peer_port, VSOCK_OP_RST);
			vsock_hdr_encode(&h, raw);
			virtq_chain_write(&vs->chain, 0, raw, VSOCK_HDR_LEN);
			vs->rst_head = (vs->rst_head + 1) % RST_RING;
			vs->rst_len--;
			vs->cnt.rst_sent++;
			written = VSOCK_HDR_LEN;
		}
		while (!written && (c = vs->rxq_head)) {
			written = vsock_conn_emit(vs, c);
			if (!written) {
				/* Nothing after all, or data that does not fit a
				 * header-only buffer: look again after this chain. */
				vsock_rxq_remove(vs, c);
				if (c->state == CS_DEAD && !c->pend) {
					vsock_conn_free(vs, c);
				} else {
					c->rx_next = deferred;
					deferred = c;
				}
			}
		}
		while (deferred) {
			struct vconn *d = deferred;
			deferred = d->rx_next;
			d->rx_next = NULL;
			vsock_conn_sched(vs, d);
		}
		if (!written) {
			virtq_unpop(q);
			break;
		}
		if (virtq_push(q, vs->chain.head, written) < 0) {
			err = "used ring outside guest RAM";
			break;
		}
		pushed = true;
		vs->cnt.rx_packets++;
		if (c) {
			vsock_rxq_remove(vs, c);
			if (c->state == CS_DEAD && !c->pend)
				vsock_conn_free(vs, c);
			else
				vsock_conn_sched(vs, c);	/* back at the tail if more to send */
		}
	}
	if (pushed)
		virtio_queue_interrupt(&vs->vd, VSOCK_QUEUE_RX);
	if (err)
		vsock_fail(vs, err);
}

/* ---- packets from the guest (TX) --------------------------------------- */

static void queue_rst(struct virtio_vsock *vs, const struct vsock_hdr *h)
{
	if (h->op == VSOCK_OP_RST)
		return;		/* never answer an RST */
	struct vconn *c = vsock_conn_find(vs, h->dst_port, h->src_port);
	if (c) {
		vsock_conn_reset(vs, c);
		return;
	}
	/* process_tx() keeps a free slot before taking a packet. */
	struct rst_req *r = &vs->rst[(vs->rst_head + vs->rst_len) % RST_RING];
	r->local_port = h->dst_port;
	r->peer_port = h->src_port;
	vs->rst_len++;
}

/* A guest REQUEST to host port h->dst_port: connect to "<uds_path>_<port>"
 * (§5.10.6.4; Firecracker's guest-initiated convention). AF_UNIX connects
 * complete at once, so this does not block the I/O thread. */
static void guest_connect(struct virtio_vsock *vs, const struct vsock_hdr *h)
{
	if (vs->nconns >= VSOCK_MAX_CONNS) {
		vs->cnt.conns_over_limit++;
		queue_rst(vs, h);
		return;
	}
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", vs->uds_path, h->dst_port);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		vsock_log(vs, LOG_DEBUG, "guest port %u -> host port %u: %s: %s", h->src_port,
		     h->dst_port, sa.sun_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		vs->cnt.conns_refused++;
		queue_rst(vs, h);
		return;
	}
	struct vconn *c = vsock_conn_new(vs, fd, CS_OPEN);
	if (!c) {
		close(fd);
		queue_rst(vs, h);
		return;
	}
	c->local_port = h->dst_port;
	c->peer_port = h->src_port;
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	c->pend = PEND_RESPONSE;
	vs->cnt.conns_guest++;
	if (vsock_conn_register(vs, c, EPOLLIN))
		vsock_conn_sched(vs, c);
}

/* One valid packet from the guest (verdict OK). */
static void handle_pkt(struct virtio_vsock *vs, const struct vsock_hdr *h)
{
	struct vconn *c = vsock_conn_find(vs, h->dst_port, h->src_port);

	if (!c) {
		if (h->op == VSOCK_OP_REQUEST) {
			guest_connect(vs, h);
		} else if (h->op == VSOCK_OP_RST) {
			vs->cnt.rst_received++;
		} else {
			vs->cnt.bad_packets++;
			queue_rst(vs, h);	/* §5.10.6.4: no such connection */
		}
		return;
	}
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	if (h->op == VSOCK_OP_RST) {
		vs->cnt.rst_received++;
		if (c->state == CS_CONNECTING)
			vs->cnt.conns_refused++;
		vsock_conn_free(vs, c);
		return;
	}
	if (c->state == CS_DEAD)
		return;		/* our RST is on its way */
	switch (h->op) {
	case VSOCK_OP_RESPONSE:
		if (c->state != CS_CONNECTING || (c->pend & PEND_REQUEST))
			goto bad;
		c->state = CS_OPEN;
		c->deadline_ns = 0;
		c->readable = true;	/* the client may have written already */
		c->ok_len = (uint8_t)snprintf(c->ok, sizeof(c->ok), "OK %u\n", c->local_port);
		c->ok_off = 0;
		vs->cnt.conns_host++;
		if (vsock_conn_flush(vs, c) < 0) {
			vsock_conn_reset(vs, c);
			return;
		}
		break;
	case VSOCK_OP_RW:
		if (c->state != CS_OPEN || (c->peer_shut & VSOCK_SHUTDOWN_SEND))
			goto bad;
		if (h->len)
			vsock_conn_from_guest(vs, c, h->len);
		if (c->state == CS_DEAD)
			return;
		break;
	case VSOCK_OP_SHUTDOWN:
		if (c->state != CS_OPEN)
			goto bad;
		c->peer_shut |= h->flags & (VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND);
		if (vsock_conn_flush(vs, c) < 0) {
			vsock_conn_reset(vs, c);
			return;
		}
		if (vsock_close_if_done(vs, c))
			return;
		if ((c->peer_shut & (VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND)) ==
		    (VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND) && !c->deadline_ns)
			c->deadline_ns = vsock_now_ns() + VSOCK_CLOSE_TIMEOUT_MS * NS_PER_MS;
		break;
	case VSOCK_OP_CREDIT_UPDATE:
		if (c->state != CS_OPEN)
			goto bad;
		break;
	case VSOCK_OP_CREDIT_REQUEST:
		if (c->state != CS_OPEN)
			goto bad;
		c->pend |= PEND_CREDIT_UPDATE;
		break;
	default:	/* REQUEST on an existing connection */
		goto bad;
	}
	vsock_conn_sched(vs, c);
	return;
bad:
	vs->cnt.bad_packets++;
	vsock_log(vs, LOG_DEBUG, "op %u out of state on port %u->%u: reset", h->op, h->src_port,
	     h->dst_port);
	vsock_conn_reset(vs, c);
}

static void process_tx(struct virtio_vsock *vs)
{
	struct virtq *q = &vs->vd.vq[VSOCK_QUEUE_TX];
	bool pushed = false;
	const char *err = NULL;

	vs->tx_stalled = false;
	if (!queue_usable(vs, q))
		return;
	for (;;) {
		if (vs->rst_len == RST_RING) {
			vs->tx_stalled = true;	/* resumes once RX drains the ring */
			break;
		}
		int n = virtq_pop(q, &vs->chain);
		if (n == 0)
			break;
		if (n < 0) {
			err = "malformed descriptor chain on the TX queue";
			break;
		}
		uint8_t raw[VSOCK_HDR_LEN];
		struct vsock_hdr h;
		uint64_t got = virtq_chain_read(&vs->chain, 0, raw, sizeof(raw));
		enum vsock_verdict v = vsock_hdr_parse(raw, (size_t)got, vs->chain.out_len, vs->cid,
						       &h);
		vs->cnt.tx_packets++;
		if (v == VSOCK_PKT_OK) {
			handle_pkt(vs, &h);
		} else {
			vs->cnt.bad_packets++;
			vsock_log(vs, LOG_DEBUG, "dropped a guest packet: %s", vsock_verdict_str(v));
			if (v != VSOCK_PKT_SHORT && v != VSOCK_PKT_SPOOFED && v != VSOCK_PKT_BAD_DST)
				queue_rst(vs, &h);
		}
		if (virtq_push(q, vs->chain.head, 0) < 0) {
			err = "used ring outside guest RAM";
			break;
		}
		pushed = true;
	}
	if (pushed)
		virtio_queue_interrupt(&vs->vd, VSOCK_QUEUE_TX);
	if (err)
		vsock_fail(vs, err);
}

/* Run both queues until neither can make progress. */
void vsock_kick(struct virtio_vsock *vs)
{
	do {
		process_tx(vs);
		process_rx(vs);
	} while (vs->active && vs->tx_stalled && vs->rst_len < RST_RING);
	vsock_arm_timer(vs);
}

/* ---- virtio_ops ------------------------------------------------------------ */

static struct virtio_vsock *to_vs(struct virtio_device *vd) { return vd->priv; }

static uint64_t vsock_features(struct virtio_device *vd)
{
	(void)vd;
	return 1ull << VIRTIO_VSOCK_F_STREAM;	/* §5.10.3; no SEQPACKET */
}

static int vsock_activate(struct virtio_device *vd)
{
	/* The core kicks every ready queue next (virtio.h). */
	to_vs(vd)->active = true;
	return 0;
}

static void vsock_reset(struct virtio_device *vd)
{
	struct virtio_vsock *vs = to_vs(vd);
	vs->active = false;
	vsock_drop_all(vs);
}

static void vsock_notify(struct virtio_device *vd, uint16_t q)
{
	/* The event queue only holds buffers for TRANSPORT_RESET (§5.10.6.6),
	 * which skiff sends on no occasion yet. */
	if (q == VSOCK_QUEUE_RX || q == VSOCK_QUEUE_TX)
		vsock_kick(to_vs(vd));
}

static const struct virtio_ops vsock_ops = {
	.name = "virtio-vsock",
	.device_id = VIRTIO_ID_VSOCK,
	.num_queues = 3,
	.queue_max = VSOCK_QUEUE_SIZE,
	.features = vsock_features,
	.activate = vsock_activate,
	.reset = vsock_reset,
	.queue_notify = vsock_notify,
};

/* ---- creation ------------------------------------------------------------- */

/* Bind and listen on path, removing a stale socket file first. */
static int open_listener(const char *path, struct skiff_err *e)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	memcpy(sa.sun_path, path, strlen(path) + 1);

	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return skiff_fail(e, EEXIST, "vsock: %s exists and is not a socket", path);
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe < 0)
			return skiff_fail(e, errno, "vsock: socket: %s", strerror(errno));
		int r = connect(probe, (struct sockaddr *)&sa, sizeof(sa));
		int err = errno;
		close(probe);
		if (r == 0)
			return skiff_fail(e, EADDRINUSE, "vsock: %s is in use by another process",
					  path);
		if (err != ECONNREFUSED)
			return skiff_fail(e, err, "vsock: probing %s: %s", path, strerror(err));
		if (unlink(path) < 0 && errno != ENOENT)
			return skiff_fail(e, errno, "vsock: removing stale %s: %s", path,
					  strerror(errno));
	} else if (errno != ENOENT) {
		return skiff_fail(e, errno, "vsock: %s: %s", path, strerror(errno));
	}

	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return skiff_fail(e, errno, "vsock: socket: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = errno;
		close(fd);
		if (err == ENOENT)
			return skiff_fail(e, err, "vsock: the directory of %s does not exist", path);
		return skiff_fail(e, err, "vsock: bind %s: %s", path, strerror(err));
	}
	if (listen(fd, 64) < 0) {
		int err = errno;
		close(fd);
		unlink(path);
		return skiff_fail(e, err, "vsock: listen on %s: %s", path, strerror(err));
	}
	return fd;
}

int virtio_vsock_create(const struct skiff_vsock_config *cfg, const struct dev_host *host,
			struct virtio_vsock **out, struct skiff_err *e)
{
	if (!host || !host->mem || !host->loop)
		return skiff_fail(e, EINVAL, "vsock: needs guest memory and an I/O loop");
	if (!cfg || cfg->guest_cid < 3 || cfg->guest_cid == UINT32_MAX)
		return skiff_fail(e, EINVAL, "vsock: guest CID must be at least 3 (0-2 are reserved)"
			" and below 4294967295, got %u", cfg ? cfg->guest_cid : 0);
	if (!cfg->uds_path || !cfg->uds_path[0])
		return skiff_fail(e, EINVAL, "vsock: uds_path is required");
	/* Room for "<uds_path>_<port>" with a 10-digit port and the NUL. */
	size_t plen = strlen(cfg->uds_path);
	if (plen + 12 > sizeof(((struct sockaddr_un *)0)->sun_path))
		return skiff_fail(e, ENAMETOOLONG, "vsock: uds_path is too long (%zu bytes, at most"
			" %zu so that <uds_path>_<port> fits)", plen,
			sizeof(((struct sockaddr_un *)0)->sun_path) - 12);

	struct virtio_vsock *vs = calloc(1, sizeof(*vs));
	if (!vs)
		return skiff_fail(e, ENOMEM, "vsock: out of memory");
	vs->host = host;
	vs->loop = host->loop;
	vs->cid = cfg->guest_cid;
	vs->next_port = HOST_PORT_BASE;
	vs->listen_fd = -1;
	vs->timer_fd = -1;
	for (int i = 0; i < 8; i++)
		vs->config[i] = (uint8_t)(vs->cid >> (8 * i));
	int ret;
	if (!(vs->uds_path = strdup(cfg->uds_path))) {
		ret = skiff_fail(e, ENOMEM, "vsock: out of memory");
		goto fail;
	}
	vs->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (vs->timer_fd < 0) {
		ret = skiff_fail(e, errno, "vsock: timerfd_create: %s", strerror(errno));
		goto fail;
	}
	ret = virtio_device_init(&vs->vd, &vsock_ops, vs, host, vs->config, sizeof(vs->config));
	if (ret < 0) {
		skiff_fail(e, -ret, "vsock: device init: %s", strerror(-ret));
		goto fail;
	}
	ret = open_listener(vs->uds_path, e);
	if (ret < 0)
		goto fail_vd;
	vs->listen_fd = ret;
	ret = evloop_add(vs->loop, vs->timer_fd, EPOLLIN, vsock_timer_event, vs);
	if (ret == 0) {
		vs->timer_watched = true;
		ret = evloop_add(vs->loop, vs->listen_fd, EPOLLIN, vsock_listen_event, vs);
	}
	if (ret < 0) {
		skiff_fail(e, -ret, "vsock: watching %s: %s", vs->uds_path, strerror(-ret));
		if (vs->timer_watched)
			evloop_del(vs->loop, vs->timer_fd);
		close(vs->listen_fd);
		unlink(vs->uds_path);
		goto fail_vd;
	}
	vs->listen_watched = true;
	*out = vs;
	return 0;
fail_vd:
	virtio_device_destroy(&vs->vd);
fail:
	if (vs->timer_fd >= 0)
		close(vs->timer_fd);
	free(vs->uds_path);
	free(vs);
	return ret;
}

struct virtio_device *virtio_vsock_vdev(struct virtio_vsock *v)
{
	return &v->vd;
}

struct vsock_snap {
	struct virtio_vsock *vs;
	struct virtio_vsock_counters *out;
};

static void snap_counters(void *opaque)
{
	struct vsock_snap *s = opaque;
	*s->out = s->vs->cnt;
}

void virtio_vsock_counters(struct virtio_vsock *v, struct virtio_vsock_counters *out)
{
	struct vsock_snap s = { v, out };
	if (evloop_call(v->loop, snap_counters, &s) < 0)
		snap_counters(&s);
}

static void teardown(void *opaque)
{
	struct virtio_vsock *vs = opaque;
	vs->active = false;
	vsock_drop_all(vs);
	if (vs->listen_watched)
		evloop_del(vs->loop, vs->listen_fd);
	if (vs->timer_watched)
		evloop_del(vs->loop, vs->timer_fd);
	vs->listen_watched = vs->timer_watched = false;
}

void virtio_vsock_destroy(struct virtio_vsock *v)
{
	if (!v)
		return;
	if (evloop_call(v->loop, teardown, v) < 0)
		teardown(v);
	close(v->listen_fd);
	close(v->timer_fd);
	unlink(v->uds_path);
	virtio_device_destroy(&v->vd);
	free(v->uds_path);
	free(v);
}
