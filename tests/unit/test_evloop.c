/* The per-VM event loop: fd callbacks on the loop thread, synchronous calls,
 * removal from other threads and from inside a callback, stop and restart. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include "core/evloop.h"

struct counter {
	struct evloop *l;
	int fd;
	atomic_int calls;
	atomic_bool on_thread;
	atomic_int busy_ms;		/* sleep this long in the callback */
	atomic_bool in_cb;
	bool del_self;
	int done_fd;			/* eventfd signalled after each callback */
};

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static void signal_fd(int fd)
{
	uint64_t one = 1;
	assert_int_equal(write(fd, &one, 8), 8);
}

/* Wait until fd is readable (at most 5 s) and drain it. */
static bool wait_fd(int fd)
{
	for (int i = 0; i < 5000; i++) {
		uint64_t v;
		if (read(fd, &v, 8) == 8)
			return true;
		sleep_ms(1);
	}
	return false;
}

static void count_cb(void *opaque, uint32_t events)
{
	struct counter *c = opaque;
	atomic_store(&c->in_cb, true);
	uint64_t v;
	ssize_t r = read(c->fd, &v, 8);
	(void)r;
	atomic_store(&c->on_thread, evloop_on_thread(c->l));
	if (atomic_load(&c->busy_ms))
		sleep_ms(atomic_load(&c->busy_ms));
	atomic_fetch_add(&c->calls, 1);
	if (c->del_self)
		assert_int_equal(evloop_del(c->l, c->fd), 0);
	atomic_store(&c->in_cb, false);
	if (events & EPOLLIN)
		signal_fd(c->done_fd);
}

static void setup_counter(struct counter *c, struct evloop *l)
{
	memset(c, 0, sizeof(*c));
	c->l = l;
	c->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	c->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	assert_true(c->fd >= 0 && c->done_fd >= 0);
}

static void teardown_counter(struct counter *c)
{
	close(c->fd);
	close(c->done_fd);
}

static void test_fd_callback_on_loop_thread(void **state)
{
	(void)state;
	struct evloop *l;
	struct skiff_err e;
	struct counter c;
	assert_int_equal(evloop_create(&l, &e), 0);
	setup_counter(&c, l);
	assert_int_equal(evloop_add(l, c.fd, EPOLLIN, count_cb, &c), 0);
	assert_int_equal(evloop_add(l, c.fd, EPOLLIN, count_cb, &c), -EEXIST);
	assert_int_equal(evloop_start(l), 0);
	assert_false(evloop_on_thread(l));
	signal_fd(c.fd);
	assert_true(wait_fd(c.done_fd));
	assert_int_equal(atomic_load(&c.calls), 1);
	assert_true(atomic_load(&c.on_thread));
	/* idle (events 0): no callback */
	assert_int_equal(evloop_mod(l, c.fd, 0), 0);
	signal_fd(c.fd);
	sleep_ms(20);
	assert_int_equal(atomic_load(&c.calls), 1);
	assert_int_equal(evloop_mod(l, c.fd, EPOLLIN), 0);
	assert_true(wait_fd(c.done_fd));
	assert_int_equal(atomic_load(&c.calls), 2);
	assert_int_equal(evloop_del(l, c.fd), 0);
	assert_int_equal(evloop_del(l, c.fd), -ENOENT);
	assert_int_equal(evloop_mod(l, c.fd, EPOLLIN), -ENOENT);
	evloop_destroy(l);
	teardown_counter(&c);
}

struct call_arg {
	struct evloop *l;
	bool on_thread;
	int runs;
};

static void call_fn(void *opaque)
{
	struct call_arg *a = opaque;
	a->on_thread = evloop_on_thread(a->l);
	a->runs++;
}

static void test_call(void **state)
{
	(void)state;
	struct evloop *l;
	assert_int_equal(evloop_create(&l, NULL), 0);
	struct call_arg a = { .l = l };
	/* before start: inline */
	assert_int_equal(evloop_call(l, call_fn, &a), 0);
	assert_int_equal(a.runs, 1);
	assert_false(a.on_thread);
	assert_int_equal(evloop_start(l), 0);
	assert_int_equal(evloop_start(l), 0);	/* already running */
	for (int i = 0; i < 100; i++)
		assert_int_equal(evloop_call(l, call_fn, &a), 0);
	assert_int_equal(a.runs, 101);
	assert_true(a.on_thread);
	evloop_stop(l);
	evloop_stop(l);		/* idempotent */
	/* after stop: inline again */
	assert_int_equal(evloop_call(l, call_fn, &a), 0);
	assert_int_equal(a.runs, 102);
	assert_false(a.on_thread);
	/* restart */
	assert_int_equal(evloop_start(l), 0);
	assert_int_equal(evloop_call(l, call_fn, &a), 0);
	assert_true(a.on_thread);
	evloop_destroy(l);
	evloop_destroy(NULL);
}

/* After evloop_del() returns on another thread, the callback is not running
 * and never runs again, even while its fd stays readable. */
