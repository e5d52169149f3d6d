/* Raw-image I/O engines (see blk_io.h): io_uring through liburing with its
 * completions signalled on an eventfd, or plain preadv/pwritev/fdatasync/
 * fallocate on the calling thread.
 *
 * O_DIRECT needs aligned buffers: a request whose guest buffers are not
 * aligned goes through a bounce buffer (asynchronously up to
 * BOUNCE_ASYNC_MAX bytes per request and BOUNCE_BUDGET in flight, otherwise
 * synchronously in BOUNCE_CHUNK pieces, so a hostile guest cannot make the
 * host allocate much). Write-zeroes uses fallocate(ZERO_RANGE), or
 * PUNCH_HOLE when the guest allows unmapping, and falls back to writing
 * zeroes where the file system supports neither. */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include "dev/blk_io.h"

#define BOUNCE_CHUNK		(1u << 20)	/* synchronous bounce / zero-write piece, bytes */
#define BOUNCE_ASYNC_MAX	(1u << 20)	/* largest request bounced asynchronously */
#define BOUNCE_BUDGET		(16u << 20)	/* async bounce bytes in flight at most */

struct blk_io {
	int fd;
	uint64_t size;			/* bytes */
	uint32_t block;			/* offset/length alignment, bytes */
	uint32_t mem_align;		/* O_DIRECT buffer alignment, bytes */
	bool direct, read_only;
	uint64_t dev, ino;
	const struct skiff_log *log;
	char path[256];			/* for log messages */
	/* learned: fallocate modes the file system refuses */
	bool no_zero_range, no_punch;
	void *zeroes;			/* BOUNCE_CHUNK aligned zero bytes, lazily */
	unsigned inflight;
	uint64_t bounce_bytes;		/* async bounce bytes in flight */
	/* io_uring engine */
	bool uring;
	struct io_uring ring;
	int efd;
	unsigned unsubmitted;		/* SQEs prepared, not yet handed over */
};

/* --- helpers ------------------------------------------------------------- */

static uint64_t iov_total(const struct iovec *iov, unsigned n)
{
	uint64_t t = 0;
	for (unsigned i = 0; i < n; i++)
		t += iov[i].iov_len;
	return t;
}

/* Drop the first `n` bytes of the iovec array (*iov, *cnt), in place. */
static void iov_advance(struct iovec **iov, unsigned *cnt, uint64_t n)
{
	while (*cnt && n) {
		if (n < (*iov)->iov_len) {
			(*iov)->iov_base = (char *)(*iov)->iov_base + n;
			(*iov)->iov_len -= n;
			return;
		}
		n -= (*iov)->iov_len;
		(*iov)++;
		(*cnt)--;
	}
	while (*cnt && !(*iov)->iov_len) {
		(*iov)++;
		(*cnt)--;
	}
}

/* Copy between a flat buffer and bytes [skip, skip+n) of an iovec array. */
static void iov_copy(const struct iovec *iov, unsigned cnt, uint64_t skip, void *buf, uint64_t n,
		     bool to_buf)
{
	char *b = buf;
	for (unsigned i = 0; i < cnt && n; i++) {
		uint64_t l = iov[i].iov_len;
		if (skip >= l) {
			skip -= l;
			continue;
		}
		uint64_t k = l - skip < n ? l - skip : n;
		char *p = (char *)iov[i].iov_base + skip;
		if (to_buf)
			memcpy(b, p, k);
		else
			memcpy(p, b, k);
		b += k;
		n -= k;
		skip = 0;
	}
}

static bool needs_bounce(const struct blk_io *io, const struct blk_io_req *r)
{
	if (!io->direct || (r->op != BLK_IO_READ && r->op != BLK_IO_WRITE))
		return false;
	for (unsigned i = 0; i < r->iovcnt; i++)
		if ((uintptr_t)r->iov[i].iov_base % io->mem_align || r->iov[i].iov_len % io->block)
			return true;
	return false;
}

/* --- synchronous operations ---------------------------------------------- */

