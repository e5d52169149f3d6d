/* The Firecracker-compatible API server (src/api/api_http.h) over a real
 * Unix socket, spoken to in raw HTTP/1.1: every endpoint before boot with
 * good and bad bodies, 404/405, oversized and malformed requests; with KVM,
 * the post-boot rules on a running guest and InstanceStart of one that
 * exits. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include "unit/guest_elf.h"
#include <elf.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "api/api_http.h"
#include "api/api_vmm.h"

struct fixture {
	char dir[64], sock[200], kernel[128], disk[128];
	struct api_vmm *vmm;
	struct api_http *http;
};

struct resp {
	int status;		/* 0: no HTTP answer */
	char head[2048];
	char body[8192];
};

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	if (len)
		assert_int_equal(fwrite(data, len, 1, f), 1);
	fclose(f);
}


static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/skiff-api-http.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->sock, sizeof(f->sock), "%s/api.sock", f->dir);
	snprintf(f->kernel, sizeof(f->kernel), "%s/guest.elf", f->dir);
	snprintf(f->disk, sizeof(f->disk), "%s/disk.img", f->dir);
	static const uint8_t spin[] = { 0xeb, 0xfe };	/* jmp . */
	write_guest_elf(f->kernel, spin, sizeof(spin));
	static char sector[512];
	write_file(f->disk, sector, sizeof(sector));
	struct skiff_config base;
	skiff_config_default(&base);
	base.console_in = -1;
	base.console_out = -1;
	base.log_level = 0;
	struct skiff_err e = { { 0 } };
	if (api_vmm_create(&base, "test-vm", &f->vmm) ||
	    api_http_start(f->sock, f->vmm, 0, &f->http, &e)) {
		fprintf(stderr, "setup: %s\n", e.msg);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	api_http_stop(f->http);
	api_vmm_destroy(f->vmm);
	unlink(f->kernel);
	unlink(f->disk);
	unlink(f->sock);
	rmdir(f->dir);
	free(f);
	return 0;
}

static int connect_sock(const struct fixture *f)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	size_t n = strlen(f->sock);
	assert_true(n < sizeof(a.sun_path));
	memcpy(a.sun_path, f->sock, n + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	struct timeval tv = { .tv_sec = 10 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Send `len` raw bytes, read the answer until the server closes. */
static void raw(const struct fixture *f, const char *req, size_t len, struct resp *r)
{
	memset(r, 0, sizeof(*r));
	int fd = connect_sock(f);
	size_t off = 0;
	while (off < len) {
		ssize_t n = send(fd, req + off, len - off, MSG_NOSIGNAL);
		if (n <= 0)
			break;	/* the server may answer and close early */
		off += (size_t)n;
	}
	static char buf[65536];
	size_t got = 0;
	ssize_t n;
	while (got < sizeof(buf) - 1 && (n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0)) > 0)
		got += (size_t)n;
	close(fd);
	buf[got] = 0;
	if (sscanf(buf, "HTTP/1.%*d %d", &r->status) != 1)
		r->status = 0;
	char *sep = strstr(buf, "\r\n\r\n");
	if (sep) {
		snprintf(r->head, sizeof(r->head), "%.*s", (int)(sep - buf), buf);
		snprintf(r->body, sizeof(r->body), "%s", sep + 4);
	}
}

static int http(const struct fixture *f, const char *method, const char *path, const char *body,
		struct resp *r)
{
	static char req[70000];
	size_t blen = body ? strlen(body) : 0;
	int n = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: localhost\r\n"
			 "Content-Type: application/json\r\nAccept: application/json\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
			 method, path, blen, body ? body : "");
	raw(f, req, (size_t)n, r);
	return r->status;
}

