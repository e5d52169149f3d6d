/* Error reporting: library code never exits; it returns a negative errno and
 * fills a caller-owned message buffer naming the problem, once, at the point
 * where the context is known. The edge (CLI, tests) prints it. */
#ifndef SKIFF_ERR_H
#define SKIFF_ERR_H
#include <stddef.h>

/* A caller-owned error message. msg[0] == '\0' means "no message". */
struct skiff_err {
	char msg[512];
};

/* Format a message into *e (e may be NULL) and return -errnum (errnum > 0),
 * so callers can write `return skiff_fail(e, EINVAL, "bad %s", x);`. */
int skiff_fail(struct skiff_err *e, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
