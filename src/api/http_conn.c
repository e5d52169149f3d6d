/* One HTTP/1.1 server connection over http-parser (see http_conn.h). */
#include "api/http_conn.h"
#include <http_parser.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Pending output above which no more requests are parsed: a client that
 * pipelines requests without reading the answers holds at most this much
 * (plus one response) of our memory. */
#define OUT_HIGH	(64 * 1024)
/* One response larger than this is a handler bug: the connection closes. */
#define OUT_MAX		(16 * 1024 * 1024)

enum hstate { H_NONE, H_FIELD, H_VALUE };

struct http_conn {
	http_parser p;
	struct http_limits lim;
	http_handler_fn fn;
	void *opaque;
	char *out;		/* response bytes out[out_off..out_len) pending */
	size_t out_off, out_len, out_cap;
	bool closing;
	bool broken;		/* output lost (out of memory): send nothing more */
	/* The request being parsed. */
	char *url;		/* url_len bytes (dispatch adds a NUL after them) */
	size_t url_len, url_cap;
	char *body;
	size_t body_len, body_cap;
	size_t head;		/* bytes counted against lim.max_head */
	enum hstate hs;
	char hname[8];		/* the first bytes of the current header */
	char hval[16];
	size_t hname_len, hval_len;	/* full lengths, may exceed the arrays */
	bool expect_continue;	/* Expect: 100-continue seen */
	bool done;		/* a message is complete (the parser paused) */
	bool keep_alive;
	unsigned err;		/* a limit the callbacks hit: status, message */
	char err_msg[128];
};

/* Append n bytes to *buf (len, cap), growing it up to limit bytes in all;
 * -1 when that would exceed limit or memory runs out. */
static int append(char **buf, size_t *len, size_t *cap, const char *d, size_t n, size_t limit)
{
	if (*len > limit || n > limit - *len)
		return -1;
	if (n > *cap - *len) {
		size_t want = *cap > limit / 2 ? limit : *cap * 2;
		if (want < *len + n)
			want = *len + n;
		if (want < 256 && limit >= 256)
			want = 256;
		char *b = realloc(*buf, want);
		if (!b)
			return -1;
		*buf = b;
		*cap = want;
	}
	if (n)
		memcpy(*buf + *len, d, n);
	*len += n;
	return 0;
}

static void out_add(struct http_conn *c, const char *d, size_t n)
{
	if (c->broken)
		return;
	if (c->out_off && c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->out_off && n > c->out_cap - c->out_len) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (append(&c->out, &c->out_len, &c->out_cap, d, n, OUT_MAX)) {
		/* Out of memory (or a huge response): a truncated answer would
		 * desynchronise the client, so none is sent at all. */
		c->out_off = c->out_len = 0;
		c->closing = c->broken = true;
	}
}

/* Callbacks return non-zero to stop the parser; c->err says why. */
static int limit_hit(struct http_conn *c, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int limit_hit(struct http_conn *c, unsigned status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err_msg, sizeof(c->err_msg), fmt, ap);
	va_end(ap);
	c->err = status;
	return -1;
}

static int head_add(struct http_conn *c, size_t n)
{
	if (n > c->lim.max_head - c->head)
		return limit_hit(c, 431, "the request head is larger than the limit of %zu bytes",
				 c->lim.max_head);
	c->head += n;
	return 0;
}

static int on_message_begin(http_parser *p)
{
	struct http_conn *c = p->data;
	c->url_len = c->body_len = c->head = 0;
	c->hs = H_NONE;
	c->hname_len = c->hval_len = 0;
	c->expect_continue = false;
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = p->data;
	if (head_add(c, len))
		return -1;
	/* head_add keeps url_len <= max_head: +1 for the NUL dispatch adds. */
	if (append(&c->url, &c->url_len, &c->url_cap, at, len, c->lim.max_head + 1))
		return limit_hit(c, 500, "out of memory");
	return 0;
}

/* Keep a header's name or value (in pieces) while it fits dst[cap]; a
 * longer one gets *len = cap + 1, which matches nothing we look for. */
static void keep(char *dst, size_t cap, size_t *len, const char *at, size_t n)
{
	if (*len <= cap && n <= cap - *len) {
		memcpy(dst + *len, at, n);
		*len += n;
	} else {
		*len = cap + 1;
	}
}

/* A header (name and value) has ended: the only one we act on is Expect
 * (RFC 9110 section 10.1.1); http-parser handles Content-Length,
 * Transfer-Encoding and Connection. */
