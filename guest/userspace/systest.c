/* systest: exercises the system calls a Linux userspace depends on, inside a
 * skiff guest, and checks their results. Built static (no loader needed) and
 * put in skiff's initramfs as /bin/systest. Prints one line per check and a
 * closing "systest: N passed, N failed"; exits 0 only if all passed.
 * `systest --vsock-connect PORT MSG` and `systest --vsock-listen PORT` instead
 * talk to the host over AF_VSOCK (see vsock_connect_mode, vsock_listen_mode).
 *
 * On a KVM PVM host these only work with skiff's guest kernel (its page-fault
 * handler dispatches the PVM system-call quirk; docs/guest-kernel.md). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/vm_sockets.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int passed, failed;

#define VSOCK_MODE_SECONDS 120	/* bound on each vsock mode (an emulating host is slow) */

static void check(int ok, const char *what)
{
	printf("systest: %s %s\n", ok ? "ok  " : "FAIL", what);
	if (ok)
		passed++;
	else
		failed++;
}

static void t_getpid(void)
{
	pid_t a = getpid(), b = (pid_t)syscall(SYS_getpid);
	check(a > 0 && a == b, "getpid");
	check(syscall(99999) == -1 && errno == ENOSYS, "unknown system call returns ENOSYS");
}

static void t_file_io(void)
{
	const char msg[] = "skiff systest data\n";
	char buf[64] = { 0 };
	int fd = open("/tmp/systest.txt", O_CREAT | O_TRUNC | O_RDWR, 0600);
	check(fd >= 0, "open O_CREAT");
	check(write(fd, msg, sizeof(msg)) == (ssize_t)sizeof(msg), "write");
	check(lseek(fd, 0, SEEK_SET) == 0, "lseek");
	check(read(fd, buf, sizeof(buf)) == (ssize_t)sizeof(msg) && !memcmp(buf, msg, sizeof(msg)),
	      "read back");
	close(fd);
	check(unlink("/tmp/systest.txt") == 0, "unlink");
	check(open("/nonexistent/x", O_RDONLY) == -1 && errno == ENOENT, "open missing -> ENOENT");
}

static void t_mmap(void)
{
	size_t len = 8 << 20;
	unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	check(p != MAP_FAILED, "mmap 8 MiB anonymous");
	if (p == MAP_FAILED)
		return;
	for (size_t i = 0; i < len; i += 4096)
		p[i] = (unsigned char)(i >> 12);
	int ok = 1;
	for (size_t i = 0; i < len; i += 4096)
		ok &= p[i] == (unsigned char)(i >> 12);
	check(ok, "touch and read every page");
	check(mprotect(p, 4096, PROT_READ) == 0, "mprotect");
	check(munmap(p, len) == 0, "munmap");
}

static void t_pipe_fork(void)
{
	int fds[2];
	check(pipe(fds) == 0, "pipe");
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		const char m[] = "from child";
		_exit(write(fds[1], m, sizeof(m)) == sizeof(m) ? 7 : 1);
	}
	check(pid > 0, "fork");
	close(fds[1]);
	char buf[32] = { 0 };
	ssize_t n = read(fds[0], buf, sizeof(buf));
	check(n == 11 && !strcmp(buf, "from child"), "child writes through a pipe");
	int st = 0;
	check(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 7, "waitpid exit status");
	close(fds[0]);
}

static void t_execve(const char *self)
{
	pid_t pid = fork();
	if (pid == 0) {
		char *argv[] = { (char *)self, "--exit", "42", NULL };
		execve(self, argv, environ);
		_exit(99);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	check(WIFEXITED(st) && WEXITSTATUS(st) == 42, "fork + execve + exit status");
}

static volatile sig_atomic_t got_sig;
static void on_usr1(int s)
{
	got_sig = s;
}

static void t_signals(void)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	sigemptyset(&sa.sa_mask);
	check(sigaction(SIGUSR1, &sa, NULL) == 0, "sigaction");
	check(kill(getpid(), SIGUSR1) == 0 && got_sig == SIGUSR1, "signal delivered, handler returned (rt_sigreturn)");
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, NULL);
	kill(getpid(), SIGUSR2);
	int sig = 0;
	check(sigwait(&set, &sig) == 0 && sig == SIGUSR2, "blocked signal taken with sigwait");
	pid_t pid = fork();
	if (pid == 0) {
		pause();
		_exit(0);
	}
	kill(pid, SIGKILL);
	int st = 0;
	waitpid(pid, &st, 0);
	check(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "SIGKILL ends a child");
}

static atomic_int futex_word;
static void *waker(void *arg)
{
	(void)arg;
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	nanosleep(&ts, NULL);
	atomic_store(&futex_word, 1);
	syscall(SYS_futex, &futex_word, FUTEX_WAKE, 1, NULL, NULL, 0);
	return NULL;
}

static void t_futex_threads(void)
{
	pthread_t t;
	check(pthread_create(&t, NULL, waker, NULL) == 0, "pthread_create (clone)");
	while (atomic_load(&futex_word) == 0)
		syscall(SYS_futex, &futex_word, FUTEX_WAIT, 0, NULL, NULL, 0);
	check(atomic_load(&futex_word) == 1, "futex wait/wake between threads");
	check(pthread_join(t, NULL) == 0, "pthread_join");
}

