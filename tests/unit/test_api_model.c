/* The Firecracker API's body parsers, config file and conversion to
 * struct skiff_config (src/api/api_model.h): for every body kind a good
 * body, an unknown field, a wrong type, a missing required field and an
 * out-of-range value; refused bodies leave the model unchanged. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "api/api_json.h"
#include "api/api_model.h"

static char tmpdir[64];
static char kernel[128], disk[128], disk2[128];

static int setup(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/skiff-api-model.XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(kernel, sizeof(kernel), "%s/vmlinux", tmpdir);
	snprintf(disk, sizeof(disk), "%s/rootfs.img", tmpdir);
	snprintf(disk2, sizeof(disk2), "%s/data.img", tmpdir);
	const char *files[] = { kernel, disk, disk2 };
	for (int i = 0; i < 3; i++) {
		FILE *f = fopen(files[i], "w");
		if (!f)
			return -1;
		fclose(f);
	}
	return 0;
}

static int teardown(void **state)
{
	unlink(kernel);
	unlink(disk);
	unlink(disk2);
	rmdir(tmpdir);
	return 0;
}

typedef int (*put_fn)(struct api_model *, const json_t *, struct skiff_err *);

/* Apply `fmt` (printf-style, then parsed as JSON) with fn; message in e. */
static int apply(struct api_model *m, put_fn fn, struct skiff_err *e, const char *fmt, ...)
{
	char buf[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_t *j;
	memset(e, 0, sizeof(*e));
	int r = api_json_load(buf, strlen(buf), "test", &j, e);
	if (r)
		return r;
	r = fn(m, j, e);
	json_decref(j);
	return r;
}

static json_t *load(const char *s)
{
	struct skiff_err e;
	json_t *j = NULL;
	assert_int_equal(api_json_load(s, strlen(s), "test", &j, &e), 0);
	return j;
}

/* Refused, with a message containing `want`. */
#define REFUSED(call, want) do { \
	assert_int_equal((call), -EINVAL); \
	if (!strstr(e.msg, want)) \
		fail_msg("message \"%s\" lacks \"%s\"", e.msg, want); \
} while (0)

static void test_json_load(void **state)
{
	struct skiff_err e;
	json_t *j;
	REFUSED(api_json_load("{", 1, "x", &j, &e), "invalid JSON");
	REFUSED(api_json_load("[1]", 3, "x", &j, &e), "must be a JSON object");
	REFUSED(api_json_load("{} {}", 5, "x", &j, &e), "invalid JSON");
	REFUSED(api_json_load("{\"a\":1,\"a\":2}", 13, "x", &j, &e), "invalid JSON");
	REFUSED(api_json_load("", 0, "x", &j, &e), "needs a JSON body");
	REFUSED(api_json_load("{\"a\":\"\\u0000\"}", 14, "x", &j, &e), "invalid JSON");
	assert_int_equal(api_json_load("{\"a\":1}", 7, "x", &j, &e), 0);
	json_decref(j);
}

static void test_boot_source(void **state)
{
	struct api_model m;
	struct skiff_err e;
	api_model_init(&m);
	assert_int_equal(apply(&m, api_model_put_boot_source, &e,
			       "{\"kernel_image_path\": \"%s\", \"boot_args\": \"console=ttyS0\"}",
			       kernel), 0);
	assert_true(m.has_boot_source);
	assert_string_equal(m.kernel_image_path, kernel);
	assert_string_equal(m.boot_args, "console=ttyS0");
	REFUSED(apply(&m, api_model_put_boot_source, &e, "{\"kernel_image_path\": \"%s\", "
		      "\"kernel\": 1}", kernel), "unknown field `kernel`");
	REFUSED(apply(&m, api_model_put_boot_source, &e, "{\"kernel_image_path\": 7}"),
		"boot-source.kernel_image_path: expected a string");
	REFUSED(apply(&m, api_model_put_boot_source, &e, "{\"boot_args\": \"x\"}"),
		"missing required field `kernel_image_path`");
	REFUSED(apply(&m, api_model_put_boot_source, &e, "{\"kernel_image_path\": \"%s/none\"}",
		      tmpdir), "boot-source.kernel_image_path: cannot open");
	REFUSED(apply(&m, api_model_put_boot_source, &e, "{\"kernel_image_path\": \"%s\", "
		      "\"initrd_path\": \"/nonexistent/initrd\"}", kernel), "initrd_path");
	char *big = malloc(5000);
	memset(big, 'a', 4999);
	big[4999] = 0;
	REFUSED(apply(&m, api_model_put_boot_source, &e, "{\"kernel_image_path\": \"%s\", "
		      "\"boot_args\": \"%s\"}", kernel, big), "boot_args");
	free(big);
	/* The refused bodies changed nothing. */
	assert_string_equal(m.boot_args, "console=ttyS0");
	assert_null(m.initrd_path);
	api_model_free(&m);
}

