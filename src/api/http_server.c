/* The HTTP/1.1 server's socket loop (see http_server.h). */
#include "api/http_server.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define IN_SIZE		8192	/* bytes read from a client at a time */
#define ACCEPT_BATCH	16	/* accepts per loop, so that clients are served too */
#define ACCEPT_BACKOFF	100	/* ms without accepting after EMFILE and the like */

struct conn {
	int fd;
	struct http_conn *hc;
	uint64_t last_ms;	/* the last progress; the idle timeout counts from it */
	bool eof;		/* the client sends no more */
	size_t in_off, in_len;	/* in[in_off..in_len): read, not yet parsed */
	char in[IN_SIZE];
};

struct http_server {
	struct http_server_cfg cfg;
	int lfd, efd;		/* listening socket; eventfd that stops the thread */
	pthread_t thread;
	struct conn **conns;	/* n of them, n <= cfg.max_conns */
	unsigned n;
	struct pollfd *pfd;	/* efd, lfd, then one per connection */
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void conn_close(struct conn *k)
{
	close(k->fd);
	http_conn_free(k->hc);
	free(k);
}

static size_t pending(const struct conn *k)
{
	size_t len;
	http_conn_out(k->hc, &len);
	return len;
}

/* Read only when the last read is parsed and the output has room: a client
 * that does not read its answers stops being read from (no unbounded
 * buffering), and its idle timeout runs. */
static bool wants_input(const struct conn *k)
{
	return !k->eof && k->in_off == k->in_len && !http_conn_closing(k->hc) &&
	       !http_conn_out_full(k->hc);
}

/* Send until done or the socket is full (never blocks). false: dead. */
static bool flush(struct conn *k, uint64_t now)
{
	size_t len;
	const char *d;
	while ((d = http_conn_out(k->hc, &len), len)) {
		ssize_t w = send(k->fd, d, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0) {
			http_conn_out_consume(k->hc, (size_t)w);
			k->last_ms = now;
		} else if (w < 0 && errno != EINTR) {
			return errno == EAGAIN || errno == EWOULDBLOCK;
		}
	}
	return true;
}

/* One connection after poll said rev: read, parse, answer, send.
 * false: close it (error, or nothing more to do). */
static bool service(struct conn *k, short rev, uint64_t now)
{
	if (rev & (POLLERR | POLLNVAL))
		return false;
	if ((rev & (POLLIN | POLLHUP)) && wants_input(k)) {
		ssize_t r = recv(k->fd, k->in, sizeof(k->in), MSG_DONTWAIT);
		if (r > 0) {
			k->in_off = 0;
			k->in_len = (size_t)r;
			k->last_ms = now;
		} else if (r == 0) {
			k->eof = true;	/* a partial request is dropped */
		} else if (errno != EAGAIN && errno != EINTR) {
			return false;
		}
	}
	for (;;) {
		if (k->in_off < k->in_len && !http_conn_out_full(k->hc))
			k->in_off += http_conn_feed(k->hc, k->in + k->in_off, k->in_len - k->in_off);
		if (http_conn_closing(k->hc))
			k->in_off = k->in_len;	/* the rest is not to be parsed */
		if (!flush(k, now))
			return false;
		/* Sending made room: parse what is left; else wait for poll. */
		if (k->in_off == k->in_len || http_conn_out_full(k->hc))
			break;
	}
	return pending(k) || (!k->eof && !http_conn_closing(k->hc));
}

static void accept_some(struct http_server *s, uint64_t now, uint64_t *accept_after)
{
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
				*accept_after = now + ACCEPT_BACKOFF;	/* poll would spin */
			return;
		}
		struct conn *k = s->n < s->cfg.max_conns ? calloc(1, sizeof(*k)) : NULL;
		if (k)
			k->hc = http_conn_new(&s->cfg.lim, s->cfg.fn, s->cfg.opaque);
		if (!k || !k->hc) {	/* over the limit (or no memory): closed at once */
			free(k);
			close(fd);
			continue;
		}
		k->fd = fd;
		k->last_ms = now;
		s->conns[s->n++] = k;
	}
}

static bool expired(const struct http_server *s, const struct conn *k, uint64_t now)
{
	return s->cfg.idle_ms && now - k->last_ms >= s->cfg.idle_ms;
}

