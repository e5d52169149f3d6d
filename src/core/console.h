/* Console input escape handling, as QEMU and kvmtool do it: Ctrl-A x quits,
 * Ctrl-A Ctrl-A sends one Ctrl-A to the guest, Ctrl-A followed by anything
 * else sends both bytes. State is per VM. */
#ifndef SKIFF_CONSOLE_H
#define SKIFF_CONSOLE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONSOLE_ESCAPE_CHAR 0x01	/* Ctrl-A */

struct console_escape {
	bool enabled;	/* false: every byte passes through */
	bool pending;	/* the previous byte was an unconsumed Ctrl-A */
};

/* Filter buf[0..n) in place. Returns the number of bytes left for the guest.
 * Sets *quit when the quit sequence was seen (bytes after it are dropped).
 * A pending Ctrl-A followed by a normal byte expands to two bytes, so buf
 * must have room for n + 1 bytes. */
size_t console_escape_filter(struct console_escape *c, uint8_t *buf, size_t n, bool *quit);

/* Terminal raw mode for an interactive console (POSIX termios). */
struct console_tty {
	int fd;			/* -1: not a tty, nothing to restore */
	unsigned char saved[64];	/* struct termios, kept opaque here */
};

/* Put `fd` in raw mode if it is a tty (output post-processing stays on, so
 * "\n" still moves to column 0 for skiff's own messages). Returns 0 or -errno. */
int console_tty_raw(struct console_tty *t, int fd);
/* Restore the saved mode; safe to call more than once. */
void console_tty_restore(struct console_tty *t);

#endif
