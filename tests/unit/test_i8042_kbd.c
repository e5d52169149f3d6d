/* Unit tests for the PS/2 keyboard on the i8042 (src/dev/ps2kbd.c and its
 * wiring in i8042.c): the commands Linux's atkbd sends, set-2 -> set-1
 * translation, injected Ctrl-Alt-Del, IRQ 1 edges, queue limits and hostile
 * byte sequences. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/bus.h"
#include "dev/i8042.h"
#include "dev/ps2kbd.h"

#define STS_OBF		0x01
#define STS_AUX		0x20
#define CTR_KBDINT	0x01
#define CTR_KBDDIS	0x10
#define CTR_XLATE	0x40

struct fake {
	struct dev_host h;
	struct skiff_log log;
	char *logbuf;
	size_t logsize;
	int level[32];
	int rises[32];		/* rising edges per GSI */
	int bad_irq;		/* out-of-range GSI or a repeated level */
	int stops;
	struct i8042 *k;
};

static void fake_set_irq(void *ctx, uint32_t gsi, int level)
{
	struct fake *f = ctx;
	if (gsi >= 32 || f->level[gsi] == level) {
		f->bad_irq++;
		return;
	}
	f->level[gsi] = level;
	f->rises[gsi] += level;
}

static void fake_stop(void *ctx, enum vm_stop_reason why, int code)
{
	struct fake *f = ctx;
	(void)why;
	(void)code;
	f->stops++;
}

static int setup(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->log.level = LOG_INFO;
	f->log.out = open_memstream(&f->logbuf, &f->logsize);
	assert_non_null(f->log.out);
	f->h = (struct dev_host){ .ctx = f, .set_irq = fake_set_irq,
				  .request_stop = fake_stop, .log = &f->log };
	f->k = i8042_create(&f->h);
	assert_non_null(f->k);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fake *f = *state;
	i8042_destroy(f->k);
	fclose(f->log.out);
	free(f->logbuf);
	assert_int_equal(f->bad_irq, 0);
	free(f);
	return 0;
}

static uint8_t status(struct fake *f)
{
	uint8_t v = 0;
	i8042_io_cmd(f->k, 0, &v, 1, false);
	return v;
}

static uint8_t data(struct fake *f)
{
	uint8_t v = 0;
	i8042_io_data(f->k, 0, &v, 1, false);
	return v;
}

static void cmd(struct fake *f, uint8_t v)
{
	i8042_io_cmd(f->k, 0, &v, 1, true);
}

static void put(struct fake *f, uint8_t v)
{
	i8042_io_data(f->k, 0, &v, 1, true);
}

static void set_ctr(struct fake *f, uint8_t ctr)
{
	cmd(f, 0x60);
	put(f, ctr);
}

/* Read everything waiting (as a polling driver does) into out; returns the
 * count. Every byte must be keyboard data. */
static size_t drain(struct fake *f, uint8_t *out, size_t max)
{
	size_t n = 0;
	while (status(f) & STS_OBF) {
		assert_int_equal(status(f) & STS_AUX, 0);
		assert_true(n < max);
		out[n++] = data(f);
	}
	return n;
}

/* Send one byte to the keyboard and check the exact reply. */
static void expect_reply(struct fake *f, uint8_t b, const uint8_t *want, size_t n)
{
	uint8_t got[16];
	put(f, b);
	size_t m = drain(f, got, sizeof(got));
	assert_int_equal(m, n);
	assert_memory_equal(got, want, n);
}

#define REPLY(f, b, ...) do { \
		const uint8_t w_[] = { __VA_ARGS__ }; \
		expect_reply(f, b, w_, sizeof(w_)); \
	} while (0)

/* What atkbd sends at probe and activation, on a translated port and on a
 * raw one (i8042.direct). */
