/* Per-VM event loop: epoll on one thread (see evloop.h).
 *
 * Sources live in a list under l->lock. The epoll data of each registration
 * points at its struct ev_src; a removed source is only marked dead and moved
 * to a graveyard that the loop thread frees between epoll batches, so an
 * event already fetched for it is skipped, never dereferenced after free.
 * A removal from another thread while the loop runs goes through
 * evloop_call(), which is what makes "the callback is not running and will
 * not run again" true when evloop_del() returns. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include "core/evloop.h"

#define EVLOOP_BATCH 32

struct ev_src {
	int fd;
	uint32_t events;
	evloop_fn fn;
	void *opaque;
	bool dead;
	struct ev_src *next;
};

struct ev_call {
	void (*fn)(void *opaque);
	void *opaque;
	bool done;
	struct ev_call *next;
};

enum ev_state { EV_IDLE, EV_RUNNING, EV_STOPPED };

struct evloop {
	int epfd;
	int wake_fd;			/* eventfd: calls pending or stop requested */
	pthread_mutex_t lock;		/* sources, calls, state */
	pthread_cond_t call_done;
	struct ev_src *srcs;		/* live sources */
	struct ev_src *graveyard;	/* removed, freed by the loop between batches */
	struct ev_call *calls, **calls_tail;
	enum ev_state state;
	bool stop;
	bool pause;			/* evloop_pause: park between batches */
	bool parked;			/* the loop thread is parked */
	pthread_cond_t park_cv;		/* wakes the parked thread (calls, resume, stop) */
	bool has_thread;		/* thread created and not yet joined */
	pthread_t thread;
	_Atomic pid_t tid;		/* loop thread's id while it runs, else 0 */
};

int evloop_create(struct evloop **out, struct skiff_err *e)
{
	struct evloop *l = calloc(1, sizeof(*l));
	if (!l)
		return skiff_fail(e, ENOMEM, "event loop: out of memory");
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		int err = errno;
		free(l);
		return skiff_fail(e, err, "event loop: epoll_create1: %s", strerror(err));
	}
	l->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->wake_fd < 0) {
		int err = errno;
		close(l->epfd);
		free(l);
		return skiff_fail(e, err, "event loop: eventfd: %s", strerror(err));
	}
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->wake_fd, &ev) < 0) {
		int err = errno;
		close(l->wake_fd);
		close(l->epfd);
		free(l);
		return skiff_fail(e, err, "event loop: epoll_ctl: %s", strerror(err));
	}
	pthread_mutex_init(&l->lock, NULL);
	pthread_cond_init(&l->call_done, NULL);
	pthread_cond_init(&l->park_cv, NULL);
	l->calls_tail = &l->calls;
	l->state = EV_IDLE;
	*out = l;
	return 0;
}

static void wake(struct evloop *l)
{
	uint64_t one = 1;
	/* EAGAIN means the counter is already non-zero: awake anyway. */
	ssize_t r = write(l->wake_fd, &one, sizeof(one));
	(void)r;
}

/* Run every queued call; l->lock held on entry and exit. */
static void run_calls_locked(struct evloop *l)
{
	while (l->calls) {
		struct ev_call *c = l->calls;
		l->calls = c->next;
		if (!l->calls)
			l->calls_tail = &l->calls;
		pthread_mutex_unlock(&l->lock);
		c->fn(c->opaque);
		pthread_mutex_lock(&l->lock);
		c->done = true;		/* c lives on the caller's stack: last touch */
		pthread_cond_broadcast(&l->call_done);
	}
}

static void free_graveyard_locked(struct evloop *l)
{
	while (l->graveyard) {
		struct ev_src *s = l->graveyard;
		l->graveyard = s->next;
		free(s);
	}
}

