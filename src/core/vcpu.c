/* vCPU threads and the run loop: one thread per vCPU calls KVM_RUN and
 * dispatches each exit (KVM API document §5 "The kvm_run structure"). */
#include "core/vm_internal.h"
#include "arch/x86.h"
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

/* The signal that knocks a vCPU thread out of KVM_RUN. Its handler does
 * nothing; the point is the EINTR. */
#define VCPU_KICK_SIGNAL (SIGRTMIN + 3)

static void kick_handler(int sig)
{
	(void)sig;
}

int vcpu_install_kick_signal(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler;	/* no SA_RESTART: we want EINTR */
	sigemptyset(&sa.sa_mask);
	return sigaction(VCPU_KICK_SIGNAL, &sa, NULL) < 0 ? -errno : 0;
}

int vcpu_create(struct skiff_vm *vm, struct vcpu *v, uint32_t id, struct skiff_err *e)
{
	memset(v, 0, sizeof(*v));
	v->vm = vm;
	v->id = id;
	v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (v->fd < 0)
		return skiff_fail(e, errno, "KVM_CREATE_VCPU %u: %s", id, strerror(errno));
	v->run = mmap(NULL, vm->kvm.run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		return skiff_fail(e, errno, "mmap of vCPU %u run area: %s", id, strerror(errno));
	}
	struct kvm_cpuid2 *c = x86_cpuid_for_vcpu(vm->cpuid, id, vm->ncpus);
	if (!c)
		return skiff_fail(e, ENOMEM, "vCPU %u: out of memory for CPUID", id);
	int r = ioctl(v->fd, KVM_SET_CPUID2, c) < 0 ? -errno : 0;
	free(c);
	if (r)
		return skiff_fail(e, -r, "vCPU %u: KVM_SET_CPUID2: %s", id, strerror(-r));
	r = x86_init_vcpu_defaults(v->fd);
	if (r)
		return skiff_fail(e, -r, "vCPU %u: MSR/FPU/LAPIC defaults: %s", id, strerror(-r));
	return 0;
}

void vcpu_destroy(struct vcpu *v)
{
	if (v->run)
		munmap(v->run, v->vm->kvm.run_size);
	if (v->fd >= 0)
		close(v->fd);
	v->run = NULL;
	v->fd = -1;
}

/* Only this vCPU's thread writes its counters: a relaxed load and store
 * (no locked read-modify-write) is enough for readers to see whole values. */
static void count(struct vcpu *v, enum skiff_vmexit k)
{
	uint64_t n = atomic_load_explicit(&v->exits[k], memory_order_relaxed);
	atomic_store_explicit(&v->exits[k], n + 1, memory_order_relaxed);
}

static void handle_pio(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool wr = run->io.direction == KVM_EXIT_IO_OUT;
	/* KVM guarantees data_offset + size * count lies inside the run area. */
	for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size) {
		if (!bus_access(&v->vm->pio, run->io.port, data, run->io.size, wr))
			skiff_log(&v->vm->log, LOG_DEBUG, "vCPU %u: unhandled port %s 0x%x/%u",
				  v->id, wr ? "write" : "read", run->io.port, run->io.size);
	}
}

static void handle_mmio(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint32_t len = run->mmio.len;
	if (len > sizeof(run->mmio.data))
		len = sizeof(run->mmio.data);
	if (!bus_access(&v->vm->mmio, run->mmio.phys_addr, run->mmio.data, len, run->mmio.is_write))
		skiff_log(&v->vm->log, LOG_DEBUG, "vCPU %u: unhandled MMIO %s 0x%llx/%u", v->id,
			  run->mmio.is_write ? "write" : "read", (unsigned long long)run->mmio.phys_addr, len);
}

static void report_regs(struct vcpu *v, const char *what)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	if (ioctl(v->fd, KVM_GET_REGS, &r) < 0 || ioctl(v->fd, KVM_GET_SREGS, &s) < 0) {
		vm_stop_error(v->vm, "vCPU %u: %s", v->id, what);
		return;
	}
	vm_stop_error(v->vm, "vCPU %u: %s (rip=0x%llx rsp=0x%llx cs=0x%x cr0=0x%llx cr3=0x%llx)",
		      v->id, what, (unsigned long long)r.rip, (unsigned long long)r.rsp,
		      s.cs.selector, (unsigned long long)s.cr0, (unsigned long long)s.cr3);
}

