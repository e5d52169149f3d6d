/* VM life cycle: create (validate, open KVM, map RAM, load the kernel, build
 * boot structures, create devices and vCPUs), run, destroy. Set-up is a
 * sequence of explicit ordered steps; each failure names the problem. */
#include "core/vm_internal.h"
#include "arch/x86.h"
#include "boot/acpi.h"
#include "boot/kernel.h"
#include "boot/layout.h"
#include "core/evloop.h"
#include "pci/pci.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_CMDLINE "console=ttyS0 reboot=k panic=1"

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void skiff_config_default(struct skiff_config *c)
{
	memset(c, 0, sizeof(*c));
	c->cpus = 1;
	c->mem_mib = 256;
	c->console_in = 0;
	c->console_out = 1;
	c->console_escape = true;
	c->stop_signal_fd = -1;
	c->log_level = LOG_INFO;
}

/* Record the first stop (reason, code, message) and wake everyone. */
static void stop_vm(struct skiff_vm *vm, enum vm_stop_reason why, int code, const char *msg)
{
	pthread_mutex_lock(&vm->stop_lock);
	bool first = atomic_load(&vm->stop_reason) == VM_STOP_NONE;
	if (first) {
		vm->stop_code = code;
		snprintf(vm->stop_msg, sizeof(vm->stop_msg), "%s", msg ? msg : "");
		atomic_store(&vm->stop_reason, (int)why);
	}
	pthread_mutex_unlock(&vm->stop_lock);
	if (!first)
		return;
	vm_pause_wake(vm);	/* parked vCPUs see the stop and leave */
	for (uint32_t i = 0; i < vm->ncpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	uint64_t one = 1;
	if (write(vm->stop_efd, &one, sizeof(one)) < 0) {
		/* Cannot fail for a valid eventfd with a small count. */
	}
}

void vm_request_stop(struct skiff_vm *vm, enum vm_stop_reason why, int code)
{
	stop_vm(vm, why, code, NULL);
}

void vm_stop_error(struct skiff_vm *vm, const char *fmt, ...)
{
	char msg[sizeof(vm->stop_msg)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	stop_vm(vm, VM_STOP_ERROR, 0, msg);
}

void skiff_vm_request_stop(struct skiff_vm *vm, enum vm_stop_reason why, int code)
{
	vm_request_stop(vm, why, code);
}

/* dev_host callbacks */
static void host_set_irq(void *ctx, uint32_t gsi, int level)
{
	struct skiff_vm *vm = ctx;
	struct kvm_irq_level irq = { .irq = gsi, .level = level ? 1 : 0 };
	if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq) < 0)
		skiff_log(&vm->log, LOG_WARN, "KVM_IRQ_LINE gsi %u: %s", gsi, strerror(errno));
}

static void host_request_stop(void *ctx, enum vm_stop_reason why, int code)
{
	vm_request_stop(ctx, why, code);
}

static int validate_config(const struct skiff_config *c, struct skiff_err *e)
{
	if (!c->kernel_path || !*c->kernel_path)
		return skiff_fail(e, EINVAL, "no kernel given (--kernel PATH)");
	if (c->cpus == 0 || c->cpus > SKIFF_MAX_VCPUS)
		return skiff_fail(e, EINVAL, "vCPU count %u is out of range (1..%d)", c->cpus,
				  SKIFF_MAX_VCPUS);
	if (c->mem_mib < SKIFF_MIN_MEM_MIB)
		return skiff_fail(e, EINVAL, "memory of %llu MiB is too small (at least %d MiB)",
				  (unsigned long long)c->mem_mib, SKIFF_MIN_MEM_MIB);
	if (c->mem_mib > (1ULL << 22))
		return skiff_fail(e, EINVAL, "memory of %llu MiB is too large (at most 4 TiB)",
				  (unsigned long long)c->mem_mib);
	if (c->cmdline && strlen(c->cmdline) > SKIFF_MAX_CMDLINE)
		return skiff_fail(e, E2BIG, "kernel command line is %zu bytes; the limit is %d",
				  strlen(c->cmdline), SKIFF_MAX_CMDLINE);
	return 0;
}

