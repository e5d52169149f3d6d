/* HTTP over a VM's API socket (libcurl) and VM lookup by id (client.h). */
#include "cli/client.h"
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPLY_MAX (1 << 20)	/* bytes; a VMM's answers are far smaller */

static size_t collect(char *p, size_t size, size_t n, void *ctx)
{
	struct cli_reply *r = ctx;
	size_t add = size * n;
	if (r->len + add > REPLY_MAX)
		return 0;	/* makes curl fail with CURLE_WRITE_ERROR */
	char *b = realloc(r->body, r->len + add + 1);
	if (!b)
		return 0;
	memcpy(b + r->len, p, add);
	r->body = b;
	r->len += add;
	b[r->len] = 0;
	return add;
}

static int curl_fail(CURL *c, CURLcode rc, const char *sock, struct skiff_err *e)
{
	long os = 0;
	curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &os);
	if (rc == CURLE_OPERATION_TIMEDOUT)
		return skiff_fail(e, ETIMEDOUT, "the VMM does not answer on %s (timed out)", sock);
	if (rc == CURLE_COULDNT_CONNECT && os == EACCES)
		return skiff_fail(e, EACCES, "permission denied on %s (the VM belongs to "
				  "another user?)", sock);
	if (rc == CURLE_COULDNT_CONNECT && (os == ECONNREFUSED || os == ENOENT))
		return skiff_fail(e, (int)os, "no VMM listens on %s (%s)", sock,
				  strerror((int)os));
	if (rc == CURLE_GOT_NOTHING || rc == CURLE_RECV_ERROR)
		return skiff_fail(e, ECONNRESET, "the VMM on %s closed the connection without "
				  "an answer", sock);
	return skiff_fail(e, EIO, "API request on %s failed: %s", sock, curl_easy_strerror(rc));
}

int cli_http(const char *sock, const char *method, const char *path, const char *body,
	     long timeout_ms, struct cli_reply *out, struct skiff_err *e)
{
	memset(out, 0, sizeof(*out));
	CURL *c = curl_easy_init();
	if (!c)
		return skiff_fail(e, ENOMEM, "libcurl: cannot start a request");
	char url[256];
	snprintf(url, sizeof(url), "http://localhost%s", path);
	struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, sock);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	if (body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	CURLcode rc = curl_easy_perform(c);
	int r = 0;
	if (rc != CURLE_OK)
		r = curl_fail(c, rc, sock, e);
	else
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
	if (!r && !out->body && !(out->body = calloc(1, 1)))
		r = skiff_fail(e, ENOMEM, "out of memory");
	if (r) {
		free(out->body);
		out->body = NULL;
	}
	curl_slist_free_all(hdr);
	curl_easy_cleanup(c);
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
