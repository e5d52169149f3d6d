/* Firecracker API bodies into the pre-boot VM model (see api_model.h).
 * Every setter parses into a scratch value first and commits only when the
 * whole body is good, so a refused request leaves the model as it was. */
#include "api/api_model.h"
#include "api/api_json.h"
#include "core/devopts.h"
#include "core/log.h"
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

void api_model_init(struct api_model *m)
{
	memset(m, 0, sizeof(*m));
	m->vcpu_count = 1;
	m->mem_size_mib = API_DEFAULT_MEM_MIB;
	m->log_level = LOG_INFO;
}

static void drive_free(struct api_drive *d)
{
	free(d->drive_id);
	free(d->path_on_host);
	free(d->partuuid);
	memset(d, 0, sizeof(*d));
}

static void net_free(struct api_net *n)
{
	free(n->iface_id);
	free(n->host_dev_name);
	for (uint32_t i = 0; i < SKIFF_MAX_HOSTFWD; i++)
		free(n->hostfwd_text[i]);
	memset(n, 0, sizeof(*n));
}

void api_model_free(struct api_model *m)
{
	free(m->kernel_image_path);
	free(m->initrd_path);
	free(m->boot_args);
	for (uint32_t i = 0; i < m->ndrives; i++)
		drive_free(&m->drives[i]);
	for (uint32_t i = 0; i < m->nnets; i++)
		net_free(&m->nets[i]);
	free(m->uds_path);
	free(m->log_path);
	free(m->log_module);
	free(m->log_level_name);
	free(m->metrics_path);
	api_model_init(m);
}

/* Firecracker's resource ids: 1..64 of [A-Za-z0-9_]. */
static int check_id(const char *ctx, const char *name, const char *id, struct skiff_err *e)
{
	size_t n = strlen(id);
	if (n == 0 || n > API_ID_MAX)
		return skiff_fail(e, EINVAL, "%s.%s: must be 1 to %d characters", ctx, name,
				  API_ID_MAX);
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			return skiff_fail(e, EINVAL, "%s.%s: invalid character in `%.64s` "
					  "(letters, digits and _ only)", ctx, name, id);
	}
	return 0;
}

/* The id in the path must be the id in the body (Firecracker's rule). */
static int check_path_id(const char *ctx, const char *name, const char *path_id,
			 const char *body_id, struct skiff_err *e)
{
	if (path_id && strcmp(path_id, body_id))
		return skiff_fail(e, EINVAL, "%s.%s: `%.64s` does not match the id in the path "
				  "(`%.64s`)", ctx, name, body_id, path_id);
	return 0;
}

static int check_file(const char *ctx, const char *name, const char *path, bool write,
		      struct skiff_err *e)
{
	if (!*path)
		return skiff_fail(e, EINVAL, "%s.%s: must not be empty", ctx, name);
	if (access(path, write ? R_OK | W_OK : R_OK))
		return skiff_fail(e, EINVAL, "%s.%s: cannot open `%.256s`%s: %s", ctx, name, path,
				  write ? " for reading and writing" : "", strerror(errno));
	return 0;
}

/* TokenBucket: size and refill_time required, one_time_burst optional. */
static int parse_bucket(const json_t *j, const char *ctx, struct skiff_bucket *b,
			struct skiff_err *e)
{
	static const char *const keys[] = { "size", "one_time_burst", "refill_time", NULL };
	int r;
	memset(b, 0, sizeof(*b));
	if ((r = api_json_check_object(j, ctx, keys, e)) ||
	    (r = api_json_u64(j, ctx, "size", true, INT64_MAX, &b->size, NULL, e)) ||
	    (r = api_json_u64(j, ctx, "refill_time", true, INT64_MAX, &b->refill_time_ms, NULL, e)) ||
	    (r = api_json_u64(j, ctx, "one_time_burst", false, INT64_MAX, &b->one_time_burst,
			      NULL, e)))
		return r;
	return 0;
}