/* While paused: serve calls only, until resumed or stopped. l->lock held. */
static void park_locked(struct evloop *l)
{
	if (!l->pause || l->stop)
		return;
	l->parked = true;
	pthread_cond_broadcast(&l->call_done);
	while (l->pause && !l->stop) {
		run_calls_locked(l);
		if (l->pause && !l->stop && !l->calls)
			pthread_cond_wait(&l->park_cv, &l->lock);
	}
	l->parked = false;
}

static void *loop_thread(void *arg)
{
	struct evloop *l = arg;
	struct epoll_event evs[EVLOOP_BATCH];

	atomic_store(&l->tid, gettid());
	for (;;) {
		pthread_mutex_lock(&l->lock);
		free_graveyard_locked(l);
		park_locked(l);
		if (l->stop) {
			run_calls_locked(l);
			l->state = EV_STOPPED;
			atomic_store(&l->tid, 0);
			pthread_cond_broadcast(&l->call_done);
			pthread_mutex_unlock(&l->lock);
			return NULL;
		}
		pthread_mutex_unlock(&l->lock);
		int n = epoll_wait(l->epfd, evs, EVLOOP_BATCH, -1);
		if (n < 0 && errno != EINTR)
			n = 0;	/* cannot happen with valid fds; keep serving calls */
		for (int i = 0; i < n; i++) {
			struct ev_src *s = evs[i].data.ptr;
			if (!s) {
				uint64_t v;
				ssize_t r = read(l->wake_fd, &v, sizeof(v));
				(void)r;
				pthread_mutex_lock(&l->lock);
				run_calls_locked(l);
				pthread_mutex_unlock(&l->lock);
				continue;
			}
			/* s->dead only changes on this thread while running. */
			if (!s->dead)
				s->fn(s->opaque, evs[i].events);
		}
	}
}

int evloop_start(struct evloop *l)
{
	pthread_mutex_lock(&l->lock);
	if (l->state == EV_RUNNING || l->has_thread) {
		pthread_mutex_unlock(&l->lock);
		return l->state == EV_RUNNING ? 0 : -EBUSY;
	}
	l->stop = false;
	l->state = EV_RUNNING;
	int r = pthread_create(&l->thread, NULL, loop_thread, l);
	if (r) {
		l->state = EV_IDLE;
		pthread_mutex_unlock(&l->lock);
		return -r;
	}
	l->has_thread = true;
	pthread_setname_np(l->thread, "skiff-io");
	pthread_mutex_unlock(&l->lock);
	return 0;
}

void evloop_stop(struct evloop *l)
{
	if (!l || evloop_on_thread(l))
		return;		/* the loop cannot join itself */
	pthread_mutex_lock(&l->lock);
	if (!l->has_thread) {
		pthread_mutex_unlock(&l->lock);
		return;
	}
	l->stop = true;
	pthread_t t = l->thread;
	l->has_thread = false;
	pthread_cond_broadcast(&l->park_cv);
	pthread_mutex_unlock(&l->lock);
	wake(l);
	pthread_join(t, NULL);
}

void evloop_destroy(struct evloop *l)
{
	if (!l)
		return;
	evloop_stop(l);
	pthread_mutex_lock(&l->lock);
	free_graveyard_locked(l);
	while (l->srcs) {
		struct ev_src *s = l->srcs;
		l->srcs = s->next;
		free(s);
	}
	pthread_mutex_unlock(&l->lock);
	close(l->wake_fd);
	close(l->epfd);
	pthread_cond_destroy(&l->call_done);
	pthread_cond_destroy(&l->park_cv);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

static struct ev_src *find_locked(struct evloop *l, int fd, struct ev_src ***link)
{
	for (struct ev_src **p = &l->srcs; *p; p = &(*p)->next) {
		if ((*p)->fd == fd) {
			if (link)
				*link = p;
			return *p;
		}
	}
	return NULL;
}

int evloop_add(struct evloop *l, int fd, uint32_t events, evloop_fn fn, void *opaque)
{
	if (fd < 0 || !fn)
		return -EINVAL;
	struct ev_src *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->fd = fd;
	s->events = events;
	s->fn = fn;
	s->opaque = opaque;
	pthread_mutex_lock(&l->lock);
	if (find_locked(l, fd, NULL)) {
		pthread_mutex_unlock(&l->lock);
		free(s);
		return -EEXIST;
	}
	struct epoll_event ev = { .events = events, .data.ptr = s };
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = errno;
		pthread_mutex_unlock(&l->lock);
		free(s);
		return -err;
	}
	s->next = l->srcs;
	l->srcs = s;
	pthread_mutex_unlock(&l->lock);
	return 0;
}

