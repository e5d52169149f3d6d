/* Unit tests for the CMOS RTC, the i8042 and the debug ports
 * (src/dev/rtc.c, i8042.c, debugport.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/bus.h"
#include "dev/debugport.h"
#include "dev/i8042.h"
#include "dev/rtc.h"

struct fake {
	struct dev_host h;
	struct skiff_log log;
	char *logbuf;
	size_t logsize;
	int level[32];
	int irq_calls;
	int bad_irq;		/* out-of-range GSI or a repeated level */
	int stops;
	enum vm_stop_reason why;
	int code;
};

static void fake_set_irq(void *ctx, uint32_t gsi, int level)
{
	struct fake *f = ctx;
	if (gsi >= 32 || f->level[gsi] == level) {
		f->bad_irq++;
		return;
	}
	f->level[gsi] = level;
	f->irq_calls++;
}

static void fake_stop(void *ctx, enum vm_stop_reason why, int code)
{
	struct fake *f = ctx;
	f->stops++;
	f->why = why;
	f->code = code;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int setup(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->log.level = LOG_INFO;
	f->log.out = open_memstream(&f->logbuf, &f->logsize);
	assert_non_null(f->log.out);
	f->h = (struct dev_host){ .ctx = f, .set_irq = fake_set_irq,
				  .request_stop = fake_stop, .log = &f->log,
				  .start_ns = mono_ns() };
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fake *f = *state;
	fclose(f->log.out);
	free(f->logbuf);
	assert_int_equal(f->bad_irq, 0);
	free(f);
	return 0;
}

static uint8_t in8(bus_io_fn fn, void *dev, uint64_t off)
{
	uint8_t v = 0xff;
	fn(dev, off, &v, 1, false);
	return v;
}

static void out8(bus_io_fn fn, void *dev, uint64_t off, uint8_t v)
{
	fn(dev, off, &v, 1, true);
}

/* ---- RTC ---- */

static uint8_t cmos_read(struct rtc *r, uint8_t idx)
{
	out8(rtc_io, r, 0, idx);
	return in8(rtc_io, r, 1);
}

static void cmos_write(struct rtc *r, uint8_t idx, uint8_t v)
{
	out8(rtc_io, r, 0, idx);
	out8(rtc_io, r, 1, v);
}

static int bcd(uint8_t v)
{
	return (v >> 4) * 10 + (v & 0x0f);
}

/* Read the clock as Linux's mc146818_get_time() does and convert it. */
static time_t cmos_time(struct rtc *r)
{
	bool bin = cmos_read(r, 0x0b) & 0x04;
	int (*dec)(uint8_t) = bin ? NULL : bcd;
	uint8_t raw[6] = { cmos_read(r, 0x00), cmos_read(r, 0x02), cmos_read(r, 0x04),
			   cmos_read(r, 0x07), cmos_read(r, 0x08), cmos_read(r, 0x09) };
	int v[6];
	for (int i = 0; i < 6; i++)
		v[i] = dec ? dec(raw[i]) : raw[i];
	int century = dec ? dec(cmos_read(r, RTC_CENTURY_INDEX)) : cmos_read(r, RTC_CENTURY_INDEX);
	struct tm tm = { .tm_sec = v[0], .tm_min = v[1], .tm_hour = v[2], .tm_mday = v[3],
			 .tm_mon = v[4] - 1, .tm_year = century * 100 + v[5] - 1900 };
	return timegm(&tm);
}

static void assert_near_now(time_t t, long off)
{
	long d = (long)(t - time(NULL)) - off;
	assert_true(d >= -2 && d <= 2);
}

static void test_rtc_bcd_and_binary(void **state)
{
	struct fake *f = *state;
	struct rtc *r = rtc_create(&f->h);
	assert_non_null(r);

	assert_int_equal(cmos_read(r, 0x0a), 0x26);
	assert_int_equal(cmos_read(r, 0x0b), 0x02);
	assert_int_equal(cmos_read(r, 0x0d), 0x80);
	/* BCD: every time byte is valid BCD. */
	for (uint8_t i = 0; i <= 9; i++) {
		uint8_t v = cmos_read(r, i);
		if (i == 1 || i == 3 || i == 5)
			continue;			/* alarms: RAM */
		assert_true((v & 0x0f) <= 9 && (v >> 4) <= 9);
	}
	assert_near_now(cmos_time(r), 0);
	assert_int_equal(bcd(cmos_read(r, RTC_CENTURY_INDEX)), 20);

	cmos_write(r, 0x0b, 0x06);			/* binary, 24h */
	assert_int_equal(cmos_read(r, 0x0b), 0x06);
	assert_true(cmos_read(r, 0x00) < 60 && cmos_read(r, 0x04) < 24);
	assert_near_now(cmos_time(r), 0);

	/* 12-hour mode: bit 7 is PM. */
	cmos_write(r, 0x0b, 0x00);
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	uint8_t h = cmos_read(r, 0x04);
	int h12 = bcd(h & 0x7f);
	assert_true(h12 >= 1 && h12 <= 12);
	if (tm.tm_min != 59 || tm.tm_sec < 58) {	/* not at an hour edge */
		assert_int_equal(!!(h & 0x80), tm.tm_hour >= 12);
		assert_int_equal(h12 % 12, tm.tm_hour % 12);
	}
	rtc_destroy(r);
}

static void test_rtc_registers(void **state)
{
	struct fake *f = *state;
	struct rtc *r = rtc_create(&f->h);

	/* Bit 7 of the index is the NMI mask: ignored. */
	out8(rtc_io, r, 0, 0x80 | 0x0d);
	assert_int_equal(in8(rtc_io, r, 1), 0x80);
	assert_int_equal(in8(rtc_io, r, 0), 0xff);	/* index port: write-only */
	/* C reads 0, clears, and ignores writes; D ignores writes. */
	cmos_write(r, 0x0c, 0xff);
	assert_int_equal(cmos_read(r, 0x0c), 0);
	assert_int_equal(cmos_read(r, 0x0c), 0);
	cmos_write(r, 0x0d, 0x00);
	assert_int_equal(cmos_read(r, 0x0d), 0x80);
	/* A: UIP is never set, even when written. */
	cmos_write(r, 0x0a, 0xa6);
	assert_int_equal(cmos_read(r, 0x0a), 0x26);
	/* RAM and alarm bytes keep what is written. */
	for (unsigned i = 0x0e; i < 0x80; i++)
		if (i != RTC_CENTURY_INDEX)
			cmos_write(r, (uint8_t)i, (uint8_t)(i ^ 0x5a));
	for (unsigned i = 0x0e; i < 0x80; i++)
		if (i != RTC_CENTURY_INDEX)
			assert_int_equal(cmos_read(r, (uint8_t)i), i ^ 0x5a);
	cmos_write(r, 0x01, 0x33);
	assert_int_equal(cmos_read(r, 0x01), 0x33);
	/* A 16-bit write to 0x70 sets index and data at once. */
	uint8_t w[2] = { 0x40, 0x77 };
	rtc_io(r, 0, w, 2, true);
	assert_int_equal(cmos_read(r, 0x40), 0x77);
	rtc_destroy(r);
}

static void test_rtc_set_time(void **state)
{
	struct fake *f = *state;
	struct rtc *r = rtc_create(&f->h);

	/* As mc146818_set_time(): SET on, write fields, SET off. */
	cmos_write(r, 0x0b, 0x82);
	cmos_write(r, 0x09, 0x99);
	cmos_write(r, 0x08, 0x12);
	cmos_write(r, 0x07, 0x31);
	cmos_write(r, 0x04, 0x23);
	cmos_write(r, 0x02, 0x59);
	cmos_write(r, 0x00, 0x50);
	cmos_write(r, RTC_CENTURY_INDEX, 0x19);
	assert_int_equal(cmos_read(r, 0x00), 0x50);	/* frozen while SET */
	cmos_write(r, 0x0b, 0x02);
	struct tm want = { .tm_year = 99, .tm_mon = 11, .tm_mday = 31,
			   .tm_hour = 23, .tm_min = 59, .tm_sec = 50 };
	time_t t = cmos_time(r);
	long d = (long)(t - timegm(&want));
	assert_true(d >= 0 && d <= 2);

	/* A single field write without SET moves the clock at once. */
	cmos_write(r, 0x09, 0x98);
	d = (long)(cmos_time(r) - timegm(&want));
	assert_true(d <= -365L * 86400 + 3 && d >= -365L * 86400 - 1);
	/* Garbage (invalid BCD) is accepted without harm. */
	cmos_write(r, 0x08, 0xff);
	cmos_write(r, 0x04, 0xff);
	cmos_read(r, 0x00);
	rtc_destroy(r);
}

/* ---- i8042 ---- */

static void test_i8042(void **state)
{
	struct fake *f = *state;
	struct i8042 *k = i8042_create(&f->h);
	assert_non_null(k);

	uint8_t st = in8(i8042_io_cmd, k, 0);
	assert_int_equal(st & 0x03, 0);			/* no data, input empty */
	/* Self-test. */
	out8(i8042_io_cmd, k, 0, 0xaa);
	assert_int_equal(in8(i8042_io_cmd, k, 0) & 0x01, 0x01);
	assert_int_equal(in8(i8042_io_data, k, 0), 0x55);
	assert_int_equal(in8(i8042_io_cmd, k, 0) & 0x01, 0x00);
	/* Command byte read/write. */
	out8(i8042_io_cmd, k, 0, 0x20);
	uint8_t ctr = in8(i8042_io_data, k, 0);
	assert_int_equal(ctr & 0x03, 0);		/* interrupts off */
	out8(i8042_io_cmd, k, 0, 0x60);
	out8(i8042_io_data, k, 0, 0x47);
	out8(i8042_io_cmd, k, 0, 0x20);
	assert_int_equal(f->level[I8042_KBD_GSI], 1);	/* reply + KBDINT */
	assert_int_equal(in8(i8042_io_data, k, 0), 0x47);
	assert_int_equal(f->level[I8042_KBD_GSI], 0);
	/* Aux loopback (0xd3) comes back as aux data on IRQ 12. */
	out8(i8042_io_cmd, k, 0, 0xd3);
	out8(i8042_io_data, k, 0, 0xa5);
	assert_int_equal(in8(i8042_io_cmd, k, 0) & 0x21, 0x21);
	assert_int_equal(f->level[I8042_AUX_GSI], 1);
	assert_int_equal(in8(i8042_io_data, k, 0), 0xa5);
	assert_int_equal(f->level[I8042_AUX_GSI], 0);
	/* Two queued replies give two edges. */
	out8(i8042_io_cmd, k, 0, 0xaa);
	out8(i8042_io_cmd, k, 0, 0xab);
	int calls = f->irq_calls;
	assert_int_equal(in8(i8042_io_data, k, 0), 0x55);
	assert_int_equal(f->irq_calls, calls + 2);	/* down, up again */
	assert_int_equal(in8(i8042_io_data, k, 0), 0x00);
	assert_int_equal(f->level[I8042_KBD_GSI], 0);
	/* Bytes for the (absent) mouse vanish; the keyboard answers
	 * (test_i8042_kbd.c has the details). */
	out8(i8042_io_cmd, k, 0, 0xd4);
	out8(i8042_io_data, k, 0, 0xf2);
	assert_int_equal(in8(i8042_io_cmd, k, 0) & 0x01, 0);
	out8(i8042_io_data, k, 0, 0xf4);
	assert_int_equal(in8(i8042_io_data, k, 0), 0xfa);
	assert_int_equal(f->stops, 0);
	/* A20 via the output port is not a reset... */
	out8(i8042_io_cmd, k, 0, 0xd1);
	out8(i8042_io_data, k, 0, 0xdf);
	assert_int_equal(f->stops, 0);
	out8(i8042_io_cmd, k, 0, 0xd0);
	assert_int_equal(in8(i8042_io_data, k, 0), 0xdf);
	/* ...0xfe is. */
	out8(i8042_io_cmd, k, 0, 0xfe);
	assert_int_equal(f->stops, 1);
	assert_int_equal(f->why, VM_STOP_RESET);
	assert_int_equal(f->code, 0);
	out8(i8042_io_cmd, k, 0, 0xd1);
	out8(i8042_io_data, k, 0, 0xde);
	assert_int_equal(f->stops, 2);
	out8(i8042_io_cmd, k, 0, 0xff);			/* pulse nothing */
	assert_int_equal(f->stops, 2);
	i8042_destroy(k);
}

/* ---- debug ports ---- */

static void test_debug_exit(void **state)
{
	struct fake *f = *state;
	struct debugport *d = debugport_create(&f->h);
	assert_non_null(d);

	assert_int_equal(in8(debugport_exit_io, d, 0), 0xff);
	assert_int_equal(f->stops, 0);
	out8(debugport_exit_io, d, 0, 42);
	assert_int_equal(f->stops, 1);
	assert_int_equal(f->why, VM_STOP_DEBUG_EXIT);
	assert_int_equal(f->code, 42);
	uint8_t v[4] = { 0x01, 0x56, 0x34, 0x12 };	/* outl 0x12345601 */
	debugport_exit_io(d, 0, v, 4, true);
	assert_int_equal(f->stops, 2);
	assert_int_equal(f->code, 1);
	uint8_t w[2] = { 0xff, 0x00 };
	debugport_exit_io(d, 0, w, 2, true);
	assert_int_equal(f->code, 255);
	debugport_destroy(d);
}

static void test_boot_timer(void **state)
{
	struct fake *f = *state;
	struct debugport *d = debugport_create(&f->h);

	assert_int_equal(debugport_boot_time_ns(d), 0);
	out8(debugport_timer_io, d, 0, 122);
	out8(debugport_timer_io, d, 0, 0);
	assert_int_equal(debugport_boot_time_ns(d), 0);
	assert_int_equal(in8(debugport_timer_io, d, 0), 0xff);
	uint64_t before = mono_ns() - f->h.start_ns;
	out8(debugport_timer_io, d, 0, 123);
	uint64_t after = mono_ns() - f->h.start_ns;
	uint64_t t = debugport_boot_time_ns(d);
	assert_true(t >= before && t <= after);
	out8(debugport_timer_io, d, 0, 123);	/* the first one stays */
	assert_int_equal(debugport_boot_time_ns(d), t);
	fflush(f->log.out);
	assert_non_null(strstr(f->logbuf, "guest boot timer: "));
	assert_non_null(strstr(f->logbuf, " us since skiff started"));
	assert_int_equal(f->stops, 0);
	debugport_destroy(d);
}

static void test_post_and_sysctl(void **state)
{
	struct fake *f = *state;
	struct debugport *d = debugport_create(&f->h);

	out8(debugport_post_io, d, 0, 0x12);
	assert_int_equal(in8(debugport_post_io, d, 0), 0xff);
	out8(debugport_sysctl_io, d, 0, 0xff);
	uint8_t a = in8(debugport_sysctl_io, d, 0);
	uint8_t b = in8(debugport_sysctl_io, d, 0);
	assert_int_equal(a & 0x0f, 0x0f);
	assert_int_equal((a ^ b) & 0x20, 0x20);		/* PIT OUT2 moves */
	assert_int_equal(a & 0xc0, 0);
	assert_int_equal(f->stops, 0);
	debugport_destroy(d);
}

/* ---- fuzz: every port, random values, no crash ---- */

static void test_fuzz(void **state)
{
	struct fake *f = *state;
	struct rtc *r = rtc_create(&f->h);
	struct i8042 *k = i8042_create(&f->h);
	struct debugport *d = debugport_create(&f->h);
	bus_io_fn fns[] = { rtc_io, i8042_io_data, i8042_io_cmd, debugport_exit_io,
			    debugport_timer_io, debugport_post_io, debugport_sysctl_io };
	void *devs[] = { r, k, k, d, d, d, d };
	unsigned seed = 4242;

	for (int i = 0; i < 30000; i++) {
		unsigned which = (unsigned)rand_r(&seed) % 7;
		uint8_t data[8];
		for (int j = 0; j < 8; j++)
			data[j] = (uint8_t)rand_r(&seed);
		uint64_t off = (uint64_t)rand_r(&seed) % 5;
		uint32_t len = 1u << (rand_r(&seed) % 4);
		fns[which](devs[which], off, data, len, rand_r(&seed) & 1);
	}
	/* The clock still reads sane BCD-or-binary values. */
	cmos_write(r, 0x0b, 0x02);
	uint8_t s = cmos_read(r, 0x00);
	assert_true(bcd(s) < 60);
	rtc_destroy(r);
	i8042_destroy(k);
	debugport_destroy(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rtc_bcd_and_binary, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rtc_registers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rtc_set_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_i8042, setup, teardown),
		cmocka_unit_test_setup_teardown(test_debug_exit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_boot_timer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_post_and_sysctl, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fuzz, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
