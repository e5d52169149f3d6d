/* libFuzzer target: arbitrary bytes as a kernel image (bzImage or ELF),
 * loaded into a 32 MiB guest, then used for initrd placement and the zero
 * page. Checks the loader's invariants; ASan/UBSan catch the rest.
 *
 * Build and run (from the repository root):
 *   clang -std=gnu11 -D_GNU_SOURCE -g -O1 -Isrc -fsanitize=fuzzer,address,undefined \
 *     tests/fuzz/fuzz_kernel_image.c src/boot/{elf,bzimage,initrd,zeropage}.c \
 *     src/core/{err,guest_mem}.c -o build/fuzz_kernel_image
 *   mkdir -p build/fuzz-corpus && build/fuzz_kernel_image -max_total_time=60 \
 *     -max_len=65536 build/fuzz-corpus
 * Seeds worth adding to the corpus: the first 64 KiB of a real bzImage and
 * a small static ELF executable. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "boot/kernel.h"
#include "boot/layout.h"
#include "core/vm.h"

#define GUEST_RAM (32ULL << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
	if (!cond)
		abort();
}

/* A failure must come with a message. */
static void check_err(int rc, const struct skiff_err *e)
{
	check(rc <= 0);
	if (rc)
		check(e->msg[0] != '\0' && memchr(e->msg, '\0', sizeof(e->msg)) != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct guest_mem gm;
	if (gm_init(&gm, GUEST_RAM))
		return 0;
	struct boot_kernel k;
	struct skiff_err e = { "" };
	int rc = boot_load_kernel_buf(&gm, data, size, "fuzz", &k, &e);
	check_err(rc, &e);
	if (rc)
		goto out;

	check(k.load_start < k.load_end && k.load_end <= GUEST_RAM);
	check(k.setup_hdr_len <= BOOT_SETUP_HDR_MAX);
	check(k.cmdline_max <= SKIFF_MAX_CMDLINE);
	check(k.bzimage ? k.protocol >= 0x020c && k.entry == BOOT_HIGH_GPA + 0x200 : k.protocol == 0);
	check(gm_ptr(&gm, k.entry, 1) != NULL);

	/* The input's head as an initrd: placement invariants. */
	uint64_t gpa = 0, isize = size < 8192 ? size : 8192;
	memset(&e, 0, sizeof(e));
	rc = boot_load_initrd_buf(&gm, data, isize, "fuzz", &k, &gpa, &e);
	check_err(rc, &e);
	if (rc == 0) {
		check((gpa & 0xfff) == 0 && gpa >= BOOT_HIGH_GPA);
		check(gpa + isize <= gm_low_end(&gm) && gpa + isize - 1 <= k.initrd_addr_max);
		check(gpa + isize <= k.load_start || gpa >= k.load_end);
	} else {
		isize = 0;
	}

	memset(&e, 0, sizeof(e));
	rc = boot_setup_zero_page(&gm, &k, "console=ttyS0", gpa, isize, BOOT_ACPI_GPA, &e);
	check_err(rc, &e);
	check(rc == 0 || (rc == -E2BIG && k.cmdline_max < 13));
	if (rc == 0) {
		const struct bp_boot_params *bp = gm_ptr(&gm, BOOT_ZERO_PAGE_GPA, sizeof(*bp));
		check(bp && bp->hdr.type_of_loader == BP_LOADER_UNDEFINED);
		check(bp->hdr.cmd_line_ptr == BOOT_CMDLINE_GPA && bp->e820_entries == 3);
		check(bp->hdr.header == BP_HDR_MAGIC && bp->sentinel == 0);
	}
out:
	gm_destroy(&gm);
	return 0;
}
