/* virtio devices, independent of the transport (virtio 1.2 §2, §3).
 *
 * A device model (block, net, vsock, rng) provides a struct virtio_ops and
 * embeds or points to a struct virtio_device; a transport (virtio_pci.h)
 * exposes it to the guest: feature negotiation, status, queue set-up,
 * notifications and interrupts. The device model never sees transport
 * registers; the transport never sees request formats.
 *
 * Threads: ops->queue_notify, ops->activate and ops->reset run on the VM's
 * I/O thread (evloop); configuration-space reads and writes run on a vCPU
 * thread under vd->lock. Device state that both touch takes vd->lock. */
#ifndef SKIFF_VIRTIO_H
#define SKIFF_VIRTIO_H
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "core/devhost.h"
#include "virtio/virtq.h"

#define VIRTIO_MAX_QUEUES	16

/* Device status bits (§2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE	1
#define VIRTIO_STATUS_DRIVER		2
#define VIRTIO_STATUS_DRIVER_OK		4
#define VIRTIO_STATUS_FEATURES_OK	8
#define VIRTIO_STATUS_NEEDS_RESET	64
#define VIRTIO_STATUS_FAILED		128

/* Device IDs (§5). */
#define VIRTIO_ID_NET		1
#define VIRTIO_ID_BLOCK		2
#define VIRTIO_ID_CONSOLE	3
#define VIRTIO_ID_RNG		4
#define VIRTIO_ID_VSOCK		19

struct virtio_device;

struct virtio_ops {
	const char *name;		/* "virtio-blk", for logs */
	uint32_t device_id;		/* VIRTIO_ID_* */
	uint16_t num_queues;		/* <= VIRTIO_MAX_QUEUES */
	uint16_t queue_max;		/* largest queue size offered (power of two) */
	/* The device's own feature bits; the transport adds VERSION_1,
	 * INDIRECT_DESC and EVENT_IDX. Read once at virtio_device_init. */
	uint64_t (*features)(struct virtio_device *vd);
	/* Device configuration space (§4.1.4.6): `len` bytes; reads copy from
	 * vd->config (under vd->lock), writes call config_write if set (bytes
	 * already bounds-checked against config_len). */
	void (*config_write)(struct virtio_device *vd, uint32_t off, const void *data, uint32_t len);
	/* DRIVER_OK was set: queues are set up (vd->vq[i].ready says which).
	 * Return 0, or -errno to fail the device (status gets NEEDS_RESET).
	 * After a successful activate the core calls queue_notify once for
	 * each ready queue (buffers the driver made available earlier). */
	int (*activate)(struct virtio_device *vd);
	/* The driver reset the device (or the VM is going away): stop all
	 * processing, drop in-flight state. Runs on the I/O thread. */
	void (*reset)(struct virtio_device *vd);
	/* The driver notified queue q (I/O thread). */
	void (*queue_notify)(struct virtio_device *vd, uint16_t q);
};

struct virtio_transport_ops {
	/* Interrupt the driver for queue q's used ring (already decided by
	 * virtq_should_notify), or for a configuration change (q = 0xffff). */
	void (*interrupt)(struct virtio_device *vd, uint16_t q);
};

struct virtio_device {
	const struct virtio_ops *ops;
	void *priv;				/* the device model */
	const struct dev_host *host;		/* the VM's services */
	pthread_mutex_t lock;
	uint64_t host_features;			/* offered */
	uint64_t driver_features;		/* accepted by the driver */
	uint8_t status;				/* §2.1 */
	uint8_t config_generation;
	uint8_t *config;			/* device config space, config_len bytes, owned by the device */
	uint32_t config_len;
	struct virtq vq[VIRTIO_MAX_QUEUES];
	bool broken;				/* NEEDS_RESET raised; queues ignored until reset */
	bool active;				/* activate succeeded, no reset since (I/O thread) */
	/* set by the transport */
	const struct virtio_transport_ops *tops;
	void *transport;
};

/* Fill vd from ops (host_features = ops->features() | transport bits);
 * queues start with size ops->queue_max and mem host->mem. priv is set
 * before ops->features is called. config (config_len bytes, <= 4096) is
 * owned by the caller. Returns 0 or -EINVAL (no ops, num_queues 0 or above
 * VIRTIO_MAX_QUEUES, queue_max not a power of two <= VIRTQ_MAX_SIZE, config
 * too large or NULL with a length). */
int virtio_device_init(struct virtio_device *vd, const struct virtio_ops *ops, void *priv,
		       const struct dev_host *host, uint8_t *config, uint32_t config_len);
void virtio_device_destroy(struct virtio_device *vd);
static inline bool virtio_has_feature(const struct virtio_device *vd, unsigned bit)
{
	return bit < 64 && (vd->driver_features >> bit) & 1;
}
/* After pushing used entries on queue q: interrupt the driver if
 * virtq_should_notify() says so. I/O thread. */
void virtio_queue_interrupt(struct virtio_device *vd, uint16_t q);
/* The driver misbehaved (or the backend failed fatally): log `why` once, set
 * DEVICE_NEEDS_RESET, send a configuration interrupt, ignore the queues
 * until the driver resets the device (§2.1.2). */
/* Any thread, with or without vd->lock held. */
void virtio_device_error(struct virtio_device *vd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Device config changed (e.g. capacity): bump generation, interrupt.
 * Change vd->config and call this under vd->lock, so that a driver reading
 * the configuration sees either the old generation or the new contents.
 * Lock-free itself (status and generation are atomics). */
void virtio_config_changed(struct virtio_device *vd);
/* Transport side: apply a status write (§2.1, §3.1.1): reset on 0, check
 * FEATURES_OK (accepted features a subset of the offered, VERSION_1
 * among them; else the bit stays clear), call ops->activate on DRIVER_OK
 * (via the I/O thread, evloop_call). Bits other than by reset never clear.
 * vCPU thread; the caller must not hold vd->lock. */
void virtio_set_status(struct virtio_device *vd, uint8_t status);
/* Transport side: full device reset (queues, features, status): runs
 * ops->reset on the I/O thread; when it returns no device callback runs
 * any more. Caller must not hold vd->lock. */
void virtio_device_reset(struct virtio_device *vd);
/* Transport side: the driver wrote queue_enable = 1 for queue q, whose
 * size and ring addresses are already in vd->vq[q]: check them
 * (virtq_activate) and mark the queue ready, on the I/O thread. Returns 0,
 * or -EINVAL (bad q, or rings not in RAM / misaligned: the device also gets
 * NEEDS_RESET). Caller must not hold vd->lock. */
int virtio_queue_enable(struct virtio_device *vd, uint16_t q);
/* Transport side, I/O thread: the driver notified queue q. Calls
 * ops->queue_notify if the device is active, not broken and q is ready;
 * otherwise the kick is dropped. */
void virtio_queue_kick(struct virtio_device *vd, uint16_t q);

#endif
