/* The API's VM model into struct skiff_config (see api_model.h). */
#include "api/api_model.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define API_DEFAULT_BOOT_ARGS "console=ttyS0 reboot=k panic=1"

/* Append boot_args without its "pci=off" words (Firecracker's guides pass it;
 * skiff's virtio devices are on PCI). Returns the length, or -1 if too long. */
static int copy_args(char *dst, size_t cap, const char *args)
{
	size_t n = 0;
	const char *p = args;
	while (*p) {
		size_t ws = strspn(p, " \t\n");
		p += ws;
		size_t len = strcspn(p, " \t\n");
		if (!len)
			break;
		if (!(len == 7 && !strncmp(p, "pci=off", 7))) {
			if (n + (n ? 1 : 0) + len >= cap)
				return -1;
			if (n)
				dst[n++] = ' ';
			memcpy(dst + n, p, len);
			n += len;
		}
		p += len;
	}
	dst[n] = '\0';
	return (int)n;
}

int api_model_to_config(const struct api_model *m, const struct skiff_config *base,
			struct api_vm_config *out, struct skiff_err *e)
{
	memset(out, 0, sizeof(*out));
	out->cfg = *base;
	struct skiff_config *c = &out->cfg;
	if (!m->has_boot_source)
		return skiff_fail(e, EINVAL, "boot-source: not configured: cannot start a microVM "
				  "without a kernel (PUT /boot-source)");
	c->kernel_path = m->kernel_image_path;
	c->initrd_path = m->initrd_path;
	c->cpus = m->vcpu_count;
	c->mem_mib = m->mem_size_mib;
	if (m->has_logger)
		c->log_level = m->log_level;	/* LOG_OFF included */

	int n = copy_args(out->cmdline, sizeof(out->cmdline),
			  m->boot_args ? m->boot_args : API_DEFAULT_BOOT_ARGS);
	/* Disks: the root device first, so it is /dev/vda. */
	const struct api_drive *root = NULL;
	uint32_t nd = 0;
	for (uint32_t i = 0; i < m->ndrives; i++)
		if (m->drives[i].is_root_device)
			root = &m->drives[i];
	for (int pass = 0; pass < 2; pass++)
		for (uint32_t i = 0; i < m->ndrives; i++) {
			const struct api_drive *d = &m->drives[i];
			if ((pass == 0) != (d == root))
				continue;
			struct skiff_disk_config *k = &out->disks[nd];
			k->path = d->path_on_host;
			snprintf(out->disk_ids[nd], sizeof(out->disk_ids[nd]), "%s", d->drive_id);
			k->id = out->disk_ids[nd];
			k->read_only = d->is_read_only;
			k->engine = d->has_io_engine ? d->engine : SKIFF_IO_AUTO;
			k->rl = d->rl;
			k->name = d->drive_id;	/* PATCH /drives/{id} finds it by this */
			nd++;
		}
	c->disks = nd ? out->disks : NULL;
	c->ndisks = nd;
	if (n >= 0 && root) {
		size_t len = (size_t)n, cap = sizeof(out->cmdline);
		int w = root->partuuid
			? snprintf(out->cmdline + len, cap - len, "%sroot=PARTUUID=%s %s",
				   len ? " " : "", root->partuuid, root->is_read_only ? "ro" : "rw")
			: snprintf(out->cmdline + len, cap - len, "%sroot=/dev/vda %s",
				   len ? " " : "", root->is_read_only ? "ro" : "rw");
		n = (w < 0 || (size_t)w >= cap - len) ? -1 : (int)(len + (size_t)w);
	}
	if (n < 0)
		return skiff_fail(e, EINVAL, "boot-source.boot_args: the kernel command line would "
				  "be longer than %d bytes", SKIFF_MAX_CMDLINE);
	c->cmdline = out->cmdline;

	for (uint32_t i = 0; i < m->nnets; i++) {
		const struct api_net *a = &m->nets[i];
		struct skiff_net_config *k = &out->nets[i];
		k->kind = a->user ? SKIFF_NET_USER : SKIFF_NET_TAP;
		k->tap_name = a->user ? NULL : a->host_dev_name;
		k->has_mac = a->has_mac;
		memcpy(k->mac, a->mac, 6);
		k->rx = a->rx;
		k->tx = a->tx;
		memcpy(k->hostfwd, a->hostfwd, sizeof(k->hostfwd));
		k->nhostfwd = a->nhostfwd;
		k->name = a->iface_id;
	}
	c->nets = m->nnets ? out->nets : NULL;
	c->nnets = m->nnets;
	if (m->has_vsock) {
		out->vsock.guest_cid = m->guest_cid;
		out->vsock.uds_path = m->uds_path;
		c->vsock = &out->vsock;
	} else {
		c->vsock = NULL;
	}
	c->rng = m->has_entropy;
	return 0;
}
