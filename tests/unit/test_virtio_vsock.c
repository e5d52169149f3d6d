/* virtio-vsock (src/dev/virtio_vsock.c, vsock_conn.c) with the test playing
 * the guest driver on real guest RAM and a running I/O loop
 * (tests/unit/vdrv.h), and real AF_UNIX sockets on the host side:
 * host-initiated connections (CONNECT <port> / OK <hostport>), guest-initiated
 * ones to <uds_path>_<port>, data both ways with credit accounting, closing,
 * limits, device reset, hostile packets, and the listener's set-up errors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "dev/virtio_vsock.h"
#include "dev/vsock_hdr.h"
#include "vdrv.h"

#define CID		3
#define RXBUF		(4096 + VSOCK_HDR_LEN)
#define NRX		32
#define WAIT_MS		3000
#define QUIET_MS	60	/* "nothing happens" */
#define RX		VSOCK_QUEUE_RX
#define TX		VSOCK_QUEUE_TX

struct fx {
	struct vdrv d;
	struct virtio_vsock *vs;
	char dir[64];
	char uds[80];
	uint64_t tx_gpa;		/* one TX buffer, reused (we wait for each) */
	uint8_t payload[VSOCK_MAX_PAYLOAD];
	int extra_fds[VSOCK_MAX_CONNS + 8];
	int nextra;
};

/* A packet the device put on the RX queue. */
struct pkt {
	struct vsock_hdr h;
	uint32_t used_len;
	uint8_t data[4096];
};