/* Handle one exit. Returns false when the vCPU must stop. */
static bool handle_exit(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	char why[256];
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		count(v, run->io.direction == KVM_EXIT_IO_OUT ? SKIFF_VMEXIT_IO_OUT
							      : SKIFF_VMEXIT_IO_IN);
		handle_pio(v);
		return true;
	case KVM_EXIT_MMIO:
		count(v, run->mmio.is_write ? SKIFF_VMEXIT_MMIO_WRITE : SKIFF_VMEXIT_MMIO_READ);
		handle_mmio(v);
		return true;
	case KVM_EXIT_HLT:
		count(v, SKIFF_VMEXIT_HLT);
		return true;
	case KVM_EXIT_INTR:
		count(v, SKIFF_VMEXIT_INTR);
		return true;
	case KVM_EXIT_IRQ_WINDOW_OPEN:
		count(v, SKIFF_VMEXIT_OTHER);
		return true;
	case KVM_EXIT_SHUTDOWN:
		count(v, SKIFF_VMEXIT_SHUTDOWN);
		/* A triple fault (SDM vol. 3 §6.15 "double fault" then shutdown). */
		vm_request_stop(v->vm, VM_STOP_TRIPLE_FAULT, 0);
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		count(v, SKIFF_VMEXIT_SYSTEM_EVENT);
		if (run->system_event.type == KVM_SYSTEM_EVENT_RESET)
			vm_request_stop(v->vm, VM_STOP_RESET, 0);
		else if (run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN)
			vm_request_stop(v->vm, VM_STOP_POWEROFF, 0);
		else
			vm_stop_error(v->vm, "vCPU %u: system event %u", v->id, run->system_event.type);
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		count(v, SKIFF_VMEXIT_INTERNAL_ERROR);
		if (pvm_handle_internal_error(&v->vm->pvm, v->fd, run, &v->vm->mem, why, sizeof(why))) {
			count(v, SKIFF_VMEXIT_EMUL_FIXUP);
			skiff_log(&v->vm->log, LOG_DEBUG, "vCPU %u: worked around: %s", v->id, why);
			return true;
		}
		report_regs(v, why);
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		count(v, SKIFF_VMEXIT_FAIL_ENTRY);
		snprintf(why, sizeof(why), "KVM_RUN entry failed, hardware reason 0x%llx",
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		report_regs(v, why);
		return false;
	default:
		count(v, SKIFF_VMEXIT_OTHER);
		snprintf(why, sizeof(why), "unexpected KVM exit reason %u", run->exit_reason);
		report_regs(v, why);
		return false;
	}
}

/* Before parking: KVM finishes an I/O or MMIO exit only when KVM_RUN is
 * entered again (KVM API §5, "immediate_exit"), so enter it once with
 * immediate_exit set: the exit completes, the guest does not run, and the
 * parked vCPU's state is consistent. A string I/O instruction may exit to
 * us again meanwhile; handle those. Returns false when the vCPU must stop. */
static bool vcpu_settle(struct vcpu *v)
{
	for (;;) {
		__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
		int r = ioctl(v->fd, KVM_RUN, 0);
		v->run->immediate_exit = 0;
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				count(v, SKIFF_VMEXIT_INTR);
				return true;
			}
			vm_stop_error(v->vm, "vCPU %u: KVM_RUN: %s", v->id, strerror(errno));
			return false;
		}
		if (!handle_exit(v))
			return false;
	}
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	struct skiff_vm *vm = v->vm;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	char name[16];
	snprintf(name, sizeof(name), "skiff-vcpu%u", v->id);
	pthread_setname_np(pthread_self(), name);	/* shown in log lines */
	vm_metrics_vcpu_begin(v);
	while (atomic_load(&vm->stop_reason) == VM_STOP_NONE) {
		if (atomic_load(&vm->pause.requested)) {
			if (!vcpu_settle(v))
				break;
			vm_pause_park(v);
			continue;
		}
		int r = ioctl(v->fd, KVM_RUN, 0);
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				count(v, SKIFF_VMEXIT_INTR);
				v->run->immediate_exit = 0;
				continue;
			}
			vm_stop_error(vm, "vCPU %u: KVM_RUN: %s", v->id, strerror(errno));
			break;
		}
		if (!handle_exit(v))
			break;
	}
	vm_metrics_vcpu_end(v);
	pthread_mutex_lock(&vm->pause.lock);
	v->live = false;
	vm->pause.live--;
	pthread_cond_broadcast(&vm->pause.cond);	/* a pauser counts one fewer */
	pthread_mutex_unlock(&vm->pause.lock);
	return NULL;
}

int vcpu_start(struct vcpu *v)
{
	/* The thread starts with the kick signal blocked until it is ready.
	 * Under the pause lock, so that a pauser counts it (it parks at once
	 * when a pause is in effect). */
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	pthread_mutex_lock(&v->vm->pause.lock);
	int r = pthread_create(&v->thread, NULL, vcpu_thread, v);
	if (!r) {
		v->thread_started = true;
		v->live = true;
		v->vm->pause.live++;
	}
	pthread_mutex_unlock(&v->vm->pause.lock);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -r;
}

void vcpu_kick(struct vcpu *v)
{
	if (v->run)
		__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (v->thread_started)
		pthread_kill(v->thread, VCPU_KICK_SIGNAL);
}
