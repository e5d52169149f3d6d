#include "core/log.h"
#include <errno.h>
#include <stdarg.h>
#include <string.h>

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void skiff_log(const struct skiff_log *l, int level, const char *fmt, ...)
{
	if (!l || level > l->level)
		return;
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* "\r\n" would be wrong for files; the console layer puts the tty in a
	 * mode where "\n" still returns the carriage (OPOST stays on). */
	fprintf(l->out ? l->out : stderr, "skiff: %s: %s\n",
		level_names[level < 0 ? 0 : level > 3 ? 3 : level], buf);
}

int skiff_log_parse_level(const char *s, int *level)
{
	for (int i = 0; i < 4; i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*level = i;
			return 0;
		}
	}
	return -EINVAL;
}
