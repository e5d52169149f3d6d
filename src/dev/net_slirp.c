/* User-mode networking backend (see net_backend.h) on libslirp, driven from
 * the VM's I/O thread.
 *
 * libslirp expects a poll() loop around it: slirp_pollfds_fill() names the
 * sockets and events it wants and how long it may sleep, poll() runs,
 * slirp_pollfds_poll() handles what became ready. Here that loop is run
 * inside the epoll-based evloop with three descriptors of our own:
 *   - a private epoll set holding slirp's sockets (re-synced after every
 *     fill), registered on the loop: readable when any socket is ready;
 *   - a timerfd armed for the earlier of slirp's poll timeout and its
 *     earliest timer (timer_new/timer_mod, absolute CLOCK_MONOTONIC ms);
 *   - an eventfd "kick", written when slirp queued a frame for the guest or
 *     got input (slirp_input may open sockets that must now be watched).
 * Each of them runs one cycle: poll() the last filled set with timeout 0,
 * slirp_pollfds_poll(), expired timers, slirp_pollfds_fill(), re-sync and
 * re-arm.
 *
 * Frames slirp sends to the guest (send_packet) go to a bounded queue that
 * the device drains with recv(). While the device cannot take frames
 * (rx_enable(false)) slirp's sockets are not read (the private epoll set is
 * idle on the loop), so TCP flow control pushes back on the host peers;
 * timers still run, and frames beyond the queue bound are dropped and
 * counted (be->dropped), as slirp permits ("TCP will retransmit").
 *
 * libslirp keeps process-wide state shared by its instances (its clock
 * `curtime`, the resolv.conf cache), so every call into it takes one
 * process-wide lock: several VMs, each with its I/O thread and its own
 * Slirp, stay correct. No device state lives behind that lock.
 *
 * No offloads: the guest computes its own checksums and never sends GSO
 * frames (the device does not offer CSUM/TSO with this backend). */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include <libslirp.h>
#include "core/evloop.h"
#include "dev/net_backend.h"

#define SLIRP_QUEUE_FRAMES	1024		/* frames waiting for the guest, at most */
#define SLIRP_QUEUE_BYTES	(4u << 20)	/* bytes waiting for the guest, at most */

/* libslirp's own globals (see above). */
static pthread_mutex_t slirp_lib_lock = PTHREAD_MUTEX_INITIALIZER;

struct slirp_timer {
	struct net_slirp *s;
	SlirpTimerCb cb;
	void *cb_opaque;
	int64_t expire_ms;		/* -1: not armed */
	bool due;			/* expired at the start of this cycle */
	struct slirp_timer *next;
};

struct slirp_frame {
	struct slirp_frame *next;
	size_t len;
	uint8_t data[];
};

struct watch {
	int fd;
	uint32_t events;		/* EPOLL* */
};

struct net_slirp {
	struct net_backend be;		/* first: the ops get this */
	Slirp *slirp;
	SlirpCb cb;			/* slirp keeps a pointer to it */
	int epfd, timer_fd, kick_fd;
	bool registered;		/* the three fds are on the loop */
	bool rx_on;
	bool in_cycle;
	/* the last slirp_pollfds_fill(): index = what add_poll returned */
	struct pollfd *pfd;
	size_t npfd, pfd_cap;
	/* what is in epfd now, sorted by fd */
	struct watch *reg;
	size_t nreg, reg_cap;
	struct watch *next_reg;		/* scratch for the re-sync */
	size_t next_cap;
	int64_t poll_deadline_ms;	/* from the last fill; INT64_MAX: none */
	struct slirp_timer *timers;
	struct slirp_frame *q_head, **q_tail;
	size_t q_frames, q_bytes;
};

static struct net_slirp *to_slirp(struct net_backend *be)
{
	return (struct net_slirp *)be;
}

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void kick(struct net_slirp *s)
{
	uint64_t one = 1;
	ssize_t r = write(s->kick_fd, &one, sizeof(one));
	(void)r;	/* EAGAIN: the counter is already non-zero */
}

