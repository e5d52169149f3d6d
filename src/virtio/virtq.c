/* Split virtqueue walker (virtio 1.2 §2.7); the contract is in virtq.h.
 *
 * Ring layouts (little-endian, as the x86 host):
 *   descriptor table  16 * size bytes: addr u64, len u32, flags u16, next u16
 *   available ring    flags u16, idx u16, ring[size] u16, used_event u16
 *   used ring         flags u16, idx u16, ring[size] {id u32, len u32}, avail_event u16
 *
 * Host pointers come from gm_ptr() on every call (two compares), so a
 * struct virtq stays plain data. Every value read from the guest is read
 * once into a local and validated there: the guest may change the rings
 * under our feet, but never between our check and our use. */
#include <errno.h>
#include <string.h>
#include "virtio/virtq.h"

struct vdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};
_Static_assert(sizeof(struct vdesc) == 16, "virtq_desc is 16 bytes (§2.7.5)");

static bool valid_size(uint16_t size)
{
	return size && !(size & (size - 1)) && size <= VIRTQ_MAX_SIZE;
}

static uint64_t desc_bytes(uint16_t size) { return 16ULL * size; }
static uint64_t avail_bytes(uint16_t size) { return 6ULL + 2ULL * size; }
static uint64_t used_bytes(uint16_t size) { return 6ULL + 8ULL * size; }

/* avail[0] flags, avail[1] idx, avail[2 + i] ring, avail[2 + size] used_event */
static uint16_t *avail_ring(const struct virtq *q)
{
	return gm_ptr(q->mem, q->avail_gpa, avail_bytes(q->size));
}

/* used + 0 flags, +2 idx, +4 ring, +4 + 8 * size avail_event */
static uint8_t *used_ring(const struct virtq *q)
{
	return gm_ptr(q->mem, q->used_gpa, used_bytes(q->size));
}

static bool usable(const struct virtq *q)
{
	return q->ready && q->mem && q->size;
}

static void set_avail_event(const struct virtq *q, uint16_t v)
{
	uint8_t *used = used_ring(q);
	if (used)
		__atomic_store_n((uint16_t *)(used + 4 + 8 * (uint32_t)q->size), v, __ATOMIC_RELAXED);
}

int virtq_activate(struct virtq *q)
{
	if (!q->mem || !valid_size(q->size))
		return -EINVAL;
	if ((q->desc_gpa & 15) || (q->avail_gpa & 1) || (q->used_gpa & 3))
		return -EINVAL;
	if (!gm_ptr(q->mem, q->desc_gpa, desc_bytes(q->size)) ||
	    !avail_ring(q) || !used_ring(q))
		return -EINVAL;
	q->last_avail = 0;
	q->used_idx = 0;
	q->signalled_used = 0;
	q->signalled_used_valid = false;
	q->no_notify = false;
	return 0;
}

/* Append one buffer to the chain, enforcing readable-before-writable. */
static int add_seg(const struct virtq *q, struct virtq_chain *c, const struct vdesc *d)
{
	bool writable = d->flags & VIRTQ_DESC_F_WRITE;
	if (!writable && c->nin)
		return -EIO;		/* §2.7.4.2: readable after writable */
	if (!d->len)
		return 0;		/* nothing to transfer: no iovec */
	void *p = gm_ptr(q->mem, d->addr, d->len);
	if (!p || c->nout + c->nin >= VIRTQ_MAX_SEGS)
		return -EIO;
	uint64_t *total = writable ? &c->in_len : &c->out_len;
	/* §2.7.5: a chain is at most 2^32 bytes in total */
	if (*total + d->len > UINT32_MAX)
		return -EIO;
	*total += d->len;
	c->iov[c->nout + c->nin] = (struct iovec){ .iov_base = p, .iov_len = d->len };
	if (writable)
		c->nin++;
	else
		c->nout++;
	return 0;
}