/* RateLimiter field `name` of obj: bandwidth and ops buckets, both optional. */
static int parse_rate_limiter(const json_t *obj, const char *ctx, const char *name,
			      struct skiff_rate_limit *rl, bool *present, struct skiff_err *e)
{
	static const char *const keys[] = { "bandwidth", "ops", NULL };
	char sub[160], sub2[192];
	json_t *j = json_object_get(obj, name);
	memset(rl, 0, sizeof(*rl));
	*present = j && !json_is_null(j);
	if (!*present)
		return 0;
	snprintf(sub, sizeof(sub), "%s.%s", ctx, name);
	int r = api_json_check_object(j, sub, keys, e);
	if (r)
		return r;
	json_t *b = json_object_get(j, "bandwidth");
	snprintf(sub2, sizeof(sub2), "%s.bandwidth", sub);
	if (b && !json_is_null(b) && (r = parse_bucket(b, sub2, &rl->bandwidth, e)))
		return r;
	json_t *o = json_object_get(j, "ops");
	snprintf(sub2, sizeof(sub2), "%s.ops", sub);
	if (o && !json_is_null(o) && (r = parse_bucket(o, sub2, &rl->ops, e)))
		return r;
	return 0;
}

int api_model_put_boot_source(struct api_model *m, const json_t *j, struct skiff_err *e)
{
	static const char *const keys[] = { "kernel_image_path", "initrd_path", "boot_args", NULL };
	const char *ctx = "boot-source";
	char *kernel = NULL, *initrd = NULL, *args = NULL;
	int r;
	if ((r = api_json_check_object(j, ctx, keys, e)) ||
	    (r = api_json_str(j, ctx, "kernel_image_path", true, &kernel, NULL, e)) ||
	    (r = api_json_str(j, ctx, "initrd_path", false, &initrd, NULL, e)) ||
	    (r = api_json_str(j, ctx, "boot_args", false, &args, NULL, e)) ||
	    (r = check_file(ctx, "kernel_image_path", kernel, false, e)) ||
	    (initrd && (r = check_file(ctx, "initrd_path", initrd, false, e))))
		goto out;
	if (args && strlen(args) > SKIFF_MAX_CMDLINE) {
		r = skiff_fail(e, EINVAL, "%s.boot_args: %zu bytes, at most %d", ctx, strlen(args),
			       SKIFF_MAX_CMDLINE);
		goto out;
	}
	free(m->kernel_image_path);
	free(m->initrd_path);
	free(m->boot_args);
	m->kernel_image_path = kernel;
	m->initrd_path = initrd;
	m->boot_args = args;
	m->has_boot_source = true;
	return 0;
out:
	free(kernel);
	free(initrd);
	free(args);
	return r;
}

