/* An API-driven VM: model, start on a thread, result (see api_vmm.h). */
#include "api/api_vmm.h"
#include "api/api_metrics.h"
#include "core/log.h"
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct api_vmm {
	pthread_mutex_t lock;
	enum api_vmm_state state;	/* under lock */
	struct skiff_config base;
	char *id;
	struct api_model model;
	struct api_vm_config vc;	/* what the VM was created from */
	struct skiff_vm *vm;
	bool preset;			/* vc.cfg given by api_vmm_use_config */
	api_vmm_admit_fn admit;
	void *admit_ctx;
	pthread_t thread;
	bool thread_started;
	struct skiff_result res;	/* valid once STOPPED */
	int stopped_efd;
	struct skiff_log log;		/* skiff's own messages about this VM */
	struct skiff_log_sink *log_sink;	/* owned; PUT /logger log_path */
	struct api_metrics *metrics;	/* owned; PUT /metrics */
};

int api_vmm_create(const struct skiff_config *base, const char *id, struct api_vmm **out)
{
	struct api_vmm *v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->stopped_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	v->id = strdup(id ? id : "anonymous-instance");
	if (v->stopped_efd < 0 || !v->id) {
		if (v->stopped_efd >= 0)
			close(v->stopped_efd);
		free(v->id);
		free(v);
		return -ENOMEM;
	}
	pthread_mutex_init(&v->lock, NULL);
	v->base = *base;
	v->log.level = base->log_level;
	v->log.out = base->log_out;
	api_model_init(&v->model);
	*out = v;
	return 0;
}

struct api_model *api_vmm_model(struct api_vmm *v)
{
	return &v->model;
}

const char *api_vmm_id(const struct api_vmm *v)
{
	return v->id;
}

enum api_vmm_state api_vmm_state(struct api_vmm *v)
{
	pthread_mutex_lock(&v->lock);
	enum api_vmm_state s = v->state;
	if (s == API_VMM_RUNNING && skiff_vm_state(v->vm) == SKIFF_VM_PAUSED)
		s = API_VMM_PAUSED;
	pthread_mutex_unlock(&v->lock);
	return s;
}

/* The started-VM check shared by the post-boot operations (v->lock held):
 * 0 while the VM runs or is paused; else Firecracker's message before
 * InstanceStart (-EINVAL), or "WHAT: the microVM has stopped" (-ESRCH). */
static int check_started(struct api_vmm *v, const char *what, struct skiff_err *e)
{
	if (v->state == API_VMM_NOT_STARTED)
		return skiff_fail(e, EINVAL, "The requested operation is not supported before "
				  "starting the microVM.");
	if (v->state == API_VMM_STOPPED)
		return skiff_fail(e, ESRCH, "%s: the microVM has stopped", what);
	return 0;
}

int api_vmm_set_paused(struct api_vmm *v, bool paused, struct skiff_err *e)
{
	pthread_mutex_lock(&v->lock);
	int r = check_started(v, "vm.state", e);
	if (!r && (r = paused ? skiff_vm_pause(v->vm) : skiff_vm_resume(v->vm)))
		skiff_fail(e, -r, "vm.state: the microVM has stopped");
	pthread_mutex_unlock(&v->lock);
	return r;
}

/* The message of a failed update, naming the field that caused it. */
static void prefix_error(struct skiff_err *e, const struct api_patch *p)
{
	char msg[sizeof(e->msg)];
	snprintf(msg, sizeof(msg), "%s", e->msg);
	const char *field = !p->drive ? "" : p->path_on_host ? ".path_on_host" : ".rate_limiter";
	int n = snprintf(e->msg, sizeof(e->msg), "%s/%.64s%s: ", p->drive ? "drives" : "network-interfaces",
		 p->id, field);
	if (n > 0 && (size_t)n < sizeof(e->msg))	/* the cause, cut if need be */
		snprintf(e->msg + n, sizeof(e->msg) - (size_t)n, "%.*s",
			 (int)(sizeof(e->msg) - (size_t)n - 1), msg);
}

