/* Test helper: plays a virtio driver against a device model, the way a
 * transport would drive it (virtio/virtio.h transport side), on real guest
 * RAM and a real, running event loop. Header-only; used by
 * test_virtio_rng.c and test_virtio_vsock.c.
 *
 *   vdrv_init()        guest RAM, evloop thread, a dev_host, fake transport
 *   vdrv_start()       status ACK|DRIVER, features, FEATURES_OK, queues, DRIVER_OK
 *   vdrv_add()         put a descriptor chain on a queue and kick it (on the
 *                      loop thread, as an ioeventfd would)
 *   vdrv_wait_used()   wait (bounded) for the device to return a chain
 *
 * Split rings (virtio 1.2 §2.7) laid by hand: queue q's descriptor table at
 * RING_BASE + q * RING_STRIDE, avail ring 4 KiB after, used ring 8 KiB
 * after. Buffers come from a bump allocator above BUF_BASE. */
#ifndef SKIFF_TEST_VDRV_H
#define SKIFF_TEST_VDRV_H
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include "core/evloop.h"
#include "core/guest_mem.h"
#include "virtio/virtio.h"

#define VDRV_RAM	(8u << 20)
#define VDRV_QSZ	128
#define RING_BASE	0x10000
#define RING_STRIDE	0x4000
#define BUF_BASE	0x100000

struct vdrv_q {
	uint64_t desc, avail, used;	/* GPAs */
	uint16_t next_desc;		/* descriptors used round-robin */
	uint16_t avail_idx;
	uint16_t used_seen;		/* used entries consumed by the test */
};

struct vdrv {
	struct guest_mem gm;
	struct evloop *loop;
	struct skiff_log log;
	struct dev_host host;
	struct virtio_transport_ops tops;
	struct virtio_device *vd;
	struct vdrv_q q[VIRTIO_MAX_QUEUES];
	uint64_t bump;			/* next free buffer GPA */
	unsigned irqs[VIRTIO_MAX_QUEUES];	/* queue interrupts (loop thread) */
	unsigned config_irqs;
	int set_irq_calls;
	pthread_mutex_t lock;		/* irqs, config_irqs */
};

static void vdrv_interrupt(struct virtio_device *vd, uint16_t q)
{
	struct vdrv *d = vd->transport;
	pthread_mutex_lock(&d->lock);
	if (q == 0xffff)
		d->config_irqs++;
	else if (q < VIRTIO_MAX_QUEUES)
		d->irqs[q]++;
	pthread_mutex_unlock(&d->lock);
}

static void vdrv_set_irq(void *ctx, uint32_t gsi, int level)
{
	struct vdrv *d = ctx;
	(void)gsi;
	(void)level;
	d->set_irq_calls++;
}

static void vdrv_stop(void *ctx, enum vm_stop_reason why, int code)
{
	(void)ctx;
	(void)why;
	(void)code;
}

/* RAM, loop (running) and host; 0 or -errno. */
static inline int vdrv_init(struct vdrv *d)
{
	memset(d, 0, sizeof(*d));
	pthread_mutex_init(&d->lock, NULL);
	int r = gm_init(&d->gm, VDRV_RAM);
	if (r)
		return r;
	if ((r = evloop_create(&d->loop, NULL)) || (r = evloop_start(d->loop)))
		return r;
	d->log.level = LOG_ERROR;
	d->host = (struct dev_host){ .ctx = d, .set_irq = vdrv_set_irq, .request_stop = vdrv_stop,
				     .log = &d->log, .mem = &d->gm, .loop = d->loop };
	d->tops.interrupt = vdrv_interrupt;
	d->bump = BUF_BASE;
	return 0;
}

static inline void vdrv_fini(struct vdrv *d)
{
	evloop_destroy(d->loop);
	gm_destroy(&d->gm);
	pthread_mutex_destroy(&d->lock);
}

static inline uint8_t vdrv_status(struct vdrv *d)
{
	return __atomic_load_n(&d->vd->status, __ATOMIC_ACQUIRE);
}

