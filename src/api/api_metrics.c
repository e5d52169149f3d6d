/* Metrics JSON writer (see api_metrics.h). */
#include "api/api_metrics.h"
#include "core/outfile.h"
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct api_metrics {
	pthread_mutex_t lock;		/* everything below */
	int fd;
	struct skiff_metrics prev;	/* totals at the last written flush */
	char *net_ids[SKIFF_MAX_NETS];
	const struct skiff_log_sink *sink;
	uint64_t prev_missed_log;
	uint64_t missed_metrics, prev_missed_metrics;
	struct skiff_metrics cur;	/* scratch (large: not on the I/O thread's stack) */
};

int api_metrics_open(const char *path, const char *field, struct api_metrics **out,
		     struct skiff_err *e)
{
	struct api_metrics *m = calloc(1, sizeof(*m));
	if (!m)
		return skiff_fail(e, ENOMEM, "metrics: out of memory");
	m->fd = skiff_out_open(path, field, e);
	if (m->fd < 0) {
		int r = m->fd;
		free(m);
		return r;
	}
	pthread_mutex_init(&m->lock, NULL);
	*out = m;
	return 0;
}

void api_metrics_set_net_ids(struct api_metrics *m, const char *const *ids, uint32_t n)
{
	pthread_mutex_lock(&m->lock);
	for (uint32_t i = 0; i < SKIFF_MAX_NETS; i++) {
		free(m->net_ids[i]);
		m->net_ids[i] = i < n && ids[i] ? strdup(ids[i]) : NULL;
	}
	pthread_mutex_unlock(&m->lock);
}

void api_metrics_set_log_sink(struct api_metrics *m, const struct skiff_log_sink *s)
{
	pthread_mutex_lock(&m->lock);
	m->sink = s;
	pthread_mutex_unlock(&m->lock);
}

/* Counters go out as deltas; a counter that went backwards (cannot happen
 * for totals, but a baseline from another VM could) reads as its value. */
static json_int_t delta(uint64_t cur, uint64_t prev)
{
	return (json_int_t)(cur >= prev ? cur - prev : cur);
}

#define D(obj, name, field) json_object_set_new(obj, name, json_integer(delta(c->field, p->field)))

static json_t *disk_json(const struct skiff_metrics_disk *c, const struct skiff_metrics_disk *p)
{
	json_t *o = json_object();
	D(o, "read_bytes", read_bytes);
	D(o, "write_bytes", write_bytes);
	D(o, "read_count", reads);
	D(o, "write_count", writes);
	D(o, "flush_count", flushes);
	D(o, "execute_fails", errors);
	D(o, "invalid_reqs_count", unsupported);
	D(o, "rate_limiter_throttled_events", throttled);
	return o;
}

static json_t *net_json(const struct skiff_metrics_net *c, const struct skiff_metrics_net *p)
{
	json_t *o = json_object();
	D(o, "rx_bytes_count", rx_bytes);
	D(o, "rx_packets_count", rx_packets);
	D(o, "rx_dropped", rx_dropped);
	D(o, "rx_fails", rx_errors);
	D(o, "rx_rate_limiter_throttled", rx_throttled);
	D(o, "tx_bytes_count", tx_bytes);
	D(o, "tx_packets_count", tx_packets);
	D(o, "tx_malformed_frames", tx_dropped);
	D(o, "tx_fails", tx_errors);
	D(o, "tx_rate_limiter_throttled", tx_throttled);
	return o;
}

/* The aggregates "block" and "net" (as Firecracker's): sums of deltas. */
#define A(field) (sum->field += (uint64_t)delta(c->field, p->field))
static void disk_add(struct skiff_metrics_disk *sum, const struct skiff_metrics_disk *c,
		     const struct skiff_metrics_disk *p)
{
	A(read_bytes), A(write_bytes), A(reads), A(writes), A(flushes), A(errors);
	A(unsupported), A(throttled);
}

static void net_add(struct skiff_metrics_net *sum, const struct skiff_metrics_net *c,
		    const struct skiff_metrics_net *p)
{
	A(rx_bytes), A(rx_packets), A(rx_dropped), A(rx_errors), A(rx_throttled);
	A(tx_bytes), A(tx_packets), A(tx_dropped), A(tx_errors), A(tx_throttled);
}

static json_t *vsock_json(const struct skiff_metrics_vsock *c, const struct skiff_metrics_vsock *p)
{
	json_t *o = json_object();
	D(o, "rx_bytes_count", rx_bytes);
	D(o, "tx_bytes_count", tx_bytes);
	D(o, "rx_packets_count", rx_packets);
	D(o, "tx_packets_count", tx_packets);
	D(o, "conns_added", conns_added);
	D(o, "conns_refused", conns_refused);
	D(o, "conns_timed_out", conns_timed_out);
	D(o, "rst_sent", rst_sent);
	D(o, "bad_packets", bad_packets);
	json_object_set_new(o, "conns_open", json_integer((json_int_t)c->conns_open));
	return o;
}

static json_t *rng_json(const struct skiff_metrics_rng *c, const struct skiff_metrics_rng *p)
{
	json_t *o = json_object();
	D(o, "entropy_bytes", bytes);
	D(o, "entropy_count", requests);
	D(o, "entropy_rate_limiter_throttled", throttled);
	D(o, "host_rng_fails", errors);
	return o;
}

