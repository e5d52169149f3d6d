#include "core/console.h"
#include <errno.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

_Static_assert(sizeof(struct termios) <= sizeof(((struct console_tty *)0)->saved),
	       "termios does not fit");

size_t console_escape_filter(struct console_escape *c, uint8_t *buf, size_t n, bool *quit)
{
	*quit = false;
	if (!c->enabled)
		return n;
	uint8_t out[n + 1];
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t b = buf[i];
		if (c->pending) {
			c->pending = false;
			if (b == 'x' || b == 'X') {
				*quit = true;
				break;
			}
			out[o++] = CONSOLE_ESCAPE_CHAR;
			if (b != CONSOLE_ESCAPE_CHAR)
				out[o++] = b;
			continue;
		}
		if (b == CONSOLE_ESCAPE_CHAR)
			c->pending = true;
		else
			out[o++] = b;
	}
	memcpy(buf, out, o);
	return o;
}

int console_tty_raw(struct console_tty *t, int fd)
{
	t->fd = -1;
	if (!isatty(fd))
		return 0;
	struct termios tio;
	if (tcgetattr(fd, &tio) < 0)
		return -errno;
	memcpy(t->saved, &tio, sizeof(tio));
	cfmakeraw(&tio);
	tio.c_oflag |= OPOST | ONLCR;
	if (tcsetattr(fd, TCSANOW, &tio) < 0)
		return -errno;
	t->fd = fd;
	return 0;
}

void console_tty_restore(struct console_tty *t)
{
	if (t->fd < 0)
		return;
	struct termios tio;
	memcpy(&tio, t->saved, sizeof(tio));
	tcsetattr(t->fd, TCSANOW, &tio);
	t->fd = -1;
}
