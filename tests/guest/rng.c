/* rng: read entropy from the first virtio-rng device (virtio 1.2 §5.4).
 * Queue 0 gets device-writable buffers; several reads of 64 bytes and one
 * of 4 KiB (split over 4 descriptors, and through an indirect table when
 * offered). Checks: every request completes with a length in 1..size,
 * the bytes are not all zero, two 64-byte reads differ, and the 4 KiB has
 * at least 200 distinct byte values. Prints
 *   rng: features 0x...
 *   rng: read N bytes: xx xx xx ...
 *   rng: ok
 * and exits 0x2a; 0x33 after "rng: FAIL ..." lines. "pci=cf8" uses port
 * 0xCF8 for configuration access. "msix" also checks MSI-X delivery: the
 * completion raises a vector that shows up in the LAPIC's IRR. "intx" checks
 * INTA#: the GSI in the Interrupt Line register, routed in the IOAPIC,
 * delivers its vector (see intx_check). */
#include "virtio.h"

static int fails;
#define FAIL(...) do { kit_printf("rng: FAIL " __VA_ARGS__); fails++; } while (0)

static uint8_t buf[4096] __attribute__((aligned(4096)));

/* One request of n segments covering len bytes of buf; returns bytes. */
static uint32_t rng_read(struct vq *q, uint32_t len, int nseg, bool indirect)
{
	struct vq_buf b[8];
	uint32_t per = len / nseg;
	for (int i = 0; i < nseg; i++)
		b[i] = (struct vq_buf){ (uint64_t)buf + i * per, i == nseg - 1 ? len - i * per : per, true };
	memset(buf, 0, sizeof(buf));
	int h = indirect ? vq_add_indirect(q, b, nseg, buf) : vq_add(q, b, nseg, buf);
	if (h < 0) {
		FAIL("no room in the queue\n");
		return 0;
	}
	vq_kick(q);
	void *tok;
	uint32_t got;
	if (!vq_wait(q, &tok, &got, 5000000)) {
		FAIL("no completion within 5 s (status 0x%x)\n", vdev_status(q->dev));
		return 0;
	}
	if (tok != buf)
		FAIL("completion for another token\n");
	if (got == 0 || got > len)
		FAIL("used length %u for a %u-byte request\n", got, len);
	return got;
}

/* "intx": with MSI-X off, the used-buffer interrupt goes out on INTA#. Route
 * the function's GSI (its Interrupt Line register) in the IOAPIC to a
 * vector, level-triggered, and see the vector arrive in the LAPIC's IRR;
 * the ISR shows the queue bit. */
#define IOAPIC 0xfec00000ULL
static void ioapic_write(uint32_t reg, uint32_t v)
{
	mmio_write32(IOAPIC, reg);
	mmio_write32(IOAPIC + 0x10, v);
}

static void intx_check(struct vdev *d, struct vq *q)
{
	uint8_t gsi = pci_read8(d->bdf, PCI_INT_LINE), pin = pci_read8(d->bdf, PCI_INT_PIN);
	uint32_t ver = (mmio_write32(IOAPIC, 1), mmio_read32(IOAPIC + 0x10));
	uint32_t pins = ((ver >> 16) & 0xff) + 1;
	uint8_t vec = 0x62;
	kit_printf("rng: intx: pin %u, interrupt line %u, IOAPIC with %u pins\n", pin, gsi, pins);
	if (!pin || gsi >= pins) {
		FAIL("no usable INTx route (pin %u, line %u)\n", pin, gsi);
		return;
	}
	vdev_msix_enable(d, false);
	pci_write16(d->bdf, PCI_COMMAND, pci_read16(d->bdf, PCI_COMMAND) & ~PCI_CMD_INTX_DISABLE);
	(void)vdev_isr(d);
	bool before = kit_lapic_irr(vec);		/* also software-enables the LAPIC */
	ioapic_write(0x11 + 2 * gsi, kit_apic_id() << 24);	/* destination */
	ioapic_write(0x10 + 2 * gsi, (1u << 15) | vec);		/* level, fixed, unmasked */
	vq_interrupts(q, true);
	rng_read(q, 64, 1, false);
	bool irr = false;
	uint64_t t0 = kit_rdtsc();
	while (!(irr = kit_lapic_irr(vec)) && kit_rdtsc() - t0 < kit_us_ticks(1000000))
		cpu_relax();
	uint8_t isr = vdev_isr(d);
	vq_interrupts(q, false);
	ioapic_write(0x10 + 2 * gsi, 1u << 16);			/* masked again */
	kit_printf("rng: intx: GSI %u -> vector 0x%x pending %d -> %d, ISR 0x%x\n", gsi, vec, before,
		   irr, isr);
	if (before || !irr || !(isr & 1))
		FAIL("INTx on GSI %u was not delivered\n", gsi);
}

