#include "core/kvm.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* Capabilities skiff cannot run without, with their names for messages. */
static const struct {
	int cap;
	const char *name;
} required_caps[] = {
	{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
	{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP" },
	{ KVM_CAP_PIT2, "KVM_CAP_PIT2" },
	{ KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING" },
	{ KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR" },
	{ KVM_CAP_SET_IDENTITY_MAP_ADDR, "KVM_CAP_SET_IDENTITY_MAP_ADDR" },
	{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
	{ KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE" },
	{ KVM_CAP_VCPU_EVENTS, "KVM_CAP_VCPU_EVENTS" },
	{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
};

int kvm_check_cap(int fd, int cap)
{
	int r = ioctl(fd, KVM_CHECK_EXTENSION, cap);
	return r < 0 ? 0 : r;
}

int kvm_sys_open(struct kvm_sys *k, const char *path, struct skiff_err *e)
{
	memset(k, 0, sizeof(*k));
	k->fd = -1;
	if (!path)
		path = "/dev/kvm";
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		int err = errno;
		if (err == ENOENT || err == ENODEV || err == ENXIO)
			return skiff_fail(e, ENOENT, "%s does not exist: this host has no KVM "
					  "(load kvm_intel or kvm_amd, or enable virtualization in the firmware)", path);
		if (err == EACCES || err == EPERM)
			return skiff_fail(e, EACCES, "no permission to open %s: add your user to the "
					  "'kvm' group or run as root", path);
		return skiff_fail(e, err, "cannot open %s: %s", path, strerror(err));
	}
	int ver = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (ver != KVM_API_VERSION) {
		close(fd);
		return skiff_fail(e, EPROTO, "%s speaks KVM API version %d; skiff needs %d",
				  path, ver, KVM_API_VERSION);
	}
	for (size_t i = 0; i < sizeof(required_caps) / sizeof(required_caps[0]); i++) {
		if (!kvm_check_cap(fd, required_caps[i].cap)) {
			close(fd);
			return skiff_fail(e, ENOTSUP, "%s lacks the capability %s, which skiff needs",
					  path, required_caps[i].name);
		}
	}
	int sz = ioctl(fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (sz <= 0) {
		close(fd);
		return skiff_fail(e, EPROTO, "%s: KVM_GET_VCPU_MMAP_SIZE failed", path);
	}
	k->fd = fd;
	k->run_size = (size_t)sz;
	k->max_vcpus = kvm_check_cap(fd, KVM_CAP_MAX_VCPUS);
	if (k->max_vcpus <= 0)
		k->max_vcpus = kvm_check_cap(fd, KVM_CAP_NR_VCPUS);
	if (k->max_vcpus <= 0)
		k->max_vcpus = 4;
	k->has_emul_insn = kvm_check_cap(fd, KVM_CAP_EXIT_ON_EMULATION_FAILURE) > 0;
	return 0;
}

void kvm_sys_close(struct kvm_sys *k)
{
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
}
