/* virtio-net (src/dev/virtio_net.c) driven as a guest driver would drive it:
 * receive and transmit queues laid out by hand in real guest RAM, the
 * device started through the virtio core as the transport would, a real
 * I/O event loop, a fake transport recording interrupts, and real backends:
 *   - user-mode networking (libslirp): ARP and DHCP answered by slirp, a
 *     host connection through a port forward reaching the guest, receive
 *     waiting for buffers without spinning, merged receive buffers, rate
 *     limiting, and hostile transmit chains;
 *   - a tap device inside a network namespace of a forked child (skipped
 *     without CAP_NET_ADMIN or /dev/net/tun): a guest frame seen by an
 *     AF_PACKET socket on the host side, a host frame landing in a receive
 *     buffer, and checksum offload in both directions. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "core/evloop.h"
#include "core/guest_mem.h"
#include "core/ratelimit.h"
#include "dev/virtio_net.h"
#include "dev/virtio_net_hdr.h"
#include "virtio/virtio.h"

#define RAM		(16u << 20)
#define QSZ		256
#define RING(q)		(0x10000ULL + (uint64_t)(q) * 0x4000)	/* desc; avail +4K; used +8K */
#define BUF_BASE	0x100000ULL
#define RXQ		VIRTIO_NET_RXQ
#define TXQ		VIRTIO_NET_TXQ
#define ALL_FEATURES	(~0ULL & ~(1ULL << VIRTIO_F_EVENT_IDX))

/* Test helpers return false (after printing where) instead of asserting, so
 * the tap test can use them in a forked child. */
#define REQ(c) do { if (!(c)) { fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #c); \
			return false; } } while (0)

struct fx {
	struct guest_mem gm;
	struct evloop *loop;
	struct skiff_log log;
	struct dev_host host;
	struct virtio_transport_ops tops;
	struct skiff_net_config cfg;
	struct virtio_net *n;
	struct virtio_device *vd;
	struct {
		uint16_t next_desc, avail_idx, used_seen;
	} q[2];
	uint64_t buf_gpa[QSZ];		/* receive buffer of each RX head */
	uint64_t bump;
	unsigned irqs[2], config_irqs;	/* atomics */
	uint8_t mac[6];
};

static void fake_interrupt(struct virtio_device *vd, uint16_t q)
{
	struct fx *x = vd->transport;
	__atomic_fetch_add(q == 0xffff ? &x->config_irqs : &x->irqs[q & 1], 1, __ATOMIC_SEQ_CST);
}

static uint64_t now_ms(void)
{
	return rl_now_ns() / 1000000;
}

static struct fx *fx_new(void)
{
	struct fx *x = calloc(1, sizeof(*x));
	if (!x || gm_init(&x->gm, RAM))
		return NULL;
	struct skiff_err e = { { 0 } };
	if (evloop_create(&x->loop, &e) || evloop_start(x->loop))
		return NULL;
	x->log.level = getenv("SKIFF_TEST_LOG") ? LOG_DEBUG : -1;
	x->host = (struct dev_host){ .ctx = x, .log = &x->log, .mem = &x->gm, .loop = x->loop };
	x->tops.interrupt = fake_interrupt;
	x->bump = BUF_BASE;
	x->cfg.kind = SKIFF_NET_USER;
	return x;
}

static void fx_free(struct fx *x)
{
	if (!x)
		return;
	virtio_net_destroy(x->n);
	evloop_destroy(x->loop);
	gm_destroy(&x->gm);
	free(x);
}

static uint64_t alloc_buf(struct fx *x, uint64_t len)
{
	uint64_t g = x->bump;
	x->bump = (x->bump + len + 63) & ~63ULL;
	return g;
}

/* What a driver does through the transport (§3.1.1), through the virtio
 * core as virtio-pci would call it: accept the offered features masked by
 * `want`, set up both queues, DRIVER_OK. */
static bool driver_start(struct fx *x, uint64_t want)
{
	struct virtio_device *vd = x->vd;
	memset(x->q, 0, sizeof(x->q));
	uint8_t st = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;
	virtio_set_status(vd, st);
	vd->driver_features = vd->host_features & want;
	st |= VIRTIO_STATUS_FEATURES_OK;
	virtio_set_status(vd, st);
	REQ(vd->status & VIRTIO_STATUS_FEATURES_OK);
	for (uint16_t q = 0; q < 2; q++) {
		static const uint8_t zero[0x3000];
		REQ(gm_write(&x->gm, RING(q), zero, sizeof(zero)) == 0);
		vd->vq[q].size = QSZ;
		vd->vq[q].desc_gpa = RING(q);
		vd->vq[q].avail_gpa = RING(q) + 0x1000;
		vd->vq[q].used_gpa = RING(q) + 0x2000;
		REQ(virtio_queue_enable(vd, q) == 0);
	}
	virtio_set_status(vd, st | VIRTIO_STATUS_DRIVER_OK);
	REQ(vd->active && !vd->broken);
	return true;
}

/* Create the device from x->cfg and start it. */
static bool fx_start(struct fx *x, uint64_t want, struct skiff_err *e)
{
	if (virtio_net_create(&x->cfg, &x->host, &x->n, e) < 0)
		return false;
	x->vd = virtio_net_vdev(x->n);
	virtio_net_mac(x->n, x->mac);
	x->vd->tops = &x->tops;
	x->vd->transport = x;
	return driver_start(x, want);
}

struct seg {
	uint64_t gpa;
	uint32_t len;
	bool write;
};

static void put_desc(struct fx *x, uint16_t q, uint16_t i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	uint8_t d[16];
	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
	gm_write(&x->gm, RING(q) + 16ULL * i, d, 16);
}

/* Put a chain on queue q's avail ring (not notified). Returns its head. */
static uint16_t post(struct fx *x, uint16_t q, const struct seg *s, int n)
{
	uint16_t head = x->q[q].next_desc;
	for (int i = 0; i < n; i++) {
		uint16_t d = (uint16_t)((head + i) % QSZ);
		uint16_t flags = (s[i].write ? VIRTQ_DESC_F_WRITE : 0) |
				 (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0);
		put_desc(x, q, d, s[i].gpa, s[i].len, flags, (uint16_t)((d + 1) % QSZ));
	}
	x->q[q].next_desc = (uint16_t)((head + n) % QSZ);
	uint16_t slot = x->q[q].avail_idx % QSZ;
	gm_write(&x->gm, RING(q) + 0x1000 + 4 + 2ULL * slot, &head, 2);
	x->q[q].avail_idx++;
	__atomic_store_n((uint16_t *)gm_ptr(&x->gm, RING(q) + 0x1000 + 2, 2), x->q[q].avail_idx,
			 __ATOMIC_RELEASE);
	return head;
}

