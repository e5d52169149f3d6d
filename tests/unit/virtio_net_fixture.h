/* Shared fixture for the virtio-net tests (test_virtio_net_*.c): virtio-net
 * (src/dev/virtio_net.c) driven as a guest driver would drive it, with
 * receive and transmit queues laid out by hand in real guest RAM, the
 * device started through the virtio core as the transport would, a real
 * I/O event loop, a fake transport recording interrupts, and frame builders
 * (ARP, UDP over IPv4). Header-only: every helper is static inline, so a
 * test file uses what it needs. */
#ifndef SKIFF_TEST_VIRTIO_NET_FIXTURE_H
#define SKIFF_TEST_VIRTIO_NET_FIXTURE_H
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static inline void fake_interrupt(struct virtio_device *vd, uint16_t q)
{
	struct fx *x = vd->transport;
	__atomic_fetch_add(q == 0xffff ? &x->config_irqs : &x->irqs[q & 1], 1, __ATOMIC_SEQ_CST);
}

static inline uint64_t now_ms(void)
{
	return rl_now_ns() / 1000000;
}

static inline struct fx *fx_new(void)
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

static inline void fx_free(struct fx *x)
{
	if (!x)
		return;
	virtio_net_destroy(x->n);
	evloop_destroy(x->loop);
	gm_destroy(&x->gm);
	free(x);
}

static inline uint64_t alloc_buf(struct fx *x, uint64_t len)
{
	uint64_t g = x->bump;
	x->bump = (x->bump + len + 63) & ~63ULL;
	return g;
}

/* What a driver does through the transport (§3.1.1), through the virtio
 * core as virtio-pci would call it: accept the offered features masked by
 * `want`, set up both queues, DRIVER_OK. */
static inline bool driver_start(struct fx *x, uint64_t want)
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
static inline bool fx_start(struct fx *x, uint64_t want, struct skiff_err *e)
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

static inline void put_desc(struct fx *x, uint16_t q, uint16_t i, uint64_t addr, uint32_t len,
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
static inline uint16_t post(struct fx *x, uint16_t q, const struct seg *s, int n)
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

static inline void call_kick(void *opaque)
{
	struct kick_args *a = opaque;
	virtio_queue_kick(a->x->vd, a->q);
}

static inline void kick(struct fx *x, uint16_t q)
{
	struct kick_args a = { x, q };
	evloop_call(x->loop, call_kick, &a);
}

static inline uint16_t used_idx(struct fx *x, uint16_t q)
{
	return __atomic_load_n((uint16_t *)gm_ptr(&x->gm, RING(q) + 0x2000 + 2, 2), __ATOMIC_ACQUIRE);
}

/* Wait up to ms for queue q's next used entry. */
static inline bool wait_used(struct fx *x, uint16_t q, uint16_t *id, uint32_t *len, unsigned ms)
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
static inline void post_rx(struct fx *x, int count, uint32_t size)
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
static inline uint16_t send_raw(struct fx *x, const struct virtio_net_hdr_v1 *h, const void *frame,
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

static inline uint16_t send_frame(struct fx *x, const void *frame, uint32_t len)
{
	struct virtio_net_hdr_v1 h = { 0 };
	return send_raw(x, &h, frame, len, VIRTIO_NET_HDR_LEN);
}

/* Receive one frame (following num_buffers with MRG_RXBUF): header into
 * *h, frame into buf (cap bytes), its length into *len. */
static inline bool recv_frame(struct fx *x, struct virtio_net_hdr_v1 *h, uint8_t *buf, size_t cap,
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

static inline struct virtio_net_stats stats(struct fx *x)
{
	struct virtio_net_stats s;
	virtio_net_get_stats(x->n, &s);
	return s;
}

/* --- frames ------------------------------------------------------------- */

static inline size_t arp_request(const uint8_t mac[6], uint32_t sip, uint32_t tip, uint8_t *f)
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

static inline uint16_t ip_csum(const uint8_t *p, size_t n)
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
static inline size_t udp_frame(const uint8_t src_mac[6], const uint8_t dst_mac[6], uint32_t sip,
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

static inline uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Receive frames until one with ethertype `type` arrives (others are
 * skipped: e.g. IPv6 router solicitations). */
static inline bool recv_type(struct fx *x, uint16_t type, struct virtio_net_hdr_v1 *h, uint8_t *f,
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

static inline int setup_user(void **state)
{
	struct fx *x = fx_new();
	assert_non_null(x);
	struct skiff_err e = { { 0 } };
	if (!fx_start(x, ALL_FEATURES & ~(1ULL << VIRTIO_NET_F_MRG_RXBUF), &e))
		fail_msg("start: %s", e.msg);
	*state = x;
	return 0;
}

static inline int teardown(void **state)
{
	fx_free(*state);
	return 0;
}

/* The user-mode fixture with MRG_RXBUF negotiated. */
static inline int setup_user_mrg(void **state)
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

#endif
