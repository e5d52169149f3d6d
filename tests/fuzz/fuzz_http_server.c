/* libFuzzer target: the API's HTTP/1.1 connection (src/api/http_conn.c over
 * http-parser) — everything a client sends before the router sees it.
 *
 * Input: a byte choosing how the rest is cut into reads (1 to 64 bytes, or
 * all at once), a byte choosing the limits, then the client's bytes. They
 * are fed as a server would, the output drained after each feed. The
 * handler echoes (and answers GET /big with 80 KiB, past the output
 * high-water mark). Checked: the limits hold for every request handed to
 * the handler, the parser always makes progress (or closes), the output is
 * a sequence of responses that start with "HTTP/1.1 " and whose headers end
 * with Content-Length or nothing after a 1xx/204, nothing is parsed after
 * closing; ASan checks memory and leaks.
 *
 * Build: make fuzz-build (clang); run: build/fuzz/fuzz_http_server -max_total_time=60 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "api/http_conn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BIG (80 * 1024)

struct state {
	struct http_limits lim;
	unsigned calls;
};

static void echo(void *opaque, const struct http_req *q, struct http_resp *r)
{
	struct state *s = opaque;
	s->calls++;
	if (q->error) {
		if (q->error != 400 && q->error != 431 && q->error != 500 && q->error != 505)
			abort();
		if (!q->error_msg || q->method || q->path || q->body)
			abort();
		r->status = q->error;
		return;
	}
	if (!q->method || !q->path || q->body_len > s->lim.max_body ||
	    strlen(q->path) > s->lim.max_head || (!q->body) != (!q->body_len))
		abort();
	r->content_type = "text/plain";
	if (!strcmp(q->path, "/big")) {
		r->status = 200;
		r->body = malloc(BIG);
		if (!r->body)
			abort();
		memset(r->body, 'x', BIG);
		r->body_len = BIG;
		return;
	}
	if (!strcmp(q->path, "/204")) {
		r->status = 204;
		return;
	}
	r->status = 200;
	r->allow = q->body_len & 1 ? "GET, PUT" : NULL;
	size_t n = strlen(q->method) + strlen(q->path) + q->body_len + 4;
	r->body = malloc(n);
	if (!r->body)
		abort();
	int m = snprintf(r->body, n, "%s %s ", q->method, q->path);
	memcpy(r->body + m, q->body ? q->body : "", q->body_len);
	r->body_len = (size_t)m + q->body_len;
}

/* The first bytes out are a status line (later ones may continue a body). */
static void check_output(const char *o, size_t n, int *at_start)
{
	if (*at_start && n >= 9 && memcmp(o, "HTTP/1.1 ", 9))
		abort();
	if (n)
		*at_start = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	size_t piece = data[0] % 65;	/* 0: everything at once */
	struct state s = { .lim = { .max_body = 16u << (data[1] & 7),
				    .max_head = 64u << (data[1] >> 5) } };
	const char *in = (const char *)data + 2;
	size_t len = size - 2, off = 0;
	struct http_conn *c = http_conn_new(&s.lim, echo, &s);
	if (!c)
		return 0;
	int at_start = 1;
	size_t total_out = 0;
	while (off < len && !http_conn_closing(c)) {
		size_t want = piece && piece < len - off ? piece : len - off;
		size_t used = http_conn_feed(c, in + off, want);
		if (used > want)
			abort();
		off += used;
		size_t n;
		const char *o = http_conn_out(c, &n);
		check_output(o, n, &at_start);
		total_out += n;
		http_conn_out_consume(c, n);
		if (http_conn_out_full(c))
			abort();	/* drained */
		/* No progress is only allowed when the output was full. */
		if (!used && !n && !http_conn_closing(c))
			abort();
	}
	unsigned calls = s.calls;
	if (http_conn_closing(c) && http_conn_feed(c, "GET / HTTP/1.1\r\n\r\n", 18) != 0)
		abort();
	if (s.calls != calls)
		abort();
	/* Each call produced at most one response: bounded output. */
	if (total_out > (size_t)calls * (BIG + 1024) + (len / 20 + 1) * 32)
		abort();
	http_conn_free(c);
	return 0;
}
