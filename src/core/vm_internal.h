/* The VM's own state, shared by vm.c, vcpu.c, vm_devices.c and the PVM
 * layer. Not part of the public API (see vm.h). */
#ifndef SKIFF_VM_INTERNAL_H
#define SKIFF_VM_INTERNAL_H
#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include "core/bus.h"
#include "core/console.h"
#include "core/devhost.h"
#include "core/guest_mem.h"
#include "core/kvm.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/vm.h"
#include "arch/pvm.h"

struct skiff_vm;

/* One vCPU: its fd, its kvm_run page, its thread. Counters are per-vCPU and
 * only written by the vCPU's own thread (relaxed atomic stores, so that the
 * metrics reader sees whole values without a lock on the hot path). */
struct vcpu {
	struct skiff_vm *vm;
	uint32_t id;			/* index == APIC ID */
	int fd;				/* KVM vCPU fd, owned */
	struct kvm_run *run;		/* mmap of fd, run_size bytes */
	pthread_t thread;
	bool thread_started;
	bool live;			/* thread in its run loop (under vm->pause.lock) */
	_Atomic uint64_t exits[SKIFF_VMEXIT_KINDS];	/* core/metrics.h */
	/* The thread's CPU-time clock, read by the metrics reader while the
	 * thread lives; its final value once it ended. Under vm->metrics_lock. */
	clockid_t cpu_clock;
	bool cpu_clock_valid;
	uint64_t cpu_final_ns;
};

struct vm_devices;	/* vm_devices.c */
struct vm_virtio;	/* vm_virtio.c */
struct pci_bus;		/* pci/pci.h */
struct evloop;		/* core/evloop.h */

/* GSIs for MSI routes: VM_MSI_GSI_BASE.. (above the IOAPIC's 24 pins). */
#define VM_MSI_GSI_BASE		24
#define VM_MSI_GSIS		1024

/* One MSI GSI (devhost msi_alloc/msi_route). */
struct vm_msi_route {
	uint64_t addr;
	uint32_t data;
	bool used;		/* allocated */
	bool routed;		/* part of the committed table */
};

/* The VM's interrupt routing (vm.c): the PC-style irqchip routes plus the
 * MSI routes, re-committed as a whole with KVM_SET_GSI_ROUTING under lock;
 * and which of KVM's interrupt/notification capabilities exist. */
struct vm_irq {
	pthread_mutex_t lock;
	struct vm_msi_route msi[VM_MSI_GSIS];	/* GSI VM_MSI_GSI_BASE + index */
	bool has_irqfd, has_resample, has_ioeventfd, has_signal_msi;
};

/* Pause state (vm_pause.c). The vCPU threads park on `cond` while
 * `requested`; the pauser waits there until parked == live. op_lock is
 * taken before lock and serialises whole pause/resume operations. */
struct vm_pause {
	pthread_mutex_t op_lock;
	pthread_mutex_t lock;		/* the fields below, vcpu.live, vcpu_start */
	pthread_cond_t cond;		/* parked vCPUs; pausers; thread exits */
	_Atomic bool requested;		/* paused, or pausing: vCPUs park */
	uint32_t live;			/* vCPU threads in their run loop */
	uint32_t parked;		/* of those, parked */
	struct kvm_clock_data clock;	/* KVM_GET_CLOCK at pause (kvmclock) */
	bool clock_saved;
	uint64_t paused_at_ns;		/* CLOCK_MONOTONIC at the last pause */
	uint64_t pauses;		/* completed pauses, for logs */
	int wake_efd;			/* eventfd written on pause and resume
					 * (the console thread re-reads the state) */
};

struct skiff_vm {
	struct skiff_config cfg;	/* copy; strings point at owned copies below */
	char *kernel_path, *initrd_path, *cmdline;	/* owned */
	struct skiff_log log;
	struct kvm_sys kvm;
	int vm_fd;			/* owned */
	struct guest_mem mem;
	struct bus pio, mmio;
	struct dev_host host;		/* handed to every device */
	struct vm_devices *devs;	/* owned */
	struct pci_bus *pci;		/* owned; bus 0 with its host bridge */
	struct evloop *loop;		/* owned; the I/O thread (host.loop) */
	struct vm_virtio *virtio;	/* owned; vm_virtio.c: the virtio devices */
	struct vm_irq irq;		/* GSI routing, see vm.c */
	struct pvm pvm;			/* PVM work-arounds; inert on hardware KVM */
	struct kvm_cpuid2 *cpuid;	/* base CPUID table, owned */
	pthread_t probe_thread;		/* PVM CPUID probe, see vm.c */
	bool probe_started;
	int probe_result;		/* 0 or -errno, with probe_err */
	struct skiff_err probe_err;
	uint32_t ncpus;
	struct vcpu *vcpus;		/* ncpus entries, owned */
	uint64_t entry, zero_page;	/* BSP boot state */

