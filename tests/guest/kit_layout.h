/* Constants shared by the guest kit's assembly (start.S) and C (kit.c).
 * Everything here is the kit's own choice, not part of skiff's boot contract,
 * except the values marked "skiff" (see src/boot/layout.h). */
#ifndef KIT_LAYOUT_H
#define KIT_LAYOUT_H

#define KIT_MAX_CPUS		64
#define KIT_KSTACK_SHIFT	12	/* 4 KiB CPL0 stack per CPU (faults only) */
#define KIT_USTACK_SHIFT	14	/* 16 KiB CPL3 stack per CPU */
#define KIT_TSS_SHIFT		7	/* TSSs 128 bytes apart */
#define KIT_MAX_GIB		64	/* the kit maps guest physical memory below 64 GiB */

/* GDT selectors. */
#define KIT_CS32		0x08	/* 32-bit code, AP trampoline and PVH entry */
#define KIT_CS64		0x10	/* 64-bit code, CPL0 (same as skiff's boot CS) */
#define KIT_DS			0x18	/* data, CPL0 (same as skiff's boot DS) */
#define KIT_UCS			0x23	/* 64-bit code, CPL3 */
#define KIT_UDS			0x2b	/* data, CPL3 */
#define KIT_TSS0		0x30	/* TSS of CPU i at KIT_TSS0 + 16 * i */
#define KIT_GDT_SIZE		(KIT_TSS0 + 16 * KIT_MAX_CPUS)

#define KIT_IDT_VECTORS		32	/* exceptions only: interrupts stay off */

/* Zero page (struct boot_params) offsets, Linux boot protocol. */
#define BP_E820_ENTRIES		0x1e8
#define BP_CMD_LINE_PTR		0x228
#define BP_E820_TABLE		0x2d0
#define BP_E820_MAX		128

#define KIT_TRAMP_GPA		0x30000	/* AP real-mode trampoline (skiff: BOOT_LOW_FREE_GPA) */

/* Kernel calls: the payload executes ud2 with RAX = KIT_KCALL_MAGIC and
 * RDI = call number; the #UD handler serves it at CPL0. (int $n from CPL3
 * raises #UD on KVM PVM, so a software interrupt cannot be used.) */
#define KIT_KCALL_MAGIC		0x4c4c41434b54494b	/* "KITKCALL" */
#define KIT_KCALL_HALT		1	/* cli; hlt forever (an AP that is done) */
#define KIT_KCALL_BREAK_IDT	2	/* load an IDT with limit 0, return */
#define KIT_KCALL_TRIPLE	3	/* load an IDT with limit 0, then ud2 at CPL0 */
#define KIT_KCALL_OUT_LOOP	4	/* RSI times: out AL (= RAX's low byte: the
					   magic's 0x4b) to port DX, at CPL0 */
#define KIT_KCALL_WRITE		5	/* RDX bytes at RSI to COM1 (polling LSR) */
#define KIT_KCALL_FLUSH_TLB	6	/* reload CR3 (after kit_map_mmio edits) */

/* Exit codes the kit itself uses (port 0xf4). */
#define KIT_EXIT_EXCEPTION	0x80	/* + vector, for an unexpected exception */
#define KIT_EXIT_TOO_MANY_CPUS	0xa1	/* an AP found no free slot */

#endif
