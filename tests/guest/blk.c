/* blk: drive virtio-blk devices (virtio 1.2 §5.2) from CPL3.
 *
 * Test mode (default), for each of the first `disks=N` (default 1) disks:
 *   - reads sectors 0-7, which the host filled with the pattern of seed 1;
 *   - read-write disk: writes sectors 8..8+count-1 (count=, default 64)
 *     with the pattern of seed 100 + disk index, in requests of 1, 2, 5 and 8
 *     sectors, 3-segment requests and (if offered) indirect ones; FLUSH;
 *     reads it all back and compares;
 *   - read-only disk (VIRTIO_BLK_F_RO): a write must fail with IOERR and
 *     leave sector 8 as it was (seed 1);
 *   - GET_ID; a read at the capacity and one straddling it fail with IOERR;
 *     an unknown request type gives UNSUPP; with a used-buffer interrupt
 *     requested and MSI-X off, the ISR's queue bit is set (INTx path).
 * Lines: "blkI: capacity N sectors", "blkI: id STRING", "blkI: host pattern
 * ok", "blkI: pattern ok" or "blkI: read-only write IOERR", "blkI: ok";
 * exits 0x2a, or 0x33 after "blkI: FAIL ..." lines.
 *
 * The pattern: each 512-byte sector is 16 lines of 32 bytes,
 *   printf("blk %08u.%02u seed %010u\n", sector, line, seed)
 * so the host can write and check it with printf (tests/integration).
 *
 * Bench mode, "bench=rand" or "bench=seq" on disk 0: n= requests (default
 * 20000 rand, 2000 seq) of bs= bytes (4096 rand, 131072 seq), qd= in flight
 * (default 32 rand, 8 seq), reads at random bs-aligned offsets or in order
 * (wrapping at the capacity); "write" writes instead. The timed part is
 * framed by two writes of 123 to the boot-timer port 0x3f0 (skiff logs the
 * host time of each); prints "blkbench: MODE ops N bytes B tsc T kicks K",
 * then waits linger= milliseconds (default 0) before exiting, so that a
 * script can read skiff's thread statistics.
 * "pci=cf8": configuration through 0xCF8. "sync": no EVENT_IDX.
 * "hold=S": set up disk 0, print "blk: holding the disk for S s", wait S
 * seconds (about: see kit_delay_us), exit 0x2a. */
#include "virtio.h"

static int fails;
static int disk_ix;
#define FAIL(...) do { kit_printf("blk%d: FAIL ", disk_ix); kit_printf(__VA_ARGS__); fails++; } while (0)

#define SECTOR 512
#define T_LONG 10000000		/* 10 s per request at most */

/* ------------------------------------------------------------ pattern */
static char *put_dec(char *p, uint64_t v, int width)
{
	for (int i = width - 1; i >= 0; i--) {
		p[i] = '0' + v % 10;
		v /= 10;
	}
	return p + width;
}

static void fill_sector(uint8_t *s, uint64_t sector, uint32_t seed)
{
	char *p = (char *)s;
	for (int l = 0; l < 16; l++) {
		memcpy(p, "blk ", 4);
		p = put_dec(p + 4, sector % 100000000, 8);
		*p++ = '.';
		p = put_dec(p, l, 2);
		memcpy(p, " seed ", 6);
		p = put_dec(p + 6, seed, 10);
		*p++ = '\n';
	}
}

static void fill(uint8_t *buf, uint64_t sector, uint32_t nsec, uint32_t seed)
{
	for (uint32_t i = 0; i < nsec; i++)
		fill_sector(buf + i * SECTOR, sector + i, seed);
}

/* First mismatching sector in buf, or -1. */
static int64_t check(const uint8_t *buf, uint64_t sector, uint32_t nsec, uint32_t seed)
{
	static uint8_t want[SECTOR];
	for (uint32_t i = 0; i < nsec; i++) {
		fill_sector(want, sector + i, seed);
		if (memcmp(want, buf + i * SECTOR, SECTOR))
			return (int64_t)(sector + i);
	}
	return -1;
}