static void t_time(void)
{
	struct timespec a, b, d = { 0, 10 * 1000 * 1000 };
	clock_gettime(CLOCK_MONOTONIC, &a);
	check(nanosleep(&d, NULL) == 0, "nanosleep 10 ms");
	clock_gettime(CLOCK_MONOTONIC, &b);
	long ns = (b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec);
	check(ns >= 10 * 1000 * 1000, "monotonic clock advanced across the sleep");
}

/* Micro-benchmarks, printed, never asserted: a trivial system call and a
 * fork+exec+wait. */
static void bench(const char *self)
{
	struct timespec a, b;
	enum { N = 200, M = 5 };
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < N; i++)
		syscall(SYS_getppid);
	clock_gettime(CLOCK_MONOTONIC, &b);
	double us = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 1e3;
	printf("systest: bench getppid %.1f us per call\n", us / N);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < M; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			char *argv[] = { (char *)self, "--exit", "0", NULL };
			execve(self, argv, environ);
			_exit(99);
		}
		waitpid(pid, NULL, 0);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	us = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 1e3;
	printf("systest: bench fork+exec+wait %.0f us each\n", us / M);
}


/* vsock modes (tests/linux/test_guest_virtio.sh), not part of the checks
 * above: one AF_VSOCK stream connection to or from the host (CID 2), one
 * line each way. Exit 0 on success; on failure a "vsock-...: FAIL" line and
 * status 1. An alarm bounds each mode (the test's own waits are longer). */
static void vsock_timeout(int s)
{
	(void)s;
	static const char m[] = "vsock: FAIL timed out\n";
	ssize_t r = write(1, m, sizeof(m) - 1);
	(void)r;
	_exit(3);
}

static int vsock_fail(const char *mode, const char *what)
{
	printf("%s: FAIL %s: %s\n", mode, what, strerror(errno));
	return 1;
}

/* Read one line (without its newline) into buf; false on EOF or error first. */
static bool vsock_read_line(int fd, char *buf, size_t size)
{
	size_t n = 0;
	for (;;) {
		char ch;
		ssize_t r = read(fd, &ch, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
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

static unsigned vsock_port(const char *s)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (!*s || *end || v > UINT32_MAX) {
		fprintf(stderr, "systest: bad vsock port '%s'\n", s);
		exit(2);
	}
	return (unsigned)v;
}

static void vsock_arm(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	signal(SIGALRM, vsock_timeout);
	alarm(VSOCK_MODE_SECONDS);
}

/* systest --vsock-connect PORT MSG: connect to the host's PORT, send MSG and a
 * newline, print the line that comes back as "vsock-reply: <line>". */
static int vsock_connect_mode(const char *port_s, const char *msg)
{
	const char *mode = "vsock-connect";
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_HOST,
				  .svm_port = vsock_port(port_s) };
	vsock_arm();
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return vsock_fail(mode, "socket(AF_VSOCK)");
	/* The default is 2 s; a guest kernel on an emulating host may need longer. */
	struct timeval tv = { .tv_sec = VSOCK_MODE_SECONDS };
	setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return vsock_fail(mode, "connect");
	size_t len = strlen(msg);
	char *line = malloc(len + 2);
	if (!line)
		return vsock_fail(mode, "malloc");
	memcpy(line, msg, len);
	line[len] = '\n';
	if (!write_all(fd, line, len + 1))
		return vsock_fail(mode, "write");
	free(line);
	char reply[512];
	if (!vsock_read_line(fd, reply, sizeof(reply)))
		return vsock_fail(mode, "no reply line");
	printf("vsock-reply: %s\n", reply);
	close(fd);
	return 0;
}

/* systest --vsock-listen PORT: accept one connection on PORT, read a line,
 * answer "echo: <line>", print "vsock-listen: got <line>" and exit. Prints
 * "vsock-listen: ready on port PORT" once it listens. */
static int vsock_listen_mode(const char *port_s)
{
	const char *mode = "vsock-listen";
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY,
				  .svm_port = vsock_port(port_s) };
	vsock_arm();
	int lfd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return vsock_fail(mode, "socket(AF_VSOCK)");
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return vsock_fail(mode, "bind");
	if (listen(lfd, 1) < 0)
		return vsock_fail(mode, "listen");
	printf("vsock-listen: ready on port %u\n", sa.svm_port);
	struct sockaddr_vm peer;
	socklen_t plen = sizeof(peer);
	int fd;
	do
		fd = accept(lfd, (struct sockaddr *)&peer, &plen);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return vsock_fail(mode, "accept");
	char line[512], out[600];
	if (!vsock_read_line(fd, line, sizeof(line)))
		return vsock_fail(mode, "no line from the host");
	int n = snprintf(out, sizeof(out), "echo: %s\n", line);
	if (!write_all(fd, out, (size_t)n))
		return vsock_fail(mode, "write");
	printf("vsock-listen: got %s (from CID %u port %u)\n", line, peer.svm_cid, peer.svm_port);
	close(fd);
	close(lfd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--exit"))
		return atoi(argv[2]);
	if (argc == 4 && !strcmp(argv[1], "--vsock-connect"))
		return vsock_connect_mode(argv[2], argv[3]);
	if (argc == 3 && !strcmp(argv[1], "--vsock-listen"))
		return vsock_listen_mode(argv[2]);
	setvbuf(stdout, NULL, _IONBF, 0);
	const char *self = "/proc/self/exe";
	t_getpid();
	t_file_io();
	t_mmap();
	t_pipe_fork();
	t_execve(self);
	t_signals();
	t_futex_threads();
	t_time();
	if (argc == 2 && !strcmp(argv[1], "--bench"))
		bench(self);
	printf("systest: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
