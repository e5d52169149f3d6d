/* A destination for log lines or metrics objects: a regular file (appended
 * to) or a named pipe, as Firecracker's Logger.log_path and
 * Metrics.metrics_path. Writes never block: a reader that does not keep up
 * loses whole lines (the caller counts them), never a vCPU or the I/O
 * thread's time. No state besides the fd. */
#ifndef SKIFF_OUTFILE_H
#define SKIFF_OUTFILE_H
#include <stddef.h>
#include "core/err.h"

/* Open path for writing: a regular file is created (mode 0600) if missing
 * and appended to; a FIFO is opened read-write (as Firecracker does), so it
 * opens without a reader and a reader going away raises no SIGPIPE; a
 * character device (/dev/null, a tty) is accepted; anything else (a
 * directory, a socket) is refused. O_NONBLOCK, O_CLOEXEC. Returns the fd,
 * or -errno with *e naming `field` (e.g. "logger.log_path") and path. */
int skiff_out_open(const char *path, const char *field, struct skiff_err *e);

/* Write one whole line (or JSON object) of len bytes: all of it, or
 * nothing when a pipe has no room (-EAGAIN: dropped). Other errors:
 * -errno (a short write to a file counts as -EIO). */
int skiff_out_write(int fd, const void *buf, size_t len);

#endif