static void show_sector(const uint8_t *s)
{
	kit_puts("    | ");
	for (int i = 0; i < 32; i++)
		kit_putc(s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '.');
	kit_puts("\n");
}

/* ------------------------------------------------------------ requests */
struct disk {
	struct vdev d;
	struct vq q;
	uint64_t capacity;		/* sectors */
	bool ro;
};

/* A request whose data is split in nseg segments (1..6), direct or
 * indirect. Returns the status byte, or -1 (timeout) / -2 (no room). */
static int req(struct disk *k, uint32_t type, uint64_t sector, void *data, uint32_t len, int nseg,
	       bool indirect)
{
	static struct vblk_req r;
	struct vq_buf b[8];
	int n = 0;
	bool w = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
	r.hdr = (struct vblk_hdr){ type, 0, sector };
	r.status = 0xee;
	b[n++] = (struct vq_buf){ (uint64_t)&r.hdr, sizeof(r.hdr), false };
	if (len) {
		if (nseg < 1)
			nseg = 1;
		uint32_t per = (len / nseg) & ~(SECTOR - 1);
		if (!per)
			per = len, nseg = 1;
		for (int i = 0; i < nseg; i++)
			b[n++] = (struct vq_buf){ (uint64_t)data + i * per,
						  i == nseg - 1 ? len - i * per : per, w };
	}
	b[n++] = (struct vq_buf){ (uint64_t)&r.status, 1, true };
	int h = indirect ? vq_add_indirect(&k->q, b, n, &r) : vq_add(&k->q, b, n, &r);
	if (h < 0)
		return -2;
	vq_kick(&k->q);
	void *tok;
	uint32_t used;
	for (;;) {
		if (!vq_wait(&k->q, &tok, &used, T_LONG))
			return -1;
		if (tok == &r)
			break;
	}
	if (r.status == VIRTIO_BLK_S_OK && w && used < len + 1)
		FAIL("type %u: used length %u, want >= %u\n", type, used, len + 1);
	return r.status;
}

static const char *st_name(int s)
{
	switch (s) {
	case VIRTIO_BLK_S_OK: return "OK";
	case VIRTIO_BLK_S_IOERR: return "IOERR";
	case VIRTIO_BLK_S_UNSUPP: return "UNSUPP";
	case -1: return "TIMEOUT";
	case -2: return "NO-ROOM";
	default: return "?";
	}
}

#define EXPECT(what, got, want) do { int g_ = (got); \
	if (g_ != (want)) FAIL("%s: status %s (%d), want %s\n", what, st_name(g_), g_, st_name(want)); \
	} while (0)

static int open_disk(struct disk *k, int nth, bool event_idx)
{
	if (vdev_find(&k->d, VIRTIO_ID_BLOCK, nth)) {
		FAIL("no virtio-blk device number %d\n", nth);
		return -1;
	}
	uint64_t want = VIRTIO_BIT(VIRTIO_BLK_F_RO) | VIRTIO_BIT(VIRTIO_BLK_F_FLUSH) |
			VIRTIO_BIT(VIRTIO_BLK_F_BLK_SIZE) | VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX) |
			VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC);
	if (event_idx)
		want |= VIRTIO_BIT(VIRTIO_F_EVENT_IDX);
	if (vdev_init(&k->d, want))
		return -1;
	if (vq_init(&k->d, &k->q, 0, 0))
		return -1;
	if (k->q.indirect)
		vq_alloc_indirect(&k->q, 8);
	vdev_driver_ok(&k->d);
	k->capacity = vdev_cfg64(&k->d, 0);
	k->ro = k->d.features & VIRTIO_BIT(VIRTIO_BLK_F_RO);
	return 0;
}