struct kick_args {
	struct fx *x;
	uint16_t q;
};

static void call_kick(void *opaque)
{
	struct kick_args *a = opaque;
	virtio_queue_kick(a->x->vd, a->q);
}

static void kick(struct fx *x, uint16_t q)
{
	struct kick_args a = { x, q };
	evloop_call(x->loop, call_kick, &a);
}

static uint16_t used_idx(struct fx *x, uint16_t q)
{
	return __atomic_load_n((uint16_t *)gm_ptr(&x->gm, RING(q) + 0x2000 + 2, 2), __ATOMIC_ACQUIRE);
}

/* Wait up to ms for queue q's next used entry. */
static bool wait_used(struct fx *x, uint16_t q, uint16_t *id, uint32_t *len, unsigned ms)
{
	uint64_t t0 = now_ms();
	while (used_idx(x, q) == x->q[q].used_seen) {
		if (now_ms() - t0 > ms)
			return false;
		usleep(200);
	}
	uint32_t elem[2];
	gm_read(&x->gm, RING(q) + 0x2000 + 4 + 8ULL * (x->q[q].used_seen % QSZ), elem, 8);
	x->q[q].used_seen++;
	if (id)
		*id = (uint16_t)elem[0];
	if (len)
		*len = elem[1];
	return true;
}

/* Post `count` receive buffers of `size` bytes and notify. */
static void post_rx(struct fx *x, int count, uint32_t size)
{
	for (int i = 0; i < count; i++) {
		uint64_t g = alloc_buf(x, size);
		struct seg s = { g, size, true };
		uint16_t head = post(x, RXQ, &s, 1);
		x->buf_gpa[head] = g;
	}
	kick(x, RXQ);
}

/* Transmit header + frame, split in two descriptors at `split` bytes. */
static uint16_t send_raw(struct fx *x, const struct virtio_net_hdr_v1 *h, const void *frame,
			 uint32_t len, uint32_t split)
{
	uint64_t g = alloc_buf(x, VIRTIO_NET_HDR_LEN + len);
	gm_write(&x->gm, g, h, VIRTIO_NET_HDR_LEN);
	gm_write(&x->gm, g + VIRTIO_NET_HDR_LEN, frame, len);
	uint32_t total = VIRTIO_NET_HDR_LEN + len;
	if (split > total)
		split = total;
	struct seg s[2] = { { g, split, false }, { g + split, total - split, false } };
	uint16_t head = post(x, TXQ, s, split < total ? 2 : 1);
	kick(x, TXQ);
	return head;
}

static uint16_t send_frame(struct fx *x, const void *frame, uint32_t len)
{
	struct virtio_net_hdr_v1 h = { 0 };
	return send_raw(x, &h, frame, len, VIRTIO_NET_HDR_LEN);
}

/* Receive one frame (following num_buffers with MRG_RXBUF): header into
 * *h, frame into buf (cap bytes), its length into *len. */
static bool recv_frame(struct fx *x, struct virtio_net_hdr_v1 *h, uint8_t *buf, size_t cap,
		       size_t *len, unsigned ms)
{
	static uint8_t all[70000];
	size_t got = 0;
	uint16_t id;
	uint32_t l;
	REQ(wait_used(x, RXQ, &id, &l, ms));
	REQ(id < QSZ && l >= VIRTIO_NET_HDR_LEN && l <= sizeof(all));
	gm_read(&x->gm, x->buf_gpa[id], all, l);
	got = l;
	memcpy(h, all, VIRTIO_NET_HDR_LEN);
	for (unsigned i = 1; i < h->num_buffers; i++) {
		REQ(wait_used(x, RXQ, &id, &l, ms));
		REQ(id < QSZ && got + l <= sizeof(all));
		gm_read(&x->gm, x->buf_gpa[id], all + got, l);
		got += l;
	}
	REQ(got - VIRTIO_NET_HDR_LEN <= cap);
	memcpy(buf, all + VIRTIO_NET_HDR_LEN, got - VIRTIO_NET_HDR_LEN);
	*len = got - VIRTIO_NET_HDR_LEN;
	return true;
}

static struct virtio_net_stats stats(struct fx *x)
{
	struct virtio_net_stats s;
	virtio_net_get_stats(x->n, &s);
	return s;
}

/* --- frames ------------------------------------------------------------- */

static size_t arp_request(const uint8_t mac[6], uint32_t sip, uint32_t tip, uint8_t *f)
{
	memset(f, 0xff, 6);
	memcpy(f + 6, mac, 6);
	f[12] = 0x08, f[13] = 0x06;
	uint8_t *a = f + 14;
	a[0] = 0, a[1] = 1;		/* Ethernet */
	a[2] = 0x08, a[3] = 0x00;	/* IPv4 */
	a[4] = 6, a[5] = 4;
	a[6] = 0, a[7] = 1;		/* request */
	memcpy(a + 8, mac, 6);
	uint32_t s = htonl(sip), t = htonl(tip);
	memcpy(a + 14, &s, 4);
	memset(a + 18, 0, 6);
	memcpy(a + 24, &t, 4);
	return 42;
}

static uint16_t ip_csum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* Ethernet + IPv4 (checksummed) + UDP (no checksum) around `plen` bytes. */
static size_t udp_frame(const uint8_t src_mac[6], const uint8_t dst_mac[6], uint32_t sip,
			uint32_t dip, uint16_t sport, uint16_t dport, const uint8_t *payload,
			size_t plen, uint8_t *f)
{
	memcpy(f, dst_mac, 6);
	memcpy(f + 6, src_mac, 6);
	f[12] = 0x08, f[13] = 0x00;
	uint8_t *ip = f + 14;
	size_t iplen = 20 + 8 + plen;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	ip[2] = (uint8_t)(iplen >> 8), ip[3] = (uint8_t)iplen;
	ip[8] = 64;
	ip[9] = 17;
	uint32_t s = htonl(sip), d = htonl(dip);
	memcpy(ip + 12, &s, 4);
	memcpy(ip + 16, &d, 4);
	uint16_t c = ip_csum(ip, 20);
	ip[10] = (uint8_t)(c >> 8), ip[11] = (uint8_t)c;
	uint8_t *u = ip + 20;
	u[0] = (uint8_t)(sport >> 8), u[1] = (uint8_t)sport;
	u[2] = (uint8_t)(dport >> 8), u[3] = (uint8_t)dport;
	u[4] = (uint8_t)((8 + plen) >> 8), u[5] = (uint8_t)(8 + plen);
	u[6] = u[7] = 0;
	memcpy(u + 8, payload, plen);
	return 14 + iplen;
}