/* --- libslirp callbacks (called with slirp_lib_lock held) --- */

static ssize_t cb_send_packet(const void *buf, size_t len, void *opaque)
{
	struct net_slirp *s = opaque;
	if (s->q_frames >= SLIRP_QUEUE_FRAMES || s->q_bytes + len > SLIRP_QUEUE_BYTES) {
		__atomic_fetch_add(&s->be.dropped, 1, __ATOMIC_RELAXED);
		return (ssize_t)len;	/* dropped, counted; TCP retransmits */
	}
	struct slirp_frame *f = malloc(sizeof(*f) + len);
	if (!f) {
		__atomic_fetch_add(&s->be.dropped, 1, __ATOMIC_RELAXED);
		return (ssize_t)len;
	}
	f->next = NULL;
	f->len = len;
	memcpy(f->data, buf, len);
	*s->q_tail = f;
	s->q_tail = &f->next;
	s->q_frames++;
	s->q_bytes += len;
	if (s->q_frames == 1)
		kick(s);	/* rx_ready from the loop, never from inside slirp */
	return (ssize_t)len;
}

static void cb_guest_error(const char *msg, void *opaque)
{
	struct net_slirp *s = opaque;
	skiff_log(s->be.host.log, LOG_DEBUG, "%s: user network: guest error: %s", s->be.host.name, msg);
}

static int64_t cb_clock_get_ns(void *opaque)
{
	(void)opaque;
	return mono_ns();
}

static void arm_timer(struct net_slirp *s);

static void *cb_timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
	struct net_slirp *s = opaque;
	struct slirp_timer *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->s = s;
	t->cb = cb;
	t->cb_opaque = cb_opaque;
	t->expire_ms = -1;
	t->next = s->timers;
	s->timers = t;
	return t;
}

static void cb_timer_free(void *timer, void *opaque)
{
	struct net_slirp *s = opaque;
	for (struct slirp_timer **p = &s->timers; *p; p = &(*p)->next) {
		if (*p == timer) {
			*p = (*p)->next;
			free(timer);
			return;
		}
	}
}

static void cb_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
	struct net_slirp *s = opaque;
	struct slirp_timer *t = timer;
	if (!t)
		return;
	t->expire_ms = expire_ms < 0 ? 0 : expire_ms;
	if (!s->in_cycle)
		arm_timer(s);	/* a cycle re-arms when it ends */
}

static void cb_register_poll_fd(int fd, void *opaque)
{
	(void)fd;
	(void)opaque;	/* sockets are picked up by the next fill */
}

static void cb_unregister_poll_fd(int fd, void *opaque)
{
	struct net_slirp *s = opaque;
	/* about to be closed: forget it now (closing would drop it from the
	 * epoll set anyway; the re-sync tolerates both) */
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, fd, NULL);
}

static void cb_notify(void *opaque)
{
	kick(opaque);	/* a socket can take more: run a cycle */
}

/* --- the poll cycle --- */

static int add_poll(int fd, int events, void *opaque)
{
	struct net_slirp *s = opaque;
	if (s->npfd == s->pfd_cap) {
		size_t cap = s->pfd_cap ? 2 * s->pfd_cap : 16;
		struct pollfd *p = realloc(s->pfd, cap * sizeof(*p));
		if (!p)
			return -1;	/* slirp skips this socket this round */
		s->pfd = p;
		s->pfd_cap = cap;
	}
	short ev = 0;
	if (events & SLIRP_POLL_IN)
		ev |= POLLIN;
	if (events & SLIRP_POLL_OUT)
		ev |= POLLOUT;
	if (events & SLIRP_POLL_PRI)
		ev |= POLLPRI;
	s->pfd[s->npfd] = (struct pollfd){ .fd = fd, .events = ev };
	return (int)s->npfd++;
}

