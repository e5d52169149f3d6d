/* virtio over PCI, modern interface only (virtio 1.2 §4.1): vendor 0x1af4,
 * device 0x1040 + device ID, revision 1; the common, notify, ISR and device
 * configuration structures in BAR 0 (64-bit memory BAR), announced by vendor
 * capabilities (§4.1.4); MSI-X with one vector per queue plus configuration
 * (table and PBA in BAR 0 too); INTx through the ISR status as fallback.
 *
 * Each queue's notify address gets its own ioeventfd (notify_off_multiplier
 * 4), watched on the VM's I/O thread, so a guest kick costs no exit to
 * userspace on the vCPU. Used-buffer interrupts go out through the vector's
 * irqfd. Register offsets and lengths from the guest are all checked. */
#ifndef SKIFF_VIRTIO_PCI_H
#define SKIFF_VIRTIO_PCI_H
#include "core/err.h"
#include "pci/pci.h"
#include "virtio/virtio.h"

struct virtio_pci;	/* opaque */

/* Create the PCI function for vd and add it to bus. Returns 0 and *out, or
 * -errno with *e naming the problem. vd must outlive it. */
int virtio_pci_create(struct virtio_device *vd, struct pci_bus *bus, struct virtio_pci **out,
		      struct skiff_err *e);
void virtio_pci_destroy(struct virtio_pci *vp);
/* The PCI function (for tests). */
struct pci_device *virtio_pci_dev(struct virtio_pci *vp);

#endif
