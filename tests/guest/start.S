/* The guest kit's CPL0 part: entry, descriptor tables, page tables, exception
 * handlers, kernel calls and the AP trampoline.
 *
 * On KVM PVM (docs/host.md) code at CPL0 and in real mode is emulated about
 * 1000 times slower than CPL3 code, and some instructions fail emulation, so
 * this file does the least it can with plain instructions and hands over to
 * C at CPL3 (IOPL=3, interrupts off) as early as possible.
 *
 * What runs at CPL0 after set-up: the exception handlers (report and exit
 * 0x80 + vector), the kernel calls (ud2 with RAX = KIT_KCALL_MAGIC, see
 * kit_layout.h), and the emulation of IN/OUT that fault at CPL3 because KVM
 * PVM does not give guest CPL3 code its IOPL.
 *
 * Entry paths, all ending in cpu_enter (CPL0, 64-bit, kit page tables):
 *   _start      skiff / Linux 64-bit boot protocol: long mode, RSI = zero page
 *   pvh_entry32 Xen PVH (QEMU -M microvm): 32-bit, paging off, EBX = hvm_start_info
 *   trampoline  APs after INIT/SIPI: real mode at KIT_TRAMP_GPA
 */
#include "kit_layout.h"

#define PTE_P		0x001
#define PTE_RW		0x002
#define PTE_US		0x004
#define PTE_PWT		0x008
#define PTE_PCD		0x010
#define PTE_PS		0x080
#define PDE_RAM		(PTE_P | PTE_RW | PTE_US | PTE_PS)
#define PDE_MMIO	(PDE_RAM | PTE_PWT | PTE_PCD)
#define PAGE_2M		0x200000
#define CR0_LONG	0x80010033	/* PG WP NE ET MP PE */
#define CR4_PAE		0x20
#define CR4_SMEP_SMAP	0x300000
#define MSR_EFER	0xc0000080
#define EFER_LME	0x100

/* ------------------------------------------------------------------ entry */
	.section .text.entry, "ax"
	.code64
	.globl _start
_start:
#ifdef KIT_BOOT_TIMER
	mov $123, %al			/* boot timer: first guest instruction */
	mov $0x3f0, %dx
	out %al, %dx
#endif
entry64:
	cli
	mov %rsi, kit_boot_params(%rip)
	mov %cr4, %rax			/* the kit's CPL0 code touches user pages */
	and $~CR4_SMEP_SMAP, %rax
	mov %rax, %cr4
	lgdt kit_gdt_ptr(%rip)
	mov $KIT_DS, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	xor %eax, %eax
	mov %eax, %fs
	mov %eax, %gs
	mov $kit_kstacks + (1 << KIT_KSTACK_SHIFT), %esp
	pushq $KIT_CS64
	pushq $1f
	lretq
1:	call fill_idt
	call build_page_tables
	mov $kit_pml4, %eax
	mov %rax, %cr3
	xor %edi, %edi			/* the boot CPU is CPU 0 */
	jmp cpu_enter

/* Per-CPU set-up, then CPL3. EDI = CPU index. Sets the CPL0 stack, writes this
 * CPU's TSS and its GDT descriptor, loads TR and the IDT, and irets to
 * kit_user_entry(EDI) at CPL3 with IOPL=3 and IF=0. */
