/* virtio-blk's data path, with both engines: reads and writes, framing
 * the spec leaves free, many requests in flight, flush, write-zeroes,
 * discard, GET_ID (derived and configured), and configuration space.
 * Fixture: virtio_blk_fixture.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <sys/stat.h>
#include "unit/virtio_blk_fixture.h"

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static void write_then_read(void **state)
{
	struct fx *x = *state;
	uint8_t *g = gm_ptr(&x->gm, DATA, 8192);
	for (int i = 0; i < 4096; i++)
		g[i] = (uint8_t)(i ^ 0x5a);
	uint32_t len;
	assert_int_equal(request(x, VIRTIO_BLK_T_OUT, 8, DATA, 4096, false, &len),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(len, 1);
	uint8_t f[4096];
	file_read(x, 8 * 512, f, sizeof(f));
	assert_memory_equal(f, g, 4096);

	/* read sectors 6..14: two pattern sectors, then what we wrote */
	memset(g, 0, 8192);
	assert_int_equal(request(x, VIRTIO_BLK_T_IN, 6, DATA, 8 * 512, true, &len),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(len, 8 * 512 + 1);
	uint8_t want[4096];
	file_read(x, 6 * 512, want, sizeof(want));
	assert_memory_equal(g, want, 4096);
	/* the last sector of the disk */
	assert_int_equal(request(x, VIRTIO_BLK_T_IN, IMG_SECTORS - 1, DATA, 512, true, NULL),
			 VIRTIO_BLK_S_OK);
	for (int i = 0; i < 512; i++)
		assert_int_equal(g[i], pattern((IMG_SECTORS - 1) * 512ULL + i));
	assert_true(__atomic_load_n(&x->irqs, __ATOMIC_SEQ_CST) >= 3);
	struct virtio_blk_stats st;
	virtio_blk_get_stats(x->b, &st);
	assert_int_equal(st.writes, 1);
	assert_int_equal(st.reads, 2);
	assert_int_equal(st.write_bytes, 4096);
	assert_int_equal(st.read_bytes, 8 * 512 + 512);
	assert_int_equal(st.errors, 0);
}

/* §2.6.4: no assumptions about framing. Header and data share a buffer;
 * data spans odd-sized buffers; the status byte shares the last one. */
static void odd_framing(void **state)
{
	struct fx *x = *state;
	/* OUT: [header + 100 data][412 data][0 data, skipped][status] */
	uint8_t *p = gm_ptr(&x->gm, DATA, 1024);
	put_hdr(x, DATA, VIRTIO_BLK_T_OUT, 3);
	for (int i = 0; i < 512; i++)
		p[16 + i] = (uint8_t)(200 - i);
	set_status(x, STATUS, 0xee);
	struct seg s[] = { { DATA, 116, false }, { DATA + 116, 412, false }, { STATUS, 1, true } };
	post(x, s, 3);
	kick(x);
	wait_used(x, NULL);
	assert_int_equal(get_status(x, STATUS), VIRTIO_BLK_S_OK);
	uint8_t f[512];
	file_read(x, 3 * 512, f, 512);
	assert_memory_equal(f, p + 16, 512);

	/* IN: [header][300][213 = 212 data + status] */
	put_hdr(x, HDR, VIRTIO_BLK_T_IN, 3);
	uint8_t *q = gm_ptr(&x->gm, DATA + 4096, 600);
	memset(q, 0, 600);
	q[512] = 0xee;
	struct seg t[] = { { HDR, 16, false }, { DATA + 4096, 300, true },
			   { DATA + 4096 + 300, 213, true } };
	post(x, t, 3);
	kick(x);
	assert_int_equal(wait_used(x, NULL), 513);
	assert_int_equal(q[512], VIRTIO_BLK_S_OK);
	assert_memory_equal(q, f, 512);
}

static void many_in_flight(void **state)
{
	struct fx *x = *state;
	/* 16 reads of 4 KiB each, posted together, one kick */
	for (int i = 0; i < 16; i++) {
		put_hdr(x, HDR + 64ULL * i, VIRTIO_BLK_T_IN, 8ULL * i);
		set_status(x, STATUS + i, 0xee);
		struct seg s[] = { { HDR + 64ULL * i, 16, false },
				   { DATA + 4096ULL * i, 4096, true },
				   { STATUS + i, 1, true } };
		post(x, s, 3);
	}
	kick(x);
	for (int i = 0; i < 16; i++)
		wait_used(x, NULL);
	uint8_t *g = gm_ptr(&x->gm, DATA, 65536);
	uint8_t f[65536];
	file_read(x, 0, f, sizeof(f));
	assert_memory_equal(g, f, sizeof(f));
	for (int i = 0; i < 16; i++)
		assert_int_equal(get_status(x, STATUS + i), VIRTIO_BLK_S_OK);
}

static void flush(void **state)
{
	struct fx *x = *state;
	memset(gm_ptr(&x->gm, DATA, 512), 0x77, 512);
	assert_int_equal(request(x, VIRTIO_BLK_T_OUT, 100, DATA, 512, false, NULL),
			 VIRTIO_BLK_S_OK);
	uint32_t len;
	assert_int_equal(request(x, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false, &len), VIRTIO_BLK_S_OK);
	assert_int_equal(len, 1);
	struct virtio_blk_stats st;
	virtio_blk_get_stats(x->b, &st);
	assert_int_equal(st.flushes, 1);
}

