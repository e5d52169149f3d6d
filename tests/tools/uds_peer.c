/* uds_peer: the host side of a virtio-vsock test (tests/linux/test_guest_virtio.sh),
 * speaking skiff's AF_UNIX convention (docs/devices.md, "virtio-vsock"). No
 * dependencies; the test builds it with `cc`.
 *
 *   uds_peer listen PATH SECONDS
 *       for a guest-initiated connection (skiff connects to <uds_path>_<port>):
 *       bind and listen on PATH (a stale file there is removed), accept one
 *       connection, read one line, answer "echo: <line>\n", print
 *       "uds_peer: got <line>" and exit 0.
 *   uds_peer connect PATH PORT MSG SECONDS
 *       host-initiated: connect to skiff's uds_path PATH, send "CONNECT <PORT>\n",
 *       expect "OK <n>\n", send MSG and a newline, read one line and print it as
 *       "uds_peer: reply <line>", exit 0.
 *
 * Either gives up after SECONDS (exit 3). Errors: a "uds_peer: FAIL ..." line on
 * stdout, exit 1; usage errors exit 2. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void on_alarm(int s)
{
	(void)s;
	static const char m[] = "uds_peer: FAIL timed out\n";
	ssize_t r = write(1, m, sizeof(m) - 1);
	(void)r;
	_exit(3);
}

static int fail(const char *what)
{
	printf("uds_peer: FAIL %s: %s\n", what, errno ? strerror(errno) : "unexpected");
	return 1;
}

/* One line without its newline; false on EOF or error before the newline. */
static bool read_line(int fd, char *buf, size_t size)
{
	size_t n = 0;
	for (;;) {
		char ch;
		ssize_t r = read(fd, &ch, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = 0;
			buf[n] = 0;
			return false;
		}
		if (ch == '\n')
			break;
		if (n + 1 < size)
			buf[n++] = ch;
	}
	buf[n] = 0;
	return true;
}

static bool write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t r = write(fd, p, len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		p += r;
		len -= (size_t)r;
	}
	return true;
}

static bool set_addr(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return false;
	strcpy(sa->sun_path, path);
	return true;
}

static int do_listen(const char *path)
{
	struct sockaddr_un sa;
	if (!set_addr(&sa, path)) {
		errno = ENAMETOOLONG;
		return fail(path);
	}
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return fail("socket");
	unlink(path);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 4) < 0)
		return fail(path);
	int fd;
	do
		fd = accept(lfd, NULL, NULL);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return fail("accept");
	char line[512], out[600];
	if (!read_line(fd, line, sizeof(line)))
		return fail("no line from the guest");
	int n = snprintf(out, sizeof(out), "echo: %s\n", line);
	if (!write_all(fd, out, (size_t)n))
		return fail("write");
	printf("uds_peer: got %s\n", line);
	close(fd);
	close(lfd);
	unlink(path);
	return 0;
}

static int do_connect(const char *path, const char *port, const char *msg)
{
	struct sockaddr_un sa;
	if (!set_addr(&sa, path)) {
		errno = ENAMETOOLONG;
		return fail(path);
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail("socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return fail(path);
	char line[512];
	int n = snprintf(line, sizeof(line), "CONNECT %s\n", port);
	if (!write_all(fd, line, (size_t)n))
		return fail("write CONNECT");
	if (!read_line(fd, line, sizeof(line)))
		return fail("no OK line (skiff closed the socket: nothing listens on the guest port?)");
	if (strncmp(line, "OK ", 3) != 0) {
		errno = 0;
		printf("uds_peer: FAIL expected \"OK <port>\", got \"%s\"\n", line);
		return 1;
	}
	printf("uds_peer: %s\n", line);
	size_t len = strlen(msg);
	if (!write_all(fd, msg, len) || !write_all(fd, "\n", 1))
		return fail("write");
	if (!read_line(fd, line, sizeof(line)))
		return fail("no reply line");
	printf("uds_peer: reply %s\n", line);
	close(fd);
	return 0;
}

static unsigned seconds(const char *s)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (!*s || *end || v == 0 || v > 86400) {
		fprintf(stderr, "uds_peer: bad SECONDS '%s'\n", s);
		exit(2);
	}
	return (unsigned)v;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, on_alarm);
	if (argc == 4 && !strcmp(argv[1], "listen")) {
		alarm(seconds(argv[3]));
		return do_listen(argv[2]);
	}
	if (argc == 6 && !strcmp(argv[1], "connect")) {
		alarm(seconds(argv[5]));
		return do_connect(argv[2], argv[3], argv[4]);
	}
	fprintf(stderr, "usage: uds_peer listen PATH SECONDS\n"
			"       uds_peer connect PATH PORT MSG SECONDS\n");
	return 2;
}