#define DHCP_XID 0x5a1ff00du

static size_t dhcp_discover(const uint8_t mac[6], uint8_t *f)
{
	uint8_t b[548] = { 0 };		/* BOOTP with a 312-byte options area */
	b[0] = 1, b[1] = 1, b[2] = 6;	/* BOOTREQUEST, Ethernet */
	uint32_t xid = htonl(DHCP_XID);
	memcpy(b + 4, &xid, 4);
	b[10] = 0x80;			/* broadcast reply */
	memcpy(b + 28, mac, 6);		/* chaddr */
	static const uint8_t opts[] = { 99, 130, 83, 99, 53, 1, 1, 255 };
	memcpy(b + 236, opts, sizeof(opts));
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	return udp_frame(mac, bcast, 0, 0xffffffffu, 68, 67, b, sizeof(b), f);
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Receive frames until one with ethertype `type` arrives (others are
 * skipped: e.g. IPv6 router solicitations). */
static bool recv_type(struct fx *x, uint16_t type, struct virtio_net_hdr_v1 *h, uint8_t *f,
		      size_t *len)
{
	for (int i = 0; i < 16; i++) {
		REQ(recv_frame(x, h, f, 70000, len, 5000));
		if (*len >= 14 && be16(f + 12) == type)
			return true;
	}
	return false;
}

/* --- user-mode networking ------------------------------------------------- */

static int setup_user(void **state)
{
	struct fx *x = fx_new();
	assert_non_null(x);
	struct skiff_err e = { { 0 } };
	if (!fx_start(x, ALL_FEATURES & ~(1ULL << VIRTIO_NET_F_MRG_RXBUF), &e))
		fail_msg("start: %s", e.msg);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	fx_free(*state);
	return 0;
}

static void user_config_and_features(void **state)
{
	struct fx *x = *state;
	uint64_t f = x->vd->host_features;
	assert_true(f & (1ULL << VIRTIO_NET_F_MAC));
	assert_true(f & (1ULL << VIRTIO_NET_F_STATUS));
	assert_true(f & (1ULL << VIRTIO_NET_F_MRG_RXBUF));
	assert_true(f & (1ULL << VIRTIO_F_VERSION_1));
	/* slirp does no offloads: the device must not offer them */
	assert_false(f & (1ULL << VIRTIO_NET_F_CSUM));
	assert_false(f & (1ULL << VIRTIO_NET_F_GUEST_CSUM));
	assert_false(f & (1ULL << VIRTIO_NET_F_HOST_TSO4));
	assert_false(f & (1ULL << VIRTIO_NET_F_GUEST_TSO4));
	assert_false(f & (1ULL << VIRTIO_NET_F_MQ));
	const uint8_t *c = x->vd->config;
	assert_int_equal(x->vd->config_len, VIRTIO_NET_CONFIG_LEN);
	assert_memory_equal(c, x->mac, 6);
	assert_int_equal(x->mac[0], 0x52);	/* locally administered, unicast */
	assert_int_equal(x->mac[1], 0x54);
	assert_int_equal(x->mac[2], 0x00);
	assert_int_equal(c[6] | c[7] << 8, VIRTIO_NET_S_LINK_UP);
	assert_int_equal(c[8] | c[9] << 8, 1);	/* max_virtqueue_pairs */
	/* derived MACs are stable */
	struct virtio_net *n2;
	struct skiff_err e = { { 0 } };
	assert_int_equal(virtio_net_create(&x->cfg, &x->host, &n2, &e), 0);
	uint8_t m2[6];
	virtio_net_mac(n2, m2);
	assert_memory_equal(m2, x->mac, 6);
	virtio_net_destroy(n2);
	uint8_t m[6];
	virtio_net_default_mac(2, m);
	static const uint8_t want[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x58 };
	assert_memory_equal(m, want, 6);
}

static void user_arp(void **state)
{
	struct fx *x = *state;
	post_rx(x, 4, 2048);
	uint8_t f[64];
	size_t n = arp_request(x->mac, 0x0a00020f, 0x0a000202, f);
	uint16_t head = send_frame(x, f, (uint32_t)n), id;
	uint32_t l;
	assert_true(wait_used(x, TXQ, &id, &l, 5000));
	assert_int_equal(id, head);
	assert_int_equal(l, 0);

	struct virtio_net_hdr_v1 h;
	uint8_t r[2048];
	size_t len;
	assert_true(recv_type(x, 0x0806, &h, r, &len));
	assert_int_equal(h.flags, 0);
	assert_int_equal(h.gso_type, VIRTIO_NET_HDR_GSO_NONE);
	assert_int_equal(h.num_buffers, 1);
	assert_true(len >= 42);
	assert_memory_equal(r, x->mac, 6);		/* to us */
	assert_int_equal(be16(r + 14 + 6), 2);		/* ARP reply */
	assert_int_equal(be32(r + 14 + 14), 0x0a000202);	/* 10.0.2.2 is at... */
	assert_int_equal(be32(r + 14 + 24), 0x0a00020f);
	assert_true(__atomic_load_n(&x->irqs[RXQ], __ATOMIC_SEQ_CST) >= 1);
	assert_true(__atomic_load_n(&x->irqs[TXQ], __ATOMIC_SEQ_CST) >= 1);
	struct virtio_net_stats s = stats(x);
	assert_int_equal(s.tx_frames, 1);
	assert_int_equal(s.tx_bytes, 42);
	assert_true(s.rx_frames >= 1);
	assert_int_equal(s.tx_dropped, 0);
}

static void user_dhcp(void **state)
{
	struct fx *x = *state;
	post_rx(x, 8, 2048);
	uint8_t f[700];
	size_t n = dhcp_discover(x->mac, f);
	send_frame(x, f, (uint32_t)n);
	struct virtio_net_hdr_v1 h;
	uint8_t r[2048];
	size_t len;
	/* the OFFER: IPv4, UDP 67 -> 68, BOOTREPLY, our xid, yiaddr 10.0.2.15 */
	for (;;) {
		assert_true(recv_type(x, 0x0800, &h, r, &len));
		const uint8_t *ip = r + 14;
		if (ip[9] != 17 || be16(ip + 20 + 2) != 68)
			continue;
		const uint8_t *b = ip + 20 + 8;
		assert_true(len >= 14 + 20 + 8 + 240);
		assert_int_equal(b[0], 2);
		assert_int_equal(be32(b + 4), DHCP_XID);
		assert_int_equal(be32(b + 16), 0x0a00020f);
		/* option 53 (message type) = 2 (OFFER) */
		const uint8_t *o = b + 240, *end = r + len;
		int type = 0;
		while (o + 2 <= end && *o != 255) {
			if (*o == 0) {
				o++;
				continue;
			}
			if (*o == 53)
				type = o[2];
			o += 2 + o[1];
		}
		assert_int_equal(type, 2);
		break;
	}
}

/* With no receive buffers the device holds the frame, stops reading the
 * backend and does not spin; a buffer and a notify deliver it. */
static void user_rx_waits_for_buffers(void **state)
{
	struct fx *x = *state;
	uint8_t f[64];
	size_t n = arp_request(x->mac, 0x0a00020f, 0x0a000203, f);
	send_frame(x, f, (uint32_t)n);
	assert_true(wait_used(x, TXQ, NULL, NULL, 5000));
	struct rusage r0, r1;
	getrusage(RUSAGE_SELF, &r0);
	usleep(300 * 1000);
	getrusage(RUSAGE_SELF, &r1);
	long us = (r1.ru_utime.tv_sec - r0.ru_utime.tv_sec) * 1000000L +
		  (r1.ru_utime.tv_usec - r0.ru_utime.tv_usec) +
		  (r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) * 1000000L +
		  (r1.ru_stime.tv_usec - r0.ru_stime.tv_usec);
	assert_true(us < 100000);	/* 300 ms idle: no busy loop */
	assert_int_equal(used_idx(x, RXQ), 0);
	assert_int_equal(stats(x).rx_frames, 0);
	assert_int_equal(stats(x).rx_dropped, 0);

	post_rx(x, 1, 2048);
	struct virtio_net_hdr_v1 h;
	uint8_t r[2048];
	size_t len;
	assert_true(recv_type(x, 0x0806, &h, r, &len));
	assert_int_equal(be32(r + 14 + 14), 0x0a000203);	/* the DNS address's reply */
	assert_int_equal(stats(x).rx_frames, 1);
}

/* Without MRG_RXBUF a buffer must hold the whole frame: a small one is
 * kept for later, the frame is dropped and counted. */
static void user_rx_buffer_too_small(void **state)
{
	struct fx *x = *state;
	post_rx(x, 1, 40);		/* < 12 + 64 */
	uint8_t f[64];
	size_t n = arp_request(x->mac, 0x0a00020f, 0x0a000202, f);
	send_frame(x, f, (uint32_t)n);
	uint64_t t0 = now_ms();
	while (stats(x).rx_dropped == 0 && now_ms() - t0 < 5000)
		usleep(1000);
	assert_int_equal(stats(x).rx_dropped, 1);
	assert_int_equal(used_idx(x, RXQ), 0);
	assert_false(x->vd->broken);
}

static int setup_user_mrg(void **state)
{
	struct fx *x = fx_new();
	assert_non_null(x);
	struct skiff_err e = { { 0 } };
	if (!fx_start(x, ALL_FEATURES, &e))
		fail_msg("start: %s", e.msg);
	assert_true(x->vd->driver_features & (1ULL << VIRTIO_NET_F_MRG_RXBUF));
	*state = x;
	return 0;
}

/* MRG_RXBUF: a frame spread over several small buffers, num_buffers in
 * the first; and buffers added one at a time while a frame is half placed. */
static void user_mrg_rxbuf(void **state)
{
	struct fx *x = *state;
	post_rx(x, 4, 24);
	uint8_t f[64];
	size_t n = arp_request(x->mac, 0x0a00020f, 0x0a000202, f);
	send_frame(x, f, (uint32_t)n);
	struct virtio_net_hdr_v1 h;
	uint8_t r[2048];
	size_t len;
	assert_true(recv_frame(x, &h, r, sizeof(r), &len, 5000));
	/* slirp's ARP reply is 64 bytes: 12 + 64 over 24-byte buffers */
	assert_int_equal(len, 64);
	assert_int_equal(h.num_buffers, 4);
	assert_int_equal(be16(r + 12), 0x0806);
	assert_int_equal(be32(r + 14 + 14), 0x0a000202);

	/* two buffers now, two more only after a pause */
	post_rx(x, 2, 24);
	send_frame(x, f, (uint32_t)n);
	usleep(100 * 1000);
	assert_int_equal(used_idx(x, RXQ), x->q[RXQ].used_seen);	/* held, not used */
	post_rx(x, 2, 24);
	assert_true(recv_frame(x, &h, r, sizeof(r), &len, 5000));
	assert_int_equal(h.num_buffers, 4);
	assert_int_equal(len, 64);
	assert_int_equal(stats(x).rx_frames, 2);
}

/* More frames than one pass handles (NET_BATCH) in both directions: the
 * rest follows without another notify, nothing is lost. */
static void user_batches(void **state)
{
	struct fx *x = *state;
	enum { N = 200 };
	post_rx(x, 250, 128);
	uint8_t f[64];
	size_t n = arp_request(x->mac, 0x0a00020f, 0x0a000202, f);
	struct virtio_net_hdr_v1 h = { 0 };
	for (int i = 0; i < N; i++) {
		uint64_t g = alloc_buf(x, VIRTIO_NET_HDR_LEN + n);
		gm_write(&x->gm, g, &h, sizeof(h));
		gm_write(&x->gm, g + VIRTIO_NET_HDR_LEN, f, n);
		struct seg sg = { g, (uint32_t)(VIRTIO_NET_HDR_LEN + n), false };
		post(x, TXQ, &sg, 1);
	}
	kick(x, TXQ);		/* one notify for all of them */
	for (int i = 0; i < N; i++)
		assert_true(wait_used(x, TXQ, NULL, NULL, 5000));
	uint8_t r[2048];
	size_t len;
	for (int i = 0; i < N; i++) {
		assert_true(recv_frame(x, &h, r, sizeof(r), &len, 5000));
		assert_int_equal(be16(r + 12), 0x0806);
	}
	struct virtio_net_stats s = stats(x);
	assert_int_equal(s.tx_frames, N);
	assert_int_equal(s.rx_frames, N);
	assert_int_equal(s.rx_dropped, 0);
}

/* A hostile driver's transmit chains: dropped, counted, returned, and the
 * device keeps working. */
static void user_hostile_tx(void **state)
{
	struct fx *x = *state;
	post_rx(x, 4, 2048);
	uint8_t f[64];
	size_t n = arp_request(x->mac, 0x0a00020f, 0x0a000202, f);
	struct virtio_net_hdr_v1 h = { 0 };
	int bad = 0;

	/* header shorter than 12 bytes */
	uint64_t g = alloc_buf(x, 64);
	struct seg s8 = { g, 8, false };
	post(x, TXQ, &s8, 1), bad++;
	/* a header and nothing else (an empty frame) */
	struct seg s12 = { g, 12, false };
	post(x, TXQ, &s12, 1), bad++;
	/* no readable part at all: one writable buffer */
	struct seg sw = { g, 64, true };
	post(x, TXQ, &sw, 1), bad++;
	/* a zero-length descriptor only */
	struct seg s0 = { g, 0, false };
	post(x, TXQ, &s0, 1), bad++;
	/* a runt: header + 10 bytes */
	struct seg s22 = { g, 22, false };
	post(x, TXQ, &s22, 1), bad++;
	kick(x, TXQ);
	/* a frame of 70000 bytes (> 64 KiB + header) */
	static uint8_t big[70000];
	memcpy(big, f, n);
	send_raw(x, &h, big, sizeof(big), 4096), bad++;
	/* exactly one byte too many */
	send_raw(x, &h, big, NET_MAX_FRAME + 1, 12), bad++;
	/* flags the driver may not set, or offloads it did not negotiate */
	h.flags = VIRTIO_NET_HDR_F_DATA_VALID;
	send_raw(x, &h, f, (uint32_t)n, 12), bad++;
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;	/* CSUM is not offered by slirp */
	send_raw(x, &h, f, (uint32_t)n, 12), bad++;
	h.flags = 0;
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	h.gso_size = 1000;
	send_raw(x, &h, f, (uint32_t)n, 12), bad++;

	for (int i = 0; i < bad; i++) {
		uint32_t l = 1;
		assert_true(wait_used(x, TXQ, NULL, &l, 5000));
		assert_int_equal(l, 0);
	}
	struct virtio_net_stats st = stats(x);
	assert_int_equal(st.tx_dropped, bad);
	assert_int_equal(st.tx_frames, 0);
	assert_false(x->vd->broken);

	/* still working: a good frame goes through, its reply comes back */
	send_frame(x, f, (uint32_t)n);
	uint8_t r[2048];
	size_t len;
	assert_true(recv_type(x, 0x0806, &h, r, &len));
	assert_int_equal(stats(x).tx_frames, 1);
}

/* A descriptor outside guest RAM is a broken ring: NEEDS_RESET, a
 * configuration interrupt, no crash; a reset brings the device back. */
static void user_broken_ring(void **state)
{
	struct fx *x = *state;
	struct seg s = { RAM + 0x1000, 100, false };
	post(x, TXQ, &s, 1);
	kick(x, TXQ);
	uint64_t t0 = now_ms();
	while (!__atomic_load_n(&x->vd->broken, __ATOMIC_SEQ_CST) && now_ms() - t0 < 5000)
		usleep(1000);
	assert_true(x->vd->broken);
	assert_true(x->vd->status & VIRTIO_STATUS_NEEDS_RESET);
	assert_true(__atomic_load_n(&x->config_irqs, __ATOMIC_SEQ_CST) >= 1);
	/* the driver resets and starts again */
	virtio_set_status(x->vd, 0);
	assert_false(x->vd->broken);
	assert_true(driver_start(x, ALL_FEATURES & ~(1ULL << VIRTIO_NET_F_MRG_RXBUF)));
	post_rx(x, 2, 2048);
	uint8_t f[64];
	size_t n = arp_request(x->mac, 0x0a00020f, 0x0a000202, f);
	send_frame(x, f, (uint32_t)n);
	struct virtio_net_hdr_v1 h;
	uint8_t r[2048];
	size_t len;
	assert_true(recv_type(x, 0x0806, &h, r, &len));
}

/* Reset stops the device; a new start on the same device works. */
static void user_reset_restart(void **state)
{
	struct fx *x = *state;
	post_rx(x, 2, 2048);
	virtio_set_status(x->vd, 0);
	assert_false(x->vd->active);
	assert_true(driver_start(x, ALL_FEATURES));	/* now with MRG_RXBUF */
	assert_true(x->vd->driver_features & (1ULL << VIRTIO_NET_F_MRG_RXBUF));
	post_rx(x, 2, 2048);
	uint8_t f[64];
	size_t n = arp_request(x->mac, 0x0a00020f, 0x0a000202, f);
	send_frame(x, f, (uint32_t)n);
	struct virtio_net_hdr_v1 h;
	uint8_t r[2048];
	size_t len;
	assert_true(recv_type(x, 0x0806, &h, r, &len));
}

/* tx rate limit: one frame per 100 ms. Frames wait (no drops) and the
 * limiter's timer, not a busy loop, lets them through. */
static void user_tx_rate_limit(void **state)
{
	(void)state;
	struct fx *x = fx_new();
	assert_non_null(x);
	x->cfg.tx.ops = (struct skiff_bucket){ .size = 1, .refill_time_ms = 100 };
	struct skiff_err e = { { 0 } };
	assert_true(fx_start(x, ALL_FEATURES, &e));
	post_rx(x, 8, 2048);
	uint8_t f[64];
	size_t n = arp_request(x->mac, 0x0a00020f, 0x0a000202, f);
	uint64_t t0 = now_ms();
	for (int i = 0; i < 3; i++)
		send_frame(x, f, (uint32_t)n);
	for (int i = 0; i < 3; i++)
		assert_true(wait_used(x, TXQ, NULL, NULL, 5000));
	uint64_t dt = now_ms() - t0;
	struct virtio_net_stats s = stats(x);
	assert_int_equal(s.tx_frames, 3);
	assert_true(s.tx_throttled >= 1);
	assert_int_equal(s.tx_dropped, 0);
	assert_true(dt >= 150);		/* two refills of 100 ms, minus slack */
	fx_free(x);
}

/* PATCH /network-interfaces: a transmit queue held by a 1-per-10-s limiter
 * goes on at once when the limit is raised (virtio_net_update_rate_limits),
 * and stops again under a cut one. */
static void user_tx_rate_limit_update(void **state)
{
	(void)state;
	struct fx *x = fx_new();
	assert_non_null(x);
	x->cfg.tx.ops = (struct skiff_bucket){ .size = 1, .refill_time_ms = 10000 };
	struct skiff_err e = { { 0 } };
	assert_true(fx_start(x, ALL_FEATURES, &e));
	post_rx(x, 8, 2048);
	uint8_t f[64];
	size_t n = arp_request(x->mac, 0x0a00020f, 0x0a000202, f);
	send_frame(x, f, (uint32_t)n);
	assert_true(wait_used(x, TXQ, NULL, NULL, 5000));
	send_frame(x, f, (uint32_t)n);
	assert_false(wait_used(x, TXQ, NULL, NULL, 300));	/* held for 10 s */
	struct skiff_rate_limit_update u = { .set_ops = true };
	u.cfg.ops = (struct skiff_bucket){ .size = 2, .refill_time_ms = 10000 };
	uint64_t t0 = now_ms();
	assert_int_equal(virtio_net_update_rate_limits(x->n, NULL, &u, &e), 0);
	assert_true(wait_used(x, TXQ, NULL, NULL, 5000));
	assert_true(now_ms() - t0 < 2000);
	send_frame(x, f, (uint32_t)n);
	assert_true(wait_used(x, TXQ, NULL, NULL, 5000));	/* the second token */
	send_frame(x, f, (uint32_t)n);
	assert_false(wait_used(x, TXQ, NULL, NULL, 300));
	assert_int_equal(stats(x).tx_frames, 3);
	fx_free(x);
}

/* rx rate limit: bytes; frames are delayed, not lost. */
static void user_rx_rate_limit(void **state)
{
	(void)state;
	struct fx *x = fx_new();
	assert_non_null(x);
	x->cfg.rx.bandwidth = (struct skiff_bucket){ .size = 64, .refill_time_ms = 100 };
	struct skiff_err e = { { 0 } };
	assert_true(fx_start(x, ALL_FEATURES, &e));
	post_rx(x, 8, 2048);
	uint8_t f[64];
	size_t n = arp_request(x->mac, 0x0a00020f, 0x0a000202, f);
	uint64_t t0 = now_ms();
	for (int i = 0; i < 3; i++)
		send_frame(x, f, (uint32_t)n);
	struct virtio_net_hdr_v1 h;
	uint8_t r[2048];
	size_t len;
	for (int i = 0; i < 3; i++)
		assert_true(recv_type(x, 0x0806, &h, r, &len));
	assert_true(now_ms() - t0 >= 150);
	struct virtio_net_stats s = stats(x);
	assert_true(s.rx_throttled >= 1);
	assert_int_equal(s.rx_dropped, 0);
	fx_free(x);
}

/* A host connection through a port forward reaches the guest: slirp's
 * listening socket is watched from the event loop. */
static void user_hostfwd(void **state)
{
	(void)state;
	/* a free port: bind to 0, read it, close */
	int probe = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(probe >= 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	assert_int_equal(bind(probe, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(probe, (struct sockaddr *)&a, &al), 0);
	uint16_t port = ntohs(a.sin_port);
	close(probe);

	struct fx *x = fx_new();
	assert_non_null(x);
	x->cfg.nhostfwd = 1;
	x->cfg.hostfwd[0] = (struct skiff_hostfwd){ .host_addr = INADDR_LOOPBACK, .host_port = port,
						    .guest_port = 22 };
	struct skiff_err e = { { 0 } };
	if (!fx_start(x, ALL_FEATURES, &e))
		fail_msg("start: %s", e.msg);
	post_rx(x, 8, 2048);
	/* tell slirp our MAC (gratuitous ARP), then connect from the host */
	uint8_t f[64];
	size_t n = arp_request(x->mac, 0x0a00020f, 0x0a00020f, f);
	send_frame(x, f, (uint32_t)n);
	assert_true(wait_used(x, TXQ, NULL, NULL, 5000));
	int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	assert_true(c >= 0);
	int r = connect(c, (struct sockaddr *)&a, sizeof(a));
	assert_true(r == 0 || errno == EINPROGRESS);
	/* the guest sees slirp's SYN to 10.0.2.15:22 */
	struct virtio_net_hdr_v1 h;
	uint8_t fr[2048];
	size_t len;
	bool syn = false;
	for (int i = 0; i < 8 && !syn; i++) {
		if (!recv_type(x, 0x0800, &h, fr, &len))
			break;
		const uint8_t *ip = fr + 14;
		if (ip[9] == 6 && be32(ip + 16) == 0x0a00020f && be16(ip + 20 + 2) == 22 &&
		    (ip[20 + 13] & 0x02))
			syn = true;
	}
	assert_true(syn);
	close(c);
	fx_free(x);
}

static void user_bad_config(void **state)
{
	(void)state;
	struct fx *x = fx_new();
	assert_non_null(x);
	struct skiff_err e = { { 0 } };
	struct virtio_net *n = NULL;
	/* guest port 0 */
	x->cfg.nhostfwd = 1;
	x->cfg.hostfwd[0] = (struct skiff_hostfwd){ .host_port = 2222, .guest_port = 0 };
	assert_int_equal(virtio_net_create(&x->cfg, &x->host, &n, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "hostfwd"));
	/* a guest address outside 10.0.2.0/24 */
	x->cfg.hostfwd[0] = (struct skiff_hostfwd){ .host_port = 2222, .guest_addr = 0xc0a80001,
						    .guest_port = 22 };
	assert_int_equal(virtio_net_create(&x->cfg, &x->host, &n, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "10.0.2.0/24"));
	/* a host port in use */
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s, 1), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &al), 0);
	x->cfg.hostfwd[0] = (struct skiff_hostfwd){ .host_addr = INADDR_LOOPBACK,
						    .host_port = ntohs(a.sin_port), .guest_port = 22 };
	assert_int_equal(virtio_net_create(&x->cfg, &x->host, &n, &e), -EADDRINUSE);
	assert_non_null(strstr(e.msg, "Address already in use"));
	close(s);
	/* tap names the kernel would refuse */
	x->cfg = (struct skiff_net_config){ .kind = SKIFF_NET_TAP, .tap_name = "a-name-far-too-long" };
	assert_int_equal(virtio_net_create(&x->cfg, &x->host, &n, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "15 characters"));
	x->cfg.tap_name = "bad/name";
	assert_int_equal(virtio_net_create(&x->cfg, &x->host, &n, &e), -EINVAL);
	x->cfg.tap_name = NULL;
	assert_int_equal(virtio_net_create(&x->cfg, &x->host, &n, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "no interface name"));
	fx_free(x);
}