cpu_enter:
	mov %edi, %eax
	inc %eax
	shl $KIT_KSTACK_SHIFT, %eax
	add $kit_kstacks, %eax
	mov %rax, %rsp
	mov %edi, %ebx			/* RBX = this CPU's TSS */
	shl $KIT_TSS_SHIFT, %ebx
	add $kit_tss, %ebx
	mov %rax, 4(%rbx)		/* RSP0 */
	movw $104, 102(%rbx)		/* I/O map base past the limit: no map */
	mov %edi, %ecx			/* RCX = its descriptor in the GDT */
	shl $4, %ecx
	add $kit_gdt + KIT_TSS0, %ecx
	mov %ebx, %eax			/* base 23:0 -> bits 39:16 */
	and $0xffffff, %eax
	shl $16, %rax
	mov %ebx, %edx			/* base 31:24 -> bits 63:56 */
	shr $24, %edx
	shl $56, %rdx
	or %rdx, %rax
	mov $0x89, %edx			/* present, 64-bit TSS (available) */
	shl $40, %rdx
	or %rdx, %rax
	or $103, %rax			/* limit */
	mov %rax, (%rcx)
	movq $0, 8(%rcx)		/* base 63:32 */
	lidt kit_idt_ptr(%rip)
	mov %edi, %eax
	shl $4, %eax
	add $KIT_TSS0, %eax
	ltr %ax
	mov %edi, %eax			/* CPL3 stack */
	inc %eax
	shl $KIT_USTACK_SHIFT, %eax
	add $kit_ustacks, %eax
	pushq $KIT_UDS			/* SS */
	push %rax			/* RSP */
	pushq $0x3002			/* RFLAGS: IOPL=3, IF=0 */
	pushq $KIT_UCS			/* CS */
	pushq $kit_user_entry		/* RIP */
	iretq

/* IDT: 32 interrupt gates to the stubs below, which are 16 bytes apart. */
fill_idt:
	mov $kit_idt, %edi
	mov $isr_stubs, %esi
	mov $KIT_IDT_VECTORS, %ecx
	mov $0x8e, %r8d			/* present, DPL0, 64-bit interrupt gate */
	shl $40, %r8
	or $(KIT_CS64 << 16), %r8
1:	mov %esi, %eax			/* offset 15:0 */
	and $0xffff, %eax
	mov %esi, %edx			/* offset 31:16 -> bits 63:48 */
	and $0xffff0000, %edx
	shl $32, %rdx
	or %rdx, %rax
	or %r8, %rax
	mov %rax, (%rdi)
	movq $0, 8(%rdi)
	add $16, %rdi
	add $16, %rsi
	dec %ecx
	jnz 1b
	ret

/* Page tables: identity-map, with 2 MiB user pages, every e820 RAM range
 * (rounded out to 2 MiB), the IOAPIC and LAPIC pages and a probe page in the
 * PCI hole. Tables are zeroed as they are taken into use. */
build_page_tables:
	mov $kit_pml4, %edi		/* PML4 and PDPT are adjacent */
	mov $1024, %ecx
	xor %eax, %eax
	rep stosq
	movq $kit_pdpt + (PTE_P | PTE_RW | PTE_US), kit_pml4(%rip)
	mov kit_boot_params(%rip), %rsi
	movzbl BP_E820_ENTRIES(%rsi), %ecx
	lea BP_E820_TABLE(%rsi), %rbx
	cmp $BP_E820_MAX, %ecx
	jbe 1f
	mov $BP_E820_MAX, %ecx
1:	test %ecx, %ecx
	jz 3f
	cmpl $1, 16(%rbx)		/* E820_TYPE_RAM */
	jne 2f
	mov (%rbx), %rdi
	mov 8(%rbx), %rsi
	add %rdi, %rsi
	mov $PDE_RAM, %edx
	call map_range
2:	add $20, %rbx
	dec %ecx
	jmp 1b
3:	mov $0xd0000000, %edi		/* PCI-hole probe page (unmapped MMIO) */
	lea PAGE_2M(%rdi), %rsi
	mov $PDE_MMIO, %edx
	call map_range
	mov $0xfec00000, %edi		/* IOAPIC, LAPIC */
	mov $0xff000000, %esi
	mov $PDE_MMIO, %edx
	jmp map_range

/* Map [RDI, RSI) with 2 MiB pages of flags RDX. Clobbers RAX, RDI, RSI, R8-R10. */
map_range:
	and $~(PAGE_2M - 1), %rdi
	add $PAGE_2M - 1, %rsi
	and $~(PAGE_2M - 1), %rsi
	mov $KIT_MAX_GIB, %eax
	shl $30, %rax
	cmp %rax, %rsi
	jbe 1f
	mov %rax, %rsi