static int64_t sync_rw(struct blk_io *io, bool write, struct iovec *iov, unsigned cnt, uint64_t off,
		       uint64_t len)
{
	uint64_t done = 0;
	while (done < len) {
		unsigned n = cnt > IOV_MAX ? IOV_MAX : cnt;
		ssize_t k = write ? pwritev(io->fd, iov, (int)n, (off_t)(off + done))
				  : preadv(io->fd, iov, (int)n, (off_t)(off + done));
		if (k < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		if (k == 0)
			return -EIO;	/* end of file: the image shrank under us */
		done += (uint64_t)k;
		iov_advance(&iov, &cnt, (uint64_t)k);
	}
	return (int64_t)done;
}

static void *alloc_aligned(const struct blk_io *io, size_t n)
{
	void *p = NULL;
	size_t a = io->mem_align < 4096 ? 4096 : io->mem_align;
	if (posix_memalign(&p, a, (n + a - 1) / a * a))
		return NULL;
	return p;
}

/* Misaligned O_DIRECT request, synchronously through one bounce chunk. */
static int64_t sync_bounce(struct blk_io *io, struct blk_io_req *r)
{
	bool write = r->op == BLK_IO_WRITE;
	void *buf = alloc_aligned(io, BOUNCE_CHUNK);
	if (!buf)
		return -ENOMEM;
	int64_t res = 0;
	for (uint64_t done = 0; done < r->len;) {
		uint64_t n = r->len - done < BOUNCE_CHUNK ? r->len - done : BOUNCE_CHUNK;
		struct iovec v = { buf, n };
		if (write)
			iov_copy(r->iov, r->iovcnt, done, buf, n, true);
		res = sync_rw(io, write, &v, 1, r->off + done, n);
		if (res < 0)
			break;
		if (!write)
			iov_copy(r->iov, r->iovcnt, done, buf, n, false);
		done += n;
		res = (int64_t)done;
	}
	free(buf);
	return res;
}

static int64_t write_zeroes_by_writing(struct blk_io *io, uint64_t off, uint64_t len)
{
	if (!io->zeroes) {
		io->zeroes = alloc_aligned(io, BOUNCE_CHUNK);
		if (!io->zeroes)
			return -ENOMEM;
		memset(io->zeroes, 0, BOUNCE_CHUNK);
	}
	for (uint64_t done = 0; done < len;) {
		uint64_t n = len - done < BOUNCE_CHUNK ? len - done : BOUNCE_CHUNK;
		struct iovec v = { io->zeroes, n };
		int64_t k = sync_rw(io, true, &v, 1, off + done, n);
		if (k < 0)
			return k;
		done += n;
	}
	return 0;
}

static int do_fallocate(struct blk_io *io, int mode, uint64_t off, uint64_t len)
{
	int r;
	do
		r = fallocate(io->fd, mode, (off_t)off, (off_t)len);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : 0;
}

/* The fallocate mode to try next for write-zeroes, or 0 when only writing
 * zeroes is left. Without unmap, holes must not be punched (virtio 1.2
 * §5.2.6.2: only unmap allows deallocation). */
static int zero_mode(const struct blk_io *io, bool unmap)
{
	if (unmap && !io->no_punch)
		return FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	if (!io->no_zero_range)
		return FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
	return 0;
}

static void note_unsupported(struct blk_io *io, int mode)
{
	if (mode & FALLOC_FL_PUNCH_HOLE) {
		if (!io->no_punch)
			skiff_log(io->log, LOG_INFO, "image %s: file system cannot punch holes", io->path);
		io->no_punch = true;
	} else if (mode & FALLOC_FL_ZERO_RANGE) {
		if (!io->no_zero_range)
			skiff_log(io->log, LOG_INFO,
				  "image %s: no fallocate(ZERO_RANGE); writing zeroes instead", io->path);
		io->no_zero_range = true;
	}
}

static int64_t sync_write_zeroes(struct blk_io *io, uint64_t off, uint64_t len, bool unmap)
{
	for (;;) {
		int mode = zero_mode(io, unmap);
		if (!mode)
			return write_zeroes_by_writing(io, off, len);
		int r = do_fallocate(io, mode, off, len);
		if (r != -EOPNOTSUPP)
			return r;
		note_unsupported(io, mode);
	}
}

static int64_t sync_discard(struct blk_io *io, uint64_t off, uint64_t len)
{
	if (io->no_punch)
		return 0;	/* discard is a hint */
	int r = do_fallocate(io, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len);
	if (r == -EOPNOTSUPP) {
		note_unsupported(io, FALLOC_FL_PUNCH_HOLE);
		return 0;
	}
	return r;
}

static int64_t sync_do(struct blk_io *io, struct blk_io_req *r)
{
	switch (r->op) {
	case BLK_IO_READ:
	case BLK_IO_WRITE:
		if (needs_bounce(io, r))
			return sync_bounce(io, r);
		return sync_rw(io, r->op == BLK_IO_WRITE, r->iov, r->iovcnt, r->off, r->len);
	case BLK_IO_FLUSH:
		return fdatasync(io->fd) < 0 ? -errno : 0;
	case BLK_IO_DISCARD:
		return sync_discard(io, r->off, r->len);
	case BLK_IO_WRITE_ZEROES:
		return sync_write_zeroes(io, r->off, r->len, r->unmap);
	}
	return -EINVAL;
}

/* --- io_uring engine ----------------------------------------------------- */

static void finish(struct blk_io *io, struct blk_io_req *r, int64_t res)
{
	if (r->bounce) {
		if (res >= 0 && r->op == BLK_IO_READ)
			iov_copy(r->iov, r->iovcnt, 0, r->bounce, r->len, false);
		free(r->bounce);
		r->bounce = NULL;
		io->bounce_bytes -= r->len;
	}
	io->inflight--;
	r->done(r, res);
}

static struct io_uring_sqe *get_sqe(struct blk_io *io)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&io->ring);
	if (!sqe) {
		io_uring_submit(&io->ring);
		io->unsubmitted = 0;
		sqe = io_uring_get_sqe(&io->ring);
	}
	return sqe;
}

