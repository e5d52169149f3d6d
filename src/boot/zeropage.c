/* The zero page (struct boot_params, Documentation/arch/x86/zero-page.rst),
 * the kernel command line and the e820 memory map, for the 64-bit boot
 * protocol (boot.rst, "64-bit Boot Protocol": a zeroed boot_params, the
 * setup header from the image, then the loader's fields). */
#include "boot/kernel.h"
#include "boot/layout.h"
#include "core/vm.h"
#include <errno.h>
#include <inttypes.h>
#include <string.h>

int boot_cmdline_check(const struct boot_kernel *k, size_t len, struct skiff_err *e)
{
	if (len > k->cmdline_max)
		return skiff_fail(e, E2BIG, "kernel command line is %zu bytes; the kernel accepts "
				  "at most %u (%s)", len, k->cmdline_max,
				  k->bzimage ? "cmdline_size in its setup header, capped at "
				  "SKIFF_MAX_CMDLINE" : "SKIFF_MAX_CMDLINE");
	if (len >= BOOT_CMDLINE_MAX)
		return skiff_fail(e, E2BIG, "kernel command line is %zu bytes; the buffer holds "
				  "%llu with the NUL", len, BOOT_CMDLINE_MAX);
	return 0;
}

static void e820_add(struct bp_boot_params *bp, uint64_t addr, uint64_t size, uint32_t type)
{
	if (size == 0 || bp->e820_entries >= E820_MAX_ZEROPAGE)
		return;
	struct bp_e820_entry *t = &bp->e820_table[bp->e820_entries++];
	t->addr = addr;
	t->size = size;
	t->type = type;
}

/* [0, EBDA) RAM, [EBDA, 1 MiB) reserved, [1 MiB, low end) RAM, high RAM. */
static int build_e820(const struct guest_mem *gm, struct bp_boot_params *bp, struct skiff_err *e)
{
	uint64_t low = gm_low_end(gm);
	if (gm->n == 0 || gm->r[0].gpa != 0 || low <= BOOT_HIGH_GPA)
		return skiff_fail(e, EINVAL, "guest RAM too small for a Linux boot: low RAM ends "
				  "at 0x%" PRIx64 ", need more than 1 MiB", low);
	e820_add(bp, 0, BOOT_EBDA_GPA, E820_TYPE_RAM);
	e820_add(bp, BOOT_EBDA_GPA, BOOT_HIGH_GPA - BOOT_EBDA_GPA, E820_TYPE_RESERVED);
	e820_add(bp, BOOT_HIGH_GPA, low - BOOT_HIGH_GPA, E820_TYPE_RAM);
	for (size_t i = 1; i < gm->n && i < SKIFF_MAX_MEM_REGIONS; i++)
		e820_add(bp, gm->r[i].gpa, gm->r[i].size, E820_TYPE_RAM);
	return 0;
}

/* A minimal header for an ELF kernel, which carries none (boot.rst field
 * list: only what the kernel proper reads). */
static void synth_header(struct bp_setup_header *h, const struct boot_kernel *k)
{
	h->boot_flag = BP_BOOT_FLAG;
	h->header = BP_HDR_MAGIC;
	h->version = 0x020f;
	h->loadflags = BP_LOADED_HIGH | BP_CAN_USE_HEAP;
	h->initrd_addr_max = k->initrd_addr_max;
	h->cmdline_size = k->cmdline_max;
}

static int set_initrd(const struct guest_mem *gm, const struct boot_kernel *k,
		      struct bp_boot_params *bp, uint64_t gpa, uint64_t size, struct skiff_err *e)
{
	if (size == 0)
		return 0;
	if (!gm_ptr(gm, gpa, size))
		return skiff_fail(e, EINVAL, "initrd [0x%" PRIx64 ", +0x%" PRIx64 ") is not in "
				  "guest RAM", gpa, size);
	uint64_t last = gpa + size - 1;	/* no overflow: gm_ptr checked the range */
	if (!k->initrd_above_4g && last > k->initrd_addr_max)
		return skiff_fail(e, EINVAL, "initrd [0x%" PRIx64 ", 0x%" PRIx64 "] ends above the "
				  "kernel's initrd_addr_max 0x%x", gpa, last, k->initrd_addr_max);
	bp->hdr.ramdisk_image = (uint32_t)gpa;
	bp->hdr.ramdisk_size = (uint32_t)size;
	bp->ext_ramdisk_image = (uint32_t)(gpa >> 32);
	bp->ext_ramdisk_size = (uint32_t)(size >> 32);
	return 0;
}