1:	cmp %rsi, %rdi
	jae 4f
	mov %rdi, %rax			/* RAX = GiB index, R8 = its PDPT entry */
	shr $30, %rax
	lea kit_pdpt(,%rax,8), %r8
	mov (%r8), %r9
	test %r9, %r9
	jnz 2f
	mov %rax, %r9			/* first use of this PD: zero and link it */
	shl $12, %r9
	add $kit_pds, %r9
	push %rdi
	push %rcx
	mov %r9, %rdi
	mov $512, %ecx
	xor %eax, %eax
	rep stosq
	pop %rcx
	pop %rdi
	or $(PTE_P | PTE_RW | PTE_US), %r9
	mov %r9, (%r8)
2:	and $~0xfff, %r9
	mov %rdi, %rax
	shr $21, %rax
	and $511, %eax
	mov %rdi, %r10
	or %rdx, %r10
	mov %r10, (%r9,%rax,8)
	add $PAGE_2M, %rdi
	jmp 1b
4:	ret

/* --------------------------------------------------------- CPL3 entry */
	.globl kit_user_entry
kit_user_entry:
	call kit_cpu_main		/* EDI = CPU index; never returns */
	ud2

/* ------------------------------------------------- exceptions, kernel calls */
	.balign 16
isr_stubs:
	.irp vec, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.balign 16
	.if (\vec == 8) || (\vec == 10) || (\vec == 11) || (\vec == 12) || (\vec == 13) || (\vec == 14) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
	.else
	pushq $0			/* no error code: push a dummy one */
	.endif
	pushq $\vec
	jmp isr_common
	.endr

/* Stack: RAX, vector, error code, RIP, CS, RFLAGS, RSP, SS. */
isr_common:
	push %rax
	mov 8(%rsp), %rax
	cmp $13, %eax
	je gp_io
	cmp $6, %eax
	jne report
	movabs $KIT_KCALL_MAGIC, %rax
	cmp %rax, (%rsp)
	jne report
	cmp $KIT_KCALL_HALT, %rdi
	je kc_halt
	cmp $KIT_KCALL_BREAK_IDT, %rdi
	je kc_break_idt
	cmp $KIT_KCALL_TRIPLE, %rdi
	je kc_triple
	cmp $KIT_KCALL_OUT_LOOP, %rdi
	je kc_out_loop
	cmp $KIT_KCALL_WRITE, %rdi
	je kc_write
	cmp $KIT_KCALL_FLUSH_TLB, %rdi
	je kc_flush_tlb
	jmp report
kc_halt:
	cli
1:	hlt
	jmp 1b
kc_break_idt:
	lidt null_idt_ptr(%rip)
	jmp kc_return
kc_triple:
	lidt null_idt_ptr(%rip)
	ud2				/* #UD -> #GP -> #DF -> shutdown */
kc_out_loop:				/* RSI writes of AL to port DX */
	mov %rsi, %rcx
	mov (%rsp), %rax
	test %rcx, %rcx
	jz kc_return
1:	out %al, %dx
	dec %rcx
	jnz 1b
	jmp kc_return
kc_flush_tlb:				/* page tables changed at CPL3 */
	mov %cr3, %rax
	mov %rax, %cr3
	jmp kc_return
kc_write:				/* RDX bytes at RSI to COM1 */
	push %rbx
	mov %rdx, %rcx
1:	test %rcx, %rcx
	jz 2f
	movb (%rsi), %bl
	call kputc
	inc %rsi
	dec %rcx
	jmp 1b
2:	pop %rbx
kc_return:
	addq $2, 24(%rsp)		/* return past the ud2, with RAX = 0 */
	add $24, %rsp
	xor %eax, %eax
	iretq

