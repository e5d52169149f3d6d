/* libFuzzer target: virtio-blk request parsing (virtio_blk_parse) on
 * hostile descriptor chains. The input describes a chain (how many readable
 * and writable buffers, their lengths) followed by the bytes the buffers
 * hold, plus the disk's capacity and read-only flag. ASan/UBSan catch
 * memory errors; the checks below catch a parse that accepts what it must
 * refuse (a range beyond capacity, data outside the chain, a status byte
 * outside the writable part).
 *
 * Build: make fuzz (clang); run: build/fuzz/fuzz_blk_request -max_total_time=60 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "dev/virtio_blk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_BUFS 12

static struct virtq_chain chain;	/* large (1024 iovecs): not on the stack */

static void check(bool ok)
{
	if (!ok)
		abort();
}

static bool inside(const struct iovec *v, const uint8_t *p)
{
	const uint8_t *b = v->iov_base;
	return p >= b && p < b + v->iov_len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 12)
		return 0;
	uint64_t capacity;
	memcpy(&capacity, data, 8);
	/* mostly small disks, sometimes huge ones (overflow edges) */
	if (!(data[8] & 0x80))
		capacity &= 0xfffff;
	bool ro = data[8] & 1;
	unsigned nout = data[9] % (MAX_BUFS + 1);
	unsigned nin = data[10] % (MAX_BUFS + 1 - nout);
	unsigned lens_at = 11;
	size_t n = nout + nin;
	if (size < lens_at + 2 * n)
		return 0;
	size_t payload_len = size - lens_at - 2 * n;
	/* The buffers' bytes, in one allocation: each buffer takes its length
	 * from the input (up to what is left), so ASan sees exact bounds. */
	uint8_t *mem = malloc(payload_len ? payload_len : 1);
	if (!mem)
		return 0;
	memcpy(mem, data + lens_at + 2 * n, payload_len);
	size_t used = 0;
	chain.head = 0;
	chain.nout = nout;
	chain.nin = nin;
	chain.out_len = chain.in_len = 0;
	for (size_t i = 0; i < n; i++) {
		size_t l = (size_t)data[lens_at + 2 * i] | (size_t)data[lens_at + 2 * i + 1] << 8;
		if (l > payload_len - used)
			l = payload_len - used;
		chain.iov[i].iov_base = mem + used;
		chain.iov[i].iov_len = l;
		used += l;
		if (i < nout)
			chain.out_len += l;
		else
			chain.in_len += l;
	}

	struct blk_req r;
	uint8_t st = virtio_blk_parse(&chain, capacity, ro, &r);
	check(st == r.status);
	check(st == VIRTIO_BLK_S_OK || st == VIRTIO_BLK_S_IOERR || st == VIRTIO_BLK_S_UNSUPP);
	if (r.status_ptr) {
		/* the last writable byte */
		check(nin > 0 && chain.in_len > 0);
		bool found = false;
		for (size_t i = nout; i < n; i++)
			found |= inside(&chain.iov[i], r.status_ptr);
		check(found);
	}
	if (st == VIRTIO_BLK_S_OK) {
		check(r.status_ptr != NULL);
		check(chain.out_len >= VIRTIO_BLK_HDR_SIZE);
		uint64_t part = r.data_in ? chain.in_len - 1 : chain.out_len;
		check(r.data_off <= part && r.data_len <= part - r.data_off);
		switch (r.type) {
		case VIRTIO_BLK_T_IN:
		case VIRTIO_BLK_T_OUT:
			check(r.data_len % 512 == 0);
			check(r.sector <= capacity && r.data_len / 512 <= capacity - r.sector);
			check(!(ro && r.type == VIRTIO_BLK_T_OUT));
			break;
		case VIRTIO_BLK_T_DISCARD:
		case VIRTIO_BLK_T_WRITE_ZEROES:
			check(!ro);
			check(r.nseg >= 1 && r.nseg <= VIRTIO_BLK_DWZ_MAX_SEG);
			for (uint32_t i = 0; i < r.nseg; i++) {
				const struct blk_seg *g = &r.seg[i];
				check(g->sector <= capacity && g->num_sectors <= capacity - g->sector);
				check(g->num_sectors <= VIRTIO_BLK_DWZ_MAX_SECTORS);
				check(!(g->unmap && r.type == VIRTIO_BLK_T_DISCARD));
			}
			break;
		case VIRTIO_BLK_T_FLUSH:
		case VIRTIO_BLK_T_GET_ID:
			break;
		default:
			check(false);	/* unknown types are UNSUPP */
		}
	}
	free(mem);
	return 0;
}
