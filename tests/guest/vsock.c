/* vsock: stream connections through the first virtio-vsock device (virtio
 * 1.2 §5.10), with the host side on AF_UNIX sockets (skiff follows
 * Firecracker's convention, docs/devices.md).
 *
 *   "connect=PORT": connect to the host (CID 2) on PORT (skiff connects to
 *     UDS_PORT), send "hello from the skiff guest over vsock\n", print the
 *     host's first line as "vsock: host says: TEXT", shut down and wait for
 *     the RST -> "vsock: closed".
 *   "listen=PORT": accept host connections (a host program writes
 *     "CONNECT PORT\n" to the UDS): "vsock: connection from host port N",
 *     echo every byte back upper-cased, and when the host shuts down its
 *     side answer RST -> "vsock: host closed". With "count=N" (default 1)
 *     that many connections, one after the other; "serve=S" seconds at most
 *     (default 30). "vsock: listening on PORT" says when to connect.
 * Also prints "vsock: 00:SS.0 guest cid N"; exits 0x2a when all went as
 * described, 0x33 after "vsock: FAIL ..." lines. */
#include "virtio.h"

static int fails;
#define FAIL(...) do { kit_printf("vsock: FAIL " __VA_ARGS__); fails++; } while (0)

#define HDR_LEN		44
#define RXBUF		(HDR_LEN + 4096)
#define OP_REQUEST	1
#define OP_RESPONSE	2
#define OP_RST		3
#define OP_SHUTDOWN	4
#define OP_RW		5
#define OP_CREDIT_UPDATE 6
#define OP_CREDIT_REQUEST 7
#define TYPE_STREAM	1
#define HOST_CID	2
#define BUF_ALLOC	65536

struct hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
} __attribute__((packed));

static struct vdev dev;
static struct vq rxq, txq, evq;
static uint8_t *rxbufs, *txbufs;
static uint16_t tx_next;
static uint64_t cid;

/* One connection at a time. */
static struct {
	bool open, responded, peer_shut, reset;
	uint32_t local, peer;		/* ports */
	uint32_t fwd_cnt;		/* bytes we received */
	char line[256];
	uint32_t line_len;
	bool line_done;
	bool echo;
} c;

/* A host REQUEST that arrived while the previous connection was still
 * closing: accepted once it is gone. */
static bool pend_valid;
static uint32_t pend_local, pend_peer;

static void rx_give(uint16_t i)
{
	struct vq_buf b = { (uint64_t)(rxbufs + (uint32_t)i * RXBUF), RXBUF, true };
	vq_add(&rxq, &b, 1, (void *)(uintptr_t)(i + 1));
}

static void send_pkt(uint16_t op, uint32_t flags, const void *data, uint32_t len)
{
	uint64_t t0 = kit_rdtsc();
	while (!txq.num_free) {
		while (vq_get(&txq, NULL, NULL))
			;
		if (kit_rdtsc() - t0 > kit_us_ticks(5000000)) {
			FAIL("tx queue stuck\n");
			kit_exit(KIT_EXIT_FAIL);
		}
	}
	uint8_t *b = txbufs + (uint32_t)tx_next * RXBUF;
	tx_next = (uint16_t)((tx_next + 1) % txq.size);
	struct hdr h = { cid, HOST_CID, c.local, c.peer, len, TYPE_STREAM, op, flags, BUF_ALLOC,
			 c.fwd_cnt };
	memcpy(b, &h, HDR_LEN);
	memcpy(b + HDR_LEN, data, len);
	struct vq_buf vb = { (uint64_t)b, HDR_LEN + len, false };
	vq_add(&txq, &vb, 1, b);
	vq_kick(&txq);
}

