/* Minimal virtio-pci driver for the guest kit; see virtio.h. */
#include "virtio.h"

#define barrier() __asm__ volatile("" ::: "memory")

/* ------------------------------------------------------------ transport */
uint8_t vc_r8(struct vdev *d, uint32_t off) { return mmio_read8(d->common + off); }
uint16_t vc_r16(struct vdev *d, uint32_t off) { return mmio_read16(d->common + off); }
uint32_t vc_r32(struct vdev *d, uint32_t off) { return mmio_read32(d->common + off); }
void vc_w8(struct vdev *d, uint32_t off, uint8_t v) { mmio_write8(d->common + off, v); }
void vc_w16(struct vdev *d, uint32_t off, uint16_t v) { mmio_write16(d->common + off, v); }
void vc_w32(struct vdev *d, uint32_t off, uint32_t v) { mmio_write32(d->common + off, v); }

void vc_w64(struct vdev *d, uint32_t off, uint64_t v)
{
	vc_w32(d, off, (uint32_t)v);
	vc_w32(d, off + 4, (uint32_t)(v >> 32));
}

uint64_t vc_r64(struct vdev *d, uint32_t off)
{
	return vc_r32(d, off) | (uint64_t)vc_r32(d, off + 4) << 32;
}

/* Map [a, a + len) unless it is empty; false if that fails. */
static bool map(uint64_t a, uint64_t len)
{
	return !len || !kit_map_mmio(a, len);
}

int vdev_find(struct vdev *d, uint16_t type, int nth)
{
	memset(d, 0, sizeof(*d));
	int seen = 0;
	for (int dev = 0; dev < 32; dev++) {
		uint16_t bdf = PCI_BDF(0, dev, 0);
		if (pci_read16(bdf, PCI_VENDOR_ID) != VIRTIO_VENDOR ||
		    pci_read16(bdf, PCI_DEVICE_ID) != VIRTIO_PCI_DEVICE(type))
			continue;
		if (seen++ == nth) {
			d->bdf = bdf;
			goto found;
		}
	}
	return -1;
found:
	d->type = type;
	pci_enable(d->bdf, PCI_CMD_MEM | PCI_CMD_MASTER);
	for (int i = 0; i < 6; i++) {
		bool is64, io;
		d->bar[i] = pci_bar_addr(d->bdf, i, &is64, &io);
		if (io)
			d->bar[i] = 0;		/* the kit maps no I/O BARs */
		if (is64)
			i++;
	}
	/* Vendor capabilities (§4.1.4): the first one of each type counts. */
	for (uint8_t c = pci_find_cap(d->bdf, PCI_CAP_VENDOR, 0); c;
	     c = pci_find_cap(d->bdf, PCI_CAP_VENDOR, c)) {
		uint8_t type_ = pci_read8(d->bdf, c + 3), bar = pci_read8(d->bdf, c + 4);
		uint32_t off = pci_read32(d->bdf, c + 8), len = pci_read32(d->bdf, c + 12);
		if (type_ == 0 || type_ > VIRTIO_PCI_CAP_PCI_CFG || d->cap_off[type_])
			continue;
		d->cap_off[type_] = c;
		if (type_ == VIRTIO_PCI_CAP_PCI_CFG || bar > 5 || !d->bar[bar])
			continue;
		uint64_t a = d->bar[bar] + off;
		if (!map(a, len)) {
			kit_printf("virtio: cannot map 0x%lx+0x%x\n", a, len);
			return -1;
		}
		switch (type_) {
		case VIRTIO_PCI_CAP_COMMON: d->common = a; d->common_len = len; break;
		case VIRTIO_PCI_CAP_NOTIFY:
			d->notify = a;
			d->notify_len = len;
			d->notify_mult = pci_read32(d->bdf, c + 16);
			break;
		case VIRTIO_PCI_CAP_ISR: d->isr = a; d->isr_len = len; break;
		case VIRTIO_PCI_CAP_DEVICE: d->devcfg = a; d->devcfg_len = len; break;
		}
	}
	if (!d->common || !d->notify || !d->isr) {
		kit_printf("virtio: %02x:%02x.%x lacks a common, notify or ISR structure\n",
			   d->bdf >> 8, (d->bdf >> 3) & 31, d->bdf & 7);
		return -1;
	}
	if (d->common_len < VC_LEN) {
		kit_printf("virtio: common configuration is %u bytes, want >= %u\n", d->common_len,
			   VC_LEN);
		return -1;
	}
	uint8_t m = pci_find_cap(d->bdf, PCI_CAP_MSIX, 0);
	if (m) {
		uint32_t t = pci_read32(d->bdf, m + 4), p = pci_read32(d->bdf, m + 8);
		d->msix_cap = m;
		d->msix_n = (pci_read16(d->bdf, m + 2) & 0x7ff) + 1;
		if ((t & 7) < 6 && d->bar[t & 7] && (p & 7) < 6 && d->bar[p & 7]) {
			d->msix_table = d->bar[t & 7] + (t & ~7u);
			d->msix_pba = d->bar[p & 7] + (p & ~7u);
			if (!map(d->msix_table, 16u * d->msix_n) || !map(d->msix_pba, 8))
				return -1;
		}
	}
	return 0;
}

