/* Tap backend (see net_backend.h): /dev/net/tun with IFF_TAP | IFF_NO_PI |
 * IFF_VNET_HDR, header size 12 (virtio 1.x, TUNSETVNETHDRSZ), non-blocking.
 *
 * The kernel takes the guest's virtio_net_hdr as it is on write (it
 * validates it again: virtio_net_hdr_to_skb), so HOST_TSO4/6 and CSUM
 * pass straight through. On read it produces partial checksums and GSO
 * frames only for the offloads enabled with TUNSETOFFLOAD, which follow
 * what the guest accepted (GUEST_CSUM, GUEST_TSO4/6, GUEST_ECN).
 *
 * Opening an absent interface creates it (needs CAP_NET_ADMIN; it goes
 * away when skiff closes it); an existing persistent tap can be attached
 * by its owner without privileges (`ip tuntap add NAME mode tap user U`).
 * A tap created multi_queue must be opened with IFF_MULTI_QUEUE: that is
 * what queue_pairs > 1 asks for. The device uses one queue pair for now,
 * so one queue is attached (the kernel then steers every flow to it). */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include "core/evloop.h"
#include "dev/net_backend.h"
#include "dev/virtio_net_hdr.h"

struct net_tap {
	struct net_backend be;		/* first: the ops get this */
	int fd;
	bool rx_on;			/* EPOLLIN watched */
	bool dead;			/* the interface went away: fd unregistered */
	bool multi_queue;
	char ifname[IFNAMSIZ];
};

static struct net_tap *to_tap(struct net_backend *be)
{
	return (struct net_tap *)be;
}

/* What the guest may ask of us on transmit, and take on receive, when the
 * kernel accepts the offloads (checked at open). */
#define TAP_OFFLOADS ((1ULL << VIRTIO_NET_F_CSUM) | (1ULL << VIRTIO_NET_F_GUEST_CSUM) | \
		      (1ULL << VIRTIO_NET_F_HOST_TSO4) | (1ULL << VIRTIO_NET_F_HOST_TSO6) | \
		      (1ULL << VIRTIO_NET_F_HOST_ECN) | (1ULL << VIRTIO_NET_F_GUEST_TSO4) | \
		      (1ULL << VIRTIO_NET_F_GUEST_TSO6) | (1ULL << VIRTIO_NET_F_GUEST_ECN))

static int tap_send(struct net_backend *be, const struct iovec *iov, int iovcnt)
{
	struct net_tap *t = to_tap(be);
	if (t->dead)
		return -EIO;
	ssize_t n = writev(t->fd, iov, iovcnt);
	if (n < 0)
		return -errno;
	return 0;
}

static ssize_t tap_recv(struct net_backend *be, void *buf, size_t len)
{
	struct net_tap *t = to_tap(be);
	if (t->dead)
		return -EIO;
	for (;;) {
		ssize_t n = read(t->fd, buf, len);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno == EWOULDBLOCK)
			return -EAGAIN;
		return -errno;
	}
}

static void tap_event(void *opaque, uint32_t events)
{
	struct net_tap *t = opaque;
	if (events & (EPOLLERR | EPOLLHUP)) {
		/* The interface was deleted under us (tun detached): the fd
		 * reports an error for ever, level-triggered. Stop watching;
		 * recv() now fails, which the device reports. */
		skiff_log(t->be.host.log, LOG_ERROR, "%s: tap '%s' went away", t->be.host.name, t->ifname);
		evloop_del(t->be.host.loop, t->fd);
		t->dead = true;
	}
	t->be.host.rx_ready(t->be.host.opaque);
}

static void tap_rx_enable(struct net_backend *be, bool on)
{
	struct net_tap *t = to_tap(be);
	if (t->dead || t->rx_on == on)
		return;
	if (evloop_mod(be->host.loop, t->fd, on ? EPOLLIN : 0) == 0)
		t->rx_on = on;
}

static unsigned tun_offload_flags(uint64_t f)
{
	unsigned fl = 0;
	if (f & (1ULL << VIRTIO_NET_F_GUEST_CSUM)) {
		fl |= TUN_F_CSUM;
		if (f & (1ULL << VIRTIO_NET_F_GUEST_TSO4))
			fl |= TUN_F_TSO4;
		if (f & (1ULL << VIRTIO_NET_F_GUEST_TSO6))
			fl |= TUN_F_TSO6;
		if ((f & (1ULL << VIRTIO_NET_F_GUEST_ECN)) && (fl & (TUN_F_TSO4 | TUN_F_TSO6)))
			fl |= TUN_F_TSO_ECN;
	}
	return fl;
}

static int tap_set_offloads(struct net_backend *be, uint64_t guest_features)
{
	struct net_tap *t = to_tap(be);
	if (ioctl(t->fd, TUNSETOFFLOAD, (unsigned long)tun_offload_flags(guest_features)) < 0)
		return -errno;
	return 0;
}

static void tap_destroy(struct net_backend *be)
{
	struct net_tap *t = to_tap(be);
	if (!t->dead)
		evloop_del(be->host.loop, t->fd);
	close(t->fd);
	free(t);
}

