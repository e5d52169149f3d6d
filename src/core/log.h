/* Per-VM logging. No global log state: each VM owns a struct skiff_log, so
 * several VMs in one process log independently. Messages go to `out`
 * (default stderr) as "skiff: LEVEL: text\n"; a message above `level` is
 * dropped. Thread-safe: one fprintf per message (stdio locks the stream). */
#ifndef SKIFF_LOG_H
#define SKIFF_LOG_H
#include <stdio.h>

enum skiff_log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

struct skiff_log {
	int level;		/* enum skiff_log_level; messages <= level are printed */
	FILE *out;		/* not owned; NULL means stderr */
};

void skiff_log(const struct skiff_log *l, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Parse "error|warn|info|debug" into *level. Returns 0 or -EINVAL. */
int skiff_log_parse_level(const char *s, int *level);

#endif