static void write_zeroes(void **state)
{
	struct fx *x = *state;
	struct blk_seg g[] = { { 16, 8, false }, { 40, 3, true }, { 60, 0, false } };
	discard_like(x, VIRTIO_BLK_T_WRITE_ZEROES, g, 3, VIRTIO_BLK_S_OK);
	uint8_t f[64 * 512];
	file_read(x, 0, f, sizeof(f));
	for (uint64_t i = 0; i < sizeof(f); i++) {
		uint64_t s = i / 512;
		bool zero = (s >= 16 && s < 24) || (s >= 40 && s < 43);
		assert_int_equal(f[i], zero ? 0 : pattern(i));
	}
	struct stat st;
	assert_int_equal(fstat(x->fd, &st), 0);
	assert_int_equal(st.st_size, IMG_SECTORS * 512);
}

static void discard(void **state)
{
	struct fx *x = *state;
	struct blk_seg g[] = { { 256, 256, false } };	/* 128 KiB */
	discard_like(x, VIRTIO_BLK_T_DISCARD, g, 1, VIRTIO_BLK_S_OK);
	struct stat st;
	assert_int_equal(fstat(x->fd, &st), 0);
	assert_int_equal(st.st_size, IMG_SECTORS * 512);	/* KEEP_SIZE */
	/* on file systems that punch holes (ext4, tmpfs, xfs...) the range
	 * reads back as zeroes; a file system that cannot is allowed to keep it */
	uint8_t f[512];
	file_read(x, 300 * 512, f, sizeof(f));
	if (!all_zero(f, sizeof(f)))
		print_message("note: discard left data in place (no hole punching here)\n");
	/* the neighbours are untouched */
	file_read(x, 255 * 512, f, sizeof(f));
	assert_int_equal(f[0], pattern(255 * 512));
	file_read(x, 512 * 512, f, sizeof(f));
	assert_int_equal(f[0], pattern(512 * 512));
	struct virtio_blk_stats s;
	virtio_blk_get_stats(x->b, &s);
	assert_int_equal(s.discards, 1);
}

static void get_id(void **state)
{
	struct fx *x = *state;
	uint8_t *g = gm_ptr(&x->gm, DATA, 32);
	memset(g, 0xcc, 32);
	uint32_t len;
	assert_int_equal(request(x, VIRTIO_BLK_T_GET_ID, 0, DATA, 20, true, &len), VIRTIO_BLK_S_OK);
	assert_int_equal(len, 21);
	/* derived from the image's device and inode */
	struct stat st;
	assert_int_equal(fstat(x->fd, &st), 0);
	char want[48] = { 0 };
	snprintf(want, sizeof(want), "%llx-%llx", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	want[20] = 0;
	assert_memory_equal(g, want, 20);
}

static void get_id_configured(void **state)
{
	(void)state;
	struct fx *x = fx_new();
	make_image(x, 4096, false);
	x->cfg = (struct skiff_disk_config){ .path = x->path, .id = "skiff-disk-7" };
	struct skiff_err e = { { 0 } };
	assert_int_equal(create(x, &e), 0);
	start_queue(x);
	uint8_t *g = gm_ptr(&x->gm, DATA, 32);
	memset(g, 0xcc, 32);
	assert_int_equal(request(x, VIRTIO_BLK_T_GET_ID, 0, DATA, 20, true, NULL),
			 VIRTIO_BLK_S_OK);
	char want[20] = "skiff-disk-7";
	assert_memory_equal(g, want, 20);
	assert_int_equal(g[20], 0xcc);		/* nothing beyond the 20 bytes */
	fx_free(x);

	/* refused ids */
	x = fx_new();
	make_image(x, 4096, false);
	x->cfg = (struct skiff_disk_config){ .path = x->path, .id = "123456789012345678901" };
	assert_int_equal(create(x, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "longer than 20"));
	x->cfg.id = "tab\there";
	assert_int_equal(create(x, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "printable"));
	fx_free(x);
}

static void config_space(void **state)
{
	struct fx *x = *state;
	const struct virtio_blk_config *c = (const void *)x->vd->config;
	assert_int_equal(x->vd->config_len, sizeof(*c));
	assert_int_equal(c->capacity, IMG_SECTORS);
	assert_int_equal(c->seg_max, VIRTIO_BLK_SEG_MAX);
	assert_int_equal(c->blk_size, 512);
	assert_int_equal(c->max_discard_seg, VIRTIO_BLK_DWZ_MAX_SEG);
	assert_int_equal(c->max_write_zeroes_seg, VIRTIO_BLK_DWZ_MAX_SEG);
	assert_int_equal(c->max_discard_sectors, VIRTIO_BLK_DWZ_MAX_SECTORS);
	assert_int_equal(c->discard_sector_alignment, 1);
	assert_int_equal(c->write_zeroes_may_unmap, 1);
	uint64_t f = x->vd->host_features;
	assert_true(f & 1ULL << VIRTIO_BLK_F_FLUSH);
	assert_true(f & 1ULL << VIRTIO_BLK_F_SEG_MAX);
	assert_true(f & 1ULL << VIRTIO_BLK_F_BLK_SIZE);
	assert_true(f & 1ULL << VIRTIO_BLK_F_DISCARD);
	assert_true(f & 1ULL << VIRTIO_BLK_F_WRITE_ZEROES);
	assert_false(f & 1ULL << VIRTIO_BLK_F_RO);
	assert_int_equal(x->vd->ops->device_id, VIRTIO_ID_BLOCK);
	assert_int_equal(virtio_blk_capacity(x->b), IMG_SECTORS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(write_then_read),
		BOTH(odd_framing),
		BOTH(many_in_flight),
		BOTH(flush),
		BOTH(write_zeroes),
		BOTH(discard),
		BOTH(get_id),
		BOTH(config_space),
		cmocka_unit_test(get_id_configured),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
