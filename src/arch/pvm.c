/* KVM PVM compatibility layer (docs/pvm.md). Every PVM work-around lives in
 * this file and is gated on `p->active`, which only pvm_detect() sets. */
#include "arch/pvm.h"
#include "arch/x86.h"
#include "boot/layout.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

void pvm_detect(struct pvm *p, const char *dir)
{
	struct stat st;
	memset(p, 0, sizeof(*p));
	p->active = stat(dir ? dir : "/sys/module/kvm_pvm", &st) == 0 && S_ISDIR(st.st_mode);
}

/* True if `cmdline` already sets parameter `key` (as "key" or "key=..."). */
static bool has_param(const char *cmdline, const char *key)
{
	size_t kl = strlen(key);
	for (const char *s = cmdline; (s = strstr(s, key)); s += kl) {
		bool start = s == cmdline || s[-1] == ' ';
		bool end = s[kl] == '\0' || s[kl] == ' ' || s[kl] == '=';
		if (start && end)
			return true;
	}
	return false;
}

int pvm_add_kernel_params(const struct pvm *p, char *cmdline, size_t cap)
{
	if (!p->active)
		return 0;
	/* Why each one (measured, shared/docs/host.md):
	 *  clearcpuid/noxsave: the host's CPL0 emulator fails on cmpxchg16b,
	 *    clac/stac, popcnt, ldmxcsr (SSSE3 paths) and xrstor;
	 *  cryptomgr.notests: the self-tests run for ever at emulated speed;
	 *  lockdown=confidentiality: skips ~50 s of tracefs set-up;
	 *  nowatchdog, tsc=reliable, no_timer_check: emulated CPL0 is ~1000x
	 *    slower, which trips the watchdogs and the timer checks;
	 *  (no lpj=: with the TSC rate known from kvm-clock the kernel skips
	 *    delay-loop calibration by itself, and an lpj= computed for one HZ
	 *    makes udelay() wrong on a kernel built with another);
	 *  nokaslr, mitigations=off, init_on_alloc=0: boot-time work that costs
	 *    tens of seconds at emulated speed;
	 *  noreplace-smp: with one vCPU the kernel rewrites every LOCK prefix
	 *    in its text through text_poke() (an mm switch each), ~2 s. */
	const struct { const char *key, *val; } params[] = {
		{ "clearcpuid", "cx16,smap,popcnt,ssse3" }, { "noxsave", NULL },
		{ "cryptomgr.notests", "1" }, { "lockdown", "confidentiality" },
		{ "nowatchdog", NULL }, { "tsc", "reliable" }, { "no_timer_check", NULL },
		{ "nokaslr", NULL }, { "mitigations", "off" },
		{ "init_on_alloc", "0" }, { "noreplace-smp", NULL },
		/* Guest user mode sees the host's XCR0 (AVX, AVX-512) while the kernel,
		 * with noxsave, saves only x87/SSE state on a context switch: AVX
		 * registers leak between processes and glibc's AVX memcpy corrupts
		 * data (pipelines segfaulted 1-5 times in 6). The kernel hands this
		 * unknown parameter to init's environment, steering glibc off AVX. */
		{ "GLIBC_TUNABLES", "glibc.cpu.hwcaps=-AVX,-AVX2,-AVX512F,-AVX512VL,-AVX512BW,-AVX512DQ,-AVX512CD" },
	};
	size_t len = strlen(cmdline);
	for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
		if (has_param(cmdline, params[i].key))
			continue;
		int n = snprintf(cmdline + len, cap - len, "%s%s%s%s", len ? " " : "",
				 params[i].key, params[i].val ? "=" : "",
				 params[i].val ? params[i].val : "");
		if (n < 0 || (size_t)n >= cap - len) {
			cmdline[len] = '\0';
			return -ENAMETOOLONG;
		}
		len += (size_t)n;
	}
	return 0;
}

/* The probe: for each 24-byte record {func, index, eax, ebx, ecx, edx} at
 * RSI, run CPUID in 64-bit CPL0 (the mode the guest kernel runs in) and
 * store the result, RCX records in all; then write port 0xf4. */
static const uint8_t probe_code[] = {
	0x49, 0x89, 0xc8, 0x8b, 0x06, 0x8b, 0x4e, 0x04, 0x0f, 0xa2, 0x89, 0x46, 0x08,
	0x89, 0x5e, 0x0c, 0x89, 0x4e, 0x10, 0x89, 0x56, 0x14, 0x48, 0x83, 0xc6, 0x18,
	0x4c, 0x89, 0xc1, 0x48, 0xff, 0xc9, 0x75, 0xde, 0xe6, 0xf4,
};
#define PROBE_MEM	(2ULL << 20)
#define PROBE_CODE_GPA	0x10000ULL
#define PROBE_TABLE_GPA	0x20000ULL