int boot_setup_zero_page(struct guest_mem *gm, const struct boot_kernel *k,
			 const char *cmdline, uint64_t initrd_gpa, uint64_t initrd_size,
			 uint64_t rsdp_gpa, struct skiff_err *e)
{
	struct bp_boot_params bp;
	memset(&bp, 0, sizeof(bp));
	if (k->bzimage) {
		size_t n = k->setup_hdr_len < BOOT_SETUP_HDR_MAX ? k->setup_hdr_len : BOOT_SETUP_HDR_MAX;
		memcpy((uint8_t *)&bp + BP_HDR_OFFSET, k->setup_hdr, n);
	} else {
		synth_header(&bp.hdr, k);
	}
	bp.hdr.type_of_loader = BP_LOADER_UNDEFINED;

	if (!cmdline)
		cmdline = "";
	size_t len = strlen(cmdline);
	int rc = boot_cmdline_check(k, len, e);
	if (rc)
		return rc;
	bp.hdr.cmd_line_ptr = (uint32_t)BOOT_CMDLINE_GPA;
	bp.ext_cmd_line_ptr = (uint32_t)(BOOT_CMDLINE_GPA >> 32);

	rc = set_initrd(gm, k, &bp, initrd_gpa, initrd_size, e);
	if (rc)
		return rc;
	if (rsdp_gpa) {
		/* 20 bytes: the ACPI 1.0 RSDP (ACPI 6.5, §5.2.5.3). */
		if (!gm_ptr(gm, rsdp_gpa, 20))
			return skiff_fail(e, EINVAL, "ACPI RSDP at 0x%" PRIx64 " is not in guest RAM",
					  rsdp_gpa);
		bp.acpi_rsdp_addr = rsdp_gpa;
	}
	rc = build_e820(gm, &bp, e);
	if (rc)
		return rc;

	if (gm_write(gm, BOOT_CMDLINE_GPA, cmdline, len + 1))
		return skiff_fail(e, EFAULT, "cannot write the command line at 0x%llx", BOOT_CMDLINE_GPA);
	if (gm_write(gm, BOOT_ZERO_PAGE_GPA, &bp, sizeof(bp)))
		return skiff_fail(e, EFAULT, "cannot write the zero page at 0x%llx", BOOT_ZERO_PAGE_GPA);
	return 0;
}

int boot_e820_reserve(struct guest_mem *gm, uint64_t addr, uint64_t size, struct skiff_err *e)
{
	uint64_t last;
	if (size == 0 || __builtin_add_overflow(addr, size - 1, &last))
		return skiff_fail(e, EINVAL, "e820: bad range [0x%" PRIx64 ", +0x%" PRIx64 ")",
				  addr, size);
	for (size_t i = 0; i < gm->n; i++)
		if (addr < gm->r[i].gpa + gm->r[i].size && gm->r[i].gpa <= last)
			return skiff_fail(e, EINVAL, "e820: reserved range [0x%" PRIx64 ", 0x%"
					  PRIx64 "] overlaps guest RAM", addr, last);
	struct bp_boot_params *bp = gm_ptr(gm, BOOT_ZERO_PAGE_GPA, sizeof(*bp));
	if (!bp)
		return skiff_fail(e, EFAULT, "no zero page at 0x%llx", BOOT_ZERO_PAGE_GPA);
	if (bp->e820_entries >= E820_MAX_ZEROPAGE)
		return skiff_fail(e, ENOSPC, "e820: the map is full (%u entries)", E820_MAX_ZEROPAGE);
	e820_add(bp, addr, size, E820_TYPE_RESERVED);
	return 0;
}
