/* PCI for the guest kit: configuration space of bus 0 through ECAM (the
 * window the ACPI MCFG table describes, mapped with kit_map_mmio and
 * accessed from CPL3 like any MMIO) or through configuration mechanism #1
 * (ports 0xCF8/0xCFC; on KVM PVM each access is a #GP emulated by the kit,
 * about 70 us). PCI Local Bus 3.0 §6, PCI Express Base 4.0 §7.2.2.
 *
 * A function is named by its bdf: bus << 8 | device << 3 | function.
 * Reads of absent functions return all-ones, as the hardware does. */
#ifndef KIT_PCI_H
#define KIT_PCI_H
#include "kit.h"

#define PCI_BDF(bus, dev, fn)	((uint16_t)((bus) << 8 | (dev) << 3 | (fn)))

/* Configuration header offsets (type 0). */
#define PCI_VENDOR_ID		0x00
#define PCI_DEVICE_ID		0x02
#define PCI_COMMAND		0x04
#define PCI_STATUS		0x06
#define PCI_REVISION		0x08
#define PCI_CLASS_PROG		0x09
#define PCI_HEADER_TYPE		0x0e
#define PCI_BAR0		0x10
#define PCI_SUBSYS_VENDOR	0x2c
#define PCI_SUBSYS_ID		0x2e
#define PCI_CAP_PTR		0x34
#define PCI_INT_LINE		0x3c
#define PCI_INT_PIN		0x3d

#define PCI_CMD_IO		0x0001
#define PCI_CMD_MEM		0x0002
#define PCI_CMD_MASTER		0x0004
#define PCI_CMD_INTX_DISABLE	0x0400
#define PCI_STATUS_CAP_LIST	0x0010

#define PCI_CAP_MSIX		0x11
#define PCI_CAP_VENDOR		0x09

enum pci_method {
	PCI_ECAM = 1,		/* MMIO window from the ACPI MCFG table */
	PCI_CF8,		/* ports 0xCF8/0xCFC, offsets below 256 only */
};

/* Choose the access method. PCI_ECAM needs an MCFG table (the window for
 * bus 0 is mapped here). Returns 0, or -1 (with a message) if unusable. */
int pci_init(enum pci_method m);
enum pci_method pci_method(void);
uint64_t pci_ecam_base(void);		/* MCFG's base for segment 0, or 0 */
/* The first ACPI table with this signature (RSDP in 0xE0000-0xFFFFF, then
 * XSDT or RSDT), checksum verified; NULL if none. */
const void *pci_acpi_table(const char sig[4]);

uint8_t pci_read8(uint16_t bdf, uint16_t off);
uint16_t pci_read16(uint16_t bdf, uint16_t off);
uint32_t pci_read32(uint16_t bdf, uint16_t off);
void pci_write8(uint16_t bdf, uint16_t off, uint8_t v);
void pci_write16(uint16_t bdf, uint16_t off, uint16_t v);
void pci_write32(uint16_t bdf, uint16_t off, uint32_t v);

/* Is there a function at bdf (vendor ID not 0xffff)? */
bool pci_present(uint16_t bdf);
/* BAR i as the VMM placed it: address (memory or port, flag bits masked),
 * *is64 / *is_io if not NULL. For a 64-bit BAR, i is its low half. */
uint64_t pci_bar_addr(uint16_t bdf, int i, bool *is64, bool *is_io);
/* Size BAR i by writing all-ones with decoding off (PCI 3.0 §6.2.5.1), then
 * restore the BAR and the command register. 0 for an unimplemented BAR. */
uint64_t pci_bar_size(uint16_t bdf, int i);
/* Offset of the next capability with this ID after the one at `from`
 * (from = 0: search from the list's start), or 0. */
uint8_t pci_find_cap(uint16_t bdf, uint8_t id, uint8_t from);
/* Set bits in the command register (e.g. PCI_CMD_MEM | PCI_CMD_MASTER). */
void pci_enable(uint16_t bdf, uint16_t cmd_bits);

#endif
