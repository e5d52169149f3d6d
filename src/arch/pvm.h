/* The KVM PVM compatibility layer: every work-around for hosts whose
 * /dev/kvm is served by the kvm_pvm module (software virtualization without
 * VT-x; see docs/pvm.md). Everything here is inert unless pvm_detect() found
 * /sys/module/kvm_pvm: on hardware KVM, `active` is false and every function
 * is a no-op. */
#ifndef SKIFF_PVM_H
#define SKIFF_PVM_H
#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/err.h"
#include "core/guest_mem.h"

struct pvm {
	bool active;		/* the host is KVM PVM */
	uint32_t tsc_khz;	/* KVM_GET_TSC_KHZ (0: unknown); informational */
	uint64_t int3_injected, fwait_skipped, clac_stac_emulated;	/* counters */
};

/* Detect PVM: active iff `sysfs_module_dir` (NULL: /sys/module/kvm_pvm)
 * exists. */
void pvm_detect(struct pvm *p, const char *sysfs_module_dir);

/* Append to `cmdline` (a NUL-terminated string in a buffer of `cap` bytes)
 * the kernel parameters a Linux guest needs on PVM, skipping any whose key
 * the command line already sets. No-op when inactive. Returns 0, or
 * -ENAMETOOLONG if the result would not fit. */
int pvm_add_kernel_params(const struct pvm *p, char *cmdline, size_t cap);

/* Replace *cpuid (KVM's table for the guest, owned by the caller) with the
 * values a guest really sees on this host, read by a throw-away probe VM, so
 * that KVM and the guest agree. No-op when inactive. Returns 0 or -errno. */
int pvm_probe_cpuid(struct pvm *p, int kvm_fd, struct kvm_cpuid2 *cpuid, struct skiff_err *e);

/* Clear the KVM paravirtual features whose guest side uses hypercalls
 * (PV spinlock kick, PV IPIs, PV sched yield) from leaf 0x40000001 of
 * `cpuid`: under PVM a guest hypercall never completes. Called by
 * pvm_probe_cpuid(); no-op when inactive. */
void pvm_hide_hypercall_features(const struct pvm *p, struct kvm_cpuid2 *cpuid);

/* Handle a KVM_EXIT_INTERNAL_ERROR on `vcpu_fd`. Returns true if the exit was
 * a known emulator gap that was worked around (the vCPU may be re-entered),
 * false otherwise (then `why` describes the failure). */
bool pvm_handle_internal_error(struct pvm *p, int vcpu_fd, struct kvm_run *run,
			       const struct guest_mem *gm, char *why, size_t why_len);

#endif
