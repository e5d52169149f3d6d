/* ELF-64 kernel loading (ELF-64 Object File Format 1.5, "Program Header"):
 * every PT_LOAD segment is copied to p_paddr (p_filesz bytes from the file,
 * then p_memsz - p_filesz zero bytes). Used for a Linux vmlinux and for
 * skiff's own test guests. Everything is validated before the first byte is
 * written, so a refused image leaves guest RAM untouched. */
#include "boot/kernel.h"
#include "boot/layout.h"
#include "core/vm.h"
#include <elf.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>

/* GPA ranges a segment must stay out of: skiff writes its boot structures
 * there after loading (GDT, IDT, zero page, stack, page tables, command
 * line) or describes them as reserved (EBDA, ACPI tables, BIOS area). */
static const struct {
	uint64_t start, end;
	const char *what;
} elf_forbidden[] = {
	{ 0, BOOT_LOW_FREE_GPA, "skiff's boot structures" },
	{ BOOT_EBDA_GPA, BOOT_HIGH_GPA, "the reserved EBDA/ACPI/BIOS area" },
};

/* Is [a, a + len) (len > 0, no overflow) overlapping [s, t)? */
static bool overlaps(uint64_t a, uint64_t len, uint64_t s, uint64_t t)
{
	return a < t && s < a + len;
}

static void read_phdr(const uint8_t *buf, uint64_t phoff, size_t i, Elf64_Phdr *ph)
{
	memcpy(ph, buf + phoff + i * sizeof(*ph), sizeof(*ph));
}

/* Check one PT_LOAD segment against the file and guest RAM. */
static int check_segment(const struct guest_mem *gm, const Elf64_Phdr *ph, size_t i,
			 size_t len, const char *name, struct skiff_err *e)
{
	if (ph->p_filesz > ph->p_memsz)
		return skiff_fail(e, EINVAL, "kernel %s: segment %zu: p_filesz 0x%" PRIx64
				  " is larger than p_memsz 0x%" PRIx64, name, i,
				  (uint64_t)ph->p_filesz, (uint64_t)ph->p_memsz);
	if (ph->p_offset > len || ph->p_filesz > len - ph->p_offset)
		return skiff_fail(e, EINVAL, "kernel %s: segment %zu: file bytes [0x%" PRIx64
				  ", +0x%" PRIx64 ") lie beyond the end of the file (%zu bytes)",
				  name, i, (uint64_t)ph->p_offset, (uint64_t)ph->p_filesz, len);
	if (ph->p_memsz == 0)
		return 0;
	if (ph->p_memsz > UINT64_MAX - ph->p_paddr)
		return skiff_fail(e, EINVAL, "kernel %s: segment %zu: p_paddr 0x%" PRIx64
				  " + p_memsz 0x%" PRIx64 " overflows", name, i,
				  (uint64_t)ph->p_paddr, (uint64_t)ph->p_memsz);
	if (!gm_ptr(gm, ph->p_paddr, ph->p_memsz))
		return skiff_fail(e, ENOMEM, "kernel %s: segment %zu: [0x%" PRIx64 ", 0x%" PRIx64
				  ") is not inside guest RAM (%" PRIu64 " MiB, low RAM ends at 0x%"
				  PRIx64 ")", name, i, (uint64_t)ph->p_paddr,
				  (uint64_t)(ph->p_paddr + ph->p_memsz), gm->ram_size >> 20,
				  gm_low_end(gm));
	for (size_t j = 0; j < sizeof(elf_forbidden) / sizeof(elf_forbidden[0]); j++)
		if (overlaps(ph->p_paddr, ph->p_memsz, elf_forbidden[j].start, elf_forbidden[j].end))
			return skiff_fail(e, EINVAL, "kernel %s: segment %zu: [0x%" PRIx64 ", 0x%"
					  PRIx64 ") overlaps %s [0x%" PRIx64 ", 0x%" PRIx64 ")",
					  name, i, (uint64_t)ph->p_paddr,
					  (uint64_t)(ph->p_paddr + ph->p_memsz), elf_forbidden[j].what,
					  elf_forbidden[j].start, elf_forbidden[j].end);
	return 0;
}