static void test_machine_config(void **state)
{
	struct api_model m;
	struct skiff_err e;
	api_model_init(&m);
	assert_int_equal(m.vcpu_count, 1);
	assert_int_equal(m.mem_size_mib, API_DEFAULT_MEM_MIB);
	assert_int_equal(apply(&m, api_model_put_machine_config, &e,
			       "{\"vcpu_count\": 2, \"mem_size_mib\": 512, \"smt\": false, "
			       "\"track_dirty_pages\": true, \"cpu_template\": \"None\"}"), 0);
	assert_int_equal(m.vcpu_count, 2);
	assert_int_equal(m.mem_size_mib, 512);
	assert_true(m.track_dirty_pages);
	REFUSED(apply(&m, api_model_put_machine_config, &e, "{\"vcpu_count\": 2, "
		      "\"mem_size_mib\": 64, \"cpus\": 1}"), "unknown field `cpus`");
	REFUSED(apply(&m, api_model_put_machine_config, &e, "{\"vcpu_count\": \"2\", "
		      "\"mem_size_mib\": 64}"), "machine-config.vcpu_count: expected an integer");
	REFUSED(apply(&m, api_model_put_machine_config, &e, "{\"vcpu_count\": 2.5, "
		      "\"mem_size_mib\": 64}"), "vcpu_count: expected an integer");
	REFUSED(apply(&m, api_model_put_machine_config, &e, "{\"mem_size_mib\": 64}"),
		"missing required field `vcpu_count`");
	REFUSED(apply(&m, api_model_put_machine_config, &e, "{\"vcpu_count\": 0, "
		      "\"mem_size_mib\": 64}"), "vcpu_count: 0 is out of range");
	REFUSED(apply(&m, api_model_put_machine_config, &e, "{\"vcpu_count\": 65, "
		      "\"mem_size_mib\": 64}"), "vcpu_count: 65 is out of range");
	REFUSED(apply(&m, api_model_put_machine_config, &e, "{\"vcpu_count\": -1, "
		      "\"mem_size_mib\": 64}"), "vcpu_count: -1 is out of range");
	REFUSED(apply(&m, api_model_put_machine_config, &e, "{\"vcpu_count\": 1, "
		      "\"mem_size_mib\": 8}"), "mem_size_mib: 8 is out of range");
	REFUSED(apply(&m, api_model_put_machine_config, &e, "{\"vcpu_count\": 1, "
		      "\"mem_size_mib\": 99999999999999999999}"), "invalid JSON");
	REFUSED(apply(&m, api_model_put_machine_config, &e, "{\"vcpu_count\": 3, "
		      "\"mem_size_mib\": 64, \"smt\": true}"), "with smt");
	REFUSED(apply(&m, api_model_put_machine_config, &e, "{\"vcpu_count\": 1, "
		      "\"mem_size_mib\": 64, \"cpu_template\": \"T2\"}"), "cpu_template");
	REFUSED(apply(&m, api_model_put_machine_config, &e, "{\"vcpu_count\": 1, "
		      "\"mem_size_mib\": 64, \"huge_pages\": \"2M\"}"), "huge_pages");
	assert_int_equal(m.vcpu_count, 2);
	assert_int_equal(m.mem_size_mib, 512);
	/* PATCH changes only what it names; PUT resets the optional fields. */
	assert_int_equal(apply(&m, api_model_patch_machine_config, &e, "{\"vcpu_count\": 4}"), 0);
	assert_int_equal(m.vcpu_count, 4);
	assert_int_equal(m.mem_size_mib, 512);
	assert_true(m.track_dirty_pages);
	REFUSED(apply(&m, api_model_patch_machine_config, &e, "{}"), "empty PATCH");
	REFUSED(apply(&m, api_model_patch_machine_config, &e, "{\"mem_size_mib\": true}"),
		"mem_size_mib: expected an integer");
	assert_int_equal(apply(&m, api_model_put_machine_config, &e,
			       "{\"vcpu_count\": 1, \"mem_size_mib\": 128}"), 0);
	assert_false(m.track_dirty_pages);
	api_model_free(&m);
}