/* Shared by PUT and PATCH: `patch` keeps what the body leaves out. */
static int machine_config(struct api_model *m, const json_t *j, bool patch, struct skiff_err *e)
{
	static const char *const keys[] = { "vcpu_count", "mem_size_mib", "smt",
					    "track_dirty_pages", "cpu_template", "huge_pages", NULL };
	const char *ctx = "machine-config";
	uint64_t vcpus = patch ? m->vcpu_count : 1, mem = patch ? m->mem_size_mib : 0;
	bool smt = patch && m->smt, dirty = patch && m->track_dirty_pages;
	bool p[6] = { false };
	char *tmpl = NULL, *huge = NULL;
	int r;
	if ((r = api_json_check_object(j, ctx, keys, e)) ||
	    (r = api_json_u64(j, ctx, "vcpu_count", !patch, UINT32_MAX, &vcpus, &p[0], e)) ||
	    (r = api_json_u64(j, ctx, "mem_size_mib", !patch, UINT64_MAX >> 20, &mem, &p[1], e)) ||
	    (r = api_json_bool(j, ctx, "smt", false, &smt, &p[2], e)) ||
	    (r = api_json_bool(j, ctx, "track_dirty_pages", false, &dirty, &p[3], e)) ||
	    (r = api_json_str(j, ctx, "cpu_template", false, &tmpl, &p[4], e)) ||
	    (r = api_json_str(j, ctx, "huge_pages", false, &huge, &p[5], e)))
		goto out;
	r = -EINVAL;
	if (patch && !(p[0] || p[1] || p[2] || p[3] || p[4] || p[5]))
		skiff_fail(e, EINVAL, "%s: empty PATCH request", ctx);
	else if (vcpus < 1 || vcpus > SKIFF_MAX_VCPUS)
		skiff_fail(e, EINVAL, "%s.vcpu_count: %llu is out of range (1..%d)", ctx,
			   (unsigned long long)vcpus, SKIFF_MAX_VCPUS);
	else if (smt && vcpus > 1 && vcpus % 2)
		skiff_fail(e, EINVAL, "%s.vcpu_count: with smt, 1 or an even number, not %llu", ctx,
			   (unsigned long long)vcpus);
	else if (mem < SKIFF_MIN_MEM_MIB || mem > API_MAX_MEM_MIB)
		skiff_fail(e, EINVAL, "%s.mem_size_mib: %llu is out of range (%d..%llu)", ctx,
			   (unsigned long long)mem, SKIFF_MIN_MEM_MIB, API_MAX_MEM_MIB);
	else if (tmpl && strcmp(tmpl, "None"))
		skiff_fail(e, EINVAL, "%s.cpu_template: `%.32s` is not supported (only \"None\")",
			   ctx, tmpl);
	else if (huge && strcmp(huge, "None"))
		skiff_fail(e, EINVAL, "%s.huge_pages: `%.32s` is not supported (only \"None\")",
			   ctx, huge);
	else
		r = 0;
	if (!r) {
		m->vcpu_count = (uint32_t)vcpus;
		m->mem_size_mib = mem;
		m->smt = smt;
		m->track_dirty_pages = dirty;
	}
out:
	free(tmpl);
	free(huge);
	return r;
}

int api_model_put_machine_config(struct api_model *m, const json_t *j, struct skiff_err *e)
{
	return machine_config(m, j, false, e);
}

int api_model_patch_machine_config(struct api_model *m, const json_t *j, struct skiff_err *e)
{
	return machine_config(m, j, true, e);
}

static struct api_drive *find_drive(struct api_model *m, const char *id)
{
	for (uint32_t i = 0; i < m->ndrives; i++)
		if (!strcmp(m->drives[i].drive_id, id))
			return &m->drives[i];
	return NULL;
}

static struct api_net *find_net(struct api_model *m, const char *id)
{
	for (uint32_t i = 0; i < m->nnets; i++)
		if (!strcmp(m->nets[i].iface_id, id))
			return &m->nets[i];
	return NULL;
}

/* "drives/ID" (or "drives" before the id is known) for messages. */
static void res_ctx(char *buf, size_t cap, const char *kind, const char *id)
{
	if (id)
		snprintf(buf, cap, "%s/%.64s", kind, id);
	else
		snprintf(buf, cap, "%s", kind);
}

