/* virtio-blk against a hostile driver, with both engines: malformed and
 * out-of-range requests, a descriptor outside guest RAM (NEEDS_RESET), and
 * a reset with I/O in flight. Fixture: virtio_blk_fixture.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include "unit/virtio_blk_fixture.h"

/* --- a hostile driver ---------------------------------------------------- */

static void hostile(void **state)
{
	struct fx *x = *state;
	/* short header: 8 readable bytes */
	put_hdr(x, HDR, VIRTIO_BLK_T_IN, 0);
	set_status(x, STATUS, 0xee);
	struct seg s1[] = { { HDR, 8, false }, { DATA, 512, true }, { STATUS, 1, true } };
	post(x, s1, 3);
	kick(x);
	assert_int_equal(wait_used(x, NULL), 1);
	assert_int_equal(get_status(x, STATUS), VIRTIO_BLK_S_IOERR);

	/* no status byte at all: returned with nothing written */
	put_hdr(x, HDR, VIRTIO_BLK_T_OUT, 0);
	struct seg s2[] = { { HDR, 16, false }, { DATA, 512, false } };
	post(x, s2, 2);
	kick(x);
	assert_int_equal(wait_used(x, NULL), 0);
	uint8_t b[512];
	file_read(x, 0, b, 512);
	assert_int_equal(b[0], pattern(0));		/* and nothing done */

	/* sector arithmetic overflow, and just beyond capacity */
	assert_int_equal(request(x, VIRTIO_BLK_T_IN, UINT64_MAX - 1, DATA, 1024, true, NULL),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(x, VIRTIO_BLK_T_IN, UINT64_MAX / 512 + 1, DATA, 512, true, NULL),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(x, VIRTIO_BLK_T_OUT, IMG_SECTORS - 1, DATA, 1024, false, NULL),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(x, VIRTIO_BLK_T_IN, IMG_SECTORS, DATA, 512, true, NULL),
			 VIRTIO_BLK_S_IOERR);
	/* data not a multiple of 512 */
	assert_int_equal(request(x, VIRTIO_BLK_T_OUT, 0, DATA, 100, false, NULL),
			 VIRTIO_BLK_S_IOERR);
	/* unknown type; a discard with unmap; unknown segment flags */
	assert_int_equal(request(x, 99, 0, 0, 0, false, NULL), VIRTIO_BLK_S_UNSUPP);
	struct blk_seg u[] = { { 0, 1, true } };
	discard_like(x, VIRTIO_BLK_T_DISCARD, u, 1, VIRTIO_BLK_S_UNSUPP);
	uint8_t seg[16] = { 0 };
	seg[8] = 1;
	seg[12] = 2;	/* reserved flag */
	assert_int_equal(gm_write(&x->gm, DATA, seg, 16), 0);
	assert_int_equal(request(x, VIRTIO_BLK_T_WRITE_ZEROES, 0, DATA, 16, false, NULL),
			 VIRTIO_BLK_S_UNSUPP);
	/* segments: beyond capacity, too many, not a multiple of 16, none */
	struct blk_seg far[] = { { IMG_SECTORS - 1, 2, false } };
	discard_like(x, VIRTIO_BLK_T_WRITE_ZEROES, far, 1, VIRTIO_BLK_S_IOERR);
	struct blk_seg many[VIRTIO_BLK_DWZ_MAX_SEG + 1];
	for (int i = 0; i <= VIRTIO_BLK_DWZ_MAX_SEG; i++)
		many[i] = (struct blk_seg){ (uint64_t)i, 1, false };
	discard_like(x, VIRTIO_BLK_T_DISCARD, many, VIRTIO_BLK_DWZ_MAX_SEG + 1, VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(x, VIRTIO_BLK_T_DISCARD, 0, DATA, 24, false, NULL),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(x, VIRTIO_BLK_T_DISCARD, 0, 0, 0, false, NULL),
			 VIRTIO_BLK_S_IOERR);
	/* GET_ID with room for 5 bytes only: those, and no more */
	uint8_t *g = gm_ptr(&x->gm, DATA, 32);
	memset(g, 0xcc, 32);
	uint32_t len;
	assert_int_equal(request(x, VIRTIO_BLK_T_GET_ID, 0, DATA, 5, true, &len), VIRTIO_BLK_S_OK);
	assert_int_equal(len, 6);
	assert_int_equal(g[5], 0xcc);

	/* the device still works */
	assert_int_equal(request(x, VIRTIO_BLK_T_IN, 0, DATA, 512, true, NULL), VIRTIO_BLK_S_OK);
	struct virtio_blk_stats st;
	virtio_blk_get_stats(x->b, &st);
	assert_true(st.errors >= 10);
	assert_int_equal(st.unsupported, 3);
	assert_false(x->vd->broken);

	/* a descriptor outside guest RAM breaks the queue: NEEDS_RESET */
	put_hdr(x, HDR, VIRTIO_BLK_T_IN, 0);
	struct seg s3[] = { { HDR, 16, false }, { RAM - 256, 4096, true }, { STATUS, 1, true } };
	post(x, s3, 3);
	uint16_t before = used_idx(x);
	kick(x);
	assert_true(x->vd->broken);
	assert_true(x->vd->status & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(__atomic_load_n(&x->config_irqs, __ATOMIC_SEQ_CST), 1);
	assert_int_equal(used_idx(x), before);
	/* kicks are ignored until the driver resets the device */
	kick(x);
	assert_int_equal(used_idx(x), before);
	virtio_device_reset(x->vd);
	start_queue(x);
	assert_int_equal(request(x, VIRTIO_BLK_T_IN, 0, DATA, 512, true, NULL), VIRTIO_BLK_S_OK);
}

/* --- reset with I/O in flight -------------------------------------------- */

static void reset_in_flight(void **state)
{
	struct fx *x = *state;
	for (int i = 0; i < 20; i++) {	/* 60 of the 64 descriptors */
		put_hdr(x, HDR + 64ULL * i, i % 2 ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN, 16ULL * i);
		struct seg s[] = { { HDR + 64ULL * i, 16, false },
				   { DATA + 8192ULL * i, 8192, i % 2 == 0 },
				   { STATUS + i, 1, true } };
		post(x, s, 3);
	}
	kick(x);
	virtio_device_reset(x->vd);		/* on the I/O thread, drains */
	/* nothing completes after the reset returned */
	uint16_t after = used_idx(x);
	usleep(20000);
	assert_int_equal(used_idx(x), after);
	/* and the device comes back */
	start_queue(x);
	assert_int_equal(request(x, VIRTIO_BLK_T_IN, 0, DATA, 512, true, NULL), VIRTIO_BLK_S_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(hostile),
		BOTH(reset_in_flight),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