/* Queue the (rest of the) transfer or operation r. 0 or -errno. */
static int uring_prep(struct blk_io *io, struct blk_io_req *r)
{
	struct io_uring_sqe *sqe = get_sqe(io);
	if (!sqe)
		return -EAGAIN;
	uint64_t off = r->off + r->done_bytes;
	struct iovec *iov = r->bounce ? &r->bounce_iov : r->iov;
	unsigned cnt = r->bounce ? 1 : r->iovcnt;
	if (cnt > IOV_MAX)
		cnt = IOV_MAX;
	switch (r->op) {
	case BLK_IO_READ:
		io_uring_prep_readv(sqe, io->fd, iov, cnt, off);
		break;
	case BLK_IO_WRITE:
		io_uring_prep_writev(sqe, io->fd, iov, cnt, off);
		break;
	case BLK_IO_FLUSH:
		io_uring_prep_fsync(sqe, io->fd, IORING_FSYNC_DATASYNC);
		break;
	case BLK_IO_DISCARD:
		io_uring_prep_fallocate(sqe, io->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					(off_t)r->off, (off_t)r->len);
		break;
	case BLK_IO_WRITE_ZEROES:
		io_uring_prep_fallocate(sqe, io->fd, zero_mode(io, r->unmap), (off_t)r->off,
					(off_t)r->len);
		break;
	}
	io_uring_sqe_set_data(sqe, r);
	io->unsubmitted++;
	return 0;
}

static void uring_handle(struct blk_io *io, struct blk_io_req *r, int res)
{
	switch (r->op) {
	case BLK_IO_READ:
	case BLK_IO_WRITE:
		if (res == -EINTR || res == -EAGAIN)
			break;				/* resubmit as is */
		if (res < 0) {
			finish(io, r, res);
			return;
		}
		if (res == 0) {
			finish(io, r, -EIO);		/* end of file: the image shrank */
			return;
		}
		r->done_bytes += (uint64_t)res;
		if (r->done_bytes >= r->len) {
			finish(io, r, (int64_t)r->len);
			return;
		}
		if (r->bounce) {
			struct iovec *v = &r->bounce_iov;
			unsigned one = 1;
			iov_advance(&v, &one, (uint64_t)res);
		} else {
			iov_advance(&r->iov, &r->iovcnt, (uint64_t)res);
		}
		break;
	case BLK_IO_FLUSH:
		finish(io, r, res < 0 ? res : 0);
		return;
	case BLK_IO_DISCARD:
		if (res == -EOPNOTSUPP) {
			note_unsupported(io, FALLOC_FL_PUNCH_HOLE);
			res = 0;
		}
		finish(io, r, res < 0 ? res : 0);
		return;
	case BLK_IO_WRITE_ZEROES:
		if (res == -EOPNOTSUPP) {
			note_unsupported(io, zero_mode(io, r->unmap));
			/* rare: the file system lacks the mode; finish here */
			finish(io, r, sync_write_zeroes(io, r->off, r->len, r->unmap));
			return;
		}
		finish(io, r, res < 0 ? res : 0);
		return;
	}
	if (uring_prep(io, r) < 0)
		finish(io, r, -EIO);
}

