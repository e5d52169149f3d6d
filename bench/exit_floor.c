/* exit_floor: the floor for skiff's exit round trip. A minimal KVM user of
 * its own (no skiff code): one VM, one vCPU, guest RAM at 0, an ELF guest's
 * PT_LOAD segments copied to p_paddr, entry in 64-bit long mode at CPL0 with
 * the same boot state skiff gives (flat GDT at 0x500, CS 0x10, DS 0x18,
 * identity-mapped first 4 GiB with 2 MiB pages, RSP 0x8ff0). Then it loops
 * on KVM_RUN and handles KVM_EXIT_IO with nothing else: a write to port 0xf4
 * ends the run with that value as exit status, every other port exit just
 * re-enters the guest. Anything else is an error (exit status 1).
 *
 *   exit_floor [--no-irqchip] [-v] [-m MiB] GUEST.elf
 *
 * By default it creates the in-kernel irqchip and PIT as skiff does, so the
 * two VMs have the same shape and the difference is skiff's own user-space
 * path. Like skiff, it logs a guest write of 123 to port 0x3f0 (the boot
 * timer) with the time since it started; -v also logs how long each set-up
 * step took (the start-up floor: what the host kernel alone costs).
 * Built by bench/Makefile into build/bench/exit_floor. */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define GDT_GPA		0x500
#define STACK_TOP	0x8ff0
#define PML4_GPA	0x9000
#define PDPT_GPA	0xa000
#define PD_GPA		0xb000		/* 4 PDs: 4 GiB of 2 MiB pages */
#define TSS_GPA		0xfeffd000

static uint64_t t_start, t_last;
static int verbose;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* -v: how long the step that just ended took. */
static void step(const char *what)
{
	uint64_t t = now_ns();
	if (verbose)
		fprintf(stderr, "exit_floor: %-28s %8.3f ms\n", what, (t - t_last) / 1e6);
	t_last = t;
}

static void die(const char *what)
{
	fprintf(stderr, "exit_floor: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void fail(const char *msg)
{
	fprintf(stderr, "exit_floor: %s\n", msg);
	exit(1);
}

static void load_elf(const char *path, uint8_t *ram, uint64_t ram_size, uint64_t *entry)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die(path);
	struct stat st;
	if (fstat(fd, &st) < 0)
		die(path);
	size_t len = (size_t)st.st_size;
	uint8_t *buf = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (buf == MAP_FAILED)
		die(path);
	close(fd);
	Elf64_Ehdr eh;
	if (len < sizeof(eh))
		fail("guest: not an ELF64 file");
	memcpy(&eh, buf, sizeof(eh));
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_phentsize != sizeof(Elf64_Phdr) ||
	    eh.e_phoff + (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) > len)
		fail("guest: not an ELF64 file");
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, buf + eh.e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_LOAD)
			continue;
		if (ph.p_filesz > ph.p_memsz || ph.p_offset + ph.p_filesz > len ||
		    ph.p_paddr + ph.p_memsz > ram_size)
			fail("guest: a PT_LOAD segment does not fit");
		memcpy(ram + ph.p_paddr, buf + ph.p_offset, ph.p_filesz);
		memset(ram + ph.p_paddr + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
	}
	*entry = eh.e_entry;
	munmap(buf, len);
}

static void set_seg(struct kvm_segment *s, uint16_t sel, uint8_t type, int l, int db)
{
	memset(s, 0, sizeof(*s));
	s->selector = sel;
	s->limit = 0xffffffff;
	s->type = type;
	s->present = 1;
	s->s = 1;
	s->l = l;
	s->db = db;
	s->g = 1;
}