static int put_drive_body(struct api_model *m, const char *id, struct skiff_err *e,
			  const char *body)
{
	json_t *j;
	memset(e, 0, sizeof(*e));
	int r = api_json_load(body, strlen(body), "test", &j, e);
	if (r)
		return r;
	r = api_model_put_drive(m, id, j, e);
	json_decref(j);
	return r;
}

static void test_drives(void **state)
{
	struct api_model m;
	struct skiff_err e;
	char b[1024];
	api_model_init(&m);
	snprintf(b, sizeof(b), "{\"drive_id\": \"rootfs\", \"path_on_host\": \"%s\", "
		 "\"is_root_device\": true, \"is_read_only\": false, \"io_engine\": \"Async\", "
		 "\"cache_type\": \"Writeback\", \"rate_limiter\": {\"bandwidth\": {\"size\": "
		 "1048576, \"refill_time\": 100, \"one_time_burst\": 4096}}}", disk);
	assert_int_equal(put_drive_body(&m, "rootfs", &e, b), 0);
	assert_int_equal(m.ndrives, 1);
	assert_true(m.drives[0].is_root_device);
	assert_int_equal(m.drives[0].engine, SKIFF_IO_URING);
	assert_true(m.drives[0].writeback);
	assert_int_equal(m.drives[0].rl.bandwidth.size, 1048576);
	assert_int_equal(m.drives[0].rl.bandwidth.refill_time_ms, 100);
	assert_int_equal(m.drives[0].rl.bandwidth.one_time_burst, 4096);
	/* The same id again replaces it. */
	snprintf(b, sizeof(b), "{\"drive_id\": \"rootfs\", \"path_on_host\": \"%s\", "
		 "\"is_root_device\": true, \"is_read_only\": true}", disk);
	assert_int_equal(put_drive_body(&m, "rootfs", &e, b), 0);
	assert_int_equal(m.ndrives, 1);
	assert_true(m.drives[0].is_read_only);
	assert_false(m.drives[0].has_rate_limiter);

	snprintf(b, sizeof(b), "{\"drive_id\": \"data\", \"path_on_host\": \"%s\", "
		 "\"is_root_device\": true}", disk2);
	REFUSED(put_drive_body(&m, "data", &e, b), "already the root device");
	snprintf(b, sizeof(b), "{\"drive_id\": \"data\", \"path_on_host\": \"%s\", "
		 "\"is_root_device\": false}", disk2);
	REFUSED(put_drive_body(&m, "other", &e, b), "does not match the id in the path");
	REFUSED(put_drive_body(&m, "a-b", &e, "{\"drive_id\": \"a-b\", \"path_on_host\": \"x\", "
			       "\"is_root_device\": false}"), "drive_id: invalid character");
	REFUSED(put_drive_body(&m, "data", &e, "{\"drive_id\": \"data\", \"path_on_host\": \"x\", "
			       "\"is_root_device\": \"no\"}"),
		"drives/data.is_root_device: expected true or false");
	REFUSED(put_drive_body(&m, "data", &e, "{\"drive_id\": \"data\", "
			       "\"is_root_device\": false}"), "missing required field `path_on_host`");
	REFUSED(put_drive_body(&m, "data", &e, "{\"drive_id\": \"data\", \"path_on_host\": \"x\", "
			       "\"is_root_device\": false, \"colour\": 1}"), "unknown field `colour`");
	snprintf(b, sizeof(b), "{\"drive_id\": \"data\", \"path_on_host\": \"%s\", "
		 "\"is_root_device\": false, \"io_engine\": \"Turbo\"}", disk2);
	REFUSED(put_drive_body(&m, "data", &e, b), "io_engine");
	snprintf(b, sizeof(b), "{\"drive_id\": \"data\", \"path_on_host\": \"%s\", "
		 "\"is_root_device\": false, \"rate_limiter\": {\"ops\": {\"refill_time\": 1}}}", disk2);
	REFUSED(put_drive_body(&m, "data", &e, b),
		"drives/data.rate_limiter.ops: missing required field `size`");
	snprintf(b, sizeof(b), "{\"drive_id\": \"data\", \"path_on_host\": \"%s\", "
		 "\"is_root_device\": false, \"rate_limiter\": {\"ops\": {\"size\": -5, "
		 "\"refill_time\": 1}}}", disk2);
	REFUSED(put_drive_body(&m, "data", &e, b), "rate_limiter.ops.size: -5 is out of range");
	snprintf(b, sizeof(b), "{\"drive_id\": \"data\", \"path_on_host\": \"%s\", "
		 "\"is_root_device\": false, \"rate_limiter\": {\"iops\": {}}}", disk2);
	REFUSED(put_drive_body(&m, "data", &e, b), "unknown field `iops`");
	REFUSED(put_drive_body(&m, "data", &e, "{\"drive_id\": \"data\", \"is_root_device\": false, "
			       "\"socket\": \"/tmp/vhost\"}"), "vhost-user");
	REFUSED(put_drive_body(&m, "data", &e, "{\"drive_id\": \"data\", \"path_on_host\": "
			       "\"/nonexistent.img\", \"is_root_device\": false}"),
		"path_on_host: cannot open");
	assert_int_equal(m.ndrives, 1);
	snprintf(b, sizeof(b), "{\"drive_id\": \"data\", \"path_on_host\": \"%s\", "
		 "\"is_root_device\": false}", disk2);
	assert_int_equal(put_drive_body(&m, "data", &e, b), 0);
	assert_int_equal(m.ndrives, 2);
	assert_int_equal(m.drives[1].engine, SKIFF_IO_SYNC);

	/* PATCH (PartialDrive). */
	json_t *j = load("{\"drive_id\": \"data\", \"rate_limiter\": {\"ops\": {\"size\": 10, "
			 "\"refill_time\": 1000}}}");
	assert_int_equal(api_model_patch_drive(&m, "data", j, false, &e), 0);
	assert_false(m.drives[1].has_rate_limiter);
	assert_int_equal(api_model_patch_drive(&m, "data", j, true, &e), 0);
	assert_true(m.drives[1].has_rate_limiter);
	assert_int_equal(m.drives[1].rl.ops.size, 10);
	json_decref(j);
	/* Firecracker's update: a bucket left out (or null) stays, a given one
	 * replaces the old. */
	j = load("{\"drive_id\": \"data\", \"rate_limiter\": {\"ops\": null, \"bandwidth\": "
		 "{\"size\": 9, \"refill_time\": 5}}}");
	assert_int_equal(api_model_patch_drive(&m, "data", j, true, &e), 0);
	assert_int_equal(m.drives[1].rl.ops.size, 10);
	assert_int_equal(m.drives[1].rl.bandwidth.size, 9);
	REFUSED(api_model_patch_drive(&m, "rootfs", j, true, &e), "does not match");
	json_decref(j);
	j = load("{\"drive_id\": \"nope\"}");
	REFUSED(api_model_patch_drive(&m, "nope", j, true, &e), "no drive `nope`");
	json_decref(j);
	j = load("{\"drive_id\": \"data\", \"is_read_only\": true}");
	REFUSED(api_model_patch_drive(&m, "data", j, true, &e), "unknown field `is_read_only`");
	json_decref(j);
	api_model_free(&m);
}

