/* Initrd placement and loading (Documentation/arch/x86/boot.rst,
 * initrd_addr_max: "the address of the highest safe byte"). Like other boot
 * loaders skiff puts the initrd as high as possible in low RAM, page-aligned,
 * so it stays clear of the kernel's decompression area. */
#include "boot/kernel.h"
#include "boot/layout.h"
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGE 4096ULL
/* Bytes to MiB, rounded up. */
static uint64_t mib_up(uint64_t x)
{
	return (x >> 20) + ((x & 0xfffff) != 0);
}

/* Highest page-aligned start for `size` bytes inside [lo, hi), or false. */
static bool fit_high(uint64_t lo, uint64_t hi, uint64_t size, uint64_t *start)
{
	if (hi <= lo || hi - lo < size)
		return false;
	uint64_t s = (hi - size) & ~(PAGE - 1);
	if (s < lo)
		return false;
	*start = s;
	return true;
}

int boot_place_initrd(const struct guest_mem *gm, const struct boot_kernel *k,
		      uint64_t size, const char *name, uint64_t *gpa, struct skiff_err *e)
{
	if (size == 0)
		return skiff_fail(e, EINVAL, "initrd %s: empty file", name);
	uint64_t top = gm_low_end(gm);
	uint64_t lim = (uint64_t)k->initrd_addr_max + 1;
	if (lim < top)
		top = lim;
	/* Two candidate gaps: above the kernel, then below it. */
	uint64_t above_lo = k->load_end > BOOT_HIGH_GPA ? k->load_end : BOOT_HIGH_GPA;
	uint64_t below_hi = k->load_start < top ? k->load_start : top;
	if (fit_high(above_lo, top, size, gpa) || fit_high(BOOT_HIGH_GPA, below_hi, size, gpa))
		return 0;
	uint64_t free_above = top > above_lo ? top - above_lo : 0;
	uint64_t free_below = below_hi > BOOT_HIGH_GPA ? below_hi - BOOT_HIGH_GPA : 0;
	uint64_t best = free_above > free_below ? free_above : free_below;
	return skiff_fail(e, ENOMEM, "initrd %s needs %" PRIu64 " MiB (%" PRIu64 " bytes), but "
			  "the largest free gap below 0x%" PRIx64 " outside the kernel [0x%" PRIx64
			  ", 0x%" PRIx64 ") has %" PRIu64 " MiB", name, mib_up(size), size, top,
			  k->load_start, k->load_end, best >> 20);
}

int boot_load_initrd_buf(struct guest_mem *gm, const uint8_t *buf, size_t len,
			 const char *name, const struct boot_kernel *k,
			 uint64_t *gpa, struct skiff_err *e)
{
	uint64_t at;
	int rc = boot_place_initrd(gm, k, len, name, &at, e);
	if (rc)
		return rc;
	if (gm_write(gm, at, buf, len))
		return skiff_fail(e, EFAULT, "initrd %s: cannot write %zu bytes at 0x%" PRIx64,
				  name, len, at);
	*gpa = at;
	return 0;
}

int boot_load_initrd(struct guest_mem *gm, const char *path, const struct boot_kernel *k,
		     uint64_t *gpa, uint64_t *size, struct skiff_err *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int err = errno;
		return skiff_fail(e, err, "initrd %s: %s", path, strerror(err));
	}
	struct stat st;
	int rc;
	if (fstat(fd, &st)) {
		rc = skiff_fail(e, errno, "initrd %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = skiff_fail(e, EINVAL, "initrd %s: not a regular file", path);
		goto out;
	}
	uint64_t len = (uint64_t)st.st_size, at;
	rc = boot_place_initrd(gm, k, len, path, &at, e);
	if (rc)
		goto out;
	uint8_t *dst = gm_ptr(gm, at, len);
	if (!dst) {
		rc = skiff_fail(e, EFAULT, "initrd %s: [0x%" PRIx64 ", +0x%" PRIx64 ") not in RAM",
				path, at, len);
		goto out;
	}
	uint64_t got = 0;
	while (got < len) {
		size_t chunk = len - got > (1U << 30) ? (1U << 30) : (size_t)(len - got);
		ssize_t n = read(fd, dst + got, chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = skiff_fail(e, EIO, "initrd %s: read failed at byte %" PRIu64 " of %"
					PRIu64 ": %s", path, got, len, n ? strerror(errno) : "file shrank");
			goto out;
		}
		got += (uint64_t)n;
	}
	*gpa = at;
	*size = len;
	rc = 0;
out:
	close(fd);
	return rc;
}