/* Follow the chain from head (< q->size) through at most one indirect
 * table (§2.7.5.3). A table of n entries allows at most n steps: one more
 * means a loop. */
static int walk_chain(const struct virtq *q, uint16_t head, struct virtq_chain *c)
{
	const uint8_t *table = gm_ptr(q->mem, q->desc_gpa, desc_bytes(q->size));
	uint32_t tsize = q->size, idx = head, steps = 0;
	bool in_indirect = false;

	if (!table)
		return -EIO;
	c->nout = c->nin = 0;
	c->out_len = c->in_len = 0;
	for (;;) {
		if (idx >= tsize || ++steps > tsize)
			return -EIO;
		struct vdesc d;
		memcpy(&d, table + 16 * (uint64_t)idx, sizeof(d));
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			/* §2.7.5.3.1: only if negotiated, never nested, never
			 * with NEXT; the table holds len / 16 descriptors. */
			if (!q->indirect || in_indirect || (d.flags & VIRTQ_DESC_F_NEXT))
				return -EIO;
			if (!d.len || d.len % 16 || d.len / 16 > VIRTQ_MAX_SEGS)
				return -EIO;
			table = gm_ptr(q->mem, d.addr, d.len);
			if (!table)
				return -EIO;
			tsize = d.len / 16;
			idx = 0;
			steps = 0;
			in_indirect = true;
			continue;
		}
		int r = add_seg(q, c, &d);
		if (r)
			return r;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		idx = d.next;
	}
}

int virtq_pop(struct virtq *q, struct virtq_chain *c)
{
	if (!usable(q))
		return 0;
	uint16_t *avail = avail_ring(q);
	if (!avail)
		return -EIO;
	/* acquire: ring entries and descriptors are read after the index */
	uint16_t avail_idx = __atomic_load_n(&avail[1], __ATOMIC_ACQUIRE);
	uint16_t pending = (uint16_t)(avail_idx - q->last_avail);
	if (!pending) {
		if (!q->event_idx || q->no_notify)
			return 0;
		/* Ask for a kick at the next entry, then look again: either
		 * the driver sees our avail_event or we see its new idx. */
		set_avail_event(q, q->last_avail);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		avail_idx = __atomic_load_n(&avail[1], __ATOMIC_ACQUIRE);
		pending = (uint16_t)(avail_idx - q->last_avail);
		if (!pending)
			return 0;
	}
	if (pending > q->size)
		return -EIO;	/* §2.7.6: idx ran more than a ring ahead */
	uint16_t head = __atomic_load_n(&avail[2 + q->last_avail % q->size], __ATOMIC_RELAXED);
	if (head >= q->size)
		return -EIO;
	int r = walk_chain(q, head, c);
	if (r)
		return r;
	c->head = head;
	q->last_avail++;
	if (q->event_idx && !q->no_notify)
		set_avail_event(q, q->last_avail);
	return 1;
}

void virtq_unpop(struct virtq *q)
{
	q->last_avail--;
}

int virtq_push(struct virtq *q, uint16_t head, uint32_t written)
{
	if (!usable(q) || head >= q->size)
		return -EIO;
	uint8_t *used = used_ring(q);
	if (!used)
		return -EIO;
	uint32_t *elem = (uint32_t *)(used + 4 + 8 * (uint32_t)(q->used_idx % q->size));
	__atomic_store_n(&elem[0], (uint32_t)head, __ATOMIC_RELAXED);
	__atomic_store_n(&elem[1], written, __ATOMIC_RELAXED);
	q->used_idx++;
	/* release: the element is visible before the index (§2.7.8) */
	__atomic_store_n((uint16_t *)(used + 2), q->used_idx, __ATOMIC_RELEASE);
	return 0;
}

