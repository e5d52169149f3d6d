/* A minimal PS/2 keyboard (IBM PS/2 Hardware Interface Technical Reference,
 * keyboard chapter: the MF2 keyboard's command set), as plugged into the
 * i8042's first port. It speaks scan code set 2 only; the controller
 * translates to set 1 when its command byte asks for it (i8042.c).
 *
 * Host commands answered: 0xED set LEDs and 0xF3 set typematic rate (ACK,
 * argument, ACK), 0xEE echo, 0xF0 scan set (argument 0 reports set 2;
 * setting 2 is ACKed, sets 1 and 3 are refused with 0xFE), 0xF2 identify
 * (ACK 0xAB 0x83), 0xF4 enable, 0xF5 defaults + disable, 0xF6 defaults,
 * 0xF7-0xFA (ACK, no effect), 0xFE resend, 0xFF reset (ACK, then 0xAA: self
 * test passed). Anything else gets 0xFE (resend), as a real keyboard answers
 * a byte it does not understand. That is everything Linux's atkbd and libps2
 * send to a translated keyboard, and what they try on a raw one.
 *
 * Plain data, no locking: the i8042 owns it and serialises every call. */
#ifndef SKIFF_DEV_PS2KBD_H
#define SKIFF_DEV_PS2KBD_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PS2KBD_QUEUE	64	/* bytes of scan codes waiting for the host */
#define PS2KBD_REPLY	3	/* longest command reply (ACK 0xAB 0x83) */

/* Set-2 codes that skiff injects (IBM PS/2 scan code set 2). */
#define PS2_SC2_BREAK		0xF0	/* prefix: the next code is a release */
#define PS2_SC2_EXT		0xE0	/* prefix: extended key */
#define PS2_SC2_LCTRL		0x14
#define PS2_SC2_LALT		0x11
#define PS2_SC2_DELETE		0x71	/* after PS2_SC2_EXT: the Delete key */

/* Snapshot-able state. */
struct ps2kbd_state {
	uint8_t q[PS2KBD_QUEUE];	/* scan codes, a ring */
	uint8_t q_head, q_count;
	uint8_t reply[PS2KBD_REPLY];	/* answer to the last command; sent first */
	uint8_t r_head, r_count;
	uint8_t arg_for;	/* command waiting for its argument byte, or 0 */
	uint8_t last_sent;	/* for 0xFE resend */
	uint8_t leds;		/* bits 0-2: scroll, num, caps (not shown anywhere) */
	uint8_t typematic;	/* rate/delay byte, 7 bits */
	bool scanning;		/* key codes are sent (0xF4; off after 0xF5) */
	uint64_t dropped;	/* injected bytes lost: queue full or scanning off */
};

/* Power-on state: defaults, scanning enabled, queues empty (the self-test
 * result 0xAA is not queued: the firmware has consumed it long ago). */
void ps2kbd_init(struct ps2kbd_state *s);

/* A byte the host (the guest, through the controller) sends the keyboard. */
void ps2kbd_write(struct ps2kbd_state *s, uint8_t b);

/* Next byte for the host, command replies before scan codes: true and *b,
 * or false when there is nothing to send. */
bool ps2kbd_read(struct ps2kbd_state *s, uint8_t *b);

/* Queue n set-2 scan code bytes as one unit, all or none. Returns 0,
 * -EAGAIN when the guest has disabled scanning (0xF5), -ENOSPC when they do
 * not fit; on error nothing is queued and s->dropped grows by n. */
int ps2kbd_send(struct ps2kbd_state *s, const uint8_t *codes, size_t n);

/* Press Ctrl, Alt and Delete, then release them in reverse order: the 11
 * set-2 bytes 14 11 E0 71 E0 F0 71 F0 11 F0 14. Returns as ps2kbd_send. */
int ps2kbd_ctrl_alt_del(struct ps2kbd_state *s);

#endif
