/* A minimal virtio 1.2 driver for the guest kit: the modern virtio-pci
 * transport (§4.1) and split virtqueues (§2.7), polled (no interrupts are
 * needed; MSI-X and the ISR can be exercised on purpose).
 *
 *   struct vdev d;
 *   vdev_find(&d, VIRTIO_ID_BLOCK, 0)     the first virtio-blk in slot order
 *   vdev_init(&d, wanted_features)        reset, ACK, DRIVER, features, FEATURES_OK
 *   vq_init(&d, &q, 0, 0)                 queue 0 at its largest size
 *   vdev_driver_ok(&d)
 *   vq_add(&q, bufs, n, token); vq_kick(&q); vq_wait(&q, &token, &len, timeout)
 *
 * Everything runs at CPL3 through the kit's identity map: BAR regions are
 * mapped with kit_map_mmio, rings and buffers come from kit_alloc (GPA =
 * address). Ring fields are plain memory the hostile guest may scribble on. */
#ifndef KIT_VIRTIO_H
#define KIT_VIRTIO_H
#include "kit.h"
#include "pci.h"

#define VIRTIO_VENDOR		0x1af4
#define VIRTIO_PCI_DEVICE(id)	(0x1040 + (id))

#define VIRTIO_ID_NET		1
#define VIRTIO_ID_BLOCK		2
#define VIRTIO_ID_RNG		4
#define VIRTIO_ID_VSOCK		19

/* Device status (§2.1) */
#define VIRTIO_ACKNOWLEDGE	1
#define VIRTIO_DRIVER		2
#define VIRTIO_DRIVER_OK	4
#define VIRTIO_FEATURES_OK	8
#define VIRTIO_NEEDS_RESET	64
#define VIRTIO_FAILED		128

/* Transport feature bits (§6) */
#define VIRTIO_F_INDIRECT_DESC	28
#define VIRTIO_F_EVENT_IDX	29
#define VIRTIO_F_VERSION_1	32
#define VIRTIO_F_ACCESS_PLATFORM 33
#define VIRTIO_F_RING_PACKED	34
#define VIRTIO_BIT(b)		(1ULL << (b))

/* Common configuration structure (§4.1.4.3), offsets in it */
#define VC_DFSELECT		0x00	/* le32 device_feature_select */
#define VC_DF			0x04	/* le32 device_feature */
#define VC_GFSELECT		0x08	/* le32 driver_feature_select */
#define VC_GF			0x0c	/* le32 driver_feature */
#define VC_MSIX_CONFIG		0x10	/* le16 config_msix_vector */
#define VC_NUM_QUEUES		0x12	/* le16 */
#define VC_STATUS		0x14	/* u8 device_status */
#define VC_GENERATION		0x15	/* u8 config_generation */
#define VC_Q_SELECT		0x16	/* le16 queue_select */
#define VC_Q_SIZE		0x18	/* le16 queue_size */
#define VC_Q_MSIX		0x1a	/* le16 queue_msix_vector */
#define VC_Q_ENABLE		0x1c	/* le16 queue_enable */
#define VC_Q_NOFF		0x1e	/* le16 queue_notify_off */
#define VC_Q_DESC		0x20	/* le64 queue_desc */
#define VC_Q_DRIVER		0x28	/* le64 queue_driver (avail) */
#define VC_Q_DEVICE		0x30	/* le64 queue_device (used) */
#define VC_Q_NOTIF_DATA		0x38	/* le16 queue_notif_config_data */
#define VC_Q_RESET		0x3a	/* le16 queue_reset */
#define VC_LEN			0x38	/* the part every 1.x device has */

#define VIRTIO_MSI_NO_VECTOR	0xffff

/* PCI capability cfg_type (§4.1.4) */
#define VIRTIO_PCI_CAP_COMMON	1
#define VIRTIO_PCI_CAP_NOTIFY	2
#define VIRTIO_PCI_CAP_ISR	3
#define VIRTIO_PCI_CAP_DEVICE	4
#define VIRTIO_PCI_CAP_PCI_CFG	5

struct vdev {
	uint16_t bdf;
	uint16_t type;			/* virtio device ID */
	uint64_t bar[6];		/* BAR addresses (0: unused) */
	uint64_t common, notify, isr, devcfg;	/* MMIO addresses (0: absent) */
	uint32_t common_len, notify_len, isr_len, devcfg_len;
	uint32_t notify_mult;		/* notify_off_multiplier */
	uint8_t cap_off[6];		/* config-space offset of each cfg_type's cap */
	uint64_t offered;		/* device features */
	uint64_t features;		/* negotiated */
	uint16_t num_queues;
	/* MSI-X (0 when the function has none) */
	uint8_t msix_cap;
	uint16_t msix_n;		/* table size */
	uint64_t msix_table, msix_pba;	/* MMIO addresses */
};

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};
#define VRING_DESC_F_NEXT	1
#define VRING_DESC_F_WRITE	2
#define VRING_DESC_F_INDIRECT	4