static int put_net_body(struct api_model *m, const char *id, struct skiff_err *e,
			const char *body)
{
	json_t *j;
	memset(e, 0, sizeof(*e));
	int r = api_json_load(body, strlen(body), "test", &j, e);
	if (r)
		return r;
	r = api_model_put_net(m, id, j, e);
	json_decref(j);
	return r;
}

static void test_nets(void **state)
{
	struct api_model m;
	struct skiff_err e;
	api_model_init(&m);
	assert_int_equal(put_net_body(&m, "eth0", &e, "{\"iface_id\": \"eth0\", \"host_dev_name\": "
				      "\"tap0\", \"guest_mac\": \"06:00:AC:10:00:02\", "
				      "\"tx_rate_limiter\": {\"ops\": {\"size\": 100, "
				      "\"refill_time\": 1000}}}"), 0);
	assert_int_equal(m.nnets, 1);
	assert_false(m.nets[0].user);
	assert_true(m.nets[0].has_mac);
	assert_int_equal(m.nets[0].mac[5], 2);
	assert_true(m.nets[0].has_tx);
	assert_int_equal(m.nets[0].tx.ops.size, 100);
	assert_int_equal(put_net_body(&m, "eth1", &e, "{\"iface_id\": \"eth1\", \"skiff_user_net\": "
				      "true, \"skiff_hostfwd\": [\"tcp::2222-:22\"]}"), 0);
	assert_true(m.nets[1].user);
	assert_int_equal(m.nets[1].nhostfwd, 1);
	assert_int_equal(m.nets[1].hostfwd[0].host_port, 2222);
	assert_int_equal(m.nets[1].hostfwd[0].guest_port, 22);
	REFUSED(put_net_body(&m, "eth2", &e, "{\"iface_id\": \"eth2\", \"host_dev_name\": \"tap2\", "
			     "\"skiff_hostfwd\": [\"tcp::1-:2\"]}"), "needs \"skiff_user_net\"");
	REFUSED(put_net_body(&m, "eth2", &e, "{\"iface_id\": \"eth2\"}"),
		"missing required field `host_dev_name`");
	REFUSED(put_net_body(&m, "eth2", &e, "{\"iface_id\": \"eth2\", \"host_dev_name\": \"tap2\", "
			     "\"guest_mac\": \"01:00:00:00:00:01\"}"), "guest_mac");
	REFUSED(put_net_body(&m, "eth2", &e, "{\"iface_id\": \"eth2\", \"host_dev_name\": \"tap2\", "
			     "\"guest_mac\": \"06:00:ac:10:00:02\"}"), "already used by `eth0`");
	REFUSED(put_net_body(&m, "eth2", &e, "{\"iface_id\": \"eth2\", \"host_dev_name\": \"tap0\"}"),
		"already used by `eth0`");
	REFUSED(put_net_body(&m, "eth2", &e, "{\"iface_id\": \"eth2\", \"host_dev_name\": "
			     "\"a-very-long-tap-name\"}"), "host_dev_name");
	REFUSED(put_net_body(&m, "eth2", &e, "{\"iface_id\": \"eth2\", \"host_dev_name\": 5}"),
		"host_dev_name: expected a string");
	REFUSED(put_net_body(&m, "eth2", &e, "{\"iface_id\": \"eth2\", \"host_dev_name\": \"tap2\", "
			     "\"mtu\": 1500}"), "mtu");
	REFUSED(put_net_body(&m, "eth2", &e, "{\"iface_id\": \"eth2\", \"host_dev_name\": \"tap2\", "
			     "\"promisc\": true}"), "unknown field `promisc`");
	REFUSED(put_net_body(&m, "eth2", &e, "{\"iface_id\": \"eth2\", \"skiff_user_net\": true, "
			     "\"skiff_hostfwd\": [\"tcp:22\"]}"), "skiff_hostfwd[0]");
	assert_int_equal(m.nnets, 2);
	json_t *j = load("{\"iface_id\": \"eth0\", \"rx_rate_limiter\": {\"bandwidth\": "
			 "{\"size\": 5, \"refill_time\": 7}}}");
	assert_int_equal(api_model_patch_net(&m, "eth0", j, true, &e), 0);
	assert_true(m.nets[0].has_rx);
	assert_int_equal(m.nets[0].rx.bandwidth.refill_time_ms, 7);
	REFUSED(api_model_patch_net(&m, "eth9", j, true, &e), "does not match");
	json_decref(j);
	j = load("{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap9\"}");
	REFUSED(api_model_patch_net(&m, "eth0", j, true, &e), "unknown field `host_dev_name`");
	json_decref(j);
	api_model_free(&m);
}