static int parse_drive(const char *ctx, const json_t *j, struct api_drive *d, struct skiff_err *e)
{
	static const char *const keys[] = { "drive_id", "path_on_host", "is_root_device",
					    "is_read_only", "partuuid", "cache_type", "rate_limiter",
					    "io_engine", "socket", NULL };
	char *cache = NULL, *engine = NULL, *sock = NULL;
	int r;
	if ((r = api_json_check_object(j, ctx, keys, e)) ||
	    (r = api_json_str(j, ctx, "drive_id", true, &d->drive_id, NULL, e)) ||
	    (r = check_id(ctx, "drive_id", d->drive_id, e)) ||
	    (r = api_json_bool(j, ctx, "is_root_device", true, &d->is_root_device, NULL, e)) ||
	    (r = api_json_str(j, ctx, "socket", false, &sock, NULL, e)))
		goto out;
	if (sock) {
		r = skiff_fail(e, EINVAL, "%s.socket: vhost-user-block is not supported", ctx);
		goto out;
	}
	if ((r = api_json_str(j, ctx, "path_on_host", true, &d->path_on_host, NULL, e)) ||
	    (r = api_json_bool(j, ctx, "is_read_only", false, &d->is_read_only, NULL, e)) ||
	    (r = api_json_str(j, ctx, "partuuid", false, &d->partuuid, NULL, e)) ||
	    (r = api_json_str(j, ctx, "cache_type", false, &cache, NULL, e)) ||
	    (r = api_json_str(j, ctx, "io_engine", false, &engine, &d->has_io_engine, e)) ||
	    (r = parse_rate_limiter(j, ctx, "rate_limiter", &d->rl, &d->has_rate_limiter, e)))
		goto out;
	r = -EINVAL;
	if (cache && strcmp(cache, "Unsafe") && strcmp(cache, "Writeback"))
		skiff_fail(e, EINVAL, "%s.cache_type: `%.32s` is not one of Unsafe, Writeback",
			   ctx, cache);
	else if (engine && strcmp(engine, "Sync") && strcmp(engine, "Async"))
		skiff_fail(e, EINVAL, "%s.io_engine: `%.32s` is not one of Sync, Async", ctx, engine);
	else if (d->partuuid && (!*d->partuuid || strlen(d->partuuid) > 64 ||
				 strpbrk(d->partuuid, " \t\n\"")))
		skiff_fail(e, EINVAL, "%s.partuuid: `%.64s` is not a partition UUID", ctx,
			   d->partuuid);
	else if (!(r = check_file(ctx, "path_on_host", d->path_on_host, !d->is_read_only, e))) {
		d->writeback = cache && !strcmp(cache, "Writeback");
		d->engine = engine && !strcmp(engine, "Async") ? SKIFF_IO_URING : SKIFF_IO_SYNC;
	}
out:
	free(cache);
	free(engine);
	free(sock);
	return r;
}

int api_model_put_drive(struct api_model *m, const char *path_id, const json_t *j,
			struct skiff_err *e)
{
	char ctx[96];
	res_ctx(ctx, sizeof(ctx), "drives", path_id);
	struct api_drive d = { 0 };
	int r = parse_drive(ctx, j, &d, e);
	if (!r)
		r = check_path_id(ctx, "drive_id", path_id, d.drive_id, e);
	if (r)
		goto fail;
	struct api_drive *old = find_drive(m, d.drive_id);
	for (uint32_t i = 0; i < m->ndrives && d.is_root_device; i++)
		if (m->drives[i].is_root_device && &m->drives[i] != old) {
			r = skiff_fail(e, EINVAL, "%s.is_root_device: drive `%s` is already the "
				       "root device", ctx, m->drives[i].drive_id);
			goto fail;
		}
	if (!old && m->ndrives >= SKIFF_MAX_DISKS) {
		r = skiff_fail(e, EINVAL, "%s: at most %d drives", ctx, SKIFF_MAX_DISKS);
		goto fail;
	}
	if (old)
		drive_free(old);
	else
		old = &m->drives[m->ndrives++];
	*old = d;
	return 0;
fail:
	drive_free(&d);
	return r;
}

/* A RateLimiter in a PATCH body: which buckets it names (Firecracker: a
 * bucket left out or null stays as it is; one given replaces it). */
static int parse_rl_update(const json_t *obj, const char *ctx, const char *name,
			   struct skiff_rate_limit_update *u, bool *present, struct skiff_err *e)
{
	memset(u, 0, sizeof(*u));
	int r = parse_rate_limiter(obj, ctx, name, &u->cfg, present, e);
	if (r || !*present)
		return r;
	const json_t *j = json_object_get(obj, name);
	const json_t *bw = json_object_get(j, "bandwidth"), *ops = json_object_get(j, "ops");
	u->set_bandwidth = bw && !json_is_null(bw);
	u->set_ops = ops && !json_is_null(ops);
	return 0;
}

static void merge_rl(struct skiff_rate_limit *rl, const struct skiff_rate_limit_update *u)
{
	if (u->set_bandwidth)
		rl->bandwidth = u->cfg.bandwidth;
	if (u->set_ops)
		rl->ops = u->cfg.ops;
}

