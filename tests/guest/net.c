/* net: Ethernet through the first virtio-net device (virtio 1.2 §5.1), with
 * just enough ARP, IPv4, ICMP, UDP and DHCP to talk to a host.
 *
 * Tap mode, "ip=A peer=P" (e.g. ip=10.0.0.2 peer=10.0.0.1):
 *   1. ARP request for P, wait for the reply  -> "net: arp P is at MAC"
 *   2. three ICMP echo requests to P          -> "net: ping reply from P seq N"
 *   3. "send=PORT": a UDP datagram "hello from the skiff guest" to P:PORT
 *      -> "net: udp sent to P:PORT"
 *   4. "serve=S" (default 0: skip): answer ARP requests and pings for A,
 *      print every UDP datagram to A:udp= port (default 7000) as
 *      "net: udp from X:Y len N: TEXT" and echo it back to its sender, until
 *      one reads "quit" or S seconds passed ("net: serving" starts it).
 * User mode, "dhcp": DHCPDISCOVER/OFFER/REQUEST/ACK -> "net: dhcp offer A
 *   server S", "net: dhcp ack A router R dns D"; then ARP and ping of the
 *   router as above, and "send=PORT" to the router's address (libslirp
 *   forwards it to the host's loopback).
 * "tcp=PORT serve=S" (either mode) instead serves TCP on PORT: tcpcount=
 *   connections (default 1), each line answered upper-cased ("net: tcp
 *   connection from A:P", "net: tcp got: TEXT", "net: tcp closed"); for
 *   libslirp's hostfwd.
 * Exits 0x2a when every step worked, 0x33 after "net: FAIL ..." lines.
 *
 * Bench mode, "bench=udp": after ARP, n= datagrams (default 100000) of
 * size= payload bytes (default 1472) to P:port= (default 7001), the send
 * loop framed by two boot-timer writes (port 0x3f0); then "net: bench sent
 * N datagrams B bytes tsc T kicks K", and a wait of linger= milliseconds
 * (default 0) before the closing "end" datagrams. "pci=cf8": configuration through
 * 0xCF8. */
#include "virtio.h"

static int fails;
#define FAIL(...) do { kit_printf("net: FAIL " __VA_ARGS__); fails++; } while (0)

#define RXBUF 2048
#define HDR ((uint32_t)sizeof(struct virtio_net_hdr))	/* 12 with VERSION_1 */

static struct vdev dev;
static struct vq rxq, txq;
static uint8_t *rxbufs, *txbufs;
static uint16_t txn;			/* tx buffers (= tx queue size) */
static uint16_t tx_next;		/* next tx buffer to use, round robin */
static uint8_t mac[6];
static uint32_t my_ip, peer_ip;		/* host byte order */
static uint8_t peer_mac[6];
static bool peer_mac_known;
static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

/* ------------------------------------------------------------ helpers */
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }
static void put16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = (uint8_t)v; }

