/* Per-VM address registry for port I/O and MMIO (one struct bus for each
 * address space). A range is [base, base+len) in bytes; ranges may not
 * overlap. Lookups are a binary search over a sorted array.
 *
 * Concurrency: ranges are registered while no vCPU runs (set-up, or with all
 * vCPUs paused); dispatch is then lock-free and may run on any vCPU thread.
 * Handlers serialise their own device state. */
#ifndef SKIFF_BUS_H
#define SKIFF_BUS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A device access. `offset` is relative to the range's base; `len` is the
 * access size in bytes (1, 2, 4 or 8 for CPU accesses). For a read the
 * handler fills data[0..len); the bus pre-fills it with 0xff. */
typedef void (*bus_io_fn)(void *opaque, uint64_t offset, uint8_t *data,
			  uint32_t len, bool is_write);

struct bus_range {
	uint64_t base;
	uint64_t len;
	bus_io_fn fn;
	void *opaque;		/* not owned */
	const char *name;	/* static string, for logs */
};

struct bus {
	struct bus_range *ranges;	/* sorted by base; owned */
	size_t n, cap;
	uint64_t limit;			/* highest address + 1 (0x10000 for PIO) */
	uint64_t unhandled;		/* accesses that hit no range */
};

/* limit: size of the address space in bytes (0 means 2^64). */
void bus_init(struct bus *b, uint64_t limit);
void bus_destroy(struct bus *b);

/* Register [base, base+len). Returns 0, -EINVAL (len 0, wraps, or beyond the
 * limit), -EEXIST (overlaps an existing range) or -ENOMEM. */
int bus_register(struct bus *b, uint64_t base, uint64_t len, bus_io_fn fn,
		 void *opaque, const char *name);

/* Remove the range starting exactly at base. Returns 0 or -ENOENT. */
int bus_unregister(struct bus *b, uint64_t base);

/* Find the range holding the whole access [addr, addr+len). NULL if none. */
const struct bus_range *bus_find(const struct bus *b, uint64_t addr, uint32_t len);

/* Dispatch one access. Reads that hit no range return all-ones. Returns true
 * if a device handled it; false (and counts it in `unhandled`) otherwise. */
bool bus_access(struct bus *b, uint64_t addr, uint8_t *data, uint32_t len, bool is_write);

#endif
