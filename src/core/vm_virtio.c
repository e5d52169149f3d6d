/* Which virtio devices a VM has: creates them from the configuration on the
 * VM's PCI bus, in a fixed order (disks, network interfaces, vsock, rng), so
 * the guest sees the same slots on every boot: the host bridge is slot 0,
 * then one slot per device in that order. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "core/vm_internal.h"
#include "dev/virtio_blk.h"
#include "dev/virtio_net.h"
#include "dev/virtio_rng.h"
#include "dev/virtio_vsock.h"
#include "virtio/virtio_pci.h"

#define VM_VIRTIO_MAX (SKIFF_MAX_DISKS + SKIFF_MAX_NETS + 2)

struct vm_virtio {
	struct virtio_blk *blk[SKIFF_MAX_DISKS];
	struct virtio_net *net[SKIFF_MAX_NETS];
	struct virtio_vsock *vsock;
	struct virtio_rng *rng;
	struct virtio_pci *pci[VM_VIRTIO_MAX];	/* transports, creation order */
	uint32_t npci;
	/* lookup names for skiff_vm_update_disk/net (owned; NULL: none) */
	char *disk_name[SKIFF_MAX_DISKS], *net_name[SKIFF_MAX_NETS];
	pthread_mutex_t update_lock;	/* one update at a time */
};

/* Two --disk options naming one image would lock each other out with a
 * confusing "in use by another process": say what happened instead. */
static int check_distinct_disks(const struct skiff_config *c, struct skiff_err *e)
{
	struct stat st[SKIFF_MAX_DISKS];
	bool ok[SKIFF_MAX_DISKS];
	for (uint32_t i = 0; i < c->ndisks; i++) {
		ok[i] = c->disks[i].path && stat(c->disks[i].path, &st[i]) == 0;
		for (uint32_t j = 0; ok[i] && j < i; j++)
			if (ok[j] && st[j].st_dev == st[i].st_dev && st[j].st_ino == st[i].st_ino)
				return skiff_fail(e, EINVAL, "disks %u and %u are the same image (%s)",
						  j + 1, i + 1, c->disks[i].path);
	}
	return 0;
}

static int attach(struct skiff_vm *vm, struct virtio_device *vd, struct skiff_err *e)
{
	struct vm_virtio *v = vm->virtio;
	int r = virtio_pci_create(vd, vm->pci, &v->pci[v->npci], e);
	if (r == 0)
		v->npci++;
	return r;
}

int vm_virtio_create(struct skiff_vm *vm, struct skiff_err *e)
{
	const struct skiff_config *c = &vm->cfg;
	if (!c->ndisks && !c->nnets && !c->vsock && !c->rng)
		return 0;
	if (c->ndisks > SKIFF_MAX_DISKS)
		return skiff_fail(e, EINVAL, "%u disks: at most %d", c->ndisks, SKIFF_MAX_DISKS);
	if (c->nnets > SKIFF_MAX_NETS)
		return skiff_fail(e, EINVAL, "%u network interfaces: at most %d", c->nnets, SKIFF_MAX_NETS);
	int r = check_distinct_disks(c, e);
	if (r)
		return r;
	if (!vm->pci || !vm->host.loop)
		return skiff_fail(e, ENODEV, "virtio devices need the PCI bus and the I/O event loop");
	struct vm_virtio *v = calloc(1, sizeof(*v));
	if (!v)
		return skiff_fail(e, ENOMEM, "out of memory");
	vm->virtio = v;
	pthread_mutex_init(&v->update_lock, NULL);
	for (uint32_t i = 0; i < c->ndisks; i++) {
		const char *name = c->disks[i].name ? c->disks[i].name : c->disks[i].id;
		if (name && !(v->disk_name[i] = strdup(name)))
			return skiff_fail(e, ENOMEM, "out of memory");
		if ((r = virtio_blk_create(&c->disks[i], &vm->host, &v->blk[i], e)) ||
		    (r = attach(vm, virtio_blk_vdev(v->blk[i]), e)))
			return r;
	}
	for (uint32_t i = 0; i < c->nnets; i++) {
		struct skiff_net_config nc = c->nets[i];
		if (nc.name && !(v->net_name[i] = strdup(nc.name)))
			return skiff_fail(e, ENOMEM, "out of memory");
		if (!nc.has_mac) {
			virtio_net_default_mac(i, nc.mac);
			nc.has_mac = true;
		}
		if ((r = virtio_net_create(&nc, &vm->host, &v->net[i], e)) ||
		    (r = attach(vm, virtio_net_vdev(v->net[i]), e)))
			return r;
	}
	if (c->vsock && ((r = virtio_vsock_create(c->vsock, &vm->host, &v->vsock, e)) ||
			 (r = attach(vm, virtio_vsock_vdev(v->vsock), e))))
		return r;
	if (c->rng && ((r = virtio_rng_create(&vm->host, &v->rng, e)) ||
		       (r = attach(vm, virtio_rng_vdev(v->rng), e))))
		return r;
	skiff_log(&vm->log, LOG_DEBUG, "virtio: %u disk(s), %u network interface(s)%s%s",
		  c->ndisks, c->nnets, c->vsock ? ", vsock" : "", c->rng ? ", rng" : "");
	return 0;
}

