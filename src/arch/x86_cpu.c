/* Per-vCPU architectural defaults and CPUID topology. */
#include "arch/x86.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#define MSR_IA32_SYSENTER_CS	0x174
#define MSR_IA32_SYSENTER_ESP	0x175
#define MSR_IA32_SYSENTER_EIP	0x176
#define MSR_IA32_MISC_ENABLE	0x1a0
#define MSR_STAR		0xc0000081
#define MSR_LSTAR		0xc0000082
#define MSR_CSTAR		0xc0000083
#define MSR_SYSCALL_MASK	0xc0000084
#define MSR_KERNEL_GS_BASE	0xc0000102
#define MSR_IA32_TSC		0x10
#define MISC_ENABLE_FAST_STRING	1ULL

#define APIC_LVT_LINT0		0x350
#define APIC_LVT_LINT1		0x360
#define APIC_MODE_NMI		0x4
#define APIC_MODE_EXTINT	0x7

static int set_msrs(int fd)
{
	static const struct { uint32_t index; uint64_t data; } defaults[] = {
		{ MSR_IA32_SYSENTER_CS, 0 }, { MSR_IA32_SYSENTER_ESP, 0 },
		{ MSR_IA32_SYSENTER_EIP, 0 }, { MSR_STAR, 0 }, { MSR_CSTAR, 0 },
		{ MSR_KERNEL_GS_BASE, 0 }, { MSR_SYSCALL_MASK, 0 }, { MSR_LSTAR, 0 },
		{ MSR_IA32_TSC, 0 }, { MSR_IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING },
	};
	enum { N = sizeof(defaults) / sizeof(defaults[0]) };
	/* struct kvm_msrs ends in a flexible array: build it in a buffer. */
	union {
		struct kvm_msrs hdr;
		uint8_t bytes[sizeof(struct kvm_msrs) + N * sizeof(struct kvm_msr_entry)];
	} m;
	memset(&m, 0, sizeof(m));
	m.hdr.nmsrs = N;
	for (int i = 0; i < N; i++) {
		m.hdr.entries[i].index = defaults[i].index;
		m.hdr.entries[i].data = defaults[i].data;
	}
	int r = ioctl(fd, KVM_SET_MSRS, &m);
	if (r < 0)
		return -errno;
	return r == N ? 0 : -EINVAL;
}

static void lvt_set_mode(uint8_t *regs, int off, uint32_t mode)
{
	uint32_t v;
	memcpy(&v, regs + off, 4);
	v = (v & ~0x700u) | (mode << 8);
	memcpy(regs + off, &v, 4);
}

int x86_init_vcpu_defaults(int fd)
{
	int r = set_msrs(fd);
	if (r)
		return r;
	struct kvm_fpu fpu;
	memset(&fpu, 0, sizeof(fpu));
	fpu.fcw = 0x37f;	/* x87 reset default (SDM vol. 1 §8.1.5) */
	fpu.mxcsr = 0x1f80;	/* SSE reset default (SDM vol. 1 §10.2.3) */
	if (ioctl(fd, KVM_SET_FPU, &fpu) < 0)
		return -errno;
	struct kvm_lapic_state lapic;
	if (ioctl(fd, KVM_GET_LAPIC, &lapic) < 0)
		return -errno;
	lvt_set_mode((uint8_t *)lapic.regs, APIC_LVT_LINT0, APIC_MODE_EXTINT);
	lvt_set_mode((uint8_t *)lapic.regs, APIC_LVT_LINT1, APIC_MODE_NMI);
	if (ioctl(fd, KVM_SET_LAPIC, &lapic) < 0)
		return -errno;
	return 0;
}

struct kvm_cpuid2 *x86_cpuid_supported(int kvm_fd)
{
	for (uint32_t n = 128; n <= 4096; n *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
		if (!c)
			return NULL;
		c->nent = n;
		if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
			return c;
		free(c);
		if (errno != E2BIG)
			return NULL;
	}
	return NULL;
}

static unsigned bits_for(uint32_t n)
{
	unsigned b = 0;
	while ((1u << b) < n)
		b++;
	return b;
}

struct kvm_cpuid2 *x86_cpuid_for_vcpu(const struct kvm_cpuid2 *base, uint32_t apic_id,
				      uint32_t ncpus)
{
	size_t sz = sizeof(*base) + base->nent * sizeof(base->entries[0]);
	struct kvm_cpuid2 *c = malloc(sz);
	if (!c)
		return NULL;
	memcpy(c, base, sz);
	unsigned core_bits = bits_for(ncpus);
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];
		switch (e->function) {
		case 0x1:
			/* EBX[31:24] initial APIC ID, [23:16] logical processors per
			 * package; EDX.HTT says [23:16] is valid. ECX[31]: hypervisor. */
			e->ebx = (e->ebx & 0xffff) | (apic_id << 24) |
				 ((ncpus > 255 ? 255 : ncpus) << 16);
			e->edx |= 1u << 28;
			e->ecx |= 1u << 31;
			break;
		case 0x4:
			/* EAX[31:26]: cores per package - 1; [25:14]: threads sharing
			 * this cache - 1 (one thread per core, caches per core). */
			if ((e->eax & 0x1f) == 0)
				break;
			e->eax &= 0x3fff;
			e->eax |= ((uint32_t)((1u << core_bits) - 1) & 0x3f) << 26;
			break;
		case 0xb:
		case 0x1f:
			/* Extended topology: level 0 = SMT (1 thread), level 1 = core. */
			e->edx = apic_id;
			if (e->index == 0) {
				e->eax = 0;
				e->ebx = 1;
				e->ecx = (1u << 8) | 0;
			} else if (e->index == 1) {
				e->eax = core_bits;
				e->ebx = ncpus;
				e->ecx = (2u << 8) | 1;
			} else {
				e->eax = e->ebx = 0;
				e->ecx = e->index;
			}
			break;
		}
	}
	return c;
}