/* Record p in the model; vc's disk paths point into the model, so the one
 * whose string was just replaced follows it (nothing reads it after
 * creation, but no pointer should dangle). */
static void apply_patch(struct api_vmm *v, struct api_patch *p)
{
	api_model_apply_patch(&v->model, p);
	if (!p->drive)
		return;
	const struct api_drive *d = NULL;
	for (uint32_t i = 0; i < v->model.ndrives; i++)
		if (!strcmp(v->model.drives[i].drive_id, p->id))
			d = &v->model.drives[i];
	for (uint32_t i = 0; d && i < v->vc.cfg.ndisks; i++)
		if (v->vc.disks[i].name && !strcmp(v->vc.disks[i].name, p->id))
			v->vc.disks[i].path = d->path_on_host;
}

int api_vmm_patch(struct api_vmm *v, struct api_patch *p, struct skiff_err *e)
{
	pthread_mutex_lock(&v->lock);
	char what[API_ID_MAX + 32];
	snprintf(what, sizeof(what), "%s/%.64s", p->drive ? "drives" : "network-interfaces", p->id);
	int r = check_started(v, what, e);
	if (!r && p->drive)
		r = skiff_vm_update_disk(v->vm, p->id, p->path_on_host, p->has_rl ? &p->rl : NULL, e);
	else if (!r)
		r = skiff_vm_update_net(v->vm, p->id, p->has_rx ? &p->rx : NULL,
					p->has_tx ? &p->tx : NULL, e);
	if (r && v->state == API_VMM_RUNNING)
		prefix_error(e, p);
	else if (!r)
		apply_patch(v, p);
	pthread_mutex_unlock(&v->lock);
	return r;
}

static void *vm_thread(void *arg)
{
	struct api_vmm *v = arg;
	struct skiff_result res;
	pthread_setname_np(pthread_self(), "skiff-vm");	/* in log lines */
	skiff_vm_run(v->vm, &res);
	skiff_log(&v->log, LOG_INFO, "the microVM stopped (reason %d, code %d)%s%s",
		  (int)res.reason, res.code, res.msg[0] ? ": " : "", res.msg);
	pthread_mutex_lock(&v->lock);
	v->res = res;
	v->state = API_VMM_STOPPED;
	pthread_mutex_unlock(&v->lock);
	uint64_t one = 1;
	if (write(v->stopped_efd, &one, sizeof(one)) < 0) {
		/* cannot fail for an eventfd below its maximum */
	}
	return NULL;
}

int api_vmm_start(struct api_vmm *v, struct skiff_err *e)
{
	pthread_mutex_lock(&v->lock);
	int r;
	if (v->state != API_VMM_NOT_STARTED) {
		r = skiff_fail(e, EALREADY, "the microVM has already been started");
		goto out;
	}
	if (!v->preset && (r = api_model_to_config(&v->model, &v->base, &v->vc, e)))
		goto out;
	if (v->log_sink)	/* PUT /logger; else the preset's (skiff run --log) */
		v->vc.cfg.log_sink = v->log_sink;
	if (v->metrics) {
		const char *ids[SKIFF_MAX_NETS] = { NULL };
		for (uint32_t i = 0; i < v->model.nnets && i < SKIFF_MAX_NETS; i++)
			ids[i] = v->model.nets[i].iface_id;
		api_metrics_set_net_ids(v->metrics, ids, v->model.nnets);
		v->vc.cfg.metrics_fn = api_metrics_vm_hook;
		v->vc.cfg.metrics_ctx = v->metrics;
	}
	if (v->admit && (r = v->admit(v->admit_ctx, &v->vc.cfg, e)))
		goto out;
	if ((r = skiff_vm_create(&v->vc.cfg, &v->vm, e))) {
		if (v->admit)
			v->admit(v->admit_ctx, NULL, NULL);
		goto out;
	}
	skiff_log(&v->log, LOG_INFO, "InstanceStart: %u vCPU(s), %llu MiB", v->vc.cfg.cpus,
		  (unsigned long long)v->vc.cfg.mem_mib);
	r = -pthread_create(&v->thread, NULL, vm_thread, v);
	if (r) {
		skiff_vm_destroy(v->vm);
		v->vm = NULL;
		if (v->admit)
			v->admit(v->admit_ctx, NULL, NULL);
		skiff_fail(e, -r, "cannot start the VM thread: %s", strerror(-r));
		goto out;
	}
	v->thread_started = true;
	v->state = API_VMM_RUNNING;
out:
	pthread_mutex_unlock(&v->lock);
	return r;
}