static void test_small_bodies(void **state)
{
	struct api_model m;
	struct skiff_err e;
	api_model_init(&m);
	/* vsock */
	assert_int_equal(apply(&m, api_model_put_vsock, &e, "{\"guest_cid\": 3, \"uds_path\": "
			       "\"/tmp/v.sock\"}"), 0);
	assert_true(m.has_vsock);
	assert_int_equal(m.guest_cid, 3);
	REFUSED(apply(&m, api_model_put_vsock, &e, "{\"guest_cid\": 2, \"uds_path\": \"/tmp/v\"}"),
		"vsock.guest_cid: 2 is out of range");
	REFUSED(apply(&m, api_model_put_vsock, &e, "{\"guest_cid\": 4294967296, \"uds_path\": "
		      "\"/tmp/v\"}"), "guest_cid");
	REFUSED(apply(&m, api_model_put_vsock, &e, "{\"guest_cid\": 3}"),
		"missing required field `uds_path`");
	REFUSED(apply(&m, api_model_put_vsock, &e, "{\"guest_cid\": \"3\", \"uds_path\": \"/v\"}"),
		"guest_cid: expected an integer");
	REFUSED(apply(&m, api_model_put_vsock, &e, "{\"guest_cid\": 3, \"uds_path\": \"/v\", "
		      "\"port\": 1}"), "unknown field `port`");
	assert_string_equal(m.uds_path, "/tmp/v.sock");
	/* entropy */
	assert_int_equal(apply(&m, api_model_put_entropy, &e, "{}"), 0);
	assert_true(m.has_entropy);
	REFUSED(apply(&m, api_model_put_entropy, &e, "{\"rate_limiter\": {\"bandwidth\": "
		      "{\"size\": 1, \"refill_time\": 1}}}"), "entropy.rate_limiter");
	REFUSED(apply(&m, api_model_put_entropy, &e, "{\"rate_limiter\": 5}"),
		"entropy.rate_limiter: expected a JSON object");
	REFUSED(apply(&m, api_model_put_entropy, &e, "{\"source\": \"x\"}"), "unknown field");
	/* logger */
	assert_int_equal(apply(&m, api_model_put_logger, &e, "{\"log_path\": \"/tmp/log.fifo\", "
			       "\"level\": \"debug\", \"show_level\": true}"), 0);
	assert_true(m.has_logger);
	assert_int_equal(m.log_level, 3);
	REFUSED(apply(&m, api_model_put_logger, &e, "{\"level\": \"Loud\"}"), "logger.level");
	REFUSED(apply(&m, api_model_put_logger, &e, "{\"show_level\": 1}"),
		"logger.show_level: expected true or false");
	REFUSED(apply(&m, api_model_put_logger, &e, "{\"path\": \"/x\"}"), "unknown field `path`");
	/* metrics: only once */
	REFUSED(apply(&m, api_model_put_metrics, &e, "{}"), "missing required field `metrics_path`");
	REFUSED(apply(&m, api_model_put_metrics, &e, "{\"metrics_path\": []}"), "expected a string");
	assert_int_equal(apply(&m, api_model_put_metrics, &e, "{\"metrics_path\": \"/tmp/m\"}"), 0);
	REFUSED(apply(&m, api_model_put_metrics, &e, "{\"metrics_path\": \"/tmp/m\"}"),
		"already initialized");
	api_model_free(&m);
}

