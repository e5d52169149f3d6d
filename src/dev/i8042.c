/* 8042 keyboard controller with no devices attached. See i8042.h.
 * Command set: IBM PC/AT Technical Reference (keyboard controller) and the
 * PS/2 extensions (0xA7-0xA9, 0xD2-0xD4) that Linux's i8042 driver uses. */
#include "dev/i8042.h"
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
	}
	/* 0xd4 or no command: a byte for the mouse or keyboard; none is
	 * attached, so it is lost. */
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
	update_irq(k);
	pthread_mutex_unlock(&k->lock);
}
