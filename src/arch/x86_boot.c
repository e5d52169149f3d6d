/* Boot-time CPU state: GDT, page tables, segment and control registers. */
#include "arch/x86.h"
#include "boot/layout.h"
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#define X86_CR0_PE (1ULL << 0)
#define X86_CR0_MP (1ULL << 1)
#define X86_CR0_ET (1ULL << 4)
#define X86_CR0_NE (1ULL << 5)
#define X86_CR0_PG (1ULL << 31)
#define X86_CR4_PAE (1ULL << 5)
#define X86_EFER_LME (1ULL << 8)
#define X86_EFER_LMA (1ULL << 10)
#define PTE_P  (1ULL << 0)
#define PTE_RW (1ULL << 1)
#define PTE_PS (1ULL << 7)

/* Flat GDT entry (Intel SDM vol. 3 §3.4.5). */
static uint64_t gdt_entry(uint16_t flags, uint32_t base, uint32_t limit)
{
	return ((uint64_t)(base & 0xff000000) << 32) | ((uint64_t)(flags & 0xf0ff) << 40) |
	       ((uint64_t)(limit & 0xf0000) << 32) | ((uint64_t)(base & 0xffffff) << 16) |
	       (limit & 0xffff);
}

int x86_write_boot_tables(struct guest_mem *gm)
{
	uint64_t gdt[4] = { 0 };
	gdt[BOOT_CS_SELECTOR / 8] = gdt_entry(0xa09b, 0, 0xfffff);	/* L=1, P, DPL0, code RX, accessed */
	gdt[BOOT_DS_SELECTOR / 8] = gdt_entry(0xc093, 0, 0xfffff);	/* G, D/B, P, data RW, accessed */
	if (gm_write(gm, BOOT_GDT_GPA, gdt, sizeof(gdt)))
		return -EFAULT;
	uint64_t zero = 0;
	if (gm_write(gm, BOOT_IDT_GPA, &zero, sizeof(zero)))
		return -EFAULT;

	uint64_t *pml4 = gm_ptr(gm, BOOT_PML4_GPA, 4096);
	uint64_t *pdpt = gm_ptr(gm, BOOT_PDPT_GPA, 4096);
	uint64_t *pd = gm_ptr(gm, BOOT_PD_GPA, 4096 * BOOT_PD_COUNT);
	if (!pml4 || !pdpt || !pd)
		return -EFAULT;
	memset(pml4, 0, 4096);
	memset(pdpt, 0, 4096);
	pml4[0] = BOOT_PDPT_GPA | PTE_P | PTE_RW;
	for (int i = 0; i < BOOT_PD_COUNT; i++)
		pdpt[i] = (BOOT_PD_GPA + 4096ULL * i) | PTE_P | PTE_RW;
	for (uint64_t i = 0; i < 512ULL * BOOT_PD_COUNT; i++)
		pd[i] = (i << 21) | PTE_P | PTE_RW | PTE_PS;
	return 0;
}

static void seg_from_gdt(struct kvm_segment *s, uint16_t sel, uint64_t desc)
{
	memset(s, 0, sizeof(*s));
	s->selector = sel;
	s->base = 0;
	s->limit = 0xffffffff;	/* G=1: 4 GiB */
	s->type = (desc >> 40) & 0xf;
	s->present = (desc >> 47) & 1;
	s->dpl = (desc >> 45) & 3;
	s->db = (desc >> 54) & 1;
	s->s = (desc >> 44) & 1;
	s->l = (desc >> 53) & 1;
	s->g = (desc >> 55) & 1;
}

int x86_set_boot_regs(int vcpu_fd, uint64_t entry, uint64_t zero_page)
{
	struct kvm_sregs sregs;
	if (ioctl(vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	uint64_t code = gdt_entry(0xa09b, 0, 0xfffff), data = gdt_entry(0xc093, 0, 0xfffff);
	seg_from_gdt(&sregs.cs, BOOT_CS_SELECTOR, code);
	seg_from_gdt(&sregs.ds, BOOT_DS_SELECTOR, data);
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	sregs.gdt.base = BOOT_GDT_GPA;
	sregs.gdt.limit = 4 * 8 - 1;
	sregs.idt.base = BOOT_IDT_GPA;
	sregs.idt.limit = 0;
	sregs.cr3 = BOOT_PML4_GPA;
	sregs.cr4 |= X86_CR4_PAE;
	sregs.cr0 |= X86_CR0_PE | X86_CR0_PG | X86_CR0_ET | X86_CR0_NE;
	sregs.efer |= X86_EFER_LME | X86_EFER_LMA;
	if (ioctl(vcpu_fd, KVM_SET_SREGS, &sregs) < 0)
		return -errno;

	struct kvm_regs regs;
	memset(&regs, 0, sizeof(regs));
	regs.rflags = 0x2;	/* bit 1 is reserved-as-one */
	regs.rip = entry;
	regs.rsp = regs.rbp = BOOT_STACK_TOP_GPA;
	regs.rsi = zero_page;
	if (ioctl(vcpu_fd, KVM_SET_REGS, &regs) < 0)
		return -errno;
	return 0;
}
