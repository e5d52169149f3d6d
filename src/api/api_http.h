/* Firecracker's REST API (swagger v1.x) over HTTP/1.1 on a Unix socket,
 * served by skiff's own HTTP server (http_server.h, over http-parser; not
 * libmicrohttpd, whose TLS dependencies cost ~1.4 ms per exec) on its own
 * thread, acting on one api_vmm. Requests are handled one at a time. Bodies
 * larger than max_body are refused (400) without being read; errors are
 * {"fault_message": "..."} naming the field. Endpoints and skiff's
 * extensions: docs/api.md. */
#ifndef SKIFF_API_HTTP_H
#define SKIFF_API_HTTP_H
#include <stddef.h>
#include "api/api_vmm.h"
#include "core/err.h"

struct api_http;

/* Create the socket at `path` (socket/bind/listen on AF_UNIX, mode 0600; a
 * stale socket file nobody listens on is replaced, a live one is an error)
 * and start serving `vmm` (not owned). max_body: bytes, 0 for API_MAX_BODY.
 * Returns 0, or a negative errno with the problem in *e. */
int api_http_start(const char *path, struct api_vmm *vmm, size_t max_body,
		   struct api_http **out, struct skiff_err *e);

/* Stop serving, close and unlink the socket. Open connections get up to
 * 200 ms to finish first (an answer in flight goes out). NULL ok. */
void api_http_stop(struct api_http *h);

#endif
