/* kvm_trace.so: an LD_PRELOAD shim that times a VMM's KVM calls, for
 * `bench/startup --breakdown`. Far lighter than strace: it adds two
 * clock_gettime calls per ioctl and does not stop the process.
 *
 * For every ioctl on /dev/kvm, a VM fd or a vCPU fd, and for the close of a
 * VM or vCPU fd, it appends to the file named by $KVM_TRACE_OUT one line
 *     NAME START_MS END_MS
 * (milliseconds since the shim was loaded, i.e. since the process started;
 * NAME is the ioctl's name with "[vmN]" for the Nth VM the process created),
 * and, when a KVM_RUN returns with a write of 123 to port 0x3f0 (the boot
 * timer), the line
 *     BOOT_TIMER END_MS
 * Only calls made through the PLT are seen (skiff's own calls are).
 * Built by bench/Makefile into build/bench/kvm_trace.so. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_FD 1024
enum { FD_NONE, FD_KVM, FD_VM, FD_VCPU };
static struct {
	unsigned char kind;
	unsigned char vm;		/* VM number, 1-based */
	struct kvm_run *run;		/* vCPU: its mmap'ed run area */
} fds[MAX_FD];
static int nvms;
static double t0;
static int out = -1;

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

__attribute__((constructor)) static void kvm_trace_init(void)
{
	t0 = now_ms();
	const char *path = getenv("KVM_TRACE_OUT");
	if (path)
		out = (int)syscall(SYS_openat, AT_FDCWD, path,
				   O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

static void emit(const char *fmt, ...)
{
	if (out < 0)
		return;
	char buf[160];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0)
		syscall(SYS_write, out, buf, (size_t)(n < (int)sizeof(buf) ? n : (int)sizeof(buf) - 1));
}

static const char *ioctl_name(unsigned long req, char *tmp, size_t len)
{
	switch (req) {
#define N(x) case x: return #x;
	N(KVM_GET_API_VERSION) N(KVM_CREATE_VM) N(KVM_CHECK_EXTENSION) N(KVM_GET_VCPU_MMAP_SIZE)
	N(KVM_GET_SUPPORTED_CPUID) N(KVM_GET_MSR_INDEX_LIST) N(KVM_SET_TSS_ADDR)
	N(KVM_SET_IDENTITY_MAP_ADDR) N(KVM_CREATE_IRQCHIP) N(KVM_SET_GSI_ROUTING)
	N(KVM_CREATE_PIT2) N(KVM_SET_USER_MEMORY_REGION) N(KVM_CREATE_VCPU) N(KVM_GET_TSC_KHZ)
	N(KVM_SET_TSC_KHZ) N(KVM_ENABLE_CAP) N(KVM_IRQFD) N(KVM_IOEVENTFD) N(KVM_SET_CPUID2)
	N(KVM_RUN) N(KVM_GET_REGS) N(KVM_SET_REGS) N(KVM_GET_SREGS) N(KVM_SET_SREGS)
	N(KVM_SET_MSRS) N(KVM_GET_MSRS) N(KVM_SET_FPU) N(KVM_GET_LAPIC) N(KVM_SET_LAPIC)
	N(KVM_SET_MP_STATE) N(KVM_SET_VCPU_EVENTS) N(KVM_SET_XCRS) N(KVM_SET_XSAVE)
	N(KVM_SET_CLOCK) N(KVM_IRQ_LINE_STATUS) N(KVM_SET_GUEST_DEBUG)
#undef N
	default:
		snprintf(tmp, len, "ioctl_0x%lx", req);
		return tmp;
	}
}

static int tracked(int fd)
{
	return fd >= 0 && fd < MAX_FD && fds[fd].kind != FD_NONE;
}

int open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	if (flags & (O_CREAT | O_TMPFILE)) {
		va_list ap;
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	int fd = (int)syscall(SYS_openat, AT_FDCWD, path, flags, mode);
	if (fd >= 0 && fd < MAX_FD && !strcmp(path, "/dev/kvm"))
		fds[fd].kind = FD_KVM;
	return fd;
}

int open64(const char *path, int flags, ...) __attribute__((alias("open")));

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	void *p = (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
	if (p != MAP_FAILED && fd >= 0 && fd < MAX_FD && fds[fd].kind == FD_VCPU && off == 0)
		fds[fd].run = p;
	return p;
}

int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	va_start(ap, req);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	if (!tracked(fd))
		return (int)syscall(SYS_ioctl, fd, req, arg);
	double s = now_ms();
	long r = syscall(SYS_ioctl, fd, req, arg);
	double e = now_ms();
	int vm = fds[fd].vm;
	if (r >= 0 && r < MAX_FD) {
		if (req == KVM_CREATE_VM) {
			fds[r].kind = FD_VM;
			fds[r].vm = (unsigned char)(vm = ++nvms);
		} else if (req == KVM_CREATE_VCPU) {
			fds[r].kind = FD_VCPU;
			fds[r].vm = (unsigned char)vm;
			fds[r].run = NULL;
		}
	}
	char tmp[32];
	emit("%s[vm%d] %.3f %.3f\n", ioctl_name(req, tmp, sizeof(tmp)), vm, s - t0, e - t0);
	struct kvm_run *run = fds[fd].run;
	if (req == KVM_RUN && r == 0 && run && run->exit_reason == KVM_EXIT_IO &&
	    run->io.direction == KVM_EXIT_IO_OUT && run->io.port == 0x3f0 &&
	    *((uint8_t *)run + run->io.data_offset) == 123)
		emit("BOOT_TIMER %.3f\n", e - t0);
	return (int)r;
}

int close(int fd)
{
	if (!tracked(fd))
		return (int)syscall(SYS_close, fd);
	int kind = fds[fd].kind, vm = fds[fd].vm;
	fds[fd].kind = FD_NONE;
	fds[fd].run = NULL;
	double s = now_ms();
	int r = (int)syscall(SYS_close, fd);
	double e = now_ms();
	if (kind == FD_VM || kind == FD_VCPU)
		emit("close(%s)[vm%d] %.3f %.3f\n", kind == FD_VM ? "VM_fd" : "vCPU_fd", vm, s - t0, e - t0);
	return r;
}
