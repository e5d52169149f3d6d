/* PS/2 keyboard, scan code set 2. See ps2kbd.h. */
#include "dev/ps2kbd.h"
#include <errno.h>
#include <string.h>

#define KBD_ACK		0xFA
#define KBD_RESEND	0xFE
#define KBD_BAT_OK	0xAA	/* basic assurance test passed */
#define KBD_ECHO	0xEE
#define KBD_ID0		0xAB	/* MF2 keyboard */
#define KBD_ID1		0x83
#define KBD_SET		2	/* the only scan code set spoken */
#define TYPEMATIC_DEF	0x2B	/* 10.9 chars/s after 500 ms: the keyboard's default */

static void defaults(struct ps2kbd_state *s)
{
	s->leds = 0;
	s->typematic = TYPEMATIC_DEF;
}

void ps2kbd_init(struct ps2kbd_state *s)
{
	memset(s, 0, sizeof(*s));
	defaults(s);
	s->scanning = true;
}

/* A new command aborts whatever reply was not read yet. */
static void reply(struct ps2kbd_state *s, const uint8_t *b, uint8_t n)
{
	memcpy(s->reply, b, n);
	s->r_head = 0;
	s->r_count = n;
}

static void reply1(struct ps2kbd_state *s, uint8_t b)
{
	reply(s, &b, 1);
}

/* The keyboard empties its output buffer on enable, disable and reset. */
static void flush(struct ps2kbd_state *s)
{
	s->q_head = s->q_count = 0;
}

static void argument(struct ps2kbd_state *s, uint8_t cmd, uint8_t b)
{
	switch (cmd) {
	case 0xED:
		s->leds = b & 0x07;
		reply1(s, KBD_ACK);
		break;
	case 0xF3:
		s->typematic = b & 0x7F;
		reply1(s, KBD_ACK);
		break;
	case 0xF0:
		if (b == 0) {
			const uint8_t r[] = { KBD_ACK, KBD_SET };
			reply(s, r, sizeof(r));
		} else {
			/* Only set 2 is implemented: refuse the others, so a
			 * driver asking for set 3 (atkbd.set=3) falls back. */
			reply1(s, b == KBD_SET ? KBD_ACK : KBD_RESEND);
		}
		break;
	}
}

static void command(struct ps2kbd_state *s, uint8_t b)
{
	switch (b) {
	case 0xED: case 0xF0: case 0xF3:
		s->arg_for = b;
		reply1(s, KBD_ACK);
		break;
	case 0xEE:
		reply1(s, KBD_ECHO);
		break;
	case 0xF2: {
		const uint8_t r[] = { KBD_ACK, KBD_ID0, KBD_ID1 };
		reply(s, r, sizeof(r));
		break;
	}
	case 0xF4:
		flush(s);
		s->scanning = true;
		reply1(s, KBD_ACK);
		break;
	case 0xF5: case 0xF6:
		flush(s);
		defaults(s);
		s->scanning = b == 0xF6;
		reply1(s, KBD_ACK);
		break;
	case 0xF7: case 0xF8: case 0xF9: case 0xFA:
		reply1(s, KBD_ACK);	/* set-3 key types: meaningless in set 2 */
		break;
	case 0xFE:
		reply1(s, s->last_sent);
		break;
	case 0xFF: {
		const uint8_t r[] = { KBD_ACK, KBD_BAT_OK };
		flush(s);
		defaults(s);
		s->scanning = true;
		reply(s, r, sizeof(r));
		break;
	}
	default:
		reply1(s, KBD_RESEND);
		break;
	}
}

void ps2kbd_write(struct ps2kbd_state *s, uint8_t b)
{
	uint8_t cmd = s->arg_for;

	s->arg_for = 0;
	/* Arguments are below 0x80; a byte with bit 7 set is a new command
	 * (a driver that gave up on the previous one). */
	if (cmd && !(b & 0x80))
		argument(s, cmd, b);
	else
		command(s, b);
}

bool ps2kbd_read(struct ps2kbd_state *s, uint8_t *b)
{
	if (s->r_count) {
		*b = s->reply[s->r_head % PS2KBD_REPLY];
		s->r_head = (s->r_head + 1) % PS2KBD_REPLY;
		s->r_count--;
	} else if (s->q_count) {
		*b = s->q[s->q_head % PS2KBD_QUEUE];
		s->q_head = (s->q_head + 1) % PS2KBD_QUEUE;
		s->q_count--;
	} else {
		return false;
	}
	s->last_sent = *b;
	return true;
}

int ps2kbd_send(struct ps2kbd_state *s, const uint8_t *codes, size_t n)
{
	int r = 0;

	if (!s->scanning)
		r = -EAGAIN;
	else if (s->q_count > PS2KBD_QUEUE || n > (size_t)(PS2KBD_QUEUE - s->q_count))
		r = -ENOSPC;
	if (r) {
		s->dropped += n;
		return r;
	}
	for (size_t i = 0; i < n; i++)
		s->q[(s->q_head + s->q_count++) % PS2KBD_QUEUE] = codes[i];
	return 0;
}

int ps2kbd_ctrl_alt_del(struct ps2kbd_state *s)
{
	static const uint8_t cad[] = {
		PS2_SC2_LCTRL, PS2_SC2_LALT, PS2_SC2_EXT, PS2_SC2_DELETE,
		PS2_SC2_EXT, PS2_SC2_BREAK, PS2_SC2_DELETE,
		PS2_SC2_BREAK, PS2_SC2_LALT, PS2_SC2_BREAK, PS2_SC2_LCTRL,
	};
	return ps2kbd_send(s, cad, sizeof(cad));
}
