/* PCI: conventional type-0 functions on bus 0 behind one host bridge
 * (00:00.0), reached through configuration mechanism #1 (ports 0xCF8/0xCFC)
 * and through ECAM (PCI Express Base 4.0 §7.2.2; MMIO window described by
 * the ACPI MCFG table). PCI Local Bus 3.0 §6 for the configuration header.
 *
 * A device model fills a struct pci_device (identity, BARs, capabilities)
 * and adds it to the bus; the bus owns slot numbers, BAR placement in the
 * 32-bit and 64-bit MMIO windows, BAR sizing and moves, the command
 * register's decode enables, and legacy INTx routing (slot -> GSI, described
 * by the DSDT's _PRT). BAR accesses reach the device's bus_io_fn with the
 * offset inside the BAR, on a vCPU thread.
 *
 * Every guest-controlled configuration offset and length is checked here;
 * a device's cfg_write hook only sees accesses inside its 4 KiB space. */
#ifndef SKIFF_PCI_H
#define SKIFF_PCI_H
#include <stdbool.h>
#include <stdint.h>
#include "core/bus.h"
#include "core/devhost.h"
#include "core/err.h"

#define PCI_CFG_SIZE		4096	/* bytes per function (ECAM); CF8 reaches 256 */
#define PCI_NUM_BARS		6
#define PCI_MAX_SLOTS		32

/* BAR flags */
#define PCI_BAR_IO		0x1	/* I/O space (else memory) */
#define PCI_BAR_MEM64		0x2	/* 64-bit memory BAR (uses two slots) */
#define PCI_BAR_PREFETCH	0x4

struct pci_device;

struct pci_bar {
	uint64_t size;		/* bytes, power of two (>= 16 mem, >= 4 io); 0: unused */
	uint32_t flags;		/* PCI_BAR_* */
	uint64_t addr;		/* GPA or port the BAR is programmed with: set by
				 * pci_bus_add, then follows guest writes (whether
				 * it decodes is reported through bar_moved) */
	bus_io_fn fn;		/* accesses, offset relative to the BAR */
	void *opaque;
};

struct pci_device {
	const char *name;			/* static, for logs */
	uint8_t cfg[PCI_CFG_SIZE];		/* configuration space image */
	uint8_t wmask[PCI_CFG_SIZE];		/* bits the guest may write */
	uint8_t w1cmask[PCI_CFG_SIZE];		/* write-1-to-clear bits (status) */
	struct pci_bar bar[PCI_NUM_BARS];
	uint16_t cap_next;			/* next free capability offset (pci_dev_add_cap) */
	uint8_t slot;				/* set by pci_bus_add */
	uint32_t intx_gsi;			/* GSI of INTA#, set by pci_bus_add */
	/* Optional: called after the generic code applied a guest write of
	 * `len` bytes (1, 2 or 4) at `off`, e.g. for MSI-X control bits.
	 * Runs on a vCPU thread under the bus's configuration lock: it may
	 * call pci_set_intx and msix_cfg_write, not pci_bus_cfg_access. */
	void (*cfg_write)(struct pci_device *d, uint32_t off, uint32_t len);
	/* Optional: a BAR's decoding changed: addr is its new GPA/port, or 0
	 * when decoding is now off (command register or sizing). Lets the
	 * device move ioeventfds. Called on a vCPU thread. */
	void (*bar_moved)(struct pci_device *d, int bar, uint64_t addr);
	void *opaque;				/* the device model */
	struct pci_bus *bus;			/* set by pci_bus_add */
};

/* Initialise identity (PCI 3.0 §6.2.1): header type 0, interrupt pin INTA#,
 * capability list empty; everything else zero. */
void pci_dev_init(struct pci_device *d, const char *name, uint16_t vendor, uint16_t device,
		  uint32_t class_code /* 24 bits: class, subclass, prog-if */,
		  uint16_t subsys_vendor, uint16_t subsys_id, uint8_t revision);
/* Declare BAR idx (before pci_bus_add): size a power of two, memory >= 16
 * bytes (32-bit: <= 2 GiB), I/O 4..256 bytes; a 64-bit BAR uses idx and
 * idx + 1 (idx <= 4, both unused). Sets the BAR's type bits and its
 * writable mask (sizing: all-ones reads back ~(size - 1)). Returns 0 or
 * -EINVAL. */
int pci_dev_set_bar(struct pci_device *d, int idx, uint64_t size, uint32_t flags,
		    bus_io_fn fn, void *opaque);
/* Append a capability of `len` bytes (>= 2; id and next are filled in) to
 * the capability list (PCI 3.0 §6.7), dword-aligned from 0x40 within the
 * first 256 bytes. Returns its offset in configuration space, -EINVAL (len
 * < 2) or -ENOSPC. The caller fills the body and sets wmask for writable
 * bytes. */
int pci_dev_add_cap(struct pci_device *d, uint8_t cap_id, uint32_t len);

struct pci_bus;	/* opaque */

/* Create the host bridge and register 0xCF8-0xCFF and the I/O window on pio
 * and the ECAM window and both MMIO windows (boot/layout.h) on mmio; the
 * ranges stay registered, unchanged, until pci_bus_destroy (BAR moves are
 * dispatched inside the windows). A 1-byte range already at 0xCF9 (the
 * PIIX reset control register) is taken over and byte accesses to it are
 * forwarded, so create the platform devices first. The 64-bit window is
 * placed above host->mem's RAM (4 GiB if host->mem is NULL). `host` gives
 * interrupt services (set_irq for INTx); it must outlive the bus. Returns 0
 * and *out, or -errno (-EEXIST: a window overlaps a registered range,
 * -ENOMEM) with *e. */
int pci_bus_create(const struct dev_host *host, struct bus *pio, struct bus *mmio,
		   struct pci_bus **out, struct skiff_err *e);
/* Add a device at the next free slot (1..31; 0 is the host bridge); places
 * its BARs (I/O BARs in the I/O window, memory BARs in the 32-bit window,
 * 64-bit BARs there too when they fit, else in the 64-bit window) and
 * sets slot, intx_gsi and the interrupt line register. Decoding stays off
 * until the guest sets the command register. The device must outlive the
 * bus. Returns the slot, or -ENOSPC (no slot, a window full) or -EINVAL
 * with *e. Call before vCPUs run. */
int pci_bus_add(struct pci_bus *b, struct pci_device *d, struct skiff_err *e);
/* Raise or lower the device's INTA# (level; shared GSIs are wired-OR; the
 * command register's Interrupt Disable holds it low). Thread-safe. */
void pci_set_intx(struct pci_device *d, int level);
void pci_bus_destroy(struct pci_bus *b);
/* Configuration access as the CPU sees it, for tests and fuzzing: bus 0
 * devfn (device << 3 | function), byte offset, len 1/2/4/8 naturally
 * aligned; anything else, or an absent function, reads all-ones and drops
 * writes. Thread-safe. */
void pci_bus_cfg_access(struct pci_bus *b, uint32_t devfn, uint32_t off, uint8_t *data,
			uint32_t len, bool is_write);

#endif