int api_vmm_stopped_fd(const struct api_vmm *v)
{
	return v->stopped_efd;
}

bool api_vmm_result(struct api_vmm *v, struct skiff_result *res)
{
	pthread_mutex_lock(&v->lock);
	bool done = v->state == API_VMM_STOPPED;
	if (done)
		*res = v->res;
	pthread_mutex_unlock(&v->lock);
	return done;
}

int api_vmm_stop_now(struct api_vmm *v, struct skiff_err *e)
{
	pthread_mutex_lock(&v->lock);
	int r = check_started(v, "actions.action_type", e);
	if (!r)
		skiff_vm_request_stop(v->vm, VM_STOP_HOST, 0);
	pthread_mutex_unlock(&v->lock);
	return r;
}

void api_vmm_request_stop(struct api_vmm *v, enum vm_stop_reason why, int code)
{
	pthread_mutex_lock(&v->lock);
	if (v->state == API_VMM_RUNNING)
		skiff_vm_request_stop(v->vm, why, code);
	pthread_mutex_unlock(&v->lock);
}

void api_vmm_destroy(struct api_vmm *v)
{
	if (!v)
		return;
	api_vmm_request_stop(v, VM_STOP_QUIT, 0);
	if (v->thread_started)
		pthread_join(v->thread, NULL);
	skiff_vm_destroy(v->vm);
	api_metrics_destroy(v->metrics);
	skiff_log_sink_close(v->log_sink);
	api_model_free(&v->model);
	pthread_mutex_destroy(&v->lock);
	close(v->stopped_efd);
	free(v->id);
	free(v);
}

/* Open the model's log_path as the sink and apply the level (v->lock held). */
static int apply_logger(struct api_vmm *v, const struct api_model *m, struct skiff_err *e)
{
	struct skiff_log_sink *s = NULL;
	if (m->log_path) {
		int r = skiff_log_sink_open(m->log_path, "logger.log_path", v->id, m->show_level,
					    m->show_log_origin, m->log_module, &s, e);
		if (r)
			return r;
	}
	if (v->metrics)
		api_metrics_set_log_sink(v->metrics, s);
	skiff_log_sink_close(v->log_sink);
	v->log_sink = s;
	v->log.sink = s;
	v->log.level = m->log_level;
	skiff_log(&v->log, LOG_INFO, "Running skiff v%s", SKIFF_VERSION);
	return 0;
}

int api_vmm_put_logger(struct api_vmm *v, const json_t *j, struct skiff_err *e)
{
	/* Validate into a scratch model and open the path before the real
	 * model changes: a refused request leaves everything as it was. */
	struct api_model tmp;
	api_model_init(&tmp);
	pthread_mutex_lock(&v->lock);
	int r = v->state != API_VMM_NOT_STARTED
		? skiff_fail(e, EINVAL, "logger: the microVM has already been started") : 0;
	if (!r)
		r = api_model_put_logger(&tmp, j, e);
	if (!r)
		r = apply_logger(v, &tmp, e);
	if (!r)
		r = api_model_put_logger(&v->model, j, e);	/* the same body: succeeds */
	pthread_mutex_unlock(&v->lock);
	api_model_free(&tmp);
	return r;
}

