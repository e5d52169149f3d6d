/* A VMM process's entry in the host's runtime directory (src/host/runtime.h),
 * shared by `skiff run` and the Firecracker mode: registration with the API
 * socket, admission against the host limits when the VM starts, removal at
 * exit. */
#ifndef SKIFF_CLI_VMREG_H
#define SKIFF_CLI_VMREG_H
#include <stdbool.h>
#include <stddef.h>
#include "api/api_http.h"
#include "api/api_vmm.h"
#include "host/runtime.h"

struct cli_reg {
	char dir[RT_DIR_MAX];
	struct rt_entry en;
	bool active;		/* our entry is in the directory */
};

/* Open the runtime directory, then under the host lock: admit `id` (NULL:
 * "skiff-PID"; stale entries removed, a live duplicate refused, and with
 * `started` the host limits checked for it), start the API server for vmm
 * on `sock` (NULL: DIR/ID.sock; relative paths are made absolute), write the
 * entry. 0, or a negative errno with the message in *e. */
int cli_reg_begin(struct cli_reg *r, const char *id, const char *sock,
		  const struct skiff_config *started, struct api_vmm *vmm, size_t max_body,
		  struct api_http **http, struct skiff_err *e);

/* api_vmm_admit_fn for a VM started later (InstanceStart, config file):
 * ctx is the struct cli_reg. */
int cli_reg_admit(void *ctx, const struct skiff_config *cfg, struct skiff_err *e);

/* Remove our entry (if still ours). */
void cli_reg_end(struct cli_reg *r);

#endif