uint8_t vdev_status(struct vdev *d) { return vc_r8(d, VC_STATUS); }
void vdev_set_status(struct vdev *d, uint8_t s) { vc_w8(d, VC_STATUS, s); }

int vdev_reset(struct vdev *d)
{
	vdev_set_status(d, 0);
	uint64_t t0 = kit_rdtsc();
	while (vdev_status(d) != 0) {
		if (kit_rdtsc() - t0 > kit_us_ticks(1000000)) {
			kit_printf("virtio: reset: status still 0x%x after 1 s\n", vdev_status(d));
			return -1;
		}
		cpu_relax();
	}
	return 0;
}

uint64_t vdev_read_features(struct vdev *d)
{
	vc_w32(d, VC_DFSELECT, 0);
	uint64_t f = vc_r32(d, VC_DF);
	vc_w32(d, VC_DFSELECT, 1);
	return f | (uint64_t)vc_r32(d, VC_DF) << 32;
}

void vdev_write_features(struct vdev *d, uint64_t f)
{
	vc_w32(d, VC_GFSELECT, 0);
	vc_w32(d, VC_GF, (uint32_t)f);
	vc_w32(d, VC_GFSELECT, 1);
	vc_w32(d, VC_GF, (uint32_t)(f >> 32));
}

int vdev_init(struct vdev *d, uint64_t want)
{
	if (vdev_reset(d))
		return -1;
	vdev_set_status(d, VIRTIO_ACKNOWLEDGE);
	vdev_set_status(d, VIRTIO_ACKNOWLEDGE | VIRTIO_DRIVER);
	d->offered = vdev_read_features(d);
	if (!(d->offered & VIRTIO_BIT(VIRTIO_F_VERSION_1))) {
		kit_printf("virtio: device offers 0x%lx, without VERSION_1\n", d->offered);
		return -1;
	}
	d->features = d->offered & (want | VIRTIO_BIT(VIRTIO_F_VERSION_1));
	vdev_write_features(d, d->features);
	vdev_set_status(d, VIRTIO_ACKNOWLEDGE | VIRTIO_DRIVER | VIRTIO_FEATURES_OK);
	uint8_t s = vdev_status(d);
	if (!(s & VIRTIO_FEATURES_OK)) {
		kit_printf("virtio: FEATURES_OK did not stick (status 0x%x, features 0x%lx)\n", s,
			   d->features);
		vdev_set_status(d, s | VIRTIO_FAILED);
		return -1;
	}
	d->num_queues = vc_r16(d, VC_NUM_QUEUES);
	vc_w16(d, VC_MSIX_CONFIG, VIRTIO_MSI_NO_VECTOR);
	return 0;
}

void vdev_driver_ok(struct vdev *d)
{
	vdev_set_status(d, vdev_status(d) | VIRTIO_DRIVER_OK);
}