static const struct net_backend_ops tap_ops = {
	.send = tap_send,
	.recv = tap_recv,
	.rx_enable = tap_rx_enable,
	.set_offloads = tap_set_offloads,
	.destroy = tap_destroy,
};

/* Linux's dev_valid_name(), so the user hears why before the kernel says
 * "Invalid argument". */
static const char *bad_ifname(const char *n)
{
	if (!n || !*n)
		return "no interface name given";
	if (strlen(n) >= IFNAMSIZ)
		return "interface names have at most 15 characters";
	if (!strcmp(n, ".") || !strcmp(n, ".."))
		return "not a valid interface name";
	for (const char *p = n; *p; p++)
		if (*p == '/' || *p == ':' || *p == ' ' || (unsigned char)*p < 0x21 || *p == 0x7f)
			return "interface names cannot contain '/', ':' or white space";
	return NULL;
}

static int setiff_error(struct skiff_err *e, int err, const char *name, bool mq)
{
	switch (err) {
	case EPERM:
	case EACCES:
		return skiff_fail(e, err, "tap '%s': %s (needs CAP_NET_ADMIN, or a persistent tap "
				  "owned by this user: ip tuntap add %s mode tap user $USER%s)",
				  name, strerror(err), name, mq ? " multi_queue" : "");
	case EBUSY:
		return skiff_fail(e, err, "tap '%s': %s (attached by another process, or created %s "
				  "multi_queue: set queue_pairs to match)", name, strerror(err),
				  mq ? "without" : "with");
	case EINVAL:
		return skiff_fail(e, err, "tap '%s': %s (is it a tun rather than a tap device, or "
				  "was it created %s multi_queue?)", name, strerror(err),
				  mq ? "without" : "with");
	default:
		return skiff_fail(e, err, "tap '%s': TUNSETIFF: %s", name, strerror(err));
	}
}

int net_tap_open(const struct skiff_net_config *c, const struct net_backend_host *h,
		 struct net_backend **out, struct skiff_err *e)
{
	const char *why = bad_ifname(c->tap_name);
	if (why)
		return skiff_fail(e, EINVAL, "tap '%s': %s", c->tap_name ? c->tap_name : "", why);
	const char *name = c->tap_name;
	bool mq = c->queue_pairs > 1;

	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		int err = errno;
		return skiff_fail(e, err, "tap '%s': /dev/net/tun: %s%s", name, strerror(err),
				  err == ENOENT ? " (is the tun module loaded?)" : "");
	}
	unsigned int have = 0;
	if (ioctl(fd, TUNGETFEATURES, &have) < 0 || !(have & IFF_VNET_HDR) ||
	    (mq && !(have & IFF_MULTI_QUEUE))) {
		close(fd);
		return skiff_fail(e, ENOTSUP, "tap '%s': the kernel's tun driver lacks %s", name,
				  (have & IFF_VNET_HDR) ? "IFF_MULTI_QUEUE" : "IFF_VNET_HDR");
	}
	bool existed = if_nametoindex(name) != 0;

	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (mq ? IFF_MULTI_QUEUE : 0);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int err = errno;
		close(fd);
		return setiff_error(e, err, name, mq);
	}
	int hdr = VIRTIO_NET_HDR_LEN;
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0) {
		int err = errno;
		close(fd);
		return skiff_fail(e, err, "tap '%s': TUNSETVNETHDRSZ %d: %s", name, hdr, strerror(err));
	}

	struct net_tap *t = calloc(1, sizeof(*t));
	if (!t) {
		close(fd);
		return skiff_fail(e, ENOMEM, "tap '%s': out of memory", name);
	}
	t->fd = fd;
	t->multi_queue = mq;
	memcpy(t->ifname, ifr.ifr_name, IFNAMSIZ);
	t->ifname[IFNAMSIZ - 1] = '\0';
	t->be.ops = &tap_ops;
	t->be.kind = "tap";
	t->be.vnet_hdr = true;
	t->be.host = *h;
	/* Offer offloads only if this kernel takes them; start with none. */
	unsigned all = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
	if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)all) == 0)
		t->be.offloads = TAP_OFFLOADS;
	if (ioctl(fd, TUNSETOFFLOAD, 0UL) < 0) {
		int err = errno;
		close(fd);
		free(t);
		return skiff_fail(e, err, "tap '%s': TUNSETOFFLOAD: %s", name, strerror(err));
	}
	int r = evloop_add(h->loop, fd, 0, tap_event, t);
	if (r < 0) {
		close(fd);
		free(t);
		return skiff_fail(e, -r, "tap '%s': event loop: %s", name, strerror(-r));
	}
	if (!existed)
		skiff_log(h->log, LOG_INFO, "%s: created tap '%s' (it goes away when skiff exits)",
			  h->name, t->ifname);
	if (mq)
		skiff_log(h->log, LOG_WARN, "%s: tap '%s': multi-queue is not implemented yet; "
			  "using one queue pair of %u", h->name, t->ifname, c->queue_pairs);
	*out = &t->be;
	return 0;
}
