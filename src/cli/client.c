/* HTTP/1.1 over a VM's API socket and VM lookup by id (client.h). The
 * answer is parsed with http-parser, the library the API server uses: no
 * HTTP client library, so skiff's start time carries none (issue 5: API
 * ready <= 3 ms; libcurl alone added 40 shared libraries). */
#include "cli/client.h"
#include <errno.h>
#include <http_parser.h>
#include <jansson.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define REPLY_MAX (1 << 20)	/* bytes; a VMM's answers are far smaller */

struct rx {
	struct cli_reply *r;
	bool done, too_big, oom;
};

static int on_body(http_parser *p, const char *at, size_t n)
{
	struct rx *x = p->data;
	struct cli_reply *r = x->r;
	if (n > REPLY_MAX - r->len) {
		x->too_big = true;
		return -1;
	}
	char *b = realloc(r->body, r->len + n + 1);
	if (!b) {
		x->oom = true;
		return -1;
	}
	memcpy(b + r->len, at, n);
	r->body = b;
	r->len += n;
	b[r->len] = 0;
	return 0;
}

static int on_complete(http_parser *p)
{
	struct rx *x = p->data;
	x->r->status = (long)p->status_code;
	x->done = true;
	http_parser_pause(p, 1);	/* one answer is all we wait for */
	return 0;
}

static int64_t left_ms(const struct timespec *end)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)(end->tv_sec - now.tv_sec) * 1000 + (end->tv_nsec - now.tv_nsec) / 1000000;
}

/* Wait for `events` on fd until `end`: 0, -ETIMEDOUT or -errno. */
static int wait_fd(int fd, short events, const struct timespec *end)
{
	for (;;) {
		int64_t ms = left_ms(end);
		if (ms <= 0)
			return -ETIMEDOUT;
		struct pollfd p = { .fd = fd, .events = events };
		int n = poll(&p, 1, ms > 60000 ? 60000 : (int)ms);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

static int send_all(int fd, const char *buf, size_t len, const struct timespec *end)
{
	while (len) {
		ssize_t w = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			int r = wait_fd(fd, POLLOUT, end);
			if (r)
				return r;
			continue;
		}
		if (w < 0)
			return -errno;
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Connect, send the request, read one answer (rx filled). 0 or -errno. */
static int exchange(int fd, const char *sock, const char *req, size_t req_len,
		    const struct timespec *end, struct rx *x, struct skiff_err *e)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	if (strlen(sock) >= sizeof(a.sun_path))
		return skiff_fail(e, ENAMETOOLONG, "socket path too long: %s", sock);
	memcpy(a.sun_path, sock, strlen(sock) + 1);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int err = errno;
		if (err == EACCES)
			return skiff_fail(e, EACCES, "permission denied on %s (the VM belongs to "
					  "another user?)", sock);
		if (err == ECONNREFUSED || err == ENOENT)
			return skiff_fail(e, err, "no VMM listens on %s (%s)", sock, strerror(err));
		return skiff_fail(e, err, "cannot connect to %s: %s", sock, strerror(err));
	}
	int r = send_all(fd, req, req_len, end);
	if (r == -ETIMEDOUT)
		return skiff_fail(e, ETIMEDOUT, "the VMM does not answer on %s (timed out)", sock);
	if (r && r != -EPIPE && r != -ECONNRESET)
		return skiff_fail(e, -r, "sending to %s: %s", sock, strerror(-r));
	http_parser p;
	http_parser_init(&p, HTTP_RESPONSE);
	p.data = x;
	http_parser_settings cb;
	http_parser_settings_init(&cb);
	cb.on_body = on_body;
	cb.on_message_complete = on_complete;
	char buf[4096];
	while (!x->done) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if ((r = wait_fd(fd, POLLIN, end)))
				return skiff_fail(e, -r, "the VMM does not answer on %s (%s)", sock,
						  r == -ETIMEDOUT ? "timed out" : strerror(-r));
			continue;
		}
		if (n < 0 && errno != ECONNRESET)
			return skiff_fail(e, errno, "reading from %s: %s", sock, strerror(errno));
		/* n == 0 (or a reset): end of input, which completes a body read
		 * to the end of the connection, or is an error. */
		size_t len = n > 0 ? (size_t)n : 0;
		size_t used = http_parser_execute(&p, &cb, buf, len);
		if (x->done)
			break;
		if (x->oom)
			return skiff_fail(e, ENOMEM, "out of memory");
		if (x->too_big)
			return skiff_fail(e, EIO, "the answer on %s is over %d bytes", sock, REPLY_MAX);
		if (HTTP_PARSER_ERRNO(&p) != HPE_OK || used != len)
			return skiff_fail(e, EIO, "a malformed HTTP answer on %s (%s)", sock,
					  http_errno_description(HTTP_PARSER_ERRNO(&p)));
		if (len == 0)
			return skiff_fail(e, ECONNRESET, "the VMM on %s closed the connection "
					  "without an answer", sock);
	}
	return 0;
}

