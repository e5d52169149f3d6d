#include "core/guest_mem.h"
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

int gm_init(struct guest_mem *gm, uint64_t ram_size)
{
	memset(gm, 0, sizeof(*gm));
	if (ram_size == 0 || (ram_size & 0xfff))
		return -EINVAL;
	void *p = mmap(NULL, ram_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	/* Guest RAM should not end up in a host core dump. */
	madvise(p, ram_size, MADV_DONTDUMP);
	gm->base = p;
	gm->ram_size = ram_size;
	uint64_t low = ram_size < SKIFF_PCI_HOLE_START ? ram_size : SKIFF_PCI_HOLE_START;
	gm->r[0] = (struct gm_region){ 0, low, gm->base };
	gm->n = 1;
	if (ram_size > low) {
		gm->r[1] = (struct gm_region){ SKIFF_PCI_HOLE_END, ram_size - low, gm->base + low };
		gm->n = 2;
	}
	return 0;
}

void gm_destroy(struct guest_mem *gm)
{
	if (gm->base)
		munmap(gm->base, gm->ram_size);
	memset(gm, 0, sizeof(*gm));
}

void *gm_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	for (size_t i = 0; i < gm->n; i++) {
		const struct gm_region *r = &gm->r[i];
		if (gpa < r->gpa)
			continue;
		uint64_t off = gpa - r->gpa;
		/* off < size and len <= size - off, without overflow. */
		if (off < r->size && len <= r->size - off)
			return r->hva + off;
	}
	return NULL;
}

int gm_read(const struct guest_mem *gm, uint64_t gpa, void *buf, uint64_t len)
{
	void *p = gm_ptr(gm, gpa, len);
	if (!p)
		return -EFAULT;
	memcpy(buf, p, len);
	return 0;
}

int gm_write(const struct guest_mem *gm, uint64_t gpa, const void *buf, uint64_t len)
{
	void *p = gm_ptr(gm, gpa, len);
	if (!p)
		return -EFAULT;
	memcpy(p, buf, len);
	return 0;
}

uint64_t gm_low_end(const struct guest_mem *gm)
{
	return gm->n ? gm->r[0].gpa + gm->r[0].size : 0;
}
