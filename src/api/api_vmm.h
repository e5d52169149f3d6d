/* One API-driven VM: the pre-boot model (api_model.h), then, after
 * InstanceStart, the running skiff_vm on its own thread. Firecracker's
 * states: "Not started" until api_vmm_start, then "Running" or "Paused"
 * (PATCH /vm); skiff adds "Stopped" once the guest has stopped.
 * Thread-safe. */
#ifndef SKIFF_API_VMM_H
#define SKIFF_API_VMM_H
#include <stdbool.h>
#include "api/api_model.h"
#include "core/vm.h"

enum api_vmm_state { API_VMM_NOT_STARTED, API_VMM_RUNNING, API_VMM_STOPPED, API_VMM_PAUSED };

struct api_vmm;

/* `base` supplies what the API does not describe (console fds, log output,
 * KVM path, start time); it is copied. `id`: the instance id ("anonymous-
 * instance" when NULL). Returns 0 or -ENOMEM. */
int api_vmm_create(const struct skiff_config *base, const char *id, struct api_vmm **out);

/* The model. Change it only while the state is API_VMM_NOT_STARTED, from
 * one thread (the API server's, or the caller's before the server runs);
 * afterwards only api_vmm_patch changes it (read it from that thread). */
struct api_model *api_vmm_model(struct api_vmm *v);
const char *api_vmm_id(const struct api_vmm *v);
enum api_vmm_state api_vmm_state(struct api_vmm *v);

/* InstanceStart: build the configuration, create the VM (errors: -EINVAL or
 * skiff_vm_create's, message in *e) and run it on a new thread. -EALREADY
 * once started. */
int api_vmm_start(struct api_vmm *v, struct skiff_err *e);

/* PATCH /vm: pause (true) or resume (false) the started VM; idempotent
 * (skiff_vm_pause/resume). Returns 0; -EINVAL before InstanceStart, -ESRCH
 * once the VM has stopped, with the message in *e. */
int api_vmm_set_paused(struct api_vmm *v, bool paused, struct skiff_err *e);

/* PATCH /drives/{id} or /network-interfaces/{id} after InstanceStart
 * (p from api_model_parse_patch_*): apply it to the running or paused VM
 * (skiff_vm_update_disk / skiff_vm_update_net: new image, rate limiters),
 * then record it in the model for GET /vm/config. Returns 0; -EINVAL before
 * InstanceStart; -ESRCH once stopped; or the update's -errno, the message
 * prefixed with the resource and field ("drives/ID.path_on_host: ...").
 * On failure the VM and the model are as they were. Takes
 * p->path_on_host on success; free p with api_patch_free either way. */
int api_vmm_patch(struct api_vmm *v, struct api_patch *p, struct skiff_err *e);

/* An eventfd that becomes readable when the VM has stopped (not owned). */
int api_vmm_stopped_fd(const struct api_vmm *v);
/* true and *res once the VM has stopped. */
bool api_vmm_result(struct api_vmm *v, struct skiff_result *res);
/* Ask a running or paused VM to stop (no-op otherwise). */
void api_vmm_request_stop(struct api_vmm *v, enum vm_stop_reason why, int code);
/* The skiff_stop action (as lkvm stop): the VM ends now and skiff exits 0
 * (VM_STOP_HOST). 0 once requested; -EINVAL before InstanceStart, -ESRCH
 * after the guest stopped, with the message in *e. */
int api_vmm_stop_now(struct api_vmm *v, struct skiff_err *e);

/* Admission hook (the host's runtime directory and limits, src/host/):
 * api_vmm_start calls fn(ctx, cfg, e) with the configuration about to be
 * created, before skiff_vm_create; a negative errno refuses the start with
 * the message in *e. When the creation fails after an accepted admission,
 * fn is called again with cfg NULL (withdraw). Called under v's lock, from
 * the thread calling api_vmm_start. Set before the API server starts. */
typedef int (*api_vmm_admit_fn)(void *ctx, const struct skiff_config *cfg, struct skiff_err *e);
void api_vmm_set_admit(struct api_vmm *v, api_vmm_admit_fn fn, void *ctx);

/* Create the VM from *cfg as it is instead of from the model (`skiff run`,
 * whose flags already make a skiff_config): api_vmm_start then skips the
 * model's conversion. The model is filled from cfg (api_model_from_config),
 * for GET /machine-config and GET /vm/config. The
 * strings cfg points to must outlive v. 0 or -ENOMEM. */
int api_vmm_use_config(struct api_vmm *v, const struct skiff_config *cfg);

/* Stop the VM if it runs, wait for its thread, free everything. NULL ok. */
void api_vmm_destroy(struct api_vmm *v);

/* PUT /actions SendCtrlAltDel and skiff_power_button: press the button on
 * the started VM (skiff_vm_send_ctrl_alt_del, skiff_vm_power_button; a
 * paused VM sees it after resume). Returns 0; -EINVAL before
 * InstanceStart, -ESRCH once the VM has stopped, -EAGAIN/-ENOSPC when the
 * guest's keyboard is off or full; the message in *e. */
int api_vmm_send_ctrl_alt_del(struct api_vmm *v, struct skiff_err *e);
int api_vmm_power_button(struct api_vmm *v, struct skiff_err *e);

#endif

/* Logger and metrics output (Firecracker swagger Logger, Metrics; before
 * InstanceStart, from the API thread). PUT /logger: the body is validated
 * (api_model_put_logger), then log_path is opened at once (file appended
 * to, or FIFO; core/outfile.h); a path that cannot be opened refuses the
 * request ("logger.log_path: ...") and leaves the configuration as it was.
 * The level applies at once to skiff's own messages and to the VM.
 * PUT /metrics likewise opens metrics_path ("metrics.metrics_path: ...").
 * 0 or -errno with *e. */
int api_vmm_put_logger(struct api_vmm *v, const json_t *j, struct skiff_err *e);
int api_vmm_put_metrics(struct api_vmm *v, const json_t *j, struct skiff_err *e);
/* Open what a config file put in the model (logger.log_path,
 * metrics.metrics_path) and is not open yet. 0 or -errno with *e. */
int api_vmm_open_outputs(struct api_vmm *v, struct skiff_err *e);
/* FlushMetrics: write one metrics object now (api_metrics.h), before or
 * after InstanceStart. -EINVAL when metrics were not configured; -EAGAIN
 * when the FIFO had no room; -errno. Message in *e. */
int api_vmm_flush_metrics(struct api_vmm *v, struct skiff_err *e);
