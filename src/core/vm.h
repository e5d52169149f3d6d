/* The skiff library's public VM interface. A struct skiff_vm holds all state
 * of one virtual machine (fds, memory, vCPU threads, devices); nothing lives
 * in process-wide mutable globals, so one process may hold several VMs.
 *
 * Life cycle: skiff_vm_create() validates the configuration, opens KVM, maps
 * RAM, loads the kernel and builds boot structures, all before any vCPU runs.
 * skiff_vm_run() starts one thread per vCPU, serves the console on the calling
 * thread, and returns when the VM stops. skiff_vm_destroy() releases every fd,
 * thread and mapping. */
#ifndef SKIFF_VM_H
#define SKIFF_VM_H
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "core/devcfg.h"
#include "core/devhost.h"
#include "core/err.h"

#define SKIFF_MAX_VCPUS 64
#define SKIFF_MIN_MEM_MIB 16		/* below this no kernel we support boots */
#define SKIFF_MAX_CMDLINE 4095		/* bytes, without the NUL (boot protocol 2.06+) */

struct skiff_vm;
struct skiff_log_sink;	/* core/log.h */

struct skiff_config {
	const char *kernel_path;	/* bzImage or ELF vmlinux; required */
	const char *initrd_path;	/* optional */
	const char *cmdline;		/* optional kernel command line */
	uint32_t cpus;			/* vCPUs, 1..SKIFF_MAX_VCPUS */
	uint64_t mem_mib;		/* guest RAM in MiB, >= SKIFF_MIN_MEM_MIB */
	int console_in;			/* fd read for guest serial input; -1: none */
	int console_out;		/* fd for guest serial output; -1: discard */
	bool console_escape;		/* honour Ctrl-A x on console_in */
	int stop_signal_fd;		/* signalfd: a signal read here stops the VM
					 * (VM_STOP_SIGNAL); -1: none. Not owned. */
	bool no_pvm_params;		/* PVM host: do not add kernel parameters */
	int log_level;			/* enum skiff_log_level */
	FILE *log_out;			/* NULL: stderr */
	const char *kvm_path;		/* NULL: "/dev/kvm" */
	uint64_t start_ns;		/* CLOCK_MONOTONIC at process start; 0: now */
	/* virtio devices on PCI (core/devcfg.h); copied by skiff_vm_create. */
	const struct skiff_disk_config *disks;	/* ndisks entries */
	uint32_t ndisks;			/* <= SKIFF_MAX_DISKS */
	const struct skiff_net_config *nets;	/* nnets entries */
	uint32_t nnets;				/* <= SKIFF_MAX_NETS */
	const struct skiff_vsock_config *vsock;	/* NULL: no vsock device */
	bool rng;				/* virtio-rng (entropy from getrandom) */
	struct skiff_log_sink *log_sink;	/* core/log.h; NULL: log to log_out.
						 * Not owned; must outlive the VM. */
	/* Metrics (core/metrics.h): when set, called on the I/O thread every
	 * metrics_period_ms (0: 60000, Firecracker's period) while the VM runs
	 * (not while paused), and once more with final = true on skiff_vm_run's
	 * thread when the VM has stopped. It may call skiff_vm_metrics. */
	void (*metrics_fn)(void *ctx, struct skiff_vm *vm, bool final);
	void *metrics_ctx;
	uint32_t metrics_period_ms;
};

/* Fill *c with defaults: 1 vCPU, 256 MiB, stdin/stdout console, escape on. */
void skiff_config_default(struct skiff_config *c);

/* How a VM ended. */
struct skiff_result {
	enum vm_stop_reason reason;
	int code;		/* VM_STOP_DEBUG_EXIT: the value written to port 0xf4 */
	char msg[512];		/* VM_STOP_ERROR: what went wrong */
};

/* Create a VM from *c (the config is copied; paths are opened now).
 * Returns 0 and *out, or a negative errno with e->msg naming the problem. */
int skiff_vm_create(const struct skiff_config *c, struct skiff_vm **out, struct skiff_err *e);

/* Run until the VM stops; fills *res. Returns 0, or a negative errno if the
 * vCPU threads could not be started (res->msg says why). Call once. */
int skiff_vm_run(struct skiff_vm *vm, struct skiff_result *res);

/* Ask a running VM to stop with `why` (thread-safe; also from another VM's
 * thread). */
void skiff_vm_request_stop(struct skiff_vm *vm, enum vm_stop_reason why, int code);

/* Where a VM is in its life (skiff_vm_state). PAUSED also before
 * skiff_vm_run when a pause was requested first (the vCPUs then park as
 * soon as they start); STOPPED once a stop was recorded. */
enum skiff_vm_state {
	SKIFF_VM_CREATED,	/* skiff_vm_run not called yet */
	SKIFF_VM_RUNNING,
	SKIFF_VM_PAUSED,
	SKIFF_VM_STOPPED,
};