struct vring_avail {
	uint16_t flags;			/* VRING_AVAIL_F_NO_INTERRUPT */
	uint16_t idx;
	uint16_t ring[];		/* size entries, then used_event */
};
#define VRING_AVAIL_F_NO_INTERRUPT 1

struct vring_used_elem {
	uint32_t id;
	uint32_t len;
};
struct vring_used {
	uint16_t flags;			/* VRING_USED_F_NO_NOTIFY */
	uint16_t idx;
	struct vring_used_elem ring[];	/* size entries, then avail_event */
};
#define VRING_USED_F_NO_NOTIFY	1

struct vq {
	struct vdev *dev;
	uint16_t index, size;
	volatile struct vring_desc *desc;
	volatile struct vring_avail *avail;
	volatile struct vring_used *used;
	uint64_t notify_addr;
	uint16_t free_head, num_free;
	uint16_t avail_idx;		/* next avail index to publish */
	uint16_t kicked_idx;		/* avail index at the last notification check */
	uint16_t last_used;		/* next used index to consume */
	bool event_idx, indirect;	/* negotiated */
	bool interrupts;		/* ask the device for used-buffer interrupts */
	void **token;			/* per head */
	uint16_t *chain_len;		/* descriptors per head (1 for indirect) */
	struct vring_desc *itab;	/* indirect tables: ipd descriptors per head */
	uint16_t ipd;
	uint64_t kicks;			/* notifications actually written */
};

struct vq_buf {
	uint64_t addr;			/* GPA (= address) */
	uint32_t len;
	bool write;			/* device-writable */
};

/* ---- transport */
/* Find the nth (0-based, in slot order) virtio-pci function of `type` on
 * bus 0, enable its memory decoding and bus mastering, read its BARs and
 * vendor capabilities, map them. pci_init() must have run. 0 or -1. */
int vdev_find(struct vdev *d, uint16_t type, int nth);
/* Reset the device: write 0 to status, wait until it reads 0 (1 s at most).
 * 0, or -1 on timeout. */
int vdev_reset(struct vdev *d);
uint8_t vdev_status(struct vdev *d);
void vdev_set_status(struct vdev *d, uint8_t s);
/* Reset, ACKNOWLEDGE, DRIVER, read the offered features, accept
 * offered & (want | VERSION_1), FEATURES_OK and check it stuck. 0 or -1
 * (with a message). */
int vdev_init(struct vdev *d, uint64_t want);
/* Set DRIVER_OK. */
void vdev_driver_ok(struct vdev *d);
/* 64-bit feature words through the select registers. */
uint64_t vdev_read_features(struct vdev *d);
void vdev_write_features(struct vdev *d, uint64_t f);

/* Common configuration accessors (offsets VC_*). 64-bit fields are accessed
 * as two 32-bit halves (§4.1.3.1). */
uint8_t vc_r8(struct vdev *d, uint32_t off);
uint16_t vc_r16(struct vdev *d, uint32_t off);
uint32_t vc_r32(struct vdev *d, uint32_t off);
void vc_w8(struct vdev *d, uint32_t off, uint8_t v);
void vc_w16(struct vdev *d, uint32_t off, uint16_t v);
void vc_w32(struct vdev *d, uint32_t off, uint32_t v);
void vc_w64(struct vdev *d, uint32_t off, uint64_t v);
uint64_t vc_r64(struct vdev *d, uint32_t off);

/* Device-specific configuration (§4.1.4.6), read consistently with
 * config_generation. Offsets past devcfg_len read as all-ones here
 * (vdev_cfg_raw8 reads the BAR anyway: for the hostile guest). */
uint8_t vdev_cfg8(struct vdev *d, uint32_t off);
uint16_t vdev_cfg16(struct vdev *d, uint32_t off);
uint32_t vdev_cfg32(struct vdev *d, uint32_t off);
uint64_t vdev_cfg64(struct vdev *d, uint32_t off);
void vdev_cfg_write8(struct vdev *d, uint32_t off, uint8_t v);
/* The ISR status byte (reading clears it, §4.1.4.5). */
uint8_t vdev_isr(struct vdev *d);

/* ---- MSI-X (PCI 3.0 §6.8.2) */
/* Enable MSI-X (or disable) in the capability's Message Control. */
void vdev_msix_enable(struct vdev *d, bool on);
/* Program table entry v: a fixed, edge interrupt of `vector` to the LAPIC
 * with ID apic_id; masked or not. */
void vdev_msix_set(struct vdev *d, uint16_t v, uint32_t apic_id, uint8_t vector, bool masked);
/* Map queue q (or the configuration change, q = 0xffff) to MSI-X entry v;
 * returns what the device reads back (VIRTIO_MSI_NO_VECTOR if refused). */
