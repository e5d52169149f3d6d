/* Kernel, initrd and zero-page loading (src/boot): synthetic bzImage and ELF
 * images built in memory, plus Debian's kernel when .cache has it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "boot/kernel.h"
#include "boot/layout.h"
#include "core/vm.h"

#define MIB (1ULL << 20)
#define SETUP_SECTS 4
#define PM_OFF ((SETUP_SECTS + 1) * 512)

struct img { uint8_t *b; size_t len; };

/* A bzImage with a 64 KiB protected-mode part of 0x5a bytes. */
static struct img bz(void)
{
	struct img im = { calloc(1, PM_OFF + 0x10000), PM_OFF + 0x10000 };
	struct bp_setup_header h = {
		.setup_sects = SETUP_SECTS, .syssize = 0x10000 / 16, .boot_flag = BP_BOOT_FLAG,
		.jump = 0xeb | (0x26c - 0x202) << 8, .header = BP_HDR_MAGIC, .version = 0x020f,
		.loadflags = BP_LOADED_HIGH, .initrd_addr_max = 0x7fffffff,
		.kernel_alignment = 0x200000, .relocatable_kernel = 1, .min_alignment = 21,
		.xloadflags = BP_XLF_KERNEL_64 | BP_XLF_CAN_BE_LOADED_ABOVE_4G,
		.cmdline_size = 2047, .pref_address = 0x1000000, .init_size = 0x800000,
	};
	memcpy(im.b + BP_HDR_OFFSET, &h, sizeof(h));
	memset(im.b + PM_OFF, 0x5a, 0x10000);
	return im;
}
#define HDR(im) ((struct bp_setup_header *)((im).b + BP_HDR_OFFSET))

/* An ELF with two PT_LOADs: 0x1000 file bytes at `pa`, then a 0x3000-byte
 * segment (0x800 from the file) at pa + 0x1000; vaddr = pa + voff. */
static struct img elf(uint64_t pa, uint64_t voff, uint64_t entry)
{
	size_t len = 0x1000 + 0x1800;
	struct img im = { calloc(1, len), len };
	Elf64_Ehdr eh = { .e_type = ET_EXEC, .e_machine = EM_X86_64, .e_version = EV_CURRENT,
			  .e_entry = entry, .e_phoff = sizeof(eh), .e_ehsize = sizeof(eh),
			  .e_phentsize = sizeof(Elf64_Phdr), .e_phnum = 3 };
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	Elf64_Phdr ph[3] = {
		{ .p_type = PT_LOAD, .p_offset = 0x1000, .p_vaddr = pa + voff, .p_paddr = pa,
		  .p_filesz = 0x1000, .p_memsz = 0x1000 },
		{ .p_type = PT_NOTE, .p_offset = 0x100, .p_filesz = 0x10 },
		{ .p_type = PT_LOAD, .p_offset = 0x2000, .p_vaddr = pa + voff + 0x1000,
		  .p_paddr = pa + 0x1000, .p_filesz = 0x800, .p_memsz = 0x3000 },
	};
	memcpy(im.b, &eh, sizeof(eh));
	memcpy(im.b + sizeof(eh), ph, sizeof(ph));
	memset(im.b + 0x1000, 0xc3, 0x1800);
	return im;
}
#define PH(im, i) ((Elf64_Phdr *)((im).b + sizeof(Elf64_Ehdr)) + (i))
#define EH(im) ((Elf64_Ehdr *)(im).b)

static int setup(void **state)
{
	struct guest_mem *gm = calloc(1, sizeof(*gm));
	*state = gm;
	return gm && !gm_init(gm, 64 * MIB) ? 0 : -1;
}

static int teardown(void **state)
{
	gm_destroy(*state);
	free(*state);
	return 0;
}

/* Load im (broken in way i), expect rc and a message containing want. */
static void load_expect(struct guest_mem *gm, struct img im, int i, int rc, const char *want)
{
	struct boot_kernel k;
	struct skiff_err e = { "" };
	int got = boot_load_kernel_buf(gm, im.b, im.len, "/x/k", &k, &e);
	if (got != rc || !strstr(e.msg, want) || !strstr(e.msg, "/x/k"))
		fail_msg("case %d: rc %d (want %d), msg '%s' (want '%s')", i, got, rc, e.msg, want);
	free(im.b);
}

/* Load im, which must succeed. */
static struct boot_kernel load_ok(struct guest_mem *gm, struct img im)
{
	struct boot_kernel k;
	struct skiff_err e = { "" };
	if (boot_load_kernel_buf(gm, im.b, im.len, "t", &k, &e))
		fail_msg("%s", e.msg);
	return k;
}