static void uring_kick(struct blk_io *io)
{
	while (io->unsubmitted) {
		int r = io_uring_submit(&io->ring);
		if (r >= 0) {
			io->unsubmitted = 0;
			return;
		}
		if (r != -EINTR) {
			/* -EAGAIN/-EBUSY: the SQEs stay queued; the next kick
			 * (after completions) hands them over. */
			skiff_log(io->log, LOG_DEBUG, "image %s: io_uring_submit: %s", io->path,
				  strerror(-r));
			return;
		}
	}
}

static unsigned uring_reap(struct blk_io *io)
{
	unsigned n = 0;
	struct io_uring_cqe *cqe;
	while (io_uring_peek_cqe(&io->ring, &cqe) == 0) {
		struct blk_io_req *r = io_uring_cqe_get_data(cqe);
		int res = cqe->res;
		io_uring_cqe_seen(&io->ring, cqe);
		if (r)
			uring_handle(io, r, res);
		n++;
	}
	uring_kick(io);		/* resubmitted short transfers */
	return n;
}

/* --- public -------------------------------------------------------------- */

bool blk_io_can_submit(const struct blk_io *io, unsigned n)
{
	return !io->uring || io->inflight + n <= BLK_IO_DEPTH;
}

int blk_io_submit(struct blk_io *io, struct blk_io_req *r)
{
	r->done_bytes = 0;
	r->bounce = NULL;
	if ((r->op == BLK_IO_READ || r->op == BLK_IO_WRITE) && iov_total(r->iov, r->iovcnt) < r->len)
		return -EINVAL;
	if (!io->uring) {
		io->inflight++;
		finish(io, r, sync_do(io, r));
		return 0;
	}
	if (io->inflight >= BLK_IO_DEPTH)
		return -EAGAIN;
	io->inflight++;
	/* Done here, at once: cases io_uring cannot or need not do. */
	bool bounce = needs_bounce(io, r);
	if ((bounce && (r->len > BOUNCE_ASYNC_MAX || io->bounce_bytes + r->len > BOUNCE_BUDGET)) ||
	    (r->op == BLK_IO_DISCARD && io->no_punch) ||
	    (r->op == BLK_IO_WRITE_ZEROES && !zero_mode(io, r->unmap))) {
		finish(io, r, sync_do(io, r));
		return 0;
	}
	if (bounce) {
		r->bounce = alloc_aligned(io, r->len ? r->len : 1);
		if (!r->bounce) {
			io->inflight--;
			return -ENOMEM;
		}
		io->bounce_bytes += r->len;
		if (r->op == BLK_IO_WRITE)
			iov_copy(r->iov, r->iovcnt, 0, r->bounce, r->len, true);
		r->bounce_iov = (struct iovec){ r->bounce, r->len };
	}
	int err = uring_prep(io, r);
	if (err) {
		if (r->bounce) {
			free(r->bounce);
			r->bounce = NULL;
			io->bounce_bytes -= r->len;
		}
		io->inflight--;
		return err;
	}
	return 0;
}

void blk_io_kick(struct blk_io *io)
{
	if (io->uring)
		uring_kick(io);
}

int blk_io_event_fd(const struct blk_io *io)
{
	return io->uring ? io->efd : -1;
}

unsigned blk_io_complete(struct blk_io *io)
{
	if (!io->uring)
		return 0;
	uint64_t v;
	ssize_t k = read(io->efd, &v, sizeof(v));	/* non-blocking; clear before reaping */
	(void)k;
	return uring_reap(io);
}

bool blk_io_ready(struct blk_io *io)
{
	return io->uring && io_uring_cq_ready(&io->ring);
}

