/* 8042 keyboard controller with a PS/2 keyboard on its first port. See
 * i8042.h. Command set: IBM PC/AT Technical Reference (keyboard controller)
 * and the PS/2 extensions (0xA7-0xA9, 0xD2-0xD4) that Linux's i8042 driver
 * uses. */
#include "dev/i8042.h"
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

/* Status register bits. */
#define STR_OBF		0x01	/* output buffer full */
#define STR_SYS		0x04	/* system flag (from the command byte) */
#define STR_CMD		0x08	/* last input byte was a command */
#define STR_UNLOCKED	0x10	/* keyboard not inhibited by the keylock */
#define STR_AUXDATA	0x20	/* output byte came from the aux port */

/* Command byte ("CTR") bits. */
#define CTR_KBDINT	0x01
#define CTR_AUXINT	0x02
#define CTR_SYS		0x04
#define CTR_KBDDIS	0x10
#define CTR_AUXDIS	0x20
#define CTR_XLATE	0x40

#define OUTP_RESET_N	0x01	/* output port bit 0: CPU reset, active low */
#define OUTP_A20	0x02

#define OBUF_SIZE	8	/* queued replies; the guest reads one at a time */

/* The controller's scan code translation (command byte XLATE), set 2 ->
 * set 1, for codes 0x00-0x7F; a set-2 break prefix 0xF0 is swallowed and
 * sets bit 7 of the next translated code. Above 0x7F codes pass unchanged
 * except 0x83 (F7) and 0x84 (Alt+SysRq). IBM PS/2 Hardware Interface
 * Technical Reference, keyboard controller, scan code translation. */
static const uint8_t xlate_lo[128] = {
	0xff, 0x43, 0x41, 0x3f, 0x3d, 0x3b, 0x3c, 0x58, 0x64, 0x44, 0x42, 0x40, 0x3e, 0x0f, 0x29, 0x59,
	0x65, 0x38, 0x2a, 0x70, 0x1d, 0x10, 0x02, 0x5a, 0x66, 0x71, 0x2c, 0x1f, 0x1e, 0x11, 0x03, 0x5b,
	0x67, 0x2e, 0x2d, 0x20, 0x12, 0x05, 0x04, 0x5c, 0x68, 0x39, 0x2f, 0x21, 0x14, 0x13, 0x06, 0x5d,
	0x69, 0x31, 0x30, 0x23, 0x22, 0x15, 0x07, 0x5e, 0x6a, 0x72, 0x32, 0x24, 0x16, 0x08, 0x09, 0x5f,
	0x6b, 0x33, 0x25, 0x17, 0x18, 0x0b, 0x0a, 0x60, 0x6c, 0x34, 0x35, 0x26, 0x27, 0x19, 0x0c, 0x61,
	0x6d, 0x73, 0x28, 0x74, 0x1a, 0x0d, 0x62, 0x6e, 0x3a, 0x36, 0x1c, 0x1b, 0x75, 0x2b, 0x63, 0x76,
	0x55, 0x56, 0x77, 0x78, 0x79, 0x7a, 0x0e, 0x7b, 0x7c, 0x4f, 0x7d, 0x4b, 0x47, 0x7e, 0x7f, 0x6f,
	0x52, 0x53, 0x50, 0x4c, 0x4d, 0x48, 0x01, 0x45, 0x57, 0x4e, 0x51, 0x4a, 0x37, 0x49, 0x46, 0x54,
};

static uint8_t xlate(uint8_t b)
{
	if (b < 0x80)
		return xlate_lo[b];
	if (b == 0x83)
		return 0x41;
	if (b == 0x84)
		return 0x54;
	return b;
}

struct obuf_byte {
	uint8_t val;
	bool aux;
};

/* Plain data for snapshots. */
struct i8042_state {
	uint8_t ram[32];	/* internal RAM; ram[0] is the command byte */
	uint8_t outport;
	uint8_t pending;	/* command waiting for its data byte, or 0 */
	bool last_was_cmd;
	struct obuf_byte obuf[OBUF_SIZE];
	uint8_t ob_head, ob_count;
	uint8_t last_read;	/* data port value when the buffer is empty */
	bool kbd_level, aux_level;
	bool xlate_break;	/* translating: a set-2 0xF0 was swallowed */
	struct ps2kbd_state kbd;	/* the keyboard on the first port */
};