static void header_done(struct http_conn *c)
{
	size_t n = c->hval_len, s = 0;
	if (c->hname_len != 6 || strncasecmp(c->hname, "expect", 6) || n > sizeof(c->hval))
		return;
	while (s < n && (c->hval[s] == ' ' || c->hval[s] == '\t'))
		s++;
	while (n > s && (c->hval[n - 1] == ' ' || c->hval[n - 1] == '\t'))
		n--;
	if (n - s == 12 && !strncasecmp(c->hval + s, "100-continue", 12))
		c->expect_continue = true;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = p->data;
	if (c->hs != H_FIELD) {
		if (c->hs == H_VALUE)
			header_done(c);
		c->hs = H_FIELD;
		c->hname_len = c->hval_len = 0;
		if (head_add(c, 4))	/* ": " and CRLF */
			return -1;
	}
	/* Debian builds http-parser non-strict, which lets spaces into names;
	 * RFC 9112 section 5.1 wants a 400 (request smuggling). */
	if (memchr(at, ' ', len) || memchr(at, '\t', len))
		return limit_hit(c, 400, "malformed HTTP request: whitespace in a header name");
	keep(c->hname, sizeof(c->hname), &c->hname_len, at, len);
	return head_add(c, len);
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = p->data;
	c->hs = H_VALUE;
	keep(c->hval, sizeof(c->hval), &c->hval_len, at, len);
	return head_add(c, len);
}

static int on_headers_complete(http_parser *p)
{
	struct http_conn *c = p->data;
	if (c->hs == H_VALUE)
		header_done(c);
	c->hs = H_NONE;
	/* HTTP/1.x only: 2 and later are other protocols (RFC 9110 15.6.6). */
	if (p->http_major != 1)
		return limit_hit(c, 505, "HTTP/%u.%u is not supported", p->http_major,
				 p->http_minor);
	bool chunked = p->flags & F_CHUNKED;
	bool sized = !chunked && p->content_length != ULLONG_MAX;
	if (sized && p->content_length > c->lim.max_body)
		return limit_hit(c, 400, "the request body (%llu bytes) is larger than the limit "
				 "of %zu bytes", (unsigned long long)p->content_length,
				 c->lim.max_body);
	/* Expect: 100-continue (curl sends it for larger bodies): the client
	 * waits for this before sending the body. HTTP/1.0 has no 1xx. */
	if (c->expect_continue && (chunked || (sized && p->content_length)) && p->http_minor) {
		static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
		out_add(c, cont, sizeof(cont) - 1);
	}
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = p->data;
	if (len > c->lim.max_body - c->body_len)
		return limit_hit(c, 400, "the request body is larger than the limit of %zu bytes",
				 c->lim.max_body);
	if (append(&c->body, &c->body_len, &c->body_cap, at, len, c->lim.max_body))
		return limit_hit(c, 500, "out of memory");
	return 0;
}

