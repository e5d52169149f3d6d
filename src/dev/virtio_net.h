/* virtio-net device (virtio 1.2 §5.1), transport-independent: one receive
 * and one transmit queue (queue 0 receiveq1, queue 1 transmitq1, §5.1.2),
 * a tap or user-mode (libslirp) backend (dev/net_backend.h).
 *
 * Features offered (§5.1.3): MAC, STATUS, MRG_RXBUF (the transport adds
 * VERSION_1, INDIRECT_DESC, EVENT_IDX); with a tap backend also CSUM,
 * GUEST_CSUM, HOST_TSO4/6, HOST_ECN, GUEST_TSO4/6, GUEST_ECN (the user-mode
 * backend does no offloads, so the guest checksums and segments itself).
 * No MQ/CTRL_VQ yet: max_virtqueue_pairs reads 1.
 *
 * Configuration space (§5.1.4): mac[6], status (LINK_UP), max_virtqueue_pairs
 * (1), mtu (1500, informational: F_MTU is not offered). Read-only.
 *
 * The guest is hostile: a malformed transmit chain (header shorter than 12
 * bytes, frame shorter than an Ethernet header or longer than 65550 bytes,
 * offloads it did not negotiate) is returned unsent and counted
 * (tx_dropped); a broken ring makes the device NEEDS_RESET
 * (virtio_device_error). A received frame that does not fit the guest's
 * buffers is dropped and counted (rx_dropped). With no receive buffers the
 * device stops reading the backend until the driver adds some (queue
 * notify); when throttled by a rate limiter it waits for the limiter's
 * timerfd. Nothing busy-waits; nothing is dropped without a counter.
 *
 * Threads: queue processing, activate and reset run on the VM's I/O thread
 * (dev_host.loop); counters may be read from any thread. */
#ifndef SKIFF_VIRTIO_NET_H
#define SKIFF_VIRTIO_NET_H
#include <stdint.h>
#include "core/devcfg.h"
#include "core/devhost.h"
#include "core/err.h"

struct virtio_net;
struct virtio_device;

#define VIRTIO_NET_RXQ		0
#define VIRTIO_NET_TXQ		1
#define VIRTIO_NET_QUEUE_SIZE	256	/* queue_max offered per queue */
#define VIRTIO_NET_S_LINK_UP	1	/* config status bit (§5.1.4) */
#define VIRTIO_NET_CONFIG_LEN	12	/* mac, status, max_virtqueue_pairs, mtu */

/* Counters since creation (not cleared by device reset). Frames/bytes count
 * Ethernet frames without the virtio-net header. */
struct virtio_net_stats {
	uint64_t rx_frames, rx_bytes;	/* delivered to the guest */
	uint64_t rx_dropped;		/* did not fit the guest's buffers, offloads it cannot
					 * take, or dropped by the backend's own queue */
	uint64_t rx_errors;		/* backend read errors */
	uint64_t rx_throttled;		/* times the rx rate limiter said wait */
	uint64_t tx_frames, tx_bytes;	/* handed to the backend */
	uint64_t tx_dropped;		/* malformed chains from the guest (not sent) */
	uint64_t tx_errors;		/* the backend refused a frame */
	uint64_t tx_throttled;		/* times the tx rate limiter said wait */
};

/* Create a device from c (copied; its strings need not outlive the call)
 * for the VM behind host (must outlive the device; host->mem and
 * host->loop are required). When c->has_mac is false the MAC is derived,
 * stably, from the backend: 52:54:00 and three bytes of a hash of the tap
 * name (or of "user"); a VM with several interfaces should rather fill
 * has_mac/mac with virtio_net_default_mac(index). Opens the backend (a tap
 * is created if absent and permitted). Returns 0 and *out, or -errno with
 * a message in *e (bad tap name, no permission, bad hostfwd...). */
int virtio_net_create(const struct skiff_net_config *c, const struct dev_host *host,
		      struct virtio_net **out, struct skiff_err *e);
/* The conventional locally administered MAC of the VM's index-th network
 * interface: 52:54:00:12:34:(0x56 + index). */
void virtio_net_default_mac(unsigned index, uint8_t mac[6]);
/* The virtio device to hand to a transport; owned by n. */
struct virtio_device *virtio_net_vdev(struct virtio_net *n);
/* Quiesce (reset on the I/O thread), close the backend, free. n may be NULL.
 * The transport must be gone or detached first. */
void virtio_net_destroy(struct virtio_net *n);
/* Copy the counters (any thread). */
void virtio_net_get_stats(const struct virtio_net *n, struct virtio_net_stats *out);
/* The guest MAC in use. */
void virtio_net_mac(const struct virtio_net *n, uint8_t mac[6]);
/* Firecracker's PATCH /network-interfaces: change the receive and/or
 * transmit rate limiter (NULL: keep) with rl_update, on the I/O thread
 * (evloop_call; not from its own callbacks; also while the VM is paused).
 * A direction held by its limiter is retried at once under the new limits.
 * 0, or -errno with a message in *e (rx may then be changed, tx not). */
int virtio_net_update_rate_limits(struct virtio_net *n, const struct skiff_rate_limit_update *rx,
				  const struct skiff_rate_limit_update *tx, struct skiff_err *e);

#endif