/* Negotiate `features` (VERSION_1 added), set up nq queues, DRIVER_OK. */
static inline int vdrv_start(struct vdrv *d, struct virtio_device *vd, uint64_t features,
			     unsigned nq)
{
	d->vd = vd;
	vd->tops = &d->tops;
	vd->transport = d;
	virtio_set_status(vd, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	vd->driver_features = features | (1ull << VIRTIO_F_VERSION_1);
	virtio_set_status(vd, VIRTIO_STATUS_FEATURES_OK);
	if (!(vdrv_status(d) & VIRTIO_STATUS_FEATURES_OK))
		return -EINVAL;
	for (unsigned i = 0; i < nq; i++) {
		struct vdrv_q *q = &d->q[i];
		memset(q, 0, sizeof(*q));
		q->desc = RING_BASE + (uint64_t)i * RING_STRIDE;
		q->avail = q->desc + 0x1000;
		q->used = q->desc + 0x2000;
		memset(gm_ptr(&d->gm, q->desc, RING_STRIDE), 0, RING_STRIDE);
		vd->vq[i].size = VDRV_QSZ;
		vd->vq[i].desc_gpa = q->desc;
		vd->vq[i].avail_gpa = q->avail;
		vd->vq[i].used_gpa = q->used;
		int r = virtio_queue_enable(vd, (uint16_t)i);
		if (r)
			return r;
	}
	virtio_set_status(vd, VIRTIO_STATUS_DRIVER_OK);
	return vdrv_status(d) & VIRTIO_STATUS_NEEDS_RESET ? -EIO : 0;
}

/* A buffer of len bytes in guest RAM (zeroed); returns its GPA. */
static inline uint64_t vdrv_alloc(struct vdrv *d, uint32_t len)
{
	uint64_t gpa = d->bump;
	d->bump = (d->bump + len + 63) & ~63ull;
	if (d->bump > VDRV_RAM)
		return 0;
	memset(gm_ptr(&d->gm, gpa, len), 0, len);
	return gpa;
}

static inline void *vdrv_ptr(struct vdrv *d, uint64_t gpa, uint32_t len)
{
	return gm_ptr(&d->gm, gpa, len);
}

struct vdrv_buf {
	uint64_t gpa;
	uint32_t len;
	bool write;		/* device-writable */
};

struct vdrv_kick {
	struct virtio_device *vd;
	uint16_t q;
};

static void vdrv_kick_fn(void *opaque)
{
	struct vdrv_kick *k = opaque;
	virtio_queue_kick(k->vd, k->q);
}

/* Notify queue q on the loop thread (what the ioeventfd does). */
static inline void vdrv_kick(struct vdrv *d, uint16_t q)
{
	struct vdrv_kick k = { d->vd, q };
	evloop_call(d->loop, vdrv_kick_fn, &k);
}

/* Make the chain bufs[0..n) available on queue qi (no kick). Returns the
 * head descriptor index. */
static inline uint16_t vdrv_post(struct vdrv *d, uint16_t qi, const struct vdrv_buf *bufs,
				 unsigned n)
{
	struct vdrv_q *q = &d->q[qi];
	uint16_t head = q->next_desc;
	for (unsigned i = 0; i < n; i++) {
		uint16_t idx = (uint16_t)((head + i) % VDRV_QSZ);
		uint16_t next = (uint16_t)((idx + 1) % VDRV_QSZ);
		uint16_t flags = (uint16_t)((bufs[i].write ? VIRTQ_DESC_F_WRITE : 0) |
					    (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
		uint8_t *p = gm_ptr(&d->gm, q->desc + 16ull * idx, 16);
		memcpy(p, &bufs[i].gpa, 8);
		memcpy(p + 8, &bufs[i].len, 4);
		memcpy(p + 12, &flags, 2);
		memcpy(p + 14, &next, 2);
	}
	q->next_desc = (uint16_t)((head + n) % VDRV_QSZ);
	uint16_t *ring = gm_ptr(&d->gm, q->avail + 4 + 2ull * (q->avail_idx % VDRV_QSZ), 2);
	*ring = head;
	q->avail_idx++;
	__atomic_store_n((uint16_t *)gm_ptr(&d->gm, q->avail + 2, 2), q->avail_idx,
			 __ATOMIC_RELEASE);
	return head;
}

static inline uint16_t vdrv_add(struct vdrv *d, uint16_t qi, const struct vdrv_buf *bufs,
				unsigned n)
{
	uint16_t head = vdrv_post(d, qi, bufs, n);
	vdrv_kick(d, qi);
	return head;
}

static inline uint16_t vdrv_used_idx(struct vdrv *d, uint16_t qi)
{
	return __atomic_load_n((uint16_t *)gm_ptr(&d->gm, d->q[qi].used + 2, 2), __ATOMIC_ACQUIRE);
}

static inline uint64_t vdrv_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Take the next used entry of queue qi, waiting up to timeout_ms. true and
 * *id, *len if one came. */
static inline bool vdrv_wait_used(struct vdrv *d, uint16_t qi, uint32_t *id, uint32_t *len,
				  unsigned timeout_ms)
{
	struct vdrv_q *q = &d->q[qi];
	uint64_t end = vdrv_now_ms() + timeout_ms;
	while (vdrv_used_idx(d, qi) == q->used_seen) {
		if (vdrv_now_ms() >= end)
			return false;
		poll(NULL, 0, 1);
	}
	const uint8_t *e = gm_ptr(&d->gm, q->used + 4 + 8ull * (q->used_seen % VDRV_QSZ), 8);
	uint32_t i, l;
	memcpy(&i, e, 4);
	memcpy(&l, e + 4, 4);
	if (id)
		*id = i;
	if (len)
		*len = l;
	q->used_seen++;
	return true;
}

/* GPA of descriptor `id` of queue qi (the head of a used chain). */
static inline uint64_t vdrv_desc_addr(struct vdrv *d, uint16_t qi, uint32_t id)
{
	uint64_t a;
	memcpy(&a, gm_ptr(&d->gm, d->q[qi].desc + 16ull * (id % VDRV_QSZ), 8), 8);
	return a;
}

static inline unsigned vdrv_irqs(struct vdrv *d, uint16_t q)
{
	pthread_mutex_lock(&d->lock);
	unsigned n = q == 0xffff ? d->config_irqs : d->irqs[q];
	pthread_mutex_unlock(&d->lock);
	return n;
}

#endif