static int check_ehdr(const Elf64_Ehdr *eh, size_t len, const char *name, struct skiff_err *e)
{
	if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh->e_machine != EM_X86_64 || eh->e_type != ET_EXEC)
		return skiff_fail(e, EINVAL, "kernel %s: not an ELF64 x86-64 executable or a bzImage "
				  "(ELF class %u, data %u, machine %u, type %u; need 2, 1, 62, 2)",
				  name, eh->e_ident[EI_CLASS], eh->e_ident[EI_DATA],
				  eh->e_machine, eh->e_type);
	if (eh->e_phentsize != sizeof(Elf64_Phdr))
		return skiff_fail(e, EINVAL, "kernel %s: e_phentsize is %u, expected %zu",
				  name, eh->e_phentsize, sizeof(Elf64_Phdr));
	if (eh->e_phnum == 0 || eh->e_phnum == PN_XNUM)
		return skiff_fail(e, EINVAL, "kernel %s: %s", name, eh->e_phnum ?
				  "extended program header numbering (PN_XNUM) is not supported" :
				  "no program headers");
	if (eh->e_phoff > len || (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > len - eh->e_phoff)
		return skiff_fail(e, EINVAL, "kernel %s: %u program headers at offset 0x%" PRIx64
				  " lie beyond the end of the file (%zu bytes)", name,
				  eh->e_phnum, (uint64_t)eh->e_phoff, len);
	return 0;
}

int boot_load_elf(struct guest_mem *gm, const uint8_t *buf, size_t len,
		  const char *name, struct boot_kernel *k, struct skiff_err *e)
{
	Elf64_Ehdr eh;
	if (len < sizeof(eh))
		return skiff_fail(e, EINVAL, "kernel %s: truncated ELF header (%zu of %zu bytes)",
				  name, len, sizeof(eh));
	memcpy(&eh, buf, sizeof(eh));
	int rc = check_ehdr(&eh, len, name, e);
	if (rc)
		return rc;

	/* Pass 1: validate, find the extent and the entry point. */
	uint64_t lo = UINT64_MAX, hi = 0, ventry = 0, pentry = 0;
	bool have_v = false, have_p = false;
	size_t nload = 0;
	for (size_t i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		read_phdr(buf, eh.e_phoff, i, &ph);
		if (ph.p_type != PT_LOAD)
			continue;
		rc = check_segment(gm, &ph, i, len, name, e);
		if (rc)
			return rc;
		if (ph.p_memsz == 0)
			continue;
		nload++;
		if (ph.p_paddr < lo)
			lo = ph.p_paddr;
		if (ph.p_paddr + ph.p_memsz > hi)
			hi = ph.p_paddr + ph.p_memsz;
		/* e_entry is virtual (ELF spec); Linux's vmlinux stores the
		 * physical phys_startup_64 instead: accept either. */
		if (!have_v && eh.e_entry >= ph.p_vaddr && eh.e_entry - ph.p_vaddr < ph.p_memsz) {
			ventry = eh.e_entry - ph.p_vaddr + ph.p_paddr;
			have_v = true;
		}
		if (!have_p && eh.e_entry >= ph.p_paddr && eh.e_entry - ph.p_paddr < ph.p_memsz) {
			pentry = eh.e_entry;
			have_p = true;
		}
	}
	if (nload == 0)
		return skiff_fail(e, EINVAL, "kernel %s: no PT_LOAD segment with memory", name);
	if (!have_v && !have_p)
		return skiff_fail(e, EINVAL, "kernel %s: entry point 0x%" PRIx64
				  " lies in no PT_LOAD segment", name, (uint64_t)eh.e_entry);

	/* Pass 2: copy. Every range was checked above. */
	for (size_t i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		read_phdr(buf, eh.e_phoff, i, &ph);
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		uint8_t *dst = gm_ptr(gm, ph.p_paddr, ph.p_memsz);
		if (!dst)
			return skiff_fail(e, EFAULT, "kernel %s: segment %zu vanished from RAM", name, i);
		memcpy(dst, buf + ph.p_offset, ph.p_filesz);
		memset(dst + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
	}

	memset(k, 0, sizeof(*k));
	k->entry = have_v ? ventry : pentry;
	k->load_start = lo;
	k->load_end = hi;
	k->bzimage = false;
	k->protocol = 0;
	k->initrd_addr_max = BOOT_ELF_INITRD_MAX;
	k->initrd_above_4g = false;
	k->cmdline_max = SKIFF_MAX_CMDLINE;
	return 0;
}
