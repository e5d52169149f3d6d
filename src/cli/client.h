/* The client side of skiff's management commands (skiff list, pause, resume,
 * info, stop, limits): HTTP/1.1 over a VM's Unix API socket (the answer
 * parsed with http-parser), and finding a VM by id in the runtime
 * directory. */
#ifndef SKIFF_CLI_CLIENT_H
#define SKIFF_CLI_CLIENT_H
#include <stddef.h>
#include "core/err.h"
#include "host/runtime.h"

struct cli_reply {
	long status;	/* HTTP status */
	char *body;	/* malloc'd, NUL-terminated (maybe empty); free() */
	size_t len;
};

/* METHOD PATH on the API socket `sock`, with a JSON body or NULL, within
 * timeout_ms. 0 with *out filled, or a negative errno with the problem in *e:
 * -ECONNREFUSED/-ENOENT (no VMM listens there), -EACCES (permission
 * denied), -ETIMEDOUT (the VMM does not answer), -ECONNRESET (closed
 * without an answer: a VMM exiting), -EIO (other). */
int cli_http(const char *sock, const char *method, const char *path, const char *body,
	     long timeout_ms, struct cli_reply *out, struct skiff_err *e);

/* The fault_message of an error reply (or its body, or "HTTP N"), into buf. */
const char *cli_reply_fault(const struct cli_reply *r, char *buf, size_t len);

/* The runtime directory (into dir, RT_DIR_MAX bytes) and the live VM `id`.
 * An entry whose process is gone is removed and reported (-ESRCH); no entry:
 * -ENOENT ("no VM with id ..."). */
int cli_find_vm(const char *id, char *dir, struct rt_entry *en, struct skiff_err *e);

/* Print "skiff <cmd>: <msg>" on stderr and return 1. */
int cli_fail(const char *cmd, const char *msg);

#endif
