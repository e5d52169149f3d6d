/* Registration of a VMM process in the runtime directory (vmreg.h). */
#include "cli/vmreg.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void warn_stale(void *ctx, const char *msg)
{
	fprintf(stderr, "skiff: info: %s\n", msg);
}

static int socket_path(struct cli_reg *r, const char *sock, struct skiff_err *e)
{
	char cwd[PATH_MAX];
	int n;
	if (!sock)
		n = snprintf(r->en.sock, sizeof(r->en.sock), "%s/%s.sock", r->dir, r->en.id);
	else if (sock[0] == '/')
		n = snprintf(r->en.sock, sizeof(r->en.sock), "%s", sock);
	else if (getcwd(cwd, sizeof(cwd)))
		n = snprintf(r->en.sock, sizeof(r->en.sock), "%s/%s", cwd, sock);
	else
		return skiff_fail(e, errno, "getcwd: %s", strerror(errno));
	if (n < 0 || (size_t)n >= sizeof(r->en.sock))
		return skiff_fail(e, ENAMETOOLONG, "the API socket path %s%s is longer than "
				  "%zu bytes (set SKIFF_RUNTIME_DIR to a shorter directory)",
				  sock ? "" : r->dir, sock ? sock : "/ID.sock",
				  sizeof(r->en.sock) - 1);
	return 0;
}

int cli_reg_begin(struct cli_reg *r, const char *id, const char *sock,
		  const struct skiff_config *started, struct api_vmm *vmm, size_t max_body,
		  struct api_http **http, struct skiff_err *e)
{
	memset(r, 0, sizeof(*r));
	struct rt_entry *en = &r->en;
	if (id && !rt_id_valid(id))
		return skiff_fail(e, EINVAL, "the VM id `%.80s` is not 1..%d characters of "
				  "[A-Za-z0-9_-]", id, RT_ID_MAX);
	if (id)
		snprintf(en->id, sizeof(en->id), "%s", id);
	else
		snprintf(en->id, sizeof(en->id), "skiff-%d", (int)getpid());
	en->pid = getpid();
	int ret = rt_proc_start_time(en->pid, &en->start_time);
	if (ret)
		return skiff_fail(e, -ret, "/proc/self/stat: %s", strerror(-ret));
	en->created = time(NULL);
	if (started) {
		en->vcpus = started->cpus;
		en->mem_mib = started->mem_mib;
		en->started = en->created;
	}
	if ((ret = rt_dir_open(r->dir, e)) || (ret = socket_path(r, sock, e)))
		return ret;
	int lock = rt_lock(r->dir, e);
	if (lock < 0)
		return lock;
	if (!(ret = rt_admit(r->dir, en, warn_stale, NULL, e)) &&
	    !(ret = api_http_start(en->sock, vmm, max_body, http, e))) {
		if ((ret = rt_entry_write(r->dir, en, e))) {
			api_http_stop(*http);
			*http = NULL;
		}
	}
	r->active = !ret;
	rt_unlock(lock);
	return ret;
}

int cli_reg_admit(void *ctx, const struct skiff_config *cfg, struct skiff_err *e)
{
	struct cli_reg *r = ctx;
	struct skiff_err ignore;
	if (!e)
		e = &ignore;
	int lock = rt_lock(r->dir, e);
	if (lock < 0)
		return lock;
	struct rt_entry en = r->en;
	en.vcpus = cfg ? cfg->cpus : 0;
	en.mem_mib = cfg ? cfg->mem_mib : 0;
	en.started = cfg ? time(NULL) : 0;
	int ret = cfg ? rt_admit(r->dir, &en, warn_stale, NULL, e) : 0;
	if (!ret && !(ret = rt_entry_write(r->dir, &en, e)))
		r->en = en;
	rt_unlock(lock);
	return ret;
}

void cli_reg_end(struct cli_reg *r)
{
	struct skiff_err e = { { 0 } };
	if (r->active && rt_remove_if_same(r->dir, &r->en, &e) && e.msg[0])
		fprintf(stderr, "skiff: warning: runtime entry: %s\n", e.msg);
	r->active = false;
}
