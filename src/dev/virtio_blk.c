/* virtio-blk device model (virtio 1.2 §5.2); see virtio_blk.h.
 *
 * Everything here but creation and destruction runs on the VM's I/O thread:
 * queue notifications, the engine's completion eventfd and the rate
 * limiter's timerfd all arrive there, so device state needs no lock. A
 * request in flight is a struct blk_inflight holding what completion needs
 * (descriptor head, status byte address, byte counts) and its engine
 * requests; the guest's descriptors are not read again after parsing. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include "core/evloop.h"
#include "core/ratelimit.h"
#include "dev/blk_io.h"
#include "dev/virtio_blk.h"

_Static_assert(sizeof(struct virtio_blk_config) == 60, "virtio_blk_config layout (§5.2.4)");

struct virtio_blk;

struct blk_inflight {
	struct virtio_blk *b;
	uint16_t head;			/* descriptor chain to return */
	uint8_t *status_ptr;		/* guest status byte */
	uint32_t type;
	uint8_t status;			/* VIRTIO_BLK_S_OK until an engine request fails */
	uint32_t written;		/* used length on success (data + status byte) */
	uint64_t bytes;			/* IN/OUT data bytes */
	unsigned pending;		/* engine requests not yet completed */
	struct iovec *iov;		/* IN/OUT data buffers (guest RAM), owned array */
	unsigned nio;
	struct blk_io_req io[];		/* nio engine requests */
};

struct virtio_blk {
	struct virtio_device vd;
	struct virtio_blk_config cfg;	/* device configuration space (vd.config) */
	const struct dev_host *host;
	struct blk_io *io;
	struct rate_limiter rl;
	char path[256];			/* for messages */
	uint64_t capacity;		/* sectors */
	bool ro, direct;
	bool paused;			/* VM paused: no queue processing (I/O thread) */
	char id[VIRTIO_BLK_ID_BYTES];	/* GET_ID string, NUL-padded */
	bool active;			/* DRIVER_OK seen, not reset since */
	bool io_watched, rl_watched;	/* fds registered on the loop */
	bool waiting_io;		/* the engine is full: resume on completions */
	bool need_irq;			/* used entries pushed since the last interrupt */
	struct virtio_blk_stats stats;
	struct virtq_chain chain;	/* scratch for virtq_pop */
};

#define STAT_ADD(b, field, n) __atomic_fetch_add(&(b)->stats.field, (n), __ATOMIC_RELAXED)

/* --- parsing (pure) ------------------------------------------------------ */

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* [sector, sector + n) inside a disk of `capacity` sectors, overflow-safe. */
static bool in_range(uint64_t sector, uint64_t n, uint64_t capacity)
{
	return sector <= capacity && n <= capacity - sector;
}

static uint8_t parse_rw(struct blk_req *r, uint64_t capacity)
{
	if (r->data_len % BLK_IO_SECTOR || r->data_len > VIRTIO_BLK_MAX_DATA ||
	    !in_range(r->sector, r->data_len / BLK_IO_SECTOR, capacity))
		return VIRTIO_BLK_S_IOERR;
	return VIRTIO_BLK_S_OK;
}

static uint8_t parse_segments(const struct virtq_chain *c, struct blk_req *r, uint64_t capacity)
{
	if (!r->data_len || r->data_len % VIRTIO_BLK_DWZ_SEG_SIZE ||
	    r->data_len / VIRTIO_BLK_DWZ_SEG_SIZE > VIRTIO_BLK_DWZ_MAX_SEG)
		return VIRTIO_BLK_S_IOERR;
	r->nseg = (uint32_t)(r->data_len / VIRTIO_BLK_DWZ_SEG_SIZE);
	for (uint32_t i = 0; i < r->nseg; i++) {
		uint8_t s[VIRTIO_BLK_DWZ_SEG_SIZE];
		if (virtq_chain_read(c, r->data_off + i * sizeof(s), s, sizeof(s)) != sizeof(s))
			return VIRTIO_BLK_S_IOERR;
		struct blk_seg *g = &r->seg[i];
		uint32_t flags = le32(s + 12);
		g->sector = le64(s);
		g->num_sectors = le32(s + 8);
		g->unmap = flags & VIRTIO_BLK_DWZ_F_UNMAP;
		if (flags & ~VIRTIO_BLK_DWZ_F_UNMAP)
			return VIRTIO_BLK_S_UNSUPP;
		if (g->unmap && r->type == VIRTIO_BLK_T_DISCARD)
			return VIRTIO_BLK_S_UNSUPP;
		if (g->num_sectors > VIRTIO_BLK_DWZ_MAX_SECTORS ||
		    !in_range(g->sector, g->num_sectors, capacity))
			return VIRTIO_BLK_S_IOERR;
	}
	return VIRTIO_BLK_S_OK;
}

