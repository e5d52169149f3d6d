/* virtio-vsock packet header (virtio 1.2 §5.10.6): layout, constants, and the
 * one pure function that validates a header read from a guest TX buffer.
 *
 * Kept free of device state so that it can be fuzzed on its own
 * (tests/fuzz/fuzz_vsock.c). All fields are little-endian on the wire. */
#ifndef SKIFF_DEV_VSOCK_HDR_H
#define SKIFF_DEV_VSOCK_HDR_H
#include <stddef.h>
#include <stdint.h>

#define VSOCK_HDR_LEN		44		/* struct virtio_vsock_hdr, packed */
#define VSOCK_HOST_CID		2		/* VMADDR_CID_HOST */
#define VSOCK_MAX_PAYLOAD	(64u * 1024)	/* bytes per RW packet we accept or send */

/* Feature bits (§5.10.3). */
#define VIRTIO_VSOCK_F_STREAM		0
#define VIRTIO_VSOCK_F_SEQPACKET	1

/* type (§5.10.6) */
#define VSOCK_TYPE_STREAM	1
#define VSOCK_TYPE_SEQPACKET	2

/* op (§5.10.6) */
enum vsock_op {
	VSOCK_OP_INVALID = 0,
	VSOCK_OP_REQUEST = 1,
	VSOCK_OP_RESPONSE = 2,
	VSOCK_OP_RST = 3,
	VSOCK_OP_SHUTDOWN = 4,
	VSOCK_OP_RW = 5,
	VSOCK_OP_CREDIT_UPDATE = 6,
	VSOCK_OP_CREDIT_REQUEST = 7,
};

/* SHUTDOWN flags (§5.10.6.5) */
#define VSOCK_SHUTDOWN_RCV	1	/* the sender will receive no more */
#define VSOCK_SHUTDOWN_SEND	2	/* the sender will send no more */

/* Event queue (§5.10.6.6). */
#define VSOCK_EVENT_TRANSPORT_RESET	0

/* The header in host byte order. */
struct vsock_hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port;
	uint32_t len;			/* payload bytes after the header */
	uint16_t type, op;
	uint32_t flags;
	uint32_t buf_alloc;		/* sender's receive buffer, bytes */
	uint32_t fwd_cnt;		/* bytes the sender has consumed, free-running */
};

/* What vsock_hdr_parse() decided about a guest (TX) packet, in order of the
 * checks. The device's reaction is given for each. */
enum vsock_verdict {
	VSOCK_PKT_OK = 0,
	VSOCK_PKT_SHORT,	/* fewer than VSOCK_HDR_LEN bytes: drop, count */
	VSOCK_PKT_SPOOFED,	/* src_cid is not the guest's CID: drop, count */
	VSOCK_PKT_BAD_LEN,	/* len > VSOCK_MAX_PAYLOAD or beyond the chain: RST */
	VSOCK_PKT_BAD_DST,	/* dst_cid is not the host (2): drop, count */
	VSOCK_PKT_BAD_TYPE,	/* not VSOCK_TYPE_STREAM: RST */
	VSOCK_PKT_BAD_OP,	/* INVALID or unknown op: RST */
	VSOCK_PKT_BAD_PAYLOAD,	/* payload on a packet other than RW: RST */
};

/* Decode and check the header of a guest TX packet.
 * buf/buflen: the first bytes of the chain's readable part (at most
 * VSOCK_HDR_LEN are looked at); readable: the chain's total readable bytes
 * (header included); guest_cid: the device's configured CID. Fills *out
 * whenever buflen >= VSOCK_HDR_LEN (also on rejection, so the caller can
 * address an RST), and returns a verdict. Pure: no state, no allocation. */
enum vsock_verdict vsock_hdr_parse(const void *buf, size_t buflen, uint64_t readable,
				   uint64_t guest_cid, struct vsock_hdr *out);

/* Encode h into the 44-byte wire format. */
void vsock_hdr_encode(const struct vsock_hdr *h, uint8_t out[VSOCK_HDR_LEN]);

/* A short name for a verdict, for logs. */
const char *vsock_verdict_str(enum vsock_verdict v);

#endif
