/* Pause and resume (see vm.h). Pausing parks every vCPU thread on a
 * condition variable (kicked out of KVM_RUN first), parks the I/O thread
 * after the block I/O in flight has finished, and saves the guest's
 * kvmclock with KVM_GET_CLOCK; resuming puts the clock back with
 * KVM_SET_CLOCK (KVM API §4.56/4.57), so the paused time is not a jump in
 * the guest's clock (as Firecracker and QEMU do), then restarts the I/O
 * thread and the vCPUs. A stop recorded while paused wakes everything and
 * the VM ends as usual. */
#include "core/vm_internal.h"
#include "core/evloop.h"
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static bool stopped(struct skiff_vm *vm)
{
	return atomic_load(&vm->stop_reason) != VM_STOP_NONE;
}

int vm_pause_init(struct skiff_vm *vm)
{
	struct vm_pause *p = &vm->pause;
	pthread_mutex_init(&p->op_lock, NULL);
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->wake_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	return p->wake_efd < 0 ? -errno : 0;
}

void vm_pause_destroy(struct skiff_vm *vm)
{
	struct vm_pause *p = &vm->pause;
	if (p->wake_efd >= 0)
		close(p->wake_efd);
	p->wake_efd = -1;
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	pthread_mutex_destroy(&p->op_lock);
}

void vm_pause_wake(struct skiff_vm *vm)
{
	pthread_mutex_lock(&vm->pause.lock);
	pthread_cond_broadcast(&vm->pause.cond);
	pthread_mutex_unlock(&vm->pause.lock);
}

void vm_pause_park(struct vcpu *v)
{
	struct skiff_vm *vm = v->vm;
	struct vm_pause *p = &vm->pause;
	pthread_mutex_lock(&p->lock);
	p->parked++;
	pthread_cond_broadcast(&p->cond);
	while (atomic_load(&p->requested) && !stopped(vm))
		pthread_cond_wait(&p->cond, &p->lock);
	p->parked--;
	pthread_mutex_unlock(&p->lock);
}

static void notify_console(struct skiff_vm *vm)
{
	uint64_t one = 1;
	if (write(vm->pause.wake_efd, &one, sizeof(one)) < 0) {
		/* EAGAIN: already readable, which is all that matters */
	}
}

static void virtio_pause_cb(void *opaque)
{
	vm_virtio_pause(opaque);
}

static void virtio_resume_cb(void *opaque)
{
	vm_virtio_resume(opaque);
}

static void save_clock(struct skiff_vm *vm)
{
	struct vm_pause *p = &vm->pause;
	memset(&p->clock, 0, sizeof(p->clock));
	p->clock_saved = ioctl(vm->vm_fd, KVM_GET_CLOCK, &p->clock) == 0;
	if (!p->clock_saved)
		skiff_log(&vm->log, LOG_WARN, "pause: KVM_GET_CLOCK: %s (the guest will see "
			  "the paused time)", strerror(errno));
}

static void restore_clock(struct skiff_vm *vm)
{
	struct vm_pause *p = &vm->pause;
	if (!p->clock_saved)
		return;
	/* Only the clock value: flags 0 (no KVM_CLOCK_REALTIME adjustment). */
	struct kvm_clock_data c = { .clock = p->clock.clock };
	if (ioctl(vm->vm_fd, KVM_SET_CLOCK, &c) < 0)
		skiff_log(&vm->log, LOG_WARN, "resume: KVM_SET_CLOCK: %s", strerror(errno));
	p->clock_saved = false;
}

/* op_lock held, not paused yet. */
static int pause_locked(struct skiff_vm *vm)
{
	struct vm_pause *p = &vm->pause;
	uint64_t t0 = mono_ns();
	pthread_mutex_lock(&p->lock);
	atomic_store(&p->requested, true);
	for (uint32_t i = 0; i < vm->ncpus; i++)
		if (vm->vcpus[i].live)
			vcpu_kick(&vm->vcpus[i]);
	/* Threads that exit (a stop) count themselves out of `live`. */
	while (p->parked < p->live)
		pthread_cond_wait(&p->cond, &p->lock);
	pthread_mutex_unlock(&p->lock);
	/* No vCPU runs: no new notifications. Park the I/O thread (it still
	 * serves calls), then finish the block I/O in flight on it. */
	int r = evloop_pause(vm->loop);
	if (r == 0)
		r = evloop_call(vm->loop, virtio_pause_cb, vm);
	save_clock(vm);
	p->paused_at_ns = mono_ns();
	p->pauses++;
	notify_console(vm);
	skiff_log(&vm->log, LOG_DEBUG, "paused in %llu us", (unsigned long long)(p->paused_at_ns - t0) / 1000);
	if (r)
		return r;
	return stopped(vm) ? -ESRCH : 0;
}

static void resume_locked(struct skiff_vm *vm)
{
	struct vm_pause *p = &vm->pause;
	restore_clock(vm);
	evloop_call(vm->loop, virtio_resume_cb, vm);
	evloop_resume(vm->loop);
	pthread_mutex_lock(&p->lock);
	atomic_store(&p->requested, false);
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	notify_console(vm);
	skiff_log(&vm->log, LOG_DEBUG, "resumed after %llu ms paused",
		  (unsigned long long)(mono_ns() - p->paused_at_ns) / 1000000);
}

int skiff_vm_pause(struct skiff_vm *vm)
{
	struct vm_pause *p = &vm->pause;
	int r = 0;
	pthread_mutex_lock(&p->op_lock);
	if (stopped(vm))
		r = -ESRCH;
	else if (!atomic_load(&p->requested))
		r = pause_locked(vm);
	pthread_mutex_unlock(&p->op_lock);
	return r;
}

int skiff_vm_resume(struct skiff_vm *vm)
{
	struct vm_pause *p = &vm->pause;
	int r = 0;
	pthread_mutex_lock(&p->op_lock);
	if (stopped(vm))
		r = -ESRCH;
	else if (atomic_load(&p->requested))
		resume_locked(vm);
	pthread_mutex_unlock(&p->op_lock);
	return r;
}

enum skiff_vm_state skiff_vm_state(struct skiff_vm *vm)
{
	if (stopped(vm))
		return SKIFF_VM_STOPPED;
	if (atomic_load(&vm->pause.requested))
		return SKIFF_VM_PAUSED;
	return atomic_load(&vm->ran) ? SKIFF_VM_RUNNING : SKIFF_VM_CREATED;
}

int skiff_vm_guest_clock(struct skiff_vm *vm, uint64_t *ns)
{
	struct kvm_clock_data c;
	memset(&c, 0, sizeof(c));
	if (ioctl(vm->vm_fd, KVM_GET_CLOCK, &c) < 0)
		return -errno;
	*ns = c.clock;
	return 0;
}

int skiff_vm_read_mem(struct skiff_vm *vm, uint64_t gpa, void *buf, size_t len)
{
	return gm_read(&vm->mem, gpa, buf, len);
}