static json_t *vcpu_json(const struct skiff_metrics *c, const struct skiff_metrics *p)
{
	json_t *o = json_object(), *t = json_array();
	uint64_t total_us = 0;
	for (int k = 0; k < SKIFF_VMEXIT_KINDS; k++)
		D(o, skiff_vmexit_name(k), exits[k]);
	/* Firecracker's vcpu.failures: exits that stopped the vCPU with an
	 * error (failed entry, internal errors not worked around). */
	json_int_t fails = delta(c->exits[SKIFF_VMEXIT_FAIL_ENTRY], p->exits[SKIFF_VMEXIT_FAIL_ENTRY]) +
		delta(c->exits[SKIFF_VMEXIT_INTERNAL_ERROR], p->exits[SKIFF_VMEXIT_INTERNAL_ERROR]) -
		delta(c->exits[SKIFF_VMEXIT_EMUL_FIXUP], p->exits[SKIFF_VMEXIT_EMUL_FIXUP]);
	json_object_set_new(o, "failures", json_integer(fails > 0 ? fails : 0));
	for (uint32_t i = 0; i < c->nvcpus; i++) {
		uint64_t us = (uint64_t)delta(c->vcpu_time_ns[i], p->vcpu_time_ns[i]) / 1000;
		json_array_append_new(t, json_integer((json_int_t)us));
		total_us += us;
	}
	json_object_set_new(o, "cpu_time_us", t);
	json_object_set_new(o, "cpu_time_us_total", json_integer((json_int_t)total_us));
	return o;
}

json_t *api_metrics_json(const struct skiff_metrics *cur, const struct skiff_metrics *prev,
			 const char *const *net_ids, uint64_t missed_log, uint64_t missed_metrics)
{
	json_t *o = json_object();
	char key[96];
	struct skiff_metrics_disk dsum, dsum0;
	struct skiff_metrics_net nsum, nsum0;
	memset(&dsum, 0, sizeof(dsum));
	memset(&dsum0, 0, sizeof(dsum0));
	memset(&nsum, 0, sizeof(nsum));
	memset(&nsum0, 0, sizeof(nsum0));
	json_object_set_new(o, "utc_timestamp_ms", json_integer((json_int_t)cur->utc_timestamp_ms));
	json_object_set_new(o, "vcpu", vcpu_json(cur, prev));
	for (uint32_t i = 0; i < cur->ndisks; i++) {
		const struct skiff_metrics_disk *c = &cur->disks[i];
		const struct skiff_metrics_disk *p = i < prev->ndisks ? &prev->disks[i] : &dsum0;
		snprintf(key, sizeof(key), "block_%s", c->id[0] ? c->id : "disk");
		json_object_set_new(o, key, disk_json(c, p));
		disk_add(&dsum, c, p);
	}
	json_object_set_new(o, "block", disk_json(&dsum, &dsum0));
	for (uint32_t i = 0; i < cur->nnets; i++) {
		const struct skiff_metrics_net *c = &cur->nets[i];
		const struct skiff_metrics_net *p = i < prev->nnets ? &prev->nets[i] : &nsum0;
		if (net_ids && net_ids[i])
			snprintf(key, sizeof(key), "net_%s", net_ids[i]);
		else
			snprintf(key, sizeof(key), "net_net%u", i);
		json_object_set_new(o, key, net_json(c, p));
		net_add(&nsum, c, p);
	}
	json_object_set_new(o, "net", net_json(&nsum, &nsum0));
	if (cur->has_vsock)
		json_object_set_new(o, "vsock", vsock_json(&cur->vsock, &prev->vsock));
	if (cur->has_rng)
		json_object_set_new(o, "entropy", rng_json(&cur->rng, &prev->rng));
	json_object_set_new(o, "logger", json_pack("{sIsI}", "missed_log_count",
						   (json_int_t)missed_log, "missed_metrics_count",
						   (json_int_t)missed_metrics));
	return o;
}

static int flush_locked(struct api_metrics *m, struct skiff_vm *vm)
{
	skiff_vm_metrics(vm, &m->cur);
	uint64_t log_dropped = m->sink ? atomic_load(&m->sink->dropped) : 0;
	json_t *o = api_metrics_json(&m->cur, &m->prev, (const char *const *)m->net_ids,
				     log_dropped - m->prev_missed_log,
				     m->missed_metrics - m->prev_missed_metrics);
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!text)
		return -ENOMEM;
	size_t len = strlen(text);
	char *line = realloc(text, len + 2);
	if (!line) {
		free(text);
		return -ENOMEM;
	}
	line[len] = '\n';
	int r = skiff_out_write(m->fd, line, len + 1);
	free(line);
	if (r) {
		m->missed_metrics++;
		return r;
	}
	m->prev = m->cur;
	m->prev_missed_log = log_dropped;
	m->prev_missed_metrics = m->missed_metrics;
	return 0;
}

int api_metrics_flush(struct api_metrics *m, struct skiff_vm *vm, bool wait)
{
	if (wait)
		pthread_mutex_lock(&m->lock);
	else if (pthread_mutex_trylock(&m->lock))
		return -EBUSY;
	int r = flush_locked(m, vm);
	pthread_mutex_unlock(&m->lock);
	return r;
}

void api_metrics_vm_hook(void *ctx, struct skiff_vm *vm, bool final)
{
	api_metrics_flush(ctx, vm, final);
}

void api_metrics_destroy(struct api_metrics *m)
{
	if (!m)
		return;
	close(m->fd);
	for (int i = 0; i < SKIFF_MAX_NETS; i++)
		free(m->net_ids[i]);
	pthread_mutex_destroy(&m->lock);
	free(m);
}