static uint32_t rd(struct guest_mem *gm, uint64_t off, size_t n)
{
	uint64_t v = 0;
	assert_int_equal(gm_read(gm, BOOT_ZERO_PAGE_GPA + off, &v, n), 0);
	return (uint32_t)v;
}

static void check_fields(struct guest_mem *gm, const uint32_t (*f)[3], size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (rd(gm, f[i][0], f[i][1]) != f[i][2])
			fail_msg("zero page 0x%x: 0x%x, want 0x%x", f[i][0], rd(gm, f[i][0], f[i][1]), f[i][2]);
}

static void check_e820(struct guest_mem *gm, size_t i, uint64_t addr, uint64_t size, uint32_t t)
{
	struct bp_e820_entry en, want = { addr, size, t };
	assert_int_equal(gm_read(gm, BOOT_ZERO_PAGE_GPA + 0x2d0 + 20 * i, &en, sizeof(en)), 0);
	assert_memory_equal(&en, &want, sizeof(en));
}

static void test_bzimage_good(void **state)
{
	struct guest_mem *gm = *state;
	struct img im = bz();
	struct boot_kernel k = load_ok(gm, im);
	assert_true(k.bzimage && k.initrd_above_4g);
	assert_int_equal(k.entry, BOOT_HIGH_GPA + 0x200);
	assert_int_equal(k.load_start, BOOT_HIGH_GPA);
	assert_int_equal(k.load_end, 0x1000000 + 0x800000);	/* pref_address + init_size */
	assert_int_equal(k.protocol, 0x020f);
	assert_int_equal(k.setup_hdr_len, 0x26c - 0x1f1);
	assert_memory_equal(k.setup_hdr, im.b + 0x1f1, k.setup_hdr_len);
	assert_int_equal(k.cmdline_max, 2047);
	assert_int_equal(k.initrd_addr_max, 0x7fffffff);
	assert_memory_equal(gm_ptr(gm, BOOT_HIGH_GPA, 0x10000), im.b + PM_OFF, 0x10000);
	free(im.b);
}

/* Break bz() in way i; return the expected rc (0: no more cases) and *want. */
static int bz_break(struct img *im, int i, const char **want)
{
	struct bp_setup_header *h = HDR(*im);
	*want = "truncated";
	switch (i) {
	case 0: h->syssize++; return -EINVAL;		/* file one paragraph short */
	case 1: im->len = PM_OFF; return -EINVAL;	/* no protected-mode code */
	case 2: im->len = 0x230; *want = "beyond the end of the file"; return -EINVAL;
	case 3: h->version = 0x0205; *want = "boot protocol 2.05 is older than 2.06"; return -EPROTO;
	case 4: h->xloadflags = 0; *want = "no 64-bit entry"; return -EPROTO;
	case 5: h->loadflags = 0; *want = "LOADED_HIGH"; return -EINVAL;
	case 6: h->init_size = 0xf0000000; *want = "guest has 64 MiB"; return -ENOMEM;
	case 7: h->pref_address = UINT64_MAX - 0x1000; *want = "overflows"; return -EINVAL;
	case 8: h->kernel_alignment = 0x300000; *want = "power of two"; return -EINVAL;
	case 9: h->header = 0x53726449; *want = "or a bzImage"; return -EINVAL;	/* "IdrS" */
	case 10: im->len = 0; *want = "empty file"; return -EINVAL;
	}
	return 0;
}

