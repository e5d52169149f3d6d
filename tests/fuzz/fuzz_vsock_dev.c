/* libFuzzer target: the whole virtio-vsock device (dev/virtio_vsock.c,
 * dev/vsock_conn.c) against a hostile guest and erratic host programs.
 *
 * Deterministic: no I/O thread runs (device callbacks are called inline, as
 * evloop_call does before the loop starts); the harness plays the loop by
 * polling each connection's socket and calling its callback with what poll
 * reports. The input is a byte program: guest TX packets (fields mostly
 * plausible, sometimes anything; split over 1-3 descriptors), RX buffers of
 * any size and direction, host programs connecting to uds_path with good or
 * bad CONNECT lines, and host peers accepting, writing, reading, closing.
 * Checked after every step: connection count, buffered bytes and pending
 * RSTs stay within their limits, and every packet on the RX used ring is a
 * well-formed header whose len matches the bytes written.
 *
 * Build: make fuzz (clang); run: build/fuzz/fuzz_vsock_dev -max_total_time=60 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <poll.h>
#include <unistd.h>
#include "core/evloop.h"
#include "core/guest_mem.h"
#include "dev/vsock_conn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CID		3
#define QSZ		64
#define RAM		(16u << 20)
#define BUFS		0x100000	/* buffer area, reset per input */
#define MAX_PEERS	16

struct ring {
	uint64_t desc, avail, used;
	uint16_t next, avail_idx, used_seen;
	uint16_t inflight;		/* descriptors the device holds (used in order) */
	uint8_t nd[QSZ];		/* descriptors in the chain at each head */
};

static struct {
	bool ready;
	struct guest_mem gm;
	struct evloop *loop;
	struct skiff_log log;
	struct dev_host host;
	struct virtio_transport_ops tops;
	struct virtio_vsock *vs;
	char dir[64], uds[80];
	int svc[2];			/* host services at <uds>_1, <uds>_2 */
	struct ring r[3];
	uint64_t bump;
	int peers[MAX_PEERS];		/* host-side sockets the harness holds */
	int npeers;
	uint32_t last_hostport;
} F;

static void fake_irq(struct virtio_device *vd, uint16_t q) { (void)vd; (void)q; }

static void cleanup(void)
{
	if (getenv("FUZZ_VSOCK_STATS")) {	/* what the inputs reached */
		const struct virtio_vsock_counters *c = &F.vs->cnt;
		fprintf(stderr, "conns host %llu guest %llu refused %llu over %llu; rx %llu pkts "
			"%llu bytes, tx %llu pkts %llu bytes; rst sent %llu recv %llu; bad %llu, "
			"credit violations %llu, bad lines %llu\n",
			(unsigned long long)c->conns_host, (unsigned long long)c->conns_guest,
			(unsigned long long)c->conns_refused, (unsigned long long)c->conns_over_limit,
			(unsigned long long)c->rx_packets, (unsigned long long)c->rx_bytes,
			(unsigned long long)c->tx_packets, (unsigned long long)c->tx_bytes,
			(unsigned long long)c->rst_sent, (unsigned long long)c->rst_received,
			(unsigned long long)c->bad_packets, (unsigned long long)c->credit_violations,
			(unsigned long long)c->bad_connect_lines);
	}
	virtio_vsock_destroy(F.vs);
	for (int i = 0; i < 2; i++) {
		char p[100];
		snprintf(p, sizeof(p), "%s_%d", F.uds, i + 1);
		unlink(p);
	}
	rmdir(F.dir);
}

static void init_once(void)
{
	if (F.ready)
		return;
	if (gm_init(&F.gm, RAM) || evloop_create(&F.loop, NULL))
		abort();
	F.log.level = getenv("FUZZ_VSOCK_LOG") ? LOG_DEBUG : -1;
	F.host = (struct dev_host){ .log = &F.log, .mem = &F.gm, .loop = F.loop };
	F.tops.interrupt = fake_irq;
	strcpy(F.dir, "/tmp/skiff-fuzz-vsock-XXXXXX");
	if (!mkdtemp(F.dir))
		abort();
	snprintf(F.uds, sizeof(F.uds), "%s/v", F.dir);
	struct skiff_vsock_config cfg = { .guest_cid = CID, .uds_path = F.uds };
	if (virtio_vsock_create(&cfg, &F.host, &F.vs, NULL))
		abort();
	for (int i = 0; i < 2; i++) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%d", F.uds, i + 1);
		F.svc[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (F.svc[i] < 0 || bind(F.svc[i], (struct sockaddr *)&sa, sizeof(sa)) ||
		    listen(F.svc[i], 16))
			abort();
	}
	for (int q = 0; q < 3; q++) {
		F.r[q].desc = 0x10000 + 0x4000ull * (unsigned)q;
		F.r[q].avail = F.r[q].desc + 0x1000;
		F.r[q].used = F.r[q].desc + 0x2000;
	}
	atexit(cleanup);
	F.ready = true;
}

