/* In-process VM tests through the library API: several VMs in one process,
 * real KVM, a tiny ELF guest generated here; and the errors users see. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include "unit/guest_elf.h"
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/vm.h"

#define GUEST_GPA TEST_GUEST_GPA


static bool have_kvm(void)
{
	return access("/dev/kvm", R_OK | W_OK) == 0;
}

/* mov $v, %al; out %al, $0xf4 */
static void exit_guest(char *path, size_t cap, uint8_t v)
{
	const uint8_t code[] = { 0xb0, v, 0xe6, 0xf4 };
	snprintf(path, cap, "/tmp/skiff-test-vm-%d-%u.elf", getpid(), v);
	write_guest_elf(path, code, sizeof(code));
}

static void config_for(struct skiff_config *c, const char *kernel)
{
	skiff_config_default(c);
	c->kernel_path = kernel;
	c->mem_mib = 32;
	c->console_in = -1;
	c->console_out = -1;
	c->log_level = LOG_ERROR;
}

/* Run the guest image `img` (loaded at GUEST_GPA) and return its result. */
static void run_image(const uint8_t *img, size_t len, struct skiff_result *res)
{
	char path[128];
	snprintf(path, sizeof(path), "/tmp/skiff-test-img-%d.elf", getpid());
	write_guest_elf(path, img, len);
	struct skiff_config c;
	config_for(&c, path);
	struct skiff_err e = { { 0 } };
	struct skiff_vm *vm;
	assert_int_equal(skiff_vm_create(&c, &vm, &e), 0);
	assert_int_equal(skiff_vm_run(vm, res), 0);
	skiff_vm_destroy(vm);
	unlink(path);
}

/* fwait at CPL0 then exit 42: on PVM the host's emulator fails on fwait and
 * the PVM layer skips it; on hardware KVM it simply executes. */
static void test_guest_fwait(void **state)
{
	(void)state;
	if (!have_kvm())
		skip();
	const uint8_t code[] = { 0x9b, 0xb0, 42, 0xe6, 0xf4 };
	struct skiff_result res;
	run_image(code, sizeof(code), &res);
	assert_int_equal(res.reason, VM_STOP_DEBUG_EXIT);
	assert_int_equal(res.code, 42);
}

/* int3 at CPL0 with an IDT whose vector 3 exits 43: the #BP must reach the
 * guest's handler (on PVM through the PVM layer's injection). Falling
 * through instead exits 99. */
static void test_guest_int3_reaches_handler(void **state)
{
	(void)state;
	if (!have_kvm())
		skip();
	uint8_t img[0x300] = { 0 };
	const uint64_t idtr = GUEST_GPA + 0x100, idt = GUEST_GPA + 0x200, handler = GUEST_GPA + 0x80;
	uint8_t *p = img;
	*p++ = 0x48, *p++ = 0xb8;			/* mov $idtr, %rax */
	memcpy(p, &idtr, 8), p += 8;
	*p++ = 0x0f, *p++ = 0x01, *p++ = 0x18;		/* lidt (%rax) */
	*p++ = 0xcc;					/* int3 */
	*p++ = 0xb0, *p++ = 99, *p++ = 0xe6, *p++ = 0xf4;	/* exit 99 */
	const uint8_t h[] = { 0xb0, 43, 0xe6, 0xf4 };	/* handler: exit 43 */
	memcpy(img + 0x80, h, sizeof(h));
	const uint16_t limit = 16 * 4 - 1;
	memcpy(img + 0x100, &limit, 2);
	memcpy(img + 0x102, &idt, 8);
	uint8_t *g = img + 0x200 + 16 * 3;		/* 64-bit interrupt gate, vector 3 */
	g[0] = handler & 0xff, g[1] = (handler >> 8) & 0xff;
	g[2] = 0x10, g[3] = 0;				/* CS = boot code selector */
	g[4] = 0, g[5] = 0x8e;				/* P, DPL0, interrupt gate */
	g[6] = (handler >> 16) & 0xff, g[7] = (handler >> 24) & 0xff;
	struct skiff_result res;
	run_image(img, sizeof(img), &res);
	assert_int_equal(res.reason, VM_STOP_DEBUG_EXIT);
	assert_int_equal(res.code, 43);
}

struct runner {
	struct skiff_vm *vm;
	struct skiff_result res;
};

static void *run_thread(void *arg)
{
	struct runner *r = arg;
	skiff_vm_run(r->vm, &r->res);
	return NULL;
}

