/* An API-driven VM: model, start on a thread, result (see api_vmm.h). */
#include "api/api_vmm.h"
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

int api_vmm_set_paused(struct api_vmm *v, bool paused, struct skiff_err *e)
{
	pthread_mutex_lock(&v->lock);
	int r;
	if (v->state == API_VMM_NOT_STARTED)
		r = skiff_fail(e, EINVAL, "The requested operation is not supported before "
			       "starting the microVM.");
	else if (v->state == API_VMM_STOPPED)
		r = skiff_fail(e, ESRCH, "vm.state: the microVM has stopped");
	else if ((r = paused ? skiff_vm_pause(v->vm) : skiff_vm_resume(v->vm)))
		skiff_fail(e, -r, "vm.state: the microVM has stopped");
	pthread_mutex_unlock(&v->lock);
	return r;
}

static void *vm_thread(void *arg)
{
	struct api_vmm *v = arg;
	struct skiff_result res;
	skiff_vm_run(v->vm, &res);
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
	if (v->admit && (r = v->admit(v->admit_ctx, &v->vc.cfg, e)))
		goto out;
	if ((r = skiff_vm_create(&v->vc.cfg, &v->vm, e))) {
		if (v->admit)
			v->admit(v->admit_ctx, NULL, NULL);
		goto out;
	}
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
	api_model_free(&v->model);
	pthread_mutex_destroy(&v->lock);
	close(v->stopped_efd);
	free(v->id);
	free(v);
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