int virtq_push_n(struct virtq *q, const struct virtq_used *e, uint32_t n)
{
	if (!usable(q) || n > q->size)
		return -EIO;
	uint8_t *used = used_ring(q);
	if (!used)
		return -EIO;
	for (uint32_t i = 0; i < n; i++)
		if (e[i].head >= q->size)
			return -EIO;
	uint16_t idx = q->used_idx;
	for (uint32_t i = 0; i < n; i++, idx++) {
		uint32_t *elem = (uint32_t *)(used + 4 + 8 * (uint32_t)(idx % q->size));
		__atomic_store_n(&elem[0], (uint32_t)e[i].head, __ATOMIC_RELAXED);
		__atomic_store_n(&elem[1], e[i].len, __ATOMIC_RELAXED);
	}
	q->used_idx = idx;
	/* release: every element is visible before the index (§2.7.8) */
	__atomic_store_n((uint16_t *)(used + 2), q->used_idx, __ATOMIC_RELEASE);
	return 0;
}

/* §2.7.10: has the index passed `event` going from old to new? */
static bool need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

bool virtq_should_notify(struct virtq *q)
{
	if (!usable(q))
		return false;
	uint16_t *avail = avail_ring(q);
	if (!avail)
		return false;
	/* The used idx store must be visible before we read the driver's
	 * suppression state, or a driver going to sleep could be missed. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!q->event_idx)
		return !(__atomic_load_n(&avail[0], __ATOMIC_RELAXED) & VIRTQ_AVAIL_F_NO_INTERRUPT);
	uint16_t old = q->signalled_used, new_idx = q->used_idx;
	bool valid = q->signalled_used_valid;
	q->signalled_used = new_idx;
	q->signalled_used_valid = true;
	uint16_t event = __atomic_load_n(&avail[2 + q->size], __ATOMIC_RELAXED);
	return !valid || need_event(event, new_idx, old);
}

bool virtq_set_notify(struct virtq *q, bool enable)
{
	if (!usable(q))
		return false;
	q->no_notify = !enable;
	if (q->event_idx) {
		/* Suppression leaves avail_event behind: the driver only kicks
		 * when its index crosses it (§2.7.10). */
		if (enable)
			set_avail_event(q, q->last_avail);
	} else {
		uint8_t *used = used_ring(q);
		if (used)
			__atomic_store_n((uint16_t *)used, enable ? 0 : VIRTQ_USED_F_NO_NOTIFY,
					 __ATOMIC_RELAXED);
	}
	if (!enable)
		return false;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	uint16_t *avail = avail_ring(q);
	return avail && __atomic_load_n(&avail[1], __ATOMIC_ACQUIRE) != q->last_avail;
}

/* Copy between buf and iov[first, first + n) starting `off` bytes in. */
static uint64_t chain_copy(const struct virtq_chain *c, uint32_t first, uint32_t n, uint64_t off,
			   void *buf, uint64_t len, bool to_chain)
{
	uint64_t done = 0;
	if (first > VIRTQ_MAX_SEGS || n > VIRTQ_MAX_SEGS - first)
		return 0;
	for (uint32_t i = first; i < first + n && done < len; i++) {
		const struct iovec *v = &c->iov[i];
		if (off >= v->iov_len) {
			off -= v->iov_len;
			continue;
		}
		uint64_t k = v->iov_len - off;
		if (k > len - done)
			k = len - done;
		uint8_t *seg = (uint8_t *)v->iov_base + off;
		if (to_chain)
			memcpy(seg, (uint8_t *)buf + done, k);
		else
			memcpy((uint8_t *)buf + done, seg, k);
		done += k;
		off = 0;
	}
	return done;
}

uint64_t virtq_chain_read(const struct virtq_chain *c, uint64_t off, void *buf, uint64_t len)
{
	return chain_copy(c, 0, c->nout, off, buf, len, false);
}

uint64_t virtq_chain_write(const struct virtq_chain *c, uint64_t off, const void *buf, uint64_t len)
{
	return chain_copy(c, c->nout, c->nin, off, (void *)buf, len, true);
}