/* Two VMs live and run at once in one process and each reports its own code. */
static void test_two_vms_in_one_process(void **state)
{
	(void)state;
	if (!have_kvm())
		skip();
	char p1[128], p2[128];
	exit_guest(p1, sizeof(p1), 17);
	exit_guest(p2, sizeof(p2), 99);
	struct skiff_config c1, c2;
	config_for(&c1, p1);
	config_for(&c2, p2);
	c2.cpus = 2;
	struct skiff_err e = { { 0 } };
	struct runner r1 = { 0 }, r2 = { 0 };
	assert_int_equal(skiff_vm_create(&c1, &r1.vm, &e), 0);
	assert_int_equal(skiff_vm_create(&c2, &r2.vm, &e), 0);
	pthread_t t1, t2;
	pthread_create(&t1, NULL, run_thread, &r1);
	pthread_create(&t2, NULL, run_thread, &r2);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	assert_int_equal(r1.res.reason, VM_STOP_DEBUG_EXIT);
	assert_int_equal(r1.res.code, 17);
	assert_int_equal(r2.res.reason, VM_STOP_DEBUG_EXIT);
	assert_int_equal(r2.res.code, 99);
	assert_int_equal(skiff_exit_status(&r2.res), 99);
	skiff_vm_destroy(r1.vm);
	skiff_vm_destroy(r2.vm);
	unlink(p1);
	unlink(p2);
}

/* Mappings a VM owns: guest RAM (exactly `ram` bytes, anonymous) and KVM's
 * vCPU run pages and other anon-inode mappings. Counting all of
 * /proc/self/maps is unreliable under ASan, whose allocator maps regions of
 * its own as freed memory sits in quarantine. */
static int count_vm_maps(uint64_t ram)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int n = 0;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long lo, hi;
		if (sscanf(line, "%llx-%llx", &lo, &hi) == 2 && hi - lo == ram)
			n++;
		else if (strstr(line, "anon_inode:kvm"))
			n++;
	}
	fclose(f);
	return n;
}

static int count_threads(void)
{
	char line[256];
	int n = -1;
	FILE *f = fopen("/proc/self/status", "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	if (f)
		fclose(f);
	return n;
}

/* Creating, running and destroying VMs leaks no fds, threads or mappings. */
static void test_teardown_releases_fds(void **state)
{
	(void)state;
	if (!have_kvm())
		skip();
	char p[128];
	exit_guest(p, sizeof(p), 5);
	int before = dup(0);
	close(before);
	int maps_before = count_vm_maps(32ULL << 20), threads_before = count_threads();
	for (int i = 0; i < 5; i++) {
		struct skiff_config c;
		config_for(&c, p);
		c.cpus = 2;
		struct skiff_err e = { { 0 } };
		struct skiff_vm *vm;
		assert_int_equal(skiff_vm_create(&c, &vm, &e), 0);
		/* the count sees a live VM's RAM and vCPU mappings */
		assert_true(count_vm_maps(32ULL << 20) >= maps_before + 3);
		struct skiff_result res;
		assert_int_equal(skiff_vm_run(vm, &res), 0);
		assert_int_equal(res.code, 5);
		skiff_vm_destroy(vm);
	}
	int after = dup(0);
	close(after);
	assert_int_equal(before, after);
	assert_int_equal(count_threads(), threads_before);
	assert_int_equal(count_vm_maps(32ULL << 20), maps_before);
	unlink(p);
}

static void expect_create_error(struct skiff_config *c, int err, const char *word)
{
	struct skiff_err e = { { 0 } };
	struct skiff_vm *vm = NULL;
	int r = skiff_vm_create(c, &vm, &e);
	assert_int_equal(r, -err);
	assert_null(vm);
	if (!strstr(e.msg, word))
		fail_msg("message '%s' does not mention '%s'", e.msg, word);
}

static void test_config_errors(void **state)
{
	(void)state;
	struct skiff_config c;
	config_for(&c, "/nonexistent/kernel");
	c.cpus = 0;
	expect_create_error(&c, EINVAL, "vCPU");
	c.cpus = 1;
	c.mem_mib = 1;
	expect_create_error(&c, EINVAL, "too small");
	c.mem_mib = 32;
	char big[5000];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	c.cmdline = big;
	expect_create_error(&c, E2BIG, "command line");
}

static void test_kvm_errors(void **state)
{
	(void)state;
	struct skiff_config c;
	config_for(&c, "/nonexistent/kernel");
	c.kvm_path = "/nonexistent/kvm";
	expect_create_error(&c, ENOENT, "/nonexistent/kvm");
	c.kvm_path = "/dev/null";	/* opens, but is not KVM */
	expect_create_error(&c, EPROTO, "API version");
}

static void test_missing_kernel(void **state)
{
	(void)state;
	if (!have_kvm())
		skip();
	struct skiff_config c;
	config_for(&c, "/nonexistent/kernel");
	expect_create_error(&c, ENOENT, "/nonexistent/kernel");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_vms_in_one_process),
		cmocka_unit_test(test_teardown_releases_fds),
		cmocka_unit_test(test_guest_fwait),
		cmocka_unit_test(test_guest_int3_reaches_handler),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_kvm_errors),
		cmocka_unit_test(test_missing_kernel),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
