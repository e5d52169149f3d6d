/* x86 vCPU and boot-structure set-up (Intel SDM vol. 3 §9.8 "Initializing
 * IA-32e mode"; Linux boot protocol, "64-bit boot protocol"). */
#ifndef SKIFF_X86_H
#define SKIFF_X86_H
#include <linux/kvm.h>
#include <stdint.h>
#include "core/err.h"
#include "core/guest_mem.h"

/* Write the boot GDT, an empty IDT and identity-mapping page tables for the
 * first 4 GiB (2 MiB pages) at the GPAs in boot/layout.h. Returns 0 or
 * -EFAULT if low RAM is too small to hold them. */
int x86_write_boot_tables(struct guest_mem *gm);

/* Enter the 64-bit boot protocol on the BSP: long mode, CS/DS from the boot
 * GDT, CR3 = boot PML4, RIP = entry, RSI = zero page. Returns 0 or -errno. */
int x86_set_boot_regs(int vcpu_fd, uint64_t entry, uint64_t zero_page);

/* Architectural defaults every vCPU gets: MSRs, x87/SSE control words, LAPIC
 * LINT0 = ExtINT and LINT1 = NMI (MP spec §5.1 virtual-wire mode). */
int x86_init_vcpu_defaults(int vcpu_fd);

/* CPUID: the table from KVM_GET_SUPPORTED_CPUID (owned by the caller,
 * free()). Returns NULL on failure. */
struct kvm_cpuid2 *x86_cpuid_supported(int kvm_fd);

/* Copy `base` and give it a consistent topology for vCPU `apic_id` of
 * `ncpus` (one socket, ncpus cores, no SMT): leaf 0x1 EBX APIC ID and logical
 * count, leaves 0x4, 0xB and 0x1F, hypervisor bit. Caller frees the result. */
struct kvm_cpuid2 *x86_cpuid_for_vcpu(const struct kvm_cpuid2 *base, uint32_t apic_id,
				      uint32_t ncpus);

#endif
