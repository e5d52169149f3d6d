/* Log and metrics destinations (see outfile.h). */
#include "core/outfile.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

int skiff_out_open(const char *path, const char *field, struct skiff_err *e)
{
	if (!path || !*path)
		return skiff_fail(e, EINVAL, "%s: must not be empty", field);
	/* O_RDWR: a FIFO opened write-only and non-blocking fails with ENXIO
	 * until a reader exists; read-write never does, and keeps the pipe
	 * from breaking (EPIPE/SIGPIPE) when the reader leaves. */
	int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0)
		return skiff_fail(e, errno, "%s: cannot open `%.200s` for writing: %s", field, path,
				  strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISFIFO(st.st_mode) ||
				    S_ISCHR(st.st_mode))) {
		close(fd);
		return skiff_fail(e, EINVAL, "%s: `%.200s` is not a regular file or a FIFO", field,
				  path);
	}
	return fd;
}

/* Free bytes in the pipe behind fd, or SIZE_MAX when it is not a pipe. */
static size_t pipe_room(int fd)
{
	int cap = fcntl(fd, F_GETPIPE_SZ);
	int used = 0;
	if (cap <= 0 || ioctl(fd, FIONREAD, &used) < 0)
		return (size_t)-1;
	return used >= cap ? 0 : (size_t)(cap - used);
}

int skiff_out_write(int fd, const void *buf, size_t len)
{
	/* Up to PIPE_BUF bytes a pipe write is atomic: all or EAGAIN. Beyond
	 * that a non-blocking write may be partial, which would tear the line:
	 * check the room first (we are the only writer of our own pipe). */
	if (len > PIPE_BUF && pipe_room(fd) < len)
		return -EAGAIN;
	const char *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return p == buf ? -errno : -EIO;
		}
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
