/* PCI in a real VM: the VM's interrupt services (MSI routes, irqfds,
 * ioeventfds) on real KVM, and a tiny guest that finds the host bridge
 * through 0xCF8/0xCFC and ECAM and powers off. Skipped without /dev/kvm. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include "unit/guest_elf.h"
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include "boot/layout.h"
#include "core/vm_internal.h"
#include "pci/pci.h"

/* ---- the VM: interrupt services on real KVM, a guest on bus 0 ---- */

static bool have_kvm(void)
{
	return access("/dev/kvm", R_OK | W_OK) == 0;
}

#define GUEST_GPA TEST_GUEST_GPA

/* 64-bit, CPL0: the host bridge's ID through 0xCF8/0xCFC and through ECAM
 * (and its class code; slot 1 absent), then ACPI S5 through PM1a_CNT.
 * A failed check exits 0x51..0x54 through port 0xf4. */
static const uint8_t pci_guest[] = {
	0xb8, 0x00, 0x00, 0x00, 0x80,		/* mov $0x80000000, %eax */
	0x66, 0xba, 0xf8, 0x0c,			/* mov $0xcf8, %dx */
	0xef,					/* out %eax, (%dx) */
	0x66, 0xba, 0xfc, 0x0c,			/* mov $0xcfc, %dx */
	0xed,					/* in (%dx), %eax */
	0x3d, 0x86, 0x80, 0x57, 0x0d,		/* cmp $0x0d578086, %eax */
	0x75, 0x30,				/* jne fail1 */
	0xbb, 0x00, 0x00, 0x00, 0xe0,		/* mov $0xe0000000, %ebx */
	0x8b, 0x03,				/* mov (%rbx), %eax */
	0x3d, 0x86, 0x80, 0x57, 0x0d,		/* cmp $0x0d578086, %eax */
	0x75, 0x26,				/* jne fail2 */
	0x8b, 0x43, 0x08,			/* mov 8(%rbx), %eax */
	0x3d, 0x00, 0x00, 0x00, 0x06,		/* cmp $0x06000000, %eax */
	0x75, 0x20,				/* jne fail3 */
	0x8b, 0x83, 0x00, 0x80, 0x00, 0x00,	/* mov 0x8000(%rbx), %eax */
	0x83, 0xf8, 0xff,			/* cmp $-1, %eax */
	0x75, 0x19,				/* jne fail4 */
	0x66, 0xb8, 0x00, 0x34,			/* mov $0x3400, %ax: SLP_TYP 5, SLP_EN */
	0x66, 0xba, 0x04, 0x06,			/* mov $0x604, %dx */
	0x66, 0xef,				/* out %ax, (%dx) */
	0xf4, 0xeb, 0xfd,			/* 1: hlt; jmp 1b */
	0xb0, 0x51, 0xe6, 0xf4,			/* fail1: exit 0x51 */
	0xb0, 0x52, 0xe6, 0xf4,
	0xb0, 0x53, 0xe6, 0xf4,
	0xb0, 0x54, 0xe6, 0xf4,
};

static struct skiff_vm *make_vm(char *path, size_t cap)
{
	snprintf(path, cap, "/tmp/skiff-test-pci-%d.elf", getpid());
	write_guest_elf(path, pci_guest, sizeof(pci_guest));
	struct skiff_config c;
	skiff_config_default(&c);
	c.kernel_path = path;
	c.mem_mib = 32;
	c.console_in = -1;
	c.console_out = -1;
	c.log_level = LOG_ERROR;
	struct skiff_err e = { "" };
	struct skiff_vm *vm = NULL;
	int r = skiff_vm_create(&c, &vm, &e);
	if (r)
		fail_msg("skiff_vm_create: %s", e.msg);
	return vm;
}

static void test_vm_boots_with_pci(void **state)
{
	(void)state;
	if (!have_kvm())
		skip();
	char path[128];
	struct skiff_vm *vm = make_vm(path, sizeof(path));
	assert_non_null(vm->pci);
	assert_non_null(vm->loop);
	assert_ptr_equal(vm->host.loop, vm->loop);
	assert_ptr_equal(vm->host.mem, &vm->mem);
	struct skiff_result res;
	assert_int_equal(skiff_vm_run(vm, &res), 0);
	if (res.reason == VM_STOP_DEBUG_EXIT)
		fail_msg("guest check 0x%x failed", res.code);
	assert_int_equal(res.reason, VM_STOP_POWEROFF);
	skiff_vm_destroy(vm);
	unlink(path);
}

