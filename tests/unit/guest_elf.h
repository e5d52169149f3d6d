/* Tiny ELF64 guests for the in-process VM tests: write_guest_elf() writes an
 * executable with one PT_LOAD of `code` at TEST_GUEST_GPA (its entry point),
 * which skiff's ELF loader starts in 64-bit mode at CPL0. Include after
 * <cmocka.h>: failures to write are test failures. */
#ifndef SKIFF_TEST_GUEST_ELF_H
#define SKIFF_TEST_GUEST_ELF_H
#include <elf.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define TEST_GUEST_GPA 0x200000ULL

static inline void write_guest_elf(const char *path, const uint8_t *code, size_t len)
{
	struct {
		Elf64_Ehdr eh;
		Elf64_Phdr ph;
	} h;
	memset(&h, 0, sizeof(h));
	memcpy(h.eh.e_ident, ELFMAG, SELFMAG);
	h.eh.e_ident[EI_CLASS] = ELFCLASS64;
	h.eh.e_ident[EI_DATA] = ELFDATA2LSB;
	h.eh.e_ident[EI_VERSION] = EV_CURRENT;
	h.eh.e_type = ET_EXEC;
	h.eh.e_machine = EM_X86_64;
	h.eh.e_version = EV_CURRENT;
	h.eh.e_entry = TEST_GUEST_GPA;
	h.eh.e_phoff = sizeof(Elf64_Ehdr);
	h.eh.e_ehsize = sizeof(Elf64_Ehdr);
	h.eh.e_phentsize = sizeof(Elf64_Phdr);
	h.eh.e_phnum = 1;
	h.ph.p_type = PT_LOAD;
	h.ph.p_flags = PF_R | PF_X;
	h.ph.p_offset = sizeof(h);
	h.ph.p_vaddr = h.ph.p_paddr = TEST_GUEST_GPA;
	h.ph.p_filesz = h.ph.p_memsz = len;
	h.ph.p_align = 0x1000;
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(&h, sizeof(h), 1, f), 1);
	assert_int_equal(fwrite(code, len, 1, f), 1);
	assert_int_equal(fclose(f), 0);
}

#endif
