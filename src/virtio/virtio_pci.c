/* Modern virtio-pci transport (virtio 1.2 §4.1); see virtio_pci.h.
 *
 * BAR 0 (64-bit memory, not prefetchable: ISR reads have side effects):
 *   0x0000  common configuration (§4.1.4.3)         VIRTIO_PCI_CAP_COMMON_CFG
 *   0x1000  ISR status, 1 byte (§4.1.4.5)           VIRTIO_PCI_CAP_ISR_CFG
 *   0x2000  device configuration (§4.1.4.6)         VIRTIO_PCI_CAP_DEVICE_CFG
 *   0x3000  notifications, 4 bytes per queue        VIRTIO_PCI_CAP_NOTIFY_CFG
 *   0x4000  MSI-X table, 0x5000 MSI-X PBA (pci/msix.h)
 *
 * Locks: vp->lock serialises register accesses from vCPU threads and is
 * never taken on the I/O thread, so holding it across evloop_call (reset,
 * DRIVER_OK, queue enable) cannot deadlock. The interrupt path (I/O thread)
 * reads the MSI-X vector registers as atomics and takes only isr_lock
 * (ISR + INTx level together) and the MSI-X lock. notify_lock guards the
 * ioeventfd registrations (bar_moved runs under the bus's cfg_lock). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include "core/evloop.h"
#include "pci/msix.h"
#include "virtio/virtio_pci.h"

#define VIRTIO_PCI_VENDOR	0x1af4
#define VIRTIO_PCI_DEVICE_BASE	0x1040	/* §4.1.2.1: 0x1040 + device ID */
#define VIRTIO_PCI_SUBSYS_BASE	0x40	/* §4.1.2.1: non-transitional: >= 0x40 */
#define VIRTIO_PCI_REVISION	1

/* Vendor capability (§4.1.4): struct virtio_pci_cap field offsets. */
#define PCI_CAP_ID_VNDR		0x09
#define VCAP_LEN		2
#define VCAP_CFG_TYPE		3
#define VCAP_BAR		4
#define VCAP_ID			5
#define VCAP_OFFSET		8
#define VCAP_LENGTH		12
#define VCAP_NOTIFY_MULT	16
#define VCAP_SIZE		16
#define VCAP_NOTIFY_SIZE	20

#define VIRTIO_PCI_CAP_COMMON_CFG	1
#define VIRTIO_PCI_CAP_NOTIFY_CFG	2
#define VIRTIO_PCI_CAP_ISR_CFG		3
#define VIRTIO_PCI_CAP_DEVICE_CFG	4

/* BAR 0 layout */
#define VP_BAR			0
#define VP_BAR_SIZE		0x8000
#define VP_COMMON_OFF		0x0000
#define VP_COMMON_LEN		0x40	/* the structure is 0x3c bytes */
#define VP_ISR_OFF		0x1000
#define VP_ISR_LEN		1
#define VP_DEVICE_OFF		0x2000
#define VP_DEVICE_MAX		0x1000
#define VP_NOTIFY_OFF		0x3000
#define VP_NOTIFY_MULT		4
#define VP_MSIX_TABLE_OFF	0x4000
#define VP_MSIX_PBA_OFF		0x5000

/* Common configuration registers (§4.1.4.3). */
#define CC_DFSELECT		0x00	/* le32 device_feature_select */
#define CC_DF			0x04	/* le32 device_feature (RO) */
#define CC_GFSELECT		0x08	/* le32 driver_feature_select */
#define CC_GF			0x0c	/* le32 driver_feature */
#define CC_MSIX_CONFIG		0x10	/* le16 config_msix_vector */
#define CC_NUM_QUEUES		0x12	/* le16 (RO) */
#define CC_STATUS		0x14	/* u8 device_status */
#define CC_GENERATION		0x15	/* u8 config_generation (RO) */
#define CC_Q_SELECT		0x16	/* le16 */
#define CC_Q_SIZE		0x18	/* le16 */
#define CC_Q_MSIX		0x1a	/* le16 */
#define CC_Q_ENABLE		0x1c	/* le16 */
#define CC_Q_NOTIFY_OFF		0x1e	/* le16 (RO) */
#define CC_Q_DESC		0x20	/* le64 */
#define CC_Q_DRIVER		0x28	/* le64 */
#define CC_Q_DEVICE		0x30	/* le64 */
#define CC_Q_NOTIFY_DATA	0x38	/* le16 (RO; VIRTIO_F_NOTIF_CONFIG_DATA, not offered) */
#define CC_Q_RESET		0x3a	/* le16 (VIRTIO_F_RING_RESET, not offered) */

