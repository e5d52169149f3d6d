/* One HTTP/1.1 server connection's protocol state, without a socket: bytes
 * from the client go in (http_conn_feed), response bytes come out
 * (http_conn_out). The parsing is http-parser's (libhttp-parser, 2.9); this
 * layer adds the limits, request assembly and response framing of RFC 9112.
 * Requests are dispatched to the handler one at a time, in the order they
 * arrived (pipelining, RFC 9112 section 9.3.2). Used by http_server.c and
 * the fuzz target; not thread-safe (one connection, one thread). */
#ifndef SKIFF_API_HTTP_CONN_H
#define SKIFF_API_HTTP_CONN_H
#include <stdbool.h>
#include <stddef.h>

/* A complete request, or a client error the server detected itself. Every
 * pointer is valid during the handler call only. */
struct http_req {
	unsigned error;		/* 0, or the status to answer (400, 431): the
				 * request is unusable; error_msg says why */
	const char *error_msg;	/* set with error */
	const char *method;	/* "GET", "PUT", ... (http-parser's names) */
	const char *path;	/* the target's path: no query, NUL-terminated */
	const char *body;	/* body_len bytes (chunked bodies decoded), not
				 * NUL-terminated; NULL when body_len is 0 */
	size_t body_len;
};

/* The handler's answer. */
struct http_resp {
	unsigned status;	/* 100 < status < 1000 */
	char *body;		/* malloc'd or NULL; the server frees it */
	size_t body_len;
	const char *content_type; /* sent when body_len > 0; needs no CR/LF */
	const char *allow;	/* the Allow header (405) or NULL; no CR/LF */
};

/* Called on the connection's thread for each request; fills *resp (zeroed
 * before the call; status 0 becomes 500). */
typedef void (*http_handler_fn)(void *opaque, const struct http_req *req,
				struct http_resp *resp);

struct http_limits {
	size_t max_body;	/* bytes of (decoded) request body; larger: 400 */
	size_t max_head;	/* bytes of request target and header fields
				 * (names, values, 4 per field for ": " and
				 * CRLF); larger: 431. http-parser itself also
				 * caps a head at HTTP_MAX_HEADER_SIZE (80 KiB) */
};

struct http_conn;

/* A connection in its initial state, or NULL (out of memory). */
struct http_conn *http_conn_new(const struct http_limits *lim, http_handler_fn fn,
				void *opaque);
void http_conn_free(struct http_conn *c);	/* NULL ok */

/* Parse up to len bytes from the client, calling the handler for each
 * request completed. Returns how many bytes were used; fewer than len only
 * when the connection is closing (the rest is to be dropped) or its output
 * is full (feed the rest once http_conn_out_full() is false). */
size_t http_conn_feed(struct http_conn *c, const char *buf, size_t len);

/* The response bytes not yet sent (*len of them), and marking n sent. */
const char *http_conn_out(const struct http_conn *c, size_t *len);
void http_conn_out_consume(struct http_conn *c, size_t n);

/* Output above its high-water mark: stop reading until some is sent. */
bool http_conn_out_full(const struct http_conn *c);

/* No more requests are read (an error, Connection: close, HTTP/1.0): close
 * once the output is sent. */
bool http_conn_closing(const struct http_conn *c);

#endif