/* --- tap, in a network namespace of a child process ---------------------- */

#define TAP_NAME	"sktap0"
#define TAP_HOST_IP	0x0a090001u	/* 10.9.0.1 on the host side */
#define TAP_GUEST_IP	0x0a090002u

static void write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	if (fd >= 0) {
		ssize_t r = write(fd, s, strlen(s));
		(void)r;
		close(fd);
	}
}

static bool tap_up(int s, uint32_t ip, const uint8_t guest_mac[6])
{
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), TAP_NAME);
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(ip);
	REQ(ioctl(s, SIOCSIFADDR, &ifr) == 0);
	sin->sin_addr.s_addr = htonl(0xffffff00u);
	REQ(ioctl(s, SIOCSIFNETMASK, &ifr) == 0);
	REQ(ioctl(s, SIOCGIFFLAGS, &ifr) == 0);
	ifr.ifr_flags |= IFF_UP;
	REQ(ioctl(s, SIOCSIFFLAGS, &ifr) == 0);
	/* a static neighbour: the guest will not answer ARP */
	struct arpreq ar;
	memset(&ar, 0, sizeof(ar));
	sin = (struct sockaddr_in *)&ar.arp_pa;
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(TAP_GUEST_IP);
	ar.arp_ha.sa_family = ARPHRD_ETHER;
	memcpy(ar.arp_ha.sa_data, guest_mac, 6);
	ar.arp_flags = ATF_COM | ATF_PERM;
	snprintf(ar.arp_dev, sizeof(ar.arp_dev), TAP_NAME);
	REQ(ioctl(s, SIOCSARP, &ar) == 0);
	return true;
}

