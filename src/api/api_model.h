/* The pre-boot description of a VM that Firecracker's API calls and config
 * file build up (Firecracker swagger v1.x: BootSource, MachineConfiguration,
 * Drive, NetworkInterface, Vsock, EntropyDevice, Logger, Metrics), and its
 * conversion to struct skiff_config.
 *
 * Each api_model_* setter takes one parsed JSON body, validates it strictly
 * (unknown fields, wrong types, out-of-range values, missing required fields
 * are refused) and changes the model only when the whole body is good. Errors:
 * -EINVAL (or -ENOMEM) with a message naming the bad field in *e, meant for
 * Firecracker's {"fault_message": "..."}. A model is used by one thread at a
 * time (the API server serialises requests). */
#ifndef SKIFF_API_MODEL_H
#define SKIFF_API_MODEL_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include "core/devcfg.h"
#include "core/err.h"
#include "core/vm.h"

#define API_ID_MAX		64	/* drive_id / iface_id: [A-Za-z0-9_]{1,64} */
#define API_MAX_MEM_MIB		(1024ULL * 1024)	/* 1 TiB */
#define API_DEFAULT_MEM_MIB	128	/* Firecracker's default */
#define API_MAX_BODY		51200	/* bytes; Firecracker's default payload limit */

struct api_drive {
	char *drive_id;
	char *path_on_host;
	char *partuuid;			/* NULL: none */
	bool is_root_device;
	bool is_read_only;
	bool has_rate_limiter;
	struct skiff_rate_limit rl;
	bool has_io_engine;		/* false: skiff's default (io_uring when possible) */
	enum skiff_io_engine engine;	/* SKIFF_IO_SYNC ("Sync") or SKIFF_IO_URING ("Async") */
	bool writeback;			/* cache_type "Writeback" (skiff always honours flush) */
};

struct api_net {
	char *iface_id;
	char *host_dev_name;		/* tap name; NULL with user networking */
	bool user;			/* skiff extension "skiff_user_net": true */
	bool has_mac;
	uint8_t mac[6];
	bool has_rx, has_tx;
	struct skiff_rate_limit rx, tx;
	struct skiff_hostfwd hostfwd[SKIFF_MAX_HOSTFWD];	/* "skiff_hostfwd" */
	char *hostfwd_text[SKIFF_MAX_HOSTFWD];
	uint32_t nhostfwd;
};

struct api_model {
	bool has_boot_source;
	char *kernel_image_path, *initrd_path, *boot_args;
	uint32_t vcpu_count;		/* default 1 */
	uint64_t mem_size_mib;		/* default API_DEFAULT_MEM_MIB */
	bool smt, track_dirty_pages;	/* accepted and reported; no effect yet */
	struct api_drive drives[SKIFF_MAX_DISKS];
	uint32_t ndrives;
	struct api_net nets[SKIFF_MAX_NETS];
	uint32_t nnets;
	bool has_vsock;
	uint32_t guest_cid;
	char *uds_path;
	bool has_entropy;
	bool has_logger;		/* applied by api_vmm_put_logger (api_vmm.h) */
	char *log_path, *log_module;
	int log_level;			/* enum skiff_log_level; LOG_OFF: "Off" */
	char *log_level_name;		/* as given, for GET /vm/config */
	bool show_level, show_log_origin;
	bool has_metrics;
	char *metrics_path;
};

void api_model_init(struct api_model *m);
void api_model_free(struct api_model *m);

/* PUT /boot-source (BootSource). The kernel (and initrd) must be readable. */
int api_model_put_boot_source(struct api_model *m, const json_t *j, struct skiff_err *e);
/* PUT /machine-config (MachineConfiguration: omitted optional fields take
 * their defaults) and PATCH /machine-config (only the given fields change;
 * an empty body is refused). */
int api_model_put_machine_config(struct api_model *m, const json_t *j, struct skiff_err *e);
int api_model_patch_machine_config(struct api_model *m, const json_t *j, struct skiff_err *e);
/* PUT /drives/{id} (Drive): adds or replaces the drive `path_id` (NULL: take
 * the body's drive_id, as the config file does). */
int api_model_put_drive(struct api_model *m, const char *path_id, const json_t *j,
			struct skiff_err *e);
/* PATCH /drives/{id} (PartialDrive) against the model: path_on_host and
 * rate_limiter of an existing drive. apply false: validate only. */
int api_model_patch_drive(struct api_model *m, const char *path_id, const json_t *j,
			  bool apply, struct skiff_err *e);
/* A PATCH body (PartialDrive, PartialNetworkInterface) parsed and checked
 * against the model (the drive or interface exists; path_on_host is
 * readable, and writable unless the drive is read-only), to be applied to
 * the running VM and then to the model. Rate limiters as Firecracker
 * updates them: a bucket left out or null is kept, a given one replaces
 * the old (skiff_rate_limit_update). */