static void test_actions(void **state)
{
	struct skiff_err e;
	enum api_action a;
	json_t *j = load("{\"action_type\": \"InstanceStart\"}");
	assert_int_equal(api_parse_action(j, &a, &e), 0);
	assert_int_equal(a, API_ACTION_INSTANCE_START);
	json_decref(j);
	j = load("{\"action_type\": \"SendCtrlAltDel\"}");
	assert_int_equal(api_parse_action(j, &a, &e), 0);
	assert_int_equal(a, API_ACTION_SEND_CTRL_ALT_DEL);
	json_decref(j);
	j = load("{\"action_type\": \"FlushMetrics\"}");
	assert_int_equal(api_parse_action(j, &a, &e), 0);
	assert_int_equal(a, API_ACTION_FLUSH_METRICS);
	json_decref(j);
	j = load("{\"action_type\": \"Reboot\"}");
	REFUSED(api_parse_action(j, &a, &e), "actions.action_type");
	json_decref(j);
	j = load("{\"action_type\": 1}");
	REFUSED(api_parse_action(j, &a, &e), "expected a string");
	json_decref(j);
	j = load("{}");
	REFUSED(api_parse_action(j, &a, &e), "missing required field `action_type`");
	json_decref(j);
	j = load("{\"action_type\": \"InstanceStart\", \"now\": true}");
	REFUSED(api_parse_action(j, &a, &e), "unknown field `now`");
	json_decref(j);
}

