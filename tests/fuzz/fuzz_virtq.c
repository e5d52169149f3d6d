/* libFuzzer target: a hostile driver's split virtqueue. The input is a
 * 16-byte header {size u16, desc u16, avail u16, used u16 (ring offsets in
 * units of 2 bytes), flags u8, pad} followed by the guest RAM image (64 KiB,
 * zero-filled past the input). The device pops every chain it can, reads
 * and writes through the chain helpers, pushes and asks about interrupts,
 * until the queue is empty or the walker reports -EIO; between pops the
 * input's flag bits also flip notification suppression. With flag bit 7 the
 * queue is used even when virtq_activate() refused it, exercising the
 * walker's own checks on an inconsistent struct virtq.
 *
 * Invariants checked (besides ASan/UBSan): every iovec lies in guest RAM;
 * readable segments come first; totals match the iovecs.
 *
 * Build: make fuzz (clang); run: build/fuzz/fuzz_virtq -max_total_time=60 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "core/guest_mem.h"
#include "virtio/virtq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_RAM (64u << 10)

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static void check_chain(const struct guest_mem *gm, const struct virtq_chain *c)
{
	uint64_t out = 0, in = 0;
	if (c->nout + c->nin > VIRTQ_MAX_SEGS)
		abort();
	for (uint32_t i = 0; i < c->nout + c->nin; i++) {
		const uint8_t *b = c->iov[i].iov_base;
		if (b < gm->base || b + c->iov[i].iov_len > gm->base + FUZZ_RAM || !c->iov[i].iov_len)
			abort();
		if (i < c->nout)
			out += c->iov[i].iov_len;
		else
			in += c->iov[i].iov_len;
	}
	if (out != c->out_len || in != c->in_len || out > UINT32_MAX || in > UINT32_MAX)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 16)
		return 0;
	struct guest_mem gm;
	if (gm_init(&gm, FUZZ_RAM))
		return 0;
	size_t img = size - 16 < FUZZ_RAM ? size - 16 : FUZZ_RAM;
	memcpy(gm.base, data + 16, img);
	uint8_t flags = data[8];
	struct virtq q = {
		.size = rd16(data),
		.desc_gpa = 2ull * rd16(data + 2),
		.avail_gpa = 2ull * rd16(data + 4),
		.used_gpa = 2ull * rd16(data + 6),
		.event_idx = flags & 1,
		.indirect = flags & 2,
		.mem = &gm,
	};
	bool activated = virtq_activate(&q) == 0;
	if (!activated) {
		if (!(flags & 0x80) || !q.size) {
			gm_destroy(&gm);
			return 0;
		}
		q.last_avail = q.used_idx = 0;
	}
	q.ready = true;
	struct virtq_chain *c = malloc(sizeof(*c));
	if (!c)
		abort();
	uint8_t buf[256];
	for (unsigned n = 0; n < 4u * q.size + 16; n++) {
		if (flags & 4)
			virtq_set_notify(&q, n & 1);
		int r = virtq_pop(&q, c);
		if (r < 0 || r == 0)
			break;
		if (r != 1)
			abort();
		check_chain(&gm, c);
		if (c->head >= q.size)
			abort();
		virtq_chain_read(c, n, buf, sizeof(buf));
		uint64_t w = virtq_chain_write(c, n & 7, buf, sizeof(buf));
		if (w > c->in_len)
			abort();
		if ((flags & 8) && n == 0) {
			virtq_unpop(&q);
			continue;
		}
		if (virtq_push(&q, c->head, (uint32_t)w) != 0 && activated)
			abort();	/* the used ring was checked at activate */
		virtq_should_notify(&q);
	}
	virtq_set_notify(&q, true);
	free(c);
	gm_destroy(&gm);
	return 0;
}