	int stop_efd;			/* eventfd: "someone asked to stop" */
	pthread_mutex_t stop_lock;	/* orders the first stop's reason/code/msg */
	_Atomic int stop_reason;	/* enum vm_stop_reason; first set wins */
	int stop_code;
	char stop_msg[512];
	struct console_escape console;	/* Ctrl-A x detection on console input */
	struct vm_pause pause;		/* vm_pause.c */
	_Atomic bool ran;
	pthread_mutex_t metrics_lock;	/* leaf lock: vcpu cpu_clock fields */
	int metrics_tfd;		/* timerfd for cfg.metrics_fn on the I/O thread; -1 */
};

/* vcpu.c */
int vcpu_create(struct skiff_vm *vm, struct vcpu *v, uint32_t id, struct skiff_err *e);
void vcpu_destroy(struct vcpu *v);
int vcpu_start(struct vcpu *v);		/* spawn the thread; 0 or -errno */
void vcpu_kick(struct vcpu *v);		/* force KVM_RUN to return */
int vcpu_install_kick_signal(void);	/* idempotent */

/* vm_pause.c: set up and free vm->pause (0 or -errno); wake parked vCPUs
 * (after a stop was recorded); park the calling vCPU thread while a pause
 * is requested (returns at resume or stop). */
int vm_pause_init(struct skiff_vm *vm);
void vm_pause_destroy(struct skiff_vm *vm);
void vm_pause_wake(struct skiff_vm *vm);
void vm_pause_park(struct vcpu *v);

/* vm_virtio.c: create the virtio devices the configuration asks for on the
 * VM's PCI bus (called by vm.c after the bus exists), and destroy them
 * (before the bus and the event loop go). */
int vm_virtio_create(struct skiff_vm *vm, struct skiff_err *e);
void vm_virtio_destroy(struct skiff_vm *vm);
/* I/O thread (evloop_call), VM paused: finish block I/O in flight and hand
 * it back to the driver; take nothing new. vm_virtio_resume: look at the
 * queues again. */
void vm_virtio_pause(struct skiff_vm *vm);
void vm_virtio_resume(struct skiff_vm *vm);

/* metrics.c: the periodic metrics timer on the I/O thread (when
 * cfg.metrics_fn is set; 0 or -errno), and its removal. */
int vm_metrics_timer_start(struct skiff_vm *vm, struct skiff_err *e);
void vm_metrics_timer_stop(struct skiff_vm *vm);
/* metrics.c, on a vCPU thread at its start and end: publish its CPU clock. */
void vm_metrics_vcpu_begin(struct vcpu *v);
void vm_metrics_vcpu_end(struct vcpu *v);
/* vm_virtio.c: copy the virtio devices' counters into *out. */
void vm_virtio_metrics(struct skiff_vm *vm, struct skiff_metrics *out);

/* vm.c: stop with an error message (first stop wins). */
void vm_stop_error(struct skiff_vm *vm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void vm_request_stop(struct skiff_vm *vm, enum vm_stop_reason why, int code);

/* vm_devices.c: create the platform devices and register their ranges;
 * serve console input. */
int vm_devices_create(struct skiff_vm *vm, struct skiff_err *e);
void vm_devices_destroy(struct skiff_vm *vm);
/* Feed host console bytes to the guest; returns bytes accepted. */
size_t vm_devices_console_input(struct skiff_vm *vm, const uint8_t *buf, size_t len);
/* eventfd that becomes readable when the guest has drained console input
 * (-1 if none). */
int vm_devices_console_space_fd(struct skiff_vm *vm);
/* The platform devices the buttons press (vm_buttons.c); owned by devs. */
struct i8042 *vm_devices_i8042(struct skiff_vm *vm);
struct acpi_pm *vm_devices_acpi_pm(struct skiff_vm *vm);

#endif
