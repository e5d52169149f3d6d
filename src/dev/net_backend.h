/* Network backends: where a virtio-net device's frames go on the host.
 *
 *   tap   (net_tap.c)    a Linux tap interface, /dev/net/tun with
 *                        IFF_VNET_HDR: checksum and TCP segmentation
 *                        offload pass through in the virtio-net header.
 *   user  (net_slirp.c)  libslirp user-mode networking (no privileges):
 *                        10.0.2.0/24, gateway 10.0.2.2, DNS 10.0.2.3,
 *                        DHCP from 10.0.2.15, host port forwarding.
 *
 * A frame is a whole Ethernet frame without FCS. With be->vnet_hdr it is
 * preceded by a 12-byte struct virtio_net_hdr_v1 (dev/virtio_net_hdr.h) in
 * both directions; without, it is the bare frame and the backend does no
 * offloads (the device then offers none to the guest).
 *
 * Receive is pull-based: the backend calls rx_ready on the I/O thread when
 * frames may be waiting, and the device takes them with recv() until it
 * returns -EAGAIN. A device that cannot take more (no guest buffers,
 * throttled) calls rx_enable(false): the backend then stops watching its
 * host side (no busy loop) until rx_enable(true).
 *
 * Threads: send, recv, rx_enable, set_offloads and the rx_ready callback
 * run on the VM's I/O thread (evloop). open and destroy run on any thread
 * while the I/O thread does not use the backend (destroy unregisters from
 * the loop first). */
#ifndef SKIFF_NET_BACKEND_H
#define SKIFF_NET_BACKEND_H
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include "core/devcfg.h"
#include "core/err.h"
#include "core/log.h"

struct evloop;
struct net_backend;

/* Frames may be waiting: call recv() until -EAGAIN. I/O thread. */
typedef void (*net_rx_ready_fn)(void *opaque);

/* What a backend needs from its device; all pointers outlive the backend. */
struct net_backend_host {
	struct evloop *loop;		/* the VM's I/O loop */
	const struct skiff_log *log;
	net_rx_ready_fn rx_ready;
	void *opaque;			/* passed to rx_ready */
	const char *name;		/* for messages: "net0" */
};

struct net_backend_ops {
	/* Send one frame (header first when vnet_hdr), iovcnt >= 1.
	 * Returns 0, or -errno (the frame is lost; -EAGAIN: host queue full). */
	int (*send)(struct net_backend *be, const struct iovec *iov, int iovcnt);
	/* Copy the next frame (header first when vnet_hdr) into buf (len
	 * bytes). Returns its length, -EAGAIN when none is waiting, -EMSGSIZE
	 * when it was longer than len (it is dropped), or another -errno
	 * (the backend failed). */
	ssize_t (*recv)(struct net_backend *be, void *buf, size_t len);
	/* Watch the host side for incoming frames (true) or stop (false). */
	void (*rx_enable)(struct net_backend *be, bool on);
	/* The driver accepted these virtio-net features: tell the host side
	 * which offloads the guest takes on receive (GUEST_CSUM, GUEST_TSO4/6,
	 * GUEST_ECN, GUEST_UFO). Returns 0 or -errno. May be NULL. */
	int (*set_offloads)(struct net_backend *be, uint64_t guest_features);
	/* Unregister from the loop, close, free. */
	void (*destroy)(struct net_backend *be);
};

struct net_backend {
	const struct net_backend_ops *ops;
	const char *kind;		/* "tap" or "user" */
	bool vnet_hdr;			/* frames carry a virtio_net_hdr_v1 */
	uint64_t offloads;		/* VIRTIO_NET_F_* offload bits the backend honours */
	struct net_backend_host host;
	uint64_t dropped;		/* frames the backend dropped itself (queue full) */
};

/* Open a tap backend (c->kind == SKIFF_NET_TAP) or a user-mode one
 * (SKIFF_NET_USER) with receive disabled. Returns 0 and *out (owned by the
 * caller, release with net_backend_destroy), or -errno with a message that
 * names the interface and what to do ("tap 'tap0': Operation not permitted
 * (needs CAP_NET_ADMIN)"). */
int net_tap_open(const struct skiff_net_config *c, const struct net_backend_host *h,
		 struct net_backend **out, struct skiff_err *e);
int net_slirp_open(const struct skiff_net_config *c, const struct net_backend_host *h,
		   struct net_backend **out, struct skiff_err *e);

static inline int net_backend_open(const struct skiff_net_config *c, const struct net_backend_host *h,
				   struct net_backend **out, struct skiff_err *e)
{
	switch (c->kind) {
	case SKIFF_NET_TAP:
		return net_tap_open(c, h, out, e);
	case SKIFF_NET_USER:
		return net_slirp_open(c, h, out, e);
	}
	return skiff_fail(e, EINVAL, "%s: unknown network backend kind %d", h->name, (int)c->kind);
}

static inline void net_backend_destroy(struct net_backend *be)
{
	if (be)
		be->ops->destroy(be);
}

#endif
