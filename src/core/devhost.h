/* What a device model may ask of the machine it lives in. Devices never touch
 * KVM or the VM struct directly: they get one of these at creation and call
 * through it. The VM owns it and outlives every device. */
#ifndef SKIFF_DEVHOST_H
#define SKIFF_DEVHOST_H
#include <stdint.h>
#include "core/log.h"

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
};

#endif
