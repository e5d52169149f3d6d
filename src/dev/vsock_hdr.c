/* virtio-vsock header decoding and validation (virtio 1.2 §5.10.6). */
#include <string.h>
#include "dev/vsock_hdr.h"

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)get16(p) | (uint32_t)get16(p + 2) << 16; }
static uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32; }
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v); put16(p + 2, (uint16_t)(v >> 16)); }
static void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)v); put32(p + 4, (uint32_t)(v >> 32)); }

/* Wire offsets of struct virtio_vsock_hdr (packed). */
enum { O_SRC_CID = 0, O_DST_CID = 8, O_SRC_PORT = 16, O_DST_PORT = 20, O_LEN = 24,
       O_TYPE = 28, O_OP = 30, O_FLAGS = 32, O_BUF_ALLOC = 36, O_FWD_CNT = 40 };

enum vsock_verdict vsock_hdr_parse(const void *buf, size_t buflen, uint64_t readable,
				   uint64_t guest_cid, struct vsock_hdr *out)
{
	const uint8_t *p = buf;
	if (!buf || buflen < VSOCK_HDR_LEN || readable < VSOCK_HDR_LEN)
		return VSOCK_PKT_SHORT;
	out->src_cid = get64(p + O_SRC_CID);
	out->dst_cid = get64(p + O_DST_CID);
	out->src_port = get32(p + O_SRC_PORT);
	out->dst_port = get32(p + O_DST_PORT);
	out->len = get32(p + O_LEN);
	out->type = get16(p + O_TYPE);
	out->op = get16(p + O_OP);
	out->flags = get32(p + O_FLAGS);
	out->buf_alloc = get32(p + O_BUF_ALLOC);
	out->fwd_cnt = get32(p + O_FWD_CNT);

	/* A packet claiming another source is never answered (§5.10.6.1: the
	 * driver uses its own CID; the upper 32 bits are reserved, zero). */
	if (out->src_cid != guest_cid)
		return VSOCK_PKT_SPOOFED;
	if (out->len > VSOCK_MAX_PAYLOAD || out->len > readable - VSOCK_HDR_LEN)
		return VSOCK_PKT_BAD_LEN;
	if (out->dst_cid != VSOCK_HOST_CID)
		return VSOCK_PKT_BAD_DST;
	if (out->type != VSOCK_TYPE_STREAM)
		return VSOCK_PKT_BAD_TYPE;
	if (out->op == VSOCK_OP_INVALID || out->op > VSOCK_OP_CREDIT_REQUEST)
		return VSOCK_PKT_BAD_OP;
	if (out->len && out->op != VSOCK_OP_RW)
		return VSOCK_PKT_BAD_PAYLOAD;
	return VSOCK_PKT_OK;
}

void vsock_hdr_encode(const struct vsock_hdr *h, uint8_t out[VSOCK_HDR_LEN])
{
	memset(out, 0, VSOCK_HDR_LEN);
	put64(out + O_SRC_CID, h->src_cid);
	put64(out + O_DST_CID, h->dst_cid);
	put32(out + O_SRC_PORT, h->src_port);
	put32(out + O_DST_PORT, h->dst_port);
	put32(out + O_LEN, h->len);
	put16(out + O_TYPE, h->type);
	put16(out + O_OP, h->op);
	put32(out + O_FLAGS, h->flags);
	put32(out + O_BUF_ALLOC, h->buf_alloc);
	put32(out + O_FWD_CNT, h->fwd_cnt);
}

const char *vsock_verdict_str(enum vsock_verdict v)
{
	switch (v) {
	case VSOCK_PKT_OK: return "ok";
	case VSOCK_PKT_SHORT: return "header shorter than 44 bytes";
	case VSOCK_PKT_SPOOFED: return "source CID is not the guest's";
	case VSOCK_PKT_BAD_LEN: return "payload length beyond the buffer or the 64 KiB limit";
	case VSOCK_PKT_BAD_DST: return "destination CID is not the host";
	case VSOCK_PKT_BAD_TYPE: return "socket type is not stream";
	case VSOCK_PKT_BAD_OP: return "unknown operation";
	case VSOCK_PKT_BAD_PAYLOAD: return "payload on a control packet";
	}
	return "?";
}