static void handle(const uint8_t *p, uint32_t len, uint32_t listen_port)
{
	if (len < HDR_LEN)
		return;
	struct hdr h;
	memcpy(&h, p, HDR_LEN);
	const uint8_t *data = p + HDR_LEN;
	uint32_t dlen = h.len <= len - HDR_LEN ? h.len : len - HDR_LEN;
	if (h.dst_cid != cid || h.src_cid != HOST_CID) {
		FAIL("packet for cid %lu from cid %lu\n", h.dst_cid, h.src_cid);
		return;
	}
	bool ours = c.open && h.dst_port == c.local && h.src_port == c.peer;
	switch (h.op) {
	case OP_REQUEST:
		if (!c.open && listen_port && h.dst_port == listen_port) {
			memset(&c, 0, sizeof(c));
			c.open = c.responded = c.echo = true;
			c.local = h.dst_port;
			c.peer = h.src_port;
			send_pkt(OP_RESPONSE, 0, NULL, 0);
			kit_printf("vsock: connection from host port %u\n", h.src_port);
		} else if (c.open && listen_port && h.dst_port == listen_port && !pend_valid) {
			pend_valid = true;
			pend_local = h.dst_port;
			pend_peer = h.src_port;
		} else {
			uint32_t l = c.local, pe = c.peer;
			c.local = h.dst_port;
			c.peer = h.src_port;
			send_pkt(OP_RST, 0, NULL, 0);
			c.local = l;
			c.peer = pe;
		}
		break;
	case OP_RESPONSE:
		if (ours)
			c.responded = true;
		break;
	case OP_RST:
		if (ours) {
			c.reset = true;
			c.open = false;
		}
		break;
	case OP_SHUTDOWN:
		if (ours)
			c.peer_shut = true;
		break;
	case OP_CREDIT_REQUEST:
		if (ours)
			send_pkt(OP_CREDIT_UPDATE, 0, NULL, 0);
		break;
	case OP_RW:
		if (!ours)
			break;
		c.fwd_cnt += dlen;
		for (uint32_t i = 0; i < dlen; i++) {
			if (!c.line_done && c.line_len < sizeof(c.line) - 1) {
				if (data[i] == '\n')
					c.line_done = true;
				else
					c.line[c.line_len++] = (char)data[i];
			}
		}
		if (c.echo) {
			static uint8_t up[4096];
			for (uint32_t i = 0; i < dlen; i++)
				up[i] = data[i] >= 'a' && data[i] <= 'z' ? data[i] - 32 : data[i];
			send_pkt(OP_RW, 0, up, dlen);
		}
		break;
	}
}

/* Handle packets for up to us microseconds or until *flag. */
static void pump(uint64_t us, volatile bool *flag, uint32_t listen_port)
{
	uint64_t t0 = kit_rdtsc();
	do {
		void *tok;
		uint32_t len;
		bool any = false;
		while (vq_get(&rxq, &tok, &len)) {
			uint16_t i = (uint16_t)((uintptr_t)tok - 1);
			if (i < rxq.size) {
				handle(rxbufs + (uint32_t)i * RXBUF, len, listen_port);
				rx_give(i);
				any = true;
			}
		}
		if (any)
			vq_kick(&rxq);
		while (vq_get(&txq, NULL, NULL))
			;
		if (flag && *flag)
			return;
		cpu_relax();
	} while (kit_rdtsc() - t0 < kit_us_ticks(us));
}

static int open_dev(void)
{
	if (vdev_find(&dev, VIRTIO_ID_VSOCK, 0)) {
		kit_puts("vsock: FAIL no virtio-vsock device\n");
		return -1;
	}
	if (vdev_init(&dev, VIRTIO_BIT(0) | VIRTIO_BIT(VIRTIO_F_EVENT_IDX)))
		return -1;
	if (vq_init(&dev, &rxq, 0, 64) || vq_init(&dev, &txq, 1, 64) || vq_init(&dev, &evq, 2, 8))
		return -1;
	rxbufs = kit_alloc((size_t)rxq.size * RXBUF, 4096);
	txbufs = kit_alloc((size_t)txq.size * RXBUF, 4096);
	uint8_t *evbufs = kit_alloc(8 * 8, 8);
	vdev_driver_ok(&dev);
	for (uint16_t i = 0; i < rxq.size; i++)
		rx_give(i);
	vq_kick(&rxq);
	for (int i = 0; i < 8; i++) {
		struct vq_buf b = { (uint64_t)(evbufs + 8 * i), 8, true };
		vq_add(&evq, &b, 1, evbufs + 8 * i);
	}
	vq_kick(&evq);
	cid = vdev_cfg64(&dev, 0);
	kit_printf("vsock: 00:%02x.0 guest cid %lu features 0x%lx\n", dev.bdf >> 3, cid, dev.features);
	return 0;
}

