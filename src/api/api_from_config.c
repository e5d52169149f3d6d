/* The API model of a VM described by a ready skiff_config (`skiff run`'s
 * flags), for GET /machine-config and GET /vm/config (api_model.h). */
#include "api/api_json.h"
#include "api/api_model.h"
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static bool rl_set(const struct skiff_rate_limit *rl)
{
	return rl->bandwidth.size || rl->ops.size;
}

static int dupf(char **dst, const char *fmt, unsigned n)
{
	char buf[32];
	snprintf(buf, sizeof(buf), fmt, n);
	return api_strset(dst, buf);
}

/* QEMU's hostfwd text: tcp:[HOSTADDR]:PORT-[GUESTADDR]:PORT. */
static int hostfwd_text(char **dst, const struct skiff_hostfwd *f)
{
	char h[INET_ADDRSTRLEN] = "", g[INET_ADDRSTRLEN] = "", buf[96];
	struct in_addr a;
	if (f->host_addr) {
		a.s_addr = htonl(f->host_addr);
		inet_ntop(AF_INET, &a, h, sizeof(h));
	}
	if (f->guest_addr) {
		a.s_addr = htonl(f->guest_addr);
		inet_ntop(AF_INET, &a, g, sizeof(g));
	}
	snprintf(buf, sizeof(buf), "%s:%s:%u-%s:%u", f->udp ? "udp" : "tcp", h,
		 (unsigned)f->host_port, g, (unsigned)f->guest_port);
	return api_strset(dst, buf);
}

static int drive_from(struct api_drive *d, const struct skiff_disk_config *c, uint32_t i)
{
	d->is_read_only = c->read_only;
	d->has_rate_limiter = rl_set(&c->rl);
	d->rl = c->rl;
	d->has_io_engine = c->engine != SKIFF_IO_AUTO;
	d->engine = c->engine;
	if (api_strset(&d->path_on_host, c->path))
		return -ENOMEM;
	return c->id ? api_strset(&d->drive_id, c->id) : dupf(&d->drive_id, "disk%u", i);
}

static int net_from(struct api_net *n, const struct skiff_net_config *c, uint32_t i)
{
	n->user = c->kind == SKIFF_NET_USER;
	n->has_mac = c->has_mac;
	memcpy(n->mac, c->mac, sizeof(n->mac));
	n->has_rx = rl_set(&c->rx);
	n->rx = c->rx;
	n->has_tx = rl_set(&c->tx);
	n->tx = c->tx;
	if (dupf(&n->iface_id, "eth%u", i) ||
	    (!n->user && api_strset(&n->host_dev_name, c->tap_name)))
		return -ENOMEM;
	for (uint32_t k = 0; k < c->nhostfwd && k < SKIFF_MAX_HOSTFWD; k++) {
		n->hostfwd[k] = c->hostfwd[k];
		if (hostfwd_text(&n->hostfwd_text[k], &c->hostfwd[k]))
			return -ENOMEM;
		n->nhostfwd = k + 1;
	}
	return 0;
}

int api_model_from_config(struct api_model *m, const struct skiff_config *c)
{
	m->has_boot_source = true;
	m->vcpu_count = c->cpus;
	m->mem_size_mib = c->mem_mib;
	m->has_entropy = c->rng;
	if (api_strset(&m->kernel_image_path, c->kernel_path) ||
	    api_strset(&m->initrd_path, c->initrd_path) || api_strset(&m->boot_args, c->cmdline))
		return -ENOMEM;
	for (uint32_t i = 0; i < c->ndisks && i < SKIFF_MAX_DISKS; i++) {
		m->ndrives = i + 1;
		if (drive_from(&m->drives[i], &c->disks[i], i))
			return -ENOMEM;
	}
	for (uint32_t i = 0; i < c->nnets && i < SKIFF_MAX_NETS; i++) {
		m->nnets = i + 1;
		if (net_from(&m->nets[i], &c->nets[i], i))
			return -ENOMEM;
	}
	if (c->vsock) {
		m->has_vsock = true;
		m->guest_cid = c->vsock->guest_cid;
		if (api_strset(&m->uds_path, c->vsock->uds_path))
			return -ENOMEM;
	}
	return 0;
}
