/* Loading a Linux kernel (bzImage or ELF vmlinux) and an initrd into guest
 * RAM, and building the zero page for the 64-bit boot protocol
 * (Documentation/arch/x86/boot.rst, "64-bit Boot Protocol").
 *
 * Order of use: boot_load_kernel() -> boot_load_initrd() (optional) ->
 * boot_setup_zero_page(). Everything read from a file is untrusted; all
 * guest writes go through gm_ptr()/gm_write(). Functions return 0 or a
 * negative errno and fill *e (may be NULL) with a message naming the file
 * and the problem. Nothing here prints, exits or keeps global state. */
#ifndef SKIFF_BOOT_KERNEL_H
#define SKIFF_BOOT_KERNEL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "boot/bootparam.h"
#include "core/err.h"
#include "core/guest_mem.h"

#define BOOT_SETUP_HDR_MAX	(BP_HDR_END_MAX - BP_HDR_OFFSET)	/* bytes */
#define BOOT_KERNEL_FILE_MAX	(2ULL << 30)	/* largest kernel file read, bytes */
#define BOOT_ELF_INITRD_MAX	0x7fffffffu	/* initrd_addr_max assumed for ELF */

/* What the loader learnt about a loaded kernel. Filled by boot_load_kernel*;
 * plain data, owns nothing. All addresses are GPAs in bytes. */
struct boot_kernel {
	/* 64-bit entry point. bzImage: load address + 0x200 (boot.rst,
	 * "64-bit Boot Protocol"). ELF: e_entry; if it lies in a PT_LOAD's
	 * virtual range it is translated to that segment's physical address
	 * (entry - p_vaddr + p_paddr), else it must be a physical address
	 * inside a PT_LOAD (Linux's vmlinux uses phys_startup_64). */
	uint64_t entry;
	/* [load_start, load_end): RAM the kernel occupies before it reads its
	 * memory map. bzImage: the protected-mode image at BOOT_HIGH_GPA and
	 * also [runtime start, runtime start + init_size) where it
	 * decompresses itself (boot.rst, init_size). ELF: lowest p_paddr to
	 * highest p_paddr + p_memsz. The initrd is kept out of this range. */
	uint64_t load_start, load_end;
	bool bzimage;			/* setup_hdr must go into the zero page */
	/* bzImage: the setup header bytes from file offset 0x1f1 up to the end
	 * given by the jump at 0x200 (0x202 + byte at 0x201), clamped to 0x290.
	 * ELF: empty (boot_setup_zero_page synthesizes a header). */
	uint8_t setup_hdr[BOOT_SETUP_HDR_MAX];
	size_t setup_hdr_len;		/* bytes valid in setup_hdr */
	uint16_t protocol;		/* bzImage boot protocol, e.g. 0x020f; 0 for ELF */
	/* Highest GPA the initrd may occupy (inclusive): the header's
	 * initrd_addr_max for a bzImage, BOOT_ELF_INITRD_MAX for ELF. */
	uint32_t initrd_addr_max;
	bool initrd_above_4g;		/* xloadflags XLF_CAN_BE_LOADED_ABOVE_4G */
	/* Longest command line the kernel takes, bytes without the NUL:
	 * min(header cmdline_size, SKIFF_MAX_CMDLINE) for a bzImage,
	 * SKIFF_MAX_CMDLINE for ELF. */
	uint32_t cmdline_max;
};

/* Load the kernel file at `path` into guest RAM and fill *k. Detects an ELF
 * (ELF-64 spec: \x7fELF, ELFCLASS64, little-endian, EM_X86_64, ET_EXEC) or a
 * bzImage ("HdrS" at 0x202, protocol >= 2.12 with XLF_KERNEL_64 and
 * LOADED_HIGH; boot.rst). Errors: -ENOENT/-EACCES/... (cannot open), -EINVAL
 * (empty, unknown format, truncated, malformed), -EPROTO (protocol too old
 * or no 64-bit entry), -ENOMEM (does not fit in guest RAM), -EFBIG (file
 * larger than BOOT_KERNEL_FILE_MAX), -EIO (read error). */
int boot_load_kernel(struct guest_mem *gm, const char *path, struct boot_kernel *k,
		     struct skiff_err *e);

