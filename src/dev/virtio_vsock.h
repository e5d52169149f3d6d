/* virtio-vsock in userspace (virtio 1.2 §5.10), stream sockets only, bridged
 * to AF_UNIX sockets on the host with Firecracker's convention
 * (Firecracker docs/vsock.md):
 *
 *  - host-initiated: skiff listens on `uds_path`; a host program connects,
 *    writes "CONNECT <port>\n", skiff sends REQUEST to guest port <port> and,
 *    once the guest answers RESPONSE, writes "OK <hostport>\n" (hostport: the
 *    source port skiff chose for the connection) and bridges bytes both ways.
 *    A guest RST (nothing listening), a bad line or a timeout closes the
 *    host connection instead.
 *  - guest-initiated: a REQUEST to the host (CID 2), port P, is connected to
 *    the AF_UNIX socket "<uds_path>_P"; if that fails the guest gets RST.
 *
 * Flow control is the spec's credit scheme (§5.10.6.3) in both directions:
 * skiff reads a host socket only while the guest has credit and RX buffers,
 * directly into those buffers; guest data the host socket cannot take yet is
 * kept in a per-connection buffer of VSOCK_CONN_BUF bytes, which is all the
 * credit skiff ever grants (a guest exceeding it gets RST). Connections per
 * device are limited to VSOCK_MAX_CONNS. Malformed or hostile packets are
 * answered with RST or dropped (see dev/vsock_hdr.h); a broken ring sets
 * DEVICE_NEEDS_RESET. A device reset closes every connection.
 *
 * Threads: all device work runs on the VM's I/O thread (host->loop); the
 * configuration space (guest_cid) is constant. */
#ifndef SKIFF_DEV_VIRTIO_VSOCK_H
#define SKIFF_DEV_VIRTIO_VSOCK_H
#include <stdint.h>
#include "core/devcfg.h"
#include "core/devhost.h"
#include "core/err.h"
#include "virtio/virtio.h"

#define VSOCK_MAX_CONNS		128		/* connections per device */
#define VSOCK_CONN_BUF		(256u * 1024)	/* buf_alloc we advertise, bytes */
#define VSOCK_QUEUE_SIZE	256
#define VSOCK_CONNECT_TIMEOUT_MS 5000		/* CONNECT line + guest RESPONSE */
#define VSOCK_CLOSE_TIMEOUT_MS	2000		/* flushing to the host after the guest closed */

/* Queue indices (§5.10.2). */
#define VSOCK_QUEUE_RX		0
#define VSOCK_QUEUE_TX		1
#define VSOCK_QUEUE_EVENT	2

struct virtio_vsock;

/* Counters (I/O thread; copy them with virtio_vsock_counters). */
struct virtio_vsock_counters {
	uint64_t conns_host;		/* host-initiated connections established */
	uint64_t conns_guest;		/* guest-initiated connections established */
	uint64_t conns_refused;		/* guest REQUESTs with no host listener, guest RSTs to CONNECT */
	uint64_t conns_over_limit;	/* refused: VSOCK_MAX_CONNS reached */
	uint64_t conns_timed_out;	/* CONNECT/RESPONSE or close flush took too long */
	uint64_t conns_open;		/* connections now (gauge) */
	uint64_t tx_packets, rx_packets;	/* guest->device, device->guest */
	uint64_t tx_bytes, rx_bytes;	/* payload bytes guest->host, host->guest */
	uint64_t rst_sent, rst_received;
	uint64_t bad_packets;		/* malformed, spoofed or out-of-state packets */
	uint64_t credit_violations;	/* guest sent more than its credit */
	uint64_t bad_connect_lines;	/* host clients with a malformed CONNECT line */
};

/* Create the device and start listening on cfg->uds_path (a stale socket
 * file there is removed; a live one, a non-socket file or a missing
 * directory is an error). cfg is copied; host (not owned) must provide mem
 * and loop and outlive the device. Returns 0 and *out, or -errno with a
 * message in *e (-EINVAL: bad CID or path, -EADDRINUSE, -ENOENT...). */
int virtio_vsock_create(const struct skiff_vsock_config *cfg, const struct dev_host *host,
			struct virtio_vsock **out, struct skiff_err *e);
/* The virtio device to hand to a transport. Owned by v. */
struct virtio_device *virtio_vsock_vdev(struct virtio_vsock *v);
/* Copy the counters (any thread: runs on the I/O thread). */
void virtio_vsock_counters(struct virtio_vsock *v, struct virtio_vsock_counters *out);
/* Close every connection and the listener, remove the socket file, free.
 * Destroy the transport first. v may be NULL. */
void virtio_vsock_destroy(struct virtio_vsock *v);

#endif