int api_vmm_put_metrics(struct api_vmm *v, const json_t *j, struct skiff_err *e)
{
	struct api_model tmp;
	api_model_init(&tmp);
	struct api_metrics *m = NULL;
	pthread_mutex_lock(&v->lock);
	int r = v->state != API_VMM_NOT_STARTED
		? skiff_fail(e, EINVAL, "metrics: the microVM has already been started") : 0;
	if (!r)
		r = api_model_put_metrics(&tmp, j, e);
	if (!r && v->model.has_metrics)		/* refused: "already initialized" */
		r = api_model_put_metrics(&v->model, j, e);
	if (!r && !(r = api_metrics_open(tmp.metrics_path, "metrics.metrics_path", &m, e)) &&
	    (r = api_model_put_metrics(&v->model, j, e)))
		api_metrics_destroy(m);
	if (!r) {
		api_metrics_set_log_sink(m, v->log_sink);
		v->metrics = m;
	}
	pthread_mutex_unlock(&v->lock);
	api_model_free(&tmp);
	return r;
}

int api_vmm_open_outputs(struct api_vmm *v, struct skiff_err *e)
{
	int r = 0;
	pthread_mutex_lock(&v->lock);
	if (v->model.has_logger && !v->log_sink)
		r = apply_logger(v, &v->model, e);
	if (!r && v->model.has_metrics && !v->metrics &&
	    !(r = api_metrics_open(v->model.metrics_path, "metrics.metrics_path",
					   &v->metrics, e)))
		api_metrics_set_log_sink(v->metrics, v->log_sink);
	pthread_mutex_unlock(&v->lock);
	return r;
}

int api_vmm_flush_metrics(struct api_vmm *v, struct skiff_err *e)
{
	/* v->vm does not change once set and lives until api_vmm_destroy; the
	 * flush itself must not hold v->lock (it may wait for the I/O thread,
	 * which a pause holding v->lock waits for). */
	pthread_mutex_lock(&v->lock);
	struct api_metrics *m = v->metrics;
	struct skiff_vm *vm = v->vm;
	pthread_mutex_unlock(&v->lock);
	if (!m)
		return skiff_fail(e, EINVAL, "actions.action_type: FlushMetrics: the metrics system "
				  "is not initialized (PUT /metrics first)");
	int r = api_metrics_flush(m, vm, true);
	if (r == -EAGAIN)
		skiff_fail(e, EAGAIN, "metrics.metrics_path: the FIFO is full (is anyone reading "
			   "it?); these counters stay for the next flush");
	else if (r)
		skiff_fail(e, -r, "metrics.metrics_path: cannot write: %s", strerror(-r));
	return r;
}

/* Both buttons: refuse before start and after the stop, else press. */
static int press(struct api_vmm *v, int (*button)(struct skiff_vm *), const char *what,
		 struct skiff_err *e)
{
	pthread_mutex_lock(&v->lock);
	int r = check_started(v, what, e);
	if (!r) {
		r = button(v->vm);
		if (r == -ESRCH)
			skiff_fail(e, ESRCH, "%s: the microVM has stopped", what);
		else if (r == -EAGAIN)
			skiff_fail(e, EAGAIN, "%s: the guest has disabled its keyboard", what);
		else if (r)
			skiff_fail(e, -r, "%s: the guest's keyboard buffer is full (the guest is "
				   "not reading it)", what);
	}
	pthread_mutex_unlock(&v->lock);
	return r;
}

int api_vmm_send_ctrl_alt_del(struct api_vmm *v, struct skiff_err *e)
{
	return press(v, skiff_vm_send_ctrl_alt_del, "SendCtrlAltDel", e);
}

int api_vmm_power_button(struct api_vmm *v, struct skiff_err *e)
{
	return press(v, skiff_vm_power_button, "skiff_power_button", e);
}

void api_vmm_set_admit(struct api_vmm *v, api_vmm_admit_fn fn, void *ctx)
{
	v->admit = fn;
	v->admit_ctx = ctx;
}

int api_vmm_use_config(struct api_vmm *v, const struct skiff_config *cfg)
{
	v->vc.cfg = *cfg;
	v->preset = true;
	return api_model_from_config(&v->model, cfg);
}