void blk_io_drain(struct blk_io *io)
{
	if (!io || !io->uring)
		return;
	while (io->inflight) {
		uring_kick(io);
		struct io_uring_cqe *cqe;
		int r = io_uring_wait_cqe(&io->ring, &cqe);
		if (r < 0 && r != -EINTR && r != -EAGAIN) {
			skiff_log(io->log, LOG_ERROR, "image %s: io_uring_wait_cqe: %s", io->path,
				  strerror(-r));
			return;
		}
		uring_reap(io);
	}
}

unsigned blk_io_inflight(const struct blk_io *io)
{
	return io->inflight;
}

uint64_t blk_io_size(const struct blk_io *io)
{
	return io->size;
}

uint32_t blk_io_block_size(const struct blk_io *io)
{
	return io->block;
}

bool blk_io_is_uring(const struct blk_io *io)
{
	return io->uring;
}

const char *blk_io_engine_name(const struct blk_io *io)
{
	return io->uring ? "io_uring" : "sync";
}

void blk_io_file_id(const struct blk_io *io, uint64_t *dev, uint64_t *ino)
{
	*dev = io->dev;
	*ino = io->ino;
}

/* io_uring with the operations we use; 0 or -errno (why not). */
static int uring_setup(struct blk_io *io)
{
	int r = io_uring_queue_init(BLK_IO_DEPTH, &io->ring, 0);
	if (r < 0)
		return r;
	struct io_uring_probe *p = io_uring_get_probe_ring(&io->ring);
	bool ok = p && io_uring_opcode_supported(p, IORING_OP_READV) &&
		  io_uring_opcode_supported(p, IORING_OP_WRITEV) &&
		  io_uring_opcode_supported(p, IORING_OP_FSYNC) &&
		  io_uring_opcode_supported(p, IORING_OP_FALLOCATE);
	if (p)
		io_uring_free_probe(p);
	if (!ok) {
		io_uring_queue_exit(&io->ring);
		return -EOPNOTSUPP;
	}
	io->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (io->efd < 0) {
		r = -errno;
		io_uring_queue_exit(&io->ring);
		return r;
	}
	r = io_uring_register_eventfd(&io->ring, io->efd);
	if (r < 0) {
		close(io->efd);
		io->efd = -1;
		io_uring_queue_exit(&io->ring);
		return r;
	}
	io->uring = true;
	return 0;
}

static void direct_alignment(struct blk_io *io, const struct stat *st)
{
	io->block = BLK_IO_SECTOR;
	io->mem_align = BLK_IO_SECTOR;
	if (!io->direct)
		return;
	if (S_ISBLK(st->st_mode)) {
		int lbs = 0;
		if (ioctl(io->fd, BLKSSZGET, &lbs) == 0 && lbs > BLK_IO_SECTOR && lbs <= 65536)
			io->block = io->mem_align = (uint32_t)lbs;
		return;
	}
#ifdef STATX_DIOALIGN
	struct statx sx;
	if (statx(io->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) == 0 &&
	    (sx.stx_mask & STATX_DIOALIGN) && sx.stx_dio_offset_align) {
		if (sx.stx_dio_offset_align > BLK_IO_SECTOR && sx.stx_dio_offset_align <= 65536)
			io->block = sx.stx_dio_offset_align;
		if (sx.stx_dio_mem_align > io->mem_align && sx.stx_dio_mem_align <= 65536)
			io->mem_align = sx.stx_dio_mem_align;
	}
#endif
}