static void test_to_config(void **state)
{
	struct api_model m;
	struct skiff_err e;
	struct skiff_config base;
	struct api_vm_config vc;
	char b[1024];
	skiff_config_default(&base);
	base.console_out = -1;
	api_model_init(&m);
	REFUSED(api_model_to_config(&m, &base, &vc, &e), "boot-source");
	assert_int_equal(apply(&m, api_model_put_boot_source, &e, "{\"kernel_image_path\": \"%s\", "
			       "\"boot_args\": \"console=ttyS0 reboot=k panic=1 pci=off\"}", kernel), 0);
	snprintf(b, sizeof(b), "{\"drive_id\": \"data\", \"path_on_host\": \"%s\", "
		 "\"is_root_device\": false, \"is_read_only\": true}", disk2);
	assert_int_equal(put_drive_body(&m, "data", &e, b), 0);
	snprintf(b, sizeof(b), "{\"drive_id\": \"rootfs\", \"path_on_host\": \"%s\", "
		 "\"is_root_device\": true}", disk);
	assert_int_equal(put_drive_body(&m, "rootfs", &e, b), 0);
	assert_int_equal(put_net_body(&m, "eth0", &e, "{\"iface_id\": \"eth0\", \"skiff_user_net\": "
				      "true}"), 0);
	assert_int_equal(put_net_body(&m, "eth1", &e, "{\"iface_id\": \"eth1\", \"host_dev_name\": "
				      "\"tap7\"}"), 0);
	assert_int_equal(apply(&m, api_model_put_vsock, &e, "{\"guest_cid\": 9, \"uds_path\": "
			       "\"/tmp/v.sock\"}"), 0);
	assert_int_equal(apply(&m, api_model_put_entropy, &e, "{}"), 0);
	assert_int_equal(apply(&m, api_model_put_machine_config, &e, "{\"vcpu_count\": 2, "
			       "\"mem_size_mib\": 96}"), 0);
	assert_int_equal(api_model_to_config(&m, &base, &vc, &e), 0);
	assert_string_equal(vc.cfg.kernel_path, kernel);
	assert_int_equal(vc.cfg.cpus, 2);
	assert_int_equal(vc.cfg.mem_mib, 96);
	assert_int_equal(vc.cfg.console_out, -1);
	assert_string_equal(vc.cfg.cmdline, "console=ttyS0 reboot=k panic=1 root=/dev/vda rw");
	assert_int_equal(vc.cfg.ndisks, 2);
	assert_string_equal(vc.cfg.disks[0].path, disk);	/* the root drive first */
	assert_string_equal(vc.cfg.disks[0].id, "rootfs");
	assert_false(vc.cfg.disks[0].read_only);
	assert_int_equal(vc.cfg.disks[0].engine, SKIFF_IO_AUTO);
	assert_string_equal(vc.cfg.disks[1].path, disk2);
	assert_true(vc.cfg.disks[1].read_only);
	assert_int_equal(vc.cfg.nnets, 2);
	assert_int_equal(vc.cfg.nets[0].kind, SKIFF_NET_USER);
	assert_int_equal(vc.cfg.nets[1].kind, SKIFF_NET_TAP);
	assert_string_equal(vc.cfg.nets[1].tap_name, "tap7");
	assert_non_null(vc.cfg.vsock);
	assert_int_equal(vc.cfg.vsock->guest_cid, 9);
	assert_true(vc.cfg.rng);
	/* partuuid and a read-only root; no boot_args: skiff's default. */
	assert_int_equal(apply(&m, api_model_put_boot_source, &e, "{\"kernel_image_path\": \"%s\"}",
			       kernel), 0);
	snprintf(b, sizeof(b), "{\"drive_id\": \"rootfs\", \"path_on_host\": \"%s\", "
		 "\"is_root_device\": true, \"is_read_only\": true, \"partuuid\": "
		 "\"0eaa91a0-01\"}", disk);
	assert_int_equal(put_drive_body(&m, "rootfs", &e, b), 0);
	assert_int_equal(api_model_to_config(&m, &base, &vc, &e), 0);
	assert_string_equal(vc.cfg.cmdline,
			    "console=ttyS0 reboot=k panic=1 root=PARTUUID=0eaa91a0-01 ro");
	api_model_free(&m);
}

