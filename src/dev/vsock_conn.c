/* virtio-vsock connections (see vsock_conn.h, virtio_vsock.h): the table
 * keyed by (local port, peer port), the FIFO of connections with something
 * for the guest (rxq), credit in both directions, the host sockets (the
 * CONNECT line, bridging bytes, hang-ups), the listener and the timeouts.
 *
 * Host -> guest: a socket is read only when the guest has credit and an RX
 * buffer is at hand, straight into that buffer. Guest -> host: written
 * straight from the TX buffer; what the socket does not take is kept in a
 * ring of VSOCK_CONN_BUF bytes, which the buf_alloc we advertise never lets
 * overflow (a guest exceeding its credit gets RST). I/O thread only. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include "core/evloop.h"
#include "dev/vsock_conn.h"

/* ---- connection table and rxq ---------------------------------------- */

struct vconn *vsock_conn_find(struct virtio_vsock *vs, uint32_t local, uint32_t peer)
{
	for (unsigned i = 0; i < vs->nconns; i++) {
		struct vconn *c = vs->conns[i];
		if (c->state != CS_LINE && c->local_port == local && c->peer_port == peer)
			return c;
	}
	return NULL;
}

static bool local_port_used(struct virtio_vsock *vs, uint32_t port)
{
	for (unsigned i = 0; i < vs->nconns; i++)
		if (vs->conns[i]->state != CS_LINE && vs->conns[i]->local_port == port)
			return true;
	return false;
}

void vsock_rxq_remove(struct virtio_vsock *vs, struct vconn *c)
{
	if (!c->in_rxq)
		return;
	if (c->rx_prev)
		c->rx_prev->rx_next = c->rx_next;
	else
		vs->rxq_head = c->rx_next;
	if (c->rx_next)
		c->rx_next->rx_prev = c->rx_prev;
	else
		vs->rxq_tail = c->rx_prev;
	c->rx_next = c->rx_prev = NULL;
	c->in_rxq = false;
}

static void rxq_append(struct virtio_vsock *vs, struct vconn *c)
{
	if (c->in_rxq)
		return;
	c->rx_prev = vs->rxq_tail;
	c->rx_next = NULL;
	if (vs->rxq_tail)
		vs->rxq_tail->rx_next = c;
	else
		vs->rxq_head = c;
	vs->rxq_tail = c;
	c->in_rxq = true;
}

