/* hostile: a guest that breaks the virtio-pci rules on purpose, against the
 * first virtio-blk device (a scratch disk) and, when present, virtio-rng.
 *
 * Each case abuses the transport or the rings, then classifies what the
 * device did within a second:
 *   needs-reset   status has DEVICE_NEEDS_RESET (and, MSI-X being off, the
 *                 ISR's configuration bit: virtio 1.2 §2.1.2, §4.1.4.5)
 *   completed     the request came back (its status byte is printed)
 *   ignored       neither
 * checks the outcome is one the case allows, then resets the device, sets
 * it up again and checks a good read works ("recovered"). skiff staying up
 * through all of it is shown by the guest finishing at all.
 *   hostile: CASE: OUTCOME ... ok|FAIL
 *   hostile: N cases, M failed
 * exits 0x2a when all passed, 0x33 otherwise. "only=NAME" runs one case
 * (a prefix match), "pci=cf8" uses port 0xCF8. */
#include "virtio.h"

static int fails, cases;
static const char *only;
static size_t only_len;

#define NEEDS_RESET	1
#define COMPLETED	2	/* with any status */
#define COMPLETED_ERR	4	/* with a status other than OK, or used length 0 */
#define COMPLETED_OK	8
#define IGNORED		16
/* register-level cases judge themselves: */
#define AS_SPECIFIED	32
#define WRONG		64

static bool expect_isr = true;	/* NEEDS_RESET with DRIVER_OK set: ISR bit 1 */

static struct vdev blk;
static struct vq q;
static uint8_t *buf;		/* 64 KiB data buffer */
static struct vblk_req *req;	/* header and status */
static struct vring_desc *itab;	/* a hand-made indirect table (2048 entries) */

static uint64_t ram_end(void)
{
	uint64_t end = 0;
	for (int i = 0; i < kit_e820_count(); i++) {
		const struct kit_e820 *e = kit_e820_entry(i);
		if (e->type == KIT_E820_RAM && e->addr + e->size > end)
			end = e->addr + e->size;
	}
	return end;
}

/* ------------------------------------------------------------ set-up */
static int setup_features(struct vdev *d, struct vq *vq, uint64_t feat)
{
	if (vdev_init(d, feat))
		return -1;
	if (vq_init(d, vq, 0, 0))
		return -1;
	vdev_driver_ok(d);
	(void)vdev_isr(d);
	return 0;
}

static int setup(void)
{
	return setup_features(&blk, &q, VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC));
}

/* A good request: read sector 0 (or write it when `write`). */
static int good_read(void)
{
	return vblk_do(&q, VIRTIO_BLK_T_IN, 0, buf, 512, 2000000);
}

/* ------------------------------------------------------------ outcome */
static const char *outcome_name(int o)
{
	switch (o) {
	case NEEDS_RESET: return "needs-reset";
	case COMPLETED_OK: return "completed OK";
	case COMPLETED_ERR: return "completed with an error";
	case IGNORED: return "ignored";
	case AS_SPECIFIED: return "as specified";
	case WRONG: return "WRONG";
	default: return "?";
	}
}

/* Wait for the device's reaction to what was just queued and kicked. */
static int outcome(struct vdev *d, struct vq *vq, int *status, uint32_t *used_len)
{
	uint64_t t0 = kit_rdtsc();
	*status = -1;
	*used_len = 0;
	while (kit_rdtsc() - t0 < kit_us_ticks(1000000)) {
		if (vdev_status(d) & VIRTIO_NEEDS_RESET)
			return NEEDS_RESET;
		if (vq->used->idx != vq->last_used) {
			volatile struct vring_used_elem *e = &vq->used->ring[vq->last_used % vq->size];
			*used_len = e->len;
			vq->last_used++;
			*status = req->status;
			return (*status == VIRTIO_BLK_S_OK && *used_len) ? COMPLETED_OK : COMPLETED_ERR;
		}
		cpu_relax();
	}
	return IGNORED;
}

static bool selected(const char *name)
{
	return !only || !strncmp(name, only, only_len);
}

/* The ISR once it has `bit` (the device raises the interrupt just after
 * the status or used ring it reports), or what it reads after 1 s. */
static uint8_t isr_wait(struct vdev *d, uint8_t bit)
{
	uint8_t isr;
	uint64_t t0 = kit_rdtsc();
	while (!((isr = vdev_isr(d)) & bit) && kit_rdtsc() - t0 < kit_us_ticks(1000000))
		cpu_relax();
	return isr;
}