/* ---------------------------------------------------------------- test */
static void test_disk(int nth)
{
	static struct disk k;
	int fails0 = fails;
	disk_ix = nth;
	if (open_disk(&k, nth, !kit_cmdline_has("sync"))) {
		fails++;
		return;
	}
	kit_printf("blk%d: 00:%02x.0 capacity %lu sectors%s\n", nth, k.d.bdf >> 3, k.capacity,
		   k.ro ? " read-only" : "");
	kit_printf("blk%d: features offered 0x%lx accepted 0x%lx, queue size %u, seg_max %u\n", nth,
		   k.d.offered, k.d.features, k.q.size,
		   (k.d.features & VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX)) ? vdev_cfg32(&k.d, 12) : 0);
	uint32_t count = (uint32_t)kit_cmdline_u64("count=", 64);
	if (k.capacity < 8 + count + 1) {
		FAIL("capacity %lu too small for %u sectors\n", k.capacity, count);
		return;
	}
	uint8_t *buf = kit_alloc((count + 8) * SECTOR, 4096);

	/* host-written pattern */
	int s = req(&k, VIRTIO_BLK_T_IN, 0, buf, 8 * SECTOR, 1, false);
	EXPECT("read sectors 0-7", s, VIRTIO_BLK_S_OK);
	int64_t bad = check(buf, 0, 8, 1);
	if (s == VIRTIO_BLK_S_OK && bad >= 0) {
		FAIL("sector %ld differs from the host's pattern (seed 1):\n", bad);
		show_sector(buf + bad * SECTOR);
	} else if (s == VIRTIO_BLK_S_OK) {
		kit_printf("blk%d: host pattern ok\n", nth);
	}

	/* GET_ID: 20 bytes, NUL-padded */
	static char id[VIRTIO_BLK_ID_BYTES + 1];
	memset(id, 0, sizeof(id));
	s = req(&k, VIRTIO_BLK_T_GET_ID, 0, id, VIRTIO_BLK_ID_BYTES, 1, false);
	EXPECT("GET_ID", s, VIRTIO_BLK_S_OK);
	kit_printf("blk%d: id %s\n", nth, id);

	uint32_t seed = 100 + nth;
	if (k.ro) {
		fill(buf, 8, 1, seed);
		s = req(&k, VIRTIO_BLK_T_OUT, 8, buf, SECTOR, 1, false);
		EXPECT("write to a read-only disk", s, VIRTIO_BLK_S_IOERR);
		if (s == VIRTIO_BLK_S_IOERR)
			kit_printf("blk%d: read-only write IOERR\n", nth);
		memset(buf, 0, SECTOR);
		s = req(&k, VIRTIO_BLK_T_IN, 8, buf, SECTOR, 1, false);
		EXPECT("read sector 8", s, VIRTIO_BLK_S_OK);
		if (check(buf, 8, 1, 1) >= 0)
			FAIL("sector 8 of the read-only disk changed\n");
	} else {
		/* write in varied request shapes */
		static const uint32_t sizes[] = { 1, 2, 5, 8, 3, 16, 7 };
		uint32_t done = 0;
		for (int i = 0; done < count; i++) {
			uint32_t n = sizes[i % 7];
			if (n > count - done)
				n = count - done;
			int nseg = i % 3 == 1 ? 3 : 1;
			bool ind = k.q.indirect && i % 2;
			fill(buf, 8 + done, n, seed);
			s = req(&k, VIRTIO_BLK_T_OUT, 8 + done, buf, n * SECTOR, nseg, ind);
			if (s != VIRTIO_BLK_S_OK) {
				FAIL("write of %u sectors at %u (%d segments%s): %s\n", n, 8 + done,
				     nseg, ind ? ", indirect" : "", st_name(s));
				break;
			}
			done += n;
		}
		if (k.d.features & VIRTIO_BIT(VIRTIO_BLK_F_FLUSH)) {
			s = req(&k, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, 1, false);
			EXPECT("FLUSH", s, VIRTIO_BLK_S_OK);
			kit_printf("blk%d: flush %s\n", nth, st_name(s));
		} else {
			kit_printf("blk%d: FLUSH not offered\n", nth);
		}
		/* read back: all at once, then in 3-segment indirect pieces */
		memset(buf, 0, count * SECTOR);
		s = req(&k, VIRTIO_BLK_T_IN, 8, buf, count * SECTOR, 1, false);
		EXPECT("read back", s, VIRTIO_BLK_S_OK);
		bad = check(buf, 8, count, seed);
		if (bad >= 0) {
			FAIL("sector %ld read back wrong:\n", bad);
			show_sector(buf + (bad - 8) * SECTOR);
		}
		memset(buf, 0, count * SECTOR);
		for (uint32_t o = 0; o < count; o += 4) {
			uint32_t n = count - o < 4 ? count - o : 4;
			s = req(&k, VIRTIO_BLK_T_IN, 8 + o, buf + o * SECTOR, n * SECTOR, n > 1 ? 2 : 1,
				k.q.indirect);
			if (s != VIRTIO_BLK_S_OK) {
				FAIL("read of %u sectors at %u: %s\n", n, 8 + o, st_name(s));
				break;
			}
		}
		int64_t bad2 = check(buf, 8, count, seed);
		if (bad2 >= 0)
			FAIL("sector %ld read back wrong in 4-sector pieces\n", bad2);
		if (bad < 0 && bad2 < 0)
			kit_printf("blk%d: pattern ok (%u sectors)\n", nth, count);
	}

	/* errors */
	EXPECT("read at the capacity", req(&k, VIRTIO_BLK_T_IN, k.capacity, buf, SECTOR, 1, false),
	       VIRTIO_BLK_S_IOERR);
	EXPECT("read straddling the end", req(&k, VIRTIO_BLK_T_IN, k.capacity - 1, buf, 2 * SECTOR, 1,
					      false), VIRTIO_BLK_S_IOERR);
	EXPECT("read at sector 2^63", req(&k, VIRTIO_BLK_T_IN, 1ULL << 63, buf, SECTOR, 1, false),
	       VIRTIO_BLK_S_IOERR);
	EXPECT("unknown request type 0x77", req(&k, 0x77, 0, buf, SECTOR, 1, false),
	       VIRTIO_BLK_S_UNSUPP);

	/* INTx path: MSI-X is off, so a requested interrupt shows in the ISR */
	(void)vdev_isr(&k.d);
	vq_interrupts(&k.q, true);
	s = req(&k, VIRTIO_BLK_T_IN, 0, buf, SECTOR, 1, false);
	/* the device decides on the interrupt just after publishing the used
	 * entry: keep asking for it (interrupts stay requested) and give it a
	 * moment */
	uint8_t isr;
	uint64_t t0 = kit_rdtsc();
	while (!((isr = vdev_isr(&k.d)) & 1) && kit_rdtsc() - t0 < kit_us_ticks(1000000))
		cpu_relax();
	uint8_t isr2 = vdev_isr(&k.d);
	vq_interrupts(&k.q, false);
	kit_printf("blk%d: ISR after an interrupting request 0x%x, then 0x%x\n", nth, isr, isr2);
	if (!(isr & 1) || isr2)
		FAIL("ISR 0x%x then 0x%x, want bit 0 set, then clear after the read\n", isr, isr2);

	uint8_t st = vdev_status(&k.d);
	if (st & (VIRTIO_NEEDS_RESET | VIRTIO_FAILED))
		FAIL("device status 0x%x\n", st);
	vdev_reset(&k.d);
	kit_printf("blk%d: %s\n", nth, fails > fails0 ? "failed" : "ok");
}