static void test_elf_good(void **state)
{
	struct guest_mem *gm = *state;
	memset(gm_ptr(gm, 0x200000, 0x4000), 0xaa, 0x4000);	/* bss must be zeroed */
	struct img im = elf(0x200000, 0xffffffff80000000ULL, 0xffffffff80200010ULL);
	struct boot_kernel k = load_ok(gm, im);
	assert_true(!k.bzimage && k.protocol == 0 && k.setup_hdr_len == 0);
	assert_int_equal(k.entry, 0x200010);
	assert_int_equal(k.load_start, 0x200000);
	assert_int_equal(k.load_end, 0x204000);
	assert_int_equal(k.initrd_addr_max, 0x7fffffff);
	assert_int_equal(k.cmdline_max, SKIFF_MAX_CMDLINE);
	uint8_t *p = gm_ptr(gm, 0x200000, 0x4000);
	assert_memory_equal(p, im.b + 0x1000, 0x1800);
	for (size_t i = 0x1800; i < 0x4000; i++)
		assert_int_equal(p[i], 0);
	free(im.b);
	/* vmlinux style: the entry is physical. Test-guest style: low RAM. */
	im = elf(0x1000000, 0xffffffff80000000ULL, 0x1000000);
	assert_int_equal(load_ok(gm, im).entry, 0x1000000);
	free(im.b);
	im = elf(BOOT_LOW_FREE_GPA, 0, BOOT_LOW_FREE_GPA + 0x1004);
	assert_int_equal(load_ok(gm, im).entry, BOOT_LOW_FREE_GPA + 0x1004);
	free(im.b);
	/* The zero page gets a synthesized setup header. */
	struct skiff_err e = { "" };
	assert_int_equal(boot_setup_zero_page(gm, &k, NULL, 0, 0, 0, &e), 0);
	static const uint32_t f[][3] = {
		{ 0x1fe, 2, 0xaa55 }, { 0x202, 4, BP_HDR_MAGIC }, { 0x206, 2, 0x020f },
		{ 0x210, 1, 0xff }, { 0x211, 1, BP_LOADED_HIGH | BP_CAN_USE_HEAP },
		{ 0x218, 4, 0 }, { 0x228, 4, BOOT_CMDLINE_GPA }, { 0x070, 4, 0 },
		{ 0x238, 4, SKIFF_MAX_CMDLINE }, { 0x22c, 4, 0x7fffffff },
	};
	check_fields(gm, f, sizeof(f) / sizeof(f[0]));
	assert_int_equal(*(char *)gm_ptr(gm, BOOT_CMDLINE_GPA, 1), 0);
}

/* Break elf() in way i; return the expected rc (0: no more cases) and *want. */
static int elf_break(struct img *im, int i, const char **want)
{
	*want = "beyond the end of the file";
	switch (i) {
	case 0: PH(*im, 0)->p_paddr = 0x10000000; *want = "not inside guest RAM"; return -ENOMEM;
	case 1: PH(*im, 0)->p_offset = UINT64_MAX - 0x10; return -EINVAL;
	case 2: PH(*im, 2)->p_filesz = 0x801; return -EINVAL;	/* one byte past the file */
	case 3: PH(*im, 2)->p_paddr = UINT64_MAX - 0x100; *want = "overflows"; return -EINVAL;
	case 4: PH(*im, 2)->p_filesz = 0x4000; *want = "larger than p_memsz"; return -EINVAL;
	case 5: EH(*im)->e_phentsize = 32; *want = "e_phentsize"; return -EINVAL;
	case 6: EH(*im)->e_phoff = im->len - 0x10; *want = "program headers at"; return -EINVAL;
	case 7: PH(*im, 0)->p_type = PH(*im, 2)->p_type = PT_NULL; *want = "no PT_LOAD"; return -EINVAL;
	case 8: EH(*im)->e_entry = 0x900000; *want = "entry point 0x900000"; return -EINVAL;
	case 9: PH(*im, 0)->p_paddr = 0x6000; *want = "boot structures"; return -EINVAL;
	case 10: EH(*im)->e_type = ET_DYN; *want = "not an ELF64 x86-64"; return -EINVAL;
	case 11: EH(*im)->e_ident[EI_CLASS] = ELFCLASS32; *want = "not an ELF64"; return -EINVAL;
	case 12: im->len = 40; *want = "truncated ELF header"; return -EINVAL;
	}
	return 0;
}

/* Every break of bz() or elf() is refused with its rc and message. */
static void test_refused(void **state)
{
	int (*brk[2])(struct img *, int, const char **) = { bz_break, elf_break };
	for (int f = 0; f < 2; f++)
		for (int i = 0;; i++) {
			struct img im = f ? elf(0x200000, 0, 0x200000) : bz();
			const char *want;
			int rc = brk[f](&im, i, &want);
			if (!rc) {
				free(im.b);
				break;
			}
			load_expect(*state, im, i, rc, want);
		}
}