struct i8042 {
	pthread_mutex_t lock;
	const struct dev_host *host;
	uint32_t kbd_gsi, aux_gsi;
	struct i8042_state st;
};

static void set_line(struct i8042 *k, bool *cur, uint32_t gsi, bool level)
{
	if (*cur != level) {
		*cur = level;
		k->host->set_irq(k->host->ctx, gsi, level);
	}
}

static void update_irq(struct i8042 *k)
{
	struct i8042_state *st = &k->st;
	bool kbd = false, aux = false;

	if (st->ob_count) {
		bool is_aux = st->obuf[st->ob_head].aux;
		kbd = !is_aux && (st->ram[0] & CTR_KBDINT);
		aux = is_aux && (st->ram[0] & CTR_AUXINT);
	}
	set_line(k, &st->kbd_level, k->kbd_gsi, kbd);
	set_line(k, &st->aux_level, k->aux_gsi, aux);
}

static void obuf_push(struct i8042_state *st, uint8_t v, bool aux)
{
	if (st->ob_count == OBUF_SIZE)
		return;		/* the guest is not reading: drop */
	st->obuf[(st->ob_head + st->ob_count) % OBUF_SIZE] = (struct obuf_byte){ v, aux };
	st->ob_count++;
}

/* Clock one byte in from the keyboard when the output buffer is free and
 * the keyboard port is enabled, translating it if XLATE is set; as on the
 * real part, the keyboard holds its bytes while the buffer is full. */
static void pump_kbd(struct i8042_state *st)
{
	uint8_t b;

	if (st->ob_count || (st->ram[0] & CTR_KBDDIS))
		return;
	while (ps2kbd_read(&st->kbd, &b)) {
		if (!(st->ram[0] & CTR_XLATE)) {
			obuf_push(st, b, false);
			return;
		}
		if (b == PS2_SC2_BREAK) {
			st->xlate_break = true;	/* at most PS2KBD_QUEUE rounds */
			continue;
		}
		obuf_push(st, xlate(b) | (st->xlate_break ? 0x80 : 0), false);
		st->xlate_break = false;
		return;
	}
}

static void cpu_reset(struct i8042 *k, const char *how)
{
	skiff_log(k->host->log, LOG_DEBUG, "i8042: guest reset (%s)", how);
	k->host->request_stop(k->host->ctx, VM_STOP_RESET, 0);
}

static uint8_t status(const struct i8042_state *st)
{
	uint8_t s = STR_UNLOCKED | (st->ram[0] & CTR_SYS ? STR_SYS : 0);
	if (st->last_was_cmd)
		s |= STR_CMD;
	if (st->ob_count) {
		s |= STR_OBF;
		if (st->obuf[st->ob_head].aux)
			s |= STR_AUXDATA;
	}
	return s;
}

static void command(struct i8042 *k, uint8_t cmd)
{
	struct i8042_state *st = &k->st;

	st->pending = 0;
	if (cmd >= 0x20 && cmd <= 0x3f) {
		obuf_push(st, st->ram[cmd & 0x1f], false);	/* read RAM */
		return;
	}
	if (cmd >= 0xf0) {
		if (!(cmd & OUTP_RESET_N))	/* pulse the reset line */
			cpu_reset(k, "pulse command");
		return;
	}
	switch (cmd) {
	case 0xa7: st->ram[0] |= CTR_AUXDIS; break;
	case 0xa8: st->ram[0] &= ~CTR_AUXDIS; break;
	case 0xa9: obuf_push(st, 0x00, false); break;	/* aux interface OK */
	case 0xaa: obuf_push(st, 0x55, false); break;	/* self-test passed */
	case 0xab: obuf_push(st, 0x00, false); break;	/* kbd interface OK */
	case 0xad: st->ram[0] |= CTR_KBDDIS; break;
	case 0xae: st->ram[0] &= ~CTR_KBDDIS; break;
	case 0xd0: obuf_push(st, st->outport, false); break;
	default:
		/* 0x60-0x7f (write RAM), 0xd1-0xd4 take a data byte. */
		if ((cmd >= 0x60 && cmd <= 0x7f) || (cmd >= 0xd1 && cmd <= 0xd4))
			st->pending = cmd;
		/* anything else: not implemented, ignored */
		break;
	}
}