int evloop_mod(struct evloop *l, int fd, uint32_t events)
{
	pthread_mutex_lock(&l->lock);
	struct ev_src *s = find_locked(l, fd, NULL);
	if (!s) {
		pthread_mutex_unlock(&l->lock);
		return -ENOENT;
	}
	struct epoll_event ev = { .events = events, .data.ptr = s };
	int r = epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
	if (!r)
		s->events = events;
	pthread_mutex_unlock(&l->lock);
	return r;
}

struct del_args {
	struct evloop *l;
	int fd;
	int ret;
};

/* Runs on the loop thread, or with no loop thread at all. */
static void del_now(void *opaque)
{
	struct del_args *a = opaque;
	struct evloop *l = a->l;
	struct ev_src **link;
	pthread_mutex_lock(&l->lock);
	struct ev_src *s = find_locked(l, a->fd, &link);
	if (!s) {
		pthread_mutex_unlock(&l->lock);
		a->ret = -ENOENT;
		return;
	}
	*link = s->next;
	/* The fd may already be closed (then the kernel dropped it itself). */
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, a->fd, NULL);
	s->dead = true;
	s->next = l->graveyard;
	l->graveyard = s;
	if (!evloop_on_thread(l))
		free_graveyard_locked(l);	/* no loop thread: no batch holds s */
	pthread_mutex_unlock(&l->lock);
	a->ret = 0;
}

int evloop_del(struct evloop *l, int fd)
{
	struct del_args a = { .l = l, .fd = fd, .ret = 0 };
	int r = evloop_call(l, del_now, &a);
	return r ? r : a.ret;
}

int evloop_call(struct evloop *l, void (*fn)(void *opaque), void *opaque)
{
	if (!fn)
		return -EINVAL;
	if (evloop_on_thread(l)) {
		fn(opaque);
		return 0;
	}
	struct ev_call c = { .fn = fn, .opaque = opaque };
	pthread_mutex_lock(&l->lock);
	if (l->state != EV_RUNNING) {
		pthread_mutex_unlock(&l->lock);
		fn(opaque);	/* no loop thread: nothing can run concurrently */
		return 0;
	}
	*l->calls_tail = &c;
	l->calls_tail = &c.next;
	pthread_cond_broadcast(&l->park_cv);	/* a parked loop serves calls too */
	pthread_mutex_unlock(&l->lock);
	wake(l);
	pthread_mutex_lock(&l->lock);
	while (!c.done)
		pthread_cond_wait(&l->call_done, &l->lock);
	pthread_mutex_unlock(&l->lock);
	return 0;
}

int evloop_pause(struct evloop *l)
{
	if (evloop_on_thread(l))
		return -EDEADLK;
	pthread_mutex_lock(&l->lock);
	l->pause = true;
	pthread_mutex_unlock(&l->lock);
	wake(l);
	pthread_mutex_lock(&l->lock);
	while (l->state == EV_RUNNING && !l->parked)
		pthread_cond_wait(&l->call_done, &l->lock);
	pthread_mutex_unlock(&l->lock);
	return 0;
}

void evloop_resume(struct evloop *l)
{
	pthread_mutex_lock(&l->lock);
	l->pause = false;
	pthread_cond_broadcast(&l->park_cv);
	pthread_mutex_unlock(&l->lock);
}

bool evloop_on_thread(const struct evloop *l)
{
	pid_t t = atomic_load(&((struct evloop *)l)->tid);
	return t != 0 && t == gettid();
}
