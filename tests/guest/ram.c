/* ram: write an address-dependent pattern to every 8-byte word of every e820
 * RAM range (except below 1 MiB and the kit's own image), then read it all
 * back. Prints the e820 RAM ranges, "ram: total <KiB> KiB" and
 * "ram: checked <MiB> MiB"; exits 0x2a, or 0x33 at the first mismatch. */
#include "kit.h"

#define K 0x9e3779b97f4a7c15ULL		/* odd: p * K is unique per address */

struct range { uint64_t lo, hi; };

static int add(struct range *r, int n, uint64_t lo, uint64_t hi)
{
	lo = (lo + 7) & ~7ULL;
	hi &= ~7ULL;
	if (lo < hi && n < 2 * BP_E820_MAX) {
		r[n].lo = lo;
		r[n].hi = hi;
		n++;
	}
	return n;
}

int payload_main(void)
{
	static struct range r[2 * BP_E820_MAX + 2];
	uint64_t ks = (uint64_t)__kit_start, ke = (uint64_t)__kit_end;
	uint64_t total = 0, limit = (uint64_t)KIT_MAX_GIB << 30;
	int n = 0;
	for (int i = 0; i < kit_e820_count(); i++) {
		const struct kit_e820 *e = kit_e820_entry(i);
		if (e->type != KIT_E820_RAM)
			continue;
		uint64_t lo = e->addr, hi = e->addr + e->size;
		kit_printf("ram: e820 0x%09lx-0x%09lx\n", lo, hi);
		total += e->size;
		if (lo < 0x100000)
			lo = 0x100000;
		if (hi > limit)
			hi = limit;
		if (lo >= hi)
			continue;
		if (hi <= ks || lo >= ke) {
			n = add(r, n, lo, hi);
		} else {
			n = add(r, n, lo, ks);
			n = add(r, n, ke, hi);
		}
	}
	kit_printf("ram: total %lu KiB\n", total >> 10);
	uint64_t checked = 0;
	for (int i = 0; i < n; i++) {
		volatile uint64_t *p = (volatile uint64_t *)r[i].lo, *end = (volatile uint64_t *)r[i].hi;
		uint64_t v = r[i].lo * K;
		for (; p < end; p++, v += 8 * K)
			*p = v;
	}
	for (int i = 0; i < n; i++) {
		volatile uint64_t *p = (volatile uint64_t *)r[i].lo, *end = (volatile uint64_t *)r[i].hi;
		uint64_t v = r[i].lo * K;
		for (; p < end; p++, v += 8 * K) {
			uint64_t got = *p;
			if (got != v) {
				kit_printf("ram: MISMATCH at 0x%lx: wrote 0x%lx, read 0x%lx\n",
					   (uint64_t)p, v, got);
				return KIT_EXIT_FAIL;
			}
		}
		checked += r[i].hi - r[i].lo;
	}
	kit_printf("ram: checked %lu MiB\n", checked >> 20);
	return KIT_EXIT_OK;
}
