/* A minimal HTTP/1.1 server (RFC 9112) on an already-listening stream
 * socket: one thread polls the socket and every connection, and runs the
 * handler for each request there, one request at a time. The protocol is
 * http_conn.h's; this file adds sockets, non-blocking output, the
 * connection limit and idle timeouts. */
#ifndef SKIFF_API_HTTP_SERVER_H
#define SKIFF_API_HTTP_SERVER_H
#include "api/http_conn.h"

struct http_server_cfg {
	http_handler_fn fn;	/* called on the server thread */
	void *opaque;		/* fn's first argument */
	struct http_limits lim;
	unsigned max_conns;	/* more are accepted and closed at once */
	unsigned idle_ms;	/* close a connection without progress in
				 * either direction for this long; 0: never */
	unsigned drain_ms;	/* at stop: longest wait for answers already
				 * queued to go out */
};

struct http_server;

/* Serve on lfd (listening; the server owns it from now on, also on error,
 * and makes it non-blocking). Returns 0, or a negative errno (the thread or
 * memory could not be had). */
int http_server_start(int lfd, const struct http_server_cfg *cfg, struct http_server **out);

/* Wake the thread; it reads nothing more, sends what is queued for up to
 * cfg.drain_ms and ends; join it, close every connection and lfd (output
 * still unsent is dropped). NULL ok. */
void http_server_stop(struct http_server *s);

#endif