static void test_config_file(void **state)
{
	struct api_model m;
	struct skiff_err e;
	char b[2048];
	api_model_init(&m);
	snprintf(b, sizeof(b),
		 "{\"boot-source\": {\"kernel_image_path\": \"%s\", \"boot_args\": \"console=ttyS0\"},"
		 " \"drives\": [{\"drive_id\": \"rootfs\", \"path_on_host\": \"%s\", "
		 "\"is_root_device\": true, \"is_read_only\": false}],"
		 " \"machine-config\": {\"vcpu_count\": 2, \"mem_size_mib\": 1024},"
		 " \"network-interfaces\": [{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\"}],"
		 " \"vsock\": {\"guest_cid\": 3, \"uds_path\": \"/tmp/v\"},"
		 " \"logger\": {\"level\": \"Info\"}, \"metrics\": {\"metrics_path\": \"/tmp/m\"},"
		 " \"entropy\": {}, \"balloon\": null}", kernel, disk);
	assert_int_equal(api_model_load_config(&m, b, strlen(b), &e), 0);
	assert_true(m.has_boot_source);
	assert_int_equal(m.ndrives, 1);
	assert_int_equal(m.nnets, 1);
	assert_int_equal(m.vcpu_count, 2);
	assert_true(m.has_vsock && m.has_entropy && m.has_logger && m.has_metrics);

	/* GET /vm/config's JSON loads back as a config file, unchanged. */
	json_t *full = api_model_full_json(&m);
	char *text = json_dumps(full, JSON_COMPACT | JSON_SORT_KEYS);
	struct api_model m2;
	api_model_init(&m2);
	assert_int_equal(api_model_load_config(&m2, text, strlen(text), &e), 0);
	json_t *full2 = api_model_full_json(&m2);
	assert_true(json_equal(full, full2));
	json_decref(full);
	json_decref(full2);
	free(text);
	api_model_free(&m2);
	api_model_free(&m);

	api_model_init(&m);
	REFUSED(api_model_load_config(&m, "{\"boot_source\": {}}", 19, &e),
		"unknown field `boot_source`");
	REFUSED(api_model_load_config(&m, "{\"balloon\": {}}", 15, &e), "balloon: not supported");
	REFUSED(api_model_load_config(&m, "{\"drives\": {}}", 14, &e), "drives: expected an array");
	snprintf(b, sizeof(b), "{\"drives\": [{\"drive_id\": \"a\", \"path_on_host\": \"%s\", "
		 "\"is_root_device\": false}, {\"drive_id\": \"b\", \"is_root_device\": 1}]}", disk2);
	REFUSED(api_model_load_config(&m, b, strlen(b), &e),
		"drives[1]: drives.is_root_device: expected true or false");
	REFUSED(api_model_load_config(&m, "{\"machine-config\": {\"vcpu_count\": 1}}", 37, &e),
		"machine-config: missing required field `mem_size_mib`");
	assert_int_equal(api_model_load_config_file(&m, "/nonexistent/vm.json", &e), -ENOENT);
	assert_non_null(strstr(e.msg, "/nonexistent/vm.json"));
	api_model_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_load),
		cmocka_unit_test(test_boot_source),
		cmocka_unit_test(test_machine_config),
		cmocka_unit_test(test_drives),
		cmocka_unit_test(test_nets),
		cmocka_unit_test(test_small_bodies),
		cmocka_unit_test(test_actions),
		cmocka_unit_test(test_to_config),
		cmocka_unit_test(test_config_file),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
