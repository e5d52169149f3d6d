/* Split virtqueues (virtio 1.2 §2.7): the one walker every device uses.
 *
 * The guest is hostile. Every ring index, descriptor index, address and
 * length read from guest memory is checked here, through gm_ptr(), with
 * overflow-safe arithmetic; a chain longer than the queue (or than
 * VIRTQ_MAX_SEGS), a loop, a nested indirect table, an address outside RAM
 * or a zero-length indirect table makes virtq_pop() return -EIO, and the
 * device then sets DEVICE_NEEDS_RESET (virtio_device_error()). Nothing here
 * can crash or read outside guest RAM.
 *
 * Memory ordering: the avail index is read with acquire semantics before the
 * ring entries; used entries are written before the used index is published
 * with release semantics (§2.7.13). A virtq is used by one thread at a time
 * (the device's queue processing, on the I/O thread). */
#ifndef SKIFF_VIRTQ_H
#define SKIFF_VIRTQ_H
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>
#include "core/guest_mem.h"

#define VIRTQ_MAX_SIZE	32768	/* §2.7: queue size is at most 32768 */
#define VIRTQ_MAX_SEGS	1024	/* descriptors per chain we accept (incl. indirect) */

/* Feature bits the walker understands (virtio 1.2 §6). */
#define VIRTIO_F_INDIRECT_DESC	28
#define VIRTIO_F_EVENT_IDX	29
#define VIRTIO_F_VERSION_1	32

/* Ring flags (§2.7.5, §2.7.6, §2.7.8). */
#define VIRTQ_DESC_F_NEXT		1
#define VIRTQ_DESC_F_WRITE		2
#define VIRTQ_DESC_F_INDIRECT		4
#define VIRTQ_AVAIL_F_NO_INTERRUPT	1
#define VIRTQ_USED_F_NO_NOTIFY		1

struct virtq {
	/* Set by the transport from the driver's configuration. */
	uint16_t size;			/* entries, power of two, <= VIRTQ_MAX_SIZE */
	uint64_t desc_gpa, avail_gpa, used_gpa;	/* ring GPAs */
	bool ready;			/* queue_enable written 1 */
	bool event_idx;			/* VIRTIO_F_EVENT_IDX negotiated */
	bool indirect;			/* VIRTIO_F_INDIRECT_DESC negotiated */
	const struct guest_mem *mem;	/* not owned */
	/* Walker state (plain data: saved and restored with snapshots). */
	uint16_t last_avail;		/* next avail-ring slot to consume */
	uint16_t used_idx;		/* next used-ring slot to fill */
	uint16_t signalled_used;	/* used_idx at the last interrupt */
	bool signalled_used_valid;
	bool no_notify;			/* driver notifications suppressed (virtq_set_notify) */
};

/* One descriptor chain: the driver-written (device-readable) buffers first,
 * then the device-writable ones, as host iovecs into guest RAM. */
struct virtq_chain {
	uint16_t head;			/* descriptor index to hand to virtq_push() */
	uint32_t nout, nin;		/* iov[0..nout) readable, iov[nout..nout+nin) writable */
	uint64_t out_len, in_len;	/* total bytes of each kind */
	struct iovec iov[VIRTQ_MAX_SEGS];
};

/* Check the rings lie in guest RAM with the alignments of §2.7 (desc 16,
 * avail 2, used 4) and size is a power of two. 0 or -EINVAL. Called by the
 * transport when the driver enables the queue; resets walker state. */
int virtq_activate(struct virtq *q);

/* Take the next available chain. Returns 1 (chain in *c), 0 (queue empty or
 * not ready) or -EIO (the driver broke the rules; the device must stop
 * using the queue and report DEVICE_NEEDS_RESET). Zero-length buffers are
 * skipped (no iovec). With EVENT_IDX and notifications not suppressed, pop
 * keeps avail_event at last_avail, so a device that never calls
 * virtq_set_notify() still gets every kick it needs (like without
 * EVENT_IDX); a pop that finds the queue empty re-checks after a full
 * barrier, so popping until 0 loses no notification. */
int virtq_pop(struct virtq *q, struct virtq_chain *c);
/* Put a chain back so the next pop returns it again (e.g. a throttled
 * device). Only valid for the last popped chain. */
void virtq_unpop(struct virtq *q);
/* Return chain `head` with `written` bytes written into its writable part.
 * Returns 0 or -EIO (used ring not in RAM). */
int virtq_push(struct virtq *q, uint16_t head, uint32_t written);
/* One used-ring entry for virtq_push_n(). */
struct virtq_used {
	uint16_t head;		/* chain head from virtq_pop() */
	uint32_t len;		/* bytes written into the chain */
};
/* Return n chains and publish them with one used-index update, so a driver
 * polling the used ring sees all of them or none (virtio-net's merged
 * receive buffers, §5.1.6.4.2). n <= queue size. Returns 0 or -EIO (bad
 * head, n too large, used ring not in RAM); on -EIO nothing is published. */
int virtq_push_n(struct virtq *q, const struct virtq_used *e, uint32_t n);
/* After pushes: must the driver be interrupted (§2.7.10, used_event /
 * VIRTQ_AVAIL_F_NO_INTERRUPT)? Updates signalled_used when true. */
bool virtq_should_notify(struct virtq *q);
/* Suppress (enable=false) or request (true) driver notifications through
 * VIRTQ_USED_F_NO_NOTIFY or avail_event. enable=true returns true if more
 * chains arrived meanwhile (process again before sleeping). */
bool virtq_set_notify(struct virtq *q, bool enable);
/* Copy helpers over a chain's readable/writable iovecs, bounds-checked:
 * copy up to len bytes starting `off` bytes into that part. Return bytes
 * copied. */
uint64_t virtq_chain_read(const struct virtq_chain *c, uint64_t off, void *buf, uint64_t len);
uint64_t virtq_chain_write(const struct virtq_chain *c, uint64_t off, const void *buf, uint64_t len);

#endif
