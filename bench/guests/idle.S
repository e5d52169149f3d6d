/* Memory-overhead benchmark guest: writes one byte in every 4 KiB page of
 * guest-physical [TOUCH_BASE, TOUCH_BASE + TOUCH_SIZE), so that every VMM
 * running it has the same 16 MiB of guest RAM faulted in, then halts forever
 * with interrupts off (the vCPU sleeps in the host kernel: no exits, no CPU).
 *
 * Two entry points, one ELF:
 *   _start      e_entry, 64-bit long mode, CPL0 (skiff, Linux 64-bit boot)
 *   pvh_entry32 Xen PVH (XEN_ELFNOTE_PHYS32_ENTRY = 18): 32-bit protected
 *               mode, paging off (QEMU -M microvm -kernel)
 * Both touch the same guest-physical pages; no page tables are needed (skiff
 * identity-maps the first 4 GiB; PVH runs with paging off). */
#define TOUCH_BASE	0x1000000	/* 16 MiB */
#define TOUCH_SIZE	0x1000000	/* 16 MiB */
#define PAGE		4096

	.section .text.entry, "ax"
	.code64
	.globl _start
_start:
	cli
	mov $TOUCH_BASE, %edi
	mov $TOUCH_SIZE / PAGE, %ecx
1:	movb $1, (%rdi)
	add $PAGE, %rdi
	dec %ecx
	jnz 1b
2:	hlt
	jmp 2b

	.code32
	.globl pvh_entry32
pvh_entry32:
	cli
	mov $TOUCH_BASE, %edi
	mov $TOUCH_SIZE / PAGE, %ecx
1:	movb $1, (%edi)
	add $PAGE, %edi
	dec %ecx
	jnz 1b
2:	hlt
	jmp 2b

/* Xen PVH entry note: namesz 4, descsz 4, type 18, "Xen", 32-bit entry. */
	.section .note.Xen, "a", @note
	.balign 4
	.long 4, 4, 18
	.asciz "Xen"
	.balign 4
	.long pvh_entry32
	.balign 4

	.section .note.GNU-stack, "", @progbits
