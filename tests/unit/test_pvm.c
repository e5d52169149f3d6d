/* The PVM layer is inert unless detected, and its kernel parameters are
 * added once, never over the user's own. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>
#include "arch/pvm.h"

static void test_detect(void **state)
{
	(void)state;
	struct pvm p;
	pvm_detect(&p, "/nonexistent/kvm_pvm");
	assert_false(p.active);
	pvm_detect(&p, "/");	/* any existing directory stands for the module */
	assert_true(p.active);
}

static void test_inactive_is_inert(void **state)
{
	(void)state;
	struct pvm p;
	pvm_detect(&p, "/nonexistent/kvm_pvm");
	char cmd[64] = "console=ttyS0";
	assert_int_equal(pvm_add_kernel_params(&p, cmd, sizeof(cmd)), 0);
	assert_string_equal(cmd, "console=ttyS0");
	assert_int_equal(pvm_probe_cpuid(&p, -1, NULL, NULL), 0);
	struct kvm_run run;
	memset(&run, 0, sizeof(run));
	run.exit_reason = KVM_EXIT_INTERNAL_ERROR;
	run.internal.suberror = KVM_INTERNAL_ERROR_EMULATION;
	char why[128];
	assert_false(pvm_handle_internal_error(&p, -1, &run, NULL, why, sizeof(why)));
}

static void test_params_added_once(void **state)
{
	(void)state;
	struct pvm p;
	pvm_detect(&p, "/");
	p.tsc_khz = 2000000;
	char cmd[1024] = "console=ttyS0 lpj=1234 nokaslr";
	assert_int_equal(pvm_add_kernel_params(&p, cmd, sizeof(cmd)), 0);
	assert_non_null(strstr(cmd, "cryptomgr.notests=1"));
	assert_non_null(strstr(cmd, "noxsave"));
	assert_non_null(strstr(cmd, "clearcpuid="));
	assert_non_null(strstr(cmd, "GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX,"));
	/* the user's lpj and nokaslr stay, once */
	assert_non_null(strstr(cmd, "lpj=1234"));
	assert_null(strstr(strstr(cmd, "lpj=") + 1, "lpj="));
	assert_null(strstr(strstr(cmd, "nokaslr") + 1, "nokaslr"));
	/* applying twice changes nothing */
	char again[1024];
	strcpy(again, cmd);
	assert_int_equal(pvm_add_kernel_params(&p, again, sizeof(again)), 0);
	assert_string_equal(again, cmd);
}

static void test_params_no_lpj(void **state)
{
	(void)state;
	struct pvm p;
	pvm_detect(&p, "/");
	p.tsc_khz = 2000000;
	/* lpj= depends on the guest kernel's HZ, which skiff cannot know: the
	 * kernel derives it from the TSC rate itself. */
	char cmd[1024] = "";
	assert_int_equal(pvm_add_kernel_params(&p, cmd, sizeof(cmd)), 0);
	assert_null(strstr(cmd, "lpj="));
	assert_true(cmd[0] != ' ');
}

static void test_params_too_long(void **state)
{
	(void)state;
	struct pvm p;
	pvm_detect(&p, "/");
	char cmd[40] = "console=ttyS0";
	assert_int_equal(pvm_add_kernel_params(&p, cmd, sizeof(cmd)), -ENAMETOOLONG);
	assert_true(strlen(cmd) < sizeof(cmd));
}

static void test_hypercall_features_hidden(void **state)
{
	(void)state;
	union {	/* kvm_cpuid2 ends in a flexible array */
		struct kvm_cpuid2 hdr;
		uint8_t bytes[sizeof(struct kvm_cpuid2) + 2 * sizeof(struct kvm_cpuid_entry2)];
	} c;
	memset(&c, 0, sizeof(c));
	c.hdr.nent = 2;
	c.hdr.entries[0].function = 0x40000001;
	c.hdr.entries[0].eax = 0x01007efb;	/* what KVM offers on the dev host */
	c.hdr.entries[1].function = 0x1;
	c.hdr.entries[1].eax = 0xffffffff;
	struct pvm p;
	pvm_detect(&p, "/nonexistent/kvm_pvm");
	pvm_hide_hypercall_features(&p, &c.hdr);
	assert_int_equal(c.hdr.entries[0].eax, 0x01007efb);	/* inert on hardware KVM */
	pvm_detect(&p, "/");
	pvm_hide_hypercall_features(&p, &c.hdr);
	assert_int_equal(c.hdr.entries[0].eax, 0x01007efb & ~((1u << 7) | (1u << 11) | (1u << 13)));
	assert_int_equal(c.hdr.entries[1].eax, 0xffffffff);	/* other leaves untouched */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_detect),
		cmocka_unit_test(test_inactive_is_inert),
		cmocka_unit_test(test_params_added_once),
		cmocka_unit_test(test_params_no_lpj),
		cmocka_unit_test(test_params_too_long),
		cmocka_unit_test(test_hypercall_features_hidden),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