/* KVM's default GSI routing sends GSI 0 to IOAPIC pin 0, but the MADT says
 * ISA IRQ 0 is GSI 2 (as every PC does). Route like a PC: GSI 0 (the PIT)
 * to PIC pin 0 and IOAPIC pin 2; GSIs 1-15 to both PICs and IOAPIC pins;
 * GSIs 16-23 (PCI INTx) to IOAPIC pins only. Returns the entries written
 * (IRQCHIP_ROUTES). */
#define IRQCHIP_ROUTES 38
static uint32_t irqchip_routes(struct kvm_irq_routing_entry *e)
{
	uint32_t n = 0;
	for (uint32_t gsi = 0; gsi < 16; gsi++) {
		if (gsi == 2)
			continue;	/* the slave PIC's cascade */
		e[n].gsi = gsi;
		e[n].type = KVM_IRQ_ROUTING_IRQCHIP;
		e[n].u.irqchip.irqchip = gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE;
		e[n].u.irqchip.pin = gsi % 8;
		n++;
	}
	for (uint32_t gsi = 0; gsi < 24; gsi++) {
		if (gsi == 2)
			continue;
		e[n].gsi = gsi;
		e[n].type = KVM_IRQ_ROUTING_IRQCHIP;
		e[n].u.irqchip.irqchip = KVM_IRQCHIP_IOAPIC;
		e[n].u.irqchip.pin = gsi == 0 ? 2 : gsi;
		n++;
	}
	return n;
}

/* Commit the whole table: irqchip routes plus every routed MSI GSI
 * (KVM API §4.52 KVM_SET_GSI_ROUTING replaces the table). irq.lock held.
 * Returns 0 or -errno. */
static int commit_routes(struct skiff_vm *vm)
{
	size_t max = IRQCHIP_ROUTES + VM_MSI_GSIS;
	struct kvm_irq_routing *rt = calloc(1, sizeof(*rt) + max * sizeof(rt->entries[0]));
	if (!rt)
		return -ENOMEM;
	uint32_t n = irqchip_routes(rt->entries);
	for (uint32_t i = 0; i < VM_MSI_GSIS; i++) {
		const struct vm_msi_route *m = &vm->irq.msi[i];
		if (!m->routed)
			continue;
		struct kvm_irq_routing_entry *e = &rt->entries[n++];
		e->gsi = VM_MSI_GSI_BASE + i;
		e->type = KVM_IRQ_ROUTING_MSI;
		e->u.msi.address_lo = (uint32_t)m->addr;
		e->u.msi.address_hi = (uint32_t)(m->addr >> 32);
		e->u.msi.data = m->data;
	}
	rt->nr = n;
	int r = ioctl(vm->vm_fd, KVM_SET_GSI_ROUTING, rt) < 0 ? -errno : 0;
	free(rt);
	return r;
}

static int setup_gsi_routing(struct skiff_vm *vm)
{
	pthread_mutex_lock(&vm->irq.lock);
	int r = commit_routes(vm);
	pthread_mutex_unlock(&vm->irq.lock);
	return r;
}

/* Index into irq.msi of an allocated MSI GSI, or -1. */
static int msi_index(struct skiff_vm *vm, uint32_t gsi)
{
	if (gsi < VM_MSI_GSI_BASE || gsi - VM_MSI_GSI_BASE >= VM_MSI_GSIS)
		return -1;
	return (int)(gsi - VM_MSI_GSI_BASE);
}

static int host_msi_alloc(void *ctx)
{
	struct skiff_vm *vm = ctx;
	int gsi = -ENOSPC;
	pthread_mutex_lock(&vm->irq.lock);
	for (uint32_t i = 0; i < VM_MSI_GSIS; i++) {
		if (!vm->irq.msi[i].used) {
			vm->irq.msi[i] = (struct vm_msi_route){ .used = true };
			gsi = (int)(VM_MSI_GSI_BASE + i);
			break;
		}
	}
	pthread_mutex_unlock(&vm->irq.lock);
	return gsi;
}