uint16_t vdev_set_vector(struct vdev *d, uint16_t q, uint16_t v);
/* Is `vector` pending in this CPU's LAPIC IRR? (Interrupts stay off in the
 * kit, so a delivered interrupt waits there.) Enables the LAPIC first. */
bool kit_lapic_irr(uint8_t vector);

/* ---- split virtqueues */
/* Set up queue `index` with `size` entries (0: the device's maximum; also
 * capped at it), rings from kit_alloc, no MSI-X vector, and enable it. Must
 * run between FEATURES_OK and DRIVER_OK. 0, or -1 (with a message). */
int vq_init(struct vdev *d, struct vq *q, uint16_t index, uint16_t size);
/* Indirect tables of `per_chain` descriptors for every head (call after
 * vq_init, when INDIRECT_DESC was negotiated). */
void vq_alloc_indirect(struct vq *q, uint16_t per_chain);
/* Chain n buffers (device-readable ones first), publish the chain and return
 * its head, or -1 when the ring has no room. token comes back from vq_get.
 * vq_add_indirect puts the chain in the head's indirect table instead. */
int vq_add(struct vq *q, const struct vq_buf *b, int n, void *token);
int vq_add_indirect(struct vq *q, const struct vq_buf *b, int n, void *token);
/* Publish an already written descriptor chain starting at `head` (no free
 * list bookkeeping: for hand-made chains). */
void vq_publish(struct vq *q, uint16_t head);
/* Notify the device if it wants to be (EVENT_IDX avail_event, or used
 * flags), or always when force. */
void vq_kick(struct vq *q);
void vq_notify(struct vq *q);		/* unconditionally */
/* One used element: 1 with *token and *len (either may be NULL), or 0 if
 * none is there yet. */
int vq_get(struct vq *q, void **token, uint32_t *len);
/* vq_get, waiting up to timeout_us (at least; see kit_delay_us). */
int vq_wait(struct vq *q, void **token, uint32_t *len, uint64_t timeout_us);
/* Ask for used-buffer interrupts (used_event = last_used, or avail flags 0)
 * or suppress them (the default). With EVENT_IDX this arms one interrupt,
 * for the next used entry; call again to re-arm. */
void vq_interrupts(struct vq *q, bool on);

/* ---- virtio-blk (§5.2) */
#define VIRTIO_BLK_F_SIZE_MAX	1
#define VIRTIO_BLK_F_SEG_MAX	2
#define VIRTIO_BLK_F_RO		5
#define VIRTIO_BLK_F_BLK_SIZE	6
#define VIRTIO_BLK_F_FLUSH	9
#define VIRTIO_BLK_F_MQ		12
#define VIRTIO_BLK_F_DISCARD	13
#define VIRTIO_BLK_F_WRITE_ZEROES 14
#define VIRTIO_BLK_T_IN		0
#define VIRTIO_BLK_T_OUT	1
#define VIRTIO_BLK_T_FLUSH	4
#define VIRTIO_BLK_T_GET_ID	8
#define VIRTIO_BLK_T_DISCARD	11
#define VIRTIO_BLK_T_WRITE_ZEROES 13
#define VIRTIO_BLK_S_OK		0
#define VIRTIO_BLK_S_IOERR	1
#define VIRTIO_BLK_S_UNSUPP	2
#define VIRTIO_BLK_ID_BYTES	20

struct vblk_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

/* One request in flight: header, data, status byte, all in guest RAM. */
struct vblk_req {
	struct vblk_hdr hdr;
	uint8_t status;
	uint8_t pad[7];
};

/* Queue a request on q: type, sector, data buffer (device-writable for IN
 * and GET_ID), status in r. Returns the head or -1. */
int vblk_submit(struct vq *q, struct vblk_req *r, uint32_t type, uint64_t sector, void *data,
		uint32_t len);
/* Submit, kick and wait (timeout_us): the status byte, or -1 on timeout,
 * -2 if the ring was full. */
int vblk_do(struct vq *q, uint32_t type, uint64_t sector, void *data, uint32_t len,
	    uint64_t timeout_us);

/* ---- virtio-net (§5.1) */
#define VIRTIO_NET_F_CSUM	0
#define VIRTIO_NET_F_MTU	3
#define VIRTIO_NET_F_MAC	5
#define VIRTIO_NET_F_MRG_RXBUF	15
#define VIRTIO_NET_F_STATUS	16
#define VIRTIO_NET_F_CTRL_VQ	17
#define VIRTIO_NET_F_MQ		22
struct virtio_net_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
} __attribute__((packed));

/* ---- misc */
/* Time stamp counter ticks for `us` microseconds at most 4 GHz (the kit's
 * timeout convention: waits are at least as long as asked). */
static inline uint64_t kit_us_ticks(uint64_t us) { return us * 4000; }
/* A small deterministic PRNG (xorshift64*). */
static inline uint64_t kit_rand(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

#endif
