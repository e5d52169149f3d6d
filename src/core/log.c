#include "core/log.h"
#include "core/outfile.h"
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const level_names[] = { "error", "warn", "info", "debug", "trace" };
/* Rust's log::Level names, which Firecracker prints. */
static const char *const fc_level_names[] = { "ERROR", "WARN", "INFO", "DEBUG", "TRACE" };

static int clamp_level(int level)
{
	return level < 0 ? 0 : level > LOG_TRACE ? LOG_TRACE : level;
}

/* "src/dev/blk.c" -> "dev/blk.c": the module filter and origin use paths
 * relative to src/. */
static const char *short_path(const char *file)
{
	return strncmp(file, "src/", 4) ? file : file + 4;
}

/* snprintf at buf + *len, keeping *len <= cap - 1 when the text is cut. */
static void append(char *buf, size_t cap, size_t *len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void append(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf + *len, cap - *len, fmt, ap);
	va_end(ap);
	if (n > 0)
		*len += (size_t)n >= cap - *len ? cap - *len - 1 : (size_t)n;
}

size_t skiff_log_format(const struct skiff_log_sink *s, const struct timespec *ts,
			const char *thread, int level, const char *file, int line,
			const char *msg, char *buf, size_t cap)
{
	struct tm tm;
	time_t sec = ts->tv_sec;
	gmtime_r(&sec, &tm);
	size_t len = 0;
	buf[0] = '\0';
	append(buf, cap, &len, "%04d-%02d-%02dT%02d:%02d:%02d.%09ld [%s:%s", tm.tm_year + 1900,
	       tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts->tv_nsec,
	       s->instance, thread);
	if (s->show_level)
		append(buf, cap, &len, ":%s", fc_level_names[clamp_level(level)]);
	if (s->show_origin)
		append(buf, cap, &len, ":%s:%d", file, line);
	append(buf, cap, &len, "] %s", msg);
	/* Cut long messages; the line always ends in exactly one newline. */
	if (len > cap - 2)
		len = cap - 2;
	buf[len++] = '\n';
	buf[len] = '\0';
	return len;
}

static void sink_write(struct skiff_log_sink *s, int level, const char *file, int line,
		       const char *msg)
{
	if (s->module[0] && strncmp(short_path(file), s->module, strlen(s->module)) &&
	    strncmp(file, s->module, strlen(s->module)))
		return;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	char thread[16] = "?";
	pthread_getname_np(pthread_self(), thread, sizeof(thread));
	char buf[SKIFF_LOG_LINE_MAX];
	size_t len = skiff_log_format(s, &ts, thread, level, file, line, msg, buf, sizeof(buf));
	if (skiff_out_write(s->fd, buf, len))
		atomic_fetch_add_explicit(&s->dropped, 1, memory_order_relaxed);
	else
		atomic_fetch_add_explicit(&s->lines, 1, memory_order_relaxed);
}

void skiff_log_at(const struct skiff_log *l, int level, const char *file, int line,
		  const char *fmt, ...)
{
	if (!l || level > l->level)
		return;
	char buf[SKIFF_LOG_LINE_MAX - 256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (l->sink)
		return sink_write(l->sink, level, file, line, buf);
	/* "\r\n" would be wrong for files; the console layer puts the tty in a
	 * mode where "\n" still returns the carriage (OPOST stays on). */
	fprintf(l->out ? l->out : stderr, "skiff: %s: %s\n", level_names[clamp_level(level)], buf);
}

int skiff_log_sink_open(const char *path, const char *field, const char *id, bool show_level,
			bool show_origin, const char *module, struct skiff_log_sink **out,
			struct skiff_err *e)
{
	struct skiff_log_sink *s = calloc(1, sizeof(*s));
	if (!s)
		return skiff_fail(e, ENOMEM, "%s: out of memory", field);
	int fd = skiff_out_open(path, field, e);
	if (fd < 0) {
		free(s);
		return fd;
	}
	s->fd = fd;
	snprintf(s->instance, sizeof(s->instance), "%s", id ? id : "anonymous-instance");
	s->show_level = show_level;
	s->show_origin = show_origin;
	snprintf(s->module, sizeof(s->module), "%s", module ? module : "");
	*out = s;
	return 0;
}

void skiff_log_sink_close(struct skiff_log_sink *s)
{
	if (!s)
		return;
	close(s->fd);
	free(s);
}

int skiff_log_parse_level(const char *s, int *level)
{
	for (int i = 0; i <= LOG_TRACE; i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*level = i;
			return 0;
		}
	}
	return -EINVAL;
}