static int host_msi_route(void *ctx, uint32_t gsi, uint64_t addr, uint32_t data)
{
	struct skiff_vm *vm = ctx;
	int i = msi_index(vm, gsi);
	if (i < 0)
		return -EINVAL;
	pthread_mutex_lock(&vm->irq.lock);
	struct vm_msi_route *m = &vm->irq.msi[i], old = *m;
	int r = -EINVAL;
	if (m->used) {
		*m = (struct vm_msi_route){ .addr = addr, .data = data, .used = true, .routed = true };
		r = commit_routes(vm);
		if (r)
			*m = old;	/* KVM kept the previous table */
	}
	pthread_mutex_unlock(&vm->irq.lock);
	return r;
}

static void host_msi_free(void *ctx, uint32_t gsi)
{
	struct skiff_vm *vm = ctx;
	int i = msi_index(vm, gsi);
	if (i < 0)
		return;
	pthread_mutex_lock(&vm->irq.lock);
	bool was_routed = vm->irq.msi[i].routed;
	vm->irq.msi[i] = (struct vm_msi_route){ 0 };
	int r = was_routed ? commit_routes(vm) : 0;
	pthread_mutex_unlock(&vm->irq.lock);
	if (r)
		skiff_log(&vm->log, LOG_WARN, "KVM_SET_GSI_ROUTING dropping GSI %u: %s", gsi,
			  strerror(-r));
}

static int host_irqfd(void *ctx, int efd, uint32_t gsi, int resample_efd, bool assign)
{
	struct skiff_vm *vm = ctx;
	if (!vm->irq.has_irqfd || (resample_efd >= 0 && assign && !vm->irq.has_resample))
		return -ENOTSUP;
	struct kvm_irqfd f = { .fd = (uint32_t)efd, .gsi = gsi };
	if (!assign)
		f.flags = KVM_IRQFD_FLAG_DEASSIGN;
	else if (resample_efd >= 0) {
		f.flags = KVM_IRQFD_FLAG_RESAMPLE;
		f.resamplefd = (uint32_t)resample_efd;
	}
	return ioctl(vm->vm_fd, KVM_IRQFD, &f) < 0 ? -errno : 0;
}

static int host_ioeventfd(void *ctx, int efd, uint64_t addr, uint32_t len, bool mmio, bool assign)
{
	struct skiff_vm *vm = ctx;
	if (!vm->irq.has_ioeventfd)
		return -ENOTSUP;
	if (len != 0 && len != 1 && len != 2 && len != 4 && len != 8)
		return -EINVAL;
	struct kvm_ioeventfd io = { .addr = addr, .len = len, .fd = efd };
	if (!mmio)
		io.flags |= KVM_IOEVENTFD_FLAG_PIO;
	if (!assign)
		io.flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;
	return ioctl(vm->vm_fd, KVM_IOEVENTFD, &io) < 0 ? -errno : 0;
}

static int host_signal_msi(void *ctx, uint64_t addr, uint32_t data)
{
	struct skiff_vm *vm = ctx;
	if (!vm->irq.has_signal_msi)
		return -ENOTSUP;
	struct kvm_msi m = { .address_lo = (uint32_t)addr, .address_hi = (uint32_t)(addr >> 32),
			     .data = data };
	return ioctl(vm->vm_fd, KVM_SIGNAL_MSI, &m) < 0 ? -errno : 0;
}

/* Which interrupt and notification services KVM offers. PCI devices need
 * irqfd and ioeventfd: refuse a configuration with virtio devices on a KVM
 * without them, naming the capability. */