static void data_write(struct i8042 *k, uint8_t v)
{
	struct i8042_state *st = &k->st;
	uint8_t cmd = st->pending;

	st->pending = 0;
	if (cmd >= 0x60 && cmd <= 0x7f) {
		st->ram[cmd & 0x1f] = v;
	} else if (cmd == 0xd1) {
		st->outport = v;
		if (!(v & OUTP_RESET_N))
			cpu_reset(k, "output port");
	} else if (cmd == 0xd2 || cmd == 0xd3) {
		obuf_push(st, v, cmd == 0xd3);
	} else if (cmd == 0) {
		ps2kbd_write(&st->kbd, v);	/* no command: for the keyboard */
	}
	/* 0xd4: a byte for the mouse; none is attached, so it is lost. */
}

static uint8_t data_read(struct i8042 *k)
{
	struct i8042_state *st = &k->st;

	if (!st->ob_count)
		return st->last_read;
	st->last_read = st->obuf[st->ob_head].val;
	st->ob_head = (st->ob_head + 1) % OBUF_SIZE;
	st->ob_count--;
	/* Drop both lines so the next queued byte makes a fresh edge. */
	set_line(k, &st->kbd_level, k->kbd_gsi, false);
	set_line(k, &st->aux_level, k->aux_gsi, false);
	return st->last_read;
}

struct i8042 *i8042_create(const struct dev_host *h)
{
	struct i8042 *k = calloc(1, sizeof(*k));
	if (!k)
		return NULL;
	if (pthread_mutex_init(&k->lock, NULL)) {
		free(k);
		return NULL;
	}
	k->host = h;
	k->kbd_gsi = I8042_KBD_GSI;
	k->aux_gsi = I8042_AUX_GSI;
	k->st.ram[0] = CTR_XLATE | CTR_AUXDIS | CTR_SYS;
	k->st.outport = OUTP_RESET_N | OUTP_A20;
	ps2kbd_init(&k->st.kbd);
	return k;
}

void i8042_destroy(struct i8042 *k)
{
	if (!k)
		return;
	pthread_mutex_destroy(&k->lock);
	free(k);
}

void i8042_io_data(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct i8042 *k = opaque;

	if (offset != 0 || len == 0)
		return;
	pthread_mutex_lock(&k->lock);
	if (is_write) {
		k->st.last_was_cmd = false;
		data_write(k, data[0]);
	} else {
		data[0] = data_read(k);
	}
	pump_kbd(&k->st);
	update_irq(k);
	pthread_mutex_unlock(&k->lock);
}

void i8042_io_cmd(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct i8042 *k = opaque;

	if (offset != 0 || len == 0)
		return;
	pthread_mutex_lock(&k->lock);
	if (is_write) {
		k->st.last_was_cmd = true;
		command(k, data[0]);
	} else {
		data[0] = status(&k->st);
	}
	pump_kbd(&k->st);
	update_irq(k);
	pthread_mutex_unlock(&k->lock);
}

/* Called with the lock held after the keyboard took input: deliver what
 * fits, drive the lines, unlock. */
static int kbd_input_done(struct i8042 *k, int r)
{
	pump_kbd(&k->st);
	update_irq(k);
	pthread_mutex_unlock(&k->lock);
	return r;
}

int i8042_kbd_send(struct i8042 *k, const uint8_t *codes, size_t n)
{
	pthread_mutex_lock(&k->lock);
	return kbd_input_done(k, ps2kbd_send(&k->st.kbd, codes, n));
}

int i8042_send_ctrl_alt_del(struct i8042 *k)
{
	pthread_mutex_lock(&k->lock);
	return kbd_input_done(k, ps2kbd_ctrl_alt_del(&k->st.kbd));
}

uint64_t i8042_kbd_dropped(struct i8042 *k)
{
	pthread_mutex_lock(&k->lock);
	uint64_t n = k->st.kbd.dropped;
	pthread_mutex_unlock(&k->lock);
	return n;
}