static struct vsock_hdr hdr(uint32_t src_port, uint32_t dst_port, uint16_t op)
{
	return (struct vsock_hdr){ .src_cid = CID, .dst_cid = VSOCK_HOST_CID,
				   .src_port = src_port, .dst_port = dst_port,
				   .type = VSOCK_TYPE_STREAM, .op = op, .buf_alloc = 65536 };
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_int_equal(vdrv_init(&f->d), 0);
	strcpy(f->dir, "/tmp/skiff-vsock-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->uds, sizeof(f->uds), "%s/v.sock", f->dir);
	struct skiff_vsock_config cfg = { .guest_cid = CID, .uds_path = f->uds };
	struct skiff_err e = { { 0 } };
	int r = virtio_vsock_create(&cfg, &f->d.host, &f->vs, &e);
	if (r)
		fprintf(stderr, "%s\n", e.msg);
	assert_int_equal(r, 0);
	struct virtio_device *vd = virtio_vsock_vdev(f->vs);
	assert_int_equal(vd->ops->device_id, VIRTIO_ID_VSOCK);
	assert_int_equal(vd->config_len, 8);
	uint64_t cid;
	memcpy(&cid, vd->config, 8);
	assert_int_equal(cid, CID);
	assert_int_equal(vdrv_start(&f->d, vd, 1ull << VIRTIO_VSOCK_F_STREAM, 3), 0);
	f->tx_gpa = vdrv_alloc(&f->d, VSOCK_HDR_LEN + VSOCK_MAX_PAYLOAD + 64);
	for (int i = 0; i < NRX; i++) {
		struct vdrv_buf b = { vdrv_alloc(&f->d, RXBUF), RXBUF, true };
		vdrv_post(&f->d, RX, &b, 1);
	}
	vdrv_kick(&f->d, RX);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	virtio_vsock_destroy(f->vs);
	struct stat st;
	assert_int_not_equal(stat(f->uds, &st), 0);	/* socket file removed */
	for (int i = 0; i < f->nextra; i++)
		close(f->extra_fds[i]);
	vdrv_fini(&f->d);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void decode(const uint8_t *p, struct vsock_hdr *h)
{
	memcpy(&h->src_cid, p, 8);
	memcpy(&h->dst_cid, p + 8, 8);
	memcpy(&h->src_port, p + 16, 4);
	memcpy(&h->dst_port, p + 20, 4);
	memcpy(&h->len, p + 24, 4);
	memcpy(&h->type, p + 28, 2);
	memcpy(&h->op, p + 30, 2);
	memcpy(&h->flags, p + 32, 4);
	memcpy(&h->buf_alloc, p + 36, 4);
	memcpy(&h->fwd_cnt, p + 40, 4);
}

/* Next packet from the device (its RX buffer goes back on the queue). */
static bool rx_pkt(struct fx *f, struct pkt *p, unsigned timeout_ms)
{
	uint32_t id, len;
	if (!vdrv_wait_used(&f->d, RX, &id, &len, timeout_ms))
		return false;
	uint64_t gpa = vdrv_desc_addr(&f->d, RX, id);
	const uint8_t *b = vdrv_ptr(&f->d, gpa, RXBUF);
	assert_true(len >= VSOCK_HDR_LEN && len <= RXBUF);
	decode(b, &p->h);
	p->used_len = len;
	assert_int_equal(p->h.len, len - VSOCK_HDR_LEN);
	assert_int_equal(p->h.src_cid, VSOCK_HOST_CID);
	assert_int_equal(p->h.dst_cid, CID);
	assert_int_equal(p->h.type, VSOCK_TYPE_STREAM);
	memcpy(p->data, b + VSOCK_HDR_LEN, p->h.len);
	memset(vdrv_ptr(&f->d, gpa, RXBUF), 0, RXBUF);
	struct vdrv_buf again = { gpa, RXBUF, true };
	vdrv_add(&f->d, RX, &again, 1);
	return true;
}

static struct pkt *expect(struct fx *f, uint16_t op)
{
	static struct pkt p;
	assert_true(rx_pkt(f, &p, WAIT_MS));
	if (p.h.op != op)
		fprintf(stderr, "expected op %u, got op %u (len %u flags %u)\n", op, p.h.op,
			p.h.len, p.h.flags);
	assert_int_equal(p.h.op, op);
	return &p;
}

static void expect_nothing(struct fx *f)
{
	struct pkt p;
	bool got = rx_pkt(f, &p, QUIET_MS);
	if (got)
		fprintf(stderr, "unexpected op %u %u->%u\n", p.h.op, p.h.src_port, p.h.dst_port);
	assert_false(got);
}

/* Send raw bytes as one TX chain split into `ndesc` descriptors (1 or 2:
 * header, payload) and wait for the device to take it. */
static void tx_raw(struct fx *f, const void *bytes, uint32_t len, int ndesc)
{
	memcpy(vdrv_ptr(&f->d, f->tx_gpa, len ? len : 1), bytes, len);
	struct vdrv_buf b[2] = { { f->tx_gpa, len, false } };
	if (ndesc == 2 && len > VSOCK_HDR_LEN) {
		b[0].len = VSOCK_HDR_LEN;
		b[1] = (struct vdrv_buf){ f->tx_gpa + VSOCK_HDR_LEN, len - VSOCK_HDR_LEN, false };
	} else {
		ndesc = 1;
	}
	vdrv_add(&f->d, TX, b, (unsigned)ndesc);
	assert_true(vdrv_wait_used(&f->d, TX, NULL, NULL, WAIT_MS));
}

static void tx(struct fx *f, struct vsock_hdr h, const void *data, uint32_t len)
{
	static uint8_t buf[VSOCK_HDR_LEN + VSOCK_MAX_PAYLOAD];
	h.len = len;
	vsock_hdr_encode(&h, buf);
	if (len)
		memcpy(buf + VSOCK_HDR_LEN, data, len);
	tx_raw(f, buf, VSOCK_HDR_LEN + len, 2);
}

static int client_connect(struct fx *f)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->uds);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void send_all(int fd, const void *p, size_t n)
{
	assert_int_equal(send(fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Read exactly n bytes (or until EOF/timeout); returns the count. */
static size_t recv_n(int fd, void *buf, size_t n, unsigned timeout_ms)
{
	size_t got = 0;
	while (got < n) {
		struct pollfd p = { fd, POLLIN, 0 };
		if (poll(&p, 1, (int)timeout_ms) <= 0)
			break;
		ssize_t r = recv(fd, (char *)buf + got, n - got, 0);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	return got;
}

/* The peer closed: EOF, or ECONNRESET when it closed with our bytes unread. */
static bool at_eof(int fd, unsigned timeout_ms)
{
	char c;
	struct pollfd p = { fd, POLLIN, 0 };
	if (poll(&p, 1, (int)timeout_ms) <= 0)
		return false;
	ssize_t r = recv(fd, &c, 1, MSG_DONTWAIT);
	return r == 0 || (r < 0 && errno == ECONNRESET);
}

static void read_line(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	while (n + 1 < cap) {
		assert_int_equal(recv_n(fd, buf + n, 1, WAIT_MS), 1);
		if (buf[n++] == '\n')
			break;
	}
	buf[n] = 0;
}

static struct virtio_vsock_counters counters(struct fx *f)
{
	struct virtio_vsock_counters c;
	virtio_vsock_counters(f->vs, &c);
	return c;
}

/* Host-initiated connection to guest port `port` with the guest granting
 * `buf_alloc`: returns the client fd, the host port in *hostport. */
static int host_open(struct fx *f, uint32_t port, uint32_t buf_alloc, uint32_t *hostport)
{
	int fd = client_connect(f);
	char line[64];
	snprintf(line, sizeof(line), "CONNECT %u\n", port);
	send_all(fd, line, strlen(line));
	struct pkt *p = expect(f, VSOCK_OP_REQUEST);
	assert_int_equal(p->h.dst_port, port);
	assert_true(p->h.src_port >= (1u << 30));
	assert_int_equal(p->h.buf_alloc, VSOCK_CONN_BUF);
	assert_int_equal(p->h.fwd_cnt, 0);
	*hostport = p->h.src_port;
	struct vsock_hdr r = hdr(port, *hostport, VSOCK_OP_RESPONSE);
	r.buf_alloc = buf_alloc;
	tx(f, r, NULL, 0);
	read_line(fd, line, sizeof(line));
	char want[32];
	snprintf(want, sizeof(want), "OK %u\n", *hostport);
	assert_string_equal(line, want);
	return fd;
}

static void test_host_initiated(void **state)
{
	struct fx *f = *state;
	uint32_t hp;
	int fd = host_open(f, 1234, 65536, &hp);

	/* host -> guest */
	send_all(fd, "hello", 5);
	struct pkt *p = expect(f, VSOCK_OP_RW);
	assert_int_equal(p->h.src_port, hp);
	assert_int_equal(p->h.dst_port, 1234);
	assert_int_equal(p->h.len, 5);
	assert_memory_equal(p->data, "hello", 5);

	/* guest -> host, header and payload in one descriptor and in two */
	struct vsock_hdr w = hdr(1234, hp, VSOCK_OP_RW);
	tx(f, w, "world", 5);
	static uint8_t one[VSOCK_HDR_LEN + 3];
	w.len = 3;
	vsock_hdr_encode(&w, one);
	memcpy(one + VSOCK_HDR_LEN, "!!!", 3);
	tx_raw(f, one, sizeof(one), 1);
	char buf[16];
	assert_int_equal(recv_n(fd, buf, 8, WAIT_MS), 8);
	assert_memory_equal(buf, "world!!!", 8);

	/* The device's fwd_cnt counts what reached the host: ask for it. */
	struct vsock_hdr cr = hdr(1234, hp, VSOCK_OP_CREDIT_REQUEST);
	tx(f, cr, NULL, 0);
	p = expect(f, VSOCK_OP_CREDIT_UPDATE);
	assert_int_equal(p->h.fwd_cnt, 8);
	assert_int_equal(p->h.buf_alloc, VSOCK_CONN_BUF);

	struct virtio_vsock_counters c = counters(f);
	assert_int_equal(c.conns_host, 1);
	assert_int_equal(c.conns_open, 1);
	assert_int_equal(c.tx_bytes, 8);
	assert_int_equal(c.rx_bytes, 5);
	assert_int_equal(c.bad_packets, 0);
	assert_true(vdrv_irqs(&f->d, RX) >= 1);
	assert_true(vdrv_irqs(&f->d, TX) >= 1);

	/* The host closes: SHUTDOWN both ways; the guest answers RST. */
	close(fd);
	p = expect(f, VSOCK_OP_SHUTDOWN);
	assert_int_equal(p->h.flags, VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND);
	tx(f, hdr(1234, hp, VSOCK_OP_RST), NULL, 0);
	expect_nothing(f);
	c = counters(f);
	assert_int_equal(c.conns_open, 0);
	assert_int_equal(c.rst_received, 1);
}

static void test_host_half_close(void **state)
{
	struct fx *f = *state;
	uint32_t hp;
	int fd = host_open(f, 77, 65536, &hp);
	send_all(fd, "abc", 3);
	shutdown(fd, SHUT_WR);
	struct pkt *p = expect(f, VSOCK_OP_RW);
	assert_int_equal(p->h.len, 3);
	p = expect(f, VSOCK_OP_SHUTDOWN);
	assert_int_equal(p->h.flags, VSOCK_SHUTDOWN_SEND);
	/* The host can still receive. */
	tx(f, hdr(77, hp, VSOCK_OP_RW), "xyz", 3);
	char buf[4];
	assert_int_equal(recv_n(fd, buf, 3, WAIT_MS), 3);
	assert_memory_equal(buf, "xyz", 3);
	/* Guest closes too: SHUTDOWN both -> device RST, the host sees EOF. */
	struct vsock_hdr s = hdr(77, hp, VSOCK_OP_SHUTDOWN);
	s.flags = VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND;
	tx(f, s, NULL, 0);
	expect(f, VSOCK_OP_RST);
	assert_true(at_eof(fd, WAIT_MS));
	close(fd);
	assert_int_equal(counters(f).conns_open, 0);
}

static void test_guest_refuses(void **state)
{
	struct fx *f = *state;
	int fd = client_connect(f);
	send_all(fd, "CONNECT 9\n", 10);
	struct pkt *p = expect(f, VSOCK_OP_REQUEST);
	tx(f, hdr(9, p->h.src_port, VSOCK_OP_RST), NULL, 0);
	assert_true(at_eof(fd, WAIT_MS));	/* no OK line: closed */
	close(fd);
	struct virtio_vsock_counters c = counters(f);
	assert_int_equal(c.conns_refused, 1);
	assert_int_equal(c.conns_open, 0);
}

static void test_bad_connect_line(void **state)
{
	struct fx *f = *state;
	const char *bad[] = { "HELLO\n", "CONNECT\n", "CONNECT x1\n", "CONNECT 99999999999\n",
			      "CONNECT 1234567890123456789012345678901234567890\n" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int fd = client_connect(f);
		send_all(fd, bad[i], strlen(bad[i]));
		assert_true(at_eof(fd, WAIT_MS));
		close(fd);
	}
	expect_nothing(f);
	assert_int_equal(counters(f).bad_connect_lines, 5);
	/* "\r\n" line ends are fine */
	int fd = client_connect(f);
	send_all(fd, "CONNECT 5\r\n", 11);
	assert_int_equal(expect(f, VSOCK_OP_REQUEST)->h.dst_port, 5);
	close(fd);
}

static void test_credit_host_to_guest(void **state)
{
	struct fx *f = *state;
	uint32_t hp;
	int fd = host_open(f, 1234, 16, &hp);	/* the guest grants 16 bytes */
	uint8_t data[40];
	for (int i = 0; i < 40; i++)
		data[i] = (uint8_t)i;
	send_all(fd, data, sizeof(data));

	uint32_t got = 0;
	struct pkt *p;
	while (got < 16) {
		p = expect(f, VSOCK_OP_RW);
		assert_memory_equal(p->data, data + got, p->h.len);
		got += p->h.len;
	}
	assert_int_equal(got, 16);
	/* Out of credit: the device asks for more and sends no data. */
	expect(f, VSOCK_OP_CREDIT_REQUEST);
	expect_nothing(f);

	/* The guest consumed 10 bytes: 10 more may come. */
	struct vsock_hdr u = hdr(1234, hp, VSOCK_OP_CREDIT_UPDATE);
	u.buf_alloc = 16;
	u.fwd_cnt = 10;
	tx(f, u, NULL, 0);
	while (got < 26) {
		p = expect(f, VSOCK_OP_RW);
		assert_memory_equal(p->data, data + got, p->h.len);
		got += p->h.len;
	}
	assert_int_equal(got, 26);
	expect(f, VSOCK_OP_CREDIT_REQUEST);
	expect_nothing(f);

	/* A lying fwd_cnt (more consumed than ever sent) grants nothing. */
	u.fwd_cnt = 1000;
	tx(f, u, NULL, 0);
	expect_nothing(f);
	/* A bigger window lets the rest through. */
	u.buf_alloc = 65536;
	u.fwd_cnt = 26;
	tx(f, u, NULL, 0);
	while (got < 40) {
		p = expect(f, VSOCK_OP_RW);
		assert_memory_equal(p->data, data + got, p->h.len);
		got += p->h.len;
	}
	expect_nothing(f);
	close(fd);
}

static void test_credit_guest_to_host(void **state)
{
	struct fx *f = *state;
	uint32_t hp;
	int fd = host_open(f, 1234, 65536, &hp);
	/* The client reads nothing: the socket fills, then the device's buffer
	 * (VSOCK_CONN_BUF, the credit it granted); beyond that the guest is
	 * over its credit and gets RST. Memory stays bounded. */
	memset(f->payload, 0xab, sizeof(f->payload));
	struct vsock_hdr w = hdr(1234, hp, VSOCK_OP_RW);
	uint64_t sent = 0;
	int i;
	struct pkt p;
	bool rst = false;
	for (i = 0; i < 64 && !rst; i++) {
		tx(f, w, f->payload, VSOCK_MAX_PAYLOAD);
		sent += VSOCK_MAX_PAYLOAD;
		while (rx_pkt(f, &p, 5)) {
			if (p.h.op == VSOCK_OP_RST)
				rst = true;
			else
				assert_int_equal(p.h.op, VSOCK_OP_CREDIT_UPDATE);
		}
	}
	if (!rst)
		rst = rx_pkt(f, &p, WAIT_MS) && p.h.op == VSOCK_OP_RST;
	assert_true(rst);
	struct virtio_vsock_counters c = counters(f);
	assert_int_equal(c.credit_violations, 1);
	assert_int_equal(c.conns_open, 0);
	assert_true(c.tx_bytes <= sent - VSOCK_MAX_PAYLOAD);	/* the last packet was refused */
	/* The client gets what reached its socket, then EOF; what the device
	 * held (dropped with the RST) never exceeded VSOCK_CONN_BUF. */
	static uint8_t sink[1 << 20];
	size_t n, total = 0;
	while ((n = recv_n(fd, sink, sizeof(sink), 200)) > 0)
		total += n;
	assert_true(total <= c.tx_bytes);
	assert_true(c.tx_bytes - total <= VSOCK_CONN_BUF);
	for (size_t k = 0; k < total && k < sizeof(sink); k++)
		assert_int_equal(sink[k], 0xab);
	close(fd);
}

static int listen_at(struct fx *f, uint32_t port)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", f->uds, port);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 8), 0);
	return fd;
}

static void test_guest_initiated(void **state)
{
	struct fx *f = *state;
	int lfd = listen_at(f, 5000);
	struct vsock_hdr rq = hdr(777, 5000, VSOCK_OP_REQUEST);
	tx(f, rq, NULL, 0);
	struct pkt *p = expect(f, VSOCK_OP_RESPONSE);
	assert_int_equal(p->h.src_port, 5000);
	assert_int_equal(p->h.dst_port, 777);
	int fd = accept(lfd, NULL, NULL);
	assert_true(fd >= 0);

	tx(f, hdr(777, 5000, VSOCK_OP_RW), "ping", 4);
	char buf[8];
	assert_int_equal(recv_n(fd, buf, 4, WAIT_MS), 4);
	assert_memory_equal(buf, "ping", 4);
	send_all(fd, "pong", 4);
	p = expect(f, VSOCK_OP_RW);
	assert_int_equal(p->h.len, 4);
	assert_memory_equal(p->data, "pong", 4);
	assert_int_equal(p->h.fwd_cnt, 4);	/* the 4 bytes of "ping" reached the host */

	/* A second REQUEST for the same pair is a protocol error: reset. */
	tx(f, rq, NULL, 0);
	expect(f, VSOCK_OP_RST);
	assert_true(at_eof(fd, WAIT_MS));
	close(fd);

	/* Guest closes a fresh connection: flushed, then RST. */
	tx(f, hdr(778, 5000, VSOCK_OP_REQUEST), NULL, 0);
	expect(f, VSOCK_OP_RESPONSE);
	fd = accept(lfd, NULL, NULL);
	tx(f, hdr(778, 5000, VSOCK_OP_RW), "bye", 3);
	struct vsock_hdr s = hdr(778, 5000, VSOCK_OP_SHUTDOWN);
	s.flags = VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND;
	tx(f, s, NULL, 0);
	expect(f, VSOCK_OP_RST);
	assert_int_equal(recv_n(fd, buf, 3, WAIT_MS), 3);
	assert_memory_equal(buf, "bye", 3);
	assert_true(at_eof(fd, WAIT_MS));
	close(fd);
	close(lfd);
	struct virtio_vsock_counters c = counters(f);
	assert_int_equal(c.conns_guest, 2);
	assert_int_equal(c.conns_open, 0);
}

static void test_guest_connect_refused(void **state)
{
	struct fx *f = *state;
	tx(f, hdr(777, 5001, VSOCK_OP_REQUEST), NULL, 0);	/* nothing at <uds>_5001 */
	struct pkt *p = expect(f, VSOCK_OP_RST);
	assert_int_equal(p->h.src_port, 5001);
	assert_int_equal(p->h.dst_port, 777);
	assert_int_equal(counters(f).conns_refused, 1);
	assert_int_equal(counters(f).conns_open, 0);
}

static void test_hostile_packets(void **state)
{
	struct fx *f = *state;
	uint8_t raw[VSOCK_HDR_LEN + 16] = { 0 };
	struct vsock_hdr h;

	/* shorter than a header: dropped silently */
	tx_raw(f, raw, 10, 1);
	expect_nothing(f);
	/* no readable bytes at all: only a writable buffer */
	struct vdrv_buf wb = { f->tx_gpa, 64, true };
	vdrv_add(&f->d, TX, &wb, 1);
	assert_true(vdrv_wait_used(&f->d, TX, NULL, NULL, WAIT_MS));
	expect_nothing(f);

	/* spoofed source CID: dropped, never answered */
	h = hdr(1, 2, VSOCK_OP_REQUEST);
	h.src_cid = 42;
	tx(f, h, NULL, 0);
	expect_nothing(f);
	h.src_cid = CID | (1ull << 32);		/* reserved upper bits */
	tx(f, h, NULL, 0);
	expect_nothing(f);
	/* not for the host: dropped */
	h = hdr(1, 2, VSOCK_OP_REQUEST);
	h.dst_cid = 9;
	tx(f, h, NULL, 0);
	expect_nothing(f);

	/* wrong type, unknown op, INVALID op, payload on a control op: RST */
	h = hdr(11, 12, VSOCK_OP_REQUEST);
	h.type = VSOCK_TYPE_SEQPACKET;
	tx(f, h, NULL, 0);
	struct pkt *p = expect(f, VSOCK_OP_RST);
	assert_int_equal(p->h.src_port, 12);
	assert_int_equal(p->h.dst_port, 11);
	h = hdr(11, 12, 99);
	tx(f, h, NULL, 0);
	expect(f, VSOCK_OP_RST);
	h = hdr(11, 12, VSOCK_OP_INVALID);
	tx(f, h, NULL, 0);
	expect(f, VSOCK_OP_RST);
	tx(f, hdr(11, 12, VSOCK_OP_REQUEST), "x", 1);
	expect(f, VSOCK_OP_RST);

	/* payload length beyond the chain, and beyond 64 KiB */
	h = hdr(11, 12, VSOCK_OP_RW);
	h.len = 1000;
	vsock_hdr_encode(&h, raw);
	tx_raw(f, raw, sizeof(raw), 2);
	expect(f, VSOCK_OP_RST);
	h.len = 0xffffffff;
	vsock_hdr_encode(&h, raw);
	tx_raw(f, raw, sizeof(raw), 1);
	expect(f, VSOCK_OP_RST);

	/* packets for no connection: RST; an RST for none: nothing */
	tx(f, hdr(11, 12, VSOCK_OP_RW), "data", 4);
	expect(f, VSOCK_OP_RST);
	tx(f, hdr(11, 12, VSOCK_OP_CREDIT_UPDATE), NULL, 0);
	expect(f, VSOCK_OP_RST);
	tx(f, hdr(11, 12, VSOCK_OP_RESPONSE), NULL, 0);
	expect(f, VSOCK_OP_RST);
	tx(f, hdr(11, 12, VSOCK_OP_RST), NULL, 0);
	expect_nothing(f);

	/* RW before the guest answered a host REQUEST: the connection is reset. */
	int fd = client_connect(f);
	send_all(fd, "CONNECT 40\n", 11);
	p = expect(f, VSOCK_OP_REQUEST);
	uint32_t hp = p->h.src_port;
	tx(f, hdr(40, hp, VSOCK_OP_RW), "early", 5);
	expect(f, VSOCK_OP_RST);
	assert_true(at_eof(fd, WAIT_MS));
	close(fd);

	struct virtio_vsock_counters c = counters(f);
	assert_int_equal(c.bad_packets, 15);
	assert_int_equal(c.conns_open, 0);
	assert_false(vdrv_status(&f->d) & VIRTIO_STATUS_NEEDS_RESET);

	/* Still serving. */
	int lfd = listen_at(f, 6000);
	tx(f, hdr(900, 6000, VSOCK_OP_REQUEST), NULL, 0);
	expect(f, VSOCK_OP_RESPONSE);
	close(lfd);
}

static void test_rst_ring_backpressure(void **state)
{
	struct fx *f = *state;
	/* Many unanswerable packets while the guest offers no RX buffers: the
	 * RSTs wait in a small ring, TX stops being consumed, nothing grows. */
	struct pkt p;
	while (rx_pkt(f, &p, 0))
		;
	/* Take all RX buffers away: reset and set up again with an empty RX. */
	virtio_device_reset(virtio_vsock_vdev(f->vs));
	assert_int_equal(vdrv_start(&f->d, virtio_vsock_vdev(f->vs), 1ull << VIRTIO_VSOCK_F_STREAM, 3), 0);
	static uint8_t raw[VDRV_QSZ][VSOCK_HDR_LEN];
	uint64_t base = vdrv_alloc(&f->d, VDRV_QSZ * VSOCK_HDR_LEN);
	for (int i = 0; i < VDRV_QSZ; i++) {
		struct vsock_hdr h = hdr(100 + (uint32_t)i, 7, VSOCK_OP_RW);
		vsock_hdr_encode(&h, raw[i]);
		memcpy(vdrv_ptr(&f->d, base + (uint64_t)i * VSOCK_HDR_LEN, VSOCK_HDR_LEN), raw[i],
		       VSOCK_HDR_LEN);
		struct vdrv_buf b = { base + (uint64_t)i * VSOCK_HDR_LEN, VSOCK_HDR_LEN, false };
		vdrv_post(&f->d, TX, &b, 1);
	}
	vdrv_kick(&f->d, TX);
	unsigned taken = 0;
	while (vdrv_wait_used(&f->d, TX, NULL, NULL, QUIET_MS))
		taken++;
	assert_true(taken < VDRV_QSZ);		/* stalled on the full ring */
	/* RX buffers arrive: the RSTs flow and TX resumes. */
	uint64_t rxb = vdrv_alloc(&f->d, VDRV_QSZ * 64);
	for (int i = 0; i < VDRV_QSZ - 1; i++) {
		struct vdrv_buf b = { rxb + (uint64_t)i * 64, 64, true };
		vdrv_post(&f->d, RX, &b, 1);
	}
	vdrv_kick(&f->d, RX);
	while (taken < VDRV_QSZ && vdrv_wait_used(&f->d, TX, NULL, NULL, WAIT_MS))
		taken++;
	assert_int_equal(taken, VDRV_QSZ);
	unsigned rsts = 0;
	uint32_t id, len;
	while (vdrv_wait_used(&f->d, RX, &id, &len, QUIET_MS))
		rsts++;
	assert_int_equal(rsts, VDRV_QSZ - 1);	/* one still waits for a buffer */
	assert_int_equal(counters(f).rst_sent, VDRV_QSZ - 1);
}

static void test_bad_rx_buffer(void **state)
{
	struct fx *f = *state;
	virtio_device_reset(virtio_vsock_vdev(f->vs));
	assert_int_equal(vdrv_start(&f->d, virtio_vsock_vdev(f->vs), 1ull << VIRTIO_VSOCK_F_STREAM, 3), 0);
	struct vdrv_buf b = { vdrv_alloc(&f->d, 128), 128, false };	/* device-readable */
	vdrv_add(&f->d, RX, &b, 1);
	tx(f, hdr(1, 2, VSOCK_OP_RW), NULL, 0);	/* wants an RST */
	for (int i = 0; i < 200 && !(vdrv_status(&f->d) & VIRTIO_STATUS_NEEDS_RESET); i++)
		poll(NULL, 0, 5);
	assert_true(vdrv_status(&f->d) & VIRTIO_STATUS_NEEDS_RESET);
	assert_true(vdrv_irqs(&f->d, 0xffff) >= 1);
}

static void test_reset_closes_connections(void **state)
{
	struct fx *f = *state;
	uint32_t hp;
	int fd = host_open(f, 1234, 65536, &hp);
	int lfd = listen_at(f, 5000);
	tx(f, hdr(777, 5000, VSOCK_OP_REQUEST), NULL, 0);
	expect(f, VSOCK_OP_RESPONSE);
	int gfd = accept(lfd, NULL, NULL);
	assert_int_equal(counters(f).conns_open, 2);

	virtio_device_reset(virtio_vsock_vdev(f->vs));
	assert_true(at_eof(fd, WAIT_MS));
	assert_true(at_eof(gfd, WAIT_MS));
	assert_int_equal(counters(f).conns_open, 0);
	close(fd);
	close(gfd);
	close(lfd);
	/* The listener survives a reset. */
	fd = client_connect(f);
	close(fd);
}

static void test_connection_limit(void **state)
{
	struct fx *f = *state;
	for (int i = 0; i < VSOCK_MAX_CONNS; i++)
		f->extra_fds[f->nextra++] = client_connect(f);
	/* each waits in the CONNECT-line state; give the loop time to accept */
	for (int i = 0; i < 200 && counters(f).conns_open < VSOCK_MAX_CONNS; i++)
		poll(NULL, 0, 5);
	assert_int_equal(counters(f).conns_open, VSOCK_MAX_CONNS);
	int fd = client_connect(f);
	assert_true(at_eof(fd, WAIT_MS));	/* over the limit: closed */
	close(fd);
	tx(f, hdr(5, 6, VSOCK_OP_REQUEST), NULL, 0);
	expect(f, VSOCK_OP_RST);
	struct virtio_vsock_counters c = counters(f);
	assert_int_equal(c.conns_over_limit, 2);
	assert_int_equal(c.conns_open, VSOCK_MAX_CONNS);
}

/* Listener set-up: clear errors, stale sockets removed. */
static void test_uds_setup(void **state)
{
	struct fx *f = *state;
	struct skiff_err e = { { 0 } };
	struct virtio_vsock *v = NULL;
	char path[160];
	struct skiff_vsock_config cfg = { .guest_cid = 4, .uds_path = path };

	snprintf(path, sizeof(path), "%s/missing/v.sock", f->dir);
	assert_int_equal(virtio_vsock_create(&cfg, &f->d.host, &v, &e), -ENOENT);
	assert_non_null(strstr(e.msg, "does not exist"));

	/* in use by a live listener (ours, from setup) */
	cfg.uds_path = f->uds;
	assert_int_equal(virtio_vsock_create(&cfg, &f->d.host, &v, &e), -EADDRINUSE);
	assert_non_null(strstr(e.msg, "in use"));

	/* a regular file is never removed */
	snprintf(path, sizeof(path), "%s/file", f->dir);
	cfg.uds_path = path;
	int fd = open(path, O_CREAT | O_WRONLY, 0600);
	close(fd);
	assert_int_equal(virtio_vsock_create(&cfg, &f->d.host, &v, &e), -EEXIST);

	/* a stale socket file (nobody listening) is replaced */
	snprintf(path, sizeof(path), "%s/stale.sock", f->dir);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	assert_true(strlen(path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	assert_int_equal(virtio_vsock_create(&cfg, &f->d.host, &v, &e), 0);
	virtio_vsock_destroy(v);

	/* CIDs 0-2 are reserved; paths must leave room for _<port> */
	cfg.guest_cid = 2;
	assert_int_equal(virtio_vsock_create(&cfg, &f->d.host, &v, &e), -EINVAL);
	cfg.guest_cid = 5;
	memset(path, 'a', 100);
	path[100] = 0;
	assert_int_equal(virtio_vsock_create(&cfg, &f->d.host, &v, &e), -ENAMETOOLONG);
	cfg.uds_path = NULL;
	assert_int_equal(virtio_vsock_create(&cfg, &f->d.host, &v, &e), -EINVAL);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_host_initiated),
		T(test_host_half_close),
		T(test_guest_refuses),
		T(test_bad_connect_line),
		T(test_credit_host_to_guest),
		T(test_credit_guest_to_host),
		T(test_guest_initiated),
		T(test_guest_connect_refused),
		T(test_hostile_packets),
		T(test_rst_ring_backpressure),
		T(test_bad_rx_buffer),
		T(test_reset_closes_connections),
		T(test_connection_limit),
		T(test_uds_setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