struct probe_rec {
	uint32_t func, index, eax, ebx, ecx, edx;
};

static int run_probe(int kvm_fd, struct guest_mem *gm, struct kvm_cpuid2 *cpuid, struct skiff_err *e)
{
	int vm = -1, vcpu = -1, r, exit_reason = -1;
	struct kvm_run *run = MAP_FAILED;
	size_t run_size = (size_t)ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	uint32_t n = cpuid->nent;
	if (n * sizeof(struct probe_rec) > PROBE_MEM - PROBE_TABLE_GPA)
		return skiff_fail(e, E2BIG, "PVM CPUID probe: table too large");
	struct probe_rec *recs = gm_ptr(gm, PROBE_TABLE_GPA, n * sizeof(*recs));
	for (uint32_t i = 0; i < n; i++)
		recs[i] = (struct probe_rec){ .func = cpuid->entries[i].function,
					   .index = cpuid->entries[i].index };
	if (gm_write(gm, PROBE_CODE_GPA, probe_code, sizeof(probe_code)) || x86_write_boot_tables(gm))
		return skiff_fail(e, EFAULT, "PVM CPUID probe: no room");

	r = -EIO;
	vm = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	if (vm < 0)
		goto out;
	struct kvm_userspace_memory_region reg = {
		.slot = 0, .guest_phys_addr = 0, .memory_size = PROBE_MEM,
		.userspace_addr = (uint64_t)(uintptr_t)gm->r[0].hva,
	};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &reg) < 0 ||
	    (vcpu = ioctl(vm, KVM_CREATE_VCPU, 0)) < 0 || ioctl(vcpu, KVM_SET_CPUID2, cpuid) < 0)
		goto out;
	run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED || x86_set_boot_regs(vcpu, PROBE_CODE_GPA, 0))
		goto out;
	struct kvm_regs regs;
	if (ioctl(vcpu, KVM_GET_REGS, &regs) < 0)
		goto out;
	regs.rsi = PROBE_TABLE_GPA;
	regs.rcx = n;
	if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
		goto out;
	for (int tries = 0; tries < 8; tries++) {
		if (ioctl(vcpu, KVM_RUN, 0) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		exit_reason = (int)run->exit_reason;
		if (run->exit_reason == KVM_EXIT_IO && run->io.port == 0xf4) {
			r = 0;
			break;
		}
		if (run->exit_reason != KVM_EXIT_INTR)
			break;
	}
out:
	if (run != MAP_FAILED)
		munmap(run, run_size);
	if (vcpu >= 0)
		close(vcpu);
	if (vm >= 0)
		close(vm);
	if (r)
		return skiff_fail(e, EIO, "PVM CPUID probe VM failed (last exit reason %d, %s)",
				  exit_reason, strerror(errno));
	for (uint32_t i = 0; i < n; i++) {
		struct kvm_cpuid_entry2 *c = &cpuid->entries[i];
		c->eax = recs[i].eax;
		c->ebx = recs[i].ebx;
		c->ecx = recs[i].ecx;
		c->edx = recs[i].edx;
	}
	return 0;
}

/* KVM paravirtual features (KVM API document, "KVM CPUID bits") whose guest
 * side issues hypercalls. Under PVM a hypercall from guest CPL0 never
 * completes: KVM "fixes" the VMCALL and re-executes it, which PVM emulates
 * again, for ever (measured: a 2-vCPU Linux boot spun on KVM_HC_KICK_CPU
 * from the PV spinlock code). The guest honours KVM's table for these
 * leaves, so hiding the features keeps it off those paths. */
#define KVM_CPUID_FEATURES_LEAF	0x40000001
#define KVM_FEATURE_PV_UNHALT_BIT	7	/* PV spinlocks: KVM_HC_KICK_CPU */
#define KVM_FEATURE_PV_SEND_IPI_BIT	11	/* KVM_HC_SEND_IPI */
#define KVM_FEATURE_PV_SCHED_YIELD_BIT	13	/* KVM_HC_SCHED_YIELD */