/* Transports first (they stop the guest from reaching the devices and detach
 * ioeventfds/irqfds), then the device models (each quiesces on the I/O
 * thread before freeing). */
void vm_virtio_destroy(struct skiff_vm *vm)
{
	struct vm_virtio *v = vm->virtio;
	if (!v)
		return;
	while (v->npci)
		virtio_pci_destroy(v->pci[--v->npci]);
	for (int i = 0; i < SKIFF_MAX_DISKS; i++)
		virtio_blk_destroy(v->blk[i]);
	for (int i = 0; i < SKIFF_MAX_NETS; i++)
		virtio_net_destroy(v->net[i]);
	virtio_vsock_destroy(v->vsock);
	virtio_rng_destroy(v->rng);
	for (int i = 0; i < SKIFF_MAX_DISKS; i++)
		free(v->disk_name[i]);
	for (int i = 0; i < SKIFF_MAX_NETS; i++)
		free(v->net_name[i]);
	pthread_mutex_destroy(&v->update_lock);
	free(v);
	vm->virtio = NULL;
}

void vm_virtio_pause(struct skiff_vm *vm)
{
	if (!vm->virtio)
		return;
	for (int i = 0; i < SKIFF_MAX_DISKS; i++)
		virtio_blk_pause(vm->virtio->blk[i]);
}

void vm_virtio_resume(struct skiff_vm *vm)
{
	if (!vm->virtio)
		return;
	for (int i = 0; i < SKIFF_MAX_DISKS; i++)
		virtio_blk_resume(vm->virtio->blk[i]);
}

/* --- run-time updates (vm.h: skiff_vm_update_disk / _net) ---------------- */

static int find(char *const *names, int n, const char *id)
{
	for (int i = 0; i < n; i++)
		if (names[i] && !strcmp(names[i], id))
			return i;
	return -1;
}

/* Another disk of this VM already uses path (its flock would answer "in
 * use by another process", which would mislead). */
static int check_other_disks(struct vm_virtio *v, int self, const char *id, const char *path,
			     struct skiff_err *e)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return 0;		/* the open says what is wrong */
	uint64_t sdev = S_ISBLK(st.st_mode) ? (uint64_t)st.st_rdev : (uint64_t)st.st_dev;
	for (int i = 0; i < SKIFF_MAX_DISKS; i++) {
		uint64_t dev, ino;
		if (i == self || !v->blk[i])
			continue;
		virtio_blk_file_id(v->blk[i], &dev, &ino);
		if (dev == sdev && ino == (uint64_t)st.st_ino)
			return skiff_fail(e, EBUSY, "drive %s: image %s is already disk %d%s%s%s",
					  id, path, i + 1, v->disk_name[i] ? " (" : "",
					  v->disk_name[i] ? v->disk_name[i] : "",
					  v->disk_name[i] ? ")" : "");
	}
	return 0;
}

static int check_state(struct skiff_vm *vm, const char *what, const char *id,
		       struct skiff_err *e)
{
	if (skiff_vm_state(vm) == SKIFF_VM_STOPPED)
		return skiff_fail(e, ESRCH, "%s %s: the VM has stopped", what, id);
	return 0;
}

