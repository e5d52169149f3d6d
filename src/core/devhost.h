/* What a device model may ask of the machine it lives in. Devices never touch
 * KVM or the VM struct directly: they get one of these at creation and call
 * through it. The VM owns it and outlives every device. */
#ifndef SKIFF_DEVHOST_H
#define SKIFF_DEVHOST_H
#include <stdbool.h>
#include <stdint.h>
#include "core/log.h"

struct guest_mem;
struct evloop;

/* Why a VM stops (also the reason a device asks for a stop). */
enum vm_stop_reason {
	VM_STOP_NONE = 0,
	VM_STOP_POWEROFF,	/* guest powered off (ACPI S5) */
	VM_STOP_RESET,		/* guest asked for a reset (i8042 0xFE, ACPI reset) */
	VM_STOP_TRIPLE_FAULT,	/* KVM_EXIT_SHUTDOWN */
	VM_STOP_DEBUG_EXIT,	/* guest wrote `code` to the isa-debug-exit port 0xf4 */
	VM_STOP_QUIT,		/* the user pressed the console escape (Ctrl-A x) */
	VM_STOP_ERROR,		/* a VMM error; the VM's result carries the message */
	VM_STOP_SIGNAL,		/* the host sent skiff a signal; `code` is its number */
	VM_STOP_HOST,		/* stopped on request: `skiff stop`, API action skiff_stop */
};

struct dev_host {
	void *ctx;	/* the VM; opaque to devices */
	/* Drive legacy interrupt line `gsi` to `level` (0 or 1). Thread-safe. */
	void (*set_irq)(void *ctx, uint32_t gsi, int level);
	/* Ask the VM to stop. The first request wins; later ones are ignored.
	 * Thread-safe, returns at once (vCPUs are kicked asynchronously). */
	void (*request_stop)(void *ctx, enum vm_stop_reason why, int code);
	const struct skiff_log *log;	/* the VM's logger */
	uint64_t start_ns;	/* CLOCK_MONOTONIC ns when skiff started (boot timer) */

	/* For PCI and virtio devices (NULL/absent in unit tests of legacy devices). */
	const struct guest_mem *mem;	/* guest RAM: use gm_ptr()/gm_read() only */
	struct evloop *loop;		/* the VM's I/O event loop (core/evloop.h) */
	/* Reserve a GSI for MSI delivery (>= 24, above the IOAPIC's pins; the
	 * VM has 1024 of them). Returns the GSI or -ENOSPC. Thread-safe. */
	int (*msi_alloc)(void *ctx);
	/* Route `gsi` to the MSI message (addr, data) (KVM_SET_GSI_ROUTING; the
	 * whole table is re-committed). Returns 0 or -errno (-EINVAL: gsi not
	 * allocated, or KVM refused the message; the old route stays).
	 * Thread-safe. */
	int (*msi_route)(void *ctx, uint32_t gsi, uint64_t addr, uint32_t data);
	/* Drop the route and release the GSI. */
	void (*msi_free)(void *ctx, uint32_t gsi);
	/* KVM_IRQFD: writes to eventfd efd raise `gsi`. resample_efd >= 0 makes
	 * it level-triggered (KVM_IRQFD_FLAG_RESAMPLE; for INTx). assign=false
	 * detaches. Returns 0 or -errno (-ENOTSUP: KVM lacks KVM_CAP_IRQFD or,
	 * for resample, KVM_CAP_IRQFD_RESAMPLE). */
	int (*irqfd)(void *ctx, int efd, uint32_t gsi, int resample_efd, bool assign);
	/* KVM_IOEVENTFD: a guest write of `len` bytes (1, 2, 4 or 8; 0 = any) at
	 * `addr` (MMIO if mmio, else port I/O) signals efd instead of exiting.
	 * Returns 0 or -errno (-EINVAL: bad len; -ENOTSUP: no KVM_CAP_IOEVENTFD;
	 * -EEXIST: already registered there). */
	int (*ioeventfd)(void *ctx, int efd, uint64_t addr, uint32_t len, bool mmio, bool assign);
	/* Inject one MSI now (KVM_SIGNAL_MSI). Returns 0 or -errno (-ENOTSUP:
	 * no KVM_CAP_SIGNAL_MSI). */
	int (*signal_msi)(void *ctx, uint64_t addr, uint32_t data);
};

#endif