/* #GP from CPL3 on IN/OUT: KVM PVM runs guest CPL3 without its IOPL, so
 * port I/O faults there; do it here and return past the instruction.
 * Handles IN/OUT with an imm8 or DX port, 8/16/32 bits (E4-E7, EC-EF, with
 * or without a 66 prefix). On hardware KVM IOPL=3 works and this never runs. */
gp_io:
	push %rcx
	push %rdx
	push %rsi
	/* 0 RSI, 8 RDX, 16 RCX, 24 RAX, 32 vector, 40 error, 48 RIP, 56 CS */
	cmpq $0, 40(%rsp)
	jne gp_not_io
	testb $3, 56(%rsp)
	jz gp_not_io
	mov 48(%rsp), %rsi
	xor %ecx, %ecx			/* ECX = 1: operand-size prefix */
	cmpb $0x66, (%rsi)
	jne 1f
	inc %ecx
	inc %rsi
1:	movzbl (%rsi), %eax		/* opcode */
	inc %rsi
	mov %eax, %edx
	and $0xf4, %edx
	cmp $0xe4, %edx
	jne gp_not_io
	test $0x08, %al
	jnz 2f
	movzbl (%rsi), %edx		/* port: imm8 */
	inc %rsi
	jmp 3f
2:	movzwl 8(%rsp), %edx		/* port: DX */
3:	mov %rsi, 48(%rsp)		/* resume after the instruction */
	mov %eax, %esi
	mov 24(%rsp), %rax
	test $0x02, %sil
	jnz gp_out
	test $0x01, %sil
	jz 5f
	test %ecx, %ecx
	jnz 4f
	in %dx, %eax			/* zero-extends into RAX */
	mov %rax, 24(%rsp)
	jmp gp_done
4:	in %dx, %ax
	mov %ax, 24(%rsp)
	jmp gp_done
5:	in %dx, %al
	mov %al, 24(%rsp)
	jmp gp_done
gp_out:
	test $0x01, %sil
	jz 7f
	test %ecx, %ecx
	jnz 6f
	out %eax, %dx
	jmp gp_done
6:	out %ax, %dx
	jmp gp_done
7:	out %al, %dx
gp_done:
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rax
	add $16, %rsp
	iretq
gp_not_io:
	pop %rsi
	pop %rdx
	pop %rcx

/* An unexpected exception: report it on COM1 and exit with 0x80 + vector. */
report:
	mov $msg_exc, %esi
	call kputs
	mov 8(%rsp), %rax
	call kputhex
	mov $msg_err, %esi
	call kputs
	mov 16(%rsp), %rax
	call kputhex
	mov $msg_rip, %esi
	call kputs
	mov 24(%rsp), %rax
	call kputhex
	mov $msg_cs, %esi
	call kputs
	mov 32(%rsp), %rax
	call kputhex
	mov $msg_rfl, %esi
	call kputs
	mov 40(%rsp), %rax
	call kputhex
	mov $msg_rsp, %esi
	call kputs
	mov 48(%rsp), %rax
	call kputhex
	mov $msg_cr2, %esi
	call kputs
	mov %cr2, %rax
	call kputhex
	mov $msg_nl, %esi
	call kputs
	mov 8(%rsp), %eax
	add $KIT_EXIT_EXCEPTION, %eax
	out %al, $0xf4
	jmp kc_halt

/* Print the NUL-terminated string at RSI. Clobbers RSI, BL. */
kputs:
1:	movb (%rsi), %bl
	test %bl, %bl
	jz 2f
	call kputc
	inc %rsi
	jmp 1b
2:	ret

/* Print RAX as 16 hex digits. Clobbers RAX, BL, RCX. */
kputhex:
	mov $16, %ecx
1:	rol $4, %rax
	mov %eax, %ebx
	and $15, %ebx
	movzbl hexdigits(%rbx), %ebx
	call kputc
	dec %ecx
	jnz 1b
	ret