/* Device configuration: read until config_generation is stable. */
static uint64_t cfg_read(struct vdev *d, uint32_t off, int size)
{
	if (!d->devcfg || off + size > d->devcfg_len)
		return ~0ULL >> (64 - 8 * size);
	uint64_t a = d->devcfg + off, v;
	uint8_t g0, g1;
	do {
		g0 = vc_r8(d, VC_GENERATION);
		switch (size) {
		case 1: v = mmio_read8(a); break;
		case 2: v = mmio_read16(a); break;
		case 4: v = mmio_read32(a); break;
		default: v = mmio_read32(a) | (uint64_t)mmio_read32(a + 4) << 32; break;
		}
		g1 = vc_r8(d, VC_GENERATION);
	} while (g0 != g1);
	return v;
}

uint8_t vdev_cfg8(struct vdev *d, uint32_t off) { return (uint8_t)cfg_read(d, off, 1); }
uint16_t vdev_cfg16(struct vdev *d, uint32_t off) { return (uint16_t)cfg_read(d, off, 2); }
uint32_t vdev_cfg32(struct vdev *d, uint32_t off) { return (uint32_t)cfg_read(d, off, 4); }
uint64_t vdev_cfg64(struct vdev *d, uint32_t off) { return cfg_read(d, off, 8); }

void vdev_cfg_write8(struct vdev *d, uint32_t off, uint8_t v)
{
	if (d->devcfg && off < d->devcfg_len)
		mmio_write8(d->devcfg + off, v);
}

uint8_t vdev_isr(struct vdev *d) { return mmio_read8(d->isr); }

/* ---------------------------------------------------------------- MSI-X */
void vdev_msix_enable(struct vdev *d, bool on)
{
	if (!d->msix_cap)
		return;
	uint16_t mc = pci_read16(d->bdf, d->msix_cap + 2);
	mc = on ? (mc | 0x8000) & ~0x4000 : mc & ~0x8000;
	pci_write16(d->bdf, d->msix_cap + 2, mc);
}

void vdev_msix_set(struct vdev *d, uint16_t v, uint32_t apic_id, uint8_t vector, bool masked)
{
	if (!d->msix_table || v >= d->msix_n)
		return;
	uint64_t e = d->msix_table + 16u * v;
	mmio_write32(e + 12, 1);			/* mask while changing */
	mmio_write32(e + 0, 0xfee00000u | (apic_id & 0xff) << 12);
	mmio_write32(e + 4, 0);
	mmio_write32(e + 8, vector);			/* fixed, edge */
	mmio_write32(e + 12, masked ? 1 : 0);
}

uint16_t vdev_set_vector(struct vdev *d, uint16_t q, uint16_t v)
{
	if (q == 0xffff) {
		vc_w16(d, VC_MSIX_CONFIG, v);
		return vc_r16(d, VC_MSIX_CONFIG);
	}
	vc_w16(d, VC_Q_SELECT, q);
	vc_w16(d, VC_Q_MSIX, v);
	return vc_r16(d, VC_Q_MSIX);
}

bool kit_lapic_irr(uint8_t vector)
{
	uint32_t svr = mmio_read32(KIT_LAPIC + 0xf0);
	if ((svr & 0x1ff) != 0x1ff)
		mmio_write32(KIT_LAPIC + 0xf0, svr | 0x1ff);
	return mmio_read32(KIT_LAPIC + 0x200 + 0x10 * (vector >> 5)) >> (vector & 31) & 1;
}

/* ------------------------------------------------------------ virtqueues */
/* Private free-list links (the descriptors' own next fields are what the
 * device reads; a hostile test may scribble on those). */
static uint16_t *nxt_of(struct vq *q) { return (uint16_t *)(q->chain_len + q->size); }

