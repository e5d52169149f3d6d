/* libFuzzer target: the virtio-net header checks a hostile guest reaches
 * (src/dev/virtio_net_hdr.c). A transmit chain's readable part arrives as
 * any number of iovecs of any lengths; net_tx_parse() must accept exactly
 * the well-formed ones and copy them faithfully, and net_rx_hdr_fixup()
 * must never hand the driver a header it did not negotiate.
 *
 * Input: byte 0 features (bit i -> one of `feature_bits`), byte 1 segment
 * count (low 4 bits) and a "pad" flag (bit 7: append a large zero segment,
 * so the size limit is reached without huge inputs), then two bytes per
 * segment length, then the chain's bytes.
 *
 * Build: make fuzz (clang); run: build/fuzz/fuzz_net_tx -max_total_time=60 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "dev/virtio_net_hdr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const unsigned feature_bits[8] = {
	VIRTIO_NET_F_CSUM, VIRTIO_NET_F_HOST_TSO4, VIRTIO_NET_F_HOST_TSO6, VIRTIO_NET_F_HOST_ECN,
	VIRTIO_NET_F_HOST_UFO, VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_GUEST_ECN,
};

static uint8_t zeros[NET_MAX_FRAME + 4096];
static uint8_t frame[NET_MAX_FRAME];
static uint8_t linear[sizeof(zeros) + 65536];

static void check_tx(const struct iovec *iov, uint32_t n, uint64_t f)
{
	struct virtio_net_hdr_v1 h;
	size_t len = 0;
	enum net_tx_verdict v = net_tx_parse(iov, n, f, &h, frame, &len);
	size_t total = 0;
	for (uint32_t i = 0; i < n; i++) {
		memcpy(linear + total, iov[i].iov_base, iov[i].iov_len);
		total += iov[i].iov_len;
	}
	if (v != NET_TX_OK) {
		if (v == NET_TX_SHORT_HDR && total >= VIRTIO_NET_HDR_LEN)
			abort();
		if (v == NET_TX_TOO_BIG && total - VIRTIO_NET_HDR_LEN <= NET_MAX_FRAME)
			abort();
		return;
	}
	if (len != total - VIRTIO_NET_HDR_LEN || len < NET_MIN_FRAME || len > NET_MAX_FRAME)
		abort();
	if (memcmp(frame, linear + VIRTIO_NET_HDR_LEN, len))
		abort();
	if (h.num_buffers || (h.flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM))
		abort();
	if (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		if (!(f & (1ULL << VIRTIO_NET_F_CSUM)) || h.csum_start + h.csum_offset + 2u > len)
			abort();
	}
	if (h.gso_type != VIRTIO_NET_HDR_GSO_NONE) {
		if (!(h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) || !h.gso_size)
			abort();
		uint8_t t = h.gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
		unsigned need = t == VIRTIO_NET_HDR_GSO_TCPV4 ? VIRTIO_NET_F_HOST_TSO4 :
				t == VIRTIO_NET_HDR_GSO_TCPV6 ? VIRTIO_NET_F_HOST_TSO6 :
				t == VIRTIO_NET_HDR_GSO_UDP ? VIRTIO_NET_F_HOST_UFO : 64;
		if (need == 64 || !(f & (1ULL << need)))
			abort();
		if ((h.gso_type & VIRTIO_NET_HDR_GSO_ECN) && !(f & (1ULL << VIRTIO_NET_F_HOST_ECN)))
			abort();
	}
}

static void check_rx(const uint8_t *data, size_t size, uint64_t f)
{
	struct virtio_net_hdr_v1 h;
	if (size < sizeof(h) + 2)
		return;
	memcpy(&h, data, sizeof(h));
	size_t frame_len = (size_t)data[12] << 8 | data[13];
	if (net_rx_hdr_fixup(&h, frame_len, f, 3) < 0)
		return;
	if (h.num_buffers != 3)
		abort();
	if (h.flags & ~(VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID))
		abort();
	if (h.flags && !(f & (1ULL << VIRTIO_NET_F_GUEST_CSUM)))
		abort();
	if ((h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && h.csum_start + h.csum_offset + 2u > frame_len)
		abort();
	uint8_t t = h.gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
	if (t == VIRTIO_NET_HDR_GSO_TCPV4 && !(f & (1ULL << VIRTIO_NET_F_GUEST_TSO4)))
		abort();
	if (t != VIRTIO_NET_HDR_GSO_NONE && t != VIRTIO_NET_HDR_GSO_TCPV4 &&
	    t != VIRTIO_NET_HDR_GSO_TCPV6 && t != VIRTIO_NET_HDR_GSO_UDP)
		abort();
	if (t == VIRTIO_NET_HDR_GSO_NONE && h.gso_type)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2 || size > 65536)
		return 0;
	uint64_t f = 0;
	for (unsigned i = 0; i < 8; i++)
		if (data[0] & (1u << i))
			f |= 1ULL << feature_bits[i];
	uint32_t nseg = (data[1] & 15) + 1;
	int pad = data[1] & 0x80;
	data += 2;
	size -= 2;
	if (size < 2 * nseg)
		return 0;
	uint16_t seglen[16];
	for (uint32_t i = 0; i < nseg; i++)
		seglen[i] = (uint16_t)(data[2 * i] | data[2 * i + 1] << 8);
	data += 2 * nseg;
	size -= 2 * nseg;

	check_rx(data, size, f);

	struct iovec iov[18];
	uint32_t n = 0;
	size_t off = 0;
	for (uint32_t i = 0; i < nseg && off <= size; i++) {
		size_t l = seglen[i] % (size - off + 1);
		if (i == nseg - 1)
			l = size - off;		/* the last one takes the rest */
		/* an empty segment still gets an iovec (the walker never makes
		 * one, but the parser must not care) */
		iov[n++] = (struct iovec){ .iov_base = (void *)(data + off), .iov_len = l };
		off += l;
	}
	if (pad)
		iov[n++] = (struct iovec){ .iov_base = zeros,
					   .iov_len = (size_t)seglen[0] * 16 % sizeof(zeros) };
	check_tx(iov, n, f);
	return 0;
}