void pvm_hide_hypercall_features(const struct pvm *p, struct kvm_cpuid2 *cpuid)
{
	if (!p->active)
		return;
	const uint32_t mask = (1u << KVM_FEATURE_PV_UNHALT_BIT) | (1u << KVM_FEATURE_PV_SEND_IPI_BIT) |
			      (1u << KVM_FEATURE_PV_SCHED_YIELD_BIT);
	for (uint32_t i = 0; i < cpuid->nent; i++)
		if (cpuid->entries[i].function == KVM_CPUID_FEATURES_LEAF)
			cpuid->entries[i].eax &= ~mask;
}

int pvm_probe_cpuid(struct pvm *p, int kvm_fd, struct kvm_cpuid2 *cpuid, struct skiff_err *e)
{
	if (!p->active)
		return 0;
	pvm_hide_hypercall_features(p, cpuid);
	struct guest_mem gm;
	if (gm_init(&gm, PROBE_MEM))
		return skiff_fail(e, ENOMEM, "PVM CPUID probe: out of memory");
	int r = run_probe(kvm_fd, &gm, cpuid, e);
	gm_destroy(&gm);
	return r;
}

/* The instruction bytes at the faulting RIP: from the exit itself when KVM
 * provides them, else read through the guest's page tables. */
static int fetch_insn(int vcpu_fd, struct kvm_run *run, const struct guest_mem *gm,
		      uint64_t rip, uint8_t *buf, size_t len)
{
	if (run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION &&
	    (run->emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES) &&
	    run->emulation_failure.insn_size > 0) {
		size_t n = run->emulation_failure.insn_size;
		memcpy(buf, run->emulation_failure.insn_bytes, n < len ? n : len);
		return 0;
	}
	struct kvm_translation tr = { .linear_address = rip };
	if (ioctl(vcpu_fd, KVM_TRANSLATE, &tr) < 0 || !tr.valid)
		return -EFAULT;
	/* Stay inside the page the translation is valid for. */
	size_t in_page = 4096 - (tr.physical_address & 0xfff);
	if (len > in_page)
		len = in_page;
	return gm_read(gm, tr.physical_address, buf, len);
}

bool pvm_handle_internal_error(struct pvm *p, int vcpu_fd, struct kvm_run *run,
			       const struct guest_mem *gm, char *why, size_t why_len)
{
	snprintf(why, why_len, "KVM internal error, suberror %u", run->internal.suberror);
	if (!p->active || run->internal.suberror != KVM_INTERNAL_ERROR_EMULATION)
		return false;
	struct kvm_regs regs;
	if (ioctl(vcpu_fd, KVM_GET_REGS, &regs) < 0)
		return false;
	uint8_t insn[3] = { 0 };
	if (fetch_insn(vcpu_fd, run, gm, regs.rip, insn, sizeof(insn))) {
		snprintf(why, why_len, "emulation failure at rip 0x%llx (instruction unreadable)",
			 (unsigned long long)regs.rip);
		return false;
	}
	snprintf(why, why_len, "the host's CPL0 emulator failed at rip 0x%llx on bytes %02x %02x %02x",
		 (unsigned long long)regs.rip, insn[0], insn[1], insn[2]);
	if (insn[0] == 0xcc) {
		/* int3 is a trap: #BP is delivered with RIP after the instruction. */
		struct kvm_vcpu_events ev;
		if (ioctl(vcpu_fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
			return false;
		regs.rip += 1;
		if (ioctl(vcpu_fd, KVM_SET_REGS, &regs) < 0)
			return false;
		ev.exception.injected = 1;
		ev.exception.nr = 3;
		ev.exception.has_error_code = 0;
		ev.flags = 0;
		if (ioctl(vcpu_fd, KVM_SET_VCPU_EVENTS, &ev) < 0)
			return false;
		p->int3_injected++;
		return true;
	}
	if (insn[0] == 0x9b) {
		/* fwait: no pending x87 exceptions are ever modelled; a no-op. */
		regs.rip += 1;
		p->fwait_skipped++;
		return ioctl(vcpu_fd, KVM_SET_REGS, &regs) == 0;
	}
	if (insn[0] == 0x0f && insn[1] == 0x01 && (insn[2] == 0xca || insn[2] == 0xcb)) {
		/* clac / stac: clear / set RFLAGS.AC. */
		if (insn[2] == 0xca)
			regs.rflags &= ~(1ULL << 18);
		else
			regs.rflags |= 1ULL << 18;
		regs.rip += 3;
		p->clac_stac_emulated++;
		return ioctl(vcpu_fd, KVM_SET_REGS, &regs) == 0;
	}
	return false;
}
