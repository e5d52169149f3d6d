/* virtio-net header checks (see virtio_net_hdr.h; virtio 1.2 §5.1.6). */
#include <errno.h>
#include <string.h>
#include "dev/virtio_net_hdr.h"

static int has(uint64_t features, unsigned bit)
{
	return (features >> bit) & 1;
}

/* Copy up to len bytes starting `off` bytes into the iovecs; returns the
 * number copied. */
static size_t iov_copy(const struct iovec *iov, uint32_t niov, uint64_t off, void *buf, size_t len)
{
	size_t done = 0;
	for (uint32_t i = 0; i < niov && done < len; i++) {
		size_t l = iov[i].iov_len;
		if (off >= l) {
			off -= l;
			continue;
		}
		size_t k = l - off;
		if (k > len - done)
			k = len - done;
		memcpy((uint8_t *)buf + done, (const uint8_t *)iov[i].iov_base + off, k);
		done += k;
		off = 0;
	}
	return done;
}

/* §5.1.6.2: which GSO types the driver may send, given what it negotiated. */
static enum net_tx_verdict check_gso(const struct virtio_net_hdr_v1 *h, uint64_t f)
{
	uint8_t type = h->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
	if (type == VIRTIO_NET_HDR_GSO_NONE)
		return (h->gso_type & VIRTIO_NET_HDR_GSO_ECN) ? NET_TX_BAD_GSO : NET_TX_OK;
	switch (type) {
	case VIRTIO_NET_HDR_GSO_TCPV4:
		if (!has(f, VIRTIO_NET_F_HOST_TSO4))
			return NET_TX_BAD_GSO;
		break;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		if (!has(f, VIRTIO_NET_F_HOST_TSO6))
			return NET_TX_BAD_GSO;
		break;
	case VIRTIO_NET_HDR_GSO_UDP:
		if (!has(f, VIRTIO_NET_F_HOST_UFO))
			return NET_TX_BAD_GSO;
		break;
	default:
		return NET_TX_BAD_GSO;	/* UDP_L4 (HOST_USO) is never offered */
	}
	if ((h->gso_type & VIRTIO_NET_HDR_GSO_ECN) && !has(f, VIRTIO_NET_F_HOST_ECN))
		return NET_TX_BAD_GSO;
	/* "MUST also set NEEDS_CSUM and MUST set gso_size" */
	if (!(h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) || !h->gso_size)
		return NET_TX_BAD_GSO;
	return NET_TX_OK;
}

enum net_tx_verdict net_tx_parse(const struct iovec *iov, uint32_t niov, uint64_t features,
				 struct virtio_net_hdr_v1 *hdr, uint8_t *frame, size_t *frame_len)
{
	uint64_t total = 0;
	for (uint32_t i = 0; i < niov; i++)
		total += iov[i].iov_len;	/* <= 1024 * 4 GiB: no overflow */
	if (total < VIRTIO_NET_HDR_LEN)
		return NET_TX_SHORT_HDR;
	uint64_t len = total - VIRTIO_NET_HDR_LEN;
	if (len < NET_MIN_FRAME)
		return NET_TX_RUNT;
	if (len > NET_MAX_FRAME)
		return NET_TX_TOO_BIG;

	struct virtio_net_hdr_v1 h;
	iov_copy(iov, niov, 0, &h, sizeof(h));
	h.num_buffers = 0;		/* ignored on transmit */
	if (h.flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM)
		return NET_TX_BAD_FLAGS;	/* "MUST NOT set DATA_VALID and RSC_INFO" */
	if (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		if (!has(features, VIRTIO_NET_F_CSUM))
			return NET_TX_BAD_FLAGS;	/* "flags MUST be zero" without CSUM */
		/* the 16-bit checksum field lies inside the frame */
		if ((uint32_t)h.csum_start + h.csum_offset + 2 > len)
			return NET_TX_BAD_CSUM;
	}
	enum net_tx_verdict v = check_gso(&h, features);
	if (v != NET_TX_OK)
		return v;

	iov_copy(iov, niov, VIRTIO_NET_HDR_LEN, frame, (size_t)len);
	*hdr = h;
	*frame_len = (size_t)len;
	return NET_TX_OK;
}

int net_rx_hdr_fixup(struct virtio_net_hdr_v1 *h, size_t frame_len, uint64_t f, uint16_t num_buffers)
{
	h->num_buffers = num_buffers;
	h->flags &= VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID;
	if (!has(f, VIRTIO_NET_F_GUEST_CSUM)) {
		/* The frame's checksum is unfinished: this driver cannot take it. */
		if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
			return -EINVAL;
		h->flags = 0;	/* DATA_VALID is a hint; without it the guest checks */
	}
	if ((h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
	    (uint32_t)h->csum_start + h->csum_offset + 2 > frame_len)
		return -EINVAL;

	uint8_t type = h->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
	int ok;
	switch (type) {
	case VIRTIO_NET_HDR_GSO_NONE:
		h->gso_type = VIRTIO_NET_HDR_GSO_NONE;
		h->gso_size = 0;
		return 0;
	case VIRTIO_NET_HDR_GSO_TCPV4:
		ok = has(f, VIRTIO_NET_F_GUEST_TSO4);
		break;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		ok = has(f, VIRTIO_NET_F_GUEST_TSO6);
		break;
	case VIRTIO_NET_HDR_GSO_UDP:
		ok = has(f, VIRTIO_NET_F_GUEST_UFO);
		break;
	default:
		ok = 0;
		break;
	}
	if ((h->gso_type & VIRTIO_NET_HDR_GSO_ECN) && !has(f, VIRTIO_NET_F_GUEST_ECN))
		ok = 0;
	return ok ? 0 : -EINVAL;
}

const char *net_tx_verdict_str(enum net_tx_verdict v)
{
	switch (v) {
	case NET_TX_OK: return "ok";
	case NET_TX_SHORT_HDR: return "chain shorter than the 12-byte header";
	case NET_TX_RUNT: return "frame shorter than an Ethernet header";
	case NET_TX_TOO_BIG: return "frame larger than 65550 bytes";
	case NET_TX_BAD_FLAGS: return "header flags not allowed";
	case NET_TX_BAD_CSUM: return "checksum offsets outside the frame";
	case NET_TX_BAD_GSO: return "segmentation offload not negotiated or malformed";
	}
	return "?";
}
