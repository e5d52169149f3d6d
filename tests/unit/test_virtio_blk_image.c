/* virtio-blk's image files and I/O engines: read-only disks, O_DIRECT
 * (aligned and bounced), image errors and locking, write-zeroes on tmpfs,
 * and the automatic engine choice. Fixture: virtio_blk_fixture.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <sys/stat.h>
#include "unit/virtio_blk_fixture.h"

/* --- read-only ----------------------------------------------------------- */

static void read_only(void **state)
{
	(void)state;
	struct fx *x = setup_engine(SKIFF_IO_AUTO, true);
	uint64_t f = x->vd->host_features;
	assert_true(f & 1ULL << VIRTIO_BLK_F_RO);
	assert_false(f & 1ULL << VIRTIO_BLK_F_DISCARD);
	assert_false(f & 1ULL << VIRTIO_BLK_F_WRITE_ZEROES);
	memset(gm_ptr(&x->gm, DATA, 512), 0, 512);
	assert_int_equal(request(x, VIRTIO_BLK_T_OUT, 0, DATA, 512, false, NULL),
			 VIRTIO_BLK_S_IOERR);
	struct blk_seg g[] = { { 0, 1, false } };
	discard_like(x, VIRTIO_BLK_T_WRITE_ZEROES, g, 1, VIRTIO_BLK_S_IOERR);
	discard_like(x, VIRTIO_BLK_T_DISCARD, g, 1, VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(x, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false, NULL), VIRTIO_BLK_S_OK);
	assert_int_equal(request(x, VIRTIO_BLK_T_IN, 0, DATA, 512, true, NULL), VIRTIO_BLK_S_OK);
	uint8_t b[512];
	file_read(x, 0, b, 512);
	for (int i = 0; i < 512; i++)
		assert_int_equal(b[i], pattern(i));		/* nothing written */
	assert_memory_equal(gm_ptr(&x->gm, DATA, 512), b, 512);
	/* two read-only users share the image */
	struct virtio_blk *second;
	struct skiff_err e = { { 0 } };
	assert_int_equal(virtio_blk_create(&x->cfg, &x->host, &second, &e), 0);
	virtio_blk_destroy(second);
	fx_free(x);
}

/* --- O_DIRECT ------------------------------------------------------------ */

static void direct_io(void **state)
{
	(void)state;
	for (int engine = SKIFF_IO_URING; engine <= SKIFF_IO_SYNC; engine++) {
		struct fx *x = fx_new();
		make_image(x, 4 * IMG_SECTORS * 512ULL, true);
		x->cfg = (struct skiff_disk_config){ .path = x->path, .direct = true,
						     .engine = (enum skiff_io_engine)engine };
		struct skiff_err e = { { 0 } };
		int r = create(x, &e);
		if (r == -EINVAL && strstr(e.msg, "O_DIRECT")) {
			fx_free(x);
			skip();
		}
		assert_int_equal(r, 0);
		start_queue(x);
		uint32_t bs = ((const struct virtio_blk_config *)x->vd->config)->blk_size;
		/* aligned, then misaligned guest buffers (bounce path) */
		for (uint64_t mis = 0; mis <= 3; mis += 3) {
			uint8_t *g = gm_ptr(&x->gm, DATA + mis, 8192);
			for (int i = 0; i < 8192; i++)
				g[i] = (uint8_t)(i * 3 + mis);
			uint64_t sector = bs / 512 * 4;
			assert_int_equal(request(x, VIRTIO_BLK_T_OUT, sector, DATA + mis, 8192, false,
						 NULL), VIRTIO_BLK_S_OK);
			uint8_t f[8192];
			file_read(x, sector * 512, f, sizeof(f));
			assert_memory_equal(f, g, 8192);
			memset(g, 0, 8192);
			assert_int_equal(request(x, VIRTIO_BLK_T_IN, sector, DATA + mis, 8192, true,
						 NULL), VIRTIO_BLK_S_OK);
			assert_memory_equal(f, g, 8192);
		}
		/* a misaligned request larger than the async bounce limit */
		uint32_t big = (1u << 20) + 4096;
		uint8_t *g = gm_ptr(&x->gm, DATA + 1, big);
		assert_int_equal(request(x, VIRTIO_BLK_T_IN, 0, DATA + 1, big, true, NULL),
				 VIRTIO_BLK_S_OK);
		uint8_t *want = malloc(big);
		assert_non_null(want);
		file_read(x, 0, want, big);
		assert_memory_equal(g, want, big);
		assert_int_equal(g[big - 1], pattern(big - 1));
		free(want);
		fx_free(x);
	}
}

/* --- image errors -------------------------------------------------------- */