/* The answer has `status` and (when want is set) its body contains want. */
static void expect(const struct resp *r, int status, const char *want)
{
	if (r->status != status)
		fail_msg("expected HTTP %d, got %d: %s", status, r->status, r->body);
	if (want && !strstr(r->body, want))
		fail_msg("HTTP %d body \"%s\" lacks \"%s\"", status, r->body, want);
	if (status >= 400 && status != 413 && status != 431 && !strstr(r->body, "\"fault_message\""))
		fail_msg("error without fault_message: %s", r->body);
}

static void test_info_version(void **state)
{
	struct fixture *f = *state;
	struct resp r;
	http(f, "GET", "/", NULL, &r);
	expect(&r, 200, "\"state\":\"Not started\"");
	expect(&r, 200, "\"id\":\"test-vm\"");
	assert_non_null(strstr(r.head, "application/json"));
	http(f, "GET", "/version", NULL, &r);
	expect(&r, 200, "\"firecracker_version\"");
}

static void test_preboot_endpoints(void **state)
{
	struct fixture *f = *state;
	struct resp r;
	char b[1024];
	snprintf(b, sizeof(b), "{\"kernel_image_path\": \"%s\", \"boot_args\": \"console=ttyS0\"}",
		 f->kernel);
	http(f, "PUT", "/boot-source", b, &r);
	expect(&r, 204, NULL);
	assert_string_equal(r.body, "");
	http(f, "PUT", "/boot-source", "{\"kernel_image_path\": 1}", &r);
	expect(&r, 400, "boot-source.kernel_image_path: expected a string");
	http(f, "PUT", "/boot-source", "{\"initrd_path\": \"/x\"}", &r);
	expect(&r, 400, "kernel_image_path");

	http(f, "PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 32}", &r);
	expect(&r, 204, NULL);
	http(f, "PUT", "/machine-config", "{\"vcpu_count\": 0, \"mem_size_mib\": 32}", &r);
	expect(&r, 400, "machine-config.vcpu_count: 0 is out of range");
	http(f, "PATCH", "/machine-config", "{\"mem_size_mib\": 48}", &r);
	expect(&r, 204, NULL);
	http(f, "PATCH", "/machine-config", "{\"ram\": 48}", &r);
	expect(&r, 400, "unknown field `ram`");
	http(f, "GET", "/machine-config", NULL, &r);
	expect(&r, 200, "\"mem_size_mib\":48");
	expect(&r, 200, "\"vcpu_count\":1");

	snprintf(b, sizeof(b), "{\"drive_id\": \"rootfs\", \"path_on_host\": \"%s\", "
		 "\"is_root_device\": true, \"is_read_only\": true}", f->disk);
	http(f, "PUT", "/drives/rootfs", b, &r);
	expect(&r, 204, NULL);
	http(f, "PUT", "/drives/other", b, &r);
	expect(&r, 400, "does not match the id in the path");
	http(f, "PUT", "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"is_root_device\": 3}", &r);
	expect(&r, 400, "drives/rootfs.is_root_device");
	http(f, "PUT", "/drives/", b, &r);
	expect(&r, 400, "needs an id");
	http(f, "PATCH", "/drives/rootfs", "{\"drive_id\": \"rootfs\"}", &r);
	expect(&r, 400, "not supported before starting");

	http(f, "PUT", "/network-interfaces/eth0", "{\"iface_id\": \"eth0\", \"skiff_user_net\": true,"
	     " \"guest_mac\": \"06:00:ac:10:00:02\"}", &r);
	expect(&r, 204, NULL);
	http(f, "PUT", "/network-interfaces/eth1", "{\"iface_id\": \"eth1\", \"host_dev_name\": "
	     "\"tap0\", \"guest_mac\": \"zz\"}", &r);
	expect(&r, 400, "network-interfaces/eth1.guest_mac");
	http(f, "PATCH", "/network-interfaces/eth0", "{\"iface_id\": \"eth0\"}", &r);
	expect(&r, 400, "not supported before starting");

	http(f, "PUT", "/vsock", "{\"guest_cid\": 3, \"uds_path\": \"/tmp/skiff-test-v.sock\"}", &r);
	expect(&r, 204, NULL);
	http(f, "PUT", "/vsock", "{\"guest_cid\": 1, \"uds_path\": \"/tmp/v\"}", &r);
	expect(&r, 400, "vsock.guest_cid");
	http(f, "PUT", "/entropy", "{}", &r);
	expect(&r, 204, NULL);
	http(f, "PUT", "/entropy", "{\"x\": 1}", &r);
	expect(&r, 400, "unknown field `x`");
	http(f, "PUT", "/logger", "{\"level\": \"Warning\", \"show_level\": true}", &r);
	expect(&r, 204, NULL);
	http(f, "PUT", "/logger", "{\"level\": 3}", &r);
	expect(&r, 400, "logger.level");
	http(f, "PUT", "/metrics", "{\"metrics_path\": \"/tmp/skiff-test-metrics\"}", &r);
	expect(&r, 204, NULL);
	http(f, "PUT", "/metrics", "{\"metrics_path\": \"/tmp/skiff-test-metrics\"}", &r);
	expect(&r, 400, "already initialized");

	http(f, "GET", "/vm/config", NULL, &r);
	expect(&r, 200, "\"drive_id\":\"rootfs\"");
	expect(&r, 200, "\"skiff_user_net\":true");
	expect(&r, 200, "\"guest_cid\":3");

	http(f, "PUT", "/actions", "{\"action_type\": \"Explode\"}", &r);
	expect(&r, 400, "actions.action_type");
	http(f, "PUT", "/actions", "{\"action_type\": \"SendCtrlAltDel\"}", &r);
	expect(&r, 400, "not supported before starting");
	http(f, "PUT", "/actions", "{\"action_type\": \"skiff_power_button\"}", &r);
	expect(&r, 400, "not supported before starting");
	http(f, "PUT", "/actions", "{\"action_type\": \"FlushMetrics\"}", &r);
	expect(&r, 204, NULL);	/* metrics configured above: written before boot too */
	http(f, "PATCH", "/vm", "{\"state\": \"Paused\"}", &r);
	expect(&r, 400, "not supported before starting");
	http(f, "PATCH", "/vm", "{\"state\": \"Resumed\"}", &r);
	expect(&r, 400, "not supported before starting");
	http(f, "PATCH", "/vm", "{\"state\": \"Sleeping\"}", &r);
	expect(&r, 400, "vm.state");
	http(f, "PATCH", "/vm", "{\"state\": 1}", &r);
	expect(&r, 400, "vm.state");
	http(f, "PATCH", "/vm", "{}", &r);
	expect(&r, 400, "missing required field `state`");
	http(f, "PATCH", "/vm", "{\"state\": \"Paused\", \"x\": 1}", &r);
	expect(&r, 400, "unknown field `x`");
	http(f, "GET", "/", NULL, &r);
	expect(&r, 200, "Not started");
}