/* Receive on the AF_PACKET socket until a frame of ethertype `type` that
 * goes out of the tap (from the guest) arrives. */
static bool host_recv_type(int p, uint16_t type, uint8_t *buf, size_t cap, size_t *len,
			   unsigned *tp_status)
{
	for (int i = 0; i < 64; i++) {
		struct iovec iov = { buf, cap };
		union {
			struct cmsghdr h;
			char b[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
		} cm;
		struct sockaddr_ll from;
		struct msghdr m = { .msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov,
				    .msg_iovlen = 1, .msg_control = &cm, .msg_controllen = sizeof(cm) };
		ssize_t n = recvmsg(p, &m, 0);
		REQ(n >= 0);
		if (n < 14 || be16(buf + 12) != type || from.sll_pkttype == PACKET_OUTGOING)
			continue;
		*len = (size_t)n;
		*tp_status = 0;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
			if (c->cmsg_level == SOL_PACKET && c->cmsg_type == PACKET_AUXDATA)
				*tp_status = ((struct tpacket_auxdata *)CMSG_DATA(c))->tp_status;
		return true;
	}
	return false;
}

static bool tap_checks(struct fx *x)
{
	uint64_t f = x->vd->host_features;
	REQ(f & (1ULL << VIRTIO_NET_F_CSUM));
	REQ(f & (1ULL << VIRTIO_NET_F_GUEST_CSUM));
	REQ(f & (1ULL << VIRTIO_NET_F_HOST_TSO4));
	REQ(f & (1ULL << VIRTIO_NET_F_GUEST_TSO4));
	REQ(x->vd->driver_features & (1ULL << VIRTIO_NET_F_GUEST_CSUM));

	int s = socket(AF_INET, SOCK_DGRAM, 0);
	REQ(s >= 0);
	REQ(tap_up(s, TAP_HOST_IP, x->mac));
	int p = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	REQ(p >= 0);
	struct sockaddr_ll ll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
				  .sll_ifindex = (int)if_nametoindex(TAP_NAME) };
	REQ(ll.sll_ifindex > 0);
	REQ(bind(p, (struct sockaddr *)&ll, sizeof(ll)) == 0);
	int one = 1;
	REQ(setsockopt(p, SOL_PACKET, PACKET_AUXDATA, &one, sizeof(one)) == 0);
	struct timeval tv = { .tv_sec = 5 };
	REQ(setsockopt(p, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0);
	post_rx(x, 16, 2048);

	/* 1. guest -> host: a frame of a local experimental ethertype */
	uint8_t fr[128], got[2048];
	memset(fr, 0xff, 6);
	memcpy(fr + 6, x->mac, 6);
	fr[12] = 0x88, fr[13] = 0xb5;
	for (int i = 14; i < 100; i++)
		fr[i] = (uint8_t)i;
	send_frame(x, fr, 100);
	size_t len;
	unsigned tp;
	REQ(host_recv_type(p, 0x88b5, got, sizeof(got), &len, &tp));
	REQ(len == 100 && !memcmp(got, fr, 100));

	/* 2. host -> guest: injected on the tap, lands in a receive buffer */
	uint8_t in[300];
	memcpy(in, x->mac, 6);
	static const uint8_t peer[6] = { 0x02, 0, 0, 0, 0, 1 };
	memcpy(in + 6, peer, 6);
	in[12] = 0x88, in[13] = 0xb6;
	for (int i = 14; i < 300; i++)
		in[i] = (uint8_t)(i * 3);
	REQ(send(p, in, sizeof(in), 0) == (ssize_t)sizeof(in));
	struct virtio_net_hdr_v1 h;
	REQ(recv_type(x, 0x88b6, &h, got, &len));
	REQ(len == sizeof(in) && !memcmp(got, in, len));
	REQ(h.flags == 0 && h.gso_type == 0 && h.num_buffers == 1);

	/* 3. host UDP to the guest: the checksum is left to the guest
	 * (GUEST_CSUM: NEEDS_CSUM with offsets into the UDP header) */
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	REQ(u >= 0);
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9999),
				  .sin_addr.s_addr = htonl(TAP_GUEST_IP) };
	REQ(sendto(u, "hello guest", 11, 0, (struct sockaddr *)&to, sizeof(to)) == 11);
	close(u);
	REQ(recv_type(x, 0x0800, &h, got, &len));
	REQ(len == 14 + 20 + 8 + 11 && !memcmp(got + 42, "hello guest", 11));
	REQ(h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM);
	REQ(h.csum_start == 34 && h.csum_offset == 6);

	/* 4. guest UDP with a partial checksum (CSUM): the kernel takes the
	 * header as is, the host side sees a packet whose checksum is yet
	 * to be done */
	uint8_t uf[128];
	size_t ul = udp_frame(x->mac, peer, TAP_GUEST_IP, TAP_HOST_IP, 5555, 7777,
			      (const uint8_t *)"hello host", 10, uf);
	struct virtio_net_hdr_v1 th = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 34,
					.csum_offset = 6 };
	send_raw(x, &th, uf, (uint32_t)ul, 12);
	REQ(host_recv_type(p, 0x0800, got, sizeof(got), &len, &tp));
	REQ(len == ul && !memcmp(got + 42, "hello host", 10));
	REQ(tp & TP_STATUS_CSUMNOTREADY);

	/* 5. guest TCP segmentation offload (HOST_TSO4): one 3000-byte
	 * TCP payload with gso_size 1000 goes to the kernel as one GSO
	 * frame, header and all */
	static uint8_t tf[14 + 20 + 20 + 3000];
	memcpy(tf, peer, 6);
	memcpy(tf + 6, x->mac, 6);
	tf[12] = 0x08, tf[13] = 0x00;
	uint8_t *ip = tf + 14;
	memset(ip, 0, 40);
	ip[0] = 0x45;
	ip[2] = (uint8_t)((sizeof(tf) - 14) >> 8), ip[3] = (uint8_t)(sizeof(tf) - 14);
	ip[6] = 0x40;			/* DF */
	ip[8] = 64, ip[9] = 6;
	uint32_t sa = htonl(TAP_GUEST_IP), da = htonl(TAP_HOST_IP);
	memcpy(ip + 12, &sa, 4);
	memcpy(ip + 16, &da, 4);
	uint16_t c = ip_csum(ip, 20);
	ip[10] = (uint8_t)(c >> 8), ip[11] = (uint8_t)c;
	uint8_t *tcp = ip + 20;
	tcp[0] = 0x15, tcp[1] = 0xb3;	/* 5555 */
	tcp[2] = 0x1e, tcp[3] = 0x61;	/* 7777 */
	tcp[12] = 5 << 4;
	tcp[13] = 0x18;			/* PSH, ACK */
	tcp[14] = 0xff, tcp[15] = 0xff;
	memset(tcp + 20, 'z', 3000);
	struct virtio_net_hdr_v1 gh = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
					.gso_type = VIRTIO_NET_HDR_GSO_TCPV4, .hdr_len = 54,
					.gso_size = 1000, .csum_start = 34, .csum_offset = 16 };
	send_raw(x, &gh, tf, sizeof(tf), 12);
	/* it arrives whole (GSO, not yet segmented) or as segments,
	 * depending on the kernel: either way TCP to port 7777 */
	bool seen = false;
	for (int i = 0; i < 8 && !seen; i++) {
		if (!host_recv_type(p, 0x0800, got, sizeof(got), &len, &tp))
			break;
		seen = len >= 54 && got[14 + 9] == 6 && be16(got + 14 + 20 + 2) == 7777;
	}
	REQ(seen);

	struct virtio_net_stats st = stats(x);
	REQ(st.tx_frames == 3 && st.tx_dropped == 0 && st.tx_errors == 0);
	REQ(st.rx_frames >= 2);
	close(p);
	close(s);
	return true;
}