/* Bytes we may still send the guest on c (0 when it lies about fwd_cnt). */
static uint32_t peer_credit(const struct vconn *c)
{
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;
	return in_flight > c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

/* Would reading the host socket now be allowed (credit aside)? */
static bool wants_read(const struct vconn *c)
{
	return c->state == CS_OPEN && !c->host_eof && !(c->peer_shut & VSOCK_SHUTDOWN_RCV);
}

static bool has_rx_work(struct vconn *c)
{
	if (c->state == CS_LINE)
		return false;
	if (c->pend)
		return true;
	return wants_read(c) && c->readable && peer_credit(c) > 0;
}

static bool host_bound_pending(const struct vconn *c)
{
	return c->ok_off < c->ok_len || c->buf_len;
}

/* Bring c's epoll interest in line with its state. */
static void conn_watch(struct virtio_vsock *vs, struct vconn *c)
{
	if (!c->registered)
		return;
	uint32_t ev = 0;
	if (c->state == CS_LINE || (wants_read(c) && !c->readable))
		ev |= EPOLLIN;
	if (host_bound_pending(c))
		ev |= EPOLLOUT;
	if (ev != c->watched && evloop_mod(vs->loop, c->fd, ev) == 0)
		c->watched = ev;
}

/* After any change to c: queue it for RX if it has something for the guest
 * (asking for credit when that is all that stops it), fix its epoll set. */
void vsock_conn_sched(struct virtio_vsock *vs, struct vconn *c)
{
	if (peer_credit(c) > 0)
		c->credit_req_sent = false;
	else if (wants_read(c) && c->readable && !c->credit_req_sent)
		c->pend |= PEND_CREDIT_REQUEST;
	if (has_rx_work(c))
		rxq_append(vs, c);
	conn_watch(vs, c);
}

static void conn_close_fd(struct virtio_vsock *vs, struct vconn *c)
{
	if (c->registered)
		evloop_del(vs->loop, c->fd);
	c->registered = false;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static void listener_resume(struct virtio_vsock *vs);

void vsock_conn_free(struct virtio_vsock *vs, struct vconn *c)
{
	conn_close_fd(vs, c);
	vsock_rxq_remove(vs, c);
	for (unsigned i = 0; i < vs->nconns; i++) {
		if (vs->conns[i] == c) {
			vs->conns[i] = vs->conns[--vs->nconns];
			vs->conns[vs->nconns] = NULL;
			break;
		}
	}
	vs->cnt.conns_open = vs->nconns;
	free(c->buf);
	free(c);
	listener_resume(vs);
}

struct vconn *vsock_conn_new(struct virtio_vsock *vs, int fd, enum conn_state st)
{
	if (vs->nconns >= VSOCK_MAX_CONNS)
		return NULL;
	struct vconn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->vs = vs;
	c->fd = fd;
	c->state = st;
	vs->conns[vs->nconns++] = c;
	vs->cnt.conns_open = vs->nconns;
	return c;
}

void vsock_arm_timer(struct virtio_vsock *vs)
{
	uint64_t next = 0;
	for (unsigned i = 0; i < vs->nconns; i++) {
		uint64_t d = vs->conns[i]->deadline_ns;
		if (d && (!next || d < next))
			next = d;
	}
	if (next == vs->timer_at)
		return;
	vs->timer_at = next;
	struct itimerspec its = { 0 };
	if (next) {
		its.it_value.tv_sec = (time_t)(next / 1000000000ull);
		its.it_value.tv_nsec = (long)(next % 1000000000ull);
	}
	timerfd_settime(vs->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* End c with an RST to the guest (when the guest knows the connection),
 * closing the host socket now. */
void vsock_conn_reset(struct virtio_vsock *vs, struct vconn *c)
{
	bool guest_knows = c->state == CS_OPEN ||
			   (c->state == CS_CONNECTING && !(c->pend & PEND_REQUEST));
	if (c->state == CS_DEAD)
		return;
	if (!guest_knows) {
		vsock_conn_free(vs, c);
		return;
	}
	conn_close_fd(vs, c);
	free(c->buf);
	c->buf = NULL;
	c->buf_len = 0;
	c->ok_len = c->ok_off = 0;
	c->state = CS_DEAD;
	c->pend = PEND_RST;
	c->deadline_ns = 0;
	rxq_append(vs, c);
}

void vsock_drop_all(struct virtio_vsock *vs)
{
	while (vs->nconns)
		vsock_conn_free(vs, vs->conns[vs->nconns - 1]);
	vs->rst_len = 0;
	vs->rst_head = 0;
	vs->tx_stalled = false;
	vsock_arm_timer(vs);
}

/* ---- host-bound bytes ---------------------------------------------------- */

/* Copy readable bytes [off, off+len) of `from` into iovecs `out` (at most
 * `max`). Returns the count. */
static int iov_slice(const struct iovec *from, uint32_t n, uint64_t off, uint64_t len,
		     struct iovec *out, int max)
{
	int k = 0;
	for (uint32_t i = 0; i < n && len && k < max; i++) {
		uint64_t l = from[i].iov_len;
		if (off >= l) {
			off -= l;
			continue;
		}
		uint64_t take = l - off < len ? l - off : len;
		out[k].iov_base = (uint8_t *)from[i].iov_base + off;
		out[k].iov_len = (size_t)take;
		k++;
		len -= take;
		off = 0;
	}
	return k;
}

static ssize_t send_iov(int fd, struct iovec *iov, int n)
{
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = (size_t)n };
	ssize_t r;
	do
		r = sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (r < 0 && errno == EINTR);
	return r;
}

/* Bytes that went to the host socket: fwd_cnt moves; tell the guest once it
 * moved enough to matter (§5.10.6.3). */
static void forwarded(struct vconn *c, uint32_t n)
{
	c->fwd_cnt += n;
	if (c->fwd_cnt - c->last_fwd_sent >= CREDIT_UPDATE_STEP && c->state == CS_OPEN)
		c->pend |= PEND_CREDIT_UPDATE;
}

/* Write out what is pending for the host socket. 0 (maybe partly written;
 * EPOLLOUT will continue) or -errno (the connection is broken). Then act on
 * the guest's SHUTDOWN once everything is out. */
int vsock_conn_flush(struct virtio_vsock *vs, struct vconn *c)
{
	if (c->fd < 0)
		return 0;
	while (c->ok_off < c->ok_len) {
		struct iovec v = { c->ok + c->ok_off, (size_t)(c->ok_len - c->ok_off) };
		ssize_t r = send_iov(c->fd, &v, 1);
		if (r < 0)
			return errno == EAGAIN ? 0 : -errno;
		c->ok_off += (uint8_t)r;
	}
	while (c->buf_len) {
		struct iovec v[2];
		uint32_t first = VSOCK_CONN_BUF - c->buf_head;
		if (first > c->buf_len)
			first = c->buf_len;
		v[0] = (struct iovec){ c->buf + c->buf_head, first };
		v[1] = (struct iovec){ c->buf, c->buf_len - first };
		ssize_t r = send_iov(c->fd, v, v[1].iov_len ? 2 : 1);
		if (r < 0)
			return errno == EAGAIN ? 0 : -errno;
		c->buf_head = (uint32_t)((c->buf_head + (uint64_t)r) % VSOCK_CONN_BUF);
		c->buf_len -= (uint32_t)r;
		forwarded(c, (uint32_t)r);
	}
	if (c->state == CS_OPEN && (c->peer_shut & VSOCK_SHUTDOWN_SEND) && !c->shut_wr_done) {
		shutdown(c->fd, SHUT_WR);
		c->shut_wr_done = true;
	}
	(void)vs;
	return 0;
}

/* The guest closed both directions and everything reached the host: answer
 * with RST (what a Linux peer waits for). Returns true if c was reset. */
bool vsock_close_if_done(struct virtio_vsock *vs, struct vconn *c)
{
	if (c->state == CS_OPEN && (c->peer_shut & (VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND)) ==
	    (VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND) && !host_bound_pending(c)) {
		vsock_conn_reset(vs, c);
		return true;
	}
	return false;
}

/* Guest RW payload: readable bytes [VSOCK_HDR_LEN, +len) of vs->chain. */
void vsock_conn_from_guest(struct virtio_vsock *vs, struct vconn *c, uint32_t len)
{
	uint32_t buffered = c->recv_cnt - c->fwd_cnt;	/* == c->buf_len */
	if (len > VSOCK_CONN_BUF - buffered) {
		vs->cnt.credit_violations++;
		vsock_log(vs, LOG_DEBUG, "port %u->%u: guest exceeded its credit", c->peer_port,
		     c->local_port);
		vsock_conn_reset(vs, c);
		return;
	}
	c->recv_cnt += len;
	vs->cnt.tx_bytes += len;
	uint32_t done = 0;
	if (!host_bound_pending(c)) {
		int n = iov_slice(vs->chain.iov, vs->chain.nout, VSOCK_HDR_LEN, len, vs->iov,
				  VIRTQ_MAX_SEGS);
		ssize_t r = send_iov(c->fd, vs->iov, n);
		if (r < 0 && errno != EAGAIN) {
			vsock_conn_reset(vs, c);
			return;
		}
		if (r > 0) {
			done = (uint32_t)r;
			forwarded(c, done);
		}
	}
	if (done < len) {
		if (!c->buf && !(c->buf = malloc(VSOCK_CONN_BUF))) {
			vsock_log(vs, LOG_WARN, "out of memory for a connection buffer");
			vsock_conn_reset(vs, c);
			return;
		}
		uint32_t rest = len - done;
		uint32_t tail = (uint32_t)(((uint64_t)c->buf_head + c->buf_len) % VSOCK_CONN_BUF);
		uint32_t first = VSOCK_CONN_BUF - tail < rest ? VSOCK_CONN_BUF - tail : rest;
		virtq_chain_read(&vs->chain, VSOCK_HDR_LEN + done, c->buf + tail, first);
		virtq_chain_read(&vs->chain, VSOCK_HDR_LEN + done + first, c->buf, rest - first);
		c->buf_len += rest;
	}
}

/* ---- packets to the guest (RX) ---------------------------------------- */

void vsock_fill_hdr(struct virtio_vsock *vs, struct vsock_hdr *h, uint32_t local, uint32_t peer,
		     uint16_t op)
{
	memset(h, 0, sizeof(*h));
	h->src_cid = VSOCK_HOST_CID;
	h->dst_cid = vs->cid;
	h->src_port = local;
	h->dst_port = peer;
	h->type = VSOCK_TYPE_STREAM;
	h->op = op;
}

/* Build c's next packet into vs->chain (writable, >= VSOCK_HDR_LEN bytes).
 * Returns the bytes written, or 0 when c has nothing to send after all. */
uint32_t vsock_conn_emit(struct virtio_vsock *vs, struct vconn *c)
{
	struct vsock_hdr h;
	uint8_t raw[VSOCK_HDR_LEN];
	uint32_t payload = 0;

	for (;;) {
		uint16_t op = 0;
		if (c->pend & PEND_RST) {
			op = VSOCK_OP_RST;
			c->pend = 0;
			vs->cnt.rst_sent++;
		} else if (c->pend & PEND_REQUEST) {
			op = VSOCK_OP_REQUEST;
			c->pend &= ~PEND_REQUEST;
		} else if (c->pend & PEND_RESPONSE) {
			op = VSOCK_OP_RESPONSE;
			c->pend &= ~PEND_RESPONSE;
		} else if (c->pend & PEND_SHUTDOWN) {
			op = VSOCK_OP_SHUTDOWN;
			c->pend &= ~PEND_SHUTDOWN;
		} else if (c->pend & PEND_CREDIT_UPDATE) {
			op = VSOCK_OP_CREDIT_UPDATE;
			c->pend &= ~PEND_CREDIT_UPDATE;
		} else if (c->pend & PEND_CREDIT_REQUEST) {
			op = VSOCK_OP_CREDIT_REQUEST;
			c->pend &= ~PEND_CREDIT_REQUEST;
			c->credit_req_sent = true;
		} else if (wants_read(c) && c->readable && peer_credit(c) > 0) {
			uint64_t room = vs->chain.in_len - VSOCK_HDR_LEN;
			uint32_t max = peer_credit(c);
			if (room < max)
				max = (uint32_t)room;
			if (max > VSOCK_MAX_PAYLOAD)
				max = VSOCK_MAX_PAYLOAD;
			if (!max)
				return 0;
			int n = iov_slice(vs->chain.iov + vs->chain.nout, vs->chain.nin,
					  VSOCK_HDR_LEN, max, vs->iov, VIRTQ_MAX_SEGS);
			struct msghdr m = { .msg_iov = vs->iov, .msg_iovlen = (size_t)n };
			ssize_t r;
			do
				r = recvmsg(c->fd, &m, MSG_DONTWAIT);
			while (r < 0 && errno == EINTR);
			if (r > 0) {
				op = VSOCK_OP_RW;
				payload = (uint32_t)r;
				c->tx_cnt += payload;
				vs->cnt.rx_bytes += payload;
			} else if (r == 0) {
				/* The host side is done sending (and, when it hung
				 * up, receiving): tell the guest, wait for its RST. */
				c->host_eof = true;
				c->shut_flags = VSOCK_SHUTDOWN_SEND | (c->hup ? VSOCK_SHUTDOWN_RCV : 0);
				c->pend |= PEND_SHUTDOWN;
				if (c->hup)
					c->deadline_ns = vsock_now_ns() + VSOCK_CLOSE_TIMEOUT_MS * NS_PER_MS;
				continue;
			} else if (errno == EAGAIN) {
				c->readable = false;
				return 0;
			} else {
				vsock_conn_reset(vs, c);
				continue;
			}
		} else {
			return 0;
		}
		vsock_fill_hdr(vs, &h, c->local_port, c->peer_port, op);
		h.len = payload;
		h.buf_alloc = VSOCK_CONN_BUF;
		h.fwd_cnt = c->fwd_cnt;
		if (op == VSOCK_OP_SHUTDOWN)
			h.flags = c->shut_flags;
		c->last_fwd_sent = c->fwd_cnt;
		vsock_hdr_encode(&h, raw);
		virtq_chain_write(&vs->chain, 0, raw, VSOCK_HDR_LEN);
		return VSOCK_HDR_LEN + payload;
	}
}

bool vsock_conn_register(struct virtio_vsock *vs, struct vconn *c, uint32_t events)
{
	if (evloop_add(vs->loop, c->fd, events, vsock_conn_event, c) < 0) {
		vsock_log(vs, LOG_WARN, "cannot watch a connection socket");
		vsock_conn_reset(vs, c);
		return false;
	}
	c->registered = true;
	c->watched = events;
	return true;
}

/* ---- host sockets --------------------------------------------------------- */

/* Parse "CONNECT <port>\n" (an optional \r before \n). */
static bool parse_connect(const char *s, size_t n, uint32_t *port)
{
	static const char kw[] = "CONNECT ";
	if (n && s[n - 1] == '\r')
		n--;
	if (n <= sizeof(kw) - 1 || memcmp(s, kw, sizeof(kw) - 1))
		return false;
	uint64_t v = 0;
	for (size_t i = sizeof(kw) - 1; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > UINT32_MAX)
			return false;
	}
	*port = (uint32_t)v;
	return true;
}

static uint32_t alloc_local_port(struct virtio_vsock *vs)
{
	for (;;) {
		uint32_t p = vs->next_port++;
		if (vs->next_port < HOST_PORT_BASE)
			vs->next_port = HOST_PORT_BASE;
		if (!local_port_used(vs, p))
			return p;	/* at most VSOCK_MAX_CONNS ports are in use */
	}
}

/* Read the CONNECT line byte by byte (what follows it is for the guest). */
static void conn_read_line(struct virtio_vsock *vs, struct vconn *c)
{
	for (;;) {
		char ch;
		ssize_t r = recv(c->fd, &ch, 1, MSG_DONTWAIT);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return;
		if (r <= 0) {
			vsock_conn_free(vs, c);
			return;
		}
		if (ch != '\n') {
			if (c->line_len == sizeof(c->line)) {
				vs->cnt.bad_connect_lines++;
				vsock_conn_free(vs, c);
				return;
			}
			c->line[c->line_len++] = ch;
			continue;
		}
		uint32_t port;
		if (!parse_connect(c->line, c->line_len, &port)) {
			vs->cnt.bad_connect_lines++;
			vsock_log(vs, LOG_DEBUG, "host client sent a malformed CONNECT line");
			vsock_conn_free(vs, c);
			return;
		}
		c->local_port = alloc_local_port(vs);
		c->peer_port = port;
		c->state = CS_CONNECTING;
		c->pend = PEND_REQUEST;
		vsock_conn_sched(vs, c);
		return;
	}
}

/* The host peer hung up (EPOLLHUP keeps firing, so the socket leaves the
 * loop). What it sent before is still readable: keep reading it as credit
 * allows, then SHUTDOWN both ways. */
static void conn_hup(struct virtio_vsock *vs, struct vconn *c)
{
	if (c->state != CS_OPEN || host_bound_pending(c)) {
		vsock_conn_reset(vs, c);	/* not established, or bytes for it are lost */
		return;
	}
	if (c->registered)
		evloop_del(vs->loop, c->fd);
	c->registered = false;
	c->hup = true;
	c->readable = true;
	if (c->host_eof) {
		c->shut_flags = VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND;
		c->pend |= PEND_SHUTDOWN;
		c->deadline_ns = vsock_now_ns() + VSOCK_CLOSE_TIMEOUT_MS * NS_PER_MS;
	}
	vsock_conn_sched(vs, c);
}

void vsock_conn_event(void *opaque, uint32_t events)
{
	struct vconn *c = opaque;
	struct virtio_vsock *vs = c->vs;

	if (events & EPOLLERR) {
		vsock_conn_reset(vs, c);
	} else if (events & EPOLLHUP) {
		conn_hup(vs, c);
	} else if (c->state == CS_LINE) {
		if (events & EPOLLIN)
			conn_read_line(vs, c);
	} else {
		if ((events & EPOLLOUT) && vsock_conn_flush(vs, c) < 0)
			vsock_conn_reset(vs, c);
		else if (!vsock_close_if_done(vs, c)) {
			if (events & EPOLLIN)
				c->readable = true;
			vsock_conn_sched(vs, c);
		}
	}
	vsock_kick(vs);
}

void vsock_timer_event(void *opaque, uint32_t events)
{
	struct virtio_vsock *vs = opaque;
	uint64_t n;
	ssize_t r = read(vs->timer_fd, &n, sizeof(n));
	(void)r;
	(void)events;
	uint64_t now = vsock_now_ns();
	for (unsigned i = 0; i < vs->nconns;) {
		struct vconn *c = vs->conns[i];
		if (c->deadline_ns && c->deadline_ns <= now) {
			vs->cnt.conns_timed_out++;
			vsock_log(vs, LOG_DEBUG, "connection %u<->%u timed out", c->local_port,
			     c->peer_port);
			c->deadline_ns = 0;
			unsigned before = vs->nconns;
			vsock_conn_reset(vs, c);
			if (vs->nconns < before)
				continue;	/* freed: slot i holds another now */
		}
		i++;
	}
	vs->timer_at = 0;	/* it fired: disarmed */
	vsock_kick(vs);
}

static void listener_set(struct virtio_vsock *vs, bool on)
{
	if (vs->listen_watched && evloop_mod(vs->loop, vs->listen_fd, on ? EPOLLIN : 0) == 0)
		vs->listen_paused = !on;
}

static void listener_resume(struct virtio_vsock *vs)
{
	if (vs->listen_paused)
		listener_set(vs, true);
}

void vsock_listen_event(void *opaque, uint32_t events)
{
	struct virtio_vsock *vs = opaque;
	(void)events;
	for (;;) {
		int fd = accept4(vs->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN) {
				/* EMFILE and friends: the pending connection would
				 * wake us forever; wait for a connection to close. */
				vsock_log(vs, LOG_WARN, "accept on %s: %s", vs->uds_path, strerror(errno));
				listener_set(vs, false);
			}
			break;
		}
		struct vconn *c = vsock_conn_new(vs, fd, CS_LINE);
		if (!c) {
			vs->cnt.conns_over_limit++;
			close(fd);
			continue;
		}
		c->host_init = true;
		c->deadline_ns = vsock_now_ns() + VSOCK_CONNECT_TIMEOUT_MS * NS_PER_MS;
		if (vsock_conn_register(vs, c, EPOLLIN))
			conn_read_line(vs, c);	/* the line may be there already */
	}
	vsock_kick(vs);
}