int blk_io_open(const struct blk_io_opts *o, struct blk_io **out, struct skiff_err *e)
{
	*out = NULL;
	if (!o->path || !o->path[0])
		return skiff_fail(e, EINVAL, "disk: no image path given");
	const char *p = o->path;
	struct blk_io *io = calloc(1, sizeof(*io));
	if (!io)
		return skiff_fail(e, ENOMEM, "image %s: out of memory", p);
	io->fd = io->efd = -1;
	io->log = o->log;
	io->direct = o->direct;
	io->read_only = o->read_only;
	snprintf(io->path, sizeof(io->path), "%s", p);
	int err;

	int flags = (o->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC | (o->direct ? O_DIRECT : 0);
	io->fd = open(p, flags);
	if (io->fd < 0) {
		err = errno;
		if (err == EINVAL && o->direct)
			err = skiff_fail(e, err, "image %s: its file system does not support O_DIRECT", p);
		else if (!o->read_only && (err == EACCES || err == EROFS || err == EPERM))
			err = skiff_fail(e, err, "cannot open image %s for writing: %s (read-only disks "
					 "open it read-only)", p, strerror(err));
		else
			err = skiff_fail(e, err, "cannot open image %s: %s", p, strerror(err));
		goto fail;
	}
	struct stat st;
	if (fstat(io->fd, &st) < 0) {
		err = skiff_fail(e, errno, "image %s: stat: %s", p, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		err = skiff_fail(e, EINVAL, "image %s is not a regular file or block device", p);
		goto fail;
	}
	if (flock(io->fd, (o->read_only ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			err = skiff_fail(e, EBUSY, "image %s is in use by another process (locked)", p);
		else
			err = skiff_fail(e, errno, "image %s: flock: %s", p, strerror(errno));
		goto fail;
	}
	io->dev = st.st_dev;
	io->ino = st.st_ino;
	if (S_ISBLK(st.st_mode)) {
		uint64_t sz = 0;
		if (ioctl(io->fd, BLKGETSIZE64, &sz) < 0) {
			err = skiff_fail(e, errno, "image %s: BLKGETSIZE64: %s", p, strerror(errno));
			goto fail;
		}
		io->size = sz;
		io->dev = st.st_rdev;
	} else {
		io->size = (uint64_t)st.st_size;
	}
	if (io->size == 0) {
		err = skiff_fail(e, EINVAL, "image %s is empty (size 0): it must hold at least one "
				 "512-byte sector", p);
		goto fail;
	}
	if (io->size % BLK_IO_SECTOR) {
		err = skiff_fail(e, EINVAL, "image %s: size %llu is not a multiple of 512 bytes", p,
				 (unsigned long long)io->size);
		goto fail;
	}
	direct_alignment(io, &st);
	if (io->size % io->block) {
		err = skiff_fail(e, EINVAL, "image %s: size %llu is not a multiple of the %u-byte "
				 "O_DIRECT block size", p, (unsigned long long)io->size, io->block);
		goto fail;
	}

	if (o->engine != SKIFF_IO_SYNC) {
		int r = uring_setup(io);
		if (r < 0 && o->engine == SKIFF_IO_URING) {
			err = skiff_fail(e, -r, "image %s: io_uring engine unavailable: %s", p,
					 strerror(-r));
			goto fail;
		}
		if (r < 0)
			skiff_log(io->log, LOG_INFO, "image %s: io_uring unavailable (%s), using the "
				  "sync engine", p, strerror(-r));
	}
	skiff_log(io->log, LOG_INFO, "image %s: %llu bytes, %s%s, %s engine", p,
		  (unsigned long long)io->size, o->read_only ? "read-only" : "read-write",
		  o->direct ? ", O_DIRECT" : "", blk_io_engine_name(io));
	*out = io;
	return 0;
fail:
	if (io->fd >= 0)
		close(io->fd);
	free(io);
	return err;
}

int blk_io_refresh_size(struct blk_io *io, struct skiff_err *e)
{
	struct stat st;
	uint64_t sz;
	if (fstat(io->fd, &st) < 0)
		return skiff_fail(e, errno, "image %s: stat: %s", io->path, strerror(errno));
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(io->fd, BLKGETSIZE64, &sz) < 0)
			return skiff_fail(e, errno, "image %s: BLKGETSIZE64: %s", io->path,
					  strerror(errno));
	} else {
		sz = (uint64_t)st.st_size;
	}
	/* the same rules as blk_io_open */
	if (!sz)
		return skiff_fail(e, EINVAL, "image %s is empty (size 0): it must hold at least one "
				  "512-byte sector", io->path);
	if (sz % BLK_IO_SECTOR || sz % io->block)
		return skiff_fail(e, EINVAL, "image %s: size %llu is not a multiple of %u bytes",
				  io->path, (unsigned long long)sz, io->block);
	io->size = sz;
	return 0;
}

void blk_io_close(struct blk_io *io)
{
	if (!io)
		return;
	blk_io_drain(io);
	if (io->uring) {
		io_uring_unregister_eventfd(&io->ring);
		io_uring_queue_exit(&io->ring);
		close(io->efd);
	}
	close(io->fd);		/* releases the flock */
	free(io->zeroes);
	free(io);
}