static int check_irq_caps(struct skiff_vm *vm, struct skiff_err *e)
{
	vm->irq.has_irqfd = kvm_check_cap(vm->vm_fd, KVM_CAP_IRQFD) > 0;
	vm->irq.has_resample = kvm_check_cap(vm->vm_fd, KVM_CAP_IRQFD_RESAMPLE) > 0;
	vm->irq.has_ioeventfd = kvm_check_cap(vm->vm_fd, KVM_CAP_IOEVENTFD) > 0;
	vm->irq.has_signal_msi = kvm_check_cap(vm->vm_fd, KVM_CAP_SIGNAL_MSI) > 0;
	const struct skiff_config *c = &vm->cfg;
	if (!(c->ndisks || c->nnets || c->vsock || c->rng))
		return 0;
	const char *missing = !vm->irq.has_irqfd ? "KVM_CAP_IRQFD" :
			      !vm->irq.has_ioeventfd ? "KVM_CAP_IOEVENTFD" : NULL;
	if (missing)
		return skiff_fail(e, ENOTSUP, "this host's KVM lacks %s, which virtio devices need",
				  missing);
	return 0;
}

/* On a PVM host the CPUID probe runs a throw-away VM, whose creation and
 * teardown wait on the host kernel for milliseconds; it runs on its own
 * thread while the main VM is set up. Elsewhere it is a no-op. */
static void *cpuid_probe_thread(void *arg)
{
	struct skiff_vm *vm = arg;
	vm->probe_result = pvm_probe_cpuid(&vm->pvm, vm->kvm.fd, vm->cpuid, &vm->probe_err);
	return NULL;
}

static int cpuid_probe_start(struct skiff_vm *vm, struct skiff_err *e)
{
	vm->cpuid = x86_cpuid_supported(vm->kvm.fd);
	if (!vm->cpuid)
		return skiff_fail(e, EIO, "KVM_GET_SUPPORTED_CPUID failed");
	if (!vm->pvm.active)
		return 0;
	int r = pthread_create(&vm->probe_thread, NULL, cpuid_probe_thread, vm);
	if (r)
		return skiff_fail(e, r, "cannot start the CPUID probe thread: %s", strerror(r));
	vm->probe_started = true;
	return 0;
}

static int cpuid_probe_join(struct skiff_vm *vm)
{
	if (vm->probe_started) {
		pthread_join(vm->probe_thread, NULL);
		vm->probe_started = false;
	}
	return vm->probe_result;
}

static int create_kvm_vm(struct skiff_vm *vm, struct skiff_err *e)
{
	int r = kvm_sys_open(&vm->kvm, vm->cfg.kvm_path, e);
	if (r)
		return r;
	if ((int)vm->ncpus > vm->kvm.max_vcpus)
		return skiff_fail(e, EINVAL, "%u vCPUs requested; this host's KVM allows %d",
				  vm->ncpus, vm->kvm.max_vcpus);
	if ((r = cpuid_probe_start(vm, e)))
		return r;
	vm->vm_fd = ioctl(vm->kvm.fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0)
		return skiff_fail(e, errno, "KVM_CREATE_VM: %s", strerror(errno));
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)X86_TSS_GPA) < 0)
		return skiff_fail(e, errno, "KVM_SET_TSS_ADDR: %s", strerror(errno));
	uint64_t idmap = X86_IDENTITY_MAP_GPA;
	if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0)
		return skiff_fail(e, errno, "KVM_SET_IDENTITY_MAP_ADDR: %s", strerror(errno));
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return skiff_fail(e, errno, "KVM_CREATE_IRQCHIP: %s", strerror(errno));
	r = setup_gsi_routing(vm);
	if (r)
		return skiff_fail(e, -r, "KVM_SET_GSI_ROUTING: %s", strerror(-r));
	if ((r = check_irq_caps(vm, e)))
		return r;
	/* The dummy speaker makes KVM serve port 0x61 (PIT gate/speaker). */
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return skiff_fail(e, errno, "KVM_CREATE_PIT2: %s", strerror(errno));
	return 0;
}

