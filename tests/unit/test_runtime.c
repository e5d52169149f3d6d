/* The runtime directory (src/host/runtime.h): id validation, the choice of
 * directory, atomic entry writes and strict reads, stale detection by pid
 * and by start time, the limits file and the limit check, admission (id
 * clash, limits, stale entries removed). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "host/runtime.h"

static char dir[64];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/skiff-rt-test.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* An entry for this process (alive). */
static void self_entry(struct rt_entry *en, const char *id, uint64_t mem)
{
	memset(en, 0, sizeof(*en));
	snprintf(en->id, sizeof(en->id), "%s", id);
	en->pid = getpid();
	assert_int_equal(rt_proc_start_time(en->pid, &en->start_time), 0);
	snprintf(en->sock, sizeof(en->sock), "%s/%s.sock", dir, id);
	en->vcpus = 1;
	en->mem_mib = mem;
	en->created = time(NULL);
	en->started = mem ? en->created : 0;
}

static void test_ids(void **state)
{
	assert_true(rt_id_valid("a"));
	assert_true(rt_id_valid("vm-1_B"));
	char id[RT_ID_MAX + 2];
	memset(id, 'x', sizeof(id));
	id[RT_ID_MAX] = 0;
	assert_true(rt_id_valid(id));
	id[RT_ID_MAX] = 'x';
	id[RT_ID_MAX + 1] = 0;
	assert_false(rt_id_valid(id));
	assert_false(rt_id_valid(""));
	assert_false(rt_id_valid("a.b"));
	assert_false(rt_id_valid("../x"));
	assert_false(rt_id_valid("a b"));
	assert_false(rt_id_valid("é"));
}

static void test_dir_choose(void **state)
{
	char out[RT_DIR_MAX];
	assert_int_equal(rt_dir_choose("/x/y", "/run/user/5", 5, out, sizeof(out)), 0);
	assert_string_equal(out, "/x/y");
	assert_int_equal(rt_dir_choose("", "/run/user/5", 5, out, sizeof(out)), 0);
	assert_string_equal(out, "/run/user/5/skiff");
	assert_int_equal(rt_dir_choose(NULL, "/run/user/0", 0, out, sizeof(out)), 0);
	assert_string_equal(out, "/run/skiff");
	assert_int_equal(rt_dir_choose(NULL, NULL, 1000, out, sizeof(out)), 0);
	assert_string_equal(out, "/tmp/skiff-1000");
	assert_int_equal(rt_dir_choose("/a/very/long/path", NULL, 1, out, 8), -ENAMETOOLONG);
}