/* Milliseconds until the first timeout (accept backoff, idle), -1: none. */
static int poll_timeout(const struct http_server *s, uint64_t now, uint64_t accept_after)
{
	uint64_t t = accept_after > now ? accept_after - now : UINT64_MAX;
	for (unsigned i = 0; s->cfg.idle_ms && i < s->n; i++) {
		uint64_t dl = s->conns[i]->last_ms + s->cfg.idle_ms;
		uint64_t left = dl > now ? dl - now : 0;
		if (left < t)
			t = left;
	}
	return t == UINT64_MAX ? -1 : t > INT_MAX ? INT_MAX : (int)t;
}

/* At stop: send what is queued (say the answer to the request that ended
 * the VM) for up to cfg.drain_ms; nothing more is read or parsed. */
static void drain(struct http_server *s)
{
	uint64_t end = now_ms() + s->cfg.drain_ms;
	for (;;) {
		uint64_t now = now_ms();
		nfds_t m = 0;
		for (unsigned i = 0; i < s->n; i++) {
			struct conn *k = s->conns[i];
			if (pending(k) && flush(k, now) && pending(k))
				s->pfd[m++] = (struct pollfd){ .fd = k->fd, .events = POLLOUT };
		}
		if (!m || now >= end)
			return;
		if (poll(s->pfd, m, (int)(end - now)) < 0 && errno != EINTR)
			return;
	}
}

static void *serve(void *arg)
{
	struct http_server *s = arg;
	uint64_t accept_after = 0;
	for (;;) {
		uint64_t now = now_ms();
		struct pollfd *p = s->pfd;
		p[0] = (struct pollfd){ .fd = s->efd, .events = POLLIN };
		p[1] = (struct pollfd){ .fd = now >= accept_after ? s->lfd : -1, .events = POLLIN };
		for (unsigned i = 0; i < s->n; i++) {
			struct conn *k = s->conns[i];
			p[2 + i] = (struct pollfd){ .fd = k->fd, .events = (short)(
				(wants_input(k) ? POLLIN : 0) | (pending(k) ? POLLOUT : 0)) };
		}
		int r = poll(p, 2 + s->n, poll_timeout(s, now, accept_after));
		if (r < 0 && errno != EINTR) {	/* ENOMEM: try again soon */
			nanosleep(&(struct timespec){ .tv_nsec = 10000000 }, NULL);
			continue;
		}
		if (r > 0 && p[0].revents) {
			drain(s);
			return NULL;
		}
		now = now_ms();
		unsigned kept = 0;
		for (unsigned i = 0; i < s->n; i++) {
			struct conn *k = s->conns[i];
			bool keep = true;
			if (r > 0 && p[2 + i].revents)
				keep = service(k, p[2 + i].revents, now);
			if (keep && expired(s, k, now))
				keep = false;
			if (keep)
				s->conns[kept++] = k;
			else
				conn_close(k);
		}
		s->n = kept;
		if (r > 0 && p[1].revents)
			accept_some(s, now, &accept_after);
	}
}

int http_server_start(int lfd, const struct http_server_cfg *cfg, struct http_server **out)
{
	struct http_server *s = calloc(1, sizeof(*s));
	int err = -ENOMEM;
	if (!s)
		goto fail_fd;
	s->cfg = *cfg;
	if (!s->cfg.max_conns)
		s->cfg.max_conns = 1;
	s->lfd = lfd;
	s->conns = calloc(s->cfg.max_conns, sizeof(*s->conns));
	s->pfd = calloc((size_t)s->cfg.max_conns + 2, sizeof(*s->pfd));
	s->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!s->conns || !s->pfd || s->efd < 0)
		goto fail;
	int fl = fcntl(lfd, F_GETFL);
	if (fl < 0 || fcntl(lfd, F_SETFL, fl | O_NONBLOCK)) {
		err = -errno;
		goto fail;
	}
	/* No signals on this thread: they stay with the threads that wait for
	 * them (signalfd, vCPU kicks), and poll sees no EINTR. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int e = pthread_create(&s->thread, NULL, serve, s);
	if (!e)
		pthread_setname_np(s->thread, "skiff-api");	/* in log lines */
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e) {
		err = -e;
		goto fail;
	}
	*out = s;
	return 0;
fail:
	if (s->efd >= 0)
		close(s->efd);
	free(s->pfd);
	free(s->conns);
	free(s);
fail_fd:
	close(lfd);
	return err;
}

void http_server_stop(struct http_server *s)
{
	if (!s)
		return;
	uint64_t one = 1;
	while (write(s->efd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
	pthread_join(s->thread, NULL);
	for (unsigned i = 0; i < s->n; i++)
		conn_close(s->conns[i]);
	close(s->lfd);
	close(s->efd);
	free(s->pfd);
	free(s->conns);
	free(s);
}