void api_patch_free(struct api_patch *p)
{
	free(p->id);
	free(p->path_on_host);
	memset(p, 0, sizeof(*p));
}

int api_model_parse_patch_drive(struct api_model *m, const char *path_id, const json_t *j,
				struct api_patch *p, struct skiff_err *e)
{
	static const char *const keys[] = { "drive_id", "path_on_host", "rate_limiter", NULL };
	char ctx[96];
	res_ctx(ctx, sizeof(ctx), "drives", path_id);
	memset(p, 0, sizeof(*p));
	p->drive = true;
	int r;
	if ((r = api_json_check_object(j, ctx, keys, e)) ||
	    (r = api_json_str(j, ctx, "drive_id", true, &p->id, NULL, e)) ||
	    (r = check_id(ctx, "drive_id", p->id, e)) ||
	    (r = check_path_id(ctx, "drive_id", path_id, p->id, e)) ||
	    (r = api_json_str(j, ctx, "path_on_host", false, &p->path_on_host, NULL, e)) ||
	    (r = parse_rl_update(j, ctx, "rate_limiter", &p->rl, &p->has_rl, e)))
		goto fail;
	struct api_drive *d = find_drive(m, p->id);
	if (!d) {
		r = skiff_fail(e, EINVAL, "%s.drive_id: no drive `%s`", ctx, p->id);
		goto fail;
	}
	if (p->path_on_host &&
	    (r = check_file(ctx, "path_on_host", p->path_on_host, !d->is_read_only, e)))
		goto fail;
	return 0;
fail:
	api_patch_free(p);
	return r;
}

int api_model_parse_patch_net(struct api_model *m, const char *path_id, const json_t *j,
			      struct api_patch *p, struct skiff_err *e)
{
	static const char *const keys[] = { "iface_id", "rx_rate_limiter", "tx_rate_limiter", NULL };
	char ctx[96];
	res_ctx(ctx, sizeof(ctx), "network-interfaces", path_id);
	memset(p, 0, sizeof(*p));
	int r;
	if ((r = api_json_check_object(j, ctx, keys, e)) ||
	    (r = api_json_str(j, ctx, "iface_id", true, &p->id, NULL, e)) ||
	    (r = check_id(ctx, "iface_id", p->id, e)) ||
	    (r = check_path_id(ctx, "iface_id", path_id, p->id, e)) ||
	    (r = parse_rl_update(j, ctx, "rx_rate_limiter", &p->rx, &p->has_rx, e)) ||
	    (r = parse_rl_update(j, ctx, "tx_rate_limiter", &p->tx, &p->has_tx, e)))
		goto fail;
	if (!find_net(m, p->id)) {
		r = skiff_fail(e, EINVAL, "%s.iface_id: no network interface `%s`", ctx, p->id);
		goto fail;
	}
	return 0;
fail:
	api_patch_free(p);
	return r;
}

void api_model_apply_patch(struct api_model *m, struct api_patch *p)
{
	if (p->drive) {
		struct api_drive *d = find_drive(m, p->id);
		if (!d)
			return;
		if (p->path_on_host) {
			free(d->path_on_host);
			d->path_on_host = p->path_on_host;
			p->path_on_host = NULL;
		}
		if (p->has_rl) {
			merge_rl(&d->rl, &p->rl);
			d->has_rate_limiter = true;
		}
		return;
	}
	struct api_net *n = find_net(m, p->id);
	if (!n)
		return;
	if (p->has_rx) {
		merge_rl(&n->rx, &p->rx);
		n->has_rx = true;
	}
	if (p->has_tx) {
		merge_rl(&n->tx, &p->tx);
		n->has_tx = true;
	}
}

int api_model_patch_drive(struct api_model *m, const char *path_id, const json_t *j,
			  bool apply, struct skiff_err *e)
{
	struct api_patch p;
	int r = api_model_parse_patch_drive(m, path_id, j, &p, e);
	if (r == 0 && apply)
		api_model_apply_patch(m, &p);
	api_patch_free(&p);
	return r;
}

