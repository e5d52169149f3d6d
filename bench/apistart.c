/* One measured start of a VMM's control socket (bench/api-start).
 *
 *   apistart skiff SKIFF SOCK GUEST   skiff --api-sock SOCK; then the guest
 *   apistart qemu QEMU SOCK           qemu -S with a QMP socket at SOCK
 *
 * The clock (CLOCK_MONOTONIC) starts just before fork(). Prints one line of
 * microsecond figures:
 *   skiff: connect ready start first
 *     connect  the socket accepts a connection
 *     ready    GET / answered (HTTP 200): the API serves requests
 *     start    PUT /actions InstanceStart answered, from sending it
 *     first    the guest's first instruction (its boot-timer write, logged
 *              by skiff with the monotonic time), from sending InstanceStart
 *   qemu: connect greeting ready
 *     greeting QMP's greeting banner read
 *     ready    the reply to qmp_capabilities read: QMP serves commands
 * The guest (bench/guests/startup.S) then exits with status 42. Polling
 * connect() every 20 us is what a client waiting for the socket does; it
 * costs the VMM a little CPU time on a 2-CPU host. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void die(const char *m)
{
	fprintf(stderr, "apistart: %s%s%s\n", m, errno ? ": " : "", errno ? strerror(errno) : "");
	exit(1);
}

/* Connect to SOCK, retrying every 20 us for up to 10 s while the child lives. */
static int connect_wait(const char *path, pid_t child)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	uint64_t t0 = now_ns();
	for (;;) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			die("socket");
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
			return fd;
		close(fd);
		if (waitpid(child, NULL, WNOHANG) == child) {
			errno = 0;
			die("the VMM exited before its socket accepted a connection");
		}
		if (now_ns() - t0 > 10000000000ULL) {
			errno = 0;
			die("no socket after 10 s");
		}
		usleep(20);
	}
}

/* Read until `needle` has arrived (or fail); returns bytes read. */
static size_t read_until(int fd, char *buf, size_t cap, const char *needle)
{
	size_t n = 0;
	buf[0] = 0;
	while (!strstr(buf, needle)) {
		if (n + 1 >= cap) {
			errno = 0;
			die("reply too long");
		}
		ssize_t r = read(fd, buf + n, cap - 1 - n);
		if (r <= 0)
			die("reading the reply");
		n += (size_t)r;
		buf[n] = 0;
	}
	return n;
}

static void write_all(int fd, const char *s)
{
	size_t len = strlen(s);
	while (len) {
		ssize_t w = write(fd, s, len);
		if (w <= 0)
			die("write");
		s += w;
		len -= (size_t)w;
	}
}

/* One HTTP/1.1 request on a new connection; returns the status code. */
static int http(const char *sock, pid_t child, const char *method, const char *path,
		const char *body)
{
	int fd = connect_wait(sock, child);
	char req[1024], buf[4096];
	snprintf(req, sizeof(req),
		 "%s %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
		 "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
		 method, path, body ? strlen(body) : 0, body ? body : "");
	write_all(fd, req);
	read_until(fd, buf, sizeof(buf), "\r\n");
	close(fd);
	int code = 0;
	if (sscanf(buf, "HTTP/1.%*d %d", &code) != 1) {
		errno = 0;
		die("not an HTTP reply");
	}
	return code;
}

