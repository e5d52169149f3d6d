#include "core/err.h"
#include <stdarg.h>
#include <stdio.h>

int skiff_fail(struct skiff_err *e, int errnum, const char *fmt, ...)
{
	if (e) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
		va_end(ap);
	}
	return -errnum;
}