static void test_commands(void **state)
{
	struct fake *f = *state;

	set_ctr(f, CTR_XLATE);		/* as Linux leaves it; interrupts off */
	REPLY(f, 0xf2, 0xfa, 0xab, 0x41);	/* GETID: 0x83 translates to 0x41 */
	REPLY(f, 0xf5, 0xfa);			/* reset to defaults, disable */
	REPLY(f, 0xed, 0xfa);			/* LEDs ... */
	REPLY(f, 0x02, 0xfa);			/* ... num lock */
	REPLY(f, 0xf3, 0xfa);			/* typematic ... */
	REPLY(f, 0x20, 0xfa);
	REPLY(f, 0xf4, 0xfa);			/* enable */
	REPLY(f, 0xff, 0xfa, 0xaa);		/* reset: ACK, self-test passed */
	REPLY(f, 0xee, 0xee);			/* echo */
	REPLY(f, 0xf6, 0xfa);
	REPLY(f, 0xf8, 0xfa);			/* set-3 key type: harmless */
	REPLY(f, 0x12, 0xfe);			/* not a command */
	REPLY(f, 0xea, 0xfe);			/* atkbd's EX_ENABLE: unknown */
	REPLY(f, 0xfe, 0xfe);			/* resend: the last byte again */

	set_ctr(f, 0);				/* raw: set 2 as the keyboard sends it */
	REPLY(f, 0xf2, 0xfa, 0xab, 0x83);
	REPLY(f, 0xf0, 0xfa);			/* scan set: query */
	REPLY(f, 0x00, 0xfa, 0x02);
	REPLY(f, 0xf0, 0xfa);			/* set 3: refused */
	REPLY(f, 0x03, 0xfe);
	REPLY(f, 0xf0, 0xfa);
	REPLY(f, 0x02, 0xfa);
	REPLY(f, 0xfe, 0xfa);			/* resend */
	/* An argument-taking command abandoned for a new command. */
	REPLY(f, 0xed, 0xfa);
	REPLY(f, 0xf2, 0xfa, 0xab, 0x83);
	REPLY(f, 0x02, 0xfe);			/* no longer an argument */
	/* Mouse bytes (0xd4) never reach the keyboard. */
	cmd(f, 0xd4);
	put(f, 0xf2);
	assert_int_equal(status(f) & STS_OBF, 0);
	assert_int_equal(f->stops, 0);
}

static const uint8_t cad_set1[] = { 0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d };
static const uint8_t cad_set2[] = { 0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71,
				    0xf0, 0x11, 0xf0, 0x14 };

/* Ctrl-Alt-Del: set 1 through a translating controller, with one IRQ 1
 * edge per byte; set 2 through a raw one. */
static void test_ctrl_alt_del(void **state)
{
	struct fake *f = *state;
	uint8_t got[32];

	set_ctr(f, CTR_XLATE | CTR_KBDINT);
	assert_int_equal(i8042_send_ctrl_alt_del(f->k), 0);
	assert_int_equal(f->level[I8042_KBD_GSI], 1);
	size_t n = 0;
	while (f->level[I8042_KBD_GSI]) {	/* an interrupt-driven reader */
		assert_true(n < sizeof(got));
		got[n++] = data(f);
	}
	assert_int_equal(n, sizeof(cad_set1));
	assert_memory_equal(got, cad_set1, n);
	assert_int_equal(f->rises[I8042_KBD_GSI], (int)n);
	assert_int_equal(f->rises[I8042_AUX_GSI], 0);

	set_ctr(f, 0);				/* raw, polled: no interrupts */
	int rises = f->rises[I8042_KBD_GSI];
	assert_int_equal(i8042_send_ctrl_alt_del(f->k), 0);
	n = drain(f, got, sizeof(got));
	assert_int_equal(n, sizeof(cad_set2));
	assert_memory_equal(got, cad_set2, n);
	assert_int_equal(f->rises[I8042_KBD_GSI], rises);
	assert_int_equal(i8042_kbd_dropped(f->k), 0);
}

/* A disabled keyboard port holds the bytes (no OBF, no IRQ) until 0xAE;
 * translation follows XLATE as each byte is delivered, and a swallowed
 * break prefix marks the next code. */
static void test_port_disable_and_xlate(void **state)
{
	struct fake *f = *state;
	uint8_t got[32];

	set_ctr(f, CTR_XLATE | CTR_KBDINT | CTR_KBDDIS);
	assert_int_equal(i8042_send_ctrl_alt_del(f->k), 0);
	assert_int_equal(status(f) & STS_OBF, 0);
	assert_int_equal(f->level[I8042_KBD_GSI], 0);
	cmd(f, 0xae);				/* enable the keyboard port */
	assert_int_equal(status(f) & STS_OBF, STS_OBF);
	assert_int_equal(f->level[I8042_KBD_GSI], 1);
	assert_int_equal(drain(f, got, sizeof(got)), sizeof(cad_set1));
	assert_memory_equal(got, cad_set1, sizeof(cad_set1));

	/* 0x76 is Esc (0x01 in set 1); F0 76 its release (0x81). A run of
	 * prefixes still yields one code. */
	const uint8_t keys[] = { 0x76, 0xf0, 0xf0, 0xf0, 0x76, 0x83, 0x00 };
	assert_int_equal(i8042_kbd_send(f->k, keys, sizeof(keys)), 0);
	assert_int_equal(drain(f, got, sizeof(got)), 4);
	const uint8_t want[] = { 0x01, 0x81, 0x41, 0xff };
	assert_memory_equal(got, want, sizeof(want));
}

