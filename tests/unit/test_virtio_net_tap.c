/* virtio-net on a tap device inside a network namespace of a forked child
 * (skipped without CAP_NET_ADMIN or /dev/net/tun): a guest frame seen by an
 * AF_PACKET socket on the host side, a host frame landing in a receive
 * buffer, checksum offload in both directions and TCP segmentation offload;
 * and the error for a tap we may not create. Fixture: virtio_net_fixture.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include "unit/virtio_net_fixture.h"

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
		cmocka_unit_test(tap_in_netns),
		cmocka_unit_test(tap_no_permission),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
