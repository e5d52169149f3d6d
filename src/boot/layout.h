/* The guest physical address (GPA) map skiff builds for an x86 guest.
 * Low memory follows the PC layout Linux expects (Linux boot protocol,
 * Documentation/arch/x86/boot.rst, "64-bit boot protocol"); the 32-bit PCI
 * hole (3-4 GiB) holds the IOAPIC, LAPIC and KVM's TSS/identity-map pages. */
#ifndef SKIFF_LAYOUT_H
#define SKIFF_LAYOUT_H

#define BOOT_GDT_GPA		0x500ULL	/* 4 entries: null, null, code64 (0x10), data (0x18) */
#define BOOT_IDT_GPA		0x520ULL	/* empty IDT (limit 0); Linux loads its own */
#define BOOT_ZERO_PAGE_GPA	0x7000ULL	/* struct boot_params, 4 KiB */
#define BOOT_STACK_TOP_GPA	0x8ff0ULL	/* initial RSP */
#define BOOT_PML4_GPA		0x9000ULL	/* boot page tables: PML4 */
#define BOOT_PDPT_GPA		0xa000ULL	/* one PDPT */
#define BOOT_PD_GPA		0xb000ULL	/* 4 PDs (0xb000-0xefff): 4 GiB of 2 MiB pages */
#define BOOT_PD_COUNT		4
#define BOOT_CMDLINE_GPA	0x20000ULL	/* kernel command line, up to 64 KiB */
#define BOOT_CMDLINE_MAX	0x10000ULL
#define BOOT_LOW_FREE_GPA	0x30000ULL	/* 0x30000-0x9fbff: free for guests (test kit trampolines) */
#define BOOT_EBDA_GPA		0x9fc00ULL	/* e820: reserved from here to 1 MiB */
#define BOOT_ACPI_GPA		0xe0000ULL	/* RSDP then ACPI tables, below 1 MiB */
#define BOOT_ACPI_END		0x100000ULL
#define BOOT_HIGH_GPA		0x100000ULL	/* 1 MiB: bzImage protected-mode code */

#define X86_IOAPIC_GPA		0xfec00000ULL
#define X86_LAPIC_GPA		0xfee00000ULL
#define X86_IDENTITY_MAP_GPA	0xfeffc000ULL	/* KVM_SET_IDENTITY_MAP_ADDR: 1 page */
#define X86_TSS_GPA		0xfeffd000ULL	/* KVM_SET_TSS_ADDR: 3 pages */

#define BOOT_CS_SELECTOR	0x10
#define BOOT_DS_SELECTOR	0x18

#endif
