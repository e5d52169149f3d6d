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
	uint64_t addr;		/* current GPA or port; set by the bus */
	bus_io_fn fn;		/* accesses, offset relative to the BAR */
	void *opaque;
};

struct pci_device {
	const char *name;			/* static, for logs */
	uint8_t cfg[PCI_CFG_SIZE];		/* configuration space image */
	uint8_t wmask[PCI_CFG_SIZE];		/* bits the guest may write */
	uint8_t w1cmask[PCI_CFG_SIZE];		/* write-1-to-clear bits (status) */
	struct pci_bar bar[PCI_NUM_BARS];
	uint8_t slot;				/* set by pci_bus_add */
	uint32_t intx_gsi;			/* GSI of INTA#, set by pci_bus_add */
	/* Optional: called after the generic code applied a guest write of
	 * `len` bytes (1, 2 or 4) at `off`, e.g. for MSI-X control bits. */
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
/* Declare BAR idx (before pci_bus_add). Returns 0 or -EINVAL. */
int pci_dev_set_bar(struct pci_device *d, int idx, uint64_t size, uint32_t flags,
		    bus_io_fn fn, void *opaque);
/* Append a capability of `len` bytes (>= 2; id and next are filled in) to
 * the capability list. Returns its offset in configuration space, or
 * -ENOSPC. The caller fills the body and sets wmask for writable bytes. */
int pci_dev_add_cap(struct pci_device *d, uint8_t cap_id, uint32_t len);

struct pci_bus;	/* opaque */

/* Create the host bridge and register 0xCF8-0xCFF on pio and the ECAM
 * window and both MMIO windows (layout.h) on mmio. `host` gives interrupt
 * services (set_irq for INTx). Returns 0 and *out, or -errno with *e. */
int pci_bus_create(const struct dev_host *host, struct bus *pio, struct bus *mmio,
		   struct pci_bus **out, struct skiff_err *e);
/* Add a device at the next free slot; places its BARs. The device must
 * outlive the bus (or be removed first). Returns the slot or -errno. Call
 * before vCPUs run. */
int pci_bus_add(struct pci_bus *b, struct pci_device *d, struct skiff_err *e);
/* Raise or lower the device's INTA# (level). Thread-safe. */
void pci_set_intx(struct pci_device *d, int level);
void pci_bus_destroy(struct pci_bus *b);
/* Configuration access as the CPU sees it, for tests and fuzzing: bus 0
 * device/function/offset; out-of-range or absent functions read all-ones. */
void pci_bus_cfg_access(struct pci_bus *b, uint32_t devfn, uint32_t off, uint8_t *data,
			uint32_t len, bool is_write);

#endif