static int parse_hostfwd(const char *ctx, const json_t *j, struct api_net *n, struct skiff_err *e)
{
	json_t *a = json_object_get(j, "skiff_hostfwd");
	if (!a || json_is_null(a))
		return 0;
	if (!json_is_array(a))
		return skiff_fail(e, EINVAL, "%s.skiff_hostfwd: expected an array of strings", ctx);
	if (!n->user)
		return skiff_fail(e, EINVAL, "%s.skiff_hostfwd: needs \"skiff_user_net\": true", ctx);
	if (json_array_size(a) > SKIFF_MAX_HOSTFWD)
		return skiff_fail(e, EINVAL, "%s.skiff_hostfwd: at most %d forwards", ctx,
				  SKIFF_MAX_HOSTFWD);
	size_t i;
	json_t *v;
	json_array_foreach(a, i, v) {
		if (!json_is_string(v))
			return skiff_fail(e, EINVAL, "%s.skiff_hostfwd[%zu]: expected a string", ctx, i);
		const char *s = json_string_value(v);
		if (devopts_parse_hostfwd(s, &n->hostfwd[i]))
			return skiff_fail(e, EINVAL, "%s.skiff_hostfwd[%zu]: `%.64s` is not "
					  "[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT",
					  ctx, i, s);
		if (api_strset(&n->hostfwd_text[i], s))
			return skiff_fail(e, ENOMEM, "%s: out of memory", ctx);
		n->nhostfwd = (uint32_t)i + 1;
	}
	return 0;
}

int api_model_put_net(struct api_model *m, const char *path_id, const json_t *j,
		      struct skiff_err *e)
{
	static const char *const keys[] = { "iface_id", "host_dev_name", "guest_mac",
					    "rx_rate_limiter", "tx_rate_limiter", "mtu",
					    "skiff_user_net", "skiff_hostfwd", NULL };
	char ctx[96];
	res_ctx(ctx, sizeof(ctx), "network-interfaces", path_id);
	struct api_net n = { 0 };
	char *mac = NULL;
	int r;
	if ((r = api_json_check_object(j, ctx, keys, e)) ||
	    (r = api_json_str(j, ctx, "iface_id", true, &n.iface_id, NULL, e)) ||
	    (r = check_id(ctx, "iface_id", n.iface_id, e)) ||
	    (r = check_path_id(ctx, "iface_id", path_id, n.iface_id, e)) ||
	    (r = api_json_bool(j, ctx, "skiff_user_net", false, &n.user, NULL, e)) ||
	    (r = api_json_str(j, ctx, "host_dev_name", !n.user, &n.host_dev_name, NULL, e)) ||
	    (r = api_json_str(j, ctx, "guest_mac", false, &mac, &n.has_mac, e)) ||
	    (r = parse_rate_limiter(j, ctx, "rx_rate_limiter", &n.rx, &n.has_rx, e)) ||
	    (r = parse_rate_limiter(j, ctx, "tx_rate_limiter", &n.tx, &n.has_tx, e)) ||
	    (r = parse_hostfwd(ctx, j, &n, e)))
		goto fail;
	r = -EINVAL;
	json_t *mtu = json_object_get(j, "mtu");
	if (mtu && !json_is_null(mtu))
		skiff_fail(e, EINVAL, "%s.mtu: not supported by skiff yet", ctx);
	else if (!n.user && (!*n.host_dev_name || strlen(n.host_dev_name) >= IFNAMSIZ ||
			     strpbrk(n.host_dev_name, "/ \t\n")))
		skiff_fail(e, EINVAL, "%s.host_dev_name: `%.64s` is not a network interface name "
			   "(1 to %d characters)", ctx, n.host_dev_name, IFNAMSIZ - 1);
	else if (mac && devopts_parse_mac(mac, n.mac))
		skiff_fail(e, EINVAL, "%s.guest_mac: `%.32s` is not a unicast MAC address "
			   "(aa:bb:cc:dd:ee:ff)", ctx, mac);
	else
		r = 0;
	if (r)
		goto fail;
	struct api_net *old = find_net(m, n.iface_id);
	for (uint32_t i = 0; i < m->nnets; i++) {
		struct api_net *o = &m->nets[i];
		if (o == old)
			continue;
		if (n.has_mac && o->has_mac && !memcmp(o->mac, n.mac, 6)) {
			r = skiff_fail(e, EINVAL, "%s.guest_mac: %s is already used by `%s`", ctx, mac,
				       o->iface_id);
			goto fail;
		}
		if (!n.user && !o->user && !strcmp(o->host_dev_name, n.host_dev_name)) {
			r = skiff_fail(e, EINVAL, "%s.host_dev_name: `%s` is already used by `%s`",
				       ctx, n.host_dev_name, o->iface_id);
			goto fail;
		}
	}
	if (!old && m->nnets >= SKIFF_MAX_NETS) {
		r = skiff_fail(e, EINVAL, "%s: at most %d network interfaces", ctx, SKIFF_MAX_NETS);
		goto fail;
	}
	if (old)
		net_free(old);
	else
		old = &m->nets[m->nnets++];
	*old = n;
	free(mac);
	return 0;
fail:
	free(mac);
	net_free(&n);
	return r;
}