static void test_files(void **state)
{
	struct guest_mem *gm = *state;
	struct boot_kernel k;
	struct skiff_err e = { "" };
	assert_int_equal(boot_load_kernel(gm, "/nonexistent/bzImage", &k, &e), -ENOENT);
	assert_non_null(strstr(e.msg, "/nonexistent/bzImage"));
	char path[] = "/tmp/skiff-test-boot-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(boot_load_kernel(gm, path, &k, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "empty file"));
	struct img im = bz();
	assert_int_equal(write(fd, im.b, im.len), (ssize_t)im.len);
	assert_int_equal(boot_load_kernel(gm, path, &k, &e), 0);
	assert_int_equal(k.entry, 0x100200);
	/* The same file as an initrd: high in RAM, page-aligned, after the kernel. */
	uint64_t gpa = 0, size = 0;
	assert_int_equal(boot_load_initrd(gm, path, &k, &gpa, &size, &e), 0);
	assert_int_equal(size, im.len);
	assert_true((gpa & 0xfff) == 0 && gpa >= k.load_end && gpa + size <= 64 * MIB && gpa + size > 64 * MIB - 4096);
	assert_memory_equal(gm_ptr(gm, gpa, size), im.b, size);
	assert_int_equal(boot_load_initrd(gm, "/nonexistent/initrd", &k, &gpa, &size, &e), -ENOENT);
	assert_non_null(strstr(e.msg, "/nonexistent/initrd"));
	free(im.b);
	close(fd);
	unlink(path);
}

static void test_initrd_place(void **state)
{
	struct guest_mem *gm = *state;
	struct boot_kernel k = { .load_start = 0x100000, .load_end = 0x1800000,
				 .initrd_addr_max = 0x1ffffff };	/* 32 MiB - 1 */
	struct skiff_err e = { "" };
	uint64_t gpa;
	assert_int_equal(boot_place_initrd(gm, &k, MIB + 5, "i", &gpa, &e), 0);
	assert_int_equal(gpa, 31 * MIB - 4096);		/* aligned down */
	assert_int_equal(boot_place_initrd(gm, &k, 8 * MIB, "i", &gpa, &e), 0);
	assert_int_equal(gpa, 0x1800000);
	assert_int_equal(boot_place_initrd(gm, &k, 8 * MIB + 1, "/x/i", &gpa, &e), -ENOMEM);
	assert_non_null(strstr(e.msg, "initrd /x/i needs 9 MiB"));
	assert_int_equal(boot_place_initrd(gm, &k, 0, "i", &gpa, &e), -EINVAL);
	/* A kernel high in RAM: the initrd goes below it. */
	k = (struct boot_kernel){ .load_start = 60 * MIB, .load_end = 64 * MIB,
				  .initrd_addr_max = 0x7fffffff };
	assert_int_equal(boot_place_initrd(gm, &k, 3 * MIB, "i", &gpa, &e), 0);
	assert_int_equal(gpa, 57 * MIB);
	uint8_t data[100] = { 1, 2, 3 };
	assert_int_equal(boot_load_initrd_buf(gm, data, sizeof(data), "i", &k, &gpa, &e), 0);
	assert_int_equal(gpa, 60 * MIB - 4096);
	assert_memory_equal(gm_ptr(gm, gpa, 100), data, 100);
}

static void test_zero_page_bzimage(void **state)
{
	struct guest_mem *gm = *state;
	struct img im = bz();
	struct boot_kernel k = load_ok(gm, im);
	struct skiff_err e = { "" };
	memset(gm_ptr(gm, BOOT_ZERO_PAGE_GPA, 4096), 0xee, 4096);
	assert_int_equal(boot_setup_zero_page(gm, &k, "console=ttyS0", 0x3000000, 12345,
					      BOOT_ACPI_GPA, &e), 0);
	/* {offset, size, value}; the file's header fields (init_size...) are kept. */
	static const uint32_t f[][3] = {
		{ 0x1ef, 1, 0 }, { 0x1f1, 1, SETUP_SECTS }, { 0x1fe, 2, 0xaa55 },
		{ 0x202, 4, BP_HDR_MAGIC }, { 0x206, 2, 0x020f }, { 0x210, 1, 0xff },
		{ 0x211, 1, BP_LOADED_HIGH }, { 0x218, 4, 0x3000000 }, { 0x21c, 4, 12345 },
		{ 0x228, 4, BOOT_CMDLINE_GPA }, { 0x238, 4, 2047 }, { 0x260, 4, 0x800000 },
		{ 0x070, 4, BOOT_ACPI_GPA }, { 0x0c0, 4, 0 }, { 0x26c, 4, 0 }, { 0x1e8, 1, 3 },
	};
	check_fields(gm, f, sizeof(f) / sizeof(f[0]));
	assert_string_equal((char *)gm_ptr(gm, BOOT_CMDLINE_GPA, 14), "console=ttyS0");
	check_e820(gm, 0, 0, BOOT_EBDA_GPA, E820_TYPE_RAM);
	check_e820(gm, 1, BOOT_EBDA_GPA, 0x100000 - BOOT_EBDA_GPA, E820_TYPE_RESERVED);
	check_e820(gm, 2, 0x100000, 63 * MIB, E820_TYPE_RAM);
	/* Command line limits: the header's cmdline_size (2047). */
	char cl[2049] = { 0 };
	memset(cl, 'a', 2048);
	assert_int_equal(boot_setup_zero_page(gm, &k, cl, 0, 0, 0, &e), -E2BIG);
	assert_non_null(strstr(e.msg, "2048 bytes; the kernel accepts at most 2047"));
	cl[2047] = 0;
	assert_int_equal(boot_setup_zero_page(gm, &k, cl, 0, 0, 0, &e), 0);
	assert_int_equal(strlen(gm_ptr(gm, BOOT_CMDLINE_GPA, 1)), 2047);
	assert_int_equal(boot_cmdline_check(&k, 2047, &e), 0);
	/* Initrd and RSDP must be in RAM. */
	assert_int_equal(boot_setup_zero_page(gm, &k, NULL, 63 * MIB, 2 * MIB, 0, &e), -EINVAL);
	assert_int_equal(boot_setup_zero_page(gm, &k, NULL, 0, 0, 0xd0000000, &e), -EINVAL);
	free(im.b);
}

