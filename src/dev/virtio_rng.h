/* virtio-rng, the entropy device (virtio 1.2 §5.4): one request queue; each
 * buffer the driver offers is filled from the host's getrandom(2).
 *
 * At most VIRTIO_RNG_MAX_REQ bytes are written per buffer (§5.4.6.1 lets the
 * device use less than the whole buffer), so one hostile request cannot keep
 * the I/O thread busy for long. An optional rate limit (Firecracker's entropy
 * device RateLimiter: bytes and requests) makes the device stop taking
 * buffers until the limiter's timer fires. A buffer the device may only read
 * is a driver error (§5.4.6.2): DEVICE_NEEDS_RESET.
 *
 * Threads: everything runs on the VM's I/O thread (host->loop). */
#ifndef SKIFF_DEV_VIRTIO_RNG_H
#define SKIFF_DEV_VIRTIO_RNG_H
#include <stdint.h>
#include "core/devcfg.h"
#include "core/devhost.h"
#include "core/err.h"
#include "virtio/virtio.h"

#define VIRTIO_RNG_MAX_REQ	(64u * 1024)	/* bytes written per buffer, at most */
#define VIRTIO_RNG_QUEUE_SIZE	256

struct virtio_rng;

/* Counters, updated on the I/O thread (read them with virtio_rng_counters). */
struct virtio_rng_counters {
	uint64_t requests;	/* buffers completed */
	uint64_t bytes;		/* random bytes written to the guest */
	uint64_t throttled;	/* times the rate limit made the device wait */
	uint64_t errors;	/* driver errors (NEEDS_RESET) and getrandom failures */
};

/* Create the device. host (not owned) must provide mem and loop and outlive
 * the device. Returns 0 and *out, or -errno with a message in *e. */
int virtio_rng_create(const struct dev_host *host, struct virtio_rng **out, struct skiff_err *e);
/* Limit the entropy handed out (bytes and requests; an all-zero limit means
 * none). Call before the guest activates the device. 0 or -errno (message in *e). */
int virtio_rng_set_rate_limit(struct virtio_rng *r, const struct skiff_rate_limit *rl,
			      struct skiff_err *e);
/* The virtio device to hand to a transport (virtio_pci_create). Owned by r. */
struct virtio_device *virtio_rng_vdev(struct virtio_rng *r);
/* Copy the counters (safe from any thread: runs on the I/O thread). */
void virtio_rng_counters(struct virtio_rng *r, struct virtio_rng_counters *out);
/* Quiesce (on the I/O thread) and free; r may be NULL. Destroy the transport
 * first. */
void virtio_rng_destroy(struct virtio_rng *r);

#endif
