/* MSI-X (PCI Local Bus 3.0 §6.8.2): the capability, the vector table and the
 * pending-bit array (PBA), living in one of the device's memory BARs. Each
 * vector gets a GSI routed to its (address, data) and an irqfd, so raising
 * a vector from the I/O thread is one eventfd write; a masked vector sets
 * its pending bit instead and fires on unmask.
 *
 * Table accesses from the guest must be 4 or 8 bytes, aligned (§6.8.2.9);
 * anything else is ignored (reads give all-ones). Thread-safe: vCPU threads
 * write the table while the I/O thread raises vectors. A vector is routed
 * (host->msi_alloc, msi_route, an eventfd attached with irqfd) when it
 * becomes deliverable (enabled, function and vector unmasked) or on its
 * first interrupt after its message changed; if KVM refuses the message the
 * interrupt goes through host->signal_msi. Lock order: the PCI bus's
 * configuration lock, then m->lock, then the VM's routing lock. */
#ifndef SKIFF_MSIX_H
#define SKIFF_MSIX_H
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "pci/pci.h"

#define MSIX_MAX_VECTORS	64
#define MSIX_NO_VECTOR		0xffff	/* virtio 1.2 §4.1.5.1.2 */

struct msix_vec {
	uint64_t addr;
	uint32_t data;
	uint32_t ctrl;		/* bit 0: masked */
	int gsi;		/* -1 until routed */
	int efd;		/* irqfd eventfd, -1 until routed; owned */
	bool pending;
	bool routed_addr_valid;	/* the route reflects addr/data */
};

struct msix {
	struct pci_device *dev;
	const struct dev_host *host;
	uint16_t nvec;
	int bar;			/* BAR holding table and PBA */
	uint32_t table_off, pba_off;	/* byte offsets inside the BAR */
	uint32_t cap_off;		/* capability offset in config space */
	bool enabled, fmask;		/* Message Control bits 15 and 14, as last written */
	struct msix_vec vec[MSIX_MAX_VECTORS];
	pthread_mutex_t lock;
};

/* Add the capability to d (table at table_off, PBA at pba_off in BAR `bar`,
 * which the caller declares large enough: see msix_table_size()). Every
 * vector starts masked. nvec 1..MSIX_MAX_VECTORS; the BAR a declared memory
 * BAR; both offsets 8-byte aligned, inside the BAR, not overlapping. Returns
 * 0, -EINVAL or -ENOSPC (no room for the capability). m must not move
 * afterwards; msix_destroy releases GSIs and eventfds (safe after a failed
 * init). */
int msix_init(struct msix *m, struct pci_device *d, const struct dev_host *host,
	      uint16_t nvec, int bar, uint32_t table_off, uint32_t pba_off);
void msix_destroy(struct msix *m);
uint32_t msix_table_size(uint16_t nvec);	/* bytes: 16 per vector */
uint32_t msix_pba_size(uint16_t nvec);		/* bytes, multiple of 8 */
/* Does [offset, offset+len) of the BAR hit the table or PBA? Then handle the
 * access and return true. Call from the BAR's bus_io_fn. */
bool msix_bar_access(struct msix *m, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);
/* Call from the device's cfg_write hook (handles Enable and Function Mask). */
void msix_cfg_write(struct msix *m, uint32_t off, uint32_t len);
/* MSI-X enabled by the guest (and not function-masked is not implied). */
bool msix_enabled(struct msix *m);
/* Raise vector v: sent now if deliverable, else its pending bit is set
 * (masked) or, with MSI-X disabled, nothing happens (the transport uses
 * INTx then). Returns 0, or -EINVAL for a vector out of range (the guest's
 * choice: callers treat it as "no interrupt"). Thread-safe. */
int msix_notify(struct msix *m, uint16_t v);

#endif