/* --------------------------------------------------------------- bench */
static void timer_mark(void) { outb(0x3f0, 123); }

static int bench(const char *mode, size_t mlen)
{
	bool rnd = mlen == 4 && !strncmp(mode, "rand", 4);
	bool write = kit_cmdline_has("write");
	uint32_t bs = (uint32_t)kit_cmdline_u64("bs=", rnd ? 4096 : 131072);
	uint32_t qd = (uint32_t)kit_cmdline_u64("qd=", rnd ? 32 : 8);
	uint64_t n = kit_cmdline_u64("n=", rnd ? 20000 : 2000);
	static struct disk k;
	if (open_disk(&k, 0, !kit_cmdline_has("sync")))
		return KIT_EXIT_FAIL;
	uint64_t span = k.capacity * SECTOR / bs;	/* blocks of bs */
	if (!span || bs % SECTOR || qd == 0 || qd > k.q.size) {
		kit_printf("blkbench: bad parameters (bs %u, qd %u, capacity %lu, queue %u)\n", bs,
			   qd, k.capacity, k.q.size);
		return KIT_EXIT_FAIL;
	}
	if (!k.q.indirect && 3 * qd > k.q.size)
		qd = k.q.size / 3;
	struct vblk_req *r = kit_alloc(sizeof(*r) * qd, 64);
	uint8_t *data = kit_alloc((size_t)bs * qd, 4096);
	for (uint32_t i = 0; i < qd; i++)
		memset(data + (size_t)i * bs, 0x5a, bs);
	uint64_t rs = 0x9e3779b97f4a7c15ULL, next_blk = 0, issued = 0, done = 0, errors = 0;
	uint32_t type = write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
	kit_printf("blkbench: %s%s bs %u qd %u n %lu capacity %lu sectors, indirect %d event_idx %d\n",
		   rnd ? "rand" : "seq", write ? "-write" : "", bs, qd, n, k.capacity,
		   k.q.indirect, k.q.event_idx);
	timer_mark();
	uint64_t t0 = kit_rdtsc();
	for (uint32_t i = 0; i < qd && issued < n; i++, issued++) {
		uint64_t blk = rnd ? kit_rand(&rs) % span : next_blk++ % span;
		vblk_submit(&k.q, &r[i], type, blk * (bs / SECTOR), data + (size_t)i * bs, bs);
	}
	vq_kick(&k.q);
	uint64_t last = kit_rdtsc();
	while (done < n) {
		void *tok;
		int got = 0;
		while (vq_get(&k.q, &tok, NULL)) {
			struct vblk_req *x = tok;
			got++;
			done++;
			if (x->status != VIRTIO_BLK_S_OK)
				errors++;
			if (issued < n) {
				uint32_t i = (uint32_t)(x - r);
				uint64_t blk = rnd ? kit_rand(&rs) % span : next_blk++ % span;
				vblk_submit(&k.q, x, type, blk * (bs / SECTOR), data + (size_t)i * bs, bs);
				issued++;
			}
		}
		if (got) {
			vq_kick(&k.q);
			last = kit_rdtsc();
		} else if (kit_rdtsc() - last > kit_us_ticks(T_LONG)) {
			kit_printf("blkbench: stalled after %lu of %lu requests (status 0x%x)\n", done,
				   n, vdev_status(&k.d));
			return KIT_EXIT_FAIL;
		} else {
			cpu_relax();
		}
	}
	uint64_t t1 = kit_rdtsc();
	timer_mark();
	kit_printf("blkbench: %s ops %lu bytes %lu tsc %lu kicks %lu errors %lu\n",
		   rnd ? "rand" : "seq", done, done * bs, t1 - t0, k.q.kicks, errors);
	kit_delay_us(kit_cmdline_u64("linger=", 0) * 1000);
	vdev_reset(&k.d);
	return errors ? KIT_EXIT_FAIL : KIT_EXIT_OK;
}

int payload_main(void)
{
	if (pci_init(kit_cmdline_has("pci=cf8") ? PCI_CF8 : PCI_ECAM))
		return KIT_EXIT_FAIL;
	size_t mlen;
	const char *mode = kit_cmdline_get("bench=", &mlen);
	if (mode)
		return bench(mode, mlen);
	uint64_t hold = kit_cmdline_u64("hold=", 0);
	if (hold) {
		/* keep the disk open (for the image-lock test), then exit */
		static struct disk k;
		if (open_disk(&k, 0, true))
			return KIT_EXIT_FAIL;
		kit_printf("blk: holding the disk for %lu s\n", hold);
		kit_delay_us(hold * 1000000);
		return KIT_EXIT_OK;
	}
	int disks = (int)kit_cmdline_u64("disks=", 1);
	for (int i = 0; i < disks; i++)
		test_disk(i);
	kit_printf("blk: %d disk(s), %s\n", disks, fails ? "FAILED" : "all ok");
	return fails ? KIT_EXIT_FAIL : KIT_EXIT_OK;
}