static int get_revents(int idx, void *opaque)
{
	struct net_slirp *s = opaque;
	if (idx < 0 || (size_t)idx >= s->npfd)
		return 0;
	short r = s->pfd[idx].revents;
	int ev = 0;
	if (r & POLLIN)
		ev |= SLIRP_POLL_IN;
	if (r & POLLOUT)
		ev |= SLIRP_POLL_OUT;
	if (r & POLLPRI)
		ev |= SLIRP_POLL_PRI;
	if (r & POLLERR)
		ev |= SLIRP_POLL_ERR;
	if (r & POLLHUP)
		ev |= SLIRP_POLL_HUP;
	return ev;
}

static int watch_cmp(const void *a, const void *b)
{
	const struct watch *x = a, *y = b;
	return (x->fd > y->fd) - (x->fd < y->fd);
}

/* Make epfd hold exactly the filled set. Always MOD (or ADD) the wanted
 * fds: a socket slirp closed and a new one that got the same number look
 * alike here, and MOD-or-ADD is right for both. */
static void sync_epoll(struct net_slirp *s)
{
	if (s->next_cap < s->npfd) {
		struct watch *w = realloc(s->next_reg, s->npfd * sizeof(*w));
		if (!w)
			return;		/* keep the old set; the next cycle retries */
		s->next_reg = w;
		s->next_cap = s->npfd;
	}
	size_t n = 0;
	for (size_t i = 0; i < s->npfd; i++) {
		uint32_t ev = 0;
		if (s->pfd[i].events & POLLIN)
			ev |= EPOLLIN;
		if (s->pfd[i].events & POLLOUT)
			ev |= EPOLLOUT;
		if (s->pfd[i].events & POLLPRI)
			ev |= EPOLLPRI;
		s->next_reg[n++] = (struct watch){ .fd = s->pfd[i].fd, .events = ev };
	}
	if (n > 1)
		qsort(s->next_reg, n, sizeof(*s->next_reg), watch_cmp);
	size_t j = 0;
	for (size_t i = 0; i < n; i++) {
		if (i && s->next_reg[i].fd == s->next_reg[i - 1].fd)
			continue;
		/* drop old fds below this one */
		while (j < s->nreg && s->reg[j].fd < s->next_reg[i].fd)
			epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->reg[j++].fd, NULL);
		if (j < s->nreg && s->reg[j].fd == s->next_reg[i].fd)
			j++;
		struct epoll_event ev = { .events = s->next_reg[i].events, .data.fd = s->next_reg[i].fd };
		if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, ev.data.fd, &ev) < 0 && errno == ENOENT)
			epoll_ctl(s->epfd, EPOLL_CTL_ADD, ev.data.fd, &ev);
	}
	while (j < s->nreg)
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->reg[j++].fd, NULL);
	/* swap */
	struct watch *old = s->reg;
	size_t old_cap = s->reg_cap;
	s->reg = s->next_reg;
	s->reg_cap = s->next_cap;
	s->nreg = n;
	s->next_reg = old;
	s->next_cap = old_cap;
}

