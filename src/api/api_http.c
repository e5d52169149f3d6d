/* Firecracker-compatible API server: the routes and handlers, then the glue
 * to the HTTP server (http_server.h). See api_http.h. */
#include "api/api_http.h"
#include "api/api_json.h"
#include "api/http_server.h"
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define API_CONN_LIMIT		64
#define API_CONN_TIMEOUT_S	120
#define API_HEADER_MEMORY	(32 * 1024)	/* bytes for one request's headers */
#define API_DRAIN_MS		200	/* at stop: longest wait for open connections */

struct api_http {
	struct http_server *srv;
	struct api_vmm *vmm;
	size_t max_body;
	char *path;
};

/* One request's body (chunked ones decoded); buf is NULL when len is 0. */
struct req {
	const char *buf;
	size_t len;
};

struct reply {
	unsigned status;
	json_t *body;		/* NULL: none (204) */
	const char *allow;	/* 405: the Allow header */
};

static void fault(struct reply *rp, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void fault(struct reply *rp, unsigned status, const char *fmt, ...)
{
	char msg[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	rp->status = status;
	json_decref(rp->body);
	rp->body = json_pack("{ss}", "fault_message", msg);
}

static const char *const NOT_AFTER = "The requested operation is not supported after "
				     "starting the microVM.";
static const char *const NOT_BEFORE = "The requested operation is not supported before "
				      "starting the microVM.";

enum { M_GET = 1, M_PUT = 2, M_PATCH = 4 };

typedef int (*put_fn)(struct api_model *, const json_t *, struct skiff_err *);

/* Load the body; on error fill the 400 reply. */
static json_t *body_json(struct req *q, const char *what, struct reply *rp)
{
	struct skiff_err e = { { 0 } };
	json_t *j;
	if (api_json_load(q->buf, q->len, what, &j, &e)) {
		fault(rp, 400, "%s", e.msg);
		return NULL;
	}
	return j;
}

/* A pre-boot PUT of a singleton resource. */
static void put_preboot(struct api_http *h, struct req *q, const char *what, put_fn fn,
			struct reply *rp)
{
	if (api_vmm_state(h->vmm) != API_VMM_NOT_STARTED)
		return fault(rp, 400, "%s", NOT_AFTER);
	json_t *j = body_json(q, what, rp);
	if (!j)
		return;
	struct skiff_err e = { { 0 } };
	if (fn(api_vmm_model(h->vmm), j, &e))
		fault(rp, 400, "%s", e.msg);
	else
		rp->status = 204;
	json_decref(j);
}

/* PUT /logger and /metrics: like put_preboot, but the VMM opens the
 * output paths at once (api_vmm_put_logger/metrics). */
static void put_output(struct api_http *h, struct req *q, const char *what,
		       int (*fn)(struct api_vmm *, const json_t *, struct skiff_err *),
		       struct reply *rp)
{
	if (api_vmm_state(h->vmm) != API_VMM_NOT_STARTED)
		return fault(rp, 400, "%s", NOT_AFTER);
	json_t *j = body_json(q, what, rp);
	if (!j)
		return;
	struct skiff_err e = { { 0 } };
	if (fn(h->vmm, j, &e))
		fault(rp, 400, "%s", e.msg);
	else
		rp->status = 204;
	json_decref(j);
}

static void do_instance_info(struct api_http *h, struct reply *rp)
{
	static const char *const names[] = { "Not started", "Running", "Stopped", "Paused" };
	rp->status = 200;
	rp->body = json_pack("{ssssssss}", "id", api_vmm_id(h->vmm), "state",
			     names[api_vmm_state(h->vmm)], "vmm_version", SKIFF_VERSION,
			     "app_name", "skiff");
}

static void do_actions(struct api_http *h, struct req *q, struct reply *rp)
{
	json_t *j = body_json(q, "actions", rp);
	if (!j)
		return;
	struct skiff_err e = { { 0 } };
	enum api_action a;
	int r = api_parse_action(j, &a, &e);
	json_decref(j);
	if (r)
		return fault(rp, 400, "%s", e.msg);
	int (*act)(struct api_vmm *, struct skiff_err *) = NULL;
	switch (a) {
	case API_ACTION_INSTANCE_START:
		if (api_vmm_state(h->vmm) != API_VMM_NOT_STARTED)
			return fault(rp, 400, "%s", NOT_AFTER);
		if (api_vmm_start(h->vmm, &e))
			return fault(rp, 400, "InstanceStart: %s", e.msg);
		rp->status = 204;
		return;
	case API_ACTION_FLUSH_METRICS: act = api_vmm_flush_metrics; break;	/* also pre-boot */
	case API_ACTION_SEND_CTRL_ALT_DEL: act = api_vmm_send_ctrl_alt_del; break;
	case API_ACTION_POWER_BUTTON: act = api_vmm_power_button; break;
	case API_ACTION_STOP: act = api_vmm_stop_now; break;
	}
	if (!act || act(h->vmm, &e))
		return fault(rp, 400, "%s", act ? e.msg : "actions.action_type: unknown");
	rp->status = 204;
}

/* PUT|PATCH /drives/ID and /network-interfaces/ID. */
static void do_device(struct api_http *h, struct req *q, bool drive, const char *id,
		      bool patch, struct reply *rp)
{
	const char *what = drive ? "drives" : "network-interfaces";
	if (!*id)
		return fault(rp, 400, "%s: the path needs an id (/%s/ID)", what, what);
	bool started = api_vmm_state(h->vmm) != API_VMM_NOT_STARTED;
	if (!patch && started)
		return fault(rp, 400, "%s", NOT_AFTER);
	if (patch && !started)
		return fault(rp, 400, "%s", NOT_BEFORE);
	json_t *j = body_json(q, what, rp);
	if (!j)
		return;
	struct skiff_err e = { { 0 } };
	struct api_model *m = api_vmm_model(h->vmm);
	int r;
	if (patch) {
		/* Firecracker: the new image and/or limiters go to the running
		 * device first; the model records only what was applied. */
		struct api_patch p;
		r = drive ? api_model_parse_patch_drive(m, id, j, &p, &e)
			  : api_model_parse_patch_net(m, id, j, &p, &e);
		json_decref(j);
		if (!r) {
			r = api_vmm_patch(h->vmm, &p, &e);
			api_patch_free(&p);
		}
	} else {
		r = drive ? api_model_put_drive(m, id, j, &e) : api_model_put_net(m, id, j, &e);
		json_decref(j);
	}
	if (r)
		return fault(rp, 400, "%s", e.msg);
	rp->status = 204;
}

/* PATCH /vm: the swagger's Vm object, {"state": "Paused" | "Resumed"}. */
static void do_vm(struct api_http *h, struct req *q, struct reply *rp)
{
	static const char *const fields[] = { "state", NULL };
	json_t *j = body_json(q, "vm", rp);
	if (!j)
		return;
	struct skiff_err e = { { 0 } };
	char *st = NULL;
	int r = api_json_check_object(j, "vm", fields, &e);
	if (!r)
		r = api_json_str(j, "vm", "state", true, &st, NULL, &e);
	json_decref(j);
	if (!r && strcmp(st, "Paused") && strcmp(st, "Resumed"))
		r = skiff_fail(&e, EINVAL, "vm.state: `%.40s` is not one of Paused, Resumed", st);
	if (!r)
		r = api_vmm_set_paused(h->vmm, !strcmp(st, "Paused"), &e);
	free(st);
	if (r)
		return fault(rp, 400, "%s", e.msg);
	rp->status = 204;
}

static void do_machine_config(struct api_http *h, struct req *q, int method, struct reply *rp)
{
	if (method == M_GET) {
		rp->status = 200;
		rp->body = api_model_machine_json(api_vmm_model(h->vmm));
		return;
	}
	put_preboot(h, q, "machine-config", method == M_PUT ? api_model_put_machine_config
							     : api_model_patch_machine_config, rp);
}

static void route(struct api_http *h, const char *url, int method, struct req *q,
		  struct reply *rp)
{
	static const struct {
		const char *path;	/* exact, or a prefix ending in '/' for /x/{id} */
		int methods;
		const char *allow;
	} routes[] = {
		{ "/", M_GET, "GET" },
		{ "/version", M_GET, "GET" },
		{ "/vm/config", M_GET, "GET" },
		{ "/machine-config", M_GET | M_PUT | M_PATCH, "GET, PUT, PATCH" },
		{ "/boot-source", M_PUT, "PUT" },
		{ "/vsock", M_PUT, "PUT" },
		{ "/entropy", M_PUT, "PUT" },
		{ "/logger", M_PUT, "PUT" },
		{ "/metrics", M_PUT, "PUT" },
		{ "/actions", M_PUT, "PUT" },
		{ "/vm", M_PATCH, "PATCH" },
		{ "/drives/", M_PUT | M_PATCH, "PUT, PATCH" },
		{ "/network-interfaces/", M_PUT | M_PATCH, "PUT, PATCH" },
	};
	size_t i, n = sizeof(routes) / sizeof(routes[0]);
	const char *id = NULL;
	for (i = 0; i < n; i++) {
		size_t len = strlen(routes[i].path);
		if (routes[i].path[len - 1] == '/' && len > 1) {
			if (!strncmp(url, routes[i].path, len) && !strchr(url + len, '/')) {
				id = url + len;
				break;
			}
		} else if (!strcmp(url, routes[i].path)) {
			break;
		}
	}
	if (i == n)
		return fault(rp, 404, "no such resource: %.200s", url);
	if (!(routes[i].methods & method)) {
		fault(rp, 405, "method not allowed on %s (allowed: %s)", routes[i].path,
		      routes[i].allow);
		rp->allow = routes[i].allow;
		return;
	}
	const char *p = routes[i].path;
	struct api_model *m = api_vmm_model(h->vmm);
	if (!strcmp(p, "/")) {
		do_instance_info(h, rp);
	} else if (!strcmp(p, "/version")) {
		rp->status = 200;
		rp->body = json_pack("{ss}", "firecracker_version", SKIFF_VERSION);
	} else if (!strcmp(p, "/vm/config")) {
		rp->status = 200;
		rp->body = api_model_full_json(m);
	} else if (!strcmp(p, "/machine-config")) {
		do_machine_config(h, q, method, rp);
	} else if (!strcmp(p, "/boot-source")) {
		put_preboot(h, q, "boot-source", api_model_put_boot_source, rp);
	} else if (!strcmp(p, "/vsock")) {
		put_preboot(h, q, "vsock", api_model_put_vsock, rp);
	} else if (!strcmp(p, "/entropy")) {
		put_preboot(h, q, "entropy", api_model_put_entropy, rp);
	} else if (!strcmp(p, "/logger")) {
		put_output(h, q, "logger", api_vmm_put_logger, rp);
	} else if (!strcmp(p, "/metrics")) {
		put_output(h, q, "metrics", api_vmm_put_metrics, rp);
	} else if (!strcmp(p, "/actions")) {
		do_actions(h, q, rp);
	} else if (!strcmp(p, "/vm")) {
		do_vm(h, q, rp);
	} else {
		do_device(h, q, !strcmp(p, "/drives/"), id, method == M_PATCH, rp);
	}
	if (rp->status == 200 && !rp->body)
		fault(rp, 500, "out of memory");
}

static int method_of(const char *m)
{
	if (!strcmp(m, "GET"))
		return M_GET;
	if (!strcmp(m, "PUT"))
		return M_PUT;
	if (!strcmp(m, "PATCH"))
		return M_PATCH;
	return 0;
}

/* The HTTP server's handler (http_conn.h): one request, or a client error
 * the server found (malformed, body or head over the limit), answered with
 * a fault_message like every other error. */
static void handler(void *opaque, const struct http_req *hq, struct http_resp *out)
{
	struct api_http *h = opaque;
	struct req q = { .buf = hq->body, .len = hq->body_len };
	struct reply rp = { 0 };
	int m = hq->error ? 0 : method_of(hq->method);
	if (hq->error)
		fault(&rp, hq->error, "%s", hq->error_msg);
	else if (!m)
		fault(&rp, 405, "method %.16s is not supported", hq->method);
	else
		route(h, hq->path, m, &q, &rp);
	char *text = rp.body ? json_dumps(rp.body, JSON_COMPACT) : NULL;
	if (rp.body && !text)
		rp.status = 500;
	json_decref(rp.body);
	out->status = rp.status;
	out->body = text;
	out->body_len = text ? strlen(text) : 0;
	out->content_type = "application/json";
	out->allow = rp.allow;
}

/* socket/bind/listen at path; a stale socket file is replaced. */
static int listen_unix(const char *path, struct skiff_err *e)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	if (!*path || strlen(path) >= sizeof(a.sun_path))
		return skiff_fail(e, EINVAL, "API socket path `%.200s`: must be 1 to %zu bytes",
				  path, sizeof(a.sun_path) - 1);
	memcpy(a.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return skiff_fail(e, errno, "API socket: %s", strerror(errno));
	mode_t old = umask(0077);
	int r = bind(fd, (struct sockaddr *)&a, sizeof(a));
	if (r && errno == EADDRINUSE) {
		struct stat st;
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		bool live = probe >= 0 && !connect(probe, (struct sockaddr *)&a, sizeof(a));
		if (probe >= 0)
			close(probe);
		if (!live && !lstat(path, &st) && S_ISSOCK(st.st_mode) && !unlink(path))
			r = bind(fd, (struct sockaddr *)&a, sizeof(a));
		else
			errno = EADDRINUSE;
	}
	umask(old);
	if (r || listen(fd, 64)) {
		int err = errno;
		close(fd);
		return skiff_fail(e, err, "API socket %s: %s", path,
				  err == EADDRINUSE ? "in use (another VMM listens there, or "
						      "the path exists and is not a socket)"
						    : strerror(err));
	}
	return fd;
}

int api_http_start(const char *path, struct api_vmm *vmm, size_t max_body,
		   struct api_http **out, struct skiff_err *e)
{
	struct api_http *h = calloc(1, sizeof(*h));
	if (!h || !(h->path = strdup(path))) {
		free(h);
		return skiff_fail(e, ENOMEM, "API server: out of memory");
	}
	h->vmm = vmm;
	h->max_body = max_body ? max_body : API_MAX_BODY;
	int fd = listen_unix(path, e);
	if (fd < 0) {
		free(h->path);
		free(h);
		return fd;
	}
	struct http_server_cfg cfg = {
		.fn = handler,
		.opaque = h,
		.lim = { .max_body = h->max_body, .max_head = API_HEADER_MEMORY },
		.max_conns = API_CONN_LIMIT,
		.idle_ms = API_CONN_TIMEOUT_S * 1000,
		.drain_ms = API_DRAIN_MS,
	};
	int r = http_server_start(fd, &cfg, &h->srv);	/* owns fd */
	if (r) {
		unlink(path);
		free(h->path);
		free(h);
		return skiff_fail(e, -r, "API server on %s: %s", path, strerror(-r));
	}
	*out = h;
	return 0;
}

void api_http_stop(struct api_http *h)
{
	if (!h)
		return;
	/* Answers still queued (the 204 of a request that ended the VM) get
	 * up to API_DRAIN_MS to go out; closes the listening socket. */
	http_server_stop(h->srv);
	unlink(h->path);
	free(h->path);
	free(h);
}
