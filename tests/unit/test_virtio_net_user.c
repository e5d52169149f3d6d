/* virtio-net over user-mode networking (libslirp), the device as a guest
 * sees it: configuration space and offered features, ARP and DHCP answered
 * by slirp, a host connection through a port forward reaching the guest,
 * and refused network configurations. Fixture: virtio_net_fixture.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "unit/virtio_net_fixture.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(user_config_and_features, setup_user, teardown),
		cmocka_unit_test_setup_teardown(user_arp, setup_user, teardown),
		cmocka_unit_test_setup_teardown(user_dhcp, setup_user, teardown),
		cmocka_unit_test(user_hostfwd),
		cmocka_unit_test(user_bad_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