int vq_init(struct vdev *d, struct vq *q, uint16_t index, uint16_t size)
{
	memset(q, 0, sizeof(*q));
	vc_w16(d, VC_Q_SELECT, index);
	uint16_t max = vc_r16(d, VC_Q_SIZE);
	if (!max) {
		kit_printf("virtio: queue %u is not available\n", index);
		return -1;
	}
	if (!size || size > max)
		size = max;
	q->dev = d;
	q->index = index;
	q->size = size;
	q->desc = kit_alloc(16u * size, 4096);
	q->avail = kit_alloc(6u + 2u * size, 4096);
	q->used = kit_alloc(6u + 8u * size, 4096);
	q->token = kit_alloc(sizeof(void *) * size, 8);
	q->chain_len = kit_alloc(2u * 2u * size, 8);	/* chain_len[], then nxt[] */
	uint16_t *nxt = nxt_of(q);
	for (uint16_t i = 0; i < size; i++)
		nxt[i] = i + 1;
	q->free_head = 0;
	q->num_free = size;
	q->event_idx = d->features & VIRTIO_BIT(VIRTIO_F_EVENT_IDX);
	q->indirect = d->features & VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC);
	vq_interrupts(q, false);
	vc_w16(d, VC_Q_SIZE, size);
	vc_w64(d, VC_Q_DESC, (uint64_t)q->desc);
	vc_w64(d, VC_Q_DRIVER, (uint64_t)q->avail);
	vc_w64(d, VC_Q_DEVICE, (uint64_t)q->used);
	vc_w16(d, VC_Q_MSIX, VIRTIO_MSI_NO_VECTOR);
	uint32_t noff = vc_r16(d, VC_Q_NOFF) * d->notify_mult;
	if (noff + 2 > d->notify_len) {
		kit_printf("virtio: queue %u notify offset 0x%x outside the 0x%x-byte region\n",
			   index, noff, d->notify_len);
		return -1;
	}
	q->notify_addr = d->notify + noff;
	vc_w16(d, VC_Q_ENABLE, 1);
	if (vc_r16(d, VC_Q_ENABLE) != 1) {
		kit_printf("virtio: queue %u did not enable\n", index);
		return -1;
	}
	return 0;
}

void vq_alloc_indirect(struct vq *q, uint16_t per_chain)
{
	q->ipd = per_chain;
	q->itab = kit_alloc(16u * per_chain * q->size, 16);
}

void vq_interrupts(struct vq *q, bool on)
{
	q->interrupts = on;
	q->avail->flags = on ? 0 : VRING_AVAIL_F_NO_INTERRUPT;
	((volatile uint16_t *)q->avail->ring)[q->size] = on ? q->last_used : q->last_used - 1;
}

void vq_publish(struct vq *q, uint16_t head)
{
	q->avail->ring[q->avail_idx % q->size] = head;
	barrier();		/* x86 keeps stores in order; the compiler must too */
	q->avail_idx++;
	q->avail->idx = q->avail_idx;
}

/* Take n descriptors from the free list, linked through nxt[]; the head. */
static int take(struct vq *q, int n)
{
	if (n <= 0 || n > q->num_free)
		return -1;
	uint16_t *nxt = nxt_of(q);
	uint16_t head = q->free_head, i = head;
	for (int k = 1; k < n; k++)
		i = nxt[i];
	q->free_head = nxt[i];
	q->num_free -= n;
	q->chain_len[head] = n;
	return head;
}

int vq_add(struct vq *q, const struct vq_buf *b, int n, void *token)
{
	int head = take(q, n);
	if (head < 0)
		return -1;
	uint16_t *nxt = nxt_of(q);
	uint16_t i = head;
	for (int k = 0; k < n; k++) {
		volatile struct vring_desc *dsc = &q->desc[i];
		dsc->addr = b[k].addr;
		dsc->len = b[k].len;
		dsc->flags = (b[k].write ? VRING_DESC_F_WRITE : 0) | (k + 1 < n ? VRING_DESC_F_NEXT : 0);
		dsc->next = k + 1 < n ? nxt[i] : 0;
		i = nxt[i];
	}
	q->token[head] = token;
	vq_publish(q, head);
	return head;
}

int vq_add_indirect(struct vq *q, const struct vq_buf *b, int n, void *token)
{
	if (!q->itab || n > q->ipd)
		return -1;
	int head = take(q, 1);
	if (head < 0)
		return -1;
	struct vring_desc *t = q->itab + (uint32_t)head * q->ipd;
	for (int k = 0; k < n; k++) {
		t[k].addr = b[k].addr;
		t[k].len = b[k].len;
		t[k].flags = (b[k].write ? VRING_DESC_F_WRITE : 0) | (k + 1 < n ? VRING_DESC_F_NEXT : 0);
		t[k].next = k + 1 < n ? k + 1 : 0;
	}
	volatile struct vring_desc *dsc = &q->desc[head];
	dsc->addr = (uint64_t)t;
	dsc->len = 16u * n;
	dsc->flags = VRING_DESC_F_INDIRECT;
	dsc->next = 0;
	q->token[head] = token;
	vq_publish(q, head);
	return head;
}