/* Write BL to COM1 once the transmitter is empty (bounded wait). */
kputc:
	push %rax
	push %rcx
	push %rdx
	mov $0x3fd, %dx
	mov $1000, %ecx
1:	in %dx, %al
	test $0x20, %al
	jnz 2f
	dec %ecx
	jnz 1b
2:	mov $0x3f8, %dx
	mov %bl, %al
	out %al, %dx
	pop %rdx
	pop %rcx
	pop %rax
	ret

/* ------------------------------------------------------------ APs */
/* The trampoline is copied to KIT_TRAMP_GPA by kit_start_aps() and entered
 * in real mode (CS = KIT_TRAMP_GPA >> 4, IP = 0) after SIPI. It only loads
 * the kit's GDT and enters 32-bit protected mode; the rest runs in the
 * kit's image. */
	.section .rodata.tramp, "a"
	.code16
	.globl kit_tramp_start, kit_tramp_end
kit_tramp_start:
	cli
	lgdtl %cs:(tramp_gdt_ptr - kit_tramp_start)
	mov $0x11, %eax			/* PE, ET */
	mov %eax, %cr0
	ljmpl $KIT_CS32, $ap_entry32
	.balign 8
tramp_gdt_ptr:
	.word KIT_GDT_SIZE - 1
	.long kit_gdt
kit_tramp_end:

	.text
	.code32
ap_entry32:
	mov $KIT_DS, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov $CR4_PAE, %eax
	mov %eax, %cr4
	mov $kit_pml4, %eax
	mov %eax, %cr3
	mov $MSR_EFER, %ecx
	rdmsr
	or $EFER_LME, %eax
	wrmsr
	mov $CR0_LONG, %eax
	mov %eax, %cr0
	ljmp $KIT_CS64, $ap_entry64

	.code64
ap_entry64:
	mov $KIT_DS, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	xor %eax, %eax
	mov %eax, %fs
	mov %eax, %gs
	mov $1, %edi
	lock xadd %edi, kit_ap_next(%rip)
	cmp $KIT_MAX_CPUS, %edi
	jb cpu_enter
	mov $KIT_EXIT_TOO_MANY_CPUS, %al
	out %al, $0xf4
	jmp kc_halt

/* ----------------------------------------------------------- Xen PVH */
/* XEN_ELFNOTE_PHYS32_ENTRY (18): QEMU and other PVH loaders start here in
 * 32-bit protected mode, paging off, EBX = struct hvm_start_info. The
 * memory map and command line are copied into a zero page of our own, so
 * that the 64-bit path sees what skiff gives. */
	.pushsection .note.Xen, "a", @note
	.balign 4
	.long 4, 4, 18
	.asciz "Xen"
	.balign 4
	.long pvh_entry32
	.balign 4
	.popsection

	.code32
	.globl pvh_entry32
pvh_entry32:
#ifdef KIT_BOOT_TIMER
	mov $123, %al
	mov $0x3f0, %dx
	out %al, %dx
#endif
	cli
	mov $kit_pvh_zero_page, %edi
	mov 24(%ebx), %eax		/* cmdline_paddr (low half) */
	mov %eax, BP_CMD_LINE_PTR(%edi)
	xor %ecx, %ecx
	cmpl $1, 4(%ebx)		/* version 1+ has the memory map */
	jb 3f
	mov 48(%ebx), %ecx		/* memmap_entries */
	cmp $BP_E820_MAX, %ecx
	jbe 1f
	mov $BP_E820_MAX, %ecx
1:	mov %cl, BP_E820_ENTRIES(%edi)
	mov 40(%ebx), %esi		/* memmap_paddr: 24-byte entries */
	add $BP_E820_TABLE, %edi	/* e820: 20-byte entries */
	test %ecx, %ecx
	jz 3f