static void test_del_waits_for_running_callback(void **state)
{
	(void)state;
	struct evloop *l;
	struct counter c;
	assert_int_equal(evloop_create(&l, NULL), 0);
	setup_counter(&c, l);
	atomic_store(&c.busy_ms, 50);
	assert_int_equal(evloop_add(l, c.fd, EPOLLIN, count_cb, &c), 0);
	assert_int_equal(evloop_start(l), 0);
	signal_fd(c.fd);
	while (!atomic_load(&c.in_cb))
		sleep_ms(1);
	assert_int_equal(evloop_del(l, c.fd), 0);
	assert_false(atomic_load(&c.in_cb));
	int calls = atomic_load(&c.calls);
	signal_fd(c.fd);	/* readable, but no longer watched */
	sleep_ms(30);
	assert_int_equal(atomic_load(&c.calls), calls);
	evloop_destroy(l);
	teardown_counter(&c);
}

static void test_del_self_and_readd(void **state)
{
	(void)state;
	struct evloop *l;
	struct counter c;
	assert_int_equal(evloop_create(&l, NULL), 0);
	setup_counter(&c, l);
	c.del_self = true;
	assert_int_equal(evloop_add(l, c.fd, EPOLLIN, count_cb, &c), 0);
	assert_int_equal(evloop_start(l), 0);
	signal_fd(c.fd);
	assert_true(wait_fd(c.done_fd));
	assert_int_equal(atomic_load(&c.calls), 1);
	/* the same fd can come back */
	c.del_self = false;
	assert_int_equal(evloop_add(l, c.fd, EPOLLIN, count_cb, &c), 0);
	signal_fd(c.fd);
	assert_true(wait_fd(c.done_fd));
	assert_int_equal(atomic_load(&c.calls), 2);
	/* destroy with a source still registered: dropped, fd not closed */
	evloop_destroy(l);
	signal_fd(c.fd);
	teardown_counter(&c);
}

/* Two sources made ready together; the first deletes the second: the second
 * callback must not run (its event may already be in the same batch). */
struct pair {
	struct evloop *l;
	int fd[2];
	atomic_int calls[2];
};

static void pair_cb0(void *opaque, uint32_t ev)
{
	struct pair *p = opaque;
	uint64_t v;
	ssize_t r = read(p->fd[0], &v, 8);
	(void)r;
	atomic_fetch_add(&p->calls[0], 1);
	evloop_del(p->l, p->fd[1]);
	evloop_del(p->l, p->fd[0]);
}

static void pair_cb1(void *opaque, uint32_t ev)
{
	struct pair *p = opaque;
	uint64_t v;
	ssize_t r = read(p->fd[1], &v, 8);
	(void)r;
	atomic_fetch_add(&p->calls[1], 1);
	evloop_del(p->l, p->fd[1]);
	evloop_del(p->l, p->fd[0]);
}

static void test_del_other_in_same_batch(void **state)
{
	(void)state;
	struct evloop *l;
	struct pair p = { 0 };
	assert_int_equal(evloop_create(&l, NULL), 0);
	p.l = l;
	for (int i = 0; i < 2; i++) {
		p.fd[i] = eventfd(0, EFD_NONBLOCK);
		assert_true(p.fd[i] >= 0);
		signal_fd(p.fd[i]);
	}
	assert_int_equal(evloop_add(l, p.fd[0], EPOLLIN, pair_cb0, &p), 0);
	assert_int_equal(evloop_add(l, p.fd[1], EPOLLIN, pair_cb1, &p), 0);
	assert_int_equal(evloop_start(l), 0);
	for (int i = 0; i < 1000 && atomic_load(&p.calls[0]) + atomic_load(&p.calls[1]) == 0; i++)
		sleep_ms(1);
	sleep_ms(20);
	assert_int_equal(atomic_load(&p.calls[0]) + atomic_load(&p.calls[1]), 1);
	evloop_destroy(l);
	close(p.fd[0]);
	close(p.fd[1]);
}

/* Many threads calling at once, while the loop also serves an fd. */
static void *caller_thread(void *opaque)
{
	struct call_arg *a = opaque;
	for (int i = 0; i < 200; i++)
		evloop_call(a->l, call_fn, a);
	return NULL;
}

static void test_concurrent_calls(void **state)
{
	(void)state;
	struct evloop *l;
	assert_int_equal(evloop_create(&l, NULL), 0);
	assert_int_equal(evloop_start(l), 0);
	struct call_arg a[4];
	pthread_t t[4];
	for (int i = 0; i < 4; i++) {
		a[i] = (struct call_arg){ .l = l };
		assert_int_equal(pthread_create(&t[i], NULL, caller_thread, &a[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(a[i].runs, 200);
	}
	evloop_destroy(l);
}

static void test_bad_args(void **state)
{
	(void)state;
	struct evloop *l;
	assert_int_equal(evloop_create(&l, NULL), 0);
	assert_int_equal(evloop_add(l, -1, EPOLLIN, count_cb, NULL), -EINVAL);
	assert_int_equal(evloop_add(l, 0x7ffffff, EPOLLIN, count_cb, NULL), -EBADF);
	assert_int_equal(evloop_del(l, 5), -ENOENT);
	assert_int_equal(evloop_call(l, NULL, NULL), -EINVAL);
	evloop_destroy(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fd_callback_on_loop_thread),
		cmocka_unit_test(test_call),
		cmocka_unit_test(test_del_waits_for_running_callback),
		cmocka_unit_test(test_del_self_and_readd),
		cmocka_unit_test(test_del_other_in_same_batch),
		cmocka_unit_test(test_concurrent_calls),
		cmocka_unit_test(test_bad_args),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