void vq_notify(struct vq *q)
{
	q->kicks++;
	mmio_write16(q->notify_addr, q->index);
}

void vq_kick(struct vq *q)
{
	/* The avail index store must be visible before the device's
	 * notification suppression is read (§2.7.13.4): a full fence. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	uint16_t new = q->avail_idx, old = q->kicked_idx;
	bool need;
	q->kicked_idx = new;
	if (new == old)
		return;
	if (q->event_idx) {
		uint16_t ev = *(volatile uint16_t *)((volatile uint8_t *)q->used + 4 + 8u * q->size);
		need = (uint16_t)(new - ev - 1) < (uint16_t)(new - old);
	} else {
		need = !(q->used->flags & VRING_USED_F_NO_NOTIFY);
	}
	if (need)
		vq_notify(q);
}

int vq_get(struct vq *q, void **token, uint32_t *len)
{
	if (q->last_used == q->used->idx)
		return 0;
	barrier();		/* the used index before the entry (x86: loads in order) */
	volatile struct vring_used_elem *e = &q->used->ring[q->last_used % q->size];
	uint32_t id = e->id, l = e->len;
	q->last_used++;
	if (id >= q->size || !q->chain_len[id]) {
		kit_printf("virtio: queue %u: device used id %u, not in flight\n", q->index, id);
		if (token)
			*token = NULL;
		if (len)
			*len = l;
		return 1;
	}
	/* give the chain back */
	uint16_t *nxt = nxt_of(q);
	uint16_t n = q->chain_len[id], last = id;
	for (int k = 1; k < n; k++)
		last = nxt[last];
	nxt[last] = q->free_head;
	q->free_head = id;
	q->num_free += n;
	q->chain_len[id] = 0;
	if (token)
		*token = q->token[id];
	if (len)
		*len = l;
	q->token[id] = NULL;
	/* Interrupts off: keep used_event just behind, so the device never
	 * crosses it. On: leave it where vq_interrupts put it (moving it past
	 * an entry the device has published but not yet signalled would take
	 * that interrupt back). */
	if (q->event_idx && !q->interrupts)
		((volatile uint16_t *)q->avail->ring)[q->size] = q->last_used - 1;
	return 1;
}

int vq_wait(struct vq *q, void **token, uint32_t *len, uint64_t timeout_us)
{
	uint64_t t0 = kit_rdtsc(), lim = kit_us_ticks(timeout_us);
	for (;;) {
		if (vq_get(q, token, len))
			return 1;
		if (kit_rdtsc() - t0 > lim)
			return 0;
		cpu_relax();
	}
}

/* ------------------------------------------------------------ virtio-blk */
int vblk_submit(struct vq *q, struct vblk_req *r, uint32_t type, uint64_t sector, void *data,
		uint32_t len)
{
	r->hdr.type = type;
	r->hdr.reserved = 0;
	r->hdr.sector = sector;
	r->status = 0xff;
	struct vq_buf b[3];
	int n = 0;
	b[n++] = (struct vq_buf){ (uint64_t)&r->hdr, sizeof(r->hdr), false };
	if (len)
		b[n++] = (struct vq_buf){ (uint64_t)data, len,
					  type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID };
	b[n++] = (struct vq_buf){ (uint64_t)&r->status, 1, true };
	return q->itab ? vq_add_indirect(q, b, n, r) : vq_add(q, b, n, r);
}

int vblk_do(struct vq *q, uint32_t type, uint64_t sector, void *data, uint32_t len,
	    uint64_t timeout_us)
{
	static struct vblk_req req;
	if (vblk_submit(q, &req, type, sector, data, len) < 0)
		return -2;
	vq_kick(q);
	void *tok;
	for (;;) {
		if (!vq_wait(q, &tok, NULL, timeout_us))
			return -1;
		if (tok == &req)
			return req.status;
	}
}
