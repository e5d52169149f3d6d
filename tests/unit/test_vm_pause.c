/* Pause and resume through the library (skiff_vm_pause/resume): a tiny
 * guest increments a counter in its RAM in a tight loop; while paused the
 * counter must not move, after resume it must; stops while paused, guest
 * stops racing pauses, pausing before the VM runs, and the kvmclock. The
 * only timing assumptions: a running guest makes progress within seconds. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "core/vm.h"
#include "guest_elf.h"

#define COUNTER_GPA	0x300000ULL

/* mov $COUNTER_GPA, %ebx; 1: incq (%rbx); jmp 1b */
static const uint8_t COUNT_FOREVER[] = { 0xbb, 0x00, 0x00, 0x30, 0x00, 0x48, 0xff, 0x03,
					 0xeb, 0xfb };
/* mov $COUNTER_GPA, %ebx; mov $N, %ecx; 1: incq (%rbx); dec %ecx; jnz 1b;
 * mov $7, %al; out %al, $0xf4 (N patched in at offset 6) */
static const uint8_t COUNT_THEN_EXIT[] = { 0xbb, 0x00, 0x00, 0x30, 0x00, 0xb9, 0, 0, 0, 0,
					   0x48, 0xff, 0x03, 0xff, 0xc9, 0x75, 0xf9,
					   0xb0, 0x07, 0xe6, 0xf4 };

struct runner {
	struct skiff_vm *vm;
	struct skiff_result res;
	pthread_t t;
	char path[128];
};

static void *run_thread(void *arg)
{
	struct runner *r = arg;
	skiff_vm_run(r->vm, &r->res);
	return NULL;
}

/* Create (not run) a VM of `cpus` vCPUs from the guest code. */
static void create(struct runner *r, const uint8_t *code, size_t len, uint32_t cpus)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->path, sizeof(r->path), "/tmp/skiff-test-pause-%d.elf", getpid());
	write_guest_elf(r->path, code, len);
	struct skiff_config c;
	skiff_config_default(&c);
	c.kernel_path = r->path;
	c.mem_mib = 32;
	c.cpus = cpus;
	c.console_in = -1;
	c.console_out = -1;
	c.log_level = LOG_ERROR;
	struct skiff_err e = { { 0 } };
	assert_int_equal(skiff_vm_create(&c, &r->vm, &e), 0);
}

static void start(struct runner *r)
{
	assert_int_equal(pthread_create(&r->t, NULL, run_thread, r), 0);
}

static void finish(struct runner *r)
{
	pthread_join(r->t, NULL);
	skiff_vm_destroy(r->vm);
	unlink(r->path);
}

