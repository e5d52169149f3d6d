/* Per-VM metrics snapshot and the periodic flush timer (see metrics.h). */
#include "core/metrics.h"
#include "core/evloop.h"
#include "core/vm_internal.h"
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define METRICS_DEFAULT_PERIOD_MS 60000	/* Firecracker flushes every 60 s */

static const char *const vmexit_names[SKIFF_VMEXIT_KINDS] = {
	[SKIFF_VMEXIT_IO_IN] = "exit_io_in",
	[SKIFF_VMEXIT_IO_OUT] = "exit_io_out",
	[SKIFF_VMEXIT_MMIO_READ] = "exit_mmio_read",
	[SKIFF_VMEXIT_MMIO_WRITE] = "exit_mmio_write",
	[SKIFF_VMEXIT_HLT] = "exit_hlt",
	[SKIFF_VMEXIT_SHUTDOWN] = "exit_shutdown",
	[SKIFF_VMEXIT_SYSTEM_EVENT] = "exit_system_event",
	[SKIFF_VMEXIT_FAIL_ENTRY] = "exit_fail_entry",
	[SKIFF_VMEXIT_INTERNAL_ERROR] = "exit_internal_error",
	[SKIFF_VMEXIT_INTR] = "exit_intr",
	[SKIFF_VMEXIT_OTHER] = "exit_other",
	[SKIFF_VMEXIT_EMUL_FIXUP] = "emulation_fixups",
};

const char *skiff_vmexit_name(enum skiff_vmexit k)
{
	return (unsigned)k < SKIFF_VMEXIT_KINDS ? vmexit_names[k] : "exit_unknown";
}

static uint64_t ts_ns(const struct timespec *t)
{
	return (uint64_t)t->tv_sec * 1000000000ULL + (uint64_t)t->tv_nsec;
}

static uint64_t vcpu_time_ns(struct skiff_vm *vm, struct vcpu *v)
{
	pthread_mutex_lock(&vm->metrics_lock);
	uint64_t ns = v->cpu_final_ns;
	struct timespec t;
	if (v->cpu_clock_valid && clock_gettime(v->cpu_clock, &t) == 0)
		ns = ts_ns(&t);
	pthread_mutex_unlock(&vm->metrics_lock);
	return ns;
}

void skiff_vm_metrics(struct skiff_vm *vm, struct skiff_metrics *out)
{
	memset(out, 0, sizeof(*out));
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	out->utc_timestamp_ms = ts_ns(&now) / 1000000;
	if (!vm)
		return;
	out->nvcpus = vm->vcpus ? vm->ncpus : 0;
	for (uint32_t i = 0; i < out->nvcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		for (int k = 0; k < SKIFF_VMEXIT_KINDS; k++)
			out->exits[k] += atomic_load_explicit(&v->exits[k], memory_order_relaxed);
		out->vcpu_time_ns[i] = vcpu_time_ns(vm, v);
	}
	vm_virtio_metrics(vm, out);
}

/* vcpu.c calls these on the vCPU thread at its start and end. */
void vm_metrics_vcpu_begin(struct vcpu *v)
{
	clockid_t c;
	bool ok = pthread_getcpuclockid(pthread_self(), &c) == 0;
	pthread_mutex_lock(&v->vm->metrics_lock);
	v->cpu_clock = c;
	v->cpu_clock_valid = ok;
	pthread_mutex_unlock(&v->vm->metrics_lock);
}

void vm_metrics_vcpu_end(struct vcpu *v)
{
	struct timespec t;
	uint64_t ns = clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t) == 0 ? ts_ns(&t) : 0;
	pthread_mutex_lock(&v->vm->metrics_lock);
	v->cpu_clock_valid = false;	/* the clock dies with the thread */
	if (ns > v->cpu_final_ns)
		v->cpu_final_ns = ns;
	pthread_mutex_unlock(&v->vm->metrics_lock);
}

static void timer_fired(void *opaque, uint32_t events)
{
	struct skiff_vm *vm = opaque;
	uint64_t n;
	if (read(vm->metrics_tfd, &n, sizeof(n)) != (ssize_t)sizeof(n))
		return;		/* spurious: not expired yet */
	vm->cfg.metrics_fn(vm->cfg.metrics_ctx, vm, false);
}

int vm_metrics_timer_start(struct skiff_vm *vm, struct skiff_err *e)
{
	if (!vm->cfg.metrics_fn)
		return 0;
	uint32_t ms = vm->cfg.metrics_period_ms ? vm->cfg.metrics_period_ms
						: METRICS_DEFAULT_PERIOD_MS;
	vm->metrics_tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (vm->metrics_tfd < 0)
		return skiff_fail(e, errno, "metrics timer: %s", strerror(errno));
	struct itimerspec it = {
		.it_interval = { ms / 1000, (long)(ms % 1000) * 1000000 },
		.it_value = { ms / 1000, (long)(ms % 1000) * 1000000 },
	};
	int r = timerfd_settime(vm->metrics_tfd, 0, &it, NULL) < 0 ? -errno : 0;
	if (!r)
		r = evloop_add(vm->loop, vm->metrics_tfd, EPOLLIN, timer_fired, vm);
	if (r)
		return skiff_fail(e, -r, "metrics timer: %s", strerror(-r));
	return 0;
}

void vm_metrics_timer_stop(struct skiff_vm *vm)
{
	if (vm->metrics_tfd < 0)
		return;
	if (vm->loop)
		evloop_del(vm->loop, vm->metrics_tfd);
	close(vm->metrics_tfd);
	vm->metrics_tfd = -1;
}
