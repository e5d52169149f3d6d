/* Device option strings (core/devopts.h): what users type after --disk,
 * --net and --vsock, and the errors they get for bad input. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>
#include "core/devopts.h"

static int disk(const char *spec, struct skiff_disk_config *d, struct skiff_err *e)
{
	static char buf[512];
	strcpy(buf, spec);
	memset(e, 0, sizeof(*e));
	return devopts_parse_disk(buf, d, e);
}

static void test_disk_full(void **state)
{
	(void)state;
	struct skiff_disk_config d;
	struct skiff_err e;
	assert_int_equal(disk("path=/img/a.raw,ro,id=vol-1,engine=io_uring,direct,bw=10M:500:1G,ops=200", &d, &e), 0);
	assert_string_equal(d.path, "/img/a.raw");
	assert_true(d.read_only);
	assert_true(d.direct);
	assert_string_equal(d.id, "vol-1");
	assert_int_equal(d.engine, SKIFF_IO_URING);
	assert_int_equal(d.rl.bandwidth.size, 10ULL << 20);
	assert_int_equal(d.rl.bandwidth.refill_time_ms, 500);
	assert_int_equal(d.rl.bandwidth.one_time_burst, 1ULL << 30);
	assert_int_equal(d.rl.ops.size, 200);
	assert_int_equal(d.rl.ops.refill_time_ms, 1000);
}

static void test_disk_bare_path_and_defaults(void **state)
{
	(void)state;
	struct skiff_disk_config d;
	struct skiff_err e;
	assert_int_equal(disk("disk.img", &d, &e), 0);
	assert_string_equal(d.path, "disk.img");
	assert_false(d.read_only);
	assert_int_equal(d.engine, SKIFF_IO_AUTO);
	assert_int_equal(d.rl.bandwidth.size, 0);
	assert_null(d.id);
}

static void test_disk_errors(void **state)
{
	(void)state;
	struct skiff_disk_config d;
	struct skiff_err e;
	assert_int_equal(disk("ro", &d, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "no image path"));
	assert_int_equal(disk("", &d, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "no image path"));
	assert_int_equal(disk("a.img,,ro", &d, &e), 0);
	assert_true(d.read_only);
	assert_int_equal(disk("a.img,engine=aio", &d, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "engine 'aio'"));
	assert_int_equal(disk("a.img,id=123456789012345678901", &d, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "1 to 20 bytes"));
	assert_int_equal(disk("a.img,bw=-5", &d, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "bw"));
	assert_int_equal(disk("a.img,bw=99999999999999999999G", &d, &e), -EINVAL);
	assert_int_equal(disk("a.img,bw=10:0", &d, &e), -EINVAL);
	assert_int_equal(disk("a.img,colour=red", &d, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "unknown option 'colour=red'"));
}

static int net(const char *spec, struct skiff_net_config *n, struct skiff_err *e)
{
	static char buf[512];
	strcpy(buf, spec);
	memset(e, 0, sizeof(*e));
	return devopts_parse_net(buf, n, e);
}

static void test_net_user_hostfwd(void **state)
{
	(void)state;
	struct skiff_net_config n;
	struct skiff_err e;
	assert_int_equal(net("user,hostfwd=tcp::2222-:22,hostfwd=udp:127.0.0.1:5353-10.0.2.15:53,mac=52:54:00:12:34:56", &n, &e), 0);
	assert_int_equal(n.kind, SKIFF_NET_USER);
	assert_int_equal(n.nhostfwd, 2);
	assert_false(n.hostfwd[0].udp);
	assert_int_equal(n.hostfwd[0].host_port, 2222);
	assert_int_equal(n.hostfwd[0].guest_port, 22);
	assert_int_equal(n.hostfwd[0].host_addr, 0);
	assert_true(n.hostfwd[1].udp);
	assert_int_equal(n.hostfwd[1].host_addr, 0x7f000001);
	assert_int_equal(n.hostfwd[1].guest_addr, 0x0a00020f);
	assert_int_equal(n.hostfwd[1].guest_port, 53);
	assert_true(n.has_mac);
	assert_int_equal(n.mac[5], 0x56);
}

static void test_net_tap_and_errors(void **state)
{
	(void)state;
	struct skiff_net_config n;
	struct skiff_err e;
	assert_int_equal(net("tap=tap0,queues=2,tx_bw=1M,rx_ops=1000:100", &n, &e), 0);
	assert_int_equal(n.kind, SKIFF_NET_TAP);
	assert_string_equal(n.tap_name, "tap0");
	assert_int_equal(n.queue_pairs, 2);
	assert_int_equal(n.tx.bandwidth.size, 1 << 20);
	assert_int_equal(n.rx.ops.refill_time_ms, 100);
	assert_int_equal(net("mac=52:54:00:12:34:56", &n, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "tap=NAME or user"));
	assert_int_equal(net("tap=a,user", &n, &e), -EINVAL);
	assert_int_equal(net("user,mac=01:00:5e:00:00:01", &n, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "unicast"));
	assert_int_equal(net("user,mac=52:54:00:12:34", &n, &e), -EINVAL);
	assert_int_equal(net("user,hostfwd=tcp::99999-:22", &n, &e), -EINVAL);
	assert_int_equal(net("user,hostfwd=sctp::1-:2", &n, &e), -EINVAL);
	assert_int_equal(net("tap=t0,hostfwd=tcp::1-:2", &n, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "needs user networking"));
	assert_int_equal(net("tap=averyveryverylongname", &n, &e), -EINVAL);
}

static void test_vsock(void **state)
{
	(void)state;
	struct skiff_vsock_config v;
	struct skiff_err e = { { 0 } };
	char ok[] = "cid=3,uds=/tmp/v.sock", low[] = "cid=2,uds=/x", none[] = "cid=5";
	assert_int_equal(devopts_parse_vsock(ok, &v, &e), 0);
	assert_int_equal(v.guest_cid, 3);
	assert_string_equal(v.uds_path, "/tmp/v.sock");
	assert_int_equal(devopts_parse_vsock(low, &v, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "from 3"));
	assert_int_equal(devopts_parse_vsock(none, &v, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "cid=N,uds=PATH"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_disk_full),
		cmocka_unit_test(test_disk_bare_path_and_defaults),
		cmocka_unit_test(test_disk_errors),
		cmocka_unit_test(test_net_user_hostfwd),
		cmocka_unit_test(test_net_tap_and_errors),
		cmocka_unit_test(test_vsock),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
