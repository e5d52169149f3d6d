/* blkwatch: watch virtio-blk disk 0 while the host changes its image (API
 * PATCH /drives/{id}, tests/integration/test_api_patch.sh).
 *
 * Every poll_ms= milliseconds (default 20) it reads the configuration
 * generation (virtio 1.2 §4.1.4.3), the capacity (§5.2.4, read consistently
 * with the generation) and the first line of sector 0. It prints
 *   "blkwatch: gen G capacity C config-irq yes|no sector0 TEXT"
 * at the start and whenever one of them changes. "config-irq" says whether
 * the ISR's configuration-change bit (§4.1.4.5, bit 1; MSI-X stays off) was
 * seen since the last line, waiting up to 1 s for it after a change. After
 * changes= (default 2) changes it prints "blkwatch: done" and exits 0x2a;
 * after seconds= (default 120) without them, "blkwatch: FAIL timeout" and
 * 0x33. A failed read prints "blkwatch: FAIL read status S" and exits 0x33. */
#include "virtio.h"

#define SECTOR 512
#define ISR_CONFIG 0x2

struct view {
	uint8_t gen;
	uint64_t capacity;
	char text[41];
};

static int look(struct vdev *d, struct vq *q, uint8_t *buf, struct view *v)
{
	v->gen = vc_r8(d, VC_GENERATION);
	v->capacity = vdev_cfg64(d, 0);
	int st = vblk_do(q, VIRTIO_BLK_T_IN, 0, buf, SECTOR, 10000000);
	if (st != VIRTIO_BLK_S_OK) {
		kit_printf("blkwatch: FAIL read status %d\n", st);
		return -1;
	}
	int i = 0;
	for (; i < 40 && buf[i] >= 0x20 && buf[i] < 0x7f; i++)
		v->text[i] = (char)buf[i];
	v->text[i] = 0;
	return 0;
}

static bool same(const struct view *a, const struct view *b)
{
	return a->gen == b->gen && a->capacity == b->capacity &&
	       !memcmp(a->text, b->text, sizeof(a->text));
}

int payload_main(void)
{
	static struct vdev d;
	static struct vq q;
	uint64_t poll_us = kit_cmdline_u64("poll_ms=", 20) * 1000;
	uint64_t changes = kit_cmdline_u64("changes=", 2);
	uint64_t seconds = kit_cmdline_u64("seconds=", 120);
	if (pci_init(PCI_ECAM) || vdev_find(&d, VIRTIO_ID_BLOCK, 0)) {
		kit_puts("blkwatch: FAIL no virtio-blk device\n");
		return KIT_EXIT_FAIL;
	}
	if (vdev_init(&d, VIRTIO_BIT(VIRTIO_BLK_F_RO)) || vq_init(&d, &q, 0, 0))
		return KIT_EXIT_FAIL;
	vdev_driver_ok(&d);
	uint8_t *buf = kit_alloc(SECTOR, 4096);
	struct view last, now;
	memset(&last, 0, sizeof(last));
	bool irq = false, first = true;
	uint64_t seen = 0, t_end = kit_rdtsc() + kit_us_ticks(seconds * 1000000);
	while (seen < changes) {
		irq |= vdev_isr(&d) & ISR_CONFIG;
		memset(&now, 0, sizeof(now));
		if (look(&d, &q, buf, &now))
			return KIT_EXIT_FAIL;
		if (first || !same(&now, &last)) {
			/* the generation is bumped just before the interrupt */
			for (int i = 0; !first && !irq && i < 1000; i++) {
				kit_delay_us(1000);
				irq |= vdev_isr(&d) & ISR_CONFIG;
			}
			kit_printf("blkwatch: gen %u capacity %lu config-irq %s sector0 %s\n",
				   now.gen, now.capacity, irq ? "yes" : "no", now.text);
			seen += first ? 0 : 1;
			first = irq = false;
			last = now;
		}
		if (kit_rdtsc() > t_end) {
			kit_puts("blkwatch: FAIL timeout\n");
			return KIT_EXIT_FAIL;
		}
		kit_delay_us(poll_us);
	}
	kit_puts("blkwatch: done\n");
	return KIT_EXIT_OK;
}