int skiff_vm_update_disk(struct skiff_vm *vm, const char *id, const char *path,
			 const struct skiff_rate_limit_update *rl, struct skiff_err *e)
{
	struct vm_virtio *v = vm->virtio;
	int i = v ? find(v->disk_name, SKIFF_MAX_DISKS, id) : -1;
	if (i < 0 || !v->blk[i])
		return skiff_fail(e, ENOENT, "no drive `%s`", id);
	int r = check_state(vm, "drive", id, e);
	if (r)
		return r;
	pthread_mutex_lock(&v->update_lock);
	if (!path || !(r = check_other_disks(v, i, id, path, e)))
		r = virtio_blk_update(v->blk[i], path, rl, e);
	pthread_mutex_unlock(&v->update_lock);
	if (!r)
		skiff_log(&vm->log, LOG_INFO, "drive %s updated%s%s%s", id, path ? ": image " : "",
			  path ? path : "", rl ? path ? ", rate limiter" : ": rate limiter" : "");
	return r;
}

int skiff_vm_update_net(struct skiff_vm *vm, const char *id,
			const struct skiff_rate_limit_update *rx,
			const struct skiff_rate_limit_update *tx, struct skiff_err *e)
{
	struct vm_virtio *v = vm->virtio;
	int i = v ? find(v->net_name, SKIFF_MAX_NETS, id) : -1;
	if (i < 0 || !v->net[i])
		return skiff_fail(e, ENOENT, "no network interface `%s`", id);
	int r = check_state(vm, "network interface", id, e);
	if (r)
		return r;
	pthread_mutex_lock(&v->update_lock);
	r = virtio_net_update_rate_limits(v->net[i], rx, tx, e);
	pthread_mutex_unlock(&v->update_lock);
	if (!r)
		skiff_log(&vm->log, LOG_INFO, "network interface %s: rate limiters updated", id);
	return r;
}

void vm_virtio_metrics(struct skiff_vm *vm, struct skiff_metrics *out)
{
	struct vm_virtio *v = vm->virtio;
	if (!v)
		return;
	out->ndisks = vm->cfg.ndisks;
	for (uint32_t i = 0; i < out->ndisks && v->blk[i]; i++) {
		struct virtio_blk_stats s;
		struct skiff_metrics_disk *d = &out->disks[i];
		virtio_blk_get_stats(v->blk[i], &s);
		*d = (struct skiff_metrics_disk){
			.read_bytes = s.read_bytes, .write_bytes = s.write_bytes, .reads = s.reads,
			.writes = s.writes, .flushes = s.flushes, .errors = s.errors,
			.unsupported = s.unsupported, .throttled = s.throttled,
		};
		/* The API's drive_id (name) where there is one, else the serial. */
		const struct skiff_disk_config *dc = &vm->cfg.disks[i];
		snprintf(d->id, sizeof(d->id), "%s", dc->name ? dc->name : dc->id ? dc->id : "");
	}
	out->nnets = vm->cfg.nnets;
	for (uint32_t i = 0; i < out->nnets && v->net[i]; i++) {
		struct virtio_net_stats s;
		virtio_net_get_stats(v->net[i], &s);
		out->nets[i] = (struct skiff_metrics_net){
			.rx_bytes = s.rx_bytes, .rx_packets = s.rx_frames, .rx_dropped = s.rx_dropped,
			.rx_errors = s.rx_errors, .rx_throttled = s.rx_throttled,
			.tx_bytes = s.tx_bytes, .tx_packets = s.tx_frames, .tx_dropped = s.tx_dropped,
			.tx_errors = s.tx_errors, .tx_throttled = s.tx_throttled,
		};
	}
	if (v->vsock) {
		struct virtio_vsock_counters c;
		virtio_vsock_counters(v->vsock, &c);
		out->has_vsock = true;
		out->vsock = (struct skiff_metrics_vsock){
			.rx_bytes = c.rx_bytes, .tx_bytes = c.tx_bytes, .rx_packets = c.rx_packets,
			.tx_packets = c.tx_packets, .conns_added = c.conns_host + c.conns_guest,
			.conns_refused = c.conns_refused + c.conns_over_limit,
			.conns_timed_out = c.conns_timed_out, .conns_open = c.conns_open,
			.rst_sent = c.rst_sent, .bad_packets = c.bad_packets,
		};
	}
	if (v->rng) {
		struct virtio_rng_counters c;
		virtio_rng_counters(v->rng, &c);
		out->has_rng = true;
		out->rng = (struct skiff_metrics_rng){
			.bytes = c.bytes, .requests = c.requests, .throttled = c.throttled,
			.errors = c.errors,
		};
	}
}
