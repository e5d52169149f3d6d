#include "core/bus.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

void bus_init(struct bus *b, uint64_t limit)
{
	memset(b, 0, sizeof(*b));
	b->limit = limit;
}

void bus_destroy(struct bus *b)
{
	free(b->ranges);
	memset(b, 0, sizeof(*b));
}

/* Index of the first range whose base is > addr. */
static size_t upper_bound(const struct bus *b, uint64_t addr)
{
	size_t lo = 0, hi = b->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (b->ranges[mid].base <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int bus_register(struct bus *b, uint64_t base, uint64_t len, bus_io_fn fn,
		 void *opaque, const char *name)
{
	uint64_t last;
	if (len == 0 || !fn || __builtin_add_overflow(base, len - 1, &last))
		return -EINVAL;
	if (b->limit && last >= b->limit)
		return -EINVAL;
	size_t i = upper_bound(b, base);
	/* Neighbour below must end before base; neighbour above must start after last. */
	if (i > 0) {
		const struct bus_range *p = &b->ranges[i - 1];
		if (p->base + (p->len - 1) >= base)
			return -EEXIST;
	}
	if (i < b->n && b->ranges[i].base <= last)
		return -EEXIST;
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 16;
		struct bus_range *r = realloc(b->ranges, cap * sizeof(*r));
		if (!r)
			return -ENOMEM;
		b->ranges = r;
		b->cap = cap;
	}
	memmove(&b->ranges[i + 1], &b->ranges[i], (b->n - i) * sizeof(*b->ranges));
	b->ranges[i] = (struct bus_range){ base, len, fn, opaque, name };
	b->n++;
	return 0;
}

int bus_unregister(struct bus *b, uint64_t base)
{
	size_t i = upper_bound(b, base);
	if (i == 0 || b->ranges[i - 1].base != base)
		return -ENOENT;
	i--;
	memmove(&b->ranges[i], &b->ranges[i + 1], (b->n - i - 1) * sizeof(*b->ranges));
	b->n--;
	return 0;
}

const struct bus_range *bus_find(const struct bus *b, uint64_t addr, uint32_t len)
{
	uint64_t last;
	if (len == 0 || __builtin_add_overflow(addr, (uint64_t)len - 1, &last))
		return NULL;
	size_t i = upper_bound(b, addr);
	if (i == 0)
		return NULL;
	const struct bus_range *r = &b->ranges[i - 1];
	/* addr >= r->base here; the whole access must fit inside the range. */
	if (last - r->base >= r->len)
		return NULL;
	return r;
}

bool bus_access(struct bus *b, uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
	const struct bus_range *r = bus_find(b, addr, len);
	if (!r) {
		if (!is_write)
			memset(data, 0xff, len);
		__atomic_add_fetch(&b->unhandled, 1, __ATOMIC_RELAXED);
		return false;
	}
	if (!is_write)
		memset(data, 0xff, len);
	r->fn(r->opaque, addr - r->base, data, len, is_write);
	return true;
}