static int tap_child(void)
{
	if (unshare(CLONE_NEWNET) < 0) {
		fprintf(stderr, "unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return errno == EPERM ? 77 : 1;
	}
	write_file("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
	write_file("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
	struct fx *x = fx_new();
	if (!x)
		return 1;
	x->cfg = (struct skiff_net_config){ .kind = SKIFF_NET_TAP, .tap_name = TAP_NAME };
	struct skiff_err e = { { 0 } };
	if (!fx_start(x, ALL_FEATURES, &e)) {
		fprintf(stderr, "start: %s\n", e.msg);
		return strstr(e.msg, "CAP_NET_ADMIN") ? 77 : 1;
	}
	bool ok = tap_checks(x);
	fx_free(x);
	return ok ? 0 : 1;
}

static void tap_in_netns(void **state)
{
	(void)state;
	if (access("/dev/net/tun", R_OK | W_OK) < 0)
		skip();
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(tap_child());
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) == 77)
		skip();
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* Drop CAP_NET_ADMIN from this process (the rest stays). */
static int drop_net_admin(void)
{
	struct __user_cap_header_struct hd = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &hd, d) < 0)
		return -1;
	uint32_t bit = 1u << (CAP_NET_ADMIN % 32);
	d[CAP_NET_ADMIN / 32].effective &= ~bit;
	d[CAP_NET_ADMIN / 32].permitted &= ~bit;
	d[CAP_NET_ADMIN / 32].inheritable &= ~bit;
	return (int)syscall(SYS_capset, &hd, d);
}

