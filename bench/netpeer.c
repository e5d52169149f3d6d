/* netpeer: the host side of skiff's virtio-net tests and benchmark
 * (tests/integration/test_virtio_net_*.sh, bench/net). UDP over plain
 * sockets; built on the fly with `cc -O2 -o netpeer bench/netpeer.c`.
 *
 *   netpeer recv ADDR PORT SECONDS [OUTFILE]
 *       Bind ADDR:PORT, receive datagrams until one reads "end" or SECONDS
 *       pass without any. With OUTFILE, append each datagram's text (up to
 *       200 bytes, one line each) to it. Prints "ready" once bound (stdout
 *       is flushed), and at the end:
 *         recv datagrams N bytes B span_us S first_seq F last_seq L
 *       (S: from the first to the last data datagram, host clock; the seq
 *       fields read the first 4 bytes big-endian, as bench/net's guest and
 *       `send` write them).
 *   netpeer send ADDR PORT SIZE COUNT
 *       Send COUNT datagrams of SIZE bytes as fast as possible (blocking
 *       socket), then "end" three times. Prints "send datagrams N bytes B
 *       us U cpu_us C" (C: the process's CPU time over the sends).
 *   netpeer echo SRCADDR ADDR PORT MESSAGE SECONDS
 *       Send MESSAGE from SRCADDR (any port) to ADDR:PORT, resending every
 *       second, until the same text comes back; prints "echo: TEXT" and
 *       exits 0, or exits 1 after SECONDS.
 *
 * And AF_UNIX stream sockets, the host side of virtio-vsock (skiff follows
 * Firecracker's convention: docs/devices.md):
 *   netpeer uds-serve PATH REPLY SECONDS
 *       Listen on PATH, accept one connection, print its first line as
 *       "uds: got: TEXT", answer REPLY and a newline, read until EOF; exits
 *       0, or 1 on a timeout (SECONDS for each step).
 *   netpeer uds-connect PATH PORT MESSAGE SECONDS
 *       Connect to PATH, write "CONNECT PORT\n" and MESSAGE with a newline,
 *       print skiff's "OK ..." line as "uds: TEXT" and the first line that
 *       comes back as "uds: echo: TEXT", then close; exits 0 when the echo
 *       is MESSAGE upper-cased (what tests/guest/vsock.c sends back), 1
 *       otherwise. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <ctype.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static uint64_t cpu_us(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static struct sockaddr_in addr_of(const char *a, const char *port)
{
	struct sockaddr_in s = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port)) };
	if (inet_pton(AF_INET, a, &s.sin_addr) != 1) {
		fprintf(stderr, "netpeer: bad address '%s'\n", a);
		exit(2);
	}
	return s;
}

static int udp_socket(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("netpeer: socket");
		exit(2);
	}
	return fd;
}

static int do_recv(int argc, char **argv)
{
	if (argc < 5)
		return 2;
	struct sockaddr_in sa = addr_of(argv[2], argv[3]);
	int secs = atoi(argv[4]);
	FILE *out = argc > 5 ? fopen(argv[5], "a") : NULL;
	int fd = udp_socket(), big = 64 << 20;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		perror("netpeer: bind");
		return 2;
	}
	printf("ready\n");
	fflush(stdout);
	static char buf[65536];
	uint64_t n = 0, bytes = 0, t_first = 0, t_last = 0;
	uint32_t seq_first = 0, seq_last = 0;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int r = poll(&p, 1, secs * 1000);
		if (r <= 0)
			break;
		ssize_t len = recv(fd, buf, sizeof(buf), 0);
		if (len < 0)
			continue;
		if (len == 3 && !memcmp(buf, "end", 3))
			break;
		uint64_t t = now_us();
		if (!n)
			t_first = t;
		t_last = t;
		uint32_t seq = len >= 4 ? (uint32_t)(uint8_t)buf[0] << 24 | (uint8_t)buf[1] << 16 |
					  (uint8_t)buf[2] << 8 | (uint8_t)buf[3] : 0;
		if (!n)
			seq_first = seq;
		seq_last = seq;
		n++;
		bytes += (uint64_t)len;
		if (out) {
			size_t k = (size_t)len < 200 ? (size_t)len : 200;
			for (size_t i = 0; i < k; i++)
				fputc(buf[i] >= 0x20 && buf[i] < 0x7f ? buf[i] : '.', out);
			fputc('\n', out);
			fflush(out);
		}
	}
	printf("recv datagrams %llu bytes %llu span_us %llu first_seq %u last_seq %u\n",
	       (unsigned long long)n, (unsigned long long)bytes,
	       (unsigned long long)(t_last - t_first), seq_first, seq_last);
	if (out)
		fclose(out);
	return 0;
}

static int do_send(int argc, char **argv)
{
	if (argc < 6)
		return 2;
	struct sockaddr_in sa = addr_of(argv[2], argv[3]);
	size_t size = (size_t)atoi(argv[4]);
	uint64_t count = strtoull(argv[5], NULL, 10);
	if (size < 4 || size > 65507)
		return 2;
	int fd = udp_socket();
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		perror("netpeer: connect");
		return 2;
	}
	char *buf = malloc(size);
	memset(buf, 'x', size);
	uint64_t t0 = now_us(), c0 = cpu_us();
	for (uint64_t i = 0; i < count; i++) {
		buf[0] = (char)(i >> 24);
		buf[1] = (char)(i >> 16);
		buf[2] = (char)(i >> 8);
		buf[3] = (char)i;
		while (send(fd, buf, size, 0) < 0 && (errno == ENOBUFS || errno == EAGAIN ||
						      errno == ECONNREFUSED))
			;
	}
	uint64_t t1 = now_us(), c1 = cpu_us();
	for (int i = 0; i < 3; i++) {
		usleep(20000);
		send(fd, "end", 3, 0);
	}
	printf("send datagrams %llu bytes %llu us %llu cpu_us %llu\n", (unsigned long long)count,
	       (unsigned long long)(count * size), (unsigned long long)(t1 - t0),
	       (unsigned long long)(c1 - c0));
	free(buf);
	return 0;
}

static int do_echo(int argc, char **argv)
{
	if (argc < 7)
		return 2;
	struct sockaddr_in src = addr_of(argv[2], "0"), dst = addr_of(argv[3], argv[4]);
	const char *msg = argv[5];
	int secs = atoi(argv[6]);
	int fd = udp_socket();
	if (bind(fd, (struct sockaddr *)&src, sizeof(src))) {
		perror("netpeer: bind");
		return 2;
	}
	uint64_t end = now_us() + (uint64_t)secs * 1000000;
	char buf[2048];
	while (now_us() < end) {
		sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&dst, sizeof(dst));
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 1000) <= 0)
			continue;
		ssize_t len = recv(fd, buf, sizeof(buf) - 1, 0);
		if (len < 0)
			continue;
		buf[len] = 0;
		if ((size_t)len == strlen(msg) && !memcmp(buf, msg, (size_t)len)) {
			printf("echo: %s\n", buf);
			return 0;
		}
	}
	fprintf(stderr, "netpeer: no echo of '%s' from %s:%s within %d s\n", msg, argv[3], argv[4],
		secs);
	return 1;
}

/* Read a line (without its newline) within `secs` seconds; -1 on EOF or
 * timeout. */