int api_model_patch_net(struct api_model *m, const char *path_id, const json_t *j,
			bool apply, struct skiff_err *e)
{
	struct api_patch p;
	int r = api_model_parse_patch_net(m, path_id, j, &p, e);
	if (r == 0 && apply)
		api_model_apply_patch(m, &p);
	api_patch_free(&p);
	return r;
}

int api_model_put_vsock(struct api_model *m, const json_t *j, struct skiff_err *e)
{
	static const char *const keys[] = { "guest_cid", "uds_path", "vsock_id", NULL };
	const char *ctx = "vsock";
	uint64_t cid = 0;
	char *uds = NULL, *vid = NULL;
	int r;
	if ((r = api_json_check_object(j, ctx, keys, e)) ||
	    (r = api_json_u64(j, ctx, "guest_cid", true, UINT32_MAX - 1, &cid, NULL, e)) ||
	    (r = api_json_str(j, ctx, "uds_path", true, &uds, NULL, e)) ||
	    (r = api_json_str(j, ctx, "vsock_id", false, &vid, NULL, e)))
		goto out;
	r = -EINVAL;
	if (cid < 3)
		skiff_fail(e, EINVAL, "%s.guest_cid: %llu is out of range (3..%u; 0-2 are reserved)",
			   ctx, (unsigned long long)cid, UINT32_MAX - 1);
	else if (!*uds || strlen(uds) >= 108)
		skiff_fail(e, EINVAL, "%s.uds_path: must be 1 to 107 bytes (a Unix socket path)", ctx);
	else
		r = 0;
	if (!r) {
		free(m->uds_path);
		m->uds_path = uds;
		uds = NULL;
		m->guest_cid = (uint32_t)cid;
		m->has_vsock = true;
	}
out:
	free(uds);
	free(vid);
	return r;
}

int api_model_put_entropy(struct api_model *m, const json_t *j, struct skiff_err *e)
{
	static const char *const keys[] = { "rate_limiter", NULL };
	struct skiff_rate_limit rl;
	bool has_rl;
	int r;
	if ((r = api_json_check_object(j, "entropy", keys, e)) ||
	    (r = parse_rate_limiter(j, "entropy", "rate_limiter", &rl, &has_rl, e)))
		return r;
	if (has_rl)
		return skiff_fail(e, EINVAL, "entropy.rate_limiter: not supported by skiff yet");
	m->has_entropy = true;
	return 0;
}