static pid_t spawn(char *const argv[], const char *err_path)
{
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		int n = open("/dev/null", O_RDWR);
		int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (n < 0 || e < 0)
			_exit(127);
		dup2(n, 0);
		dup2(n, 1);
		dup2(e, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static unsigned long long us(uint64_t a, uint64_t b)
{
	return (unsigned long long)((b - a) / 1000);
}

static int bench_skiff(const char *skiff, const char *sock, const char *guest)
{
	char err_path[4200];
	snprintf(err_path, sizeof(err_path), "%s.err", sock);
	char *argv[] = { (char *)skiff, "--api-sock", (char *)sock, "--id", "bench", NULL };
	unlink(sock);
	uint64_t t0 = now_ns();
	pid_t pid = spawn(argv, err_path);
	int fd = connect_wait(sock, pid);
	uint64_t t_conn = now_ns();
	char buf[4096];
	write_all(fd, "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
	read_until(fd, buf, sizeof(buf), "\r\n");
	uint64_t t_ready = now_ns();
	close(fd);
	if (strncmp(buf, "HTTP/1.1 200", 12)) {
		errno = 0;
		die("GET / did not answer 200");
	}
	char body[4200];
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\"}", guest);
	if (http(sock, pid, "PUT", "/boot-source", body) != 204 ||
	    http(sock, pid, "PUT", "/machine-config",
		 "{\"vcpu_count\": 1, \"mem_size_mib\": 256}") != 204) {
		errno = 0;
		die("configuring the VM failed");
	}
	uint64_t t_start = now_ns();
	int code = http(sock, pid, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}");
	uint64_t t_started = now_ns();
	if (code != 204) {
		errno = 0;
		die("InstanceStart failed");
	}
	int st;
	if (waitpid(pid, &st, 0) != pid)
		die("waitpid");
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 42) {
		errno = 0;
		fprintf(stderr, "apistart: skiff did not exit with 42 (see %s)\n", err_path);
		exit(1);
	}
	/* "guest boot timer: N us since skiff started (monotonic T ns)" */
	FILE *f = fopen(err_path, "r");
	if (!f)
		die(err_path);
	char line[1024];
	unsigned long long mono = 0;
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, "(monotonic ");
		if (p && strstr(line, "guest boot timer") && sscanf(p, "(monotonic %llu", &mono) == 1)
			break;
	}
	fclose(f);
	if (!mono) {
		errno = 0;
		die("no boot-timer line with the monotonic time in skiff's log");
	}
	unlink(err_path);
	printf("%llu %llu %llu %llu\n", us(t0, t_conn), us(t0, t_ready), us(t_start, t_started),
	       us(t_start, mono));
	return 0;
}

static int bench_qemu(const char *qemu, const char *sock)
{
	char err_path[4200], qmp[4200];
	snprintf(err_path, sizeof(err_path), "%s.err", sock);
	snprintf(qmp, sizeof(qmp), "unix:%s,server=on,wait=off", sock);
	/* The smallest QEMU that serves QMP: microvm, KVM, stopped (-S), nothing else. */
	char *argv[] = { (char *)qemu, "-M", "microvm", "-accel", "kvm", "-m", "256", "-smp", "1",
			 "-S", "-nodefaults", "-no-user-config", "-display", "none",
			 "-qmp", qmp, NULL };
	unlink(sock);
	uint64_t t0 = now_ns();
	pid_t pid = spawn(argv, err_path);
	int fd = connect_wait(sock, pid);
	uint64_t t_conn = now_ns();
	char buf[4096];
	read_until(fd, buf, sizeof(buf), "\r\n");	/* {"QMP": {...}} is the first line */
	if (!strstr(buf, "\"QMP\"")) {
		errno = 0;
		die("no QMP greeting");
	}
	uint64_t t_greet = now_ns();
	write_all(fd, "{\"execute\": \"qmp_capabilities\"}\r\n");
	read_until(fd, buf, sizeof(buf), "\"return\"");
	uint64_t t_ready = now_ns();
	close(fd);
	kill(pid, SIGKILL);	/* measured; QEMU's own exit is not part of it */
	int st;
	if (waitpid(pid, &st, 0) != pid)
		die("waitpid");
	unlink(err_path);
	printf("%llu %llu %llu\n", us(t0, t_conn), us(t0, t_greet), us(t0, t_ready));
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc == 5 && !strcmp(argv[1], "skiff"))
		return bench_skiff(argv[2], argv[3], argv[4]);
	if (argc == 4 && !strcmp(argv[1], "qemu"))
		return bench_qemu(argv[2], argv[3]);
	fprintf(stderr, "usage: apistart skiff SKIFF SOCK GUEST | apistart qemu QEMU SOCK\n");
	return 2;
}
