/* bzImage loading (Documentation/arch/x86/boot.rst, "Loading The Rest of
 * The Kernel" and "64-bit Boot Protocol") and the format dispatch.
 *
 * Load address: the protected-mode part goes to BOOT_HIGH_GPA (0x100000),
 * the address boot.rst gives for bzImage kernels and the one Firecracker and
 * kvmtool use with the 64-bit entry. The real-mode setup code is not loaded:
 * the 64-bit entry skips it. A relocatable kernel's decompressor then runs
 * at max(align_up(0x100000, kernel_alignment), pref_address) — boot.rst's
 * "runtime start address" plus the floor Linux's compressed head_64.S applies
 * (it never runs below LOAD_PHYSICAL_ADDR, which header.S stores in
 * pref_address); a non-relocatable one at pref_address. It needs init_size
 * bytes from there, so that whole range must be RAM. */
#include "boot/kernel.h"
#include "boot/layout.h"
#include "core/vm.h"
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Bytes to MiB, rounded up. */
static uint64_t mib_up(uint64_t x)
{
	return (x >> 20) + ((x & 0xfffff) != 0);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Where the decompressor will run (see the top of this file). */
static int runtime_start(const struct bp_setup_header *h, uint64_t load, const char *name,
			 uint64_t *start, struct skiff_err *e)
{
	uint64_t rs;
	if (h->relocatable_kernel) {
		uint64_t a = h->kernel_alignment;
		if (a == 0 || (a & (a - 1)))
			return skiff_fail(e, EINVAL, "kernel %s: kernel_alignment 0x%" PRIx64
					  " is not a power of two", name, a);
		rs = (load + a - 1) & ~(a - 1);
		if (rs < h->pref_address)
			rs = h->pref_address;
	} else {
		rs = h->pref_address ? h->pref_address : load;
	}
	if (rs < BOOT_HIGH_GPA)
		return skiff_fail(e, EINVAL, "kernel %s: it would run at 0x%" PRIx64
				  " (pref_address), below 1 MiB", name, rs);
	*start = rs;
	return 0;
}

int boot_load_bzimage(struct guest_mem *gm, const uint8_t *buf, size_t len,
		      const char *name, struct boot_kernel *k, struct skiff_err *e)
{
	if (len < BP_HDR_OFF(version) + 2)
		return skiff_fail(e, EINVAL, "kernel %s: truncated bzImage header (%zu bytes)", name, len);
	size_t hdr_end = 0x202 + (size_t)buf[0x201];
	if (hdr_end > len)
		return skiff_fail(e, EINVAL, "kernel %s: setup header ends at 0x%zx, beyond the "
				  "end of the file (%zu bytes)", name, hdr_end, len);
	size_t copy = (hdr_end < BP_HDR_END_MAX ? hdr_end : BP_HDR_END_MAX) - BP_HDR_OFFSET;
	struct bp_setup_header h;
	memset(&h, 0, sizeof(h));
	memcpy(&h, buf + BP_HDR_OFFSET, copy < sizeof(h) ? copy : sizeof(h));

	unsigned maj = h.version >> 8, min = h.version & 0xff;
	if (h.version < 0x0206)
		return skiff_fail(e, EPROTO, "kernel %s: boot protocol %u.%02u is older than 2.06",
				  name, maj, min);
	if (h.version < 0x020c || !(h.xloadflags & BP_XLF_KERNEL_64))
		return skiff_fail(e, EPROTO, "kernel %s: no 64-bit entry point (boot protocol "
				  "%u.%02u, xloadflags 0x%x; need 2.12+ with XLF_KERNEL_64)",
				  name, maj, min, h.version < 0x020c ? 0 : h.xloadflags);
	if (hdr_end < BP_HDR_OFF(init_size) + 4)
		return skiff_fail(e, EINVAL, "kernel %s: setup header ends at 0x%zx, before "
				  "init_size (0x260) which protocol %u.%02u has", name, hdr_end, maj, min);
	if (!(h.loadflags & BP_LOADED_HIGH))
		return skiff_fail(e, EINVAL, "kernel %s: not a bzImage (loadflags 0x%x lacks "
				  "LOADED_HIGH)", name, h.loadflags);

	size_t setup = ((size_t)(h.setup_sects ? h.setup_sects : 4) + 1) * BP_SECTOR;
	if (setup >= len)
		return skiff_fail(e, EINVAL, "kernel %s: truncated: %zu bytes of setup code, "
				  "file is %zu bytes", name, setup, len);
	size_t pm_len = len - setup;
	uint64_t sys_len = (uint64_t)h.syssize * 16;
	if (sys_len == 0 || sys_len > pm_len)
		return skiff_fail(e, EINVAL, "kernel %s: truncated: syssize says %" PRIu64
				  " bytes of protected-mode code, the file has %zu after the setup",
				  name, sys_len, pm_len);

	uint64_t load = BOOT_HIGH_GPA, rs = 0;
	int rc = runtime_start(&h, load, name, &rs, e);
	if (rc)
		return rc;
	if (rs > UINT64_MAX - h.init_size)
		return skiff_fail(e, EINVAL, "kernel %s: pref_address 0x%" PRIx64 " + init_size "
				  "overflows", name, (uint64_t)h.pref_address);
	uint64_t end = load + pm_len;	/* pm_len < 2^63: no overflow */
	if (rs + h.init_size > end)
		end = rs + h.init_size;
	uint64_t low = gm_low_end(gm);
	if (end > low)
		return skiff_fail(e, ENOMEM, "kernel %s needs %" PRIu64 " MiB of low RAM (%zu-byte "
				  "image at 0x%" PRIx64 ", init_size 0x%x from 0x%" PRIx64 "), guest "
				  "has %" PRIu64 " MiB", name, mib_up(end), pm_len, load,
				  h.init_size, rs, low >> 20);
	if (gm_write(gm, load, buf + setup, pm_len))
		return skiff_fail(e, EFAULT, "kernel %s: cannot write %zu bytes at 0x%" PRIx64,
				  name, pm_len, load);

	memset(k, 0, sizeof(*k));
	k->entry = load + 0x200;
	k->load_start = load;
	k->load_end = end;
	k->bzimage = true;
	memcpy(k->setup_hdr, buf + BP_HDR_OFFSET, copy);
	k->setup_hdr_len = copy;
	k->protocol = h.version;
	k->initrd_addr_max = h.initrd_addr_max;
	k->initrd_above_4g = h.xloadflags & BP_XLF_CAN_BE_LOADED_ABOVE_4G;
	k->cmdline_max = h.cmdline_size < SKIFF_MAX_CMDLINE ? h.cmdline_size : SKIFF_MAX_CMDLINE;
	return 0;
}

int boot_load_kernel_buf(struct guest_mem *gm, const uint8_t *buf, size_t len,
			 const char *name, struct boot_kernel *k, struct skiff_err *e)
{
	memset(k, 0, sizeof(*k));
	if (len == 0)
		return skiff_fail(e, EINVAL, "kernel %s: empty file", name);
	if (len >= 4 && memcmp(buf, ELFMAG, SELFMAG) == 0)
		return boot_load_elf(gm, buf, len, name, k, e);
	if (len >= BP_HDR_OFF(header) + 4 && rd32(buf + BP_HDR_OFF(header)) == BP_HDR_MAGIC)
		return boot_load_bzimage(gm, buf, len, name, k, e);
	return skiff_fail(e, EINVAL, "kernel %s: not an ELF64 x86-64 executable or a bzImage "
			  "(no \\x7fELF magic, no \"HdrS\" at 0x202)", name);
}

int boot_load_kernel(struct guest_mem *gm, const char *path, struct boot_kernel *k,
		     struct skiff_err *e)
{
	memset(k, 0, sizeof(*k));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int err = errno;
		return skiff_fail(e, err, "kernel %s: %s", path, strerror(err));
	}
	struct stat st;
	int rc;
	uint8_t *buf = NULL;
	if (fstat(fd, &st)) {
		rc = skiff_fail(e, errno, "kernel %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = skiff_fail(e, EINVAL, "kernel %s: not a regular file", path);
		goto out;
	}
	if (st.st_size == 0) {
		rc = skiff_fail(e, EINVAL, "kernel %s: empty file", path);
		goto out;
	}
	if ((uint64_t)st.st_size > BOOT_KERNEL_FILE_MAX) {
		rc = skiff_fail(e, EFBIG, "kernel %s: %" PRIu64 " MiB, larger than the %llu MiB "
				"limit", path, mib_up((uint64_t)st.st_size), BOOT_KERNEL_FILE_MAX >> 20);
		goto out;
	}
	size_t len = (size_t)st.st_size, got = 0;
	buf = malloc(len);
	if (!buf) {
		rc = skiff_fail(e, ENOMEM, "kernel %s: cannot allocate %zu bytes to read it", path, len);
		goto out;
	}
	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = skiff_fail(e, EIO, "kernel %s: read failed at byte %zu of %zu: %s", path,
					got, len, n ? strerror(errno) : "file shrank");
			goto out;
		}
		got += (size_t)n;
	}
	rc = boot_load_kernel_buf(gm, buf, len, path, k, e);
out:
	free(buf);
	close(fd);
	return rc;
}