int main(int argc, char **argv)
{
	t_start = t_last = now_ns();
	uint64_t mem_mib = 256;
	int irqchip = 1;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--no-irqchip"))
			irqchip = 0;
		else if (!strcmp(argv[i], "-v"))
			verbose = 1;
		else if (!strcmp(argv[i], "-m") && i + 1 < argc)
			mem_mib = strtoull(argv[++i], NULL, 10);
		else
			break;
	}
	if (i != argc - 1 || mem_mib < 16 || mem_mib > 3072) {
		fprintf(stderr, "usage: exit_floor [--no-irqchip] [-v] [-m MiB (16..3072)] GUEST.elf\n");
		return 2;
	}
	const char *guest = argv[i];

	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		die("/dev/kvm");
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		die("KVM_CREATE_VM");
	step("open /dev/kvm, KVM_CREATE_VM");
	if (ioctl(vm, KVM_SET_TSS_ADDR, (unsigned long)TSS_GPA) < 0)
		die("KVM_SET_TSS_ADDR");
	if (irqchip) {
		if (ioctl(vm, KVM_CREATE_IRQCHIP, 0) < 0)
			die("KVM_CREATE_IRQCHIP");
		step("KVM_CREATE_IRQCHIP");
		struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
		if (ioctl(vm, KVM_CREATE_PIT2, &pit) < 0)
			die("KVM_CREATE_PIT2");
		step("KVM_CREATE_PIT2");
	}

	uint64_t ram_size = mem_mib << 20;
	uint8_t *ram = mmap(NULL, ram_size, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (ram == MAP_FAILED)
		die("mmap guest RAM");
	struct kvm_userspace_memory_region region = {
		.slot = 0, .guest_phys_addr = 0, .memory_size = ram_size,
		.userspace_addr = (uintptr_t)ram,
	};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		die("KVM_SET_USER_MEMORY_REGION");
	step("mmap, KVM_SET_USER_MEMORY_REGION");

	/* Boot state: the same as skiff's (src/arch/x86_boot.c). */
	uint64_t gdt[4] = { 0, 0, 0x00af9b000000ffffULL, 0x00cf93000000ffffULL };
	memcpy(ram + GDT_GPA, gdt, sizeof(gdt));
	uint64_t *pml4 = (uint64_t *)(ram + PML4_GPA), *pdpt = (uint64_t *)(ram + PDPT_GPA);
	uint64_t *pd = (uint64_t *)(ram + PD_GPA);
	pml4[0] = PDPT_GPA | 3;
	for (int j = 0; j < 4; j++)
		pdpt[j] = (PD_GPA + 4096ULL * j) | 3;
	for (uint64_t j = 0; j < 512 * 4; j++)
		pd[j] = (j << 21) | 0x83;
	uint64_t entry;
	load_elf(guest, ram, ram_size, &entry);
	step("page tables, load ELF");

	int cpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (cpu < 0)
		die("KVM_CREATE_VCPU");
	int nent = 256;
	struct kvm_cpuid2 *cpuid = calloc(1, sizeof(*cpuid) + nent * sizeof(struct kvm_cpuid_entry2));
	if (!cpuid)
		fail("out of memory");
	cpuid->nent = nent;
	if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, cpuid) < 0)
		die("KVM_GET_SUPPORTED_CPUID");
	if (ioctl(cpu, KVM_SET_CPUID2, cpuid) < 0)
		die("KVM_SET_CPUID2");
	free(cpuid);
	int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size < 0)
		die("KVM_GET_VCPU_MMAP_SIZE");
	struct kvm_run *run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, cpu, 0);
	if (run == MAP_FAILED)
		die("mmap kvm_run");

	struct kvm_sregs sregs;
	if (ioctl(cpu, KVM_GET_SREGS, &sregs) < 0)
		die("KVM_GET_SREGS");
	set_seg(&sregs.cs, 0x10, 0xb, 1, 0);
	set_seg(&sregs.ds, 0x18, 0x3, 0, 1);
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	sregs.gdt.base = GDT_GPA;
	sregs.gdt.limit = sizeof(gdt) - 1;
	sregs.idt.base = 0;
	sregs.idt.limit = 0;
	sregs.cr3 = PML4_GPA;
	sregs.cr4 |= 1u << 5;					/* PAE */
	sregs.cr0 |= (1u << 0) | (1u << 4) | (1u << 5) | (1u << 31);	/* PE ET NE PG */
	sregs.efer |= (1u << 8) | (1u << 10);			/* LME LMA */
	if (ioctl(cpu, KVM_SET_SREGS, &sregs) < 0)
		die("KVM_SET_SREGS");
	struct kvm_regs regs = { .rflags = 2, .rip = entry, .rsp = STACK_TOP };
	if (ioctl(cpu, KVM_SET_REGS, &regs) < 0)
		die("KVM_SET_REGS");
	step("vCPU, CPUID, registers");
	int timed = 0;
	uint64_t exits = 0, t_run = now_ns();

	/* The floor: KVM_RUN, handle the port exit, nothing else. */
	for (;;) {
		if (ioctl(cpu, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			die("KVM_RUN");
		}
		if (run->exit_reason != KVM_EXIT_IO) {
			fprintf(stderr, "exit_floor: unexpected exit reason %u\n", run->exit_reason);
			return 1;
		}
		if (run->io.direction != KVM_EXIT_IO_OUT)
			continue;
		uint8_t v = *((uint8_t *)run + run->io.data_offset);
		exits++;
		if (run->io.port == 0xf4) {
			uint64_t t = now_ns() - t_run;
			if (verbose)
				fprintf(stderr, "exit_floor: run phase %.3f ms, %llu port exits, %.0f ns each\n",
					t / 1e6, (unsigned long long)exits, (double)t / (double)exits);
			return v;
		}
		if (run->io.port == 0x3f0 && v == 123 && !timed) {
			timed = 1;
			step("first KVM_RUN to port 0x3f0");
			fprintf(stderr, "exit_floor: guest boot timer: %llu us since exit_floor started\n",
				(unsigned long long)((now_ns() - t_start) / 1000));
		}
	}
}