int payload_main(void)
{
	if (pci_init(kit_cmdline_has("pci=cf8") ? PCI_CF8 : PCI_ECAM))
		return KIT_EXIT_FAIL;
	struct vdev d;
	if (vdev_find(&d, VIRTIO_ID_RNG, 0)) {
		kit_puts("rng: FAIL no virtio-rng device\n");
		return KIT_EXIT_FAIL;
	}
	if (vdev_init(&d, VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC) | VIRTIO_BIT(VIRTIO_F_EVENT_IDX)))
		return KIT_EXIT_FAIL;
	kit_printf("rng: 00:%02x.0 features offered 0x%lx accepted 0x%lx queues %u\n",
		   d.bdf >> 3, d.offered, d.features, d.num_queues);
	static struct vq q;
	if (vq_init(&d, &q, 0, 0))
		return KIT_EXIT_FAIL;
	if (q.indirect)
		vq_alloc_indirect(&q, 8);
	vdev_driver_ok(&d);
	kit_printf("rng: queue 0 size %u, status 0x%x\n", q.size, vdev_status(&d));

	uint8_t first[64];
	bool differ = false;
	for (int i = 0; i < 4; i++) {
		uint32_t n = rng_read(&q, 64, 1, false);
		if (!n)
			break;
		kit_printf("rng: read %u bytes:", n);
		for (uint32_t k = 0; k < n && k < 16; k++)
			kit_printf(" %02x", buf[k]);
		kit_puts("\n");
		bool zero = true;
		for (uint32_t k = 0; k < n; k++)
			zero &= buf[k] == 0;
		if (zero && n >= 8)
			FAIL("%u bytes all zero\n", n);
		if (i == 0)
			memcpy(first, buf, 64);
		else if (memcmp(first, buf, n < 64 ? n : 64))
			differ = true;
	}
	if (!differ)
		FAIL("every read returned the same bytes\n");
	for (int ind = 0; ind <= (q.indirect ? 1 : 0); ind++) {
		uint32_t total = 0;
		static bool seen[256];
		memset(seen, 0, sizeof(seen));
		while (total < 4096) {
			uint32_t n = rng_read(&q, 4096, 4, ind);
			if (!n)
				break;
			for (uint32_t k = 0; k < n; k++)
				seen[buf[k]] = true;
			total += n;
		}
		int distinct = 0;
		for (int k = 0; k < 256; k++)
			distinct += seen[k];
		kit_printf("rng: %u bytes in 4-segment requests%s: %d distinct values\n", total,
			   ind ? " (indirect)" : "", distinct);
		if (distinct < 200)
			FAIL("only %d distinct byte values in %u bytes\n", distinct, total);
	}
	if (kit_cmdline_has("msix")) {
		if (!d.msix_table) {
			FAIL("no MSI-X capability\n");
		} else {
			uint8_t vec = 0x61;
			vdev_msix_set(&d, 0, kit_apic_id(), vec, false);
			vdev_msix_enable(&d, true);
			uint16_t got = vdev_set_vector(&d, 0, 0);
			kit_printf("rng: msix: %u vectors, queue 0 -> vector %u\n", d.msix_n, got);
			if (got != 0)
				FAIL("queue 0 refused MSI-X vector 0 (reads %u)\n", got);
			bool before = kit_lapic_irr(vec);
			vq_interrupts(&q, true);
			rng_read(&q, 64, 1, false);
			bool after = false;
			uint64_t t0 = kit_rdtsc();
			while (!(after = kit_lapic_irr(vec)) && kit_rdtsc() - t0 < kit_us_ticks(1000000))
				cpu_relax();
			kit_printf("rng: msix: vector 0x%x pending %d -> %d\n", vec, before, after);
			if (before || !after)
				FAIL("MSI-X vector 0x%x was not delivered\n", vec);
		}
	}
	if (kit_cmdline_has("intx"))
		intx_check(&d, &q);
	uint8_t s = vdev_status(&d);
	if (s & (VIRTIO_NEEDS_RESET | VIRTIO_FAILED))
		FAIL("device status 0x%x\n", s);
	vdev_reset(&d);
	if (!fails)
		kit_puts("rng: ok\n");
	return fails ? KIT_EXIT_FAIL : KIT_EXIT_OK;
}
