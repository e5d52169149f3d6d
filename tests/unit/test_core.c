/* The address registry, the checked guest-memory accessor and the console
 * escape filter: the pieces every guest exit and host keystroke go through. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include "core/bus.h"
#include "core/console.h"
#include "core/guest_mem.h"

struct rec {
	uint64_t off;
	uint32_t len;
	bool wr;
	int calls;
};

static void rec_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool wr)
{
	struct rec *r = opaque;
	r->off = off;
	r->len = len;
	r->wr = wr;
	r->calls++;
	if (!wr)
		memset(data, 0x5a, len);
}

static void test_bus_refuses_overlaps(void **state)
{
	(void)state;
	struct bus b;
	struct rec r = { 0 };
	bus_init(&b, 0x10000);
	assert_int_equal(bus_register(&b, 0x3f8, 8, rec_io, &r, "a"), 0);
	assert_int_equal(bus_register(&b, 0x3f0, 8, rec_io, &r, "below, touching"), 0);
	assert_int_equal(bus_register(&b, 0x400, 1, rec_io, &r, "above, touching"), 0);
	assert_int_equal(bus_register(&b, 0x3ff, 1, rec_io, &r, "last byte"), -EEXIST);
	assert_int_equal(bus_register(&b, 0x3f0, 0x20, rec_io, &r, "covers all"), -EEXIST);
	assert_int_equal(bus_register(&b, 0x3fc, 2, rec_io, &r, "inside"), -EEXIST);
	assert_int_equal(bus_register(&b, 0x3f7, 1, rec_io, &r, "last of lower"), -EEXIST);
	assert_int_equal(bus_register(&b, 0x500, 0, rec_io, &r, "empty"), -EINVAL);
	assert_int_equal(bus_register(&b, 0xffff, 2, rec_io, &r, "past limit"), -EINVAL);
	assert_int_equal(bus_unregister(&b, 0x3f8), 0);
	assert_int_equal(bus_unregister(&b, 0x3f8), -ENOENT);
	assert_int_equal(bus_register(&b, 0x3fc, 2, rec_io, &r, "now free"), 0);
	bus_destroy(&b);
}

static void test_bus_wraparound(void **state)
{
	(void)state;
	struct bus b;
	struct rec r = { 0 };
	bus_init(&b, 0);
	assert_int_equal(bus_register(&b, UINT64_MAX - 3, 4, rec_io, &r, "top"), 0);
	assert_int_equal(bus_register(&b, UINT64_MAX - 1, 4, rec_io, &r, "wraps"), -EINVAL);
	uint8_t d[8];
	assert_true(bus_access(&b, UINT64_MAX - 3, d, 4, false));
	/* an access that would wrap past the top hits nothing */
	assert_false(bus_access(&b, UINT64_MAX - 1, d, 4, false));
	bus_destroy(&b);
}

static void test_bus_dispatch(void **state)
{
	(void)state;
	struct bus b;
	struct rec r = { 0 };
	bus_init(&b, 0x10000);
	for (int i = 0; i < 40; i++)	/* enough ranges to grow the array */
		assert_int_equal(bus_register(&b, 0x1000 + 0x10 * i, 8, rec_io, &r, "many"), 0);
	assert_int_equal(bus_register(&b, 0x3f8, 8, rec_io, &r, "com"), 0);
	uint8_t d[4];
	assert_true(bus_access(&b, 0x3fd, d, 1, false));
	assert_int_equal(r.off, 5);
	assert_int_equal(d[0], 0x5a);
	assert_true(bus_access(&b, 0x1234, d, 2, true));	/* range 0x1230..0x1237 */
	assert_int_equal(r.off, 4);
	assert_true(r.wr);
	/* an access straddling the end of a range is not the device's */
	int calls = r.calls;
	assert_false(bus_access(&b, 0x3fe, d, 4, false));
	assert_int_equal(r.calls, calls);
	assert_memory_equal(d, "\xff\xff\xff\xff", 4);
	/* unknown addresses read all-ones and are counted */
	uint64_t before = b.unhandled;
	assert_false(bus_access(&b, 0x9999, d, 2, false));
	assert_int_equal(d[0], 0xff);
	assert_int_equal(d[1], 0xff);
	assert_int_equal(b.unhandled, before + 1);
	bus_destroy(&b);
}