/* Judge a case, then reset, set up again and check a good request. */
static void finish(const char *name, int got, int allowed, int status, uint32_t used_len)
{
	bool ok = got & allowed;
	if (got == NEEDS_RESET && expect_isr) {
		uint8_t isr = isr_wait(&blk, 2);
		if (!(isr & 2)) {
			kit_printf("hostile: %s: ISR 0x%x lacks the configuration-change bit\n", name, isr);
			ok = false;
		}
	}
	kit_printf("hostile: %s: %s", name, outcome_name(got));
	if (got & (COMPLETED_OK | COMPLETED_ERR))
		kit_printf(" (status %d, used %u)", status, used_len);
	cases++;
	if (vdev_reset(&blk) || setup()) {
		kit_puts(", no recovery: FAIL\n");
		fails++;
		return;
	}
	int s = good_read();
	if (s != VIRTIO_BLK_S_OK) {
		kit_printf(", good read after reset: status %d: FAIL\n", s);
		fails++;
		return;
	}
	kit_printf(", recovered: %s\n", ok ? "ok" : "FAIL");
	if (!ok)
		fails++;
}

/* Publish head, kick, judge. */
static void run(const char *name, uint16_t head, int allowed)
{
	req->status = 0xee;
	vq_publish(&q, head);
	vq_notify(&q);
	int st;
	uint32_t ul;
	int got = outcome(&blk, &q, &st, &ul);
	finish(name, got, allowed, st, ul);
}

static void desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	q.desc[i].addr = addr;
	q.desc[i].len = len;
	q.desc[i].flags = flags;
	q.desc[i].next = next;
}

/* A well-formed read of sector 0 in descriptors 0 (header), 1 (data),
 * 2 (status); cases then break one thing. */