#define ISR_QUEUE		0x1
#define ISR_CONFIG		0x2

struct vp_kick {
	struct virtio_pci *vp;
	uint16_t q;
	int efd;		/* owned; -1 if none */
	bool watched;		/* on the event loop */
	bool ioeventfd;		/* registered with KVM at notify_gpa */
};

struct virtio_pci {
	struct pci_device pci;
	struct msix msix;
	struct virtio_device *vd;	/* not owned */
	const struct dev_host *host;	/* not owned */
	uint16_t nq, nvec;

	pthread_mutex_t lock;		/* registers, vCPU threads only */
	uint32_t dfselect, gfselect;
	uint16_t queue_select;
	uint16_t msix_config;		/* atomic: read by the interrupt path */
	uint16_t queue_vec[VIRTIO_MAX_QUEUES];	/* atomic, likewise */

	pthread_mutex_t isr_lock;	/* isr and the INTx level, together */
	uint8_t isr;

	pthread_mutex_t notify_lock;	/* kick[].ioeventfd, notify_gpa */
	uint64_t notify_gpa;		/* where the ioeventfds are; 0: none */
	bool warned_ioeventfd;
	struct vp_kick kick[VIRTIO_MAX_QUEUES];
};

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, uint32_t len)
{
	uint64_t v = 0;
	for (uint32_t i = 0; i < len; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void put_le(uint8_t *p, uint64_t v, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* [off, off+len) inside [base, base+size)? Overflow-safe. */
static bool inside(uint64_t off, uint32_t len, uint64_t base, uint64_t size)
{
	return off >= base && len <= size && off - base <= size - len;
}

/* ---- interrupts (any thread) ---- */

static void vp_interrupt(struct virtio_device *vd, uint16_t q)
{
	struct virtio_pci *vp = vd->transport;
	if (msix_enabled(&vp->msix)) {
		uint16_t v = q == 0xffff ? __atomic_load_n(&vp->msix_config, __ATOMIC_RELAXED)
			   : q < vp->nq ? __atomic_load_n(&vp->queue_vec[q], __ATOMIC_RELAXED)
					: MSIX_NO_VECTOR;
		if (v != MSIX_NO_VECTOR)
			msix_notify(&vp->msix, v);	/* -EINVAL: the guest's choice */
		return;
	}
	pthread_mutex_lock(&vp->isr_lock);
	vp->isr |= q == 0xffff ? ISR_CONFIG : ISR_QUEUE;
	pci_set_intx(&vp->pci, 1);
	pthread_mutex_unlock(&vp->isr_lock);
}

static const struct virtio_transport_ops vp_tops = { .interrupt = vp_interrupt };

/* §4.1.4.5: reading the ISR clears it and de-asserts INTx. */
static uint8_t isr_read_clear(struct virtio_pci *vp)
{
	pthread_mutex_lock(&vp->isr_lock);
	uint8_t v = vp->isr;
	vp->isr = 0;
	if (v)
		pci_set_intx(&vp->pci, 0);
	pthread_mutex_unlock(&vp->isr_lock);
	return v;
}

/* ---- notifications ---- */

/* I/O thread: a queue's eventfd fired (ioeventfd or the MMIO fallback). */
static void vp_kick_ready(void *opaque, uint32_t events)
{
	struct vp_kick *k = opaque;
	uint64_t v;
	if (read(k->efd, &v, sizeof(v)) != sizeof(v))
		return;		/* spurious wake-up: nothing pending */
	virtio_queue_kick(k->vp->vd, k->q);
}

static void signal_kick(struct vp_kick *k)
{
	uint64_t one = 1;
	ssize_t r = write(k->efd, &one, sizeof(one));
	(void)r;	/* EAGAIN: the counter is saturated, a kick is pending anyway */
}

/* notify_lock held. Drop every ioeventfd at the old address. */
static void unregister_ioeventfds(struct virtio_pci *vp)
{
	const struct dev_host *h = vp->host;
	for (uint16_t q = 0; q < vp->nq; q++) {
		struct vp_kick *k = &vp->kick[q];
		if (!k->ioeventfd)
			continue;
		h->ioeventfd(h->ctx, k->efd, vp->notify_gpa + VP_NOTIFY_OFF + VP_NOTIFY_MULT * q,
			     0, true, false);
		k->ioeventfd = false;
	}
	vp->notify_gpa = 0;
}

/* notify_lock held. A failed registration leaves that queue on the MMIO
 * fallback (vp_notify_write on the vCPU thread signals the same eventfd). */
static void register_ioeventfds(struct virtio_pci *vp, uint64_t bar_gpa)
{
	const struct dev_host *h = vp->host;
	vp->notify_gpa = bar_gpa;
	if (!h->ioeventfd)
		return;
	for (uint16_t q = 0; q < vp->nq; q++) {
		struct vp_kick *k = &vp->kick[q];
		int r = h->ioeventfd(h->ctx, k->efd, bar_gpa + VP_NOTIFY_OFF + VP_NOTIFY_MULT * q, 0,
				     true, true);
		k->ioeventfd = r == 0;
		if (r && !vp->warned_ioeventfd) {
			vp->warned_ioeventfd = true;
			skiff_log(h->log, LOG_INFO,
				  "%s: ioeventfd refused (%s): queue notifications exit to skiff",
				  vp->pci.name, strerror(-r));
		}
	}
}

/* vCPU thread, under the bus's cfg_lock: BAR 0 decodes at addr now (0: off). */
static void vp_bar_moved(struct pci_device *d, int bar, uint64_t addr)
{
	struct virtio_pci *vp = d->opaque;
	if (bar != VP_BAR)
		return;
	pthread_mutex_lock(&vp->notify_lock);
	if (vp->notify_gpa != addr) {
		unregister_ioeventfds(vp);
		if (addr)
			register_ioeventfds(vp, addr);
	}
	pthread_mutex_unlock(&vp->notify_lock);
}

static void vp_notify_write(struct virtio_pci *vp, uint64_t rel, uint32_t len)
{
	/* Linux writes the queue index as 16 bits; any write at a queue's
	 * address is a kick for that queue (the ioeventfds match any length). */
	if (rel % VP_NOTIFY_MULT || rel / VP_NOTIFY_MULT >= vp->nq || len > VP_NOTIFY_MULT ||
	    rel % VP_NOTIFY_MULT + len > VP_NOTIFY_MULT)
		return;
	signal_kick(&vp->kick[rel / VP_NOTIFY_MULT]);
}

/* ---- common configuration ---- */

static uint16_t valid_vector(const struct virtio_pci *vp, uint16_t v)
{
	return v < vp->nvec ? v : MSIX_NO_VECTOR;	/* §4.1.5.1.2: reads back NO_VECTOR */
}

/* The transport's own part of a reset (§4.1.4.3: registers to defaults). */
static void vp_reset_regs(struct virtio_pci *vp)
{
	vp->dfselect = vp->gfselect = 0;
	vp->queue_select = 0;
	__atomic_store_n(&vp->msix_config, MSIX_NO_VECTOR, __ATOMIC_RELAXED);
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		__atomic_store_n(&vp->queue_vec[q], MSIX_NO_VECTOR, __ATOMIC_RELAXED);
	isr_read_clear(vp);
}

/* The selected queue, or NULL if queue_select is out of range. */
static struct virtq *selected(struct virtio_pci *vp)
{
	return vp->queue_select < vp->nq ? &vp->vd->vq[vp->queue_select] : NULL;
}

/* 64-bit queue address registers: one 8-byte access or either 4-byte half
 * (§4.1.3.1). Returns a pointer to the field and the byte shift, or NULL. */
static uint64_t *q_addr_field(struct virtq *q, uint32_t rel, uint32_t len, unsigned *shift)
{
	uint32_t base = rel & ~7u;
	uint64_t *f = base == CC_Q_DESC ? &q->desc_gpa : base == CC_Q_DRIVER ? &q->avail_gpa
		    : base == CC_Q_DEVICE ? &q->used_gpa : NULL;
	if (!f || !(len == 8 || len == 4) || rel % len)
		return NULL;
	*shift = (rel & 4) * 8;
	return f;
}

static void common_read(struct virtio_pci *vp, uint32_t rel, uint8_t *data, uint32_t len)
{
	struct virtio_device *vd = vp->vd;
	struct virtq *q = selected(vp);
	uint64_t v;

	if (rel >= CC_Q_DESC && rel < CC_Q_NOTIFY_DATA) {
		unsigned shift;
		uint64_t *f = q ? q_addr_field(q, rel, len, &shift) : NULL;
		if (f)
			put_le(data, *f >> shift, len);
		else if (!q && (len == 4 || len == 8) && !(rel % len))
			memset(data, 0, len);
		return;
	}
	switch (rel) {
	case CC_DFSELECT: v = vp->dfselect; break;
	case CC_DF: v = vp->dfselect < 2 ? (uint32_t)(vd->host_features >> (32 * vp->dfselect)) : 0; break;
	case CC_GFSELECT: v = vp->gfselect; break;
	case CC_GF: v = vp->gfselect < 2 ? (uint32_t)(vd->driver_features >> (32 * vp->gfselect)) : 0; break;
	case CC_MSIX_CONFIG: v = __atomic_load_n(&vp->msix_config, __ATOMIC_RELAXED); break;
	case CC_NUM_QUEUES: v = vp->nq; break;
	case CC_STATUS: v = __atomic_load_n(&vd->status, __ATOMIC_ACQUIRE); break;
	case CC_GENERATION: v = __atomic_load_n(&vd->config_generation, __ATOMIC_ACQUIRE); break;
	case CC_Q_SELECT: v = vp->queue_select; break;
	case CC_Q_SIZE: v = q ? q->size : 0; break;	/* 0: no such queue */
	case CC_Q_MSIX:
		v = q ? __atomic_load_n(&vp->queue_vec[vp->queue_select], __ATOMIC_RELAXED)
		      : MSIX_NO_VECTOR;
		break;
	case CC_Q_ENABLE: v = q && q->ready; break;
	case CC_Q_NOTIFY_OFF: v = q ? vp->queue_select : 0; break;
	case CC_Q_NOTIFY_DATA: v = q ? vp->queue_select : 0; break;
	case CC_Q_RESET: v = 0; break;
	default: return;
	}
	/* every scalar register is read with its own width */
	static const uint8_t width[CC_Q_DESC] = {
		[CC_DFSELECT] = 4, [CC_DF] = 4, [CC_GFSELECT] = 4, [CC_GF] = 4,
		[CC_MSIX_CONFIG] = 2, [CC_NUM_QUEUES] = 2, [CC_STATUS] = 1, [CC_GENERATION] = 1,
		[CC_Q_SELECT] = 2, [CC_Q_SIZE] = 2, [CC_Q_MSIX] = 2, [CC_Q_ENABLE] = 2,
		[CC_Q_NOTIFY_OFF] = 2,
	};
	uint32_t w = rel < CC_Q_DESC ? width[rel] : 2;
	if (len == w)
		put_le(data, v, len);
}

static void write_status(struct virtio_pci *vp, uint8_t val)
{
	virtio_set_status(vp->vd, val);
	if (!val)
		vp_reset_regs(vp);
}

static void common_write(struct virtio_pci *vp, uint32_t rel, const uint8_t *data, uint32_t len)
{
	struct virtio_device *vd = vp->vd;
	struct virtq *q = selected(vp);
	uint64_t v = get_le(data, len);
	/* queue set-up registers are frozen while the queue is enabled */
	bool q_writable = q && !q->ready;

	if (rel >= CC_Q_DESC && rel < CC_Q_NOTIFY_DATA) {
		unsigned shift;
		uint64_t *f = q_writable ? q_addr_field(q, rel, len, &shift) : NULL;
		if (f) {
			uint64_t mask = len == 8 ? UINT64_MAX : 0xffffffffULL << shift;
			*f = (*f & ~mask) | (v << shift);
		}
		return;
	}
	switch (rel) {
	case CC_DFSELECT:
		if (len == 4)
			vp->dfselect = (uint32_t)v;
		break;
	case CC_GFSELECT:
		if (len == 4)
			vp->gfselect = (uint32_t)v;
		break;
	case CC_GF:
		/* §3.1.1: features are fixed once FEATURES_OK is set */
		if (len == 4 && vp->gfselect < 2 &&
		    !(__atomic_load_n(&vd->status, __ATOMIC_ACQUIRE) & VIRTIO_STATUS_FEATURES_OK)) {
			unsigned s = 32 * vp->gfselect;
			vd->driver_features = (vd->driver_features & ~(0xffffffffULL << s)) | (v << s);
		}
		break;
	case CC_MSIX_CONFIG:
		if (len == 2)
			__atomic_store_n(&vp->msix_config, valid_vector(vp, (uint16_t)v), __ATOMIC_RELAXED);
		break;
	case CC_STATUS:
		if (len == 1)
			write_status(vp, (uint8_t)v);
		break;
	case CC_Q_SELECT:
		if (len == 2)
			vp->queue_select = (uint16_t)v;
		break;
	case CC_Q_SIZE:
		/* the driver may lower it, to a power of two (§4.1.4.3.2) */
		if (len == 2 && q_writable && v && !(v & (v - 1)) && v <= vd->ops->queue_max)
			q->size = (uint16_t)v;
		break;
	case CC_Q_MSIX:
		if (len == 2 && q)
			__atomic_store_n(&vp->queue_vec[vp->queue_select], valid_vector(vp, (uint16_t)v),
					 __ATOMIC_RELAXED);
		break;
	case CC_Q_ENABLE:
		/* writing 0 is forbidden (§4.1.4.3.2) and we offer no RING_RESET */
		if (len == 2 && v == 1 && q_writable)
			virtio_queue_enable(vd, vp->queue_select);
		break;
	default:
		break;	/* read-only or reserved: ignored */
	}
}

/* ---- BAR 0 ---- */

static void device_cfg_access(struct virtio_pci *vp, uint64_t rel, uint8_t *data, uint32_t len,
			      bool is_write)
{
	struct virtio_device *vd = vp->vd;
	if (!inside(rel, len, 0, vd->config_len))
		return;
	pthread_mutex_lock(&vd->lock);
	if (!is_write)
		memcpy(data, vd->config + rel, len);
	else if (vd->ops->config_write)
		vd->ops->config_write(vd, (uint32_t)rel, data, len);
	pthread_mutex_unlock(&vd->lock);
}

static void vp_bar_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct virtio_pci *vp = opaque;
	if (!is_write)
		memset(data, 0xff, len);	/* anything we do not handle */
	if (len != 1 && len != 2 && len != 4 && len != 8)
		return;
	if (msix_bar_access(&vp->msix, off, data, len, is_write))
		return;
	if (inside(off, len, VP_COMMON_OFF, VP_COMMON_LEN)) {
		uint32_t rel = (uint32_t)(off - VP_COMMON_OFF);
		if (!is_write && rel >= CC_Q_RESET + 2) {	/* past the structure */
			memset(data, 0, len);
			return;
		}
		pthread_mutex_lock(&vp->lock);
		if (is_write)
			common_write(vp, rel, data, len);
		else
			common_read(vp, rel, data, len);
		pthread_mutex_unlock(&vp->lock);
	} else if (inside(off, len, VP_ISR_OFF, VP_ISR_LEN)) {
		if (!is_write)
			data[0] = isr_read_clear(vp);
	} else if (inside(off, len, VP_DEVICE_OFF, VP_DEVICE_MAX)) {
		device_cfg_access(vp, off - VP_DEVICE_OFF, data, len, is_write);
	} else if (inside(off, len, VP_NOTIFY_OFF, (uint64_t)VP_NOTIFY_MULT * vp->nq)) {
		if (is_write)
			vp_notify_write(vp, off - VP_NOTIFY_OFF, len);
		else
			memset(data, 0, len);
	}
}

/* vCPU thread, under the bus's cfg_lock. */
static void vp_cfg_write(struct pci_device *d, uint32_t off, uint32_t len)
{
	struct virtio_pci *vp = d->opaque;
	msix_cfg_write(&vp->msix, off, len);
}

/* ---- set-up ---- */

static int add_vcap(struct pci_device *d, uint8_t type, uint32_t off, uint32_t length, bool notify)
{
	int c = pci_dev_add_cap(d, PCI_CAP_ID_VNDR, notify ? VCAP_NOTIFY_SIZE : VCAP_SIZE);
	if (c < 0)
		return c;
	d->cfg[c + VCAP_LEN] = notify ? VCAP_NOTIFY_SIZE : VCAP_SIZE;
	d->cfg[c + VCAP_CFG_TYPE] = type;
	d->cfg[c + VCAP_BAR] = VP_BAR;
	d->cfg[c + VCAP_ID] = 0;
	put32(d->cfg + c + VCAP_OFFSET, off);
	put32(d->cfg + c + VCAP_LENGTH, length);
	if (notify)
		put32(d->cfg + c + VCAP_NOTIFY_MULT, VP_NOTIFY_MULT);
	return 0;
}

/* PCI class code per device type (PCI Code and ID Assignment). */
static uint32_t class_for(uint32_t device_id)
{
	switch (device_id) {
	case VIRTIO_ID_NET: return 0x020000;	/* network, Ethernet */
	case VIRTIO_ID_BLOCK: return 0x018000;	/* mass storage, other */
	case VIRTIO_ID_CONSOLE: return 0x078000;	/* communication, other */
	default: return 0xff0000;		/* unassigned class */
	}
}

static void free_vp(struct virtio_pci *vp)
{
	struct evloop *loop = vp->host->loop;
	pthread_mutex_lock(&vp->notify_lock);
	unregister_ioeventfds(vp);
	pthread_mutex_unlock(&vp->notify_lock);
	for (uint16_t q = 0; q < vp->nq; q++) {
		struct vp_kick *k = &vp->kick[q];
		if (k->watched)
			evloop_del(loop, k->efd);	/* the callback is not running after this */
		if (k->efd >= 0)
			close(k->efd);
	}
	msix_destroy(&vp->msix);
	pthread_mutex_destroy(&vp->notify_lock);
	pthread_mutex_destroy(&vp->isr_lock);
	pthread_mutex_destroy(&vp->lock);
	free(vp);
}

int virtio_pci_create(struct virtio_device *vd, struct pci_bus *bus, struct virtio_pci **out,
		      struct skiff_err *e)
{
	if (!vd || !vd->ops || !vd->host || !bus || !out)
		return skiff_fail(e, EINVAL, "virtio-pci: missing device, host or bus");
	const struct virtio_ops *ops = vd->ops;
	const char *name = ops->name ? ops->name : "virtio";
	const struct dev_host *h = vd->host;
	if (!h->loop)
		return skiff_fail(e, EINVAL, "%s: virtio-pci needs the VM's event loop", name);
	if (vd->config_len > VP_DEVICE_MAX)
		return skiff_fail(e, EINVAL, "%s: device configuration of %u bytes is too large",
				  name, vd->config_len);
	struct virtio_pci *vp = calloc(1, sizeof(*vp));
	if (!vp)
		return skiff_fail(e, ENOMEM, "%s: out of memory", name);
	vp->vd = vd;
	vp->host = h;
	vp->nq = ops->num_queues;
	vp->nvec = (uint16_t)(vp->nq + 1);	/* one per queue plus configuration */
	pthread_mutex_init(&vp->lock, NULL);
	pthread_mutex_init(&vp->isr_lock, NULL);
	pthread_mutex_init(&vp->notify_lock, NULL);
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		vp->kick[q] = (struct vp_kick){ .vp = vp, .q = (uint16_t)q, .efd = -1 };
	vp_reset_regs(vp);

	struct pci_device *d = &vp->pci;
	pci_dev_init(d, name, VIRTIO_PCI_VENDOR, (uint16_t)(VIRTIO_PCI_DEVICE_BASE + ops->device_id),
		     class_for(ops->device_id), VIRTIO_PCI_VENDOR,
		     (uint16_t)(VIRTIO_PCI_SUBSYS_BASE + ops->device_id), VIRTIO_PCI_REVISION);
	d->opaque = vp;
	d->cfg_write = vp_cfg_write;
	d->bar_moved = vp_bar_moved;
	int r = pci_dev_set_bar(d, VP_BAR, VP_BAR_SIZE, PCI_BAR_MEM64, vp_bar_io, vp);
	if (r) {
		free_vp(vp);
		return skiff_fail(e, -r, "%s: cannot declare BAR 0", name);
	}
	r = msix_init(&vp->msix, d, h, vp->nvec, VP_BAR, VP_MSIX_TABLE_OFF, VP_MSIX_PBA_OFF);
	if (!r)
		r = add_vcap(d, VIRTIO_PCI_CAP_COMMON_CFG, VP_COMMON_OFF, VP_COMMON_LEN, false);
	if (!r)
		r = add_vcap(d, VIRTIO_PCI_CAP_NOTIFY_CFG, VP_NOTIFY_OFF,
			     (uint32_t)VP_NOTIFY_MULT * vp->nq, true);
	if (!r)
		r = add_vcap(d, VIRTIO_PCI_CAP_ISR_CFG, VP_ISR_OFF, VP_ISR_LEN, false);
	if (!r && vd->config_len)
		r = add_vcap(d, VIRTIO_PCI_CAP_DEVICE_CFG, VP_DEVICE_OFF, vd->config_len, false);
	if (r) {
		free_vp(vp);
		return skiff_fail(e, -r, "%s: cannot add PCI capabilities", name);
	}
	for (uint16_t q = 0; q < vp->nq; q++) {
		struct vp_kick *k = &vp->kick[q];
		k->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (k->efd < 0) {
			r = -errno;
			free_vp(vp);
			return skiff_fail(e, -r, "%s: eventfd: %s", name, strerror(-r));
		}
		r = evloop_add(h->loop, k->efd, EPOLLIN, vp_kick_ready, k);
		if (r) {
			free_vp(vp);
			return skiff_fail(e, -r, "%s: cannot watch queue notifications: %s", name,
					  strerror(-r));
		}
		k->watched = true;
	}
	vd->tops = &vp_tops;
	vd->transport = vp;
	r = pci_bus_add(bus, d, e);
	if (r < 0) {
		vd->tops = NULL;
		vd->transport = NULL;
		free_vp(vp);
		return r;
	}
	*out = vp;
	return 0;
}

void virtio_pci_destroy(struct virtio_pci *vp)
{
	if (!vp)
		return;
	struct virtio_device *vd = vp->vd;
	/* no more kicks, then stop the device model on the I/O thread */
	for (uint16_t q = 0; q < vp->nq; q++) {
		if (vp->kick[q].watched) {
			evloop_del(vp->host->loop, vp->kick[q].efd);
			vp->kick[q].watched = false;
		}
	}
	virtio_device_reset(vd);
	vd->tops = NULL;
	vd->transport = NULL;
	free_vp(vp);
}

struct pci_device *virtio_pci_dev(struct virtio_pci *vp)
{
	return &vp->pci;
}