static void test_not_found_method(void **state)
{
	struct fixture *f = *state;
	struct resp r;
	http(f, "GET", "/nothing", NULL, &r);
	expect(&r, 404, "/nothing");
	http(f, "PUT", "/drives/a/b", "{}", &r);
	expect(&r, 404, NULL);
	http(f, "GET", "/boot-source", NULL, &r);
	expect(&r, 405, "allowed: PUT");
	assert_non_null(strstr(r.head, "Allow: PUT"));
	http(f, "DELETE", "/", NULL, &r);
	expect(&r, 405, NULL);
	http(f, "POST", "/actions", "{\"action_type\": \"InstanceStart\"}", &r);
	expect(&r, 405, NULL);
	http(f, "GET", "/", NULL, &r);
	expect(&r, 200, "Not started");
}

static void test_bad_requests(void **state)
{
	struct fixture *f = *state;
	struct resp r;
	http(f, "PUT", "/machine-config", "{\"vcpu_count\": 1,", &r);
	expect(&r, 400, "invalid JSON");
	http(f, "PUT", "/machine-config", "[1, 2]", &r);
	expect(&r, 400, "JSON object");
	http(f, "PUT", "/machine-config", NULL, &r);
	expect(&r, 400, "needs a JSON body");
	http(f, "PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 32} trailing", &r);
	expect(&r, 400, "invalid JSON");

	/* Larger than the limit: announced, and sent chunked. */
	static char big[60000 + 1];
	memset(big, ' ', sizeof(big) - 1);
	big[0] = '{';
	big[sizeof(big) - 2] = '}';
	http(f, "PUT", "/machine-config", big, &r);
	expect(&r, 400, "larger than the limit");
	static char chunked[70000];
	int n = snprintf(chunked, sizeof(chunked), "PUT /machine-config HTTP/1.1\r\nHost: x\r\n"
			 "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
	for (int i = 0; i < 6; i++) {
		n += snprintf(chunked + n, sizeof(chunked) - (size_t)n, "2710\r\n");
		memset(chunked + n, ' ', 10000);
		n += 10000;
		n += snprintf(chunked + n, sizeof(chunked) - (size_t)n, "\r\n");
	}
	n += snprintf(chunked + n, sizeof(chunked) - (size_t)n, "0\r\n\r\n");
	raw(f, chunked, (size_t)n, &r);
	expect(&r, 400, "larger than the limit");

	/* Malformed HTTP: answered with an error or closed, never a crash. */
	const char *junk[] = {
		"GARBAGE\r\n\r\n",
		"GET / HTTP/9.9\r\n\r\n",
		"PUT /machine-config HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
		("PUT /machine-config HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
		 "Transfer-Encoding: chunked\r\n\r\nzz\r\n"),
		"\x01\x02\x03\x04\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		raw(f, junk[i], strlen(junk[i]), &r);
		assert_true(r.status == 0 || r.status >= 400);
	}
	/* Headers larger than the server's memory limit. */
	static char hdr[48 * 1024];
	n = snprintf(hdr, sizeof(hdr), "GET / HTTP/1.1\r\nHost: x\r\nX-Big: ");
	memset(hdr + n, 'a', 40000);
	n += 40000;
	n += snprintf(hdr + n, sizeof(hdr) - (size_t)n, "\r\nConnection: close\r\n\r\n");
	raw(f, hdr, (size_t)n, &r);
	assert_true(r.status == 0 || r.status >= 400);
	/* A client that connects and goes away. */
	close(connect_sock(f));
	/* Still serving, model intact. */
	http(f, "GET", "/machine-config", NULL, &r);
	expect(&r, 200, "\"mem_size_mib\":48");
}

static void test_instance_start_errors(void **state)
{
	struct fixture *f = *state;
	struct resp r;
	char b[512];
	/* An empty file is no kernel: skiff_vm_create's error comes back. */
	snprintf(b, sizeof(b), "{\"kernel_image_path\": \"%s\"}", f->disk);
	http(f, "PUT", "/boot-source", b, &r);
	expect(&r, 204, NULL);
	http(f, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", &r);
	expect(&r, 400, "InstanceStart: ");
	http(f, "GET", "/", NULL, &r);
	expect(&r, 200, "Not started");
}

/* A separate server with nothing configured: InstanceStart names the gap. */
static void test_instance_start_unconfigured(void **state)
{
	struct fixture *f = *state;
	char sock[160];
	snprintf(sock, sizeof(sock), "%s/second.sock", f->dir);
	struct skiff_config base;
	skiff_config_default(&base);
	struct api_vmm *vmm;
	struct api_http *h;
	struct skiff_err e = { { 0 } };
	assert_int_equal(api_vmm_create(&base, NULL, &vmm), 0);
	assert_int_equal(api_http_start(sock, vmm, 0, &h, &e), 0);
	/* A second server on a live socket is refused. */
	struct api_http *h2;
	assert_int_equal(api_http_start(sock, vmm, 0, &h2, &e), -EADDRINUSE);
	assert_non_null(strstr(e.msg, "in use"));
	struct fixture g = *f;
	snprintf(g.sock, sizeof(g.sock), "%s", sock);
	struct resp r;
	http(&g, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", &r);
	expect(&r, 400, "boot-source");
	http(&g, "GET", "/", NULL, &r);
	expect(&r, 200, "anonymous-instance");
	api_http_stop(h);
	api_vmm_destroy(vmm);
	assert_int_equal(access(sock, F_OK), -1);
}

static bool have_kvm(void)
{
	return access("/dev/kvm", R_OK | W_OK) == 0;
}

/* Post-boot PATCH of a drive and an interface (Firecracker's
 * PartialDrive / PartialNetworkInterface): applied, then in GET /vm/config;
 * a refused one changes nothing. */
static void patch_devices(struct fixture *f)
{
	struct resp r;
	char b[512], disk2[200];
	http(f, "PATCH", "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"rate_limiter\": "
	     "{\"ops\": {\"size\": 77, \"refill_time\": 1000}}}", &r);
	expect(&r, 204, NULL);
	http(f, "GET", "/vm/config", NULL, &r);
	expect(&r, 200, "\"size\":77");
	snprintf(disk2, sizeof(disk2), "%s/disk2.img", f->dir);
	static char sectors[2048];
	write_file(disk2, sectors, sizeof(sectors));
	snprintf(b, sizeof(b), "{\"drive_id\": \"rootfs\", \"path_on_host\": \"%s\"}", disk2);
	http(f, "PATCH", "/drives/rootfs", b, &r);
	expect(&r, 204, NULL);
	http(f, "GET", "/vm/config", NULL, &r);
	expect(&r, 200, "disk2.img");
	expect(&r, 200, "\"size\":77");		/* the limiter stays */
	http(f, "PATCH", "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"path_on_host\": "
	     "\"/nonexistent.img\"}", &r);
	expect(&r, 400, "drives/rootfs.path_on_host");
	write_file(disk2, sectors, 1000);		/* not whole sectors */
	http(f, "PATCH", "/drives/rootfs", b, &r);
	expect(&r, 400, "drives/rootfs.path_on_host: image");
	http(f, "GET", "/vm/config", NULL, &r);
	expect(&r, 200, "disk2.img");
	unlink(disk2);
	http(f, "PATCH", "/drives/nope", "{\"drive_id\": \"nope\"}", &r);
	expect(&r, 400, "no drive `nope`");
	http(f, "PATCH", "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"bogus\": 1}", &r);
	expect(&r, 400, "unknown field `bogus`");
	http(f, "PATCH", "/network-interfaces/eth0", "{\"iface_id\": \"eth0\", "
	     "\"tx_rate_limiter\": {\"bandwidth\": {\"size\": 123456, \"refill_time\": 100}}}",
	     &r);
	expect(&r, 204, NULL);
	http(f, "GET", "/vm/config", NULL, &r);
	expect(&r, 200, "\"size\":123456");
	http(f, "PATCH", "/network-interfaces/eth9", "{\"iface_id\": \"eth9\"}", &r);
	expect(&r, 400, "no network interface `eth9`");
}

/* A spinning guest: post-boot rules, then stop on destroy. */
static void test_postboot(void **state)
{
	struct fixture *f = *state;
	if (!have_kvm())
		skip();
	struct resp r;
	char b[512];
	snprintf(b, sizeof(b), "{\"kernel_image_path\": \"%s\"}", f->kernel);
	http(f, "PUT", "/boot-source", b, &r);
	expect(&r, 204, NULL);
	/* The drive from before is read-only; keep it, the guest ignores it. */
	http(f, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", &r);
	expect(&r, 204, NULL);
	http(f, "GET", "/", NULL, &r);
	expect(&r, 200, "\"state\":\"Running\"");
	http(f, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", &r);
	expect(&r, 400, "after starting");
	const char *puts[][2] = {
		{ "/boot-source", b },
		{ "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 32}" },
		{ "/vsock", "{\"guest_cid\": 3, \"uds_path\": \"/tmp/v\"}" },
		{ "/entropy", "{}" },
		{ "/logger", "{}" },
		{ "/metrics", "{\"metrics_path\": \"/tmp/m\"}" },
		{ "/network-interfaces/eth5", "{\"iface_id\": \"eth5\", \"host_dev_name\": \"tap5\"}" },
		{ "/drives/x", "{\"drive_id\": \"x\", \"path_on_host\": \"/x\", \"is_root_device\": false}" },
	};
	for (size_t i = 0; i < sizeof(puts) / sizeof(puts[0]); i++) {
		http(f, "PUT", puts[i][0], puts[i][1], &r);
		expect(&r, 400, "after starting");
	}
	http(f, "PATCH", "/machine-config", "{\"vcpu_count\": 2}", &r);
	expect(&r, 400, "after starting");
	patch_devices(f);
	/* The guest ignores both buttons; they are delivered all the same. */
	http(f, "PUT", "/actions", "{\"action_type\": \"SendCtrlAltDel\"}", &r);
	expect(&r, 204, NULL);
	http(f, "PUT", "/actions", "{\"action_type\": \"skiff_power_button\"}", &r);
	expect(&r, 204, NULL);
	http(f, "GET", "/machine-config", NULL, &r);
	expect(&r, 200, "\"mem_size_mib\":48");
	http(f, "GET", "/vm/config", NULL, &r);
	expect(&r, 200, "\"boot-source\"");
	http(f, "GET", "/", NULL, &r);
	expect(&r, 200, "\"state\":\"Running\"");
	for (int i = 0; i < 3; i++) {
		http(f, "PATCH", "/vm", "{\"state\": \"Paused\"}", &r);
		expect(&r, 204, NULL);
		http(f, "PATCH", "/vm", "{\"state\": \"Paused\"}", &r);
		expect(&r, 204, NULL);
		http(f, "GET", "/", NULL, &r);
		expect(&r, 200, "\"state\":\"Paused\"");
		http(f, "PATCH", "/vm", "{\"state\": \"Bogus\"}", &r);
		expect(&r, 400, "vm.state");
		http(f, "PATCH", "/network-interfaces/eth0", "{\"iface_id\": \"eth0\", "
		     "\"rx_rate_limiter\": {\"ops\": {\"size\": 5, \"refill_time\": 10}}}", &r);
		expect(&r, 204, NULL);		/* applies while paused too */
		http(f, "PATCH", "/vm", "{\"state\": \"Resumed\"}", &r);
		expect(&r, 204, NULL);
		http(f, "GET", "/", NULL, &r);
		expect(&r, 200, "\"state\":\"Running\"");
	}
	/* Bad requests against the running VM: refused, and it keeps running. */
	http(f, "PATCH", "/vm", "{\"state\": \"Paused\",", &r);
	expect(&r, 400, "invalid JSON");
	http(f, "PATCH", "/vm", "{\"state\": \"Paused\", \"extra\": 1}", &r);
	expect(&r, 400, "unknown field `extra`");
	http(f, "PUT", "/actions", "{\"action_type\": 7}", &r);
	expect(&r, 400, "actions.action_type");
	http(f, "PATCH", "/drives/x", "[]", &r);
	expect(&r, 400, "JSON object");
	static char big[60000 + 1];
	memset(big, ' ', sizeof(big) - 1);
	big[0] = '{';
	big[sizeof(big) - 2] = '}';
	http(f, "PATCH", "/vm", big, &r);
	expect(&r, 400, "larger than the limit");
	raw(f, "GARBAGE\r\n\r\n", 11, &r);
	assert_true(r.status == 0 || r.status >= 400);
	http(f, "GET", "/", NULL, &r);
	expect(&r, 200, "\"state\":\"Running\"");
	/* paused again: teardown stops the paused guest */
	http(f, "PATCH", "/vm", "{\"state\": \"Paused\"}", &r);
	expect(&r, 204, NULL);
}

/* InstanceStart of a guest that exits: the result and the Stopped state. */
static void test_guest_exit(void **state)
{
	struct fixture *f = *state;
	if (!have_kvm())
		skip();
	char dir[160], sock[200], kern[200];
	snprintf(dir, sizeof(dir), "%s", f->dir);
	snprintf(sock, sizeof(sock), "%s/exit.sock", dir);
	snprintf(kern, sizeof(kern), "%s/exit.elf", dir);
	static const uint8_t code[] = { 0xb0, 0x2a, 0xe6, 0xf4 };	/* out 42 to 0xf4 */
	write_guest_elf(kern, code, sizeof(code));
	struct skiff_config base;
	skiff_config_default(&base);
	base.console_in = -1;
	base.console_out = -1;
	base.log_level = 0;
	struct api_vmm *vmm;
	struct api_http *h;
	struct skiff_err e = { { 0 } };
	assert_int_equal(api_vmm_create(&base, NULL, &vmm), 0);
	assert_int_equal(api_http_start(sock, vmm, 0, &h, &e), 0);
	struct fixture g = *f;
	snprintf(g.sock, sizeof(g.sock), "%s", sock);
	struct resp r;
	char b[300];
	snprintf(b, sizeof(b), "{\"kernel_image_path\": \"%s\"}", kern);
	http(&g, "PUT", "/boot-source", b, &r);
	expect(&r, 204, NULL);
	http(&g, "PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 16}", &r);
	expect(&r, 204, NULL);
	http(&g, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", &r);
	expect(&r, 204, NULL);
	struct pollfd p = { .fd = api_vmm_stopped_fd(vmm), .events = POLLIN };
	assert_int_equal(poll(&p, 1, 30000), 1);
	struct skiff_result res;
	assert_true(api_vmm_result(vmm, &res));
	assert_int_equal(res.reason, VM_STOP_DEBUG_EXIT);
	assert_int_equal(skiff_exit_status(&res), 42);
	http(&g, "GET", "/", NULL, &r);
	expect(&r, 200, "\"state\":\"Stopped\"");
	http(&g, "PATCH", "/vm", "{\"state\": \"Paused\"}", &r);
	expect(&r, 400, "stopped");
	http(&g, "PUT", "/actions", "{\"action_type\": \"SendCtrlAltDel\"}", &r);
	expect(&r, 400, "SendCtrlAltDel: the microVM has stopped");
	http(&g, "PUT", "/actions", "{\"action_type\": \"skiff_power_button\"}", &r);
	expect(&r, 400, "skiff_power_button: the microVM has stopped");
	api_http_stop(h);
	api_vmm_destroy(vmm);
	unlink(kern);
}

/* Admission hook for test_admit_and_stop: refuses while *refuse, records
 * each call (cfg's memory, or 0 for a withdrawal). */
struct admit_log {
	bool refuse;
	int calls;
	uint64_t last_mem;
	bool withdrawn;
};

static int admit_hook(void *ctx, const struct skiff_config *cfg, struct skiff_err *e)
{
	struct admit_log *l = ctx;
	l->calls++;
	if (!cfg) {
		l->withdrawn = true;
		return 0;
	}
	l->last_mem = cfg->mem_mib;
	if (l->refuse)
		return skiff_fail(e, EDQUOT, "host limit: test says no");
	return 0;
}

/* The admission hook at InstanceStart (refusal as 400, withdrawal when the
 * VM cannot be created) and the skiff_stop action (VM_STOP_HOST, exit 0). */
static void test_admit_and_stop(void **state)
{
	struct fixture *f = *state;
	if (!have_kvm())
		skip();
	char sock[200], kern[200], bad[200];
	snprintf(sock, sizeof(sock), "%s/admit.sock", f->dir);
	snprintf(kern, sizeof(kern), "%s/halt.elf", f->dir);
	snprintf(bad, sizeof(bad), "%s/empty.elf", f->dir);
	static const uint8_t code[] = { 0xfa, 0xf4, 0xeb, 0xfc };	/* cli; hlt; jmp .-4 */
	write_guest_elf(kern, code, sizeof(code));
	fclose(fopen(bad, "w"));
	struct skiff_config base;
	skiff_config_default(&base);
	base.console_in = -1;
	base.console_out = -1;
	base.log_level = 0;
	struct api_vmm *vmm;
	struct api_http *h;
	struct skiff_err e = { { 0 } };
	struct admit_log log = { .refuse = true };
	assert_int_equal(api_vmm_create(&base, "vm-1", &vmm), 0);
	api_vmm_set_admit(vmm, admit_hook, &log);
	assert_int_equal(api_http_start(sock, vmm, 0, &h, &e), 0);
	struct fixture g = *f;
	snprintf(g.sock, sizeof(g.sock), "%s", sock);
	struct resp r;
	char b[300];
	http(&g, "PUT", "/actions", "{\"action_type\": \"skiff_stop\"}", &r);
	expect(&r, 400, "before starting");
	http(&g, "PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 24}", &r);
	expect(&r, 204, NULL);
	/* an unloadable kernel: admitted, then withdrawn */
	snprintf(b, sizeof(b), "{\"kernel_image_path\": \"%s\"}", bad);
	http(&g, "PUT", "/boot-source", b, &r);
	expect(&r, 204, NULL);
	log.refuse = false;
	http(&g, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", &r);
	expect(&r, 400, "InstanceStart: ");
	assert_int_equal(log.calls, 2);
	assert_true(log.withdrawn);
	snprintf(b, sizeof(b), "{\"kernel_image_path\": \"%s\"}", kern);
	http(&g, "PUT", "/boot-source", b, &r);
	expect(&r, 204, NULL);
	log.refuse = true;
	http(&g, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", &r);
	expect(&r, 400, "InstanceStart: host limit: test says no");
	assert_int_equal(log.last_mem, 24);
	http(&g, "GET", "/", NULL, &r);
	expect(&r, 200, "Not started");
	log.refuse = false;
	http(&g, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", &r);
	expect(&r, 204, NULL);
	http(&g, "GET", "/", NULL, &r);
	expect(&r, 200, "\"id\":\"vm-1\"");
	http(&g, "PUT", "/actions", "{\"action_type\": \"skiff_stop\"}", &r);
	expect(&r, 204, NULL);
	struct pollfd p = { .fd = api_vmm_stopped_fd(vmm), .events = POLLIN };
	assert_int_equal(poll(&p, 1, 30000), 1);
	struct skiff_result res;
	assert_true(api_vmm_result(vmm, &res));
	assert_int_equal(res.reason, VM_STOP_HOST);
	assert_int_equal(skiff_exit_status(&res), 0);
	http(&g, "PUT", "/actions", "{\"action_type\": \"skiff_stop\"}", &r);
	expect(&r, 400, "stopped");
	api_http_stop(h);
	api_vmm_destroy(vmm);
	unlink(kern);
	unlink(bad);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_info_version),
		cmocka_unit_test(test_preboot_endpoints),
		cmocka_unit_test(test_not_found_method),
		cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_instance_start_errors),
		cmocka_unit_test(test_instance_start_unconfigured),
		cmocka_unit_test(test_postboot),
		cmocka_unit_test(test_guest_exit),
		cmocka_unit_test(test_admit_and_stop),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