/* 3.5 GiB: 3 GiB low, 512 MiB from 4 GiB; an initrd up there. */
static void test_big_guest(void **state)
{
	(void)state;
	struct guest_mem gm;
	struct skiff_err e = { "" };
	assert_int_equal(gm_init(&gm, 3584 * MIB), 0);
	struct img im = bz();
	struct boot_kernel k = load_ok(&gm, im);
	uint64_t gpa;
	assert_int_equal(boot_place_initrd(&gm, &k, 100 * MIB, "i", &gpa, &e), 0);
	assert_int_equal(gpa, 0x80000000ULL - 100 * MIB);	/* below initrd_addr_max */
	assert_int_equal(boot_setup_zero_page(&gm, &k, "x", gpa, 100 * MIB, 0, &e), 0);
	assert_int_equal(rd(&gm, 0x1e8, 1), 4);
	check_e820(&gm, 2, 0x100000, 3072 * MIB - 0x100000, E820_TYPE_RAM);
	check_e820(&gm, 3, 4096 * MIB, 512 * MIB, E820_TYPE_RAM);
	/* Above 4 GiB: ext_ramdisk_image carries the high bits. */
	assert_int_equal(boot_setup_zero_page(&gm, &k, "x", 0x110000000ULL, MIB, 0, &e), 0);
	assert_int_equal(rd(&gm, 0x218, 4), 0x10000000);
	assert_int_equal(rd(&gm, 0x0c0, 4), 1);
	k.initrd_above_4g = false;
	assert_int_equal(boot_setup_zero_page(&gm, &k, "x", 0x110000000ULL, MIB, 0, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "initrd_addr_max"));
	free(im.b);
	gm_destroy(&gm);
}

/* Debian's kernel, when scripts put it in .cache (never committed). */
static void test_debian_kernel(void **state)
{
	(void)state;
	const char *path[] = { ".cache/debian-kernel/vmlinuz", ".cache/debian-kernel/vmlinux" };
	struct skiff_err e = { "" };
	if (access(path[0], R_OK))
		skip();
	struct guest_mem gm;
	struct boot_kernel k;
	assert_int_equal(gm_init(&gm, 256 * MIB), 0);
	for (int i = 0; i < 2 && !access(path[i], R_OK); i++) {
		if (boot_load_kernel(&gm, path[i], &k, &e) ||
		    boot_setup_zero_page(&gm, &k, "console=ttyS0", 0, 0, BOOT_ACPI_GPA, &e))
			fail_msg("%s", e.msg);
		struct bp_setup_header h;
		memcpy(&h, k.setup_hdr, sizeof(h));
		print_message("%s: protocol 0x%x init_size 0x%x pref 0x%llx xlf 0x%x cmdline_max %u "
			      "entry 0x%llx kernel [0x%llx, 0x%llx)\n", path[i], k.protocol,
			      h.init_size, (unsigned long long)h.pref_address, h.xloadflags,
			      k.cmdline_max, (unsigned long long)k.entry,
			      (unsigned long long)k.load_start, (unsigned long long)k.load_end);
		assert_true(i ? !k.bzimage : k.bzimage && k.protocol >= 0x020c && k.entry == 0x100200);
	}
	gm_destroy(&gm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bzimage_good, setup, teardown),
		cmocka_unit_test_setup_teardown(test_elf_good, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_initrd_place, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zero_page_bzimage, setup, teardown),
		cmocka_unit_test(test_big_guest),
		cmocka_unit_test(test_debian_kernel),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
