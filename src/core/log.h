/* Per-VM logging. No global log state: each VM owns a struct skiff_log, so
 * several VMs in one process log independently. A message above `level` is
 * dropped. Without a sink, messages go to `out` (default stderr) as
 * "skiff: LEVEL: text\n". With a sink (Firecracker's PUT /logger,
 * `--log-path`), they go there in Firecracker's format:
 *
 *   2026-11-22T02:04:18.123456789 [anonymous-instance:skiff-vcpu0:INFO:src/core/vm.c:537] text
 *
 * (UTC; ":LEVEL" with show_level, ":file:line" with show_origin). Thread-
 * safe and lock-free towards the sink: one write() per line; a sink that
 * cannot take a line (a full FIFO) loses it and counts it, and never
 * blocks the caller (a vCPU or the I/O thread). */
#ifndef SKIFF_LOG_H
#define SKIFF_LOG_H
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include "core/err.h"

/* Firecracker's levels (swagger Logger.level: Error, Warning, Info, Debug,
 * Trace, Off); LOG_OFF as a filter drops everything. */
enum skiff_log_level { LOG_OFF = -1, LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3,
		       LOG_TRACE = 4 };

#define SKIFF_LOG_LINE_MAX	4096	/* bytes per line (PIPE_BUF: atomic on a FIFO) */

/* A Firecracker-format log destination (outfile.h: file or FIFO). Owned by
 * whoever opened it (the API layer or the CLI); must outlive every VM whose
 * struct skiff_log points at it. Settings are fixed once opened. */
struct skiff_log_sink {
	int fd;				/* owned, O_NONBLOCK */
	char instance[65];		/* instance id, e.g. "anonymous-instance" */
	bool show_level;		/* Logger.show_level */
	bool show_origin;		/* Logger.show_log_origin: file:line */
	char module[128];		/* Logger.module: only lines whose source path
					 * (without "src/") starts with this; "" all */
	_Atomic uint64_t lines;		/* written */
	_Atomic uint64_t dropped;	/* lost: sink full or failing (metrics
					 * "logger.missed_log_count") */
};

struct skiff_log {
	int level;			/* enum skiff_log_level; messages <= level are printed */
	FILE *out;			/* not owned; NULL means stderr; unused with a sink */
	struct skiff_log_sink *sink;	/* not owned; NULL: the stderr format above */
};

/* Log a message from file:line (use the skiff_log macro). */
void skiff_log_at(const struct skiff_log *l, int level, const char *file, int line,
		  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
#define skiff_log(l, level, ...) skiff_log_at((l), (level), __FILE__, __LINE__, __VA_ARGS__)

/* Format one sink line into buf (size cap, >= 64) without the filter; the
 * line ends in '\n' and is cut to fit. ts: CLOCK_REALTIME. Returns its
 * length. Exposed for tests. */
size_t skiff_log_format(const struct skiff_log_sink *s, const struct timespec *ts,
			const char *thread, int level, const char *file, int line,
			const char *msg, char *buf, size_t cap);

/* Open path (skiff_out_open; errors name `field`) as a sink for instance
 * `id` (NULL: "anonymous-instance"). *out is freed with skiff_log_sink_close.
 * Returns 0 or -errno with *e. */
int skiff_log_sink_open(const char *path, const char *field, const char *id, bool show_level,
			bool show_origin, const char *module, struct skiff_log_sink **out,
			struct skiff_err *e);
void skiff_log_sink_close(struct skiff_log_sink *s);	/* NULL ok */

/* Parse "error|warn|info|debug|trace" into *level. Returns 0 or -EINVAL. */
int skiff_log_parse_level(const char *s, int *level);

#endif