static void test_guest_mem_layout(void **state)
{
	(void)state;
	struct guest_mem gm;
	assert_int_equal(gm_init(&gm, 64 << 20), 0);
	assert_int_equal(gm.n, 1);
	assert_int_equal(gm_low_end(&gm), 64 << 20);
	gm_destroy(&gm);
	/* 3.5 GiB: 3 GiB below the hole, 0.5 GiB from 4 GiB (MAP_NORESERVE: cheap) */
	assert_int_equal(gm_init(&gm, 3584ULL << 20), 0);
	assert_int_equal(gm.n, 2);
	assert_int_equal(gm.r[0].size, SKIFF_PCI_HOLE_START);
	assert_int_equal(gm.r[1].gpa, SKIFF_PCI_HOLE_END);
	assert_int_equal(gm.r[1].size, 512ULL << 20);
	assert_non_null(gm_ptr(&gm, SKIFF_PCI_HOLE_END, 4096));
	assert_null(gm_ptr(&gm, SKIFF_PCI_HOLE_START, 1));
	assert_null(gm_ptr(&gm, SKIFF_PCI_HOLE_START - 4, 8));	/* runs into the hole */
	gm_destroy(&gm);
	assert_int_equal(gm_init(&gm, 0), -EINVAL);
	assert_int_equal(gm_init(&gm, 4097), -EINVAL);
}

static void test_guest_mem_checked_access(void **state)
{
	(void)state;
	struct guest_mem gm;
	const uint64_t size = 1 << 20;
	assert_int_equal(gm_init(&gm, size), 0);
	assert_non_null(gm_ptr(&gm, 0, size));
	assert_non_null(gm_ptr(&gm, size - 1, 1));
	assert_null(gm_ptr(&gm, size, 0));	/* the end itself is not inside RAM */
	assert_null(gm_ptr(&gm, size - 1, 2));
	assert_null(gm_ptr(&gm, 1, UINT64_MAX));		/* length overflow */
	assert_null(gm_ptr(&gm, UINT64_MAX, 2));		/* address overflow */
	assert_null(gm_ptr(&gm, UINT64_MAX - 1, UINT64_MAX));
	uint8_t buf[16] = "0123456789abcdef", out[16];
	assert_int_equal(gm_write(&gm, 100, buf, sizeof(buf)), 0);
	assert_int_equal(gm_read(&gm, 100, out, sizeof(out)), 0);
	assert_memory_equal(buf, out, sizeof(buf));
	assert_int_equal(gm_write(&gm, size - 8, buf, sizeof(buf)), -EFAULT);
	assert_int_equal(gm_read(&gm, size, out, 1), -EFAULT);
	gm_destroy(&gm);
}

static size_t filt(struct console_escape *c, const char *in, char *out, bool *quit)
{
	size_t n = strlen(in);
	memcpy(out, in, n);
	return console_escape_filter(c, (uint8_t *)out, n, quit);
}

static void test_console_escape(void **state)
{
	(void)state;
	struct console_escape c = { .enabled = true };
	char b[32];
	bool quit;
	assert_int_equal(filt(&c, "abc", b, &quit), 3);
	assert_false(quit);
	assert_int_equal(filt(&c, "a\001xb", b, &quit), 1);	/* Ctrl-A x */
	assert_true(quit);
	c.pending = false;
	assert_int_equal(filt(&c, "\001\001", b, &quit), 1);	/* Ctrl-A Ctrl-A */
	assert_int_equal(b[0], 1);
	assert_false(quit);
	assert_int_equal(filt(&c, "\001z", b, &quit), 2);		/* both bytes pass */
	assert_memory_equal(b, "\001z", 2);
	/* the escape split across two reads */
	assert_int_equal(filt(&c, "a\001", b, &quit), 1);
	assert_true(c.pending);
	assert_int_equal(filt(&c, "X", b, &quit), 0);
	assert_true(quit);
	/* disabled: everything passes */
	struct console_escape off = { .enabled = false };
	assert_int_equal(filt(&off, "\001x", b, &quit), 2);
	assert_false(quit);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bus_refuses_overlaps),
		cmocka_unit_test(test_bus_wraparound),
		cmocka_unit_test(test_bus_dispatch),
		cmocka_unit_test(test_guest_mem_layout),
		cmocka_unit_test(test_guest_mem_checked_access),
		cmocka_unit_test(test_console_escape),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