/* The queue never overflows: a unit that does not fit is dropped whole and
 * counted; a keyboard the guest disabled (0xF5) takes nothing. */
static void test_queue_limits(void **state)
{
	struct fake *f = *state;
	uint8_t got[PS2KBD_QUEUE + 8];

	set_ctr(f, 0);
	/* One byte moves into the output buffer, the rest wait: 11n - 1 <= 64. */
	for (int i = 0; i < 5; i++)
		assert_int_equal(i8042_send_ctrl_alt_del(f->k), 0);
	assert_int_equal(i8042_send_ctrl_alt_del(f->k), -ENOSPC);
	assert_int_equal(i8042_kbd_dropped(f->k), sizeof(cad_set2));
	uint8_t big[PS2KBD_QUEUE + 1];
	memset(big, 0x1c, sizeof(big));
	assert_int_equal(i8042_kbd_send(f->k, big, sizeof(big)), -ENOSPC);
	assert_int_equal(i8042_kbd_send(f->k, big, SIZE_MAX), -ENOSPC);
	assert_int_equal(i8042_kbd_send(f->k, big, 0), 0);
	size_t n = drain(f, got, sizeof(got));
	assert_int_equal(n, 5 * sizeof(cad_set2));
	for (size_t i = 0; i < n; i++)
		assert_int_equal(got[i], cad_set2[i % sizeof(cad_set2)]);
	/* Empty again: a queue-sized unit fits exactly. */
	assert_int_equal(i8042_kbd_send(f->k, big, PS2KBD_QUEUE), 0);
	/* Disable: the byte already in the output buffer, then the ACK; the
	 * 63 queued bytes are flushed. */
	REPLY(f, 0xf5, 0x1c, 0xfa);
	uint64_t dropped = i8042_kbd_dropped(f->k);
	assert_int_equal(i8042_send_ctrl_alt_del(f->k), -EAGAIN);
	assert_int_equal(i8042_kbd_dropped(f->k), dropped + sizeof(cad_set2));
	assert_int_equal(status(f) & STS_OBF, 0);
	REPLY(f, 0xf4, 0xfa);
	assert_int_equal(i8042_send_ctrl_alt_del(f->k), 0);
}

/* Replies to the guest's commands are not stuck behind queued key codes,
 * but the byte already in the output buffer stays first. */
static void test_reply_priority(void **state)
{
	struct fake *f = *state;
	uint8_t got[32];

	set_ctr(f, 0);
	assert_int_equal(i8042_send_ctrl_alt_del(f->k), 0);
	put(f, 0xee);
	assert_int_equal(drain(f, got, sizeof(got)), sizeof(cad_set2) + 1);
	assert_int_equal(got[0], 0x14);
	assert_int_equal(got[1], 0xee);
	assert_memory_equal(got + 2, cad_set2 + 1, sizeof(cad_set2) - 1);
}

/* Hostile guest: random bytes to both ports, interleaved with injections.
 * Nothing may crash, the lines must only toggle, and a full drain ends. */
static void test_hostile(void **state)
{
	struct fake *f = *state;
	uint32_t x = 0x12345678;
	uint8_t got[256];

	for (int i = 0; i < 200000; i++) {
		x = x * 1664525u + 1013904223u;
		uint8_t v = (uint8_t)(x >> 24);
		switch ((x >> 8) & 7) {
		case 0: case 1:
			if (v == 0xfe || (v >= 0xf0 && !(v & 1)) || v == 0xd1)
				v = 0xae;	/* keep the reset paths out of it */
			cmd(f, v);
			break;
		case 2: case 3:
			put(f, (v & 1) ? v : v | 0x01);	/* bit 0: never a reset */
			break;
		case 4:
			(void)data(f);
			break;
		case 5:
			(void)status(f);
			break;
		case 6:
			(void)i8042_kbd_send(f->k, &v, 1);
			break;
		default:
			(void)i8042_send_ctrl_alt_del(f->k);
			break;
		}
	}
	cmd(f, 0xae);
	set_ctr(f, CTR_XLATE);
	size_t n = 0;
	while ((status(f) & STS_OBF) && n < 10 * sizeof(got)) {
		(void)data(f);
		n++;
	}
	assert_true(n <= 8 + PS2KBD_QUEUE + PS2KBD_REPLY);
	(void)got;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_commands, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ctrl_alt_del, setup, teardown),
		cmocka_unit_test_setup_teardown(test_port_disable_and_xlate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reply_priority, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
