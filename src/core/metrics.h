/* Per-VM metrics: counters kept by the vCPU threads and the devices, copied
 * into one plain struct (skiff_vm_metrics) that a writer (the API layer's
 * api_metrics.h) turns into Firecracker's metrics JSON. All values are
 * totals since the VM was created; the writer makes deltas. No JSON here
 * and no locks on the vCPU threads' hot path: each vCPU's exit counters are
 * written only by that vCPU's thread with relaxed atomic stores. */
#ifndef SKIFF_METRICS_H
#define SKIFF_METRICS_H
#include <stdbool.h>
#include <stdint.h>
#include "core/devcfg.h"
#include "core/vm.h"

/* Why KVM_RUN returned (KVM API §5 "exit_reason"), as metrics count them. */
enum skiff_vmexit {
	SKIFF_VMEXIT_IO_IN, SKIFF_VMEXIT_IO_OUT,		/* KVM_EXIT_IO by direction */
	SKIFF_VMEXIT_MMIO_READ, SKIFF_VMEXIT_MMIO_WRITE,	/* KVM_EXIT_MMIO */
	SKIFF_VMEXIT_HLT,
	SKIFF_VMEXIT_SHUTDOWN,			/* triple fault */
	SKIFF_VMEXIT_SYSTEM_EVENT,		/* reset, power-off */
	SKIFF_VMEXIT_FAIL_ENTRY,
	SKIFF_VMEXIT_INTERNAL_ERROR,		/* includes the PVM work-arounds */
	SKIFF_VMEXIT_INTR,			/* KVM_EXIT_INTR, or KVM_RUN -EINTR (kicks) */
	SKIFF_VMEXIT_OTHER,			/* IRQ window, unexpected reasons */
	SKIFF_VMEXIT_EMUL_FIXUP,		/* PVM emulation gaps worked around (not an exit kind
						 * of its own: a subset of INTERNAL_ERROR) */
	SKIFF_VMEXIT_KINDS
};

/* The JSON name of a kind ("exit_io_in", ..., "emulation_fixups"). */
const char *skiff_vmexit_name(enum skiff_vmexit k);

struct skiff_metrics_disk {
	char id[SKIFF_DISK_ID_MAX + 1];	/* drive id (serial) */
	uint64_t read_bytes, write_bytes;
	uint64_t reads, writes, flushes;	/* requests completed OK */
	uint64_t errors;			/* completed with IOERR */
	uint64_t unsupported;			/* completed with UNSUPP */
	uint64_t throttled;			/* times the rate limiter held the queue */
};

struct skiff_metrics_net {		/* frames and bytes without the virtio-net header */
	uint64_t rx_bytes, rx_packets, rx_dropped, rx_errors, rx_throttled;
	uint64_t tx_bytes, tx_packets, tx_dropped, tx_errors, tx_throttled;
};

struct skiff_metrics_vsock {
	uint64_t rx_bytes, tx_bytes;		/* payload host->guest, guest->host */
	uint64_t rx_packets, tx_packets;
	uint64_t conns_added, conns_refused, conns_timed_out;
	uint64_t conns_open;			/* gauge: connections now */
	uint64_t rst_sent, bad_packets;
};

struct skiff_metrics_rng {
	uint64_t bytes, requests, throttled, errors;
};

/* A snapshot of one VM's counters (totals since creation). */
struct skiff_metrics {
	uint64_t utc_timestamp_ms;		/* CLOCK_REALTIME at the snapshot */
	uint64_t exits[SKIFF_VMEXIT_KINDS];	/* summed over the vCPUs */
	uint32_t nvcpus;
	uint64_t vcpu_time_ns[SKIFF_MAX_VCPUS];	/* CPU time of each vCPU thread
						 * (CLOCK_THREAD_CPUTIME_ID) */
	uint32_t ndisks;			/* in the configuration's order */
	struct skiff_metrics_disk disks[SKIFF_MAX_DISKS];
	uint32_t nnets;				/* in the configuration's order */
	struct skiff_metrics_net nets[SKIFF_MAX_NETS];
	bool has_vsock, has_rng;
	struct skiff_metrics_vsock vsock;
	struct skiff_metrics_rng rng;
};

/* Fill *out from vm (any thread but a vCPU's; also after skiff_vm_run
 * returned, until skiff_vm_destroy). vm NULL: only the timestamp (a VM not
 * started yet). The vsock and rng counters are copied on the I/O thread
 * (evloop_call), so the caller must not hold a lock the I/O thread takes. */
void skiff_vm_metrics(struct skiff_vm *vm, struct skiff_metrics *out);

#endif