static uint16_t csum(const uint8_t *p, uint32_t len, uint32_t sum)
{
	for (; len > 1; p += 2, len -= 2)
		sum += get16(p);
	if (len)
		sum += p[0] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint32_t parse_ip(const char *key, uint32_t def)
{
	size_t len;
	const char *v = kit_cmdline_get(key, &len);
	if (!v)
		return def;
	uint32_t ip = 0, part = 0;
	int dots = 0;
	for (size_t i = 0; i < len; i++) {
		if (v[i] == '.') {
			ip = ip << 8 | part;
			part = 0;
			dots++;
		} else if (v[i] >= '0' && v[i] <= '9') {
			part = part * 10 + (v[i] - '0');
		} else {
			return def;
		}
	}
	return dots == 3 ? ip << 8 | part : def;
}

static void print_ip(uint32_t ip)
{
	kit_printf("%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
}

static void print_mac(const uint8_t *m)
{
	kit_printf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

/* ------------------------------------------------------------ device */
static void rx_give(uint16_t i)
{
	struct vq_buf b = { (uint64_t)(rxbufs + (uint32_t)i * RXBUF), RXBUF, true };
	vq_add(&rxq, &b, 1, (void *)(uintptr_t)(i + 1));
}

static int net_open(void)
{
	if (vdev_find(&dev, VIRTIO_ID_NET, 0)) {
		kit_puts("net: FAIL no virtio-net device\n");
		return -1;
	}
	uint64_t want = VIRTIO_BIT(VIRTIO_NET_F_MAC) | VIRTIO_BIT(VIRTIO_NET_F_STATUS) |
			VIRTIO_BIT(VIRTIO_F_EVENT_IDX);
	if (vdev_init(&dev, want))
		return -1;
	if (dev.features & VIRTIO_BIT(VIRTIO_NET_F_MAC)) {
		for (int i = 0; i < 6; i++)
			mac[i] = vdev_cfg8(&dev, i);
	} else {
		static const uint8_t def[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
		memcpy(mac, def, 6);
	}
	if (vq_init(&dev, &rxq, 0, 0) || vq_init(&dev, &txq, 1, 0))
		return -1;
	rxbufs = kit_alloc((size_t)rxq.size * RXBUF, 4096);
	txn = txq.size;
	txbufs = kit_alloc((size_t)txn * RXBUF, 4096);
	vdev_driver_ok(&dev);
	for (uint16_t i = 0; i < rxq.size; i++)
		rx_give(i);
	vq_kick(&rxq);
	kit_printf("net: 00:%02x.0 mac ", dev.bdf >> 3);
	print_mac(mac);
	kit_printf(" features 0x%lx queues rx %u tx %u", dev.features, rxq.size, txq.size);
	if (dev.features & VIRTIO_BIT(VIRTIO_NET_F_STATUS))
		kit_printf(" link %s", vdev_cfg16(&dev, 6) & 1 ? "up" : "down");
	kit_puts("\n");
	return 0;
}

static void tx_reclaim(void)
{
	while (vq_get(&txq, NULL, NULL))
		;
}

/* A tx buffer with room for a frame (header zeroed), waiting for one. */
static uint8_t *tx_buf(void)
{
	uint64_t t0 = kit_rdtsc();
	while (!txq.num_free) {
		tx_reclaim();
		if (kit_rdtsc() - t0 > kit_us_ticks(5000000)) {
			FAIL("tx queue stuck (status 0x%x)\n", vdev_status(&dev));
			kit_exit(KIT_EXIT_FAIL);
		}
	}
	uint8_t *b = txbufs + (uint32_t)tx_next * RXBUF;
	tx_next = (uint16_t)((tx_next + 1) % txn);
	memset(b, 0, HDR);
	return b;
}

/* Queue the frame in b (virtio header + len bytes of frame); kick if asked. */
static void tx_send(uint8_t *b, uint32_t len, bool kick)
{
	struct vq_buf vb = { (uint64_t)b, HDR + len, false };
	if (vq_add(&txq, &vb, 1, b) < 0)
		FAIL("tx: no room\n");
	if (kick)
		vq_kick(&txq);
}

/* Ethernet header; returns the payload pointer. */
static uint8_t *eth(uint8_t *b, const uint8_t *dst, uint16_t type)
{
	uint8_t *f = b + HDR;
	memcpy(f, dst, 6);
	memcpy(f + 6, mac, 6);
	put16(f + 12, type);
	return f + 14;
}

static void arp_send(uint16_t op, const uint8_t *tha, uint32_t tip)
{
	uint8_t *b = tx_buf();
	uint8_t *a = eth(b, op == 1 ? bcast : tha, 0x0806);
	put16(a, 1);			/* Ethernet */
	put16(a + 2, 0x0800);		/* IPv4 */
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, op);
	memcpy(a + 8, mac, 6);
	put32(a + 14, my_ip);
	memcpy(a + 18, op == 1 ? (const uint8_t *)"\0\0\0\0\0\0" : tha, 6);
	put32(a + 24, tip);
	tx_send(b, 14 + 28 + 18, true);	/* padded to 60 bytes */
}

/* IPv4 header at p for `plen` payload bytes; returns the payload. */
static uint8_t *ipv4(uint8_t *p, uint8_t proto, uint32_t src, uint32_t dst, uint32_t plen)
{
	static uint16_t ident;
	p[0] = 0x45;
	p[1] = 0;
	put16(p + 2, (uint16_t)(20 + plen));
	put16(p + 4, ident++);
	put16(p + 6, 0x4000);		/* don't fragment */
	p[8] = 64;
	p[9] = proto;
	put16(p + 10, 0);
	put32(p + 12, src);
	put32(p + 16, dst);
	put16(p + 10, csum(p, 20, 0));
	return p + 20;
}

static uint32_t pad60(uint32_t len) { return len < 60 ? 60 : len; }

static void icmp_echo(const uint8_t *dmac, uint32_t dst, uint8_t type, uint16_t id, uint16_t seq,
		      const uint8_t *data, uint32_t dlen)
{
	uint8_t *b = tx_buf();
	uint8_t *ic = ipv4(eth(b, dmac, 0x0800), 1, my_ip, dst, 8 + dlen);
	ic[0] = type;
	ic[1] = 0;
	put16(ic + 2, 0);
	put16(ic + 4, id);
	put16(ic + 6, seq);
	memcpy(ic + 8, data, dlen);
	put16(ic + 2, csum(ic, 8 + dlen, 0));
	tx_send(b, pad60(14 + 20 + 8 + dlen), true);
}

/* Build a UDP datagram in a tx buffer (checksum 0: none, RFC 768). */
static uint8_t *udp_build(uint8_t *b, const uint8_t *dmac, uint32_t src, uint32_t dst,
			  uint16_t sport, uint16_t dport, uint32_t dlen, uint32_t *flen)
{
	uint8_t *u = ipv4(eth(b, dmac, 0x0800), 17, src, dst, 8 + dlen);
	put16(u, sport);
	put16(u + 2, dport);
	put16(u + 4, (uint16_t)(8 + dlen));
	put16(u + 6, 0);
	*flen = pad60(14 + 20 + 8 + dlen);
	return u + 8;
}

static void udp_send(const uint8_t *dmac, uint32_t dst, uint16_t sport, uint16_t dport,
		     const void *data, uint32_t dlen)
{
	uint8_t *b = tx_buf();
	uint32_t flen;
	memcpy(udp_build(b, dmac, my_ip, dst, sport, dport, dlen, &flen), data, dlen);
	tx_send(b, flen, true);
}

/* ------------------------------------------------------------ receive */
static struct {
	bool arp_reply;
	int ping_replies;
	uint16_t ping_seen;		/* bit per seq 0-15 */
	bool quit;
	int udp_count;
	/* DHCP */
	uint32_t xid;
	uint8_t dhcp_type;		/* last message type seen */
	uint32_t yiaddr, server, router, dns;
	uint32_t rx_frames, rx_bytes;
} st;

static uint16_t udp_port = 7000;

static void handle_udp(const uint8_t *f, const uint8_t *ip, const uint8_t *u, uint32_t ulen)
{
	uint16_t sport = get16(u), dport = get16(u + 2);
	uint32_t src = get32(ip + 12);
	const uint8_t *d = u + 8;
	uint32_t dlen = ulen - 8;
	if (dport == 68 && sport == 67 && dlen >= 240 && d[0] == 2 && get32(d + 4) == st.xid &&
	    get32(d + 236) == 0x63825363) {
		st.yiaddr = get32(d + 16);
		for (uint32_t o = 240; o + 1 < dlen && d[o] != 255;) {
			if (d[o] == 0) {
				o++;
				continue;
			}
			uint8_t t = d[o], l = d[o + 1];
			const uint8_t *v = d + o + 2;
			if (o + 2 + l > dlen)
				break;
			if (t == 53 && l >= 1)
				st.dhcp_type = v[0];
			else if (t == 54 && l >= 4)
				st.server = get32(v);
			else if (t == 3 && l >= 4)
				st.router = get32(v);
			else if (t == 6 && l >= 4)
				st.dns = get32(v);
			o += 2 + l;
		}
		return;
	}
	if (get32(ip + 16) != my_ip || dport != udp_port)
		return;
	st.udp_count++;
	kit_puts("net: udp from ");
	print_ip(src);
	kit_printf(":%u len %u: ", sport, dlen);
	char text[64];
	uint32_t n = dlen < sizeof(text) - 1 ? dlen : sizeof(text) - 1;
	for (uint32_t i = 0; i < n; i++)
		text[i] = d[i] >= 0x20 && d[i] < 0x7f ? (char)d[i] : '.';
	text[n] = 0;
	while (n && text[n - 1] == '.')		/* a trailing newline */
		text[--n] = 0;
	kit_printf("%s\n", text);
	if (n == 4 && !memcmp(text, "quit", 4))
		st.quit = true;
	udp_send(f + 6, src, dport, sport, d, dlen);	/* echo */
}

/* ---- a one-connection TCP responder (RFC 793, just enough): accepts a
 * connection on "tcp=PORT", answers each line upper-cased, closes when the
 * peer does. No retransmission: the virtual link does not lose frames. */
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
enum { T_LISTEN, T_SYN_RCVD, T_ESTABLISHED, T_LAST_ACK };
static struct {
	uint16_t port;			/* ours, 0: no TCP */
	int state;
	uint8_t mac[6];
	uint32_t ip;
	uint16_t pport;
	uint32_t rcv_nxt, snd_nxt;
	char line[128];
	uint32_t len;
	int done;			/* connections closed */
} tcp;

static void tcp_send(uint8_t flags, const void *data, uint32_t dlen)
{
	uint8_t *b = tx_buf();
	uint8_t *t = ipv4(eth(b, tcp.mac, 0x0800), 6, my_ip, tcp.ip, 20 + dlen);
	put16(t, tcp.port);
	put16(t + 2, tcp.pport);
	put32(t + 4, tcp.snd_nxt);
	put32(t + 8, (flags & TCP_ACK) ? tcp.rcv_nxt : 0);
	t[12] = 5 << 4;
	t[13] = flags;
	put16(t + 14, 65535);
	put16(t + 16, 0);
	put16(t + 18, 0);
	memcpy(t + 20, data, dlen);
	/* checksum over the pseudo-header and the segment */
	uint32_t sum = (my_ip >> 16) + (my_ip & 0xffff) + (tcp.ip >> 16) + (tcp.ip & 0xffff) + 6 +
		       20 + dlen;
	put16(t + 16, csum(t, 20 + dlen, sum));
	tx_send(b, pad60(14 + 20 + 20 + dlen), true);
	tcp.snd_nxt += dlen + ((flags & (TCP_SYN | TCP_FIN)) ? 1 : 0);
}

static void handle_tcp(const uint8_t *f, const uint8_t *ip, const uint8_t *t, uint32_t tlen)
{
	if (!tcp.port || tlen < 20 || get16(t + 2) != tcp.port || get32(ip + 16) != my_ip)
		return;
	uint32_t off = (t[12] >> 4) * 4u;
	if (off < 20 || off > tlen)
		return;
	uint8_t fl = t[13];
	uint32_t seq = get32(t + 4);
	const uint8_t *d = t + off;
	uint32_t dlen = tlen - off;
	if (fl & TCP_RST) {
		tcp.state = T_LISTEN;
		return;
	}
	if ((fl & TCP_SYN) && !(fl & TCP_ACK)) {	/* a new connection */
		memcpy(tcp.mac, f + 6, 6);
		tcp.ip = get32(ip + 12);
		tcp.pport = get16(t);
		tcp.rcv_nxt = seq + 1;
		tcp.snd_nxt = 0x5c1f0000;
		tcp.len = 0;
		tcp.state = T_SYN_RCVD;
		tcp_send(TCP_SYN | TCP_ACK, NULL, 0);
		return;
	}
	if (get32(ip + 12) != tcp.ip || get16(t) != tcp.pport || tcp.state == T_LISTEN)
		return;
	if (tcp.state == T_SYN_RCVD && (fl & TCP_ACK) && get32(t + 8) == tcp.snd_nxt) {
		tcp.state = T_ESTABLISHED;
		kit_puts("net: tcp connection from ");
		print_ip(tcp.ip);
		kit_printf(":%u\n", tcp.pport);
	}
	if (tcp.state == T_LAST_ACK) {
		if ((fl & TCP_ACK) && get32(t + 8) == tcp.snd_nxt) {
			tcp.state = T_LISTEN;
			tcp.done++;
			kit_puts("net: tcp closed\n");
		}
		return;
	}
	if (seq != tcp.rcv_nxt) {			/* out of order: say where we are */
		tcp_send(TCP_ACK, NULL, 0);
		return;
	}
	for (uint32_t i = 0; i < dlen; i++) {
		char ch = (char)d[i];
		if (ch == '\n') {
			tcp.line[tcp.len] = 0;
			kit_printf("net: tcp got: %s\n", tcp.line);
			for (uint32_t k = 0; k < tcp.len; k++)
				if (tcp.line[k] >= 'a' && tcp.line[k] <= 'z')
					tcp.line[k] = (char)(tcp.line[k] - 32);
			tcp.line[tcp.len++] = '\n';
			tcp.rcv_nxt += i + 1;
			tcp_send(TCP_PSH | TCP_ACK, tcp.line, tcp.len);
			tcp.rcv_nxt -= i + 1;
			tcp.len = 0;
		} else if (tcp.len < sizeof(tcp.line) - 2) {
			tcp.line[tcp.len++] = ch;
		}
	}
	tcp.rcv_nxt += dlen;
	if (fl & TCP_FIN) {
		tcp.rcv_nxt++;
		tcp_send(TCP_FIN | TCP_ACK, NULL, 0);
		tcp.state = T_LAST_ACK;
	} else if (dlen) {
		tcp_send(TCP_ACK, NULL, 0);
	}
}

static void handle_frame(const uint8_t *f, uint32_t len)
{
	st.rx_frames++;
	st.rx_bytes += len;
	if (len < 14)
		return;
	uint16_t type = get16(f + 12);
	const uint8_t *p = f + 14;
	uint32_t plen = len - 14;
	if (type == 0x0806 && plen >= 28 && get16(p) == 1 && get16(p + 2) == 0x0800) {
		uint16_t op = get16(p + 6);
		uint32_t sip = get32(p + 14), tip = get32(p + 24);
		if (op == 1 && tip == my_ip && my_ip) {
			arp_send(2, p + 8, sip);
		} else if (op == 2 && sip == peer_ip) {
			memcpy(peer_mac, p + 8, 6);
			peer_mac_known = true;
			st.arp_reply = true;
		}
		return;
	}
	if (type != 0x0800 || plen < 20 || (p[0] >> 4) != 4)
		return;
	uint32_t ihl = (p[0] & 15) * 4u, tot = get16(p + 2);
	if (ihl < 20 || tot > plen || tot < ihl)
		return;
	const uint8_t *l4 = p + ihl;
	uint32_t l4len = tot - ihl;
	if (p[9] == 1 && l4len >= 8 && get32(p + 16) == my_ip) {
		if (l4[0] == 8)		/* echo request: answer */
			icmp_echo(f + 6, get32(p + 12), 0, get16(l4 + 4), get16(l4 + 6), l4 + 8, l4len - 8);
	}
	if (p[9] == 1 && l4len >= 8 && l4[0] == 0 && get16(l4 + 4) == 0x5a1f &&
	    get32(p + 12) == peer_ip) {
		uint16_t seq = get16(l4 + 6);
		st.ping_replies++;
		if (seq < 16)
			st.ping_seen |= 1 << seq;
		kit_puts("net: ping reply from ");
		print_ip(peer_ip);
		kit_printf(" seq %u\n", seq);
	}
	if (p[9] == 17 && l4len >= 8 && get16(l4 + 4) <= l4len)
		handle_udp(f, p, l4, get16(l4 + 4));
	if (p[9] == 6)
		handle_tcp(f, p, l4, l4len);
}

/* Handle received frames for up to `us` microseconds or until *flag. */
static void pump(uint64_t us, volatile bool *flag)
{
	uint64_t t0 = kit_rdtsc();
	do {
		void *tok;
		uint32_t len;
		bool any = false;
		while (vq_get(&rxq, &tok, &len)) {
			uint16_t i = (uint16_t)((uintptr_t)tok - 1);
			if (i < rxq.size) {
				if (len > HDR && len <= RXBUF)
					handle_frame(rxbufs + (uint32_t)i * RXBUF + HDR, len - HDR);
				rx_give(i);
				any = true;
			}
		}
		if (any)
			vq_kick(&rxq);
		tx_reclaim();
		if (flag && *flag)
			return;
		cpu_relax();
	} while (kit_rdtsc() - t0 < kit_us_ticks(us));
}

/* ------------------------------------------------------------ steps */
static bool arp_resolve(void)
{
	for (int i = 0; i < 10 && !st.arp_reply; i++) {
		arp_send(1, NULL, peer_ip);
		pump(1000000, &st.arp_reply);
	}
	if (!st.arp_reply) {
		kit_puts("net: FAIL no ARP reply from ");
		print_ip(peer_ip);
		kit_puts("\n");
		fails++;
		return false;
	}
	kit_puts("net: arp ");
	print_ip(peer_ip);
	kit_puts(" is at ");
	print_mac(peer_mac);
	kit_puts("\n");
	return true;
}

static void ping(bool must)
{
	static const char data[] = "skiff guest ping payload, 56 bytes long.................";
	for (uint16_t seq = 1; seq <= 3; seq++) {
		icmp_echo(peer_mac, peer_ip, 8, 0x5a1f, seq, (const uint8_t *)data, 56);
		bool got = false;
		uint64_t t0 = kit_rdtsc();
		while (!got && kit_rdtsc() - t0 < kit_us_ticks(3000000)) {
			pump(1000, NULL);
			got = st.ping_seen & (1 << seq);
		}
		if (!got) {
			if (must)
				FAIL("no echo reply for seq %u\n", seq);
			else
				kit_printf("net: no echo reply for seq %u\n", seq);
		}
	}
}

static void dhcp_msg(uint8_t type)
{
	uint8_t *b = tx_buf();
	uint32_t flen;
	uint32_t my = my_ip;
	my_ip = 0;
	uint8_t *d = udp_build(b, bcast, 0, 0xffffffff, 68, 67, 300, &flen);
	my_ip = my;
	memset(d, 0, 300);
	d[0] = 1;			/* BOOTREQUEST */
	d[1] = 1;
	d[2] = 6;
	put32(d + 4, st.xid);
	put16(d + 10, 0x8000);		/* broadcast reply */
	memcpy(d + 28, mac, 6);
	put32(d + 236, 0x63825363);
	uint8_t *o = d + 240;
	*o++ = 53; *o++ = 1; *o++ = type;
	if (type == 3) {
		*o++ = 50; *o++ = 4; put32(o, st.yiaddr); o += 4;
		*o++ = 54; *o++ = 4; put32(o, st.server); o += 4;
	}
	*o++ = 55; *o++ = 3; *o++ = 1; *o++ = 3; *o++ = 6;
	*o++ = 255;
	tx_send(b, flen, true);
}

static bool wait_dhcp(uint8_t type)
{
	uint64_t t0 = kit_rdtsc();
	while (st.dhcp_type != type && kit_rdtsc() - t0 < kit_us_ticks(3000000))
		pump(1000, NULL);
	return st.dhcp_type == type;
}

static bool dhcp(void)
{
	st.xid = 0x5c1ff000 | (uint32_t)(kit_rdtsc() & 0xfff);
	bool ok = false;
	for (int i = 0; i < 3 && !ok; i++) {
		st.dhcp_type = 0;
		dhcp_msg(1);
		ok = wait_dhcp(2);
	}
	if (!ok) {
		FAIL("no DHCPOFFER\n");
		return false;
	}
	kit_puts("net: dhcp offer ");
	print_ip(st.yiaddr);
	kit_puts(" server ");
	print_ip(st.server);
	kit_puts("\n");
	st.dhcp_type = 0;
	dhcp_msg(3);
	if (!wait_dhcp(5)) {
		FAIL("no DHCPACK (last message type %u)\n", st.dhcp_type);
		return false;
	}
	my_ip = st.yiaddr;
	peer_ip = st.router ? st.router : st.server;
	kit_puts("net: dhcp ack ");
	print_ip(st.yiaddr);
	kit_puts(" router ");
	print_ip(st.router);
	kit_puts(" dns ");
	print_ip(st.dns);
	kit_puts("\n");
	return true;
}

static void timer_mark(void) { outb(0x3f0, 123); }

static int bench_udp(void)
{
	uint64_t n = kit_cmdline_u64("n=", 100000);
	uint32_t size = (uint32_t)kit_cmdline_u64("size=", 1472);
	uint16_t port = (uint16_t)kit_cmdline_u64("port=", 7001);
	if (size > 1472)
		size = 1472;
	if (!arp_resolve())
		return KIT_EXIT_FAIL;
	/* Pre-build every tx buffer once: the payload only changes its first
	 * 8 bytes (a sequence number). */
	uint32_t flen = 0;
	for (uint16_t i = 0; i < txn; i++) {
		uint8_t *b = txbufs + (uint32_t)i * RXBUF;
		memset(b, 0, HDR);
		uint8_t *d = udp_build(b, peer_mac, my_ip, peer_ip, 7002, port, size, &flen);
		memset(d, 'x', size);
	}
	kit_printf("net: bench udp %lu datagrams of %u bytes to port %u, tx queue %u\n", n, size,
		   port, txn);
	timer_mark();
	uint64_t t0 = kit_rdtsc(), sent = 0;
	uint16_t slot = 0;
	while (sent < n) {
		tx_reclaim();
		int batch = 0;
		while (txq.num_free && sent < n && batch < 64) {
			uint8_t *b = txbufs + (uint32_t)slot * RXBUF;
			slot = (uint16_t)((slot + 1) % txn);
			put32(b + HDR + 14 + 20 + 8, (uint32_t)sent);
			struct vq_buf vb = { (uint64_t)b, HDR + flen, false };
			vq_add(&txq, &vb, 1, b);
			sent++;
			batch++;
		}
		if (batch)
			vq_kick(&txq);
		else
			cpu_relax();
	}
	uint64_t t1 = kit_rdtsc();
	while (txq.num_free < txq.size && kit_rdtsc() - t1 < kit_us_ticks(5000000))
		tx_reclaim();
	uint64_t t2 = kit_rdtsc();
	timer_mark();
	kit_printf("net: bench sent %lu datagrams %lu bytes tsc %lu drain %lu kicks %lu\n", sent,
		   sent * size, t1 - t0, t2 - t1, txq.kicks);
	kit_delay_us(kit_cmdline_u64("linger=", 0) * 1000);
	/* a last datagram that says "end", a few times */
	for (int i = 0; i < 3; i++) {
		udp_send(peer_mac, peer_ip, 7002, port, "end", 3);
		pump(20000, NULL);
	}
	return KIT_EXIT_OK;
}

int payload_main(void)
{
	if (pci_init(kit_cmdline_has("pci=cf8") ? PCI_CF8 : PCI_ECAM))
		return KIT_EXIT_FAIL;
	if (net_open())
		return KIT_EXIT_FAIL;
	udp_port = (uint16_t)kit_cmdline_u64("udp=", 7000);
	bool user = kit_cmdline_has("dhcp");
	if (user) {
		if (!dhcp())
			return KIT_EXIT_FAIL;
	} else {
		my_ip = parse_ip("ip=", 0x0a000002);
		peer_ip = parse_ip("peer=", 0x0a000001);
	}
	size_t blen;
	if (kit_cmdline_get("bench=", &blen))
		return bench_udp();
	if (!arp_resolve())
		return KIT_EXIT_FAIL;
	ping(!user);
	uint64_t sport = kit_cmdline_u64("send=", 0);
	if (sport) {
		static const char hello[] = "hello from the skiff guest";
		udp_send(peer_mac, peer_ip, udp_port, (uint16_t)sport, hello, sizeof(hello) - 1);
		pump(10000, NULL);
		kit_puts("net: udp sent to ");
		print_ip(peer_ip);
		kit_printf(":%lu\n", sport);
	}
	uint64_t serve = kit_cmdline_u64("serve=", 0);
	tcp.port = (uint16_t)kit_cmdline_u64("tcp=", 0);
	if (serve && tcp.port) {
		/* TCP: serve tcpcount= connections (default 1) */
		int want = (int)kit_cmdline_u64("tcpcount=", 1);
		kit_printf("net: serving tcp port %u for %lu s\n", tcp.port, serve);
		uint64_t t0 = kit_rdtsc();
		while (tcp.done < want && kit_rdtsc() - t0 < kit_us_ticks(serve * 1000000))
			pump(1000, NULL);
		if (tcp.done < want)
			FAIL("%d of %d TCP connections closed within %lu s\n", tcp.done, want, serve);
	} else if (serve) {
		kit_printf("net: serving on port %u for %lu s\n", udp_port, serve);
		pump(serve * 1000000, &st.quit);
		if (!st.quit)
			FAIL("no \"quit\" datagram within %lu s (%d datagrams)\n", serve, st.udp_count);
		pump(50000, NULL);	/* let the echo of "quit" go out */
	}
	kit_printf("net: rx %u frames %u bytes\n", st.rx_frames, st.rx_bytes);
	uint8_t s = vdev_status(&dev);
	if (s & (VIRTIO_NEEDS_RESET | VIRTIO_FAILED))
		FAIL("device status 0x%x\n", s);
	vdev_reset(&dev);
	if (!fails)
		kit_puts("net: ok\n");
	return fails ? KIT_EXIT_FAIL : KIT_EXIT_OK;
}