static void test_dir_open(void **state)
{
	char sub[128], out[RT_DIR_MAX];
	struct skiff_err e = { { 0 } };
	snprintf(sub, sizeof(sub), "%s/rt", dir);
	setenv("SKIFF_RUNTIME_DIR", sub, 1);
	assert_int_equal(rt_dir_open(out, &e), 0);
	struct stat st;
	assert_int_equal(stat(sub, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	chmod(sub, 0755);
	assert_int_equal(rt_dir_open(out, &e), -EPERM);
	assert_non_null(strstr(e.msg, "lets others in"));
	chmod(sub, 0700);
	setenv("SKIFF_RUNTIME_DIR", "relative", 1);
	assert_int_equal(rt_dir_open(out, &e), -EINVAL);
	unsetenv("SKIFF_RUNTIME_DIR");
}

static void test_entry_roundtrip(void **state)
{
	struct rt_entry a, b;
	struct skiff_err e = { { 0 } };
	self_entry(&a, "vm1", 64);
	a.vcpus = 3;
	assert_int_equal(rt_entry_write(dir, &a, &e), 0);
	assert_int_equal(rt_entry_read(dir, "vm1", &b, &e), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	/* no temporary file is left behind */
	char tmp[128];
	snprintf(tmp, sizeof(tmp), "%s/.vm1.json.tmp.%d", dir, (int)getpid());
	assert_int_not_equal(access(tmp, F_OK), 0);
	/* rewrite replaces */
	a.mem_mib = 128;
	assert_int_equal(rt_entry_write(dir, &a, &e), 0);
	assert_int_equal(rt_entry_read(dir, "vm1", &b, &e), 0);
	assert_int_equal(b.mem_mib, 128);
	rt_entry_remove(dir, &a);
	assert_int_equal(rt_entry_read(dir, "vm1", &b, &e), -ENOENT);
	assert_int_equal(rt_entry_read(dir, "../etc", &b, &e), -EINVAL);
}

static void test_entry_strict(void **state)
{
	struct rt_entry en;
	struct skiff_err e = { { 0 } };
	const char *good = "{\"id\":\"a\",\"pid\":1,\"start_time\":2,\"socket\":\"/s\","
			   "\"vcpus\":1,\"mem_mib\":16,\"created\":3,\"started\":4}";
	assert_int_equal(rt_entry_parse(good, strlen(good), &en, &e), 0);
	assert_int_equal(en.start_time, 2);
	const char *bad[] = {
		"{\"id\":\"a\",\"pid\":1,\"start_time\":2,\"socket\":\"/s\",\"vcpus\":1,"
		"\"mem_mib\":16,\"created\":3,\"started\":4,\"x\":1}",		/* unknown */
		"{\"id\":\"a\",\"pid\":1,\"start_time\":2,\"socket\":\"/s\",\"vcpus\":1,"
		"\"mem_mib\":16,\"created\":3}",					/* missing */
		"{\"id\":\"a/b\",\"pid\":1,\"start_time\":2,\"socket\":\"/s\",\"vcpus\":1,"
		"\"mem_mib\":16,\"created\":3,\"started\":4}",			/* bad id */
		"{\"id\":\"a\",\"pid\":1,\"start_time\":2,\"socket\":\"s\",\"vcpus\":1,"
		"\"mem_mib\":16,\"created\":3,\"started\":4}",			/* relative */
		"{\"id\":\"a\",\"pid\":-1,\"start_time\":2,\"socket\":\"/s\",\"vcpus\":1,"
		"\"mem_mib\":16,\"created\":3,\"started\":4}",			/* negative */
		"{\"id\":\"a\"",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(rt_entry_parse(bad[i], strlen(bad[i]), &en, &e), -EINVAL);
}

static void test_liveness(void **state)
{
	struct rt_entry en;
	self_entry(&en, "me", 0);
	assert_int_equal(rt_entry_liveness(&en), RT_ALIVE);
	en.start_time++;	/* the pid now names another process */
	assert_int_equal(rt_entry_liveness(&en), RT_REUSED);
	pid_t child = fork();
	if (child == 0)
		_exit(0);
	assert_true(child > 0);
	uint64_t st;
	/* a zombie counts as dead, and so does a reaped child */
	for (int i = 0; i < 500 && rt_proc_start_time(child, &st) == 0; i++)
		usleep(2000);
	assert_int_equal(rt_proc_start_time(child, &st), -ESRCH);
	waitpid(child, NULL, 0);
	en.pid = child;
	assert_int_equal(rt_entry_liveness(&en), RT_DEAD);
}

static void test_limits_file(void **state)
{
	struct rt_limits l = { 0 }, r;
	struct skiff_err e = { { 0 } };
	assert_int_equal(rt_limits_read(dir, &r, &e), 0);	/* no file: none */
	assert_int_equal(r.max_vms, 0);
	l.max_vms = 4;
	l.max_mem_mib = 1000;
	assert_int_equal(rt_limits_write(dir, &l, &e), 0);
	assert_int_equal(rt_limits_read(dir, &r, &e), 0);
	assert_int_equal(r.max_vms, 4);
	assert_int_equal(r.max_mem_mib, 1000);
	memset(&l, 0, sizeof(l));
	assert_int_equal(rt_limits_write(dir, &l, &e), 0);	/* clear: removed */
	char path[128];
	snprintf(path, sizeof(path), "%s/.limits.json", dir);
	assert_int_not_equal(access(path, F_OK), 0);
	const char *bad[] = { "{\"max_vms\":-1}", "{\"max_vm\":1}", "{\"max_vms\":\"2\"}", "[]" };
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(rt_limits_parse(bad[i], strlen(bad[i]), &r, &e), -EINVAL);
	const char *partial = "{\"max_mem_mib\":512}";
	assert_int_equal(rt_limits_parse(partial, strlen(partial), &r, &e), 0);
	assert_int_equal(r.max_vms, 0);
	assert_int_equal(r.max_mem_mib, 512);
}

static void test_limits_check(void **state)
{
	struct rt_limits l = { .max_vms = 4, .max_mem_mib = 1000 };
	struct skiff_err e = { { 0 } };
	assert_int_equal(rt_limits_check(&l, 3, 500, 500, &e), 0);
	assert_int_equal(rt_limits_check(&l, 4, 0, 16, &e), -EDQUOT);
	assert_string_equal(e.msg, "host limit: 4 VMs running, --max-vms is 4 (skiff limits)");
	assert_int_equal(rt_limits_check(&l, 2, 600, 401, &e), -EDQUOT);
	assert_non_null(strstr(e.msg, "--max-mem-mib is 1000"));
	assert_int_equal(rt_limits_check(&l, 0, 0, 1001, &e), -EDQUOT);
	struct rt_limits none = { 0 };
	assert_int_equal(rt_limits_check(&none, 1000, UINT64_MAX - 1, 1, &e), 0);
}

static void test_admit(void **state)
{
	struct skiff_err e = { { 0 } };
	struct rt_entry mine, other, dead;
	self_entry(&mine, "mine", 256);
	/* a live VM of another process: this test's parent stands in for it */
	self_entry(&other, "other", 512);
	other.pid = getppid();
	assert_int_equal(rt_proc_start_time(other.pid, &other.start_time), 0);
	assert_int_equal(rt_entry_write(dir, &other, &e), 0);
	/* a dead VM holding the id we want next */
	self_entry(&dead, "mine", 4096);
	dead.start_time++;
	assert_int_equal(rt_entry_write(dir, &dead, &e), 0);

	int fd = rt_lock(dir, &e);
	assert_true(fd >= 0);
	assert_int_equal(rt_admit(dir, &mine, NULL, NULL, &e), 0);	/* stale one removed */
	struct rt_entry r;
	assert_int_equal(rt_entry_read(dir, "mine", &r, &e), -ENOENT);
	assert_int_equal(rt_entry_write(dir, &mine, &e), 0);
	/* our own entry again (InstanceStart after the pre-start entry) is fine */
	assert_int_equal(rt_admit(dir, &mine, NULL, NULL, &e), 0);

	struct rt_limits l = { .max_vms = 2 };
	assert_int_equal(rt_limits_write(dir, &l, &e), 0);
	struct rt_entry clash = other;
	clash.pid = getpid();
	clash.start_time = mine.start_time;
	assert_int_equal(rt_admit(dir, &clash, NULL, NULL, &e), -EEXIST);
	assert_non_null(strstr(e.msg, "`other` is in use"));
	/* a third process: "other" and "mine" run, limit 2 */
	struct rt_entry third = other;
	snprintf(third.id, sizeof(third.id), "third");
	third.pid = 1;
	rt_proc_start_time(1, &third.start_time);
	assert_int_equal(rt_admit(dir, &third, NULL, NULL, &e), -EDQUOT);
	assert_string_equal(e.msg, "host limit: 2 VMs running, --max-vms is 2 (skiff limits)");
	third.started = 0;	/* not started yet: only the id is checked */
	assert_int_equal(rt_admit(dir, &third, NULL, NULL, &e), 0);
	l.max_vms = 0;
	l.max_mem_mib = 1000;
	assert_int_equal(rt_limits_write(dir, &l, &e), 0);
	third.started = 1;
	third.mem_mib = 233;	/* 256 + 512 + 233 > 1000 */
	assert_int_equal(rt_admit(dir, &third, NULL, NULL, &e), -EDQUOT);
	third.mem_mib = 232;
	assert_int_equal(rt_admit(dir, &third, NULL, NULL, &e), 0);
	rt_unlock(fd);

	/* remove-if-same: a changed entry stays */
	struct rt_entry seen = mine;
	seen.created--;
	assert_int_equal(rt_remove_if_same(dir, &seen, &e), -ESTALE);
	assert_int_equal(rt_remove_if_same(dir, &mine, &e), 0);
	assert_int_equal(rt_entry_read(dir, "mine", &r, &e), -ENOENT);
	rt_entry_remove(dir, &other);
	memset(&l, 0, sizeof(l));
	rt_limits_write(dir, &l, &e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ids),
		cmocka_unit_test(test_dir_choose),
		cmocka_unit_test(test_dir_open),
		cmocka_unit_test(test_entry_roundtrip),
		cmocka_unit_test(test_entry_strict),
		cmocka_unit_test(test_liveness),
		cmocka_unit_test(test_limits_file),
		cmocka_unit_test(test_limits_check),
		cmocka_unit_test(test_admit),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