static void arm_timer(struct net_slirp *s)
{
	int64_t deadline = s->poll_deadline_ms;
	for (struct slirp_timer *t = s->timers; t; t = t->next)
		if (t->expire_ms >= 0 && t->expire_ms < deadline)
			deadline = t->expire_ms;
	struct itimerspec its = { 0 };
	if (deadline != INT64_MAX) {
		if (deadline < 1)
			deadline = 1;	/* 0 would disarm */
		its.it_value.tv_sec = deadline / 1000;
		its.it_value.tv_nsec = (deadline % 1000) * 1000000L;
	}
	timerfd_settime(s->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* One round of libslirp's poll loop; see the top of the file. */
static void cycle(struct net_slirp *s, bool sockets)
{
	int poll_err = 0;
	if (sockets && s->npfd) {
		if (poll(s->pfd, s->npfd, 0) < 0)
			poll_err = 1;
	} else {
		for (size_t i = 0; i < s->npfd; i++)
			s->pfd[i].revents = 0;
	}
	pthread_mutex_lock(&slirp_lib_lock);
	s->in_cycle = true;
	slirp_pollfds_poll(s->slirp, poll_err, get_revents, s);
	int64_t now_ms = mono_ns() / 1000000;
	/* Run each timer due now once. A callback may create, free or re-arm
	 * any timer: rescan from the head after each; one re-armed for the
	 * past runs in the next cycle, not in a loop here. */
	for (struct slirp_timer *t = s->timers; t; t = t->next)
		t->due = t->expire_ms >= 0 && t->expire_ms <= now_ms;
	for (bool again = true; again;) {
		again = false;
		for (struct slirp_timer *t = s->timers; t; t = t->next) {
			if (t->due) {
				t->due = false;
				t->expire_ms = -1;
				t->cb(t->cb_opaque);
				again = true;
				break;
			}
		}
	}
	s->npfd = 0;
	uint32_t timeout = UINT32_MAX;
	slirp_pollfds_fill(s->slirp, &timeout, add_poll, s);
	s->in_cycle = false;
	pthread_mutex_unlock(&slirp_lib_lock);
	s->poll_deadline_ms = timeout == UINT32_MAX ? INT64_MAX : mono_ns() / 1000000 + timeout;
	sync_epoll(s);
	arm_timer(s);
	if (s->q_frames && s->rx_on)
		s->be.host.rx_ready(s->be.host.opaque);
}

static void on_sockets(void *opaque, uint32_t events)
{
	(void)events;
	cycle(opaque, true);
}

static void on_timer(void *opaque, uint32_t events)
{
	struct net_slirp *s = opaque;
	uint64_t n;
	ssize_t r = read(s->timer_fd, &n, sizeof(n));
	(void)r;
	(void)events;
	/* while the guest cannot take frames, leave the sockets alone */
	cycle(s, s->rx_on);
}

static void on_kick(void *opaque, uint32_t events)
{
	struct net_slirp *s = opaque;
	uint64_t n;
	ssize_t r = read(s->kick_fd, &n, sizeof(n));
	(void)r;
	(void)events;
	cycle(s, s->rx_on);
}

/* --- backend ops --- */

static int slirp_send(struct net_backend *be, const struct iovec *iov, int iovcnt)
{
	struct net_slirp *s = to_slirp(be);
	const uint8_t *pkt = iov[0].iov_base;
	size_t len = iov[0].iov_len;
	uint8_t *lin = NULL;
	if (iovcnt > 1) {
		len = 0;
		for (int i = 0; i < iovcnt; i++)
			len += iov[i].iov_len;
		lin = malloc(len ? len : 1);
		if (!lin)
			return -ENOMEM;
		size_t off = 0;
		for (int i = 0; i < iovcnt; i++) {
			memcpy(lin + off, iov[i].iov_base, iov[i].iov_len);
			off += iov[i].iov_len;
		}
		pkt = lin;
	}
	if (len > INT32_MAX) {
		free(lin);
		return -EMSGSIZE;
	}
	pthread_mutex_lock(&slirp_lib_lock);
	slirp_input(s->slirp, pkt, (int)len);
	pthread_mutex_unlock(&slirp_lib_lock);
	free(lin);
	kick(s);	/* new sockets to watch, maybe replies queued */
	return 0;
}

static ssize_t slirp_recv(struct net_backend *be, void *buf, size_t len)
{
	struct net_slirp *s = to_slirp(be);
	struct slirp_frame *f = s->q_head;
	if (!f)
		return -EAGAIN;
	s->q_head = f->next;
	if (!s->q_head)
		s->q_tail = &s->q_head;
	s->q_frames--;
	s->q_bytes -= f->len;
	ssize_t n = (ssize_t)f->len;
	if (f->len > len) {
		n = -EMSGSIZE;
	} else {
		memcpy(buf, f->data, f->len);
	}
	free(f);
	return n;
}

static void slirp_rx_enable(struct net_backend *be, bool on)
{
	struct net_slirp *s = to_slirp(be);
	if (s->rx_on == on)
		return;
	s->rx_on = on;
	evloop_mod(be->host.loop, s->epfd, on ? EPOLLIN : 0);
	if (on)
		kick(s);	/* catch up on sockets and queued frames */
}

static void slirp_destroy(struct net_backend *be)
{
	struct net_slirp *s = to_slirp(be);
	struct evloop *l = be->host.loop;
	if (s->registered) {
		evloop_del(l, s->epfd);
		evloop_del(l, s->timer_fd);
		evloop_del(l, s->kick_fd);
	}
	if (s->slirp) {
		pthread_mutex_lock(&slirp_lib_lock);
		slirp_cleanup(s->slirp);	/* frees its timers through timer_free */
		pthread_mutex_unlock(&slirp_lib_lock);
	}
	while (s->timers) {
		struct slirp_timer *t = s->timers;
		s->timers = t->next;
		free(t);
	}
	while (s->q_head) {
		struct slirp_frame *f = s->q_head;
		s->q_head = f->next;
		free(f);
	}
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->timer_fd >= 0)
		close(s->timer_fd);
	if (s->kick_fd >= 0)
		close(s->kick_fd);
	free(s->pfd);
	free(s->reg);
	free(s->next_reg);
	free(s);
}

static const struct net_backend_ops slirp_ops = {
	.send = slirp_send,
	.recv = slirp_recv,
	.rx_enable = slirp_rx_enable,
	.set_offloads = NULL,
	.destroy = slirp_destroy,
};

/* 10.0.2.0/24 as QEMU's -netdev user; IPv6 fec0::/64 likewise. */
#define NET_ADDR	0x0a000200u
#define NET_MASK	0xffffff00u
#define HOST_ADDR	0x0a000202u
#define DNS_ADDR	0x0a000203u
#define DHCP_ADDR	0x0a00020fu

static void fmt_ip(char *buf, size_t n, uint32_t host_order)
{
	struct in_addr a = { .s_addr = htonl(host_order) };
	inet_ntop(AF_INET, &a, buf, (socklen_t)n);
}

static int add_hostfwd(struct net_slirp *s, const struct skiff_hostfwd *f, struct skiff_err *e)
{
	char ha[INET_ADDRSTRLEN], ga[INET_ADDRSTRLEN];
	uint32_t guest = f->guest_addr ? f->guest_addr : DHCP_ADDR;
	fmt_ip(ha, sizeof(ha), f->host_addr);
	fmt_ip(ga, sizeof(ga), guest);
	const char *proto = f->udp ? "udp" : "tcp";
	const char *name = s->be.host.name;
	if (!f->host_port || !f->guest_port)
		return skiff_fail(e, EINVAL, "%s: hostfwd %s %s:%u -> %s:%u: ports must not be 0",
				  name, proto, ha, f->host_port, ga, f->guest_port);
	if ((guest & NET_MASK) != NET_ADDR || guest == HOST_ADDR || guest == DNS_ADDR ||
	    guest == NET_ADDR || guest == (NET_ADDR | ~NET_MASK))
		return skiff_fail(e, EINVAL, "%s: hostfwd %s %s:%u -> %s:%u: the guest address must "
				  "be a guest's in 10.0.2.0/24 (10.0.2.15 by DHCP)",
				  name, proto, ha, f->host_port, ga, f->guest_port);
	struct in_addr h = { .s_addr = htonl(f->host_addr) }, g = { .s_addr = htonl(guest) };
	pthread_mutex_lock(&slirp_lib_lock);
	errno = 0;
	int r = slirp_add_hostfwd(s->slirp, f->udp, h, f->host_port, g, f->guest_port);
	int err = errno ? errno : EADDRINUSE;
	pthread_mutex_unlock(&slirp_lib_lock);
	if (r < 0)
		return skiff_fail(e, err, "%s: hostfwd %s %s:%u -> %s:%u: %s", name, proto, ha,
				  f->host_port, ga, f->guest_port, strerror(err));
	return 0;
}

int net_slirp_open(const struct skiff_net_config *c, const struct net_backend_host *h,
		   struct net_backend **out, struct skiff_err *e)
{
	if (c->nhostfwd > SKIFF_MAX_HOSTFWD)
		return skiff_fail(e, EINVAL, "%s: %u port forwards (at most %d)", h->name,
				  c->nhostfwd, SKIFF_MAX_HOSTFWD);
	struct net_slirp *s = calloc(1, sizeof(*s));
	if (!s)
		return skiff_fail(e, ENOMEM, "%s: user network: out of memory", h->name);
	s->be.ops = &slirp_ops;
	s->be.kind = "user";
	s->be.vnet_hdr = false;
	s->be.offloads = 0;
	s->be.host = *h;
	s->q_tail = &s->q_head;
	s->poll_deadline_ms = INT64_MAX;
	s->epfd = s->timer_fd = s->kick_fd = -1;
	int r;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epfd < 0) {
		r = skiff_fail(e, errno, "%s: user network: epoll_create1: %s", h->name, strerror(errno));
		goto fail;
	}
	s->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	s->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->timer_fd < 0 || s->kick_fd < 0) {
		r = skiff_fail(e, errno, "%s: user network: %s", h->name, strerror(errno));
		goto fail;
	}

	s->cb = (SlirpCb){
		.send_packet = cb_send_packet,
		.guest_error = cb_guest_error,
		.clock_get_ns = cb_clock_get_ns,
		.timer_new = cb_timer_new,
		.timer_free = cb_timer_free,
		.timer_mod = cb_timer_mod,
		.register_poll_fd = cb_register_poll_fd,
		.unregister_poll_fd = cb_unregister_poll_fd,
		.notify = cb_notify,
	};
	SlirpConfig cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.version = SLIRP_CONFIG_VERSION_MAX < 4 ? SLIRP_CONFIG_VERSION_MAX : 4;
	cfg.restricted = 0;
	cfg.in_enabled = true;
	cfg.vnetwork.s_addr = htonl(NET_ADDR);
	cfg.vnetmask.s_addr = htonl(NET_MASK);
	cfg.vhost.s_addr = htonl(HOST_ADDR);
	cfg.vdhcp_start.s_addr = htonl(DHCP_ADDR);
	cfg.vnameserver.s_addr = htonl(DNS_ADDR);
	cfg.in6_enabled = true;
	inet_pton(AF_INET6, "fec0::", &cfg.vprefix_addr6);
	cfg.vprefix_len = 64;
	inet_pton(AF_INET6, "fec0::2", &cfg.vhost6);
	inet_pton(AF_INET6, "fec0::3", &cfg.vnameserver6);
	pthread_mutex_lock(&slirp_lib_lock);
	s->slirp = slirp_new(&cfg, &s->cb, s);
	pthread_mutex_unlock(&slirp_lib_lock);
	if (!s->slirp) {
		r = skiff_fail(e, ENOMEM, "%s: user network: slirp_new failed", h->name);
		goto fail;
	}
	for (uint32_t i = 0; i < c->nhostfwd; i++) {
		r = add_hostfwd(s, &c->hostfwd[i], e);
		if (r < 0)
			goto fail;
	}
	/* the socket set starts idle (receive disabled); timer and kick run */
	r = evloop_add(h->loop, s->epfd, 0, on_sockets, s);
	if (r == 0) {
		r = evloop_add(h->loop, s->timer_fd, EPOLLIN, on_timer, s);
		if (r < 0)
			evloop_del(h->loop, s->epfd);
	}
	if (r == 0) {
		r = evloop_add(h->loop, s->kick_fd, EPOLLIN, on_kick, s);
		if (r < 0) {
			evloop_del(h->loop, s->epfd);
			evloop_del(h->loop, s->timer_fd);
		}
	}
	if (r < 0) {
		r = skiff_fail(e, -r, "%s: user network: event loop: %s", h->name, strerror(-r));
		goto fail;
	}
	s->registered = true;
	kick(s);	/* first fill: hostfwd listeners get watched */
	*out = &s->be;
	return 0;
fail:
	slirp_destroy(&s->be);
	return r;
}
