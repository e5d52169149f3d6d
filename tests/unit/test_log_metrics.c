/* The Firecracker-style logger (core/log.h, core/outfile.h) and metrics
 * (core/metrics.h, api/api_metrics.h): line format, level and module
 * filters, FIFOs without a reader or full never block, bad paths, the
 * metrics JSON and its deltas; with KVM, exits by reason, vCPU time and
 * the periodic/final metrics hook on a running guest. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "api/api_metrics.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/outfile.h"
#include "core/vm.h"
#include "guest_elf.h"

static char tmpdir[64];

static int setup_dir(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/skiff-test-log-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_dir(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void path_in_tmp(char *buf, size_t cap, const char *name)
{
	snprintf(buf, cap, "%s/%s", tmpdir, name);
}

static struct skiff_log_sink *open_sink(const char *name, bool lvl, bool origin,
					const char *module)
{
	char p[128];
	path_in_tmp(p, sizeof(p), name);
	struct skiff_log_sink *s = NULL;
	struct skiff_err e = { { 0 } };
	assert_int_equal(skiff_log_sink_open(p, "logger.log_path", "vm-7", lvl, origin, module, &s,
					     &e), 0);
	return s;
}

/* Firecracker's shape: "YYYY-MM-DDTHH:MM:SS.NNNNNNNNN [id:thread(:LEVEL)(:file:line)] msg". */
static void test_format(void **state)
{
	struct timespec ts = { .tv_sec = 1704067200 + 3661, .tv_nsec = 123456789 };	/* 2024-01-01 01:01:01 UTC */
	struct skiff_log_sink *s = open_sink("fmt.log", false, false, NULL);
	char buf[SKIFF_LOG_LINE_MAX];
	size_t n = skiff_log_format(s, &ts, "main", LOG_INFO, "src/core/vm.c", 42, "hello", buf,
				    sizeof(buf));
	assert_string_equal(buf, "2024-01-01T01:01:01.123456789 [vm-7:main] hello\n");
	assert_int_equal(n, strlen(buf));
	s->show_level = true;
	skiff_log_format(s, &ts, "skiff-vcpu0", LOG_WARN, "src/core/vm.c", 42, "x", buf, sizeof(buf));
	assert_string_equal(buf, "2024-01-01T01:01:01.123456789 [vm-7:skiff-vcpu0:WARN] x\n");
	s->show_origin = true;
	skiff_log_format(s, &ts, "t", LOG_TRACE, "src/dev/rtc.c", 7, "y", buf, sizeof(buf));
	assert_string_equal(buf, "2024-01-01T01:01:01.123456789 [vm-7:t:TRACE:src/dev/rtc.c:7] y\n");
	s->show_level = false;
	ts.tv_nsec = 5;
	skiff_log_format(s, &ts, "t", LOG_ERROR, "a.c", 1, "z", buf, sizeof(buf));
	assert_string_equal(buf, "2024-01-01T01:01:01.000000005 [vm-7:t:a.c:1] z\n");
	/* A message longer than the buffer is cut, still one line. */
	char big[300];
	memset(big, 'm', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	char small[100];
	n = skiff_log_format(s, &ts, "t", LOG_ERROR, "a.c", 1, big, small, sizeof(small));
	assert_int_equal(n, sizeof(small) - 1);
	assert_int_equal(small[n - 1], '\n');
	assert_null(memchr(small, '\n', n - 1));
	skiff_log_sink_close(s);
}

static char *slurp(const char *name)
{
	char p[128];
	path_in_tmp(p, sizeof(p), name);
	FILE *f = fopen(p, "r");
	assert_non_null(f);
	static char buf[65536];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Levels, the module filter, real timestamps and thread names, appending. */
static void test_levels_and_module(void **state)
{
	struct skiff_log_sink *s = open_sink("lv.log", true, true, NULL);
	struct skiff_log l = { .level = LOG_WARN, .sink = s };
	pthread_setname_np(pthread_self(), "tester");
	skiff_log(&l, LOG_ERROR, "e %d", 1);
	skiff_log(&l, LOG_WARN, "w %d", 2);
	skiff_log(&l, LOG_INFO, "i %d", 3);
	skiff_log(&l, LOG_DEBUG, "d %d", 4);
	l.level = LOG_OFF;
	skiff_log(&l, LOG_ERROR, "off %d", 5);
	l.level = LOG_TRACE;
	skiff_log(&l, LOG_TRACE, "t %d", 6);
	const char *txt = slurp("lv.log");
	assert_non_null(strstr(txt, "[vm-7:tester:ERROR:tests/unit/test_log_metrics.c:"));
	assert_non_null(strstr(txt, "] e 1\n"));
	assert_non_null(strstr(txt, ":WARN:"));
	assert_non_null(strstr(txt, "] t 6\n"));
	assert_null(strstr(txt, "i 3"));
	assert_null(strstr(txt, "d 4"));
	assert_null(strstr(txt, "off 5"));
	assert_int_equal(atomic_load(&s->lines), 3);
	/* The timestamp is now (UTC), to the second or so. */
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	char year[16];
	snprintf(year, sizeof(year), "%04d-", (tm.tm_year + 1900) % 10000);
	assert_memory_equal(txt, year, 5);
	assert_int_equal(txt[10], 'T');
	assert_int_equal(txt[19], '.');
	assert_int_equal(txt[29], ' ');
	skiff_log_sink_close(s);

	/* module: only lines whose source path (without src/) starts with it. */
	s = open_sink("mod.log", false, false, "dev/");
	l = (struct skiff_log){ .level = LOG_INFO, .sink = s };
	skiff_log_at(&l, LOG_INFO, "src/dev/rtc.c", 1, "from dev");
	skiff_log_at(&l, LOG_INFO, "src/core/vm.c", 1, "from core");
	skiff_log_sink_close(s);
	txt = slurp("mod.log");
	assert_non_null(strstr(txt, "from dev"));
	assert_null(strstr(txt, "from core"));

	/* Re-opening appends; no sink keeps the old stderr format. */
	s = open_sink("lv.log", false, false, NULL);
	l = (struct skiff_log){ .level = LOG_INFO, .sink = s };
	skiff_log(&l, LOG_INFO, "again");
	skiff_log_sink_close(s);
	txt = slurp("lv.log");
	assert_non_null(strstr(txt, "] e 1\n"));
	assert_non_null(strstr(txt, "] again\n"));
	char p[128];
	path_in_tmp(p, sizeof(p), "plain.log");
	FILE *f = fopen(p, "w");
	l = (struct skiff_log){ .level = LOG_INFO, .out = f };
	skiff_log(&l, LOG_WARN, "old %s", "style");
	fclose(f);
	assert_string_equal(slurp("plain.log"), "skiff: warn: old style\n");
}

static void on_alarm(int sig)
{
	(void)sig;
	static const char m[] = "test_log_metrics: blocked on a FIFO\n";
	if (write(2, m, sizeof(m) - 1) < 0)
		_exit(3);
	_exit(2);
}

/* No reader: the open succeeds at once. Full: lines are dropped and
 * counted, nothing blocks, and what a reader finds are whole lines. */
static void test_fifo_never_blocks(void **state)
{
	char p[128];
	path_in_tmp(p, sizeof(p), "log.fifo");
	assert_int_equal(mkfifo(p, 0600), 0);
	signal(SIGALRM, on_alarm);
	alarm(20);
	struct skiff_log_sink *s = open_sink("log.fifo", true, false, NULL);
	struct skiff_log l = { .level = LOG_INFO, .sink = s };
	char msg[200];
	memset(msg, 'x', sizeof(msg) - 1);
	msg[sizeof(msg) - 1] = '\0';
	for (int i = 0; i < 2000; i++)	/* far more than a 64 KiB pipe holds */
		skiff_log(&l, LOG_INFO, "%04d %s", i, msg);
	assert_true(atomic_load(&s->dropped) > 0);
	assert_true(atomic_load(&s->lines) > 0);
	assert_int_equal(atomic_load(&s->lines) + atomic_load(&s->dropped), 2000);
	/* A reader sees only whole lines, in order. */
	int rfd = open(p, O_RDONLY | O_NONBLOCK);
	assert_true(rfd >= 0);
	static char buf[1 << 20];
	ssize_t n, got = 0;
	while ((n = read(rfd, buf + got, sizeof(buf) - (size_t)got)) > 0)
		got += n;
	assert_true(got > 0);
	uint64_t nl = 0;
	for (ssize_t i = 0; i < got; i++)
		nl += buf[i] == '\n';
	assert_int_equal(nl, atomic_load(&s->lines));
	assert_int_equal(buf[got - 1], '\n');
	assert_non_null(strstr(buf, ":INFO] 0000 xxx"));
	/* Drained: logging works again. */
	skiff_log(&l, LOG_INFO, "after");
	n = read(rfd, buf, sizeof(buf));
	assert_true(n > 0);
	assert_non_null(memmem(buf, (size_t)n, "] after\n", 8));
	close(rfd);

	/* A write bigger than PIPE_BUF into a pipe without room for it is
	 * dropped whole, never torn. */
	int fd = skiff_out_open(p, "metrics.metrics_path", NULL);
	assert_true(fd >= 0);
	static char big[3 * PIPE_BUF];
	memset(big, 'b', sizeof(big));
	int r, wrote = 0;
	while ((r = skiff_out_write(fd, big, sizeof(big))) == 0)
		wrote++;
	assert_int_equal(r, -EAGAIN);
	int avail = 0;
	rfd = open(p, O_RDONLY | O_NONBLOCK);
	assert_true(ioctl(rfd, FIONREAD, &avail) == 0);
	assert_int_equal(avail, wrote * (int)sizeof(big));
	close(rfd);
	close(fd);
	alarm(0);
	skiff_log_sink_close(s);
}

static void test_bad_paths(void **state)
{
	struct skiff_err e = { { 0 } };
	struct skiff_log_sink *s = NULL;
	assert_int_equal(skiff_log_sink_open(tmpdir, "logger.log_path", NULL, false, false, NULL,
					     &s, &e), -EISDIR);
	assert_non_null(strstr(e.msg, "logger.log_path"));
	assert_null(s);
	char p[128];
	path_in_tmp(p, sizeof(p), "no/such/dir");
	struct api_metrics *m = NULL;
	assert_int_equal(api_metrics_open(p, "metrics.metrics_path", &m, &e), -ENOENT);
	assert_non_null(strstr(e.msg, "metrics.metrics_path"));
	assert_non_null(strstr(e.msg, "no/such/dir"));
	assert_int_equal(api_metrics_open("", "metrics.metrics_path", &m, &e), -EINVAL);
	assert_null(m);
}

static json_int_t geti(json_t *o, const char *obj, const char *key)
{
	json_t *x = json_object_get(o, obj);
	assert_non_null(x);
	json_t *v = json_object_get(x, key);
	if (!v)
		fail_msg("no %s.%s", obj, key);
	assert_true(json_is_integer(v));
	return json_integer_value(v);
}

/* Field names, deltas against the baseline, aggregates, gauges. */
static void test_metrics_json(void **state)
{
	static struct skiff_metrics prev, cur;
	memset(&prev, 0, sizeof(prev));
	memset(&cur, 0, sizeof(cur));
	cur.utc_timestamp_ms = 1234;
	cur.exits[SKIFF_VMEXIT_IO_OUT] = 10;
	prev.exits[SKIFF_VMEXIT_IO_OUT] = 4;
	cur.exits[SKIFF_VMEXIT_MMIO_READ] = 3;
	cur.exits[SKIFF_VMEXIT_INTERNAL_ERROR] = 5;
	cur.exits[SKIFF_VMEXIT_EMUL_FIXUP] = 4;
	cur.nvcpus = prev.nvcpus = 2;
	cur.vcpu_time_ns[0] = 3000000;
	prev.vcpu_time_ns[0] = 1000000;
	cur.vcpu_time_ns[1] = 500000;
	cur.ndisks = prev.ndisks = 2;
	snprintf(cur.disks[0].id, sizeof(cur.disks[0].id), "rootfs");
	snprintf(cur.disks[1].id, sizeof(cur.disks[1].id), "data");
	cur.disks[0].read_bytes = 8192;
	prev.disks[0].read_bytes = 4096;
	cur.disks[0].reads = 2;
	cur.disks[1].read_bytes = 512;
	cur.disks[1].throttled = 3;
	cur.nnets = 1;
	cur.nets[0].tx_bytes = 60;
	cur.nets[0].rx_throttled = 2;
	cur.has_vsock = true;
	cur.vsock.conns_open = 2;
	prev.vsock.conns_open = 1;
	cur.vsock.rx_bytes = 9;
	cur.has_rng = true;
	cur.rng.bytes = 64;
	const char *ids[] = { "eth0" };
	json_t *o = api_metrics_json(&cur, &prev, ids, 1, 2);
	assert_non_null(o);
	assert_int_equal(json_integer_value(json_object_get(o, "utc_timestamp_ms")), 1234);
	assert_int_equal(geti(o, "vcpu", "exit_io_out"), 6);
	assert_int_equal(geti(o, "vcpu", "exit_mmio_read"), 3);
	assert_int_equal(geti(o, "vcpu", "exit_hlt"), 0);
	assert_int_equal(geti(o, "vcpu", "failures"), 1);
	assert_int_equal(geti(o, "vcpu", "cpu_time_us_total"), 2500);
	json_t *t = json_object_get(json_object_get(o, "vcpu"), "cpu_time_us");
	assert_int_equal(json_array_size(t), 2);
	assert_int_equal(json_integer_value(json_array_get(t, 0)), 2000);
	assert_int_equal(geti(o, "block_rootfs", "read_bytes"), 4096);
	assert_int_equal(geti(o, "block_rootfs", "read_count"), 2);
	assert_int_equal(geti(o, "block_data", "rate_limiter_throttled_events"), 3);
	assert_int_equal(geti(o, "block", "read_bytes"), 4096 + 512);
	assert_int_equal(geti(o, "net_eth0", "tx_bytes_count"), 60);
	assert_int_equal(geti(o, "net_eth0", "rx_rate_limiter_throttled"), 2);
	assert_int_equal(geti(o, "net", "tx_bytes_count"), 60);
	assert_int_equal(geti(o, "vsock", "conns_open"), 2);	/* a gauge: not a delta */
	assert_int_equal(geti(o, "vsock", "rx_bytes_count"), 9);
	assert_int_equal(geti(o, "entropy", "entropy_bytes"), 64);
	assert_int_equal(geti(o, "logger", "missed_log_count"), 1);
	assert_int_equal(geti(o, "logger", "missed_metrics_count"), 2);
	json_decref(o);
	/* No vsock, no rng: no such sections. */
	cur.has_vsock = cur.has_rng = false;
	o = api_metrics_json(&cur, &cur, NULL, 0, 0);
	assert_null(json_object_get(o, "vsock"));
	assert_null(json_object_get(o, "entropy"));
	assert_int_equal(geti(o, "block_rootfs", "read_bytes"), 0);
	assert_int_equal(geti(o, "net_net0", "tx_bytes_count"), 0);
	json_decref(o);
}

/* Flushing to a file: one JSON object per line; before a VM exists, the
 * timestamp and zeros. */
static void test_metrics_file(void **state)
{
	char p[128];
	path_in_tmp(p, sizeof(p), "metrics.json");
	struct api_metrics *m = NULL;
	struct skiff_err e = { { 0 } };
	assert_int_equal(api_metrics_open(p, "metrics.metrics_path", &m, &e), 0);
	assert_int_equal(api_metrics_flush(m, NULL, true), 0);
	assert_int_equal(api_metrics_flush(m, NULL, false), 0);
	api_metrics_destroy(m);
	FILE *f = fopen(p, "r");
	char line[8192];
	int n = 0;
	while (fgets(line, sizeof(line), f)) {
		json_error_t je;
		json_t *o = json_loads(line, 0, &je);
		assert_non_null(o);
		assert_true(json_integer_value(json_object_get(o, "utc_timestamp_ms")) >
			    1700000000000LL);
		assert_int_equal(geti(o, "vcpu", "exit_io_in"), 0);
		json_decref(o);
		n++;
	}
	fclose(f);
	assert_int_equal(n, 2);
}

/* --- with KVM: a guest doing 5 port writes, then spinning -------------- */

/* mov $5, %ecx; 1: out %al, $0x80; dec %ecx; jnz 1b; 2: jmp 2b */
static const uint8_t OUT5_SPIN[] = { 0xb9, 0x05, 0x00, 0x00, 0x00, 0xe6, 0x80, 0xff, 0xc9,
				     0x75, 0xfa, 0xeb, 0xfe };

struct hook {
	_Atomic int periodic, final;
	struct api_metrics *writer;
};

static void hook_fn(void *ctx, struct skiff_vm *vm, bool final)
{
	struct hook *h = ctx;
	static struct skiff_metrics snap;	/* one VM at a time in this test */
	skiff_vm_metrics(vm, &snap);	/* on the I/O thread: must not deadlock */
	api_metrics_vm_hook(h->writer, vm, final);
	atomic_fetch_add(final ? &h->final : &h->periodic, 1);
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

static void test_vm_exits_and_hook(void **state)
{
	if (access("/dev/kvm", R_OK | W_OK))
		skip();
	char elf[128], mp[128];
	path_in_tmp(elf, sizeof(elf), "out5.elf");
	path_in_tmp(mp, sizeof(mp), "vm-metrics.json");
	write_guest_elf(elf, OUT5_SPIN, sizeof(OUT5_SPIN));
	struct hook h = { 0 };
	struct skiff_err e = { { 0 } };
	assert_int_equal(api_metrics_open(mp, "m", &h.writer, &e), 0);
	struct skiff_config c;
	skiff_config_default(&c);
	c.kernel_path = elf;
	c.mem_mib = 32;
	c.console_in = c.console_out = -1;
	c.log_level = LOG_ERROR;
	c.metrics_fn = hook_fn;
	c.metrics_ctx = &h;
	c.metrics_period_ms = 20;
	struct runner r = { 0 };
	assert_int_equal(skiff_vm_create(&c, &r.vm, &e), 0);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, run_thread, &r), 0);
	static struct skiff_metrics s;
	for (int i = 0; i < 3000; i++) {	/* up to 30 s */
		skiff_vm_metrics(r.vm, &s);
		if (atomic_load(&h.periodic) >= 3 && s.exits[SKIFF_VMEXIT_IO_OUT] >= 5)
			break;
		usleep(10000);
	}
	assert_true(atomic_load(&h.periodic) >= 3);
	assert_int_equal(atomic_load(&h.final), 0);
	skiff_vm_request_stop(r.vm, VM_STOP_QUIT, 0);
	pthread_join(t, NULL);
	assert_int_equal(atomic_load(&h.final), 1);
	skiff_vm_metrics(r.vm, &s);	/* after the run: the final values */
	assert_int_equal(s.nvcpus, 1);
	assert_int_equal(s.exits[SKIFF_VMEXIT_IO_OUT], 5);
	assert_int_equal(s.exits[SKIFF_VMEXIT_IO_IN], 0);
	assert_true(s.vcpu_time_ns[0] > 0);
	assert_int_equal(s.ndisks, 0);
	uint64_t t1 = s.vcpu_time_ns[0];
	usleep(20000);
	skiff_vm_metrics(r.vm, &s);
	assert_int_equal(s.vcpu_time_ns[0], t1);	/* the thread is gone: frozen */
	skiff_vm_destroy(r.vm);
	api_metrics_destroy(h.writer);
	/* The deltas of all lines add up to the totals. */
	FILE *f = fopen(mp, "r");
	assert_non_null(f);
	char line[8192];
	json_int_t io_out = 0, cpu_us = 0;
	int lines = 0;
	while (fgets(line, sizeof(line), f)) {
		json_t *o = json_loads(line, 0, NULL);
		assert_non_null(o);
		io_out += geti(o, "vcpu", "exit_io_out");
		cpu_us += geti(o, "vcpu", "cpu_time_us_total");
		json_decref(o);
		lines++;
	}
	fclose(f);
	print_message("metrics: %d lines, %d periodic, vCPU %lld us\n", lines,
		      atomic_load(&h.periodic), (long long)cpu_us);
	assert_true(lines >= 4);
	assert_int_equal(io_out, 5);
	assert_true(cpu_us > 0 && (uint64_t)cpu_us <= t1 / 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_levels_and_module),
		cmocka_unit_test(test_fifo_never_blocks),
		cmocka_unit_test(test_bad_paths),
		cmocka_unit_test(test_metrics_json),
		cmocka_unit_test(test_metrics_file),
		cmocka_unit_test(test_vm_exits_and_hook),
	};
	return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