static uint8_t parse(const struct virtq_chain *c, uint64_t capacity, bool ro, struct blk_req *r)
{
	/* The status byte is the last writable byte (§5.2.6). */
	for (uint32_t i = c->nout + c->nin; i > c->nout; i--) {
		const struct iovec *v = &c->iov[i - 1];
		if (v->iov_len) {
			r->status_ptr = (uint8_t *)v->iov_base + v->iov_len - 1;
			break;
		}
	}
	if (!r->status_ptr || c->out_len < VIRTIO_BLK_HDR_SIZE)
		return VIRTIO_BLK_S_IOERR;
	uint8_t h[VIRTIO_BLK_HDR_SIZE];
	if (virtq_chain_read(c, 0, h, sizeof(h)) != sizeof(h))
		return VIRTIO_BLK_S_IOERR;
	r->type = le32(h);
	r->sector = le64(h + 8);
	uint64_t writable = c->in_len - 1;		/* before the status byte */
	uint64_t readable = c->out_len - VIRTIO_BLK_HDR_SIZE;	/* after the header */
	switch (r->type) {
	case VIRTIO_BLK_T_IN:
		r->data_in = true;
		r->data_len = writable;
		return parse_rw(r, capacity);
	case VIRTIO_BLK_T_OUT:
		r->data_off = VIRTIO_BLK_HDR_SIZE;
		r->data_len = readable;
		if (ro)
			return VIRTIO_BLK_S_IOERR;	/* §5.2.6.2: and write nothing */
		return parse_rw(r, capacity);
	case VIRTIO_BLK_T_FLUSH:
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_GET_ID:
		r->data_in = true;
		r->data_len = writable;
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		r->data_off = VIRTIO_BLK_HDR_SIZE;
		r->data_len = readable;
		if (ro)
			return VIRTIO_BLK_S_IOERR;
		return parse_segments(c, r, capacity);
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
}

uint8_t virtio_blk_parse(const struct virtq_chain *c, uint64_t capacity, bool ro, struct blk_req *out)
{
	memset(out, 0, sizeof(*out));
	out->status = parse(c, capacity, ro, out);
	return out->status;
}

/* --- completion ---------------------------------------------------------- */

static bool broken(const struct virtio_blk *b)
{
	return __atomic_load_n(&b->vd.broken, __ATOMIC_ACQUIRE);
}

/* Write the status byte and return the chain to the driver. */
static void complete(struct virtio_blk *b, uint16_t head, uint8_t *status_ptr, uint8_t status,
		     uint32_t written)
{
	if (status == VIRTIO_BLK_S_IOERR)
		STAT_ADD(b, errors, 1);
	else if (status == VIRTIO_BLK_S_UNSUPP)
		STAT_ADD(b, unsupported, 1);
	if (!b->active || broken(b))
		return;				/* reset or failed meanwhile: drop it */
	if (status_ptr)
		*status_ptr = status;
	else
		written = 0;
	if (status != VIRTIO_BLK_S_OK && status_ptr)
		written = 1;
	if (virtq_push(&b->vd.vq[0], head, written) < 0) {
		virtio_device_error(&b->vd, "virtio-blk %s: used ring outside guest RAM", b->path);
		return;
	}
	b->need_irq = true;
}

static void count_ok(struct virtio_blk *b, const struct blk_inflight *f)
{
	switch (f->type) {
	case VIRTIO_BLK_T_IN:
		STAT_ADD(b, reads, 1);
		STAT_ADD(b, read_bytes, f->bytes);
		break;
	case VIRTIO_BLK_T_OUT:
		STAT_ADD(b, writes, 1);
		STAT_ADD(b, write_bytes, f->bytes);
		break;
	case VIRTIO_BLK_T_FLUSH:
		STAT_ADD(b, flushes, 1);
		break;
	case VIRTIO_BLK_T_DISCARD:
		STAT_ADD(b, discards, 1);
		break;
	case VIRTIO_BLK_T_WRITE_ZEROES:
		STAT_ADD(b, write_zeroes, 1);
		break;
	case VIRTIO_BLK_T_GET_ID:
		STAT_ADD(b, get_ids, 1);
		break;
	}
}

static void inflight_finish(struct blk_inflight *f)
{
	struct virtio_blk *b = f->b;
	if (f->status == VIRTIO_BLK_S_OK)
		count_ok(b, f);
	complete(b, f->head, f->status_ptr, f->status, f->written);
	free(f->iov);
	free(f);
}

static void io_done(struct blk_io_req *r, int64_t res)
{
	struct blk_inflight *f = r->opaque;
	if (res < 0 && f->status == VIRTIO_BLK_S_OK) {
		f->status = VIRTIO_BLK_S_IOERR;
		skiff_log(f->b->host->log, LOG_DEBUG, "virtio-blk %s: request type %u at %llu: %s",
			  f->b->path, f->type, (unsigned long long)r->off, strerror((int)-res));
	}
	if (--f->pending == 0)
		inflight_finish(f);
}

/* --- request execution --------------------------------------------------- */

/* The part of c's readable (in=false) or writable (in=true) iovecs covering
 * [off, off+len), into dst (room for all of that part). Returns the count. */
static unsigned iov_slice(const struct virtq_chain *c, bool in, uint64_t off, uint64_t len,
			  struct iovec *dst)
{
	uint32_t first = in ? c->nout : 0, n = in ? c->nin : c->nout;
	unsigned k = 0;
	for (uint32_t i = first; i < first + n && len; i++) {
		uint64_t l = c->iov[i].iov_len;
		if (off >= l) {
			off -= l;
			continue;
		}
		uint64_t take = l - off < len ? l - off : len;
		dst[k].iov_base = (char *)c->iov[i].iov_base + off;
		dst[k].iov_len = take;
		k++;
		len -= take;
		off = 0;
	}
	return k;
}

/* Carry out a parsed, valid request: submit its engine requests or complete
 * it at once. */
static void execute(struct virtio_blk *b, const struct virtq_chain *c, const struct blk_req *r)
{
	unsigned nio = 0;
	switch (r->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		nio = r->data_len ? 1 : 0;
		break;
	case VIRTIO_BLK_T_FLUSH:
		nio = b->ro ? 0 : 1;		/* nothing to make durable */
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		for (uint32_t i = 0; i < r->nseg; i++)
			nio += r->seg[i].num_sectors ? 1 : 0;
		break;
	case VIRTIO_BLK_T_GET_ID: {
		uint64_t n = r->data_len < VIRTIO_BLK_ID_BYTES ? r->data_len : VIRTIO_BLK_ID_BYTES;
		virtq_chain_write(c, 0, b->id, n);
		STAT_ADD(b, get_ids, 1);
		complete(b, c->head, r->status_ptr, VIRTIO_BLK_S_OK, (uint32_t)n + 1);
		return;
	}
	}
	uint32_t written = r->type == VIRTIO_BLK_T_IN ? (uint32_t)r->data_len + 1 : 1;
	if (!nio) {
		complete(b, c->head, r->status_ptr, VIRTIO_BLK_S_OK, written);
		return;
	}
	struct blk_inflight *f = calloc(1, sizeof(*f) + nio * sizeof(struct blk_io_req));
	if (!f) {
		complete(b, c->head, r->status_ptr, VIRTIO_BLK_S_IOERR, 1);
		return;
	}
	*f = (struct blk_inflight){ .b = b, .head = c->head, .status_ptr = r->status_ptr,
				    .type = r->type, .status = VIRTIO_BLK_S_OK, .written = written,
				    .nio = nio };
	if (r->type == VIRTIO_BLK_T_IN || r->type == VIRTIO_BLK_T_OUT) {
		bool in = r->type == VIRTIO_BLK_T_IN;
		f->iov = malloc((in ? c->nin : c->nout) * sizeof(struct iovec));
		if (!f->iov) {
			free(f);
			complete(b, c->head, r->status_ptr, VIRTIO_BLK_S_IOERR, 1);
			return;
		}
		f->bytes = r->data_len;
		f->io[0] = (struct blk_io_req){
			.op = in ? BLK_IO_READ : BLK_IO_WRITE, .off = r->sector * BLK_IO_SECTOR,
			.len = r->data_len, .iov = f->iov,
			.iovcnt = iov_slice(c, in, r->data_off, r->data_len, f->iov),
		};
	} else if (r->type == VIRTIO_BLK_T_FLUSH) {
		f->io[0] = (struct blk_io_req){ .op = BLK_IO_FLUSH };
	} else {
		unsigned k = 0;
		for (uint32_t i = 0; i < r->nseg; i++) {
			const struct blk_seg *g = &r->seg[i];
			if (!g->num_sectors)
				continue;
			f->io[k++] = (struct blk_io_req){
				.op = r->type == VIRTIO_BLK_T_DISCARD ? BLK_IO_DISCARD
								      : BLK_IO_WRITE_ZEROES,
				.off = g->sector * BLK_IO_SECTOR,
				.len = (uint64_t)g->num_sectors * BLK_IO_SECTOR, .unmap = g->unmap,
			};
		}
	}
	/* pending counts one extra until every request is submitted, so a
	 * completion inside blk_io_submit (sync engine) cannot finish f early. */
	f->pending = nio + 1;
	for (unsigned i = 0; i < nio; i++) {
		f->io[i].done = io_done;
		f->io[i].opaque = f;
		int err = blk_io_submit(b->io, &f->io[i]);
		if (err) {
			/* not started (blk_io_can_submit was checked, so this is
			 * a resource failure): count it as failed */
			io_done(&f->io[i], err);
		}
	}
	if (--f->pending == 0)
		inflight_finish(f);
}

static void interrupt_if_needed(struct virtio_blk *b)
{
	if (b->need_irq) {
		b->need_irq = false;
		virtio_queue_interrupt(&b->vd, 0);
	}
}

/* Take requests off the queue until it is empty (true), the limiter says
 * stop, the engine is full or the device stopped (false). */
static bool drain(struct virtio_blk *b)
{
	struct virtq *q = &b->vd.vq[0];
	while (b->active && !broken(b) && !b->rl.throttled && !b->waiting_io) {
		if (!blk_io_can_submit(b->io, VIRTIO_BLK_DWZ_MAX_SEG)) {
			b->waiting_io = true;	/* resumed by io_event */
			break;
		}
		int r = virtq_pop(q, &b->chain);
		if (r == 0)
			return true;
		if (r < 0) {
			virtio_device_error(&b->vd, "virtio-blk %s: malformed descriptor chain",
					    b->path);
			break;
		}
		struct blk_req req;
		virtio_blk_parse(&b->chain, b->capacity, b->ro, &req);
		if (req.status == VIRTIO_BLK_S_OK &&
		    ((req.type == VIRTIO_BLK_T_DISCARD &&
		      !virtio_has_feature(&b->vd, VIRTIO_BLK_F_DISCARD)) ||
		     (req.type == VIRTIO_BLK_T_WRITE_ZEROES &&
		      !virtio_has_feature(&b->vd, VIRTIO_BLK_F_WRITE_ZEROES))))
			req.status = VIRTIO_BLK_S_UNSUPP;	/* not negotiated */
		/* Every request costs one operation; reads and writes their bytes. */
		bool data = req.status == VIRTIO_BLK_S_OK &&
			    (req.type == VIRTIO_BLK_T_IN || req.type == VIRTIO_BLK_T_OUT);
		if (!rl_consume(&b->rl, data ? req.data_len : 0, rl_now_ns())) {
			virtq_unpop(q);
			STAT_ADD(b, throttled, 1);
			break;				/* resumed by rl_event */
		}
		if (req.status != VIRTIO_BLK_S_OK) {
			skiff_log(b->host->log, LOG_DEBUG, "virtio-blk %s: request type %u sector "
				  "%llu refused (%s)", b->path, req.type,
				  (unsigned long long)req.sector,
				  req.status == VIRTIO_BLK_S_UNSUPP ? "unsupported" : "I/O error");
			complete(b, b->chain.head, req.status_ptr, req.status, 1);
		}
		else
			execute(b, &b->chain, &req);
	}
	return false;
}

/* Serve the queue with the driver's notifications suppressed (virtio 1.2
 * §2.7.10; with EVENT_IDX avail_event stays behind, so a driver adding
 * requests meanwhile does not kick), re-enabling them only once the queue
 * is empty and looking again after that (the driver may have added a
 * request just before it saw notifications on): no kick is lost. When
 * drain() stops early (throttled, engine full) notifications stay off:
 * rl_event or io_event resumes. One interrupt for all that was completed. */
static void process(struct virtio_blk *b)
{
	struct virtq *q = &b->vd.vq[0];
	for (;;) {
		virtq_set_notify(q, false);
		bool empty = drain(b);
		blk_io_kick(b->io);
		if (blk_io_ready(b->io)) {
			/* completed during submission (page cache): return them
			 * now, not after another trip through the event loop */
			blk_io_complete(b->io);
			interrupt_if_needed(b);
			if (b->waiting_io && blk_io_can_submit(b->io, VIRTIO_BLK_DWZ_MAX_SEG)) {
				b->waiting_io = false;
				continue;
			}
		}
		if (!empty || !virtq_set_notify(q, true))
			break;
	}
	interrupt_if_needed(b);
}

/* Completions: return them (one interrupt for the batch), then take what
 * the driver queued meanwhile in the same wake-up rather than waiting for
 * its kick (which notification suppression may have saved it). */
static void io_event(void *opaque, uint32_t events)
{
	struct virtio_blk *b = opaque;
	blk_io_complete(b->io);
	interrupt_if_needed(b);
	if (b->waiting_io && blk_io_can_submit(b->io, VIRTIO_BLK_DWZ_MAX_SEG))
		b->waiting_io = false;
	process(b);
}

static void rl_event(void *opaque, uint32_t events)
{
	struct virtio_blk *b = opaque;
	rl_timer_ack(&b->rl);
	process(b);
}

/* --- virtio_ops ---------------------------------------------------------- */

static uint64_t blk_features(struct virtio_device *vd)
{
	struct virtio_blk *b = vd->priv;
	uint64_t f = 1ULL << VIRTIO_BLK_F_SEG_MAX | 1ULL << VIRTIO_BLK_F_BLK_SIZE |
		     1ULL << VIRTIO_BLK_F_FLUSH;
	if (b->ro)
		f |= 1ULL << VIRTIO_BLK_F_RO;
	else
		f |= 1ULL << VIRTIO_BLK_F_DISCARD | 1ULL << VIRTIO_BLK_F_WRITE_ZEROES;
	return f;
}

static void unwatch(struct virtio_blk *b)
{
	if (b->io_watched)
		evloop_del(b->host->loop, blk_io_event_fd(b->io));
	if (b->rl_watched)
		evloop_del(b->host->loop, b->rl.timer_fd);
	b->io_watched = b->rl_watched = false;
}

/* Stop everything: wait for in-flight I/O (its completions are dropped: the
 * driver reset the queue), unregister the fds, forget throttling. */
static void blk_reset(struct virtio_device *vd)
{
	struct virtio_blk *b = vd->priv;
	b->active = false;
	blk_io_drain(b->io);
	unwatch(b);
	rl_timer_ack(&b->rl);
	b->waiting_io = false;
	b->need_irq = false;
}

static int blk_activate(struct virtio_device *vd)
{
	struct virtio_blk *b = vd->priv;
	int err;
	if (b->active)
		blk_reset(vd);
	if (blk_io_event_fd(b->io) >= 0) {
		err = evloop_add(b->host->loop, blk_io_event_fd(b->io), EPOLLIN, io_event, b);
		if (err)
			goto fail;
		b->io_watched = true;
	}
	if (b->rl.timer_fd >= 0) {
		err = evloop_add(b->host->loop, b->rl.timer_fd, EPOLLIN, rl_event, b);
		if (err)
			goto fail;
		b->rl_watched = true;
	}
	b->active = true;	/* the core then notifies each ready queue once */
	return 0;
fail:
	skiff_log(b->host->log, LOG_ERROR, "virtio-blk %s: cannot watch its fds: %s", b->path,
		  strerror(-err));
	unwatch(b);
	return err;
}

static void blk_queue_notify(struct virtio_device *vd, uint16_t q)
{
	struct virtio_blk *b = vd->priv;
	if (q == 0)
		process(b);
}

static const struct virtio_ops blk_ops = {
	.name = "virtio-blk",
	.device_id = VIRTIO_ID_BLOCK,
	.num_queues = 1,
	.queue_max = VIRTIO_BLK_QUEUE_SIZE,
	.features = blk_features,
	.config_write = NULL,		/* no writable fields without CONFIG_WCE */
	.activate = blk_activate,
	.reset = blk_reset,
	.queue_notify = blk_queue_notify,
};

/* --- life cycle ---------------------------------------------------------- */

static int check_id(const char *id, struct skiff_err *e)
{
	size_t n = strlen(id);
	if (n > VIRTIO_BLK_ID_BYTES)
		return skiff_fail(e, EINVAL, "disk id '%s' is longer than %d bytes", id,
				  VIRTIO_BLK_ID_BYTES);
	for (size_t i = 0; i < n; i++)
		if (id[i] < 0x20 || id[i] > 0x7e)
			return skiff_fail(e, EINVAL, "disk id '%s' is not printable ASCII", id);
	return 0;
}

int virtio_blk_create(const struct skiff_disk_config *c, const struct dev_host *host,
		      struct virtio_blk **out, struct skiff_err *e)
{
	*out = NULL;
	if (!host || !host->loop)
		return skiff_fail(e, EINVAL, "virtio-blk: no I/O event loop");
	if (c->id) {
		int err = check_id(c->id, e);
		if (err)
			return err;
	}
	struct virtio_blk *b = calloc(1, sizeof(*b));
	if (!b)
		return skiff_fail(e, ENOMEM, "virtio-blk: out of memory");
	b->host = host;
	b->ro = c->read_only;
	b->direct = c->direct;
	b->rl.timer_fd = -1;
	snprintf(b->path, sizeof(b->path), "%s", c->path ? c->path : "");
	struct blk_io_opts o = { .path = c->path, .read_only = c->read_only, .direct = c->direct,
				 .engine = c->engine, .log = host->log };
	int err = blk_io_open(&o, &b->io, e);
	if (err)
		goto fail;
	err = rl_init(&b->rl, &c->rl, e);
	if (err)
		goto fail;
	b->capacity = blk_io_size(b->io) / BLK_IO_SECTOR;

	if (c->id) {
		memcpy(b->id, c->id, strlen(c->id));	/* <= 20 (check_id); NUL-padded */
	} else {
		uint64_t dev, ino;
		char tmp[48];
		blk_io_file_id(b->io, &dev, &ino);
		snprintf(tmp, sizeof(tmp), "%llx-%llx", (unsigned long long)dev,
			 (unsigned long long)ino);
		memcpy(b->id, tmp, strnlen(tmp, sizeof(b->id)));
	}

	uint32_t bs = blk_io_block_size(b->io);
	b->cfg = (struct virtio_blk_config){
		.capacity = b->capacity,
		.seg_max = VIRTIO_BLK_SEG_MAX,
		.blk_size = bs,
		.num_queues = 1,
		.max_discard_sectors = VIRTIO_BLK_DWZ_MAX_SECTORS,
		.max_discard_seg = VIRTIO_BLK_DWZ_MAX_SEG,
		.discard_sector_alignment = bs / BLK_IO_SECTOR,
		.max_write_zeroes_sectors = VIRTIO_BLK_DWZ_MAX_SECTORS,
		.max_write_zeroes_seg = VIRTIO_BLK_DWZ_MAX_SEG,
		.write_zeroes_may_unmap = 1,
	};
	err = virtio_device_init(&b->vd, &blk_ops, b, host, (uint8_t *)&b->cfg, sizeof(b->cfg));
	if (err) {
		skiff_fail(e, -err, "virtio-blk %s: device init failed: %s", b->path,
			   strerror(-err));
		goto fail;
	}
	*out = b;
	return 0;
fail:
	rl_destroy(&b->rl);
	blk_io_close(b->io);
	free(b);
	return err;
}

struct virtio_device *virtio_blk_vdev(struct virtio_blk *b)
{
	return &b->vd;
}

static void quiesce(void *opaque)
{
	struct virtio_blk *b = opaque;
	blk_reset(&b->vd);
}

void virtio_blk_destroy(struct virtio_blk *b)
{
	if (!b)
		return;
	evloop_call(b->host->loop, quiesce, b);
	virtio_device_destroy(&b->vd);
	rl_destroy(&b->rl);
	blk_io_close(b->io);
	free(b);
}

void virtio_blk_pause(struct virtio_blk *b)
{
	if (!b)
		return;
	b->paused = true;
	blk_io_drain(b->io);	/* each completion returns its chain */
	interrupt_if_needed(b);
}

void virtio_blk_resume(struct virtio_blk *b)
{
	if (!b)
		return;
	b->paused = false;
	if (b->active)
		process(b);
}

void virtio_blk_get_stats(const struct virtio_blk *b, struct virtio_blk_stats *out)
{
	const uint64_t *src = (const uint64_t *)&b->stats;
	uint64_t *dst = (uint64_t *)out;
	for (size_t i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

uint64_t virtio_blk_capacity(const struct virtio_blk *b)
{
	return b->capacity;
}

const char *virtio_blk_engine(const struct virtio_blk *b)
{
	return blk_io_engine_name(b->io);
}

/* --- run-time update (API PATCH /drives) --------------------------------- */

struct blk_update {
	struct virtio_blk *b;
	struct blk_io *io;		/* in: the new image (NULL: keep); out: the one to close */
	bool refresh;			/* same image, resized in place: re-read its size */
	const char *path;
	const struct skiff_rate_limit_update *rl;
	struct skiff_err *e;
	int err;
};

static int update_limiter(struct virtio_blk *b, const struct skiff_rate_limit_update *u,
			  struct skiff_err *e)
{
	int r = rl_update(&b->rl, u, rl_now_ns(), e);
	if (r || !b->active || b->rl_watched || b->rl.timer_fd < 0)
		return r;
	/* a limiter that had no timer has one now */
	r = evloop_add(b->host->loop, b->rl.timer_fd, EPOLLIN, rl_event, b);
	if (r)
		return skiff_fail(e, -r, "virtio-blk %s: rate limiter: event loop: %s", b->path,
				  strerror(-r));
	b->rl_watched = true;
	return 0;
}

/* Switch to u->io: the requests in flight finish on the old image first
 * (their completions go back to the driver), then the old engine's eventfd
 * is replaced by the new one's. On failure nothing changed. */
static int swap_image(struct virtio_blk *b, struct blk_update *u)
{
	blk_io_drain(b->io);
	interrupt_if_needed(b);
	int efd = blk_io_event_fd(u->io);
	if (b->active && efd >= 0) {
		int r = evloop_add(b->host->loop, efd, EPOLLIN, io_event, b);
		if (r)
			return skiff_fail(u->e, -r, "virtio-blk %s: event loop: %s", u->path,
					  strerror(-r));
	}
	if (b->io_watched)
		evloop_del(b->host->loop, blk_io_event_fd(b->io));
	b->io_watched = b->active && efd >= 0;
	struct blk_io *old = b->io;
	b->io = u->io;
	u->io = old;
	b->waiting_io = false;		/* the new engine is empty */
	snprintf(b->path, sizeof(b->path), "%s", u->path);
	return 0;
}

/* On the I/O thread: nothing else touches the device meanwhile. */
static void do_update(void *opaque)
{
	struct blk_update *u = opaque;
	struct virtio_blk *b = u->b;
	if (u->rl && (u->err = update_limiter(b, u->rl, u->e)))
		return;
	if (u->refresh) {
		blk_io_drain(b->io);	/* nothing reads past a shrunk end */
		interrupt_if_needed(b);
		u->err = blk_io_refresh_size(b->io, u->e);
	} else if (u->io) {
		u->err = swap_image(b, u);
	}
	if (u->err || (!u->refresh && !u->io))
		return;
	/* §4.1.4.3 / §2.4.2: the new capacity, then a new generation and the
	 * configuration interrupt; under vd->lock so a driver reading the
	 * configuration sees the old generation or the new capacity. */
	pthread_mutex_lock(&b->vd.lock);
	b->capacity = blk_io_size(b->io) / BLK_IO_SECTOR;
	b->cfg.capacity = b->capacity;
	virtio_config_changed(&b->vd);
	pthread_mutex_unlock(&b->vd.lock);
	skiff_log(b->host->log, LOG_INFO, "virtio-blk %s: %llu sectors now", b->path,
		  (unsigned long long)b->capacity);
	if (b->active && !b->paused)
		process(b);		/* requests held while the old engine was full */
}

/* Is path the image b has open? (the same file; for block devices the same
 * device) */
static bool same_image(const struct virtio_blk *b, const char *path)
{
	struct stat st;
	uint64_t dev, ino;
	if (stat(path, &st) < 0)
		return false;
	blk_io_file_id(b->io, &dev, &ino);
	return S_ISBLK(st.st_mode) ? (uint64_t)st.st_rdev == dev && (uint64_t)st.st_ino == ino
				   : (uint64_t)st.st_dev == dev && (uint64_t)st.st_ino == ino;
}

int virtio_blk_update(struct virtio_blk *b, const char *path,
		      const struct skiff_rate_limit_update *rl, struct skiff_err *e)
{
	struct blk_update u = { .b = b, .path = path, .rl = rl, .e = e };
	if (path && same_image(b, path)) {
		u.refresh = true;	/* reopening would trip over our own flock */
	} else if (path) {
		/* Opened here, not on the I/O thread: open and flock may block. */
		struct blk_io_opts o = { .path = path, .read_only = b->ro, .direct = b->direct,
					 .engine = blk_io_is_uring(b->io) ? SKIFF_IO_URING
									   : SKIFF_IO_SYNC,
					 .log = b->host->log };
		int r = blk_io_open(&o, &u.io, e);
		if (r)
			return r;
		if (blk_io_block_size(u.io) != b->cfg.blk_size) {
			r = skiff_fail(e, EINVAL, "image %s: its O_DIRECT block size %u differs from "
				       "the current image's %u", path, blk_io_block_size(u.io),
				       b->cfg.blk_size);
			blk_io_close(u.io);
			return r;
		}
	}
	int r = evloop_call(b->host->loop, do_update, &u);
	if (r)
		skiff_fail(e, -r, "virtio-blk %s: I/O thread: %s", b->path, strerror(-r));
	else
		r = u.err;
	blk_io_close(u.io);	/* the old image, or the new one if the switch failed */
	return r;
}

void virtio_blk_file_id(const struct virtio_blk *b, uint64_t *dev, uint64_t *ino)
{
	blk_io_file_id(b->io, dev, ino);
}
