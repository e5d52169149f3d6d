/* Per-VM event loop: one thread running epoll, on which device emulation
 * happens (queue notifications arrive as ioeventfds, backends as fds,
 * throttling as timerfds), so a slow disk or network never stalls a vCPU.
 *
 * Callbacks run on the loop thread, one at a time. A callback may add, modify
 * or remove any registration (its own included). Devices that also touch
 * their state from vCPU threads (register accesses) serialise with their own
 * mutex. No globals: each VM owns one struct evloop. */
#ifndef SKIFF_EVLOOP_H
#define SKIFF_EVLOOP_H
#include <stdbool.h>
#include <stdint.h>
#include "core/err.h"

/* Called on the loop thread with the epoll events that fired (EPOLLIN...). */
typedef void (*evloop_fn)(void *opaque, uint32_t events);

struct evloop;		/* opaque; one per VM */

/* Create the loop (no thread yet). Returns 0 and *out, or -errno with a
 * message in *e. */
int evloop_create(struct evloop **out, struct skiff_err *e);
/* Start the loop thread ("skiff-io"). Returns 0 or -errno. */
int evloop_start(struct evloop *l);
/* Stop and join the thread (idempotent; pending calls are run first). */
void evloop_stop(struct evloop *l);
/* Stop if needed and free. Sources still registered are dropped; their fds
 * are not closed (the registrant owns its fds). l may be NULL. */
void evloop_destroy(struct evloop *l);

/* Watch fd (not owned) for `events` (EPOLLIN/EPOLLOUT...; level-triggered).
 * Returns 0, -EEXIST if fd is already registered, or -errno. Thread-safe. */
int evloop_add(struct evloop *l, int fd, uint32_t events, evloop_fn fn, void *opaque);
/* Change the events watched for fd (0: keep registered but idle). */
int evloop_mod(struct evloop *l, int fd, uint32_t events);
/* Stop watching fd. After evloop_del() returns on a thread other than the
 * loop thread, the callback is not running and will not run again. */
int evloop_del(struct evloop *l, int fd);

/* Run fn(opaque) on the loop thread and wait until it has run (runs inline
 * when called on the loop thread or before the thread started). Used to
 * quiesce devices: reset, pause, tear-down. Returns 0 or -errno. */
int evloop_call(struct evloop *l, void (*fn)(void *opaque), void *opaque);

/* Park the loop thread between epoll batches: no fd callback runs until
 * evloop_resume(), while evloop_call() is still served (on the parked
 * thread). Events that arrive meanwhile stay pending (level-triggered) and
 * are handled after resume. Returns once the thread is parked (at once
 * when no thread runs; a thread started later parks before its first
 * batch). Idempotent. -EDEADLK on the loop thread itself. Used by VM pause. */
int evloop_pause(struct evloop *l);
/* Undo evloop_pause (idempotent; no-op when not paused). */
void evloop_resume(struct evloop *l);

/* true when called on l's loop thread. */
bool evloop_on_thread(const struct evloop *l);

#endif