/* Error messages for a tap we may not create: run as an unprivileged
 * user in a child (skipped when we cannot drop privileges). */
static void tap_no_permission(void **state)
{
	(void)state;
	if (access("/dev/net/tun", R_OK | W_OK) < 0 || geteuid() != 0)
		skip();
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (unshare(CLONE_NEWNET) < 0)
			_exit(77);
		/* keep /dev/net/tun open-able: drop CAP_NET_ADMIN only */
		if (drop_net_admin() < 0)
			_exit(77);
		struct fx *x = fx_new();
		if (!x)
			_exit(1);
		x->cfg = (struct skiff_net_config){ .kind = SKIFF_NET_TAP, .tap_name = "sknoperm0" };
		struct virtio_net *n;
		struct skiff_err e = { { 0 } };
		int r = virtio_net_create(&x->cfg, &x->host, &n, &e);
		bool ok = r == -EPERM && strstr(e.msg, "tap 'sknoperm0'") &&
			  strstr(e.msg, "CAP_NET_ADMIN");
		if (!ok)
			fprintf(stderr, "virtio_net_create: %d %s\n", r, e.msg);
		_exit(ok ? 0 : 1);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) == 77)
		skip();
	assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(user_config_and_features, setup_user, teardown),
		cmocka_unit_test_setup_teardown(user_arp, setup_user, teardown),
		cmocka_unit_test_setup_teardown(user_dhcp, setup_user, teardown),
		cmocka_unit_test_setup_teardown(user_rx_waits_for_buffers, setup_user, teardown),
		cmocka_unit_test_setup_teardown(user_rx_buffer_too_small, setup_user, teardown),
		cmocka_unit_test_setup_teardown(user_mrg_rxbuf, setup_user_mrg, teardown),
		cmocka_unit_test_setup_teardown(user_batches, setup_user, teardown),
		cmocka_unit_test_setup_teardown(user_hostile_tx, setup_user, teardown),
		cmocka_unit_test_setup_teardown(user_broken_ring, setup_user, teardown),
		cmocka_unit_test_setup_teardown(user_reset_restart, setup_user, teardown),
		cmocka_unit_test(user_tx_rate_limit),
		cmocka_unit_test(user_tx_rate_limit_update),
		cmocka_unit_test(user_rx_rate_limit),
		cmocka_unit_test(user_hostfwd),
		cmocka_unit_test(user_bad_config),
		cmocka_unit_test(tap_in_netns),
		cmocka_unit_test(tap_no_permission),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