static void read_chain(void)
{
	req->hdr = (struct vblk_hdr){ VIRTIO_BLK_T_IN, 0, 0 };
	desc(0, (uint64_t)&req->hdr, 16, VRING_DESC_F_NEXT, 1);
	desc(1, (uint64_t)buf, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
	desc(2, (uint64_t)&req->status, 1, VRING_DESC_F_WRITE, 0);
}

#define CASE(name) if (selected(name))

/* ------------------------------------------------------------ ring cases */
static void ring_cases(void)
{
	uint64_t end = ram_end();
	uint16_t n = q.size;

	CASE("loop") {
		read_chain();
		desc(2, (uint64_t)&req->status, 1, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 0);
		run("loop", 0, NEEDS_RESET);
	}
	CASE("self-loop") {
		read_chain();
		desc(1, (uint64_t)buf, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
		run("self-loop", 0, NEEDS_RESET);
	}
	CASE("chain-through-whole-table") {
		/* every descriptor in one chain, the last pointing back to the first */
		req->hdr = (struct vblk_hdr){ VIRTIO_BLK_T_IN, 0, 0 };
		desc(0, (uint64_t)&req->hdr, 16, VRING_DESC_F_NEXT, 1);
		for (uint16_t i = 1; i < n; i++)
			desc(i, (uint64_t)buf, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, (i + 1) % n);
		run("chain-through-whole-table", 0, NEEDS_RESET);
	}
	CASE("chain-of-queue-size") {
		/* exactly `size` descriptors, no loop: legal, must work */
		req->hdr = (struct vblk_hdr){ VIRTIO_BLK_T_IN, 0, 0 };
		desc(0, (uint64_t)&req->hdr, 16, VRING_DESC_F_NEXT, 1);
		for (uint16_t i = 1; i < n - 1; i++)
			desc(i, (uint64_t)buf + 512 * (i % 64), 512,
			     VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, i + 1);
		desc(n - 1, (uint64_t)&req->status, 1, VRING_DESC_F_WRITE, 0);
		run("chain-of-queue-size", 0, COMPLETED_OK);
	}
	CASE("head-out-of-range") {
		read_chain();
		run("head-out-of-range", (uint16_t)(n + 5), NEEDS_RESET);
	}
	CASE("next-out-of-range") {
		read_chain();
		desc(1, (uint64_t)buf, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 0xffff);
		run("next-out-of-range", 0, NEEDS_RESET);
	}
	CASE("avail-idx-jump") {
		read_chain();
		q.avail->ring[0] = 0;
		q.avail_idx = (uint16_t)(n + 7);
		q.avail->idx = q.avail_idx;
		vq_notify(&q);
		int st;
		uint32_t ul;
		int got = outcome(&blk, &q, &st, &ul);
		finish("avail-idx-jump", got, NEEDS_RESET, st, ul);
	}
	CASE("addr-outside-ram") {
		read_chain();
		desc(1, end + 0x200000, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
		run("addr-outside-ram", 0, NEEDS_RESET);
	}
	CASE("addr-in-pci-hole") {
		read_chain();
		desc(0, 0xd0000000ULL, 16, VRING_DESC_F_NEXT, 1);
		run("addr-in-pci-hole", 0, NEEDS_RESET);
	}
	CASE("addr-wraps") {
		read_chain();
		desc(1, 0xfffffffffffff000ULL, 0x2000, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
		run("addr-wraps", 0, NEEDS_RESET);
	}
	CASE("addr-straddles-ram-end") {
		read_chain();
		desc(1, end - 256, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
		run("addr-straddles-ram-end", 0, NEEDS_RESET);
	}
	CASE("huge-length") {
		read_chain();
		desc(1, (uint64_t)buf, 0xffffffff, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
		run("huge-length", 0, NEEDS_RESET);
	}
	CASE("huge-total-length") {
		/* readable descriptors over RAM whose lengths add up past 4 GiB
		 * (§2.7.5), in a write past the disk's end: nothing of the guest
		 * is at risk if the device went ahead anyway */
		req->hdr = (struct vblk_hdr){ VIRTIO_BLK_T_OUT, 0, ~0ULL >> 10 };
		desc(0, (uint64_t)&req->hdr, 16, VRING_DESC_F_NEXT, 1);
		uint32_t len = (uint32_t)((end - 0x100000) / 2);
		uint16_t k = (uint16_t)((0x100000000ULL + len - 1) / len + 1);
		if (k > n - 2)
			k = n - 2;
		for (uint16_t i = 1; i <= k; i++)
			desc(i, 0x100000, len, VRING_DESC_F_NEXT, i + 1);
		desc(k + 1, (uint64_t)&req->status, 1, VRING_DESC_F_WRITE, 0);
		run("huge-total-length", 0, NEEDS_RESET | COMPLETED_ERR);
	}
	CASE("zero-length-header") {
		read_chain();
		desc(0, (uint64_t)&req->hdr, 0, VRING_DESC_F_NEXT, 1);
		run("zero-length-header", 0, NEEDS_RESET | COMPLETED_ERR);
	}
	CASE("short-header") {
		read_chain();
		desc(0, (uint64_t)&req->hdr, 8, VRING_DESC_F_NEXT, 1);
		run("short-header", 0, NEEDS_RESET | COMPLETED_ERR);
	}
	CASE("all-zero-lengths") {
		read_chain();
		desc(0, (uint64_t)&req->hdr, 0, VRING_DESC_F_NEXT, 1);
		desc(1, (uint64_t)buf, 0, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
		desc(2, (uint64_t)&req->status, 0, VRING_DESC_F_WRITE, 0);
		run("all-zero-lengths", 0, NEEDS_RESET | COMPLETED_ERR);
	}
	CASE("no-status-byte") {
		read_chain();
		desc(1, (uint64_t)buf, 512, VRING_DESC_F_NEXT, 2);	/* data readable */
		desc(2, (uint64_t)&req->status, 1, 0, 0);		/* status readable */
		run("no-status-byte", 0, NEEDS_RESET | COMPLETED_ERR);
	}
	CASE("readable-after-writable") {
		read_chain();
		desc(2, (uint64_t)&req->status, 1, 0, 0);
		desc(1, (uint64_t)buf, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
		run("readable-after-writable", 0, NEEDS_RESET);
	}
	CASE("data-not-sector-multiple") {
		read_chain();
		desc(1, (uint64_t)buf, 100, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
		run("data-not-sector-multiple", 0, NEEDS_RESET | COMPLETED_ERR | COMPLETED_OK);
	}
	CASE("write-into-header") {
		/* an IN request whose data buffer is its own descriptor table */
		read_chain();
		desc(1, (uint64_t)q.desc, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
		run("write-into-header", 0, NEEDS_RESET | COMPLETED_OK | COMPLETED_ERR);
	}
}

/* ------------------------------------------------------- indirect cases */
static void indirect_chain(uint16_t count)
{
	req->hdr = (struct vblk_hdr){ VIRTIO_BLK_T_IN, 0, 0 };
	itab[0] = (struct vring_desc){ (uint64_t)&req->hdr, 16, VRING_DESC_F_NEXT, 1 };
	for (uint16_t i = 1; i + 1 < count; i++)
		itab[i] = (struct vring_desc){ (uint64_t)buf + 512 * (i % 64), 512,
					       VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, (uint16_t)(i + 1) };
	itab[count - 1] = (struct vring_desc){ (uint64_t)&req->status, 1, VRING_DESC_F_WRITE, 0 };
	desc(0, (uint64_t)itab, 16u * count, VRING_DESC_F_INDIRECT, 0);
}

static void indirect_cases(void)
{
	if (!q.indirect) {
		kit_puts("hostile: INDIRECT_DESC not negotiated: indirect cases skipped\n");
		return;
	}
	CASE("indirect-ok") {
		indirect_chain(3);
		run("indirect-ok", 0, COMPLETED_OK);
	}
	CASE("indirect-too-long") {
		indirect_chain(1025);		/* VIRTQ_MAX_SEGS is 1024 */
		run("indirect-too-long", 0, NEEDS_RESET | COMPLETED_ERR);
	}
	CASE("indirect-loop") {
		indirect_chain(4);
		itab[2].next = 1;
		itab[2].flags = VRING_DESC_F_NEXT | VRING_DESC_F_WRITE;
		itab[3].flags = VRING_DESC_F_WRITE;
		run("indirect-loop", 0, NEEDS_RESET);
	}
	CASE("indirect-next-outside-table") {
		indirect_chain(3);
		itab[1].next = 3;		/* the table has 3 entries */
		run("indirect-next-outside-table", 0, NEEDS_RESET);
	}
	CASE("indirect-nested") {
		indirect_chain(3);
		itab[1] = (struct vring_desc){ (uint64_t)(itab + 8), 48, VRING_DESC_F_INDIRECT, 0 };
		run("indirect-nested", 0, NEEDS_RESET);
	}
	CASE("indirect-with-next") {
		indirect_chain(3);
		desc(0, (uint64_t)itab, 48, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
		desc(1, (uint64_t)&req->status, 1, VRING_DESC_F_WRITE, 0);
		run("indirect-with-next", 0, NEEDS_RESET);
	}
	CASE("indirect-zero-length") {
		indirect_chain(3);
		desc(0, (uint64_t)itab, 0, VRING_DESC_F_INDIRECT, 0);
		run("indirect-zero-length", 0, NEEDS_RESET);
	}
	CASE("indirect-length-not-16") {
		indirect_chain(3);
		desc(0, (uint64_t)itab, 40, VRING_DESC_F_INDIRECT, 0);
		run("indirect-length-not-16", 0, NEEDS_RESET);
	}
	CASE("indirect-table-outside-ram") {
		indirect_chain(3);
		desc(0, ram_end() + 0x1000, 48, VRING_DESC_F_INDIRECT, 0);
		run("indirect-table-outside-ram", 0, NEEDS_RESET);
	}
	CASE("indirect-not-negotiated") {
		/* set up again without INDIRECT_DESC, then use it anyway */
		if (setup_features(&blk, &q, 0)) {
			kit_puts("hostile: indirect-not-negotiated: set-up failed: FAIL\n");
			fails++;
		} else {
			indirect_chain(3);
			run("indirect-not-negotiated", 0, NEEDS_RESET);
		}
	}
}

/* ------------------------------------------------------ transport cases */
/* Set up queue 0 by hand with rings at desc/avail/used, enable; report
 * whether the device took it. */
static void bad_rings(const char *name, uint64_t d, uint64_t a, uint64_t u)
{
	if (!selected(name))
		return;
	vdev_init(&blk, VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC));
	vc_w16(&blk, VC_Q_SELECT, 0);
	vc_w64(&blk, VC_Q_DESC, d);
	vc_w64(&blk, VC_Q_DRIVER, a);
	vc_w64(&blk, VC_Q_DEVICE, u);
	vc_w16(&blk, VC_Q_ENABLE, 1);
	uint16_t en = vc_r16(&blk, VC_Q_ENABLE);
	vdev_driver_ok(&blk);
	uint8_t s = vdev_status(&blk);
	int got = s & VIRTIO_NEEDS_RESET ? NEEDS_RESET : IGNORED;
	kit_printf("hostile: %s: queue_enable reads %u, status 0x%x\n", name, en, s);
	/* an enabled queue with such rings would be a bug; a refused one with
	 * no NEEDS_RESET is tolerable (the queue is simply not there) */
	if (en)
		got = COMPLETED_OK;
	expect_isr = false;	/* DRIVER_OK came after the error */
	finish(name, got, NEEDS_RESET | IGNORED, -1, 0);
	expect_isr = true;
}

static void transport_cases(void)
{
	uint64_t end = ram_end();
	uint64_t page = (uint64_t)kit_alloc(4096, 4096);
	bad_rings("rings-outside-ram", end + 0x100000, page, page + 2048);
	bad_rings("rings-in-pci-hole", 0xd0000000ULL, page, page + 2048);
	bad_rings("rings-wrap", 0xfffffffffffff000ULL, page, page + 2048);
	bad_rings("rings-misaligned", page + 8, page + 1, page + 2050);
	bad_rings("rings-straddle-ram-end", end - 64, page, page + 2048);

	CASE("bogus-queue-sizes") {
		vdev_init(&blk, 0);
		vc_w16(&blk, VC_Q_SELECT, 0);
		uint16_t max = vc_r16(&blk, VC_Q_SIZE);
		static const uint16_t sizes[] = { 0, 3, 100, 0x8000, 0xffff };
		bool ok = true;
		for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			vc_w16(&blk, VC_Q_SIZE, sizes[i]);
			uint16_t rb = vc_r16(&blk, VC_Q_SIZE);
			kit_printf("hostile: bogus-queue-sizes: wrote %u (max %u), reads %u\n", sizes[i],
				   max, rb);
			if (rb == 0 || (rb & (rb - 1)) || rb > max)
				ok = false;
		}
		vc_w16(&blk, VC_Q_SIZE, max);
		finish("bogus-queue-sizes", ok ? AS_SPECIFIED : WRONG, AS_SPECIFIED, -1, 0);
	}
	CASE("queue-select-out-of-range") {
		vdev_init(&blk, 0);
		vc_w16(&blk, VC_Q_SELECT, 0x1234);
		uint16_t sz = vc_r16(&blk, VC_Q_SIZE);
		vc_w16(&blk, VC_Q_SIZE, 8);
		vc_w64(&blk, VC_Q_DESC, 0x100000);
		vc_w16(&blk, VC_Q_MSIX, 0);
		vc_w16(&blk, VC_Q_ENABLE, 1);
		uint16_t en = vc_r16(&blk, VC_Q_ENABLE);
		kit_printf("hostile: queue-select-out-of-range: size %u enable %u\n", sz, en);
		finish("queue-select-out-of-range", !sz && !en ? AS_SPECIFIED : WRONG, AS_SPECIFIED, -1, 0);
	}
	CASE("change-rings-while-enabled") {
		/* queue registers are frozen once enabled (§4.1.4.3.2) */
		vc_w16(&blk, VC_Q_SELECT, 0);
		uint64_t was = vc_r64(&blk, VC_Q_DESC);
		vc_w64(&blk, VC_Q_DESC, end + 0x100000);
		vc_w16(&blk, VC_Q_SIZE, 2);
		uint64_t now = vc_r64(&blk, VC_Q_DESC);
		kit_printf("hostile: change-rings-while-enabled: desc 0x%lx -> 0x%lx, size %u\n", was,
			   now, vc_r16(&blk, VC_Q_SIZE));
		int s = good_read();
		finish("change-rings-while-enabled", now == was && s == 0 ? AS_SPECIFIED : WRONG,
		       AS_SPECIFIED, s, 0);
	}
	CASE("features-not-offered") {
		vdev_reset(&blk);
		vdev_set_status(&blk, VIRTIO_ACKNOWLEDGE | VIRTIO_DRIVER);
		uint64_t off = vdev_read_features(&blk);
		vdev_write_features(&blk, off | (1ULL << 63) | (1ULL << 50));
		vdev_set_status(&blk, VIRTIO_ACKNOWLEDGE | VIRTIO_DRIVER | VIRTIO_FEATURES_OK);
		uint8_t s1 = vdev_status(&blk);
		vdev_reset(&blk);
		vdev_set_status(&blk, VIRTIO_ACKNOWLEDGE | VIRTIO_DRIVER);
		vdev_write_features(&blk, off & ~VIRTIO_BIT(VIRTIO_F_VERSION_1));
		vdev_set_status(&blk, VIRTIO_ACKNOWLEDGE | VIRTIO_DRIVER | VIRTIO_FEATURES_OK);
		uint8_t s2 = vdev_status(&blk);
		kit_printf("hostile: features-not-offered: status 0x%x; without VERSION_1: 0x%x\n",
			   s1, s2);
		bool ok = !(s1 & VIRTIO_FEATURES_OK) && !(s2 & VIRTIO_FEATURES_OK);
		finish("features-not-offered", ok ? AS_SPECIFIED : WRONG, AS_SPECIFIED, -1, 0);
	}
	CASE("features-after-features-ok") {
		vdev_init(&blk, 0);
		uint64_t f = vdev_read_features(&blk);
		vc_w32(&blk, VC_GFSELECT, 0);
		vc_w32(&blk, VC_GF, 0xffffffff);
		vc_w32(&blk, VC_GFSELECT, 0);
		uint32_t rb = vc_r32(&blk, VC_GF);
		kit_printf("hostile: features-after-features-ok: driver features low word 0x%x\n", rb);
		(void)f;
		finish("features-after-features-ok", rb != 0xffffffff ? AS_SPECIFIED : WRONG, AS_SPECIFIED,
		       -1, 0);
	}
	CASE("driver-ok-without-features-ok") {
		vdev_reset(&blk);
		vdev_set_status(&blk, VIRTIO_ACKNOWLEDGE | VIRTIO_DRIVER | VIRTIO_DRIVER_OK);
		uint64_t t0 = kit_rdtsc();
		while (!(vdev_status(&blk) & VIRTIO_NEEDS_RESET) &&
		       kit_rdtsc() - t0 < kit_us_ticks(500000))
			cpu_relax();
		uint8_t s = vdev_status(&blk);
		kit_printf("hostile: driver-ok-without-features-ok: status 0x%x\n", s);
		/* no configuration interrupt is due: DRIVER_OK was not in force */
		(void)vdev_isr(&blk);
		finish("driver-ok-without-features-ok",
		       s & VIRTIO_NEEDS_RESET ? AS_SPECIFIED : WRONG, AS_SPECIFIED, -1, 0);
	}
	CASE("status-all-ones") {
		vdev_reset(&blk);
		vdev_set_status(&blk, 0xff);
		uint8_t s = vdev_status(&blk);
		kit_printf("hostile: status-all-ones: status 0x%x\n", s);
		(void)vdev_isr(&blk);
		finish("status-all-ones", s & VIRTIO_FEATURES_OK ? WRONG : AS_SPECIFIED, AS_SPECIFIED,
		       -1, 0);
	}
	CASE("notify-before-driver-ok") {
		/* a request queued and kicked before DRIVER_OK waits for it */
		vdev_init(&blk, 0);
		vq_init(&blk, &q, 0, 0);
		vblk_submit(&q, req, VIRTIO_BLK_T_IN, 0, buf, 512);
		vq_notify(&q);
		kit_delay_us(100000);
		bool early = q.used->idx != q.last_used;
		vdev_driver_ok(&blk);
		void *tok;
		int got = vq_wait(&q, &tok, NULL, 2000000);
		kit_printf("hostile: notify-before-driver-ok: done before DRIVER_OK %d, after %d\n",
			   early, got);
		finish("notify-before-driver-ok", !early && got ? AS_SPECIFIED : WRONG, AS_SPECIFIED, -1, 0);
	}
	CASE("bad-notifications") {
		/* kicks for queues that do not exist, odd sizes and offsets */
		mmio_write16(q.notify_addr, 1000);
		mmio_write8(blk.notify + 1, 0);
		mmio_write32(blk.notify + 4 * blk.num_queues, 0);
		mmio_write64(blk.notify + 4 * blk.num_queues + 8, ~0ULL);
		mmio_write16(blk.notify + blk.notify_len - 1, 0);
		(void)mmio_read32(blk.notify);
		int s = good_read();
		finish("bad-notifications", s == 0 ? AS_SPECIFIED : WRONG, AS_SPECIFIED, s, 0);
	}
	CASE("reset-with-requests-in-flight") {
		for (int i = 0; i < 16 && q.num_free >= 3; i++)
			vblk_submit(&q, req, VIRTIO_BLK_T_IN, (uint64_t)i * 64, buf, 32768);
		vq_notify(&q);
		int r = vdev_reset(&blk);
		finish("reset-with-requests-in-flight", r ? WRONG : AS_SPECIFIED, AS_SPECIFIED, -1, 0);
	}
}

/* ------------------------------------------------------ register cases */
static void register_cases(void)
{
	CASE("config-out-of-range") {
		/* device config past its length, odd widths in the common
		 * structure, past its end, past the BAR */
		uint64_t b0 = blk.bar[0];
		uint32_t v1 = blk.devcfg ? mmio_read32(blk.devcfg + blk.devcfg_len) : 0;
		if (blk.devcfg) {
			mmio_write32(blk.devcfg + blk.devcfg_len, 0x12345678);
			mmio_write64(blk.devcfg + 0xff8, ~0ULL);
			mmio_write8(blk.devcfg, 0x55);	/* capacity is read-only */
		}
		uint64_t cap = vdev_cfg64(&blk, 0);
		uint8_t st8 = vc_r8(&blk, VC_NUM_QUEUES);	/* 1 byte of a 16-bit field */
		uint64_t w8 = mmio_read64(blk.common + VC_DFSELECT);
		mmio_write8(blk.common + VC_Q_SELECT, 0x77);
		mmio_write64(blk.common + VC_STATUS, ~0ULL);	/* 8 bytes over status.. */
		uint32_t past = mmio_read32(blk.common + 0x3c);
		mmio_write32(blk.common + 0x3c, ~0u);
		uint32_t bar_end = kit_map_mmio(b0 + 0x8000, 4096) ? 0 : mmio_read32(b0 + 0x8000);
		uint32_t hole = mmio_read32(b0 + 0x7ffc);
		mmio_write32(b0 + 0x7ffc, 0);
		kit_printf("hostile: config-out-of-range: past config 0x%x, capacity %lu, 1-byte read "
			   "0x%x, 8-byte read 0x%lx, past common 0x%x, past BAR 0x%x, BAR tail 0x%x, "
			   "status 0x%x\n", v1, cap, st8, w8, past, bar_end, hole, vdev_status(&blk));
		mmio_write8(blk.isr, 0xff);		/* the ISR is read-only */
		finish("config-out-of-range", AS_SPECIFIED, AS_SPECIFIED, -1, 0);
	}
	CASE("pci-config-abuse") {
		uint16_t f = blk.bdf;
		static uint32_t before[64], after[64];
		for (int i = 0; i < 64; i++)
			before[i] = pci_read32(f, (uint16_t)(4 * i));
		/* all-ones over the capabilities, except MSI-X's control word */
		for (uint16_t o = 0x40; o < 0x100; o += 4)
			if (!blk.msix_cap || o != blk.msix_cap)
				pci_write32(f, o, 0xffffffff);
		/* identity, class, header type, capability pointer */
		pci_write32(f, 0x00, 0);
		pci_write32(f, 0x08, 0);
		pci_write32(f, 0x0c, 0xffffffff);
		pci_write32(f, 0x34, 0);
		/* extended configuration space, odd sizes */
		if (pci_method() == PCI_ECAM) {
			for (uint16_t o = 0x100; o < 0x1000; o += 0x7c)
				pci_write32(f, o, 0xffffffff);
			(void)mmio_read64(pci_ecam_base() + ((uint64_t)f << 12) + 8);
			*(volatile uint64_t *)(pci_ecam_base() + ((uint64_t)f << 12) + 0x40) = ~0ULL;
			(void)pci_read32(f, 0xffc);
		}
		for (int i = 0; i < 64; i++)
			after[i] = pci_read32(f, (uint16_t)(4 * i));
		int changed = 0;
		for (int i = 0; i < 64; i++) {
			uint16_t o = (uint16_t)(4 * i);
			if (o == 0x04 || o == 0x0c || (blk.msix_cap && o == blk.msix_cap))
				continue;	/* command/status, cache line, MSI-X control */
			if (before[i] != after[i]) {
				kit_printf("hostile: pci-config-abuse: 0x%02x changed 0x%08x -> 0x%08x\n", o,
					   before[i], after[i]);
				changed++;
			}
		}
		/* restore the command register and MSI-X control (the 8-byte
		 * write may have enabled and masked MSI-X) */
		pci_write16(f, PCI_COMMAND, PCI_CMD_MEM | PCI_CMD_MASTER);
		if (blk.msix_cap)
			pci_write16(f, blk.msix_cap + 2, 0);
		finish("pci-config-abuse", changed ? WRONG : AS_SPECIFIED, AS_SPECIFIED, -1, 0);
	}
	CASE("bar-move") {
		/* Move BAR 0 to another place in the 32-bit window, use the
		 * device there (notifications follow it), move it back. */
		uint16_t f = blk.bdf;
		uint64_t old = blk.bar[0], to = 0xd8000000ULL;
		pci_write16(f, PCI_COMMAND, PCI_CMD_MASTER);
		pci_write32(f, PCI_BAR0, (uint32_t)to | (pci_read32(f, PCI_BAR0) & 0xf));
		pci_write32(f, PCI_BAR0 + 4, 0);
		struct vdev moved;
		int s = -3;
		if (!vdev_find(&moved, VIRTIO_ID_BLOCK, 0) && moved.bar[0] == to) {
			blk = moved;
			if (!setup())
				s = good_read();
		}
		kit_printf("hostile: bar-move: 0x%lx -> 0x%lx: good read %d\n", old, blk.bar[0], s);
		pci_write16(f, PCI_COMMAND, PCI_CMD_MASTER);
		pci_write32(f, PCI_BAR0, (uint32_t)old | (pci_read32(f, PCI_BAR0) & 0xf));
		pci_write32(f, PCI_BAR0 + 4, (uint32_t)(old >> 32));
		vdev_find(&blk, VIRTIO_ID_BLOCK, 0);
		finish("bar-move", s == 0 ? AS_SPECIFIED : WRONG, AS_SPECIFIED, s, 0);
	}
	CASE("msix-abuse") {
		if (!blk.msix_table) {
			kit_puts("hostile: msix-abuse: no MSI-X table\n");
		} else {
			uint64_t t = blk.msix_table;
			uint16_t nv = blk.msix_n;
			bool ok = true;
			/* sub-dword accesses are ignored, reads all-ones */
			mmio_write32(t + 8, 0x40);
			mmio_write8(t + 8, 0x99);
			*(volatile uint16_t *)(t + 10) = 0x1234;
			uint8_t r8 = mmio_read8(t + 8);
			uint32_t d0 = mmio_read32(t + 8);
			/* entries past the table, the PBA, out-of-range vectors */
			mmio_write32(t + 16u * nv, 0xfee00000);
			mmio_write32(t + 16u * nv + 12, 0);
			uint32_t past = mmio_read32(t + 16u * nv);
			mmio_write64(blk.msix_pba, ~0ULL);
			uint64_t pba = mmio_read64(blk.msix_pba);
			uint16_t qv = vdev_set_vector(&blk, 0, 999);
			uint16_t cv = vdev_set_vector(&blk, 0xffff, nv);
			kit_printf("hostile: msix-abuse: %u vectors, byte read 0x%x, data 0x%x, past table "
				   "0x%x, PBA 0x%lx, queue vector 999 -> 0x%x, config vector %u -> 0x%x\n",
				   nv, r8, d0, past, pba, qv, nv, cv);
			if (d0 != 0x40 || qv != VIRTIO_MSI_NO_VECTOR || cv != VIRTIO_MSI_NO_VECTOR ||
			    pba == ~0ULL)
				ok = false;
			/* a masked vector: the completion sets its pending bit,
			 * unmasking delivers it */
			uint8_t vec = 0x71;
			(void)kit_lapic_irr(vec);		/* software-enables the LAPIC */
			vdev_msix_set(&blk, 0, kit_apic_id(), vec, true);
			vdev_msix_enable(&blk, true);
			vdev_set_vector(&blk, 0, 0);
			vq_interrupts(&q, true);
			int s = good_read();
			uint64_t pend, t1 = kit_rdtsc();
			while (!((pend = mmio_read64(blk.msix_pba)) & 1) &&
			       kit_rdtsc() - t1 < kit_us_ticks(1000000))
				cpu_relax();
			bool irr_masked = kit_lapic_irr(vec);
			mmio_write32(t + 12, 0);		/* unmask */
			bool irr = false;
			uint64_t t0 = kit_rdtsc();
			while (!(irr = kit_lapic_irr(vec)) && kit_rdtsc() - t0 < kit_us_ticks(500000))
				cpu_relax();
			uint64_t pend2 = mmio_read64(blk.msix_pba);
			kit_printf("hostile: msix-abuse: masked: read %d, PBA 0x%lx, IRR %d; unmasked: "
				   "IRR %d, PBA 0x%lx\n", s, pend, irr_masked, irr, pend2);
			if (s != 0 || !(pend & 1) || irr_masked || !irr || (pend2 & 1))
				ok = false;
			/* a vector aimed at nowhere */
			mmio_write32(t + 12, 1);
			mmio_write32(t + 0, 0xdead0000);
			mmio_write32(t + 4, 0xffffffff);
			mmio_write32(t + 8, 0);
			mmio_write32(t + 12, 0);
			s = good_read();
			vdev_msix_enable(&blk, false);
			finish("msix-abuse", ok && s == 0 ? AS_SPECIFIED : WRONG, AS_SPECIFIED, s, 0);
		}
	}
}

/* ------------------------------------------------------------ rng */
static void rng_cases(void)
{
	if (!selected("rng-"))
		return;
	static struct vdev rd;
	static struct vq rq;
	if (vdev_find(&rd, VIRTIO_ID_RNG, 0)) {
		kit_puts("hostile: no virtio-rng: rng cases skipped\n");
		return;
	}
	static const char *const names[] = { "rng-loop", "rng-outside-ram", "rng-readable-only" };
	for (int c = 0; c < 3; c++) {
		if (setup_features(&rd, &rq, 0))
			break;
		volatile struct vring_desc *d = rq.desc;
		if (c == 0) {
			d[0] = (struct vring_desc){ (uint64_t)buf, 64, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1 };
			d[1] = (struct vring_desc){ (uint64_t)buf, 64, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 0 };
		} else if (c == 1) {
			d[0] = (struct vring_desc){ ram_end() + 0x4000, 64, VRING_DESC_F_WRITE, 0 };
		} else {
			d[0] = (struct vring_desc){ (uint64_t)buf, 64, 0, 0 };
		}
		vq_publish(&rq, 0);
		vq_notify(&rq);
		int st;
		uint32_t ul;
		int got = outcome(&rd, &rq, &st, &ul);
		if (got & (COMPLETED_OK | COMPLETED_ERR))
			got = ul ? COMPLETED_OK : COMPLETED_ERR;
		int allowed = c == 2 ? NEEDS_RESET | COMPLETED_ERR : NEEDS_RESET;
		bool ok = got & allowed;
		if (got == NEEDS_RESET && !(isr_wait(&rd, 2) & 2))
			ok = false;
		vdev_reset(&rd);
		/* recovery: a good read */
		bool rec = false;
		if (!setup_features(&rd, &rq, 0)) {
			struct vq_buf b = { (uint64_t)buf, 64, true };
			vq_add(&rq, &b, 1, buf);
			vq_kick(&rq);
			uint32_t l = 0;
			rec = vq_wait(&rq, NULL, &l, 2000000) && l > 0;
		}
		cases++;
		kit_printf("hostile: %s: %s, %s: %s\n", names[c], outcome_name(got),
			   rec ? "recovered" : "no recovery", ok && rec ? "ok" : "FAIL");
		if (!(ok && rec))
			fails++;
		vdev_reset(&rd);
	}
}

int payload_main(void)
{
	only = kit_cmdline_get("only=", &only_len);
	if (pci_init(kit_cmdline_has("pci=cf8") ? PCI_CF8 : PCI_ECAM))
		return KIT_EXIT_FAIL;
	if (vdev_find(&blk, VIRTIO_ID_BLOCK, 0)) {
		kit_puts("hostile: FAIL no virtio-blk device (give a scratch --disk)\n");
		return KIT_EXIT_FAIL;
	}
	buf = kit_alloc(65536, 4096);
	req = kit_alloc(sizeof(*req), 64);
	itab = kit_alloc(16 * 2048, 16);
	if (setup() || good_read() != VIRTIO_BLK_S_OK) {
		kit_puts("hostile: FAIL the device does not work to begin with\n");
		return KIT_EXIT_FAIL;
	}
	kit_printf("hostile: virtio-blk at 00:%02x.0, queue size %u, RAM ends at 0x%lx\n",
		   blk.bdf >> 3, q.size, ram_end());
	ring_cases();
	indirect_cases();
	setup();
	transport_cases();
	register_cases();
	rng_cases();
	kit_printf("hostile: %d cases, %d failed\n", cases, fails);
	return fails ? KIT_EXIT_FAIL : KIT_EXIT_OK;
}