static uint64_t counter(struct runner *r)
{
	uint64_t v = 0;
	assert_int_equal(skiff_vm_read_mem(r->vm, COUNTER_GPA, &v, sizeof(v)), 0);
	return v;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* Wait (up to 30 s) for the counter to pass `above`. */
static uint64_t wait_progress(struct runner *r, uint64_t above)
{
	for (int i = 0; i < 3000; i++) {
		uint64_t v = counter(r);
		if (v > above)
			return v;
		sleep_ms(10);
	}
	fail_msg("the guest made no progress past %llu in 30 s", (unsigned long long)above);
	return 0;
}

static bool have_kvm(void)
{
	return access("/dev/kvm", R_OK | W_OK) == 0;
}

/* Paused: the counter stands still (checked over a while); resumed: it
 * goes on. 20 times in a row, with 2 vCPUs (one of them never started by
 * the guest, waiting for SIPI in KVM); pause and resume are idempotent. */
static void test_pause_resume_20_times(void **state)
{
	(void)state;
	if (!have_kvm())
		skip();
	struct runner r;
	create(&r, COUNT_FOREVER, sizeof(COUNT_FOREVER), 2);
	assert_int_equal(skiff_vm_state(r.vm), SKIFF_VM_CREATED);
	start(&r);
	uint64_t v = wait_progress(&r, 0);
	assert_int_equal(skiff_vm_state(r.vm), SKIFF_VM_RUNNING);
	for (int i = 0; i < 20; i++) {
		assert_int_equal(skiff_vm_pause(r.vm), 0);
		assert_int_equal(skiff_vm_pause(r.vm), 0);	/* idempotent */
		assert_int_equal(skiff_vm_state(r.vm), SKIFF_VM_PAUSED);
		uint64_t p1 = counter(&r);
		assert_true(p1 >= v);
		sleep_ms(i == 0 ? 300 : 20);
		uint64_t p2 = counter(&r);
		if (p1 != p2)
			fail_msg("round %d: the counter moved while paused: %llu -> %llu", i,
				 (unsigned long long)p1, (unsigned long long)p2);
		assert_int_equal(skiff_vm_resume(r.vm), 0);
		assert_int_equal(skiff_vm_resume(r.vm), 0);	/* idempotent */
		assert_int_equal(skiff_vm_state(r.vm), SKIFF_VM_RUNNING);
		v = wait_progress(&r, p2);
	}
	skiff_vm_request_stop(r.vm, VM_STOP_QUIT, 0);
	finish(&r);
	assert_int_equal(r.res.reason, VM_STOP_QUIT);
}

/* A stop requested while paused ends the VM without a resume; afterwards
 * pause and resume say the VM is gone. */
static void test_stop_while_paused(void **state)
{
	(void)state;
	if (!have_kvm())
		skip();
	struct runner r;
	create(&r, COUNT_FOREVER, sizeof(COUNT_FOREVER), 2);
	start(&r);
	wait_progress(&r, 0);
	assert_int_equal(skiff_vm_pause(r.vm), 0);
	skiff_vm_request_stop(r.vm, VM_STOP_SIGNAL, 15);
	pthread_join(r.t, NULL);
	assert_int_equal(r.res.reason, VM_STOP_SIGNAL);
	assert_int_equal(r.res.code, 15);
	assert_int_equal(skiff_vm_state(r.vm), SKIFF_VM_STOPPED);
	assert_int_equal(skiff_vm_resume(r.vm), -ESRCH);
	assert_int_equal(skiff_vm_pause(r.vm), -ESRCH);
	skiff_vm_destroy(r.vm);
	unlink(r.path);
}

/* A VM paused before it ever ran is destroyed cleanly (no threads). */
static void test_destroy_paused_unrun(void **state)
{
	(void)state;
	if (!have_kvm())
		skip();
	struct runner r;
	create(&r, COUNT_FOREVER, sizeof(COUNT_FOREVER), 2);
	assert_int_equal(skiff_vm_pause(r.vm), 0);
	assert_int_equal(skiff_vm_resume(r.vm), 0);
	assert_int_equal(skiff_vm_pause(r.vm), 0);
	skiff_vm_destroy(r.vm);
	unlink(r.path);
}

/* The guest stops by itself (debug exit 7) while pauses and resumes come
 * as fast as they can: every call returns 0 or -ESRCH, the result is the
 * guest's, nothing hangs. */
static void test_guest_stop_races_pause(void **state)
{
	(void)state;
	if (!have_kvm())
		skip();
	uint8_t code[sizeof(COUNT_THEN_EXIT)];
	memcpy(code, COUNT_THEN_EXIT, sizeof(code));
	const uint32_t n = 200000;
	memcpy(code + 6, &n, 4);
	struct runner r;
	create(&r, code, sizeof(code), 1);
	start(&r);
	int rounds = 0;
	while (skiff_vm_state(r.vm) != SKIFF_VM_STOPPED) {
		int p = skiff_vm_pause(r.vm);
		assert_true(p == 0 || p == -ESRCH);
		int q = skiff_vm_resume(r.vm);
		assert_true(q == 0 || q == -ESRCH);
		if (++rounds > 60000)
			fail_msg("the guest did not finish");
		sleep_ms(1);
	}
	pthread_join(r.t, NULL);
	assert_int_equal(r.res.reason, VM_STOP_DEBUG_EXIT);
	assert_int_equal(r.res.code, 7);
	/* Every increment happened exactly once across the pauses. */
	assert_int_equal(counter(&r), n);
	skiff_vm_destroy(r.vm);
	unlink(r.path);
}

/* Paused before skiff_vm_run: the vCPUs park as they start and the guest
 * runs nothing until resumed. */
static void test_pause_before_run(void **state)
{
	(void)state;
	if (!have_kvm())
		skip();
	struct runner r;
	create(&r, COUNT_FOREVER, sizeof(COUNT_FOREVER), 2);
	assert_int_equal(skiff_vm_pause(r.vm), 0);
	assert_int_equal(skiff_vm_state(r.vm), SKIFF_VM_PAUSED);
	start(&r);
	sleep_ms(300);
	assert_int_equal(counter(&r), 0);
	assert_int_equal(skiff_vm_resume(r.vm), 0);
	wait_progress(&r, 0);
	skiff_vm_request_stop(r.vm, VM_STOP_QUIT, 0);
	finish(&r);
	assert_int_equal(r.res.reason, VM_STOP_QUIT);
}

/* The guest's kvmclock does not advance by the paused time: paused for
 * 1 s, it has moved far less than that when resumed. */
static void test_kvmclock_skips_paused_time(void **state)
{
	(void)state;
	if (!have_kvm())
		skip();
	struct runner r;
	create(&r, COUNT_FOREVER, sizeof(COUNT_FOREVER), 1);
	start(&r);
	wait_progress(&r, 0);
	assert_int_equal(skiff_vm_pause(r.vm), 0);
	uint64_t c1, c2, c3;
	assert_int_equal(skiff_vm_guest_clock(r.vm, &c1), 0);
	sleep_ms(1000);
	assert_int_equal(skiff_vm_guest_clock(r.vm, &c2), 0);
	assert_true(c2 - c1 >= 900000000ULL);	/* it does run in the kernel meanwhile */
	assert_int_equal(skiff_vm_resume(r.vm), 0);
	assert_int_equal(skiff_vm_guest_clock(r.vm, &c3), 0);
	if (c3 - c1 >= 500000000ULL)
		fail_msg("the guest clock jumped by %llu ms over a 1000 ms pause",
			 (unsigned long long)(c3 - c1) / 1000000);
	skiff_vm_request_stop(r.vm, VM_STOP_QUIT, 0);
	finish(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pause_resume_20_times),
		cmocka_unit_test(test_stop_while_paused),
		cmocka_unit_test(test_destroy_paused_unrun),
		cmocka_unit_test(test_guest_stop_races_pause),
		cmocka_unit_test(test_pause_before_run),
		cmocka_unit_test(test_kvmclock_skips_paused_time),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