/* Pause: the request is dispatched by http_conn_feed, outside the parser. */
static int on_message_complete(http_parser *p)
{
	struct http_conn *c = p->data;
	c->keep_alive = http_should_keep_alive(p);
	c->done = true;
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

/* Queue a response (RFC 9112 section 4 status line, section 6 framing):
 * Content-Length on every response but 1xx and 204 (RFC 9110 section 8.6),
 * no body for HEAD, Connection: close when this is the last one. */
static void respond(struct http_conn *c, struct http_resp *r, bool head_only)
{
	if (r->status < 200 || r->status > 999)
		r->status = 500;
	bool no_content = r->status == 204 || r->status == 304;
	size_t blen = no_content || !r->body ? 0 : r->body_len;
	const char *reason = http_status_str((enum http_status)r->status);
	if (*reason == '<')	/* "<unknown>": the reason phrase is optional */
		reason = "";
	char hdr[640];
	int n = snprintf(hdr, sizeof(hdr), "HTTP/1.1 %u %s\r\n", r->status, reason);
	if (blen && r->content_type)
		n += snprintf(hdr + n, sizeof(hdr) - (size_t)n, "Content-Type: %.200s\r\n",
			      r->content_type);
	if (r->allow)
		n += snprintf(hdr + n, sizeof(hdr) - (size_t)n, "Allow: %.200s\r\n", r->allow);
	if (r->status != 204)
		n += snprintf(hdr + n, sizeof(hdr) - (size_t)n, "Content-Length: %zu\r\n", blen);
	if (c->closing)
		n += snprintf(hdr + n, sizeof(hdr) - (size_t)n, "Connection: close\r\n");
	n += snprintf(hdr + n, sizeof(hdr) - (size_t)n, "\r\n");
	out_add(c, hdr, (size_t)n);	/* n < sizeof(hdr): the %.200s bound it */
	if (blen && !head_only)
		out_add(c, r->body, blen);
	free(r->body);
	r->body = NULL;
}

/* The client sent something unusable: answer status (the handler words
 * the body) and close, as the rest of the stream cannot be trusted. */
static void fail(struct http_conn *c, unsigned status, const char *msg)
{
	struct http_req q = { .error = status, .error_msg = msg };
	struct http_resp r = { 0 };
	c->closing = true;
	c->fn(c->opaque, &q, &r);
	if (!r.status)
		r.status = status;
	respond(c, &r, false);
}

static void dispatch(struct http_conn *c)
{
	struct http_parser_url u;
	http_parser_url_init(&u);
	/* A NUL after the target, so that the path can be one too. */
	if (append(&c->url, &c->url_len, &c->url_cap, "", 1, c->lim.max_head + 1))
		return fail(c, 500, "out of memory");
	c->url_len--;
	/* http_parser_url keeps 16-bit offsets. */
	if (c->url_len > UINT16_MAX)
		return fail(c, 431, "the request target is longer than 65535 bytes");
	if (!c->url_len || http_parser_parse_url(c->url, c->url_len, c->p.method == HTTP_CONNECT,
						 &u) || !(u.field_set & (1 << UF_PATH)))
		return fail(c, 400, "malformed HTTP request: invalid request target");
	/* The path is a slice of url (origin or absolute form, RFC 9112
	 * section 3.2): end it where the query or fragment starts. */
	char *path = c->url + u.field_data[UF_PATH].off;
	path[u.field_data[UF_PATH].len] = 0;	/* at most the NUL at url[url_len] */
	if (!c->keep_alive || c->p.upgrade)	/* no upgrades: close instead */
		c->closing = true;
	struct http_req q = {
		.method = http_method_str((enum http_method)c->p.method),
		.path = path,
		.body = c->body_len ? c->body : NULL,
		.body_len = c->body_len,
	};
	struct http_resp r = { 0 };
	c->fn(c->opaque, &q, &r);
	if (!r.status)
		r.status = 500;
	respond(c, &r, c->p.method == HTTP_HEAD);
}

size_t http_conn_feed(struct http_conn *c, const char *buf, size_t len)
{
	size_t used = 0;
	while (used < len && !c->closing && !http_conn_out_full(c)) {
		size_t n = http_parser_execute(&c->p, &settings, buf + used, len - used);
		used += n;
		if (c->done) {
			c->done = false;
			dispatch(c);
			http_parser_pause(&c->p, 0);
			continue;
		}
		enum http_errno e = HTTP_PARSER_ERRNO(&c->p);
		if (e == HPE_OK && used == len)
			break;
		if (c->err) {
			fail(c, c->err, c->err_msg);
		} else {
			/* A parse error; or the parser stopped short of the
			 * input without one, which only an upgrade does. */
			char msg[128];
			snprintf(msg, sizeof(msg), "malformed HTTP request: %s",
				 http_errno_description(e));
			fail(c, e == HPE_HEADER_OVERFLOW ? 431 : 400, msg);
		}
	}
	return used;
}

struct http_conn *http_conn_new(const struct http_limits *lim, http_handler_fn fn, void *opaque)
{
	struct http_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	http_parser_init(&c->p, HTTP_REQUEST);
	c->p.data = c;
	c->lim = *lim;
	/* Bounded so that limit + 1 and doubling cannot wrap. */
	if (c->lim.max_head > SIZE_MAX / 4)
		c->lim.max_head = SIZE_MAX / 4;
	if (c->lim.max_body > SIZE_MAX / 4)
		c->lim.max_body = SIZE_MAX / 4;
	c->fn = fn;
	c->opaque = opaque;
	return c;
}

void http_conn_free(struct http_conn *c)
{
	if (!c)
		return;
	free(c->out);
	free(c->url);
	free(c->body);
	free(c);
}

const char *http_conn_out(const struct http_conn *c, size_t *len)
{
	*len = c->out_len - c->out_off;
	return c->out ? c->out + c->out_off : "";
}

void http_conn_out_consume(struct http_conn *c, size_t n)
{
	size_t pending = c->out_len - c->out_off;
	c->out_off += n < pending ? n : pending;
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
}

bool http_conn_out_full(const struct http_conn *c)
{
	return c->out_len - c->out_off >= OUT_HIGH;
}

bool http_conn_closing(const struct http_conn *c)
{
	return c->closing;
}