static void do_connect(uint32_t port)
{
	memset(&c, 0, sizeof(c));
	c.open = true;
	c.local = 1234;
	c.peer = port;
	send_pkt(OP_REQUEST, 0, NULL, 0);
	pump(5000000, &c.responded, 0);
	if (!c.responded) {
		FAIL("no RESPONSE from host port %u%s\n", port, c.reset ? " (RST)" : "");
		return;
	}
	kit_printf("vsock: connected to host port %u\n", port);
	static const char hello[] = "hello from the skiff guest over vsock\n";
	send_pkt(OP_RW, 0, hello, sizeof(hello) - 1);
	pump(5000000, &c.line_done, 0);
	if (!c.line_done) {
		FAIL("no line from the host\n");
		return;
	}
	c.line[c.line_len] = 0;
	kit_printf("vsock: host says: %s\n", c.line);
	send_pkt(OP_SHUTDOWN, 3, NULL, 0);		/* RCV | SEND */
	pump(5000000, &c.reset, 0);
	if (!c.reset)
		FAIL("no RST after SHUTDOWN\n");
	else
		kit_puts("vsock: closed\n");
}

static void do_listen(uint32_t port, uint64_t count, uint64_t serve)
{
	kit_printf("vsock: listening on %u\n", port);
	uint64_t t0 = kit_rdtsc();
	for (uint64_t k = 0; k < count; k++) {
		memset(&c, 0, sizeof(c));
		if (pend_valid) {
			pend_valid = false;
			c.open = c.responded = c.echo = true;
			c.local = pend_local;
			c.peer = pend_peer;
			send_pkt(OP_RESPONSE, 0, NULL, 0);
			kit_printf("vsock: connection from host port %u\n", c.peer);
		}
		while (!c.open && kit_rdtsc() - t0 < kit_us_ticks(serve * 1000000))
			pump(1000, NULL, port);
		if (!c.open) {
			FAIL("no host connection within %lu s\n", serve);
			return;
		}
		while (!c.peer_shut && !c.reset && kit_rdtsc() - t0 < kit_us_ticks(serve * 1000000))
			pump(1000, NULL, port);
		if (c.reset) {
			FAIL("the host reset connection %lu\n", k + 1);
			continue;
		}
		if (!c.peer_shut) {
			FAIL("connection %lu still open after %lu s\n", k + 1, serve);
			return;
		}
		c.line[c.line_len] = 0;
		kit_printf("vsock: host wrote: %s\n", c.line);
		send_pkt(OP_RST, 0, NULL, 0);
		c.open = false;
		kit_puts("vsock: host closed\n");
	}
}

int payload_main(void)
{
	if (pci_init(kit_cmdline_has("pci=cf8") ? PCI_CF8 : PCI_ECAM))
		return KIT_EXIT_FAIL;
	if (open_dev())
		return KIT_EXIT_FAIL;
	uint64_t port = kit_cmdline_u64("connect=", 0);
	if (port)
		do_connect((uint32_t)port);
	port = kit_cmdline_u64("listen=", 0);
	if (port)
		do_listen((uint32_t)port, kit_cmdline_u64("count=", 1), kit_cmdline_u64("serve=", 30));
	uint8_t s = vdev_status(&dev);
	if (s & (VIRTIO_NEEDS_RESET | VIRTIO_FAILED))
		FAIL("device status 0x%x\n", s);
	vdev_reset(&dev);
	if (!fails)
		kit_puts("vsock: ok\n");
	return fails ? KIT_EXIT_FAIL : KIT_EXIT_OK;
}
