/* Firecracker-style metrics output (swagger Metrics.metrics_path, PUT
 * /actions FlushMetrics; Firecracker docs/metrics.md): each flush writes
 * one JSON object and a newline to a file or FIFO (core/outfile.h). Counters
 * are deltas since the previous flush that was written (a flush a full
 * FIFO dropped does not advance the baseline, so nothing is lost);
 * gauges (vsock conns_open) are values now. Field names: docs/api.md.
 * Thread-safe: flushes are serialised by an internal lock. */
#ifndef SKIFF_API_METRICS_H
#define SKIFF_API_METRICS_H
#include <jansson.h>
#include <stdbool.h>
#include "core/log.h"
#include "core/metrics.h"

struct api_metrics;

/* Open path (errors name `field`, e.g. "metrics.metrics_path"). 0 or
 * -errno with *e. */
int api_metrics_open(const char *path, const char *field, struct api_metrics **out,
		     struct skiff_err *e);
/* Names for "net_<id>" (index order of skiff_config.nets, copied; NULL or
 * missing: "net<index>"), and the log sink whose counters go in "logger"
 * (not owned; NULL: none). Call before the VM starts. */
void api_metrics_set_net_ids(struct api_metrics *m, const char *const *ids, uint32_t n);
void api_metrics_set_log_sink(struct api_metrics *m, const struct skiff_log_sink *s);

/* Write one object for vm (NULL: not started: timestamp and zeros).
 * wait false: skip (-EBUSY) if another flush is under way; the periodic
 * flush on the I/O thread uses that, since a FlushMetrics in progress may
 * be waiting for the I/O thread. Returns 0, -EAGAIN when the FIFO had no
 * room (counted as logger.missed_metrics_count), or -errno. */
int api_metrics_flush(struct api_metrics *m, struct skiff_vm *vm, bool wait);
/* skiff_config.metrics_fn for ctx = an api_metrics. */
void api_metrics_vm_hook(void *ctx, struct skiff_vm *vm, bool final);

/* The object for snapshot cur against baseline prev (both totals); new
 * reference or NULL (out of memory). Exposed for tests. */
json_t *api_metrics_json(const struct skiff_metrics *cur, const struct skiff_metrics *prev,
			 const char *const *net_ids, uint64_t missed_log, uint64_t missed_metrics);

void api_metrics_destroy(struct api_metrics *m);	/* NULL ok */

#endif