/* ---- input reader ---- */
struct in {
	const uint8_t *p;
	size_t n;
};
static uint8_t u8(struct in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}
static uint16_t u16(struct in *in) { return (uint16_t)(u8(in) | u8(in) << 8); }
static uint32_t u32(struct in *in) { return (uint32_t)u16(in) | (uint32_t)u16(in) << 16; }

/* ---- driver side ---- */
static void start_device(void)
{
	struct virtio_device *vd = virtio_vsock_vdev(F.vs);
	virtio_device_reset(vd);
	vd->tops = &F.tops;
	memset(gm_ptr(&F.gm, 0x10000, 0x10000), 0, 0x10000);
	virtio_set_status(vd, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	vd->driver_features = 1ull << VIRTIO_F_VERSION_1;
	virtio_set_status(vd, VIRTIO_STATUS_FEATURES_OK);
	for (uint16_t q = 0; q < 3; q++) {
		F.r[q].next = F.r[q].avail_idx = F.r[q].used_seen = F.r[q].inflight = 0;
		memset(F.r[q].nd, 0, sizeof(F.r[q].nd));
		vd->vq[q].size = QSZ;
		vd->vq[q].desc_gpa = F.r[q].desc;
		vd->vq[q].avail_gpa = F.r[q].avail;
		vd->vq[q].used_gpa = F.r[q].used;
		if (virtio_queue_enable(vd, q))
			abort();
	}
	virtio_set_status(vd, VIRTIO_STATUS_DRIVER_OK);
	F.bump = BUFS;
}

/* A fresh buffer (never one the device may still hold); 0 when the input
 * used up the area. */
static uint64_t alloc(uint32_t len)
{
	if (F.bump + len + 64 > RAM)
		return 0;
	uint64_t a = F.bump;
	F.bump = (F.bump + len + 64) & ~63ull;	/* never the same address twice */
	return a;
}

static void post(uint16_t qi, const uint64_t *gpa, const uint32_t *len, const bool *wr, unsigned n)
{
	struct ring *r = &F.r[qi];
	uint16_t head = r->next;
	if (r->inflight + n > QSZ)
		return;		/* a driver never reuses descriptors in flight */
	r->inflight = (uint16_t)(r->inflight + n);
	r->nd[head] = (uint8_t)n;
	for (unsigned i = 0; i < n; i++) {
		uint16_t idx = (uint16_t)((head + i) % QSZ), nx = (uint16_t)((idx + 1) % QSZ);
		uint16_t fl = (uint16_t)((wr[i] ? VIRTQ_DESC_F_WRITE : 0) | (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
		uint8_t *d = gm_ptr(&F.gm, r->desc + 16ull * idx, 16);
		memcpy(d, &gpa[i], 8);
		memcpy(d + 8, &len[i], 4);
		memcpy(d + 12, &fl, 2);
		memcpy(d + 14, &nx, 2);
	}
	r->next = (uint16_t)((head + n) % QSZ);
	*(uint16_t *)gm_ptr(&F.gm, r->avail + 4 + 2ull * (r->avail_idx % QSZ), 2) = head;
	r->avail_idx++;
	__atomic_store_n((uint16_t *)gm_ptr(&F.gm, r->avail + 2, 2), r->avail_idx, __ATOMIC_RELEASE);
	virtio_queue_kick(virtio_vsock_vdev(F.vs), qi);
}

/* Check what the device returned; learn host ports from REQUESTs. */
static void drain_used(void)
{
	for (uint16_t qi = 0; qi < 3; qi++) {
		struct ring *r = &F.r[qi];
		uint16_t idx = __atomic_load_n((uint16_t *)gm_ptr(&F.gm, r->used + 2, 2), __ATOMIC_ACQUIRE);
		if ((uint16_t)(idx - r->used_seen) > QSZ)
			abort();	/* the device pushed more than was offered */
		for (; r->used_seen != idx; r->used_seen++) {
			const uint8_t *e = gm_ptr(&F.gm, r->used + 4 + 8ull * (r->used_seen % QSZ), 8);
			uint32_t id, len;
			memcpy(&id, e, 4);
			memcpy(&len, e + 4, 4);
			if (id >= QSZ || r->nd[id] == 0 || r->nd[id] > r->inflight)
				abort();	/* not a chain head we offered */
			r->inflight = (uint16_t)(r->inflight - r->nd[id]);
			r->nd[id] = 0;
			if (qi != VSOCK_QUEUE_RX)
				continue;
			if (len < VSOCK_HDR_LEN)
				abort();
			uint64_t gpa;
			memcpy(&gpa, gm_ptr(&F.gm, r->desc + 16ull * id, 8), 8);
			const uint8_t *h = gm_ptr(&F.gm, gpa, VSOCK_HDR_LEN);
			if (!h)
				continue;	/* header split over descriptors: skip the check */
			uint32_t hl, src_port;
			uint16_t op;
			uint64_t src_cid, dst_cid;
			memcpy(&src_cid, h, 8);
			memcpy(&dst_cid, h + 8, 8);
			memcpy(&src_port, h + 16, 4);
			memcpy(&hl, h + 24, 4);
			memcpy(&op, h + 30, 2);
			if (src_cid != VSOCK_HOST_CID || dst_cid != CID || hl != len - VSOCK_HDR_LEN ||
			    hl > VSOCK_MAX_PAYLOAD || op < VSOCK_OP_REQUEST || op > VSOCK_OP_CREDIT_REQUEST ||
			    (hl && op != VSOCK_OP_RW)) {
				fprintf(stderr, "bad RX packet: src %llu dst %llu len %u/%u op %u\n",
					(unsigned long long)src_cid, (unsigned long long)dst_cid, hl,
					len, op);
				abort();
			}
			if (op == VSOCK_OP_REQUEST)
				F.last_hostport = src_port;
		}
	}
}

static void check_invariants(void)
{
	struct virtio_vsock *vs = F.vs;
	if (vs->nconns > VSOCK_MAX_CONNS || vs->rst_len > 64)
		abort();
	for (unsigned i = 0; i < vs->nconns; i++) {
		const struct vconn *c = vs->conns[i];
		if (c->buf_len > VSOCK_CONN_BUF)
			abort();
		if (c->state != CS_DEAD && c->recv_cnt - c->fwd_cnt != c->buf_len)
			abort();	/* what the guest sent = forwarded + held */
		if (c->state == CS_DEAD && (c->fd >= 0 || c->pend != PEND_RST))
			abort();
	}
}

/* Play the event loop: deliver what poll() says to each connection. */
static void dispatch(void)
{
	struct virtio_vsock *vs = F.vs;
	for (int round = 0; round < 4; round++) {
		struct vconn *snap[VSOCK_MAX_CONNS];
		unsigned n = vs->nconns;
		memcpy(snap, vs->conns, n * sizeof(snap[0]));
		for (unsigned i = 0; i < n; i++) {
			struct vconn *c = snap[i];
			bool live = false;
			for (unsigned k = 0; k < vs->nconns; k++)
				live |= vs->conns[k] == c;
			if (!live || !c->registered || c->fd < 0)
				continue;
			struct pollfd p = { c->fd, (short)(c->watched & (POLLIN | POLLOUT)), 0 };
			if (poll(&p, 1, 0) == 1 && p.revents)
				vsock_conn_event(c, (uint32_t)p.revents);
		}
		drain_used();
		check_invariants();
	}
}

static void add_peer(int fd)
{
	if (F.npeers < MAX_PEERS)
		F.peers[F.npeers++] = fd;
	else
		close(fd);
}

static void step(struct in *in)
{
	static uint8_t pkt[VSOCK_HDR_LEN + 1024];
	switch (u8(in) % 7) {
	case 0: {	/* a guest TX packet: plausible unless `bad` says otherwise */
		uint8_t sel = u8(in);
		uint8_t bad = (sel & 0x80) ? u8(in) : 0;
		struct vsock_hdr h = { 0 };
		h.src_cid = (bad & 1) ? u32(in) : CID;
		h.dst_cid = (bad & 2) ? u8(in) % 8 : VSOCK_HOST_CID;
		h.type = (bad & 4) ? u8(in) % 4 : VSOCK_TYPE_STREAM;
		h.op = u8(in) % 9;
		h.src_port = 1000 + (sel & 3);
		uint8_t d = (sel >> 2) & 3;
		h.dst_port = d == 3 ? F.last_hostport : d + 1;
		uint32_t plen = h.op == VSOCK_OP_RW ? u16(in) % 1024 : 0;
		h.len = (bad & 8) ? u32(in) : plen;
		h.flags = h.op == VSOCK_OP_SHUTDOWN ? u8(in) % 4 : 0;
		h.buf_alloc = (sel & 16) ? u32(in) % 70000 : 65536;
		h.fwd_cnt = (sel & 32) ? u32(in) : 0;
		vsock_hdr_encode(&h, pkt);
		for (uint32_t i = 0; i < plen; i++)
			pkt[VSOCK_HDR_LEN + i] = (uint8_t)i;
		uint32_t total = VSOCK_HDR_LEN + plen;
		if (bad & 16)
			total = u8(in) % (total + 1);	/* truncated chain */
		uint64_t a = alloc(total + 1), a2 = alloc(64);
		if (!a || !a2)
			break;
		memcpy(gm_ptr(&F.gm, a, total + 1), pkt, total);
		uint64_t g[3];
		uint32_t l[3];
		bool w[3] = { false, false, (bad & 32) != 0 };
		unsigned n = (sel & 64) ? 2 + (bad & 64 ? 1 : 0) : 1;
		uint32_t cut1 = n > 1 ? (plen ? VSOCK_HDR_LEN : u8(in) % (total + 1)) : total;
		if (cut1 > total)
			cut1 = total;
		g[0] = a;
		l[0] = cut1;
		g[1] = a + cut1;
		l[1] = total - cut1;
		g[2] = a2;
		l[2] = 64;
		post(VSOCK_QUEUE_TX, g, l, w, n);
		break;
	}
	case 1: {	/* RX buffers */
		unsigned n = 1 + u8(in) % 4;
		for (unsigned i = 0; i < n; i++) {
			uint8_t sel = u8(in);
			uint32_t len = (sel & 1) ? u16(in) % 6000 : 4096 + VSOCK_HDR_LEN;
			uint64_t g[2] = { alloc(len > VSOCK_HDR_LEN ? len : VSOCK_HDR_LEN), alloc(len) };
			if (!g[0] || !g[1])
				break;
			uint32_t l[2] = { len, 0 };
			bool w[2] = { !(sel & 2) || (sel & 4), true };
			unsigned nd = 1;
			if (sel & 8) {		/* header and data apart, like Linux 6.1 */
				l[0] = VSOCK_HDR_LEN;
				l[1] = len;
				nd = 2;
			}
			post(VSOCK_QUEUE_RX, g, l, w, nd);
		}
		break;
	}
	case 2:		/* host services accept */
		for (int s = 0; s < 2; s++) {
			int fd;
			while ((fd = accept4(F.svc[s], NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0)
				add_peer(fd);
		}
		break;
	case 3: {	/* a host peer writes */
		if (!F.npeers)
			break;
		int fd = F.peers[u8(in) % F.npeers];
		uint8_t buf[512];
		size_t n = u16(in) % sizeof(buf);
		memset(buf, 0x5a, n);
		ssize_t r = send(fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		(void)r;
		break;
	}
	case 4: {	/* a host peer reads, half-closes or closes */
		if (!F.npeers)
			break;
		int i = u8(in) % F.npeers;
		uint8_t how = u8(in) % 4, buf[4096];
		if (how == 0) {
			while (recv(F.peers[i], buf, sizeof(buf), MSG_DONTWAIT) > 0)
				;
		} else if (how == 1) {
			shutdown(F.peers[i], SHUT_WR);
		} else {
			close(F.peers[i]);
			F.peers[i] = F.peers[--F.npeers];
		}
		break;
	}
	case 5: {	/* a host program connects to uds_path */
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", F.uds);
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
			if (fd >= 0)
				close(fd);
			break;
		}
		static const char *lines[] = { "CONNECT 1000\n", "CONNECT 1001\ndata", "CONNECT 7\r\n",
					       "CONNECT x\n", "CONNECT ", "GARBAGE\n", "" };
		const char *l = lines[u8(in) % 7];
		ssize_t r = send(fd, l, strlen(l), MSG_NOSIGNAL);
		(void)r;
		add_peer(fd);
		vsock_listen_event(F.vs, POLLIN);
		break;
	}
	case 6:		/* time passes: the timeout timer (nothing is due yet) */
		vsock_timer_event(F.vs, POLLIN);
		break;
	}
	dispatch();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	init_once();
	start_device();
	F.last_hostport = 0;
	struct in in = { data, size };
	for (int steps = 0; in.n && steps < 64; steps++)
		step(&in);
	/* Reset closes everything; nothing may be left behind. */
	virtio_device_reset(virtio_vsock_vdev(F.vs));
	if (F.vs->nconns || F.vs->rst_len || F.vs->rxq_head)
		abort();
	while (F.npeers)
		close(F.peers[--F.npeers]);
	return 0;
}
