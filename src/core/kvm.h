/* Access to /dev/kvm: open it, check the API version and the capabilities
 * skiff needs, with an error message a user can act on (KVM API document,
 * Documentation/virt/kvm/api.rst §4.1 KVM_GET_API_VERSION, §4.4
 * KVM_CHECK_EXTENSION). One struct kvm_sys per VM: no process-wide state. */
#ifndef SKIFF_KVM_H
#define SKIFF_KVM_H
#include <stdbool.h>
#include <stddef.h>
#include "core/err.h"

struct kvm_sys {
	int fd;			/* /dev/kvm, owned; -1 when closed */
	size_t run_size;	/* KVM_GET_VCPU_MMAP_SIZE, bytes */
	int max_vcpus;		/* KVM_CAP_MAX_VCPUS (or NR_VCPUS) */
	bool has_emul_insn;	/* KVM_CAP_EXIT_ON_EMULATION_FAILURE */
};

/* Open `path` (NULL: /dev/kvm) and check it. Returns 0, or -ENOENT (no KVM
 * device), -EACCES (no permission), -EPROTO (API version != 12), -ENOTSUP (a
 * required capability is missing; the message names it). */
int kvm_sys_open(struct kvm_sys *k, const char *path, struct skiff_err *e);
void kvm_sys_close(struct kvm_sys *k);

/* KVM_CHECK_EXTENSION on fd (system or VM fd). Returns the value (0: absent). */
int kvm_check_cap(int fd, int cap);

#endif
