/* ACPI tables for a PC-compatible x86 guest, built in C with no firmware.
 *
 * acpi_build() writes, all inside guest RAM at [ACPI_RSDP_GPA, 1 MiB) (the
 * legacy BIOS area that an OS scans for the RSDP):
 *   RSDP (ACPI 6.4 §5.2.5, revision 2) -> XSDT (§5.2.8) -> FADT (§5.2.9,
 *   revision 6, full "legacy" hardware model, not hardware-reduced), MADT
 *   (§5.2.12) and MCFG (PCI Firmware 3.2 §4.1.2: the ECAM window of
 *   segment 0, bus 0); the FADT points at the FACS (§5.2.10) and the DSDT
 *   (§5.2.11.1) whose AML defines \_S5 so the OS can power off through
 *   PM1a_CNT (§4.8.3.2.1, §7.4.2), and the PCI host bridge \_SB.PCI0
 *   (PNP0A08/PNP0A03, segment 0, bus 0; _CRS: bus 0-0, ports 0xCF8-0xCFF,
 *   the I/O window, the 32-bit and 64-bit memory windows of boot/layout.h;
 *   _PRT: INTA-INTD of every slot to GSIs 16-23).
 * The e820 map must also reserve the ECAM window (boot_e820_reserve).
 * The e820 map must report [ACPI_RSDP_GPA, ACPI_REGION_END) as reserved:
 * the FACS may not sit in AddressRangeMemory (§5.2.10).
 *
 * The platform described: one I/O APIC, xAPIC local APICs (APIC ID = vCPU
 * index), ISA IRQ0 routed to GSI 2, the SCI on ISA IRQ 9 = GSI 9 (level,
 * active high), PM1a event/control blocks at I/O ports (see dev/acpi_pm.h),
 * reset through I/O port 0xCF9, no PM timer, no GPE blocks. */
#ifndef SKIFF_ACPI_H
#define SKIFF_ACPI_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/err.h"
#include "core/guest_mem.h"

#define ACPI_RSDP_GPA      0xE0000ULL	/* 16-byte aligned, inside the BIOS scan area */
#define ACPI_REGION_END    0x100000ULL	/* every table lies below 1 MiB */

#define ACPI_PM1A_EVT_PORT 0x600	/* 4 bytes: PM1 status (2) + enable (2) */
#define ACPI_PM1A_CNT_PORT 0x604	/* 2 bytes: PM1 control */
#define ACPI_PM1_EVT_LEN   4		/* bytes */
#define ACPI_PM1_CNT_LEN   2		/* bytes */
#define ACPI_RESET_PORT    0xcf9	/* 1 byte: PIIX-style reset control */
#define ACPI_RESET_VALUE   0x06		/* written to ACPI_RESET_PORT to reset */
#define ACPI_SCI_IRQ       9		/* ISA IRQ and GSI of the SCI */
#define ACPI_SLP_TYP_S5    5		/* SLP_TYP value of \_S5 (soft off) */
#define ACPI_IOAPIC_ADDR   0xFEC00000u
#define ACPI_LAPIC_ADDR    0xFEE00000u

/* What the tables describe. Ports are I/O port numbers; addresses are GPAs. */
struct acpi_params {
	uint32_t ncpus;		/* vCPUs, 1..SKIFF_MAX_VCPUS; APIC IDs 0..ncpus-1 */
	uint8_t ioapic_id;	/* APIC ID of the I/O APIC */
	uint32_t ioapic_addr;	/* MMIO base of the I/O APIC */
	uint32_t lapic_addr;	/* MMIO base of the local APICs */
	uint16_t pm1a_evt_port;	/* ACPI_PM1_EVT_LEN bytes */
	uint16_t pm1a_cnt_port;	/* ACPI_PM1_CNT_LEN bytes */
	uint16_t sci_irq;	/* ISA IRQ of the SCI (1..15, not 2); GSI = IRQ */
	uint64_t pci_mmio64_base;	/* 64-bit PCI window (pci_mmio64_base()), bytes */
	uint64_t pci_mmio64_size;	/* 0: no 64-bit window */
};

#define ACPI_PCI_SLOTS	32	/* devices on bus 0 that _PRT describes */

/* Defaults: ioapic_id = ncpus, the addresses and ports #defined above, the
 * 64-bit PCI window for RAM below 4 GiB. */
void acpi_params_default(struct acpi_params *p, uint32_t ncpus);

/* Build all tables into guest RAM (see the top of this file). Returns 0 and
 * *rsdp_gpa (= ACPI_RSDP_GPA), or -EINVAL (bad params: ncpus 0 or above
 * SKIFF_MAX_VCPUS, a zero port, a bad SCI IRQ) or -ENOSPC (the tables do not
 * fit below ACPI_REGION_END, or guest RAM does not cover that range), with e
 * filled. Call before any vCPU runs; overwrites [ACPI_RSDP_GPA, end). */
int acpi_build(struct guest_mem *gm, const struct acpi_params *p,
	       uint64_t *rsdp_gpa, struct skiff_err *e);

/* A tiny AML byte builder (ACPI 6.4 §20.2), enough for the DSDT. Writes past
 * cap are counted but not stored; aml_ok() says whether everything fit. */
struct aml {
	uint8_t *buf;	/* not owned */
	size_t cap;	/* bytes available in buf */
	size_t len;	/* bytes emitted so far (may exceed cap) */
	bool bad;	/* an encoding error (bad name, package too long) */
};

void aml_init(struct aml *a, uint8_t *buf, size_t cap);
bool aml_ok(const struct aml *a);
void aml_byte(struct aml *a, uint8_t b);
/* NameString: an optional leading '\' then one 4-character NameSeg. */
void aml_name(struct aml *a, const char *name);
/* Integer as ZeroOp, OneOp or the smallest Byte/Word/DWord/QWord const. */
void aml_integer(struct aml *a, uint64_t v);
/* Emit `op` and open a PkgLength-prefixed body; returns the body's start
 * for aml_close(), which inserts the PkgLength (§20.2.4) in front of it. */
size_t aml_open(struct aml *a, uint8_t op);
void aml_close(struct aml *a, size_t start);

/* The DSDT's AML body (after the table header): Scope(\_SB) { Device(PCI0)
 * {...} } and Name(_S5, Package() { 5, 5, 0, 0 }). Returns its length in
 * bytes, or 0 if it does not fit in cap. */
size_t acpi_dsdt_aml(uint8_t *buf, size_t cap, const struct acpi_params *p);

#endif