int api_model_put_logger(struct api_model *m, const json_t *j, struct skiff_err *e)
{
	static const char *const keys[] = { "level", "log_path", "show_level", "show_log_origin",
					    "module", NULL };
	static const struct { const char *name; int level; } levels[] = {
		{ "Error", LOG_ERROR }, { "Warning", LOG_WARN }, { "Warn", LOG_WARN },
		{ "Info", LOG_INFO }, { "Debug", LOG_DEBUG }, { "Trace", LOG_TRACE }, { "Off", LOG_OFF },
	};
	const char *ctx = "logger";
	char *level = NULL, *path = NULL, *module = NULL;
	bool show_level = false, show_origin = false;
	int lv = LOG_INFO;
	int r;
	if ((r = api_json_check_object(j, ctx, keys, e)) ||
	    (r = api_json_str(j, ctx, "level", false, &level, NULL, e)) ||
	    (r = api_json_str(j, ctx, "log_path", false, &path, NULL, e)) ||
	    (r = api_json_bool(j, ctx, "show_level", false, &show_level, NULL, e)) ||
	    (r = api_json_bool(j, ctx, "show_log_origin", false, &show_origin, NULL, e)) ||
	    (r = api_json_str(j, ctx, "module", false, &module, NULL, e)))
		goto out;
	if (level) {
		size_t i, n = sizeof(levels) / sizeof(levels[0]);
		for (i = 0; i < n && strcasecmp(level, levels[i].name); i++)
			;
		if (i == n) {
			r = skiff_fail(e, EINVAL, "%s.level: `%.32s` is not one of Error, Warning, "
				       "Info, Debug, Trace, Off", ctx, level);
			goto out;
		}
		lv = levels[i].level;
	}
	if (path && !*path) {
		r = skiff_fail(e, EINVAL, "%s.log_path: must not be empty", ctx);
		goto out;
	}
	free(m->log_level_name);
	free(m->log_path);
	free(m->log_module);
	m->log_level_name = level;
	m->log_path = path;
	m->log_module = module;
	level = path = module = NULL;
	m->log_level = lv;
	m->show_level = show_level;
	m->show_log_origin = show_origin;
	m->has_logger = true;
out:
	free(level);
	free(path);
	free(module);
	return r;
}

int api_model_put_metrics(struct api_model *m, const json_t *j, struct skiff_err *e)
{
	static const char *const keys[] = { "metrics_path", NULL };
	char *path = NULL;
	int r;
	if ((r = api_json_check_object(j, "metrics", keys, e)) ||
	    (r = api_json_str(j, "metrics", "metrics_path", true, &path, NULL, e)))
		goto out;
	r = -EINVAL;
	if (!*path)
		skiff_fail(e, EINVAL, "metrics.metrics_path: must not be empty");
	else if (m->has_metrics)
		skiff_fail(e, EINVAL, "metrics: the metrics system is already initialized");
	else
		r = 0;
	if (!r) {
		m->metrics_path = path;
		path = NULL;
		m->has_metrics = true;
	}
out:
	free(path);
	return r;
}

int api_parse_action(const json_t *j, enum api_action *out, struct skiff_err *e)
{
	static const char *const keys[] = { "action_type", NULL };
	char *t = NULL;
	int r;
	if ((r = api_json_check_object(j, "actions", keys, e)) ||
	    (r = api_json_str(j, "actions", "action_type", true, &t, NULL, e)))
		goto out;
	if (!strcmp(t, "InstanceStart"))
		*out = API_ACTION_INSTANCE_START;
	else if (!strcmp(t, "SendCtrlAltDel"))
		*out = API_ACTION_SEND_CTRL_ALT_DEL;
	else if (!strcmp(t, "FlushMetrics"))
		*out = API_ACTION_FLUSH_METRICS;
	else if (!strcmp(t, "skiff_power_button"))
		*out = API_ACTION_POWER_BUTTON;
	else if (!strcmp(t, "skiff_stop"))
		*out = API_ACTION_STOP;
	else
		r = skiff_fail(e, EINVAL, "actions.action_type: `%.32s` is not one of InstanceStart, "
			       "SendCtrlAltDel, FlushMetrics, skiff_power_button, skiff_stop", t);
out:
	free(t);
	return r;
}