static int read_line(int fd, char *buf, size_t size, int secs)
{
	size_t n = 0;
	while (n + 1 < size) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, secs * 1000) <= 0)
			return -1;
		char ch;
		if (read(fd, &ch, 1) != 1)
			return -1;
		if (ch == '\n')
			break;
		buf[n++] = ch;
	}
	buf[n] = 0;
	return (int)n;
}

static struct sockaddr_un uds_addr(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(a.sun_path)) {
		fprintf(stderr, "netpeer: path too long: %s\n", path);
		exit(2);
	}
	strcpy(a.sun_path, path);
	return a;
}

static int do_uds_serve(int argc, char **argv)
{
	if (argc < 5)
		return 2;
	struct sockaddr_un a = uds_addr(argv[2]);
	int secs = atoi(argv[4]);
	int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	unlink(argv[2]);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 4)) {
		perror("netpeer: uds-serve");
		return 2;
	}
	printf("ready\n");
	fflush(stdout);
	struct pollfd p = { .fd = l, .events = POLLIN };
	if (poll(&p, 1, secs * 1000) <= 0) {
		fprintf(stderr, "netpeer: no connection on %s within %d s\n", argv[2], secs);
		return 1;
	}
	int fd = accept(l, NULL, NULL);
	char line[512];
	if (fd < 0 || read_line(fd, line, sizeof(line), secs) < 0) {
		fprintf(stderr, "netpeer: no line on %s\n", argv[2]);
		return 1;
	}
	printf("uds: got: %s\n", line);
	fflush(stdout);
	dprintf(fd, "%s\n", argv[3]);
	while (read_line(fd, line, sizeof(line), secs) >= 0)
		;
	close(fd);
	close(l);
	unlink(argv[2]);
	return 0;
}

static int do_uds_connect(int argc, char **argv)
{
	if (argc < 6)
		return 2;
	struct sockaddr_un a = uds_addr(argv[2]);
	const char *msg = argv[4];
	int secs = atoi(argv[5]);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		perror("netpeer: uds-connect");
		return 1;
	}
	dprintf(fd, "CONNECT %s\n%s\n", argv[3], msg);
	char line[512];
	if (read_line(fd, line, sizeof(line), secs) < 0) {
		fprintf(stderr, "netpeer: no OK line from %s\n", argv[2]);
		return 1;
	}
	printf("uds: %s\n", line);
	if (read_line(fd, line, sizeof(line), secs) < 0) {
		fprintf(stderr, "netpeer: no echo from %s\n", argv[2]);
		return 1;
	}
	printf("uds: echo: %s\n", line);
	close(fd);
	for (size_t i = 0; msg[i]; i++)
		if ((char)toupper((unsigned char)msg[i]) != line[i])
			return 1;
	return strlen(line) == strlen(msg) ? 0 : 1;
}

int main(int argc, char **argv)
{
	int r = 2;
	if (argc > 1 && !strcmp(argv[1], "recv"))
		r = do_recv(argc, argv);
	else if (argc > 1 && !strcmp(argv[1], "send"))
		r = do_send(argc, argv);
	else if (argc > 1 && !strcmp(argv[1], "echo"))
		r = do_echo(argc, argv);
	else if (argc > 1 && !strcmp(argv[1], "uds-serve"))
		r = do_uds_serve(argc, argv);
	else if (argc > 1 && !strcmp(argv[1], "uds-connect"))
		r = do_uds_connect(argc, argv);
	if (r == 2)
		fprintf(stderr, "usage: netpeer recv ADDR PORT SECONDS [OUTFILE] | "
				"send ADDR PORT SIZE COUNT | echo SRCADDR ADDR PORT MESSAGE SECONDS | "
				"uds-serve PATH REPLY SECONDS | uds-connect PATH PORT MESSAGE SECONDS\n");
	return r;
}