static void image_errors(void **state)
{
	(void)state;
	struct fx *x = fx_new();
	struct skiff_err e = { { 0 } };

	x->cfg = (struct skiff_disk_config){ .path = "/nonexistent/skiff-disk.img" };
	assert_int_equal(create(x, &e), -ENOENT);
	assert_non_null(strstr(e.msg, "/nonexistent/skiff-disk.img"));
	assert_non_null(strstr(e.msg, "No such file"));

	make_image(x, 1000, false);
	x->cfg = (struct skiff_disk_config){ .path = x->path };
	assert_int_equal(create(x, &e), -EINVAL);
	assert_non_null(strstr(e.msg, x->path));
	assert_non_null(strstr(e.msg, "size 1000 is not a multiple of 512 bytes"));

	assert_int_equal(ftruncate(x->fd, 0), 0);
	assert_int_equal(create(x, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "empty"));

	assert_int_equal(ftruncate(x->fd, 4096), 0);
	assert_int_equal(create(x, &e), 0);		/* holds LOCK_EX */
	struct virtio_blk *second;
	assert_int_equal(virtio_blk_create(&x->cfg, &x->host, &second, &e), -EBUSY);
	assert_non_null(strstr(e.msg, x->path));
	assert_non_null(strstr(e.msg, "in use by another process (locked)"));
	x->cfg.read_only = true;				/* LOCK_SH against LOCK_EX */
	assert_int_equal(virtio_blk_create(&x->cfg, &x->host, &second, &e), -EBUSY);
	assert_non_null(strstr(e.msg, "locked"));
	x->cfg.read_only = false;
	virtio_blk_destroy(x->b);				/* the lock goes with it */
	x->b = NULL;
	assert_int_equal(virtio_blk_create(&x->cfg, &x->host, &second, &e), 0);
	virtio_blk_destroy(second);

	/* a read-only file, writable disk */
	if (geteuid() != 0) {
		assert_int_equal(chmod(x->path, 0400), 0);
		assert_true(create(x, &e) < 0);
		assert_non_null(strstr(e.msg, "for writing"));
		x->cfg.read_only = true;
		assert_int_equal(create(x, &e), 0);
	}
	/* a directory */
	x->cfg = (struct skiff_disk_config){ .path = "/tmp", .read_only = true };
	struct virtio_blk *d;
	assert_true(virtio_blk_create(&x->cfg, &x->host, &d, &e) < 0);
	assert_non_null(strstr(e.msg, "/tmp"));
	/* no path */
	x->cfg = (struct skiff_disk_config){ 0 };
	assert_int_equal(virtio_blk_create(&x->cfg, &x->host, &d, &e), -EINVAL);
	fx_free(x);
}

/* tmpfs has no fallocate(ZERO_RANGE): write-zeroes without unmap falls
 * back to writing zeroes, with unmap it punches holes. */
static void zeroes_fallback(void **state)
{
	(void)state;
	struct stat d;
	if (stat("/dev/shm", &d) != 0 || !S_ISDIR(d.st_mode))
		skip();
	for (int engine = SKIFF_IO_URING; engine <= SKIFF_IO_SYNC; engine++) {
		struct fx *x = fx_new();
		make_image_in(x, "/dev/shm", IMG_SECTORS * 512ULL, true);
		x->cfg = (struct skiff_disk_config){ .path = x->path,
						     .engine = (enum skiff_io_engine)engine };
		struct skiff_err e = { { 0 } };
		assert_int_equal(create(x, &e), 0);
		start_queue(x);
		for (int round = 0; round < 2; round++) {	/* learning, then learned */
			struct blk_seg g[] = { { 10 + 100ULL * round, 5, false },
					       { 50 + 100ULL * round, 7, true } };
			discard_like(x, VIRTIO_BLK_T_WRITE_ZEROES, g, 2, VIRTIO_BLK_S_OK);
		}
		uint8_t f[256 * 512];
		file_read(x, 0, f, sizeof(f));
		for (uint64_t i = 0; i < sizeof(f); i++) {
			uint64_t s = i / 512 % 100;
			bool zero = i / 512 < 200 && ((s >= 10 && s < 15) || (s >= 50 && s < 57));
			assert_int_equal(f[i], zero ? 0 : pattern(i));
		}
		fx_free(x);
	}
}

static void engine_auto(void **state)
{
	(void)state;
	struct fx *x = fx_new();
	make_image(x, 4096, false);
	x->cfg = (struct skiff_disk_config){ .path = x->path, .engine = SKIFF_IO_AUTO };
	struct skiff_err e = { { 0 } };
	assert_int_equal(create(x, &e), 0);
	const char *name = virtio_blk_engine(x->b);
	assert_true(strcmp(name, "io_uring") == 0 || strcmp(name, "sync") == 0);
	print_message("SKIFF_IO_AUTO picked %s\n", name);
	fx_free(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(read_only),
		cmocka_unit_test(direct_io),
		cmocka_unit_test(image_errors),
		cmocka_unit_test(zeroes_fallback),
		cmocka_unit_test(engine_auto),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