static int setup_memory(struct skiff_vm *vm, struct skiff_err *e)
{
	int r = gm_init(&vm->mem, vm->cfg.mem_mib << 20);
	if (r)
		return skiff_fail(e, -r, "cannot map %llu MiB of guest RAM",
				  (unsigned long long)vm->cfg.mem_mib);
	for (size_t i = 0; i < vm->mem.n; i++) {
		struct kvm_userspace_memory_region reg = {
			.slot = (uint32_t)i,
			.guest_phys_addr = vm->mem.r[i].gpa,
			.memory_size = vm->mem.r[i].size,
			.userspace_addr = (uint64_t)(uintptr_t)vm->mem.r[i].hva,
		};
		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &reg) < 0)
			return skiff_fail(e, errno, "KVM_SET_USER_MEMORY_REGION slot %zu: %s", i,
					  strerror(errno));
	}
	return 0;
}

static uint64_t ram_end(const struct guest_mem *gm)
{
	uint64_t end = 0;
	for (size_t i = 0; i < gm->n; i++)
		if (gm->r[i].gpa + gm->r[i].size > end)
			end = gm->r[i].gpa + gm->r[i].size;
	return end;
}

/* Kernel, initrd, ACPI, zero page and boot tables, in that order. */
static int load_guest(struct skiff_vm *vm, struct skiff_err *e)
{
	struct boot_kernel k;
	int r = boot_load_kernel(&vm->mem, vm->cfg.kernel_path, &k, e);
	if (r)
		return r;
	uint64_t initrd_gpa = 0, initrd_size = 0;
	if (vm->cfg.initrd_path) {
		r = boot_load_initrd(&vm->mem, vm->cfg.initrd_path, &k, &initrd_gpa, &initrd_size, e);
		if (r)
			return r;
	}
	struct acpi_params ap;
	acpi_params_default(&ap, vm->ncpus);
	ap.ioapic_id = 0;	/* KVM's in-kernel IOAPIC resets its ID register to 0 */
	ap.pci_mmio64_base = pci_mmio64_base(ram_end(&vm->mem));	/* as pci_bus_create */
	uint64_t rsdp = 0;
	r = acpi_build(&vm->mem, &ap, &rsdp, e);
	if (r)
		return r;
	r = boot_setup_zero_page(&vm->mem, &k, vm->cmdline, initrd_gpa, initrd_size, rsdp, e);
	if (r)
		return r;
	/* The ECAM window, so Linux trusts the MCFG table (PCI Firmware 3.2 §4.1.2). */
	r = boot_e820_reserve(&vm->mem, PCI_ECAM_BASE, PCI_ECAM_SIZE, e);
	if (r)
		return r;
	if (x86_write_boot_tables(&vm->mem))
		return skiff_fail(e, EFAULT, "guest RAM too small for the boot page tables");
	vm->entry = k.entry;
	vm->zero_page = BOOT_ZERO_PAGE_GPA;
	return 0;
}

static int build_cmdline(struct skiff_vm *vm, struct skiff_err *e)
{
	size_t cap = SKIFF_MAX_CMDLINE + 1;
	vm->cmdline = calloc(1, cap);
	if (!vm->cmdline)
		return skiff_fail(e, ENOMEM, "out of memory");
	snprintf(vm->cmdline, cap, "%s", vm->cfg.cmdline ? vm->cfg.cmdline : DEFAULT_CMDLINE);
	if (!vm->cfg.no_pvm_params && pvm_add_kernel_params(&vm->pvm, vm->cmdline, cap))
		return skiff_fail(e, E2BIG, "kernel command line plus the PVM host's parameters "
				  "exceeds %d bytes (use --no-pvm-params to leave them out)",
				  SKIFF_MAX_CMDLINE);
	return 0;
}

