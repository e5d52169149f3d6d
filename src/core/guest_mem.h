/* Guest RAM: one anonymous MAP_NORESERVE host mapping split into KVM memory
 * slots around the 32-bit PCI hole. RAM below SKIFF_PCI_HOLE_START (3 GiB)
 * is identity-placed; whatever does not fit there goes to GPA 4 GiB up.
 *
 * All guest-controlled addresses go through gm_ptr()/gm_read()/gm_write():
 * overflow-safe checks that the whole [gpa, gpa+len) lies inside one region. */
#ifndef SKIFF_GUEST_MEM_H
#define SKIFF_GUEST_MEM_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SKIFF_PCI_HOLE_START 0xC0000000ULL	/* 3 GiB: 32-bit MMIO starts here */
#define SKIFF_PCI_HOLE_END   0x100000000ULL	/* 4 GiB: high RAM starts here */
#define SKIFF_MAX_MEM_REGIONS 2

struct gm_region {
	uint64_t gpa;		/* guest physical base, bytes */
	uint64_t size;		/* bytes */
	uint8_t *hva;		/* host virtual address of gpa */
};

struct guest_mem {
	uint8_t *base;		/* the whole mapping (owned) */
	uint64_t ram_size;	/* bytes of RAM in total */
	size_t n;
	struct gm_region r[SKIFF_MAX_MEM_REGIONS];
};

/* Map ram_size bytes (a non-zero multiple of 4 KiB) and lay out the regions.
 * Returns 0, -EINVAL or -ENOMEM. Does not talk to KVM (see vm.c). */
int gm_init(struct guest_mem *gm, uint64_t ram_size);
void gm_destroy(struct guest_mem *gm);

/* Host pointer for [gpa, gpa+len) if it lies entirely inside one RAM region,
 * else NULL. len may be 0 (then gpa must still be inside RAM). */
void *gm_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len);

/* Copy to/from guest RAM. Return 0 or -EFAULT when the range is not RAM. */
int gm_read(const struct guest_mem *gm, uint64_t gpa, void *buf, uint64_t len);
int gm_write(const struct guest_mem *gm, uint64_t gpa, const void *buf, uint64_t len);

/* Highest RAM GPA + 1 below the PCI hole (the end of low RAM), in bytes. */
uint64_t gm_low_end(const struct guest_mem *gm);

#endif