/* Pause the VM (thread-safe, not from a vCPU or I/O thread; idempotent):
 * every vCPU is kicked out of KVM_RUN and parked, the I/O thread finishes
 * the block I/O in flight and then handles no device work until resume, and
 * the guest's kvmclock is saved (KVM_GET_CLOCK). Returns once all of that
 * is done: 0, or -ESRCH if the VM has stopped (or stops meanwhile). A stop
 * requested while paused (skiff_vm_request_stop, a signal, Ctrl-A x) ends
 * the VM without a resume. */
int skiff_vm_pause(struct skiff_vm *vm);
/* Resume a paused VM (thread-safe; idempotent): the kvmclock is set back to
 * its value at pause (KVM_SET_CLOCK), so the guest's clock does not jump by
 * the paused time; then devices and vCPUs go on. 0, or -ESRCH once the VM
 * has stopped. */
int skiff_vm_resume(struct skiff_vm *vm);
enum skiff_vm_state skiff_vm_state(struct skiff_vm *vm);

/* The guest's kvmclock now (KVM_GET_CLOCK), in ns, into *ns. 0 or -errno. */
int skiff_vm_guest_clock(struct skiff_vm *vm, uint64_t *ns);
/* Copy len bytes of guest RAM at gpa into buf (e.g. to watch a guest while
 * paused; racy while it runs). 0, or -EFAULT when the range is not RAM. */
int skiff_vm_read_mem(struct skiff_vm *vm, uint64_t gpa, void *buf, size_t len);

/* Buttons (vm_buttons.c). Thread-safe, from any thread. Both only queue an
 * event for the guest and return; whether it reacts is up to the guest. A
 * paused (or not yet running) VM keeps the event and the guest sees it
 * after resume. Errors: -ESRCH once the VM has stopped.
 *
 * skiff_vm_send_ctrl_alt_del: press and release Ctrl, Alt and Delete on the
 * i8042 keyboard (Firecracker's SendCtrlAltDel); Linux then restarts (or
 * signals its init), and the VM stops with VM_STOP_RESET when the guest
 * resets. Also -EAGAIN when the guest has disabled the keyboard, -ENOSPC
 * when the keyboard's queue is full (the guest is not reading it).
 *
 * skiff_vm_power_button: press the ACPI fixed-feature power button
 * (ACPI 6.4 §4.8.2.2.1.1: PWRBTN_STS, an SCI if PWRBTN_EN); an ACPI guest
 * with a listener (acpid) shuts down, and the VM stops with
 * VM_STOP_POWEROFF. */
int skiff_vm_send_ctrl_alt_del(struct skiff_vm *vm);
int skiff_vm_power_button(struct skiff_vm *vm);

/* Nanoseconds from skiff's start (config start_ns) to the guest's first
 * boot-timer write (value 123 to port 0x3f0); 0 if it never wrote. */
uint64_t skiff_vm_boot_timer_ns(struct skiff_vm *vm);

/* Release everything. vm may be NULL. */
void skiff_vm_destroy(struct skiff_vm *vm);

/* Process exit status for a result (documented in README.md):
 * 0 power-off, 1 VMM error, 3 reset, 4 triple fault, v for debug-exit v,
 * 0 for a user quit, 128 + n for signal n. */
int skiff_exit_status(const struct skiff_result *res);

/* Firecracker's PATCH /drives/{id} on a created VM (also while it runs or
 * is paused; not concurrently with skiff_vm_destroy). `id` is the disk's
 * skiff_disk_config name (the API's drive_id), or its id when it has no
 * name. path (NULL: keep) replaces the backing image: opened with the
 * disk's read-only, O_DIRECT and engine settings and the usual checks and
 * flock; the requests in flight finish on the old image; the guest is told
 * the new capacity by a configuration-change interrupt (virtio 1.2 §2.4.2;
 * while paused it is delivered on resume). The same file again re-reads
 * its size (an image grown in place). rl (NULL: keep) replaces buckets,
 * Firecracker's way (skiff_rate_limit_update); a throttled queue is retried
 * at once. Returns 0, or -errno with the message in *e and the old image
 * still in use: -ENOENT no such drive; -ESRCH the VM has stopped; -EBUSY
 * the image is locked (by another process, or is another disk of this VM);
 * the open's errors (-ENOENT, -EACCES, -EISDIR...), -EINVAL for a file that
 * is not a regular file or block device, empty, not whole sectors, or of
 * another O_DIRECT block size. */
int skiff_vm_update_disk(struct skiff_vm *vm, const char *id, const char *path,
			 const struct skiff_rate_limit_update *rl, struct skiff_err *e);
/* Firecracker's PATCH /network-interfaces/{id}: replace the receive and/or
 * transmit rate limiter (NULL: keep) of the interface named `id`
 * (skiff_net_config name), as skiff_vm_update_disk does. 0, -ENOENT (no
 * such interface), -ESRCH (stopped), or -errno (timerfd) with *e. */
int skiff_vm_update_net(struct skiff_vm *vm, const char *id,
			const struct skiff_rate_limit_update *rx,
			const struct skiff_rate_limit_update *tx, struct skiff_err *e);

#define SKIFF_EXIT_OK		0
#define SKIFF_EXIT_ERROR	1
#define SKIFF_EXIT_USAGE	2
#define SKIFF_EXIT_RESET	3
#define SKIFF_EXIT_TRIPLE_FAULT	4

#endif
