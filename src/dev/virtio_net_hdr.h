/* The virtio-net packet header and the checks on it (virtio 1.2 §5.1.6),
 * as pure functions: no device state, no I/O, so they can be fuzzed
 * (tests/fuzz/fuzz_net_tx.c) and reasoned about on their own.
 *
 * Every frame crossing a virtio-net queue is prefixed by a 12-byte
 * struct virtio_net_hdr_v1 (VERSION_1: num_buffers is always present,
 * §5.1.6.1). All fields are little-endian, as the x86 host. */
#ifndef SKIFF_VIRTIO_NET_HDR_H
#define SKIFF_VIRTIO_NET_HDR_H
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Feature bits (virtio 1.2 §5.1.3). */
#define VIRTIO_NET_F_CSUM		0	/* device takes partial checksums */
#define VIRTIO_NET_F_GUEST_CSUM		1	/* driver takes partial checksums */
#define VIRTIO_NET_F_MTU		3
#define VIRTIO_NET_F_MAC		5
#define VIRTIO_NET_F_GUEST_TSO4		7
#define VIRTIO_NET_F_GUEST_TSO6		8
#define VIRTIO_NET_F_GUEST_ECN		9
#define VIRTIO_NET_F_GUEST_UFO		10
#define VIRTIO_NET_F_HOST_TSO4		11
#define VIRTIO_NET_F_HOST_TSO6		12
#define VIRTIO_NET_F_HOST_ECN		13
#define VIRTIO_NET_F_HOST_UFO		14
#define VIRTIO_NET_F_MRG_RXBUF		15
#define VIRTIO_NET_F_STATUS		16
#define VIRTIO_NET_F_CTRL_VQ		17
#define VIRTIO_NET_F_MQ			22

/* header flags and gso_type values (§5.1.6) */
#define VIRTIO_NET_HDR_F_NEEDS_CSUM	1
#define VIRTIO_NET_HDR_F_DATA_VALID	2
#define VIRTIO_NET_HDR_F_RSC_INFO	4
#define VIRTIO_NET_HDR_GSO_NONE		0
#define VIRTIO_NET_HDR_GSO_TCPV4	1
#define VIRTIO_NET_HDR_GSO_UDP		3
#define VIRTIO_NET_HDR_GSO_TCPV6	4
#define VIRTIO_NET_HDR_GSO_UDP_L4	5
#define VIRTIO_NET_HDR_GSO_ECN		0x80

#define VIRTIO_NET_HDR_LEN	12	/* sizeof(struct virtio_net_hdr_v1) */
#define NET_MIN_FRAME		14	/* an Ethernet header: anything shorter is no frame */
/* Largest Ethernet frame (after the header) we move in either direction:
 * a 64 KiB TSO/GSO frame with its Ethernet and VLAN headers (the same
 * bound as Firecracker's 65562-byte buffers, header included). */
#define NET_MAX_FRAME		65550

/* §5.1.6 struct virtio_net_hdr (with num_buffers: VERSION_1). */
struct virtio_net_hdr_v1 {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
};
_Static_assert(sizeof(struct virtio_net_hdr_v1) == VIRTIO_NET_HDR_LEN, "virtio_net_hdr is 12 bytes");

/* Why a transmitted chain was refused (NET_TX_OK: it was not). */
enum net_tx_verdict {
	NET_TX_OK = 0,
	NET_TX_SHORT_HDR,	/* fewer than 12 readable bytes */
	NET_TX_RUNT,		/* frame shorter than an Ethernet header (incl. empty) */
	NET_TX_TOO_BIG,		/* frame longer than NET_MAX_FRAME */
	NET_TX_BAD_FLAGS,	/* DATA_VALID/RSC_INFO/unknown bits, or NEEDS_CSUM without CSUM */
	NET_TX_BAD_CSUM,	/* csum_start/csum_offset outside the frame */
	NET_TX_BAD_GSO,		/* gso_type not negotiated or unknown, gso_size 0, no NEEDS_CSUM */
};

/* Parse a transmit chain's device-readable bytes (iov[0..niov), as the
 * virtqueue walker hands them: any split, any lengths) into a header and
 * a linear frame (§5.1.6.2). `features` are the negotiated virtio-net
 * feature bits (CSUM, HOST_TSO4/6, HOST_ECN, HOST_UFO decide what the
 * header may ask for). On NET_TX_OK, *hdr holds the header with
 * num_buffers zeroed, frame[0..*frame_len) the Ethernet frame
 * (NET_MIN_FRAME <= *frame_len <= NET_MAX_FRAME); `frame` must have room
 * for NET_MAX_FRAME bytes. On any other verdict *hdr, frame and *frame_len
 * are unspecified. Reads each guest byte once (the guest may change them
 * meanwhile: the checks apply to the copy). */
enum net_tx_verdict net_tx_parse(const struct iovec *iov, uint32_t niov, uint64_t features,
				 struct virtio_net_hdr_v1 *hdr, uint8_t *frame, size_t *frame_len);

/* Make a header that came from the host side (a tap's IFF_VNET_HDR read,
 * frame_len bytes following it) fit what the driver negotiated (§5.1.6.4):
 * DATA_VALID and NEEDS_CSUM only with GUEST_CSUM, a GSO type only with the
 * matching GUEST_TSO4/TSO6/UFO (and ECN with GUEST_ECN), num_buffers set.
 * Returns 0, or -EINVAL when the frame cannot be given to this driver
 * (a GSO frame it did not ask for, a checksum it must finish but cannot,
 * offsets outside the frame): drop it. */
int net_rx_hdr_fixup(struct virtio_net_hdr_v1 *hdr, size_t frame_len, uint64_t features,
		     uint16_t num_buffers);

/* A short name for a verdict ("short header"), for logs. */
const char *net_tx_verdict_str(enum net_tx_verdict v);

#endif