int cli_http(const char *sock, const char *method, const char *path, const char *body,
	     long timeout_ms, struct cli_reply *out, struct skiff_err *e)
{
	memset(out, 0, sizeof(*out));
	size_t blen = body ? strlen(body) : 0;
	int hlen = snprintf(NULL, 0, "%s %s HTTP/1.1\r\nHost: localhost\r\n"
			    "Content-Type: application/json\r\nAccept: application/json\r\n"
			    "Content-Length: %zu\r\nConnection: close\r\n\r\n", method, path, blen);
	char *req = hlen < 0 ? NULL : malloc((size_t)hlen + blen + 1);
	if (!req)
		return skiff_fail(e, ENOMEM, "out of memory");
	snprintf(req, (size_t)hlen + 1, "%s %s HTTP/1.1\r\nHost: localhost\r\n"
		 "Content-Type: application/json\r\nAccept: application/json\r\n"
		 "Content-Length: %zu\r\nConnection: close\r\n\r\n", method, path, blen);
	if (blen)
		memcpy(req + hlen, body, blen);
	struct timespec end;
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += timeout_ms / 1000;
	end.tv_nsec += (timeout_ms % 1000) * 1000000;
	if (end.tv_nsec >= 1000000000) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000;
	}
	int r;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct rx x = { .r = out };
	if (fd < 0)
		r = skiff_fail(e, errno, "socket: %s", strerror(errno));
	else
		r = exchange(fd, sock, req, (size_t)hlen + blen, &end, &x, e);
	if (fd >= 0)
		close(fd);
	free(req);
	if (!r && !out->body && !(out->body = calloc(1, 1)))
		r = skiff_fail(e, ENOMEM, "out of memory");
	if (r) {
		free(out->body);
		out->body = NULL;
		out->len = 0;
	}
	return r;
}

const char *cli_reply_fault(const struct cli_reply *r, char *buf, size_t len)
{
	json_t *j = json_loadb(r->body, r->len, 0, NULL);
	const char *m = j ? json_string_value(json_object_get(j, "fault_message")) : NULL;
	if (m)
		snprintf(buf, len, "%s", m);
	else if (r->len)
		snprintf(buf, len, "HTTP %ld: %.200s", r->status, r->body);
	else
		snprintf(buf, len, "HTTP %ld", r->status);
	json_decref(j);
	return buf;
}

int cli_find_vm(const char *id, char *dir, struct rt_entry *en, struct skiff_err *e)
{
	int r = rt_dir_open(dir, e);
	if (r)
		return r;
	if (!rt_id_valid(id))
		return skiff_fail(e, EINVAL, "`%.80s` is not a VM id (1..%d characters of "
				  "[A-Za-z0-9_-])", id, RT_ID_MAX);
	struct skiff_err re = { { 0 } };
	r = rt_entry_read(dir, id, en, &re);
	if (r == -ENOENT)
		return skiff_fail(e, ENOENT, "no VM with id `%s` on this host (skiff list)", id);
	if (r)
		return skiff_fail(e, -r, "%s", re.msg);
	enum rt_liveness l = rt_entry_liveness(en);
	if (l != RT_ALIVE) {
		rt_remove_if_same(dir, en, NULL);
		return skiff_fail(e, ESRCH, "VM `%s` is not running (pid %d: %s); removed its "
				  "stale entry", id, (int)en->pid, rt_liveness_text(l));
	}
	return 0;
}

int cli_fail(const char *cmd, const char *msg)
{
	fprintf(stderr, "skiff %s: %s\n", cmd, msg);
	return 1;
}
