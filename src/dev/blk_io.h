/* I/O engines for raw disk images: io_uring (liburing) or synchronous
 * system calls, behind one interface, used by virtio-blk on the VM's I/O
 * thread.
 *
 * Opening an image checks what the user can get wrong and says so, naming
 * the file: missing or unreadable, a size that is zero or not a multiple of
 * 512 bytes, O_DIRECT not supported by its file system, or the image being
 * in use (flock: LOCK_EX for a writable image, LOCK_SH for a read-only one,
 * never waiting).
 *
 * Requests: the caller owns each struct blk_io_req and its iovecs until its
 * `done` callback has run. With the sync engine `done` runs inside
 * blk_io_submit(); with io_uring it runs from blk_io_complete() (call it when
 * blk_io_event_fd() is readable) or blk_io_drain(). Not thread-safe: one
 * owner thread (the I/O thread). */
#ifndef SKIFF_BLK_IO_H
#define SKIFF_BLK_IO_H
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>
#include "core/devcfg.h"
#include "core/err.h"
#include "core/log.h"

#define BLK_IO_SECTOR		512
/* Requests in flight at once (io_uring submission queue entries). */
#define BLK_IO_DEPTH		256

enum blk_io_op {
	BLK_IO_READ,		/* preadv: image [off, off+len) -> iov */
	BLK_IO_WRITE,		/* pwritev: iov -> image [off, off+len) */
	BLK_IO_FLUSH,		/* fdatasync */
	BLK_IO_DISCARD,		/* fallocate(PUNCH_HOLE|KEEP_SIZE); unsupported -> success */
	BLK_IO_WRITE_ZEROES,	/* reads of the range return zeroes afterwards */
};

struct blk_io_req;
/* Completion: res is the bytes transferred (READ/WRITE: == len), 0, or a
 * negative errno. The request may be freed inside. */
typedef void (*blk_io_done_fn)(struct blk_io_req *r, int64_t res);

struct blk_io_req {
	enum blk_io_op op;
	uint64_t off, len;		/* bytes in the image (READ/WRITE/DISCARD/WRITE_ZEROES) */
	struct iovec *iov;		/* READ/WRITE buffers, len bytes in all; the engine may
					 * advance them in place after a short transfer */
	unsigned iovcnt;		/* <= IOV_MAX */
	bool unmap;			/* WRITE_ZEROES: holes may be punched */
	blk_io_done_fn done;
	void *opaque;			/* the caller's */
	/* engine-private */
	uint64_t done_bytes;
	void *bounce;			/* O_DIRECT: aligned copy of misaligned buffers */
	struct iovec bounce_iov;
};

struct blk_io_opts {
	const char *path;		/* image file or block device */
	bool read_only;			/* O_RDONLY + LOCK_SH */
	bool direct;			/* O_DIRECT */
	enum skiff_io_engine engine;	/* SKIFF_IO_AUTO: io_uring if it works, else sync */
	const struct skiff_log *log;	/* which engine was picked (info), fallbacks */
};

struct blk_io;	/* opaque */

/* Open and lock the image, set up the engine. Returns 0 and *out, or -errno
 * with a message naming the file in *e. */
int blk_io_open(const struct blk_io_opts *o, struct blk_io **out, struct skiff_err *e);
/* Wait for everything in flight (blk_io_drain), unlock and close. io may be NULL. */
void blk_io_close(struct blk_io *io);

uint64_t blk_io_size(const struct blk_io *io);		/* bytes, a multiple of 512 */
/* Read the image's size again (it was resized in place), with the checks of
 * blk_io_open. 0, or -errno with a message in *e and the size unchanged.
 * Call with nothing in flight. */
int blk_io_refresh_size(struct blk_io *io, struct skiff_err *e);
/* Offset and buffer alignment the image needs (512, or the file system's
 * O_DIRECT alignment when larger), bytes. */
uint32_t blk_io_block_size(const struct blk_io *io);
bool blk_io_is_uring(const struct blk_io *io);
const char *blk_io_engine_name(const struct blk_io *io);	/* "io_uring" or "sync" */
/* The image's device and inode numbers (for a derived disk serial). */
void blk_io_file_id(const struct blk_io *io, uint64_t *dev, uint64_t *ino);

/* Can `n` more requests be accepted now? (false: wait for completions.) */
bool blk_io_can_submit(const struct blk_io *io, unsigned n);
/* Start r. Returns 0 (done will run, perhaps already has), -EAGAIN (no room:
 * blk_io_can_submit said so; retry after completions), or another -errno
 * (r not started, done not called). */
int blk_io_submit(struct blk_io *io, struct blk_io_req *r);
/* Hand queued submissions to the kernel (io_uring; no-op for sync). Call
 * after a batch of blk_io_submit(). */
void blk_io_kick(struct blk_io *io);
/* eventfd that becomes readable when completions are ready (io_uring), or
 * -1 (sync engine). */
int blk_io_event_fd(const struct blk_io *io);
/* Reap ready completions, calling their `done`; returns how many. */
unsigned blk_io_complete(struct blk_io *io);
/* Are completions ready to be reaped (io_uring; false for sync)? Cheap:
 * reads the completion ring, no system call. */
bool blk_io_ready(struct blk_io *io);
/* Wait for every request in flight to finish, calling `done` for each. */
void blk_io_drain(struct blk_io *io);
unsigned blk_io_inflight(const struct blk_io *io);

#endif