static void test_vm_irq_services(void **state)
{
	(void)state;
	if (!have_kvm())
		skip();
	char path[128];
	struct skiff_vm *vm = make_vm(path, sizeof(path));
	const struct dev_host *h = &vm->host;
	/* MSI GSIs: above the IOAPIC, distinct, routed, freed and reused. */
	int g1 = h->msi_alloc(h->ctx), g2 = h->msi_alloc(h->ctx);
	assert_true(g1 >= 24 && g2 >= 24 && g1 != g2);
	assert_int_equal(h->msi_route(h->ctx, (uint32_t)g1, 0xfee00000, 0x30), 0);
	assert_int_equal(h->msi_route(h->ctx, (uint32_t)g2, 0xfee00000, 0x31), 0);
	assert_int_equal(h->msi_route(h->ctx, (uint32_t)g1, 0xfee00000, 0x32), 0);
	assert_int_equal(h->msi_route(h->ctx, 5, 0xfee00000, 0x30), -EINVAL);	/* not MSI */
	assert_int_equal(h->msi_route(h->ctx, 100000, 0xfee00000, 0x30), -EINVAL);
	assert_int_equal(h->msi_route(h->ctx, (uint32_t)g2 + 1, 0xfee00000, 0x30), -EINVAL);
	/* irqfd on an MSI route, and a level-triggered one with resample on
	 * an INTx GSI; detach both. */
	int efd = eventfd(0, EFD_CLOEXEC), rfd = eventfd(0, EFD_CLOEXEC);
	assert_true(efd >= 0 && rfd >= 0);
	assert_int_equal(h->irqfd(h->ctx, efd, (uint32_t)g1, -1, true), 0);
	assert_int_equal(h->irqfd(h->ctx, efd, (uint32_t)g1, -1, false), 0);
	int r = h->irqfd(h->ctx, efd, 17, rfd, true);
	assert_true(r == 0 || r == -ENOTSUP);
	if (r == 0)
		assert_int_equal(h->irqfd(h->ctx, efd, 17, -1, false), 0);
	/* ioeventfd: MMIO in the 32-bit window and a port, attach and detach. */
	assert_int_equal(h->ioeventfd(h->ctx, efd, PCI_MMIO32_BASE + 0x3000, 4, true, true), 0);
	assert_int_equal(h->ioeventfd(h->ctx, efd, PCI_MMIO32_BASE + 0x3000, 4, true, false), 0);
	assert_int_equal(h->ioeventfd(h->ctx, efd, PCI_IO_BASE, 2, false, true), 0);
	assert_int_equal(h->ioeventfd(h->ctx, efd, PCI_IO_BASE, 2, false, false), 0);
	assert_int_equal(h->ioeventfd(h->ctx, efd, PCI_IO_BASE, 3, false, true), -EINVAL);
	/* One MSI now (the vCPU has not run; KVM queues it or drops it). */
	r = h->signal_msi(h->ctx, 0xfee00000, 0x30);
	assert_true(r == 0 || r == -ENOTSUP);
	h->msi_free(h->ctx, (uint32_t)g1);
	h->msi_free(h->ctx, (uint32_t)g1);		/* twice: harmless */
	assert_int_equal(h->msi_route(h->ctx, (uint32_t)g1, 0xfee00000, 0x30), -EINVAL);
	assert_int_equal(h->msi_alloc(h->ctx), g1);		/* reused */
	/* The GSIs run out with -ENOSPC. */
	int n = 0;
	while (h->msi_alloc(h->ctx) >= 0)
		n++;
	assert_int_equal(n, VM_MSI_GSIS - 2);
	assert_int_equal(h->msi_alloc(h->ctx), -ENOSPC);
	close(efd);
	close(rfd);
	skiff_vm_destroy(vm);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vm_boots_with_pci),
		cmocka_unit_test(test_vm_irq_services),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
