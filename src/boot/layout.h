/* The guest physical address (GPA) map skiff builds for an x86 guest.
 * Low memory follows the PC layout Linux expects (Linux boot protocol,
 * Documentation/arch/x86/boot.rst, "64-bit boot protocol"); the 32-bit PCI
 * hole (3-4 GiB) holds the PCI windows, the IOAPIC, LAPIC and KVM's
 * TSS/identity-map pages. */
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

/* PCI (pci/pci.h; described by the ACPI MCFG table and \_SB.PCI0's _CRS).
 * The 32-bit MMIO window and ECAM fill the bottom of the 3-4 GiB hole; ECAM
 * covers bus 0 only (1 MiB: 32 devices x 8 functions x 4 KiB) and is
 * reserved in the e820 map. The 64-bit window starts at the first 1 GiB
 * boundary at or above both 4 GiB and the end of RAM. */
#define PCI_MMIO32_BASE		0xC0000000ULL
#define PCI_MMIO32_SIZE		0x20000000ULL	/* 512 MiB: 0xC0000000-0xDFFFFFFF */
#define PCI_ECAM_BASE		0xE0000000ULL
#define PCI_ECAM_SIZE		0x100000ULL	/* bus 0 */
#define PCI_MMIO64_SIZE		(64ULL << 30)	/* 64 GiB */
#define PCI_MMIO64_ALIGN	(1ULL << 30)
#define PCI_IO_BASE		0xC000		/* I/O BARs: ports 0xC000-0xFFFF */
#define PCI_IO_SIZE		0x4000
#define PCI_CONF1_PORT		0xCF8		/* configuration mechanism #1: 0xCF8-0xCFF */
#define PCI_CONF1_LEN		8
#define PCI_INTX_GSI_BASE	16		/* slot s, pin p (INTA=0) -> GSI 16 + (s + p) % 8 */
#define PCI_INTX_GSI_COUNT	8

/* Base of the 64-bit PCI window for guest RAM ending at ram_end (highest
 * RAM GPA + 1, bytes). */
static inline unsigned long long pci_mmio64_base(unsigned long long ram_end)
{
	unsigned long long b = ram_end > 0x100000000ULL ? ram_end : 0x100000000ULL;
	return (b + PCI_MMIO64_ALIGN - 1) & ~(PCI_MMIO64_ALIGN - 1);
}

#define BOOT_CS_SELECTOR	0x10
#define BOOT_DS_SELECTOR	0x18

#endif