2:	mov (%esi), %eax
	mov %eax, (%edi)
	mov 4(%esi), %eax
	mov %eax, 4(%edi)
	mov 8(%esi), %eax
	mov %eax, 8(%edi)
	mov 12(%esi), %eax
	mov %eax, 12(%edi)
	mov 16(%esi), %eax
	mov %eax, 16(%edi)
	add $24, %esi
	add $20, %edi
	dec %ecx
	jnz 2b
3:	lgdt kit_gdt_ptr
	mov $KIT_DS, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov $CR4_PAE, %eax
	mov %eax, %cr4
	mov $pvh_pml4, %eax		/* static map of the first GiB */
	mov %eax, %cr3
	mov $MSR_EFER, %ecx
	rdmsr
	or $EFER_LME, %eax
	wrmsr
	mov $CR0_LONG, %eax
	mov %eax, %cr0
	mov $kit_pvh_zero_page, %esi
	ljmp $KIT_CS64, $pvh_entry64
	.code64
pvh_entry64:
	mov %esi, %esi
	jmp entry64

/* ------------------------------------------------------------- data */
	.section .rodata
hexdigits:	.ascii "0123456789abcdef"
msg_exc:	.asciz "\nKIT: exception "
msg_err:	.asciz " err "
msg_rip:	.asciz " rip "
msg_cs:		.asciz " cs "
msg_rfl:	.asciz " rflags "
msg_rsp:	.asciz " rsp "
msg_cr2:	.asciz " cr2 "
msg_nl:		.asciz "\n"

	.section .data
	.balign 16
	.globl kit_gdt
kit_gdt:
	.quad 0
	.quad 0x00cf9a000000ffff		/* 0x08 code32 */
	.quad 0x00af9a000000ffff		/* 0x10 code64 */
	.quad 0x00cf92000000ffff		/* 0x18 data */
	.quad 0x00affa000000ffff		/* 0x20 code64, DPL3 */
	.quad 0x00cff2000000ffff		/* 0x28 data, DPL3 */
	.fill 2 * KIT_MAX_CPUS, 8, 0		/* 0x30 TSS descriptors */
	.balign 16
	.word 0, 0, 0
kit_gdt_ptr:
	.word KIT_GDT_SIZE - 1
	.quad kit_gdt
	.word 0, 0, 0
kit_idt_ptr:
	.word KIT_IDT_VECTORS * 16 - 1
	.quad kit_idt
	.word 0, 0, 0
null_idt_ptr:
	.word 0
	.quad 0

	.globl kit_boot_params, kit_ap_next
	.balign 8
kit_boot_params:	.quad 0		/* GPA of the zero page */
kit_ap_next:		.long 1		/* next free CPU index for an AP */

/* PVH bootstrap page tables: the first GiB, 2 MiB pages, supervisor only. */
	.balign 4096
pvh_pml4:
	.quad pvh_pdpt + (PTE_P | PTE_RW)
	.fill 511, 8, 0
pvh_pdpt:
	.quad pvh_pd + (PTE_P | PTE_RW)
	.fill 511, 8, 0
pvh_pd:
	.set pde, PTE_P | PTE_RW | PTE_PS
	.rept 512
	.quad pde
	.set pde, pde + PAGE_2M
	.endr

	.section .bss
	.balign 4096
	.globl kit_pml4, kit_pdpt, kit_pds, kit_kstacks, kit_ustacks, kit_tss, kit_idt
kit_pml4:	.skip 4096
kit_pdpt:	.skip 4096
kit_pds:	.skip 4096 * KIT_MAX_GIB
kit_kstacks:	.skip KIT_MAX_CPUS << KIT_KSTACK_SHIFT
kit_ustacks:	.skip KIT_MAX_CPUS << KIT_USTACK_SHIFT
kit_idt:	.skip KIT_IDT_VECTORS * 16
kit_tss:	.skip KIT_MAX_CPUS << KIT_TSS_SHIFT
	.globl kit_pvh_zero_page
	.balign 4096
kit_pvh_zero_page:	.skip 4096

	.section .note.GNU-stack, "", @progbits