/* The same for a kernel image already in memory (buf, len bytes; not kept).
 * `name` is used in messages only. */
int boot_load_kernel_buf(struct guest_mem *gm, const uint8_t *buf, size_t len,
			 const char *name, struct boot_kernel *k, struct skiff_err *e);

/* Format-specific halves of boot_load_kernel_buf (elf.c, bzimage.c); they
 * assume the magic was already recognised. Same errors. */
int boot_load_elf(struct guest_mem *gm, const uint8_t *buf, size_t len,
		  const char *name, struct boot_kernel *k, struct skiff_err *e);
int boot_load_bzimage(struct guest_mem *gm, const uint8_t *buf, size_t len,
		      const char *name, struct boot_kernel *k, struct skiff_err *e);

/* Choose where an initrd of `size` bytes goes: the highest page-aligned GPA
 * such that it lies in [BOOT_HIGH_GPA, min(initrd_addr_max + 1, end of low
 * RAM)) and outside [k->load_start, k->load_end). Returns 0 and *gpa, or
 * -ENOMEM ("initrd needs N MiB, M MiB free") / -EINVAL (size 0). */
int boot_place_initrd(const struct guest_mem *gm, const struct boot_kernel *k,
		      uint64_t size, const char *name, uint64_t *gpa, struct skiff_err *e);

/* Read the initrd file at `path` into guest RAM at the place chosen by
 * boot_place_initrd(). Returns 0 with *gpa and *size (bytes), or a negative
 * errno: open errors, -EINVAL (empty or not a regular file), -ENOMEM (does
 * not fit), -EIO (short read). */
int boot_load_initrd(struct guest_mem *gm, const char *path, const struct boot_kernel *k,
		     uint64_t *gpa, uint64_t *size, struct skiff_err *e);

/* The same for an initrd already in memory (buf, len bytes; copied). */
int boot_load_initrd_buf(struct guest_mem *gm, const uint8_t *buf, size_t len,
			 const char *name, const struct boot_kernel *k,
			 uint64_t *gpa, struct skiff_err *e);

/* Check that a command line of `len` bytes (without the NUL) fits the
 * kernel (k->cmdline_max, boot.rst cmdline_size, 2.06+) and the buffer at
 * BOOT_CMDLINE_GPA. Returns 0 or -E2BIG with both lengths in the message. */
int boot_cmdline_check(const struct boot_kernel *k, size_t len, struct skiff_err *e);

/* Write the zero page (struct boot_params, zero-page.rst) at
 * BOOT_ZERO_PAGE_GPA and `cmdline` (NULL: empty) at BOOT_CMDLINE_GPA.
 * bzImage: the file's setup header; ELF: a synthesized one ("HdrS", 2.15,
 * LOADED_HIGH | CAN_USE_HEAP). Then type_of_loader 0xff, cmd_line_ptr,
 * ramdisk_image/size (+ ext_ramdisk_*; initrd_size 0: no initrd),
 * acpi_rsdp_addr (rsdp_gpa, 0: none) and the e820 map built from gm:
 * [0, BOOT_EBDA_GPA) RAM, [BOOT_EBDA_GPA, 1 MiB) reserved, [1 MiB, end of
 * low RAM) RAM, the region above 4 GiB RAM. Errors: -E2BIG (cmdline too
 * long), -EINVAL (RAM too small, initrd or RSDP not in RAM, initrd above
 * 4 GiB for a kernel without XLF_CAN_BE_LOADED_ABOVE_4G), -EFAULT. */
int boot_setup_zero_page(struct guest_mem *gm, const struct boot_kernel *k,
			 const char *cmdline, uint64_t initrd_gpa, uint64_t initrd_size,
			 uint64_t rsdp_gpa, struct skiff_err *e);

/* Append [addr, addr+size) as reserved (E820_TYPE_RESERVED) to the e820 map
 * of the zero page boot_setup_zero_page() wrote (Linux sorts the map), e.g.
 * the PCI ECAM window. Returns 0, -EINVAL (size 0, wraps, overlaps RAM),
 * -ENOSPC (map full) or -EFAULT. */
int boot_e820_reserve(struct guest_mem *gm, uint64_t addr, uint64_t size, struct skiff_err *e);

#endif