struct api_patch {
	bool drive;			/* PartialDrive; else PartialNetworkInterface */
	char *id;			/* drive_id / iface_id; owned */
	char *path_on_host;		/* drives; NULL: unchanged; owned */
	bool has_rl, has_rx, has_tx;	/* rate_limiter, rx_/tx_rate_limiter given */
	struct skiff_rate_limit_update rl, rx, tx;
};
/* 0 and *p (free with api_patch_free), or -EINVAL with the message naming
 * the field (*p then needs no freeing). */
int api_model_parse_patch_drive(struct api_model *m, const char *path_id, const json_t *j,
				struct api_patch *p, struct skiff_err *e);
int api_model_parse_patch_net(struct api_model *m, const char *path_id, const json_t *j,
			      struct api_patch *p, struct skiff_err *e);
/* Record an applied patch in the model (GET /vm/config then shows it);
 * takes p->path_on_host. */
void api_model_apply_patch(struct api_model *m, struct api_patch *p);
void api_patch_free(struct api_patch *p);
/* PUT /network-interfaces/{id} (NetworkInterface, plus skiff_user_net and
 * skiff_hostfwd) and PATCH (PartialNetworkInterface: rate limiters). */
int api_model_put_net(struct api_model *m, const char *path_id, const json_t *j,
		      struct skiff_err *e);
int api_model_patch_net(struct api_model *m, const char *path_id, const json_t *j,
			bool apply, struct skiff_err *e);
/* PUT /vsock (Vsock), PUT /entropy (EntropyDevice), PUT /logger (Logger),
 * PUT /metrics (Metrics; only once). */
int api_model_put_vsock(struct api_model *m, const json_t *j, struct skiff_err *e);
int api_model_put_entropy(struct api_model *m, const json_t *j, struct skiff_err *e);
int api_model_put_logger(struct api_model *m, const json_t *j, struct skiff_err *e);
int api_model_put_metrics(struct api_model *m, const json_t *j, struct skiff_err *e);

/* Parse a PUT /actions body (InstanceActionInfo) into its action_type:
 * Firecracker's three, plus two skiff extensions: "skiff_power_button"
 * presses the ACPI power button (a graceful shutdown, as QEMU's
 * system_powerdown), "skiff_stop" stops the VM at once (as lkvm stop). */
enum api_action { API_ACTION_INSTANCE_START, API_ACTION_SEND_CTRL_ALT_DEL,
		  API_ACTION_FLUSH_METRICS, API_ACTION_POWER_BUTTON, API_ACTION_STOP };
int api_parse_action(const json_t *j, enum api_action *out, struct skiff_err *e);

/* A Firecracker config file (FullVmConfiguration: boot-source, drives,
 * machine-config, network-interfaces, vsock, logger, metrics, entropy) into
 * an empty model. Errors are prefixed with the place in the file. */
int api_model_load_config(struct api_model *m, const char *buf, size_t len, struct skiff_err *e);
int api_model_load_config_file(struct api_model *m, const char *path, struct skiff_err *e);

/* What skiff_vm_create needs, built from a model. String pointers point into
 * the model (which must outlive it and not change meanwhile) or into cmdline. */
struct api_vm_config {
	struct skiff_config cfg;
	struct skiff_disk_config disks[SKIFF_MAX_DISKS];
	struct skiff_net_config nets[SKIFF_MAX_NETS];
	struct skiff_vsock_config vsock;
	char cmdline[SKIFF_MAX_CMDLINE + 1];
	char disk_ids[SKIFF_MAX_DISKS][SKIFF_DISK_ID_MAX + 1];
};

/* Fill *out from `base` (console, logging, start time: everything the API
 * does not describe) and the model. The root drive comes first (/dev/vda)
 * and adds "root=/dev/vda" (or root=PARTUUID=...) and "rw"/"ro" to the
 * command line, as Firecracker does; "pci=off" is dropped from boot_args
 * (skiff's devices are on PCI). -EINVAL without a boot source. */
int api_model_to_config(const struct api_model *m, const struct skiff_config *base,
			struct api_vm_config *out, struct skiff_err *e);

/* Fill an empty model from a ready configuration (`skiff run`'s flags), for
 * the GET requests only: boot source, machine config, disks (drive ids from
 * --disk id= or "diskN", none the root device), interfaces ("ethN"), vsock,
 * entropy. 0 or -ENOMEM (free the model with api_model_free either way). */
int api_model_from_config(struct api_model *m, const struct skiff_config *c);

/* JSON for GET /machine-config (MachineConfiguration) and GET /vm/config
 * (FullVmConfiguration). New references; NULL when out of memory. */
json_t *api_model_machine_json(const struct api_model *m);
json_t *api_model_full_json(const struct api_model *m);

#endif
