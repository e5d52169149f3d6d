/* The API's VM model as JSON: GET /machine-config and GET /vm/config
 * (Firecracker swagger MachineConfiguration, FullVmConfiguration). The
 * output of GET /vm/config loads back as a config file. */
#include "api/api_model.h"
#include <stdio.h>

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *bucket_json(const struct skiff_bucket *b)
{
	if (!b->size && !b->refill_time_ms && !b->one_time_burst)
		return NULL;
	return json_pack("{sIsIsI}", "size", (json_int_t)b->size, "one_time_burst",
			 (json_int_t)b->one_time_burst, "refill_time", (json_int_t)b->refill_time_ms);
}

static json_t *rate_limiter_json(bool present, const struct skiff_rate_limit *rl)
{
	if (!present)
		return json_null();
	json_t *o = json_object();
	json_t *bw = bucket_json(&rl->bandwidth), *ops = bucket_json(&rl->ops);
	if (bw)
		json_object_set_new(o, "bandwidth", bw);
	if (ops)
		json_object_set_new(o, "ops", ops);
	return o;
}

json_t *api_model_machine_json(const struct api_model *m)
{
	return json_pack("{sIsIsbsbss}", "vcpu_count", (json_int_t)m->vcpu_count, "mem_size_mib",
			 (json_int_t)m->mem_size_mib, "smt", m->smt, "track_dirty_pages",
			 m->track_dirty_pages, "huge_pages", "None");
}

static json_t *drive_json(const struct api_drive *d)
{
	json_t *o = json_pack("{sssssbsbss}", "drive_id", d->drive_id, "path_on_host",
			      d->path_on_host, "is_root_device", d->is_root_device, "is_read_only",
			      d->is_read_only, "cache_type", d->writeback ? "Writeback" : "Unsafe");
	if (!o)
		return NULL;
	json_object_set_new(o, "partuuid", str_or_null(d->partuuid));
	json_object_set_new(o, "rate_limiter", rate_limiter_json(d->has_rate_limiter, &d->rl));
	if (d->has_io_engine)
		json_object_set_new(o, "io_engine",
				    json_string(d->engine == SKIFF_IO_URING ? "Async" : "Sync"));
	return o;
}

static json_t *net_json(const struct api_net *n)
{
	json_t *o = json_pack("{ss}", "iface_id", n->iface_id);
	if (!o)
		return NULL;
	json_object_set_new(o, "host_dev_name", str_or_null(n->host_dev_name));
	if (n->has_mac) {
		char mac[18];
		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", n->mac[0], n->mac[1],
			 n->mac[2], n->mac[3], n->mac[4], n->mac[5]);
		json_object_set_new(o, "guest_mac", json_string(mac));
	}
	json_object_set_new(o, "rx_rate_limiter", rate_limiter_json(n->has_rx, &n->rx));
	json_object_set_new(o, "tx_rate_limiter", rate_limiter_json(n->has_tx, &n->tx));
	if (n->user) {
		json_object_set_new(o, "skiff_user_net", json_true());
		json_t *a = json_array();
		for (uint32_t i = 0; i < n->nhostfwd; i++)
			json_array_append_new(a, json_string(n->hostfwd_text[i]));
		json_object_set_new(o, "skiff_hostfwd", a);
	}
	return o;
}

json_t *api_model_full_json(const struct api_model *m)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	json_t *boot = json_null();
	if (m->has_boot_source) {
		boot = json_pack("{ss}", "kernel_image_path", m->kernel_image_path);
		json_object_set_new(boot, "initrd_path", str_or_null(m->initrd_path));
		json_object_set_new(boot, "boot_args", str_or_null(m->boot_args));
	}
	json_object_set_new(o, "boot-source", boot);
	json_t *drives = json_array();
	for (uint32_t i = 0; i < m->ndrives; i++)
		json_array_append_new(drives, drive_json(&m->drives[i]));
	json_object_set_new(o, "drives", drives);
	json_object_set_new(o, "machine-config", api_model_machine_json(m));
	json_t *nets = json_array();
	for (uint32_t i = 0; i < m->nnets; i++)
		json_array_append_new(nets, net_json(&m->nets[i]));
	json_object_set_new(o, "network-interfaces", nets);
	json_object_set_new(o, "vsock", m->has_vsock
			    ? json_pack("{sIss}", "guest_cid", (json_int_t)m->guest_cid,
					"uds_path", m->uds_path)
			    : json_null());
	json_t *logger = json_null();
	if (m->has_logger) {
		logger = json_pack("{sbsb}", "show_level", m->show_level, "show_log_origin",
				   m->show_log_origin);
		json_object_set_new(logger, "level", str_or_null(m->log_level_name));
		json_object_set_new(logger, "log_path", str_or_null(m->log_path));
		json_object_set_new(logger, "module", str_or_null(m->log_module));
	}
	json_object_set_new(o, "logger", logger);
	json_object_set_new(o, "metrics", m->has_metrics
			    ? json_pack("{ss}", "metrics_path", m->metrics_path) : json_null());
	json_object_set_new(o, "entropy", m->has_entropy ? json_object() : json_null());
	return o;
}