static int create_vcpus(struct skiff_vm *vm, struct skiff_err *e)
{
	int r = cpuid_probe_join(vm);
	if (r) {
		*e = vm->probe_err;
		return r;
	}
	vm->vcpus = calloc(vm->ncpus, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return skiff_fail(e, ENOMEM, "out of memory");
	for (uint32_t i = 0; i < vm->ncpus; i++)
		vm->vcpus[i].fd = -1;
	for (uint32_t i = 0; i < vm->ncpus; i++) {
		r = vcpu_create(vm, &vm->vcpus[i], i, e);
		if (r)
			return r;
	}
	/* Only the BSP starts at the kernel entry; KVM holds the APs in
	 * wait-for-SIPI until the guest starts them (Intel MP spec §B.4). */
	r = x86_set_boot_regs(vm->vcpus[0].fd, vm->entry, vm->zero_page);
	if (r)
		return skiff_fail(e, -r, "setting the boot CPU's registers: %s", strerror(-r));
	return 0;
}

/* PCI bus 0 after the platform devices (it takes over their 0xCF9 range),
 * then the virtio devices on it. */
static int create_pci(struct skiff_vm *vm, struct skiff_err *e)
{
	int r = pci_bus_create(&vm->host, &vm->pio, &vm->mmio, &vm->pci, e);
	if (r)
		return r;
	return vm_virtio_create(vm, e);
}

int skiff_vm_create(const struct skiff_config *c, struct skiff_vm **out, struct skiff_err *e)
{
	*out = NULL;
	int r = validate_config(c, e);
	if (r)
		return r;
	struct skiff_vm *vm = calloc(1, sizeof(*vm));
	if (!vm)
		return skiff_fail(e, ENOMEM, "out of memory");
	vm->cfg = *c;
	vm->vm_fd = -1;
	vm->kvm.fd = -1;
	vm->ncpus = c->cpus;
	vm->log.level = c->log_level;
	vm->log.out = c->log_out;
	vm->log.sink = c->log_sink;
	vm->metrics_tfd = -1;
	pthread_mutex_init(&vm->metrics_lock, NULL);
	vm->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	pthread_mutex_init(&vm->stop_lock, NULL);
	int pr = vm_pause_init(vm);
	pthread_mutex_init(&vm->irq.lock, NULL);
	vm->console.enabled = c->console_escape;
	bus_init(&vm->pio, 0x10000);
	bus_init(&vm->mmio, 0);
	vm->host = (struct dev_host){
		.ctx = vm,
		.set_irq = host_set_irq,
		.request_stop = host_request_stop,
		.log = &vm->log,
		.start_ns = c->start_ns ? c->start_ns : now_ns(),
		.mem = &vm->mem,
		.msi_alloc = host_msi_alloc,
		.msi_route = host_msi_route,
		.msi_free = host_msi_free,
		.irqfd = host_irqfd,
		.ioeventfd = host_ioeventfd,
		.signal_msi = host_signal_msi,
	};
	if (vm->stop_efd < 0 || pr < 0) {
		r = skiff_fail(e, errno, "eventfd: %s", strerror(errno));
		goto fail;
	}
	if ((r = vcpu_install_kick_signal()) < 0) {
		skiff_fail(e, -r, "sigaction: %s", strerror(-r));
		goto fail;
	}
	pvm_detect(&vm->pvm, NULL);
	if ((r = build_cmdline(vm, e)) || (r = create_kvm_vm(vm, e)))
		goto fail;
	if (vm->pvm.active) {
		int khz = ioctl(vm->vm_fd, KVM_GET_TSC_KHZ, 0);
		vm->pvm.tsc_khz = khz > 0 ? (uint32_t)khz : 0;
		/* lpj depends on the TSC rate: rebuild the parameters now. */
		free(vm->cmdline);
		vm->cmdline = NULL;
		if ((r = build_cmdline(vm, e)))
			goto fail;
		skiff_log(&vm->log, LOG_INFO, "KVM PVM host: work-arounds active (docs/pvm.md)");
	}
	uint64_t t_kvm = now_ns();
	if ((r = setup_memory(vm, e)) || (r = load_guest(vm, e)))
		goto fail;
	uint64_t t_load = now_ns();
	if ((r = evloop_create(&vm->loop, e)))
		goto fail;
	vm->host.loop = vm->loop;
	if ((r = vm_devices_create(vm, e)) || (r = create_pci(vm, e)) || (r = create_vcpus(vm, e)) ||
	    (r = vm_metrics_timer_start(vm, e)))
		goto fail;
	uint64_t t_vcpus = now_ns();
	skiff_log(&vm->log, LOG_DEBUG, "kernel command line: %s", vm->cmdline);
	skiff_log(&vm->log, LOG_DEBUG, "set-up: %llu us to KVM VM, %llu us memory and images, "
		  "%llu us devices and vCPUs", (unsigned long long)(t_kvm - vm->host.start_ns) / 1000,
		  (unsigned long long)(t_load - t_kvm) / 1000, (unsigned long long)(t_vcpus - t_load) / 1000);
	*out = vm;
	return 0;
fail:
	skiff_vm_destroy(vm);
	return r;
}

/* Serve console input on the calling thread until the VM stops. Input the
 * guest cannot take yet waits in `pending` (no busy loop: the UART signals
 * space through an eventfd). */
static void serve_console(struct skiff_vm *vm)
{
	uint8_t pending[256];
	size_t npend = 0, off = 0;
	bool in_open = vm->cfg.console_in >= 0;
	int space_fd = vm_devices_console_space_fd(vm);
	while (atomic_load(&vm->stop_reason) == VM_STOP_NONE) {
		/* While paused the guest gets no input: it waits here. */
		bool paused = atomic_load(&vm->pause.requested);
		struct pollfd p[5] = {
			{ .fd = vm->stop_efd, .events = POLLIN },
			{ .fd = (in_open && npend == 0 && !paused) ? vm->cfg.console_in : -1,
			  .events = POLLIN },
			{ .fd = (npend && !paused) ? space_fd : -1, .events = POLLIN },
			{ .fd = vm->cfg.stop_signal_fd, .events = POLLIN },
			{ .fd = vm->pause.wake_efd, .events = POLLIN },
		};
		if (poll(p, 5, -1) < 0) {
			if (errno == EINTR)
				continue;
			vm_stop_error(vm, "poll: %s", strerror(errno));
			break;
		}
		if (p[0].revents)
			break;
		if (p[3].revents) {
			struct signalfd_siginfo si;
			if (read(vm->cfg.stop_signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				vm_request_stop(vm, VM_STOP_SIGNAL, (int)si.ssi_signo);
				break;
			}
		}
		if (p[4].revents) {
			uint64_t v;
			if (read(vm->pause.wake_efd, &v, sizeof(v)) < 0) {
				/* raced with another reader: nothing to do */
			}
			continue;	/* paused or resumed: look again */
		}
		if (p[2].revents) {
			uint64_t v;
			if (read(space_fd, &v, sizeof(v)) < 0) {
				/* spurious wake-up; retry below */
			}
		}
		if (p[1].revents) {
			/* One byte short: the escape filter may expand by one. */
			ssize_t n = read(vm->cfg.console_in, pending, sizeof(pending) - 1);
			if (n <= 0) {
				if (n < 0 && (errno == EINTR || errno == EAGAIN))
					continue;
				in_open = false;	/* EOF: the guest keeps running */
				continue;
			}
			bool quit = false;
			npend = console_escape_filter(&vm->console, pending, (size_t)n, &quit);
			off = 0;
			if (quit) {
				vm_request_stop(vm, VM_STOP_QUIT, 0);
				break;
			}
		}
		if (npend) {
			size_t took = vm_devices_console_input(vm, pending + off, npend);
			off += took;
			npend -= took;
		}
	}
}

int skiff_vm_run(struct skiff_vm *vm, struct skiff_result *res)
{
	memset(res, 0, sizeof(*res));
	if (vm->ran) {
		res->reason = VM_STOP_ERROR;
		snprintf(res->msg, sizeof(res->msg), "a VM can only run once");
		return -EALREADY;
	}
	vm->ran = true;
	int r = evloop_start(vm->loop);
	if (r)
		vm_stop_error(vm, "cannot start the I/O thread: %s", strerror(-r));
	for (uint32_t i = 0; i < vm->ncpus && !r; i++) {
		r = vcpu_start(&vm->vcpus[i]);
		if (r) {
			vm_stop_error(vm, "cannot start the thread of vCPU %u: %s", i, strerror(-r));
			break;
		}
	}
	if (!r)
		serve_console(vm);
	for (uint32_t i = 0; i < vm->ncpus; i++) {
		vcpu_kick(&vm->vcpus[i]);
		if (vm->vcpus[i].thread_started)
			pthread_join(vm->vcpus[i].thread, NULL);
		pthread_mutex_lock(&vm->pause.lock);
		vm->vcpus[i].thread_started = false;
		pthread_mutex_unlock(&vm->pause.lock);
	}
	/* The last metrics while the I/O thread still serves the devices'
	 * counter snapshots; the periodic timer cannot fire after this. */
	if (vm->cfg.metrics_fn)
		vm->cfg.metrics_fn(vm->cfg.metrics_ctx, vm, true);
	evloop_stop(vm->loop);
	res->reason = atomic_load(&vm->stop_reason);
	res->code = vm->stop_code;
	snprintf(res->msg, sizeof(res->msg), "%s", vm->stop_msg);
	uint64_t unhandled = vm->pio.unhandled + vm->mmio.unhandled;
	if (unhandled)
		skiff_log(&vm->log, LOG_DEBUG, "%llu accesses hit no device",
			  (unsigned long long)unhandled);
	return r;
}

void skiff_vm_destroy(struct skiff_vm *vm)
{
	if (!vm)
		return;
	cpuid_probe_join(vm);
	if (vm->vcpus) {
		for (uint32_t i = 0; i < vm->ncpus; i++) {
			if (vm->vcpus[i].thread_started) {
				vm_request_stop(vm, VM_STOP_QUIT, 0);
				vcpu_kick(&vm->vcpus[i]);
				pthread_join(vm->vcpus[i].thread, NULL);
			}
			if (vm->vcpus[i].vm)
				vcpu_destroy(&vm->vcpus[i]);
		}
		free(vm->vcpus);
	}
	vm_metrics_timer_stop(vm);
	if (vm->pci)
		vm_virtio_destroy(vm);
	pci_bus_destroy(vm->pci);
	evloop_destroy(vm->loop);
	vm_devices_destroy(vm);
	bus_destroy(&vm->pio);
	bus_destroy(&vm->mmio);
	gm_destroy(&vm->mem);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	kvm_sys_close(&vm->kvm);
	if (vm->stop_efd >= 0)
		close(vm->stop_efd);
	free(vm->cpuid);
	free(vm->cmdline);
	pthread_mutex_destroy(&vm->stop_lock);
	pthread_mutex_destroy(&vm->irq.lock);
	pthread_mutex_destroy(&vm->metrics_lock);
	vm_pause_destroy(vm);
	free(vm);
}

int skiff_exit_status(const struct skiff_result *res)
{
	switch (res->reason) {
	case VM_STOP_POWEROFF:
	case VM_STOP_QUIT:
	case VM_STOP_HOST:
		return SKIFF_EXIT_OK;
	case VM_STOP_RESET:
		return SKIFF_EXIT_RESET;
	case VM_STOP_TRIPLE_FAULT:
		return SKIFF_EXIT_TRIPLE_FAULT;
	case VM_STOP_DEBUG_EXIT:
		return res->code & 0xff;
	case VM_STOP_SIGNAL:
		return 128 + (res->code & 0x7f);
	default:
		return SKIFF_EXIT_ERROR;
	}
}
