/* blkhost: the host-side reference for bench/block. Does what the blk test
 * guest's bench mode does (tests/guest/blk.c: "bench=rand|seq"), as a plain
 * process on the same image file: n reads (or writes) of bs bytes, qd in
 * flight, at random bs-aligned offsets (the same xorshift64* sequence) or
 * in order, wrapping at the file's end.
 *
 *   blkhost rand|seq FILE [bs=N] [qd=N] [n=N] [engine=io_uring|sync] [direct] [write]
 *
 * engine=io_uring (default) keeps qd requests in flight through one ring,
 * as skiff's io_uring engine does; engine=sync issues pread/pwrite one at a
 * time (qd is ignored). Prints
 *   blkhost: MODE ops N bytes B us T iops I MBps M cpu_us C
 * with T the wall time of the I/O loop (CLOCK_MONOTONIC) and C the
 * process's CPU time (user + system) over it. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
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

/* The guest's generator (tests/guest/virtio.h: kit_rand) and seed. */
static uint64_t rnd(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

static uint64_t arg_u64(int argc, char **argv, const char *key, uint64_t def)
{
	size_t k = strlen(key);
	for (int i = 3; i < argc; i++)
		if (!strncmp(argv[i], key, k) && argv[i][k] == '=')
			return strtoull(argv[i] + k + 1, NULL, 0);
	return def;
}

static int has(int argc, char **argv, const char *word)
{
	for (int i = 3; i < argc; i++)
		if (!strcmp(argv[i], word))
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3 || (strcmp(argv[1], "rand") && strcmp(argv[1], "seq"))) {
		fprintf(stderr, "usage: blkhost rand|seq FILE [bs=N] [qd=N] [n=N] "
				"[engine=io_uring|sync] [direct] [write]\n");
		return 2;
	}
	int rand_mode = !strcmp(argv[1], "rand");
	uint64_t bs = arg_u64(argc, argv, "bs", rand_mode ? 4096 : 131072);
	uint64_t qd = arg_u64(argc, argv, "qd", rand_mode ? 32 : 8);
	uint64_t n = arg_u64(argc, argv, "n", rand_mode ? 20000 : 2000);
	int sync = has(argc, argv, "engine=sync"), direct = has(argc, argv, "direct");
	int wr = has(argc, argv, "write");
	int fd = open(argv[2], (wr ? O_RDWR : O_RDONLY) | (direct ? O_DIRECT : 0) | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st)) {
		perror(argv[2]);
		return 1;
	}
	uint64_t span = (uint64_t)st.st_size / bs;
	if (!span || !qd || qd > 1024) {
		fprintf(stderr, "blkhost: bad parameters\n");
		return 2;
	}
	uint8_t *buf;
	if (posix_memalign((void **)&buf, 4096, bs * qd))
		return 1;
	memset(buf, 0x5a, bs * qd);
	uint64_t s = 0x9e3779b97f4a7c15ULL, next = 0, done = 0, issued = 0;
#define NEXT_OFF() ((rand_mode ? rnd(&s) % span : next++ % span) * bs)
	uint64_t t0 = now_us(), c0 = cpu_us();
	if (sync) {
		for (; done < n; done++) {
			uint64_t off = NEXT_OFF();
			ssize_t r = wr ? pwrite(fd, buf, bs, (off_t)off) : pread(fd, buf, bs, (off_t)off);
			if (r != (ssize_t)bs) {
				fprintf(stderr, "blkhost: %s at %llu: %s\n", wr ? "pwrite" : "pread",
					(unsigned long long)off, r < 0 ? strerror(errno) : "short");
				return 1;
			}
		}
	} else {
		struct io_uring ring;
		int r = io_uring_queue_init((unsigned)qd, &ring, 0);
		if (r) {
			fprintf(stderr, "blkhost: io_uring_queue_init: %s\n", strerror(-r));
			return 1;
		}
		for (uint64_t i = 0; i < qd && issued < n; i++, issued++) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
			uint64_t off = NEXT_OFF();
			if (wr)
				io_uring_prep_write(sqe, fd, buf + i * bs, (unsigned)bs, off);
			else
				io_uring_prep_read(sqe, fd, buf + i * bs, (unsigned)bs, off);
			io_uring_sqe_set_data64(sqe, i);
		}
		io_uring_submit(&ring);
		while (done < n) {
			struct io_uring_cqe *cqe;
			r = io_uring_wait_cqe(&ring, &cqe);
			if (r) {
				fprintf(stderr, "blkhost: io_uring_wait_cqe: %s\n", strerror(-r));
				return 1;
			}
			unsigned got = 0;
			unsigned head;
			io_uring_for_each_cqe(&ring, head, cqe) {
				if (cqe->res != (int)bs) {
					fprintf(stderr, "blkhost: request: %s\n",
						cqe->res < 0 ? strerror(-cqe->res) : "short");
					return 1;
				}
				uint64_t i = io_uring_cqe_get_data64(cqe);
				got++;
				done++;
				if (issued < n) {
					struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
					uint64_t off = NEXT_OFF();
					if (wr)
						io_uring_prep_write(sqe, fd, buf + i * bs, (unsigned)bs, off);
					else
						io_uring_prep_read(sqe, fd, buf + i * bs, (unsigned)bs, off);
					io_uring_sqe_set_data64(sqe, i);
					issued++;
				}
			}
			io_uring_cq_advance(&ring, got);
			io_uring_submit(&ring);
		}
		io_uring_queue_exit(&ring);
	}
	uint64_t us = now_us() - t0, cpu = cpu_us() - c0;
	if (!us)
		us = 1;
	printf("blkhost: %s ops %llu bytes %llu us %llu iops %llu MBps %llu cpu_us %llu\n", argv[1],
	       (unsigned long long)done, (unsigned long long)(done * bs), (unsigned long long)us,
	       (unsigned long long)(done * 1000000 / us),
	       (unsigned long long)(done * bs / us), (unsigned long long)cpu);
	return 0;
}
