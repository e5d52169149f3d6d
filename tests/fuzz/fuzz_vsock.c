/* libFuzzer target: the virtio-vsock packet header check (dev/vsock_hdr.c),
 * the one place a guest TX header is decoded.
 *
 * Input: 8 bytes of "readable length" (how many bytes the chain claims to
 * hold), 4 bytes of guest CID, then the header bytes as the guest wrote them
 * (any length). Checked: an accepted header obeys every rule the device
 * relies on (source CID, payload within the chain and 64 KiB, stream type,
 * known op, payload only on RW), and accepted headers survive an
 * encode/parse round trip unchanged.
 *
 * Build: make fuzz (clang); run: build/fuzz/fuzz_vsock -max_total_time=60 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "dev/vsock_hdr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t readable = 0;
	uint32_t cid = 3;
	if (size >= 12) {
		memcpy(&readable, data, 8);
		memcpy(&cid, data + 8, 4);
		data += 12;
		size -= 12;
		/* Mostly plausible chain lengths, sometimes anything. */
		if (!(readable >> 63))
			readable = size + (readable & 0xffff);
	}
	/* The device passes exactly what it read (at most VSOCK_HDR_LEN). */
	size_t got = size < VSOCK_HDR_LEN ? size : VSOCK_HDR_LEN;
	uint8_t *buf = malloc(got ? got : 1);	/* exact size: ASan sees overreads */
	if (!buf)
		return 0;
	memcpy(buf, data, got);

	struct vsock_hdr h;
	enum vsock_verdict v = vsock_hdr_parse(buf, got, readable, cid, &h);
	if (!vsock_verdict_str(v))
		abort();
	if (got < VSOCK_HDR_LEN || readable < VSOCK_HDR_LEN) {
		if (v != VSOCK_PKT_SHORT)
			abort();
	} else if (v == VSOCK_PKT_OK) {
		if (h.src_cid != cid || h.dst_cid != VSOCK_HOST_CID || h.type != VSOCK_TYPE_STREAM)
			abort();
		if (h.op < VSOCK_OP_REQUEST || h.op > VSOCK_OP_CREDIT_REQUEST)
			abort();
		if (h.len > VSOCK_MAX_PAYLOAD || h.len > readable - VSOCK_HDR_LEN)
			abort();
		if (h.len && h.op != VSOCK_OP_RW)
			abort();
		uint8_t raw[VSOCK_HDR_LEN];
		struct vsock_hdr h2;
		vsock_hdr_encode(&h, raw);
		if (memcmp(raw, buf, VSOCK_HDR_LEN))
			abort();
		if (vsock_hdr_parse(raw, sizeof(raw), readable, cid, &h2) != VSOCK_PKT_OK ||
		    h2.src_cid != h.src_cid || h2.dst_cid != h.dst_cid ||
		    h2.src_port != h.src_port || h2.dst_port != h.dst_port || h2.len != h.len ||
		    h2.type != h.type || h2.op != h.op || h2.flags != h.flags ||
		    h2.buf_alloc != h.buf_alloc || h2.fwd_cnt != h.fwd_cnt)
			abort();
	} else if (v == VSOCK_PKT_SHORT) {
		abort();
	}
	free(buf);
	return 0;
}
